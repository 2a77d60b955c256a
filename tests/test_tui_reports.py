"""The console's why search (from Users), calendar, run-history undo (U) and CSV export key."""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
from factories import DFE, Env, iris_student
from tui_helpers import burst, filter_by, press, screen_text, settle, started

from uso_tui.tui.widgets import screen_keys

DAY1 = datetime(2026, 3, 1, 9, 0, 0)
DAY2 = datetime(2026, 3, 2, 9, 0, 0)
AMY = iris_student("1", "Amy", "Jones", "2015-04-02", leavingDate="2026-03-20")
CAT = iris_student("3", "Cat", "Brown", "2016-01-20", enrolmentDate="2026-04-01")
EVIL = iris_student("7", "=cmd()", "+Evil", "2015-05-05")


@pytest.fixture
def env(tmp_path) -> Env:
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, CAT])
    env.sync(DAY1)
    env.set_students(DFE, [AMY, CAT, EVIL])
    env.run2 = env.sync(DAY2)
    return env


async def test_why_search_from_users(env):
    async with started(env.store, "users", size=(100, 30)) as (app, pilot):
        app.screen.query_one("#latest").focus()
        await press(pilot, "w")
        assert app.screen.kind == "why"
        await press(pilot, *"cat", "enter")
        text = screen_text(app)
        assert "future starter from 2026-04-01" in text
        assert "do: nothing to do" in text
        # the key the line names for a request is the school page's request key
        assert "User Request Single (r in the school's page" in text.replace("\n", " ")
        from uso_tui.tui.screens.school import SchoolScreen

        assert any(b.key == "r" and b.action == "request" for b in SchoolScreen.BINDINGS)


async def test_why_search_then_enter_typed_ahead_opens_its_first_hit(env):
    """A name, enter, enter in one burst: the second enter waits for the hits (searched in a
    thread) and opens the first of them: Amy has her account, which it opens (as its "do:"
    line says)."""
    async with started(env.store, "why", size=(100, 30)) as (app, pilot):
        burst(app, *"amy", "enter", "enter")
        await settle(pilot, 4)
        assert app.screen.kind == "account"
        assert app.screen.account.forename == "Amy" and app.screen.account.surname == "Jones"


async def test_a_why_hit_opens_the_bulk_results_at_its_own_record(env):
    """Cat is not the file's first record: enter on her hit shows the file at her row, and an
    enter typed ahead with it opens her record's details, not the first record's."""
    async with started(env.store, "why", size=(100, 30)) as (app, pilot):
        burst(app, *"cat", "enter", "enter", "enter")
        await settle(pilot, 4)
        assert "Record 3: Cat Brown" in screen_text(app)
        await press(pilot, "escape")
        assert app.screen.kind == "bulk_results"
        rows = app.screen.active_table().shown
        assert rows[0].data["record"]["forename"] != "Cat" and len(rows) == 3
        assert app.screen.active_table().current().data["record"]["forename"] == "Cat"
        # from the file filtered to another record, the same hit clears the filter to show hers
        await press(pilot, "slash", *"evil", "enter")
        assert len(app.screen.active_table().shown) == 1
        app.open_screen("why")  # back to the search as it was, its hits focused
        await settle(pilot, 2)
        assert app.screen.kind == "why"
        burst(app, "enter")
        await settle(pilot, 4)
        assert app.screen.active_table().current().data["record"]["forename"] == "Cat"
        assert len(app.screen.active_table().shown) == 3


async def test_calendar_lists_starters_and_leavers_and_exports(env, tmp_path):
    async with started(env.store, "calendar", DFE, size=(100, 30), notifications=True) as (
        app,
        pilot,
    ):
        rows = app.screen.active_table().all_rows
        assert [(r.data.date, r.data.kind) for r in rows] == [
            ("2026-03-20", "leaver"),
            ("2026-04-01", "starter"),
        ]
        await filter_by(pilot, "leaver")
        await press(pilot, "e")
        # the file is the export command's (a year, unfiltered): said, not left to surprise
        said = [n.message for n in app._notifications if n.message.startswith("Exported")]  # noqa: SLF001
        [said] = said
        assert "the next 365 days" in said and "the filter narrows the screen only" in said
    files = list((tmp_path / "store" / "exports").glob("calendar-*.csv"))
    assert len(files) == 1
    with open(files[0], newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["kind"] for r in got] == ["leaver", "starter"]


async def test_undo_from_run_history_previews_then_needs_y(env):
    async with started(env.store, "history", DFE, size=(100, 30)) as (app, pilot):
        assert app.screen.active_table().current().key == env.run2.run_id
        await press(pilot, "U")
        text = screen_text(app)
        assert "Reverts: created 1" in text
        assert "\u240a" not in text  # each reverted account on a line of its own
        await press(pilot, "n")
        assert not [r for r in env.store.runs(DFE) if r.trigger == "undo"]
        await press(pilot, "U")
        await press(pilot, "y")
        undone = [r for r in env.store.runs(DFE) if r.trigger == "undo"]
        assert len(undone) == 1
        evil = [a for a in env.store.school_accounts(DFE) if a.surname == "+Evil"]
        assert evil[0].status == "unallocated" and evil[0].mis_id is None
        # the run reads "undone" in the history (it read as before, HELD for a held run),
        # and it is not offered for an undo again
        await settle(pilot, 2)
        row = next(r for r in app.screen.active_table().shown if r.key == env.run2.run_id)
        assert row.cells[1].plain == "undone"
        app.screen.active_table().move_cursor(row=app.screen.active_table().shown.index(row))
        await settle(pilot, 2)
        assert app.screen.check_action("undo_run", ()) is False


async def test_undo_keys_typed_ahead_answer_the_preview(env):
    """`U` then `n` (or `y`) read in one burst: the answer waits for the preview (made in a
    thread) and answers it, rather than reaching the run history before it."""
    async with started(env.store, "history", DFE, size=(100, 30)) as (app, pilot):
        burst(app, "U", "n")
        await settle(pilot, 4)
        assert app.screen.kind == "history"
        assert not [r for r in env.store.runs(DFE) if r.trigger == "undo"]
        burst(app, "U", "y")
        await settle(pilot, 4)
        assert app.screen.kind == "history"
        assert len([r for r in env.store.runs(DFE) if r.trigger == "undo"]) == 1


async def test_an_undo_of_many_changes_is_read_before_it_is_answered(tmp_path):
    """`U y` typed ahead undid a school's whole run (179 accounts unallocated) before anyone
    saw the preview. From UNDO_READ_FIRST changes the keys typed with the `U` are dropped (and
    said so); the preview's own `y` then undoes it."""
    from uso_tui.tui.screens.history import UNDO_READ_FIRST

    env = Env(tmp_path / "store")
    kids = [
        iris_student(str(n), f"Kid{chr(97 + n)}", "Fam", "2015-04-02")
        for n in range(UNDO_READ_FIRST + 2)
    ]
    env.add_school(students=kids)
    await env.run(now=DAY1)
    async with started(env.store, "history", DFE, size=(100, 30), notifications=True) as (
        app,
        pilot,
    ):
        burst(app, "U", "y")
        await settle(pilot, 4)
        assert "Undo run" in screen_text(app)  # the preview waits for its answer
        assert not [r for r in env.store.runs(DFE) if r.trigger == "undo"]
        burst(app, "y")
        await settle(pilot, 4)
    assert len([r for r in env.store.runs(DFE) if r.trigger == "undo"]) == 1


async def test_an_undo_restoring_beside_the_person_s_active_account_is_read_first(tmp_path):
    """`U y` in one burst undid a run whose one leaver had been given a new account elsewhere
    since: restored beside it, the warning in the preview never read, and the result line said
    only "1 reverted"."""
    from uso_tui.sync import admin

    env = Env(tmp_path / "store")
    amy = iris_student("1", "Amy", "Jones", "2015-04-02")
    bob = iris_student("2", "Bob", "Smith", "2014-07-11")
    env.add_school(students=[amy, bob])
    env.add_school("204-3999")
    await env.run(now=DAY1)
    env.set_students(DFE, [bob])
    left = (await env.run(now=DAY2)).run  # Amy unallocated
    newer = admin.add_account(  # forced: her unallocated account would be restored instead
        env.store, "204-3999", role="pupil", forename="Amy", surname="Jones", dob="2015-04-02",
        operator="desk", now=DAY2, force=True,
    )  # fmt: skip
    async with started(env.store, "history", DFE, size=(100, 30), notifications=True) as (
        app,
        pilot,
    ):
        burst(app, "U", "y")
        await settle(pilot, 4)
        assert "restored beside" in screen_text(app)
        assert not [r for r in env.store.runs(DFE) if r.trigger == "undo"]
        burst(app, "y")
        await settle(pilot, 4)
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert f"{left.run_id} undone" in said and newer.username in said
    assert env.store.account("ajones.204").status == "active"


async def test_bulk_results_tabs_and_the_matching_queue_export_their_lists(env, tmp_path):
    exports = tmp_path / "store" / "exports"
    async with started(env.store, "bulk_results", DFE, size=(100, 30)) as (app, pilot):
        await press(pilot, "e")  # the processed file itself is no list to export
        assert not list(exports.glob("*.csv"))
        await press(pilot, "6", "e")  # future starters
        app.open_screen("matching", DFE)
        await settle(pilot)
        assert ("e", "Export CSV") in screen_keys(app.screen)  # ? Keys lists it
        await press(pilot, "e")
    (future,) = exports.glob("future-*.csv")
    with open(future, newline="") as fh:
        assert [r["forename"] for r in csv.DictReader(fh)] == ["Cat"]
    (cases,) = exports.glob("cases-*.csv")
    with open(cases, newline="") as fh:
        assert "case_id" in next(csv.reader(fh))


async def test_users_exports_the_accounts(env, tmp_path):
    async with started(env.store, "users", size=(100, 30)) as (app, pilot):
        app.screen.query_one("#latest").focus()
        await press(pilot, "e")
    (accounts,) = (tmp_path / "store" / "exports").glob("accounts-*.csv")
    with open(accounts, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["forename"] for r in rows} >= {"Amy", "'=cmd()"}  # formula-like text neutralised


@pytest.fixture
def held_whole(tmp_path) -> Env:
    """A school whose second export sent a third of its records: held whole."""
    env = Env(tmp_path / "other")
    pupils = [iris_student(str(i), f"Kid{i}", f"Fam{i}", "2015-04-02") for i in range(30)]
    env.add_school(students=pupils)
    env.sync(DAY1)
    env.set_students(DFE, pupils[:10])
    assert env.sync(DAY2).status == "held"
    return env


async def test_bulk_results_show_the_comparison_of_an_export_held_whole(held_whole):
    async with started(held_whole.store, "bulk_results", DFE, size=(100, 30)) as (app, pilot):
        text = " ".join(screen_text(app).split())
    assert "held whole: the students export holds 10 records on roll against 30 before" in text


async def test_a_why_search_that_finds_no_record_names_the_accounts_literally(env):
    from dataclasses import replace

    from uso_tui.sync import admin

    made = admin.add_account(
        env.store, DFE, role="pupil", forename="Zed", surname="Quill", dob="2015-06-06",
        operator="desk", now=DAY2,
    )  # fmt: skip
    with env.store.transaction("test") as tx:  # as the MIS may send it (typed, it is refused)
        tx.put_account(replace(tx.account(made.username), forename="[red]Zed"))
    async with started(env.store, "why", size=(100, 30)) as (app, pilot):
        burst(app, *"quill", "enter")
        await settle(pilot, 3)
        text = screen_text(app)
        assert "no record found for “quill”" in text
        assert "[red]Zed Quill" in text  # the name as typed, never markup
        app.screen.search_box.value = ""
        burst(app, "slash", *"nobody", "enter")
        await settle(pilot, 3)
        assert "not in the MIS exports yet" in screen_text(app)


async def test_a_why_hit_whose_case_was_decided_never_opens_another_case(demo_ran):
    """A case decided since its export was processed: why says what it made (the account), and
    enter with `m` typed ahead opens that account, not the queue's next open case (another
    child's, which `m` would then have offered to match)."""
    from uso_tui.sync.actions import resolve_case

    store = demo_ran.store
    dfe = next(s.dfe for s in store.list_schools() if s.open_cases >= 2)
    first, second = store.cases(dfe, "open")[:2]
    username = first.candidates[0]["username"]
    resolve_case(
        store, first.case_id, operator="desk", now=datetime(2026, 3, 9, 11), match=username
    )
    name = f"{first.record['forename']} {first.record['surname']}"
    async with started(store, "why", size=(100, 30)) as (app, pilot):
        burst(app, *name, "enter")
        await settle(pilot, 4)
        assert f"linked: {username}" in screen_text(app)
        burst(app, "enter", "m")
        await settle(pilot, 4)
        assert app.screen.kind == "account" and app.screen.username == username
    # hits shown while the case was open, decided meanwhile in another console: enter opens
    # the queue, which says so and drops the `m` typed for that case (not the next one's)
    resolve_case(store, second.case_id, operator="other", now=datetime(2026, 3, 9, 11), skip=True)
    third = next(c for c in store.cases(dfe, "open") if c.case_id != second.case_id)
    name = f"{third.record['forename']} {third.record['surname']}"
    async with started(store, "why", size=(100, 30), notifications=True) as (app, pilot):
        burst(app, *name, "enter")
        await settle(pilot, 4)
        resolve_case(
            store,
            third.case_id,
            operator="other",
            now=datetime(2026, 3, 9, 11),
            create=True,
            force=True,
        )
        burst(app, "enter", "m")
        await settle(pilot, 4)
        assert app.screen.kind == "matching"
        assert f"Case {third.case_id} is no longer open" in screen_text(app)
        assert not app.screen.decided  # and no question asked: the screen is the queue


async def test_a_long_undo_preview_names_what_is_left_alone_first_and_scrolls_with_j(env):
    """22 accounts reverted and one left alone: the one left alone was listed after the 22, under
    a count that read as their heading; a preview longer than the dialog scrolls with j and k."""
    from uso_tui.sync.undo import Revert, UndoPlan
    from uso_tui.tui.undo_ask import undo_body
    from uso_tui.tui.widgets import Confirm

    amy = env.store.school_accounts(DFE)[0]
    reverts = [Revert(f"kid{i}.204", "created", amy, amy, "unallocate") for i in range(22)]
    plan = UndoPlan("r1", DFE, reverts=reverts, left_alone=["changed.204"])
    lines = undo_body(plan).plain.splitlines()
    said = lines.index("Left alone (changed since the run): 1")
    assert lines[said + 1].strip() == "changed.204"
    assert lines[said + 2] == "Reverted: 22" and "kid0.204" in lines[said + 3]
    async with started(env.store, size=(80, 24)) as (app, pilot):
        app.push_screen(Confirm("Undo run r1?", undo_body(plan), yes="Undo", no="Keep"))
        await settle(pilot)
        body = app.screen.query_one("#confirm-body")
        assert body.max_scroll_y > 0  # longer than the dialog
        await press(pilot, "j", "j")
        assert body.scroll_y == 2
        await press(pilot, "k")
        assert body.scroll_y == 1


def test_a_run_s_short_counts_say_what_it_restored():
    """An undo's unallocations put back read "+0 ~0 -0 ?0 !0", as if it had done nothing."""
    from uso_tui.tui.format import counts_short

    assert counts_short({"restored": 2, "unallocated": 1}) == "+0 ~0 -1 r2 ?0 !0"
    assert counts_short({"created": 3}) == "+3 ~0 -0 ?0 !0"


def test_a_confirmed_run_held_whole_says_whether_its_export_was_applied():
    from uso_tui.domain.models import Run
    from uso_tui.sync.actions import Confirmed
    from uso_tui.tui.held import confirmed_line

    run = Run(run_id=f"{DFE}-r2", school=DFE, trigger="cli", operator="t")
    stale = confirmed_line(Confirmed(run, [], ["ajones.204"], [], applied=False))
    assert "not applied" in stale and "nothing changed" in stale
    fresh = confirmed_line(Confirmed(run, ["bsmith.204"], [], [], applied=True))
    assert fresh == f"Run {DFE}-r2 confirmed: its export applied, 1 unallocated"


@pytest.fixture
def london(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "GMT0BST,M3.5.0/1,M10.5.0")  # London's rule, no tzdata needed
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("then", "now", "said"),
    [
        # autumn: 00:30 BST to 01:45 GMT is 2h15m, not 75 minutes
        ("2026-10-25T00:30:00", datetime(2026, 10, 25, 1, 45, fold=1), "2h ago"),
        # the repeated hour: 01:50 BST, seen at 01:10 GMT, 20 minutes later ("in future")
        ("2026-10-25T01:50:00", datetime(2026, 10, 25, 1, 10, fold=1), "20m ago"),
        # spring: 00:30 GMT to 03:30 BST is two hours
        ("2027-03-28T00:30:00", datetime(2027, 3, 28, 3, 30), "2h ago"),
        ("2026-06-01T06:00:00", datetime(2026, 6, 1, 6, 45), "45m ago"),
    ],
)
def test_how_long_ago_counts_the_time_passed_across_a_clock_change(london, then, now, said):
    from uso_tui.tui.format import ago

    assert ago(then, now) == said


async def test_a_why_search_that_fails_leaves_no_rows_of_the_search_before(env, monkeypatch):
    """A search that failed (a corrupt school file) kept the rows of the one before under the new
    text, as if they were its answer."""
    import uso_tui.sync.why as why_module

    async with started(env.store, "why", size=(100, 30), notifications=True) as (app, pilot):
        burst(app, *"amy", "enter")
        await settle(pilot, 4)
        assert "Amy" in screen_text(app)

        def broken(*args, **kw):
            raise OSError("the store is unreadable")

        monkeypatch.setattr(why_module, "why", broken)
        burst(app, "slash", "backspace", "backspace", "backspace", *"cat", "enter")
        await settle(pilot, 4)
        text = screen_text(app)
        assert "Amy" not in text and "the search failed" in text


async def test_a_run_is_undone_only_from_a_history_seen(env):
    """`h` `U` `y` from the school's hub in one burst undid the newest run before the history
    showed it: the `U` chose a run no one had seen. It does nothing now."""
    from tui_helpers import burst, settle, started  # noqa: PLC0415

    async with started(env.store, start=("school", DFE), size=(100, 30)) as (app, pilot):
        burst(app, "h", "U", "y")
        await settle(pilot, 8)
    assert not [r for r in env.store.runs(DFE) if r.trigger == "undo"]


def test_codes_are_said_in_words_and_a_yes_or_no_not_python_s():
    """Bulk results showed `needs_matching` and `is teaching  False`, the audit log `run_held`
    and `kept_apart_from`: the store's codes, where the summary above said "needs matching"."""
    from uso_tui.tui.format import change_summary, value_text, words

    said = {
        code: words(code)
        for code in ("needs_matching", "run_held", "person_guid", "dob", "mis_id", "upn")
    }
    assert said == {
        "needs_matching": "needs matching",
        "run_held": "run held",
        "person_guid": "person GUID",
        "dob": "date of birth",
        "mis_id": "MIS id",
        "upn": "UPN",
    }
    assert value_text(False) == "no" and value_text({"is_teaching": True}) == "is teaching=yes"
    assert change_summary(None, {"kept_apart_from": "x.204"}) == "kept apart from=x.204"


def test_the_undo_question_lists_the_reverted_accounts_in_columns():
    """`amensah2.204  created`, `cosuilleabhain3.204  created`: each kind began where its
    username ended."""
    from types import SimpleNamespace

    from uso_tui.tui.undo_ask import undo_body

    reverts = [
        SimpleNamespace(username=u, kind=k, change=c)
        for u, k, c in (
            ("amensah2.204", "created", "Adaeze Mensah"),
            ("cosuilleabhain3.204", "created", "Caoimhe Ó Súilleabháin"),
            ("aleroux.204", "updated", "Abdi Ng -> Abdi Le Roux"),
        )
    ]
    plan = SimpleNamespace(
        reverted={"created": 2, "updated": 1},
        reverts=reverts,
        cases=[],
        left_alone=[],
        id_given_lines=lambda: [],
        orphaned=[],
        orphaned_lines=lambda: [],
        beside=[],
        beside_lines=lambda: [],
    )
    lines = [line for line in undo_body(plan).plain.splitlines() if ".204" in line]
    assert len({line.index("created" if "created" in line else "updated") for line in lines}) == 1
    assert len({line.index(r.change) for line, r in zip(lines, reverts, strict=True)}) == 1
