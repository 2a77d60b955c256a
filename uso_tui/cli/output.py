"""Printing for the command line: aligned plain-text tables and JSON on stdout.

Names come from the MIS or from operators, so control characters are shown escaped, never sent to
the terminal (an ESC in a surname must not recolour or rewrite the screen). JSON output is the data
as it is, with the characters a terminal acts on or hides written as \\u escapes (json_text).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from rich.cells import cell_len

from uso_tui.domain.errors import InvalidInput
from uso_tui.store.api import left_out


def plain(value: Any) -> str:
    """Text safe to print: None as '-', control characters as \\xNN escapes."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(plain(v) for v in value)
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Iterable[int] = (),
    out: TextIO | None = None,
) -> None:
    """Columns separated by two spaces, widths by terminal cells (accents and wide letters align)."""
    out = out or sys.stdout
    cells = [[plain(v) for v in row] for row in rows]
    widths = [cell_len(h) for h in headers]
    for row in cells:
        for column, cell in enumerate(row):
            widths[column] = max(widths[column], cell_len(cell))
    right_cols = set(right)

    def line(values: Sequence[str]) -> str:
        parts = [_pad(v, widths[i], i in right_cols) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    out.write(line(list(headers)) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


def fields(pairs: Iterable[tuple[str, Any]], out: TextIO | None = None) -> None:
    """`Label:  value` lines, labels aligned."""
    out = out or sys.stdout
    items = [(label, plain(value)) for label, value in pairs]
    width = max((cell_len(label) for label, _ in items), default=0) + 1
    for label, value in items:
        out.write(_pad(label + ":", width, False) + "  " + value + "\n")


# What json.dumps leaves as it is that a terminal acts on or hides: C1 controls, bidi controls
# (U+202E turns the rest of a line around), zero-width and other format characters, line and
# paragraph separators, tag characters. Only ever inside a JSON string (the rest is ASCII).
_UNSAFE_IN_JSON = re.compile(
    "[\u0080-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _escaped(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]  # (\\uXXXX, a surrogate pair beyond the BMP)


def json_text(data: Any) -> str:
    """`data` as indented JSON, safe to print: the same value when read back."""
    return _UNSAFE_IN_JSON.sub(_escaped, json.dumps(data, ensure_ascii=False, indent=2))


def emit_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(json_text(data) + "\n")


def said_left_out(unreadable: set[str] | None, what: str, ctx: Any, status: int = 1) -> int:
    """Says on stderr (ctx.note: the command's Context) each school a listing across schools
    left out or showed as it was, its data file corrupt (`what`: what of it); the exit status:
    `status` if any, else 0."""
    for dfe in sorted(unreadable or ()):
        ctx.note(left_out(dfe, what))
    return status if unreadable else 0


def counts_line(counts: dict[str, int], keys: Sequence[str] | None = None) -> str:
    """`created 3, updated 1, ...`: only the non-zero counts (all when every one is zero)."""
    keys = list(keys or counts)
    shown = [f"{k.replace('_', ' ')} {counts.get(k, 0)}" for k in keys if counts.get(k)]
    return ", ".join(shown) if shown else "no changes"


def person(forename: Any, surname: Any, preferred: Any = None) -> str:
    name = f"{plain(forename or '')} {plain(surname or '')}".strip()
    if preferred and preferred != forename:
        name += f" ({plain(preferred)})"
    return name


MAX_SEARCH = 200  # characters of a search, as of any other text an operator types


def search_text(text: str) -> str:
    """A search as typed, refused past MAX_SEARCH characters (said back whole, 100,000 of them
    would fill the terminal; no name is that long)."""
    if len(text) > MAX_SEARCH:
        raise InvalidInput(
            f"the search is {len(text):,} characters long: at most {MAX_SEARCH} are looked for"
        )
    return text
