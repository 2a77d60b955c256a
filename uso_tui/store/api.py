"""The store's API: everything above the store uses only these names.

Layout on disk (all 0700 folders / 0600 files), designed for 3,000 schools and 1.5 million accounts.
Every *.json document but store.json and config.json is a TinyDB database ({table: {id: doc}}):

    DATA_DIR/
      store.json            {"schema": N}: refused when N is newer than this code's SCHEMA_VERSION,
                            raised to it when older (older stores read as they are)
      config.json           {"allowed_mis_hosts": ["127.0.0.1:8765", ...]} (optional, operator-edited)
      .lock                 fcntl.flock: serialises writers across processes (held for a transaction)
      .commit.lock          flock: exclusive while a commit renames its files, shared by readers
      .gate.lock            flock turnstile in front of .commit.lock (readers cannot starve a writer)
      .staging/             a commit's new file versions before they are renamed into place
      journal.json          present only during a multi-file commit (redone on open / next access)
      directory/NNN.json    the school directory (settings + summary), no accounts, no secrets, in
                            256 shards by a hash of the DfE (directory.py): a commit writes only
                            the shards of the schools it changed; each starts with a version token
      directory/version.json  a token changed by every commit of the directory, and each shard's
                            token: one small read says whether a parsed directory is current
                            (recent.json also starts with a version token: parsed once per version)
      secrets/DFE.secret    the client secret, one file per school, nothing else in it
      schools/DFE/data.json accounts, newest runs, open and recent cases, exclusions, record
                            fingerprints and counters of one school (meta: a version token and
                            the hash of its accounts table)
      schools/DFE/runs-archive.json   its older ended runs; cases-archive.json: older resolved cases
      schools/DFE/names.idx compact text index of the school's accounts (index.py), for global
                            search, candidate pools (la_people) and find_people
      schools/DFE/audit/NNNNNNNNNN.json  the school's audit events, one segment per transaction
      schools/DFE/files/RUN_ID.json  last processed files (30 newest kept)
      registry/LA.json      username -> home school, for every username ending in .LA
      recent.json           the newest audit events, moves/creates and runs across all schools (bounded)
      recent/NNNNNNNNNN.json  what each commit adds to it since it was last folded (every 64)
      audit/NNNNNNNNNN.json audit events that belong to no school
      kept.json             pairs of accounts kept apart as different people (store/kept.py)
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from uso_tui.domain.models import (
    Account,
    AuditEvent,
    Exclusion,
    MatchCase,
    PreviousExports,
    ProcessedFile,
    Run,
    School,
)

# The errors live in a leaf module; re-exported here for the callers that import them from the API.
from uso_tui.store.errors import (  # noqa: F401
    CorruptFile,
    DuplicateSchool,
    NewerSchema,
    StoreBusy,
    StoreError,
    UnknownAccount,
    UnknownCase,
    UnknownExclusion,
    UnknownRun,
    UnknownSchool,
)

# 2: a run in progress lives in the school directory (with the run counter) until it ends.
# 5: the directory in shards (directory/), no longer one schools.json.
# 6: names normalised with letters such as ł and ø folded (the index files rekeyed: rekey.py).
# 7: names normalised keeping the vowel signs of scripts that spell with them (rekeyed again).
# 8: the parts of names split at apostrophes (rekeyed again).
# 9: UPNs keyed as their letters and digits only, hyphens and dots dropped (rekeyed again).
# 10: UPNs in full-width characters keyed as their ASCII letters and digits (rekeyed again).
SCHEMA_VERSION = 10


class AccountHit(NamedTuple):
    """One search result, read from the compact index (no account file is opened). A tuple:
    candidate searches make one per account of a local authority.

    The last five are what matching weighs: the account's middle names and its extra gender,
    UPN (stripped, upper-cased) and year group, and the day an unallocated account was
    unallocated (when that year group was last true); None (and "") when it has none, or when
    the index line was written before the index held them."""

    username: str
    role: str
    forename: str
    surname: str
    preferred_name: str
    dob: str | None
    school: str | None
    home: str
    status: str
    middle_names: str = ""
    gender: str | None = None
    upn: str | None = None
    year_group: str | None = None
    unallocated_at: str | None = None


@dataclass(slots=True)
class SchoolState:
    """A school's accounts, exclusions and open cases, all read from one version of its file.

    `version` names that version: a transaction's `school_version` returns the same value while
    nothing has changed the school since (None: cannot be compared, so assume it changed).

    `account_rows`: the accounts as stored (fields at their default left out), fresh from the
    file: a plan reads them as they are and builds Account objects only for the few it changes
    (building all of a school's is a third of the time to read it). `accounts` builds them all.
    """

    dfe: str
    version: str | None
    account_rows: list[dict[str, Any]]
    exclusions: list[Exclusion]
    open_cases: list[MatchCase]
    # report -> fingerprints, for the reports whose accounts are as the run that made them
    # left them (sync.fingerprints); any change to an account since drops them
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    # for each report, the export last taken as the school's (SchoolDoc.previous_counts)
    previous: PreviousExports = field(default_factory=PreviousExports.none)
    _accounts: list[Account] | None = field(default=None, repr=False)
    # The store's parse of the file, which one transaction of this process may take over
    # (Transaction.adopt) instead of reading and parsing the file again; the store's own.
    parsed: Any = field(default=None, repr=False)

    @property
    def accounts(self) -> list[Account]:
        if self._accounts is None:
            self._accounts = [Account.from_row(r) for r in self.account_rows]
        return self._accounts


class Transaction(Protocol):
    """Changes staged under the write lock; committed at once, atomically, when the block exits.

    Reads inside a transaction see the latest committed state (taken under the lock) plus the
    transaction's own staged changes (a school's summary fields are recomputed at commit). An
    exception inside the block discards every change. Transactions do not nest: opening one
    inside another in the same thread raises StoreError.
    """

    operator: str

    # reads (same as Store, but fresh under the lock)
    def school(self, dfe: str) -> School: ...
    def school_accounts(self, dfe: str) -> list[Account]: ...
    def la_accounts(self, la: str, role: str | None = None) -> list[Account]: ...
    def find_people(
        self,
        role: str,
        upns: set[str],
        name_dobs: set[tuple[str, str, str]],
        changed_after: float | None = None,
    ) -> list[AccountHit]:
        """Store.find_people as committed; `changed_after` (time.monotonic()): only at the
        schools whose index was written since a look the store made then."""
        ...

    def account(self, username: str) -> Account: ...
    def find_account(self, username: str) -> Account | None: ...
    def la_usernames(self, la: str) -> frozenset[str]: ...
    def la_arrivals(self, la: str) -> tuple[int, list[tuple[int, str]]]: ...
    def cases(self, dfe: str, status: str | None = "open") -> list[MatchCase]: ...
    def case(self, case_id: str) -> MatchCase: ...
    def exclusions(self, dfe: str) -> list[Exclusion]: ...
    def run(self, run_id: str) -> Run: ...
    def runs(self, dfe: str) -> list[Run]: ...
    def running_runs(self, dfe: str) -> list[Run]:
        """The school's runs in progress in any process (a run whose process died is failed)."""
        ...

    def schools(self) -> list[School]: ...
    def school_version(self, dfe: str) -> str | None:
        """The version of the school's data as committed (see SchoolState); None once this
        transaction has changed it."""
        ...

    def previous_counts(self, dfe: str) -> PreviousExports:
        """For each report, of the export last taken as the school's: how many records it sent
        (the comparison's count before), how many of them were on roll and not started, where
        its run kept them, the accounts whose unallocation its run held (rule 8), where any,
        the day it ran and its run (SchoolDoc.previous_counts)."""
        ...

    def leaving_dates_sent(self, run_id: str) -> dict[tuple[str, str], str | None] | None:
        """Each record's leaving date (None: none) as the export of the run `run_id` sent it,
        by (report, MIS id), from its processed file; None when that file is kept no more."""
        ...

    def adopt(self, state: SchoolState) -> bool:
        """Takes over the file as `state` read it, if it is still the version committed, instead
        of reading it again (the state gives it up: the transaction may change it). Only for a
        school this transaction has not read yet; False when it did not."""
        ...

    # writes
    def add_school(self, school: School, secret: str) -> None: ...
    def put_school(self, school: School) -> None: ...
    def set_secret(self, dfe: str, secret: str) -> None: ...
    def put_operators(self, data: bytes) -> None:
        """operators.json's new content, written with this transaction's audit events."""
        ...

    def new_username(self, forename: str, surname: str, la: str) -> str:
        """A username unique across the store (reserved in this transaction)."""
        ...

    def put_account(self, account: Account) -> None:
        """Insert or replace by username; a change of `home` moves it between school files."""
        ...

    def put_accounts(self, accounts: list[Account]) -> None: ...
    def next_run_id(self, dfe: str) -> str: ...
    def put_run(self, run: Run) -> None: ...
    def next_case_id(self, dfe: str) -> str: ...
    def put_case(self, case: MatchCase) -> None: ...
    def put_cases(self, cases: list[MatchCase]) -> None: ...

    def put_seen(self, dfe: str, report: str, fps: dict[str, int]) -> None:
        """Replaces the report's record fingerprints (sync.fingerprints) in the school's file, as made
        for its accounts as this transaction leaves them."""
        ...

    def add_exclusion(
        self, dfe: str, forename: str, surname: str, dob: str | None, added_at: str
    ) -> Exclusion: ...
    def remove_exclusion(self, dfe: str, exclusion_id: int) -> Exclusion: ...
    def audit(self, event: AuditEvent) -> None: ...
    def audit_many(self, events: list[AuditEvent]) -> None: ...
    def kept_pairs(self) -> frozenset[tuple[str, str]]:
        """Pairs of usernames (sorted) marked as different people: never listed as duplicates."""
        ...

    def kept_rows(self) -> list[dict[str, Any]]:
        """The same pairs as stored (Store.kept_rows), with this transaction's."""
        ...

    def keep_pair(self, username: str, other: str, at: str, seen: str | None = None) -> bool:
        """Marks two accounts as different people as they are (`seen`, what they held: not
        audited here); False if already so."""
        ...

    def forget_pair(self, username: str, other: str) -> bool:
        """Takes back a pair marked as different people (not audited here); False if it was not."""
        ...

    def put_processed_file(
        self,
        pf: ProcessedFile,
        rows_json: bytes | None = None,
        why_draft: tuple[list[bytes], dict[int, Any], set[str]] | None = None,
    ) -> None:
        """rows_json: the records already encoded as a JSON array of rows, one array of values
        per record in the order of PROCESSED_COLUMNS (Plan.rows_json), written as they are in
        place of pf.records. why_draft: the lines of the school's why index drafted from those
        rows while planning (why_index.draft_lines, with the reports they are of)."""
        ...


class Store(Protocol):
    """A data directory. Cheap to open: reads store.json and nothing else until asked."""

    root: Path

    # settings
    def allowed_mis_hosts(self) -> frozenset[str]:
        """config.json's allowed_mis_hosts plus USO_TUI_ALLOWED_MIS_HOSTS."""
        ...

    def set_allowed_mis_hosts(self, hosts: list[str]) -> None: ...

    # schools (the directory: never loads accounts)
    def list_schools(self) -> list[School]: ...
    def school(self, dfe: str) -> School: ...
    def secret(self, dfe: str) -> str: ...
    def has_secret(self, dfe: str) -> bool: ...

    # accounts
    def school_accounts(self, dfe: str) -> list[Account]: ...
    def la_accounts(self, la: str, role: str | None = None) -> list[Account]: ...
    def school_state(self, dfe: str) -> SchoolState:
        """Accounts, exclusions and open cases from one read of the school's file."""
        ...

    def la_people(self, la: str, role: str | None = None) -> list[AccountHit]:
        """Every account homed at the LA's schools, read from their compact name indexes (no
        account file is parsed): what a search for matching candidates needs of them."""
        ...

    def find_people(
        self,
        role: str,
        upns: set[str],
        name_dobs: set[tuple[str, str, str]],
        since: float | None = None,
        changed_after: float | None = None,
    ) -> list[AccountHit]:
        """The accounts of `role` at any school of the store (active or unallocated), from the
        compact name indexes, whose UPN (stripped, upper-cased) is in `upns`, or whose
        (forename key, surname key, date of birth) is in `name_dobs`, the forename key being
        `normalise()` of the account's forename or of its preferred name and the surname key
        `normalise()` of its surname; an empty forename or surname key stands for any (not
        both). Sorted by username. What is committed up to about a second before is seen, or
        everything committed before `since` (time.monotonic()) when given. `changed_after`
        (time.monotonic()): only at the schools whose index was written since a look this
        store object made then (what arrived after it)."""
        ...

    def expect_many_finds(self) -> None:
        """This process will call find_people many times (a run_due worker): it prepares for
        that now (reads what every look needs) rather than at the third call."""
        ...

    def freeing_in_background(self) -> AbstractContextManager[None]:
        """Within it, this process (one that commits often and has an event loop to keep going:
        a run_due worker) has the old versions of the files its commits replace freed by a
        thread of its own rather than by the committing thread, and writes its next commits into
        some of them; leaving it waits until all are freed. Not for a process that forks
        meanwhile."""
        ...

    def free_left_by_the_dead(self) -> None:
        """Frees the old versions that processes which have ended kept (a run_due worker killed
        with hundreds in hand), rather than at the next commit of another process."""
        ...

    def account(self, username: str) -> Account: ...
    def find_account(self, username: str) -> Account | None: ...
    def find_accounts(
        self, usernames: Iterable[str], unreadable: set[str] | None = None
    ) -> dict[str, Account]:
        """The accounts of `usernames` that exist, by username: each local authority's registry
        and each home school's file read once (find_account reads both for each). With
        `unreadable` (a view that shows what it can), a home school whose file is corrupt is
        added to it and its accounts left out, rather than raising CorruptFile."""
        ...

    def la_usernames(self, la: str) -> frozenset[str]:
        """Every username of the local authority (`*.LA`), from its username registry."""
        ...

    def la_arrivals(self, la: str) -> tuple[int, list[tuple[int, str]]]:
        """The accounts that moved into the LA's schools from another LA's: the number the
        next will have, and the recent ones (number, username), in order (store/arrivals.py)."""
        ...

    def search_accounts(
        self,
        text: str = "",
        *,
        school: str | None = None,
        status: str | None = None,
        limit: int | None = 500,
    ) -> list[AccountHit]:
        """Every word of `text` must prefix-match a normalised forename, preferred name, surname,
        username, or equal/prefix the date of birth (YYYY-MM-DD, or DD/MM/YYYY typed)."""
        ...

    def hit_accounts(
        self, hits: list[AccountHit], unreadable: set[str] | None = None
    ) -> list[Account]:
        """The accounts search hits name, in their order (any gone since left out), reading
        only their rows of each home school's file where it can. With `unreadable` (a listing
        across schools), a home school whose file is corrupt is added to it and its accounts
        left out, rather than raising CorruptFile."""
        ...

    def why_search(
        self,
        text: str,
        limit: int | None = 200,
        schools: Iterable[str] | None = None,
        whole: bool = False,
    ) -> list[dict[str, Any]]:
        """The records of every school's latest processed file (of each report; of `schools`
        only, when given) that a search finds (words as search_accounts takes them, matched
        against names, date of birth, MIS id and UPN, as the start of one; `whole`: as the
        whole of one, an MIS id): dicts of why_index.WHY_FIELDS and "school", by surname."""
        ...

    def why_records(
        self, dfe: str | None = None, *, dated: bool = False, impossible: bool = False
    ) -> list[dict[str, Any]]:
        """Every record of the latest processed files (of each report) of one school or all, as
        why_search gives them; `dated`: only future starters and records with a leaving date;
        `impossible`: only records rejected for an impossible date of birth."""
        ...

    def why_heads(self, dfe: str) -> dict[bytes, bytes]:
        """The KEYS of each line of the school's why index, by the rest of its payload
        (why_index.known_heads): what a run drafting the school's next index may reuse."""
        ...

    # cases, exclusions, runs, audit, processed files
    def cases(self, dfe: str, status: str | None = "open") -> list[MatchCase]: ...
    def case(self, case_id: str) -> MatchCase: ...
    def exclusions(self, dfe: str) -> list[Exclusion]: ...
    def runs(self, dfe: str | None = None, limit: int | None = None) -> list[Run]:
        """Newest first; all schools when dfe is None."""
        ...

    def run(self, run_id: str) -> Run: ...
    def audit(
        self, dfe: str | None = None, limit: int | None = None, subject: str | None = None
    ) -> list[AuditEvent]:
        """Newest first. dfe None: the recent feed across all schools."""
        ...

    def processed_files(self, dfe: str) -> list[ProcessedFile]:
        """Newest first, at most 30 (records included)."""
        ...

    def processed_file(self, run_id: str) -> ProcessedFile | None: ...

    def leaving_dates_sent(self, run_id: str) -> dict[tuple[str, str], str | None] | None:
        """As Transaction.leaving_dates_sent."""
        ...

    def running_runs(self, dfe: str | None = None) -> list[Run]:
        """Runs in progress in any process, newest first. A run left "running" by a process that
        has died reads as failed ("interrupted") everywhere."""
        ...

    def latest_moves(self, limit: int | None = None) -> list[AuditEvent]:
        """The newest move and create events across all schools (bounded feed), newest first."""
        ...

    def kept_pairs(self) -> frozenset[tuple[str, str]]:
        """Pairs of usernames (sorted) marked as different people (Transaction.keep_pair)."""
        ...

    def kept_rows(self) -> list[dict[str, Any]]:
        """The same pairs as stored: {"a", "b" (sorted usernames), "by" (operator), "at", and
        "seen" (what the two held when kept; none in a pair kept before it was kept)}."""
        ...

    # writing
    def transaction(
        self, operator: str, *, wait: bool = True
    ) -> AbstractContextManager[Transaction]:
        """wait=False: raises StoreBusy at once if another writer holds the lock."""
        ...


def left_out(dfe: str, what: str) -> str:
    """What a listing across schools says of a school whose data file is corrupt (`what`: what
    of it is not shown, or not as it is now)."""
    return f"the data file of school {dfe} is corrupt (restore it from a backup): {what}"


def unreadable_school(dfe: str) -> str:
    """What a view that shows what it can (find_accounts' `unreadable`) says of a school whose
    data file is corrupt."""
    return (
        f"the data file of school {dfe} is corrupt (restore it from a backup): its candidates "
        "are shown as their case saw them, and cannot be matched until then"
    )
