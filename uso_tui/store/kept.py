"""Kept pairs: two accounts an operator said are different people (DESIGN "Possible
duplicates"), so the duplicates review stops listing them, until an operator takes the pair back
for review (a keep made by mistake).

They live in DATA_DIR/kept.json, a TinyDB document `{"kept": {id: {"a", "b", "by", "at",
"seen"}}}` with `a < b` and `seen` what the two held when kept (sync.duplicates.pair_seen: the
review lists the pair again once it changes); it belongs to no school (the two accounts may be in different local authorities).
A transaction stages its additions and writes the file in its one journal commit, so a keep and
its audit events land together or not at all. Read whole: an estate keeps few such pairs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from uso_tui.domain.errors import InvalidInput
from uso_tui.store.storage import as_table, encode, read_table

if TYPE_CHECKING:
    from uso_tui.store.journal import Commit

KEPT_FILE = "kept.json"


def kept_path(root: Path) -> Path:
    return root / KEPT_FILE


def pair_key(first: str, second: str) -> tuple[str, str]:
    """The pair in its stored order (the two usernames sorted)."""
    return (first, second) if first <= second else (second, first)


def _pairs(rows: list[dict[str, Any]]) -> frozenset[tuple[str, str]]:
    return frozenset(pair_key(r["a"], r["b"]) for r in rows)


class KeptReads:
    """TinyStore's reader (the store keeps `root` and `_reading`)."""

    root: Path

    def kept_pairs(self) -> frozenset[tuple[str, str]]:
        return _pairs(self.kept_rows())

    def kept_rows(self) -> list[dict[str, Any]]:
        """Each kept pair as stored ({a, b, by, at}), oldest first."""
        with self._reading():  # type: ignore[attr-defined]
            return read_table(kept_path(self.root), "kept")


class KeptWrites:
    """TinyTransaction's part: reads the file once, stages additions, writes it at commit."""

    operator: str
    _kept_rows: list[dict[str, Any]] | None = None
    _kept_dirty = False

    def _kept(self) -> list[dict[str, Any]]:
        if self._kept_rows is None:
            root = self._lay.root  # type: ignore[attr-defined]
            self._kept_rows = read_table(kept_path(root), "kept")
        return self._kept_rows

    def kept_pairs(self) -> frozenset[tuple[str, str]]:
        return _pairs(self._kept())

    def kept_rows(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._kept()]

    def keep_pair(self, username: str, other: str, at: str, seen: str | None = None) -> bool:
        """Marks two accounts as different people, as they are (`seen`); False when they already
        were, as they are."""
        if username == other:
            raise InvalidInput(f"{username} and {other} are the same account")
        first, second = pair_key(username, other)
        row = {"a": first, "b": second, "by": self.operator, "at": at}
        if seen is not None:
            row["seen"] = seen
        rows = self._kept()
        was = next((r for r in rows if pair_key(r["a"], r["b"]) == (first, second)), None)
        if was is not None and was.get("seen") == seen:
            return False
        # kept again since they changed (listed again for review): as they are now
        self._kept_rows = [r for r in rows if r is not was] + [row]
        self._kept_dirty = True
        return True

    def forget_pair(self, username: str, other: str) -> bool:
        """Takes a kept pair back (listed for review again); False when it was not kept."""
        key = pair_key(username, other)
        rows = self._kept()
        left = [row for row in rows if pair_key(row["a"], row["b"]) != key]
        if len(left) == len(rows):
            return False
        self._kept_rows, self._kept_dirty = left, True
        return True

    def _stage_kept(self, commit: Commit) -> None:
        if self._kept_dirty and self._kept_rows is not None:
            root = self._lay.root  # type: ignore[attr-defined]
            commit.write(kept_path(root), encode({"kept": as_table(self._kept_rows)}))
