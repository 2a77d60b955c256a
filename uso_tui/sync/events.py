"""Progress events a run emits; the command line and the console both consume them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from uso_tui.domain.models import empty_counts

Phase = Literal[
    "connecting", "fetching", "planning", "applying", "done", "held", "failed", "cancelled"
]


@dataclass(slots=True, frozen=True)
class Progress:
    run_id: str
    school: str
    phase: Phase
    report: str | None = None  # "staff" | "students" while fetching/planning a report
    pages_done: int = 0
    pages_total: int | None = None
    records_done: int = 0
    records_total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # counts so far (COUNT_KEYS)
    message: str | None = None  # a notable event for the log ("token refreshed", "429: waiting 2s")


OnProgress = Callable[[Progress], None]


class ProgressEmitter:
    """Emits one run's Progress events, each with the counts so far (`counts`, which the run
    updates as it goes); a failing listener never breaks a run."""

    def __init__(self, run_id: str, dfe: str, listener: OnProgress | None) -> None:
        self.run_id, self.dfe, self.listener = run_id, dfe, listener
        self.counts = empty_counts()

    def __call__(self, phase: Phase, report: str | None = None, **kw) -> None:
        if self.listener is None:
            return
        with contextlib.suppress(Exception):
            self.listener(
                Progress(self.run_id, self.dfe, phase, report, counts=dict(self.counts), **kw)
            )
