"""TinyStore: the Store on a data directory of TinyDB files (layout in api.py).

Reads take no write lock: every file is replaced by rename, so a read of one file is always a
whole commit's version; reads that span files hold the commit lock shared. Nothing is cached
between calls, so a read always sees what any process last committed.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import orjson

from uso_tui.config import allowed_mis_hosts, read_config
from uso_tui.domain.collector import gc_paused
from uso_tui.domain.models import (
    Account,
    AuditEvent,
    Exclusion,
    MatchCase,
    ProcessedFile,
    Run,
    School,
)
from uso_tui.domain.schools import DFE_RE, la_of
from uso_tui.store import account_rows, freeing, index, why_index
from uso_tui.store.api import (
    SCHEMA_VERSION,
    AccountHit,
    NewerSchema,
    SchoolState,
    Store,
    StoreError,
    UnknownCase,
    UnknownRun,
    UnknownSchool,
)
from uso_tui.store.arrivals import read_arrivals
from uso_tui.store.audit import RECENT_EVENTS, Deltas, Recent, delta_numbers, read_events
from uso_tui.store.by_name import AccountsByName
from uso_tui.store.codec import build, from_docs
from uso_tui.store.directory import DirectoryCache, DirectoryView, stage_from_rows
from uso_tui.store.journal import JOURNAL, Commit, needs_recovery, recover
from uso_tui.store.kept import KeptReads
from uso_tui.store.layout import (
    Layout,
    la_of_username,
    school_of_case,
    school_of_run,
    seq_of,
)
from uso_tui.store.leaving_dates import leaving_dates
from uso_tui.store.liveness import INTERRUPTED, is_stale, mark_interrupted
from uso_tui.store.lock import commit_lock, write_lock
from uso_tui.store.people import (
    RACY_NS,
    PeopleFinder,
    PeopleIndex,
    describes,
    read_keys_file,
    staged_keys,
)
from uso_tui.store.recent_schools import RecentSchools
from uso_tui.store.rekey import rekey_schools
from uso_tui.store.schooldoc import (
    RUNNING_KEY,
    SchoolDoc,
    archived_case,
    archived_cases,
    archived_runs,
    checked_school_file,
    merged_runs,
)
from uso_tui.store.storage import (
    FILE_MODE,
    CorruptFile,
    check_data_dir,
    encode,
    make_dir,
    owner_only,
    read_bytes,
    read_json,
    read_json_raw,
    read_remade,
    read_table,
    table_rows,
)
from uso_tui.store.transaction import TinyTransaction, registry_map, registry_of
from uso_tui.store.version_cache import VersionCache


def _newer_schema_message(found: int) -> str:
    return (
        f"this store was written by a newer uso-tui (schema {found}; this version reads up to "
        f"{SCHEMA_VERSION}): upgrade uso-tui"
    )


class OlderSchema(StoreError):
    """The store was written by an older uso-tui: `uso-tui upgrade` raises it to this version."""


def _older_schema_message(root: Path, found: int) -> str:
    return (
        f"the store at {root} was written by an older uso-tui (schema {found}; this version "
        f"uses {SCHEMA_VERSION}): run `uso-tui upgrade` to upgrade it (older versions of "
        "uso-tui will then refuse it); nothing was changed"
    )


def upgrade_store(root: Path) -> tuple[int, int]:
    """The explicit upgrade (`uso-tui upgrade`): (schema found, schema now)."""
    store = TinyStore(Path(root), create=False, upgrade=True)
    store.write_missing_keys()
    return store.upgraded_from, SCHEMA_VERSION


def _recent(data: dict[str, Any] | None) -> dict[str, Any] | None:
    return data


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    return mark_interrupted(run) if is_stale(run) else run


class TinyStore(AccountsByName, KeptReads, Store):
    def __init__(self, root: Path, *, create: bool = True, upgrade: bool = False) -> None:
        """upgrade: raise a store of an older schema to this one; without it such a store is
        refused (OlderSchema), before anything is touched."""
        self.root = Path(root)
        self.layout = Layout(self.root)
        self.hot = VersionCache()
        self.recent_schools = RecentSchools()  # rows of the schools read last, while unchanged
        self.people = PeopleIndex()  # find_people's keys of every school, while unchanged
        self.dir_cache = DirectoryCache(self.layout.directory)  # the school directory, per shard
        self.deltas = Deltas()  # the recent feed's deltas, parsed
        self._folders_seen: tuple[tuple[int, ...], list[str]] | None = None  # _school_dirs
        check_data_dir(self.root)
        if not self.layout.store_json.exists():
            if not create:
                raise StoreError(f"no uso-tui store at {self.root}")
            self._create()
        for entry in os.scandir(self.root):
            if entry.is_dir(follow_symlinks=False):  # schools, secrets, the audit feed...
                owner_only(Path(entry.path))
        found = self.upgraded_from = self._check_schema()
        if found < SCHEMA_VERSION and not upgrade:
            raise OlderSchema(_older_schema_message(self.root, found))
        if needs_recovery(self.root):
            self._recover_or_read_only()
        if found < SCHEMA_VERSION:
            self._upgrade()

    def _recover_or_read_only(self) -> None:
        """Finishes or discards an interrupted commit. On a file system that cannot be written (a
        backup mounted to look into) the files a failed commit staged are left and the store is
        read as it is; a commit whose renames may be half made (its journal) cannot be read so."""
        try:
            with write_lock(self.root):
                recover(self.root)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            if (self.root / JOURNAL).exists():
                raise StoreError(
                    f"{self.root} holds a commit interrupted part way ({JOURNAL}), which cannot "
                    f"be finished where the data directory cannot be written ({exc.strerror}): "
                    "run any uso-tui command once where it can (it finishes the commit); "
                    "nothing was changed"
                ) from None

    def _upgrade(self) -> None:
        """Marks an older store as this version's: what this version writes an older uso-tui would
        misread (schema 2: runs in progress kept in the directory; 3: the recent feed's deltas,
        processed files as rows, record fingerprints, the runs archive; 4: the accounts hash in
        a school's meta, which an older uso-tui would carry over while changing the accounts;
        5: the directory in shards, moved out of schools.json here; 6: names normalised with
        letters such as ł and ø folded, whose index files are rekeyed here, see rekey.py; 7: names
        keeping the vowel signs of scripts that spell with them, rekeyed again; 8: the parts
        of names split at apostrophes, O'Sullivan found by "sullivan", rekeyed again; 9: UPNs
        keyed as their letters and digits, `A123-4567-8901-2` found as `A123456789012`; 10: UPNs
        keyed in full-width characters found as their ASCII letters and digits), so
        from now on it refuses it. The schema is written in one commit, last: a crash leaves the
        store as it was or upgraded (some schools' index files rekeyed perhaps: derived data,
        which doing it again finds done)."""
        with write_lock(self.root):
            recover(self.root)
            found = self._check_schema()
            if found < 10:  # (6: ł and ø folded; 7: vowel signs kept; 8: O'S; 9, 10: UPNs)
                rekey_schools(self.root, self._school_dirs())
            if found < SCHEMA_VERSION:
                commit = Commit(self.root)
                old = self.layout.schools_json
                if old.exists():
                    stage_from_rows(commit, self.layout.directory, read_table(old, "schools"))
                    commit.delete(old)
                commit.write(self.layout.store_json, encode({"schema": SCHEMA_VERSION}))
                commit.apply()

    def write_missing_keys(self, per_commit: int = 200) -> int:
        """Writes the names.keys of every school whose index has none describing it (a store
        made before key files: until a school's index changes, every process would parse it for
        find_people). Commits of `per_commit` schools; the number written."""
        written = 0
        dfes = self._school_dirs()
        for start in range(0, len(dfes), per_commit):
            with write_lock(self.root):
                recover(self.root)
                commit = Commit(self.root)
                for dfe in dfes[start : start + per_commit]:
                    index = read_bytes(self.layout.names_idx(dfe))
                    keys = read_remade(self.layout.names_keys(dfe))
                    if index and read_keys_file(index, keys) is None:
                        data = staged_keys(index, b"", 0, None, None)
                        commit.write(self.layout.names_keys(dfe), data, checked=True)
                        written += 1
                commit.apply()
        return written

    def __repr__(self) -> str:
        return f"<TinyStore {str(self.root)!r}>"

    def _create(self) -> None:
        make_dir(self.root)  # owner-only modes on the folders it makes; an existing one is kept
        with write_lock(self.root):
            if not self.layout.store_json.exists():
                commit = Commit(self.root)
                commit.write(self.layout.store_json, encode({"schema": SCHEMA_VERSION}))
                commit.apply()

    def _check_schema(self) -> int:
        try:
            data = read_json(self.layout.store_json) or {}
        except ValueError:
            raise StoreError(f"{self.layout.store_json} is not valid JSON") from None
        found = data.get("schema") if isinstance(data, dict) else None
        if not isinstance(found, int):
            raise StoreError(f"{self.layout.store_json} has no schema version")
        if found > SCHEMA_VERSION:
            raise NewerSchema(_newer_schema_message(found))
        return found

    # ---- reading

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the commit lock shared; first finish a commit whose writer died mid-way."""
        while True:
            with commit_lock(self.root, shared=True):
                if not (self.root / JOURNAL).exists():
                    yield
                    return
            with write_lock(self.root):
                recover(self.root)

    def directory(self) -> DirectoryView:
        """DfE -> directory entry, shared (never mutate): each shard parsed once per version."""
        return self.dir_cache.get()

    def _directory_rows(self) -> list[dict[str, Any]]:
        return self.directory().rows()

    def _entry(self, dfe: str) -> dict[str, Any]:
        entry = self.directory().get(dfe)
        if entry is None:
            raise UnknownSchool(f"unknown school {dfe!r}")
        return entry

    @staticmethod
    def _school_view(row: dict[str, Any]) -> School:
        school = School.from_dict(row)
        school.reports = list(school.reports)  # the row is shared: no list of it leaves here
        running = row.get(RUNNING_KEY) or []
        if school.last_run_status == "running" and running and all(map(is_stale, running)):
            school.last_run_status = "failed"
        return school

    def _data(self, dfe: str) -> dict[str, Any] | None:
        return self._data_raw(dfe)[0]

    def _data_raw(self, dfe: str) -> tuple[dict[str, Any] | None, bytes | None]:
        if not DFE_RE.match(dfe or ""):
            raise UnknownSchool(f"unknown school {dfe!r}")
        path = self.layout.data(dfe)
        data, raw = read_json_raw(path)
        if raw is None:
            self._entry(dfe)  # raises UnknownSchool
        return checked_school_file(path, data, raw)

    def _doc(self, dfe: str) -> SchoolDoc:
        return SchoolDoc.from_data(dfe, self._data(dfe))

    # settings

    def allowed_mis_hosts(self) -> frozenset[str]:
        return allowed_mis_hosts(self.root)

    def set_allowed_mis_hosts(self, hosts: list[str]) -> None:
        with write_lock(self.root):
            recover(self.root)
            data = read_config(self.root)
            data["allowed_mis_hosts"] = sorted({h.strip().lower() for h in hosts if h.strip()})
            commit = Commit(self.root)
            commit.write(self.layout.config_json, encode(data))
            commit.apply()

    # schools

    def list_schools(self) -> list[School]:
        with gc_paused():  # thousands of School objects built at once
            with self._reading():
                rows = self._directory_rows()
            return sorted((self._school_view(r) for r in rows), key=lambda s: s.dfe)

    def school(self, dfe: str) -> School:
        with self._reading():
            return self._school_view(self._entry(dfe))

    def secret(self, dfe: str) -> str:
        with self._reading():
            if not DFE_RE.match(dfe or ""):
                raise UnknownSchool(f"unknown school {dfe!r}")
            path = self.layout.secret(dfe)
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                self._entry(dfe)
                raise StoreError(f"no client secret is stored for {dfe}") from None
            owner_only(path, FILE_MODE)
            # Written only as a whole, checked secret: an empty file or one that is not text was
            # damaged from outside (sent as it was, IRIS "refused the Client Secret", or the
            # run failed with a codec's words). Its content is never repeated.
            try:
                secret = raw.decode("utf-8")
            except UnicodeDecodeError:
                secret = ""
            if not secret.strip():
                raise StoreError(
                    f"the client secret file of {dfe} ({path}) is empty or not text: set the "
                    f"secret again (uso-tui school set {dfe} --client-secret-env VAR)"
                )
            return secret

    def has_secret(self, dfe: str) -> bool:
        return bool(DFE_RE.match(dfe or "")) and self.layout.secret(dfe).exists()

    # accounts

    def school_accounts(self, dfe: str) -> list[Account]:
        with gc_paused():
            with self._reading():
                data = self._data(dfe)
            return build(Account, table_rows(data, "accounts"))

    def school_state(self, dfe: str) -> SchoolState:
        with gc_paused():
            with self._reading():
                data, raw = self._data_raw(dfe)
            doc = SchoolDoc.from_data(dfe, data, raw)
            return SchoolState(
                dfe=dfe,
                version=doc.version,
                account_rows=list(doc.accounts.values()),
                exclusions=build(Exclusion, doc.exclusions_in_order()),
                open_cases=build(MatchCase, doc.cases_in_order("open")),
                seen=doc.current_seen(),
                previous=doc.previous_counts(),
                parsed=doc,
            )

    def _school_dirs(self) -> list[str]:
        """The schools' folders (shared: never mutate), listed again only when the folder
        changed (its time stamps; one changed too recently for them to tell is listed again)."""
        folder = self.layout.schools
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            return []
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        seen = self._folders_seen
        if seen is not None and seen[0] == stamp:
            return seen[1]
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
        listed = sorted(n for n in names if DFE_RE.match(n))
        if max(st.st_mtime_ns, st.st_ctime_ns) < time.time_ns() - RACY_NS:
            self._folders_seen = (stamp, listed)
        return listed

    def la_accounts(self, la: str, role: str | None = None) -> list[Account]:
        docs: list[dict[str, Any]] = []
        with gc_paused():
            with self._reading():
                for dfe in self._school_dirs():
                    if la_of(dfe) != la:
                        continue
                    data = read_json(self.layout.data(dfe))
                    for account in table_rows(data, "accounts"):
                        if role is None or account["role"] == role:
                            docs.append(account)
            return build(Account, docs)

    def la_people(self, la: str, role: str | None = None) -> list[AccountHit]:
        out: list[AccountHit] = []
        with self._reading():
            for dfe in self._school_dirs():
                if la_of(dfe) == la:
                    data = self._checked_index(dfe)
                    if data:
                        out.extend(index.read_hits(data, dfe, role))
        return out

    def _checked_index(self, dfe: str) -> bytes:
        """The school's names.idx as its key file describes it; otherwise (damaged from outside,
        or a power cut left the unflushed key file of the index before) made again from the
        school's accounts, so that the pools matching searches miss no one. The school's next
        commit writes both again."""
        data = read_bytes(self.layout.names_idx(dfe))
        if describes(data, read_remade(self.layout.names_keys(dfe))):
            return data
        rows = read_table(self.layout.data(dfe), "accounts")
        return index.build_index({row["username"]: row for row in rows})

    def find_people(
        self,
        role: str,
        upns: set[str],
        name_dobs: set[tuple[str, str, str]],
        since: float | None = None,
        changed_after: float | None = None,
    ) -> list[AccountHit]:
        finder = PeopleFinder(role, upns, name_dobs)
        if not finder.wants_any:
            return []
        with self._reading():
            return self.people.find(
                self._school_dirs(), self.layout.names_idx, finder, since, changed_after
            )

    def freeing_in_background(self) -> AbstractContextManager[None]:
        return freeing.in_background()

    def free_left_by_the_dead(self) -> None:
        freeing.sweep(self.root)

    def expect_many_finds(self) -> None:
        with self._reading():
            self.people.prime(self._school_dirs(), self.layout.names_idx)

    def find_account(self, username: str) -> Account | None:
        return self.find_accounts((username,)).get(username)

    def find_accounts(
        self, usernames: Iterable[str], unreadable: set[str] | None = None
    ) -> dict[str, Account]:
        by_la: dict[str, set[str]] = {}
        for username in usernames:
            by_la.setdefault(la_of_username(username), set()).add(username)
        found: dict[str, Account] = {}
        with self._reading():
            by_home: dict[str, set[str]] = {}
            for la, wanted in by_la.items():
                reg = registry_of(self.layout.registry_file(la))
                for username in wanted:
                    home = reg.get(username)
                    if home is not None:
                        by_home.setdefault(home, set()).add(username)
            for home, wanted in by_home.items():
                try:
                    rows = self.recent_schools.rows(
                        self.layout.data(home), "accounts", sorted(wanted)
                    )
                except CorruptFile:
                    if unreadable is None:
                        raise
                    unreadable.add(home)
                    continue
                found.update((u, Account.from_dict(row)) for u, row in rows.items())
        return found

    def la_usernames(self, la: str) -> frozenset[str]:
        with self._reading():
            return frozenset(self.hot.get(self.layout.registry_file(la), registry_map))

    def la_arrivals(self, la: str) -> tuple[int, list[tuple[int, str]]]:
        with self._reading():
            return read_arrivals(self.layout.arrivals_file(la))

    def search_accounts(
        self,
        text: str = "",
        *,
        school: str | None = None,
        status: str | None = None,
        limit: int | None = 500,
    ) -> list[AccountHit]:
        if school is not None:
            if not DFE_RE.match(school):
                raise UnknownSchool(f"unknown school {school!r}")
            homes = [school]
        else:
            homes = self._school_dirs()
        # Paths as strings: thousands of Path objects are a noticeable part of a search.
        folder, name = os.fspath(self.layout.schools), self.layout.names_idx("_").name
        files = [(dfe, f"{folder}/{dfe}/{name}") for dfe in homes]
        with self._reading():
            if school is not None and not self.layout.data(school).exists():
                self._entry(school)
            return index.search(files, text, status=status, limit=limit, remade=self._checked_index)

    def hit_accounts(
        self, hits: list[AccountHit], unreadable: set[str] | None = None
    ) -> list[Account]:
        with gc_paused():
            with self._reading():
                rows = account_rows.rows_of_hits(hits, self.layout.data, unreadable)
            return build(Account, rows)

    def why_search(
        self,
        text: str,
        limit: int | None = 200,
        schools: Iterable[str] | None = None,
        whole: bool = False,
    ) -> list[dict[str, Any]]:
        homes = self._school_dirs()
        if schools is not None:
            wanted = set(schools)
            homes = [dfe for dfe in homes if dfe in wanted]
        with self._reading():
            files = why_index.school_files(self.layout, homes)
            return why_index.search(files, text, limit, remade=self._why_lines, whole=whole)

    def why_records(
        self, dfe: str | None = None, *, dated: bool = False, impossible: bool = False
    ) -> list[dict[str, Any]]:
        homes = [dfe] if dfe is not None else self._school_dirs()
        with self._reading():
            if dfe is not None:
                self._entry(dfe)
            files = why_index.school_files(self.layout, homes)
            return why_index.records(files, dated, impossible, remade=self._why_lines)

    def _why_lines(self, dfe: str) -> bytes | None:
        """A why index cut short or with a line that does not read (damaged from outside), read
        as the lines of the school's latest processed file instead: the records past the cut
        were missed, nothing said; a line that does not read stopped every school's search."""
        return why_index.latest_lines(self.layout, dfe)

    def why_heads(self, dfe: str) -> dict[bytes, bytes]:
        # no lock: the file is replaced whole, and a line's KEYS fit its payload in any version
        return why_index.known_heads(read_bytes(self.layout.why_idx(dfe)))

    # cases, exclusions, runs, audit, processed files

    def cases(self, dfe: str, status: str | None = "open") -> list[MatchCase]:
        """Oldest first; the resolved ones include those in the school's cases archive."""
        archived: list[dict[str, Any]] = []
        with self._reading():
            doc = self._doc(dfe)
            if status != "open":
                archived = archived_cases(self.layout.cases_archive(dfe))
        rows = doc.cases_in_order(status)
        if archived:
            here = doc.cases.keys()  # a case reopened since: as the school's file has it
            older = {c["case_id"]: c for c in archived if c["case_id"] not in here}  # last wins
            rows += [c for c in older.values() if status is None or c["status"] == status]
            rows.sort(key=lambda c: seq_of(c["case_id"]))
        return [MatchCase.from_dict(c) for c in rows]

    def case(self, case_id: str) -> MatchCase:
        dfe = school_of_case(case_id)
        with self._reading():  # both files of one commit: a case moves between them
            path = self.layout.data(dfe) if DFE_RE.match(dfe) else None
            found = None
            if path is not None:
                found = self.recent_schools.rows(path, "cases", [case_id]).get(case_id)
            if found is None and path is not None and path.exists():  # resolved long ago
                found = archived_case(self.layout.cases_archive(dfe), case_id)
        if found is None:
            raise UnknownCase(f"unknown case {case_id!r}")
        return MatchCase.from_dict(found)

    def exclusions(self, dfe: str) -> list[Exclusion]:
        with self._reading():
            doc = self._doc(dfe)
        return [Exclusion.from_dict(e) for e in doc.exclusions_in_order()]

    def feed_parts(self) -> tuple[dict[str, Any] | None, list[int], list[dict[str, Any]]]:
        """recent.json, and the numbers and contents of its deltas (caller holds a read or the
        write lock)."""
        base = self.hot.get(self.layout.recent_json, _recent)
        numbers = delta_numbers(self.layout.recent_dir)
        return base, numbers, self.deltas.get(self.layout.recent_dir, numbers)

    def _feed(self) -> Recent:
        """The recent feed (caller holds a read)."""
        base, _, deltas = self.feed_parts()
        return Recent.merged(base, deltas)

    def runs(self, dfe: str | None = None, limit: int | None = None) -> list[Run]:
        with self._reading():
            if dfe is None:
                rows = self._feed().runs
            else:
                running = self._entry(dfe).get(RUNNING_KEY) or []
                rows = merged_runs(self._doc(dfe).runs, running)
                if limit is None or len(rows) < limit:  # the older runs, from the archive
                    shown = {r["run_id"] for r in rows}
                    archived = archived_runs(self.layout.runs_archive(dfe))
                    rows += [r for r in reversed(archived) if r["run_id"] not in shown]
        rows = rows[:limit] if limit is not None else rows
        return from_docs(Run, [_run_view(r) for r in rows])

    def run(self, run_id: str) -> Run:
        dfe = school_of_run(run_id)
        running: list[dict[str, Any]] = []
        with self._reading():  # both files of one commit: a run ending moves between them
            data = read_json(self.layout.data(dfe)) if DFE_RE.match(dfe) else None
            if data is not None:  # a run in progress is in the directory until it ends
                running = self._entry(dfe).get(RUNNING_KEY) or []
        for run in [*table_rows(data, "runs"), *running]:
            if run["run_id"] == run_id:
                return Run.from_dict(_run_view(run))
        if data is not None:
            with self._reading():
                archived = archived_runs(self.layout.runs_archive(dfe))
            for run in archived:
                if run["run_id"] == run_id:
                    return Run.from_dict(run)
        raise UnknownRun(f"unknown run {run_id!r}")

    def running_runs(self, dfe: str | None = None) -> list[Run]:
        with self._reading():
            rows = [self._entry(dfe)] if dfe is not None else self._directory_rows()
        runs = [r for row in rows for r in row.get(RUNNING_KEY) or [] if not is_stale(r)]
        runs.sort(key=lambda r: r.get("started_at") or "", reverse=True)
        return from_docs(Run, runs)

    def audit(
        self, dfe: str | None = None, limit: int | None = None, subject: str | None = None
    ) -> list[AuditEvent]:
        with self._reading():
            if dfe is not None:
                if not DFE_RE.match(dfe):
                    raise UnknownSchool(f"unknown school {dfe!r}")
                rows = read_events(self.layout.audit_dir(dfe), limit, subject)
            elif subject is None:
                rows = self._feed().events
                if len(rows) >= RECENT_EVENTS:
                    rows = _with_global(rows, read_events(self.layout.global_audit, limit))
            else:
                rows = self._subject_events(subject, limit)
        rows = rows[:limit] if limit is not None else rows
        return from_docs(AuditEvent, rows)

    def _subject_events(self, subject: str, limit: int | None) -> list[dict[str, Any]]:
        """An account's events across every school it has been at (caller holds _reading)."""
        schools: set[str] = set()
        reg = registry_of(self.layout.registry_file(la_of_username(subject)))
        home = reg.get(subject)
        if home:
            schools.add(home)
            for account in read_table(self.layout.data(home), "accounts"):
                if account["username"] == subject:
                    for key in ("school", "previous_school", "link_school"):
                        if account.get(key):
                            schools.add(account[key])
                    schools.update(
                        h["school"] for h in account.get("history") or [] if h.get("school")
                    )
        for run_id_school in [school_of_case(subject), school_of_run(subject), subject]:
            if DFE_RE.match(run_id_school):
                schools.add(run_id_school)
        rows: list[dict[str, Any]] = []
        for dfe in sorted(s for s in schools if DFE_RE.match(s)):
            rows.extend(read_events(self.layout.audit_dir(dfe), limit, subject))
        rows.extend(read_events(self.layout.audit_dir(None), limit, subject))
        rows.sort(key=lambda e: e.get("at") or "", reverse=True)
        return rows

    def latest_moves(self, limit: int | None = None) -> list[AuditEvent]:
        with self._reading():
            rows = self._feed().moves
        rows = rows[:limit] if limit is not None else rows
        return from_docs(AuditEvent, rows)

    def processed_files(self, dfe: str) -> list[ProcessedFile]:
        with self._reading():
            self._entry(dfe)
            folder = self.layout.files_dir(dfe)
            try:
                names = [n[:-5] for n in os.listdir(folder) if n.endswith(".json")]
            except FileNotFoundError:
                names = []
            names.sort(key=seq_of, reverse=True)
            out = []
            for run_id in names[:30]:
                rows = read_table(folder / f"{run_id}.json", "processed_file")
                if rows:
                    out.append(ProcessedFile.from_stored(rows[0]).with_created())
        return out

    def processed_file(self, run_id: str) -> ProcessedFile | None:
        dfe = school_of_run(run_id)
        if not DFE_RE.match(dfe):
            return None
        with self._reading():
            rows = read_table(self.layout.processed_file(dfe, run_id), "processed_file")
        return ProcessedFile.from_stored(rows[0]).with_created() if rows else None

    def leaving_dates_sent(self, run_id: str) -> dict[tuple[str, str], str | None] | None:
        dfe = school_of_run(run_id)
        if not DFE_RE.match(dfe):
            return None
        with self._reading():
            return leaving_dates(self.layout.processed_file(dfe, run_id))

    # writing

    @contextmanager
    def transaction(self, operator: str, *, wait: bool = True) -> Iterator[TinyTransaction]:
        with write_lock(self.root, wait=wait):
            recover(self.root)
            self._check_schema()  # another process may have upgraded the store since open
            tx = TinyTransaction(self, operator)
            try:
                yield tx
            except BaseException:
                tx.discard()
                raise
            tx.commit()
            # this process's next look sees what it just wrote, not a map up to RECHECK_S old
            self.people.stale(tx.names_written)


__all__ = ["INTERRUPTED", "OlderSchema", "TinyStore", "upgrade_store"]


def _with_global(feed: list[dict[str, Any]], global_events: list[dict[str, Any]]) -> list[dict]:
    """The recent feed (full: its oldest events are gone) with the events of no school, which
    are kept apart and few (operators added or removed, the store's settings), that it no
    longer holds: "who made carol an admin?" is answered from `audit` at any age. Newest first."""
    held = {orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in feed}
    older = [e for e in global_events if orjson.dumps(e, option=orjson.OPT_SORT_KEYS) not in held]
    if not older:
        return feed
    return sorted(feed + older, key=lambda e: e.get("at") or "", reverse=True)
