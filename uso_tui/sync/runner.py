"""The runner: fetch (outside the store lock), plan, then apply in ONE store transaction.

A run is recorded "running" first (the store notes its process, so a run whose process died does
not block its school); one run per school at a time across processes. The plan is made from a
snapshot read without the write lock and used only if the school's data is still that version
under the lock (else the school is planned again there), so every run's decisions are those of the
state it commits on; a record it would create that resembles an account created in the school's
local authority since it was planned (another school's run, in any process) becomes a match case
instead (sync.fresh). A failed fetch records the failed run and changes nothing else; a cancel
before the apply records a cancelled run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from uso_tui.domain.errors import UsoError
from uso_tui.domain.models import Export, ProcessedFile, Run, School, empty_counts, last_that_ran
from uso_tui.domain.schools import la_of
from uso_tui.store.api import SchoolState, Store, Transaction
from uso_tui.store.liveness import abandon
from uso_tui.sync.access import require
from uso_tui.sync.apply import apply_plan, event
from uso_tui.sync.events import OnProgress, ProgressEmitter
from uso_tui.sync.fetching import Cancelled, error_line, fetch_reports
from uso_tui.sync.fingerprints import Sieve, sieves
from uso_tui.sync.fresh import WrittenSinceWatch, settle_elsewhere
from uso_tui.sync.plan import plan
from uso_tui.sync.plan_types import Plan, Snapshot
from uso_tui.sync.pools import PoolCache
from uso_tui.sync.undone import duplicate_of, restorable

APPLY_FAILED = "apply failed"  # how the error of a run that failed after its fetch begins
UNRECORDED = "and its end could not be recorded"  # in the error of a run left "running"


class RunInProgress(UsoError):
    def __init__(self, run: Run) -> None:
        since = (run.started_at or "?")[11:19] or run.started_at
        super().__init__(
            f"{run.school} already has a run in progress: {run.run_id} ({run.trigger}, since {since})"
        )
        self.run = run


@dataclass
class RunResult:
    run: Run
    plan: Plan | None  # the plan of the last report; `plans` holds each report's
    plans: dict[str, Plan] | None = None


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def current_run(store: Store, dfe: str) -> Run | None:
    """The run in progress for a school, if any (any process; a dead process's run is not)."""
    running = store.running_runs(dfe)  # type: ignore[attr-defined]
    return running[0] if running else None


def restorable_of(reader: Any, usernames: list[str]) -> set[str]:
    """Which of `usernames` (unallocated accounts) an operator may restore instead of another,
    as `reader` (a store, or a transaction) has them: not one a run made by mistake, undone
    (nobody's), nor one unallocated as another account's duplicate (an operator chose which
    account is the person's: offered again, every run asked it again)."""
    found = {u: reader.find_account(u) for u in usernames}
    return {
        u
        for u, acc in found.items()
        if acc is not None and restorable(acc) and duplicate_of(acc) is None
    }


def snapshot_in(txn: Transaction, dfe: str, pools: PoolCache | None = None) -> Snapshot:
    """The planner's view of a school, read under the lock; the LA pool only when needed."""
    la = la_of(dfe)
    loaded: dict[str, list] = {}

    def pool(role: str) -> list:
        if role not in loaded:
            loaded[role] = txn.la_accounts(la, role)
        return loaded[role]

    return Snapshot(
        school=dfe,
        accounts=txn.school_accounts(dfe),
        exclusions=txn.exclusions(dfe),
        open_cases=txn.cases(dfe, "open"),
        previous=txn.previous_counts(dfe),
        sent_before=txn.leaving_dates_sent,
        restorable=partial(restorable_of, txn),
        pool=pool,
        index_for=(lambda role: pools.get(la, role, lambda: pool(role))) if pools else None,
        wide=txn.find_people,
    )


async def run_school(
    store: Store,
    dfe: str,
    *,
    trigger: str,
    operator: str,
    now: datetime,
    reports: list[str] | None = None,
    dry_run: bool = False,
    on_progress: OnProgress | None = None,
    cancel: threading.Event | None = None,
    client=None,
    pools: PoolCache | None = None,
) -> RunResult:
    school = store.school(dfe)
    reports = list(reports or school.reports)
    started = time.monotonic()

    def finished_at() -> str:
        return iso(now + timedelta(seconds=time.monotonic() - started))

    own_client = client is None
    if own_client:  # read before the claim: a config.json refused is said, no run left behind
        from uso_tui.config import iris_bounds  # noqa: PLC0415

        allowed, bounds = store.allowed_mis_hosts(), iris_bounds(store.root)
    if dry_run:
        run = Run(
            run_id=f"{dfe}-dry-run",
            school=dfe,
            trigger=trigger,
            operator=operator,
            reports=reports,
            started_at=iso(now),
            dry_run=True,
        )
    else:
        require(store, operator, "run")  # before the claim: a refused run is not recorded
        run = await asyncio.to_thread(_claim, store, dfe, trigger, operator, reports, iso(now))
    progress = ProgressEmitter(run.run_id, dfe, on_progress)
    # (a dry run is recorded nowhere: it is named by its school, not by an id no command takes)
    what = f"dry run of {dfe}" if dry_run else f"run {run.run_id}"
    progress("connecting", message=f"{what} started ({trigger}, {operator})")

    if own_client:
        from uso_tui.iris.client import IrisClient  # noqa: PLC0415

        client = IrisClient(allowed_hosts=allowed, bounds=bounds)
    state: SchoolState | None = None
    try:
        try:
            secret = store.secret(dfe)
            state = await asyncio.to_thread(store.school_state, dfe)
            # a dry run lists every record's outcome: all are parsed (no fingerprints), its
            # sieves only say which records are linked (a report left without some of them is
            # checked as a run checks it)
            sieves = sieves_for(state, reports, fingerprints=not dry_run)
            exports = await fetch_reports(
                client, school, secret, reports, progress, cancel=cancel, sieves=sieves
            )
        except Cancelled:
            return await _end(
                store,
                run,
                "cancelled",
                "cancelled before the apply",
                progress,
                finished_at(),
                dry_run,
            )
        except Exception as exc:  # noqa: BLE001 - a failed fetch is a failed run, not a crash
            return await _end(
                store, run, "failed", error_line(exc), progress, finished_at(), dry_run
            )
    finally:
        if own_client:
            await client.aclose()

    if cancel is not None and cancel.is_set():
        return await _end(
            store, run, "cancelled", "cancelled before the apply", progress, finished_at(), dry_run
        )
    for report, exp in exports.items():
        run.counts["fetched"] += exp.size
        progress(
            "fetching",
            report,
            pages_done=exp.pages,
            pages_total=exp.pages,
            records_done=exp.size,
            records_total=exp.size,
        )
    progress.counts["fetched"] = run.counts["fetched"]
    try:
        if dry_run:
            plans = await asyncio.to_thread(_dry_plan, store, dfe, exports, now, progress)
            run.status = "held" if any(p.is_held for p in plans.values()) else "succeeded"
            run.finished_at = finished_at()
            add_counts(run, plans)
            _held_fields(run, plans)  # what it would hold, and why (`sync --dry-run --json`)
            run.hold_reason = run.hold_reason if run.status == "held" else None
            progress(
                run.status if run.status == "held" else "done", message="dry run: nothing written"
            )
            return RunResult(run, list(plans.values())[-1] if plans else None, plans)
        written = WrittenSinceWatch()  # what the LA gains while this run plans
        pre = await asyncio.to_thread(
            preplan, store, dfe, exports, now, progress, pools, school, state, written
        )
        if cancel is not None and cancel.is_set():
            raise Cancelled
        run, plans = await asyncio.to_thread(
            _plan_and_apply,
            store,
            run,
            exports,
            now,
            progress,
            cancel,
            finished_at,
            pools,
            pre,
            written,
        )
    except Cancelled:
        return await _end(
            store, run, "cancelled", "cancelled before the apply", progress, finished_at(), dry_run
        )
    except Exception as exc:  # noqa: BLE001 - recorded, so the school is not left "running"
        return await _end(
            store,
            run,
            "failed",
            f"{APPLY_FAILED}, nothing changed: {type(exc).__name__}: {error_line(exc)}",
            progress,
            finished_at(),
            dry_run,
        )
    progress.counts = dict(run.counts)
    progress("held" if run.status == "held" else "done", message=f"run {run.run_id} {run.status}")
    return RunResult(run, list(plans.values())[-1] if plans else None, plans)


def _after_a_confirmed_whole(runs: list[Run], run: Run) -> str:
    """What `run`, held whole, says when the school's last run that applied a report it holds
    whole (`runs`: newest first; runs held whole and never confirmed passed over) was an
    export of that report held whole that an operator confirmed: that one may have been the
    wrong export (a shifted column confirmed by mistake), and the right one now differs as much
    from what it applied; undoing it puts the accounts back ("" otherwise)."""
    held = {c["report"] for c in run.held_whole()}
    for before in runs:
        if before.run_id == run.run_id or last_that_ran([before]) is None:
            continue  # (itself; one running, failed or cancelled: it applied nothing)
        if held & {c["report"] for c in before.held_whole()}:
            if not before.confirmed_at:
                continue  # held whole too, never applied: the same doubt, the day before
            break  # the export held whole and confirmed
        if held & set(before.reports):
            return ""  # the report applied as sent since
    else:
        return ""
    if before.undone_by:
        return ""
    return (
        f"; the run before, {before.run_id}, an export held whole, was confirmed by "
        f"{before.confirmed_by}: if that export was the wrong one, `uso-tui undo-run "
        f"{before.run_id}` (Run history, U) puts back what it changed"
    )


def _held_fields(run: Run, plans: dict[str, Plan]) -> None:
    """What the plans hold and why, on the run: the usernames held, the reports held whole by
    the export comparison, the reason of each report held, the doubts of an incomplete export."""
    run.held_usernames = [a.username for p in plans.values() for a in p.held]
    run.comparisons = [p.comparison for p in plans.values() if p.comparison]
    run.comparison = run.comparisons[0] if run.comparisons else None
    reasons = [
        p.hold_reason
        if f"the {p.report} export" in p.hold_reason
        else f"{p.report}: {p.hold_reason}"
        for p in plans.values()
        if p.hold_reason
    ]
    run.hold_reason = "; ".join(reasons) if reasons else None
    run.incomplete = "; ".join(p.incomplete for p in plans.values() if p.incomplete) or None
    run.incomplete_reports = [p.report for p in plans.values() if p.incomplete]


def _claim(
    store: Store, dfe: str, trigger: str, operator: str, reports: list[str], started_at: str
) -> Run:
    with store.transaction(operator) as txn:
        running = txn.running_runs(dfe)  # type: ignore[attr-defined]
        if running:
            raise RunInProgress(running[0])
        run = Run(
            run_id=txn.next_run_id(dfe),
            school=dfe,
            trigger=trigger,
            operator=operator,
            reports=reports,
            started_at=started_at,
            whole=set(reports) >= set(txn.school(dfe).reports),
        )
        txn.put_run(run)
    return run


async def _end(
    store: Store,
    run: Run,
    status: str,
    error: str | None,
    progress: ProgressEmitter,
    finished: str,
    dry_run: bool,
) -> RunResult:
    run.status = status
    run.error = error if status != "cancelled" else None
    run.finished_at = finished
    if not dry_run:
        try:
            await asyncio.to_thread(_put_final, store, run, error)
        # a full disk, say (the apply failed for it too); or any other fault in writing it (a
        # program upgraded under a running console): the run must not stay "running" here
        except Exception as exc:  # noqa: BLE001
            run = unrecorded(run, error or status, exc, finished).run
            error = run.error
    progress(run.status, message=error)  # type: ignore[arg-type]
    return RunResult(run, None, None)


def unrecorded(run: Run, error: str, exc: BaseException, finished: str) -> RunResult:
    """A run that failed and whose end could not be written either (a full disk). Left so, it
    would show "running" for as long as this process lives (the scheduler's: all day) and
    refuse every other run of the school: see forget_unrecorded. The run returned says so."""
    out = dataclasses.replace(run, status="failed", finished_at=finished)
    cause = f"{type(exc).__name__}: {error_line(exc)}"
    # the apply failed for the same reason (a corrupt file, a full disk), said with or
    # without the error's kind
    if error_line(exc) in error:
        cause = "the same error"
    out.error = (
        f"{error}; {UNRECORDED} ({cause}): it shows as running until it can be, or this process "
        "runs the school again or ends"
    )
    forget_unrecorded(out)
    return RunResult(out, None, None)


# Runs of this process whose end could not be written yet, as they ended (write_unrecorded).
_unwritten: dict[str, Run] = {}


def forget_unrecorded(run: Run) -> None:
    """This process claimed `run` and no longer runs it, but its end is not written: its own
    reads count it interrupted (its next claim of the school replaces it), and
    write_unrecorded writes its end once it can, for every other process to see."""
    abandon(run.run_id)
    _unwritten[run.run_id] = run


def unrecorded_failures(dfe: str) -> list[str]:
    """When this process's scheduled runs of school `dfe` whose ends it could not write
    started: failed runs the school's summary does not count yet (see schedule.due_schools)."""
    return [
        r.started_at for r in _unwritten.values() if r.school == dfe and r.trigger == "schedule"
    ]


def has_unrecorded() -> bool:
    return bool(_unwritten)


def write_unrecorded(store: Store) -> int:
    """Writes the ends this process could not write before (a full disk since given room);
    returns how many. Called by the scheduler after each pass and by the console now and then."""
    written = 0
    for run_id, run in list(_unwritten.items()):
        try:
            _put_final(store, run, run.error)
        except (OSError, UsoError):
            continue  # still no room: next time
        _unwritten.pop(run_id, None)
        written += 1
    return written


def _put_final(store: Store, run: Run, note: str | None) -> None:
    with store.transaction(run.operator) as txn:
        final_in(txn, run, note)


def _plan_reports(
    snap: Snapshot,
    school: School,
    exports: dict[str, Export],
    now: datetime,
    progress: ProgressEmitter,
) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for report, exp in exports.items():
        progress("planning", report, records_done=0, records_total=exp.size)
        looked_at = time.monotonic()
        report_plan = plan(exp, snap, now.date(), school)
        report_plan.looked_at = looked_at
        plans[report] = report_plan
        for key, count in report_plan.counts.items():
            if key != "fetched":
                progress.counts[key] += count
        progress("planning", report, records_done=exp.size, records_total=exp.size)
        if report_plan.new_cases:
            progress(
                "planning",
                report,
                message=f"{len(report_plan.new_cases)} record(s) queued for matching",
            )
        if report_plan.is_held:
            progress("planning", report, message=f"held: {report_plan.hold_reason}")
    return plans


def read_snapshot(store: Store, dfe: str) -> Snapshot:
    """The planner's view of a school read without the lock (a dry run, a preview)."""
    return _snapshot(store.school_state(dfe), store, None)


def _dry_plan(
    store: Store, dfe: str, exports: dict[str, Export], now: datetime, progress: ProgressEmitter
) -> dict[str, Plan]:
    return _plan_reports(read_snapshot(store, dfe), store.school(dfe), exports, now, progress)


def add_counts(run: Run, plans: dict[str, Plan]) -> None:
    """Adds the plans' counts to the run's (its fetched count is the fetch's own)."""
    for report_plan in plans.values():
        for key, count in report_plan.counts.items():
            if key != "fetched":
                run.counts[key] = run.counts.get(key, 0) + count


def _plan_and_apply(
    store: Store,
    run: Run,
    exports: dict[str, Export],
    now: datetime,
    progress: ProgressEmitter,
    cancel: threading.Event | None,
    finished_at: Callable[[], str],
    pools: PoolCache | None = None,
    pre: Preplanned | None = None,
    written: WrittenSinceWatch | None = None,
) -> tuple[Run, dict[str, Plan]]:
    touched: list = []
    with store.transaction(run.operator) as txn:
        run, plans = apply_in(
            txn,
            run,
            exports,
            now,
            progress,
            cancel=cancel,
            finished_at=finished_at,
            pools=pools,
            touched=touched,
            pre=pre,
            written=written,
        )
    if pools is not None:
        pools.update(touched)  # committed: the shared index sees this school's new state
    return run, plans


@dataclass
class Preplanned:
    """Plans made from a snapshot read without the write lock (the CPU-heavy part, so other
    writers, other schools' runs included, are not kept waiting); apply_in uses them only if
    the school's data is still the version they were made from, else it plans again there."""

    version: str | None
    settings: tuple
    plans: dict[str, Plan]
    state: SchoolState | None = None  # what they were made from: the commit may adopt its parse


def _settings_key(school: School) -> tuple:
    return (school.hold_percent, school.hold_min, school.create_before_start_days)


def _snapshot(state: SchoolState, store: Store, pools: PoolCache | None) -> Snapshot:
    la = la_of(state.dfe)
    return Snapshot(
        school=state.dfe,
        rows=state.account_rows,
        exclusions=state.exclusions,
        open_cases=state.open_cases,
        previous=state.previous,
        sent_before=store.leaving_dates_sent,
        restorable=partial(restorable_of, store),
        pool=lambda role: store.la_people(la, role),  # type: ignore[arg-type,return-value]
        index_for=(
            (lambda role: pools.get(la, role, lambda: pools.accounts_of(la, role, store.la_people)))
            if pools
            else None
        ),
        wide=store.find_people,
    )


def preplan(
    store: Store,
    dfe: str,
    exports: dict[str, Export],
    now: datetime,
    progress: ProgressEmitter,
    pools: PoolCache | None,
    school: School | None = None,
    state: SchoolState | None = None,
    written: WrittenSinceWatch | None = None,
) -> Preplanned:
    """Plans from `state` (the read the exports' sieves used), else from a read of the school
    now: one read of the school's file, one version of it. `written` watches the school's LA
    from before its accounts are read (see apply_in)."""
    marks: dict[str, int] = {}
    if written is not None:
        written.watch(store, la_of(dfe))
        marks = written.marks(la_of(dfe))  # (before the pools are read)
    if state is None:
        state = store.school_state(dfe)
    school = school or store.school(dfe)  # its settings are checked again under the lock
    plans = _plan_reports(_snapshot(state, store, pools), school, exports, now, progress)
    if written is not None:
        for report_plan in plans.values():
            report_plan.written_mark = marks.get(report_plan.role, 0)
    heads = store.why_heads(dfe)
    for report_plan in plans.values():
        report_plan.rows_json()  # the processed file's rows, made here rather than under the lock
        report_plan.why_draft(heads)  # and the lines of the school's why index
    return Preplanned(state.version, _settings_key(school), plans, state)


def sieves_for(
    state: SchoolState, reports: list[str], fingerprints: bool = True
) -> dict[str, Sieve]:
    """A sieve per report, over the state the plans will be made from (without `fingerprints`:
    one that recognises no record, knowing only the records linked)."""
    fps = {r: state.seen.get(r, {}) if fingerprints else {} for r in reports}
    return sieves(state.dfe, state.account_rows, fps)


def _still_valid(pre: Preplanned, txn: Transaction, school: School) -> bool:
    return (
        pre.version is not None
        and pre.settings == _settings_key(school)
        and txn.school_version(school.dfe) == pre.version
    )


def _queued(progress: ProgressEmitter, queued: int) -> None:
    if queued:
        progress.counts["created"] -= queued
        progress.counts["needs_matching"] += queued
        progress(
            "planning",
            message=f"{queued} record(s) resemble accounts created meanwhile: queued for matching",
        )


def apply_in(
    txn: Transaction,
    run: Run,
    exports: dict[str, Export],
    now: datetime,
    progress: ProgressEmitter,
    *,
    cancel: threading.Event | None,
    finished_at: Callable[[], str],
    pools: PoolCache | None,
    touched: list,
    pre: Preplanned | None = None,
    written: WrittenSinceWatch | None = None,
) -> tuple[Run, dict[str, Plan]]:
    """Stages all of a fetched run in `txn`, with plans for the school as the store holds it
    under the lock (a copy of `run` is returned with its outcome; the caller's stays as it was
    if the transaction fails). `exports` are needed only when the school is planned again
    here. Plans made before the lock are also checked against the accounts created in the
    school's local authority since (`written`, which watched it before they were made): a
    record they would create that resembles one becomes a match case (one person, one
    account, whichever of two schools' runs commits first)."""
    at = iso(now)
    run = dataclasses.replace(run, counts=dict(run.counts))
    school = txn.school(run.school)
    if pre is not None and pre.state is not None:
        txn.adopt(pre.state)  # the file as the plans read it, if still current: not read again
    if pre is not None and _still_valid(pre, txn, school):
        plans = pre.plans
        if written is not None:
            _queued(progress, written.settle(txn, plans.values(), run.school, touched))
    else:
        if pre is not None:  # something changed meanwhile: count again from the new plans
            progress.counts = empty_counts()
            progress.counts["fetched"] = run.counts["fetched"]
            progress("planning", message="the school changed while planning: planned again")
        # Accounts staged earlier in this transaction are in no shared index yet: then the LA's
        # accounts are read through the transaction, which sees them.
        snap = snapshot_in(txn, run.school, None if touched else pools)
        plans = _plan_reports(snap, school, exports, now, progress)
        # nor in the store's name indexes, which the plan's look across the store read
        _queued(progress, settle_elsewhere(txn, plans.values(), run.school, touched))
    if cancel is not None and cancel.is_set():
        raise Cancelled
    progress("applying")
    created: dict[str, str] = {}
    for report_plan in plans.values():
        created.update(apply_plan(txn, report_plan, run, at, touched))
    add_counts(run, plans)
    run.sizes = {report: p.counts["fetched"] for report, p in plans.items()}
    run.on_roll = {report: p.on_roll for report, p in plans.items()}
    run.not_started = {report: p.not_started for report, p in plans.items()}
    _held_fields(run, plans)
    run.status = "held" if run.held_usernames or run.comparison else "succeeded"
    run.hold_reason = run.hold_reason if run.status == "held" else None
    if run.comparison is not None and run.hold_reason:
        run.hold_reason += _after_a_confirmed_whole(txn.runs(run.school), run)
    run.finished_at = finished_at()
    txn.put_run(run)
    put_processed(txn, run, plans, at, created)
    txn.audit(
        event(
            txn,
            run.finished_at,
            run.school,
            f"run_{run.status}",
            run.run_id,
            None,
            {"counts": dict(run.counts), "held": len(run.held_usernames)},
            run.run_id,
        )
    )
    return run, plans


def put_processed(
    txn: Transaction, run: Run, plans: dict[str, Plan], at: str, created: dict[str, str]
) -> None:
    """Stages the run's processed file (its plans' rows, encoded when they were made) and the
    school's why index (its lines drafted while planning)."""
    txn.put_processed_file(
        ProcessedFile(
            run_id=run.run_id,
            school=run.school,
            fetched_at=at,
            counts=dict(run.counts),
            created=created,
        ),
        rows_json=_rows_json(plans),
        why_draft=_why_draft(plans),
    )


def _why_draft(plans: dict[str, Plan]) -> tuple[list[bytes], dict[int, Any], set[str]]:
    """Every report's drafted why-index lines, one list (the created rows' positions in it)."""
    lines: list[bytes] = []
    created: dict[int, Any] = {}
    for report_plan in plans.values():
        part, rows = report_plan.why_draft()
        created.update((len(lines) + n, row) for n, row in rows.items())
        lines.extend(part)
    return lines, created, {p.report for p in plans.values()}


def _rows_json(plans: dict[str, Plan]) -> bytes:
    """Every report's rows as one JSON array (each plan's encoded when it was made)."""
    parts = [p.rows_json()[1:-1] for p in plans.values()]
    return b"[" + b",".join(part for part in parts if part) + b"]"


def final_in(txn: Transaction, run: Run, note: str | None) -> None:
    """Stages a run that ends without an apply (failed, cancelled)."""
    txn.put_run(run)
    txn.audit(
        event(
            txn,
            run.finished_at or "",
            run.school,
            f"run_{run.status}",
            run.run_id,
            None,
            {"error": note},
            run.run_id,
        )
    )
