"""Applying plans inside one store transaction: accounts, cases, audit events, processed file.

The planner decided everything; here the decisions get their timestamps, usernames and case ids,
and every change its audit event (who, when, what, before and after)."""

from __future__ import annotations

from typing import Any

from uso_tui.domain.models import Account, AuditEvent, MatchCase, Run
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Transaction
from uso_tui.sync.plan import account_from_record
from uso_tui.sync.plan_types import Plan

# Account fields an audit event shows before and after (history is left out: it only grows).
AUDIT_FIELDS = (
    "forename",
    "surname",
    "preferred_name",
    "middle_names",
    "dob",
    "school",
    "status",
    "source",
    "mis_id",
    "link_school",
    "link_report",
    "previous_school",
    "previous_link",  # a restored account's former link: an undone relink puts it back
    "email",
    "extra",
)
# A creation's audit holds every field but the former link, which no new account has.
CREATED_FIELDS = tuple(k for k in AUDIT_FIELDS if k != "previous_link")


def account_diff(before: Account | None, after: Account | None) -> tuple[dict | None, dict | None]:
    """The audit's before/after: only the fields that changed (all of them for a creation)."""
    if before is None:
        return None, {k: getattr(after, k) for k in CREATED_FIELDS} if after else None
    if after is None:
        return {k: getattr(before, k) for k in AUDIT_FIELDS}, None
    keys = [k for k in AUDIT_FIELDS if getattr(before, k) != getattr(after, k)]
    return {k: getattr(before, k) for k in keys}, {k: getattr(after, k) for k in keys}


def stamp(
    acc: Account,
    action: str,
    at: str,
    school: str | None,
    run_id: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """The account's last event and a history entry (a new list: the old state stays intact)."""
    acc.last_event = action
    acc.last_event_at = at
    entry: dict[str, Any] = {"at": at, "action": action, "school": school, **(extra or {})}
    if run_id:
        entry["run_id"] = run_id
    acc.history = [*acc.history, entry]


def event(
    txn: Transaction,
    at: str,
    school: str | None,
    action: str,
    subject: str,
    before: dict | None = None,
    after: dict | None = None,
    run_id: str | None = None,
) -> AuditEvent:
    return AuditEvent(
        at=at,
        operator=txn.operator,
        school=school,
        action=action,
        subject=subject,
        before=before,
        after=after,
        run_id=run_id,
    )


def apply_plan(
    txn: Transaction, plan: Plan, run: Run, at: str, touched: list[Account] | None = None
) -> dict[str, str]:
    """Stages every change of `plan` in `txn`; returns the username of each account created, by
    MIS id (the processed file keeps them beside the plan's rows). The accounts written are
    appended to `touched` when given."""
    dfe = plan.school
    events: list[AuditEvent] = []
    accounts: list[Account] = []
    usernames: dict[int, str] = {}  # id(record) -> username created for it

    for ch in plan.changes:
        after = ch.after
        if ch.kind == "unallocate":
            after.unallocated_at = at
            after.unallocated_by_run = run.run_id
        stamp(after, ch.kind, at, dfe, run.run_id)
        accounts.append(after)
        old_values, new_values = account_diff(ch.before, after)
        events.append(
            event(txn, at, dfe, ch.kind, after.username, old_values, new_values, run.run_id)
        )

    la = la_of(dfe)
    for rec in plan.creates:
        username = txn.new_username(rec.forename or "", rec.surname or "", la)
        acc = account_from_record(rec, dfe, username)
        acc.created_at = at
        stamp(acc, "create", at, dfe, run.run_id)
        accounts.append(acc)
        usernames[id(rec)] = username
        events.append(
            event(txn, at, dfe, "create", username, *account_diff(None, acc), run_id=run.run_id)
        )
    txn.put_accounts(accounts)
    if plan.seen is not None:  # with the accounts they describe: both or neither are written
        txn.put_seen(dfe, plan.report, plan.seen)
    if touched is not None:
        touched.extend(accounts)

    cases: list[MatchCase] = []
    for nc in plan.new_cases:
        case = MatchCase(
            case_id=txn.next_case_id(dfe),
            school=dfe,
            report=plan.report,
            role=plan.role,  # type: ignore[arg-type]
            record=nc.record.to_dict(),
            candidates=[c.to_dict() for c in nc.candidates],
            run_id=run.run_id,
            opened_at=at,
        )
        cases.append(case)
        events.append(
            event(
                txn,
                at,
                dfe,
                "case_open",
                case.case_id,
                None,
                {
                    "mis_id": nc.record.mis_id,
                    "candidates": [(c.username, c.score) for c in nc.candidates],
                },
                run.run_id,
            )
        )
    for cc in plan.case_changes:
        case = MatchCase.from_dict(cc.case.to_dict())
        before = {"status": case.status, "record": case.record}
        after: dict = {}
        if cc.decision is None:
            assert cc.record is not None
            case.record = cc.record.to_dict()
            if cc.candidates is not None:
                before["candidates"] = [(c["username"], c["score"]) for c in case.candidates]
                case.candidates = [c.to_dict() for c in cc.candidates]
                if cc.sought:
                    case.sought_at = at
                after["candidates"] = [(c.username, c.score) for c in cc.candidates]
            case.refreshed_at, case.refreshed = at, cc.reason
            action = "case_refresh"
        else:
            case.status = "resolved"
            case.decision = cc.decision
            case.decided_by = txn.operator
            case.decided_at = at
            action = "case_withdrawn"
        cases.append(case)
        events.append(
            event(
                txn,
                at,
                dfe,
                action,
                case.case_id,
                before,
                {"status": case.status, "record": case.record, **after, "why": cc.reason},
                run.run_id,
            )
        )
    txn.put_cases(cases)

    if plan.held:
        events.append(
            event(
                txn,
                at,
                dfe,
                "hold",
                run.run_id,
                None,
                {
                    "report": plan.report,
                    "reason": plan.hold_reason,
                    "usernames": [new_values.username for new_values in plan.held],
                },
                run.run_id,
            )
        )
    txn.audit_many(events)
    return {rec.mis_id: usernames[id(rec)] for rec in plan.creates}


def event_words(acc: Account) -> str:
    """The account's last event in words: "undo create on 2026-12-04 23:17 (run 204-1002-r4)"."""
    last = acc.history[-1] if acc.history else {}
    run = f" (run {last['run_id']})" if last.get("run_id") else ""
    at = (acc.last_event_at or "?").replace("T", " ")[:16]
    return f"{(acc.last_event or 'changed').replace('_', ' ')} on {at}{run}"
