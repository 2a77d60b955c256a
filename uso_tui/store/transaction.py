"""TinyTransaction: changes staged in memory under the write lock, written at once at commit.

Each file is read at most once per transaction (school data, registries, the directory) and
written whole at most once, through one journal commit.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from uso_tui.domain.collector import gc_paused
from uso_tui.domain.models import (
    PROCESSED_COLUMNS,
    Account,
    AuditEvent,
    Exclusion,
    MatchCase,
    PreviousExports,
    ProcessedFile,
    Run,
    School,
)
from uso_tui.domain.names import make_username
from uso_tui.domain.schools import check_dfe, la_of
from uso_tui.store.api import (
    AccountHit,
    DuplicateSchool,
    SchoolState,
    StoreError,
    Transaction,
    UnknownCase,
    UnknownExclusion,
    UnknownRun,
    UnknownSchool,
)
from uso_tui.store.arrivals import read_arrivals, with_arrivals
from uso_tui.store.audit import (
    RECENT_DELTAS,
    Recent,
    delta_doc,
    delta_name,
    merged_meta,
    segment_doc,
    segment_name,
)
from uso_tui.store.by_name import AccountsByName
from uso_tui.store.codec import (
    accounts_from_staged,
    from_doc,
    from_docs,
    slim_account,
    to_doc,
    to_docs,
)
from uso_tui.store.directory import StagedDirectory, stage_shards
from uso_tui.store.index import build_index, index_fields, index_line
from uso_tui.store.journal import Commit
from uso_tui.store.kept import KeptWrites
from uso_tui.store.layout import (
    Layout,
    la_of_username,
    school_of_case,
    school_of_run,
    seq_of,
)
from uso_tui.store.leaving_dates import leaving_dates
from uso_tui.store.liveness import identity, is_stale
from uso_tui.store.people import describes, staged_keys
from uso_tui.store.recent_schools import RecentSchools
from uso_tui.store.schooldoc import (
    NEXT_RUN_KEY,
    PRIVATE_KEYS,
    RUNNING_KEY,
    SUMMARY_FIELDS,
    SchoolDoc,
    archived_case,
    last_run_fields,
    merged_runs,
)
from uso_tui.store.storage import (
    as_table,
    encode,
    make_dir,
    read_remade,
    read_table,
    table_rows,
)
from uso_tui.store.version_cache import head_token, meta_table, new_token
from uso_tui.store.why_index import staged_from_draft, staged_index

if TYPE_CHECKING:
    from pathlib import Path

    from uso_tui.store.audit import Deltas
    from uso_tui.store.directory import DirectoryCache, DirectoryView
    from uso_tui.store.layout import Layout
    from uso_tui.store.version_cache import VersionCache

PROCESSED_FILES_KEPT = 30
# Usernames are generated (`jsmith3.204`); anything with white space or a path in it is refused.
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._'-]*$")


def registry_doc(mapping: dict[str, str], token: str) -> dict[str, Any]:
    """A registry file; its version token first, so a process reuses its parse while current."""
    return {"meta": meta_table(token), "registry": {"1": mapping}}


def registry_extended(
    raw: bytes, token: str, new_token: str, added: dict[str, str]
) -> bytes | None:
    """The registry file `raw` (version `token`) with `added` appended, as registry_doc would
    encode the whole (a registry only grows between moves): a few bytes copied instead of
    tens of thousands of entries encoded at every commit. None if `raw` is not such a file."""
    head = _registry_head(token)
    if not raw.startswith(head) or not raw.endswith(b"}}}"):
        return None
    body = raw[len(head) : -3]
    more = orjson.dumps(added)[1:-1]
    if body and more:
        more = b"," + more
    return _registry_head(new_token) + body + more + b"}}}"


def _registry_head(token: str) -> bytes:
    """How registry_doc's encoding starts, up to the first entry."""
    return b'{"meta":{"1":{"version":"' + token.encode() + b'"}},"registry":{"1":{'


def _names_keys(doc: SchoolDoc, index: bytes, old: bytes | None, old_keys: bytes | None) -> bytes:
    """The school's names.keys for its new `index` (people.py): the keys of the lines that
    changed added to those of the old index (described by `old_keys`, its key file)."""
    changed = doc.index_changed
    if old is None or changed is None:
        return staged_keys(index, b"", 0, None, None)
    fresh = b"".join(index_line(doc.accounts[u]).encode() for u in changed if u in doc.accounts)
    return staged_keys(index, fresh, len(changed), old, old_keys)


def _archive(commit: Commit, path: Path, table: str, key: str, old: list[dict[str, Any]]) -> None:
    """Appends `old` (oldest first) to a school's archive of `table`; an entry archived again (a
    case reopened since) replaces its earlier copy."""
    if not old:
        return
    again = {d[key] for d in old}
    kept = [d for d in read_table(path, table) if d[key] not in again]
    commit.write(path, encode({table: as_table(kept + old)}))


def registry_map(data: dict[str, Any] | None) -> dict[str, str]:
    rows = table_rows(data, "registry")
    return rows[0] if rows else {}


def registry_of(path: Path) -> dict[str, str]:
    """An LA's registry file as username -> home school (checked: CorruptFile naming it)."""
    rows = read_table(path, "registry")
    return rows[0] if rows else {}


def _settings_and_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """A directory entry without the store's private keys (running runs, run counter)."""
    return {k: v for k, v in entry.items() if k not in PRIVATE_KEYS}


class TransactionSource(Protocol):
    """What a transaction needs of the store that opens it (TinyStore): where the files are, the
    caches it keeps current when it commits, and three reads of the committed state."""

    layout: Layout
    hot: VersionCache  # parsed files by version: the recent feed and registries
    dir_cache: DirectoryCache  # the school directory, parsed per shard
    deltas: Deltas  # the recent feed's deltas, parsed
    recent_schools: RecentSchools  # rows of the schools read last

    def directory(self) -> DirectoryView: ...

    def feed_parts(self) -> tuple[dict[str, Any] | None, list[int], list[dict[str, Any]]]: ...

    def find_people(
        self,
        role: str,
        upns: set[str],
        name_dobs: set[tuple[str, str, str]],
        since: float | None = None,
        changed_after: float | None = None,
    ) -> list[AccountHit]: ...


@dataclass(slots=True)
class _Feed:
    """What a commit wrote of the recent feed: a new recent.json (its token and document) or
    one delta (its number and document)."""

    recent_token: str = ""
    recent_doc: Any = None
    new_delta: tuple[int, Any] | None = None


class TinyTransaction(AccountsByName, KeptWrites, Transaction):
    def __init__(self, store: TransactionSource, operator: str) -> None:
        self.operator = operator
        self._store = store
        self._lay = store.layout
        self._dir: StagedDirectory | None = None
        self._docs: dict[str, SchoolDoc] = {}
        self.names_written: set[str] = set()  # the schools whose names.idx a commit wrote
        self._regs: dict[str, dict[str, str]] = {}
        self._regs_dirty: set[str] = set()
        # la -> (version token, bytes) of the registry file each copy in _regs was made from,
        # and the usernames added to it since; a move (an entry changed) rewrites it whole
        self._reg_base: dict[str, tuple[str | None, bytes | None]] = {}
        self._reg_added: dict[str, dict[str, str]] = {}
        self._reg_moved: set[str] = set()
        self._arrivals: dict[str, list[str]] = {}  # la -> accounts moved in from another LA
        self._reserved: set[str] = set()
        self._secrets: dict[str, str] = {}
        self._operators: bytes | None = None
        self._events: dict[str | None, list[dict[str, Any]]] = {}
        self._events_in_order: list[dict[str, Any]] = []  # for the recent feed
        self._runs_put: dict[str, dict[str, Any]] = {}
        self._files: dict[tuple[str, str], bytes] = {}  # encoded when put: nothing copies it
        self._why: dict[str, bytes] = {}  # school -> its why.idx (why_index.py)
        self._new_schools: set[str] = set()
        self._closed = False
        # Made under the lock: what other processes committed before now is read, not a
        # cached view of it (find_people)
        self._began = time.monotonic()

    def __repr__(self) -> str:
        return f"<TinyTransaction operator={self.operator!r} root={str(self._lay.root)!r}>"

    # ---- loading (each file once per transaction)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("this transaction has ended")

    def _directory(self) -> StagedDirectory:
        self._check_open()
        if self._dir is None:
            # Over the shared view: the entries this transaction changes are kept beside it.
            self._dir = StagedDirectory(self._store.directory())
        return self._dir

    def _entry(self, dfe: str) -> dict[str, Any]:
        entry = self._directory().get(dfe)
        if entry is None:
            raise UnknownSchool(f"unknown school {dfe!r}")
        return entry

    def _running(self, dfe: str) -> list[dict[str, Any]]:
        """The school's running runs as the directory has them (shared dicts: never mutated)."""
        return list(self._entry(dfe).get(RUNNING_KEY) or [])

    def _set_entry(self, dfe: str, changes: dict[str, Any]) -> None:
        self._directory()[dfe] = {**self._entry(dfe), **changes}

    def _doc(self, dfe: str) -> SchoolDoc:
        doc = self._docs.get(dfe)
        if doc is None:
            self._entry(dfe)
            with gc_paused():
                doc = SchoolDoc.load(dfe, self._lay.data(dfe))
            doc.settle_stale_runs()
            self._docs[dfe] = doc
        return doc

    def _reg(self, la: str) -> dict[str, str]:
        reg = self._regs.get(la)
        if reg is None:
            # A copy of the shared parse (this transaction may add to it).
            path = self._lay.registry_file(la)
            shared, token, raw = self._store.hot.get_version(path, registry_map, keep_raw=True)
            reg = self._regs[la] = dict(shared)
            self._reg_base[la] = (token, raw)
        return reg

    def _home_of(self, username: str) -> str | None:
        return self._reg(la_of_username(username)).get(username)

    # ---- reads

    def school(self, dfe: str) -> School:
        return from_doc(School, _settings_and_summary(self._entry(dfe)))

    def schools(self) -> list[School]:
        directory = self._directory()
        return from_docs(School, [_settings_and_summary(directory[k]) for k in sorted(directory)])

    def school_accounts(self, dfe: str) -> list[Account]:
        with gc_paused():
            return accounts_from_staged(list(self._doc(dfe).accounts.values()))

    def la_accounts(self, la: str, role: str | None = None) -> list[Account]:
        docs: list[dict[str, Any]] = []
        with gc_paused():
            for dfe in sorted(self._directory()):
                if la_of(dfe) == la:
                    accounts = self._doc(dfe).accounts.values()
                    docs.extend(a for a in accounts if role is None or a["role"] == role)
            return accounts_from_staged(docs)

    def find_people(
        self,
        role: str,
        upns: set[str],
        name_dobs: set[tuple[str, str, str]],
        changed_after: float | None = None,
    ) -> list[AccountHit]:
        """Store.find_people as committed, every commit before the lock seen (this
        transaction's own accounts are in its LA); `changed_after` (time.monotonic()): only at
        the schools whose index was written since (what arrived after a look made then)."""
        self._check_open()
        return self._store.find_people(role, upns, name_dobs, self._began, changed_after)

    def la_arrivals(self, la: str) -> tuple[int, list[tuple[int, str]]]:
        """Store.la_arrivals as committed."""
        self._check_open()
        return read_arrivals(self._lay.arrivals_file(la))

    def find_account(self, username: str) -> Account | None:
        self._check_open()
        home = self._home_of(username)
        if home is None or home not in self._directory():
            return None
        stored = self._doc(home).accounts.get(username)
        return accounts_from_staged([stored])[0] if stored is not None else None

    def la_usernames(self, la: str) -> frozenset[str]:
        return frozenset(self._reg(la))

    def cases(self, dfe: str, status: str | None = "open") -> list[MatchCase]:
        return from_docs(MatchCase, self._doc(dfe).cases_in_order(status))

    def case(self, case_id: str) -> MatchCase:
        dfe = school_of_case(case_id)
        stored = None
        if dfe in self._directory():  # else from the archive: resolved long ago
            stored = self._doc(dfe).cases.get(case_id) or archived_case(
                self._lay.cases_archive(dfe), case_id
            )
        if stored is None:
            raise UnknownCase(f"unknown case {case_id!r}")
        return from_doc(MatchCase, stored)

    def exclusions(self, dfe: str) -> list[Exclusion]:
        return from_docs(Exclusion, self._doc(dfe).exclusions_in_order())

    def run(self, run_id: str) -> Run:
        dfe = school_of_run(run_id)
        stored = None
        if dfe in self._directory():
            stored = self._doc(dfe).runs.get(run_id)
            if stored is None:
                stored = next((r for r in self._running(dfe) if r["run_id"] == run_id), None)
        if stored is None:
            raise UnknownRun(f"unknown run {run_id!r}")
        return from_doc(Run, stored)

    def runs(self, dfe: str) -> list[Run]:
        doc = self._doc(dfe)
        return from_docs(Run, merged_runs(doc.runs, doc.settle_running(self._running(dfe))))

    def school_version(self, dfe: str) -> str | None:
        doc = self._docs.get(dfe)
        if doc is not None:
            return None if doc.dirty else doc.version
        self._entry(dfe)
        return head_token(self._lay.data(dfe))  # 64 bytes, not the whole file

    def previous_counts(self, dfe: str) -> PreviousExports:
        return self._doc(dfe).previous_counts()

    def leaving_dates_sent(self, run_id: str) -> dict[tuple[str, str], str | None] | None:
        dfe = school_of_run(run_id)
        # (read as it is: the write lock held, no commit is under way)
        if dfe not in self._directory():
            return None
        return leaving_dates(self._lay.processed_file(dfe, run_id))

    def adopt(self, state: SchoolState) -> bool:
        # The adopted rows are shared with what the state gave its reader (account rows, cases):
        # this class replaces a stored row when it changes one, never edits it in place.
        doc, state.parsed = state.parsed, None  # one transaction may have it: it changes it
        dfe = state.dfe
        if not isinstance(doc, SchoolDoc) or doc.dirty or doc.version is None or dfe in self._docs:
            return False
        self._entry(dfe)
        if head_token(self._lay.data(dfe)) != doc.version:
            return False
        doc.settle_stale_runs()
        self._docs[dfe] = doc
        return True

    def running_runs(self, dfe: str) -> list[Run]:
        """The school's runs in progress; a run whose process died is not (read from the
        directory alone: starting a run does not load the school's data)."""
        rows = {r["run_id"]: r for r in self._running(dfe) if not is_stale(r)}
        doc = self._docs.get(dfe)
        if doc is not None:  # its ends and older stores' running runs (settled when loaded)
            for run_id, run in doc.runs.items():
                if run["status"] == "running":
                    rows[run_id] = run
                else:
                    rows.pop(run_id, None)
        return from_docs(Run, merged_runs({}, list(rows.values())))

    # ---- writes

    def add_school(self, school: School, secret: str) -> None:
        dfe = check_dfe(school.dfe)
        if dfe in self._directory():
            raise DuplicateSchool(f"school {dfe} already exists")
        if self._lay.data(dfe).exists():
            # its file without its entry: the directory was damaged (no school is ever taken
            # out of it), and adding the school again would write over its accounts and runs
            raise DuplicateSchool(
                f"school {dfe} has a file in the store ({self._lay.data(dfe)}) though the "
                "directory does not list it: the directory is damaged; restore the data "
                "directory from a backup"
            )
        self._check_secret(secret)
        entry = to_doc(school)
        doc = SchoolDoc(dfe)
        doc.dirty = doc.index_dirty = True
        doc.index_changed = None
        entry.update(doc.summary())
        entry[NEXT_RUN_KEY] = doc.meta["next_run"]
        self._directory()[dfe] = entry
        self._docs[dfe] = doc
        self._secrets[dfe] = secret
        self._new_schools.add(dfe)

    def put_school(self, school: School) -> None:
        """Replace a school's settings; the summary fields stay the store's own."""
        old = self._entry(school.dfe)
        entry = to_doc(school)
        for key in (*SUMMARY_FIELDS, *PRIVATE_KEYS):
            if key in old:
                entry[key] = old[key]
        self._directory()[school.dfe] = entry

    @staticmethod
    def _check_secret(secret: str) -> None:
        if not isinstance(secret, str) or not secret.strip():
            raise StoreError("the client secret is empty")

    def set_secret(self, dfe: str, secret: str) -> None:
        self._entry(dfe)
        self._check_secret(secret)
        self._secrets[dfe] = secret

    def put_operators(self, data: bytes) -> None:
        self._check_open()
        self._operators = data

    def new_username(self, forename: str, surname: str, la: str) -> str:
        reg = self._reg(la)
        reserved = self._reserved
        name = make_username(forename, surname, la, lambda u: u in reg or u in reserved)
        reserved.add(name)
        return name

    def put_account(self, account: Account) -> None:
        self.put_accounts([account])

    def put_accounts(self, accounts: list[Account]) -> None:
        self._check_open()
        if not accounts:
            return
        with gc_paused():
            docs = [slim_account(d) for d in to_docs(accounts)]
        directory = self._directory()
        for account_doc in docs:
            username = account_doc["username"]
            if not _USERNAME_RE.match(username or ""):
                raise StoreError(f"invalid username {username!r}")
            home = (
                account_doc.get("school")
                or account_doc.get("previous_school")
                or account_doc.get("link_school")
            )
            if home is None:
                raise StoreError(f"account {username} has no school, previous or linked school")
            if home not in directory:
                raise UnknownSchool(f"unknown school {home!r} (account {username})")
            la = la_of_username(username)
            reg = self._reg(la)
            old_home = reg.get(username)
            if old_home is not None and old_home != home and old_home in directory:
                old_doc = self._doc(old_home)
                if old_doc.accounts.pop(username, None) is not None:
                    old_doc.dirty = old_doc.index_dirty = old_doc.accounts_changed = True
                    if old_doc.index_changed is not None:
                        old_doc.index_changed.add(username)  # its line leaves that index
            doc = self._doc(home)
            prev = doc.accounts.get(username)
            if prev is None or index_fields(prev) != index_fields(account_doc):
                doc.index_dirty = True
                if doc.index_changed is not None:
                    doc.index_changed.add(username)
            doc.accounts[username] = account_doc
            doc.dirty = doc.accounts_changed = True
            if old_home != home:
                reg[username] = home
                self._regs_dirty.add(la)
                if old_home is None:
                    self._reg_added.setdefault(la, {})[username] = home
                else:
                    self._reg_moved.add(la)
                    if la_of(old_home) != la_of(home):
                        self._arrivals.setdefault(la_of(home), []).append(username)
            self._reserved.discard(username)

    def next_run_id(self, dfe: str) -> str:
        number = self._entry(dfe).get(NEXT_RUN_KEY)
        if number is None:  # a store from before the counter moved into the directory
            number = self._doc(dfe).meta["next_run"]
        self._set_entry(dfe, {NEXT_RUN_KEY: number + 1})
        return f"{dfe}-r{number}"

    def put_run(self, run: Run) -> None:
        """A running run goes to the directory only; a run that has ended to the school's file
        (and leaves the directory's running runs)."""
        run_doc = to_doc(run)
        dfe = run.school
        running = self._running(dfe)
        others = [r for r in running if r["run_id"] != run.run_id]
        if run_doc["status"] == "running":
            if not run_doc.get("pid"):
                run_doc.update(
                    identity()
                )  # lets other processes see when this run's process has died
            changes = {RUNNING_KEY: [*others, run_doc]}
            newest = merged_runs({}, changes[RUNNING_KEY])[0]
            if newest["run_id"] == run.run_id:
                changes.update(last_run_fields(run_doc))
            self._set_entry(dfe, changes)
        else:
            doc = self._doc(dfe)
            doc.runs[run.run_id] = run_doc
            doc.dirty = True
            if len(others) != len(running):
                self._set_entry(dfe, {RUNNING_KEY: others})
        self._runs_put[run.run_id] = run_doc

    def next_case_id(self, dfe: str) -> str:
        doc = self._doc(dfe)
        number = doc.meta["next_case"]
        doc.meta["next_case"] = number + 1
        doc.dirty = True
        return f"{dfe}-c{number}"

    def put_case(self, case: MatchCase) -> None:
        self.put_cases([case])

    def put_cases(self, cases: list[MatchCase]) -> None:
        for case_doc in to_docs(cases):
            doc = self._doc(case_doc["school"])
            doc.cases[case_doc["case_id"]] = case_doc
            doc.dirty = True

    def put_seen(self, dfe: str, report: str, fps: dict[str, int]) -> None:
        self._check_open()
        doc = self._doc(dfe)
        doc.seen = {**doc.seen, report: fps}  # replaced, not edited: see adopt
        doc.seen_put = doc.seen_put | {report}  # stamped with the accounts when written
        doc.dirty = True

    def add_exclusion(
        self, dfe: str, forename: str, surname: str, dob: str | None, added_at: str
    ) -> Exclusion:
        doc = self._doc(dfe)
        number = doc.meta["next_exclusion"]
        doc.meta["next_exclusion"] = number + 1
        ex = Exclusion(
            id=number,
            school=dfe,
            forename=forename,
            surname=surname,
            dob=dob,
            added_by=self.operator,
            added_at=added_at,
        )
        doc.exclusions[number] = to_doc(ex)
        doc.dirty = True
        return ex

    def remove_exclusion(self, dfe: str, exclusion_id: int) -> Exclusion:
        doc = self._doc(dfe)
        try:
            removed = doc.exclusions.pop(int(exclusion_id), None)
        except (TypeError, ValueError):
            removed = None
        if removed is None:
            raise UnknownExclusion(f"no exclusion {exclusion_id} at {dfe}")
        doc.dirty = True
        return Exclusion.from_dict(removed)

    def audit(self, event: AuditEvent) -> None:
        self.audit_many([event])

    def audit_many(self, events: list[AuditEvent]) -> None:
        self._check_open()
        for event_doc in to_docs(events):
            self._events.setdefault(event_doc.get("school"), []).append(event_doc)
            self._events_in_order.append(event_doc)

    def put_processed_file(
        self,
        pf: ProcessedFile,
        rows_json: bytes | None = None,
        why_draft: tuple[list[bytes], dict[int, Any], set[str]] | None = None,
    ) -> None:
        self._entry(pf.school)
        if rows_json is None:
            data = encode({"processed_file": {"1": pf}})
        else:  # spliced in as it is: a school's records are not parsed again to be written
            doc = {**to_doc(pf), "records": [], "columns": PROCESSED_COLUMNS, "rows": None}
            head = encode({"processed_file": {"1": doc}})
            marker = b'"rows":null'
            at = head.rindex(marker)
            data = head[:at] + b'"rows":' + rows_json + head[at + len(marker) :]
        self._files[(pf.school, pf.run_id)] = data
        path = self._lay.why_idx(pf.school)
        if why_draft is not None:  # its lines made while planning, outside the lock
            lines, created_rows, reports = why_draft
            self._why[pf.school] = staged_from_draft(
                path, pf.run_id, lines, created_rows, reports, pf.created
            )
        else:
            self._why[pf.school] = staged_index(path, pf.run_id, rows_json, pf.records, pf.created)

    # ---- commit

    def commit(self) -> None:
        """Write every change in one journal commit. Called once, under the write lock."""
        self._check_open()
        try:
            with gc_paused():
                self._commit()
        finally:
            self._closed = True

    def _commit(self) -> None:
        """Stages every new file version in one journal commit, applies it, then hands what was
        written to the process's caches (still under the write lock)."""
        commit = Commit(self._lay.root)
        feed = self._stage_audit_and_feed(commit)
        self._stage_files(commit)
        self._stage_schools(commit)
        registries = self._stage_registries(commit)
        directory = self._stage_directory(commit)
        self._stage_folders_and_kept(commit)
        commit.apply()
        self._hand_over(feed, registries, directory)

    def _stage_audit_and_feed(self, commit: Commit) -> _Feed:
        """The audit segments of this commit, and the recent feed's delta (or, every
        RECENT_DELTAS commits, a new recent.json folding the deltas in)."""
        lay = self._lay
        feed = _Feed()
        # The recent feed (audit.py): its counters from recent.json and the deltas since.
        meta: dict[str, int] | None = None
        base = numbers = deltas = None
        if any(self._events.values()) or self._runs_put:
            base, numbers, deltas = self._store.feed_parts()
            meta = merged_meta(base, deltas)
        for school, events in self._events.items():
            if not events:
                continue
            if school is not None and school in self._directory():
                doc = self._doc(school)
                segment_number = doc.meta["next_audit"]
                doc.meta["next_audit"] = segment_number + 1
                doc.dirty = True
            else:
                assert meta is not None
                segment_number = meta.get("next_global_audit", 1)
                meta["next_global_audit"] = segment_number + 1
                school = None
            commit.write(
                lay.audit_dir(school) / segment_name(segment_number), encode(segment_doc(events))
            )
        if meta is not None:
            assert numbers is not None and deltas is not None
            delta_number = numbers[-1] + 1 if numbers else meta.get("next_delta", 1)
            meta["next_delta"] = delta_number + 1
            this = delta_doc(dict(meta), self._events_in_order, list(self._runs_put.values()))
            if len(numbers) + 1 >= RECENT_DELTAS:  # folded into a new recent.json
                feed.recent_token = new_token()
                feed.recent_doc = Recent.merged(base, [*deltas, this]).dump(feed.recent_token)
                commit.write(lay.recent_json, encode(feed.recent_doc))
                for number in numbers:
                    commit.delete(lay.recent_dir / delta_name(number))
            else:
                commit.write(lay.recent_dir / delta_name(delta_number), encode(this))
                feed.new_delta = (delta_number, this)
        return feed

    def _stage_files(self, commit: Commit) -> None:
        """Processed files (the newest kept), and each school's why index."""
        lay = self._lay
        for (dfe, run_id), raw in self._files.items():
            commit.write(lay.processed_file(dfe, run_id), raw)
        for dfe in {dfe for dfe, _ in self._files}:
            self._prune_processed(commit, dfe)
        for dfe, why in self._why.items():
            commit.write(lay.why_idx(dfe), why)

    def _stage_schools(self, commit: Commit) -> None:
        """Each changed school's file, archives and name index; its directory summary."""
        lay = self._lay
        for dfe, doc in self._docs.items():
            if not doc.dirty:
                continue
            running = doc.settle_running(self._running(dfe))
            counter = self._entry(dfe).get(NEXT_RUN_KEY)
            if counter is not None:  # kept in step, for an older uso-tui reading this file
                doc.meta["next_run"] = max(doc.meta["next_run"], counter)
            _archive(commit, lay.runs_archive(dfe), "runs", "run_id", doc.old_runs())
            _archive(commit, lay.cases_archive(dfe), "cases", "case_id", doc.old_cases())
            commit.write(lay.data(dfe), doc.dump())
            if doc.index_dirty:
                path = lay.names_idx(dfe)
                old = old_keys = None
                if doc.index_changed is not None:
                    old, old_keys = read_remade(path), read_remade(lay.names_keys(dfe))
                    if not describes(old, old_keys):
                        old = None  # not the index last written: made whole from the accounts
                index = build_index(doc.accounts, doc.index_changed, old)
                commit.write(path, index)
                self.names_written.add(dfe)
                keys = _names_keys(doc, index, old, old_keys)
                commit.write(lay.names_keys(dfe), keys, checked=True)  # hash of its index in it
            entry = self._entry(dfe)
            summary = doc.summary(running)
            if any(entry.get(key) != value for key, value in summary.items()):
                self._directory()[dfe] = {**entry, **summary}

    def _stage_registries(self, commit: Commit) -> dict[str, tuple[str, bytes]]:
        """Each changed local authority's username registry, and the secrets: (token, bytes)
        of each registry written."""
        lay = self._lay
        written: dict[str, tuple[str, bytes]] = {}
        for la in self._regs_dirty:
            token = new_token()
            base, raw = self._reg_base[la]
            data = None
            if la not in self._reg_moved and base is not None and raw is not None:
                data = registry_extended(raw, base, token, self._reg_added.get(la, {}))
            if data is None:
                data = encode(registry_doc(self._regs[la], token))
            written[la] = (token, data)
            commit.write(lay.registry_file(la), data)
        for la, usernames in self._arrivals.items():
            path = lay.arrivals_file(la)
            commit.write(path, with_arrivals(path, usernames))
        for dfe, secret in self._secrets.items():
            commit.write(lay.secret(dfe), secret.encode())
        if self._operators is not None:
            commit.write(lay.operators_json, self._operators)
        return written

    def _stage_directory(self, commit: Commit) -> DirectoryView | None:
        """The directory's shards holding the entries that changed: the directory once committed."""
        staged = self._dir
        if staged is None or not staged.changes:
            return None
        cache = self._store.dir_cache
        return stage_shards(commit, self._lay.directory, staged.base, staged.changes, cache.encoded)

    def _stage_folders_and_kept(self, commit: Commit) -> None:
        lay = self._lay
        for dfe in self._new_schools:
            for folder in (lay.school_dir(dfe), lay.audit_dir(dfe), lay.files_dir(dfe)):
                make_dir(folder)
        if self._secrets:
            make_dir(lay.secrets)
        self._stage_kept(commit)

    def _hand_over(
        self,
        feed: _Feed,
        registries: dict[str, tuple[str, bytes]],
        directory: DirectoryView | None,
    ) -> None:
        """Still under the write lock: what was written, to the next transaction."""
        lay = self._lay
        if directory is not None:
            self._store.dir_cache.remember(directory)
        if feed.recent_doc is not None:
            self._store.hot.remember(lay.recent_json, feed.recent_token, feed.recent_doc)
        if feed.new_delta is not None:
            self._store.deltas.remember(*feed.new_delta)
        for la, (token, data) in registries.items():
            self._store.hot.remember(lay.registry_file(la), token, self._regs[la], data)
        recent = self._store.recent_schools
        for dfe, doc in self._docs.items():
            if doc.dirty and doc.written_token is not None:
                recent.remember(lay.data(dfe), doc.written_token, doc.accounts, doc.cases)

    def _prune_processed(self, commit: Commit, dfe: str) -> None:
        folder = self._lay.files_dir(dfe)
        try:
            names = {n[:-5] for n in os.listdir(folder) if n.endswith(".json")}
        except FileNotFoundError:
            names = set()
        names.update(run_id for school, run_id in self._files if school == dfe)
        newest = sorted(names, key=seq_of, reverse=True)
        for run_id in newest[PROCESSED_FILES_KEPT:]:
            commit.delete(self._lay.processed_file(dfe, run_id))

    def discard(self) -> None:
        self._closed = True
