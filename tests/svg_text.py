"""A snapshot's SVG read back as the terminal's lines (and each cell's style), so that a snapshot
that fails prints what differs on the screen: the HTML report a failing run leaves behind is not
kept by CI, and a picture that differs only on a loaded machine is then left unexplained."""

from __future__ import annotations

import difflib
import html
import re

CELL = 12.2  # Rich's export_svg: the width of one cell, and the left margin
_TEXT = re.compile(
    r'<text class="terminal-(?:\d+-)?(r\d+)" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
    r'clip-path="url\(#terminal-(?:\d+-)?line-(\d+)\)">([^<]*)</text>'
)
_RECT = re.compile(
    r'<rect fill="(#[0-9a-fA-F]+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)" '
    r'height="[\d.]+" shape-rendering="crispEdges"/>'
)
_STYLE = re.compile(r"\.terminal-(?:\d+-)?(r\d+) \{ ([^}]*) \}")


def _cells(svg: str) -> dict[int, dict[int, tuple[str, str]]]:
    """line -> column -> (character, its style as CSS)."""
    styles = dict(_STYLE.findall(svg))
    lines: dict[int, dict[int, tuple[str, str]]] = {}
    for cls, x, line, body in _TEXT.findall(svg):
        col = round((float(x) - CELL) / CELL)
        row = lines.setdefault(int(line), {})
        for i, ch in enumerate(html.unescape(body).replace("\xa0", " ")):
            row[col + i] = (ch, styles.get(cls, cls))
    return lines


def screen_lines(svg: str) -> list[str]:
    """The characters shown, one string per terminal line."""
    cells = _cells(svg)
    out = []
    for n in range(max(cells, default=-1) + 1):
        row = cells.get(n, {})
        width = max(row, default=-1) + 1
        out.append("".join(row.get(c, (" ", ""))[0] for c in range(width)).rstrip())
    return out


def backgrounds(svg: str) -> list[tuple[str, str, str]]:
    """Each background rectangle (fill, x, width) in order: where highlight and dimming fall."""
    return _RECT.findall(svg)


def explain(expected: str, actual: str) -> str:
    """What differs between two snapshots, as an operator would see it."""
    want, got = screen_lines(expected), screen_lines(actual)
    if want != got:
        diff = difflib.unified_diff(want, got, "snapshot", "this run", lineterm="", n=1)
        return "the screen's text differs:\n" + "\n".join(diff)
    before, after = _cells(expected), _cells(actual)
    styled = [
        f"line {n}: styles differ at columns "
        + ", ".join(str(c) for c in sorted(before[n]) if before[n][c] != after[n].get(c))
        for n in sorted(before)
        if before[n] != after.get(n)
    ]
    if styled:
        return "the same text, in other colours:\n" + "\n".join(styled)
    if backgrounds(expected) != backgrounds(actual):
        return "the same text and colours, other backgrounds (a highlight or a dimmed area)"
    return "no difference in text, colours or backgrounds (the SVG's markup differs)"
