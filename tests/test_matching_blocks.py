"""Blocking by the whole name: a date of birth keyed wholly wrong still finds a person whose name
is rare, in either order; a name many bear is left to the date and sound blocks."""

from __future__ import annotations

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
