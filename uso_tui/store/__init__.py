"""Persistence on TinyDB. The only public names are re-exported here; no TinyDB type leaves this package."""

from pathlib import Path

from uso_tui.store.api import (
    SCHEMA_VERSION,
    AccountHit,
    CorruptFile,
    DuplicateSchool,
    NewerSchema,
    SchoolState,
    Store,
    StoreBusy,
    StoreError,
    Transaction,
    UnknownAccount,
    UnknownCase,
    UnknownExclusion,
    UnknownRun,
    UnknownSchool,
    left_out,
    unreadable_school,
)
from uso_tui.store.lock import say_when_waiting


def open_store(root: str | Path, *, create: bool = True, upgrade: bool = False) -> Store:
    """Open (creating when asked) the store at root; recovers an interrupted commit; raises
    NewerSchema when the store was written by a newer uso-tui, OlderSchema when by an older one
    (unless `upgrade`: then it is upgraded, as `uso-tui upgrade` does).

    Here rather than in api.py: the implementation imports the API, so the API may not import
    the implementation (the store's modules stay acyclic)."""
    from uso_tui.store.tinystore import TinyStore  # noqa: PLC0415

    if upgrade:
        from uso_tui.store.tinystore import upgrade_store  # noqa: PLC0415

        upgrade_store(Path(root))
    return TinyStore(Path(root), create=create)


__all__ = [
    "left_out",
    "say_when_waiting",
    "unreadable_school",
    "SCHEMA_VERSION",
    "AccountHit",
    "CorruptFile",
    "DuplicateSchool",
    "NewerSchema",
    "SchoolState",
    "Store",
    "StoreBusy",
    "StoreError",
    "Transaction",
    "UnknownAccount",
    "UnknownCase",
    "UnknownExclusion",
    "UnknownRun",
    "UnknownSchool",
    "open_store",
]
