"""The question before excluding a person who already has an account at the school (the exclusion
list's add form, the matching queue's exclude decision): an exclusion stops new accounts only, so
the operator is told which accounts it names and chooses: `y` excludes and leaves them, `u` also
unallocates them, `n` or escape cancels. The key an operator types by habit (`y`) never takes the
more destructive answer, and `n` cancels as in every other question; the callers drop keys typed
before the question showed (it names accounts the operator has not seen yet)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from uso_tui.domain.models import Account
from uso_tui.tui.format import plain
from uso_tui.tui.widgets import Dialog

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


class ExcludeAsk(Dialog[str | None]):
    """Dismissed with KEEP (y), UNALLOCATE (u) or None (n, escape: nothing is written)."""

    IS_QUESTION = True  # answered or cancelled before anything else (no palette over it)

    BINDINGS = [
        Binding("y", "answer('keep')", "Exclude"),
        Binding("u", "answer('unallocate')", "Exclude and unallocate"),
        Binding("n", "answer(None)", "Cancel"),
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
        them = "it" if count == 1 else "them"
        body.append(
            f"\nAn exclusion stops new accounts only: y leaves {them} as {'it is' if count == 1 else 'they are'}; u also "
            f"unallocates {them} (kept, and restorable from Bulk results)."
        )
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                plain(
                    "Exclude? The person has "
                    + ("an account" if count == 1 else f"{count} accounts")
                    + " here",
                    "bold",
                ),
                classes="dialog-title",
            )
            with VerticalScroll(classes="dialog-body"):
                yield Static(body)
            yield Static(
                Text.assemble(
                    ("y", "bold"),
                    " exclude   ",
                    ("u", "bold"),
                    " exclude and unallocate   ",
                    ("n", "bold"),
                    " cancel",
                ),
                classes="dialog-keys",
            )

    def action_answer(self, value: str | None) -> None:
        self.dismiss(value)
