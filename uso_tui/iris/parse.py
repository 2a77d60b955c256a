"""IRIS JSON -> MisRecord: only the fields DESIGN section 4 lists are kept.

Text fields may be null, empty, padded or in capitals: padding is stripped and null/empty become
None; control characters (C0/C1: NUL, BEL, ESC, newlines...), bidi overrides and zero-width
characters are removed (whitespace among them becomes a space) and a field is cut at
MAX_TEXT characters, as operator input is (DESIGN section 4); capitals are kept as sent (names compare through `normalise`, and changing case is lossy:
McDonald, O'Brien). Dates may carry a time (`2012-05-03T00:00:00`): only the date is kept. A date
of birth that does not parse is kept verbatim in `dob_raw` so the planner can say why the record
is invalid.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from typing import Any

from uso_tui.domain.models import MisRecord
from uso_tui.domain.names import upn_key

MAX_TEXT = 200
# A time after the date is allowed if it reads as one (2012-05-03T99:99junk is no date): hours,
# minutes and seconds in range (24:00, a leap second), a fraction, a zone (Z, an offset, a zone's
# name in brackets as Java writes it).
_CLOCK = (
    r"(?:(?:[01]?\d|2[0-3])(?::?[0-5]\d(?::?(?:[0-5]\d|60))?)?(?:[.,]\d+)?"
    r"|24(?::?00(?::?00)?)?(?:[.,]0+)?)"
)
_ZONE = r"(?:\s?(?:[Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?))?(?:\[[\w/+-]+\])?"
_DATE_RE = re.compile(
    rf"^\s*(\d{{4}})([-/])(\d{{1,2}})\2(\d{{1,2}})(?:[T ]{_CLOCK}(?:\s?[AaPp][Mm])?{_ZONE})?\s*$"
)
# ISO's basic form (20261123), year first: no other reading
_BASIC_DATE_RE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
# A UK MIS's own way (DD/MM/YYYY), which an export sometimes carries despite section 4: a
# leaving date dropped as unreadable would keep a leaver's access with nothing said. Never with
# AM/PM: that is .NET's US form, month first (5/3/2012 12:00:00 AM is 3 May), left unreadable.
_UK_DATE_RE = re.compile(
    rf"^\s*(\d{{1,2}})([/.-])(\d{{1,2}})\2(\d{{4}})(?:[T ]{_CLOCK}{_ZONE})?\s*$"
)


# Printable to Python yet drawn as nothing (Hangul fillers, the blank Braille pattern, the
# combining grapheme joiner, Khmer's inherent vowels, Mongolian and standard variation selectors):
# in a name they make two names that look one (a look-alike of another person's record).
_INVISIBLE = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
)


# How many texts parsing has changed beyond trimming and composing (clean dropped characters,
# or NFKC would fold some: full-width letters). The client looks through the records of a page
# that moved it once more for the client secret (redact.parsed_hold_secret): such characters
# may break up, or disguise, a secret its bytes were looked through for. (A count, not a flag
# per record: one more look at a page costs nothing worth counting, and this runs for every
# field of every record.)
ALTERED = [0]
# What a name may hold besides letters, digits and its usual punctuation: a combining mark left
# after composing (a strike-through, an accent on a digit), a symbol. The secret's check reads
# letters and digits only, so a secret broken up by such characters is looked for once more.
_BESIDE_LETTERS = re.compile(r"[^\w\s'’‘.,()\-]")


def text(value: Any) -> str | None:
    """Stripped text, or None for null/empty/blank; composed (NFC: an é sent as e and an accent
    one day and as é the next is one name, not a change). Numbers (a year group of 7, or 7.0)
    become text."""
    if type(value) is str:  # the common case first: this runs for every field of every record
        if not value.isascii():
            value = unicodedata.normalize("NFC", value)
            if len(value) > MAX_TEXT or not value.isprintable() or not _INVISIBLE.isdisjoint(value):
                ALTERED[0] += 1
                # composed again: what was dropped may have stood between two that compose
                kept = clean(value)
                return unicodedata.normalize("NFC", kept) if kept else None
            if not unicodedata.is_normalized("NFKC", value) or _BESIDE_LETTERS.search(value):
                ALTERED[0] += 1
        if len(value) > MAX_TEXT or not value.isprintable():
            ALTERED[0] += 1
            return clean(value)
        value = value.strip()
        return value or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return text(str(value))
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT:
        value = int(value)  # 7.0 is the 7 another day sends
    if isinstance(value, int | float):
        return clean(str(value))
    return None


def name(value: Any) -> str | None:
    """A name field: text() of a string only. A number is no name (1e20 would read as the
    name "1e+20", which has a letter): the record is then without that name, as one sent null."""
    return text(value) if type(value) is str else None


# A terminal's escape sequences, whole: CSI (ESC [ or the C1 CSI, parameters, a final
# letter), OSC and the like (ESC ] ... ended by BEL or ESC \), and ESC with one character.
ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
)


def clean(value: str) -> str | None:
    """`value` without what a terminal, a screen or a file would misread (str.isprintable is
    false for C0/C1 controls and for format characters: bidi overrides, zero-width ones) or
    draws as nothing (_INVISIBLE), each
    run of whitespace one space, cut at MAX_TEXT; None if nothing is left."""
    if "\x1b" in value or "\x9b" in value:
        value = ESCAPES.sub("", value)  # whole: its ESC alone dropped left Kamiński[31m
    kept = "".join(
        c if c.isprintable() and c not in _INVISIBLE else " " if c.isspace() else "" for c in value
    )
    return " ".join(kept.split())[:MAX_TEXT].rstrip() or None


_DATES: dict[str, str | None] = {}  # IRIS sends the same few thousand dates again and again


def iso_date(value: Any) -> str | None:
    """`YYYY-MM-DD` from an ISO date or date-time string (also with slashes, or in ISO's basic
    form 20261123), or a UK one, day first (`DD/MM/YYYY`, `DD.MM.YYYY`, `DD-MM-YYYY`); None when
    absent or unparseable."""
    if type(value) is not str:
        return None
    got = _DATES.get(value, _MISSING)
    if got is not _MISSING:
        return got  # type: ignore[return-value]
    out: str | None = None
    if match := _DATE_RE.match(value):
        year, month, day = match[1], match[3], match[4]
    elif match := _BASIC_DATE_RE.match(value):
        year, month, day = match[1], match[2], match[3]
    elif match := _UK_DATE_RE.match(value):
        year, month, day = match[4], match[3], match[1]
    if match:
        try:
            out = date(int(year), int(month), int(day)).isoformat()
        except ValueError:  # 2012-02-30
            out = None
    if len(_DATES) > 200_000:
        _DATES.clear()
    _DATES[value] = out
    return out


_MISSING = object()


def _dob(value: Any) -> tuple[str | None, str | None]:
    """(date, raw): raw only when something was sent that is not a date (a date of birth, a
    leaving date). A whole number is read as its digits (20260301)."""
    if type(value) is int:
        value = str(value)
    parsed = iso_date(value)
    if parsed is not None:
        return parsed, None
    raw = text(value)
    return None, raw


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = text(value)
    if word is None:
        return None
    word = word.lower()
    if word in ("true", "yes", "y", "1"):
        return True
    if word in ("false", "no", "n", "0"):
        return False
    return None


_EXACT_FLOAT = 2.0**53  # floats below this hold every whole number exactly


def _id(value: Any) -> str:
    # A record without an id keeps "" so the planner can reject it, instead of crashing the run.
    if isinstance(value, bool):
        return ""
    if isinstance(value, float):
        # JSON's numbers past 2**53 (orjson reads those past 64 bits as floats) are not the id
        # sent: two distinct ids could read as one. Unreadable, as a missing id is.
        if not math.isfinite(value) or abs(value) >= _EXACT_FLOAT:
            return ""
        if value.is_integer():
            value = int(value)
    return text(value) or ""


def _builder(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], MisRecord]:
    """A maker of MisRecords from values in the order of `names`, filling the slots directly.

    The frozen dataclass's __init__ costs more than all the parsing of a record, and the client
    parses a million records in a daily run. `names` must list every field exactly once: checked
    here, at import, so a field added to MisRecord fails loudly instead of staying unset."""
    expected = [f.name for f in fields(MisRecord)]
    if sorted(names) != sorted(expected):
        raise ImportError(f"parse: MisRecord fields {expected} are not those filled: {names}")
    setters = [MisRecord.__dict__[n].__set__ for n in names]  # the slots' descriptors
    new = object.__new__

    def build(values: tuple[Any, ...]) -> MisRecord:
        rec = new(MisRecord)
        for put, value in zip(setters, values, strict=True):
            put(rec, value)
        return rec

    return build


_RECORD = _builder((
    "report", "mis_id", "forename", "surname", "preferred_name", "middle_names", "dob", "dob_raw",
    "enrolment_date", "leaving_date", "leaving_raw", "email", "person_guid", "gender", "year_group",
    "form_group", "upn", "title", "initials", "system_status", "is_teaching", "unreadable",
))  # fmt: skip


def _person(
    doc: dict[str, Any], report: str, id_key: str, dob_key: str, middle_key: str
) -> tuple[tuple, str | None]:
    """The fields a student and an employee share, in _RECORD's order, and a start date sent
    that is not a date (see _unreadable); each report names its id, date of birth and middle
    names under keys of its own."""
    get = doc.get
    dob, dob_raw = _dob(get(dob_key))
    leaving, leaving_raw = _dob(get("leavingDate"))
    start, start_raw = _dob(get("enrolmentDate"))  # (a whole number as its digits)
    return (
        report,
        _id(get(id_key)),
        name(get("forename")),
        name(get("surname")),
        name(get("preferredName")),
        name(get(middle_key)),
        dob,
        dob_raw,
        start,
        leaving,
        leaving_raw,
        text(get("schoolEmailAddress")),
        text(get("personGuid")),
    ), start_raw


def _unreadable(said: str | None, start_raw: str | None) -> str | None:
    """The record's fields that cannot be read (used_fields' UNREADABLE, `said`), with a start
    date that is no date: such a record is invalid (read as having no start date, a starter
    of a date to come, 2027-02-29, was given an account at once, nothing said)."""
    if start_raw is None:
        return said
    bad = f"start date {start_raw!r}"
    return bad if said is None else f"{said}, {bad}"


def _upn(value: Any) -> str | None:
    """A UPN as kept and compared: without spaces, upper-cased (domain.names.upn_key)."""
    cleaned = text(value)
    return upn_key(cleaned) or None if cleaned else None


def parse_student(doc: dict[str, Any]) -> MisRecord:
    get = doc.get
    shared, start_raw = _person(doc, "students", "schoolId", "dob", "middlenames")
    return _RECORD(shared + (
        text(get("gender")),
        text(get("yearGroup")),
        text(get("formGroup")),
        _upn(get("uniquePupilNumber")),
        None,  # title
        None,  # initials
        None,  # system_status
        None,  # is_teaching
        _unreadable(get(UNREADABLE), start_raw),
    ))  # fmt: skip


def parse_employee(doc: dict[str, Any]) -> MisRecord:
    get = doc.get
    shared, start_raw = _person(doc, "staff", "id", "dateOfBirth", "middleNames")
    return _RECORD(shared + (
        None,  # gender: not kept for staff
        None,  # year_group
        None,  # form_group
        None,  # upn
        text(get("title")),
        text(get("schoolInitials")),
        text(get("systemStatus")),
        _bool(get("isTeachingStaff")),
        _unreadable(get(UNREADABLE), start_raw),
    ))  # fmt: skip


PARSERS = {"students": parse_student, "staff": parse_employee}
ID_KEYS = {"students": "schoolId", "staff": "id"}
# The fields of a raw record the parsers read (DESIGN section 4): all a record is kept as.
_SHARED_KEYS = (
    "forename", "surname", "preferredName", "enrolmentDate", "leavingDate",
    "schoolEmailAddress", "personGuid",
)  # fmt: skip
USED_KEYS = {
    "students": (*_SHARED_KEYS, "schoolId", "dob", "middlenames", "gender", "yearGroup",
                 "formGroup", "uniquePupilNumber"),
    "staff": (*_SHARED_KEYS, "id", "dateOfBirth", "middleNames", "title", "schoolInitials",
              "systemStatus", "isTeachingStaff"),
}  # fmt: skip
_ABSENT = object()
# The key under which used_fields() says which fields were sent in a form their parser cannot
# read (never an IRIS field: only the fields used are kept of what a server sends).
UNREADABLE = "(unreadable)"
_NAMES = frozenset({str})  # a number or true is no name (1e20 would read as "1e+20")
_DATE = frozenset({str, int})  # 20260301 is a date
_TEXT = frozenset({str, int, float})  # a year group of 7 or 7.0
_KINDS = {
    **dict.fromkeys(("forename", "surname", "preferredName", "middlenames", "middleNames"), _NAMES),
    **dict.fromkeys(("dob", "dateOfBirth", "enrolmentDate", "leavingDate"), _DATE),
    "isTeachingStaff": frozenset({bool, str, int}),
    **dict.fromkeys(("schoolId", "id"), frozenset({str, int, float, bool})),  # (see _id)
}
_SENT_AS = {dict: "an object", list: "a list", bool: "true/false", int: "a number"}


def used_fields(report: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A raw record of `report` cut to the fields the parser reads: what the client keeps of
    each record it receives, so that what a server adds (addresses, or megabytes of nested
    lists) is freed with its page. A used field sent in a form its parser cannot read (a list,
    an object, a number for a name, true for a year group) is kept as null and named under
    UNREADABLE: the record is then invalid, rather than read as without that field (which
    would clear it from the account: a broken export changes nothing)."""
    kinds = [(key, _KINDS.get(key, _TEXT)) for key in USED_KEYS[report]]

    def keep(doc: dict[str, Any]) -> dict[str, Any]:
        get = doc.get
        out: dict[str, Any] = {}
        bad: list[str] | None = None
        for key, kind in kinds:
            value = get(key, _ABSENT)
            if value is _ABSENT:
                continue
            if type(value) is str or value is None or type(value) in kind:
                out[key] = value
            else:
                out[key] = None
                sent = _SENT_AS.get(type(value), "a number")
                bad = [*(bad or ()), f"{key} ({sent})"]
        if bad:
            out[UNREADABLE] = ", ".join(bad)
        return out

    return keep


def record_id(report: str, doc: dict[str, Any]) -> str:
    """A raw record's MIS id, as its parse gives it, without parsing the rest."""
    value = doc.get(ID_KEYS[report])
    # the common case, quickly: ASCII letters and digits only, which text() keeps as they are
    # (not every letter: a Hangul filler is one, which text() drops as drawn as nothing)
    if type(value) is str and value.isascii() and value.isalnum() and len(value) <= MAX_TEXT:
        return value
    return _id(value)
