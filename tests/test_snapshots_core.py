"""Snapshots of the core console screens at 80x24 and 120x40 (frozen clock, no cursor blink).

The store is the demo after a day of runs, with its school URLs pointed back at a fixed placeholder
(the simulator's port changes from run to run) and a school whose name and a match case carry markup
and control characters, so the snapshots also show them literally. Update with --snapshot-update."""

from __future__ import annotations

import shutil

import pytest
from tui_helpers import (
    NOW,
    answer_force_run,
    make_app,
    put_markup_case,
    run_all,
    screen_text,
    settle_picture,
)

from uso_tui.demo import PLACEHOLDER_ROOT, point_at
from uso_tui.store import open_store

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(scope="module")
def snap_template(tmp_path_factory, demo_template):
    """Built once per module: the demo after its runs, URLs fixed, a markup case."""
    from tui_helpers import TODAY

    from uso_tui.demo import build_demo_store, demo_params, make_demo_simulator
    from uso_tui.iris.server import start_background

    path = tmp_path_factory.mktemp("snap") / "store"
    shutil.copytree(demo_template, path)
    sim = make_demo_simulator(**demo_params(path, TODAY))
    root, stop = start_background(sim)
    try:
        demo = build_demo_store(path, sim=sim, root=root, today=TODAY)
        run_all(demo)
    finally:
        stop()
    point_at(demo.store, PLACEHOLDER_ROOT, [s.dfe for s in demo.store.list_schools()], NOW)
    busiest = max(demo.store.list_schools(), key=lambda s: s.open_cases).dfe
    put_markup_case(demo.store, demo.held_school)
    return path, demo.held_school, busiest


@pytest.fixture
def snap(snap_template, tmp_path):
    template, held, busiest = snap_template
    path = tmp_path / "store"
    shutil.copytree(template, path)
    return open_store(path), held, busiest


async def _settle(pilot) -> None:
    await settle_picture(pilot, 3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_schools(snap_compare, snap, size):
    store, _, _ = snap
    assert snap_compare(make_app(store), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_keys_help(snap_compare, snap, size):
    store, _, _ = snap

    async def before(pilot):
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(store), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_school_hub(snap_compare, snap, size):
    store, held, _ = snap
    app = make_app(store, start=("school", held))
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_settings(snap_compare, snap, size):
    store, held, _ = snap

    async def before(pilot):
        await _settle(pilot)
        pilot.app.screen.query_one("#f-daily_at").value = "6am"  # shows an inline error
        await pilot.pause()

    app = make_app(store, start=("settings", held))
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_matching(snap_compare, snap, size):
    store, held, _ = snap
    app = make_app(store, start=("matching", held))
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_force_run_held(snap_compare, demo, size):
    """A live force run (served by the simulator) that ends held: its leavers' unallocations
    wait for an operator (the school's threshold is very low), the rest applied."""

    async def before(pilot):
        await answer_force_run(pilot)
        await _settle(pilot)

    app = make_app(demo.store, start=("force_run", demo.held_school))
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_force_run_asks(demo, size):
    """Before a force run: the school, its reports (s/t narrow them), what the last run did.
    (Read as text: whether the footer under the question is drawn yet when a picture is taken
    depends on the machine's load.)"""
    app = make_app(demo.store, start=("force_run", demo.held_school))
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        text = screen_text(app)
        for line in (
            f"Force run {demo.held_school}?",
            "Reports to run:",
            "[x] Staff",
            "[x] Students",
            "Last run: ok",
            "y Start",
            "n/escape Cancel",
        ):
            assert line in text, line


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_force_run_held_confirm(snap_compare, demo, size):
    """The review of a run held whole (a quarter of the pupils missing from the export)."""
    demo.lose_records(demo.held_school)

    async def before(pilot):
        await answer_force_run(pilot)
        await _settle(pilot)
        await pilot.press("y")
        await _settle(pilot)

    app = make_app(demo.store, start=("force_run", demo.held_school))
    assert snap_compare(app, terminal_size=size, run_before=before)
