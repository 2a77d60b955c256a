""" "Why has this account not been created?": search every school's latest processed records by
name, date of birth, UPN or MIS id; each record with its outcome and what to do. Enter opens the
matching queue for a waiting record, the account of a record that has one, else the school's
bulk results on that record."""

from __future__ import annotations

from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from uso_tui.store import left_out
from uso_tui.sync.why import WHY_LIMIT, WhyHit, opens_account
from uso_tui.tui.format import plain
from uso_tui.tui.screens.listing import Col, ListScreen, ListTable, Row, cells
from uso_tui.tui.widgets import LineInput
from uso_tui.tui.workers import in_thread

SEARCH_DELAY = 0.15


class WhyScreen(ListScreen):
    kind = "why"
    search_box = getters.query_one("#why-search", Input)
    act_box = getters.query_one("#act", Static)
    hits_table = getters.query_one("#hits", ListTable)
    TITLE = "Why no account?"

    DEFAULT_CSS = """
    WhyScreen #why-search { height: 1; border: none; padding: 0 1; background: $boost; }
    WhyScreen #why-search:focus { background: $primary-background; }
    WhyScreen #hits { height: 1fr; }
    WhyScreen #act { height: auto; padding: 0 1; }
    """

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/"),
        *[b for b in ListScreen.LIST_BINDINGS if b.key != "slash"],
        Binding("down", "to_table", "To the list", show=False),
        # (tab too: moving to the list must not skip the search of what was just typed)
        Binding("tab", "to_table", "To the list", show=False),
        Binding("shift+tab", "to_table(True)", "To the list", show=False),
    ]

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, None)
        self._timer: Timer | None = None
        self._asked = ""
        self._also: list[str] = []  # unallocated accounts found besides the hits (said under)
        self._cut = 0  # the search's hits were cut at this many (why.WHY_LIMIT), else 0

    def compose(self) -> ComposeResult:
        yield self.title_bar("Why no account? The latest export of every school")
        yield self.filter_bar()
        yield LineInput(
            placeholder="name, date of birth (YYYY-MM-DD or DD/MM/YYYY), UPN or MIS id",
            id="why-search",
        )
        yield ListTable(
            [
                Col("School", "school", 8),
                Col("MIS id", "mis_id", 8),
                Col("Name", "name", None, 12),
                Col("Born", "dob", 10),
                Col("Outcome", "outcome", None, 20),
            ],
            id="hits",
            openable=True,
        )
        yield Static("type to search", id="act", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.search_box.focus()

    def active_table(self) -> ListTable:
        return self.hits_table

    def action_search(self) -> None:
        self.search_box.focus()

    def action_to_table(self, backward: bool = False) -> None:
        """To the hits of what the box says: a search still to run (typed less than
        SEARCH_DELAY ago) runs now, and keys typed ahead (enter opens the first hit) wait for
        its hits, not act on those of the search before."""
        table = self.active_table()
        if table.has_focus:  # tab from the list: the focus moves on as anywhere else
            self.focus_previous() if backward else self.focus_next()
            return
        if self._timer is not None:
            self._timer.stop()
        text = self.search_box.value.strip()
        if text != self._asked:
            if text:
                self.hold_keys()
            self._search_now()
        table.focus()

    @on(Input.Changed, "#why-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY, self._search_now)

    @on(Input.Submitted, "#why-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        if self.search_box.value.strip():
            self.hold_keys()  # keys typed ahead act on these hits, not those shown before
        self._search_now()
        self.active_table().focus()

    def on_screen_resume(self) -> None:
        # Back from a hit's page (a restore, a confirm, a decision made there): the story as it
        # stands now, keys typed meanwhile held until it is shown.
        if self.resumed_again() and self._asked:
            self.hold_keys()
            self.search(self._asked)

    def _search_now(self) -> None:
        self._asked = self.search_box.value.strip()
        self.search(self._asked)

    @in_thread("why", failure="Cannot search")
    def search(self, text: str) -> None:
        from uso_tui.sync.why import AS_RUN, not_found, unallocated_besides, why  # noqa: PLC0415

        today = self.app.clock().date().isoformat()
        unreadable: set[str] = set()
        try:
            hits = why(self.store, text, today=today, unreadable=unreadable) if text else []
            said = not_found(self.store, text) if text and not hits else []
            also = unallocated_besides(self.store, text, hits) if hits else []
        except Exception:
            # the rows of the search before are not this one's: none shown (the failure is said)
            failed = ["the search failed (its message says why): nothing found is shown"]
            self.app.call_from_thread(self._show, text, [], failed, [])
            raise
        self.app.call_from_thread(self._show, text, hits, said, also)
        for dfe in sorted(unreadable):
            self.app.call_from_thread(self.say, left_out(dfe, AS_RUN), "warning")

    def _show(self, text: str, hits: list[WhyHit], said: list[str], also: list[str]) -> None:
        if text != self._asked:
            return  # an older search answered after a newer one was asked
        self._also = also
        self._cut = len(hits) if len(hits) >= WHY_LIMIT else 0
        rows = [
            Row(
                key=f"{h.school} {h.report} {h.mis_id} {n}",
                cells=cells(
                    h.school, h.mis_id, f"{h.forename} {h.surname}", h.dob or "", h.summary
                ),
                haystack="",
                data=h,
            )
            for n, h in enumerate(hits)
        ]
        self.active_table().set_rows(rows)
        if not text:
            self.act_box.update(Text("type to search", end=""))
        elif not hits:
            # line breaks outside plain(): it shows a control character in the text as a symbol
            self.act_box.update(Text("\n", end="").join(plain(line) for line in said))
        else:
            self._show_act(hits[0])
        self.keys_go()

    def _show_act(self, hit: WhyHit) -> None:
        line = Text(end="")
        line.append_text(plain(f"{hit.report}: {hit.summary}", "bold"))
        # line breaks outside plain(): it shows a control character in the MIS text as a symbol
        if hit.reason and hit.outcome != "invalid":
            line.append("\n")
            line.append_text(plain(f"why: {hit.reason}"))
        if hit.act:
            line.append("\n")
            line.append_text(plain(f"do: {hit.act}"))
        for also in self._also:  # the search's unallocated accounts no hit is the record of
            line.append("\n")
            line.append_text(plain(also, "dim"))
        if self._cut:
            line.append("\n")
            line.append_text(
                plain(
                    f"the first {self._cut} records found: add to the search to narrow it (a "
                    "date of birth, or a school's DfE number)",
                    "dim",
                )
            )
        self.act_box.update(line)

    @on(DataTable.RowHighlighted, "#hits")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.active_table().current()
        if row is not None:
            self._show_act(row.data)

    @on(DataTable.RowSelected, "#hits")
    def _open(self, event: DataTable.RowSelected) -> None:
        row = self.active_table().current()
        if row is None:
            return
        hit: WhyHit = row.data
        app = self.app
        if hit.outcome == "needs_matching" and hit.case_id and hit.case_open:
            app.open_screen("matching", hit.school, focus=hit.case_id)
        elif opens_account(hit):  # as its "do:" line says
            from uso_tui.tui.screens.users import AccountScreen  # noqa: PLC0415

            assert hit.username is not None
            app.push_screen(AccountScreen(self.store, hit.username))
        else:
            from uso_tui.tui.screens.bulk_results.screen import record_focus  # noqa: PLC0415

            focus = record_focus(hit.run_id, hit.report, hit.mis_id)
            app.open_screen("bulk_results", hit.school, focus=focus)
