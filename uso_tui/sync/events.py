"""Progress events a run emits; the command line and the console both consume them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
