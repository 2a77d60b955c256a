"""`school add|list|show|set`: a school's AutoUpdate settings. The secret is never printed: only
whether one is set."""

from __future__ import annotations

import argparse
import os
from typing import Any

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, fields, plain, table
from uso_tui.cli.secret_input import add_secret_options, read_secret
from uso_tui.config import ALLOWED_HOSTS_ENV, allowed_mis_hosts
from uso_tui.domain.models import School
from uso_tui.domain.schools import REPORT_LABELS, check_dfe, parse_allowed_hosts


def school_json(school: School, has_secret: bool) -> dict[str, Any]:
    data = school.to_dict()
    data["la"] = school.la
    data["client_secret"] = "set" if has_secret else "not set"
    for key in ("daily_at_since", "daily_at_was"):  # kept as "" when never changed: null, as
        data[key] = data.get(key) or None  # last_run_id and the other settings never set
    if data.get("last_run_status") == "cancelled":  # as runs --json says it (cli.runs.public_run)
        data.update(last_run_status="failed", last_run_cancelled=True)
    return data


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    school = sub.add_parser("school", help="add, list, show or change schools")
    ssub = school.add_subparsers(dest="school_command", metavar="SUBCOMMAND", required=True)

    add = ssub.add_parser("add", parents=[parent], help="add a school")
    add.add_argument("dfe", metavar="DFE", help="DfE number, LLL-EEEE")
    add.add_argument("--name", required=True, help="school name")
    add.add_argument("--mis", required=True, help="iSAMS or Ed:gen")
    add.add_argument("--url", required=True, help="https://<school>.isams.cloud or .edgen.cloud")
    add.add_argument("--client-id", required=True, help="Client ID issued by IRIS")
    add_secret_options(add, required=True)
    add.add_argument("--reports", default="staff,students", help="staff,students (default both)")
    add.add_argument("--daily-at", default="06:00", metavar="HH:MM", help="daily run time")
    add.set_defaults(func=cmd_add)

    lst = ssub.add_parser("list", parents=[parent], help="every school")
    lst.set_defaults(func=cmd_list)

    show = ssub.add_parser("show", parents=[parent], help="one school's settings (not the secret)")
    show.add_argument("dfe", metavar="DFE")
    show.set_defaults(func=cmd_show)

    st = ssub.add_parser("set", parents=[parent], help="change a school's settings")
    st.add_argument("dfe", metavar="DFE")
    st.add_argument("--name", help="school name")
    st.add_argument(
        "--mis", help="iSAMS or Ed:gen (a new MIS needs its --url and the new Client Secret)"
    )
    st.add_argument("--url", help="MIS URL")
    st.add_argument("--client-id", help="Client ID issued by IRIS")
    st.add_argument("--reports", help="staff,students, staff or students")
    st.add_argument("--daily-at", metavar="HH:MM")
    st.add_argument("--hold-percent", metavar="P", help="hold above this %% of linked accounts")
    st.add_argument("--hold-min", metavar="N", help="... and at least this many")
    st.add_argument("--create-before-start-days", metavar="N")
    st.add_argument(
        "--paused",
        metavar="yes|no",
        help="yes: the schedule does not run the school (a force run or `sync` still does)",
    )
    add_secret_options(st, required=False)
    st.set_defaults(func=cmd_set)

    test = ssub.add_parser(
        "test", parents=[parent], help="get a token and count each enabled report"
    )
    test.add_argument("dfe", metavar="DFE")
    test.set_defaults(func=cmd_test)


def _allowed_hosts(ctx: Context) -> frozenset[str]:
    if ctx.store_exists():
        return ctx.store().allowed_mis_hosts()
    # No store yet: check before creating one, so that bad input leaves nothing behind (the
    # data directory may hold config.json already).
    if ctx.data_dir.is_dir():
        return allowed_mis_hosts(ctx.data_dir)
    return parse_allowed_hosts(os.environ.get(ALLOWED_HOSTS_ENV))  # (refused as a store later)


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import admin  # noqa: PLC0415 - only the commands that use it load it

    now = ctx.now()
    fields_in = dict(
        dfe=args.dfe,
        name=args.name,
        mis=args.mis,
        url=args.url,
        client_id=args.client_id,
        reports=args.reports,
        daily_at=args.daily_at,
    )
    admin.new_school(**fields_in, allowed_hosts=_allowed_hosts(ctx), now=now)
    secret = read_secret(args, ctx)
    assert secret is not None  # the option group is required
    store = ctx.store(create=True)
    school = admin.add_school(store, **fields_in, secret=secret, operator=ctx.operator, now=now)
    if args.json:
        emit_json(school_json(school, True), ctx.stdout)
    else:
        ctx.stdout.write(
            f"added {school.dfe} {plain(school.name)}: {school.mis} {plain(school.url)}, "
            f"reports {','.join(school.reports)}, daily at {school.daily_at}, Client Secret set\n"
        )
    return 0


def _last_run(school: School) -> str:
    if not school.last_run_at:
        return "-"
    return f"{school.last_run_at.replace('T', ' ')[:16]} {school.last_run_status or ''}".strip()


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store()
    schools = store.list_schools()
    if args.json:
        emit_json([school_json(s, store.has_secret(s.dfe)) for s in schools], ctx.stdout)
        return 0
    if not schools:
        ctx.note("no schools yet: add one with `uso-tui school add`")
        return 0
    table(
        ["DfE", "Name", "MIS", "Reports", "Daily", "Last run", "Cases", "Unalloc", "Active"],
        [
            [
                s.dfe,
                s.name,
                s.mis,
                ",".join(s.reports),
                "paused" if s.paused else s.daily_at,
                _last_run(s),
                s.open_cases,
                s.unallocated_last_run,
                s.active_accounts,
            ]
            for s in schools
        ],
        right=(6, 7, 8),
        out=ctx.stdout,
    )
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe)
    store = ctx.store()
    school = store.school(dfe)
    has_secret = store.has_secret(dfe)
    if args.json:
        from uso_tui.sync.schedule import next_run  # noqa: PLC0415

        data = school_json(school, has_secret)
        data["next_run"] = (
            None if school.paused else next_run(school, ctx.now()).isoformat(timespec="minutes")
        )
        emit_json(data, ctx.stdout)
        return 0
    reports = ", ".join(REPORT_LABELS.get(r, r) for r in school.reports)
    fields(
        [
            ("DfE number", school.dfe),
            ("Name", school.name),
            ("Local authority", school.la),
            ("MIS", school.mis),
            ("MIS URL", school.url),
            ("Client ID", school.client_id),
            ("Client Secret", "set" if has_secret else "not set"),
            ("Reports", reports),
            ("Not supported for IRIS", "Contacts, Attendance, Groups & Classes"),
            ("Daily run at", school.daily_at),
            *_next_run_rows(school, ctx.now()),
            ("Safety hold", f"more than {school.hold_percent:g}% and at least {school.hold_min}"),
            ("Create before start", f"{school.create_before_start_days} days"),
            (
                "Last run",
                f"{school.last_run_id} {_last_run(school)}" if school.last_run_id else "never",
            ),
            ("Open cases", school.open_cases),
            ("Unallocated by the last run applied", school.unallocated_last_run),
            ("Active accounts", school.active_accounts),
        ],
        out=ctx.stdout,
    )
    return 0


def _next_run_rows(school, now) -> list[tuple[str, str]]:
    """When run-due runs the school next: again, after its scheduled runs failed today, or at
    its next daily time (one moved earlier than today's run waits for tomorrow)."""
    from uso_tui.sync.schedule import failed_times, next_retry, next_run  # noqa: PLC0415

    if school.paused:
        return [("Next scheduled run", f"paused: `uso-tui school set {school.dfe} --paused no`")]
    retry = next_retry(school, now)
    if retry is None:
        at = next_run(school, now)
        return [
            (
                "Next scheduled run",
                "due: at run-due's next pass" if at <= now else f"{at:%Y-%m-%d %H:%M}",
            )
        ]
    at, failures = retry
    again = "at the next pass" if at <= now else f"at {at:%Y-%m-%d %H:%M}"
    said = f"failed {failed_times(failures)} since its daily time; tried again {again}"
    return [("Scheduled runs", said)]


def cmd_set(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import admin  # noqa: PLC0415 - only the commands that use it load it

    dfe = check_dfe(args.dfe)
    changes = {
        key: getattr(args, key)
        for key in admin.SCHOOL_FIELDS
        if getattr(args, key, None) is not None
    }
    # Validate what can be checked alone before reading the secret or touching the store.
    for key, value in changes.items():
        admin.check_school_change(key, value)
    store = ctx.store()
    before = store.school(dfe)
    secret = read_secret(args, ctx)
    school = admin.update_school(
        store, dfe, operator=ctx.operator, now=ctx.now(), secret=secret, **changes
    )
    changed = [k for k in sorted(changes) if getattr(before, k) != getattr(school, k)]
    changed += ["client_secret"] if secret is not None else []
    if args.json:
        emit_json(school_json(school, store.has_secret(dfe)), ctx.stdout)
    elif changed:
        ctx.stdout.write(f"updated {dfe}: {', '.join(c.replace('_', ' ') for c in changed)}\n")
    else:
        ctx.stdout.write(f"nothing changed: {dfe} already has those settings\n")
    note = admin.moved_mis_note(school, changed)
    if note:  # (on stderr, with --json too)
        ctx.note(f"{note}: `uso-tui school test {dfe}`")
    return 0


def cmd_test(args: argparse.Namespace, ctx: Context) -> int:
    """Test connection, as in the console's settings: a failure is one line and exit 1."""
    import asyncio  # noqa: PLC0415 - not loaded for the commands that only read

    from uso_tui.sync.actions import test_connection  # noqa: PLC0415

    dfe = check_dfe(args.dfe)
    store = ctx.store()
    store.school(dfe)
    counts = asyncio.run(test_connection(store, dfe))
    if args.json:
        emit_json({"school": dfe, "ok": True, "counts": counts}, ctx.stdout)
    else:
        found = ", ".join(f"{REPORT_LABELS.get(r, r)} {n}" for r, n in counts.items())
        ctx.stdout.write(f"{dfe}: connected; {found or 'no report enabled'}\n")
    return 0
