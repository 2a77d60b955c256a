"""`why` tells the record's story as it stands now, not as the run's processed file left it: an
undo, a restore, a held unallocation, a failed run since, a day that has passed."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from factories import DFE, Env, iris_student

from uso_tui.sync import admin
from uso_tui.sync.actions import confirm_held
from uso_tui.sync.undo import undo_run
from uso_tui.sync.why import not_found, opens_account, unallocated_besides, why

DAY1 = datetime(2026, 3, 10, 9, 0, 0)
DAY2 = datetime(2026, 3, 11, 9, 0, 0)
LATER = datetime(2026, 3, 11, 10, 0, 0)

DOB = "2014-09-09"
AMY = iris_student("1", "Amy", "Jones", "2015-04-02")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11")
CAT = iris_student("3", "Cat", "Brown", "2016-01-20")
DEE = iris_student("6", "Dee", "Kaur", "2015-03-03")
FUTURE = iris_student("9", "Fay", "Later", "2016-01-20", enrolmentDate="2026-04-20")


@pytest.fixture
def env(tmp_path) -> Env:
    new_env = Env(tmp_path / "store")
    new_env.add_school(students=[AMY, BOB, CAT], hold_min=1, create_before_start_days=5)
    new_env.sync(DAY1)
    return new_env


def one(store, text, **kw):
    hits = why(store, text, **kw)
    assert len(hits) == 1, [(h.forename, h.surname) for h in hits]
    return hits[0]


def test_an_account_the_run_made_and_an_undo_took_back_is_not_said_to_be_there(env):
    env.set_students(DFE, [AMY, BOB, CAT, DEE])
    made = env.sync(DAY2)
    assert one(env.store, "dee kaur").outcome == "created"
    undo_run(env.store, made.run_id, operator="desk", now=LATER)
    dee = one(env.store, "dee kaur")
    assert dee.outcome == "unallocated"
    assert f"its creation undone (run {made.run_id})" in dee.reason
    assert "not restored" in dee.reason
    assert "nothing to do" not in dee.act and f"next run of {DFE}" in dee.act
    # never offered for restore: a restore of an account an undo withdrew is refused
    assert "restore" not in dee.act
    assert opens_account(dee)  # the console's enter did nothing on it
    assert dee.summary == f"{dee.username} unallocated since the run, undone: the next run plans it"


def test_an_account_made_by_an_earlier_run_and_undone_names_that_run(env):
    """The latest run found Dee's account unchanged; the run that made it was undone since:
    why names that run, not the latest, as the one undone."""
    env.set_students(DFE, [AMY, BOB, CAT, DEE])
    made = env.sync(DAY2)
    again = env.sync(datetime(2026, 3, 11, 9, 30))
    assert one(env.store, "dee kaur").run_id == again.run_id
    undo_run(env.store, made.run_id, operator="desk", now=LATER)
    dee = one(env.store, "dee kaur")
    assert f"its creation undone (run {made.run_id})" in dee.reason
    assert again.run_id not in dee.summary and "restore" not in dee.act


def test_a_leaver_whose_unallocation_is_held_is_said_to_be_held_and_how_to_keep_it(env):
    env.set_students(DFE, [AMY, CAT, {**BOB, "leavingDate": "2026-03-11"}])
    held = env.sync(DAY2)
    assert held.status == "held"
    bob = one(env.store, "bob smith")
    assert bob.outcome == "held" and f"held by run {held.run_id}" in bob.reason
    assert f"--except {bob.username}" in bob.act
    assert "still active" in bob.summary
    # Confirmed without him: his account stays, and why says it is active, not unallocated,
    # kept at the confirm (not "active again: create"), and that the next run unallocates it
    # again while the MIS gives his leaving date ("nothing to do" said the next run's doing).
    confirm_held(env.store, held.run_id, operator="desk", now=LATER, exclude=[bob.username])
    bob = one(env.store, "bob smith")
    assert f"kept active: left out when run {held.run_id} was confirmed" in bob.reason
    assert "unallocates it again" in bob.act and not bob.act.startswith("nothing to do")


def test_a_leaver_of_a_held_run_undone_since_asks_for_no_confirm(env):
    """The held run undone before any confirm: why still said "confirm run ... --except", a
    confirm the store refuses (the run was undone)."""
    env.set_students(DFE, [AMY, CAT, {**BOB, "leavingDate": "2026-03-11"}])
    held = env.sync(DAY2)
    assert held.status == "held"
    undo_run(env.store, held.run_id, operator="admin", now=LATER)
    bob = one(env.store, "bob smith")
    assert env.store.account(bob.username).status == "active"
    assert "confirm" not in bob.act and f"next run of {DFE}" in bob.act
    assert bob.summary == f"held by run {held.run_id}, undone since: the next run plans it"
    assert "no confirm waits" in bob.reason


def test_a_leaver_whose_unallocation_was_undone_is_unallocated_again_by_the_next_run(env):
    """The run that unallocated Cat undone: why said "nothing to do: active", and the next run
    unallocated her again (her record still a leaver, her account still linked to it). Restored
    instead (its link dropped), there is truly nothing to do."""
    from uso_tui.sync.actions import restore_account
    from uso_tui.sync.undo import undo_run

    env.set_students(DFE, [AMY, BOB, {**CAT, "leavingDate": "2026-03-11"}])
    run = env.sync(DAY2)  # (one of three: held, then confirmed)
    assert confirm_held(env.store, run.run_id, operator="desk", now=LATER).unallocated
    undo_run(env.store, run.run_id, operator="admin", now=LATER)
    cat = one(env.store, "cat brown")
    assert env.store.account(cat.username).status == "active"
    assert "unallocates it again" in cat.act and cat.act != "nothing to do"
    assert "left out when run" not in cat.reason  # (unallocated by the confirm, then undone)
    again = env.sync(datetime(2026, 3, 12, 9, 0))
    assert cat.username in again.held_usernames  # as said (held again, one of three)
    at = datetime(2026, 3, 12, 10)
    confirm_held(env.store, again.run_id, operator="desk", now=at)
    restore_account(env.store, cat.username, operator="desk", now=at)
    assert one(env.store, "cat brown").act.startswith("nothing to do")


def test_a_held_leaver_matched_at_another_school_since_is_said_to_be_there(env):
    """Bob's unallocation was held, then he arrived at a local school and his case there was
    matched to his account (a move): why still said his account waited for the held run, and
    offered `--except` to keep it, where a confirm leaves it alone."""
    from factories import OTHER

    from uso_tui.sync.actions import resolve_case

    env.set_students(DFE, [AMY, CAT, {**BOB, "leavingDate": "2026-03-11"}])
    held = env.sync(DAY2)
    assert held.status == "held"
    username = one(env.store, "bob smith").username
    env.add_school(OTHER, students=[{**BOB, "schoolId": "77"}])
    env.sync(DAY2, OTHER)
    case = env.store.cases(OTHER)[0]
    assert case.candidates[0]["username"] == username
    resolve_case(env.store, case.case_id, operator="desk", now=LATER, match=username)
    bob = [h for h in why(env.store, "bob smith") if h.school == DFE][0]
    assert bob.outcome != "held" and f"{username} now at {OTHER}" in bob.reason
    assert "--except" not in bob.act and bob.act.startswith("nothing to do")


def test_a_failed_run_since_is_named(env):
    env.sim.set_switches(DFE, fail_next=50, fail_status=500)
    failed = env.sync(DAY2)
    assert failed.status == "failed"
    amy = one(env.store, "amy jones")
    assert f"the latest run, {failed.run_id}, failed" in amy.reason


def test_a_case_an_undo_closed_does_not_say_it_waits(tmp_path):
    # Dee comes back under a new MIS id: her account (unallocated as she left) is a candidate, so
    # the run opens a case; undoing that run closes it.
    env, case = _case_for_dee(tmp_path)
    opened = env.store.runs(DFE, limit=1)[0]
    undo_run(env.store, opened.run_id, operator="desk", now=datetime(2026, 3, 11, 11, 0, 0))
    hits = [h for h in why(env.store, "dee kaur") if h.mis_id == "66"]
    assert hits and all("closed since" in h.summary for h in hits)
    assert all("decide case" not in h.act for h in hits)


def test_a_future_starter_s_account_day_that_has_passed_is_the_next_run(env):
    env.set_students(DFE, [AMY, BOB, CAT, FUTURE])
    env.sync(DAY2)
    assert one(env.store, "fay later", today="2026-03-12").account_on == "2026-04-15"
    late = one(env.store, "fay later", today="2026-04-16")
    assert late.account_on == "the school's next run"
    # as JSON: a date or null (scripts read a date there), the day gone by said apart
    assert late.public()["account_on"] is None and late.public()["account_day_passed"]
    on_time = one(env.store, "fay later", today="2026-03-12").public()
    assert on_time["account_on"] == "2026-04-15" and not on_time["account_day_passed"]
    # no run made it that day: "nothing to do, made by the school's run that day" was wrong
    assert "nothing to do" not in late.act
    assert f"force run the school (f in its page, or `uso-tui sync {DFE}`)" in late.act


def test_a_future_starter_whose_account_day_came_with_a_failed_run_says_so(env):
    """Fay's account day is today and today's run failed (a secret changed at the school): why
    said "nothing to do: made by the school's run that day", though that run had failed and
    every retry would. It names the failed run, and what to do."""
    env.set_students(DFE, [AMY, BOB, CAT, FUTURE])
    env.sync(DAY2)
    env.sim.set_switches(DFE, fail_next=50, fail_status=500)
    failed = env.sync(datetime(2026, 4, 15, 9, 0, 0))
    assert failed.status == "failed"
    hit = one(env.store, "fay later", today="2026-04-15")
    assert "nothing to do" not in hit.act and failed.run_id in hit.act
    assert f"force run the school (f in its page, or `uso-tui sync {DFE}`)" in hit.act
    # before its day, a failed run changes nothing for her yet
    assert one(env.store, "fay later", today="2026-04-14").act.startswith("nothing to do")


def test_a_future_starter_whose_account_was_requested_already_says_so(env):
    """Fay's account was asked for ahead (User Request Single): why named no account and said a
    request would make one sooner (a second request is refused). It names hers; another pupil
    of the same names born another day is no such account."""
    fay = admin.add_account(
        env.store, DFE, role="pupil", forename="Fay", surname="Later", dob="2016-01-20",
        operator="desk", now=DAY2,
    )  # fmt: skip
    admin.add_account(
        env.store, DFE, role="pupil", forename="Fay", surname="Later", dob="2016-02-20",
        operator="desk", now=DAY2, force=True,
    )  # fmt: skip
    env.set_students(DFE, [AMY, BOB, CAT, FUTURE])
    env.sync(DAY2)
    hit = one(env.store, "fay later", today="2026-03-12")
    assert hit.outcome == "future" and hit.requested == fay.username
    assert f"{fay.username} was requested for the person already (User Request Single)" in (
        hit.reason
    )
    assert hit.act.startswith(f"nothing to do: {fay.username} was requested")
    assert "User Request Single (r" not in hit.act
    # its one line said the account is made that day, beside "flater.204 exists already"
    assert hit.summary == f"future starter from 2026-04-20: {fay.username} requested already"


def test_an_exact_mis_id_comes_first(tmp_path):
    env = Env(tmp_path / "store")
    ids = ["12", "10", "1", "11"]
    env.add_school(students=[iris_student(i, "Pupil", f"Zed{i}", "2015-04-02") for i in ids])
    env.sync(DAY1)
    assert why(env.store, "1")[0].mis_id == "1"


def test_an_account_an_operator_unallocated_is_not_said_to_have_left(env):
    bob = one(env.store, "bob smith")
    admin.add_exclusion(
        env.store, DFE, forename="Bob", surname="Smith", dob=None, operator="desk", now=DAY2,
        unallocate=True,
    )  # fmt: skip
    env.sync(LATER)  # the excluded record: no account, its old one unallocated by the desk
    hits = why(env.store, "bob smith")
    lines = unallocated_besides(env.store, "bob smith", hits)
    assert lines and bob.username in lines[0]
    assert "by an operator" in lines[0] and "no longer in" not in lines[0]


def test_an_account_an_exclusion_unallocated_is_said_to_be_excluded_not_planned_again(env):
    """Excluded with --unallocate before the school's next run: why said the next run would plan
    the record again, when it excludes it."""
    admin.add_exclusion(
        env.store, DFE, forename="Bob", surname="Smith", dob=None, operator="desk", now=DAY2,
        unallocate=True,
    )  # fmt: skip
    bob = one(env.store, "bob smith")
    assert bob.outcome == "unallocated" and bob.exclusion_id is not None
    assert bob.summary.endswith(f"excluded (entry {bob.exclusion_id})")
    assert "on the exclusion list" in bob.reason
    assert f"the next run of {DFE} excludes the record" in bob.act
    assert f"uso-tui exclusion remove {DFE} {bob.exclusion_id}" in bob.act
    assert "plans the record again" not in bob.act


@pytest.mark.parametrize("text", ["Amy Jnoes", "Robert Smith", "Catherine Brown", "Amie Jones"])
def test_a_person_searched_by_another_form_of_the_name_is_not_said_to_be_missing(env, text):
    # Nothing is found as typed (a known-as name, a slip), but the record is in the export: it
    # is named, not "not in the MIS exports yet".
    assert why(env.store, text) == []
    said = " ".join(not_found(env.store, text))
    assert "not in the MIS exports yet" not in said
    assert "records of names like it" in said


def test_a_name_nobody_has_is_still_said_to_be_missing(env):
    said = " ".join(not_found(env.store, "Zebedee Quixote"))
    assert "not in the MIS exports yet" in said


def test_a_record_of_an_export_held_whole_says_what_confirming_would_make_of_it(env):
    env.set_students(DFE, [AMY, DEE])  # Bob and Cat gone, Dee new: fewer than linked before
    held = env.sync(DAY2)
    assert held.status == "held" and held.comparison
    amy, dee = one(env.store, "amy jones"), one(env.store, "dee kaur")
    assert amy.outcome == dee.outcome == "held"
    assert "once confirmed: unchanged" in amy.reason and amy.username in amy.reason
    assert "once confirmed, the run plans it" in dee.reason
    # Amy has her account, active: nothing waits for her (the act asked to confirm a suspect
    # export); Dee, new, waits for the confirm
    assert (
        amy.summary
        == f"{amy.username} active; its school's export is held whole by run {held.run_id}"
    )
    assert amy.act.startswith("nothing to do for this person") and "confirm" not in amy.act
    assert dee.summary == f"held: the whole export waits for run {held.run_id} to be confirmed"
    assert dee.act.startswith(f"confirm run {held.run_id}") and "--except" not in dee.act
    # Amy's account linked to another record since: not hers to rest on
    with env.store.transaction("desk") as tx:
        tx.put_account(dataclasses.replace(tx.account(amy.username), mis_id="77"))
    amy = one(env.store, "amy jones")
    assert amy.act.startswith(f"confirm run {held.run_id}")


def test_a_record_of_an_export_held_whole_whose_run_was_undone_asks_for_no_confirm(env):
    """The held run undone: a confirm is refused, so why no longer asks for one; the school's
    next run plans the record again."""
    env.set_students(DFE, [AMY, DEE])
    held = env.sync(DAY2)
    assert held.status == "held" and held.comparison
    undo_run(env.store, held.run_id, operator="desk", now=LATER)
    for text in ("amy jones", "dee kaur"):
        hit = one(env.store, text)
        assert hit.outcome == "held" and "undone since" in hit.reason
        assert "confirm" not in hit.act and f"the next run of {DFE} plans" in hit.act
        assert hit.summary == f"held by run {held.run_id}, undone since: the next run plans it"


def test_a_username_finds_the_record_its_account_is_linked_to(env):
    amy = one(env.store, "amy jones")
    by_name = one(env.store, amy.username)
    assert (by_name.mis_id, by_name.outcome) == ("1", amy.outcome)
    assert why(env.store, "nobody.204") == []


def test_a_restored_account_s_username_finds_the_record_it_had(env):
    """Amy unallocated as a leaver by mistake, then restored (its link dropped): `why` of her
    username said no record found, though her record is in the latest export."""
    from uso_tui.sync.actions import restore_account

    env.set_students(DFE, [{**AMY, "leavingDate": "2026-03-11"}, BOB, CAT])
    run = env.sync(DAY2)
    confirm_held(env.store, run.run_id, operator="desk", now=LATER)
    username = one(env.store, "amy jones").username
    restore_account(env.store, username, operator="desk", now=LATER)
    (hit,) = why(env.store, username)
    assert (hit.mis_id, hit.forename) == ("1", "Amy")


async def test_the_console_why_tells_the_story_again_when_back_in_view(env):
    # An operator reads why, goes to undo the run elsewhere, comes back: not the old story.
    from textual.screen import Screen
    from tui_helpers import burst, screen_text, settle, started

    env.set_students(DFE, [AMY, BOB, CAT, DEE])
    made = (await env.run(now=DAY2)).run
    async with started(env.store, "why", size=(120, 30), clock=lambda: LATER) as (app, pilot):
        burst(app, *"dee kaur", "enter")
        await settle(pilot, 4)
        assert "created: " in screen_text(app)
        await app.push_screen(Screen())
        undo_run(env.store, made.run_id, operator="desk", now=LATER)
        app.pop_screen()
        await settle(pilot, 4)
        assert "its creation undone" in " ".join(screen_text(app).split())


def test_a_person_not_found_is_told_where_the_exports_cannot_show_them(tmp_path):
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY])  # students only
    env.sync(DAY1)
    env.sim.set_switches(DFE, fail_next=50, fail_status=500)
    env.sync(DAY2)
    said = " ".join(not_found(env.store, "Zebedee Quixote"))
    assert f"the latest run failed at {DFE}" in said
    assert f"{DFE} export no staff" in said
    # and why it failed, to mend it (it said where, not what)
    failed = env.store.runs(DFE, limit=1)[0]
    assert failed.status == "failed" and f"{DFE} {failed.run_id}: {failed.error}" in said
    assert f"`uso-tui sync {DFE}`" in said and "read yet:" not in said


def test_a_name_the_mis_changed_finds_the_account_by_the_names_it_had(tmp_path):
    """Amy's surname changed in the MIS: `why amy jones` said "not in the MIS exports yet (the
    school enters or exports the person)", of a person whose account is active (an audit's
    find). The names a run last changed are the account's; older ones its username keeps."""
    env = Env(tmp_path / "store")
    others = [BOB, CAT, DEE, *(iris_student(str(10 + n), f"Kid{n}", "Ng", DOB) for n in range(3))]
    env.add_school(students=[AMY, *others])
    env.sync(DAY1)
    env.set_students(DFE, [{**AMY, "surname": "Lloyd"}, *others])
    env.sync(DAY2)
    said = not_found(env.store, "amy jones")
    assert "not in the MIS exports yet" not in " ".join(said)
    assert any(line.startswith("ajones.204 (Amy Lloyd, 2015-04-02") and "was Amy Jones until a "
               "run changed its names on 2026-03-11" in line for line in said)  # fmt: skip
    assert not_found(env.store, "Jones, Amy")[1] == said[1]
    # changed again: the first names are the username's only
    env.set_students(DFE, [{**AMY, "surname": "Lloyd Webber"}, *others])
    env.sync(DAY2 + timedelta(days=60))  # (past CHANGE_WINDOW_DAYS: changed_from is Lloyd)
    said = not_found(env.store, "amy jones")
    assert any(line.startswith("ajones.204 (Amy Lloyd Webber") and "was made under these names"
               in line for line in said)  # fmt: skip
    # Bob Jones, a stranger of the username's letters, is no such account
    assert not any("bsmith" in line for line in not_found(env.store, "bob jones"))
    assert "ajones.204" not in " ".join(not_found(env.store, "ann jones"))


def test_an_update_undone_since_says_the_account_holds_the_old_names(tmp_path):
    """Amy's surname changed by a run, that run undone: why of her new names said "updated",
    of an account that holds her old ones (an audit's find); the next run updates it again."""
    env = Env(tmp_path / "store")
    others = [iris_student(str(10 + n), f"Kid{n}", "Ng", DOB) for n in range(6)]
    env.add_school(students=[AMY, *others])
    env.sync(DAY1)
    env.set_students(DFE, [{**AMY, "surname": "Lloyd"}, *others])
    renamed = env.sync(DAY2)
    undo_run(env.store, renamed.run_id, operator="desk", now=LATER)
    amy = one(env.store, "amy lloyd")
    assert amy.outcome == "updated" and "ajones.204 is Amy Jones (2015-04-02) now" in amy.reason
    assert amy.act.startswith(f"the next run of {DFE} plans the record again")
    # an account as its record says is said as before
    env.sync(DAY2 + timedelta(days=1))
    assert "now, not as the record" not in one(env.store, "amy lloyd").reason


def test_the_day_the_names_changed_is_said_and_a_common_stem_hides_no_account(tmp_path):
    """A review's finds: the date said was the oldest change of the window (a date of birth
    corrected first), not the names'; and a renamed John Smith among 60 other J. Smiths (a
    stem hundreds share) was cut off the stem's first accounts read."""
    from factories import acc

    env = Env(tmp_path / "store")
    others = [iris_student(str(10 + n), f"Kid{n}", "Ng", DOB) for n in range(6)]
    env.add_school(students=[AMY, *others])
    env.sync(DAY1)
    env.set_students(DFE, [{**AMY, "dob": "2015-04-03"}, *others])  # the date corrected
    env.sync(DAY2)
    env.set_students(DFE, [{**AMY, "dob": "2015-04-03", "surname": "Lloyd"}, *others])
    env.sync(DAY2 + timedelta(days=9))
    assert "was Amy Jones until a run changed its names on 2026-03-20" in " ".join(
        not_found(env.store, "amy jones")
    )
    with env.store.transaction("tester") as txn:
        for n in range(60):
            forename = f"J{chr(97 + n // 26)}{chr(97 + n % 26)}"
            name = txn.new_username(forename, "Smith", "204")
            txn.put_account(acc(name, forename, "Smith", DOB))
        name = txn.new_username("John", "Smith", "204")
        txn.put_account(acc(name, "John", "Zulu", DOB))
    assert f"{name} (John Zulu" in " ".join(not_found(env.store, "john smith"))


def test_a_school_no_run_has_read_is_said_to_hold_nobody_yet(tmp_path):
    """A school whose every run failed (its Client Secret wrong from the start) was said to
    miss only "a person added there since the run before": nobody of it is read at all."""
    from factories import OTHER

    env = Env(tmp_path / "store")
    env.add_school(students=[AMY])
    env.sync(DAY1)
    env.add_school(OTHER, students=[BOB])
    env.sim.set_switches(OTHER, fail_next=50, fail_status=500)
    env.sync(DAY2, OTHER)
    said = " ".join(not_found(env.store, "Zebedee Quixote"))
    assert f"the latest run failed at {OTHER}" in said
    assert f"(no export of {OTHER} read yet: none of its records can be found)" in said


def test_a_upn_typed_in_groups_is_found(tmp_path):
    env = Env(tmp_path / "store")
    env.add_school(
        students=[
            iris_student("1", "Archie", "Hall", "2015-04-02", uniquePupilNumber="T038315614467")
        ]
    )
    env.sync(DAY1)
    for typed in ("T038 3156 14467", "t 038315614467", "T038-3156-14467", "T038.315.614.467"):
        assert [h.mis_id for h in why(env.store, typed)] == ["1"]


def test_a_requested_account_a_case_offers_says_so(env):
    # The account requested for Dee waits in a case (her record came with a slip of the date):
    # why of its username leads to that case.
    acc = admin.add_account(
        env.store, DFE, role="pupil", forename="Dee", surname="Kaur", dob="2015-03-03",
        operator="desk", now=DAY2,
    )  # fmt: skip
    env.set_students(DFE, [AMY, BOB, CAT, {**DEE, "dob": "2015-03-08"}])
    env.sync(LATER)
    (case,) = env.store.cases(DFE, "open")
    said = " ".join(not_found(env.store, acc.username))
    assert f"case {case.case_id}" in said and "Matching queue" in said


def _case_for_dee(tmp_path):
    """Dee back under a new MIS id: her unallocated account a candidate, her record in a case."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, BOB, CAT, DEE], hold_percent=100.0, hold_min=100)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, BOB, CAT])
    env.sync(DAY2)
    env.set_students(DFE, [AMY, BOB, CAT, {**DEE, "schoolId": "66"}])
    env.sync(LATER)
    (case,) = env.store.cases(DFE, "open")
    return env, case


def test_a_decision_undone_after_a_run_applied_it_says_the_record_waits_again(tmp_path):
    """Matched, the next run linked it, the match undone: why said "unchanged" with the account
    no longer linked to the record, though its case waited in the queue again."""
    from uso_tui.sync.actions import resolve_case, undo_decision

    env, case = _case_for_dee(tmp_path)
    username = case.candidates[0]["username"]
    resolve_case(env.store, case.case_id, operator="desk", now=LATER, match=username)
    env.sync(datetime(2026, 3, 12, 9, 0, 0))
    assert [h.outcome for h in why(env.store, "dee kaur") if h.mis_id == "66"] == ["unchanged"]
    undo_decision(env.store, case.case_id, operator="desk", now=datetime(2026, 3, 12, 10, 0))
    (dee,) = [h for h in why(env.store, "dee kaur") if h.mis_id == "66"]
    assert dee.outcome == "needs_matching" and dee.case_id == case.case_id
    assert dee.summary == f"waiting in the matching queue as case {case.case_id}"
    assert dee.username is None and f"decide case {case.case_id}" in dee.act


def test_an_account_a_case_created_then_unallocated_is_said_made_by_the_case(tmp_path):
    """Dee's case decided "create", her account then unallocated (an exclusion added with it):
    why said "created by run ...", the run that only put her in the queue."""
    from uso_tui.sync.actions import resolve_case

    env, case = _case_for_dee(tmp_path)
    resolve_case(env.store, case.case_id, operator="desk", now=LATER, create=True, force=True)
    (dee,) = [h for h in why(env.store, "dee kaur") if h.mis_id == "66"]
    admin.add_exclusion(env.store, DFE, forename="Dee", surname="Kaur", dob=dee.dob,
                        operator="desk", now=LATER, unallocate=True)  # fmt: skip
    (dee,) = [h for h in why(env.store, "dee kaur") if h.mis_id == "66"]
    assert f"case {case.case_id} decided by desk" in dee.reason, dee.reason
    assert f"by run {case.run_id}" not in dee.reason


def test_an_exclusion_removed_since_the_run_is_not_said_to_exclude_the_record(env):
    entry = admin.add_exclusion(
        env.store, DFE, forename="Dee", surname="Kaur", dob=None, operator="desk", now=DAY2
    )
    env.set_students(DFE, [AMY, BOB, CAT, DEE])
    env.sync(DAY2)
    assert one(env.store, "dee kaur").exclusion_id == entry.id
    admin.remove_exclusion(env.store, DFE, entry.id, operator="desk", now=LATER)
    dee = one(env.store, "dee kaur")
    assert dee.exclusion_id is None and "removed from the exclusion list since" in dee.reason
    assert "exclusion remove" not in dee.act and f"next run of {DFE} plans" in dee.act
    assert "removed" in dee.summary


def test_a_future_starter_excluded_since_the_run_is_said_excluded_and_leaves_the_calendar(env):
    from datetime import date

    from uso_tui.sync.calendar import calendar

    env.set_students(DFE, [AMY, BOB, CAT, FUTURE])
    env.sync(DAY2)
    assert [u.surname for u in calendar(env.store, DFE, today=date(2026, 4, 1))] == ["Later"]
    entry = admin.add_exclusion(
        env.store, DFE, forename="Fay", surname="Later", dob=None, operator="desk", now=LATER
    )
    fay = one(env.store, "fay later", today="2026-03-12")
    assert fay.outcome == "excluded" and fay.exclusion_id == entry.id
    assert "no account is made" in fay.reason and fay.account_on is None
    assert calendar(env.store, DFE, today=date(2026, 4, 1)) == []


def test_a_leaver_gone_from_a_held_export_is_said_to_be_held(env):
    """Bob gone from the export, his unallocation held: why found no record and said nothing of
    the held run that would unallocate his account, nor how to keep it."""
    env.set_students(DFE, [AMY, CAT])
    held = env.sync(DAY2)
    assert held.status == "held"
    bob = env.store.search_accounts("bob smith")[0].username
    lines = not_found(env.store, "bob smith")
    said = next(line for line in lines if line.startswith(f"{bob}:"))
    assert f"run {held.run_id} is held" in said and f"--except {bob}" in said
    # still said after a retry of the school failed: the held run still waits
    env.sim.set_switches(DFE, fail_next=50, fail_status=500)
    assert env.sync(LATER).status == "failed"
    assert any(line.startswith(f"{bob}: ") for line in not_found(env.store, "bob smith"))


def test_a_record_whose_account_moved_to_another_school_does_not_name_it_as_its_own(tmp_path):
    """Amy's account matched to her record at another school (a mover): why still said
    "created: ajones.204" of her record at the first school."""
    from factories import OTHER

    from uso_tui.sync.actions import resolve_case

    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, BOB])
    env.add_school(OTHER, students=[{**AMY, "schoolId": "77"}])
    env.sync(DAY1)
    env.sync(DAY1, OTHER)
    (case,) = env.store.cases(OTHER, "open")
    account = case.candidates[0]["username"]
    resolve_case(env.store, case.case_id, operator="desk", now=DAY2, match=account)
    (here,) = [h for h in why(env.store, "amy jones") if h.school == DFE]
    assert here.summary.startswith("created by run ") and "no longer linked" in here.summary
    assert not here.summary.startswith(f"created: {account}")


def _lily_left(tmp_path, staying: dict) -> tuple[Env, str]:
    """Amy, Lily Evans and `staying` sent on DAY1; Lily's record gone on DAY2: the store, and
    her account's username (unallocated)."""
    lily = iris_student("11", "Lily", "Evans", "2015-01-01")
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, lily, staying], hold_min=50)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, staying])
    env.sync(DAY2)
    return env, env.store.search_accounts("lily evans", status="unallocated")[0].username


def test_an_account_named_exactly_comes_before_records_of_names_like_it(tmp_path):
    """Lily Evans left (her account unallocated); her sister Lilly stays in the export: `why
    lily evans` offered only Lilly's record, never Lily's account nor its restore."""
    env, gone = _lily_left(tmp_path, iris_student("12", "Lilly", "Evans", "2016-02-02"))
    assert why(env.store, "lily evans") == []
    lines = not_found(env.store, "lily evans")
    assert gone in lines[1] and f"uso-tui restore {gone}" in " ".join(lines)
    assert "records of names like it" in lines[-1] and "Lilly" in lines[-1]


@pytest.mark.parametrize(
    "text", ["02-04-2015", "02.04.2015", "2/4/2015", "2015-4-2", "2015/04/2", "amy 2015-4-2"]
)
def test_a_uk_date_with_dashes_or_dots_finds_the_record(env, text):
    """`why 02-04-2015` found nothing and advised "try the date of birth alone"; so did a date
    written year first with a month or day typed without its 0."""
    assert one(env.store, text).forename == "Amy"


def test_part_of_a_hyphenated_surname_typed_with_its_hyphen_finds_the_record(tmp_path):
    """`why rhys-evans` for Siân Ap Rhys-Evans found nothing (indexed whole as aprhysevans, and
    as each part); `why o'brien` still finds an O'Brien."""
    sian = iris_student("21", "Siân", "Ap Rhys-Evans", "2015-05-05")
    ob = iris_student("22", "Liam", "OBrien", "2015-06-06")
    env = Env(tmp_path / "store")
    env.add_school(students=[sian, ob])
    env.sync(DAY1)
    assert one(env.store, "rhys-evans").mis_id == "21"
    assert one(env.store, "sian rhys-evans").mis_id == "21"
    assert one(env.store, "o'brien").mis_id == "22"


@pytest.mark.parametrize("text", ["Jnoes", "Smtih", "Borwn"])
def test_two_letters_swapped_near_the_start_of_a_lone_surname_are_caught(env, text):
    """`why Jnoes` said "not in the MIS exports yet": only a slip after the third letter was
    looked for."""
    assert why(env.store, text) == []
    said = " ".join(not_found(env.store, text))
    assert "records of names like it" in said and "not in the MIS exports yet" not in said


def test_a_dfe_number_among_the_words_looks_at_that_school_only(tmp_path):
    """Hundreds of Muhammad Khans across the estate: `why khan 204-3211` found nothing."""
    from factories import OTHER

    env = Env(tmp_path / "store")
    env.add_school(DFE, students=[iris_student("1", "Muhammad", "Khan", "2015-01-01")])
    env.add_school(OTHER, students=[iris_student("1", "Muhammad", "Khan", "2015-02-02")])
    env.sync(DAY1)
    env.sync(DAY1, dfe=OTHER)
    assert len(why(env.store, "muhammad khan")) == 2
    (hit,) = why(env.store, f"khan {OTHER}")
    assert hit.school == OTHER and hit.dob == "2015-02-02"


def test_a_dfe_number_in_a_search_that_finds_nothing_still_names_the_accounts(tmp_path):
    """`why lily evans 204-3210` (the school named, as the cut note advises) said "not in the
    MIS exports yet": the accounts and names like it were looked for with the DfE number as a
    word. A word shaped like one that is no school's (an MIS id) stays a word."""
    env, gone = _lily_left(tmp_path, iris_student("123-4567", "Ali", "Khan", "2015-02-02"))
    assert why(env.store, f"lily evans {DFE}") == []
    assert f"uso-tui restore {gone}" in " ".join(not_found(env.store, f"lily evans {DFE}"))
    assert one(env.store, "khan 123-4567").mis_id == "123-4567"
    assert why(env.store, "khan 999-9999") == []


def test_a_name_with_an_apostrophe_is_not_found_in_other_names_holding_its_parts(tmp_path):
    """Sean O'Neil left: `why o'neil` listed Neil Owen and Olivia Neilson as found records
    (its parts "o" and "neil" looked for anywhere)."""
    sean = iris_student("31", "Sean", "O'Neil", "2015-01-01")
    owen = iris_student("32", "Neil", "Owen", "2015-02-02")
    olivia = iris_student("33", "Olivia", "Neilson", "2015-03-03")
    env = Env(tmp_path / "store")
    env.add_school(students=[sean, owen, olivia], hold_min=50)
    env.sync(DAY1)
    assert one(env.store, "o'neil").mis_id == "31"
    env.set_students(DFE, [owen, olivia])
    env.sync(DAY2)
    assert why(env.store, "o'neil") == []


def test_a_paused_school_s_future_starter_is_told_no_scheduled_run_comes(env):
    """why promised "made by the school's run that day" at a paused school, which no scheduled
    run visits (an outside evaluator's find)."""
    env.set_students(DFE, [AMY, BOB, CAT, FUTURE])
    env.sync(DAY2)
    fay = one(env.store, "fay later", today="2026-03-11")
    assert fay.outcome == "future" and "paused" not in fay.act
    admin.update_school(env.store, DFE, operator="desk", now=LATER, paused=True)
    fay = one(env.store, "fay later", today="2026-03-11")
    assert f"{DFE} is paused: no scheduled run comes" in fay.act
    assert "--paused no" in fay.act
    assert "paused" not in one(env.store, "amy jones").act  # (nothing of hers waits on a run)


def test_an_unallocated_account_an_open_case_offers_is_matched_there_not_restored(env):
    """Amy re-keyed in the MIS (a new MIS id): her old record left, her account was unallocated
    (the held run confirmed) and is the new record's candidate. why said restore it; a restore
    does not link it to the new record, and the case stays open (an outside evaluator's find)."""
    env.set_students(DFE, [iris_student("21", "Amy", "Jones", "2015-04-02"), BOB, CAT])
    held = env.sync(DAY2)
    confirm_held(env.store, held.run_id, operator="desk", now=LATER)
    (case,) = env.store.cases(DFE)
    match = f"`uso-tui resolve {case.case_id} --match ajones.204`"
    hits = why(env.store, "amy jones")
    (besides,) = unallocated_besides(env.store, "amy jones", hits)
    assert match in besides and "restore it" not in besides
    said = not_found(env.store, "ajones.204")
    (do,) = [line for line in said if line.startswith("do:")]
    assert match in do and "restore it" not in do
    assert sum("is a candidate" in line for line in said) == 1  # said once


def test_a_restore_of_an_account_an_open_case_offers_says_to_match_it_there(env, capsys):
    """The same re-keyed Amy restored rather than matched: the restore said nothing of the case,
    the account stayed linked to no record and the case open (an evaluator's find)."""
    from uso_tui.cli.main import main

    env.set_students(DFE, [iris_student("21", "Amy", "Jones", "2015-04-02"), BOB, CAT])
    confirm_held(env.store, env.sync(DAY2).run_id, operator="desk", now=LATER)
    (case,) = env.store.cases(DFE)
    root = ["--data-dir", str(env.store.root)]
    capsys.readouterr()
    assert main([*root, "restore", "ajones.204"], clock=lambda: LATER) == 0
    err = capsys.readouterr().err
    assert f"note: case {case.case_id} for Amy Jones (MIS id 21) offers ajones.204" in err
    assert f"`uso-tui resolve {case.case_id} --match ajones.204`" in err
    assert "linked to no record and the case stays open" in err
    # an account no case offers: nothing said of cases
    env.set_students(DFE, [iris_student("21", "Amy", "Jones", "2015-04-02"), CAT])
    run = env.sync(DAY2 + timedelta(days=1))
    if run.status == "held":
        confirm_held(env.store, run.run_id, operator="desk", now=LATER + timedelta(days=1))
    (bob,) = [a for a in env.store.school_accounts(DFE) if a.forename == "Bob"]
    capsys.readouterr()
    assert main([*root, "restore", bob.username], clock=lambda: LATER + timedelta(days=1)) == 0
    assert "case" not in capsys.readouterr().err


def test_a_restore_names_a_mover_case_at_another_school_that_offers_the_account(env, capsys):
    """Amy left, her account unallocated, and her record arrived at another school of the LA,
    whose case offers it (a mover): the restore looked only at her old school's cases."""
    from factories import OTHER

    from uso_tui.cli.main import main

    env.set_students(DFE, [BOB, CAT])
    run = env.sync(DAY2)
    if run.status == "held":
        confirm_held(env.store, run.run_id, operator="desk", now=LATER)
    env.add_school(OTHER, students=[iris_student("51", "Amy", "Jones", "2015-04-02")])
    env.sync(DAY2, OTHER)
    (case,) = env.store.cases(OTHER)
    assert "ajones.204" in [c["username"] for c in case.candidates]
    capsys.readouterr()
    root = ["--data-dir", str(env.store.root)]
    assert main([*root, "restore", "ajones.204"], clock=lambda: LATER) == 0
    err = capsys.readouterr().err
    assert f"note: case {case.case_id} for Amy Jones (MIS id 51) offers ajones.204" in err
    assert f"Matching queue of {OTHER}" in err


def _amy_at_another_school(env, school: str | None = None):
    """Amy's record arrives at another school (of the LA unless said; a new MIS id): its case."""
    from factories import OTHER

    school = school or OTHER
    env.add_school(school, students=[iris_student("51", "Amy", "Jones", "2015-04-02")])
    env.sync(DAY2, school)
    (case,) = env.store.cases(school)
    assert case.candidates[0]["username"] == "ajones.204"
    return case


@pytest.mark.parametrize(("leaving", "far"), [(True, False), (False, False), (True, True)])
def test_why_names_a_mover_case_at_another_school_that_offers_the_account(env, leaving, far):
    """Amy left (with a leaving date, or gone from the export), her account unallocated, and her
    record arrived at another school (of the LA, or of another: the same names and date of birth
    are looked for across the store), whose case offers it: why (by her name, by her username)
    said to restore it at her old school, which leaves the account linked to no record and the
    case open (an audit's find)."""
    from factories import FAR

    gone = [{**AMY, "leavingDate": "2026-03-11"}] if leaving else []
    env.set_students(DFE, [*gone, BOB, CAT])
    run = env.sync(DAY2)
    if run.status == "held":
        confirm_held(env.store, run.run_id, operator="desk", now=LATER)
    case = _amy_at_another_school(env, FAR if far else None)
    match = f"`uso-tui resolve {case.case_id} --match ajones.204`"
    if leaving:  # her record is in the export: its hit says so
        for text in ("ajones.204", "amy jones"):
            hits = [h for h in why(env.store, text) if h.school == DFE]
            assert [h.outcome for h in hits] == ["unallocated"], text
            assert match in hits[0].act and "restore it" not in hits[0].act
    else:  # no record of hers: what is said of the accounts found
        (do,) = [line for line in not_found(env.store, "ajones.204") if line.startswith("do:")]
        assert match in do and "restore it" not in do
        (besides,) = unallocated_besides(env.store, "amy jones", [])
        assert match in besides and "restore it" not in besides


def test_why_of_a_held_leaver_names_the_mover_case_that_offers_the_account(env):
    """Amy's record came with a leaving date, the run held (her unallocation waits), and her
    record arrived at another school of the LA, whose case offers her account: why said only
    to confirm the run or keep her, not that the case would move her (an audit's find)."""
    env.set_students(DFE, [{**AMY, "leavingDate": "2026-03-11"}, BOB, CAT])
    held = env.sync(DAY2)
    assert held.status == "held"
    case = _amy_at_another_school(env)
    (hit,) = [h for h in why(env.store, "ajones.204") if h.school == DFE]
    assert hit.outcome == "held" and hit.held_leaver
    assert f"`uso-tui confirm {held.run_id} --except ajones.204`" in hit.act
    assert f"`uso-tui resolve {case.case_id} --match ajones.204`" in hit.act


def test_the_records_waiting_for_someone_come_first_however_many_are_found(env):
    """A name many bear filled the list with accounts made, in school order: the cases, the
    rejected and the held came after the cut."""
    many = [iris_student(str(100 + i), f"Pupil{i}", "Khan", "2015-04-02") for i in range(12)]
    bad = iris_student("99", "Zed", "Khan", "2015-02-30")  # rejected: no date of the calendar
    env.set_students(DFE, [AMY, BOB, CAT, *many, bad])
    env.sync(DAY2)
    hits = why(env.store, "khan", limit=5)
    assert len(hits) == 5
    assert hits[0].outcome == "invalid" and hits[0].forename == "Zed"


def test_a_record_rejected_for_an_impossible_date_is_found_by_that_date(env):
    """`why 2015-02-30`, the date read off the school's letter, said only "no date of the
    calendar": the record rejected for it holds no date to find it by."""
    zed = iris_student("99", "Zed", "Khan", "30/02/2015")
    ann = iris_student("98", "Ann", "Lee", "2015-02-30T00:00:00")
    # as the MIS may send them too (a review's find: read as dates, not found as such)
    more = [
        iris_student("97", "Bo", "Ng", "2015/02/30"),
        iris_student("96", "Cy", "Ng", "20150230"),
        iris_student("95", "Di", "Ng", "30/02/2015 00:00:00"),
    ]
    env.set_students(DFE, [AMY, BOB, CAT, zed, ann, *more])
    env.sync(DAY2)
    rejected = {h.forename for h in why(env.store, "ng") if h.outcome == "invalid"}
    for typed in ("2015-02-30", "30/02/2015"):
        found = {(h.forename, h.outcome) for h in why(env.store, typed)}
        assert found == {(name, "invalid") for name in {"Zed", "Ann"} | rejected}
    assert rejected == {"Bo", "Cy", "Di"}
    assert {h.forename for h in why(env.store, f"2015-02-30 {DFE}")} >= {"Zed", "Ann"}
    (hit,) = why(env.store, "zed 30.02.2015")
    assert hit.forename == "Zed" and "impossible date of birth '30/02/2015'" in hit.reason
    assert why(env.store, "amy 2015-02-30") == []  # names that are not the rejected record's
    assert why(env.store, "2015-02-31") == []
    assert "no date of the calendar" in not_found(env.store, "2015-02-31")[0]


def test_a_linked_record_rejected_for_an_impossible_date_is_found_by_that_date(env):
    """Amy's record, linked to her account, sent with 30 February: rejected, "its account is
    left untouched" after the date, and `why 2015-02-30` found no record at all."""
    env.set_students(DFE, [{**AMY, "dob": "2015-02-30"}, BOB, CAT])
    env.sync(DAY2)
    for typed in ("2015-02-30", "30/02/2015"):
        (hit,) = why(env.store, typed)
        assert (hit.forename, hit.outcome) == ("Amy", "invalid")
        assert "its account is left untouched" in hit.reason


def test_a_record_on_the_exclusion_list_since_its_account_was_made_says_so(env, tmp_path):
    """An entry added for a person who has an account makes no new one and removes none: why
    said "unchanged: linked, no change" and nothing of the entry (an outside evaluator's find)."""
    import shlex

    from uso_tui.cli.main import main

    admin.add_exclusion(
        env.store, DFE, forename="Amy", surname="Jones", dob=None, operator="desk", now=LATER
    )
    env.sync(DAY2)
    amy = one(env.store, "amy jones")
    assert amy.outcome in ("unchanged", "updated", "linked")
    assert "on the exclusion list (entry" in amy.reason and amy.username in amy.reason
    command = f"uso-tui exclusion add {DFE} --forename Amy --surname Jones --unallocate"
    assert f"`{command}` unallocates {amy.username}" in amy.act
    root = ["--data-dir", str(env.store.root)]
    assert main([*root, *shlex.split(command)[1:]], clock=lambda: LATER) == 0
    assert env.store.account(amy.username).status == "unallocated"


def test_a_upn_no_export_holds_now_names_the_accounts_that_hold_it(tmp_path):
    """Amy re-keyed (a new MIS id, no UPN on the new record): her old record's UPN found
    nothing, "not in the MIS exports yet", though her account holds it (an evaluator's find)."""
    env = Env(tmp_path / "store")
    upn = "A123456789012"
    env.add_school(
        students=[iris_student("1", "Amy", "Jones", "2015-04-02", uniquePupilNumber=upn)]
    )
    env.sync(DAY1)
    env.set_students(DFE, [iris_student("21", "Amy", "Jones", "2015-04-02")])
    env.sync(DAY2)
    said = " ".join(not_found(env.store, "a123 4567 89012"))
    assert "but these accounts match it: ajones.204 (Amy Jones, 2015-04-02" in said
    assert "not in the MIS exports yet" not in said


def test_a_leaver_whose_account_an_open_case_offers_is_matched_there(env):
    """Amy's record came with a leaving date while a new record of hers (another MIS id) came
    too: her unallocated account is that case's candidate; why's hit said restore it."""
    gone = iris_student("1", "Amy", "Jones", "2015-04-02", leavingDate="2026-03-10")
    again = iris_student("21", "Amy", "Jones", "2015-04-02")
    env.set_students(DFE, [gone, again, BOB, CAT])
    run = env.sync(DAY2)
    if run.status == "held":
        confirm_held(env.store, run.run_id, operator="desk", now=LATER)
    hits = {h.mis_id: h for h in why(env.store, "amy jones")}
    assert hits["1"].outcome == "unallocated", hits["1"].summary
    (case,) = env.store.cases(DFE)
    assert f"`uso-tui resolve {case.case_id} --match {hits['1'].username}`" in hits["1"].act
    assert "restore it" not in hits["1"].act


def test_a_name_keyed_as_one_word_is_found_typed_apart(tmp_path):
    """ "mc donald" found no McDonald (nor "de souza" DeSouza): the MIS keys them as one word."""
    env = Env(tmp_path / "store")
    env.add_school(
        students=[
            iris_student("1", "Amy", "McDonald", "2015-04-02"),
            iris_student("2", "Ben", "DeSouza", "2014-07-11"),
        ]
    )
    env.sync(DAY1)
    assert one(env.store, "amy mc donald").surname == "McDonald"
    assert one(env.store, "de souza").forename == "Ben"
    assert why(env.store, "mc nobody") == []


def test_a_why_index_cut_short_is_read_from_the_school_s_latest_processed_file(env):
    """why.idx cut short (a copy interrupted, a disk fault): `why` said a record was in no
    school's export, and `undo-run` failed with "unexpected JSONDecodeError"."""
    path = env.store.layout.why_idx(DFE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert one(env.store, "Cat Brown").outcome == "created"
    assert len(env.store.why_records(DFE)) == 3


def test_a_why_index_line_that_does_not_read_is_read_from_the_latest_processed_file(env):
    """A why.idx line that does not read (damaged from outside) stopped `why` and the calendar
    for every school of the store, and `undo-run` of the school, until the school ran again."""
    path = env.store.layout.why_idx(DFE)
    lines = path.read_bytes().splitlines(keepends=True)
    brown = next(i for i, line in enumerate(lines) if b"brown" in line.split(b"\t")[0])
    lines[brown] = lines[brown][:-8] + b"\n"  # the line's key whole, its values cut
    path.write_bytes(b"".join(lines))
    assert len(env.store.why_records(DFE)) == 3  # (as undo-run reads it, for an unallocation)
    assert len(env.store.why_records()) == 3
    assert one(env.store, "Cat Brown").outcome == "created"
    env.sync(DAY2)  # a run of every report writes it again
    assert b"".join(lines) != path.read_bytes()
    assert len(env.store.why_records(DFE)) == 3


def test_a_damaged_why_index_is_read_from_each_report_s_latest_processed_file(tmp_path):
    """The latest processed file of a run of one report (`sync --report staff`) holds no
    student: read alone for a damaged index, `why` said a pupil was in no school's export and
    undo-run's check of the ids given since saw none."""
    import asyncio

    env = Env(tmp_path / "store")
    staff = [{"id": 40, "forename": "Tom", "surname": "Hale", "dateOfBirth": "1980-02-03"}]
    env.add_school(students=[AMY, BOB, CAT], staff=staff, reports=["students", "staff"])
    env.sync(DAY1)
    asyncio.run(env.run(now=DAY2, reports=["staff"]))
    path = env.store.layout.why_idx(DFE)
    lines = path.read_bytes().splitlines(keepends=True)
    brown = next(i for i, line in enumerate(lines) if b"brown" in line.split(b"\t")[0])
    lines[brown] = lines[brown][:-8] + b"\n"
    path.write_bytes(b"".join(lines))
    assert one(env.store, "Cat Brown").outcome == "created"
    assert {r["mis_id"] for r in env.store.why_records(DFE)} == {"1", "2", "3", "40"}
    path.write_bytes(b"".join(lines)[:-20])  # cut short: the same
    assert {r["mis_id"] for r in env.store.why_records(DFE)} == {"1", "2", "3", "40"}


def test_a_damaged_why_index_without_a_processed_file_is_said_naming_the_file(env):
    from uso_tui.store.errors import CorruptFile

    path = env.store.layout.why_idx(DFE)
    lines = path.read_bytes().splitlines(keepends=True)
    brown = next(i for i, line in enumerate(lines) if b"brown" in line.split(b"\t")[0])
    lines[brown] = lines[brown][:-8] + b"\n"  # the line's key whole, its values cut
    path.write_bytes(b"".join(lines))
    for processed in env.store.layout.files_dir(DFE).iterdir():
        processed.unlink()
    with pytest.raises(CorruptFile, match=f"store file {path} is damaged .*uso-tui sync {DFE}"):
        env.store.why_records(DFE)
    with pytest.raises(CorruptFile, match=f"store file {path} is damaged"):
        env.store.why_search("brown")


def test_a_names_index_cut_short_leaves_no_account_out_of_a_search(env):
    """names.idx cut short: `accounts --search` left the accounts past the cut out, exit 0."""
    path = env.store.layout.names_idx(DFE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    found = {h.username for h in env.store.search_accounts("Brown")}
    found |= {h.username for h in env.store.search_accounts("Jones")}
    found |= {h.username for h in env.store.search_accounts("Smith")}
    assert len(found) == 3
