"""Who may do what (DESIGN section 7): the role table and the check every writing action makes.

An operator's role comes from DATA_DIR/operators.json. Without that file (a single-user install,
the demo) everyone is an admin. With it, a listed name has its role; a name it does not list is
the shell of the account that owns the data directory (cron, the administrator at the server),
which can change any file there anyway, so it is an admin too (but not in a console opened by a
listed operator removed since: held_listed). Operators who come over SSH
cannot choose their name: the forced command names them, and `console --as` refuses a name the
file does not list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uso_tui.config import OPERATOR_ROLES, load_operators, name_as_read
from uso_tui.domain.errors import InvalidInput

DESK, ADMIN = "desk", "admin"

# action -> the least role that may do it
NEEDS: dict[str, str] = {
    # the service desk: the queue, restores, held runs, force runs, requests, exclusions
    "resolve": DESK,
    "undo_decision": DESK,
    "link": DESK,
    "restore": DESK,
    "review": DESK,
    "unallocate": DESK,
    "confirm": DESK,
    "run": DESK,
    "account_add": DESK,
    "exclusion_add": DESK,
    "exclusion_remove": DESK,
    "duplicate_keep": DESK,
    "duplicate_unallocate": DESK,
    # administrators only
    "school_add": ADMIN,
    "school_remove": ADMIN,
    "school_update": ADMIN,  # settings, the MIS and its secret
    "mis_hosts": ADMIN,
    "undo_run": ADMIN,
    "operators": ADMIN,
}

WHAT = {  # for the refusal's message
    "school_add": "adding a school",
    "school_remove": "removing a school",
    "school_update": "changing a school's settings",
    "mis_hosts": "changing the allowed MIS hosts",
    "undo_run": "undoing a run",
    "operators": "managing operators",
}


class AccessDenied(InvalidInput):
    """The operator's role does not allow the action: refused before anything is written."""


@dataclass(frozen=True, slots=True)
class Access:
    name: str
    role: str
    listed: bool  # named in operators.json (False: no file, or the data directory's owner)
    managed: bool  # operators.json exists

    def may(self, action: str) -> bool:
        return may(self.role, action)

    def label(self) -> str:
        """`alice (desk)` where operators.json names roles, else ''."""
        return f"{self.name} ({self.role})" if self.managed else ""


def may(role: str, action: str) -> bool:
    needs = NEEDS.get(action)
    if needs is None:
        raise ValueError(f"no role is set for the action {action!r}")
    if role not in OPERATOR_ROLES:  # (REMOVED: nothing)
        return False
    return OPERATOR_ROLES.index(role) >= OPERATOR_ROLES.index(needs)


# The role of a session's operator removed since it opened: may do nothing (see held_listed).
REMOVED = "removed"
# (data directory, name) of the sessions this process opened for a listed operator (a console):
# a name operators.json no longer lists is refused there, not taken for the directory's owner
# (a desk operator removed had an admin's rights until the console looked at the file again)
_LISTED_SESSIONS: set[tuple[Path, str]] = set()


def held_listed(where: Any, *names: str) -> None:
    """This process acts for a listed operator (`names`: as given, as listed) until it ends."""
    root = _root(where).resolve()
    _LISTED_SESSIONS.update((root, name) for name in names)


def _removed(where: Any, operator: str) -> Access | None:
    if _LISTED_SESSIONS and (_root(where).resolve(), operator) in _LISTED_SESSIONS:
        return Access(operator, REMOVED, listed=False, managed=True)
    return None


def _root(where: Any) -> Path:
    return Path(where.root if hasattr(where, "root") else where)


def access_of(where: Any, operator: str) -> Access:
    """The operator's access in a store (or its data directory)."""
    operators = load_operators(_root(where))
    if operators is None:
        return _removed(where, operator) or Access(operator, ADMIN, listed=False, managed=False)
    entry = operators.get(operator)
    if entry is None:  # `Dan` (or `ｄａｎ`) for the listed `dan` is dan, with dan's role
        folded = {name_as_read(name): name for name in operators}
        listed = folded.get(name_as_read(operator))
        if listed is not None:
            return Access(listed, operators[listed].role, listed=True, managed=True)
        return _removed(where, operator) or Access(operator, ADMIN, listed=False, managed=True)
    return Access(operator, entry.role, listed=True, managed=True)


def require(where: Any, operator: str, action: str) -> Access:
    """Raises AccessDenied, saying which role the action needs, unless the operator may."""
    access = access_of(where, operator)
    what = WHAT.get(action, action.replace("_", " "))
    if access.role == REMOVED:
        raise AccessDenied(
            f"{operator} is no longer an operator of this service desk (operators.json): "
            f"{what} is refused"
        )
    if not access.may(action):
        raise AccessDenied(
            f"{operator} is a {access.role} operator: {what} needs the {NEEDS[action]} role"
        )
    return access
