"""The hand-overs (console, demo, iris-sim), the global options, and how failures are reported:
one line, exit 2 for bad input, 1 otherwise, a traceback only with USO_TUI_DEBUG=1."""

from __future__ import annotations

import sys

import pytest
from cli_support import SECRET, Cli, school_add_args

from uso_tui import config
from uso_tui.cli.main import main
from uso_tui.domain.models import Run
from uso_tui.store import open_store

DFE = "204-3210"


def test_no_command_opens_the_console_on_the_store(cli, monkeypatch):
    import uso_tui.tui.app as app

    opened = []
    monkeypatch.setattr(
        app, "run_console", lambda store, operator: opened.append((store.root, operator))
    )
    missing = cli()  # a mistyped --data-dir: no new store made there
    assert missing.status == 2 and "no such data directory" in missing.err
    assert not cli.data_dir.exists() and opened == []
    cli.data_dir.mkdir()
    assert cli().status == 0
    assert opened == [(cli.data_dir, "alice")]
    assert (cli.data_dir / "store.json").exists()  # a first start makes an empty store
    assert cli("console").status == 0 and len(opened) == 2


def test_demo_gets_only_an_explicit_data_dir(cli, capsys, monkeypatch, tmp_path):
    import uso_tui.cli.apps as apps

    calls = []
    monkeypatch.setattr(apps, "run_demo", lambda data_dir, operator: calls.append(data_dir))
    assert cli("demo").status == 0
    monkeypatch.setenv("USO_TUI_DATA_DIR", str(tmp_path / "configured"))
    assert main(["demo"]) == 0
    assert calls == [cli.data_dir, None]  # the configured store never gets demo schools


def test_a_second_demo_on_one_store_is_refused_while_the_first_is_open(
    cli_at, demo_template, monkeypatch, tmp_path
):
    """Each demo serves its own simulator and points the schools at it: a second one on the
    same store would leave the first one's runs failing to connect."""
    import shutil

    import uso_tui.tui.app as app

    path = tmp_path / "demo"
    shutil.copytree(demo_template, path)
    demo = cli_at(path)
    seconds = []
    monkeypatch.setattr(app, "check_terminal", lambda: None)
    monkeypatch.setattr(app, "run_console", lambda store, operator: seconds.append(demo("demo")))
    assert demo("demo").status == 0
    [second] = seconds
    assert second.status == 1 and second.out == "" and second.err.count("\n") == 1
    assert f"the demo at {path} is open in another terminal" in second.err
    monkeypatch.setattr(app, "run_console", lambda store, operator: seconds.append("opened"))
    assert demo("demo").status == 0 and seconds[-1] == "opened"  # closed: free again


def test_iris_sim_forwards_its_options(cli, monkeypatch):
    import uso_tui.iris.server as server

    seen = []
    monkeypatch.setattr(server, "main", lambda argv: seen.append(argv) or 0)
    assert cli("iris-sim", "--port", "9001", "--seed", "4", "--host", "0.0.0.0").status == 0
    assert seen == [["--host", "0.0.0.0", "--port", "9001", "--seed", "4"]]
    assert cli("iris-sim").status == 0 and seen[-1] == []


def test_operator_and_data_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(config.getpass, "getuser", lambda: "carol")
    assert config.resolve_operator(None) == "carol"
    assert config.resolve_operator(" dave ") == "dave"
    with pytest.raises(config.InvalidInput):
        config.resolve_operator("")
    with pytest.raises(config.InvalidInput):
        config.resolve_operator("a\x1bb")
    monkeypatch.setenv("USO_TUI_DATA_DIR", str(tmp_path / "env"))
    assert config.resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    assert config.resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("USO_TUI_DATA_DIR")
    assert config.resolve_data_dir(None) == config.default_data_dir()
    assert "uso-tui" in str(config.default_data_dir())


def test_a_data_directory_given_empty_is_refused_not_taken_as_the_default(cli, monkeypatch):
    # `--data-dir "$DIR"` with $DIR unset (a cron line) ran against the default store
    from uso_tui.cli.main import main

    assert main(["--data-dir", "", "school", "list"]) == 2
    assert "--data-dir is empty" in cli.capsys.readouterr().err
    monkeypatch.setenv("USO_TUI_DATA_DIR", "  ")
    assert main(["school", "list"]) == 2
    assert "USO_TUI_DATA_DIR is set but empty" in cli.capsys.readouterr().err


def test_login_name_is_the_default_operator(cli, monkeypatch):
    monkeypatch.setattr(config.getpass, "getuser", lambda: "carol")
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")  # as alice
    cli.ok("school", "set", DFE, "--name", "Hill Academy", operator=None)
    assert cli.ok("audit", "--json").json()[0]["operator"] == "carol"


def test_under_sudo_the_operator_is_who_ran_sudo(cli, monkeypatch):
    """README's admin commands run as `sudo -u uso uso-tui ...`: every change was audited as
    the service account, whoever made it."""
    monkeypatch.setattr(config.getpass, "getuser", lambda: "uso")
    monkeypatch.setenv("SUDO_USER", "bob")
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")  # as alice
    cli.ok("school", "set", DFE, "--name", "Hill Academy", operator=None)
    assert cli.ok("audit", "--json").json()[0]["operator"] == "bob"
    cli.ok("school", "set", DFE, "--name", "Hill High", operator="carol")  # --operator says
    assert cli.ok("audit", "--json").json()[0]["operator"] == "carol"


def test_bad_operator_exits_2(cli):
    res = cli("school", "list", operator="")
    assert res.status == 2 and "operator name is empty" in res.err


def test_run_in_progress_is_refused_naming_it(cli):
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    store = open_store(cli.data_dir)
    with store.transaction("scheduler") as tx:
        run_id = tx.next_run_id(DFE)
        tx.put_run(
            Run(
                run_id=run_id,
                school=DFE,
                trigger="schedule",
                operator="scheduler",
                reports=["students"],
                started_at="2026-09-01T06:00:03",
            )
        )
    res = cli("sync", DFE, "--json")
    # said on stderr in one line, and on stdout as the failed run object scripts read
    assert res.status == 1 and res.json()["run_in_progress"] == run_id
    assert res.json()["status"] == "failed" and res.json()["run_id"] is None
    assert res.err.count("\n") == 1
    assert run_id in res.err and "schedule" in res.err and "06:00:03" in res.err


def test_unexpected_errors_are_one_line_without_secret(cli, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError(f"disk said no\nwhile holding {SECRET} for \x1b[31mAmy\x1b]0;owned\x07")

    from uso_tui.sync import admin  # the command imports it when it runs

    monkeypatch.setattr(admin, "add_school", boom)
    argv = school_add_args(DFE, name="Hill", url="https://hill.isams.cloud")
    res = cli(*argv)
    said = [line for line in res.err.splitlines() if "a new uso-tui store was made" not in line]
    assert res.status == 1 and len(said) == 1
    assert "unexpected RuntimeError: disk said no" in res.err and "USO_TUI_DEBUG" in res.err
    assert SECRET not in res.err and "Traceback" not in res.err
    monkeypatch.setenv("USO_TUI_DEBUG", "1")
    res = cli(*argv)
    assert res.status == 1 and "Traceback" in res.err and SECRET not in res.err
    # (the name's terminal escapes shown, not obeyed: no colour, no window title set)
    assert "\x1b" not in res.err and "\x07" not in res.err and "\\x1b[31mAmy" in res.err


def test_os_errors_are_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = Cli(blocker / "data", cli.capsys)(
        *school_add_args(DFE, name="Hill", url="https://hill.isams.cloud")
    )
    assert res.status == 1 and res.err.count("\n") == 1 and "Not a directory" in res.err


def test_newer_store_is_refused(cli):
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    (cli.data_dir / "store.json").write_text('{"schema": 999}')
    res = cli("school", "list")
    assert res.status == 1 and "newer uso-tui" in res.err and res.err.count("\n") == 1


def test_json_flag_after_arguments_only_on_printing_commands(cli):
    cli.add_school(DFE, name="Hill School", url="https://hill.isams.cloud")
    assert cli("school", "list", "--json").status == 0
    res = cli("--json", "school", "list")
    assert res.status == 2 and "--json" in res.err


def test_scheduler_stops_on_sigterm(cli, tmp_path):
    import os
    import signal
    import subprocess
    import time

    open_store(cli.data_dir)  # no school: a pass touches no network whatever the real time
    env = {k: v for k, v in os.environ.items() if not k.startswith("USO_TUI")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uso_tui",
            "--data-dir",
            str(cli.data_dir),
            "scheduler",
            "--interval",
            "300",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        started = b""
        # Wait for the loop to be up (its first line), then ask it to stop as systemd would.
        while time.monotonic() < deadline and b"scheduler started" not in started:
            line = proc.stderr.readline()
            started += line.encode()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "scheduler stopped" in err


def test_iris_sim_usage_errors_and_help_return_a_status(cli):
    res = cli("iris-sim", "--schools", "0")
    assert res.status == 2 and "--schools" in res.err
    res = cli("iris-sim", "--help")
    assert res.status == 0 and "--latency" in res.out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--days", "100000000"], "--days must be from 0 to 3,650"),  # a date past 9999: crashed
        (["--size", "1000000000"], "--size must be from 2 to 20,000"),  # filled the memory
        (["--schools", "100000000"], "--schools must be from 1 to 5,000"),
        (["--latency", "-1"], "--latency must be from 0 to 60"),
        (["--latency", "nan"], "--latency must be from 0 to 60"),
        (["--latency", "1e308"], "--latency must be from 0 to 60"),  # no answer ever
        (["--max-page-size", "-5"], "--max-page-size must be from 1"),
        (["--schools", "many"], "invalid int value"),
    ],
)
def test_iris_sim_refuses_settings_it_cannot_serve_in_one_line(cli, monkeypatch, args, says):
    from uso_tui.iris import server

    monkeypatch.setattr(server, "serve", lambda *a, **k: pytest.fail("served"))
    res = cli("iris-sim", *args)
    assert res.status == 2 and says in res.err and res.err.count("\n") == 1, res.err
    assert res.err.startswith("uso-tui: error: iris-sim: ")


def test_the_console_without_a_terminal_says_so_rather_than_spin(cli, monkeypatch):
    # cron, `ssh -T` or a pipe: the console would wait on a closed input, busy, for ever.
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    cli.add_school(DFE)
    res = cli("console")
    assert res.status == 2 and "needs a terminal" in res.err and "ssh -t" in res.err


def test_root_is_refused_a_store_another_user_owns(cli, monkeypatch):
    # `sudo uso-tui ...` without -u: the files it wrote would be root's, and the scheduler and
    # the consoles (the store's owner) could no longer write them.
    import os

    cli.add_school(DFE)
    if os.geteuid() == 0:
        os.chown(cli.data_dir, 65534, 65534)
    else:
        monkeypatch.setattr(os, "geteuid", lambda: 0)
    before = sorted(p.name for p in cli.data_dir.rglob("*"))
    res = cli("sync", DFE)
    assert res.status == 2 and "belongs to" in res.err and "sudo -u" in res.err
    assert sorted(p.name for p in cli.data_dir.rglob("*")) == before


def test_output_is_utf8_whatever_the_locale_says(cli):
    # A Latin-1 locale stopped `--json` (and CSV, and tables) at the first name outside it.
    import json
    import os
    import subprocess

    cli.add_school(DFE)
    cli.ok(
        "account", "add", DFE, "--role", "pupil", "--forename", "Paweł", "--surname", "Øby",
        "--dob", "2015-04-02",
    )  # fmt: skip
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    for argv in (["accounts", "--json"], ["accounts", "--search", "Pawel"]):
        done = subprocess.run(
            [sys.executable, "-m", "uso_tui", "--data-dir", str(cli.data_dir), *argv],
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode("utf-8")
        assert "Paweł" in out
    assert json.loads(
        subprocess.run(
            [sys.executable, "-m", "uso_tui", "--data-dir", str(cli.data_dir), "accounts", "--json"],
            capture_output=True, env=env, timeout=60,
        ).stdout.decode("utf-8")
    )[0]["surname"] == "Øby"  # fmt: skip


def test_the_console_refuses_a_data_dir_from_the_environment_that_does_not_exist(
    tmp_path, monkeypatch
):
    import io

    import uso_tui.tui.app as app
    from uso_tui.cli.main import main

    monkeypatch.setenv("USO_TUI_DATA_DIR", str(tmp_path / "mistyped"))
    monkeypatch.setattr(app, "run_console", lambda store, operator: 0)
    err = io.StringIO()
    assert main([], stdout=io.StringIO(), stderr=err) == 2
    assert "no such data directory" in err.getvalue() and "USO_TUI_DATA_DIR" in err.getvalue()
    assert not (tmp_path / "mistyped").exists()


@pytest.mark.parametrize("interval", ["nan", "inf", "1e308", "0", "-5", "86401"])
def test_a_scheduler_interval_not_a_number_of_seconds_up_to_a_day_is_bad_usage(cli, interval):
    """`--interval nan` passed the check (`nan < 1` is false) and the loop ran passes back to
    back on a whole core; `inf` failed with an OverflowError after starting."""
    res = cli("scheduler", "--interval", interval)
    assert res.status == 2 and "--interval must be a number of seconds from 1 to" in res.err
    assert "scheduler started" not in res.err
