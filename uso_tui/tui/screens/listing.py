"""Pieces the records screens share (bulk results, users, non-MIS, history, audit): a keyed table with
fixed column widths, a word filter and marks for multi-select, and a scrollable details dialog.

Columns have fixed widths (one column takes what is left) because the DataTable otherwise measures
every cell before the first draw, which costs about a second for a 3,000-record processed file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from uso_tui.store import left_out
from uso_tui.tui.format import cell, clean, ends_kept, plain
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.widgets import Dialog, FilterInput, LineInput, current_key, move_to_key
from uso_tui.tui.workers import in_thread

MARK = "✓"
WIDE = 100


@dataclass(slots=True, frozen=True)
class Col:
    label: str
    key: str
    width: int | None = None  # None: takes the width that is left (at least `min_width`)
    min_width: int = 10
    wide: bool = False  # shown only in a terminal of at least WIDE columns
    # `width` is the most it takes: only as much as its label and widest cell need, the rest
    # going to the column that takes what is left (a moves' "from > to" school, rare)
    fit: bool = False
    # cut in the middle, not at the end, when too long (usernames: format.ends_kept)
    ends: bool = False


@dataclass(slots=True)
class Row:
    key: str
    cells: tuple[Text, ...]
    haystack: str  # case-folded words the filter looks in
    data: Any = None


def haystack(*parts: object) -> str:
    return " ".join(clean(p) for p in parts if p).casefold()


def event_keys(events: Sequence[Any]) -> list[str]:
    """Row keys for audit events (newest first) that stay each event's when newer ones arrive:
    a row keyed by its position names another event after a reload, and the cursor, kept on its
    key, lands on that one. The event's time, school, action and subject, numbered where the
    four repeat, counted from the oldest (a newer event does not renumber those below it)."""
    seen: dict[str, int] = {}
    keys = []
    for event in reversed(events):
        key = f"{event.at}|{event.school or ''}|{event.action}|{event.subject}"
        n = seen[key] = seen.get(key, 0) + 1
        keys.append(key if n == 1 else f"{key}#{n}")
    keys.reverse()
    return keys


def cells(*values: object) -> tuple[Text, ...]:
    """Literal cells; a value that already is a Text (our own styling) is kept as it is."""
    return tuple(v if isinstance(v, Text) else cell(v) for v in values)


class ListTable(DataTable):
    """A keyed, filterable DataTable. `marks=True` adds a first column for space-marked rows;
    `openable=True` shows enter (which posts DataTable.RowSelected) in the footer as "Open"."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open"),
        # the first and last row, as in every list of the console (DataTable's own scroll the
        # columns sideways, which hid the rows' first columns)
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    # when a row last came under the cursor other than by the operator's moves (time.monotonic())
    place_shown_at = 0.0

    def __init__(
        self,
        columns: Sequence[Col],
        *,
        marks: bool = False,
        openable: bool = False,
        inset: int = 0,
        within: int | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.columns_spec = list(columns)
        self.marks = marks
        self.openable = openable
        # columns of the terminal not available to the table (a dialog's margins), and the most
        # it may have (a dialog's inner width, whatever the terminal's: resized, it stays)
        self.inset, self.within = inset, within
        self._shown_cols: list[int] = list(range(len(self.columns_spec)))
        self.all_rows: list[Row] = []
        self.shown: list[Row] = []
        self.filter_text = ""
        self.marked: set[str] = set()
        self._by_key: dict[str, Row] = {}
        self._sig: list[tuple] | None = None
        self._place: int | None = None  # hold_place's row, for the next refill
        self._built_for = 0
        self._fitted: dict[int, int] = {}  # a `fit` column's index -> its width for the rows
        self._ends: list[tuple[int, int]] = []  # (place among the shown, width) of `ends` ones

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.openable or action != "select_cursor"

    def on_mount(self) -> None:
        self._build_columns()
        if self.all_rows:
            self.refill()

    def _build_columns(self) -> None:
        """Columns for the terminal's width: fixed widths, the rest to the flexible ones, and the
        `wide` columns only in a wide terminal."""
        width = self.app.size.width - self.inset
        if self.within is not None:
            width = min(width, self.within)
        self._built_for = self.app.size.width
        self._fitted = self._fit_widths()
        self._shown_cols = [
            i for i, spec in enumerate(self.columns_spec) if not spec.wide or width >= WIDE
        ]
        widths = [self._fitted.get(i, self.columns_spec[i].width) for i in self._shown_cols]
        specs = [self.columns_spec[i] for i in self._shown_cols]
        fixed = sum(w or 0 for w in widths) + (1 if self.marks else 0)
        ncols = len(specs) + (1 if self.marks else 0)
        # two cells of padding per column and the vertical scrollbar
        left = width - fixed - 2 * ncols - 2
        flex = [spec for spec in specs if spec.width is None]
        if self.marks:
            self.add_column(" ", width=1, key="mark")
        self._ends = []
        for place, (spec, fixed_width) in enumerate(zip(specs, widths, strict=True)):
            share = left // max(1, len(flex))
            column_width = fixed_width or max(spec.min_width, share)
            self.add_column(spec.label, width=column_width, key=spec.key)
            if spec.ends:
                self._ends.append((place, column_width))

    def _fit_widths(self) -> dict[int, int]:
        out = {}
        for i, spec in enumerate(self.columns_spec):
            if spec.fit and spec.width:
                widest = max((r.cells[i].cell_len for r in self.all_rows), default=0)
                out[i] = min(spec.width, max(len(spec.label), widest))
        return out

    def on_resize(self) -> None:
        if self.columns and self.app.size.width != self._built_for:
            self._rebuild()

    def _rebuild(self) -> None:
        """The columns made again (another width): the cursor stays on its row (clearing the
        columns puts it on the first: a window resized between `j j` and `b y` acted there)."""
        at = (current_key(self), self.cursor_row)
        self.clear(columns=True)
        self._build_columns()
        self.refill(at)

    def _update_dimensions(self, new_rows) -> None:  # type: ignore[override]
        # Every column here has a fixed width and every row is one line, yet Textual 8.2.8
        # measures each new cell (about 1 ms a row): 3 s for a 3,000-record file. With no new rows
        # to measure, the method only recomputes the virtual size, which is all that changes.
        super()._update_dimensions(())

    def _cells(self, row: Row) -> list[Text]:
        if len(self._shown_cols) == len(row.cells):
            shown = list(row.cells)
        else:
            shown = [row.cells[i] for i in self._shown_cols]
        for place, width in self._ends:
            shown[place] = ends_kept(shown[place], width)
        return shown

    # rows, filter -------------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace the rows; the table is redrawn only when what it shows has changed (screens
        reload when they come back into view, and a 3,000-row refill costs about a second)."""
        self.all_rows = list(rows)
        self._by_key = {r.key: r for r in self.all_rows}
        self.marked &= set(self._by_key)
        sig = [(r.key, *((c.plain, str(c.style)) for c in r.cells)) for r in self.all_rows]
        if sig == self._sig and self.row_count == len(self.shown):
            self.shown = [self._by_key[r.key] for r in self.shown]  # same rows, fresh data
            self._place = None
            return
        self._sig = sig
        if self.is_mounted and self.columns:
            if self._fit_widths() != self._fitted:  # a `fit` column wants another width
                self._rebuild()
            else:
                self.refill()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refill()

    def refill(self, at: tuple[str | None, int] | None = None) -> None:
        """The rows shown again, the cursor on the row it was on (`at`: its key and line, read
        before the table was cleared)."""
        words = self.filter_text.casefold().split()
        rows = self.all_rows
        if words:
            rows = [row for row in rows if all(w in row.haystack for w in words)]
        self.shown = rows
        keep, place = at if at is not None else (current_key(self), self.cursor_row)
        before = keep  # (the row the cursor was on, also when the table was cleared for a resize)
        if self._place is not None:  # the rows acted on: the cursor stays where it was
            keep, place, self._place = None, self._place, None
        with self.app.batch_update():
            self.clear()
            if self.marks:
                for row in rows:
                    self.add_row(self._mark_cell(row.key), *self._cells(row), key=row.key)
            else:
                for row in rows:
                    self.add_row(*self._cells(row), key=row.key)
        if (keep is None or not move_to_key(self, keep)) and rows:
            # the row gone: the one that took its place
            self.move_cursor(row=min(place, len(rows) - 1))
        if current_key(self) != before:
            # another row under the cursor (the first rows read, rows acted on, a filter), not
            # moved there by the operator: a key read before now acts on no row they saw (see
            # ListScreen.typed_blind)
            self.place_shown_at = time.monotonic()

    def hold_place(self) -> None:
        """The rows at the cursor were acted on (unallocated, kept, restored): at the next
        refill the cursor stays on the same line, on the row that takes their place, rather
        than following a row the action moved elsewhere in the list. Rows marked elsewhere
        were acted on, not the highlighted one: the cursor follows that row as usual."""
        if self.marked and current_key(self) not in self.marked:
            return
        self._place = self.cursor_row

    # selection ----------------------------------------------------------------------------------

    def current(self) -> Row | None:
        key = current_key(self)
        return self._by_key.get(key) if key is not None else None

    def row(self, key: str) -> Row | None:
        return self._by_key.get(key)

    def _mark_cell(self, key: str) -> Text:
        return Text(MARK if key in self.marked else " ", style="bold", end="")

    def toggle_mark(self) -> None:
        key = current_key(self)
        if key is None or not self.marks:
            return
        self.marked ^= {key}
        self.update_cell(key, "mark", self._mark_cell(key))
        self.action_cursor_down()

    def clear_marks(self) -> None:
        for key in list(self.marked):
            self.marked.discard(key)
            if key in {r.key for r in self.shown}:
                self.update_cell(key, "mark", self._mark_cell(key))

    def targets(self) -> list[Row]:
        """The marked rows (in table order), else the highlighted row."""
        if self.marked:
            return [r for r in self.all_rows if r.key in self.marked]
        row = self.current()
        return [row] if row is not None else []

    def hides_a_target(self) -> bool:
        """Whether a marked row is one the filter hides (not on screen): a question naming it
        is read before it is answered (a `y` typed with the key that asks it is dropped)."""
        if not self.marked:
            return False
        shown = {r.key for r in self.shown}
        return any(r.key not in shown for r in self.targets())


class Details(Dialog[None]):
    """A read-only page of details (a run, an audit event). escape or enter closes it."""

    BINDINGS = [
        Binding("escape,enter,q", "close", "Close"),
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
    ]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(plain(self._title, "bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body", id="details-body"):
                yield Static(self._body, id="details-text")
            yield Static(Text("escape close   j/k scroll", style="dim"), classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#details-body", VerticalScroll).scroll_relative(y=lines, animate=False)


FILTER_DELAY = 0.12


def export_folder(store: Any) -> Path:
    """Where the console writes exports: the data dir's exports/ folder (the operator's files
    stay with the data, readable by its owner only)."""
    return Path(store.root) / "exports"


class ExportsCsv(UsoScreen):
    """`e` writes the list the screen shows (export_list(): one of sync.export.LISTS, or None
    where nothing can be exported) as CSV into the data directory's exports/ folder, in a
    worker, and says where."""

    EXPORT_BINDING = Binding("e", "export", "Export CSV")
    # The same key left out of the footer where a screen's own keys fill 80 columns (it stays
    # in the screen's ? Keys and the palette).
    EXPORT_BINDING_UNSHOWN = Binding("e", "export", "Export CSV", show=False)

    def export_list(self) -> str | None:
        """The `export` list this screen shows (sync.export.LISTS), None: no export here."""
        return getattr(self, "EXPORT_LIST", None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return self.export_list() is not None
        return super().check_action(action, parameters)

    def export_note(self) -> str:
        """What the file holds that the screen does not show, said with the export."""
        return ""

    def action_export(self) -> None:
        name = self.export_list()
        if name is not None:
            self._export(name, self.dfe, self.export_note())

    @in_thread("export", failure="Not exported", exclusive=False)
    def _export(self, name: str, dfe: str | None, note: str = "") -> None:
        from uso_tui.sync.export import export_file, left_out_of  # noqa: PLC0415

        now = self.now()
        # across schools, one whose data file is corrupt is left out, and said
        unreadable: set[str] | None = set() if dfe is None else None
        path, row_count = export_file(
            self.store,
            name,
            dfe,
            today=now.date(),
            stamp=now.strftime("%Y%m%d-%H%M%S"),
            folder=export_folder(self.store),
            unreadable=unreadable,
        )
        said = f"Exported {row_count} rows of {name} to {path}"
        said = f"{said} ({note})" if note else said
        for school in sorted(unreadable or ()):
            said += "; " + left_out(school, left_out_of(name))
        self.app.call_from_thread(self.say, said, "warning" if unreadable else "information")


class ListScreen(ExportsCsv):
    """A screen whose main content is one or more ListTables with a shared `/` filter bar.

    Subclasses yield `self.filter_bar()` in compose and implement `active_table()`.
    escape clears the filter first, then goes back.
    """

    LIST_BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("escape", "escape", "Back"),
    ]

    _filter_timer: Timer | None = None
    _shown_before = False

    def resumed_again(self) -> bool:
        """True when the screen comes back into view (Textual also resumes a screen when it is
        first shown, and on_mount has loaded it then)."""
        again, self._shown_before = self._shown_before, True
        return again

    def filter_bar(self, placeholder: str = "filter: words to find (escape clears)") -> LineInput:
        return FilterInput(placeholder=placeholder, id="filter", classes="filter")

    def export_note(self) -> str:
        filtered = any(box.value.strip() for box in self.query("#filter").results(Input))
        return "every row: the filter narrows the screen only" if filtered else ""

    def active_table(self) -> ListTable | None:
        raise NotImplementedError

    def typed_blind(self) -> bool:
        """Whether the key acting on the row at the cursor was read before that row came there
        (`x` `y` `x` `y` over a slow link: the second `x` pressed before the list showed which
        row follows; `d` `b` `y` from a hub, before the list was read): it does nothing, nor do
        the keys after it, and the console says so."""
        table = self.active_table()
        return table is not None and self.typed_before(
            table.place_shown_at,
            "the row at the cursor came there after them",
            "look at it, then act",
        )

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.apply_filter)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.apply_filter()
        table = self.active_table()
        if table is not None:
            table.focus()

    def apply_filter(self) -> None:
        table = self.active_table()
        if table is not None:
            table.set_filter(self.query_one("#filter", Input).value)
        self.filter_applied()

    def filter_applied(self) -> None:
        """Hook: a subclass updates its counts line."""

    def action_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.has_class("visible"):
            box.value = ""
            box.remove_class("visible")
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self.apply_filter()
            table = self.active_table()
            if table is not None:
                table.focus()
            return
        self.app.action_back()

    def decision_saved(self, saved: float, failed: bool = False) -> None:
        super().decision_saved(saved, failed)
        table = self.active_table()
        if table is not None:
            table.hold_place()

    def action_cursor_down(self) -> None:
        table = self.active_table()
        if table is not None:
            table.action_cursor_down()

    def action_cursor_up(self) -> None:
        table = self.active_table()
        if table is not None:
            table.action_cursor_up()


class ReloadingListScreen(ListScreen):
    """A ListScreen that reads its data again when it comes back into view and on
    `action_reload` (by default its `load` worker)."""

    def on_screen_resume(self) -> None:
        if self.resumed_again() and self.reload_on_resume():
            # keys typed with the escape that came back (j enter) act on the rows as read
            # again, where newer ones may have pushed those shown before down (unless they
            # wait already: for the read after a decision, see UsoScreen.shown_read)
            if self._release_keys is None:
                self.hold_keys_while_opening()
            self.action_reload()

    def reload_on_resume(self) -> bool:
        """Whether coming back into view now reads the data again (a screen back from its own
        question may know better)."""
        return True

    def action_reload(self) -> None:
        self.load()

    def load(self) -> None:
        raise NotImplementedError


class LoadedListScreen(ReloadingListScreen):
    """A ReloadingListScreen with one table (id TABLE_ID) that a `load` worker fills: focus and
    load on mount."""

    TABLE_ID: ClassVar[str] = ""

    def active_table(self) -> ListTable:
        return self.query_one(f"#{self.TABLE_ID}", ListTable)

    def on_mount(self) -> None:
        self.active_table().focus()
        self.hold_keys_while_opening()  # its _show calls shown_first
        self.load()

    # Whether the screen's load writes its title (its counts): then a failure may be said there
    # until the next load shows, also over rows read before (a reload that failed: they are
    # what was, not what is).
    TITLE_FROM_LOAD: ClassVar[bool] = False

    def worker_failed(self, line: str) -> None:
        """A failure is said in the list's title, not only in a notice that fades: an empty list
        would read as nothing to show, and rows read before as the list now. Where a line of
        the screen still said "loading…", that line says it instead."""
        loading = bool(self.query(".loading"))
        super().worker_failed(line)
        if loading or (self.active_table().all_rows and not self.TITLE_FROM_LOAD):
            return
        for title in self.query("#title").results(Static):
            said = Text(f"{self.title} | ", style="bold", no_wrap=True, overflow="ellipsis")
            said.append_text(plain(line, "bold red"))
            title.update(said)
