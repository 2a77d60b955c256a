"""What every command handler gets: the resolved data dir and operator, the clock, the store."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from uso_tui.domain.errors import InvalidInput
from uso_tui.store import open_store, say_when_waiting
from uso_tui.store.api import Store


def _check_owner(data_dir: Path) -> None:
    """root is refused a store another user owns: the files it would write (a run's, a lock)
    would be root's, and the store's owner (the scheduler, the operators' consoles) could then
    no longer write them."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not data_dir.is_dir():
        return
    owner = data_dir.stat().st_uid
    if owner != 0:
        try:
            import pwd  # noqa: PLC0415 - POSIX only

            name = pwd.getpwuid(owner).pw_name
        except (ImportError, KeyError):
            name = str(owner)
        raise InvalidInput(
            f"the store {data_dir} belongs to {name}: run uso-tui as that user "
            f"(sudo -u {name} uso-tui ...); files root wrote there would lock {name} out"
        )


def local_now() -> datetime:
    # Local wall-clock time, like the console: daily run times are the server's local times.
    return datetime.now().replace(microsecond=0)


@dataclass
class Context:
    data_dir: Path
    operator: str
    operator_given: bool = False  # --operator was given (run-due keeps "scheduler" otherwise)
    data_dir_given: bool = False
    clock: Callable[[], datetime] = local_now
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    # Secrets read during this command: scrubbed from any error line, whatever raised it.
    secrets: list[str] = field(default_factory=list)
    _store: Store | None = None

    def now(self) -> datetime:
        return self.clock()

    def store(self, *, create: bool = False, console: bool = False) -> Store:
        """Open once. Reading commands never create a store (a mistyped --data-dir would otherwise
        leave an empty store behind); the first `school add` or `operator add` does, and says
        so (an admin who forgot USO_TUI_DATA_DIR set up a store of one operator, unsaid)."""
        if self._store is None:
            if self.data_dir.exists() and not self.data_dir.is_dir():
                raise InvalidInput(f"the data directory {self.data_dir} is not a directory")
            _check_owner(self.data_dir)
            if not create and not self.store_exists():
                # bad input (a mistyped --data-dir), exit 2: not a run that failed, 1
                raise InvalidInput(
                    f"no uso-tui store at {self.data_dir}: add a school with `uso-tui school add`,"
                    " or give the store's folder with --data-dir or USO_TUI_DATA_DIR"
                )
            made = create and not self.store_exists()
            self._store = open_store(self.data_dir, create=create)
            if not console:  # (the console owns the terminal: a line there would cross its screen)
                say_when_waiting(self._waiting)
            if made:
                self.note(
                    f"a new uso-tui store was made at {self.data_dir} (none was there): if you "
                    "meant another, give it with --data-dir or USO_TUI_DATA_DIR"
                )
        return self._store

    def _waiting(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # (a note: never the command's failure)
            self.note(
                f"waiting for the store's lock at {self.data_dir}: another uso-tui process is "
                "writing (a run, or a command); this goes on when it ends (ctrl+c stops it)"
            )

    def store_exists(self) -> bool:
        return (self.data_dir / "store.json").exists()

    def note(self, message: str) -> None:
        """A line for the operator on stderr (progress, hints); stdout stays for results."""
        self.stderr.write(message + "\n")
        self.stderr.flush()
