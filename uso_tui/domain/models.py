"""The domain's records. Dates are ISO strings (`YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS`):
they compare correctly as strings and cost nothing to store or load at 1.5 million accounts."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, NamedTuple

from uso_tui.domain.schools import la_of

Role = Literal["staff", "pupil"]
ROLES: tuple[Role, ...] = ("staff", "pupil")
ReportName = Literal["staff", "students"]
RUN_STATUSES = ("running", "succeeded", "held", "failed", "cancelled")
COUNT_KEYS = (
    "fetched",
    "created",
    "updated",
    "auto_linked",
    "restored",
    "unallocated",
    "held_unallocations",
    "needs_matching",
    "future",
    "invalid",
    "excluded",
    "unchanged",
    # records sent with a leaving date passed (their account, if any, among the unallocated):
    # with them the counts of a run's records add up to what it fetched
    "leaver",
)


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


class _Record:
    """to_dict/from_dict for the store; unknown keys are ignored so older code reads newer files."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = cls._field_names()  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def _field_names(cls) -> frozenset[str]:
        cached = cls.__dict__.get("_names_cache")
        if cached is None:
            cached = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
            cls._names_cache = cached  # type: ignore[attr-defined]
        return cached


@dataclass(slots=True)
class School(_Record):
    dfe: str
    name: str
    mis: str  # "iSAMS" | "Ed:gen"
    url: str
    client_id: str
    reports: list[str] = field(default_factory=lambda: ["staff", "students"])
    daily_at: str = "06:00"
    hold_percent: float = 10.0  # hold when unallocating more than this % of linked accounts ...
    hold_min: int = 10  # ... and at least this many
    create_before_start_days: int = 0
    # Not run by the schedule (a school leaving the network, its MIS being moved, one added by
    # mistake); a force run still runs it.
    paused: bool = False
    created_at: str = ""
    # When daily_at was last changed: a daily time that passed before then was none of the
    # school's (sync.schedule._slot), as one before created_at was not.
    daily_at_since: str = ""
    # ... and the daily time it replaced then ("": not known): whether a run that day before the
    # change was that day's (sync.schedule._ran_before_moved)
    daily_at_was: str = ""
    # Summary kept up to date by the store on every commit, so the home screen never loads accounts.
    last_run_id: str | None = None
    last_run_status: str | None = None
    last_run_at: str | None = None
    last_run_trigger: str | None = None
    last_scheduled_success_at: str | None = None
    # when the scheduled runs since the last that did run failed, newest first (a few): the
    # scheduler waits longer before each retry of the day
    scheduled_failed_at: list[str] = field(default_factory=list)
    # when the newest force or command-line run of every report that ran (succeeded or held)
    # since the last scheduled run that did started: the schedule counts it as the school's run
    last_whole_run_at: str | None = None
    # when the newest few runs that counted as the school's run (scheduled, or forced of every
    # report; succeeded or held) started, newest first: a run stamped by a clock that was ahead
    # is not believed (sync.schedule._last_ran), and the one before it still counts
    counted_runs_at: list[str] = field(default_factory=list)
    open_cases: int = 0
    unallocated_last_run: int = 0
    active_accounts: int = 0

    @property
    def la(self) -> str:
        return la_of(self.dfe)


@dataclass(slots=True)
class Account(_Record):
    username: str
    role: Role
    forename: str
    surname: str
    dob: str | None
    school: str | None  # current school's DfE; None while unallocated
    status: Literal["active", "unallocated"] = "active"
    source: Literal["mis", "manual"] = "manual"
    preferred_name: str = ""
    middle_names: str = ""
    # The link: (link_school, link_report, mis_id). Kept while unallocated so a returning record restores.
    mis_id: str | None = None
    link_school: str | None = None
    link_report: str | None = None
    previous_school: str | None = (
        None  # where an unallocated account was, and where a mover came from
    )
    # A restored account's former link, "DFE/report/MIS id": it relinks automatically only to
    # that record (DESIGN rule 6).
    previous_link: str | None = None
    email: str = ""
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # held MIS fields: year group, form, UPN, title...
    created_at: str = ""
    reviewed: bool = False  # a non-MIS account an operator chose to keep
    unallocated_at: str | None = None
    unallocated_by_run: str | None = None
    last_event: str = ""
    last_event_at: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)  # [{at, action, school, run_id}]
    # The names and date of birth before a run last changed them, {forename, surname, dob, at}:
    # a second change within CHANGE_WINDOW_DAYS is weighed with the first (plan._another_person:
    # an id given again to someone else, one field a day, is still two changes).
    changed_from: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        """An account from its stored dict (fields at their default may be left out), sharing
        nothing mutable with it: only its containers are copied, every other field is immutable."""
        values = {**row, "extra": dict(row.get("extra") or {})}
        values["history"] = [dict(h) for h in row.get("history") or ()]
        try:
            return cls(**values)
        except TypeError:  # a key this version does not know (a newer minor version wrote it)
            return cls.from_dict(values)

    @property
    def home(self) -> str | None:
        """The school whose file holds this account: its school, else where it was."""
        return self.school or self.previous_school or self.link_school

    @property
    def linked(self) -> bool:
        return self.mis_id is not None

    def public(self) -> dict[str, Any]:
        """The `accounts --json` shape (DESIGN section 5): a preferred name not given is null,
        as a record's is (matches, sync --json)."""
        return {
            "username": self.username,
            "role": self.role,
            "forename": self.forename,
            "surname": self.surname,
            "preferred_name": self.preferred_name or None,
            "dob": self.dob,
            "school": self.school,
            "status": self.status,
            "source": self.source,
            "mis_id": self.mis_id,
            "last_event": self.last_event,
            "last_event_at": self.last_event_at,
        }


@dataclass(slots=True, frozen=True)
class MisRecord(_Record):
    """One person in a report export, minimised to the fields DESIGN section 4 lists."""

    report: ReportName
    mis_id: str
    forename: str | None = None
    surname: str | None = None
    preferred_name: str | None = None
    middle_names: str | None = None
    dob: str | None = None  # YYYY-MM-DD when it parsed
    dob_raw: str | None = None  # what IRIS sent when it did not parse (for the invalid reason)
    enrolment_date: str | None = None
    leaving_date: str | None = None
    leaving_raw: str | None = None  # a leaving date sent that did not parse (the record is invalid)
    email: str | None = None
    person_guid: str | None = None
    gender: str | None = None
    year_group: str | None = None
    form_group: str | None = None
    upn: str | None = None
    title: str | None = None
    initials: str | None = None
    system_status: str | None = None
    is_teaching: bool | None = None
    # the fields sent in a form no parser reads ("yearGroup (a list)"): the record is invalid,
    # not read as if they were empty (which would clear them from its account)
    unreadable: str | None = None

    @property
    def role(self) -> Role:
        return "staff" if self.report == "staff" else "pupil"

    def summary(self) -> dict[str, Any]:
        """The `matches --json` record shape."""
        return {
            "mis_id": self.mis_id,
            "forename": self.forename,
            "surname": self.surname,
            "preferred_name": self.preferred_name,
            "dob": self.dob,
        }


# A processed file's row as stored: the record's fields, then its outcome.
PROCESSED_COLUMNS: tuple[str, ...] = (
    *(f.name for f in fields(MisRecord)),
    "outcome",
    "reason",
    "username",
)


UNDO_TRIGGER = "undo"  # the trigger of a run that undid another: it took no export


@dataclass(slots=True)
class Run(_Record):
    run_id: str
    school: str
    trigger: str  # "schedule" | "force" | "cli"
    operator: str
    reports: list[str] = field(default_factory=list)
    status: str = "running"
    started_at: str = ""
    finished_at: str | None = None
    counts: dict[str, int] = field(default_factory=empty_counts)
    error: str | None = None
    dry_run: bool = False
    # Whether it took every report the school had enabled when it started: a force run of them
    # all that succeeds (or is held) counts as the school's run for the schedule (sync.schedule).
    whole: bool = False
    # Held unallocations: usernames that a `confirm` of this run unallocates.
    held_usernames: list[str] = field(default_factory=list)
    # A report held whole by the export comparison (sync.compare): confirming applies it.
    comparison: dict[str, Any] | None = None
    # ... every report's, when more than one was (`comparison` is the first)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    # How many records each report's export sent: the next run's export comparison counts
    # against the newest export taken as the school's (SchoolDoc.previous_counts).
    sizes: dict[str, int] = field(default_factory=dict)
    # ... and how many of them were on roll (no leaving date passed): what the next run's
    # comparison counts, so leavers sent until the MIS drops them at its rollover make no fall
    on_roll: dict[str, int] = field(default_factory=dict)
    # ... and how many of those had not started yet (an enrolment date to come): no more on roll
    # than leavers are, so a new year's intake sent early is no fall when the leavers go
    not_started: dict[str, int] = field(default_factory=dict)
    # Why it is held, per report held ("students: would unallocate 12 of 100 ..."), for the hub.
    hold_reason: str | None = None
    # Why its export may be incomplete, when that held its unallocations: confirming the run
    # then unallocates no one (rule 7: only a complete export says who left).
    incomplete: str | None = None
    # ... and of which reports (none listed: every report's, as runs recorded it before)
    incomplete_reports: list[str] = field(default_factory=list)
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    # The undo run that reverted it (sync.undo): a held run undone is confirmed no more.
    undone_by: str | None = None
    # Who runs it (filled in by the store when a running run is put): a run whose process has died
    # reads as failed "interrupted" instead of blocking its school forever.
    pid: int | None = None
    host: str | None = None
    process_start: int | None = None

    def held_whole(self) -> list[dict[str, Any]]:
        """The export comparison of each report held whole."""
        return held_whole(self.comparisons, self.comparison)

    def public(self) -> dict[str, Any]:
        """The `runs --json` shape."""
        return {
            "run_id": self.run_id,
            "school": self.school,
            "trigger": self.trigger,
            "operator": self.operator,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": dict(self.counts),
            "error": self.error,
            "undone_by": self.undone_by,
        }

    def shown_status(self) -> str:
        """Its status as lists show it: "undone" once an undo run has reverted it (a held run
        then waits for no confirm)."""
        return "undone" if self.undone_by else self.status


class PreviousExports(NamedTuple):
    """For each report, of the export last taken as the school's (what the next export is
    compared with: SchoolDoc.previous_counts): how many records it sent (Run.sizes), of them on
    roll (Run.on_roll) and not started yet (Run.not_started), where its run kept them; the
    accounts whose unallocation its run held (rule 8), where any; the day it ran; the run (its
    processed file lists that export's records)."""

    sizes: dict[str, int]
    on_roll: dict[str, int]
    held: dict[str, frozenset[str]]
    not_started: dict[str, int]
    days: dict[str, str]
    runs: dict[str, str]

    @classmethod
    def none(cls) -> PreviousExports:
        """No export taken before (a school's first run; tests)."""
        return cls({}, {}, {}, {}, {}, {})


def last_that_ran(runs: list[Run]) -> Run | None:
    """The newest of `runs` (newest first) that ran: not one running, failed or cancelled (a
    held run still waits behind the retries that failed after it)."""
    return next((r for r in runs if r.status not in ("running", "failed", "cancelled")), None)


def held_whole(
    comparisons: list[dict[str, Any]] | None, comparison: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """A run's comparisons of the reports it held whole, from its fields (runs recorded before
    `comparisons` keep the first only): Run.held_whole, and over stored runs without making
    Run objects (SchoolDoc.previous_counts, on the daily run's path)."""
    return comparisons or ([comparison] if comparison else [])


@dataclass(slots=True)
class Candidate(_Record):
    username: str
    school: str | None
    score: int  # 0-100
    forename: str = ""
    surname: str = ""
    preferred_name: str = ""
    dob: str | None = None
    status: str = "active"
    differs: list[str] = field(default_factory=list)  # fields that differ from the record
    reasons: list[str] = field(default_factory=list)
    # The matching model's evidence: [field, level, bits] for every field both sides have.
    evidence: list[list[Any]] = field(default_factory=list)
    # The score weighed against this record alone, when other records of the export may be the
    # account's person too (plan._contested): `score` is then the share this record has. The
    # guards (CREATE_GUARD) read this one: the others may be decided otherwise meanwhile.
    alone: int | None = None
    # log2 of its odds weighed alone (evidence and prior: `score` rounds them): what a share of
    # it is reckoned from in a later run, whatever that run has read of the pool
    logit: float | None = None


def alone_score(cand: dict[str, Any]) -> int:
    """A stored candidate's score weighed against its record alone (Candidate.alone)."""
    alone = cand.get("alone")
    return int(alone if alone is not None else cand.get("score") or 0)


@dataclass(slots=True)
class MatchCase(_Record):
    case_id: str
    school: str
    report: str
    role: Role
    record: dict[str, Any]  # MisRecord.to_dict()
    candidates: list[dict[str, Any]]  # Candidate.to_dict(), best first, at most 5
    run_id: str | None = None
    opened_at: str = ""
    status: Literal["open", "resolved"] = "open"
    # When and why a run last gave the open case new candidates or a new record (sync.plan)
    refreshed_at: str | None = None
    refreshed: str | None = None
    # When a run last gave it new candidates (None: as the case opened): each candidate's
    # school and status are as of then
    sought_at: str | None = None
    decision: str | None = None  # "match:<username>" | "create:<username>" | "exclude" | "skip"
    decided_by: str | None = None
    decided_at: str | None = None
    # What undoing the decision needs: the matched account as it was, the created username, or
    # the exclusion id (sync.actions.undo_decision).
    undo: dict[str, Any] | None = None

    def mis_record(self) -> MisRecord:
        return MisRecord.from_dict(self.record)

    def taken_by(self, acc: Account, present: Collection[str] | None = None) -> str | None:
        """The MIS id of another record of this case's school and report that `acc` (one of its
        candidates, as it is now) is linked to: another person's account (a twin's case decided
        first, a later run), which a match would be refused. Given `present`, the MIS ids of the
        school's latest export of the report, a record absent from it (a leaver, its account's
        unallocation held) holds nothing: the account may be this record's person's, as a match
        may take it."""
        if acc.status != "active" or not acc.mis_id or acc.mis_id == self.record.get("mis_id"):
            return None
        if (acc.link_school, acc.link_report) != (self.school, self.report):
            return None
        if present is not None and acc.mis_id not in present:
            return None
        return acc.mis_id

    def public(self) -> dict[str, Any]:
        """The `matches --json` shape."""
        rec = self.mis_record()
        return {
            "case_id": self.case_id,
            "role": self.role,
            "refreshed_at": self.refreshed_at,
            "refreshed": self.refreshed,
            "record": rec.summary(),
            "candidates": [
                {
                    "username": c["username"],
                    "school": c["school"],
                    "status": c.get("status", "active"),
                    "score": c["score"],
                    # shared with other records of the export (plan._contested): this alone
                    "score_alone": alone_score(c),
                    # the evidence for and against (a near date of birth is for)
                    "agree": [f for f, lv, w in c.get("evidence") or () if w > 0],
                    "differ": [f for f, lv, w in c.get("evidence") or () if w <= 0],
                    # the fields whose values are not the record's (`matches`' Unlike column)
                    "unlike": list(c.get("differs") or ()),
                    "evidence": [
                        {"field": f, "level": lv, "weight": w}
                        for f, lv, w in c.get("evidence") or ()
                    ],
                    "reasons": list(c.get("reasons") or ()),
                }
                for c in self.candidates
            ],
        }


@dataclass(slots=True)
class Exclusion(_Record):
    id: int
    school: str
    forename: str
    surname: str
    dob: str | None = None
    added_by: str = ""
    added_at: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "school": self.school,
            "forename": self.forename,
            "surname": self.surname,
            "dob": self.dob,
            "added_by": self.added_by,
            "added_at": self.added_at,
        }


def _none_for_empty(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(values, dict):
        return values
    return {key: None if value == "" else value for key, value in values.items()}


@dataclass(slots=True)
class AuditEvent(_Record):
    at: str
    operator: str
    school: str | None
    action: str  # create, update, link, auto_link, move, unallocate, restore, hold, confirm, ...
    subject: str  # username, case id, run id, school DfE...
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    run_id: str | None = None

    def public(self) -> dict[str, Any]:
        """The `audit --json` shape: a value not given is null there as in every other output
        (a run's account kept "" for a preferred name never given, `account add` null)."""
        return {
            "at": self.at,
            "operator": self.operator,
            "school": self.school,
            "action": self.action,
            "subject": self.subject,
            "before": _none_for_empty(self.before),
            "after": _none_for_empty(self.after),
        }


@dataclass(slots=True)
class ProcessedFile(_Record):
    """A run's export, minimised, with each record's outcome: answers "why no account?"."""

    run_id: str
    school: str
    fetched_at: str
    counts: dict[str, int] = field(default_factory=empty_counts)
    # [{"record": MisRecord.to_dict(), "outcome": str, "reason": str, "username": str | None}]
    records: list[dict[str, Any]] = field(default_factory=list)
    # MIS id -> username of each account the run created (stored apart from the records, which
    # are written as the planner made them; the store puts them back into the rows it reads)
    created: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, doc: dict[str, Any]) -> ProcessedFile:
        """From its stored form: `records` as dicts, or (what runs write, a third of the size)
        `rows`, one array of values per record in the order of `columns`."""
        rows = doc.get("rows")
        if rows is not None:
            columns = doc.get("columns") or list(PROCESSED_COLUMNS)
            outcome_at = columns.index("outcome")
            rec_keys = columns[:outcome_at]
            doc = {
                **doc,
                "records": [
                    {
                        "record": dict(zip(rec_keys, r[:outcome_at], strict=True)),
                        "outcome": r[outcome_at],
                        "reason": r[outcome_at + 1],
                        "username": r[outcome_at + 2],
                    }
                    for r in rows
                ],
            }
        return cls.from_dict(doc)

    def with_created(self) -> ProcessedFile:
        """The records with the created accounts' usernames in their rows."""
        if self.created:
            for row in self.records:
                if row.get("username") is None and row.get("outcome") == "created":
                    row["username"] = self.created.get((row.get("record") or {}).get("mis_id"))
        return self


def some_ids(ids) -> str:
    """The first ten of some MIS ids, for a message (then "..."); a record without one as
    "(no id)" (it was said as nothing: "given to two different records: ")."""
    ids = list(ids)
    return ", ".join(i or "(no id)" for i in ids[:10]) + (" ..." if len(ids) > 10 else "")


@dataclass(slots=True)
class Export:
    """Every page of one report, as fetched. A record repeated identically across pages is kept
    once and its id listed in `repeated_ids`; two different records with one MIS id are both kept
    (the planner marks them invalid)."""

    report: ReportName
    records: list[MisRecord]
    pages: int = 0
    repeated_ids: list[str] = field(default_factory=list)
    # Records sent again identically on the page they were first on (kept once): counted in
    # IRIS's totalCount, a row the MIS holds twice or a copy standing where a record left out
    # was (the planner holds the leavers for an operator); and their MIS ids
    repeated_on_a_page: int = 0
    copied_ids: list[str] = field(default_factory=list)
    # The number of records IRIS said the report holds (totalCount of its first page), if it
    # said: fewer arrived means records may be missing, so their accounts are not unallocated.
    claimed: int | None = None
    # Why the fetch may have missed records besides a short count (IRIS's totals changed while it
    # paged): the planner then holds the unallocations rule 7 would make.
    doubts: list[str] = field(default_factory=list)
    # MIS ids given to two different records on one page: a record's id may be wrong (keyed
    # twice, or its JSON naming the id twice), so another's absence may be no leaving. The
    # planner holds the unallocations for an operator, whose confirmation applies them (the
    # MIS may hold the clash every day: an incomplete export's would never be).
    clashed_ids: list[str] = field(default_factory=list)
    # The ids given to different records on different pages (doubted: records shifting while
    # IRIS paged), each with its records' canonical JSON: fetched again, the very same again is
    # a clash the MIS holds (clashed_ids), not a shift
    moved: dict[str, frozenset[bytes]] = field(default_factory=dict, repr=False, compare=False)
    # Fetched with a sieve (sync.fingerprints): the records it recognised as unchanged, left unparsed
    # (MIS id -> the raw record and the sieve's token for it), the raw record of each record
    # parsed (by MIS id), and the parser, for a record of `same` that must be parsed after all.
    same: dict[str, tuple[dict[str, Any], Any]] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] | None = None
    parse: Callable[[dict[str, Any]], MisRecord] | None = None

    @property
    def size(self) -> int:
        """Every record fetched, parsed or not."""
        return len(self.records) + len(self.same)

    @property
    def missing(self) -> int:
        """How many records fewer than IRIS said arrived (0 when it said nothing or no fewer)."""
        if self.claimed is None:
            return 0
        return max(0, self.claimed - self.size - self.repeated_on_a_page)
