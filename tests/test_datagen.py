"""The data generator: deterministic, realistic, and every kind of churn with its ground truth."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta

import pytest

from uso_tui.domain.names import normalise
from uso_tui.iris.datagen import ChurnRates, advance, generate_estate
from uso_tui.iris.parse import parse_employee, parse_student

TODAY = date(2026, 3, 2)
KINDS = {
    "starter",
    "future_starter",
    "leaver_absent",
    "leaver_dated",
    "name_change",
    "mover",
    "missing_dob",
    "near_duplicate",
    "returner",
}


def snapshot(estate) -> dict:
    return {
        (s.dfe, rep): estate.iris_records(s.dfe, rep)
        for s in estate.schools
        for rep in ("students", "staff")
    }


def test_same_seed_same_estate_and_churn() -> None:
    first = generate_estate(7, 6, 2, today=TODAY)
    second = generate_estate(7, 6, 2, today=TODAY)
    assert snapshot(first) == snapshot(second)
    assert [(s.dfe, s.name, s.client_id, s.secret) for s in first.schools] == [
        (s.dfe, s.name, s.client_id, s.secret) for s in second.schools
    ]
    assert advance(first, days=2) == advance(second, days=2)
    assert snapshot(first) == snapshot(second)
    other_seed = generate_estate(8, 6, 2, today=TODAY)
    assert snapshot(other_seed) != snapshot(first)


def test_schools_and_sizes() -> None:
    estate = generate_estate(1, 40, ["204", "811", "330"], today=TODAY)
    dfes = [s.dfe for s in estate.schools]
    assert len(set(dfes)) == 40
    assert all(re.fullmatch(r"(204|811|330)-\d{4}", d) for d in dfes)
    assert estate.las == ["204", "330", "811"]
    phases = Counter(s.phase for s in estate.schools)
    assert phases["primary"] > 0 and phases["secondary"] > 0
    for school in estate.schools:
        assert 50 <= school.size <= 3000
        establishment = int(school.dfe[4:])
        assert (2000 <= establishment < 4000) == (school.phase == "primary")
        assert school.mis in ("iSAMS", "Ed:gen") and school.client_id and len(school.secret) >= 32
    sized = generate_estate(1, 3, 1, today=TODAY, size=500)
    assert [s.size for s in sized.schools] == [500, 500, 500]


def test_names_of_many_origins() -> None:
    estate = generate_estate(3, 30, 3, today=TODAY, size=400)
    names = [
        r.forename.strip() + " " + r.surname
        for s in estate.schools
        for recs in (s.students, s.staff)
        for r in recs.values()
    ]
    text = "\n".join(names)
    assert "'" in text  # O'Brien, D'Arcy
    assert re.search(r"\w-\w", text)  # Adebayo-Okafor, double-barrelled
    assert any(ord(c) > 127 for c in text)  # Zoë, Seán, Nguyễn, Łukasz
    assert re.search(r" \S+ \S+", text)  # Ní Bhriain, Bonham Carter
    assert any(name.split(" ", 1)[1].isupper() and len(name) > 4 for name in names)  # capitals
    assert len(set(names)) > 0.45 * len(names)  # common names repeat, as in real schools
    assert all(normalise(n) for n in names)
    preferred = [r.preferred for s in estate.schools for r in s.students.values() if r.preferred]
    assert len(preferred) > 50


def test_dates_of_birth_match_year_groups() -> None:
    estate = generate_estate(5, 10, 2, today=TODAY, issues=False)
    for school in estate.schools:
        for row in estate.iris_records(school.dfe, "students"):
            rec = parse_student(row)
            year = int(row["yearGroup"]) if row["yearGroup"] != "R" else 0
            born = date.fromisoformat(rec.dob)
            # Year N (academic year starting Sept 2025): born Sept (2020-N) to Aug (2021-N)
            assert date(2020 - year, 9, 1) <= born <= date(2021 - year, 8, 31)
            assert rec.enrolment_date <= TODAY.isoformat()
            assert (0 <= year <= 6) if school.phase == "primary" else (7 <= year <= 13)
        for row in estate.iris_records(school.dfe, "staff"):
            rec = parse_employee(row)
            age = (TODAY - date.fromisoformat(rec.dob)).days / 365.25
            assert 21 < age < 67
            assert isinstance(row["id"], int)
            assert rec.dob < rec.enrolment_date <= TODAY.isoformat()


def test_iris_json_shapes() -> None:
    estate = generate_estate(2, 8, 2, today=TODAY)
    isams = next(s for s in estate.schools if s.mis == "iSAMS")
    student_row = estate.iris_records(isams.dfe, "students")[0]
    assert {
        "schoolId",
        "forename",
        "surname",
        "preferredName",
        "middlenames",
        "dob",
        "gender",
        "yearGroup",
        "formGroup",
        "enrolmentDate",
        "leavingDate",
        "uniquePupilNumber",
        "schoolEmailAddress",
        "personGuid",
    } <= set(student_row)
    assert student_row["dob"].endswith("T00:00:00")
    staff_row = estate.iris_records(isams.dfe, "staff")[0]
    assert {
        "id",
        "personGuid",
        "title",
        "forename",
        "surname",
        "preferredName",
        "middleNames",
        "dateOfBirth",
        "enrolmentDate",
        "leavingDate",
        "schoolEmailAddress",
        "schoolInitials",
        "systemStatus",
        "isTeachingStaff",
    } <= set(staff_row)


def test_every_kind_of_churn_with_truth() -> None:
    estate = generate_estate(11, 12, 2, today=TODAY, size=300)
    before = estate.truth()
    persons_before = set(before.values())
    churn = advance(estate, days=1, today=TODAY + timedelta(days=1), rates=ChurnRates().scaled(4))
    assert estate.today == TODAY + timedelta(days=1) and estate.day == 1
    assert churn == estate.last_churn
    kinds = Counter(c.kind for c in churn)
    assert KINDS - {"returner"} <= set(kinds), kinds  # returners need earlier leavers
    truth = estate.truth()
    t_iso = estate.today.isoformat()
    for change in churn:
        school = estate.school(change.dfe)
        rec = school.records(change.report).get(change.mis_id)
        if change.kind in ("leaver_absent", "archived"):
            assert rec is None
            assert (
                estate.person_of(change.dfe, change.report, change.mis_id)
                == before[(change.dfe, change.report, change.mis_id)]
            )
            continue
        assert (
            rec is not None
            and truth[(change.dfe, change.report, change.mis_id)] == change.person_id
        )
        if change.kind == "starter":
            assert change.person_id not in persons_before and rec.enrolment == t_iso
        elif change.kind == "future_starter":
            assert rec.enrolment > t_iso
        elif change.kind == "leaver_dated":
            assert rec.leaving <= t_iso
        elif change.kind == "missing_dob":
            assert rec.dob is None
        elif change.kind == "name_change":
            assert (change.dfe, change.report, change.mis_id) in before
        elif change.kind == "mover":
            assert (
                change.from_dfe != change.dfe and change.from_dfe[:3] == change.dfe[:3]
            )  # same local authority
            assert before[(change.from_dfe, change.report, change.from_mis_id)] == change.person_id
            assert (
                change.dfe,
                change.report,
                change.mis_id,
            ) not in before  # a new MIS id at the new school
            old = estate.school(change.from_dfe).records(change.report).get(change.from_mis_id)
            assert old is None or old.leaving == t_iso
        elif change.kind == "near_duplicate":
            assert before[(change.dfe, change.report, change.from_mis_id)] == change.person_id
            assert change.mis_id != change.from_mis_id and change.detail
    # Leavers come back on a later day with their old MIS id (restore).
    churn2 = advance(estate, days=5, rates=ChurnRates().scaled(6))
    returners = [c for c in churn2 if c.kind == "returner"]
    assert returners
    for change in returners:
        assert estate.person_of(change.dfe, change.report, change.mis_id) == change.person_id


def test_near_duplicates_look_alike() -> None:
    estate = generate_estate(4, 6, 1, today=TODAY, size=600)
    churn = advance(
        estate,
        rates=ChurnRates(
            **{
                k: 0.0
                for k in (
                    "starters",
                    "future_starters",
                    "leavers_absent",
                    "leavers_dated",
                    "name_changes",
                    "movers",
                    "missing_dob",
                    "returners",
                )
            },
            near_duplicates=0.02,
        ),
    )
    assert churn and {c.kind for c in churn} == {"near_duplicate"}
    details = " ".join(c.detail for c in churn)
    assert "typo" in details
    assert "swapped" in details or "one digit off" in details
    for change in churn:
        dup = estate.school(change.dfe).records(change.report)[change.mis_id]
        assert dup.person_id == change.person_id


@pytest.mark.parametrize("las", [0, ["2041"], ["ab1"]])
def test_bad_local_authorities(las) -> None:
    if las == 0:
        assert len(generate_estate(1, 2, las, today=TODAY).las) == 1
    else:
        with pytest.raises(ValueError):
            generate_estate(1, 2, las, today=TODAY)
