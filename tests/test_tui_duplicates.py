"""The possible duplicates screen through the keys an operator presses: reached from the school hub,
both accounts side by side with the evidence (names that look like markup shown literally), keep
both, unallocate one; the store is checked after each. Plus a snapshot at 80x24."""

from __future__ import annotations

import pytest
from test_duplicates import FAR, HILL, VALE, build_estate, held_twice_estate, two_exports_estate
from tui_helpers import (
    burst,
    make_app,
    press,
    screen_text,
    settle,
    settle_picture,
    started,
    type_text,
    wait_for,
)

from uso_tui.tui.screens.duplicates import DuplicatesScreen, WhichOne
from uso_tui.tui.widgets import Confirm


@pytest.fixture
def store(tmp_path):
    return build_estate(tmp_path / "data")


def shown(app) -> list[str]:
    return [r.key for r in app.screen.active_table().shown]


async def test_reached_from_the_school_hub_with_the_pair_side_by_side(store):
    async with started(store, start=("school", VALE), size=(100, 30)) as (app, pilot):
        assert "d  Possible duplicates" in screen_text(app)  # in the page's keys
        await press(pilot, "d")
        assert isinstance(app.screen, DuplicatesScreen) and app.screen.dfe == VALE
        assert shown(app) == ["bcarter.204 bcarter2.204"]
        text = screen_text(app)
        assert "Be[n] Carter[/]" in text  # literal, never markup
        assert "same names and date of birth" in text and "students record P2" in text
        assert "not linked" in text
        await press(pilot, "escape")
        assert app.screen.kind == "school"


async def test_keep_both_asks_once_then_the_pair_is_gone_and_audited(store):
    async with started(store, start=("duplicates", VALE)) as (app, pilot):
        await press(pilot, "b")
        assert isinstance(app.screen, Confirm)
        assert "bcarter2.204" in screen_text(app)
        await press(pilot, "n")  # changed my mind: nothing happens
        assert store.kept_pairs() == frozenset()
        await press(pilot, "b")
        await press(pilot, "y")
        assert isinstance(app.screen, DuplicatesScreen)
        assert store.kept_pairs() == {("bcarter.204", "bcarter2.204")}
        assert shown(app) == []
        assert "No possible duplicates" in screen_text(app)
        [ev] = store.audit(VALE, subject="bcarter2.204")
        assert (ev.operator, ev.action) == ("tester", "duplicate_keep")


async def test_unallocate_one_asks_which_then_once(store):
    async with started(store, start=("duplicates", HILL)) as (app, pilot):
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        await press(pilot, "u")
        assert isinstance(app.screen, WhichOne)
        await press(pilot, "2")
        assert isinstance(app.screen, Confirm)
        text = screen_text(app)
        assert "asmith.204" in text and "dropped" in text and "ajones.205" in text
        await press(pilot, "y")
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
        # escape or n in the chooser changes nothing (n cancels, as in every question)
        for cancel in ("escape", "n"):
            await press(pilot, "u")
            await press(pilot, cancel)
            assert isinstance(app.screen, DuplicatesScreen)
            assert store.account("bcarter2.204").status == "active"


async def test_keys_typed_ahead_decide_the_pair_seen_not_the_next(store):
    """`b` `y` `u` `2` `y` in one burst: the first pair kept; the `u` was read before the next
    pair showed (it unallocated an account of a pair the operator never saw): it does nothing,
    nor do the keys after it. Typed once that pair shows, they act on it."""
    async with started(store, "duplicates", HILL) as (app, pilot):
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        burst(app, "b", "y", "u", "2", "y")
        await settle(pilot, 6)
        assert shown(app) == ["bcarter.204 bcarter2.204"]
        assert store.account("bcarter2.204").status == "active"
        burst(app, "u", "2", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, DuplicatesScreen) and shown(app) == []
    assert store.kept_pairs() == {("ajones.205", "asmith.204")}
    assert store.account("bcarter2.204").status == "unallocated"
    assert store.account("bcarter.204").status == "active"


async def test_j_and_k_move_in_the_review_as_in_every_list(store):
    """`j j k j b y` keeps the second pair: `j` and `k` were unbound here and `k` kept, so `j j k y`
    typed to keep the third pair kept the first."""
    async with started(store, "duplicates", HILL) as (app, pilot):
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        burst(app, "j", "j", "k", "j", "b", "y")  # down, down (the last), up, down
        await settle(pilot, 6)
    assert store.kept_pairs() == {("bcarter.204", "bcarter2.204")}


async def test_keys_typed_ahead_as_the_review_opens_decide_no_pair_not_yet_seen(store):
    """`d` from the school's hub, then `b` `y` in the same burst: they waited for the pairs
    (read in a thread) and kept the first, which no one had seen (a real duplicate hidden from
    the review for good). They do nothing now; typed once the pair shows, they keep it."""
    async with started(store, start=("school", VALE)) as (app, pilot):
        burst(app, "d", "b", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, DuplicatesScreen)
        assert store.kept_pairs() == set()
        burst(app, "b", "y")
        await settle(pilot, 6)
    assert store.kept_pairs() == {("bcarter.204", "bcarter2.204")}


async def test_unallocate_refuses_a_pair_the_mis_holds_twice_before_asking(tmp_path):
    store = held_twice_estate(tmp_path / "data")
    async with started(store, start=("duplicates", HILL)) as (app, pilot):
        assert shown(app)[0] == "b1.204 b2.204"
        await press(pilot, "u", "2", "y")  # typed ahead: nothing is chosen, nothing confirmed
        assert isinstance(app.screen, DuplicatesScreen)
        [note] = [n.message for n in app._notifications]
        assert note.startswith("Both stay: the MIS holds this person twice (students records P1")
        assert "ask the school to merge the two records" in note
        assert {store.account(u).status for u in ("b1.204", "b2.204")} == {"active"}
        assert store.audit(HILL, subject="b2.204") == []


@pytest.fixture
def two_exports(tmp_path):
    return two_exports_estate(tmp_path / "data")


async def test_unallocating_one_of_two_linked_to_records_in_two_exports_says_it_comes_back(
    two_exports,
):
    """Each account linked to a record still in its school's export: the question said only
    that the record "comes to matching at the next run", as if the other account would take it."""
    from factories import DFE

    store = two_exports
    async with started(store, start=("duplicates", DFE)) as (app, pilot):
        await press(pilot, "u")
        await press(pilot, "1")
        assert isinstance(app.screen, Confirm)
        await pilot.pause(0.3)
        text = " ".join(screen_text(app).replace("│", " ").split())
        assert "where bcarter2.204, linked to students" in text
        assert "is no candidate: it comes back at every run while" in text


async def test_keeping_a_pair_the_mis_holds_twice_says_the_other_way_out(tmp_path):
    """`b` asked only "are two different people?" for a pair the school's MIS lists twice (whose
    unallocation is refused): the question says to leave it listed until the records merge."""
    store = held_twice_estate(tmp_path / "data")
    async with started(store, start=("duplicates", HILL)) as (app, pilot):
        await press(pilot, "b")
        text = " ".join(screen_text(app).split())
        assert "leave the pair listed until the school merges the records" in text
        await press(pilot, "n")
    assert store.kept_pairs() == set()


def test_snapshot_80x24(snap_compare, tmp_path):
    app = make_app(build_estate(tmp_path / "data"), start=("duplicates", HILL))
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle_picture)


async def test_every_school_from_the_command_palette(store):
    async with started(store, size=(100, 30)) as (app, pilot):
        await press(pilot, "ctrl+p")
        await type_text(pilot, "duplicates all")
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, DuplicatesScreen) and app.screen.dfe is None
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        assert "Possible duplicates: all schools | 2 pairs" in screen_text(app)


async def test_a_decision_takes_its_pairs_out_without_reading_every_school_again(
    store, monkeypatch
):
    """The review of every school reads the whole store (seconds at thousands of schools), and
    keys typed after a decision wait for the list it leaves: the pairs it settled leave the list,
    which is not read again (`g` does). Unallocating an account takes every pair it was in."""
    reads: list[str] = []
    real = store.la_people

    def counted(la, *args, **kwargs):
        reads.append(la)
        return real(la, *args, **kwargs)

    monkeypatch.setattr(store, "la_people", counted)
    async with started(store, start=("duplicates", None)) as (app, pilot):
        assert shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        before = len(reads)
        assert before > 0
        burst(app, "down", "u", "2", "y")  # the second pair: unallocate bcarter2.204
        await settle(pilot, 6)
        assert shown(app) == ["ajones.205 asmith.204"]
        assert store.account("bcarter2.204").status == "unallocated"
        assert "Possible duplicates: all schools | 1 pair" in screen_text(app)
        burst(app, "b", "y")
        await settle(pilot, 6)
        assert shown(app) == [] and "No possible duplicates" in screen_text(app)
        assert len(reads) == before  # no review of the whole store again
        await press(pilot, "g")  # read again on request: nothing left to review
        assert len(reads) > before and shown(app) == []
        again = len(reads)
        await press(pilot, "ctrl+p")  # another screen over it: read again once back
        await press(pilot, "escape")
        assert isinstance(app.screen, DuplicatesScreen) and len(reads) > again
    assert store.kept_pairs() == {("ajones.205", "asmith.204")}


async def test_every_schools_review_says_how_far_it_has_read(store, monkeypatch):
    """Every school's review reads the store one local authority at a time (seconds at
    thousands of schools): until its pairs are shown it says how far it has come; leaving while
    it reads is no error."""
    import threading
    import time

    read = store.la_people
    seen = threading.Event()  # the first authority's read waits until its progress was seen

    def la_people(*args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            return read(*args, **kwargs)
        if not seen.wait(20):  # (a read in progress past a test's glance, however loaded)
            raise AssertionError("the progress was never shown")
        time.sleep(0.3)  # the next ones as over a large store
        return read(*args, **kwargs)

    monkeypatch.setattr(store, "la_people", la_people)
    async with started(store, start=("school", VALE)) as (app, pilot):
        burst(app, "ctrl+p", *"duplicates", "space", *"all", "enter")

        def reading() -> str:
            screen = app.screen
            duplicates = getattr(screen, "kind", None) == "duplicates"
            return str(screen.query_one("#pair").render()) if duplicates else ""

        await wait_for(pilot, lambda: "local authority 1 of 2" in reading())
        seen.set()
        await wait_for(
            pilot, lambda: shown(app) == ["ajones.205 asmith.204", "bcarter.204 bcarter2.204"]
        )
        assert "local authority" not in screen_text(app)
        await press(pilot, "g")  # read again, and left while it reads
        await press(pilot, "escape")
        await settle(pilot, 4)
        assert app.screen.kind == "school" and not app._notifications


async def test_keeping_a_pair_kept_meanwhile_elsewhere_says_nothing_changed(store):
    from datetime import datetime

    from uso_tui.sync.duplicates import keep_both

    async with started(store, start=("duplicates", VALE), notifications=True) as (app, pilot):
        keep_both(store, "bcarter.204", "bcarter2.204", operator="bob", now=datetime(2026, 11, 28))
        await press(pilot, "b")
        await press(pilot, "y")
        await settle(pilot)
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "were already kept as different people" in said and "Kept bcarter" not in said
    assert [e.operator for e in store.audit(VALE, subject="bcarter2.204")] == ["bob"]


@pytest.mark.parametrize("keys", [("u", "2", "y"), ("b", "y")])
async def test_a_decision_on_a_pair_changed_since_the_list_was_read_is_refused(store, keys):
    """A run (or another operator) made one of the two someone else after the list was read:
    the stale row's unallocate, or keep (which held what no one looked at, and a later change
    did not list the pair again), is refused; the account stays as it is and the operator is
    told."""
    async with started(store, start=("duplicates", HILL), notifications=True) as (app, pilot):
        assert shown(app)[0] == "ajones.205 asmith.204"
        with store.transaction("bob") as tx:
            corrected = tx.account("asmith.204")
            corrected.forename, corrected.dob = "Kathryn", "2011-09-09"
            tx.put_accounts([corrected])
        await press(pilot, *keys)
        await settle(pilot)
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "asmith.204 changed since the list was read" in said
    kept = store.account("asmith.204")
    assert (kept.status, kept.forename, kept.school) == ("active", "Kathryn", HILL)
    assert not [
        e
        for e in store.audit(HILL, subject="asmith.204")
        if e.action in ("unallocate", "duplicate_keep")
    ]
    assert store.kept_pairs() == frozenset()


async def test_a_pair_with_two_names_shows_both(store):
    """The pair's Name showed the first account's name only: Amy Smith beside Amy Jones (one
    UPN) read as one name, as did Kamiński beside Kamńiski, the pair's very question."""
    async with started(store, start=("duplicates", HILL), size=(120, 30)) as (app, pilot):
        await wait_for(pilot, lambda: any("asmith.204" in key for key in shown(app)))
        table = app.screen.active_table()
        row = next(r for r in table.shown if "asmith.204" in r.key)
        # what differs, the forename they share once
        assert row.cells[2].plain in ("A Smith / Jones", "A Jones / Smith")
        carter = next(r for r in table.shown if "bcarter.204" in r.key)
        assert carter.cells[2].plain == "Ben Carter / Be[n] Carter[/]"  # literal, both


def test_a_pair_s_name_keeps_every_difference_and_is_literal():
    from uso_tui.domain.models import Account
    from uso_tui.tui.screens.duplicates import pair_name

    def a(forename, surname, preferred=""):
        return Account(username="x.204", role="pupil", forename=forename, surname=surname,
                       preferred_name=preferred, dob="2013-01-01", school="204-3210")  # fmt: skip

    assert pair_name(a("Wojciech", "Kamiński"), a("Wojciech", "Kamńiski")) == (
        "W Kamiński / Kamńiski"
    )
    # the preferred name was the one difference, and was dropped
    assert pair_name(a("Ben", "Carter", "Benny"), a("Ben", "Carter")) == "Ben (Benny) / Ben Carter"
    assert pair_name(a("Ben", None), a("Ben", "Carter")) == "B ? / Carter"  # not "None"
    assert "\x1b" not in pair_name(a("Amy", "Lee\x1b[31m"), a("Amy", "Leigh\n"))


def test_the_side_by_side_keeps_each_values_ends_and_its_own_height_at_80_columns():
    """Cut at the column's end, two long names differing at their end read as one
    ("Wolfeschlegel…" on both sides), and a link lost its school; a value of any length (a
    1,500-character known-as name from the MIS) is cut in its middle, not let push the list of
    pairs off the screen."""
    from rich.console import Console

    from uso_tui.domain.models import Account
    from uso_tui.tui.screens.duplicates import Pair, side_by_side

    long = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaft"

    def a(username, surname, preferred=""):
        return Account(username=username, role="pupil", forename=long, surname=surname,
                       preferred_name=preferred, dob="2013-01-01", school="204-3210",
                       mis_id="739095", link_school="204-2714", link_report="students")  # fmt: skip

    def shown(pair: Pair) -> list[str]:
        console = Console(width=76, record=True)  # the #pair box at 80x24
        console.print(side_by_side(pair))
        return console.export_text().splitlines()

    lines = shown(Pair(a("washworth.204", "Ashworth"), a("washworth9.204", "Ashford"), ()))
    labels = [line[:10].strip() for line in lines]

    def row(label: str, column: slice) -> str:  # a row's value in one column, read down
        first = labels.index(label)
        last = next((i for i in range(first + 1, len(lines)) if labels[i]), len(lines))
        return "".join(line[column].strip() for line in lines[first:last])

    left, right = slice(10, 43), slice(43, None)  # the label column 10 wide, then two of 33
    assert row("Name", left).endswith("Ashworth") and row("Name", right).endswith("Ashford")
    assert row("Name", left).startswith("Wolfeschlegelstein") and "…" in row("Name", left)
    assert row("MIS", left) == row("MIS", right) == "students record 739095 at204-2714"
    huge = shown(Pair(a("washworth.204", "Ashworth", "x" * 1500), a("w9.204", "Ashford"), ()))
    assert len(huge) <= len(lines) + 1
