"""`account add`, `accounts`, `unallocated`, `exclusions`, `exclusion add|remove`, `audit` through
main(argv): JSON shapes of DESIGN section 5, human tables, and bad input exiting 2 unwritten."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cli_support import SECRET, account_add_args, snapshot
from tui_helpers import NOW

DFE, OTHER = "204-3210", "204-3211"
ACCOUNT_KEYS = {
    "username",
    "role",
    "forename",
    "surname",
    "preferred_name",
    "dob",
    "school",
    "status",
    "source",
    "mis_id",
    "last_event",
    "last_event_at",
}
AUDIT_KEYS = {"at", "operator", "school", "action", "subject", "before", "after"}


@pytest.fixture
def cli(cli):
    """The command line on a store of two schools."""
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    cli.add_school(OTHER, name="Vale School", url="https://vale.isams.cloud")
    return cli


def test_account_add_refuses_a_second_account_for_a_person_active_elsewhere(cli):
    """An active account at another school has the same names and date of birth (a mover): the
    console asks first; the command made a second account with only a note. Refused, nothing
    written; --force makes it, and says which account the person now has twice."""
    first = cli.add_account(OTHER, "Ann", "Lee", "2014-01-01", extra=("--json",)).json()
    assert first["username"] == "alee.204"
    before = snapshot(cli.data_dir)
    refused = cli(
        "account",
        "add",
        DFE,
        "--role",
        "pupil",
        "--forename",
        "ANN",
        "--surname",
        "Lee",
        "--dob",
        "01/01/2014",
    )
    assert refused.status == 2 and refused.err.count("\n") == 1
    assert "alee.204 (active at 204-3211) has the same names and date of birth" in refused.err
    assert "--force" in refused.err and snapshot(cli.data_dir) == before
    res = cli.add_account(DFE, "ANN", "Lee", "01/01/2014", extra=("--force", "--json"))
    assert res.json()["school"] == DFE  # stdout as ever: the account made
    assert "alee.204 (active at 204-3211) has the same names and date of birth" in res.err
    assert f"uso-tui duplicates {DFE}" in res.err
    other = cli.add_account(DFE, "Bea", "Leigh", "2014-01-01")
    assert "note" not in other.err


def test_account_add_asks_first_for_a_person_active_under_another_spelling(cli):
    """Only the same names were looked for: Arav Sharma was made beside Aarav Sharma, born the
    same day at a school of the local authority, without a word. Refused, nothing written, as
    for the same names; --force makes it."""
    cli.add_account(OTHER, "Aarav", "Sharma", "2014-05-06")
    before = snapshot(cli.data_dir)
    refused = cli(*account_add_args(DFE, "Arav", "Sharma", "2014-05-06"))
    assert refused.status == 2 and snapshot(cli.data_dir) == before
    assert "asharma.204 (Aarav Sharma, born 2014-05-06, active at 204-3211" in refused.err
    assert "probably this person" in refused.err and "--force" in refused.err
    cli.add_account(DFE, "Arav", "Sharma", "2014-05-06", extra=("--force",))
    # another child born the same day, another name: no question
    cli.add_account(DFE, "Priya", "Shah", "2014-05-06")


def test_a_search_finds_a_name_keyed_as_one_word_typed_apart(cli):
    """ "mc donald" found no McDonald (nor "de souza" DeSouza): the MIS keys them as one word,
    and an operator types what they hear."""
    cli.add_account(DFE, "Amy", "McDonald", "2015-04-02")
    cli.add_account(DFE, "Ben", "DeSouza", "2014-07-11")
    cli.add_account(DFE, "Mc", "Donaldson", "1980-01-31", role="staff")
    found = cli.ok("accounts", "--search", "amy mc donald", "--json").json()
    assert [a["username"] for a in found] == ["amcdonald.204"]
    assert [a["forename"] for a in cli.ok("accounts", "--search", "de souza", "--json").json()] == [
        "Ben"
    ]
    # words that find someone as typed are not joined
    assert [a["surname"] for a in cli.ok("accounts", "--search", "mc don", "--json").json()] == [
        "Donaldson"
    ]
    assert cli.ok("accounts", "--search", "mc nobody", "--json").json() == []
    assert cli.ok("accounts", "--search", "amy mc donald 2016", "--json").json() == []


def test_account_add_then_search(cli):
    res = cli.add_account(DFE, "Zoë", "O'Brien-Smith", "2014-03-09", extra=("--json",))
    acc = res.json()
    assert set(acc) >= ACCOUNT_KEYS
    assert acc["username"] == "zobriensmith.204"
    assert acc["role"] == "pupil" and acc["school"] == DFE and acc["status"] == "active"
    assert acc["source"] == "manual" and acc["mis_id"] is None and acc["dob"] == "2014-03-09"
    assert acc["last_event"] == "create"
    human = cli.add_account(DFE, "John", "Smith", "1980-01-31", role="staff").out
    assert human.startswith("created jsmith.204: staff John Smith")
    cli.add_account(OTHER, "Jane", "Smith", "1979-02-01", role="staff")

    # Search across schools: accents and punctuation folded, every word a prefix.
    found = cli.ok("accounts", "--search", "zoe obrien", "--json").json()
    assert [a["username"] for a in found] == ["zobriensmith.204"]
    assert set(found[0]) >= ACCOUNT_KEYS and found[0]["last_event"] == "create"
    smiths = cli.ok("accounts", "--search", "j smith", "--json").json()
    assert {a["username"] for a in smiths} == {"jsmith.204", "jsmith2.204"}
    assert {a["school"] for a in smiths} == {DFE, OTHER}
    by_dob = cli.ok("accounts", "--search", "1980-01-31", "--json").json()
    assert [a["username"] for a in by_dob] == ["jsmith.204"]
    assert cli.ok("accounts", "--search", "nobody", "--json").json() == []

    # One school, whole list, human table.
    table = cli.ok("accounts", DFE).out.splitlines()
    assert table[0].split()[:3] == ["Username", "Role", "Name"]
    assert any(line.startswith("jsmith.204") for line in table)
    assert any("Zoë O'Brien-Smith" in line for line in table)
    assert len(table) == 3
    school = cli.ok("accounts", DFE, "--status", "active", "--json").json()
    assert {a["username"] for a in school} == {"zobriensmith.204", "jsmith.204"}
    assert cli.ok("accounts", DFE, "--status", "unallocated", "--json").json() == []
    assert cli.ok("unallocated", DFE, "--json").json() == []
    assert cli.ok("accounts", OTHER, "--search", "jane", "--json").json()[0]["forename"] == "Jane"


def test_limit_tells_when_cut(cli):
    for index, name in enumerate(["Ann", "Bea", "Cat"]):
        cli.add_account(DFE, name, "Jones", f"2014-01-0{index + 1}")
    res = cli.ok("accounts", "--search", "jones", "--limit", "2", "--json")
    assert len(res.json()) == 2 and "first 2" in res.err


def test_markup_in_names_is_printed_literally(cli):
    """A name as the MIS may send it (a name typed for `account add` is refused: letters only)."""
    from dataclasses import replace

    from uso_tui.store import open_store

    cli.add_account(DFE, "Xena", "Evans", "2013-05-05")
    with open_store(cli.data_dir).transaction("test") as tx:
        (acc,) = tx.school_accounts(DFE)
        tx.put_account(replace(acc, forename="[bold]x[/]"))
    out = cli.ok("accounts", DFE).out
    assert "[bold]x[/] Evans" in out


def test_account_add_takes_a_date_as_typed_in_the_uk(cli):
    made = cli.ok(*account_add_args(DFE, "Zoe", "Hart", "28/02/2014"), "--json").json()
    assert made["dob"] == "2014-02-28"


def test_account_add_refuses_a_twin_request(cli):
    cli.add_account(DFE, "Ann", "Lee", "2014-01-01")
    before = snapshot(cli.data_dir)
    res = cli(*account_add_args(DFE, "ANN", "lee", "2014-01-01"))
    assert res.status == 2 and "alee.204 already exists" in res.err
    assert snapshot(cli.data_dir) == before


def test_account_add_asks_when_the_other_role_has_the_person(cli):
    """A teacher's account asked for with the role left as pupil (the console's form fills it
    in): made with nothing said of her staff account of the same names and date of birth."""
    cli.add_account(DFE, "Gwen", "Ffrench", "1965-06-09", role="staff")
    before = snapshot(cli.data_dir)
    res = cli(*account_add_args(DFE, "Gwen", "Ffrench", "1965-06-09"))
    assert res.status == 2 and snapshot(cli.data_dir) == before
    said = " ".join(res.err.split())
    assert "gffrench.204 (staff, active at 204-3210) has the same names and date of birth" in said
    assert "the role is staff (--role staff)" in said and "--force makes the pupil" in said
    made = cli.ok(*account_add_args(DFE, "Gwen", "Ffrench", "1965-06-09"), "--force", "--json")
    assert made.json()["role"] == "pupil"


ACCOUNT_BAD = [
    ("bad dob", ["--dob", "2014-13-01"], "no such date"),
    ("dob format", ["--dob", "2014/02/01"], "expected YYYY-MM-DD or DD/MM/YYYY"),
    ("bad dob as typed in the UK", ["--dob", "31/02/2014"], "'31/02/2014': no such date"),
    ("dob in future", ["--dob", "2027-01-01"], "in the future"),
    ("no letters", ["--forename", "123"], "contains no letters"),
    ("empty surname", ["--surname", " "], "surname is empty"),
    ("control characters", ["--forename", "A\x1b[31mB"], "control characters"),
    ("markup", ["--forename", "[red]Zoë[/red]"], "holds '/' '[' ']': a name has letters"),
    ("a digit", ["--surname", "Lee2"], "holds '2': a name has letters"),
]


@pytest.mark.parametrize(
    ("change", "message"), [c[1:] for c in ACCOUNT_BAD], ids=[c[0] for c in ACCOUNT_BAD]
)
def test_account_add_bad_input(cli, change, message):
    args = {"--role": "pupil", "--forename": "Ann", "--surname": "Lee", "--dob": "2014-01-01"}
    args[change[0]] = change[1]
    flat = [x for kv in args.items() for x in kv]
    before = snapshot(cli.data_dir)
    res = cli("account", "add", DFE, *flat)
    assert res.status == 2 and message in res.err and res.err.count("\n") == 1
    assert res.out == ""
    assert snapshot(cli.data_dir) == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            account_add_args("204-9999", "A", "B", "2014-01-01"),
            "unknown school",
        ),
        (
            account_add_args(DFE, "A", "B", "2014-01-01", role="parent"),
            "invalid choice",
        ),
        (["accounts", "20-1"], "malformed DfE number"),
        (["accounts", "204-9999"], "unknown school"),
        (["accounts", "--status", "gone"], "invalid choice"),
        (["unallocated", "204-9999"], "unknown school"),
        (["exclusions", "204-9999"], "unknown school"),
        (["exclusion", "add", DFE, "--forename", "A"], "required"),
        (
            ["exclusion", "add", DFE, "--forename", "A", "--surname", "B", "--dob", "2014-02-30"],
            "no such date",
        ),
        (["exclusion", "remove", DFE, "7"], "no exclusion 7"),
        (["exclusion", "remove", DFE, "x"], "bad exclusion id"),
        (["audit", "204-9999"], "unknown school"),
        (["audit", "--limit", "0"], "--limit"),
        (["restore", "nobody.204"], "unknown account"),
    ],
)
def test_bad_input_exits_2(cli, argv, message):
    before = snapshot(cli.data_dir)
    res = cli(*argv)
    assert res.status == 2, res.err
    assert message in res.err and res.err.count("\n") == 1 and res.out == ""
    assert snapshot(cli.data_dir) == before


def test_exclusions_add_list_remove(cli):
    ex = cli.ok("exclusion", "add", DFE, "--forename", "Tom", "--surname", "Test", "--json").json()
    assert ex["id"] == 1 and ex["dob"] is None and ex["added_by"] == "alice"
    human = cli.ok(
        "exclusion", "add", DFE, "--forename", "Dummy", "--surname", "Pupil", "--dob", "2010-01-01"
    ).out
    assert human.startswith("added exclusion 2 at 204-3210: Dummy Pupil, born 2010-01-01")
    listed = cli.ok("exclusions", DFE, "--json").json()
    assert [(e["id"], e["forename"], e["dob"]) for e in listed] == [
        (1, "Tom", None),
        (2, "Dummy", "2010-01-01"),
    ]
    table = cli.ok("exclusions", DFE).out.splitlines()
    assert table[0].split() == ["Id", "Forename", "Surname", "DOB", "Added", "by", "Added", "at"]
    assert "any" in table[1]
    dup = cli("exclusion", "add", DFE, "--forename", "TOM", "--surname", "test")
    assert dup.status == 2 and "already on the exclusion list" in dup.err
    assert cli.ok("exclusions", OTHER, "--json").json() == []
    removed = cli.ok("exclusion", "remove", DFE, "1", "--json").json()
    assert removed["id"] == 1 and removed["forename"] == "Tom"
    assert [e["id"] for e in cli.ok("exclusions", DFE, "--json").json()] == [2]
    assert cli.ok("exclusion", "remove", DFE, "2").out.startswith("removed exclusion 2")


def test_exclusion_add_refuses_a_name_account_add_refuses(cli):
    """`exclusion add --forename "[bold]x"` was added (the entry then excluding "boldx", a name
    nobody typed) where `account add` refuses such a name as a slip."""
    before = snapshot(cli.data_dir)
    for forename in ("[bold]x", "Amy2"):
        res = cli("exclusion", "add", DFE, "--forename", forename, "--surname", "X")
        assert res.status == 2 and "a name has letters, spaces, hyphens" in res.err
    assert snapshot(cli.data_dir) == before
    cli.ok("exclusion", "add", DFE, "--forename", "Mary-Jane", "--surname", "O'Brien")


def test_audit_newest_first(cli):
    cli.add_account(DFE, "Ann", "Lee", "2014-01-01")
    cli.ok("exclusion", "add", OTHER, "--forename", "Tom", "--surname", "Test", operator="bob")
    cli.ok("school", "set", DFE, "--daily-at", "05:00")
    events = cli.ok("audit", "--json").json()
    assert all(set(e) >= AUDIT_KEYS for e in events)
    assert [e["action"] for e in events] == [
        "school_update",
        "exclusion_add",
        "create",
        "school_add",
        "school_add",
    ]
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    assert events[1]["operator"] == "bob" and events[1]["school"] == OTHER
    assert events[2]["subject"] == "alee.204" and events[2]["after"]["forename"] == "Ann"
    assert events[0]["before"] == {"daily_at": "06:00"}
    assert events[0]["after"] == {"daily_at": "05:00"}
    school = cli.ok("audit", DFE, "--json").json()
    assert [e["action"] for e in school] == ["school_update", "create", "school_add"]
    assert [e["action"] for e in cli.ok("audit", "--subject", "alee.204", "--json").json()] == [
        "create"
    ]
    assert len(cli.ok("audit", "--limit", "2", "--json").json()) == 2
    human = cli.ok("audit", DFE).out.splitlines()
    assert human[0].split() == ["At", "Operator", "School", "Action", "Subject", "Change"]
    assert "daily_at: 06:00 -> 05:00" in human[1]
    assert all(SECRET not in line for line in human)


def _request_for_a_waiting_case(store, capsys, skip: str):
    """`account add` of the person whose pupil record waits in a case of the demo: (the case,
    the account's username, what the command said: stdout, then stderr)."""
    from uso_tui.cli.main import main

    # (the held school's cases are for people with a probable account at the school: a request
    # for one of them is refused, as it should be)
    from uso_tui.sync.admin import restorable_hits, same_person_elsewhere

    def own_unallocated(c) -> bool:  # a leaver come back: their account is restored, not made
        r = c.record
        found = same_person_elsewhere(
            store, c.school, "pupil", r["forename"], r["surname"], r["dob"]
        )
        return bool(restorable_hits(store, found))

    case = next(
        c
        for s in store.list_schools()
        if s.dfe != skip
        for c in store.cases(s.dfe)
        if c.role == "pupil" and not own_unallocated(c)
    )
    record = case.record
    argv = ["--data-dir", str(store.root), "account", "add", case.school, "--role", "pupil"]
    argv += ["--forename", record["forename"], "--surname", record["surname"]]
    assert main([*argv, "--dob", record["dob"]], clock=lambda: NOW + timedelta(hours=1)) == 0
    username = next(
        a.username
        for a in store.school_accounts(case.school)
        if a.source == "manual" and a.forename == record["forename"]
    )
    said = capsys.readouterr()
    return case, username, said.out + said.err


def test_account_add_says_when_the_schools_export_has_the_person_in_the_matching_queue(
    demo_ran, capsys
):
    """The person's record is in the school's latest export, its case waiting in the matching
    queue: the account is made (the command does not ask), and stderr says to resolve the case
    with it rather than leave two ways to one person."""
    from uso_tui.cli.main import main

    store = demo_ran.store
    case, username, err = _request_for_a_waiting_case(store, capsys, demo_ran.held_school)
    record = case.record
    assert f"students record {record['mis_id']} of {case.school}'s latest export" in err
    assert "waits in the matching queue" in err
    resolve = ["--data-dir", str(store.root), "resolve", case.case_id, "--match", username]
    assert f"--match {username} --force" in err  # as the note says, which resolves it
    assert main([*resolve, "--force"]) == 0
    assert case.case_id not in {c.case_id for c in store.cases(case.school)}  # no longer open
    assert store.find_account(username).mis_id == record["mis_id"]


def test_an_account_requested_while_its_persons_case_waits_is_a_candidate_after_the_next_run(
    demo_ran, capsys
):
    """As the note says: the school's next run adds the account to the case's candidates, and
    the case is then matched to it without --force."""
    import asyncio

    from uso_tui.cli.main import main
    from uso_tui.sync.runner import run_school

    store = demo_ran.store
    case, username, err = _request_for_a_waiting_case(store, capsys, demo_ran.held_school)
    assert "the school's next run adds" in err
    assert "its record waits in the matching queue: see the note" in err  # not "links to"
    assert "links to the MIS record when it arrives" not in err
    later = NOW + timedelta(days=1)
    asyncio.run(run_school(store, case.school, trigger="schedule", operator="s", now=later))
    (refreshed,) = [c for c in store.cases(case.school, "open") if c.case_id == case.case_id]
    assert username in [c["username"] for c in refreshed.candidates]
    (event,) = [
        e for e in store.audit(case.school, subject=case.case_id) if e.action == "case_refresh"
    ]
    assert username in [name for name, _ in event.after["candidates"]]
    assert refreshed.refreshed_at == later.isoformat(timespec="seconds")
    assert refreshed.refreshed == f"new candidate(s): {username}"
    assert main(["--data-dir", str(store.root), "matches", case.school]) == 0
    assert f"refreshed {later:%Y-%m-%d %H:%M}" in capsys.readouterr().out
    resolve = ["--data-dir", str(store.root), "resolve", case.case_id, "--match", username]
    assert main(resolve) == 0
    assert store.find_account(username).mis_id == case.record["mis_id"]


def test_audit_says_on_stderr_when_it_stops_at_its_limit(cli):
    """`audit --json` stopped at 200 events without a word (accounts says so)."""
    cli.ok("school", "set", DFE, "--daily-at", "05:00")
    cli.ok("school", "set", DFE, "--daily-at", "05:30")
    res = cli.ok("audit", "--limit", "2", "--json")
    assert len(res.json()) == 2 and "showing the newest 2 events" in res.err
    res = cli.ok("audit", "--limit", "50", "--json")
    assert len(res.json()) < 50 and "showing the newest" not in res.err


def test_json_lists_are_whole_unless_a_limit_is_given(cli, monkeypatch):
    """`accounts --json` across schools stopped at 500 accounts and `audit --json` at 200
    events, exit 0, a note on stderr the only sign: a script read a list cut short (DESIGN: "a
    list of" every account, every event). The tables for a person stay cut, and --limit cuts."""
    import uso_tui.cli.accounts as accounts_cli
    import uso_tui.cli.audit as audit_cli

    monkeypatch.setattr(accounts_cli, "DEFAULT_LIMIT", 2)
    monkeypatch.setattr(audit_cli, "DEFAULT_LIMIT", 2)
    for forename in ("Ann", "Bea", "Cy"):
        cli.add_account(DFE, forename, "Lee", "2014-01-01")
    res = cli.ok("accounts", "--json")  # (written school by school: the same JSON)
    assert len(res.json()) == 3 and "showing the first" not in res.err
    assert res.out == json.dumps(res.json(), ensure_ascii=False, indent=2) + "\n"
    assert cli.ok("accounts", "--json", "--search", "nobody").out == "[]\n"
    assert "showing the first 2" in cli.ok("accounts").err
    assert len(cli.ok("accounts", "--json", "--limit", "1").json()) == 1
    events = cli.ok("audit", "--json")
    assert len(events.json()) >= 4 and "showing the newest" not in events.err
    assert "showing the newest 2 events" in cli.ok("audit").err


@pytest.mark.parametrize("command", [["why"], ["accounts", "--search"]])
def test_a_search_longer_than_any_name_is_refused_not_said_back(cli, command):
    res = cli(*command, "x" * 100_000)
    assert res.status == 2 and "100,000 characters" in res.err and len(res.err) < 300


def test_account_add_asks_first_for_a_person_on_the_exclusion_list(cli):
    """An account asked for someone on the school's exclusion list never joins their record
    (excluded at every run): it was made without a word."""
    cli.ok("exclusion", "add", DFE, "--forename", "Lily", "--surname", "Moss")
    before = snapshot(cli.data_dir)
    refused = cli(*account_add_args(DFE, "Lily", "Moss", "2015-05-05"))
    assert refused.status == 2 and snapshot(cli.data_dir) == before
    assert "on 204-3210's exclusion list (entry 1)" in refused.err and "--force" in refused.err
    cli.add_account(DFE, "Lily", "Moss", "2015-05-05", extra=("--force",))


def test_account_add_of_a_person_the_school_has_says_so_before_offering_force(cli):
    """An excluded name whose account the school already has: refused for the exclusion, with
    `--force makes the account anyway`, then refused with --force as existing."""
    cli.ok("exclusion", "add", DFE, "--forename", "Lily", "--surname", "Moss")
    cli.add_account(DFE, "Lily", "Moss", "2015-05-05", extra=("--force",))
    refused = cli(*account_add_args(DFE, "Lily", "Moss", "2015-05-05"))
    assert refused.status == 2 and "already exists at 204-3210" in refused.err
    assert "--force" not in refused.err
