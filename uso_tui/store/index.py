"""names.idx: one compact text line per account of a school, so a search across 1.5 million
accounts reads plain text with C-speed substring search and parses no JSON.

Line: `KEYS\\tFLAGS\\tforename\\tsurname\\tpreferred\\n`. KEYS is ` username dob tok tok ...`
then `\\x1fmiddle\\x1fgender\\x1dupn\\x1fyear`: the username, the date of birth (`~` when
none), the normalised forename, preferred name and surname, each part of multi-part names,
then the fields matching weighs (the UPN stripped and upper-cased, after a separator of its
own so that a scan for UPNs tries one place a line). A word prefix-matches a
token exactly when `" " + word` occurs in KEYS; the matching fields hold no space (spaces are
written as \\x1e), so no search word can hit them, and an older uso-tui reads the line as
before. Lines written before those fields existed end KEYS at the last token. FLAGS is three
letters: role (p/s), status (a/u), and whether the account is at this school (1) or
unallocated from it (0).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from uso_tui.domain.dates import from_typed
from uso_tui.domain.names import normalise, normalise_cached, upn_key, words_joined
from uso_tui.store.api import AccountHit
from uso_tui.store.storage import damaged, read_bytes

# the parts of a name searched alone: words, and the parts of O'Sullivan or D’Angelo too (an
# operator types "sullivan"; the whole name, "osullivan", is a token as well)
NAME_PARTS = re.compile(r"[\s\-'\u2018\u2019\u02bc`]+")
_CTRL = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
# The matching fields hold no space, tab, line break or field separator (see the docstring).
_FIELD = str.maketrans(dict.fromkeys(" \t\n\r\x1d\x1f", "\x1e"))


def _name_tokens(account: dict[str, Any]) -> list[str]:
    # The whole names first: find_people looks for a forename key among the first tokens.
    values = [account.get(field) or "" for field in ("forename", "preferred_name", "surname")]
    out = [whole for whole in map(normalise_cached, values) if whole]
    for value in values:
        parts = NAME_PARTS.split(value)
        if len(parts) > 1:
            out.extend(p for p in map(normalise_cached, parts) if p)
    seen: set[str] = set()
    return [t for t in out if not (t in seen or seen.add(t))]


ROLE_FLAG = {"pupil": "p", "staff": "s"}
ROLE_OF_FLAG = {v: k for k, v in ROLE_FLAG.items()}
STATUS_FLAG = {"active": "a", "unallocated": "u"}
STATUS_OF_FLAG = {v: k for k, v in STATUS_FLAG.items()}


def field_text(value: Any) -> str:
    """A matching field as its index line holds it."""
    return "" if value is None else str(value).translate(_FIELD)


def _matching_fields(account: dict[str, Any]) -> str:
    extra = account.get("extra") or {}
    fields = (
        f"\x1f{field_text(account.get('middle_names'))}\x1f{field_text(extra.get('gender'))}"
        f"\x1d{field_text(upn_key(extra.get('upn')))}\x1f{field_text(extra.get('year_group'))}"
    )
    if account.get("status", "active") != "active":
        # the day its year group was last true (the matcher moves it up each 1 September);
        # empty when not known, so that every unallocated line has the field (_UNDATED)
        fields += f"\x1f{field_text((account.get('unallocated_at') or '')[:10])}"
    return fields


def index_line(account: dict[str, Any]) -> str:
    """The index line of one account (as its stored dict; usernames hold no white space)."""
    names = (
        account.get("forename") or "",
        account.get("surname") or "",
        account.get("preferred_name") or "",
    )
    body = "\t".join(names)
    if "\n" in body or "\r" in body or body.count("\t") != 2:
        body = "\t".join(f.translate(_CTRL) for f in names)  # untrusted names: keep one line
    status = account.get("status", "active")
    flags = (
        ROLE_FLAG[account["role"]] + STATUS_FLAG[status] + ("1" if account.get("school") else "0")
    )
    keys = " ".join(
        [account["username"].lower(), account.get("dob") or "~", *_name_tokens(account)]
    )
    return " " + keys + _matching_fields(account) + "\t" + flags + "\t" + body + "\n"


def index_fields(account: dict[str, Any]) -> tuple:
    """What the index line depends on: a put that leaves these unchanged needs no new index."""
    extra = account.get("extra") or {}
    return (
        account["username"],
        account["role"],
        account.get("status", "active"),
        account.get("school"),
        account.get("dob"),
        account.get("forename"),
        account.get("surname"),
        account.get("preferred_name"),
        account.get("middle_names"),
        extra.get("gender"),
        extra.get("upn"),
        extra.get("year_group"),
        account.get("unallocated_at"),
    )


CUT_AT_MOST = 32  # changed lines cut out one by one; more, and the old index is split once


def build_index(
    accounts: dict[str, dict[str, Any]],
    changed: set[str] | None = None,
    old: bytes | None = None,
) -> bytes:
    """The index of a school's accounts (by username). With the previous index and the
    usernames whose line changed (or that left), only those lines are made again: the old ones
    are cut out and the new ones added at the end. Lines are in no particular order (searches
    sort what they find). An index with lines of the older format (without the matching
    fields) is made again whole."""
    if changed is None or old is None or outdated(old) or _UNDATED.search(old):
        return b"".join(index_line(accounts[u]).encode() for u in sorted(accounts))
    fresh = b"".join(index_line(accounts[u]).encode() for u in sorted(changed) if u in accounts)
    return _without(old, changed) + fresh


# An unallocated account's line written before lines held the day of unallocation (its year
# group the last matching field, then the flags: role, `u`): its index is made again whole at
# its school's next commit, else the accounts unallocated before would never have the day.
_UNDATED = re.compile(rb"\x1d[^\x1f\t\n]*+\x1f[^\x1f\t\n]*+\t.u")


def outdated(data: bytes) -> bool:
    """Whether the index has lines without the matching fields. Whole indexes are written in one
    format, and an incremental one appends its new lines: the first and last lines tell."""
    if not data:
        return False
    last = data.rfind(b"\n", 0, len(data) - 1) + 1
    return (
        b"\x1f" not in data[: data.find(b"\t")]
        or b"\x1f" not in data[last : data.find(b"\t", last)]
    )


def _without(data: bytes, usernames: set[str]) -> bytes:
    """The index lines of everyone but these usernames."""
    if len(usernames) > CUT_AT_MOST:  # each cut scans the file: past a few, take it apart once
        drop = {u.lower().encode() for u in usernames}
        lines = [ln + b"\n" for ln in data.split(b"\n") if ln]
        return b"".join(ln for ln in lines if ln[1 : ln.find(b" ", 1)] not in drop)
    for username in usernames:
        key = b" " + username.lower().encode() + b" "
        if data.startswith(key):
            start = 0
        else:
            at = data.find(b"\n" + key)
            if at < 0:
                continue
            start = at + 1
        end = data.find(b"\n", start)
        data = data[:start] + (data[end + 1 :] if end >= 0 else b"")
    return data


def search_keys(text: str) -> list[str]:
    """The words of a search, as index tokens: names normalised, DD/MM/YYYY as YYYY-MM-DD."""
    keys: list[str] = []
    for word in text.split():
        iso = from_typed(word)
        if iso is not None:
            keys.append(iso)
        elif all(c.isdigit() or c == "-" for c in word):
            keys.append(word)
        elif any(c.isdigit() or c == "." for c in word):
            keys.append(word.lower())  # a username, e.g. jsmith3.204
        else:
            key = normalise(word)
            if key:
                keys.append(key)
    return keys


def _hit(line: bytes, home: str, path: str | Path | None = None) -> AccountHit:
    """The account of one index line of the file at `path` (CorruptFile, naming it, for a line
    that is not one: "unexpected IndexError" was all a search said)."""
    try:
        hits = read_hits(line, home)
    except (UnicodeDecodeError, KeyError):  # (not text; a role or status flag not of ours)
        hits = []
    if not hits:
        raise damaged(Path(path) if path else None, "a line of the name index does not read")
    return hits[0]


# An index line's fields: username and date of birth (the first two keys), the matching fields
# (absent from older lines; an unallocated account's day of unallocation after them, absent from
# older lines too; fields added after them are skipped), the three flags, the three names
# (index_line keeps tabs and line breaks out of them).
# Possessive: no field gives back what it took (a little faster).
_F = r"([^\t\n\x1d\x1f]*+)"
INDEX_LINE = re.compile(
    rf"^ (\S++) (\S++)[^\t\n\x1f]*+(?:\x1f{_F}\x1f{_F}\x1d{_F}\x1f{_F}(?:\x1f{_F})?[^\t\n]*+)?"
    r"\t(.)(.)(.)\t([^\t\n]*+)\t([^\t\n]*+)\t([^\t\n]*+)$",
    re.M,
)


def read_hits(data: bytes, home: str, role: str | None = None) -> list[AccountHit]:
    """Every account of an index file (of one role when given): the lines taken apart by one
    regular expression over the file (a local authority's candidate pool reads every line of
    its schools' files)."""
    new, hit, roles, statuses = tuple.__new__, AccountHit, ROLE_OF_FLAG, STATUS_OF_FLAG
    flag = ROLE_FLAG[role] if role else None
    text = data.decode()
    if "\x1e" in text:  # spaces in the matching fields (and control characters in names)
        text = text.replace("\x1e", " ")
    return [
        new(
            hit,
            (
                u,
                roles[r],
                fore,
                sur,
                pref,
                None if dob == "~" else dob,
                home if here == "1" else None,
                home,
                statuses[st],
                middle,
                gender or None,
                upn or None,
                year or None,
                gone or None,
            ),
        )
        for u, dob, middle, gender, upn, year, gone, r, st, here, fore, sur, pref in (
            INDEX_LINE.findall(text)
        )
        if flag is None or r == flag
    ]


def search_file(
    data: bytes,
    home: str,
    probe: bytes | None,
    needles: list[bytes],
    status: str | None,
    limit: int | None,
    out: list[AccountHit],
    path: str | Path | None = None,
) -> None:
    """Append the file's matching hits to `out` (stopping at `limit` hits in all). `probe` is
    the needle searched for; every needle must then be in the line's KEYS. `path`: the file's,
    named if a line does not read."""
    flag = STATUS_FLAG[status].encode() if status else None
    if probe is None:
        for line in data.splitlines():
            if limit is not None and len(out) >= limit:
                return
            if flag is None or line[line.find(b"\t") + 2 : line.find(b"\t") + 3] == flag:
                out.append(_hit(line, home, path))
        return
    pos = data.find(probe)
    while pos != -1:
        start = data.rfind(b"\n", 0, pos) + 1
        tab = data.find(b"\t", start)
        end = data.find(b"\n", pos)
        if end == -1:
            end = len(data)
        if pos < tab:  # the probe hit the KEYS field, not a display name
            keys = data[start:tab]
            if all(n in keys for n in needles) and (
                flag is None or data[tab + 2 : tab + 3] == flag
            ):
                if limit is not None and len(out) >= limit:
                    return
                out.append(_hit(data[start:end], home, path))
        pos = data.find(probe, end)


SAMPLE_FILES = 40


def search(
    files: Iterable[tuple[str, str | Path]],
    text: str,
    status: str | None = None,
    limit: int | None = 500,
    remade: Callable[[str], bytes] | None = None,
) -> list[AccountHit]:
    """The accounts every word of `text` finds (search_keys) in the index `files`; when none,
    those found with two neighbouring words as one ("mc donald" for McDonald). `remade`: a
    school's index made again from its accounts, for one whose last line is cut short (damaged
    from outside: its accounts past the cut were left out of the hits, nothing said)."""
    files = list(files)  # looked through again for a joining
    out = _search(files, text, status, limit, remade)
    for joined in words_joined(text) if not out else ():
        out = _search(files, joined, status, limit, remade)
        if out:
            break
    return out


def _search(
    files: list[tuple[str, str | Path]],
    text: str,
    status: str | None,
    limit: int | None,
    remade: Callable[[str], bytes] | None = None,
) -> list[AccountHit]:
    needles = [(" " + k).encode() for k in search_keys(text)]
    out: list[AccountHit] = []
    if text.split() and not needles:
        return out  # words with nothing searchable in them (e.g. "-") match no one
    pending: list[tuple[str, bytes, str | Path]] = []
    probe: bytes | None = None
    chosen = not needles

    def flush() -> None:
        for home, data, path in pending:
            if limit is not None and len(out) >= limit:
                break
            search_file(data, home, probe, needles, status, limit, out, path)
        pending.clear()

    for home, path in files:
        if limit is not None and len(out) >= limit:
            break
        data = read_bytes(path)
        if data is None:
            continue
        if data and not data.endswith(b"\n") and remade is not None:
            data = remade(home)
        pending.append((home, data, path))
        if not chosen and len(pending) >= SAMPLE_FILES:
            # The rarest word in a sample of files is the cheapest to look for everywhere.
            probe = min(needles, key=lambda n: sum(d.count(n) for _, d, _ in pending))
            chosen = True
        if chosen:
            flush()
    if not chosen:
        probe = min(needles, key=lambda n: sum(d.count(n) for _, d, _ in pending))
    flush()
    out.sort(key=lambda h: (normalise_cached(h.surname), normalise_cached(h.forename), h.username))
    return out
