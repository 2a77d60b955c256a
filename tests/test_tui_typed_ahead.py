"""Keys typed ahead over a slow link end where the same keys pressed one at a time end: each
sequence is run twice on copies of the demo store after its runs, once key by key (each key's
work finished before the next) and once in one burst with every store read made in a thread
slowed (as over a large store), and the two end states are compared: the screen, the focus,
the audit log's length and which of each school's cases are open. But a case is decided only
by a key read once it showed: a decision typed before (`m` `y` with the key that opens the
queue) decides nothing, nor do the keys after it (BLIND)."""

from __future__ import annotations

import shutil

import pytest
from tui_helpers import burst, settle, slowed, started

from uso_tui.store import open_store

# From the schools list, across the screens whose keys start work in a thread; each sequence
# changes something (a decision, a run, an account) or opens a screen from loaded rows.
SEQUENCES = [
    "j enter h enter",
    "j enter a enter",
    "j enter b 4 r y",
    "ctrl+p m a t c h i n g enter m y",
    "j enter r A d a enter L o v e enter 2 0 1 6 - 0 1 - 0 1 enter y",
    "slash t h o r n enter enter m y",
    "u w s m i enter enter",
    "j j enter f y",
]

# Typed ahead, each deciding a case before it showed: in one burst it ends where the keys
# before that decision end, pressed one at a time (the rest dropped, the console says so).
BLIND = [
    ("j j enter m m y", "j j enter m"),
    ("j enter d b y", "j enter d"),
    ("j j enter m g s m y", "j j enter m g s"),
    ("j j enter m m y g s m y", "j j enter m"),
    ("j j enter m v s m y", "j j enter m v s"),
    ("j j enter m c y", "j j enter m"),
    ("j j enter f y escape m m y", "j j enter f y escape m"),
    (
        "ctrl+p m a t c h i n g space 2 7 1 4 enter m y",
        "ctrl+p m a t c h i n g space 2 7 1 4 enter",
    ),
]


def end_state(app, store) -> list:
    """The screen and focus, the audit log's length, each school's open cases."""
    out = [type(app.screen).__name__, getattr(app.focused, "id", None), len(store.audit(None))]
    out += [
        (s.dfe, sorted(c.case_id for c in store.cases(s.dfe, "open"))) for s in store.list_schools()
    ]
    return out


async def keys_had_their_turn(app, pilot, rounds: int, also=lambda: True) -> None:
    """The burst's keys and the work they start, in turn, until every key has had its turn and
    `also()` holds (bounded: a key left waiting for ever fails what the test compares)."""
    for _ in range(rounds):
        await pilot.pause(0.05)
        await settle(pilot, 2)
        if also() and not app._key_turn and not app._held_keys:  # noqa: SLF001 - no public reader
            break
    await settle(pilot, 3)


@pytest.mark.parametrize("seq", SEQUENCES)
async def test_typed_ahead_ends_where_key_by_key_ends(demo_ran, seq, tmp_path, monkeypatch):
    await _burst_ends_where(demo_ran, seq, seq, tmp_path, monkeypatch)


@pytest.mark.parametrize(("seq", "seen"), BLIND)
async def test_a_case_is_never_decided_by_a_key_typed_before_it_showed(
    demo_ran, seq, seen, tmp_path, monkeypatch
):
    """`m` `m` `y` from a school's hub in one burst matched the queue's first case, which no one
    had seen (nor had the `m` `y` of `m y m y` seen the second case, typed while the first
    was saved): over a slow link, the second press of a key that seems not to have worked."""
    messages = await _burst_ends_where(demo_ran, seq, seen, tmp_path, monkeypatch)
    assert any(
        "showed after them; look at it, then decide" in m
        or "came there after them; look at it, then act" in m
        for m in messages
    )


def _copy_of(demo_ran, tmp_path):
    """The demo store after its runs, copied for one test to change."""
    root = tmp_path / "copy"
    shutil.copytree(demo_ran.store.root, root)
    return open_store(root)


def _runs_of(store) -> dict[str, int]:
    """How many runs each school has (a run started shows as one more)."""
    return {s.dfe: len(store.runs(s.dfe)) for s in store.list_schools()}


async def _burst_ends_where(demo_ran, seq: str, seen: str, tmp_path, monkeypatch) -> list[str]:
    """`seq` in one burst ends where `seen` pressed key by key ends; the burst's notices."""
    one_by_one, typed_ahead = tmp_path / "one", tmp_path / "burst"
    shutil.copytree(demo_ran.store.root, one_by_one)
    shutil.copytree(demo_ran.store.root, typed_ahead)
    store = open_store(one_by_one)
    async with started(store) as (app, pilot):
        before = end_state(app, store)
        for key in seen.split():
            await pilot.press(key)
            await settle(pilot, 3)
        expected = end_state(app, store)
    assert expected != before  # the sequence does something
    store = open_store(typed_ahead)
    slowed(monkeypatch, store)
    async with started(store, notifications=True) as (app, pilot):
        burst(app, *seq.split())
        await keys_had_their_turn(app, pilot, 200)
        assert end_state(app, store) == expected
        return [n.message for n in app._notifications]  # noqa: SLF001


async def test_queue_opened_while_its_run_goes_decides_none_of_the_cases_the_run_opens(demo):
    """`m` typed while the school's force run still goes opens its queue before the run has
    opened any case: the `m y` typed with it wait for the cases the run opens (never spent on
    an empty queue), and then decide none of them (typed before any showed: the first case was
    matched, and no one had seen it)."""
    demo.sim.set_switches(latency=0.15)  # the run takes a moment: a few requests
    store = demo.store
    async with started(store, notifications=True) as (app, pilot):
        burst(app, "j", "j", "enter", "f", "y", "m", "m", "y")

        def runs_done() -> bool:
            runs = list(app.live_runs.values())
            return bool(runs) and all(run.done for run in runs)

        await keys_had_their_turn(app, pilot, 300, runs_done)
        (dfe,) = app.live_runs
        assert type(app.screen).__name__ == "MatchingScreen"
        assert app.screen.case is not None  # the run's cases show
        messages = [n.message for n in app._notifications]  # noqa: SLF001
    assert not store.cases(dfe, "resolved")
    assert any("showed after them; look at it, then decide" in m for m in messages)


async def test_escape_in_the_schools_filter_leaves_it_for_the_list(demo):
    """`/ t h o r escape u`: the escape cleared the filter but kept its box focused, so the `u`
    (Users, as the footer said) was typed into the filter."""
    async with started(demo.store) as (app, pilot):
        burst(app, "slash", "t", "h", "o", "r", "escape", "u")
        await keys_had_their_turn(app, pilot, 100)
        assert type(app.screen).__name__ == "UsersScreen"


async def test_a_key_pressed_once_the_queue_shows_during_its_run_acts_at_once(demo):
    """The queue opened while its school's run goes, nothing typed ahead: escape pressed once it
    shows leaves it at once (it was held until the run ended, then dropped)."""
    demo.sim.set_switches(latency=1.0)  # the run outlasts the keys below
    async with started(demo.store) as (app, pilot):
        burst(app, "j", "j", "enter", "f", "y", "m")
        for _ in range(200):  # no settle: it would wait for the run itself
            await pilot.pause(0.02)
            screen = app.screen
            if type(screen).__name__ == "MatchingScreen":
                shown = screen.query("#case-record")  # (none yet while the screen composes)
                if shown and not shown.first().has_class("loading"):
                    break
        assert type(app.screen).__name__ == "MatchingScreen"
        assert any(not run.done for run in app.live_runs.values())
        await pilot.press("escape")
        for _ in range(50):
            await pilot.pause(0.02)
            if type(app.screen).__name__ != "MatchingScreen":
                break
        assert type(app.screen).__name__ != "MatchingScreen"
        assert any(not run.done for run in app.live_runs.values())  # before the run ended
        for run in app.live_runs.values():
            run.cancel.set()
        await settle(pilot, 3)


@pytest.mark.parametrize("to_list", ["down", "tab"])
async def test_why_moving_to_the_list_typed_ahead_acts_on_the_search_just_typed(demo_ran, to_list):
    """`w`, one name searched, then another typed with `down enter`: down moved to the list
    before the new search ran, and enter opened the first name's case (`m y` then matched a
    case the operator never saw)."""
    store = demo_ran.store
    one, other = [
        c for s in store.list_schools() for c in store.cases(s.dfe, "open") if c.candidates
    ][:2]

    def name(case) -> list[str]:
        return list(f"{case.record['forename']} {case.record['surname']}".lower())

    async with started(store, "why") as (app, pilot):
        burst(app, *name(one))
        await keys_had_their_turn(app, pilot, 50)
        assert one.record["surname"] in [row.data.surname for row in app.screen.hits_table.shown]
        burst(app, "ctrl+u", *name(other), to_list, "enter")
        await keys_had_their_turn(app, pilot, 100)
        screen = app.screen
        assert type(screen).__name__ == "MatchingScreen"
        assert screen.cases[screen.index].case_id == other.case_id


@pytest.mark.parametrize("then", ["f y", "enter f y", "m"])
async def test_a_filter_of_several_schools_acts_on_none_typed_after_it(demo_ran, then, tmp_path):
    """`/` `catholic` `enter` `f` `y` in one burst: the filter hid the school at the cursor and
    left it on one of three matches the operator never saw, which was run (or opened, and run
    from its hub). The key acting on it does nothing, nor do those after it; the console says
    so. Pressed once the list shows, the same keys act on the school highlighted."""
    from uso_tui.tui.screens.schools import SchoolsScreen

    store = _copy_of(demo_ran, tmp_path)
    runs = _runs_of(store)
    async with started(store, notifications=True) as (app, pilot):
        table = app.screen.query_one("VirtualTable")
        table.move_cursor(
            next(i for i, r in enumerate(table.items) if "catholic" not in r.haystack)
        )
        await settle(pilot)
        burst(app, "slash", *"catholic", "enter", *then.split())
        await keys_had_their_turn(app, pilot, 200)
        assert isinstance(app.screen, SchoolsScreen)
        assert app.screen.query_one("VirtualTable").row_count > 1
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the school at the cursor came there after them" in m for m in said), said
        assert _runs_of(store) == runs
        await pilot.press(then.split()[0])
        await settle(pilot, 3)
        assert not isinstance(app.screen, SchoolsScreen)  # seen, the key acts


async def test_a_palette_refused_over_a_question_takes_the_keys_typed_for_it(demo_ran, tmp_path):
    """ctrl+p `why` enter over the held run's review: the palette does not open over a question,
    and the `y` of its search confirmed the run (its unallocations made). The keys typed for the
    palette are dropped, and the console says so."""
    store = _copy_of(demo_ran, tmp_path)
    dfe = "204-2308"
    before = [(r.run_id, r.status) for r in store.runs(dfe)]
    async with started(store, notifications=True) as (app, pilot):
        for key in ("j", "enter", "h", "c"):
            await pilot.press(key)
            await settle(pilot, 4)
        assert type(app.screen).__name__ == "HeldReview"
        burst(app, "ctrl+p", *"why", "enter")
        await keys_had_their_turn(app, pilot, 200)
        assert type(app.screen).__name__ == "HeldReview"
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the palette does not open over a question" in m for m in said), said
    assert [(r.run_id, r.status) for r in store.runs(dfe)] == before


async def test_a_y_typed_after_q_does_not_quit_over_a_run_it_could_not_see(demo):
    """`f y escape escape q y` in one burst: the `y` answered "Quit while a run is going?" at
    once, cancelling the run and closing the console; the operator typing `q` could not know
    a run was still going."""
    demo.sim.set_switches(latency=1.0)  # the run outlasts the keys
    async with started(demo.store, notifications=True) as (app, pilot):
        burst(app, "j", "j", "enter", "f", "y", "escape", "escape", "q", "y")
        for _ in range(200):
            await pilot.pause(0.02)
            if type(app.screen).__name__ == "Confirm":
                break
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "Confirm" and app.is_running
        assert all(not run.cancel.is_set() for run in app.live_runs.values())
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("dropped" in m and "quitting cancels it" in m for m in messages)
        for run in app.live_runs.values():
            run.cancel.set()
        await settle(pilot, 3)


async def test_c_typed_with_the_keys_that_start_a_run_does_not_cancel_it(demo):
    """`f y c` typed ahead on a school's hub (c: its calendar) cancelled the run it started,
    without a word: the operator never saw the run screen."""
    demo.sim.set_switches(latency=0.3)
    async with started(demo.store, notifications=True) as (app, pilot):
        burst(app, "j", "j", "enter", "f", "y", "c")

        def runs_done() -> bool:
            runs = list(app.live_runs.values())
            return bool(runs) and all(run.done for run in runs)

        await keys_had_their_turn(app, pilot, 300, runs_done)
        (live,) = app.live_runs.values()
        assert not live.cancel.is_set() and live.result.run.status != "cancelled"
        messages = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("dropped: the run had not shown" in m for m in messages)


async def test_a_school_opened_from_the_palette_is_not_left_for_the_list_s_keys_unseen(
    demo_ran, tmp_path
):
    """Thornbury highlighted, Beechwood opened from the palette, then `escape` `f` `y` in one
    burst: the list's `f` read the row the cursor had been left on, and Thornbury was run,
    never named on screen (the `y` answered its question). The list comes back on the school
    last shown, and a key read before it did acts on none; once seen, `f` runs that school."""
    from uso_tui.tui.screens.schools import SchoolsScreen

    store = _copy_of(demo_ran, tmp_path)
    runs = _runs_of(store)
    async with started(store, notifications=True) as (app, pilot):
        table = app.screen.query_one("VirtualTable")
        table.move_cursor(next(i for i, r in enumerate(table.items) if "thornbury" in r.haystack))
        await settle(pilot)
        for key in ("ctrl+p", *"beechwood", "enter"):
            await pilot.press(key)
            await settle(pilot, 3)
        beechwood = app.screen.dfe
        assert "Beechwood" in store.school(beechwood).name
        burst(app, "escape", "f", "y")
        await keys_had_their_turn(app, pilot, 200)
        assert isinstance(app.screen, SchoolsScreen)
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the school at the cursor came there after them" in m for m in said), said
        assert _runs_of(store) == runs
        assert app.screen.query_one("VirtualTable").cursor_key == beechwood
        await pilot.press("f")
        await settle(pilot, 3)
        assert "Force run " + beechwood in str(app.screen.query_one(".dialog-title").render())


async def test_a_list_filtered_to_one_school_acts_on_it_only_once_seen_again(demo_ran, tmp_path):
    """The same, the list filtered to Thornbury alone: a filter of one school acts on the
    school it names, which let `escape` `f` `y` run Thornbury after Beechwood's screens."""
    store = _copy_of(demo_ran, tmp_path)
    runs = _runs_of(store)
    async with started(store, notifications=True) as (app, pilot):
        for key in ("slash", *"thornbury", "enter", "ctrl+p", *"beechwood", "enter"):
            await pilot.press(key)
            await settle(pilot, 3)
        assert app.screen.dfe != "204-2714"
        burst(app, "escape", "f", "y")
        await keys_had_their_turn(app, pilot, 200)
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the school at the cursor came there after them" in m for m in said), said
        assert _runs_of(store) == runs
