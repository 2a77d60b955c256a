"""Every screen's footer at 80 columns: its keys fit, and `? Keys` (which lists every key of the
screen, those the footer leaves out too) is always there to be read. Wider, the footer shows the
keys it leaves out at 80 columns (the screen's WIDE_KEYS) as far as they fit."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette
from textual.screen import ModalScreen
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey
from tui_helpers import (
    answer_force_run,
    choose_in_palette,
    palette_offers,
    press,
    screen_text,
    settle,
    started,
    wait_for,
)

from uso_tui.tui.app import SCREENS
from uso_tui.tui.widgets import screen_keys

# (screen, its subject: a school with open cases for the school screens)
CASES = [
    (kind, "school" if subject == "school" else None) for kind, (_, _, subject) in SCREENS.items()
]


def _school_with_cases(store) -> str:
    return next(s.dfe for s in store.list_schools() if s.open_cases)


@pytest.mark.parametrize(("kind", "subject"), CASES, ids=[kind for kind, _ in CASES])
async def test_the_footer_fits_80_columns_and_shows_keys_help(demo_ran, kind, subject):
    dfe = _school_with_cases(demo_ran.store) if subject else None
    async with started(demo_ran.store) as (app, pilot):
        if kind != "schools":
            app.open_screen(kind, dfe)
            await settle(pilot)
            if kind == "force_run":  # asked first
                await answer_force_run(pilot, "y")
                await settle(pilot)
        assert type(app.screen).__name__ == SCREENS[kind][1]
        _assert_footer_fits(app, kind)
        if not isinstance(app.focused, Input):  # where a field has the focus, ? is typed
            assert "? Keys" in screen_text(app), f"{kind}: the footer is cut before ? Keys"
        else:  # and F1 lists the keys
            await press(pilot, "f1")
            assert type(app.screen).__name__ == "KeysHelp", kind
            await press(pilot, "escape")
        first = _footer_actions(app)
        for width in (100, 120, 200, 80):
            await pilot.resize_terminal(width, 24)
            await settle(pilot)
            _assert_footer_fits(app, f"{kind} at {width} columns")
            shown = _footer_actions(app)
            wide = [a for a in app.screen.WIDE_KEYS if a in _enabled_actions(app)]
            if width == 200:  # room for every one
                assert set(wide) <= shown, f"{kind}: {set(wide) - shown} not shown at {width}"
            if width == 80:  # back as it was
                assert shown == first, kind


def _assert_footer_fits(app, what: str) -> None:
    keys = [key for key in app.screen.query_one(Footer).query(FooterKey) if key.display]
    [palette] = [key for key in keys if key.key == "ctrl+p"]  # docked right, over the rest
    for key in keys:
        if key is not palette:
            assert key.region.right <= palette.region.x, f"{what}: {key.key} is cut"


def _footer_actions(app) -> set[str]:
    return {key.action for key in app.screen.query_one(Footer).query(FooterKey) if key.display}


def _enabled_actions(app) -> set[str]:
    return {a.binding.action for a in app.screen.active_bindings.values() if a.enabled}


async def test_a_wide_footer_shows_more_keys_and_gives_them_up_as_it_narrows(demo_ran):
    async with started(demo_ran.store, size=(120, 24)) as (app, pilot):
        assert {"add_school", "history"} <= _footer_actions(app)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not {"add_school", "history"} & _footer_actions(app)
        _assert_footer_fits(app, "schools, narrowed")
        await pilot.resize_terminal(100, 24)
        await settle(pilot)
        shown = _footer_actions(app)
        assert "add_school" in shown and "audit" not in shown  # as many as fit, in order
        _assert_footer_fits(app, "schools at 100 columns")
        assert "? Keys" in screen_text(app)
        await press(pilot, "n")  # the key works at any width
        assert type(app.screen).__name__ == "AddSchoolScreen"


async def test_the_matching_footer_fits_with_undo_and_keys_help_says_its_keys_in_full(demo_ran):
    dfe = _school_with_cases(demo_ran.store)
    async with started(demo_ran.store, "matching", dfe) as (app, pilot):
        described = {desc for _, desc in screen_keys(app.screen)}
        assert {"Create new", "Search account", "Previous", "Export CSV"} <= described
        await press(pilot, "c", "F")  # a decision: Undo joins the footer
        assert app.screen.decided
        footer_keys = {key.key for key in app.screen.query(FooterKey) if key.display}
        assert "u" in footer_keys
        _assert_footer_fits(app, "matching after a decision")
        assert "? Keys" in screen_text(app)


async def test_the_force_run_footer_fits_when_its_run_is_held(demo):
    async with started(demo.store, "school", demo.held_school) as (app, pilot):
        await pilot.press("f")
        await answer_force_run(pilot)
        await settle(pilot, 3)
        assert app.screen.kind == "force_run" and app.screen.final.status == "held"
        footer_keys = {key.key for key in app.screen.query(FooterKey) if key.display}
        assert {"y", "b"} <= footer_keys  # confirm held, bulk results
        _assert_footer_fits(app, "a held force run")
        assert "? Keys" in screen_text(app)
        assert "r: run again" in screen_text(app)  # said by the outcome, not the footer


async def test_every_bulk_results_tab_keeps_its_footer_within_80_columns(demo_ran):
    dfe = _school_with_cases(demo_ran.store)
    async with started(demo_ran.store, "bulk_results", dfe) as (app, pilot):
        for tab in "1234567":
            await press(pilot, tab)
            _assert_footer_fits(app, f"bulk results tab {tab}")
            assert "? Keys" in screen_text(app), f"bulk results tab {tab}"


async def test_keys_the_footer_leaves_out_are_commands_of_the_palette(demo_ran):
    """The palette does what a key of the screen underneath does, found by its name."""
    store = demo_ran.store
    async with started(store) as (app, pilot):
        await choose_in_palette(pilot, "add school")  # n, not in the Schools footer
        assert type(app.screen).__name__ == "AddSchoolScreen"
        await press(pilot, "escape")
        app.open_screen("users")
        await settle(pilot)
        await choose_in_palette(pilot, "export csv")  # e, not in the Users footer
        await settle(pilot)
        assert list((store.root / "exports").glob("accounts-*.csv"))


async def test_a_question_is_never_answered_from_the_palette(demo_ran):
    dfe = _school_with_cases(demo_ran.store)
    async with started(demo_ran.store, "matching", dfe) as (app, pilot):
        await press(pilot, "c")  # "Create a new account?" asks
        question = app.screen
        assert isinstance(question, ModalScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        if isinstance(app.screen, CommandPalette):
            await pilot.press(*"yes")
            await settle(pilot)
            hits = app.screen.query_one(CommandList)
            offered = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
            assert not any("(y)" in text for text in offered)
            await press(pilot, "escape")
        assert app.screen is question and not app.screen_stack[-2].decided


async def test_a_question_s_footer_lists_its_own_keys_not_the_screen_s_beneath(demo_ran):
    """The footer at the bottom line is the question's: the screen beneath's keys (m Matching,
    f Force run) do nothing while it is asked, so they are not offered there."""
    dfe = _school_with_cases(demo_ran.store)
    async with started(demo_ran.store, "school", dfe) as (app, pilot):
        await press(pilot, "f")  # "Force run ...?" asks
        assert type(app.screen).__name__ == "ForceRunAsk"
        bottom = screen_text(app).splitlines()[-1]
        assert "y Start" in bottom and "n Cancel" in bottom
        assert "Matching" not in bottom and "Settings" not in bottom
        await press(pilot, "n", "question_mark")  # and the keys help's: it closes
        assert type(app.screen).__name__ == "KeysHelp"
        assert screen_text(app).splitlines()[-1].split() == ["esc", "Close"]


async def test_the_keys_help_of_a_relabelled_question_lists_each_key_once():
    """A question's keys are said as its keys line says them (y Match): the keys help listed
    them twice, the second time as the class's generic Yes and No."""
    from textual.app import App

    from uso_tui.tui.widgets import Confirm, ConfirmForce

    app = App()
    async with app.run_test(size=(100, 30)) as pilot:
        for question, yes in ((Confirm("T", "b", yes="Match", no="Cancel"), "y"), (
            ConfirmForce("T", "b", yes="Create anyway", no="Cancel"), "F"
        )):  # fmt: skip
            await app.push_screen(question)
            await pilot.pause()
            keys = dict(screen_keys(app.screen))
            assert keys[yes] == question._yes and keys["n esc"] == "Cancel"
            assert "Yes" not in keys.values() and "No" not in keys.values()
            app.pop_screen()
            await pilot.pause()


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("restore 2308", "bulk_results"),
        ("unallocated 2308", "bulk_results"),
        ("held 2308", "history"),
    ],
)
async def test_the_palette_finds_a_school_s_screen_by_what_is_done_there(demo_ran, typed, kind):
    """`restore`, `unallocated`, `held` found nothing: a newcomer had to know that restoring is
    a tab of Bulk results and confirming a held run is in Run history."""
    async with started(demo_ran.store) as (app, pilot):
        await choose_in_palette(pilot, typed)
        await settle(pilot)
        assert app.screen.kind == kind and app.screen.dfe == "204-2308", typed
        other = next(s.dfe for s in demo_ran.store.list_schools() if s.dfe != "204-2308")
        app.open_screen("school", other)
        await settle(pilot)
        await choose_in_palette(pilot, typed.split()[0])  # no school typed: this one's
        await settle(pilot)
        assert app.screen.kind == kind and app.screen.dfe == other, typed


async def test_on_run_history_undo_in_the_palette_is_its_key_not_the_screen_again(demo_ran):
    dfe = _school_with_cases(demo_ran.store)
    async with started(demo_ran.store, "history", dfe) as (app, pilot):
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"undo")
        await wait_for(pilot, lambda: palette_offers(app))
        hits = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: hits.option_count > 0)
        first = str(hits.get_option_at_index(0).prompt)
        assert first.startswith("Undo run"), first


async def test_on_a_held_run_held_in_the_palette_is_its_confirm_key(demo):
    """The words a school's screen is found by (`held`) do not outrank the key of the screen
    shown that the word names (Confirm held, on the force run that was held)."""
    async with started(demo.store, "school", demo.held_school) as (app, pilot):
        await pilot.press("f")
        await answer_force_run(pilot)
        await settle(pilot, 3)
        assert app.screen.kind == "force_run" and app.screen.final.status == "held"
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"held")
        hits = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: hits.option_count > 1)
        await settle(pilot)
        first = str(hits.get_option_at_index(0).prompt)
        assert first.startswith("Confirm held"), first
