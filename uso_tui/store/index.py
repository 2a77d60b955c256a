"""names.idx: one compact text line per account of a school, so a search across 1.5 million
accounts reads plain text with C-speed substring search and parses no JSON.

Line: `KEYS\\tusername\\trole\\tstatus\\tschool\\tdob\\tforename\\tsurname\\tpreferred\\n` where KEYS is
` tok tok ...`: the normalised forename, preferred name and surname, each part of multi-part
names, the username and the date of birth. A word prefix-matches a token exactly when
`" " + word` occurs in KEYS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from uso_tui.domain.names import normalise
from uso_tui.store.api import AccountHit

_SPLIT = re.compile(r"[\s\-]+")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_CTRL = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
# Names repeat a great deal across an estate: normalising each distinct one once saves most of
# the cost of indexing a school.
_norm = lru_cache(maxsize=200_000)(normalise)


def _tokens(d: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in ("forename", "preferred_name", "surname"):
        value = d.get(field) or ""
        whole = _norm(value)
        if whole:
            out.append(whole)
        parts = _SPLIT.split(value)
        if len(parts) > 1:
            out.extend(p for p in map(_norm, parts) if p)
    out.append(d["username"].lower())
    if d.get("dob"):
        out.append(d["dob"])
    seen: set[str] = set()
    return [t for t in out if not (t in seen or seen.add(t))]


def index_line(d: dict[str, Any]) -> str:
    """The index line of one account (as its stored dict)."""
    fields = (
        d["username"],
        d["role"],
        d["status"],
        d.get("school") or "",
        d.get("dob") or "",
        d.get("forename") or "",
        d.get("surname") or "",
        d.get("preferred_name") or "",
    )
    body = "\t".join(fields)
    if "\n" in body or "\r" in body or body.count("\t") != len(fields) - 1:
        body = "\t".join(f.translate(_CTRL) for f in fields)  # untrusted names: keep one line
    return " " + " ".join(_tokens(d)) + "\t" + body + "\n"


def index_fields(d: dict[str, Any]) -> tuple:
    """What the index line depends on: a put that leaves these unchanged needs no new index."""
    return (
        d["username"],
        d["role"],
        d["status"],
        d.get("school"),
        d.get("dob"),
        d.get("forename"),
        d.get("surname"),
        d.get("preferred_name"),
    )


def build_index(
    accounts: dict[str, dict[str, Any]],
    changed: set[str] | None = None,
    old: bytes | None = None,
) -> bytes:
    """The index of a school's accounts (by username), in username order. With the previous
    index and the usernames whose line changed, only those lines are made again."""
    reuse: dict[str, bytes] = {}
    if changed is not None and old:
        for line in old.split(b"\n"):
            first = line.find(b"\t")
            if first != -1:
                username = line[first + 1 : line.find(b"\t", first + 1)].decode()
                if username not in changed:
                    reuse[username] = line + b"\n"
    parts = []
    for username in sorted(accounts):
        line = reuse.get(username)
        parts.append(line if line is not None else index_line(accounts[username]).encode())
    return b"".join(parts)


def search_keys(text: str) -> list[str]:
    """The words of a search, as index tokens: names normalised, DD/MM/YYYY as YYYY-MM-DD."""
    keys: list[str] = []
    for word in text.split():
        m = _UK_DATE.match(word)
        if m:
            day, month, year = m.groups()
            keys.append(f"{year}-{int(month):02d}-{int(day):02d}")
        elif all(c.isdigit() or c == "-" for c in word):
            keys.append(word)
        elif any(c.isdigit() or c == "." for c in word):
            keys.append(word.lower())  # a username, e.g. jsmith3.204
        else:
            key = normalise(word)
            if key:
                keys.append(key)
    return keys


def _hit(line: bytes, home: str) -> tuple[str, AccountHit]:
    keys, username, role, status, school, dob, fore, sur, pref = line.decode().split("\t")
    hit = AccountHit(
        username=username,
        role=role,
        forename=fore,
        surname=sur,
        preferred_name=pref,
        dob=dob or None,
        school=school or None,
        home=home,
        status=status,
    )
    return keys, hit


def search_file(
    data: bytes,
    home: str,
    keys: list[str],
    status: str | None,
    limit: int | None,
    out: list[AccountHit],
) -> None:
    """Append the file's matching hits to `out` (stopping at `limit` hits in all)."""
    if not keys:
        for line in data.splitlines():
            if limit is not None and len(out) >= limit:
                return
            _, hit = _hit(line, home)
            if status is None or hit.status == status:
                out.append(hit)
        return
    probe = (" " + max(keys, key=len)).encode()
    needles = [" " + k for k in keys]
    pos = data.find(probe)
    while pos != -1:
        start = data.rfind(b"\n", 0, pos) + 1
        tab = data.find(b"\t", start)
        end = data.find(b"\n", pos)
        if end == -1:
            end = len(data)
        if pos < tab:  # the probe hit the KEYS field, not a display name
            line_keys, hit = _hit(data[start:end], home)
            if (status is None or hit.status == status) and all(n in line_keys for n in needles):
                if limit is not None and len(out) >= limit:
                    return
                out.append(hit)
        pos = data.find(probe, end)


def search(
    files: Iterable[tuple[str, Path]],
    text: str,
    status: str | None = None,
    limit: int | None = 500,
) -> list[AccountHit]:
    keys = search_keys(text)
    out: list[AccountHit] = []
    for home, path in files:
        if limit is not None and len(out) >= limit:
            break
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            continue
        search_file(data, home, keys, status, limit, out)
    out.sort(key=lambda h: (_norm(h.surname), _norm(h.forename), h.username))
    return out
