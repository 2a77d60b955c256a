"""find_people: the accounts, anywhere in the store, with one of some UPNs or with one of some
(forename, surname, date of birth): movers from another local authority.

Every school's names.idx is scanned, at C speed, by two regular expressions made from what is
wanted (a trie of the dates of birth, each followed by the forename keys wanted with it, and a
trie of the UPNs, each where a line holds its UPN); only the lines they hit are parsed and
checked exactly (a hit may also be in a display name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from uso_tui.store.api import AccountHit
from uso_tui.store.index import _norm, field_text, read_hits, upn_key

# A token of KEYS ends at a space, at the matching fields (\x1f) or, in older lines, at FLAGS.
_TOKEN_END = rb"[ \x1f\t]"
# The tokens before a forename or preferred name key: none or one (index_line puts the whole
# names first); up to three in lines written before, where a forename's parts came first.
_SKIP = rb"(?: [^ \t\x1d\x1f\n]+){0,3} "


def _trie(tails: dict[bytes, bytes]) -> bytes:
    """A pattern matching any key of `tails` followed by its tail, with shared prefixes written
    once (the engine then tests a character per level, not every key in turn)."""
    root: dict = {}
    for key, tail in tails.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = tail
    return _branches(root)


def _branches(node: dict) -> bytes:
    alts = [
        re.escape(bytes([b])) + _branches(node[b]) for b in sorted(k for k in node if k is not None)
    ]
    if None in node:
        alts.append(node[None])
    return alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"


class PeopleFinder:
    """What one find_people call wants, compiled once and applied to each school's index."""

    def __init__(
        self, role: str, upns: Iterable[str], name_dobs: Iterable[tuple[str, str, str]]
    ) -> None:
        self.role = role
        self.upns = {k for k in map(upn_key, upns) if k}
        self.name_dobs = {(f, s, d) for f, s, d in name_dobs if f and s and d}
        self.patterns: list[re.Pattern[bytes]] = []
        forenames: dict[bytes, set[bytes]] = {}
        for f, _, d in self.name_dobs:
            forenames.setdefault(d.encode(), set()).add(f.encode())
        if forenames:
            # ` username dob tokens`: the date (no other key has digits and a space before them),
            # then the forename or preferred name key, equal to a forename wanted with it.
            tails = {
                dob: _SKIP + _trie(dict.fromkeys(keys, b"")) + _TOKEN_END
                for dob, keys in forenames.items()
            }
            self.patterns.append(re.compile(b" " + _trie(tails)))
        if self.upns:
            # The UPN is between its own separator and the year group's.
            wanted = dict.fromkeys((field_text(u).encode() for u in self.upns), b"\x1f")
            self.patterns.append(re.compile(rb"\x1d" + _trie(wanted)))

    def scan(self, data: bytes, home: str, out: dict[str, AccountHit]) -> None:
        """Adds the wanted accounts of one school's index to `out` (by username)."""
        for pattern in self.patterns:
            for m in pattern.finditer(data):
                start = data.rfind(b"\n", 0, m.start()) + 1
                end = data.find(b"\n", m.end())
                line = data[start : end if end >= 0 else len(data)]
                for hit in read_hits(line, home):
                    if self.wants(hit):
                        out[hit.username] = hit

    def wants(self, hit: AccountHit) -> bool:
        if hit.role != self.role:
            return False
        if hit.upn is not None and hit.upn in self.upns:
            return True
        if hit.dob is None:
            return False
        surname = _norm(hit.surname)
        return any(
            (_norm(name), surname, hit.dob) in self.name_dobs
            for name in (hit.forename, hit.preferred_name)
            if name
        )
