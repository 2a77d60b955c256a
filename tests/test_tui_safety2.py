"""Operator safety in the console, continued: held runs reviewed and confirmed in part, exclusion
of a person who has an account, adding a school and requesting an account from the console, and
lists that stay true after runs, decisions and undos."""

from __future__ import annotations

from textual.widgets import Input
from tui_helpers import (
    NOW,
    OPERATOR,
    burst,
    damage_a_candidates_school,
    press,
    put_case_for,
    screen_text,
    settle,
    started,
    wait_for,
)

from uso_tui.sync.actions import held_review
from uso_tui.sync.admin import add_account
from uso_tui.tui.held import HeldReview
from uso_tui.tui.widgets import Confirm, screen_keys


def open_case_for(store, dfe: str, username: str) -> str:
    """A match case of `dfe` whose only candidate is `username` (as a run would open it)."""
    with store.transaction("test") as tx:
        acc = tx.account(username)
        return put_case_for(
            tx, dfe, acc, mis_id="NEW1", score=90, reasons=["same names and date of birth"]
        )


def touch(store, username: str) -> None:
    """The account was unlinked after the run (made non-MIS by an operator): confirming leaves
    it alone."""
    with store.transaction("test") as tx:
        acc = tx.account(username)
        acc.mis_id = acc.link_school = acc.link_report = None
        acc.source = "manual"
        acc.last_event, acc.last_event_at = "update", "2026-03-09T23:00:00"
        tx.put_account(acc)


def said_lines(app) -> list[str]:
    """The notifications the operator has been shown (they wrap on screen)."""
    return [n.message for n in app._notifications]  # noqa: SLF001 - no public reader


def are(count: int) -> str:
    return "is a candidate" if count == 1 else "are candidates"


# -- 4. held runs: review, unmark, flags, confirm in part -------------------------------------


async def test_the_hub_says_why_its_last_run_is_held(demo_held_whole):
    store, dfe = demo_held_whole.store, demo_held_whole.held_school
    run = store.runs(dfe, limit=1)[0]
    assert run.status == "held" and "records on roll against" in (run.hold_reason or "")
    async with started(store, "school", dfe, size=(120, 40)) as (app, pilot):
        text = " ".join(screen_text(app).split())  # the reason wraps under itself
        assert "Held because staff: the staff export holds" not in text  # said once, not twice
        assert "Held because the staff export holds" in text
        assert "the students export holds 118 records on roll against 154 before" in text
        # where it is confirmed: the hub named no key for it (Run history, then c)
        assert "h Run history (held: c confirms)" in text
        burst(app, "h", "c")
        await settle(pilot, 4)
        assert isinstance(app.screen, HeldReview) and app.screen.run.run_id == run.run_id


async def test_a_held_run_is_reviewed_and_confirmed_in_part(demo_ran):
    store, dfe = demo_ran.store, demo_ran.held_school
    run = store.runs(dfe, limit=1)[0]
    assert run.status == "held" and len(run.held_usernames) > 3
    held = list(run.held_usernames)
    case_id = open_case_for(store, dfe, held[0])
    touch(store, held[1])
    held_count = len(held)
    review = held_review(store, run.run_id)
    flagged = [h.username for h in review if h.case_ids and not h.back_since]
    assert held[0] in flagged and [h.username for h in review if h.back_since] == [held[1]]
    async with started(store, "history", dfe, notifications=True) as (app, pilot):
        await press(pilot, "c")
        text = screen_text(app)
        assert held[0] in text and f"candidate {case_id.rsplit('-', 1)[1]}" in text
        assert "back: left alone" in text
        # why it is held, where the operator decides (it was on the school's page only)
        assert "held: " + run.hold_reason[:30] in " ".join(text.split())
        assert f"unallocates {held_count - 1} of {held_count}; 1 left alone" in text
        assert f"{len(flagged)} ticked {are(len(flagged))} of open match cases" in text
        burst(app, "space")  # the first candidate of an open case: kept
        await settle(pilot)
        text = screen_text(app)
        assert f"unallocates {held_count - 2} of {held_count}; 1 kept:" in text
        summary = str(app.screen.query_one("#held-summary").render())  # (wrapped on screen)
        assert f"{held[0]} (a later run" in summary  # the kept named: space moves down a row
        left = len(flagged) - 1
        assert (f"{left} ticked {are(left)}" in text) if left else "ticked" not in text
        burst(app, "y")
        await settle(pilot)
        said = said_lines(app)
        assert any(f"{held_count - 2} unallocated, 1 kept, 1 left alone" in line for line in said)
    after = store.run(run.run_id)
    assert (after.status, after.confirmed_by) == ("succeeded", OPERATOR)
    assert store.account(held[0]).status == "active"
    assert store.account(held[1]).status == "active"
    assert {store.account(u).status for u in held[2:]} == {"unallocated"}


async def test_a_held_run_is_confirmed_only_once_its_review_is_shown(demo_ran):
    """`c` then `y` read in one burst: the review opens and the `y` typed before it showed is
    dropped (the hold is there for a person to look); a `y` pressed on the review confirms."""
    store, dfe = demo_ran.store, demo_ran.held_school
    run = store.runs(dfe, limit=1)[0]
    assert run.status == "held"
    async with started(store, "history", dfe, notifications=True) as (app, pilot):
        burst(app, "c", "F", "space")
        await settle(pilot, 6)
        assert isinstance(app.screen, HeldReview)
        assert store.run(run.run_id).status == "held"
        # the keys dropped are said (the space, a keep mark, landed nowhere)
        assert any("2 key(s) typed ahead were dropped" in line for line in said_lines(app))
        assert len(app.screen.kept()) == 0
        await press(pilot, "y")
        await settle(pilot, 6)
        assert app.screen.kind == "history"
    assert store.run(run.run_id).status == "succeeded"


async def test_a_doubled_y_on_a_held_force_run_opens_its_review_and_confirms_nothing(demo):
    store, dfe = demo.store, demo.held_school
    async with started(store, "force_run", dfe) as (app, pilot):
        burst(app, "y")  # start
        await wait_for(pilot, lambda: store.runs(dfe, limit=1)[0].status == "held")
        await settle(pilot, 3)
        burst(app, "y", "y")
        await settle(pilot, 6)
        assert isinstance(app.screen, HeldReview)
    assert store.runs(dfe, limit=1)[0].status == "held"


async def test_the_review_of_an_export_held_whole_shows_all_of_its_comparison_behind_c(
    demo_held_whole,
):
    """At 80x24 the comparison of both reports filled its box and the changed records (the
    evidence of a shifted column) were cut off, with no way to read them before `y`."""
    store, dfe = demo_held_whole.store, demo_held_whole.held_school
    run = store.runs(dfe, limit=1)[0]
    assert len(run.held_whole()) == 2
    async with started(store, "history", dfe, notifications=True) as (app, pilot):
        await press(pilot, "c")
        await settle(pilot, 6)
        assert isinstance(app.screen, HeldReview)
        assert "c shows the whole comparison" in screen_text(app)
        await press(pilot, "c")
        await settle(pilot)
        text = screen_text(app)
        assert "The export beside the previous one" in text
        assert "students: " in text and "MIS id" in text
        await press(pilot, "y")  # not here: said so, nothing confirmed
        assert any("escape first, then y" in line for line in said_lines(app))
        await press(pilot, "escape")
        await settle(pilot)
        assert isinstance(app.screen, HeldReview)  # back to answer it
    assert store.run(run.run_id).status == "held"


async def test_leaving_the_review_leaves_the_run_held(demo_ran):
    store, dfe = demo_ran.store, demo_ran.held_school
    run = store.runs(dfe, limit=1)[0]
    async with started(store, "history", dfe) as (app, pilot):
        await press(pilot, "c")
        burst(app, "space", "space", "escape")
        await settle(pilot)
        assert app.screen.kind == "history"
    assert store.run(run.run_id).status == "held"
    assert {store.account(u).status for u in run.held_usernames} == {"active"}


# -- 5. excluding a person who has an account --------------------------------------------------


def plain_pupil(store, dfe: str, skip: frozenset[str] | set[str] = frozenset()):
    """An active pupil of `dfe` with ASCII names (typed key by key in the tests)."""
    return next(
        a
        for a in sorted(store.school_accounts(dfe), key=lambda a: a.username)
        if a.username not in skip
        and a.role == "pupil"
        and a.status == "active"
        and a.mis_id
        and f"{a.forename}{a.surname}".isalpha()
        and f"{a.forename}{a.surname}".isascii()
    )


async def test_exclusion_form_names_the_account_and_can_leave_it(demo):
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    async with started(store, "bulk_results", dfe, notifications=True) as (app, pilot):
        burst(app, "5", "a", *acc.forename, "enter", *acc.surname, "enter", *acc.dob, "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "The person has an account here" in text and acc.username in text
        assert len(store.exclusions(dfe)) == 0  # nothing written before the answer
        burst(app, "y")  # the key typed by habit excludes and leaves the account
        await settle(pilot)
        assert any(f"still active: {acc.username}" in line for line in said_lines(app))
    assert [(e.forename, e.surname) for e in store.exclusions(dfe)] == [(acc.forename, acc.surname)]
    assert store.account(acc.username).status == "active"


async def test_exclusion_form_question_is_read_before_it_is_answered(demo):
    """The form, its enter and a `y` in one burst: the question naming the account is asked
    after the check (in a thread), and the `y` typed before it showed answers nothing (it names
    an account the operator has not seen); `n` then cancels."""
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    async with started(store, "bulk_results", dfe) as (app, pilot):
        burst(app, "5", "a", *acc.forename, "enter", *acc.surname, "enter", *acc.dob, "enter", "y")
        await settle(pilot, 4)
        assert "The person has an account here" in screen_text(app)
        assert len(store.exclusions(dfe)) == 0 and store.account(acc.username).status == "active"
        burst(app, "n")
        await settle(pilot)
        assert "The person has an account here" not in screen_text(app)
        assert len(store.exclusions(dfe)) == 0
    assert store.account(acc.username).status == "active"


async def test_exclusion_form_unallocates_on_u(demo):
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    async with started(store, "bulk_results", dfe) as (app, pilot):
        burst(app, "5", "a", *acc.forename, "enter", *acc.surname, "enter", *acc.dob, "enter")
        await settle(pilot, 4)
        burst(app, "u")
        await settle(pilot, 4)
    after = store.account(acc.username)
    assert after.status == "unallocated" and after.mis_id is None
    assert len(store.exclusions(dfe)) == 1


async def test_exclusion_form_with_a_date_typed_in_the_uk_names_the_account(demo):
    """28/02/2016 is the account's 2016-02-28: the question is asked as for the ISO date."""
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    year, month, day = acc.dob.split("-")
    async with started(store, "bulk_results", dfe) as (app, pilot):
        typed = f"{day}/{month}/{year}"
        burst(app, "5", "a", *acc.forename, "enter", *acc.surname, "enter", *typed, "enter")
        await settle(pilot)
        assert "The person has an account here" in screen_text(app)
        burst(app, "y")
        await settle(pilot)
    assert [e.dob for e in store.exclusions(dfe)] == [acc.dob]


async def test_matching_exclude_says_who_has_an_account_and_unallocates_on_u(demo):
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    case_id = open_case_for(store, dfe, acc.username)
    async with started(store, "matching", dfe, case_id) as (app, pilot):
        assert app.screen.case.case_id == case_id
        burst(app, "x")
        await settle(pilot)
        text = screen_text(app)
        assert "The person has an account here" in text and acc.username in text
        burst(app, "u")
        await settle(pilot)
    assert store.case(case_id).decision == "exclude"
    assert store.account(acc.username).status == "unallocated"


async def test_matching_exclude_typed_ahead_never_unallocates_an_account_not_yet_shown(demo):
    """`x y` typed as for a record with no account here: the question naming the account the
    person has shows, the `y` typed before it answers nothing; `y` read from the question then
    excludes and leaves the account, and `n` would have cancelled."""
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    case_id = open_case_for(store, dfe, acc.username)
    async with started(store, "matching", dfe, case_id) as (app, pilot):
        burst(app, "x", "y")
        await settle(pilot, 4)
        assert "The person has an account here" in screen_text(app)
        assert store.case(case_id).status == "open"
        burst(app, "n")
        await settle(pilot)
        assert store.case(case_id).status == "open" and not store.exclusions(dfe)
        burst(app, "x")
        await settle(pilot, 4)
        burst(app, "y")
        await settle(pilot, 4)
    assert store.case(case_id).decision == "exclude"
    assert store.account(acc.username).status == "active"


async def test_a_candidate_linked_by_another_case_is_shown_as_another_persons(demo, monkeypatch):
    """Twins both resembling one requested account: matching the first twin links it, and the
    second twin's case then says the account is now another person's (a match is refused)
    before the operator tries, and again after an undo it is free."""
    from uso_tui.tui.screens import matching

    exported = matching.latest_export_ids  # the twins' records, as the run that opened them
    monkeypatch.setattr(
        matching, "latest_export_ids", lambda *a: (exported(*a) or set()) | {"NEW1", "NEW2"}
    )
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    touch(store, acc.username)  # an account no record holds (requested by the school)
    with store.transaction("test") as tx:
        shared = tx.account(acc.username)
        first = put_case_for(tx, dfe, shared, mis_id="NEW1", score=90, reasons=["twin"])
        second = put_case_for(tx, dfe, shared, mis_id="NEW2", score=90, reasons=["twin"])
    async with started(store, "matching", dfe, first) as (app, pilot):
        assert "taken" not in screen_text(app)
        burst(app, "m", "y")  # the first twin matched; the queue moves to the second
        await settle(pilot, 4)
        assert app.screen.case.case_id == second
        text = screen_text(app)
        assert "taken" in text
        assert "now linked to MIS record NEW1 of this school: another person's account" in text
        burst(app, "u", "y")  # the first case, not the one shown: asked (the y dropped)
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")  # undone: free again
        await settle(pilot, 4)
        assert app.screen.case.case_id == first
        burst(app, "n")
        await settle(pilot)
        assert app.screen.case.case_id == second
        assert "taken" not in screen_text(app)
    assert store.case(first).status == "open" and store.account(acc.username).mis_id is None


async def test_a_stray_u_on_the_next_case_asks_before_undoing_the_last_decision(demo):
    """After a match the queue shows the next case; a `u` there undid the match at once (the
    account moved back, with the case it undid no longer on screen). It asks, naming the
    decision; `n` leaves it; on the decided case itself `u` undoes it without a question."""
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    touch(store, acc.username)
    other = plain_pupil(store, dfe, skip={acc.username})
    touch(store, other.username)
    with store.transaction("test") as tx:
        first = put_case_for(
            tx, dfe, tx.account(acc.username), mis_id="NEW1", score=90, reasons=["x"]
        )
        second = put_case_for(
            tx, dfe, tx.account(other.username), mis_id="NEW2", score=90, reasons=["x"]
        )
    async with started(store, "matching", dfe, first) as (app, pilot):
        burst(app, "m", "y")
        await settle(pilot, 4)
        assert app.screen.case.case_id == second
        burst(app, "u", "y")  # asked; the y typed with the u dropped
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        await press(pilot, "n")
        assert store.case(first).status == "resolved" and store.account(acc.username).mis_id
        assert app.screen.case.case_id == second
        burst(app, "g", "u")  # the queue read again: the decided case no longer listed
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        await press(pilot, "n")
        assert store.case(first).status == "resolved" and store.account(acc.username).mis_id
        burst(app, "v", "u")  # listed with the decided ones: asked, and undone
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        await press(pilot, "y")
        await settle(pilot, 4)
    assert store.case(first).status == "open" and store.account(acc.username).mis_id is None


async def test_a_decision_saved_is_not_called_failed_when_the_refresh_after_it_fails(demo):
    """After a decision the console reads its candidates' accounts again (one may be another
    case's candidate); that read failing loses the refresh only, not the decision's message."""
    from uso_tui.store import StoreError

    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    case_id = open_case_for(store, dfe, acc.username)
    async with started(store, "matching", dfe, case_id, notifications=True) as (app, pilot):

        def fails(usernames):
            raise StoreError("the disk went away")

        store.find_accounts = fails
        burst(app, "c", "y")
        await settle(pilot, 4)
        assert not [line for line in said_lines(app) if "Not saved" in line]
        assert app.screen.decided == [case_id]
    assert store.case(case_id).decision.startswith("create:")


# -- 6. add a school, request an account ------------------------------------------------------


async def test_add_school_checks_each_field_and_masks_the_secret(demo):
    store = demo.store
    before = {s.dfe for s in store.list_schools()}
    async with started(store) as (app, pilot):
        assert ("n", "Add school") in screen_keys(app.screen)  # ? Keys lists it
        # bad DfE, bad URL for iSAMS, no secret: each said under its field, nothing written
        burst(app, "n", *"204-32", "enter", *"Oak [b]Primary", "enter", *"http://x.example")
        await settle(pilot)
        await press(pilot, "ctrl+s")
        text = screen_text(app)
        assert "Not added: fix the fields marked above." in text
        assert "204-32" in text and "Oak [b]Primary" in text
        errors = app.screen.errors
        assert set(errors) == {"dfe", "url", "client_id", "secret"}
        assert {s.dfe for s in store.list_schools()} == before
        form = app.screen
        form.query_one("#f-dfe", Input).value = "204-3299"
        form.query_one("#f-url", Input).value = "https://oak.isams.cloud"
        form.query_one("#f-client_id", Input).focus()
        await pilot.pause()
        burst(app, *"oak-client", "tab", *"t0p-s3cret")
        await settle(pilot)
        secret = form.query_one("#f-secret", Input)
        assert secret.password and secret.value == "t0p-s3cret"
        assert "t0p-s3cret" not in screen_text(app)
        burst(app, "ctrl+s", "e")  # typed ahead: the new school's settings, not the form's field
        await settle(pilot, 4)
        assert (app.screen.kind, app.screen.dfe) == ("settings", "204-3299")
    school = store.school("204-3299")
    assert (school.name, school.mis, school.client_id) == ("Oak [b]Primary", "iSAMS", "oak-client")
    assert store.secret("204-3299") == "t0p-s3cret"


async def test_add_school_tests_the_connection_before_adding(demo):
    """ctrl+t in Add school, as in Settings: a wrong secret or host was found only by the
    school's first run ("connection failed ... gave up after 5 tries"). Nothing is added."""
    store = demo.store
    known = store.school(demo.held_school)
    before = {s.dfe for s in store.list_schools()}
    async with started(store) as (app, pilot):
        burst(app, "n")
        await settle(pilot)
        form = app.screen
        await press(pilot, "ctrl+t")  # nothing typed: each field says what it needs
        assert "Fix the fields marked above to test." in screen_text(app)
        assert "dfe" in form.errors
        form.query_one("#f-dfe", Input).value = "204-3299"
        await settle(pilot)
        assert "dfe" not in form.errors  # mended: checked again as typed
        values = {"dfe": "204-3299", "url": known.url, "client_id": known.client_id}
        for field, value in {**values, "secret": "wrong-secret"}.items():
            form.query_one(f"#f-{field}", Input).value = value
        if form.mis != known.mis:
            await press(pilot, "ctrl+o")
        await press(pilot, "ctrl+t")
        await settle(pilot, 4)
        assert "Connection failed" in screen_text(app)
        form.query_one("#f-secret", Input).value = store.secret(demo.held_school)
        await press(pilot, "ctrl+t")
        await settle(pilot, 4)
        assert "Connection OK: token received" in screen_text(app)
        assert app.screen is form
    assert {s.dfe for s in store.list_schools()} == before


async def test_a_refused_connection_test_focuses_the_field_to_mend(demo):
    """ctrl+t refused for a bad URL left the cursor where it was (the Client Secret, say): the
    URL typed again went into the hidden secret. As a refused save, it focuses the first field
    marked, in Settings and in Add school; a test refused for want of the secret, the secret."""
    from uso_tui.domain.schools import MIS_DOMAINS

    store, dfe = demo.store, demo.held_school
    old = store.school(dfe)
    async with started(store, "settings", dfe) as (app, pilot):
        screen = app.screen
        screen.query_one("#f-url", Input).value = "https://evil.example.com/a b"
        screen.query_one("#f-secret", Input).focus()
        await press(pilot, "ctrl+t")
        assert "Fix the fields marked above to test." in screen_text(app)
        assert app.focused is screen.query_one("#f-url", Input)
        screen.query_one("#f-url", Input).value = f"https://other.{MIS_DOMAINS[old.mis]}"
        screen.query_one("#f-name", Input).focus()
        await press(pilot, "ctrl+t")
        assert "Type the Client Secret to test" in screen_text(app)
        assert app.focused is screen.query_one("#f-secret", Input)
    async with started(store) as (app, pilot):
        burst(app, "n")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-dfe", Input).value = "204-3299"
        form.query_one("#f-secret", Input).focus()
        await press(pilot, "ctrl+t")
        assert app.focused is form.query_one("#f-url", Input)


async def test_a_refused_form_focuses_its_first_wrong_field(demo):
    """ctrl+s on a form with mistakes puts the cursor in the first field marked, its text
    selected: what is typed once it shows mends it, not the field the cursor was left in. What
    was typed ahead after the ctrl+s is dropped (it was meant for wherever the cursor was: a
    URL typed again landed in the Client Secret). A DfE already taken (known only once saving
    is tried) is focused the same way."""
    store = demo.store
    taken = demo.held_school
    async with started(store) as (app, pilot):
        burst(app, "n", *taken, "tab", *"Oak", "tab", *"http://x.example", "tab", *"cid")
        burst(app, "tab", *"s3cret-key", "tab", *"25:99", "ctrl+s", *"https://oak.isams.cloud")
        await settle(pilot)
        form = app.screen
        assert set(form.errors) == {"url", "daily_at"}  # the URL typed ahead: dropped
        assert form.query_one("#f-url", Input).value == "http://x.example"
        assert app.focused is form.query_one("#f-url", Input)
        burst(app, *"https://oak.isams.cloud")  # typed once the cursor is seen there
        await settle(pilot)
        assert set(form.errors) == {"daily_at"}
        assert form.query_one("#f-url", Input).value == "https://oak.isams.cloud"
        assert form.query_one("#f-daily_at", Input).value == "25:99"
        burst(app, "ctrl+s")  # the time is still wrong: it is focused now
        await settle(pilot)
        assert app.focused is form.query_one("#f-daily_at", Input)
        burst(app, *"07:00", "ctrl+s")  # refused as a DfE already taken
        await settle(pilot, 4)
        assert app.screen is form and "dfe" in form.errors
        assert app.focused is form.query_one("#f-dfe", Input)
        burst(app, *"999")
        await settle(pilot)
        assert form.query_one("#f-dfe", Input).value == "999"
    assert store.school(taken).name != "Oak"


async def test_request_account_shows_the_duplicate_before_y(demo):
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    async with started(store, "school", dfe, notifications=True) as (app, pilot):
        assert "r  Request an account" in screen_text(app)  # the hub's keys
        await pilot.press("question_mark")
        assert "Request account" in screen_text(app)
        await pilot.press("escape")
        burst(app, "r", *acc.forename, "enter", *acc.surname, "enter", *acc.dob, "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Not created: a duplicate" in text and acc.username in text
        burst(app, "y", "escape")  # y creates nothing here
        await settle(pilot)
        accounts_before = len(store.school_accounts(dfe))
        form = app.screen
        form.query_one("#req-forename", Input).value = "Newton"
        form.query_one("#req-dob", Input).focus()
        await pilot.pause()
        burst(app, "enter")
        await settle(pilot)
        assert "Create this account?" in screen_text(app)
        assert len(store.school_accounts(dfe)) == accounts_before
        burst(app, "y")
        await settle(pilot)
        assert app.screen.kind == "school"
    made = [a for a in store.school_accounts(dfe) if a.forename == "Newton"]
    assert len(made) == 1 and (made[0].surname, made[0].dob) == (acc.surname, acc.dob)
    assert made[0].source == "manual" and made[0].role == "pupil"


async def test_request_account_lists_the_same_person_elsewhere_a_line_each(demo):
    """The accounts with the same names and date of birth at other schools, one per line (they
    were run together on one line with a line-break symbol between them)."""
    store, dfe = demo.store, demo.held_school
    la = dfe.split("-")[0]
    other, third = [s.dfe for s in store.list_schools() if s.dfe != dfe and s.dfe.startswith(la)][
        :2
    ]
    acc = plain_pupil(store, other)
    again = add_account(
        store,
        third,
        role="pupil",
        forename=acc.forename,
        surname=acc.surname,
        dob=acc.dob,
        operator=OPERATOR,
        now=NOW,
        force=True,
    )
    async with started(store, "school", dfe, notifications=True) as (app, pilot):
        burst(app, "r", *acc.forename, "enter", *acc.surname, "enter", *acc.dob, "enter", "y")
        await settle(pilot, 4)
        text = screen_text(app)
        # a mover keeps their account: asked as `account add` refuses it without --force, and
        # the `y` typed with the form (by habit) creates nothing
        assert "Create a second account?" in text and "(the same person? match their" in text
        assert "\u240a" not in text
        for username, school in ((acc.username, other), (again.username, third)):
            line = next(line for line in text.splitlines() if f"{username}  " in line)
            assert school in line and "active" in line
        assert not [
            a for a in store.school_accounts(dfe) if a.surname == acc.surname and a.dob == acc.dob
        ]
        await press(pilot, "F")
        await settle(pilot, 4)
        assert any("now have two accounts" in line for line in said_lines(app))
    assert [a for a in store.school_accounts(dfe) if a.surname == acc.surname and a.dob == acc.dob]


async def test_request_account_asks_f_for_a_person_active_under_another_spelling(demo):
    """Arav Sharma requested while Aarav Sharma, born the same day, is active at a school of
    the local authority: the form asked a plain y/n (only the same names were looked for), and
    add_account now refuses it without force. Asked as for a mover (F), the account named."""
    store, dfe = demo.store, demo.held_school
    la = dfe.split("-")[0]
    other = next(s.dfe for s in store.list_schools() if s.dfe != dfe and s.dfe.startswith(la))
    first = add_account(
        store, other, role="pupil", forename="Aarav", surname="Sharma", dob="2016-02-03",
        operator=OPERATOR, now=NOW,
    )  # fmt: skip
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Arav", "enter", *"Sharma", "enter", *"2016-02-03", "enter", "y")
        await settle(pilot, 4)
        text = screen_text(app)
        assert "Create a second account?" in text and "Probably this person" in text
        assert f"{first.username}  Aarav Sharma  2016-02-03  {other}" in text
        assert not [a for a in store.school_accounts(dfe) if a.forename == "Arav"]
        await press(pilot, "F")
        await settle(pilot, 4)
    assert [a.surname for a in store.school_accounts(dfe) if a.forename == "Arav"] == ["Sharma"]


async def test_request_account_refused_under_the_lock_says_the_form_s_way_on(demo):
    """An account like the person's made at a sister school between the form's look and its
    `y`: refused as the command line refuses it, the form said "--force makes a second account
    anyway", a flag the console has no field for. It says enter looks again, which asks."""
    store, dfe = demo.store, demo.held_school
    la = dfe.split("-")[0]
    other = next(s.dfe for s in store.list_schools() if s.dfe != dfe and s.dfe.startswith(la))
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Ottoline", "enter", *"Quill", "enter", *"2016-02-03", "enter")
        await settle(pilot, 4)
        assert "Create this account?" in screen_text(app)
        made = add_account(
            store, other, role="pupil", forename="Ottoline", surname="Quill", dob="2016-03-02",
            operator=OPERATOR, now=NOW,
        )  # fmt: skip
        await press(pilot, "y")
        await settle(pilot, 4)
        text = " ".join(screen_text(app).replace("│", " ").split())  # (the form's lines whole)
        assert "Not created:" in text and made.username in text and "--force" not in text
        assert "enter looks again and asks before creating it anyway" in text
        await press(pilot, "enter")
        await settle(pilot, 4)
        assert "Create a second account?" in screen_text(app)
    assert not [a for a in store.school_accounts(dfe) if a.forename == "Ottoline"]


async def test_request_account_asks_f_for_a_person_on_the_exclusion_list(demo):
    store, dfe = demo.store, demo.held_school
    from uso_tui.sync import admin

    entry = admin.add_exclusion(
        store, dfe, forename="Lily", surname="Moss", dob=None, operator=OPERATOR, now=NOW
    )
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Lily", "enter", *"Moss", "enter", *"2016-02-03", "enter", "y")
        await settle(pilot, 4)
        text = " ".join(screen_text(app).split())
        assert "Create it for a person on the exclusion list?" in text
        assert f"exclusion list (entry {entry.id})" in text
        assert not [a for a in store.school_accounts(dfe) if a.surname == "Moss"]


async def test_request_account_typed_in_one_burst_with_its_y(demo):
    """The form, its enter and the `y` read at once: the `y` waits for the question (asked after
    a look in a thread) instead of landing in the date's field."""
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Ottoline", "enter", *"Quill", "enter", *"2016-02-03", "enter", "y")
        await settle(pilot, 4)
        assert app.screen.kind == "school"
    made = [a for a in store.school_accounts(dfe) if a.forename == "Ottoline"]
    assert len(made) == 1 and (made[0].surname, made[0].dob) == ("Quill", "2016-02-03")


async def test_request_account_failing_to_save_says_not_created(demo, monkeypatch):
    """A full disk showed only "[Errno 28] No space left on device" in the form, not that the
    account was not created (every other screen says "Not saved:", "Run failed:"...)."""
    import errno

    from uso_tui.sync import admin

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(admin, "add_account", full)
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Ottoline", "enter", *"Quill", "enter", *"2016-02-03", "enter", "y")
        await settle(pilot, 4)
        assert "Not created: OSError: [Errno 28] No space left on device" in screen_text(app)


async def test_request_account_refuses_a_name_before_asking_to_create_it(demo):
    store, dfe = demo.store, demo.held_school
    before = len(store.school_accounts(dfe))
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"[b]Zed[/b]", "enter", *"Quill", "enter", *"2016-02-03", "enter")
        await settle(pilot, 4)
        assert not isinstance(app.screen, Confirm)  # no question to answer: the form says why
        assert "holds '/' '[' ']'" in screen_text(app)
        # the cursor where the mending is: it stayed in the date of birth, and the forename
        # typed again went there (an outside evaluator's find)
        assert app.focused is not None and app.focused.id == "req-forename"
        # the forename mended, the date made wrong: the cursor goes to the date
        burst(app, "end", *["backspace"] * 10, *"Zed", "enter", "enter")
        burst(app, *["backspace"] * 10, *"1999-02-31", "enter")
        await settle(pilot, 4)
        assert app.focused is not None and app.focused.id == "req-dob"
        assert "holds '/'" not in screen_text(app)
    assert len(store.school_accounts(dfe)) == before


async def test_request_account_forgets_its_error_once_a_field_is_mended(demo):
    """The error said of the date typed stayed on the form after the date was mended; Up and
    Down move between the fields, as in the other forms."""
    store, dfe = demo.store, demo.held_school
    async with started(store, "school", dfe) as (app, pilot):
        burst(app, "r", *"Zed", "enter", *"Quill", "enter", *"31/02/2016", "enter")
        await settle(pilot, 4)
        assert "date of birth" in screen_text(app)
        await press(pilot, "backspace")
        assert "31/02/201" in screen_text(app) and "date of birth '" not in screen_text(app)
        await press(pilot, "up")
        assert app.focused is not None and app.focused.id == "req-surname"


# -- 7. lists stay true -------------------------------------------------------------------------


async def test_force_run_records_wait_follows_decisions(demo_ran):
    store = demo_ran.store
    dfe = max(store.list_schools(), key=lambda s: s.open_cases).dfe
    async with started(store, "force_run", dfe) as (app, pilot):
        burst(app, "y")
        await settle(pilot, 3)
        waiting = store.school(dfe).open_cases
        assert waiting > 1
        assert f"{waiting} records wait in the matching queue" in screen_text(app)
        burst(app, "m")
        await settle(pilot)
        assert app.screen.kind == "matching"
        burst(app, "c", "F")  # create new: one case decided
        await settle(pilot)
        burst(app, "escape")
        await settle(pilot)
        assert app.screen.kind == "force_run"
        assert store.school(dfe).open_cases == waiting - 1
        left = waiting - 1
        assert f"{left} record{'s wait' if left != 1 else ' waits'} in the matching queue" in (
            screen_text(app)
        )


def mover_case(store):
    """An open case whose best candidate is active at another school (matching it is a move)."""
    for school in store.list_schools():
        for case in store.cases(school.dfe):
            for candidate in case.candidates:
                acc = store.find_account(candidate["username"])
                if acc and acc.status == "active" and acc.school and acc.school != case.school:
                    return case, acc
    raise AssertionError("the demo has no mover case")


async def test_latest_moves_are_complete_and_undone_ones_marked(demo_ran):
    from uso_tui.sync.actions import resolve_case, undo_decision

    store = demo_ran.store
    case, acc = mover_case(store)
    resolve_case(store, case.case_id, operator="colleague", now=NOW, match=acc.username)
    other = next(
        c for s in store.list_schools() for c in store.cases(s.dfe) if c.case_id != case.case_id
    )
    made = resolve_case(
        store, other.case_id, operator="colleague", now=NOW, create=True, force=True
    )
    created = made.decision.split(":", 1)[1]
    undo_decision(store, other.case_id, operator="colleague", now=NOW)
    async with started(store, "users", size=(120, 40)) as (app, pilot):
        table = app.screen.query_one("#latest")
        rows = {r.data: [c.plain for c in r.cells] for r in table.all_rows}
        move = rows[acc.username]
        assert move[1] == "> move"
        assert move[3] == f"{acc.forename} {acc.surname}"
        assert move[4] == f"{acc.school} > {case.school}"
        assert rows[created][1] == "undone"
        # the undone create is not offered for restore
        table.move_cursor(row=next(i for i, r in enumerate(table.shown) if r.data == created))
        burst(app, "enter")
        await settle(pilot)
        assert app.screen.username == created
        assert app.screen.check_action("restore", ()) is False
        app.open_screen("bulk_results", other.school)
        await settle(pilot)
        burst(app, "4")
        await settle(pilot)
        assert created not in {r.key for r in app.screen.active_table().all_rows}


async def test_records_wait_after_confirming_a_run_held_whole(demo):
    store, dfe = demo.store, demo.held_school
    async with started(store, "force_run", dfe) as (app, pilot):
        burst(app, "y")  # start
        await settle(pilot, 3)
        burst(app, "y")  # review the held accounts
        await settle(pilot)
        burst(app, "y")  # confirm: the held reports are applied, cases open
        await settle(pilot, 3)
        waiting = store.school(dfe).open_cases
        assert waiting
        text = screen_text(app)
        assert f"{waiting} record{'s wait' if waiting != 1 else ' waits'} in the matching" in text
        assert "\u240a" not in text  # a newline is a line break, not a visible ␊


async def test_request_account_says_the_person_waits_in_the_matching_queue(demo_ran):
    """A request for someone whose record is in the school's latest export without an account
    (its case waiting in the matching queue) says so before anything is made: the case is
    where that person's account is decided."""
    from uso_tui.sync.admin import restorable_hits, same_person_elsewhere

    store = demo_ran.store

    def own_unallocated(c) -> bool:  # a leaver come back: their account is restored, not made
        r = c.record
        found = same_person_elsewhere(
            store, c.school, "pupil", r["forename"], r["surname"], r["dob"]
        )
        return bool(restorable_hits(store, found))

    case = next(  # (not the held school's: a person there has a probable account, refused)
        c
        for s in store.list_schools()
        if s.dfe != demo_ran.held_school
        for c in store.cases(s.dfe)
        if c.role == "pupil" and not own_unallocated(c)
    )
    forename, surname, dob = (case.record[k] for k in ("forename", "surname", "dob"))
    async with started(store, "school", case.school, notifications=True) as (app, pilot):
        burst(app, "r", *forename, "enter", *surname, "enter", *dob, "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Create this account?" in text
        assert "This person is in the school's latest export, with no account:" in text
        line = next(line for line in text.splitlines() if f" {case.record['mis_id']}: " in line)
        assert "in the matching queue (m): decide it there" in line
        # made all the same: the hub says it joins the case at the next run, not by itself
        await press(pilot, "y")
        await settle(pilot)
        (said,) = [line for line in said_lines(app) if line.startswith("Created ")]
        assert f"record {case.record['mis_id']}) waits in the matching queue" in said
        assert "links to the MIS record when it arrives" not in said


async def test_the_matching_queue_opens_beside_a_corrupt_candidates_school(demo_ran):
    """A candidate's home school has a corrupt data file: the queue still opens on its case
    (that candidate as the case saw it) and says which file to restore."""
    store = demo_ran.store
    case, cand, _ = damage_a_candidates_school(store)
    async with started(store, "matching", case.school, case.case_id, notifications=True) as (
        app,
        pilot,
    ):
        await settle(pilot, 3)
        assert app.screen.kind == "matching" and app.screen.case.case_id == case.case_id
        assert cand["username"] in screen_text(app)
        assert any(f"school {cand['school']} is corrupt" in line for line in said_lines(app))


async def test_mending_the_last_wrong_field_clears_the_add_forms_refusal(demo):
    """Only the URL wrong (an Ed:gen school's URL with iSAMS chosen): ctrl+o chooses the other
    MIS, which mends it; "Not added: fix the fields marked above" no longer points at nothing."""
    async with started(demo.store) as (app, pilot):
        burst(app, "n", *"204-3299", "tab", *"Oak", "tab", *"https://oak.edgen.cloud", "tab")
        burst(app, *"cid", "tab", *"s3cret-key", "ctrl+s")
        await settle(pilot)
        form = app.screen
        assert set(form.errors) == {"url"}
        assert "fix the fields marked above" in screen_text(app)
        await press(pilot, "ctrl+o")
        assert form.mis == "Ed:gen" and not form.errors
        assert "fix the fields marked above" not in screen_text(app)


async def test_a_report_left_out_shows_no_mark_not_only_another_colour(demo):
    """Textual's checkbox shows X ticked or not (told apart by colour only)."""
    from uso_tui.tui.widgets import TickBox

    async with started(demo.store, "settings", demo.held_school, size=(100, 30)) as (app, pilot):
        staff = app.screen.query_one("#r-staff", TickBox)
        assert staff.value and "X▌ Staff" in screen_text(app).replace("▐", "")
        staff.value = False
        await settle(pilot)
        text = screen_text(app)
        assert "X▌ Staff" not in text.replace("▐", "") and "X▌ Students" in text.replace("▐", "")


async def test_a_confirmed_run_s_file_says_the_hold_is_over(demo_ran):
    """Its File tab still read "held whole: ..." with nothing saying it was confirmed since."""
    from uso_tui.sync.actions import confirm_held

    store, dfe = demo_ran.store, demo_ran.held_school
    run = store.runs(dfe, limit=1)[0]
    confirm_held(store, run.run_id, operator="opa", now=NOW)
    async with started(store, "bulk_results", dfe, size=(120, 40)) as (app, pilot):
        await settle(pilot)
        assert "Held, then confirmed by opa" in screen_text(app)


async def test_exclusion_form_refuses_a_bad_name_before_asking_about_accounts(demo):
    """`[Amy]` typed for the forename of a pupil with an account: the form asked whether to
    leave or unallocate her account, and refused the name only once answered."""
    store, dfe = demo.store, demo.held_school
    acc = plain_pupil(store, dfe)
    async with started(store, "bulk_results", dfe, notifications=True) as (app, pilot):
        typed = ["[", *acc.forename, "]", "enter", *acc.surname, "enter", *acc.dob, "enter"]
        burst(app, "5", "a", *typed)
        await settle(pilot)
        text = screen_text(app)
        assert "The person has an account here" not in text
        assert "a name has letters, spaces, hyphens" in " ".join(text.split())
    assert store.exclusions(dfe) == []


async def test_a_crash_s_traceback_shows_no_local_values(demo):
    """Textual's exit after an unhandled exception printed its traceback with every local
    variable's value: a settings form's client secret held in one went to the terminal."""
    from rich.console import Console

    async with started(demo.store) as (app, _pilot):

        def handler() -> None:
            secret = "-".join(("s3cr3t", "in", "a", "local"))  # noqa: F841 - not to be shown
            raise RuntimeError("a handler failed")

        try:
            handler()
        except RuntimeError:
            app._fatal_error()  # noqa: SLF001 - what Textual calls on an unhandled exception
        console = Console(record=True, width=120)
        for renderable in app._exit_renderables:  # noqa: SLF001
            console.print(renderable)
        shown = console.export_text()
        assert "a handler failed" in shown and "s3cr3t-in-a-local" not in shown, shown
        app._exit_renderables.clear()  # noqa: SLF001
