"""A simulator of the IRIS REST API (DESIGN section 4) for many schools at once.

One implementation, `Simulator.handle`, served two ways: as an httpx transport (`sim.transport()`,
fast in-process tests) and as a real HTTP server on 127.0.0.1 (`uso_tui.iris.server`). Each school
has its own base URL, path-based: `http://HOST:PORT/<DFE>` (the transport accepts any host), its
own Client ID and Client Secret, its data (IRIS JSON dicts, or a generated estate's) and switches
that tests change at runtime: token expiry, 429, 5xx, timeouts, latency, a failing page, refused
credentials, a page-size cap.
"""

from __future__ import annotations

import asyncio
import collections
import math
import secrets as _secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

if TYPE_CHECKING:
    from uso_tui.iris.datagen import Churn, Estate

REPORT_OF_PATH = {"api/students": "students", "api/humanresources/employees": "staff"}
KEY_OF_REPORT = {"students": "students", "staff": "employees"}
DEFAULT_PAGE_SIZE = 100
SERVER_MAX_PAGE_SIZE = 1000


@dataclass
class Switches:
    """Misbehaviour of one school's API; tests change these at runtime."""

    token_expires_after: int | None = None  # a token stops working after N API requests
    expires_in: int = 3600  # what the token answer says
    throttle_next: int = 0  # the next N API requests answer 429 ...
    retry_after: float = 1.0  # ... with this Retry-After
    fail_next: int = 0  # the next N API requests answer fail_status (transient 5xx)
    fail_status: int = 503
    token_fail_next: int = 0  # the next N token requests answer fail_status
    timeout_next: int = 0  # the next N API requests hang (transport: ReadTimeout)
    hang_seconds: float = 5.0  # how long the real server hangs for a timeout
    latency: float = 0.0  # seconds added to every request (token included)
    failing_pages: set[tuple[str, int]] = field(default_factory=set)  # (report, page): always 500
    reject_credentials: bool = False  # the token endpoint refuses even the right secret
    auth_error_status: int = 400  # 400 or 401 for invalid_client
    max_page_size: int | None = None  # the server returns at most this many per page
    # while set and not yet opened (Event.set), every answer of the school waits for it: a test
    # holds a run mid-fetch for as long as it needs, whatever the machine's speed
    gate: threading.Event | None = field(default=None, repr=False, compare=False)
    # the last N records of each report are left out of its pages but counted in totalCount (as
    # records shifting between pages while a client pages make it skip some)
    skip_records: int = 0
    # every page after the first answers the first page's records (paging that is broken)
    repeat_first_page: bool = False


@dataclass
class SimSchool:
    dfe: str
    client_id: str
    secret: str = field(repr=False)
    name: str = ""
    mis: str = "iSAMS"
    switches: Switches = field(default_factory=Switches)
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    loader: Callable[[str], list[dict[str, Any]]] | None = field(default=None, repr=False)
    api_requests: int = 0
    token_requests: int = 0
    # (report, page, page size) -> the page's JSON: serving a page again costs no encoding (a
    # benchmark's server shares the machine with the client it measures)
    pages: dict[tuple[str, int, int], bytes] = field(default_factory=dict, repr=False)

    def records(self, report: str) -> list[dict[str, Any]]:
        got = self.data.get(report)
        if got is None:
            got = self.loader(report) if self.loader else []
            self.data[report] = got
        return got


@dataclass(slots=True, frozen=True)
class Seen:
    """One request as the simulator saw it (never the secret or the token)."""

    method: str
    dfe: str | None
    path: str
    page: int | None
    status: int


GATE_POLL_S = 0.01


@dataclass(slots=True)
class SimResponse:
    status: int
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0
    hang: float = 0.0  # > 0: the request times out (no answer within the client's read timeout)
    gate: threading.Event | None = None  # answered once it is set (Switches.gate)

    async def wait(self) -> None:
        """The answer's delay, and its gate (polled: no thread is left waiting on it)."""
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(GATE_POLL_S)


@dataclass(slots=True)
class _Tok:
    dfe: str
    uses: int = 0
    revoked: bool = False


class Simulator:
    def __init__(
        self,
        schools: Iterable[SimSchool] = (),
        *,
        estate: Estate | None = None,
        default_page_size: int = DEFAULT_PAGE_SIZE,
        log_size: int = 100_000,
    ) -> None:
        self._schools: dict[str, SimSchool] = {s.dfe: s for s in schools}
        self._tokens: dict[str, _Tok] = {}
        self._lock = threading.Lock()
        self.estate = estate
        self.default_page_size = default_page_size
        self.seen: collections.deque[Seen] = collections.deque(maxlen=log_size)

    # ---- configuration ----

    @classmethod
    def from_estate(cls, estate: Estate, **kw: Any) -> Simulator:
        """Serves every school of a generated estate; records are built on first request."""
        sim = cls(estate=estate, **kw)
        for gs in estate.schools:
            sim._schools[gs.dfe] = SimSchool(
                dfe=gs.dfe,
                client_id=gs.client_id,
                secret=gs.secret,
                name=gs.name,
                mis=gs.mis,
                loader=_estate_loader(estate, gs.dfe),
            )
        return sim

    def add_school(
        self,
        dfe: str,
        *,
        client_id: str,
        secret: str,
        name: str = "",
        mis: str = "iSAMS",
        students: list[dict[str, Any]] | None = None,
        staff: list[dict[str, Any]] | None = None,
        switches: Switches | None = None,
    ) -> SimSchool:
        school = SimSchool(
            dfe=dfe,
            client_id=client_id,
            secret=secret,
            name=name,
            mis=mis,
            switches=switches or Switches(),
        )
        school.data = {"students": list(students or []), "staff": list(staff or [])}
        with self._lock:
            self._schools[dfe] = school
        return school

    def school(self, dfe: str) -> SimSchool:
        return self._schools[dfe]

    @property
    def schools(self) -> list[SimSchool]:
        return list(self._schools.values())

    def switches(self, dfe: str) -> Switches:
        return self._schools[dfe].switches

    def set_switches(self, dfe: str | None = None, **changes: Any) -> None:
        """Change switches of one school, or of every school when dfe is None."""
        with self._lock:
            targets = [self._schools[dfe]] if dfe else list(self._schools.values())
            for school in targets:
                for switch, change in changes.items():
                    if not hasattr(school.switches, switch):
                        raise AttributeError(f"no switch {switch!r}")
                    setattr(school.switches, switch, change)

    def set_records(self, dfe: str, report: str, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._schools[dfe].data[report] = list(records)
            self._schools[dfe].pages.clear()

    def expire_tokens(self, dfe: str | None = None) -> None:
        with self._lock:
            for token in self._tokens.values():
                if dfe is None or token.dfe == dfe:
                    token.revoked = True

    def advance(self, days: int = 1, today: Any = None) -> list[Churn]:
        """Moves the estate on (starters, leavers, movers...) and serves the new data."""
        from uso_tui.iris.datagen import advance

        if self.estate is None:
            raise RuntimeError("this simulator has no generated estate to advance")
        with self._lock:
            churn = advance(self.estate, days=days, today=today)
            self._drop_cached()
        return churn

    def refresh(self) -> None:
        """Serve the estate's current data (after changing `sim.estate` directly)."""
        with self._lock:
            self._drop_cached()

    def _drop_cached(self) -> None:
        for school in self._schools.values():
            if school.loader is not None:
                school.data.clear()
                school.pages.clear()

    def transport(self) -> SimTransport:
        return SimTransport(self)

    # ---- the API ----

    def handle(
        self, method: str, target: str, headers: dict[str, str] | Any, body: bytes
    ) -> SimResponse:
        """Answers one request. `target` is the path and query, e.g. `/204-3210/api/students?page=1`."""
        parts = urlsplit(target)
        segs = [p for p in parts.path.split("/") if p]
        dfe = segs[0] if segs else None
        rest = "/".join(segs[1:])
        if dfe == "_sim":
            return self._control(method, rest, parse_qs(parts.query))
        with self._lock:
            school = self._schools.get(dfe or "")
            if school is None:
                return self._log(
                    method,
                    dfe,
                    parts.path,
                    None,
                    _json(404, {"error": "not_found", "message": f"no school at /{dfe or ''}"}),
                )
            sw = school.switches
            if rest == "auth/connect/token":
                resp = self._token(school, method, body)
                resp.delay, resp.gate = sw.latency, sw.gate
                return self._log(method, dfe, "/" + rest, None, resp)
            report = REPORT_OF_PATH.get(rest)
            if report is None:
                return self._log(
                    method,
                    dfe,
                    "/" + rest,
                    None,
                    _json(404, {"error": "not_found", "message": f"no such resource /{rest}"}),
                )
            query = parse_qs(parts.query)
            page = _qint(query, "page", 1)
            resp = self._api(
                school,
                method,
                headers,
                report,
                page,
                _qint(query, "pageSize", self.default_page_size),
            )
            resp.delay, resp.gate = sw.latency, sw.gate
            return self._log(method, dfe, "/" + rest, page, resp)

    def _control(self, method: str, what: str, query: dict[str, list[str]]) -> SimResponse:
        """The simulator's own endpoints (not IRIS's), for a person trying it with curl:
        `GET /_sim/status`, `POST /_sim/advance?days=N` (the estate moves on N days)."""
        if what == "advance" and method == "POST" and self.estate is not None:
            days = _qint(query, "days", 1)
            if days is None or not 1 <= days <= 365:
                return _json(400, {"error": "invalid_request", "message": "days: 1 to 365"})
            churn = self.advance(days=days)
            kinds: dict[str, int] = {}
            for change in churn:
                kinds[change.kind] = kinds.get(change.kind, 0) + 1
            return _json(
                200,
                {"day": self.estate.day, "today": self.estate.today.isoformat(), "changes": kinds},
            )
        if what != "status" or method != "GET":
            return _json(404, {"error": "not_found"})
        with self._lock:
            return _json(
                200,
                {
                    "day": self.estate.day if self.estate else None,
                    "today": self.estate.today.isoformat() if self.estate else None,
                    "schools": [
                        {
                            "dfe": x.dfe,
                            "name": x.name,
                            "mis": x.mis,
                            "api_requests": x.api_requests,
                            "token_requests": x.token_requests,
                        }
                        for x in self._schools.values()
                    ],
                },
            )

    def _log(
        self, method: str, dfe: str | None, path: str, page: int | None, resp: SimResponse
    ) -> SimResponse:
        self.seen.append(Seen(method, dfe, path, page, resp.status))
        return resp

    def _token(self, school: SimSchool, method: str, body: bytes) -> SimResponse:
        sw = school.switches
        school.token_requests += 1
        if method != "POST":
            return _json(405, {"error": "method_not_allowed"})
        if sw.token_fail_next > 0:
            sw.token_fail_next -= 1
            return _json(
                sw.fail_status,
                {"error": "server_error", "message": "The service is temporarily unavailable"},
            )
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        if (
            sw.reject_credentials
            or form.get("client_id") != school.client_id
            or not _secrets.compare_digest(form.get("client_secret", ""), school.secret)
        ):
            return _json(sw.auth_error_status, {"error": "invalid_client"})
        if "restapi" not in form.get("scope", "").split():
            return _json(400, {"error": "invalid_scope"})
        token = _secrets.token_urlsafe(32)
        self._tokens[token] = _Tok(dfe=school.dfe)
        return _json(
            200,
            {
                "access_token": token,
                "expires_in": sw.expires_in,
                "token_type": "Bearer",
                "scope": "restapi",
            },
        )

    def _api(
        self,
        school: SimSchool,
        method: str,
        headers: Any,
        report: str,
        page: int | None,
        size: int | None,
    ) -> SimResponse:
        sw = school.switches
        school.api_requests += 1
        if method != "GET":
            return _json(405, {"error": "method_not_allowed"})
        auth = headers.get("authorization") or headers.get("Authorization") or ""
        tok = self._tokens.get(auth[7:]) if auth[:7].lower() == "bearer " else None
        if (
            tok is None
            or tok.dfe != school.dfe
            or tok.revoked
            or (sw.token_expires_after is not None and tok.uses >= sw.token_expires_after)
        ):
            return _json(
                401,
                {
                    "error": "invalid_token",
                    "message": "The access token is missing, invalid or expired",
                },
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        tok.uses += 1
        if sw.timeout_next > 0:
            sw.timeout_next -= 1
            return SimResponse(504, b"", {}, hang=max(sw.hang_seconds, 0.001))
        if sw.throttle_next > 0:
            sw.throttle_next -= 1
            return _json(
                429, {"message": "Too many requests"}, {"Retry-After": f"{sw.retry_after:g}"}
            )
        if sw.fail_next > 0:
            sw.fail_next -= 1
            return _json(sw.fail_status, {"message": "The service is temporarily unavailable"})
        if page is None or size is None or page < 1 or size < 1:
            return _json(
                400,
                {
                    "error": "invalid_request",
                    "message": "page and pageSize must be positive integers",
                },
            )
        if (report, page) in sw.failing_pages or ("*", page) in sw.failing_pages:
            return _json(500, {"message": "An unexpected error occurred"})
        eff = min(size, sw.max_page_size or SERVER_MAX_PAGE_SIZE, SERVER_MAX_PAGE_SIZE)
        cached = (report, page, eff, sw.skip_records, sw.repeat_first_page)
        body = school.pages.get(cached)
        if body is None:
            data = school.records(report)
            total = len(data)
            served = data[: max(0, total - sw.skip_records)]
            start = 0 if sw.repeat_first_page and page <= math.ceil(total / eff) else page - 1
            body = school.pages[cached] = orjson.dumps(
                {
                    KEY_OF_REPORT[report]: served[start * eff : (start + 1) * eff],
                    "page": page,
                    "pageSize": eff,
                    "totalCount": total,
                    "totalPages": math.ceil(total / eff),
                }
            )
        return SimResponse(200, body, {"Content-Type": JSON_TYPE})


def _estate_loader(estate: Estate, dfe: str) -> Callable[[str], list[dict[str, Any]]]:
    return lambda report: estate.iris_records(dfe, report)


def _qint(query: dict[str, list[str]], name: str, default: int) -> int | None:
    vals = query.get(name)
    if not vals:
        return default
    try:
        return int(vals[-1])
    except ValueError:
        return None


JSON_TYPE = "application/json; charset=utf-8"


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> SimResponse:
    all_headers = {"Content-Type": JSON_TYPE}
    if headers:
        all_headers.update(headers)
    return SimResponse(status, orjson.dumps(obj), all_headers)


class SimTransport(httpx.AsyncBaseTransport):
    """The simulator as an in-process httpx transport; counts what it was asked."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = await request.aread()
        target = request.url.raw_path.decode("ascii")
        resp = self.sim.handle(request.method, target, request.headers, body)
        await resp.wait()
        if resp.hang > 0:
            raise httpx.ReadTimeout("simulated read timeout", request=request)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)
