"""The versions a commit replaces or deletes, freed after it rather than under its lock.

Renaming a new version over a file, or unlinking one, frees the old version's blocks, and on a
file system mounted with online discard that waits on the disk: about 0.2 ms per file, against
0.015 ms for a rename that frees nothing (measured on ext4). A commit renames dozens of files
while it holds the commit lock that every reader waits for. So before taking that lock a commit
gives each file it will replace or delete a second name in FREEING (a hard link), its renames and
deletes then only drop a name, and the old versions are freed once the lock is released: at once,
or by a thread in a process that asked for it (a run_due worker, whose event loop would otherwise
wait on the disk). Nothing depends on these links: a file system without hard links commits as
before, and links left by a process that died are removed by the next commit.

A process that commits many times (a run_due worker, within in_background) keeps some of the old
versions as spares and writes its next commits' staged files into them (reuse) rather than into
new files: making a file and freeing one each cost the file system far more than rewriting one
(on ext4 without a journal a new file's inode is searched for past every inode freed in the
last half minute: a tenth of a daily run's CPU, measured). A spare is only written into when
nothing else has it open (a write lease is granted, Linux), it has no other name, and it was
replaced SPARE_AGE ago or more: a reader that opened the old version before the commit replaced
it keeps reading that version whole (a reader holding no lock could in theory have found the
file by its name before the rename and open it just after: not a quarter second later).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import itertools
import os
import queue
import re
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from uso_tui.store.liveness import process_alive
from uso_tui.store.storage import make_dir, refuse_link

FREEING = ".freeing"

_names = itertools.count()
_ready: set[tuple[str, int]] = set()  # (folder, pid): made and swept by this process
_background: queue.SimpleQueue | None = None
# Old versions kept to be written into (reuse), within in_background only, by kind (what file
# each was: _kind), as (time.monotonic() when freed, size, link); SPARE_MAX in all (a commit of
# a batch of schools replaces a few hundred).
_spares: dict[str, collections.deque[tuple[float, int, str]]] = {}
_spares_lock = threading.Lock()
_DIGITS = re.compile(r"[0-9]+")
SPARE_MAX = 512
SPARE_AGE = 0.25  # seconds (a longer wait has a run_due make more new files: measured)
# Aged spares of a kind weighed against each other for their size (see _take_spare).
SPARE_CHOICE = 16
_SETLEASE = getattr(fcntl, "F_SETLEASE", None)  # Linux only: elsewhere no spare is kept
_reusing = False  # spares kept (within in_background, where lease breaks cannot end the process)


def keep_old(root: Path, paths: list[Path]) -> list[str]:
    """A second name in FREEING for each of `paths` that exists (an old version a commit is
    about to replace or delete). Caller holds the write lock."""
    folder = root / FREEING
    pid = os.getpid()
    refuse_link(folder)  # (links are made there, and _sweep deletes in it)
    if (str(folder), pid) not in _ready:
        make_dir(folder)
        _sweep(folder, pid)
        _ready.add((str(folder), pid))
    links: list[str] = []
    for path in paths:
        link = os.path.join(folder, f"{pid}.{next(_names)}.{_kind(path)}")
        try:
            os.link(path, link, follow_symlinks=False)
        except OSError:  # a new file; or no hard links here: the rename frees it, as before
            continue
        links.append(link)
    return links


def free(links: list[str]) -> None:
    """Frees the old versions kept by keep_old (in the background if this process asked)."""
    if not links:
        return
    if _background is None:
        _unlink_all(links)
        return
    if _reusing:
        with _spares_lock:
            room = max(0, SPARE_MAX - spare_count())
            now = time.monotonic()
            unfit = []
            for link in links[:room]:
                try:
                    size = os.stat(link, follow_symlinks=False).st_size
                except OSError:
                    unfit.append(link)
                    continue
                queue_ = _spares.setdefault(link.rpartition(".")[2], collections.deque())
                queue_.append((now, size, link))
        links = unfit + links[room:]
    if links:
        _background.put(links)


def _kind(path: Path) -> str:
    """What file `path` is, its numbers left out (a school's data file, a directory shard, a
    processed file): a spare of the same kind is about the size to be written into it, so
    writing frees or takes few blocks."""
    return _DIGITS.sub("N", f"{path.parent.name}_{path.name}").replace(".", "_")


def spare_count() -> int:
    """The spares kept (a handful of kinds: summed, not counted apart)."""
    return sum(map(len, _spares.values()))


def _take_spare(kind: str, size: int) -> str | None:
    """An aged spare, of `kind` if there is one, else of any kind: of the first SPARE_CHOICE
    aged ones, the largest no larger than `size` bytes, else the smallest. Cutting a file
    shorter frees its tail's blocks, which on ext4 costs a quarter of a millisecond (waiting on
    the disk under online discard) where writing past its end costs next to nothing (measured):
    a school's data file is rewritten into another school's old one. Caller holds
    _spares_lock."""
    now = time.monotonic()
    for queue_ in (_spares.get(kind), *_spares.values()):
        if not queue_ or now - queue_[0][0] < SPARE_AGE:
            continue
        best, best_size = 0, queue_[0][1]
        for at in range(1, min(SPARE_CHOICE, len(queue_))):
            freed, other, _ = queue_[at]
            if now - freed < SPARE_AGE:
                break  # the rest are younger still
            fits, best_fits = other <= size, best_size <= size
            if (fits and (not best_fits or other > best_size)) or (
                not fits and not best_fits and other < best_size
            ):
                best, best_size = at, other
        link = queue_[best][2]
        del queue_[best]
        return link
    return None


def reuse(dest: Path, path: Path, size: int = 0) -> int | None:
    """A spare old version (see free), of the kind of `path` (the file the caller is staging,
    `size` bytes) when there is one, renamed to `dest` and open for writing (the caller writes
    the whole file and closes it); None when there is none fit to be written into (then write a
    new file). Spares that are not fit are freed."""
    kind = _kind(path)
    while True:
        with _spares_lock:
            link = _take_spare(kind, size)
        if link is None:
            return None
        fd = _private(link)
        if fd is not None:
            try:
                os.rename(link, dest)
                return fd
            except OSError:
                os.close(fd)
        if _background is not None:
            _background.put([link])
        else:
            _unlink_all([link])


def _private(link: str) -> int | None:
    """`link` opened for writing if it is a regular file with no other name that nobody else
    has open (a write lease is granted only then); else None."""
    try:
        fd = os.open(link, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_nlink == 1 and stat.S_ISREG(st.st_mode):
            fcntl.fcntl(fd, _SETLEASE, fcntl.F_WRLCK)  # EAGAIN: open elsewhere
            fcntl.fcntl(fd, _SETLEASE, fcntl.F_UNLCK)
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


@contextlib.contextmanager
def in_background() -> Iterator[None]:
    """Within it, this process frees old versions in a thread of its own (a run_due worker) and
    keeps some as spares its next commits write into (reuse); leaving it frees the spares too and
    waits until all are freed. Not for a process that forks meanwhile (it must then have no
    other thread)."""
    global _background, _reusing
    todo: queue.SimpleQueue = queue.SimpleQueue()
    reaper = threading.Thread(target=_reaper, args=(todo,), name="uso-tui freeing", daemon=True)
    reaper.start()
    _background = todo
    # Another process opening a spare while its lease is held (a backup reading .freeing, in
    # the instant between granting and releasing it) breaks the lease, which signals SIGIO to
    # this process: its default ends the process. Ignored here; no spare is kept where it
    # cannot be (signals are set from the main thread only).
    sigio, ignored = None, False
    if _SETLEASE is not None:
        with contextlib.suppress(ValueError):
            sigio = signal.signal(signal.SIGIO, signal.SIG_IGN)
            ignored = True
    _reusing = ignored
    try:
        yield
    finally:
        _reusing = False
        if ignored:
            signal.signal(signal.SIGIO, signal.SIG_DFL if sigio is None else sigio)
        _background = None
        with _spares_lock:
            spares = [link for queue_ in _spares.values() for _, _, link in queue_]
            _spares.clear()
        todo.put(spares)
        todo.put(None)
        reaper.join()


def _reaper(todo: queue.SimpleQueue) -> None:
    while (links := todo.get()) is not None:
        _unlink_all(links)


def _unlink_all(links: list[str]) -> None:
    for link in links:
        with contextlib.suppress(OSError):
            os.unlink(link)


def sweep(root: Path) -> None:
    """Frees what processes that are gone kept in FREEING (no lock needed: nothing reads those
    names, and a live process's are left alone)."""
    _sweep(root / FREEING, os.getpid())


def _sweep(folder: Path, pid: int) -> None:
    """Links left by processes that are gone (killed before freeing what they kept)."""
    try:
        names = os.listdir(folder)
    except OSError:  # gone, or not a folder: commits then free as before
        return
    for name in names:
        owner = name.partition(".")[0]
        if owner.isdigit() and int(owner) != pid and not process_alive(int(owner)):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)
