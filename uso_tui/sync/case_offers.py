"""The open match cases that offer an account as a candidate: an unallocated account one of
them offers is matched there rather than restored (a restore links it to no record, and the
case stays open for an operator), which `why`, `restore` and the console's restore say."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from uso_tui.domain.models import Account, MatchCase
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store


def case_offers(
    store: Store, homes: dict[str, str], schools: Iterable[str] | None = None
) -> list[tuple[str, MatchCase, Any]]:
    """(username, case, score) of each open case of the schools `homes` names (username -> its
    school), or of `schools`, that offers one of its accounts, in school and case order (each
    school's cases read once)."""
    return [
        (name, case, cand.get("score", "?"))
        for dfe in sorted(set(homes.values() if schools is None else schools))
        for case in store.cases(dfe, "open")
        for cand in case.candidates
        if (name := cand.get("username")) in homes
    ]


def offered_by_cases(
    homes: dict[str, str], offers: list[tuple[str, MatchCase, Any]]
) -> dict[str, tuple[MatchCase, Any]]:
    """The open case that offers each account of `homes` (`offers`: case_offers'), the first of
    its own school, else the first of another (a mover's record there): an account unallocated
    is matched in the case (a restore would leave it linked to no record, and the case open)."""
    out: dict[str, tuple[MatchCase, Any]] = {}
    for name, case, score in offers:
        if name in homes and (name not in out or case.school == homes[name] != out[name][0].school):
            out[name] = (case, score)
    return out


LOOK_ROWS = 200  # records of the latest exports read for each name or date looked for


def offers_near(
    store: Store, homes: dict[str, str], looks: Iterable[str] = ()
) -> list[tuple[str, MatchCase, Any]]:
    """case_offers of the schools of `homes` (username -> its school) and of those whose latest
    export has a record of `looks` (the accounts' names, their dates of birth) waiting in a
    case: a mover's record at another school, in the authority or not, offers the account there
    (its own school's cases alone told a restore for it). Only those schools' cases are read
    (every school of an authority with an open case was: a second for a search in one of
    hundreds of schools)."""
    if not homes:
        return []
    schools = set(homes.values())
    for text in dict.fromkeys(t for t in looks if t and t.strip()):
        schools.update(
            row["school"]
            for row in store.why_search(text, limit=LOOK_ROWS)
            if row.get("outcome") == "needs_matching"
        )
    return case_offers(store, homes, schools)


def looks_of(*people: Any) -> list[str]:
    """What offers_near looks for of each of `people` (anything with forename, surname, dob)."""
    out = []
    for person in people:
        out.append(f"{getattr(person, 'forename', '') or ''} {getattr(person, 'surname', '')}")
        out.append(getattr(person, "dob", None) or "")
    return out


def case_named(case: MatchCase) -> str:
    """`case 204-2308-c2 for Amy Jones (MIS id 51)`."""
    rec = case.record
    return (
        f"case {case.case_id} for {rec.get('forename') or '?'} {rec.get('surname') or '?'} "
        f"(MIS id {rec.get('mis_id') or '?'})"
    )


def matched_there(username: str, case: MatchCase) -> str:
    return (
        f"if that is its person, match it there (Matching queue of {case.school}, or "
        f"`uso-tui resolve {case.case_id} --match {username}`)"
    )


def match_there(username: str, case: MatchCase, score: Any) -> str:
    return (
        f"{username} is a candidate ({score}%) of {case_named(case)}: "
        f"{matched_there(username, case)}; a restore would not link it to that record"
    )


def _home(acc: Account) -> str | None:
    if acc.status == "active" and acc.school:
        return acc.school
    return acc.previous_school or acc.link_school or acc.school


def offering(store: Store, accounts: Iterable[Account]) -> list[tuple[str, MatchCase, Any]]:
    """(username, case, score) of the open cases that offer `accounts`, about to be restored:
    at the school a restore returns each to (its record back under a new MIS id), or at another
    of its local authority (a mover's record, whose case would move it there). Each school's
    cases read once."""
    homes = {
        acc.username: home
        for acc in accounts
        # (an active account's school; a mover's previous_school is the one it left)
        if (home := _home(acc))
    }
    return authority_offers(store, homes)


def authority_offers(store: Store, homes: dict[str, str]) -> list[tuple[str, MatchCase, Any]]:
    """case_offers of the schools of `homes` (username -> its school) and of every school of
    their local authorities with open cases: a mover's case at another school offers it too."""
    if not homes:
        return []
    las = {la_of(home) for home in homes.values()}
    schools = {s.dfe for s in store.list_schools() if la_of(s.dfe) in las and s.open_cases}
    return case_offers(store, homes, schools | set(homes.values()))


def restore_note(username: str, case: MatchCase, score: Any) -> str:
    """What a restore of an account an open case offers leaves undone."""
    return (
        f"{case_named(case)} offers {username} ({score}%): {matched_there(username, case)}; "
        "restored, it is linked to no record and the case stays open"
    )
