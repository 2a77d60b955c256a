"""One school's data file (schools/DFE/data.json) held in memory during a transaction.

The file is a TinyDB database with the tables accounts, runs, cases, exclusions, meta and (once a
run has kept them) seen: each report's record fingerprints (sync.fingerprints), with the hash of the
accounts table as the run that made them left it. Each write puts the hash of the accounts table
it writes in meta. A transaction loads it once, works on plain dicts, and writes it whole once
at commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import xxhash

from uso_tui.domain.models import PreviousExports, held_whole
from uso_tui.domain.schools import REPORTS
from uso_tui.store.account_rows import accounts_table
from uso_tui.store.layout import seq_of
from uso_tui.store.liveness import is_stale, mark_interrupted
from uso_tui.store.storage import (
    as_table,
    check_tables,
    damaged,
    encode,
    read_json_raw,
    read_table,
    table_rows,
)
from uso_tui.store.version_cache import meta_table, new_token

# Summary fields of School that the store derives from the school's data on every commit.
SUMMARY_FIELDS = (
    "last_run_id",
    "last_run_status",
    "last_run_at",
    "last_run_trigger",
    "last_scheduled_success_at",
    "scheduled_failed_at",
    "last_whole_run_at",
    "counted_runs_at",
    "open_cases",
    "unallocated_last_run",
    "active_accounts",
)
# The failed scheduled runs a summary keeps the start of (see School.scheduled_failed_at).
FAILURES_KEPT = 8
# The runs that counted as the school's run a summary keeps the start of (School.counted_runs_at).
COUNTED_KEPT = 4
# Private keys of a directory entry. A run in progress lives only there, with the school's run
# counter, so starting a run (run-due starts hundreds) never rewrites the school's data file; a
# run enters data.json when it ends.
RUNNING_KEY = "_running"  # the school's running runs
NEXT_RUN_KEY = "_next_run"  # the number of the school's next run
PRIVATE_KEYS = (RUNNING_KEY, NEXT_RUN_KEY)


def merged_runs(
    runs: dict[str, dict[str, Any]], running: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The data file's runs and the directory's running ones, newest first (the file's copy of a
    run wins: it is the run's end)."""
    out = dict(runs)
    for run in running:
        out.setdefault(run["run_id"], run)
    return sorted(out.values(), key=lambda r: seq_of(r["run_id"]), reverse=True)


def last_run_fields(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "last_run_id": run["run_id"],
        "last_run_status": run["status"],
        "last_run_at": run.get("started_at"),
        "last_run_trigger": run.get("trigger"),
    }


# A school's file keeps its newest RUNS_KEPT ended runs; once it has RUNS_ARCHIVE_AT, the older go to
# the school's runs archive (read only for a long history), so the file a daily run reads and
# rewrites does not grow by a run a day for ever. Held runs (awaiting confirmation) and the newest
# scheduled run that did run stay.
RUNS_KEPT = 30  # a month of daily runs (a run is about 500 bytes; the console reads the archive
RUNS_ARCHIVE_AT = 60  # for a longer history)
ARCHIVED_STATUSES = frozenset(("succeeded", "failed", "cancelled"))


def archived_runs(path: Path) -> list[dict[str, Any]]:
    """A school's runs archive, oldest first."""
    return read_table(path, "runs")


# Likewise the cases: every open case stays, and the newest CASES_KEPT resolved ones (a decision
# can be undone while its case is at hand); once more than CASES_ARCHIVE_AT are resolved, the older
# go to the school's cases archive. A resolved case keeps its candidates and what undoing it needs
# (a matched account as it was, history and all): kept for ever, a school's file would grow by a
# few kilobytes a school day.
CASES_KEPT = 50
CASES_ARCHIVE_AT = 100


def archived_cases(path: Path) -> list[dict[str, Any]]:
    """A school's cases archive, oldest first (a case reopened since may be in it too, as it was
    when archived: the school's file has it as it is)."""
    return read_table(path, "cases")


def archived_case(path: Path, case_id: str) -> dict[str, Any] | None:
    """One case of a school's cases archive (its last copy), if there."""
    found = [c for c in archived_cases(path) if c["case_id"] == case_id]
    return found[-1] if found else None


def empty_meta() -> dict[str, int]:
    return {"next_run": 1, "next_case": 1, "next_exclusion": 1, "next_audit": 1}


class SchoolDoc:
    def __init__(self, dfe: str) -> None:
        self.dfe = dfe
        self.accounts: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.exclusions: dict[int, dict[str, Any]] = {}
        self.seen: dict[str, dict[str, int]] = {}  # report -> MIS id -> fingerprint
        # report -> accounts_hash of the accounts as the run that made its fingerprints left them
        self.seen_over: dict[str, int | None] = {}
        self.seen_put: set[str] = set()  # reports given fingerprints in this transaction
        self.written_token: str | None = None  # the version token of the file dump() made
        # The hash of the accounts table of the file this was loaded from (xxh3_64 of its JSON,
        # from meta; None: an older file), which no account change since can have left alone.
        self.accounts_hash: int | None = None
        self.meta: dict[str, int] = empty_meta()
        # The version token of the file this was loaded from (None: new, or an older file with
        # none); each write gets a new one, so a reader can tell its copy is still current.
        self.version: str | None = None
        self.dirty = False
        self.accounts_changed = False  # an account put or taken out since this was loaded
        # The bytes of the file this was loaded from: its accounts table is written again as it
        # is while no account has changed (dump), rather than encoded again.
        self.raw: bytes | None = None
        self.index_dirty = False
        # Usernames whose index line changed; None: make the whole index again.
        self.index_changed: set[str] | None = set()

    @classmethod
    def from_data(
        cls, dfe: str, data: dict[str, Any] | None, raw: bytes | None = None
    ) -> SchoolDoc:
        """`raw`: the bytes `data` was decoded from, if at hand."""
        doc = cls(dfe)
        doc.raw = raw
        if data:
            doc.accounts = {a["username"]: a for a in table_rows(data, "accounts")}
            doc.runs = {r["run_id"]: r for r in table_rows(data, "runs")}
            doc.cases = {c["case_id"]: c for c in table_rows(data, "cases")}
            doc.exclusions = {e["id"]: e for e in table_rows(data, "exclusions")}
            seen = table_rows(data, "seen")
            doc.seen = {r["report"]: r["fps"] for r in seen}
            doc.seen_over = {r["report"]: r.get("accounts") for r in seen}
            meta = table_rows(data, "meta")
            if meta:
                doc.meta.update(meta[0])
                doc.version = doc.meta.pop("version", None)  # type: ignore[assignment]
                doc.accounts_hash = doc.meta.pop("accounts_hash", None)
        return doc

    @classmethod
    def load(cls, dfe: str, path: Path) -> SchoolDoc:
        """The file of a school the directory lists."""
        return cls.from_data(dfe, *checked_school_file(path, *read_json_raw(path)))

    def settle_stale_runs(self) -> None:
        """Runs left "running" by a process that died are failed (interrupted) from now on."""
        for run_id, run in list(self.runs.items()):
            if is_stale(run):
                self.runs[run_id] = mark_interrupted(run)
                self.dirty = True

    def dump(self) -> bytes:
        """The file's new version (meta first: its version token is read from the head)."""
        runs = sorted(self.runs.values(), key=lambda r: seq_of(r["run_id"]))
        accounts = self._accounts_as_loaded()
        if accounts is not None:  # the hash meta holds is of these very bytes (checked)
            accounts_hash = self.accounts_hash
        else:
            accounts = encode(as_table(list(self.accounts.values())))
            # A change detector (64 bits, non-cryptographic) for the fingerprints (current_seen)
            accounts_hash = xxhash.xxh3_64_intdigest(accounts)
        if self.seen_put:  # these fingerprints go with the accounts as written now
            self.seen_over = {**self.seen_over, **dict.fromkeys(self.seen_put, accounts_hash)}
            self.seen_put = set()
        self.written_token = new_token()
        tables = {
            "meta": meta_table(self.written_token, **self.meta, accounts_hash=accounts_hash),
            "accounts": orjson.Fragment(accounts),  # encoded once, for the hash and the file
            "runs": as_table(runs),
            "cases": as_table(self.cases_in_order()),
            "exclusions": as_table(self.exclusions_in_order()),
        }
        if self.seen:
            tables["seen"] = as_table(
                [
                    {"report": k, "fps": v, "accounts": self.seen_over.get(k)}
                    for k, v in sorted(self.seen.items())
                ]
            )
        return encode(tables)

    def _accounts_as_loaded(self) -> bytes | None:
        """The accounts table's bytes in the file this was loaded from, while no account has
        changed (account_rows.accounts_table finds them and checks them against meta's hash)."""
        if self.raw is None or self.accounts_changed:
            return None
        span = accounts_table(self.raw)
        return None if span is None else self.raw[span[0] : span[1]]

    def current_seen(self) -> dict[str, dict[str, int]]:
        """The reports' fingerprints whose accounts are exactly as their run left them (of a
        doc as loaded): a change to any account since (an operator's, another report's run)
        drops them."""
        now = self.accounts_hash
        if not self.seen or now is None:
            return {}
        return {r: fps for r, fps in self.seen.items() if self.seen_over.get(r) == now}

    def previous_counts(self) -> PreviousExports:
        """For each report, of the export last taken as the school's (what the next export is
        compared with): how many records it sent; how many of them were on roll (no leaving
        date passed) and had not started yet, where its run kept them (runs before did not);
        the accounts whose unallocation its run held (rule 8), where it held any: a leaver among
        them was not on roll, yet its account is still active; the day it ran; its run. That export is
        the newest run's that read the report and applied it or held only its unallocations
        (not one that held it whole, unless confirmed since; not an export that came short of
        what IRIS said it holds; not a run that failed, was undone (its sizes dropped), or ran
        the other report only)."""
        out = PreviousExports.none()
        for report, run in self._previous_exports().items():
            out.sizes[report] = run["sizes"][report]
            out.runs[report] = run["run_id"]
            for kept, into in (
                (run.get("on_roll"), out.on_roll),
                (run.get("not_started"), out.not_started),
            ):
                if isinstance(kept, dict) and isinstance(kept.get(report), int):
                    into[report] = kept[report]
            usernames = run.get("held_usernames")
            if usernames and isinstance(usernames, list):
                out.held[report] = frozenset(u for u in usernames if isinstance(u, str))
            started = run.get("started_at")
            if isinstance(started, str) and len(started) >= 10:
                out.days[report] = started[:10]
        return out

    def _previous_exports(self) -> dict[str, dict[str, Any]]:
        """Report -> the run whose export was last taken as the school's (previous_counts)."""
        out: dict[str, dict[str, Any]] = {}
        for run in sorted(self.runs.values(), key=lambda r: seq_of(r["run_id"]), reverse=True):
            status, sizes = run.get("status"), run.get("sizes")
            if status not in ("succeeded", "held") or not isinstance(sizes, dict) or not sizes:
                continue
            skip: set[str] = set()
            if run.get("incomplete"):  # (runs of before incomplete_reports: every report)
                skip = set(run.get("incomplete_reports") or sizes)
            if status == "held":
                held = held_whole(run.get("comparisons"), run.get("comparison"))
                skip |= {c.get("report") for c in held}
            for report, size in sizes.items():
                if report not in out and report not in skip and isinstance(size, int):
                    out[report] = run
            if len(out) >= len(REPORTS):
                break
        return out

    def old_runs(self) -> list[dict[str, Any]]:
        """Takes out (oldest first) the ended runs beyond RUNS_KEPT, once there are more than
        RUNS_ARCHIVE_AT of them; none otherwise."""
        if len(self.runs) <= RUNS_ARCHIVE_AT:
            return []
        newest = sorted(self.runs.values(), key=lambda r: seq_of(r["run_id"]), reverse=True)
        keep = {r["run_id"] for r in newest[:RUNS_KEPT]}
        scheduled = next(
            (
                r["run_id"]
                for r in newest
                if r.get("trigger") == "schedule" and r["status"] in ("succeeded", "held")
            ),
            None,
        )
        old = [
            r
            for r in reversed(newest)
            if r["run_id"] not in keep
            and r["run_id"] != scheduled
            and r["status"] in ARCHIVED_STATUSES
        ]
        for run in old:
            del self.runs[run["run_id"]]
        return old

    def old_cases(self) -> list[dict[str, Any]]:
        """Takes out (oldest first) the resolved cases beyond CASES_KEPT, once more than
        CASES_ARCHIVE_AT are resolved; none otherwise."""
        resolved = [c for c in self.cases.values() if c["status"] != "open"]
        if len(resolved) <= CASES_ARCHIVE_AT:
            return []
        resolved.sort(key=lambda c: seq_of(c["case_id"]))
        old = resolved[: len(resolved) - CASES_KEPT]
        for case in old:
            del self.cases[case["case_id"]]
        return old

    def settle_running(self, running: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The directory's running runs that are still running: a dead process's run is recorded
        here as failed (interrupted), a run this file has the end of is dropped."""
        alive = []
        for run in running:
            if run["run_id"] in self.runs:
                continue
            if is_stale(run):
                self.runs[run["run_id"]] = mark_interrupted(run)
                self.dirty = True
            else:
                alive.append(run)
        return alive

    def cases_in_order(self, status: str | None = None) -> list[dict[str, Any]]:
        """The cases oldest first (of one status when given)."""
        rows = sorted(self.cases.values(), key=lambda c: seq_of(c["case_id"]))
        return rows if status is None else [c for c in rows if c["status"] == status]

    def exclusions_in_order(self) -> list[dict[str, Any]]:
        return [self.exclusions[k] for k in sorted(self.exclusions)]

    def summary(self, running: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The School summary fields and the running runs for the directory (`running`: the
        directory's running runs, settled)."""
        dfe = self.dfe
        active = 0
        for account in self.accounts.values():
            if account.get("status", "active") == "active" and account.get("school") == dfe:
                active += 1
        open_cases = sum(1 for c in self.cases.values() if c["status"] == "open")
        runs = merged_runs(self.runs, running or [])
        out: dict[str, Any] = {
            "last_run_id": None,
            "last_run_status": None,
            "last_run_at": None,
            "last_run_trigger": None,
            "last_scheduled_success_at": None,
            "scheduled_failed_at": [],
            "last_whole_run_at": None,
            "open_cases": open_cases,
            "unallocated_last_run": 0,
            "active_accounts": active,
            RUNNING_KEY: [r for r in runs if r["status"] == "running"],
        }
        if runs:
            out.update(last_run_fields(runs[0]))
        for run in runs:
            # the last run applied: not one that changed nothing (cancelled, failed, a dry run),
            # which hid what the run before it unallocated
            if run["status"] in ("succeeded", "held") and not run.get("dry_run"):
                out["unallocated_last_run"] = int((run.get("counts") or {}).get("unallocated", 0))
                break
        # A held scheduled run did run: counting it stops run-due from re-running a held school.
        failed = out["scheduled_failed_at"]
        # A force run of every report since then that ran is kept too (the schedule counts it).
        for run in runs:
            if run["status"] == "running":
                continue
            ran = run["status"] in ("succeeded", "held")
            if run.get("trigger") != "schedule":
                if ran and run.get("whole") and out["last_whole_run_at"] is None:
                    out["last_whole_run_at"] = run.get("started_at")
                continue
            if ran:
                out["last_scheduled_success_at"] = run.get("started_at")
                break
            if len(failed) < FAILURES_KEPT and run.get("started_at"):
                failed.append(run["started_at"])
        out["counted_runs_at"] = [
            run["started_at"]
            for run in runs
            if run["status"] in ("succeeded", "held")
            and (run.get("trigger") == "schedule" or run.get("whole"))
            and run.get("started_at")
        ][:COUNTED_KEPT]
        return out


SCHOOL_TABLES = ("accounts", "runs", "cases", "exclusions", "seen", "meta")


def checked_school_file(path: Path, data: Any, raw: bytes | None) -> tuple[dict[str, Any], bytes]:
    """A school's file as read (read_json_raw). Every school listed has one, written with its
    entry: one missing, empty or of another shape is damaged (read as an empty school, the next
    run made every record a starter and wrote the file again without its accounts, runs and
    cases)."""
    if data is None:
        raise damaged(path, "missing" if raw is None else "empty")
    check_tables(path, data, SCHOOL_TABLES)
    return data, raw  # type: ignore[return-value]
