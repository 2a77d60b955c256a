"""`sync`, `confirm`, `runs`, `run-due` and `scheduler`: running exports from the command line.

Exit statuses of `sync` and `run-due`: 0 succeeded, 3 held (waiting for `confirm`), 1 failed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from uso_tui.cli.context import Context
from uso_tui.cli.output import counts_line, emit_json, fields, person, plain, table
from uso_tui.config import zone_unset_note
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Run
from uso_tui.domain.schools import REPORTS, check_dfe
from uso_tui.sync.events import Progress

EXIT_OK, EXIT_FAILED, EXIT_HELD = 0, 1, 3
SCHEDULER = "scheduler"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    sync_parser = sub.add_parser(
        "sync",
        parents=[parent],
        help="run a school's export now",
        description="Run a school's export now. Exit status: 0 succeeded, 3 held (waiting for "
        "`confirm`), 1 failed (or refused: a run of the school in progress), 2 bad input.",
    )
    sync_parser.add_argument("dfe", metavar="DFE")
    sync_parser.add_argument(
        "--report", choices=REPORTS, help="only this report (default: all enabled)"
    )
    sync_parser.add_argument(
        "--dry-run", action="store_true", help="print the plan, change nothing"
    )
    sync_parser.set_defaults(func=cmd_sync)

    confirm_parser = sub.add_parser(
        "confirm",
        parents=[parent],
        help="apply a held run's unallocations",
        description="Apply what a held run holds: its unallocations, and a report held whole "
        "(as its export is). Accounts whose record came back or changed since are left alone.",
    )
    confirm_parser.add_argument("run_id", metavar="RUN_ID")
    part = confirm_parser.add_mutually_exclusive_group()
    part.add_argument("--only", metavar="U1,U2", help="unallocate only these held accounts")
    part.add_argument(
        "--except", dest="except_", metavar="U1,U2", help="unallocate all held accounts but these"
    )
    confirm_parser.set_defaults(func=cmd_confirm)

    rn = sub.add_parser("run", help="one run")
    rsub = rn.add_subparsers(dest="run_command", metavar="SUBCOMMAND", required=True)
    show = rsub.add_parser(
        "show", parents=[parent], help="a run's counts, error and the accounts a held run holds"
    )
    show.add_argument("run_id", metavar="RUN_ID")
    show.set_defaults(func=cmd_run_show)

    runs_parser = sub.add_parser("runs", parents=[parent], help="run history, newest first")
    runs_parser.add_argument(
        "dfe", metavar="DFE", nargs="?", help="one school (default: recent, all)"
    )
    runs_parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="the newest N runs only"
    )
    runs_parser.set_defaults(func=cmd_runs)

    run_due_parser = sub.add_parser(
        "run-due",
        parents=[parent],
        help="run every school whose daily time has passed",
        description="Run every school whose daily time has passed. Exit status: 1 if a run "
        "failed, else 3 if one was held, else 0 (also when none was due); 2 bad input.",
    )
    run_due_parser.add_argument(
        "--at",
        metavar="ISO_DATETIME",
        help="act as if it were this time: the schools due then are really run, their runs "
        "stamped then (a catch-up after a clock fault; a time to come needs --force)",
    )
    run_due_parser.add_argument(
        "--force", action="store_true", help="allow --at later than now (see --at)"
    )
    run_due_parser.set_defaults(func=cmd_run_due)

    sc = sub.add_parser("scheduler", help="run-due every minute, for a systemd service")
    sc.add_argument("--interval", type=float, default=60.0, metavar="SECONDS")
    sc.add_argument("--once", action="store_true", help="one pass, then exit")
    sc.set_defaults(func=cmd_scheduler, json=False)


def exit_status(status: str) -> int:
    if status == "succeeded":
        return EXIT_OK
    if status == "held":
        return EXIT_HELD
    return EXIT_FAILED


CANCELLED_SAID = "cancelled before the apply (Ctrl-C, SIGTERM or SIGHUP): nothing changed"


def public_run(run: Run) -> dict[str, Any]:
    """A run in the `runs --json` shape. DESIGN's statuses are succeeded, held and failed (and
    running): a cancelled run is failed, with `cancelled` true and the error said."""
    data = run.public()
    if run.status == "cancelled":
        data.update(status="failed", cancelled=True, error=CANCELLED_SAID)
    return data


def run_json(run: Run) -> dict[str, Any]:
    """The `sync --json` shape, plus the run's details."""
    data = public_run(run)
    data.update(
        reports=list(run.reports),
        dry_run=run.dry_run,
        held_usernames=list(run.held_usernames),
        hold_reason=run.hold_reason,
    )
    return data


def _not_run_json(dfe: str, error: str, going: str, operator: str, dry_run: bool) -> dict:
    """`sync --json` of a school whose run did not start (another of its runs `going`): the
    keys of a run's (run_json), of a run that is none."""
    none = Run(run_id="", school=dfe, trigger="cli", operator=operator, status="failed")
    none.error, none.dry_run = error, dry_run
    return run_json(none) | {"run_id": None, "started_at": None, "run_in_progress": going}


def _plans(result: Any) -> list[Any]:
    """Each report's plan (RunResult.plans maps report -> Plan; .plan is the last one)."""
    plans = getattr(result, "plans", None)
    if isinstance(plans, dict) and plans:
        return list(plans.values())
    if plans:
        return list(plans)
    plan = getattr(result, "plan", None)
    return [] if plan is None else [plan]


def _outcomes_json(plans: list[Any]) -> list[dict[str, Any]]:
    """Every record's outcome, of a dry run's plans (which parse every record: none is left in
    Plan.same_rows)."""
    out = []
    for plan in plans:
        for outcome in plan.outcomes:
            record = outcome.record
            out.append(
                {
                    "report": plan.report,
                    "mis_id": record.mis_id,
                    "forename": record.forename,
                    "surname": record.surname,
                    "preferred_name": record.preferred_name or None,
                    "dob": record.dob or record.dob_raw,
                    "outcome": outcome.outcome,
                    "reason": outcome.reason,
                    "username": outcome.username,
                }
            )
        for change in plan.changes:
            if change.kind == "unallocate":
                account = change.after
                out.append(
                    {
                        "report": plan.report,
                        "mis_id": account.mis_id,
                        "forename": account.forename,
                        "surname": account.surname,
                        "preferred_name": account.preferred_name or None,  # (as a record's)
                        "dob": account.dob,
                        "outcome": "unallocate",
                        "reason": change.reason,
                        "username": account.username,
                    }
                )
    return out


class ProgressLines:
    """Live progress on stderr: a line when the phase, report or page count moves, and notable
    messages. Planning and applying print once each, not per record."""

    def __init__(self, ctx: Context, *, only_final: bool = False) -> None:
        self.ctx = ctx
        self.only_final = only_final
        self.seen: set[tuple] = set()

    def __call__(self, event: Progress) -> None:
        where = f"{event.school} {event.report}" if event.report else event.school
        if event.message:
            # an error names its school first already ("204-3210: POST /auth/...")
            said = plain(event.message)
            self.ctx.note(said if said.startswith(f"{where}: ") else f"{where}: {said}")
        if self.only_final:
            if event.phase in ("done", "held", "failed", "cancelled"):
                self.ctx.note(f"{event.run_id} {event.phase}: {counts_line(event.counts)}")
            return
        if event.phase == "fetching":
            key: tuple = (event.phase, event.report, event.pages_done)
            total = event.pages_total if event.pages_total is not None else "?"
            line = (
                f"{where}: fetching page {event.pages_done}/{total}, {event.records_done} records"
            )
            if event.pages_done == 0:
                line = f"{where}: fetching"
        elif event.phase == "planning":
            key = (event.phase, event.report)
            line = f"{where}: planning {event.records_total or event.records_done} records"
        elif event.phase in ("connecting", "applying"):
            key = (event.phase, event.report)
            line = f"{where}: {event.phase}"
        else:
            return  # the summary on stdout says how it ended
        if key not in self.seen:
            self.seen.add(key)
            self.ctx.note(line)


def _failures_said(runs: list[Run], ctx: Context) -> None:
    """With --json, a failed run is said on stderr too (DESIGN: errors go to stderr): a cron
    job that logs only stderr recorded nothing of it."""
    for run in runs:
        data = public_run(run)
        if data["status"] == "failed":
            ctx.note(
                f"{run.run_id} {run.school} failed: {plain(data['error'] or 'no error given')}"
            )


def _failure_advice(run: Run) -> str:
    """What to do about a failed run whose cause is the school's settings (as the console
    says it: sync.failure)."""
    from uso_tui.sync.failure import failure_kind  # noqa: PLC0415

    kind = failure_kind(run.error or "")
    if kind == "credentials":
        return (
            f"check the Client ID and Client Secret: `uso-tui school set {run.school} "
            "--client-id ID --client-secret-env VAR` (or --client-secret-file F)"
        )
    if kind == "address":
        return f"check the MIS URL: `uso-tui school show {run.school}`, `school set --url`"
    return ""


MAX_INTERVAL = 86_400  # the scheduler's longest pause between passes: a day


def _summary(run: Run, ctx: Context) -> None:
    out = ctx.stdout
    if run.dry_run:  # recorded nowhere: no run id that `run show` would refuse
        out.write(f"dry run of {run.school}: {run.status} (nothing written)\n")
    else:
        out.write(f"{run.run_id} {run.school} {run.status}\n")
    if run.error:
        out.write(f"  error: {plain(run.error)}\n")
        advice = _failure_advice(run)
        if advice:
            out.write(f"  do: {advice}\n")
    out.write(f"  {counts_line(run.counts)}\n")
    held = run.counts.get("held_unallocations", 0)
    if run.status == "held" and not run.dry_run:
        if run.hold_reason:
            out.write(f"  held: {plain(run.hold_reason)}\n")
        what = (
            "the export is held whole, nothing of it applied"
            if run.comparison
            else f"{held} unallocations are held"
        )
        out.write(
            f"  {what}: check it with `uso-tui run show {run.run_id}`, "
            f"then apply it with `uso-tui confirm {run.run_id}`\n"
        )
    if run.counts.get("needs_matching") and not run.dry_run:
        out.write(
            f"  {run.counts['needs_matching']} records wait for matching: "
            f"`uso-tui matches {run.school}`\n"
        )


def _print_plan(plans: list[Any], ctx: Context) -> None:
    """Every record that would change something; unchanged ones are only counted (--json lists
    them all)."""
    outcomes = _outcomes_json(plans)
    shown = [o for o in outcomes if o["outcome"] != "unchanged"]
    rows = [
        [
            o["report"],
            o["mis_id"],
            person(o["forename"], o["surname"], o["preferred_name"]),
            o["dob"],
            o["outcome"],
            o["username"],
            o["reason"],
        ]
        for o in shown
    ]
    if rows:
        table(
            ["Report", "MIS id", "Name", "DOB", "Outcome", "Username", "Reason"],
            rows,
            out=ctx.stdout,
        )
    if len(shown) < len(outcomes):
        ctx.stdout.write(f"({len(outcomes) - len(shown)} unchanged records not listed)\n")
    for plan in plans:
        if plan.hold_reason:
            ctx.stdout.write(f"HELD ({plan.report}): {plain(plan.hold_reason)}\n")


@contextlib.contextmanager
def _ctrl_c_cancels(
    cancel: threading.Event, ctx: Context, applying: Callable[[], bool] = lambda: False
) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop before its apply (recorded as cancelled, nothing
    changed), or says it is too late once the run is `applying`; a second one quits at once.
    SIGTERM and SIGHUP (a service stopped, the SSH session gone) ask the same: the run is
    recorded cancelled, not left to read as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def say(line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # after SIGHUP the terminal may be gone
            ctx.note(line)

    def on_signal(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        again = "Ctrl-C again to quit" if signum == signal.SIGINT else "again to quit"
        if applying():
            say(
                f"too late to cancel: the run is applying its changes, all of them or none ({again})"
            )
        else:
            say(f"cancelling: the run stops before it applies anything ({again})")

    wanted = [
        signal.SIGINT,
        *(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)),
    ]
    previous = {sig: signal.signal(sig, on_signal) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_sync(args: argparse.Namespace, ctx: Context) -> int:
    import asyncio  # noqa: PLC0415 - not loaded for the commands that only read

    from uso_tui.sync.actions import check_reports  # noqa: PLC0415
    from uso_tui.sync.runner import RunInProgress, run_school  # noqa: PLC0415

    dfe = check_dfe(args.dfe)
    store = ctx.store()
    school = store.school(dfe)
    if args.report:
        check_reports(school, [args.report])  # a report the school has not enabled: refused
    cancel = threading.Event()
    lines = None if args.json else ProgressLines(ctx)
    phase = [""]

    def on_progress(event: Progress) -> None:
        phase[0] = event.phase
        if lines is not None:
            lines(event)

    with _ctrl_c_cancels(cancel, ctx, applying=lambda: phase[0] == "applying"):
        try:
            result = asyncio.run(
                run_school(
                    store,
                    dfe,
                    trigger="cli",
                    operator=ctx.operator,
                    now=ctx.now(),
                    reports=[args.report] if args.report else None,
                    dry_run=args.dry_run,
                    on_progress=on_progress,
                    cancel=cancel,
                )
            )
        except RunInProgress as exc:
            if not args.json:
                raise
            # a script reads the shape it always reads: failed, no run of its own, and why
            # (stdout was empty: json.loads failed on it)
            ctx.note(f"uso-tui: error: {exc}")
            said = _not_run_json(dfe, str(exc), exc.run.run_id, ctx.operator, args.dry_run)
            emit_json(said, ctx.stdout)
            return EXIT_FAILED
    run = result.run
    plans = _plans(result) if args.dry_run else []
    if args.json:
        data = run_json(run)
        if args.dry_run:  # no run is kept: no id `run show` or `confirm` would take
            data["run_id"] = None
            data["outcomes"] = _outcomes_json(plans)
        emit_json(data, ctx.stdout)
        _failures_said([run], ctx)
    else:
        if args.dry_run and plans:
            _print_plan(plans, ctx)
        _summary(run, ctx)
    return exit_status(run.status)


def _usernames(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidInput(f"{option} needs usernames, e.g. {option} jsmith3.204,ajones.204")
    return names


def cmd_confirm(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.actions import confirm_held, held_review  # noqa: PLC0415

    only = _usernames(args.only, "--only")
    exclude = _usernames(args.except_, "--except")
    store = ctx.store()
    cases = {h.username: h.case_ids for h in held_review(store, args.run_id.strip())}
    done = confirm_held(
        store,
        args.run_id.strip(),
        operator=ctx.operator,
        now=ctx.now(),
        only=only,
        exclude=exclude,
    )
    run = done.run
    for username in done.unallocated:
        if cases.get(username):
            ctx.note(
                f"warning: {username} is a candidate of open case {', '.join(cases[username])}:"
                " matching it there brings the account back"
            )
    if args.json:
        emit_json(
            {
                **run_json(run),
                "confirmed_unallocations": len(done.unallocated),
                "unallocated": done.unallocated,
                "left_alone": done.left_alone,
                "kept": done.kept,
                "applied": done.applied,
            },
            ctx.stdout,
        )
        return 0
    out = ctx.stdout
    if done.applied is False:
        out.write(
            f"{run.run_id} confirmed, not applied: {run.school} has run since, and its newer "
            "export is the one applied; nothing changed\n"
        )
    else:
        applied = f"its export applied ({counts_line(run.counts)}); " if done.applied else ""
        out.write(f"{run.run_id} confirmed: {applied}{len(done.unallocated)} accounts unallocated")
        out.write(f": {', '.join(done.unallocated)}\n" if done.unallocated else "\n")
    if done.left_alone:
        why = (
            f"its export was incomplete: {run.incomplete}; the next complete export decides"
            if run.incomplete
            else "record back or changed since the run"
        )
        out.write(f"  left alone ({why}): {', '.join(done.left_alone)}\n")
    if done.kept:
        out.write(
            f"  kept, as asked: {', '.join(done.kept)} "
            "(a later run unallocates them if their records are still absent or past their "
            "leaving date)\n"
        )
    return 0


def cmd_run_show(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.actions import held_review  # noqa: PLC0415
    from uso_tui.sync.held_export import (  # noqa: PLC0415
        taken_since,
        taken_words,
        whole_preview,
    )

    store = ctx.store()
    run = store.run(args.run_id.strip())
    held = held_review(store, run.run_id)
    applies = whole_preview(store, run, ctx.now().date())
    if args.json:
        data = public_run(run)
        data.update(
            confirm_applies=applies or None,
            reports=list(run.reports),
            held_usernames=list(run.held_usernames),
            held=[dataclasses.asdict(h) for h in held],
            confirmed_by=run.confirmed_by,
            confirmed_at=run.confirmed_at,
            comparison=run.comparison,
            comparisons=run.held_whole(),
            hold_reason=run.hold_reason,
        )
        emit_json(data, ctx.stdout)
        return 0
    out = ctx.stdout
    fields(
        [
            ("Run", run.run_id),
            ("School", run.school),
            ("Reports", ", ".join(run.reports) or None),
            ("Trigger", f"{run.trigger} by {run.operator}"),
            ("Status", _status(run)),
            ("Started", run.started_at.replace("T", " ")),
            ("Finished", (run.finished_at or "").replace("T", " ") or None),
            ("Counts", counts_line(run.counts)),
            *([("Error", run.error)] if run.error else []),
            *([("Held", run.hold_reason)] if run.hold_reason else []),
            *(
                [
                    (
                        "Confirmed",
                        f"by {run.confirmed_by} at {(run.confirmed_at or '').replace('T', ' ')}",
                    )
                ]
                if run.confirmed_by
                else []
            ),
        ],
        out=out,
    )
    waiting = run.shown_status() == "held"  # for a confirm (an undone one is not)
    taken = taken_since(store, run) if waiting and run.comparison else None
    if run.comparison:
        from uso_tui.sync.compare import comparisons_lines  # noqa: PLC0415

        out.write("\nThe export looked wrong beside the previous one:\n")
        out.writelines(plain(line) + "\n" for line in comparisons_lines(run.held_whole()))
        if taken is not None:
            out.write(f"nothing of it was applied, and {taken_words(taken)}\n")
        elif waiting:
            out.write(
                f"nothing of it was applied; `uso-tui confirm {run.run_id}` applies it as it is\n"
            )
            if applies:
                out.write(f"confirming it also {applies} (as the store is now)\n")
    if not held:
        return 0
    verb = "would unallocate" if waiting else "held"
    out.write(f"\n{len(held)} accounts this run {verb}:\n")
    table(
        ["Username", "Name", "DOB", "Status", "Open cases", "Note"],
        [
            [
                h.username,
                person(h.forename, h.surname),
                h.dob,
                h.status,
                ", ".join(h.case_ids) or None,
                _held_note(h, waiting),
            ]
            for h in held
        ],
        out=out,
    )
    if waiting and all(h.incomplete or (h.back_since and not run.comparison) for h in held):
        # (a report held whole for an incomplete export: its confirmation applies what came and
        # still unallocates no one, as each line says; "apply with" read as the opposite)
        out.write(
            "confirming unallocates none of them (each is left alone, as said); the school's "
            "next complete run unallocates those still absent\n"
        )
    elif waiting and taken is None:
        out.write(
            f"apply with `uso-tui confirm {run.run_id}` "
            "(or --only U1,U2 / --except U1,U2 for part of them)\n"
        )
    return 0


def _status(run: Run) -> str:
    """A run's status as `runs` and `run show` say it: "held, undone by r4" once undone."""
    return f"{run.status}, undone by {run.undone_by}" if run.undone_by else run.status


def _held_note(account: Any, held: bool) -> str | None:
    notes = []
    if account.case_ids:
        notes.append("candidate of an open case" + (": check it first" if held else ""))
    if account.incomplete:
        notes.append("left alone by confirm: its report's export may be incomplete")
    elif account.back_since:
        notes.append("left alone by confirm: record back or changed since")
    return "; ".join(notes) or None


def cmd_runs(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe) if args.dfe else None
    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be at least 1")
    store = ctx.store()
    if dfe is not None:
        store.school(dfe)
    runs = store.runs(dfe, limit=args.limit)
    if args.json:
        emit_json([public_run(r) for r in runs], ctx.stdout)
        return 0
    table(
        ["Run", "Trigger", "Operator", "Status", "Started", "Finished", "Counts / error"],
        [
            [
                r.run_id,
                r.trigger + (" (dry)" if r.dry_run else ""),
                r.operator,
                _status(r),
                r.started_at.replace("T", " "),
                (r.finished_at or "").replace("T", " ") or None,
                r.error if r.error else counts_line(r.counts),
            ]
            for r in runs
        ],
        out=ctx.stdout,
    )
    return 0


def parse_at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"bad --at {text!r}: expected an ISO date and time, e.g. 2026-09-01T06:30"
        ) from None
    if len(text.strip()) <= len("2026-09-01"):  # a date alone reads as its midnight
        raise InvalidInput(
            f"bad --at {text!r}: give the time too, e.g. {at:%Y-%m-%d}T06:30 (a date alone would "
            "be its first minute, when no school is due yet)"
        )
    if not AT_RANGE[0] <= at.year <= AT_RANGE[1]:  # (the schedule reckons days either side)
        raise InvalidInput(f"bad --at {text!r}: a year from {AT_RANGE[0]} to {AT_RANGE[1]}")
    if at.tzinfo is not None:
        at = at.astimezone().replace(tzinfo=None)  # the store keeps local times
    return at


AT_RANGE = (1970, 9998)


def _due_operator(ctx: Context) -> str:
    return ctx.operator if ctx.operator_given else SCHEDULER


def _print_due(results: list[Any], ctx: Context, as_json: bool, left: int = 0) -> int:
    """`left`: how many due schools were left to a run of their own (said on stderr)."""
    runs = [r.run for r in results]
    if as_json:
        emit_json([run_json(r) for r in runs], ctx.stdout)
        _failures_said(runs, ctx)
    elif not runs:
        ctx.stdout.write(
            f"no school run: {left} due left to a run of its own (see above)\n"
            if left
            else "no school is due\n"
        )
    else:
        table(
            ["Run", "School", "Status", "Counts / error"],
            [[r.run_id, r.school, r.status, r.error or counts_line(r.counts)] for r in runs],
            out=ctx.stdout,
        )
    statuses = {r.status for r in runs}
    if statuses - {"succeeded", "held"}:
        return EXIT_FAILED
    return EXIT_HELD if "held" in statuses else EXIT_OK


# How far ahead of the clock `run-due --at` may be without --force: a cron line's own
# `date` a moment ahead. (CLOCK_SLACK is how far a stored run time is believed: an --at two
# hours on ran a school early and skipped its real run.)
AT_SLACK = timedelta(minutes=1)


def cmd_run_due(args: argparse.Namespace, ctx: Context) -> int:
    import asyncio  # noqa: PLC0415

    from uso_tui.sync.schedule import due_schools, run_due  # noqa: PLC0415

    if args.force and args.at is None:
        raise InvalidInput("--force allows an --at later than now: give --at, or leave --force out")
    now = parse_at(args.at) if args.at is not None else ctx.now()  # "" is a bad --at too
    if now > ctx.now() + AT_SLACK and not args.force:
        # The runs are stamped then and the schedule believes them: a school run tonight "at
        # 06:31 tomorrow" would not run at 06:30 tomorrow, its day's changes a day late.
        raise InvalidInput(
            f"--at {args.at} is later than now: the runs it makes would be stamped then and count "
            "as each school's scheduled run of that day, so its real run would not happen "
            "(give --force if that is meant)"
        )
    store = ctx.store()
    if note := zone_unset_note(ctx.data_dir):
        ctx.note(note)
    due = due_schools(store, now, ctx.now())
    progress = None if args.json else ProgressLines(ctx, only_final=True)
    # Start and end lines only: with many schools due, their work is spread over processes.
    results = asyncio.run(
        run_due(
            store,
            now,
            operator=_due_operator(ctx),
            on_progress=progress,
            progress_detail=False,
            clock=ctx.now(),
            due=due,
        )
    )
    # a school due with a run of its own going (a force run, another scheduler) is left to it:
    # said, else a cron log shows nothing of a school that did not run (read after the pass,
    # which may take minutes: the run may have ended by then)
    ran = {result.run.school for result in results}
    left = 0
    for dfe in (school.dfe for school in due):
        if dfe in ran:
            continue
        newest = (store.runs(dfe, limit=1) or [None])[0]
        if newest is None:
            continue
        left += 1
        going = "is going" if newest.status == "running" else f"was going ({newest.status} now)"
        ctx.note(
            f"{dfe} not run: its run {newest.run_id} ({newest.trigger}, {newest.operator}) "
            f"{going}; run-due runs the school later unless that run counts as its run"
        )
    return _print_due(results, ctx, args.json, left)


def cmd_scheduler(args: argparse.Namespace, ctx: Context) -> int:
    """Loop for a systemd service: a pass every --interval seconds; SIGTERM or SIGINT ends it after
    the pass in progress. A failing pass is logged and the loop goes on; runs are atomic, so even a
    kill mid-pass leaves every school whole."""
    import asyncio  # noqa: PLC0415

    from uso_tui.sync.schedule import scheduler_loop  # noqa: PLC0415

    if not 1 <= args.interval <= MAX_INTERVAL:  # (nan is neither: it spun a core)
        raise InvalidInput(
            f"--interval must be a number of seconds from 1 to {MAX_INTERVAL:,} (a day)"
        )
    store = ctx.store()
    if note := zone_unset_note(ctx.data_dir):
        ctx.note(note)
    stop = threading.Event()

    async def sleep(seconds: float) -> None:
        # Wakes at once on a stop signal instead of finishing the interval.
        await asyncio.to_thread(stop.wait, seconds)

    def on_results(results: list[Any]) -> None:
        stamp = ctx.now().isoformat(sep=" ")
        for res in results:
            run = res.run
            detail = plain(run.error) if run.error else counts_line(run.counts)
            ctx.note(f"{stamp} {run.run_id} {run.status}: {detail}")

    def on_error(exc: BaseException) -> None:
        ctx.note(f"{ctx.now().isoformat(sep=' ')} pass failed: {plain(_one_line(exc))}")

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        ctx.note(f"scheduler started on {store.root} (a pass every {args.interval:g}s)")
        asyncio.run(
            scheduler_loop(
                store,
                clock=ctx.clock,
                sleep=sleep,
                interval=args.interval,
                stop=stop,
                iterations=1 if args.once else None,
                on_results=on_results,
                on_error=on_error,
            )
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ctx.note("scheduler stopped")
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
