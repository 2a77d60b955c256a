"""Operator safety in the console: typed-ahead keys, confirmations before runs and decisions,
held runs reviewed, failed workers shown."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

pytest.register_assert_rewrite("tui_helpers")
from tui_helpers import burst, make_app, screen_text, settle  # noqa: E402

pytest_plugins = ["tui_helpers"]  # the demo fixtures


async def test_typed_ahead_filter_reaches_the_filter_not_the_schools_keys(demo):
    """`/` then a name read in one burst: `m`, `e`, `f`... are letters of the filter, not keys
    opening the matching queue, the settings or a force run."""
    app = make_app(demo.store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "slash", *"meadow")
        await settle(pilot)
        assert app.screen.kind == "schools"
        assert app.live_runs == {}
        assert app.screen.query_one("#filter", Input).value == "meadow"
        await pilot.press("enter")
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert app.screen.selected() == "204-2308"


async def test_typed_ahead_opening_a_screen_then_keys_go_to_that_screen(demo):
    """enter (open the school's hub) then `e` (its settings) in one burst: the settings of the
    highlighted school open, the second key is not lost on the list."""
    app = make_app(demo.store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dfe = app.screen.selected()
        burst(app, "enter", "e")
        await settle(pilot)
        assert (app.screen.kind, app.screen.dfe) == ("settings", dfe)


async def test_typed_ahead_tab_then_secret_goes_to_the_secret_field(demo):
    app = make_app(demo.store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_screen("settings", demo.held_school)
        await settle(pilot)
        client_id = app.screen.query_one("#f-client_id", Input)
        before = client_id.value
        client_id.focus()
        await pilot.pause()
        burst(app, "tab", *"s3cr3t")
        await settle(pilot)
        assert client_id.value == before
        secret = app.screen.query_one("#f-secret", Input)
        assert secret.value == "s3cr3t"
        assert secret.password


async def test_a_failed_loader_is_said_once_and_leaves_loading(demo, monkeypatch):
    """Any screen's worker that raises: the operator reads one line saying what failed, the
    screen stops saying "loading…", and the console goes on."""

    def broken(*_a, **_k):
        raise OSError("disk [bold]gone[/]")

    app = make_app(demo.store)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        monkeypatch.setattr(demo.store, "runs", broken)
        app.open_school(demo.held_school)
        await settle(pilot)
        text = screen_text(app)
        assert "Cannot read the school: OSError: disk [bold]gone[/]" in text
        assert "loading…" not in text
        assert app.is_running
        await pilot.press("escape")
        assert app.screen.kind == "schools"
