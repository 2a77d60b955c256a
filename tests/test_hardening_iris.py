"""The IRIS client against a hostile or broken server (DESIGN section 4): every bound holds, every
malformed answer is a clear error, and nothing is followed that should not be."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote

import httpx
import pytest

from uso_tui.config import IrisBounds, allowed_mis_hosts, iris_bounds
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import School
from uso_tui.iris.client import IrisClient
from uso_tui.iris.errors import IrisError
from uso_tui.iris.parse import MAX_TEXT, parse_employee, parse_student, text

DFE = "204-3210"
SECRET = "s3cr3t-Hostile-0123456789"
TOKEN = {"access_token": "tok-1", "expires_in": 3600, "token_type": "Bearer"}


def school() -> School:
    return School(dfe=DFE, name="Oak", mis="iSAMS", url="http://iris.test/x", client_id="cid")


def pupil(number: int) -> dict:
    return {"schoolId": f"P{number}", "forename": "Amy", "surname": "Smith", "dob": "2014-05-03"}


class NoSleep:
    def __init__(self, clock: list[float] | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock[0] += seconds


class Server:
    """A mock IRIS: `page(request)` answers the report's pages; every request is recorded."""

    def __init__(self, page, token=None) -> None:
        self.page = page
        self.token = token or (lambda r: httpx.Response(200, json=TOKEN))
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/auth/connect/token"):
            return self.token(request)
        return self.page(request)

    def pages_asked(self) -> list[int]:
        return [int(r.url.params["page"]) for r in self.requests if "page" in r.url.params]

    def client(self, **kw) -> IrisClient:
        kw.setdefault("sleep", NoSleep())
        return IrisClient(
            transport=httpx.MockTransport(self),
            allowed_hosts=frozenset({"iris.test:80"}),
            **kw,
        )


async def fetch(server: Server, **kw):
    async with server.client(**kw) as client:
        return await client.fetch_report(school(), SECRET, "students")


def plan_of(export, linked: list[dict]):
    """The plan of `export` for a school whose accounts are linked to the records `linked`."""
    from datetime import date  # noqa: PLC0415

    from uso_tui.sync.plan import account_from_record, plan  # noqa: PLC0415
    from uso_tui.sync.plan_types import Snapshot  # noqa: PLC0415

    accounts = [
        account_from_record(parse_student(doc), DFE, f"u{n}.204") for n, doc in enumerate(linked)
    ]
    return plan(export, Snapshot(school=DFE, accounts=accounts), date(2026, 3, 2), school())


def listing(items: list, page: int = 1, total_pages: int = 1, total: int | None = None) -> dict:
    return {
        "students": items,
        "page": page,
        "pageSize": 500,
        "totalCount": len(items) if total is None else total,
        "totalPages": total_pages,
    }


# ---- answers that are not what section 4 says


async def test_redirect_is_an_error_and_its_target_never_asked() -> None:
    server = Server(
        lambda r: (
            httpx.Response(302, headers={"Location": "http://evil.test/steal"})
            if r.url.host == "iris.test"
            else httpx.Response(200, json=listing([pupil(1)]))
        )
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert ei.value.status == 302
    assert {r.url.host for r in server.requests} == {"iris.test"}
    assert len(server.pages_asked()) == 1  # a redirect is not transient: not retried
    # said as such: "Found" (the status's usual phrase) is not IRIS's words
    assert "a redirect, not followed" in str(ei.value) and "Found" not in str(ei.value)


async def test_token_redirect_is_not_followed_with_the_secret() -> None:
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: (
            httpx.Response(307, headers={"Location": "http://evil.test/token"})
            if r.url.host == "iris.test"
            else httpx.Response(200, json=TOKEN)
        ),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert ei.value.status == 307 and SECRET not in str(ei.value)
    assert {r.url.host for r in server.requests} == {"iris.test"}


ODD_SECRET = "p@ss w+rd&x=1%Z/\u00fc-0123456789"  # every character a form encodes


@pytest.mark.parametrize("answer", ["json", "html", "lower"])
async def test_a_token_error_echoing_the_form_does_not_show_the_secret_encoded(answer) -> None:
    """A token endpoint answering 400 with the form it was sent (URL-encoded: p%40ss+w%2Brd...)
    had the secret shown in the error, and kept in the run, its audit event and the feed."""
    from urllib.parse import quote_plus

    def token(request: httpx.Request) -> httpx.Response:
        form = request.content.decode()
        if answer == "json":
            return httpx.Response(400, json={"error": "invalid_request", "error_description": form})
        return httpx.Response(
            502, text=f"<html>bad gateway: {form.lower() if answer == 'lower' else form}</html>"
        )

    server = Server(lambda r: httpx.Response(200, json=listing([])), token=token)
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), ODD_SECRET, "students")
    said = str(ei.value) + (ei.value.iris_message or "")
    # of the token endpoint's words, its OAuth error code only (a form no blanking knows may
    # hold the secret)
    assert ei.value.iris_message == ("invalid_request" if answer == "json" else None)
    for form in (ODD_SECRET, quote_plus(ODD_SECRET), quote_plus(ODD_SECRET).lower(), "0123456789"):
        assert form not in said


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s[::-1],
        lambda s: ":".join(f"{b:02x}" for b in s.encode()),
        lambda s: "".join(f"\\x{b:02x}" for b in s.encode()),
        lambda s: __import__("base64").b32encode(s.encode()).decode(),
        lambda s: ",".join(str(b) for b in s.encode()),
        lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
        lambda s: __import__("base64").b85encode(s.encode()).decode(),
    ],
    ids=["reversed", "colon-hex", "py-escapes", "base32", "decimal", "full-width", "base85"],
)
async def test_a_token_error_echoing_the_secret_in_any_form_shows_only_its_code(encode) -> None:
    """The secret echoed reversed, as colon hex, base32, decimal bytes, full-width letters...:
    forms the blanking does not know were shown, and kept in the run and its audit event."""

    def token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_client", "error_description": encode(ODD_SECRET)}
        )

    server = Server(lambda r: httpx.Response(200, json=listing([])), token=token)
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), ODD_SECRET, "students")
    assert ei.value.iris_message == "invalid_client"
    assert encode(ODD_SECRET) not in str(ei.value)


@pytest.mark.parametrize("status", [400, 401])
async def test_a_token_error_code_made_of_the_secret_is_not_shown(status) -> None:
    """The secret's letters, reversed and lower-cased, as the OAuth error code: shown as IRIS's
    words and kept in the run, its audit event and the recent file (the code was shown when it
    looked like one and held not the secret as typed)."""
    secret = "qwertyuiopASDFGHjklzx9"
    code = "".join(c for c in secret.lower() if c.isalpha())[::-1]

    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(status, json={"error": code}),
    )
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), secret, "students")
    assert ei.value.iris_message is None and code not in str(ei.value)


@pytest.mark.parametrize("error", [{"code": "x"}, ["invalid_client"], 7])
async def test_a_token_error_that_is_no_string_is_a_refusal_not_a_crash(error) -> None:
    """`{"error": {"code": ...}}` from the token endpoint: the run failed with "unhashable type:
    'dict'" (the code looked up among OAuth's), where it said IRIS refused the Client ID."""
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(401, json={"error": error}),
    )
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), SECRET, "students")
    assert "unhashable" not in str(ei.value) and ei.value.iris_message is None


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ({"title": "Unauthorized"}, "Unauthorized"),
        ({"message": "Authentication failed: Organisation not licensed"}, "Organisation"),
        ({"message": "System.InvalidOperationException: bad page"}, "InvalidOperationException"),
        ({"message": "Establishment 1234 unknown"}, "Establishment 1234 unknown"),
    ],
)
async def test_a_page_error_in_words_is_shown_as_said(said, shown) -> None:
    """Words of twelve letters or more were cut as if they held a secret ("IRIS said: ***")."""
    server = Server(lambda r: httpx.Response(500, json=said))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert shown in (ei.value.iris_message or "") and "***" not in str(ei.value)


async def test_a_page_error_echoing_the_secret_in_rot13_with_its_separators_is_withheld():
    """rot13 keeps a secret's separators, each run under twelve characters: shown whole."""
    import codecs

    secret = "Sup3r/Secr3t+Val_9Qx&z"
    echoed = codecs.encode(secret, "rot13")
    server = Server(lambda r: httpx.Response(500, json={"message": f"saw {echoed}"}))
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), secret, "students")
    assert echoed not in str(ei.value) + (ei.value.iris_message or "")


async def test_a_page_error_echoing_the_secret_between_html_tags_is_withheld() -> None:
    """An HTML error page with a tag every seven characters of the secret: read with only its
    letters and digits kept, the tags' own letters broke every run of eight."""
    secret = "Sup3rS3cretValue-XYZ987"
    echoed = "<p>No school for key " + "<i>".join(secret[i : i + 7] for i in range(0, 23, 7))
    server = Server(lambda r: httpx.Response(404, text=echoed + "</p>"))
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), secret, "students")
    said = (str(ei.value) + (ei.value.iris_message or "")).casefold()
    assert not any(secret[i : i + 5].casefold() in said for i in range(len(secret) - 4))


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: __import__("base64").b32encode(s.encode()).decode(),
        lambda s: __import__("codecs").encode(s, "rot13"),
        lambda s: __import__("base64").b32encode(s.encode()).decode().lower(),
    ],
    ids=["base32", "rot13", "base32-lower"],
)
@pytest.mark.parametrize("what", ["secret", "token"])
async def test_a_page_error_echoing_the_secret_or_token_encoded_does_not_show_it(
    encode, what
) -> None:
    """A page's 500 saying "saw " and the secret (which the server had from the token request)
    or the bearer token in base32 or rot13: shown as IRIS's words, stored with the run."""
    secret, token = "SuperSecretXYZ123", "tok3nV4lue9QxZ"
    echoed = encode(secret if what == "secret" else token)
    server = Server(
        lambda r: httpx.Response(500, json={"message": f"saw {echoed}"}),
        token=lambda r: httpx.Response(200, json={"access_token": token, "expires_in": 3600}),
    )
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), secret, "students")
    said = str(ei.value) + (ei.value.iris_message or "")
    assert echoed not in said and "IRIS said" in said  # (withheld, or the run cut)


ECHOED = "Sup3r/Secr3t+Val_9Qx&z"


def _form(secret: str, pad: int) -> bytes:
    return f"grant_type=client_credentials&client_id=cid&x={'y' * (30 + pad)}&client_secret={secret}".encode()


async def _said_when_the_token_is_refused(status: int, text: str, secret: str) -> str:
    """What the error says when IRIS refuses the token request with `text`."""
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(status, text=text),
    )
    async with server.client() as client:
        with pytest.raises(IrisError) as ei:
            await client.fetch_report(school(), secret, "students")
    return str(ei.value) + (ei.value.iris_message or "")


@pytest.mark.parametrize(
    "echo",
    [
        lambda s: '{"errors": {"sent": "' + s.replace("/", "\\/") + '"}}',  # PHP's JSON
        lambda s: "<p>client secret " + s.replace("&", "&amp;") + " refused</p>",  # an HTML page
        lambda s: '{"x": "' + "".join(f"\\u{ord(c):04x}" for c in s) + '"}',  # .NET's JSON
        lambda s: "Authorization: Basic " + base64.b64encode(f"cid:{s}".encode()).decode(),
        lambda s: "bad credentials " + base64.b64encode(s.encode()).decode(),
        lambda s: "SECRET WAS " + s.upper(),
        lambda s: f"secret was {s[:8]}\n{s[8:]} (wrapped)",
        lambda s: "sent " + quote(quote(s, safe=""), safe=""),  # URL-encoded twice
        lambda s: "sent 0x" + s.encode().hex(),
        lambda s: f"sent {s[:7]}...{s[7:]}",  # broken by dots
        lambda s: "you sent " + base64.b64encode(f"Bearer {s}".encode()).decode(),
        lambda s: "sent " + quote(quote(quote(quote(s, safe=""), safe=""), safe=""), safe=""),
        *(  # the form echoed as MIME base64, wrapped at 76 columns, the wrap at every place
            (lambda s, pad=pad: "echo: " + base64.encodebytes(_form(s, pad)).decode())
            for pad in range(4)
        ),
        lambda s: (
            "Authorization: Basic "
            + (lambda h: f"{h[:10]}\n{h[10:]}")(base64.b64encode(f"cid:{s}".encode()).decode())
        ),
    ],
)
async def test_a_secret_echoed_escaped_encoded_or_wrapped_is_never_shown(echo) -> None:
    said = await _said_when_the_token_is_refused(400, echo(ECHOED), ECHOED)
    # read as a person would: JSON escapes decoded, spaces and line breaks ignored, any case
    flat = "".join(said.encode().decode("unicode_escape").split()).casefold()
    for value in (ECHOED, f"cid:{ECHOED}"):
        assert base64.b64encode(value.encode()).decode().casefold() not in flat
    assert "secr3t" not in flat and "9qx" not in flat


@pytest.mark.parametrize(
    "echo",
    [
        lambda s: f"invalid_client: bad secret {s[:-1]}",  # less its last character
        lambda s: f"invalid_client: bad secret {s[1:]}",  # less its first
        lambda s: f"you sent {s[:11]} and then {s[11:]}",  # in two halves, words between
        lambda s: " " * 4050 + f"Invalid client credentials: secret {s} was not recognised",
        lambda s: '{"error": "' + " " * 4070 + f'bad secret {s}"' + "}",  # cut in a JSON field
        lambda s: " " * 4089 + s,  # its first 7 characters the last read: under 8 in a row
    ],
)
async def test_part_of_a_secret_echoed_or_cut_where_iris_s_words_are_cut_is_never_shown(
    echo,
) -> None:
    """A server that echoes the secret less a character, or in two halves, or after padding
    that puts it where the words read are cut (the spaces taken out then brought its first half
    into what is shown), told most of it."""
    secret = "Sup3rS3cretValue-XYZ987"
    said = (await _said_when_the_token_is_refused(401, echo(secret), secret)).casefold()
    for i in range(len(secret) - 4):
        assert secret[i : i + 5].casefold() not in said


async def test_a_long_token_leaves_iris_s_words_of_a_long_error_shown() -> None:
    """A cut answer dropped as many characters at its end as the longest form of the secrets
    (the token's hex: twice its length): with a token of 2,000 characters nothing of IRIS's
    words was left to show."""
    token = "t0K" + "a1B2c3" * 700
    server = Server(
        lambda r: httpx.Response(502, text="Bad gateway: the upstream timed out " + "x" * 6000),
        token=lambda r: httpx.Response(
            200, json={"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        ),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server, max_tries=1)
    assert (ei.value.iris_message or "").startswith("Bad gateway: the upstream timed out")


async def test_a_token_echoed_as_a_base64_bearer_header_is_never_shown() -> None:
    token = "tok-Xq81nB7s0PzaLm4v"
    echoed = base64.b64encode(f"Bearer {token}".encode()).decode()
    server = Server(
        lambda r: httpx.Response(403, json={"error": f"you sent {echoed}"}),
        token=lambda r: httpx.Response(
            200, json={"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        ),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    said = str(ei.value) + (ei.value.iris_message or "")
    assert echoed not in said and token not in said


async def test_iris_words_escaped_as_json_reach_no_terminal_as_control_characters() -> None:
    """`\\u001b[2J` in IRIS's JSON was decoded (to look for an echoed secret) after the
    control characters were taken out: a real ESC reached the operator's terminal."""
    said = "\\u001b[2J\\u001b]52;c;cm0gLXJmIH4=\\u0007 \\u009b31m refused"
    # the escapes as text in IRIS's words (the JSON holds "\\\\u001b")
    body = {"error": "bad_request", "error_description": said}
    server = Server(lambda r: httpx.Response(400, json=body))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    message = ei.value.iris_message or ""
    assert "refused" in message and "[2J" in message
    assert all(c.isprintable() for c in message + str(ei.value))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"employees": [], "totalPages": 1}', "has no 'students' list"),
        (b'{"students": {"a": 1}}', "has no 'students' list"),
        (b"[1, 2, 3]", "has no 'students' list"),
        (b"<html>Service Unavailable</html>", "not JSON (unexpected character"),
        (b"", "not JSON (Input is a zero-length, empty document at byte 0)"),
        (b'{"students": [{"forename": NaN}]}', "not JSON (unexpected character, expected a JSON"),
        # (a lone surrogate is a broken name, not a broken page: see
        # test_a_name_cut_in_the_middle_of_a_character_makes_its_record_invalid_not_the_page)
        (b'{"students": [{"forename": "\\q"}]}', "not JSON (invalid escaped sequence in string"),
        (b"[" * 5000, "not JSON (depth limit exceeded at byte 1,025)"),
        (b'{"students": [{"schoolId": "P1"}, 7]}', "not a record"),
        (b'{"students": [null]}', "not a record"),
        (b'{"students": [["P1", "Amy"]]}', "not a record"),
    ],
)
async def test_malformed_200_is_a_clear_error(body: bytes, says: str) -> None:
    server = Server(lambda r: httpx.Response(200, content=body))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert says in str(ei.value) and "HTTP 200" in str(ei.value)
    assert len(server.pages_asked()) == 1


async def test_a_token_answer_of_html_says_it_is_not_json() -> None:
    """A login page from a proxy (or a MIS URL that is not the IRIS API) said "the token answer
    has no access_token" (an outside evaluator's find): it says what came instead."""
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(
            200, text="<html><body>Sign in</body></html>", headers={"content-type": "text/html"}
        ),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert "the token answer is not JSON (text/html)" in str(ei.value)
    assert server.pages_asked() == []
    # a media type of the server's own making is not shown (it may carry the secret it was sent)
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(200, text="x", headers={"content-type": f"text/{SECRET}"}),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert SECRET.lower() not in str(ei.value).lower() and "is not JSON:" in str(ei.value)


@pytest.mark.parametrize(
    "answer",
    [
        {"token_type": "Bearer", "expires_in": 3600},
        {"access_token": "", "expires_in": 3600},
        {"access_token": 12345},
        ["tok"],
    ],
)
async def test_token_answer_without_access_token(answer) -> None:
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(200, json=answer),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert "no access_token" in str(ei.value)
    assert server.pages_asked() == []  # no report asked for without a token


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("abc\r\nX-Injected: 1", "not a bearer token (18 characters)"),
        ("tök", "not a bearer token (3 characters)"),
        ("a b", "not a bearer token"),
        ("x" * 10_000_000, "10000000 characters, too long"),
    ],
    ids=["line break", "not ASCII", "space", "10 MB"],
)
async def test_a_token_that_cannot_be_a_header_is_refused_unshown(token, says) -> None:
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(200, json={"access_token": token, "expires_in": 3600}),
    )
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    said = str(ei.value)  # the token itself is a credential: never in the message
    assert says in said and "X-Injected" not in said and "ök" not in said and len(said) < 300
    assert server.pages_asked() == []


async def test_a_long_jwt_is_a_token() -> None:
    jwt = "eyJ" + "a" * 4000 + "." + "b" * 3000 + "." + "c_-" * 100
    server = Server(
        lambda r: httpx.Response(200, json=listing([pupil(1)])),
        token=lambda r: httpx.Response(200, json={"access_token": jwt, "expires_in": 3600}),
    )
    assert (await fetch(server)).size == 1


async def test_token_answer_not_json() -> None:
    server = Server(
        lambda r: httpx.Response(200, json=listing([])),
        token=lambda r: httpx.Response(200, content=b"ok"),
    )
    with pytest.raises(IrisError, match="the token answer is not JSON"):
        await fetch(server)


# ---- pages and records


async def test_total_pages_above_the_bound_fails_before_following() -> None:
    server = Server(lambda r: httpx.Response(200, json=listing([pupil(1)], total_pages=99_999)))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert "99999 pages" in str(ei.value) and "max_pages" in str(ei.value)
    assert "2000" in str(ei.value)  # the default bound
    assert server.pages_asked() == [1]


async def test_total_pages_just_above_a_configured_bound() -> None:
    server = Server(lambda r: httpx.Response(200, json=listing([pupil(1)], total_pages=6)))
    with pytest.raises(IrisError, match="6 pages, more than the 5 pages"):
        await fetch(server, bounds=IrisBounds(max_pages=5))
    assert server.pages_asked() == [1]
    ok = Server(
        lambda r: httpx.Response(
            200,
            json=listing([pupil(int(r.url.params["page"]))], int(r.url.params["page"]), 5, total=5),
        )
    )
    export = await fetch(ok, bounds=IrisBounds(max_pages=5))
    assert len(export.records) == 5


async def test_endless_total_count_is_not_followed_past_the_page_bound() -> None:
    """No totalPages, a totalCount that never comes: followed up to max_pages, then an error."""

    def page(request: httpx.Request) -> httpx.Response:
        page_number = int(request.url.params["page"])
        return httpx.Response(200, json={"students": [pupil(page_number)], "totalCount": 150})

    server = Server(page)
    with pytest.raises(IrisError, match="beyond page 20, more than the 20 pages .*max_pages"):
        await fetch(server, bounds=IrisBounds(max_pages=20))
    assert server.pages_asked() == list(range(1, 21))


async def test_an_export_keeps_what_iris_said_it_holds() -> None:
    """totalCount 5 with 3 records sent (and then an empty page): the export says 2 are missing,
    for the planner, which then unallocates nobody (plan._short_of)."""
    server = Server(
        lambda r: httpx.Response(
            200,
            json=listing([pupil(n) for n in range(3)] if "page=1&" in str(r.url) else [], total=5),
        )
    )
    got = await fetch(server)
    assert (got.size, got.claimed, got.missing) == (3, 5, 2)
    complete = await fetch(Server(lambda r: httpx.Response(200, json=listing([pupil(1)]))))
    assert (complete.claimed, complete.missing) == (1, 0)


async def test_total_count_above_the_record_bound_fails_at_once() -> None:
    server = Server(lambda r: httpx.Response(200, json=listing([pupil(1)], total=10**9)))
    with pytest.raises(IrisError, match="1000000000 records, .*200000 records.*max_records"):
        await fetch(server)
    assert server.pages_asked() == [1]


async def test_records_past_the_bound_fail_whatever_the_server_claims() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        page_number = int(request.url.params["page"])
        items = [pupil(page_number * 100 + i) for i in range(4)] if page_number <= 3 else []
        return httpx.Response(200, json=listing(items, page_number, 3, total=5))  # undercounts

    with pytest.raises(IrisError, match="more than the 10 records a report may have"):
        await fetch(Server(page), bounds=IrisBounds(max_records=10))
    export = await fetch(Server(page), bounds=IrisBounds(max_records=12))
    assert len(export.records) == 12


@pytest.mark.parametrize(
    "totals",
    [
        {"totalPages": 2, "totalCount": 5},  # fewer records than page 1 alone holds
        {"totalPages": 0, "totalCount": 0},  # none, with records on the page
        {"totalPages": 1.5, "totalCount": 5},  # no whole count of pages, too few records
        {"totalPages": 1, "totalCount": 1300},  # pages that stop at 1 of 3, a count not reached
    ],
)
async def test_totals_the_pages_belie_are_followed_to_an_empty_page_and_doubted(totals) -> None:
    """Every page says totals its records contradict: the export was taken as complete where
    the totals said it ended (page 2 of 3 full), and rule 7 unallocated the 40 pupils on page 3.
    Now it is followed to an empty page, and doubted, so that nobody is unallocated on its word."""
    pages = {
        1: [pupil(n) for n in range(500)],
        2: [pupil(n) for n in range(500, 1000)],
        3: [pupil(n) for n in range(1000, 1040)],
    }
    server = paged(pages, lambda n: totals)
    export = await fetch(server)
    assert len(export.records) == 1040 and server.pages_asked() == [1, 2, 3, 4]
    # doubted, or short of the count it gave: either way not a complete export (plan._short_of)
    assert any("IRIS said" in doubt for doubt in export.doubts) or export.missing
    planned = plan_of(export, linked=[pupil(n) for n in range(1000, 1100)])
    assert planned.counts["unallocated"] == 0


async def test_a_record_giving_its_id_twice_two_ways_is_invalid_and_holds_the_leavers() -> None:
    """`{"schoolId": "P1", "schoolId": "P2"}`: JSON leaves open which is meant, orjson keeps the
    last, and the record was read as P2's: P1's account then read as a leaver's, unallocated.
    Now the record is invalid (its account kept as it was) and the export doubted."""
    page = json.dumps(listing([pupil(1), pupil(3)])).replace(
        '"schoolId": "P1"', '"schoolId": "P1", "schoolId": "P2"'
    )
    assert page.count('"schoolId"') == 3
    export = await fetch(Server(lambda r: httpx.Response(200, content=page.encode())))
    rec = next(r for r in export.records if r.mis_id == "P2")
    assert rec.unreadable and "schoolId (given twice, two ways)" in rec.unreadable
    assert any("give their MIS id twice" in doubt and "P2" in doubt for doubt in export.doubts)
    planned = plan_of(export, linked=[pupil(1), pupil(2), pupil(3)])
    assert planned.counts["unallocated"] == 0
    assert planned.counts["invalid"] == 1
    # the same id twice, the same way, is no doubt
    same = json.dumps(listing([pupil(1), pupil(3)])).replace(
        '"schoolId": "P1"', '"schoolId": "P1", "schoolId": "P1"'
    )
    export = await fetch(Server(lambda r: httpx.Response(200, content=same.encode())))
    assert not export.doubts and all(not r.unreadable for r in export.records)


async def test_a_school_stored_with_a_host_of_other_letters_than_ascii_still_fetches() -> None:
    """Hosts must be typed in plain ASCII now; a school stored before with bücher.isams.cloud
    still runs (its every run failed: the stored URL was refused as if typed)."""
    from dataclasses import replace  # noqa: PLC0415

    server = Server(lambda r: httpx.Response(200, json=listing([pupil(1)])))
    stored = replace(school(), mis="iSAMS", url="https://bücher.isams.cloud")
    async with server.client() as client:
        export = await client.fetch_report(stored, SECRET, "students")
    assert [r.mis_id for r in export.records] == ["P1"]
    assert server.requests[-1].url.raw_host == b"xn--bcher-kva.isams.cloud"


async def test_an_empty_page_between_pages_of_records_is_a_doubt() -> None:
    """totalPages 3 without a count, page 2 empty and page 3 not: a page of records lost (records
    leaving while IRIS pages empty the last pages, not one between). Its pupils read as leavers
    and were unallocated, the client only logging a warning; now the export is doubted."""
    pages = {1: [pupil(n) for n in range(500)], 3: [pupil(n) for n in range(1000, 1040)]}
    export = await fetch(paged(pages, lambda n: {"totalPages": 3}))
    assert len(export.records) == 540
    assert any("page 2 of students was empty" in doubt for doubt in export.doubts)
    planned = plan_of(export, linked=[pupil(n) for n in range(500, 560)])
    assert planned.counts["unallocated"] == 0


async def test_totals_that_agree_with_the_pages_are_no_doubt() -> None:
    pages = {1: [pupil(n) for n in range(500)], 2: [pupil(n) for n in range(500, 540)]}
    server = paged(pages, lambda n: {"totalPages": 2, "totalCount": 540})
    export = await fetch(server)
    assert len(export.records) == 540 and server.pages_asked() == [1, 2]
    assert not export.doubts


def paged(pages: dict[int, list[dict]], totals=lambda n: {}):
    """A server answering `pages` (absent pages empty), each with the totals `totals(n)` gives."""

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        return httpx.Response(200, json={"students": pages.get(number, []), **totals(number)})

    return Server(page)


@pytest.mark.parametrize(
    "totals",
    [
        {},
        {"totalCount": -1},
        {"totalCount": None},
        {"totalCount": "\u00b2"},  # a digit to str.isdigit, not to int()
        {"totalPages": "9" * 5000},  # more digits than int() converts
    ],
)
async def test_without_usable_totals_every_page_is_followed_to_an_empty_one(totals) -> None:
    """No totals (or a negative one): the second page of 25 had been left unasked, and its
    pupils' accounts unallocated. A short page is no end (IRIS may send fewer than asked)."""
    pages = {1: [pupil(n) for n in range(25)], 2: [pupil(n) for n in range(25, 30)]}
    server = paged(pages, lambda n: totals)
    export = await fetch(server)
    assert len(export.records) == 30 and server.pages_asked() == [1, 2, 3]
    assert not export.doubts


async def test_a_server_that_ignores_the_page_asked_fails_at_once_without_a_count() -> None:
    """Page 1 sent whatever page is asked, and no totals: followed to the page bound (2,000
    requests, a minute and a half) to fail there. The second page repeating the first says it."""
    first = [pupil(n) for n in range(25)]
    server = Server(lambda r: httpx.Response(200, json={"students": first}))
    with pytest.raises(IrisError, match="sent page 1 again as page 2: it does not page"):
        await fetch(server)
    assert server.pages_asked() == [1, 2]


@pytest.mark.parametrize(
    "totals",
    [{"totalCount": 50, "totalPages": 2}, {"totalPages": 3}],
)
async def test_a_server_that_ignores_the_page_asked_fails_when_it_gives_totals_too(totals) -> None:
    """Totals announced, page 1 sent whatever page is asked: the pages asked together were
    kept once each, and the run succeeded on half a report (the route without totals failed)."""
    first = [pupil(n) for n in range(25)]
    server = Server(lambda r: httpx.Response(200, json={"students": first, **totals}))
    with pytest.raises(IrisError, match="sent page 1 again as page 2: it does not page"):
        await fetch(server)


@pytest.mark.parametrize(
    ("pages", "totals"),
    [
        # totalPages overcounts, its last page sent again for the page past it
        ({1: range(25), 2: range(25, 50), 3: range(25, 50)}, {"totalPages": 3, "totalCount": 50}),
        # one short page sent for every page asked: the report is that page
        ({1: range(5), 2: range(5)}, {"totalPages": 2, "totalCount": 5}),
        # more records than counted, the last page sent again: a doubt, not a failure
        ({1: range(25), 2: range(25, 50), 3: range(25, 50)}, {"totalPages": 3, "totalCount": 40}),
    ],
)
async def test_a_page_sent_again_where_every_record_came_is_read(pages, totals) -> None:
    """A server that answers a page past its real last one with the last again, every record
    counted come: its run failed as "does not page the report". (Without a count a page sent
    again fails, as it does when followed: IRIS may send fewer per page than asked.)"""
    server = paged({n: [pupil(i) for i in ids] for n, ids in pages.items()}, lambda n: totals)
    export = await fetch(server)
    assert len(export.records) == len(set(pages[1]) | set(pages[2]))
    # (the page sent again was counted as more records than said)
    assert not [d for d in export.doubts if totals["totalCount"] >= len(export.records)]


async def test_a_count_that_shrinks_to_the_page_sent_again_does_not_hide_it() -> None:
    """Page 1 counts 100 records, the pages after it (page 1 again) 25: the smallest count
    matched what came, and a quarter of the report was read as all of it."""
    first = [pupil(n) for n in range(25)]
    server = paged(
        dict.fromkeys(range(1, 5), first),
        lambda n: {"totalPages": 4, "totalCount": 100 if n == 1 else 25},
    )
    with pytest.raises(IrisError, match="sent page 1 again as page 2"):
        await fetch(server)


async def test_records_removed_while_iris_pages_and_the_page_past_the_end_sent_again() -> None:
    """Page 1 counts 51 records on 3 pages; two are removed, and the later pages count 49 on 2:
    page 3 is page 2 again (past the end they say). Every record left came: the run failed as
    "does not page the report"; it is read, doubted (the totals changed)."""
    pages = {1: [pupil(n) for n in range(25)], 2: [pupil(n) for n in range(27, 51)]}
    pages[3] = pages[2]
    server = paged(
        pages, lambda n: {"totalPages": 3, "totalCount": 51} if n == 1 else
        {"totalPages": 2, "totalCount": 49},
    )  # fmt: skip
    export = await fetch(server)
    assert len(export.records) == 49 and any("totals changed" in d for d in export.doubts)


@pytest.mark.parametrize("later", [{"totalPages": 1, "totalCount": 100}, {"totalPages": 1}])
async def test_a_later_page_that_says_the_report_ended_is_not_believed_against_its_count(later):
    """Page 1 sent for every page, page 1 counting 100 records on 4 pages and the later ones
    saying 1 page (of 100, or of no count): taken as the report's end, a quarter of it read."""
    first = [pupil(n) for n in range(25)]
    server = paged(
        dict.fromkeys(range(1, 5), first),
        lambda n: {"totalPages": 4, "totalCount": 100} if n == 1 else later,
    )
    with pytest.raises(IrisError, match="sent page 1 again as page 2"):
        await fetch(server)


async def test_pages_of_records_without_ids_are_no_repeat() -> None:
    """Two pages each of one record with no id look alike and say nothing of the paging."""
    pages = {1: [{"forename": "A"}], 2: [{"forename": "B"}]}
    export = await fetch(paged(pages, lambda n: {"totalPages": 2, "totalCount": 2}))
    assert len(export.records) == 2


async def test_a_count_sent_as_a_whole_float_is_a_count() -> None:
    pages = {1: [pupil(n) for n in range(25)], 2: [pupil(n) for n in range(25, 30)]}
    export = await fetch(paged(pages, lambda n: {"totalCount": 30.0}))
    assert (export.claimed, len(export.records), export.missing) == (30, 30, 0)


async def test_totals_that_grow_while_iris_pages_are_followed_and_doubted() -> None:
    """Page 1 says 29 pages of 290 records, later pages 30 of 300: page 30 is asked for too,
    and the export is doubted (records moved between pages while IRIS paged)."""
    pages = {n: [pupil(n * 100 + i) for i in range(10)] for n in range(1, 31)}

    def totals(n: int) -> dict:
        return (
            {"totalCount": 290, "totalPages": 29}
            if n == 1
            else {"totalCount": 300, "totalPages": 30}
        )

    server = paged(pages, totals)
    export = await fetch(server)
    assert len(export.records) == 300 and 30 in server.pages_asked()
    assert export.doubts == ["IRIS's totals changed while it paged (290 then 300 records)"]


async def test_a_page_without_totals_after_one_with_them_is_no_doubt() -> None:
    pages = {1: [pupil(1)], 2: [pupil(2)]}
    export = await fetch(
        paged(pages, lambda n: {"totalCount": 2, "totalPages": 2} if n == 1 else {})
    )
    assert len(export.records) == 2 and not export.doubts


# ---- deadlines (the real-socket trickle is in test_hardening_deadline.py)


async def test_report_deadline_bounds_its_retries() -> None:
    """A server that is down for good: the retries stop where the report's deadline would pass,
    whatever max_tries and max_retry_seconds allow."""
    clock = [1000.0]
    server = Server(lambda r: httpx.Response(503))
    with pytest.raises(IrisError) as ei:
        await fetch(
            server,
            bounds=IrisBounds(report_deadline_s=60),
            max_tries=1000,
            max_retry_seconds=10**6,
            backoff_cap=8,
            sleep=NoSleep(clock),
            clock=lambda: clock[0],
        )
    assert "report_deadline_s" in str(ei.value) and "60s" in str(ei.value)
    assert clock[0] <= 1060
    assert 5 < len(server.pages_asked()) < 40


async def test_a_report_deadline_passed_asking_for_a_token_names_that_request() -> None:
    """The token endpoint never answering: the report's deadline passed, and the error named
    the report's own path (GET /api/students), never asked, while the progress said the token's."""

    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    server = Server(lambda r: httpx.Response(200, json=listing([pupil(1)])), token=never)
    with pytest.raises(IrisError) as ei:
        await fetch(server, bounds=IrisBounds(report_deadline_s=0.3))
    assert not server.pages_asked()
    assert "POST /auth/connect/token" in str(ei.value) and "report_deadline_s" in str(ei.value)


# ---- text fields


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Amy\x1b[31m", "Amy"),
        ("A\x07m\x00y", "Amy"),
        ("Amy\nSmith\r\n", "Amy Smith"),
        ("Amy\u202eht", "Amyht"),  # right-to-left override
        ("A\u200bm\u200dy\ufeff", "Amy"),  # zero-width space, joiner, BOM
        ("\u2066Amy\u2069", "Amy"),  # isolates
        ("Amy\x85\x9b", "Amy"),  # C1: NEL, CSI
        ("  Zoë   O'Brien ", "Zoë   O'Brien"),  # clean text is kept as sent
        ("\x1b\x07\u200b", None),
    ],
)
def test_text_fields_are_cleaned(sent: str, kept: str | None) -> None:
    assert text(sent) == kept


def test_text_fields_are_cut() -> None:
    rec = parse_student({"schoolId": "P1", "forename": "A" * 1_000_000, "surname": "B" * 201})
    assert rec.forename == "A" * MAX_TEXT and rec.surname == "B" * MAX_TEXT
    staff = parse_employee({"id": 1, "title": "\x1b]0;pwned\x07Dr", "dateOfBirth": "x" * 999})
    assert staff.title == "Dr"
    assert len(staff.dob_raw) == MAX_TEXT and staff.dob is None


async def test_fetched_records_are_cleaned() -> None:
    item = pupil(1) | {"forename": "Amy\x1b[2J\u202e", "surname": "S" * 5000}
    export = await fetch(Server(lambda r: httpx.Response(200, json=listing([item]))))
    rec = export.records[0]
    assert rec.forename == "Amy" and rec.surname == "S" * MAX_TEXT


# ---- config.json


def test_bounds_read_from_config_json(tmp_path) -> None:
    assert iris_bounds(tmp_path) == IrisBounds(120, 900, 200_000, 2_000)
    (tmp_path / "config.json").write_text(
        json.dumps({"allowed_mis_hosts": [], "request_deadline_s": 2.5, "max_pages": 7})
    )
    assert iris_bounds(tmp_path) == IrisBounds(2.5, 900, 200_000, 7)


@pytest.mark.parametrize("linked", [False, True])
def test_a_config_json_others_may_change_is_refused(tmp_path, monkeypatch, linked) -> None:
    """It names the hosts a school's secret may be sent to over plain http: a file anyone may
    write (or a link to one) would let anyone have the secrets sent to a host of theirs."""
    monkeypatch.delenv("USO_TUI_ALLOWED_MIS_HOSTS", raising=False)
    hosts = json.dumps({"allowed_mis_hosts": ["127.0.0.1:18301"]})
    data = tmp_path / "data"
    data.mkdir()
    written = tmp_path / "elsewhere.json" if linked else data / "config.json"
    written.write_text(hosts)
    if linked:
        (data / "config.json").symlink_to(written)
    for mode in (0o666, 0o620):
        written.chmod(mode)
        with pytest.raises(InvalidInput) as ei:
            allowed_mis_hosts(data)
        said = str(ei.value)
        assert "config.json" in said and "chmod 600" in said and f"{mode:o}" in said
        assert ("everyone" if mode & 0o002 else "its group") in said
    written.chmod(0o644)  # readable by others, as a umask of 022 writes it: fine
    assert allowed_mis_hosts(data) == {"127.0.0.1:18301"}


@pytest.mark.parametrize(
    "bad",
    [{"max_pages": 0}, {"max_records": 1.5}, {"report_deadline_s": "900"}, {"max_pages": True}],
)
def test_bad_bounds_in_config_json_are_refused(tmp_path, bad) -> None:
    (tmp_path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(InvalidInput) as ei:
        iris_bounds(tmp_path)
    assert "config.json" in str(ei.value) and next(iter(bad)) in str(ei.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"request_deadline_s": 1e308}', "request_deadline_s must be at most 3,600"),
        ('{"report_deadline_s": 1e308}', "report_deadline_s must be at most 86,400"),
        ('{"max_records": 99999999999999999999999}', "max_records must be at most 10,000,000"),
        ('{"max_records": 200000.5}', "max_records must be a whole number"),
    ],
)
def test_bounds_past_what_they_can_bound_are_refused(tmp_path, text, says) -> None:
    """A deadline of 1e308 seconds was taken (the deadlines switched off: a server could hold a
    run for ever); a number of records too large to be whole was "not a positive whole number"."""
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(InvalidInput, match=says):
        iris_bounds(tmp_path)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"max_pages": 7,}', "line 1, column"),  # a syntax error: where it is
        ('{"max_recods": 5}', "unknown setting 'max_recods'"),  # misspelt: not ignored
        ('{"allowed_mis_hosts": "127.0.0.1:8765"}', "must be a list"),  # a string, not a list
        ("[1, 2]", "must hold a JSON object"),
    ],
)
def test_a_hand_edited_config_json_is_refused_saying_what_is_wrong(tmp_path, text, said) -> None:
    from uso_tui.store import open_store

    store = open_store(tmp_path / "data")
    (tmp_path / "data" / "config.json").write_text(text)
    for read in (lambda: iris_bounds(tmp_path / "data"), store.allowed_mis_hosts):
        with pytest.raises(InvalidInput, match=said) as ei:
            read()
        assert "config.json" in str(ei.value)


# ---- answers too large to hold


class EndlessBody(httpx.AsyncByteStream):
    """A body that never ends, sent as fast as it is read; counts what was read."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self):
        chunk = b'{"students": [' + b" " * 65_536
        while True:
            self.sent += len(chunk)
            yield chunk


async def test_an_answer_without_end_fails_at_the_byte_bound() -> None:
    body = EndlessBody()
    server = Server(lambda r: httpx.Response(200, stream=body))
    with pytest.raises(IrisError, match="larger than the 1,048,576 bytes .*max_answer_bytes"):
        await fetch(server, bounds=IrisBounds(max_answer_bytes=1024 * 1024))
    assert body.sent < 2 * 1024 * 1024  # stopped reading at the bound, not at the end of memory


async def test_a_gzip_bomb_fails_at_the_byte_bound_as_it_inflates() -> None:
    import gzip

    inflated = b'{"students": [' + b" " * (64 * 1024 * 1024) + b"]}"
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 200_000  # small on the wire
    server = Server(
        lambda r: httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    with pytest.raises(IrisError, match="max_answer_bytes"):
        await fetch(server, bounds=IrisBounds(max_answer_bytes=4 * 1024 * 1024))


class Sent(httpx.AsyncByteStream):
    """A body sent over the network as it is (compressed), in chunks of 64 KB."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self):
        for at in range(0, len(self.body), 65_536):
            yield self.body[at : at + 65_536]


async def traced_peak(coro) -> tuple[object, int]:
    """What `coro` gives (or raises) and the most memory Python held meanwhile, in bytes."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            got = await coro
        except Exception as exc:  # noqa: BLE001 - the error is what the caller looks at
            got = exc
        return got, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_gzip_bomb_takes_no_more_memory_than_its_bound() -> None:
    import gzip

    bomb = gzip.compress(b'{"students": [' + b" " * (256 * 1024 * 1024) + b"]}", 9)
    server = Server(
        lambda r: httpx.Response(200, stream=Sent(bomb), headers={"Content-Encoding": "gzip"})
    )
    got, peak = await traced_peak(fetch(server, bounds=IrisBounds(max_answer_bytes=4 << 20)))
    assert isinstance(got, IrisError) and "max_answer_bytes" in str(got)
    assert peak < 24 << 20  # the bound and a slice, not the 256 MB it inflates to


def shifting(*passes: list[list[dict]]):
    """A server answering each fetch of the report (page 1 starts one) from the next of
    `passes` (its pages), the last one for ever."""
    fetches = []

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if number == 1:
            fetches.append(number)
        pages = passes[min(len(fetches), len(passes)) - 1]
        items = pages[number - 1] if number <= len(pages) else []
        total = sum(len(p) for p in pages)
        return httpx.Response(200, json=listing(items, number, len(pages), total))

    return Server(page), fetches


def named(number: int, forename: str) -> dict:
    return {**pupil(number), "forename": forename}


async def test_records_shifting_while_iris_pages_are_fetched_again() -> None:
    """P1 renamed while IRIS pages moves it in the order: it comes on both pages under two
    names and P2, pushed between the pages, is not sent at all (its account was unallocated by
    a run that succeeded). Fetched again once settled: every record, no doubt."""
    moving = [[pupil(0), named(1, "Amy")], [named(1, "Zoe"), pupil(3)]]
    settled = [[pupil(0), pupil(2)], [pupil(3), named(1, "Zoe")]]
    server, fetches = shifting(moving, settled)
    export = await fetch(server)
    assert len(fetches) == 2
    assert sorted(r.mis_id for r in export.records) == ["P0", "P1", "P2", "P3"]
    assert export.doubts == [] and export.clashed_ids == []


async def fetch_linked(server: Server, linked: range):
    """The report fetched as a run fetches it: with a sieve that knows the MIS ids linked to
    the school's active accounts (P0, P1, ...)."""
    from uso_tui.sync.fingerprints import Sieve  # noqa: PLC0415

    sieve = Sieve({}, {}, frozenset(f"P{n}" for n in linked))
    async with server.client() as client:
        return await client.fetch_report(school(), SECRET, "students", sieve=sieve)


def unallocates(export, linked: range) -> list[str]:
    planned = plan_of(export, linked=[pupil(n) for n in linked])
    return sorted(c.before.mis_id for c in planned.changes if c.kind == "unallocate")


async def test_a_record_skipped_while_iris_pages_with_the_totals_right_unallocates_nobody():
    """P0 leaves and P6 starts after page 1 was sent: P2 slides onto page 1, already read, and
    is never sent, the totals still 6. Fetched again (linked P2 left out), P0 is the one left
    out: a doubt, so no account is unallocated (P2 is still at the school; P0 waits)."""
    during = [[pupil(0), pupil(1)], [pupil(3), pupil(4)], [pupil(5), pupil(6)]]
    after = [[pupil(1), pupil(2)], [pupil(3), pupil(4)], [pupil(5), pupil(6)]]
    server, fetches = shifting(during, after)
    export = await fetch_linked(server, range(6))
    assert len(fetches) == 2
    assert export.doubts == [
        "records shifted while IRIS paged: 2 linked record(s) sent at one fetch and not at "
        "the other (P0, P2)"
    ]
    assert unallocates(export, range(6)) == []


async def test_a_leaver_left_out_of_both_fetches_is_unallocated_and_one_page_is_not_fetched_again():
    settled = [[pupil(1), pupil(2)], [pupil(3), pupil(4)], [pupil(5), pupil(6)]]
    server, fetches = shifting(settled)
    export = await fetch_linked(server, range(6))
    assert len(fetches) == 2 and export.doubts == []
    assert unallocates(export, range(6)) == ["P0"]
    # one page: no record can slide past a page boundary, so nothing to check
    server, fetches = shifting([[pupil(n) for n in range(1, 7)]])
    export = await fetch_linked(server, range(6))
    assert len(fetches) == 1 and unallocates(export, range(6)) == ["P0"]
    # nobody linked left out: fetched once
    server, fetches = shifting(settled)
    assert (await fetch_linked(server, range(1, 7))).doubts == [] and len(fetches) == 1


async def test_an_id_given_twice_at_the_first_fetch_only_is_no_doubt_of_the_second() -> None:
    """P1's record gives its id twice (P1, then P9) at the first fetch, and P2 comes on both
    pages with other details (renamed while IRIS paged), so the report is fetched again, whole
    and clean this time. The export taken said the first fetch's doubt all the same, and held
    every leaver for nothing."""
    twice = json.dumps(listing([pupil(1), named(2, "Amy")], 1, 2, 4)).replace(
        '"schoolId": "P1"', '"schoolId": "P1", "schoolId": "P9"'
    )
    clean = [[pupil(1), named(2, "Zoe")], [pupil(3)]]
    fetches = []

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        fetches.extend([number] if number == 1 else [])
        if len(fetches) == 1:
            if number == 1:
                return httpx.Response(200, content=twice.encode())
            items = [named(2, "Zoe"), pupil(3)] if number == 2 else []
            return httpx.Response(200, json=listing(items, number, 2, 4))
        items = clean[number - 1] if number <= 2 else []
        return httpx.Response(200, json=listing(items, number, 2, 3))

    export = await fetch_linked(Server(page), range(1, 4))
    assert len(fetches) == 2
    assert sorted(r.mis_id for r in export.records) == ["P1", "P2", "P3"]
    assert export.doubts == [] and all(not r.unreadable for r in export.records)


async def test_an_id_given_twice_is_found_beside_a_record_without_one() -> None:
    """A record without an id beside one giving its id twice: the count of the id's name was the
    page's records', and the record read as P9's, valid."""
    page = json.dumps(listing([pupil(1), {"forename": "Nobody", "surname": "Else"}])).replace(
        '"schoolId": "P1"', '"schoolId": "P1", "schoolId": "P9"'
    )
    export = await fetch(Server(lambda r: httpx.Response(200, content=page.encode())))
    assert any("P9" in doubt for doubt in export.doubts)
    assert all(r.unreadable for r in export.records if r.mis_id == "P9")


async def test_records_still_shifting_when_fetched_again_are_a_doubt() -> None:
    first = [[pupil(0), named(1, "Amy")], [named(1, "Zoe"), pupil(3)]]
    second = [[pupil(0), named(3, "Amy")], [named(3, "Zoe"), pupil(1)]]
    server, fetches = shifting(first, second)
    export = await fetch(server)
    assert len(fetches) == 2
    assert export.doubts == [
        "1 MIS id(s) sent on two pages with different details (the data changed while IRIS "
        "paged): P3"
    ]


async def test_a_second_fetch_that_fails_leaves_the_first_with_its_doubt() -> None:
    """The fetch again (records shifting) answered 500 for good: the run failed, where the
    first fetch was whole but for the shift (its leavers held)."""
    moving = [[pupil(0), named(1, "Amy")], [named(1, "Zoe"), pupil(3)]]
    fetches = []

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        if number == 1:
            fetches.append(number)
        if len(fetches) > 1:
            return httpx.Response(500)
        return httpx.Response(200, json=listing(moving[number - 1], number, 2, 4))

    export = await fetch(Server(page))
    assert len(fetches) > 1  # (the 500 tried again as transient)
    assert sorted(r.mis_id for r in export.records) == ["P0", "P1", "P1", "P3"]
    assert export.doubts and "sent on two pages" in export.doubts[0]


async def test_an_id_given_two_people_beside_a_shift_is_still_a_clash() -> None:
    """P5 is the same two records at both fetches, P1 shifted at the first only: the run was
    held as a paging doubt, P5 named, and no confirmation could unallocate its leavers."""
    first = [[named(5, "Finn"), named(1, "Amy")], [named(1, "Zoe"), named(5, "Zed")]]
    second = [[named(5, "Finn"), pupil(2)], [named(1, "Zoe"), named(5, "Zed")]]
    server, fetches = shifting(first, second)
    export = await fetch(server)
    assert len(fetches) == 2
    assert export.clashed_ids == ["P5"] and export.doubts == []


async def test_a_second_fetch_past_the_report_deadline_leaves_the_first_with_its_doubt() -> None:
    """The fetch again ran past report_deadline_s: the whole run failed on the deadline, where
    the first fetch was whole but for the shift."""
    import asyncio

    moving = [[pupil(0), named(1, "Amy")], [named(1, "Zoe"), pupil(3)]]
    fetches = []

    async def page(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/connect/token"):
            return httpx.Response(200, json=TOKEN)
        number = int(request.url.params["page"])
        if number == 1:
            fetches.append(number)
        if len(fetches) > 1:
            await asyncio.sleep(0.4)
        return httpx.Response(200, json=listing(moving[number - 1], number, 2, 4))

    client = IrisClient(
        transport=httpx.MockTransport(page),
        allowed_hosts=frozenset({"iris.test:80"}),
        sleep=NoSleep(),
        bounds=IrisBounds(report_deadline_s=0.6),
    )
    async with client:
        export = await client.fetch_report(school(), SECRET, "students")
    assert len(fetches) == 2
    assert sorted(r.mis_id for r in export.records) == ["P0", "P1", "P1", "P3"]
    assert export.doubts and "sent on two pages" in export.doubts[0]


async def test_an_id_the_mis_gives_two_people_on_two_pages_is_a_clash_not_a_shift() -> None:
    """The same two records under one id at every fetch: the MIS holds them so (no shift to
    wait out). As a paging doubt no leaver of the school would ever have been unallocated."""
    pages = [[pupil(0), named(1, "Amy")], [named(1, "Eve"), pupil(3)]]
    server, fetches = shifting(pages)
    export = await fetch(server)
    assert len(fetches) == 2
    assert export.doubts == [] and export.clashed_ids == ["P1"]


async def test_a_small_gzip_of_empty_objects_is_refused_before_it_is_parsed() -> None:
    """8 MB of `{},` (a 10 KB gzip, under the byte bound): parsed, 2.8 million objects took
    about 450 MB and seconds of CPU before the record bound applied (3 GB at 60 MB)."""
    import gzip

    bomb = gzip.compress(b'{"students": [' + b"{}," * ((8 << 20) // 3) + b"{}]}", 9)
    assert len(bomb) < 64_000
    server = Server(
        lambda r: httpx.Response(200, stream=Sent(bomb), headers={"Content-Encoding": "gzip"})
    )
    got, peak = await traced_peak(fetch(server, bounds=IrisBounds(max_answer_bytes=16 << 20)))
    assert isinstance(got, IrisError), got
    assert "more than 4,000,000 JSON values" in str(got) and "max_records" in str(got)
    assert peak < 48 << 20  # the answer's bytes, not millions of objects


async def test_a_page_of_short_strings_is_refused_before_it_is_parsed() -> None:
    """62 MB of `"a",` under the byte bound took 1.5 GB once parsed."""
    body = b'{"students": [{"schoolId": "P1", "x": [' + b'"a",' * 4_200_000 + b'"a"]}]}'
    server = Server(lambda r: httpx.Response(200, content=body))
    got, peak = await traced_peak(fetch(server, bounds=IrisBounds(max_answer_bytes=32 << 20)))
    assert isinstance(got, IrisError) and "more than 4,000,000 JSON values" in str(got)
    assert peak < 64 << 20


async def test_a_page_of_records_is_not_refused_for_its_nesting() -> None:
    """Records with nested lists and objects a school's MIS may add (contacts, addresses): far
    under the bound, read as usual."""
    nested = {"contacts": [{"name": "x", "phones": [{"n": "1"}] * 5}] * 20}
    page = [{"schoolId": str(n), "forename": "A", "surname": "B", **nested} for n in range(500)]
    body = json.dumps({"students": page, "totalCount": 500, "totalPages": 1}).encode()
    server = Server(lambda r: httpx.Response(200, content=body))
    export = await fetch(server)
    assert len(export.records) == 500


async def test_a_body_compressed_twice_is_refused_before_it_is_inflated() -> None:
    import gzip

    inner = gzip.compress(b'{"students": [' + b" " * (256 * 1024 * 1024) + b"]}", 9)
    twice = gzip.compress(inner, 9)  # a few hundred bytes that inflate to 256 MB, then more
    server = Server(
        lambda r: httpx.Response(
            200, stream=Sent(twice), headers={"Content-Encoding": "gzip, gzip"}
        )
    )
    got, peak = await traced_peak(fetch(server, bounds=IrisBounds(max_answer_bytes=4 << 20)))
    assert isinstance(got, IrisError) and "'gzip, gzip'" in str(got)
    assert peak < 24 << 20


@pytest.mark.parametrize("wrapped", [True, False])
async def test_a_deflated_answer_reads_as_usual_zlib_wrapped_or_raw(wrapped) -> None:
    import zlib

    page = json.dumps(listing([pupil(1), pupil(2)])).encode()
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    body = packer.compress(page) + packer.flush()
    server = Server(
        lambda r: httpx.Response(200, stream=Sent(body), headers={"Content-Encoding": "deflate"})
    )
    export = await fetch(server)
    assert [r.mis_id for r in export.records] == ["P1", "P2"]


class Chunked(httpx.AsyncByteStream):
    """A body sent in the chunks given (the network may cut it anywhere)."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk


def cuts(body: bytes, *at: int) -> list[bytes]:
    edges = [0, *at, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def served(chunks: list[bytes], encoding: str) -> Server:
    return Server(
        lambda r: httpx.Response(
            200, stream=Chunked(*chunks), headers={"Content-Encoding": encoding}
        )
    )


@pytest.mark.parametrize("cut", [None, 1, 10, "boundary", "magic"])
async def test_a_gzip_body_of_several_members_is_read_whole(cut) -> None:
    """RFC 1952 allows members in a row: the second was dropped, and the answer read as JSON cut
    short ('not JSON'). However the network cuts it, even through the second member's magic."""
    import gzip

    page = json.dumps(listing([pupil(n) for n in range(40)])).encode()
    first, second = gzip.compress(page[:300]), gzip.compress(page[300:])
    body = first + second
    at = {None: (), 1: (1,), 10: (10,), "boundary": (len(first),), "magic": (len(first) + 1,)}[cut]
    export = await fetch(served(cuts(body, *at), "gzip"))
    assert len(export.records) == 40


@pytest.mark.parametrize(
    "damage",
    [
        lambda body: body[:-6],  # its trailer (CRC and length) cut off
        lambda body: body + b"<html>oops</html>",  # bytes after it that are no gzip member
    ],
)
async def test_a_gzip_body_cut_short_or_followed_by_junk_is_refused(damage) -> None:
    import gzip

    body = damage(gzip.compress(json.dumps(listing([pupil(1), pupil(2)])).encode()))
    with pytest.raises(IrisError, match="could not be decoded|gzip"):
        await fetch(served([body], "gzip"))


async def test_a_gzip_body_with_blank_padding_reads_as_usual() -> None:
    import gzip

    body = gzip.compress(json.dumps(listing([pupil(1), pupil(2)])).encode()) + b"\r\n"
    export = await fetch(served([body], "gzip"))
    assert [r.mis_id for r in export.records] == ["P1", "P2"]


@pytest.mark.parametrize("wrapped", [True, False])
@pytest.mark.parametrize("first", [1, 2, 5])
async def test_a_deflated_answer_reads_however_its_first_bytes_arrive(wrapped, first) -> None:
    """Raw deflate whose first chunk was one byte was taken for zlib's (a lone byte cannot fail
    its header check) and refused."""
    import zlib

    page = json.dumps(listing([pupil(1), pupil(2)])).encode()
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    body = packer.compress(page) + packer.flush()
    export = await fetch(served(cuts(body, first), "deflate"))
    assert [r.mis_id for r in export.records] == ["P1", "P2"]


@pytest.mark.parametrize("wrapped", [True, False])
async def test_a_deflated_answer_cut_short_is_refused(wrapped) -> None:
    import zlib

    page = json.dumps(listing([pupil(n) for n in range(50)])).encode()
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    body = packer.compress(page) + packer.flush()
    with pytest.raises(IrisError):
        await fetch(served([body[: len(body) // 2]], "deflate"))


def test_the_client_asks_only_for_the_encodings_it_reads() -> None:
    seen = []

    def page(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return httpx.Response(200, json=listing([pupil(1)]))

    import asyncio

    asyncio.run(fetch(Server(page)))
    assert seen and set(seen) == {"gzip, deflate"}


async def test_a_compressed_answer_within_the_bound_reads_as_usual() -> None:
    import gzip

    page = json.dumps(listing([pupil(1), pupil(2)])).encode()
    server = Server(
        lambda r: httpx.Response(
            200, content=gzip.compress(page), headers={"Content-Encoding": "gzip"}
        )
    )
    export = await fetch(server, bounds=IrisBounds(max_answer_bytes=len(page)))
    assert [r.mis_id for r in export.records] == ["P1", "P2"]


def test_the_byte_bound_can_be_set_in_config_json(tmp_path) -> None:
    (tmp_path / "config.json").write_text('{"max_answer_bytes": 1000}')
    assert iris_bounds(tmp_path).max_answer_bytes == 1000


async def test_a_report_larger_than_its_byte_bound_fails_whatever_each_page_weighs() -> None:
    """Pages each under max_answer_bytes (a 2 KB junk field a record here; 50 MB on each page of
    a hostile server filled 2.6 GB) add up to the report's bound: the fetch fails naming it."""
    junk = "x" * 2000

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        items = [{**pupil(number), "address": junk}] if number <= 50 else []
        return httpx.Response(200, json={"students": items})

    with pytest.raises(IrisError, match="larger than the 20,000 bytes one report may have"):
        await fetch(Server(page), bounds=IrisBounds(max_report_bytes=20_000))
    export = await fetch(Server(page), bounds=IrisBounds(max_report_bytes=200_000))
    assert len(export.records) == 50


async def test_a_corrupt_compressed_answer_is_a_clear_error() -> None:
    server = Server(
        lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")
    )
    with pytest.raises(IrisError, match="body could not be decoded") as ei:
        await fetch(server)
    assert ei.value.school == DFE


@pytest.mark.parametrize(
    ("status", "after", "waits"), [(503, "7", [7.0]), (429, "-5", None), (429, "nan", None)]
)
async def test_retry_after_is_honoured_on_503_and_a_nonsense_one_is_our_own_backoff(
    status, after, waits
) -> None:
    answers = iter([httpx.Response(status, headers={"Retry-After": after})])

    def page(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or httpx.Response(200, json=listing([pupil(1)]))

    sleep = NoSleep()
    export = await fetch(Server(page), sleep=sleep)
    assert len(export.records) == 1
    if waits is not None:
        assert sleep.delays == waits
    else:  # not 0 (five tries at once): the jittered backoff
        assert len(sleep.delays) == 1 and sleep.delays[0] > 0


def test_a_run_refused_for_its_config_json_leaves_no_run_behind(tmp_path) -> None:
    # The error is said before the run is claimed: not a run "interrupted" in the history.
    import asyncio
    from datetime import datetime

    from factories import DFE, Env

    from uso_tui.sync.runner import run_school

    env = Env(tmp_path / "store")
    env.add_school()
    (tmp_path / "store" / "config.json").write_text('{"max_record": 5}')
    with pytest.raises(InvalidInput, match="unknown setting 'max_record'"):
        asyncio.run(
            run_school(
                env.store, DFE, now=datetime(2026, 3, 10, 9), trigger="cli", operator="alice"
            )
        )
    assert env.store.runs(DFE) == []


async def test_a_certificate_not_trusted_is_said_so_and_not_tried_again() -> None:
    import ssl

    def refused(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")
        cause.verify_message = "self-signed certificate"
        raise httpx.ConnectError("certificate verify failed") from cause

    server = Server(refused, token=refused)
    with pytest.raises(IrisError, match="TLS certificate is not trusted: self-signed") as ei:
        await fetch(server)
    assert ei.value.school == DFE and len(server.requests) == 1


async def test_an_answer_after_a_byte_order_mark_is_read() -> None:
    page = b"\xef\xbb\xbf" + json.dumps(listing([pupil(1)])).encode()
    export = await fetch(Server(lambda r: httpx.Response(200, content=page)))
    assert [r.mis_id for r in export.records] == ["P1"]


async def test_an_answer_not_in_utf8_says_so() -> None:
    page = json.dumps(listing([pupil(1)])).encode().replace(b"Amy", "Zo\u00eb".encode("latin-1"))
    with pytest.raises(IrisError, match="not JSON .not UTF-8: byte"):
        await fetch(Server(lambda r: httpx.Response(200, content=page)))


def test_the_words_after_basic_or_bearer_are_kept_and_a_credential_is_not() -> None:
    from uso_tui.iris.redact import blank_secrets

    assert blank_secrets("The Bearer authentication scheme is required", [SECRET]) == (
        "The Bearer authentication scheme is required"
    )
    said = blank_secrets("Authorization: Basic Y2lkOnNvbWV0aGluZ2Vsc2U=", [SECRET])
    assert "Y2lk" not in said and said.endswith("Basic ***")


def test_a_secret_echoed_in_full_width_letters_or_backwards_is_withheld() -> None:
    """A 403 echoing the Client Secret as ｓ３ｃｒ３ｔ… (or backwards) reached the run's error, the
    audit log and stderr."""
    from uso_tui.iris.redact import WITHHELD, blank_secrets

    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in SECRET)
    assert blank_secrets(f"Forbidden for {wide}", [SECRET]) == WITHHELD
    assert blank_secrets(f"Forbidden for {SECRET[::-1]}", [SECRET]) == WITHHELD
    assert blank_secrets("Forbidden: no such school", [SECRET]) == "Forbidden: no such school"


async def test_refused_credentials_after_a_byte_order_mark_are_said_so() -> None:
    from uso_tui.iris.errors import AuthFailed

    body = b"\xef\xbb\xbf" + json.dumps({"error": "invalid_client"}).encode()
    server = Server(
        lambda r: httpx.Response(200), token=lambda r: httpx.Response(400, content=body)
    )
    with pytest.raises(AuthFailed, match="refused the Client ID"):
        await fetch(server)


async def test_only_the_start_of_a_huge_error_body_is_read_for_what_is_shown() -> None:
    """An error body of megabytes was read whole for echoed secrets before 200 characters of it
    were shown (seconds per error, gigabytes at the 64 MB bound): the start is read, with a
    margin past what is shown, and what is shown holds no secret."""
    huge = ("IRIS is down " + "y" * 5000 + " " + SECRET + " ") * 200
    server = Server(lambda r: httpx.Response(500, text=huge))
    with pytest.raises(IrisError) as ei:
        await fetch(server, max_tries=1)
    said = ei.value.iris_message or ""
    assert said.startswith("IRIS is down") and len(said) <= 203 and SECRET not in said


async def test_ids_past_64_bits_are_unreadable_not_rounded() -> None:
    """orjson reads integers past 64 bits as floats: 123456789012345678901234567890 was kept as
    MIS id 123456789012345677877719597056 (and two such ids could read as one). Such a record
    has no readable id: invalid, and the export doubted (no unallocations on its word)."""
    body = (
        b'{"students": [{"schoolId": 123456789012345678901234567890, "forename": "Amy", '
        b'"surname": "Smith", "dob": "2014-05-03"}, {"schoolId": 18446744073709551615, '
        b'"forename": "Bo", "surname": "Lee", "dob": "2014-05-03"}], "totalCount": 2}'
    )
    export = await fetch(Server(lambda r: httpx.Response(200, content=body)))
    assert [r.mis_id for r in export.records] == ["", "18446744073709551615"]
    planned = plan_of(export, linked=[pupil(1)])
    assert planned.counts["unallocated"] == 0
    assert planned.counts["invalid"] == 1


async def test_a_server_sending_fewer_per_page_than_asked_is_followed_by_its_count() -> None:
    """totalPages worked out from the page size asked (2 of 500), pages of 100 and a count of
    1,000 that they reach: consistent (DESIGN: fewer per page than asked), not doubted, and no
    page asked past the count."""
    pages = {n: [pupil(n * 1000 + i) for i in range(100)] for n in range(1, 11)}
    server = paged(pages, lambda n: {"totalPages": 2, "totalCount": 1000})
    export = await fetch(server, bounds=IrisBounds(max_pages=10))
    assert len(export.records) == 1000 and server.pages_asked() == list(range(1, 11))
    assert not export.doubts


@pytest.mark.parametrize("count", [{}, {"totalCount": None}, {"totalCount": "1000.0"}])
async def test_pages_shorter_than_asked_without_a_count_are_followed_past_total_pages(count):
    """At most 450 a page, totalPages reckoned from the 500 asked (2) and no usable count: the
    client stopped after page 2 (900 of 1,000) and the run unallocated 100 pupils still at the
    school. Short pages inside the report say totalPages ends early: followed to an empty page."""
    pages = {n: [pupil(n * 1000 + i) for i in range(450 if n < 3 else 100)] for n in (1, 2, 3)}
    server = paged(pages, lambda n: {"totalPages": 2, **count})
    export = await fetch(server)
    assert len(export.records) == 1000 and server.pages_asked() == [1, 2, 3, 4]


async def test_full_pages_and_total_pages_without_a_count_ask_no_page_more() -> None:
    pages = {1: [pupil(i) for i in range(500)], 2: [pupil(1000 + i) for i in range(7)]}
    server = paged(pages, lambda n: {"totalPages": 2})
    export = await fetch(server)
    assert len(export.records) == 507 and server.pages_asked() == [1, 2]


@pytest.mark.parametrize("status", [503, 401, 429])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_an_empty_body_under_an_encoding_is_empty(status, encoding) -> None:
    """A 503 (or 401, 429) with `Content-Encoding: gzip` and no body: read as empty, and retried
    (or the token asked again) as before, not failed as undecodable."""
    answers = iter([status])

    def page(request: httpx.Request) -> httpx.Response:
        code = next(answers, 200)
        if code != 200:
            headers = {"Content-Encoding": encoding, "Retry-After": "0"}
            return httpx.Response(code, stream=Chunked(), headers=headers)
        return httpx.Response(200, json=listing([pupil(1)]))

    export = await fetch(Server(page))
    assert [r.mis_id for r in export.records] == ["P1"]


async def test_a_lone_short_page_without_a_count_is_not_taken_for_the_whole_report() -> None:
    """At most 25 a page, totalPages reckoned from the 500 asked (1), no count: the client read
    page 1 alone, and the run unallocated the pupils of page 2 (a run that 'succeeded'). No page
    as long as asked says nothing of the server's page size: the page after is asked too."""
    pages = {1: [pupil(i) for i in range(25)], 2: [pupil(100 + i) for i in range(17)]}
    server = paged(pages, lambda n: {"totalPages": 1})
    export = await fetch(server)
    assert len(export.records) == 42 and server.pages_asked() == [1, 2, 3]
    planned = plan_of(export, linked=[pupil(100)])
    assert planned.counts["unallocated"] == 0


async def test_a_lone_page_is_asked_after_once_and_a_page_asked_past_the_end_may_repeat_it():
    """A school whose report fits on one page costs one request more without a count: an empty
    page ends it; so does its last page sent again for a page past its totalPages (a server that
    clamps the page number), not an error."""
    pages = {1: [pupil(i) for i in range(7)]}
    server = paged(pages, lambda n: {"totalPages": 1})
    export = await fetch(server)
    assert len(export.records) == 7 and server.pages_asked() == [1, 2]
    clamped = Server(lambda r: httpx.Response(200, json={"students": pages[1], "totalPages": 1}))
    export = await fetch(clamped)
    assert len(export.records) == 7 and clamped.pages_asked() == [1, 2]
    counted = paged(pages, lambda n: {"totalPages": 1, "totalCount": 7})
    export = await fetch(counted)
    assert len(export.records) == 7 and counted.pages_asked() == [1]


@pytest.mark.parametrize(
    "tail",
    [
        ',"students":[{a},{b}],"totalCount":2}}',  # the report's list twice: the last was read
        ',"totalCount":2,"totalPages":1}}',  # a total twice
        ',"stud\\u0065nts":[{a},{b}],"total\\u0043ount":2}}',  # names spelt with escapes
    ],
)
def test_a_page_naming_its_list_or_a_total_twice_is_not_read(tail) -> None:
    """JSON leaves a name given twice open; orjson keeps the last: a page of three records then
    of two was read as a whole report of two, and the third person's account unallocated."""
    a, b, c = (json.dumps(pupil(n)) for n in (1, 2, 3))
    head = '{{"students":[{a},{b},{c}],"page":1,"pageSize":500,"totalCount":3,"totalPages":1'
    body = (head + tail).format(a=a, b=b, c=c).encode()
    server = Server(lambda r: httpx.Response(200, content=body))
    with pytest.raises(IrisError, match=r"the answer names '(students|totalCount)' twice: "):
        asyncio.run(fetch(server))


@pytest.mark.parametrize(
    "records",
    [
        # values that spell the page's names ("students", a form group), or escapes in values
        [dict(pupil(1), formGroup="students"), dict(pupil(2), formGroup="totalCount")],
        [dict(pupil(1), forename="Zo\u00eb"), dict(pupil(2), surname='O"Brien \\u')],
    ],
)
def test_a_page_whose_values_spell_its_names_is_read(records) -> None:
    """The slow look for a name given twice is made only where the names occur twice in the
    bytes or a name holds an escape; a value that does is no name given twice."""
    body = json.dumps(listing(records), ensure_ascii=True).encode()
    server = Server(lambda r: httpx.Response(200, content=body))
    export = asyncio.run(fetch(server))
    assert [r.mis_id for r in export.records] == [pupil(1)["schoolId"], pupil(2)["schoolId"]]


def test_a_record_s_field_given_twice_is_the_record_s_matter_not_the_page_s() -> None:
    """Once the page is read again, only its own object's names count: a record giving a field
    twice was read, or refused with the page where another record had a field named "page"."""
    a, b = json.dumps(pupil(1)), json.dumps(dict(pupil(2), page="x"))
    a = a[:-1] + ', "forename": "Amy"}'
    body = '{{"students":[{a},{b}],"page":1,"pageSize":500,"totalCount":2,"totalPages":1}}'
    server = Server(lambda r: httpx.Response(200, content=body.format(a=a, b=b).encode()))
    assert len(asyncio.run(fetch(server)).records) == 2


@pytest.mark.parametrize(
    "spelt",
    [
        lambda s: s,
        str.upper,
        lambda s: "".join(f"\\u{ord(c):04x}" for c in s),  # each letter escaped
        lambda s: s[1:],
        lambda s: f"{s[:-2]}x",
        lambda s: s[::-1],
        lambda s: base64.b64encode(s.encode()).decode(),
        lambda s: s.encode().hex(),
        lambda s: "".join(f"\\u{ord(c):04x}" for c in s[3:]),
        lambda s: s.replace("-", ""),
        # broken up by what parsing drops, which joined it again in the account's name
        lambda s: "\\u200b".join(s[i : i + 3] for i in range(0, len(s), 3)),  # JSON-escaped
        lambda s: "\u00ad".join(s[i : i + 3] for i in range(0, len(s), 3)),
        lambda s: "\\u001b[0m".join(s[i : i + 3] for i in range(0, len(s), 3)),
        lambda s: "\u202c".join(s[i : i + 3] for i in range(0, len(s), 3)),
        lambda s: "\u2063".join(s[i : i + 3] for i in range(0, len(s), 3)),
        lambda s: "\u200b".join(s[i : i + 3] for i in range(0, len(s), 3)),  # as UTF-8
        lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
        lambda s: "".join(c + "\u0336" for c in s),  # struck through: combining marks kept
    ],
    ids=["as-is", "capitals", "escaped", "less-first", "less-last-two", "backwards", "base64"]
    + ["hex", "escaped-less-three", "no-separators", "zero-width", "soft-hyphens"]
    + ["terminal-escapes", "bidi", "invisible-separator", "zero-width-raw", "full-width"]
    + ["combining-marks"],
)
async def test_a_record_holding_the_client_secret_is_not_read(spelt) -> None:
    """A hostile server sending the secret back as a pupil's forename (or most of it, or
    backwards, or encoded): it was shown on every screen, kept as the account's name and
    exported."""
    name = spelt(SECRET)
    body = json.dumps(listing([pupil(1), {**pupil(2), "forename": "Amy"}]))
    body = body.replace('"forename": "Amy"', f'"forename": "{name}"', 1)
    server = Server(lambda r: httpx.Response(200, content=body.encode()))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    said = str(ei.value) + (ei.value.iris_message or "")
    assert "holds the school's client secret" in said and SECRET not in said


async def test_a_record_whose_fields_spell_the_secret_once_cleaned_is_not_read_when_sieved():
    """The same through the daily run's sieve (records recognised unchanged are not parsed: the
    page's other records are, and looked through)."""
    from uso_tui.sync.fingerprints import Sieve

    name = "\u200b".join(SECRET[i : i + 3] for i in range(0, len(SECRET), 3))
    body = json.dumps(listing([pupil(1), {**pupil(2), "forename": "Amy"}]))
    body = body.replace('"forename": "Amy"', f'"forename": "{name}"', 1)
    server = Server(lambda r: httpx.Response(200, content=body.encode()))
    async with server.client() as client:
        with pytest.raises(IrisError, match="holds the school's client secret"):
            await client.fetch_report(school(), SECRET, "students", sieve=Sieve({}, {}))


async def test_a_record_holding_the_access_token_is_not_read() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.hostile-token-value-0123"
    record = {**pupil(1), "forename": token}
    server = Server(
        lambda r: httpx.Response(200, json=listing([record])),
        token=lambda r: httpx.Response(
            200, json={"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        ),
    )
    with pytest.raises(IrisError, match="or the access token") as ei:
        await fetch(server)
    assert token not in str(ei.value)


@pytest.mark.parametrize("at", range(16))
async def test_a_record_holding_a_secret_of_16_with_any_one_character_changed_is_not_read(at):
    """Runs of twelve at the start, middle and end of a short secret overlap: one character
    changed in the middle left none whole."""
    secret = "Qz7Kp2Wm9Rt4Xv6N"
    name = f"{secret[:at]}#{secret[at + 1 :]}"
    server = Server(lambda r: httpx.Response(200, json=listing([{**pupil(1), "surname": name}])))
    async with server.client() as client:
        with pytest.raises(IrisError, match="holds the school's client secret"):
            await client.fetch_report(school(), secret, "students")


async def test_a_name_sharing_a_few_characters_with_the_secret_is_no_matter() -> None:
    """A record holds seven of the secret's characters in a row (its UPN's digits): no leak, and
    the report is read."""
    secret = "key-1234567-abcdefghij"
    record = {**pupil(1), "uniquePupilNumber": "A123456789012"}
    async with Server(lambda r: httpx.Response(200, json=listing([record]))).client() as client:
        export = await client.fetch_report(school(), secret, "students")
    assert len(export.records) == 1 and "1234567" in export.records[0].upn


async def test_a_short_secret_inside_a_name_is_no_matter() -> None:
    async with Server(lambda r: httpx.Response(200, json=listing([pupil(1)]))).client() as client:
        export = await client.fetch_report(school(), "Smit", "students")
    assert [r.surname for r in export.records] == ["Smith"]


async def test_a_header_too_long_is_said_as_the_servers_doing() -> None:
    """A real socket answering with a header line of 200 KB: h11 refuses it. It read as
    "connection failed (RemoteProtocolError)", httpx's name alone."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = School(
        dfe=DFE, name="Oak", mis="iSAMS", url=f"http://127.0.0.1:{port}/x", client_id="c"
    )
    try:
        async with IrisClient(
            allowed_hosts=frozenset({f"127.0.0.1:{port}"}), sleep=NoSleep()
        ) as client:
            with pytest.raises(IrisError) as ei:
                await client.fetch_report(target, SECRET, "students")
    finally:
        server.close()
    said = str(ei.value)
    assert "connection failed (RemoteProtocolError: the server broke HTTP" in said, said
    assert SECRET not in said and "aaaa" not in said


def test_a_name_cut_in_the_middle_of_a_character_makes_its_record_invalid_not_the_page():
    """`"Jo\\ud83d"`, a preferred name cut in the middle of an emoji (.NET writes a lone
    surrogate so): orjson refused the whole page, and the school's run failed every day with a
    byte offset to find the pupil by. The record is invalid, named by its field; the page's
    other records are read, an escaped backslash before `ud83d` stays text, a pair is a pair."""
    records = [
        json.dumps({**pupil(1), "preferredName": "JOPLACEHOLDER"}),
        json.dumps({**pupil(2), "forename": "BSPLACEHOLDER"}),
        json.dumps({**pupil(3), "preferredName": "PAIRPLACEHOLDER"}),
    ]
    body = json.dumps({**listing([]), "students": "RECORDS"}).replace(
        '"RECORDS"', "[" + ",".join(records) + "]"
    )
    body = body.replace("JOPLACEHOLDER", "Jo\\ud83d")
    body = body.replace("BSPLACEHOLDER", "Amy\\\\ud83d")  # a backslash, then the letters
    body = body.replace("PAIRPLACEHOLDER", "Sam\\ud83d\\ude00")
    body = body.replace('"totalCount": 0', '"totalCount": 3')
    server = Server(lambda r: httpx.Response(200, content=body.encode()))
    export = asyncio.run(fetch(server))
    by_id = {r.mis_id: r for r in export.records}
    assert set(by_id) == {"P1", "P2", "P3"}
    assert by_id["P1"].preferred_name is None
    assert by_id["P1"].unreadable == "preferredName (a character cut in half)"
    assert by_id["P2"].forename == "Amy\\ud83d" and by_id["P2"].unreadable is None
    assert by_id["P3"].preferred_name == "Sam\U0001f600" and by_id["P3"].unreadable is None


def test_a_field_whose_name_is_cut_mid_character_makes_its_record_invalid():
    """`"preferredName\ud83d": "Ames"`: mended, the name was no field read, and the record was
    read as sending no preferred name, which cleared the account's (found by review)."""
    body = json.dumps(listing([{**pupil(1), "preferredName": "Ames"}, pupil(2)]))
    body = body.replace('"preferredName"', '"preferredName\\ud83d"').replace(
        '"P2", "forename": "Amy"', '"P2", "forename": "Amy\\ud83d"'
    )
    server = Server(lambda r: httpx.Response(200, content=body.encode()))
    by_id = {r.mis_id: r for r in asyncio.run(fetch(server)).records}
    assert by_id["P1"].unreadable == "preferredName (a character cut in half in its name)"
    assert by_id["P2"].unreadable == "forename (a character cut in half)"


async def test_an_html_error_page_is_said_by_its_words_without_tags_or_terminal_escapes():
    """A 404 page of HTML with a terminal's colour codes: shown with its tags, and with `[31m`
    left where its ESC was dropped."""
    page = "<html><head><title>Not Found</title></head><body><h1>\x1b[31mNo such school\x1b[0m</h1>"
    server = Server(lambda r: httpx.Response(404, text=page + "</body></html>"))
    with pytest.raises(IrisError) as ei:
        await fetch(server)
    assert ei.value.iris_message == "Not Found No such school"
