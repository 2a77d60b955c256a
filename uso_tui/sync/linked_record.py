"""An operator's answer to a linked record listed as plainly another person than its account
(plan._another_person: a forename and a date of birth wholly different, ids swapped...): the
run leaves the account untouched, which is right for an MIS id given again to someone else and
wrong for a record the school corrected. Either the record is the account's person after all
(`accept_record`: the account takes the record's details now, as a run would have), or it is
another person and the account's holder has left (`release_account`: the account is unallocated
and its link dropped, so the next run takes the record as a new one: matched, or given an
account of its own). Both audited; a released account can be restored as any other.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account, MisRecord
from uso_tui.store.api import Store, Transaction
from uso_tui.sync.access import require
from uso_tui.sync.actions import put_changed
from uso_tui.sync.plan import INVALID, held_fields, unallocated
from uso_tui.sync.runner import iso

# What the planner says of such a record (plan._linked)
ANOTHER_PERSON = "now names another person than its account"


def listed_as_another(store: Store, acc: Account) -> MisRecord | None:
    """The record linked to `acc` as its school's latest export listed it, if that listed it
    as another person than the account and the account has not changed since (else None: an
    answer given, or an operator's change, waits for the next run to say again)."""
    if not (acc.mis_id and acc.link_school and acc.link_report):
        return None
    rows = [
        r
        for r in store.why_records(acc.link_school)
        if r.get("mis_id") == acc.mis_id and r.get("report") == acc.link_report
    ]
    row = rows[-1] if rows else None
    if (
        row is None
        or row.get("outcome") != INVALID
        or ANOTHER_PERSON not in (row.get("reason") or "")
        or not row.get("run_id")
    ):
        return None
    listed_at = store.run(row["run_id"]).started_at
    if (acc.last_event_at or "") >= listed_at:
        return None
    processed = store.processed_file(row["run_id"])
    for entry in processed.records if processed is not None else ():
        record = entry.get("record") or {}
        if record.get("mis_id") == acc.mis_id and record.get("report") == acc.link_report:
            return MisRecord.from_dict(record)
    return None


def _linked_account(txn: Transaction, store: Store, username: str) -> tuple[Account, MisRecord]:
    acc = txn.account(username)
    rec = listed_as_another(store, acc)
    if rec is None:
        raise InvalidInput(
            f"{username}'s MIS record is not listed as another person in its school's latest "
            "export, or the account changed since: nothing to answer (`uso-tui why` says what "
            "the run made of it)"
        )
    return acc, rec


def accept_record(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    """The record is the account's person (the school corrected it): the account takes its
    details now; the next run finds the account holding its record."""
    require(store, operator, "link")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc, rec = _linked_account(txn, store, username)
        after = dataclasses.replace(acc, **held_fields(rec))
        put_changed(txn, acc, after, "accept_record", at, acc.link_school)
    return after


def release_account(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    """The record is another person and the account's holder has left: the account is
    unallocated and its link dropped (kept, restorable); the next run takes the record as new."""
    require(store, operator, "unallocate")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc, _ = _linked_account(txn, store, username)
        school = acc.school or acc.link_school or ""
        gone = dataclasses.replace(
            unallocated(acc, school),
            mis_id=None,
            link_school=None,
            link_report=None,
            previous_link=f"{acc.link_school}/{acc.link_report}/{acc.mis_id}",
            unallocated_at=at,
            unallocated_by_run=None,
        )
        put_changed(txn, acc, gone, "release", at, school)
    return gone
