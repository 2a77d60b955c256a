"""Dates as people type them: DD/MM/YYYY (the UK's order, also with dashes or dots) beside
YYYY-MM-DD."""

from __future__ import annotations

import re
from datetime import date

UK_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def days_between(one: str | None, other: str | None) -> int | None:
    """The days between two ISO dates; None when either is not one."""
    try:
        return abs((date.fromisoformat(one or "") - date.fromisoformat(other or "")).days)
    except ValueError:
        return None


def from_uk(text: str) -> str | None:
    """`28/02/2016` (or 28-02-2016, 28.02.2016) -> `2016-02-28` (not checked to exist); None
    when `text` is not DD/MM/YYYY."""
    match = UK_DATE.match(text)
    if match is None:
        return None
    day, _, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


_YMD = re.compile(r"^(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})$")
_YMD_SHORT = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$")


def from_ymd(text: str) -> str | None:
    """`2013-1-4` (or 2013/1/4, 2013.01.4: a month or day typed without its 0) -> `2013-01-04`
    (not checked to exist); None when `text` is not so written."""
    match = _YMD_SHORT.match(text)
    if match is None:
        return None
    year, _, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def from_typed(text: str) -> str | None:
    """A date as an operator may type it, DD/MM/YYYY (from_uk) or year first with a month or
    day short of its 0 (from_ymd), as YYYY-MM-DD (not checked to exist); None otherwise."""
    return from_uk(text) or from_ymd(text)


def date_read(text: str) -> str | None:
    """The YYYY-MM-DD a date typed or exported reads as, not checked to exist (DD/MM/YYYY and
    YYYY-MM-DD with dashes, slashes, dots or none, also with a time after it, as the MIS sends
    them); None when it is not written as a date."""
    day = re.split(r"[T ]", text.strip(), maxsplit=1)[0]
    if (typed := from_typed(day)) is not None:
        return typed
    match = _YMD.match(day)
    return "-".join(match.groups()) if match else None


def impossible_dates(text: str) -> list[str]:
    """The words of `text` written as a date (DD/MM/YYYY or YYYY-MM-DD, or Y-M-D) that are no
    day of the calendar (`31/02/2015`): a search for them finds nothing, and should say why."""
    out = []
    for word in text.split():
        iso = from_typed(word) or (word if ISO_DATE.match(word) else None)
        if iso is None:
            continue
        try:
            date.fromisoformat(iso)
        except ValueError:
            out.append(word)
    return out


def no_such_dates(text: str) -> str:
    """Why a search for `text` may find nothing: its impossible dates, said ("" when none)."""
    bad = impossible_dates(text)
    return f"{', '.join(bad)} is no date of the calendar" if bad else ""
