"""`why TEXT` (what happened to a person's record), `calendar [DFE] [--days N]` (starters and
leavers to come) and `export LIST [DFE] --csv` (any list as CSV on stdout)."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, person, plain, said_left_out, search_text, table
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.schools import check_dfe


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    why_parser = sub.add_parser(
        "why",
        parents=[parent],
        help="why has this account not been created? (name, date of birth, UPN or MIS id)",
    )
    why_parser.add_argument("text", metavar="TEXT", nargs="+")
    why_parser.set_defaults(func=cmd_why)

    calendar_parser = sub.add_parser(
        "calendar", parents=[parent], help="upcoming starters and leavers"
    )
    calendar_parser.add_argument(
        "dfe", metavar="DFE", nargs="?", help="one school (default: every school)"
    )
    calendar_parser.add_argument(
        "--days", type=int, default=60, metavar="N", help="how far ahead (default 60)"
    )
    calendar_parser.set_defaults(func=cmd_calendar)

    from uso_tui.sync.export import LISTS  # noqa: PLC0415

    export_parser = sub.add_parser(
        "export", parents=[parent], help="any list as CSV on stdout (--json: as JSON)"
    )
    # any case: DESIGN and the console spell one "non-MIS"
    export_parser.add_argument(
        "list", metavar="LIST", type=str.lower, choices=LISTS, help=", ".join(LISTS)
    )
    export_parser.add_argument(
        "dfe", metavar="DFE", nargs="?", help="one school (default: every school)"
    )
    export_parser.add_argument(
        "--csv", action="store_true", help="CSV (the default; --json for the same rows as JSON)"
    )
    export_parser.set_defaults(func=cmd_export)


def cmd_why(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.why import (  # noqa: PLC0415
        AS_RUN,
        WHY_LIMIT,
        not_found,
        unallocated_besides,
        why,
    )

    text = search_text(" ".join(args.text).strip())
    if not text:
        raise InvalidInput("give a name, date of birth, UPN or MIS id to look for")
    unreadable: set[str] = set()
    hits = why(ctx.store(), text, today=ctx.now().date().isoformat(), unreadable=unreadable)
    cut = (
        f"the first {WHY_LIMIT} records found are shown: add to the search to narrow it (a date "
        "of birth, or a school's DfE number)"
    )
    if args.json:
        emit_json([h.public() for h in hits], ctx.stdout)
        if len(hits) >= WHY_LIMIT:  # (a script is told too, on stderr)
            ctx.note(cut)
        if not hits:  # (the JSON holds records only: what to do next goes to stderr, as said)
            for line in not_found(ctx.store(), text):
                ctx.note(plain(line))
        return said_left_out(unreadable, AS_RUN, ctx, status=0)
    if not hits:
        for line in not_found(ctx.store(), text):
            ctx.note(plain(line))
        return 0
    out = ctx.stdout
    for hit in hits:
        out.write(
            f"{hit.school} {hit.report} {plain(hit.mis_id)}: {person(hit.forename, hit.surname)}"
            f" ({plain(hit.dob or 'no date of birth')})\n"
            f"  {plain(hit.summary)}\n"
        )
        if hit.outcome != "invalid" and hit.reason:
            out.write(f"  why: {plain(hit.reason)}\n")
        if hit.act:
            out.write(f"  do: {plain(hit.act)}\n")
    for line in unallocated_besides(ctx.store(), text, hits):
        out.write(f"{plain(line)}\n")
    if len(hits) >= WHY_LIMIT:
        ctx.note(cut)
    return said_left_out(unreadable, AS_RUN, ctx, status=0)


MAX_DAYS = 3660


def cmd_calendar(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.calendar import UNREAD, calendar  # noqa: PLC0415

    if not 0 <= args.days <= MAX_DAYS:
        raise InvalidInput(f"--days must be from 0 to {MAX_DAYS} (ten years)")
    dfe = check_dfe(args.dfe) if args.dfe else None
    if dfe:
        ctx.store().school(dfe)
    unreadable: set[str] | None = set() if dfe is None else None
    items = calendar(
        ctx.store(), dfe, today=ctx.now().date(), days=args.days, unreadable=unreadable
    )
    if args.json:
        emit_json([u.public() for u in items], ctx.stdout)
        return said_left_out(unreadable, UNREAD, ctx, status=0)
    if not items:
        ctx.note(f"no starters or leavers in the next {args.days} days")
        return said_left_out(unreadable, UNREAD, ctx, status=0)
    table(
        ["Date", "Kind", "School", "Role", "MIS id", "Name", "Username", "Starts"],
        [
            [
                u.date,
                u.kind,
                u.school,
                u.role,
                u.mis_id,
                person(u.forename, u.surname),
                u.username or "",
                u.starts_on or "",
            ]
            for u in items
        ],
        out=ctx.stdout,
    )
    return said_left_out(unreadable, UNREAD, ctx, status=0)


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.export import export_csv, export_json, left_out_of  # noqa: PLC0415

    if args.csv and args.json:  # (JSON was printed: a script asking for both meant one)
        raise InvalidInput("--csv and --json: give one (CSV is the default)")
    dfe = check_dfe(args.dfe) if args.dfe else None
    if dfe:
        ctx.store().school(dfe)
    # across schools, one whose data file is corrupt is left out (said; exit 1)
    unreadable: set[str] | None = set() if dfe is None else None
    today = ctx.now().date()
    if args.json:  # the same rows and columns, as JSON objects
        rows = export_json(ctx.store(), args.list, dfe, today=today, unreadable=unreadable)
        emit_json(rows, ctx.stdout)
    else:
        ctx.stdout.write(
            export_csv(ctx.store(), args.list, dfe, today=today, unreadable=unreadable)
        )
    return said_left_out(unreadable, left_out_of(args.list), ctx)
