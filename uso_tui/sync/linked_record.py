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
from uso_tui.domain.names import normalise, permanent_upn, upn_key
from uso_tui.store.api import AccountHit, Store, Transaction
from uso_tui.sync.access import require
from uso_tui.sync.actions import put_changed
from uso_tui.sync.admin import same_person
from uso_tui.sync.case_offers import case_named, matched_there, offering
from uso_tui.sync.checks import latest_export_ids
from uso_tui.sync.listed_record import ANOTHER_PERSON, listed_as_another
from uso_tui.sync.plan import held_fields, unallocated, upn_holder
from uso_tui.sync.runner import iso

__all__ = ["ANOTHER_PERSON", "accept_record", "listed_as_another", "release_account"]


def _linked_account(
    txn: Transaction, store: Store, username: str, as_shown: MisRecord | None
) -> tuple[Account, MisRecord]:
    acc = txn.account(username)
    if not acc.mis_id:
        raise InvalidInput(
            f"{username} is not linked to an MIS record (a non-MIS account): nothing to answer"
        )
    rec = listed_as_another(store, acc)
    if rec is None:
        raise InvalidInput(
            f"{username}'s MIS record is not listed as another person in its school's latest "
            "export, or no longer is one (answered): nothing to answer (`uso-tui why` says "
            "what the run made of it)"
        )
    if as_shown is not None and as_shown.to_dict() != rec.to_dict():
        raise InvalidInput(
            f"{username}'s MIS record changed since it was shown (a run listed it again): "
            "look again"
        )
    return acc, rec


def _held_elsewhere(
    txn: Transaction,
    acc: Account,
    rec: MisRecord,
    linked_only: bool = False,
    present: set[str] | None = None,
) -> str | None:
    """Another account of the school that the record's UPN, or its names and date of birth,
    are (taking the record would make that person's second): an active one, or an unallocated
    one linked to a record of the latest export (`present`: its MIS ids; None, not known): a
    twin off roll when the ids were swapped, whose record is there under the other id.
    `linked_only` (the holder left?): an active one linked to a record (ids swapped in the
    MIS), not one asked for ahead of it; an unallocated one does not say its person is at the
    school."""
    upn = upn_key(rec.upn)
    names = (normalise(rec.forename), normalise(rec.surname), rec.dob)
    accounts = txn.school_accounts(acc.link_school or "")
    # a UPN says whose record it is only as a run reads it: a permanent one, held by one other
    # account (a dummy keyed for many says nothing: answering a record listed for another
    # change was refused for ever)
    if upn and upn_holder(upn, acc.username, lambda: [a.to_dict() for a in accounts]) is None:
        upn = ""
    for other in accounts:
        if other.username == acc.username:
            continue
        if other.status != "active" and (
            linked_only or not other.mis_id or (present is not None and other.mis_id not in present)
        ):
            continue
        if linked_only and (
            not other.mis_id or (present is not None and other.mis_id not in present)
        ):
            # (one whose own record is absent: the record is its person keyed again under a
            # freed id, not a swap, and the account's holder may well have left)
            continue
        theirs = upn_key((other.extra or {}).get("upn"))
        if (upn and theirs == upn) or (
            (normalise(other.forename), normalise(other.surname), other.dob) == names
        ):
            return other.username
    return None


def _active_elsewhere(txn: Transaction, acc: Account, rec: MisRecord) -> AccountHit | None:
    """An active account at another school that is the record's person (its permanent UPN, held
    by that account alone, or its names and date of birth): a mover, whose record a run makes a
    case with that account among the candidates. Taking the record here would give them two."""
    upn = upn_key(rec.upn)
    upns = {upn} if permanent_upn(upn) else set()
    key = (normalise(rec.forename), normalise(rec.surname), rec.dob or "")
    hits = [
        hit
        for hit in txn.find_people(acc.role, upns, {key} if rec.dob else set())
        if hit.username != acc.username
        and hit.status == "active"
        and hit.school != (acc.link_school or acc.school)
    ]
    by_upn = [hit for hit in hits if upns and upn_key(hit.upn) == upn]
    if len(by_upn) == 1:
        return by_upn[0]
    if upns and upn_key((acc.extra or {}).get("upn")) == upn:
        return None  # the account holds the record's UPN: a namesake elsewhere is no one's
    for hit in hits:
        theirs = upn_key(hit.upn)
        if upns and theirs != upn and permanent_upn(theirs):
            continue  # another permanent UPN: another child of the same names and birthday
        if rec.dob and same_person(hit, acc.role, rec.forename, rec.surname, rec.dob):
            return hit
    return None


def _refuse_if_swapped(
    txn: Transaction,
    acc: Account,
    rec: MisRecord,
    why: str,
    linked_only: bool = False,
    present: set[str] | None = None,
) -> None:
    holder = _held_elsewhere(txn, acc, rec, linked_only, present)
    if holder is not None:
        raise InvalidInput(
            f"record {rec.mis_id} ({rec.forename} {rec.surname}, born {rec.dob}) is {holder}'s "
            f"person: {why} (ids swapped in the MIS: the school corrects them)"
        )


def accept_record(
    store: Store,
    username: str,
    *,
    operator: str,
    now: datetime,
    as_shown: MisRecord | None = None,
) -> Account:
    """The record is the account's person (the school corrected it): the account takes its
    details now; the next run finds the account holding its record. Refused when the record
    is another active account's of the school (ids swapped: the MIS is to be corrected), or,
    given `as_shown` (the record an operator saw), when it has changed since."""
    require(store, operator, "link")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc, rec = _linked_account(txn, store, username, as_shown)
        present = latest_export_ids(store, acc.link_school or "", acc.link_report or "")
        _refuse_if_swapped(
            txn, acc, rec, f"{username} taking it would give them two accounts", present=present
        )
        mover = _active_elsewhere(txn, acc, rec)
        if mover is not None:
            raise InvalidInput(
                f"record {rec.mis_id} ({rec.forename} {rec.surname}, born {rec.dob}) is "
                f"{mover.username}'s person, active at {mover.school}: {username} taking it "
                f"would give them two accounts. If {username}'s holder has left, release it "
                f"(`uso-tui account release {username}`): the next run makes the record a case "
                f"with {mover.username} among its candidates"
            )
        # the operator said: the same person (the changes weighed together are answered)
        after = dataclasses.replace(acc, **held_fields(rec), changed_from=None)
        put_changed(txn, acc, after, "accept_record", at, acc.link_school)
    return after


def release_account(
    store: Store,
    username: str,
    *,
    operator: str,
    now: datetime,
    as_shown: MisRecord | None = None,
) -> Account:
    """The record is another person and the account's holder has left: the account is
    unallocated and its link dropped (kept, restorable); the next run takes the record as new."""
    require(store, operator, "unallocate")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc, rec = _linked_account(txn, store, username, as_shown)
        present = latest_export_ids(store, acc.link_school or "", acc.link_report or "")
        # (an account asked for the record's person is no swap: it joins the record next run)
        _refuse_if_swapped(
            txn,
            acc,
            rec,
            f"{username}'s holder may well be at the school under another id",
            linked_only=True,
            present=present,
        )
        offers = offering(store, [acc])
        if offers:
            # its holder may be on roll under another id (Kevin re-keyed as 12, his 7 given to
            # Wei): released, the case could no longer give it back, and the next run left
            # Kevin without an account
            said = "; ".join(f"{case_named(case)} ({score}%)" for _, case, score in offers[:3])
            more = f" and {len(offers) - 3} more" if len(offers) > 3 else ""
            raise InvalidInput(
                f"{username} stays as it is: an open case offers it, {said}{more}: its holder "
                f"may be on roll under that record: {matched_there(username, offers[0][1])}; if "
                "not, decide the case first (create or exclude), then release it"
            )
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
