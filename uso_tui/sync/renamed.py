"""Accounts found by the names they had: a name the MIS changed (a family's new surname, a
marriage) is searched for by the old one, which no export holds any more. A username keeps the
name it was made with, and an account the names a run last changed (Account.changed_from)."""

from __future__ import annotations

import re

from uso_tui.domain.errors import InvalidName
from uso_tui.domain.models import Account
from uso_tui.domain.names import normalise, username_stem
from uso_tui.store.api import Store
from uso_tui.sync.plan import states_before

STEM_LOOK = 50  # accounts of one username stem read (jsmith, jsmith2, ...)


def renamed_lines(store: Store, text: str, limit: int) -> list[str]:
    """One line for each account (at most `limit`) that bore the names of `text` (forename
    then surname, or "Surname, Forename") before a run changed them, or whose username was made
    from them and whose surname is another now, its forename the same."""
    words = [w for w in (normalise(part) for part in re.split(r"[\s,]+", text)) if w]
    if len(words) < 2:
        return []
    named = {(words[0], words[-1]), (words[-1], words[0])}
    usernames: set[str] = set()
    for forename, surname in named:
        try:
            stem = username_stem(forename, surname)
        except InvalidName:
            continue
        made = re.compile(rf"{re.escape(stem)}\d*\.\w+")
        # the stem's accounts of the forename first: a stem hundreds share (jsmith) cut the
        # renamed one off a look at the stem alone (kept for a forename changed too)
        for look in (f"{stem} {forename}", stem):
            usernames.update(
                hit.username
                for hit in store.search_accounts(look, limit=STEM_LOOK)
                if made.fullmatch(hit.username)
            )
    accounts = store.find_accounts(usernames, set()) if usernames else {}
    out = []
    for username in sorted(accounts):
        acc = accounts[username]
        line = _renamed(acc, named)
        if line:
            out.append(line)
    return out[:limit]


def _renamed(acc: Account, named: set[tuple[str, str]]) -> str:
    now = f"{acc.username} ({acc.forename} {acc.surname}, {acc.dob or 'no date of birth'}, "
    now += f"{acc.school or 'unallocated'})"
    # the last state before a change with these names is when they changed (a date corrected
    # before kept them)
    for was in reversed(states_before(acc)):
        if (normalise(was.get("forename")), normalise(was.get("surname"))) in named:
            return (
                f"{now} was {was.get('forename')} {was.get('surname')} until a run changed its "
                f"names on {was.get('at') or '?'}: the MIS has the person under the new names"
            )
    if any(
        normalise(acc.forename) == forename and normalise(acc.surname) != surname
        for forename, surname in named
    ):
        return (
            f"{now} was made under these names (a username keeps the names it was made with): "
            "its surname has changed since"
        )
    return ""
