"""What every console screen shares: its store and subject, a title line, the app's clock and operator,
and literal notifications."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from uso_tui.store import Store
from uso_tui.tui.widgets import clean


class UsoScreen(Screen):
    """Base for console screens. Subclasses set `kind` (the app's SCREENS key)."""

    kind = ""

    def __init__(self, store: Store, dfe: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.dfe = dfe

    # the app's clock and operator (tests freeze the clock)
    def now(self) -> datetime:
        return self.app.clock()  # type: ignore[attr-defined]

    @property
    def operator(self) -> str:
        return self.app.operator  # type: ignore[attr-defined]

    def title_bar(self, text: str, id: str = "title") -> Static:
        return Static(
            Text(clean(text), style="bold", no_wrap=True, overflow="ellipsis"),
            classes="title-bar",
            id=id,
        )

    def say(self, message: str, severity: str = "information") -> None:
        """notify() without markup: messages often carry names and error text."""
        self.app.notify(clean(message), severity=severity, markup=False)  # type: ignore[arg-type]
