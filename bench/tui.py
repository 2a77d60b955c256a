"""bench/tui: the console at estate scale (headless Textual, this machine).

    python -m bench.tui [--quick]

First, at 3,000, 10,000 and 30,000 schools (directory-only stores built through the Store API in one
transaction each, cached under bench/out/), every sample and the medians of:
  - the directory read alone (`list_schools` on a store just opened, then again);
  - time to the first screen: from creating the app to the schools table drawn with its first page;
  - the longest block of the event loop during a refill of the list (a new sort, a reload), and
    how long the refill takes until the table holds the new list.
Then builds (in a temporary folder) a store of 3,000 schools: two real demo-like schools of 1,500
people synced once and then moved on by a fortnight of churn (so one has a long matching queue),
plus 2,998 directory-only schools (never run: the store derives run summaries from real runs), and
prints medians of:
  - key-to-screen-update latency: a key sent to the app until the next frame is written, on the
    schools table (j/k) and in the matching queue (n/p next/previous case, j/k candidates);
  - the same latencies while a force run of the big school is going (fetch over HTTP from the
    simulator with 20 ms a request and 100 records a page, planning, applying).
Targets: the first screen under 1 s at 30,000 schools; under 50 ms a key and a loop block.
`--quick` repeats less; `--scale-only` skips the key latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.common import fmt_seconds, median, print_table
from uso_tui.demo import point_at
from uso_tui.domain.models import School
from uso_tui.iris.datagen import generate_estate
from uso_tui.iris.simulator import Simulator
from uso_tui.store import Store, open_store

TODAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 9, 10, 30)
N_SCHOOLS = 3000
TARGET = 0.050


def random_schools(rng: random.Random, count: int, taken: set[str]) -> list[School]:
    """`count` schools with DfE numbers not in `taken` (which gains them)."""
    schools = []
    while len(schools) < count:
        dfe = f"{rng.randint(201, 960)}-{rng.randint(1000, 9999)}"
        if dfe in taken:
            continue
        taken.add(dfe)
        schools.append(
            School(
                dfe=dfe,
                name=f"{rng.choice(['Oak', 'Ash', 'Elm', 'Birch'])} {dfe[-4:]} Primary",
                mis=rng.choice(["iSAMS", "Ed:gen"]),
                url=f"https://s{dfe[-4:]}{dfe[:3]}.isams.cloud",
                client_id=f"c{dfe}",
            )
        )
    return schools


def build(path: Path) -> tuple[Store, Simulator, str, str]:
    """The store and its simulator; returns (store, sim, big school, queue school)."""
    from uso_tui.iris.client import IrisClient
    from uso_tui.sync.admin import add_school
    from uso_tui.sync.runner import run_school

    day0 = TODAY - timedelta(days=14)
    estate = generate_estate(11, 2, ["204"], today=day0, size=1500)
    sim = Simulator.from_estate(estate)
    store = open_store(path)
    store.set_allowed_mis_hosts(["127.0.0.1:8765"])
    for gs in estate.schools:
        add_school(
            store,
            dfe=gs.dfe,
            name=gs.name,
            mis=gs.mis,
            url=f"http://127.0.0.1:8765/{gs.dfe}",
            client_id=gs.client_id,
            secret=gs.secret,
            operator="bench",
            now=datetime.combine(day0, datetime.min.time()),
        )

    async def seed() -> None:
        async with IrisClient(
            allowed_hosts=store.allowed_mis_hosts(), transport=sim.transport()
        ) as client:
            for gs in estate.schools:
                await run_school(
                    store,
                    gs.dfe,
                    trigger="schedule",
                    operator="scheduler",
                    now=datetime.combine(day0, datetime.min.time()),
                    client=client,
                )
            sim.advance(days=10, today=TODAY - timedelta(days=1))
            # the second school's run of the day opens its match cases
            await run_school(
                store,
                estate.schools[1].dfe,
                trigger="schedule",
                operator="scheduler",
                now=NOW - timedelta(hours=4),
                client=client,
            )

    asyncio.run(seed())
    sim.advance(days=1, today=TODAY)
    rng = random.Random(3)
    taken = {s.dfe for s in estate.schools}
    schools = random_schools(rng, N_SCHOOLS - len(taken), taken)
    for start in range(0, len(schools), 500):
        with store.transaction("bench") as tx:
            for school in schools[start : start + 500]:
                tx.add_school(school, "bench-secret")
    return store, sim, estate.schools[0].dfe, estate.schools[1].dfe


class FrameClock:
    """Counts frames the app writes (headless: the same call, without the terminal)."""

    def __init__(self, app) -> None:
        self.frames = 0
        original = app._display

        def counting(screen, renderable) -> None:
            if renderable is not None:
                self.frames += 1
            original(screen, renderable)

        app._display = counting

    async def key_latency(self, app, key: str, timeout: float = 2.0) -> float:
        from textual import events

        before = self.frames
        t0 = time.perf_counter()
        app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
        while self.frames == before:
            await asyncio.sleep(0.0005)
            if time.perf_counter() - t0 > timeout:
                break
        return time.perf_counter() - t0


SCALE_SIZES = (3_000, 10_000, 30_000)
SCALE_VERSION = 1  # bump when the cached stores' content changes
OUT = Path(__file__).parent / "out"


def directory_store(n_schools: int) -> Store:
    """A store of `n_schools` schools without accounts (one transaction), cached under bench/out/."""
    root = OUT / f"tui-{n_schools}"
    marker = root / "bench-tui.json"
    if marker.exists() and marker.read_text() == str(SCALE_VERSION):
        try:
            return open_store(root)
        except Exception as exc:  # noqa: BLE001 - e.g. written by an older schema: build again
            print(f"rebuilding {root}: {exc}", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    rng = random.Random(n_schools)
    schools = random_schools(rng, n_schools, set())
    store = open_store(root)
    with store.transaction("bench") as tx:
        for school in schools:
            tx.add_school(school, "bench-secret")
    marker.write_text(str(SCALE_VERSION))
    print(f"built {root} ({n_schools:,} schools) in {time.perf_counter() - t0:.0f} s", flush=True)
    return store


class LoopWatch:
    """The longest time the event loop went without running a 1 ms ticker (a block)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    def start(self) -> None:
        self.longest = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.longest


async def wait_until(predicate, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.001)


async def first_screen(store: Store, refills: int) -> tuple[float, list[float], list[float]]:
    """App created -> the schools table shows its first page and a frame showing it is written;
    then `refills` refills (sorts, then reloads), each: the longest loop block and the time until
    the table holds the new list."""
    from uso_tui.tui.app import UsoApp
    from uso_tui.tui.virtual_table import VirtualTable

    # The apps of the samples before are garbage (cycles): collected now, as a new process
    # would have none, not by a full collection in the middle of this app's refills.
    gc.collect()
    t0 = time.perf_counter()
    app = UsoApp(
        store, clock=lambda: NOW, operator="bench", cursor_blink=False, freeze_startup=True
    )
    clock = FrameClock(app)
    blocks: list[float] = []
    spans: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:

        def table() -> VirtualTable | None:
            screen = app.screen
            if getattr(screen, "kind", "") != "schools" or not screen.rows:
                return None
            return screen.query_one(VirtualTable)

        await wait_until(lambda: (t := table()) is not None and t.row_count > 0)
        filled = time.perf_counter()
        before = clock.frames
        # the frame showing the rows, unless it was already written before the poll saw them
        while clock.frames == before and time.perf_counter() - filled < 0.25:
            await asyncio.sleep(0.001)
        elapsed = (time.perf_counter() if clock.frames > before else filled) - t0
        grid = table()
        assert grid is not None
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        watch = LoopWatch()
        for refill in range(refills):
            watch.start()
            t1 = time.perf_counter()
            if refill % 2 == 0:
                screen.action_sort()
            else:
                screen.action_reload()
            await asyncio.sleep(0.01)
            await app.workers.wait_for_complete()
            await wait_until(lambda: grid.row_count == len(screen.rows))
            spans.append(time.perf_counter() - t1)
            await pilot.pause()
            blocks.append(watch.stop())
    return elapsed, blocks, spans


def directory_reads(n_schools: int, repeat: int) -> tuple[list[float], list[float]]:
    """`list_schools` on a store just opened (cold), then once more on the same store (warm)."""
    colds, warms = [], []
    for _ in range(repeat):
        store = open_store(OUT / f"tui-{n_schools}")
        t0 = time.perf_counter()
        store.list_schools()
        colds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.list_schools()
        warms.append(time.perf_counter() - t0)
    return colds, warms


def scale_rows(repeat: int, refills: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for n_schools in SCALE_SIZES:
        store = directory_store(n_schools)
        colds, warms = directory_reads(n_schools, repeat)
        firsts, blocks, spans = [], [], []
        for _ in range(repeat):
            first, block, span = asyncio.run(first_screen(store, refills))
            firsts.append(first)
            blocks += block
            spans += span
        for label, values in (
            (f"directory read, cold, {n_schools:,} schools", colds),
            (f"directory read, warm, {n_schools:,} schools", warms),
            (f"time to first screen, {n_schools:,} schools", firsts),
            (f"longest loop block in a refill, {n_schools:,} schools", blocks),
            (f"refill until the table holds it, {n_schools:,} schools", spans),
        ):
            rows.append(
                [
                    label,
                    fmt_seconds(median(values)),
                    fmt_seconds(max(values)),
                    len(values),
                    " ".join(f"{v * 1e3:.0f}" for v in values),
                ]
            )
    return rows


async def latencies(
    store: Store, queue_school: str, big_school: str, presses: int, during_run: bool
) -> dict[str, list[float]]:
    from uso_tui.tui.app import UsoApp

    gc.collect()  # the app measured before is garbage: see first_screen
    app = UsoApp(
        store, clock=lambda: NOW, operator="bench", cursor_blink=False, freeze_startup=True
    )
    out: dict[str, list[float]] = {"schools": [], "matching": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        clock = FrameClock(app)
        live = None
        if during_run:
            school = store.school(big_school)
            live = app.start_force_run(big_school, list(school.reports))
            while live.phase == "connecting" and not live.done:
                await asyncio.sleep(0.01)
        reports = list(store.school(big_school).reports)
        for press in range(presses):
            if live is not None and live.done:  # keep a run going: start the next one
                live = app.start_force_run(big_school, reports)
            value = await clock.key_latency(app, "j" if press % 2 == 0 else "k")
            if live is None or not live.done:  # during a run, only keys answered during it
                out["schools"].append(value)
            await asyncio.sleep(0.01)
        app.open_screen("matching", queue_school)
        await pilot.pause()
        end = time.perf_counter() + 10
        while not app.screen.cases and time.perf_counter() < end:
            await asyncio.sleep(0.01)
        keys = ["n", "j", "p", "k"]
        for press in range(presses):
            if live is not None and live.done:
                live = app.start_force_run(big_school, reports)
            value = await clock.key_latency(app, keys[press % len(keys)])
            if live is None or not live.done:
                out["matching"].append(value)
            await asyncio.sleep(0.01)
        if live is not None:
            live.cancel.set()
            await app.workers.wait_for_complete()
    return out


def main(argv: list[str] | None = None) -> int:
    from uso_tui.iris.server import start_background

    parser = argparse.ArgumentParser(prog="python -m bench.tui")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: under 60 s")
    parser.add_argument("--scale-only", action="store_true", help="only the scaling figures")
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else 5
    presses = 30 if args.quick else 100
    print_table(
        "bench/tui scaling (headless Textual; first screen under 1 s, loop blocks under 50 ms)",
        ["measure", "median", "max", "n", "samples (ms)"],
        scale_rows(repeat, refills=2 if args.quick else 4),
    )
    if args.scale_only:
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    try:
        t0 = time.perf_counter()
        store, sim, big, queue = build(tmp / "store")
        print(
            f"built a store of {N_SCHOOLS:,} schools in {time.perf_counter() - t0:.1f} s; "
            f"{len(store.cases(queue))} open cases in {queue}",
            flush=True,
        )
        idle = asyncio.run(latencies(store, queue, big, presses, during_run=False))
        # slow enough that the run lasts while the keys are measured
        sim.set_switches(latency=0.15, max_page_size=50)
        root, stop = start_background(sim)
        try:
            point_at(store, root, [big, queue], NOW)
            busy = asyncio.run(latencies(store, queue, big, presses, during_run=True))
        finally:
            stop()
        rows = []
        for name, values in (
            ("schools table", idle["schools"]),
            ("matching queue", idle["matching"]),
        ):
            rows.append(
                [
                    f"key to screen update: {name}",
                    fmt_seconds(median(values)),
                    fmt_seconds(max(values)),
                    len(values),
                ]
            )
        for name in ("schools", "matching"):
            values = busy[name]
            label = "schools table" if name == "schools" else "matching queue"
            rows.append(
                [
                    f"key to screen update: {label}, run going",
                    fmt_seconds(median(values)),
                    fmt_seconds(max(values)),
                    len(values),
                ]
            )
        print_table(
            "bench/tui (headless Textual; target under 50 ms a key)",
            ["measure", "median", "max", "n"],
            rows,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
