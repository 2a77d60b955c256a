"""A DataTable of fixed-width, one-line columns that fills in steps: the first page at once, the
rest a few milliseconds at a time between frames, so a list of tens of thousands of rows shows its
top straight away and keys are answered while the rest arrives.

Adding a row costs tens of microseconds on the event loop (its cells are made then, not before),
so one refill of a long list is spread over many frames instead of blocking one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import Row, RowKey

from uso_tui.tui.widgets import current_key

# Loop time one step may take: well under a frame (1/60 s), so a key waits at most this long.
STEP_SECONDS = 0.008
ROWS_PER_CHECK = 25  # rows added between two looks at the clock
PAGE_MARGIN = 5  # rows added at once beyond the terminal's height


class GrowingTable(DataTable):
    """`fill(items, cells_of, key_of, keep=...)` replaces the rows; `filling` is True until all
    are in. The cursor goes back to the row keyed `keep` when that row arrives, unless the
    operator has moved the cursor since."""

    def __init__(self, **kwargs: Any) -> None:
        # Rows are only ever appended (one line each) or all cleared, so the rows in order and the
        # row of each line grow with them; Textual 8.2.8 rebuilds both over every row after each
        # change, which at 30,000 rows costs more than a frame each step.
        self._rows_in_order: list[Row] = []
        self._line_rows: list[tuple[RowKey, int]] = []
        super().__init__(**kwargs)
        self._items: Sequence[Any] = ()
        self._cells_of: Callable[[Any], Sequence[Text]] = lambda item: ()
        self._key_of: Callable[[Any], str] = str
        self._next = 0
        self._fill_id = 0
        self._keep: str | None = None

    @property
    def filling(self) -> bool:
        return self._next < len(self._items)

    def fill(
        self,
        items: Sequence[Any],
        cells_of: Callable[[Any], Sequence[Text]],
        key_of: Callable[[Any], str],
        *,
        keep: str | None = None,
    ) -> None:
        # a row still waiting to come back (a fill replaced before it arrived) keeps its claim
        keep = keep if keep is not None else (self._keep or current_key(self))
        self._fill_id += 1
        self._items, self._cells_of, self._key_of = items, cells_of, key_of
        self._next = 0
        self._keep = keep
        with self.app.batch_update():
            self.clear()
            self._add(self.app.size.height + PAGE_MARGIN)
        if self.filling:
            self.call_after_refresh(self._step, self._fill_id)

    def pending_key(self) -> str | None:
        """The row the cursor will go back to when it arrives, if any."""
        return self._keep

    def _add(self, count: int) -> None:
        end = min(len(self._items), self._next + count)
        cells_of, key_of, add_row = self._cells_of, self._key_of, self.add_row
        for item in self._items[self._next : end]:
            add_row(*cells_of(item), key=key_of(item))
        self._next = end
        self._place_cursor()

    def _place_cursor(self) -> None:
        keep = self._keep
        if keep is None:
            return
        if self.cursor_row != 0:  # the operator moved on while the rows were coming
            self._keep = None
            return
        if RowKey(keep) in self._row_locations:
            self._keep = None
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        elif not self.filling:
            self._keep = None  # gone (filtered out or removed)

    def _step(self, fill_id: int) -> None:
        if fill_id != self._fill_id or not self.is_attached:
            return  # a newer fill replaced this one
        t0 = time.perf_counter()
        while self.filling and time.perf_counter() - t0 < STEP_SECONDS:
            self._add(ROWS_PER_CHECK)
        if self.filling:
            self.call_after_refresh(self._step, fill_id)

    @property
    def ordered_rows(self) -> list[Row]:
        return self._rows_in_order

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        return self._line_rows

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None, label=None):
        if height != 1:
            raise ValueError("a GrowingTable's rows are one line each")
        # An appended row changes no line already drawn: keep the drawn lines' caches (Textual
        # keys them by a count of updates that add_row bumps, so every step drew the page again).
        updates = self._update_count
        row_key = super().add_row(*cells, height=1, key=key, label=label)
        self._update_count = updates
        self._rows_in_order.append(self.rows[row_key])
        self._line_rows.append((row_key, 0))
        return row_key

    def clear(self, columns: bool = False):
        self._rows_in_order = []
        self._line_rows = []
        return super().clear(columns)

    def remove_row(self, row_key) -> None:
        raise NotImplementedError("a GrowingTable is filled again, not edited row by row")

    def sort(self, *columns, key=None, reverse: bool = False):
        raise NotImplementedError("a GrowingTable is filled in the order wanted")

    def _update_dimensions(self, new_rows) -> None:  # type: ignore[override]
        # Every column has a fixed width and every row one line, yet Textual 8.2.8 measures each
        # new cell (about 0.1 ms a row, on idle). With no rows to measure, it only recomputes the
        # virtual size, which is all that changes.
        super()._update_dimensions(())
