"""Locks of one data directory.

- The write lock (`.lock`): held for a whole transaction. A process-local threading lock first (the
  scheduler runs many schools in threads of one process), then a blocking `fcntl.flock` (other
  processes; blocking flock does not starve a waiter as polling locks do).
- The commit lock (`.commit.lock`): held exclusively by a writer only while it renames a commit's
  files into place, and shared by readers for the duration of one read, so a read that spans
  several files never sees half a commit. Both sides pass a turnstile (`.gate.lock`) first, so
  readers cannot starve a writer.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from uso_tui.store.errors import StoreBusy, StoreError
from uso_tui.store.storage import FILE_MODE, damaged

# A writer kept waiting this long says so once, through the hook its process gave (the CLI: a
# command behind a stopped or hung process otherwise waits for ever, nothing said).
WAIT_NOTE_S = 2.0
_POLL_S = 0.05
_waiting_hooks: dict[int, Callable[[], None]] = {}  # by process id: forked workers say nothing

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()
_held = threading.local()


class NestedTransaction(StoreError):
    pass


def _thread_lock(root: Path) -> threading.Lock:
    key = str(root.resolve())
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.Lock()
        return lock


def _open_lock_file(path: Path) -> int:
    try:
        # (not through a symbolic link: its fchmod below would change a file elsewhere)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise damaged(path, "a symbolic link where uso-tui keeps its lock file") from None
        # A store on a read-only file system (a backup mounted to look into) can still be read:
        # flock works on a descriptor opened for reading. A write fails later, naming the file.
        if exc.errno not in (errno.EROFS, errno.EACCES) or not path.exists():
            raise
        return os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with suppress(OSError):
        os.fchmod(fd, FILE_MODE)
    return fd


@contextmanager
def flocked(path: Path, mode: int) -> Iterator[None]:
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextmanager
def write_lock(root: Path, *, wait: bool = True) -> Iterator[None]:
    """Exclusive writer of `root`, across threads and processes. Not re-entrant: a nested
    transaction in one thread would deadlock, so it is refused instead. wait=False: StoreBusy
    at once if another writer has it."""
    key = str(root.resolve())
    roots: set[str] = getattr(_held, "roots", None) or set()
    _held.roots = roots
    if key in roots:
        raise NestedTransaction("a store transaction is already open in this thread")
    tlock = _thread_lock(root)
    if not tlock.acquire(blocking=wait):
        raise StoreBusy("another writer holds the store's lock")
    try:
        roots.add(key)
        fd = _open_lock_file(root / ".lock")
        try:
            _take(fd, wait)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock
    finally:
        roots.discard(key)
        tlock.release()


def say_when_waiting(hook: Callable[[], None] | None) -> None:
    """`hook` is called once a write of this process has waited WAIT_NOTE_S for the lock (None:
    nothing is, as before)."""
    if hook is None:
        _waiting_hooks.pop(os.getpid(), None)
    else:
        _waiting_hooks[os.getpid()] = hook


def _take(fd: int, wait: bool) -> None:
    if _took(fd):
        return
    if not wait:
        raise StoreBusy("another writer holds the store's lock")
    hook = _waiting_hooks.get(os.getpid())
    if hook is not None:
        deadline = time.monotonic() + WAIT_NOTE_S
        while time.monotonic() < deadline:
            time.sleep(_POLL_S)
            if _took(fd):
                return
        with suppress(Exception):  # a note: its failure never fails the write
            hook()
    fcntl.flock(fd, fcntl.LOCK_EX)


def _took(fd: int) -> bool:
    """The lock taken if no one holds it (False: another writer does)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def commit_lock(root: Path, *, shared: bool) -> Iterator[None]:
    """The commit lock, taken through a turnstile (`.gate.lock`): a writer waiting for it holds
    the gate, so readers arriving after it wait and a stream of readers cannot starve it."""
    fd = _open_lock_file(root / ".commit.lock")
    try:
        with flocked(root / ".gate.lock", fcntl.LOCK_EX):
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
