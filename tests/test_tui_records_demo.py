"""The records screens end to end on the demo store: a force run against the simulator, then its
bulk results, restoring what it unallocated, the non-MIS review of the restored account, the user
search and account history, the run history and the audit log, all through the console's keys."""

from __future__ import annotations

from tui_helpers import OPERATOR, answer_force_run, press, screen_text, settle, started

from uso_tui.tui.screens.listing import ListTable
from uso_tui.tui.widgets import Confirm


def rows(app, selector: str | None = None) -> list:
    table = app.screen.query_one(selector, ListTable) if selector else app.screen.active_table()
    return table.shown


def put_cursor(app, key: str) -> None:
    table = app.screen.active_table()
    table.move_cursor(row=table.get_row_index(key))


async def test_force_run_then_bulk_results_restore_review_search_history(demo):
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await pilot.press("f")
        await answer_force_run(pilot)
        await settle(pilot, 3)
        run = app.screen.final
        assert run is not None and run.status == "held" and run.held_usernames
        await press(pilot, "y")
        await press(pilot, "y")  # confirm the held unallocations
        held = run.held_usernames

        # bulk results from the school hub: the run's file, every record with its outcome
        await press(pilot, "escape")
        assert app.screen.kind == "school"
        await press(pilot, "b")
        screen = app.screen
        assert screen.kind == "bulk_results" and screen.data.run.run_id == run.run_id
        pf = store.processed_file(run.run_id)
        assert len(rows(app, "#t-file")) == len(pf.records) == run.counts["fetched"]
        outcomes = {r.data["outcome"] for r in rows(app, "#t-file")}
        assert outcomes <= {
            "unchanged", "updated", "created", "auto_linked", "restored", "needs_matching",
            "future", "invalid", "excluded", "leaver",
        }  # fmt: skip
        assert run.run_id in screen_text(app)
        # not matched = the school's open cases, by role
        cases = store.cases(dfe)
        staff_cases = {c.case_id for c in cases if c.role == "staff"}
        assert {r.key for r in rows(app, "#t-staff")} == staff_cases
        assert len(rows(app, "#t-pupils")) == len(cases) - len(staff_cases)
        assert len(rows(app, "#t-future")) == sum(1 for r in pf.records if r["outcome"] == "future")
        assert len(rows(app, "#t-rejected")) == sum(
            1 for r in pf.records if r["outcome"] == "invalid"
        )

        # restore the first account the run unallocated
        await press(pilot, "4")
        assert set(held) <= {r.key for r in rows(app)}
        username = held[0]
        put_cursor(app, username)
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm) and username in screen_text(app)
        await press(pilot, "y")
        acc = store.account(username)
        assert (acc.status, acc.school, acc.mis_id) == ("active", dfe, None)
        assert username not in {r.key for r in rows(app)}

        # the restored account waits in the non-MIS review: keep it
        app.open_screen("non_mis", dfe)
        await settle(pilot)
        assert username in {r.key for r in rows(app)}
        put_cursor(app, username)
        await press(pilot, "r")
        assert store.account(username).reviewed

        # find it and read its history
        app.open_screen("users")
        await settle(pilot)
        await pilot.press("slash")
        for ch in username:
            await pilot.press(ch if ch != "." else "full_stop")
        await press(pilot, "enter", rounds=3)
        assert [r.key for r in rows(app, "#hits")] == [username]
        await press(pilot, "enter")
        actions = [r.data.action for r in rows(app)]
        assert {"unallocate", "restore", "review"} <= set(actions)
        assert actions.index("restore") < actions.index("unallocate")  # newest first

        # the run in the school's history, the decisions in its audit log
        app.open_screen("history", dfe)
        await settle(pilot)
        assert rows(app)[0].key == run.run_id
        app.open_screen("audit", dfe)
        await settle(pilot)
        mine = [r.data for r in rows(app) if r.data.operator == OPERATOR]
        assert {"restore", "review"} <= {e.action for e in mine}
