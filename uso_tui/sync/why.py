""" "Why has this account not been created?": a person found by name, date of birth, UPN or MIS
id in the latest processed file of every school (each report), with what happened to the
record, why, and what an operator can do about it (DESIGN section 5, `why`)."""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from rapidfuzz.distance import OSA

from uso_tui.domain.dates import date_read, impossible_dates, no_such_dates
from uso_tui.domain.models import ROLES, Exclusion, MatchCase, MisRecord, Run, last_that_ran
from uso_tui.domain.names import normalise, upn_key, words_joined
from uso_tui.domain.schools import DFE_RE, ROLE_OF_REPORT, la_of
from uso_tui.store.api import CorruptFile, Store, UnknownRun, UnknownSchool
from uso_tui.store.index import NAME_PARTS
from uso_tui.sync.actions import UNDONE_CREATE, creation_undone_by
from uso_tui.sync.apply import event_words
from uso_tui.sync.case_offers import (
    case_named,
    looks_of,
    match_there,
    matched_there,
    offered_by_cases,
    offers_near,
)
from uso_tui.sync.matched_names import known_as, phonetic
from uso_tui.sync.plan import excluded
from uso_tui.sync.renamed import renamed_lines

WHY_LIMIT = 200
# A processed file's outcome -> the `why --json` outcome.
OUTCOMES = {
    "created": "created",
    "auto_linked": "linked",
    "restored": "linked",
    "unchanged": "unchanged",
    "updated": "updated",
    "needs_matching": "needs_matching",
    "future": "future",
    "invalid": "invalid",
    "excluded": "excluded",
    "leaver": "unallocated",
    "held": "held",
}
# The order of a search's records by outcome (as the run left them): those waiting for someone
# first, then those without an account, then the rest; and how many more are read than shown.
WAITING_FIRST = {
    "needs_matching": 0,
    "held": 1,
    "invalid": 2,
    "future": 3,
    "excluded": 4,
    "unallocated": 5,
}
WIDER = 5
# Outcomes after which the record has its account.
ACCOUNT_OUTCOMES = frozenset(("created", "linked", "unchanged", "updated"))
# Outcomes a case's decision gives a record (match, create, exclude), which an undo can take back.
DECIDED_OUTCOMES = ACCOUNT_OUTCOMES | {"excluded"}
_ENTRY = re.compile(r"\(entry (\d+)\)")
_CASE = re.compile(r"waiting in case (\S+)")


@dataclass(slots=True)
class WhyHit:
    school: str
    report: str
    mis_id: str
    forename: str
    surname: str
    dob: str | None
    outcome: str
    reason: str
    case_id: str | None
    username: str | None
    run_id: str
    exclusion_id: int | None = None
    starts_on: str | None = None
    account_on: str | None = None  # a future starter's account is made on this day
    leaves_on: str | None = None  # a future starter leaving by its account day: none is made
    requested: str | None = None  # a future starter's account requested already (its username)
    requested_how: str = ""  # ... how: "requested" (User Request Single), "restored", "made"
    act: str = ""  # what an operator can do, and where
    case_open: bool = True  # a needs_matching record's case still waits for a decision
    since: str = ""  # what happened to the record's account after the run (_since_the_run)
    active_now: bool = False  # a leaver's account active again since
    # ... and still linked to the leaver's record: the next run unallocates it again (or holds)
    again: bool = False
    # what made its account or link, when a case's decision did (not the run): `_decided`
    decided: str = ""
    held_leaver: bool = False  # a leaver whose unallocation a held run waits to confirm
    undone: bool = False  # its account's creation, or its held run, undone since: not restored
    # a future starter whose account day has come while the school's latest run failed (its id)
    failed_run: str | None = None
    paused: bool = False  # the school is paused: no scheduled run comes (a force run does)
    # a record with its account, on the exclusion list since: the command that unallocates it
    unallocate_by: str = ""
    # an unallocated account that is a candidate of an open case of its school: (case, score)
    candidate_of: tuple[MatchCase, Any] | None = None
    leaving: str | None = None  # the leaving date the MIS gives a record with its account

    def public(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "report": self.report,
            "mis_id": self.mis_id,
            "forename": self.forename,
            "surname": self.surname,
            "dob": self.dob,
            "outcome": self.outcome,
            "reason": self.reason,
            "case_id": self.case_id,
            "username": self.username,
            "run_id": self.run_id,
            "exclusion_id": self.exclusion_id,
            "starts_on": self.starts_on,
            # a date or null; a day gone by without a run said apart (scripts read a date here)
            "account_on": None if self.account_on == PASSED else self.account_on,
            "account_day_passed": self.account_on == PASSED,
            "act": self.act,
        }

    def made(self) -> str:
        """What made its account or link: the case decided since, else its run."""
        return self.decided or f"{self.outcome} by run {self.run_id}"

    @property
    def summary(self) -> str:
        """One line: the outcome in words, as an operator reads it."""
        outcome = self.outcome
        if outcome == "needs_matching" and not self.case_open:
            return f"case {self.case_id or '?'} closed since: the next run decides again"
        if outcome == "needs_matching":
            return f"waiting in the matching queue as case {self.case_id or '?'}"
        if outcome == "future":
            if self.leaves_on:
                return f"future starter from {self.starts_on or '?'}, leaving on {self.leaves_on}"
            if self.requested:  # its account is there already: nothing is made that day
                return (
                    f"future starter from {self.starts_on or '?'}: {self.requested} "
                    f"{self.requested_how or 'made'} already"
                )
            made = f"{self.username} restored" if self.username else "account made"
            tail = f" ({made} on {self.account_on})" if self.account_on else ""
            return f"future starter from {self.starts_on or '?'}{tail}"
        if outcome == "invalid":
            return f"rejected: {self.reason}"
        if outcome == "excluded" and self.since:
            return f"excluded; {self.since}"
        if outcome == "excluded":
            return (
                f"excluded by entry {self.exclusion_id if self.exclusion_id is not None else '?'}"
            )
        if outcome in ("created", "linked", "unchanged", "updated") and self.since:
            return f"{self.made()}; {self.since}"  # its account someone else's
        if outcome in ("created", "linked", "unchanged", "updated"):
            return f"{outcome}: {self.username or '?'}"
        if outcome == "unallocated" and self.active_now:
            return f"a leaver: {self.reason}"
        if outcome == "unallocated" and self.undone:
            return f"{self.username} unallocated since the run, undone: the next run plans it"
        if outcome == "unallocated" and self.since and self.exclusion_id is not None:
            return (
                f"unallocated since the run: {self.username}, excluded (entry {self.exclusion_id})"
            )
        if outcome == "unallocated" and self.since:
            return f"unallocated since the run: {self.username}"
        if outcome == "unallocated":  # (a leaver who never had an account has none to remove)
            return (
                f"a leaver: {self.username} unallocated ({self.reason})"
                if self.username
                else f"a leaver, no account: {self.reason}"
            )
        if outcome == "held" and self.held_leaver:
            return f"leaver held: {self.username} still active until the run is confirmed"
        if outcome == "held" and self.undone:
            return f"held by run {self.run_id}, undone since: the next run plans it"
        if outcome == "held" and self.active_now:
            return f"{self.username} active; its school's export is held whole by run {self.run_id}"
        if outcome == "held":
            return f"held: the whole export waits for run {self.run_id} to be confirmed"
        return f"{outcome}: {self.reason}"


PASSED = "the school's next run"  # a future starter's account day gone by without a run


def leaves_first(leaves_on: str | None, account_on: str, today: str | None) -> bool:
    """Whether a future starter's leaving date comes by the day its account would be made (or
    `today`, if later): that run takes the record as a leaver (an offer withdrawn), and makes
    no account."""
    return bool(leaves_on) and leaves_on <= max(account_on, today or "")


def account_day(starts_on: str, days_before: int) -> str:
    """The day a future starter's account is made under "create N days before"."""
    return (date.fromisoformat(starts_on) - timedelta(days=max(0, days_before))).isoformat()


def _act(hit: WhyHit, today: str | None) -> str:
    outcome = hit.outcome
    if outcome == "needs_matching" and not hit.case_open:
        return (
            f"nothing waits: the next run of {hit.school} decides again (a force run: f, or "
            f"`uso-tui sync {hit.school}`)"
        )
    if outcome == "needs_matching":
        return f"decide case {hit.case_id or '?'}: Matching queue of {hit.school} (m), or `uso-tui matches {hit.school}`"
    if outcome == "future" and hit.leaves_on:
        return (
            "nothing to do: the MIS has a leaving date by the start (an offer withdrawn); if "
            "that is wrong the school corrects it in its MIS, and the next run takes it"
        )
    if outcome == "future" and hit.requested:
        return (
            f"nothing to do: {hit.requested} was {hit.requested_how or 'made'} for the person "
            "already; the school's run that day links it to this record (or asks an operator, "
            "if unsure)"
        )
    if outcome == "future" and hit.failed_run:
        return (
            f"its account is made by a run of {hit.school} that succeeds, and the latest, "
            f"{hit.failed_run}, failed: mend what it says, then force run the school (f in its "
            f"page, or `uso-tui sync {hit.school}`); run-due tries it again meanwhile"
        )
    if outcome == "future" and hit.account_on == PASSED:
        return (
            f"its day has passed with no run of {hit.school} since: force run the school (f in "
            f"its page, or `uso-tui sync {hit.school}`) to make it now"
        )
    if outcome == "future" and hit.username:  # a leaver enrolled again: its account is back
        return (
            f"nothing to do: {hit.username} is restored by the school's run that day; restore "
            f"it to give access sooner (Bulk results' Unallocated, or `uso-tui restore "
            f"{hit.username}`)"
        )
    if outcome == "future":
        return "nothing to do: made by the school's run that day; User Request Single (r in the school's page, or `uso-tui account add`) to make it sooner"
    if outcome == "invalid":
        return "the school corrects the record in its MIS; the next run takes it"
    if outcome == "excluded" and hit.since:
        return (
            f"the next run of {hit.school} plans the record again (a force run: f, or "
            f"`uso-tui sync {hit.school}`)"
        )
    if outcome == "excluded" and hit.exclusion_id is None:
        return f"remove its exclusion of {hit.school} (Bulk results, exclusions, or `uso-tui exclusions {hit.school}` lists them) if the person should have an account"
    if outcome == "excluded":
        return f"remove exclusion {hit.exclusion_id} of {hit.school} (Bulk results, exclusions, or `uso-tui exclusion remove {hit.school} {hit.exclusion_id}`) if the person should have an account"
    if hit.undone:
        return (
            f"the next run of {hit.school} plans the record again (a force run: f, or "
            f"`uso-tui sync {hit.school}`)"
        )
    if outcome == "held" and hit.held_leaver:
        moving = (
            f"; {hit.username} is a candidate ({hit.candidate_of[1]}%) of "
            f"{case_named(hit.candidate_of[0])}: "
            f"{matched_there(hit.username or '', hit.candidate_of[0])}"
            if hit.candidate_of
            else ""
        )
        return (
            f"confirm run {hit.run_id} (Run history, or `uso-tui confirm {hit.run_id}`) to "
            f"unallocate it, or `uso-tui confirm {hit.run_id} --except {hit.username}` to keep "
            f"it{moving}"
        )
    if outcome == "held" and hit.active_now:
        return (
            f"nothing to do for this person: {hit.username} is active (Run history says why "
            f"run {hit.run_id} holds the export)"
        )
    if outcome == "held":
        return f"confirm run {hit.run_id} (Run history, or `uso-tui confirm {hit.run_id}`) once the export is right"
    if outcome == "unallocated" and hit.candidate_of and hit.username and not hit.active_now:
        return match_there(hit.username, *hit.candidate_of)
    if outcome == "unallocated" and hit.active_now and hit.again:
        return (
            f"{hit.username} is active but still linked to the record, whose leaving date the "
            f"MIS still gives: the next run of {hit.school} unallocates it again (or holds it). "
            "If the person stays, the school removes the leaving date in its MIS"
        )
    if outcome == "unallocated" and hit.active_now:
        return f"nothing to do: {hit.username} is active; open it in Users (enter, or `uso-tui accounts --search {hit.username}`)"
    if outcome == "unallocated" and hit.since and hit.exclusion_id is not None:
        return (
            f"the next run of {hit.school} excludes the record (entry {hit.exclusion_id}); if the "
            f"person should have an account, remove the entry (Bulk results, exclusions, or "
            f"`uso-tui exclusion remove {hit.school} {hit.exclusion_id}`) and restore "
            f"{hit.username} (`uso-tui restore {hit.username}`)"
        )
    if outcome == "unallocated" and hit.since:
        return (
            f"restore {hit.username} (enter opens it: r), or `uso-tui restore "
            f"{hit.username}`, if that is wrong; the next run of {hit.school} plans the record "
            "again"
        )
    if outcome == "unallocated" and not hit.username:
        return "nothing to do: the MIS has a leaving date, and no account was made for the record"
    if outcome == "unallocated":
        return (
            f"the MIS has a leaving date: restore it (enter opens {hit.username}: r), or "
            f"`uso-tui restore {hit.username}`, if wrong"
        )
    if hit.since:
        return (
            f"the next run of {hit.school} plans the record again (a force run: f, or "
            f"`uso-tui sync {hit.school}`)"
        )
    if outcome in ACCOUNT_OUTCOMES and hit.unallocate_by:
        return (
            f"if the person should have no account, `{hit.unallocate_by}` unallocates "
            f"{hit.username}; if they should, remove entry {hit.exclusion_id} (`uso-tui "
            f"exclusion remove {hit.school} {hit.exclusion_id}`)"
        )
    if opens_account(hit) and hit.leaving and hit.outcome in ACCOUNT_OUTCOMES:
        if hit.failed_run:
            return (
                f"its leaving date, {hit.leaving}, has come, and the latest run of {hit.school}, "
                f"{hit.failed_run}, failed: mend what it says, then force run the school (f in "
                f"its page, or `uso-tui sync {hit.school}`), which unallocates {hit.username}"
            )
        if today is not None and hit.leaving <= today:
            return (
                f"its leaving date, {hit.leaving}, has come with no run of {hit.school} since: "
                f"the next run unallocates {hit.username} (a force run: f, or `uso-tui sync "
                f"{hit.school}`); if the person stays, the school removes the date in its MIS"
            )
        return (
            f"nothing to do: the MIS gives a leaving date, {hit.leaving}; the first run of "
            f"{hit.school} on or after that day unallocates {hit.username} (the school removes "
            "the date in its MIS if the person stays)"
        )
    if opens_account(hit):
        return (
            f"open {hit.username} in Users (enter, or `uso-tui accounts --search {hit.username}`)"
        )
    return ""


def opens_account(hit: WhyHit) -> bool:
    """The hit is of a record that has its account (created, linked, unchanged, updated; a
    leaver's restored since, or unallocated, to restore there): the console's enter opens
    that account."""
    return bool(hit.username) and (
        hit.outcome in ACCOUNT_OUTCOMES or hit.active_now or hit.outcome == "unallocated"
    )


def _case_for(cases: list[MatchCase], report: str, mis_id: str) -> MatchCase | None:
    mine = [c for c in cases if c.report == report and c.record.get("mis_id") == mis_id]
    mine.sort(key=lambda c: (c.status == "open", c.opened_at))
    return mine[-1] if mine else None


# What `why` says of a school whose data file is corrupt (store.left_out).
AS_RUN = "what `why` says of its records is as its latest run left them"


def why(
    store: Store,
    text: str,
    *,
    limit: int | None = WHY_LIMIT,
    today: str | None = None,
    unreadable: set[str] | None = None,
) -> list[WhyHit]:
    """Every record of the latest processed files that `text` finds, with its outcome, as it
    stands now (see _since_the_run, _failed_since); an exact MIS id or UPN first. A DfE number
    among the words looks at that school only (`khan 204-4011`: a name hundreds bear). A school
    whose data file is corrupt stopped every search: its records are told as its latest run
    left them, and it is added to `unreadable` (CorruptFile without it)."""
    text, schools = schools_named(store, text)
    # more read than shown: the records that wait for someone are shown first (a name hundreds
    # bear filled the list with accounts made, in school order, and cut the cases off)
    wide = limit * WIDER if limit else None
    digits = text.strip() if text.strip().isdigit() else None
    if digits is not None:  # a MIS id: that record, not every date of birth it begins
        typed, *others = _id_forms(digits)  # as typed first; then without, or with, 0s
        found = _with_id(store, typed, wide, schools)
        for form in others if not found else ():
            found += _with_id(store, form, wide, schools)
        return _answered(store, found, limit, today, unreadable)
    found = (
        store.why_search(text, limit=wide, schools=schools)
        or _parts_apart(store, text, wide, schools)
        or _by_username(store, text)
        or _by_upn_spaced(store, text, wide)
        or _words_joined(store, text, wide, schools)
        or _rejected_for_dates(store, text, wide, schools)
    )
    if schools is not None:
        found = [row for row in found if row["school"] in schools]
    key, upn = text.strip().casefold(), upn_key(text)
    found.sort(
        key=lambda r: (
            key != (r.get("mis_id") or "").casefold() and upn != upn_key(r.get("upn")),
            WAITING_FIRST.get(OUTCOMES.get(r.get("outcome") or "", r.get("outcome") or ""), 9),
        )
    )
    return _answered(store, found, limit, today, unreadable)


PADDED_UP_TO = 4  # the most leading zeros a MIS id typed without them is looked for with


def _with_id(
    store: Store, form: str, limit: int | None, schools: set[str] | None
) -> list[dict[str, Any]]:
    """The records whose MIS id (or UPN) is `form`, exactly."""
    return [
        row
        for row in store.why_search(form, limit=limit, schools=schools, whole=True)
        if row.get("mis_id") == form or upn_key(row.get("upn")) == form
    ]


def _id_forms(digits: str) -> list[str]:
    """A MIS id as typed, then as the MIS may write it: without its leading zeros (00123 for
    123), or with up to PADDED_UP_TO of them (42 for 0042). The others are looked for only when
    no record holds it as typed (an id is one record's), and then every one (007 and 0007 for
    7: the operator tells them apart)."""
    bare = digits.lstrip("0") or "0"
    forms = [digits, bare, *("0" * n + bare for n in range(1, PADDED_UP_TO + 1))]
    return list(dict.fromkeys(forms))


def _answered(
    store: Store,
    found: list[dict[str, Any]],
    limit: int | None,
    today: str | None,
    unreadable: set[str] | None,
) -> list[WhyHit]:
    found = found[:limit] if limit else found
    if unreadable is None:  # (the first read of a corrupt file raises, naming it)
        return _hits(store, found, today, set())
    try:
        return _hits(store, found, today, set())
    except CorruptFile:  # (the schools read each file of theirs only then: seldom so)
        bad = damaged_schools(store, {r["school"] for r in found})
        unreadable.update(bad)
        return _hits(store, found, today, bad)


def _eight_digit_dates(digits: str) -> list[date]:
    """The dates eight digits may be (DDMMYYYY, YYYYMMDD): a date of birth keyed without its
    separators, which a search reads as an MIS id."""
    out: list[date] = []
    for shape in ("%d%m%Y", "%Y%m%d") if len(digits) == 8 else ():
        with contextlib.suppress(ValueError):
            day = datetime.strptime(digits, shape).date()
            if 1900 <= day.year <= 2100 and day not in out:
                out.append(day)
    return out


def _hits(
    store: Store, found: list[dict[str, Any]], today: str | None, bad: set[str]
) -> list[WhyHit]:
    """The hits of the records `found`, as they stand now but those of the schools of `bad`
    (their data files corrupt: as their latest run left them)."""
    settings: dict[str, int] = {}
    cases: dict[str, list[MatchCase]] = {dfe: [] for dfe in bad}
    out = []
    for row in found:
        dfe = row["school"]
        outcome = OUTCOMES.get(row.get("outcome") or "", row.get("outcome") or "")
        reason = row.get("reason") or ""
        hit = WhyHit(
            school=dfe,
            report=row.get("report") or "",
            mis_id=row.get("mis_id") or "",
            forename=row.get("forename") or "",
            surname=row.get("surname") or "",
            dob=row.get("dob"),
            outcome=outcome,
            reason=reason,
            case_id=None,
            username=row.get("username"),
            run_id=row.get("run_id") or "",
        )
        if outcome == "needs_matching":
            if dfe not in cases:
                cases[dfe] = store.cases(dfe, None)
            case = _case_for(cases[dfe], hit.report, hit.mis_id)
            if case is not None:
                hit.case_id = case.case_id
                if case.status != "open":
                    _decided(hit, case)
            else:
                match = _CASE.search(reason)
                hit.case_id = match.group(1) if match else None
        elif outcome == "excluded":
            match = _ENTRY.search(reason)
            hit.exclusion_id = int(match.group(1)) if match else None
        elif outcome in ACCOUNT_OUTCOMES and row.get("leaving_date"):
            hit.leaving = row["leaving_date"]
        elif outcome == "future":
            hit.starts_on = row.get("enrolment_date")
            if hit.starts_on:
                if dfe not in settings:
                    try:
                        settings[dfe] = store.school(dfe).create_before_start_days
                    except UnknownSchool:
                        settings[dfe] = 0
                hit.account_on = account_day(hit.starts_on, settings[dfe])
                leaves = row.get("leaving_date")
                if leaves_first(leaves, hit.account_on, today):
                    hit.leaves_on, hit.account_on = leaves, None
                    hit.reason = (
                        f"{hit.reason}; leaving on {leaves}, by the day its account would be "
                        "made: no account is made"
                    )
                elif today and hit.account_on < today:  # the day passed without a run since
                    hit.account_on = PASSED
        out.append(hit)
    now = [hit for hit in out if hit.school not in bad]  # (the others as the run left them)
    _cases_and_exclusions_now(store, now)
    _since_the_run(store, now)
    _held_since(store, now)
    _requested_ahead(store, now)
    _failed_since(store, now, today)
    _paused_and_waited_for(store, out)
    for hit in out:
        hit.act = _act(hit, today)
        waits = (
            hit.outcome in ("future", "invalid")
            or bool(hit.since)
            or hit.undone
            or bool(hit.leaving)
        )
        if hit.paused and (waits or (hit.outcome == "needs_matching" and not hit.case_open)):
            hit.act += (
                f"; but {hit.school} is paused: no scheduled run comes until it is unpaused "
                f"(`uso-tui school set {hit.school} --paused no`; a force run still runs)"
            )
    return out


def _paused_and_waited_for(store: Store, hits: list[WhyHit]) -> None:
    """Hits of a paused school say so (what they wait for is a scheduled run); a record held
    whole whose account is active needs nothing for its person; an unallocated account that an
    open case of its school offers is matched there rather than restored."""
    schools = {s.dfe: s for s in store.list_schools()}
    held = {h.username for h in hits if h.outcome == "held" and h.username and not h.held_leaver}
    now = store.find_accounts(held, set()) if held else {}
    gone = {
        h.username: h.school
        for h in hits
        if h.username and (h.outcome == "unallocated" or h.held_leaver)
    }
    looks = looks_of(*(h for h in hits if h.username in gone))
    offered = offered_by_cases(gone, offers_near(store, gone, looks))
    for hit in hits:
        school = schools.get(hit.school)
        hit.paused = bool(school and school.paused)
        acc = now.get(hit.username or "")
        if hit.outcome == "held" and not (hit.held_leaver or hit.undone) and acc is not None:
            ours = (acc.link_school, acc.link_report, acc.mis_id) == (
                hit.school,
                hit.report,
                hit.mis_id,
            )
            hit.active_now = acc.status == "active" and ours
        if (got := offered.get(hit.username or "")) and hit.username in gone:
            hit.candidate_of = got


def damaged_schools(store: Store, dfes: Iterable[str]) -> set[str]:
    """The schools of `dfes` whose data file is corrupt (a school gone from the store is not)."""
    bad = set()
    for dfe in dfes:
        try:
            store.exclusions(dfe)
        except UnknownSchool:
            continue
        except CorruptFile:
            bad.add(dfe)
    return bad


def schools_named(store: Store, text: str) -> tuple[str, set[str] | None]:
    """`text` without the DfE numbers of schools of the store among its words, and those (None
    when it names none; a word of that shape that is no school's, an MIS id maybe, stays a
    word; a text of DfE numbers only is searched as it is)."""
    words = text.split()
    shaped = {w for w in words if DFE_RE.match(w)}
    named = shaped & {s.dfe for s in store.list_schools()} if shaped else set()
    rest = [w for w in words if w not in named]
    if not named or not rest:
        return text, None
    return " ".join(rest), named


def _parts_apart(
    store: Store, text: str, limit: int | None, schools: set[str] | None
) -> list[dict[str, Any]]:
    """The records whose names hold each word of `text` that has parts (apostrophes, hyphens:
    "rhys-evans" for Ap Rhys-Evans, indexed whole as "aprhysevans" and by each part) whole, its
    parts together (not O'Neil's "o" and "neil" anywhere: Neil Owen is no hit)."""
    apart = NAME_PARTS.sub(" ", text)
    if apart.split() == text.split() or any(c.isdigit() for c in text):
        return []
    joined = [normalise(w) for w in text.split() if NAME_PARTS.search(w)]
    return [
        row
        for row in store.why_search(apart, limit=limit, schools=schools)
        if all(
            any(j in normalise(row.get(f) or "") for f in ("forename", "surname", "preferred_name"))
            for j in joined
        )
    ]


def _words_joined(
    store: Store, text: str, limit: int | None, schools: set[str] | None
) -> list[dict[str, Any]]:
    """The records found with two neighbouring words of `text` as one: a name the school keys
    as one word, typed apart (names.words_joined). Tried only when nothing else finds a record;
    the first joining that finds some."""
    for joined in words_joined(text):
        found = store.why_search(joined, limit=limit, schools=schools)
        if found:
            return found
    return []


# plan._invalid_reason's words for a date of birth that reads as no day of the calendar
# (up to its closing quote: a linked record's reason goes on, "; its account is left untouched")
_IMPOSSIBLE = re.compile(r"^impossible date of birth '(.*?)'(?:;|$)")


def _rejected_for_dates(
    store: Store, text: str, limit: int | None, schools: set[str] | None
) -> list[dict[str, Any]]:
    """The records rejected for the impossible date of birth `text` names (`why 2015-02-30`,
    with or without names): such a record holds no date, so the search by KEYS cannot find it
    by the one detail an operator read off the school's letter."""
    bad = {date_read(word) for word in impossible_dates(text)}
    if not bad:
        return []
    names = " ".join(w for w in text.split() if date_read(w) is None)
    if names:
        rows = store.why_search(names, limit=None, schools=schools)
    elif schools is not None:
        rows = [r for dfe in sorted(schools) for r in store.why_records(dfe, impossible=True)]
    else:
        rows = store.why_records(impossible=True)  # (picked out by their bytes: a scan)
    out = []
    for row in rows:
        raw = (
            _IMPOSSIBLE.match(row.get("reason") or "") if row.get("outcome") == "invalid" else None
        )
        if (
            raw is not None
            and date_read(raw.group(1)) in bad
            and (schools is None or row["school"] in schools)
        ):
            out.append(row)
    return out[:limit] if limit else out


def _by_username(store: Store, text: str) -> list[dict[str, Any]]:
    """The record a username's account is linked to (or was, before it was unallocated or
    restored): an operator often has only the username."""
    name = text.strip().lower()
    if "." not in name or " " in name:
        return []
    acc = store.find_account(name)
    if acc is None:
        return []
    link: tuple = (acc.link_school, acc.link_report, acc.mis_id)
    if not (acc.mis_id and acc.link_school) and acc.previous_link and acc.status == "active":
        # restored (its link dropped, its own record's kept): the record it had (not a
        # released account's, unallocated: its previous_link is another person's record)
        link = tuple(acc.previous_link.split("/", 2))  # "DFE/report/MIS id"
    if len(link) != 3 or not (link[0] and link[2]):
        return []
    return [
        row
        for row in store.why_search(link[2], limit=WHY_LIMIT)
        if (row["school"], row.get("report"), row.get("mis_id")) == link
    ]


_UPN_SHAPE = re.compile(r"[a-z]\d{11}[0-9a-z]")


def _by_upn_spaced(store: Store, text: str, limit: int | None) -> list[dict[str, Any]]:
    """A UPN typed in groups (`T038 3156 14467`, `P035-368-259-508`), as it is read out over
    the phone or copied from a form: its letters and digits, as UPNs compare (upn_key)."""
    joined = upn_key(text).lower()
    if joined == text.strip().lower() or not _UPN_SHAPE.fullmatch(joined):
        return []
    return store.why_search(joined, limit=limit)


class ExclusionsNow:
    """The exclusion list entries records are on now (DESIGN rule 4), each school's list read
    once (a school no longer in the store has none): `why` and the calendar tell an entry added
    or removed since the run. With `unreadable`, a school whose data file is corrupt is added
    to it and taken as having none (CorruptFile without it)."""

    def __init__(self, store: Store, unreadable: set[str] | None = None) -> None:
        self.store = store
        self._lists: dict[str, list[Exclusion]] = {}
        self.unreadable = unreadable

    def entry(
        self, dfe: str, report: str, mis_id: str, forename: str, surname: str, dob: str | None
    ) -> Exclusion | None:
        entries = self._lists.get(dfe)
        if entries is None:
            try:
                entries = self.store.exclusions(dfe)
            except UnknownSchool:
                entries = []
            except CorruptFile:
                if self.unreadable is None:
                    raise
                self.unreadable.add(dfe)
                entries = []
            self._lists[dfe] = entries
        if not entries:
            return None
        rec = MisRecord(report=report, mis_id=mis_id, forename=forename, surname=surname, dob=dob)
        return excluded(rec, entries)

    def of_hit(self, hit: WhyHit) -> Exclusion | None:
        return self.entry(hit.school, hit.report, hit.mis_id, hit.forename, hit.surname, hit.dob)


def _cases_and_exclusions_now(store: Store, hits: list[WhyHit]) -> None:
    """What an operator changed since the run about each hit's record, as it stands now: a case
    of the record open again (a decision undone: it waits in the queue, whatever the run did);
    the exclusion that kept it out removed since (the next run plans it), or a future starter
    added to the exclusion list since (no account will be made)."""
    open_cases: dict[str, list[MatchCase]] = {}
    exclusions = ExclusionsNow(store)
    for hit in hits:
        dfe = hit.school
        if hit.outcome in DECIDED_OUTCOMES:
            if dfe not in open_cases:
                try:
                    waiting = store.school(dfe).open_cases
                except UnknownSchool:
                    waiting = 0
                open_cases[dfe] = store.cases(dfe) if waiting else []
            case = _case_for(open_cases[dfe], hit.report, hit.mis_id)
            if case is not None and case.status == "open":
                was = hit.username
                hit.reason = (
                    f"{hit.reason} (run {hit.run_id}); since then case {case.case_id} is open "
                    "again (a decision undone)"
                    + (f": {was} is not linked to this record now" if was else "")
                )
                hit.outcome, hit.case_id, hit.username = "needs_matching", case.case_id, None
                continue
        if hit.outcome in ACCOUNT_OUTCOMES and hit.username:
            # on the list, its account made before (an entry makes no account, removes none)
            entry = exclusions.of_hit(hit)
            if entry is not None:
                hit.exclusion_id = entry.id
                hit.reason = (
                    f"{hit.reason}; on the exclusion list (entry {entry.id}), which makes no new "
                    f"account and leaves {hit.username} as it is"
                )
                names = [entry.forename, entry.surname, *([entry.dob] if entry.dob else [])]
                hit.unallocate_by = " ".join(
                    [
                        f"uso-tui exclusion add {dfe}",
                        *(
                            f"--{k} {shlex.quote(v)}"
                            for k, v in zip(("forename", "surname", "dob"), names, strict=False)
                        ),
                        "--unallocate",
                    ]
                )
            continue
        if hit.outcome not in ("excluded", "future"):
            continue
        entry = exclusions.of_hit(hit)
        if hit.outcome == "future" and entry is not None and not hit.username:
            hit.outcome, hit.exclusion_id = "excluded", entry.id
            hit.reason = (
                f"{hit.reason}; on the exclusion list since the run (entry {entry.id}): no "
                "account is made for it"
            )
            hit.account_on = None
        elif hit.outcome == "excluded" and entry is None:
            gone = f"entry {hit.exclusion_id}" if hit.exclusion_id is not None else "its entry"
            hit.since = f"{gone} removed from the exclusion list since: the next run plans it"
            hit.reason = f"{hit.reason}; {hit.since}"
            hit.exclusion_id = None
        elif hit.outcome == "excluded" and entry is not None:
            hit.exclusion_id = entry.id  # (the entry it is on now: one added since the run)


def _since_the_run(store: Store, hits: list[WhyHit]) -> None:
    """Each hit's account as it is now, not as the run left it: an undo, an exclusion, a
    restore or a confirm since changes what the operator is to do."""
    names = {h.username for h in hits if h.username}
    if not names:
        return
    now = store.find_accounts(names, set())
    runs: dict[str, Run | None] = {}
    exclusions = ExclusionsNow(store)
    for hit in hits:
        acc = now.get(hit.username or "")
        if acc is None:
            continue
        ours = (acc.link_school, acc.link_report, acc.mis_id) == (
            hit.school,
            hit.report,
            hit.mis_id,
        )
        if hit.outcome in ACCOUNT_OUTCOMES:
            if acc.status != "active" and acc.extra.get(UNDONE_CREATE):
                hit.since = (
                    f"{hit.username} unallocated since the run: its creation undone "
                    f"({creation_undone_by(acc)}), made by mistake: it is not restored"
                )
                hit.reason = f"{hit.made()}; {hit.since}"
                hit.outcome, hit.undone = "unallocated", True
            elif acc.status != "active":
                hit.since = f"{hit.username} unallocated since the run: {event_words(acc)}"
                hit.reason = f"{hit.made()}; {hit.since}"
                hit.outcome = "unallocated"
                entry = exclusions.of_hit(hit)
                if entry is not None:  # the next run excludes the record: it plans nothing
                    hit.exclusion_id = entry.id
                    hit.reason += f"; on the exclusion list (entry {entry.id})"
            elif not ours:
                hit.since = f"{hit.username} no longer linked to this record: {event_words(acc)}"
                hit.reason = f"{hit.reason}; {hit.since}"
            elif _held_otherwise(acc, hit):  # (an update undone since: the run's names lost)
                hit.since = (
                    f"{hit.username} is {acc.forename} {acc.surname} "
                    f"({acc.dob or 'no date of birth'}) now, not as the record: "
                    f"{event_words(acc)}"
                )
                hit.reason = f"{hit.reason}; {hit.since}"
        elif hit.outcome == "unallocated" and acc.status == "active":
            run = _run(store, runs, hit.run_id)
            held = run is not None and run.status == "held" and hit.username in run.held_usernames
            if held and ours and acc.school == hit.school and run.undone_by:
                # nothing of the run stands: no confirm waits (one is refused); the next run
                # plans the leaver again
                hit.outcome, hit.undone = "held", True
                hit.since = f"run {hit.run_id} undone since ({run.undone_by}): no confirm waits"
                hit.reason = f"{hit.reason}: its unallocation was held; {hit.since}"
            elif held and ours and acc.school == hit.school:
                hit.outcome = "held"
                hit.held_leaver = True
                hit.reason = (
                    f"{hit.reason}: its unallocation is held by run {hit.run_id} "
                    f"({run.hold_reason or 'safety hold'})"
                )
            elif acc.school != hit.school:  # matched to its record at another school since:
                # a confirm of the run leaves it alone
                hit.since = f"{hit.username} now at {acc.school}: {event_words(acc)}"
                hit.active_now = True
                hit.reason = f"{hit.reason}; {hit.since}"
            else:  # restored, or kept by a confirm that left it out, or its unallocation undone
                kept = (  # (untouched since the confirm: not one it unallocated, then undone;
                    # kept by the operator, or not in the review of a run held whole, whose
                    # report applied nothing before the confirm: not one restored before it)
                    run is not None
                    and run.confirmed_by is not None
                    and acc.last_event_at < (run.confirmed_at or "")
                    and (
                        hit.username in run.held_usernames
                        or hit.report in {c.get("report") for c in run.held_whole()}
                    )
                )
                hit.since = (
                    f"{hit.username} kept active: left out when run {hit.run_id} was confirmed"
                    if kept
                    else f"{hit.username} active again: {event_words(acc)}"
                )
                hit.active_now = True
                hit.again = ours  # (a restore drops the link: then the next run leaves it)
                hit.reason = f"{hit.reason}; {hit.since}"


def _requested_ahead(store: Store, hits: list[WhyHit]) -> None:
    """A future starter whose account was requested already (User Request Single: an active
    account of the same names and date of birth in its local authority, linked to no record)
    says so, not that a request would make it sooner. One look across the store for them all."""
    future = [h for h in hits if h.outcome == "future" and not h.leaves_on and h.dob]
    by_role: dict[str, dict[tuple[str, str, str], list[WhyHit]]] = {}
    for hit in future:
        key = (normalise(hit.forename), normalise(hit.surname), hit.dob or "")
        by_role.setdefault(ROLE_OF_REPORT.get(hit.report, ""), {}).setdefault(key, []).append(hit)
    for role, wanted in by_role.items():
        found = [a for a in store.find_people(role, set(), set(wanted)) if a.status == "active"]
        accounts = store.find_accounts({a.username for a in found}, set()) if found else {}
        for acc in sorted(accounts.values(), key=lambda a: a.username, reverse=True):
            key = (normalise(acc.forename), normalise(acc.surname), acc.dob or "")
            for hit in wanted.get(key, ()):
                if not acc.mis_id and acc.school and la_of(acc.school) == la_of(hit.school):
                    hit.requested = acc.username  # (the first by username, set last)
                    hit.requested_how = (
                        "restored"
                        if acc.last_event == "restore"
                        else "requested"
                        if acc.source == "manual"
                        else "made"
                    )
    for hit in future:
        if hit.requested:
            request = " (User Request Single)" if hit.requested_how == "requested" else ""
            hit.reason = (
                f"{hit.reason}; {hit.requested} was {hit.requested_how} for the person "
                f"already{request}"
            )


def _run(store: Store, read: dict[str, Run | None], run_id: str) -> Run | None:
    """The run `run_id`, read once per why (None: a run gone from the store, nothing to show)."""
    if run_id not in read:
        try:
            read[run_id] = store.run(run_id)
        except UnknownRun:
            read[run_id] = None
    return read[run_id]


def _held_otherwise(acc: Any, hit: WhyHit) -> bool:
    """Whether the account linked to the hit's record holds other names or date of birth than
    the record (an undo of the run that updated it, an operator's edit): the next run updates it
    again."""
    return (normalise(acc.forename), normalise(acc.surname), acc.dob) != (
        normalise(hit.forename),
        normalise(hit.surname),
        hit.dob,
    )


def _held_since(store: Store, hits: list[WhyHit]) -> None:
    """A record of an export held whole whose run was undone since: nothing waits for a
    confirm (which would be refused); the school's next run plans the record again."""
    runs: dict[str, Run | None] = {}
    for hit in hits:
        if hit.outcome != "held" or hit.held_leaver:
            continue
        run = _run(store, runs, hit.run_id)
        if run is not None and run.undone_by:
            hit.since = f"run {hit.run_id} undone since ({run.undone_by}): no confirm waits"
            hit.reason = f"{hit.reason}; {hit.since}"
            hit.undone = True


def _failed_since(store: Store, hits: list[WhyHit], today: str | None = None) -> None:
    """A hit from a school whose latest run failed says so: the record is as an older export
    had it, and the person may have changed in the MIS since; a future starter's account,
    due by `today`, has not been made."""
    latest: dict[str, Run | None] = {}
    for hit in hits:
        if hit.school not in latest:
            runs = store.runs(hit.school, limit=1)
            latest[hit.school] = runs[0] if runs else None
        run = latest[hit.school]
        if run is not None and run.status == "failed" and run.run_id != hit.run_id:
            hit.reason = (
                f"{hit.reason} (from run {hit.run_id}: the latest run, {run.run_id}, failed: "
                f"{run.error or 'no reason recorded'})"
            )
            day = hit.account_on  # (a date, or PASSED: gone by)
            due = day is not None and (day == PASSED or (today is not None and day <= today))
            if hit.outcome == "future" and due:
                hit.failed_run = run.run_id
            if hit.leaving and today is not None and hit.leaving <= today:  # (its day has come)
                hit.failed_run = run.run_id


def _decided(hit: WhyHit, case: MatchCase) -> None:
    """A record that waited in `case` when its export was processed, the case decided since:
    what the decision made of it (the account it is linked to, its exclusion), as the next run
    will find it; a case withdrawn by a run or an undo waits for the next run's decision."""
    kind, _, username = (case.decision or "").partition(":")
    by = f"{case.decided_by or '?'} on {(case.decided_at or '?').replace('T', ' ')[:16]}"
    if kind in ("match", "create") and username:
        hit.outcome = "linked" if kind == "match" else "created"
        hit.username = username
        done = "matched to" if kind == "match" else "created"
        hit.reason = hit.decided = f"case {case.case_id} decided by {by}: {done} {username}"
    elif kind == "exclude":
        hit.outcome = "excluded"
        hit.exclusion_id = (case.undo or {}).get("exclusion")
        hit.reason = f"case {case.case_id} decided by {by}: excluded"
    else:
        hit.case_open = False
        hit.reason = (
            f"{hit.reason}; case {case.case_id} closed since ({case.decision or 'resolved'}, "
            f"{by}): the school's next run decides again"
        )


NOT_FOUND_ACCOUNTS = 5  # accounts named when no record is found


def unallocated_besides(store: Store, text: str, hits: list[WhyHit]) -> list[str]:
    """The unallocated accounts `text` finds that no hit is the record of: a leaver's record is
    not in the export any more, so "why was this account removed?" finds only the others of the
    name. One line each (at most NOT_FOUND_ACCOUNTS), saying where to look."""
    mine = {h.username for h in hits if h.username}
    text, _ = schools_named(store, text)
    found = store.search_accounts(text, status="unallocated", limit=NOT_FOUND_ACCOUNTS + len(mine))
    found = [h for h in found if h.username not in mine][:NOT_FOUND_ACCOUNTS]
    now = store.find_accounts([h.username for h in found], set()) if found else {}
    homes = {h.username: h.home for h in found if h.home}
    offered = offered_by_cases(homes, offers_near(store, homes, looks_of(*found)))
    out = []
    for h in found:
        who = f"also {h.username} ({h.forename} {h.surname}, {h.dob or 'no date of birth'})"
        acc = now.get(h.username)
        last = (acc.history[-1] if acc is not None and acc.history else {}) or {}
        if h.username in offered:
            out.append(f"{who}: unallocated; {match_there(h.username, *offered[h.username])}")
        elif acc is None or (
            acc.last_event == "unallocate"
            and bool(last.get("run_id"))
            and last.get("run_id") == acc.unallocated_by_run
        ):
            out.append(
                f"{who}: unallocated, its record no longer in {h.home}'s export; restore it from "
                f"Bulk results (unallocated), or `uso-tui restore {h.username}`, if that is wrong"
            )
        elif acc.last_event.startswith("undo"):
            out.append(
                f"{who}: unallocated by an undo ({event_words(acc)}); the next run of "
                f"{h.home} plans its record again"
            )
        else:
            out.append(
                f"{who}: unallocated by an operator ({event_words(acc)}); restore it from Bulk "
                "results (unallocated) if that is wrong"
            )
    return out


def not_found(store: Store, text: str) -> list[str]:
    """What to say when `text` finds no record in any school's latest export (_not_found), and
    which of its words shaped as a DfE number are no school's (`wood 999-9999`, a school's
    number mistyped, was searched for as a record's word and said nothing of it)."""
    lines = _not_found(store, text)
    shaped = [w for w in text.split() if DFE_RE.match(w)]
    if shaped:
        known = {s.dfe for s in store.list_schools()}
        unknown = [w for w in dict.fromkeys(shaped) if w not in known]
        if unknown:
            lines.insert(
                1,
                f"{', '.join(unknown)}: the DfE number of no school here, looked for as a word "
                "of a record (an MIS id) instead",
            )
    return lines


def _not_found(store: Store, text: str) -> list[str]:
    """What to say when `text` finds no record: its impossible dates if any; else the accounts
    it finds (by username too; an account made by a User Request Single has no record, one
    whose record is gone keeps its details), or where to look next."""
    head = f"no record found for “{text}” in the latest export of any school"
    bad = no_such_dates(text)
    if bad:
        return [f"{head}: {bad}"]
    text, _ = schools_named(store, text)  # (the accounts and names like it, wherever they are)
    if text.strip().isdigit():  # a MIS id (accounts found by it were those born in 20...)
        digits = text.strip()
        as_date = [
            f"{digits} as a date of birth is written {d:%d/%m/%Y} or {d:%Y-%m-%d}: search so"
            for d in _eight_digit_dates(digits)
        ]
        return [
            f"no record has MIS id {digits} in the latest export of any school (nor with its "
            "leading zeros dropped or added)",
            *as_date,
            "a record gone from its export (a leaver, or given another id) is found by the "
            "person's name or date of birth: search for one of them",
            *_blind_spots(store),
        ]
    # the accounts it names come first (Lily Evans left, her account unallocated: the record
    # of her sister Lilly, like it, hid it), then the records of names like it
    hits = store.search_accounts(text, limit=NOT_FOUND_ACCOUNTS + 1)
    upn = upn_key(text)
    if not hits and len(upn) == 13 and upn[1:-1].isdigit():  # a UPN: its accounts, any school
        hits = sorted(
            (hit for role in ROLES for hit in store.find_people(role, {upn}, set())),
            key=lambda hit: (hit.status != "active", hit.username),
        )[: NOT_FOUND_ACCOUNTS + 1]
    near = similar_records(store, text)
    like = []
    if near:
        named = "; ".join(
            f"{r.get('forename') or ''} {r.get('surname') or ''} ({r.get('dob') or 'no date'}, "
            f"{r['school']} MIS id {r.get('mis_id') or '?'})"
            for r in near[:NOT_FOUND_ACCOUNTS]
        )
        more = " and more" if len(near) > NOT_FOUND_ACCOUNTS else ""
        like = [f"records of names like it: {named}{more}: search for one of them"]
    if not hits and (renamed := renamed_lines(store, text, NOT_FOUND_ACCOUNTS)):
        return [
            head,
            *renamed,
            "do: search for the new names (the account opens from them), or open the account "
            "in Users",
            *like,
        ]
    if not hits:
        return (
            [head, *like]
            if like
            else [
                head,
                "not in the MIS exports yet (the school enters or exports the person), or under "
                "other names: try the date of birth alone, or the surname",
                *_blind_spots(store),
            ]
        )
    named = "; ".join(
        f"{h.username} ({h.forename} {h.surname}, {h.dob or 'no date of birth'}, "
        f"{h.school or 'unallocated'})"
        for h in hits[:NOT_FOUND_ACCOUNTS]
    )
    more = " and more: search Users" if len(hits) > NOT_FOUND_ACCOUNTS else ""
    gone = [h for h in hits[:NOT_FOUND_ACCOUNTS] if h.status == "unallocated"]
    homes = {h.username: h.school or h.home for h in hits[:NOT_FOUND_ACCOUNTS]}
    offers = offers_near(store, homes, looks_of(*hits[:NOT_FOUND_ACCOUNTS]))
    offered = offered_by_cases(homes, offers)
    todo = (
        [f"do: {match_there(gone[0].username, *offered[gone[0].username])}"]
        if gone and gone[0].username in offered
        else [
            f"do: if {gone[0].username} should have access again, restore it (its previous "
            f"school's Bulk results, Unallocated, r; or `uso-tui restore {gone[0].username}`)"
        ]
        if gone
        else []
    )
    return [
        head,
        f"but these accounts match it: {named}{more}",
        *todo,
        *_held_leavers(store, hits[:NOT_FOUND_ACCOUNTS]),
        # (the account the do line names is said there)
        *_waiting_in_cases(
            offers, {gone[0].username} if gone and gone[0].username in offered else set()
        ),
        *like,
    ]


HELD_LOOKBACK = 30  # runs of a school read back for the held run its failed retries followed


def _held_leavers(store: Store, hits: list[Any]) -> list[str]:
    """The active accounts found whose unallocation a held run of their school waits to confirm
    (their record is gone from its export: no record of theirs is found)."""
    out = []
    latest: dict[str, Run | None] = {}
    for hit in hits:
        if hit.status != "active" or not hit.school:
            continue
        if hit.school not in latest:
            latest[hit.school] = last_that_ran(store.runs(hit.school, limit=HELD_LOOKBACK))
        run = latest[hit.school]
        if run is None or run.shown_status() != "held" or hit.username not in run.held_usernames:
            continue
        out.append(
            f"{hit.username}: its record is not in {hit.school}'s latest export, and run "
            f"{run.run_id} is held ({run.hold_reason or 'safety hold'}); confirming it "
            f"unallocates {hit.username}: `uso-tui confirm {run.run_id} --except "
            f"{hit.username}` keeps it (Run history, in the console)"
        )
    return out


def _waiting_in_cases(offers: list[tuple[str, MatchCase, Any]], said: set[str]) -> list[str]:
    """The open cases that offer the accounts found (`offers`: case_offers'; one requested ahead
    of its record, or unallocated, is often a case's candidate: deciding the case links it),
    but for the accounts `said` already."""
    return [
        f"{name} is a candidate ({score}%) of {case_named(case)}: decide it in the Matching "
        f"queue of {case.school}"
        for name, case, score in offers
        if name not in said
    ]


def _blind_spots(store: Store) -> list[str]:
    """Where the latest exports cannot show the person: schools whose latest run failed (their
    newer records are not read yet), and schools exporting one report only."""
    schools = store.list_schools()
    out = []
    failed = [s for s in schools if s.last_run_status == "failed"]
    if failed:
        named = failed[:NOT_FOUND_ACCOUNTS]
        # a school no run has read yet holds nobody here (not only those added since)
        never = [s.dfe for s in named if not store.why_heads(s.dfe)]
        unread = (
            f" (no export of {', '.join(never)} read yet: none of its records can be found)"
            if never
            else ""
        )
        sync = f"`uso-tui sync {failed[0].dfe}`" if len(failed) == 1 else "`uso-tui sync DFE`"
        out.append(
            f"the latest run failed at {_some([s.dfe for s in failed])}: a person added there "
            f"since the last export read is not read yet{unread}; mend what the run says, then "
            f"force run the school (f in its page, or {sync})"
        )
        for school in named:  # what to mend, for the schools named
            run = _run(store, {}, school.last_run_id) if school.last_run_id else None
            if run is not None and run.error:
                out.append(f"  {school.dfe} {run.run_id}: {run.error}")
    for report in ("staff", "students"):
        without = [s.dfe for s in schools if report not in s.reports]
        if without:
            out.append(f"{_some(without)} export no {report} (the school's settings, Reports)")
    return out


def _some(dfes: list[str]) -> str:
    """The first NOT_FOUND_ACCOUNTS schools named, then how many more."""
    more = len(dfes) - NOT_FOUND_ACCOUNTS
    return ", ".join(dfes[:NOT_FOUND_ACCOUNTS]) + (f" and {more} more" if more > 0 else "")


def similar_records(store: Store, text: str) -> list[dict[str, Any]]:
    """Records of the latest exports whose names are like each word of `text` though not the
    same: a form the person is also known by (Kate for Katherine), or a slip of the keyboard
    (Jnoes, Cartwight). For a search that finds nothing, so that "not in the exports" is not said
    of a person who is there under their other name."""
    words = [normalise(w) for w in text.split()]
    words = [w for w in words if len(w) >= 2]
    if not words or any(c.isdigit() for c in text):
        return []
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def look_for(looks: set[str]) -> None:
        for look in looks:
            for row in store.why_search(look, limit=WHY_LIMIT):
                rows[(row["school"], row.get("report") or "", row.get("mis_id") or "")] = row

    for word in words:
        looks = {word, *known_as(word)}
        if len(word) >= 5:
            looks.add(word[:3])  # a slip further on in the word
        look_for(looks)
    for word in words:
        if len(word) >= 5 and not any(_near_row(word, row) for row in rows.values()):
            # two letters swapped near its start (Jnoes, Smtih): the swap's first three
            # letters (only for a word nothing near was found for: each look reads every school)
            swaps = {(word[:i] + word[i + 1] + word[i] + word[i + 2 :])[:3] for i in range(3)}
            look_for(swaps - {word[:3]})
    return [row for row in rows.values() if all(_near_row(word, row) for word in words)]


def _near_row(word: str, row: dict[str, Any]) -> bool:
    return any(
        _near(word, normalise(row.get(field) or ""))
        for field in ("forename", "preferred_name", "surname")
    )


def _near(word: str, name: str) -> bool:
    if not name:
        return False
    if name.startswith(word) or word in known_as(name) or name in known_as(word):
        return True
    if len(name) >= 3 and word.startswith(name):  # a short form: Cat for Catherine
        return True
    if name[0] == word[0] and phonetic(name) == phonetic(word):  # Amie for Amy
        return True
    slips = 1 if len(word) < 7 else 2
    return len(word) >= 4 and OSA.distance(word, name, score_cutoff=slips) <= slips
