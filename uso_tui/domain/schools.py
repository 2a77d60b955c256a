"""School identity and settings validation: DfE numbers, MIS kinds, MIS URLs, run times."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from uso_tui.domain.errors import InvalidInput

DFE_RE = re.compile(r"^[0-9]{3}-[0-9]{4}\Z")  # ASCII digits: \d would take any script's
MIS_KINDS = ("iSAMS", "Ed:gen")
MIS_DOMAINS = {"iSAMS": "isams.cloud", "Ed:gen": "edgen.cloud"}
REPORTS = ("staff", "students")
UNSUPPORTED_REPORTS = ("contacts", "attendance", "groups")
REPORT_LABELS = {
    "staff": "Staff",
    "students": "Students",
    "contacts": "Contacts",
    "attendance": "Attendance",
    "groups": "Groups & Classes",
}
ROLE_OF_REPORT = {"staff": "staff", "students": "pupil"}
# The shortest client secret taken: IRIS issues secrets of 32 characters and more, and a short
# word for a secret is hidden wherever the word appears in a message (which tells it).
MIN_SECRET = 8
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")  # 7:30 is 07:30


def check_dfe(dfe: str) -> str:
    dfe = (dfe or "").strip()
    if not DFE_RE.match(dfe):
        raise InvalidInput(f"malformed DfE number {dfe!r}: expected LLL-EEEE, e.g. 204-3210")
    return dfe


def la_of(dfe: str) -> str:
    """Local authority code: the first three digits of the DfE number."""
    return dfe[:3]


def check_mis(mis: str) -> str:
    for kind in MIS_KINDS:
        if (mis or "").strip().lower() == kind.lower():
            return kind
    raise InvalidInput(f"unknown MIS {mis!r}: expected one of {', '.join(MIS_KINDS)}")


def check_reports(reports: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = reports.split(",") if isinstance(reports, str) else list(reports)
    out: list[str] = []
    for raw in items:
        report = raw.strip().lower()
        if not report:
            continue
        if report in UNSUPPORTED_REPORTS:
            raise InvalidInput(
                f"report {report!r} is not supported for IRIS (only staff, students)"
            )
        if report not in REPORTS:
            raise InvalidInput(f"unknown report {report!r}: expected staff, students")
        if report not in out:
            out.append(report)
    if not out:
        raise InvalidInput("at least one report (staff, students) must be enabled")
    return tuple(out)


def check_time(hhmm: str) -> str:
    """`HH:MM`, as stored and shown (`7:30` is taken as `07:30`)."""
    found = TIME_RE.match((hhmm or "").strip())
    if not found:
        raise InvalidInput(f"bad time {hhmm!r}: expected HH:MM, 00:00 to 23:59")
    return f"{int(found.group(1)):02d}:{found.group(2)}"


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def _host_ok(host: str) -> bool:
    """A host name (IDNA; each label letters, digits and inner hyphens) or an IP address."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def parse_allowed_hosts(text: str | None) -> frozenset[str]:
    """`host:port` entries, comma-separated (USO_TUI_ALLOWED_MIS_HOSTS or config)."""
    return frozenset(h.strip().lower() for h in (text or "").split(",") if h.strip())


SHOWN_URL = 120  # characters of a refused URL an error repeats


def _shown(url: str) -> str:
    """The URL as an error may repeat it: what could be a password (anything before an `@`)
    and any query or fragment (a `?client_secret=...`) blanked; the error says they are not
    allowed, and stderr, scrollback and session recordings keep what it prints."""
    scheme = url.find("://")
    start = scheme + 3 if scheme >= 0 else 0
    at = url.rfind("@")
    if at >= start:
        url = url[:start] + "***" + url[at:]
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    end = min(ends, default=len(url))
    host, colon, port = url[start:end].partition(":")
    if colon and not port.isdigit():  # `user:password` with no `@`: read as a port
        url = url[:start] + host + ":***" + url[end:]
    rest = url.find("?", start), url.find("#", start)
    cut = min((i for i in rest if i >= 0), default=-1)
    url = url if cut < 0 else url[: cut + 1] + "***"
    return url if len(url) <= SHOWN_URL else url[: SHOWN_URL - 1] + "…"  # (not 100 KB of it)


def check_mis_url(
    url: str, mis: str, allowed_hosts: frozenset[str] = frozenset(), typed: bool = True
) -> str:
    """DESIGN section 4: https on *.isams.cloud / *.edgen.cloud, or an explicitly allowed host:port.

    `typed` False: a URL stored before, which may have a host of other letters than ASCII (a
    school added so still runs, and its other settings can be changed).

    Returns the URL as kept: without a trailing slash, its scheme and host in lower case and
    without the scheme's own port (`HTTPS://B.ISAMS.CLOUD:443/` is https://b.isams.cloud).
    Raises InvalidInput saying what is wrong.
    """
    url = (url or "").strip().rstrip("/")
    if any(c.isspace() or not c.isprintable() or c in "\\;" for c in url):
        raise InvalidInput(
            f"bad MIS URL {_shown(url)!r}: no spaces, backslashes, semicolons or control characters"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # (not the parser's words: they quote what it read as a port, a password's part)
        raise InvalidInput(
            f"bad MIS URL {_shown(url)!r}: its port (after the host's ':') or brackets cannot "
            "be read"
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        domain = MIS_DOMAINS.get(mis, "isams.cloud")
        raise InvalidInput(f"bad MIS URL {_shown(url)!r}: expected https://<school>.{domain}")
    if unicodedata.normalize("NFKC", host) != host:
        # Python's IDNA maps look-alikes (a fullwidth `ｘ` to `x`) that httpx's IDNA 2008 then
        # refuses: the school was added and every run failed. As it would be written.
        raise InvalidInput(
            f"bad MIS URL {_shown(url)!r}: the host has look-alike characters (fullwidth or compatibility "
            "forms): type it in plain letters"
        )
    if typed and not host.isascii():
        # a letter of another alphabet (Cyrillic а for a) shows as the real host and reaches
        # another, or none: IRIS hosts, and the allowed ones, are written in plain ASCII
        raise InvalidInput(
            f"bad MIS URL {_shown(url)!r}: the host has letters other than plain ASCII (a "
            "look-alike from another alphabet, or an accent): type it in plain letters (a host "
            "that has them in its name: its xn-- form)"
        )
    if not _host_ok(host):
        raise InvalidInput(f"bad MIS URL {_shown(url)!r}: {host!r} is not a valid host name")
    # (a bare `?` or `#` leaves the query or fragment empty: kept, every request went wrong)
    if parts.username or parts.password or "?" in url or "#" in url:
        raise InvalidInput(
            f"bad MIS URL {_shown(url)!r}: no credentials, query or fragment allowed"
        )
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise InvalidInput(f"bad MIS URL {_shown(url)!r}: no '.' or '..' in its path")
    scheme = parts.scheme.lower()
    hostport = f"{host}:{port or (443 if scheme == 'https' else 80)}"
    kept = kept_url(url)
    if hostport in allowed_hosts or (port is None and host in allowed_hosts):
        return kept
    domain = MIS_DOMAINS.get(mis)
    known = [d for d in MIS_DOMAINS.values() if host.endswith("." + d)]
    if known and scheme != "https":
        raise InvalidInput(
            f"MIS URL {_shown(url)!r} must use https (plain http only for hosts in allowed_mis_hosts)"
        )
    if known and parts.path.strip("/"):
        # IRIS answers at the host itself: {base}/auth/connect/token, {base}/api/students
        raise InvalidInput(
            f"MIS URL {_shown(url)!r}: no path after the host (expected https://{host})"
        )
    if domain and host.endswith("." + domain) and port in (None, 443):
        return kept
    if domain and host.endswith("." + domain):
        raise InvalidInput(f"MIS URL {_shown(url)!r}: IRIS answers on port 443, not {port}")
    if known:
        raise InvalidInput(f"MIS URL host {host!r} does not match MIS {mis} (*.{domain})")
    raise InvalidInput(
        f"MIS URL host {hostport if port is not None else host!r} is not allowed: expected "
        f"*.{domain}, or list {hostport if port is not None else host!r} in allowed_mis_hosts / "
        "USO_TUI_ALLOWED_MIS_HOSTS"
    )


def kept_url(url: str) -> str:
    """A MIS URL as check_mis_url keeps it (its scheme and host in lower case, without the
    scheme's own port or a trailing slash), not checked: a URL stored before in another form
    compared as what it would be kept as (a case is no change). One that cannot be read is
    itself."""
    url = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if not parts.scheme or not host or parts.username or parts.password or "?" in url or "#" in url:
        return url
    scheme = parts.scheme.lower()
    own = 443 if scheme == "https" else 80
    shown_host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown_host}{'' if port in (None, own) else f':{port}'}{parts.path.rstrip('/')}"


def mis_origin(url: str) -> str:
    """Where a MIS URL sends the school's secret: scheme, host and port (its path aside: the
    same server). A URL that cannot be read is its own origin (never equal to a good one's)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return url
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def secret_goes_elsewhere(old_url: str, new_url: str) -> bool:
    """Whether a school's stored secret would be sent to another server than the one it was
    given for: moving a school to another host needs that host's secret typed (an admin who
    cannot read the secret must not be able to have it sent to a host of theirs)."""
    return mis_origin(old_url) != mis_origin(new_url)
