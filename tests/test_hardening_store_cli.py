"""The store at the command line: an older schema upgraded only by `uso-tui upgrade`, a corrupt
file named with what to do, `audit --limit` saying where it stopped, `run-due --at` far ahead."""

from __future__ import annotations

import orjson
import pytest
from cli_support import Cli, snapshot
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


@pytest.mark.parametrize("at", ["2026-09-03T08:00", "2027-01-01T06:00"])
def test_run_due_at_far_ahead_is_refused_unless_forced(cli, at):
    before = snapshot(cli.data_dir)
    res = cli("run-due", "--at", at)
    assert res.status == 2 and "more than a day after now" in res.err and "--force" in res.err
    assert snapshot(cli.data_dir) == before


def test_run_due_at_within_a_day_or_in_the_past_is_fine(cli):
    for at in ("2026-09-01T06:00", "2026-09-02T07:00"):
        res = cli("run-due", "--at", at)
        assert "more than a day" not in res.err


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
