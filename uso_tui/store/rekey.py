"""Schemas 6 to 10: the stored name keys made again, as domain.names.normalise now makes
them, and with the parts of names split at apostrophes (8: O'Sullivan found by "sullivan"),
and the UPNs as domain.names.upn_key now makes them (9: letters and digits only; 10: full-width
ones as ASCII, `Ａ１２３...` found as `A123...`).

Letters whose accent is no separate mark (`ł`, `ø`, `đ`...) fold to the letters a keyboard
without them types (`Paweł` is `pawel`, as `Zoë` was already `zoe`) (6), and the vowel signs
of scripts that spell with marks are kept (`राम` Ram is no longer `रमा` Rama) (7). A school's names.idx and
names.keys (the users search and find_people) and the KEYS of its why.idx lines (the "why no
account?" search) hold normalised names, and lines of accounts or records that have not changed
are carried from one version of those files to the next: written by an older uso-tui, they would
keep the old keys for good, and a search for `Pawel` would miss `Paweł`. Only files holding a
non-ASCII byte, an apostrophe or a UPN with some other character than a letter or a digit can
change; the others are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from uso_tui.store.index import build_index
from uso_tui.store.journal import Commit
from uso_tui.store.layout import NAMES_KEYS, Layout
from uso_tui.store.people import staged_keys
from uso_tui.store.storage import read_bytes, read_table
from uso_tui.store.why_index import rekeyed_lines

PER_COMMIT = 200  # schools rekeyed per commit (each commit holds its files in memory)


# a names.idx line's UPN holding a character that is no letter or digit (index.py: `\x1dupn\x1f`)
_UPN_MARKED = re.compile(rb"\x1d[0-9A-Za-z]*[^0-9A-Za-z\x1f\t\n]")


def _may_change(data: bytes) -> bool:
    """An index whose keys a rekey may change: names with letters outside ASCII, or split at
    apostrophes (a typographic one is outside ASCII), or a UPN with a hyphen or a dot."""
    return not data.isascii() or b"'" in data or b"`" in data or bool(_UPN_MARKED.search(data))


def rekeyed_files(layout: Layout, dfe: str) -> dict[Path, bytes]:
    """The school's index files as this version writes them, those that differ only."""
    out: dict[Path, bytes] = {}
    index_path = layout.names_idx(dfe)
    old = read_bytes(index_path)
    if old and _may_change(old):
        rows = read_table(layout.data(dfe), "accounts")
        index = build_index({row["username"]: row for row in rows})
        if index != old:
            out[index_path] = index
            out[layout.names_keys(dfe)] = staged_keys(index, b"", 0, None, None)
    why_path = layout.why_idx(dfe)
    why = read_bytes(why_path)
    if why and _may_change(why):
        rekeyed = rekeyed_lines(why)
        if rekeyed != why:
            out[why_path] = rekeyed
    return out


def rekey_schools(root: Path, dfes: list[str]) -> int:
    """Rewrites the index files of `dfes` whose keys changed, PER_COMMIT schools a commit (a
    crash between them leaves some rekeyed: doing it again finds them done). The caller holds
    the write lock. The number of schools rewritten."""
    layout = Layout(root)
    rewritten = 0
    for start in range(0, len(dfes), PER_COMMIT):
        commit = Commit(root)
        for dfe in dfes[start : start + PER_COMMIT]:
            files = rekeyed_files(layout, dfe)
            for path, data in files.items():
                commit.write(path, data, checked=path.name == NAMES_KEYS)  # as transactions do
            rewritten += bool(files)
        commit.apply()
    return rewritten
