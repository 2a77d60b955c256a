"""The planner's input and output (sync.plan): what it needs from the store (Snapshot), the
outcome of each record, and the plan of one report of one school (Plan: the changes, new
accounts, new and changed match cases, held unallocations), which the runner applies in one
store transaction."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from uso_tui.domain.models import (
    Account,
    Candidate,
    Exclusion,
    MatchCase,
    MisRecord,
    PreviousExports,
    empty_counts,
)
from uso_tui.store.why_index import draft_lines
from uso_tui.sync.matching import CandidateIndex

# A record's values in the order of its fields (a processed file's row begins with them).
_record_values = operator.attrgetter(*(f.name for f in dataclasses.fields(MisRecord)))

# Record outcomes (the processed file and the dry run show them with a reason).
INVALID, FUTURE, LEAVER, EXCLUDED = "invalid", "future", "leaver", "excluded"
UNCHANGED, UPDATED, RESTORED = "unchanged", "updated", "restored"
AUTO_LINKED, NEEDS_MATCHING, CREATED = "auto_linked", "needs_matching", "created"
HELD = "held"


@dataclass
class Snapshot:
    """What the planner needs from the store, for one school and one report.

    `accounts`: every account whose file is this school's (its own, and those unallocated from
    it); or `rows`, the same as stored (store.SchoolState.account_rows). The plan reads rows,
    building Account objects only for those it changes (given accounts, it makes rows of them
    first). `pool(role)`: the local authority's accounts of that role (this school's included),
    loaded only when a record needs matching; the index over them is built once per plan,
    lazily. `index` / `index_for(role)`: a prebuilt index instead, shared across the plans of a
    daily run (runner.PoolCache).
    """

    school: str
    accounts: list[Account] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)
    open_cases: list[MatchCase] = field(default_factory=list)
    pool: Callable[[str], list[Account]] | None = None
    index: CandidateIndex | None = None
    index_for: Callable[[str], CandidateIndex] | None = None  # role -> a shared LA index
    rows: list[dict[str, Any]] | None = None
    # (role, UPNs, {(forename key, surname key, dob)}) -> accounts anywhere in the store with
    # one of the UPNs or the names and date of birth (store.find_people): movers from another
    # local authority. None: the local authority's pool only.
    wide: Callable[[str, set[str], set[tuple[str, str, str]]], list[Any]] | None = None
    # for each report, the export last taken as the school's: what the export comparison counts
    # against (its sizes, on roll, not started; the accounts whose unallocation its run held
    # (rule 8): leavers not on roll, their accounts still active; its day and run: plan._sizes)
    previous: PreviousExports = field(default_factory=PreviousExports.none)
    # run id -> each record's leaving date as that export sent it, by (report, MIS id), None
    # when unknown (store.leaving_dates_sent): read only when a leaver needs it
    sent_before: Callable[[str], dict[tuple[str, str], str | None] | None] | None = None
    # usernames of unallocated accounts -> those an operator may restore (not one a run made
    # by mistake, undone); None: every one (plan._probable_elsewhere)
    restorable: Callable[[list[str]], set[str]] | None = None

    def all_accounts(self) -> list[Account]:
        return self.accounts if self.rows is None else [Account.from_row(r) for r in self.rows]

    def account_rows(self) -> list[dict[str, Any]]:
        """The accounts as rows (an account's fields at their default may be left out)."""
        return self.rows if self.rows is not None else orjson.loads(orjson.dumps(self.accounts))


@dataclass
class RecordOutcome:
    """One record's outcome; a processed file's row is this as JSON (Plan.rows_json)."""

    record: MisRecord
    outcome: str
    reason: str
    username: str | None = None


@dataclass
class AccountChange:
    """An existing account's new state. kind: update, restore, auto_link, unallocate."""

    kind: str
    before: Account
    after: Account
    reason: str = ""

    @property
    def username(self) -> str:
        return self.after.username


@dataclass
class NewCase:
    record: MisRecord
    candidates: list[Candidate]


@dataclass
class CaseChange:
    """An open case refreshed (its record or its candidates changed) or withdrawn (decision
    given as `decision`)."""

    case: MatchCase
    decision: str | None  # None: refreshed, still open
    reason: str
    record: MisRecord | None = None  # a refreshed case's record (as it is now)
    candidates: list[Candidate] | None = None  # a refreshed case's new candidates (None: kept)
    # whether they were sought again (False: as stored, only a shared score weighed again): a
    # case's sought_at says when its candidates' schools and statuses were read
    sought: bool = True


@dataclass
class Plan:
    school: str
    report: str
    role: str
    today: str
    outcomes: list[RecordOutcome] = field(default_factory=list)
    changes: list[AccountChange] = field(default_factory=list)
    creates: list[MisRecord] = field(default_factory=list)
    new_cases: list[NewCase] = field(default_factory=list)
    case_changes: list[CaseChange] = field(default_factory=list)
    held: list[Account] = field(default_factory=list)  # unallocations held for confirmation
    hold_reason: str | None = None
    # why the export may be incomplete (plan._short_of), when its absent records' accounts are
    # held for it: rule 7 unallocates only for a complete export, confirmed or not
    incomplete: str | None = None
    # The export comparison when the report is held whole (sync.compare): nothing applied.
    comparison: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=empty_counts)
    # the export's records on roll: none whose leaving date has passed (Run.on_roll)
    on_roll: int = 0
    # ... of them, those not started yet: an enrolment date to come (Run.not_started)
    not_started: int = 0
    candidates_searched: int = 0
    # Records the sieve recognised as unchanged (sync.fingerprints): their processed-file rows
    # (PROCESSED_COLUMNS), not in `outcomes` (they were never parsed); the processed file lists
    # them after the others.
    same_rows: list[tuple] = field(default_factory=list)
    # The report's fingerprints after this plan (MIS id -> fingerprint), when the export kept
    # its raw records (None: the stored ones are left as they are)
    seen: dict[str, int] | None = None
    # The accounts found anywhere in the store for the records searched (found_elsewhere):
    # another found under the lock for a record to create arrived since (fresh.py)
    elsewhere_seen: frozenset[str] = frozenset()
    # time.monotonic() before that look, in the process that planned (None: not known)
    looked_at: float | None = None
    # the UPNs the local authority's accounts hold as dummies (not looked for by that look)
    placeholder_upns: frozenset[str] = frozenset()
    # how many accounts the run's WrittenSinceWatch held for the plan's LA and role when it was
    # made (fresh.py: those its candidate pool held too; None: not known, all are checked)
    written_mark: int | None = None
    _rows_json: bytes | None = field(default=None, repr=False, compare=False)
    _why_draft: tuple[list[bytes], dict[int, Any]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def is_held(self) -> bool:
        return self.hold_reason is not None

    def rows_json(self) -> bytes:
        """Each record's outcome as the processed file keeps it: one JSON array of rows, each
        the values of PROCESSED_COLUMNS (a third of the size of a dict per record). Made once:
        the runner makes it while planning, outside the store's lock."""
        if self._rows_json is None:
            self._rows_json = orjson.dumps(self.rows())
        return self._rows_json

    def rows(self) -> list[tuple]:
        """Each record's processed-file row (the values of PROCESSED_COLUMNS)."""
        rows = [(*_record_values(o.record), o.outcome, o.reason, o.username) for o in self.outcomes]
        rows.extend(self.same_rows)
        return rows

    def why_draft(
        self, heads: dict[bytes, bytes] | None = None
    ) -> tuple[list[bytes], dict[int, Any]]:
        """The lines of the school's why index for this report, drafted outside the store's
        lock (why_index.draft_lines; `heads`: the KEYS of the school's index as it is, to reuse
        for the records whose line is unchanged). Made once."""
        if self._why_draft is None:
            self._why_draft = draft_lines(self.rows(), heads)
        return self._why_draft

    def summary_lines(self) -> list[str]:
        """A dry run's printout: counts, then every record's outcome and the changes."""
        lines = [
            f"{self.school} {self.report}: "
            + ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        ]
        for outcome in self.outcomes:
            record = outcome.record
            who = f"{record.forename or '?'} {record.surname or '?'} ({record.dob or record.dob_raw or 'no dob'})"
            user = f" -> {outcome.username}" if outcome.username else ""
            lines.append(
                f"  {record.mis_id or '-'}: {who}: {outcome.outcome}: {outcome.reason}{user}"
            )
        for change in self.changes:
            if change.kind == "unallocate":
                lines.append(f"  unallocate {change.username}: {change.reason}")
        if self.hold_reason:
            lines.append(f"  HELD: {self.hold_reason}")
            lines.extend(f"  held: would unallocate {a.username}" for a in self.held)
        return lines
