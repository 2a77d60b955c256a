"""The demo: built once, reused with the simulator on another port, opened by run_demo."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

import uso_tui.tui.app as tui_app
from uso_tui.cli.apps import run_demo
from uso_tui.demo import build_demo_store
from uso_tui.store import open_store

TODAY = date(2026, 3, 9)


def test_build_then_reuse_follows_the_simulator_port(tmp_path):
    path = tmp_path / "demo"
    first = build_demo_store(path, root="http://127.0.0.1:8765", today=TODAY)
    schools = first.store.list_schools()
    assert len(schools) >= 6
    assert {s.la for s in schools} == {"204", "205"}
    ran = [s for s in schools if s.last_run_status == "succeeded"]
    assert len(ran) == len(schools) - 1  # every school synced once, but the wrong-secret one
    assert first.store.school(first.failed_school).last_run_status == "failed"
    accounts = first.store.school_accounts(ran[0].dfe)
    again = build_demo_store(path, root="http://127.0.0.1:9999", today=TODAY)
    assert {s.dfe for s in again.store.list_schools()} == {s.dfe for s in schools}
    assert all(s.url == f"http://127.0.0.1:9999/{s.dfe}" for s in again.store.list_schools())
    assert "127.0.0.1:9999" in again.store.allowed_mis_hosts()
    # reusing syncs nothing again
    assert len(again.store.school_accounts(ran[0].dfe)) == len(accounts)
    assert len(again.store.runs(ran[0].dfe)) == 1


def test_a_demo_store_made_by_an_older_uso_tui_is_upgraded_not_refused(tmp_path):
    path = tmp_path / "demo"
    first = build_demo_store(path, root="http://127.0.0.1:8765", today=TODAY)
    schools = {s.dfe for s in first.store.list_schools()}
    (path / "store.json").write_text('{"schema": 4}')  # as an older uso-tui left it
    again = build_demo_store(path, root="http://127.0.0.1:8765", today=TODAY)
    assert {s.dfe for s in again.store.list_schools()} == schools
    assert {s.dfe for s in open_store(path).list_schools()} == schools  # this version's now


def test_run_demo_serves_the_simulator_and_opens_the_console(tmp_path, monkeypatch):
    seen = {}

    def fake_console(store, operator=None):
        school = store.list_schools()[0]
        seen["url"] = school.url
        # the simulator answers on the URL the school was given
        token = httpx.post(
            f"{school.url}/auth/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "x",
                "client_secret": "y",
                "scope": "restapi",
            },
        )
        seen["status"] = token.status_code
        return 0

    monkeypatch.setattr(tui_app, "run_console", fake_console)
    monkeypatch.setattr(tui_app, "check_terminal", lambda: None)
    assert run_demo(tmp_path / "demo", operator="newcomer") == 0
    assert seen["url"].startswith("http://127.0.0.1:")
    assert seen["status"] in (400, 401)  # wrong credentials, but a real IRIS-like answer
    with pytest.raises(httpx.TransportError):
        httpx.get(seen["url"], timeout=2)  # stopped when the console closed


def _files(path) -> dict:
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_the_demo_refuses_a_store_that_is_not_a_demo_s(tmp_path, monkeypatch):
    """`--data-dir` of the live store given to `demo` by mistake: eight demo schools, a
    thousand fake accounts and the demo's MIS host went into it (by a desk operator too), then
    the console was refused for want of a terminal. Refused before anything is written."""
    from uso_tui.domain.errors import InvalidInput

    live = tmp_path / "live"
    store = open_store(live, create=True)
    store.set_allowed_mis_hosts(["testserver.local:9000"])
    before = _files(live)
    monkeypatch.setattr(tui_app, "check_terminal", lambda: None)
    monkeypatch.setattr(tui_app, "run_console", lambda store, operator=None: 0)
    with pytest.raises(InvalidInput, match="not a demo's"):
        run_demo(live, operator="bob")
    assert _files(live) == before


def test_the_demo_without_a_terminal_writes_nothing(tmp_path):
    from uso_tui.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="needs a terminal"):
        run_demo(tmp_path / "demo", operator="bob")  # pytest's stdin is no terminal
    assert not (tmp_path / "demo").exists()
