"""The matching hazards: what makes a matcher link the wrong person or miss the right one, added
to a generated estate with the true person behind every record.

`generate_hazard_estate(seed, ...)` is `generate_estate` with day-0 populations the hazards need
(twins and triplets, very common names, boys named Muhammad known by a middle name, Sikh and
Welsh names). `advance_hazards(estate)` moves it on a day at a time: the ordinary churn of
`advance`, then per school the hazards of `HazardRates`, each listed in `estate.last_churn` as a
`Churn` of its own kind (`HAZARD_KINDS`) with the person behind the record, the earlier record
of the same person (`from_dfe`, `from_mis_id`) and the other person it may be taken for
(`related`). Accounts made or restored outside the MIS that day (a "User Request Single" made
before its record arrives; an operator restoring an unallocated account) are `Action`s in
`estate.actions`, to be applied before the day's runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from uso_tui.domain.names import normalise
from uso_tui.iris import datagen as dg
from uso_tui.iris import names_data as nd
from uso_tui.iris.datagen import Churn, ChurnRates, Estate, GenRecord, GenSchool

HAZARD_KINDS = (
    "twin",  # twins and triplets starting together, one perhaps requested under a shared name
    "cotwin",  # the co-twin of an account holder starts
    "restored_cotwin",  # the co-twin of a restored (non-MIS) account starts, sharing a name
    "requested",  # a starter whose account was requested first (forename or known-as name)
    "sibling",  # a brother or sister of an account holder, born 10 to 24 months apart
    "common_name",  # a new person with a very common name and a near date of birth
    "marriage",  # staff: the same person at another school, married (same forename and dob)
    "surname_change",  # a pupil at another school under a new family surname
    "middle_name",  # known by a middle name ("Muhammad" dropped)
    "sikh",  # Singh or Kaur against the family surname
    "welsh",  # Dafydd / David, Siôn / John
    "mover_la",  # to another school of the same local authority, sometimes with a slip
    "mover_cross_la",  # to a school of another local authority
    "date_slip",  # re-entered or moved with the date of birth mistyped
    "multi_error",  # re-entered or moved with two or three errors at once
)
# Kinds whose record is somebody else than any account holder (the rest are account holders).
NEW_PERSON_KINDS = frozenset(
    {"twin", "cotwin", "restored_cotwin", "requested", "sibling", "common_name"}
)


@dataclass(slots=True, frozen=True)
class Action:
    """Something done outside the MIS before the day's runs, for the person `person_id`.

    request: a "User Request Single" account (forename, surname, dob, no link) at `dfe`.
    restore: the person's unallocated account made active again at `dfe` as a non-MIS account.
    """

    kind: str
    dfe: str
    report: str
    person_id: int
    forename: str = ""
    surname: str = ""
    dob: str | None = None
    preferred: str = ""
    detail: str = ""


@dataclass(frozen=True)
class HazardRates:
    """Expected hazards per school per day."""

    twin: float = 0.2
    cotwin: float = 0.2
    restored_cotwin: float = 0.1
    requested: float = 0.3
    sibling: float = 0.2
    common_name: float = 0.2
    marriage: float = 0.1
    surname_change: float = 0.15
    middle_name: float = 0.15
    sikh: float = 0.1
    welsh: float = 0.1
    mover_la: float = 0.2
    mover_cross_la: float = 0.2
    date_slip: float = 0.2
    multi_error: float = 0.15

    def scaled(self, factor: float) -> HazardRates:
        return HazardRates(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


# ---------------------------------------------------------------- day 0


def generate_hazard_estate(
    seed: int = 0,
    n_schools: int = 12,
    las: Any = 2,
    *,
    today: date = dg.DEFAULT_TODAY,
    size: int | None = 250,
    secondary_share: float = 0.25,
) -> Estate:
    """An estate (see `generate_estate`) whose people include the populations the hazards
    draw on: about 1 in 100 pupils a twin or triplet, 2 in 100 people a very common name, and
    boys named Muhammad with a middle name, Sikh and Welsh names."""
    estate = dg.generate_estate(
        seed, n_schools, las, today=today, size=size, secondary_share=secondary_share
    )
    rng = estate.rng
    for school in estate.schools:
        for rec in list(school.students.values()):
            if rec.dob is None:
                continue
            roll = rng.random()
            if roll < 0.02:
                _rename_common(rng, rec)
            elif roll < 0.035 and rec.gender == "M":
                _rename_muhammad(rng, rec)
            elif roll < 0.045:
                _rename_sikh(rng, rec)
            elif roll < 0.055:
                _rename_welsh(rng, rec)
            elif roll < 0.065:
                _add_twins(estate, school, rec)
        for rec in list(school.staff.values()):
            roll = rng.random()
            if roll < 0.02:
                _rename_common(rng, rec)
            elif roll < 0.03:
                _rename_sikh(rng, rec)
            elif roll < 0.04:
                _rename_welsh(rng, rec)
    return estate


def _rename_common(rng: random.Random, rec: GenRecord) -> None:
    forename, surname, gender = rng.choice(nd.COMMON_NAMES)
    rec.forename, rec.surname, rec.gender = forename, surname, gender
    rec.preferred = None
    if rec.title:
        rec.title = "Mr" if gender == "M" else "Mrs"


def _rename_muhammad(rng: random.Random, rec: GenRecord) -> None:
    middle = rng.choice(nd.MUHAMMAD_MIDDLES)
    rec.surname = rng.choice(nd.MUSLIM_SURNAMES)
    rec.preferred = None
    if rng.random() < 0.3:
        rec.forename, rec.middle = f"Muhammad {middle}", None
    else:
        rec.forename, rec.middle = "Muhammad", middle


def _rename_sikh(rng: random.Random, rec: GenRecord) -> None:
    female = rec.gender == "F"
    rec.forename = rng.choice(nd.SIKH_FORENAMES_F if female else nd.SIKH_FORENAMES_M)
    rec.preferred = None
    singh = "Kaur" if female else "Singh"
    if rng.random() < 0.5:
        rec.surname, rec.middle = singh, None
    else:
        rec.surname, rec.middle = rng.choice(nd.SIKH_FAMILY), singh


def _rename_welsh(rng: random.Random, rec: GenRecord) -> None:
    forms = [w for w in nd.WELSH_FORMS if w[2] == rec.gender]
    welsh, english, _ = rng.choice(forms)
    rec.forename = welsh if rng.random() < 0.7 else english
    rec.preferred = None
    if rng.random() < 0.6:
        rec.surname = rng.choice(nd.WELSH_SURNAMES)


def _add_twins(estate: Estate, school: GenSchool, rec: GenRecord) -> None:
    """`rec` becomes the first of a set of twins or triplets; the others join it."""
    surname, members = estate.rng.choice(nd.TWIN_SETS)
    first, *others = members
    rec.forename, rec.gender, rec.preferred, rec.middle = first[0], first[1], first[2], first[3]
    rec.surname = surname
    for forename, gender, known_as, middle in others:
        twin = rec.copy(
            person_id=dg.new_person_id(estate),
            serial=dg.new_serial(estate),
            mis_id=_next_mis(school, "students"),
            forename=forename,
            gender=gender,
            preferred=known_as,
            middle=middle,
        )
        school.students[twin.mis_id] = twin


# ---------------------------------------------------------------- the days


def advance_hazards(
    estate: Estate,
    days: int = 1,
    *,
    rates: ChurnRates | None = None,
    hazards: HazardRates | None = None,
) -> list[Churn]:
    """`days` days of `advance`'s churn with the hazards on top, one day at a time; returns
    every change of those days (also in `estate.last_churn`), and leaves the accounts requested
    or restored outside the MIS in `estate.actions` (call with days=1 to apply them per day)."""
    hazards = hazards or HazardRates()
    out: list[Churn] = []
    actions: list[Action] = []
    for _ in range(days):
        out.extend(dg.advance(estate, 1, rates=rates))
        for school in estate.schools:
            for kind in HAZARD_KINDS:
                for _ in range(dg.draw_count(estate.rng, getattr(hazards, kind), 1)):
                    _SCENARIOS[kind](_Day(estate, school, out, actions))
    estate.last_churn = out
    estate.actions = actions
    return out


@dataclass
class _Day:
    """One hazard's context: the estate, the school it happens at, and where to list it."""

    estate: Estate
    school: GenSchool
    out: list[Churn]
    actions: list[Action]

    @property
    def rng(self) -> random.Random:
        return self.estate.rng

    @property
    def today(self) -> str:
        return self.estate.today.isoformat()

    def touched(self, school: GenSchool, report: str) -> set[str]:
        return self.estate._touched.setdefault((school.dfe, report), set())

    def current(
        self, report: str, test: Callable[[GenRecord], bool] | None = None
    ) -> GenRecord | None:
        """Somebody at this school now, unchanged today (with a date of birth, passing `test`),
        marked as changed; None if nobody is."""
        touched = self.touched(self.school, report)
        today = self.today
        found = [
            r
            for r in self.school.records(report).values()
            if r.leaving is None
            and r.enrolment <= today
            and r.dob is not None
            and r.mis_id not in touched
            and (test is None or test(r))
        ]
        if not found:
            return None
        rec = found[int(self.rng.random() * len(found))]
        touched.add(rec.mis_id)
        return rec

    def add(
        self,
        school: GenSchool,
        report: str,
        rec: GenRecord,
        kind: str,
        detail: str,
        *,
        before: GenRecord | None = None,
        from_dfe: str | None = None,
        related: int | None = None,
    ) -> None:
        school.records(report)[rec.mis_id] = rec
        self.touched(school, report).add(rec.mis_id)
        self.out.append(
            Churn(
                kind,
                school.dfe,
                report,
                rec.mis_id,
                rec.person_id,
                detail,
                from_dfe=from_dfe if before is not None else None,
                from_mis_id=before.mis_id if before is not None else None,
                related=related,
            )
        )

    def other_school(self, *, same_la: bool, pupil_phase: str | None) -> GenSchool | None:
        """Another school of this local authority (or of another one), of the same phase for
        pupils; None when there is none."""
        la = self.school.la
        pool = [
            s
            for s in self.estate.schools
            if s is not self.school
            and (s.la == la) == same_la
            and (pupil_phase is None or s.phase == pupil_phase)
        ]
        if not pool:
            return None
        return pool[int(self.rng.random() * len(pool))]

    def reappear(
        self,
        report: str,
        rec: GenRecord,
        kind: str,
        detail: str,
        *,
        where: str = "any",
        **changes: Any,
    ) -> GenRecord | None:
        """The person of `rec` in a new record (new MIS id) at another school ("la", "cross")
        or this one ("same"), with `changes`; the old record leaves (gone, or a leaving date).
        None for a mover with no school to move to."""
        rng = self.rng
        pupil = report == "students"
        if where == "any":
            roll = rng.random()
            where = "same" if roll < 0.25 else ("la" if roll < 0.7 else "cross")
        phase = self.school.phase if pupil else None
        dest = (
            self.school
            if where == "same"
            else self.other_school(same_la=where == "la", pupil_phase=phase)
        )
        if dest is None:
            if kind.startswith("mover"):
                return None  # nowhere to move to
            dest = self.school  # re-entered here instead
        extra: dict[str, Any] = {}
        if pupil and rec.year is not None:
            extra["form"] = dg.random_form(rng, dest.phase, rec.year)
        moved = rec.copy(
            mis_id=_next_mis(dest, report),
            serial=dg.new_serial(self.estate),
            enrolment=self.today,
            leaving=None,
            **extra,
            **changes,
        )
        if rng.random() < 0.5:
            dg.retire(self.estate, self.school, report, rec.mis_id)
        else:
            rec.leaving = self.today
        place = "here" if dest is self.school else f"at {dest.dfe}"
        self.add(
            dest, report, moved, kind, f"{detail} ({place})", before=rec, from_dfe=self.school.dfe
        )
        return moved

    def request(self, report: str, rec: GenRecord, forename: str, school: GenSchool) -> None:
        self.actions.append(
            Action(
                "request",
                school.dfe,
                report,
                rec.person_id,
                forename=forename,
                surname=rec.surname,
                dob=rec.dob,
                detail=f"requested as {forename} {rec.surname}",
            )
        )


def _next_mis(school: GenSchool, report: str) -> str:
    if report == "students":
        school.next_pupil += 1
        return str(school.next_pupil - 1)
    school.next_staff += 1
    return str(school.next_staff - 1)


def _new_pupil(
    day: _Day,
    *,
    year: int,
    dob: str,
    forename: str,
    surname: str,
    gender: str,
    middle: str | None = None,
    preferred: str | None = None,
) -> GenRecord:
    est, school = day.estate, day.school
    return GenRecord(
        dg.new_person_id(est),
        dg.new_serial(est),
        _next_mis(school, "students"),
        forename,
        surname,
        preferred,
        middle,
        dob,
        gender,
        day.today,
        None,
        year,
        dg.random_form(day.rng, school.phase, year),
    )


def year_of(dob: str, today: date) -> int:
    """The year group of a pupil born on `dob` (0: reception) in the academic year of `today`."""
    born = date.fromisoformat(dob)
    cohort = born.year if born.month >= 9 else born.year - 1
    return dg.academic_year(today) - 5 - cohort


def _fits(day: _Day, dob: str) -> int | None:
    year = year_of(dob, day.estate.today)
    return year if year in dg.year_groups(day.school.phase) else None


def _random_dob(day: _Day, year: int) -> str:
    start = dg.pupil_context(day.school.phase, day.estate.today).dob_start[year]
    return dg.iso_from_ordinal(start + int(day.rng.random() * 365))


_PARTNERS = {
    "Samuel": "Samantha",
    "Samantha": "Samuel",
    "Alexander": "Alexandra",
    "Alexandra": "Alexander",
    "Oliver": "Olivia",
    "Olivia": "Oliver",
    "Daniel": "Danielle",
    "Charlotte": "Charles",
    "Frederick": "Frederica",
    "Muhammad": "Muhammad",
    "Mohammed": "Mohammed",
}
_GENDER_OF = {"Samantha": "F", "Alexandra": "F", "Olivia": "F", "Danielle": "F", "Frederica": "F"}


def _twin_of(
    day: _Day, rec: GenRecord, kind: str, detail: str, *, known_as: str | None = None
) -> GenRecord:
    """A new co-twin of `rec` at this school: same surname, date of birth and year group."""
    rng = day.rng
    partner = _PARTNERS.get(rec.forename.split(" ")[0])
    if partner and rng.random() < 0.6:
        forename = partner
        gender = _GENDER_OF.get(partner, "M")
    else:
        gender = "F" if rng.random() < 0.5 else "M"
        forename, *_ = dg.person_names(rng.random, gender)
        if normalise(forename) == normalise(rec.forename):
            forename += "a" if gender == "F" else "o"
    middle = None
    if forename == rec.forename:  # Muhammad twins: told apart by the middle name
        middle = rng.choice([m for m in nd.MUHAMMAD_MIDDLES if m != rec.middle])
    if known_as and normalise(known_as) == normalise(forename):
        known_as = None  # Muhammad and Muhammad: the forename itself is shared
    twin = rec.copy(
        person_id=dg.new_person_id(day.estate),
        serial=dg.new_serial(day.estate),
        mis_id=_next_mis(day.school, "students"),
        forename=forename,
        gender=gender,
        middle=middle,
        preferred=known_as,
        enrolment=day.today,
        leaving=None,
        upn=None,
    )
    day.add(day.school, "students", twin, kind, detail, related=rec.person_id)
    return twin


# ---------------------------------------------------------------- the hazards


def _twin(day: _Day) -> None:
    rng = day.rng
    surname, members = rng.choice(nd.TWIN_SETS)
    year = rng.choice(dg.year_groups(day.school.phase))
    dob = _random_dob(day, year)
    recs = [
        _new_pupil(
            day, year=year, dob=dob, forename=f, surname=surname, gender=g, middle=m, preferred=p
        )
        for f, g, p, m in members
    ]
    requested = rng.choice(recs) if rng.random() < 0.75 else None
    later = None
    if rng.random() < 0.4:  # one starts later: a future starter of the same export
        later = requested if requested is not None and rng.random() < 0.5 else rng.choice(recs)
        later.enrolment = dg.iso_from_ordinal(day.estate.today.toordinal() + rng.randint(7, 40))
    if requested is not None:
        known_as = requested.preferred or requested.forename.split(" ")[0]
        day.request("students", requested, known_as, day.school)
    ids = [r.person_id for r in recs]
    for twin in recs:
        notes = [f"one of {len(recs)} ({' / '.join(x.forename for x in recs)})"]
        if twin is requested:
            notes.append(f"requested as {known_as}")
        if twin is later:
            notes.append(f"starts {twin.enrolment}")
        other = next(i for i in ids if i != twin.person_id)
        day.add(day.school, "students", twin, "twin", "; ".join(notes), related=other)


def _cotwin(day: _Day) -> None:
    rec = day.current("students")
    if rec is not None:
        known_as = rec.preferred if rec.preferred and day.rng.random() < 0.3 else None
        _twin_of(day, rec, "cotwin", f"co-twin of {rec.forename} ({rec.mis_id})", known_as=known_as)


def _restored_cotwin(day: _Day) -> None:
    """A pupil who left on an earlier day (whose account is unallocated) is restored by an
    operator as a non-MIS account; a co-twin answering to the same name starts."""
    school = day.school
    touched = day.touched(school, "students")
    gone = [
        (i, r)
        for i, (rep, r) in enumerate(school.gone)
        if rep == "students"
        and r.dob is not None
        and r.mis_id not in touched
        and r.mis_id not in school.students
    ]
    if not gone:
        return
    position, rec = gone[int(day.rng.random() * len(gone))]
    del school.gone[position]  # restored by hand: it does not come back as a returner
    touched.add(rec.mis_id)
    day.actions.append(
        Action(
            "restore",
            school.dfe,
            "students",
            rec.person_id,
            forename=rec.forename,
            surname=rec.surname,
            dob=rec.dob,
            preferred=rec.preferred or "",
            detail=f"restored after leaving (was {rec.mis_id})",
        )
    )
    known_as = rec.preferred or rec.forename.split(" ")[0]
    _twin_of(
        day,
        rec,
        "restored_cotwin",
        f"co-twin of restored {rec.forename} ({rec.mis_id})",
        known_as=known_as,
    )


def _requested(day: _Day) -> None:
    rng = day.rng
    pupil = rng.random() < 0.7
    report = "students" if pupil else "staff"
    rec = dg.new_starter(day.estate, day.school, pupil)
    forename = rec.forename
    if rng.random() < 0.5:
        nicks = nd.NICKNAMES.get(rec.forename)
        forename = rec.preferred or (rng.choice(nicks) if nicks else rec.forename)
    day.request(report, rec, forename, day.school)
    day.add(day.school, report, rec, "requested", f"requested as {forename}")


def _sibling(day: _Day) -> None:
    rng = day.rng
    older = day.current("students")
    if older is None:
        return
    born = date.fromisoformat(older.dob)  # type: ignore[arg-type]
    first = rng.choice((-1, 1))
    exact = rng.random() < 0.3  # born a year apart to the day: a "year out" to a matcher
    gap = 0 if exact else rng.randint(300, 730)
    for sign in (first, -first):
        if exact:
            dob = f"{born.year + sign:04d}-{older.dob[5:]}"  # type: ignore[index]
            if not _valid(dob):
                continue
        else:
            dob = dg.iso_from_ordinal(born.toordinal() + sign * gap)
        year = _fits(day, dob)
        if year is not None:
            break
    else:
        return
    gender = "F" if rng.random() < 0.5 else "M"
    forename, _, middle, preferred, _ = dg.person_names(rng.random, gender)
    sib = _new_pupil(
        day,
        year=year,
        dob=dob,
        forename=forename,
        surname=older.surname,
        gender=gender,
        middle=middle,
        preferred=preferred,
    )
    apart = "a year to the day" if exact else f"{gap} days"
    day.add(
        day.school,
        "students",
        sib,
        "sibling",
        f"sibling of {older.forename} ({older.mis_id}), {apart} apart",
        related=older.person_id,
    )


def _common_name(day: _Day) -> None:
    rng = day.rng
    forename, surname, gender = rng.choice(nd.COMMON_NAMES)
    key = (normalise(forename), normalise(surname))
    holders = [
        r
        for s in day.estate.peers(day.school.la, day.school.phase)
        for r in s.students.values()
        if r.dob
        and r.enrolment <= day.today
        and (normalise(r.forename), normalise(r.surname)) == key
    ]
    holder = rng.choice(holders) if holders else None
    dob = year = None
    if holder is not None:
        slipped = slip_dob(rng, holder.dob)  # type: ignore[arg-type]
        if slipped is not None:
            dob = slipped[0]
            year = _fits(day, dob)
    if year is None:
        year = rng.choice(dg.year_groups(day.school.phase))
        dob = _random_dob(day, year)
        holder = None
    rec = _new_pupil(day, year=year, dob=dob, forename=forename, surname=surname, gender=gender)  # type: ignore[arg-type]
    detail = f"near {holder.mis_id} ({holder.dob})" if holder else "no namesake yet"
    day.add(
        day.school,
        "students",
        rec,
        "common_name",
        detail,
        related=holder.person_id if holder else None,
    )


def _marriage(day: _Day) -> None:
    rng = day.rng
    rec = day.current("staff", lambda r: r.gender == "F" or rng.random() < 0.15)
    if rec is None:
        return
    new = rng.choice(dg.ENGLISH_SURNAMES)
    if new == rec.surname:
        new = "Marsh"
    if rng.random() < 0.2:
        new = f"{rec.surname}-{new}"
    where = "same" if rng.random() < 0.2 else ("la" if rng.random() < 0.6 else "cross")
    day.reappear(
        "staff",
        rec,
        "marriage",
        f"{rec.surname!r} -> {new!r}",
        where=where,
        surname=new,
        title="Mrs" if rec.gender == "F" else rec.title,
    )


def _surname_change(day: _Day) -> None:
    rng = day.rng
    rec = day.current("students")
    if rec is None:
        return
    other = rng.choice(dg.ENGLISH_SURNAMES)
    new = f"{rec.surname}-{other}" if rng.random() < 0.3 else other
    if normalise(new) == normalise(rec.surname):
        new = rec.surname + "-Smith"
    where = "la" if rng.random() < 0.6 else "cross"
    day.reappear(
        "students", rec, "surname_change", f"{rec.surname!r} -> {new!r}", where=where, surname=new
    )


def _middle_name(day: _Day) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.85 else "staff"
    rec = day.current(report, lambda r: bool(_other_names(r)))
    if rec is None:
        return
    known = _other_names(rec)[0]
    first = rec.forename.strip().split(" ")[0]
    middle = first if rng.random() < 0.5 else None  # "Muhammad" kept as a middle name, or dropped
    day.reappear(
        report,
        rec,
        "middle_name",
        f"forename {rec.forename!r} -> {known!r}",
        forename=known,
        middle=middle,
        preferred=None,
    )


def _other_names(rec: GenRecord) -> list[str]:
    """The names a person could go by besides the first forename: a second forename
    ("Muhammad Ali"), then the middle names."""
    names = [*rec.forename.strip().split(" ")[1:], *(rec.middle or "").split(" ")]
    first = rec.forename.strip().split(" ")[0]
    return [n for n in names if n and n != first]


def _sikh(day: _Day) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.8 else "staff"
    singh = {"Singh", "Kaur"}
    rec = day.current(report, lambda r: r.surname in singh or r.middle in singh)
    if rec is None:
        return
    if rec.surname in singh:
        changes = {"surname": rng.choice(nd.SIKH_FAMILY), "middle": rec.surname}
    else:
        changes = {"surname": rec.middle, "middle": None}
    day.reappear(
        report, rec, "sikh", f"surname {rec.surname!r} -> {changes['surname']!r}", **changes
    )


_WELSH = {w: e for w, e, _ in nd.WELSH_FORMS}
_ENGLISH = {e: w for w, e, _ in nd.WELSH_FORMS}


def _welsh(day: _Day) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.8 else "staff"
    rec = day.current(report, lambda r: r.forename in _WELSH or r.forename in _ENGLISH)
    if rec is None:
        return
    other = _WELSH.get(rec.forename) or _ENGLISH[rec.forename]
    day.reappear(report, rec, "welsh", f"forename {rec.forename!r} -> {other!r}", forename=other)


def _mover(day: _Day, cross: bool) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.8 else "staff"
    rec = day.current(report)
    if rec is None:
        return
    changes: dict[str, Any] = {}
    notes = []
    if rng.random() < 0.3:
        note, changes = _errors(rng, rec, 1)
        notes.append(note)
    if cross and report == "students" and rng.random() < 0.1:
        changes["upn"] = ""  # not entered yet at the new school
        notes.append("no UPN sent")
    kind = "mover_cross_la" if cross else "mover_la"
    day.reappear(
        report,
        rec,
        kind,
        "; ".join(notes) or "same details",
        where="cross" if cross else "la",
        **changes,
    )


def _date_slip(day: _Day) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.8 else "staff"
    rec = day.current(report)
    if rec is None:
        return
    slipped = slip_dob(rng, rec.dob)  # type: ignore[arg-type]
    if slipped is None:
        return
    dob, how = slipped
    day.reappear(report, rec, "date_slip", f"{how}: {rec.dob} -> {dob}", dob=dob)


def _multi_error(day: _Day) -> None:
    rng = day.rng
    report = "students" if rng.random() < 0.8 else "staff"
    rec = day.current(report)
    if rec is None:
        return
    note, changes = _errors(rng, rec, rng.choice((2, 2, 3)))
    day.reappear(report, rec, "multi_error", note, **changes)


def _errors(rng: random.Random, rec: GenRecord, count: int) -> tuple[str, dict[str, Any]]:
    """`count` different keying errors (or changes) of a record: (what, the changed fields)."""
    changes: dict[str, Any] = {}
    notes: list[str] = []
    kinds = ["forename_typo", "surname_typo", "nickname", "dob", "surname_change", "middle"]
    rng.shuffle(kinds)
    for kind in kinds:
        if len(notes) == count:
            break
        if kind == "forename_typo" and "forename" not in changes:
            changes["forename"] = dg.with_typo(rng, rec.forename.strip())
            notes.append("typo in forename")
        elif kind == "surname_typo" and "surname" not in changes:
            changes["surname"] = dg.with_typo(rng, rec.surname.strip())
            notes.append("typo in surname")
        elif kind == "nickname" and "forename" not in changes and rec.forename in nd.NICKNAMES:
            changes["forename"] = rng.choice(nd.NICKNAMES[rec.forename])
            notes.append("nickname as forename")
        elif kind == "dob" and rec.dob:
            slipped = slip_dob(rng, rec.dob)
            if slipped:
                changes["dob"] = slipped[0]
                notes.append(slipped[1])
        elif kind == "surname_change" and "surname" not in changes:
            changes["surname"] = f"{rec.surname.strip()}-{rng.choice(dg.ENGLISH_SURNAMES)}"
            notes.append("surname double-barrelled")
        elif kind == "middle" and rec.middle and "forename" not in changes:
            changes["forename"] = rec.middle.split(" ")[0]
            changes["middle"] = None
            notes.append("middle name as forename")
    return ", ".join(notes), changes


DOB_SLIPS = (
    "day and month swapped",
    "one digit",
    "two digits transposed",
    "a day out",
    "a month out",
    "a year out",
)


def slip_dob(rng: random.Random, dob: str) -> tuple[str, str] | None:
    """A date of birth keyed wrongly, as people do: (the slipped date, how), or None when no
    slip of the tried kinds gives another valid date."""
    born = date.fromisoformat(dob)
    for how in rng.sample(DOB_SLIPS, k=len(DOB_SLIPS)):
        got: str | None = None
        if how == "day and month swapped":
            if born.day <= 12 and born.day != born.month:
                got = date(born.year, born.day, born.month).isoformat()
        elif how == "one digit":
            at = rng.choice((3, 6, 9))  # the last digit of the year, month or day
            got = dob[:at] + str((int(dob[at]) + rng.randint(1, 9)) % 10) + dob[at + 1 :]
        elif how == "two digits transposed":
            at = rng.choice((2, 8))  # within the year's last two, or the day
            got = dob[:at] + dob[at + 1] + dob[at] + dob[at + 2 :]
        elif how == "a day out":
            got = (born + timedelta(days=rng.choice((-1, 1)))).isoformat()
        elif how == "a month out":
            month = born.month + rng.choice((-1, 1))
            if 1 <= month <= 12:
                got = f"{born.year:04d}-{month:02d}-{born.day:02d}"
        else:
            got = f"{born.year + rng.choice((-1, 1)):04d}-{born.month:02d}-{born.day:02d}"
        if got and got != dob and _valid(got):
            return got, how
    return None


def _valid(iso: str) -> bool:
    try:
        date.fromisoformat(iso)
    except ValueError:
        return False
    return True


_SCENARIOS: dict[str, Callable[[_Day], None]] = {
    "twin": _twin,
    "cotwin": _cotwin,
    "restored_cotwin": _restored_cotwin,
    "requested": _requested,
    "sibling": _sibling,
    "common_name": _common_name,
    "marriage": _marriage,
    "surname_change": _surname_change,
    "middle_name": _middle_name,
    "sikh": _sikh,
    "welsh": _welsh,
    "mover_la": lambda day: _mover(day, cross=False),
    "mover_cross_la": lambda day: _mover(day, cross=True),
    "date_slip": _date_slip,
    "multi_error": _multi_error,
}
