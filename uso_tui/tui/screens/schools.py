"""Home: every school in one table, problems first. Reads only the school directory (never accounts).

Tens of thousands of rows: the directory is read and sorted in a thread, the table draws only the
lines on screen (a new list costs the event loop the same at any length), and filtering waits for a
short pause in typing.
"""

from __future__ import annotations

import gc
import heapq
import time
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from uso_tui.domain.collector import gc_paused
from uso_tui.domain.models import School
from uso_tui.tui.format import cell, clean
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.virtual_table import Column, VirtualTable
from uso_tui.tui.widgets import FilterInput
from uso_tui.tui.workers import in_thread

# Problems first: failed, held, cases waiting, then a run going, then the rest.
SORTS = ("attention", "dfe", "name", "mis", "last run", "cases", "unallocated")
FILTER_DELAY = 0.12
REFRESH_SECONDS = 15
INLINE_ROWS = 5000  # a longer list is sorted and filtered in a thread


def attention_rank(school: School) -> int:
    if school.last_run_status == "failed":
        return 0
    if school.last_run_status == "held":
        return 1
    if school.open_cases:
        return 2
    if school.last_run_status == "running":
        return 3
    if not school.last_run_status:
        return 4
    return 5


def sort_key(name: str):
    return {
        "attention": lambda s: (attention_rank(s), -s.open_cases, s.dfe),
        "dfe": lambda s: s.dfe,
        "name": lambda s: (s.name.casefold(), s.dfe),
        "mis": lambda s: (s.mis, s.dfe),
        "last run": lambda s: (s.last_run_at or "", s.dfe),
        "cases": lambda s: (s.open_cases, s.dfe),
        "unallocated": lambda s: (s.unallocated_last_run, s.dfe),
    }[name]


@dataclass(slots=True, frozen=True)
class Row:
    school: School
    haystack: str  # lower-case "dfe name mis" for the filter

    @staticmethod
    def key_of(row: Row) -> str:
        return row.school.dfe


@dataclass(slots=True, frozen=True)
class View:
    """What the list shows: its sort, reversed or not, and the filter's words."""

    by: str
    reverse: bool
    words: tuple[str, ...]

    def of(self, order: list[Row]) -> list[Row]:
        """The rows shown, from the rows sorted by `by`."""
        words = self.words
        rows = [r for r in order if all(w in r.haystack for w in words)] if words else order
        # every sort key ends in the DfE, so no two rows tie: reversing the list is the reverse sort
        return rows[::-1] if self.reverse else rows


@dataclass(slots=True, frozen=True)
class Counts:
    """The title's counts, made with the rows (off the event loop)."""

    failed: int = 0
    held: int = 0
    cases: int = 0

    @classmethod
    def of(cls, rows: list[Row]) -> Counts:
        return cls(
            failed=sum(1 for r in rows if r.school.last_run_status == "failed"),
            held=sum(1 for r in rows if r.school.last_run_status == "held"),
            cases=sum(1 for r in rows if r.school.open_cases),
        )


def reports_short(reports: list[str], wide: bool) -> str:
    if wide:
        return ", ".join("Staff" if r == "staff" else "Students" for r in reports)
    return " ".join("S" if r == "staff" else "P" for r in reports)


def last_run_cell(school: School) -> Text:
    from uso_tui.tui.format import STATUS_STYLE, STATUS_WORD  # noqa: PLC0415

    if not school.last_run_status:
        return Text("paused" if school.paused else "never", style="dim", end="")
    word = STATUS_WORD.get(school.last_run_status, school.last_run_status)
    style = STATUS_STYLE.get(school.last_run_status, "")
    if school.paused and school.last_run_status not in ("held", "failed"):
        # (not run by the schedule; a held or failed run still asks for attention first)
        word, style = "paused", "dim"
    when = (school.last_run_at or "").replace("T", " ")
    short = f"{when[8:10]}/{when[5:7]} {when[11:16]}" if len(when) >= 16 else when
    out = Text(f"{word:<7}", style=style, end="")
    out.append(f" {short}")
    return out


def school_cells(school: School, wide: bool) -> tuple[Text, ...]:
    cases = Text(
        str(school.open_cases) if school.open_cases else "-",
        justify="right",
        end="",
        style="bold yellow" if school.open_cases else "dim",
    )
    unalloc = Text(
        str(school.unallocated_last_run) if school.unallocated_last_run else "-",
        justify="right",
        end="",
        style="" if school.unallocated_last_run else "dim",
    )
    return (
        cell(school.dfe),
        cell(school.name),
        cell(school.mis),
        cell(reports_short(school.reports, wide)),
        last_run_cell(school),
        cases,
        unalloc,
    )


def make_rows(schools: list[School]) -> list[Row]:
    return [Row(s, f"{s.dfe} {clean(s.name)} {s.mis}".casefold()) for s in schools]


# A sort runs in a thread beside the event loop, which can run only between the thread's steps:
# one sorted() of 30,000 rows is a single step of tens of milliseconds. Sorted in pieces and
# merged (a step per row), it costs a little more in all but never holds the loop for long.
SORT_PIECE = 2000


def sort_rows(rows: list[Row], by: str) -> list[Row]:
    key = sort_key(by)

    def row_key(row: Row):
        return key(row.school)

    if len(rows) <= SORT_PIECE:
        return sorted(rows, key=row_key)
    pieces = [
        sorted(rows[i : i + SORT_PIECE], key=row_key) for i in range(0, len(rows), SORT_PIECE)
    ]
    return list(heapq.merge(*pieces, key=row_key))


class SchoolsScreen(UsoScreen):
    kind = "schools"
    ROLE_KEYS = {"n": "school_add"}  # noqa: RUF012 - read only
    TITLE = "Schools"
    WIDE_KEYS = ("add_school", "why", "history", "audit", "settings", "calendar")

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse", "Reverse", show=False),
        Binding("f", "force_run", "Force run"),
        Binding("m", "matching", "Matching"),
        Binding("e", "settings", "Settings", show=False),
        Binding("u", "users", "Users"),
        # not in the 80-column footer (the empty list says it; ? Keys and the palette list it)
        Binding("n", "add_school", "Add school", show=False),
        Binding("h", "history", "Runs", show=False),
        Binding("a", "audit", "Audit", show=False),
        Binding("w", "why", "Why no account?", show=False),
        Binding("c", "calendar", "Calendar", show=False),
        Binding("g", "reload", "Reload", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    # the list's order, (sort, reversed): changing it draws the list again
    order: var[tuple[str, bool]] = var(("attention", False), init=False)

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, None)
        self.rows: list[Row] = []
        self.filter_text = ""
        self._filter_timer: Timer | None = None
        self._loaded = False
        # when it came back from another school's screens (_back_on_seen_school)
        self._back_at = 0.0
        self._wide = False
        self._columns_for = 0  # the terminal width the columns were made for
        self._signature: tuple | None = None
        self._orders: dict[str, list[Row]] = {}  # rows sorted by each sort asked for so far
        self._counts = Counts()
        # Lists replaced on the event loop, freed by the next worker: freeing tens of thousands
        # of rows and schools where the last reference goes would hold the loop for a while.
        self._retired: list[object] = []

    @property
    def sort_by(self) -> str:
        return self.order[0]

    @property
    def reversed_(self) -> bool:
        return self.order[1]

    def watch_order(self) -> None:
        self.refill()

    def compose(self) -> ComposeResult:
        yield self.title_bar("Schools: loading…", classes="loading")
        yield FilterInput(
            placeholder="filter: DfE, name or MIS (escape clears)", id="filter", classes="filter"
        )
        yield VirtualTable(self._cells_of, Row.key_of, id="schools")
        yield Static("", id="empty", classes="hint")
        yield Footer(compact=True)

    def _cells_of(self, row: Row) -> tuple[Text, ...]:
        return school_cells(row.school, self._wide)

    def on_mount(self) -> None:
        self._set_columns()
        self.query_one(VirtualTable).focus()
        self.load()
        # runs by the scheduler or other consoles change the summaries: look again now and then
        self.set_interval(REFRESH_SECONDS, self._refresh_if_shown)

    def on_resize(self, event: events.Resize) -> None:
        if self.app.size.width != self._columns_for:  # the name takes what the others leave
            self._set_columns()

    def _set_columns(self) -> None:
        table = self.query_one(VirtualTable)
        self._columns_for = self.app.size.width
        self._wide = self.app.size.width >= 110
        fixed = {
            "DfE": 8,
            "MIS": 6,
            "Reports": 15 if self._wide else 3,
            "Last run": 19,
            "Cases": 5,
            "Unalloc": 7,
        }
        # 7 columns x 2 cells of padding, plus the scrollbar
        name_w = max(12, self.app.size.width - sum(fixed.values()) - 7 * 2 - 2)
        table.set_columns(
            [
                Column("dfe", "DfE", fixed["DfE"]),
                Column("name", "Name", name_w),
                Column("mis", "MIS", fixed["MIS"]),
                Column("reports", "Reports" if self._wide else "Rep", fixed["Reports"]),
                Column("last", "Last run", fixed["Last run"]),
                Column("cases", "Cases", fixed["Cases"]),
                Column("unalloc", "Unalloc", fixed["Unalloc"]),
            ]
        )

    def _refresh_if_shown(self) -> None:
        if self.is_current:
            self.load()

    def on_screen_resume(self) -> None:
        self._back_on_seen_school()
        # Summaries change after runs and decisions made on other screens or by other processes.
        if self._loaded:
            # keys typed with the escape that came back (j enter, j f y) act on the list as it
            # is now, reordered by those changes, not on the rows shown before
            self.hold_keys()
            self.load()

    def _back_on_seen_school(self) -> None:
        """Back from the screens of another school than the one highlighted (opened from the
        palette or a run's history, added): the cursor goes to that school where it is listed,
        and a key read before the list showed again acts on no school (`escape` `f` `y` ran the school the
        cursor had been left on, which the operator had not seen since)."""
        seen, self.app.seen_school = self.app.seen_school, None
        table = self.query_one(VirtualTable)
        if seen is None or seen == table.cursor_key:
            return
        index = table.index_of(seen)
        if index is not None:
            table.move_cursor(index, post=False)
        # (also for a list filtered to one school, which the filter typed names: not this one)
        self._back_at = time.monotonic()

    def live_run_changed(self, dfe: str) -> None:
        live = self.app.live_runs.get(dfe)
        if live is not None and live.done:
            self.load()

    @in_thread("schools-load", failure="Could not read the schools")
    def load(self) -> None:
        # Tens of thousands of records built at once: the collector would run dozens of times, and
        # afterwards walk them all in each full collection, blocking the event loop. They hold no
        # reference cycles (freed by their counts), so a long list is frozen out of its sight as
        # made. Freezing keeps any garbage cycle of the moment for good: the young generations are
        # collected first (a full collection would walk the whole heap).
        self._retired.clear()
        gc.collect(1)
        with gc_paused():
            schools = self.store.list_schools()
            signature = tuple(
                (
                    s.dfe,
                    s.name,
                    s.mis,
                    tuple(s.reports),
                    s.last_run_status,
                    s.last_run_at,
                    s.paused,
                    s.open_cases,
                    s.unallocated_last_run,
                )
                for s in schools
            )
            if signature == self._signature:
                self.app.call_from_thread(self.keys_go)
                return  # nothing changed: no redraw
            rows = make_rows(schools)
            by = self.sort_by
            orders = {by: sort_rows(rows, by)}
            counts = Counts.of(rows)
            if len(rows) > INLINE_ROWS:
                gc.freeze()
        self.app.call_from_thread(self._loaded_rows, rows, orders, counts, signature)

    def _loaded_rows(
        self, rows: list[Row], orders: dict[str, list[Row]], counts: Counts, signature: tuple
    ) -> None:
        self._retired.append((self._orders, self.rows))
        self._orders = orders  # first: a thread that sees the new rows sees their orders
        self.rows = rows
        self._counts = counts
        self._signature = signature
        self._loaded = True
        self.query_one("#title").remove_class("loading")
        self.refill()

    def refill(self) -> None:
        """Shows the rows in the order and filter asked for; a long list is arranged in a thread."""
        view = View(self.sort_by, self.reversed_, tuple(self.filter_text.casefold().split()))
        table = self.query_one(VirtualTable)
        if len(self.rows) > INLINE_ROWS:
            self._arrange_aside(view, table.cursor_key)
            return
        order = self._orders.get(view.by)
        if order is None:
            order = self._orders[view.by] = sort_rows(self.rows, view.by)
        self._show(view.of(order), None)

    # described in words: Textual would otherwise describe a worker by the repr of its arguments
    @in_thread("schools-arrange", description="arrange the schools list")
    def _arrange_aside(self, view: View, keep: str | None) -> None:
        self._retired.clear()
        rows = self.rows
        order = self._orders.get(view.by)
        if order is None:
            order = sort_rows(rows, view.by)
        shown = view.of(order)
        at = next((i for i, r in enumerate(shown) if r.school.dfe == keep), None)
        found = None if keep is None else (keep, at)
        self.app.call_from_thread(self._arranged, rows, order, view, shown, found)

    def _arranged(
        self,
        rows: list[Row],
        order: list[Row],
        view: View,
        shown: list[Row],
        found: tuple[str, int | None] | None,
    ) -> None:
        if rows is not self.rows:
            return  # a reload came since: it arranges its own rows
        self._orders[view.by] = order
        now = View(self.sort_by, self.reversed_, tuple(self.filter_text.casefold().split()))
        if view == now:  # else a newer arrangement is on its way
            self._show(shown, found)

    def _show(self, shown: list[Row], found: tuple[str, int | None] | None) -> None:
        # keyed by DfE so the cursor follows its school across reloads, sorts and filters
        table = self.query_one(VirtualTable)
        self._retired.append(table.items)
        table.replace(shown, found=found)
        self._update_title(len(shown))
        empty = self.query_one("#empty", Static)
        if not self.rows:
            empty.update("No schools yet. n adds one (or: uso-tui school add …)")
        elif not shown:
            empty.update(Text(f"No school matches {clean(self.filter_text)!r}", end=""))
        else:
            empty.update("")
        self.keys_go()  # the list as read is shown: keys held as it came back go on

    def _update_title(self, shown: int) -> None:
        total = len(self.rows)
        counts = self._counts
        parts = [f"Schools: {total:,}"]
        who = self.app.access.label()
        if who:  # where operators.json names roles: who this console is
            parts.insert(0, who)
        if shown != total:
            parts.append(f"{shown:,} shown")
        parts.append(f"{counts.failed} failed, {counts.held} held, {counts.cases} with cases")
        parts.append(f"sort: {self.sort_by}{' (reversed)' if self.reversed_ else ''}")
        self.query_one("#title", Static).update(
            Text(" | ".join(parts), style="bold", no_wrap=True, overflow="ellipsis")
        )

    # -- filter ---------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _typed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.refill)

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.refill()
        self.query_one(VirtualTable).focus()

    def action_clear_filter(self) -> None:
        # One escape clears the filter and leaves its box (the keys typed after it, `u`, `j
        # enter`, are for the list, as its footer says, not more filter text).
        box = self.query_one("#filter", Input)
        if box.value or box.has_class("visible"):
            box.value = ""
            box.remove_class("visible")
            self.filter_text = ""
            self.refill()
        self.query_one(VirtualTable).focus()

    # -- sort, moves ----------------------------------------------------------------------------

    def action_sort(self) -> None:
        self.order = (SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)], False)

    @on(VirtualTable.HeaderSelected)
    def _header(self, event: VirtualTable.HeaderSelected) -> None:
        """A click on a column header sorts by it (again: reversed); `s` does it by keyboard."""
        by = {
            "dfe": "dfe",
            "name": "name",
            "mis": "mis",
            "last": "last run",
            "cases": "cases",
            "unalloc": "unallocated",
        }.get(event.column.key)
        if by is None:
            return
        self.order = (by, not self.reversed_ if by == self.sort_by else False)

    def action_reverse(self) -> None:
        self.order = (self.sort_by, not self.reversed_)

    def action_cursor_down(self) -> None:
        self.query_one(VirtualTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(VirtualTable).action_cursor_up()

    def action_reload(self) -> None:
        self._signature = None
        self.load()

    # -- open -----------------------------------------------------------------------------------

    def selected(self) -> str | None:
        return self.query_one(VirtualTable).cursor_key

    def _typed_blind(self) -> bool:
        """Whether the key acting on the school at the cursor was read before that school came
        there by itself (`/` `catholic` `enter` `f` `y` over a slow link: the filter hid the
        row the cursor was on and left it on one of three matches the operator never saw, which
        was run): it does nothing, nor do the keys after it, and the console says so. A list
        of one school is the one the filter named."""
        table = self.query_one(VirtualTable)
        moment = max(table.place_shown_at if table.row_count > 1 else 0.0, self._back_at)
        return self.typed_before(
            moment, "the school at the cursor came there after them", "look at it, then act"
        )

    @on(VirtualTable.RowSelected)
    def _row_selected(self, event: VirtualTable.RowSelected) -> None:
        if not self._typed_blind():
            self.app.open_school(event.key)

    def _open(self, kind: str) -> None:
        dfe = self.selected()
        if dfe and not self._typed_blind():
            self.app.open_screen(kind, dfe)

    def action_open(self) -> None:
        self._open("school")

    def action_force_run(self) -> None:
        self._open("force_run")

    def action_matching(self) -> None:
        self._open("matching")

    def action_settings(self) -> None:
        self._open("settings")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add_school" and not self.app.may("school_add"):
            return None  # greyed: adding a school needs the admin role
        return True

    def action_add_school(self) -> None:
        from uso_tui.tui.screens.add_school import AddSchoolScreen  # noqa: PLC0415

        self.app.push_screen(AddSchoolScreen(self.store))

    def action_users(self) -> None:
        self.app.open_screen("users")

    def action_history(self) -> None:
        self.app.open_screen("history")

    def action_audit(self) -> None:
        self.app.open_screen("audit")

    def action_why(self) -> None:
        self.app.open_screen("why")

    def action_calendar(self) -> None:
        self.app.open_screen("calendar")
