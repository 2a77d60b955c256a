"""Operator safety in the console: typed-ahead keys, confirmations before runs and decisions,
held runs reviewed, failed workers shown."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_helpers import (
    NOW,
    burst,
    not_a_candidate,
    press,
    screen_text,
    settle,
    started,
    wait_for,
)

from uso_tui.sync.match_model import CREATE_GUARD
from uso_tui.tui.virtual_table import VirtualTable
from uso_tui.tui.widgets import Confirm, ConfirmForce


async def test_typed_ahead_filter_reaches_the_filter_not_the_schools_keys(demo):
    """`/` then a name read in one burst: `m`, `e`, `f`... are letters of the filter, not keys
    opening the matching queue, the settings or a force run."""
    async with started(demo.store) as (app, pilot):
        burst(app, "slash", *"meadow")
        await settle(pilot)
        assert app.screen.kind == "schools"
        assert app.live_runs == {}
        assert app.screen.query_one("#filter", Input).value == "meadow"
        await pilot.press("enter")
        table = app.screen.query_one(VirtualTable)
        assert table.row_count == 1
        assert app.screen.selected() == "204-2308"


@pytest.mark.parametrize("to_list", ["tab", "shift+tab", "down"])
async def test_typed_ahead_filter_then_tab_and_enter_open_the_school_filtered(demo, to_list):
    """`/`, a name, tab, enter in one burst: tab moved the focus to the list before the filter
    ran (it waits for typing to pause), and enter opened the school highlighted before: the
    list's first row, not the one filtered for."""
    async with started(demo.store) as (app, pilot):
        assert app.screen.selected() != "204-2308"
        burst(app, "slash", *"meadow", to_list, "enter")
        await settle(pilot, 4)
        assert (app.screen.kind, app.screen.dfe) == ("school", "204-2308")


async def test_typed_ahead_opening_a_screen_then_keys_go_to_that_screen(demo):
    """enter (open the school's hub) then `e` (its settings) in one burst: the settings of the
    highlighted school open, the second key is not lost on the list."""
    async with started(demo.store) as (app, pilot):
        dfe = app.screen.selected()
        burst(app, "enter", "e")
        await settle(pilot)
        assert (app.screen.kind, app.screen.dfe) == ("settings", dfe)


async def test_typed_ahead_tab_then_secret_goes_to_the_secret_field(demo):
    async with started(demo.store, "settings", demo.held_school) as (app, pilot):
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


async def test_enter_in_the_settings_moves_to_the_next_field_as_in_add_a_school(demo):
    """Enter in a field of the AutoUpdate settings goes on to the next field (it did nothing
    there, and moved on in Add a school: two forms of one console, two ways)."""
    async with started(demo.store, "settings", demo.held_school) as (app, pilot):
        client_id = app.screen.query_one("#f-client_id", Input)
        client_id.focus()
        await pilot.pause()
        burst(app, "enter", *"s3cr3t-typed")
        await settle(pilot)
        secret = app.screen.query_one("#f-secret", Input)
        assert app.focused is secret and secret.value == "s3cr3t-typed"
        assert app.screen.kind == "settings"


async def test_a_secret_pasted_after_keys_typed_ahead_goes_to_the_secret_field(demo):
    """Tab typed ahead, then the secret pasted (a bracketed paste) in the same read: the paste
    waits its turn behind the Tab like a key, and lands masked in the secret field, not in the
    field the Tab was leaving (where it was saved in plain text as the school's name)."""
    from textual import events

    async with started(demo.store, "settings", demo.held_school) as (app, pilot):
        client_id = app.screen.query_one("#f-client_id", Input)
        before = client_id.value
        client_id.focus()
        await pilot.pause()
        burst(app, "tab")
        paste = events.Paste("pasteds3cr3t99\n")
        paste.set_sender(app)
        app._driver.send_message(paste)
        await settle(pilot)
        assert client_id.value == before
        secret = app.screen.query_one("#f-secret", Input)
        assert secret.value == "pasteds3cr3t99"
        assert secret.password


async def test_a_failed_loader_is_said_once_and_leaves_loading(demo, monkeypatch):
    """Any screen's worker that raises: the operator reads one line saying what failed, the
    screen stops saying "loading…", and the console goes on."""

    def broken(*_a, **_k):
        raise OSError("disk [bold]gone[/]")

    async with started(demo.store, notifications=True) as (app, pilot):
        monkeypatch.setattr(demo.store, "runs", broken)
        app.open_school(demo.held_school)
        await settle(pilot)
        text = screen_text(app)
        assert "Cannot read the school: OSError: disk [bold]gone[/]" in text
        assert "loading…" not in text
        assert app.is_running
        await pilot.press("escape")
        assert app.screen.kind == "schools"


@pytest.mark.parametrize(("kind", "broken", "said"), [
    ("non_mis", "school_accounts", "Cannot read accounts"),
    ("history", "runs", "Cannot read runs"),
])  # fmt: skip
async def test_a_list_that_could_not_be_read_says_so_in_its_title(
    demo, monkeypatch, kind, broken, said
):
    """The school's file unreadable: Non-MIS accounts and Run history showed an empty list under
    their usual title, the failure only in a notice that faded (an empty list reads as none)."""

    def fails(*_a, **_k):
        raise OSError("disk gone")

    monkeypatch.setattr(demo.store, broken, fails)
    async with started(demo.store, kind, demo.held_school) as (app, pilot):
        await settle(pilot)
        title = screen_text(app).splitlines()[0]
        assert said in title and "disk gone" in title


async def test_a_reload_that_fails_says_so_over_the_rows_read_before(demo, monkeypatch):
    """`g` in Run history with the school's file unreadable: the runs read before stayed under
    the usual title, the failure only in a notice that faded."""
    async with started(demo.store, "history", demo.held_school) as (app, pilot):
        assert app.screen.active_table().all_rows

        def fails(*_a, **_k):
            raise OSError("disk gone")

        monkeypatch.setattr(demo.store, "runs", fails)
        await press(pilot, "g")
        await settle(pilot)
        title = screen_text(app).splitlines()[0]
        assert "Cannot read runs" in title and "disk gone" in title


def busiest(store):
    return max(store.list_schools(), key=lambda s: s.open_cases)


async def test_enter_in_the_matching_queue_asks_first(demo_ran):
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    cand = case.candidates[0]["username"]
    async with started(store, "matching", dfe) as (app, pilot):
        await press(pilot, "enter")
        assert isinstance(app.screen, Confirm)
        dialog = screen_text(app)
        assert f"Match to {cand}?" in dialog and "differs" in dialog
        assert "\u240a" not in dialog  # each difference on a line of its own
        await press(pilot, "escape")
        assert store.case(case.case_id).status == "open"
        await press(pilot, "enter")
        await press(pilot, "y")
    assert store.case(case.case_id).decision == f"match:{cand}"


async def test_typed_ahead_decisions_each_reach_their_question_and_case(demo_ran):
    """Keys read in one burst over a slow link: `m` `y` confirms the match it asked about (the
    question is asked after a check in a thread), `escape` after `m` cancels it; `c` `F` typed
    with them, before the next case showed, decides nothing (a person decides only a case they
    could see), and pressed once it shows, creates for it."""
    store = demo_ran.store
    dfe = "204-3514"  # its cases' records have no probable account elsewhere (c asks no more)
    cases = store.cases(dfe)
    assert len(cases) >= 4
    first = cases[0].candidates[0]["username"]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        burst(app, "m", "escape")
        await settle(pilot, 3)
        assert app.screen.kind == "matching" and store.case(cases[0].case_id).status == "open"
        burst(app, "m", "y", "c", "F", "c", "F")
        await settle(pilot, 6)
        assert app.screen.kind == "matching"
        assert store.case(cases[0].case_id).decision == f"match:{first}"
        assert [store.case(c.case_id).status for c in cases[1:3]] == ["open", "open"]
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        said = f"4 key(s) typed ahead were dropped: case {cases[1].case_id} showed after them"
        assert any(m.startswith(said) for m in messages), messages
        assert f"case 2 of {len(cases)}" in screen_text(app)
        burst(app, "c", "F")  # typed once the case is seen
        await settle(pilot, 6)
        assert store.case(cases[1].case_id).decision.startswith("create:")
        assert store.case(cases[2].case_id).status == "open"


async def test_no_decision_typed_ahead_as_the_queue_opens(demo_ran):
    """`m` (open the queue from the school's hub), then `m` `y` in the same burst: the first
    case was matched before anyone saw it. The keys wait for the cases (read in a thread), then
    decide nothing, and the console says so."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    first = store.cases(dfe)[0]
    async with started(store, "school", dfe, notifications=True) as (app, pilot):
        burst(app, "m", "m", "y")
        await settle(pilot, 6)
        assert app.screen.kind == "matching"
        assert app.screen.case.case_id == first.case_id
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any(f"case {first.case_id} showed after them" in m for m in messages)
        await press(pilot, "m")  # once it shows: asked
        await press(pilot, "y")
    assert store.case(first.case_id).decision == f"match:{first.candidates[0]['username']}"


async def test_typed_ahead_y_never_confirms_a_match_outside_the_candidates(demo_ran):
    """An account found by search is not a candidate: its differences are read before any key
    answers, so a `y` typed with the `m` is dropped."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    other = not_a_candidate(store, dfe, case)  # found by search
    async with started(store, "matching", dfe) as (app, pilot):
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = other.username
        await press(pilot, "enter")
        assert app.screen.highlighted()["username"] == other.username
        burst(app, "m", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        assert "not among the case's candidates" in screen_text(app)
        assert store.case(case.case_id).status == "open"
        await press(pilot, "y")  # read, then answered
        assert store.case(case.case_id).decision == f"match:{other.username}"


async def test_m_typed_after_a_slow_search_acts_on_the_account_found(demo_ran, monkeypatch):
    """`/`, a username, enter and `m` in one burst, the search slow (a large store): `m` asked to
    match the case's top candidate, highlighted before the search answered (with a `y` typed
    too, the record went to the account the operator was searching away from)."""
    from tui_helpers import slowed

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    other = not_a_candidate(store, dfe, case)
    async with started(store, "matching", dfe) as (app, pilot):
        slowed(monkeypatch, store, "search_accounts", seconds=0.3)
        burst(app, "slash", "ctrl+u", *other.username, "enter", "m")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm)
        assert f"Match to {other.username}, not a candidate?" in screen_text(app)
        assert store.case(case.case_id).status == "open"


async def test_undo_a_decision_of_an_earlier_session(demo_ran):
    from uso_tui.sync.actions import resolve_case

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    made = resolve_case(store, case.case_id, operator="colleague", now=NOW, create=True, force=True)
    username = made.decision.split(":", 1)[1]
    async with started(store, "matching", dfe) as (app, pilot):
        await press(pilot, "v")  # decided cases of every session too
        screen = app.screen
        screen.focus_item(case.case_id)
        assert screen.case.status == "resolved"
        # the decision keys say why they do nothing on a decided case
        await press(pilot, "m")
        assert not isinstance(app.screen, Confirm)
        assert any("is decided" in n.message for n in app._notifications)  # noqa: SLF001
        # another session's decision: said in full and asked before it is undone
        await press(pilot, "u")
        assert isinstance(app.screen, Confirm) and "decided by colleague" in screen_text(app)
        assert store.case(case.case_id).status == "resolved"
        await press(pilot, "y")
    assert store.case(case.case_id).status == "open"
    assert store.account(username).status == "unallocated"


async def test_an_undo_typed_ahead_with_its_y_waits_for_the_question(demo_ran):
    """A match made, the next case shown, then `u y` in one burst: the `y` answered "Undo this
    decision?" before it showed, and the match was undone (an account moved back to another
    school) with no question seen."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    async with started(store, "matching", dfe) as (app, pilot):
        first = app.screen.case.case_id
        await press(pilot, "m")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        await settle(pilot, 4)
        assert store.case(first).status == "resolved" and app.screen.case.case_id != first
        burst(app, "u", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm) and "Undo this decision?" in screen_text(app)
        assert "matched to " in screen_text(app) and "match:" not in screen_text(app)  # in words
        assert store.case(first).status == "resolved"
        said = [n.message for n in app._notifications]  # noqa: SLF001 - no public reader
        assert any("1 key(s) typed ahead were dropped" in m for m in said)
        await press(pilot, "y")  # read, then answered
        await settle(pilot, 4)
    assert store.case(first).status == "open"


async def test_skipping_every_case_still_counts_them_open(demo_ran):
    store = demo_ran.store
    dfe = busiest(store).dfe
    open_count = len(store.cases(dfe))
    async with started(store, "matching", dfe) as (app, pilot):
        for _ in range(open_count):
            await press(pilot, "s")
        text = screen_text(app)
        assert "no open cases" not in text
        assert f"{open_count} open" in text
        assert "0 decided in this session" in text  # skips are not decisions
        # "Nothing to match" read as the queue done, the skipped cases left behind
        assert "Nothing to match" not in text
        assert f"{open_count} skipped case(s) still open: p goes back to them" in text


async def test_u_after_a_skip_says_nothing_was_decided(demo_ran):
    """A case created, the next skipped, then `u`: "Undone: c2 is open again", though c2 was
    never decided (an outside evaluator took it for their decision undone). `u` goes back to
    the skipped case and says so; the decision before it stands, for the next `u`."""
    from uso_tui.sync.actions import resolve_case

    store = demo_ran.store
    dfe = busiest(store).dfe
    first, second = store.cases(dfe)[:2]
    resolve_case(store, first.case_id, operator="desk", now=NOW, create=True, force=True)
    async with started(store, "matching", dfe) as (app, pilot):
        app.screen.focus_item(second.case_id)
        await press(pilot, "s", "u")
        said = [n.message for n in app._notifications]  # noqa: SLF001 - no public reader
        assert f"Back to {second.case_id}, skipped before: nothing had been decided" in said
        assert not any(m.startswith("Undone:") for m in said)
        assert app.screen.case.case_id == second.case_id
    assert store.case(first.case_id).status == "resolved"


async def test_a_skip_reads_and_writes_nothing(demo_ran, monkeypatch):
    """`s` shows the next case at once: it took the store's write lock and read the school's
    whole file (a quarter of a second a key in a queue of thousands, keys typed ahead waiting)."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    async with started(store, "matching", dfe) as (app, pilot):
        first = app.screen.case.case_id

        def no_store(*args, **kwargs):
            raise AssertionError("a skip used the store")

        for name in ("transaction", "case", "find_accounts", "cases"):
            monkeypatch.setattr(store, name, no_store)
        await press(pilot, "s")
        assert app.screen.case.case_id != first
        assert "0 decided in this session" not in screen_text(app)


async def test_an_unallocated_candidate_is_shown_unallocated(demo_ran):
    from uso_tui.sync.plan import unallocated

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    username = case.candidates[0]["username"]
    with store.transaction("test") as tx:
        acc = tx.account(username)
        tx.put_account(unallocated(acc, acc.school))
    async with started(store, "matching", dfe) as (app, pilot):
        text = screen_text(app)
        flat = " ".join(text.split())  # the detail line may wrap
        assert "unalloc." in text and "unallocated: matching restores it here" in flat
        assert f"at {case.candidates[0]['school']}:" not in text


async def test_force_run_asks_first_and_can_run_one_report(demo):
    from uso_tui.tui.force_ask import ForceRunAsk

    store, dfe = demo.store, demo.held_school
    school = store.school(dfe)
    async with started(store, "school", dfe) as (app, pilot):
        await press(pilot, "f")
        assert isinstance(app.screen, ForceRunAsk)
        dialog = screen_text(app)
        assert f"Force run {dfe}?" in dialog and "Last run:" in dialog
        assert "[x] Staff" in dialog and "[x] Students" in dialog
        await press(pilot, "escape")
        assert app.live_runs == {} and app.screen.kind == "school"
        await press(pilot, "f")
        await pilot.press("s")  # staff off: students only
        assert "[ ] Staff" in screen_text(app)
        await press(pilot, "y", rounds=3)
        assert app.live_runs[dfe].reports == ["students"]
    assert school.reports == ["staff", "students"]


async def test_force_run_keys_typed_ahead_answer_its_question(demo):
    """`f` `s` `y` read in one burst from the school hub: they wait for the question (asked
    after the school and its last run are read in a thread): a run of the students only."""
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "f", "s", "y")
        await settle(pilot, 4)
        assert app.live_runs[dfe].reports == ["students"]


async def test_force_run_shows_the_school_as_renamed_since(demo):
    """The run shown, the school renamed in its settings (e), back: the header kept the old
    name."""
    from tui_helpers import NOW

    from uso_tui.sync.admin import update_school

    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await press(pilot, "f", "y", rounds=3)
        for _ in range(100):
            await settle(pilot)
            if app.live_runs[dfe].done:
                break
        update_school(store, dfe, operator="alice", now=NOW, name="Renamed Academy")
        app.open_screen("audit", dfe)
        await settle(pilot)
        await press(pilot, "escape")
        await settle(pilot, 3)
        assert app.screen.kind == "force_run"
        assert f"Force run  {dfe}  Renamed Academy" in screen_text(app)


async def test_a_candidate_two_cases_want_says_so_literally(demo_ran):
    import dataclasses

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    first = dict(case.candidates[0])
    first["reasons"] = [
        *first.get("reasons", []),
        "also a candidate for Sam [b]Jones[/b], record 2 in this export",
    ]
    with store.transaction("test") as tx:
        tx.put_case(dataclasses.replace(case, candidates=[first, *case.candidates[1:]]))
    async with started(store, "matching", dfe) as (app, pilot):
        screen = app.screen
        screen.focus_item(case.case_id)
        await settle(pilot)
        flat = " ".join(screen_text(app).split())  # the detail line may wrap
        assert "also a candidate for Sam [b]Jones[/b], record 2 in this export" in flat


async def test_create_new_asks_first_and_names_the_account_it_would_duplicate(demo_ran):
    """`c` on a case asks before making an account, as `m` and `x` do: the question names the
    best candidate still free with its score (a new account gives that person a second one);
    `n` leaves the case open, `c` `y` creates."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    best = case.candidates[0]
    before = len(store.school_accounts(dfe))
    async with started(store, "matching", dfe) as (app, pilot):
        await press(pilot, "c")
        assert isinstance(app.screen, Confirm)
        text = screen_text(app)
        assert "Create a new account" in text
        assert f"{best['username']} scores {best['score']}%" in text
        await press(pilot, "n")
        assert app.screen.kind == "matching"
        assert store.case(case.case_id).status == "open"
        assert len(store.school_accounts(dfe)) == before
        burst(app, "c", "F")
        await settle(pilot, 4)
    assert store.case(case.case_id).decision.startswith("create:")
    assert len(store.school_accounts(dfe)) == before + 1


async def test_a_create_beside_a_free_candidate_of_90_percent_needs_f_not_the_habitual_y(demo_ran):
    """The command line refuses such a create without --force; the console asked y/n, and the
    `c y` typed by habit gave a person with a 100% candidate a second account. y now says what
    answers, and only F (shift+f) creates."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    assert case.candidates[0]["score"] >= CREATE_GUARD
    before = len(store.school_accounts(dfe))
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        burst(app, "c", "y", "y")
        await settle(pilot, 3)
        assert isinstance(app.screen, ConfirmForce)
        assert "F Create anyway" in screen_text(app)
        assert any("y does not answer" in n.message for n in app._notifications)  # noqa: SLF001
        assert store.case(case.case_id).status == "open"
        await press(pilot, "F")
        await settle(pilot, 4)
        made = store.case(case.case_id).decision.split(":", 1)[1]
        # the new account's username is said (it is shown nowhere else as the queue moves on)
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert f"{case.case_id}: created {made}" in said
    assert len(store.school_accounts(dfe)) == before + 1


async def test_a_create_the_store_guards_when_the_screen_did_not_is_asked_again(demo_ran):
    """The screen's view of the candidates stale (it took the 100% one for another record's):
    it asked y/n, the store refused the create, and `c y` asked the same y/n again, refused
    again. The store's reason is asked now, answered by F only."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    assert case.candidates[0]["score"] >= CREATE_GUARD
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        app.screen._taken_by = lambda *_: "another record"  # noqa: SLF001 - a stale view
        burst(app, "c", "y", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, ConfirmForce)
        await settle(pilot)
        assert f"{case.candidates[0]['username']} scores" in " ".join(screen_text(app).split())
        assert store.case(case.case_id).status == "open"
        await press(pilot, "F")
        await settle(pilot, 4)
    assert store.case(case.case_id).decision.startswith("create:")


async def test_u_never_undoes_a_decision_made_since_by_someone_else(demo_ran):
    """Matched here; undone and excluded by bob from the command line; `u` here undid bob's
    exclusion as this session's decision, with no question."""
    from uso_tui.sync.actions import resolve_case, undo_decision

    store = demo_ran.store
    dfe = busiest(store).dfe
    case_id = store.cases(dfe, "open")[0].case_id
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        await press(pilot, "m", "y")
        await settle(pilot, 4)
        assert store.case(case_id).decision.startswith("match:")
        undo_decision(store, case_id, operator="bob", now=NOW)
        resolve_case(store, case_id, operator="bob", now=NOW, exclude=True)
        burst(app, "u", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        assert store.case(case_id).decision == "exclude"  # the y typed ahead answered nothing
        await press(pilot, "y")  # the decision as this screen knew it: changed since, asked again
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm) and "decided by bob" in screen_text(app)
        await press(pilot, "n")
    assert store.case(case_id).decision == "exclude"


async def test_decided_in_this_session_counts_across_a_reload(demo_ran):
    """`g` (or `v`) read the queue again and forgot the session's decisions: the end of the
    queue said "0 decided in this session" after two. `u` still undoes the session's last
    (here a skip: nothing decided is reverted)."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    cases = store.cases(dfe)
    async with started(store, "matching", dfe) as (app, pilot):
        for keys in (("m", "y"), ("x", "y")):
            await press(pilot, *keys)
            await settle(pilot, 4)
        await press(pilot, "g")
        await settle(pilot, 4)
        for _ in cases[2:]:
            await press(pilot, "s")
            await settle(pilot)
        assert "2 decided in this session" in screen_text(app)
        await press(pilot, "g")
        await settle(pilot, 4)
        await press(pilot, "u")  # undoes the last decision, as before the reloads: the skip
        await settle(pilot, 4)
    assert {store.case(c.case_id).status for c in cases[:2]} == {"resolved"}


async def test_a_decision_undone_after_a_reload_shows_its_case_open_again(demo_ran):
    """`m y`, `g` (the queue read again: the decided case is no longer listed), `u` (asked: the
    case is not on screen) `y`: the case was reopened in the store but not listed, so the
    header counted one open case fewer than `uso-tui matches` and `p` could not reach it."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    first = store.cases(dfe, "open")[0].case_id
    async with started(store, "matching", dfe) as (app, pilot):
        await press(pilot, "m", "y")
        await settle(pilot, 4)
        await press(pilot, "g")
        await settle(pilot, 4)
        await press(pilot, "u")
        await settle(pilot, 4)
        await press(pilot, "y")
        await settle(pilot, 4)
        assert store.case(first).status == "open"
        assert app.screen.case.case_id == first
        assert f"({len(store.cases(dfe, 'open'))} open)" in screen_text(app)


async def test_a_case_decided_in_another_console_is_shown_decided_when_refused(demo_ran):
    """Two operators on one queue: the second's `m` on a case the first has matched is refused,
    and the case is then shown as it is (decided, by whom), not left looking open."""

    from uso_tui.sync.actions import resolve_case

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    best = case.candidates[0]["username"]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        assert "open: choose a candidate" in screen_text(app)
        resolve_case(store, case.case_id, operator="alice", now=NOW, match=best)
        burst(app, "m")
        await settle(pilot, 4)
        text = screen_text(app)
        assert "already resolved" in text
        assert f"decided: matched to {best} by alice" in text
        assert "open: choose a candidate" not in text
        assert not isinstance(app.screen, Confirm)
        # s moves on from it (it said "is decided: u undoes it" and stayed)
        await press(pilot, "s")
        assert app.screen.case.case_id != case.case_id and app.screen.case.status == "open"


def test_a_dialogs_indented_lines_wrap_under_their_indent():
    """A question's list items (an account, a difference) longer than a narrow dialog go on
    under their own indent, not from its edge; blank lines and the other lines stay as they were."""
    from rich.console import Console
    from rich.text import Text

    from uso_tui.tui.format import hanging

    body = Text("Link x to y.\n\nWhat differs:\n", end="")
    body.append("  its current link: MIS id 220734 (students) at 204-3514 -> MIS id 739123")
    body.append("\n  a short one\nAfter.")
    console = Console(width=50, record=True, color_system=None)
    console.print(hanging(body))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert lines == [
        "Link x to y.",
        "",
        "What differs:",
        "  its current link: MIS id 220734 (students) at",
        "  204-3514 -> MIS id 739123",
        "  a short one",
        "After.",
    ]


def test_an_audit_events_long_values_wrap_under_their_column():
    """An audit event's details (the console's Details page): a value longer than the dialog
    goes on under itself, not from the edge under the labels."""
    from rich.console import Console

    from uso_tui.domain.models import AuditEvent
    from uso_tui.tui.format import event_details

    entry = AuditEvent(
        at="2026-11-28T06:00:09",
        operator="scheduler",
        school="204-3210",
        action="update",
        subject="jsmith.204",
        before={"email": "j.smith@oakfield-primary-school.sch.uk", "forename": "J"},
        after={"email": "john.smith@oakfield-primary-academy-trust.sch.uk", "forename": "J"},
    )
    console = Console(width=50, record=True, color_system=None)
    console.print(event_details(entry))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    start = lines.index("Before -> after (* changed)")
    email = [line for line in lines[start + 1 :] if line.strip() and "forename" not in line]
    assert email[0].startswith("* email")
    column = email[0].index("j.smith")
    assert len(email) > 1 and all(line[:column].strip() == "" for line in email[1:])
    assert any(line.startswith("  forename") for line in lines[start + 1 :])
    assert lines[0].startswith("At        2026-11-28 06:00:09")


def test_a_runs_long_error_wraps_under_its_column():
    from rich.console import Console

    from uso_tui.domain.models import Run
    from uso_tui.tui.format import run_details

    run = Run(
        run_id="204-3210-r7",
        school="204-3210",
        trigger="schedule",
        operator="scheduler",
        status="failed",
        started_at="2026-11-28T06:00:00",
        error="IRIS answered 503 Service Unavailable three times for the students report",
    )
    console = Console(width=50, record=True, color_system=None)
    console.print(run_details(run))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith("Error"))
    column = lines[at].index("IRIS")
    assert lines[at + 1][:column].strip() == "" and lines[at + 1].strip()
    assert "Counts" in lines


async def test_a_case_a_run_refreshed_since_it_was_shown_is_shown_again_not_matched(demo_ran):
    """The queue shows a case; a run then ranks its candidates again. `m` `y` typed at once:
    nothing is matched, the case is shown as it is now and the operator is told to look again;
    the `y` is dropped. Then the same keys match the candidate now shown."""
    import dataclasses

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    ranked = [{**c, "score": c["score"] - 1} for c in case.candidates]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        assert app.screen.case.case_id == case.case_id
        with store.transaction("scheduler") as txn:  # as a run's refresh writes it
            txn.put_case(
                dataclasses.replace(
                    case,
                    candidates=ranked,
                    refreshed_at="2026-03-09T11:00:00",
                    refreshed="candidates ranked again",
                )
            )
        burst(app, "m", "y")
        await settle(pilot, 4)
        assert app.screen.kind == "matching"
        assert store.case(case.case_id).status == "open"
        assert "refreshed 2026-03-09 11:00: candidates ranked again" in screen_text(app)
        assert any("was refreshed by a run" in n.message for n in app._notifications)  # noqa: SLF001
        assert app.screen.case.candidates == ranked
        burst(app, "m", "y")
        await settle(pilot, 4)
        assert store.case(case.case_id).decision == f"match:{ranked[0]['username']}"


async def test_create_typed_ahead_on_a_case_a_run_refreshed_meanwhile_is_not_saved(demo_ran):
    """`c` `y` asks about the case as shown; a run refreshes it (an account requested for the
    person is now its best candidate) before the answer is saved: nothing is created, the case
    is shown as it is now, and the `c` `y` typed after it for the next case are dropped."""
    import dataclasses

    store = demo_ran.store
    dfe = busiest(store).dfe
    first, second = store.cases(dfe)[:2]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        with store.transaction("scheduler") as txn:  # written after the screen read it
            ranked = [{**c, "score": c["score"] - 1} for c in first.candidates]
            txn.put_case(dataclasses.replace(first, candidates=ranked))
        burst(app, "c", "F", "c", "F")
        await settle(pilot, 4)
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("was refreshed by a run since it was shown" in m for m in messages)
        assert store.case(first.case_id).status == "open"
        assert store.case(second.case_id).status == "open"
        assert app.screen.case.case_id == first.case_id
        assert app.screen.case.candidates == ranked


async def test_a_refused_decision_leaves_the_case_record_on_screen(demo_ran, monkeypatch):
    """A decision refused in its worker (another console linked the account meanwhile): the
    notice says why, and the case's record (names, date of birth) stays shown; it was replaced
    by the refusal, the record gone while m, c and x still worked on it."""
    from uso_tui.domain.errors import InvalidInput
    from uso_tui.sync import actions

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]

    def refused(*args, **kwargs):
        raise InvalidInput("it is another person's account")

    async with started(store, "matching", dfe) as (app, pilot):
        monkeypatch.setattr(actions, "resolve_case", refused)
        await press(pilot, "c", "F")
        text = screen_text(app)
        assert case.record["surname"] in text and case.record["forename"] in text
        assert any("another person's account" in n.message for n in app._notifications)  # noqa: SLF001


async def test_a_record_with_long_names_leaves_the_candidates_in_sight_at_80x24(demo_ran):
    """Names of 200 characters (the bound) wrapped over the whole narrow screen: the candidate
    table had no row left in sight, and the selection moved out of sight."""
    import dataclasses

    store = demo_ran.store
    case = next(c for s in store.list_schools() for c in store.cases(s.dfe) if c.candidates)
    record = {
        **case.record,
        **{key: word * 40 for key, word in (("forename", "Lorem"), ("surname", "Ipsum"))},
        **{
            key: word * 40 for key, word in (("preferred_name", "Dolor"), ("middle_names", "Sitam"))
        },
    }
    with store.transaction("test") as tx:
        tx.put_case(dataclasses.replace(case, record=record))
    async with started(store, "matching", case.school) as (app, pilot):
        app.screen.focus_item(case.case_id)
        await settle(pilot)
        assert "LoremLorem" in screen_text(app)
        table = app.screen.query_one("#candidates")
        assert table.scrollable_content_region.height >= 4  # the header and three rows
        assert case.candidates[0]["username"][:10] in screen_text(app)


async def test_the_matching_queue_follows_the_terminal_when_it_is_made_narrow(demo_ran):
    """Opened at 120 columns (the record beside the candidates), then made 80: the layout stayed
    wide and the record shrank to nothing while m, c and x still acted."""
    store = demo_ran.store
    case = next(c for s in store.list_schools() for c in store.cases(s.dfe) if c.candidates)
    async with started(store, "matching", case.school, size=(120, 40)) as (app, pilot):
        app.screen.focus_item(case.case_id)
        await settle(pilot)
        assert app.screen.has_class("-wide")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert not app.screen.has_class("-wide")
        record = app.screen.query_one("#case-record").region
        assert record.width >= 70 and record.height >= 5
        assert case.record["surname"] in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert app.screen.has_class("-wide")


@pytest.mark.parametrize("kind", ["history", "duplicates"])
async def test_a_list_keeps_its_cursor_row_when_the_terminal_is_resized(demo_ran, kind):
    """Any change of width built a list's columns again and put its cursor on the first row: a
    window resized between `j j` and `U` (or `b y`) acted on another run (or pair)."""
    async with started(demo_ran.store, kind, None, size=(120, 40)) as (app, pilot):
        table = app.screen.active_table()
        assert table.row_count >= 3, kind
        await press(pilot, "j", "j")
        before = table.current().key
        await pilot.resize_terminal(112, 40)
        await settle(pilot)
        assert table.current().key == before
        await pilot.resize_terminal(80, 24)  # narrower than WIDE: other columns
        await settle(pilot)
        assert table.current().key == before


async def test_a_decision_s_notice_leaves_the_next_case_s_evidence_in_sight(demo_ran):
    """At 80x24 the record sits above the candidates and the notice of a match ("c1: matched to
    ...") sat at the bottom right, over the next case's evidence, for as long as it showed. It
    shows at the top right, beside the record's short lines."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    async with started(store, "matching", dfe, size=(80, 24), notifications=True) as (app, pilot):
        burst(app, "m", "y")
        await settle(pilot, 4)
        await wait_for(pilot, lambda: any(t.region.height for t in app.screen.query("Toast")))
        toasts = [t.region for t in app.screen.query("Toast")]
        assert "matched to" in str(app.screen.query("Toast").first().render())
        detail = app.screen.query_one("#candidate-detail").region
        table = app.screen.query_one("#candidates").region
        for region in toasts:
            assert not region.overlaps(detail) and not region.overlaps(table), (region, detail)


async def test_a_match_that_takes_an_account_from_a_school_where_it_is_on_roll_says_so_first(
    tmp_path,
):
    """The candidate's line warned "still in its latest export" at its school, but the Match
    question did not (a `y` typed with an `m` before the case showed moved the account away
    from a person still on roll there: that `m` decides nothing now). The question says it."""
    from datetime import datetime  # noqa: PLC0415

    from factories import DFE, OTHER, Env, iris_student  # noqa: PLC0415

    env = Env(tmp_path / "store")
    grace = iris_student("g1", "Grace", "French", "2015-01-01")
    env.add_school(OTHER, students=[grace])
    await env.run(OTHER, now=datetime(2026, 3, 9, 7, 0))
    env.add_school(DFE, students=[iris_student("a1", "Grace", "French", "2015-01-01")])
    await env.run(DFE, now=datetime(2026, 3, 9, 8, 0))
    (case,) = env.store.cases(DFE, "open")
    (account,) = env.store.school_accounts(OTHER)
    assert case.candidates[0]["username"] == account.username
    async with started(env.store, "matching", DFE) as (app, pilot):
        assert app.screen.case.case_id == case.case_id
        assert "still in its latest export" in screen_text(app)
        await press(pilot, "m", rounds=4)
        assert isinstance(app.screen, Confirm)
        text = " ".join(screen_text(app).replace("│", " ").split())  # (the box's lines)
        assert "on roll there (one person" in text and "still on roll there?" in text
        assert env.store.case(case.case_id).status == "open"
        await press(pilot, "y")
    assert env.store.case(case.case_id).decision == f"match:{account.username}"


def _a_case_with_two_candidates(store):
    """The busiest school's first case, given a second candidate (another account of the LA)."""
    from uso_tui.domain.models import MatchCase  # noqa: PLC0415

    dfe = busiest(store).dfe
    case = store.cases(dfe, "open")[0]
    other = not_a_candidate(store, dfe, case)
    second = {
        **case.candidates[0],
        "username": other.username,
        "score": case.candidates[0]["score"] - 5,
        "forename": other.forename,
        "surname": other.surname,
        "dob": other.dob,
        "school": other.school,
    }
    with store.transaction("tester") as txn:
        txn.put_case(
            MatchCase.from_dict({**case.to_dict(), "candidates": [*case.candidates, second]})
        )
    return dfe, store.case(case.case_id)


async def test_g_keeps_the_candidate_highlighted_and_a_refreshed_case_is_read_first(demo_ran):
    """`j` (the second candidate), then `g` `m` in one burst: the queue read again put the cursor
    back on the first candidate, and `m` asked about an account the operator had not chosen.
    And a case a run refreshed since it showed (its record changed), shown again by `g`: an `m`
    typed with the `g` was read before it showed, and decides nothing."""
    import dataclasses  # noqa: PLC0415

    store = demo_ran.store
    dfe, case = _a_case_with_two_candidates(store)
    chosen = case.candidates[1]["username"]
    async with started(store, "matching", dfe, case.case_id, notifications=True) as (app, pilot):
        await press(pilot, "j")
        assert app.screen.highlighted()["username"] == chosen
        burst(app, "g", "m")
        await settle(pilot, 6)
        assert isinstance(app.screen, Confirm)
        assert f"Link {chosen}" in screen_text(app)
        await press(pilot, "escape")
        with store.transaction("scheduler") as txn:  # a run refreshes the case shown
            refreshed = txn.case(case.case_id)
            record = {**refreshed.record, "surname": "Quigley"}
            txn.put_case(dataclasses.replace(refreshed, record=record))
        burst(app, "g", "m", "y")
        await settle(pilot, 6)
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any(f"case {case.case_id} showed after them" in m for m in messages)
        assert app.screen.kind == "matching" and "Quigley" in screen_text(app)
    assert store.case(case.case_id).status == "open"


async def test_an_account_found_by_search_on_roll_elsewhere_is_said_so_in_the_question(demo_ran):
    """The queue knew which of its candidates are still on roll at another school, not an
    account found by search: its Match question said "not a candidate" but not that."""
    from uso_tui.sync.checks import on_roll_elsewhere  # noqa: PLC0415

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe, "open")[0]
    other = not_a_candidate(store, dfe, case)
    assert on_roll_elsewhere(store, dfe, [other])
    async with started(store, "matching", dfe) as (app, pilot):
        await press(pilot, "slash")
        app.screen.query_one("#prompt-input").value = other.username
        await press(pilot, "enter", rounds=4)
        assert app.screen.highlighted()["username"] == other.username
        await press(pilot, "m", rounds=4)
        assert isinstance(app.screen, Confirm)
        text = " ".join(screen_text(app).replace("│", " ").split())  # (the box's lines)
        assert "matching takes it from a person on roll there" in text


def test_a_paste_dropped_with_keys_typed_ahead_is_said_apart():
    """A secret pasted then dropped (typed ahead of a question) was counted as one more key
    "to press again": the operator was not told the paste was lost."""
    from textual import events

    from uso_tui.tui.keys_in_turn import _said_of

    keys = [events.Key("y", "y"), events.Key("n", "n")]
    assert _said_of(keys) == "2 key(s) typed ahead were dropped"
    assert _said_of([*keys, events.Paste("x")]) == ("2 key(s) and a paste typed ahead were dropped")
    assert _said_of([events.Paste("x")]) == "a paste typed ahead was dropped"
    assert _said_of([events.Paste("x")], this_key=True) == (
        "1 key(s) and a paste typed ahead were dropped"
    )
    assert _said_of([]) == ""


async def test_keys_typed_after_a_screen_that_did_not_open_are_dropped(demo, monkeypatch):
    """`h` (run history) then `c` (its confirm) in one burst, the history screen failing to
    open: the `c` opened the hub's calendar, a screen the operator never asked for."""
    async with started(demo.store, "school", demo.held_school, notifications=True) as (
        app,
        pilot,
    ):
        made = app.make_screen

        def broken(kind, *args, **kw):
            if kind == "history":
                raise ImportError("cannot import name 'x'")
            return made(kind, *args, **kw)

        monkeypatch.setattr(app, "make_screen", broken)
        burst(app, "h", "c")
        await settle(pilot, 4)
        assert app.screen.kind == "school"
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("history screen is not available" in m for m in said)
        assert any("the history screen did not open" in m for m in said)
