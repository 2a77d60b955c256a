"""Where the data lives and who is acting: the two settings every front end resolves the same way."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path

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
