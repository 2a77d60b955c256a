"""`undo-run RUN_ID [--dry-run]`: reverts what one run changed, as a new audited change."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, plain, table


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    u = sub.add_parser(
        "undo-run",
        parents=[parent],
        help="revert what one run changed (accounts changed since are left alone)",
    )
    u.add_argument("run_id", metavar="RUN_ID")
    u.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    u.set_defaults(func=cmd_undo_run)


def cmd_undo_run(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.undo import undo_preview, undo_run  # noqa: PLC0415

    run_id = args.run_id.strip()
    store = ctx.store()
    if args.dry_run:
        p, undo_id = undo_preview(store, run_id, now=ctx.now()), None
    else:
        p, undo = undo_run(store, run_id, operator=ctx.operator, now=ctx.now())
        undo_id = undo.run_id
    if args.json:
        emit_json({**p.public(undo_id), "dry_run": bool(args.dry_run)}, ctx.stdout)
        return 0
    out = ctx.stdout
    rev = p.reverted
    head = "would revert" if args.dry_run else f"{undo_id} reverted"
    counts = ", ".join(f"{k} {v}" for k, v in rev.items() if v) or "nothing"
    out.write(f"{run_id}: {head}: {counts}\n")
    if p.reverts:
        table(
            ["  Username", "Was", "Name"],
            [[f"  {r.username}", r.kind, plain(r.name)] for r in p.reverts],
            out=out,
        )
    if p.left_alone:
        out.write(f"left alone (changed since the run): {', '.join(p.left_alone)}\n")
    if p.cases:
        verb = "would close" if args.dry_run else "closed"
        out.write(f"{verb} the run's open cases: {', '.join(c.case_id for c in p.cases)}\n")
    return 0
