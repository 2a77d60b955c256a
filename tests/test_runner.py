"""The runner on a real store (tmp_path) against the IRIS simulator's in-process transport."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from datetime import datetime

import pytest
from factories import DFE, OTHER, Env, iris_student

from uso_tui.domain.models import Run
from uso_tui.sync import actions
from uso_tui.sync.runner import RunInProgress, current_run, run_school

NOW = datetime(2026, 3, 10, 9, 30, 0)
LATER = datetime(2026, 3, 11, 9, 30, 0)
AMY = iris_student("1", "Amy", "Jones", "2015-04-02")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11T00:00:00")
CAT = iris_student("3", "Cat", "Brown", "2016-01-20")


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path / "store")


async def sync(env: Env, dfe: str = DFE, now: datetime = NOW, **kw):
    return await env.run(dfe, now=now, **kw)


def kids(count: int) -> list[dict]:
    """`count` pupils with names of their own (Kida Fama, Kidb Fama, ...)."""
    return [
        iris_student(str(i), f"Kid{chr(97 + i % 26)}", f"Fam{chr(97 + i // 26)}", "2015-04-02")
        for i in range(count)
    ]


def by_user(accounts):
    return {a.username: a for a in accounts}


def tree(root) -> dict[str, bytes]:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name != ".lock":
                with open(os.path.join(folder, name), "rb") as fh:
                    out[os.path.join(folder, name)] = fh.read()
    return out


async def test_first_run_creates_accounts_processed_file_audit_and_summary(env):
    env.add_school(students=[AMY, BOB, iris_student("4", None, "Lee", "2015-01-01")])
    res = await sync(env)
    run = res.run
    assert run.status == "succeeded" and run.error is None
    assert run.counts["fetched"] == 3 and run.counts["created"] == 2
    assert run.counts["invalid"] == 1
    accounts = by_user(env.store.school_accounts(DFE))
    assert set(accounts) == {"ajones.204", "bsmith.204"}
    bob = accounts["bsmith.204"]
    assert bob.dob == "2014-07-11" and bob.mis_id == "2" and bob.link_school == DFE
    assert bob.source == "mis" and bob.history[-1]["run_id"] == run.run_id
    pf = env.store.processed_file(run.run_id)
    rows = {r["record"]["mis_id"]: r for r in pf.records}
    assert rows["2"]["outcome"] == "created" and rows["2"]["username"] == "bsmith.204"
    assert rows["4"]["outcome"] == "invalid" and rows["4"]["reason"] == "missing forename"
    assert set(rows["1"]["record"]) <= {
        "report",
        "mis_id",
        "forename",
        "surname",
        "preferred_name",
        "middle_names",
        "dob",
        "dob_raw",
        "enrolment_date",
        "leaving_date",
        "leaving_raw",
        "email",
        "person_guid",
        "gender",
        "year_group",
        "form_group",
        "upn",
        "title",
        "initials",
        "system_status",
        "is_teaching",
        "unreadable",
    }
    events = env.store.audit(DFE)
    creates = [e for e in events if e.action == "create"]
    assert {e.subject for e in creates} == {"ajones.204", "bsmith.204"}
    assert all(e.operator == "alice" for e in events)
    school = env.store.school(DFE)
    assert school.last_run_id == run.run_id and school.last_run_status == "succeeded"
    assert school.active_accounts == 2
    assert env.store.runs(DFE)[0].public()["counts"]["created"] == 2


async def test_second_run_of_the_same_export_changes_nothing(env):
    env.add_school(students=[AMY, BOB, CAT])
    await sync(env)
    before = by_user(env.store.school_accounts(DFE))
    events_before = len(env.store.audit(DFE))
    res = await sync(env, now=LATER)
    assert res.run.status == "succeeded"
    counts = res.run.counts
    assert counts["unchanged"] == 3
    assert (
        sum(
            counts[k]
            for k in (
                "created",
                "updated",
                "auto_linked",
                "restored",
                "unallocated",
                "needs_matching",
            )
        )
        == 0
    )
    assert by_user(env.store.school_accounts(DFE)) == before
    new_events = env.store.audit(DFE)[: len(env.store.audit(DFE)) - events_before]
    assert [e.action for e in new_events] == ["run_succeeded"]


async def test_linked_update_and_leaver_by_absence(env):
    env.add_school(students=[AMY, BOB, CAT])
    await sync(env)
    env.set_students(DFE, [iris_student("1", "Amy", "Jones-Patel", "2015-04-02"), BOB])
    res = await sync(env, now=LATER)
    assert res.run.counts["updated"] == 1 and res.run.counts["unallocated"] == 1
    accounts = by_user(env.store.school_accounts(DFE))
    assert accounts["ajones.204"].surname == "Jones-Patel"  # the username never changes
    cat = accounts["cbrown.204"]
    assert cat.status == "unallocated" and cat.school is None and cat.previous_school == DFE
    assert cat.unallocated_by_run == res.run.run_id
    update = next(e for e in env.store.audit(DFE) if e.action == "update")
    assert update.before == {"surname": "Jones"} and update.after == {"surname": "Jones-Patel"}
    # ... and the returning record restores it automatically.
    env.set_students(DFE, [AMY, BOB, CAT])
    res = await sync(env, now=datetime(2026, 3, 12, 9, 0))
    assert res.run.counts["restored"] == 1
    assert env.store.account("cbrown.204").status == "active"


async def test_failed_fetch_changes_nothing_but_records_the_run(env):
    env.add_school(students=[AMY])
    await sync(env)
    before = by_user(env.store.school_accounts(DFE))
    env.set_students(DFE, [])
    env.sim.set_switches(DFE, failing_pages={("students", 1)})
    res = await sync(env, now=LATER)
    assert res.run.status == "failed" and res.run.error and SECRET_NOT_IN(res.run.error)
    assert by_user(env.store.school_accounts(DFE)) == before
    stored = env.store.run(res.run.run_id)
    assert stored.status == "failed" and stored.error == res.run.error
    assert current_run(env.store, DFE) is None


async def test_an_export_short_of_its_total_count_unallocates_nobody(env):
    """IRIS leaves two records out of its pages but counts them (records shifting between pages
    while the client pages): their accounts are not leavers, and the run holds them."""
    env.add_school(students=kids(30))
    await sync(env)
    env.sim.set_switches(DFE, skip_records=2, max_page_size=10)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and len(res.run.held_usernames) == 2
    [hold] = [e for e in env.store.audit(DFE) if e.action == "hold"]
    assert "IRIS said 30 records, 28 arrived" in hold.after["reason"]
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))
    env.sim.set_switches(DFE, skip_records=0)  # the next run gets them all: nothing to hold
    res = await sync(env, now=LATER.replace(day=LATER.day + 1))
    assert res.run.status == "succeeded" and res.run.counts["unallocated"] == 0


async def test_one_record_sent_many_times_on_a_page_does_not_stand_for_records_missed(env):
    """A server sending one record three times on a page and leaving two out, IRIS's totalCount
    counting the copies: the copies made up the count ("sent twice on one page, kept once"), the
    export passed as complete and the two left out were unallocated with nothing held."""
    records = kids(30)
    env.add_school(students=records)
    await sync(env)
    env.set_students(DFE, [*records[:28], records[5], records[5]])  # 30 sent, 28 people
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and len(res.run.held_usernames) == 2
    assert "1 record(s) sent three times or more on one page" in res.run.hold_reason
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))
    # two different records under one MIS id, each sent twice: a clash (the leavers held, and
    # a confirmation unallocates them), not one record sent three times
    clash = dict(records[5], forename="Other")
    env.set_students(DFE, [*records[:28], records[5], clash, clash])  # P5 twice, its clash twice
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and not res.run.incomplete
    assert "sent three times" not in res.run.hold_reason
    # a record sent twice (a row the MIS holds twice, or a copy standing where a record left
    # out was: no telling) holds the leavers for an operator, whose confirmation applies them
    env.set_students(DFE, [*records[:29], records[5]])
    res = await sync(env, now=LATER.replace(day=LATER.day + 1))
    assert res.run.status == "held" and not res.run.incomplete
    assert res.run.hold_reason.startswith(
        "students: 1 record(s) sent twice on one page, kept once (5)"
    )
    done = actions.confirm_held(env.store, res.run.run_id, operator="bob", now=LATER)
    assert len(done.unallocated) == 1 and done.run.status == "succeeded"


async def test_a_copy_standing_where_a_record_was_left_out_unallocates_no_one_unasked(env):
    """Page 2 sent a copy of one of its records in place of another (the count right): the run
    succeeded and unallocated the one left out, as a leaver (an adversary's server)."""
    records = kids(30)
    env.add_school(students=records)
    await sync(env)
    sent = [*records[:11], records[10], *records[12:]]  # kids 10 twice (page 2), 11 left out
    env.set_students(DFE, sent)
    env.sim.set_switches(DFE, max_page_size=10)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and res.run.counts["unallocated"] == 0
    assert "may stand where a record left out was" in res.run.hold_reason
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))


async def test_a_linked_record_whose_names_come_as_numbers_leaves_its_account_alone(env):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    before = by_user(env.store.school_accounts(DFE))
    env.set_students(DFE, [dict(AMY, forename=1e20), dict(BOB, surname=-1e-7)])
    res = await sync(env, now=LATER)
    assert res.run.counts["invalid"] == 2 and res.run.counts["updated"] == 0
    assert by_user(env.store.school_accounts(DFE)) == before


async def test_a_report_held_whole_says_first_that_its_export_may_be_incomplete(env):
    """Half the records counted but not sent: held whole by the comparison, whose reason said
    only "holds 10 of the 20 records linked before"; confirming it then unallocated the ten
    whose records never arrived, with nothing said of the records missing from the pages."""
    env.add_school(students=kids(20))
    await sync(env)
    env.sim.set_switches(DFE, max_page_size=10, skip_records=10)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and res.run.comparison
    assert res.run.hold_reason.startswith("the export may be incomplete (IRIS said 20 records")
    # confirmed, it applies what arrived and unallocates no one (rule 7: a complete export)
    done = actions.confirm_held(env.store, res.run.run_id, operator="bob", now=LATER)
    assert done.unallocated == [] and len(done.left_alone) == 10
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))


async def test_a_server_that_sends_page_one_for_every_page_fails_the_run(env):
    """Page 2 answered with page 1's records though the totals count 20: the run read as whole a
    report it had half of (its records kept once), and a first import succeeded on it."""
    env.add_school(students=kids(20))
    env.sim.set_switches(DFE, max_page_size=10, repeat_first_page=True)
    res = await sync(env)
    assert res.run.status == "failed" and "sent page 1 again as page 2" in res.run.error
    assert env.store.school_accounts(DFE) == []


async def test_confirming_a_run_held_for_an_export_short_of_its_total_unallocates_no_one(env):
    """Two records left out of IRIS's pages but counted: held, and confirming it unallocated
    the two, whose records may only have been lost in the paging."""
    env.add_school(students=kids(30))
    await sync(env)
    env.sim.set_switches(DFE, skip_records=2, max_page_size=10)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and res.run.incomplete
    review = actions.held_review(env.store, res.run.run_id)
    assert [h.back_since for h in review] == [True, True]  # the review says so first
    done = actions.confirm_held(env.store, res.run.run_id, operator="bob", now=LATER)
    assert done.unallocated == [] and len(done.left_alone) == 2
    assert done.run.status == "succeeded"
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))


async def test_a_confirm_leaves_alone_only_the_accounts_of_the_incomplete_report(env):
    """A run whose staff export was short (its absent staff held for it) and whose students'
    leavers were held for their number: confirming unallocates the students, not the staff."""
    from uso_tui.domain.models import Run

    env.add_school(students=[AMY, BOB], reports=["staff", "students"])
    env.sim.set_records(DFE, "staff", [{"id": 5, "forename": "Tom", "surname": "Hill",
                                        "dateOfBirth": "1980-01-02"}])  # fmt: skip
    await sync(env)
    accounts = {a.forename: a for a in env.store.school_accounts(DFE)}
    with env.store.transaction("t") as txn:
        run = Run(
            run_id=txn.next_run_id(DFE), school=DFE, trigger="cli", operator="t",
            reports=["staff", "students"], status="held", started_at="2026-03-11T09:30:00",
            held_usernames=[accounts["Amy"].username, accounts["Tom"].username],
            hold_reason="staff: the export may be incomplete (...); students: would unallocate",
            incomplete="the export may be incomplete (IRIS said 2 records, 1 arrived)",
            incomplete_reports=["staff"],
        )  # fmt: skip
        txn.put_run(run)
    done = actions.confirm_held(env.store, run.run_id, operator="bob", now=LATER)
    assert done.unallocated == [accounts["Amy"].username]
    assert done.left_alone == [accounts["Tom"].username]


async def test_run_show_says_why_confirm_leaves_an_account_of_an_incomplete_export(env, capsys):
    """`run show` said "record back or changed since" of an account held because its export
    may be incomplete, and told the operator to confirm, which unallocates none of them."""
    from uso_tui.cli.main import main
    from uso_tui.domain.models import Run

    env.add_school(students=[AMY, BOB])
    await sync(env)
    amy = next(a for a in env.store.school_accounts(DFE) if a.forename == "Amy")
    with env.store.transaction("t") as txn:
        run = Run(
            run_id=txn.next_run_id(DFE), school=DFE, trigger="cli", operator="t",
            reports=["students"], status="held", started_at="2026-03-11T09:30:00",
            held_usernames=[amy.username],
            hold_reason="the export may be incomplete (IRIS said 3 records, 2 arrived)",
            incomplete="the export may be incomplete (IRIS said 3 records, 2 arrived)",
            incomplete_reports=["students"],
        )  # fmt: skip
        txn.put_run(run)
    capsys.readouterr()
    argv = ["--data-dir", str(env.store.root), "run", "show", run.run_id]
    assert main(argv, clock=lambda: LATER) == 0
    out = capsys.readouterr().out
    assert "its report's export may be incomplete" in out
    assert "record back" not in out and "apply with" not in out
    assert "confirming unallocates none of them" in out


async def test_a_report_held_whole_for_an_incomplete_export_is_not_said_to_apply(env, capsys):
    """Records counted but not sent (held whole, beside the previous export): `run show` ended
    "apply with `uso-tui confirm`" under "20 accounts this run would unallocate", though
    confirming leaves each of them alone (an outside evaluator read it so)."""
    from uso_tui.cli.main import main

    env.add_school(students=kids(30))
    await sync(env)
    env.sim.set_switches(DFE, max_page_size=10, skip_records=20)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and res.run.comparison
    capsys.readouterr()
    argv = ["--data-dir", str(env.store.root), "run", "show", res.run.run_id]
    assert main(argv, clock=lambda: LATER) == 0
    out = capsys.readouterr().out
    assert "apply with" not in out and "confirming unallocates none of them" in out
    assert f"`uso-tui confirm {res.run.run_id}` applies it as it is" in out  # (not RUN_ID)


async def test_a_name_sent_decomposed_one_day_and_composed_the_next_is_no_change(env):
    """Zoë sent as Zoe and a combining diaeresis one day (NFD), as Zoë the next (NFC): every
    run updated the account, its audit event reading "Zoë -> Zoë". A year group sent as 7.0 one
    day and 7 the next likewise."""
    import unicodedata

    zoe = iris_student("1", "Zoë", "Brontë", "2015-04-02", yearGroup=7)
    env.add_school(students=[zoe])
    await sync(env)
    decomposed = {
        **zoe,
        "forename": unicodedata.normalize("NFD", "Zoë"),
        "surname": unicodedata.normalize("NFD", "Brontë"),
        "yearGroup": 7.0,
    }
    env.set_students(DFE, [decomposed])
    res = await sync(env, now=LATER)
    assert res.run.counts["updated"] == 0 and res.run.counts["unchanged"] == 1
    assert env.store.school_accounts(DFE)[0].forename == "Zoë"


def SECRET_NOT_IN(text: str) -> bool:  # noqa: N802
    from factories import SECRET

    return SECRET not in text


async def test_wrong_credentials_fail_the_run(env):
    env.add_school(students=[AMY])
    env.sim.set_switches(DFE, reject_credentials=True)
    res = await sync(env)
    assert res.run.status == "failed" and DFE in res.run.error
    assert env.store.school_accounts(DFE) == []


async def test_dry_run_writes_nothing(env):
    env.add_school(students=[AMY, BOB])
    before = tree(env.store.root)
    res = await sync(env, dry_run=True)
    assert res.run.counts["created"] == 2 and res.plan is not None
    assert any("created" in ln for ln in res.plan.summary_lines())
    assert tree(env.store.root) == before


async def test_second_run_of_one_school_is_refused(env):
    env.add_school(students=[AMY])
    fetching, release = asyncio.Event(), asyncio.Event()
    async with env.client() as client:
        fetch = client.fetch_report

        async def held_fetch(*args, **kw):  # the first run stays in its fetch until released
            fetching.set()
            await release.wait()
            return await fetch(*args, **kw)

        client.fetch_report = held_fetch
        first = asyncio.create_task(
            run_school(
                env.store, DFE, now=NOW, client=client, trigger="schedule", operator="scheduler"
            )
        )
        await fetching.wait()
        with pytest.raises(RunInProgress) as err:
            await sync(env, trigger="force")
        running = current_run(env.store, DFE)
        assert str(err.value) == (
            f"{DFE} already has a run in progress: {running.run_id} (schedule, since 09:30:00)"
        )
        release.set()
        res = await first
    assert res.run.status == "succeeded" and current_run(env.store, DFE) is None
    assert [r.status for r in env.store.runs(DFE)] == ["succeeded"]


async def test_run_left_running_by_a_dead_process_does_not_block(env):
    env.add_school(students=[AMY])
    with env.store.transaction("x") as txn:
        txn.put_run(
            Run(
                run_id=txn.next_run_id(DFE),
                school=DFE,
                trigger="schedule",
                operator="scheduler",
                started_at="2026-03-10T06:00:00",
                pid=2**22 + 12345,
                host=None,
            )
        )
    res = await sync(env)
    assert res.run.status == "succeeded"


async def test_a_run_whose_end_cannot_be_written_does_not_block_its_school(env, monkeypatch):
    """A full disk fails the apply and then the write of the run's end too: the run stays
    "running" in the store, and this process (a console, the scheduler service) would refuse
    every later run of the school for as long as it lives. It says so, counts the run
    interrupted, and its next run of the school goes ahead and replaces it."""
    from uso_tui.store import liveness
    from uso_tui.sync import runner

    monkeypatch.setattr(liveness, "_abandoned", set())  # this test's store only
    monkeypatch.setattr(runner, "_unwritten", {})
    env.add_school(students=[AMY])
    env.sim.set_switches(DFE, reject_credentials=True)
    full = OSError(28, "No space left on device")

    def no_space(store, run, note):
        raise full

    writes_the_end = runner._put_final
    monkeypatch.setattr(runner, "_put_final", no_space)
    res = await sync(env)
    assert res.run.status == "failed"
    assert "its end could not be recorded" in res.run.error and "No space left" in res.run.error
    stored = env.store.run(res.run.run_id)  # as written at the claim, read by this process
    assert stored.status == "failed" and current_run(env.store, DFE) is None
    monkeypatch.setattr(runner, "_put_final", writes_the_end)  # the disk has room again
    # Another process (knowing nothing of what this one gave up) sees the school running until
    # this one writes the run's end, which it does when next asked (scheduler, console).
    monkeypatch.setattr(liveness, "_abandoned", set())
    assert current_run(env.store, DFE) is not None
    assert runner.write_unrecorded(env.store) == 1 and runner.write_unrecorded(env.store) == 0
    stored = env.store.run(res.run.run_id)
    assert stored.status == "failed" and "its end could not be recorded" in stored.error
    assert current_run(env.store, DFE) is None
    env.sim.set_switches(DFE, reject_credentials=False)
    again = await sync(env, now=LATER)
    assert again.run.status == "succeeded"
    assert [r.status for r in env.store.runs(DFE)] == ["succeeded", "failed"]


async def test_cancel_before_the_apply_changes_nothing(env):
    env.add_school(students=[AMY, BOB])
    cancel = threading.Event()

    def on_progress(progress):
        if progress.phase == "fetching":
            cancel.set()

    res = await sync(env, cancel=cancel, on_progress=on_progress)
    assert res.run.status == "cancelled"
    assert env.store.school_accounts(DFE) == []
    assert env.store.run(res.run.run_id).status == "cancelled"


async def test_progress_events(env):
    env.add_school(
        students=[
            iris_student(str(i), f"P{chr(97 + i % 26)}x", f"S{chr(97 + i // 26)}y", "2015-04-02")
            for i in range(120)
        ]
    )
    env.sim.set_switches(DFE, max_page_size=50)
    seen = []
    res = await sync(env, on_progress=seen.append)
    phases = [p.phase for p in seen]
    assert phases[0] == "connecting" and phases[-1] == "done"
    order = ["connecting", "fetching", "planning", "applying", "done"]
    assert [p for p in order if p in phases] == order
    pages = [p for p in seen if p.phase == "fetching" and p.pages_total]
    assert pages[-1].pages_done == 3 and pages[-1].pages_total == 3
    planned = [p for p in seen if p.phase == "planning" and p.records_total]
    assert planned[-1].records_done == 120
    assert seen[-1].counts["created"] == res.run.counts["created"] == 120
    assert all(p.run_id == res.run.run_id for p in seen)


async def test_hold_on_empty_export_then_confirm(env):
    env.add_school(students=[AMY, BOB, CAT])
    await sync(env)
    env.set_students(DFE, [])
    res = await sync(env, now=LATER, trigger="schedule", operator="scheduler")
    assert res.run.status == "held"
    assert sorted(res.run.held_usernames) == ["ajones.204", "bsmith.204", "cbrown.204"]
    assert res.run.counts["held_unallocations"] == 3 and res.run.counts["unallocated"] == 0
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))
    assert env.store.audit(DFE)[0].operator == "scheduler"
    run = actions.confirm_run(
        env.store, res.run.run_id, operator="bob", now=datetime(2026, 3, 11, 10, 0)
    )
    assert run.status == "succeeded" and run.confirmed_by == "bob"
    assert all(a.status == "unallocated" for a in env.store.school_accounts(DFE))
    assert env.store.run(run.run_id).counts["unallocated"] == 3
    with pytest.raises(Exception, match="not held"):
        actions.confirm_run(env.store, run.run_id, operator="bob", now=LATER)


async def test_hold_over_threshold_applies_everything_else(env):
    pupils = kids(40)
    env.add_school(students=pupils)
    await sync(env)
    leaving = [{**p, "leavingDate": "2026-03-01"} for p in pupils[:10]]
    env.set_students(
        DFE, leaving + pupils[10:] + [iris_student("new", "Nia", "Okoro", "2015-09-09")]
    )
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and len(res.run.held_usernames) == 10
    assert res.run.counts["created"] == 1
    assert env.store.account("nokoro.204").status == "active"


async def test_an_export_held_whole_applies_nothing_until_confirmed(env):
    pupils = kids(40)
    env.add_school(students=pupils)
    await sync(env)
    before = by_user(env.store.school_accounts(DFE))
    halved = pupils[20:] + [iris_student("new", "Nia", "Okoro", "2015-09-09")]
    env.set_students(DFE, halved)
    res = await sync(env, now=LATER)
    assert res.run.status == "held" and res.run.comparison["count"] == 21
    assert by_user(env.store.school_accounts(DFE)) == before  # nothing applied
    pf = env.store.processed_file(res.run.run_id)
    assert {r["outcome"] for r in pf.records} == {"held"} and len(pf.records) == 21
    # confirmed (keeping two of the held accounts), it applies as it is
    keep = res.run.held_usernames[:2]
    done = actions.confirm_held(
        env.store, res.run.run_id, operator="alice", now=LATER, exclude=keep
    )
    assert len(done.unallocated) == 18 and done.kept == keep
    assert env.store.account("nokoro.204").status == "active"
    assert all(env.store.account(u).status == "active" for u in keep)
    assert env.store.run(res.run.run_id).status == "succeeded"
    rows = env.store.processed_file(res.run.run_id).records
    assert "held" not in {r["outcome"] for r in rows}


async def test_restore_semantics(env):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    env.set_students(DFE, [BOB])
    await sync(env, now=LATER)
    amy = env.store.account("ajones.204")
    assert amy.status == "unallocated"
    restored = actions.restore_account(env.store, "ajones.204", operator="bob", now=LATER)
    assert restored.status == "active" and restored.school == DFE
    assert restored.mis_id is None and restored.source == "manual"
    # The next run does not unallocate it again: it is a non-MIS account now ...
    res = await sync(env, now=datetime(2026, 3, 12, 9, 0))
    assert res.run.counts["unallocated"] == 0
    assert env.store.account("ajones.204").status == "active"
    # ... and it relinks automatically when its record returns with the same details.
    env.set_students(DFE, [AMY, BOB])
    res = await sync(env, now=datetime(2026, 3, 13, 9, 0))
    assert res.run.counts["auto_linked"] == 1 and res.run.counts["created"] == 0
    assert env.store.account("ajones.204").mis_id == "1"
    restore_event = env.store.audit(DFE, subject="ajones.204")
    assert "restore" in [e.action for e in restore_event]


async def test_requested_account_links_automatically(env):
    env.add_school(students=[AMY])
    with env.store.transaction("bob") as txn:  # User Request Single, as admin.add_account does
        from factories import acc

        txn.put_account(acc("ajones.204", "Amy", "JONES", "2015-04-02"))
    res = await sync(env)
    assert res.run.counts["auto_linked"] == 1 and res.run.counts["created"] == 0
    account = env.store.account("ajones.204")
    assert account.mis_id == "1" and account.source == "mis"
    assert any(e.action == "auto_link" for e in env.store.audit(DFE))


async def test_mover_case_match_moves_the_account_and_undo(env):
    env.add_school(OTHER, students=[AMY])
    env.add_school(students=[iris_student("9", "Amy", "Jones", "2015-04-02")])
    await sync(env, OTHER)
    res = await sync(env)
    assert res.run.counts["needs_matching"] == 1 and res.run.counts["created"] == 0
    (case,) = env.store.cases(DFE)
    assert case.candidates[0]["username"] == "ajones.204" and case.candidates[0]["school"] == OTHER
    # The next run does not open the case a second time.
    res = await sync(env, now=LATER)
    assert res.run.counts["needs_matching"] == 1 and len(env.store.cases(DFE)) == 1
    done = actions.resolve_case(
        env.store, case.case_id, operator="bob", now=LATER, match="ajones.204"
    )
    assert done.status == "resolved" and done.decision == "match:ajones.204"
    moved = env.store.account("ajones.204")
    assert moved.school == DFE and moved.previous_school == OTHER and moved.mis_id == "9"
    assert moved.history[-1]["action"] == "move"
    assert any(e.action == "move" for e in env.store.audit(DFE))
    assert env.store.school_accounts(OTHER) == []  # its file moved with it
    # Undo puts it back where it was, linked as before, and reopens the case.
    reopened = actions.undo_decision(env.store, case.case_id, operator="bob", now=LATER)
    assert reopened.status == "open"
    back = env.store.account("ajones.204")
    assert back.school == OTHER and back.mis_id == "1"


async def test_matching_an_account_unallocated_from_the_school_itself_is_no_move(env):
    """Amy left and came back under a new MIS id: matching her own account, unallocated from
    this very school, was recorded as a move from the school to itself."""
    env.add_school(students=[AMY, BOB])
    await sync(env)
    env.set_students(DFE, [BOB])
    await sync(env, now=datetime(2026, 3, 11, 9, 0))
    env.set_students(DFE, [BOB, dict(AMY, schoolId="9")])
    await sync(env, now=LATER)
    (case,) = env.store.cases(DFE)
    assert case.candidates[0]["username"] == "ajones.204"
    actions.resolve_case(env.store, case.case_id, operator="bob", now=LATER, match="ajones.204")
    back = env.store.account("ajones.204")
    assert (back.status, back.school, back.mis_id) == ("active", DFE, "9")
    assert back.history[-1]["action"] == "link"
    assert not [e for e in env.store.audit(DFE, subject="ajones.204") if e.action == "move"]


async def test_case_create_exclude_and_skip(env):
    env.add_school(OTHER, students=[AMY, BOB])
    env.add_school(
        students=[
            iris_student("9", "Amy", "Jones", "2015-04-02"),
            iris_student("8", "Bob", "Smith", "2014-11-07"),
        ]
    )
    await sync(env, OTHER)
    await sync(env)
    c_amy, c_bob = env.store.cases(DFE)
    same = actions.resolve_case(env.store, c_amy.case_id, operator="bob", now=LATER, skip=True)
    assert same.status == "open"
    made = actions.resolve_case(
        env.store, c_amy.case_id, operator="bob", now=LATER, create=True, force=True
    )
    assert made.decision == "create:ajones2.204"
    assert env.store.account("ajones2.204").mis_id == "9"
    actions.resolve_case(env.store, c_bob.case_id, operator="bob", now=LATER, exclude=True)
    (ex,) = env.store.exclusions(DFE)
    assert (ex.forename, ex.surname, ex.dob) == ("Bob", "Smith", "2014-11-07")
    res = await sync(env, now=LATER)
    assert res.run.counts["excluded"] == 1 and res.run.counts["needs_matching"] == 0
    assert res.run.counts["unchanged"] == 1 and env.store.cases(DFE) == []
    with pytest.raises(Exception, match="already resolved"):
        actions.resolve_case(
            env.store, c_bob.case_id, operator="bob", now=LATER, create=True, force=True
        )


async def test_non_mis_review_unallocate_and_link(env):
    env.add_school(students=[AMY, BOB])
    from factories import acc

    with env.store.transaction("bob") as txn:
        txn.put_account(acc("keep.204", "Kim", "Keep", "1990-01-01"))
        txn.put_account(acc("drop.204", "Dan", "Drop", "1990-01-01"))
        txn.put_account(acc("amyj.204", "Amelia", "Jonas", "2015-04-02"))
    res = await sync(env)
    assert res.run.counts["needs_matching"] == 1  # Amy resembles amyj.204
    assert actions.mark_reviewed(env.store, "keep.204", operator="bob", now=LATER).reviewed
    gone = actions.unallocate_account(env.store, "drop.204", operator="bob", now=LATER)
    assert gone.status == "unallocated" and gone.previous_school == DFE
    linked = actions.link_account(
        env.store, "amyj.204", DFE, "students", "1", operator="bob", now=LATER
    )
    assert linked.mis_id == "1" and linked.forename == "Amy"
    assert env.store.cases(DFE) == []  # its case is resolved by the link
    with pytest.raises(Exception, match="linked to the MIS"):
        actions.unallocate_account(env.store, "amyj.204", operator="bob", now=LATER)


async def test_test_connection_counts_reports(env):
    env.add_school(students=[AMY, BOB])
    async with env.client() as client:
        got = await actions.test_connection(env.store, DFE, client=client)
    assert got == {"students": 2}


async def test_test_connection_keeps_the_bounds_config_json_sets(env, monkeypatch):
    """A connection test waited out the default 120 s request deadline where config.json set 4 s
    (the runs kept it): its client now has the configured bounds."""
    import uso_tui.iris.client as iris_client

    env.add_school(students=[AMY])
    (env.store.root / "config.json").write_text('{"request_deadline_s": 4, "max_pages": 7}')
    made = []

    class Client:
        def __init__(self, **kw) -> None:
            made.append(kw)

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc) -> None:
            return None

        async def test_connection(self, school, secret):
            return {"students": 1}

    monkeypatch.setattr(iris_client, "IrisClient", Client)
    assert await actions.test_connection(env.store, DFE) == {"students": 1}
    bounds = made[0]["bounds"]
    assert (bounds.request_deadline_s, bounds.max_pages) == (4, 7)


async def test_a_change_made_while_planning_is_planned_again_under_the_lock(env, monkeypatch):
    import uso_tui.sync.runner as runner

    env.add_school(students=[AMY, BOB])
    real = runner.preplan

    def racing(store, dfe, *args):
        pre = real(store, dfe, *args)
        # An operator adds Bob to the exclusion list between the plan and the apply.
        with store.transaction("bob") as txn:
            txn.add_exclusion(dfe, "Bob", "Smith", None, "2026-03-10T09:30:01")
        return pre

    monkeypatch.setattr(runner, "preplan", racing)
    res = await sync(env)
    assert res.run.counts["created"] == 1 and res.run.counts["excluded"] == 1
    assert set(by_user(env.store.school_accounts(DFE))) == {"ajones.204"}


async def test_a_mover_from_another_local_authority_is_a_case_not_a_second_account(env):
    # Amy has an account at a school of LA 999; she arrives at a school of LA 204 (found by the
    # store-wide search: names and date of birth), and Bob by his UPN alone (his names changed).
    far = "999-1234"
    bob_before = iris_student(
        "8", "Robert", "Smith", "2014-07-11", uniquePupilNumber="B123456789012"
    )
    env.add_school(far, students=[AMY, bob_before])
    await sync(env, far)
    env.set_students(far, [])
    bob_now = iris_student("2", "Bobby", "Okafor", "2014-11-07", uniquePupilNumber="B123456789012")
    env.add_school(students=[AMY, bob_now])
    res = await sync(env, now=LATER)
    assert res.run.counts["created"] == 0 and res.run.counts["needs_matching"] == 2
    cases = {c.record["mis_id"]: c for c in env.store.cases(DFE)}
    assert cases["1"].candidates[0]["username"] == "ajones.999"
    assert cases["2"].candidates[0]["username"] == "rsmith.999"


async def test_a_restored_account_relinks_only_to_the_record_it_had(env):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    env.set_students(DFE, [BOB])
    await sync(env, now=LATER)
    actions.restore_account(env.store, "ajones.204", operator="alice", now=LATER)
    assert env.store.account("ajones.204").previous_link == f"{DFE}/students/1"
    # Another record with Amy's details (her twin, keyed with her name) does not take it ...
    twin = iris_student("5", "Amy", "Jones", "2015-04-02")
    env.set_students(DFE, [BOB, twin])
    res = await sync(env, now=datetime(2026, 3, 12, 9, 0))
    assert res.run.counts["auto_linked"] == 0 and res.run.counts["needs_matching"] == 1
    # ... her own record does.
    env.set_students(DFE, [BOB, AMY])
    res = await sync(env, now=datetime(2026, 3, 13, 9, 0))
    assert res.run.counts["auto_linked"] == 1
    assert env.store.account("ajones.204").mis_id == "1"


async def test_an_account_restored_twice_still_relinks_only_to_the_record_it_had(env):
    """Restored, unallocated again from the non-MIS review, restored again: the second restore
    dropped the link the first kept, and a record of another MIS id with Amy's details (her
    twin keyed with her name) took the account by itself."""
    env.add_school(students=[AMY, BOB])
    await sync(env)
    env.set_students(DFE, [BOB])
    await sync(env, now=LATER)
    for action in (actions.restore_account, actions.unallocate_account, actions.restore_account):
        action(env.store, "ajones.204", operator="alice", now=LATER)
    assert env.store.account("ajones.204").previous_link == f"{DFE}/students/1"
    env.set_students(DFE, [BOB, iris_student("5", "Amy", "Jones", "2015-04-02")])
    res = await sync(env, now=datetime(2026, 3, 12, 9, 0))
    assert res.run.counts["auto_linked"] == 0 and res.run.counts["needs_matching"] == 1


async def test_confirming_an_export_held_whole_leaves_alone_what_changed_since(env):
    pupils = kids(40)
    env.add_school(students=pupils)
    await sync(env)
    env.set_students(DFE, pupils[20:])
    res = await sync(env, now=LATER)
    held = res.run.held_usernames
    # an operator acts on one of the held accounts before the run is confirmed
    changed = held[0]
    with env.store.transaction("bob") as txn:
        acc = txn.account(changed)
        txn.put_account(
            dataclasses.replace(acc, preferred_name="Kit", last_event_at="2026-03-11T10:00:00")
        )
    review = {h.username: h for h in actions.held_review(env.store, res.run.run_id)}
    assert review[changed].back_since
    done = actions.confirm_held(env.store, res.run.run_id, operator="alice", now=LATER)
    assert changed in done.left_alone and changed not in done.unallocated
    assert env.store.account(changed).status == "active"
    assert len(done.unallocated) == 19


def test_a_run_whose_end_fails_as_its_apply_did_says_the_error_once():
    """A corrupt school file fails the apply and then the recording of the run's end, for one
    reason: the run's error names it once (the scheduler's table showed the whole line twice)."""
    from uso_tui.store.storage import CorruptFile
    from uso_tui.sync.runner import UNRECORDED, unrecorded

    exc = CorruptFile("store file /s/data.json is corrupt (not valid JSON): restore it")
    run = Run(run_id=f"{DFE}-r2", school=DFE, trigger="schedule", operator="s")
    error = f"apply failed, nothing changed: CorruptFile: {exc}"
    said = unrecorded(run, error, exc, "2026-03-01T09:00:00").run.error
    assert said.count("is corrupt") == 1 and f"{UNRECORDED} (the same error)" in said
    # (a run of one school, `uso-tui sync`: its error the exception's words, without its kind)
    said = unrecorded(run, f"{exc}; nothing was changed", exc, "2026-03-01T09:00:00").run.error
    assert said.count("is corrupt") == 1 and f"{UNRECORDED} (the same error)" in said
    other = unrecorded(run, "fetch failed", OSError(28, "No space left on device"), "x").run.error
    assert "OSError" in other and "No space left" in other


async def test_any_fault_writing_a_runs_end_leaves_it_unrecorded_not_running(env, monkeypatch):
    """Not only a full disk: an ImportError (the program upgraded under a running console) in
    writing a failed run's end left the run "running" for this process, its school refused to
    every later run until the console ended."""
    from uso_tui.store import liveness
    from uso_tui.sync import runner

    monkeypatch.setattr(liveness, "_abandoned", set())
    monkeypatch.setattr(runner, "_unwritten", {})
    env.add_school(students=[AMY])
    env.sim.set_switches(DFE, reject_credentials=True)

    def upgraded_underneath(store, run, note):
        raise ImportError("cannot import name 'upn_key'")

    monkeypatch.setattr(runner, "_put_final", upgraded_underneath)
    res = await sync(env)
    assert res.run.status == "failed" and "its end could not be recorded" in res.run.error
    assert current_run(env.store, DFE) is None


async def test_a_surname_of_letters_no_transliteration_spells_makes_an_account(env):
    # One such record once failed the whole school's run, at every run ("cannot make a
    # username"); a surname of Hangul fillers (blank on every screen) is listed invalid.
    env.add_school(
        students=[
            AMY,
            iris_student("2", "Kenji", "\u3005\u3005", "2014-07-11"),
            iris_student("3", "Bo", "\u3164\u3164", "2014-07-12"),
        ]
    )
    res = await sync(env)
    assert res.run.status == "succeeded"
    assert res.run.counts["created"] == 2 and res.run.counts["invalid"] == 1
    assert "kenji.204" in by_user(env.store.school_accounts(DFE))


async def test_an_account_found_under_the_lock_by_a_dummy_upn_is_no_newcomer(env, monkeypatch):
    """A UPN that more than UPN_CROWD accounts of the LA hold is a dummy, not looked for by the
    plan: nor under the lock, where the run checks what arrived since its plan. Nadia's sibling
    Aisha (the same dummy, made the day before) was found there once another run rewrote her
    school's index, and shown as a 100% candidate 'created while this run was planned'."""
    import uso_tui.sync.runner as runner
    from uso_tui.store import open_store, people

    here, there, dummy = "305-4120", "305-4121", "Z999999999999"
    crowd = [
        iris_student(
            f"c{i}", f"Kid{chr(97 + i)}", f"Crowd{chr(97 + i)}", f"2014-0{1 + i % 9}-1{i % 9}"
        )
        | {"uniquePupilNumber": dummy}
        for i in range(12)
    ]
    aisha = iris_student("k1", "Aisha", "Khan", "2015-05-09", uniquePupilNumber=dummy)
    bob = iris_student("k2", "Bob", "Other", "2013-01-01")
    env.add_school(here, students=crowd)
    env.add_school(there, students=[aisha, bob])
    await sync(env, there)
    await sync(env, here)
    env.set_students(
        here,
        [*crowd, iris_student("n", "Nadia", "Khan", "2015-05-05") | {"uniquePupilNumber": dummy}],
    )
    env.set_students(there, [aisha, {**bob, "surname": "Otherr"}])  # an ordinary change there
    real, others = runner._plan_and_apply, env.store
    env.store = open_store(others.root)  # this school's run: a process of its own
    # its look under the lock reads the indexes written since its plan (by file time stamps):
    # not this school's own, written just before, however coarse the clock
    monkeypatch.setattr(people, "RACY_NS", 0)

    def meanwhile(store, run, *args, **kw):
        if run.school == here:  # planned: the other school's run commits before this one does
            mine, env.store = env.store, others
            asyncio.run(env.run(there, now=LATER))
            env.store = mine
        return real(store, run, *args, **kw)

    monkeypatch.setattr(runner, "_plan_and_apply", meanwhile)
    res = await sync(env, here, now=LATER)
    assert res.run.counts["created"] == 1 and res.run.counts["needs_matching"] == 0


async def test_a_leaver_enrolled_again_from_a_later_day_is_restored_on_that_day(env):
    """Amy left, then her record came back starting six months on: her account was restored
    and active at once, while a new pupil starting that day was a future starter (rule 3), and
    the calendar counted her nowhere (an outside evaluator's find)."""
    from datetime import timedelta

    env.add_school(students=[AMY, BOB, CAT])
    await sync(env)
    gone = dict(AMY, leavingDate="2026-03-11")
    env.set_students(DFE, [gone, BOB, CAT])
    await sync(env, now=NOW + timedelta(days=2))
    amy = next(a for a in env.store.school_accounts(DFE) if a.forename == "Amy")
    assert env.store.account(amy.username).status == "unallocated"
    back = dict(AMY, enrolmentDate="2026-09-01")
    env.set_students(DFE, [back, BOB, CAT])
    for day in (3, 4):  # and the day after, the record unchanged (its fingerprint kept)
        res = await sync(env, now=NOW + timedelta(days=day))
        assert env.store.account(amy.username).status == "unallocated"
        assert res.run.counts["restored"] == 0 and res.run.counts["future"] == 1
    # why and the calendar say her account comes back that day (not "account made", nor a
    # User Request Single to make it sooner, which would make her a second one)
    from uso_tui.sync.calendar import calendar
    from uso_tui.sync.why import why

    (hit,) = why(env.store, "amy jones")
    assert hit.summary == f"future starter from 2026-09-01 ({amy.username} restored on 2026-09-01)"
    assert f"`uso-tui restore {amy.username}`" in hit.act and "User Request" not in hit.act
    coming = calendar(env.store, None, today=(NOW + timedelta(days=4)).date(), days=200)
    assert [(u.kind, u.username) for u in coming] == [("starter", amy.username)]
    res = await sync(env, now=datetime(2026, 9, 1, 7, 0))
    assert res.run.counts["restored"] == 1
    assert env.store.account(amy.username).status == "active"


async def test_a_leavers_id_given_to_another_future_starter_is_not_her_return(env):
    """Amy left; the school gave her MIS id to Zed, starting in September, and Amy came back
    under a new id: id 1 was taken as Amy's return (her account "restored then"), so Amy's own
    record got a second account (a review's find). Id 1 names another person: rejected, and
    Amy's record is a case with her account."""
    from datetime import timedelta

    env.add_school(students=[AMY, BOB, CAT])
    await sync(env)
    env.set_students(DFE, [dict(AMY, leavingDate="2026-03-11"), BOB, CAT])
    await sync(env, now=NOW + timedelta(days=2))
    zed = iris_student("1", "Zed", "Patel", "2019-11-30", enrolmentDate="2026-09-01")
    amy_again = iris_student("9", "Amy", "Jones", "2015-04-02")
    env.set_students(DFE, [zed, amy_again, BOB, CAT])
    res = await sync(env, now=NOW + timedelta(days=3))
    assert res.run.counts["created"] == 0 and res.run.counts["invalid"] == 1
    (case,) = env.store.cases(DFE)
    assert case.record["mis_id"] == "9"
    assert case.candidates[0]["username"] == "ajones.204"


async def test_a_mover_match_undone_closes_the_old_schools_case_for_its_record(env):
    """Amy matched from Other to here; Other's next run (still sending her) opened a case for
    her record there; the match undone put her account back, linked to that record, and the case
    stayed open, every decision of it refused ("already linked") until Other's next run."""
    from datetime import timedelta

    from factories import OTHER

    from uso_tui.sync.actions import resolve_case, undo_decision

    env.add_school(OTHER, students=[iris_student("o1", "Amy", "Jones", "2015-04-02")])
    await sync(env, OTHER)
    env.add_school(students=[iris_student("d1", "Amy", "Jones", "2015-04-02")])
    await sync(env)
    (here,) = env.store.cases(DFE)
    amy = here.candidates[0]["username"]
    later = NOW + timedelta(hours=1)
    resolve_case(env.store, here.case_id, operator="desk", now=later, match=amy, force=True)
    await sync(env, OTHER, now=later + timedelta(hours=1))
    (there,) = env.store.cases(OTHER)
    undo_decision(env.store, here.case_id, operator="desk", now=later + timedelta(hours=2))
    assert env.store.account(amy).school == OTHER and env.store.account(amy).mis_id == "o1"
    assert env.store.cases(OTHER) == []
    closed = env.store.case(there.case_id)
    assert closed.status == "resolved" and closed.decision == "withdrawn"


async def test_a_run_whose_commit_fails_after_its_journal_is_what_it_did(env, monkeypatch):
    """A full disk refusing a rename after the commit's journal is in place (a rename that grows
    a folder) left a run recorded "apply failed, nothing changed" while the next command put
    its changes in place: its accounts made, its undo refused as "changed nothing". The commit
    is made at its journal: the run succeeded, and what follows finishes it."""
    import errno

    from uso_tui.store import journal

    env.add_school(students=[AMY, BOB])
    real, renamed = os.replace, []

    def replace(src, dst):
        renamed.append(str(dst))
        if str(dst).endswith("data.json") and any(n.endswith(journal.JOURNAL) for n in renamed):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(journal.os, "replace", replace)
    res = await sync(env)
    assert res.run.status == "succeeded" and res.run.error is None
    assert any(n.endswith("data.json") for n in renamed)  # the failure was met
    monkeypatch.undo()
    from uso_tui.store import open_store

    store = open_store(env.store.root)  # as the next command: finishes the commit
    assert not (env.store.root / journal.JOURNAL).exists()
    assert set(by_user(store.school_accounts(DFE))) == {"ajones.204", "bsmith.204"}
    assert store.run(res.run.run_id).status == "succeeded"
    assert "run_failed" not in [e.action for e in store.audit(DFE)]
