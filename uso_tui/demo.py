"""`uso-tui demo`: a demo store with schools in two local authorities, served by the built-in IRIS
simulator on 127.0.0.1, so a newcomer can force-run, resolve match cases and restore accounts with
nothing else set up.

The demo estate is generated from a seed (same seed, same people): the store is seeded by syncing every
school against the estate's first day, then the simulator moves on by a few school days of churn
(starters, leavers, movers, name changes, near-duplicates), so a force run shows all of them. One school
has low safety-hold thresholds (its force run is held) and one has a wrong secret (its last run failed).
Reopening the demo reuses the store; the simulator's port may differ, so the school URLs are updated.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from uso_tui.domain.errors import InvalidInput, UsoError
from uso_tui.iris.datagen import generate_estate
from uso_tui.iris.simulator import Simulator
from uso_tui.store import Store, open_store
from uso_tui.store.lock import flocked

DEMO_SEED = 7
DEMO_SCHOOLS = 8
DEMO_LAS = ["204", "205"]
DEMO_SIZE = 180  # people per school: big enough for cases, small enough to seed in seconds
CHURN_DAYS = 10  # school days the simulator moves on after seeding: a fortnight of churn
PLACEHOLDER_ROOT = "http://127.0.0.1:8765"
META = "demo.json"
DEMO_LOCK = "demo.lock"  # held by the process serving the demo (see _only_demo)
OPERATOR = "demo"


@dataclass
class Demo:
    store: Store
    sim: Simulator
    root: str  # the simulator's root URL the school URLs point at
    held_school: str  # its force run is held (low thresholds)
    failed_school: str  # its secret is wrong

    def lose_records(self, dfe: str, report: str = "students", share: float = 0.25) -> int:
        """From now on the school's MIS sends `report` without its first `share` of records (a
        report filter that dropped a year group), so that its next run is held whole: how many
        records went."""
        records = self.sim.school(dfe).records(report)
        gone = int(len(records) * share)
        self.sim.set_records(dfe, report, records[gone:])
        return gone


def default_demo_dir() -> Path:
    env = os.environ.get("USO_TUI_DEMO_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir  # noqa: PLC0415

    return Path(user_data_dir("uso-tui")) / "demo"


def make_demo_simulator(
    *,
    seed: int = DEMO_SEED,
    schools: int = DEMO_SCHOOLS,
    size: int | None = DEMO_SIZE,
    day0: date,
) -> Simulator:
    """The demo estate on its first day, before any churn (same arguments, same people)."""
    return Simulator.from_estate(generate_estate(seed, schools, DEMO_LAS, today=day0, size=size))


def demo_params(path: Path, today: date, churn_days: int = CHURN_DAYS) -> dict:
    """The generator's arguments: those saved with an existing demo store, else the defaults."""
    params = {
        "seed": DEMO_SEED,
        "schools": DEMO_SCHOOLS,
        "size": DEMO_SIZE,
        "day0": today - timedelta(days=churn_days),
    }
    meta_file = path / META
    if meta_file.exists():
        saved = json.loads(meta_file.read_text())
        for name in ("seed", "schools", "size"):
            params[name] = saved.get(name, params[name])
        if saved.get("day0"):
            params["day0"] = date.fromisoformat(saved["day0"])
    return params


def build_demo_store(
    path: str | Path,
    *,
    sim: Simulator | None = None,
    root: str | None = None,
    today: date | None = None,
    seed: int = DEMO_SEED,
    schools: int = DEMO_SCHOOLS,
    size: int | None = DEMO_SIZE,
    churn_days: int = CHURN_DAYS,
    now: datetime | None = None,
) -> Demo:
    """Create (or reuse) the demo store at `path` and return it with its simulator, moved on to
    `today`. `root` is where the simulator is (or will be) served. `sim`, when given, must come
    from make_demo_simulator(**demo_params(path, today)) (serve_demo starts its server first).
    `now` stamps what reusing the store changes (the clock's time if not given)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    today = today or date.today()
    root = (root or PLACEHOLDER_ROOT).rstrip("/")
    meta_file = path / META
    reuse = meta_file.exists()
    params = demo_params(path, today, churn_days)
    if not reuse:
        params.update(seed=seed, schools=schools, size=size)
    if sim is None:
        sim = make_demo_simulator(**params)
    assert sim.estate is not None
    dfes = [s.dfe for s in sim.estate.schools]
    held, failed = dfes[0], dfes[-1]
    if reuse:
        # the demo's own store, made by an older uso-tui perhaps: upgraded, not refused
        store = open_store(path, upgrade=True)
        point_at(store, root, dfes, now)
    else:
        store = _fresh(path, sim, root, held, failed)
        meta = {k: (str(v) if isinstance(v, date) else v) for k, v in params.items()}
        meta_file.write_text(json.dumps(meta))
        os.chmod(meta_file, 0o600)
    # serve the estate as it is some school days later: starters, leavers, movers...
    days = max(churn_days, 1)
    sim.advance(days=days, today=max(today, params["day0"] + timedelta(days=days)))
    return Demo(store=store, sim=sim, root=root, held_school=held, failed_school=failed)


def _hostport(root: str) -> str:
    return root.split("://", 1)[1].split("/", 1)[0]


def _fresh(path: Path, sim: Simulator, root: str, held: str, failed: str) -> Store:
    from uso_tui.sync.admin import add_school, update_school  # noqa: PLC0415

    estate = sim.estate
    assert estate is not None
    store = open_store(path)
    store.set_allowed_mis_hosts([_hostport(root)])
    day0 = datetime.combine(estate.today, time(5, 0))
    for gs in estate.schools:
        add_school(
            store,
            dfe=gs.dfe,
            name=gs.name,
            mis=gs.mis,
            url=f"{root}/{gs.dfe}",
            client_id=gs.client_id,
            secret=gs.secret if gs.dfe != failed else "wrong-secret",
            operator=OPERATOR,
            now=day0,
        )
    _run_sync(_seed(store, sim, datetime.combine(estate.today, time(6, 0))))
    # the held school: thresholds low enough that the churn's leavers trip the safety hold (its
    # starters and changes apply; its unallocations wait for an operator)
    update_school(store, held, operator=OPERATOR, now=day0, hold_percent=0.5, hold_min=1)
    return store


def _run_sync(coro) -> None:
    """asyncio.run, also when called from a running loop (an async test): then in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _seed(store: Store, sim: Simulator, when: datetime) -> None:
    """Every school's first scheduled run, in process (no server needed)."""
    from uso_tui.iris.client import IrisClient  # noqa: PLC0415
    from uso_tui.sync.runner import run_school  # noqa: PLC0415

    async with IrisClient(
        allowed_hosts=store.allowed_mis_hosts(), transport=sim.transport(), max_tries=1
    ) as client:
        for school in store.list_schools():
            await run_school(
                store, school.dfe, trigger="schedule", operator="scheduler", now=when, client=client
            )


def point_at(store: Store, root: str, dfes: list[str], now: datetime | None = None) -> None:
    """The simulator's port changes between demo sessions: follow it."""
    from uso_tui.sync.admin import update_school  # noqa: PLC0415

    store.set_allowed_mis_hosts([_hostport(root)])
    for school in store.list_schools():
        if school.dfe in dfes and not school.url.startswith(root + "/"):
            update_school(
                store,
                school.dfe,
                operator=OPERATOR,
                now=now or datetime.now(),
                url=f"{root}/{school.dfe}",
                # the demo's own secret for its own simulator (another server needs it given)
                secret=store.secret(school.dfe),
            )


def refuse_a_store_not_a_demo(path: Path) -> None:
    """The demo fills its folder with schools, fake accounts and its own MIS host: a live store
    given by mistake (`--data-dir` of the real one) would take them, whoever asked. Refused
    before anything is written."""
    if (path / "store.json").exists() and not (path / META).exists():
        raise InvalidInput(
            f"{path} holds a uso-tui store that is not a demo's: the demo makes its own, in a "
            "new or empty folder (without --data-dir, the default demo folder)"
        )


@contextmanager
def serve_demo(data_dir: str | Path | None = None, *, latency: float = 0.05) -> Iterator[Store]:
    """Set up (or reuse) the demo store and serve the simulator in the background while the block
    runs; the store is yielded for the console to open (the cli layer opens it: no arrow points up).

    latency: seconds the simulator adds to each request, so a force run can be watched live."""
    from uso_tui.iris.server import start_background  # noqa: PLC0415

    path = Path(data_dir) if data_dir else default_demo_dir()
    refuse_a_store_not_a_demo(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    with _only_demo(path):
        today = date.today()
        sim = make_demo_simulator(**demo_params(path, today))
        root, stop = start_background(sim)
        try:
            build_demo_store(path, sim=sim, root=root, today=today)
            # after seeding: small pages and a little latency make a force run worth watching
            sim.set_switches(latency=latency, max_page_size=50)
            yield open_store(path)
        finally:
            stop()


class DemoInUse(UsoError):
    """The demo store is open in another process."""


@contextmanager
def _only_demo(path: Path) -> Iterator[None]:
    """One demo per store at a time: each serves its own simulator on a port of its own and
    points the schools at it, so a second would leave the first one's runs failing to connect."""
    with ExitStack() as held:
        try:
            held.enter_context(flocked(path / DEMO_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB))
        except BlockingIOError:
            raise DemoInUse(
                f"the demo at {path} is open in another terminal: close it there first, or "
                "open another demo on a store of its own: uso-tui --data-dir DIR demo"
            ) from None
        yield


def run_all_schools(store: Store, now: datetime) -> None:
    """Every school's scheduled run at `now` (screenshots, benchmarks): queues fill, one is held."""
    from uso_tui.sync.runner import run_school  # noqa: PLC0415

    async def go() -> None:
        for school in store.list_schools():
            await run_school(store, school.dfe, trigger="schedule", operator="scheduler", now=now)

    _run_sync(go())
