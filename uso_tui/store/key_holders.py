"""KeyHolders: which schools hold each find_people key (store/people.py), for a look that asks
for its own keys however many schools there are.

The keys of every school (over a million at 300 schools) are put once into one sorted array
(numpy: made at C speed in a tenth of the time a dict of them took, in each run_due worker), and
what changes after (a school's commit adds a few keys, a school rewritten drops a few) is kept
beside it in two small dicts, until they grow to a share of the array and it is made again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

# No BLAS thread pool: nothing here multiplies matrices, and a run_due parent loads numpy just
# before it forks its workers (a process that forks should have no other thread).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

# The changes kept beside the array before it is made again: this share of its size, or this
# many at least (a small store's map is made again cheaply).
REBUILD_SHARE = 4
REBUILD_MIN = 50_000

_NO_KEYS = np.empty(0, dtype=np.uint64)


def _as_keys(keys: Iterable[int]) -> np.ndarray:
    """`keys` (Python ints below 2**64, or an array("Q")) as a numpy array of uint64."""
    if isinstance(keys, np.ndarray):
        return keys.astype(np.uint64, copy=False)
    try:
        view = memoryview(keys)  # type: ignore[arg-type]
    except TypeError:
        listed = list(keys)
        return np.array(listed, dtype=np.uint64) if listed else _NO_KEYS
    if view.format == "Q" and view.itemsize == 8:
        return np.frombuffer(view, dtype=np.uint64)
    return np.array(view.tolist(), dtype=np.uint64)


class KeyHolders:
    """The schools holding each key: a sorted array of (key, school) as made from every school's
    keys (fill), with the keys each school gained and lost since."""

    def __init__(self) -> None:
        self._keys = _NO_KEYS  # sorted
        self._owners = np.empty(0, dtype=np.int32)  # the school of each key, by its place in _names
        self._names: list[str] = []
        self._place: dict[str, int] = {}
        # Since the array was made: key -> the schools that gained it (not in the array)...
        self._gained: dict[int, tuple[str, ...]] = {}
        # ... and each (key, school) of the array that holds no more.
        self._lost: set[tuple[int, str]] = set()

    def fill(self, schools: Sequence[tuple[str, Iterable[int]]]) -> None:
        """The map made from `schools`' keys (a key may be there twice), and nothing else."""
        arrays = [_as_keys(keys) for _, keys in schools]
        names = [dfe for dfe, _ in schools]
        keys = np.concatenate(arrays) if arrays else _NO_KEYS
        sizes = [len(a) for a in arrays]
        owners = np.repeat(np.arange(len(arrays), dtype=np.int32), sizes).astype(np.int32)
        order = np.argsort(keys)
        # all at once, once made: a failure above (memory) leaves the map as it was
        self._keys, self._owners = keys[order], owners[order]
        self._names, self._place = names, {dfe: i for i, dfe in enumerate(names)}
        self._gained, self._lost = {}, set()

    @property
    def changes(self) -> int:
        """How many changes are kept beside the array."""
        return len(self._gained) + len(self._lost)

    def worth_rebuilding(self) -> bool:
        return self.changes > max(REBUILD_MIN, len(self._keys) // REBUILD_SHARE)

    def _each(self, dfe: str, keys: Iterable[int]) -> Iterable[tuple[int, bool]]:
        """Each of `keys` (as a Python int) with whether the array holds it for `dfe`."""
        wanted = _as_keys(keys)
        if not len(wanted):
            return ()
        return zip(wanted.tolist(), self._in_array(dfe, wanted), strict=True)

    def add(self, dfe: str, keys: Iterable[int]) -> None:
        """`dfe` holds `keys` now (those it held already, it still holds)."""
        lost, gained = self._lost, self._gained
        for key, held in self._each(dfe, keys):
            if held:
                lost.discard((key, dfe))
                continue
            others = gained.get(key, ())
            if dfe not in others:
                gained[key] = (*others, dfe)

    def remove(self, dfe: str, keys: Iterable[int]) -> None:
        """`dfe` holds none of `keys` now."""
        lost, gained = self._lost, self._gained
        for key, held in self._each(dfe, keys):
            others = gained.get(key)
            if others is not None and dfe in others:
                others = tuple(d for d in others if d != dfe)
                if others:
                    gained[key] = others
                else:
                    del gained[key]
            if held:
                lost.add((key, dfe))

    def replace(self, dfe: str, before: Iterable[int], after: Iterable[int]) -> None:
        """`dfe` held `before` and holds `after` now."""
        old, new = _as_keys(before), _as_keys(after)
        self.remove(dfe, np.setdiff1d(old, new))
        self.add(dfe, np.setdiff1d(new, old))

    def schools(self, key: int) -> list[str]:
        return self.schools_of([key])[0]

    def schools_of(self, keys: Sequence[int]) -> list[list[str]]:
        """The schools holding each of `keys`, in the order of `keys`."""
        if not keys:
            return []
        wanted = np.array(keys, dtype=np.uint64)
        starts = np.searchsorted(self._keys, wanted, side="left").tolist()
        ends = np.searchsorted(self._keys, wanted, side="right").tolist()
        names, owners, lost, gained = self._names, self._owners, self._lost, self._gained
        out: list[list[str]] = []
        for key, start, end in zip(keys, starts, ends, strict=True):
            held: dict[str, None] = {}
            if end > start:
                for place in owners[start:end].tolist():
                    dfe = names[place]
                    if (key, dfe) not in lost:
                        held[dfe] = None
            for dfe in gained.get(key, ()):
                held[dfe] = None
            out.append(list(held))
        return out

    def _in_array(self, dfe: str, wanted: np.ndarray) -> list[bool]:
        """Whether the array holds each of `wanted` for `dfe` (lost since or not)."""
        place = self._place.get(dfe)
        if place is None or not len(self._keys):
            return [False] * len(wanted)
        starts = np.searchsorted(self._keys, wanted, side="left")
        counts = np.searchsorted(self._keys, wanted, side="right") - starts
        found = np.zeros(len(wanted), dtype=bool)
        owners = self._owners
        once = counts == 1  # (most keys: held by one school, once)
        found[once] = owners[starts[once]] == place
        for i in np.flatnonzero(counts > 1).tolist():
            found[i] = bool((owners[starts[i] : starts[i] + counts[i]] == place).any())
        return found.tolist()
