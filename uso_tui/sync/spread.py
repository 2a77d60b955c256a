"""run_due over worker processes: they fetch and plan, this process commits.

Fetching and planning hundreds of schools is CPU work (parsing JSON, matching) that one Python
process cannot keep up with, so whole local authorities go to each worker process (each builds
its own LA indexes). Committing stays here, in a process that does nothing else: the store's
lock is then held for the time the writes take. (Measured: a commit made inside a busy worker
took three times its CPU time, waiting for the GIL, and the lock was busy for the whole run.)

Runs are claimed here before any worker starts; each worker sends each school's plans (its
export is in their rows) as soon as they are made; a worker that dies has its unsent schools
recorded failed, and a worker whose parent dies ends. Plans made in a worker are checked here under the lock, as in one process: the school's
data must still be the version they were made from, and no starter it would create may look like
an account written earlier in this run (say at a school of the same LA in the other worker);
otherwise the school is planned again under the lock.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue as queue_mod
import threading
import time
from datetime import datetime, timedelta

from uso_tui.domain.models import Export, MisRecord, Run, School
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store
from uso_tui.sync.batch import (
    CLAIM_BATCH,
    Done,
    Written,
    busy_process,
    claim_many,
    commit_and_report,
)
from uso_tui.sync.runner import OnProgress, PoolCache, RunResult, _Progress, iso

MAX_CONNECTIONS = 64  # the estate's bound on requests in flight, shared out between workers
POLL = 0.2  # seconds between looks at the workers while none has sent anything
GATHER = 0.25  # seconds a commit may wait for more schools after the first is ready
GATHER_MIN = 8  # schools in hand that end the wait


def _groups(runs: list[Run]) -> list[list[dict]]:
    """The runs by local authority, largest first: a worker takes a whole LA at a time (it
    builds that LA's candidate indexes) and the next when it has room, so the workers stay
    evenly loaded however the LAs differ in size."""
    by_la: dict[str, list[dict]] = {}
    for r in runs:
        by_la.setdefault(la_of(r.school), []).append(r.to_dict())
    return sorted(by_la.values(), key=len, reverse=True)


def _pack(d: Done) -> tuple:
    """What a worker sends for a school. Its plans' rows hold every record of its exports (with
    each export's order, should the school be planned again), so the records are not sent twice
    and the committing process rebuilds no record objects in the common case; a school that
    could not be planned sends its exports whole."""
    run = d.run.to_dict()
    if d.pre is not None and d.exports is not None:
        orders: dict[str, list[int]] = {}
        try:
            for report, p in d.pre.plans.items():
                pos = {id(o.record): i for i, o in enumerate(p.outcomes)}
                records = d.exports[report].records
                if len(pos) != len(records):
                    raise KeyError(report)
                orders[report] = [pos[id(r)] for r in records]
        except KeyError:
            pass
        else:
            packed = {}
            for report, p in d.pre.plans.items():
                packed[report] = (orders[report], p.rows_json())  # made while planning
                p.outcomes, p._rows, p._rows_json = [], None, None
            return run, d.error, d.pre, packed
    exports = None
    if d.exports is not None:
        exports = {r: [x.to_dict() for x in e.records] for r, e in d.exports.items()}
    return run, d.error, None, exports


def _unpack(msg: tuple, on_progress: OnProgress | None) -> Done:
    run_d, error, pre, extra = msg
    run = Run.from_dict(run_d)
    emit = _Progress(run.run_id, run.school, on_progress)
    if pre is None:
        exports = None
        if extra is not None:
            exports = {
                r: Export(report=r, records=[MisRecord.from_dict(x) for x in recs])
                for r, recs in extra.items()
            }
        return Done(run, exports, error, emit)

    for report, p in pre.plans.items():
        p._rows_json = extra[report][1]  # written into the processed file as it is

    def exports_from_rows() -> dict[str, Export]:
        out = {}
        for report, p in pre.plans.items():
            rows = p.rows()
            records = [MisRecord.from_dict(rows[i]["record"]) for i in extra[report][0]]
            out[report] = Export(report=report, records=records)
        return out

    return Done(run, exports_from_rows, error, emit, pre)


async def run_spread(
    store: Store,
    now: datetime,
    schools: list[School],
    operator: str,
    max_schools: int,
    processes: int,
    on_progress: OnProgress | None = None,
) -> list[RunResult]:
    """on_progress hears each school's start and end only (the rest happens in the workers)."""
    started = time.monotonic()

    def finished_at() -> str:
        return iso(now + timedelta(seconds=time.monotonic() - started))

    with busy_process():
        runs: list[Run] = []
        for i in range(0, len(schools), CLAIM_BATCH):
            # In this thread (nothing else runs yet): a process with no other thread can fork.
            runs += claim_many(store, schools[i : i + CLAIM_BATCH], operator, iso(now))
        if not runs:
            return []
        for r in runs:
            _Progress(r.run_id, r.school, on_progress)(
                "connecting", message=f"run {r.run_id} started (schedule, {operator})"
            )
        groups = _groups(runs)
        n = max(1, min(processes, len(groups)))
        ctx = multiprocessing.get_context(_start_method())
        results_queue, work = ctx.Queue(), ctx.Queue()
        for group in groups:
            work.put(group)
        for _ in range(n):
            work.put(None)  # no more work
        workers = [
            ctx.Process(
                target=_worker,
                args=(
                    str(store.root),
                    work,
                    now,
                    operator,
                    max(1, max_schools // n),
                    max(4, MAX_CONNECTIONS // n),
                    results_queue,
                ),
                name=f"uso-tui run-due worker {i + 1}",
                daemon=True,
            )
            for i in range(n)
        ]
        for w in workers:
            w.start()
        try:
            return await _commit_all(
                store, now, runs, workers, results_queue, operator, finished_at, on_progress
            )
        finally:
            for w in workers:
                await asyncio.to_thread(w.join, 5)
                if w.is_alive():
                    w.kill()


def _start_method() -> str:
    """fork when this process has no other thread (as under cron or systemd): the workers start
    at once with everything imported. Otherwise spawn (a thread may hold a lock at the fork)."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _take(results_queue, running: int) -> list:
    """What the workers send: waits a little for a first message, then gathers for up to GATHER
    seconds until GATHER_MIN schools are in hand (group commit: a transaction's fixed cost,
    rewriting the directory, the LA's username registry and the recent feed, is then shared by
    many schools). `running`: the workers that have not yet said they are done."""
    try:
        got = [results_queue.get(timeout=POLL)]
    except queue_mod.Empty:
        return []
    until = time.monotonic() + GATHER
    while True:
        schools = sum(1 for m in got if m is not None)
        ends = len(got) - schools
        left = until - time.monotonic()
        try:
            if schools >= GATHER_MIN or ends >= running or left <= 0:
                got.append(results_queue.get_nowait())  # only what is there already
            else:
                got.append(results_queue.get(timeout=left))
        except queue_mod.Empty:
            if schools >= GATHER_MIN or ends >= running or left <= 0:
                return got


async def _commit_all(
    store: Store,
    now: datetime,
    runs: list[Run],
    workers: list,
    results_queue,
    operator: str,
    finished_at,
    on_progress: OnProgress | None,
) -> list[RunResult]:
    pending = {r.run_id: r for r in runs}
    pools = PoolCache()  # only for schools planned again here, under the lock
    written = Written()
    results: list[RunResult] = []
    ended = 0
    while pending:
        got = await asyncio.to_thread(_take, results_queue, len(workers) - ended)
        batch: list[Done] = []
        for msg in got:
            if msg is None:  # a worker has sent everything it will send
                ended += 1
                continue
            d = _unpack(msg, on_progress)
            if d.run.run_id in pending:
                batch.append(d)
        if batch:
            done = await commit_and_report(
                store, batch, now, finished_at(), pools, operator, written
            )
            for r in done:
                pending.pop(r.run.run_id, None)
            results.extend(done)
            continue
        if not got and (ended == len(workers) or not any(w.is_alive() for w in workers)):
            codes = ", ".join(str(w.exitcode) for w in workers)
            lost = [
                Done(
                    run,
                    None,
                    f"run stopped: its worker process ended before sending it (exit codes {codes})",
                    _Progress(run.run_id, run.school, on_progress),
                )
                for run in pending.values()
            ]
            results += await commit_and_report(store, lost, now, finished_at(), pools, operator)
            break
    return results


def _worker(
    root: str,
    work,
    now: datetime,
    operator: str,
    max_schools: int,
    max_connections: int,
    results_queue,
) -> None:
    """A worker process: takes local authorities from `work` and fetches and plans their
    schools, sending each as soon as it is planned."""
    code = 1
    parent = os.getppid()
    try:
        with busy_process(restore=False, commits=False):
            asyncio.run(
                _fetch_and_plan_all(
                    root, work, now, operator, max_schools, max_connections, results_queue
                )
            )
        code = 0
    finally:
        results_queue.put(None)
        results_queue.close()
        if os.getppid() == parent:  # else nobody reads: waiting to send would never end
            results_queue.join_thread()  # everything sent
        # Ends here, without tearing down what it built (a collection and a deallocation of
        # millions of objects: seconds of CPU for nothing).
        os._exit(code)


async def _fetch_and_plan_all(
    root: str,
    work,
    now: datetime,
    operator: str,
    max_schools: int,
    max_connections: int,
    results_queue,
) -> None:
    from uso_tui.iris.client import IrisClient  # noqa: PLC0415
    from uso_tui.store import open_store  # noqa: PLC0415
    from uso_tui.sync.batch import fetch_and_plan  # noqa: PLC0415

    store = open_store(root, create=False)
    schools = {s.dfe: s for s in store.list_schools()}
    pools = PoolCache()
    sem = asyncio.Semaphore(max_schools)
    room = asyncio.Event()
    watch = asyncio.create_task(_watch_parent(os.getppid()))
    tasks: set[asyncio.Task] = set()
    async with IrisClient(
        allowed_hosts=store.allowed_mis_hosts(), max_connections=max_connections
    ) as client:

        async def one(run: Run) -> None:
            emit = _Progress(run.run_id, run.school, None)
            school = schools.get(run.school)
            if school is None:
                d = Done(run, None, "the school was removed during the run", emit)
            else:
                d = await fetch_and_plan(
                    store, run, school, now, client, pools, sem, emit, operator, inline=True
                )
            results_queue.put(_pack(d))

        def finished(task: asyncio.Task) -> None:
            tasks.discard(task)
            if len(tasks) < max_schools:
                room.set()

        while (group := await asyncio.to_thread(work.get)) is not None:
            for d in group:
                task = asyncio.create_task(one(Run.from_dict(d)))
                tasks.add(task)
                task.add_done_callback(finished)
            while len(tasks) >= max_schools:  # the next LA when this one has room
                room.clear()
                await room.wait()
        if tasks:
            await asyncio.gather(*tasks)
    watch.cancel()


async def _watch_parent(parent: int) -> None:
    """Ends the worker if the process that commits is gone (killed): its work would go nowhere,
    and the runs it claimed read as interrupted once it is."""
    while True:
        await asyncio.sleep(1)
        if os.getppid() != parent:
            os._exit(1)
