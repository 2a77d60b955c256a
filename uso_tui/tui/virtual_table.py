"""A table that draws only the lines on screen (Textual's Line API), for lists of any length.

The rows are a plain Python sequence of items; each visible line is made from `cells_of(item)` when
drawn, in fixed-width columns. Replacing the rows sets the scroll height from their count and
nothing else, so a new list of tens of thousands of rows costs the event loop no more than a short
one. The cursor is a row index; `replace(..., keep=key)` puts it back on the row with that key.

Cells are `rich.text.Text` (never markup strings), so names are drawn as they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

HEADER_LINES = 1
PADDING = 1  # blank cells either side of each column, as DataTable draws them


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # cells of content, without the padding


def _fit(cell: Text, width: int) -> Text:
    """The cell cut or padded to `width`, justified as the cell asks (left by default)."""
    out = cell.copy()
    out.end = ""
    out.truncate(width, overflow="ellipsis")
    justify: Literal["left", "center", "right"] = (
        cell.justify if cell.justify in ("center", "right") else "left"  # type: ignore[assignment]
    )
    out.align(justify, width)
    return out


class VirtualTable(ScrollView, can_focus=True):
    """A header line and one line per item; a row cursor moved by keys and clicks.

    Posts `RowHighlighted` when the cursor moves, `RowSelected` on enter or a click on a row,
    `HeaderSelected` on a click on a column's header."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even-row",
        "virtual-table--odd-row",
    }

    # DataTable's look (Textual 8): the same theme variables for header, zebra and cursor
    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .virtual-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .virtual-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .virtual-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .virtual-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .virtual-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class RowHighlighted(Message):
        def __init__(self, table: VirtualTable, index: int, key: str) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class RowSelected(RowHighlighted):
        pass

    class HeaderSelected(Message):
        def __init__(self, table: VirtualTable, column: Column) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        cells_of: Callable[[Any], Sequence[Text]],
        key_of: Callable[[Any], str],
        *,
        zebra_stripes: bool = False,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own name for it
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cells_of = cells_of
        self._key_of = key_of
        self.zebra_stripes = zebra_stripes
        self.columns: tuple[Column, ...] = ()
        self._items: Sequence[Any] = ()
        self._cursor = 0
        # time.monotonic() when a row last came under the cursor by itself (replace)
        self.place_shown_at = 0.0
        self._generation = 0  # bumped when the items or columns change: drawn lines are stale
        self._lines: LRUCache[tuple, Strip] = LRUCache(maxsize=512)
        self._styles: tuple[Style, Style, Style, Style] = (Style(), Style(), Style(), Style())

    # -- content --------------------------------------------------------------------------------

    def set_columns(self, columns: Sequence[Column]) -> None:
        self.columns = tuple(columns)
        self._changed()

    def replace(self, items: Sequence[Any], *, found: tuple[str, int | None] | None = None) -> None:
        """Show `items` instead, the cursor on the row with the key it is on now (else at the same
        index). Finding that row scans the rows, unless `found` says where the caller found a key
        in `items` (off the event loop; None: not there) and the cursor is still on that key."""
        keep = self.cursor_key
        self._items = items
        if found is not None and found[0] == keep:
            index = found[1]
        else:
            index = self.index_of(keep) if keep is not None else None
        self._changed()
        self.move_cursor(self._cursor if index is None else index, post=False)
        if self.cursor_key != keep:
            # another row under the cursor (the first rows, a filter that hid the row), not
            # moved there by the operator: a key read before now acts on no row they saw
            self.place_shown_at = time.monotonic()

    def _changed(self) -> None:
        self._generation += 1
        self._lines.clear()
        width = sum(column.width + 2 * PADDING for column in self.columns)
        self.virtual_size = Size(width, len(self._items) + HEADER_LINES)
        self.refresh()

    @property
    def items(self) -> Sequence[Any]:
        return self._items

    @property
    def row_count(self) -> int:
        return len(self._items)

    def key_at(self, index: int) -> str:
        return self._key_of(self._items[index])

    def cells_at(self, index: int) -> Sequence[Text]:
        return self._cells_of(self._items[index])

    def index_of(self, key: str) -> int | None:
        items, key_of = self._items, self._key_of
        if self._cursor < len(items) and key_of(items[self._cursor]) == key:
            return self._cursor  # a reload in the same order: no scan
        return next((i for i, key_i in enumerate(map(key_of, items)) if key_i == key), None)

    # -- cursor ---------------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_item(self) -> Any | None:
        return self._items[self._cursor] if self._items else None

    @property
    def cursor_key(self) -> str | None:
        item = self.cursor_item
        return None if item is None else self._key_of(item)

    def move_cursor(self, row: int, *, post: bool = True) -> None:
        """Put the cursor on row `row` (kept within the rows) and scroll it into view."""
        old = self._cursor
        self._cursor = max(0, min(row, len(self._items) - 1))
        self._scroll_to_cursor()
        if old != self._cursor:
            self.refresh()
        if post and self._items and old != self._cursor:
            self.post_message(self.RowHighlighted(self, self._cursor, self.cursor_key or ""))

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        page = self._page()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._items) - 1)

    def action_select_cursor(self) -> None:
        if self._items:
            self.post_message(self.RowSelected(self, self._cursor, self.cursor_key or ""))

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y < HEADER_LINES:
            column = self._column_at(offset.x + round(self.scroll_x))
            if column is not None:
                self.post_message(self.HeaderSelected(self, column))
            return
        index = offset.y - HEADER_LINES + round(self.scroll_y)
        if index < len(self._items):
            self.move_cursor(index)
            self.action_select_cursor()

    def _column_at(self, x: int) -> Column | None:
        for column in self.columns:
            x -= column.width + 2 * PADDING
            if x < 0:
                return column
        return None

    # -- drawing --------------------------------------------------------------------------------

    def render_lines(self, crop):
        # the component styles once a frame: they follow the theme, focus and dark mode
        style = self.get_component_rich_style
        self._styles = (
            self.rich_style,
            style("virtual-table--header"),
            style("virtual-table--cursor"),
            style("virtual-table--even-row") if self.zebra_stripes else Style(),
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base, header, cursor, even = self._styles
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y < HEADER_LINES:
            key: tuple = ("header", self._generation, base + header)
            row_style = base + header
            cells: Sequence[Text] = [Text(column.label) for column in self.columns]
        else:
            index = y - HEADER_LINES + scroll_y
            if index >= len(self._items):
                return Strip.blank(width, base)
            if index == self._cursor:
                row_style = base + cursor
            else:
                row_style = base + even if index % 2 == 0 else base
            key = (index, self._generation, row_style, index == self._cursor)
            cells = ()
        strip = self._lines.get(key)
        if strip is None:
            if y >= HEADER_LINES:
                cells = self._cells_of(self._items[index])
            strip = self._draw(cells, row_style, over=cursor if key[-1] is True else None)
            self._lines[key] = strip
        # the header and the cursor run to the edge, as in DataTable
        return strip.crop_extend(scroll_x, scroll_x + width, row_style)

    def _draw(self, cells: Sequence[Text], row_style: Style, over: Style | None) -> Strip:
        line = Text(end="", no_wrap=True)
        pad = " " * PADDING
        for column, value in zip(self.columns, cells, strict=False):
            line.append(pad)
            line.append_text(_fit(value, column.width))
            line.append(pad)
        if over is not None:  # the cursor's colours win over the cells' own, as in DataTable
            line.stylize(Style(color=over.color, bgcolor=over.bgcolor))
        segments = list(Segment.apply_style(line.render(self.app.console), row_style))
        return Strip(segments, line.cell_len)
