"""fresh.py: a record a plan would create is checked under the lock against the accounts of its
local authority written after the plan was made, not those its pool already weighed."""

from __future__ import annotations

import pytest

from uso_tui.domain.models import Account, MisRecord, School
from uso_tui.store import open_store
from uso_tui.sync.fresh import WrittenSinceWatch
from uso_tui.sync.plan_types import CREATED, NEEDS_MATCHING, Plan, RecordOutcome

HERE = "204-3210"


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "data")
    with store.transaction("tester") as tx:
        tx.add_school(School(HERE, "Here", "iSAMS", "https://s3210.isams.cloud", "id"), "secret")
    return store


def ann() -> Account:
    return Account(
        username="alee.204",
        role="pupil",
        forename="Ann",
        surname="Lee",
        dob="2015-01-02",
        school="204-3211",
        created_at="2026-09-01T06:00:00",
    )


def plan_creating(mark: int | None) -> Plan:
    rec = MisRecord(report="students", mis_id="7", forename="Ann", surname="Lee", dob="2015-01-02")
    plan = Plan(HERE, "students", "pupil", "2026-09-01", creates=[rec], written_mark=mark)
    plan.outcomes.append(RecordOutcome(rec, CREATED, ""))
    plan.counts[CREATED] = 1
    return plan


@pytest.mark.parametrize(
    ("mark", "queued"),
    [
        (None, 1),  # not known when: checked against every account written
        (0, 1),  # Ann was written after the plan was made: its pool did not hold her
        (1, 0),  # written before: the plan weighed her and still creates
    ],
)
def test_a_create_is_queued_only_for_an_account_written_after_its_plan(store, mark, queued):
    written = WrittenSinceWatch()
    written.watch(store, "204")
    written.add([ann()])  # committed by this process
    plan = plan_creating(mark)
    with store.transaction("run") as txn:
        assert written.settle(txn, [plan], HERE, []) == queued
    assert len(plan.creates) == 1 - queued
    assert plan.counts[NEEDS_MATCHING] == queued
    if queued:
        assert plan.new_cases[0].candidates[0].username == "alee.204"


def test_an_account_staged_earlier_in_the_transaction_is_checked_whatever_the_mark(store):
    written = WrittenSinceWatch()
    written.watch(store, "204")
    plan = plan_creating(5)
    with store.transaction("run") as txn:
        assert written.settle(txn, [plan], HERE, [ann()]) == 1


def test_marks_count_what_is_held_by_role(store):
    written = WrittenSinceWatch()
    written.watch(store, "204")
    assert written.marks("204") == {}
    written.add([ann()])
    assert written.marks("204") == {"pupil": 1}
