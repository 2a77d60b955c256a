"""The store at the command line: an older schema upgraded only by `uso-tui upgrade`, a corrupt
file named with what to do, `audit --limit` saying where it stopped, `run-due --at` far ahead."""

from __future__ import annotations

import orjson
import pytest
from cli_support import Cli, school_add_args, snapshot
from tui_helpers import damage_a_candidates_school

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import AuditEvent
from uso_tui.store import SCHEMA_VERSION, StoreError, open_store

DFE = "204-3210"


@pytest.fixture
def cli(cli):
    """The command line on a store of one school."""
    cli.add_school(DFE)
    return cli


def test_an_older_store_is_refused_then_upgraded_by_the_upgrade_command(cli):
    store_json = cli.data_dir / "store.json"
    store_json.write_bytes(orjson.dumps({"schema": SCHEMA_VERSION - 1}))
    before = snapshot(cli.data_dir)
    res = cli("school", "list")
    assert res.status == 1 and "older uso-tui" in res.err and "uso-tui upgrade" in res.err
    assert snapshot(cli.data_dir) == before  # refused, never silently rewritten

    res = cli.ok("upgrade")
    assert f"from schema {SCHEMA_VERSION - 1} to {SCHEMA_VERSION}" in res.out
    assert orjson.loads(store_json.read_bytes()) == {"schema": SCHEMA_VERSION}
    assert [s["dfe"] for s in cli.ok("school", "list", "--json").json()] == [DFE]
    assert cli.ok("upgrade", "--json").json() == {
        "from": SCHEMA_VERSION,
        "to": SCHEMA_VERSION,
        "upgraded": False,
    }


def test_upgrade_without_a_store_creates_nothing(tmp_path, capsys):
    cli = Cli(tmp_path / "none", capsys)
    res = cli("upgrade")
    assert res.status == 2 and "no uso-tui store" in res.err
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("directory/[0-9]*.json", ("school", "list")),
        (f"schools/{DFE}/data.json", ("accounts", DFE)),
        ("recent/*.json", ("audit",)),
    ],
)
def test_a_corrupt_store_file_is_named_with_how_to_recover(cli, name, argv):
    (path,) = cli.data_dir.glob(name)
    path.write_bytes(path.read_bytes()[:-7])
    res = cli(*argv)
    assert res.status == 1
    assert str(path) in res.err and "corrupt" in res.err and "backup" in res.err
    assert "unexpected JSONDecodeError" not in res.err


@pytest.mark.parametrize(
    ("name", "damage", "said"),
    [
        (f"schools/{DFE}/data.json", b"", "empty"),
        (f"schools/{DFE}/data.json", None, "missing"),
        (f"schools/{DFE}/data.json", b"[1, 2, 3]", "a JSON list"),
        (f"schools/{DFE}/data.json", b'{"accounts": "x"}', "'accounts' is not a table"),
        ("directory/version.json", b"", "empty"),
        ("directory/version.json", b'{"meta": {"1": {}}}', "shards is missing"),
        ("directory/[0-9]*.json", b'{"meta": 5, "schools": "x"}', "not a table"),
    ],
)
def test_a_school_s_file_or_the_directory_emptied_or_reshaped_is_damage_not_an_empty_school(
    cli, name, damage, said
):
    """An empty or missing school file read as a school without accounts: the next run made
    every record a starter (or a case) and wrote the file again, its accounts, runs and cases
    gone. An empty directory read as "no schools yet", and `school add` then wrote over the
    school's file. Each is named as damage, and nothing is written."""
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    (path,) = cli.data_dir.glob(name)
    if damage is None:
        path.unlink()
    else:
        path.write_bytes(damage)
    before = snapshot(cli.data_dir)
    reading = (
        [("school", "list"), ("sync", DFE)]
        if "directory" in name
        else [("sync", DFE), ("runs", DFE), ("exclusions", DFE)]
    )
    for argv in reading:
        res = cli(*argv)
        assert res.status == 1, argv
        assert str(path) in res.err and said in res.err and "backup" in res.err, argv
        assert "unexpected" not in res.err
    res = cli(*_add_again())
    assert res.status != 0
    after = snapshot(cli.data_dir)
    # the run refused is recorded failed in the directory (the schools list shows why); the
    # school's own files are as they were
    assert {k: v for k, v in after.items() if k.startswith("schools/")} == {
        k: v for k, v in before.items() if k.startswith("schools/")
    }
    assert (damage is None) != path.exists() and (damage is None or path.read_bytes() == damage)


def test_a_school_whose_file_the_directory_no_longer_lists_is_not_added_over(cli):
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    for path in (cli.data_dir / "directory").iterdir():
        path.unlink()  # the directory lost: "no schools yet"
    data = (cli.data_dir / "schools" / DFE / "data.json").read_bytes()
    res = cli(*_add_again())
    assert res.status == 2 and "directory is damaged" in res.err
    assert (cli.data_dir / "schools" / DFE / "data.json").read_bytes() == data


def _add_again() -> list[str]:
    return school_add_args(DFE, name="Again", url="https://again.isams.cloud")


def test_a_hand_edited_config_file_that_is_not_json_says_where(tmp_path):
    # config.json is the admin's to edit: a slip is theirs to correct, not damage to restore.
    store = open_store(tmp_path / "s")
    (tmp_path / "s" / "config.json").write_bytes(b"{not json")
    with pytest.raises(InvalidInput, match=r"config.json is not valid JSON \(line 1, column 2"):
        store.allowed_mis_hosts()


def test_audit_over_the_whole_store_says_where_it_stopped(cli):
    store = open_store(cli.data_dir)
    with store.transaction("t") as tx:
        tx.audit_many(
            [
                AuditEvent(f"2026-09-01T07:{i // 60:02d}:{i % 60:02d}", "t", DFE, "update", f"e{i}")
                for i in range(2100)
            ]  # fmt: skip
        )
    res = cli.ok("audit", "--limit", "2500", "--json")
    shown = len(res.json())
    assert shown < 2500
    assert f"stopped at the newest {shown} events" in res.err and "audit DFE" in res.err
    assert len(cli.ok("audit", DFE, "--limit", "2500", "--json").json()) == 2101
    quiet = cli.ok("audit", "--limit", "100")
    assert "stopped" not in quiet.err


@pytest.mark.parametrize(
    "at", ["2026-09-02T06:31", "2026-09-03T08:00", "2027-01-01T06:00", "2026-09-01T09:00"]
)
def test_run_due_at_a_time_to_come_is_refused_unless_forced(cli, at):
    """`run-due --at` tomorrow 06:31, run tonight: the school ran on tonight's data, its run
    stamped 06:31 tomorrow, and tomorrow's real 06:30 run did not happen. So an hour ahead
    (was allowed as the three hours a stored run time is believed ahead of the clock)."""
    before = snapshot(cli.data_dir)
    res = cli("run-due", "--at", at)
    assert res.status == 2 and "is later than now" in res.err and "--force" in res.err
    assert snapshot(cli.data_dir) == before


def test_run_due_at_in_the_past_or_a_clock_skew_ahead_is_fine(cli):
    for at in ("2026-09-01T06:00", "2026-09-01T08:00"):  # (the clock is at about 08:00)
        res = cli("run-due", "--at", at)
        assert res.status == 0 and "later than now" not in res.err


def test_a_corrupt_school_file_leaves_other_schools_matching_queues_usable(demo_ran, capsys):
    """A candidate's home school has a corrupt data file: another school's `matches` still lists
    its cases (that candidate as its case saw it) and says which file to restore; matching to
    that candidate is refused naming the file, and nothing is written."""
    from uso_tui.cli.main import main

    store = demo_ran.store
    case, cand, broken = damage_a_candidates_school(store)
    root = ["--data-dir", str(store.root)]
    assert main([*root, "matches", case.school]) == 0
    out, err = capsys.readouterr()
    assert case.case_id in out and cand["username"] in out
    assert f"the data file of school {cand['school']} is corrupt" in err
    before = snapshot(store.root)
    assert main([*root, "resolve", case.case_id, "--match", cand["username"]]) == 1
    assert str(broken) in capsys.readouterr().err
    assert snapshot(store.root) == before
    with pytest.raises(StoreError, match="is corrupt"):  # a caller not asking to skip is told
        store.find_accounts({cand["username"]})


@pytest.mark.parametrize("damage", [b"", b"  \n", b"\xd4\xff\xfe secret"])
def test_a_secret_file_emptied_or_not_text_is_said_so_not_sent(cli, damage):
    """An empty secret file was sent as it was ("IRIS refused the Client ID/Client Secret"),
    and one not in UTF-8 failed the run with a codec's words."""
    (path,) = cli.data_dir.glob(f"secrets/{DFE}*")
    path.write_bytes(damage)
    res = cli("sync", DFE)
    assert res.status == 1
    assert "client secret file" in res.err and "empty or not text" in res.err
    assert "set the secret again" in res.err and "codec" not in res.err
    assert "refused" not in res.err


# a User Request Single: it reads the local authority's username registry
ADD_BEA = ("account", "add", DFE, "--role", "pupil", "--forename", "Bea", "--surname", "Holt",
           "--dob", "2014-02-02")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "argv", "damage"),
    [
        ("registry/*.json", ("restore", "aholt.204"), b"[1, 2, 3]"),
        (f"schools/{DFE}/audit/*.json", ("audit", DFE), b"[1, 2, 3]"),
        ("recent/*.json", ("audit",), b"[1, 2, 3]"),
        (f"schools/{DFE}/data.json", ("runs", DFE), b"[1, 2, 3]"),
        ("registry/*.json", ADD_BEA, b""),
        (f"schools/{DFE}/audit/*.json", ("audit", DFE), b""),
        (f"schools/{DFE}/data.json", ("accounts", DFE), b""),
    ],
)
def test_a_store_file_of_another_shape_or_emptied_is_named_as_damage(cli, name, argv, damage):
    """A file holding valid JSON of another shape ([1, 2, 3]) failed with "unexpected
    AttributeError: 'list' object has no attribute 'get'", in the console too. One of no bytes
    was read as "nothing here": `accounts` left the school's accounts out with exit 0, `audit`
    its events, and a User Request Single wrote the local authority's username registry again
    without its usernames. Nothing is written over either."""
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    paths = sorted(cli.data_dir.glob(name))
    assert paths, name
    for path in paths:
        path.write_bytes(damage)
    res = cli(*argv)
    assert res.status == 1, res
    assert "corrupt" in res.err and "backup" in res.err and "unexpected" not in res.err
    assert damage or "empty" in res.err
    assert all(path.read_bytes() == damage for path in paths)


def test_one_schools_corrupt_data_file_leaves_the_others_listed_across_schools(demo_ran, capsys):
    """A listing across schools stopped at one school's damaged data file (`accounts`, `why`,
    `calendar`, `export`): the others are listed, the damaged school named with what it
    lacks; a listing left short exits 1."""
    from uso_tui.cli.main import main

    store = demo_ran.store
    dated = store.why_records(None, dated=True)
    broken = next(r["school"] for r in dated if r.get("outcome") == "future")
    record = next(r for r in store.why_records(broken) if r.get("surname"))
    others = {a.username for s in store.list_schools() if s.dfe != broken
              for a in store.school_accounts(s.dfe)}  # fmt: skip
    path = store.root / "schools" / broken / "data.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    root = ["--data-dir", str(store.root)]
    said = f"the data file of school {broken} is corrupt (restore it from a backup)"

    assert main([*root, "accounts", "--json"]) == 1
    out, err = capsys.readouterr()
    assert {a["username"] for a in orjson.loads(out)} == others
    assert said in err and "accounts are not listed" in err
    assert main([*root, "export", "accounts", "--json"]) == 1
    out, err = capsys.readouterr()
    assert {a["username"] for a in orjson.loads(out)} == others and said in err

    assert main([*root, "calendar", "--json", "--days", "3660"]) == 0
    out, err = capsys.readouterr()
    assert broken in {u["school"] for u in orjson.loads(out)}
    assert said in err and "exclusion list" in err

    assert main([*root, "why", record["surname"], "--json"]) == 0
    out, err = capsys.readouterr()
    assert (broken, record["mis_id"]) in {(h["school"], h["mis_id"]) for h in orjson.loads(out)}
    assert said in err and "as its latest run left them" in err

    assert main([*root, "accounts", broken]) == 1  # one school's listing: the file named
    assert str(path) in capsys.readouterr().err
    # a listing cut at --limit is filled from the other schools, and said to be cut
    assert main([*root, "accounts", "--limit", "5", "--json"]) == 1
    out, err = capsys.readouterr()
    assert len(orjson.loads(out)) == 5 and "showing the first 5" in err and said in err


@pytest.mark.parametrize(
    "damage",
    [b" garbage\n", b"\xff\xfe\x00 not text\n", b" zz.204 2015-01-01 zz\tZa1\tA\tB\t\n"],
)
def test_a_name_index_line_that_does_not_read_is_named_as_damage(cli, damage):
    """`accounts` over a school whose names.idx held a line damaged from outside said only
    "unexpected IndexError: list index out of range"."""
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    (path,) = cli.data_dir.glob(f"schools/{DFE}/names.idx")
    path.write_bytes(path.read_bytes() + damage)
    res = cli("accounts")
    assert res.status == 1, res
    assert str(path) in res.err and "corrupt" in res.err and "unexpected" not in res.err
    # every account as JSON, school by school: that school left out, the JSON whole
    res = cli("accounts", "--json")
    assert res.status == 1 and orjson.loads(res.out) == []
    assert str(path) in res.err and f"the accounts of {DFE} are not listed" in res.err


def test_a_directory_where_a_store_file_belongs_is_named(cli):
    """A school's name index made a directory from outside: "Is a directory", no path."""
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    (path,) = cli.data_dir.glob(f"schools/{DFE}/names.idx")
    path.unlink()
    path.mkdir()
    res = cli("accounts", "--search", "Holt")
    assert res.status == 1, res
    assert str(path) in res.err and "a directory where a file belongs" in res.err
