"""`audit [DFE]`: who changed what, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, plain, table
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import AuditEvent
from uso_tui.domain.schools import check_dfe
from uso_tui.store.audit import RECENT_EVENTS

DEFAULT_LIMIT = 200


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    au = sub.add_parser("audit", parents=[parent], help="audit events, newest first")
    au.add_argument("dfe", metavar="DFE", nargs="?", help="one school (default: every school)")
    au.add_argument("--subject", metavar="SUBJECT", help="only events about this username, run...")
    au.add_argument(
        "--limit",
        type=int,
        help=f"default {DEFAULT_LIMIT}; with --json none (across every school, the events the "
        "recent feed keeps: a note says so)",
    )
    au.set_defaults(func=cmd_audit)


MAX_CHANGE = 100  # the table stays readable; --json has everything


def _changes(event: AuditEvent) -> str:
    """`field: before -> after` for what changed; the whole record for a create or a delete."""
    before, after = event.before or {}, event.after or {}
    if before and after:
        keys = [k for k in after if before.get(k) != after.get(k)]
        text = "; ".join(f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}" for k in keys)
    else:
        data = after or before
        text = "; ".join(
            f"{k}: {_short(v)}" for k, v in data.items() if v not in (None, "", [], {})
        )
    return text if len(text) <= MAX_CHANGE else text[: MAX_CHANGE - 1] + "…"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = plain(text)
    return text if len(text) <= 40 else text[:39] + "…"


def cmd_audit(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe) if args.dfe else None
    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be at least 1")
    if args.subject is not None and not args.subject.strip():  # (it listed nothing, exit 0)
        raise InvalidInput(
            "--subject is empty: give what the events are about (a username, a run...)"
        )
    # --json is read by scripts, which a list cut short would mislead: all of it, unless asked
    limit = args.limit if args.limit is not None or args.json else DEFAULT_LIMIT
    store = ctx.store()
    if dfe is not None:
        store.school(dfe)
    # one more than shown, to say the list was cut (on stderr: --json stays a plain list)
    events = store.audit(dfe, limit=None if limit is None else limit + 1, subject=args.subject)
    if limit is not None and len(events) > limit:
        events = events[:limit]
        ctx.note(
            f"audit: showing the newest {limit} events; raise --limit, or narrow by "
            "school (DFE) or --subject"
        )
    elif (
        dfe is None
        and args.subject is None
        and len(events) >= RECENT_EVENTS
        and (limit is None or len(events) < limit)
    ):
        # Across all schools only the recent feed is read: say so rather than stop silently.
        ctx.note(
            f"audit: stopped at the newest {len(events)} events across all schools (the most "
            "the recent feed keeps, with every change of operators and settings); older ones "
            "are listed per school: "
            f"`uso-tui audit DFE{'' if limit is None else f' --limit {limit}'}`, or by --subject"
        )
    if args.json:
        emit_json([e.public() for e in events], ctx.stdout)
        return 0
    table(
        ["At", "Operator", "School", "Action", "Subject", "Change"],
        [
            [e.at.replace("T", " "), e.operator, e.school, e.action, e.subject, _changes(e)]
            for e in events
        ],
        out=ctx.stdout,
    )
    return 0
