"""Deterministic generator of schools, their staff and pupils, and their day-to-day churn.

`generate_estate(seed, n_schools, las, today=...)` makes primary and secondary schools in several
local authorities; `advance(estate, days=1)` moves it on day by day with starters, leavers
(absent, or with a leavingDate), future starters, name changes, movers between schools of one
local authority (same person, new MIS id), missing dates of birth, near-duplicates (typos, day and
month swapped, nicknames) and returners. Every record carries the id of the person it really is,
so matching can be measured (`estate.truth()`, `estate.person_of(...)`), and every change of the
last `advance` is listed in `estate.last_churn`.

Nothing reads the clock: `today` is passed in. The same seed gives the same estate and the same
churn. Fast enough for 3,000 schools x 500 people in seconds: records are compact objects, turned
into IRIS JSON only when a school's report is asked for.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

from uso_tui.domain.names import ascii_letters
from uso_tui.iris import names_data as nd

DEFAULT_TODAY = date(2026, 3, 2)  # a Monday in spring term; tests pass their own
REPORTS = ("students", "staff")

ENGLISH_SURNAMES = nd.ORIGINS[0][3]
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


@dataclass(slots=True)
class GenRecord:
    """One MIS record as the generator holds it; `person_id` is the truth behind it."""

    person_id: int
    serial: int  # unique per record ever made: gives a stable personGuid
    mis_id: str
    forename: str
    surname: str
    preferred: str | None
    middle: str | None
    dob: str | None
    gender: str
    enrolment: str
    leaving: str | None = None
    year: int | None = None
    form: str | None = None
    title: str | None = None
    teaching: bool | None = None
    upn: str | None = None  # None: the person's own UPN (pupils); "": none sent

    def copy(self, **changes: Any) -> GenRecord:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return GenRecord(**values)


@dataclass
class GenSchool:
    dfe: str
    name: str
    phase: str  # "primary" | "secondary"
    mis: str  # "iSAMS" | "Ed:gen"
    client_id: str
    secret: str = field(repr=False)
    domain: str = ""
    students: dict[str, GenRecord] = field(default_factory=dict, repr=False)
    staff: dict[str, GenRecord] = field(default_factory=dict, repr=False)
    next_pupil: int = 100000
    next_staff: int = 1
    gone: list[tuple[str, GenRecord]] = field(default_factory=list, repr=False)  # for returners

    @property
    def la(self) -> str:
        return self.dfe[:3]

    def records(self, report: str) -> dict[str, GenRecord]:
        return self.students if report == "students" else self.staff

    @property
    def size(self) -> int:
        return len(self.students) + len(self.staff)


@dataclass(slots=True, frozen=True)
class Churn:
    """One change made by `advance`: kind, where, which record, and the person behind it."""

    kind: str  # starter, future_starter, leaver_absent, leaver_dated, name_change, mover,
    # missing_dob, near_duplicate, returner, archived
    dfe: str
    report: str
    mis_id: str
    person_id: int
    detail: str = ""
    from_dfe: str | None = None  # movers: the school they left
    from_mis_id: str | None = None  # movers and near-duplicates: the earlier record
    related: int | None = None  # hazards: the other person this record may be taken for


@dataclass(frozen=True)
class ChurnRates:
    """Expected changes per record per day."""

    starters: float = 0.004
    future_starters: float = 0.002
    leavers_absent: float = 0.003
    leavers_dated: float = 0.002
    name_changes: float = 0.002
    movers: float = 0.0015
    missing_dob: float = 0.0005
    near_duplicates: float = 0.0015
    returners: float = 0.0005

    def scaled(self, factor: float) -> ChurnRates:
        return ChurnRates(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


@dataclass
class Estate:
    seed: int
    today: date
    schools: list[GenSchool]
    rng: random.Random = field(repr=False)
    day: int = 0
    next_person: int = 1
    next_serial: int = 1
    last_churn: list[Churn] = field(default_factory=list, repr=False)
    retired: dict[tuple[str, str, str], int] = field(default_factory=dict, repr=False)
    _by_dfe: dict[str, GenSchool] = field(default_factory=dict, repr=False)
    _peers: dict[tuple[str, str | None], list[GenSchool]] = field(default_factory=dict, repr=False)
    _touched: dict[tuple[str, str], set[str]] = field(default_factory=dict, repr=False)
    # What people outside the MIS did on the last day (requested and restored accounts), for the
    # hazards of uso_tui.iris.hazards; plain `advance` leaves it empty.
    actions: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._by_dfe = {s.dfe: s for s in self.schools}
        self._peers = {}

    def school(self, dfe: str) -> GenSchool:
        return self._by_dfe[dfe]

    def peers(self, la: str, phase: str | None = None) -> list[GenSchool]:
        """Schools of one local authority (and phase): where movers go."""
        key = (la, phase)
        got = self._peers.get(key)
        if got is None:
            got = self._peers[key] = [
                s for s in self.schools if s.la == la and (phase is None or s.phase == phase)
            ]
        return got

    @property
    def las(self) -> list[str]:
        return sorted({s.la for s in self.schools})

    def iris_records(self, dfe: str, report: str) -> list[dict[str, Any]]:
        """The report as IRIS would send it (JSON dicts, in MIS id order of creation)."""
        school = self._by_dfe[dfe]
        conv = _student_json if report == "students" else _staff_json
        return [conv(r, school, self.today) for r in school.records(report).values()]

    def truth(self) -> dict[tuple[str, str, str], int]:
        """(dfe, report, mis_id) -> person id, for every current record."""
        return {
            (s.dfe, rep, mis_id): r.person_id
            for s in self.schools
            for rep in REPORTS
            for mis_id, r in s.records(rep).items()
        }

    def person_of(self, dfe: str, report: str, mis_id: str) -> int | None:
        """The person behind any record ever generated (current or since removed)."""
        rec = self._by_dfe[dfe].records(report).get(mis_id)
        if rec is not None:
            return rec.person_id
        return self.retired.get((dfe, report, mis_id))

    @property
    def size(self) -> int:
        return sum(s.size for s in self.schools)


# ---------------------------------------------------------------- generation


def generate_estate(
    seed: int = 0,
    n_schools: int = 10,
    las: Sequence[str] | int | None = None,
    *,
    today: date = DEFAULT_TODAY,
    size: int | None = None,
    secondary_share: float = 0.2,
    issues: bool = True,
) -> Estate:
    """Schools spread over local authorities (codes, or how many; default 3).

    size: people per school (pupils + staff), else primary 50-450 and secondary 600-3,000.
    issues: day 0 already holds what real exports hold: a few missing dates of birth, names in
    capitals or padded, future starters and staff with a leaving date.
    """
    rng = random.Random(seed)
    la_codes = _la_codes(las)
    # Millions of small objects: the cyclic GC would rescan them all again and again for nothing.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _generate(rng, seed, n_schools, la_codes, today, size, secondary_share, issues)
    finally:
        if gc_was_on:
            gc.enable()


def _generate(
    rng: random.Random,
    seed: int,
    n_schools: int,
    la_codes: list[str],
    today: date,
    size: int | None,
    secondary_share: float,
    issues: bool,
) -> Estate:
    estate = Estate(seed=seed, today=today, schools=[], rng=rng)
    used: set[str] = set()
    for position in range(n_schools):
        la = la_codes[position % len(la_codes)]
        phase = "secondary" if rng.random() < secondary_share else "primary"
        dfe = _new_dfe(rng, la, phase, used)
        people = (
            size
            if size is not None
            else (rng.randint(50, 450) if phase == "primary" else rng.randint(600, 3000))
        )
        school = _new_school(rng, dfe, la, phase)
        _populate(estate, school, max(people, 2), issues)
        estate.schools.append(school)
    estate.__post_init__()
    return estate


def _la_codes(las: Sequence[str] | int | None) -> list[str]:
    known = list(nd.LOCAL_AUTHORITIES)
    if las is None:
        return known[:3]
    if isinstance(las, int):
        extra = [f"{n:03d}" for n in range(800, 1000) if f"{n:03d}" not in nd.LOCAL_AUTHORITIES]
        return (known + extra)[: max(1, las)]
    codes = [str(c) for c in las]
    if not codes or any(len(c) != 3 or not c.isdigit() for c in codes):
        raise ValueError(f"local authority codes are three digits: {codes!r}")
    return codes


def _new_dfe(rng: random.Random, la: str, phase: str, used: set[str]) -> str:
    # Establishment numbers: 2xxx-3xxx primary, 4xxx-5xxx secondary, as in England.
    lo, hi = (2000, 3999) if phase == "primary" else (4000, 5999)
    while True:
        dfe = f"{la}-{rng.randint(lo, hi)}"
        if dfe not in used:
            used.add(dfe)
            return dfe


def _new_school(rng: random.Random, dfe: str, la: str, phase: str) -> GenSchool:
    la_name = nd.LOCAL_AUTHORITIES.get(la, f"Borough {la}")
    if phase == "primary":
        first = rng.choice(nd.SAINTS) if rng.random() < 0.3 else rng.choice(nd.PLACE_WORDS)
        name = f"{first} {rng.choice(nd.PRIMARY_KINDS)}"
    else:
        first = rng.choice(nd.PLACE_WORDS) if rng.random() < 0.7 else la_name
        name = f"{first} {rng.choice(nd.SECONDARY_KINDS)}"
    mis = "iSAMS" if rng.random() < 0.7 else "Ed:gen"
    slug = ascii_letters(first)[:12] or "school"
    return GenSchool(
        dfe=dfe,
        name=name,
        phase=phase,
        mis=mis,
        client_id=f"{slug}-{dfe.replace('-', '')}-{rng.getrandbits(32):08x}",
        secret=f"{rng.getrandbits(128):032x}",
        domain=f"{slug}{dfe[-4:]}.sch.uk",
        next_pupil=rng.randint(100000, 800000),
        next_staff=rng.randint(1, 900),
    )


def academic_year(today: date) -> int:
    return today.year if today.month >= 9 else today.year - 1


_ISO: dict[int, str] = {}


def iso_from_ordinal(ordinal: int) -> str:
    iso = _ISO.get(ordinal)
    if iso is None:
        iso = _ISO[ordinal] = date.fromordinal(ordinal).isoformat()
    return iso


def year_groups(phase: str) -> range:
    return range(0, 7) if phase == "primary" else range(7, 14)


def _populate(estate: Estate, school: GenSchool, people: int, issues: bool) -> None:
    rng = estate.rng
    staff_share = 0.14 if school.phase == "primary" else 0.11
    n_staff = max(1, round(people * staff_share))
    n_pupils = max(1, people - n_staff)
    years = year_groups(school.phase)
    today = estate.today
    rand = rng.random
    _populate_pupils(estate, school, n_pupils, years, issues)
    for _ in range(n_staff):
        rec = _new_staff(estate, school, today)
        if issues and rand() < 0.04:
            _day0_issues(rng, rec, today, pupil=False)
        school.staff[rec.mis_id] = rec


def _populate_pupils(
    estate: Estate, school: GenSchool, count: int, years: range, issues: bool
) -> None:
    """_new_pupil inlined but for the names (person_names), the same random draws in the same
    order: this loop makes 1.5 million pupils for the big benchmarks, and each function call and
    attribute lookup shows."""
    rng = estate.rng
    rand = rng.random
    ctx = pupil_context(school.phase, estate.today)
    today_no = ctx.today
    n_years = len(years)
    entry_day = ctx.entry_day
    dob_start = ctx.dob_start
    forms_of = ctx.forms
    iso = _ISO
    students = school.students
    pid = estate.next_person
    serial = estate.next_serial
    next_no = school.next_pupil
    for _ in range(count):
        year = years[int(rand() * n_years)]
        gender = "F" if rand() < 0.5 else "M"
        forename, surname, middle, preferred, _ = person_names(rand, gender)
        enrol = entry_day[year]
        if rand() < 0.12:
            enrol += int(rand() * max(1, today_no - enrol))
        if enrol > today_no:
            enrol = today_no
        mis_id = str(next_no)
        next_no += 1
        dob_o = dob_start[year] + int(rand() * 365)
        dob = iso.get(dob_o) or iso_from_ordinal(dob_o)
        forms = forms_of[year]
        rec = GenRecord(
            pid,
            serial,
            mis_id,
            forename,
            surname,
            preferred,
            middle,
            dob,
            gender,
            iso.get(enrol) or iso_from_ordinal(enrol),
            None,
            year,
            forms[int(rand() * len(forms))],
        )
        pid += 1
        serial += 1
        if issues and rand() < 0.03:
            _day0_issues(rng, rec, estate.today, pupil=True)
        students[mis_id] = rec
    estate.next_person = pid
    estate.next_serial = serial
    school.next_pupil = next_no


def _day0_issues(rng: random.Random, rec: GenRecord, today: date, *, pupil: bool) -> None:
    """Called for ~3% of pupils and ~4% of staff: what real day-0 exports hold."""
    roll = rng.random() * (3 if pupil else 4)
    if roll < 0.2:
        rec.dob = None
    elif roll < 1.2:
        rec.surname = rec.surname.upper()
    elif roll < 2.0:
        rec.forename = f"  {rec.forename} "
    elif roll < 2.5:
        rec.enrolment = iso_from_ordinal(today.toordinal() + rng.randint(3, 60))  # future starter
    else:
        rec.leaving = iso_from_ordinal(
            today.toordinal() + rng.randint(5, 120)
        )  # leaving later this year


def person_names(rand: Any, gender: str) -> tuple[str, str, str | None, str | None, int]:
    """forename, surname, middle names, preferred name, origin index; only rng.random() is used
    (the generator makes 1.5 million of these in seconds)."""
    origin = _ORIGIN_TABLE[int(rand() * _ORIGIN_TOTAL)]
    origin_row = nd.ORIGINS[origin]
    pool = origin_row[1] if gender == "F" else origin_row[2]
    forename = pool[int(rand() * len(pool))]
    if rand() < 0.12:  # mixed families: a surname of another origin
        s2 = nd.ORIGINS[_ORIGIN_TABLE[int(rand() * _ORIGIN_TOTAL)]][3]
        surname = s2[int(rand() * len(s2))]
    else:
        surname = origin_row[3][int(rand() * len(origin_row[3]))]
    if rand() < 0.03:  # double-barrelled
        other = ENGLISH_SURNAMES[int(rand() * len(ENGLISH_SURNAMES))]
        if other != surname and " " not in surname:
            surname = f"{surname}-{other}"
    middle = None
    roll = rand()
    if roll < 0.45:
        middle = pool[int(rand() * len(pool))]
        if roll < 0.08:
            middle += " " + pool[int(rand() * len(pool))]
        if middle == forename:
            middle = None
    preferred = None
    if rand() < 0.07:
        nicks = nd.NICKNAMES.get(forename)
        if nicks:
            preferred = nicks[int(rand() * len(nicks))]
        elif origin == _EAST_ASIAN:
            preferred = nd.ANGLO_PREFERRED[int(rand() * len(nd.ANGLO_PREFERRED))]
        elif middle:
            preferred = middle.split(" ")[0]
    return forename, surname, middle, preferred, origin


_ORIGIN_TABLE: list[int] = [i for i, o in enumerate(nd.ORIGINS) for _ in range(o[0])]
_ORIGIN_TOTAL = len(_ORIGIN_TABLE)
_EAST_ASIAN = 6


def new_person_id(estate: Estate) -> int:
    pid = estate.next_person
    estate.next_person += 1
    return pid


def new_serial(estate: Estate) -> int:
    serial = estate.next_serial
    estate.next_serial += 1
    return serial


@dataclass(slots=True)
class _PupilCtx:
    """Per school and day constants, so each pupil costs a few rng.random() calls."""

    years: tuple[int, ...]
    dob_start: dict[int, int]  # year group -> first ordinal of its birth window
    entry_day: dict[int, int]  # year group -> ordinal of its first day at this school
    forms: dict[int, tuple[str, ...]]
    today: int


_PUPIL_CTX: dict[tuple[str, int], _PupilCtx] = {}


def pupil_context(phase: str, today: date) -> _PupilCtx:
    key = (phase, today.toordinal())
    ctx = _PUPIL_CTX.get(key)
    if ctx is None:
        ay = academic_year(today)
        years = tuple(year_groups(phase))
        entry = 0 if phase == "primary" else 7
        if phase == "primary":
            forms = {
                y: tuple(f"{'R' if y == 0 else y}{f}" for f in nd.PRIMARY_FORMS) for y in years
            }
        else:
            forms = {y: tuple(f"{y}{f}" for f in nd.SECONDARY_FORMS) for y in years}
        ctx = _PUPIL_CTX[key] = _PupilCtx(
            years=years,
            # Year N pupils were born 1 September (AY-5-N) to 31 August (AY-4-N).
            dob_start={y: date(ay - 5 - y, 9, 1).toordinal() for y in years},
            entry_day={y: date(ay - (y - entry), 9, 3).toordinal() for y in years},
            forms=forms,
            today=today.toordinal(),
        )
    return ctx


def random_form(rng: random.Random, phase: str, year: int) -> str:
    forms = pupil_context(phase, DEFAULT_TODAY).forms.get(year) or (f"{year}A",)
    return forms[int(rng.random() * len(forms))]


def _new_pupil(
    estate: Estate,
    school: GenSchool,
    year: int,
    today: date,
    *,
    joined_at_start: bool,
    person_id: int | None = None,
) -> GenRecord:
    rand = estate.rng.random
    ctx = pupil_context(school.phase, today)
    gender = "F" if rand() < 0.5 else "M"
    forename, surname, middle, preferred, _ = person_names(rand, gender)
    if person_id is None:
        pid = estate.next_person
        estate.next_person += 1
    else:
        pid = person_id
    today_no = ctx.today
    if joined_at_start:
        enrol = ctx.entry_day[year]
        if rand() < 0.12:  # joined later, mid-way
            enrol += int(rand() * max(1, today_no - enrol))
        if enrol > today_no:
            enrol = today_no
    else:
        enrol = today_no
    mis_id = str(school.next_pupil)
    school.next_pupil += 1
    serial = estate.next_serial
    estate.next_serial += 1
    forms = ctx.forms[year]
    return GenRecord(
        pid,
        serial,
        mis_id,
        forename,
        surname,
        preferred,
        middle,
        iso_from_ordinal(ctx.dob_start[year] + int(rand() * 365)),
        gender,
        iso_from_ordinal(enrol),
        None,
        year,
        forms[int(rand() * len(forms))],
    )


def _new_staff(estate: Estate, school: GenSchool, today: date, *, new: bool = False) -> GenRecord:
    rng = estate.rng
    gender = "F" if rng.random() < 0.72 else "M"  # most school staff are women
    forename, surname, middle, preferred, _ = person_names(rng.random, gender)
    today_no = today.toordinal()
    age_days = int((22 + rng.random() * 44) * 365.25)
    dob = today_no - age_days
    if new:
        enrol = today_no
    else:
        max_service = max(30, age_days - int(21 * 365.25))
        enrol = today_no - int(rng.random() * min(max_service, 25 * 365))
    teaching = rng.random() < 0.55
    titles = nd.TITLES_F if gender == "F" else nd.TITLES_M
    mis_id = str(school.next_staff)
    school.next_staff += 1
    return GenRecord(
        person_id=new_person_id(estate),
        serial=new_serial(estate),
        mis_id=mis_id,
        forename=forename,
        surname=surname,
        preferred=preferred,
        middle=middle,
        dob=iso_from_ordinal(dob),
        gender=gender,
        enrolment=iso_from_ordinal(enrol),
        title=titles[int(rng.random() * len(titles))],
        teaching=teaching,
    )


# ---------------------------------------------------------------- IRIS JSON

_ASCII: dict[str, str] = {}


def _ascii(name: str) -> str:
    ascii_name = _ASCII.get(name)
    if ascii_name is None:
        ascii_name = _ASCII[name] = ascii_letters(name)
    return ascii_name


def _upn(pid: int) -> str:
    # A bijection of the person id: unique, and stable across schools (a UPN follows the pupil).
    return _UPN_LETTERS[pid % 23] + f"{(pid * 982451653) % 10**12:012d}"


def _guid(serial: int) -> str:
    digits = f"{(serial * 0x9E3779B97F4A7C15F39CC0605CEDC835) % (1 << 128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-a{digits[17:20]}-{digits[20:]}"


def _date_out(value: str | None, with_time: bool) -> str | None:
    if value is None:
        return None
    return value + "T00:00:00" if with_time else value


def _student_json(rec: GenRecord, school: GenSchool, today: date) -> dict[str, Any]:
    isams = school.mis == "iSAMS"  # iSAMS sends null and date-times; Ed:gen "" and plain dates
    empty = None if isams else ""
    year = rec.year
    return {
        "schoolId": rec.mis_id,
        "personGuid": _guid(rec.serial),
        "forename": rec.forename,
        "surname": rec.surname,
        "preferredName": rec.preferred or empty,
        "middlenames": rec.middle or empty,
        "dob": _date_out(rec.dob, isams),
        "gender": rec.gender,
        "yearGroup": year if isams else ("R" if year == 0 else str(year)),
        "formGroup": rec.form,
        "enrolmentDate": _date_out(rec.enrolment, isams),
        "leavingDate": _date_out(rec.leaving, isams),
        "uniquePupilNumber": _upn(rec.person_id) if rec.upn is None else (rec.upn or None),
        "schoolEmailAddress": f"{_ascii(rec.surname)[:12]}{_ascii(rec.forename)[:1]}"
        f"{rec.mis_id[-3:]}@{school.domain}",
        # Not used by the product, present in real answers: the parser must drop them.
        "nationality": "British",
        "homeAddresses": [{"postCode": "ZZ99 3ZZ"}],
    }


def _staff_json(rec: GenRecord, school: GenSchool, today: date) -> dict[str, Any]:
    isams = school.mis == "iSAMS"
    empty = None if isams else ""
    if rec.enrolment > today.isoformat():
        status = "Future"
    elif rec.leaving is not None and rec.leaving <= today.isoformat():
        status = "Leaver"
    else:
        status = "Current"
    initials = (_ascii(rec.forename)[:1] + _ascii(rec.surname)[:2]).upper()
    return {
        "id": int(rec.mis_id),
        "personGuid": _guid(rec.serial),
        "title": rec.title,
        "forename": rec.forename,
        "surname": rec.surname,
        "preferredName": rec.preferred or empty,
        "middleNames": rec.middle or empty,
        "dateOfBirth": _date_out(rec.dob, isams),
        "enrolmentDate": _date_out(rec.enrolment, isams),
        "leavingDate": _date_out(rec.leaving, isams),
        "schoolEmailAddress": f"{_ascii(rec.forename)[:1]}.{_ascii(rec.surname)[:16]}{rec.mis_id}"
        f"@{school.domain}",
        "schoolInitials": initials,
        "systemStatus": status,
        "isTeachingStaff": rec.teaching,
        "gender": rec.gender,
        "religion": None,
    }


# ---------------------------------------------------------------- churn


def advance(
    estate: Estate,
    days: int = 1,
    today: date | None = None,
    rates: ChurnRates | None = None,
) -> list[Churn]:
    """Moves the estate on by `days` days, one at a time (ending on `today`, default estate.today + days)
    and returns every change made; `estate.last_churn` keeps them too."""
    if days < 1:
        raise ValueError("days must be at least 1")
    end = today or (estate.today + timedelta(days=days))
    rates = rates or ChurnRates()
    out: list[Churn] = []
    for step in range(days):
        estate.today = end - timedelta(days=days - 1 - step)
        estate.day += 1
        estate._touched = {}
        for school in estate.schools:
            _churn_school(estate, school, rates, out)
    estate.last_churn = out
    return out


def draw_count(rng: random.Random, rate: float, population: int) -> int:
    expected = rate * population
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _churn_school(estate: Estate, school: GenSchool, rates: ChurnRates, out: list[Churn]) -> None:
    rng = estate.rng
    today = estate.today
    today_no = today.toordinal()
    today_iso = today.isoformat()
    dfe = school.dfe

    # Leavers whose leaving date passed a month ago drop out of the export.
    for report in REPORTS:
        recs = school.records(report)
        cutoff = iso_from_ordinal(today_no - 30)
        old = [m for m, r in recs.items() if r.leaving is not None and r.leaving < cutoff]
        for mis_id in old:
            retire(estate, school, report, mis_id)
            out.append(
                Churn("archived", dfe, report, mis_id, recs_pid(estate, dfe, report, mis_id))
            )

    for report in REPORTS:
        recs = school.records(report)
        count = len(recs)
        pupil = report == "students"
        # A record changes at most once a day, so each change can be checked on its own.
        touched = estate._touched.setdefault((dfe, report), set())

        def add(rec: GenRecord, report: str = report, touched: set[str] = touched) -> None:
            school.records(report)[rec.mis_id] = rec
            touched.add(rec.mis_id)

        for _ in range(draw_count(rng, rates.starters, count)):
            rec = new_starter(estate, school, pupil)
            add(rec)
            out.append(Churn("starter", dfe, report, rec.mis_id, rec.person_id))
        for _ in range(draw_count(rng, rates.future_starters, count)):
            rec = new_starter(estate, school, pupil)
            rec.enrolment = iso_from_ordinal(today_no + rng.randint(7, 60))
            add(rec)
            out.append(
                Churn(
                    "future_starter",
                    dfe,
                    report,
                    rec.mis_id,
                    rec.person_id,
                    f"starts {rec.enrolment}",
                )
            )
        for _ in range(draw_count(rng, rates.missing_dob, count)):
            if rng.random() < 0.6 or not recs:
                rec = new_starter(estate, school, pupil)
                rec.dob = None
                add(rec)
                out.append(
                    Churn(
                        "missing_dob",
                        dfe,
                        report,
                        rec.mis_id,
                        rec.person_id,
                        "new record without a date of birth",
                    )
                )
            else:
                rec = _current(rng, recs, today_iso, touched)
                if rec:
                    rec.dob = None
                    out.append(
                        Churn(
                            "missing_dob",
                            dfe,
                            report,
                            rec.mis_id,
                            rec.person_id,
                            "date of birth removed from an existing record",
                        )
                    )
        for _ in range(draw_count(rng, rates.name_changes, count)):
            rec = _current(rng, recs, today_iso, touched)
            if rec:
                detail = _change_name(rng, rec, pupil)
                out.append(Churn("name_change", dfe, report, rec.mis_id, rec.person_id, detail))
        for _ in range(draw_count(rng, rates.leavers_dated, count)):
            current = _current(rng, recs, today_iso, touched)
            if current:
                current.leaving = iso_from_ordinal(today_no - rng.randint(0, 2))
                out.append(
                    Churn(
                        "leaver_dated",
                        dfe,
                        report,
                        current.mis_id,
                        current.person_id,
                        f"leavingDate {current.leaving}",
                    )
                )
        for _ in range(draw_count(rng, rates.leavers_absent, count)):
            current = _current(rng, recs, today_iso, touched)
            if current:
                retire(estate, school, report, current.mis_id, keep_for_return=True)
                out.append(Churn("leaver_absent", dfe, report, current.mis_id, current.person_id))
        for _ in range(draw_count(rng, rates.movers, count)):
            _move(estate, school, report, out, touched)
        for _ in range(draw_count(rng, rates.near_duplicates, count)):
            current = _current(rng, recs, today_iso, touched)
            if current:
                _near_duplicate(estate, school, report, current, out)
        for _ in range(draw_count(rng, rates.returners, count)):
            back = [
                i
                for i, (rep, r) in enumerate(school.gone)
                if rep == report and r.mis_id not in touched
            ]
            if back:
                _rep, rec = school.gone.pop(back[int(rng.random() * len(back))])
                if rec.mis_id not in recs:
                    rec.leaving = None
                    add(rec)
                    estate.retired.pop((dfe, report, rec.mis_id), None)
                    out.append(Churn("returner", dfe, report, rec.mis_id, rec.person_id))


def recs_pid(estate: Estate, dfe: str, report: str, mis_id: str) -> int:
    pid = estate.person_of(dfe, report, mis_id)
    return -1 if pid is None else pid


def _pick(rng: random.Random, recs: dict[str, GenRecord]) -> GenRecord:
    keys = list(recs)
    return recs[keys[int(rng.random() * len(keys))]]


def _current(
    rng: random.Random, recs: dict[str, GenRecord], t_iso: str, touched: set[str]
) -> GenRecord | None:
    """A record of someone here now (started, not leaving, not changed today), marked as
    changed; None after a few tries."""
    if not recs:
        return None
    keys = list(recs)
    for _ in range(8):
        rec = recs[keys[int(rng.random() * len(keys))]]
        if rec.leaving is None and rec.enrolment <= t_iso and rec.mis_id not in touched:
            touched.add(rec.mis_id)
            return rec
    return None


def new_starter(estate: Estate, school: GenSchool, pupil: bool) -> GenRecord:
    if pupil:
        year = estate.rng.choice(year_groups(school.phase))
        return _new_pupil(estate, school, year, estate.today, joined_at_start=False)
    return _new_staff(estate, school, estate.today, new=True)


def retire(
    estate: Estate, school: GenSchool, report: str, mis_id: str, *, keep_for_return: bool = False
) -> GenRecord:
    rec = school.records(report).pop(mis_id)
    estate.retired[(school.dfe, report, mis_id)] = rec.person_id
    if keep_for_return:
        school.gone.append((report, rec))
        del school.gone[:-50]  # only recent leavers come back
    return rec


def _change_name(rng: random.Random, rec: GenRecord, pupil: bool) -> str:
    roll = rng.random()
    if roll < 0.55:
        before = rec.surname
        other = ENGLISH_SURNAMES[int(rng.random() * len(ENGLISH_SURNAMES))]
        if not pupil or rng.random() < 0.5:
            rec.surname = other  # marriage, adoption, a parent's new name
        else:
            rec.surname = f"{before.strip()}-{other}"
        if rec.surname == before:
            rec.surname = before + "-Smith"
        return f"surname {before!r} -> {rec.surname!r}"
    if roll < 0.8:
        before = rec.preferred
        nicks = nd.NICKNAMES.get(rec.forename.strip())
        rec.preferred = (
            nicks[0]
            if nicks and before != nicks[0]
            else (None if before else rec.forename.strip()[:3])
        )
        return f"preferred name {before!r} -> {rec.preferred!r}"
    before = rec.forename
    rec.forename = with_typo(rng, before.strip()) if len(before.strip()) > 3 else before + "e"
    return f"forename corrected {before!r} -> {rec.forename!r}"


def _move(
    estate: Estate, school: GenSchool, report: str, out: list[Churn], touched: set[str]
) -> None:
    rng = estate.rng
    t_iso = estate.today.isoformat()
    recs = school.records(report)
    leaving = _current(rng, recs, t_iso, touched)
    if leaving is None:
        return
    pupil = report == "students"
    peers = estate.peers(school.la, school.phase if pupil else None)
    others = [s for s in peers if s.dfe != school.dfe]
    if not others:
        return
    dest = others[int(rng.random() * len(others))]
    if pupil:
        mis_id = str(dest.next_pupil)
        dest.next_pupil += 1
        year = leaving.year if leaving.year is not None else 7
        extra: dict[str, Any] = {"form": random_form(rng, dest.phase, year)}
    else:
        mis_id = str(dest.next_staff)
        dest.next_staff += 1
        extra = {}
    moved = leaving.copy(
        mis_id=mis_id, serial=new_serial(estate), enrolment=t_iso, leaving=None, **extra
    )
    dest.records(report)[mis_id] = moved
    estate._touched.setdefault((dest.dfe, report), set()).add(mis_id)
    if rng.random() < 0.5:
        retire(estate, school, report, leaving.mis_id)  # gone from the old school's export
    else:
        leaving.leaving = t_iso  # or still there with a leaving date
    out.append(
        Churn(
            "mover",
            dest.dfe,
            report,
            mis_id,
            moved.person_id,
            f"from {school.dfe}",
            from_dfe=school.dfe,
            from_mis_id=leaving.mis_id,
        )
    )


def _near_duplicate(
    estate: Estate, school: GenSchool, report: str, orig: GenRecord, out: list[Churn]
) -> None:
    """The same person entered again under a new MIS id, with the mistakes people make."""
    rng = estate.rng
    changes: dict[str, Any] = {}
    kinds: list[str] = []
    for kind in rng.sample(("typo", "dob_swap", "nickname", "dob_digit"), k=rng.randint(1, 2)):
        if kind == "typo":
            field_name = "surname" if rng.random() < 0.6 else "forename"
            changes[field_name] = with_typo(rng, getattr(orig, field_name).strip())
            kinds.append(f"typo in {field_name}")
        elif kind == "nickname" and orig.forename.strip() in nd.NICKNAMES:
            changes["forename"] = rng.choice(nd.NICKNAMES[orig.forename.strip()])
            kinds.append("nickname")
        elif kind in ("dob_swap", "dob_digit") and orig.dob:
            born = date.fromisoformat(orig.dob)
            if kind == "dob_swap" and born.day <= 12 and born.day != born.month:
                changes["dob"] = date(born.year, born.day, born.month).isoformat()
                kinds.append("day and month swapped")
            else:
                day = born.day + 1 if born.day < 28 else born.day - 1
                changes["dob"] = date(born.year, born.month, day).isoformat()
                kinds.append("date of birth one digit off")
    if not kinds:
        changes["surname"] = with_typo(rng, orig.surname.strip())
        kinds.append("typo in surname")
    pupil = report == "students"
    if pupil:
        mis_id = str(school.next_pupil)
        school.next_pupil += 1
    else:
        mis_id = str(school.next_staff)
        school.next_staff += 1
    dup = orig.copy(
        mis_id=mis_id, serial=new_serial(estate), enrolment=estate.today.isoformat(), **changes
    )
    school.records(report)[mis_id] = dup
    estate._touched.setdefault((school.dfe, report), set()).add(mis_id)
    if rng.random() < 0.5:  # re-entered after the old record was closed, or a plain duplicate
        retire(estate, school, report, orig.mis_id)
    out.append(
        Churn(
            "near_duplicate",
            school.dfe,
            report,
            mis_id,
            dup.person_id,
            ", ".join(kinds),
            from_mis_id=orig.mis_id,
        )
    )


def with_typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word + word[-1:]
    at = rng.randint(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.4:  # swap two neighbours
        out = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind < 0.7:  # drop one
        out = word[:at] + word[at + 1 :]
    else:  # double one
        out = word[:at] + word[at] + word[at:]
    return out if out != word else word[:at] + word[at + 1 :]
