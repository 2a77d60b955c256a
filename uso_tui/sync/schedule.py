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
import gc
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta

from uso_tui.domain.models import Export, Run, School
from uso_tui.store.api import Store
from uso_tui.sync.runner import (
    OnProgress,
    PoolCache,
    Preplanned,
    RunResult,
    _error_line,
    _fetch_all,
    _Progress,
    apply_in,
    final_in,
    iso,
    preplan,
)

CLAIM_BATCH = 32


def _due_at(school: School, now: datetime) -> datetime:
    hh, mm = (int(x) for x in school.daily_at.split(":"))
    return now.replace(hour=hh, minute=mm, second=0, microsecond=0)


def due_schools(store: Store, now: datetime) -> list[School]:
    """Schools whose daily time has passed today and with no successful scheduled run since
    (a held scheduled run counts: it ran), so a server that was down catches up."""
    out = []
    for s in store.list_schools():
        due = _due_at(s, now)
        if now < due:
            continue
        last = s.last_scheduled_success_at
        if last and last >= iso(due):
            continue
        out.append(s)
    return out


def _claim_many(store: Store, schools: list[School], operator: str, at: str) -> list[Run]:
    """Records a running run for each school that has none; skips the others (a force run, or
    another scheduler, has them)."""
    runs = []
    with store.transaction(operator) as txn:
        for s in schools:
            if txn.running_runs(s.dfe):  # type: ignore[attr-defined]
                continue
            run = Run(
                run_id=txn.next_run_id(s.dfe),
                school=s.dfe,
                trigger="schedule",
                operator=operator,
                reports=list(s.reports),
                started_at=at,
            )
            txn.put_run(run)
            runs.append(run)
    return runs


class _Done:
    """A fetched (or failed) school waiting for the committer."""

    __slots__ = ("run", "exports", "error", "emit", "pre")

    def __init__(
        self,
        run: Run,
        exports: dict[str, Export] | None,
        error: str | None,
        emit: _Progress,
        pre: Preplanned | None = None,
    ) -> None:
        self.run, self.exports, self.error, self.emit = run, exports, error, emit
        self.pre = pre


def _stage(txn, d: _Done, now: datetime, finished: str, pools: PoolCache, touched: list):
    if d.error is not None:
        run = Run.from_dict(d.run.to_dict())
        run.status, run.error, run.finished_at = "failed", d.error, finished
        final_in(txn, run, d.error)
        return RunResult(run, None, None)
    run, plans = apply_in(
        txn, d.run, d.exports or {}, now, d.emit, None, lambda: finished, pools, touched, d.pre
    )
    return RunResult(run, list(plans.values())[-1] if plans else None, plans)


def _commit_batch(
    store: Store, batch: list[_Done], now: datetime, finished: str, pools: PoolCache, operator: str
) -> list[RunResult]:
    touched: list = []
    try:
        with store.transaction(operator) as txn:
            results = [_stage(txn, d, now, finished, pools, touched) for d in batch]
        pools.update(touched)
        return results
    except Exception as exc:  # noqa: BLE001 - one school's problem must not sink the others
        if len(batch) == 1:
            d = batch[0]
            error = f"apply failed, nothing changed: {type(exc).__name__}: {_error_line(exc)}"
            with store.transaction(operator) as txn:
                return [_stage(txn, _Done(d.run, None, error, d.emit), now, finished, pools, [])]
    out: list[RunResult] = []
    for d in batch:
        out.extend(_commit_batch(store, [d], now, finished, pools, operator))
    return out


SWITCH_INTERVAL = 0.0005
PARALLEL_FROM = 40  # schools due at once from which run_due spreads them over processes
MAX_CONNECTIONS = 64  # the estate's bound on requests in flight, shared out between processes


async def run_due(
    store: Store,
    now: datetime,
    *,
    operator: str = "scheduler",
    client=None,
    on_progress: OnProgress | None = None,
    max_schools: int = 64,
    processes: int | None = None,
) -> list[RunResult]:
    """Runs every due school (see the module's docstring); returns each school's RunResult.

    With many schools due, no client and no progress listener given, the schools are spread
    over `processes` worker processes (default: one per CPU), whole local authorities to each,
    so parsing, planning and writing use every core; each worker keeps a share of the
    connection bound. The store's lock serialises their commits as it does any writers'."""
    schools = due_schools(store, now)
    if not schools:
        return []
    if processes is None:
        processes = os.cpu_count() or 1
    if processes > 1 and client is None and on_progress is None and len(schools) >= PARALLEL_FROM:
        return await _run_due_spread(store, now, schools, operator, max_schools, processes)
    return await _run_due_here(store, now, schools, operator, client, on_progress, max_schools)


def _spread(schools: list[School], n: int) -> list[list[str]]:
    """Whole local authorities per worker (each builds its own LA indexes), balanced by size."""
    by_la: dict[str, list[str]] = {}
    for s in schools:
        by_la.setdefault(s.la, []).append(s.dfe)
    parts: list[list[str]] = [[] for _ in range(n)]
    for dfes in sorted(by_la.values(), key=len, reverse=True):
        min(parts, key=len).extend(dfes)
    return [p for p in parts if p]


def _worker(
    root: str, dfes: list[str], now: datetime, operator: str, max_schools: int, max_connections: int
) -> list[dict]:
    """A worker process: its share of the due schools, returned as Run dicts."""
    from uso_tui.iris.client import IrisClient  # noqa: PLC0415
    from uso_tui.store import open_store  # noqa: PLC0415

    # The committing thread holds the store's lock across many file writes and fsyncs, each
    # releasing the GIL; with the default 5 ms switch interval it waits that long to get it back
    # from the threads parsing and planning, and every other writer waits with it.
    sys.setswitchinterval(SWITCH_INTERVAL)
    store = open_store(root, create=False)
    wanted = set(dfes)
    schools = [s for s in due_schools(store, now) if s.dfe in wanted]

    async def go() -> list[RunResult]:
        async with IrisClient(
            allowed_hosts=store.allowed_mis_hosts(), max_connections=max_connections
        ) as client:
            return await _run_due_here(store, now, schools, operator, client, None, max_schools)

    return [r.run.to_dict() for r in asyncio.run(go())]


async def _run_due_spread(
    store: Store,
    now: datetime,
    schools: list[School],
    operator: str,
    max_schools: int,
    processes: int,
) -> list[RunResult]:
    parts = _spread(schools, processes)
    share = max(4, MAX_CONNECTIONS // len(parts))
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")  # no inherited threads, locks or event loop
    with ProcessPoolExecutor(max_workers=len(parts), mp_context=ctx) as pool:
        futures = [
            loop.run_in_executor(
                pool,
                _worker,
                str(store.root),
                part,
                now,
                operator,
                max(1, max_schools // len(parts)),
                share,
            )
            for part in parts
        ]
        done = await asyncio.gather(*futures)
    return [RunResult(Run.from_dict(d), None, None) for runs in done for d in runs]


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
        from uso_tui.iris.client import IrisClient  # noqa: PLC0415

        client = IrisClient(allowed_hosts=store.allowed_mis_hosts())
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL))  # see _worker; restored at the end
    # The cyclic collector is paused for the run: the run builds large, long-lived structures
    # (LA indexes, exports, plans), and collections triggered by its allocations would traverse
    # them again and again (a fifth of the run's CPU, measured). One collection at the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _pipeline(store, now, schools, operator, client, on_progress, max_schools)
    finally:
        sys.setswitchinterval(switch)
        if collecting:
            gc.enable()
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
    sem = asyncio.Semaphore(max_schools)
    ready: list[_Done] = []
    wake = asyncio.Event()
    results: list[RunResult] = []
    state = {"claimed": 0, "claiming": True}
    by_dfe = {s.dfe: s for s in schools}

    def finished_at() -> str:
        return iso(now + timedelta(seconds=time.monotonic() - started))

    async def fetch(run: Run) -> None:
        emit = _Progress(run.run_id, run.school, on_progress)
        try:
            ready.append(await fetch_and_plan(run, emit))
        except BaseException as exc:  # the committer waits for every claimed school
            ready.append(_Done(run, None, f"run stopped: {type(exc).__name__}", emit))
            raise
        finally:
            wake.set()

    async def fetch_and_plan(run: Run, emit: _Progress) -> _Done:
        try:
            async with sem:
                emit("connecting", message=f"run {run.run_id} started (schedule, {operator})")
                secret = await asyncio.to_thread(store.secret, run.school)
                exports = await _fetch_all(
                    client, by_dfe[run.school], secret, run.reports, emit, None
                )
            run.counts["fetched"] = sum(len(e.records) for e in exports.values())
            emit.counts["fetched"] = run.counts["fetched"]
        except Exception as exc:  # noqa: BLE001 - a failed fetch is that school's failed run
            return _Done(run, None, _error_line(exc), emit)
        try:  # plan without the lock, while other schools fetch and commit
            pre = await asyncio.to_thread(
                preplan, store, run.school, exports, now, emit, pools, by_dfe[run.school]
            )
        except Exception:  # noqa: BLE001 - planned again under the lock, where it is reported
            pre = None
        return _Done(run, exports, None, emit, pre)

    async def claimer(tasks: list[asyncio.Task]) -> None:
        try:
            for i in range(0, len(schools), CLAIM_BATCH):
                chunk = schools[i : i + CLAIM_BATCH]
                runs = await asyncio.to_thread(_claim_many, store, chunk, operator, iso(now))
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
            done = await asyncio.to_thread(
                _commit_batch, store, batch, now, finished_at(), pools, operator
            )
            for d, r in zip(batch, done, strict=True):
                d.emit.counts = dict(r.run.counts)
                d.emit(
                    "failed"
                    if r.run.status == "failed"
                    else "held"
                    if r.run.status == "held"
                    else "done",
                    message=r.run.error or f"run {r.run.run_id} {r.run.status}",
                )
            results.extend(done)

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
    n = 0
    while stop is None or not stop.is_set():
        try:
            results = await run_due(store, clock(), client=client)
            if on_results is not None:
                on_results(results)
        except Exception as exc:  # noqa: BLE001
            if on_error is not None:
                on_error(exc)
        n += 1
        if iterations is not None and n >= iterations:
            return
        await sleep(interval)  # type: ignore[misc]
