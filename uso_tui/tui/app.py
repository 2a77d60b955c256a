"""The console app: global keys, navigation between screens, the command palette and force runs.

Screens are constructed with the Store plus their subject (`SettingsScreen(store, dfe)`); they reach the
app's clock and operator through `self.app`. Force runs belong to the app (see live.py) so that leaving
the Force Run screen never cancels a run.
"""

from __future__ import annotations

import asyncio
import gc
import getpass
import importlib
import sys
from collections.abc import Callable, Iterable
from datetime import datetime

from textual.app import SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from uso_tui.domain.errors import InvalidInput
from uso_tui.store import Store
from uso_tui.sync.access import access_of, held_listed
from uso_tui.tui.applying import error_text
from uso_tui.tui.format import clean
from uso_tui.tui.keys_in_turn import KeysInTurnApp
from uso_tui.tui.live import LiveRun, RunFinished, RunProgress
from uso_tui.tui.palette import UsoCommands, UsoPalette, UsoSystemCommands
from uso_tui.tui.widgets import Confirm, KeysHelp, screen_keys

UNRECORDED_RETRY_S = 30  # how often the ends a full disk kept from being written are tried again
ACCESS_RECHECK_S = 5  # how often operators.json is read again (an operator removed, a role changed)

# kind -> (module under uso_tui.tui.screens, class name, takes a school?)
SCREENS: dict[str, tuple[str, str, str]] = {
    # "school": the screen needs a DfE; "optional": a DfE or None (all schools); "none": no subject
    "schools": ("schools", "SchoolsScreen", "none"),
    "school": ("school", "SchoolScreen", "school"),
    "settings": ("settings", "SettingsScreen", "school"),
    "force_run": ("force_run", "ForceRunScreen", "school"),
    "matching": ("matching", "MatchingScreen", "school"),
    "bulk_results": ("bulk_results", "BulkResultsScreen", "school"),
    "users": ("users", "UsersScreen", "none"),
    "non_mis": ("non_mis", "NonMisScreen", "school"),
    "history": ("history", "RunHistoryScreen", "optional"),
    "audit": ("history", "AuditScreen", "optional"),
    "duplicates": ("duplicates", "DuplicatesScreen", "optional"),
    "kept": ("kept_apart", "KeptApartScreen", "optional"),
    "calendar": ("calendar", "CalendarScreen", "optional"),
    "why": ("why", "WhyScreen", "none"),
}


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


class UsoApp(KeysInTurnApp):
    CSS_PATH = "styles.tcss"
    TITLE = "uso-tui"
    SUB_TITLE = "IRIS AutoUpdate console"
    COMMANDS = {UsoSystemCommands, UsoCommands}  # (in place of Textual's SystemCommandsProvider)
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark", "keys", "Keys", key_display="?"),
        # where a text field has the cursor it takes the ? typed: F1 shown in its place
        Binding("f1", "keys_in_field", "Keys", key_display="F1"),
        Binding("f1", "keys", "Keys", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        operator: str | None = None,
        cursor_blink: bool = True,
        start: tuple[str, str | None] | None = None,
        freeze_startup: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.clock = clock or _now
        self.operator = operator or _login_name()
        # the operator's role (operators.json): screens hide or grey what it may not do
        self.access = access_of(store, self.operator)
        if self.access.listed:  # removed from operators.json meanwhile: refused, never the owner
            held_listed(store, self.operator, self.access.name)
        self.cursor_blink = cursor_blink
        self.live_runs: dict[str, LiveRun] = {}
        # the school whose screen showed last (UsoScreen): the schools list comes back on it
        self.seen_school: str | None = None
        self._start = start  # open on this screen instead of the schools list (screenshots, tests)
        self._freeze_startup = freeze_startup

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Screenshot" writes the screen (names, dates of birth) as a world-readable
        # file wherever the console was started: not offered (the data directory's files are
        # its owner's only, DESIGN section 8).
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command

    def may(self, action: str) -> bool:
        """The operator's role allows `action` (a sync.access action name)."""
        return self.access.may(action)

    def recheck_access(self) -> None:
        """operators.json read again: a session of an operator removed since it opened closes
        (it would go on acting in their name); a role changed since takes effect."""
        try:
            now = access_of(self.store, self.operator)
        except Exception:  # noqa: BLE001 - a file being rewritten: the next look reads it
            return
        if self.access.listed and not now.listed:
            self.exit(
                return_code=1,
                message=f"{self.operator} is no longer an operator of this service desk: "
                "the console has closed",
            )
            return
        if now.role != self.access.role:
            self.access = now
            self.notify(f"Your role is now {now.role}", severity="warning", markup=False)
            self.screen.refresh_bindings()

    def _fatal_error(self) -> None:
        """Textual's exit after an unhandled exception, its traceback without the values of local
        variables (Textual shows them): a form's client secret, or a pupil's name, held in one
        would be printed on the operator's terminal and into any log of it."""
        import rich  # noqa: PLC0415
        from rich.segment import Segments  # noqa: PLC0415
        from rich.traceback import Traceback  # noqa: PLC0415

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    # -- navigation ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_interval(UNRECORDED_RETRY_S, self._write_unrecorded)
        self.set_interval(ACCESS_RECHECK_S, self.recheck_access)
        self.push_screen(self.make_screen("schools", None))
        if self._start and self._start[0] != "schools":
            self.push_screen(self.make_screen(*self._start))
        if self._freeze_startup:
            self.call_after_refresh(_freeze_startup_heap)

    def make_screen(self, kind: str, dfe: str | None, focus: str | None = None) -> Screen:
        module, cls_name, _subject = SCREENS[kind]
        mod = importlib.import_module(f"uso_tui.tui.screens.{module}")
        cls = getattr(mod, cls_name)
        if SCREENS[kind][2] == "none":
            return cls(self.store)
        if focus is not None:
            return cls(self.store, dfe, focus=focus)
        return cls(self.store, dfe)

    def open_screen(self, kind: str, dfe: str | None = None, focus: str | None = None) -> None:
        """Push a screen; reuses a screen of the same kind and subject already on the stack.
        focus: the item to show first (a case of the matching queue)."""
        if kind == "schools":
            while len(self.screen_stack) > 2:
                self.pop_screen()
            return
        if SCREENS[kind][2] == "school" and not dfe:
            self.notify("Choose a school first", severity="warning", markup=False)
            self.drop_typed_ahead(f"the {kind} screen needs a school", "choose one first")
            return
        for depth, screen in enumerate(self.screen_stack):
            if getattr(screen, "kind", None) == kind and getattr(screen, "dfe", None) == dfe:
                while len(self.screen_stack) > depth + 1:
                    self.pop_screen()
                if focus is not None and hasattr(screen, "focus_item"):
                    screen.focus_item(focus)
                return
        try:
            screen = self.make_screen(kind, dfe, focus)
        except (ImportError, AttributeError) as exc:
            self.notify(f"{kind} screen is not available: {exc}", severity="error", markup=False)
            # the keys typed after it were for that screen, not this one (`h c`: the calendar)
            self.drop_typed_ahead(f"the {kind} screen did not open", "type them again")
            return
        self.push_screen(screen)

    def open_school(self, dfe: str) -> None:
        self.open_screen("school", dfe)

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_command_palette(self) -> None:
        """ctrl+p: the palette that says when its list is up to date (keys typed ahead). Not
        over a question: a screen opened from it stacked over the question, still unanswered."""
        if getattr(self.screen, "IS_QUESTION", False):
            # the keys typed on for the palette's search are dropped: `why` answered `y`
            self.refuse_keys_read_until_now(
                "the palette does not open over a question", "answer or cancel the question first"
            )
            return
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(UsoPalette(id="--command-palette"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("keys_in_field", "keys"):  # F1 and `? Keys` (typed in a field)
            return isinstance(self.focused, Input) == (action == "keys_in_field")
        return True

    def action_keys_in_field(self) -> None:
        self.action_keys()

    def action_keys(self) -> None:
        screen = self.screen
        if isinstance(screen, KeysHelp):
            return
        self.push_screen(KeysHelp(screen.title or screen.__class__.__name__, screen_keys(screen)))

    async def action_quit(self) -> None:
        running = [d for d, lr in self.live_runs.items() if not lr.done]
        if not running:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                for dfe in running:
                    self.live_runs[dfe].cancel.set()
                self.exit()

        # keys typed after `q` (`f y escape escape q y`) could not know that a run was going
        self.drop_typed_ahead(f"a force run of {', '.join(running)} is going; quitting cancels it")
        self.push_screen(
            Confirm(
                "Quit while a run is going?",
                f"Force run in progress: {', '.join(running)}. "
                "Quitting cancels it; a run cancelled before its apply step changes nothing.",
                yes="Quit",
                no="Stay",
            ),
            answer,
        )

    # -- force runs ---------------------------------------------------------------------------

    def _write_unrecorded(self) -> None:
        """The ends of this console's force runs that a full disk kept from being written,
        written once there is room: until then other processes see those schools running."""
        from uso_tui.sync.runner import has_unrecorded, write_unrecorded  # noqa: PLC0415

        if has_unrecorded():
            self.run_worker(
                lambda: write_unrecorded(self.store),
                thread=True,
                exit_on_error=False,
                group="unrecorded",
                exclusive=True,
            )

    def start_force_run(self, dfe: str, reports: list[str]) -> LiveRun:
        """Start (or return the already running) console force run of a school."""
        existing = self.live_runs.get(dfe)
        if existing is not None and not existing.done:
            return existing
        live = LiveRun(dfe=dfe, operator=self.operator, started_at=self.clock(), reports=reports)
        self.live_runs[dfe] = live
        self.run_worker(
            lambda: self._run_thread(live),
            thread=True,
            exit_on_error=False,
            group=f"force-run-{dfe}",
            name=f"force run {dfe}",
        )
        return live

    def _run_thread(self, live: LiveRun) -> None:
        from uso_tui.sync.runner import RunInProgress, run_school  # noqa: PLC0415

        def on_progress(progress) -> None:
            live.apply(progress, self.clock().strftime("%H:%M:%S"))
            self.post_message(RunProgress(live.dfe))

        try:
            result = asyncio.run(
                run_school(
                    self.store,
                    live.dfe,
                    trigger="force",
                    operator=live.operator,
                    now=self.clock(),
                    reports=live.reports or None,
                    on_progress=on_progress,
                    cancel=live.cancel,
                )
            )
            with live.lock:
                live.result = result
                live.run_id = result.run.run_id
                live.phase = result.run.status
                live.counts = dict(result.run.counts)
        except RunInProgress as exc:
            with live.lock:
                live.refused = True
                live.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the screen, never crashes the console
            with live.lock:
                live.error = f"{type(exc).__name__}: {exc}"
                live.phase = "failed"
                live.note_locked(f"{self.clock():%H:%M:%S} error: {live.error}")
        finally:
            with live.lock:
                live.done = True
            self.post_message(RunFinished(live.dfe))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # StateChanged does not bubble: screens hand theirs over (UsoScreen)
        if event.state == WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker) -> None:
        """Every failed worker of the console, in one place: one line to the operator (the
        worker's name says what failed) and its screen stops saying "loading…"."""
        line = failure_line(worker.name, worker.error)
        self.notify(line, severity="error", markup=False)
        node = worker.node
        screen = node if isinstance(node, Screen) else getattr(node, "screen", None)
        failed = getattr(screen, "worker_failed", None)
        if failed is not None:
            failed(line)

    def on_run_progress(self, message: RunProgress) -> None:
        handler = getattr(self.screen, "live_run_changed", None)
        if handler is not None:
            handler(message.dfe)

    def on_run_finished(self, message: RunFinished) -> None:
        live = self.live_runs.get(message.dfe)
        handler = getattr(self.screen, "live_run_changed", None)
        if handler is not None:
            handler(message.dfe)
        ended = getattr(self.screen, "live_run_ended", None)
        if ended is not None:
            ended(message.dfe)
        if live is None:
            return
        # Say so wherever the operator is: the run may have been started from another screen.
        if (
            getattr(self.screen, "dfe", None) != message.dfe
            or getattr(self.screen, "kind", None) != "force_run"
        ):
            status = (
                live.result.run.status if live.result else ("refused" if live.refused else "failed")
            )
            self.notify(
                f"Force run of {message.dfe} ended: {status}",
                severity="warning" if status in ("held", "failed", "refused") else "information",
                markup=False,
            )


def failure_line(what: str, error: BaseException | None) -> str:
    """`Not saved: case 204-1-c1 is already resolved`: one line, never markup (names, paths)."""
    reason = error_text(error)
    return clean(" ".join(f"{what or 'Failed'}: {reason}".split()))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "operator"


def _freeze_startup_heap() -> None:
    """Everything alive once the first screen is up (modules, Textual, the app; in the demo the
    simulator's estate) lives as long as the console: moved out of the cyclic collector's
    sight, so that a full collection walks only what came after, not the whole heap (a key
    pressed during one waited about 90 ms). Collected first: no garbage is kept."""
    gc.collect()
    gc.freeze()


def check_terminal() -> None:
    """Without a terminal (cron, `ssh -T`, a pipe) the console would wait on a closed input,
    busy, for ever: refused (before the demo writes its folder, too)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidInput(
            "the console needs a terminal: connect with `ssh -t`, or run a command "
            "(`uso-tui run-due` runs the schedule; `uso-tui --help` lists the others)"
        )


def run_console(store: Store, *, operator: str | None = None) -> int:
    """Open the console on a store (the CLI's `uso-tui` with no command)."""
    from uso_tui.tui.terminal_input import install  # noqa: PLC0415

    check_terminal()
    install()  # an escape typed ahead stays an escape
    app = UsoApp(store, operator=operator, freeze_startup=True)
    app.run()
    return app.return_code or 0  # 1: closed for an operator removed meanwhile (recheck_access)
