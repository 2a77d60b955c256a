"""A linked record listed as plainly another person than its account (its MIS id given again,
or a record the school corrected wholesale): the account is left untouched until an operator
answers, on the account, "the same person" (it takes the record's details) or "its holder left"
(unallocated and unlinked: the next run takes the record as new)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from factories import DFE, Env, acc, iris_student
from tui_helpers import press, screen_text, settle, started

from uso_tui.domain.errors import InvalidInput
from uso_tui.sync.linked_record import accept_record, listed_as_another, release_account
from uso_tui.tui.screens.users import AccountScreen
from uso_tui.tui.widgets import Confirm

DAY1, DAY2, DAY3 = (datetime(2026, 3, d, 7, 0) for d in (9, 10, 11))
KEVIN = iris_student("7", "Kevin", "Lam", "2014-03-15", uniquePupilNumber="K123456789012")
# the same MIS id, now with a wholly different forename and date of birth
WEI = iris_student("7", "Wei", "Lam", "2015-09-02", uniquePupilNumber="K123456789012")
OTHER = iris_student("8", "Ann", "Holt", "2014-01-01")


@pytest.fixture
def env(tmp_path) -> Env:
    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [WEI, OTHER])
    run = env.sync(DAY2)
    assert run.counts["invalid"] == 1 and run.counts["updated"] == 0
    return env


def kevin(env: Env):
    return env.store.account("klam.204")  # Kevin Lam's, whatever its record says now


def test_the_record_is_listed_with_the_answers_and_the_account_untouched(env):
    acc = kevin(env)
    assert (acc.forename, acc.dob, acc.status) == ("Kevin", "2014-03-15", "active")
    rec = listed_as_another(env.store, acc)
    assert rec is not None and (rec.forename, rec.dob) == ("Wei", "2015-09-02")
    [row] = [r for r in env.store.why_records(DFE) if r["mis_id"] == "7"]
    assert f"uso-tui account accept-record|release {acc.username}" in row["reason"]


def test_the_same_person_the_account_takes_the_records_details(env):
    username = kevin(env).username
    after = accept_record(env.store, username, operator="desk", now=DAY2)
    assert (after.forename, after.dob, after.mis_id, after.status) == (
        "Wei",
        "2015-09-02",
        "7",
        "active",
    )
    assert env.store.audit(DFE, subject=username)[0].action == "accept_record"
    run = env.sync(DAY3)  # the next run finds the account holding its record
    assert run.counts["invalid"] == 0 and run.counts["created"] == 0
    assert env.store.account(username).forename == "Wei"
    with pytest.raises(InvalidInput, match="not listed as another person"):
        accept_record(env.store, username, operator="desk", now=DAY3)  # nothing to answer now


def test_the_holder_left_the_record_is_taken_as_new(env):
    username = kevin(env).username
    gone = release_account(env.store, username, operator="desk", now=DAY2)
    assert (gone.status, gone.mis_id, gone.previous_link) == (
        "unallocated",
        None,
        f"{DFE}/students/7",
    )
    run = env.sync(DAY3)
    assert run.counts["created"] == 1 and run.counts["invalid"] == 0
    [wei] = [a for a in env.store.school_accounts(DFE) if a.forename == "Wei"]
    assert wei.username != username and wei.mis_id == "7" and wei.status == "active"
    assert env.store.account(username).status == "unallocated"


def test_an_account_whose_record_is_not_listed_so_is_refused(env):
    [ann] = [a for a in env.store.school_accounts(DFE) if a.forename == "Ann"]
    for answer in (accept_record, release_account):
        with pytest.raises(InvalidInput, match="nothing to answer"):
            answer(env.store, ann.username, operator="desk", now=DAY2)


def test_cli_answers(env, cli_at):
    cli = cli_at(env.store.root)
    username = kevin(env).username
    out = cli.ok("account", "accept-record", username).out
    assert "Kevin Lam born 2014-03-15 is now Wei Lam born 2015-09-02" in out
    assert cli("account", "release", username).status == 2  # answered: nothing to answer


async def test_the_account_screen_answers_after_showing_both(env):
    username = kevin(env).username
    async with started(env.store) as (app, pilot):
        app.push_screen(AccountScreen(env.store, username))
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "a Same person" in footer and "x Holder left" in footer
        await press(pilot, "x")
        assert isinstance(app.screen, Confirm)
        text = screen_text(app)
        assert "Kevin Lam, born 2014-03-15" in text and "Wei Lam, born 2015-09-02" in text
        await press(pilot, "y")
        await settle(pilot)
        footer = screen_text(app).splitlines()[-1]
        assert "Holder left" not in footer  # answered: the keys go until the next run
    assert env.store.account(username).status == "unallocated"


def test_an_answer_given_is_given_whatever_the_clocks(env):
    # the run that listed the record is stamped after the answer (a clock gone wrong): the
    # answer still ends the question, by what the account now holds, not by the time
    username = kevin(env).username
    accept_record(env.store, username, operator="desk", now=DAY1)
    with pytest.raises(InvalidInput, match="nothing to answer"):
        release_account(env.store, username, operator="desk", now=DAY1)
    assert env.store.account(username).status == "active"


def test_a_record_listed_by_a_run_stamped_before_the_account_can_be_answered(tmp_path):
    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY2)
    env.set_students(DFE, [WEI, OTHER])
    env.sync(DAY1)  # stamped before the account was made
    username = kevin(env).username
    assert release_account(env.store, username, operator="desk", now=DAY3).status == "unallocated"


def test_a_record_changed_since_it_was_shown_is_not_taken(env):
    username = kevin(env).username
    shown = listed_as_another(env.store, kevin(env))
    env.set_students(DFE, [iris_student("7", "Zara", "Lam", "2016-11-30"), OTHER])
    env.sync(DAY3)  # listed again, as another record
    with pytest.raises(InvalidInput, match="changed since it was shown"):
        accept_record(env.store, username, operator="desk", now=DAY3, as_shown=shown)
    assert env.store.account(username).forename == "Kevin"


def test_a_record_of_another_account_s_person_is_not_taken_ids_swapped(tmp_path):
    env = Env(tmp_path / "store")
    bea = iris_student("9", "Bea", "Holt", "2016-06-06", uniquePupilNumber="B999999999991")
    env.add_school(students=[KEVIN, bea])
    env.sync(DAY1)
    swapped = [
        iris_student("7", "Bea", "Holt", "2016-06-06", uniquePupilNumber="B999999999991"),
        iris_student("9", "Kevin", "Lam", "2014-03-15", uniquePupilNumber="K123456789012"),
    ]
    env.set_students(DFE, swapped)
    env.sync(DAY2)
    username = kevin(env).username
    for answer in (accept_record, release_account):
        with pytest.raises(InvalidInput, match="bholt.204's person"):
            answer(env.store, username, operator="desk", now=DAY3)
    kept = env.store.account(username)
    assert (kept.forename, kept.status) == ("Kevin", "active")


def test_a_record_of_a_person_active_at_another_school_is_not_taken(tmp_path):
    """The school gave Kevin's id to Yara, who holds an account at another school of the LA:
    Kevin's account taking her record would give her two; releasing it makes her a mover case."""
    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    other_school = "204-3211"
    yara = iris_student("q1", "Yara", "Zane", "2015-01-04")
    env.add_school(other_school, students=[yara])
    env.sync(DAY1)
    env.sync(DAY1, other_school)
    env.set_students(DFE, [dict(yara, schoolId="7"), OTHER])
    env.sync(DAY2)
    username = kevin(env).username
    with pytest.raises(InvalidInput, match=r"yzane\.204's person, active at 204-3211"):
        accept_record(env.store, username, operator="desk", now=DAY3)
    kept = env.store.account(username)
    assert (kept.forename, kept.status) == ("Kevin", "active")
    release_account(env.store, username, operator="desk", now=DAY3)
    run = env.sync(DAY3)
    assert run.counts["created"] == 0 and run.counts["needs_matching"] == 1
    [case] = env.store.cases(DFE, "open")
    assert case.candidates[0]["username"] == "yzane.204"


def test_a_namesake_active_elsewhere_under_another_upn_does_not_stop_the_answer(env):
    """Another Wei Lam born the same day, active in another LA under her own UPN: not the
    record's person (Kevin's account holds the record's UPN), so the answer is taken."""
    env.add_school("205-1000", students=[iris_student("w1", "Wei", "Lam", "2015-09-02",
                                                      uniquePupilNumber="L999999999999")])  # fmt: skip
    env.sync(DAY2, "205-1000")
    username = kevin(env).username
    after = accept_record(env.store, username, operator="desk", now=DAY3)
    assert (after.forename, after.dob) == ("Wei", "2015-09-02")


async def test_bulk_results_rejected_opens_the_account_to_answer(env):
    username = kevin(env).username
    async with started(env.store, "bulk_results", DFE) as (app, pilot):
        await press(pilot, "7")
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.username == username
        text = screen_text(app)  # why `a` and `x` are offered: the record as it reads now
        assert "Wei Lam, born 2015-09-02" in text and "a: same  x: holder left" in text
        await press(pilot, "a", "y")
        await settle(pilot)
        assert "Record now" not in screen_text(app)  # answered
    assert env.store.account(username).forename == "Wei"


@pytest.mark.parametrize("answer", ["a", "x"])
async def test_an_answer_typed_ahead_from_the_rejected_list_waits_for_its_question(env, answer):
    """`enter a y` (or `x y`) in one burst from Bulk results' Rejected tab: the account took the
    other person's details (or was unallocated) before the account page or its question was
    ever on screen. The `a` typed before the account showed asks nothing now; pressed once it
    shows, it asks, and a `y` typed with it waits for the question."""
    from tui_helpers import burst

    username = kevin(env).username
    async with started(env.store, "bulk_results", DFE, notifications=True) as (app, pilot):
        await press(pilot, "7")
        await settle(pilot)
        burst(app, "enter", answer, "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, AccountScreen)
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "the account showed after them" in said
        burst(app, answer, "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)  # the question waits for its own answer
        said = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "the question shows the account beside its record" in said
    acc = env.store.account(username)
    assert (acc.forename, acc.status) == ("Kevin", "active")


def test_an_id_given_again_to_someone_asked_for_ahead_releases_and_they_join_their_account(env):
    # Wei's account was asked for ahead of the MIS; the MIS then gave Kevin's id to Wei: Kevin's
    # holder left (released), and Wei's record joins the account asked for
    from uso_tui.sync import admin

    admin.add_account(
        env.store, DFE, role="pupil", forename="Wei", surname="Lam", dob="2015-09-02",
        operator="desk", now=DAY2,
    )  # fmt: skip
    username = kevin(env).username
    with pytest.raises(InvalidInput, match="two accounts"):
        accept_record(env.store, username, operator="desk", now=DAY2)
    release_account(env.store, username, operator="desk", now=DAY2)
    run = env.sync(DAY3)
    assert run.counts["auto_linked"] == 1 and run.counts["created"] == 0


def test_a_non_mis_account_has_no_record_to_answer_for(env):
    kevin(env)
    with env.store.transaction("t") as txn:
        txn.put_account(acc("zzulu.204", "Zed", "Zulu", "2014-01-01"))
    for answer in (accept_record, release_account):
        with pytest.raises(InvalidInput, match="not linked to an MIS record"):
            answer(env.store, "zzulu.204", operator="desk", now=DAY2)


async def test_the_account_screen_looks_again_after_a_refused_answer(env):
    """The record changed since the screen read it: `a y` was refused ("look again"), but the
    screen kept asking about the old record, refusing every `y` until `g`; and the refusal
    replaced the account's fields."""
    username = kevin(env).username
    async with started(env.store, "bulk_results", DFE) as (app, pilot):
        await press(pilot, "7")
        await settle(pilot)
        await press(pilot, "enter")  # the Rejected record: its account
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen) and app.screen.username == username
        assert app.screen.another.forename == "Wei"
        env.set_students(DFE, [iris_student("7", "Zara", "Lam", "2016-11-30"), OTHER])
        await env.run(now=DAY3)  # listed again, as another record
        await press(pilot, "a", "y")
        await settle(pilot, 4)
        assert app.screen.another.forename == "Zara"  # read again
        assert "Kevin" in screen_text(app)  # the fields are still the account's
        await press(pilot, "a", "y")
        await settle(pilot, 4)
    assert env.store.account(username).forename == "Zara"


# -- an MIS id keyed again: what still read as the same person ---------------------------------------

ANNA = iris_student("7", "Anna", "Smith", "2014-03-15", gender="F")
BELLA = iris_student("9", "Bella", "Smith", "2014-03-15", gender="F")


def test_ids_swapped_between_twins_of_one_sex_take_neither_twin_s_account(tmp_path):
    """Anna's and Bella's ids swapped, no UPN: each record has its own forename changed only,
    and both were updated: each twin signed in as the other."""
    env = Env(tmp_path / "store")
    env.add_school(students=[ANNA, BELLA, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [dict(ANNA, schoolId="9"), dict(BELLA, schoolId="7"), OTHER])
    run = env.sync(DAY2)
    assert run.counts["invalid"] == 2 and run.counts["updated"] == 0
    held = {a.forename: a.mis_id for a in env.store.school_accounts(DFE) if a.surname == "Smith"}
    assert held == {"Anna": "7", "Bella": "9"}
    reasons = [r["reason"] for r in env.store.why_records(DFE) if r["mis_id"] in ("7", "9")]
    assert all("names and date of birth are account" in reason for reason in reasons)


AMY = iris_student("1", "Amy", "Jones", "2015-04-02", gender="F")
ZOE = iris_student("2", "Zoe", "Jones", "2015-04-02", gender="F")
DAY4 = datetime(2026, 3, 12, 7, 0)


def twins(env: Env) -> dict[str, tuple[str, str | None, str]]:
    """username -> (forename, MIS id, status) of the Jones twins' accounts."""
    return {
        a.username: (a.forename, a.mis_id, a.status)
        for a in env.store.school_accounts(DFE)
        if a.surname == "Jones"
    }


def amy_keyed_under_zoes_freed_id(tmp_path) -> Env:
    """Zoe left on DAY2; the next export has Amy under Zoe's id (2), Amy's own (1) gone."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, ZOE, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [AMY, OTHER])
    env.sync(DAY2)  # Zoe left
    env.set_students(DFE, [dict(AMY, schoolId="2"), OTHER])
    return env


def test_a_freed_id_given_to_the_co_twin_never_restores_the_leaver_s_account_as_them(tmp_path):
    """Zoe left; the school keyed her twin Amy again under Zoe's freed id. The first run listed
    the record (Amy's names and date are ajones's); the same export run again restored Zoe's
    account renamed Amy (the listing looked at active accounts only, and ajones had been
    unallocated by the run before, its id absent): Amy signed in as Zoe, and a run of the same
    export changed what the one before had not."""
    env = amy_keyed_under_zoes_freed_id(tmp_path)
    env.sync(DAY3)
    after_first = twins(env)
    run = env.sync(DAY4)  # the same export again
    assert run.counts["restored"] == 0 and run.counts["updated"] == 0
    assert run.counts["invalid"] == 1
    assert twins(env) == after_first
    assert after_first["zjones.204"][0] == "Zoe"
    reason = next(r["reason"] for r in env.store.why_records(DFE) if r["mis_id"] == "2")
    assert "names and date of birth are account ajones.204's" in reason
    # Zoe's holder left: released, the record is Amy's to match to her own account
    release_account(env.store, "zjones.204", operator="desk", now=DAY4)
    env.sync(DAY4)
    [case] = env.store.cases(DFE, "open")
    assert case.candidates[0]["username"] == "ajones.204"


def test_a_twin_keyed_again_under_the_co_twin_s_freed_id_keeps_her_own_account(tmp_path):
    """Zoe left; Amy keyed again under Zoe's freed id, her own id gone: the record is listed
    (Amy's names and date are ajones's) and Amy, present in that very export, lost her account
    as a leaver. Her account is kept while the record names it; releasing Zoe's account (her
    holder left) is allowed, and the record then goes to matching with Amy's account first."""
    env = amy_keyed_under_zoes_freed_id(tmp_path)
    run = env.sync(DAY3)
    assert run.counts["unallocated"] == 0 and run.counts["invalid"] == 1
    assert twins(env)["ajones.204"] == ("Amy", "1", "active")
    reason = next(r["reason"] for r in env.store.why_records(DFE) if r["mis_id"] == "2")
    assert "account ajones.204, whose MIS id 1 is absent, is kept" in reason
    assert env.sync(DAY4).counts["unallocated"] == 0  # and on every run while it is listed
    release_account(env.store, "zjones.204", operator="desk", now=DAY4)
    env.sync(DAY4)
    [case] = env.store.cases(DFE, "open")
    assert case.candidates[0]["username"] == "ajones.204"


def test_releasing_is_refused_while_the_other_twin_s_own_record_is_there(tmp_path):
    """Ids swapped with both records present: the holder has not left, releasing is refused."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, ZOE, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [dict(AMY, schoolId="2"), dict(ZOE, schoolId="1"), OTHER])
    env.sync(DAY2)
    with pytest.raises(InvalidInput, match="ids swapped in the MIS"):
        release_account(env.store, "zjones.204", operator="desk", now=DAY2)


def test_ids_swapped_while_one_twin_is_off_roll_take_neither_twin_s_account(tmp_path):
    """Zoe off roll for a day (her account unallocated), then back with the twins' ids swapped:
    Amy's account was renamed Zoe (Zoe's own account, unallocated, was not counted as the
    record's holder), and the next run restored Zoe's account as Amy. Both records are listed,
    both accounts kept as they were; accepting Zoe's record onto Amy's account is refused."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, ZOE, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [AMY, OTHER])
    env.sync(DAY2)  # Zoe off roll
    before = twins(env)
    env.set_students(DFE, [dict(ZOE, schoolId="1"), dict(AMY, schoolId="2"), OTHER])
    for day in (DAY3, DAY4):
        run = env.sync(day)
        assert run.counts["invalid"] == 2, day
        assert run.counts["updated"] == 0 and run.counts["restored"] == 0
        assert twins(env) == before
    with pytest.raises(InvalidInput, match="zjones.204's person"):
        accept_record(env.store, "ajones.204", operator="desk", now=DAY4)
    assert env.store.account("ajones.204").forename == "Amy"


@pytest.mark.parametrize(
    "first_change",
    [
        {"uniquePupilNumber": "Y987654321098"},
        {"uniquePupilNumber": None},
        {"gender": "F"},
        {"personGuid": "guid-2"},
    ],
    ids=["upn-changed", "upn-removed", "gender", "person-guid"],
)
def test_a_record_given_to_another_child_in_two_steps_is_another_person(tmp_path, first_change):
    """Alexander's record: its UPN (or gender, or personGuid) changed one day, the forename to
    Alexandra the next. Each change alone is one person's, so both applied, and Alexander's
    account became Alexandra's; both at once were listed. Changes within the window are
    weighed together: the identity before the first change is kept with the names."""
    alexander = iris_student(
        "7", "Alexander", "Reid", "2014-03-15", gender="M", personGuid="guid-1",
        uniquePupilNumber="X123456789012",
    )  # fmt: skip
    env = Env(tmp_path / "store")
    env.add_school(students=[alexander, OTHER])
    env.sync(DAY1)
    step = dict(alexander, **first_change)
    if first_change.get("uniquePupilNumber", "") is None:
        step.pop("uniquePupilNumber")
    env.set_students(DFE, [step, OTHER])
    assert env.sync(DAY2).counts["updated"] == 1
    upn = "Z555555555555" if first_change.get("uniquePupilNumber", "") is None else None
    alexandra = dict(step, forename="Alexandra", **({"uniquePupilNumber": upn} if upn else {}))
    env.set_students(DFE, [alexandra, OTHER])
    run = env.sync(DAY3)
    assert run.counts["invalid"] == 1 and run.counts["updated"] == 0
    assert env.store.account("areid.204").forename == "Alexander"


def test_a_change_on_the_last_day_of_an_older_change_s_window_is_weighed_with_the_next(
    tmp_path,
):
    """A date corrected, then 30 days later the forename changed to Alexandra, and the next day
    Alexandra's UPN: the window ran from the first change only, so the second step was weighed
    against the account as the first left it, and Alexander's account became Alexandra's."""
    from datetime import timedelta

    alexander = iris_student(
        "7", "Alexander", "Reid", "2014-05-06", uniquePupilNumber="A123456789012"
    )
    env = Env(tmp_path / "store")
    env.add_school(students=[alexander, OTHER])
    env.sync(DAY1)
    corrected = dict(alexander, dob="2014-05-07")
    env.set_students(DFE, [corrected, OTHER])
    assert env.sync(DAY2).counts["updated"] == 1
    renamed = dict(corrected, forename="Alexandra")
    env.set_students(DFE, [renamed, OTHER])
    assert env.sync(DAY2 + timedelta(days=30)).counts["updated"] == 1  # a forename corrected
    handed = dict(renamed, uniquePupilNumber="B987654321098")
    env.set_students(DFE, [handed, OTHER])
    run = env.sync(DAY2 + timedelta(days=31))
    assert run.counts["invalid"] == 1 and run.counts["updated"] == 0
    assert env.store.account("areid.204").extra.get("upn") == "A123456789012"


def test_a_record_listed_with_a_dummy_upn_many_hold_can_be_answered(tmp_path):
    """Twelve pupils keyed with one dummy UPN (a number for pupils without one), and one of
    their records listed for a change: accept-record and release were refused for ever, each
    other holder of the dummy taken for the record's person."""
    dummy = "A999999999999"
    others = [
        iris_student(str(10 + i), f"Kid{chr(97 + i)}", f"Stone{chr(97 + i)}",
                     f"2014-0{1 + i % 9}-1{i % 9}", uniquePupilNumber=dummy)
        for i in range(12)
    ]  # fmt: skip
    jo = iris_student("1", "Jo", "Brown", "2014-05-06", uniquePupilNumber=dummy)
    env = Env(tmp_path / "store")
    env.add_school(students=[*others, jo])
    env.sync(DAY1)
    env.set_students(DFE, [*others, dict(jo, forename="Kai", dob="2014-05-26")])
    assert env.sync(DAY2).counts["invalid"] == 1
    after = accept_record(env.store, "jbrown.204", operator="desk", now=DAY3)
    assert (after.forename, after.dob) == ("Kai", "2014-05-26")


def test_a_name_change_to_the_person_s_own_old_account_s_names_can_be_accepted(tmp_path):
    """Thomas's record now says Tom, the names of his own old account (unallocated, its record
    long gone): listed, as the names are another account's, and accepting it is no swap."""
    env = Env(tmp_path / "store")
    tom = iris_student("5", "Tom", "Lam", "2014-03-15")
    env.add_school(students=[tom, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [OTHER, iris_student("7", "Thomas", "Lam", "2014-03-15")])
    env.sync(DAY2)  # record 5 gone (tlam.204 unallocated); record 7 is new: made a case
    [case] = env.store.cases(DFE, "open")
    from uso_tui.sync.actions import resolve_case

    resolve_case(env.store, case.case_id, operator="desk", now=DAY2, create=True, force=True)
    env.set_students(DFE, [OTHER, iris_student("7", "Tom", "Lam", "2014-03-15")])
    run = env.sync(DAY3)
    assert run.counts["invalid"] == 1
    [thomas] = [a.username for a in env.store.school_accounts(DFE) if a.mis_id == "7"]
    after = accept_record(env.store, thomas, operator="desk", now=DAY4)
    assert after.forename == "Tom"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the id of a leaver given to another child of the same names: another date and UPN
        (("Muhammad", "Khan", "2014-03-15", "A123456789012"), ("Muhammad", "Khan", "2017-06-01", "K987654321098")),
        # a known form of the name with a date years apart: a sibling
        (("John", "Lam", "2014-03-15", None), ("Jack", "Lam", "2017-06-01", None)),
        # surname and date both wholly different
        (("Jo", "Smith", "2014-03-15", None), ("Jo", "Brown", "2017-06-01", None)),
        # the same names, the date twelve school years away: a Reception child given a leaver's id
        (("Oliver", "Smith", "2009-05-06", None), ("Oliver", "Smith", "2021-11-02", None)),
        # the same, the new child's UPN a temporary one (which says nothing)
        (("Oliver", "Smith", "2009-05-06", None), ("Oliver", "Smith", "2021-11-02", "A12345678901Z")),
    ],
)  # fmt: skip
def test_an_id_given_again_with_two_changes_is_another_person(tmp_path, before, after):
    def student(values):
        forename, surname, dob, upn = values
        extra = {"uniquePupilNumber": upn} if upn else {}
        return iris_student("7", forename, surname, dob, **extra)

    env = Env(tmp_path / "store")
    env.add_school(students=[student(before), OTHER])
    env.sync(DAY1)
    [username] = [a.username for a in env.store.school_accounts(DFE) if a.mis_id == "7"]
    env.set_students(DFE, [OTHER])
    env.sync(DAY2)  # left: unallocated
    env.set_students(DFE, [student(after), OTHER])
    run = env.sync(DAY3)
    assert run.counts["invalid"] == 1
    assert run.counts["restored"] == 0 and run.counts["updated"] == 0
    kept = env.store.account(username)
    assert (kept.forename, kept.surname, kept.dob) == before[:3]


def test_a_person_keyed_under_a_new_id_while_theirs_went_to_another_is_matched_to_their_account(
    tmp_path,
):
    """Kevin re-keyed under id 12 and his id 7 given to Wei the same day: record 7 was listed as
    another person, but Kevin's account, linked to record 7 still in the export, was no
    candidate for record 12, and Kevin got a second account. It is his record's candidate, and
    matching it moves the account to record 12; Wei then gets an account of his own."""
    from uso_tui.sync.actions import resolve_case

    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY1)
    username = kevin(env).username
    env.set_students(DFE, [dict(KEVIN, schoolId="12"), WEI, OTHER])
    run = env.sync(DAY2)
    assert run.counts["created"] == 0 and run.counts["invalid"] == 1
    [case] = env.store.cases(DFE, "open")
    assert case.record["mis_id"] == "12" and case.candidates[0]["username"] == username
    resolve_case(env.store, case.case_id, operator="desk", now=DAY2, match=username)
    assert env.store.account(username).mis_id == "12"
    run = env.sync(DAY3)
    assert run.counts["created"] == 1 and run.counts["invalid"] == 0
    lams = {a.forename: a.username for a in env.store.school_accounts(DFE) if a.surname == "Lam"}
    assert lams["Kevin"] == username and lams["Wei"] != username


def test_the_holder_of_an_account_an_open_case_offers_has_not_left(tmp_path):
    """Kevin re-keyed under id 12, his id 7 given to Wei: `account release` (x, holder left)
    of Kevin's account unallocated it while case c1 for record 12 offered it at 100%; the next
    run gave Wei an account and left Kevin, on roll, without his. Refused, saying where to
    match it."""
    from uso_tui.sync.linked_record import release_account

    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY1)
    username = kevin(env).username
    env.set_students(DFE, [dict(KEVIN, schoolId="12"), WEI, OTHER])
    env.sync(DAY2)
    [case] = env.store.cases(DFE, "open")
    with pytest.raises(InvalidInput, match=f"offers it, case {case.case_id} for Kevin Lam"):
        release_account(env.store, username, operator="desk", now=DAY2)
    assert env.store.account(username).status == "active"
    # an account that moved in from another authority: its case is here, not where it left
    with env.store.transaction("t") as txn:
        txn.put_account(dataclasses.replace(txn.account(username), previous_school="301-1000"))
    with pytest.raises(InvalidInput, match=f"uso-tui resolve {case.case_id} --match {username}"):
        release_account(env.store, username, operator="desk", now=DAY2)


@pytest.mark.parametrize("home", ["204-3999", "301-1000"])
def test_an_account_asked_for_is_not_linked_automatically_to_a_person_active_elsewhere(
    tmp_path, home
):
    """DESIGN: a person with the same details at another school is a mover, always a case. An
    account asked for at the school joined the record by itself, and the person had two active
    accounts (none listed as possible duplicates across two local authorities)."""
    from uso_tui.sync import admin

    env = Env(tmp_path / "store")
    env.add_school(home, students=[KEVIN])
    env.add_school(students=[OTHER])
    env.sync(DAY1, home)
    env.sync(DAY1)
    admin.add_account(
        env.store, DFE, role="pupil", forename="Kevin", surname="Lam", dob="2014-03-15",
        operator="desk", now=DAY2, force=True,
    )  # fmt: skip
    env.set_students(DFE, [dict(KEVIN, schoolId="9"), OTHER])
    run = env.sync(DAY3)
    assert run.counts["auto_linked"] == 0 and run.counts["needs_matching"] == 1
    [case] = env.store.cases(DFE, "open")
    assert {c["school"] for c in case.candidates} == {DFE, home}


def test_two_changes_a_day_apart_are_weighed_together(tmp_path):
    """Kevin's record keyed Wei one day (a new forename alone: an update) and given Wei's date
    of birth the next (a date alone: an update): Kevin's account had become Wei's, one field a
    day. The second change is weighed with the first: listed as another person, and the
    operator's `a` (the same person) ends the question."""
    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY1)
    username = kevin(env).username
    env.set_students(DFE, [iris_student("7", "Wei", "Lam", "2014-03-15"), OTHER])
    assert env.sync(DAY2).counts["updated"] == 1  # a forename changed: one change
    env.set_students(DFE, [iris_student("7", "Wei", "Lam", "2015-09-02"), OTHER])
    run = env.sync(DAY3)
    assert run.counts["invalid"] == 1 and run.counts["updated"] == 0
    assert env.store.account(username).dob == "2014-03-15"
    [row] = [r for r in env.store.why_records(DFE) if r["mis_id"] == "7"]
    assert "counting the change of 2026-03-10" in row["reason"]
    accept_record(env.store, username, operator="desk", now=DAY3)
    assert env.store.account(username).dob == "2015-09-02"
    assert env.sync(DAY3).counts["invalid"] == 0


def test_changes_a_month_and_more_apart_are_each_a_person_s_own(tmp_path):
    from datetime import timedelta

    env = Env(tmp_path / "store")
    env.add_school(students=[KEVIN, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [iris_student("7", "Wei", "Lam", "2014-03-15"), OTHER])
    env.sync(DAY2)
    env.set_students(DFE, [iris_student("7", "Wei", "Lam", "2015-09-02"), OTHER])
    run = env.sync(DAY2 + timedelta(days=45))
    assert run.counts["updated"] == 1 and run.counts["invalid"] == 0


def _staff(mis_id: str, forename: str, surname: str, dob: str) -> dict:
    return {"id": int(mis_id), "forename": forename, "surname": surname, "dateOfBirth": dob}


@pytest.mark.parametrize("report", ["students", "staff"])
def test_a_record_of_the_same_names_years_younger_is_another_person(tmp_path, report):
    """John Smith's staff record given to his son John Smith, born thirty years later (staff
    records carry no gender); a pupil's id given to a younger child of the same names: the
    account was updated and the newcomer signed in as the other person."""
    env = Env(tmp_path / "store")
    if report == "staff":
        before, after = (
            _staff("7", "John", "Smith", "1975-02-03"),
            _staff("7", "John", "Smith", "2005-09-14"),
        )
    else:
        before = iris_student("7", "John", "Smith", "2014-03-15", yearGroup="6")
        after = iris_student("7", "John", "Smith", "2017-06-01", yearGroup="3")
    env.add_school(reports=[report])
    env.sim.set_records(DFE, report, [before])
    env.sync(DAY1)
    [account] = env.store.school_accounts(DFE)
    env.sim.set_records(DFE, report, [after])
    run = env.sync(DAY2)
    assert run.counts["invalid"] == 1 and run.counts["updated"] == 0
    assert env.store.account(account.username).dob == account.dob
    [row] = [r for r in env.store.why_records(DFE) if r["mis_id"] == "7"]
    assert "years apart" in row["reason"]


@pytest.mark.parametrize(
    ("report", "before", "after"),
    [
        ("students", "1900-01-01", "2014-03-15"),  # a placeholder replaced by the real date
        ("students", "2014-01-01", "2011-06-15"),  # a 1 January keyed for a date not known
        ("students", "2014-03-15", "2015-09-02"),  # corrected within a year and a half
        ("students", "2013-08-31", "2014-09-01"),  # a year apart, two school years
        ("students", "2011-03-15", "2014-03-15"),  # the year one digit wrong
        ("staff", "1985-03-12", "1958-03-21"),  # the year's digits swapped, the day too
        ("staff", "1983-06-10", "1985-02-20"),  # two years: a form misread, not a son
        ("staff", "1970-01-01", "1984-05-06"),  # a 1 January default replaced
        # a date no one of the role has replaced: a start date keyed as the date of birth, a
        # year keyed 19xx for 20xx (ages 6, 125 and 112 were listed as another person)
        ("staff", "2019-09-02", "1984-07-21"),
        ("staff", "1901-06-05", "2001-06-05"),
        ("students", "1914-03-15", "2014-03-15"),
    ],
)
def test_a_date_of_birth_corrected_is_still_an_update(tmp_path, report, before, after):
    def record(dob):
        return (
            _staff("7", "John", "Lam", dob)
            if report == "staff"
            else iris_student("7", "Kevin", "Lam", dob)
        )

    env = Env(tmp_path / "store")
    env.add_school(reports=[report])
    env.sim.set_records(DFE, report, [record(before)])
    env.sync(DAY1)
    env.sim.set_records(DFE, report, [record(after)])
    run = env.sync(DAY2)
    assert run.counts["updated"] == 1 and run.counts["invalid"] == 0


@pytest.mark.parametrize("then", ["5", "6"])  # the same class; the account's group last year's
def test_a_date_corrected_years_within_one_year_group_is_an_update(tmp_path, then):
    """The year groups, at most one apart, say one class: the date was keyed wrongly."""
    env = Env(tmp_path / "store")
    env.add_school(students=[iris_student("7", "Kevin", "Lam", "2011-03-15", yearGroup="5"), OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [iris_student("7", "Kevin", "Lam", "2015-09-20", yearGroup=then), OTHER])
    assert env.sync(DAY2).counts["updated"] == 1


def _holder(forename, surname, dob, upn=None, gender=None, middle=None, year=None, staff=False):
    extra = {k: v for k, v in (("upn", upn), ("gender", gender), ("year_group", year)) if v}
    role = "staff" if staff else "pupil"
    report = "staff" if staff else "students"
    return acc(
        "held.204", forename, surname, dob, mis_id="7", role=role, report=report,
        middle_names=middle, extra=extra,
    )  # fmt: skip


def _record(forename, surname, dob, upn=None, gender=None, middle=None, year=None, staff=False):
    from factories import rec

    report = "staff" if staff else "students"
    return rec(
        "7", forename, surname, dob, report=report, upn=upn, gender=gender, middle_names=middle,
        year_group=year,
    )  # fmt: skip


UPN_A, UPN_B = "A204111111111", "B204222222222"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # twins of one surname and date, forenames a known form apart: another UPN, or gender
        (("Alexander", "Hughes", "2014-03-15", UPN_A, "M"), ("Alexandra", "Hughes", "2014-03-15", UPN_B, "F")),
        (("Daniel", "Jones", "2014-03-15", None, "M"), ("Danielle", "Jones", "2014-03-15", None, "F")),
        (("Jack", "Lee", "2014-03-15", UPN_A, None), ("Jake", "Lee", "2014-03-15", UPN_B, None)),
        # a classmate's id: another surname, a near date, another UPN
        (("Oliver", "Smith", "2014-05-10", UPN_A, None), ("Oliver", "Jones", "2014-05-19", UPN_B, None)),
        # twins sharing a forename, told apart by their middle names and UPNs
        (("Muhammad", "Khan", "2014-03-15", UPN_A, None, "Ali"), ("Muhammad", "Khan", "2014-03-15", UPN_B, None, "Omar")),
        # year groups two apart, dates a year and a half apart (no ids)
        (("Oliver", "Smith", "2014-05-10", None, None, None, "7"), ("Oliver", "Smith", "2015-11-20", None, None, None, "5")),
    ],
)  # fmt: skip
def test_a_record_of_a_twin_or_a_classmate_is_another_person(before, after):
    """Each of these was applied as an update (found by an audit of linked-record changes):
    the forename a known form or equal, so only one field wholly different, and the ids,
    gender and middle names weighed only beside a wholly different forename or date."""
    from uso_tui.sync.plan import another_person

    assert another_person(_record(*after), _holder(*before), lambda: [])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # a sibling born months later given the leaver's id: the date one digit (a month) or
        # day and month apart, with the forename or the gender changed
        (("Leo", "Smith", "2014-01-12", None, "M"), ("Leon", "Smith", "2014-11-12", None, "M")),
        (("Madison", "Shepherd", "2015-01-05", None, "F"), ("M", "Shepherd", "2015-11-05", None, "F")),
        (("Ellie", "Jones", "2014-01-12", None, "F"), ("Ella", "Jones", "2014-12-01", None, "F")),
        (("Harpreet", "Kaur", "2014-02-10", None, "F"), ("Harpreet", "Singh", "2014-12-10", None, "M")),
        (("Wei", "Zhang", "2014-02-10", None, "M", None, "7"), ("Wen", "Zhang", "2014-12-10", None, "M", None, "6")),
    ],
)  # fmt: skip
def test_a_sibling_given_the_id_with_a_date_a_slip_but_months_apart_is_another_person(
    before, after
):
    """Each was taken as the leaver's corrections (a date "slip" and a similar forename, an
    initial, or another gender), and the leaver's account restored as the sibling."""
    from uso_tui.sync.plan import another_person

    said = another_person(_record(*after), _holder(*before), lambda: [])
    assert said and "date of birth months apart" in said


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("Leo", "Smith", "2014-01-12", None, "M"), ("Leo", "Smith", "2014-11-12", None, "M")),
        (("Jayden", "Patel", "2016-01-03", None, "M"), ("Jaden", "Patel", "2016-01-30", None, "M")),
    ],
)  # fmt: skip
def test_a_date_corrected_alone_or_days_apart_with_the_spelling_stays_an_update(before, after):
    from uso_tui.sync.plan import another_person

    assert another_person(_record(*after), _holder(*before), lambda: []) == ""


def test_a_change_that_makes_the_record_another_account_s_is_another_person():
    """Oliver Smith's id now carries Oliver Jones's names and date: Oliver Jones has an
    account of the school (their ids swapped). The check ran only on a forename change."""
    from uso_tui.sync.plan import another_person

    jones = {"username": "ojones.204", "forename": "Oliver", "surname": "Jones",
             "dob": "2014-05-19", "status": "active", "mis_id": "8", "school": DFE}  # fmt: skip
    said = another_person(
        _record("Oliver", "Jones", "2014-05-19"),
        _holder("Oliver", "Smith", "2014-05-10"),
        lambda: [jones],
    )
    assert "ojones.204" in said


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # a known form with a date days out: one person's record tidied
        (("Aleksandr", "Petrov", "2013-12-28"), ("Alexander", "Petrov", "2014-01-03")),
        # married, and the date corrected by days
        (("Laura", "Green", "1988-06-29", None, None, None, None, True), ("Laura", "Hall", "1988-07-03", None, None, None, None, True)),
        # a UPN corrected on its own
        (("Amy", "Jones", "2015-04-02", UPN_A), ("Amy", "Jones", "2015-04-02", UPN_B)),
        # a middle name changed on its own
        (("Muhammad", "Khan", "2014-03-15", None, None, "Ali"), ("Muhammad", "Khan", "2014-03-15", None, None, "Omar")),
    ],
)  # fmt: skip
def test_one_person_s_corrections_stay_updates(before, after):
    from uso_tui.sync.plan import another_person

    assert another_person(_record(*after), _holder(*before), lambda: []) == ""


def test_a_placeholder_date_replaced_beside_both_names_changed_is_another_person():
    """John Smith's id given to Jon Jones, whose date is a placeholder: the date weighed as no
    change, the forename as a known form, and the account was updated to another person."""
    from uso_tui.sync.plan import another_person

    said = another_person(
        _record("Jon", "Jones", "1900-01-01", staff=True),
        _holder("John", "Smith", "1963-04-24", staff=True),
        lambda: [],
    )
    assert said == (
        "different surname, forename or middle names, a date of birth put for one not known"
    )
    married = _record("Laura", "Hall", "1900-01-01", staff=True)  # one change, the date aside
    assert another_person(married, _holder("Laura", "Green", "1988-06-29", staff=True), list) == ""


def test_an_account_without_a_date_of_birth_takes_its_record_s_changes():
    """A linked account with no date of birth whose record changed: the plan crashed (KeyError
    'unknown'), and the school's run with it."""
    from uso_tui.sync.plan import another_person

    record = _record("Ann", "Leigh", "1980-01-02", staff=True)
    assert another_person(record, _holder("Ann", "Lee", None, staff=True), list) == ""


def test_a_change_of_mis_id_format_keeps_every_account_its_record_s(tmp_path):
    """The MIS's export changed its ids' format (007 sent as 7, ab12 as AB12): each account was
    unallocated as a leaver and a case opened with it at 100%; a school re-padded whole was held
    whole as "0 of 30 records linked before"."""
    padded = [iris_student(f"00{i + 1}", f"Pupil{chr(65 + i)}", "Reid", "2014-03-0" + str(i + 1))
              for i in range(3)]  # fmt: skip
    lettered = iris_student("ab12", "Cara", "Reid", "2014-05-01")
    env = Env(tmp_path / "store")
    env.add_school(students=[*padded, lettered, OTHER])
    env.sync(DAY1)
    before = {a.username: (a.status, a.mis_id) for a in env.store.school_accounts(DFE)}
    reformatted = [dict(p, schoolId=p["schoolId"].lstrip("0")) for p in padded]
    env.set_students(DFE, [*reformatted, dict(lettered, schoolId="AB12"), OTHER])
    run = env.sync(DAY2)
    assert run.status == "succeeded" and not run.held_usernames
    assert run.counts["unallocated"] == 0 and run.counts["needs_matching"] == 0
    assert run.counts["created"] == 0 and run.counts["updated"] == 4
    # each account kept, linked under its id as sent now
    sent = {"001": "1", "002": "2", "003": "3", "ab12": "AB12", "8": "8"}
    now = {a.username: (a.status, a.mis_id) for a in env.store.school_accounts(DFE)}
    assert now == {user: (status, sent[mis_id]) for user, (status, mis_id) in before.items()}
    again = env.sync(DAY3)  # the next run finds them by those ids: nothing to do
    assert again.counts["unallocated"] == 0 and again.counts["unchanged"] == 5


def test_a_person_guid_in_another_format_is_the_same_guid_beside_a_date_corrected(tmp_path):
    """The GUID sent in braces one day, without hyphens another: then a date corrected by a day
    listed the record as another person ("different near date of birth, personGuid")."""
    guid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    amy = iris_student("1", "Amy", "Reid", "2014-03-15", personGuid=guid)
    env = Env(tmp_path / "store")
    env.add_school(students=[amy, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [dict(amy, personGuid="{" + guid.upper() + "}"), OTHER])
    env.sync(DAY2)
    fixed = dict(amy, personGuid=guid.replace("-", ""), dob="2014-03-16")
    env.set_students(DFE, [fixed, OTHER])
    run = env.sync(DAY3)
    assert run.counts["invalid"] == 0 and run.counts["updated"] == 1
    assert env.store.account("areid.204").dob == "2014-03-16"


def test_a_new_child_given_a_leaver_s_id_in_another_format_is_a_new_record(tmp_path):
    old = iris_student("007", "Ann", "Lowe", "2014-03-15")
    env = Env(tmp_path / "store")
    env.add_school(students=[old, OTHER])
    env.sync(DAY1)
    env.set_students(DFE, [iris_student("7", "Zak", "Pryce", "2016-09-01"), OTHER])
    run = env.sync(DAY2)
    assert run.counts["created"] == 1 and run.counts["invalid"] == 0
    assert env.store.account("alowe.204").status == "unallocated"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("Jon", "Smith", "2014-01-12", UPN_A, "M"), ("John", "Smith", "2014-11-12", UPN_A, "M")),
        (("Alex", "Hughes", "2014-03-15", UPN_A, None), ("Alexander", "Hughes", "2014-08-15", UPN_A, None)),
    ],
)  # fmt: skip
def test_corrections_of_the_forename_and_a_date_months_out_under_one_upn_stay_an_update(
    before, after
):
    """The same permanent UPN on both sides: one person's record corrected, not a sibling."""
    from uso_tui.sync.plan import another_person

    assert another_person(_record(*after), _holder(*before), lambda: []) == ""


def test_an_id_given_to_a_co_twin_while_the_account_s_person_is_keyed_anew_is_another_person():
    """Jack's id given to his twin Oliver (one sex, no UPN: only the forename differs), Jack
    himself keyed under a new id in the same export: Jack's account was renamed Oliver and Jack
    given a second account."""
    from factories import export, rec, settings, snap

    from uso_tui.sync.plan import plan

    jack = acc("jsmith.204", "Jack", "Smith", "2015-04-02", mis_id="1", extra={"gender": "M"})
    planned = plan(
        export(rec("1", "Oliver", "Smith", "2015-04-02", gender="M"),
               rec("2", "Jack", "Smith", "2015-04-02", gender="M")),
        snap([jack]), DAY1.date(), settings(),
    )  # fmt: skip
    by_id = {o.record.mis_id: o for o in planned.outcomes}
    assert by_id["1"].outcome == "invalid" and "record 2's" in by_id["1"].reason
    assert by_id["2"].outcome == "needs_matching" and not planned.creates
    assert not [c for c in planned.changes if c.kind == "update"]


def test_an_id_given_to_a_co_twin_with_an_account_asked_for_is_another_person():
    from factories import export, rec, settings, snap

    from uso_tui.sync.plan import plan

    jack = acc("jsmith.204", "Jack", "Smith", "2015-04-02", mis_id="1")
    oliver = acc("osmith.204", "Oliver", "Smith", "2015-04-02")  # asked for, not yet linked
    planned = plan(
        export(rec("1", "Oliver", "Smith", "2015-04-02")), snap([jack, oliver]), DAY1.date(),
        settings(),
    )  # fmt: skip
    [seen] = planned.outcomes
    assert seen.outcome == "invalid" and "account osmith.204's" in seen.reason


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # a placeholder date replaced, with the forename (or both names) wholly changed
        (("Jack", "Smith", "1900-01-01"), ("Amira", "Smith", "2015-04-02")),
        (("Jack", "Smith", "1900-01-01"), ("Amira", "Patel", "2015-04-02")),
        # another sex and another surname, the forename the same (Alex Smith M, Alex Jones F)
        (("Alex", "Smith", "2015-04-02", None, "M"), ("Alex", "Jones", "2015-04-02", None, "F")),
        # a known form, another surname and a near date all at once
        (("Jack", "Smith", "2014-02-10"), ("Jackson", "Brown", "2014-03-01")),
    ],
)  # fmt: skip
def test_changes_a_placeholder_or_a_near_date_hid_are_another_person(before, after):
    """Each was applied as the account's update (the placeholder date said nothing, one name
    changed wholly; gender weighed only beside the forename)."""
    from uso_tui.sync.plan import another_person

    assert another_person(_record(*after), _holder(*before), lambda: [])


def test_a_son_given_his_father_s_staff_record_thirty_years_later_is_another_person():
    """1965-03-12 to 1995-07-20: the year one digit apart was taken for a year mistyped (the day
    and month too unlike for one date misread)."""
    from uso_tui.sync.plan import another_person

    father = _holder("John", "Smith", "1965-03-12", staff=True)
    son = _record("John", "Smith", "1995-07-20", staff=True)
    assert "30 years apart" in another_person(son, father, lambda: [])


KEVIN_UPN = {"uniquePupilNumber": "K123456789012"}


def _kevin_released(tmp_path):
    """Kevin's record 7 re-used for Wei (10 March) and his account released (unallocated, its
    former link kept as the record that is another person's): (its Env, the other pupil)."""
    day1, day2 = datetime(2026, 3, 9, 7, 0), datetime(2026, 3, 10, 7, 0)
    env = Env(tmp_path / "store")
    other = iris_student("8", "Ann", "Holt", "2014-01-01")
    env.add_school(students=[iris_student("7", "Kevin", "Lam", "2014-03-15", **KEVIN_UPN), other])
    env.sync(day1)
    env.set_students(DFE, [iris_student("7", "Wei", "Lam", "2015-09-02", **KEVIN_UPN), other])
    env.sync(day2)
    release_account(env.store, "klam.204", operator="desk", now=day2)
    return env, other


def test_a_released_account_restored_links_to_its_person_s_new_record(tmp_path):
    """Kevin's record 7 was re-used for Wei: his account released (unallocated, its former link
    kept as the record that is another person's), then restored. Restoring kept that link as a
    restored account's former one, so his own new record 9 never joined his account (a case)."""
    from uso_tui.sync.actions import restore_account

    env, other = _kevin_released(tmp_path)
    day2, day3 = datetime(2026, 3, 10, 7, 0), datetime(2026, 3, 11, 7, 0)
    back = restore_account(env.store, "klam.204", operator="desk", now=day2)
    assert back.previous_link is None
    kevin = iris_student("9", "Kevin", "Lam", "2014-03-15", **KEVIN_UPN)
    env.set_students(DFE, [iris_student("10", "Wei", "Lam", "2015-09-02"), kevin, other])
    assert env.sync(day3).counts["auto_linked"] == 1
    assert env.store.account("klam.204").mis_id == "9"


def test_a_released_account_matched_then_undone_then_restored_keeps_no_link(tmp_path):
    """Released (its link, record 7, Wei's now), matched in a case to Kevin's new record 9 and
    the match undone (which put the released link back), then restored: the restore took that
    link for the account's own, and Kevin's exact record 11 made a case, not a link."""
    from uso_tui.sync.actions import resolve_case, restore_account, undo_decision

    env, other = _kevin_released(tmp_path)
    day3, day4 = datetime(2026, 3, 11, 7, 0), datetime(2026, 3, 12, 7, 0)
    wei = iris_student("10", "Wei", "Lam", "2015-09-02")
    env.set_students(DFE, [wei, iris_student("9", "Kevin", "Lam", "2014-03-16"), other])
    env.sync(day3)
    [case] = [c for c in env.store.cases(DFE, "open") if c.record["mis_id"] == "9"]
    resolve_case(env.store, case.case_id, operator="desk", now=day3, match="klam.204", force=True)
    undo_decision(env.store, case.case_id, operator="desk", now=day4)
    assert restore_account(env.store, "klam.204", operator="desk", now=day4).previous_link is None
    env.set_students(
        DFE, [wei, iris_student("11", "Kevin", "Lam", "2014-03-15", **KEVIN_UPN), other]
    )
    assert env.sync(datetime(2026, 3, 13, 7, 0)).counts["auto_linked"] == 1


@pytest.mark.parametrize(
    ("staff", "before", "after"),
    [
        (True, "1962-06-14", "1995-01-01"),  # a son's record, his date a 1 January
        (False, "2012-05-20", "2019-01-01"),  # a pupil's id given again, no year groups sent
        (False, "2013-06-10", "2009-01-01"),  # 4 years: past an estimate's slack
    ],
)
def test_a_real_date_replaced_by_a_1_january_years_away_is_another_person(staff, before, after):
    """A record's 1 January (keyed for a date not known) counted as a date corrected however
    many years from the account's real date: a son given his father's staff record was updated
    to him (an unallocated father's account restored to him)."""
    from uso_tui.sync.plan import another_person

    holder = _holder("John", "Smith", before, staff=staff)
    record = _record("John", "Smith", after, staff=staff)
    assert "years apart" in another_person(record, holder, lambda: [])


@pytest.mark.parametrize(
    ("staff", "before", "after"),
    [
        (True, "1970-01-01", "1992-03-05"),  # a default date replaced by the real one
        (True, "2000-01-01", "1975-03-02"),
        (False, "2014-01-01", "2010-06-15"),  # an estimated age corrected
        (False, "2013-06-10", "2010-01-01"),  # an estimate on the record within its slack
    ],
)
def test_a_1_january_estimate_or_default_corrected_is_a_date_corrected(staff, before, after):
    from uso_tui.sync.plan import another_person

    holder = _holder("Amina", "Yusuf", before, staff=staff)
    assert another_person(_record("Amina", "Yusuf", after, staff=staff), holder, lambda: []) == ""
