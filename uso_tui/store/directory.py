"""The school directory (settings and summary of every school) split into shard files, so that a
commit changing a few schools writes a few small files, whatever the number of schools.

A school lives in shard `shard_of(dfe)` (DATA_DIR/directory/NNN.json, a TinyDB database whose
first table holds its version token, then the table "schools"). DATA_DIR/directory/version.json
holds a version token that changes at every commit of the directory and the token of every
shard, so whether a parsed directory is current costs reading the head of one small file, and
when it is not, only the shards whose tokens changed are read again. A commit writes the shards it
changed and version.json in one journal commit: a reader sees them all before or all after.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from uso_tui.domain.collector import gc_paused
from uso_tui.store.journal import Commit
from uso_tui.store.storage import check_tables, damaged, decode, encode, read_bytes, table_rows
from uso_tui.store.version_cache import data_token, head_token, meta_table, new_token

SHARDS = 256
Entry = dict[str, Any]


def shard_of(dfe: str) -> int:
    """A school's shard: stable across processes and versions (never Python's salted hash)."""
    return zlib.crc32(dfe.encode()) % SHARDS


def shard_path(folder: Path, shard: int) -> Path:
    return folder / f"{shard:03d}.json"


def version_path(folder: Path) -> Path:
    return folder / "version.json"


class DirectoryView(Mapping[str, Entry]):
    """DfE -> entry of one version of the directory; shared between readers, never changed
    (a new version is a new view sharing the shards that did not change)."""

    __slots__ = ("_shards", "tokens", "version")

    def __init__(
        self,
        shards: tuple[dict[str, Entry], ...],
        tokens: tuple[str | None, ...],
        version: str | None,
    ) -> None:
        self._shards = shards
        self.tokens = tokens  # each shard's version token (None: no such file)
        self.version = version  # version.json's token; None: to be checked again at next look

    @classmethod
    def empty(cls) -> DirectoryView:
        return cls(({},) * SHARDS, (None,) * SHARDS, None)

    def __getitem__(self, dfe: str) -> Entry:
        return self._shards[shard_of(dfe)][dfe]

    def get(self, dfe: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._shards[shard_of(dfe)].get(dfe, default) if isinstance(dfe, str) else default

    def __contains__(self, dfe: object) -> bool:
        return isinstance(dfe, str) and dfe in self._shards[shard_of(dfe)]

    def __iter__(self) -> Iterator[str]:
        for shard in self._shards:
            yield from shard

    def __len__(self) -> int:
        return sum(map(len, self._shards))

    def rows(self) -> list[Entry]:
        return [entry for shard in self._shards for entry in shard.values()]

    def shard(self, shard: int) -> dict[str, Entry]:
        return self._shards[shard]

    def replaced(
        self, shards: dict[int, tuple[str | None, dict[str, Entry]]], version: str | None
    ) -> DirectoryView:
        """This view with some shards replaced ({shard: (its token, its entries)})."""
        new_shards = list(self._shards)
        tokens = list(self.tokens)
        for shard, (token, entries) in shards.items():
            new_shards[shard] = entries
            tokens[shard] = token
        return DirectoryView(tuple(new_shards), tuple(tokens), version)


class EncodedEntries:
    """Each directory entry this process writes, kept encoded while it is the same object (entries
    are replaced, never changed in place): writing a shard encodes only the entries that changed.
    Used under the write lock only."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Entry, orjson.Fragment]] = {}

    def shard_doc(self, token: str, entries: dict[str, Entry]) -> dict[str, Any]:
        """A shard file's document: its token, then its entries in DfE order (TinyDB ids 1..N)."""
        kept = self._kept
        table: dict[str, orjson.Fragment] = {}
        for position, dfe in enumerate(sorted(entries), 1):
            entry = entries[dfe]
            hit = kept.get(dfe)
            if hit is None or hit[0] is not entry:
                hit = kept[dfe] = (entry, orjson.Fragment(orjson.dumps(entry)))
            table[str(position)] = hit[1]
        return {"meta": meta_table(token), "schools": table}


class DirectoryCache:
    """The directory as this process last read or wrote it, kept per shard."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._view = DirectoryView.empty()
        self.encoded = EncodedEntries()  # for this process's commits

    def get(self) -> DirectoryView:
        """The current directory: one read of version.json's head while nothing has changed."""
        token = head_token(version_path(self.folder))
        view = self._view
        if token is not None and token == view.version:
            return view
        with self._lock:  # one thread reads what changed; the others then find it current
            view = self._view
            if token is None or token != view.version:
                with gc_paused():  # a cold read builds every entry: no collections meanwhile
                    view = self._view = self._read(view)
            return view

    def _read(self, old: DirectoryView) -> DirectoryView:
        path = version_path(self.folder)
        raw = read_bytes(path)
        data = decode(path, raw)
        if raw is not None:  # (none yet: a store without schools)
            _check_version(path, data)
        version = data_token(data)
        listed = (data or {}).get("meta", {}).get("1", {}).get("shards") or [None] * SHARDS
        changed: dict[int, tuple[str | None, dict[str, Entry]]] = {}
        whole = True  # every shard read is the version listed (a reader holding no lock may see
        for shard, want in enumerate(
            listed
        ):  # a commit's files half renamed: look again next time)
            if want == old.tokens[shard]:
                continue
            if want is None:
                changed[shard] = (None, {})
                continue
            spath = shard_path(self.folder, shard)
            sdata = decode(spath, read_bytes(spath))
            if sdata is None:
                raise damaged(spath, "missing or empty, though the directory lists it")
            check_tables(spath, sdata, ("meta", "schools"))
            got = data_token(sdata)
            changed[shard] = (got, {r["dfe"]: r for r in table_rows(sdata, "schools")})
            whole = whole and got == want
        return old.replaced(changed, version if whole else None)

    def remember(self, view: DirectoryView) -> None:
        """What this process just committed (under the write lock)."""
        with self._lock:
            self._view = view


class StagedDirectory(Mapping[str, Entry]):
    """A transaction's directory: the committed view, and the entries it has changed (entries are
    replaced, never changed in place)."""

    def __init__(self, base: DirectoryView) -> None:
        self.base = base
        self.changes: dict[str, Entry] = {}

    def __getitem__(self, dfe: str) -> Entry:
        hit = self.changes.get(dfe)
        return hit if hit is not None else self.base[dfe]

    def get(self, dfe: str, default: Any = None) -> Any:  # type: ignore[override]
        hit = self.changes.get(dfe)
        return hit if hit is not None else self.base.get(dfe, default)

    def __contains__(self, dfe: object) -> bool:
        return dfe in self.changes or dfe in self.base

    def __setitem__(self, dfe: str, entry: Entry) -> None:
        self.changes[dfe] = entry

    def __iter__(self) -> Iterator[str]:
        yield from self.changes
        yield from (dfe for dfe in self.base if dfe not in self.changes)

    def __len__(self) -> int:
        return len(self.base) + sum(dfe not in self.base for dfe in self.changes)


def stage_shards(
    commit: Commit,
    folder: Path,
    base: DirectoryView,
    changes: dict[str, Entry],
    encoded: EncodedEntries | None = None,
) -> DirectoryView:
    """Stages in `commit` the shards holding `changes` (DfE -> new entry) and a new version.json;
    returns the view of the directory once committed."""
    encoded = encoded if encoded is not None else EncodedEntries()
    by_shard: dict[int, dict[str, Entry]] = {}
    for dfe, entry in changes.items():
        by_shard.setdefault(shard_of(dfe), {})[dfe] = entry
    written: dict[int, tuple[str | None, dict[str, Entry]]] = {}
    for shard, entries in by_shard.items():
        token = new_token()
        merged = {**base.shard(shard), **entries}
        commit.write(shard_path(folder, shard), encode(encoded.shard_doc(token, merged)))
        written[shard] = (token, merged)
    version = new_token()
    view = base.replaced(written, version)
    commit.write(version_path(folder), encode({"meta": meta_table(version, shards=view.tokens)}))
    return view


def stage_from_rows(commit: Commit, folder: Path, rows: list[Entry]) -> None:
    """Stages a whole directory of `rows` (upgrading a store from one schools.json)."""
    stage_shards(commit, folder, DirectoryView.empty(), {r["dfe"]: r for r in rows})


def _check_version(path: Path, data: Any) -> None:
    """version.json, once written, lists every shard: empty or of another shape, it read as a
    directory without schools (`school add` then wrote over a school's file)."""
    if data is None:
        raise damaged(path, "empty")
    check_tables(path, data, ("meta",))
    shards = data.get("meta", {}).get("1", {}).get("shards")
    if not (isinstance(shards, list) and len(shards) == SHARDS):
        raise damaged(path, f"its list of the {SHARDS} directory shards is missing or wrong")
