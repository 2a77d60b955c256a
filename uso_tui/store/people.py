"""find_people: the accounts, anywhere in the store, with one of some UPNs or with one of some
(forename, surname, date of birth), "" standing for any forename or any surname: movers from
another local authority, also those whose surname changed or was mistyped. A triple with both
names is looked for by its names (the caller may ask for one name with many dates: the slips of
a keyed-in date of birth).

A store object keeps, per process, the keys each school's names.idx holds (PeopleIndex: a
hash of each key of every index line), taken from the file and reused while it is unchanged; a
call then reads only the index files of the schools that may hold a wanted key, and scans each
for what its keys say it may hold, at C speed: each date of birth, UPN or pair's forename found
by a plain search (bytes.find) when a look wants few, or by one regular expression of them all
(a trie) when it wants many. Only the lines hit are parsed and checked exactly (a hit may also
be in a display name).
"""

from __future__ import annotations

import os
import re
import struct
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash

from uso_tui.domain.names import normalise_cached
from uso_tui.store.api import AccountHit
from uso_tui.store.index import (
    field_text,
    read_hits,
    upn_key,
)
from uso_tui.store.layout import NAMES_KEYS
from uso_tui.store.storage import read_bytes, read_remade

if TYPE_CHECKING:
    from uso_tui.store.key_holders import KeyHolders

# A token of KEYS ends at a space, at the matching fields (\x1f) or, in older lines, at FLAGS.
_TOKEN_END = rb"[ \x1f\t]"
_TOKEN_ENDS = frozenset(b" \x1f\t")
# Up to this many dates and UPNs, or pairs' forenames, a school is searched for each plainly;
# for more, by one pattern (a plain search costs a pass over the index each).
FEW_NEEDLES = 4
FEW_FORENAMES = 3
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
        self.name_dobs: set[tuple[str, str, str]] = set()
        # Triples with both names: their dates by name pair, looked for by pair_forenames.
        self.pairs: dict[tuple[str, str], set[str]] = {}
        # The dates of the triples with one name, each with the forename keys wanted with it
        # (None: any forename, for a surname, which wants() checks).
        self.dates: dict[bytes, set[bytes] | None] = {}
        # The triples with one name, as (date, name): their keys (needles).
        self.singles: list[tuple[str, str]] = []
        keep, pairs, dates = self.name_dobs.add, self.pairs, self.dates
        for triple in name_dobs:  # one pass: a first import asks for a hundred thousand
            forename, surname, dob = triple
            if not dob or not (forename or surname):
                continue
            keep(triple)
            if forename and surname:
                got = pairs.get((forename, surname))
                if got is None:
                    pairs[(forename, surname)] = {dob}
                else:
                    got.add(dob)
                continue
            self.singles.append((dob, forename or surname))
            if not forename:
                dates[dob.encode()] = None
            else:
                wanted = dates.setdefault(dob.encode(), set())
                if wanted is not None:
                    wanted.add(forename.encode())
        # The pairs' dates by forename key: a school is scanned for the forenames of the pairs
        # whose keys it holds (pair_forenames), each found as a token and its line's date checked.
        self.pair_dates: dict[bytes, set[str]] = {}
        for (f, _), born in pairs.items():
            self.pair_dates.setdefault(f.encode(), set()).update(born)
        self.upn_fields = [field_text(u).encode() for u in self.upns]

    @property
    def wants_any(self) -> bool:
        return bool(self.dates or self.upns or self.pairs)

    @cached_property
    def patterns(self) -> list[re.Pattern[bytes]]:
        """scan()'s patterns for a look at many dates or UPNs, compiled when a school is
        first scanned: most looks find no school that may hold a key."""
        sources = []
        if self.dates:
            # ` username dob tokens`: the date (no other key has digits and a space before them),
            # then the forename or preferred name key, equal to a forename wanted with it (or
            # any line of the date, when any forename will do).
            tails = {
                dob: b" " if keys is None else _SKIP + _trie(dict.fromkeys(keys, b"")) + _TOKEN_END
                for dob, keys in self.dates.items()
            }
            sources.append(b" " + _trie(tails))
        if self.upns:
            # The UPN is between its own separator and the year group's.
            sources.append(rb"\x1d" + _trie(dict.fromkeys(self.upn_fields, b"\x1f")))
        return [re.compile(source) for source in sources]

    @cached_property
    def needles(self) -> dict[int, bytes]:
        """Each key of what is wanted but the pairs' (a date with a name key, a UPN), with what
        scan() searches a school's index for when the school holds the key: ` dob ` (the line's
        date, after its username) or the UPN between its separators."""
        out = {_hash(b"\x1d" + u): b"\x1d" + u + b"\x1f" for u in self.upn_fields}
        for dob, name in self.singles:
            out[_hash(f"{dob} {name}".encode())] = f" {dob} ".encode()
        return out

    def scan(
        self,
        data: bytes,
        home: str,
        out: dict[str, AccountHit],
        needles: Collection[bytes],
    ) -> None:
        """Adds the wanted accounts of one school's index to `out` (by username), but the name
        pairs' (scan_pairs): those of `needles` (values of self.needles). A few are each
        searched for plainly (a line of a date wanted is parsed, and wants() judges it); many,
        by the patterns, in one pass."""
        if len(needles) > FEW_NEEDLES:
            for pattern in self.patterns:
                for match in pattern.finditer(data):
                    at = match.start()
                    self._take(data, data.rfind(b"\n", 0, at) + 1, at, home, out)
            return
        for needle in needles:
            dated = needle[0] == 0x20  # ` dob `, else a UPN's
            at = data.find(needle)
            while at >= 0:
                start = data.rfind(b"\n", 0, at) + 1
                if not dated or data.count(b" ", start, at) == 1:
                    self._take(data, start, at, home, out)
                at = data.find(needle, at + len(needle))

    @cached_property
    def pair_forenames(self) -> dict[int, bytes]:
        """Each pair key (pair_key) of what is wanted, with the forename key its pair is
        scanned for."""
        out: dict[int, bytes] = {}
        for (f, s), dates in self.pairs.items():
            forename = f.encode()
            for part in pair_parts(frozenset(dates)):
                out[pair_key(f, s, part)] = forename
        return out

    def scan_pairs(
        self, data: bytes, home: str, out: dict[str, AccountHit], forenames: Iterable[bytes]
    ) -> None:
        """Adds the name pairs' accounts of one school's index to `out`: each line holding one of
        `forenames` (keys of pair_dates) as a token, with one of its pairs' dates (wants()
        checks the rest). Few forenames are each searched for plainly; many (a process's first
        look scans every school for every forename) by one pattern, in one pass."""
        if len(forenames) > FEW_FORENAMES:
            for match in self.pairs_pattern.finditer(data):
                at = match.start()
                if match.group(1) in forenames:
                    self._take_dated(data, at, self.pair_dates[match.group(1)], home, out)
            return
        size = len(data)
        for forename in forenames:
            dates = self.pair_dates[forename]
            needle = b" " + forename
            at = data.find(needle)
            while at >= 0:
                end = at + len(needle)
                whole = end < size and data[end] in _TOKEN_ENDS
                if whole and self._take_dated(data, at, dates, home, out):
                    end = data.find(b"\n", at)  # the line is taken whole
                    if end < 0:
                        break
                at = data.find(needle, end)

    @cached_property
    def pairs_pattern(self) -> re.Pattern[bytes]:
        """Any of the pairs' forenames as a whole token of KEYS."""
        return re.compile(b" (" + _trie(dict.fromkeys(self.pair_dates, b"")) + b")" + _TOKEN_END)

    def _take_dated(
        self, data: bytes, at: int, dates: set[str], home: str, out: dict[str, AccountHit]
    ) -> bool:
        """Takes the line holding position `at` if its date of birth is one of `dates`. A line
        is ` username dob tok ...`: its date is checked before it is parsed (a line not of that
        shape is parsed, and wants() judges it)."""
        start = data.rfind(b"\n", 0, at) + 1
        head = data[start:at].split(b" ", 3)
        if len(head) < 3 or head[2].decode(errors="replace") in dates:
            self._take(data, start, at, home, out)
            return True
        return False

    def _take(
        self, data: bytes, start: int, at: int, home: str, out: dict[str, AccountHit]
    ) -> None:
        """The wanted accounts of the line from `start` that holds position `at`."""
        end = data.find(b"\n", at)
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


# The keys of an index line: its date of birth with each name token (whole names come first,
# then the parts of multi-part names), its UPN, and its forename and preferred name each with its
# surname and a part of its date (pair_key). An account is kept under all of them, whatever its
# role; a wanted key is a date with one forename, preferred name or surname key, a UPN, or a
# pair's. Hashed stably (xxh3), so that a commit can write a school's keys for every process to
# read.
_TOKEN = rb"[^ \t\n\x1d\x1f]+"
_DOB_TOKENS = re.compile(rb"(?m)^ " + _TOKEN + rb" (" + _TOKEN + rb")((?: " + _TOKEN + rb")+)")
_UPN_FIELD = re.compile(rb"\x1d([^\x1f\t\n]+)")
# A line's date of birth, and its names as written (forename, surname, preferred) after KEYS
# and FLAGS.
_NAMES = re.compile(
    rb"(?m)^ [^ \t\n]+ ([^ \t\n]+)[^\t\n]*\t[^\t\n]*\t([^\t\n]*)\t([^\t\n]*)\t([^\t\n]*)$"
)
_hash = xxhash.xxh3_64_intdigest


def lines_keys(data: bytes) -> set[int]:
    """The keys under which PeopleFinder.wants may accept an account of these index lines: a
    hash of each (date of birth, name token) and of each UPN. A superset (any token with the
    date, any role): a school a key names by chance is scanned for nothing."""
    keys = {_hash(b"\x1d" + upn) for upn in _UPN_FIELD.findall(data)}
    add = keys.add
    for dob, run in _DOB_TOKENS.findall(data):
        if dob != b"~":
            prefix = dob + b" "
            for token in run.split():
                add(_hash(prefix + token))
    for dob, forename, surname, preferred in _NAMES.findall(data):
        sur = normalise_cached(surname.decode("utf-8", "replace"))
        if sur and dob != b"~":
            born = dob.decode()
            for name in (forename, preferred):
                fore = normalise_cached(name.decode("utf-8", "replace")) if name else ""
                if fore:
                    add(pair_key(fore, sur, born[:4]))
                    add(pair_key(fore, sur, born[5:]))
    return keys


def pair_key(forename: str, surname: str, part: str) -> int:
    """A key of an account by its (normalised) forename or preferred name, its surname and a part
    of its date of birth: the year (`1975`) or the month and day (`04-10`). A slip of a date
    keeps one of the two but for a few (pair_parts): a pair is looked for with a slipped date
    under a key or two, and names many bear are not looked for in every school."""
    return _hash(f"\x1e{forename} {surname} {part}".encode())


@lru_cache(maxsize=4096)  # a record's forename and preferred name ask with the same dates
def pair_parts(dates: frozenset[str]) -> frozenset[str]:
    """Few date parts (years, months and days) that each of `dates` has one of: greedily, the
    part most of the dates not yet covered share (the least such part on a tie)."""
    left, parts = list(dates), set()
    while left:
        counts = Counter(map(_YEAR, left))
        counts.update(map(_MONTH_DAY, left))
        most = max(counts.values())
        best = min(part for part, count in counts.items() if count == most)
        parts.add(best)
        left = [d for d in left if d[:4] != best and d[5:] != best]
    return frozenset(parts)


_YEAR, _MONTH_DAY = itemgetter(slice(None, 4)), itemgetter(slice(5, None))


# names.keys, beside each names.idx and written in the same commit: the keys of its lines, so
# that a process learns a school's keys by reading them, not by parsing its index. Its head
# holds the hash of the index it describes (a key file of another version of the index is
# ignored: the index is parsed) and how many lines have gone since its keys were made whole.
_HEAD = struct.Struct("<8sQI")
_MAGIC = b"USOKEYS2"  # 2: with the name pairs' keys (an older file is made again)
# A key file is made whole again once this share of its index's lines are gone since (their
# keys would name the school for nothing).
STALE_SHARE = 4


def keys_file(index: bytes, keys: Iterable[int], gone: int = 0, body: bytes = b"") -> bytes:
    """The key file of `index`: `body` (keys already packed) followed by `keys`."""
    packed = array("Q", keys)
    if sys.byteorder != "little":
        packed.byteswap()
    return _HEAD.pack(_MAGIC, _hash(index), gone) + body + packed.tobytes()


def describes(index: bytes, data: bytes | None) -> bool:
    """Whether a key file (`data`) was made with this very index: an index that fits no key
    file was damaged since (or the key file, written unflushed, is of the index before a
    power cut): its readers then read the school's accounts instead."""
    return _described(index, data) is not None


def _described(index: bytes, data: bytes | None) -> int | None:
    """The lines gone of a key file that describes `index`; None for any other file."""
    if not data or len(data) < _HEAD.size or (len(data) - _HEAD.size) % 8:
        return None
    magic, digest, gone = _HEAD.unpack_from(data)
    return gone if magic == _MAGIC and digest == _hash(index) else None


def read_keys_file(index: bytes, data: bytes | None) -> tuple[set[int], int] | None:
    """(keys, lines gone) of a key file that describes `index`; None for any other file."""
    got = _keys_body(index, data)
    return None if got is None else (set(_unpacked(got[0])), got[1])


def _keys_body(index: bytes, data: bytes | None) -> tuple[bytes, int] | None:
    """(packed keys, lines gone) of a key file that describes `index`; None for any other file."""
    gone = _described(index, data)
    if gone is None:
        return None
    assert data is not None
    return data[_HEAD.size :], gone


def _unpacked(body: bytes) -> array:
    keys = array("Q")
    keys.frombytes(body)
    if sys.byteorder != "little":
        keys.byteswap()
    return keys


def staged_keys(
    index: bytes, fresh: bytes, gone: int, old_index: bytes | None, old_file: bytes | None
) -> bytes:
    """The key file of `index`, made of `fresh` lines (those new in it) and the lines of
    `old_index`, `gone` of which are not in it: the old key file's keys followed by those of
    the fresh lines (a key held twice is read once), while it describes `old_index` and not too
    many lines have gone; else made whole."""
    was_gone = _described(old_index, old_file) if old_index is not None else None
    if was_gone is not None:
        assert old_file is not None
        gone += was_gone
        if gone * STALE_SHARE <= index.count(b"\n"):
            return keys_file(index, lines_keys(fresh), gone, old_file[_HEAD.size :])
    return keys_file(index, lines_keys(index))


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
    keys: array  # packed (a key may be there twice: a key file appended to)
    raw: bytes | None  # the bytes read, while the stamp alone cannot tell a rewrite (RACY_NS)
    # the size and hash of the key file's packed keys that `keys` holds (None: the index was
    # parsed): a key file that starts with them has had keys appended, and only those are read
    body: tuple[int, int] | None = None
    # time.monotonic() when `keys` were read as they are (see PeopleIndex.changed)
    read_at: float = 0.0


class PeopleIndex:
    """Which schools' names.idx may hold a given find_people key, for one store in one process
    (the runs of a run_due worker share it): the keys of each school's lines, read from its key
    file (names.keys; its index parsed when the key file does not describe it). Each look
    checks every school's index first (one stat each): one that is new, replaced (index files
    are replaced whole, by rename), or changed too recently for its time stamps to tell, has its
    keys read again. So a look made after a commit sees it, in whichever process it was made;
    the caller holds the store's read lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._looks = 0
        self._checked_at = -1.0  # time.monotonic() of the last look at every file
        self._known: dict[str, _Known] = {}
        self._map: KeyHolders | None = None  # the keys of _known, by key (made at first use)
        self._written: set[str] = set()  # schools this process wrote since the last look
        self._paths: dict[str, str] = {}
        self.reads = 0  # index files whose keys were read again (for tests and benchmarks)
        self.parsed = 0  # of those, parsed (no key file describing them)
        self.appended = 0  # of those, read from where the key file read before ended

    def find(
        self,
        dfes: list[str],
        path_of: Callable[[str], Path],
        finder: PeopleFinder,
        since: float | None = None,
        changed_after: float | None = None,
    ) -> list[AccountHit]:
        """find_people over the schools `dfes` (their names.idx at path_of(dfe)), sorted by
        username; every index checked again if not since `since` (time.monotonic()). Given
        `changed_after` (time.monotonic()), only the indexes changed since a look made then
        by this object are read (see _changed). The caller holds the store's read lock."""
        found: dict[str, AccountHit] = {}
        if not finder.wants_any:
            return []
        with self._lock:
            self._looks += 1
            cold = not self._known and self._looks <= SCAN_LOOKS
        only: set[str] | None = None
        if changed_after is not None:
            only, mapped = self.changed(dfes, path_of, since, changed_after)
            if not mapped:  # a few, read whole
                dfes, cold = sorted(only), True
        # A process that looks once or twice (a command's one run) reads every index once
        # rather than building the map (which pays from the third look on).
        if cold:
            every = set(finder.needles.values())
            plain = dict.fromkeys(dfes, every) if every else {}
            forenames = list(finder.pair_dates)
            pairs = dict.fromkeys(dfes, forenames) if forenames else {}
        else:
            plain, pairs = self.named(
                dfes, path_of, finder.needles, finder.pair_forenames, since, only
            )
        for dfe in sorted(plain.keys() | pairs.keys()):
            data = read_bytes(self._paths.get(dfe) or path_of(dfe))  # named() keeps each path
            if data:
                if dfe in plain:
                    finder.scan(data, dfe, found, plain[dfe])
                if dfe in pairs:
                    finder.scan_pairs(data, dfe, found, pairs[dfe])
        return [found[u] for u in sorted(found)]

    @property
    def _holders(self) -> KeyHolders:
        if self._map is None:
            self._map = new_key_holders()
        return self._map

    def changed(
        self, dfes: list[str], path_of: Callable[[str], Path], since: float | None, after: float
    ) -> tuple[set[str], bool]:
        """The schools of `dfes` whose index changed since a look this object made at `after`
        (time.monotonic()), and whether its map of keys told (else the files' time stamps, in
        a process that looked without one). The map tells once checked again: the look's map
        was as of a check before it, and a change after that check was seen at a later one."""
        with self._lock:
            if self._known:
                self._current(dfes, path_of, since)
                known = self._known
                return {d for d in dfes if (k := known.get(d)) is None or k.read_at > after}, True
        return self._written_after(dfes, path_of, after), False

    @staticmethod
    def _written_after(dfes: list[str], path_of: Callable[[str], Path], after: float) -> set[str]:
        """The schools whose index was written since `after` (time.monotonic()), by their
        files' time stamps (with no map: a process whose look read every index)."""
        oldest = time.time_ns() - int((time.monotonic() - after) * 1e9) - RACY_NS
        written = set()
        for dfe in dfes:
            stamp = _stamp(str(path_of(dfe)))
            if stamp is None or max(stamp[3], stamp[4]) >= oldest:
                written.add(dfe)
        return written

    def named(
        self,
        dfes: list[str],
        path_of: Callable[[str], Path],
        needles: dict[int, bytes],
        pair_forenames: dict[int, bytes],
        since: float | None = None,
        only: set[str] | None = None,
    ) -> tuple[dict[str, set[bytes]], dict[str, set[bytes]]]:
        """The schools (of `only`, if given) whose index may hold one of the keys of `needles`,
        each with the needles of the keys it holds, and likewise for the pair keys of
        `pair_forenames` and their forenames; every index checked first."""
        with self._lock:
            self._current(dfes, path_of, since)
            schools_of = self._holders.schools_of
            plain: dict[str, set[bytes]] = {}
            pairs: dict[str, set[bytes]] = {}
            for wanted, out in ((needles, plain), (pair_forenames, pairs)):
                held = schools_of(list(wanted))
                for needle, holding in zip(wanted.values(), held, strict=True):
                    for dfe in holding:
                        if only is None or dfe in only:
                            out.setdefault(dfe, set()).add(needle)
            return plain, pairs

    def stale(self, dfes: Iterable[str]) -> None:
        """The next look checks the indexes of `dfes` again (this process has just written
        them); the others when they are due (RECHECK_S)."""
        with self._lock:
            self._written.update(dfes)

    def prime(self, dfes: list[str], path_of: Callable[[str], Path]) -> None:
        """Reads every school's keys now (a run_due worker, before its first school arrives)."""
        with self._lock:
            self._looks = max(self._looks, SCAN_LOOKS)
            self._current(dfes, path_of)

    def _current(
        self, dfes: list[str], path_of: Callable[[str], Path], since: float | None = None
    ) -> None:
        """The map of `dfes`' keys, checked against their files at most every RECHECK_S (and
        whenever a school is new to it, or not checked since `since`). The caller holds
        self._lock."""
        paths = self._paths
        for dfe in dfes:
            if dfe not in paths:
                paths[dfe] = str(path_of(dfe))
        now = time.monotonic()
        if (
            now - self._checked_at >= RECHECK_S
            or (since is not None and self._checked_at < since)
            or any(d not in self._known for d in dfes)
        ):
            self._refresh({dfe: paths[dfe] for dfe in dfes})
            self._checked_at = time.monotonic()
            self._written.clear()
        elif self._written:  # (one stat each, not one per school of the store)
            written = {dfe: paths[dfe] for dfe in self._written if dfe in paths}
            self._refresh(written, prune=False)
            self._written.clear()  # (only once read: a read that failed is tried again)

    def _refresh(self, schools: dict[str, str], prune: bool = True) -> None:
        """The keys of `schools` read again where their index changed; with `prune`, those
        are every school, and any other is forgotten."""
        now = time.time_ns()
        known, holders = self._known, self._holders
        for dfe in [d for d in known if d not in schools] if prune else ():
            holders.remove(dfe, known.pop(dfe).keys)
        # a first read (nothing known): the map is made at once (KeyHolders.fill), and the schools
        # known once it is made
        filling: dict[str, _Known] | None = {} if not known else None
        for dfe, path in schools.items():
            stamp = _stamp(path)
            had = known.get(dfe)
            if had is not None and had.stamp == stamp and had.raw is None:
                continue
            data = (read_bytes(path) if stamp is not None else None) or b""
            racy = stamp is not None and max(stamp[3], stamp[4]) >= now - RACY_NS
            raw = data if racy else None
            if had is not None and data == had.raw:
                had.stamp, had.raw = stamp, raw
                continue
            keys, body, added = self._keys(path, data, had)
            entry = _Known(stamp, keys, raw, body, time.monotonic())
            if filling is not None:
                filling[dfe] = entry
                continue
            if had is None:
                holders.add(dfe, keys)
            elif added is not None:  # keys appended: every key held before is held still
                holders.add(dfe, added)
            else:
                holders.replace(dfe, had.keys, keys)
            known[dfe] = entry
        if filling:
            holders.fill([(dfe, entry.keys) for dfe, entry in filling.items()])
            known.update(filling)
        elif holders.worth_rebuilding():
            holders.fill([(dfe, entry.keys) for dfe, entry in known.items()])

    def _keys(
        self, index_path: str, data: bytes, had: _Known | None
    ) -> tuple[array, tuple[int, int] | None, array | None]:
        """The keys of a school's index `data`, the size and hash of the key file's packed keys
        they were read from (None: parsed from the index), and the keys appended to those `had`
        holds (None: read whole). A key file that starts with the keys `had` holds (a commit
        appended to it) adds only the keys after them to that set."""
        self.reads += 1
        if not data:
            return array("Q"), None, None
        sidecar = os.path.join(os.path.dirname(index_path), NAMES_KEYS)
        got = _keys_body(data, read_remade(sidecar))
        if got is None:
            self.parsed += 1
            return array("Q", lines_keys(data)), None, None
        body = got[0]
        # one pass of the hash: over the keys read before (if the file still has as many), then
        # over the rest
        size, before = had.body if had is not None and had.body is not None else (-1, None)
        digest, view = xxhash.xxh3_64(), memoryview(body)
        appended = 0 <= size <= len(body)
        if appended:
            digest.update(view[:size])
            appended = digest.intdigest() == before
            view = view[size:]
        digest.update(view)
        mark = (len(body), digest.intdigest())
        if appended:
            assert had is not None
            self.appended += 1
            added = _unpacked(body[size:])
            return had.keys + added, mark, added
        return _unpacked(body), mark, None


def new_key_holders() -> KeyHolders:
    """An empty map of keys to schools (numpy loaded only by a process that makes one: a run_due
    worker, the console; a command's one run reads each index instead)."""
    from uso_tui.store.key_holders import KeyHolders  # noqa: PLC0415

    return KeyHolders()
