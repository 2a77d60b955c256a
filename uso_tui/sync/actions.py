"""Operator decisions (DESIGN section 3): confirm a held run, decide a match case (and undo it),
restore an unallocated account, review non-MIS accounts. Each commits in one transaction and
writes its audit events."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account, MatchCase, MisRecord, Run, School
from uso_tui.domain.schools import ROLE_OF_REPORT, la_of
from uso_tui.store.api import Store, Transaction
from uso_tui.sync.apply import account_diff, event, stamp
from uso_tui.sync.plan import account_from_record, held_fields, unallocated
from uso_tui.sync.runner import iso


def _put(
    txn: Transaction,
    before: Account | None,
    after: Account,
    action: str,
    at: str,
    school: str | None,
    run_id: str | None = None,
) -> None:
    stamp(after, action, at, after.school or school, run_id)
    txn.put_account(after)
    txn.audit(
        event(txn, at, school, action, after.username, *account_diff(before, after), run_id=run_id)
    )


def confirm_run(store: Store, run_id: str, *, operator: str, now: datetime) -> Run:
    """Applies a held run's unallocations. An account that changed since the run (its record
    came back, an operator acted) is left alone."""
    at = iso(now)
    with store.transaction(operator) as txn:
        run = txn.run(run_id)
        if run.status != "held":
            raise InvalidInput(f"run {run_id} is not held (it is {run.status})")
        done = 0
        for username in run.held_usernames:
            acc = txn.find_account(username)
            if (
                acc is None
                or acc.status != "active"
                or acc.school != run.school
                or acc.link_school != run.school
                or (acc.last_event_at or "") > (run.started_at or "")
            ):
                continue
            after = unallocated(dataclasses.replace(acc), run.school)
            after.unallocated_at = at
            after.unallocated_by_run = run_id
            _put(txn, acc, after, "unallocate", at, run.school, run_id)
            done += 1
        before = {"status": run.status}
        run.status = "succeeded"
        run.confirmed_by = operator
        run.confirmed_at = at
        run.counts["unallocated"] = run.counts.get("unallocated", 0) + done
        txn.put_run(run)
        txn.audit(
            event(
                txn,
                at,
                run.school,
                "confirm",
                run_id,
                before,
                {"status": run.status, "unallocated": done},
                run_id,
            )
        )
    return run


def _open_case(txn: Transaction, case_id: str) -> MatchCase:
    case = txn.case(case_id)
    if case.status != "open":
        raise InvalidInput(f"case {case_id} is already resolved ({case.decision})")
    return case


def link_to_record(acc: Account, rec: MisRecord, dfe: str) -> tuple[Account, str]:
    """The account linked to the record at school `dfe`; a move when it was elsewhere."""
    moving = acc.school != dfe
    after = dataclasses.replace(
        acc,
        **held_fields(rec),
        status="active",
        school=dfe,
        source="mis",
        mis_id=rec.mis_id,
        link_school=dfe,
        link_report=rec.report,
        previous_school=(acc.school or acc.previous_school) if moving else acc.previous_school,
        unallocated_at=None,
        unallocated_by_run=None,
        reviewed=False,
    )
    return after, ("move" if moving and (acc.school or acc.previous_school) else "link")


def resolve_case(
    store: Store,
    case_id: str,
    *,
    operator: str,
    now: datetime,
    match: str | None = None,
    create: bool = False,
    exclude: bool = False,
    skip: bool = False,
) -> MatchCase:
    chosen = [
        n
        for n, v in (("match", match), ("create", create), ("exclude", exclude), ("skip", skip))
        if v
    ]
    if len(chosen) != 1:
        raise InvalidInput("give exactly one of: match USERNAME, create, exclude, skip")
    at = iso(now)
    with store.transaction(operator) as txn:
        case = _open_case(txn, case_id)
        if skip:
            return case  # left open for later: nothing changes
        rec = case.mis_record()
        dfe = case.school
        taken = [
            a
            for a in txn.school_accounts(dfe)
            if a.mis_id == rec.mis_id and a.link_school == dfe and a.link_report == rec.report
        ]
        if (match or create) and taken:
            raise InvalidInput(f"MIS record {rec.mis_id} is already linked to {taken[0].username}")
        if match:
            acc = txn.account(match)
            if acc.role != case.role:
                raise InvalidInput(f"{match} is a {acc.role} account; the record is a {case.role}")
            after, action = link_to_record(acc, rec, dfe)
            _put(txn, acc, after, action, at, dfe)
            if action == "move" and acc.school:
                txn.audit(
                    event(
                        txn,
                        at,
                        acc.school,
                        "move_out",
                        acc.username,
                        {"school": acc.school},
                        {"school": dfe},
                    )
                )
            case.decision = f"match:{match}"
            case.undo = {"account": acc.to_dict()}
        elif create:
            username = txn.new_username(rec.forename or "", rec.surname or "", la_of(dfe))
            acc = account_from_record(rec, dfe, username)
            acc.created_at = at
            _put(txn, None, acc, "create", at, dfe)
            case.decision = f"create:{username}"
            case.undo = {"created": username}
        else:
            ex = txn.add_exclusion(dfe, rec.forename or "", rec.surname or "", rec.dob, at)
            txn.audit(event(txn, at, dfe, "exclusion_add", f"{dfe}#{ex.id}", None, ex.public()))
            case.decision = "exclude"
            case.undo = {"exclusion": ex.id}
        before = {"status": case.status, "decision": None}
        case.status = "resolved"
        case.decided_by = operator
        case.decided_at = at
        txn.put_case(case)
        txn.audit(
            event(
                txn,
                at,
                dfe,
                "case_resolved",
                case_id,
                before,
                {"status": case.status, "decision": case.decision},
            )
        )
    return case


def undo_decision(store: Store, case_id: str, *, operator: str, now: datetime) -> MatchCase:
    """Reopens a case an operator decided by mistake, reversing what the decision did."""
    at = iso(now)
    with store.transaction(operator) as txn:
        case = txn.case(case_id)
        if case.status != "resolved" or not case.undo:
            raise InvalidInput(f"case {case_id} has no operator decision to undo")
        dfe = case.school
        rec = case.mis_record()
        undo = case.undo
        if "account" in undo:
            was = Account.from_dict(undo["account"])
            now_acc = txn.account(was.username)
            if now_acc.mis_id != rec.mis_id or now_acc.link_school != dfe:
                raise InvalidInput(f"{was.username} has changed since; undo it by hand")
            back = dataclasses.replace(was, history=list(now_acc.history))
            _put(txn, now_acc, back, "undo_match", at, dfe)
        elif "created" in undo:
            acc = txn.account(undo["created"])
            if acc.mis_id != rec.mis_id:
                raise InvalidInput(f"{acc.username} has changed since; undo it by hand")
            # No account is ever deleted: the mistaken one is unallocated and unlinked.
            gone = dataclasses.replace(
                unallocated(acc, dfe),
                mis_id=None,
                link_school=None,
                link_report=None,
                source="manual",
                unallocated_at=at,
            )
            _put(txn, acc, gone, "undo_create", at, dfe)
        elif "exclusion" in undo:
            ex = txn.remove_exclusion(dfe, int(undo["exclusion"]))
            txn.audit(event(txn, at, dfe, "exclusion_remove", f"{dfe}#{ex.id}", ex.public(), None))
        before = {"status": case.status, "decision": case.decision}
        case.status = "open"
        case.decision = case.decided_by = case.decided_at = None
        case.undo = None
        txn.put_case(case)
        txn.audit(
            event(
                txn, at, dfe, "case_reopened", case_id, before, {"status": "open", "decision": None}
            )
        )
    return case


def restore_account(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    """Active again at its previous school as a non-MIS account: its link is dropped, so the next
    run does not unallocate it again; it relinks automatically if its record returns."""
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = txn.account(username)
        if acc.status != "unallocated":
            raise InvalidInput(
                f"{username} is not unallocated (it is {acc.status} at {acc.school})"
            )
        school = acc.previous_school or acc.link_school
        if not school:
            raise InvalidInput(f"{username} has no previous school to restore it to")
        after = dataclasses.replace(
            acc,
            status="active",
            school=school,
            source="manual",
            mis_id=None,
            link_school=None,
            link_report=None,
            unallocated_at=None,
            unallocated_by_run=None,
            reviewed=False,
        )
        _put(txn, acc, after, "restore", at, school)
    return after


def _non_mis(txn: Transaction, username: str) -> Account:
    acc = txn.account(username)
    if acc.linked:
        raise InvalidInput(
            f"{username} is linked to the MIS (record {acc.mis_id}), not a non-MIS account"
        )
    if acc.status != "active" or not acc.school:
        raise InvalidInput(f"{username} is not active at a school")
    return acc


def mark_reviewed(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        after = dataclasses.replace(acc, reviewed=True)
        _put(txn, acc, after, "review", at, acc.school)
    return after


def unallocate_account(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        after = unallocated(dataclasses.replace(acc), acc.school)  # type: ignore[arg-type]
        after.unallocated_at = at
        _put(txn, acc, after, "unallocate", at, acc.school)
    return after


def _unmatched_record(
    store: Store, txn: Transaction, dfe: str, report: str, mis_id: str
) -> tuple[MisRecord, MatchCase | None]:
    for case in txn.cases(dfe, "open"):
        if case.report == report and case.record.get("mis_id") == mis_id:
            return case.mis_record(), case
    for pf in store.processed_files(dfe)[:1]:
        for row in pf.records:
            r = row["record"]
            if r.get("report") == report and r.get("mis_id") == mis_id:
                return MisRecord.from_dict(r), None
    raise InvalidInput(f"no record {mis_id} in {dfe}'s last {report} export")


def link_account(
    store: Store, username: str, dfe: str, report: str, mis_id: str, *, operator: str, now: datetime
) -> Account:
    """Links a non-MIS account to a record of the school's export that has no account."""
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        if ROLE_OF_REPORT.get(report) != acc.role:
            raise InvalidInput(f"{username} is a {acc.role} account; {report} holds other roles")
        taken = [
            a
            for a in txn.school_accounts(dfe)
            if a.mis_id == mis_id and a.link_school == dfe and a.link_report == report
        ]
        if taken:
            raise InvalidInput(f"MIS record {mis_id} is already linked to {taken[0].username}")
        rec, case = _unmatched_record(store, txn, dfe, report, mis_id)
        after, action = link_to_record(acc, rec, dfe)
        _put(txn, acc, after, action, at, dfe)
        if case is not None:
            case.status = "resolved"
            case.decision = f"match:{username}"
            case.decided_by = operator
            case.decided_at = at
            case.undo = {"account": acc.to_dict()}
            txn.put_case(case)
            txn.audit(
                event(
                    txn,
                    at,
                    dfe,
                    "case_resolved",
                    case.case_id,
                    {"status": "open"},
                    {"status": "resolved", "decision": case.decision},
                )
            )
    return after


async def test_connection(
    store: Store,
    dfe: str,
    *,
    school: School | None = None,
    secret: str | None = None,
    client: Any = None,
) -> dict[str, int]:
    """Gets a token and counts each enabled report (settings not yet saved may be passed in)."""
    from uso_tui.iris.client import IrisClient  # noqa: PLC0415

    school = school or store.school(dfe)
    secret = secret if secret is not None else store.secret(dfe)
    if client is not None:
        return await client.test_connection(school, secret)
    async with IrisClient(allowed_hosts=store.allowed_mis_hosts()) as own:
        return await own.test_connection(school, secret)
