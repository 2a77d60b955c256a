"""Finding the accounts a MIS record may belong to (DESIGN section 3, "Matching").

Candidates come from an index over the local authority's accounts of one role, built once per
plan and only when a record needs it, plus the accounts anywhere in the store with the record's
UPN or its names and date of birth (movers from another local authority, found by the store).
Blocking keys keep the comparisons few: the UPN; the date of birth (as sent, with day and month
swapped, and with any one digit changed or a day, month or year out, the last with the
surname's first letters); a phonetic surname key with the initial of the forename, preferred
name or a middle name (dates mistyped in other ways); names in the wrong order. Every pair is
never compared.

Each pair found is weighed field by field with the model of `match_model` (Fellegi-Sunter):
each candidate carries its score (the probability that it is the person, as a percentage) and
the evidence of every field, so an operator sees why it ranks where it does.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

from uso_tui.domain.models import Account, Candidate, MisRecord
from uso_tui.domain.names import normalise, upn_key
from uso_tui.sync import match_model as model
from uso_tui.sync import name_forms
from uso_tui.sync.match_model import (
    DOB_CROWD,
    MAX_CANDIDATES,
    MIN_SCORE,
    NAME_BLOCK_MAX,
    UPN_CROWD,
)

__all__ = ["MAX_CANDIDATES", "MIN_SCORE", "CandidateIndex", "Person", "account_field", "compare"]
_SPLIT = re.compile(r"[-\s]+")
_nicknamer = None


@lru_cache(maxsize=500_000)
def key(name: str | None) -> str:
    """Comparison key: normalised, then transliterated to ASCII letters (`Nguyễn`, `Дмитрий`)."""
    normalised = normalise(name)
    if not normalised or normalised.isascii():
        return normalised
    ascii_ = "".join(c for c in anyascii(normalised).lower() if "a" <= c <= "z")
    return ascii_ or normalised


@lru_cache(maxsize=200_000)
def parts(name: str | None) -> tuple[str, ...]:
    """Keys of the parts of a hyphenated or double-barrelled name (`O'Brien-Smith` -> obrien, smith)."""
    if not name:
        return ()
    out = tuple(k for k in (key(p) for p in _SPLIT.split(name)) if k)
    return out


@lru_cache(maxsize=200_000)
def phonetic(name_key: str) -> str:
    return jellyfish.metaphone(name_key) if name_key else ""


def load_nicknames() -> Any:
    """The `nicknames` package's table, loaded at first need (60 ms: only when a case needs it,
    or before run_due forks its workers)."""
    global _nicknamer
    if _nicknamer is None:
        from nicknames import NickNamer  # noqa: PLC0415

        _nicknamer = NickNamer()
    return _nicknamer


@lru_cache(maxsize=50_000)
def nick_group(forename_key: str) -> frozenset[str]:
    """The forename key with its nicknames and the names it is short for (the `nicknames` package)."""
    if not forename_key:
        return frozenset()
    nicknamer = load_nicknames()
    return frozenset(
        {forename_key}
        | nicknamer.nicknames_of(forename_key)
        | nicknamer.canonicals_of(forename_key)
    )


def forename_keys(forename: str | None, preferred: str | None) -> tuple[str, ...]:
    """Keys a person answers to: forename, its first part (`Mary Jane`), preferred name."""
    out: list[str] = []
    for name_key in (key(forename), *parts(forename)[:1], key(preferred)):
        if name_key and name_key not in out:
            out.append(name_key)
    return tuple(out)


@lru_cache(maxsize=50_000)
def swap_day_month(dob: str) -> str | None:
    """`2012-05-03` -> `2012-03-05` when that is a date and differs."""
    year, month, day = dob[:4], dob[5:7], dob[8:10]
    if day == month or int(day) > 12:
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
        return (start + timedelta(days=days)).isoformat()
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


# Forms of a name the nicknames package does not know (Welsh, and short forms from other
# languages): the same person in either.
_FORMS: dict[str, frozenset[str]] = {}
for _one, _other in name_forms.PAIRS:
    _FORMS[key(_one)] = _FORMS.get(key(_one), frozenset()) | {key(_other)}
    _FORMS[key(_other)] = _FORMS.get(key(_other), frozenset()) | {key(_one)}
# Yoruba names in "Oluwa-" (God) are often used without it: Oluwaseun is known as Seun.
_OLUWA = "oluwa"
_SIKH = frozenset({"singh", "kaur"})
# Year groups as schools write them: `Year 7`, `Y7`, `NC Year 7`, `7`; Reception as `R`, `Rec`,
# `FS2` (foundation stage 2); nursery as `N`, `N1`, `FS1`, `-1`; the sixth form as `12`, `L6`,
# `Lower Sixth`, `U6`.
_YEAR_PREFIX = re.compile(r"^(?:nc\s*)?(?:(?:year|yr|y)[\s.:]*(?=\S))?")
_SIXTH = r"(?:sixth|6(?:th)?)(?:\s+form)?"
_YEAR_FORMS = (
    (
        re.compile(r"^(?:r|rec|reception(?:\s+class)?|(?:f|fs|eyfs|foundation(?: stage)?)\s*2)$"),
        0,
    ),
    (
        re.compile(
            r"^(?:n\s*\d?|nur|nursery(?:\s*\d)?|pre-?school|"
            r"(?:f|fs|eyfs|foundation(?: stage)?)\s*1|-\s*1)$"
        ),
        -1,
    ),
    (re.compile(rf"^(?:l\s*6(?:th)?|6\s*l|lower\s+{_SIXTH})$"), 12),
    (re.compile(rf"^(?:u\s*6(?:th)?|6\s*u|upper\s+{_SIXTH})$"), 13),
)
_YEAR = re.compile(r"^-?\s*(\d{1,2})(?!\d)")  # "Year-8": the hyphen a separator


@lru_cache(maxsize=1024)
def _year_of(value: str | None) -> int | None:
    """The year group as a number (Reception 0, nursery -1, lower sixth 12); None for anything
    else (the year is then no evidence)."""
    if not value:
        return None
    text = _YEAR_PREFIX.sub("", " ".join(value.lower().split()))
    for form, year in _YEAR_FORMS:
        if form.match(text):
            return year
    match = _YEAR.match(text)
    return int(match.group(1)) if match else None


def _cohort(dob: str | None) -> int | None:
    """The school year a child born on `dob` is in (the year starts on 1 September)."""
    if not dob or len(dob) < 7 or not dob[:4].isdigit() or not dob[5:7].isdigit():
        return None
    year, month = int(dob[:4]), int(dob[5:7])
    return year if month >= 9 else year - 1


def account_field(account: object, name: str) -> str | None:
    """A field of an Account (held in `extra`) or of the store's AccountHit (its own)."""
    if isinstance(account, Account):
        return account.extra.get(name) if account.extra else None
    return getattr(account, name, None)


class Person:
    """The comparable form of a record or an account: its keys, computed once."""

    __slots__ = (
        "fkey",
        "fparts",
        "pkey",
        "mkeys",
        "skey",
        "sparts",
        "dob",
        "upn",
        "gender",
        "year",
        "names",
        "nameset",
        "aliases",
        "sikh",
    )

    def __init__(
        self,
        fkey: str,
        fparts: tuple[str, ...],
        pkey: str,
        mkeys: tuple[str, ...],
        skey: str,
        sparts: tuple[str, ...],
        dob: str | None,
        upn: str,
        gender: str,
        year: int | None,
    ) -> None:
        self.fkey, self.fparts, self.pkey, self.mkeys = fkey, fparts, pkey, mkeys
        self.skey, self.sparts, self.dob = skey, sparts, dob
        self.upn, self.gender, self.year = upn, gender, year
        self.names, self.nameset, self.aliases = _forenames(fkey, pkey, fparts)
        self.sikh = _is_sikh(skey, sparts)


def _whole_name(account: Account) -> str:
    """The key of an account's forename and surname together (_by_name, the "name" counts)."""
    return f"{key(account.forename)} {key(account.surname)}"


@lru_cache(maxsize=200_000)
def _forenames(
    fkey: str, pkey: str, fparts: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """Every key a person answers to as a forename, as a tuple and a set, and the known-as
    forms of them (once per name: most forenames are shared by many accounts)."""
    names = [fkey] if fkey else []
    if pkey and pkey != fkey:
        names.append(pkey)
    names.extend(part for part in fparts if part not in names)
    return tuple(names), frozenset(names), _aliases(tuple(names))


@lru_cache(maxsize=200_000)
def _is_sikh(skey: str, sparts: tuple[str, ...]) -> bool:
    return skey in _SIKH or not _SIKH.isdisjoint(sparts)


@lru_cache(maxsize=200_000)
def _aliases(names: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for name_key in names:
        out |= nick_group(name_key)
        out |= _FORMS.get(name_key, frozenset())
        if name_key.startswith(_OLUWA) and len(name_key) > len(_OLUWA) + 2:
            out.add(name_key[len(_OLUWA) :])
    return frozenset(out)


def known_as(name_key: str) -> frozenset[str]:
    """The keys of the forms a normalised forename is also known by (nicknames, the names it is
    short for, Welsh and other forms), itself left out."""
    return _aliases((name_key,)) - {name_key}


def _person(forename, surname, preferred, middle, dob, upn, gender, year) -> Person:
    return Person(
        key(forename),
        parts(forename),
        key(preferred),
        parts(middle),
        key(surname),
        parts(surname),
        # a placeholder date (1900-01-01 for one not known) is no date: no evidence either way
        dob if dob and not model.placeholder_dob(dob) else None,
        upn_key(upn),
        _gender(gender),
        _year_of(year),
    )


@lru_cache(maxsize=1024)
def _gender(value: str | None) -> str:
    return normalise(value)[:1] if value else ""


def person_of_record(rec: MisRecord) -> Person:
    return _person(
        rec.forename,
        rec.surname,
        rec.preferred_name,
        rec.middle_names,
        rec.dob,
        rec.upn,
        rec.gender,
        rec.year_group,
    )


def person_of_account(account: object) -> Person:
    if isinstance(account, Account):
        extra = account.extra or {}
        return _person(
            account.forename,
            account.surname,
            account.preferred_name,
            account.middle_names,
            account.dob,
            extra.get("upn"),
            extra.get("gender"),
            extra.get("year_group"),
        )
    return _person(
        getattr(account, "forename", ""),
        getattr(account, "surname", ""),
        getattr(account, "preferred_name", ""),
        getattr(account, "middle_names", ""),
        getattr(account, "dob", None),
        account_field(account, "upn"),
        account_field(account, "gender"),
        account_field(account, "year_group"),
    )


@lru_cache(maxsize=500_000)
def names_close(name: str, other: str) -> bool:
    """A slip: the same sound (Amy / Amie), one edit, Jaro-Winkler's kind of nearness, or
    letters a scanned form confuses (Arnina / Amina)."""
    if min(len(name), len(other)) < 3:
        return False
    return (
        (name.startswith(other) or other.startswith(name))
        or ((sound := phonetic(name)) != "" and sound == phonetic(other))  # (none: not Latin)
        or OSA.distance(name, other, score_cutoff=1) <= 1
        or JaroWinkler.normalized_similarity(name, other) >= 0.92
        or _as_scanned(name) == _as_scanned(other)
    )


def near_keys(name_key: str) -> tuple[str, ...]:
    """The keys a name is looked up by among names it may be a slip of (names_close): its
    initial and its sound (distinct keys: a letter in lower case, a sound in capitals)."""
    return (name_key[:1], phonetic(name_key))


# Letter groups a form read by a scanner (or keyed from a poor copy) takes for one another.
_SCANNED = (("rn", "m"), ("cl", "d"), ("vv", "w"))


def _as_scanned(name: str) -> str:
    for group, letter in _SCANNED:
        name = name.replace(group, letter)
    return name


def forename_level(record: Person, account: Person) -> str:
    if record.fkey and record.fkey == account.fkey:
        return "equal"
    rec_names, acc_names = record.nameset, account.nameset
    if not rec_names or not acc_names:
        return ""
    if rec_names & acc_names or rec_names & account.aliases or acc_names & record.aliases:
        return "known_as"
    if (record.fkey and (record.fkey in account.mkeys or record.fkey in account.fparts[1:])) or (
        account.fkey and (account.fkey in record.mkeys or account.fkey in record.fparts[1:])
    ):
        return "middle"
    for rec_name in record.names:
        for acc_name in account.names:
            if names_close(rec_name, acc_name):
                return "similar"
    return "different"


def surname_level(record: Person, account: Person) -> str:
    if not record.skey or not account.skey:
        return ""
    if record.skey == account.skey:
        return "equal"
    if (len(record.sparts) > 1 or len(account.sparts) > 1) and set(record.sparts) & set(
        account.sparts
    ):
        return "part"
    if record.sikh or account.sikh:
        return "sikh"
    if names_close(record.skey, account.skey):
        return "similar"
    return "different"


_DOB_LEVEL = {
    "equal": "equal",
    "day and month swapped": "swapped",
    "two digits transposed": "transposed",
    "one digit off": "one_digit",
    "a day, month or year apart": "near",
    "different": "different",
}


@lru_cache(maxsize=500_000)
def dob_level(rec_dob: str, acc_dob: str) -> str:
    return _DOB_LEVEL[dob_score(rec_dob, acc_dob)[1]]


def _year_level(record: Person, account: Person, dob_level: str) -> str:
    if record.year is not None and account.year is not None:
        gap = abs(record.year - account.year)
    elif (
        dob_level not in ("equal", "")
        and (rec_cohort := _cohort(record.dob))
        and (acc_cohort := _cohort(account.dob))
    ):
        gap = abs(rec_cohort - acc_cohort)
    else:
        return ""
    return "equal" if gap == 0 else "adjacent" if gap == 1 else "different"


def upn_level(upn: str, other: str) -> str:
    """Two normalised UPNs: equal, different, or "" (one missing, or either a temporary UPN,
    which ends in a letter and says nothing about the child)."""
    if not upn or not other:
        return ""
    if upn == other:
        return "equal"
    return "" if upn[-1].isalpha() or other[-1].isalpha() else "different"


Evidence = tuple[tuple[str, str, float], ...]


def _weights(staff: bool) -> dict[tuple[str, str], float]:
    return {
        (field, level): model.weight(field, level, staff=staff)
        for field, levels in model.LEVELS.items()
        for level in levels
    }


# The weight of every level, once (the exact-name levels are weighed per record, by frequency);
# for staff, their levels of match_model.STAFF_LEVELS weigh otherwise.
_W, _W_STAFF = _weights(staff=False), _weights(staff=True)
# The most a field can add whatever the other side holds (exact names aside: record_weights).
_BOTH = [*_W.items(), *_W_STAFF.items()]
_MOST = {
    field: max(0.0, *(weight for (name, _), weight in _BOTH if name == field))
    for field in model.LEVELS
}
_MOST_INEXACT = {
    field: max(weight for (name, level), weight in _BOTH if name == field and level != "equal")
    for field in ("forename", "surname")
}


def compare(
    record: Person,
    account: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float, float] | None = None,
) -> Evidence:
    """(field, level, bits) of every field both sides have. `exact`: the weights of the
    record's exact forename and surname and the common-name adjustment, when already known
    (record_weights)."""
    return _compare(record, account, tf, pupil, exact)[0]


def _compare(
    record: Person,
    account: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float, float] | None = None,
) -> tuple[Evidence, float]:
    """compare's evidence, with its total."""
    out: list[tuple[str, str, float]] = []
    weights = _W if pupil else _W_STAFF
    level = upn_level(record.upn, account.upn)
    if level:
        out.append(("upn", level, weights["upn", level]))
    if exact is None:
        exact = record_weights(record, tf)
    fl = forename_level(record, account)
    if fl:
        out.append(("forename", fl, exact[0] if fl == "equal" else weights["forename", fl]))
    # Two equal preferred names behind a known-as forename are one fact (both answer to that
    # name), weighed once as the forename's level: twins known by one name are not alike twice.
    if record.pkey and account.pkey and not (fl == "known_as" and record.pkey == account.pkey):
        level = "equal" if record.pkey == account.pkey else "different"
        out.append(("preferred", level, weights["preferred", level]))
    if record.mkeys and account.mkeys:
        if record.mkeys == account.mkeys:
            level = "equal"
        else:
            level = "overlap" if set(record.mkeys) & set(account.mkeys) else "different"
        out.append(("middle", level, weights["middle", level]))
    sl = surname_level(record, account)
    if sl:
        out.append(("surname", sl, exact[1] if sl == "equal" else weights["surname", sl]))
    if fl == "equal" and sl == "equal" and exact[2]:
        out.append(("name", "common", exact[2]))
    dl = ""
    if record.dob and account.dob:
        dl = dob_level(record.dob, account.dob)
        out.append(("dob", dl, exact[3] if dl == "equal" else weights["dob", dl]))
    if record.gender in ("m", "f") and account.gender in ("m", "f"):
        level = "equal" if record.gender == account.gender else "different"
        out.append(("gender", level, weights["gender", level]))
    if pupil:
        level = _year_level(record, account, dl)
        if level:
            out.append(("year", level, weights["year", level]))
    return tuple(out), sum([e[2] for e in out])


def record_weights(
    record: Person, tf: Callable[[str, str], float | None]
) -> tuple[float, float, float, float]:
    """The weights of agreeing exactly on the record's forename and surname (by how common each
    is), the adjustment when both agree: forenames and surnames are not independent
    (Muhammad Khan, Olivia Smith), so the two count for no more than the whole name's rarity;
    and the weight of agreeing on its date of birth (less for a placeholder date, DOB_CROWD)."""
    fore_tf, sur_tf = tf("forename", record.fkey), tf("surname", record.skey)
    wf = model.weight("forename", "equal", fore_tf)
    ws = model.weight("surname", "equal", sur_tf)
    adjust = 0.0
    whole = tf("name", f"{record.fkey} {record.skey}")
    if whole and fore_tf and sur_tf:
        both = max(fore_tf, model.TF_FLOOR) * max(sur_tf, model.TF_FLOOR)
        if whole > both:
            # the exact forename still counts for more than a known-as form would
            floor = _W["forename", "known_as"] - wf + 0.5
            adjust = max(math.log2(both / whole), min(floor, 0.0))
    crowd = tf("dob", record.dob) if record.dob else None
    wd = _W["dob", "equal"] if crowd is None else model.weight("dob", "equal", crowd)
    return wf, ws, adjust, wd


def _swapped(record: Person) -> Person:
    """The record with forename and surname exchanged (names keyed in the wrong order)."""
    return Person(
        record.skey,
        record.sparts,
        "",
        record.mkeys,
        record.fkey,
        record.fparts,
        record.dob,
        record.upn,
        record.gender,
        record.year,
    )


def reasons_of(evidence: Evidence) -> list[str]:
    """The evidence in words, strongest first."""
    ranked = sorted(evidence, key=lambda e: -abs(e[2]))
    return [f"{model.LEVEL_TEXT[(field, level)]} ({bits:+.1f})" for field, level, bits in ranked]


def differs(rec: MisRecord, acc: object, school: str) -> list[str]:
    """The fields of an account that differ from the record (for the console's columns)."""
    out = []
    if key(rec.forename) != key(getattr(acc, "forename", "")):
        out.append("forename")
    if key(rec.preferred_name) != key(getattr(acc, "preferred_name", "")):
        out.append("preferred_name")
    if key(rec.surname) != key(getattr(acc, "surname", "")):
        out.append("surname")
    if rec.dob != getattr(acc, "dob", None):
        out.append("dob")
    if getattr(acc, "school", None) != school:
        out.append("school")
    if getattr(acc, "status", "active") != "active":
        out.append("status")
    return out


@lru_cache(maxsize=200_000)
def _initials(
    forename: str | None, preferred: str | None, middle: str | None = None
) -> frozenset[str]:
    """Initials of the names a person may be known by: forename, preferred, middle names."""
    keys = [*forename_keys(forename, preferred), *parts(middle), *parts(forename)[1:]]
    return frozenset(k[0] for k in keys if k)


@lru_cache(maxsize=200_000)
def _sounds(surname: str | None) -> tuple[tuple[str, str], ...]:
    """(phonetic key, initial) of each part of a surname."""
    return tuple((phonetic(p), p[0]) for p in parts(surname))


@lru_cache(maxsize=200_000)
def _sound_keys(surname: str | None, forename: str | None, preferred: str | None) -> tuple:
    """(phonetic key of a surname part, initial of a forename or preferred name) pairs: an
    account's sound blocks (a record looks them up with its middle names' initials too)."""
    finit = _initials(forename, preferred)
    return tuple((ph, c) for ph, _ in _sounds(surname) for c in finit)


def _grouped(values: list) -> dict[Any, list[int]]:
    """The positions in `values` of each value, ascending."""
    out: dict[Any, list[int]] = {}
    for position, value in enumerate(values):
        got = out.get(value)
        if got is None:
            out[value] = [position]
        else:
            got.append(position)
    return out


def _years(dob: str | None) -> tuple[str, ...]:
    if not dob or not dob[:4].isdigit():
        return ("",)
    year = int(dob[:4])
    return (str(year - 1), dob[:4], str(year + 1), "")


@dataclass(slots=True)
class Scored:
    """One account weighed against a record."""

    account: object
    person: Person
    evidence: Evidence
    bits: float
    swapped: bool = False

    def tiebreak(self) -> tuple:
        """Ties are broken by agreement on preferred name, middle names and gender (DESIGN)."""
        levels = {field: level for field, level, _ in self.evidence}
        return (
            levels.get("preferred") != "equal",
            levels.get("middle") not in ("equal", "overlap"),
            levels.get("gender") != "equal",
        )


def _settled(
    rec_upn: str,
    rec_dob: str | None,
    same_dob: float,
    account: object,
    placeholders: set[str],
    weights: dict[tuple[str, str], float],
) -> float:
    """The weight of an account's UPN and date of birth against a record's (compare's, read
    from the account without making its Person; `same_dob`: the weight of the same date;
    `placeholders`: UPNs that are no evidence)."""
    upn = account_field(account, "upn")
    bits = 0.0
    if upn and rec_upn:
        upn = upn_key(upn)
        level = upn_level(rec_upn, upn) if upn not in placeholders else ""
        if level:
            bits += weights["upn", level]
    dob = getattr(account, "dob", None)
    if rec_dob and dob and not model.placeholder_dob(dob):  # (see _person)
        level = dob_level(rec_dob, dob)
        bits += same_dob if level == "equal" else weights["dob", level]
    return bits


def _may_be_swapped(record: Person, account: Person) -> bool:
    """Whether the record's forename and surname may have been keyed the wrong way round against
    the account's: one of them is the account's other name, or each begins as the other does
    (the names exchanged and mistyped: weigh compares them swapped)."""
    if record.skey in account.nameset or account.skey in record.nameset:
        return True
    return bool(
        record.fkey
        and record.skey
        and account.fkey
        and account.skey
        and record.fkey[0] == account.skey[0]
        and record.skey[0] == account.fkey[0]
    )


def _surname_bits(
    record: Person, account: Person, exact: tuple[float, float, float, float]
) -> float:
    """The surname's weight, or +inf where weigh could try the names the other way round (so
    that nothing is decided on the surname alone)."""
    if _may_be_swapped(record, account):
        return math.inf
    level = surname_level(record, account)
    if not level:
        return 0.0
    return exact[1] if level == "equal" else _W["surname", level]


class CandidateIndex:
    """Blocking index over one local authority's accounts of one role.

    Built in one pass over the accounts' dates of birth; the sound blocks of a year of birth
    are made when a record first looks in that year, the UPN index when a record first has a
    UPN, and the name frequencies (for the model's name weights) when first needed. An
    account's other keys are computed only when it is weighed."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts: list = list(accounts)
        self._people: dict[int, Person] = {}
        self._latest: dict[str, int] | None = None  # username -> newest position, once add()ed
        self._dob_initial: dict[str, dict[str, list[int]]] = {}  # filled per date when asked
        self._freq: dict[str, dict[str, int]] | None = None
        self._by_name: dict[str, list[int]] = {}  # "forename surname" keys -> positions
        by_dob: dict[str, list[int]] = {}
        by_year: dict[str, list[int]] = {"": []}
        for position, account in enumerate(self.accounts):
            dob = account.dob
            if dob:
                got = by_dob.get(dob)
                if got is None:
                    by_dob[dob] = [position]
                else:
                    got.append(position)
                got = by_year.get(dob[:4])
                if got is None:
                    by_year[dob[:4]] = [position]
                else:
                    got.append(position)
            else:
                by_year[""].append(position)
        self.by_dob = by_dob
        self._by_year = by_year
        # (sound of a surname part, initial of a name) -> positions, per year of birth ("": no
        # date), made for a year when a record first looks there: a day's records are born in
        # a few of the pool's years.
        self._sounds_in: dict[str, dict[tuple[str, str], list[int]]] = {}
        self._by_upn: dict[str, list[int]] | None = None  # built when a record has a UPN
        self.placeholder_upns: set[str] = set()  # UPN_CROWD: known once _by_upn is built

    def __len__(self) -> int:
        return len(self.accounts)

    def add(self, account: Account) -> None:
        """Adds (or, after a change, re-adds) an account; the old entry of its username is
        skipped from then on."""
        if self._latest is None:
            self._latest = {a.username: i for i, a in enumerate(self.accounts)}
        position = len(self.accounts)
        before = self._latest.get(account.username)
        self.accounts.append(account)
        self._latest[account.username] = position
        if self._freq is not None:  # counted again as it changes, not recounted for the pool
            if before is not None:
                self._count(self.accounts[before], -1)
            self._count(account, 1)
            self._by_name.setdefault(_whole_name(account), []).append(position)
        if account.dob:
            self.by_dob.setdefault(account.dob, []).append(position)
            self._dob_initial.pop(account.dob, None)
        year = account.dob[:4] if account.dob else ""
        self._by_year.setdefault(year, []).append(position)
        sounds = self._sounds_in.get(year)
        if sounds is not None:
            for block in _sound_keys(account.surname, account.forename, account.preferred_name):
                sounds.setdefault(block, []).append(position)
        upn = account_field(account, "upn")
        if upn and self._by_upn is not None:
            upn = upn_key(upn)
            holders = self._by_upn.setdefault(upn, [])
            holders.append(position)
            if len(holders) > UPN_CROWD:
                self._placeholders({upn})

    @property
    def by_upn(self) -> dict[str, list[int]]:
        if self._by_upn is None:
            upns = [
                # account_field, inlined: a call per account of the pool cost as much again
                (a.extra.get("upn") if a.extra else None)
                if isinstance(a, Account)
                else getattr(a, "upn", None)
                for a in self.accounts
            ]
            by_upn = _grouped([upn_key(upn) if upn else "" for upn in upns])
            by_upn.pop("", None)
            self._by_upn = by_upn
            self._placeholders({upn for upn, got in by_upn.items() if len(got) > UPN_CROWD})
        return self._by_upn

    def is_placeholder_upn(self, upn: str) -> bool:
        """Whether more accounts of the pool hold this (normalised) UPN than one child would
        (UPN_CROWD): a dummy number (or one assume_placeholders was told of)."""
        return len(self.by_upn.get(upn, ())) > UPN_CROWD or upn in self.placeholder_upns

    def assume_placeholders(self, upns: Iterable[str]) -> None:
        """Takes `upns` as dummy numbers, as a pool that holds them many times knows them (an
        index of a few accounts weighed for a local authority's record)."""
        self._placeholders(set(upns))

    def _placeholders(self, upns: set[str]) -> None:
        """Takes `upns` as placeholders: the Persons made so far no longer hold them."""
        if upns - self.placeholder_upns:
            self.placeholder_upns |= upns
            for person in self._people.values():
                if person.upn in upns:
                    person.upn = ""

    def person(self, position: int) -> Person:
        person = self._people.get(position)
        if person is None:
            person = self._people[position] = self._person_of(self.accounts[position])
        return person

    def _person_of(self, account: object) -> Person:
        """The account's Person, without a placeholder UPN (UPN_CROWD)."""
        person = person_of_account(account)
        if person.upn in self.placeholder_upns:
            person.upn = ""
        return person

    def frequency(self, field_: str, name: str) -> float | None:
        """How common a forename, a surname or a whole name ("name": forename and surname keys
        with a space) is among the pool's accounts (0..1); for "dob", a placeholder date's
        share (None for any other date)."""
        if not name:
            return None
        if field_ == "dob":  # only a placeholder date's (DOB_CROWD): real dates weigh alike
            count = len(self.by_dob.get(name, ()))
            return model.frequency("dob", count, len(self.accounts)) if count > DOB_CROWD else None
        count = self._counted()[field_].get(name, 0)
        if field_ == "name":
            # the other accounts with the whole name: one is usually the candidate itself, and a
            # name borne once is no evidence that forename and surname go together
            count = max(count - 1, 0)
            if not count:
                return 0.0
        return model.frequency(field_, count, len(self.accounts))

    def _counted(self) -> dict[str, dict[str, int]]:
        """The pool's name counts, made once (and the accounts by whole name, _by_name, in the
        same pass); add() keeps both in step."""
        if self._freq is None:
            accounts, latest = self.accounts, self._latest
            live: range | list[int] = range(len(accounts))
            if latest is not None:  # entries superseded by a later one of the same account
                live = [p for p in live if latest[accounts[p].username] == p]
            fkeys = list(map(key, [accounts[p].forename for p in live]))
            skeys = list(map(key, [accounts[p].surname for p in live]))
            wholes = list(map(" ".join, zip(fkeys, skeys, strict=True)))  # as _whole_name
            fore, sur, whole = Counter(fkeys), Counter(skeys), Counter(wholes)
            if latest is None:
                self._by_name = _grouped(wholes)
            else:
                self._by_name = {
                    name: [live[i] for i in at] for name, at in _grouped(wholes).items()
                }
            self._freq = {"forename": fore, "surname": sur, "name": whole}
        return self._freq

    def _count(self, account: Account, step: int) -> None:
        assert self._freq is not None
        fkey, skey = key(account.forename), key(account.surname)
        for field_, name in (("forename", fkey), ("surname", skey), ("name", f"{fkey} {skey}")):
            counts = self._freq[field_]
            counts[name] = counts.get(name, 0) + step

    def sounds_in(self, year: str) -> dict[tuple[str, str], list[int]]:
        """The sound blocks of the accounts born in `year` ("": without a date of birth)."""
        sounds = self._sounds_in.get(year)
        if sounds is None:
            sounds = self._sounds_in[year] = {}
            accounts = self.accounts
            positions = self._by_year.get(year, [])
            # by surname first: its sounds are reckoned once per surname, not once per account
            for surname, at in _grouped([accounts[p].surname for p in positions]).items():
                surname_sounds = [ph for ph, _ in _sounds(surname)]
                for i in at if surname_sounds else ():
                    position = positions[i]
                    account = accounts[position]
                    for initial in _initials(account.forename, account.preferred_name):
                        for ph in surname_sounds:
                            got = sounds.get((ph, initial))
                            if got is None:
                                sounds[(ph, initial)] = [position]
                            else:
                                got.append(position)
        return sounds

    def _by_initial(self, dob: str) -> dict[str, list[int]]:
        sub = self._dob_initial.get(dob)
        if sub is None:
            sub = self._dob_initial[dob] = {}
            for position in self.by_dob.get(dob, ()):
                for part in parts(self.accounts[position].surname):
                    sub.setdefault(part[:2], []).append(position)
        return sub

    def _block(self, rec: MisRecord) -> set[int]:
        found: set[int] = set()
        upn = upn_key(rec.upn)
        if upn and not self.is_placeholder_upn(upn):
            found.update(self.by_upn.get(upn, ()))
        dob = rec.dob
        by_dob = self.by_dob
        if dob:
            # Same date of birth, whatever the names (a surname changed, a middle name used);
            # not a placeholder date, which many hold (the name blocks still look there).
            for same in (dob, swap_day_month(dob)):
                got = by_dob.get(same, ()) if same else ()
                if len(got) <= DOB_CROWD:
                    found.update(got)
            # A mistyped date (a digit changed, two exchanged, a day, month or year out), with the
            # surname's first two letters to keep the block small.
            initials = {p[:2] for p in parts(rec.surname)}
            for variant in (
                *one_digit_variants(dob),
                *transposed_variants(dob),
                *near_dates(dob),
            ):
                if variant in by_dob:
                    sub = self._by_initial(variant)
                    for initial in initials:
                        found.update(sub.get(initial, ()))
        # The sound of the surname with the initial of a name, born within a year (or with no
        # date of birth on the account): dates mistyped in other ways.
        in_years = [self.sounds_in(year) for year in _years(dob)]
        finit = _initials(rec.forename, rec.preferred_name, rec.middle_names)
        for sound, _ in _sounds(rec.surname):
            for initial in finit:
                for sounds in in_years:
                    found.update(sounds.get((sound, initial), ()))
        # The same whole name, in either order, whatever the date of birth (a date keyed wholly
        # wrong); a name so common that many bear it is left to the other blocks.
        fk, sk = key(rec.forename), key(rec.surname)
        if fk and sk:
            self._counted()  # indexes the pool by whole name (_by_name) as it counts it
            for whole in (f"{fk} {sk}", f"{sk} {fk}"):
                got = self._by_name.get(whole, ())
                if len(got) <= NAME_BLOCK_MAX:
                    found.update(got)
        # Names in the wrong order: the record's forename as a surname.
        sinit = {p[0] for p in parts(rec.surname)}
        for sound, _ in _sounds(rec.forename):
            for initial in sinit:
                for sounds in in_years:
                    found.update(sounds.get((sound, initial), ()))
        return found

    def weigh_pair(self, one: object, other: object) -> tuple[int, Evidence] | None:
        """Two accounts of this pool as one person: the score `other` would have as a candidate
        for a record keyed as `one` is, and the evidence; None, unweighed, when their forenames
        or their surnames differ wholly. Names weigh by how common they are in the pool without
        `one` (a record is not in the pool it is matched against)."""
        first, second = self._person_of(one), self._person_of(other)
        if "different" in (forename_level(first, second), surname_level(first, second)):
            return None
        fk, sk = key(getattr(one, "forename", "")), key(getattr(one, "surname", ""))
        own = {"forename": fk, "surname": sk, "name": f"{fk} {sk}"}
        size = max(len(self.accounts) - 1, 1)

        def frequency(field_: str, name: str) -> float | None:
            if not name or own.get(field_) != name:
                return self.frequency(field_, name)
            count = self._counted()[field_].get(name, 0) - 1  # less `one`
            if field_ == "name":  # less the candidate too (see frequency)
                count -= 1
                if count <= 0:
                    return 0.0
            return model.frequency(field_, max(count, 0), size)

        exact = record_weights(first, frequency)
        pupil = getattr(one, "role", "") == "pupil"
        evidence, bits, _ = self.weigh(first, second, pupil, exact, frequency)
        return model.score(bits, size), evidence

    def weigh(
        self,
        record: Person,
        account: Person,
        pupil: bool,
        exact: tuple[float, float, float, float],
        frequency: Callable[[str, str], float | None] | None = None,
    ) -> tuple[Evidence, float, bool]:
        """The evidence for one account, and whether it came from the names swapped
        (`frequency`: the pool's own, unless given)."""
        frequency = frequency or self.frequency
        ev, bits = _compare(record, account, frequency, pupil, exact)
        fl = sl = ""
        for field, level, _ in ev:
            if field == "forename":
                fl = level
            elif field == "surname":
                sl = level
        if fl == "different" and sl == "different" and _may_be_swapped(record, account):
            ev2, bits2 = _compare(_swapped(record), account, frequency, pupil)
            if bits2 > bits:
                return ev2, bits2, True
        return ev, bits, False

    def _most(
        self, record: Person, exact: tuple[float, float, float, float], pupil: bool
    ) -> tuple[float, float]:
        """The most any account could gain on the record's fields other than UPN and date of
        birth: (its names included, in either order as weigh may swap them; its surname left
        out, for an account whose surname is weighed on its own and cannot be swapped)."""
        swapped = record_weights(_swapped(record), self.frequency)
        fore, sur = _MOST_INEXACT["forename"], _MOST_INEXACT["surname"]
        rest = _MOST["gender"] if record.gender in ("m", "f") else 0.0
        if record.pkey:
            rest += _MOST["preferred"]
        if record.mkeys:
            rest += _MOST["middle"]
        if pupil:
            rest += _MOST["year"]
        names = max(
            max(exact[0], fore) + max(exact[1], sur),
            max(swapped[0], fore) + max(swapped[1], sur),
        )
        return names + rest, max(exact[0], fore) + rest

    def _to_weigh(
        self, rec: MisRecord, exclude: set[str] | frozenset[str], extra: Iterable[object]
    ) -> Iterator[tuple[Any, int | None]]:
        """(account, its position in the pool, or None for one of `extra`), once each: the
        record's blocks, then `extra`, less `exclude` and entries superseded by add()."""
        latest = self._latest
        seen: set[str] = set()
        for position in self._block(rec):
            acc = self.accounts[position]
            if acc.username in exclude or (latest is not None and latest[acc.username] != position):
                continue
            seen.add(acc.username)
            yield acc, position
        for acc in extra:
            if acc.username in exclude or acc.username in seen:
                continue
            seen.add(acc.username)
            yield acc, None

    def _weighed_record(self, rec: MisRecord) -> tuple[Person, tuple[float, float, float, float]]:
        """The record as weigh compares it (a dummy UPN of the pool is no evidence either way),
        with the weights of agreeing exactly on its names and date (record_weights)."""
        person = person_of_record(rec)
        if person.upn and self.is_placeholder_upn(person.upn):
            person.upn = ""
        return person, record_weights(person, self.frequency)

    def scored(
        self,
        rec: MisRecord,
        exclude: set[str] | frozenset[str] = frozenset(),
        extra: Iterable[object] = (),
        min_bits: float | None = None,
    ) -> list[Scored]:
        """Every account of the record's blocks (and `extra`, accounts found elsewhere in the
        store) weighed, best first; those in `exclude`, and those with less evidence than
        `min_bits`, left out."""
        rec_person, exact = self._weighed_record(rec)
        pupil = rec.role == "pupil"
        # Most blocked accounts are plainly someone else (another UPN, another date): the most
        # their names and the record's other fields could add is reckoned once, so those are
        # dropped on UPN and date alone, before their names are compared. The bound is exact:
        # no account it drops could have reached `min_bits`.
        need = need_named = None
        if min_bits is not None:
            most, most_named = self._most(rec_person, exact, pupil)
            # a hair under: the bound's sum and compare's may round differently
            need, need_named = min_bits - most - 1e-9, min_bits - most_named - 1e-9
        rec_upn, rec_dob = rec_person.upn, rec_person.dob
        weights = _W if pupil else _W_STAFF
        out: list[Scored] = []
        for acc, position in self._to_weigh(rec, exclude, extra):
            if need is not None:
                settled = _settled(rec_upn, rec_dob, exact[3], acc, self.placeholder_upns, weights)
                if settled < need:
                    continue
            person = self._person_of(acc) if position is None else self.person(position)
            if need is not None and settled + _surname_bits(rec_person, person, exact) < need_named:
                continue
            ev, bits, swapped = self.weigh(rec_person, person, pupil, exact)
            if min_bits is None or bits >= min_bits:
                out.append(Scored(acc, person, ev, bits, swapped))
        out.sort(key=lambda s: (-s.bits, s.tiebreak()))
        return out

    def candidates(
        self,
        rec: MisRecord,
        school: str,
        exclude: set[str] | frozenset[str] = frozenset(),
        extra: Iterable[object] = (),
        keep: Iterable[tuple[Account, str]] = (),
    ) -> list[Candidate]:
        """At most MAX_CANDIDATES candidates, best first: by the weight of evidence, then
        preferred name, middle names and gender, then the record's own school. The accounts of
        `keep` (asked for at the school under the record's name: see asked_for.py), each with
        why, are shown whatever their score."""
        pool_size = len(self.accounts)
        ranked: list[tuple[tuple, Candidate]] = []
        staff = rec.role != "pupil"
        weighed_all = self.scored(rec, exclude, extra, model.min_bits(pool_size, staff))
        kept = {a.username: why for a, why in keep if a.username not in exclude}
        if kept:
            have = {w.account.username for w in weighed_all}  # type: ignore[attr-defined]
            wanted = [a for a, _ in keep if a.username in kept and a.username not in have]
            if wanted:
                person, exact = self._weighed_record(rec)
                for acc in wanted:
                    theirs = self._person_of(acc)
                    ev, bits, swapped = self.weigh(person, theirs, not staff, exact)
                    weighed_all.append(Scored(acc, theirs, ev, bits, swapped))
                weighed_all.sort(key=lambda s: (-s.bits, s.tiebreak()))
        total = sum(model.odds(w.bits, pool_size) for w in weighed_all) if staff else 0.0
        for weighed in weighed_all:
            score = model.score(weighed.bits, pool_size)
            asked = kept.get(weighed.account.username)  # type: ignore[attr-defined]
            if not asked and not model.shown(score, weighed.bits, total, pool_size, staff):
                continue
            acc = weighed.account
            reasons = reasons_of(weighed.evidence)
            if weighed.swapped:
                reasons.insert(0, "forename and surname swapped")
            if acc.status != "active":
                reasons.append("unallocated")
            elif acc.school and acc.school != school:
                reasons.append(f"at another school ({acc.school})")
            if asked:
                reasons.append(asked)
            cand = Candidate(
                username=acc.username,
                school=acc.school,
                score=score,
                forename=acc.forename,
                surname=acc.surname,
                preferred_name=acc.preferred_name,
                dob=acc.dob,
                status=acc.status,
                differs=differs(rec, acc, school),
                reasons=reasons,
                evidence=[
                    [field, level, round(bits, 1)] for field, level, bits in weighed.evidence
                ],
            )
            ranked.append(((-score, -weighed.bits, weighed.tiebreak(), acc.school != school), cand))
            if len(ranked) >= MAX_CANDIDATES * 3:
                break
        ranked.sort(key=lambda t: t[0])
        return [c for _, c in ranked[:MAX_CANDIDATES]]
