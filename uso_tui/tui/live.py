"""Force runs owned by the app, not by a screen: leaving the Force Run screen does not cancel a run,
and reopening it shows the run where it is. The runner works in a thread (its planning and its store
commit would otherwise block the event loop, and the console must answer keys during a run); it
reports through `LiveRun`, a small lock-protected state, and a merging message that wakes the UI.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual.message import Message

from uso_tui.sync.events import Progress

LOG_LINES = 400


@dataclass
class ReportProgress:
    pages_done: int = 0
    pages_total: int | None = None
    records_done: int = 0
    records_total: int | None = None
    phase: str = "waiting"


@dataclass
class LiveRun:
    """What the console knows of one force run it started (read under `lock`)."""

    dfe: str
    operator: str
    started_at: datetime
    reports: list[str]
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    run_id: str | None = None
    phase: str = "connecting"
    per_report: dict[str, ReportProgress] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    done: bool = False
    result: Any = None  # sync.runner.RunResult
    error: str | None = None  # an exception the runner raised (RunInProgress, a bug)
    refused: bool = False  # RunInProgress: another run of this school is going
    updates: int = 0  # progress events received (the UI merges their messages)
    log_count: int = 0  # lines ever logged (the deque keeps the newest LOG_LINES)
    end_seen: bool = False  # the Force Run screen showed how it ended (then `f` starts a new run)

    def __post_init__(self) -> None:
        for report in self.reports:
            self.per_report.setdefault(report, ReportProgress())

    def note_locked(self, line: str) -> None:
        """Adds a line; the caller holds `lock`."""
        self.log.append(line)
        self.log_count += 1

    def note(self, line: str) -> None:
        """Adds a line to the run's log (any thread)."""
        with self.lock:
            self.note_locked(line)

    def apply(self, progress: Progress, stamp: str) -> None:
        """Called in the runner's thread for every progress event."""
        with self.lock:
            self.updates += 1
            if progress.run_id:
                self.run_id = progress.run_id
            if progress.phase != self.phase:
                where = f" {progress.report}" if progress.report else ""
                self.note_locked(f"{stamp} {progress.phase}{where}")
            self.phase = progress.phase
            if progress.report:
                rp = self.per_report.setdefault(progress.report, ReportProgress())
                rp.phase = progress.phase
                rp.pages_done = max(rp.pages_done, progress.pages_done)
                if progress.pages_total is not None:
                    rp.pages_total = progress.pages_total
                if progress.records_total is not None or progress.records_done:
                    rp.records_done = progress.records_done
                    rp.records_total = progress.records_total
            if progress.counts:
                self.counts = dict(progress.counts)
            if progress.message:
                where = f"[{progress.report}] " if progress.report else ""
                self.note_locked(f"{stamp} {where}{progress.message}")

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy for the UI thread."""
        with self.lock:
            return {
                "run_id": self.run_id,
                "phase": self.phase,
                "per_report": {k: ReportProgress(**vars(v)) for k, v in self.per_report.items()},
                "counts": dict(self.counts),
                "log": list(self.log),
                "log_count": self.log_count,
                "done": self.done,
                "result": self.result,
                "error": self.error,
                "refused": self.refused,
                "updates": self.updates,
            }


class RunProgress(Message):
    """A live run changed. Floods merge: only the newest pending one per school is handled
    (the state itself lives in LiveRun, so nothing is lost by merging)."""

    def __init__(self, dfe: str) -> None:
        super().__init__()
        self.dfe = dfe

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress) and message.dfe == self.dfe


class RunFinished(Message):
    """A live run ended (never merged)."""

    def __init__(self, dfe: str) -> None:
        super().__init__()
        self.dfe = dfe
