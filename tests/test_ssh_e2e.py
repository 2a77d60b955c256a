"""End to end over a real OpenSSH server (issue 16): sshd on 127.0.0.1, started here as the current
user with its own host key and config, authorized_keys written from `uso-tui operators`. An
operator's key logs in with `ssh -tt` in a pty, lands in the console as that operator, force-runs
a school against the IRIS simulator, quits; the run's audit events name the operator.

Skipped where OpenSSH is not installed (CI installs it: .ci/run)."""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import pty
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from uso_tui.cli.main import main
from uso_tui.store import open_store

SSHD = shutil.which("sshd") or next(
    (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None
)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")
pytestmark = pytest.mark.skipif(
    not (SSHD and SSH and SSH_KEYGEN),
    reason="OpenSSH (sshd, ssh, ssh-keygen) is not installed: apt-get install openssh-server "
    "openssh-client",
)

TODAY = date(2026, 3, 9)
SETUP_AT = datetime(2026, 3, 9, 7, 0, 0)
TIMEOUT = 15.0
ANSI = re.compile(rb"\x1b\[[0-9;?<=>]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>78]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> object:
    """Polls the condition itself until it holds; fails naming it after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def keygen(path: Path, comment: str) -> str:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


def cli(*argv: str) -> str:
    out = io.StringIO()
    err = io.StringIO()
    status = main(list(argv), clock=lambda: SETUP_AT, stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    return out.getvalue()


@dataclass
class Server:
    port: int
    data: Path
    key: Path
    known_hosts: Path
    failed_school: str

    def ssh(self, *command: str) -> list[str]:
        return [
            SSH,
            "-F",
            "/dev/null",
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            f"{getpass.getuser()}@127.0.0.1",
            *command,
        ]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    from uso_tui.demo import build_demo_store, demo_params, make_demo_simulator
    from uso_tui.iris.server import start_background
    from uso_tui.sync.admin import update_school

    tmp = tmp_path_factory.mktemp("ssh")
    data = tmp / "data"
    # a small demo estate served by the simulator (this process), the store syncing from it
    params = {**demo_params(data, TODAY, 3), "schools": 2, "size": 30}
    sim = make_demo_simulator(**params)
    root, stop_sim = start_background(sim)
    demo = build_demo_store(data, sim=sim, root=root, today=TODAY, schools=2, size=30, churn_days=3)
    # the demo's failed school (listed first) gets its right secret: its force run creates accounts
    failed = demo.failed_school
    secret = next(s.secret for s in sim.estate.schools if s.dfe == failed)
    update_school(demo.store, failed, operator="root", now=SETUP_AT, secret=secret)

    key = tmp / "alice_key"
    keygen(key, "alice@test")
    base = ["--data-dir", str(data), "--operator", "root"]
    cli(*base, "operator", "add", "alice", "--role", "desk", "--key-file", f"{key}.pub")
    authorized = tmp / "authorized_keys"
    authorized.write_text(cli(*base, "operators"))
    authorized.chmod(0o600)

    host_key = tmp / "host_key"
    host_pub = keygen(host_key, "host")
    port = free_port()
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    config = tmp / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {tmp / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "StrictModes no",  # tmp_path's parents are not root-owned 0755
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    log = open(tmp / "sshd.log", "wb")  # noqa: SIM115 - closed below
    sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log, stdout=log)

    def listening() -> bool:
        if sshd.poll() is not None:
            raise AssertionError(f"sshd exited: {(tmp / 'sshd.log').read_text()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, "sshd to listen")
        yield Server(port, data, key, known, failed)
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)
        log.close()
        stop_sim()


class Terminal:
    """A process on a pty of its own (ssh -tt needs a terminal to be useful): what it writes is
    collected by a thread; `screen()` is that output without escape sequences."""

    def __init__(self, argv: list[str], cols: int = 120, rows: int = 36) -> None:
        import fcntl
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color"}
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the other side closed
                return
            if not chunk:
                return
            self.output += chunk

    def screen(self) -> str:
        return ANSI.sub(b"", bytes(self.output)).decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> None:
        def shown() -> bool:
            if self.proc.poll() is not None and text not in self.screen():
                raise AssertionError(f"ssh ended before {text!r} showed: {self.screen()[-2000:]}")
            return text in self.screen()

        try:
            wait_until(shown, repr(text), timeout)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; the screen so far ends: {self.screen()[-1500:]}"
            ) from None

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            os.close(self.master)
        self._reader.join(timeout=5)


def test_operator_logs_in_over_ssh_and_force_runs_as_themselves(server):
    store = open_store(server.data)
    term = Terminal(server.ssh("-tt"))
    try:
        # the console, as the operator the forced command names
        term.wait_for("alice (desk)")
        term.press(b"f")  # the first school: the one whose last run failed
        term.wait_for("Reports to run")
        term.press(b"y")

        def finished():
            runs = [r for r in store.runs(server.failed_school) if r.operator == "alice"]
            return runs[0] if runs and runs[0].status != "running" else None

        run = wait_until(finished, "alice's force run to end")
        term.press(b"\x11")  # ctrl+q
        # the console may not have seen its run thread end yet: then it asks first
        asked = "Quit while a run is going?"
        wait_until(
            lambda: term.proc.poll() is not None or asked in term.screen(), "the console to quit"
        )
        if term.proc.poll() is None:
            term.press(b"y")  # the run has ended in the store: nothing is left to cancel
            wait_until(lambda: term.proc.poll() is not None, "the console to quit")
    finally:
        term.close()
    assert term.proc.returncode == 0, term.screen()[-2000:]
    assert run.trigger == "force" and run.status == "succeeded", run
    events = [e for e in store.audit(run.school) if e.run_id == run.run_id]
    assert events, "the run changed nothing"
    assert {e.operator for e in events} == {"alice"}
    assert run.counts["created"] > 0


def test_a_command_over_ssh_is_refused(server):
    res = subprocess.run(
        server.ssh("uso-tui", "school", "set", server.failed_school, "--name", "X"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 2
    assert "commands are not run over SSH" in res.stderr
    assert open_store(server.data).school(server.failed_school).name != "X"
