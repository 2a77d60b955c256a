"""End-to-end console flows on the demo store: schools, hub, palette, keys help, settings."""

from __future__ import annotations

import threading

import pytest
from textual.command import CommandPalette
from textual.widgets import Input
from tui_helpers import (
    MARKUP_NAME,
    OPERATOR,
    burst,
    choose_in_palette,
    palette_offers,
    press,
    put_markup_case,
    screen_text,
    settle,
    started,
    wait_for,
)

from uso_tui.tui.app import SCREENS
from uso_tui.tui.virtual_table import VirtualTable
from uso_tui.tui.widgets import KeysHelp, clean


async def test_schools_problems_first_filter_sort_open(demo_ran):
    demo = demo_ran
    async with started(demo.store) as (app, pilot):
        table = app.screen.query_one(VirtualTable)
        schools = demo.store.list_schools()
        assert table.row_count == len(schools)
        # the failed school (wrong secret) comes first, then the held one, then cases waiting
        order = [table.key_at(i) for i in range(len(schools))]
        assert order[:2] == [demo.failed_school, demo.held_school]
        with_cases = {s.dfe for s in schools if s.open_cases} - {demo.held_school}
        assert set(order[2 : 2 + len(with_cases)]) == with_cases
        # "/" filters as you type
        target = schools[2]
        await press(pilot, "slash", *list(target.dfe))
        await wait_for(pilot, lambda: table.row_count == 1)
        assert table.key_at(0) == target.dfe
        # escape clears the filter
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: table.row_count == len(schools))
        # s cycles the sort: second sort is by DfE
        await pilot.press("s")
        keys = [table.key_at(i) for i in range(table.row_count)]
        assert keys == sorted(s.dfe for s in schools)
        await pilot.press("r")
        keys = [table.key_at(i) for i in range(table.row_count)]
        assert keys == sorted((s.dfe for s in schools), reverse=True)
        # the cursor follows its school through sorts; enter opens it, escape goes back
        assert table.cursor_row == keys.index(target.dfe)
        await press(pilot, "enter")
        assert app.screen.kind == "school"
        assert app.screen.dfe == target.dfe
        assert "Force run" in screen_text(app)
        await pilot.press("escape")
        assert app.screen.kind == "schools"


async def test_hub_keys_reach_every_school_screen(demo):
    dfe = demo.held_school
    async with started(demo.store, "school", dfe) as (app, pilot):
        keys = [
            ("e", "settings", dfe),
            ("m", "matching", dfe),
            ("b", "bulk_results", dfe),
            ("n", "non_mis", dfe),
            ("h", "history", dfe),
            ("a", "audit", dfe),
            ("u", "users", None),
        ]
        for key, kind, subject in keys:
            await press(pilot, key)
            assert app.screen.__class__.__name__ == SCREENS[kind][1]
            assert getattr(app.screen, "dfe", None) == subject
            await press(pilot, "escape")
            assert app.screen.kind == "school", kind


async def test_palette_jumps_to_school_by_dfe_and_name(demo):
    school = demo.store.list_schools()[3]
    async with started(demo.store) as (app, pilot):
        await choose_in_palette(pilot, school.dfe)
        assert app.screen.kind == "school" and app.screen.dfe == school.dfe
        # by a word of its name, from the hub
        word = school.name.split()[0]
        await choose_in_palette(pilot, f"{school.dfe[-4:]} {word}")
        assert app.screen.kind == "school" and app.screen.dfe == school.dfe
        # "force 1234": a screen of any school, by a word of the screen's name
        other = demo.store.list_schools()[1]
        await choose_in_palette(pilot, f"matching {other.dfe[-4:]}")
        assert app.screen.kind == "matching" and app.screen.dfe == other.dfe
        await press(pilot, "escape")
        # "runs 1234": the hub's key calls its run history "Runs"
        await choose_in_palette(pilot, f"runs {other.dfe[-4:]}")
        assert app.screen.kind == "history" and app.screen.dfe == other.dfe
        await press(pilot, "escape")
        # screens of the current school are in the palette too
        await choose_in_palette(pilot, "AutoUpdate settings")
        assert app.screen.kind == "settings" and app.screen.dfe == school.dfe


async def test_palette_typed_ahead_opens_what_was_typed_not_a_first_guess(demo, monkeypatch):
    """ctrl+p, `matching 2714`, enter in one burst: the enter waits for the palette's search of
    the whole text (slow here, as over thousands of schools), else it finds no hit yet or the
    first hit of the text typed so far (another school's matching queue, where the next keys
    typed ahead would decide its cases)."""
    import asyncio

    from uso_tui.tui.palette import UsoCommands

    searching = UsoCommands.search

    async def slowly(self, query):
        await asyncio.sleep(0.05)
        async for hit in searching(self, query):
            yield hit

    monkeypatch.setattr(UsoCommands, "search", slowly)
    schools = demo.store.list_schools()
    async with started(demo.store) as (app, pilot):
        for school in (schools[1], schools[2]):
            burst(app, "ctrl+p", *"matching", "space", *school.dfe[-4:], "enter")
            # (the palette's search runs on a timer of its own: waited for, not counted rounds)
            await wait_for(pilot, lambda: getattr(app.screen, "kind", None) == "matching")
            assert (app.screen.kind, app.screen.dfe) == ("matching", school.dfe)
            await press(pilot, "escape")


async def test_palette_typed_ahead_waits_for_a_search_slower_than_a_second(demo, monkeypatch):
    """The same over a slow host: the search of the whole text takes longer than a key's usual
    wait, and the text typed one key before also matches another school, whose queue the enter
    must not open."""
    import asyncio

    from uso_tui.tui.palette import UsoCommands

    numbers = {s.dfe[-4:]: s.dfe for s in demo.store.list_schools()}
    # a school whose number typed but for its last digit names another school first
    typed, target = next(
        (number[:k], dfe)
        for number, dfe in sorted(numbers.items())
        for k in (2, 3, 4)
        if [n for n in numbers if n.startswith(number[:k])] == [number]
        and min(d for n, d in numbers.items() if n.startswith(number[: k - 1])) != dfe
    )
    searching = UsoCommands.search

    async def slowly(self, query):
        if query.endswith(typed):
            await asyncio.sleep(1.5)
        async for hit in searching(self, query):
            yield hit

    monkeypatch.setattr(UsoCommands, "search", slowly)
    async with started(demo.store) as (app, pilot):
        burst(app, "ctrl+p", *"matching", "space", *typed, "enter")
        await wait_for(pilot, lambda: getattr(app.screen, "kind", None) == "matching")
        assert (app.screen.kind, app.screen.dfe) == ("matching", target)


async def test_palette_keys_typed_while_its_school_list_loads(demo, monkeypatch):
    """The palette reads the schools when it opens (slow on a large or busy store). Keys typed
    meanwhile each start a search and cancel the one before, which waits for that read: the read
    itself must go on, and the last search find the school (Textual's provider startup, awaited
    by a search, was cancelled with it, and the palette found no school until reopened)."""
    import time

    store = demo.store
    listing = store.list_schools
    target = listing()[3]

    def slowly():
        time.sleep(0.4)
        return listing()

    async with started(store) as (app, pilot):
        monkeypatch.setattr(store, "list_schools", slowly)  # the palette's read only
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        for key in ["m", "a", "t", "c", "h", "i", "n", "g", "space", *target.dfe[-4:]]:
            await pilot.press(key)  # each cancels the search of the text before it
        await wait_for(pilot, lambda: palette_offers(app))
        await press(pilot, "enter")
        await wait_for(pilot, lambda: getattr(app.screen, "kind", None) == "matching")
        assert app.screen.dfe == target.dfe


async def test_question_mark_shows_every_key_of_the_screen(demo_ran):
    demo = demo_ran
    async with started(demo.store) as (app, pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, KeysHelp)
        text = screen_text(app)
        for desc in ("Filter", "Sort", "Reverse", "Force run", "Matching", "Settings", "Quit"):
            assert desc in text
        await pilot.press("escape")
        assert app.screen.kind == "schools"
        app.open_screen("matching", demo.held_school)
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        for desc in ("Match", "Create new", "Exclude", "Skip", "Undo", "Search account"):
            assert desc in text


async def test_settings_inline_validation_save_and_secret(demo):
    store = demo.store
    dfe = demo.held_school
    async with started(store, "settings", dfe) as (app, pilot):
        screen = app.screen
        secret_box = screen.query_one("#f-secret", Input)
        assert secret_box.value == "" and secret_box.password  # never prefilled, masked
        daily = screen.query_one("#f-daily_at", Input)
        daily.value = "25:99"
        await pilot.pause()
        assert "bad time" in screen_text(app)
        await press(pilot, "ctrl+s")
        assert "Not saved" in screen_text(app)
        assert store.school(dfe).daily_at == "06:00"
        daily.value = "07:15"
        screen.query_one("#f-hold_min", Input).value = "x"
        await pilot.pause()
        assert "hold minimum" in screen_text(app)
        screen.query_one("#f-hold_min", Input).value = "25"
        secret_box.value = "n3w-s3cret-value"
        await pilot.pause()
        assert "n3w-s3cret-value" not in screen_text(app)
        await press(pilot, "ctrl+s")
        assert "Saved" in screen_text(app)
        school = store.school(dfe)
        assert school.daily_at == "07:15" and school.hold_min == 25
        assert store.secret(dfe) == "n3w-s3cret-value"
        assert secret_box.value == ""  # cleared again after saving
        events = store.audit(dfe, limit=5)
        assert any(e.operator == OPERATOR for e in events)
        assert "n3w-s3cret-value" not in repr([e.to_dict() for e in events])


async def test_settings_saved_then_left_with_keys_typed_ahead(demo):
    """ctrl+s then escape read in one burst: the escape waits for the save (in a thread), so
    it leaves the saved settings instead of asking to discard them."""
    store = demo.store
    dfe = demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await press(pilot, "e")
        app.screen.query_one("#f-daily_at", Input).value = "07:45"
        await pilot.pause()
        burst(app, "ctrl+s", "escape")
        await settle(pilot, 4)
        assert app.screen.kind == "school"
    assert store.school(dfe).daily_at == "07:45"


async def test_settings_typed_ahead_while_the_form_is_read_land_in_the_filled_form(
    demo, monkeypatch
):
    """`e`, the field, its new value, ctrl+s and escape in one burst while the school is read
    slowly: the read filled the form over what was typed, the ctrl+s found nothing to save and
    the escape left without a word. The keys wait for the filled form."""
    from tui_helpers import slowed

    store = demo.store
    dfe = demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        slowed(monkeypatch, store, "school", "allowed_mis_hosts", "has_secret", seconds=0.3)
        burst(app, "e", "down", "down", "down", "down", "ctrl+u", *"08:15", "ctrl+s", "escape")
        await settle(pilot, 8)
        assert app.screen.kind == "school"
    assert store.school(dfe).daily_at == "08:15"


async def test_settings_saved_keep_the_cursor_in_the_field_it_was_in(demo, monkeypatch):
    """Daily run time saved, then `down down 1 5 ctrl+s` typed on for Hold at least: the save
    put the cursor back on School name, so the 15 replaced the Client ID, and it was saved."""
    from tui_helpers import slowed

    store = demo.store
    dfe = demo.held_school
    client_id = store.school(dfe).client_id
    async with started(store, "school", dfe) as (app, pilot):
        slowed(monkeypatch, store, seconds=0.05)
        burst(app, "e", "down", "down", "down", "down", "ctrl+u", *"08:15", "ctrl+s",
              "down", "down", "ctrl+u", "1", "5", "ctrl+s")  # fmt: skip
        await settle(pilot, 10)
    school = store.school(dfe)
    assert (school.daily_at, school.hold_min, school.client_id) == ("08:15", 15, client_id)


async def test_settings_reports_and_unsupported_shown(demo):
    dfe = demo.held_school
    async with started(demo.store, "settings", dfe) as (app, pilot):
        text = screen_text(app)
        assert "Contacts, Attendance, Groups & Classes" in text
        await pilot.click("#r-staff")
        await pilot.click("#r-students")
        await pilot.pause()
        assert "at least one report" in screen_text(app)
        await pilot.click("#r-students")
        await press(pilot, "ctrl+s")
        assert demo.store.school(dfe).reports == ["students"]


async def test_settings_test_connection_ok_and_wrong_secret(demo):
    dfe = demo.held_school
    async with started(demo.store, "settings", dfe) as (app, pilot):
        await press(pilot, "ctrl+t")
        text = screen_text(app)
        assert "Connection OK" in text and "Students" in text and "Staff" in text
        app.screen.query_one("#f-secret", Input).value = "not-the-secret"
        await press(pilot, "ctrl+t")
        text = screen_text(app)
        assert "Connection failed" in text
        assert "not-the-secret" not in text
        # testing saves nothing
        assert demo.store.secret(dfe) != "not-the-secret"


async def test_another_server_in_the_url_needs_its_secret_to_test_or_save(demo):
    """The stored secret is sent only to the server it was given for: neither ctrl+t nor ctrl+s
    sends it to a URL typed on another host."""
    from uso_tui.domain.schools import MIS_DOMAINS

    store = demo.store
    dfe = demo.held_school
    old = store.school(dfe)
    async with started(store, "settings", dfe) as (app, pilot):
        screen = app.screen
        url, secret_box = screen.query_one("#f-url", Input), screen.query_one("#f-secret", Input)
        url.value = f"https://other.{MIS_DOMAINS[old.mis]}"
        await pilot.pause()
        assert "another server needs its Client Secret" in screen_text(app)
        assert secret_box.placeholder == "required: the new server's secret"
        await press(pilot, "ctrl+t")
        assert "Type the Client Secret to test" in screen_text(app)
        await press(pilot, "ctrl+s")
        assert "Not saved" in screen_text(app)
        assert store.school(dfe).url == old.url
        url.value = old.url + "/"  # the same server: the stored secret goes on
        await pilot.pause()
        assert "another server" not in screen_text(app)
        assert "set; type to replace" in secret_box.placeholder


async def test_keys_typed_after_a_refused_save_are_dropped_not_typed_into_the_secret(demo):
    """A URL on another server, ctrl+s (refused: that server's secret is wanted; the cursor
    goes to the Client Secret), then the URL typed again and ctrl+s, in one burst: the URL went
    into the Client Secret field and the second save moved the school with it as its secret."""
    from tui_helpers import burst, settle

    from uso_tui.domain.schools import MIS_DOMAINS

    store = demo.store
    dfe = demo.held_school
    old, secret = store.school(dfe), store.secret(dfe)
    other = f"https://other.{MIS_DOMAINS[old.mis]}"
    async with started(store, "settings", dfe) as (app, pilot):
        app.screen.query_one("#f-url", Input).focus()
        await pilot.pause()
        burst(app, "end", "ctrl+u", *other, "ctrl+s", "end", "ctrl+u", *old.url, "ctrl+s")
        await settle(pilot, 6)
        assert app.screen.query_one("#f-secret", Input).value == ""
        assert "dropped" in " ".join(str(n.message) for n in app._notifications)
    assert store.secret(dfe) == secret and store.school(dfe).url == old.url


async def test_change_mis_needs_new_url_and_secret(demo):
    store = demo.store
    dfe = demo.held_school
    old = store.school(dfe)
    other = "iSAMS" if old.mis == "Ed:gen" else "Ed:gen"
    async with started(store, "settings", dfe) as (app, pilot):
        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        screen = app.screen
        assert screen.mis == other
        await press(pilot, "ctrl+s")
        assert "Not saved" in screen_text(app)
        assert store.school(dfe).mis == old.mis
        # the simulator's host is allowed, so its URL passes for either MIS
        screen.query_one("#f-url", Input).value = old.url
        screen.query_one("#f-client_id", Input).value = "new-client"
        screen.query_one("#f-secret", Input).value = "new-secret"
        await press(pilot, "ctrl+s")
        school = store.school(dfe)
        assert school.mis == other and school.client_id == "new-client"
        assert store.secret(dfe) == "new-secret"
        assert "and the secret." in screen_text(app)
        # the secret alone: "Saved: and the secret." read as if something was left out
        screen.query_one("#f-secret", Input).value = "newer-secret"
        await press(pilot, "ctrl+s")
        assert store.secret(dfe) == "newer-secret"
        assert "Saved: the secret." in screen_text(app)


async def test_markup_and_control_characters_shown_literally(demo):
    store = demo.store
    dfe = demo.held_school
    put_markup_case(store, dfe)
    literal = clean(MARKUP_NAME)
    assert "␛" in literal and "[bold]x[/]" in literal
    async with started(store, size=(120, 40)) as (app, pilot):
        assert literal[:12] in screen_text(app)  # schools table (name column is cut)
        for kind in ("school", "settings", "matching", "force_run"):
            app.open_screen(kind, dfe)
            await settle(pilot, 3)
            text = screen_text(app)
            assert "[bold]x[/]" in text, kind
            assert "\x1b" not in text and "\x07" not in text, kind
            app.open_screen("schools")
            await settle(pilot)


async def test_no_color_keeps_the_words(demo, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    async with started(demo.store) as (app, pilot):
        assert app.no_color
        text = screen_text(app)
        assert "FAILED" in text
        app.open_school(demo.failed_school)
        await settle(pilot)
        assert "FAILED" in screen_text(app)


async def test_quit_during_a_run_asks_and_cancels(demo):
    store, dfe = demo.store, demo.held_school
    gate = threading.Event()  # the run stays mid-fetch while the question is asked
    demo.sim.set_switches(dfe, gate=gate, max_page_size=40)
    async with started(store) as (app, pilot):
        live = app.start_force_run(dfe, ["staff", "students"])
        await pilot.press("ctrl+q")
        await pilot.pause()
        text = screen_text(app)
        assert "Quit while a run is going?" in text
        assert "\u240a" not in text  # the body's words, no control picture of a line break
        await pilot.press("n")
        assert not live.cancel.is_set()
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert live.cancel.is_set()
        gate.set()
    await app.workers.wait_for_complete()


async def test_clicking_a_header_sorts_by_it(demo):
    async with started(demo.store, size=(120, 40)) as (app, pilot):
        table = app.screen.query_one(VirtualTable)
        await pilot.click(VirtualTable, offset=(14, 0))  # the Name header
        await pilot.pause()
        names = [table.cells_at(i)[1].plain for i in range(table.row_count)]
        assert app.screen.sort_by == "name" and names == sorted(names, key=str.casefold)
        await pilot.click(VirtualTable, offset=(14, 0))
        await pilot.pause()
        assert app.screen.reversed_


async def test_a_store_error_is_shown_not_a_blank_table(demo, monkeypatch):
    def broken():
        raise OSError("disk on fire")

    monkeypatch.setattr(demo.store, "list_schools", broken)
    async with started(demo.store) as (app, pilot):
        assert "Could not read the schools: OSError: disk on fire" in screen_text(app)


async def test_the_console_keeps_its_startup_heap_out_of_full_collections(demo):
    """run_console's app freezes what is alive once its first screen is up (a full collection
    of the whole heap held a key for about 90 ms); the apps of tests do not."""
    import gc

    gc.unfreeze()
    try:
        async with started(demo.store):
            assert gc.get_freeze_count() == 0
        async with started(demo.store, freeze_startup=True) as (app, _pilot):
            assert gc.get_freeze_count() > 0
            assert app.screen.rows  # the console works on as before
    finally:
        gc.unfreeze()


async def test_the_hub_left_open_shows_settings_changed_elsewhere(demo, monkeypatch):
    """The hub stayed as it was read while the command line renamed the school and enabled a
    report: the school list looks again every few seconds, the hub never did."""
    import dataclasses

    import uso_tui.tui.screens.school as hub

    monkeypatch.setattr(hub, "REFRESH_SECONDS", 0.2)
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        assert "Renamed Elsewhere" not in screen_text(app)
        with store.transaction("bob") as txn:
            txn.put_school(dataclasses.replace(txn.school(dfe), name="Renamed Elsewhere"))
        await wait_for(pilot, lambda: "Renamed Elsewhere" in screen_text(app), timeout=10)


async def test_hub_says_why_the_last_run_failed(demo_ran):
    """The hub of a school whose last run failed says why, wrapped under its value: the
    operator need not open the run history to learn the Client Secret is wrong."""
    demo = demo_ran
    async with started(demo.store, "school", demo.failed_school) as (app, pilot):
        text = screen_text(app)
        assert "Failed with" in text and "IRIS refused" in text
    async with started(demo.store, "school", demo.held_school) as (app, pilot):
        assert "Failed with" not in screen_text(app)


@pytest.mark.parametrize(
    ("typed", "kind", "dfe"),
    [
        ("why", "why", None),
        ("calendar", "calendar", None),
        ("calendar 2308", "calendar", "204-2308"),
        ("non-mis 2308", "non_mis", "204-2308"),  # as the screen is written, hyphen and all
    ],
)
async def test_why_the_calendar_and_school_screens_are_in_the_palette(demo, typed, kind, dfe):
    async with started(demo.store) as (app, pilot):
        if dfe:
            app.open_screen("school", dfe)
            await settle(pilot)
        await choose_in_palette(pilot, typed)
        await settle(pilot)
        assert app.screen.kind == kind and app.screen.dfe == dfe


@pytest.mark.parametrize(
    ("start", "key", "kind"),
    [
        (None, "w", "why"),
        (None, "c", "calendar"),
        ("school", "w", "why"),
        ("school", "c", "calendar"),
    ],
)
async def test_why_and_the_calendar_have_keys(demo, start, key, kind):
    """From the schools list and a school's hub (whose menu names them)."""
    async with started(demo.store) as (app, pilot):
        if start:
            app.open_screen(start, demo.held_school)
            await settle(pilot)
            assert f"  {key}  " in screen_text(app)
        await press(pilot, key)
        assert app.screen.kind == kind
        assert app.screen.dfe == (demo.held_school if start and kind == "calendar" else None)


async def test_a_narrowed_terminal_keeps_the_schools_attention_columns_and_short_tab_labels(
    demo_ran,
):
    """Made at 120 columns and narrowed to 80 (a window resized): the schools list's Last run,
    Cases and Unalloc still show (the name gives up its room), and widened again the name gets it
    back; bulk results' tab labels turn short, so all seven show."""
    from uso_tui.tui.screens.bulk_results.tabs import LABELS, TABS
    from uso_tui.tui.virtual_table import VirtualTable

    async with started(demo_ran.store, size=(120, 30)) as (app, pilot):
        table = app.screen.query_one(VirtualTable)
        wide_name = table.columns[1].width
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert sum(c.width + 2 for c in table.columns) + 2 <= 80
        assert "Unalloc" in screen_text(app) and "Last run" in screen_text(app)
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        assert table.columns[1].width == wide_name
        app.open_screen("bulk_results", demo_ran.held_school)
        await settle(pilot)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        text = screen_text(app)
        assert all(LABELS[tab][False] in text for tab in TABS)


async def test_keys_typed_with_escape_back_to_the_schools_act_on_the_list_as_it_is_now(
    demo_ran, monkeypatch
):
    """A school's cases decided meanwhile (another console, the command line) move it in the
    list: `escape j enter` typed at once from a hub opened the school below it in the old order,
    where pressed slowly they open the one below it now."""
    from datetime import datetime

    from tui_helpers import slowed

    from uso_tui.sync.actions import resolve_case
    from uso_tui.tui.virtual_table import VirtualTable

    store = demo_ran.store
    async with started(store, size=(100, 30)) as (app, pilot):
        table = app.screen.query_one(VirtualTable)
        order = [r.school.dfe for r in table.items]
        here = order[2]
        table.move_cursor(2)
        await press(pilot, "enter")
        assert app.screen.kind == "school" and app.screen.dfe == here
        below = order[3]  # decided meanwhile: its cases gone, it sinks in the list
        for case in store.cases(below, "open"):
            resolve_case(
                store,
                case.case_id,
                operator="desk",
                now=datetime(2026, 3, 9, 11),
                create=True,
                force=True,
            )
        slowed(monkeypatch, store, "list_schools", seconds=0.3)
        burst(app, "escape", "j", "enter")
        await settle(pilot, 6)
        now = [r.school.dfe for r in app.screen_stack[1].query_one(VirtualTable).items]
        assert now != order and app.screen.kind == "school"
        assert app.screen.dfe == now[now.index(here) + 1]


async def test_the_palette_offers_no_screenshot(demo):
    """Textual's "Screenshot" wrote the screen (names, dates of birth) as a world-readable SVG
    wherever the console was started."""
    async with started(demo.store) as (app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Screenshot" not in titles and "Quit" in titles


async def test_the_palette_does_not_open_over_a_question(demo):
    """ctrl+p inside a confirmation opened the palette, and a screen chosen there stacked over
    the question, still unanswered beneath it."""
    from uso_tui.tui.widgets import Confirm

    async with started(demo.store, notifications=True) as (app, pilot):
        await press(pilot, "j", "enter", "f")  # a school's force run asks first
        assert isinstance(app.screen, Confirm) or app.screen.__class__.__name__ == "ForceRunAsk"
        question = app.screen
        await press(pilot, "ctrl+p")
        assert app.screen is question and not isinstance(app.screen, CommandPalette)
        await press(pilot, "escape")
        await press(pilot, "ctrl+p")
        assert isinstance(app.screen, CommandPalette)


async def test_the_calendar_and_why_across_schools_show_the_others_when_one_file_is_damaged(
    demo_ran,
):
    """One school's data file damaged from outside: the calendar of every school said only
    "Cannot read the calendar", and `why` failed every search."""
    store = demo_ran.store
    dated = store.why_records(None, dated=True)
    broken = next(r["school"] for r in dated if r.get("outcome") == "future")
    record = next(r for r in store.why_records(broken) if r.get("surname"))
    path = store.root / "schools" / broken / "data.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    said = f"the data file of school {broken} is corrupt"
    async with started(store, size=(120, 40), notifications=True) as (app, pilot):
        await press(pilot, "c")
        await settle(pilot)
        text = screen_text(app)
        assert app.screen.kind == "calendar" and "Cannot read" not in text
        assert broken in text and said in text
        await press(pilot, "escape", "w", *record["mis_id"], "enter")
        await settle(pilot)
        text = screen_text(app)
        assert app.screen.kind == "why" and record["mis_id"] in text
        toasts = " ".join(str(n.message) for n in app._notifications)  # noqa: SLF001
        assert "Cannot search" not in toasts and said in toasts


async def test_a_school_paused_in_its_settings_is_not_run_by_the_schedule(demo):
    """A school added by mistake, or leaving the network, ran every day with no way to stop
    it: its settings pause it (keys typed ahead at 80x24); the hub and the list say so, and
    the schedule passes it by. `Saved:` names the settings as the form labels them."""
    from datetime import datetime

    from uso_tui.sync.schedule import due_schools

    store = demo.store
    dfe = demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await press(pilot, "e")
        await settle(pilot)
        burst(app, *["down"] * 10, "space", "ctrl+s")
        await settle(pilot, 4)
        assert "Saved: Paused." in screen_text(app)
        await press(pilot, "escape")
        await settle(pilot)
        assert "paused: the schedule does not run it" in screen_text(app)
    assert store.school(dfe).paused
    assert dfe not in {s.dfe for s in due_schools(store, datetime(2099, 1, 1, 12, 0))}


async def test_settings_of_a_url_stored_in_another_form_are_left_without_a_question(demo):
    """A URL stored before as typed (its scheme in capitals): the form's check keeps it in
    lower case, and escape asked to discard changes never made."""
    import dataclasses

    from uso_tui.tui.widgets import Confirm

    store = demo.store
    dfe = demo.held_school
    school = store.school(dfe)
    with store.transaction("test") as txn:
        txn.put_school(dataclasses.replace(school, url=school.url.replace("http://", "HTTP://")))
    async with started(store, "school", dfe) as (app, pilot):
        await press(pilot, "e")
        await settle(pilot)
        await press(pilot, "escape")
        await settle(pilot)
        assert not isinstance(app.screen, Confirm) and app.screen.kind == "school"


def test_a_paused_schools_held_or_failed_run_still_shows_in_the_list():
    """A paused school's last run, held for confirmation, read "paused" in the schools list:
    the held run waited with nothing to show it."""
    from uso_tui.domain.models import School
    from uso_tui.tui.screens.schools import last_run_cell

    base = School(dfe="204-3210", name="x", mis="iSAMS", url="https://x.isams.cloud",
                  client_id="c", paused=True, last_run_at="2026-03-10T06:00:00")  # fmt: skip
    for status, shown in (("held", "HELD"), ("failed", "FAILED"), ("succeeded", "paused")):
        base.last_run_status = status
        assert last_run_cell(base).plain.split()[0] == shown


async def test_palette_puts_the_school_named_by_a_word_before_letters_scattered_in_a_command(demo):
    """`north` picked "Why no account? Search the latest exports" (n, o, r, t, h found apart by
    the fuzzy matcher) over the school named Northgate."""
    schools = demo.store.list_schools()
    firsts = [s.name.split()[0].lower() for s in schools]
    async with started(demo.store) as (app, pilot):
        for school, first in zip(schools, firsts, strict=True):
            if firsts.count(first) > 1 or len(first) < 5:
                continue
            await choose_in_palette(pilot, first[:5])
            assert (app.screen.kind, app.screen.dfe) == ("school", school.dfe), first
            await press(pilot, "escape")


async def test_palette_scores_textual_s_own_commands_as_its_own(demo):
    """Textual's Theme, Quit, Keys and Maximize kept their raw fuzzy scores (2 to 12), above
    every school named (0.6 to 0.95): letters found scattered in Theme came first."""
    from uso_tui.tui.palette import UsoSystemCommands

    async with started(demo.store) as (app, pilot):
        provider = UsoSystemCommands(app.screen)
        for typed, title, at_most in (("tem", "Theme", 0.5), ("theme", "Theme", 1.0)):
            hits = [hit async for hit in provider.search(typed)]
            scores = {hit.text: hit.score for hit in hits}
            assert 0 < scores[title] <= at_most, (typed, scores)
        assert UsoSystemCommands in app.COMMANDS and len(app.COMMANDS) == 2  # (Textual's out)


async def test_a_setting_saved_by_another_operator_since_the_form_was_read_is_not_overwritten(
    demo,
):
    """Another operator set Hold above % to 30 (and renamed the school) while this form showed
    20: a 15 saved here replaced their 30 without a word. Now nothing is saved, the form says
    who changed what, shows their name (a field not changed here), and a second ctrl+s saves the
    15 over their 30, their name kept."""
    from datetime import datetime

    from uso_tui.sync.admin import update_school

    store, dfe = demo.store, demo.held_school
    async with started(store, "settings", dfe) as (app, pilot):
        screen = app.screen
        was = store.school(dfe)
        update_school(store, dfe, operator="bob", now=datetime(2026, 11, 30, 9), hold_percent=30,
                      name="Renamed by Bob")  # fmt: skip
        screen.query_one("#f-hold_percent", Input).value = "15"
        screen.query_one("#f-secret", Input).value = "a-new-secret-1"
        await press(pilot, "ctrl+s")
        text = screen_text(app)
        assert "changed by someone else since this form was read" in text, text
        assert f"Hold above % {was.hold_percent:g} -> 30" in text.replace("\n", " ")
        assert store.school(dfe).hold_percent == 30
        assert screen.query_one("#f-name", Input).value == "Renamed by Bob"
        assert screen.query_one("#f-hold_percent", Input).value == "15"
        # the secret typed is kept too (the review found it emptied: the second save said
        # saved, the secret unchanged)
        assert screen.query_one("#f-secret", Input).value == "a-new-secret-1"
        await press(pilot, "ctrl+s")
        assert (store.school(dfe).hold_percent, store.school(dfe).name) == (15, "Renamed by Bob")
        assert store.secret(dfe) == "a-new-secret-1"
        assert "Saved: Hold above % and the secret" in screen_text(app)
        # a value saved meanwhile as typed here is no conflict
        update_school(store, dfe, operator="bob", now=datetime(2026, 11, 30, 10), hold_min=7)
        screen.query_one("#f-hold_min", Input).value = "7"
        await press(pilot, "ctrl+s")
        assert "changed by someone else" not in screen_text(app)
