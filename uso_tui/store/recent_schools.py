"""The rows of the few schools' data files read last, reused while each file is the same version.

A console working one school's matching queue reads the same case and candidate accounts again
and again (the question before a match, the accounts after it, a skip): each read decoded the
school's whole data.json (5 MB for 4,000 open cases: a quarter of a second per key). A school's
file starts with a version token that every write changes (version_cache), so reading its first
bytes says whether the rows kept are still the file's. Kept for KEEP schools only (a large school
decoded is tens of megabytes); rows are copied on the way out (they are shared).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson

from uso_tui.store.storage import read_json, table_rows
from uso_tui.store.version_cache import data_token, head_token

KEEP = 3
_KEYS = {"accounts": "username", "cases": "case_id"}


class RecentSchools:
    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        # path -> (version token, {table: {key: row}})
        self._items: OrderedDict[Path, tuple[str, dict[str, dict[str, dict[str, Any]]]]] = (
            OrderedDict()
        )

    def rows(self, path: Path, table: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Copies of the rows of `table` ("accounts" by username, "cases" by case id) with
        these keys, as the file at `path` holds them now (the caller holds the store's read
        lock). A school without a file has none."""
        token = head_token(path)
        with self._lock:
            hit = self._items.get(path)
            if hit is not None and token is not None and hit[0] == token:
                self._items.move_to_end(path)
                by_table = hit[1]
            else:
                by_table = None
        if by_table is None:
            data = read_json(path)
            by_table = {
                name: {row[key]: row for row in table_rows(data, name)}
                for name, key in _KEYS.items()
            }
            token = data_token(data)
            if token is not None:  # (a file without one is read every time)
                with self._lock:
                    self._items[path] = (token, by_table)
                    self._items.move_to_end(path)
                    while len(self._items) > self._keep:
                        self._items.popitem(last=False)
        wanted = by_table[table]
        return {k: orjson.loads(orjson.dumps(wanted[k])) for k in keys if k in wanted}

    def remember(
        self,
        path: Path,
        token: str,
        accounts: dict[str, dict[str, Any]],
        cases: dict[str, dict[str, Any]],
    ) -> None:
        """What this process just wrote to a school's file under `token` (still under the write
        lock; the rows are no longer changed by their writer), if that school is kept here: a
        decision's next look at its case or accounts reads nothing."""
        with self._lock:
            if path in self._items:
                self._items[path] = (token, {"accounts": dict(accounts), "cases": dict(cases)})
                self._items.move_to_end(path)
