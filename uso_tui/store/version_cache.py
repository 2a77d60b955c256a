"""Parsed versions of the files every commit reads (the recent feed, the registries; the school
directory's shards use the same tokens, directory.py), reused while the file on disk is the same
version.

Each write of such a file starts it with a random version token (`{"meta": {"1": {"version":
...`), so checking that a cached parse is current costs reading the first bytes of the file,
whatever the file system's timestamps or inode reuse. After its own commit a writer hands over
what it wrote, so the next transaction in the process parses nothing. Values are shared between
readers: nobody mutates them (transactions copy what they change).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uso_tui.store.storage import decode, read_bytes

_TOKEN = re.compile(rb'^\{"meta":\{"1":\{"version":"([0-9a-f]{32})"')
HEAD = 64


def new_token() -> str:
    return uuid.uuid4().hex


def meta_table(token: str, **more: Any) -> dict[str, Any]:
    """The first table of a versioned file (keep it first: the token is read from the head)."""
    return {"1": {"version": token, **more}}


def head_token(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            match = _TOKEN.match(fh.read(HEAD))
    except FileNotFoundError:
        return None
    return match.group(1).decode() if match else None


def data_token(data: Any) -> str | None:
    """The version token of a decoded versioned file (None when it has none)."""
    try:
        return data["meta"]["1"]["version"]
    except (KeyError, TypeError):
        return None


class VersionCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # path -> (token, parsed value, the file's bytes when asked to keep them)
        self._items: dict[Path, tuple[str, Any, bytes | None]] = {}

    def get(self, path: Path, parse: Callable[[Any], Any]) -> Any:
        """parse(decoded file or None), from the cache while the file is the same version."""
        return self.get_version(path, parse)[0]

    def get_version(
        self, path: Path, parse: Callable[[Any], Any], keep_raw: bool = False
    ) -> tuple[Any, str | None, bytes | None]:
        """(value, its version token, the file's bytes if kept) as get; keep_raw: keep the bytes
        of what is read (a writer may then extend them instead of encoding it all again)."""
        token = head_token(path)
        with self._lock:
            hit = self._items.get(path)
        fresh = hit is not None and token is not None and hit[0] == token
        if hit is not None and fresh and (hit[2] is not None or not keep_raw):
            return hit[1], hit[0], hit[2]
        raw = read_bytes(path)
        data = decode(path, raw)
        value = parse(data)
        token = data_token(data)  # of what was actually read (the file may have changed since)
        if token is not None:
            with self._lock:
                self._items[path] = (token, value, raw if keep_raw else None)
        return value, token, raw if keep_raw else None

    def remember(self, path: Path, token: str, value: Any, raw: bytes | None = None) -> None:
        """What this process just committed to `path` under `token` (with its bytes)."""
        with self._lock:
            self._items[path] = (token, value, raw)
