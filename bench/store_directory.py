"""bench/store's directory part: what one school's run costs the school directory as the number
of schools grows (3,000, 10,000 and 30,000 schools; schools without accounts, built once through
the store's transactions and cached under bench/out/).

    python -m bench.store --only directory [--repeat N]

Prints medians of: open the store and list all schools (every shard read); a commit starting
one school's run (the directory alone changes) and one ending it (its data file too); the time
a commit spends staging the directory; and the bytes of directory files a commit writes. The
last column is the ratio of the figure at 30,000 schools to that at 3,000.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.common import fmt_seconds, median, print_table, timings
from uso_tui.domain.models import Run, School
from uso_tui.store import journal, open_store, transaction

OUT = Path(__file__).parent / "out"
BUILD_VERSION = 1  # bump when the synthetic directory or the store layout changes
DIR_SIZES = (3_000, 10_000, 30_000)
BATCH = 5_000  # schools added per transaction while building
NOW = "2026-09-01T06:00:00"


def dfes(count: int) -> list[str]:
    return [f"{201 + i % 150}-{1000 + i // 150:04d}" for i in range(count)]


def build(n_schools: int, root: Path) -> float:
    """A store of `n_schools` schools and no accounts at `root` (unless cached); seconds spent."""
    marker = root / "bench-complete.json"
    if marker.exists() and orjson.loads(marker.read_bytes()).get("version") == BUILD_VERSION:
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    print(
        f"building a directory of {n_schools:,} schools in {root} ...", file=sys.stderr, flush=True
    )
    t0 = time.perf_counter()
    store = open_store(root)
    numbers = dfes(n_schools)
    for start in range(0, n_schools, BATCH):
        with store.transaction("bench") as tx:
            for dfe in numbers[start : start + BATCH]:
                tx.add_school(
                    School(dfe, f"School {dfe}", "iSAMS", f"https://s{dfe[4:]}.isams.cloud", "id"),
                    "bench-secret",
                )
    spent = time.perf_counter() - t0
    marker.write_bytes(orjson.dumps({"version": BUILD_VERSION, "build_seconds": spent}))
    return spent


class _Spy:
    """While active: the directory bytes each commit writes and the time it spends staging the
    directory (wrapping the store's own functions, restored on exit)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bytes: list[int] = []
        self.staging: list[float] = []

    def __enter__(self) -> _Spy:
        self._apply = journal.Commit.apply
        self._stage = transaction.TinyTransaction._stage_directory
        spy = self

        def apply(commit: journal.Commit) -> None:
            spy.bytes.append(
                sum(len(d) for p, d in commit.writes.items() if p.parent == spy.folder)
            )
            spy._apply(commit)

        def stage(tx: Any, commit: journal.Commit) -> Any:
            t0 = time.perf_counter()
            try:
                return spy._stage(tx, commit)
            finally:
                spy.staging.append(time.perf_counter() - t0)

        journal.Commit.apply = apply  # type: ignore[method-assign]
        transaction.TinyTransaction._stage_directory = stage  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        journal.Commit.apply = self._apply  # type: ignore[method-assign]
        transaction.TinyTransaction._stage_directory = self._stage  # type: ignore[method-assign]


Figures = dict[str, tuple[float, Callable[[float], str]]]


def _one_run(store: Any, dfe: str) -> tuple[float, float]:
    """Seconds of the commit starting a run of `dfe` and of the one ending it."""
    t0 = time.perf_counter()
    with store.transaction("bench") as tx:
        run_id = tx.next_run_id(dfe)
        tx.put_run(Run(run_id, dfe, "schedule", "bench", started_at=NOW))
    t1 = time.perf_counter()
    with store.transaction("bench") as tx:
        run = tx.run(run_id)
        run.status, run.finished_at = "succeeded", NOW
        tx.put_run(run)
    return t1 - t0, time.perf_counter() - t1


def measure(roots: dict[int, Path], repeat: int) -> dict[int, Figures]:
    """Median of each figure at each size, with how to print it. The commits of the sizes take
    turns, so that the machine's other work (fsync times vary) weighs on every size alike."""
    out: dict[int, Figures] = {}
    stores = {}
    for size, root in roots.items():
        out[size] = {
            "open store + list all schools": (
                median(timings(lambda r=root: open_store(r).list_schools(), repeat)),
                fmt_seconds,
            )
        }
        store = stores[size] = open_store(root)
        assert len(store.list_schools()) == size  # as a run_due holds it: parsed, then kept current
    spies = {n: _Spy(stores[n].layout.directory) for n in roots}
    starts: dict[int, list[float]] = {n: [] for n in roots}
    ends: dict[int, list[float]] = {n: [] for n in roots}
    for _ in range(repeat):
        for size, store in stores.items():
            with spies[size]:
                start, end = _one_run(store, dfes(size)[size // 2])
            starts[size].append(start)
            ends[size].append(end)
    for size, spy in spies.items():
        out[size]["one school's run: commit starting it (directory only)"] = (
            median(starts[size]),
            fmt_seconds,
        )
        out[size]["one school's run: commit ending it (+ its data file)"] = (
            median(ends[size]),
            fmt_seconds,
        )
        out[size]["one school's run: directory staging per commit"] = (
            median(spy.staging),
            fmt_seconds,
        )
        out[size]["one school's run: directory bytes written per commit"] = (
            median(spy.bytes),
            lambda b: f"{b / 1e3:.1f} kB",
        )
    return out


def run(repeat: int) -> None:
    roots = {n: OUT / f"directory-{n // 1000}k" for n in DIR_SIZES}
    notes = []
    for size, root in roots.items():
        spent = build(size, root)
        built = f"built in {spent:.0f} s" if spent else "cached build"
        notes.append(f"{size:,} schools: {built}")
    results = measure(roots, repeat)
    small, big = DIR_SIZES[0], DIR_SIZES[-1]
    rows = []
    for op in results[small]:
        row: list[object] = [op]
        for size in DIR_SIZES:
            value, show = results[size][op]
            row.append(show(value))
        ratio = results[big][op][0] / results[small][op][0] if results[small][op][0] else 0.0
        row.append(f"{ratio:.2f}x")
        rows.append(row)
    headers = [
        f"school directory (median of {repeat})",
        *(f"{n:,} schools" for n in DIR_SIZES),
        f"{big // 1000}k / {small // 1000}k",
    ]
    print_table("bench/store: the school directory as schools grow", headers, rows)
    for note in notes:
        print(note)
