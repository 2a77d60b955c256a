"""All-or-nothing commits of several files.

A commit stages every new file version in DATA_DIR/.staging (written, flushed), then, holding the
commit lock, writes `journal.json` listing the renames (the commit point), renames every file into
place, flushes the folders and removes the journal. After a crash, `recover` (run under the write
lock before any write and by readers that find a journal) redoes a complete journal; without a
journal the staged files are an unfinished commit and are removed. A commit of one file needs no
journal: its rename is atomic by itself. A journal is obeyed only if every path it names is a file
of the store (staged files in .staging); any other refuses the store, touching nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import orjson

from uso_tui.store.errors import StoreError
from uso_tui.store.freeing import free, keep_old, reuse
from uso_tui.store.lock import commit_lock
from uso_tui.store.storage import (
    damaged,
    encode,
    flush_all,
    fsync_dir,
    make_dir,
    refuse_link,
    write_into,
    write_new,
)

JOURNAL = "journal.json"
STAGING = ".staging"


class Commit:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.writes: dict[Path, bytes] = {}
        self.deletes: set[Path] = set()
        self.checked: set[Path] = set()  # see write
        # What failed after the commit point (see _finishing), None if nothing did.
        self.unfinished: OSError | None = None

    def write(self, path: Path, data: bytes, *, checked: bool = False) -> None:
        """checked: the file's readers check it against the files it describes and ignore it
        when it does not fit (names.keys): it is not flushed to disk before the commit point,
        as a power cut could leave it empty or old, not wrong."""
        self.deletes.discard(path)
        self.writes[path] = data
        if checked:
            self.checked.add(path)
        else:
            self.checked.discard(path)

    def delete(self, path: Path) -> None:
        self.writes.pop(path, None)
        self.deletes.add(path)

    def __bool__(self) -> bool:
        return bool(self.writes or self.deletes)

    def apply(self) -> None:
        """Make every staged change visible at once. Caller holds the write lock."""
        if not self:
            return
        # A commit before this one under the same lock may be made but not finished (see
        # _finishing): finished first, or this one's journal would replace its journal, and its
        # staged files be taken for an unfinished commit's (several commits under one lock:
        # an upgrade's rekeying).
        recover(self.root)
        _refuse_directories([*self.writes, *self.deletes])
        staging = self.root / STAGING
        refuse_link(staging)
        make_dir(staging)
        for parent in {p.parent for p in self.writes}:
            make_dir(parent)
        renames: list[tuple[Path, Path]] = []
        flush: list[Path] = []
        for number, (path, data) in enumerate(self.writes.items()):
            tmp = staging / f"{number}.tmp"
            # an old version this process freed, written into (freeing.py)
            fd = reuse(tmp, path, len(data))
            if fd is None:
                write_new(tmp, data, fsync=False)
            else:
                write_into(fd, data, fsync=False)
            renames.append((tmp, path))
            # A checked file written into an old version is flushed too: a power cut could
            # leave it part new, part another file's old bytes, which its check may not tell.
            if path not in self.checked or fd is not None:
                flush.append(tmp)
        flush_all(staging, flush, [staging])
        # the versions replaced or deleted are freed after the lock (see freeing.py)
        old = keep_old(self.root, [*self.writes, *self.deletes])
        try:
            with commit_lock(self.root, shared=False):
                self._apply_locked(staging, renames)
        finally:
            free(old)

    def _apply_locked(self, staging: Path, renames: list[tuple[Path, Path]]) -> None:
        if len(renames) == 1 and not self.deletes:
            tmp, path = renames[0]
            os.replace(tmp, path)  # the commit point
            self._finishing(lambda: (fsync_dir(path.parent), fsync_dir(staging)))
            return
        doc = {
            "renames": [[self._rel(t), self._rel(p)] for t, p in renames],
            "deletes": sorted(self._rel(p) for p in self.deletes),
        }
        tmp_journal = staging / "journal.tmp"
        write_new(tmp_journal, encode(doc))
        os.replace(tmp_journal, self.root / JOURNAL)  # the commit point: from here a crash
        # is redone, not undone; its own paths need no check (recover checks one found on disk)
        deletes = sorted(self.deletes)
        self._finishing(lambda: (fsync_dir(self.root), _finish(self.root, renames, deletes)))

    def _finishing(self, step) -> None:
        """Runs what follows the commit point. The commit is made once its journal (or its one
        rename) is in place: a failure after it (a full disk refusing a rename that grows a
        folder, an fsync's EIO) leaves the rest to whatever reads or writes the store next
        (recover), as a crash would, and is kept in `unfinished`, not raised: raised, it would
        tell the caller that nothing changed (a run recorded failed, its changes in the store
        and not undoable as its own)."""
        try:
            step()
        except OSError as exc:
            self.unfinished = exc

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))


def _refuse_directories(paths: list[Path]) -> None:
    """A directory where a commit would put or delete a file is refused before the commit
    point: after it, its rename would fail every time it is redone, and every write to the
    store with it."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.lstat(path).st_mode):
                raise damaged(path, "a directory where a file belongs")


class BadJournal(StoreError):
    """journal.json names something outside the store: it was not written by uso-tui."""


def _checked(root: Path, doc: dict) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """The journal's renames and deletes as paths, each checked to lie inside the store."""
    renames, deletes = doc.get("renames", []), doc.get("deletes", [])
    if not isinstance(renames, list) or not isinstance(deletes, list):
        raise _bad(root, "its lists are malformed")
    inside = root.resolve()
    staging = inside / STAGING

    def path(rel: object, under: Path) -> Path:
        rel_path = Path(rel) if isinstance(rel, str) and rel else None
        if rel_path is None or rel_path.is_absolute() or ".." in rel_path.parts:
            raise _bad(root, f"it names {rel!r}")
        full = (root / rel_path).resolve()
        if full == under or not full.is_relative_to(under) or full.name == JOURNAL:
            raise _bad(root, f"it names {rel!r}, outside {under}")
        return root / rel_path

    pairs = []
    for pair in renames:
        if not isinstance(pair, list) or len(pair) != 2:
            raise _bad(root, f"it lists {pair!r} as a rename")
        pairs.append((path(pair[0], staging), path(pair[1], inside)))
    return pairs, [path(rel, inside) for rel in deletes]


def _bad(root: Path, why: str) -> BadJournal:
    return BadJournal(
        f"{root / JOURNAL} was not written by uso-tui ({why}): refusing to open the store. "
        "Restore the data directory from a backup, or move the journal aside if you know "
        "the last commit may be lost"
    )


def _redo(root: Path, doc: dict) -> None:
    renames, deletes = _checked(root, doc)  # all checked before anything is touched
    _finish(root, renames, deletes)


def _finish(root: Path, renames: list[tuple[Path, Path]], deletes: list[Path]) -> None:
    """Renames the staged files into place, deletes, flushes the folders, removes the journal."""
    dirs: set[Path] = {root / STAGING}
    for tmp, path in renames:
        if tmp.exists():  # else renamed before the crash
            make_dir(path.parent)
            os.replace(tmp, path)
        dirs.add(path.parent)
    for path in deletes:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        dirs.add(path.parent)
    flush_all(root, (), [folder for folder in dirs if folder.exists()])
    os.unlink(root / JOURNAL)
    # durable before the next commit stages files under the same names in .staging
    fsync_dir(root)


def needs_recovery(root: Path) -> bool:
    if (root / JOURNAL).exists():
        return True
    try:
        return bool(os.listdir(root / STAGING))
    except FileNotFoundError:
        return False


def recover(root: Path) -> bool:
    """Finish or discard an interrupted commit. Caller holds the write lock. True if it did."""
    if not needs_recovery(root):
        return False
    refuse_link(root / STAGING)  # (its files are deleted below)
    with commit_lock(root, shared=False):
        journal = root / JOURNAL
        if journal.exists():
            try:
                doc = orjson.loads(journal.read_bytes())
            except orjson.JSONDecodeError:
                doc = None
            if not isinstance(doc, dict):
                # Written whole and flushed before it is renamed in: damaged from outside. It
                # may be a commit's only record of renames half made, so nothing is touched.
                raise StoreError(
                    f"store file {journal} is corrupt: it lists the renames of a commit, which "
                    "may be half applied, so nothing was touched; restore the data directory "
                    "from a backup"
                )
            _redo(root, doc)
        staging = root / STAGING
        for name in os.listdir(staging) if staging.exists() else []:
            os.unlink(staging / name)
        if staging.exists():
            fsync_dir(staging)
    return True
