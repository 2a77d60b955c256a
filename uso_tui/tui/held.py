"""The confirmation of a held run (the safety hold), asked from the force-run and history screens."""

from __future__ import annotations

from rich.text import Text

from uso_tui.domain.models import Account, Run
from uso_tui.tui.widgets import Confirm, plain

SHOW_HELD = 30  # names listed in the confirmation of a held run


def held_confirm(run: Run, accounts: list[Account | None]) -> Confirm:
    """The dialog for confirming `run`: its held usernames (names literal), with the accounts of
    the first SHOW_HELD (None where one is gone)."""
    n = len(run.held_usernames)
    body = Text(f"Confirming run {run.run_id} unallocates {n} accounts of {run.school}", end="")
    body.append(" (those unchanged since the run):\n\n")
    for username, acc in zip(run.held_usernames, accounts, strict=False):
        body.append("  ")
        body.append_text(plain(username))
        if acc is not None:
            body.append("  ")
            body.append_text(plain(f"{acc.forename} {acc.surname}  {acc.role}  {acc.dob or ''}"))
        body.append("\n")
    if n > len(accounts):
        body.append(f"  … and {n - len(accounts)} more\n")
    body.append("\nThey keep their accounts and can be restored from Bulk results.")
    return Confirm(f"Unallocate {n} accounts?", body, yes=f"Unallocate {n}", no="Not now")
