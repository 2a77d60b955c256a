"""`python -m uso_tui.tui.screenshots [DIR]`: an SVG of each main screen, made by the app itself.

Builds a demo store in a temporary folder, serves it with the IRIS simulator, runs every school's day
(so queues have cases and one school is held), then opens the console headless on each screen of
SHOTS and saves what it shows. Times come from a fixed clock, so the pictures are repeatable.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from uso_tui.demo import (
    PLACEHOLDER_ROOT,
    Demo,
    build_demo_store,
    demo_params,
    make_demo_simulator,
    point_at,
    run_all_schools,
)
from uso_tui.tui.app import UsoApp

TODAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 9, 10, 30, 0)
SIZE = (100, 30)


@dataclass
class Shot:
    name: str  # file name, without .svg
    kind: str  # UsoApp.SCREENS key
    subject: str = "none"  # which school: "none", "held", "busiest", "failed"
    keys: tuple[str, ...] = ()  # pressed once the screen is ready
    size: tuple[int, int] = SIZE
    prepare: Callable[[Demo], None] | None = field(default=None, repr=False)


SHOTS: list[Shot] = [
    Shot("schools", "schools"),
    Shot("keys-help", "schools", keys=("question_mark",)),
    Shot("school-hub", "school", "busiest"),
    Shot("settings", "settings", "busiest"),
    Shot("matching", "matching", "busiest"),
]

# ---- records screens (bulk results, users, non-MIS, history, audit) ----


def _busiest(demo: Demo) -> str:
    return max(demo.store.list_schools(), key=lambda s: s.open_cases).dfe


def _requested_accounts(demo: Demo) -> None:
    """Two User Request Single accounts at the busiest school: the non-MIS review has work."""
    from uso_tui.sync.admin import add_account  # noqa: PLC0415

    for role, forename, surname, dob in [
        ("staff", "Priya", "Sharma", "1988-04-12"),
        ("pupil", "Tomasz", "Nowak", "2016-02-29"),
    ]:
        add_account(
            demo.store, _busiest(demo), role=role, forename=forename, surname=surname, dob=dob,
            operator="operator", now=NOW,
        )  # fmt: skip


def _one_unallocated(demo: Demo) -> None:
    """The held school has unallocated nobody yet: an operator unallocates a requested account."""
    from uso_tui.sync.actions import unallocate_account  # noqa: PLC0415

    dfe = _busiest(demo)
    account = next(
        a for a in demo.store.school_accounts(dfe) if a.status == "active" and not a.linked
    )
    unallocate_account(demo.store, account.username, operator="operator", now=NOW)


SHOTS += [
    Shot("bulk-results", "bulk_results", "busiest"),
    Shot("non-mis", "non_mis", "busiest", prepare=_requested_accounts),
    Shot(
        "bulk-results-unallocated",
        "bulk_results",
        "busiest",
        keys=("4",),
        prepare=_one_unallocated,
    ),
    Shot("users-latest", "users"),
    Shot("account-history", "users", keys=("enter",)),
    Shot("run-history", "history"),
    Shot("audit-log", "audit", "busiest"),
    Shot("duplicates", "duplicates"),
    Shot("calendar", "calendar"),
    Shot("why", "why", keys=(*"harry", "space", *"davies", "enter")),
    Shot("add-school", "schools", keys=("n",)),
    Shot("request-account", "school", "busiest", keys=("r",)),
]

# Last: these change the store (a force run of the held school, held by its low threshold; then
# another, of an export a quarter short, held whole, and its review before confirming). The
# first y answers the question a Force Run asks before it starts.
SHOTS_LAST: list[Shot] = [
    Shot("force-run-held", "force_run", "held", keys=("y",)),
    Shot(
        "force-run-confirm",
        "force_run",
        "held",
        keys=("y", "y"),
        prepare=lambda demo: demo.lose_records(demo.held_school) and None,
    ),
]


def _subject(demo: Demo, which: str) -> str | None:
    if which == "none":
        return None
    if which == "held":
        return demo.held_school
    if which == "failed":
        return demo.failed_school
    if which == "busiest":
        return max(demo.store.list_schools(), key=lambda s: s.open_cases).dfe
    raise ValueError(which)


async def _settle(pilot) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _shoot(demo: Demo, shot: Shot, out: Path) -> Path:
    if shot.prepare is not None:
        shot.prepare(demo)
    dfe = _subject(demo, shot.subject)
    start = None if shot.kind == "schools" else (shot.kind, dfe)
    app = UsoApp(
        demo.store, clock=lambda: NOW, operator="operator", cursor_blink=False, start=start
    )
    async with app.run_test(size=shot.size) as pilot:
        await _settle(pilot)
        for key in shot.keys:
            await pilot.press(key)
            await _settle(pilot)
        path = out / f"{shot.name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


def make_screenshots(out: Path, shots: list[Shot] | None = None) -> list[Path]:
    from uso_tui.iris.server import start_background  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="uso-shots-") as tmp:
        path = Path(tmp) / "store"
        build_demo_store(path, today=TODAY)
        sim = make_demo_simulator(**demo_params(path, TODAY))
        root, stop = start_background(sim)
        try:
            demo = build_demo_store(path, sim=sim, root=root, today=TODAY, now=NOW)
            run_all_schools(demo.store, NOW)
            dfes = [s.dfe for s in demo.store.list_schools()]
            # the simulator's port differs each time: show a fixed one in the pictures
            point_at(demo.store, PLACEHOLDER_ROOT, dfes, NOW)
            for shot in shots if shots is not None else SHOTS:
                written.append(asyncio.run(_shoot(demo, shot, out)))
            if shots is None:
                point_at(demo.store, root, dfes, NOW)  # force runs need the real simulator
                for shot in SHOTS_LAST:
                    written.append(asyncio.run(_shoot(demo, shot, out)))
        finally:
            stop()
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("screenshots")
    for path in make_screenshots(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
