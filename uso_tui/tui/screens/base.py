"""What every console screen shares: its store and subject, a title line, the app's clock and operator,
and literal notifications."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rich.text import Text
from textual import events, getters
from textual.binding import ActiveBinding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from uso_tui.store import Store
from uso_tui.sync.access import WHAT
from uso_tui.tui.app import UsoApp
from uso_tui.tui.format import clean, plain
from uso_tui.tui.keys_in_turn import HoldsKeys

# The columns the command palette's key takes at the footer's right ("▏^p palette"), with a
# margin.
FOOTER_PALETTE = 14


class UsoScreen(HoldsKeys, Screen):
    """Base for console screens. Subclasses set `kind` (the app's SCREENS key)."""

    kind = ""
    # key -> the sync.access action its binding does: greyed in the footer for an operator whose
    # role does not allow it (check_action), and said so when pressed, not silently ignored
    ROLE_KEYS: dict[str, str] = {}
    # the console app, typed: its clock, operator, role, runs and navigation
    app = getters.app(UsoApp)
    # Actions of keys the footer leaves out at 80 columns (`? Keys` and the palette give them),
    # shown there too when the terminal is wide enough for them, in this order.
    WIDE_KEYS: tuple[str, ...] = ()
    _wide_shown: tuple[str, ...] = ()

    def __init__(self, store: Store, dfe: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.dfe = dfe
        self._shown_from = 0.0  # when the read shown last began (shown_read)
        self._keys_after: float | None = None  # keys held until a read begun after this

    def on_screen_resume(self) -> None:
        if self.dfe:  # (the schools list's keys must not act on another school unseen)
            self.app.seen_school = self.dfe

    # the app's clock and operator (tests freeze the clock)
    def now(self) -> datetime:
        return self.app.clock()

    @property
    def operator(self) -> str:
        return self.app.operator

    def title_bar(self, text: str, id: str = "title", classes: str = "") -> Static:
        return Static(
            Text(clean(text), style="bold", no_wrap=True, overflow="ellipsis"),
            classes=f"title-bar {classes}".strip(),
            id=id,
        )

    # -- the footer shows more keys on a wide terminal --

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        bindings = super().active_bindings
        if not self.WIDE_KEYS:
            return bindings
        self._wide_shown = shown = self._wide_fit(bindings)
        for key, active in bindings.items():
            if active.binding.action in shown and not active.binding.show:
                bindings[key] = active._replace(binding=replace(active.binding, show=True))
        return bindings

    def _wide_fit(self, bindings: dict[str, ActiveBinding]) -> tuple[str, ...]:
        """The WIDE_KEYS actions that fit the footer beside the keys it shows anyway: each key
        takes its key, a space, its description and a space; the palette's key, docked right,
        FOOTER_PALETTE columns."""
        app = self.app
        width = {}  # action -> columns, as the footer shows one key per action
        for active in bindings.values():
            binding = active.binding
            if binding.action not in width and (binding.show or binding.action in self.WIDE_KEYS):
                cost = len(app.get_key_display(binding)) + len(binding.description) + 2
                width[binding.action] = cost if binding.description else 0
        room = self.size.width - FOOTER_PALETTE
        room -= sum(cost for action, cost in width.items() if action not in self.WIDE_KEYS)
        shown = []
        for action in self.WIDE_KEYS:
            cost = width.get(action)
            if cost and cost <= room:
                shown.append(action)
                room -= cost
        return tuple(shown)

    def on_resize(self, event: events.Resize) -> None:
        if self.WIDE_KEYS and self._wide_fit(super().active_bindings) != self._wide_shown:
            self.refresh_bindings()  # the footer composes its keys again

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.worker_failed(event.worker)

    # -- keys typed as a screen opens act on what its first read shows --

    _opening_hold: object = None

    def hold_keys_while_opening(self) -> None:
        """From on_mount, before the first read starts in a thread: the keys typed with the one
        that opened the screen (`h` then enter) wait for its rows (shown_first). Also as a list
        comes back into view and is read again (escape, j, enter)."""
        self.hold_keys()
        self._opening_hold = self._release_keys

    def shown_first(self) -> None:
        """From a load's _show: the first read shown lets go the keys held as the screen opened
        (not a hold a later key started: a reload's rows are no answer to that)."""
        hold, self._opening_hold = self._opening_hold, None
        if hold is not None and hold is self._release_keys:
            self.keys_go()

    # -- a list reloaded after a decision (keys typed ahead act on it as the decision left it) --

    def shown_read(self, began: float) -> bool:
        """From a load's _show, with when its read began (time.monotonic, in its thread): False
        for a read older than the one shown (a reload begun as a dialog closed, before the
        decision was saved), which is not shown. The first read shown, and a read begun after
        the last decision was saved, let go the keys typed ahead (held as the screen opened, or
        when the decision was asked for: hold_keys)."""
        if began < self._shown_from:
            return False
        first, self._shown_from = self._shown_from == 0.0, began
        after = self._keys_after
        if first or (after is not None and began >= after):  # keys held since it opened, or
            self._keys_after = None  # since a decision
            self.keys_go()
        self.shown_first()  # keys held as it came back into view (ReloadingListScreen)
        return True

    def decision_saved(self, saved: float, failed: bool = False) -> None:
        """In the UI thread, once a decision is saved (`saved`: time.monotonic then): the keys
        held since it was asked for wait for a read begun after it. `failed`: some of it was not
        saved (another session changed the account): those keys were for the list as it would
        have left it, and are dropped."""
        self._keys_after = saved
        if failed:
            self.app.drop_typed_ahead("the list is read again after what was not saved")

    def worker_failed(self, line: str) -> None:
        """A worker of this screen failed (the app has told the operator): whatever still says
        "loading…" says what went wrong instead. Screens with more state to undo extend it."""
        self.keys_go()
        for box in self.query(".loading").results(Static):
            box.update(plain(line, "bold red"))
            box.remove_class("loading")

    def on_key(self, event: events.Key) -> None:
        action = self.ROLE_KEYS.get(event.key)
        if action is not None and not self.app.may(action):
            event.stop()
            what = WHAT.get(action, action).capitalize()
            self.say(f"{what} needs the admin role ({self.app.access.label()})", "warning")
            self._refused()
            return
        why = self.why_not(event.key)
        if why is not None:  # a key greyed now: said why, not silently ignored
            event.stop()
            self.say(why, "warning")
            self._refused()

    def _refused(self) -> None:
        """The keys typed after a key that did nothing were meant for what it would have shown (a
        form's text after `n`, `y` after `f`): dropped, not taken as this screen's commands."""
        self.app.drop_typed_ahead("the key before them did nothing here", "type them again")

    def why_not(self, key: str) -> str | None:
        """Why `key` cannot do what it does on this screen now (said when it is pressed), or
        None when it can (or the screen has nothing to say of it)."""
        return None

    def say(self, message: str, severity: SeverityLevel = "information") -> None:
        """notify() without markup: messages often carry names and error text."""
        self.app.notify(clean(message), severity=severity, markup=False)
