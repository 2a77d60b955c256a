"""run_due and the scheduler loop: which schools are due, catching up, concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import queue
from datetime import datetime, timedelta

import pytest
from factories import DFE, OTHER, Env, iris_student

from uso_tui.sync.runner import current_run
from uso_tui.sync.schedule import due_schools, run_due, scheduler_loop

THIRD = "204-3212"
AMY = iris_student("1", "Amy", "Jones", "2015-04-02")


@pytest.fixture
def env(tmp_path) -> Env:
    new_env = Env(tmp_path / "store")
    new_env.add_school(DFE, students=[AMY], daily_at="06:00")
    new_env.add_school(
        OTHER, students=[iris_student("1", "Bo", "Li", "2015-04-02")], daily_at="07:00"
    )
    new_env.add_school(
        THIRD, students=[iris_student("1", "Cy", "Ng", "2015-04-02")], daily_at="23:30"
    )
    # Set up on the night before the tests' first day: no daily time of theirs passed before it
    # (else each would be due at once, as a school that missed yesterday's run is).
    with new_env.store.transaction("test") as txn:
        for school in txn.schools():
            txn.put_school(dataclasses.replace(school, created_at="2026-03-10T00:00:00"))
    return new_env


async def due(env: Env, now: datetime):
    async with env.client() as client:
        return await run_due(env.store, now, client=client)


async def test_runs_schools_whose_time_has_passed_once_a_day(env):
    results = await due(env, datetime(2026, 3, 10, 6, 30))
    assert [r.run.school for r in results] == [DFE]
    assert results[0].run.trigger == "schedule" and results[0].run.operator == "scheduler"
    assert {e.operator for e in env.store.audit(DFE)} >= {"scheduler"}
    assert await due(env, datetime(2026, 3, 10, 6, 45)) == []  # not twice the same day
    results = await due(env, datetime(2026, 3, 10, 8, 0))
    assert [r.run.school for r in results] == [OTHER]
    # The next day every school whose time has passed runs again, and THIRD (23:30), whose
    # time on the 10th passed with no pass after it, catches that day up.
    results = await due(env, datetime(2026, 3, 11, 7, 15))
    assert sorted(r.run.school for r in results) == [DFE, OTHER, THIRD]


async def test_a_server_that_was_down_catches_up(env):
    # Nothing ran yesterday or this morning: at 23:45 all three are due, concurrently.
    results = await due(env, datetime(2026, 3, 10, 23, 45))
    assert sorted(r.run.school for r in results) == sorted([DFE, OTHER, THIRD])
    assert all(r.run.status == "succeeded" for r in results)


async def test_a_school_due_just_before_midnight_runs_every_day_under_a_five_minute_cron(env):
    """A 23:58 school: the 23:55 pass is early, the 00:00 pass is the next day: it never ran."""
    with env.store.transaction("test") as txn:
        txn.put_school(dataclasses.replace(env.store.school(DFE), daily_at="23:58"))
    ran = []
    for day in range(10, 14):
        for at in (datetime(2026, 3, day, 23, 55), datetime(2026, 3, day + 1, 0, 0)):
            ran += [(at, r.run.school) for r in await due(env, at) if r.run.school == DFE]
    assert [at.day for at, _ in ran] == [11, 12, 13, 14]  # the 10th's on the 11th, and so on


async def test_a_host_down_over_midnight_catches_up_the_day_it_missed(env):
    await due(env, datetime(2026, 3, 10, 23, 45))  # every school ran on the 10th
    await due(env, datetime(2026, 3, 11, 7, 15))  # the morning's schools on the 11th
    assert await due(env, datetime(2026, 3, 11, 23, 25)) == []
    # down from 23:26 on the 11th to 00:04 on the 12th: THIRD's 23:30 of the 11th was missed
    assert [r.run.school for r in await due(env, datetime(2026, 3, 12, 0, 4))] == [THIRD]
    assert await due(env, datetime(2026, 3, 12, 0, 9)) == []
    assert THIRD in {r.run.school for r in await due(env, datetime(2026, 3, 12, 23, 31))}


async def test_a_pass_once_a_day_before_a_schools_time_runs_it_every_day(env):
    """A timer once a day at 05:00 (or a host that sleeps until then), a 06:00 school: yesterday's
    06:00 counted only until midnight plus six hours, and the school never ran at all."""
    ran = []
    for day in range(11, 15):
        ran += [r.run.school for r in await due(env, datetime(2026, 3, day, 5, 0))]
    assert ran.count(DFE) == 4 and ran.count(OTHER) == 4 and ran.count(THIRD) == 4
    # a host down from 18:00 to 00:30: the 23:30 school catches its evening up once
    await due(env, datetime(2026, 3, 15, 18, 0))
    assert [r.run.school for r in await due(env, datetime(2026, 3, 16, 0, 30))] == [THIRD]
    assert await due(env, datetime(2026, 3, 16, 0, 35)) == []


def test_a_school_added_after_its_time_waits_for_the_next_day(env):
    """Added at 21:47 with the default 06:00: the next pass started its first import, minutes
    after it was set up (before `sync --dry-run` could try it), although the console said its
    first run is at 06:00."""
    school = dataclasses.replace(
        env.store.school(DFE), daily_at="06:00", created_at="2026-03-11T21:47:00"
    )
    with env.store.transaction("test") as txn:
        txn.put_school(school)
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 21, 50))}
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, 5, 55))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, 6, 0))}
    # added by a clock a year ahead: not believed, as a run stamped so is not
    ahead = dataclasses.replace(school, created_at="2027-03-11T21:47:00")
    with env.store.transaction("test") as txn:
        txn.put_school(ahead)
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 21, 50))}


def test_a_catch_up_at_a_time_before_a_school_was_added_does_not_run_it(env):
    """Added today at 03:31 to run at 02:00; `run-due --at` yesterday 23:00 (a catch-up): the
    school, not there then, started its first import unattended."""
    school = dataclasses.replace(
        env.store.school(DFE), daily_at="02:00", created_at="2026-03-12T03:31:00"
    )
    with env.store.transaction("test") as txn:
        txn.put_school(school)
    clock = datetime(2026, 3, 12, 3, 35)
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 23, 0), clock)}
    assert DFE not in {s.dfe for s in due_schools(env.store, clock, clock)}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 13, 2, 0))}


async def test_a_daily_time_moved_later_waits_for_the_new_time(env):
    """Ran yesterday at 18:00, set at 09:00 to run at 20:00: yesterday's 20:00 (never a time of
    its) made it due at once, mid school day, and again at 20:00."""
    from uso_tui.sync.admin import update_school

    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 9, 9, 0), daily_at="18:00"
    )
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 10, 18, 5))}
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="20:00"
    )
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 9, 5))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 20, 0))}


async def test_a_daily_time_moved_earlier_before_the_days_run_runs_that_day(env):
    """Ran yesterday at 18:00, set at 09:00 to run at 08:00 (passed): it ran on no day until
    08:00 tomorrow, 38 hours after its last run."""
    from uso_tui.sync.admin import update_school

    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 9, 9, 0), daily_at="18:00"
    )
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 10, 18, 5))}
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="08:00"
    )
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 9, 5))}
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 9, 5))}
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 20, 0))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, 8, 0))}


async def test_a_failing_school_given_an_earlier_time_is_still_tried_again(env):
    """Failed at 06:00; at 09:00 the operator mends its secret and sets it to 08:00: the
    retries stopped and it ran on no day until 08:00 tomorrow."""
    from uso_tui.sync.admin import update_school

    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 10, 6, 5))}
    env.sim.set_switches(DFE, reject_credentials=True)
    (result,) = [r for r in await due(env, datetime(2026, 3, 11, 6, 0)) if r.run.school == DFE]
    assert result.run.status == "failed"
    env.sim.set_switches(DFE, reject_credentials=False)
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="08:00"
    )
    (result,) = [r for r in await due(env, datetime(2026, 3, 11, 9, 5)) if r.run.school == DFE]
    assert result.run.status == "succeeded"


async def test_a_daily_time_moved_much_later_before_the_days_run_waits_for_it(env):
    """Ran yesterday at 06:00, set at 05:00 to run at 19:00: it ran at once (19:00 is more than
    a day and a half after its last run), and again at 19:00."""
    from uso_tui.sync.admin import update_school

    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 10, 6, 5))}
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 5, 0), daily_at="19:00"
    )
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 5, 1))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 19, 0))}


def test_a_school_that_never_ran_given_an_earlier_time_is_still_tried_again(env):
    """Added days ago, its every scheduled run failed; set at 09:00 to run at 08:00: its
    retries stopped until tomorrow (it had no run to count the wait from)."""
    from uso_tui.sync.admin import update_school

    school = env.store.school(DFE)
    failed = dataclasses.replace(
        school, created_at="2026-03-05T10:00:00", scheduled_failed_at=["2026-03-11T06:00:00"]
    )
    with env.store.transaction("test") as txn:
        txn.put_school(failed)
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="08:00"
    )
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 9, 5))}


def test_a_school_added_after_midnight_waits_for_its_own_time(env):
    """Added at 00:30 with a daily time of 20:00: yesterday's 20:00 was no time of its, and its
    first import started at once in the night."""
    school = dataclasses.replace(
        env.store.school(DFE), daily_at="20:00", created_at="2026-03-11T00:30:00"
    )
    with env.store.transaction("test") as txn:
        txn.put_school(school)
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 0, 35))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 20, 5))}


async def test_a_run_stamped_by_a_clock_that_was_ahead_does_not_stop_the_schedule(env):
    """One pass with the clock a year ahead: the school's last run looked later than any day to
    come, and it ran on none of the next sixty days."""
    await due(env, datetime(2027, 6, 1, 6, 5))
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 6, 1, 6, 5))}
    assert await due(env, datetime(2026, 6, 1, 6, 10)) == []  # and once, not on every pass
    # a clock set back an hour (NTP, or autumn's change) is believed: no second run
    await due(env, datetime(2026, 6, 2, 23, 45))
    assert await due(env, datetime(2026, 6, 2, 22, 50)) == []


async def test_a_run_stamped_ahead_after_the_days_run_does_not_hide_it(env):
    """Ran at 06:05; then a host whose clock is a year ahead (or `run-due --at` tomorrow with
    --force) ran it: that run is not believed, and the summary held no run before it, so the
    06:05 run was lost and the school ran again at 06:10 (and, forced for tomorrow, again
    tomorrow at its time, whose run that was to be)."""

    async def ran(now: datetime) -> bool:
        return DFE in {r.run.school for r in await due(env, now)}

    assert await ran(datetime(2026, 6, 1, 6, 5))
    assert await ran(datetime(2027, 6, 1, 6, 7))
    assert not await ran(datetime(2026, 6, 1, 6, 10))
    # stamped tomorrow at 10:00 today (as `run-due --at` tomorrow with --force stamps it)
    assert await ran(datetime(2026, 6, 2, 6, 30))
    assert not await ran(datetime(2026, 6, 1, 10, 1))
    assert not await ran(datetime(2026, 6, 2, 6, 0))  # that run was tomorrow's
    assert await ran(datetime(2026, 6, 3, 6, 0))


async def test_a_run_stamped_by_a_clock_a_day_fast_does_not_take_that_days_run(env):
    """One pass with the clock a day fast (runs stamped the 12th at 06:05), then the clock put
    right: the 11th's pass ran every school, and on the real 12th the stamp, come within three
    hours of the clock, was taken for that day's run: no school ran (found by an audit). A run
    made after it started before it: its clock was ahead."""
    from uso_tui.sync.schedule import next_run

    await due(env, datetime(2026, 3, 12, 6, 5))
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 6, 10))}
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 12, 6, 5))}
    # a later run that failed shows it too; one started an hour before a run made before it
    # (the clocks gone back in autumn, NTP) is no sign of a clock that was ahead
    school = dataclasses.replace(
        env.store.school(DFE),
        counted_runs_at=["2026-03-13T06:05:00"],
        last_scheduled_success_at=None,
    )
    at = datetime(2026, 3, 13, 6, 5)
    assert next_run(dataclasses.replace(school, last_run_at="2026-03-12T06:10:00"), at) == at
    autumn = dataclasses.replace(school, last_run_at="2026-03-13T05:10:00")
    assert next_run(autumn, at) == datetime(2026, 3, 14, 6, 0)


async def test_a_failed_scheduled_run_is_retried_and_a_held_one_is_not(env):
    env.sim.set_switches(DFE, reject_credentials=True)
    (result,) = await due(env, datetime(2026, 3, 10, 6, 30))
    assert result.run.status == "failed"
    env.sim.set_switches(DFE, reject_credentials=False)
    (result,) = await due(env, datetime(2026, 3, 10, 6, 41))
    assert result.run.status == "succeeded"
    env.set_students(DFE, [])
    (result,) = [r for r in await due(env, datetime(2026, 3, 11, 6, 1)) if r.run.school == DFE]
    assert result.run.status == "held"
    assert due_schools(env.store, datetime(2026, 3, 11, 6, 30)) == []


async def test_a_school_that_keeps_failing_is_retried_less_and_less_often(env):
    """A wrong secret: run again 10, 20, 40... minutes after each failure (at most two hours
    apart), not on every pass of the scheduler; the next day it runs at its time again."""
    env.sim.set_switches(DFE, reject_credentials=True)
    tried = []
    for minute in range(0, 24 * 60 - 6 * 60, 5):  # a pass every five minutes from 06:00
        now = datetime(2026, 3, 10, 6, 0) + timedelta(minutes=minute)
        if DFE in [s.dfe for s in due_schools(env.store, now)]:
            (result,) = [r for r in await due(env, now) if r.run.school == DFE]
            assert result.run.status == "failed"
            tried.append(now.strftime("%H:%M"))
        else:
            await due(env, now)  # the other schools' runs, as the scheduler's pass makes them
    assert tried[:6] == ["06:00", "06:10", "06:30", "07:10", "08:30", "10:30"]
    assert tried[6:] == ["12:30", "14:30", "16:30", "18:30", "20:30", "22:30"]
    assert [s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 6, 0))] == [DFE]
    env.sim.set_switches(DFE, reject_credentials=False)
    (result,) = [r for r in await due(env, datetime(2026, 3, 11, 6, 0)) if r.run.school == DFE]
    assert result.run.status == "succeeded"
    assert DFE not in [s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 6, 15))]


def _two_reports(tmp_path) -> Env:
    """One school taking both reports, daily at 06:00, set up the night before."""
    env = Env(tmp_path / "store")
    env.add_school(
        DFE,
        students=[AMY],
        staff=[iris_student("9", "Di", "Oh", "1980-01-02")],
        daily_at="06:00",
        reports=["staff", "students"],
    )
    with env.store.transaction("test") as txn:
        for school in txn.schools():
            txn.put_school(dataclasses.replace(school, created_at="2026-03-10T00:00:00"))
    return env


async def test_a_force_run_of_every_report_since_the_daily_time_counts_as_run(tmp_path):
    """DESIGN: run-due runs every school whose daily time has passed "and that has not run
    since". A force run of every report at 06:10 (daily time 06:00) did not count: run-due ran
    the school again at 06:30. One of some of its reports, or before the daily time, does not
    count."""
    from uso_tui.sync.runner import run_school

    env = _two_reports(tmp_path)

    async def force(at: datetime, reports=None):
        async with env.client() as client:
            result = await run_school(
                env.store, DFE, trigger="force", operator="bob", now=at, reports=reports,
                client=client,
            )  # fmt: skip
        assert result.run.status == "succeeded"

    await force(datetime(2026, 3, 10, 5, 50))  # before the daily time: today's run still due
    await force(datetime(2026, 3, 10, 6, 5), ["students"])  # one report of two
    assert [s.dfe for s in due_schools(env.store, datetime(2026, 3, 10, 6, 30))] == [DFE]
    await force(datetime(2026, 3, 10, 6, 10))
    assert due_schools(env.store, datetime(2026, 3, 10, 6, 30)) == []
    assert [s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 6, 0))] == [DFE]


async def test_a_force_run_of_every_report_after_a_failed_scheduled_run_stops_the_retries(
    tmp_path,
):
    """A wrong secret failed the 06:00 run; the operator mended it and force ran the school at
    06:20 (it succeeded): run-due still ran it again at 06:30 and the hub still said it was
    tried again then. A force run of one report of two does not count."""
    from uso_tui.sync.runner import run_school
    from uso_tui.sync.schedule import next_retry, next_run

    env = _two_reports(tmp_path)
    env.sim.set_switches(DFE, reject_credentials=True)
    (failed,) = await due(env, datetime(2026, 3, 10, 6, 0))
    assert failed.run.status == "failed"
    env.sim.set_switches(DFE, reject_credentials=False)

    async def force(minute: int, reports=None):
        async with env.client() as client:
            result = await run_school(
                env.store,
                DFE,
                trigger="force",
                operator="bob",
                now=datetime(2026, 3, 10, 6, minute),
                reports=reports,
                client=client,
            )
        assert result.run.status == "succeeded"

    await force(5, ["students"])  # one report of two: the staff were not fetched
    assert [s.dfe for s in due_schools(env.store, datetime(2026, 3, 10, 6, 30))] == [DFE]
    await force(20)
    later = datetime(2026, 3, 10, 6, 30)
    assert due_schools(env.store, later) == []
    school = env.store.school(DFE)
    assert next_retry(school, later) is None
    assert next_run(school, later) == datetime(2026, 3, 11, 6, 0)
    # the next day runs as every day, and fails and retries again if it fails
    env.sim.set_switches(DFE, reject_credentials=True)
    (again,) = await due(env, datetime(2026, 3, 11, 6, 0))
    assert again.run.status == "failed"
    assert next_retry(env.store.school(DFE), datetime(2026, 3, 11, 6, 5))[1] == 1
    # the next day's daily time passed with no run since (the schedule down): due, whatever
    # ran the day before
    env.sim.set_switches(DFE, reject_credentials=False)
    assert [s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, 9, 30))] == [DFE]


async def test_scheduler_loop_calls_run_due_every_interval(env):
    clock_times = iter(
        [datetime(2026, 3, 10, 5, 59), datetime(2026, 3, 10, 6, 0), datetime(2026, 3, 10, 6, 1)]
    )
    slept: list[float] = []
    got: list[list] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async with env.client() as client:
        await scheduler_loop(
            env.store,
            clock=lambda: next(clock_times),
            sleep=fake_sleep,
            iterations=3,
            on_results=got.append,
            client=client,
        )
    assert slept == [60.0, 60.0]
    assert [[r.run.school for r in rs] for rs in got] == [[], [DFE], []]


async def test_scheduler_loop_survives_an_error(env):
    errors: list[BaseException] = []

    def bad_clock() -> datetime:
        raise RuntimeError("clock broke")

    async def fake_sleep(seconds: float) -> None:
        return None

    await scheduler_loop(
        env.store, clock=bad_clock, sleep=fake_sleep, iterations=2, on_error=errors.append
    )
    assert len(errors) == 2


async def test_a_school_whose_apply_fails_does_not_sink_the_others(env, monkeypatch):
    import uso_tui.sync.runner as runner

    real = runner._plan_reports

    def broken(snap, school, exports, now, progress):
        if school.dfe == OTHER:
            raise RuntimeError("boom")
        return real(snap, school, exports, now, progress)

    monkeypatch.setattr(runner, "_plan_reports", broken)
    results = await due(env, datetime(2026, 3, 10, 23, 45))
    status = {r.run.school: r.run.status for r in results}
    assert status == {DFE: "succeeded", OTHER: "failed", THIRD: "succeeded"}
    failed = env.store.run(next(r.run.run_id for r in results if r.run.school == OTHER))
    assert "apply failed, nothing changed: RuntimeError: boom" in failed.error
    assert env.store.school_accounts(OTHER) == [] and len(env.store.school_accounts(DFE)) == 1
    assert current_run(env.store, OTHER) is None


async def test_run_due_skips_a_school_already_running(env):
    from uso_tui.domain.models import Run

    with env.store.transaction("bob") as txn:
        txn.put_run(
            Run(
                run_id=txn.next_run_id(DFE),
                school=DFE,
                trigger="force",
                operator="bob",
                started_at="2026-03-10T06:20:00",
            )
        )
    results = await due(env, datetime(2026, 3, 10, 6, 30))
    assert results == []


def test_run_due_says_which_due_school_it_left_to_a_run_going(env, capsys):
    """A force run going when run-due's pass came: the school was left out without a word, and a
    cron log showed nothing of a school that did not run."""
    from uso_tui.cli.main import main
    from uso_tui.domain.models import Run

    with env.store.transaction("bob") as txn:
        run_id = txn.next_run_id(DFE)
        txn.put_run(
            Run(
                run_id=run_id, school=DFE, trigger="force", operator="bob",
                started_at="2026-03-10T06:20:00",
            )
        )  # fmt: skip
    args = ["--data-dir", str(env.store.root), "run-due"]
    assert main([*args, "--json"], clock=lambda: datetime(2026, 3, 10, 6, 30)) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert f"{DFE} not run: its run {run_id} (force, bob) is going" in captured.err
    assert main(args, clock=lambda: datetime(2026, 3, 10, 6, 30)) == 0
    captured = capsys.readouterr()  # (not "no school is due" beside it)
    assert captured.out == "no school run: 1 due left to a run of its own (see above)\n"


def test_run_due_says_so_also_when_the_run_it_left_a_school_to_ended_meanwhile(
    env, capsys, monkeypatch
):
    """The pass takes minutes on a large estate: the force run it left the school to had failed
    by its end, and nothing was said of the school."""
    import uso_tui.sync.schedule as schedule
    from uso_tui.cli.main import main
    from uso_tui.domain.models import Run

    with env.store.transaction("bob") as txn:
        run = Run(
            run_id=txn.next_run_id(DFE), school=DFE, trigger="force", operator="bob",
            started_at="2026-03-10T06:20:00",
        )  # fmt: skip
        txn.put_run(run)
    real = schedule.run_due

    async def slow_pass(store, now, **kw):
        results = await real(store, now, **kw)
        with store.transaction("bob") as txn:  # the force run fails meanwhile
            txn.put_run(
                dataclasses.replace(
                    run, status="failed", error="boom", finished_at="2026-03-10T06:31:00"
                )
            )
        return results

    monkeypatch.setattr(schedule, "run_due", slow_pass)
    args = ["--data-dir", str(env.store.root), "run-due"]
    assert main(args, clock=lambda: datetime(2026, 3, 10, 6, 30)) == 0
    said = capsys.readouterr().err
    assert f"{DFE} not run: its run {run.run_id} (force, bob) was going (failed now)" in said


async def test_a_school_another_scheduler_ran_since_it_was_found_due_is_not_run_again(env):
    """Two schedulers started a moment apart: both found the school due, the first ran it
    before the second claimed it (no run going then), and the school ran twice."""
    from uso_tui.sync.batch import claim_many

    now = datetime(2026, 3, 10, 6, 30)
    seen = due_schools(env.store, now)
    assert [s.dfe for s in seen] == [DFE]
    assert [r.run.status for r in await due(env, now)] == ["succeeded"]
    assert claim_many(env.store, seen, "scheduler", "2026-03-10T06:30:01") == []
    assert len(env.store.runs(DFE)) == 1


@contextlib.contextmanager
def served_estate(tmp_path, people: dict[str, tuple[str, str]]):
    """A store of schools (DfE -> the one pupil its export holds) and the simulator serving
    them over a real socket."""
    from uso_tui.domain.models import School
    from uso_tui.iris.server import start_background
    from uso_tui.iris.simulator import Simulator
    from uso_tui.store import open_store

    sim = Simulator()
    root_url, stop = start_background(sim)
    try:
        store = open_store(tmp_path / "store")
        store.set_allowed_mis_hosts([root_url.removeprefix("http://")])
        for dfe, (forename, surname) in people.items():
            with store.transaction("t") as txn:
                txn.add_school(
                    School(
                        dfe=dfe,
                        name=dfe,
                        mis="iSAMS",
                        url=f"{root_url}/{dfe}",
                        client_id="c",
                        reports=["students"],
                    ),
                    "secret-123456",
                )
            sim.add_school(
                dfe,
                client_id="c",
                secret="secret-123456",
                students=[iris_student("1", forename, surname, "2015-04-02")],
            )
        yield store
    finally:
        stop()


FOUR = {
    "204-3210": ("Amy", "Jones"),
    "204-3211": ("Bo", "Li"),
    "301-1000": ("Cy", "Ng"),
    "301-1001": ("Di", "Okafor"),
}
SEVEN = datetime(2026, 3, 10, 7, 0)


async def test_many_schools_spread_over_worker_processes(tmp_path, monkeypatch):
    """The estate path: local authorities handed to worker processes, over a real socket."""
    from uso_tui.domain.models import Run
    from uso_tui.sync import schedule, worker_processes

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    dfes = list(FOUR)
    runs = [Run(f"{d}-r1", d, "schedule", "scheduler") for d in [*dfes, "204-3212"]]
    assert [[r["school"] for r in g] for g in worker_processes._groups(runs)] == [
        ["204-3210", "204-3211", "204-3212"],  # an LA at a time, the largest first
        ["301-1000", "301-1001"],
    ]
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        assert sorted(r.run.school for r in results) == dfes
        assert all(r.run.status == "succeeded" and r.run.counts["created"] == 1 for r in results)
        assert all(len(store.school_accounts(d)) == 1 for d in dfes)
        assert due_schools(store, datetime(2026, 3, 10, 8, 0)) == []
        for result in results:  # the processed file, written from the worker's rows
            (row,) = store.processed_file(result.run.run_id).records
            assert (
                row["outcome"] == "created"
                and row["record"]["forename"] == FOUR[result.run.school][0]
            )
            assert row["username"] == store.school_accounts(result.run.school)[0].username


@pytest.mark.parametrize("processes", [1, 2])
async def test_one_schools_unreadable_key_file_fails_no_run(tmp_path, monkeypatch, processes):
    """A school's names.keys unreadable (a directory in its place): every search reads that
    school's index instead; over workers, each worker's first read of every school's keys had
    failed every school's run."""
    from uso_tui.sync import schedule

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    with served_estate(tmp_path, FOUR) as store:
        await schedule.run_due(store, SEVEN, processes=processes)
        keys = store.root / "schools/204-3210/names.keys"
        keys.unlink()
        keys.mkdir()
        results = await schedule.run_due(store, SEVEN + timedelta(days=1), processes=processes)
        assert sorted(r.run.school for r in results) == list(FOUR)
        assert all(r.run.status == "succeeded" for r in results), [r.run.error for r in results]


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_school_whose_failure_cannot_be_written_waits_for_its_retry(
    tmp_path, monkeypatch, processes
):
    """A school's data file damaged from outside: its run fails and that cannot be written
    either. The scheduler's process still waits retry_wait before trying it again, as for a
    failure it wrote (it fetched the school again at every pass, a minute apart)."""
    from uso_tui.store import liveness
    from uso_tui.sync import runner, schedule

    monkeypatch.setattr(liveness, "_abandoned", set())  # this test's store only
    monkeypatch.setattr(runner, "_unwritten", {})
    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    with served_estate(tmp_path, FOUR) as store:
        await schedule.run_due(store, SEVEN, processes=processes)
        (store.root / "schools/204-3210/data.json").write_bytes(b"{damaged")
        day2 = SEVEN + timedelta(days=1)
        results = await schedule.run_due(store, day2, processes=processes)
        failed = [r.run.school for r in results if r.run.status == "failed"]
        assert failed == ["204-3210"]

        def due(after: timedelta) -> list[str]:
            return [s.dfe for s in schedule.due_schools(store, day2 + after)]

        assert due(timedelta(minutes=1)) == []
        assert due(schedule.RETRY_FIRST) == ["204-3210"]
        await schedule.run_due(store, day2 + schedule.RETRY_FIRST, processes=processes)
        assert due(schedule.RETRY_FIRST * 2) == []  # twice as long after a second failure
        assert due(schedule.RETRY_FIRST * 3) == ["204-3210"]


@pytest.mark.parametrize("processes", [1, 2])
async def test_one_new_pupil_at_two_local_schools_on_one_day_is_created_once(
    tmp_path, monkeypatch, processes
):
    """Both schools plan before either commits; the second to commit is planned again and asks
    a person instead of creating a second account."""
    from uso_tui.sync import schedule

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    same = {**FOUR, "204-3211": FOUR["204-3210"]}
    with served_estate(tmp_path, same) as store:
        results = await schedule.run_due(store, SEVEN, processes=processes)
        counts = {r.run.school: r.run.counts for r in results}
        pair = [counts["204-3210"], counts["204-3211"]]
        assert sorted((c["created"], c["needs_matching"]) for c in pair) == [(0, 1), (1, 0)]
        cases = store.cases("204-3210") + store.cases("204-3211")
        assert [c.candidates[0]["school"] for c in cases] in (["204-3210"], ["204-3211"])


async def test_one_new_pupil_at_two_schools_of_an_la_two_workers_share_is_created_once(
    tmp_path, monkeypatch
):
    """Each worker plans one of the two schools, and both plan before either commits; the second
    to commit sees, under the lock, the account the other process created in their LA, and is
    planned again: a case instead of a second account."""
    import time

    from uso_tui.sync import schedule, worker_processes

    def together(step: str) -> None:  # a barrier between the two worker processes
        (tmp_path / f"{step}-{os.getpid()}").touch()
        until = time.monotonic() + 30
        while len(list(tmp_path.glob(f"{step}-*"))) < 2 and time.monotonic() < until:
            time.sleep(0.01)

    init, commit = worker_processes._Committer.__init__, worker_processes._Committer.commit

    def init_together(self, *args) -> None:
        init(self, *args)
        together("started")  # then each takes one group

    def commit_together(self, wait: bool) -> None:
        if wait:  # the last: none before it (GATHER below)
            together("planned")
        commit(self, wait)

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(
        worker_processes, "_start_method", lambda: "fork"
    )  # the children have the patches
    monkeypatch.setattr(worker_processes, "GATHER", 60)
    monkeypatch.setattr(worker_processes, "GATHER_MIN", 99)
    monkeypatch.setattr(worker_processes._Committer, "__init__", init_together)
    monkeypatch.setattr(worker_processes._Committer, "commit", commit_together)
    by_school = {}
    monkeypatch.setattr(  # LA 204 shared: one of its schools in each group
        worker_processes,
        "_groups",
        lambda runs, workers=1: (
            [
                [by_school[d].to_dict() for d in ("204-3210", "301-1000")],
                [by_school[d].to_dict() for d in ("204-3211", "301-1001")],
            ]
            if not by_school.update({r.school: r for r in runs})
            else []
        ),
    )
    same = {**FOUR, "204-3211": FOUR["204-3210"]}
    with served_estate(tmp_path / "estate", same) as store:
        results = await schedule.run_due(store, SEVEN, processes=2, max_schools=4)
        counts = {r.run.school: r.run.counts for r in results}
        pair = [counts["204-3210"], counts["204-3211"]]
        assert sorted((c["created"], c["needs_matching"]) for c in pair) == [(0, 1), (1, 0)]
        assert len(store.school_accounts("204-3210") + store.school_accounts("204-3211")) == 1


def test_the_last_local_authorities_are_cut_in_pieces_for_the_workers_to_share():
    from uso_tui.domain.models import Run
    from uso_tui.sync import worker_processes

    sizes = {204: 9, 301: 8, 302: 6}
    runs = [
        Run(f"{la}-{i}000-r1", f"{la}-{i}000", "schedule", "s")
        for la, n in sizes.items()
        for i in range(1, n + 1)
    ]
    groups = worker_processes._groups(runs, 2)
    assert [(g[0]["school"][:3], len(g)) for g in groups] == [
        ("204", 9),
        *[("301", 2)] * 4,
        ("302", 1),
        ("302", 2),
        ("302", 1),
        ("302", 2),
    ]
    assert sorted(r["school"] for g in groups for r in g) == sorted(r.school for r in runs)
    assert worker_processes._shared(groups) == {"301", "302"}
    # no more LAs than workers: all cut (an estate of one LA still has every worker)
    assert [len(g) for g in worker_processes._groups(runs, 3)] == [2, 2, 2, 3] + [2] * 4 + [
        1,
        2,
        1,
        2,
    ]
    assert [len(g) for g in worker_processes._groups(runs[:4], 2)] == [1, 1, 1, 1]


def all_failed(results, saying: str) -> None:
    """Every school of FOUR has a result, failed, its error saying `saying`."""
    assert sorted(r.run.school for r in results) == sorted(FOUR)
    for result in results:
        assert result.run.status == "failed" and saying in result.run.error, result.run.error


def forked_workers(monkeypatch, work) -> None:
    """run_due over two forked workers (they inherit the patches) doing `work` instead of
    fetching, planning and committing."""
    from uso_tui.sync import schedule, worker_processes

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(worker_processes, "_start_method", lambda: "fork")
    monkeypatch.setattr(worker_processes, "_fetch_plan_commit", work)


async def test_run_due_interrupted_stops_its_workers_at_once(tmp_path, monkeypatch):
    """Ctrl-C on run-due (asyncio cancels its task): the forked workers kept the parent's Ctrl-C
    handler and went on, and the parent waited JOIN_S for each before killing it."""
    from uso_tui.sync import schedule
    from uso_tui.sync import worker_processes as wp

    started = tmp_path / "started"
    started.mkdir()

    async def busy(store, *args) -> None:
        (started / str(os.getpid())).touch()
        await asyncio.sleep(3600)

    forked_workers(monkeypatch, busy)
    monkeypatch.setattr(wp, "JOIN_S", 3600.0)
    with served_estate(tmp_path, FOUR) as store:
        task = asyncio.create_task(schedule.run_due(store, SEVEN, processes=2))
        for _ in range(300):
            if len(os.listdir(started)) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(os.listdir(started)) == 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 60)  # (JOIN_S each, before)
        assert wp.multiprocessing.active_children() == []


async def test_a_worker_that_dies_leaves_its_schools_failed_and_whole(tmp_path, monkeypatch):
    from uso_tui.sync import schedule

    async def dies(store, *args) -> None:
        # as if killed with old versions kept (freeing.py): a link of its own in .freeing
        folder = store.root / ".freeing"
        folder.mkdir(mode=0o700, exist_ok=True)
        os.link(store.root / "config.json", folder / f"{os.getpid()}.1")
        os._exit(3)

    forked_workers(monkeypatch, dies)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        all_failed(results, "worker process ended before committing it (exit codes 3, 3)")
        assert all(store.run(r.run.run_id).status == "failed" for r in results)
        assert store.running_runs() == []
        assert all(store.school_accounts(d) == [] for d in FOUR)
        assert os.listdir(store.root / ".freeing") == []  # what the dead kept is freed


async def test_a_worker_that_fails_says_why_on_its_schools(tmp_path, monkeypatch, capfd):
    """A worker stopped by an error (a full disk while it commits) records nothing itself: the
    parent records its schools failed with that error, not only exit codes, and the error is
    on stderr (the scheduler's log)."""
    from uso_tui.sync import schedule

    async def no_space(store, *args) -> None:
        raise OSError(28, "No space left on device")

    forked_workers(monkeypatch, no_space)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        all_failed(results, "worker process failed before committing it: OSError: [Errno 28]")
        assert store.running_runs() == []
        assert "No space left on device" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("killed", "ended before committing it (exit codes 3)"),
        ("failed", "failed before committing it: OSError: [Errno 28] No space left on device"),
    ],
)
async def test_a_worker_that_dies_has_its_runs_failed_while_the_other_works(
    tmp_path, monkeypatch, how, said
):
    """One worker killed (or stopped by an error) with schools in hand: they showed "running"
    until every other worker had ended (the parent could not tell which runs the dead one had
    taken), and then with the first error any worker gave. Each worker says which runs it
    takes, and the dead one's are recorded failed, with its own error, while the other works."""
    import asyncio
    import json

    from uso_tui.sync import schedule
    from uso_tui.sync import worker_processes as wp

    marker, prompt = tmp_path / "dead.json", tmp_path / "prompt"

    async def work(store, job, start, work_q, max_connections, to_parent) -> None:
        start.get()
        group = work_q.get()
        if group is None:
            return
        ids = [r["run_id"] for r in group]
        to_parent.put({wp.TOOK: ids})
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:  # the other worker: waits for the dead one's runs, failed
            for _ in range(150):
                dead = json.loads(marker.read_text() or "[]")
                if dead and all(store.run(i).status == "failed" for i in dead):
                    prompt.write_text("seen")
                    return
                await asyncio.sleep(0.1)
            return
        os.write(fd, json.dumps(ids).encode())
        os.close(fd)
        if how == "failed":
            raise OSError(28, "No space left on device")
        os._exit(3)  # killed, its runs in hand

    forked_workers(monkeypatch, work)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        assert prompt.exists()  # failed before the other worker ended
        dead = json.loads(marker.read_text())
        for result in results:
            assert result.run.status == "failed"
            if result.run.run_id in dead:
                assert said in result.run.error
        assert store.running_runs() == []


async def test_workers_stopped_with_run_due_are_not_taken_for_silent(tmp_path, monkeypatch):
    """run-due and its workers stopped together (ctrl+z then fg, a container paused) for longer
    than SILENT_S: back, the parent looked before any worker had beaten again, took every one
    for silent and killed them all, their runs failed. A parent that was away itself waits."""
    import signal
    import time

    from uso_tui.sync import schedule
    from uso_tui.sync import worker_processes as wp

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(wp, "_start_method", lambda: "fork")
    monkeypatch.setattr(wp, "SILENT_S", 3.0)
    monkeypatch.setattr(wp, "HEARTBEAT_S", 0.2)
    real, away = wp._ready, []

    def ready(readers):
        if not away:  # the first look: everything stopped for 5 s
            away.append(True)
            pids = [p.pid for p in wp.multiprocessing.active_children()]
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(5)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        return real(readers)

    monkeypatch.setattr(wp, "_ready", ready)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        assert away and sorted(r.run.status for r in results) == ["succeeded"] * 4


async def test_a_worker_that_stops_is_killed_and_its_runs_failed(tmp_path, monkeypatch):
    """A worker stopped (SIGSTOP) or hung with schools in hand kept every school of the run
    "running", and the run itself waiting, for as long as it stayed so. Silent for SILENT_S
    (its heartbeat, from a thread of its own, stops with it), it is killed."""
    import signal

    from uso_tui.sync import schedule
    from uso_tui.sync import worker_processes as wp

    monkeypatch.setattr(wp, "SILENT_S", 1.0)
    monkeypatch.setattr(wp, "HEARTBEAT_S", 0.2)

    async def work(store, job, start, work_q, max_connections, to_parent) -> None:
        start.get()
        while (group := work_q.get()) is not None:
            to_parent.put({wp.TOOK: [r["run_id"] for r in group]})
            os.kill(os.getpid(), signal.SIGSTOP)

    forked_workers(monkeypatch, work)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        all_failed(results, "it said nothing for 1 s (stopped or hung)")
        assert store.running_runs() == []


@pytest.mark.parametrize("processes", [1, 2], ids=["in-process", "workers"])
async def test_a_daily_run_on_a_full_disk_leaves_no_school_running(
    tmp_path, monkeypatch, processes
):
    """The runs are claimed, then the disk is full: neither their changes nor their failure can
    be written. Each is reported failed saying so, and none keeps its school "running" for the
    scheduler that claimed it (workers commit, the parent claimed): its pass after the wait for
    a retry (RETRY_FIRST), once there is room, runs them all."""
    from uso_tui.store import liveness
    from uso_tui.store.transaction import TinyTransaction
    from uso_tui.sync import runner, schedule, worker_processes

    monkeypatch.setattr(liveness, "_abandoned", set())  # this test's store only
    monkeypatch.setattr(runner, "_unwritten", {})
    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(worker_processes, "_start_method", lambda: "fork")  # children patched
    committed = TinyTransaction.commit
    commits = []
    parent = os.getpid()

    def full_after_the_claim(self):  # the parent's claim is written; nothing after it
        commits.append(1)
        if len(commits) > 1 or os.getpid() != parent:
            raise OSError(28, "No space left on device")
        committed(self)

    with served_estate(tmp_path, FOUR) as store:
        monkeypatch.setattr(TinyTransaction, "commit", full_after_the_claim)
        results = await schedule.run_due(store, SEVEN, processes=processes)
        all_failed(results, "its end could not be recorded")
        assert store.running_runs() == []  # as this process sees them: none it still runs
        monkeypatch.setattr(TinyTransaction, "commit", committed)  # room again
        later = SEVEN + schedule.RETRY_FIRST
        if processes == 1:
            again = await schedule.run_due(store, later, processes=processes)
        else:  # the scheduler's next pass: it writes the ends it could not, then runs them
            passes: list = []
            await schedule.scheduler_loop(
                store, clock=lambda: later, iterations=1, on_results=passes.append
            )
            (again,) = passes
            monkeypatch.setattr(liveness, "_abandoned", set())  # as another process reads
            failed = [r for d in FOUR for r in store.runs(d) if r.status == "failed"]
            assert len(failed) == len(FOUR)
            assert all("its end could not be recorded" in r.error for r in failed)
        assert sorted(r.run.school for r in again) == sorted(FOUR)
        assert {r.run.status for r in again} == {"succeeded"}


async def test_workers_run_at_a_lower_priority_than_the_process_that_starts_them(
    tmp_path, monkeypatch
):
    """A scheduled run's workers yield the CPU to interactive work (an operator's console)."""
    from uso_tui.sync import schedule, worker_processes

    seen = tmp_path / "niceness"

    async def note_niceness(*args) -> None:
        with open(seen, "a") as handle:
            handle.write(f"{os.nice(0)}\n")

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(
        worker_processes, "_start_method", lambda: "fork"
    )  # the children have the patch
    monkeypatch.setattr(worker_processes, "_fetch_plan_commit", note_niceness)
    with served_estate(tmp_path / "estate", FOUR) as store:
        await schedule.run_due(store, SEVEN, processes=2)
    expected = min(19, os.nice(0) + worker_processes.WORKER_NICE)
    assert seen.read_text().split() == [str(expected)] * 2


async def test_runs_a_worker_committed_but_never_reported_are_read_back(tmp_path, monkeypatch):
    """A worker killed between its commit and its report: the parent finds the runs committed
    and reports them as they are, instead of failing them."""
    from uso_tui.sync import schedule, worker_processes

    commit = worker_processes._Committer.commit

    def commit_then_die(self, wait: bool) -> None:
        self.out = queue.SimpleQueue()  # the reports go nowhere
        commit(self, wait)
        if not self.pending:
            os._exit(4)

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    monkeypatch.setattr(
        worker_processes, "_start_method", lambda: "fork"
    )  # the child has the patch
    monkeypatch.setattr(worker_processes._Committer, "commit", commit_then_die)
    with served_estate(tmp_path, FOUR) as store:
        results = await schedule.run_due(store, SEVEN, processes=2)
        assert sorted(r.run.school for r in results) == sorted(FOUR)
        assert all(r.run.status == "succeeded" and r.run.counts["created"] == 1 for r in results)
        assert all(len(store.school_accounts(d)) == 1 for d in FOUR)
        assert store.running_runs() == []


def test_a_worker_ends_when_the_process_that_commits_is_gone():
    """_watch_parent ends its process once its parent is no longer the one it started with."""
    import subprocess
    import sys

    code = (
        "import asyncio, os\n"
        "from uso_tui.sync.worker_processes import _watch_parent\n"
        "asyncio.run(_watch_parent(os.getppid() + 1))\n"  # as if the parent had changed
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=30, check=False)
    assert done.returncode == 1


@pytest.mark.parametrize("stuck", ["waiting for work", "sending to a full pipe"])
def test_a_worker_whose_parent_dies_ends(tmp_path, stuck):
    """A run-due killed before it handed its workers anything left them waiting for it for ever
    (the parent was watched only once the work came); one killed while a worker sent it more
    than its pipe holds left that worker blocked in the send for ever (the parent was watched
    from the event loop the send held)."""
    import subprocess
    import sys

    flood = (
        "import uso_tui.sync.worker_processes as wp\n"
        "async def flood(store, job, start, work, connections, out):\n"
        "    while True:\n"
        "        out.put({wp.RUN: {'run_id': 'x' * 1000}})\n"
        "wp._fetch_plan_commit = flood\n"
    )

    root = str(tmp_path / "store")
    code = (
        "import multiprocessing, os, queue\n"
        "from datetime import datetime\n"
        "from uso_tui.store import open_store\n"
        "from uso_tui.sync.worker_processes import _RunDueJob, _worker\n"
        f"open_store({root!r})\n"
        f"job = _RunDueJob({root!r}, datetime(2026, 3, 10, 7), 0.0, 'scheduler', 1)\n"
        "nothing = queue.Queue()  # the parent never hands out work\n"
        "reader, writer = multiprocessing.Pipe(duplex=False)\n"
        + (flood if stuck == "sending to a full pipe" else "")
        + "_worker(job, nothing, nothing, 4, writer, os.getppid() + 1)\n"  # as if it changed
    )
    done = subprocess.run(
        [sys.executable, "-c", code], timeout=60, check=False, capture_output=True, text=True
    )
    assert done.returncode == 1 and not done.stderr, done.stderr


async def test_a_newcomer_at_schools_of_two_las_in_one_commit_gets_one_account(env, monkeypatch):
    """The daily run commits the schools it has planned together, in one transaction: a new
    person planned at schools of two local authorities gets one account, and a case at the
    other school whose candidate is that account (staged, not yet in any index)."""
    import uso_tui.sync.schedule as schedule

    far = "305-4120"
    newcomer = iris_student("9", "Ottoline", "Fairweather", "2013-06-05")
    env.add_school(far, students=[newcomer], daily_at="06:00")
    env.set_students(DFE, [newcomer])
    real = schedule.commit_and_report
    held: list = []

    async def together(store, batch, *args):
        held.extend(batch)
        if len(held) < 2:  # the first planned waits for the second
            return []
        return await real(store, held, *args)

    monkeypatch.setattr(schedule, "commit_and_report", together)
    results = await due(env, datetime(2026, 3, 10, 6, 30))
    assert sorted(r.run.school for r in results) == [DFE, far]
    made = [
        a
        for la in ("204", "305")
        for a in env.store.la_accounts(la, "pupil")
        if a.surname == "Fairweather"
    ]
    assert len(made) == 1
    [later] = {DFE, far} - {made[0].school}
    [case] = env.store.cases(later, "open")
    assert [c["username"] for c in case.candidates] == [made[0].username]
    created = {r.run.school: r.run.counts["created"] for r in results}
    assert created == {made[0].school: 1, later: 0}


async def test_the_hub_says_when_a_failing_school_is_tried_again(env, capsys):
    """The hub said only "failed" and when: not that run-due tries again, nor when."""
    from tui_helpers import screen_text, started

    from uso_tui.sync.schedule import next_retry

    env.sim.set_switches(DFE, reject_credentials=True)
    await due(env, datetime(2026, 3, 10, 6, 30))
    await due(env, datetime(2026, 3, 10, 6, 41))
    school = env.store.school(DFE)
    at, failures = next_retry(school, datetime(2026, 3, 10, 6, 45))
    assert failures == 2 and at == datetime(2026, 3, 10, 7, 1)
    now = datetime(2026, 3, 10, 6, 45)
    async with started(env.store, "school", DFE, size=(120, 30), clock=lambda: now) as (app, _):
        text = " ".join(screen_text(app).split())
    assert "failed 2 times since; run-due tries again at 07:01" in text
    env.sim.set_switches(DFE, reject_credentials=False)
    await due(env, datetime(2026, 3, 10, 7, 2))
    assert next_retry(env.store.school(DFE), datetime(2026, 3, 10, 7, 5)) is None
    # and `school show`, as long as it fails
    from uso_tui.cli.main import main

    env.sim.set_switches(DFE, reject_credentials=True)
    await due(env, datetime(2026, 3, 11, 6, 0))
    args = ["--data-dir", str(env.store.root), "school", "show", DFE]
    assert main(args, clock=lambda: datetime(2026, 3, 11, 6, 5)) == 0
    said = capsys.readouterr().out
    assert "failed once since its daily time; tried again at 2026-03-11 06:10" in said


async def test_a_retry_after_the_next_daily_time_is_said_as_that_time(env):
    """A school failing all night: the retry came after its next daily time, at which run-due
    runs it (a new day's run), so the hub and `school show` gave a time that would not be; and
    the count, kept for the last eight runs, stopped at 8."""
    from uso_tui.sync.schedule import due_schools, failed_times, next_retry, next_run

    env.sim.set_switches(DFE, reject_credentials=True)
    now = datetime(2026, 3, 10, 6, 0)
    while now <= datetime(2026, 3, 11, 5, 30):  # (the last failure at 05:30)
        if any(s.dfe == DFE for s in due_schools(env.store, now)):
            await due(env, now)
        now += timedelta(minutes=30)
    school = env.store.school(DFE)
    at, failures = next_retry(school, datetime(2026, 3, 11, 5, 40))  # (07:30 two hours on)
    assert at == datetime(2026, 3, 11, 6, 0) == next_run(school, datetime(2026, 3, 11, 5, 40))
    assert DFE in [s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 6, 0))]
    assert failures == 8 and failed_times(failures) == "8 or more times"
    assert failed_times(1) == "once" and failed_times(3) == "3 times"


async def test_a_catch_up_at_an_earlier_time_does_not_run_a_school_again(env):
    """`run-due --at` yesterday noon, the morning after: a school that ran yesterday and today
    ran again (today's run, stamped later than the --at, was not believed), and the next pass
    ran it a third time (the catch-up's run had become its latest)."""
    await due(env, datetime(2026, 3, 10, 6, 30))
    await due(env, datetime(2026, 3, 11, 6, 5))
    async with env.client() as client:
        late = await run_due(
            env.store, datetime(2026, 3, 10, 12, 0), client=client, clock=datetime(2026, 3, 11, 10)
        )
    assert DFE not in {r.run.school for r in late}
    assert DFE not in {r.run.school for r in await due(env, datetime(2026, 3, 11, 10, 5))}
    # a school that had not run since its daily time then is caught up, once
    env.sim.set_switches(OTHER, reject_credentials=True)
    await due(env, datetime(2026, 3, 12, 7, 5))
    env.sim.set_switches(OTHER, reject_credentials=False)
    async with env.client() as client:
        late = await run_due(
            env.store, datetime(2026, 3, 11, 23, 0), client=client, clock=datetime(2026, 3, 12, 9)
        )
    assert OTHER not in {r.run.school for r in late}  # it failed at 07:05 the 12th: tried since


def test_school_show_says_when_a_school_runs_next(env, capsys):
    """Nothing said when a school would run next: after its daily time was moved, whether it
    ran again today or waited for tomorrow."""
    import json

    from uso_tui.cli.main import main
    from uso_tui.sync.schedule import next_run

    school = env.store.school(DFE)  # 06:00, set up the night before the 10th
    assert next_run(school, datetime(2026, 3, 10, 5, 0)) == datetime(2026, 3, 10, 6, 0)
    assert next_run(school, datetime(2026, 3, 10, 6, 30)) == datetime(2026, 3, 10, 6, 30)  # due
    root = ["--data-dir", str(env.store.root), "school", "show", DFE]
    assert main(root, clock=lambda: datetime(2026, 3, 10, 5, 0)) == 0
    assert "Next scheduled run: 2026-03-10 06:00" in " ".join(capsys.readouterr().out.split())
    assert main([*root, "--json"], clock=lambda: datetime(2026, 3, 10, 5, 0)) == 0
    assert json.loads(capsys.readouterr().out)["next_run"] == "2026-03-10T06:00"


async def test_the_hub_says_when_a_school_that_ran_today_runs_next(env):
    from tui_helpers import screen_text, started

    await due(env, datetime(2026, 3, 10, 6, 30))
    now = datetime(2026, 3, 10, 9, 0)
    async with started(env.store, "school", DFE, size=(120, 30), clock=lambda: now) as (app, _):
        text = " ".join(screen_text(app).split())
    assert "next run tomorrow 06:00" in text


def test_run_due_refuses_an_empty_at(env, capsys):
    """`run-due --at "$UNSET"` in a cron line ran at the real time, silently."""
    from uso_tui.cli.main import main

    args = ["--data-dir", str(env.store.root), "run-due", "--at", ""]
    assert main(args, clock=lambda: datetime(2026, 3, 10, 6, 30)) == 2
    assert "bad --at ''" in capsys.readouterr().err


async def test_a_catch_up_runs_a_school_whose_later_run_failed(env):
    """A catch-up at yesterday noon for a school that has not run since yesterday's daily time:
    its failed run this morning put it off (a retry wait from a later failure), so it never
    ran for that day."""
    env.sim.set_switches(DFE, reject_credentials=True)
    (failed,) = [r for r in await due(env, datetime(2026, 3, 11, 6, 30)) if r.run.school == DFE]
    assert failed.run.status == "failed"
    env.sim.set_switches(DFE, reject_credentials=False)
    async with env.client() as client:
        late = await run_due(
            env.store, datetime(2026, 3, 10, 12, 0), client=client, clock=datetime(2026, 3, 11, 10)
        )
    assert DFE in {r.run.school for r in late if r.run.status == "succeeded"}


async def test_the_hub_says_a_held_run_still_waits_after_a_failed_one(env):
    """A run held, then a run that failed (IRIS down): the hub said only "failed", nothing of
    the held run that still waits for confirmation."""
    from tui_helpers import screen_text, started

    await due(env, datetime(2026, 3, 10, 6, 30))
    env.set_students(DFE, [])  # an empty export: its leavers held
    (held,) = [r.run for r in await due(env, datetime(2026, 3, 11, 6, 30)) if r.run.school == DFE]
    assert held.status == "held"
    env.sim.set_switches(DFE, reject_credentials=True)
    (failed,) = [r.run for r in await due(env, datetime(2026, 3, 12, 6, 30)) if r.run.school == DFE]
    assert failed.status == "failed"
    now = datetime(2026, 3, 12, 7, 0)
    async with started(env.store, "school", DFE, size=(120, 40), clock=lambda: now) as (app, _):
        text = " ".join(screen_text(app).split())
    assert f"Held because {held.run_id} still waits for confirmation" in text


def test_a_force_run_stamped_ahead_of_the_clock_does_not_undo_the_scheduled_one(env):
    """A force run stamped days ahead (a clock set wrong) is not believed; it must not take the
    school's real scheduled run of today with it (the later of the two was checked alone)."""
    from uso_tui.sync.schedule import next_run

    school = dataclasses.replace(
        env.store.school(DFE),
        last_scheduled_success_at="2026-03-10T06:00:00",
        last_whole_run_at="2026-03-13T09:00:00",
    )
    assert next_run(school, datetime(2026, 3, 10, 6, 30)) == datetime(2026, 3, 11, 6, 0)


def test_a_school_paused_after_it_was_found_due_is_not_claimed(env):
    """run-due claims its schools in batches: one paused meanwhile still ran once."""
    from uso_tui.sync.admin import update_school
    from uso_tui.sync.batch import claim_many

    found = due_schools(env.store, datetime(2026, 3, 10, 6, 30))
    assert [s.dfe for s in found] == [DFE]
    update_school(env.store, DFE, operator="admin", now=datetime(2026, 3, 10, 6, 31), paused="yes")
    assert claim_many(env.store, found, "scheduler", "2026-03-10T06:31:00") == []
    assert env.store.running_runs(DFE) == []


@pytest.mark.parametrize("moves", [["12:00"], ["12:00", "12:30"]], ids=["once", "twice"])
async def test_a_daily_time_moved_later_after_the_days_run_waits_for_tomorrow(env, moves):
    """Ran today at 06:05; at 09:00 its time was moved from 06:00 to 12:00 ("from now on, at
    noon"): it ran again at noon, mid school day (moved earlier, it already waited). Moved again
    a minute later (a typo corrected), the 06:05 run was taken for one before 12:00's day."""
    from uso_tui.sync.admin import update_school
    from uso_tui.sync.schedule import next_run

    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 6, 5))}
    for minute, daily_at in enumerate(moves):
        update_school(
            env.store,
            DFE,
            operator="admin",
            now=datetime(2026, 3, 11, 9, minute),
            daily_at=daily_at,
        )
    hh, mm = (int(x) for x in moves[-1].split(":"))
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, hh, mm))}
    assert next_run(env.store.school(DFE), datetime(2026, 3, 11, 10, 0)) == datetime(
        2026, 3, 12, hh, mm
    )
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, hh, mm))}


async def test_a_time_moved_twice_after_a_run_stamped_ahead_still_waits(env):
    """A run stamped a year ahead since the day's run: the second move took it for a run since
    the first (the schedule does not believe it), and the school ran again that day (found by
    review)."""
    from uso_tui.sync.admin import update_school

    assert DFE in {r.run.school for r in await due(env, datetime(2026, 6, 1, 6, 5))}
    await due(env, datetime(2027, 6, 1, 6, 7))
    for minute, daily_at in enumerate(["12:00", "12:30"]):
        at = datetime(2026, 6, 1, 9, minute)
        update_school(env.store, DFE, operator="admin", now=at, daily_at=daily_at)
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 6, 1, 12, 30))}


async def test_a_time_moved_twice_with_a_run_between_counts_that_run(env):
    """Moved at 05:00 from 06:00 to 05:30, run at 05:35 for it, moved at 09:00 to 12:00: the
    05:35 run was the day's (the time it ran for is the one the second move replaced)."""
    from uso_tui.sync.admin import update_school

    for at, daily_at in ((datetime(2026, 3, 11, 5, 0), "05:30"), (None, "12:00")):
        if at is None:
            assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 5, 35))}
            at = datetime(2026, 3, 11, 9, 0)
        update_school(env.store, DFE, operator="admin", now=at, daily_at=daily_at)
    assert DFE not in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 12, 0))}
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 12, 12, 0))}


async def test_a_catch_up_of_yesterday_then_a_later_time_still_runs_today(env):
    """Due at 20:00, the host down overnight: a catch-up at 07:05 ran yesterday's; moved to 21:00
    at 09:00, that catch-up was taken for today's run, and the school ran on no day."""
    from uso_tui.sync.admin import update_school

    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 9, 9, 0), daily_at="20:00"
    )
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 9, 20, 5))}
    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 7, 5))}
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="21:00"
    )
    assert DFE in {s.dfe for s in due_schools(env.store, datetime(2026, 3, 11, 21, 1))}


async def test_a_daily_time_moved_later_after_the_days_run_does_not_run_at_midnight(env):
    """Ran at 06:05; at 09:00 moved from 06:00 to 12:00: at midnight the day's 12:00 (a time no
    run had passed) was taken for a time it had not run since, and it ran then and again at
    noon (found by an audit). Passes every quarter of an hour: one run, at the new time."""
    from uso_tui.sync.admin import update_school

    assert DFE in {r.run.school for r in await due(env, datetime(2026, 3, 11, 6, 5))}
    update_school(
        env.store, DFE, operator="admin", now=datetime(2026, 3, 11, 9, 0), daily_at="12:00"
    )
    ran, now = [], datetime(2026, 3, 11, 9, 15)
    while now <= datetime(2026, 3, 12, 13, 0):
        ran += [now for r in await due(env, now) if r.run.school == DFE]
        now += timedelta(minutes=15)
    assert ran == [datetime(2026, 3, 12, 12, 0)]


def test_the_next_run_of_a_time_the_clocks_skip_is_when_they_show_one_again(env, monkeypatch):
    """01:30 does not exist in London on the last Sunday of March (01:00 GMT is 02:00 BST):
    the school runs at 02:00, and that is the time said, not 01:30."""
    import time

    from uso_tui.sync.schedule import next_retry, next_run

    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    try:
        school = env.store.school(DFE)

        def ran(day: str):
            return dataclasses.replace(
                school, daily_at="01:30", last_scheduled_success_at=f"{day}T01:31:00"
            )

        assert next_run(ran("2026-03-28"), datetime(2026, 3, 28, 12)) == datetime(2026, 3, 29, 2)
        assert next_run(ran("2026-03-29"), datetime(2026, 3, 29, 12)) == datetime(
            2026, 3, 30, 1, 30
        )
        autumn = next_run(ran("2026-10-24"), datetime(2026, 10, 24, 12))  # 01:30 twice: the first
        assert autumn == datetime(2026, 10, 25, 1, 30)
        # a retry that falls in the gap: tried again when the clocks show a time again
        failing = dataclasses.replace(
            school,
            daily_at="00:50",
            last_scheduled_success_at="2026-03-28T00:51:00",
            scheduled_failed_at=["2026-03-29T00:52:00"],
        )
        at = datetime(2026, 3, 29, 0, 55)
        assert next_retry(failing, at) == (datetime(2026, 3, 29, 2, 0), 1)
        assert next_run(failing, at) == datetime(2026, 3, 29, 2, 0)
    finally:
        monkeypatch.undo()
        time.tzset()


async def test_a_bad_config_json_stops_the_estate_run_before_any_run_is_claimed(
    tmp_path, monkeypatch
):
    """A bound of config.json that is no positive number is bad input, said once: over worker
    processes it was read only by each worker after the claim, and every school's run was
    recorded failed (its retry timer started), with two tracebacks (found by an audit)."""
    import json

    from uso_tui.domain.errors import InvalidInput
    from uso_tui.sync import schedule

    monkeypatch.setattr(schedule, "PARALLEL_FROM", 2)
    with served_estate(tmp_path, FOUR) as store:
        config = store.root / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "request_deadline_s": -1}))
        with pytest.raises(InvalidInput, match="request_deadline_s"):
            await schedule.run_due(store, SEVEN, processes=2)
        assert store.runs() == []
