"""Applying a run held whole by the export comparison, once an operator confirms it.

The run's processed file keeps every record it fetched; confirming plans them again against the
store as it is now (accepted: nothing held), applies the plans in the confirming transaction and
writes the run's processed file again with the records' real outcomes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import UNDO_TRIGGER, Export, MisRecord, Run
from uso_tui.store.api import Store, Transaction
from uso_tui.store.layout import seq_of
from uso_tui.sync.apply import apply_plan
from uso_tui.sync.plan import plan
from uso_tui.sync.plan_types import HELD, LEAVER, Plan
from uso_tui.sync.runner import add_counts, put_processed, read_snapshot, snapshot_in

# How a record of a report held whole is listed (plan._hold_whole)
HELD_WHOLE = "report held whole"


def exports_of(store: Store, run: Run) -> tuple[dict[str, Export], set[str]]:
    """The run's fetched records by report, from its processed file, and the reports held whole
    (their records listed as such: the processed file says it for runs of every version)."""
    pf = store.processed_file(run.run_id)
    if pf is None:
        raise InvalidInput(f"run {run.run_id} has no processed file left to apply")
    by_report: dict[str, list[MisRecord]] = {}
    whole: set[str] = set()
    for row in pf.records:
        rec = MisRecord.from_dict(row["record"])
        by_report.setdefault(rec.report, []).append(rec)
        if row.get("outcome") == HELD and str(row.get("reason") or "").startswith(HELD_WHOLE):
            whole.add(rec.report)
    # A report that sent nothing has no rows: planned as the empty export it was (held whole,
    # its comparison says so), whose confirm unallocates the accounts it no longer holds.
    whole |= {str(c.get("report")) for c in run.held_whole()}
    exports = {
        r: Export(report=r, records=by_report.get(r, []), pages=0)  # type: ignore[arg-type]
        for r in dict.fromkeys([*run.reports, *by_report])
    }
    return exports, whole


def newer_runs(
    txn: Transaction | Store, run: Run, reports: Iterable[str] | None = None
) -> list[Run]:
    """The school's runs that ran (succeeded or held, not dry, not undone) after `run` and took
    one of `reports` (by default `run`'s own), newest first: a held run's export of a report is
    out of date once there is one (a run of the staff report alone since leaves a students
    export held whole to confirm). A run that names no reports (written before runs named
    theirs) took every one."""
    # by the runs' numbers, which the school's runs are given in order, not by their clock
    # times (a run given another time, a clock stepped back, would pass for the older)
    mine = seq_of(run.run_id)
    wanted = set(run.reports if reports is None else reports)
    newer = [
        r
        for r in txn.runs(run.school)
        if seq_of(r.run_id) > mine
        and r.status in ("succeeded", "held")
        and not r.dry_run
        and not r.undone_by  # (undone: nothing of it stands, and it cannot be confirmed)
        and r.trigger != UNDO_TRIGGER  # (an undo took no export)
        and (not r.reports or not wanted or bool(wanted & set(r.reports)))
    ]
    return sorted(newer, key=lambda r: seq_of(r.run_id), reverse=True)


def superseded(txn: Transaction | Store, run: Run) -> set[str] | None:
    """The reports of `run` a newer run has taken since (newer_runs); None: every one."""
    out: set[str] = set()
    for newer in newer_runs(txn, run):
        if not newer.reports or not run.reports:
            return None
        out |= set(newer.reports)
    return out


def taken_since(store: Transaction | Store, run: Run) -> Run | None:
    """The newest run that has taken every report `run` holds whole since (its export is then
    out of date: confirming it applies nothing), else None."""
    whole = {c.get("report") for c in run.held_whole()}
    gone = superseded(store, run)
    if not whole or (gone is not None and not whole <= gone):
        return None
    newer = newer_runs(store, run, whole)
    return newer[0] if newer else None


def taken_words(taken: Run) -> str:
    """What taken_since's run makes of the held run's confirm, in words."""
    if taken.status == "held":  # (confirm refuses the older: _confirm_whole)
        return f"{taken.run_id}, held too, has a newer export: confirm that one instead"
    return (
        f"{taken.run_id} has taken this export since: confirming it applies nothing (the "
        "school's data is newer)"
    )


def _current(exports: dict[str, Export], gone: set[str] | None) -> dict[str, Export]:
    """The run's exports that no newer run has replaced (`gone`: superseded's)."""
    return {} if gone is None else {r: e for r, e in exports.items() if r not in gone}


# What confirming a run held whole does besides its unallocations, in the order said: each
# count, said before (whole_preview) and after (the console's confirmed line)
APPLIES = (
    ("created", "creates {}", "created {}"),
    ("updated", "updates {}", "updated {}"),
    ("restored", "restores {}", "restored {}"),
    ("auto_linked", "links {}", "linked {}"),
    ("needs_matching", "opens {} case(s)", "cases {}"),
    ("invalid", "rejects {} record(s)", "rejected {}"),
)


def applies_words(counts: dict[str, int], done: bool = False) -> str:
    """`counts` as APPLIES says them (`done`: in the past), those not 0, in order."""
    return ", ".join(
        (past if done else ahead).format(counts[key])
        for key, ahead, past in APPLIES
        if counts.get(key)
    )


def whole_preview(store: Store, run: Run, today: date) -> str:
    """What confirming a run held whole applies besides its unallocations, planned now from its
    export as confirm would (read only, without the lock): "creates 8, updates 2, opens 5
    case(s)"; "" when it applies nothing else (or no longer applies: the school has run since)."""
    if not run.comparison or run.status != "held":
        return ""
    exports, whole = exports_of(store, run)
    exports = _current(exports, superseded(store, run))
    if not whole & exports.keys():
        return ""
    snap, school = read_snapshot(store, run.school), store.school(run.school)
    plans = [
        plan(exp, snap, today, school, accept=True) for r, exp in exports.items() if r in whole
    ]
    return applies_words({key: sum(p.counts.get(key, 0) for p in plans) for key, *_ in APPLIES})


def _not_listed(report_plan: Plan, usernames: set[str], run_id: str) -> None:
    """The records of leavers whose unallocation the confirm of `run_id` leaves (its review did
    not list them: a leaving date passed since) say so (still leavers: absent from the roll)."""
    for at, outcome in enumerate(report_plan.outcomes):
        if outcome.outcome == LEAVER and outcome.username in usernames:
            report_plan.outcomes[at] = dataclasses.replace(
                outcome,
                reason=f"{outcome.reason}: its unallocation was not in the review of held run "
                f"{run_id}, whose confirm left it; the next run unallocates it",
            )


def apply_held_export(
    store: Store, txn: Transaction, run: Run, now: datetime, at: str, keep: set[str]
) -> dict[str, Plan]:
    """Plans the held run's records again, accepted, and stages them in `txn`; only the
    accounts the run held are unallocated, and not those in `keep` (the operator unmarked
    them). Only the reports no run has taken since (newer_runs: the school's data is newer
    than this export of theirs); nothing, {}, when that leaves no report held whole."""
    exports, whole = exports_of(store, run)
    exports = _current(exports, superseded(txn, run))
    if not whole & exports.keys():
        return {}  # later exports have been applied since: this one is out of date
    school = txn.school(run.school)
    snap = snapshot_in(txn, run.school)
    plans = {r: plan(exp, snap, now.date(), school, accept=True) for r, exp in exports.items()}
    # Only what the review listed (the run's held accounts) is unallocated, less `keep`: planned
    # against the store as it is now, the export also unallocated accounts linked since (a case
    # matched meanwhile) and leavers whose date passed since, none of them shown to the
    # operator who confirms. They are the next run's to weigh.
    listed = set(run.held_usernames)
    for report_plan in plans.values():
        kept = [
            c
            for c in report_plan.changes
            if c.kind == "unallocate" and (c.username in keep or c.username not in listed)
        ]
        if kept:
            report_plan.changes = [c for c in report_plan.changes if c not in kept]
            report_plan.counts["unallocated"] -= len(kept)
            _not_listed(report_plan, {c.username for c in kept} - keep, run.run_id)
    created: dict[str, str] = {}
    for report_plan in plans.values():
        created.update(apply_plan(txn, report_plan, run, at))
    # A report not held whole was applied when the run was made (its counts are the run's):
    # planned again, only the unallocations it held are new.
    add_counts(run, {r: p for r, p in plans.items() if r in whole})
    for report, report_plan in plans.items():
        if report not in whole:
            run.counts["unallocated"] = run.counts.get("unallocated", 0) + report_plan.counts.get(
                "unallocated", 0
            )
    put_processed(txn, run, plans, at, created)
    return plans
