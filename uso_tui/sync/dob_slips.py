"""The slips a keyed-in date of birth has (DESIGN section 3, "Matching"): day and month
swapped, one digit changed, two digits exchanged, a day, month or year out. The date blocks look
them up, and the model weighs each as a level of agreement."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


@lru_cache(maxsize=50_000)
def swap_day_month(dob: str) -> str | None:
    """`2012-05-03` -> `2012-03-05` when that is a date and differs (None for a date not
    written so: records and accounts hold ISO dates, but a caller need not)."""
    year, month, day = dob[:4], dob[5:7], dob[8:10]
    if day == month or not day.isdigit() or int(day) > 12 or len(dob) != 10:
        return None
    return f"{year}-{day}-{month}"


@lru_cache(maxsize=50_000)
def one_digit_variants(dob: str) -> tuple[str, ...]:
    """Every string with one digit of the date changed (valid or not: only used as lookups)."""
    out = []
    for position, char in enumerate(dob):
        if char == "-":
            continue
        for digit in "0123456789":
            if digit != char:
                out.append(dob[:position] + digit + dob[position + 1 :])
    return tuple(out)


# Positions (in `YYYY-MM-DD`) of the digits that are neighbours as a date is keyed: within each
# field, and across fields as keyed year first (20150412: the year's last digit and the month's
# first, the month's last and the day's first) or day first (12042015: the day's last and the
# month's first, the month's last and the year's first).
_NEIGHBOURS = ((0, 1), (1, 2), (2, 3), (5, 6), (8, 9), (3, 5), (6, 8), (9, 5), (6, 0))


@lru_cache(maxsize=50_000)
def transposed_variants(dob: str) -> tuple[str, ...]:
    """Every string with two neighbouring digits of the date exchanged as keyed either way
    (`2015-04-21` for `2015-04-12`; `1933-02-12` for `1933-01-22`, keyed 19330122;
    `2010-11-20` for `2010-01-21`, keyed 21012010), valid or not: only used as lookups and
    comparisons."""
    if len(dob) != 10 or dob[4] != "-" or dob[7] != "-":
        return ()
    out = []
    for first, second in _NEIGHBOURS:
        one, other = dob[first], dob[second]
        if one != other:
            chars = list(dob)
            chars[first], chars[second] = other, one
            out.append("".join(chars))
    return tuple(out)


def _date(iso: str) -> date | None:
    try:
        return date.fromisoformat(iso)
    except ValueError:
        return None


def _shift(start: date, years: int = 0, months: int = 0, days: int = 0) -> str | None:
    if days:
        try:
            return (start + timedelta(days=days)).isoformat()
        except OverflowError:  # a day either side of 0001-01-01 or 9999-12-31
            return None
    month0 = start.month - 1 + months  # counted from 0, may run past either end of the year
    try:
        return start.replace(
            year=start.year + years + month0 // 12, month=month0 % 12 + 1
        ).isoformat()
    except ValueError:  # 29 February, 31st of a shorter month
        return None


@lru_cache(maxsize=50_000)
def near_dates(dob: str) -> tuple[str, ...]:
    """A day, a month or a year either side: the slips a keyed-in date of birth often has."""
    born = _date(dob)
    if born is None:
        return ()
    out = [
        _shift(born, days=-1),
        _shift(born, days=1),
        _shift(born, months=-1),
        _shift(born, months=1),
        _shift(born, years=-1),
        _shift(born, years=1),
    ]
    return tuple(x for x in out if x)


@lru_cache(maxsize=50_000)
def date_slips(dob: str) -> frozenset[str]:
    """The dates a keyed-in date of birth may have been meant as (the date blocks' slips: day and
    month swapped, a digit changed, two exchanged, a day, month or year out), not itself."""
    swapped = swap_day_month(dob)
    out = {*one_digit_variants(dob), *transposed_variants(dob), *near_dates(dob)}
    if swapped:
        out.add(swapped)
    out.discard(dob)
    return frozenset(out)


@lru_cache(maxsize=500_000)
def dob_score(dob: str | None, other: str | None) -> tuple[int, str]:
    """(score, how): equal 100, day/month swapped 85, one digit off, two digits transposed, or a
    day, month or year apart 80."""
    if not dob or not other:
        return 0, "unknown"
    if dob == other:
        return 100, "equal"
    if len(dob) != len(other):
        return 0, "different"
    if swap_day_month(dob) == other:
        return 85, "day and month swapped"
    if sum(map(str.__ne__, dob, other)) == 1:
        return 80, "one digit off"
    if other in transposed_variants(dob):  # the slips the date blocks look up
        return 80, "two digits transposed"
    if other in near_dates(dob):
        return 80, "a day, month or year apart"
    return 0, "different"
