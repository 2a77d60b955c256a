"""Where the data lives and who is acting: the two settings every front end resolves the same way."""

from __future__ import annotations

import getpass
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import orjson

from uso_tui.domain.errors import InvalidInput

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
    """--data-dir, else USO_TUI_DATA_DIR, else the user data directory (platformdirs)."""
    env = os.environ if env is None else env
    if arg is not None and str(arg).strip():
        return Path(arg).expanduser()
    from_env = env.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return default_data_dir()


def login_name() -> str:
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
    return name


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


def iris_bounds(data_dir: Path) -> IrisBounds:
    """The bounds DATA_DIR/config.json sets (`request_deadline_s`, `report_deadline_s`,
    `max_records`, `max_pages`), the defaults for those it does not. A value that is not a
    positive number is an error naming the file and the key, not silently ignored."""
    path = Path(data_dir) / CONFIG_JSON
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return IrisBounds()
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidInput(f"{path} is not valid JSON: correct or remove it") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    given: dict[str, float | int] = {}
    for f in fields(IrisBounds):
        if f.name not in data:
            continue
        value = data[f.name]
        whole = f.type == "int"
        ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
            kind = "a positive whole number" if whole else "a positive number of seconds"
            raise InvalidInput(f"{path}: {f.name} must be {kind}, not {value!r}")
        given[f.name] = value
    return IrisBounds(**given)
