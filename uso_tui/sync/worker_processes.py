"""run_due over worker processes: each fetches, plans and commits whole local authorities.

Fetching and planning hundreds of schools is CPU work (parsing JSON, matching) that one Python
process cannot keep up with, so local authorities go to the worker processes, whole (each builds
its own LA indexes) except the last few, cut in pieces so that no worker finishes alone. A worker
does everything in its event loop's thread, committing its planned schools in groups whenever
the store's lock is free (it does not wait for it until it has nothing else to do): threads in
one process would share its GIL (measured: planning threads beside the fetching loop cost a
third of a worker's CPU; a commit thread made the run slower), and committing in this process
instead would cost a second read of each school and sending each plan and export across.

Runs are claimed here before any worker starts; a worker says which runs it takes and sends each
run as committed; a worker that dies has its runs that are still running recorded failed at once
(what it committed stays), one silent for SILENT_S is killed first, and a worker whose parent dies
ends. Plans are checked under the lock as in one process: the school's
data must still be the version they were made from (otherwise the school is planned again
there), and a starter a plan would create that looks like an account created in its LA since
the worker first planned there (by this worker, another, or any other process: read from the
LA's usernames under the lock, see fresh.py) becomes a match case.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
import traceback
from datetime import datetime, timedelta

from uso_tui.domain.models import Run, School
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store, StoreBusy
from uso_tui.sync.batch import (
    Planned,
    WrittenSinceWatch,
    busy_process,
    claim_many,
    commit_batch,
    report_end,
)
from uso_tui.sync.events import OnProgress, ProgressEmitter
from uso_tui.sync.fetching import error_line
from uso_tui.sync.runner import UNRECORDED, PoolCache, RunResult, forget_unrecorded, iso

# What a worker sends the parent down its pipe, each a dict with one of: RUN (a run committed, as
# Run.to_dict()), TOOK (the run ids of a group it has taken from the shared queue), ALIVE (its
# heartbeat), WORKER_ERROR (why it stopped: an error line). The pipe's end is the worker's.
RUN, TOOK, ALIVE = "run", "took", "alive"
WORKER_ERROR = "worker_error"
HEARTBEAT_S = 5.0  # how often a worker says it is alive (from a thread of its own)
# A worker that has said nothing for this long while runs are pending is stopped (SIGSTOP) or
# hung: it is killed and its runs recorded failed, as a worker that died. (Its heartbeat comes from a thread
# of its own: a long wait for the store's lock in its event loop does not silence it.)
SILENT_S = 120.0
DEAD_S = 2.0  # a worker dead this long is gone, its pipe ended or not
JOIN_S = 5.0  # how long a worker that has sent its last run is given to end before it is killed
MAX_CONNECTIONS = 64  # the estate's bound on requests in flight, shared out between workers
POLL = 0.2  # seconds between looks at the workers while none has sent anything
GATHER = 0.25  # seconds a planned school may wait for others to commit with
GATHER_MIN = 8  # schools in hand that are worth a commit
GATHER_MAX = 32  # schools in hand for which a worker waits for the lock


TAIL_PIECES = 4  # pieces of each of the last LAs (see _groups)
# A run's workers yield the CPU to interactive work on the same host (an operator's console over
# SSH while the morning run keeps every core busy): a batch job, run at a lower priority. Where
# the CPU is free this changes nothing.
WORKER_NICE = 5


def _groups(runs: list[Run], workers: int = 1) -> list[list[dict]]:
    """The runs by local authority, largest first: a worker takes a whole LA at a time (it
    builds that LA's candidate indexes) and the next when it has room, so the workers stay
    evenly loaded however the LAs differ in size. The last `workers` LAs (all of them when there
    are no more) are each cut in TAIL_PIECES (workers may then share one; see _shared):
    otherwise the worker that takes the last LA finishes it alone while the others have nothing
    left (a worker takes a group whenever it has room, so at the end one may hold a group more
    than another), and an estate of one LA would have one worker."""
    by_la: dict[str, list[dict]] = {}
    for run in runs:
        by_la.setdefault(la_of(run.school), []).append(run.to_dict())
    groups = sorted(by_la.values(), key=len, reverse=True)
    if workers < 2:
        return groups
    cut = min(workers, len(groups))
    head, tail = groups[: len(groups) - cut], groups[len(groups) - cut :]
    for group in tail:
        pieces = min(TAIL_PIECES, len(group))
        head += [
            group[i * len(group) // pieces : (i + 1) * len(group) // pieces] for i in range(pieces)
        ]
    return head


def _shared(groups: list[list[dict]]) -> set[str]:
    """The LAs whose schools are in more than one group."""
    count: dict[str, int] = {}
    for group in groups:
        la = la_of(group[0]["school"])
        count[la] = count.get(la, 0) + 1
    return {la for la, n in count.items() if n > 1}


async def run_over_workers(
    store: Store,
    now: datetime,
    schools: list[School],
    operator: str,
    max_schools: int,
    processes: int,
    on_progress: OnProgress | None = None,
) -> list[RunResult]:
    """on_progress hears each school's start and end only (the rest happens in the workers)."""
    started = time.monotonic()  # system-wide: the workers stamp finish times from it too
    # commits=False: this process commits nothing (the workers do), and the workers forked from
    # it keep its switch interval.
    with busy_process(commits=False):
        # The workers start first, from this thread while nothing else runs (a process with no
        # other thread can fork), and open the store and read what their lookups need while this
        # process claims the runs: else one core idles through the claim.
        worker_count = max(1, min(processes, len(schools)))
        method = _start_method()
        if method == "fork":
            _preload()
        ctx = multiprocessing.get_context(method)
        work = ctx.Queue()
        starts = [ctx.Queue() for _ in range(worker_count)]
        job = _RunDueJob(
            str(store.root), now, started, operator, max(1, max_schools // worker_count)
        )
        # Each worker writes to a pipe of its own: no lock shared between workers (one killed
        # while it wrote would silence the others), nothing buffered in a thread (what a worker
        # sent before it died has arrived), and its end read as the worker gone.
        workers, readers = [], []
        for i in range(worker_count):
            reader, writer = ctx.Pipe(duplex=False)
            worker = ctx.Process(
                target=_worker,
                args=(
                    job,
                    starts[i],
                    work,
                    max(4, MAX_CONNECTIONS // worker_count),
                    writer,
                    os.getpid(),  # read here: a child reading it once started may read pid 1
                ),
                name=f"uso-tui run-due worker {i + 1}",
                daemon=True,
            )
            worker.start()
            writer.close()  # (the worker's own, and no worker forked after it, holds it)
            workers.append(worker)
            readers.append(reader)
        try:
            # (a claim that fails hands out None: the workers end by themselves)
            runs = _hand_out(store, schools, operator, now, starts, work, on_progress)
            try:
                return await _collect(store, job, runs, workers, readers, on_progress)
            except BaseException:
                # Interrupted (Ctrl-C: asyncio cancels this) or failed here: the workers' work
                # would go nowhere, so they stop now, not after JOIN_S each (a forked worker
                # keeps this process's Ctrl-C handler, and went on). Killed, a commit is whole
                # or not made; the runs read as interrupted once this process ends.
                for worker in workers:
                    worker.kill()
                raise
        finally:
            for reader in readers:
                reader.close()
            for worker in workers:
                await asyncio.to_thread(worker.join, JOIN_S)
                if worker.is_alive():
                    worker.kill()
                    await asyncio.to_thread(worker.join, JOIN_S)
            if any(worker.exitcode for worker in workers):  # ended with spares in hand, maybe
                await asyncio.to_thread(store.free_left_by_the_dead)


def _hand_out(
    store: Store,
    schools: list[School],
    operator: str,
    now: datetime,
    starts: list,
    work,
    on_progress: OnProgress | None,
) -> list[Run]:
    """Claims the runs (all in one transaction: the directory is written once) and hands them
    out: each worker's `starts` queue gets the usernames of each LA that two workers share, as
    they are before any commit of this run (each worker watches the other LAs itself, from
    before it first plans there; see fresh.py); `work` gets the groups, then one None per worker.
    If the claim fails, every worker's start is None."""
    watch = None
    try:
        runs = claim_many(store, schools, operator, iso(now))
        for run in runs:
            ProgressEmitter(run.run_id, run.school, on_progress)(
                "connecting", message=f"run {run.run_id} started (schedule, {operator})"
            )
        groups = _groups(runs, len(starts))
        watch = {la: store.la_usernames(la) for la in _shared(groups)}
        for group in groups:
            work.put(group)
    finally:
        for start in starts:
            start.put(watch)
            start.cancel_join_thread()  # a worker that died never reads it: do not wait for it
            work.put(None)  # no more work
    return runs


class _RunDueJob:
    """What every worker of a run_due shares (sent to spawned workers: plain values only)."""

    def __init__(
        self,
        root: str,
        now: datetime,
        started: float,
        operator: str,
        max_schools: int,
    ) -> None:
        self.root, self.now, self.started = root, now, started
        self.operator, self.max_schools = operator, max_schools

    def finished_at(self) -> str:
        return iso(self.now + timedelta(seconds=time.monotonic() - self.started))


def _preload() -> None:
    """What every worker loads, loaded once here before they are forked (each would load it
    again: httpx, the TLS context with its CA bundle, the nickname table, ctypes for syncfs,
    numpy for the map of the store's people)."""
    import ctypes  # noqa: F401, PLC0415

    import uso_tui.store.key_holders  # noqa: F401, PLC0415
    from uso_tui.iris.client import tls_context  # noqa: PLC0415
    from uso_tui.sync.matched_names import load_nicknames  # noqa: PLC0415

    tls_context()
    load_nicknames()


def _start_method() -> str:
    """fork when this process has no other thread (as under cron or systemd): the workers start
    at once with everything imported. Otherwise spawn (a thread may hold a lock at the fork)."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _ready(readers: list) -> list:
    return multiprocessing.connection.wait(readers, timeout=POLL)  # type: ignore[return-value]


async def _collect(
    store: Store,
    job: _RunDueJob,
    runs: list[Run],
    workers: list,
    readers: list,
    on_progress: OnProgress | None,
) -> list[RunResult]:
    """Each run as its worker reports it committed. A worker that ends (dies: a kill, out of
    memory; or fails) has the runs it took and did not report recorded failed at once (those
    it committed before it could say so are read back), while the others go on; one silent for
    SILENT_S is killed first. When the workers are gone, runs none took are recorded failed."""
    pending = {r.run_id: r for r in runs}
    results: list[RunResult] = []
    failures: dict[int, list[str]] = {}
    by_pid = {w.pid: w for w in workers}
    of_reader = {reader: w.pid for reader, w in zip(readers, workers, strict=True)}
    holder: dict[str, int] = {}  # run id -> the pid of the worker that took it
    heard = dict.fromkeys(by_pid, time.monotonic())
    gone: set[int] = set()  # whose pipe has ended (everything it sent is read)
    dead_at: dict[int, float] = {}  # pid -> when first seen dead
    settling: dict[asyncio.Task, dict[str, Run]] = {}  # a gone worker's runs being recorded
    last_look = time.monotonic()

    def settled(done: list[RunResult]) -> None:
        for result in done:
            report_end(ProgressEmitter(result.run.run_id, result.run.school, on_progress), result)
        results.extend(done)

    def settle(pid: int, lost: dict[str, Run]) -> None:
        # in a thread of its own: it may wait for the store's lock, held maybe by a worker
        # that is stopped, which this loop goes on watching (and kills)
        task = asyncio.create_task(
            asyncio.to_thread(_settle_lost, store, job, [by_pid[pid]], lost, failures.get(pid, []))
        )
        settling[task] = lost

    while (pending or settling) and len(gone) < len(by_pid):
        open_readers = [r for r, pid in of_reader.items() if pid not in gone]
        ready = await asyncio.to_thread(_ready, open_readers)
        now = time.monotonic()
        if now - last_look > 2 * HEARTBEAT_S:  # this process was stopped (and its workers)
            heard = dict.fromkeys(by_pid, now)
        last_look = now
        for reader in ready:
            pid = of_reader[reader]
            try:
                msg = reader.recv()
            except (EOFError, OSError):  # its end: every message it sent has been read
                gone.add(pid)
                lost = {r: pending.pop(r) for r in list(pending) if holder.get(r) == pid}
                if lost:
                    settle(pid, lost)
                continue
            heard[pid] = now
            if WORKER_ERROR in msg:  # why a worker stopped: said on its runs not reported
                failures.setdefault(pid, []).append(msg[WORKER_ERROR])
            elif TOOK in msg:
                holder.update(dict.fromkeys(msg[TOOK], pid))
            elif RUN in msg:
                run = Run.from_dict(msg[RUN])
                if UNRECORDED in (run.error or ""):  # claimed here: only this process forgets it
                    forget_unrecorded(run)
                if pending.pop(run.run_id, None) is not None:
                    settled([RunResult(run, None)])
        for task in [t for t in settling if t.done()]:
            lost = settling.pop(task)
            try:
                settled(task.result())
            except Exception:  # noqa: BLE001 - recorded below, once the workers are gone
                traceback.print_exc()
                pending.update(lost)
        for pid, worker in by_pid.items():
            if pid in gone:
                continue
            if not worker.is_alive():
                # its pipe ends as it dies; one held open elsewhere (a process forked while it
                # was open) would never end: gone all the same, a little later
                if now - dead_at.setdefault(pid, now) >= DEAD_S:
                    gone.add(pid)
                    lost = {r: pending.pop(r) for r in list(pending) if holder.get(r) == pid}
                    if lost:
                        settle(pid, lost)
                continue
            if now - heard[pid] >= SILENT_S:
                # (a worker waiting for work, or for the store's lock, still beats)
                failures[pid] = [f"it said nothing for {SILENT_S:.0f} s (stopped or hung)"]
                worker.kill()  # its pipe ends: its runs are then recorded failed
                heard[pid] = now  # (killed once)
    for task, lost in settling.items():
        try:
            settled(await task)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            pending.update(lost)
    if pending:  # taken by none (every worker gone), or their recording failed above
        by_holder: dict[int | None, dict[str, Run]] = {}
        for run_id, run in pending.items():
            by_holder.setdefault(holder.get(run_id), {})[run_id] = run
        every = [line for lines in failures.values() for line in lines]
        for pid, lost in by_holder.items():
            lines = failures.get(pid, []) if pid is not None else every
            ended = [by_pid[pid]] if pid is not None else workers
            settled(await asyncio.to_thread(_settle_lost, store, job, ended, lost, lines))
    return results


def _settle_lost(
    store: Store,
    job: _RunDueJob,
    workers: list,
    pending: dict[str, Run],
    failures: list[str],
) -> list:
    """Runs no worker reported: a worker failed (`failures`: what it said) or died (a kill, out
    of memory) with them in hand."""
    for worker in workers:  # (its pipe ends as it dies: its exit code a moment later)
        worker.join(JOIN_S)
    codes = ", ".join(str(w.exitcode) for w in workers)
    running = {r.run_id for r in store.running_runs()}
    out, lost = [], []
    for run in pending.values():
        if run.run_id in running:
            error = (
                f"run stopped: its worker process failed before committing it: {failures[0]}"
                if failures
                else "run stopped: its worker process ended before committing it "
                f"(exit codes {codes})"
            )
            lost.append(Planned(run, None, error, ProgressEmitter(run.run_id, run.school, None)))
        else:  # committed before its worker could say so
            out.append(RunResult(store.run(run.run_id), None))
    if lost:
        out += commit_batch(store, lost, job.now, job.finished_at(), PoolCache(), job.operator)
    return out


def _worker(job: _RunDueJob, start, work, max_connections: int, writer, parent: int) -> None:
    """A worker process: takes local authorities from `work`, fetches, plans and commits their
    schools, and sends each run as committed. `parent`: the process that made it, which it
    ends without (_watch_parent)."""
    from uso_tui.store import open_store  # noqa: PLC0415

    code = 1
    to_parent = _Sender(writer)
    quiet = threading.Event()

    def heartbeat() -> None:
        while not quiet.wait(HEARTBEAT_S):
            to_parent.put({ALIVE: True})

    threading.Thread(target=heartbeat, name="uso-tui heartbeat", daemon=True).start()
    # (`parent` as it was when this process was made)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="uso-tui parent", daemon=True
    ).start()
    try:
        with contextlib.suppress(OSError):  # not on every platform
            os.nice(WORKER_NICE)
        with busy_process(restore=False, commits=False):
            store = open_store(job.root, create=False)
            # freeing a replaced file waits on the disk: not in the event loop's thread
            with store.freeing_in_background():
                asyncio.run(_fetch_plan_commit(store, job, start, work, max_connections, to_parent))
        code = 0
    except Exception as exc:  # (an interrupt ends it quietly, as the parent's does)
        # Said to the parent, which records this worker's runs failed with it (a full disk, a
        # store that cannot be read), and to stderr (the scheduler's log): os._exit below
        # would end the process without a word.
        traceback.print_exc()
        with contextlib.suppress(Exception):
            to_parent.put({WORKER_ERROR: f"{type(exc).__name__}: {error_line(exc)}"})
    finally:
        quiet.set()
        to_parent.close()  # the parent reads its end: everything sent has arrived
        # Ends here, without tearing down what it built (a collection and a deallocation of
        # millions of objects: seconds of CPU for nothing).
        os._exit(code)


class _Sender:
    """A worker's end of its pipe to the parent, shared by its threads (the heartbeat's and the
    event loop's). A parent gone (nobody reads) is not waited for: _watch_parent ends this
    process."""

    def __init__(self, writer) -> None:
        self._writer, self._lock = writer, threading.Lock()

    def put(self, msg: dict) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):  # (closed: the end)
            self._writer.send(msg)

    def close(self) -> None:
        with self._lock:
            self._writer.close()


class _Committer:
    """A worker's planned schools, committed in groups when the lock is free: with fewer than
    GATHER_MIN in hand it waits up to GATHER for more; it waits for the lock only with
    GATHER_MAX in hand or at the end, else it goes on fetching and tries again later."""

    def __init__(
        self,
        store: Store,
        job: _RunDueJob,
        pools: PoolCache,
        to_parent: _Sender,
        watch: dict[str, frozenset[str]],
    ) -> None:
        self.store, self.job, self.pools, self.out = store, job, pools, to_parent
        self.written = WrittenSinceWatch(watch)
        self.pending: list[Planned] = []
        self.since = 0.0

    def add(self, planned: Planned) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(planned)
        if len(self.pending) >= GATHER_MIN or time.monotonic() - self.since >= GATHER:
            self.commit(wait=len(self.pending) >= GATHER_MAX)

    def commit(self, wait: bool) -> None:
        if not self.pending:
            return
        job = self.job
        try:
            done = commit_batch(
                self.store,
                self.pending,
                job.now,
                job.finished_at(),
                self.pools,
                job.operator,
                self.written,
                wait=wait,
            )
        except StoreBusy:
            return
        self.pending = []
        for result in done:
            self.out.put({RUN: result.run.to_dict()})


async def _fetch_plan_commit(
    store: Store, job: _RunDueJob, start, work, max_connections: int, to_parent: _Sender
) -> None:
    from uso_tui.config import iris_bounds  # noqa: PLC0415
    from uso_tui.iris.client import IrisClient  # noqa: PLC0415
    from uso_tui.sync.batch import fetch_and_plan  # noqa: PLC0415

    store.expect_many_finds()  # a look per school planned; read while the parent claims
    shared = await asyncio.to_thread(start.get)  # the usernames of the LAs shared with others
    if shared is None:  # the claim failed
        return
    schools = {s.dfe: s for s in store.list_schools()}  # as claimed
    pools = PoolCache()
    committer = _Committer(store, job, pools, to_parent, shared)
    sem = asyncio.Semaphore(job.max_schools)
    room = asyncio.Event()
    tasks: set[asyncio.Task] = set()
    async with IrisClient(
        allowed_hosts=store.allowed_mis_hosts(),
        max_connections=max_connections,
        bounds=iris_bounds(store.root),
    ) as client:

        async def one(run: Run) -> None:
            progress = ProgressEmitter(run.run_id, run.school, None)
            school = schools.get(run.school)
            if school is None:
                planned = Planned(run, None, "the school was removed during the run", progress)
            else:
                planned = await fetch_and_plan(
                    store,
                    run,
                    school,
                    job.now,
                    client,
                    pools,
                    sem,
                    progress,
                    job.operator,
                    inline=True,
                    written=committer.written,
                )
            committer.add(planned)

        def finished(task: asyncio.Task) -> None:
            tasks.discard(task)
            if len(tasks) < job.max_schools:
                room.set()

        while (group := await asyncio.to_thread(work.get)) is not None:
            # which runs this worker holds: if it dies, the parent records them failed at once
            to_parent.put({TOOK: [r["run_id"] for r in group]})
            for run_data in group:
                task = asyncio.create_task(one(Run.from_dict(run_data)))
                tasks.add(task)
                task.add_done_callback(finished)
            while len(tasks) >= job.max_schools:  # the next LA when this one has room
                room.clear()
                await room.wait()
        if tasks:
            await asyncio.gather(*tasks)
    committer.commit(wait=True)


def _watch_parent(parent: int) -> None:
    """Ends the worker if the process that commits is gone (killed): its work would go nowhere,
    and the runs it claimed read as interrupted once it is. In a thread of its own, taking no
    lock: a send to a parent gone may block for good (nobody reads the pipe), and a parent
    killed before it hands out any work would leave the worker waiting for it."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(1)
