"""The pieces of a daily run that many schools share: claiming runs a batch per transaction,
fetching and planning one school outside the store's lock, and committing fetched schools a
batch per transaction (group commit) with one school's failure kept from the others."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Iterator
from datetime import datetime

from uso_tui.domain.models import Export, Run, School
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store, StoreBusy
from uso_tui.sync.events import ProgressEmitter
from uso_tui.sync.fetching import error_line, fetch_reports
from uso_tui.sync.fresh import WrittenSinceWatch
from uso_tui.sync.runner import (
    APPLY_FAILED,
    PoolCache,
    Preplanned,
    RunResult,
    apply_in,
    final_in,
    preplan,
    sieves_for,
    unrecorded,
)

CLAIM_BATCH = 32
SWITCH_INTERVAL = 0.0005


@contextlib.contextmanager
def busy_process(*, restore: bool = True, commits: bool = True) -> Iterator[None]:
    """Settings for a process doing a daily run, restored after it.

    commits: the process commits while other threads parse and plan. The thread holding the
    store's lock writes and fsyncs, each releasing the GIL; with the default 5 ms switch
    interval it waits that long to get it back, and every other writer waits with it. The
    cyclic collector is paused: the run builds large, long-lived structures (LA indexes,
    exports, plans), and collections triggered by its allocations would traverse them again
    and again (a fifth of the run's CPU, measured). restore=False leaves them so (a worker
    process that ends after the run).
    """
    switch = sys.getswitchinterval()
    if commits:
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL))
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if restore:
            sys.setswitchinterval(switch)
            if collecting:
                gc.enable()


def claim_many(store: Store, schools: list[School], operator: str, at: str) -> list[Run]:
    """Records a running run for each school that has none; skips the others (a force run, or
    another scheduler, has them), the schools whose scheduled runs were recorded since
    `schools` was read (another scheduler found them due too, and has run them since), and
    those paused since."""
    runs = []
    with store.transaction(operator) as txn:
        for school in schools:
            now = txn.school(school.dfe)
            # (paused since it was found due: a pass claims its schools in batches)
            if now.paused or txn.running_runs(school.dfe) or _scheduled_since(now, school):
                continue
            run = Run(
                run_id=txn.next_run_id(school.dfe),
                school=school.dfe,
                trigger="schedule",
                operator=operator,
                reports=list(school.reports),
                started_at=at,
            )
            txn.put_run(run)
            runs.append(run)
    return runs


def _scheduled_since(now: School, seen: School) -> bool:
    return (now.last_scheduled_success_at, now.scheduled_failed_at, now.last_whole_run_at) != (
        seen.last_scheduled_success_at,
        seen.scheduled_failed_at,
        seen.last_whole_run_at,
    )


class Planned:
    """A fetched (or failed) school waiting for the committer."""

    __slots__ = ("run", "exports", "error", "progress", "pre")

    def __init__(
        self,
        run: Run,
        exports: dict[str, Export] | None,
        error: str | None,
        progress: ProgressEmitter,
        pre: Preplanned | None = None,
    ) -> None:
        self.run, self.exports, self.error, self.progress = run, exports, error, progress
        self.pre = pre


async def fetch_and_plan(
    store: Store,
    run: Run,
    school: School,
    now: datetime,
    client,
    pools: PoolCache,
    sem: asyncio.Semaphore,
    progress: ProgressEmitter,
    operator: str,
    inline: bool = False,
    written: WrittenSinceWatch | None = None,
) -> Planned:
    """Fetches a claimed school's reports, then plans them without the store's lock (while
    other schools fetch and commit). Never raises for the school's own failure.

    inline: plan in the event loop's thread (a worker process, which does nothing else). In a
    thread, planning would share the GIL with the loop parsing other schools' pages, and the
    handoffs cost a third of a worker's CPU.

    written: the run's WrittenSinceWatch, which watches the school's LA from before it is planned (what
    is created there meanwhile is checked under the lock)."""

    async def call(function, *args):
        return function(*args) if inline else await asyncio.to_thread(function, *args)

    try:
        async with sem:
            progress("connecting", message=f"run {run.run_id} started (schedule, {operator})")
            secret = await call(store.secret, run.school)
            # read before the fetch: its fingerprints let the client leave unchanged records
            # unparsed, and the plans are made from this same read
            state = await call(store.school_state, run.school)
            sieves = sieves_for(state, run.reports)
            exports = await fetch_reports(
                client, school, secret, run.reports, progress, sieves=sieves
            )
        run.counts["fetched"] = sum(e.size for e in exports.values())
        progress.counts["fetched"] = run.counts["fetched"]
    except Exception as exc:  # noqa: BLE001 - a failed fetch is that school's failed run
        return Planned(run, None, error_line(exc), progress)
    try:
        pre = await call(
            preplan, store, run.school, exports, now, progress, pools, school, state, written
        )
    except Exception:  # noqa: BLE001 - planned again under the lock, where it is reported
        pre = None
    return Planned(run, exports, None, progress, pre)


def _stage(
    txn,
    planned: Planned,
    now: datetime,
    finished: str,
    pools: PoolCache,
    touched: list,
    written: WrittenSinceWatch | None = None,
):
    if planned.error is not None:
        run = Run.from_dict(planned.run.to_dict())
        run.status, run.error, run.finished_at = "failed", planned.error, finished
        final_in(txn, run, planned.error)
        return RunResult(run, None, None)
    run, plans = apply_in(
        txn,
        planned.run,
        planned.exports or {},
        now,
        planned.progress,
        cancel=None,
        finished_at=lambda: finished,
        pools=pools,
        touched=touched,
        pre=planned.pre,
        written=written,
    )
    return RunResult(run, list(plans.values())[-1] if plans else None, plans)


def commit_batch(
    store: Store,
    batch: list[Planned],
    now: datetime,
    finished: str,
    pools: PoolCache,
    operator: str,
    written: WrittenSinceWatch | None = None,
    wait: bool = True,
) -> list[RunResult]:
    """Commits the batch in one transaction; if that fails, each school in its own, and a school
    that still fails is recorded failed with nothing of it applied. The accounts written are
    added to `pools` and `written`. wait=False: StoreBusy, nothing done, if another writer
    holds the lock."""
    staged: list = []
    try:
        with store.transaction(operator, wait=wait) as txn:
            if written is not None:
                las = {la_of(planned.run.school) for planned in batch}
                written.catch_up(txn, las, before=pools.update)
            results = [
                _stage(txn, planned, now, finished, pools, staged, written) for planned in batch
            ]
        pools.update(staged)
        if written is not None:
            written.add(staged)
        return results
    except StoreBusy:
        raise
    except Exception as exc:  # noqa: BLE001 - one school's problem must not sink the others
        if len(batch) == 1:
            planned = batch[0]
            error = f"{APPLY_FAILED}, nothing changed: {type(exc).__name__}: {error_line(exc)}"
            try:
                with store.transaction(operator) as txn:
                    return [
                        _stage(
                            txn,
                            Planned(planned.run, None, error, planned.progress),
                            now,
                            finished,
                            pools,
                            [],
                        )
                    ]
            except Exception as again:  # noqa: BLE001 - the failure cannot be written either
                return [unrecorded(planned.run, error, again, finished)]
    out: list[RunResult] = []
    for planned in batch:
        out.extend(commit_batch(store, [planned], now, finished, pools, operator, written))
    return out


async def commit_and_report(
    store: Store,
    batch: list[Planned],
    now: datetime,
    finished: str,
    pools: PoolCache,
    operator: str,
    written: WrittenSinceWatch | None = None,
) -> list[RunResult]:
    """commit_batch in a thread, then each run's last progress event from here."""
    done = await asyncio.to_thread(
        commit_batch, store, batch, now, finished, pools, operator, written
    )
    for planned, result in zip(batch, done, strict=True):
        report_end(planned.progress, result)
    return done


def report_end(progress: ProgressEmitter, result: RunResult) -> None:
    """The run's last progress event."""
    progress.counts = dict(result.run.counts)
    status = result.run.status
    progress(
        status if status in ("failed", "held") else "done",
        message=result.run.error or f"run {result.run.run_id} {status}",
    )
