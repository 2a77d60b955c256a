"""Dates as people type them: DD/MM/YYYY (the UK's order) beside YYYY-MM-DD."""

from __future__ import annotations

import re

UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def from_uk(text: str) -> str | None:
    """`28/02/2016` -> `2016-02-28` (not checked to exist); None when `text` is not DD/MM/YYYY."""
    match = UK_DATE.match(text)
    if match is None:
        return None
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"
