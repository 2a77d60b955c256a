"""Force Run: start a run of one school and watch it live.

The run belongs to the app (UsoApp.start_force_run): leaving this screen does not cancel it, and opening
the screen again shows it where it is. When the school already has a run going elsewhere (the scheduler,
another console, the command line), this screen shows that run by polling the store instead of starting
another.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar, RichLog, Static

from uso_tui.domain.models import Run, School
from uso_tui.domain.schools import REPORT_LABELS
from uso_tui.sync.actions import Confirmed
from uso_tui.sync.compare import comparisons_lines
from uso_tui.sync.failure import failure_kind
from uso_tui.tui.force_ask import ForceRunAsk
from uso_tui.tui.format import clean, plain, status_text, when
from uso_tui.tui.held import ConfirmsHeld, confirmed_line
from uso_tui.tui.live import LiveRun, ReportProgress
from uso_tui.tui.workers import in_thread


def failure_advice(error: str) -> str:
    """The next step for a run that failed with `error` (its one line): the settings only when
    they are the likely cause (a process killed, IRIS down or slow, is no setting to change)."""
    return _ADVICE[failure_kind(error)]


_ADVICE = {
    "store": "The store could not be written: check the data directory's disk.",
    "interrupted": "The process running it stopped (killed, or the server restarted): r runs it again.",
    "credentials": "e: check the Client ID and Client Secret in the AutoUpdate settings.",
    "address": "e: check the MIS URL in the AutoUpdate settings.",
    "bounds": (
        "The export passed a bound of config.json (named above): a school that large needs "
        "it raised there (see the README's bounds); else ask the school about its MIS."
    ),
    "iris": (
        "IRIS did not answer as it should (down, slow, or an error of its own): r runs it "
        "again; if it keeps failing, e: check the AutoUpdate settings."
    ),
}


COUNTERS = [
    ("created", "Created"),
    ("updated", "Updated"),
    ("auto_linked", "Auto-linked"),
    ("restored", "Restored"),
    ("unallocated", "Unallocated"),
    ("held_unallocations", "Held"),
    ("needs_matching", "To match"),
    ("future", "Future"),
    ("invalid", "Invalid"),
    ("excluded", "Excluded"),
    ("leaver", "Leavers"),
]
POLL_SECONDS = 1.0


def counters_text(counts: dict[str, int], status: str | None = None) -> Text:
    """Four counters a line (fits 80 columns with counts up to 99,999). `status`: the run's, once
    it has ended: unallocations are held only while it is held (confirmed, they are among the
    unallocated)."""
    if status is not None and status != "held":
        counts = {**counts, "held_unallocations": 0}
    out = Text(end="")
    for position, (key, label) in enumerate(COUNTERS):
        if position and position % 4 == 0:
            out.append("\n")
        count = counts.get(key, 0)
        out.append(f"{label:<12}", style="bold")
        warn = count and key in ("unallocated", "held_unallocations", "needs_matching", "invalid")
        out.append(f"{count:>5,}  ", style="yellow" if warn else "")
    return out


def report_label(report: str, rp: ReportProgress, finished: bool = False) -> str:
    name = REPORT_LABELS.get(report, report)
    if finished and (rp.records_total is not None or rp.pages_done):
        total = rp.records_total if rp.records_total is not None else rp.records_done
        pages = (
            f", {rp.pages_done} page{'s' if rp.pages_done != 1 else ''}" if rp.pages_done else ""
        )
        return f"{name:<9}{total:,} records{pages}"
    if rp.records_total is not None and rp.phase in ("planning", "applying", "done", "held"):
        return f"{name:<9}{rp.phase} {rp.records_done:,}/{rp.records_total:,} records"
    if rp.pages_done or rp.pages_total:
        total = f"/{rp.pages_total}" if rp.pages_total else ""
        return f"{name:<9}pages {rp.pages_done}{total} ({rp.records_done:,} records)"
    return f"{name:<9}{rp.phase}"


def run_head(run_id: str, state: Text) -> Text:
    """The screen's first line: the run and where it is."""
    head = Text(f"Run {run_id}  ", style="bold", end="")
    head.append_text(state)
    return head


class ForceRunScreen(ConfirmsHeld):
    kind = "force_run"
    TITLE = "Force run"
    WIDE_KEYS = ("run_again", "settings")
    phase_box = getters.query_one("#phase", Static)
    counters_box = getters.query_one("#counters", Static)
    outcome_box = getters.query_one("#outcome", Static)
    run_log = getters.query_one(RichLog)

    BINDINGS = [
        Binding("c", "cancel_run", "Cancel run"),
        Binding("y", "confirm_held", "Confirm held"),
        Binding("m", "matching", "Matching"),
        Binding("b", "results", "Bulk results"),
        # every finished run's outcome line says it (the footer fits 80 columns with y and b)
        Binding("r", "run_again", "Run again", show=False),
        Binding("e", "settings", "Settings", show=False),
        Binding("escape", "app.back", "Back"),
    ]

    # what the footer offers follows these (check_action): the keys refresh when they change
    running: var[bool] = var(False, bindings=True)  # this console's run of the school is going
    external: var[Run | None] = var(None, bindings=True)  # a run of it by another process
    final: var[Run | None] = var(None, bindings=True)  # the run that ended, as shown

    def __init__(self, store, dfe: str) -> None:
        super().__init__(store, dfe)
        self.live: LiveRun | None = None
        self._written = 0  # log lines shown
        self._poll: Timer | None = None
        self._bars: dict[str, tuple[Static, ProgressBar]] = {}
        self.waiting: int | None = None  # open match cases of the school, read after the run
        # what `r` (run again) leaves, until it is answered: (app's live run, live, final, waiting)
        self._again: tuple | None = None
        self._live_at = 0.0  # when the run going showed (time.monotonic(): a key read before
        # it, `f y c` typed ahead on the hub's Calendar key, was not meant to cancel it)

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Force run {self.dfe}")
        yield Static("", id="phase", classes="summary")
        yield Vertical(id="bars", classes="report-progress")
        yield Static("", id="counters", classes="summary")
        yield Static("", id="outcome", classes="summary")
        # wraps long lines at 80 columns; lines are Text, never markup
        yield RichLog(id="run-log", wrap=True, markup=False, highlight=False, max_lines=1000)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.hold_keys()  # a `y` typed ahead answers the question, once it is asked
        self.begin()

    def on_screen_resume(self) -> None:
        # a run that ended is shown as it ended, or as confirmed since: not as it went live
        if self.live is not None and (not self.live.done or self.final is None):
            self.render_live()
        if self.final is not None:  # decisions made meanwhile (the matching queue, elsewhere)
            self.count_waiting()
        self.reread_school()  # renamed meanwhile (e: settings)

    @in_thread("force-run-school", failure="Cannot read the school")
    def reread_school(self) -> None:
        school = self.store.school(self.dfe)
        self.app.call_from_thread(self._show_school, school)

    @in_thread("force-run-waiting", failure="Cannot read the matching queue")
    def count_waiting(self) -> None:
        waiting = self.store.school(self.dfe).open_cases
        self.app.call_from_thread(self._waiting_counted, waiting)

    def _waiting_counted(self, waiting: int) -> None:
        if waiting != self.waiting:
            self.waiting = waiting
            if self.final is not None:
                self._show_final(self.final)

    # -- starting or attaching ----------------------------------------------------------------

    @in_thread("force-run-start")
    def begin(self) -> None:
        """Attach to this console's run, or to another process's, or start one."""
        from uso_tui.sync.runner import current_run  # noqa: PLC0415

        try:
            school = self.store.school(self.dfe)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._fatal, str(exc))
            return
        self.app.call_from_thread(self._show_school, school)
        live = self.app.live_runs.get(self.dfe)
        # a run still going, or one that ended while the operator was elsewhere: show it
        if live is not None and (not live.done or (live.result is not None and not live.end_seen)):
            self.app.call_from_thread(self._attach_live, live)
            return
        try:
            running = current_run(self.store, self.dfe)
        except Exception:  # noqa: BLE001 - treat as none: the runner refuses a second run anyway
            running = None
        if running is not None:
            self.app.call_from_thread(self._show_external, running)
            return
        last = next((r for r in self.store.runs(self.dfe, limit=1) if not r.dry_run), None)
        self.app.call_from_thread(self._ask_start, school, last)

    def _ask_start(self, school: School, last: Run | None) -> None:
        """A run changes accounts: ask first, with the reports (narrowed if wanted) and the last run."""

        def answer(reports: list[str] | None) -> None:
            again, self._again = self._again, None
            if reports:
                self._start(school, reports)
            elif again is not None:  # `r` then no: the run that ended, shown as it was
                self._shown_again(*again)
            elif self.is_current:
                self.app.pop_screen()

        self.app.push_screen(ForceRunAsk(school, last), answer)
        self.keys_go()

    def _show_school(self, school: School) -> None:
        self.title = f"Force run {school.dfe}"
        self.query_one("#title", Static).update(
            Text.assemble(
                ("Force run  ", "bold"),
                (f"{school.dfe}  ", "bold"),
                plain(school.name),
                no_wrap=True,
                overflow="ellipsis",
            )
        )

    def _fatal(self, message: str) -> None:
        self.outcome_box.update(plain(message, "bold red"))
        self.keys_go()

    def _start(self, school: School, reports: list[str]) -> None:
        self.final = None
        self.external = None
        live = self.app.start_force_run(self.dfe, reports)
        self._attach_live(live)

    def _attach_live(self, live: LiveRun) -> None:
        self._again = None
        self.keys_go()
        if live is not self.live:
            self._live_at = time.monotonic()
        self.live = live
        self._written = 0
        self.run_log.clear()
        self._make_bars(live.reports)
        self.render_live()

    def _make_bars(self, reports: list[str]) -> None:
        bars = self.query_one("#bars", Vertical)
        bars.remove_children()
        self._bars = {}
        for report in reports:
            label = Static("", classes="report-label")
            bar = ProgressBar(total=None, show_eta=False, show_percentage=True)
            bars.mount(Horizontal(label, bar, classes="report-progress"))
            self._bars[report] = (label, bar)

    # -- live updates (RunProgress merges, so this runs at most once per frame or so) ----------

    def live_run_changed(self, dfe: str) -> None:
        if dfe == self.dfe and self.live is not None:
            self.render_live()

    def render_live(self) -> None:
        live = self.live
        if live is None:
            return
        snap = live.snapshot()
        phase = snap["phase"]
        run_id = snap["run_id"] or "starting"
        head = run_head(
            run_id,
            status_text(phase)
            if phase in ("succeeded", "held", "failed", "cancelled")
            else Text(f"phase: {phase}", style="bold cyan"),
        )
        if not snap["done"]:
            head.append("   (c cancels; escape leaves it running)", style="dim")
        self.phase_box.update(head)
        for report, rp in snap["per_report"].items():
            if report not in self._bars:
                continue
            label, bar = self._bars[report]
            finished = snap["done"] and phase in ("succeeded", "held", "done")
            words = report_label(report, rp, finished)
            if snap["done"] and not finished:
                words = f"{REPORT_LABELS.get(report, report):<9}{phase}"
            label.update(Text(words, no_wrap=True, overflow="ellipsis"))
            if rp.records_total is not None and rp.phase in (
                "planning",
                "applying",
                "done",
                "held",
            ):
                # an empty report is whole once planned, not at 0%
                done = rp.records_done if rp.records_total else int(finished)
                bar.update(total=max(rp.records_total, 1), progress=done)
            elif rp.pages_total:
                bar.update(total=rp.pages_total, progress=rp.pages_done)
            elif snap["done"] and phase in ("succeeded", "held", "done"):
                bar.update(total=1, progress=1)
            elif snap["done"]:
                bar.update(total=1, progress=0)  # failed or cancelled: still, not pulsing
        self.counters_box.update(counters_text(snap["counts"]))
        log = self.run_log
        # LiveRun keeps the newest lines and counts them all: write those not written yet
        lines = snap["log"]
        missing = snap["log_count"] - self._written
        if missing > 0:
            for line in lines[-missing:]:
                log.write(Text(clean(line)))
            self._written = snap["log_count"]
        self.running = not snap["done"]
        if snap["done"]:
            self._finished(snap)

    def _finished(self, snap: dict) -> None:
        outcome = self.outcome_box
        if snap["refused"]:
            outcome.update(plain(snap["error"] or "another run is in progress", "bold yellow"))
            self.begin_watch_after_refusal()
            return
        result = snap["result"]
        if self.is_current:
            self.live.end_seen = True
        if result is None:
            outcome.update(plain(f"Run failed: {snap['error']}", "bold red"))
            return
        self.final = result.run
        self.waiting = None  # the run changed the queue: read it again
        self._show_final(result.run)

    def begin_watch_after_refusal(self) -> None:
        self.live = None
        self.begin()

    def _show_final(self, run: Run) -> None:
        outcome = self.outcome_box
        counts = run.counts
        text = Text(end="")
        text.append_text(status_text(run.status))
        text.append(f"  {when(run.finished_at)}  ")
        if run.status == "succeeded":
            text.append(
                f"{counts.get('fetched', 0):,} records, {counts.get('unchanged', 0):,} unchanged."
            )
        elif run.status == "held" and run.confirmed_at:
            pass  # said below
        elif run.status == "held" and run.comparison:
            text.append(
                "Held whole: the export looks wrong beside the previous one; nothing of it "
                "was applied. y shows it, to confirm there.",
                style="bold yellow",
            )
            for line in comparisons_lines(run.held_whole()):
                text.append("\n")
                text.append_text(plain(line))
        elif run.status == "held":
            text.append(
                f"{len(run.held_usernames)} unallocations held (safety hold). "
                "y shows who, to confirm there.",
                style="bold yellow",
            )
            if run.hold_reason:  # too many leavers, or an export short of what IRIS said
                text.append("\n")
                text.append_text(plain(run.hold_reason, "yellow"))
        elif run.status == "cancelled":
            text.append("Cancelled before the apply step: nothing changed.")
        elif run.status == "failed":
            text.append_text(plain(f"Nothing changed. {run.error or ''}", "bold red"))
            text.append(f"\n{failure_advice(run.error or '')}")
        if run.confirmed_at:
            text.append("\n")
            text.append_text(
                plain(f"Held unallocations confirmed by {run.confirmed_by}.", "bold green")
            )
        if self.waiting:  # the queue as it is now, not as the run left it
            text.append(
                f"\n{self.waiting} record{'s wait' if self.waiting != 1 else ' waits'} in the "
                "matching queue (m)."
            )
        elif self.waiting == 0 and counts.get("needs_matching"):
            text.append("\nNo records wait in the matching queue.")
        text.append("  b: bulk results.  r: run again.", style="dim")
        outcome.update(text)
        if self.waiting is None:
            self.count_waiting()
        self.counters_box.update(counters_text(counts, run.status))
        # the outcome's lines take room from the log: its last lines stay in view
        self.call_after_refresh(self.run_log.scroll_end, animate=False, immediate=True)

    def _log_line(self, line: str) -> None:
        self.run_log.write(Text(clean(line)))

    # -- another process's run ------------------------------------------------------------------

    def _show_external(self, run: Run) -> None:
        self._again = None
        self.keys_go()
        self.external = run
        self.run_log.clear()  # (`r` after a run that ended: its log is not this run's)
        self._make_bars([])
        self.phase_box.update(
            Text.assemble(
                (f"Run {run.run_id}  ", "bold"),
                ("running elsewhere", "bold cyan"),
                f": {run.trigger} by ",
                plain(run.operator),
                f" since {when(run.started_at, seconds=True)}",
            )
        )
        self.outcome_box.update(
            Text(
                "This school already has a run in progress; showing it instead of starting "
                "another. Its details appear when it ends.",
                style="yellow",
            )
        )
        self._log_line(
            clean(f"{run.run_id}: {run.trigger} run by {run.operator} in another process")
        )
        if self._poll is None:
            self._poll = self.set_interval(POLL_SECONDS, self.poll_external)

    @in_thread("force-run-poll")
    def poll_external(self) -> None:
        if self.external is None:
            return
        try:
            run = self.store.run(self.external.run_id)
        except Exception:  # noqa: BLE001 - try again next tick
            return
        self.app.call_from_thread(self._external_update, run)

    def _external_update(self, run: Run) -> None:
        self.counters_box.update(counters_text(run.counts, run.status))
        if run.status == "running":
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self._log_line(f"{run.run_id}: {run.status}")
        self.external = None
        self.final = run
        self.waiting = None
        self._show_final(run)
        # the header said "running elsewhere" while it went: it has ended
        self.phase_box.update(run_head(run.run_id, status_text(run.status)))

    # -- keys ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # False hides a key from the footer: only what can be done now is offered
        if action == "cancel_run":
            return self.running
        if action == "confirm_held":
            return (
                self.final is not None
                and self.final.status == "held"
                and not self.final.confirmed_at
            )
        if action == "run_again":
            return not self.running and self.external is None
        return True

    def action_cancel_run(self) -> None:
        live = self.live
        if live is None or live.done:
            return
        if self.typed_before(self._live_at, "the run had not shown", "c cancels it"):
            return
        if live.phase == "applying":
            self.say("Too late to cancel: the run is applying its changes", "warning")
            return
        live.cancel.set()
        live.note(f"{self.now():%H:%M:%S} cancel requested by {self.operator}")
        self.render_live()

    def action_run_again(self) -> None:
        if self.live is not None and not self.live.done:
            return
        # kept to show again if the operator answers no (the screen stays on that run)
        self._again = (self.app.live_runs.get(self.dfe), self.live, self.final, self.waiting)
        self.app.live_runs.pop(self.dfe, None)
        self.live = None
        self.final = None
        self.waiting = None
        self.outcome_box.update("")
        self.hold_keys()  # as on_mount: `r y` typed ahead, the `y` answers the question asked
        self.begin()

    def _shown_again(
        self, kept: LiveRun | None, live: LiveRun | None, final: Run | None, waiting: int | None
    ) -> None:
        if kept is not None:
            self.app.live_runs.setdefault(self.dfe, kept)
        self.live, self.final, self.waiting = live, final, waiting
        if final is not None:
            self._show_final(final)
        elif live is not None:  # a run that failed before it had a result
            self.render_live()
        self.keys_go()

    def action_matching(self) -> None:
        self.app.open_screen("matching", self.dfe)

    def action_settings(self) -> None:
        self.app.open_screen("settings", self.dfe)

    def action_results(self) -> None:
        self.app.open_screen("bulk_results", self.dfe)

    def action_confirm_held(self) -> None:
        if not self.check_action("confirm_held", ()):
            return
        self.load_held(self.final)

    def held_changed(self, run: Run) -> None:
        if self.final is not None and self.final.run_id == run.run_id:
            self.final = run
            self._show_final(run)
            self.phase_box.update(run_head(run.run_id, status_text(run.status)))
            self.refresh_bindings()

    def held_confirmed(self, done: Confirmed) -> None:
        self.final = done.run
        self.waiting = None  # confirming a report held whole applies it: cases may open
        line = confirmed_line(done)
        self._log_line(clean(f"{self.now():%H:%M:%S} {line} by {self.operator}"))
        self._show_final(done.run)
        # the header said HELD from the live run; the run is confirmed now
        self.phase_box.update(run_head(done.run.run_id, status_text(done.run.status)))
        self.say(line)
