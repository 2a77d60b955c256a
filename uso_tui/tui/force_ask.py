"""The question before a Force Run: which school, which of its enabled reports, what its last run
did. `y` starts, `n`/escape cancels; `s` and `t` narrow the run to staff or students."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from uso_tui.domain.models import Run, School
from uso_tui.domain.schools import REPORT_LABELS
from uso_tui.tui.format import hanging, plain, status_text, when
from uso_tui.tui.widgets import Dialog

TOGGLE_KEYS = {"staff": "s", "students": "t"}


class ForceRunAsk(Dialog[list[str] | None]):
    IS_QUESTION = True  # answered or cancelled before anything else (no palette over it)

    BINDINGS = [
        Binding("y", "start", "Start"),
        Binding("n,escape", "cancel", "Cancel"),
        Binding("s", "toggle('staff')", "Staff", show=False),
        Binding("t", "toggle('students')", "Students", show=False),
    ]

    def __init__(self, school: School, last: Run | None) -> None:
        super().__init__()
        self.school = school
        self.last = last
        self.chosen = [r for r in school.reports if r in TOGGLE_KEYS]  # only what it has enabled

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(plain(f"Force run {self.school.dfe}?", "bold"), classes="dialog-title")
            yield Static(self.body(), id="ask-body")
            yield Static(
                Text.assemble(("y", "bold"), " Start   ", ("n/escape", "bold"), " Cancel"),
                classes="dialog-keys",
            )

    def body(self) -> Group:
        """The question's text; the last run's error (often long) wraps under its own indent."""
        out = Text(end="")
        out.append_text(plain(self.school.name, "bold"))
        out.append(f" ({self.school.mis})\n\nReports to run:\n")
        for report in self.school.reports:
            key = TOGGLE_KEYS.get(report)
            mark = "[x]" if report in self.chosen else "[ ]"
            out.append(f"  {mark} {REPORT_LABELS.get(report, report)}")
            out.append(f"   {key} toggles\n" if key else "\n", style="dim")
        if not self.chosen:
            out.append("  none chosen: nothing would run\n", style="bold red")
        out.append("\nLast run: ")
        last = self.last
        if last is None:
            out.append("never", style="dim")
        else:
            out.append_text(status_text(last.status))
            out.append(f" {when(last.started_at)} ({last.trigger})")
            counts = last.counts
            out.append(
                f"\n  {counts.get('created', 0)} created, {counts.get('updated', 0)} updated, "
                f"{counts.get('unallocated', 0)} unallocated, "
                f"{counts.get('needs_matching', 0)} to match"
            )
            if last.error:
                out.append("\n  ")
                out.append_text(plain(last.error, "red"))
        return hanging(out)

    def action_toggle(self, report: str) -> None:
        if report not in self.school.reports:
            return  # a report the school has not enabled is never offered
        if report in self.chosen:
            self.chosen.remove(report)
        else:
            self.chosen = [r for r in self.school.reports if r in (*self.chosen, report)]
        self.query_one("#ask-body", Static).update(self.body())

    def action_start(self) -> None:
        if self.chosen:
            self.dismiss(list(self.chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)
