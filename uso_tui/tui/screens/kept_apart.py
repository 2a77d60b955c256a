"""Pairs kept as different people (the duplicates review's `b`), of a school or of every school:
who kept each and when, both accounts side by side. `r` takes a keep back (made by mistake): the
pair is listed by the duplicates review again (sync.kept_apart.review_again).

Names come from the MIS or from operators: every cell and line is a literal rich Text.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from uso_tui.domain.models import Account
from uso_tui.tui.format import full_name, plain, when
from uso_tui.tui.screens.duplicates import Pair, PairListScreen, side_by_side, who
from uso_tui.tui.screens.listing import Col, ListScreen, ListTable, Row, cells
from uso_tui.tui.screens.listing import haystack as words_of
from uso_tui.tui.widgets import Confirm
from uso_tui.tui.workers import in_thread


def _name(account: Account | None) -> str:
    if account is None:
        return "(no such account now)"
    return full_name(account.forename, account.surname, account.preferred_name)


class KeptApartScreen(PairListScreen):
    PAIRS = "Kept as different people"
    EXPORT_LIST = "kept"
    kind = "kept"
    TABLE_ID = "kept"

    BINDINGS = [
        Binding("r", "review_again", "Review again"),
        *ListScreen.LIST_BINDINGS,
        ListScreen.EXPORT_BINDING,
        Binding("g", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    KeptApartScreen #kept { height: 1fr; }
    KeptApartScreen #pair { height: auto; padding: 0 1; }
    KeptApartScreen #kept-by { height: auto; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.title)
        yield self.filter_bar("filter: username, name, school, who kept it (escape clears)")
        yield ListTable(
            [
                Col("Account 1", "first", 15),
                Col("Account 2", "second", 15),
                Col("Name", "name", None, 12),
                Col("Kept by", "by", 12, wide=True),
                Col("Kept at", "at", 16),
            ],
            id="kept",
        )
        yield Static("loading…", id="pair", classes="loading")
        yield Static("", id="kept-by")
        yield Footer(compact=True)

    @in_thread("kept-load", failure="Cannot read the pairs kept apart")
    def load(self) -> None:
        from uso_tui.sync.kept_apart import kept_apart  # noqa: PLC0415

        began = time.monotonic()
        rows = []
        for kept in kept_apart(self.store, self.dfe):
            (first_name, second_name), (first, second) = kept.usernames, kept.accounts
            rows.append(
                Row(
                    key=f"{first_name} {second_name}",
                    cells=cells(
                        first_name, second_name, _name(first or second), kept.by, when(kept.at)
                    ),
                    haystack=words_of(
                        first_name,
                        second_name,
                        *(a.forename for a in kept.accounts if a is not None),
                        *(a.surname for a in kept.accounts if a is not None),
                        *(a.school for a in kept.accounts if a is not None),
                        kept.by,
                    ),
                    data=kept,
                )
            )
        self.app.call_from_thread(self._show, rows, began)

    def _show_current(self) -> None:
        box = self.query_one("#pair", Static)
        if box.has_class("loading"):
            return
        row = self.active_table().current()
        by = self.query_one("#kept-by", Static)
        if row is None:
            box.update(Text("No pairs kept as different people.", style="dim"))
            by.update("")
            return
        kept = row.data
        first, second = kept.accounts
        if first is not None and second is not None:
            box.update(side_by_side(Pair(first, second, ())))
        else:
            box.update(plain(f"{' and '.join(kept.usernames)}: one is no longer in the store"))
        line = Text("Kept      ", style="bold", end="")
        line.append_text(plain(f"as different people by {kept.by} at {when(kept.at)}"))
        if kept.words:
            line.append_text(plain(f"; {kept.words}", "bold yellow"))
        by.update(line)

    @on(DataTable.RowHighlighted, "#kept")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_current()

    def action_review_again(self) -> None:
        row = self.active_table().current()
        if row is None or self.typed_blind():
            return
        kept = row.data
        body = Text(end="")
        for number, (username, account) in enumerate(
            zip(kept.usernames, kept.accounts, strict=True)
        ):
            if number:
                body.append("\nand\n")
            body.append_text(who(account) if account is not None else plain(username))
        body.append("\n\n")
        body.append_text(
            plain(
                f"were kept as different people by {kept.by} at {when(kept.at)}. Taken back, "
                "the pair is listed by the possible duplicates again, to keep both or unallocate "
                "one. Recorded in the audit log."
            )
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()  # keys typed ahead are for the list as it is after this
                self.review_again(kept.usernames)

        self.ask(
            Confirm("List this pair for review again?", body, yes="Review again", no="Cancel"),
            answer,
        )

    @in_thread("kept-apply", failure="Not saved", exclusive=False)
    def review_again(self, usernames: tuple[str, str]) -> None:
        from uso_tui.sync.kept_apart import review_again  # noqa: PLC0415

        done = review_again(self.store, *usernames, operator=self.operator, now=self.now())
        self.app.call_from_thread(self._taken_back, usernames, done, time.monotonic())

    def _taken_back(self, usernames: tuple[str, str], done: bool, saved: float) -> None:
        self.decision_saved(saved)
        pair = " and ".join(usernames)
        if done:
            self.say(f"{pair} are listed for review again")
        else:  # taken back meanwhile, elsewhere
            self.say(f"{pair} were no longer kept apart: listed for review already", "warning")
        rows = [row for row in self.active_table().all_rows if row.data.usernames != usernames]
        self._show(rows, time.monotonic())
