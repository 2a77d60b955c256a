"""What every console screen shares: its store and subject, a title line, the app's clock and operator,
and literal notifications."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import getters
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from uso_tui.store import Store
from uso_tui.tui.app import UsoApp
from uso_tui.tui.format import clean, plain
from uso_tui.tui.keys_in_turn import HoldsKeys


class UsoScreen(HoldsKeys, Screen):
    """Base for console screens. Subclasses set `kind` (the app's SCREENS key)."""

    kind = ""
    # the console app, typed: its clock, operator, role, runs and navigation
    app = getters.app(UsoApp)

    def __init__(self, store: Store, dfe: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.dfe = dfe

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

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.worker_failed(event.worker)

    def worker_failed(self, line: str) -> None:
        """A worker of this screen failed (the app has told the operator): whatever still says
        "loading…" says what went wrong instead. Screens with more state to undo extend it."""
        self.keys_go()
        for box in self.query(".loading").results(Static):
            box.update(plain(line, "bold red"))
            box.remove_class("loading")

    def say(self, message: str, severity: SeverityLevel = "information") -> None:
        """notify() without markup: messages often carry names and error text."""
        self.app.notify(clean(message), severity=severity, markup=False)
