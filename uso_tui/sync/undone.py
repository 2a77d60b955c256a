"""Accounts whose creation was undone (a run's, or a case's decision): kept, as nothing is
deleted, but nobody's account, never offered for restore."""

from __future__ import annotations

from uso_tui.domain.models import Account

# Account.extra key of an account whose creation was undone: what undid it (a run or case id)
UNDONE_CREATE = "undone_create"


def restorable(acc: Account) -> bool:
    """An unallocated account an operator may restore (not one whose creation was undone)."""
    return acc.status == "unallocated" and not acc.extra.get(UNDONE_CREATE)
