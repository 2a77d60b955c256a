"""Any list the console shows, as CSV (DESIGN section 5, `export LIST [DFE] --csv`).

Columns are named as the `--json` keys of the same list and hold only what that list shows
(no UPN, email or other held MIS field). Untrusted text is written safely for spreadsheets: a
cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a
spreadsheet never reads it as a formula."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account
from uso_tui.store.api import CorruptFile, Store

LISTS = (
    "cases",
    "unallocated",
    "future",
    "rejected",
    "non-mis",
    "accounts",
    "calendar",
    "duplicates",
    "kept",
)
ACCOUNT_COLUMNS = (
    "username",
    "role",
    "forename",
    "surname",
    "preferred_name",
    "dob",
    "school",
    "status",
    "source",
    "mis_id",
    "last_event",
    "last_event_at",
)
RECORD_COLUMNS = ("school", "report", "mis_id", "forename", "surname", "dob")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A cell as text, neutralised when a spreadsheet would read it as a formula, with control
    and format characters written as escapes (\\x1b, \\u202e: a file read in a terminal)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = "; ".join(safe_cell(v) for v in value)
    else:
        text = str(value)
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(columns: tuple[str, ...] | list[str], rows: list[dict[str, Any]]) -> str:
    """Every cell quoted: a spreadsheet whose list separator is ";" (a German or French
    locale) splits an unquoted `Amy;=cmd|...` and reads its second half as a formula."""
    out = io.StringIO()
    out.write(",".join(columns) + "\r\n")  # (names of ours: plain)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _schools(store: Store, dfe: str | None) -> list[str]:
    return [dfe] if dfe else [s.dfe for s in store.list_schools()]


def _readable(
    store: Store, dfe: str | None, read: Callable[[str], list], unreadable: set[str] | None
) -> Iterator[tuple[str, list]]:
    """(school, read(school)) for each school of the list; with `unreadable`, a school whose
    data file is corrupt is added to it and left out (CorruptFile without it)."""
    for school in _schools(store, dfe):
        try:
            got = read(school)
        except CorruptFile:
            if unreadable is None:
                raise
            unreadable.add(school)
            continue
        yield school, got


def _accounts(
    store: Store,
    dfe: str | None,
    keep: Callable[[Account, str], bool],
    unreadable: set[str] | None = None,
) -> list[dict]:
    rows = []
    for school, accounts in _readable(store, dfe, store.school_accounts, unreadable):
        rows += [a.public() for a in accounts if keep(a, school)]
    return rows


def _cases(
    store: Store, dfe: str | None, unreadable: set[str] | None
) -> tuple[tuple[str, ...], list[dict]]:
    rows = []
    opened = _readable(store, dfe, lambda school: store.cases(school, "open"), unreadable)
    for school, cases in opened:
        for case in cases:
            pub = case.public()
            rows.append(
                {
                    "case_id": pub["case_id"],
                    "school": school,
                    "role": pub["role"],
                    **pub["record"],
                    "candidates": [f"{c['username']} ({c['score']})" for c in pub["candidates"]],
                }
            )
    cols = (
        "case_id",
        "school",
        "role",
        "mis_id",
        "forename",
        "surname",
        "preferred_name",
        "dob",
        "candidates",
    )
    return cols, rows


def _records(store: Store, dfe: str | None, outcome: str) -> list[dict]:
    return [d for d in store.why_records(dfe) if d.get("outcome") == outcome]


def list_rows(
    store: Store,
    name: str,
    dfe: str | None,
    *,
    today: date,
    unreadable: set[str] | None = None,
) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and rows of list `name` (one of LISTS) for a school, or every school. With
    `unreadable`, a school whose data file is corrupt is added to it and its rows left out
    (its starters of the calendar shown without a look at its exclusion list: left_out_of)."""
    if name == "cases":
        return _cases(store, dfe, unreadable)
    if name == "unallocated":
        from uso_tui.sync.actions import restorable  # noqa: PLC0415 - the runner with it

        rows = []
        for school, accounts in _readable(store, dfe, store.school_accounts, unreadable):
            for a in accounts:
                # as `unallocated` lists them: not one whose creation was undone (no one's)
                if restorable(a) and a.previous_school == school:
                    # where it was and since when (its `school` is empty while unallocated)
                    when = {"unallocated_at": a.unallocated_at, "run": a.unallocated_by_run}
                    rows.append({**a.public(), "previous_school": school, **when})
        return (*ACCOUNT_COLUMNS, "previous_school", "unallocated_at", "run"), rows
    if name == "non-mis":
        rows = _accounts(
            store,
            dfe,
            lambda a, s: a.status == "active" and a.school == s and a.mis_id is None,
            unreadable,
        )
        for row in rows:
            row.pop("mis_id", None)
        return tuple(c for c in ACCOUNT_COLUMNS if c != "mis_id"), rows
    if name == "accounts":
        return ACCOUNT_COLUMNS, _accounts(store, dfe, lambda a, s: True, unreadable)
    if name == "future":
        from uso_tui.sync.why import account_day  # noqa: PLC0415

        before = {s.dfe: s.create_before_start_days for s in store.list_schools()}
        rows = _records(store, dfe, "future")
        for row in rows:
            start = row.get("enrolment_date")
            row["account_on"] = account_day(start, before.get(row["school"], 0)) if start else None
        return (*RECORD_COLUMNS, "enrolment_date", "account_on"), rows
    if name == "rejected":
        return (*RECORD_COLUMNS, "reason"), _records(store, dfe, "invalid")
    if name == "calendar":
        from uso_tui.sync.calendar import calendar  # noqa: PLC0415

        upcoming = calendar(store, dfe, today=today, days=365, unreadable=unreadable)
        rows = [u.public() for u in upcoming]
        cols = (
            "date",
            "kind",
            "school",
            "role",
            "mis_id",
            "forename",
            "surname",
            "username",
            "starts_on",
        )
        return cols, rows
    if name == "duplicates":
        from uso_tui.sync.duplicates import possible_duplicates  # noqa: PLC0415

        rows = [
            {**p.public(), "first": _who(p.first), "second": _who(p.second)}
            for p in possible_duplicates(store, dfe)
        ]
        return ("accounts", "first", "second", "evidence"), rows
    if name == "kept":
        from uso_tui.sync.kept_apart import kept_apart  # noqa: PLC0415

        pairs = kept_apart(store, dfe)
        rows = [{"accounts": list(p.usernames), "kept_by": p.by, "kept_at": p.at} for p in pairs]
        return ("accounts", "kept_by", "kept_at"), rows
    raise InvalidInput(f"unknown list {name!r} (one of: {', '.join(LISTS)})")


def _who(account: Any) -> str:
    """`Ann Smith, 2015-01-02, 204-2308`: a pair's account as the review shows it."""
    where = getattr(account, "school", None) or getattr(account, "previous_school", None) or "-"
    name = f"{account.forename} {account.surname}".strip()
    return f"{name}, {account.dob or 'no date of birth'}, {where}"


def left_out_of(name: str) -> str:
    """What a list across schools (list_rows) does not show of a school whose data file is
    corrupt."""
    if name == "calendar":
        from uso_tui.sync.calendar import UNREAD  # noqa: PLC0415

        return UNREAD
    return f"it is left out of the {name} list"


def export_csv(
    store: Store, name: str, dfe: str | None, *, today: date, unreadable: set[str] | None = None
) -> str:
    cols, rows = list_rows(store, name, dfe, today=today, unreadable=unreadable)
    return to_csv(cols, rows)


def export_json(
    store: Store, name: str, dfe: str | None, *, today: date, unreadable: set[str] | None = None
) -> list[dict]:
    """The same rows as the CSV, each with the same columns, as JSON values."""
    cols, rows = list_rows(store, name, dfe, today=today, unreadable=unreadable)
    return [{c: row.get(c) for c in cols} for row in rows]


def export_file(
    store: Store,
    name: str,
    dfe: str | None,
    *,
    today: date,
    stamp: str,
    folder: Path,
    unreadable: set[str] | None = None,
) -> tuple[Path, int]:
    """Writes the list to `folder` (made if need be, readable by its owner only) and returns
    the file and its row count."""
    cols, rows = list_rows(store, name, dfe, today=today, unreadable=unreadable)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{name}-{dfe or 'all'}-{stamp}.csv"
    data = to_csv(cols, rows).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path, len(rows)
