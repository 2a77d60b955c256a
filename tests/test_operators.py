"""Operators and roles (issue 16, DESIGN section 7): operators.json managed from the command line,
the authorized_keys lines, `console --as`, and roles enforced by the actions themselves."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
from datetime import datetime
from pathlib import Path

import pytest
from cli_support import SECRET, snapshot
from factories import DFE, Env, iris_student

from uso_tui.domain.errors import InvalidInput
from uso_tui.store import open_store
from uso_tui.sync import admin
from uso_tui.sync.access import AccessDenied, access_of, require
from uso_tui.sync.operators import add_operator, list_operators, remove_operator
from uso_tui.sync.runner import run_school
from uso_tui.sync.undo import undo_run

NOW = datetime(2026, 3, 11, 9, 0, 0)


def ssh_key(fill: int, kind: str = "ssh-ed25519", comment: str = "") -> str:
    """A well-formed public key line (no ssh-keygen needed): `fill` picks the key bytes."""

    def wire(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    blob = wire(kind.encode()) + wire(bytes([fill]) * 32)
    return f"{kind} {base64.b64encode(blob).decode()}" + (f" {comment}" if comment else "")


ALICE_KEY = ssh_key(1, comment="alice@laptop")
BOB_KEY = ssh_key(2, comment="bob@desk")


@pytest.fixture
def staffed(cli):
    """A school, alice an admin and bob on the desk (added by the install's first admin)."""
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    cli.ok("operator", "add", "alice", "--role", "admin", "--key", ALICE_KEY, operator="root")
    cli.ok("operator", "add", "bob", "--role", "desk", "--key", BOB_KEY, operator="alice")
    return cli


# -- operators.json through the command line ------------------------------------------------------


def test_operator_add_list_remove_are_audited_and_written_0600(staffed, tmp_path):
    cli = staffed
    path = cli.data_dir / "operators.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_bytes())
    assert data == {
        "alice": {"role": "admin", "keys": [ALICE_KEY]},
        "bob": {"role": "desk", "keys": [BOB_KEY]},
    }
    listed = cli.ok("operator", "list", "--json").json()
    assert [(o["name"], o["role"]) for o in listed] == [("alice", "admin"), ("bob", "desk")]
    assert listed[1]["keys"][0]["key"] == BOB_KEY
    assert listed[1]["keys"][0]["fingerprint"].startswith("SHA256:")
    human = cli.ok("operator", "list").out
    assert "bob" in human and "desk" in human and "bob@desk" in human

    cli.ok("operator", "remove", "bob", operator="alice")
    assert set(json.loads(path.read_bytes())) == {"alice"}
    events = [e for e in cli.ok("audit", "--json").json() if e["action"].startswith("operator")]
    assert [(e["action"], e["subject"], e["operator"]) for e in events] == [
        ("operator_remove", "bob", "alice"),
        ("operator_add", "bob", "alice"),
        ("operator_add", "alice", "root"),
    ]
    assert events[1]["after"]["role"] == "desk"
    assert events[1]["after"]["keys"][0].startswith("SHA256:")


def test_key_file_with_several_keys(cli, tmp_path):
    cli.add_school(DFE)
    pub = tmp_path / "carol.pub"
    pub.write_text(f"{ssh_key(3, comment='carol@a')}\n\n{ssh_key(4)}\n")
    cli.ok("operator", "add", "carol", "--role", "desk", "--key-file", str(pub))
    data = json.loads((cli.data_dir / "operators.json").read_bytes())
    assert data["carol"]["keys"] == [ssh_key(3, comment="carol@a"), ssh_key(4)]


BAD_ADDS = {
    "upper-case name": ["Carol", "--role", "desk"],
    "name with a space": ["carol smith", "--role", "desk"],
    "name starting with a digit": ["1carol", "--role", "desk"],
    "name too long": ["c" * 33, "--role", "desk"],
    "unknown role": ["carol", "--role", "boss"],
    "key with options": ["carol", "--role", "desk", "--key", 'command="/bin/sh" ' + ssh_key(3)],
    "key with a newline": ["carol", "--role", "desk", "--key", ssh_key(3) + "\n" + ssh_key(4)],
    "not base64": ["carol", "--role", "desk", "--key", "ssh-ed25519 AAAA!!!! x"],
    "wrong type inside": ["carol", "--role", "desk", "--key", ssh_key(3).replace("ed25519", "rsa")],
    "no key data": ["carol", "--role", "desk", "--key", "ssh-ed25519"],
    "dsa key": ["carol", "--role", "desk", "--key", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"],
    "existing name": ["bob", "--role", "admin"],
    "another's key": ["carol", "--role", "desk", "--key", BOB_KEY],
    "missing key file": ["carol", "--role", "desk", "--key-file", "/nonexistent/carol.pub"],
}


@pytest.mark.parametrize("case", sorted(BAD_ADDS))
def test_bad_operator_input_exits_2_with_one_line_and_writes_nothing(staffed, case):
    cli = staffed
    before = snapshot(cli.data_dir)
    res = cli("operator", "add", *BAD_ADDS[case])
    assert res.status == 2, (case, res.err)
    assert res.err.count("\n") == 1 and res.err.startswith("uso-tui: error: ")
    assert snapshot(cli.data_dir) == before


def test_private_key_file_is_refused_without_echoing_it(staffed, tmp_path):
    cli = staffed
    private = tmp_path / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    before = snapshot(cli.data_dir)
    res = cli("operator", "add", "carol", "--role", "desk", "--key-file", str(private))
    assert res.status == 2 and "b3BlbnNzaC1rZXkt" not in res.err
    assert snapshot(cli.data_dir) == before


def test_remove_unknown_operator_exits_2(staffed):
    before = snapshot(staffed.data_dir)
    assert staffed("operator", "remove", "zed").status == 2
    assert snapshot(staffed.data_dir) == before


def test_the_last_admin_is_not_removed(staffed):
    """With alice gone, nobody at the console could add a school, change a setting or an
    operator (only the data directory's owner, at a shell): the README's "remove, then add
    again" to change alice's role left the install without an admin."""
    before = snapshot(staffed.data_dir)
    res = staffed("operator", "remove", "alice", operator="alice")
    assert res.status == 2 and "last admin" in res.err and "add another admin first" in res.err
    assert snapshot(staffed.data_dir) == before
    staffed.ok("operator", "add", "carol", "--role", "admin", "--key", ssh_key(3), operator="alice")
    staffed.ok("operator", "remove", "alice", operator="carol")
    staffed.ok("operator", "remove", "bob", operator="carol")  # desk: as ever


def test_the_last_admin_who_can_log_in_is_not_removed(staffed):
    """An admin added with no key (a name for a shell on the server) counted as the other
    admin: alice, the one admin with a key, was removed, and no admin could reach the console."""
    staffed.ok("operator", "add", "dan", "--role", "admin", operator="alice")  # no key
    before = snapshot(staffed.data_dir)
    res = staffed("operator", "remove", "alice", operator="dan")
    assert res.status == 2 and "last admin with a key" in res.err
    assert snapshot(staffed.data_dir) == before
    staffed.ok("operator", "remove", "dan", operator="alice")  # a shell-only admin may go


def test_operators_prints_forced_command_lines(staffed):
    cli = staffed
    lines = cli.ok("operators").out.splitlines()
    assert len(lines) == 2
    data_dir = str(cli.data_dir.resolve())
    for name, key, line in zip(("alice", "bob"), (ALICE_KEY, BOB_KEY), lines, strict=True):
        assert line.startswith('command="/')
        command, rest = line[len('command="') :].split('",', 1)
        script, *words = command.split()
        assert Path(script).is_absolute() and Path(script).name == "uso-tui"
        assert Path(script).is_file()
        assert words == ["--data-dir", data_dir, "console", "--as", name]
        assert rest == f"restrict,pty {key}"
    as_json = cli.ok("operators", "--json").json()
    assert [(e["operator"], e["line"]) for e in as_json] == [("alice", lines[0]), ("bob", lines[1])]


# -- roles: a desk operator is refused every admin action ----------------------------------------

ADMIN_COMMANDS = {
    "school add": [
        "school", "add", "204-3211", "--name", "Dale School", "--mis", "iSAMS",
        "--url", "https://dale.isams.cloud", "--client-id", "c", "--client-secret-env",
        "USO_TEST_SECRET",
    ],
    "school set name": ["school", "set", DFE, "--name", "Renamed"],
    "school set secret": ["school", "set", DFE, "--client-secret-env", "USO_TEST_SECRET"],
    "school set mis": [
        "school", "set", DFE, "--mis", "Ed:gen", "--url", "https://hill.edgen.cloud",
        "--client-secret-env", "USO_TEST_SECRET",
    ],
    "school set hold": ["school", "set", DFE, "--hold-percent", "50"],
    "operator add": ["operator", "add", "carol", "--role", "admin", "--key", ssh_key(5)],
    "operator remove": ["operator", "remove", "alice"],
    "operator list": ["operator", "list"],
    "operators": ["operators"],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ADMIN_COMMANDS))
def test_desk_operator_is_refused_admin_commands_and_nothing_is_written(staffed, case):
    cli = staffed
    before = snapshot(cli.data_dir)
    res = cli(*ADMIN_COMMANDS[case], operator="bob")
    assert res.status == 2, res.err
    assert "bob is a desk operator" in res.err and "needs the admin role" in res.err
    assert res.err.count("\n") == 1
    assert snapshot(cli.data_dir) == before


def test_admin_and_unlisted_shell_user_may_do_admin_commands(staffed):
    staffed.ok("school", "set", DFE, "--name", "Renamed", operator="alice")
    # the data directory's owner at the server (not in operators.json) is an admin
    staffed.ok("school", "set", DFE, "--name", "Renamed Again", operator="root")


def test_a_desk_operators_name_in_other_capitals_is_still_the_desk_operator(staffed):
    """`Bob` for the listed `bob` had the unlisted shell user's role (admin)."""
    before = snapshot(staffed.data_dir)
    res = staffed("school", "set", DFE, "--name", "Renamed", operator="Bob")
    assert res.status == 2 and "needs the admin role" in res.err
    assert snapshot(staffed.data_dir) == before


@pytest.mark.parametrize("name", ["\uff42\uff4f\uff42", "b\u034fob", "bob\ufe0f", "ＢＯＢ"])
def test_a_desk_operators_name_that_reads_the_same_is_the_desk_operator(staffed, name):
    """Full-width letters, an invisible joiner or a variation selector: a name that reads as
    bob was not listed, so the shell's (admin), and audited as another that looks like bob."""
    before = snapshot(staffed.data_dir)
    res = staffed("school", "set", DFE, "--name", "Renamed", operator=name)
    assert res.status == 2 and "needs the admin role" in res.err
    assert snapshot(staffed.data_dir) == before
    staffed.ok("exclusion", "add", DFE, "--forename", "Zed", "--surname", "Null", operator=name)
    (event,) = [
        e for e in staffed.ok("audit", DFE, "--json").json() if e["action"] == "exclusion_add"
    ]
    assert event["operator"] == "bob"


def test_a_listed_operator_in_other_capitals_is_audited_under_the_listed_name(staffed):
    """`--operator BOB` was audited as `BOB` beside `bob`: one person under two names."""
    staffed.ok("exclusion", "add", DFE, "--forename", "Zed", "--surname", "Null", operator="BOB")
    (event,) = [
        e for e in staffed.ok("audit", DFE, "--json").json() if e["action"] == "exclusion_add"
    ]
    assert event["operator"] == "bob"


def test_desk_operator_does_desk_work(staffed):
    cli = staffed
    made = cli.ok(
        "account", "add", DFE, "--role", "pupil", "--forename", "Amy", "--surname", "Jones",
        "--dob", "2015-04-02", "--json", operator="bob",
    ).json()  # fmt: skip
    cli.ok("exclusion", "add", DFE, "--forename", "Zed", "--surname", "Null", operator="bob")
    ex_id = str(cli.ok("exclusions", DFE, "--json").json()[0]["id"])
    cli.ok("exclusion", "remove", DFE, ex_id, operator="bob")
    events = cli.ok("audit", DFE, "--json").json()
    assert {(e["action"], e["operator"]) for e in events} >= {
        ("create", "bob"),
        ("exclusion_add", "bob"),
        ("exclusion_remove", "bob"),
    }
    assert any(e["subject"] == made["username"] for e in events)


def test_corrupt_operators_file_refuses_changes(staffed):
    cli = staffed
    (cli.data_dir / "operators.json").write_text('{"bob": {"role": "root"}}')
    before = snapshot(cli.data_dir)
    res = cli("school", "set", DFE, "--name", "X", operator="alice")
    assert res.status == 2 and "operators.json" in res.err
    assert snapshot(cli.data_dir) == before


@pytest.mark.parametrize("content", ["", "\n  \n"], ids=["empty", "blank"])
def test_an_emptied_operators_file_refuses_rather_than_making_everyone_an_admin(staffed, content):
    """operators.json emptied (a write cut short, `: > operators.json`) read as no operators:
    every name unlisted, so a desk operator's commands ran as an admin's."""
    cli = staffed
    (cli.data_dir / "operators.json").write_text(content)
    before = snapshot(cli.data_dir)
    res = cli("school", "set", DFE, "--name", "X", operator="bob")
    assert res.status == 2 and "operators.json is empty" in res.err
    assert snapshot(cli.data_dir) == before


HAND_EDITED = {
    # a second entry for bob, or a second role, took the last value: bob an admin
    "name twice": '{"alice": {"role": "admin"}, "bob": {"role": "desk"}, "bob": {"role": "admin"}}',
    "role twice": '{"alice": {"role": "admin"}, "bob": {"role": "desk", "role": "admin"}}',
    # sshd signs a key in as the first line listing it: bob's key opened alice's console
    "one key, two operators": json.dumps(
        {"alice": {"role": "admin", "keys": [ALICE_KEY, BOB_KEY]}, "bob": {"role": "desk", "keys": [BOB_KEY]}}
    ),
    # the schedule's own name: a person's force runs and decisions audited as the schedule's
    "the schedule's name": json.dumps(
        {"alice": {"role": "admin"}, "scheduler": {"role": "desk", "keys": [BOB_KEY]}}
    ),
}  # fmt: skip
REFUSED_FOR = {
    "one key, two operators": "listed for alice too",
    "the schedule's name": "'scheduler': the name of the product's own runs",
}


@pytest.mark.parametrize("case", sorted(HAND_EDITED))
def test_a_hand_edited_operators_file_that_would_loosen_a_role_is_refused(staffed, case):
    cli = staffed
    (cli.data_dir / "operators.json").write_text(HAND_EDITED[case])
    before = snapshot(cli.data_dir)
    res = cli("school", "set", DFE, "--name", "X", operator="bob")
    assert res.status == 2 and "operators.json" in res.err
    assert REFUSED_FOR.get(case, "twice") in res.err
    assert cli("operators").status == 2
    assert snapshot(cli.data_dir) == before


def test_an_operators_file_others_may_change_is_refused(staffed):
    """Restored from a backup as 0666: any user of the host could make themselves an admin."""
    cli = staffed
    path = cli.data_dir / "operators.json"
    path.chmod(0o666)
    res = cli("school", "set", DFE, "--name", "X", operator="alice")
    assert res.status == 2 and "can be changed by everyone (mode 666)" in res.err
    path.chmod(0o640)
    cli.ok("school", "set", DFE, "--name", "X", operator="alice")


def test_a_data_directory_others_may_read_is_made_owner_only(cli):
    """A data directory copied or restored without its modes (0755, a secret 0644): every user
    of the host could read the client secrets and every pupil's details."""
    cli.add_school(DFE)
    secret = next((cli.data_dir / "secrets").iterdir())
    for path in (cli.data_dir, cli.data_dir / "secrets"):
        path.chmod(0o755)
    secret.chmod(0o644)
    for folder in ("schools", "recent"):
        (cli.data_dir / folder).chmod(0o755)
    cli.ok("school", "show", DFE)
    assert stat.S_IMODE(cli.data_dir.stat().st_mode) == 0o755  # perhaps the user's own folder
    for folder in ("secrets", "schools", "recent"):
        assert stat.S_IMODE((cli.data_dir / folder).stat().st_mode) == 0o700, folder
    open_store(cli.data_dir).secret(DFE)  # read: made the owner's only
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_a_data_directory_with_a_backslash_is_kept_as_it_is_in_the_ssh_line(staffed, tmp_path):
    """sshd undoes only \\" in command="...": a doubled backslash reached the console as two."""
    from uso_tui.cli.operators import authorized_keys_line  # noqa: PLC0415

    line = authorized_keys_line("bob", BOB_KEY, tmp_path / 'we\\ird"dir')
    command = line[len('command="') : line.index('",restrict')]
    sshd_sees = command.replace('\\"', '"')  # what sshd's opt_dequote does
    assert f"'{tmp_path.resolve()}/we\\ird\"dir'" in sshd_sees


def test_an_operator_change_and_its_audit_event_are_written_together_or_not_at_all(
    staffed, monkeypatch
):
    """operators.json was replaced before the commit of its audit event: killed between the
    two, an admin was added (or removed) with no event, and the command could not be run again
    to write one ("already exists")."""
    from uso_tui.store import journal  # noqa: PLC0415

    cli = staffed
    store = open_store(cli.data_dir)
    before = (cli.data_dir / "operators.json").read_bytes()

    def killed(self):
        raise OSError("killed before the commit point")

    monkeypatch.setattr(journal.Commit, "apply", killed)
    with pytest.raises(OSError):
        add_operator(store, "carol", role="admin", operator="alice", now=NOW)
    with pytest.raises(OSError):
        remove_operator(store, "bob", operator="alice", now=NOW)
    assert (cli.data_dir / "operators.json").read_bytes() == before
    assert sorted(p.name for p in cli.data_dir.glob(".operators*")) == []
    monkeypatch.undo()
    add_operator(store, "carol", role="admin", operator="alice", now=NOW)
    assert "carol" in {o.name for o in list_operators(store, operator="alice")}
    assert [e.action for e in store.audit(None, subject="carol")] == ["operator_add"]


def test_without_operators_json_everyone_is_an_admin(cli):
    cli.add_school(DFE)
    assert not (cli.data_dir / "operators.json").exists()
    cli.ok("school", "set", DFE, "--name", "Renamed", operator="anyone")
    access = access_of(cli.data_dir, "anyone")
    assert access.role == "admin" and access.label() == ""


# -- roles in the actions layer -------------------------------------------------------------------


def test_actions_refuse_a_desk_operator_and_write_nothing(tmp_path):
    env = Env(tmp_path / "store")
    amy = iris_student("1", "Amy", "Jones", "2015-04-02")
    env.add_school(students=[amy])

    async def sync(operator: str):
        async with env.client() as client:
            return await run_school(
                env.store, DFE, now=NOW, client=client, trigger="cli", operator=operator
            )

    run = asyncio.run(sync("carol")).run
    add_operator(env.store, "alice", role="admin", keys=[ALICE_KEY], operator="root", now=NOW)
    add_operator(env.store, "bob", role="desk", operator="alice", now=NOW)
    store = env.store
    refused = {
        "add_school": lambda: admin.add_school(
            store, dfe="204-3299", name="New", mis="iSAMS", url="https://new.isams.cloud",
            client_id="c", secret=SECRET, operator="bob", now=NOW,
        ),
        "update_school": lambda: admin.update_school(
            store, DFE, operator="bob", now=NOW, name="Renamed"
        ),
        "update_secret": lambda: admin.update_school(
            store, DFE, operator="bob", now=NOW, secret="another-secret"
        ),
        "undo_run": lambda: undo_run(store, run.run_id, operator="bob", now=NOW),
        "add_operator": lambda: add_operator(
            store, "carol", role="admin", keys=[ssh_key(9)], operator="bob", now=NOW
        ),
        "remove_operator": lambda: remove_operator(store, "alice", operator="bob", now=NOW),
        "list_operators": lambda: list_operators(store, operator="bob"),
    }  # fmt: skip
    for what, act in refused.items():
        before = snapshot(store.root)
        with pytest.raises(AccessDenied, match="needs the admin role"):
            act()
        assert snapshot(store.root) == before, what
    # a desk operator force-runs; the run and its audit events name them
    assert asyncio.run(sync("bob")).run.operator == "bob"
    # and the admin may do what the desk may not
    admin.update_school(store, DFE, operator="alice", now=NOW, name="Renamed")
    undo_run(store, run.run_id, operator="alice", now=NOW)


def test_require_names_the_role_needed(tmp_path):
    store = open_store(tmp_path / "s")
    add_operator(store, "bob", role="desk", operator="root", now=NOW)
    assert require(store, "bob", "restore").role == "desk"
    with pytest.raises(AccessDenied) as err:
        require(store, "bob", "undo_run")
    assert str(err.value) == "bob is a desk operator: undoing a run needs the admin role"
    with pytest.raises(ValueError):
        require(store, "bob", "no_such_action")


# -- console --as --------------------------------------------------------------------------------


@pytest.fixture
def fake_console(monkeypatch):
    """run_console replaced: records who the console would be for and acts as them."""
    seen: dict = {}

    def run_console(store, *, operator=None):
        seen["operator"] = operator
        admin.add_account(
            store, DFE, role="pupil", forename="Cal", surname="Moss", dob="2014-01-01",
            operator=operator, now=NOW,
        )  # fmt: skip
        return 0

    monkeypatch.setattr("uso_tui.tui.app.run_console", run_console)
    return seen


def test_as_wins_over_operator_and_audit_events_carry_the_forced_name(staffed, fake_console):
    cli = staffed
    cli.ok("console", "--as", "bob", operator="mallory")
    assert fake_console["operator"] == "bob"
    created = [e for e in cli.ok("audit", DFE, "--json").json() if e["action"] == "create"]
    assert [e["operator"] for e in created] == ["bob"]


@pytest.mark.parametrize("claimed", ["scheduler", "", "s\u0441heduler", "a\tb"])
def test_as_ignores_operator_even_one_that_would_be_refused(staffed, fake_console, claimed):
    # DESIGN 7: --operator is ignored where the forced command names the operator
    staffed.ok("console", "--as", "bob", operator=claimed)
    assert fake_console["operator"] == "bob"


@pytest.mark.parametrize("name", ["zed", "Bob", "bob;sh"])
def test_as_refuses_a_name_not_in_operators_json(staffed, fake_console, name):
    before = snapshot(staffed.data_dir)
    res = staffed("console", "--as", name)
    assert res.status == 2 and "operator" in res.err
    assert fake_console == {} and snapshot(staffed.data_dir) == before


def test_as_refused_without_operators_json(cli, fake_console):
    cli.add_school(DFE)
    res = cli("console", "--as", "bob")
    assert res.status == 2 and "operators.json" in res.err and fake_console == {}


def test_commands_over_ssh_are_refused(staffed, fake_console, monkeypatch):
    monkeypatch.setenv("SSH_ORIGINAL_COMMAND", "uso-tui school set 204-3210 --name X")
    res = staffed("console", "--as", "bob")
    assert res.status == 2 and "not run over SSH" in res.err and fake_console == {}


# -- the console shows who it is and greys what the role may not do ------------------------------


def _console_store(tmp_path):
    store = open_store(tmp_path / "console")
    admin.add_school(
        store, dfe=DFE, name="Hill School", mis="iSAMS", url="https://hill.isams.cloud",
        client_id="c", secret=SECRET, operator="root", now=NOW,
    )  # fmt: skip
    add_operator(store, "alice", role="admin", operator="root", now=NOW)
    add_operator(store, "bob", role="desk", operator="root", now=NOW)
    return store


@pytest.mark.parametrize("who", ["bob", "alice"])
async def test_console_names_the_operator_and_greys_settings_for_the_desk(tmp_path, who):
    from textual.widgets import Input, Static
    from tui_helpers import press, settle

    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    app = UsoApp(store, operator=who, clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        role = "desk" if who == "bob" else "admin"
        assert title.startswith(f"{who} ({role})")
        assert app.screen.check_action("add_school", ()) is (None if who == "bob" else True)
        app.open_screen("settings", DFE)
        await settle(pilot)
        screen = app.screen
        name_box = screen.query_one("#f-name", Input)
        assert name_box.disabled is (who == "bob")
        expect = None if who == "bob" else True
        assert screen.check_action("save", ()) is expect
        assert screen.check_action("change_mis", ()) is expect
        before = snapshot(store.root)
        await press(pilot, "ctrl+s")
        if who == "bob":
            assert snapshot(store.root) == before
            assert "needs the admin role" in str(screen.query_one("#status", Static).render())
            app.open_screen("history", DFE)
            await settle(pilot)
            assert app.screen.check_action("undo_run", ()) is None


async def test_a_key_the_role_may_not_use_says_so_when_pressed(tmp_path):
    """A desk operator's `n` (add school) and `U` (undo a run) are greyed in the footer; pressed,
    each says it needs the admin role instead of doing nothing without a word."""
    from tui_helpers import press, settle

    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    said: list[str] = []
    app = UsoApp(store, operator="bob", clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify = lambda message, **kw: said.append(str(message))
        await settle(pilot)
        await press(pilot, "n")
        assert app.screen.kind == "schools"
        app.open_screen("history", DFE)
        await settle(pilot)
        await press(pilot, "U")
        assert app.screen.kind == "history"
        app.open_screen("settings", DFE)
        await settle(pilot)
        await press(pilot, "ctrl+s")
    assert any("Adding a school needs the admin role (bob (desk))" in line for line in said)
    assert any("Undoing a run needs the admin role" in line for line in said)
    assert any("Changing a school's settings needs the admin role" in line for line in said)


async def test_keys_typed_after_a_refused_key_are_dropped_not_taken_as_commands(tmp_path):
    """A desk operator types `n` and the new school's details in one go: `n` is refused, and
    the `a` of "Oakfield" opened the audit log (`f` `y` after a refused key force-ran the
    school highlighted). The keys after the refusal are dropped, and the operator told."""
    from tui_helpers import burst, settle

    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    said: list[str] = []
    app = UsoApp(store, operator="bob", clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify = lambda message, **kw: said.append(str(message))
        await settle(pilot)
        burst(app, "n", "O", "a", "k", "f", "y")
        await settle(pilot, 6)
        assert app.screen.kind == "schools"
        assert store.runs(DFE) == []
    assert any("Adding a school needs the admin role" in line for line in said)
    assert any("5 key(s) typed ahead were dropped" in line for line in said), said


async def test_a_console_of_an_operator_removed_since_it_opened_closes(tmp_path):
    """bob's console was open when an administrator removed him: it must not go on acting (a
    name no longer listed would count as the data directory's owner, an admin)."""
    from tui_helpers import settle

    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    app = UsoApp(store, operator="bob", clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.recheck_access()
        assert app.return_code is None  # still listed: nothing happens
        remove_operator(store, "bob", operator="alice", now=NOW)
        app.recheck_access()
        await settle(pilot)
    assert app.return_code == 1


async def test_an_operator_removed_while_the_console_is_open_is_refused_at_once(tmp_path):
    """Until the console looked at operators.json again (every 5 s), a name it no longer listed
    counted as the data directory's owner: bob, a desk operator just removed, passed the check
    of every action, an admin's too. A session opened by a listed operator stays one: what it
    asks of a name removed since is refused."""
    from tui_helpers import settle

    from uso_tui.sync.access import AccessDenied, require
    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    app = UsoApp(store, operator="bob", clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert require(store, "bob", "restore").role == "desk"
        remove_operator(store, "bob", operator="alice", now=NOW)
        for action in ("restore", "school_update"):
            with pytest.raises(AccessDenied, match="bob is no longer an operator"):
                require(store, "bob", action)
    # a name never listed is still the data directory's owner (cron, the administrator)
    assert require(store, "carol", "school_update").role == "admin"


def test_a_console_closed_for_an_operator_removed_meanwhile_exits_1(tmp_path, monkeypatch):
    """The console said "bob is no longer an operator ... the console has closed" and the
    process exited 0, as if the session had ended as it should."""
    import uso_tui.tui.app as app_module
    import uso_tui.tui.terminal_input as terminal_input

    store = _console_store(tmp_path)

    async def remove_bob(pilot) -> None:
        await pilot.pause()
        remove_operator(store, "bob", operator="alice", now=NOW)
        pilot.app.recheck_access()
        await pilot.pause()

    def run_headless(app) -> None:
        asyncio.run(app.run_async(headless=True, size=(80, 24), auto_pilot=remove_bob))

    monkeypatch.setattr(app_module, "check_terminal", lambda: None)
    monkeypatch.setattr(terminal_input, "install", lambda: None)
    monkeypatch.setattr(app_module.UsoApp, "run", run_headless)
    assert app_module.run_console(store, operator="bob") == 1


async def test_a_role_changed_while_the_console_is_open_takes_effect(tmp_path):
    from tui_helpers import settle

    from uso_tui.tui.app import UsoApp

    store = _console_store(tmp_path)
    app = UsoApp(store, operator="alice", clock=lambda: NOW, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.may("undo_run")
        add_operator(store, "carol", role="admin", operator="root", now=NOW)  # (not the last)
        remove_operator(store, "alice", operator="root", now=NOW)
        add_operator(store, "alice", role="desk", operator="root", now=NOW)
        app.recheck_access()
        await settle(pilot)
        assert not app.may("undo_run") and app.return_code is None


def test_scheduler_is_no_operator_s_name(tmp_path):
    # the daily runs are the scheduler's in the audit log: an operator of that name would pass
    # for them
    store = _console_store(tmp_path)
    with pytest.raises(InvalidInput, match="own runs"):
        add_operator(store, "scheduler", role="desk", operator="alice", now=NOW)


def test_the_console_can_be_given_the_schools_time_zone_in_its_ssh_line(staffed):
    """On a UTC host the console stamped runs an hour off run-due's (in TZ=Europe/London)
    all summer, and its today was yesterday until 01:00: nothing set the zone for logins."""
    import shlex  # noqa: PLC0415

    cli = staffed
    lines = cli.ok("operators", "--tz", "Europe/London").out.splitlines()
    assert lines and all(line.startswith('command="TZ=Europe/London /') for line in lines)
    command = lines[0][len('command="') : lines[0].index('",restrict')]
    assert shlex.split(command)[0] == "TZ=Europe/London"  # an assignment for the shell
    res = cli("operators", "--tz", "Europe/Londn")
    assert res.status == 2 and "no such time zone" in res.err
    assert not any("TZ=" in line for line in cli.ok("operators").out.splitlines())


def test_no_one_acts_under_the_schedules_name(staffed):
    """`--operator scheduler` labelled a person's changes and force runs as the daily schedule's
    in the audit log; it names only the schedule's own commands now."""
    before = snapshot(staffed.data_dir)
    for name in ("scheduler", "Scheduler", "\uff53cheduler"):  # (full-width letters)
        res = staffed("school", "set", DFE, "--name", "Renamed", operator=name)
        assert res.status == 2 and "names the daily schedule's runs" in res.err
    # an invisible joiner or a variation selector between its letters
    for name in ("sche\u034fduler", "schedule\ufe00r"):
        res = staffed("school", "set", DFE, "--name", "Renamed", operator=name)
        assert res.status == 2 and "names the daily schedule's runs" in res.err
    # look-alike letters of other alphabets: a Cyrillic "с" in Latin letters, Lisu "ꓢ", a
    # name of Cyrillic and Armenian letters alone (`ѕсһеԁսӏег`)
    for name, said in (
        ("s\u0441heduler", "mixes Cyrillic and Latin letters"),
        ("\ua4e2cheduler", "mixes Latin and Lisu letters"),
        ("\u0455\u0441\u04bb\u0435\u0501\u057d\u04cf\u0435\u0433", "mixes Armenian and Cyrillic"),
    ):
        res = staffed("school", "set", DFE, "--name", "Renamed", operator=name)
        assert res.status == 2 and said in res.err, res.err
    assert snapshot(staffed.data_dir) == before
    staffed.ok("school", "set", DFE, "--name", "Renamed", operator="Zoë Müller")
    staffed.ok("school", "set", DFE, "--name", "Hill", operator="Анна")  # one alphabet
    staffed.ok("run-due", "--json", operator="scheduler")  # (nothing due yet: its own name)
