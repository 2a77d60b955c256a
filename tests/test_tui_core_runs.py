"""Force runs and the matching queue, end to end on the demo store and its simulator."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime

import pytest
from test_tui_safety2 import said_lines
from tui_helpers import (
    NOW,
    OPERATOR,
    answer_force_run,
    burst,
    make_app,
    not_a_candidate,
    press,
    screen_text,
    settle,
    started,
    wait_for,
)

from uso_tui.sync.runner import current_run, run_school
from uso_tui.tui.held import HeldReview
from uso_tui.tui.live import RunProgress
from uso_tui.tui.virtual_table import VirtualTable
from uso_tui.tui.widgets import Confirm, ConfirmForce, Prompt


def accounts_state(store, dfe):
    return sorted((a.username, a.status, a.school, a.mis_id) for a in store.school_accounts(dfe))


def busiest(store):
    return max(store.list_schools(), key=lambda s: s.open_cases)


async def test_force_run_live_held_then_confirm(demo):
    store, dfe = demo.store, demo.held_school
    demo.lose_records(dfe)  # a quarter of its pupils missing from the export
    async with started(store, "school", dfe) as (app, pilot):
        await pilot.press("f")
        await answer_force_run(pilot)
        await settle(pilot, 3)
        screen = app.screen
        assert screen.kind == "force_run"
        run = screen.final
        assert run is not None and run.status == "held" and run.held_usernames
        text = screen_text(app)
        assert "HELD" in text and "Created" in text and "To match" in text
        # the export misses records: held whole, with the comparison beside the previous one
        assert run.comparison is not None
        flat = " ".join(text.split())
        assert "Held whole" in flat and "nothing of it was applied" in flat
        assert f"{run.comparison['count']} records on roll now" in flat
        before = {u: store.account(u).status for u in run.held_usernames}
        assert set(before.values()) == {"active"}
        await press(pilot, "y")
        assert isinstance(app.screen, HeldReview)
        dialog = screen_text(app)
        assert "held whole" in dialog
        # the staff report is held too, for its leavers only: said as such, not as held whole
        flat_dialog = " ".join(dialog.split())
        assert "held whole: the students export holds" in flat_dialog
        assert "also held: staff: would unallocate" in flat_dialog
        held_count = len(run.held_usernames)
        assert f"unallocates {held_count} of {held_count}" in " ".join(dialog.split())
        # what else confirming does, said before y (the operator read only the unallocations,
        # and y then also created accounts and opened cases)
        from uso_tui.sync.held_export import whole_preview

        applies = whole_preview(store, run, app.clock().date())
        first, *_, last = applies.split(", ")
        assert first == "creates 4" and f"y applies this export as it is ({first}," in dialog
        assert f"{last}) and unallocates" in dialog
        assert run.held_usernames[0] in dialog
        await press(pilot, "y")
        after = {u: store.account(u).status for u in run.held_usernames}
        assert set(after.values()) == {"unallocated"}
        confirmed = store.run(run.run_id).status
        assert confirmed != "held"
        done = store.run(run.run_id).counts  # what the review said it would do, it did
        assert (done["created"], done["updated"], done["needs_matching"]) == (7, 2, 6)
        # and says so (the store may have changed between the review and y)
        assert "its export applied (created 7, updated 2, cases 6, rejected 4)" in " ".join(
            screen_text(app).split()
        )
        # confirmed: nothing is held any more (the 50 are among the unallocated)
        counters = " ".join(str(app.screen.counters_box.render()).split())
        assert "Unallocated 50 Held 0" in counters
        assert "HELD" not in str(app.screen.phase_box.render())
        assert store.run(run.run_id).confirmed_by == OPERATOR
        # the end offers the matching queue; back from it, the run is still shown confirmed
        await press(pilot, "m")
        assert app.screen.kind == "matching" and app.screen.dfe == dfe
        await press(pilot, "escape")
        assert app.screen.kind == "force_run"
        assert "HELD" not in str(app.screen.phase_box.render())
        assert app.screen.final.confirmed_at
        await press(pilot, "y")  # nothing left to confirm: no review
        assert app.screen.kind == "force_run" and not isinstance(app.screen, HeldReview)


@contextlib.asynccontextmanager
async def opened_at_the_end(gate: threading.Event):
    """The simulator's gate opened when the test ends, passed or not (its answers go out)."""
    try:
        yield
    finally:
        gate.set()


async def test_cancel_before_apply_changes_nothing(demo):
    store, dfe = demo.store, demo.held_school
    gate = threading.Event()  # the school's answers wait: the run is mid-fetch until cancelled
    demo.sim.set_switches(dfe, gate=gate)
    before = accounts_state(store, dfe)
    async with started(store) as (app, pilot), opened_at_the_end(gate):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await wait_for(
            pilot,
            lambda: app.live_runs.get(dfe) is not None and app.live_runs[dfe].run_id is not None,
        )
        live = app.live_runs[dfe]
        assert not live.done
        await press(pilot, "c", rounds=3)
        assert live.done
        run = app.screen.final
        assert run.status == "cancelled"
        assert store.run(run.run_id).status == "cancelled"
        assert "nothing changed" in screen_text(app)
    assert accounts_state(store, dfe) == before


async def test_leaving_keeps_the_run_and_keys_answer_during_it(demo):
    store, dfe = demo.store, demo.held_school
    gate = threading.Event()
    demo.sim.set_switches(dfe, gate=gate, max_page_size=40)
    runs_before = len(store.runs(dfe))
    async with started(store) as (app, pilot), opened_at_the_end(gate):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await wait_for(pilot, lambda: dfe in app.live_runs)
        live = app.live_runs[dfe]
        await pilot.press("escape")
        assert app.screen.kind == "schools"
        table = app.screen.query_one(VirtualTable)
        # the console answers keys while the run goes on in its worker
        await pilot.press("s")
        row = table.cursor_row
        await pilot.press("k" if row else "j")
        assert app.screen.sort_by == "dfe" and table.cursor_row == (row - 1 if row else 1)
        assert not live.done
        gate.set()  # IRIS answers: the run ends
        await wait_for(pilot, lambda: live.done, timeout=30)
        assert live.result.run.status == "held"
        # reopening shows that run, it does not start another
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await settle(pilot)
        assert app.screen.final.run_id == live.result.run.run_id
        assert len(store.runs(dfe)) == runs_before + 1
        # once its end was seen, Force run starts the next run
        await pilot.press("escape")
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await settle(pilot, 3)
        assert app.screen.final.run_id != live.result.run.run_id
        assert len(store.runs(dfe)) == runs_before + 2


async def test_a_run_from_another_process_is_shown_not_doubled(demo):
    store, dfe = demo.store, demo.held_school
    gate = threading.Event()  # still running when the screen opens, however loaded the machine
    demo.sim.set_switches(dfe, gate=gate, max_page_size=40)
    runs_before = len(store.runs(dfe))
    done = threading.Event()

    def scheduler():
        try:
            asyncio.run(run_school(store, dfe, trigger="schedule", operator="scheduler", now=NOW))
        finally:
            done.set()

    thread = threading.Thread(target=scheduler)
    thread.start()
    try:
        app = make_app(store)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: current_run(store, dfe) is not None)
            app.open_screen("force_run", dfe)
            await answer_force_run(pilot)
            await settle(pilot)
            screen = app.screen
            assert screen.external is not None and dfe not in app.live_runs
            assert "running elsewhere" in screen_text(app)
            assert "scheduler" in screen_text(app)
            gate.set()
            await wait_for(pilot, lambda: screen.final is not None, timeout=30)
            assert screen.final.trigger == "schedule"
            assert screen.final.status in ("held", "succeeded")
            await settle(pilot)
            assert "running elsewhere" not in screen_text(app)  # it said so after the end
    finally:
        gate.set()
        thread.join(timeout=30)
    assert len(store.runs(dfe)) == runs_before + 1


async def test_run_again_showing_another_process_s_run_shows_its_log_only(demo):
    """A force run failed (a wrong secret); `r` then found a run of the school going in another
    process: the header said "running elsewhere" above the failed run's log of refusals."""
    store, dfe = demo.store, demo.held_school
    demo.sim.set_switches(dfe, reject_credentials=True)
    gate = threading.Event()
    thread = None
    try:
        app = make_app(store)
        async with app.run_test(size=(80, 24)) as pilot:
            app.open_screen("force_run", dfe)
            await answer_force_run(pilot)
            screen = app.screen
            await wait_for(pilot, lambda: screen.final is not None, timeout=30)
            assert screen.final.status == "failed" and "invalid_client" in screen_text(app)
            demo.sim.set_switches(dfe, reject_credentials=False, gate=gate)
            thread = threading.Thread(
                target=lambda: asyncio.run(
                    run_school(store, dfe, trigger="cli", operator="root", now=NOW)
                )
            )
            thread.start()
            await wait_for(pilot, lambda: current_run(store, dfe) is not None)
            await pilot.press("r")
            await answer_force_run(pilot)
            await wait_for(pilot, lambda: screen.external is not None)
            await settle(pilot)
            text = screen_text(app)
            assert "running elsewhere" in text and "invalid_client" not in text
    finally:
        gate.set()
        if thread is not None:
            thread.join(timeout=30)


async def test_progress_floods_merge(demo):
    store, dfe = demo.store, demo.held_school
    handled = []
    app = make_app(store)
    async with app.run_test(
        size=(80, 24),
        message_hook=lambda m: handled.append(m) if isinstance(m, RunProgress) else None,
    ) as pilot:
        await settle(pilot)
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await settle(pilot, 3)
        handled.clear()
        posted = 5000

        def flood():
            for _ in range(posted):
                app.post_message(RunProgress(dfe))

        await asyncio.to_thread(flood)
        await settle(pilot)
        assert 0 < len(handled) < posted / 2


async def test_matching_queue_decisions_saved_at_once(demo_ran):
    store = demo_ran.store
    school = busiest(store)
    dfe = school.dfe
    cases = store.cases(dfe)
    assert len(cases) >= 4
    async with started(store, "matching", dfe) as (app, pilot):
        screen = app.screen
        assert f"case 1 of {len(cases)}" in screen_text(app)
        # 1: match to the highlighted candidate (at another school: confirm the move)
        first = cases[0]
        cand = first.candidates[0]
        await press(pilot, "m")
        assert isinstance(app.screen, Confirm)  # never decided without seeing it
        assert f"Match to {cand['username']}?" in screen_text(app)
        await press(pilot, "y")
        assert store.case(first.case_id).decision == f"match:{cand['username']}"
        assert store.account(cand["username"]).school == dfe
        assert "case 2 of" in screen_text(app)
        # 2: create a new account (asks first)
        await press(pilot, "c")
        assert isinstance(app.screen, Confirm)
        await press(pilot, "F" if isinstance(app.screen, ConfirmForce) else "y")
        decided = store.case(cases[1].case_id)
        assert decided.status == "resolved" and decided.decision.startswith("create:")
        assert store.account(decided.decision.split(":", 1)[1]).school == dfe
        # 3: exclude (asks first)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        assert store.case(cases[2].case_id).decision == "exclude"
        rec = cases[2].mis_record()
        assert any(e.surname == rec.surname for e in store.exclusions(dfe))
        # 4: skip leaves it open
        await press(pilot, "s")
        assert store.case(cases[3].case_id).status == "open"
        # previous goes back; undo reverses the last saved decision (the skip first, then exclude)
        index = screen.index
        await pilot.press("p")
        assert screen.index == (index - 1) % len(cases)
        await press(pilot, "u")
        await press(pilot, "u")  # the exclusion, not the case on screen: asked first
        assert store.case(cases[2].case_id).status == "resolved"
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        assert store.case(cases[2].case_id).status == "open"
        assert not any(e.surname == rec.surname for e in store.exclusions(dfe))
        assert screen.case.case_id == cases[2].case_id


async def test_matching_search_any_account(demo_ran):
    store = demo_ran.store
    school = busiest(store)
    dfe = school.dfe
    case = store.cases(dfe)[0]
    other = not_a_candidate(store, dfe, case)  # found by search
    async with started(store, "matching", dfe) as (app, pilot):
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, Prompt)
        prompt = app.screen.query_one("#prompt-input")
        prompt.value = other.username
        await press(pilot, "enter")
        screen = app.screen
        assert screen.kind == "matching"
        assert screen.highlighted()["username"] == other.username
        await press(pilot, "m")
        assert isinstance(app.screen, Confirm)  # not a candidate: what differs, then y
        dialog = screen_text(app)
        assert "not among the case's candidates" in dialog
        assert f"school: {other.school} -> {dfe}" in dialog
        await press(pilot, "y")
        assert store.case(case.case_id).decision == f"match:{other.username}"
        assert store.account(other.username).school == dfe


async def test_matching_keys_typed_with_a_search_that_finds_nothing_decide_nothing(demo_ran):
    """`/ zzqx enter m y` in one burst: the search found no account, the cursor stayed on the
    case's best candidate, and `m y` matched the record to it (moving a pupil from another
    school). The keys were for an account the search would find: dropped, and said."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        burst(app, "slash", "ctrl+u", *"zzqx", "enter", "m", "y")
        await settle(pilot, 4)
        assert app.screen.kind == "matching" and app.screen.case.case_id == case.case_id
        assert any("the search found no account for 'zzqx'" in line for line in said_lines(app))
    assert store.case(case.case_id).status == "open"


async def test_matching_search_for_a_candidate_of_the_case_goes_to_its_row(demo_ran):
    """`/` with a candidate's username said "0 accounts found", the candidate shown right there."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    first = case.candidates[0]["username"]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        assert app.screen.case.case_id == case.case_id
        burst(app, "slash", "ctrl+u", *first, "enter")
        await settle(pilot, 4)
        assert app.screen.highlighted()["username"] == first
        assert any("found a candidate of the case: row 1" in line for line in said_lines(app))
        assert not any("0 accounts found" in line for line in said_lines(app))


async def test_matching_keys_typed_with_a_search_that_fails_decide_nothing(demo_ran, monkeypatch):
    """The search's worker raised: the keys typed with it went on, and `m y` decided on the
    candidate under the cursor."""
    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    async with started(store, "matching", dfe) as (app, pilot):
        monkeypatch.setattr(store, "search_accounts", broken)
        burst(app, "slash", "ctrl+u", *"smith", "enter", "m", "y")
        await settle(pilot, 4)
        assert app.screen.kind == "matching"
    assert store.case(case.case_id).status == "open"


async def test_a_failed_run_says_why_and_leads_to_settings(demo):
    store, dfe = demo.store, demo.failed_school
    before = accounts_state(store, dfe)
    async with started(store) as (app, pilot):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await settle(pilot, 3)
        assert app.screen.final.status == "failed"
        text = screen_text(app)
        assert "FAILED" in text and "Nothing changed" in text and "invalid_client" in text
        assert "wrong-secret" not in text  # the secret never shows, even when it is wrong
        assert "Client Secret in the AutoUpdate settings" in text and "data directory" not in text
        await press(pilot, "e")
        assert app.screen.kind == "settings" and app.screen.dfe == dfe
    assert accounts_state(store, dfe) == before


async def test_a_run_the_store_could_not_record_points_at_the_disk(demo, monkeypatch):
    """IRIS answered but the store could not be written (a full disk): the outcome says so and
    points at the data directory's disk, not at the school's IRIS settings."""
    from uso_tui.store.transaction import TinyTransaction

    store, dfe = demo.store, demo.held_school

    committed = TinyTransaction.commit
    commits = []

    def no_space(self):  # the run is claimed; then the disk is full
        commits.append(1)
        if len(commits) > 1:
            raise OSError(28, "No space left on device")
        committed(self)

    async with started(store) as (app, pilot):
        monkeypatch.setattr(TinyTransaction, "commit", no_space)
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await settle(pilot, 3)
        assert app.screen.final.status == "failed"
        text = screen_text(app)
        assert "No space left on device" in text and "its end could not be recorded" in text
        assert "check the data directory's disk" in text
        assert "AutoUpdate settings" not in text


async def test_a_case_decided_meanwhile_elsewhere_is_not_decided_twice(demo_ran):
    from uso_tui.sync.actions import resolve_case

    store = demo_ran.store
    dfe = busiest(store).dfe
    case = store.cases(dfe)[0]
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        # another console decides it first
        resolve_case(store, case.case_id, operator="colleague", now=NOW, create=True, force=True)
        await press(pilot, "c")
        await press(pilot, "F")
        assert "Not saved" in screen_text(app)
        shown = app.screen.cases[0]
        assert shown.status == "resolved" and shown.decided_by == "colleague"
    assert len([a for a in store.school_accounts(dfe) if a.mis_id == case.mis_record().mis_id]) == 1


def test_live_run_log_keeps_the_newest_lines_and_counts_all():
    from datetime import datetime as dt

    from uso_tui.sync.events import Progress
    from uso_tui.tui.live import LOG_LINES, LiveRun

    live = LiveRun(dfe="204-0001", operator="t", started_at=dt(2026, 3, 9), reports=["staff"])
    for number in range(LOG_LINES + 100):
        live.apply(
            Progress(
                run_id="r1",
                school="204-0001",
                phase="fetching",
                report="staff",
                pages_done=number,
                message=f"line {number}",
            ),
            "10:30:00",
        )
    snap = live.snapshot()
    assert snap["log_count"] == LOG_LINES + 101  # + the phase change
    assert len(snap["log"]) == LOG_LINES and snap["log"][-1].endswith(f"line {LOG_LINES + 99}")
    assert snap["per_report"]["staff"].pages_done == LOG_LINES + 99


async def test_the_console_writes_the_end_of_a_run_a_full_disk_kept_unwritten(demo, monkeypatch):
    """A force run whose end the disk had no room for is written by the console later (every
    UNRECORDED_RETRY_S): until then other processes see that school running."""
    import dataclasses

    from uso_tui.store import liveness
    from uso_tui.sync import runner

    monkeypatch.setattr(liveness, "_abandoned", set())
    monkeypatch.setattr(runner, "_unwritten", {})
    store, dfe = demo.store, demo.held_school
    claimed = runner._claim(store, dfe, "force", "tester", ["staff"], "2026-03-09T10:30:00")
    ended = dataclasses.replace(claimed, status="failed", finished_at="2026-03-09T10:31:00")
    ended.error = f"apply failed, nothing changed: OSError: no room; {runner.UNRECORDED} (...)"
    runner.forget_unrecorded(ended)
    async with started(store) as (app, pilot):
        app._write_unrecorded()  # noqa: SLF001 - what its interval calls
        await app.workers.wait_for_complete()
        await settle(pilot)
    monkeypatch.setattr(liveness, "_abandoned", set())  # as another process reads
    stored = store.run(claimed.run_id)
    assert stored.status == "failed" and runner.UNRECORDED in stored.error
    assert not runner.has_unrecorded()


async def test_a_run_held_for_a_short_export_says_why_at_its_end(demo):
    """IRIS counts two records it does not send: the force run ends held, saying so."""
    store, dfe = demo.store, "204-2714"
    assert dfe not in (demo.held_school, demo.failed_school)
    demo.sim.set_switches(dfe, skip_records=2)
    async with started(store) as (app, pilot):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await wait_for(pilot, lambda: app.screen.final is not None, timeout=30)
        assert app.screen.final.status == "held"
        # the run's summary, not only its log, says why
        summary = " ".join(str(app.screen.outcome_box.render()).split())
        assert "unallocations held (safety hold)" in summary
        assert "the export may be incomplete (IRIS said" in summary


def _last_run(status: str, error: str | None = None):
    from uso_tui.domain.models import Run

    counts = {"created": 6, "updated": 1, "unallocated": 10, "needs_matching": 3}
    return Run(
        run_id="205-2737-r1",
        school="205-2737",
        trigger="schedule",
        operator="scheduler",
        status=status,
        started_at="2026-11-24T06:00:00",
        counts=counts,
        error=error,
    )


LONG_ERROR = (
    "205-2737: POST /auth/connect/token: HTTP 400: IRIS refused the Client ID/Client Secret "
    "of 205-2737 Northgate Catholic Primary School (IRIS said: invalid_client)"
)


@pytest.mark.parametrize("status, error", [("ok", None), ("failed", LONG_ERROR)])
async def test_the_force_run_question_shows_every_line_of_the_last_run(status, error):
    """At 80x24 the question shows what the last run did, down to its last line (a line of it
    was lost once), and a failed run's error whole."""
    from textual.app import App

    from uso_tui.domain.models import School
    from uso_tui.tui.force_ask import ForceRunAsk

    school = School(dfe="205-2737", name="Northgate", mis="iSAMS", url="https://x", client_id="c")
    app = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ForceRunAsk(school, _last_run(status, error)))
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "6 created, 1 updated, 10 unallocated, 3 to match" in text
        if error:
            assert "IRIS refused the Client ID/Client Secret" in text
            assert "(IRIS said: invalid_client)" in text


def test_the_force_run_question_wraps_the_last_runs_error_under_its_indent():
    """A failed last run's error (often two or three lines at 80 columns) goes on under its own
    indent, not from the dialog's edge, and on lines of its own."""
    from rich.console import Console

    from uso_tui.domain.models import School
    from uso_tui.tui.force_ask import ForceRunAsk

    school = School(dfe="205-2737", name="Northgate", mis="iSAMS", url="https://x", client_id="c")
    console = Console(width=72, record=True, color_system=None)
    console.print(ForceRunAsk(school, _last_run("failed", LONG_ERROR)).body())
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    at = next(i for i, line in enumerate(lines) if "to match" in line)
    assert lines[at].endswith("3 to match")
    shown = lines[at + 1 :]
    assert len(shown) >= 2 and all(line.startswith("  ") and line[2] != " " for line in shown)
    assert " ".join(line.strip() for line in shown) == LONG_ERROR


@pytest.mark.parametrize("with_extra", [True, False])
async def test_a_match_cases_record_shows_its_middle_names_upn_and_every_line(with_extra):
    """The record of a match case at 80x24: each name and the date of birth on a line of its
    own (the last was lost once), the middle names and the UPN (the strongest evidence) too."""
    from factories import rec
    from textual.app import App
    from textual.widgets import Static

    from uso_tui.tui.screens.matching import record_text

    extra = {
        "upn": "X194661210048",
        "gender": "M",
        "year_group": "5",
        "form_group": "5Willow",
        "enrolment_date": "2026-11-29",
        "email": "popescup123@thornbury2714.sch.uk",
    }
    record = rec(
        "739123",
        "Paweł",
        "Popescu",
        "2017-05-10",
        middle_names="Wojciech Łukasz",
        **(extra if with_extra else {}),
    )

    class One(App):
        def compose(self):
            yield Static(record_text(record, "pupil"))
            yield Static("after")

    app = One()
    async with app.run_test(size=(80, 24)):
        text = " ".join(screen_text(app).split())
        assert "Middle names Wojciech Łukasz Date of birth 2017-05-10" in text
        if with_extra:
            assert "UPN X194661210048; gender M; year 5 form 5Willow" in text
            assert "popescup123@thornbury2714.sch.uk after" in text
        else:
            assert "2017-05-10 after" in text


async def test_the_hubs_recent_runs_count_held_unallocations_once(demo_ran):
    """A held run's line says what it holds beside what it did; once confirmed, its unallocated
    count (which then includes them) is not added to what it held again."""
    from uso_tui.sync.actions import confirm_held

    store = demo_ran.store
    run = store.run(store.school(demo_ran.held_school).last_run_id)
    assert run.status == "held"
    held, done = run.counts["held_unallocations"], run.counts["unallocated"]
    async with started(store, "school", demo_ran.held_school, size=(100, 30)) as (app, _):
        assert f", {done} (+{held} held), " in screen_text(app)
    confirmed = confirm_held(store, run.run_id, operator="desk", now=datetime(2026, 3, 9, 11))
    total = confirmed.run.counts["unallocated"]
    assert total == done + len(confirmed.unallocated)
    async with started(store, "school", demo_ran.held_school, size=(100, 30)) as (app, _):
        text = screen_text(app)
        assert f", {total}, " in text and "held)" not in text


async def test_the_held_review_says_why_each_report_was_held(demo_held_whole):
    """Both reports held whole: the review said only the staff report's reason (the run keeps
    one report's comparison), yet listed pupils to unallocate too."""
    from uso_tui.sync.actions import held_review
    from uso_tui.tui.held import HeldReview

    store = demo_held_whole.store
    run = store.run(store.school(demo_held_whole.held_school).last_run_id)
    assert "the staff export" in run.hold_reason and "the students export" in run.hold_reason
    async with started(store, size=(80, 24)) as (app, pilot):
        app.push_screen(HeldReview(run, held_review(store, run.run_id)))
        await settle(pilot)
        text = " ".join(screen_text(app).split())
        assert "the staff export holds" in text and "the students export holds" in text


async def test_the_held_review_of_an_export_taken_since_says_y_applies_nothing(demo_held_whole):
    """A run held whole whose export a later run has taken: its review said "y applies this
    export as it is" where confirming it applies nothing."""
    from uso_tui.sync.actions import held_review
    from uso_tui.tui.held import HeldReview

    store = demo_held_whole.store
    run = store.run(store.school(demo_held_whole.held_school).last_run_id)
    async with started(store, size=(80, 24)) as (app, pilot):
        taken = "204-2308-r9 has taken this export since: confirming it applies nothing"
        app.push_screen(HeldReview(run, held_review(store, run.run_id), taken=taken))
        await settle(pilot)
        summary = str(app.screen.query_one("#held-summary").render())
        assert summary == f"Out of date: {taken}"
        assert "applies this export as it is" not in " ".join(screen_text(app).split())


async def test_a_queue_opened_during_its_school_s_run_shows_the_cases_the_run_opened(demo):
    """`m` while the force run goes on opens the queue, empty then; when the run ends the
    queue reads the cases it opened rather than saying "no open cases" until `g`."""
    dfe = "204-3514"  # a demo school whose first force run opens cases
    store = demo.store
    gate = threading.Event()
    demo.sim.set_switches(dfe, gate=gate)
    async with started(store) as (app, pilot), opened_at_the_end(gate):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await wait_for(pilot, lambda: dfe in app.live_runs)
        live = app.live_runs[dfe]
        app.open_screen("matching", dfe)
        await wait_for(pilot, lambda: "no open cases" in screen_text(app))
        assert not live.done
        gate.set()
        await wait_for(pilot, lambda: live.done, timeout=30)
        await settle(pilot, 3)
        opened = store.cases(dfe, "open")
        assert live.result.run.status == "succeeded", live.result.run.error
        assert opened  # the run opened cases (else this test shows nothing)
        assert app.screen.kind == "matching"
        assert [c.case_id for c in app.screen.cases] == [c.case_id for c in opened]
        assert "no open cases" not in screen_text(app)


async def test_an_empty_report_s_bar_is_full_once_the_run_is_done(demo):
    dfe = "204-3514"
    demo.sim.set_records(dfe, "staff", [])
    async with started(demo.store) as (app, pilot):
        app.open_screen("force_run", dfe)
        await answer_force_run(pilot)
        await wait_for(pilot, lambda: dfe in app.live_runs and app.live_runs[dfe].done)
        await settle(pilot, 3)
        _label, bar = app.screen._bars["staff"]  # noqa: SLF001 - the screen's own bars
        assert bar.percentage == 1


@pytest.mark.parametrize("whose", ["school", "all"])
async def test_run_history_opened_during_a_force_run_shows_it_once_it_ends(demo, whose):
    """`f y escape h` while the run goes: the history kept the list read before the run ended
    (until g), and U undid the run before it."""
    demo.sim.set_switches(latency=0.2)
    store = demo.store
    dfe = next(s.dfe for s in store.list_schools() if s.dfe != demo.held_school)
    async with started(store, "school", dfe) as (app, pilot):
        await pilot.press("f")
        await answer_force_run(pilot)
        await pilot.press("escape")
        app.open_screen("history", dfe if whose == "school" else None)
        await wait_for(pilot, lambda: all(run.done for run in app.live_runs.values()))
        await settle(pilot, 4)
        (live,) = app.live_runs.values()
        top = app.screen.active_table().current()
        assert top is not None and top.key == live.result.run.run_id
        assert top.data.status == live.result.run.status != "running"


async def force_run_to_its_end(app, pilot) -> None:
    """From a school's page: `f`, the question answered, the run waited for to its end."""
    await pilot.press("f")
    await answer_force_run(pilot)
    await wait_for(pilot, lambda: app.screen.kind == "force_run" and app.screen.final, timeout=30)


async def test_run_again_typed_ahead_starts_the_run_it_asks_about(demo, monkeypatch):
    """`r y` in one burst on a finished force run: `r` reads the school and its last run in the
    background before asking, and the `y` reached the screen first and was lost: the question
    stayed open, no run started, and nothing said so."""
    import time

    store, dfe = demo.store, demo.held_school
    runs_before = len(store.runs(dfe))
    async with started(store, "school", dfe) as (app, pilot):
        await force_run_to_its_end(app, pilot)
        slow_runs = store.runs

        def runs(*args, **kw):
            time.sleep(0.3)  # the read behind the question, slow (a busy store)
            return slow_runs(*args, **kw)

        monkeypatch.setattr(store, "runs", runs)
        burst(app, "r", "y")
        await wait_for(pilot, lambda: len(slow_runs(dfe)) == runs_before + 2, timeout=30)
        assert app.screen.kind == "force_run"


async def test_run_again_answered_no_stays_on_the_run_that_ended(demo):
    """`r` then `n` on a finished force run closed the screen (the answer to the first question
    leaves it): the keys after it landed on the school's screen (`c`: its calendar). The run
    that ended is shown again, as it was."""
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await force_run_to_its_end(app, pilot)
        screen, final = app.screen, app.screen.final
        shown = str(screen.outcome_box.render())
        burst(app, "r", "n")
        await wait_for(pilot, lambda: app.screen is screen and screen.final is not None)
        await settle(pilot)
        assert app.screen is screen and screen.final.run_id == final.run_id
        assert str(screen.outcome_box.render()) == shown
        burst(app, "r", "y")  # and asked again, a yes runs it
        await wait_for(
            pilot,
            lambda: screen.final is not None and screen.final.run_id != final.run_id,
            timeout=30,
        )


async def test_a_held_run_confirmed_elsewhere_meanwhile_is_shown_as_it_is(demo):
    """The review open, the run was confirmed from the command line; `y` was refused (right),
    and the screen behind still said HELD, nothing applied, `y Confirm held`."""
    from uso_tui.sync import actions

    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await force_run_to_its_end(app, pilot)
        run = app.screen.final
        await press(pilot, "y")
        assert isinstance(app.screen, HeldReview)
        actions.confirm_held(store, run.run_id, operator="bob", now=NOW)  # another process
        await press(pilot, "y")
        await settle(pilot)
        screen = app.screen
        assert screen.kind == "force_run" and screen.final.status != "held"
        assert "HELD" not in str(screen.phase_box.render())
        assert "Confirm held" not in screen_text(app).splitlines()[-1]


@pytest.mark.parametrize(
    ("error", "advice", "settings"),
    [
        ("interrupted: the process running it ended before it finished", "r runs it", False),
        ("204-2308: POST /auth/connect/token: HTTP 401: invalid_client", "Client Secret", True),
        ("204-2308: GET /api/students: IRIS refused a freshly issued token", "Client ID", True),
        ("204-2308: http://evil.example is not allowed: ...", "MIS URL", True),
        ("204-2308: GET /api/students?page=1: HTTP 500, after 5 tries", "r runs it", True),
        ("204-2308: GET /api/students?page=1: timed out (read)", "if it keeps failing", True),
        ("204-2308: GET /api/students?page=1: HTTP 302: a redirect, not followed", "URL", True),
        # what IRIS said is the server's words, not a cause we name
        (
            "204-2308: GET /api/students?page=1: HTTP 429: rate limited (429), after 5 tries "
            "(IRIS said: You are not allowed more than 60 requests per minute)",
            "if it keeps failing",
            True,
        ),
        (
            "204-2308: GET /api/students?page=1: HTTP 500: server error (500), after 5 tries "
            "(IRIS said: Upstream answered HTTP 403 while loading the timetable cache)",
            "if it keeps failing",
            True,
        ),
        (
            "204-2308: POST /auth/connect/token: HTTP 400: IRIS refused the Client ID/Client "
            "Secret of Oak (IRIS said: invalid_client)",
            "Client Secret",
            True,
        ),
        ("204-2308: the MIS URL must use https (plain http only for hosts in ...)", "URL", True),
        (
            "204-2308: IRIS reports 90000 records, more than the 50000 records a report may have "
            "(max_records)",
            "bound of config.json",
            False,
        ),
    ],
)
def test_a_failed_run_s_advice_fits_its_cause(error, advice, settings):
    """Every failed run said "e: check the AutoUpdate settings", a process killed mid-run and
    IRIS answering 500 alike: the settings first only when they are the likely cause."""
    from uso_tui.tui.screens.force_run import failure_advice

    said = failure_advice(error)
    assert advice in said and ("AutoUpdate settings" in said) == settings


async def test_the_held_review_s_table_keeps_its_columns_when_the_terminal_grows(demo):
    """Opened at 80x24 and the terminal made 120x40: the Name column grew to the terminal's
    width inside the 72-column dialog, and Born and Flag (the candidate an operator acts on)
    scrolled out of sight."""
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        await force_run_to_its_end(app, pilot)
        await press(pilot, "y")
        assert isinstance(app.screen, HeldReview)
        for size in ((120, 40), (80, 24), (160, 50)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            table = app.screen.query_one("#held-table")
            widths = {str(c.label): c.get_render_width(table) for c in table.columns.values()}
            assert "Flag" in widths and sum(widths.values()) <= 72, (size, widths)


def test_the_held_review_names_a_case_at_another_school_by_its_school():
    """A held account offered by a mover's case at another school of the authority: its flag
    names that school's case (c1 alone read as the held school's own case 1)."""
    from uso_tui.sync.actions import HeldAccount
    from uso_tui.tui.held import flag_text

    def held(*case_ids: str) -> HeldAccount:
        return HeldAccount("cbrown.204", "Cat", "Brown", None, "active", list(case_ids), False)

    assert flag_text(held("204-3210-c4"), school="204-3210").plain == "candidate c4"
    assert flag_text(held("204-3211-c1"), school="204-3210").plain == "candidate 3211-c1"
    assert flag_text(held("204-3210-c4", "301-1000-c2"), school="204-3210").plain == (
        "candidate c4 +1"
    )
