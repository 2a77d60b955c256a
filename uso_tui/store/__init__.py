"""Persistence on TinyDB. The only public names are re-exported here; no TinyDB type leaves this package."""

from uso_tui.store.api import (
    SCHEMA_VERSION,
    AccountHit,
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
    open_store,
)

__all__ = [
    "SCHEMA_VERSION",
    "AccountHit",
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
