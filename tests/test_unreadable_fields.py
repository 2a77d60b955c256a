"""A field sent in a form its parser cannot read (a list, an object, a number for a name, true
for a year group): the record is invalid and its account untouched (DESIGN rule 2, and "a broken
export changes nothing"), never read as sent empty, which cleared the field from the account."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from factories import DFE, Env, iris_student

from uso_tui.iris.parse import parse_student, used_fields

NOW = datetime(2026, 3, 10, 9, 30, 0)
AMY = iris_student("1", "Amy", "Jones", "2015-04-02", yearGroup=5, preferredName="Ames")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11", yearGroup=6, gender="M")


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path / "store")


def _account(env: Env, forename: str):
    (account,) = [a for a in env.store.school_state(DFE).accounts if a.forename == forename]
    return account


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("yearGroup", [5], "yearGroup (a list)"),
        ("yearGroup", {"id": 5}, "yearGroup (an object)"),
        ("yearGroup", True, "yearGroup (true/false)"),
        ("preferredName", 7, "preferredName (a number)"),
        ("preferredName", ["Ames"], "preferredName (a list)"),
        ("uniquePupilNumber", {"upn": "A1"}, "uniquePupilNumber (an object)"),
        ("leavingDate", ["2026-03-01"], "leavingDate (a list)"),
    ],
)
async def test_a_linked_record_with_an_unreadable_field_leaves_its_account_as_it_was(
    env, field, value, said
):
    env.add_school(students=[AMY, BOB])
    first = await env.run(now=NOW)
    assert first.run.counts["created"] == 2
    before = _account(env, "Amy")
    env.set_students(DFE, [{**AMY, field: value}, BOB])
    res = await env.run(now=NOW + timedelta(days=1))
    assert res.run.status == "succeeded", res.run.error
    assert res.run.counts["invalid"] == 1 and res.run.counts["updated"] == 0
    assert _account(env, "Amy") == before
    rows = {r["record"]["mis_id"]: r for r in env.store.processed_file(res.run.run_id).records}
    assert rows["1"]["outcome"] == "invalid"
    assert rows["1"]["reason"] == f"unreadable {said}; its account is left untouched"


async def test_a_new_record_with_an_unreadable_field_creates_nothing(env):
    env.add_school(students=[AMY, {**BOB, "gender": {"code": "M"}, "formGroup": [1, 2]}])
    res = await env.run(now=NOW)
    assert res.run.counts["created"] == 1 and res.run.counts["invalid"] == 1
    rows = {r["record"]["mis_id"]: r for r in env.store.processed_file(res.run.run_id).records}
    assert rows["2"]["reason"] == "unreadable gender (an object), formGroup (a list)"


def test_readable_forms_stay_readable():
    """What IRIS sends in more than one form is read as before: a year group as a number, a
    date of birth as its digits, null for a field it leaves empty."""
    keep = used_fields("students")
    doc = {
        **AMY,
        "yearGroup": 7.0,
        "dob": 20150402,
        "enrolmentDate": 20260901,
        "preferredName": None,
        "gender": None,
    }
    rec = parse_student(keep(doc))
    assert rec.unreadable is None
    assert (rec.year_group, rec.dob, rec.preferred_name) == ("7", "2015-04-02", None)
    assert rec.enrolment_date == "2026-09-01"  # (was read as none: a future starter made now)
