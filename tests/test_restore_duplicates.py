"""Restoring an account whose person has been given another since: the console's questions
(an account's screen, Bulk results) name the active accounts with the same UPN or the same names
and date of birth before `y`, and `restore` says so on stderr (it made the person two accounts
without a word)."""

from __future__ import annotations

from datetime import datetime

import pytest
from test_duplicates import FAR, HILL, UPN, VALE, acc, build_estate
from tui_helpers import burst, press, screen_text, settle, started

from uso_tui.sync.actions import unallocate_account
from uso_tui.sync.duplicates import also_active, keep_both, unallocate_duplicate
from uso_tui.tui.screens.users import AccountScreen
from uso_tui.tui.widgets import Confirm

NOW = datetime(2026, 11, 29, 10, 0, 0)


@pytest.fixture
def store(tmp_path):
    """The duplicates estate with asmith.204 (UPN of ajones.205) unallocated as a duplicate."""
    estate = build_estate(tmp_path / "data")
    unallocate_duplicate(estate, "asmith.204", "ajones.205", operator="alice", now=NOW)
    return estate


def usernames(hits) -> list[str]:
    return [hit.username for hit in hits]


def test_the_other_active_accounts_by_upn_and_by_names(store):
    gone = store.account("asmith.204")
    assert usernames(also_active(store, [gone])) == ["ajones.205"]  # same UPN, another LA
    unallocate_duplicate(store, "bcarter2.204", "bcarter.204", operator="alice", now=NOW)
    both = [gone, store.account("bcarter2.204")]
    assert usernames(also_active(store, both)) == ["ajones.205", "bcarter.204"]
    # the accounts asked about are not named, active or not
    store_restored = also_active(store, [store.account("bcarter.204")])
    assert "bcarter2.204" not in usernames(store_restored)  # unallocated: not active


def test_a_dummy_upn_many_hold_names_nobody(store):
    with store.transaction("setup") as tx:
        tx.put_accounts(
            [
                acc(f"d{n}.205", f"Pupil{n}", "Dummy", "2012-01-01", FAR, extra={"upn": UPN})
                for n in range(12)
            ]
        )
    assert usernames(also_active(store, [store.account("asmith.204")])) == []


def test_cli_restore_says_who_else_is_active(cli_at, store):
    cli = cli_at(store.root)
    res = cli.ok("restore", "asmith.204")
    assert "restored asmith.204" in res.out
    assert "ajones.205 (active at 205-1000)" in res.err and "two accounts" in res.err
    assert "lists the pair" in res.err  # (the same UPN: in two local authorities too)
    # the same names and date of birth in another local authority: the review lists no such
    # pair, which the note said it did
    with store.transaction("setup") as tx:
        tx.put_accounts([acc("zother.205", "Zed", "Other", "2011-01-01", FAR)])
    unallocate_account(store, "zed.204", operator="alice", now=NOW)
    said = " ".join(cli.ok("restore", "zed.204").err.split())
    assert "zother.205 (active at 205-1000)" in said
    assert "`uso-tui duplicates` does not list them as a pair" in said
    # a pair kept as two people: the review leaves it out, which the note said it listed
    keep_both(store, "bcarter.204", "bcarter2.204", operator="alice", now=NOW)
    unallocate_account(store, "bcarter2.204", operator="alice", now=NOW)
    said = " ".join(cli.ok("restore", "bcarter2.204").err.split())
    assert "bcarter.204 (active at 204-3210)" in said
    assert "kept as different people: `uso-tui duplicates --kept` lists the pair" in said
    unallocate_account(store, "slee.204", operator="alice", now=NOW)  # a non-MIS account
    assert "note" not in cli.ok("restore", "slee.204").err  # nobody else looks like Sam Lee


async def test_the_account_screen_names_them_before_restoring(store):
    async with started(store) as (app, pilot):
        app.push_screen(AccountScreen(store, "asmith.204"))
        await settle(pilot)
        await press(pilot, "r")
        assert isinstance(app.screen, Confirm)
        text = screen_text(app)
        assert "the same person?" in text
        line = next(line for line in text.splitlines() if "ajones.205  " in line)
        assert FAR in line and "active" in line
        await press(pilot, "n")
        assert store.account("asmith.204").status == "unallocated"


async def test_bulk_results_names_them_before_restoring_typed_ahead(store):
    async with started(store, "bulk_results", HILL) as (app, pilot):
        burst(app, "4")  # (an `r` typed with it would act on no row seen: see test_tui_records)
        await settle(pilot, 2)
        burst(app, "r")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        assert "ajones.205" in screen_text(app) and "the same person?" in screen_text(app)
        # the `y` typed with the `r` could not have read the warning: dropped, the question stays
        burst(app, "escape", "r", "y")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        assert store.account("asmith.204").status == "unallocated"
        burst(app, "y")
        await settle(pilot, 4)
    assert store.account("asmith.204").status == "active"


def test_a_request_beside_the_persons_unallocated_account_asks_to_restore_it(store):
    """Amy Smith left (asmith.204 unallocated) and was requested at Vale: the account was made
    with a note, and her record arriving there joined it by itself, her own account left unused:
    two accounts. Now refused without force, saying to restore hers."""
    from test_duplicates import VALE

    from uso_tui.domain.errors import NeedsConfirmation
    from uso_tui.sync.actions import UNDONE_CREATE
    from uso_tui.sync.admin import add_account

    ask = dict(role="pupil", forename="Amy", surname="Smith", dob="2013-05-04", operator="alice")
    with pytest.raises(NeedsConfirmation) as refused:
        add_account(store, VALE, now=NOW, **ask)
    said = str(refused.value)
    assert f"asmith.204 (unallocated, of {HILL})" in said
    # she left Hill: her record at Vale brings the account in a case (a restore puts it at Hill)
    assert "match case here offers asmith.204" in said and f"back at {HILL}" in said
    with pytest.raises(NeedsConfirmation) as refused:  # requested back at Hill: restore it
        add_account(store, HILL, now=NOW, **ask)
    assert "restore it (`uso-tui restore asmith.204`)" in str(refused.value)
    assert not [a for a in store.school_accounts(VALE) if a.surname == "Smith"]
    made = add_account(store, VALE, now=NOW, force=True, **ask)
    assert made.username != "asmith.204" and made.school == VALE
    # an account whose creation was undone is nobody's: no question
    with store.transaction("setup") as tx:
        tx.put_accounts(
            [acc("zkaur.204", "Zara", "Kaur", "2013-06-06", None, status="unallocated",
                 previous_school=VALE, extra={UNDONE_CREATE: "204-1-r3"})]
        )  # fmt: skip
    zara = dict(ask, forename="Zara", surname="Kaur", dob="2013-06-06")
    assert add_account(store, VALE, now=NOW, **zara).username != "zkaur.204"


async def test_the_request_form_asks_before_a_second_account_beside_an_unallocated_one(store):
    from test_duplicates import VALE

    async with started(store, "school", VALE) as (app, pilot):
        burst(app, "r", *"Amy", "enter", *"Smith", "enter", *"04/05/2013", "enter", "y")
        await settle(pilot, 4)
        text = screen_text(app)
        assert "Create a second account?" in text and f"asmith.204  of {HILL}" in text
        assert "comes here with their record's match case" in " ".join(text.split())
        assert not [a for a in store.school_accounts(VALE) if a.surname == "Smith"]
        await press(pilot, "F")
        await settle(pilot, 4)
    assert [a for a in store.school_accounts(VALE) if a.surname == "Smith"]


def amys_case(store, candidates: bool = True) -> str:
    """A case for Amy Smith's new record at Hill (a run's), asmith.204 its candidate or not."""
    from uso_tui.domain.models import Candidate, MatchCase, MisRecord

    offered = Candidate(
        username="asmith.204",
        school=None,
        score=100,
        forename="Amy",
        surname="Smith",
        preferred_name="",
        dob="2013-05-04",
        status="unallocated",
    )
    with store.transaction("setup") as txn:
        case = MatchCase(
            case_id=txn.next_case_id(HILL),
            school=HILL,
            report="students",
            role="pupil",
            record=MisRecord("students", "Q3", "Amy", "Smith", dob="2013-05-04").to_dict(),
            candidates=[offered.to_dict()] if candidates else [],
            opened_at="2026-11-29T11:00:00",
        )
        txn.put_case(case)
    return case.case_id


def test_matching_a_case_to_an_account_unallocated_as_a_duplicate_asks_first(store):
    """asmith.204 was unallocated as a duplicate of ajones.205 (still active). A run then
    opened a case for Amy at Hill with asmith.204 among its candidates: matching it, unasked,
    gave Amy her second account back (an outside evaluator's find)."""
    from uso_tui.domain.errors import NeedsConfirmation
    from uso_tui.sync.actions import match_preview, resolve_case, undo_decision

    case_id = amys_case(store)
    seen = match_preview(store, case_id, "asmith.204")
    assert "unallocated on 2026-11-29 as a duplicate of ajones.205" in (seen.duplicate_of or "")
    with pytest.raises(NeedsConfirmation, match="two accounts"):
        resolve_case(store, case_id, operator="bob", now=NOW, match="asmith.204")
    assert store.account("asmith.204").status == "unallocated"
    resolve_case(store, case_id, operator="bob", now=NOW, match="asmith.204", force=True)
    assert store.account("asmith.204").status == "active"
    # the match undone: asked again (the undo's entry came last in its history)
    undo_decision(store, case_id, operator="bob", now=NOW)
    with pytest.raises(NeedsConfirmation, match="as a duplicate of ajones.205"):
        resolve_case(store, case_id, operator="bob", now=NOW, match="asmith.204")


def test_a_non_candidate_unallocated_as_a_duplicate_says_so_before_force(store):
    from uso_tui.domain.errors import NeedsConfirmation
    from uso_tui.sync.actions import resolve_case

    case_id = amys_case(store, candidates=False)
    with pytest.raises(NeedsConfirmation, match="not a candidate.*as a duplicate of ajones.205"):
        resolve_case(store, case_id, operator="bob", now=NOW, match="asmith.204")


async def test_the_console_asks_before_matching_an_account_unallocated_as_a_duplicate(store):
    from uso_tui.tui.screens.matching import MatchingScreen

    amys_case(store)
    async with started(store) as (app, pilot):
        app.push_screen(MatchingScreen(store, HILL))
        await settle(pilot, 4)
        await press(pilot, "m")
        await settle(pilot, 4)
        assert isinstance(app.screen, Confirm)
        text = " ".join(screen_text(app).split())
        assert "unallocated as a duplicate" in text and "ajones.205" in text
        await press(pilot, "y")  # (one typed with the m would have been dropped: asked again)
        await settle(pilot, 4)
    assert store.account("asmith.204").status == "active"


def test_matching_a_mover_beside_the_persons_free_account_here_asks_first(store):
    """asmith.204 restored at Hill (active, linked to no record) and a case for Amy's new record
    there offering it and ajones.205 (active at another school): matching ajones.205 moved it in
    unasked, and Amy had two active accounts at Hill (an outside evaluator's find)."""
    from uso_tui.domain.errors import NeedsConfirmation
    from uso_tui.domain.models import Candidate, MatchCase, MisRecord
    from uso_tui.sync.actions import match_preview, resolve_case, restore_account

    restore_account(store, "asmith.204", operator="bob", now=NOW)
    free = store.account("asmith.204")
    assert free.status == "active" and free.school == HILL and free.mis_id is None
    mover = store.account("ajones.205")
    offered = [
        Candidate(
            username=a.username, school=a.school, score=score, forename=a.forename,
            surname=a.surname, dob=a.dob,
        ).to_dict()
        for a, score in ((free, 99), (mover, 97))
    ]  # fmt: skip
    with store.transaction("setup") as txn:
        case = MatchCase(
            case_id=txn.next_case_id(HILL), school=HILL, report="students", role="pupil",
            record=MisRecord("students", "Q4", "Amy", "Smith", dob=free.dob).to_dict(),
            candidates=offered, opened_at="2026-11-29T11:00:00",
        )  # fmt: skip
        txn.put_case(case)
    seen = match_preview(store, case.case_id, "ajones.205")
    assert "asmith.204" in (seen.free_here or "") and "two accounts" in seen.free_here
    with pytest.raises(NeedsConfirmation, match="match asmith.204 instead"):
        resolve_case(store, case.case_id, operator="bob", now=NOW, match="ajones.205")
    assert store.account("ajones.205").school == mover.school
    # the free account itself: nothing to ask
    assert match_preview(store, case.case_id, "asmith.204").free_here is None
    resolve_case(store, case.case_id, operator="bob", now=NOW, match="asmith.204")
    assert store.account("asmith.204").mis_id == "Q4"
    # a free account of another person (a namesake born another year, a co-twin's asked for,
    # ranked below): no question (a review's find: every such match asked, and needed --force)
    for n, (forename, dob, score) in enumerate((("Amy", "2012-05-04", 26), ("Amie", free.dob, 73))):
        other = acc(f"other{n}.204", forename, "Smith", dob, HILL)
        with store.transaction("setup") as txn:
            txn.put_account(other)
            case = MatchCase(
                case_id=txn.next_case_id(HILL), school=HILL, report="students", role="pupil",
                record=MisRecord("students", f"R{n}", "Amy", "Smith", dob=free.dob).to_dict(),
                candidates=[
                    Candidate(username=u, school=sc, score=sco, forename="Amy", surname="Smith",
                              dob=free.dob).to_dict()
                    for u, sc, sco in (("ajones.205", mover.school, 97), (other.username, HILL, score))
                ],
                opened_at="2026-11-29T12:00:00",
            )  # fmt: skip
            txn.put_case(case)
        assert match_preview(store, case.case_id, "ajones.205").free_here is None


def test_an_account_a_slip_of_the_date_apart_is_named_too(store):
    """Simran Ahmed keyed twice, born 13 and 14 January: the review lists the pair ("probably
    one person"), one is unallocated there, and restoring it named no active account (only the
    exact date was looked for), so one key undid the review's decision unasked."""
    with store.transaction("setup") as tx:
        tx.put_accounts(
            [
                acc("sahmed2.204", "Simran", "Ahmed", "2009-01-13", HILL),
                acc("sahmed3.204", "Simran", "Ahmed", "2009-01-14", VALE),
                acc("tahmed.204", "Tariq", "Ahmed", "2009-01-14", HILL),  # a brother, no slip
                acc("sahmed4.204", "Simran", "Ahmed", "2009-01-16", HILL,
                    extra={"upn": "B123456789012"}),
            ]
        )  # fmt: skip
    unallocate_duplicate(store, "sahmed3.204", "sahmed2.204", operator="alice", now=NOW)
    assert usernames(also_active(store, [store.account("sahmed3.204")])) == ["sahmed2.204"]
    with store.transaction("setup") as tx:  # two children: their UPNs differ
        tx.put_accounts([acc("sahmed2.204", "Simran", "Ahmed", "2009-01-13", HILL,
                             extra={"upn": "C123456789012"})])  # fmt: skip
        gone = tx.account("sahmed3.204")
        gone.extra = {"upn": "D123456789012"}
        tx.put_accounts([gone])
    assert usernames(also_active(store, [store.account("sahmed3.204")])) == []


def test_a_common_name_a_slip_apart_elsewhere_is_no_one_named(store):
    """Four Muhammad Khans of another local authority born a day, a month or a year from the
    one restored: the review lists no such pair (names alone pair accounts of one local
    authority), yet each was named as maybe the same person."""
    with store.transaction("setup") as tx:
        tx.put_accounts(
            [acc("mkhan9.204", "Muhammad", "Khan", "2015-04-01", None, status="unallocated",
                 previous_school=HILL)]
            + [acc(f"mkhan{n}.205", "Muhammad", "Khan", born, FAR)
               for n, born in ((10, "2015-04-02"), (11, "2015-05-01"), (12, "2014-04-01"))]
        )  # fmt: skip
    assert usernames(also_active(store, [store.account("mkhan9.204")])) == []
