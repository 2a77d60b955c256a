"""Snapshots of the records screens at 80x24 and 120x40, and of their dialogs at 80x24, on the
hand-built store (fixed times, names with markup and control characters), clock frozen, no blink.

Regenerate after a deliberate change: pytest tests/test_snapshots_records.py --snapshot-update"""

from __future__ import annotations

import pytest
from tui_helpers import make_app, settle, settle_picture
from tui_records_data import HILL, NOW, build_store

SIZES = [(80, 24), (120, 40)]


def app_on(tmp_path, kind: str, dfe: str | None):
    app = make_app(build_store(tmp_path / "store"), start=(kind, dfe))
    app.clock = lambda: NOW
    return app


def keys_then_settle(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await settle_picture(pilot)

    return run_before


SCREENS = {
    "bulk_file": ("bulk_results", HILL, ()),
    "bulk_unallocated": ("bulk_results", HILL, ("4", "space")),
    "bulk_exclusions": ("bulk_results", HILL, ("5",)),
    "users_latest": ("users", None, ()),
    "users_search": ("users", None, ("slash", "o", "b", "r", "enter")),
    "account": ("users", None, ("enter",)),
    "non_mis": ("non_mis", HILL, ()),
    "history_all": ("history", None, ()),
    "history_school": ("history", HILL, ()),
    "audit_all": ("audit", None, ()),
}

DIALOGS = {
    "bulk_restore_confirm": ("bulk_results", HILL, ("4", "space", "space", "r")),
    "bulk_exclusion_form": ("bulk_results", HILL, ("5", "a", "A", "n", "n")),
    "bulk_run_picker": ("bulk_results", HILL, ("p",)),
    "bulk_record_details": ("bulk_results", HILL, ("j", "j", "enter")),
    "non_mis_link_picker": ("non_mis", HILL, ("l",)),
    "non_mis_unallocate_confirm": ("non_mis", HILL, ("x",)),
    "run_details": ("history", HILL, ("enter",)),
    "audit_event": ("audit", HILL, ("enter",)),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(snap_compare, tmp_path, name, size):
    kind, dfe, keys = SCREENS[name]
    app = app_on(tmp_path, kind, dfe)
    assert snap_compare(app, terminal_size=size, run_before=keys_then_settle(*keys))


@pytest.mark.parametrize("name", list(DIALOGS))
def test_dialog(snap_compare, tmp_path, name):
    kind, dfe, keys = DIALOGS[name]
    app = app_on(tmp_path, kind, dfe)
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys_then_settle(*keys))
