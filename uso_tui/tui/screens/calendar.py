"""Calendar: future starters (the day their account is made under the school's "create N days
before" setting) and known leavers, by date, for one school or every school."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Static

from uso_tui.store import left_out
from uso_tui.sync.calendar import DEFAULT_DAYS, UNREAD, Upcoming
from uso_tui.tui.screens.listing import Col, ListScreen, ListTable, LoadedListScreen, Row, cells
from uso_tui.tui.screens.listing import haystack as words_of
from uso_tui.tui.workers import in_thread

KIND_WORD = {"starter": "+ starts", "leaver": "- leaves"}  # words, so NO_COLOR keeps the meaning


class CalendarScreen(LoadedListScreen):
    kind = "calendar"
    TABLE_ID = "upcoming"
    EXPORT_LIST = "calendar"

    BINDINGS = [*ListScreen.LIST_BINDINGS, ListScreen.EXPORT_BINDING]

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, dfe)
        self.where = dfe or "all schools"
        self.title = f"Calendar: {self.where}"

    def export_note(self) -> str:
        # the export is `uso-tui export calendar`'s: a year ahead, whatever the screen shows
        shown = super().export_note()
        year = f"the next 365 days; the screen shows {DEFAULT_DAYS}"
        return f"{year}; {shown}" if shown else year

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Calendar: {self.where}, next {DEFAULT_DAYS} days")
        yield self.filter_bar("filter: name, school, MIS id, kind (escape clears)")
        yield ListTable(
            [
                Col("Date", "date", 10),
                Col("Kind", "kind", 8),
                Col("School", "school", 8),
                Col("Role", "role", 5),
                Col("Name", "name", None, 12),
                Col("MIS id", "mis_id", 8),
                Col("Username", "username", 16, wide=True, ends=True),
                Col("Starts", "starts", 10, wide=True),
            ],
            id="upcoming",
        )
        yield Static("loading…", id="summary", classes="loading hint")
        yield Footer(compact=True)

    @in_thread("calendar-load", failure="Cannot read the calendar")
    def load(self) -> None:
        from uso_tui.sync.calendar import calendar  # noqa: PLC0415

        # (across schools, one whose data file is corrupt is shown as its run left it, and said)
        unreadable: set[str] | None = set() if self.dfe is None else None
        items = calendar(
            self.store, self.dfe, today=self.now().date(), days=DEFAULT_DAYS, unreadable=unreadable
        )
        rows = [
            Row(
                key=f"{u.date} {u.kind} {u.school} {u.mis_id} {n}",
                cells=cells(
                    u.date,
                    KIND_WORD[u.kind],
                    u.school,
                    u.role,
                    f"{u.forename} {u.surname}",
                    u.mis_id,
                    u.username or "",
                    u.starts_on or "",
                ),
                haystack=words_of(u.kind, u.school, u.forename, u.surname, u.mis_id, u.username),
                data=u,
            )
            for n, u in enumerate(items)
        ]
        self.app.call_from_thread(self._show, items, rows, sorted(unreadable or ()))

    def _show(self, items: list[Upcoming], rows: list[Row], damaged: list[str]) -> None:
        self.active_table().set_rows(rows)
        self.shown_first()
        starters = sum(u.kind == "starter" for u in items)
        box = self.query_one("#summary", Static)
        box.remove_class("loading")
        summary = (
            f"{starters} starter(s), {len(items) - starters} leaver(s); a starter's date is "
            "the day its account is made. e exports the list as CSV."
        )
        for dfe in damaged:
            summary += "\n" + left_out(dfe, UNREAD)
        box.update(Text(summary, end=""))
