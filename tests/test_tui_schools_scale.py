"""The schools list at estate scale: every row is in the table at once while only the lines on
screen are drawn, and sorting, filtering, the cursor and typed keys stay right."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager

import pytest
from tui_helpers import burst, make_app, screen_text, settle

from uso_tui.domain.models import School
from uso_tui.store import open_store
from uso_tui.tui.screens import schools as schools_screen
from uso_tui.tui.virtual_table import VirtualTable

SCHOOLS = 2_000


def many_schools(count: int) -> list[School]:
    out = []
    for index in range(count):
        dfe = f"{201 + index // 9000:03d}-{1000 + index % 9000:04d}"
        out.append(
            School(
                dfe=dfe,
                name=f"{['Oak', 'Ash', 'Elm'][index % 3]} {index:05d} Primary",
                mis="iSAMS" if index % 2 else "Ed:gen",
                url=f"https://s{index}.isams.cloud",
                client_id=f"c{index}",
                open_cases=1 if index % 7 == 0 else 0,
                last_run_status=["failed", "held", "succeeded", None][index % 4],
            )
        )
    return out


@pytest.fixture
def big_store(tmp_path, monkeypatch):
    store = open_store(tmp_path / "store")
    rows = many_schools(SCHOOLS)
    monkeypatch.setattr(store, "list_schools", lambda: list(rows))
    return store, rows


@pytest.fixture(params=["inline", "thread"])
def arranged(request, monkeypatch) -> str:
    """Both ways a list is sorted and filtered: on the event loop (short) and in a thread (long)."""
    if request.param == "thread":
        monkeypatch.setattr(schools_screen, "INLINE_ROWS", 100)
    return request.param


@asynccontextmanager
async def schools_list(store, size: tuple[int, int] = (100, 30)):
    """The console on its schools list, settled: (app, pilot, screen, table)."""
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield app, pilot, app.screen, app.screen.query_one(VirtualTable)


def shown_keys(table: VirtualTable) -> list[str]:
    return [table.key_at(i) for i in range(table.row_count)]


async def until(predicate, timeout: float = 20.0) -> None:
    """Yields to the loop one turn at a time until predicate() holds (fails after timeout s)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0)


def expected(rows: list[School], by: str, reverse: bool = False) -> list[str]:
    key = schools_screen.sort_key(by)
    return [s.dfe for s in sorted(rows, key=key, reverse=reverse)]


async def test_every_row_is_in_at_once_and_only_the_lines_on_screen_are_drawn(
    big_store, monkeypatch
):
    drawn: list[str] = []
    cells = schools_screen.school_cells

    def counting(school, wide):
        drawn.append(school.dfe)
        return cells(school, wide)

    monkeypatch.setattr(schools_screen, "school_cells", counting)
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        assert table.row_count == SCHOOLS
        assert shown_keys(table) == expected(rows, "attention")
        # a screenful of rows drawn (header, filter line, title, footer take the rest)
        assert set(drawn) == set(expected(rows, "attention")[: len(set(drawn))])
        assert 20 <= len(set(drawn)) < 30
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor_row == SCHOOLS - 1
        assert expected(rows, "attention")[-1] in screen_text(app)
        assert len(set(drawn)) < 60  # the last page, not the rows between


async def test_cursor_follows_its_school_through_a_sort_of_a_long_list(big_store, arranged):
    store, rows = big_store
    async with schools_list(store) as (app, pilot, screen, table):
        target = max(s.dfe for s in rows)  # last by DfE
        table.move_cursor(row=table.index_of(target))
        await pilot.press("s")  # by DfE
        await settle(pilot)
        order = expected(rows, "dfe")
        assert shown_keys(table) == order
        assert table.cursor_row == order.index(target) == SCHOOLS - 1
        assert screen.selected() == target
        assert target in screen_text(app)  # scrolled to where the school now is


async def test_keys_typed_ahead_move_through_a_long_list_in_turn(big_store):
    store, rows = big_store
    async with schools_list(store) as (app, pilot, screen, table):
        page = table.scrollable_content_region.height - 1  # rows under the header
        burst(app, "s", "pagedown", "j", "j", "k", "pagedown")
        await settle(pilot)
        assert screen.sort_by == "dfe"
        assert table.cursor_row == 2 * page + 1
        assert screen.selected() == expected(rows, "dfe")[2 * page + 1]
        burst(app, "end", "k", "home", "j")
        await settle(pilot)
        assert table.cursor_row == 1


async def test_a_key_typed_while_a_long_list_is_sorted_moves_on_the_list_shown(
    big_store, monkeypatch
):
    """The sort of a long list arrives later: a key typed meanwhile moves the cursor on the list
    on screen, and the cursor then follows the school it moved to."""
    monkeypatch.setattr(schools_screen, "INLINE_ROWS", 100)
    store, rows = big_store
    async with schools_list(store) as (app, pilot, screen, table):
        sorting = threading.Event()
        sort_rows = schools_screen.sort_rows

        def held_sort(rows, by):
            sorting.wait(10)
            return sort_rows(rows, by)

        monkeypatch.setattr(schools_screen, "sort_rows", held_sort)
        burst(app, "s", "j")
        await until(lambda: table.cursor_row == 1)
        assert screen.sort_by == "dfe" and shown_keys(table) == expected(rows, "attention")
        sorting.set()
        await settle(pilot)
        moved_to = expected(rows, "attention")[1]
        assert shown_keys(table) == expected(rows, "dfe")
        assert screen.selected() == moved_to
        assert table.cursor_row == expected(rows, "dfe").index(moved_to)


async def test_a_school_filtered_out_leaves_the_cursor_in_range_and_back_on_it_after(
    big_store, arranged
):
    store, rows = big_store
    async with schools_list(store) as (app, pilot, screen, table):
        table.move_cursor(row=SCHOOLS - 1)
        target = table.cursor_key
        await pilot.press("slash", *"oak 0001", "enter")
        await settle(pilot)
        assert 0 < table.row_count < SCHOOLS and target not in shown_keys(table)
        assert 0 <= table.cursor_row < table.row_count
        assert screen.selected() == table.key_at(table.cursor_row)
        table.move_cursor(row=0)
        kept = table.cursor_key
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == SCHOOLS and screen.selected() == kept


async def test_a_click_on_a_row_opens_its_school(big_store):
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        await pilot.click(VirtualTable, offset=(20, 3))  # the third row under the header
        await settle(pilot)
        assert app.screen.kind == "school"
        assert app.screen.dfe == expected(rows, "attention")[2]
        assert table.cursor_row == 2


async def test_names_that_look_like_markup_are_shown_as_they_are(tmp_path, monkeypatch):
    store = open_store(tmp_path / "store")
    rows = many_schools(3)
    rows[0].name = "Anna [bold]Lee[/bold] [/foo]"
    monkeypatch.setattr(store, "list_schools", lambda: list(rows))
    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert "Anna [bold]Lee[/bold] [/foo]" in screen_text(app)


async def test_a_long_list_sorts_in_a_thread_and_filters_in_order(big_store, monkeypatch):
    monkeypatch.setattr(schools_screen, "INLINE_ROWS", 100)
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(VirtualTable)
        await pilot.press("s", "s", "r")  # by name, reversed
        await settle(pilot)
        assert shown_keys(table) == expected(rows, "name", reverse=True)
        await pilot.press("slash", *"oak 001", "enter")
        await settle(pilot)
        want = [
            s.dfe
            for s in sorted(rows, key=schools_screen.sort_key("name"), reverse=True)
            if "oak" in s.name.casefold() and "001" in f"{s.dfe} {s.name}".casefold()
        ]
        assert want and shown_keys(table) == want
