"""A few accounts' rows of a school's data file without parsing the whole file.

SchoolDoc.dump writes `{"meta":{"1":{...,"accounts_hash":H}},"accounts":{"1":{"username":...},
"2":{...},...},"runs":...`: the accounts table is the bytes between `"accounts":` and `,"runs":`,
and H (xxh3_64 of exactly those bytes) proves the cut is right. Inside it, each row starts with
its username under its document id and ends where the next id's row starts (or at the table's
end); a row whose bytes do not parse as that account's means the guess was wrong. Whenever
anything is not as expected the answer is None and the caller parses the file whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import xxhash

from uso_tui.store.api import AccountHit
from uso_tui.store.storage import CorruptFile, decode, read_bytes, table_rows

_HEAD = b'{"meta":'
_ACCOUNTS = b',"accounts":'
_AFTER = b',"runs":'


def accounts_table(raw: bytes) -> tuple[int, int] | None:
    """Where the accounts table is in the file's bytes (start, end), when the file is laid out
    as SchoolDoc.dump writes it."""
    if raw[: len(_HEAD)] != _HEAD:
        return None
    cut = raw.find(_ACCOUNTS)
    end = raw.rfind(_AFTER)  # from the end: the tables after the accounts are small
    if cut < 0 or end < cut:
        return None
    try:
        meta = orjson.loads(raw[len(_HEAD) : cut])
        expected = meta["1"]["accounts_hash"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    start = cut + len(_ACCOUNTS)
    with memoryview(raw) as whole, whole[start:end] as table:  # no copy of the table
        found = xxhash.xxh3_64_intdigest(table)
    return (start, end) if found == expected else None


def _row(raw: bytes, start: int, stop: int, username: str) -> dict[str, Any] | None:
    at = raw.find(b'{"username":' + orjson.dumps(username) + b",", start, stop)
    if at < start + 2 or raw[at - 2 : at] != b'":':
        return None
    quote = raw.rfind(b'"', start, at - 2)
    doc_id = raw[quote + 1 : at - 2]
    if not doc_id.isdigit() or raw[quote - 1 : quote] not in (b"{", b","):
        return None
    end = raw.find(b',"' + str(int(doc_id) + 1).encode() + b'":{"username":', at, stop)
    if end < 0:
        end = stop - 1  # the last row: the table's closing brace follows it
    try:
        row = orjson.loads(raw[at:end])
    except orjson.JSONDecodeError:
        return None
    return row if isinstance(row, dict) and row.get("username") == username else None


def account_rows(raw: bytes, usernames: Iterable[str]) -> list[dict[str, Any]] | None:
    """The stored rows of these accounts of a data file's bytes (those it holds, in the order
    asked), or None when they cannot be cut out reliably (parse the file whole then)."""
    table = accounts_table(raw)
    if table is None:
        return None
    start, stop = table
    rows = []
    for username in usernames:
        row = _row(raw, start, stop, username)
        if row is not None:
            rows.append(row)
        elif raw.find(b'"username":' + orjson.dumps(username), start, stop) >= 0:
            return None  # there, but not where expected
    return rows


def _rows_of(path: Path, raw: bytes, usernames: list[str]) -> list[dict[str, Any]]:
    # a file whose rows cannot be cut out is parsed whole (CorruptFile if it does not parse)
    rows = account_rows(raw, usernames)
    if rows is None:
        wanted = set(usernames)
        rows = [r for r in table_rows(decode(path, raw), "accounts") if r["username"] in wanted]
    return rows


def rows_of_hits(
    hits: Iterable[AccountHit],
    data_file: Callable[[str], Path],
    unreadable: set[str] | None = None,
) -> list[dict]:
    """The stored rows of the accounts search hits name, in their order (those no longer in
    their home's file left out): each home's file read once, only those rows parsed if it can.
    With `unreadable`, a home whose file is corrupt is added to it, its rows left out."""
    by_home: dict[str, list[str]] = {}
    order: list[tuple[str, str]] = []
    for hit in hits:
        by_home.setdefault(hit.home, []).append(hit.username)
        order.append((hit.home, hit.username))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for home, usernames in by_home.items():
        path = data_file(home)
        raw = read_bytes(path)
        if raw is None:
            continue
        try:
            rows = _rows_of(path, raw, usernames)
        except CorruptFile:
            if unreadable is None:
                raise
            unreadable.add(home)
            continue
        found.update(((home, r["username"]), r) for r in rows)
    return [found[key] for key in order if key in found]
