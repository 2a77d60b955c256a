"""A server that answers one byte a second, over a real socket, with short deadlines set in
config.json: the run fails within them naming the bound, changes nothing, and the school is free
to run again (DESIGN section 4)."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from datetime import datetime

import pytest
from cli_support import Cli, Clock

DFE = "204-3210"
PUPILS = [
    {"schoolId": f"P{i}", "forename": f"Amy{i}", "surname": "Smith", "dob": "2014-05-03"}
    for i in range(3)
]


class Iris(socketserver.ThreadingTCPServer):
    """Minimal IRIS over HTTP/1.1: a token at once; the students report either at once or
    trickled one byte a second (`trickle`)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.trickle = True
        self.closing = threading.Event()
        self.report_requests = 0


class _Handler(socketserver.StreamRequestHandler):
    server: Iris

    def handle(self) -> None:
        while not self.server.closing.is_set():
            head = self.rfile.readline()
            if not head:
                return
            length = 0
            while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            path = head.split()[1].decode()
            if path.startswith("/auth/connect/token"):
                body = json.dumps({"access_token": "t", "expires_in": 3600}).encode()
                slow = False
            else:
                self.server.report_requests += 1
                body = json.dumps(
                    {"students": PUPILS, "totalCount": 3, "totalPages": 1, "page": 1}
                ).encode()
                slow = self.server.trickle
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            try:
                for position in range(len(body)):
                    self.wfile.write(body[position : position + 1])
                    self.wfile.flush()
                    # The hostile server's own pace, not a wait of the test's.
                    if slow and self.server.closing.wait(1.0):
                        return
            except OSError:
                return  # the client gave up


@pytest.fixture
def iris():
    server = Iris()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


def test_trickling_server_fails_the_run_within_the_deadlines(tmp_path, capsys, monkeypatch, iris):
    host = f"127.0.0.1:{iris.server_address[1]}"
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "config.json").write_text(json.dumps({"request_deadline_s": 1, "report_deadline_s": 3}))
    monkeypatch.setenv("USO_TEST_SECRET", "s3cr3t-Trickle-0123")
    monkeypatch.setenv("USO_TUI_ALLOWED_MIS_HOSTS", host)
    cli = Cli(data, capsys, Clock(datetime(2026, 9, 1, 8, 0)))
    cli.add_school(DFE, url=f"http://{host}/")

    started = time.monotonic()
    res = cli("sync", DFE, "--report", "students", "--json")
    took = time.monotonic() - started

    assert res.status == 1, res.err
    out = res.json()
    assert out["status"] == "failed"
    assert "request_deadline_s" in out["error"] or "report_deadline_s" in out["error"]
    assert took < 3 + 2  # the report's deadline, with room for a loaded machine
    assert iris.report_requests >= 1
    assert cli.ok("accounts", DFE, "--json").json() == []  # nothing changed
    runs = cli.ok("runs", DFE, "--json").json()
    assert [r["status"] for r in runs] == ["failed"]
    assert cli.ok("school", "show", DFE, "--json").json()["last_run_status"] == "failed"

    # The school is free: the next run starts (no "run in progress") and, served well, succeeds.
    iris.trickle = False
    again = cli("sync", DFE, "--report", "students", "--json")
    assert again.status == 0, again.err
    assert again.json()["status"] == "succeeded" and again.json()["counts"]["created"] == 3
