"""Snapshots of the report screens (calendar, why no account?, possible duplicates of the
estate) at 80x24 and 120x40, on the demo after a day of runs (the store of
test_snapshots_core). Update with --snapshot-update."""

from __future__ import annotations

import pytest
from test_snapshots_core import SIZES, snap, snap_template  # noqa: F401 - fixtures
from tui_helpers import make_app, settle_picture


def _typing(*keys: str):
    async def before(pilot) -> None:
        await settle_picture(pilot, 3)
        for key in keys:
            await pilot.press(key)
        # The search starts once typing pauses (a timer): wait until it has been asked, then
        # for its answer, so that a slow machine shows the same screen as a fast one.
        typed = "".join(keys)
        for _ in range(100):
            if not typed or getattr(pilot.app.screen, "_asked", typed) == typed:
                break
            await pilot.pause(0.05)
        await settle_picture(pilot, 3)

    return before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_calendar(snap_compare, snap, size):  # noqa: F811
    store, _, _ = snap
    app = make_app(store, start=("calendar", None))
    assert snap_compare(app, terminal_size=size, run_before=_typing())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_why_no_account(snap_compare, snap, size):  # noqa: F811
    store, _, busiest = snap
    # a name of the busiest school's latest export: the search finds its records
    record = store.processed_files(busiest)[0].records[0]["record"]
    app = make_app(store, start=("why", None))
    assert snap_compare(app, terminal_size=size, run_before=_typing(*record["surname"].lower()))
