"""One school's hub: its settings and state at a glance, and a key to every per-school screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from uso_tui.domain.models import Run, School, last_that_ran
from uso_tui.domain.schools import REPORT_LABELS
from uso_tui.sync.schedule import failed_times, next_retry, next_run
from uso_tui.tui.format import ago, kv_grid, plain, status_text, when
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.screens.schools import REFRESH_SECONDS
from uso_tui.tui.workers import in_thread

MENU = [
    ("e", "AutoUpdate settings", "settings"),
    ("f", "Force run", "force_run"),
    ("m", "Matching queue", "matching"),
    ("b", "Whole School Bulk Results", "bulk_results"),
    ("u", "Users (all schools)", "users"),
    ("n", "Non-MIS accounts", "non_mis"),
    ("h", "Run history", "history"),
    ("a", "Audit log", "audit"),
    ("d", "Possible duplicates", "duplicates"),
    ("c", "Calendar: starters, leavers", "calendar"),
    ("r", "Request an account", "request"),
    ("w", "Why no account? (all schools)", "why"),
]


class SchoolScreen(UsoScreen):
    kind = "school"
    TITLE = "School"
    WIDE_KEYS = (
        "go('users')",
        "go('history')",
        "go('audit')",
        "request",
        "go('non_mis')",
        "go('duplicates')",
        "go('calendar')",
        "go('why')",
    )

    BINDINGS = [
        Binding("e", "go('settings')", "Settings"),
        Binding("f", "go('force_run')", "Force run"),
        Binding("m", "go('matching')", "Matching"),
        Binding("b", "go('bulk_results')", "Bulk results"),
        Binding("u", "go('users')", "Users", show=False),
        # the page lists every key (its menu): the footer keeps the commonest, and Back, within
        # 80 columns
        Binding("n", "go('non_mis')", "Non-MIS", show=False),
        Binding("d", "go('duplicates')", "Duplicates", show=False),
        Binding("h", "go('history')", "Runs", show=False),
        Binding("a", "go('audit')", "Audit", show=False),
        Binding("c", "go('calendar')", "Calendar", show=False),
        Binding("r", "request", "Request account", show=False),
        Binding("w", "go('why')", "Why no account?", show=False),
        Binding("g", "reload", "Reload", show=False),
        Binding("escape", "app.back", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"School {self.dfe}")
        with VerticalScroll():
            yield Static("loading…", id="summary", classes="summary loading")
            yield Static(self._menu(None), id="menu", classes="summary")
            yield Static("", id="runs", classes="summary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()
        # settings changed from another console or the command line, runs of other processes
        self.set_interval(REFRESH_SECONDS, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self.is_current:
            self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def live_run_changed(self, dfe: str) -> None:
        if dfe == self.dfe:
            self.load()

    def action_reload(self) -> None:
        self.load()

    def action_go(self, kind: str) -> None:
        self.app.open_screen(kind, None if kind in ("users", "why") else self.dfe)

    def action_request(self) -> None:
        """User Request Single: an account ahead of the MIS record."""
        from uso_tui.tui.request_account import RequestAccountForm  # noqa: PLC0415

        def made(result) -> None:
            if result is not None:
                acc = result.account
                self.say(
                    f"Created {acc.username} ({acc.forename} {acc.surname}, {acc.role}) at "
                    f"{self.dfe}: {result.next}"
                )
                self.load()

        self.app.push_screen(
            RequestAccountForm(self.store, self.dfe, self.operator, self.now), made
        )

    @in_thread("school-load", failure="Cannot read the school")
    def load(self) -> None:
        school = self.store.school(self.dfe)
        has_secret = self.store.has_secret(self.dfe)
        runs = self.store.runs(self.dfe, limit=5)
        self.app.call_from_thread(self._show, school, has_secret, runs)

    @staticmethod
    def _daily(school: School, now) -> Text:
        """The daily time, and when run-due runs the school next: again after scheduled runs
        failed today, else at its next daily time (a time moved earlier waits for tomorrow)."""
        out = Text(school.daily_at, end="")
        if school.paused:
            out.append("  paused: the schedule does not run it (settings)", style="yellow")
            return out
        retry = next_retry(school, now)
        if retry is not None:
            at, failures = retry
            times = failed_times(failures)
            again = "at the next pass" if at <= now else f"at {at:%H:%M}"
            out.append(f"  failed {times} since; run-due tries again {again}", style="yellow")
            return out
        at = next_run(school, now)
        if at <= now:
            out.append("  due: runs at run-due's next pass", style="dim")
        else:
            day = {0: "today", 1: "tomorrow"}.get((at.date() - now.date()).days, f"{at:%Y-%m-%d}")
            out.append(f"  next run {day} {at:%H:%M}", style="dim")
        return out

    @staticmethod
    def _held_text(held: Run, runs: list[Run]) -> str:
        """Why the held run waits; named when runs that failed came after it."""
        if runs and runs[0].run_id == held.run_id:
            return held.hold_reason or ""
        return f"{held.run_id} still waits for confirmation: {held.hold_reason}"

    def _menu(self, school: School | None, held: bool = False) -> Text:
        # two columns: the hub must fit 80x24 with the summary above it
        out = Text("Keys\n", style="bold", end="")
        half = (len(MENU) + 1) // 2
        for line in range(half):
            for key, label, kind in MENU[line::half][:2]:
                out.append(f"  {key}  ", style="bold")
                extra = ""
                if kind == "matching" and school is not None and school.open_cases:
                    extra = f" ({school.open_cases})"
                if kind == "history" and held:  # where a held run is confirmed (c there)
                    extra = " (held: c confirms)"
                out.append(f"{label}{extra}".ljust(30), style="bold yellow" if extra else "")
            out.append("\n")
        return out

    def _show(self, school: School, has_secret: bool, runs: list[Run]) -> None:
        self.title = f"{school.dfe} {school.name}"
        now = self.now()
        self.query_one("#title", Static).update(
            Text.assemble(
                (f"{school.dfe}  ", "bold"),
                plain(school.name, "bold"),
                f"  (local authority {school.la})",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        last = Text(end="")
        if school.last_run_status:
            last.append_text(status_text(school.last_run_status))
            last.append(f"  {when(school.last_run_at)} ({ago(school.last_run_at, now)})")
            if school.last_run_trigger:
                last.append(f", {school.last_run_trigger}")
        else:
            last.append("never run", style="dim")
        live = self.app.live_runs.get(self.dfe)
        if live is not None and not live.done:
            last.append("   force run in progress (f to watch)", style="bold cyan")
        reports = ", ".join(REPORT_LABELS.get(r, r) for r in school.reports)
        # why the last run failed, where the operator looks first (not only in its history)
        failed = next((r for r in runs[:1] if r.status == "failed" and r.error), None)
        ran = last_that_ran(runs)  # (a held run still waits behind a failed one)
        held = ran if ran and ran.shown_status() == "held" and ran.hold_reason else None
        summary = kv_grid(
            [
                ("MIS", school.mis),
                ("MIS URL", school.url),
                ("Client ID", school.client_id),
                ("Client Secret", Text("set (hidden)" if has_secret else "NOT SET", end="")),
                ("Reports", reports),
                ("Daily run", self._daily(school, now)),
                (
                    "Safety hold",
                    f"more than {school.hold_percent:g}% and at least {school.hold_min} "
                    + ("account" if school.hold_min == 1 else "accounts"),
                ),
                ("Last run", last),
                *([("Failed with", plain(failed.error or "", "red"))] if failed else []),
                *([("Held because", plain(self._held_text(held, runs), "yellow"))] if held else []),
                ("Open cases", str(school.open_cases)),
                ("Unallocated", f"{school.unallocated_last_run} by the last run applied"),
                ("Active accounts", f"{school.active_accounts:,}"),
            ]
        )
        self.query_one("#summary", Static).update(summary)
        self.query_one("#menu", Static).update(self._menu(school, held is not None))
        table = Text("Recent runs", style="bold", end="")
        table.append("  (created, updated, unallocated, to match)\n", style="dim")
        if not runs:
            table.append("  none yet\n", style="dim")
        for run in runs:
            counts = run.counts
            table.append(f"  {when(run.started_at)}  ")
            word = status_text(run.status)
            word.pad_right(10 - len(word.plain))
            table.append_text(word)
            table.append_text(plain(f"{run.trigger:<9}{run.operator[:12]:<13}"))
            # a confirmed run's unallocated count includes what it held; one still held says
            # what it holds beside what it did
            held = counts.get("held_unallocations", 0) if run.status == "held" else 0
            table.append(
                f"{counts.get('created', 0)}, {counts.get('updated', 0)}, "
                f"{counts.get('unallocated', 0)}{f' (+{held} held)' if held else ''}, "
                f"{counts.get('needs_matching', 0)}\n"
            )
        self.query_one("#runs", Static).update(table)
