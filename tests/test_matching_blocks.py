"""Blocking by the whole name: a date of birth keyed wholly wrong still finds a person whose name
is rare, in either order; a name many bear is left to the date and sound blocks."""

from __future__ import annotations

import dataclasses

import pytest
from factories import OTHER, TODAY, acc, export, outcome_of, rec, settings, snap

from uso_tui.sync.plan import plan


def _staff(username: str, forename: str, surname: str, dob: str, mis_id: str):
    return acc(username, forename, surname, dob, school=OTHER, mis_id=mis_id, role="staff")


def _others(count: int, forename: str, surname: str) -> list:
    """`count` members of staff with one name, each born on another day of 1960-1989."""
    return [
        _staff(
            f"o{n}.204",
            forename,
            surname,
            f"{1960 + n % 30}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            f"o{n}",
        )
        for n in range(count)
    ]


# A local authority's staff: 20,000 accounts with 200 x 100 names (how rare a name is, is
# counted among them).
_FORE = [f"Fore{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(200)]
_SUR = [f"Sur{chr(97 + n // 26)}{chr(97 + n % 26)}" for n in range(100)]
LA_STAFF = [
    _staff(
        f"la{n}.204",
        _FORE[n % 200],
        _SUR[n // 200],
        f"19{60 + n % 40}-01-{1 + n % 28:02d}",
        f"la{n}",
    )
    for n in range(20_000)
]


def _plan_staff(record, pool):
    return plan(export(record, report="staff"), snap(pool=pool), TODAY, settings())


def test_a_rare_name_with_a_wholly_different_date_of_birth_is_a_candidate():
    before = _staff("xokonkwo.204", "Ximena", "Okonkwo-Thistlewood", "1971-03-05", "9")
    pool = [before, *LA_STAFF]
    record = rec("s1", "Ximena", "Okonkwo-Thistlewood", "1987-11-23", report="staff")
    planned = _plan_staff(record, pool)
    assert outcome_of(planned, "s1").outcome == "needs_matching"
    best = planned.new_cases[0].candidates[0]
    assert best.username == "xokonkwo.204"
    assert [f for f in best.evidence if f[0] == "dob"][0][:2] == ["dob", "different"]


def test_a_rare_name_in_the_wrong_order_with_another_date_is_a_candidate():
    before = _staff("xokonkwo.204", "Ximena", "Okonkwo-Thistlewood", "1971-03-05", "9")
    record = rec("s1", "Okonkwo-Thistlewood", "Ximena", "1987-11-23", report="staff")
    planned = _plan_staff(record, [before, *LA_STAFF])
    assert outcome_of(planned, "s1").outcome == "needs_matching"
    assert planned.new_cases[0].candidates[0].username == "xokonkwo.204"


def test_common_names_keyed_the_wrong_way_round_with_another_date_are_a_candidate():
    # John is a common forename and Smith a common surname, so the record's names in their own
    # order say little; the account holds them the other way round, where each is rare
    before = _staff("sjohn.204", "Smith", "John", "1971-03-05", "9")
    common = [
        *(_staff(f"j{n}.204", "John", f"Surname{n}", "1970-01-01", f"j{n}") for n in range(300)),
        *(_staff(f"s{n}.204", f"Forename{n}", "Smith", "1970-01-01", f"s{n}") for n in range(300)),
    ]
    record = rec("s1", "John", "Smith", "1987-11-23", report="staff")
    planned = _plan_staff(record, [before, *common, *LA_STAFF])
    assert outcome_of(planned, "s1").outcome == "needs_matching"
    assert planned.new_cases[0].candidates[0].username == "sjohn.204"


# 2,000 members of staff whose date of birth was not known, keyed as 1 January 2000 (names of
# the LA's usual kind), beside the LA's staff.
PLACEHOLDER = "2000-01-01"
UNKNOWN_DATES = [
    _staff(f"p{n}.204", _FORE[(n * 7) % 200], _SUR[(n * 3) % 100], PLACEHOLDER, f"p{n}")
    for n in range(2_000)
]


def test_a_placeholder_date_many_hold_weighs_little():
    before = _staff("xokonkwo.204", "Ximena", "Okonkwo-Thistlewood", PLACEHOLDER, "9")
    pool = [before, *UNKNOWN_DATES, *LA_STAFF]
    # a rare name on the placeholder date: a candidate by its name, the date adding little
    planned = _plan_staff(
        rec("s1", "Ximena", "Okonkwo-Thistlewood", PLACEHOLDER, report="staff"), pool
    )
    best = planned.new_cases[0].candidates[0]
    assert best.username == "xokonkwo.204"
    assert [f for f in best.evidence if f[0] == "dob"][0][1:] < ["equal", 4.0]
    # a slip of a common name on it is a new person, not a case against every holder of the date
    lookalike = UNKNOWN_DATES[0]
    record = rec("s2", lookalike.forename + "e", lookalike.surname, PLACEHOLDER, report="staff")
    assert outcome_of(_plan_staff(record, pool), "s2").outcome == "created"


def test_a_placeholder_date_is_no_block():
    from uso_tui.sync.matching import CandidateIndex

    index = CandidateIndex([*UNKNOWN_DATES, *LA_STAFF])
    record = rec("s1", "Quentin", "Zabrowski", PLACEHOLDER, report="staff")
    assert len(index._block(record)) < 50  # not the 2,000 holders of the date
    # a real date is still a block, whatever the names
    real = rec("s2", "Quentin", "Zabrowski", LA_STAFF[0].dob, report="staff")
    assert {LA_STAFF[0].username} <= {index.accounts[p].username for p in index._block(real)}


# 40 pupils of the LA keyed with one dummy UPN, and 300 Olivia Smiths (a common name).
DUMMY_UPN = "0000000000000"
DUMMIES = [
    acc(f"d{n}.204", _FORE[n], _SUR[n % 100], f"2014-0{1 + n % 9}-1{n % 9}", school=OTHER,
        mis_id=f"d{n}", extra={"upn": DUMMY_UPN})
    for n in range(40)
]  # fmt: skip
SMITHS = [
    acc(f"s{n}.204", "Olivia", "Smith", f"20{10 + n % 8}-0{1 + n % 9}-2{n % 8}", school=OTHER,
        mis_id=f"s{n}", extra={"upn": f"S{n:012d}"})
    for n in range(300)
]  # fmt: skip


def _plan_pupil(record, pool):
    return plan(export(record), snap(pool=pool), TODAY, settings())


def test_a_dummy_upn_on_the_record_is_no_evidence_against_the_account():
    mover = acc("osmith.204", "Olivia", "Smith", "2015-03-04", school=OTHER, mis_id="7",
                extra={"upn": "A123456789012"})  # fmt: skip
    record = rec("p1", "Olivia", "Smith", "2015-03-04", upn=DUMMY_UPN)
    planned = _plan_pupil(record, [mover, *DUMMIES, *SMITHS])
    assert outcome_of(planned, "p1").outcome == "needs_matching"
    best = planned.new_cases[0].candidates[0]
    assert best.username == "osmith.204"
    assert "upn" not in [field[0] for field in best.evidence]
    # nor evidence for those who share it
    assert not {c.username for c in planned.new_cases[0].candidates} & {d.username for d in DUMMIES}


def test_a_dummy_upn_on_the_account_is_no_evidence_against_the_record():
    mover = acc("osmith.204", "Olivia", "Smith", "2015-03-04", school=OTHER, mis_id="7",
                extra={"upn": DUMMY_UPN})  # fmt: skip
    record = rec("p1", "Olivia", "Smith", "2015-03-04", upn="A123456789012")
    planned = _plan_pupil(record, [mover, *DUMMIES, *SMITHS])
    assert outcome_of(planned, "p1").outcome == "needs_matching"
    assert planned.new_cases[0].candidates[0].username == "osmith.204"


def test_a_dummy_upn_is_not_looked_for_across_the_store():
    """The store-wide mover lookup is not asked for a UPN the LA holds as a dummy (what it found
    would only be thrown away); a real UPN is still asked for."""
    asked: list[set[str]] = []

    def wide(role, upns, name_dobs):
        asked.append(set(upns))
        return []

    for upn, wanted in ((DUMMY_UPN, set()), ("A123456789012", {"A123456789012"})):
        asked.clear()
        record = rec("p1", "Olivia", "Smith", "2015-03-04", upn=upn)
        snapshot = dataclasses.replace(snap(pool=[*DUMMIES, *SMITHS]), wide=wide)
        plan(export(record), snapshot, TODAY, settings())
        assert asked == [wanted]


def test_a_name_many_bear_with_another_date_of_birth_is_a_new_person():
    pool = [*_others(40, "Muhammad", "Khan"), *LA_STAFF]
    record = rec("s1", "Muhammad", "Khan", "1999-12-31", report="staff")
    planned = _plan_staff(record, pool)
    assert outcome_of(planned, "s1").outcome == "created"


def test_a_date_with_two_digits_exchanged_finds_the_account():
    # 1921 keyed for 1912, and a slip in the surname: no block of the date's own or its one-digit
    # variants holds the account, the exchanged digits' block does
    before = _staff("amason.204", "Amy", "Mason", "1912-11-26", "9")
    record = rec("s1", "Amy", "Masno", "1921-11-26", report="staff")
    planned = _plan_staff(record, [before])
    assert outcome_of(planned, "s1").outcome == "needs_matching"
    best = planned.new_cases[0].candidates[0]
    assert best.username == "amason.204"
    assert ["dob", "transposed"] in [field[:2] for field in best.evidence]


@pytest.mark.parametrize(
    ("before", "keyed"),
    [
        ("1933-01-22", "1933-02-12"),  # keyed 19330122: the month's last digit and the day's first
        ("1971-01-21", "1971-11-20"),  # keyed 21011971: the day's last digit and the month's first
    ],
)
def test_two_digits_exchanged_across_day_and_month_as_keyed_find_the_account(before, keyed):
    # neighbours as a date is keyed, year first or day first, though not in the ISO form; with a
    # slip in the surname, so the whole-name block does not hold the account either
    account = _staff("zszep.204", "Zoe", "Szepessy", before, "9")
    record = rec("s1", "Zoe", "Szepesy", keyed, report="staff")
    planned = _plan_staff(record, [account, *LA_STAFF])
    assert outcome_of(planned, "s1").outcome == "needs_matching"
    best = planned.new_cases[0].candidates[0]
    assert best.username == "zszep.204"
    assert ["dob", "transposed"] in [field[:2] for field in best.evidence]


def test_the_bound_drops_only_accounts_that_could_not_reach_the_least_evidence():
    """scored(min_bits) skips accounts on UPN, date and surname before weighing the rest: it
    must keep exactly those a full weighing keeps, here on a churned estate with every hazard
    and at several thresholds (the lower ones keep many near misses)."""
    from uso_tui.iris.hazards import HazardRates, advance_hazards, generate_hazard_estate
    from uso_tui.iris.parse import PARSERS
    from uso_tui.sync.matching import CandidateIndex
    from uso_tui.sync.plan import account_from_record

    estate = generate_hazard_estate(5, 6, 1, today=TODAY, size=120)
    pools: dict[str, list] = {"students": [], "staff": []}
    for school in estate.schools:
        for report, pool in pools.items():
            for row in estate.iris_records(school.dfe, report):
                record = PARSERS[report](row)
                if record.forename and record.surname and record.dob:
                    pool.append(account_from_record(record, school.dfe, f"u{len(pool)}{report}"))
    advance_hazards(estate, days=3, hazards=HazardRates().scaled(3))
    compared = kept = 0
    for report, pool in pools.items():
        index = CandidateIndex(pool)
        for school in estate.schools:
            for row in estate.iris_records(school.dfe, report):
                record = PARSERS[report](row)
                full = index.scored(record)
                for least in (-5.0, 5.0, 15.0):
                    bounded = index.scored(record, min_bits=least)
                    expected = [(s.account.username, s.bits) for s in full if s.bits >= least]
                    assert [(s.account.username, s.bits) for s in bounded] == expected
                    compared += 1
                    kept += len(expected)
    assert compared > 1000 and kept > 1000
