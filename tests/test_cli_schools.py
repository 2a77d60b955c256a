"""`school add|list|show|set` through main(argv): output shapes, secrets, and bad input that exits
2 and writes nothing."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import SECRET, files_containing, school_add_args, snapshot

from uso_tui.store import open_store

DFE = "204-3210"


@pytest.fixture
def one_school(cli):
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    return cli


def test_add_list_show_human(one_school):
    cli = one_school
    out = cli.ok("school", "list").out.splitlines()
    assert out[0].split() == [
        "DfE",
        "Name",
        "MIS",
        "Reports",
        "Daily",
        "Last",
        "run",
        "Cases",
        "Unalloc",
        "Active",
    ]
    assert out[1].startswith(f"{DFE}  Hill School  iSAMS  staff,students  06:00")
    # Columns line up: every row as wide as the header's start of the "Cases" column.
    assert out[0].index("Name") == out[1].index("Hill")
    show = cli.ok("school", "show", DFE).out
    assert "Client Secret:" in show and "set" in show
    assert "MIS URL:" in show and "https://hill.isams.cloud" in show
    assert "Not supported for IRIS:" in show and "Groups & Classes" in show
    assert SECRET not in show


def test_add_json_and_show_json(cli):
    res = cli.add_school(
        DFE,
        name="Hill School",
        url="https://hill.isams.cloud",
        extra=("--reports", "students", "--daily-at", "05:30", "--json"),
    )
    added = res.json()
    assert added["dfe"] == DFE and added["reports"] == ["students"]
    assert added["daily_at"] == "05:30" and added["client_secret"] == "set"
    shown = cli.ok("school", "show", DFE, "--json").json()
    assert shown["mis"] == "iSAMS" and shown["url"] == "https://hill.isams.cloud"
    assert shown["client_id"] == "client-" + DFE and shown["la"] == "204"
    assert shown["client_secret"] == "set"
    listed = cli.ok("school", "list", "--json").json()
    assert [s["dfe"] for s in listed] == [DFE]
    assert all(SECRET not in r for r in (res.out, res.err))


def test_secret_only_in_its_own_file(cli, tmp_path, monkeypatch):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    res = cli.ok(
        *school_add_args(
            DFE,
            name="Hill",
            mis="isams",
            url="https://hill.isams.cloud",
            client_id="abc",
            secret=("--client-secret-file", str(secret_file)),
        ),
        "--json",
    )
    assert SECRET not in res.out + res.err
    for argv in (
        ["school", "show", DFE, "--json"],
        ["school", "list", "--json"],
        ["school", "show", DFE],
        ["audit", "--json"],
        ["audit", DFE],
    ):
        res = cli.ok(*argv)
        assert SECRET not in res.out + res.err
    assert files_containing(cli.data_dir, SECRET) == [f"secrets/{DFE}.secret"]
    assert open_store(cli.data_dir).secret(DFE) == SECRET  # newline stripped
    mode = (cli.data_dir / "secrets" / f"{DFE}.secret").stat().st_mode & 0o777
    assert mode == 0o600


def test_secret_from_stdin_and_replaced_by_set(cli):
    res = cli(
        *school_add_args(
            DFE,
            name="Hill",
            url="https://hill.isams.cloud",
            client_id="abc",
            secret=("--client-secret", "-"),
        ),
        stdin=SECRET + "\n",
    )
    assert res.status == 0, res.err
    store = open_store(cli.data_dir)
    assert store.secret(DFE) == SECRET
    new = "another-S3cret-55"
    res = cli("school", "set", DFE, "--client-secret", "-", stdin=new)
    assert res.status == 0 and "client secret" in res.out
    assert store.secret(DFE) == new
    events = cli.ok("audit", DFE, "--json").json()
    assert events[0]["action"] == "school_update"
    assert events[0]["after"] == {"client_secret": "replaced"}
    assert files_containing(cli.data_dir, new) == [f"secrets/{DFE}.secret"]
    assert files_containing(cli.data_dir, SECRET) == []


def test_set_says_what_changed_and_nothing_when_nothing_did(one_school):
    """`school set` printed every setting given as updated, changed or not."""
    cli = one_school
    res = cli.ok("school", "set", DFE, "--name", "Hill School", "--daily-at", "07:15")
    assert res.out.strip() == f"updated {DFE}: daily at"
    res = cli.ok("school", "set", DFE, "--name", "Hill School")
    assert res.out.strip() == f"nothing changed: {DFE} already has those settings"


def test_moving_a_school_to_another_server_needs_that_servers_secret(one_school):
    """The stored secret is sent only to the server it was given for: an admin who cannot read
    it must not have it sent to a host of theirs by changing the URL."""
    cli = one_school
    res = cli("school", "set", DFE, "--url", "https://other.isams.cloud")
    assert res.status == 2 and "needs that server's Client Secret" in res.err
    assert "https://hill.isams.cloud:443" in res.err
    assert cli.ok("school", "show", DFE, "--json").json()["url"] == "https://hill.isams.cloud"
    # the same server written otherwise keeps the secret (kept as https://hill.isams.cloud);
    # another server with its secret is saved
    cli.ok("school", "set", DFE, "--url", "HTTPS://HILL.isams.cloud:443/")
    assert cli.ok("school", "show", DFE, "--json").json()["url"] == "https://hill.isams.cloud"
    cli.ok(
        "school",
        "set",
        DFE,
        "--url",
        "https://other.isams.cloud",
        "--client-secret-env",
        "USO_TEST_SECRET",
    )
    assert cli.ok("school", "show", DFE, "--json").json()["url"] == "https://other.isams.cloud"


def test_set_changes_settings_and_audits_only_changes(one_school):
    cli = one_school
    res = cli.ok(
        "school",
        "set",
        DFE,
        "--name",
        "Hill Academy",
        "--daily-at",
        "07:15",
        "--hold-percent",
        "25",
        "--hold-min",
        "4",
        "--create-before-start-days",
        "7",
        "--reports",
        "staff",
        "--json",
    )
    data = res.json()
    assert data["name"] == "Hill Academy" and data["daily_at"] == "07:15"
    assert data["hold_percent"] == 25.0 and data["hold_min"] == 4
    assert data["create_before_start_days"] == 7 and data["reports"] == ["staff"]
    ev = cli.ok("audit", DFE, "--json").json()[0]
    assert ev["action"] == "school_update" and ev["operator"] == "alice"
    assert ev["before"]["name"] == "Hill School" and ev["after"]["name"] == "Hill Academy"
    assert "url" not in ev["after"]
    # Change MIS together with a URL on the new MIS's domain.
    res = cli("school", "set", DFE, "--mis", "Ed:gen", "--url", "https://hill.edgen.cloud")
    assert res.status == 2 and "needs the new Client Secret" in res.err
    res = cli.ok(
        "school",
        "set",
        DFE,
        "--mis",
        "Ed:gen",
        "--url",
        "https://hill.edgen.cloud",
        "--client-secret-env",
        "USO_TEST_SECRET",
    )
    assert "mis" in res.out and "url" in res.out and "client secret" in res.out
    assert cli.ok("school", "show", DFE, "--json").json()["mis"] == "Ed:gen"


def test_allowed_host_from_environment_and_config(cli, monkeypatch):
    url = f"http://127.0.0.1:8765/{DFE}"
    res = cli(*school_add_args(DFE, name="Sim", url=url))
    assert res.status == 2 and "not allowed" in res.err
    assert not cli.data_dir.exists()  # bad input on a fresh machine leaves no store behind
    monkeypatch.setenv("USO_TUI_ALLOWED_MIS_HOSTS", "127.0.0.1:8765")
    res = cli(*school_add_args(DFE, name="Sim", url=url))
    assert res.status == 0, res.err
    monkeypatch.delenv("USO_TUI_ALLOWED_MIS_HOSTS")
    store = open_store(cli.data_dir)
    store.set_allowed_mis_hosts(["127.0.0.1:9999"])
    res = cli(
        *school_add_args(
            "204-3211", name="Sim2", mis="Ed:gen", url="http://127.0.0.1:9999/204-3211"
        )
    )
    assert res.status == 0, res.err


def test_the_first_school_add_reads_the_hosts_config_json_allows(cli):
    # An admin writes config.json into the new data directory first, as the README says.
    cli.data_dir.mkdir(parents=True)
    (cli.data_dir / "config.json").write_text('{"allowed_mis_hosts": ["127.0.0.1:8765"]}')
    res = cli(*school_add_args(DFE, name="Sim", url=f"http://127.0.0.1:8765/{DFE}"))
    assert res.status == 0, res.err


def _add(
    dfe=DFE,
    *,
    name="Other",
    mis="iSAMS",
    url="https://other.isams.cloud",
    secret=("--client-secret-env", "USO_TEST_SECRET"),
    extra=(),
):
    return [
        *school_add_args(dfe, name=name, mis=mis, url=url, client_id="cid", secret=secret),
        *extra,
    ]


BAD_INPUT = [
    ("malformed dfe", _add("2043210"), "malformed DfE number"),
    ("malformed dfe letters", _add("ABC-1234"), "malformed DfE number"),
    ("unknown mis", _add("204-3299", mis="SIMS"), "unknown MIS"),
    ("plain http", _add("204-3299", url="http://other.isams.cloud"), "https"),
    ("host not allowed", _add("204-3299", url="https://evil.example.com"), "not allowed"),
    ("host of other mis", _add("204-3299", url="https://x.edgen.cloud"), "does not match MIS"),
    ("bad time", _add("204-3299", extra=("--daily-at", "25:00")), "bad time"),
    ("bad time format", _add("204-3299", extra=("--daily-at", "6am")), "bad time"),
    ("unsupported report", _add("204-3299", extra=("--reports", "contacts")), "not supported"),
    ("duplicate school", _add(DFE), "already exists"),
    ("empty name", _add("204-3299", name="  "), "school name is empty"),
    (
        "unset secret env",
        _add("204-3299", secret=("--client-secret-env", "NO_SUCH_VAR_X")),
        "NO_SUCH_VAR_X is unset or empty",
    ),
    (
        "empty secret env",
        _add("204-3299", secret=("--client-secret-env", "USO_EMPTY")),
        "USO_EMPTY is unset or empty",
    ),
    ("empty subject", ["audit", "--subject", " "], "--subject is empty"),
    (
        # a word for a secret: refused in words of its own, none of them hidden as it
        "short-secret",
        _add("204-3299", secret=("--client-secret-env", "USO_SHORT")),
        "the client secret from environment variable USO_SHORT is shorter than 8 characters",
    ),
    (
        "missing secret file",
        _add("204-3299", secret=("--client-secret-file", "/nonexistent/s")),
        "cannot read the client secret from file /nonexistent/s",
    ),
    (
        "secret option missing",
        school_add_args("204-3299", name="X", url="https://x.isams.cloud", secret=()),
        "one of the arguments --client-secret-env --client-secret-file --client-secret is required",
    ),
    (
        "two secret options",
        _add("204-3299", secret=("--client-secret-env", "A", "--client-secret-file", "B")),
        "not allowed with",
    ),
    ("unknown school show", ["school", "show", "204-9999"], "unknown school"),
    ("unknown school set", ["school", "set", "204-9999", "--name", "X"], "unknown school"),
    ("set nothing", ["school", "set", DFE], "nothing to change"),
    (
        "set mis without matching url",
        ["school", "set", DFE, "--mis", "Ed:gen"],
        "does not match MIS",
    ),
    ("set bad percent", ["school", "set", DFE, "--hold-percent", "150"], "bad hold percent"),
    # int() and float() take these; nobody types them for a threshold
    ("set underscored minimum", ["school", "set", DFE, "--hold-min", "1_000"], "bad hold minimum"),
    ("set arabic-indic digit", ["school", "set", DFE, "--hold-min", "\u0663"], "bad hold minimum"),
    ("set infinite percent", ["school", "set", DFE, "--hold-percent", "inf"], "bad hold percent"),
    ("set bad hold min", ["school", "set", DFE, "--hold-min", "x"], "bad hold minimum"),
    (
        "set bad days",
        ["school", "set", DFE, "--create-before-start-days", "-1"],
        "create-before-start days",
    ),
    ("set malformed dfe", ["school", "set", "12", "--name", "X"], "malformed DfE number"),
    ("missing required option", ["school", "add", "204-3299", "--name", "X"], "required"),
    ("unknown command", ["frobnicate"], "invalid choice"),
    ("unknown option", ["school", "list", "--colour"], "unrecognized arguments"),
]


@pytest.mark.parametrize(
    ("argv", "message"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_exits_2_and_writes_nothing(one_school, monkeypatch, argv, message):
    cli = one_school
    monkeypatch.setenv("USO_EMPTY", "")
    monkeypatch.setenv("USO_SHORT", "secret")
    before = snapshot(cli.data_dir)
    res = cli(*argv)
    assert res.status == 2
    assert res.out == ""
    assert res.err.count("\n") == 1 and res.err.startswith("uso-tui")
    assert message in res.err
    assert snapshot(cli.data_dir) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["--client-secret", SECRET],
        [f"--client-secret={SECRET}"],
        ["--client-secret", SECRET, "--json"],
    ],
)
def test_plain_secret_refused_and_never_echoed(one_school, argv):
    cli = one_school
    before = snapshot(cli.data_dir)
    for cmd in (_add("204-3299", secret=()), ["school", "set", DFE]):
        res = cli(*cmd, *argv)
        assert res.status == 2
        assert "--client-secret-env" in res.err and "--client-secret-file" in res.err
        assert SECRET not in res.out + res.err
        assert res.err.count("\n") == 1
    assert snapshot(cli.data_dir) == before


def test_stray_secret_word_not_echoed(one_school):
    res = one_school(*_add("204-3299"), "stray-" + SECRET)
    assert res.status == 2 and "unrecognized arguments" in res.err
    assert SECRET not in res.err


def test_unreadable_secret_file(one_school, tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    before = snapshot(one_school.data_dir)
    res = one_school(*_add("204-3299", secret=("--client-secret-file", str(folder))))
    assert res.status == 2 and "cannot read the client secret" in res.err
    empty = tmp_path / "empty"
    empty.write_text("\n")
    res = one_school(*_add("204-3299", secret=("--client-secret-file", str(empty))))
    assert res.status == 2 and "is empty" in res.err
    res = one_school(*_add("204-3299", secret=("--client-secret", "-")), stdin="")
    assert res.status == 2 and "from stdin is empty" in res.err
    assert snapshot(one_school.data_dir) == before


@pytest.mark.parametrize(
    "secret",
    ["abcd efgh ijkl", "Meadowbank Primary School"],
)
def test_a_secret_with_spaces_is_refused_in_both_ways_in(one_school, tmp_path, secret):
    """IRIS issues secrets without spaces: one with them is a school's name (or any words)
    typed into the secret field. Refused, never repeated, nothing added or changed."""
    before = snapshot(one_school.data_dir)
    res = one_school(*_add("204-3299", secret=("--client-secret", "-")), stdin=secret + "\n")
    assert res.status == 2 and "client secret contains spaces" in res.err
    assert secret not in res.err and secret not in res.out
    res = one_school("school", "set", DFE, "--client-secret", "-", stdin=secret + "\n")
    assert res.status == 2 and "client secret contains spaces" in res.err
    assert snapshot(one_school.data_dir) == before


def test_a_secret_file_saved_with_a_byte_order_mark_is_read_without_it(one_school, tmp_path):
    """Notepad saves UTF-8 with a byte-order mark (and CRLF): the secret is the line after it,
    not "not one line of printable ASCII text" for a file that shows exactly one."""
    path = tmp_path / "secret.txt"
    path.write_bytes(b"\xef\xbb\xbfbom-Secret-1234\r\n")
    res = one_school("school", "set", DFE, "--client-secret-file", str(path))
    assert res.status == 0, res.err
    assert open_store(one_school.data_dir).secret(DFE) == "bom-Secret-1234"


def test_reading_commands_never_create_a_store(cli):
    res = cli("school", "list")
    assert res.status == 2 and "no uso-tui store" in res.err  # bad input, not a failed run
    assert cli("sync", "204-3210").status == 2
    assert not cli.data_dir.exists()


def test_data_dir_from_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("USO_TEST_SECRET", SECRET)
    monkeypatch.setenv("USO_TUI_DATA_DIR", str(tmp_path / "envstore"))
    from uso_tui.cli.main import main

    status = main(_add("204-3210", url="https://hill.isams.cloud"))
    assert status == 0
    assert (tmp_path / "envstore" / "store.json").exists()
    capsys.readouterr()


def test_help_and_version(cli):
    res = cli("--help")
    assert res.status == 0 and "school" in res.out and "sync" in res.out
    res = cli("school", "add", "--help")
    assert res.status == 0 and "--client-secret-env" in res.out
    # what a script reads of sync and run-due: their exit statuses (no help said them)
    for command in ("sync", "run-due"):
        said = " ".join(cli(command, "--help").out.split())
        assert "Exit status:" in said and "3" in said and "held" in said
    assert "report held whole" in " ".join(cli("confirm", "--help").out.split())


def test_console_script_help_in_subprocess():
    exe = Path(sys.executable).with_name("uso-tui")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "uso_tui"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("USO_TUI")}
    done = subprocess.run([*cmd, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: uso-tui")
    assert "run-due" in done.stdout and "exclusion" in done.stdout


@pytest.mark.parametrize("option", ["--client-secret-env", "--client-secret-file"])
def test_secret_typed_in_place_of_a_name_is_not_echoed(one_school, option):
    before = snapshot(one_school.data_dir)
    res = one_school(*_add("204-3299", secret=(option, SECRET)))
    assert res.status == 2 and res.err.count("\n") == 1
    assert SECRET not in res.err and "secret" in res.err
    assert snapshot(one_school.data_dir) == before


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://hill.isams.cloud/?", "no credentials, query or fragment"),
        ("https://hill.isams.cloud#", "no credentials, query or fragment"),
        ("https://hill.isams.cloud/api", "no path after the host"),
    ],
)
def test_a_url_every_request_of_which_would_go_wrong_is_refused(one_school, url, said):
    """A bare `?` (an empty query) was kept with the URL, and a path on an IRIS host was kept:
    every run of the school then failed (`POST .../?/auth/connect/token: HTTP 404`)."""
    res = one_school("school", "set", DFE, "--url", url)
    assert res.status == 2 and said in res.err
    assert (
        one_school.ok("school", "show", DFE, "--json").json()["url"] == "https://hill.isams.cloud"
    )


def test_a_paused_school_is_passed_by_by_the_schedule_and_can_be_resumed(one_school):
    """A school added with a mistyped DfE number, or leaving the network, was run every day:
    `school set --paused yes` stops the schedule running it (a force run still does)."""
    from datetime import datetime

    from uso_tui.store import open_store
    from uso_tui.sync.schedule import due_schools

    cli = one_school
    two_days_on = datetime(2026, 9, 3, 7, 0)
    assert [s.dfe for s in due_schools(open_store(cli.data_dir), two_days_on)] == [DFE]
    res = cli("school", "set", DFE, "--paused", "maybe")
    assert res.status == 2 and "paused must be yes or no" in res.err
    assert "updated" in cli.ok("school", "set", DFE, "--paused", "yes").out
    shown = cli.ok("school", "show", DFE, "--json").json()
    assert shown["paused"] is True and shown["next_run"] is None
    assert "paused" in cli.ok("school", "show", DFE).out
    assert "paused" in cli.ok("school", "list").out
    assert due_schools(open_store(cli.data_dir), two_days_on) == []
    cli.ok("school", "set", DFE, "--paused", "no")
    assert cli.ok("school", "show", DFE, "--json").json()["paused"] is False


def test_changing_the_mis_of_a_school_with_accounts_says_to_test_it_first(one_school):
    """The URL or Client ID of a school with accounts changed with no word of them (only the
    safety hold of its next run caught the other MIS's export)."""
    cli = one_school
    assert "active account" not in cli.ok("school", "set", DFE, "--client-id", "c2").err
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    res = cli.ok("school", "set", DFE, "--client-id", "c3")
    assert f"{DFE} has 1 active account," in res.err and f"uso-tui school test {DFE}" in res.err
    assert "active account" not in cli.ok("school", "set", DFE, "--daily-at", "07:00").err
    res = cli.ok("school", "set", DFE, "--client-id", "c4", "--json")  # said with --json too
    assert f"{DFE} has 1 active account," in res.err and "held above the safety hold" in res.err


def test_a_url_stored_before_in_another_form_is_not_changed_by_the_same_url(one_school):
    """A URL stored as typed before (`https://Hill.isams.cloud:443`): the same URL given again
    was "updated: url", audited, with the warning to test the new settings."""
    import dataclasses

    from uso_tui.store import open_store

    cli = one_school
    store = open_store(cli.data_dir)
    with store.transaction("test") as txn:
        txn.put_school(dataclasses.replace(store.school(DFE), url="https://Hill.isams.cloud:443"))
    cli.add_account(DFE, "Ann", "Holt", "2014-01-01")
    res = cli.ok("school", "set", DFE, "--url", "https://hill.isams.cloud")
    assert "nothing changed" in res.out and "active account" not in res.err


def _shell(cli, line: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("uso-tui")
    cmd = str(exe) if exe.exists() else f"{sys.executable} -m uso_tui"
    env = {k: v for k, v in os.environ.items() if not k.startswith("USO_TUI")}
    base = f"{cmd} --data-dir {cli.data_dir} --operator alice"
    return subprocess.run(
        ["sh", "-c", line.format(uso=base)], capture_output=True, text=True, env=env, timeout=60
    )


def test_a_command_with_its_output_closed_does_its_work(one_school):
    """stdout closed (`>&-`): the change was made, then "unexpected AttributeError", exit 1."""
    done = _shell(one_school, "{uso} school set " + DFE + " --name 'Vale School' --json >&-")
    assert done.returncode == 0, done.stderr
    assert open_store(one_school.data_dir).school(DFE).name == "Vale School"


def test_a_secret_read_from_a_closed_stdin_is_refused_and_nothing_added(one_school):
    """stdin closed (`<&-`) for --client-secret -: "unexpected AttributeError", exit 1."""
    before = snapshot(one_school.data_dir)
    args = " ".join(
        _add("204-3299", secret=("--client-secret", "-"))
    )  # (every value a word: no quoting needed)
    done = _shell(one_school, "{uso} " + args + " <&-")
    assert done.returncode == 2, done.stderr
    assert "secret" in done.stderr.lower() and "unexpected" not in done.stderr
    assert snapshot(one_school.data_dir) == before


def test_a_command_that_makes_a_new_store_says_so(cli, tmp_path):
    """`operator add` on a mistyped --data-dir (or with USO_TUI_DATA_DIR forgotten) made a store
    of one operator there, exit 0, nothing said; reading commands refuse a folder without one."""
    res = cli.ok("operator", "add", "bob", "--role", "desk")
    assert f"a new uso-tui store was made at {cli.data_dir}" in res.err
    assert "made" not in cli.ok("operator", "add", "carol", "--role", "desk").err


@contextlib.contextmanager
def _lock_held(data_dir: Path, seconds: float):
    """The store's write lock held by another process for `seconds`."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, time\n"
            f"fd = os.open({str(data_dir / '.lock')!r}, os.O_RDWR)\n"
            f"fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep({seconds})\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.wait(timeout=10)


def test_a_write_kept_waiting_for_the_store_s_lock_says_so(one_school, monkeypatch):
    """Behind a stopped or hung process holding the store's lock, a write command waited for
    ever, nothing said (a script's log showed nothing); it says so once, then waits on."""
    import uso_tui.store.lock as lock

    monkeypatch.setattr(lock, "WAIT_NOTE_S", 0.2)
    with _lock_held(one_school.data_dir, 1.5):
        res = one_school.ok("school", "set", DFE, "--name", "Vale School")
    assert res.err.count("waiting for the store's lock") == 1
    assert open_store(one_school.data_dir).school(DFE).name == "Vale School"
    assert "waiting" not in one_school.ok("school", "set", DFE, "--name", "Hill School").err


def test_operator_add_with_a_bad_key_makes_no_store(cli):
    """The key was checked after the store was made for the operator: refused, an empty new
    store was left behind (the mistyped --data-dir a reading command refuses)."""
    res = cli("operator", "add", "bob", "--role", "desk", "--key", "ssh-rsa garbage")
    assert res.status == 2 and "made" not in res.err
    assert not (cli.data_dir / "store.json").exists()


def test_a_lock_wait_note_that_cannot_be_written_does_not_fail_the_write(one_school, monkeypatch):
    """The note written to a stderr whose reader had gone raised inside the store's lock: the
    command that would have waited and succeeded failed, nothing done."""
    import uso_tui.store.lock as lock
    from uso_tui.cli.context import Context

    def broken(self, message):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(Context, "note", broken)
    monkeypatch.setattr(lock, "WAIT_NOTE_S", 0.1)
    with _lock_held(one_school.data_dir, 0.8):
        one_school.ok("school", "set", DFE, "--name", "Vale School")
    assert open_store(one_school.data_dir).school(DFE).name == "Vale School"


def test_config_timezone_makes_every_command_keep_the_schools_time(one_school, monkeypatch):
    """Times are stored as wall-clock times in the writing process's TZ: from a UTC shell, an
    admin's force run was stamped an hour early all summer against the schedule's London times
    (the school ran again). config.json's `timezone` is every command's local time."""
    import json
    import time
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from uso_tui.cli.main import main

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    (one_school.data_dir / "config.json").write_text(json.dumps({"timezone": "Asia/Tokyo"}))
    args = ["--data-dir", str(one_school.data_dir), "--operator", "alice"]
    assert main([*args, "school", "set", DFE, "--name", "Vale School"]) == 0  # no clock given
    [event] = [
        e for e in open_store(one_school.data_dir).audit(limit=5) if e.action != "school_add"
    ][:1]
    stamped = datetime.fromisoformat(event.at)
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    assert abs((tokyo - stamped).total_seconds()) < 120, (event.at, tokyo)
    assert os.environ["TZ"] == "UTC"  # put back for the rest of this process
    (one_school.data_dir / "config.json").write_text(json.dumps({"timezone": "Mars/Olympus"}))
    res = one_school("school", "list")
    assert (
        res.status == 2 and 'timezone must be a time zone name such as "Europe/London"' in res.err
    )


@pytest.mark.parametrize(
    ("tz", "said"),
    [("UTC", "local time is UTC"), ("Bogus/Zone", "TZ='Bogus/Zone' names no time zone")],
)
def test_run_due_says_when_the_schools_zone_is_nowhere_set(one_school, monkeypatch, tz, said):
    """With no config.json timezone and a process on UTC (or a TZ the machine does not know,
    silently UTC), a school due at 06:00 runs at 07:00 all British summer: run-due says so."""
    import json
    import time

    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        res = one_school("run-due", "--at", "2026-07-01T05:00")
        assert res.status == 0 and said in res.err and '"timezone": "Europe/London"' in res.err
        (one_school.data_dir / "config.json").write_text(json.dumps({"timezone": "UTC"}))
        res = one_school("run-due", "--at", "2026-07-01T05:00")  # UTC meant: said so, no note
        assert res.status == 0 and "timezone" not in res.err
        monkeypatch.setenv("TZ", "Europe/London")
        time.tzset()
        (one_school.data_dir / "config.json").unlink()
        res = one_school("run-due", "--at", "2026-07-01T05:00")
        assert res.status == 0 and "timezone" not in res.err
    finally:
        monkeypatch.undo()
        time.tzset()
