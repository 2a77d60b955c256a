"""Operator decisions (DESIGN section 3): confirm a held run, decide a match case (and undo it),
restore an unallocated account, review non-MIS accounts. Each commits in one transaction and
writes its audit events."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from uso_tui.domain.errors import InvalidInput, NeedsConfirmation
from uso_tui.domain.models import (
    Account,
    AuditEvent,
    MatchCase,
    MisRecord,
    Run,
    School,
    alone_score,
)
from uso_tui.domain.names import normalise, permanent_upn, upn_key
from uso_tui.domain.schools import ROLE_OF_REPORT, la_of
from uso_tui.store.api import Store, Transaction
from uso_tui.sync.access import require
from uso_tui.sync.apply import account_diff, event, event_words, stamp
from uso_tui.sync.case_offers import authority_offers
from uso_tui.sync.checks import (
    RUNS_LOOKED_AT,
    back_since,
    exclusion_hits,
    export_ids,
    latest_export_ids,
    match_differences,
    on_roll_elsewhere,
    seen_since,
)
from uso_tui.sync.checks import (
    check_reports as check_reports,  # the console's Force Run and `sync --report` use it
)
from uso_tui.sync.evidence import upn_level
from uso_tui.sync.fresh import refuse_if_created_since
from uso_tui.sync.listed_record import listed_as_another
from uso_tui.sync.match_model import CREATE_GUARD, UPN_CROWD
from uso_tui.sync.plan import account_from_record, held_fields, unallocated
from uso_tui.sync.runner import iso
from uso_tui.sync.undone import UNDOES, UNDONE_CREATE, first_standing, restorable
from uso_tui.sync.undone import standing as _standing


def put_changed(
    txn: Transaction,
    before: Account | None,
    after: Account,
    action: str,
    at: str,
    school: str | None,
    run_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write an account an operator's action changed, stamped, with its audit event (`extra`:
    said in both, as an undo's UNDOES)."""
    stamp(after, action, at, after.school or school, run_id, extra)
    txn.put_account(after)
    before_d, after_d = account_diff(before, after)
    if extra:
        after_d = {**(after_d or {}), **extra}
    txn.audit(event(txn, at, school, action, after.username, before_d, after_d, run_id=run_id))


@dataclasses.dataclass(slots=True)
class Confirmed:
    """What confirming a held run did: the run as it ends, the accounts unallocated, those left
    alone (their record came back or they changed since the run) and those the operator kept."""

    run: Run
    unallocated: list[str]
    left_alone: list[str]
    kept: list[str]
    # a run held whole: whether its export was applied (False: the school has run since, a
    # newer export is the one applied); None for a run whose unallocations alone were held
    applied: bool | None = None


def _chosen(run: Run, only: Iterable[str] | None, exclude: Iterable[str] | None) -> list[str]:
    """The held usernames to confirm; a name the run does not hold is refused."""
    if only is not None and exclude is not None:
        raise InvalidInput("give either only or except, not both")
    held = list(run.held_usernames)
    given = only if only is not None else exclude
    if given is None:
        return held
    if isinstance(given, str):
        given = given.split(",")
    names = [n.strip() for n in given if n and n.strip()]
    if not names:
        raise InvalidInput(f"no usernames given to {'only' if only is not None else 'except'}")
    unknown = [n for n in names if n not in held]
    if unknown:
        raise InvalidInput(
            f"{unknown[0]} is not held by run {run.run_id}"
            + (f" (nor {len(unknown) - 1} more)" if len(unknown) > 1 else "")
        )
    return [u for u in held if (u in names) == (only is not None)]


def undone_by(events: list[AuditEvent], run_id: str) -> str | None:
    """The undo run that undid `run_id` (from the school's audit `events`), if any (sync.undo
    writes the event)."""
    for entry in events:
        if entry.action == "undo_run" and entry.subject == run_id:
            return (entry.after or {}).get("undo_run_id") or "an earlier undo"
    return None


def confirm_held(
    store: Store,
    run_id: str,
    *,
    operator: str,
    now: datetime,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> Confirmed:
    """Applies a held run's unallocations, all of them or those `only` names or `exclude` does
    not; the rest are kept (a later run unallocates them if their record is still absent). An
    account whose record came back since (a later run saw it), or that was restored, relinked
    or changed since, is left alone."""
    require(store, operator, "confirm")
    at = iso(now)
    with store.transaction(operator) as txn:
        run = txn.run(run_id)
        if run.status != "held":
            raise InvalidInput(f"run {run_id} is not held (it is {run.status})")
        undone = undone_by(store.audit(run.school), run_id)
        if undone:  # what it held went with the rest of it
            raise InvalidInput(
                f"run {run_id} was undone ({undone}): nothing it held can be confirmed; the "
                "school's next run unallocates those still absent (with its own hold)"
            )
        chosen = _chosen(run, only, exclude)
        if run.comparison is not None:
            return _confirm_whole(store, txn, run, operator, now, at, chosen)
        seen = seen_since(store, run)
        done: list[str] = []
        left: list[str] = []
        for username in chosen:
            acc = txn.find_account(username)
            # an incomplete export says nothing of who left (rule 7), confirmed or not
            if acc is None or from_incomplete(run, acc) or back_since(acc, run, seen):
                left.append(username)
                continue
            after = unallocated(dataclasses.replace(acc), run.school)
            after.unallocated_at = at
            after.unallocated_by_run = run_id
            put_changed(txn, acc, after, "unallocate", at, run.school, run_id)
            done.append(username)
        kept = [u for u in run.held_usernames if u not in chosen]
        before = {"status": run.status}
        run.status = "succeeded"
        run.confirmed_by = operator
        run.confirmed_at = at
        run.counts["unallocated"] = run.counts.get("unallocated", 0) + len(done)
        txn.put_run(run)
        after_ev: dict[str, Any] = {"status": run.status, "unallocated": len(done)}
        if left:
            after_ev["left_alone"] = left
        if kept:
            after_ev["kept"] = kept
        txn.audit(event(txn, at, run.school, "confirm", run_id, before, after_ev, run_id))
    return Confirmed(run, done, left, kept)


def _confirm_whole(
    store: Store,
    txn: Transaction,
    run: Run,
    operator: str,
    now: datetime,
    at: str,
    chosen: list[str],
) -> Confirmed:
    """A run held whole by the export comparison: its export planned again and applied (the
    held accounts not chosen are kept)."""
    from uso_tui.sync.held_export import (  # noqa: PLC0415 - imports the runner
        apply_held_export,
        newer_runs,
    )

    held_whole = {c.get("report") for c in run.held_whole()}
    # the runs since that took a report this one holds whole (a run of another report alone
    # leaves it to confirm)
    newer = newer_runs(txn, run, held_whole)
    if newer and newer[0].status == "held":  # a newer export waits: that is the one to judge
        latest = newer[0]
        raise InvalidInput(
            f"run {run.run_id} is out of date: {run.school} has run since ({latest.run_id}, "
            f"{latest.started_at.replace('T', ' ')[:16]}), held too, from a newer export; "
            f"confirm that one instead (uso-tui confirm {latest.run_id})"
        )
    kept = [u for u in run.held_usernames if u not in chosen]
    # what held_review promised: an account changed or seen again since is left alone, and
    # every one when the export was incomplete (rule 7)
    seen = seen_since(store, run)
    stale = [
        u
        for u in chosen
        if (a := txn.find_account(u)) is None or from_incomplete(run, a) or back_since(a, run, seen)
    ]
    plans = apply_held_export(store, txn, run, now, at, {*kept, *stale})
    done = [c.username for p in plans.values() for c in p.changes if c.kind == "unallocate"]
    left = [u for u in chosen if u not in done]
    if not plans:  # the school has run since: nothing of this older export applies
        left = list(chosen)
    # a report held whole that a run has taken since is not applied: so it is no export the
    # next is compared with (SchoolDoc.previous_counts)
    whole = held_whole - plans.keys()
    if whole:
        run.sizes = {r: n for r, n in run.sizes.items() if r not in whole}
        run.on_roll = {r: n for r, n in run.on_roll.items() if r not in whole}
        run.not_started = {r: n for r, n in run.not_started.items() if r not in whole}
    before = {"status": run.status, "comparison": run.comparison}
    run.status = "succeeded"
    run.confirmed_by = operator
    run.confirmed_at = at
    txn.put_run(run)
    after_ev: dict[str, Any] = {
        "status": run.status,
        "applied": bool(plans),
        "unallocated": len(done),
    }
    if left:
        after_ev["left_alone"] = left
    if kept:
        after_ev["kept"] = kept
    txn.audit(event(txn, at, run.school, "confirm", run.run_id, before, after_ev, run.run_id))
    return Confirmed(run, done, left, kept, applied=bool(plans))


def confirm_run(
    store: Store,
    run_id: str,
    *,
    operator: str,
    now: datetime,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> Run:
    """confirm_held, for callers that need only the run (its confirm audit event lists the
    accounts left alone and kept)."""
    return confirm_held(store, run_id, operator=operator, now=now, only=only, exclude=exclude).run


@dataclasses.dataclass(slots=True)
class HeldAccount:
    """One account a held run would unallocate, as an operator reviews it before confirming."""

    username: str
    forename: str
    surname: str
    dob: str | None
    status: str  # active | unallocated | missing
    # open match cases offering this account: the school's, then others' of its authority
    case_ids: list[str]
    back_since: bool  # record back, changed since, or an incomplete export: confirm leaves it
    incomplete: bool = False  # ... because its report's export may be incomplete (rule 7)


def from_incomplete(run: Run, acc: Account | None) -> bool:
    """Whether `acc` was held because its report's export may be incomplete (then no confirm
    unallocates it: only a complete export says who left)."""
    if not run.incomplete:
        return False
    reports = run.incomplete_reports
    return acc is None or not reports or acc.link_report in reports


def held_review(store: Store, run_id: str) -> list[HeldAccount]:
    run = store.run(run_id)
    if not run.held_usernames:
        return []
    seen = seen_since(store, run) if run.status == "held" else set()
    # the open cases offering each: the school's own, then a mover's at another school of its
    # authority (a leaver here who joined there: confirming unallocates what that case claims)
    offers = authority_offers(store, dict.fromkeys(run.held_usernames, run.school))
    offers.sort(key=lambda offer: offer[1].school != run.school)  # (stable: case order kept)
    cases: dict[str, list[str]] = {}
    for username, case, _score in offers:
        cases.setdefault(username, []).append(case.case_id)
    out = []
    # in one read (one find_account per account read the school's file again each time: 40 s
    # for a school of 4,000 held whole)
    found = store.find_accounts(set(run.held_usernames))
    for username in run.held_usernames:
        acc = found.get(username)
        out.append(
            HeldAccount(
                username=username,
                forename=acc.forename if acc else "",
                surname=acc.surname if acc else "",
                dob=acc.dob if acc else None,
                status=acc.status if acc else "missing",
                case_ids=cases.get(username, []),
                back_since=run.status == "held"
                and (from_incomplete(run, acc) or back_since(acc, run, seen)),
                incomplete=run.status == "held" and from_incomplete(run, acc),
            )
        )
    return out


def _open_case(txn: Transaction, case_id: str) -> MatchCase:
    case = txn.case(case_id)
    if case.status != "open":
        again = "; undo that decision first to decide it again" if case.undo else ""
        raise InvalidInput(f"case {case_id} is already {case.status} ({case.decision}){again}")
    return case


def link_to_record(acc: Account, rec: MisRecord, dfe: str) -> tuple[Account, str]:
    """The account linked to the record at school `dfe`; a move when it was elsewhere (at
    another school, or unallocated from one: not back at the school it left)."""
    home = acc.school or acc.previous_school
    moving = bool(home) and home != dfe
    after = dataclasses.replace(
        acc,
        **held_fields(rec),
        status="active",
        school=dfe,
        source="mis",
        mis_id=rec.mis_id,
        link_school=dfe,
        link_report=rec.report,
        previous_school=home if moving else acc.previous_school,
        unallocated_at=None,
        unallocated_by_run=None,
        reviewed=False,
        previous_link=None,
    )
    return after, ("move" if moving else "link")


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
    force: bool = False,
    as_shown: MatchCase | None = None,
    written: dict[str, Account] | None = None,
) -> MatchCase:
    """Decides an open case. Matching to an account that is not among its candidates raises
    NeedsConfirmation (saying what differs) unless `force`; an account linked to another record
    of the school's latest export is refused even then. `as_shown`: the case as the operator saw
    it; if a run has refreshed it since (its record or candidates changed), nothing is decided
    (InvalidInput): the choice was made on what is no longer so. `written`: given, it receives
    the account the decision linked or made, as saved (a console shows it without reading it
    back)."""
    require(store, operator, "resolve")
    chosen = [
        n
        for n, v in (("match", match), ("create", create), ("exclude", exclude), ("skip", skip))
        if v
    ]
    if len(chosen) != 1:
        raise InvalidInput("give exactly one of: match USERNAME, create, exclude, skip")
    at = iso(now)
    made: Account | None = None
    overridden: list[str] = []  # the warnings --force passed over (audited)
    with store.transaction(operator) as txn:
        case = _open_case(txn, case_id)
        if skip:
            return case  # left open for later: nothing changes
        stale = _refreshed_since_shown(case, as_shown)
        if stale:
            raise InvalidInput(stale)
        rec = case.mis_record()
        dfe = case.school
        taken = _linked_to(txn, dfe, rec.report, rec.mis_id)
        if (match or create) and taken is not None:
            raise InvalidInput(f"MIS record {rec.mis_id} is already linked to {taken.username}")
        if match:
            acc = txn.account(match)
            seen = _preview(store, case, acc, on_roll=False)  # (read below, if it is said)
            if seen.refused:
                raise InvalidInput(seen.refused)
            if not seen.is_candidate:
                # on roll at another school: said of a non-candidate (a candidate's case says so)
                on_roll = _on_roll(store, case, acc)
                # every warning --force would pass over, said now (it was said only in the
                # console: "probably Daniel's account" was overridden unseen from the shell)
                warnings = (seen.claimed_by, seen.taken_since, seen.duplicate_of, on_roll)
                said = list(dict.fromkeys(s for s in (*warnings, seen.free_here) if s))
                overridden = [f"{match} is not a candidate of the case", *said]
            if not seen.is_candidate and not force:
                raise NeedsConfirmation(
                    f"{match} is not a candidate of case {case_id}; "
                    + "".join(f"{s}; " for s in said)
                    + "what differs: "
                    + "; ".join(seen.differences or ["nothing"])
                    + " (confirm to match anyway: --force)",
                    [*said, *seen.differences],
                )
            if seen.taken_since and not force:
                raise NeedsConfirmation(
                    f"{seen.taken_since} (confirm to move it anyway: --force)",
                    [seen.taken_since, *seen.differences],
                )
            for said in (seen.claimed_by, seen.duplicate_of, seen.free_here):
                if said and not force:
                    raise NeedsConfirmation(
                        f"{said} (confirm to match it anyway: --force)", [said, *seen.differences]
                    )
            # what --force passed over, kept in the audit (a forced match read as any other)
            overridden += [
                s
                for s in (seen.taken_since, seen.claimed_by, seen.duplicate_of, seen.free_here)
                if s and s not in overridden
            ]

            after, action = link_to_record(acc, rec, dfe)
            put_changed(txn, acc, after, action, at, dfe)
            made = after
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
            # a run of another school may have made this person an account since the case opened
            refuse_if_created_since(store, txn, case)
            present = latest_export_ids(store, case.school, case.report)
            if (guard := create_guard(txn, case, present)) is not None:
                username, said = guard
                if not force:
                    raise NeedsConfirmation(
                        f"{said} (--match {username} matches it; --force creates anyway)", [said]
                    )
                overridden = [said]
            username = txn.new_username(rec.forename or "", rec.surname or "", la_of(dfe))
            acc = account_from_record(rec, dfe, username)
            acc.created_at = at
            put_changed(txn, None, acc, "create", at, dfe)
            made = acc
            case.decision = f"create:{username}"
            case.undo = {"created": username}
        else:
            ex = txn.add_exclusion(dfe, rec.forename or "", rec.surname or "", rec.dob, at)
            hits = exclusion_hits(
                txn.school_accounts(dfe), dfe, rec.forename or "", rec.surname or "", rec.dob
            )
            shown = {**ex.public(), "accounts": [a.username for a in hits]} if hits else ex.public()
            txn.audit(event(txn, at, dfe, "exclusion_add", f"{dfe}#{ex.id}", None, shown))
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
                {"status": case.status, "decision": case.decision}
                | ({"overridden": overridden} if overridden else {}),
            )
        )
    if written is not None and made is not None:  # (saved: the transaction has committed)
        written[made.username] = made
    return case


def create_guard(
    txn: Transaction, case: MatchCase, present: set[str] | None = None
) -> tuple[str, str] | None:
    """Why a new account for the case's record needs confirming: its best candidate that no
    other record of the school's export holds scores CREATE_GUARD% or more (probably this
    person: a new account gives them two), or has become the record's person since the case
    scored it (an operator matched it to them at another school: it holds the record's names
    and date of birth, or its UPN, now), as (that username, what to say). None when there is
    no such candidate. `present`: the MIS ids of the school's latest export of the report (an
    account linked to a record gone from it is no other person's: see MatchCase.taken_by)."""
    rec = case.mis_record()
    free = [
        (acc, cand)
        for cand in case.candidates  # best first
        if (acc := txn.find_account(cand["username"])) is not None
        and case.taken_by(acc, present) is None
        and not acc.extra.get(UNDONE_CREATE)  # made by mistake and undone: nobody's account
    ]
    # a score says what the account was when the case weighed it: one renamed since is no
    # longer the near-certain candidate it was (what it holds now is checked below)
    scored = [(acc, cand) for acc, cand in free if _as_scored(acc, cand)]
    if scored and alone_score(scored[0][1]) >= CREATE_GUARD:
        acc, cand = scored[0]
        contested = contested_by(cand, txn.cases(case.school, "open"), rec.mis_id)
        if contested:  # (twins, one account requested under a name both share)
            return acc.username, (
                f"{acc.username} scores {alone_score(cand)}% against this record alone, but "
                f"{contested}: if it is this person, match it; if it is that other record's, "
                "a new account is right"
            )
        return acc.username, (
            f"{acc.username} scores {alone_score(cand)}%: if that is this person, match it; a new "
            "account gives them two"
        )
    for acc, cand in free:
        if _holds_the_record(acc, rec, cand):
            return acc.username, (
                f"{acc.username} holds this record's names and date of birth (or its UPN) now "
                f"(it scored {alone_score(cand)}% when the case opened): if that is this "
                "person, match it; a new account gives them two"
            )
    return None


def contested_by(cand: dict[str, Any], open_cases: Iterable[MatchCase], own: str | None) -> str:
    """What says another record of the export could be a candidate's person too ("" if none):
    its reasons naming one whose case is open (plan._contested, plan._why_not_linked), else
    another open case of the school offering it (a twin's case opened a day apart, or the case
    refreshed since, says nothing of the other). `own`: the case's MIS id. A record whose case
    is decided since (the other twin given an account) contests it no more."""
    others = [c for c in open_cases if c.status == "open" and c.record.get("mis_id") != own]
    waiting = {c.record.get("mis_id") for c in others}
    for reason in cand.get("reasons") or ():
        if not waiting.isdisjoint(_RECORD_NAMED.findall(reason)):
            if "could be its person too" in reason:
                return reason.removeprefix("not linked automatically: ")
            if reason.startswith("also a candidate for "):
                return f"it is {reason}"
    for other in others:
        if any(c.get("username") == cand.get("username") for c in other.candidates):
            rec = other.record
            return (
                f"it is also a candidate of {rec.get('forename') or '?'} "
                f"{rec.get('surname') or '?'}, record {rec.get('mis_id') or '?'} "
                f"(case {other.case_id})"
            )
    return ""


# the MIS ids a candidate's reason names ("Samuel Taylor, record 3 in this export")
_RECORD_NAMED = re.compile(r"\brecord ([^\s;,]+)")


def _as_scored(acc: Account, cand: dict[str, Any]) -> bool:
    """The account's names (normalised: EVE for Eve is no rename) and date of birth are still
    those the case's candidate was weighed with (a candidate stored without them, by an older
    version, is taken as it is)."""
    return all(
        field not in cand or normalise(getattr(acc, field) or "") == normalise(cand[field] or "")
        for field in ("forename", "surname")
    ) and ("dob" not in cand or (acc.dob or "") == (cand["dob"] or ""))


def _holds_the_record(acc: Account, rec: MisRecord, cand: dict[str, Any]) -> bool:
    """The account has the record's forename, surname and date of birth, or its permanent UPN
    (not with another permanent UPN that the case weighed as another child's: two children of
    one name and date, DESIGN's strong evidence of two; a dummy UPN many were keyed with is
    weighed as none)."""
    upn, theirs = upn_key(rec.upn), upn_key((acc.extra or {}).get("upn"))
    if permanent_upn(upn) and upn == theirs:
        return True
    apart = any(e[:2] == ["upn", "different"] for e in map(list, cand.get("evidence") or ()))
    if apart and permanent_upn(upn) and permanent_upn(theirs):
        return False
    return bool(rec.dob) and (normalise(acc.forename), normalise(acc.surname), acc.dob) == (
        normalise(rec.forename or ""),
        normalise(rec.surname or ""),
        rec.dob,
    )


@dataclasses.dataclass(slots=True)
class MatchPreview:
    """What matching a case to an account would do, for the operator to see before confirming:
    `differences` one line each (`forename: Sam -> Samuel`), `refused` why it cannot be done."""

    username: str
    is_candidate: bool
    differences: list[str]
    refused: str | None = None
    # a candidate linked since the case opened to a record another school's latest export holds
    taken_since: str | None = None
    # an unlinked candidate with the very names and date of birth of another record of the
    # school's export, the case's record not so (a co-twin's account asked for exactly)
    claimed_by: str | None = None
    # an account linked to a record another school's latest export still holds: matching takes
    # it from a person on roll there (a mover the old school still lists, or another person)
    on_roll: str | None = None
    # an account an operator unallocated as a duplicate of another, still active: matching it
    # gives the person their second account back
    duplicate_of: str | None = None
    # another candidate of the case, active at its school and linked to no record: matching
    # this one leaves the person that account too (two accounts at the school)
    free_here: str | None = None


def _preview(
    store: Store,
    case: MatchCase,
    acc: Account,
    shown: MatchCase | None = None,
    on_roll: bool = True,
) -> MatchPreview:
    """`on_roll`: whether the account is still on roll at another school is read (its latest
    export) and said."""
    rec = case.mis_record()
    refused = None
    if case.status != "open":
        refused = f"case {case.case_id} is already resolved ({case.decision})"
    elif stale := _refreshed_since_shown(case, shown):
        refused = stale
    elif acc.role != case.role:
        refused = f"{acc.username} is a {acc.role} account; the record is a {case.role}"
    elif (
        acc.mis_id is not None
        and acc.mis_id != rec.mis_id
        and acc.link_school == case.school
        and acc.link_report == case.report
        and acc.mis_id in (latest_export_ids(store, case.school, case.report) or ())
        # (unless that record now names another person: the case's may be its re-keyed one)
        and listed_as_another(store, acc) is None
    ):
        refused = (
            f"{acc.username} is linked to MIS record {acc.mis_id}, which is in the latest "
            f"{case.report} export of {case.school}: it is another person's account"
        )
    elif (other_child := _another_child(store, rec, acc)) is not None:
        refused = other_child
    cand = next((c for c in case.candidates if c.get("username") == acc.username), None)
    taken_since = _taken_since(store, cand, acc, case) if cand and not refused else None
    return MatchPreview(
        username=acc.username,
        is_candidate=cand is not None,
        differences=match_differences(rec, acc, case.school),
        refused=refused,
        taken_since=taken_since,
        claimed_by=None if refused else _claimed_by_another(store, case, acc),
        on_roll=_on_roll(store, case, acc) if on_roll and not (refused or taken_since) else None,
        duplicate_of=None if refused else _duplicate_of(store, acc),
        free_here=None if refused else _free_here(store, case, acc),
    )


def _free_here(store: Store, case: MatchCase, acc: Account) -> str | None:
    """Why matching `acc` leaves the case's person two accounts at its school: another of its
    candidates, ranked at least as high, is active there, linked to no record, and holds the
    record's UPN or its very names and date of birth (asked for, or restored, for this person);
    or None. (A namesake born another year, a co-twin's account asked for: another person.)"""
    rec = case.mis_record()
    scores = {c.get("username"): alone_score(c) for c in case.candidates}  # (its rank)
    chosen = scores.get(acc.username, 0)
    ours = upn_key(rec.upn)
    names = (normalise(rec.forename), normalise(rec.surname), rec.dob)
    for name, score in scores.items():
        if not name or name == acc.username or score < chosen:
            continue
        other = store.find_account(name)
        if (
            other is None
            or other.status != "active"
            or other.school != case.school
            or other.mis_id is not None
            or other.role != case.role
        ):
            continue
        theirs = upn_key((other.extra or {}).get("upn"))
        if ours and theirs and ours != theirs:
            continue  # another child's number
        if (ours and theirs == ours) or (
            (normalise(other.forename), normalise(other.surname), other.dob) == names
        ):
            return (
                f"{other.username} ({other.forename} {other.surname}, born {other.dob or '?'}), "
                f"a candidate of this case with the record's "
                f"{'UPN' if ours and theirs == ours else 'names and date of birth'}, is active at "
                f"{case.school} and linked to no record: matching {acc.username} leaves this "
                f"person two accounts there (match {other.username} instead?)"
            )
    return None


def _duplicate_of(store: Store, acc: Account) -> str | None:
    """Why matching `acc` gives its person a second account: an operator unallocated it as a
    duplicate of another account, still active (duplicates.unallocate_duplicate); or None."""
    if acc.status == "active":
        return None
    last = _standing(acc.history)
    other = first = _kept_for(store, last)
    seen = {acc.username}
    # the one kept unallocated since as a duplicate of a third (A for B, then B for C): the
    # person's account is the one that stands at the end of that chain
    while other is not None and other.status != "active" and other.username not in seen:
        seen.add(other.username)
        other = _kept_for(store, _standing(other.history))
    if other is None or other.status != "active":
        return None
    since = (
        f"{first.username}, since unallocated as a duplicate of "
        if first is not None and first.username != other.username
        else ""
    )
    return (
        f"{acc.username} was unallocated on {str(last.get('at', '?'))[:10]} as a duplicate of "
        f"{since}{other.username} ({other.forename} {other.surname}, active at "
        f"{other.school or '?'}): matching it gives this person two accounts (match "
        f"{other.username} instead?)"
    )


def _kept_for(store: Store, entry: dict[str, Any]) -> Account | None:
    """The account a history entry's unallocation kept, as a duplicate of it (None: not such
    an entry, or the account is gone)."""
    kept = entry.get("duplicate_of") if entry.get("action") == "unallocate" else None
    return store.find_account(kept) if isinstance(kept, str) else None


def _on_roll(store: Store, case: MatchCase, acc: Account) -> str | None:
    """Why matching `case` to `acc` takes it from a person on roll at another school (its
    record is still in that school's latest export), or None."""
    school = on_roll_elsewhere(store, case.school, [acc]).get(acc.username)
    if school is None:
        return None
    return (
        f"{acc.username} is linked to MIS record {acc.mis_id} of {school}, still in its latest "
        f"{acc.link_report} export: matching takes it from a person on roll there (one person "
        "at two schools?)"
    )


def _claimed_by_another(store: Store, case: MatchCase, acc: Account) -> str | None:
    """Why an unlinked (or unallocated) account is probably another record's of the school's
    latest export: it holds that record's very names and date of birth and the case's record
    does not (twins asked for apart, Daniel exactly, Danielle with her date slipped: Daniel's
    account ranks first for her, on the date)."""
    # (an unallocated account's kept link is no claim: the person who left may be back under
    # another id, and the account theirs, not the co-twin's whose case this is)
    if (acc.mis_id is not None and acc.status == "active") or not acc.dob:
        return None
    key = (normalise(acc.forename), normalise(acc.surname), acc.dob)
    rec = case.mis_record()
    if (normalise(rec.forename or ""), normalise(rec.surname or ""), rec.dob) == key:
        return None
    own = (acc.link_school, acc.link_report, acc.mis_id)  # an unallocated account's kept link
    for row in store.why_records(case.school):
        if row.get("report") != case.report or row.get("mis_id") == rec.mis_id:
            continue
        if (case.school, case.report, row.get("mis_id")) == own and row.get("leaving_date"):
            continue  # its own record, left (a leaver's): the person back under another id
        names = (normalise(row.get("forename") or ""), normalise(row.get("surname") or ""))
        if (*names, row.get("dob")) == key:
            return (
                f"{acc.username} has the very names and date of birth of MIS record "
                f"{row.get('mis_id')} ({row.get('forename')} {row.get('surname')}) of "
                f"{case.school}'s latest {case.report} export: probably that person's account"
            )
    return None


# History actions that link an account to a record (an operator's match or move, a run's
# automatic link or relink), and the undos that put back the link one of them replaced (an
# undo of a run's unallocation or update leaves its link as it was).
LINKING = frozenset(("link", "move", "auto_link", "restore"))
UNLINKING = frozenset(f"undo_{action}" for action in (*LINKING, "match"))


def _linked_since(acc: Account, since: str) -> bool:
    """Whether the account's link was made after `since` (the latest of the linking entries and
    their undos after it links: a match undone since leaves the link it had before)."""
    last = None
    for entry in acc.history:
        action = entry.get("action") or ""
        if (entry.get("at") or "") > since and (action in LINKING or action in UNLINKING):
            last = action
    return last in LINKING


def _taken_since(
    store: Store, cand: dict[str, Any], acc: Account, case: MatchCase | None = None
) -> str | None:
    """What says a candidate is now a current pupil (or member of staff) of another school that
    it was not when the case was opened: linked since (another school's case matched it, a run
    relinked it) to a record that school's latest export holds, also where it was active before
    (unlinked: a request, a restore); or active at a school since, unlinked (an operator restored
    it). Matching it moves it off that person, so it is asked again rather than taken on the
    case's word (a mover whose old school still lists them was so when the case opened, and is
    not asked twice)."""
    if acc.status != "active" or not acc.school:
        return None
    # (a run that gave the case new candidates sought them again: as they were then)
    here, since = (case.school, max(case.opened_at, case.sought_at or "")) if case else (None, "")
    moved = (cand.get("school"), cand.get("status", "active")) != (acc.school, acc.status)
    was = cand.get("status", "active")
    was_at = f" at {cand['school']}" if cand.get("school") else ""
    if acc.mis_id is None or not acc.link_school or not acc.link_report:
        if not moved or acc.school == here:  # (restored at the case's school: it stays there)
            return None
        return (
            f"{acc.username} was {was}{was_at} when the case opened; since then it is active at "
            f"{acc.school} ({event_words(acc)}): matching moves it away from there"
        )
    if not moved and not _linked_since(acc, since):
        return None
    if acc.mis_id not in (latest_export_ids(store, acc.link_school, acc.link_report) or ()):
        return None
    return (
        f"{acc.username} was {was}{was_at} when the case opened; since then it has been linked "
        f"to MIS record {acc.mis_id} of {acc.link_school}, in its latest {acc.link_report} "
        "export: matching moves it away from that person"
    )


def _another_child(store: Store, rec: MisRecord, acc: Account) -> str | None:
    """Why `acc` is another child's, even forced: linked to a record of another school (or
    report) that its latest export still holds, under a UPN that differs from the record's (a
    UPN follows one pupil: two are two children). A mover's old account, its record not yet
    gone from the old school, has the same UPN (or none to compare)."""
    if acc.mis_id is None or not acc.link_school or not acc.link_report:
        return None
    upns = (upn_key(rec.upn), upn_key((acc.extra or {}).get("upn")))
    if upn_level(*upns) != "different":
        return None
    if acc.mis_id not in (latest_export_ids(store, acc.link_school, acc.link_report) or ()):
        return None
    held = Counter(upn_key(hit.upn) for hit in store.find_people(acc.role, set(upns), set()))
    if any(held[upn] > UPN_CROWD for upn in upns):
        return None  # a dummy number keyed for many (match_model.UPN_CROWD): no evidence
    return (
        f"{acc.username} is linked to MIS record {acc.mis_id} of {acc.link_school}, still in "
        f"its latest {acc.link_report} export, under another UPN than this record's: it is "
        "another child's account (a UPN follows one pupil)"
    )


def refreshed_since(case: MatchCase, shown: MatchCase) -> bool:
    """A run has refreshed the case (sync.plan: its record or its candidates) since `shown`."""
    return (case.record, case.candidates) != (shown.record, shown.candidates)


def _refreshed_since_shown(case: MatchCase, shown: MatchCase | None) -> str | None:
    """Why a decision on `shown` (the case as an operator saw it) is refused: a run has
    refreshed the case since, so the choice was made on what is no longer so."""
    if shown is None or not refreshed_since(case, shown):
        return None
    return (
        f"case {case.case_id} was refreshed by a run since it was shown (its record or "
        "candidates changed): look again"
    )


def match_preview(
    store: Store, case_id: str, username: str, as_shown: MatchCase | None = None
) -> MatchPreview:
    """`as_shown`: as resolve_case's; a case refreshed since is refused here too."""
    return _preview(store, store.case(case_id), store.account(username), as_shown)


def creation_undone_by(acc: Account) -> str:
    """What undid an account's creation, in words: "run R" (a whole run undone) or "case C" (a
    case's decision undone)."""
    by = str(acc.extra.get(UNDONE_CREATE))
    return f"{'run' if re.search(r'-r[0-9]+$', by) else 'case'} {by}"


def _changed_since(
    acc: Account, case: MatchCase, rec: MisRecord, mis_updates: bool = False
) -> bool:
    """The account a decision made or matched is no longer as the decision left it. With
    `mis_updates`, the record's own changes a run applied since do not count (an account a
    create made by mistake is withdrawn, and one matched by mistake put back as it was,
    whatever the MIS has said of the record since)."""
    if (
        acc.status != "active"
        or acc.school != case.school
        or acc.mis_id != rec.mis_id
        or acc.link_school != case.school
    ):
        return True
    decided = case.decided_at or ""
    if (acc.last_event_at or "") <= decided:
        return False
    since = [entry for entry in acc.history if (entry.get("at") or "") > decided]
    return (
        not mis_updates
        or not since
        or any(entry.get("action") != "update" or not entry.get("run_id") for entry in since)
    )


def _not_undone(acc: Account, case: MatchCase) -> str:
    """Why a decision is not undone: what became of its account since (the newest change)."""
    decided = case.decided_at or ""
    since = [e for e in acc.history if (e.get("at") or "") > decided]
    last = since[-1] if since else {}
    what = last.get("action") or "changed"
    where = f" at {last['school']}" if last.get("school") else ""
    by = f" by run {last['run_id']}" if last.get("run_id") else ""
    at = f" on {last['at'][:10]}" if last.get("at") else ""
    state = f"{acc.status} at {acc.school}" if acc.school else acc.status
    return (
        f"{acc.username} has changed since case {case.case_id} was decided ({what}{where}{by}"
        f"{at}; now {state}): the decision is not undone"
    )


def undo_decision(store: Store, case_id: str, *, operator: str, now: datetime) -> MatchCase:
    """Reopens a case an operator decided by mistake, reversing what the decision did, in this
    session or a later one, while the account it made or matched has not changed since (else
    refused: nothing written)."""
    require(store, operator, "undo_decision")
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
            # The record's changes a run applied since came of the link: undone with it.
            if _changed_since(now_acc, case, rec, mis_updates=True):
                raise InvalidInput(_not_undone(now_acc, case))
            holder = (
                _linked_to(txn, was.link_school, was.link_report, was.mis_id, was.username)
                if was.link_school
                else None
            )
            if holder is not None:
                raise InvalidInput(
                    f"{was.username}'s record before the match ({was.link_report} record "
                    f"{was.mis_id} of {was.link_school}) is now linked to {holder.username}, "
                    "made or linked by a run since: putting the link back would give that "
                    "record two accounts. Not undone (the two are listed by `uso-tui "
                    "duplicates` if they are one person)"
                )
            back = dataclasses.replace(was, history=list(now_acc.history))
            left = _left_since(store, was, case.decided_at or "")
            if left is not None:  # as that run would have left it, had the match not been made
                back = dataclasses.replace(
                    unallocated(back, str(was.school)), unallocated_at=at, unallocated_by_run=None
                )
            # the match and what runs made of it since are taken back together: the entries
            # before the undo that it cancels (undone.first_standing: the unallocation before the
            # match stands again, also when a run updated the account in between)
            taken = len(now_acc.history) - len(was.history)  # (was: the account before it)
            extra = {UNDOES: taken} if taken > 1 else None
            put_changed(txn, now_acc, back, "undo_match", at, dfe, extra=extra)
            if was.link_school and was.mis_id and left is None:
                why = f"its record is linked to {was.username} again"
                _withdraw_cases_of(txn, was, operator, at, why)
            if was.school and was.school != dfe:  # a mover's account goes back: said there too
                after: dict[str, Any] = {"school": was.school}
                if left is not None:
                    after.update(status="unallocated", left_in=left)
                txn.audit(
                    event(txn, at, was.school, "move_back", was.username, {"school": dfe}, after)
                )
        elif "created" in undo:
            acc = txn.account(undo["created"])
            if _changed_since(acc, case, rec, mis_updates=True):
                raise InvalidInput(_not_undone(acc, case))
            # No account is ever deleted: the mistaken one is unallocated, unlinked and marked
            # so that it is never offered for restore.
            gone = dataclasses.replace(
                unallocated(acc, dfe),
                mis_id=None,
                link_school=None,
                link_report=None,
                source="manual",
                unallocated_at=at,
                extra={**acc.extra, UNDONE_CREATE: case_id},
            )
            put_changed(txn, acc, gone, "undo_create", at, dfe)
        elif "exclusion" in undo:
            ex_id = int(undo["exclusion"])
            if not any(ex.id == ex_id for ex in txn.exclusions(dfe)):
                raise InvalidInput(f"exclusion {ex_id} of {dfe} was removed since")
            ex = txn.remove_exclusion(dfe, ex_id)
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


def _withdraw_cases_of(txn: Transaction, acc: Account, operator: str, at: str, why: str) -> None:
    """Closes the open cases of the record `acc` is linked to (a match undone put its link
    back): each offered the account, or another, for a record that has its account again, and
    every decision of it was refused ("already linked") until the school's next run."""
    for case in txn.cases(str(acc.link_school), "open"):
        rec = case.record
        if case.report == acc.link_report and rec.get("mis_id") == acc.mis_id:
            withdraw_case(txn, case, operator, at, why)


def withdraw_case(
    txn: Transaction, case: MatchCase, operator: str, at: str, why: str, run_id: str | None = None
) -> None:
    """Closes an open case as withdrawn (no decision of an operator's), audited with `why`."""
    before = {"status": case.status}
    case.status, case.decision = "resolved", "withdrawn"
    case.decided_by, case.decided_at = operator, at
    txn.put_case(case)
    after = {"status": "resolved", "why": why}
    txn.audit(event(txn, at, case.school, "case_withdrawn", case.case_id, before, after, run_id))


def _left_since(store: Store, was: Account, decided_at: str) -> str | None:
    """The run of the school an account was matched away from, since the match, whose export no
    longer held the account's record there (None: no such run, or not one that unallocates its
    leavers): a match undone then gives the account back unallocated, as that run would have
    left it, not active at a school its person has left."""
    if not (was.linked and was.school == was.link_school and was.status == "active"):
        return None
    for run in store.runs(was.school, limit=RUNS_LOOKED_AT):
        if run.dry_run or was.link_report not in run.reports:
            continue
        if run.status in ("failed", "cancelled", "running"):
            continue  # no export of its own: the one before it is the latest
        if (run.started_at or "") <= decided_at or run.status != "succeeded" or run.incomplete:
            return None  # the latest run is older than the match, or did not unallocate
        present = export_ids(store, run.run_id, str(was.link_report))
        return run.run_id if present is not None and was.mis_id not in present else None
    return None


def _linked_to(
    txn: Transaction, dfe: str, report: str | None, mis_id: str | None, other_than: str = ""
) -> Account | None:
    """The account of the school linked to its record (`report`, `mis_id`), other than the
    account `other_than`, if any."""
    if not mis_id:
        return None
    for acc in txn.school_accounts(dfe):
        if (
            acc.username != other_than
            and acc.mis_id == mis_id
            and acc.link_school == dfe
            and acc.link_report == report
        ):
            return acc
    return None


def _own_link(store: Store, username: str) -> str | None:
    """The link an unallocated account keeps in previous_link that is its own record's: set by
    a restore (restored, unallocated, restored again: the second restore dropped it, and the
    account linked by itself to a new MIS id with its details), or by an unallocation as a
    duplicate. None for one set otherwise (a release: the record was another person's, also
    when an undone match put it back) or unknown."""
    acc = store.find_account(username)
    if acc is None or acc.mis_id or not acc.previous_link or not acc.previous_school:
        return None
    # the newest event that set it and still stands (an undo takes back the event before it:
    # a match undone put back the link the unallocation before it set): a restore's, or a
    # duplicate's unallocation; not a release's
    ev = first_standing(
        store.audit(acc.previous_school, subject=username),
        lambda ev: ev.action,
        lambda ev: "previous_link" in (ev.after or {}),
        lambda ev: (ev.after or {}).get(UNDOES, 1),
    )
    if ev is None:
        return None
    after = ev.after or {}
    own = ev.action == "restore" or (ev.action == "unallocate" and after.get("duplicate_of"))
    return acc.previous_link if own and after["previous_link"] == acc.previous_link else None


def restore_account(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    """Active again at its previous school as a non-MIS account: its link is dropped, so the next
    run does not unallocate it again; it relinks automatically if its record returns."""
    require(store, operator, "restore")
    at = iso(now)
    kept_link = _own_link(store, username)
    with store.transaction(operator) as txn:
        acc = txn.account(username)
        if acc.status != "unallocated":
            raise InvalidInput(
                f"{username} is not unallocated (it is {acc.status} at {acc.school})"
            )
        if not restorable(acc):
            raise InvalidInput(
                f"{username} was created by mistake and undone ({creation_undone_by(acc)}):"
                " it is not restored"
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
            # (one restored before, or unallocated as a duplicate, keeps its own record's
            # link, unless changed since it was read)
            previous_link=(
                f"{acc.link_school}/{acc.link_report}/{acc.mis_id}"
                if acc.mis_id
                else (kept_link if kept_link == acc.previous_link else None)
            ),
            unallocated_at=None,
            unallocated_by_run=None,
            reviewed=False,
        )
        put_changed(txn, acc, after, "restore", at, school)
    return after


def accounts_for_exclusion(
    store: Store, dfe: str, forename: str, surname: str, dob: str | None
) -> list[Account]:
    """The school's active accounts an exclusion of these names (and date of birth) names."""
    return exclusion_hits(store.school_accounts(dfe), dfe, forename, surname, dob)


def probable_holders(
    store: Store, case: MatchCase, besides: list[Account]
) -> list[tuple[Account, int]]:
    """The active accounts of the case's school that its candidates score CREATE_GUARD% or more
    (probably the record's person, under names keyed otherwise: an exclusion of the record's
    names does not name them), other than `besides`, each with its score: excluding the record
    leaves them as they are."""
    named = {acc.username for acc in besides}
    out = []
    waiting: list[MatchCase] | None = None  # the school's open cases, read once if needed
    for cand in case.candidates:
        if alone_score(cand) < CREATE_GUARD or cand.get("username") in named:
            continue
        if cand.get("score", 0) < CREATE_GUARD:  # shared (a twin's case open too?)
            if waiting is None:
                waiting = store.cases(case.school, "open")
            if contested_by(cand, waiting, case.record.get("mis_id")):
                continue  # another open case's record may be its person: not "probably"
        acc = store.find_account(cand["username"])
        if acc is None or acc.status != "active" or acc.school != case.school:
            continue
        rec_id = case.record.get("mis_id")
        if (
            acc.mis_id is not None
            and acc.mis_id != rec_id
            and acc.link_school == case.school
            and acc.mis_id in (latest_export_ids(store, case.school, acc.link_report or "") or ())
        ):
            continue  # linked since to another record the school still sends: another person's
        out.append((acc, alone_score(cand)))
    return out


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
    require(store, operator, "review")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        after = dataclasses.replace(acc, reviewed=True)
        put_changed(txn, acc, after, "review", at, acc.school)
    return after


def unallocate_account(store: Store, username: str, *, operator: str, now: datetime) -> Account:
    require(store, operator, "unallocate")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        after = unallocated(dataclasses.replace(acc), acc.school)  # type: ignore[arg-type]
        after.unallocated_at = at
        put_changed(txn, acc, after, "unallocate", at, acc.school)
    return after


def _unmatched_record(
    store: Store, txn: Transaction, dfe: str, report: str, mis_id: str
) -> tuple[MisRecord, MatchCase | None]:
    for case in txn.cases(dfe, "open"):
        if case.report == report and case.record.get("mis_id") == mis_id:
            return case.mis_record(), case
    for pf in store.processed_files(dfe)[:1]:
        for row in pf.records:
            record = row["record"]
            if record.get("report") == report and record.get("mis_id") == mis_id:
                return MisRecord.from_dict(record), None
    raise InvalidInput(f"no record {mis_id} in {dfe}'s last {report} export")


# What a record shown for linking rests on: one that differs in any since is no longer the
# record the operator confirmed (its MIS id given to another person by a run meanwhile).
SHOWN_RECORD_FIELDS = ("forename", "surname", "preferred_name", "middle_names", "dob", "upn")


def link_account(
    store: Store,
    username: str,
    dfe: str,
    report: str,
    mis_id: str,
    *,
    operator: str,
    now: datetime,
    shown: dict[str, Any] | None = None,
) -> Account:
    """Links a non-MIS account to a record of the school's export that has no account.
    `shown`: the record as the operator saw it (refused if it differs now)."""
    require(store, operator, "link")
    at = iso(now)
    with store.transaction(operator) as txn:
        acc = _non_mis(txn, username)
        if ROLE_OF_REPORT.get(report) != acc.role:
            raise InvalidInput(f"{username} is a {acc.role} account; {report} holds other roles")
        taken = _linked_to(txn, dfe, report, mis_id)
        if taken is not None:
            raise InvalidInput(f"MIS record {mis_id} is already linked to {taken.username}")
        rec, case = _unmatched_record(store, txn, dfe, report, mis_id)
        now_is = rec.to_dict()
        if shown is not None and any(
            (shown.get(f) or None) != (now_is.get(f) or None) for f in SHOWN_RECORD_FIELDS
        ):
            raise InvalidInput(
                f"{username} stays as it is: MIS record {mis_id} changed since the list was "
                f"read (now {rec.forename} {rec.surname}, {rec.dob or 'no date of birth'}): "
                "read the list again and check the record"
            )
        after, action = link_to_record(acc, rec, dfe)
        put_changed(txn, acc, after, action, at, dfe)
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
    from uso_tui.config import iris_bounds  # noqa: PLC0415

    # the bounds config.json sets, as for a run (a test waited 120 s where 4 s was set)
    bounds = iris_bounds(store.root)
    async with IrisClient(allowed_hosts=store.allowed_mis_hosts(), bounds=bounds) as own:
        return await own.test_connection(school, secret)
