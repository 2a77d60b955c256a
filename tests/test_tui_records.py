"""Pilot tests of the records screens on a small hand-built store: bulk results (file, not matched,
restore, exclusions, future, rejected), users and account history, non-MIS review, run history and
the audit log. Every flow goes through the keys an operator would press and checks the store after."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TabbedContent
from tui_helpers import (
    burst,
    filter_by,
    press,
    screen_text,
    settle,
    slowed,
    started,
    type_text,
    wait_for,
)
from tui_records_data import CONTROL, HILL, MARKUP, NOW, VALE, build_store, username_of

from uso_tui.tui.held import HeldReview  # noqa: E402
from uso_tui.tui.screens.bulk_results import BulkResultsScreen, ExclusionForm, RunPicker
from uso_tui.tui.screens.history import AuditScreen, RunHistoryScreen
from uso_tui.tui.screens.listing import Details, ListTable
from uso_tui.tui.screens.non_mis import LinkPicker, NonMisScreen
from uso_tui.tui.screens.users import AccountScreen, UsersScreen
from uso_tui.tui.widgets import Confirm, KeysHelp, current_key


@pytest.fixture
def store(tmp_path):
    return build_store(tmp_path / "store")


def table(app, selector: str | None = None) -> ListTable:
    screen = app.screen
    if selector:
        return screen.query_one(selector, ListTable)
    return screen.active_table()


def keys_of(table: ListTable) -> list[str]:
    return [r.key for r in table.shown]


def plain_rows(table: ListTable) -> list[str]:
    return [" | ".join(c.plain for c in table._cells(r)) for r in table.shown]


def opened(store, kind: str, dfe: str | None = None, size=(80, 24), **kw):
    """The app started on a records screen, its first load done: yields (app, pilot). The records
    screens read the clock from the app; NOW is the data's own "today"."""
    return started(store, start=(kind, dfe), clock=lambda: NOW, size=size, **kw)


# -- bulk results ---------------------------------------------------------------------------------


async def test_bulk_file_tab_shows_outcomes_and_reasons_filter_and_details(store):
    async with opened(store, "bulk_results", HILL, size=(120, 40)) as (app, pilot):
        screen = app.screen
        assert isinstance(screen, BulkResultsScreen)
        rows = plain_rows(table(app, "#t-file"))
        assert len(rows) == 10
        assert any("P7" in r and "impossible date of birth '31/02/2015'" in r for r in rows)
        assert any(MARKUP in r for r in rows)  # literal, never markup
        text = screen_text(app)
        assert "204-3210-r2" in text and "needs matching 2" in text

        # "why has this account not been created?": filter on the name, open the record
        await filter_by(pilot, "babbage")
        assert keys_of(table(app)) == ["4"]
        await press(pilot, "enter")
        assert isinstance(app.screen, Details)
        details = screen_text(app)
        assert "needs matching" in details and "resembles 1 account" in details
        await press(pilot, "escape")
        # escape clears the filter first, then leaves the screen
        await press(pilot, "escape")
        assert len(table(app).shown) == 10
        assert app.screen is screen
        await press(pilot, "escape")
        assert app.screen is not screen


async def test_bulk_pick_an_older_run(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "p")
        assert isinstance(app.screen, RunPicker)
        assert [r.key for r in app.screen.query_one(ListTable).shown] == [
            "204-3210-r3",
            "204-3210-r2",
            "204-3210-r1",
        ]
        await press(pilot, "j", "enter")  # the cursor starts on the shown run (r2): r1 is next
        assert isinstance(app.screen, BulkResultsScreen)
        assert app.screen.data.run.run_id == "204-3210-r1"
        assert plain_rows(table(app, "#t-file"))[0].startswith("P1 | Ada Lovelace")
        assert "created" in plain_rows(table(app, "#t-file"))[0]
        # the failed run left no file: said so, not an empty table without a word
        await press(pilot, "p")
        await press(pilot, "k", "k", "enter")
        assert app.screen.data.run.run_id == "204-3210-r3"
        assert "left no processed file" in screen_text(app)
        assert "503 Service Unavailable" in screen_text(app)


async def test_bulk_tabs_by_keys_not_matched_future_rejected(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        tabs = app.screen.query_one(TabbedContent)
        await press(pilot, "2")
        assert tabs.active == "staff"
        assert plain_rows(table(app))[0].startswith("S2 | Kathy Johnson")
        assert "91% kjohnson.204" in plain_rows(table(app))[0]
        await press(pilot, "3")
        assert tabs.active == "pupils" and "Charles Babbage" in plain_rows(table(app))[0]
        await press(pilot, "6")
        assert tabs.active == "future" and "2027-01-05" in plain_rows(table(app))[0]
        await press(pilot, "7")
        assert tabs.active == "rejected"
        assert [r.split(" | ")[-1] for r in plain_rows(table(app))] == [
            "no forename",
            "impossible date of birth '31/02/2015'",
        ]
        await press(pilot, "right_square_bracket")
        assert tabs.active == "file"
        await press(pilot, "left_square_bracket")
        assert tabs.active == "rejected"
        # the not-matched tabs lead to the matching queue, at the chosen case
        await press(pilot, "2", "m")
        assert app.screen.kind == "matching" and app.screen.dfe == HILL
        staff_case = app.screen.case.case_id
        await press(pilot, "escape", "3")
        pupil_case = current_key(table(app))
        assert pupil_case != staff_case
        await press(pilot, "enter")
        assert app.screen.kind == "matching" and app.screen.case.case_id == pupil_case
        await press(pilot, "escape", "2", "enter")  # the queue again, at the staff case
        assert app.screen.case.case_id == staff_case


async def test_bulk_restore_several_confirming_once(store):
    grace = username_of(store, "Grace", "Hopper")
    edsger = username_of(store, "Edsger", "Dijkstra")
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4")
        assert set(keys_of(table(app))) == {grace, edsger}
        # restore is offered only on its tab
        assert app.screen.check_action("restore", ()) is True
        await press(pilot, "space", "space")
        assert table(app).marked == {grace, edsger}
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm)
        body = screen_text(app)
        assert "Restore 2 accounts?" in body and grace in body and edsger in body
        await press(pilot, "n")  # changing one's mind changes nothing
        assert store.account(grace).status == "unallocated"
        await press(pilot, "r")
        await press(pilot, "y")
        for username in (grace, edsger):
            acc = store.account(username)
            assert (acc.status, acc.school, acc.mis_id) == ("active", HILL, None)
        assert table(app).all_rows == []
        assert [e.action for e in store.audit(subject=grace)][0] == "restore"
        assert store.audit(subject=grace)[0].operator == "tester"
        await press(pilot, "1")
        assert app.screen.check_action("restore", ()) is False


async def test_bulk_restore_highlighted_only(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4")
        first = keys_of(table(app))[0]
        await press(pilot, "r", "y")
        assert store.account(first).status == "active"
        assert len(table(app).all_rows) == 1


async def test_bulk_restore_keys_typed_ahead_restore_only_the_row_seen(store):
    """`r` `y` `r` `y` in one burst: the first account restored; the second `r` was read before
    the row that took its place showed (it restored an account the operator never had
    highlighted, a candidate of an open case, say): it does nothing, and the console says so.
    Pressed once that row shows, it restores it."""
    grace = username_of(store, "Grace", "Hopper")
    edsger = username_of(store, "Edsger", "Dijkstra")
    async with opened(store, "bulk_results", HILL, notifications=True) as (app, pilot):
        await press(pilot, "4")
        first = keys_of(table(app))[0]
        burst(app, "r", "y", "r", "y")
        await settle(pilot, 6)
        assert len(table(app).all_rows) == 1
        assert store.account(first).status == "active"
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the row at the cursor came there after them" in m for m in messages)
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert table(app).all_rows == []
    assert store.account(grace).status == store.account(edsger).status == "active"


async def test_bulk_restore_of_a_mark_the_filter_hides_asks_first(store):
    """A row marked on the Unallocated tab, then a filter that hides it: `r y` typed in one
    burst restored the hidden account, the question naming it answered by the `y` typed with
    the `r`; the row on screen stayed unallocated. Now the `y` is dropped, as in the non-MIS
    review, and the question waits to be read."""
    grace = username_of(store, "Grace", "Hopper")
    edsger = username_of(store, "Edsger", "Dijkstra")
    async with opened(store, "bulk_results", HILL, notifications=True) as (app, pilot):
        await press(pilot, "4")
        marked = keys_of(table(app))[0]
        other = edsger if marked == grace else grace
        await press(pilot, "space")
        await filter_by(pilot, "dijkstra" if other == edsger else "hopper")
        assert keys_of(table(app)) == [other]
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm) and marked in screen_text(app)
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("marked accounts the filter hides" in m for m in messages)
        await press(pilot, "escape")
    assert store.account(marked).status == store.account(other).status == "unallocated"


async def _to_unallocated_row(app, pilot, username: str) -> None:
    """Bulk results' Unallocated tab, the cursor on `username`'s row."""
    await press(pilot, "4")
    for _ in range(keys_of(table(app)).index(username)):
        await press(pilot, "j")


async def test_a_restore_warning_of_the_person_s_active_account_is_read_first(store):
    """`r y` typed ahead restored Grace's account although the question warned that she has
    another active account (two accounts once restored): the `y` is dropped, and said so."""
    from factories import acc

    grace = username_of(store, "Grace", "Hopper")
    old = store.account(grace)
    with store.transaction("t") as txn:  # the same person, made again at the school since
        txn.put_account(acc("ghopper9.204", old.forename, old.surname, old.dob, school=HILL))
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await _to_unallocated_row(app, pilot, grace)
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm) and "ghopper9.204" in screen_text(app)
        assert store.account(grace).status == "unallocated"
        await press(pilot, "y")
    assert store.account(grace).status == "active"


async def test_a_restore_of_an_account_whose_person_is_excluded_says_it_is_never_relinked(store):
    """Grace excluded since (a case of her record excluded): the restore promised "relinked if
    the record returns", which an exclusion stops, and `r y` typed ahead restored her unread.
    The question names the entry; the `y` is dropped."""
    grace = username_of(store, "Grace", "Hopper")
    with store.transaction("t") as txn:
        entry = txn.add_exclusion(HILL, "Grace", "Hopper", "2014-12-09", "2026-11-29T10:00:00")
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await _to_unallocated_row(app, pilot, grace)
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm)
        said = " ".join(screen_text(app).split())
        assert f"on {HILL}'s exclusion list (entry {entry.id})" in said, said
        assert "not relinked" in said
        assert store.account(grace).status == "unallocated"


async def test_a_restore_of_an_account_an_open_case_offers_says_to_match_it_there(store):
    """Grace's record came back under a new MIS id and waits in a case offering her account: a
    restore links it to no record and leaves the case open, and the question did not say so;
    `r y` typed ahead restored it unread."""
    from tui_helpers import put_case_for

    grace = username_of(store, "Grace", "Hopper")
    with store.transaction("t") as txn:
        case_id = put_case_for(txn, HILL, store.account(grace), mis_id="S77", score=97, reasons=[])
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await _to_unallocated_row(app, pilot, grace)
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm)
        said = screen_text(app)
        assert f"{grace}  97% in case {case_id} for Grace Hopper (MIS id S77)" in said
        assert "match it there" in said
        assert store.account(grace).status == "unallocated"
        await press(pilot, "n")
        # the account's own page asks the same
        app.push_screen(AccountScreen(store, grace))
        await settle(pilot)
        burst(app, "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm) and f"in case {case_id}" in screen_text(app)
        assert store.account(grace).status == "unallocated"
        await press(pilot, "y")
    assert store.account(grace).status == "active"


async def test_a_key_typed_after_a_refused_form_is_not_typed_into_it(store):
    """`a Foo enter Bar enter 2019-13-45 enter y` in one burst: the date is refused, and the `y`
    (for the question the enter would have led to) went into the date field."""
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "5")
        burst(app, "a", *"Foo", "enter", *"Bar", "enter", *"2019-13-45", "enter", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, ExclusionForm)
        assert app.screen.query_one("#ex-dob", Input).value == "2019-13-45"
    assert len(store.exclusions(HILL)) == 2


async def test_the_exclusion_form_puts_the_cursor_where_the_mending_is(store):
    """A forename left empty, or a date that is none: the form said so with the cursor left in
    the date of birth (typing went there), and up and down did not move between its fields."""
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "5")
        burst(app, "a", "enter", *"Bar", "enter", "enter")
        await settle(pilot, 6)
        form = app.screen
        assert isinstance(form, ExclusionForm) and "forename" in screen_text(app)
        assert app.focused is form.query_one("#ex-forename", Input)
        burst(app, *"Foo", "down", "down", *"2019-13-45", "enter")
        await settle(pilot, 6)
        assert app.focused is form.query_one("#ex-dob", Input)
        burst(app, "up")
        await settle(pilot)
        assert app.focused is form.query_one("#ex-surname", Input)
    assert len(store.exclusions(HILL)) == 2


async def test_bulk_exclusions_add_with_error_then_remove(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "5")
        assert len(table(app).all_rows) == 2
        assert any(MARKUP in r for r in plain_rows(table(app)))
        await press(pilot, "a")
        assert isinstance(app.screen, ExclusionForm)
        await type_text(pilot, "Visiting")
        await pilot.press("enter")
        await type_text(pilot, "Speaker")
        await pilot.press("enter")
        await type_text(pilot, "31/02/2010")
        await press(pilot, "enter")
        # a bad date is refused in the form: nothing written, the form stays
        assert isinstance(app.screen, ExclusionForm)
        assert "date of birth" in screen_text(app)
        assert len(store.exclusions(HILL)) == 2
        app.screen.query_one("#ex-dob", Input).value = ""
        app.screen.query_one("#ex-dob", Input).focus()
        await press(pilot, "enter")
        assert isinstance(app.screen, BulkResultsScreen)
        added = [e for e in store.exclusions(HILL) if e.surname == "Speaker"]
        assert len(added) == 1 and added[0].dob is None and added[0].added_by == "tester"
        assert len(table(app).all_rows) == 3

        # remove the highlighted one (the first) after one confirmation
        first = table(app).current().data
        await press(pilot, "d")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        assert first.id not in [e.id for e in store.exclusions(HILL)]
        assert len(table(app).all_rows) == 2


async def test_bulk_results_read_again_when_shown_again(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "5")
        assert len(table(app).all_rows) == 2
        with store.transaction("elsewhere") as tx:  # another operator, meanwhile
            tx.add_exclusion(HILL, "Guest", "Lecturer", None, "2026-03-10T09:00:00")
        await press(pilot, "question_mark")  # another screen over it, then back
        assert isinstance(app.screen, KeysHelp)
        await press(pilot, "escape")
        assert isinstance(app.screen, BulkResultsScreen)
        assert len(table(app).all_rows) == 3


async def test_bulk_escape_cancels_exclusion_form(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "5", "a")
        await type_text(pilot, "Nobody")
        await press(pilot, "escape", "y")  # (y: discard what was typed)
        assert isinstance(app.screen, BulkResultsScreen)
        assert len(store.exclusions(HILL)) == 2


async def test_bulk_school_never_run(store):
    async with opened(store, "bulk_results", VALE) as (app, pilot):
        text = screen_text(app)
        assert "204-3211-r2" in text  # its runs kept no processed file
        assert "left no processed file" in text


# -- users ----------------------------------------------------------------------------------------


async def test_users_latest_moves_then_search_and_account_history(store):
    async with opened(store, "users") as (app, pilot):
        screen = app.screen
        assert isinstance(screen, UsersScreen)
        latest = plain_rows(table(app, "#latest"))
        # at 80 columns a move shows by its "from > to" school (Kind is shown wider)
        assert "204-3210 > 204-3211" in latest[0]
        assert all(" > " not in r for r in latest[1:])

        await pilot.press("slash")
        await type_text(pilot, "dijk")
        # found as you type (after a short pause in typing), without enter
        await wait_for(pilot, lambda: keys_of(table(app, "#hits")) == ["edijkstra.204"])
        # by date of birth, typed the British way
        app.screen.query_one("#search", Input).value = "10/12/2015"
        await press(pilot, "enter", rounds=3)
        assert keys_of(table(app, "#hits")) == ["alovelace.204"]
        await press(pilot, "enter")
        assert isinstance(app.screen, AccountScreen)
        text = screen_text(app)
        assert "Lovelace" in text and "create" in text and "students P1" in text
        await press(pilot, "escape")
        assert app.screen is screen
        # escape clears the search and shows the latest moves again
        await press(pilot, "escape")
        assert screen.query_one("#latest").display
        assert screen.query_one("#search", Input).value == ""


async def test_a_fit_column_takes_only_what_its_rows_need_and_gives_the_rest_to_names():
    """Users' School column is 19 wide for a move ("204-3210 > 204-3211") and 8 for a list of
    creates, whose names then show 11 columns more at 80 columns."""
    from textual.app import App

    from uso_tui.tui.screens.listing import Col, Row, cells

    class One(App):
        def compose(self):
            yield ListTable([Col("Name", "name", None, 12), Col("School", "school", 19, fit=True)])

    def rows(*schools):
        return [
            Row(str(i), cells("Donnchadh Byrne-Whitfield", s), "") for i, s in enumerate(schools)
        ]

    async with One().run_test(size=(80, 24)) as pilot:
        listed = pilot.app.query_one(ListTable)
        listed.set_rows(rows("205-2322", "204-2308"))
        await pilot.pause()
        widths = {c.key.value: c.width for c in listed.columns.values()}
        assert widths["school"] == 8 and widths["name"] == 80 - 8 - 4 - 2
        listed.set_rows(rows("205-2322", "204-3210 > 204-3211"))
        await pilot.pause()
        widths = {c.key.value: c.width for c in listed.columns.values()}
        assert widths["school"] == 19 and widths["name"] == 80 - 19 - 4 - 2
        assert listed.row_count == 2


async def test_a_username_too_long_for_its_column_keeps_its_end():
    """A table cuts a cell's end: `oadebayookafor2.204` showed as `oadebayookafor2.2…` in the
    held review, and two alike (…for2.204, …for3.204) could not be told apart. A username column
    cuts the middle instead; the row's key and data are the whole name."""
    from textual.app import App

    from uso_tui.tui.format import ends_kept
    from uso_tui.tui.screens.listing import Col, Row, cells

    assert ends_kept(cell_text("oadebayookafor2.204"), 18).plain == "oadebayo…afor2.204"
    assert ends_kept(cell_text("jsmith2.204"), 18).plain == "jsmith2.204"
    styled = ends_kept(cell_text("oadebayookafor2.204", "bold"), 18)
    bold = {i for sp in styled.spans if str(sp.style) == "bold" for i in range(sp.start, sp.end)}
    assert bold == set(range(len(styled)))  # the "…" too

    class One(App):
        def compose(self):
            yield ListTable([Col("Username", "username", 14, ends=True), Col("Name", "name")])

    async with One().run_test(size=(80, 24)) as pilot:
        listed = pilot.app.query_one(ListTable)
        names = ["abonhamcarter2.204", "abonhamcarter3.204"]
        listed.set_rows([Row(n, cells(n, "Amy Bonham-Carter"), n, n) for n in names])
        await pilot.pause()
        shown = [listed.get_row_at(i)[0].plain for i in range(2)]
        assert shown == ["abonha…er2.204", "abonha…er3.204"]
        assert [r.key for r in listed.shown] == names


def cell_text(value: str, style: str = ""):
    from uso_tui.tui.format import cell

    return cell(value, style)


async def test_users_search_then_enter_typed_ahead_opens_the_first_hit(store):
    """`/`, a name, enter, enter in one burst: the second enter waits for the hits (searched in
    a thread) and opens the first of them, not a row of the list shown before."""
    async with opened(store, "users") as (app, pilot):
        assert keys_of(table(app, "#latest"))[0] != "alovelace.204"
        burst(app, "slash", *"lovelace", "enter", "enter")
        await settle(pilot, 4)
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.username == "alovelace.204"


@pytest.mark.parametrize("to_list", ["tab", "shift+tab"])
async def test_users_search_then_tab_typed_ahead_opens_the_first_hit(store, to_list):
    """`/`, a name, tab, enter in one burst: tab moved the focus to the latest accounts' list,
    still shown (the search not yet run), and enter opened its first row, another person's
    account. Tab goes to the hits of what was typed, as enter and down do."""
    async with opened(store, "users") as (app, pilot):
        assert keys_of(table(app, "#latest"))[0] != "alovelace.204"
        burst(app, "slash", *"lovelace", to_list, "enter")
        await settle(pilot, 4)
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.username == "alovelace.204"


async def test_a_title_too_long_for_the_terminal_ends_in_an_ellipsis(store):
    """A Static wraps its Text whatever the Text says: a long search's title showed "Users: 1
    found for" and nothing after, with no mark that the line went on."""
    async with opened(store, "users") as (app, pilot):
        burst(app, "slash", *"lovelace", *("x" * 90), "enter")
        await settle(pilot, 4)
        line = app.screen.query_one("#title").render_line(0).text
        assert "lovelace" in line and line.rstrip().endswith("…"), line


async def test_keys_held_longer_than_the_hold_bound_are_dropped_not_sent_to_stale_rows(
    store, monkeypatch
):
    """A search slower than the bound on held keys (a store busy with a long commit): the enter
    typed after it opened the first row shown before the search (another person's account). It
    is dropped, and the operator told to press it again."""
    import asyncio

    from tui_helpers import slowed

    from uso_tui.tui import keys_in_turn

    monkeypatch.setattr(keys_in_turn, "HOLD_TIMEOUT", 0.2)
    async with opened(store, "users") as (app, pilot):
        slowed(monkeypatch, store, "search_accounts", seconds=0.8)
        first_before = keys_of(table(app, "#latest"))[0]
        burst(app, "slash", *"lovelace", "enter", "enter")
        await asyncio.sleep(1.2)
        await settle(pilot, 4)
        assert not isinstance(app.screen, AccountScreen)  # neither the old row nor a guess
        assert keys_of(table(app, "#hits")) == ["alovelace.204"] and first_before != "alovelace.204"
        said = [n.message for n in app._notifications]  # noqa: SLF001 - no public reader
        assert any(
            "were dropped (the screen was still working): press them again" in m for m in said
        )


def _newer_creates(store, *usernames: str) -> None:
    """Accounts created by another process (the scheduler's run) while the operator is away from
    the list: newer events at its top."""
    from uso_tui.domain.models import AuditEvent

    with store.transaction("scheduler") as tx:
        tx.audit_many(
            [
                AuditEvent(
                    at=f"2026-11-28T09:4{n}:00",
                    operator="scheduler",
                    school=HILL,
                    action="create",
                    subject=name,
                    after={"username": name, "forename": "New", "surname": f"Starter{n}"},
                )
                for n, name in enumerate(usernames)
            ]
        )


async def test_users_back_from_an_account_stays_on_it_when_newer_events_arrived(store):
    """Rows were keyed by their place in the feed: two accounts created while the operator read
    one shifted every row, and escape came back with the cursor on the line it was on, another
    person's row."""
    async with opened(store, "users") as (app, pilot):
        await press(pilot, "j", "enter")
        assert isinstance(app.screen, AccountScreen)
        left = app.screen.username
        _newer_creates(store, "nstarter0.204", "nstarter1.204")
        await press(pilot, "escape", rounds=4)
        latest = table(app, "#latest")
        await wait_for(pilot, lambda: latest.shown[0].data == "nstarter1.204")
        assert latest.shown[latest.cursor_row].data == left


async def test_users_escape_down_enter_typed_ahead_opens_the_row_below_as_read_again(store):
    """`escape j enter` in one burst after newer events arrived: j and enter wait for the list
    read again and open the row below the account left, not the row below the old line."""
    async with opened(store, "users") as (app, pilot):
        before = [r.data for r in table(app, "#latest").shown]
        await press(pilot, "enter")
        left = app.screen.username
        assert left == before[0]
        _newer_creates(store, "nstarter0.204", "nstarter1.204")
        burst(app, "escape", "j", "enter")
        await settle(pilot, 6)
        await wait_for(pilot, lambda: isinstance(app.screen, AccountScreen))
        assert app.screen.username == before[1]


async def test_users_search_by_username_nothing_found(store):
    async with opened(store, "users") as (app, pilot):
        await filter_by(pilot, "zzzz", rounds=3)
        assert table(app, "#hits").all_rows == []
        assert "No account matches" in screen_text(app)
        await press(pilot, "l")  # back to the latest moves, from the (empty) results
        assert app.screen.query_one("#latest").display


async def test_users_search_for_a_date_that_does_not_exist_says_so(store):
    """31/02/2015 finds nothing because there is no such day: said, not just "No account
    matches" (a typo in the date, not a missing person)."""
    async with opened(store, "users") as (app, pilot):
        await filter_by(pilot, "31/02/2015", rounds=3)
        assert table(app, "#hits").all_rows == []
        assert "31/02/2015 is no date of the calendar" in screen_text(app)


def test_impossible_dates_are_the_date_shaped_words_that_are_no_day():
    from uso_tui.domain.dates import impossible_dates

    assert impossible_dates("smith 31/02/2015 2016-13-01 29/02/2016 2016-02-29 2015") == [
        "31/02/2015",
        "2016-13-01",
    ]


async def test_account_history_of_unallocated_account_and_event_details(store):
    grace = username_of(store, "Grace", "Hopper")
    async with opened(store, "users") as (app, pilot):
        app.push_screen(AccountScreen(store, grace))
        await settle(pilot)
        text = screen_text(app)
        assert "unallocated" in text and "204-3210-r2" in text
        assert [r.data.action for r in table(app).shown] == ["unallocate", "create"]
        await press(pilot, "enter")
        assert isinstance(app.screen, Details)
        assert "active -> unallocated" in screen_text(app)


# -- non-MIS --------------------------------------------------------------------------------------


async def test_non_mis_keep_unallocate_and_cancel(store):
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert isinstance(app.screen, NonMisScreen)
        # not reviewed first (by surname); the linked accounts are not listed
        assert keys_of(table(app)) == [tim, kjohnson, "dvaughan.204"]
        await press(pilot, "j", "r")  # keep the highlighted one
        assert store.account(kjohnson).reviewed
        assert keys_of(table(app)) == [tim, kjohnson, "dvaughan.204"]
        assert "1 to review" in screen_text(app)
        await press(pilot, "k", "x")
        assert isinstance(app.screen, Confirm) and tim in screen_text(app)
        await press(pilot, "escape")
        assert store.account(tim).status == "active"
        await press(pilot, "x", "y")
        acc = store.account(tim)
        assert (acc.status, acc.school) == ("unallocated", None)
        assert tim not in keys_of(table(app))


async def test_non_mis_keep_of_a_mark_the_filter_hides_asks_first(store):
    """A row marked, then a filter that hides it: `r` kept the hidden marked account, while the
    one on screen, highlighted, was not."""
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        await press(pilot, "space")  # tim marked
        await filter_by(pilot, "johnson")
        assert keys_of(table(app)) == [kjohnson]
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm) and tim in screen_text(app)
        await press(pilot, "escape")
        burst(app, "x", "y")  # unallocating it: the y typed ahead waits for the question
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm) and tim in screen_text(app)
        await press(pilot, "escape")
    assert not store.account(tim).reviewed and not store.account(kjohnson).reviewed
    assert store.account(tim).status == "active"


async def test_non_mis_keys_typed_ahead_act_on_no_row_the_operator_has_not_seen(store):
    """`x` `y` `x` `y` in one burst: the first account; the second `x` was read before the row
    that takes its place showed (over a slow link, pressed again while the first saved), and
    unallocated an account the operator never had highlighted. It does nothing now, and the
    console says so; pressed once the row shows, it acts on it."""
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL, notifications=True) as (app, pilot):
        assert keys_of(table(app)) == [tim, kjohnson, "dvaughan.204"]
        burst(app, "x", "y", "x", "y")
        await settle(pilot, 6)
        assert keys_of(table(app)) == [kjohnson, "dvaughan.204"]
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the row at the cursor came there after them" in m for m in messages)
        burst(app, "x", "y")  # typed once the row is seen
        await settle(pilot, 6)
        assert keys_of(table(app)) == ["dvaughan.204"]
    assert store.account(tim).status == store.account(kjohnson).status == "unallocated"
    assert store.account("dvaughan.204").status == "active"


async def test_non_mis_keys_typed_after_a_decision_not_saved_are_dropped(store):
    """Another session unallocated the first account meanwhile: `x` `y` here is refused, and the
    `x` `y` typed after it unallocated the next account, one this operator had not seen the
    list change around."""
    from uso_tui.sync.actions import unallocate_account

    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert keys_of(table(app)) == [tim, kjohnson, "dvaughan.204"]
        unallocate_account(store, tim, operator="other", now=NOW)
        burst(app, "x", "y", "x", "y")
        await settle(pilot, 6)
    assert store.account(kjohnson).status == "active"
    assert store.account("dvaughan.204").status == "active"


async def test_non_mis_keys_typed_ahead_below_the_first_row_act_on_the_row_highlighted(store):
    """`j` `x` `y` `x` `y`: the second account, never the first row (which the operator did not
    have highlighted), nor the row that takes its place (not yet seen)."""
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert keys_of(table(app)) == [tim, kjohnson, "dvaughan.204"]
        burst(app, "j", "x", "y", "x", "y")
        await settle(pilot, 6)
        assert keys_of(table(app)) == [tim, "dvaughan.204"]
    assert store.account(kjohnson).status == "unallocated"
    assert store.account(tim).status == store.account("dvaughan.204").status == "active"


async def test_after_acting_on_marked_rows_the_cursor_stays_on_the_row_it_was_on(store):
    # Tim marked (the cursor moves on to Katherine), then unallocated: Katherine stays highlighted.
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        await press(pilot, "space")
        assert table(app).current().key == kjohnson and table(app).marked == {tim}
        await press(pilot, "x", "y")
        await settle(pilot, 4)
        assert store.account(tim).status == "unallocated"
        assert table(app).current().key == kjohnson


async def test_bulk_restore_keeps_the_cursor_s_line_not_the_first_row(store):
    grace = username_of(store, "Grace", "Hopper")
    edsger = username_of(store, "Edsger", "Dijkstra")
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4")
        second = keys_of(table(app))[1]
        await press(pilot, "j", "r", "y")
        assert store.account(second).status == "active"
        # the only row left is the one shown, highlighted where the restored row was
        assert table(app).cursor_row == 0 and len(table(app).all_rows) == 1
    assert {grace, edsger} >= {second}


async def test_bulk_restore_keys_typed_after_a_restore_not_saved_are_dropped(store):
    """Another session restored the first unallocated account meanwhile: `r` `y` here is
    refused, and the `r` `y` typed after it restored the next one, unseen."""
    from uso_tui.sync.actions import restore_account

    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4")
        first, second = keys_of(table(app))[:2]
        restore_account(store, first, operator="other", now=NOW)
        burst(app, "r", "y", "r", "y")
        await settle(pilot, 6)
    assert store.account(second).status == "unallocated"


async def test_non_mis_link_to_an_open_case_record(store):
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        await pilot.press("j")
        assert table(app).current().key == kjohnson
        await press(pilot, "l")
        assert isinstance(app.screen, LinkPicker)
        # staff account: staff records only (the open staff case)
        picker_rows = app.screen.query_one(ListTable).shown
        assert [r.key for r in picker_rows] == ["staff:S2"]
        await press(pilot, "enter")
        assert isinstance(app.screen, Confirm)
        assert "S2" in screen_text(app)
        await press(pilot, "y")
        acc = store.account(kjohnson)
        assert (acc.mis_id, acc.link_report, acc.link_school) == ("S2", "staff", HILL)
        assert [c.report for c in store.cases(HILL)] == ["students"]  # the staff case is resolved
        assert kjohnson not in keys_of(table(app))


async def test_non_mis_link_keys_typed_ahead_choose_and_a_forename_differing_is_read(store):
    """`l`, enter, `y` read in one burst: the picker (filled from a thread) takes the enter; the
    record's forename differs from the account's (Kathy for Katherine, as Henry for his twin
    Harry, the same surname and date of birth: a twin's account became the other's), so the
    `y` is dropped and the question, listing it, waits for a key typed after it showed."""
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL, notifications=True) as (app, pilot):
        await pilot.press("j")
        assert table(app).current().key == kjohnson
        burst(app, "l", "enter", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        assert "forename: Katherine -> Kathy" in " ".join(screen_text(app).split())
        assert store.account(kjohnson).mis_id is None
        assert any("what differs" in n.message for n in app._notifications)
        await press(pilot, "y")
        acc = store.account(kjohnson)
        assert (acc.mis_id, acc.link_report, acc.link_school) == ("S2", "staff", HILL)
        assert isinstance(app.screen, NonMisScreen)


async def test_non_mis_link_to_a_record_on_the_exclusion_list_says_so(store):
    """Tim's record excluded since the last file (its case excluded): the picker offered it as
    "needs_matching", and the question did not say the person is on the exclusion list."""
    tim = username_of(store, "Tim", "Berners-Lee")
    with store.transaction("t") as txn:
        entry = txn.add_exclusion(HILL, "Hedy", "Lamarr", None, "2026-11-29T10:00:00")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert table(app).current().key == tim
        await press(pilot, "l")
        picker = app.screen.query_one(ListTable)
        hedy = picker.row("students:P5")
        assert hedy is not None and hedy.data["source"] == f"excluded (entry {entry.id})"
        await filter_by(pilot, "hedy")
        await press(pilot, "enter")
        assert isinstance(app.screen, Confirm)
        said = " ".join(screen_text(app).split())
        assert f"on the exclusion list (entry {entry.id})" in said, said
        await press(pilot, "n")
    assert store.account(tim).mis_id is None


async def test_non_mis_link_picker_lists_future_starters_and_filters(store):
    tim = username_of(store, "Tim", "Berners-Lee")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert table(app).current().key == tim
        await press(pilot, "l")
        picker = app.screen
        assert {r.key for r in picker.query_one(ListTable).shown} == {
            "students:P4",
            "students:P5",
        }
        await filter_by(pilot, "hedy")
        assert [r.key for r in picker.query_one(ListTable).shown] == ["students:P5"]
        await press(pilot, "escape", "escape")  # clear the filter, then cancel
        assert isinstance(app.screen, NonMisScreen)
        assert store.account(tim).mis_id is None


async def test_non_mis_link_says_what_differs_and_warns_of_another_person(store):
    """Linking gives the account the record's details: the question lists what would change,
    and says so when names and date of birth all differ (another person's record)."""
    tim = username_of(store, "Tim", "Berners-Lee")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        await press(pilot, "l")
        await filter_by(pilot, "hedy")
        await press(pilot, "enter")
        assert isinstance(app.screen, Confirm)
        text = " ".join(screen_text(app).split())
        assert "What differs:" in text and "forename: Tim -> Hedy" in text
        assert "surname: Berners-Lee -> Lamarr" in text and "probably another person" in text
        await press(pilot, "y")  # by habit: not the answer to this question
        assert isinstance(app.screen, Confirm) and store.account(tim).mis_id is None
        await press(pilot, "n")
    assert store.account(tim).mis_id is None


async def test_non_mis_link_typed_ahead_y_never_answers_a_question_of_differences(store):
    """`l enter y` in one burst on Tim: the first record offered is another child's; the `y`
    linked Tim's account to it before the question listing what differs was read."""
    tim = username_of(store, "Tim", "Berners-Lee")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert table(app).current().key == tim
        burst(app, "l", "enter", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)  # still asking, what differs in view
    assert store.account(tim).mis_id is None


# -- run history, audit ---------------------------------------------------------------------------


async def test_run_history_overall_and_per_school_with_details(store):
    async with opened(store, "history", None) as (app, pilot):
        assert isinstance(app.screen, RunHistoryScreen)
        assert keys_of(table(app)) == [
            "204-3211-r2",
            "204-3210-r3",
            "204-3210-r2",
            "204-3211-r1",
            "204-3210-r1",
        ]
        await filter_by(pilot, "failed")
        assert keys_of(table(app)) == ["204-3210-r3"]
        await press(pilot, "enter")
        details = screen_text(app)
        assert "503 Service Unavailable" in details and "deskop" in details
        await press(pilot, "escape", "escape", "escape")
        app.open_screen("history", VALE)
        await settle(pilot)
        assert keys_of(table(app)) == ["204-3211-r2", "204-3211-r1"]


async def test_run_history_error_cell_starts_with_the_reason_and_one_run_is_one(store):
    """The school is in the title (or its own column): the Error cell, cut at 80 columns, does
    not spend its width repeating it."""
    async with opened(store, "history", HILL) as (app, pilot):
        failed = table(app).shown[0]
        assert failed.key == "204-3210-r3"
        assert table(app)._cells(failed)[-1].plain.startswith("GET /api/students")
        assert "| 3 runs, newest first" in app.screen.counted(3)
        assert "| 1 run, newest first" in app.screen.counted(1)


async def test_run_history_confirms_a_held_run(store):
    liskov = username_of(store, "Barbara", "Liskov")
    async with opened(store, "history", VALE) as (app, pilot):
        assert table(app).current().key == "204-3211-r2"
        assert app.screen.check_action("confirm_held", ()) is True
        # the held run says why in its last cell (the Error column of the runs that failed)
        reason = store.run("204-3211-r2").hold_reason
        assert reason and table(app)._cells(table(app).current())[-1].plain == reason
        for words in ("safety hold", "unallocate 1 of 1"):  # found by its reason
            await filter_by(pilot, words)
            assert keys_of(table(app)) == ["204-3211-r2"]
        await press(pilot, "escape")
        await press(pilot, "c")
        assert isinstance(app.screen, HeldReview)
        assert "y unallocates 1 of 1" in screen_text(app) and liskov in screen_text(app)
        await press(pilot, "n")  # not now: nothing changes
        assert store.run("204-3211-r2").status == "held"
        await press(pilot, "c")
        await press(pilot, "y")
        run = store.run("204-3211-r2")
        assert (run.status, run.confirmed_by) == ("succeeded", "tester")
        assert store.account(liskov).status == "unallocated"
        assert app.screen.check_action("confirm_held", ()) is False
        assert table(app)._cells(table(app).current())[-1].plain == ""  # held no more
        # only a held run offers it
        await press(pilot, "j")
        assert app.screen.check_action("confirm_held", ()) is False


async def test_audit_log_filter_and_details(store):
    async with opened(store, "audit", HILL) as (app, pilot):
        assert isinstance(app.screen, AuditScreen)
        events = [r.data for r in table(app).shown]
        assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
        await filter_by(pilot, "unallocate")
        assert {r.data.action for r in table(app).shown} == {"unallocate"}
        await press(pilot, "enter")
        assert "status" in screen_text(app) and "unallocated" in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, AuditScreen)


async def test_audit_log_filter_finds_a_change_by_its_field_s_code_and_its_words(store):
    """The change column says `date of birth: ...` (it said `dob: ...`): `dob`, as the JSON and
    the command line say it, still finds the row, and so do the words."""
    from uso_tui.domain.models import AuditEvent

    with store.transaction("setup") as tx:
        tx.audit_many(
            [
                AuditEvent(
                    at="2026-11-28T08:00:00", operator="deskop", school=HILL, action="update",
                    subject="someone.204", before={"dob": "2015-01-02"},
                    after={"dob": "2015-02-01"},
                )
            ]
        )  # fmt: skip
    async with opened(store, "audit", HILL) as (app, pilot):
        for typed in ("dob", "date of birth"):
            await filter_by(pilot, typed)
            assert [r.data.subject for r in table(app).shown] == ["someone.204"], typed
            await press(pilot, "escape")


async def test_keys_typed_as_the_run_history_opens_act_on_its_runs(store, monkeypatch):
    """`h` from the school's hub, then `c` `y` in the same burst: they wait for the runs (read in
    a thread) and open the review of the newest, held; the `y` typed before the review showed
    is dropped (a person looks first), and one pressed on it confirms."""
    liskov = username_of(store, "Barbara", "Liskov")
    slowed(monkeypatch, store, "runs", seconds=0.3)
    async with started(store, "school", VALE) as (app, pilot):
        burst(app, "h", "c", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, HeldReview)
        assert store.run("204-3211-r2").status == "held"
        await press(pilot, "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, RunHistoryScreen)
    assert store.run("204-3211-r2").status == "succeeded"
    assert store.account(liskov).status == "unallocated"


async def test_keys_typed_as_the_audit_log_opens_act_on_its_events(store, monkeypatch):
    """`a` then enter: the newest event's details, once the log is read."""
    slowed(monkeypatch, store, "audit", seconds=0.3)
    async with started(store, "school", HILL) as (app, pilot):
        burst(app, "a", "enter")
        await settle(pilot, 6)
        assert isinstance(app.screen, Details)
        await press(pilot, "escape")
        assert isinstance(app.screen, AuditScreen)


async def test_keys_typed_as_users_open_act_on_the_latest_moves(store, monkeypatch):
    """`u` then enter: the account of the latest move, once the moves are read."""
    slowed(monkeypatch, store, "latest_moves", seconds=0.3)
    async with started(store, "school", HILL) as (app, pilot):
        burst(app, "u", "enter")
        await settle(pilot, 6)
        assert isinstance(app.screen, AccountScreen)
        opened_for = app.screen.username
        await press(pilot, "escape")
        assert isinstance(app.screen, UsersScreen)
        assert opened_for == table(app, "#latest").all_rows[0].data


async def test_keys_typed_ahead_find_and_open_an_account_then_wait_for_it(store, monkeypatch):
    """A search and the account it finds opened, typed in one burst: `r` `y` typed with them
    wait for the account (read in a thread), then restore nothing (typed before it showed: the
    search's first hit may be another person of the name); pressed once it shows, they do."""
    grace = username_of(store, "Grace", "Hopper")
    slowed(monkeypatch, store, "account", seconds=0.3)
    async with started(store, "users") as (app, pilot):
        burst(app, "slash", *"hopper", "enter", "enter", "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, AccountScreen)
        assert store.account(grace).status == "unallocated"
        burst(app, "r", "y")
        await settle(pilot, 6)
    acc = store.account(grace)
    assert (acc.status, acc.school) == ("active", HILL)


# -- every screen: literal names, keys help, NO_COLOR ---------------------------------------------

SCREENS = [
    ("bulk_results", HILL),
    ("users", None),
    ("non_mis", HILL),
    ("history", None),
    ("audit", None),
]


@pytest.mark.parametrize(("kind", "dfe"), SCREENS)
async def test_question_mark_lists_every_key(store, kind, dfe):
    async with opened(store, kind, dfe) as (app, pilot):
        await press(pilot, "question_mark")
        assert isinstance(app.screen, KeysHelp)
        text = screen_text(app)
        assert "Back" in text
        assert "Filter" in text or "Search" in text


async def test_names_with_markup_and_control_characters_are_literal(store):
    markup_user = username_of(store, MARKUP, "O'Brien-Smith")
    control_user = username_of(store, "Zoë", CONTROL)
    shown_control = "Lee␛[31mred␇"
    async with opened(store, "bulk_results", HILL, size=(120, 40)) as (app, pilot):
        text = screen_text(app)
        assert MARKUP in text and shown_control in text
        await press(pilot, "5")
        assert MARKUP in screen_text(app) and shown_control in screen_text(app)

        app.open_screen("users")
        await settle(pilot)
        await filter_by(pilot, "obrien", rounds=3)
        assert MARKUP in screen_text(app)
        app.push_screen(AccountScreen(store, control_user))
        await settle(pilot)
        assert shown_control in screen_text(app)
        assert "\x1b" not in screen_text(app)
        app.push_screen(AccountScreen(store, markup_user))
        await settle(pilot)
        assert MARKUP in screen_text(app)

        app.open_screen("audit", None)
        await settle(pilot)
        assert MARKUP in screen_text(app)  # in the change column of the account's creation


async def test_no_color_keeps_the_words(store, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    async with opened(store, "history", HILL) as (app, pilot):
        assert app.no_color
        assert "FAILED" in screen_text(app)
        app.open_screen("bulk_results", HILL)
        await settle(pilot)
        await press(pilot, "4", "space")
        assert "✓" in screen_text(app)  # the mark is a sign, not a colour
        await press(pilot, "1")
        assert "invalid" in screen_text(app) and "needs matching" in screen_text(app)


async def test_run_history_opens_a_runs_file_in_bulk_results(store):
    async with opened(store, "history", HILL) as (app, pilot):
        await press(pilot, "j", "j", "b")  # the oldest run, r1
        assert isinstance(app.screen, BulkResultsScreen)
        assert app.screen.data.run.run_id == "204-3210-r1"
        assert [r.data["outcome"] for r in table(app, "#t-file").shown] == ["created"]


async def test_account_screen_restores_an_unallocated_account(store):
    grace = username_of(store, "Grace", "Hopper")
    async with opened(store, "users") as (app, pilot):
        await pilot.press("slash")
        await type_text(pilot, "grace")
        await press(pilot, "down", rounds=3)  # from the search box to the results
        assert table(app).has_focus and keys_of(table(app)) == [grace]
        await press(pilot, "enter")
        assert isinstance(app.screen, AccountScreen)
        assert app.screen.check_action("restore", ()) is True
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm) and "204-3210" in screen_text(app)
        await press(pilot, "y")
        assert store.account(grace).status == "active"
        assert app.screen.check_action("restore", ()) is False  # nothing left to restore
        assert [r.data.action for r in table(app).shown][0] == "restore"
        # a linked, active account offers no restore: the key says so and does nothing
        app.push_screen(AccountScreen(store, "alovelace.204"))
        await settle(pilot)
        await press(pilot, "r")
        assert isinstance(app.screen, AccountScreen)
        said = [n.message for n in app._notifications]  # noqa: SLF001 - no public reader
        assert "alovelace.204 is active: there is nothing to restore" in said


async def test_tables_follow_a_terminal_resize(store):
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        assert "Account" not in [str(c.label) for c in table(app).columns.values()]
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        labels = [str(c.label) for c in table(app).columns.values()]
        assert "Account" in labels and "Report" in labels
        assert len(table(app).shown) == 10 and table(app).row_count == 10


def test_an_accounts_mis_fields_have_whole_labels_and_long_values_wrap_under_themselves():
    """At 80 columns each of the account screen's columns is about 38 wide: a label is never cut
    ("Enrolment da" was), the school's fields sit beside the status, and a long value (an email,
    a GUID) goes on under itself, not under the labels."""
    from rich.console import Console

    from uso_tui.domain.models import Account
    from uso_tui.tui.screens.users import account_fields

    account = Account(
        username="ytran.205",
        role="pupil",
        forename="Yan",
        surname="Trần",
        dob="2020-07-29",
        school="205-2322",
        email="trany023@brookside2322.sch.uk",
        extra={
            "enrolment_date": "2026-11-08",
            "form_group": "2Ash",
            "gender": "F",
            "person_guid": "638fa198-9c65-4786-a78d-38d486280a75",
            "upn": "Z315366980613",
            "year_group": "2",
            "is_teaching": True,
        },
    )
    console = Console(width=38, record=True, color_system=None)
    who, where = account_fields(account)
    console.print(who)
    who_lines = [line.rstrip() for line in console.export_text().splitlines()]
    console.print(where)
    where_lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert "UPN          Z315366980613" in who_lines and "Gender       F" in who_lines
    for label, value in (("Year group", "2"), ("Form group", "2Ash"), ("Enrolled", "2026-11-08")):
        assert f"{label:<13}{value}" in where_lines
    assert "Teaching     yes" in where_lines
    email = who_lines.index("Email        trany023@brookside2322.sc")
    assert who_lines[email + 1] == "             h.uk"
    assert not any("Enrolment" in line for line in who_lines + where_lines)


async def test_home_and_end_go_to_the_first_and_last_row_of_a_list(store):
    """As in the schools list: DataTable's own home and end scrolled the columns sideways (the
    rows' dates went off screen) and left the cursor where it was."""
    async with opened(store, "audit", size=(80, 24)) as (app, pilot):
        listed = table(app)
        assert listed.row_count > 3
        await press(pilot, "end")
        assert listed.cursor_row == listed.row_count - 1 and listed.scroll_x == 0
        await press(pilot, "home")
        assert listed.cursor_row == 0 and listed.scroll_x == 0


def test_the_link_picker_leaves_out_records_linked_since_the_file_was_made(demo_ran):
    """A case matched since the last run: its record (still unmatched in that run's file) has an
    account now, and is no longer offered to link a non-MIS account to."""
    from datetime import datetime

    from uso_tui.sync.actions import resolve_case
    from uso_tui.tui.screens.non_mis import unmatched_records

    store = demo_ran.store
    dfe = next(s.dfe for s in store.list_schools() if s.open_cases)
    case = store.cases(dfe, "open")[0]
    key = (case.report, case.record["mis_id"])
    assert key in {(r["report"], r["mis_id"]) for r in unmatched_records(store, dfe)}
    match = case.candidates[0]["username"]
    resolve_case(store, case.case_id, operator="desk", now=datetime(2026, 3, 9, 11), match=match)
    assert key not in {(r["report"], r["mis_id"]) for r in unmatched_records(store, dfe)}


async def test_escape_on_a_form_with_text_typed_asks_before_losing_it(store):
    """`b 5 a Foo Tab Bar escape` closed the exclusion form and "Foo Bar" was lost, as `r Abc
    escape` lost a request for an account; the settings ask before discarding."""
    from uso_tui.tui.request_account import RequestAccountForm

    async with started(store, "school", HILL) as (app, pilot):
        burst(app, "r", "escape")  # nothing typed (the role as given): closes at once
        await settle(pilot)
        assert not isinstance(app.screen, RequestAccountForm)
        burst(app, "r", "A", "b", "c", "escape")
        await settle(pilot)
        assert isinstance(app.screen, Confirm) and "Discard what was typed?" in screen_text(app)
        await press(pilot, "n")  # stay: the form as it was
        assert isinstance(app.screen, RequestAccountForm)
        assert app.screen.query_one("#req-forename", Input).value == "Abc"
        burst(app, "escape", "f", "y")  # typed for the screen below: dropped, the form kept
        await settle(pilot)
        assert isinstance(app.screen, Confirm) and "Discard what was typed?" in screen_text(app)
        said = [n.message for n in app._notifications]  # noqa: SLF001 - no public reader
        assert "2 key(s) typed ahead were dropped: Discard what was typed? was asked first" in (
            " ".join(said)
        )
        await press(pilot, "n")
        assert app.screen.query_one("#req-forename", Input).value == "Abc"
        burst(app, "escape", "y")  # the question expected and answered
        await settle(pilot)
        assert not isinstance(app.screen, (RequestAccountForm, Confirm))
        burst(app, "b", "5", "a", "F", "o", "o", "escape")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        await press(pilot, "n")
        assert isinstance(app.screen, ExclusionForm)
        assert app.screen.query_one("#ex-forename", Input).value == "Foo"


@pytest.mark.parametrize("change", ["mis", "daily time", "reports"])
async def test_escape_on_the_add_school_form_asks_before_losing_a_choice(store, change):
    """Another MIS chosen, the daily time or the reports changed, and nothing typed in the
    other fields: escape closed the form without a word, and the choices were lost."""
    from textual.widgets import Checkbox

    from uso_tui.tui.screens.add_school import AddSchoolScreen

    async with started(store) as (app, pilot):
        burst(app, "n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, AddSchoolScreen)
        if change == "mis":
            burst(app, "ctrl+o")
        elif change == "daily time":
            form.query_one("#f-daily_at", Input).value = "09:45"
        else:
            form.query_one("#r-staff", Checkbox).value = False
        await settle(pilot)
        burst(app, "escape")
        await settle(pilot)
        assert isinstance(app.screen, Confirm) and "Discard this school?" in screen_text(app)
        await press(pilot, "n")
        assert app.screen is form


async def test_a_tab_switched_to_shows_its_rows_now_a_key_read_before_acts_on_none(store):
    """On the File tab, `4` `r` `y` in one burst restored tab 4's first account: its rows were
    read when the screen opened, but on screen only once the tab showed, after the keys."""
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        first = keys_of(app.screen.query_one("#t-unallocated"))[0]
        await pilot.pause(0.2)
        burst(app, "4", "r", "y")
        await settle(pilot, 6)
    assert store.account(first).status == "unallocated"


async def test_enter_on_a_row_not_yet_seen_then_r_restores_nothing(store):
    """`r` `y` `enter` `r` `y` on tab 4: the second `r` was refused in the list, but the enter
    opened the row that took the first's place and its account screen restored it."""
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4")
        first, second = keys_of(table(app))
        burst(app, "r", "y", "enter", "r", "y")
        await settle(pilot, 8)
    assert store.account(first).status == "active"
    assert store.account(second).status == "unallocated"


async def test_a_resize_keeps_the_row_at_the_cursor_seen(store):
    """The table rebuilt for another width keeps the cursor's row: a key read before the resize
    acts on it (the row had been on screen all along), not refused as a row newly there."""
    async with opened(store, "non_mis", HILL) as (app, pilot):
        seen = table(app).place_shown_at
        await pilot.resize_terminal(100, 30)
        await settle(pilot, 3)
        assert table(app).place_shown_at == seen


async def test_a_link_typed_ahead_links_no_account_not_yet_seen(store):
    """`x` `y` `l` `enter` `y` in one burst: Tim unallocated, then the account that took his place
    (never highlighted) linked to the record the picker offered first. The `l` does nothing."""
    tim = username_of(store, "Tim", "Berners-Lee")
    kjohnson = username_of(store, "Katherine", "Johnson")
    async with opened(store, "non_mis", HILL) as (app, pilot):
        assert table(app).current().key == tim
        burst(app, "x", "y", "l", "enter", "y")
        await settle(pilot, 8)
    assert store.account(tim).status == "unallocated"
    assert store.account(kjohnson).mis_id is None


@pytest.mark.parametrize("leave", ["tab", "down", "enter"])
async def test_tab_or_down_from_a_filter_go_to_its_own_list(store, leave):
    """From the Unallocated tab's filter, tab went to the next tab's list (showing Exclusions,
    where a restore typed next did nothing, unsaid), and down stayed in the filter (the keys
    after it typed there): each now leaves for the list filtered, as enter does."""
    async with opened(store, "bulk_results", HILL) as (app, pilot):
        await press(pilot, "4", "slash", "g", "r", "a", leave)
        assert app.screen.tabbed.active == "unallocated"
        assert app.focused is table(app)
        assert keys_of(table(app)) == [username_of(store, "Grace", "Hopper")]
    async with opened(store, "non_mis", HILL) as (app, pilot):
        await press(pilot, "slash", "z", leave)
        assert app.focused is app.screen.active_table()


def test_an_account_kept_by_hand_that_a_run_made_says_so():
    """A restored account (its link dropped) showed "Source  by hand" above a history that
    starts with a run's create: the operator asking where it came from was misled."""
    from rich.console import Console

    from uso_tui.domain.models import Account
    from uso_tui.tui.screens.users import account_fields

    def source(**kw) -> str:
        account = Account(username="jtaylor.204", role="pupil", forename="Jo", surname="Taylor",
                          dob="2015-01-01", school="204-2308", **kw)  # fmt: skip
        console = Console(width=80, record=True, color_system=None)
        console.print(account_fields(account)[1])
        (line,) = [ln for ln in console.export_text().splitlines() if ln.startswith("Source")]
        return line.split(None, 1)[1].strip()

    made = {"at": "2026-11-27T06:00:00", "action": "create", "run_id": "204-2308-r1"}
    restored = {"at": "2026-12-01T09:00:00", "action": "restore"}
    assert source(source="manual", history=[made, restored]) == (
        "by hand now (made by run 204-2308-r1)"
    )
    assert source(source="manual", history=[{"at": "2026-12-01", "action": "create"}]) == "by hand"
    assert source(source="mis", history=[made]) == "MIS export"


def test_the_last_file_tab_counts_its_leavers():
    """The Last file tab listed its own counts and stopped at unchanged: a run's leavers were
    shown on the run's page but not there, and its counts did not add up (found by review)."""
    from uso_tui.domain.models import ProcessedFile
    from uso_tui.tui.screens.bulk_results.file_tab import file_head
    from uso_tui.tui.screens.bulk_results.tabs import Loaded

    counts = {"fetched": 5, "created": 1, "unchanged": 2, "leaver": 2, "unallocated": 1}
    head = file_head(Loaded(file=ProcessedFile("204-3210-r2", "204-3210", "2026-03-10", counts)))
    assert "fetched 5, created 1, unallocated 1, unchanged 2, leaver 2" in head.plain


def test_a_runs_details_say_a_count_it_never_kept_as_none():
    """A run made before leavers were counted showed "leavers 0", read as a known zero."""
    from rich.console import Console

    from uso_tui.domain.models import Run
    from uso_tui.tui.format import run_details

    old = Run(
        "204-3210-r1", "204-3210", "schedule", "scheduler", counts={"fetched": 3, "created": 3}
    )
    console = Console(width=60, record=True, color_system=None)
    console.print(run_details(old))
    lines = console.export_text().splitlines()
    assert any(line.split() == ["leavers", "-"] for line in lines)
    assert any(line.split() == ["created", "3"] for line in lines)


async def test_non_mis_link_to_a_record_of_another_permanent_upn_asks_with_f(store):
    """Leo Smith's restored non-MIS account (UPN A...) and a future starter Leo Smith of the
    same date with another permanent UPN (another child): `l enter y` linked it, the UPN line
    listed but not counted. The question says it is probably another child, takes F, and a
    `y` typed ahead is dropped."""
    import dataclasses

    from uso_tui.tui.widgets import ConfirmForce

    tim = username_of(store, "Tim", "Berners-Lee")
    account = dataclasses.replace(store.account(tim), extra={"upn": "A123456789012"})
    record = {
        "report": "students", "mis_id": "P5", "forename": account.forename,
        "surname": account.surname, "dob": account.dob, "upn": "B987654321098",
    }  # fmt: skip
    choice = {"record": record, "report": "students", "mis_id": "P5", "source": "future"}
    async with opened(store, "non_mis", HILL) as (app, pilot):
        screen = app.screen
        burst(app, "y")
        screen._confirm_link(account, choice)
        await settle(pilot, 4)
        assert isinstance(app.screen, ConfirmForce)
        assert "probably another child" in " ".join(screen_text(app).split())
    assert store.account(tim).mis_id is None


def test_a_upn_keying_slip_is_no_other_child_in_the_link_question():
    """ids_apart, as the link question reads it: two permanent UPNs apart, another child; one a
    keying slip of the other (it fails the DfE check), the same child; a temporary UPN, or a
    gender U, says nothing."""
    from factories import acc, rec

    from uso_tui.sync.checks import ids_apart

    leo = acc("lsmith.204", "Leo", "Smith", "2014-01-12", extra={"upn": "A123456789012"})
    assert ids_apart(rec("1", "Leo", "Smith", "2014-01-12", upn="B987654321098"), leo) == ["UPN"]
    assert ids_apart(rec("1", "Leo", "Smith", "2014-01-12", upn="A123456789013"), leo) == []
    assert ids_apart(rec("1", "Leo", "Smith", "2014-01-12", upn="A12345678901B"), leo) == []
    boy = acc("lsmith.204", "Leo", "Smith", "2014-01-12", extra={"gender": "M"})
    assert ids_apart(rec("1", "Leo", "Smith", "2014-01-12", gender="F"), boy) == ["gender"]
    assert ids_apart(rec("1", "Leo", "Smith", "2014-01-12", gender="U"), boy) == []


def test_the_link_question_lists_a_gender_that_differs():
    """A boy's account and a girl's record: the question dropped the keys typed ahead saying it
    lists what differs, and said "Nothing differs"."""
    from factories import acc, rec

    from uso_tui.sync.checks import match_differences

    boy = acc("lsmith.204", "Leo", "Smith", "2014-01-12", extra={"gender": "M"})
    said = match_differences(rec("1", "Leo", "Smith", "2014-01-12", gender="F"), boy, "204-3210")
    assert said == ["gender: M -> F"]
    assert match_differences(rec("1", "Leo", "Smith", "2014-01-12", gender="U"), boy, "x") == [
        "school: 204-3210 -> x (a move)"
    ]
