"""The store's errors. A leaf: it imports nothing of the store, so every store module (and every
caller) can import these without importing the store's API and its implementation."""

from __future__ import annotations

from uso_tui.domain.errors import InvalidInput, UsoError

__all__ = [
    "BadDataDir",
    "CorruptFile",
    "DuplicateSchool",
    "NewerSchema",
    "StoreBusy",
    "StoreError",
    "UnknownAccount",
    "UnknownCase",
    "UnknownExclusion",
    "UnknownRun",
    "UnknownSchool",
]


class StoreError(UsoError):
    """The store cannot be read or written as asked."""


class CorruptFile(StoreError, ValueError):
    """A store file that does not decode: damaged outside uso-tui (every write is atomic)."""


class BadDataDir(StoreError, InvalidInput):
    """The data directory given is not one to use (not a folder, or others may change it): a
    setting to correct, said as bad input is."""


class NewerSchema(StoreError):
    """The store was written by a newer uso-tui (its schema is newer than this code's)."""


class StoreBusy(StoreError):
    """transaction(wait=False) found another writer holding the lock."""


class UnknownSchool(InvalidInput):
    """No school with that DfE number."""


class DuplicateSchool(InvalidInput):
    """A school with that DfE number is already in the store."""


class UnknownAccount(InvalidInput):
    """No account with that username."""


class UnknownRun(InvalidInput):
    """No run with that id."""


class UnknownCase(InvalidInput):
    """No match case with that id."""


class UnknownExclusion(InvalidInput):
    """No exclusion with that id."""
