"""The accounts that moved into a local authority's schools from another's, by an operator
matching a mover or restoring an account: they keep the username of the LA they were made in,
so the LA's registry (by username) does not show them. A run that planned a school of the LA
before such a move is checked against them under the lock, as against the accounts created
there meanwhile (sync/fresh.py).

One small file per LA, `registry/<la>.arrivals.json`: {"next": n, "recent": [[seq, username],
...]}, numbered in order, the last ARRIVALS_KEPT kept (a run lasts minutes; moves are an
operator's, one at a time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uso_tui.store.storage import CorruptFile, encode, read_json

ARRIVALS_KEPT = 500


def read_arrivals(path: Path) -> tuple[int, list[tuple[int, str]]]:
    """The number the next arrival will have, and the recent arrivals (number, username). A
    file damaged from outside is none (the next arrival writes it again): it must not stop
    every run of the LA."""
    try:
        data = read_json(path)
    except CorruptFile:
        return 0, []
    if not isinstance(data, dict) or not isinstance(data.get("next") or 0, int):
        return 0, []
    recent = [
        (seq, username)
        for seq, username in data.get("recent") or []
        if isinstance(seq, int) and isinstance(username, str)
    ]
    return data.get("next") or 0, recent


def with_arrivals(path: Path, usernames: list[str]) -> bytes:
    """The LA's arrivals file with `usernames` added (the caller holds the write lock)."""
    seq, recent = read_arrivals(path)
    for username in usernames:
        recent.append((seq, username))
        seq += 1
    doc: dict[str, Any] = {"next": seq, "recent": [list(e) for e in recent[-ARRIVALS_KEPT:]]}
    return encode(doc)


def arrived_since(entries: list[tuple[int, str]], since: int) -> list[str]:
    """The usernames of the arrivals numbered `since` or later."""
    return [username for seq, username in entries if seq >= since]
