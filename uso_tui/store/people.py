"""find_people: the accounts, anywhere in the store, with one of some UPNs or with one of some
(forename, surname, date of birth), "" standing for any forename or any surname: movers from
another local authority, also those whose surname changed or was mistyped.

A store object keeps, per process, which school holds which of those keys (PeopleIndex: a hash
of each key of every index line, pointing at its school), taken from each school's names.idx
and reused while the file is unchanged; a call then reads only the index files of the schools
that may hold a wanted key. Those are scanned, at C speed, by two regular expressions made from
what is wanted (a trie of the dates of birth, each followed by the forename keys wanted with
it, and a trie of the UPNs, each where a line holds its UPN); only the lines they hit are parsed
and checked exactly (a hit may also be in a display name).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from uso_tui.domain.names import normalise_cached
from uso_tui.store.api import AccountHit
from uso_tui.store.index import (
    INDEX_LINE,
    ROLE_FLAG,
    field_text,
    read_hits,
    upn_key,
)
from uso_tui.store.storage import read_bytes

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
        # "" stands for any forename or any surname (not both)
        self.name_dobs = {(f, s, d) for f, s, d in name_dobs if (f or s) and d}
        self.patterns: list[re.Pattern[bytes]] = []
        forenames: dict[bytes, set[bytes]] = {}
        any_forename: set[bytes] = set()
        for f, _, d in self.name_dobs:
            if f:
                forenames.setdefault(d.encode(), set()).add(f.encode())
            else:
                any_forename.add(d.encode())
        if forenames or any_forename:
            # ` username dob tokens`: the date (no other key has digits and a space before them),
            # then the forename or preferred name key, equal to a forename wanted with it (or
            # any line of the date, when any forename will do).
            tails = {
                dob: _SKIP + _trie(dict.fromkeys(keys, b"")) + _TOKEN_END
                for dob, keys in forenames.items()
                if dob not in any_forename
            }
            tails.update(dict.fromkeys(any_forename, b" "))
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
        surname = normalise_cached(hit.surname)
        wanted = self.name_dobs
        if ("", surname, hit.dob) in wanted:
            return True
        return any(
            (f, surname, hit.dob) in wanted or (f, "", hit.dob) in wanted
            for f in (normalise_cached(name) for name in (hit.forename, hit.preferred_name) if name)
        )


def _name_key(flag: str, forename: str, surname: str, dob: str) -> int:
    """A forename (or preferred name) with a date of birth, or a surname with one: an account
    is kept under both, and a wanted (forename, surname, dob) is looked up by its forename."""
    return hash((flag, forename, surname, dob))


def _wanted_key(flag: str, forename: str, surname: str, dob: str) -> int:
    return _name_key(flag, forename, "", dob) if forename else _name_key(flag, "", surname, dob)


def _upn_key(flag: str, upn: str) -> int:
    return hash((flag, upn))


def file_keys(data: bytes) -> set[int]:
    """The keys under which PeopleFinder.wants accepts an account of an index file: its UPN, and
    its forename and preferred name keys each with its surname key and date of birth (the lines
    read as read_hits reads them)."""
    text = data.decode()
    if "\x1e" in text:
        text = text.replace("\x1e", " ")
    keys: set[int] = set()
    add, norm = keys.add, normalise_cached
    # _upn_key and _name_key written out: this runs for every line of every school's index
    for _, dob, _, _, upn, _, r, _, _, fore, sur, pref in INDEX_LINE.findall(text):
        if upn:
            add(hash((r, upn)))
        if dob != "~":
            add(hash((r, "", norm(sur), dob)))
            if fore:
                add(hash((r, norm(fore), "", dob)))
            if pref:
                add(hash((r, norm(pref), "", dob)))
    return keys


def wanted_keys(finder: PeopleFinder) -> set[int]:
    flag = ROLE_FLAG.get(finder.role, "")
    keys = {_upn_key(flag, u) for u in finder.upns}
    keys.update(_wanted_key(flag, f, s, d) for f, s, d in finder.name_dobs)
    return keys


# Looks made within this many seconds of the last look at every file trust it (a run_due's
# workers look once per school: one stat of every school's index each time was most of the
# cost at 3,000 schools). An account committed elsewhere in the meantime is found from the
# next look on; one of the same local authority is caught under the lock (sync.fresh).
RECHECK_S = 1.0
# The first looks of a process read every index without building the map (see find).
SCAN_LOOKS = 2

# A file changed less than this before it was read could be written again with the same time
# stamps (file systems stamp from a clock that advances in ticks of a few milliseconds): its
# bytes are kept and compared at the next look, until it is older than this.
RACY_NS = 100_000_000


def _stamp(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(slots=True)
class _Known:
    stamp: tuple[int, ...] | None
    keys: set[int]
    raw: bytes | None  # the bytes read, while the stamp alone cannot tell a rewrite (RACY_NS)


class PeopleIndex:
    """Which school's names.idx has a line with a given find_people key, for one store in one
    process (the runs of a run_due worker share it): a hash of each key of every line, pointing
    at its school. Each look checks every school's file first (one stat each): a file that is
    new, replaced (index files are replaced whole, by rename), or changed too recently for its
    time stamps to tell, is read again and its keys replace those it had. So a look made after
    a commit sees it, in whichever process it was made; the caller holds the store's read lock.
    A hash may collide: a school it names is then scanned for nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._looks = 0
        self._checked_at = -1.0  # time.monotonic() of the last look at every file
        self._known: dict[str, _Known] = {}
        self._where: dict[int, str | tuple[str, ...]] = {}
        self._paths: dict[str, str] = {}
        self.reads = 0  # index files parsed (for benchmarks)

    def find(
        self, dfes: list[str], path_of: Callable[[str], Path], finder: PeopleFinder
    ) -> list[AccountHit]:
        """find_people over the schools `dfes` (their names.idx at path_of(dfe)), sorted by
        username. The caller holds the store's read lock."""
        found: dict[str, AccountHit] = {}
        if not finder.patterns:
            return []
        with self._lock:
            self._looks += 1
            cold = not self._known and self._looks <= SCAN_LOOKS
        # A process that looks once or twice (a command's one run) reads every index once
        # rather than building the map (which pays from the third look on).
        schools = dfes if cold else self.schools_with(dfes, path_of, wanted_keys(finder))
        for dfe in schools:
            data = read_bytes(path_of(dfe))
            if data:
                finder.scan(data, dfe, found)
        return [found[u] for u in sorted(found)]

    def schools_with(
        self, dfes: list[str], path_of: Callable[[str], Path], keys: set[int]
    ) -> list[str]:
        """The schools whose index may hold one of `keys`, every index checked first."""
        with self._lock:
            paths = self._paths
            for dfe in dfes:
                if dfe not in paths:
                    paths[dfe] = str(path_of(dfe))
            now = time.monotonic()
            if now - self._checked_at >= RECHECK_S or any(d not in self._known for d in dfes):
                self._refresh({dfe: paths[dfe] for dfe in dfes})
                self._checked_at = time.monotonic()
            found: set[str] = set()
            where = self._where
            for k in keys:
                got = where.get(k)
                if got is None:
                    continue
                if type(got) is str:
                    found.add(got)
                else:
                    found.update(got)
            return sorted(found)

    def _refresh(self, schools: dict[str, str]) -> None:
        now = time.time_ns()
        known = self._known
        for dfe in [d for d in known if d not in schools]:
            self._replace(dfe, known.pop(dfe).keys, set())
        for dfe, path in schools.items():
            stamp = _stamp(path)
            had = known.get(dfe)
            if had is not None and had.stamp == stamp and had.raw is None:
                continue
            data = (read_bytes(path) if stamp is not None else None) or b""
            if had is not None and data == had.raw:
                keys = had.keys
            else:
                keys = self._parse(data, dfe)
                self._replace(dfe, had.keys if had is not None else set(), keys)
            racy = stamp is not None and max(stamp[3], stamp[4]) >= now - RACY_NS
            known[dfe] = _Known(stamp, keys, data if racy else None)

    def _parse(self, data: bytes, dfe: str) -> set[int]:
        self.reads += 1
        return file_keys(data) if data else set()

    def _replace(self, dfe: str, old: set[int], new: set[int]) -> None:
        where = self._where
        for k in old - new:
            got = where.get(k)
            if got == dfe:
                del where[k]
            elif type(got) is tuple:
                rest = tuple(d for d in got if d != dfe)
                where[k] = rest[0] if len(rest) == 1 else rest
        for k in new - old:
            got = where.get(k)
            if got is None:
                where[k] = dfe
            elif type(got) is str:
                where[k] = (got, dfe)
            else:
                where[k] = (*got, dfe)
