"""Accounts whose creation was undone (a run's, or a case's decision): kept, as nothing is
deleted, but nobody's account, never offered for restore; and what of an account's history
still stands once undos have taken entries back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from uso_tui.domain.models import Account

T = TypeVar("T")

# Account.extra key of an account whose creation was undone: what undid it (a run or case id)
UNDONE_CREATE = "undone_create"


def restorable(acc: Account) -> bool:
    """An unallocated account an operator may restore (not one whose creation was undone)."""
    return acc.status == "unallocated" and not acc.extra.get(UNDONE_CREATE)


UNDOES = "undoes"  # how many entries before it an undo takes back, when more than one


def first_standing(
    newest_first: Iterable[T],
    action: Callable[[T], str],
    wanted: Callable[[T], bool],
    undoes: Callable[[T], object] = lambda entry: 1,
) -> T | None:
    """The newest of `newest_first` (an account's history or audit events) that still stands
    and is `wanted`: an undo takes back the entry before it (a match undone leaves the account
    as the unallocation before it left it), or the `undoes(entry)` entries before it (a match
    undone with the updates runs made of it since)."""
    undone = 0
    for entry in newest_first:
        if str(action(entry)).startswith("undo"):
            taken = undoes(entry)
            undone += taken if isinstance(taken, int) and taken > 0 else 1
        elif undone:
            undone -= 1
        elif wanted(entry):
            return entry
    return None


def standing(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest of `entries` (an account's history, oldest first) that still stands."""
    found = first_standing(
        reversed(entries),
        lambda e: e.get("action", ""),
        lambda e: True,
        lambda e: e.get(UNDOES, 1),
    )
    return {} if found is None else found


def duplicate_of(acc: Account) -> str | None:
    """The account `acc` was unallocated as a duplicate of, when that unallocation still
    stands (duplicates.unallocate_duplicate); else None."""
    last = standing(acc.history)
    kept = last.get("duplicate_of") if last.get("action") == "unallocate" else None
    return kept if isinstance(kept, str) else None
