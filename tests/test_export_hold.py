"""The export comparison (DESIGN section 3, issue 15): a strange export is held whole, shown
beside the previous one, and applied only when an operator confirms it."""

from __future__ import annotations

import pytest
from factories import Env, enrolled_student, iris_student
from test_cli_sync import DFE, add

pytestmark = pytest.mark.usefixtures("sim")  # every test syncs from the simulator

AHEAD = "2099-09-01"  # a start date after any test's today: a future starter

PUPILS = [
    enrolled_student(
        str(i), f"Kid{chr(97 + i % 26)}", f"Fam{chr(97 + i // 26)}", f"2015-04-{1 + i % 28:02d}"
    )
    for i in range(40)
]


def _accounts(client) -> dict[str, dict]:
    return {a["username"]: a for a in client.ok("accounts", DFE, "--json").json()}


def test_a_shifted_column_is_held_whole_and_applied_when_confirmed(cli, sim):
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    # every forename and surname swapped (a column shifted in the MIS's export)
    swapped = [{**p, "forename": p["surname"], "surname": p["forename"]} for p in PUPILS]
    sim.set_records(DFE, "students", swapped)
    res = cli("sync", DFE, "--json")
    assert res.status == 3
    run = res.json()
    assert run["status"] == "held" and run["counts"]["updated"] == 0
    assert "40 of 40 linked students records changed name" in run["hold_reason"]
    assert _accounts(cli) == before  # nothing applied
    shown = cli.ok("run", "show", run["run_id"], "--json").json()
    comparison = shown["comparison"]
    assert comparison["report"] == "students" and comparison["changed_names"] == 40
    assert comparison["previous_count"] == 40 and comparison["count"] == 40
    assert comparison["sample"][0]["before"]["forename"] == PUPILS[0]["forename"]
    text = cli.ok("run", "show", run["run_id"]).out
    assert "held whole" in text and "changed name, preferred name, date of birth" in text
    # what confirming applies besides unallocating, before it is confirmed
    assert "confirming it also updates 40 (as the store is now)" in text
    assert shown["confirm_applies"] == "updates 40"
    cli.ok("confirm", run["run_id"])
    after = _accounts(cli)
    assert after.keys() == before.keys()
    assert all(a["forename"].startswith("Fam") for a in after.values())


@pytest.mark.parametrize("broken", ["upns swapped", "upns cleared", "preferred names cleared"])
def test_upns_swapped_or_preferred_names_cleared_for_all_are_held_whole(cli, sim, broken):
    """Every pupil's UPN swapped with a classmate's, or every preferred name cleared, by a
    broken export: applied to all 40 accounts ("updated 40"), nothing held. A school giving
    preferred names where none were, or UPNs to pupils without one, is no such sign."""
    pupils = [
        {**p, "uniquePupilNumber": f"A{100000000000 + i}", "preferredName": f"P{chr(97 + i % 26)}"}
        for i, p in enumerate(PUPILS)
    ]
    add(cli, sim, DFE, pupils)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    if broken == "upns swapped":
        upns = [p["uniquePupilNumber"] for p in pupils]
        sent = [{**p, "uniquePupilNumber": upns[i ^ 1]} for i, p in enumerate(pupils)]
    elif broken == "upns cleared":  # (the field no longer given: the API's permissions)
        sent = [{k: v for k, v in p.items() if k != "uniquePupilNumber"} for p in pupils]
    else:
        sent = [{**p, "preferredName": None} for p in pupils]
    sim.set_records(DFE, "students", sent)
    res = cli("sync", DFE, "--json")
    assert res.status == 3 and _accounts(cli) == before
    assert "40 of 40 linked students records changed name" in res.json()["hold_reason"]
    said = cli.ok("run", "show", res.json()["run_id"]).out
    assert {
        "upns swapped": "UPN A100000000000 -> A100000000001",
        "upns cleared": "UPN A100000000000 -> (none)",
        "preferred names cleared": "known as Pa",
    }[broken] in said


@pytest.mark.parametrize("before", [None, "A000000000000"])
def test_preferred_names_or_upns_given_where_none_were_are_not_held(cli, sim, before):
    """Also where a filler (zeros, keyed for UPNs not known) stood before the real UPN."""
    add(cli, sim, DFE, [{**p, "uniquePupilNumber": before} for p in PUPILS] if before else PUPILS)
    cli.ok("sync", DFE)
    given = [
        {**p, "uniquePupilNumber": f"A{100000000000 + i}", "preferredName": "Kid"}
        for i, p in enumerate(PUPILS)
    ]
    sim.set_records(DFE, "students", given)
    res = cli.ok("sync", DFE, "--json").json()
    assert res["status"] == "succeeded" and res["counts"]["updated"] == 40


def test_a_halved_export_is_held_whole_and_normal_churn_is_not(cli, sim):
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    sim.set_records(DFE, "students", PUPILS[:20] + [newcomer])
    res = cli("sync", DFE, "--json")
    assert res.status == 3 and res.json()["counts"]["created"] == 0
    assert _accounts(cli) == before
    run_id = res.json()["run_id"]
    shown = cli.ok("run", "show", run_id, "--json").json()
    # twenty of the forty gone, one starter: 21 records now
    assert shown["comparison"]["count"] == 21 and len(shown["held_usernames"]) == 20
    # a normal day: two leavers, a starter, a name change
    sim.set_records(
        DFE,
        "students",
        [{**PUPILS[2], "surname": "Okafor"}, *PUPILS[3:38], newcomer],
    )
    res = cli("sync", DFE, "--json")
    assert res.status == 0, res.err
    counts = res.json()["counts"]
    assert counts["created"] == 1 and counts["updated"] == 1 and counts["unallocated"] == 4


def test_a_new_school_year_is_not_held_whole_its_leavers_are_held_and_starters_made(cli, sim):
    """September: a third of the roll leaves and as many start on one day. The export's count
    did not fall: it was held whole (no starter had an account until an operator confirmed);
    DESIGN holds only the leavers' unallocations (rule 8) and applies the rest."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    intake = [
        enrolled_student(f"n{i}", f"New{chr(97 + i)}", "Intake", f"2019-05-{1 + i:02d}")
        for i in range(14)
    ]
    sim.set_records(DFE, "students", PUPILS[14:] + intake)
    res = cli("sync", DFE, "--json")
    run = res.json()
    assert res.status == 3 and run["status"] == "held"
    assert run["counts"]["created"] == 14 and run["counts"]["held_unallocations"] == 14
    assert "would unallocate 14 of 40" in run["hold_reason"]
    made = {a["forename"] for a in _accounts(cli).values() if a["surname"] == "Intake"}
    assert len(made) == 14
    # the next morning, not yet confirmed: the leavers still held are no fall of the new day's
    # export (it was held whole: the starters made yesterday counted against them)
    late = enrolled_student("n99", "Late", "Intake", "2019-06-30")
    sim.set_records(DFE, "students", PUPILS[14:] + intake + [late])
    sim.set_switches(DFE, reject_credentials=True)  # a run that failed in between changes nothing
    assert cli("sync", DFE, "--json").json()["status"] == "failed"
    sim.set_switches(DFE, reject_credentials=False)
    # nor does a run of the other report only
    assert cli("sync", DFE, "--report", "staff", "--json").json()["status"] == "succeeded"
    run = cli("sync", DFE, "--json").json()
    assert (
        run["status"] == "held"
        and run["counts"]["created"] == 1
        and run["counts"]["held_unallocations"] == 14
    )


def test_another_schools_data_is_held_whole_though_its_count_is_the_same(cli, sim):
    """Every record linked before gone and as many others sent (another school's export, or
    every MIS id given anew): held whole, nothing created."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    others = [
        enrolled_student(f"x{i}", f"Oth{chr(97 + i % 26)}", "Elsewhere", "2016-02-02")
        for i in range(40)
    ]
    sim.set_records(DFE, "students", others)
    run = cli("sync", DFE, "--json").json()
    assert run["status"] == "held" and run["counts"]["created"] == 0
    assert "the students export no longer sends 40 of the 40 records" in run["hold_reason"]
    shown = cli.ok("run", "show", run["run_id"], "--json").json()
    assert shown["comparison"]["count"] == 40 and shown["comparison"]["gone"] == 40
    assert _accounts(cli) == before


def test_a_halved_export_sent_again_the_next_day_is_held_whole_again(cli, sim):
    """The accounts a run held whole would unallocate are not taken as gone before: the same
    halved export the next morning is held whole again, nothing applied."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    sim.set_records(DFE, "students", PUPILS[:20] + [newcomer])
    for _ in range(2):
        run = cli("sync", DFE, "--json").json()
        shown = cli.ok("run", "show", run["run_id"], "--json").json()
        assert run["status"] == "held" and shown["comparison"]["count"] == 21
    assert _accounts(cli) == before


def _new_year(n: int = 14) -> list[dict]:
    """PUPILS without its first n, and n starters: a new school year, as many in as out."""
    intake = [
        enrolled_student(f"n{i}", f"New{chr(97 + i)}", "Intake", f"2019-05-{1 + i:02d}")
        for i in range(n)
    ]
    return PUPILS[n:] + intake


def _held_whole(cli, run: dict) -> bool:
    shown = cli.ok("run", "show", run["run_id"], "--json").json()
    return run["status"] == "held" and shown["comparison"] is not None


def test_the_count_before_is_the_last_export_taken_not_one_held_whole(cli, sim):
    """A halved export held whole, then the usual export again: its count did not fall from
    the export before the halved one, so it is not held whole (the leavers still held by the
    safety hold, the accounts the halved one would have unallocated, are no fall)."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _new_year())
    first = cli("sync", DFE, "--json").json()  # held: its 14 leavers
    assert first["status"] == "held" and not _held_whole(cli, first)
    sim.set_records(DFE, "students", _new_year()[:15])
    assert _held_whole(cli, cli("sync", DFE, "--json").json())
    sim.set_records(DFE, "students", _new_year())
    again = cli("sync", DFE, "--json").json()
    assert again["status"] == "held" and not _held_whole(cli, again)


def test_accounts_kept_at_a_confirm_are_no_fall_of_the_next_export(cli, sim):
    """A rule-8 hold confirmed in part (two leavers unallocated, twelve kept active): the same
    export the next day was held whole, "40 against 52", its count never having fallen."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _new_year())
    run = cli("sync", DFE, "--json").json()
    held = cli.ok("run", "show", run["run_id"], "--json").json()["held_usernames"]
    cli.ok("confirm", run["run_id"], "--only", ",".join(held[:2]))
    again = cli("sync", DFE, "--json").json()
    assert not _held_whole(cli, again)


def test_records_without_an_account_count_on_both_sides(cli, sim):
    """Forty pupils with accounts and thirty future starters (no account yet); the export then
    loses twelve pupils and gains one: 70 records to 59, held whole (the future starters were
    counted as new, hiding the fall); counted on roll, 40 to 29 (not started, the future
    starters are on roll on neither side)."""
    future = [
        iris_student(f"f{i}", f"Fut{chr(97 + i % 26)}", "Later", "2020-01-01", enrolmentDate=AHEAD)
        for i in range(30)
    ]
    add(cli, sim, DFE, PUPILS + future)
    cli.ok("sync", DFE)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    sim.set_records(DFE, "students", PUPILS[12:] + future + [newcomer])
    run = cli("sync", DFE, "--json").json()
    assert _held_whole(cli, run) and run["counts"]["created"] == 0
    assert "holds 29 records on roll against 40 before" in run["hold_reason"]


def test_a_school_expecting_half_its_roll_to_change_sets_its_threshold_above_it(cli, sim):
    """A sixth-form college: 22 of 40 leave and 22 start in one export. Held whole (most of
    the roll replaced) unless its hold threshold says such churn is normal, as it can."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _new_year(22))
    assert _held_whole(cli, cli("sync", DFE, "--json").json())
    cli.ok("school", "set", DFE, "--hold-percent", "60")
    run = cli("sync", DFE, "--json").json()
    assert run["status"] == "succeeded" and run["counts"]["created"] == 22


def test_a_small_staff_report_replaced_by_others_is_held_whole(cli, sim):
    """Eight staff, then eight others under new ids (another school's report): it applied
    itself, unallocating the eight and making accounts for strangers (both under the hold
    minimum of ten)."""
    add(cli, sim, DFE, PUPILS[:5], STAFF[:8])
    cli.ok("sync", DFE)
    others = [
        {"id": 900 + i, "forename": f"Oth{chr(97 + i)}", "surname": "Elsewhere",
         "dateOfBirth": "1975-03-03"}
        for i in range(8)
    ]  # fmt: skip
    sim.set_records(DFE, "staff", others)
    run = cli("sync", DFE, "--json").json()
    assert _held_whole(cli, run) and run["counts"]["created"] == 0
    assert "the staff export no longer sends 8 of the 8" in run["hold_reason"]


def test_exports_never_taken_are_no_count_before(cli, sim):
    """The count before is not that of an export held whole whose confirm applied nothing (a
    newer run came first), of a run since undone, nor of an export that came short of IRIS's
    count: each let a real fall through, unheld."""
    add(cli, sim, DFE, PUPILS, STAFF[:3])
    cli.ok("sync", DFE)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    halved = PUPILS[:20] + [newcomer]
    sim.set_records(DFE, "students", halved)
    first = cli("sync", DFE, "--json").json()
    assert _held_whole(cli, first)
    sim.set_records(DFE, "students", PUPILS)  # mended in the MIS, and run since
    assert cli("sync", DFE, "--json").json()["status"] == "succeeded"
    assert cli.ok("confirm", first["run_id"], "--json").json()["applied"] is False
    sim.set_records(DFE, "students", halved)
    again = cli("sync", DFE, "--json").json()
    assert _held_whole(cli, again)
    # confirmed and applied, then undone: the halved export is no count before either
    cli.ok("confirm", again["run_id"])
    cli.ok("undo-run", again["run_id"])
    assert _held_whole(cli, cli("sync", DFE, "--json").json())


def test_an_export_short_of_irises_count_is_no_count_before(cli, sim):
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    cli.ok("school", "set", DFE, "--hold-min", "1")
    sim.set_switches(DFE, skip_records=4)  # 36 of the 40 IRIS says it holds
    short = cli("sync", DFE, "--json").json()
    assert short["status"] == "held" and short["counts"]["fetched"] == 36
    sim.set_switches(DFE, skip_records=0)
    sim.set_records(DFE, "students", PUPILS[5:])  # a fall of five from 40 (not from 36)
    run = cli("sync", DFE, "--json").json()
    assert _held_whole(cli, run) and "35 records on roll against 40 before" in run["hold_reason"]


def test_an_older_held_run_is_not_confirmed_while_a_newer_one_is_held(cli, sim):
    """Yesterday's export held whole, today's held again: confirming yesterday's is refused and
    names today's (it applied nothing and had said it worked, "left alone" for every account)."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    sim.set_records(DFE, "students", PUPILS[:20] + [newcomer])
    older = cli("sync", DFE, "--json").json()["run_id"]
    newer = cli("sync", DFE, "--json").json()["run_id"]
    res = cli("confirm", older)
    assert res.status == 2
    assert f"{older} is out of date" in res.err and f"uso-tui confirm {newer}" in res.err
    assert _accounts(cli) == before  # nothing applied
    assert cli.ok("run", "show", older, "--json").json()["status"] == "held"
    cli.ok("confirm", newer)
    assert any(a["forename"] == "Nia" for a in _accounts(cli).values())


def test_an_older_held_run_is_confirmed_once_the_newer_held_one_is_undone(cli, sim):
    """The newer held run undone: nothing of it stands and it cannot be confirmed, yet the
    older one's confirm took it for a run since and applied nothing (found by review)."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    newcomer = enrolled_student("new", "Nia", "Okoro", "2015-09-09")
    sim.set_records(DFE, "students", PUPILS[:20] + [newcomer])
    older = cli("sync", DFE, "--json").json()["run_id"]
    newer = cli("sync", DFE, "--json").json()["run_id"]
    cli.ok("undo-run", newer)
    done = cli.ok("confirm", older, "--json").json()
    assert done["applied"] is True
    assert any(a["forename"] == "Nia" for a in _accounts(cli).values())


@pytest.mark.parametrize("staff_run", ["succeeded", "held"])
def test_a_run_of_another_report_since_leaves_an_export_held_whole_to_confirm(cli, sim, staff_run):
    """The students export held whole, then a run of the staff report alone: confirming the
    students run said "not applied: the school has run since, its newer export applied", and
    the pupils kept their old names (a staff run held too refused the confirm, naming itself).
    Found by an audit of held runs."""
    teachers = [
        {"id": 500 + i, "forename": f"Tea{chr(97 + i)}", "surname": "Cher", "dateOfBirth": f"1980-03-{i + 1:02d}"}
        for i in range(12)
    ]  # fmt: skip
    add(cli, sim, DFE, PUPILS, teachers)
    cli.ok("sync", DFE)
    swapped = [{**p, "forename": p["surname"], "surname": p["forename"]} for p in PUPILS]
    sim.set_records(DFE, "students", swapped)
    held = cli("sync", DFE, "--json").json()
    assert held["status"] == "held"
    if staff_run == "held":
        sim.set_records(DFE, "staff", teachers[:1])  # eleven of twelve gone: held too
    staff = cli("sync", DFE, "--report", "staff", "--json").json()
    assert staff["status"] == staff_run
    assert cli.ok("run", "show", held["run_id"], "--json").json()["confirm_applies"] == "updates 40"
    done = cli.ok("confirm", held["run_id"], "--json").json()
    assert done["status"] == "succeeded"
    pupils = [a for a in _accounts(cli).values() if a["role"] == "pupil"]
    assert len(pupils) == 40 and all(a["forename"].startswith("Fam") for a in pupils)
    staff_now = [a for a in _accounts(cli).values() if a["role"] == "staff"]
    assert all(a["status"] == "active" for a in staff_now)  # the staff run's own hold stands


@pytest.mark.parametrize(("size", "changed", "held"), [(8, 8, True), (20, 5, True), (8, 2, False)])
def test_a_small_report_is_held_when_a_fifth_changed_name_at_once(cli, sim, size, changed, held):
    """A shifted column in a report smaller than the hold minimum (10) renames everyone: held,
    as a fifth of a large one is; two of eight renamed at once (a wedding, a typo put right) is
    not."""
    pupils = PUPILS[:size]
    add(cli, sim, DFE, pupils)
    cli.ok("sync", DFE)
    swapped = [
        {**p, "forename": p["surname"], "surname": p["forename"]} if i < changed else p
        for i, p in enumerate(pupils)
    ]
    sim.set_records(DFE, "students", swapped)
    res = cli("sync", DFE, "--json")
    assert (res.json()["status"] == "held") is held
    assert res.json()["counts"]["updated"] == (0 if held else changed)


def test_syncs_words_say_why_an_export_is_held_whole(cli, sim):
    """It said "0 unallocations are held" and no reason: the export was held whole."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", PUPILS[:20])
    res = cli("sync", DFE)
    assert res.status == 3
    assert "held: the students export holds 20 records on roll against 40 before" in res.out
    assert "the export is held whole, nothing of it applied" in res.out
    assert "0 unallocations are held" not in res.out


STAFF = [
    {"id": 100 + i, "forename": f"Tea{chr(97 + i)}", "surname": "Cher", "dateOfBirth": "1980-05-05"}
    for i in range(12)
]


def _shifted(records: list[dict]) -> list[dict]:
    return [{**r, "forename": r["surname"], "surname": r["forename"]} for r in records]


def test_confirming_one_report_held_whole_counts_the_other_report_once(cli, sim):
    """Staff applied, students held whole: confirming planned both reports again and added both
    to the run's counts, so the staff records counted twice (unchanged 24 of 12)."""
    add(cli, sim, DFE, PUPILS, STAFF)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _shifted(PUPILS))
    run = cli("sync", DFE, "--json").json()
    assert run["status"] == "held" and run["counts"]["unchanged"] == 12
    said = cli.ok("confirm", run["run_id"]).out
    assert "its export applied (" in said and "updated 40" in said  # not "0 unallocated" alone
    counts = cli.ok("run", "show", run["run_id"], "--json").json()["counts"]
    assert counts["unchanged"] == 12 and counts["updated"] == 40


def test_both_reports_held_whole_are_both_shown(cli, sim):
    """The run kept the first report's comparison only: the other's, applied too by confirm,
    was never shown."""
    add(cli, sim, DFE, PUPILS, STAFF)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _shifted(PUPILS))
    sim.set_records(DFE, "staff", _shifted(STAFF))
    run = cli("sync", DFE, "--json").json()
    shown = cli.ok("run", "show", run["run_id"], "--json").json()
    assert sorted(c["report"] for c in shown["comparisons"]) == ["staff", "students"]
    assert shown["comparison"] == shown["comparisons"][0]
    text = cli.ok("run", "show", run["run_id"]).out
    assert "staff: 12 records on roll now" in text and "students: 40 records on roll now" in text


def test_confirming_a_run_recorded_before_comparisons_counts_every_report_held_whole(cli, sim):
    """A run recorded before runs kept every report's comparison holds only the first: the
    other report held whole was applied by confirm but its counts were dropped. Which reports
    were held whole is read from the run's processed file."""
    from uso_tui.store import open_store  # noqa: PLC0415

    add(cli, sim, DFE, PUPILS, STAFF)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", _shifted(PUPILS))
    sim.set_records(DFE, "staff", _shifted(STAFF))
    run = cli("sync", DFE, "--json").json()
    store = open_store(cli.data_dir)
    with store.transaction("t") as tx:  # as such a run was stored
        old = tx.run(run["run_id"])
        old.comparisons = []
        tx.put_run(old)
    cli.ok("confirm", run["run_id"])
    counts = cli.ok("run", "show", run["run_id"], "--json").json()["counts"]
    assert counts["updated"] == 52


def test_confirming_an_empty_export_held_whole_unallocates_its_leavers(cli, sim):
    """An export that came back empty is held whole; confirming it planned nothing (an empty
    report has no records in the run's file), unallocated no one, and said the school had run
    since."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", [])
    run = cli("sync", DFE, "--json").json()
    assert run["status"] == "held"
    said = cli.ok("confirm", run["run_id"]).out
    assert "its export applied" in said and "40 accounts unallocated" in said
    gone = cli.ok("unallocated", DFE, "--json").json()
    assert len(gone) == 40 and all(a["status"] == "unallocated" for a in gone)


def test_an_export_confirmed_by_mistake_is_named_when_the_right_one_is_held_next(cli, sim):
    """A shifted column confirmed by mistake: every run after, of the right export, was held
    whole ("40 of 40 changed name") with nothing saying that the confirmed run was the cause,
    nor that undoing it puts the accounts back."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    before = _accounts(cli)
    swapped = [{**p, "forename": p["surname"], "surname": p["forename"]} for p in PUPILS]
    sim.set_records(DFE, "students", swapped)
    wrong = cli("sync", DFE, "--json").json()["run_id"]
    cli.ok("confirm", wrong)
    sim.set_records(DFE, "students", PUPILS)  # the MIS mended
    res = cli("sync", DFE, "--json")
    assert res.status == 3
    said = res.json()["hold_reason"]
    assert f"run {wrong}" in said and f"uso-tui undo-run {wrong}" in said
    # and the day after, past the run held whole the day before (never confirmed)
    again = cli("sync", DFE, "--json").json()
    assert again["status"] == "held" and f"uso-tui undo-run {wrong}" in again["hold_reason"]
    cli.ok("undo-run", wrong)
    assert _accounts(cli).keys() == before.keys()
    assert {u: a["forename"] for u, a in _accounts(cli).items()} == {
        u: a["forename"] for u, a in before.items()
    }
    assert cli("sync", DFE, "--json").json()["status"] == "succeeded"


def test_the_undo_hint_names_only_a_confirmed_run_of_a_report_held_whole_now():
    """A staff export confirmed held whole was named when the students export was held whole
    the next day (and the hint went after one day: the held run between hid it)."""
    from uso_tui.domain.models import Run
    from uso_tui.sync.runner import _after_a_confirmed_whole

    def run(n: int, reports, whole=(), confirmed=False, status="held") -> Run:
        return Run(run_id=f"{DFE}-r{n}", school=DFE, trigger="schedule", operator="x",
                   reports=list(reports), started_at=f"2026-03-1{n}T06:00:00", status=status,
                   comparisons=[{"report": r} for r in whole],
                   confirmed_at="2026-03-10T09:00:00" if confirmed else None,
                   confirmed_by="desk" if confirmed else None)  # fmt: skip

    now = run(5, ["staff", "students"], whole=["students"])
    staff_confirmed = run(2, ["staff", "students"], whole=["staff"], confirmed=True)
    assert _after_a_confirmed_whole([now, staff_confirmed], now) == ""
    students_confirmed = run(2, ["students"], whole=["students"], confirmed=True)
    held_between = run(3, ["students"], whole=["students"])
    failed = run(4, ["students"], status="failed")
    said = _after_a_confirmed_whole([now, failed, held_between, students_confirmed], now)
    assert f"undo-run {DFE}-r2" in said
    fine_since = run(3, ["students"], status="succeeded")
    assert _after_a_confirmed_whole([now, fine_since, students_confirmed], now) == ""


def _hundred_pupils(tmp_path):
    """A school of 100 pupils, run on 1 June: (its Env, the pupils' records)."""
    from datetime import datetime

    env = Env(tmp_path / "store")
    pupils = [
        enrolled_student(
            str(i), f"Kid{chr(97 + i % 26)}", f"Fam{i:03d}", f"2015-04-{1 + i % 28:02d}"
        )
        for i in range(100)
    ]
    env.add_school(DFE, pupils)
    env.sync(datetime(2026, 6, 1, 7))
    return env, pupils


def test_leavers_dropped_by_the_mis_at_its_rollover_are_no_fall(tmp_path):
    """Leavers sent with their leaving date until the MIS drops them at its rollover, their
    accounts unallocated (and confirmed) weeks before: the export "fell" by them, and the report
    was held whole that day and every day after, its starters waiting, until confirmed."""
    from datetime import datetime

    from uso_tui.sync import actions

    env, pupils = _hundred_pupils(tmp_path)
    leavers = [{**p, "leavingDate": "2026-07-20"} for p in pupils[:15]]
    starters = [
        {**enrolled_student(f"n{i}", f"New{chr(97 + i)}", "Intake", "2022-03-03"),
         "enrolmentDate": "2026-09-03"}
        for i in range(15)
    ]  # fmt: skip
    env.set_students(DFE, leavers + pupils[15:] + starters)
    held = env.sync(datetime(2026, 7, 21, 7))
    assert held.status == "held"  # 15 leavers: rule 8's hold, confirmed
    actions.confirm_held(env.store, held.run_id, operator="alice", now=datetime(2026, 7, 21, 9))
    env.sync(datetime(2026, 7, 22, 7))
    env.set_students(DFE, pupils[15:] + starters)  # the rollover: the leavers' records dropped
    rollover = env.sync(datetime(2026, 9, 3, 7))
    assert rollover.status == "succeeded", rollover.hold_reason
    assert rollover.counts["created"] == 15
    # a real fall of records on roll is held as before
    env.set_students(DFE, pupils[40:] + starters)
    assert env.sync(datetime(2026, 9, 4, 7)).status == "held"


def test_leaving_dates_passing_together_are_no_fall(tmp_path):
    """A fifth of the pupils leave on one day (their leaving dates pass, still sent): rule 8
    holds their unallocations; the records sent are as many as before, no report held whole."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    env.set_students(DFE, [{**p, "leavingDate": "2026-07-20"} for p in pupils[:20]] + pupils[20:])
    held = env.sync(datetime(2026, 7, 21, 7))
    assert held.status == "held" and not held.comparisons, held.hold_reason


def test_leavers_still_sent_hide_no_fall_of_the_records_on_roll(tmp_path):
    """Leavers kept in the export (their dates passed at the run before) with half of those on
    roll gone: counted on one side only, they hid the fall (70 before against 65 now)."""
    from datetime import datetime

    from uso_tui.sync import actions

    env, pupils = _hundred_pupils(tmp_path)
    leavers = [{**p, "leavingDate": "2026-07-20"} for p in pupils[:30]]
    env.set_students(DFE, leavers + pupils[30:])
    held = env.sync(datetime(2026, 7, 21, 7))
    actions.confirm_held(env.store, held.run_id, operator="alice", now=datetime(2026, 7, 21, 9))
    env.sync(datetime(2026, 7, 22, 7))
    env.set_students(DFE, leavers + pupils[30:65])
    halved = env.sync(datetime(2026, 7, 23, 7))
    assert halved.status == "held" and halved.comparisons, halved.hold_reason


def test_leavers_held_and_sent_again_hide_no_fall_of_the_records_on_roll(tmp_path):
    """Rule 8 holds thirty leavers' unallocations, not yet confirmed, and the MIS sends them
    again with half of those on roll gone: their accounts still active, the leavers counted on
    roll now and not before hid the fall (70 before against 65 now), only rule 8 held."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    leavers = [{**p, "leavingDate": "2026-07-20"} for p in pupils[:30]]
    env.set_students(DFE, leavers + pupils[30:])
    held = env.sync(datetime(2026, 7, 21, 7))
    assert held.status == "held" and not held.comparisons
    env.set_students(DFE, leavers + pupils[30:65])
    halved = env.sync(datetime(2026, 7, 22, 7))
    assert halved.status == "held" and halved.comparisons, halved.hold_reason
    assert "35 records on roll against 70 before" in halved.hold_reason


def test_a_sixth_forms_held_leavers_dropped_by_the_mis_are_no_other_school(tmp_path):
    """Sixty of a hundred leave (a sixth form's summer), rule 8 holds their unallocations, and
    before anyone confirms, the MIS drops them and sends its new intake: no records on roll
    gone, yet "60 of 100 linked before no longer sent, and 120 others came instead" held the
    report whole, the intake waiting, as if another school's export had come."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    leavers = [{**p, "leavingDate": "2026-07-20"} for p in pupils[:60]]
    env.set_students(DFE, leavers + pupils[60:])
    assert env.sync(datetime(2026, 7, 21, 7)).status == "held"
    intake = [
        {**enrolled_student(f"n{i}", f"New{chr(97 + i % 26)}", f"Intake{i:02d}", "2010-03-03"),
         "enrolmentDate": "2026-09-03"}
        for i in range(60)
    ]  # fmt: skip
    env.set_students(DFE, pupils[60:] + intake)
    run = env.sync(datetime(2026, 9, 3, 7))
    assert run.status == "held" and not run.comparisons, run.hold_reason
    assert run.counts["created"] == 60 and len(run.held_usernames) == 60
    # another school's export instead is held whole as before
    other = [
        enrolled_student(f"x{i}", f"Oth{chr(97 + i % 26)}", f"Else{i:02d}", "2011-05-05")
        for i in range(100)
    ]
    env.set_students(DFE, other)
    assert env.sync(datetime(2026, 9, 4, 7)).comparisons


def test_a_roll_sent_twice_under_new_ids_is_held_whole_not_given_second_accounts(tmp_path):
    """Every pupil sent again under a MIS id of its own beside its record (two MIS databases
    merged): each copy, its person's account linked to a record of the same export, was created
    a second account ("one person keyed twice"), a hundred at once."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    copies = [{**p, "schoolId": "dup" + p["schoolId"]} for p in pupils[:60]]
    env.set_students(DFE, pupils + copies)
    run = env.sync(datetime(2026, 6, 2, 7))
    assert run.status == "held" and run.comparisons, run.hold_reason
    assert "60 records came under MIS ids of their own" in run.hold_reason
    assert run.counts.get("created", 0) == 0
    # two of them (a person keyed twice by the school) are no such export
    env.set_students(DFE, pupils + copies[:2])
    again = env.sync(datetime(2026, 6, 3, 7))
    assert not again.comparisons and again.counts["created"] == 2, again.hold_reason


def test_another_schools_data_after_every_pupil_was_given_a_leaving_date_is_held_whole(tmp_path):
    """Every pupil given a leaving date (a school closing), rule 8 holds their unallocations,
    then another school's data comes: the accounts held left nothing else to compare, and the
    stranger's records were each given an account."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    for held_as_leaving in (100, 98):
        leavers = [{**p, "leavingDate": "2026-07-20"} for p in pupils[:held_as_leaving]]
        env.set_students(DFE, leavers + pupils[held_as_leaving:])
        assert env.sync(datetime(2026, 7, 21, 7)).status == "held"
        other = [
            enrolled_student(f"x{i}", f"Oth{chr(97 + i % 26)}", f"Else{i:02d}", "2011-05-05")
            for i in range(100)
        ]
        env.set_students(DFE, other)
        run = env.sync(datetime(2026, 7, 22, 7))
        assert run.comparisons and run.counts.get("created", 0) == 0, run.hold_reason
        assert "no longer sends any of the 100 records linked before" in run.hold_reason


@pytest.mark.parametrize(
    "kept_beside",
    [
        {"leavingDate": "2025-07-20"},  # a leaver's old record kept beside the new one
        {"enrolmentDate": "2026-09-03"},  # next year's record of a pupil, made early
    ],
    ids=["old-leaver-records", "future-records"],
)
def test_records_of_pupils_kept_beside_theirs_that_get_no_account_are_no_copies(
    tmp_path, kept_beside
):
    """A third of the pupils sent again under ids of their own, each as a leaver's record or
    a record starting next year: neither gets an account, yet each counted as a copy and held
    the report whole, every day, also after it was confirmed."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    beside = [{**p, "schoolId": "b" + p["schoolId"], **kept_beside} for p in pupils[:30]]
    env.set_students(DFE, pupils + beside)
    run = env.sync(datetime(2026, 6, 2, 7))
    assert not run.comparisons and run.counts.get("created", 0) == 0, run.hold_reason


def _intake(count: int) -> list[dict]:
    """`count` pupils starting on 3 September 2026, sent before they start."""
    return [
        {**enrolled_student(f"n{i}", f"New{chr(97 + i % 26)}", f"Intake{i:02d}", "2021-03-03"),
         "enrolmentDate": "2026-09-03"}
        for i in range(count)
    ]  # fmt: skip


def test_an_intake_sent_early_is_no_fall_when_the_leavers_go(tmp_path):
    """The MIS sends September's intake from July (an enrolment date to come), then on the first
    day drops its leavers (no leaving date sent) as the intake starts: counted on roll before as
    now, the intake hid nothing, so the leavers alone were a fall (100 against 120) and the
    report was held whole, the intake waiting."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    intake = _intake(20)
    env.set_students(DFE, pupils + intake)
    assert not env.sync(datetime(2026, 7, 2, 7)).comparisons
    env.set_students(DFE, pupils[20:] + intake)  # the rollover: 20 leavers dropped, undated
    run = env.sync(datetime(2026, 9, 3, 7))
    assert not run.comparisons, run.hold_reason
    assert run.status == "held" and len(run.held_usernames) == 20  # rule 8 holds the leavers
    # a real fall on a day the intake is on roll is held whole as before
    env.set_students(DFE, pupils[60:] + intake)
    assert env.sync(datetime(2026, 9, 4, 7)).comparisons


def _moved_to_their_secondary(env, pupils) -> None:
    """The first twenty of `pupils` matched on 6 July to their secondary's records (their
    accounts moved there, each of its cases resolved)."""
    from datetime import datetime

    from uso_tui.sync import actions

    sec = "204-3211"
    env.add_school(sec, [], create_before_start_days=70)
    env.set_students(sec, [{**p, "schoolId": "y" + p["schoolId"], "enrolmentDate": "2026-09-03"}
                           for p in pupils[:20]])  # fmt: skip
    env.sync(datetime(2026, 7, 6, 7), sec)
    for case in env.store.cases(sec, "open"):
        actions.resolve_case(env.store, case.case_id, operator="alice",
                             now=datetime(2026, 7, 6, 9), match=case.candidates[0]["username"])  # fmt: skip
    assert len([a for a in env.store.school_accounts(sec) if a.status == "active"]) == 20


def test_leavers_whose_accounts_moved_school_before_they_left_are_no_fall(tmp_path):
    """Year 6 matched in July to their secondary school's records (their accounts moved there),
    their primary still sending them with a leaving date: the day it passed, linked to no account
    here, they counted as gone before, a fall of twenty, and the report was held whole every
    day after, with nothing to unallocate."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    env.set_students(DFE, [{**p, "leavingDate": "2026-07-17"} for p in pupils[:20]] + pupils[20:])
    _moved_to_their_secondary(env, pupils)
    for day in (16, 17, 18):
        run = env.sync(datetime(2026, 7, day, 7))
        assert not run.comparisons, (day, run.hold_reason)
    env.set_students(DFE, pupils[20:])  # the MIS drops them at its rollover
    assert not env.sync(datetime(2026, 9, 1, 7)).comparisons


def test_places_declined_and_dated_as_leavers_hide_no_fall(tmp_path):
    """Thirty of an intake sent early given a leaving date (places declined) on the day forty
    pupils on roll are dropped: not started at the run before (counted out then), they counted
    on roll now, 90 against 100, and the fall went unheld (only rule 8 held)."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    intake = _intake(30)
    env.set_students(DFE, pupils + intake)
    assert not env.sync(datetime(2026, 7, 2, 7)).comparisons
    declined = [{**p, "leavingDate": "2026-07-10"} for p in intake]
    env.set_students(DFE, pupils[40:] + declined)
    run = env.sync(datetime(2026, 7, 10, 7))
    assert run.comparisons and "60 records on roll against 100 before" in run.hold_reason
    env.set_students(DFE, pupils + declined)  # the places declined alone are no fall
    assert not env.sync(datetime(2026, 7, 11, 7)).comparisons


@pytest.mark.parametrize("enrolled", ["2020-09-01", "2026-07-05"])
def test_leavers_on_roll_before_whose_start_date_moved_later_are_no_fall(tmp_path, enrolled):
    """Thirty pupils on roll at the run before leave, their records also carrying a start date
    after that run (re-enrolled, or the date corrected): read from the record, not the account,
    they counted as not started then, and the report was held whole (70 against 100)."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    assert not env.sync(datetime(2026, 7, 2, 7)).comparisons
    leavers = [{**p, "enrolmentDate": enrolled, "leavingDate": "2026-07-09"} for p in pupils[:30]]
    env.set_students(DFE, leavers + pupils[30:])
    run = env.sync(datetime(2026, 7, 10, 7))
    assert not run.comparisons, run.hold_reason


def _year6_moved(tmp_path):
    """Year 6 matched in July to their secondary's records (their accounts moved there), their
    primary run on 16 July: (its Env, the pupils' records, that run)."""
    from datetime import datetime

    env, pupils = _hundred_pupils(tmp_path)
    _moved_to_their_secondary(env, pupils)
    run = env.sync(datetime(2026, 7, 16, 7))
    assert not run.comparisons
    return env, pupils, run


def test_leavers_whose_accounts_moved_and_whose_dates_were_keyed_late_are_no_fall(tmp_path):
    """Their primary keys their leaving date a day late, dated the day before its last run:
    linked to no account here, they counted as gone at that run though it sent them on roll, a
    fall of twenty, and the report was held whole every day until confirmed, with nothing to
    unallocate. The run before's own export (its processed file) says they were on roll then."""
    from datetime import datetime

    env, pupils, _ = _year6_moved(tmp_path)
    year6 = [{**p, "leavingDate": "2026-07-15"} for p in pupils[:20]]  # keyed on the 16th
    env.set_students(DFE, year6 + pupils[20:])
    run = env.sync(datetime(2026, 7, 17, 7))
    assert not run.comparisons, run.hold_reason
    assert not env.sync(datetime(2026, 7, 18, 7)).comparisons
    # a real fall of records on roll beside them is held as before
    env.set_students(DFE, year6 + pupils[60:])
    run = env.sync(datetime(2026, 7, 19, 7))
    assert run.comparisons and "40 records on roll against 80 before" in run.hold_reason


@pytest.mark.parametrize("file", ["gone", "damaged"])
def test_without_the_run_befores_processed_file_leavers_keyed_late_are_counted_as_before(
    tmp_path, file
):
    """The run before's processed file gone or damaged: the comparison goes without it (the
    leavers counted gone by their dates, the report held whole, as before); the run does not
    fail for it."""
    from datetime import datetime

    env, pupils, before = _year6_moved(tmp_path)
    path = env.store.layout.processed_file(DFE, before.run_id)
    if file == "gone":
        path.unlink()
    else:
        path.write_bytes(b'{"processed_file": {"1": {"rows": [[1]], "columns": ["report"]}}}')
    env.set_students(DFE, [{**p, "leavingDate": "2026-07-15"} for p in pupils[:20]] + pupils[20:])
    run = env.sync(datetime(2026, 7, 17, 7))
    assert run.status == "held" and "80 records on roll against 100" in run.hold_reason


def test_confirming_a_run_held_whole_unallocates_only_what_its_review_listed(tmp_path):
    """A run held whole (half the roll gone) is confirmed days later. Meanwhile an operator
    matched an account to a record this export does not send, and five pupils' leaving dates
    (in the export) passed. Confirming planned the export again against the store as it is now,
    and unallocated those six too, accounts its review never listed. Only what the review
    listed is unallocated; the rest is the next run's to weigh."""
    from datetime import datetime

    from uso_tui.sync import actions, admin

    env, pupils = _hundred_pupils(tmp_path)
    store = env.store
    newcomer = enrolled_student("x1", "Joseph", "Bloggs", "2015-01-01")
    requested = admin.add_account(
        store, DFE, role="pupil", forename="Joe", surname="Bloggs", dob="2015-01-01",
        operator="bob", now=datetime(2026, 6, 1, 8),
    )  # fmt: skip
    env.set_students(DFE, [*pupils, newcomer])
    env.sync(datetime(2026, 6, 2, 7))
    (case,) = store.cases(DFE, "open")
    leaving = [{**p, "leavingDate": "2026-06-05"} for p in pupils[:5]]
    env.set_students(DFE, [*leaving, *pupils[5:45]])
    run = env.sync(datetime(2026, 6, 3, 7))
    assert run.status == "held" and run.comparisons, run.hold_reason
    listed = set(run.held_usernames)
    actions.resolve_case(
        store, case.case_id, match=requested.username, operator="bob", now=datetime(2026, 6, 3, 9)
    )
    done = actions.confirm_held(store, run.run_id, operator="bob", now=datetime(2026, 6, 9, 9))
    assert set(done.unallocated) <= listed
    assert requested.username not in done.unallocated
    assert store.account(requested.username).status == "active"
    leavers = {
        a.username for a in store.school_accounts(DFE) if a.mis_id in {"0", "1", "2", "3", "4"}
    }
    assert leavers and not leavers & set(done.unallocated)
    # their records do not say they were unallocated ("why" read them as such)
    from uso_tui.sync.why import why

    (hit,) = [h for h in why(store, "0", today="2026-06-09") if h.mis_id == "0"]
    assert "the next run unallocates it" in hit.reason and "kept active: left out" in hit.reason
    # ... and they are still leavers: absent from the roll (their accounts no one's on it)
    from uso_tui.sync.checks import latest_export_ids

    assert "0" not in latest_export_ids(store, DFE, "students")


def test_a_run_held_whole_that_a_later_run_has_taken_since_is_not_offered_to_confirm(cli, sim):
    """A halved export held whole, then a full export run the next day: `run show` of the old
    run still said "`uso-tui confirm ...` applies it as it is" and "apply with `uso-tui
    confirm`", where confirming it applies nothing."""
    add(cli, sim, DFE, PUPILS)
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", PUPILS[:20])
    held = cli("sync", DFE, "--json").json()["run_id"]
    sim.set_records(DFE, "students", PUPILS)
    newer = cli.ok("sync", DFE, "--json").json()["run_id"]
    shown = cli.ok("run", "show", held).out
    assert "applies it as it is" not in shown and "apply with" not in shown
    assert f"{newer} has taken this export since: confirming it applies nothing" in shown
    # a newer export held too: that one is to confirm (this one's confirm is refused)
    sim.set_records(DFE, "students", PUPILS[:20])
    held2 = cli("sync", DFE, "--json").json()["run_id"]
    sim.set_records(DFE, "students", PUPILS[:19])
    held3 = cli("sync", DFE, "--json").json()["run_id"]
    shown = cli.ok("run", "show", held2).out
    assert f"{held3}, held too, has a newer export: confirm that one instead" in shown
    assert "applies it as it is" not in shown and "apply with" not in shown
    assert cli("confirm", held2).status == 2


def test_a_leaver_restored_before_a_confirm_is_not_said_to_be_kept_by_it(tmp_path):
    """A run whose students were held (a new year's leavers) and whose staff report applied at
    once, unallocating a teacher who left; the teacher's account restored, then the run
    confirmed: `why` said the confirm "kept" the account active, a report it never weighed."""
    from datetime import datetime

    from uso_tui.sync import actions
    from uso_tui.sync.why import why

    env = Env(tmp_path / "store")
    teacher = {"id": 100, "forename": "Tess", "surname": "Teach", "dateOfBirth": "1980-05-05"}
    env.add_school(DFE, PUPILS, [teacher], reports=["students", "staff"])
    env.sync(datetime(2026, 6, 1, 7))
    env.set_students(DFE, _new_year())
    env.sim.set_records(DFE, "staff", [{**teacher, "leavingDate": "2026-05-30"}])
    run = env.sync(datetime(2026, 6, 2, 7))
    assert run.status == "held" and not run.comparisons
    tess = env.store.account("tteach.204")
    assert tess.status == "unallocated"
    actions.restore_account(env.store, tess.username, operator="desk", now=datetime(2026, 6, 2, 9))
    actions.confirm_held(env.store, run.run_id, operator="desk", now=datetime(2026, 6, 3, 9))
    (hit,) = [h for h in why(env.store, "100", today="2026-06-03") if h.mis_id == "100"]
    assert "kept active" not in hit.reason and "active again" in hit.reason
