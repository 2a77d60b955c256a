"""Accounts whose person is on their school's exclusion list (DESIGN rule 4: the record makes
no account and never enters the queue): restored, such an account is never relinked when its
record returns, and a record linked by hand overrides an entry the operator may have forgotten.
The restore and link questions say so."""

from __future__ import annotations

from collections.abc import Iterable

from uso_tui.domain.models import Account, Exclusion, MisRecord
from uso_tui.store.api import Store
from uso_tui.sync.plan import excluded


def excluded_at_home(store: Store, accounts: Iterable[Account]) -> list[tuple[str, str, Exclusion]]:
    """(username, school, entry) of each account whose names and date of birth are on the
    exclusion list of the school it would be restored to (each school's list read once)."""
    lists: dict[str, list[Exclusion]] = {}
    out: list[tuple[str, str, Exclusion]] = []
    for acc in accounts:
        school = acc.home
        if not school:
            continue
        if school not in lists:
            lists[school] = store.exclusions(school)
        as_record = MisRecord(
            report="students", mis_id="", forename=acc.forename, surname=acc.surname, dob=acc.dob
        )
        if (entry := excluded(as_record, lists[school])) is not None:
            out.append((acc.username, school, entry))
    return out


def entry_of(exclusions: list[Exclusion], record: dict) -> Exclusion | None:
    """The entry of a school's exclusion list that a record (as a processed file or a case
    holds it) is on, if any."""
    return excluded(MisRecord.from_dict(record), exclusions)


def excluded_words(username: str, school: str, entry: Exclusion) -> str:
    """What a restore says of an account whose person is on the exclusion list."""
    return (
        f"{username}'s person is on {school}'s exclusion list (entry {entry.id}): if the record "
        "returns it is excluded, and the account is not relinked (remove the entry first if it "
        "was made by mistake)"
    )
