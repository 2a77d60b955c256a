"""The simulator as a real HTTP server: the API of DESIGN section 4 as curl would see it, the
`uso-tui iris-sim` entry point, and an estate moving on by a day."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import date

import httpx
import pytest

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import School
from uso_tui.iris.client import IrisClient
from uso_tui.iris.datagen import generate_estate
from uso_tui.iris.server import main, make_simulator, start_background
from uso_tui.iris.simulator import Simulator

TODAY = date(2026, 3, 2)


@pytest.fixture
def served():
    sim = make_simulator(seed=3, schools=3, today=TODAY)
    root, stop = start_background(sim)
    try:
        yield sim, root
    finally:
        stop()


def token(root: str, school, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{root}/{school.dfe}/auth/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": school.client_id,
            "client_secret": secret if secret is not None else school.secret,
            "scope": "restapi",
        },
    )


def test_token_and_pages_as_design_section_4(served) -> None:
    sim, root = served
    school = sim.schools[0]
    base = f"{root}/{school.dfe}"

    no_token = httpx.get(f"{base}/api/students?page=1&pageSize=5")
    assert no_token.status_code == 401
    bad = httpx.get(f"{base}/api/students", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401

    wrong = token(root, school, "wrong")
    assert wrong.status_code in (400, 401) and wrong.json() == {"error": "invalid_client"}

    ok = token(root, school)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}

    page = httpx.get(f"{base}/api/students?page=2&pageSize=5", headers=auth).json()
    assert set(page) == {"students", "page", "pageSize", "totalCount", "totalPages"}
    total = len(school.records("students"))
    assert (page["page"], page["pageSize"], page["totalCount"]) == (2, 5, total)
    assert page["totalPages"] == -(-total // 5)
    assert [s["schoolId"] for s in page["students"]] == [
        s["schoolId"] for s in school.records("students")[5:10]
    ]

    staff = httpx.get(f"{base}/api/humanresources/employees?page=1&pageSize=3", headers=auth)
    assert staff.status_code == 200 and len(staff.json()["employees"]) == 3
    assert isinstance(staff.json()["employees"][0]["id"], int)

    past_end = httpx.get(f"{base}/api/students?page=999&pageSize=5", headers=auth).json()
    assert past_end["students"] == []

    sim.set_switches(school.dfe, max_page_size=4)
    capped = httpx.get(f"{base}/api/students?page=1&pageSize=500", headers=auth).json()
    assert capped["pageSize"] == 4 and len(capped["students"]) == 4

    # a token is for one school only
    other = sim.schools[1]
    assert httpx.get(f"{root}/{other.dfe}/api/students", headers=auth).status_code == 401
    assert httpx.get(f"{root}/999-9999/api/students", headers=auth).status_code == 404
    assert httpx.get(f"{base}/api/contacts", headers=auth).status_code == 404


def test_runtime_switches_over_the_socket(served) -> None:
    sim, root = served
    school = sim.schools[0]
    auth = {"Authorization": f"Bearer {token(root, school).json()['access_token']}"}
    url = f"{root}/{school.dfe}/api/students"
    sim.set_switches(school.dfe, throttle_next=1, retry_after=3)
    response = httpx.get(url, headers=auth)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    sim.set_switches(school.dfe, fail_next=1, fail_status=503)
    assert httpx.get(url, headers=auth).status_code == 503
    assert httpx.get(url, headers=auth).status_code == 200
    sim.expire_tokens(school.dfe)
    assert httpx.get(url, headers=auth).status_code == 401
    with pytest.raises(AttributeError):
        sim.set_switches(school.dfe, no_such_switch=1)


async def test_estate_day_by_day_through_the_client() -> None:
    estate = generate_estate(21, 4, 1, today=TODAY, size=300)
    sim = Simulator.from_estate(estate)
    root, stop = start_background(sim)
    try:
        allowed = frozenset({root.removeprefix("http://")})
        gs = estate.schools[0]
        school = School(
            dfe=gs.dfe, name=gs.name, mis=gs.mis, url=f"{root}/{gs.dfe}", client_id=gs.client_id
        )
        async with IrisClient(allowed_hosts=allowed, page_size=100) as client:
            day0 = await client.fetch_report(school, gs.secret, "students")
            before = set(gs.students)
            churn = sim.advance(days=1)
            day1 = await client.fetch_report(school, gs.secret, "students")
    finally:
        stop()
    ids0 = {r.mis_id for r in day0.records}
    ids1 = {r.mis_id for r in day1.records}
    assert ids0 == before and len(day0.records) == len(before)
    mine = [change for change in churn if change.dfe == gs.dfe and change.report == "students"]
    for change in mine:
        if change.kind in ("leaver_absent", "archived"):
            assert change.mis_id in ids0 and change.mis_id not in ids1
        elif change.kind in ("starter", "future_starter", "mover", "near_duplicate"):
            assert change.mis_id not in ids0 and change.mis_id in ids1
    assert ids1 == set(gs.students)


def test_iris_sim_command_serves_generated_schools() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uso_tui.iris.server",
            "--port",
            "0",
            "--schools",
            "3",
            "--size",
            "60",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        head = proc.stdout.readline()
        assert head.startswith("IRIS simulator at http://127.0.0.1:")
        root = head.split()[3]
        assert proc.stdout.readline().startswith("Allow it with USO_TUI_ALLOWED_MIS_HOSTS=")
        lines = [proc.stdout.readline().split() for _ in range(3)]
        for parts in lines:
            dfe, url, client_id, secret = parts[0], parts[1], parts[4], parts[9]
            assert url == f"{root}/{dfe}"
            # what `school add --mis` wants, said (it was only in /_sim/status)
            assert parts[10] == "--mis" and parts[11] in ("iSAMS", "Ed:gen")
            response = httpx.post(
                f"{url}/auth/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "scope": "restapi",
                },
            )
            assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_iris_sim_bad_options_and_busy_port(capsys) -> None:
    with pytest.raises(InvalidInput, match="--schools must be from 1"):
        main(["--schools", "0"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port), "--schools", "1"]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_iris_sim_day_0_is_the_day_asked(monkeypatch, capsys) -> None:
    """Standalone, the estate's day 0 is today (as the demo's): its starters' and leavers'
    dates fall about the store's own today, not in a spring long past."""
    import uso_tui.iris.server as server

    served = []
    monkeypatch.setattr(server, "serve", lambda host, port, sim: served.append(sim))
    assert main(["--schools", "1", "--today", "2026-12-04"]) == 0
    assert served[-1].estate.today.isoformat() == "2026-12-04"
    with pytest.raises(InvalidInput, match="not a date"):
        main(["--today", "4/12/2026"])


def test_refresh_serves_an_estate_changed_directly() -> None:
    from uso_tui.iris.datagen import advance

    estate = generate_estate(5, 2, 1, today=TODAY, size=120)
    sim = Simulator.from_estate(estate)
    dfe = estate.schools[0].dfe
    before = list(sim.school(dfe).records("students"))
    advance(estate, days=3)
    assert sim.school(dfe).records("students") == before  # cached until told
    sim.refresh()
    assert sim.school(dfe).records("students") == estate.iris_records(dfe, "students")
    assert sim.school(dfe).records("students") != before


def test_control_endpoints_advance_the_served_estate(served) -> None:
    sim, root = served
    status = httpx.get(f"{root}/_sim/status").json()
    assert status["day"] == 0 and status["today"] == TODAY.isoformat()
    assert [s["dfe"] for s in status["schools"]] == [s.dfe for s in sim.schools]
    moved = httpx.post(f"{root}/_sim/advance?days=2")
    assert moved.status_code == 200
    body = moved.json()
    assert body["day"] == 2 and body["today"] == "2026-03-04"
    assert sum(body["changes"].values()) == len(sim.estate.last_churn) > 0
    assert httpx.post(f"{root}/_sim/advance?days=0").status_code == 400
    assert httpx.get(f"{root}/_sim/advance").status_code == 404
    school = sim.schools[0]
    auth = {"Authorization": f"Bearer {token(root, school).json()['access_token']}"}
    served_ids = [
        d["schoolId"]
        for d in httpx.get(
            f"{root}/{school.dfe}/api/students?page=1&pageSize=1000", headers=auth
        ).json()["students"]
    ]
    assert served_ids == list(sim.estate.school(school.dfe).students)
