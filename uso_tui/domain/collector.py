"""Pausing Python's cyclic garbage collector while many objects are built at once."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_guard = threading.Lock()
_depth = 0
_was_enabled = True


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects at once: loading 10,000
    accounts, or a local authority's candidate index, otherwise triggers dozens of collections,
    each walking every object the process holds (about half the time spent, measured). Nested
    and thread-safe; the collector is enabled again only if it was enabled before."""
    global _depth, _was_enabled
    with _guard:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _guard:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
