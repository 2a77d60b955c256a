"""`sync`, `matches`, `resolve`, `unallocated`, `restore`, `runs`, `confirm`, `run-due` and
`scheduler` through main(argv), against the IRIS simulator served on a real socket (the CLI makes
its own httpx client, as in production). Exit statuses: 0 succeeded, 3 held, 1 failed."""

from __future__ import annotations

import json
import sys
import time

import pytest
from cli_support import SIM_SECRET, Cli, files_containing, snapshot
from factories import enrolled_student

DFE, OTHER = "204-3210", "204-3211"
CLIENT_ID = "hill-client"
SYNC_KEYS = {"run_id", "school", "status", "counts", "error"}
COUNT_KEYS = {
    "fetched",
    "created",
    "updated",
    "auto_linked",
    "restored",
    "unallocated",
    "held_unallocations",
    "needs_matching",
    "future",
    "invalid",
    "excluded",
    "unchanged",
}
RUN_KEYS = {
    "run_id",
    "school",
    "trigger",
    "operator",
    "status",
    "started_at",
    "finished_at",
    "counts",
    "error",
}


AMY = enrolled_student("1", "Amy", "Jones", "2015-04-02")
BOB = enrolled_student("2", "Bob", "Smith", "2014-07-11T00:00:00")
CAT = enrolled_student("3", "Cat", "Brown", "2016-01-20")
TEACHER = {"id": 7, "forename": "Tess", "surname": "Teach", "dateOfBirth": "1980-05-05"}


def add(cli: Cli, sim, dfe: str = DFE, students=(), staff=(), *extra: str) -> None:
    cli.add_sim_school(sim, dfe, client_id=CLIENT_ID, students=students, staff=staff, extra=extra)


def test_sync_human_progress_and_summary(cli, sim):
    add(cli, sim, DFE, [AMY, BOB, CAT], [TEACHER])
    res = cli("sync", DFE)
    assert res.status == 0, res.err
    assert "students: fetching page 1/1" in res.err and "staff: fetching page" in res.err
    assert "planning" in res.err and "applying" in res.err
    first = res.out.splitlines()[0]
    assert first.startswith(f"{DFE}-r") and first.endswith(" succeeded")
    assert "fetched 4, created 4" in res.out
    users = {a["username"] for a in cli.ok("accounts", DFE, "--json").json()}
    assert users == {"ajones.204", "bsmith.204", "cbrown.204", "tteach.204"}
    assert SIM_SECRET not in res.out + res.err


def test_sync_json_idempotent_dry_run_and_report(cli, sim):
    add(cli, sim, DFE, [AMY, BOB], [TEACHER])
    before = snapshot(cli.data_dir)
    dry = cli("sync", DFE, "--dry-run", "--json")
    assert dry.status == 0 and dry.err == ""
    data = dry.json()
    assert set(data) >= SYNC_KEYS and set(data["counts"]) == COUNT_KEYS | {"leaver"}
    assert data["dry_run"] is True and data["counts"]["created"] == 3
    assert data["run_id"] is None  # (no run kept: `run show` knows none)
    assert {(o["mis_id"], o["outcome"]) for o in data["outcomes"]} == {
        ("1", "created"),
        ("2", "created"),
        ("7", "created"),
    }
    assert snapshot(cli.data_dir) == before  # a dry run writes nothing
    human = cli.ok("sync", DFE, "--dry-run").out
    assert "Outcome" in human and "Amy Jones" in human
    # named by its school: no run id that `run show` would refuse (found by a CLI audit)
    assert f"dry run of {DFE}: succeeded (nothing written)" in human and "-dry-run" not in human

    res = cli("sync", DFE, "--report", "students", "--json")
    assert res.status == 0 and res.err == ""
    run = res.json()
    assert run["status"] == "succeeded" and run["error"] is None and run["school"] == DFE
    assert run["counts"]["fetched"] == 2 and run["counts"]["created"] == 2
    again = cli.ok("sync", DFE, "--json").json()
    assert again["counts"]["created"] == 1  # the staff report this time
    assert again["counts"]["unchanged"] == 2
    third = cli.ok("sync", DFE, "--json").json()
    assert third["counts"]["created"] == 0 and third["counts"]["unchanged"] == 3

    runs = cli.ok("runs", DFE, "--json").json()
    assert [r["run_id"] for r in runs] == [third["run_id"], again["run_id"], run["run_id"]]
    assert all(set(r) >= RUN_KEYS for r in runs)
    assert runs[0]["trigger"] == "cli" and runs[0]["operator"] == "alice"
    table = cli.ok("runs", DFE).out.splitlines()
    assert table[0].split()[:4] == ["Run", "Trigger", "Operator", "Status"]
    assert len(table) == 4


def test_a_held_dry_run_says_what_it_would_hold_and_why(cli, sim):
    """`sync --dry-run --json` of a run that would be held: "held_unallocations": 2 with
    "held_usernames": [] and "hold_reason": null, where the real run names them and says why."""
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", [])  # an empty export while accounts are linked: held
    dry = cli("sync", DFE, "--dry-run", "--json")
    assert dry.status == 3
    data = dry.json()
    assert sorted(data["held_usernames"]) == ["ajones.204", "bsmith.204"]
    real = cli("sync", DFE, "--json").json()
    assert data["hold_reason"] and data["hold_reason"] == real["hold_reason"]
    assert sorted(real["held_usernames"]) == sorted(data["held_usernames"])


def test_match_case_resolve_unallocate_restore(cli, sim):
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    # A User Request Single account joins its record automatically ...
    cli.add_account(DFE, "Dan", "Green", "2015-02-02")
    # ... while a look-alike (Eva for Eve, same surname and date of birth) waits for a person.
    cli.add_account(DFE, "Eve", "Black", "2015-03-03")
    sim.set_records(
        DFE,
        "students",
        [
            AMY,
            BOB,
            enrolled_student("4", "Dan", "Green", "2015-02-02"),
            enrolled_student("5", "Eva", "Blacke", "2015-03-03"),
        ],
    )
    run = cli.ok("sync", DFE, "--json").json()
    assert run["counts"]["auto_linked"] == 1 and run["counts"]["needs_matching"] == 1
    dan = cli.ok("accounts", "--search", "dan green", "--json").json()[0]
    assert dan["mis_id"] == "4" and dan["source"] == "mis"

    cases = cli.ok("matches", DFE, "--json").json()
    assert len(cases) == 1
    case = cases[0]
    assert set(case) >= {"case_id", "role", "record", "candidates"}
    assert case["role"] == "pupil"
    assert case["record"] == {
        "mis_id": "5",
        "forename": "Eva",
        "surname": "Blacke",
        "preferred_name": None,
        "dob": "2015-03-03",
    }
    assert case["candidates"][0]["username"] == "eblack.204"
    assert set(case["candidates"][0]) >= {"username", "school", "score"}
    scores = [c["score"] for c in case["candidates"]]
    assert scores == sorted(scores, reverse=True)
    best = case["candidates"][0]
    # each candidate says why it ranks where it does: the evidence of every field
    assert set(best) >= {"agree", "differ", "evidence", "reasons", "status"}
    assert {"forename", "surname", "dob"} <= set(best["agree"])
    assert "surname" in best["unlike"]  # as the text's Unlike column: not the record's value
    levels = {e["field"]: e["level"] for e in best["evidence"]}
    assert levels["surname"] == "similar" and levels["dob"] == "equal"
    assert all(isinstance(e["weight"], float) for e in best["evidence"])
    human = cli.ok("matches", DFE).out
    assert case["case_id"] in human and "eblack.204" in human and "%" in human
    assert "Unlike" in human.splitlines()[1]
    assert "agrees: " in human and "dob equal" in human and "surname similar" in human

    before = snapshot(cli.data_dir)
    bad = cli("resolve", case["case_id"], "--match", "nobody.204")
    assert bad.status == 2 and "nobody.204" in bad.err
    assert cli("resolve", case["case_id"]).status == 2  # one of --match/--create/--exclude
    assert snapshot(cli.data_dir) == before
    skipped = cli.ok("resolve", case["case_id"], "--skip").out
    assert skipped == f"{case['case_id']} (Eva Blacke): left open\n"
    done = cli.ok("resolve", case["case_id"], "--match", "eblack.204", "--json").json()
    assert done["status"] == "resolved" and done["decision"] == "match:eblack.204"
    assert cli.ok("matches", DFE, "--json").json() == []
    eve = cli.ok("accounts", "--search", "eblack", "--json").json()[0]
    assert eve["username"] == "eblack.204" and eve["mis_id"] == "5"

    # Bob leaves: one of four linked accounts is under the hold threshold, so it applies.
    sim.set_records(
        DFE,
        "students",
        [
            AMY,
            enrolled_student("4", "Dan", "Green", "2015-02-02"),
            enrolled_student("5", "Eva", "Blacke", "2015-03-03"),
        ],
    )
    run = cli.ok("sync", DFE, "--json").json()
    assert run["status"] == "succeeded" and run["counts"]["unallocated"] == 1
    gone = cli.ok("unallocated", DFE, "--json").json()
    assert [a["username"] for a in gone] == ["bsmith.204"]
    assert gone[0]["status"] == "unallocated" and gone[0]["school"] is None
    assert "bsmith.204" in cli.ok("unallocated", DFE).out
    cli.ok("exclusion", "add", DFE, "--forename", "Bob", "--surname", "Smith")
    done = cli.ok("restore", "bsmith.204")
    restored = done.out
    assert restored.startswith("restored bsmith.204 (Bob Smith) at 204-3210 as a non-MIS")
    # its person excluded since: the note says the record, back, would not relink it
    assert "on 204-3210's exclusion list (entry 1)" in " ".join(done.err.split())
    restored = cli.ok("accounts", "--search", "bsmith", "--json").json()[0]
    assert restored["status"] == "active" and restored["school"] == DFE
    assert cli.ok("unallocated", DFE, "--json").json() == []
    assert cli("restore", "ajones.204").status == 2  # not unallocated: refused
    actions = [e["action"] for e in cli.ok("audit", DFE, "--json").json()]
    assert actions.index("restore") < actions.index("unallocate")  # newest first


@pytest.mark.parametrize("per_page", [None, 2])
def test_an_id_given_to_two_records_holds_the_leavers_until_confirmed(cli, sim, per_page):
    """Cat's record comes under Amy's id (a JSON object naming the id twice takes the last),
    on Amy's page or the next: Cat's account looked like a leaver's and was unallocated by a run
    that succeeded. Held now; the MIS may keep such a clash for days, so confirming applies it
    (not an incomplete export's hold, which no confirmation applies)."""
    dan = enrolled_student("4", "Dan", "Green", "2015-02-02")
    add(cli, sim, DFE, [AMY, BOB, CAT, dan])
    cli.ok("sync", DFE)
    sim.set_switches(DFE, max_page_size=per_page)
    sim.set_records(DFE, "students", [AMY, BOB, {**CAT, "schoolId": AMY["schoolId"]}, dan])
    res = cli("sync", DFE, "--json")
    run = res.json()
    assert res.status == 3 and run["counts"]["held_unallocations"] == 1, res.err
    assert "given to two different records (1)" in run["hold_reason"]
    assert cli.ok("unallocated", DFE, "--json").json() == []
    cli.ok("confirm", run["run_id"])
    gone = cli.ok("unallocated", DFE, "--json").json()
    assert [a["username"] for a in gone] == ["cbrown.204"]


def test_matches_says_when_a_twins_decision_took_the_candidate(cli, sim):
    """Twins both known as Sam, and a "Sam Jones" requested for one of them: each is a case with
    that account. Matched to the first, the second's case lists it as taken, and matching it
    again is refused."""
    add(cli, sim, DFE, [AMY])
    cli.ok("sync", DFE)
    cli.add_account(DFE, "Sam", "Jones", "2016-05-05")
    twins = [
        enrolled_student("8", "Samuel", "Jones", "2016-05-05", preferredName="Sam"),
        enrolled_student("9", "Samantha", "Jones", "2016-05-05", preferredName="Sam"),
    ]
    sim.set_records(DFE, "students", [AMY, *twins])
    assert cli.ok("sync", DFE, "--json").json()["counts"]["needs_matching"] == 2
    first, second = cli.ok("matches", DFE, "--json").json()
    assert [c["username"] for c in second["candidates"]] == ["sjones.204"]
    human = cli.ok("matches", DFE).out
    assert "taken" not in human
    # each case says the other twin's record claims the account too (as the console does)
    assert "also a candidate for Samantha Jones" in human
    assert "also a candidate for Samuel Jones" in human
    cli.ok("resolve", first["case_id"], "--match", "sjones.204")
    human = cli.ok("matches", DFE).out
    assert second["case_id"] in human and f"taken (MIS id {first['record']['mis_id']})" in human
    (left,) = cli.ok("matches", DFE, "--json").json()
    assert [c["taken_by"] for c in left["candidates"]] == [first["record"]["mis_id"]]
    assert [c["taken_by"] for c in second["candidates"]] == [None]  # before the first's match
    refused = cli("resolve", second["case_id"], "--match", "sjones.204")
    assert refused.status == 2 and "another person's account" in refused.err


def test_held_run_then_confirm(cli, sim):
    add(cli, sim, DFE, [AMY, BOB, CAT])
    cli.ok("sync", DFE)
    cli.ok("school", "set", DFE, "--hold-percent", "10", "--hold-min", "1")
    sim.set_records(DFE, "students", [AMY])
    res = cli("sync", DFE)
    assert res.status == 3
    assert "held" in res.out and "uso-tui confirm" in res.out
    run_id = res.out.split()[0]
    held = cli.ok("runs", DFE, "--json").json()[0]
    assert held["run_id"] == run_id and held["status"] == "held"
    assert held["counts"]["held_unallocations"] == 2
    assert cli.ok("unallocated", DFE, "--json").json() == []
    confirmed = cli.ok("confirm", run_id, "--json").json()
    assert confirmed["run_id"] == run_id and set(confirmed) >= SYNC_KEYS
    assert confirmed["confirmed_unallocations"] == 2 and confirmed["status"] == "succeeded"
    assert {a["username"] for a in cli.ok("unallocated", DFE, "--json").json()} == {
        "bsmith.204",
        "cbrown.204",
    }
    assert cli("confirm", run_id).status != 0  # nothing held any more
    assert cli("confirm", "204-3210-r999").status == 2


def test_empty_export_is_held_with_json(cli, sim):
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    sim.set_records(DFE, "students", [])
    res = cli("sync", DFE, "--json")
    assert res.status == 3 and res.json()["status"] == "held"


def test_failed_fetch_exits_1_and_changes_nothing(cli, sim):
    add(cli, sim, DFE, [AMY])
    sim.set_switches(DFE, reject_credentials=True)
    res = cli("sync", DFE, "--json")
    assert res.status == 1
    run = res.json()
    assert run["status"] == "failed" and run["error"] and DFE in run["error"]
    # said on stderr too: a cron job logging only stderr recorded nothing of it
    assert res.err.startswith(f"{run['run_id']} {DFE} failed: ") and run["error"] in res.err
    assert cli.ok("accounts", DFE, "--json").json() == []
    human = cli("sync", DFE)
    assert human.status == 1 and "failed" in human.out and "error:" in human.out
    # what to do, as the console says it (its "e: check the Client ID and Client Secret")
    assert f"do: check the Client ID and Client Secret: `uso-tui school set {DFE}" in human.out
    assert f"{DFE}: {DFE}: " not in human.err  # the school named once
    for text in (res.out, res.err, human.out, human.err):
        assert SIM_SECRET not in text
    assert files_containing(cli.data_dir, SIM_SECRET) == [f"secrets/{DFE}.secret"]


def test_sync_bad_input(cli, sim):
    add(cli, sim, DFE, [AMY])
    before = snapshot(cli.data_dir)
    for argv, message in [
        (["sync", "204-9999"], "unknown school"),
        (["sync", "20-1"], "malformed DfE number"),
        (["sync", DFE, "--report", "contacts"], "invalid choice"),
        (["runs", "204-9999"], "unknown school"),
        (["matches", "204-9999"], "unknown school"),
        (["run-due", "--at", "tomorrow"], "bad --at"),
        (["run-due", "--at", "0001-01-01T00:00"], "a year from 1970"),  # was an OverflowError
        (["run-due", "--at", "0001-01-01T00:00+01:00"], "a year from 1970"),
        (["run-due", "--at", "2026-12-07"], "give the time too"),  # (was read as midnight)
        (["run-due", "--force"], "--force allows an --at later than now"),  # (was ignored)
        (["calendar", "--days", "3000000"], "--days must be from 0 to 3660"),
        (["iris-sim", "--port", "99999"], "a port is from 0 to 65535"),
        (["iris-sim", "--port", "0", "--schools", "1", "--schools", "2"], "given twice"),
        (["resolve", "204-3210-c99", "--create"], "unknown case"),
    ]:
        res = cli(*argv)
        assert res.status == 2, (argv, res.err)
        assert message in res.err and res.err.count("\n") == 1 and res.out == ""
    assert snapshot(cli.data_dir) == before


def test_an_error_repeating_a_huge_argument_is_cut(cli, sim):
    add(cli, sim, DFE, [AMY])
    for argv in (
        ["sync", "2" * 100_000],
        ["restore", "x" * 100_000],
        ["run", "show", "r" * 100_000],
    ):
        res = cli(*argv)
        assert res.status == 2 and res.err.count("\n") == 1
        assert len(res.err) < 2100 and "characters more)" in res.err


def test_an_argument_that_is_not_utf8_is_refused_as_such(cli, sim, tmp_path):
    """A Latin-1 é was refused as "contains control characters"; `why` of a byte 0xff searched
    for "\\udcff" and found no one, exit 0. A path need not be UTF-8."""
    add(cli, sim, DFE, [AMY])
    before = snapshot(cli.data_dir)
    latin1 = b"Ren\xe9e".decode("utf-8", "surrogateescape")
    for argv in (["why", latin1], ["accounts", "--search", latin1]):
        res = cli(*argv)
        assert res.status == 2 and "is not UTF-8 text" in res.err and "Ren\ufffde" in res.err
    assert snapshot(cli.data_dir) == before
    odd = tmp_path / b"caf\xe9".decode("utf-8", "surrogateescape")
    assert "is not UTF-8" not in cli("--data-dir", str(odd), "school", "list").err


def test_run_due_and_scheduler(cli, sim):
    # (added just after 08:00 on 2026-09-01: a daily time passed before that waits a day; the
    # clock stays near 08:00, so each --at later needs --force)
    add(cli, sim, DFE, [AMY], (), "--daily-at", "09:00")
    add(cli, sim, OTHER, [BOB], (), "--daily-at", "18:00")
    res = cli("run-due", "--at", "2026-09-01T08:59:00", "--json", "--force")
    assert res.status == 0 and res.json() == []
    assert "no school is due" in cli.ok("run-due", "--at", "2026-09-01T08:59", "--force").out
    res = cli("run-due", "--at", "2026-09-01T10:00:00", "--json", "--force", operator=None)
    assert res.status == 0
    (run,) = res.json()
    assert run["school"] == DFE and run["status"] == "succeeded"
    assert set(run) >= SYNC_KEYS
    runs = cli.ok("runs", DFE, "--json").json()
    assert runs[0]["trigger"] == "schedule" and runs[0]["operator"] == "scheduler"
    # Already run today: not due again until tomorrow; the other school at its own time.
    assert cli.ok("run-due", "--at", "2026-09-01T11:00", "--json", "--force").json() == []
    later = cli.ok("run-due", "--at", "2026-09-01T19:00", "--json", "--force").json()
    assert [r["school"] for r in later] == [OTHER]

    # A held scheduled run makes run-due exit 3; a failed one exits 1.
    cli.ok("school", "set", DFE, "--hold-min", "1")
    sim.set_records(DFE, "students", [])
    res = cli("run-due", "--at", "2026-09-02T09:30", "--force")  # (ahead of the clock)
    assert res.status == 3 and "held" in res.out
    sim.set_switches(OTHER, reject_credentials=True)
    res = cli("run-due", "--at", "2026-09-02T18:30", "--json", "--force")
    assert res.status == 1 and res.json()[0]["status"] == "failed"
    assert f"{res.json()[0]['run_id']} {OTHER} failed: " in res.err

    # The scheduler command, one pass: the clock is on 2026-09-01 after 08:00: nothing is due.
    res = cli("scheduler", "--once")
    assert res.status == 0
    assert "scheduler started" in res.err and "scheduler stopped" in res.err


@pytest.mark.parametrize(
    ("sent", "as_json"),
    [("SIGINT", False), ("SIGTERM", False), ("SIGHUP", False), ("SIGINT", True)],
)
def test_ctrl_c_cancels_before_the_apply(cli, sim, sent, as_json):
    # SIGTERM (a service stopped) and SIGHUP (the SSH session gone) as Ctrl-C: recorded
    # cancelled, not left to read as interrupted. `--json` said "status": "cancelled" (DESIGN:
    # succeeded, held or failed) with "error": null.
    import os
    import signal
    import subprocess
    import threading

    add(cli, sim, DFE, [AMY, BOB])
    gate = threading.Event()  # IRIS answers nothing until the test is done: interrupted mid-fetch
    sim.set_switches(DFE, gate=gate)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "uso_tui", "--data-dir", str(cli.data_dir), "sync", DFE),
            *(["--json"] if as_json else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        seen = ""
        while not as_json and "fetching" not in seen:
            line = proc.stderr.readline()
            assert line, seen
            seen += line
        for _ in range(300 if as_json else 0):  # (--json prints no progress: the run going)
            if [r for r in cli.ok("runs", DFE, "--json").json() if r["status"] == "running"]:
                break
            time.sleep(0.1)
        proc.send_signal(getattr(signal, sent))
        out, err = proc.communicate(timeout=60)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "cancelled" in out and "cancelling" in err
    if as_json:
        said = json.loads(out)
        assert said["status"] == "failed" and said["cancelled"] is True
        assert said["error"].startswith("cancelled before the apply")
    runs = cli.ok("runs", DFE, "--json").json()  # (as sync --json says it: DESIGN's statuses)
    assert runs[0]["status"] == "failed" and runs[0]["cancelled"] is True
    assert "cancelled" in cli.ok("runs", DFE).out  # the table says what it was
    shown = cli.ok("school", "show", DFE, "--json").json()
    assert shown["last_run_status"] == "failed" and shown["last_run_cancelled"] is True
    assert cli.ok("accounts", DFE, "--json").json() == []
    everywhere = cli.ok("runs", "--json").json()
    assert runs[0]["run_id"] in [r["run_id"] for r in everywhere]


def test_school_test_connection(cli, sim):
    add(cli, sim, DFE, [AMY, BOB], [TEACHER])
    res = cli.ok("school", "test", DFE, "--json").json()
    assert res == {"school": DFE, "ok": True, "counts": {"staff": 1, "students": 2}}
    assert cli.ok("school", "test", DFE).out == f"{DFE}: connected; Staff 1, Students 2\n"
    sim.set_switches(DFE, reject_credentials=True)
    bad = cli("school", "test", DFE, "--json")
    assert bad.status == 1 and bad.out == "" and bad.err.count("\n") == 1
    assert DFE in bad.err and SIM_SECRET not in bad.err
    assert cli.ok("runs", DFE, "--json").json() == []  # a test is not a run


def test_resolve_undo_reopens_the_case(cli, sim):
    add(cli, sim, DFE, [AMY])
    cli.add_account(DFE, "Eve", "Black", "2015-03-03")
    sim.set_records(DFE, "students", [AMY, enrolled_student("5", "Eva", "Blacke", "2015-03-03")])
    cli.ok("sync", DFE)
    (case,) = cli.ok("matches", DFE, "--json").json()
    created = cli.ok("resolve", case["case_id"], "--create", "--force", "--json").json()
    assert created["decision"] == "create:eblacke.204"
    assert cli.ok("matches", DFE, "--json").json() == []
    res = cli.ok("resolve", case["case_id"], "--undo")
    assert res.out.startswith(f"{case['case_id']} reopened")
    assert [c["case_id"] for c in cli.ok("matches", DFE, "--json").json()] == [case["case_id"]]
    again = cli("resolve", case["case_id"], "--undo")
    assert again.status == 2 and "no operator decision to undo" in again.err


@pytest.mark.parametrize(
    ("applying", "said"), [(False, "cancelling"), (True, "too late to cancel")]
)
def test_ctrl_c_says_whether_the_run_can_still_stop(tmp_path, applying, said):
    # Once the run applies, a Ctrl-C no longer stops it (all of its changes or none are written):
    # it must not promise that nothing is applied.
    import io
    import os
    import signal
    import threading

    from uso_tui.cli.context import Context
    from uso_tui.cli.runs import _ctrl_c_cancels

    ctx = Context(data_dir=tmp_path, operator="alice", stderr=io.StringIO())
    cancel = threading.Event()
    with _ctrl_c_cancels(cancel, ctx, applying=lambda: applying):
        os.kill(os.getpid(), signal.SIGINT)
    assert cancel.is_set() and ctx.stderr.getvalue().startswith(said)


def test_matches_says_why_a_requested_account_with_a_guessed_date_is_listed(cli, sim):
    # Its score is low (another date of birth): the text says it was asked for under this name.
    add(cli, sim, DFE, [AMY])
    cli.ok("sync", DFE)
    cli.add_account(DFE, "Gareth", "Pemberton", "2015-01-01")
    sim.set_records(
        DFE, "students", [AMY, enrolled_student("7", "Gareth", "Pemberton", "2015-06-17")]
    )
    cli.ok("sync", DFE)
    assert "requested here under this name, its date of birth a guess" in cli.ok("matches", DFE).out


def test_why_says_when_it_shows_only_the_first_records_found(cli, sim):
    pupils = [
        enrolled_student(str(i), f"Pupil{chr(97 + i % 26)}", "Lee", "2015-04-02")
        for i in range(205)
    ]
    add(cli, sim, DFE, pupils)
    cli.ok("sync", DFE)
    res = cli.ok("why", "lee")
    assert "the first 200 records found are shown" in res.err
    assert "records found are shown" not in cli.ok("why", "pupila lee").err


async def test_the_console_why_says_when_it_shows_only_the_first_records_found(tmp_path):
    from factories import Env
    from tui_helpers import burst, screen_text, settle, started

    env = Env(tmp_path / "store")
    env.add_school(
        students=[
            enrolled_student(str(i), f"Pupil{chr(97 + i % 26)}", "Lee", "2015-04-02")
            for i in range(205)
        ]
    )
    from datetime import datetime

    await env.run(now=datetime(2026, 3, 10, 9))
    async with started(env.store, "why", size=(120, 30)) as (app, pilot):
        burst(app, *"lee", "enter")
        await settle(pilot, 4)
        assert "the first 200 records found" in " ".join(screen_text(app).split())


def test_matches_json_says_where_each_candidate_is_now(cli, sim):
    """The case keeps its candidates as it saw them; `matches --json` says their school and
    status as they are (the text said "(unallocated)" while the JSON said active)."""
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    cli.add_account(DFE, "Eve", "Black", "2015-03-03")
    sim.set_records(
        DFE, "students", [AMY, BOB, enrolled_student("5", "Eva", "Blacke", "2015-03-03")]
    )
    cli.ok("sync", DFE)
    [case] = cli.ok("matches", DFE, "--json").json()
    assert case["candidates"][0]["status"] == "active"
    cli.ok("exclusion", "add", DFE, "--forename", "Eve", "--surname", "Black", "--unallocate")
    [case] = cli.ok("matches", DFE, "--json").json()
    best = case["candidates"][0]
    assert (best["username"], best["status"], best["school"]) == ("eblack.204", "unallocated", None)
    assert "(unallocated)" in cli.ok("matches", DFE).out


def test_a_value_not_given_is_null_in_every_json_output(cli, sim):
    """A preferred name not given was "" in accounts --json and in a dry run's unallocate rows
    but null in its other rows and in matches --json; school show's never-changed daily time
    stamps were "" beside null settings."""
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    accounts = cli.ok("accounts", DFE, "--json").json()
    assert accounts and all(a["preferred_name"] is None for a in accounts)
    sim.set_records(DFE, "students", [AMY])
    outcomes = cli("sync", DFE, "--dry-run", "--json").json()["outcomes"]
    assert {o["outcome"] for o in outcomes} == {"unchanged", "unallocate"}
    assert all(o["preferred_name"] is None for o in outcomes)
    shown = cli.ok("school", "show", DFE, "--json").json()
    assert shown["daily_at_since"] is None and shown["daily_at_was"] is None
    cli.ok("school", "set", DFE, "--daily-at", "07:15")
    shown = cli.ok("school", "show", DFE, "--json").json()
    assert shown["daily_at_was"] == "06:00" and shown["daily_at_since"]


def test_audit_json_says_a_value_not_given_as_null_too(cli, sim):
    """A run's create event kept "" for a preferred name never given, where `account add`'s
    said null."""
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    created = [e for e in cli.ok("audit", DFE, "--json").json() if e["action"] == "create"]
    assert created and all(e["after"]["preferred_name"] is None for e in created)
    assert all("" not in (e["after"] or {}).values() for e in created)


def test_sync_json_of_a_school_whose_run_is_going_says_so_as_json(cli, sim):
    # stdout was empty (exit 1, the reason on stderr only): a script's json.loads failed on it
    import os
    import subprocess
    import threading

    add(cli, sim, DFE, [AMY, BOB])
    gate = threading.Event()  # IRIS answers nothing until the test is done: the run stays going
    sim.set_switches(DFE, gate=gate)
    cmd = [sys.executable, "-m", "uso_tui", "--data-dir", str(cli.data_dir), "sync", DFE]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))  # fmt: skip
    try:
        for _ in range(300):
            going = [r for r in cli.ok("runs", DFE, "--json").json() if r["status"] == "running"]
            if going:
                break
            time.sleep(0.1)
        res = cli("sync", DFE, "--json")
        assert res.status == 1
        said = res.json()
        assert said["status"] == "failed" and said["run_id"] is None and said["school"] == DFE
        assert "already has a run in progress" in said["error"]
        assert said["run_in_progress"] == going[0]["run_id"] and said["counts"]["created"] == 0
        # every key a run's has (a script reading data["finished_at"] had a KeyError)
        assert set(said) - {"run_in_progress"} == set(cli.ok("runs", DFE, "--json").json()[0]) | {
            "reports", "dry_run", "held_usernames", "hold_reason"
        }  # fmt: skip
        assert res.err.startswith("uso-tui: error: ")
    finally:
        gate.set()
        proc.communicate(timeout=60)
