"""The IRIS REST client (DESIGN section 4): token, paging, retries, bounds, parsing.

One IrisClient serves many schools at once (the scheduler fetches hundreds together): an overall
bound on requests in flight (a semaphore) and a bound per school base URL (a semaphore and the
school's own small connection pool).
Tokens are cached per school until shortly before they expire. Nothing here ever logs or raises
the client secret or a token: errors carry the school, the path, the status and IRIS's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import certifi
import httpx
import orjson

from uso_tui.config import IrisBounds
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Export, MisRecord, School, some_ids
from uso_tui.domain.schools import check_mis_url
from uso_tui.iris.answer_body import ACCEPT_ENCODING, BodyTooLarge, BodyUndecodable, read_body
from uso_tui.iris.errors import AuthFailed, HostNotAllowed, IrisError
from uso_tui.iris.parse import (
    ALTERED,
    ESCAPES,
    ID_KEYS,
    PARSERS,
    UNREADABLE,
    record_id,
    used_fields,
)
from uso_tui.iris.redact import blank_secrets, parsed_hold_secret, records_hold_secret

TOKEN_PATH = "/auth/connect/token"
REPORT_PATHS = {"students": "/api/students", "staff": "/api/humanresources/employees"}
REPORT_KEYS = {"students": "students", "staff": "employees"}
_KEEP = {REPORT_KEYS[report]: used_fields(report) for report in REPORT_KEYS}
_ID_KEY = {REPORT_KEYS[report]: ID_KEYS[report] for report in REPORT_KEYS}  # page key -> id's name
TRANSIENT_MIN_STATUS = 500
# An access token is sent back as a header with every request: visible ASCII (RFC 6750's bearer
# tokens are narrower still; a JWT of many claims is a few kB).
MAX_TOKEN_CHARS = 16_384
_BEARER = re.compile(r"[\x21-\x7e]+")
IDLE_POOLS = 32  # per-school connection pools kept open while idle

OnPage = Callable[[int, int | None, int], None]
OnEvent = Callable[[str], None]


class Sieve(Protocol):
    """Asked before a raw record is parsed (MIS id, raw record): a token when the caller
    already holds what the record says, so it is left unparsed (sync.fingerprints), else None.
    Its `linked` (if it has one): the MIS ids of the report linked to active accounts."""

    def __call__(self, mis_id: str, raw: dict[str, Any], /) -> Any: ...


# A raw record as fetched: (raw, its MIS id, its parse, None), or (raw, its MIS id, None, the
# sieve's token) when the sieve recognised it.
_Item = tuple[dict[str, Any], str, MisRecord | None, Any]


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires_at: float
    secret_hash: bytes = field(repr=False)


@dataclass(slots=True)
class _Ctx:
    """One school's fetch: who, where, and how to redact."""

    school: School
    base: str
    secret: str = field(repr=False)
    on_event: OnEvent | None = None
    deadline: float | None = None  # the clock's time by which the report must be fetched
    received: int = 0  # the bytes of every answer read for the report so far (max_report_bytes)
    # (method, path) of the request made last: the one a deadline passing is said of (a token
    # request that never answered was said to be the report's)
    asking: tuple[str, str] | None = None
    # the MIS ids of records that gave their id twice, two ways (_ids_given_twice): a doubt
    ids_twice: dict[str, None] = field(default_factory=dict)

    @property
    def dfe(self) -> str:
        return self.school.dfe


class IrisClient:
    """Use as `async with IrisClient(allowed_hosts=...) as client:`, one per event loop.

    allowed_hosts: `host:port` entries that may be used besides *.isams.cloud / *.edgen.cloud
    (DESIGN section 4). transport: an httpx transport for tests (e.g. `Simulator.transport()`).
    max_connections / max_per_host: requests in flight overall / per school. page_size: asked
    for; the server may answer fewer. max_tries / max_retry_seconds: bounds of the retries of
    one request. bounds: deadlines per request and per report, records and pages per report
    (DESIGN section 4; config.iris_bounds reads them from config.json). sleep, clock, rng:
    injectable so tests neither wait nor depend on chance.
    fetch_report's on_event receives notable events as one-line text ("rate limited (429):
    retrying in 2.0s", "token expired: fetched a new one") for a run's log.
    """

    def __init__(
        self,
        *,
        allowed_hosts: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 64,
        max_per_host: int = 4,
        page_size: int = 500,
        connect_timeout: float = 10,
        read_timeout: float = 60,
        max_tries: int = 5,
        max_retry_seconds: float = 120,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        log: logging.Logger | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        bounds: IrisBounds | None = None,
    ) -> None:
        self.bounds = bounds or IrisBounds()
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.page_size = page_size
        self.max_per_host = max_per_host
        self.max_tries = max(1, max_tries)
        self.max_retry_seconds = max_retry_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.log = log or logging.getLogger("uso_tui.iris")
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=None
        )
        # verify=True always; redirects are not followed (one could lead to a non-allowed host).
        self._http_kw: dict[str, Any] = dict(
            timeout=timeout,
            verify=tls_context(),
            follow_redirects=False,
            trust_env=False,
            headers={"Accept-Encoding": ACCEPT_ENCODING},  # what answer_body decodes
        )
        # Without an injected transport each school gets a small pool of its own: httpcore's
        # single pool costs time per request in proportion to all its connections, which made
        # 300 schools at once CPU-bound in the client. Idle pools beyond IDLE_POOLS are closed.
        self._shared: httpx.AsyncClient | None = None
        if transport is not None:
            self._shared = httpx.AsyncClient(transport=transport, **self._http_kw)
        self._pools: dict[str, httpx.AsyncClient] = {}
        self._users: dict[str, int] = {}
        self._all = asyncio.Semaphore(max_connections)
        self._per_host: dict[str, asyncio.Semaphore] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"IrisClient(schools_with_token={len(self._tokens)})"

    async def __aenter__(self) -> IrisClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._tokens.clear()
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.aclose()
        if self._shared is not None:
            await self._shared.aclose()

    def _http(self, base: str) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        pool = self._pools.get(base)
        if pool is None:
            limits = httpx.Limits(
                max_connections=self.max_per_host, max_keepalive_connections=self.max_per_host
            )
            pool = self._pools[base] = httpx.AsyncClient(limits=limits, **self._http_kw)
        return pool

    @contextlib.asynccontextmanager
    async def _using(self, base: str) -> AsyncIterator[None]:
        """Marks a school's pool busy; an idle pool is closed once too many are open."""
        self._users[base] = self._users.get(base, 0) + 1
        try:
            yield
        finally:
            self._users[base] -= 1
            if not self._users[base]:
                del self._users[base]
                if len(self._pools) > IDLE_POOLS and base in self._pools:
                    await self._pools.pop(base).aclose()

    # ---- public API ----

    async def fetch_report(
        self,
        school: School,
        secret: str,
        report: str,
        on_page: OnPage | None = None,
        on_event: OnEvent | None = None,
        sieve: Sieve | None = None,
    ) -> Export:
        """Every page of one report, parsed. Raises IrisError (nothing partial) on failure.

        sieve: records it recognises are left unparsed (Export.same), and the raw record of
        each parsed one is kept (Export.raw)."""
        if report not in REPORT_PATHS:
            raise IrisError(f"report {report!r} is not supported for IRIS", school=school.dfe)
        ctx = self._ctx(school, secret, on_event)
        limit = self.bounds.report_deadline_s
        ctx.deadline = self._clock() + limit
        try:
            async with self._using(ctx.base):
                ends = asyncio.get_running_loop().time() + limit
                async with asyncio.timeout_at(ends):
                    export = await self._fetch(ctx, report, on_page, sieve)
                if export.moved:
                    try:  # in what is left of the deadline; the first fetch stands past it
                        async with asyncio.timeout_at(ends):
                            export = await self._fetched_again(ctx, report, export, on_page, sieve)
                    except TimeoutError:
                        _event(ctx, _OUT_OF_TIME)
                absent = _linked_absent(export, sieve)
                if absent:
                    try:
                        async with asyncio.timeout_at(ends):
                            export = await self._leavers_checked(
                                ctx, report, export, absent, on_page, sieve
                            )
                    except TimeoutError:
                        export.doubts.append(_UNCHECKED)
                        _event(ctx, _UNCHECKED)
                return export
        except TimeoutError:
            method, path = ctx.asking or ("GET", REPORT_PATHS[report])
            raise IrisError(
                f"the {report} report was not fetched within its deadline of {limit:g}s "
                "(report_deadline_s)",
                school=school.dfe,
                path=path,
                method=method,
            ) from None

    async def _fetched_again(
        self,
        ctx: _Ctx,
        report: str,
        first: Export,
        on_page: OnPage | None,
        sieve: Sieve | None,
    ) -> Export:
        """An export with ids given to different records on different pages, fetched once more:
        records shifting while IRIS paged have settled (the new fetch is taken, with whatever
        doubt it has), while the very same records again are ids the MIS gives two people (a
        clash, held for an operator: held as a shift, no leaver would ever be unallocated)."""
        _event(
            ctx,
            "fetching the report again, to tell records that shifted while IRIS paged from an "
            "MIS id given to two people",
        )
        try:
            again = await self._fetch(ctx, report, on_page, sieve)
        except IrisError as exc:  # the first fetch stands, with its doubt (leavers held)
            _event(ctx, f"fetching again failed ({exc.message}): the first fetch is taken")
            return first
        # an id whose very records came at both fetches is the MIS's; the others shifted
        same = [i for i, records in again.moved.items() if first.moved.get(i) == records]
        if same:
            again.doubts.remove(_moved_doubt(again.moved))
            again.moved = {i: r for i, r in again.moved.items() if i not in same}
            if again.moved:
                again.doubts.append(_moved_doubt(again.moved))
            again.clashed_ids = [*same, *again.clashed_ids]
            _event(ctx, f"the same records again: {len(same)} MIS id(s) given to two people")
        return again

    async def _leavers_checked(
        self,
        ctx: _Ctx,
        report: str,
        first: Export,
        absent: set[str],
        on_page: OnPage | None,
        sieve: Sieve,
    ) -> Export:
        """A report of several pages that leaves out records linked to accounts, fetched once
        more: records added and removed while IRIS paged shift the others between pages, and
        one may be skipped with the totals still right (a leaver before it, a starter after).
        The same linked records left out again are leavers; others are a doubt on the first
        fetch (the planner then holds every unallocation of the report; the next run looks
        again)."""
        _event(
            ctx,
            f"{len(absent)} linked record(s) not sent in a report of {first.pages} pages: "
            "fetching it again, to tell leavers from records skipped while IRIS paged",
        )
        try:
            again = await self._fetch(ctx, report, on_page, sieve)
        except IrisError as exc:
            _event(ctx, f"fetching again failed ({exc.message}): {_UNCHECKED}")
            first.doubts.append(_UNCHECKED)
            return first
        differ = absent ^ _left_out(again, getattr(sieve, "linked", ()))
        if differ:
            first.doubts.append(
                f"records shifted while IRIS paged: {len(differ)} linked record(s) sent at one "
                f"fetch and not at the other ({some_ids(sorted(differ))})"
            )
            _event(ctx, first.doubts[-1])
        return first

    async def _fetch(
        self, ctx: _Ctx, report: str, on_page: OnPage | None, sieve: Sieve | None = None
    ) -> Export:
        school = ctx.school
        key = REPORT_KEYS[report]
        path = REPORT_PATHS[report]
        ctx.ids_twice = {}  # this fetch's own (a report fetched again says its own)

        bounds = self.bounds
        first = await self._page(ctx, path, key, 1)
        total_pages = _int(first.get("totalPages"))
        total_count = _int(first.get("totalCount"))
        # A server's claims past the bounds fail at once, before any page is followed.
        if total_pages is not None and total_pages > bounds.max_pages:
            raise _too_many(ctx, path, f"{total_pages} pages", bounds.max_pages, "pages")
        if total_count is not None and total_count > bounds.max_records:
            raise _too_many(ctx, path, f"{total_count} records", bounds.max_records, "records")
        # Each page is parsed as it arrives: the work is spread out, so a console running a
        # fetch in its event loop never stalls for a whole report's parsing at once.
        parse = PARSERS[report]
        rid = functools.partial(record_id, report)

        def take(page: list[dict[str, Any]]) -> list[_Item]:
            altered = ALTERED[0]
            if sieve is None:
                out = [(d, (rec := parse(d)).mis_id, rec, None) for d in page]
            else:
                out = []
                for doc in page:
                    mis_id = rid(doc)
                    token = sieve(mis_id, doc)
                    out.append((doc, mis_id, parse(doc) if token is None else None, token))
            if ALTERED[0] != altered and parsed_hold_secret(
                (item[2] for item in out if item[2] is not None), ctx.secret
            ):
                raise _holds_secret(ctx, path)
            return out

        def count(records: int) -> None:
            if records > bounds.max_records:
                raise _too_many(ctx, path, f"{records} records", bounds.max_records, "records")

        count(len(first[key]))
        pages: dict[int, list[_Item]] = {1: take(first[key])}
        done = 1
        so_far = len(first[key])
        # what each later page says the report holds: a server whose totals change while it
        # pages has moved records between pages (one may be lost), and its larger claim counts
        claims: set[tuple[int | None, int | None]] = {(total_pages, total_count)}
        if on_page:
            on_page(done, total_pages, so_far)

        async def one(page_number: int) -> None:
            nonlocal done, so_far
            body = await self._page(ctx, path, key, page_number)
            count(so_far + len(body[key]))  # before parsing: memory stays bounded too
            pages[page_number] = take(body[key])
            claims.add((_int(body.get("totalPages")), _int(body.get("totalCount"))))
            done += 1
            so_far += len(body[key])
            if on_page:
                on_page(done, total_pages, so_far)

        if first[key] and total_pages and total_pages > 1:
            await _all_or_nothing([one(n) for n in range(2, total_pages + 1)])
            # the pages its totals announce, asked together: one that repeats another record
            # for record is a server that ignores the page asked (its records kept once, the
            # run read as whole a report it had only half of), unless every record counted came
            # (a last page sent again for a page the totals overcount)
            while (twice := _twice_sent(pages)) is not None:
                if _may_hide_records(pages, claims, twice[1]):
                    raise _ignores_page(ctx, path, *twice)
                pages[twice[1]] = []  # the report ended before it (as when followed, below)

        # Followed page by page until an empty page: a server whose totalPages undercounts
        # (fewer records than totalCount), one whose totals grew while it paged, and one that
        # gives no totals at all (pages may hold fewer records than asked, so a short page is
        # no end).
        last = max(pages)
        empty_at = next((n for n in sorted(pages) if not pages[n]), None)
        claimed_pages, claimed_count = _largest(claims)
        received = sum(len(v) for v in pages.values())

        async def follow() -> None:
            """The page after the last, within the page bound."""
            nonlocal last, empty_at, received
            if last >= bounds.max_pages:
                raise _too_many(ctx, path, f"records beyond page {last}", bounds.max_pages, "pages")
            last += 1
            await one(last)
            if not pages[last]:
                empty_at = last
            elif (same := _repeated_page(pages, last)) is not None:
                if claimed_pages is not None and last > claimed_pages:
                    # a page asked past the server's own totalPages (checking a short one was
                    # the last) answered with its last page again: the report ends there
                    pages[last], empty_at = [], last
                    return
                # a server that ignores the page asked sends page 1 for ever: without a count
                # it was followed to the page bound (2,000 requests), to fail there
                raise _ignores_page(ctx, path, same, last)
            received += len(pages[last])

        def short_inside() -> bool:
            """Without a count, a page before the last shorter than asked: the server sends
            fewer per page than asked, and a totalPages reckoned from the size asked ends
            early (two pages of 450 for 1,000 records). Or no page as long as asked: nothing
            says the server sends as many as asked (one page of 25 for 42 records, totalPages
            1), so the page after the last is asked too (empty: the report ended)."""
            if claimed_count is not None:
                return False
            return any(len(pages[n]) < self.page_size for n in pages if n < last) or all(
                len(pages[n]) < self.page_size for n in pages
            )

        while empty_at is None and (
            (claimed_count is None and claimed_pages is None)
            or (claimed_count is not None and received < claimed_count)
            or (claimed_pages is not None and last < claimed_pages)
            or short_inside()
        ):
            await follow()
            claimed_pages, claimed_count = _largest(claims)
        # Totals the pages belie (more records than totalCount, records past totalPages) do not
        # say where the report ends: it is followed to an empty page, and doubted (rule 7
        # unallocates nobody on its word).
        belied = _belied(pages, claimed_pages, claimed_count)
        while belied and empty_at is None:
            await follow()
        # An empty page before pages of records: records leaving while IRIS pages empty the
        # last pages, never one between, so a page of them was lost (their people would read
        # as leavers). The records are kept, and the export doubted (rule 7 unallocates nobody).
        gap = None
        if empty_at is not None and any(pages[n] for n in pages if n > empty_at):
            gap = f"page {empty_at} of {report} was empty but later pages were not"
            self.log.warning("%s: %s; keeping them", school.dfe, gap)

        raw = [r for n in sorted(pages) for r in pages[n]]
        page_of = [n for n in sorted(pages) for _ in pages[n]]
        export = self._build_export(ctx, report, raw, len(pages), sieve is not None, page_of)
        export.claimed = claimed_count
        if belied:
            export.doubts.append(belied)
            _event(ctx, belied)
        if gap:
            export.doubts.append(gap)
            _event(ctx, gap)
        said = sorted({c for _, c in claims if c is not None})
        if len(said) > 1 or len({p for p, _ in claims if p is not None}) > 1:
            # (a page that gives no totals is no change: the first page's still stand)
            export.doubts.append(
                "IRIS's totals changed while it paged"
                + (f" ({' then '.join(map(str, said))} records)" if len(said) > 1 else "")
            )
            _event(ctx, export.doubts[-1])
        if claimed_count is not None and len(raw) != claimed_count:
            self.log.warning(
                "%s: %s: received %d records, IRIS's totalCount said %d",
                school.dfe,
                report,
                len(raw),
                claimed_count,
            )
        return export

    async def test_connection(self, school: School, secret: str) -> dict[str, int]:
        """Gets a token and returns {report: totalCount} for each enabled report."""
        ctx = self._ctx(school, secret, None)
        out: dict[str, int] = {}
        async with self._using(ctx.base):
            await self._token(ctx)
            for report in school.reports:
                if report not in REPORT_PATHS:
                    continue
                key = REPORT_KEYS[report]
                body = await self._page(ctx, REPORT_PATHS[report], key, 1, size=1)
                count = _int(body.get("totalCount"))
                out[report] = count if count is not None else len(body[key])
        return out

    # ---- paging ----

    def _ctx(self, school: School, secret: str, on_event: OnEvent | None) -> _Ctx:
        try:
            base = check_mis_url(school.url, school.mis, self.allowed_hosts, typed=False)
        except InvalidInput as exc:
            raise HostNotAllowed(str(exc), school=school.dfe) from None
        return _Ctx(school=school, base=base, secret=secret, on_event=on_event)

    async def _page(
        self, ctx: _Ctx, path: str, key: str, page: int, size: int | None = None
    ) -> dict[str, Any]:
        params = {"page": page, "pageSize": size or self.page_size}
        shown = f"{path}?page={page}&pageSize={params['pageSize']}"
        resp = await self._request(ctx, "GET", path, shown, params=params)
        most = max(ANSWER_VALUES, VALUES_PER_RECORD * self.bounds.max_records)
        mended = False
        try:
            try:
                body = _json(resp.content, most)
            except orjson.JSONDecodeError as exc:
                if "surrogate" not in str(exc) or isinstance(exc, _TooManyValues):
                    raise
                body, mended = _json(_mend_surrogates(resp.content), most), True
        except _TooManyValues:
            raise IrisError(
                f"the answer holds more than {most:,} JSON values, more than "
                f"{VALUES_PER_RECORD} for each of the {self.bounds.max_records:,} records a report "
                "may have (max_records): it is not read",
                school=ctx.dfe,
                path=shown,
                status=resp.status_code,
            ) from None
        except orjson.JSONDecodeError as exc:
            raise IrisError(
                f"the answer is not JSON{_why_not_json(resp.content, exc)}",
                school=ctx.dfe,
                path=shown,
                status=resp.status_code,
            ) from None
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise IrisError(
                f"the answer has no {key!r} list",
                school=ctx.dfe,
                path=shown,
                status=resp.status_code,
            )
        if len(body[key]) > self.bounds.max_records:  # before each is copied below
            raise _too_many(
                ctx, shown, f"{len(body[key])} records", self.bounds.max_records, "records"
            )
        if not all(isinstance(r, dict) for r in body[key]):
            raise IrisError(
                f"the {key!r} list holds something that is not a record",
                school=ctx.dfe,
                path=shown,
                status=resp.status_code,
            )
        escaped = _escaped_name(resp.content)
        if (twice := _named_twice(resp.content, key, escaped)) is not None:
            raise IrisError(
                f"the answer {twice}: which is meant is not said (JSON leaves it open), so it "
                "is not read",
                school=ctx.dfe,
                path=shown,
                status=resp.status_code,
            )
        # each record cut to the fields used at once: the rest of the page (a server may send
        # megabytes of unused nesting, 20-30 times its size as objects) goes with the answer
        keep = _KEEP[key]
        sent = body[key]
        body[key] = [keep(r) for r in sent]
        if mended:
            _broken_fields_unreadable(sent, body[key])
        twice_ids = _ids_given_twice(resp.content, key, body[key], escaped)
        ctx.ids_twice.update(dict.fromkeys(twice_ids))
        token = self._tokens.get((ctx.base, ctx.school.client_id))
        if records_hold_secret(resp.content, body[key], ctx.secret, token.value if token else None):
            raise _holds_secret(ctx, shown, resp.status_code)
        return body

    def _build_export(
        self,
        ctx: _Ctx,
        report: str,
        raw: list[_Item],
        pages: int,
        sieved: bool = False,
        page_of: list[int] | None = None,
    ) -> Export:
        """`page_of`: the page each item of `raw` came on (None: one page each, as if apart)."""
        first: dict[str, tuple[dict[str, Any], int]] = {}  # MIS id -> its first record, its page
        # MIS id -> its records' canonical JSON, made only for an id given more than once (a
        # comparison with each earlier record cost quadratic time: 40,000 records of one id
        # held the event loop for minutes)
        seen: dict[str, dict[bytes, int]] = {}  # (and the page each of them came on)
        kept: list[_Item] = []
        twice: dict[str, None] = {}  # the ids of records sent twice across pages, in order
        moved: dict[str, None] = {}  # ids given to different records on different pages
        clashed: dict[str, None] = {}  # ids given to different records on one page
        # (MIS id, record) -> its copies sent again on the page it was first on
        on_one_page: dict[tuple[str, bytes], int] = {}
        for at, item in enumerate(raw):
            doc, mis_id = item[0], item[1]
            page = page_of[at] if page_of is not None else at
            earlier = first.get(mis_id)
            if earlier is None:
                first[mis_id] = (doc, page)
                kept.append(item)
                continue
            docs = seen.get(mis_id)
            if docs is None:
                docs = seen[mis_id] = {_canonical(earlier[0]): earlier[1]}
            key = _canonical(doc)
            if key in docs:
                # The same record twice, kept once. Across pages: the data moved while IRIS was
                # paging (a record may have been skipped as one was repeated). On one page (one
                # answer, no paging between them): a row the MIS or IRIS holds twice, or a copy
                # standing where a record left out was (IRIS counts it in its totalCount too):
                # the planner holds the leavers for an operator.
                if docs[key] == page:
                    on_one_page[mis_id, key] = on_one_page.get((mis_id, key), 0) + 1
                else:
                    twice[mis_id] = None
                continue
            # Another record under an id already given: across pages, the data changed while
            # IRIS paged (records shift: one may have been skipped); on one page, a record whose
            # id is wrong (keyed twice, or its JSON names the id twice), so another's may be
            # missing. Either way the export is no proof that an absent record has left.
            (moved if any(p != page for p in docs.values()) else clashed)[mis_id] = None
            docs[key] = page
            kept.append(item)
        doubts = []
        if ctx.ids_twice:
            doubts.append(
                f"{len(ctx.ids_twice)} record(s) give their MIS id twice, two ways (which is "
                f"meant is not said): {some_ids(list(ctx.ids_twice))}"
            )
            _event(ctx, doubts[-1])
        # A row the MIS holds twice is sent twice; one record sent three times or more is no
        # such row, and IRIS's totalCount counting the copies could hide as many records missed.
        many = list(dict.fromkeys(i for (i, _), copies in on_one_page.items() if copies > 1))
        if many:
            doubts.append(
                f"{len(many)} record(s) sent three times or more on one page: {some_ids(many)}"
            )
        if moved:
            doubts.append(_moved_doubt(moved))
            _event(ctx, f"{len(moved)} MIS id(s) sent on two pages with different details")
        clashes = [i for i in clashed if i not in moved]
        moved_records = {i: frozenset(seen[i]) for i in moved}  # (what _fetched_again compares)
        if clashes:
            _event(
                ctx, f"{len(clashes)} MIS id(s) given to two different records: {some_ids(clashes)}"
            )
        repeated = list(twice)
        if repeated:
            shown = some_ids(repeated)
            self.log.warning(
                "%s: %s: %d record(s) repeated across pages, kept once: %s",
                ctx.dfe,
                report,
                len(repeated),
                shown,
            )
            _event(ctx, f"{len(repeated)} record(s) repeated across pages, kept once")
        copied = list(dict.fromkeys(i for i, _ in on_one_page))
        if on_one_page:
            _event(
                ctx,
                f"{len(on_one_page)} record(s) sent again on one page "
                f"({sum(on_one_page.values())} copies), kept once",
            )
        if not sieved:
            records = [rec for _, _, rec, _ in kept if rec is not None]
            return Export(
                report=report,
                records=records,
                pages=pages,
                repeated_ids=repeated,
                repeated_on_a_page=sum(on_one_page.values()),
                copied_ids=copied,
                doubts=doubts,
                clashed_ids=clashes,
                moved=moved_records,
            )
        parse = PARSERS[report]
        parsed: list[MisRecord] = []
        same: dict[str, tuple[dict[str, Any], Any]] = {}
        raws: dict[str, dict[str, Any]] = {}
        for doc, mis_id, rec, token in kept:
            if rec is None:
                if len(seen.get(mis_id, ())) <= 1:  # the id's only record (maybe sent twice)
                    same[mis_id] = (doc, token)
                    continue
                rec = parse(doc)  # its id is sent for another record too: the planner says so
            parsed.append(rec)
            raws[mis_id] = doc
        return Export(
            report=report,
            records=parsed,
            pages=pages,
            repeated_ids=repeated,
            repeated_on_a_page=sum(on_one_page.values()),
            copied_ids=copied,
            doubts=doubts,
            clashed_ids=clashes,
            moved=moved_records,
            same=same,
            raw=raws,
            parse=parse,
        )

    # ---- requests: token, retries, bounds ----

    def _host_sem(self, base: str) -> asyncio.Semaphore:
        sem = self._per_host.get(base)
        if sem is None:
            sem = self._per_host[base] = asyncio.Semaphore(self.max_per_host)
        return sem

    async def _token(self, ctx: _Ctx, *, in_slot: bool = False) -> _Token:
        """The school's cached token, or a new one. `in_slot`: the caller already holds a
        request slot of this school, and the token request uses it."""
        key = (ctx.base, ctx.school.client_id)
        secret_hash = hashlib.sha256(ctx.secret.encode()).digest()
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            tok = self._tokens.get(key)
            if (
                tok is not None
                and tok.secret_hash == secret_hash
                and self._clock() < tok.expires_at
            ):
                return tok
            resp = await self._request(
                ctx,
                "POST",
                TOKEN_PATH,
                TOKEN_PATH,
                data={
                    "grant_type": "client_credentials",
                    "client_id": ctx.school.client_id,
                    "client_secret": ctx.secret,
                    "scope": "restapi",
                },
                auth=False,
                in_slot=in_slot,
            )
            try:
                body = _json(resp.content)
            except orjson.JSONDecodeError:
                body = None
            value = body.get("access_token") if isinstance(body, dict) else None
            if not (isinstance(value, str) and value):
                # (a page of HTML from a proxy or a wrong URL said "has no access_token")
                kind = _content_kind(resp.headers)
                raise IrisError(
                    "the token answer has no access_token"
                    if body is not None
                    else f"the token answer is not JSON{f' ({kind})' if kind else ''}: is the "
                    "MIS URL the school's IRIS API?",
                    school=ctx.dfe,
                    path=TOKEN_PATH,
                    method="POST",
                    status=resp.status_code,
                )
            if len(value) > MAX_TOKEN_CHARS or not _BEARER.fullmatch(value):
                # sent back in every request's header: a control character would break it, a
                # megabyte would be sent with every page (never shown: it is a credential)
                raise IrisError(
                    f"the token answer's access_token is not a bearer token ({len(value)} "
                    f"characters{'' if len(value) <= MAX_TOKEN_CHARS else ', too long'})",
                    school=ctx.dfe,
                    path=TOKEN_PATH,
                    method="POST",
                    status=resp.status_code,
                )
            expires_in = _int(body.get("expires_in")) or 3600
            # Renew a little early: a token that expires between our check and IRIS's costs a 401.
            margin = min(60.0, expires_in * 0.1)
            tok = _Token(
                value=value, expires_at=self._clock() + expires_in - margin, secret_hash=secret_hash
            )
            self._tokens[key] = tok
            return tok

    def _drop_token(self, ctx: _Ctx, tok: _Token | None) -> None:
        key = (ctx.base, ctx.school.client_id)
        if tok is not None and self._tokens.get(key) is tok:
            del self._tokens[key]

    async def _request(
        self,
        ctx: _Ctx,
        method: str,
        path: str,
        shown: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        auth: bool = True,
        in_slot: bool = False,
    ) -> Answer:
        url = ctx.base + path
        ctx.asking = (method, path)
        tries = 0
        slept = 0.0
        started = self._clock()
        refreshed = False
        token: _Token | None = None
        while True:
            tries += 1
            headers = {"Accept": "application/json"}
            retry_after: float | None = None
            try:
                async with _Slot(self, ctx.base, held=in_slot):
                    if auth:
                        # Taken in the slot, just before use: a token is never shared by more
                        # requests than the school's bound while it ages.
                        token = await self._token(ctx, in_slot=True)
                        headers["Authorization"] = f"Bearer {token.value}"
                    resp = await self._send(ctx, method, url, shown, params, data, headers)
                    if auth and resp.status_code == 401 and not refreshed:
                        # Tokens expire: fetch a new one and retry once, in the same slot so
                        # the new token is not used up by others first.
                        refreshed = True
                        self.log.info(
                            "%s: %s %s: token refused (401), fetching a new one",
                            ctx.dfe,
                            method,
                            shown,
                        )
                        _event(ctx, "token expired: fetched a new one")
                        self._drop_token(ctx, token)
                        token = await self._token(ctx, in_slot=True)
                        headers["Authorization"] = f"Bearer {token.value}"
                        resp = await self._send(ctx, method, url, shown, params, data, headers)
            except TimeoutError:
                status = None
                reason = (
                    "no whole answer within the request deadline of "
                    f"{self.bounds.request_deadline_s:g}s (request_deadline_s)"
                )
            except httpx.TimeoutException as exc:
                status = None
                reason = f"timed out ({_timeout_kind(exc)})"
            except httpx.TransportError as exc:
                certificate = _certificate_refused(exc)
                if certificate:  # not the network's doing: trying again would not help
                    raise IrisError(
                        f"the server's TLS certificate is not trusted: {certificate}",
                        school=ctx.dfe,
                        path=shown,
                        method=method,
                    ) from None
                status = None
                reason = (
                    f"connection failed ({type(exc).__name__}{_TRANSPORT_WHY.get(type(exc), '')})"
                )
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return resp
                iris_msg = _iris_message(resp, ctx, token, secret_sent=not auth)
                if status == 401 and auth:
                    raise AuthFailed(
                        "IRIS refused a freshly issued token",
                        school=ctx.dfe,
                        path=shown,
                        method=method,
                        status=status,
                        iris_message=iris_msg,
                    )
                if not auth and status in (400, 401) and _is_invalid_client(resp):
                    raise AuthFailed(
                        f"IRIS refused the Client ID/Client Secret of {_school_label(ctx)}",
                        school=ctx.dfe,
                        path=shown,
                        method=method,
                        status=status,
                        iris_message=iris_msg,
                    )
                if status == 429:
                    retry_after = _retry_after(resp)
                    reason = "rate limited (429)"
                elif status >= TRANSIENT_MIN_STATUS:
                    reason = f"server error ({status})"
                    if status == 503:  # unavailable for a while: its Retry-After is the wait
                        retry_after = _retry_after(resp)
                else:
                    what = {401: "not authorised", 403: "forbidden", 404: "not found"}.get(
                        status,
                        "a redirect, not followed (IRIS is asked at the school's MIS URL only)"
                        if 300 <= status < 400
                        else "unexpected answer",
                    )
                    raise IrisError(
                        what,
                        school=ctx.dfe,
                        path=shown,
                        method=method,
                        status=status,
                        iris_message=iris_msg,
                    )
            # Transient: wait and retry, within the bounds. A later 401 may refresh again.
            refreshed = False
            if tries >= self.max_tries:
                raise IrisError(
                    f"{reason}; gave up after {_tries(tries)}",
                    school=ctx.dfe,
                    path=shown,
                    method=method,
                    status=status,
                    iris_message=_iris_message(resp, ctx, token, secret_sent=not auth)
                    if status
                    else None,
                )
            if retry_after is not None:
                delay = retry_after
            else:
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (tries - 1))
                delay *= 0.5 + self._rng.random() / 2  # jitter: schools don't retry in step
            if ctx.deadline is not None and self._clock() + delay > ctx.deadline:
                raise IrisError(
                    f"{reason}; gave up after {_tries(tries)}: waiting {_seconds(delay)} more would pass "
                    f"the report's deadline of {self.bounds.report_deadline_s:g}s "
                    "(report_deadline_s)",
                    school=ctx.dfe,
                    path=shown,
                    method=method,
                    status=status,
                )
            elapsed = max(self._clock() - started, slept)
            if elapsed + delay > self.max_retry_seconds:
                raise IrisError(
                    f"{reason}; gave up after {_tries(tries)}: waiting {_seconds(delay)} more would pass "
                    f"the {self.max_retry_seconds:g}s retry limit",
                    school=ctx.dfe,
                    path=shown,
                    method=method,
                    status=status,
                )
            self.log.warning(
                "%s: %s %s: %s, retry %d/%d in %.1fs",
                ctx.dfe,
                method,
                shown,
                reason,
                tries + 1,
                self.max_tries,
                delay,
            )
            _event(ctx, f"{reason}: retrying in {delay:.1f}s")
            await self._sleep(delay)
            slept += delay

    async def _send(
        self,
        ctx: _Ctx,
        method: str,
        url: str,
        shown: str,
        params: dict[str, Any] | None,
        data: dict[str, str] | None,
        headers: dict[str, str],
    ) -> Answer:
        """One request, its body read whole within the request deadline (httpx's timeouts bound
        each read, so a server trickling a byte at a time would pass them forever) and up to
        max_answer_bytes as decoded (a server sending without end, or a gzip bomb, would fill
        the memory first)."""
        http = self._http(ctx.base)
        request = http.build_request(method, url, params=params, data=data, headers=headers)
        async with asyncio.timeout(self.bounds.request_deadline_s):
            try:
                streamed = await http.send(request, stream=True)
            except httpx.DecodingError:  # (a transport that reads the body as it answers)
                raise _undecodable(ctx, method, shown, "?") from None
            try:
                body = await _read_bounded(
                    streamed, self.bounds.max_answer_bytes, ctx, method, shown
                )
            finally:
                await streamed.aclose()
        ctx.received += len(body)
        if ctx.received > self.bounds.max_report_bytes:
            raise IrisError(
                f"the report's answers are larger than the {self.bounds.max_report_bytes:,} "
                "bytes one report may have (max_report_bytes)",
                school=ctx.dfe,
                path=shown,
                method=method,
            )
        return Answer(streamed.status_code, streamed.headers, body)


# Media types an answer that is not JSON is named by in an error: these only (a server's own
# header could carry anything, the secret it was sent too).
_KINDS_SHOWN = frozenset(
    (
        "text/html",
        "text/plain",
        "text/xml",
        "application/xml",
        "application/xhtml+xml",
        "application/octet-stream",
        "application/json",
    )
)


def _content_kind(headers: httpx.Headers) -> str:
    """The answer's media type (`text/html`), as shown in an error: one of _KINDS_SHOWN."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind if kind in _KINDS_SHOWN else ""


class Answer:
    """A whole answer: its status, headers and body as decoded (read within the bounds)."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: httpx.Headers, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


async def _read_bounded(
    response: httpx.Response, limit: int, ctx: _Ctx, method: str, shown: str
) -> bytes:
    encoding = response.headers.get("Content-Encoding", "")
    try:
        if response.is_stream_consumed:  # an in-process transport's answer, already in memory
            if len(response.content) > limit:
                raise BodyTooLarge
            return response.content
        return await read_body(response.aiter_raw(), encoding, limit)
    except BodyTooLarge:
        raise IrisError(
            f"the answer is larger than the {limit:,} bytes one answer may have (max_answer_bytes)",
            school=ctx.dfe,
            path=shown,
            method=method,
        ) from None
    except BodyUndecodable:  # a corrupt gzip, or a layered encoding: said as IRIS's, not zlib's
        raise _undecodable(ctx, method, shown, encoding or "?") from None


def _undecodable(ctx: _Ctx, method: str, shown: str, encoding: str) -> IrisError:
    return IrisError(
        f"the answer's body could not be decoded (Content-Encoding {encoding!r})",
        school=ctx.dfe,
        path=shown,
        method=method,
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context (certificates and host names checked) for every pool: loading
    the CA bundle costs ~30 ms, too much to repeat per school."""
    return ssl.create_default_context(cafile=certifi.where())


class _Slot:
    """A request slot: one of the school's (per base URL) and one of the client's overall."""

    def __init__(self, client: IrisClient, base: str, *, held: bool) -> None:
        self.held = held
        self.host = client._host_sem(base)
        self.all = client._all

    async def __aenter__(self) -> None:
        if not self.held:
            await self.host.acquire()
            try:
                await self.all.acquire()
            except BaseException:
                self.host.release()
                raise

    async def __aexit__(self, *exc: object) -> None:
        if not self.held:
            self.all.release()
            self.host.release()


async def _all_or_nothing(coros: list[Awaitable[None]]) -> None:
    """Run all; on the first failure cancel the rest and raise that failure (not a group)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        pending: set[asyncio.Future[None]] = set(tasks)
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _holds_secret(ctx: _Ctx, path: str, status: int | None = None) -> IrisError:
    return IrisError(
        "a record holds the school's client secret, or most of it (sent back by the server, "
        "perhaps backwards, encoded or broken up), or the access token: the report is not "
        "read, so that neither is shown nor kept",
        school=ctx.dfe,
        path=path,
        status=status,
    )


def _tries(count: int) -> str:
    return f"{count} try" if count == 1 else f"{count} tries"


def _too_many(ctx: _Ctx, path: str, what: str, bound: int, unit: str) -> IrisError:
    return IrisError(
        f"IRIS reports {what}, more than the {bound} {unit} a report may have (max_{unit})",
        school=ctx.dfe,
        path=path,
    )


_BOM = b"\xef\xbb\xbf"


_OUT_OF_TIME = "fetching again ran out of the report's deadline: the first fetch is taken"


_UNCHECKED = "linked records left out could not be checked by fetching the report again"


def _linked_absent(export: Export, sieve: Sieve | None) -> set[str]:
    """The MIS ids linked to active accounts that a report of several pages left out (none
    for one page: nothing can shift past a page boundary; none when the export is doubted
    already: its unallocations are held)."""
    linked = getattr(sieve, "linked", None)
    if not linked or export.pages < 2 or export.doubts or export.missing or export.clashed_ids:
        return set()  # (an id given to two records holds the report's unallocations too)
    return _left_out(export, linked)


def _left_out(export: Export, linked) -> set[str]:
    sent = export.same.keys() | {r.mis_id for r in export.records}
    return {i for i in linked if i not in sent}


def _moved_doubt(moved) -> str:
    return (
        f"{len(moved)} MIS id(s) sent on two pages with different details (the data changed "
        f"while IRIS paged): {some_ids(moved)}"
    )


# JSON values one answer may hold, at least (a page: VALUES_PER_RECORD for each record a report
# may have, if more): parsed, each costs 50 bytes or more, so a page of `{},{},...` inflated from
# a small gzip (64 MB, 20 million objects) took 3 GB before any bound applied, and one of `"a",`
# 1.5 GB. Counted on the bytes first, as the commas, objects and lists ('{', '[' or ',' in a
# string counts too: a bound above the values, never below); a school's 3,000 records of a few
# dozen fields each are far under it.
ANSWER_VALUES = 4_000_000
VALUES_PER_RECORD = 20


class _TooManyValues(orjson.JSONDecodeError):
    """An answer with more values than it may have: not parsed."""


# What a transport error says of the server, beside httpx's name for it (a header line of
# 200 KB, or twenty thousand headers, read as "connection failed (RemoteProtocolError)").
_TRANSPORT_WHY: dict[type, str] = {
    httpx.RemoteProtocolError: (
        ": the server broke HTTP, a header too long or malformed, or the connection closed "
        "mid-answer"
    ),
    httpx.ReadError: ": the connection broke while reading the answer",
    httpx.WriteError: ": the connection broke while sending the request",
}


def _json(content: bytes, most: int = ANSWER_VALUES) -> Any:
    """A JSON answer; a UTF-8 byte order mark before it is ignored (RFC 8259 allows a reader
    to: some .NET servers send one). _TooManyValues (a JSONDecodeError: an answer read only for
    IRIS's words takes it as no JSON) past `most` values."""
    if len(content) > most and (
        content.count(b",") + content.count(b"{") + content.count(b"[") > most
    ):
        raise _TooManyValues("too many values", "", 0)
    return orjson.loads(content[3:] if content.startswith(_BOM) else content)


# A UTF-16 surrogate escaped alone (`"Jo\\ud83d"`: a name cut in the middle of an emoji, as .NET
# writes it): valid JSON to some readers, not to orjson, which refused the whole page, and the
# school's run failed every day until its MIS was mended. An escaped backslash is matched first
# (`\\\\ud83d` is text, not an escape), and a high surrogate followed by a low one is a pair.
_SURROGATE = re.compile(
    rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_BROKEN = "\ufffd"  # what a lone surrogate is read as


def _mend_surrogates(content: bytes) -> bytes:
    """`content` with each surrogate escaped alone read as U+FFFD (the records holding one are
    then invalid: _broken_fields_unreadable)."""

    def mend(match: re.Match[bytes]) -> bytes:
        found = match.group()
        return found if len(found) in (2, 12) else b"\\ufffd"

    return _SURROGATE.sub(mend, content)


def _broken_fields_unreadable(sent: list[Any], kept: list[dict[str, Any]]) -> None:
    """The fields of a mended page's records holding a broken character named unreadable and
    left out (`kept`: the records as kept, `sent` as sent): such a record is invalid (its
    account kept as it was, the record named in the bulk results), not read with a name cut
    short, nor without a field whose own name was cut (read as not sent, it cleared the
    account's)."""
    for raw, record in zip(sent, kept, strict=True):
        broken = [k for k, v in record.items() if type(v) is str and _BROKEN in v]
        named = [k.replace(_BROKEN, "") for k in raw if _BROKEN in k]  # (a page's records: dicts)
        if broken or named:
            for k in broken:
                record[k] = None
            _add_unreadable(
                record,
                *(f"{k} (a character cut in half)" for k in broken),
                *(f"{k} (a character cut in half in its name)" for k in named),
            )


def _add_unreadable(record: dict[str, Any], *said: str) -> None:
    """`said` (fields and why) added to what the kept record names unreadable: invalid then."""
    before = [record[UNREADABLE]] if record.get(UNREADABLE) else []
    record[UNREADABLE] = ", ".join([*before, *said])


def _read_again(content: bytes, pairs: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    """A page orjson has read, read again by the standard library, each object made by `pairs`
    from its names and values in order (what orjson does not tell: a name given twice). Raises
    ValueError or RecursionError as json.loads does."""
    text = content.decode("utf-8")
    return json.loads(text[1:] if text.startswith("\ufeff") else text, object_pairs_hook=pairs)


def _named_twice(content: bytes, key: str, escaped: bool) -> str | None:
    """What a page's own object gives twice ("names 'students' twice": orjson keeps the last,
    and a page of three records then of two was read as a whole report of two), or None.
    Looked for only where the page's names occur twice in its bytes, or a name is written with
    an escape ("stud\\u0065nts" is "students"): the page is then read again, slowly, by the
    standard library. A record's own fields given twice are no matter of the page's."""
    names = (key, *_PAGE_TOTALS)
    if all(content.count(b'"%s"' % n.encode()) < 2 for n in names) and not escaped:
        return None
    last: list[str | None] = [None]

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        # (the page's own object is the last one read: what it gives twice is what is kept)
        seen: set[str] = set()
        last[0] = next((n for n, _ in items if n in seen or seen.add(n)), None)
        return dict(items)

    try:
        _read_again(content, pairs)
    except (ValueError, RecursionError):  # (what orjson read, nested past the standard's depth)
        return "is nested too deep to be checked for names given twice"
    return f"names {last[0]!r} twice" if last[0] is not None else None


_TWICE = "\x00id twice"  # (no name a server sends: set by _ids_given_twice's reading only)


def _ids_given_twice(
    content: bytes, key: str, kept: list[dict[str, Any]], escaped: bool
) -> list[str]:
    """The ids (as read: the last given) of a page's records that give their MIS id twice, two
    ways (`{"schoolId": "1", "schoolId": "2"}`: JSON leaves open which is meant; orjson keeps
    the last, and the account linked to the first read as a leaver's). Each such record of
    `kept` is made invalid (its account kept as it was). Looked for only where the id's name
    occurs more often than the page's records give an id, or a name is written with an escape
    (`escaped`): the page is then read again by the standard library (a few milliseconds for a
    thousand records: also for a page whose records hold objects with an `id` of their own).
    Other fields given twice are read as the last, as JSON readers do."""
    name = _ID_KEY[key]
    given = sum(name in record for record in kept)
    if content.count(b'"%s"' % name.encode()) <= given and not escaped:
        return []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) < len(items) and len({str(v) for k, v in items if k == name}) > 1:
            out[_TWICE] = True
        return out

    try:
        sent = _read_again(content, pairs)
    except (ValueError, RecursionError):  # (_named_twice has refused such a page already)
        return []
    found = []
    for raw, record in zip(sent.get(key) or (), kept, strict=False):
        if isinstance(raw, dict) and raw.get(_TWICE):
            _add_unreadable(record, f"{name} (given twice, two ways)")
            found.append(str(record.get(name)))
    return found


def _escaped_name(content: bytes) -> bool:
    """Whether a name (a string followed by a colon) holds a \\u escape: IRIS's names are plain
    ASCII, and an escape can spell one again unseen by a count of its bytes. (A page of valid
    JSON: orjson has read it.)"""
    at = content.find(b"\\u")
    while at != -1:
        end = content.find(b'"', at)
        while end != -1 and _escaped(content, end):
            end = content.find(b'"', end + 1)
        if end == -1:
            return False
        after = end + 1
        while content[after : after + 1] in (b" ", b"\t", b"\n", b"\r"):
            after += 1
        if content[after : after + 1] == b":":
            return True
        at = content.find(b"\\u", after)
    return False


def _escaped(content: bytes, at: int) -> bool:
    """Whether the character at `at` is escaped: an odd number of backslashes before it."""
    start = at
    while start > 0 and content[start - 1] == 0x5C:
        start -= 1
    return (at - start) % 2 == 1


_PAGE_TOTALS = ("totalCount", "totalPages", "page", "pageSize")


def _why_not_json(content: bytes, exc: orjson.JSONDecodeError) -> str:
    """What is wrong with an answer that is not JSON, briefly: JSON is UTF-8; else the parser's
    reason and where (its own words, never the answer's: a server may echo the secret)."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f" (not UTF-8: byte {bad.start:,} is 0x{content[bad.start]:02x})"
    reason = " ".join(str(getattr(exc, "msg", "") or "").split())[:80]
    if not reason.isascii() or not reason.isprintable():
        return ""
    return f" ({reason} at byte {exc.pos:,})" if reason else ""


def _certificate_refused(exc: BaseException) -> str:
    """Why the server's certificate was refused, if that is what ended the connection."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            return " ".join(str(cause.verify_message or cause.reason or "refused").split())
        cause = cause.__cause__ or cause.__context__
    return ""


def _seconds(delay: float) -> str:
    """A wait as said in an error: 12.5s, or 1e+308s for what a hostile server asks."""
    return f"{delay:.1f}s" if delay < 1e6 else f"{delay:.3g}s"


def _event(ctx: _Ctx, message: str) -> None:
    if ctx.on_event:
        ctx.on_event(message)


def _school_label(ctx: _Ctx) -> str:
    name = " ".join((ctx.school.name or "").split())
    return f"{ctx.dfe} {name}".strip()


def _largest(claims: set[tuple[int | None, int | None]]) -> tuple[int | None, int | None]:
    """The largest totalPages and totalCount the pages said (None: none said one)."""
    pages = max((p for p, _ in claims if p is not None), default=None)
    count = max((c for _, c in claims if c is not None), default=None)
    return pages, count


def _repeated_page(pages: dict[int, list], number: int) -> int | None:
    """The earlier page that page `number` repeats record for record (None: none)."""
    ids = [item[1] for item in pages[number]]
    for earlier in sorted(pages):
        page = pages[earlier]
        if earlier != number and len(page) == len(ids) and [item[1] for item in page] == ids:
            return earlier
    return None


def _distinct(pages: dict[int, list]) -> int:
    """The records of the pages, one per MIS id (each record without an id counted)."""
    ids = [item[1] for page in pages.values() for item in page]
    return len(set(filter(None, ids))) + ids.count("") + ids.count(None)


def _may_hide_records(
    pages: dict[int, list], claims: set[tuple[int | None, int | None]], number: int
) -> bool:
    """Whether page `number`, sent again, may stand where other records were. Not when a page
    said the report had fewer pages (records removed while IRIS paged: the page past its end
    answered with the last, as when followed), nor when every record counted came (the largest
    count: a count that shrank to what was sent proves nothing). Without a count it may (IRIS
    may send fewer per page than asked: a short page is no end either). More records than
    counted is a doubt of its own (_belied)."""
    # (a page's totalPages is trusted only beside a count that what came bears out: one page
    # "of 100 records" holding 25 says nothing of where the report ends)
    came = _distinct(pages)
    fewest = min(
        (p for p, c in claims if p is not None and c is not None and c <= came), default=None
    )
    if fewest is not None and number > fewest:
        return False
    _, count = _largest(claims)
    return count is None or came < count


def _twice_sent(pages: dict[int, list]) -> tuple[int, int] | None:
    """The first two pages that hold the same records in the same order (None: none do). A page
    whose records have no id says nothing (two pages of one unreadable record look alike)."""
    seen: dict[tuple, int] = {}
    for number in sorted(pages):
        ids = tuple(item[1] for item in pages[number])
        if not any(ids):
            continue
        if ids in seen:
            return seen[ids], number
        seen[ids] = number
    return None


def _ignores_page(ctx: _Ctx, path: str, same: int, number: int) -> IrisError:
    past = "the first page" if same == 1 else f"page {same}"
    return IrisError(
        f"IRIS sent page {same} again as page {number}: it does not page the report, "
        f"so the records past {past} cannot be read",
        school=ctx.dfe,
        path=path,
    )


def _belied(
    pages: dict[int, list], claimed_pages: int | None, claimed_count: int | None
) -> str | None:
    """Why the totals IRIS gave cannot be the report's (None: nothing says so). Records past
    totalPages with a totalCount they agree with are a server that sends fewer per page than
    asked and counts its pages by the size asked (DESIGN section 4): the count stands."""
    received = sum(len(v) for v in pages.values())
    if claimed_count is not None:
        if received > claimed_count:
            return f"IRIS said {claimed_count} records and sent more ({received} so far)"
        return None
    beyond = [n for n in pages if pages[n] and claimed_pages is not None and n > claimed_pages]
    if beyond:
        return f"IRIS said {claimed_pages} pages and page {min(beyond)} had records"
    return None


def _int(value: Any) -> int | None:
    """A count IRIS sent: a whole number at least 0 (300, "300", 300.0), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    # ASCII digits only ("²" is a digit to str.isdigit), and few of them (int() refuses 4,300)
    if isinstance(value, str) and (digits := value.strip()).isascii() and digits.isdigit():
        return int(digits) if len(digits) <= 18 else None
    return None


def _canonical(doc: dict[str, Any]) -> bytes:
    """A record as JSON with its keys sorted: equal for equal records, whatever their order."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc), "timeout")


def _retry_after(resp: Answer) -> float | None:
    value = resp.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = _date_apart(value, resp.headers.get("Date", ""))
        if seconds is None:
            return None
    # a negative or not-a-number wait is no wait asked for (5 tries at once): our own backoff
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _date_apart(later: str, now: str) -> float | None:
    """Seconds from the answer's own Date to a Retry-After given as an HTTP date (RFC 9110
    10.2.3), or None: measured on the server's clock, so ours, which may differ, is not read;
    without a Date the wait is our own backoff."""
    try:
        until, sent = (_utc(parsedate_to_datetime(text)) for text in (later, now))
        return (until - sent).total_seconds()
    except (TypeError, ValueError, OverflowError):  # unparseable
        return None


def _utc(when: datetime) -> datetime:
    """An HTTP date is GMT: one read without a zone (asctime's form, `-0000`) is so too."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _is_invalid_client(resp: Answer) -> bool:
    try:
        body = _json(resp.content)
    except orjson.JSONDecodeError:
        return resp.status_code == 401
    if isinstance(body, dict) and body.get("error") in ("invalid_client", "unauthorized_client"):
        return True
    return resp.status_code == 401


_WORDS_READ = 4096  # characters of IRIS's words read; 200 are shown


# The error codes of OAuth 2.0 (RFC 6749 section 5.2) and its bearer tokens (RFC 6750): what a
# token request's answer is shown by. No other word of it: a server may echo the Client Secret
# it was sent in any form (reversed, lower-cased, letters only), which no blanking can know.
_OAUTH_CODES = frozenset(
    (
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_token",
        "insufficient_scope",
        "access_denied",
        "server_error",
        "temporarily_unavailable",
    )
)
# A run of letters and digits that reads as no word: one with digits in it, capitals amid small
# letters but as words joined (InvalidOperationException), or longer than words are. Not shown
# of a page's error (cut_opaque): an echo of the secret or the token in a form blank_secrets
# does not know (base32, rot13) is such a run.
_RUN = re.compile(r"[A-Za-z0-9]{12,}")
_WORD = re.compile(r"[A-Z][a-z]+")
_WORDS_JOINED = re.compile(r"[A-Z]?[a-z]+(?:[A-Z][a-z]+)+")
OPAQUE = "(…)"  # such a run, as shown (not the blanking's ***: no secret was seen in it)


_TAG = re.compile(r"<[^<>]{0,200}>")


def _iris_message(
    resp: Answer, ctx: _Ctx, token: _Token | None, secret_sent: bool = False
) -> str | None:
    """IRIS's own words, one short line, with the secret and token blanked if it echoed them.
    `secret_sent` (the token request, which carries the Client Secret): its OAuth error code
    only, if it gives one; a server may echo the secret in forms no blanking knows (reversed,
    base32, full-width)."""
    msg: str | None = None
    try:
        body = _json(resp.content)
    except orjson.JSONDecodeError:
        body = None
    if secret_sent:
        code = body.get("error") if isinstance(body, dict) else None
        return code if isinstance(code, str) and code in _OAUTH_CODES else None
    if isinstance(body, dict):
        bits = [
            str(body[k])
            for k in ("error", "error_description", "message", "title", "detail")
            if body.get(k)
        ]
        msg = ": ".join(dict.fromkeys(bits)) or None
    cut = msg is not None and len(msg) > _WORDS_READ
    if msg is None and not (isinstance(body, (dict, list)) and not body):  # `{}` says nothing
        cut = len(resp.content) > _WORDS_READ
        head = resp.content[:_WORDS_READ].decode("utf-8", "replace")
        msg = head.strip() or None  # (not the status's usual phrase: that is not IRIS's words)
    if not msg:
        return None
    # Only the start is read (a body of megabytes would take a minute to search for echoed
    # secrets), and a secret cut there in two is not shown by its first half (blank_secrets
    # `cut`): the spaces taken out below would bring the end of the start into what is shown.
    msg = msg[:_WORDS_READ]
    if "\x1b" in msg or "\x9b" in msg:
        msg = ESCAPES.sub("", msg)  # a terminal's escapes whole (its ESC alone left `[31m`)
    msg = "".join(c if c.isprintable() else " " for c in msg)
    secrets = [ctx.secret, token.value if token else None]
    msg = blank_secrets(msg, secrets, ctx.school.client_id, cut=cut)
    if "<" in msg and ">" in msg:  # an HTML error page: its words, not its tags
        msg = _TAG.sub(" ", msg)
    if not msg.strip():
        return None
    # and again: its escapes (\u001b) were read to find an echoed secret
    msg = " ".join("".join(c if c.isprintable() else " " for c in msg).split())
    msg = cut_opaque(msg)
    return msg[:200] + ("..." if len(msg) > 200 else "")


def cut_opaque(text: str) -> str:
    """`text` with each run of letters and digits that reads as no word (see _RUN) written as
    OPAQUE: what a server may have made of a secret, which its error need not show."""

    def opaque(match: re.Match[str]) -> str:
        run = match.group(0)
        if len(run) >= 40:
            return OPAQUE
        if _WORDS_JOINED.fullmatch(run):
            return run  # InvalidOperationException
        if len(run) < 20 and (
            run.isdigit() or (run.isalpha() and (run.islower() or run.isupper()))
        ):
            return run  # unauthorized, UNAUTHORIZED, a number
        if len(run) < 20 and _WORD.fullmatch(run):
            return run  # Establishment
        return OPAQUE

    return _RUN.sub(opaque, text)
