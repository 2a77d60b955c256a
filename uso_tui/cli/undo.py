"""`undo-run RUN_ID [--dry-run]`: reverts what one run changed, as a new audited change."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, plain, table


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    undo_parser = sub.add_parser(
        "undo-run",
        parents=[parent],
        help="revert what one run changed (accounts changed since are left alone)",
    )
    undo_parser.add_argument("run_id", metavar="RUN_ID")
    undo_parser.add_argument(
        "--dry-run", action="store_true", help="list what would change; write nothing"
    )
    undo_parser.set_defaults(func=cmd_undo_run)


def cmd_undo_run(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.undo import undo_preview, undo_run  # noqa: PLC0415

    run_id = args.run_id.strip()
    store = ctx.store()
    if args.dry_run:
        plan, undo_id = undo_preview(store, run_id, now=ctx.now()), None
    else:
        plan, undo = undo_run(store, run_id, operator=ctx.operator, now=ctx.now())
        undo_id = undo.run_id
    for line in plan.id_given_lines():
        ctx.note(f"note: {plain(line)}")
    for line in plan.orphaned_lines():
        ctx.note(f"note: {plain(line)}")
    for line in plan.beside_lines():
        then = "would have" if args.dry_run else "now have"
        ctx.note(
            f"note: {plain(line)}: if that is one person, they {then} two accounts "
            "(`uso-tui duplicates` lists the pair)"
        )
    if args.json:
        emit_json({**plan.public(undo_id), "dry_run": bool(args.dry_run)}, ctx.stdout)
        return 0
    out = ctx.stdout
    rev = plan.reverted
    head = "would revert" if args.dry_run else f"reverted by {undo_id}"
    counts = ", ".join(f"{k} {v}" for k, v in rev.items() if v) or "nothing"
    out.write(f"{run_id}: {head}: {counts}\n")
    if plan.reverts:
        table(
            ["  Username", "Was", "Name (now -> after the undo)"],
            [[f"  {r.username}", r.kind, plain(r.change)] for r in plan.reverts],
            out=out,
        )
    if plan.left_alone:
        out.write(f"left alone (changed since the run): {', '.join(plan.left_alone)}\n")
    if plan.cases:
        verb = "would close" if args.dry_run else "closed"
        out.write(f"{verb} the run's open cases: {', '.join(c.case_id for c in plan.cases)}\n")
    return 0
