"""The planner: every decision of DESIGN section 3 for one report of one school. Pure: it reads a
snapshot of the store and an export, and returns a Plan; it writes nothing (a dry run is a plan
printed). Timestamps, usernames and case ids are given when the plan is applied."""

from __future__ import annotations

import dataclasses
import heapq
import operator
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from uso_tui.domain.collector import gc_paused
from uso_tui.domain.dates import days_between
from uso_tui.domain.models import (
    Account,
    Candidate,
    Exclusion,
    Export,
    MatchCase,
    MisRecord,
    School,
    alone_score,
    empty_counts,
    some_ids,
)
from uso_tui.domain.names import (
    BLANK_LETTERS,
    filler_upn,
    gender_key,
    normalise_cached,
    permanent_upn,
    upn_key,
)
from uso_tui.domain.schools import ROLE_OF_REPORT
from uso_tui.sync.asked_for import AskedFor
from uso_tui.sync.auto_link import (
    OLDEST_DOB,
    Claims,
    auto_link_target,
    conflict,
    name_keys,
    surname_close,
)
from uso_tui.sync.compare import compare
from uso_tui.sync.dob_slips import date_slips
from uso_tui.sync.evidence import (
    Person,
    account_field,
    dob_level,
    forename_level,
    person_of_account,
    person_of_record,
    upn_level,
)
from uso_tui.sync.fingerprints import fingerprint, record_row
from uso_tui.sync.match_model import (
    ESTIMATED_YEARS,
    NEAR_DAYS,
    PLAUSIBLE_AGES,
    REQUEST_GUARD,
    UPN_CROWD,
    YEARS_APART,
    percent,
    placeholder_dob,
    prior_bits,
)
from uso_tui.sync.matching import CandidateIndex
from uso_tui.sync.plan_types import (
    AUTO_LINKED,
    CREATED,
    EXCLUDED,
    FUTURE,
    HELD,
    INVALID,
    LEAVER,
    NEEDS_MATCHING,
    RESTORED,
    UNCHANGED,
    UPDATED,
    AccountChange,
    CaseChange,
    NewCase,
    Plan,
    RecordOutcome,
    Snapshot,
)


def _invalid_reason(rec: MisRecord, today: str, dup: Counter[str]) -> str | None:
    forename, surname, dob = rec.forename, rec.surname, rec.dob
    if (  # the common case, quickly: everything there, names starting with a letter
        forename
        and surname
        and dob
        and OLDEST_DOB <= dob <= today
        and forename[0].isalpha()
        and surname[0].isalpha()
        and forename[0] not in BLANK_LETTERS
        and surname[0] not in BLANK_LETTERS
        and rec.mis_id
        and dup[rec.mis_id] == 1
        and rec.leaving_raw is None
        and rec.unreadable is None
    ):
        return None
    if not rec.mis_id:
        return "no MIS id"
    if dup[rec.mis_id] > 1:
        return f"MIS id {rec.mis_id} appears {dup[rec.mis_id]} times in the export"
    if rec.unreadable is not None:
        return f"unreadable {rec.unreadable}"
    missing = [
        label
        for label, value in (("forename", rec.forename), ("surname", rec.surname))
        if not (value or "").strip()
    ]
    if rec.dob is None and rec.dob_raw is None:
        missing.append("date of birth")
    if missing:
        return "missing " + ", ".join(missing)
    if rec.dob is None:
        return f"impossible date of birth {rec.dob_raw!r}"
    if rec.dob > today or rec.dob < OLDEST_DOB:
        return f"impossible date of birth {rec.dob}"
    for label, value in (("forename", rec.forename), ("surname", rec.surname)):
        if not normalise_cached(value):  # (letters blank on screen are none: Hangul fillers)
            return f"{label} {value!r} contains no letters"
    if rec.leaving_raw is not None:
        # (taken as no leaving date, a leaver's account was restored, nothing said)
        return f"unreadable leaving date {rec.leaving_raw!r}"
    return None


def _id_key(mis_id: str) -> str:
    """An MIS id as compared across a change of its format: leading zeros and case dropped."""
    return mis_id.strip().lstrip("0").casefold() or "0"


def _ids_as_linked(
    export: Export,
    linked: dict[str, dict[str, Any]],
    cases_by_id: dict[str | None, MatchCase],
    same_person: Callable[[MisRecord, dict[str, Any]], bool],
) -> tuple[Export, dict[str, str]]:
    """The export with each record whose MIS id is a linked account's in another format (007
    sent as 7, ab12 as AB12: the MIS's export changed), that account's own id absent, read under
    the account's id: its account is still its (it was unallocated as a leaver, a case opened
    with it at 100%, and a school re-padded whole was held whole, every record "new"), unless
    the record is plainly another person than the account (`same_person`: a new child given 7
    while 007's leaver is gone is a new record, as it was). Also returns the ids so read (the
    account's id -> the id sent), for _relink_renamed."""
    loose = [
        r
        for r in export.records
        if r.mis_id and r.mis_id not in linked and r.mis_id not in cases_by_id
    ]
    if not loose or not linked:
        return export, {}
    sent = {r.mis_id for r in export.records} | export.same.keys()
    by_key: dict[str, list[str]] = {}
    for mis_id in linked:
        if mis_id not in sent:
            by_key.setdefault(_id_key(mis_id), []).append(mis_id)
    if not by_key:
        return export, {}
    sent_keys = Counter(_id_key(mis_id) for mis_id in sent)
    renamed: dict[str, str] = {}
    for rec in loose:
        key = _id_key(rec.mis_id)
        olds = by_key.get(key, ())
        # one each way: no doubt which it is
        if len(olds) == 1 and sent_keys[key] == 1 and same_person(rec, linked[olds[0]]):
            renamed[rec.mis_id] = olds[0]
    if not renamed:
        return export, {}
    records = [
        dataclasses.replace(r, mis_id=renamed[r.mis_id]) if r.mis_id in renamed else r
        for r in export.records
    ]
    return dataclasses.replace(export, records=records), {old: new for new, old in renamed.items()}


def _relink_renamed(
    planned: Plan, renamed: dict[str, str], linked: dict[str, dict[str, Any]]
) -> None:
    """The accounts whose record was read under their id (_ids_as_linked: `renamed`, the
    account's id -> the id sent) take the id as sent now: the next run finds them by it (and
    its sieve knows them again: a school re-padded whole was otherwise parsed whole every day)."""
    if not renamed:
        return
    done: set[str] = set()
    for change in planned.changes:  # an update or a restore of the account: with the new id
        after = change.after
        if after.mis_id in renamed and (after.link_school, after.link_report) == (
            planned.school,
            planned.report,
        ):
            done.add(after.mis_id)
            after.mis_id = renamed[after.mis_id]
    counts = planned.counts
    for at, outcome in enumerate(planned.outcomes):
        old = outcome.record.mis_id
        if old not in renamed or old in done or outcome.outcome != UNCHANGED:
            continue
        account = Account.from_row(linked[old])
        said = f"MIS id {old} now sent as {renamed[old]}"
        planned.changes.append(
            AccountChange(
                "update", account, dataclasses.replace(account, mis_id=renamed[old]), said
            )
        )
        planned.outcomes[at] = RecordOutcome(outcome.record, UPDATED, said, outcome.username)
        counts[UNCHANGED] -= 1
        counts[UPDATED] += 1


def excluded(rec: MisRecord, exclusions: list[Exclusion]) -> Exclusion | None:
    """The entry the record is on (DESIGN rule 4): its own forename, not a preferred name,
    which a twin may share with the excluded person."""
    fname, sname = normalise_cached(rec.forename), normalise_cached(rec.surname)
    for ex in exclusions:
        if normalise_cached(ex.surname) != sname or normalise_cached(ex.forename) != fname:
            continue
        if ex.dob and ex.dob != rec.dob:
            continue
        return ex
    return None


_EXTRA_KEYS = (
    "gender",
    "year_group",
    "form_group",
    "upn",
    "title",
    "initials",
    "person_guid",
    "enrolment_date",
    "system_status",
    "is_teaching",
)
_extra_of = operator.attrgetter(*_EXTRA_KEYS)


def _holds(row: dict[str, Any], rec: MisRecord) -> bool:
    """Does the account's row already hold what the record says (held_fields), as on most days
    for most records? Answered without building the fields. (forename, surname and dob have no
    default: always in a row.)"""
    if (
        row["forename"] != (rec.forename or "")
        or row["surname"] != (rec.surname or "")
        or row["dob"] != rec.dob
        or row.get("preferred_name", "") != (rec.preferred_name or "")
        or row.get("middle_names", "") != (rec.middle_names or "")
        or row.get("email", "") != (rec.email or "")
    ):
        return False
    extra = row.get("extra") or {}
    # extra holds exactly the record's other fields that are not None (compared in C: this
    # runs for nearly every record of every school every day)
    values = _extra_of(rec)
    return tuple(map(extra.get, _EXTRA_KEYS)) == values and len(extra) == len(
        values
    ) - values.count(None)


# Fields an MIS record holds for its account, besides the school and link.
def held_fields(rec: MisRecord) -> dict[str, Any]:
    extra = {k: v for k in _EXTRA_KEYS if (v := getattr(rec, k)) is not None}
    return {
        "forename": rec.forename or "",
        "surname": rec.surname or "",
        "preferred_name": rec.preferred_name or "",
        "middle_names": rec.middle_names or "",
        "dob": rec.dob,
        "email": rec.email or "",
        "extra": extra,
    }


def account_from_record(rec: MisRecord, school: str, username: str) -> Account:
    """A new account for a record (creation), linked to it."""
    return Account(
        username=username,
        role=rec.role,
        school=school,
        status="active",
        source="mis",
        mis_id=rec.mis_id,
        link_school=school,
        link_report=rec.report,
        **held_fields(rec),
    )


def _changed_fields(acc: Account, held: dict[str, Any]) -> list[str]:
    return [k for k, v in held.items() if getattr(acc, k) != v]


def plan(
    export: Export, snapshot: Snapshot, today: date, settings: School, *, accept: bool = False
) -> Plan:
    """Every decision for one report (DESIGN section 3). `accept`: an operator confirmed this
    export (a run held whole by the comparison): nothing is held, not even unallocations."""
    # A plan builds hundreds of thousands of objects (its LA's candidate index, its rows):
    # collections walking them again and again took a third of a one-school plan.
    with gc_paused():
        return _plan(export, snapshot, today, settings, accept)


def _plan(export: Export, snapshot: Snapshot, today: date, settings: School, accept: bool) -> Plan:
    dfe = snapshot.school
    report = export.report
    role = ROLE_OF_REPORT[report]
    today_s = today.isoformat()
    planned = Plan(school=dfe, report=report, role=role, today=today_s)
    counts = planned.counts
    counts["fetched"] = export.size
    # (a record recognised unchanged has no leaving date: sync.fingerprints)
    left = [r for r in export.records if r.leaving_date and r.leaving_date <= today_s]
    planned.on_roll = export.size - len(left)

    linked: dict[str, dict[str, Any]] = {}  # MIS id -> its account's row
    unlinked_here: dict[tuple[str, str], list[Account]] = {}  # (surname, dob) -> accounts
    for row in snapshot.account_rows():
        mis_id = row.get("mis_id")
        if mis_id is not None:
            if row.get("link_school") == dfe and row.get("link_report") == report:
                linked[mis_id] = row
        elif (
            row.get("school") == dfe
            and row.get("status", "active") == "active"
            and row["role"] == role
            and row["dob"]
        ):
            account = Account.from_row(row)
            unlinked_here.setdefault((normalise_cached(account.surname), account.dob), []).append(
                account
            )
    cases_by_id = {c.record.get("mis_id"): c for c in snapshot.open_cases if c.report == report}
    upn_holders = _UpnHolders(snapshot.account_rows, export.records)
    export, renamed = _ids_as_linked(
        export,
        linked,
        cases_by_id,
        lambda rec, row: not _another_person(rec, Account.from_row(row), upn_holders, today_s),
    )
    planned.not_started = _not_started(export, linked, today_s)

    upn_holders.records = export.records  # (as the ids were read: _ids_as_linked)
    dup = Counter(r.mis_id for r in export.records)
    dup.update(export.same.keys())
    present: set[str] = set()
    records = _unparsed(planned, export, linked, cases_by_id, dup, present, today_s)
    horizon = (today + timedelta(days=max(0, settings.create_before_start_days))).isoformat()
    index: CandidateIndex | None = snapshot.index
    pending: list[MisRecord] = []  # unlinked records, settled below
    # accounts whose record now names another person: their person may be a record of the
    # export under another id (an id keyed again), so they stay candidates
    listed_other: set[str] = set()
    waiting: list[tuple[MatchCase, MisRecord]] = []  # records with an open case
    # MIS ids of accounts a record rejected as theirs names (-> that record's outcome's index)
    named: dict[str, int] = {}

    def out(rec: MisRecord, outcome: str, reason: str, username: str | None = None) -> None:
        planned.outcomes.append(RecordOutcome(rec, outcome, reason, username))
        if outcome in counts:
            counts[outcome] += 1

    def withdraw(mis_id: str, decision: str, reason: str) -> None:
        case = cases_by_id.pop(mis_id, None)
        if case is not None:
            planned.case_changes.append(CaseChange(case, decision, reason))

    invalid: set[str] = set()  # (an invalid record changes nothing: no change to compare)
    for rec in records:
        reason = _invalid_reason(rec, today_s, dup)
        if reason:
            if rec.mis_id:
                present.add(rec.mis_id)  # an invalid record never unallocates its account
                invalid.add(rec.mis_id)
            acc = linked.get(rec.mis_id)
            out(
                rec,
                INVALID,
                reason + ("; its account is left untouched" if acc else ""),
                acc["username"] if acc else None,
            )
            continue
        if rec.leaving_date and rec.leaving_date <= today_s:
            withdraw(rec.mis_id, "withdrawn", f"left on {rec.leaving_date}")
            acc = linked.get(rec.mis_id)
            out(
                rec,
                LEAVER,
                f"leaving date {rec.leaving_date}",
                acc["username"] if acc else None,
            )
            continue
        present.add(rec.mis_id)
        acc = linked.get(rec.mis_id)
        if acc is not None:
            if rec.mis_id in cases_by_id:
                withdraw(rec.mis_id, "withdrawn", f"linked to {acc['username']}")
            if _linked(planned, rec, acc, dfe, upn_holders, horizon):
                listed_other.add(acc["username"])
                theirs = _named_account(rec, acc["username"], linked, upn_holders)
                if theirs is not None:
                    named[theirs] = len(planned.outcomes) - 1
            continue
        # (excluded before future: a starter on the list is never given an account, and the
        # calendar and `why` listed one as coming)
        ex = excluded(rec, snapshot.exclusions)
        if ex is not None:
            withdraw(rec.mis_id, "withdrawn", "on the exclusion list")
            out(rec, EXCLUDED, f"on the exclusion list (entry {ex.id})")
            continue
        if rec.enrolment_date and rec.enrolment_date > horizon:
            out(rec, FUTURE, f"starts on {rec.enrolment_date}")
            continue
        case = cases_by_id.get(rec.mis_id)
        if case is not None:
            waiting.append((case, rec))  # settled once every record present is known
            continue
        pending.append(rec)

    _keep_named(planned, named, present, linked)
    # An account linked to another record of this export, or joining one in this plan, is that
    # other person: never a candidate (DESIGN rule 6).
    taken = {linked[m]["username"] for m in present if m in linked} - listed_other
    # The records that join an unlinked account of the school by themselves (DESIGN rule 6).
    claims = Claims(export, linked, unlinked_here, today_s)
    targets: dict[str, Account] = {}

    def aim(rec: MisRecord) -> None:
        target = auto_link_target(rec, unlinked_here, claims, dfe)
        if target is not None:
            targets[rec.mis_id] = target
            taken.add(target.username)

    for rec in pending:
        aim(rec)
    recent = _Recent(unlinked_here)
    stale: list[tuple[MatchCase, MisRecord, bool]] = []  # cases whose candidates are sought again
    for case, rec in waiting:
        names = [c.get("username") for c in case.candidates]
        if names and all(name in taken for name in names):
            # Each candidate has been matched to another record since (a twin's case decided):
            # nothing is left for a person to choose, so the record is planned afresh.
            withdraw(rec.mis_id, "withdrawn", "every candidate is another record's account now")
            pending.append(rec)
            aim(rec)
            continue
        # (as records: a field added since the case was stored is its default there)
        changed = MisRecord.from_dict(case.record) != rec
        # Candidates are as the run that opened (or last refreshed) the case found them: sought
        # again when the record changed (their evidence was weighed against the old one), when one has become
        # another record's account, or when an account resembling the record was made or
        # restored at the school since (an account requested for the person while the case
        # waited: else the operator could pick it only by forcing a match).
        since = max(case.opened_at, case.refreshed_at or "")  # when they were last sought
        if changed or taken.intersection(names) or recent.resembling_since(rec, since):
            stale.append((case, rec, changed))
        out(rec, NEEDS_MATCHING, f"waiting in case {case.case_id}")

    if not accept:
        comparison = compare(
            report,
            [
                r
                for r in linked.values()
                if r.get("status", "active") == "active" and r["school"] == dfe
            ],
            {r.mis_id: r for r in export.records},
            dup.keys(),
            settings,
            _sizes(snapshot, export, linked, left, planned.not_started),
            arrived=len(pending),
            invalid=invalid,
            held_before=snapshot.previous.held.get(report, frozenset()),
            leaving={r.mis_id for r in left},
            arriving={r.mis_id for r in pending},
        )
        if comparison is not None:
            going = [
                Account.from_row(r)
                for m, r in linked.items()
                if m not in present and r.get("status", "active") == "active" and r["school"] == dfe
            ]
            for rec in pending:  # not yet given an outcome
                planned.outcomes.append(RecordOutcome(rec, NEEDS_MATCHING, ""))
            short = _short_of(export)
            if short:  # said first: confirming applies the rest and unallocates no one
                comparison = {**comparison, "reason": f"{short}; {comparison['reason']}"}
            _hold_whole(planned, comparison, export.size, going)
            planned.incomplete = short
            return planned

    searching: list[MisRecord] = [rec for rec in pending if rec.mis_id not in targets]
    linking = [rec for rec in pending if rec.mis_id in targets]
    elsewhere: dict[str, list[Any]] = {}
    # (a record about to link to an account asked for is looked for elsewhere too: the LA's
    # index and the store-wide look, shared per LA in a daily run, cost one school's run alone
    # a read of its LA; such records are few)
    if searching or stale or linking:
        if index is None:
            if snapshot.index_for is not None:
                index = snapshot.index_for(role)
            else:
                pool = (
                    snapshot.pool(role)
                    if snapshot.pool
                    else [a for a in snapshot.all_accounts() if a.role == role]
                )
                index = CandidateIndex(pool)
        index.set_as_of(today_s)
        elsewhere = found_elsewhere(
            snapshot.wide, role, searching + linking + [rec for _, rec, _ in stale], index
        )
        planned.elsewhere_seen = frozenset(
            account.username for hits in elsewhere.values() for account in hits
        )
        planned.placeholder_upns = frozenset(index.placeholder_upns)
    for rec in linking:
        target = targets[rec.mis_id]
        assert index is not None
        mover = index.held_elsewhere(rec, dfe, elsewhere.get(rec.mis_id, ()))
        if mover is None and not _probable_elsewhere(
            index, rec, dfe, taken, elsewhere.get(rec.mis_id, ()), snapshot.restorable
        ):
            _auto_link(planned, rec, target, dfe)
        else:
            # the person has an account at another school: a mover, whom an operator matches
            # (to it, or to the account asked for here), never linked automatically
            taken.discard(target.username)
            searching.append(rec)
    asked = AskedFor(unlinked_here, dfe, claims)  # (not `waiting`: the open cases' list above)
    made: dict[tuple[str, str, str], list[MisRecord]] = {}  # the records created, by names, date
    for rec in searching:
        planned.candidates_searched += 1
        assert index is not None
        cands = index.candidates(
            rec, dfe, exclude=taken, extra=elsewhere.get(rec.mis_id, ()), keep=asked.of(rec)
        )
        if cands:
            planned.new_cases.append(NewCase(rec, cands))
            movers = [
                c
                for c in cands
                if c.school
                and c.school != dfe
                and not {"forename", "surname", "dob"} & set(c.differs)
            ]
            why = (
                f"same details at {movers[0].school}: a mover, decided by an operator"
                if movers
                else _resembles(cands)
            )
            out(rec, NEEDS_MATCHING, why)
        else:
            planned.creates.append(rec)
            said = _upn_also(rec, index, elsewhere, taken, linked) + _keyed_twice(rec, made)
            out(rec, CREATED, "new: no similar account" + said)

    refreshed = _refresh_cases(planned, stale, index, dfe, taken, elsewhere, asked)
    contested = [(nc.record, nc.candidates) for nc in planned.new_cases] + refreshed
    # the open cases left as they are share a candidate too (a twin's case of yesterday): weighed
    # again from their candidates alone, refreshed if that changes what they say
    # (not one this plan changes otherwise: refreshed, cleared, withdrawn, its record changed)
    settled = {cc.case.record.get("mis_id") for cc in planned.case_changes}
    sharing = _sharing(contested, waiting, cases_by_id, settled)
    contested += [(rec, cands) for _, rec, cands in sharing]
    if contested and _contested(contested, len(index.accounts) if index is not None else 0):
        # a shared score, or another best since: each new case's outcome says it as shown
        said = {id(nc.record): nc.candidates for nc in planned.new_cases}
        for outcome in planned.outcomes:
            cands = said.get(id(outcome.record))
            if cands and outcome.reason.startswith(_RESEMBLES):
                outcome.reason = _resembles(cands)
    for case, rec, cands in sharing:  # (a share undone too: the other's case decided since)
        if [_said(c) for c in cands] != [_said(Candidate.from_dict(c)) for c in case.candidates]:
            why = "another record of this export may be a candidate's person, or no longer"
            planned.case_changes.append(CaseChange(case, None, why, rec, cands, sought=False))
    _why_not_linked(planned.new_cases, unlinked_here, claims)
    # Open cases whose record is gone from this complete export.
    for mis_id in list(cases_by_id):
        if mis_id not in present:
            withdraw(mis_id, "withdrawn", "record no longer in the export")

    _leavers(
        planned,
        linked,
        present,
        dfe,
        settings,
        empty=not export.size,
        hold=not accept,
        short=_short_of(export),
        clashed=export.clashed_ids,
        copies=export.copied_ids,
    )
    _relink_renamed(planned, renamed, linked)
    if export.raw is not None:
        _fingerprints(planned, export)
    return planned


def _refresh_cases(
    planned: Plan,
    stale: list[tuple[MatchCase, MisRecord, bool]],
    index: CandidateIndex | None,
    dfe: str,
    taken: set[str],
    elsewhere: dict[str, list[Any]],
    waiting: AskedFor,
) -> list[tuple[MisRecord, list[Candidate]]]:
    """The open cases of `stale` ((case, record now, record changed)) with their candidates
    sought again as a new record's would be: a case whose ranked candidates differ is
    refreshed with them. One whose search finds none keeps those it had (an operator still
    decides it), unless its record is now another person's (_given_to_another): then it has
    none. Returns each record with its new candidates."""
    out: list[tuple[MisRecord, list[Candidate]]] = []
    for case, rec, changed in stale:
        assert index is not None
        planned.candidates_searched += 1
        cands = index.candidates(
            rec, dfe, exclude=taken, extra=elsewhere.get(rec.mis_id, ()), keep=waiting.of(rec)
        )
        before = [(c.get("username"), alone_score(c)) for c in case.candidates]
        if cands and (changed or [(c.username, c.score) for c in cands] != before):
            was = {name for name, _ in before}
            added = [c.username for c in cands if c.username not in was]
            reason = (
                "record changed in the MIS"
                if changed
                else "new candidate(s): " + ", ".join(added)
                if added
                else "candidates ranked again"
            )
            planned.case_changes.append(CaseChange(case, None, reason, rec, cands))
            out.append((rec, cands))
        elif changed and _given_to_another(
            MisRecord.from_dict(case.record), rec, planned.role, planned.today
        ):
            # its MIS id given to another person, whom no account fits (sought in the LA, asked
            # for, and store wide): the candidates weighed against the record as it was are no
            # one's to offer (the old 99% one was matched to the other without a question)
            why = "record changed in the MIS to another person: no account fits them"
            planned.case_changes.append(CaseChange(case, None, why, rec, []))
        elif changed:  # (a year group or UPN changed may lower a true candidate's score)
            # kept as they were weighed alone: a share of one is weighed again with the others
            # (not one linked to another record meanwhile: it is that person's)
            kept = [c for c in _as_alone(case) if c.username not in taken]
            planned.case_changes.append(
                CaseChange(case, None, "record changed in the MIS", rec, kept, sought=False)
            )
            out.append((rec, kept))
    return out


def _given_to_another(was: MisRecord, rec: MisRecord, role: str, today: str) -> bool:
    """Whether a case's record is now another person than the one its candidates were weighed
    against, as _apart says of a linked record's names and date: all three of forename,
    surname and date of birth wholly different, or two with the date among them (a date weeks
    out is one mistyped, a placeholder says nothing; both names changed on the same date stay
    an update: a marriage, an adoption, names keyed the wrong way round)."""
    _, _, differ = _levels_apart(person_of_record(rec), person_of_record(was), role, today)
    return len(differ) == 3 or (len(differ) == 2 and set(differ) != {"forename", "surname"})


def _levels_apart(
    person: Person, before: Person, role: str, today: str | None
) -> tuple[str, str, list[str]]:
    """A record against the person it named before: the forename's level, the date of birth's
    ("" for a placeholder or a date no one of the role has: it says nothing; "near" for one
    weeks out: mistyped, no sibling is born that close but a twin), and which of forename,
    surname and date of birth are wholly different."""
    forename = forename_level(person, before)
    dob = dob_level(person.dob or "", before.dob or "")
    if any(_no_birthday(d, role, today) for d in (person.dob, before.dob)):
        dob = ""
    elif (
        dob == "different"
        and (days := days_between(person.dob, before.dob)) is not None
        and days <= NEAR_DAYS
    ):
        dob = "near"
    differ = [
        name
        for name, apart in (
            ("forename", forename == "different"),
            ("surname", not surname_close(person.skey, before.skey)),
            ("date of birth", dob == "different"),
        )
        if apart
    ]
    return forename, dob, differ


class _Recent:
    """The school's unlinked accounts by when they last changed, to tell whether one that
    resembles a record (its date of birth, or its surname or forename) was made or restored
    after a given time."""

    def __init__(self, unlinked_here: dict[tuple[str, str], list[Account]]) -> None:
        self.accounts = [
            (acc.last_event_at or acc.created_at or "", acc)
            for accounts in unlinked_here.values()
            for acc in accounts
        ]
        self.latest = max((at for at, _ in self.accounts), default="")

    def resembling_since(self, rec: MisRecord, since: str) -> bool:
        if self.latest <= since:  # the common case: nothing at the school changed since
            return False
        surname, forenames = (
            normalise_cached(rec.surname),
            name_keys(rec.forename, rec.preferred_name),
        )
        return any(
            at > since
            and (
                acc.dob == rec.dob
                or normalise_cached(acc.surname) == surname
                or bool(name_keys(acc.forename, acc.preferred_name) & forenames)
            )
            for at, acc in self.accounts
        )


def _why_not_linked(
    cases: list[NewCase], unlinked_here: dict[tuple[str, str], list[Account]], claims: Claims
) -> None:
    """A candidate that is an unlinked account of the school, which another record of the export
    could be the person of too, names that record: the operator sees why the two were not linked
    automatically (that record may be invalid or a future starter, with no case of its own)."""
    here = {a.username: a for accounts in unlinked_here.values() for a in accounts}
    if not here:
        return
    # each account's claimants, and the first four of them, sorted once (an export of thousands
    # of one name has thousands of cases with the same few candidates)
    first: dict[str, tuple[list[str], frozenset[str]]] = {}
    for case in cases:
        for cand in case.candidates:
            acc = here.get(cand.username)
            if acc is None:
                continue
            got = first.get(acc.username)
            if got is None:
                every = claims.claimants(acc)
                got = first[acc.username] = (heapq.nsmallest(4, every), every)
            own = case.record.mis_id
            others = [m for m in got[0] if m != own][:3]
            count = len(got[1]) - (own in got[1])
            if not count:
                continue
            named = "; ".join(f"{claims.named.get(m, '?')}, record {m}" for m in others)
            more = f" and {count - 3} more" if count > 3 else ""
            cand.reasons.append(
                f"not linked automatically: {named}{more} of this export could be its person too"
            )


_RESEMBLES = "resembles "


def _resembles(cands: list[Candidate]) -> str:
    return f"{_RESEMBLES}{len(cands)} account(s), best {cands[0].username} ({cands[0].score}%)"


_SHARED_REASONS = ("also a candidate for ", "score shared with them: ")


def _sharing(
    contested: list[tuple[MisRecord, list[Candidate]]],
    waiting: list[tuple[MatchCase, MisRecord]],
    open_ids: dict[str, MatchCase],
    settled: set[str],
) -> list[tuple[MatchCase, MisRecord, list[Candidate]]]:
    """The open cases left as they are (of `waiting`, still open, not `settled`) with a
    candidate of `contested`, or one shared before (the case it was shared with may be decided
    since: its share is its own again): each with its candidates as weighed alone (what
    _contested said of them taken off), to be weighed with the others again."""
    wanted = {c.username for _, cands in contested for c in cands}
    out = []
    for case, rec in waiting:
        if rec.mis_id not in open_ids or rec.mis_id in settled:
            continue
        if not any(
            c.get("username") in wanted or c.get("alone") is not None for c in case.candidates
        ):
            continue
        out.append((case, rec, _as_alone(case)))
    return out


def _as_alone(case: MatchCase) -> list[Candidate]:
    """A case's stored candidates as weighed alone: what _contested said of a share taken off."""
    cands = [Candidate.from_dict(c) for c in case.candidates]
    for cand in cands:
        if cand.alone is not None:
            cand.score, cand.alone = cand.alone, None
        cand.reasons = [r for r in cand.reasons if not r.startswith(_SHARED_REASONS)]
    return cands


def _said(cand: Candidate) -> tuple:
    """What a candidate shows, its reasons in any order (_why_not_linked's follow the shared
    ones in a new case, precede them once weighed again)."""
    return cand.username, cand.score, tuple(sorted(cand.reasons))


def _contested(cases: list[tuple[MisRecord, list[Candidate]]], pool_size: int) -> bool:
    """A candidate of two or more of the cases this plan opens or refreshes (twins, one account
    requested for either) says so in each, and its score is shared among them: one account is
    one person's, so each record's odds are weighed against all of theirs (o / (1 + sum of o));
    computed from each score weighed alone (`shared`, before any is changed).
    Weighed alone, an account requested as "Sam Taylor" scored 99% for both Samuel and Samantha,
    true for one of the two: the other's operator read near-certainty, and was refused creating
    the other twin's account (CREATE_GUARD) until deciding the first. Whether any was."""
    wanted: dict[str, list[tuple[MisRecord, Candidate]]] = {}
    for record, candidates in cases:
        for cand in candidates:
            wanted.setdefault(cand.username, []).append((record, cand))
    shared = {
        username: sum(_odds(c, pool_size) for _, c in holders)
        for username, holders in wanted.items()
        if len(holders) > 1
    }
    for record, candidates in cases:
        for cand in candidates:
            holders = wanted[cand.username]  # this case's record among them, once
            if len(holders) > 1:
                # (in MIS id order: the same export names them alike in every run)
                ordered = sorted(holders, key=lambda h: str(h[0].mis_id))
                others = [r for r, _ in ordered[:4] if r is not record][:3]
                named = "; ".join(f"{r.forename} {r.surname}, record {r.mis_id}" for r in others)
                more = len(holders) - 1 - len(others)
                more_text = f" and {more} more" if more else ""
                cand.reasons.append(f"also a candidate for {named}{more_text} in this export")
                # (ranked still by its evidence alone: several records of one person, which
                # the MIS may hold, would otherwise rank strangers above its account)
                cand.alone = cand.score
                cand.score = percent(_odds(cand, pool_size) / (1 + shared[cand.username]))
                cand.reasons.append(
                    f"score shared with them: {cand.alone}% weighed alone, its rank"
                )
    return bool(shared)


def _odds(cand: Candidate, pool_size: int) -> float:
    """The odds a candidate's evidence gives, alone (its score is capped at 99); of one stored
    without them (an earlier uso-tui), from its evidence and a pool of `pool_size` (the plan's
    index: read whenever a case is opened or refreshed, as one must be for a share), kept."""
    if cand.logit is None:
        bits = sum(bits for *_, bits in cand.evidence) + prior_bits(pool_size)
        cand.logit = round(bits, 2)
    return 2.0 ** min(60.0, cand.logit)


def found_elsewhere(
    wide: Callable[..., list[Any]] | None,
    role: str,
    records: list[MisRecord],
    index: CandidateIndex,
) -> dict[str, list[Any]]:
    """Accounts anywhere in the store with a record's UPN, or its date of birth and its forename
    or its surname (movers from another local authority, also married, mistyped, or with the
    names keyed the wrong way round at one school), or its forename and surname and a slip of
    its date (dob_slips.date_slips: a mover whose date was keyed wrongly at either school), by
    the record's MIS id, `wide` being the store's find_people. A UPN the LA's `index` already
    holds as a dummy is not looked for."""
    if wide is None:
        return {}
    upns: set[str] = set()
    name_dobs: set[tuple[str, str, str]] = set()
    for record in records:
        upn = upn_key(record.upn)
        if upn and not index.is_placeholder_upn(upn):  # (a filler is one)
            upns.add(upn)
        if record.dob:
            names = name_keys(record.forename, record.preferred_name)
            surname = normalise_cached(record.surname)
            name_dobs.update((f, "", record.dob) for f in names)
            if surname:
                name_dobs.add(("", surname, record.dob))
                name_dobs.add((surname, "", record.dob))  # keyed the wrong way round
                slips = date_slips(record.dob)
                name_dobs.update((f, surname, d) for f in names for d in slips)
    if not upns and not name_dobs:
        return {}
    found = wide(role, upns, name_dobs)
    by_upn: dict[str, list[Any]] = {}
    by_surname: dict[str, list[Any]] = {}
    by_dob: dict[str, list[Any]] = {}
    for account in found:
        upn = account_field(account, "upn")
        if upn:
            by_upn.setdefault(upn_key(upn), []).append(account)
        if account.dob:
            by_dob.setdefault(account.dob, []).append(account)
            by_surname.setdefault(normalise_cached(account.surname), []).append(account)
    out: dict[str, list[Any]] = {}
    for record in records:
        upn = upn_key(record.upn)
        got = list(by_upn.get(upn, ())) if upn and not filler_upn(upn) else []
        if len(got) > UPN_CROWD:
            got = []  # a placeholder UPN, not this child's (match_model.UPN_CROWD)
            index.assume_placeholders({upn})
        names, surname = (
            name_keys(record.forename, record.preferred_name),
            normalise_cached(record.surname),
        )
        for account in by_dob.get(record.dob or "", ()):
            theirs = name_keys(account.forename, account.preferred_name)
            their_surname = normalise_cached(account.surname)
            if (
                theirs & names
                or (
                    their_surname == surname
                    and (role != "pupil" or _forenames_related(record, account))
                )
                or (surname in theirs and their_surname in names)  # the wrong way round
            ):
                got.append(account)
        if record.dob and surname:
            slips = date_slips(record.dob)
            got.extend(
                account
                for account in by_surname.get(surname, ())
                if account.dob in slips
                and name_keys(account.forename, account.preferred_name) & names
            )
        if got:
            out[record.mis_id] = got
    return out


def _probable_elsewhere(
    index: CandidateIndex,
    rec: MisRecord,
    dfe: str,
    taken: set[str],
    extra: Any,
    restorable: Callable[[list[str]], set[str]] | None = None,
) -> bool:
    """Whether an active account at another school is more likely than not the record's person
    (REQUEST_GUARD% or more: Smith-Jones keyed Smith, Al-Rashid keyed Rashid, a date with day and
    month swapped, a surname changed), or as likely the person as a twin (match_model.
    twin_near_bits: its score lowered only for that), though not of its very details: a mover
    too, whose account an operator matches rather than the one asked for here being linked by
    itself (two active accounts). So is an unallocated one of the record's very names and date
    of birth, or its UPN, that an operator may restore (`restorable`: which of some usernames;
    None: all): the person's old account, which was never shown beside the one asked for (not
    one a run made by mistake, undone: nobody's)."""
    cands = index.candidates(rec, dfe, exclude=taken, extra=extra)
    if any(
        c.status == "active"
        and c.school
        and c.school != dfe
        and (c.score >= REQUEST_GUARD or any(level == "twin_near" for _, level, _ in c.evidence))
        for c in cands
    ):
        return True
    gone = [
        c.username
        for c in cands
        if c.status != "active"
        and c.score >= REQUEST_GUARD
        and (
            not {"forename", "surname", "dob"} & set(c.differs)
            or any(f == "upn" and level == "equal" for f, level, _ in c.evidence)
        )
    ]
    return bool(gone) and (restorable is None or bool(restorable(gone)))


def _forenames_related(record: MisRecord, account: Any) -> bool:
    """A pupil's record and an account of the same surname and date of birth elsewhere in the
    store whose forenames are one person's (a known-as form, a middle name used, a slip): with
    wholly different forenames they are twins or strangers, not a mover (DESIGN: outside the
    local authority, the same UPN or the same names and date of birth)."""
    level = forename_level(person_of_record(record), person_of_account(account))
    return level != "different"


def _not_started(export: Export, linked: dict[str, dict[str, Any]], today: str) -> int:
    """The export's records not yet started (an enrolment date to come), leavers aside: parsed
    ones by their own date, those recognised unchanged by their account's."""
    count = sum(
        1
        for r in export.records
        if r.enrolment_date
        and r.enrolment_date > today
        and not (r.leaving_date and r.leaving_date <= today)
    )
    for mis_id in export.same:
        row = linked.get(mis_id)
        if row is not None and str((row.get("extra") or {}).get("enrolment_date") or "") > today:
            count += 1
    return count


def _sizes(
    snapshot: Snapshot,
    export: Export,
    linked: dict[str, dict[str, Any]],
    left: list[MisRecord],
    not_started: int,
) -> tuple[int, int] | None:
    """(records the export last taken as the school's sent, records this one sends), counting
    on both sides only the records on roll, where that run kept their number: there, those
    whose leaving date had not passed, less those not started (where it kept that number too).
    Here, a leaver (`left`: its leaving date passed) was on roll then, and counts, unless:
    - its account is not active (unallocated as a leaver), or its unallocation that run held
      (rule 8, not confirmed: counted here only, leavers sent again hid a real fall as large);
    - it had not started by that run (a place declined, dated as a leaver), by its account's
      start date where it has one;
    - no account here is linked to it (moved to its next school, or never made) and its
      leaving date had passed by that run's day, unless that export sent it on roll (its date
      keyed since, backdated: read from that run's processed file, where it is kept).
    A leaver whose account is still active was on roll then (also one whose leaving date was
    keyed late, a date before that run). Records not started (an intake sent early) count on
    neither side: else the leavers dropped as the intake starts were a fall. Leavers the MIS
    sends until its rollover drops them made a fall that held every export after it whole.
    `not_started`: this export's records not started yet (_not_started)."""
    report = export.report
    on_roll = snapshot.previous.on_roll.get(report)
    if on_roll is not None:
        held = snapshot.previous.held.get(report, frozenset())
        day = snapshot.previous.days.get(report)
        before_not_started = snapshot.previous.not_started.get(report)
        sent_then = _SentBefore(snapshot, report)
        gone = 0
        for rec in left:
            row = linked.get(rec.mis_id)
            # its start date as that run had it: its account's, where it has one
            start = (
                rec.enrolment_date
                if row is None
                else (row.get("extra") or {}).get("enrolment_date")
            )
            if before_not_started is not None and day and str(start or "") > day:
                gone += 1  # not started at that run, counted out then as now (a place declined)
            elif row is None:
                gone += day is None or (
                    (rec.leaving_date or "") <= day and not sent_then.on_roll(rec.mis_id, day)
                )
            elif row.get("status", "active") != "active" or row["username"] in held:
                gone += 1
        if before_not_started is None:  # (a run before it kept the number)
            return on_roll, export.size - gone
        return on_roll - before_not_started, export.size - gone - not_started
    before = snapshot.previous.sizes.get(report)
    return None if before is None else (before, export.size)


class _SentBefore:
    """The leaving dates the export before sent for one report, read once, when first asked."""

    def __init__(self, snapshot: Snapshot, report: str) -> None:
        self.snapshot, self.report = snapshot, report
        self.dates: dict[tuple[str, str], str | None] | None = None
        self.read = False

    def on_roll(self, mis_id: str | None, day: str) -> bool:
        """Whether that export sent the record without a leaving date passed by its `day`
        (False when it did not send it, or its file is kept no more)."""
        if not self.read:
            self.read = True
            run_id = self.snapshot.previous.runs.get(self.report)
            if run_id and self.snapshot.sent_before is not None:
                self.dates = self.snapshot.sent_before(run_id)
        if self.dates is None or (self.report, mis_id) not in self.dates:
            return False
        then = self.dates[(self.report, mis_id)]
        return not then or then > day


def _hold_whole(planned: Plan, comparison: dict[str, Any], size: int, going: list[Account]) -> None:
    """Nothing of the report applies: every record is listed as held, with the reason; `going`,
    the accounts confirming would unallocate, are listed as the held unallocations."""
    reason = "report held whole: " + comparison["reason"]
    planned.changes.clear()
    planned.creates.clear()
    planned.new_cases.clear()
    planned.case_changes.clear()
    planned.held[:] = going
    # Each record keeps what its outcome would have been: confirming the run applies it.
    planned.outcomes = [
        RecordOutcome(o.record, HELD, _held_as(reason, o.outcome, o.reason, o.username), o.username)
        for o in planned.outcomes
    ]
    planned.same_rows = [
        (*row[:-3], HELD, _held_as(reason, row[-3], row[-2], row[-1]), row[-1])
        for row in planned.same_rows
    ]
    planned.seen = None  # the fingerprints stay those of the accounts as they are
    planned.counts = empty_counts()
    planned.counts["fetched"] = size
    planned.counts["held_unallocations"] = len(going)
    planned.hold_reason = comparison["reason"]
    planned.comparison = comparison


def _held_as(reason: str, outcome: str, why: str | None, username: str | None) -> str:
    """A record of a report held whole: the hold, then what confirming it would make of it."""
    if outcome == NEEDS_MATCHING and not why:
        return f"{reason}; once confirmed, the run plans it (a new account or a case)"
    then = f"{outcome}" + (f" {username}" if username else "") + (f": {why}" if why else "")
    return f"{reason}; once confirmed: {then}"


def _unparsed(
    planned: Plan,
    export: Export,
    linked: dict[str, dict[str, Any]],
    cases_by_id: dict[str | None, MatchCase],
    dup: Counter[str],
    present: set[str],
    today_s: str,
) -> list[MisRecord]:
    """The records the sieve left unparsed that are still unchanged for this snapshot (its row
    is the one the sieve checked, active at the school, no case open for the record): each
    gets its outcome here. The others are parsed and returned with the parsed records, to be
    planned as usual."""
    if not export.same:
        return export.records
    dfe, report = planned.school, planned.report
    records = list(export.records)
    rows, seen = planned.same_rows, {}
    for mis_id, (raw, (checked, fp)) in export.same.items():
        row = linked.get(mis_id)
        if (
            row is checked
            and dup[mis_id] == 1
            and mis_id not in cases_by_id
            and row.get("status", "active") == "active"
            and row["school"] == dfe
            and OLDEST_DOB <= row["dob"] <= today_s
        ):
            seen[mis_id] = fp
            rows.append(
                record_row(report, mis_id, row, UNCHANGED, "linked, no change", row["username"])
            )
        else:
            assert export.parse is not None
            records.append(export.parse(raw))
    if seen:
        present.update(seen)
        planned.counts[UNCHANGED] += len(seen)
        planned.seen = seen
    return records


# Outcomes after which the account holds exactly what the record says.
_HELD_AFTER = frozenset((UNCHANGED, UPDATED, RESTORED, AUTO_LINKED, CREATED))


def _fingerprints(planned: Plan, export: Export) -> None:
    """The report's fingerprints after this plan: those the sieve recognised, and those of the
    records whose account will hold what they say, unless a leaving date lets their outcome
    change while their raw JSON stays the same."""
    seen = planned.seen if planned.seen is not None else {}
    raw = export.raw or {}
    for outcome in planned.outcomes:
        rec = outcome.record
        if outcome.outcome in _HELD_AFTER and rec.leaving_date is None:
            raw_record = raw.get(rec.mis_id) or export.same.get(rec.mis_id, (None,))[0]
            if raw_record is not None and (fp := fingerprint(raw_record)) is not None:
                seen[rec.mis_id] = fp
    planned.seen = seen


def _linked(
    planned: Plan,
    rec: MisRecord,
    row: dict[str, Any],
    dfe: str,
    upn_holders: _UpnHolders,
    horizon: str,
) -> bool:
    """The outcome of a record linked to an account; True if it now names another person.
    `horizon`: the last start date whose accounts are made today (rule 3)."""
    if row.get("status", "active") == "active" and row["school"] == dfe and _holds(row, rec):
        # the common case, without building the account
        planned.outcomes.append(RecordOutcome(rec, UNCHANGED, "linked, no change", row["username"]))
        planned.counts[UNCHANGED] += 1
        return False
    acc = Account.from_row(row)
    other = _another_person(rec, acc, upn_holders, planned.today)
    if other:
        # An MIS id given again to someone else: neither restored nor rewritten as them (the
        # record is listed; its account, present by its id, is not unallocated either).
        reason = (
            f"MIS id {rec.mis_id} now names another person than its account {acc.username} "
            f"({other}): the account is left untouched until the school checks the record or "
            "an operator answers on the account: the same person (a), or its holder left (x); "
            f"uso-tui account accept-record|release {acc.username}"
        )
        planned.outcomes.append(RecordOutcome(rec, INVALID, reason, acc.username))
        planned.counts[INVALID] += 1
        return True
    if acc.status == "unallocated" and rec.enrolment_date and rec.enrolment_date > horizon:
        # A leaver enrolled again from a later day: a future starter (rule 3), whose account is
        # restored when its account day comes (rule 5), not months early.
        reason = f"starts again on {rec.enrolment_date}: {acc.username} is restored then"
        planned.outcomes.append(RecordOutcome(rec, FUTURE, reason, acc.username))
        planned.counts[FUTURE] += 1
        return False
    held = held_fields(rec)
    changed = _changed_fields(acc, held)
    if acc.status != "active" or acc.school != dfe:
        after = dataclasses.replace(acc, **held, status="active", school=dfe, source="mis")
        after.unallocated_at = None
        after.unallocated_by_run = None
        planned.changes.append(AccountChange("restore", acc, after, "its MIS record is back"))
        planned.outcomes.append(
            RecordOutcome(rec, RESTORED, "link reappeared: restored", acc.username)
        )
        planned.counts[RESTORED] += 1
    elif changed:
        after = dataclasses.replace(acc, **held)
        if {"forename", "surname", "dob"} & set(changed) or _ids_changed(acc, held["extra"]):
            after.changed_from = _changed_from(acc, planned.today)
        planned.changes.append(
            AccountChange("update", acc, after, "changed: " + ", ".join(changed))
        )
        planned.outcomes.append(
            RecordOutcome(rec, UPDATED, "changed: " + ", ".join(changed), acc.username)
        )
        planned.counts[UPDATED] += 1
    else:
        planned.outcomes.append(RecordOutcome(rec, UNCHANGED, "linked, no change", acc.username))
        planned.counts[UNCHANGED] += 1
    return False


CHANGE_WINDOW_DAYS = 30  # changes to a linked record within this many days are weighed together


def _window(acc: Account, today: str | None) -> list[dict[str, Any]]:
    """The account's states before each change a run made to its names, date, UPN, personGuid
    or gender within CHANGE_WINDOW_DAYS of `today` (every one when today is None: a check of
    what a run already judged), oldest first. changed_from holds the oldest, and the later
    ones under "later" (one dict, as runs wrote it before: a single change)."""
    was = acc.changed_from
    if not was or not isinstance(was, dict):
        return []
    chain = [was, *(e for e in (was.get("later") or ()) if isinstance(e, dict))]
    if today is None:
        return chain
    out = []
    for entry in chain:
        try:
            age = (date.fromisoformat(today) - date.fromisoformat(str(entry.get("at")))).days
        except ValueError:
            continue
        if age <= CHANGE_WINDOW_DAYS:
            out.append(entry)
    return out


def states_before(acc: Account) -> list[dict[str, Any]]:
    """The account's states before each change a run made to it that changed_from holds (see
    _window), oldest first."""
    return _window(acc, None)


def _recent_change(acc: Account, today: str | None) -> dict[str, Any] | None:
    """The account as it was before the oldest change within the window (see _window)."""
    chain = _window(acc, today)
    return chain[0] if chain else None


# What says whose record it is besides names and date: changed one day and the names the
# next, a record was given to another child in two steps (UPN then forename)
_IDENTITY_EXTRA = ("upn", "person_guid", "gender")


def _ids_changed(acc: Account, extra: dict[str, Any]) -> bool:
    held = acc.extra or {}
    return any(held.get(k) != extra.get(k) for k in _IDENTITY_EXTRA)


# The most states kept in the window (a record changed daily for a month)
MAX_WINDOW_STATES = 32


def _changed_from(acc: Account, today: str) -> dict[str, Any]:
    """What changed_from holds after a run changes the account's names, date, UPN, personGuid or
    gender: its state before each change within the window, this one's included, oldest first
    (so two a day apart are weighed from before both, and a change on the last day of an
    older one's window is still weighed with the next)."""
    held = acc.extra or {}
    ids = {k: held[k] for k in _IDENTITY_EXTRA if held.get(k) is not None}
    now = {
        "forename": acc.forename, "surname": acc.surname, "dob": acc.dob, "at": today,
        **({"extra": ids} if ids else {}),
    }  # fmt: skip
    chain = [{k: v for k, v in e.items() if k != "later"} for e in _window(acc, today)]
    chain = [*chain, now][-MAX_WINDOW_STATES:]
    first = dict(chain[0])
    if len(chain) > 1:
        first["later"] = chain[1:]
    return first


def _another_person(
    rec: MisRecord, acc: Account, upn_holders: _UpnHolders, today: str | None = None
) -> str:
    """_apart, from the account as it is and as it was before a recent change of its names or
    date of birth (Kevin's record keyed Wei one day and given Wei's date the next)."""
    apart = _apart(rec, acc, upn_holders, today)
    if apart:
        return apart
    was = _recent_change(acc, today)
    if was is None:
        return ""
    ids = was.get("extra") if isinstance(was.get("extra"), dict) else {}
    extra = {k: v for k, v in (acc.extra or {}).items() if k not in _IDENTITY_EXTRA}
    before = dataclasses.replace(
        acc,
        forename=str(was.get("forename") or ""),
        surname=str(was.get("surname") or ""),
        dob=was.get("dob"),
        # the UPN, personGuid and gender as they were too (a change recorded before they were
        # kept has none: then the account's own stand)
        extra={**extra, **ids} if "extra" in was else acc.extra,
    )
    apart = _apart(rec, before, upn_holders, today)
    return f"{apart}, counting the change of {was.get('at')}" if apart else ""


def _apart(rec: MisRecord, acc: Account, upn_holders: _UpnHolders, today: str | None = None) -> str:
    """What says a linked record is now another person than its account (its MIS id given
    again, or two children's ids swapped, as a school's own SchoolId, keyed by hand, can be): ""
    when it may be the same person (a change of name, a date corrected, a known form: the update
    applies). One change at a time is a person's: a marriage, a date corrected, a forename the
    person now goes by, a UPN corrected. Another person, for whom the account is kept until an
    operator answers:
    - a permanent UPN or IRIS personGuid that differs, with any other change (a twin's record:
      Alexander to Alexandra, Muhammad Ali to Muhammad Omar; a classmate's id);
    - another gender with the forename changed at all (Daniel to Danielle);
    - the forename wholly different and the date of birth changed at all (a sibling given the
      id, a year apart or a day);
    - the date of birth wholly different (more than NEAR_DAYS away) with the forename changed
      at all (John to Jane, Jack to John), or so far by a slip of one digit or day and month
      swapped with the forename or the gender changed (a sibling born months later given the
      id: Leo 2014-01-12 to Leon 2014-11-12), or on its own when the dates are years apart or the
      year groups two or more (_years_apart: an id given again to a younger child of the same
      names, a son given his father's staff record);
    - two of forename, surname and date wholly different (both names on the same date, an
      adoption, stay an update without such an id);
    - or a change that makes the record's UPN, or its names and date of birth, another active
      linked account's of the school (ids swapped between twins of one sex), or an account's
      asked for there; or that leaves the account's own names and date of birth to another
      record of the export (its person keyed anew while the id went to a co-twin)."""
    person, theirs = person_of_record(rec), person_of_account(acc)
    forename, dob, differ = _levels_apart(person, theirs, acc.role, today)
    extra = acc.extra or {}
    upn = upn_key(rec.upn)
    ids = [
        what
        for what, apart in (
            ("UPN", upn_level(upn, upn_key(extra.get("upn"))) == "different"),
            ("personGuid", conflict(rec.person_guid, extra.get("person_guid"), _guid)),
        )
        if apart
    ]
    genders = {person.gender, theirs.gender}
    gender = genders == {"m", "f"}  # both given, not the same
    date_changed = dob not in ("equal", "")
    # a known form too (Jack for John); or middle names on both sides with none in common
    # (Muhammad Ali and Muhammad Omar: one forename, two children)
    forename_changed = forename not in ("equal", "") or bool(
        person.mkeys and theirs.mkeys and not set(person.mkeys) & set(theirs.mkeys)
    )
    changed = forename_changed or person.skey != theirs.skey or date_changed or gender
    years = _years_apart(rec, acc, person.year, theirs.year) if dob == "different" else 0
    far = years >= YEARS_APART[acc.role] + (ESTIMATED_YEARS if _estimate(rec.dob) else 0)
    classes = (
        abs(person.year - theirs.year)
        if dob == "different" and person.year is not None and theirs.year is not None
        else 0
    )
    if (
        "UPN" in ids
        and forename != "equal"  # (the same names: a UPN corrected)
        and (holder := upn_holders.holder(upn, acc.username))
    ):  # said first: it names whose record this is
        return f"its UPN {rec.upn} is account {holder}'s"
    # a date "slipped" (one digit, day and month swapped) months away: as far as a sibling's
    # (Leo 2014-01-12 given again to Leon 2014-11-12)
    # ... unless the record's permanent UPN or personGuid is the account's (one person's record:
    # Jon corrected to John and the month to November together)
    same_id = (upn_level(upn, upn_key(extra.get("upn"))) == "equal" and permanent_upn(upn)) or (
        bool(rec.person_guid)
        and not conflict(rec.person_guid, extra.get("person_guid"), _guid)
        and bool(extra.get("person_guid"))
    )
    moved = date_changed and not same_id and (days_between(rec.dob, acc.dob) or 0) > NEAR_DAYS
    # a placeholder (or impossible) date replaced says nothing of the person, yet the record did
    # change it: beside the names changed wholly, it is a second change, not a date corrected
    replaced = dob == "" and bool(rec.dob) and bool(acc.dob) and rec.dob != acc.dob
    if (
        len(differ) == 3
        or (len(differ) == 2 and (ids or set(differ) != {"forename", "surname"} or replaced))
        or (ids and changed)
        or (gender and forename_changed)
        or (gender and "surname" in differ)
        or ("forename" in differ and (date_changed or replaced))
        or ("date of birth" in differ and forename_changed)
        or (moved and (forename_changed or gender))
        or (forename_changed and "surname" in differ and (date_changed or replaced) and not same_id)
        or far
        or classes >= 2
    ):
        shown = [
            *differ,
            *([f"{years} years apart"] if far else []),
            *([f"year groups {classes} apart"] if classes >= 2 and not far else []),
            *(
                [f"date of birth {'months apart' if moved else 'near'}"]
                if date_changed and "date of birth" not in differ
                else []
            ),
            *(["a date of birth put for one not known"] if replaced else []),
            *(["gender"] if gender else []),
            *ids,
        ]
        if not differ and forename_changed and not far:
            shown.insert(0, "forename or middle names")
        elif replaced and forename_changed and "forename" not in differ:
            shown.insert(len(differ), "forename or middle names")
        return "different " + ", ".join(shown)
    if changed and (holder := upn_holders.named(rec, acc.username)):
        return f"its names and date of birth are account {holder}'s"
    if changed and (other := upn_holders.record_named(acc, rec.mis_id)):
        return f"{acc.username}'s names and date of birth are record {other}'s, in this export"
    return ""


def _keyed_twice(rec: MisRecord, made: dict[tuple[str, str, str], list[MisRecord]]) -> str:
    """What to add to a created record's reason when another record created by this plan has
    its very names and date of birth, with nothing to tell them apart (middle names, preferred
    names, UPN, gender): one person keyed twice in the MIS (two accounts are made, as DESIGN has
    it; `duplicates` lists them after, and the reason says it where `why` and the bulk results
    show it)."""
    key = (normalise_cached(rec.forename), normalise_cached(rec.surname), rec.dob or "")
    if not all(key):
        return ""
    earlier = made.setdefault(key, [])
    earlier.append(rec)
    same = next((other for other in earlier[:-1] if not _told_apart(rec, other)), None)
    if same is None:
        return ""
    return (
        f"; record {same.mis_id} of this export has the same names and date of birth: "
        "one person keyed twice?"
    )


def _told_apart(one: MisRecord, two: MisRecord) -> bool:
    """Whether two records of the very names and date differ in what twins differ in."""
    return any(
        a and b and a != b
        for a, b in (
            (normalise_cached(one.middle_names), normalise_cached(two.middle_names)),
            (normalise_cached(one.preferred_name), normalise_cached(two.preferred_name)),
            (upn_key(one.upn), upn_key(two.upn)),
            (gender_key(one.gender), gender_key(two.gender)),  # (U, X: not said)
        )
    )


def _upn_also(
    rec: MisRecord,
    index: CandidateIndex,
    elsewhere: dict[str, list[Any]],
    taken: set[str],
    linked: dict[str, dict[str, Any]],
) -> str:
    """What to add to a created record's reason when an active account holds its UPN yet was no
    candidate: alike in nothing else (one of the two numbers keyed wrong), or linked to another
    record of this export (the MIS holds the person twice, or gave one child's UPN to another):
    nothing else would say so."""
    upn = upn_key(rec.upn)
    if not upn:
        return ""
    holders = index.upn_holders(upn, elsewhere.get(rec.mis_id, ()))
    if not holders:
        return ""
    here = next((h for h in holders if h.username in taken), None)
    if here is not None:
        # (the pool's accounts are the store's index hits, which hold no MIS id)
        mis_id = next((m for m, row in linked.items() if row["username"] == here.username), "?")
        return (
            f"; its UPN {rec.upn} is also {here.username}'s, linked to record {mis_id} of this "
            "export: one person keyed twice, or a UPN keyed wrong?"
        )
    other = holders[0]
    return (
        f"; its UPN {rec.upn} is also {other.username}'s (at {other.school or 'no school'}), "
        "alike in nothing else: one of the two keyed wrong?"
    )


def _no_birthday(dob: str | None, role: str, today: str | None) -> bool:
    """A date of birth that is no one's birthday for the role: a placeholder (1900-01-01), or an
    age on `today` no pupil (member of staff) has (an enrolment date keyed as the date of birth,
    a year keyed 19xx for 20xx): replacing it is a correction, not another person."""
    if not dob:
        return False
    if placeholder_dob(dob):
        return True
    if not today:
        return False
    days = days_between(dob, today)
    if days is None or dob > today:
        return True
    youngest, oldest = PLAUSIBLE_AGES[role]
    return not youngest <= days / 365.25 <= oldest


def _years_apart(rec: MisRecord, acc: Account, year: int | None, their_year: int | None) -> int:
    """The whole years between the record's and the account's (wholly different) dates of
    birth; 0 where the change may be a correction: the account's date a 1 January (an estimate
    or a default, 1970-01-01 for staff, replaced by the real date; placeholders before 1910
    never get here: _apart weighs no date of theirs); year groups held on both sides at most
    one apart (one class; the account's may be last year's); or, without year groups to say
    otherwise, the year keyed with one digit wrong or two swapped. A real date replaced by a 1
    January is an estimate years out (a refugee child's age) only within ESTIMATED_YEARS more:
    decades apart, a son given his father's staff record."""
    ours, theirs = rec.dob or "", acc.dob or ""
    if _estimate(theirs):
        return 0
    if year is not None and their_year is not None:
        if abs(year - their_year) <= 1:
            return 0
    elif _slip_of(ours[5:], theirs[5:]) and (
        sum(map(str.__ne__, ours[:4], theirs[:4])) <= 1 or sorted(ours[:4]) == sorted(theirs[:4])
    ):
        return 0  # (the day and month the same or a slip too: one date misread)
    days = days_between(ours, theirs)
    return 0 if days is None else int(days / 365.25)


def _estimate(dob: str | None) -> bool:
    """A 1 January: keyed for a date not known (an estimate, a default such as 1970-01-01)."""
    return (dob or "")[5:] == "01-01"


def _slip_of(ours: str, theirs: str) -> bool:
    """Whether two month-days ("03-12") are one, or one keyed with a slip: a digit wrong, two
    exchanged, day and month swapped (1985-03-12 read 1958-03-21; not 1965-03-12 and 1995-07-20,
    a father's and a son's)."""
    if ours == theirs or sum(map(str.__ne__, ours, theirs)) <= 1 or sorted(ours) == sorted(theirs):
        return True
    return ours[3:] + "-" + ours[:2] == theirs


def upn_holder(upn: str, besides: str, rows: Callable[[], list[dict]]) -> str | None:
    """The one account of `rows` (the school's) other than `besides` holding the permanent UPN
    `upn`, as a run reads whose record a UPN is; None for a temporary UPN, or one several hold
    (a dummy keyed for many)."""
    return _UpnHolders(rows).holder(upn, besides)


def another_person(rec: MisRecord, acc: Account, rows: Callable[[], list[dict]]) -> str:
    """What says the linked record `rec` is another person than its account `acc` ("" when it
    may be the same person), as a run says it; `rows`: the school's account rows."""
    return _another_person(rec, acc, _UpnHolders(rows))


class _UpnHolders:
    """The school's accounts by permanent UPN, and by names and date of birth, read from its
    rows when first asked (only a linked record that changed asks)."""

    def __init__(
        self, rows: Callable[[], list[dict[str, Any]]], records: list[MisRecord] | None = None
    ) -> None:
        self.rows = rows
        self.by_upn: dict[str, list[str]] | None = None
        self.by_name: dict[tuple[str, str, str], list[str]] | None = None
        self._records: list[MisRecord] = records or []
        self.by_record: dict[tuple[str, str, str], list[str]] | None = None

    @property
    def records(self) -> list[MisRecord]:
        """The export's new and changed records (record_named looks among them)."""
        return self._records

    @records.setter
    def records(self, records: list[MisRecord]) -> None:
        # (the ids read again as linked: what was made of the records before is stale; a
        # twin check made with no records found nobody, and kept that)
        self._records, self.by_record = records, None

    def record_named(self, acc: Account, besides: str) -> str | None:
        """Another new or changed record of this export holding the account's forename, surname
        and date of birth: the account's own person, keyed under another id while this one went
        to someone else (a co-twin of one sex: only the forename differs, no UPN to tell)."""
        if not (acc.forename and acc.surname and acc.dob):
            return None
        if self.by_record is None:
            self.by_record = {}
            for r in self.records:
                key = (normalise_cached(r.forename), normalise_cached(r.surname), r.dob or "")
                self.by_record.setdefault(key, []).append(r.mis_id)
        name = (normalise_cached(acc.forename), normalise_cached(acc.surname), acc.dob)
        others = [m for m in self.by_record.get(name, ()) if m != besides]
        if len(others) != 1:
            return None  # (several: names a whole school shares say nothing of whose)
        alike = [u for u in self._by_name().get(name, ()) if u != acc.username]
        return None if alike else others[0]  # another account of those details: theirs

    def holder(self, upn: str, besides: str) -> str | None:
        if self.by_upn is None:
            self.by_upn = {}
            for row in self.rows():
                key = upn_key((row.get("extra") or {}).get("upn"))
                if permanent_upn(key):
                    self.by_upn.setdefault(key, []).append(row["username"])
        others = [u for u in self.by_upn.get(upn, ()) if u != besides]
        return others[0] if len(others) == 1 else None

    def named(self, rec: MisRecord, besides: str) -> str | None:
        """Another account of the school linked to a record, holding the record's forename,
        surname and date of birth: the person whose account that is (two children's ids
        swapped, twins of one sex, no UPN to tell). Unallocated ones too: a twin off roll for a
        day, or whose id was absent from the run before (keyed again under the co-twin's freed
        id), is still the person that account is for."""
        name = (normalise_cached(rec.forename), normalise_cached(rec.surname), rec.dob or "")
        others = [u for u in self._by_name().get(name, ()) if u != besides]
        return others[0] if others else None

    def _by_name(self) -> dict[tuple[str, str, str], list[str]]:
        if self.by_name is None:
            self.by_name = {}
            for row in self.rows():
                # (an account asked for at the school too: the record's person's, waiting)
                if row.get("mis_id") is not None or row.get("status", "active") == "active":
                    name = (normalise_cached(row["forename"]), normalise_cached(row["surname"]))
                    self.by_name.setdefault((*name, row["dob"]), []).append(row["username"])
        return self.by_name


def _named_account(
    rec: MisRecord, besides: str, linked: dict[str, dict[str, Any]], upn_holders: _UpnHolders
) -> str | None:
    """The MIS id of the other linked account of the school a rejected linked record names by its
    UPN or by its names and date of birth (the person that account is for), if any."""
    upn = upn_key(rec.upn)
    holder = (upn and upn_holders.holder(upn, besides)) or upn_holders.named(rec, besides)
    if holder is None:
        return None
    return next((m for m, row in linked.items() if row["username"] == holder), None)


def _keep_named(
    planned: Plan, named: dict[str, int], present: set[str], linked: dict[str, dict[str, Any]]
) -> None:
    """An account a rejected record names (a twin keyed again under the co-twin's freed id, ids
    swapped) is its person's, and that person is in the export: it is not unallocated while its
    own MIS id is absent (as a rejected record unallocates no account of its own, rule 2), and
    the rejected record says so."""
    for mis_id, at in named.items():
        if mis_id in present:
            continue
        present.add(mis_id)
        outcome = planned.outcomes[at]
        planned.outcomes[at] = dataclasses.replace(
            outcome,
            reason=f"{outcome.reason}; account {linked[mis_id]['username']}, whose MIS id "
            f"{mis_id} is absent, is kept: this record names it",
        )


def _guid(value: str) -> str:
    """A GUID as compared: braces, hyphens and case are formatting, not another GUID."""
    return "".join(c for c in value.lower() if c not in "{}- \t")


def _auto_link(planned: Plan, rec: MisRecord, acc: Account, dfe: str) -> None:
    after = dataclasses.replace(
        acc,
        **held_fields(rec),
        source="mis",
        mis_id=rec.mis_id,
        link_school=dfe,
        link_report=rec.report,
        previous_link=None,
    )
    planned.changes.append(AccountChange("auto_link", acc, after, "same names and date of birth"))
    planned.outcomes.append(
        RecordOutcome(rec, AUTO_LINKED, "one unlinked account with the same details", acc.username)
    )
    planned.counts[AUTO_LINKED] += 1


def _leavers(
    planned: Plan,
    linked: dict[str, dict[str, Any]],
    present: set[str],
    dfe: str,
    settings: School,
    empty: bool,
    hold: bool = True,
    short: str | None = None,
    clashed: list[str] | None = None,
    copies: list[str] | None = None,
) -> None:
    """Rule 7 and the safety hold of rule 8 (unless `hold` is False: an operator confirmed).
    `short`: why the export may not be complete (_short_of): its absent records are then no
    proof of leaving, and their unallocations are held whatever their number. `clashed`: MIS
    ids given to two different records (Export.clashed_ids), and `copies`, records sent again
    on the page they were on (Export.copied_ids: IRIS's totalCount counts a copy, which
    may stand where a record left out was): held likewise, for an operator whose confirmation
    applies them (a row the MIS holds twice is sent so every day)."""
    active = [
        mis_id
        for mis_id, r in linked.items()
        if r.get("status", "active") == "active" and r["school"] == dfe
    ]
    going = [Account.from_row(linked[mis_id]) for mis_id in active if mis_id not in present]
    if not going:
        return
    leaving, total = len(going), len(active)
    if not hold:
        pass
    elif empty:
        planned.hold_reason = f"the export is empty while {total} account(s) are linked"
    elif short:
        planned.hold_reason = f"{short}: would unallocate {leaving} of {total} linked accounts"
        planned.incomplete = short
    elif clashed:
        planned.hold_reason = (
            f"{len(clashed)} MIS id(s) given to two different records ({some_ids(clashed)}): a "
            f"record's id may be wrong, so another's absence may be no leaving; would unallocate "
            f"{leaving} of {total} linked accounts (confirm if they have left)"
        )
    elif copies:
        planned.hold_reason = (
            f"{len(copies)} record(s) sent twice on one page, kept once ({some_ids(copies)}): "
            "IRIS counts the copy in its totalCount, so it may stand where a record left out "
            f"was; would unallocate {leaving} of {total} linked accounts (confirm if they have "
            "left; the school may ask its MIS supplier why the record is sent twice)"
        )
    elif leaving > total * settings.hold_percent / 100 and leaving >= settings.hold_min:
        planned.hold_reason = (
            f"would unallocate {leaving} of {total} linked accounts "
            f"(more than {settings.hold_percent:g}% and at least {settings.hold_min})"
        )
    if planned.hold_reason:
        planned.held = going
        planned.counts["held_unallocations"] = leaving
        return
    for account in going:
        planned.changes.append(
            AccountChange(
                "unallocate", account, unallocated(account, dfe), "absent from the export"
            )
        )
    planned.counts["unallocated"] = leaving


def _short_of(export: Export) -> str | None:
    """Why an export may not be complete: fewer records arrived than IRIS said it holds (a page
    lost, or records shifted between pages while IRIS was paging, which skips one); records
    repeated across pages or totals that changed while it paged (the same shift); records whose
    MIS id cannot be read (any of them may be a linked record). Rule 7 unallocates only for a
    complete export."""
    why = []
    if export.missing:
        why.append(f"IRIS said {export.claimed} records, {export.size} arrived")
    if export.repeated_ids:
        why.append(f"{len(export.repeated_ids)} record(s) repeated across pages")
    why += export.doubts
    unnamed = sum(1 for rec in export.records if not rec.mis_id)
    if unnamed:
        why.append(f"{unnamed} record(s) without a readable MIS id")
    return f"the export may be incomplete ({'; '.join(why)})" if why else None


def unallocated(account: Account, dfe: str) -> Account:
    """The account removed from its school: kept, its link kept (a returning record restores it)."""
    return dataclasses.replace(account, status="unallocated", school=None, previous_school=dfe)
