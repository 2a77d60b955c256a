"""The audit log: one segment file per transaction per school (schools/DFE/audit/NNNNNNNNNN.json,
events of global scope under DATA_DIR/audit/), so a commit's cost does not grow with history;
plus the bounded recent.json feed (newest events, moves and creates, runs) across all schools."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from uso_tui.store.hotfiles import meta_table
from uso_tui.store.layout import seq_of
from uso_tui.store.storage import as_table, read_json, table_rows

RECENT_EVENTS = 2000
RECENT_MOVES = 1000
RECENT_RUNS = 1000
MOVE_ACTIONS = frozenset({"move", "create"})


def segment_name(n: int) -> str:
    return f"{n:010d}.json"


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
        events = table_rows(read_json(seg), "events")
        for e in reversed(events):
            if subject is None or e.get("subject") == subject:
                out.append(e)
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

    def dump(self, token: str) -> dict[str, Any]:
        meta = {k: v for k, v in self.meta.items() if k != "version"}
        return {
            "meta": meta_table(token, **meta),
            "events": as_table(self.events),
            "moves": as_table(self.moves),
            "runs": as_table(self.runs),
        }
