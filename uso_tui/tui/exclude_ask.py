"""The question before excluding a person who already has an account at the school (the exclusion
list's add form, the matching queue's exclude decision): an exclusion stops new accounts only, so
the operator is told which accounts it names and chooses: `y` also unallocates them, `n` excludes
and leaves them, escape cancels."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from uso_tui.domain.models import Account
from uso_tui.tui.format import plain

UNALLOCATE = "unallocate"
KEEP = "keep"


def accounts_text(accounts: list[Account]) -> Text:
    out = Text(end="")
    for account in accounts:
        out.append("  ")
        out.append_text(
            plain(
                f"{account.username}  {account.forename} {account.surname}  "
                f"{account.role}  {account.dob or ''}"
            )
        )
        out.append("  MIS-linked\n" if account.mis_id else "  non-MIS\n", style="dim")
    return out


class ExcludeAsk(ModalScreen[str | None]):
    """Dismissed with UNALLOCATE (y), KEEP (n) or None (escape: nothing is written)."""

    BINDINGS = [
        Binding("y", "answer('unallocate')", "Exclude and unallocate"),
        Binding("n", "answer('keep')", "Exclude only"),
        Binding("escape", "answer(None)", "Cancel"),
    ]

    def __init__(self, who: str, dfe: str, accounts: list[Account]) -> None:
        super().__init__()
        self.who = who
        self.dfe = dfe
        self.accounts = accounts

    def compose(self) -> ComposeResult:
        count = len(self.accounts)
        body = Text(end="")
        body.append_text(plain(self.who, "bold"))
        body.append(
            f" {'has an active account' if count == 1 else f'has {count} active accounts'} "
            f"at {self.dfe}:\n"
        )
        body.append_text(accounts_text(self.accounts))
        body.append(
            "\nAn exclusion stops new accounts only: without y the "
            f"{'account stays' if count == 1 else 'accounts stay'} active and linked. Unallocated "
            "accounts are kept and can be restored from Bulk results."
        )
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                plain(
                    f"Also unallocate {'the account' if count == 1 else f'{count} accounts'}?",
                    "bold",
                ),
                classes="dialog-title",
            )
            with VerticalScroll(classes="dialog-body"):
                yield Static(body)
            yield Static(
                Text.assemble(
                    ("y", "bold"),
                    " exclude and unallocate   ",
                    ("n", "bold"),
                    " exclude only   ",
                    ("escape", "bold"),
                    " cancel",
                ),
                classes="dialog-keys",
            )

    def action_answer(self, value: str | None) -> None:
        self.dismiss(value)
