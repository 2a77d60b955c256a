"""Pairs kept as different people, and a keep taken back (a keep made by mistake hid a real
duplicate for good): the store and its audit, `duplicates --kept` and `duplicate unkeep`, and the
console's list of kept pairs reached from the possible duplicates with `v`."""

from __future__ import annotations

from datetime import datetime

import pytest
from cli_support import snapshot
from test_duplicates import HILL, VALE, build_estate, pairs_of
from tui_helpers import burst, press, screen_text, settle, started

from uso_tui.sync.duplicates import keep_both, possible_duplicates
from uso_tui.sync.kept_apart import kept_apart, review_again
from uso_tui.tui.screens.duplicates import DuplicatesScreen
from uso_tui.tui.screens.kept_apart import KeptApartScreen
from uso_tui.tui.widgets import Confirm

KEPT_AT = datetime(2026, 11, 28, 9, 30, 0)
LATER = datetime(2026, 11, 30, 14, 0, 0)
PAIR = ("bcarter.204", "bcarter2.204")


@pytest.fixture
def store(tmp_path):
    estate = build_estate(tmp_path / "data")
    assert keep_both(estate, *PAIR, operator="alice", now=KEPT_AT)
    return estate


def test_kept_pairs_are_listed_with_who_kept_them_and_per_school(store):
    [kept] = kept_apart(store)
    assert kept.usernames == PAIR and (kept.by, kept.at) == ("alice", "2026-11-28T09:30:00")
    assert [a.username for a in kept.accounts] == list(PAIR)
    assert kept_apart(store, VALE) == [kept] and kept_apart(store, HILL) == [kept]
    assert kept_apart(store, "205-1000") == []


def test_a_keep_taken_back_lists_the_pair_again_and_is_audited(store):
    assert PAIR not in pairs_of(possible_duplicates(store))
    assert review_again(store, "bcarter2.204", "bcarter.204", operator="bob", now=LATER)
    assert store.kept_pairs() == frozenset() and kept_apart(store) == []
    assert PAIR in pairs_of(possible_duplicates(store))
    for username, school, other in (
        ("bcarter.204", HILL, "bcarter2.204"),
        ("bcarter2.204", VALE, "bcarter.204"),
    ):
        newest = store.audit(school, subject=username)[0]
        assert (newest.operator, newest.action, newest.after) == (
            "bob",
            "duplicate_review_again",
            {"no_longer_kept_apart_from": other},
        )
    before = snapshot(store.root)
    assert not review_again(store, *PAIR, operator="bob", now=LATER)
    assert snapshot(store.root) == before  # not kept: nothing written, nothing audited


def test_a_desk_operator_may_take_a_keep_back_as_they_may_keep(store):
    (store.root / "operators.json").write_text('{"dan": {"role": "desk", "keys": []}}')
    assert review_again(store, *PAIR, operator="dan", now=LATER)
    assert store.audit(VALE, subject="bcarter2.204")[0].operator == "dan"


@pytest.fixture
def cli(cli_at, store):
    return cli_at(store.root)


def test_cli_lists_kept_pairs_and_takes_one_back(cli, store):
    out = cli.ok("duplicates", "--kept").out
    assert "kept as different people by alice" in out and "Be[n] Carter[/]" in out
    assert "duplicate unkeep" in out
    data = cli.ok("duplicates", "--kept", VALE, "--json").json()
    assert [d["accounts"] for d in data] == [list(PAIR)]  # as `duplicates --json` gives them
    assert [[a["username"] for a in d["account_details"]] for d in data] == [list(PAIR)]
    assert data[0]["kept_by"] == "alice"
    csv = cli.ok("export", "kept", VALE).out.splitlines()
    assert csv == [
        "accounts,kept_by,kept_at",
        '"bcarter.204; bcarter2.204","alice","2026-11-28T09:30:00"',
    ]
    res = cli.ok("duplicate", "unkeep", *PAIR)
    assert "listed for review again" in res.out
    assert PAIR in {tuple(d["accounts"]) for d in cli.ok("duplicates", "--json").json()}
    # again: nothing to do, said; the same exit status with and without --json
    again = cli("duplicate", "unkeep", *PAIR)
    assert again.status == 0 and "were not kept" in again.err and again.out == ""
    as_json = cli("duplicate", "unkeep", *PAIR, "--json")
    assert as_json.status == 0 and as_json.json()["was_kept"] is False
    assert "no pairs kept" in cli.ok("duplicates", "--kept").err
    # a mistyped name, or one account named twice, is bad input (as for keep), not "not kept"
    for bad in (("nobody.204", PAIR[0]), (PAIR[0], PAIR[0])):
        for extra in ((), ("--json",)):
            res = cli("duplicate", "unkeep", *bad, *extra)
            assert res.status == 2 and res.out == "", (bad, extra, res.err)
    assert "unknown account" in cli("duplicate", "unkeep", "nobody.204", PAIR[0]).err


async def test_the_console_takes_a_keep_back_from_the_duplicates_review(store):
    async with started(store, start=("duplicates", VALE)) as (app, pilot):
        assert "No possible duplicates" in screen_text(app)
        await press(pilot, "v")
        assert isinstance(app.screen, KeptApartScreen)
        text = screen_text(app)
        assert "1 pair" in text and "Be[n] Carter[/]" in text and "by alice" in text
        await press(pilot, "e")  # the list as CSV in the data directory's exports/
        [written] = (store.root / "exports").glob("kept-*.csv")
        assert '"bcarter.204; bcarter2.204","alice"' in written.read_text()
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm) and "bcarter2.204" in screen_text(app)
        await press(pilot, "n")
        assert store.kept_pairs() == {PAIR}
        # typed ahead: the question, its answer and the way back in one burst
        burst(app, "r", "y", "escape")
        await settle(pilot, 4)
        assert isinstance(app.screen, DuplicatesScreen)
        assert store.kept_pairs() == frozenset()
        await settle(pilot)
        assert [r.key for r in app.screen.active_table().shown] == [" ".join(PAIR)]


async def test_v_r_y_typed_at_once_take_back_nothing_not_yet_seen(store):
    """The list opened by `v` is read in a thread: `r` and `y` typed with it wait for its rows,
    then take back nothing (typed before the pair showed); pressed once it shows, they do."""
    async with started(store, "duplicates", VALE) as (app, pilot):
        burst(app, "v", "r", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, KeptApartScreen)
        assert store.kept_pairs() != frozenset()
        burst(app, "r", "y")
        await settle(pilot, 6)
    assert store.kept_pairs() == frozenset()


async def test_a_keep_taken_back_elsewhere_meanwhile_is_said_so(store):
    """Two consoles on one list: the second `r y` finds the pair no longer kept, says so, and
    the list drops it; nothing is written twice."""
    async with started(store, "kept", VALE, notifications=True) as (app, pilot):
        assert [r.key for r in app.screen.active_table().shown] == [" ".join(PAIR)]
        assert review_again(store, *PAIR, operator="bob", now=LATER)  # the other console
        before = len(store.audit(VALE))
        burst(app, "r", "y")
        await settle(pilot, 4)
        said = [str(n.message) for n in app._notifications]  # noqa: SLF001 - no public reader
        assert any("no longer kept apart" in line for line in said)
        assert app.screen.active_table().shown == []
    assert len(store.audit(VALE)) == before


async def test_a_pair_is_taken_back_only_once_seen(tmp_path):
    """`r` `y` `r` `y` in one burst took back both kept pairs: the second `r` acted on the pair
    that took the first's place, never highlighted. It does nothing now."""
    from test_duplicates import HILL, build_estate
    from tui_helpers import burst, press, settle, started

    store = build_estate(tmp_path / "data")
    async with started(store, "duplicates", HILL) as (app, pilot):
        await press(pilot, "b", "y")
        await pilot.pause(0.05)
        await press(pilot, "b", "y")
    assert len(store.kept_pairs()) == 2
    async with started(store, "kept", HILL) as (app, pilot):
        burst(app, "r", "y", "r", "y")
        await settle(pilot, 8)
    assert len(store.kept_pairs()) == 1
