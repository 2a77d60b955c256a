"""The audit log: one segment file per transaction per school (schools/DFE/audit/NNNNNNNNNN.json,
events of global scope under DATA_DIR/audit/), so a commit's cost does not grow with history;
plus the bounded recent feed (newest events, moves and creates, runs) across all schools.

The feed is recent.json (the base) and one small delta per commit since (recent/NNNNNNNNNN.json:
that commit's events and runs); every RECENT_DELTAS commits one folds them into a new base. A commit
used to rewrite the whole feed, a megabyte and more once full: two thirds of what a daily run
wrote to disk."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from uso_tui.store.layout import seq_of
from uso_tui.store.storage import as_table, damaged, read_json, read_table, table_rows
from uso_tui.store.version_cache import meta_table

RECENT_EVENTS = 2000
RECENT_MOVES = 1000
RECENT_RUNS = 1000
RECENT_DELTAS = 64  # deltas at which a commit folds them into recent.json
MOVE_ACTIONS = frozenset({"move", "create"})


def segment_name(number: int) -> str:
    return f"{number:010d}.json"


def segments_newest_first(folder: Path) -> list[Path]:
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json") and n[:-5].isdigit()]
    except FileNotFoundError:
        return []
    names.sort(reverse=True)
    return [folder / n for n in names]


def read_events(
    folder: Path, limit: int | None = None, subject: str | None = None
) -> list[dict[str, Any]]:
    """Events of one folder, newest first."""
    out: list[dict[str, Any]] = []
    for seg in segments_newest_first(folder):
        events = read_table(seg, "events")
        for event in reversed(events):
            if subject is None or event.get("subject") == subject:
                out.append(event)
                if limit is not None and len(out) >= limit:
                    return out
    return out


def segment_doc(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"events": as_table(events)}


class Recent:
    """recent.json in memory: each list newest first."""

    def __init__(self, data: dict[str, Any] | None) -> None:
        self.events = table_rows(data, "events")
        self.moves = table_rows(data, "moves")
        self.runs = table_rows(data, "runs")
        meta = table_rows(data, "meta")
        self.meta: dict[str, int] = dict(meta[0]) if meta else {"next_global_audit": 1}

    def add_events(self, events: list[dict[str, Any]]) -> None:
        """`events` oldest first (as audited)."""
        newest = events[::-1]
        self.events = (newest + self.events)[:RECENT_EVENTS]
        moves = [e for e in newest if e.get("action") in MOVE_ACTIONS]
        if moves:
            self.moves = (moves + self.moves)[:RECENT_MOVES]

    def put_runs(self, runs: list[dict[str, Any]]) -> None:
        by_id = {r["run_id"]: r for r in self.runs}
        by_id.update({r["run_id"]: r for r in runs})
        ordered = sorted(
            by_id.values(),
            key=lambda r: (r.get("started_at") or "", seq_of(r["run_id"])),
            reverse=True,
        )
        self.runs = ordered[:RECENT_RUNS]

    @classmethod
    def merged(cls, base: dict[str, Any] | None, deltas: list[dict[str, Any]]) -> Recent:
        """The feed: the base with the deltas applied, oldest delta first."""
        feed = cls(base)
        events = [e for d in deltas for e in table_rows(d, "events")]
        if events:
            feed.add_events(events)
        runs = [r for d in deltas for r in table_rows(d, "runs")]
        if runs:
            feed.put_runs(runs)
        feed.meta = merged_meta(base, deltas)
        return feed

    def dump(self, token: str) -> dict[str, Any]:
        meta = {k: v for k, v in self.meta.items() if k != "version"}
        return {
            "meta": meta_table(token, **meta),
            "events": as_table(self.events),
            "moves": as_table(self.moves),
            "runs": as_table(self.runs),
        }


def merged_meta(base: dict[str, Any] | None, deltas: list[dict[str, Any]]) -> dict[str, int]:
    """The feed's counters (next_global_audit, next_delta): the newest delta's win."""
    rows = table_rows(base, "meta")
    meta: dict[str, int] = dict(rows[0]) if rows else {"next_global_audit": 1}
    meta.pop("version", None)
    for delta in deltas:
        rows = table_rows(delta, "meta")
        if rows:
            meta.update(rows[0])
    return meta


def delta_name(number: int) -> str:
    return f"{number:010d}.json"


def delta_numbers(folder: Path) -> list[int]:
    """The feed's deltas, oldest first."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())


def delta_doc(
    meta: dict[str, int], events: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"meta": {"1": meta}, "events": as_table(events), "runs": as_table(runs)}


class Deltas:
    """Parsed deltas by number, shared by a store's readers and transactions: a delta is never
    rewritten (numbers are not reused), so a parse stays good until the delta is folded away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docs: dict[int, dict[str, Any]] = {}

    def get(self, folder: Path, numbers: list[int]) -> list[dict[str, Any]]:
        """Caller holds a read of the store (the commit lock), so the files are those listed."""
        with self._lock:
            known = dict(self._docs)
        out = []
        for number in numbers:
            doc = known.get(number)
            if doc is None:
                path = folder / delta_name(number)
                doc = read_json(path) or {}
                if not isinstance(doc, dict):
                    raise damaged(path, f"a JSON {type(doc).__name__} where a delta belongs")
                with self._lock:
                    self._docs[number] = doc
            out.append(doc)
        if len(known) > len(numbers):  # folded away since: forget them
            keep = set(numbers)
            with self._lock:
                self._docs = {k: v for k, v in self._docs.items() if k in keep}
        return out

    def remember(self, number: int, doc: dict[str, Any]) -> None:
        with self._lock:
            self._docs[number] = doc
