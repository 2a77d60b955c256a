"""The daily schedule: `run_due` (cron, systemd timer, `uso-tui run-due`) and `scheduler_loop`
(`uso-tui scheduler`).

run_due is a pipeline, so the estate's run is bounded by IRIS and not by our processing:
schools are claimed (recorded "running") a batch per transaction, fetched concurrently within
the client's bounds, and applied as their fetches end, a batch per transaction (group commit:
while one batch commits, the next fetches keep arriving). Each run still commits all at once or
not at all: a batch that fails is retried one school per transaction, and the school that
fails is recorded failed with nothing of it applied.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from uso_tui.domain.models import Run, School
from uso_tui.store.api import Store
from uso_tui.store.schooldoc import FAILURES_KEPT
from uso_tui.sync.batch import (
    CLAIM_BATCH,
    Planned,
    WrittenSinceWatch,
    busy_process,
    claim_many,
    commit_and_report,
    fetch_and_plan,
)
from uso_tui.sync.events import OnProgress, ProgressEmitter
from uso_tui.sync.runner import (
    PoolCache,
    RunResult,
    has_unrecorded,
    iso,
    unrecorded_failures,
    write_unrecorded,
)


def _due_at(school: School, now: datetime) -> datetime:
    hh, mm = (int(x) for x in school.daily_at.split(":"))
    return now.replace(hour=hh, minute=mm, second=0, microsecond=0)


def _slot(
    school: School, now: datetime, last: str | None, clock: datetime | None = None
) -> datetime | None:
    """The school's latest daily time up to `now` at which it was there: today's once passed,
    else yesterday's (a 23:58 school under a five-minute cron, whose 23:55 pass is early and
    00:00 pass the next day; a host down over midnight; a pass once a day at 05:00 for a 06:00
    school: each would run on no day at all). A school added, or given its daily time, after
    that time waits for its next one (a first import is not started minutes after the school
    was set up, before an operator could try it with `sync --dry-run`; a school that ran
    yesterday at 18:00, set at 09:00 to run at 20:00, does not run at 09:05), unless its time
    was moved to one passed today and waiting for tomorrow's would leave it more than MAX_GAP
    after its `last` run, or after it was added if it never ran (set at 09:00 to run at 08:00).
    None: not due until later. `clock`: the time it really is, when `now` is another (a
    catch-up `run-due --at` yesterday does not run a school added since: it was not there)."""
    today = _due_at(school, now)
    slot = today if now >= today else today - timedelta(days=1)
    # (one stored without these times counts as there, and so does one stamped by a clock that
    # was ahead: see CLOCK_SLACK)
    since = max(school.created_at, school.daily_at_since)
    if since and iso(slot) < since <= iso(max(now, clock or now) + CLOCK_SLACK):
        since_when = last or school.created_at
        moved_past = slot == today and since_when and since_when < school.daily_at_since
        if not moved_past or _at(since_when) + MAX_GAP >= _next_daily(school, now):
            return None
    # (yesterday's too: after midnight, a time moved later that day is yesterday's slot)
    if _ran_before_moved(school, last, slot):
        return None
    return slot


def _ran_before_moved(school: School, last: str | None, day: datetime) -> bool:
    """Whether the school ran on `day` for that day's time, before its daily time was moved
    later that day: that run was the day's (moved from 06:00 to 12:00 at 09:00, after its 06:05
    run, it ran again at noon; moved earlier, it already waited for the next day). A run before
    the old time that day was the day before's, caught up: it is no run of this day."""
    since, was = school.daily_at_since, school.daily_at_was
    date = iso(day)[:10]
    return bool(
        last
        and since
        and was
        and last[:10] == since[:10] == date
        and f"{date}T{was}" <= last < since
    )


# The longest a school that has run waits for its next run because its daily time was moved.
MAX_GAP = timedelta(hours=36)


# How far ahead of now a run's time may be and still be believed: the clock set back by NTP, or
# by the hour in autumn (runs stamped in local time), is not a clock that was wrong. A run
# stamped later (a hardware clock before NTP set it, `run-due --at` a day on) would otherwise
# count as today's run until that day came, and stop the schedule.
CLOCK_SLACK = timedelta(hours=3)


# A school whose scheduled run failed today (IRIS down, a secret changed at the school) is run
# again RETRY_FIRST after the failure, then after twice as long each time, at most RETRY_MAX:
# not on every pass of the scheduler (a failed run a minute, a wrong secret tried a thousand
# times a day), and still soon after a passing outage.
RETRY_FIRST = timedelta(minutes=10)
RETRY_MAX = timedelta(hours=2)


def due_schools(store: Store, now: datetime, clock: datetime | None = None) -> list[School]:
    """Schools whose latest daily time (_slot) has passed with no run since (a successful or held
    scheduled run, or a force run of every report), so a server that was down catches up; a
    school whose scheduled runs failed since is due again once it has waited retry_wait; never
    a paused school. `clock`: the time it really is, when `now` is another (`run-due --at`, see
    _failed_since_due)."""
    out = []
    for school in store.list_schools():
        if school.paused:  # (a force run still runs it)
            continue
        failed = _failed_since_due(school, now, clock)
        if failed is None:
            continue
        if failed and now < _retry_at(failed):
            continue
        out.append(school)
    return out


def _failed_since_due(
    school: School, now: datetime, clock: datetime | None = None
) -> list[str] | None:
    """The school's scheduled runs that failed since its latest daily time (_slot), when no
    scheduled run has succeeded since (run times later than CLOCK_SLACK from now, or from
    `clock` when that is later, are not believed); None when that time has not come or the
    school has run since (a force run of every report counts: DESIGN's "has not run since"; one
    of some reports does not). A run that succeeded after `now` but before `clock` (`run-due --at`
    yesterday, a catch-up) is a real run since that daily time: the school is not run again
    for it; one that failed then is a later day's, which does not put off the catch-up."""
    latest = iso(now + CLOCK_SLACK)
    last = last_ran(school, now, clock)
    due = _slot(school, now, last, clock)
    if due is None:
        return None
    since = iso(due)
    if last and last >= since:
        return None
    # with this process's failures whose ends could not be written (a school's data file
    # unreadable): otherwise tried again at every pass of the scheduler, a fetch a minute
    failed = [*school.scheduled_failed_at, *unrecorded_failures(school.dfe)]
    return sorted((at for at in failed if since <= at <= latest), reverse=True)


def last_ran(school: School, now: datetime, clock: datetime | None = None) -> str | None:
    """The school's last run that did run: scheduled, or forced (console, `sync`) of every
    report; each believed only if not stamped ahead (CLOCK_SLACK) of the clock, nor of a run
    made after it."""
    # Runs are numbered as made: one stamped more than CLOCK_SLACK after a later run started (the
    # newest, last_run_at, or a newer one believed) had a clock that was ahead. Judged by now
    # alone, a stamp a day ahead was believed once that day came, and was taken for its run.
    seen = max(now, clock or now)
    if school.last_run_at:
        seen = min(seen, _at(school.last_run_at))
    ran = []
    # newest first (a force run of every report is since the last scheduled run that ran)
    for at in (*school.counted_runs_at, school.last_whole_run_at, school.last_scheduled_success_at):
        if at and at <= iso(seen + CLOCK_SLACK):
            ran.append(at)
            seen = min(seen, _at(at))
    return max(ran, default=None)


def next_retry(school: School, now: datetime) -> tuple[datetime, int] | None:
    """When run-due tries a school whose scheduled runs failed since its latest daily time
    again (its next daily time, if that comes first: a new day's run, due at once), and how
    many failed (as due_schools decides; at most FAILURES_KEPT are kept: see failed_times);
    None when none failed since, or it has run since."""
    failed = _failed_since_due(school, now)
    if not failed:
        return None
    return _on_the_clock(_tried_again_at(school, failed, now)), len(failed)


def failed_times(count: int) -> str:
    """How many scheduled runs failed, as next_retry counts them: "3 times", "8 or more times"
    (a school keeps the times of its last FAILURES_KEPT)."""
    if count == 1:
        return "once"
    return f"{count} or more times" if count >= FAILURES_KEPT else f"{count} times"


def next_run(school: School, now: datetime) -> datetime:
    """When run-due next runs the school (as due_schools decides): `now` when it is due, the
    retry of a failing school (or its next daily time, if that comes first), else its next
    daily time (today's if it has not run for it)."""
    failed = _failed_since_due(school, now)
    if failed is not None:
        return _on_the_clock(_tried_again_at(school, failed, now) if failed else now)
    return _on_the_clock(_next_daily(school, now, last_ran(school, now)))


def _on_the_clock(at: datetime) -> datetime:
    """`at` (a local wall time) as the clock shows it: a time the clocks skip when they go
    forward (01:30 in London on the last Sunday of March) is run when they show one again
    (02:00), the first pass whose time is past it."""
    for minutes in range(0, 24 * 60 + 1):  # (a gap is an hour, in a few zones a day)
        moved = at + timedelta(minutes=minutes)
        if moved.astimezone().replace(tzinfo=None) == moved:
            return moved.replace(second=0, microsecond=0) if minutes else at
    return at


def _tried_again_at(school: School, failed: list[str], now: datetime) -> datetime:
    """When run-due runs a school whose scheduled runs failed at `failed` again: its retry, or
    its next daily time if that comes first (a new day's run, due at once)."""
    return min(max(now, _retry_at(failed)), _next_daily(school, now))


def _next_daily(school: School, now: datetime, last: str | None = None) -> datetime:
    today = _due_at(school, now)
    if now < today and not _ran_before_moved(school, last, today):
        return today
    return today + timedelta(days=1)


def _retry_at(failed: list[str]) -> datetime:
    """When a school whose scheduled runs failed at `failed` (times) is run again."""
    return _at(max(failed)) + retry_wait(len(failed))


def retry_wait(failures: int) -> timedelta:
    """How long after its `failures`-th failed scheduled run of the day a school runs again."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** min(failures - 1, 16))


def _at(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:  # not a time we wrote: no wait
        return datetime.min


PARALLEL_FROM = 40  # schools due at once from which run_due spreads them over processes


async def run_due(
    store: Store,
    now: datetime,
    *,
    operator: str = "scheduler",
    client=None,
    on_progress: OnProgress | None = None,
    max_schools: int = 64,
    processes: int | None = None,
    progress_detail: bool = True,
    clock: datetime | None = None,
    due: list[School] | None = None,
) -> list[RunResult]:
    """Runs every due school (see the module's docstring); returns each school's RunResult.
    `clock`: the time it really is, when `now` is another (due_schools). `due`: the schools
    due_schools gave the caller just before (not read twice).

    With many schools due and no client given, the fetching and planning is spread over
    `processes` worker processes (default: one per CPU) and this process commits (see
    worker_processes.py), unless `on_progress` wants every event (`progress_detail`): from the workers it
    hears only each school's start and end."""
    schools = due_schools(store, now, clock) if due is None else due
    if not schools:
        return []
    if processes is None:
        processes = os.cpu_count() or 1
    quiet = on_progress is None or not progress_detail
    if processes > 1 and client is None and quiet and len(schools) >= PARALLEL_FROM:
        from uso_tui.config import iris_bounds  # noqa: PLC0415
        from uso_tui.sync.worker_processes import run_over_workers  # noqa: PLC0415

        # A config.json refused (a bound not a positive number) is bad input said once, before
        # any run is claimed: each worker read it only after the claim, and every school's run
        # was recorded failed with its traceback twice (as _run_due_here's schools are not)
        iris_bounds(store.root)
        return await run_over_workers(
            store, now, schools, operator, max_schools, processes, on_progress
        )
    return await _run_due_here(store, now, schools, operator, client, on_progress, max_schools)


async def _run_due_here(
    store: Store,
    now: datetime,
    schools: list[School],
    operator: str,
    client,
    on_progress: OnProgress | None,
    max_schools: int,
) -> list[RunResult]:
    own_client = client is None
    if own_client:
        from uso_tui.config import iris_bounds  # noqa: PLC0415
        from uso_tui.iris.client import IrisClient  # noqa: PLC0415

        client = IrisClient(allowed_hosts=store.allowed_mis_hosts(), bounds=iris_bounds(store.root))
    try:
        with busy_process():
            return await _pipeline(store, now, schools, operator, client, on_progress, max_schools)
    finally:
        if own_client:
            await client.aclose()


async def _pipeline(
    store: Store,
    now: datetime,
    schools: list[School],
    operator: str,
    client,
    on_progress: OnProgress | None,
    max_schools: int,
) -> list[RunResult]:
    started = time.monotonic()
    pools = PoolCache()
    written = WrittenSinceWatch()
    sem = asyncio.Semaphore(max_schools)
    ready: list[Planned] = []
    wake = asyncio.Event()
    results: list[RunResult] = []
    state = {"claimed": 0, "claiming": True}
    by_dfe = {s.dfe: s for s in schools}

    def finished_at() -> str:
        return iso(now + timedelta(seconds=time.monotonic() - started))

    async def fetch(run: Run) -> None:
        progress = ProgressEmitter(run.run_id, run.school, on_progress)
        try:
            ready.append(
                await fetch_and_plan(
                    store,
                    run,
                    by_dfe[run.school],
                    now,
                    client,
                    pools,
                    sem,
                    progress,
                    operator,
                    written=written,
                )
            )
        except BaseException as exc:  # the committer waits for every claimed school
            ready.append(Planned(run, None, f"run stopped: {type(exc).__name__}", progress))
            raise
        finally:
            wake.set()

    async def claimer(tasks: list[asyncio.Task]) -> None:
        try:
            for start in range(0, len(schools), CLAIM_BATCH):
                chunk = schools[start : start + CLAIM_BATCH]
                runs = await asyncio.to_thread(claim_many, store, chunk, operator, iso(now))
                state["claimed"] += len(runs)
                tasks.extend(asyncio.create_task(fetch(r)) for r in runs)
        finally:
            state["claiming"] = False
            wake.set()

    async def committer() -> None:
        while state["claiming"] or len(results) < state["claimed"]:
            await wake.wait()
            wake.clear()
            if not ready:
                continue
            batch = ready[:]
            del ready[:]
            results.extend(
                await commit_and_report(store, batch, now, finished_at(), pools, operator, written)
            )

    tasks: list[asyncio.Task] = []
    await asyncio.gather(claimer(tasks), committer())
    await asyncio.gather(*tasks)
    return results


async def scheduler_loop(
    store: Store,
    *,
    clock: Callable[[], datetime] = datetime.now,
    sleep: Callable[[float], object] = asyncio.sleep,
    interval: float = 60.0,
    stop: threading.Event | None = None,
    iterations: int | None = None,
    on_results: Callable[[list[RunResult]], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    client=None,
) -> None:
    """`uso-tui scheduler`: run_due every minute until stopped. An error in one pass is reported
    and the loop goes on (a systemd service should not die because one school misbehaves)."""
    passes = 0
    while stop is None or not stop.is_set():
        try:
            if has_unrecorded():  # the ends of runs a full disk kept from being written
                await asyncio.to_thread(write_unrecorded, store)
            results = await run_due(store, clock(), client=client)
            if on_results is not None:
                on_results(results)
        except Exception as exc:  # noqa: BLE001
            if on_error is not None:
                on_error(exc)
        passes += 1
        if iterations is not None and passes >= iterations:
            return
        await sleep(interval)  # type: ignore[misc]
