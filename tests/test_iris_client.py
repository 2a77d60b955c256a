"""IrisClient against the simulator, both in-process (httpx transport) and over a real socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest

from uso_tui.domain.models import School
from uso_tui.iris.client import IrisClient
from uso_tui.iris.errors import AuthFailed, HostNotAllowed, IrisError
from uso_tui.iris.server import start_background
from uso_tui.iris.simulator import Simulator

DFE = "204-3210"
SECRET = "s3cr3t-Do-Not-Leak-0123456789"
CLIENT_ID = "oakfield-client"


def student(number: int, **extra) -> dict:
    row = {
        "schoolId": f"P{number:05d}",
        "forename": f"Pupil{number}",
        "surname": "Smith",
        "dob": "2014-05-03T00:00:00",
        "middlenames": None,
    }
    row.update(extra)
    return row


def employee(number: int) -> dict:
    return {
        "id": number,
        "forename": f"Staff{number}",
        "surname": "Jones",
        "dateOfBirth": "1980-01-02",
    }


class FakeSleep:
    """Injected retry sleep: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Env:
    mode: str
    sim: Simulator
    root: str  # http://host[:port]
    allowed: frozenset[str]
    transport: httpx.AsyncBaseTransport | None
    sleep: FakeSleep

    def school(self, dfe: str = DFE, name: str = "Oakfield Primary", **kw) -> School:
        return School(
            dfe=dfe,
            name=name,
            mis="iSAMS",
            url=f"{self.root}/{dfe}",
            client_id=kw.pop("client_id", CLIENT_ID),
            **kw,
        )

    def client(self, **kw) -> IrisClient:
        kw.setdefault("allowed_hosts", self.allowed)
        kw.setdefault("sleep", self.sleep)
        kw.setdefault("read_timeout", 5)
        return IrisClient(transport=self.transport, **kw)

    def add(self, dfe: str = DFE, n_students: int = 0, n_staff: int = 0, **switches) -> None:
        self.sim.add_school(
            dfe,
            client_id=CLIENT_ID,
            secret=SECRET,
            name="Oakfield Primary",
            students=[student(i) for i in range(n_students)],
            staff=[employee(i) for i in range(1, n_staff + 1)],
        )
        if switches:
            self.sim.set_switches(dfe, **switches)


@pytest.fixture(params=["transport", "socket"])
async def env(request) -> AsyncIterator[Env]:
    sim = Simulator()
    if request.param == "transport":
        yield Env(
            "transport",
            sim,
            "http://iris.test",
            frozenset({"iris.test:80"}),
            sim.transport(),
            FakeSleep(),
        )
        return
    root, stop = start_background(sim)
    try:
        yield Env("socket", sim, root, frozenset({root.removeprefix("http://")}), None, FakeSleep())
    finally:
        stop()


async def test_all_pages_when_server_caps_page_size(env: Env) -> None:
    env.add(n_students=1234, max_page_size=100)
    pages: list[tuple[int, int | None, int]] = []
    async with env.client(page_size=500) as client:
        export = await client.fetch_report(
            env.school(), SECRET, "students", on_page=lambda *a: pages.append(a)
        )
    assert [r.mis_id for r in export.records] == [f"P{i:05d}" for i in range(1234)]
    assert export.pages == 13
    assert export.repeated_ids == []
    assert pages[-1] == (13, 13, 1234)
    assert [p[0] for p in pages] == list(range(1, 14))
    asked = [s.page for s in env.sim.seen if s.path == "/api/students"]
    assert sorted(asked) == list(range(1, 14))


async def test_a_record_is_kept_as_the_fields_used_only(env: Env) -> None:
    """A server that sends megabytes of unused nesting with each record: the pages were kept
    whole as Python objects until the report ended (26 times the bytes received: 3 GB for 120 MB
    of answers). Each record is cut to the fields its parser reads as its page arrives; a
    nested value in a used field is kept as null, which its parser reads it as."""
    junk = [[] for _ in range(1000)]
    env.sim.add_school(
        DFE, client_id=CLIENT_ID, secret=SECRET, name="Oakfield Primary",
        students=[student(i, homeAddresses=junk, yearGroup={"x": junk}) for i in range(5)],
    )  # fmt: skip
    async with env.client() as client:
        export = await client.fetch_report(
            env.school(), SECRET, "students", sieve=lambda mis_id, raw: None
        )
    assert [r.mis_id for r in export.records] == [f"P{i:05d}" for i in range(5)]
    assert export.records[0].year_group is None
    for raw in export.raw.values():
        assert "homeAddresses" not in raw and raw["yearGroup"] is None
        assert raw["forename"].startswith("Pupil")


async def test_staff_report_and_test_connection(env: Env) -> None:
    env.add(n_students=7, n_staff=3)
    async with env.client() as client:
        export = await client.fetch_report(env.school(), SECRET, "staff")
        counts = await client.test_connection(env.school(), SECRET)
    assert [r.mis_id for r in export.records] == ["1", "2", "3"]
    assert all(r.role == "staff" for r in export.records)
    assert counts == {"staff": 3, "students": 7}


async def test_token_expiry_mid_paging(env: Env) -> None:
    env.add(n_students=250, max_page_size=10, token_expires_after=4)
    async with env.client(page_size=10, max_per_host=1) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert len(export.records) == 250
    school = env.sim.school(DFE)
    assert school.token_requests == 7  # 25 pages, a new token after every 4
    assert school.api_requests == 25 + 6  # each expired token cost one refused request
    assert env.sleep.delays == []  # a 401 is answered with a new token, not a wait


async def test_token_cached_between_reports(env: Env) -> None:
    env.add(n_students=5, n_staff=5)
    async with env.client() as client:
        await client.fetch_report(env.school(), SECRET, "students")
        await client.fetch_report(env.school(), SECRET, "staff")
    assert env.sim.school(DFE).token_requests == 1


async def test_429_honours_retry_after(env: Env) -> None:
    env.add(n_students=30, throttle_next=2, retry_after=7)
    async with env.client(max_per_host=1, page_size=10) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert len(export.records) == 30
    assert env.sleep.delays == [7, 7]


async def test_transient_503_is_retried_with_backoff(env: Env) -> None:
    env.add(n_students=3, fail_next=2, fail_status=503)
    events: list[str] = []
    async with env.client(backoff_base=0.5) as client:
        export = await client.fetch_report(env.school(), SECRET, "students", on_event=events.append)
    assert len(export.records) == 3
    assert len(env.sleep.delays) == 2
    # exponential with jitter: 0.5 then 1.0, each times a factor in [0.5, 1]
    assert 0.25 <= env.sleep.delays[0] <= 0.5
    assert 0.5 <= env.sleep.delays[1] <= 1.0
    assert any("503" in e for e in events)


async def test_token_endpoint_transient_failure_is_retried(env: Env) -> None:
    env.add(n_students=3, token_fail_next=1, fail_status=502)
    async with env.client() as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert len(export.records) == 3
    assert len(env.sleep.delays) == 1


async def test_page_that_keeps_failing_is_a_clear_error_and_no_result(env: Env) -> None:
    env.add(n_students=50, max_page_size=10, failing_pages={("students", 3)})
    got: list[int] = []
    async with env.client(page_size=10, max_tries=4) as client:
        with pytest.raises(IrisError) as ei:
            got.append(len((await client.fetch_report(env.school(), SECRET, "students")).records))
    err = ei.value
    assert got == []
    assert err.school == DFE and err.status == 500
    assert err.path == "/api/students?page=3&pageSize=10"
    text = str(err)
    assert "\n" not in text
    assert DFE in text and "page=3" in text and "HTTP 500" in text
    assert "gave up after 4 tries" in text and "An unexpected error occurred" in text
    page3 = [s for s in env.sim.seen if s.page == 3]
    assert len(page3) == 4
    assert len(env.sleep.delays) == 3


async def test_retries_bounded_by_total_time(env: Env) -> None:
    env.add(n_students=3, throttle_next=100, retry_after=50)
    async with env.client(max_tries=10, max_retry_seconds=120) as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(env.school(), SECRET, "students")
    assert env.sleep.delays == [50, 50]  # a third wait would pass 120 s
    assert ei.value.status == 429 and "retry limit" in str(ei.value)


async def test_wrong_credentials_name_the_school(env: Env) -> None:
    env.add(n_students=3)
    async with env.client() as client:
        with pytest.raises(AuthFailed) as ei:
            await client.fetch_report(env.school(), "not-the-secret", "students")
    text = str(ei.value)
    assert DFE in text and "Oakfield Primary" in text and "invalid_client" in text
    assert ei.value.status == 400 and ei.value.path == "/auth/connect/token"
    assert "not-the-secret" not in text
    assert env.sleep.delays == []  # wrong credentials are not transient
    assert [s.path for s in env.sim.seen] == ["/auth/connect/token"]


async def test_rejected_credentials_401(env: Env) -> None:
    env.add(n_students=3, reject_credentials=True, auth_error_status=401)
    async with env.client() as client:
        with pytest.raises(AuthFailed) as ei:
            await client.test_connection(env.school(), SECRET)
    assert ei.value.status == 401 and DFE in str(ei.value)


async def test_token_refused_twice_is_auth_failed(env: Env) -> None:
    env.add(n_students=3, token_expires_after=0)
    async with env.client() as client:
        with pytest.raises(AuthFailed) as ei:
            await client.fetch_report(env.school(), SECRET, "students")
    assert ei.value.status == 401 and "freshly issued token" in str(ei.value)


async def test_record_repeated_across_pages_kept_once(env: Env, caplog) -> None:
    records = [student(i) for i in range(8)]
    records.insert(6, dict(records[1]))  # P00001 again, on page 2 (pages of 4)
    records.append(student(3, forename="Other"))  # same id, different person: both kept
    env.add()
    env.sim.set_records(DFE, "students", records)
    caplog.set_level(logging.WARNING, logger="uso_tui.iris")
    async with env.client(page_size=4) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    ids = [r.mis_id for r in export.records]
    assert ids.count("P00001") == 1
    assert ids.count("P00003") == 2
    assert len(ids) == 9
    assert export.repeated_ids == ["P00001"]
    assert "P00001" in caplog.text and "repeated" in caplog.text


async def test_a_record_repeated_with_its_fields_in_another_order_is_kept_once(env: Env) -> None:
    records = [student(i) for i in range(4)]
    records.append(dict(reversed(list(records[2].items()))))  # P00002 again, keys reversed
    records += [student(3, forename=f"Other{i}") for i in range(3)]  # one id, three people
    records.append(dict(records[-1]))  # and the last of them again
    env.add()
    env.sim.set_records(DFE, "students", records)
    async with env.client(page_size=3) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    ids = [r.mis_id for r in export.records]
    assert ids.count("P00002") == 1 and ids.count("P00003") == 4
    # (the last twice on one page: no paging between them, see the next test)
    assert export.repeated_ids == ["P00002"] and export.repeated_on_a_page == 1


async def test_an_id_given_to_two_records_on_one_page_is_said(env: Env) -> None:
    """Two different records under one id on one page (a record whose JSON names its id twice
    takes the last): another record's id may be the one lost (the planner holds the leavers for
    an operator). No paging doubt: one answer."""
    records = [student(i) for i in range(4)]
    records[2]["schoolId"] = "P00000"
    env.add()
    env.sim.set_records(DFE, "students", records)
    async with env.client(page_size=10) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert export.clashed_ids == ["P00000"] and export.doubts == []


async def test_a_record_sent_twice_on_one_page_is_no_sign_of_records_missed(env: Env) -> None:
    """One record twice on one page, IRIS's totalCount counting both: the export was taken as
    maybe incomplete ("31 said, 30 arrived; repeated across pages") on every run, and no leaver
    of the school was ever unallocated."""
    records = [student(i) for i in range(6)]
    records.insert(2, dict(records[1]))  # P00001 again, on page 1 (pages of 4)
    env.add()
    env.sim.set_records(DFE, "students", records)
    async with env.client(page_size=4) as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert [r.mis_id for r in export.records].count("P00001") == 1
    assert export.claimed == 7 and export.size == 6
    assert export.repeated_ids == [] and export.missing == 0 and export.doubts == []


async def test_empty_report(env: Env) -> None:
    env.add()
    async with env.client() as client:
        export = await client.fetch_report(env.school(), SECRET, "students")
    assert export.records == [] and export.pages == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/x",
        "http://oakfield.isams.cloud",
        "http://127.0.0.1:1/204-3210",
        "https://oakfield.edgen.cloud",
    ],
)
async def test_host_not_allowed_refused_before_any_request(env: Env, url: str) -> None:
    env.add(n_students=3)
    seen_before = len(env.sim.seen)
    async with env.client() as client:
        school = env.school()
        school.url = url
        with pytest.raises(HostNotAllowed) as ei:
            await client.fetch_report(school, SECRET, "students")
        with pytest.raises(HostNotAllowed):
            await client.test_connection(school, SECRET)
    assert ei.value.school == DFE and DFE in str(ei.value)
    assert len(env.sim.seen) == seen_before
    if env.transport is not None:
        assert env.transport.requests == []


async def test_timeouts_are_retried(env: Env) -> None:
    env.add(n_students=3, timeout_next=1, hang_seconds=3.0)
    events: list[str] = []
    async with env.client(read_timeout=0.5) as client:
        export = await client.fetch_report(env.school(), SECRET, "students", on_event=events.append)
    assert len(export.records) == 3
    # at least the hung request was retried (a loaded machine may time out another one too)
    assert len(env.sleep.delays) >= 1
    assert any("timed out (read)" in e for e in events)


def test_tls_is_verified() -> None:
    import ssl

    from uso_tui.iris.client import tls_context

    ctx = tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    client = IrisClient()
    assert client._http_kw["verify"] is ctx


async def test_many_schools_at_once_within_bounds(env: Env) -> None:
    dfes = [f"204-{2000 + i}" for i in range(30)]
    for dfe in dfes:
        env.add(dfe, n_students=45, max_page_size=10)
    async with env.client(page_size=10, max_per_host=2, max_connections=8) as client:
        exports = await asyncio.gather(
            *(client.fetch_report(env.school(d), SECRET, "students") for d in dfes)
        )
    assert [len(e.records) for e in exports] == [45] * 30
    assert all(e.pages == 5 for e in exports)


async def test_no_secret_or_token_in_errors_logs_or_repr(env: Env, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    env.add(
        n_students=40,
        max_page_size=10,
        token_expires_after=2,
        throttle_next=1,
        retry_after=0,
        fail_next=1,
    )
    errors: list[BaseException] = []
    client = env.client(page_size=10, max_tries=3)
    async with client as open_client:
        await open_client.fetch_report(env.school(), SECRET, "students")
        env.sim.set_switches(DFE, failing_pages={("students", 2)})
        for secret in (SECRET, "wrong-" + SECRET):
            try:
                await open_client.fetch_report(env.school(), secret, "students")
            except IrisError as exc:
                errors.append(exc)
        tokens = list(env.sim._tokens)  # every token the simulator issued
        assert tokens
        texts = (
            [caplog.text, repr(open_client)] + [str(e) for e in errors] + [repr(e) for e in errors]
        )
    assert len(errors) == 2
    for text in texts:
        assert SECRET not in text
        for tok in tokens:
            assert tok not in text


async def test_iris_message_echoing_the_secret_is_blanked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        return httpx.Response(
            400,
            content=orjson.dumps(
                {"error": "invalid_client", "error_description": f"bad request body {body}"}
            ),
        )

    transport = httpx.MockTransport(handler)
    school = School(
        dfe=DFE, name="Oakfield", mis="iSAMS", url="https://oak.isams.cloud", client_id=CLIENT_ID
    )
    async with IrisClient(transport=transport, sleep=FakeSleep()) as client:
        with pytest.raises(AuthFailed) as ei:
            await client.fetch_report(school, SECRET, "students")
    assert "invalid_client" in str(ei.value)
    assert SECRET not in str(ei.value) and "bad request body" not in str(ei.value)


async def test_server_without_total_pages_is_followed_to_an_empty_page() -> None:
    data = [student(i) for i in range(23)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        page = int(request.url.params["page"])
        # A server that says nothing about pages and overstates its count.
        return httpx.Response(
            200, json={"students": data[(page - 1) * 5 : page * 5], "page": page, "totalCount": 40}
        )

    school = School(
        dfe=DFE, name="Oakfield", mis="iSAMS", url="https://oak.isams.cloud", client_id=CLIENT_ID
    )
    async with IrisClient(transport=httpx.MockTransport(handler), sleep=FakeSleep()) as client:
        export = await client.fetch_report(school, SECRET, "students")
    assert [r.mis_id for r in export.records] == [d["schoolId"] for d in data]


async def test_not_found_is_not_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        return httpx.Response(404, json={"message": "No such endpoint"})

    sleep = FakeSleep()
    school = School(
        dfe=DFE, name="Oakfield", mis="Ed:gen", url="https://oak.edgen.cloud", client_id=CLIENT_ID
    )
    async with IrisClient(transport=httpx.MockTransport(handler), sleep=sleep) as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school, SECRET, "staff")
    assert ei.value.status == 404 and sleep.delays == []
    assert str(ei.value) == (
        f"{DFE}: GET /api/humanresources/employees?page=1&pageSize=500: "
        "HTTP 404: not found (IRIS said: No such endpoint)"
    )


async def test_an_empty_json_answer_is_no_words_of_iris() -> None:
    """A 404 answering `{}` was said as "(IRIS said: {})"."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})
        return httpx.Response(404, json={})

    school = School(
        dfe=DFE, name="Oakfield", mis="Ed:gen", url="https://oak.edgen.cloud", client_id=CLIENT_ID
    )
    async with IrisClient(transport=httpx.MockTransport(handler), sleep=FakeSleep()) as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school, SECRET, "staff")
    assert str(ei.value).endswith("HTTP 404: not found")


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps the simulator's transport and records the most requests in flight."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total_now = 0
        self.total_peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        school = request.url.path.split("/")[1]
        self.now[school] = self.now.get(school, 0) + 1
        self.total_now += 1
        self.peak[school] = max(self.peak.get(school, 0), self.now[school])
        self.total_peak = max(self.total_peak, self.total_now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now[school] -= 1
            self.total_now -= 1


async def test_concurrency_bounded_per_school_and_overall() -> None:
    sim = Simulator()
    dfes = [f"330-{2000 + i}" for i in range(12)]
    for dfe in dfes:
        sim.add_school(
            dfe, client_id=CLIENT_ID, secret=SECRET, students=[student(i) for i in range(60)]
        )
    sim.set_switches(latency=0.005, max_page_size=5)
    counting = CountingTransport(sim.transport())
    async with IrisClient(
        transport=counting,
        allowed_hosts=frozenset({"iris.test:80"}),
        max_per_host=3,
        max_connections=10,
        page_size=5,
    ) as client:
        schools = [
            School(dfe=d, name="", mis="iSAMS", url=f"http://iris.test/{d}", client_id=CLIENT_ID)
            for d in dfes
        ]
        exports = await asyncio.gather(
            *(client.fetch_report(s, SECRET, "students") for s in schools)
        )
    assert all(len(e.records) == 60 for e in exports)
    assert max(counting.peak.values()) == 3  # pages of one school do go in parallel, up to 3
    assert counting.total_peak == 10


async def test_connection_refused_is_retried_then_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on once this socket closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleep = FakeSleep()
    school = School(
        dfe=DFE,
        name="Oakfield",
        mis="iSAMS",
        url=f"http://127.0.0.1:{port}/{DFE}",
        client_id=CLIENT_ID,
    )
    async with IrisClient(
        allowed_hosts=frozenset({f"127.0.0.1:{port}"}), sleep=sleep, max_tries=3
    ) as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school, SECRET, "students")
    assert len(sleep.delays) == 2
    assert str(ei.value) == (
        f"{DFE}: POST /auth/connect/token: connection failed (ConnectError); gave up after 3 tries"
    )


def _mock_iris(
    token_requests: list[int],
    *,
    expires_in: int = 100,
    retry_after: str | None = None,
    sent: str | None = None,
):
    """A tiny IRIS: a token endpoint and one page of one student (429 first if retry_after,
    with `sent` as its Date)."""
    throttled: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            token_requests.append(1)
            return httpx.Response(
                200, json={"access_token": f"tok{len(token_requests)}", "expires_in": expires_in}
            )
        if retry_after is not None and not throttled:
            throttled.append(True)
            dated = {"Date": sent} if sent else {}
            return httpx.Response(429, headers={"Retry-After": retry_after, **dated})
        return httpx.Response(200, json={"students": [student(1)], "page": 1, "totalPages": 1})

    return httpx.MockTransport(handler)


async def test_token_cached_until_shortly_before_expiry() -> None:
    now = [0.0]
    tokens: list[int] = []
    school = School(
        dfe=DFE, name="Oakfield", mis="iSAMS", url="https://oak.isams.cloud", client_id=CLIENT_ID
    )
    async with IrisClient(
        transport=_mock_iris(tokens, expires_in=100), sleep=FakeSleep(), clock=lambda: now[0]
    ) as client:
        await client.fetch_report(school, SECRET, "students")
        now[0] = 89.0  # renewed 10% (at most 60 s) early
        await client.fetch_report(school, SECRET, "students")
        assert len(tokens) == 1
        now[0] = 91.0
        await client.fetch_report(school, SECRET, "students")
        assert len(tokens) == 2
        await client.fetch_report(school, "a-new-secret", "students")  # a changed secret: new token
        assert len(tokens) == 3


@pytest.mark.parametrize(
    ("sent", "waits"),
    [
        # An HTTP date is a wait from the answer's own Date: the server's clock, not ours
        # (2015: ours is years past it, which read so would be no wait at all).
        ("Wed, 21 Oct 2015 07:27:15 GMT", 45.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:30:00 GMT", None),  # a date already past: our own backoff
        (None, None),  # no Date to measure it from
        ("yesterday", None),
        # an HTTP date is GMT, written in any of its forms (RFC 9110 5.6.7)
        ("Wed, 21 Oct 2015 07:27:15 -0000", 45.0),
        ("Wed Oct 21 07:27:15 2015", 45.0),
        ("Wednesday, 21-Oct-15 07:27:15 GMT", 45.0),
    ],
)
async def test_retry_after_as_a_date_waits_from_the_answers_date(sent, waits) -> None:
    sleep = FakeSleep()
    school = School(
        dfe=DFE, name="Oakfield", mis="iSAMS", url="https://oak.isams.cloud", client_id=CLIENT_ID
    )
    transport = _mock_iris([], retry_after="Wed, 21 Oct 2015 07:28:00 GMT", sent=sent)
    async with IrisClient(transport=transport, sleep=sleep, backoff_base=0.5) as client:
        export = await client.fetch_report(school, SECRET, "students")
    assert len(export.records) == 1 and len(sleep.delays) == 1
    if waits is None:
        assert 0.25 <= sleep.delays[0] <= 0.5
    else:
        assert sleep.delays == [waits]


def test_a_record_without_an_id_is_named_so_in_a_message():
    """Two records without an MIS id on one page: "1 MIS id(s) given to two different
    records: " named nothing (an outside evaluator's find)."""
    from uso_tui.domain.models import some_ids

    assert some_ids(["", "P7"]) == "(no id), P7"
    assert some_ids([str(n) for n in range(12)]).endswith("9 ...")
