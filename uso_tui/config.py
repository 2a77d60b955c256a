"""Where the data lives and who is acting: the two settings every front end resolves the same way."""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import math
import os
import re
import stat
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.schools import parse_allowed_hosts

APP_NAME = "uso-tui"
DATA_DIR_ENV = "USO_TUI_DATA_DIR"
ALLOWED_HOSTS_ENV = "USO_TUI_ALLOWED_MIS_HOSTS"
DEBUG_ENV = "USO_TUI_DEBUG"


def default_data_dir() -> Path:
    from platformdirs import user_data_dir  # noqa: PLC0415 - only needed when nothing else is given

    return Path(user_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(
    arg: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path:
    """--data-dir, else USO_TUI_DATA_DIR, else the user data directory (platformdirs). Either
    given empty is refused: `--data-dir "$DIR"` with $DIR unset in a cron line would otherwise
    run against the default store."""
    env = os.environ if env is None else env
    if arg is not None:
        if not str(arg).strip():
            raise InvalidInput("--data-dir is empty: give the data directory, or leave it out")
        return Path(arg).expanduser()
    if DATA_DIR_ENV in env:
        from_env = env[DATA_DIR_ENV].strip()
        if not from_env:
            raise InvalidInput(
                f"{DATA_DIR_ENV} is set but empty: set it to a directory, or unset it"
            )
        return Path(from_env).expanduser()
    return default_data_dir()


def login_name() -> str:
    """Who is at the keyboard: under sudo (`sudo -u uso uso-tui ...`, as README's admin commands
    run) the user who ran sudo, not the service account every such change would be made as."""
    by_sudo = os.environ.get("SUDO_USER", "").strip()
    if by_sudo:
        return by_sudo
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def resolve_operator(arg: str | None) -> str:
    """--operator, else the login name. The name goes into every audit event, so it must be plain."""
    name = (arg if arg is not None else login_name()).strip()
    if not name:
        raise InvalidInput("operator name is empty")
    if any(not c.isprintable() for c in name):
        raise InvalidInput("operator name contains control characters")
    if len(name) > 64:
        raise InvalidInput("operator name is longer than 64 characters")
    scripts = {unicodedata.name(c, "?").split()[0] for c in name if c.isalpha()}
    mixed = scripts & LOOK_ALIKE_SCRIPTS
    # `sсheduler` with a Cyrillic "с" reads as `scheduler`; `ѕсһеԁսӏег` (Cyrillic, Armenian) too
    if mixed and ("LATIN" in scripts or len(mixed) > 1):
        mixed |= scripts & {"LATIN"}
        raise InvalidInput(
            f"operator name mixes {' and '.join(m.title() for m in sorted(mixed))} letters, which look "
            "alike (the audit log could not tell it from another name): give your name in one "
            "alphabet"
        )
    return name


# Scripts with letters that look like Latin ones (Cyrillic "а", "с", "о"; Greek "ο", "ν").
LOOK_ALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "LISU"})


def name_as_read(name: str) -> str:
    """An operator's name as a person reads it: compatible forms folded (full-width letters),
    case folded, and the marks that show nothing dropped (an invisible joiner, a variation
    selector): `ｂｏｂ`, `Bob` and `b\u034fob` all read as bob in the audit log."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if unicodedata.category(c) not in ("Mn", "Me", "Cf")).strip()


def as_listed(data_dir: Path, name: str) -> str:
    """`name` as DATA_DIR/operators.json spells it (`BOB`, `ｂｏｂ` for the listed `bob`: one
    person under one name in the audit log, with that person's role); unchanged when the file
    does not list it (or cannot be read: the commands that check roles say why)."""
    try:
        operators = load_operators(data_dir)
    except (InvalidInput, OSError):  # said by the command, if it needs the file or the folder
        return name
    if not operators or name in operators:
        return name
    folded = {name_as_read(listed): listed for listed in operators}
    return folded.get(name_as_read(name), name)


def debug_enabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(DEBUG_ENV, "").strip() not in ("", "0", "false", "no")


CONFIG_JSON = "config.json"


@dataclass(frozen=True, slots=True)
class IrisBounds:
    """What one fetch may cost (DESIGN section 4): a server can be slow, lie or never end."""

    request_deadline_s: float = 120.0  # one request's whole answer, body included
    report_deadline_s: float = 900.0  # all of a report's pages and retries
    max_records: int = 200_000  # per report
    max_pages: int = 2_000  # per report
    # one answer's body as decoded (a compressed answer counts as it expands): a server that
    # sends without end, or a small gzip that inflates to gigabytes, fails the run, not the
    # process's memory
    max_answer_bytes: int = 64 * 1024 * 1024
    # all of one report's answers together: pages each under max_answer_bytes (a record with a
    # 50 MB field on each) would otherwise fill the memory a page at a time
    max_report_bytes: int = 512 * 1024 * 1024


CONFIG_KEYS = ("allowed_mis_hosts", "timezone", *(f.name for f in fields(IrisBounds)))
# The most each bound may be set to: past these it bounds nothing (a deadline of 1e308 seconds
# switched the deadlines off; a server could then hold a run for ever).
BOUND_CEILINGS: dict[str, float] = {
    "request_deadline_s": 3_600,
    "report_deadline_s": 86_400,
    "max_records": 10_000_000,
    "max_pages": 1_000_000,
    "max_answer_bytes": 4 * 1024**3,
    "max_report_bytes": 64 * 1024**3,
}


def read_config(data_dir: Path) -> dict[str, Any]:
    """DATA_DIR/config.json, checked (an admin edits it by hand): valid JSON (the message says
    where it is not), an object of the known settings only (a misspelt one would be ignored
    silently), `allowed_mis_hosts` a list of host[:port] strings. {} when there is none."""
    path = Path(data_dir) / CONFIG_JSON
    try:
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())  # the file read, also where a link led
            raw = handle.read()
    except FileNotFoundError:
        return {}
    # it names the hosts a school's secret may be sent to over plain http
    _check_owned(path, st, "anyone could have the schools' secrets sent to a host of theirs")
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): "
            "correct it"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f'{path} must hold a JSON object, {{"setting": value, ...}}')
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise InvalidInput(
            f"{path}: unknown setting {', '.join(map(repr, unknown))} (the settings are "
            f"{', '.join(CONFIG_KEYS)})"
        )
    hosts = data.get("allowed_mis_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise InvalidInput(
            f"{path}: allowed_mis_hosts must be a list of host[:port] strings, "
            f'such as ["127.0.0.1:8765"], not {hosts!r}'
        )
    return data


def allowed_mis_hosts(data_dir: Path) -> frozenset[str]:
    """The MIS hosts allowed besides the IRIS clouds: config.json's allowed_mis_hosts and the
    environment's USO_TUI_ALLOWED_MIS_HOSTS (also before the data directory holds a store)."""
    hosts = {h.strip().lower() for h in read_config(data_dir).get("allowed_mis_hosts", [])}
    return frozenset(hosts - {""}) | parse_allowed_hosts(os.environ.get(ALLOWED_HOSTS_ENV))


def time_zone(data_dir: Path) -> str | None:
    """config.json's `timezone`, the schools' time zone ("Europe/London"): every uso-tui process
    on the store then keeps its times in it, whatever the TZ of the shell, cron line or unit
    that started it (times are stored as wall-clock times: a command from a UTC shell stamped
    its run an hour early all summer, and the schedule ran the school again). None: the
    process's own local time, as before."""
    zone = read_config(data_dir).get("timezone")
    if zone is None:
        return None
    try:
        if not isinstance(zone, str) or not zone or zone.startswith(("/", ".")):
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        raise InvalidInput(
            f"{Path(data_dir) / CONFIG_JSON}: timezone must be a time zone name such as "
            f'"Europe/London", not {zone!r}'
        ) from None
    return zone


def zone_unset_note(data_dir: Path) -> str | None:
    """What the schedule says when the schools' time zone is nowhere set: no `timezone` in
    config.json and this process's local time UTC, or a TZ no zone this machine knows (read as
    UTC, silently). A school due at 06:00 then runs at 07:00 all British summer. None when a
    zone is set ("UTC" in config.json, if meant, says so)."""
    if time_zone(data_dir) is not None or time.daylight or time.timezone:
        return None
    tz = (os.environ.get("TZ") or "").lstrip(":")
    said = "this process's local time is UTC"
    # (a POSIX zone of no offset is meant; so is a zone file given by its path)
    if tz and not re.fullmatch(r"(UTC|GMT)0?", tz) and not os.path.isfile(tz):
        try:
            ZoneInfo(tz)
        except (ValueError, ZoneInfoNotFoundError):
            said = f"TZ={tz!r} names no time zone this machine knows (UTC is used)"
    return (
        f"note: {said} and {Path(data_dir) / CONFIG_JSON} sets no timezone: daily times are read "
        'as UTC (06:00 runs at 07:00 in British summer time); set "timezone": "Europe/London" '
        'there (or "UTC", if that is meant)'
    )


def iris_bounds(data_dir: Path) -> IrisBounds:
    """The bounds DATA_DIR/config.json sets (`request_deadline_s`, `report_deadline_s`,
    `max_records`, `max_pages`, `max_answer_bytes`, `max_report_bytes`), the defaults for those
    it does not. A value that is not a positive number is an error naming the file and the key,
    not silently ignored."""
    path = Path(data_dir) / CONFIG_JSON
    data = read_config(data_dir)
    given: dict[str, float | int] = {}
    for bound in fields(IrisBounds):
        if bound.name not in data:
            continue
        value = data[bound.name]
        whole = bound.type == "int"
        ok = isinstance(value, int) if whole else isinstance(value, int | float)
        most = BOUND_CEILINGS[bound.name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            kind = "a positive whole number" if whole else "a positive number of seconds"
            raise InvalidInput(f"{path}: {bound.name} must be {kind}, not {value!r}")
        if not math.isfinite(value) or value > most:
            raise InvalidInput(f"{path}: {bound.name} must be at most {most:,.0f}, not {value!r}")
        if not ok:
            raise InvalidInput(f"{path}: {bound.name} must be a whole number, not {value!r}")
        given[bound.name] = value
    return IrisBounds(**given)


# -- operators (DESIGN section 7) -----------------------------------------------------------------

OPERATORS_JSON = "operators.json"
OPERATOR_ROLES = ("desk", "admin")  # each role may do what the ones before it may
_OPERATOR_NAME = re.compile(r"[a-z][a-z0-9._-]{0,31}")
# The key types OpenSSH accepts in authorized_keys today (no DSA: OpenSSH refuses it).
SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
MAX_KEY_COMMENT = 100
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    role: str
    keys: tuple[str, ...] = ()


def check_operator_name(value: object) -> str:
    """A name for operators.json: it goes into a shell command line in authorized_keys and into
    every audit event, so only lower-case letters, digits and . _ - (a letter first, 32 at most)."""
    name = str(value if value is not None else "").strip()
    if not _OPERATOR_NAME.fullmatch(name):
        raise InvalidInput(
            "bad operator name: use lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter, at most 32 characters"
        )
    return name


# the daily runs' operator in every audit event: no person may be named so (their actions
# would be audited as the schedule's)
RESERVED_OPERATOR_NAMES = frozenset({"scheduler"})


def check_operator_role(value: object) -> str:
    role = str(value if value is not None else "").strip().lower()
    if role not in OPERATOR_ROLES:
        raise InvalidInput(f"bad role {value!r}: expected admin or desk")
    return role


def _ssh_string(blob: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(blob):
        raise ValueError("truncated")
    length = int.from_bytes(blob[at : at + 4], "big")
    if at + 4 + length > len(blob):
        raise ValueError("truncated")
    return blob[at + 4 : at + 4 + length], at + 4 + length


def check_ssh_key(line: object) -> str:
    """One public key as `TYPE BASE64 [COMMENT]` (a .pub file's line), returned normalised. No
    options (a `command=` of its own would escape the forced command), no control characters
    (a newline would add an authorized_keys line), and the key data must decode to its type."""
    text = str(line if line is not None else "").strip()
    if not text:
        raise InvalidInput("the SSH public key is empty")
    if any(not c.isprintable() for c in text):
        raise InvalidInput("the SSH public key contains control characters")
    parts = text.split(None, 2)
    kind = parts[0]
    if kind not in SSH_KEY_TYPES:
        shown = kind if len(kind) <= 40 and kind.isascii() else kind[:40] + "…"
        raise InvalidInput(
            f"not an SSH public key line: it must start with a key type "
            f"({', '.join(sorted(SSH_KEY_TYPES))}), not {shown!r} (no options)"
        )
    if len(parts) < 2:
        raise InvalidInput(f"the {kind} key has no key data")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        inner, at = _ssh_string(blob, 0)
        if inner.decode("ascii") != kind:
            raise ValueError("type mismatch")
        if kind == "ssh-ed25519" and len(_ssh_string(blob, at)[0]) != 32:
            raise ValueError("bad length")
        if kind == "ssh-rsa":
            _exponent, at = _ssh_string(blob, at)
            modulus, _ = _ssh_string(blob, at)
            if int.from_bytes(modulus, "big").bit_length() < MIN_RSA_BITS:
                raise InvalidInput(f"the ssh-rsa key is shorter than {MIN_RSA_BITS} bits")
    except InvalidInput:
        raise
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise InvalidInput(f"the {kind} key's data is not a valid {kind} key") from None
    comment = parts[2].strip() if len(parts) > 2 else ""
    if len(comment) > MAX_KEY_COMMENT:
        raise InvalidInput(f"the key's comment is longer than {MAX_KEY_COMMENT} characters")
    return f"{kind} {parts[1]}" + (f" {comment}" if comment else "")


def key_fingerprint(key: str) -> str:
    """`SHA256:…` as ssh-keygen -l shows it (for audit events and listings)."""
    blob = base64.b64decode(key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def operators_path(data_dir: Path) -> Path:
    return Path(data_dir) / OPERATORS_JSON


def load_operators(data_dir: Path) -> dict[str, Operator] | None:
    """DATA_DIR/operators.json, checked whole (a bad entry is an error naming the file, never
    skipped: roles must not loosen because of a typo); None when there is no such file."""
    path = operators_path(data_dir)
    try:
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            raw = handle.read()
    except FileNotFoundError:
        return None
    _check_owned(path, st, "anyone could make themselves an admin")
    if not raw.strip():  # (never written so: a file cut short, or emptied by hand)
        raise InvalidInput(
            f"{path} is empty: list the operators in it (uso-tui operator add writes it), or "
            "remove it (without it, everyone with a shell here is an admin)"
        )
    try:
        data = json.loads(raw, object_pairs_hook=_no_repeats)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        said = f" ({exc})" if isinstance(exc, _Repeated) else ""
        raise InvalidInput(f"{path} is not valid JSON{said}: correct or remove it") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object of operators")
    out: dict[str, Operator] = {}
    holders: dict[str, str] = {}  # a key's data -> the operator it is listed for
    for name, entry in data.items():
        try:
            if check_operator_name(name) != name:
                raise InvalidInput("bad operator name")
            if name in RESERVED_OPERATOR_NAMES:
                raise InvalidInput(
                    "the name of the product's own runs in the audit log: give that operator "
                    "another name"
                )
            if not isinstance(entry, dict):
                raise InvalidInput('expected {"role": ..., "keys": [...]}')
            keys = entry.get("keys", [])
            if not isinstance(keys, list):
                raise InvalidInput("keys must be a list")
            out[name] = Operator(
                name,
                check_operator_role(entry.get("role")),
                tuple(check_ssh_key(k) for k in keys),
            )
            for key in out[name].keys:
                # sshd logs a key in as the first line that lists it: one key under two names
                # makes its holder whoever comes first (a desk operator signed in as an admin)
                other = holders.setdefault(key.split()[1], name)
                if other != name:
                    raise InvalidInput(
                        f"its key {key_fingerprint(key)} is listed for {other} too: "
                        "one key, one operator"
                    )
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: operator {name[:40]!r}: {exc}") from None
    return out


class _Repeated(ValueError):
    pass


def _no_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object whose names are each given once: a name given twice would silently take
    its last value (a second "bob" entry, or a second "role", hand-edited in, making an admin)."""
    out: dict[str, object] = {}
    for name, value in pairs:
        if name in out:
            raise _Repeated(f"{name[:40]!r} is given twice")
        out[name] = value
    return out


def _check_owned(path: Path, st: os.stat_result, risk: str) -> None:
    """A file that decides who is an admin, or where secrets may go, must be this user's (or
    root's) and only its owner may change it (as sshd's StrictModes asks of authorized_keys);
    `risk`: what anyone else could do with it."""
    if st.st_uid not in (os.geteuid(), 0):
        raise InvalidInput(f"{path} belongs to another user (uid {st.st_uid}): refusing it")
    if st.st_mode & 0o022:
        who = "everyone" if st.st_mode & 0o002 else "its group"
        raise InvalidInput(
            f"{path} can be changed by {who} (mode {stat.S_IMODE(st.st_mode):o}): refusing it "
            f"({risk}); run `chmod 600 {path}`"
        )


def operators_bytes(operators: Mapping[str, Operator]) -> bytes:
    """operators.json's content, names in order."""
    data = {
        name: {"role": op.role, "keys": list(op.keys)} for name, op in sorted(operators.items())
    }
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
