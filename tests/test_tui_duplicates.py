"""The possible duplicates screen through the keys an operator presses: reached from the school hub,
both accounts side by side with the evidence (names that look like markup shown literally), keep
both, unallocate one; the store is checked after each. Plus a snapshot at 80x24."""

from __future__ import annotations

import pytest
from test_duplicates import FAR, HILL, VALE, build_estate
from tui_helpers import make_app, screen_text, settle

from uso_tui.tui.screens.duplicates import DuplicatesScreen, WhichOne
from uso_tui.tui.widgets import Confirm


@pytest.fixture
def store(tmp_path):
    return build_estate(tmp_path / "data")


def shown(app) -> list[str]:
    return [r.key for r in app.screen.active_table().shown]


async def test_reached_from_the_school_hub_with_the_pair_side_by_side(store):
    app = make_app(store, start=("school", VALE))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "Duplicates" in screen_text(app)  # in the footer
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen) and app.screen.dfe == VALE
        assert shown(app) == ["bcarter.204 bcarter2.204"]
        text = screen_text(app)
        assert "Be[n] Carter[/]" in text  # literal, never markup
        assert "same names and date of birth" in text and "students record P2" in text
        assert "not linked" in text
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.kind == "school"


async def test_keep_both_asks_once_then_the_pair_is_gone_and_audited(store):
    app = make_app(store, start=("duplicates", VALE))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert isinstance(app.screen, Confirm)
        assert "bcarter2.204" in screen_text(app)
        await pilot.press("n")  # changed my mind: nothing happens
        await settle(pilot)
        assert store.kept_pairs() == frozenset()
        await pilot.press("k")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen)
        assert store.kept_pairs() == {("bcarter.204", "bcarter2.204")}
        assert shown(app) == []
        assert "No possible duplicates" in screen_text(app)
        [ev] = store.audit(VALE, subject="bcarter2.204")
        assert (ev.operator, ev.action) == ("tester", "duplicate_keep")


async def test_unallocate_one_asks_which_then_once(store):
    app = make_app(store, start=("duplicates", HILL))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, WhichOne)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, Confirm)
        text = screen_text(app)
        assert "asmith.204" in text and "dropped" in text and "ajones.205" in text
        await pilot.press("y")
        await settle(pilot)
        gone, stays = store.account("asmith.204"), store.account("ajones.205")
        assert (gone.status, gone.previous_school, gone.mis_id) == ("unallocated", HILL, None)
        assert (stays.status, stays.school) == ("active", FAR)
        [ev] = store.audit(HILL, subject="asmith.204")
        assert (ev.operator, ev.action, ev.after["duplicate_of"]) == (
            "tester",
            "unallocate",
            "ajones.205",
        )
        assert shown(app) == ["bcarter.204 bcarter2.204"]
        # escape in the chooser changes nothing
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen)
        assert store.account("bcarter2.204").status == "active"


def test_snapshot_80x24(snap_compare, tmp_path):
    app = make_app(build_estate(tmp_path / "data"), start=("duplicates", HILL))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


async def test_every_school_from_the_command_palette(store):
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        for ch in "duplicates all":
            await pilot.press("space" if ch == " " else ch)
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen) and app.screen.dfe is None
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        assert "Possible duplicates: all schools | 2 pairs" in screen_text(app)
