"""Operator safety on the command line (issue 13): `run show`, `confirm --only/--except`,
`sync --report` of a report not enabled, `resolve --force` and `--undo`, exclusions of a person
with an account. Bad input exits 2 with one line and writes nothing."""

from __future__ import annotations

import pytest
from cli_support import Cli, snapshot
from factories import enrolled_student
from test_cli_sync import AMY, BOB, CAT, DFE, RUN_KEYS, TEACHER, add

pytestmark = pytest.mark.usefixtures("sim")  # every test syncs from the simulator


EVA = enrolled_student("5", "Eva", "Blacke", "2015-03-03")


def refused(cli: Cli, *argv: str, says: str) -> None:
    """Exit 2, one line on stderr naming the problem, nothing on stdout, nothing written."""
    before = snapshot(cli.data_dir)
    res = cli(*argv)
    assert res.status == 2, (argv, res.err)
    assert says in res.err and res.err.count("\n") == 1 and res.out == "", res.err
    assert snapshot(cli.data_dir) == before


def held_run(cli: Cli, sim, remaining: list[dict]) -> tuple[str, str]:
    """Amy, Bob and Cat synced, then a run of `remaining` held (any unallocation is held): its
    id and what `sync` printed."""
    add(cli, sim, DFE, [AMY, BOB, CAT])
    cli.ok("sync", DFE)
    cli.ok("school", "set", DFE, "--hold-percent", "1", "--hold-min", "1")
    sim.set_records(DFE, "students", remaining)
    res = cli("sync", DFE)
    assert res.status == 3
    return res.out.split()[0], res.out


def request(cli: Cli, forename: str, surname: str, dob: str) -> None:
    """User Request Single: a non-MIS pupil account at DFE."""
    cli.add_account(DFE, forename, surname, dob)


def eva_case(cli: Cli, sim) -> str:
    """A case for Eva Blacke whose one candidate is eblack.204 (Eve Black); zzulu.204 is not."""
    add(cli, sim, DFE, [AMY, BOB])
    request(cli, "Eve", "Black", "2015-03-03")
    request(cli, "Zed", "Zulu", "2014-01-01")
    sim.set_records(DFE, "students", [AMY, BOB, EVA])
    cli.ok("sync", DFE)
    (case,) = cli.ok("matches", DFE, "--json").json()
    assert [c["username"] for c in case["candidates"]] == ["eblack.204"]
    return case["case_id"]


def test_sync_refuses_a_report_the_school_has_not_enabled(cli, sim):
    add(cli, sim, DFE, [AMY], [TEACHER], "--reports", "students")
    refused(cli, "sync", DFE, "--report", "staff", says="report staff is not enabled for 204-3210")
    assert cli.ok("runs", DFE, "--json").json() == []  # nothing ran
    assert cli.ok("sync", DFE, "--report", "students", "--json").json()["counts"]["created"] == 1


def test_run_show_lists_the_held_accounts(cli, sim):
    # Bob and Cat leave (their records sent with a leaving date: rule 8 holds the
    # unallocations, everything else applies); Cat comes back under a new MIS id: her held
    # account is the candidate of an open case.
    gone = [{**BOB, "leavingDate": "2020-01-01"}, {**CAT, "leavingDate": "2020-01-01"}]
    run_id, said = held_run(
        cli, sim, [AMY, *gone, enrolled_student("33", "Cat", "Brown", "2016-01-20")]
    )
    assert f"`uso-tui run show {run_id}`" in said  # the hint names a command that lists them
    (case,) = cli.ok("matches", DFE, "--json").json()
    data = cli.ok("run", "show", run_id, "--json").json()
    assert set(data) >= RUN_KEYS | {"held_usernames", "comparison"}
    assert data["run_id"] == run_id and data["status"] == "held"
    assert sorted(data["held_usernames"]) == ["bsmith.204", "cbrown.204"]
    assert data["comparison"] is None
    assert data["hold_reason"].startswith("students: would unallocate 2 of 3 linked accounts")
    text = cli.ok("run", "show", run_id).out
    assert "Held:" in text and "would unallocate 2 of 3" in text
    bob = next(line for line in text.splitlines() if line.startswith("bsmith.204"))
    cat = next(line for line in text.splitlines() if line.startswith("cbrown.204"))
    assert "Bob Smith" in bob and "2014-07-11" in bob and "open case" not in bob
    assert "Cat Brown" in cat and case["case_id"] in cat and "candidate of an open case" in cat
    refused(cli, "run", "show", "204-3210-r99", says="unknown run")
    confirmed = cli.ok("confirm", run_id)
    assert f"warning: cbrown.204 is a candidate of open case {case['case_id']}" in confirmed.err


def test_confirm_only_and_except(cli, sim):
    run_id, _ = held_run(cli, sim, [AMY])
    refused(cli, "confirm", run_id, "--only", "bsmith.204", "--except", "x", says="not allowed")
    refused(cli, "confirm", run_id, "--only", "ajones.204", says="ajones.204 is not held")
    refused(cli, "confirm", run_id, "--except", " , ", says="--except needs usernames")
    res = cli.ok("confirm", run_id, "--only", "bsmith.204")
    assert "1 accounts unallocated: bsmith.204" in res.out
    assert "kept, as asked: cbrown.204" in res.out
    status = {a["username"]: a["status"] for a in cli.ok("accounts", DFE, "--json").json()}
    assert status == {"ajones.204": "active", "bsmith.204": "unallocated", "cbrown.204": "active"}


def test_confirm_except_json(cli, sim):
    run_id, _ = held_run(cli, sim, [AMY])
    data = cli.ok("confirm", run_id, "--except", "bsmith.204", "--json").json()
    assert data["unallocated"] == ["cbrown.204"] and data["kept"] == ["bsmith.204"]
    assert data["left_alone"] == [] and data["confirmed_unallocations"] == 1


def test_confirm_of_a_stale_held_run_names_the_accounts_left_alone(cli, sim):
    run_id, _ = held_run(cli, sim, [])  # an empty export holds all three
    sim.set_records(DFE, "students", [AMY, BOB, CAT])
    assert cli("sync", DFE).status == 0  # every record seen again
    assert "left alone by confirm" in cli.ok("run", "show", run_id).out
    res = cli.ok("confirm", run_id)
    # (an empty export is held whole: the school's newer run is the one applied)
    assert "confirmed, not applied" in res.out and "nothing changed" in res.out
    assert "left alone (record back or changed since the run): " in res.out
    assert all(name in res.out for name in ("ajones.204", "bsmith.204", "cbrown.204"))
    assert cli.ok("unallocated", DFE, "--json").json() == []


def test_resolve_match_to_a_non_candidate_needs_force(cli, sim):
    case_id = eva_case(cli, sim)
    refused(
        cli,
        "resolve",
        case_id,
        "--match",
        "zzulu.204",
        says="zzulu.204 is not a candidate of case",
    )
    res = cli("resolve", case_id, "--match", "zzulu.204")
    assert (
        "forename: Zed -> Eva" in res.err and "date of birth: 2014-01-01 -> 2015-03-03" in res.err
    )
    assert "--force" in res.err
    refused(cli, "resolve", case_id, "--exclude", "--force", says="--force goes with --match")
    # Bob's account is linked to a record of the latest export: refused even with --force.
    refused(
        cli, "resolve", case_id, "--match", "bsmith.204", "--force", says="another person's account"
    )
    done = cli.ok("resolve", case_id, "--match", "zzulu.204", "--force", "--json").json()
    assert done["decision"] == "match:zzulu.204"
    (eva,) = cli.ok("accounts", "--search", "zzulu", "--json").json()
    assert (eva["forename"], eva["surname"], eva["mis_id"]) == ("Eva", "Blacke", "5")


def test_resolve_create_beside_a_free_near_certain_candidate_needs_force(cli, sim):
    """Eva's case offers eblack.204 at 99%, which no other record holds: `--create` gave her a
    second account, silently (the console names the candidate and asks first). Refused,
    nothing written; --force creates."""
    case_id = eva_case(cli, sim)
    refused(cli, "resolve", case_id, "--create", says="eblack.204 scores 99%")
    res = cli("resolve", case_id, "--create")
    assert "--match eblack.204" in res.err and "--force" in res.err
    done = cli.ok("resolve", case_id, "--create", "--force", "--json").json()
    assert done["decision"].startswith("create:")


def test_resolve_undo_of_a_create_leaves_nothing_to_restore(cli, sim):
    case_id = eva_case(cli, sim)
    made = cli.ok("resolve", case_id, "--create", "--force", "--json").json()["decision"]
    made = made.split(":")[1]
    assert cli("sync", DFE).status == 0  # a later run: the account is unchanged
    assert cli.ok("resolve", case_id, "--undo").out.startswith(f"{case_id} reopened")
    account = cli.ok("accounts", "--search", made, "--json").json()[0]
    assert account["status"] == "unallocated" and account["mis_id"] is None
    assert made not in {a["username"] for a in cli.ok("unallocated", DFE, "--json").json()}
    refused(cli, "restore", made, says="undone")


def test_exclusion_add_warns_and_unallocates(cli, sim):
    add(cli, sim, DFE, [AMY, BOB])
    cli.ok("sync", DFE)
    res = cli.ok("exclusion", "add", DFE, "--forename", "Amy", "--surname", "Jones")
    assert res.out.startswith("added exclusion 1 at 204-3210: Amy Jones")
    assert "warning: ajones.204 (Amy Jones) is an active account at 204-3210" in res.err
    assert "--unallocate" in res.err
    assert cli.ok("accounts", "--search", "ajones", "--json").json()[0]["status"] == "active"
    data = cli.ok(
        "exclusion", "add", DFE, "--forename", "Amy", "--surname", "Jones", "--unallocate", "--json"
    ).json()
    assert data["id"] == 1 and data["unallocated"] == ["ajones.204"]
    amy = cli.ok("unallocated", DFE, "--json").json()
    assert [a["username"] for a in amy] == ["ajones.204"] and amy[0]["mis_id"] is None
    audit = cli.ok("audit", DFE, "--json").json()
    assert audit[0]["action"] == "unallocate" and audit[0]["subject"] == "ajones.204"
    assert audit[0]["operator"] == "alice"
    # Her record is excluded from now on: the next run does not restore her account.
    counts = cli.ok("sync", DFE, "--json").json()["counts"]
    assert counts["excluded"] == 1 and counts["restored"] == 0
    refused(
        cli,
        "exclusion",
        "add",
        DFE,
        "--forename",
        "Amy",
        "--surname",
        "Jones",
        "--unallocate",
        says="already on the exclusion list",
    )


def test_resolve_exclude_warns_of_the_accounts_with_that_name(cli, sim):
    add(cli, sim, DFE, [AMY])
    request(cli, "Eve", "Black", "2015-03-03")
    # Two records alike both claim her account, so neither links automatically.
    eve = [enrolled_student(n, "Eve", "Black", "2015-03-03") for n in ("5", "6")]
    sim.set_records(DFE, "students", [AMY, *eve])
    cli.ok("sync", DFE)
    case = cli.ok("matches", DFE, "--json").json()[0]
    res = cli.ok("resolve", case["case_id"], "--exclude")
    assert "warning: eblack.204 (Eve Black) is an active account at 204-3210" in res.err
    assert res.err.count("\n") == 1


def test_a_month_of_failed_runs_does_not_forget_the_latest_export(cli, sim):
    """The latest export was looked for among the school's newest 30 runs only: after 30 runs
    that kept none (a secret expired for a month), Bob's account, linked to a record of the
    last export taken, could be matched to Eva's case with --force, moving it off Bob."""
    case_id = eva_case(cli, sim)
    sim.set_switches(DFE, reject_credentials=True)
    for _ in range(31):
        cli("sync", DFE)
    assert [r["status"] for r in cli.ok("runs", DFE, "--json").json()[:31]] == ["failed"] * 31
    refused(
        cli, "resolve", case_id, "--match", "bsmith.204", "--force", says="another person's account"
    )
    (bob,) = cli.ok("accounts", "--search", "bsmith", "--json").json()
    assert (bob["forename"], bob["status"]) == ("Bob", "active")


def test_resolve_exclude_warns_of_an_account_that_is_probably_the_person(cli, sim):
    """Dan Jnoes requested, his record arriving as Dan Jones: a case offering djnoes.204 at 99%.
    Excluding the record warned only of accounts with exactly its name, so nothing was said of
    the account that stays active."""
    add(cli, sim, DFE, [AMY])
    request(cli, "Dan", "Jnoes", "2014-04-04")
    sim.set_records(DFE, "students", [AMY, enrolled_student("7", "Dan", "Jones", "2014-04-04")])
    cli.ok("sync", DFE)
    (case,) = cli.ok("matches", DFE, "--json").json()
    assert case["candidates"][0]["username"] == "djnoes.204"
    res = cli.ok("resolve", case["case_id"], "--exclude")
    assert "warning: djnoes.204 (Dan Jnoes, " in res.err and "probably this person" in res.err
    assert f"active at {DFE}: the exclusion leaves it as it is" in res.err


def test_an_option_given_twice_is_refused(cli, sim):
    """`sync --report staff --report students` ran the students only: the last one won."""
    add(cli, sim, DFE, [AMY])
    refused(
        cli,
        "sync",
        DFE,
        "--report",
        "staff",
        "--report",
        "students",
        says="--report is given twice",
    )
    refused(cli, "accounts", "--search", "amy", "--search=bo", says="--search is given twice")
