"""The planner, rule by rule (DESIGN section 3), on small hand-written exports and snapshots."""

from __future__ import annotations

import dataclasses

import pytest
from factories import (
    DFE,
    OTHER,
    TODAY,
    acc,
    export,
    linked_acc,
    linked_rec,
    outcome_of,
    rec,
    settings,
    snap,
)

from uso_tui.domain.models import Exclusion, MatchCase
from uso_tui.sync.matching import CandidateIndex
from uso_tui.sync.plan import plan

OK = rec("1", "Amy", "Jones", "2015-04-02")


def test_invalid_reasons_create_nothing():
    planned = plan(
        export(
            rec("a", None, "Jones", "2015-01-01"),
            rec("b", "Amy", "  ", "2015-01-01"),
            rec("c", "Amy", "Jones", None),
            rec("d", "Amy", "Jones", None, dob_raw="2015-02-30"),
            rec("e", "Amy", "Jones", "2027-01-01"),  # born after today
            rec("f", "Amy", "Jones", "1850-01-01"),
            rec("dup", "Ann", "Lee", "2015-01-01"),
            rec("dup", "Anne", "Lee", "2015-01-02"),
            rec("g", "---", "Lee", "2015-01-01"),
            rec("h", "Amy", "\u3164\u3164", "2015-01-01"),  # Hangul fillers: blank on screen
            rec("", "Ann", "Lee", "2015-01-01"),
        ),
        snap(),
        TODAY,
        settings(),
    )
    reasons = {o.record.mis_id + o.record.forename.__str__(): o.reason for o in planned.outcomes}
    assert all(o.outcome == "invalid" for o in planned.outcomes)
    assert reasons["aNone"] == "missing forename"
    assert reasons["bAmy"] == "missing surname"
    assert reasons["cAmy"] == "missing date of birth"
    assert "impossible date of birth '2015-02-30'" in reasons["dAmy"]
    assert "impossible date of birth 2027-01-01" in reasons["eAmy"]
    assert "impossible" in reasons["fAmy"]
    assert "appears 2 times" in reasons["dupAnn"] and "appears 2 times" in reasons["dupAnne"]
    assert "contains no letters" in reasons["g---"]
    assert "surname" in reasons["hAmy"] and "contains no letters" in reasons["hAmy"]
    assert reasons["Ann"] == "no MIS id"
    assert planned.counts["invalid"] == 11
    assert not planned.creates and not planned.new_cases and not planned.changes


def test_invalid_record_of_a_linked_account_leaves_it_untouched():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    planned = plan(export(rec("1", "Amy", None, "2015-04-02")), snap([account]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert (
        result.outcome == "invalid"
        and "left untouched" in result.reason
        and result.username == account.username
    )
    assert planned.changes == [] and planned.counts["unallocated"] == 0 and not planned.held


def test_duplicate_id_of_a_linked_account_is_not_a_leaver():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    planned = plan(
        export(OK, rec("1", "Amy", "Jones", "2015-04-03")), snap([account]), TODAY, settings()
    )
    assert {o.outcome for o in planned.outcomes} == {"invalid"}
    assert planned.changes == []


def test_future_starter_listed_without_account():
    record = rec("1", "Amy", "Jones", "2015-04-02", enrolment_date="2026-03-11")
    planned = plan(export(record), snap(), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "future"
    assert "2026-03-11" in outcome_of(planned, "1").reason
    assert not planned.creates and planned.counts["future"] == 1


def test_future_starter_created_within_create_before_start_days():
    soon = rec("1", "Amy", "Jones", "2015-04-02", enrolment_date="2026-03-15")
    later = rec("2", "Bob", "Smith", "2015-04-02", enrolment_date="2026-03-16")
    today_start = rec("3", "Cat", "Brown", "2015-04-02", enrolment_date="2026-03-10")
    planned = plan(
        export(soon, later, today_start), snap(), TODAY, settings(create_before_start_days=5)
    )
    assert outcome_of(planned, "1").outcome == "created"
    assert outcome_of(planned, "2").outcome == "future"
    assert outcome_of(planned, "3").outcome == "created"


def test_leaver_by_leaving_date_today_or_earlier():
    accounts = [linked_acc(n) for n in range(30)]
    records = [linked_rec(n) for n in range(30)]
    records[0] = rec("p0", "PupilA", "Surname0", "2015-01-01", leaving_date="2026-03-10")
    records[1] = rec("p1", "PupilB", "Surname1", "2015-01-01", leaving_date="2026-03-11")
    planned = plan(export(*records), snap(accounts), TODAY, settings())
    assert outcome_of(planned, "p0").outcome == "leaver"
    assert outcome_of(planned, "p1").outcome == "unchanged"
    gone = [c for c in planned.changes if c.kind == "unallocate"]
    assert [c.username for c in gone] == ["u0.204"]
    after = gone[0].after
    assert after.status == "unallocated" and after.school is None
    assert after.previous_school == DFE and after.mis_id == "p0"  # link kept for a return
    assert planned.counts["unallocated"] == 1


def test_leaver_by_absence_from_a_complete_export():
    accounts = [linked_acc(n) for n in range(30)]
    planned = plan(
        export(*[linked_rec(n) for n in range(1, 30)]), snap(accounts), TODAY, settings()
    )
    assert [c.username for c in planned.changes if c.kind == "unallocate"] == ["u0.204"]
    assert not planned.is_held


def test_manual_accounts_are_never_leavers():
    manual = acc("mgr.204", "Mo", "Green", "1980-01-01")
    planned = plan(export(OK), snap([manual]), TODAY, settings())
    assert all(c.kind != "unallocate" for c in planned.changes)


def test_exclusion_without_dob_matches_normalised_names():
    ex = Exclusion(id=1, school=DFE, forename="seán", surname="O'BRIEN-SMITH")
    record = rec("1", "Sean", "obrien smith", "2015-04-02")
    planned = plan(export(record), snap(exclusions=[ex]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert result.outcome == "excluded" and "entry 1" in result.reason
    assert not planned.creates and not planned.new_cases and planned.counts["excluded"] == 1


def test_exclusion_with_dob_only_matches_that_dob():
    ex = Exclusion(id=2, school=DFE, forename="Amy", surname="Jones", dob="2015-04-02")
    other = rec("2", "Amy", "Jones", "2016-05-05")
    planned = plan(export(OK, other), snap(exclusions=[ex]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "excluded"
    assert outcome_of(planned, "2").outcome == "created"


def test_exclusion_keeps_a_record_out_of_the_matching_queue():
    ex = Exclusion(id=1, school=DFE, forename="Amy", surname="Jones")
    near = acc("ajones.204", "Amy", "Jones", "2015-02-04", school=OTHER, mis_id="9")
    planned = plan(export(OK), snap(pool=[near], exclusions=[ex]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "excluded" and not planned.new_cases


def test_a_future_starter_on_the_exclusion_list_is_excluded_not_coming():
    """`why`, the calendar and `export future` listed the starter as coming ("future: starts
    on ..."), though on that day the run excludes the record and makes no account."""
    ex = Exclusion(id=1, school=DFE, forename="Amy", surname="Jones")
    starter = rec("1", "Amy", "Jones", "2015-04-02", enrolment_date="2099-09-01")
    planned = plan(export(starter), snap(exclusions=[ex]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "excluded"
    assert planned.counts["future"] == 0


def test_linked_update_changes_names_and_keeps_username():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    record = rec("1", "Amy", "Jones-Patel", "2015-04-02", year_group="5", preferred_name="Ames")
    planned = plan(export(record), snap([account]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert (
        result.outcome == "updated"
        and "surname" in result.reason
        and result.username == "ajones.204"
    )
    (ch,) = planned.changes
    assert ch.kind == "update" and ch.after.username == "ajones.204"
    assert ch.after.surname == "Jones-Patel" and ch.after.preferred_name == "Ames"
    assert ch.after.extra["year_group"] == "5"
    assert ch.before.surname == "Jones"  # the before state is not mutated


def test_unchanged_linked_record_changes_nothing():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    record = rec("1", "Amy", "Jones", "2015-04-02", year_group="5", email="a@x.sch.uk")
    p1 = plan(export(record), snap([account]), TODAY, settings())
    (ch,) = p1.changes
    p2 = plan(export(record), snap([ch.after]), TODAY, settings())
    assert p2.changes == [] and outcome_of(p2, "1").outcome == "unchanged"


def test_automatic_restore_when_the_link_reappears():
    account = acc(
        "ajones.204",
        "Amy",
        "Jones",
        "2015-04-02",
        mis_id="1",
        school=None,
        link_school=DFE,
        status="unallocated",
        previous_school=DFE,
        unallocated_at="2026-03-01T06:00:00",
    )
    planned = plan(export(OK), snap([account]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert result.outcome == "restored" and result.username == "ajones.204"
    (ch,) = planned.changes
    assert ch.kind == "restore" and ch.after.status == "active" and ch.after.school == DFE
    assert ch.after.unallocated_at is None and planned.counts["restored"] == 1


def test_automatic_link_of_a_requested_account():
    requested = acc("ajones.204", "AMY", "jones", "2015-04-02")  # User Request Single
    planned = plan(export(OK), snap([requested]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert result.outcome == "auto_linked" and result.username == "ajones.204"
    (ch,) = planned.changes
    assert ch.kind == "auto_link" and ch.after.mis_id == "1" and ch.after.link_school == DFE
    assert ch.after.source == "mis" and not planned.creates and not planned.new_cases


def test_a_preferred_name_alone_never_links_automatically():
    # DESIGN rule 6: the record's own forename must equal the account's; "Sam" requested for
    # Samantha could be her twin Samuel's account.
    requested = acc("sjones.204", "Sam", "Jones", "2015-04-02")
    record = rec("1", "Samantha", "Jones", "2015-04-02", preferred_name="Sam")
    planned = plan(export(record), snap([requested]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "needs_matching"
    assert planned.new_cases[0].candidates[0].username == "sjones.204"


def test_no_automatic_link_when_two_accounts_have_the_same_details():
    a1 = acc("ajones.204", "Amy", "Jones", "2015-04-02")
    a2 = acc("ajones2.204", "Amy", "Jones", "2015-04-02")
    planned = plan(export(OK), snap([a1, a2]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "needs_matching"
    (case,) = planned.new_cases
    assert {c.username for c in case.candidates} == {"ajones.204", "ajones2.204"}


def test_no_automatic_link_when_two_records_claim_one_account():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02")
    planned = plan(
        export(OK, rec("2", "Amy", "Jones", "2015-04-02")), snap([account]), TODAY, settings()
    )
    assert [o.outcome for o in planned.outcomes] == ["needs_matching", "needs_matching"]
    assert not planned.changes


def test_no_automatic_link_to_a_linked_or_other_role_account():
    staff = acc("ajones.204", "Amy", "Jones", "2015-04-02", role="staff")
    planned = plan(export(OK), snap([staff]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "created"


def test_mover_at_another_school_is_always_a_case():
    mover = acc("ajones.204", "Amy", "Jones", "2015-04-02", school=OTHER, mis_id="77")
    planned = plan(export(OK), snap(pool=[mover]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert result.outcome == "needs_matching" and "mover" in result.reason
    (case,) = planned.new_cases
    (candidate,) = case.candidates
    assert (
        candidate.username == "ajones.204" and candidate.score >= 99 and candidate.school == OTHER
    )
    assert candidate.differs == ["school"] and not planned.changes and not planned.creates


def test_unlinked_account_at_another_school_is_a_case_not_a_link():
    requested = acc("ajones.204", "Amy", "Jones", "2015-04-02", school=OTHER)
    planned = plan(export(OK), snap(pool=[requested]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "needs_matching" and not planned.changes


def test_near_duplicate_is_a_case_never_auto_linked():
    existing = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    # The pupil entered again under a second id (day and month swapped, a typo) after the
    # first record was closed.
    dup = rec("2", "Amy", "Jomes", "2015-02-04")
    planned = plan(export(dup), snap([existing]), TODAY, settings())
    assert outcome_of(planned, "2").outcome == "needs_matching"
    (case,) = planned.new_cases
    candidate = case.candidates[0]
    assert candidate.username == "ajones.204" and 60 <= candidate.score < 100
    assert set(candidate.differs) >= {"surname", "dob"}
    # the account of the closed record leaves; the case can still give it back
    assert not planned.creates and [ch.kind for ch in planned.changes] == ["unallocate"]


def test_an_account_linked_to_another_record_of_the_export_is_never_a_candidate():
    # The MIS holds the pupil twice: the account is the other record's (DESIGN rule 6).
    existing = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    dup = rec("2", "Amy", "Jomes", "2015-02-04")
    planned = plan(export(OK, dup), snap([existing]), TODAY, settings())
    assert outcome_of(planned, "2").outcome == "created" and not planned.new_cases


def test_unlinked_unallocated_account_elsewhere_is_a_candidate():
    left = acc(
        "ajones.204",
        "Amy",
        "Jones",
        "2015-04-02",
        school=None,
        mis_id="5",
        link_school=OTHER,
        previous_school=OTHER,
        status="unallocated",
    )
    planned = plan(export(OK), snap(pool=[left]), TODAY, settings())
    (case,) = planned.new_cases
    assert case.candidates[0].status == "unallocated"


def test_creation_when_nothing_resembles():
    other = acc("bsmith.204", "Bob", "Smith", "2014-01-01", school=OTHER, mis_id="5")
    planned = plan(export(OK), snap(pool=[other]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert (
        result.outcome == "created" and planned.creates == [OK] and planned.counts["created"] == 1
    )


def open_case_of(record) -> MatchCase:
    """The school's case c1, open on `record`, with no candidates."""
    return MatchCase(
        case_id=f"{DFE}-c1",
        school=DFE,
        report="students",
        role="pupil",
        record=record.to_dict(),
        candidates=[],
    )


def test_open_case_is_not_duplicated_and_stays_pending():
    case = open_case_of(OK)
    planned = plan(export(OK), snap(cases=[case]), TODAY, settings())
    result = outcome_of(planned, "1")
    assert result.outcome == "needs_matching" and "c1" in result.reason
    assert not planned.new_cases and not planned.creates and not planned.case_changes


def test_an_open_case_stored_before_a_field_was_added_is_not_refreshed():
    """A case stored before MisRecord gained a field (its record without that key) was taken
    as its record changed at the next run: every open case of the estate refreshed at once
    (a decision on a case shown before it then refused: "look again")."""
    case = open_case_of(OK)
    stored = dataclasses.replace(
        case, record={k: v for k, v in case.record.items() if k != "unreadable"}
    )
    planned = plan(export(OK), snap(cases=[stored]), TODAY, settings())
    assert not planned.case_changes and outcome_of(planned, "1").outcome == "needs_matching"


def test_open_case_refreshed_when_its_record_changes_and_withdrawn_when_gone():
    case = open_case_of(OK)
    changed = rec("1", "Amy", "Jones", "2015-04-02", form_group="5B")
    planned = plan(export(changed), snap(cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert cc.decision is None and not planned.new_cases
    planned = plan(
        export(rec("2", "Zed", "Zulu", "2015-01-01")), snap(cases=[case]), TODAY, settings()
    )
    (cc,) = planned.case_changes
    assert cc.decision == "withdrawn"


def test_a_case_whose_every_candidate_is_now_another_records_account_is_planned_afresh():
    # Twins Samantha and Samuel, a "Sam Smith" requested for one: both were cases. The operator
    # matched Samantha's; Samuel's only candidate is now her account, so nothing is left to
    # choose: his case is withdrawn and he gets his own account (no case without a choice).
    samantha = rec("1", "Samantha", "Smith", "2015-04-02", preferred_name="Sam")
    samuel = rec("2", "Samuel", "Smith", "2015-04-02", preferred_name="Sam")
    sam = acc("ssmith.204", "Sam", "Smith", "2015-04-02", mis_id="1")
    case = dataclasses.replace(
        open_case_of(samuel), candidates=[{"username": "ssmith.204", "score": 60}]
    )
    planned = plan(export(samantha, samuel), snap([sam], cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert (cc.case.case_id, cc.decision) == (case.case_id, "withdrawn")
    assert "another record's account" in cc.reason
    assert planned.creates == [samuel] and outcome_of(planned, "2").outcome == "created"
    # while her record is not in the export, the account may still be his: the case waits
    planned = plan(export(samuel), snap([sam], cases=[case]), TODAY, settings(hold_min=5))
    assert not planned.creates and outcome_of(planned, "2").outcome == "needs_matching"
    assert [cc.decision for cc in planned.case_changes] == []


def _mover_case(record, opened_at="2026-03-02T06:00:00") -> tuple[MatchCase, object]:
    """A case opened on `record` whose one candidate is the person's account at another school
    (a mover), as the run that opened it ranked them."""
    old = acc("ajones.204", "Amy", "Jones", "2015-04-02", school=OTHER, mis_id="77")
    (opened,) = plan(export(record), snap(pool=[old]), TODAY, settings()).new_cases
    case = dataclasses.replace(
        open_case_of(record),
        candidates=[c.to_dict() for c in opened.candidates],
        opened_at=opened_at,
    )
    return case, old


def test_an_account_requested_while_a_case_waits_becomes_one_of_its_candidates():
    # Amy's record waits in a case (her account at another school resembles it); the service
    # desk then requests an account for her at this school. The next run adds it to the case's
    # candidates, so the operator can match it without forcing.
    case, old = _mover_case(OK)
    requested = acc(
        "ajones2.204", "Amy", "Jones", "2015-04-02", last_event_at="2026-03-05T10:00:00"
    )
    planned = plan(export(OK), snap([requested], pool=[old], cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert cc.decision is None and cc.case.case_id == case.case_id
    assert {c.username for c in cc.candidates} == {"ajones.204", "ajones2.204"}
    assert "ajones2.204" in cc.reason
    assert outcome_of(planned, "1").outcome == "needs_matching" and not planned.changes
    # the same run again changes nothing more (the case now holds them)
    refreshed = dataclasses.replace(case, candidates=[c.to_dict() for c in cc.candidates])
    again = plan(export(OK), snap([requested], pool=[old], cases=[refreshed]), TODAY, settings())
    assert again.case_changes == []
    # an account made before the case opened was there when it was ranked: not sought again
    before = dataclasses.replace(requested, last_event_at="2026-03-01T10:00:00")
    planned = plan(export(OK), snap([before], pool=[old], cases=[case]), TODAY, settings())
    assert planned.case_changes == []
    # nor after a refresh that saw it: the next runs do not search again (rule 9, and no work)
    seen = dataclasses.replace(refreshed, refreshed_at="2026-03-06T06:00:00")
    calls = []
    index = CandidateIndex([old, requested])
    index.candidates = lambda *a, **k: calls.append(a) or []  # counts the searches
    snapshot = snap([requested], pool=[old], cases=[seen])
    snapshot.index = index
    assert plan(export(OK), snapshot, TODAY, settings()).case_changes == [] and calls == []


def test_a_waiting_records_change_ranks_its_candidates_again_against_it():
    # The case was opened on "Amy Jnoes" (a typo); the school corrects it to "Amy Jones": the
    # candidates' evidence was weighed against the typo, so they are ranked again.
    typo = rec("1", "Amy", "Jnoes", "2015-04-02")
    case, old = _mover_case(typo)
    (was,) = case.candidates
    planned = plan(export(OK), snap(pool=[old], cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert cc.reason == "record changed in the MIS" and cc.record == OK
    (now,) = cc.candidates
    surname_level = {f: level for f, level, _ in now.evidence}["surname"]
    assert now.username == was["username"] and surname_level == "equal"
    assert {f: level for f, level, _ in was["evidence"]}["surname"] != "equal"


def test_a_candidate_that_became_another_records_account_leaves_the_case():
    # Twins: Ben's case had two candidates; one has since been linked to his brother's record
    # in this export, so it is no longer his to choose.
    ben = rec("1", "Ben", "Hall", "2015-04-02")
    tom = rec("2", "Tom", "Hall", "2015-04-02")
    toms = acc("thall.204", "Tom", "Hall", "2015-04-02", mis_id="2")
    other = acc("bhall.204", "Ben", "Hall", "2015-04-02", school=OTHER, mis_id="9")
    case = dataclasses.replace(
        open_case_of(ben),
        candidates=[{"username": "bhall.204", "score": 90}, {"username": "thall.204", "score": 40}],
    )
    planned = plan(export(ben, tom), snap([toms], pool=[other], cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert [c.username for c in cc.candidates] == ["bhall.204"]


def test_a_waiting_record_that_now_resembles_nobody_offers_no_old_candidate():
    # Corrected to someone else entirely (its MIS id given to another person): an operator
    # still decides (nothing is created behind the case); the record is refreshed, and the
    # candidates weighed against it as it was are dropped (kept, the old 99% candidate was
    # matched to the other person without a question).
    case, old = _mover_case(OK)
    other = rec("1", "Zed", "Zulu", "2011-01-01")
    planned = plan(export(other), snap(pool=[old], cases=[case]), TODAY, settings())
    (cc,) = planned.case_changes
    assert cc.record == other and cc.candidates == [] and not planned.creates
    assert cc.reason == "record changed in the MIS to another person: no account fits them"


def test_hold_on_an_empty_export_while_accounts_are_linked():
    accounts = [linked_acc(n) for n in range(3)]
    planned = plan(export(), snap(accounts), TODAY, settings())
    assert planned.is_held and "empty" in planned.hold_reason
    assert {a.username for a in planned.held} == {"u0.204", "u1.204", "u2.204"}
    assert planned.counts["held_unallocations"] == 3 and planned.counts["unallocated"] == 0
    assert not [c for c in planned.changes if c.kind == "unallocate"]


def test_empty_export_with_nothing_linked_is_not_held():
    planned = plan(export(), snap(), TODAY, settings())
    assert not planned.is_held


def test_leavers_over_the_threshold_are_held_but_everything_else_applies():
    # Rule 8: eleven leavers (their records sent with a leaving date, as at the end of a year).
    accounts = [linked_acc(n) for n in range(100)]
    records = [
        dataclasses.replace(linked_rec(n), leaving_date="2026-03-01") if n < 11 else linked_rec(n)
        for n in range(100)
    ]
    records[11] = rec("p11", "Changed", "Surname11", "2015-01-01")
    planned = plan(export(*records, OK), snap(accounts), TODAY, settings())
    assert planned.is_held and "11 of 100" in planned.hold_reason and planned.comparison is None
    assert len(planned.held) == 11
    assert [c.kind for c in planned.changes] == ["update"] and planned.creates == [OK]


def test_records_missing_from_the_export_hold_it_whole():
    # The export comparison (DESIGN section 3): twelve of a hundred records no longer sent, one
    # starter: the record count fell by eleven, more than the hold threshold (10%): nothing of
    # the report applies until an operator confirms it.
    accounts = [linked_acc(n) for n in range(100)]
    records = [linked_rec(n) for n in range(12, 100)]
    records[0] = rec("p12", "Changed", "Surname12", "2015-01-01")
    planned = plan(export(*records, OK), snap(accounts), TODAY, settings())
    assert planned.is_held and "89 records on roll against the 100" in planned.hold_reason
    assert planned.comparison["previous_count"] == 100 and planned.comparison["count"] == 89
    assert (
        len(planned.held) == 12
        and not planned.changes
        and not planned.creates
        and not planned.new_cases
    )
    assert {o.outcome for o in planned.outcomes} == {"held"}
    assert len(planned.outcomes) == 89
    # accepted by an operator, it applies as it is
    planned = plan(export(*records, OK), snap(accounts), TODAY, settings(), accept=True)
    assert not planned.is_held and planned.counts["unallocated"] == 12 and planned.creates == [OK]


def test_leavers_replaced_by_starters_hold_the_leavers_not_the_export():
    # A new school year: a third leave, as many start. The count did not fall: the starters are
    # created and only the unallocations are held (rule 8).
    accounts = [linked_acc(n) for n in range(90)]
    starters = [rec(f"n{n}", f"Starter{n}", "Intake", f"2019-01-{n + 1:02d}") for n in range(30)]
    planned = plan(
        export(*(linked_rec(n) for n in range(30, 90)), *starters),
        snap(accounts),
        TODAY,
        settings(),
    )
    assert planned.comparison is None
    assert planned.is_held and len(planned.held) == 30 and len(planned.creates) == 30
    # most of the roll gone, whatever came instead: held whole (another school's data)
    planned = plan(
        export(*(linked_rec(n) for n in range(50, 90)), *starters, *starters_of(20)),
        snap(accounts),
        TODAY,
        settings(),
    )
    assert planned.comparison is not None and planned.comparison["gone"] == 50
    assert not planned.creates and "no longer sends 50 of the 90" in planned.hold_reason


def starters_of(n: int):
    return [rec(f"m{i}", f"Other{i}", "Intake", f"2018-01-{i + 1:02d}") for i in range(n)]


def test_a_shifted_column_holds_the_export_whole_and_normal_churn_does_not():
    accounts = [linked_acc(n) for n in range(100)]
    swapped = [
        rec(r.mis_id, r.surname, r.forename, r.dob) for r in (linked_rec(n) for n in range(100))
    ]
    planned = plan(export(*swapped), snap(accounts), TODAY, settings())
    assert planned.is_held and planned.comparison["changed_names"] == 100
    assert not planned.changes and not planned.held
    assert len(planned.comparison["sample"]) == 5
    churn = [linked_rec(n) for n in range(3, 100)]
    churn[0] = rec("p3", "Renamed", "Surname3", "2015-01-01")
    planned = plan(export(*churn, OK), snap(accounts), TODAY, settings())
    assert (
        not planned.is_held
        and planned.counts["unallocated"] == 3
        and planned.counts["updated"] == 1
    )


def test_records_invalid_as_before_are_no_change_to_hold_an_export_for():
    """Fifteen records sent without a date of birth, run after run (invalid: their accounts are
    left untouched), and six renamed today: six changes of a hundred, not twenty-one. An invalid
    record changes nothing, so it is no sign of a shifted column either."""
    accounts = [linked_acc(n) for n in range(100)]
    records = [linked_rec(n) for n in range(100)]
    for n in range(15):
        records[n] = dataclasses.replace(records[n], dob=None)
    for n in range(15, 21):
        records[n] = dataclasses.replace(records[n], surname=records[n].surname + "son")
    planned = plan(export(*records), snap(accounts), TODAY, settings())
    assert planned.comparison is None and not planned.is_held
    assert planned.counts["invalid"] == 15 and planned.counts["updated"] == 6


def test_a_shifted_column_that_empties_most_names_is_still_held_whole():
    """The forename column carries the middle names: empty for 85 records (invalid: their
    accounts untouched), another name for 15. Fifteen of the fifteen compared changed: held
    whole, not 15 accounts renamed to their middle names."""
    accounts = [linked_acc(n) for n in range(100)]
    records = [
        dataclasses.replace(linked_rec(n), forename=None if n < 85 else f"Middle{n}")
        for n in range(100)
    ]
    planned = plan(export(*records), snap(accounts), TODAY, settings())
    assert planned.comparison is not None and "15 of 15 linked" in planned.hold_reason
    assert not planned.changes


def test_another_schools_data_is_held_whole_though_most_records_before_were_unlinked():
    """Fifteen pupils linked, 85 future starters (100 records before); today 92 records of
    another school, new ids, no future starters among them: the linked records all gone and
    92 arrived instead, held whole (they would have made 92 accounts)."""
    accounts = [linked_acc(n) for n in range(15)]
    others = [rec(f"x{n}", f"Other{n}", "School", "2016-05-01") for n in range(92)]
    planned = plan(
        export(*others), snap(accounts, previous_sizes={"students": 100}), TODAY, settings()
    )
    assert planned.comparison is not None and "92 others came instead" in planned.hold_reason
    assert not planned.creates


@pytest.mark.parametrize("padding", ["leaving", "future", "undated"])
def test_another_schools_data_is_held_whole_whatever_most_of_its_records_are(padding):
    """Every linked record gone, another school's hundred records instead, more than half of
    them its leavers, future starters or records without a date: they came too (sent beyond
    what stayed of the export before), though they get no account today. 49 accounts were
    made for that school's pupils."""
    accounts = [linked_acc(n) for n in range(100)]
    pad = {
        "leaving": {"leaving_date": "2025-07-18"},
        "future": {"enrolment_date": "2026-09-01"},
        "undated": {"dob": None},
    }[padding]
    others = [
        dataclasses.replace(
            rec(f"x{n}", f"New{n}", f"Kid{n}", "2016-05-01"), **(pad if n < 51 else {})
        )
        for n in range(100)
    ]
    planned = plan(
        export(*others), snap(accounts, previous_sizes={"students": 100}), TODAY, settings()
    )
    assert (
        planned.comparison is not None and "no longer sends 100 of the 100" in planned.hold_reason
    )
    assert not planned.creates


def test_records_sent_before_as_now_did_not_come_instead_of_the_leavers():
    """Five pupils linked, seven future starters sent all along (12 records before): three
    leave. Nothing came instead of them (9 records now, 12 before): not another school's
    data, so not held whole; three leavers are under the hold minimum and are unallocated."""
    accounts = [linked_acc(n) for n in range(5)]
    future = [
        dataclasses.replace(
            rec(f"f{n}", f"Future{n}", "Starter", "2019-02-01"), enrolment_date="2026-09-01"
        )
        for n in range(7)
    ]
    now = export(*[linked_rec(n) for n in range(3, 5)], *future)
    planned = plan(now, snap(accounts, previous_sizes={"students": 12}), TODAY, settings())
    assert planned.comparison is None and not planned.is_held
    assert planned.counts["unallocated"] == 3 and planned.counts["future"] == 7
    # three linked records replaced by three that were not sent before: held whole, as before
    now = export(*[linked_rec(n) for n in range(3, 5)], *future, *starters_of(3))
    planned = plan(now, snap(accounts, previous_sizes={"students": 12}), TODAY, settings())
    assert planned.comparison is not None and "3 others came instead" in planned.hold_reason


def test_under_the_threshold_or_under_the_minimum_is_not_held():
    accounts = [linked_acc(n) for n in range(100)]
    planned = plan(
        export(*[linked_rec(n) for n in range(10, 100)]), snap(accounts), TODAY, settings()
    )
    assert not planned.is_held and planned.counts["unallocated"] == 10  # exactly 10%: not more than
    small = [linked_acc(n) for n in range(20)]
    planned = plan(
        export(*[linked_rec(n) for n in range(11, 20)]), snap(small), TODAY, settings(hold_min=12)
    )
    assert not planned.is_held and planned.counts["unallocated"] == 11  # 55% but fewer than 12


def test_an_export_with_fewer_records_than_iris_said_unallocates_nobody():
    # Two records skipped (a page lost, or records shifting while IRIS paged): their accounts
    # look like leavers, under the threshold; the export is not complete, so they are held.
    accounts = [linked_acc(n) for n in range(100)]
    short = export(*[linked_rec(n) for n in range(2, 100)], OK)
    short.claimed = 101
    planned = plan(short, snap(accounts), TODAY, settings())
    assert planned.is_held and "IRIS said 101 records, 99 arrived" in planned.hold_reason
    assert {a.username for a in planned.held} == {"u0.204", "u1.204"}
    assert planned.counts["unallocated"] == 0 and planned.creates == [OK]  # the rest applies
    # as many as IRIS said (or more, or it said nothing): two leavers are unallocated as ever
    for claimed in (99, 90, None):
        short.claimed = claimed
        planned = plan(short, snap(accounts), TODAY, settings())
        assert not planned.is_held and planned.counts["unallocated"] == 2


@pytest.mark.parametrize("doubt", ["repeated", "totals", "unnamed"])
def test_an_export_doubted_by_its_fetch_unallocates_nobody(doubt):
    """Records repeated across pages or totals that changed while IRIS paged (records moved
    between pages: one may be lost), or records whose MIS id cannot be read (any may be a linked
    record): the two absent records' accounts are held, not unallocated (they had been, in a run
    that succeeded)."""
    accounts = [linked_acc(n) for n in range(100)]
    doubted = export(*[linked_rec(n) for n in range(2, 100)], OK)
    if doubt == "repeated":
        doubted.repeated_ids = ["50"]
    elif doubt == "totals":
        doubted.doubts = ["IRIS's totals changed while it paged (290 then 300 records)"]
    else:
        doubted.records.append(rec("", "Zed", "Null", "2015-01-01"))
    planned = plan(doubted, snap(accounts), TODAY, settings())
    assert planned.is_held and "the export may be incomplete" in planned.hold_reason
    assert {a.username for a in planned.held} == {"u0.204", "u1.204"}
    assert planned.counts["unallocated"] == 0 and OK in planned.creates  # the rest applies


def test_staff_report_only_touches_staff_links():
    pupil = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    staff_rec = rec("1", "Tom", "Hill", "1980-01-01", report="staff")
    planned = plan(export(staff_rec, report="staff"), snap([pupil]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "created" and not planned.changes


def test_plan_writes_nothing_and_does_not_mutate_the_snapshot():
    account = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    before = account.to_dict()
    plan(export(rec("1", "Amy", "Smith", "2015-04-02")), snap([account]), TODAY, settings())
    assert account.to_dict() == before


def test_dry_run_printout_lists_every_record():
    planned = plan(export(OK, rec("x", None, "Lee", "2015-01-01")), snap(), TODAY, settings())
    lines = planned.summary_lines()
    assert any("created" in ln for ln in lines) and any("missing forename" in ln for ln in lines)


def test_the_quick_unchanged_check_agrees_with_the_held_fields():
    """_holds is a shortcut for "held_fields(rec) changes nothing on the account"."""
    import dataclasses

    from uso_tui.sync.plan import _changed_fields, _holds, held_fields

    base = rec("p1", "Ann", "Lee", "2015-01-02", gender="F", year_group="5", upn="A1")
    account = acc("alee.204", "Ann", "Lee", "2015-01-02", mis_id="p1")
    account = dataclasses.replace(account, **held_fields(base))
    variants = [
        base,
        dataclasses.replace(base, forename="Anne"),
        dataclasses.replace(base, preferred_name="Annie"),
        dataclasses.replace(base, dob="2015-02-01"),
        dataclasses.replace(base, gender=None),
        dataclasses.replace(base, form_group="5B"),
        dataclasses.replace(base, is_teaching=False),
        dataclasses.replace(base, email="a@x.sch.uk"),
    ]
    for record in variants:
        assert _holds(account.to_dict(), record) == (
            not _changed_fields(account, held_fields(record))
        ), record
    extra_kept = dataclasses.replace(account, extra={**account.extra, "old_key": "x"})
    assert not _holds(extra_kept.to_dict(), base)


def test_an_exclusion_is_of_the_record_s_own_forename_not_a_twin_s_known_as_name():
    # Sam Jones was excluded; his twin sister Samantha, known as Sam, is another person.
    ex = Exclusion(id=3, school=DFE, forename="Sam", surname="Jones", dob="2015-04-02")
    samantha = rec("2", "Samantha", "Jones", "2015-04-02", preferred_name="Sam")
    sam = rec("3", "Sam", "Jones", "2015-04-02")
    planned = plan(export(samantha, sam), snap(exclusions=[ex]), TODAY, settings())
    assert outcome_of(planned, "2").outcome == "created"
    assert outcome_of(planned, "3").outcome == "excluded"


def test_an_exclusion_names_the_accounts_of_the_records_it_excludes_and_no_others():
    # `exclusion add --unallocate` and a case's exclude unallocate what exclusion_hits names:
    # the accounts whose own forename is the entry's, as the planner excludes records.
    from uso_tui.sync.checks import exclusion_hits

    samuel = acc("sjones.204", "Samuel", "Jones", "2015-04-02", preferred_name="Sam", mis_id="1")
    sam = acc("sjones2.204", "Sam", "Jones", "2015-04-02", mis_id="2")
    hits = exclusion_hits([samuel, sam], DFE, "Sam", "Jones", None)
    assert [a.username for a in hits] == ["sjones2.204"]


@pytest.mark.parametrize("status", ["active", "unallocated"])
def test_a_mis_id_given_again_to_another_child_neither_restores_nor_rewrites_the_account(status):
    # Jack left; the MIS gives his id to Amira. Her record must not take his account (with his
    # username and history), restored or renamed: listed for the school, the account untouched.
    jack = acc(
        "jsmith.204", "Jack", "Smith", "2014-05-06", mis_id="123", status=status,
        school=DFE if status == "active" else None, link_school=DFE, extra={"upn": "A111111111111"},
    )  # fmt: skip
    amira = rec("123", "Amira", "Patel", "2019-11-20", upn="B222222222222")
    planned = plan(export(amira), snap([jack]), TODAY, settings())
    result = outcome_of(planned, "123")
    assert result.outcome == "invalid" and "another person" in result.reason
    assert result.username == "jsmith.204" and not planned.changes and not planned.creates


def test_a_member_of_staff_s_code_given_again_with_another_guid_is_another_person():
    tom = acc(
        "tjones.204", "Tom", "Jones", "1980-02-03", mis_id="JON", report="staff", role="staff",
        extra={"person_guid": "g1"},
    )  # fmt: skip
    julia = rec("JON", "Julia", "Jones", "1992-07-08", report="staff", person_guid="g2")
    planned = plan(export(julia, report="staff"), snap([tom]), TODAY, settings())
    assert outcome_of(planned, "JON").outcome == "invalid" and not planned.changes


@pytest.mark.parametrize("status", ["active", "unallocated"])
def test_a_mis_id_given_again_to_a_sibling_of_the_same_surname_is_another_person(status):
    # George left; the MIS gives his id to his sister Lily, whose UPN it does not have yet.
    george = acc(
        "grobinson.204", "George", "Robinson", "2016-11-26", mis_id="S392", status=status,
        school=DFE if status == "active" else None, link_school=DFE,
        extra={"upn": "H204659461343", "gender": "M"},
    )  # fmt: skip
    lily = rec("S392", "Lily", "Robinson", "2018-01-23", gender="F")
    planned = plan(export(lily), snap([george]), TODAY, settings())
    result = outcome_of(planned, "S392")
    assert result.outcome == "invalid" and "different forename, date of birth" in result.reason
    assert not planned.changes and not planned.creates


def test_a_member_of_staff_s_code_given_to_a_namesake_without_a_guid_is_another_person():
    muhammad = acc(
        "mali.204", "Muhammad", "Ali", "1980-05-17", mis_id="T39", report="staff", role="staff",
    )  # fmt: skip
    maryam = rec("T39", "Maryam", "Ali", "1990-04-07", report="staff")
    planned = plan(export(maryam, report="staff"), snap([muhammad]), TODAY, settings())
    assert outcome_of(planned, "T39").outcome == "invalid" and not planned.changes


def test_twins_whose_mis_ids_were_swapped_keep_their_own_accounts():
    # Each record carries the other twin's account's UPN (and Chloe's middle name is Grace).
    grace = acc("gwilson.204", "Grace", "Wilson", "2018-07-23", mis_id="S20",
                extra={"upn": "R204676601450"})  # fmt: skip
    chloe = acc("cwilson.204", "Chloe", "Wilson", "2018-07-23", mis_id="S21",
                middle_names="Grace", extra={"upn": "E204756102861"})  # fmt: skip
    records = [
        rec("S20", "Chloe", "Wilson", "2018-07-23", middle_names="Grace", upn="E204756102861"),
        rec("S21", "Grace", "Wilson", "2018-07-23", upn="R204676601450"),
    ]
    planned = plan(export(*records), snap([grace, chloe]), TODAY, settings())
    assert not planned.changes and not planned.creates
    assert "is account cwilson.204's" in outcome_of(planned, "S20").reason
    assert {outcome_of(planned, m).outcome for m in ("S20", "S21")} == {"invalid"}


def test_a_twin_given_the_co_twin_s_id_with_another_upn_is_another_person():
    ben = acc("bkhan.204", "Ben", "Khan", "2016-03-04", mis_id="7", extra={"upn": "A204111111111"})
    tom = rec("7", "Tom", "Khan", "2016-03-04", upn="B204222222222")
    planned = plan(export(tom), snap([ben]), TODAY, settings())
    assert outcome_of(planned, "7").outcome == "invalid" and not planned.changes


def test_twins_upns_keyed_the_wrong_way_round_and_corrected_update_their_accounts():
    grace = acc("gwilson.204", "Grace", "Wilson", "2018-07-23", mis_id="S20",
                extra={"upn": "E204756102861"})  # fmt: skip
    chloe = acc("cwilson.204", "Chloe", "Wilson", "2018-07-23", mis_id="S21",
                extra={"upn": "R204676601450"})  # fmt: skip
    records = [
        rec("S20", "Grace", "Wilson", "2018-07-23", upn="R204676601450"),
        rec("S21", "Chloe", "Wilson", "2018-07-23", upn="E204756102861"),
    ]
    planned = plan(export(*records), snap([grace, chloe]), TODAY, settings())
    assert {outcome_of(planned, m).outcome for m in ("S20", "S21")} == {"updated"}


def test_a_upn_corrected_with_the_same_names_still_updates():
    amy = acc(
        "ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1", extra={"upn": "A204111111111"}
    )
    record = rec("1", "Amy", "Jones", "2015-04-02", upn="A204111111112")
    planned = plan(export(record), snap([amy]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "updated"


@pytest.mark.parametrize(
    "changed",
    [
        {"forename": "Maya", "surname": "Okafor"},  # a new name (adoption), the same date
        {"surname": "Okafor-Reid", "dob": "2015-05-02"},  # married, the date corrected too
        {"forename": "Aimee", "dob": "2015-02-04"},  # another spelling and a date slip
        {"forename": "Amelia", "gender": "F"},  # the name in full (the account has no gender)
    ],
)
def test_a_person_s_own_changes_still_update_their_account(changed):
    amy = acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")
    values = {"forename": "Amy", "surname": "Jones", "dob": "2015-04-02", **changed}
    record = rec(
        "1", values["forename"], values["surname"], values["dob"], gender=values.get("gender")
    )
    planned = plan(export(record), snap([amy]), TODAY, settings())
    assert outcome_of(planned, "1").outcome == "updated"


@pytest.mark.parametrize(
    ("account", "record"),
    [
        # twins' ids swapped (a SchoolId keyed by hand), no UPN: the boy's id now names the girl
        (("Jack", "Smith", "2015-03-04", "M"), ("Lily", "Smith", "2015-03-04", "F")),
        # a sibling given the id, a year apart (one digit of the date)
        (("Jack", "Smith", "2015-03-04", None), ("Lily", "Smith", "2016-03-04", None)),
        # another child given the id: both names new and a date a day apart
        (("Jack", "Smith", "2015-03-04", None), ("Oscar", "Brown", "2015-03-05", None)),
        # staff: an id given again, a sound-alike forename, another date and gender
        (("John", "Smith", "1970-04-04", "M"), ("Jane", "Smith", "1990-08-01", "F")),
        (("John", "Smith", "1970-04-04", None), ("Jane", "Smith", "1990-08-01", None)),
    ],
)
def test_an_id_given_to_another_person_does_not_rewrite_the_account(account, record):
    """Two changes at once, one of them the forename wholly or the date wholly, are another
    person's record: the account is kept (listed for an operator), not rewritten as them."""
    forename, surname, dob, gender = account
    staff = dob < "2000"  # the staff cases (a pupil's age is checked against the date)
    role, report = ("staff", "staff") if staff else ("pupil", "students")
    jack = acc("jsmith.204", forename, surname, dob, mis_id="1", role=role, report=report,
               extra={"gender": gender} if gender else None)  # fmt: skip
    forename, surname, dob, gender = record
    planned = plan(
        export(rec("1", forename, surname, dob, gender=gender, report=report), report=report),
        snap([jack]),
        TODAY,
        settings(),
    )
    outcome = outcome_of(planned, "1")
    assert outcome.outcome == "invalid" and "now names another person" in outcome.reason
    assert not planned.changes


def test_ids_sent_in_another_format_do_not_switch_off_the_twin_check():
    """Sophie's account is linked to 001; the MIS now sends ids unpadded: 1 is her twin Sophia,
    77 is Sophie. Reading 1 as 001 asked the twin check before the export's records were known
    to it, and the empty answer was kept: Sophie's account was renamed Sophia, and Sophie given
    a second account. Record 1 is another person than the account: Sophie waits in a case with
    her account, nobody takes it."""
    sophie = acc("sbrown.204", "Sophie", "Brown", "2016-06-06", mis_id="001")
    sophia, again = (
        rec("1", "Sophia", "Brown", "2016-06-06"),
        rec("77", "Sophie", "Brown", "2016-06-06"),
    )
    planned = plan(export(sophia, again), snap([sophie]), TODAY, settings())
    assert not [c for c in planned.changes if c.kind in ("update", "auto_link")]
    assert not planned.creates
    assert {c.record.mis_id for c in planned.new_cases} >= {"77"}
    assert all(c.after.forename == "Sophie" for c in planned.changes if c.before is not None)


def test_another_school_s_export_is_held_whole_at_a_hold_threshold_of_100():
    """A school set to 100% (never holding its leavers): another school's export, ids of its
    own, was applied whole: every account unallocated, 100 made for that school's pupils."""
    accounts = [linked_acc(n) for n in range(100)]
    others = [rec(f"x{n}", f"New{n}", f"Kid{n}", "2016-05-01") for n in range(100)]
    planned = plan(
        export(*others),
        snap(accounts, previous_sizes={"students": 100}),
        TODAY,
        settings(hold_percent=100.0),
    )
    assert planned.comparison is not None and "(all of them)" in planned.hold_reason
    assert not planned.creates


def test_the_counts_of_a_runs_records_add_up_to_what_it_fetched():
    """A record sent with its leaving date passed was counted nowhere: a run of 185 records
    showed 184 in its counters (found by a new operator's audit)."""
    accounts = [linked_acc(n) for n in range(3)]
    gone = dataclasses.replace(linked_rec(2), leaving_date="2026-03-01")  # its account goes
    never = rec("x9", "Lee", "Left", "2015-02-02", leaving_date="2026-03-01")  # had none
    planned = plan(
        export(linked_rec(0), linked_rec(1), gone, never, rec("n1", "New", "Pupil", "2015-03-03")),
        snap(accounts),
        TODAY,
        settings(),
    )
    counts = planned.counts
    assert counts["leaver"] == 2 and counts["unallocated"] == 1 and counts["created"] == 1
    per_record = ("created", "updated", "auto_linked", "restored", "needs_matching", "future",
                  "invalid", "excluded", "unchanged", "leaver")  # fmt: skip
    assert sum(counts[k] for k in per_record) == counts["fetched"] == 5


def test_a_roll_sent_under_new_mis_ids_is_said_to_be_the_same_people():
    """Every record sent under a new MIS id (an MIS moved or renumbered), names and dates of
    birth as before: held whole as "no longer sends 40 ... and 40 others came instead", as for
    another school's data, with nothing to tell the two apart. It says the newcomers are the
    same people under new ids, and what confirming does, and shows some side by side."""
    accounts = [linked_acc(n) for n in range(40)]
    renumbered = [dataclasses.replace(linked_rec(n), mis_id=f"N{n}") for n in range(40)]
    planned = plan(export(*renumbered), snap(accounts), TODAY, settings())
    assert planned.comparison is not None and not planned.changes
    reason = planned.hold_reason
    assert "40 others came instead" in reason
    assert "40 of them with the names and date of birth, or the UPN, of a record gone" in reason
    sample = planned.comparison["sample"]
    # (the test's names differ only by digits, which names drop: any gone record pairs)
    assert len(sample) == 5 and sample[0]["mis_id"].startswith("N")
    assert sample[0]["was_mis_id"].startswith("p")
    from uso_tui.sync.compare import comparison_lines

    assert any(" -> N" in line for line in comparison_lines(planned.comparison))
    assert sample[0]["before"]["surname"] == sample[0]["after"]["surname"]
    # the same names and date under two permanent UPNs: twins, not one child renumbered
    upns = [
        dataclasses.replace(a, extra={"upn": f"A{n + 1:011d}7"}) for n, a in enumerate(accounts)
    ]
    twins = [dataclasses.replace(r, upn=f"B{n + 1:011d}9") for n, r in enumerate(renumbered)]
    planned = plan(export(*twins), snap(upns), TODAY, settings())
    assert "of a record gone" not in planned.hold_reason
    # one UPN a keying slip of the other (it fails the DfE check): one child, renumbered
    from uso_tui.sync.compare import _upns_apart

    assert _upns_apart("C204123456789", {"extra": {"upn": "C204123456780"}}) is False
    assert _upns_apart("A123456789012", {"extra": {"upn": "B987654321098"}}) is True
    # another school's data: nobody the same
    others = [rec(f"x{n}", f"Other{n}", "School", "2016-05-01") for n in range(40)]
    planned = plan(export(*others), snap(accounts), TODAY, settings())
    assert "of a record gone" not in planned.hold_reason and not planned.comparison["sample"]
