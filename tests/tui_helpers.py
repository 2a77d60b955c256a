"""Shared fixtures of the console tests: a demo store served by a real simulator on 127.0.0.1, a
frozen clock, an app without cursor blink, and waiting for workers instead of sleeping."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from uso_tui.demo import Demo, build_demo_store, demo_params, make_demo_simulator
from uso_tui.tui.app import UsoApp

TODAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 9, 10, 30, 0)
OPERATOR = "tester"
MARKUP_NAME = "[bold]x[/] Lee\x1b[31m\x07"  # markup and control characters: shown literally


def frozen() -> datetime:
    return NOW


def make_app(store, **kw) -> UsoApp:
    return UsoApp(store, clock=frozen, operator=OPERATOR, cursor_blink=False, **kw)


async def settle(pilot, rounds: int = 2) -> None:
    """Let messages flow and every worker finish (no sleeping on the wall clock)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo-template") / "store"
    build_demo_store(path, today=TODAY)
    return path


@pytest.fixture
def demo(demo_template, tmp_path) -> Iterator[Demo]:
    """A fresh copy of the demo store, its simulator served on a free port."""
    from uso_tui.iris.server import start_background

    path = tmp_path / "store"
    shutil.copytree(demo_template, path)
    sim = make_demo_simulator(**demo_params(path, TODAY))
    root, stop = start_background(sim)
    try:
        yield build_demo_store(path, sim=sim, root=root, today=TODAY)
    finally:
        stop()
