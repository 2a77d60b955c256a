"""fresh.py: a record a plan would create is checked under the lock against the accounts of its
local authority written after the plan was made, not those its pool already weighed."""

from __future__ import annotations

from datetime import datetime

import pytest

from uso_tui.domain.models import Account, MisRecord, School
from uso_tui.store import open_store
from uso_tui.sync.batch import Planned, claim_many, commit_batch
from uso_tui.sync.events import ProgressEmitter
from uso_tui.sync.fresh import WrittenSinceWatch
from uso_tui.sync.plan_types import CREATED, NEEDS_MATCHING, Plan, RecordOutcome
from uso_tui.sync.pools import PoolCache

HERE = "204-3210"


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "data")
    with store.transaction("tester") as tx:
        for dfe in (HERE, "204-3211"):
            tx.add_school(School(dfe, dfe, "iSAMS", f"https://s{dfe[-4:]}.isams.cloud", "id"), "s")
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


def test_a_run_gives_caught_up_accounts_to_its_pools_before_its_watch_counts_them(store):
    """A plan's marks (taken in another thread while a commit catches up) never count an
    account its candidate pool lacks: settle would then skip it, and the same new pupil,
    created meanwhile by another process, would get a second account."""
    written = WrittenSinceWatch()
    written.watch(store, "204")
    with store.transaction("console") as tx:  # another process creates Ann
        tx.put_accounts([ann()])
    pools = PoolCache()
    seen = []
    real_update = pools.update

    def update(accounts: list) -> None:
        seen.append(([a.username for a in accounts], written.marks("204")))
        real_update(accounts)

    pools.update = update  # type: ignore[method-assign]
    run = claim_many(store, [store.school(HERE)], "tester", "2026-09-01T06:00:00")[0]
    stopped = Planned(run, None, "stopped", ProgressEmitter(run.run_id, HERE, None))
    commit_batch(store, [stopped], datetime(2026, 9, 1, 6), "", pools, "tester", written)
    assert seen[0] == (["alee.204"], {})  # in the pools while the watch did not count her yet
    assert written.marks("204") == {"pupil": 1}
