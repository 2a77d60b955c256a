"""The schools list at estate scale: the first page is drawn before every row is in, the rest
arrives in steps between frames, and sorting, filtering and the cursor stay right meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from tui_helpers import make_app, settle

from uso_tui.domain.models import School
from uso_tui.store import open_store
from uso_tui.tui.growing_table import GrowingTable
from uso_tui.tui.screens import schools as schools_screen

N = 2_000


def many_schools(n: int) -> list[School]:
    out = []
    for i in range(n):
        dfe = f"{201 + i // 9000:03d}-{1000 + i % 9000:04d}"
        out.append(
            School(
                dfe=dfe,
                name=f"{['Oak', 'Ash', 'Elm'][i % 3]} {i:05d} Primary",
                mis="iSAMS" if i % 2 else "Ed:gen",
                url=f"https://s{i}.isams.cloud",
                client_id=f"c{i}",
                open_cases=1 if i % 7 == 0 else 0,
                last_run_status=["failed", "held", "succeeded", None][i % 4],
            )
        )
    return out


@pytest.fixture
def big_store(tmp_path, monkeypatch):
    store = open_store(tmp_path / "store")
    rows = many_schools(N)
    monkeypatch.setattr(store, "list_schools", lambda: list(rows))
    return store, rows


def shown_keys(table: GrowingTable) -> list[str]:
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


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


async def test_first_page_is_drawn_before_every_row_is_in(big_store):
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: getattr(app.screen, "kind", "") == "schools")
        table = app.screen.query_one(GrowingTable)
        seen: list[int] = []
        await until(lambda: seen.append(table.row_count) or table.row_count > 0)
        first = table.row_count
        assert 30 <= first < N  # at least a screenful, not the whole list
        # the rows shown first are the top of the problems-first order
        assert shown_keys(table) == expected(rows, "attention")[:first]
        await until(lambda: seen.append(table.row_count) or not table.filling)
        assert table.row_count == N
        assert shown_keys(table) == expected(rows, "attention")
        # the rest came in several steps, not in one go
        assert len({c for c in seen if 0 < c < N}) >= 3
        await settle(pilot)


async def test_cursor_follows_its_school_through_a_sort_of_a_long_list(big_store):
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(GrowingTable)
        await until(lambda: not table.filling)
        target = max(s.dfe for s in rows)  # last by DfE: its row arrives in the last step
        table.move_cursor(row=table.get_row_index(target))
        await pilot.press("s")  # by DfE
        await until(lambda: not table.filling)
        order = expected(rows, "dfe")
        assert shown_keys(table) == order
        assert table.cursor_row == order.index(target)
        assert screen.selected() == target


async def test_a_key_typed_while_rows_arrive_moves_the_cursor_and_it_stays(big_store):
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(GrowingTable)
        await until(lambda: not table.filling)
        table.move_cursor(row=table.get_row_index(max(s.dfe for s in rows)))
        screen.action_sort()  # by DfE: the school under the cursor arrives in a later step
        assert table.filling and table.cursor_row == 0
        await pilot.press("j")
        await until(lambda: not table.filling)
        assert table.cursor_row == 1  # not pulled back to the school it was on
        assert screen.selected() == expected(rows, "dfe")[1]


async def test_a_long_list_sorts_in_a_thread_and_filters_in_order(big_store, monkeypatch):
    monkeypatch.setattr(schools_screen, "INLINE_SORT_ROWS", 100)
    store, rows = big_store
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(GrowingTable)
        await pilot.press("s", "s", "r")  # by name, reversed
        await settle(pilot)
        await until(lambda: not table.filling)
        assert shown_keys(table) == expected(rows, "name", reverse=True)
        await pilot.press("slash", *"oak 001", "enter")
        await settle(pilot)
        await until(lambda: not table.filling)
        want = [
            s.dfe
            for s in sorted(rows, key=schools_screen.sort_key("name"), reverse=True)
            if "oak" in s.name.casefold() and "001" in f"{s.dfe} {s.name}".casefold()
        ]
        assert want and shown_keys(table) == want
