"""File primitives: the TinyDB storage class of every store document, and owner-only modes.

Every document of the store is a TinyDB database (`{table: {doc_id: doc}}`), encoded with orjson.
Nothing keeps a file handle open: a reader always sees the file another process last renamed in.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from uso_tui.store.errors import BadDataDir, CorruptFile

FILE_MODE = 0o600
DIR_MODE = 0o700


def encode(data: Any) -> bytes:
    return orjson.dumps(data)


def read_bytes(path: str | Path) -> bytes | None:
    """A file's bytes, None if it does not exist. Searches read thousands of small files: read
    through the file descriptor, without a buffered file object around it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):  # (os.read's error would not name it)
            raise damaged(Path(path), "a directory where a file belongs")
        size = st.st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # changed since, or a short read: read on to the end
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return data


def read_remade(path: str | Path) -> bytes | None:
    """A file made again from another when missing (names.keys from its names.idx): one that
    cannot be read counts as missing, rather than failing every search and run that reads it."""
    try:
        return read_bytes(path)
    except (OSError, CorruptFile):
        return None


def read_json(path: Path) -> Any:
    """The decoded file, or None when it does not exist."""
    return read_json_raw(path)[0]


def read_json_raw(path: Path) -> tuple[Any, bytes | None]:
    """The decoded file and its bytes; (None, None) when it does not exist (a directory in its
    place is said damaged, as by read_bytes)."""
    raw = read_bytes(path)
    if raw is None:
        return None, None
    return decode(path, raw), raw


def decode(path: Path, raw: bytes | None) -> Any:
    """A store file's bytes decoded (None: no file); CorruptFile, naming it, if they do not. No
    store file is ever written empty (each is a JSON document, replaced whole): one of no
    bytes was damaged (read as "nothing here", an LA's username registry was written again
    without its usernames)."""
    if raw is not None and not raw.strip():
        raise damaged(path, "empty")
    try:
        return orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError as exc:
        raise damaged(path, f"not valid JSON: {exc}") from None


def damaged(path: Path | None, what: str) -> CorruptFile:
    """The error for a store file that cannot be what uso-tui wrote, saying `what` is wrong
    (`path` None: read where no path was at hand; read_table names the file)."""
    if path is None:
        return CorruptFile(
            f"a store file is corrupt ({what}): restore the data directory from a backup; "
            "nothing was changed"
        )
    return CorruptFile(
        f"store file {path} is corrupt ({what}). uso-tui never writes a file in place, so it "
        "was damaged from outside: restore the data directory (or this file) from a backup; "
        "nothing was changed"
    )


def read_table(path: Path, table: str) -> list[dict[str, Any]]:
    """The documents of one table of a store file (none if there is no such file), checked to
    be what uso-tui writes (CorruptFile, naming it, if not)."""
    data = read_json(path)
    if data is not None:
        check_tables(path, data, (table,))
    return table_rows(data, table)


def check_tables(path: Path, data: Any, tables: tuple[str, ...]) -> None:
    """CorruptFile unless `data` is a document of TinyDB tables (each of `tables` it holds a
    JSON object of documents): valid JSON of another shape read as "nothing here"."""
    if not isinstance(data, dict):
        raise damaged(path, f"a JSON {type(data).__name__} where a document of tables belongs")
    for table in tables:
        docs = data.get(table)
        if docs is not None and not (
            isinstance(docs, dict) and all(isinstance(d, dict) for d in docs.values())
        ):
            raise damaged(path, f"its {table!r} is not a table of documents")


def make_dir(path: Path) -> None:
    """Create a folder (and its parents) readable by its owner only, whatever the umask. Only
    the folders made here get that mode: an existing one (a shared parent) is left as it is."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:
            continue  # made by another process meanwhile: its maker set the mode
        os.chmod(folder, DIR_MODE)


def refuse_link(path: Path) -> None:
    """uso-tui's own folders and lock files in the data directory are never symbolic links: one
    planted there (a restore gone wrong, a mistake) would have commits write, recovery delete
    and the lock's mode change files elsewhere."""
    if path.is_symlink():
        raise damaged(path, "a symbolic link where uso-tui keeps a file or folder of its own")


def check_data_dir(root: Path) -> None:
    """An existing data directory must be a folder that only its owner can change: anyone who
    can write in it could plant a journal or swap a school's file."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise BadDataDir(f"the data directory {root} is not a directory")
    if st.st_mode & 0o022:
        who = "everyone" if st.st_mode & 0o002 else "its group"
        raise BadDataDir(
            f"the data directory {root} can be changed by {who} "
            f"(mode {stat.S_IMODE(st.st_mode):o}): refusing to use it. Give a folder of its own "
            f"(one that does not exist yet is made owner-only), or run `chmod go-w {root}`"
        )


def owner_only(path: Path, mode: int = DIR_MODE) -> None:
    """`path` (ours) made `mode` if its group or others may read it: a data directory restored
    from a backup without its modes, or copied with `cp -r`, left every school's names and
    dates of birth, and the client secrets, readable by every user of the host. A folder that
    is owner-only keeps every file under it so whatever their own modes (the data directory
    itself keeps its mode: it may be a folder of the user's own, readable by others on purpose,
    whose store folders are made owner-only)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if st.st_mode & 0o077 and st.st_uid == os.geteuid():
        os.chmod(path, mode)


def write_new(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write and fsync a new file with mode 0600 (umask-independent); it must not exist yet."""
    write_into(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), data, fsync=fsync)


def write_into(fd: int, data: bytes, *, fsync: bool = True) -> None:
    """Write `data` as the whole content of the file open at `fd` (at its start: one just
    opened), mode 0600, and close it."""
    try:
        os.fchmod(fd, FILE_MODE)
        before = os.fstat(fd).st_size  # a file written into before (freeing.reuse)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if before > len(data):  # (a call that changes nothing still costs: only when longer)
            os.ftruncate(fd, len(data))
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_all(root: Path, files: Iterable[Path] = (), folders: Iterable[Path] = ()) -> None:
    """Make `files` and the entries of `folders` durable. On Linux one syncfs of `root`'s file
    system does it (one flush of the file system's journal instead of one per file: a commit
    writes dozens), which also flushes whatever other programs wrote there; elsewhere each
    file, then each folder, is fsynced."""
    syncfs = _syncfs()
    if syncfs is not None:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in folders:
        fsync_dir(folder)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), or None where there is none (imported when first needed: a search
    that writes nothing does not load ctypes)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def atomic_write(path: Path, data: bytes) -> None:
    """Replace one file atomically: temp file in the same folder, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    write_new(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


class OrjsonStorage(Storage):
    """TinyDB storage: orjson, atomic replace on write, mode 0600, no handle kept open.

    TinyDB's own JSONStorage keeps a handle open and overwrites in place (torn files after a
    crash, stale reads after another process renames a new file in); this one does neither.
    """

    def __init__(self, path: str | Path, **_: Any) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        return read_json(self.path)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write(self.path, encode(data))

    def close(self) -> None:
        pass


def table_rows(data: dict[str, Any] | None, table: str) -> list[dict[str, Any]]:
    """The documents of one TinyDB table, in document-id order."""
    if not data:
        return []
    if not isinstance(data, dict):
        raise damaged(None, f"a JSON {type(data).__name__} where its {table!r} table belongs")
    docs = data.get(table) or {}
    if not isinstance(docs, dict):
        raise damaged(None, f"its {table!r} is not a table of documents")
    return [docs[k] for k in sorted(docs, key=int)]


_ids: list[str] = []  # "1", "2", ...: making the id strings was most of as_table's time


def as_table(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A TinyDB table from a list of documents (ids 1..N in list order)."""
    global _ids
    ids = _ids
    if len(rows) > len(ids):  # made whole and swapped in: safe with threads
        ids = _ids = [str(i) for i in range(1, 2 * len(rows) + 1)]
    return dict(zip(ids, rows, strict=False))  # ids may be longer
