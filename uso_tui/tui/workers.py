"""The console's one way to run blocking store work off the event loop."""

from __future__ import annotations

from typing import Any

from textual import work


def in_thread(
    group: str, *, failure: str = "", exclusive: bool = True, description: str | None = None
) -> Any:
    """A thread worker (the store's calls block): `failure` says what failed in the one line
    the app shows when it raises (UsoApp.worker_failed); with `exclusive`, a newer call of the
    group cancels the older one (a newer reload or search makes the older one pointless).
    `description`: what it does, for a worker given large arguments (Textual would otherwise
    describe it by their repr, on the event loop)."""
    return work(
        name=failure,
        thread=True,
        exclusive=exclusive,
        exit_on_error=False,
        group=group,
        description=description,
    )
