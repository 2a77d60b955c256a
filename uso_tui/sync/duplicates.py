"""Possible duplicates (DESIGN section 3): two active accounts that are probably one person, so
that a duplicate made before (a race, an operator, an older version) is found and reviewed.

A pair is two active accounts with the same UPN anywhere in the store, or, in one local
authority and with the same role, the same normalised surname and date of birth and a forename
or preferred name equal to the other's forename. Two preferred names alike are not enough (twins
share a known-as name), nor are the same surname and date of birth (twins); two different UPNs
say two children. Accounts are grouped by those keys: the cost grows with the accounts, not with
their pairs. Pairs an operator kept as different people (Store.kept_pairs) are never listed.

One person keyed twice with a slip is a pair too (a near pair): in one local authority and role,
two accounts with the same surname or the same forename, born the same day or a slip apart (a day,
month or year out, day and month swapped; a digit changed or two exchanged between the holders of
a full name on only two dates, at DIGIT_SLIP_SCORE), that the matching model, weighing one as a
candidate for the other in that pool, finds probably one person (NEAR_SCORE), nothing against it (a different
UPN, preferred name or gender; a wholly different forename or surname is not weighed). So
"Kate" and "Katherine Cartwright" born a day apart are listed, and twins (another forename) are
not; nor are two pupils born the same day with one surname and forenames that differ at all
("Dani" and "Daniel" may be twins: the rule above lists them only with the same forename),
unless one is known by the other's middle name (Muhammad Ali Khan keyed again as Ali Khan).

A pair whose two accounts are linked to two records of one MIS export also says that the MIS holds
the person twice (_held_twice).

The finder takes Account objects (UPN and gender in `extra`) or the store's AccountHit tuples
(their fields read where present). The actions: keep both (remembered, audited) or unallocate one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache, lru_cache, partial
from itertools import combinations
from typing import Any

from uso_tui.domain.collector import gc_paused
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account
from uso_tui.domain.names import (
    genders_apart,
    normalise,
    normalise_cached,
    permanent_upn,
    upn_given,
)
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store
from uso_tui.store.kept import pair_key
from uso_tui.sync.access import require
from uso_tui.sync.apply import account_diff, event, event_words, stamp
from uso_tui.sync.checks import latest_export_ids
from uso_tui.sync.dob_slips import date_slips, near_dates, swap_day_month
from uso_tui.sync.evidence import dob_level, forename_level, person_of_account, surname_level
from uso_tui.sync.match_model import CONFLICTS, LEVEL_TEXT, UPN_CROWD, placeholder_dob
from uso_tui.sync.matched_names import key, parts
from uso_tui.sync.matching import CandidateIndex
from uso_tui.sync.plan import unallocated
from uso_tui.sync.runner import iso
from uso_tui.sync.undone import duplicate_of

# A block this large is not a few duplicates but a placeholder name (test data, "Unknown"): each
# member is paired with the first only, so one bad block cannot flood the review. (A UPN that many
# hold is no evidence at all: match_model.UPN_CROWD.)
MAX_BLOCK = 20
ROLES = ("pupil", "staff")
SAME_NAMES = "same names and date of birth"
SAME_KNOWN_AS = "same known-as name, surname and date of birth"
SWAPPED = "forename and surname the other way round, same date of birth"
# The least score at which a near pair is listed: the model's chance that an account of the pool
# is the person keyed (match_model.score), more likely one person than two.
NEAR_SCORE = 50
# ... and for two holders of one full name born a digit apart (or two digits exchanged), not a
# commoner slip: the score weighs one candidate, not the thousands of others an authority holds,
# and such dates fall to two people by chance (some 85 of the 15,000 of forty years).
DIGIT_SLIP_SCORE = 90
# Why neither account of a pair the MIS holds twice is unallocated here: its record would come
# back to matching at the next run, its own account the best candidate.
MERGE_AT_SCHOOL = (
    "Unallocated here, its record would come back to matching at the next run: ask the school "
    "to merge the two records, and the run after that unallocates the account left without one"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Duplicate:
    """Two accounts (Account or AccountHit, usernames in order) and why they look like one."""

    first: Any
    second: Any
    evidence: tuple[str, ...]
    twice: str | None = None  # held_twice: why neither is unallocated here

    @property
    def usernames(self) -> tuple[str, str]:
        return (self.first.username, self.second.username)

    def public(self) -> dict[str, Any]:
        """The `duplicates --json` shape (DESIGN section 5)."""
        return {"accounts": list(self.usernames), "evidence": list(self.evidence)}


def _get(person: Any, name: str) -> str:
    """A field of an Account or AccountHit, else of its held MIS fields (`extra`); '' if none."""
    value = getattr(person, name, None)
    if value in (None, ""):
        extra = getattr(person, "extra", None)
        value = extra.get(name) if isinstance(extra, dict) else None
    return "" if value is None else str(value).strip()


def upn_of(person: Any) -> str:
    value = getattr(person, "upn", None)  # an AccountHit's
    if not value:
        extra = getattr(person, "extra", None)  # an Account's held MIS fields
        value = extra.get("upn") if isinstance(extra, dict) else None
        if not value:
            return ""  # (most staff: asked of every account of the store)
    return upn_given(value)


def _pair(one: Any, other: Any) -> tuple[Any, Any]:
    return (one, other) if one.username <= other.username else (other, one)


def pair_seen(one: Any, other: Any) -> str:
    """What a pair kept as different people held (names, date of birth, UPN, role; normalised):
    once either changes (the MIS renamed one to the other's name), the keep no longer says
    anything of them and the review lists the pair again. A digest: kept.json holds no names."""
    parts = []
    for person in _pair(one, other):
        names = (person.forename, person.surname, person.preferred_name)
        parts += [*(normalise(n or "") for n in names), person.dob or "", upn_of(person)]
        parts.append(person.role or "")
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def review_lists(one: Any, other: Any) -> bool:
    """Whether the review lists two active accounts found alike by UPN or by names and date of
    birth (also_active, same_person_elsewhere), by its own rules: by names only within one local
    authority, never twins known by one name, nor two UPNs of two children."""
    return bool(find_duplicates([one, other]))


def listed_words(one: Any, other: Any, kept: Mapping[tuple[str, str], str | None]) -> str:
    """How a note about two such accounts ends: where the operator finds the pair. `kept`: the
    pairs kept as different people (kept_as_seen), which the review leaves out while the keep
    holds."""
    if review_lists(one, other):
        key = pair_key(one.username, other.username)
        if key in kept and still_kept(kept[key], one, other):
            return "kept as different people: `uso-tui duplicates --kept` lists the pair"
        return f"`uso-tui duplicates {one.school}` lists the pair"
    return "`uso-tui duplicates` does not list them as a pair: check the two by hand"


def still_kept(seen: str | None, one: Any, other: Any) -> bool:
    """Whether a keep (`seen`, what the pair held when kept: kept_as_seen) still holds for the
    two as they are: always for a pair kept before keeps held it, or one no longer found."""
    return seen is None or one is None or other is None or seen == pair_seen(one, other)


def kept_as_seen(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], str | None]:
    """Kept pairs (Store.kept_rows) -> what they held when kept (None: kept before that was kept)."""
    return {pair_key(row["a"], row["b"]): row.get("seen") for row in rows}


# the evidence of a kept pair listed again
CHANGED_SINCE_KEPT = (
    "kept as different people before; their names, date of birth or UPN have changed since"
)


def find_duplicates(
    people: Iterable[Any],
    kept: Iterable[tuple[str, str]] | Mapping[tuple[str, str], str | None] = (),
    school: str | None = None,
) -> list[Duplicate]:
    """The pairs among `people` (unallocated ones are ignored), each with its evidence; with
    `school`, only the pairs with an account at that school. `kept`: pairs kept as different
    people, left out; given as kept_as_seen gives them, one whose accounts have changed since
    is listed again."""
    by_name: dict[str, Any] = {}
    for person in people:
        if person.status == "active" and person.school:
            by_name.setdefault(person.username, person)
    accounts = list(by_name.values())
    seen = kept if isinstance(kept, Mapping) else dict.fromkeys(kept)
    skip = {tuple(sorted(k)): v for k, v in seen.items()}
    # kept pairs the keep still holds for are left out; one whose accounts changed is listed
    still = {k for k, v in skip.items() if still_kept(v, by_name.get(k[0]), by_name.get(k[1]))}
    why: dict[tuple[str, str], set[str]] = defaultdict(set)
    found: dict[tuple[str, str], tuple[Any, Any]] = {}

    partners: dict[str, set[str]] = defaultdict(set)  # every pair, of any school (`also`)

    def note(person: Any, other: Any, reason: str) -> None:
        first, second = _pair(person, other)
        key = (first.username, second.username)
        if key in still:
            return
        partners[first.username].add(second.username)
        partners[second.username].add(first.username)
        if school is not None and school not in (person.school, other.school):
            return
        if key in skip:
            why[key].add(CHANGED_SINCE_KEPT)
        found[key] = (first, second)
        why[key].add(reason)

    by_upn: dict[str, list[Any]] = defaultdict(list)
    by_names: dict[tuple[str, ...], list[tuple[Any, bool]]] = defaultdict(list)
    by_whole: dict[tuple[str, ...], list[Any]] = defaultdict(list)  # la, dob, forename, surname
    for person in accounts:
        upn = upn_of(person)
        if upn:
            by_upn[upn].append(person)
        surname = normalise_cached(person.surname)
        if not person.dob or not surname:
            continue
        forename = normalise_cached(person.forename)
        known_as = normalise_cached(person.preferred_name)
        # (not by role: a sixth-former who also works at the school has a pupil's and a staff
        # account, which DESIGN's review lists: kept, or one unallocated)
        block = (la_of(person.school), surname, person.dob)
        if forename:
            by_names[(*block, forename)].append((person, True))
            if forename != surname:
                by_whole[(block[0], person.dob, forename, surname)].append(person)
        if known_as and known_as != forename:
            by_names[(*block, known_as)].append((person, False))

    for members in by_upn.values():
        if len(members) > UPN_CROWD:
            continue  # a dummy number keyed for many (match_model.UPN_CROWD), not one child's
        for person, other in _pairs_of(members):
            if not _nothing_else_alike(person, other):
                note(person, other, "upn")
    for block in by_names.values():
        for (person, person_forename), (other, other_forename) in _pairs_of(block):
            if not (person_forename or other_forename):
                continue  # two known-as names alike: twins may share one
            if _upns_differ(person, other):
                # two children, mostly; the very names and date of birth are listed still (a UPN
                # keyed wrongly at one school made a second account no review would show), but
                # not given other middle names too (twins Muhammad Ali and Muhammad Omar Khan)
                if person_forename and other_forename and not _middles_differ(person, other):
                    note(person, other, "names")
                    note(person, other, "upns_differ")
                continue
            note(person, other, "names" if person_forename and other_forename else "known_as")

    for (la, dob, forename, surname), members in by_whole.items():
        # keyed the wrong way round (Gibb Jasmine for Jasmine Gibb): each pair once, from the
        # block whose forename sorts first
        if forename < surname and len(members) <= MAX_BLOCK:
            others = by_whole.get((la, dob, surname, forename), ())
            for person in members:
                for other in others if len(others) <= MAX_BLOCK else ():
                    if not _upns_differ(person, other):
                        note(person, other, "swapped")

    near: dict[tuple[str, str], str] = {}  # pair -> its evidence in words
    for group in _by_la_and_role(accounts).values():
        for first, second, words in _near_pairs(group, found.keys() | still, school):
            near[(first.username, second.username)] = words  # in _pair's order
            note(first, second, "near")

    # an account in two pairs or more says so in each: one person's third account, or twins
    # and an account asked for one of them, each pair alone looking like a plain duplicate
    # (the first few partners of each read once: a crowd of one name pairs one with thousands)
    first_few = {u: heapq.nsmallest(4, others) for u, others in partners.items() if len(others) > 1}

    def also(a: Any, b: Any) -> tuple[str, ...]:
        out = []
        for person, pair_other in ((a, b), (b, a)):
            if person.username not in first_few:
                continue
            more = [u for u in first_few[person.username] if u != pair_other.username][:3]
            rest = len(partners[person.username]) - 1 - len(more)
            out.append(
                f"{person.username} is also paired with {', '.join(more)}"
                + (f" and {rest} more" if rest > 0 else "")
            )
        if out and len(out) + sum(len(partners[p.username]) for p in (a, b)) <= 6:
            out.append("one person's third account, or twins and an account made for one of them")
        return tuple(out)

    return _sorted(
        Duplicate(a, b, _evidence(a, b, why[key], near.get(key)) + also(a, b))
        for key, (a, b) in found.items()
    )


def _nothing_else_alike(person: Any, other: Any) -> bool:
    """Whether two accounts of one UPN are alike in nothing else, as the matcher weighs them:
    forenames (known-as and middle names, short forms, slips), surnames (a part, a slip) and
    dates of birth (a slip; a placeholder date says nothing) all different, one role: two
    children given one number (a dummy a few hold, a number keyed at the wrong record), not one
    person; merging them at the school would give one child the other's account."""
    if person.role != other.role or not (person.dob and other.dob):
        return False
    if placeholder_dob(person.dob) or placeholder_dob(other.dob):
        return False
    if dob_level(person.dob, other.dob) != "different":
        return False
    one, two = person_of_account(person), person_of_account(other)
    return surname_level(one, two) == "different" and forename_level(one, two) == "different"


def _by_la_and_role(accounts: list[Any]) -> dict[tuple[str, str], list[Any]]:
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for person in accounts:
        groups[(la_of(person.school), person.role)].append(person)
    return groups


def _twins(person: Any, other: Any) -> bool:
    """Two pupils who could be twins: born the same day, one surname (their forenames differ,
    else the same-names rule would have paired them), unless one is known by a middle name of
    the other's (Muhammad Ali Khan keyed again as Ali Khan: no parent names a twin so)."""
    return (
        person.role == "pupil"
        and person.dob == other.dob
        and normalise_cached(person.surname) == normalise_cached(other.surname)
        and not _by_a_middle_name(person, other)
        and not _by_a_middle_name(other, person)
    )


def _by_a_middle_name(person: Any, other: Any) -> bool:
    """Whether `person`'s forename is one of `other`'s middle names, as the matcher reads them
    (evidence.forename_level's "middle")."""
    forename = key(person.forename)
    return bool(forename) and forename in parts(getattr(other, "middle_names", "") or "")


@lru_cache(maxsize=65_536)  # a few thousand birthdays, held by many each
def _slips(dob: str) -> frozenset[str]:
    """The commonest slips of a date: a day, a month or a year out (near_dates), day and month
    swapped: looked for among those sharing a forename or a surname."""
    swapped = swap_day_month(dob)
    return frozenset((*near_dates(dob), *((swapped,) if swapped else ())))


# The block of both names looks for every slip the matcher knows (a digit changed, two
# exchanged: dob_slips.date_slips, some 85 dates): it holds two people, so this costs little,
# where a block of one name (hundreds of people) would weigh many more pairs for it.
_SLIPS_OF = {"s": _slips, "f": _slips, "b": date_slips}


def _near_pairs(
    group: list[Any], known: set[tuple[str, str]], school: str | None = None
) -> Iterable[tuple[Any, Any, str]]:
    """The near pairs of one LA and role (see the module's docstring), pairs in `known` left
    out, with an account at `school` when given: (account, account, the evidence in words).
    The accounts are grouped by surname and by forename, then by date of birth; in a group,
    those born the same day or a slip apart are weighed by the model (few: most names are held
    by a few people of an authority, on other days)."""
    blocks: dict[tuple[str, str], dict[str, list[Any]]] = {}
    named = [
        (person, normalise_cached(person.forename), normalise_cached(person.surname))
        for person in group
        if person.dob
    ]
    # A block of both names where they are held on exactly two dates: most people are alone in
    # theirs, and among three or more holders of a name (a common one) a digit apart is as often
    # two people (one person keyed twice on one date and a third time with a slip: still two)
    dates = defaultdict(set)
    for person, forename, surname in named:
        dates[forename, surname].add(person.dob)
    for person, forename, surname in named:
        for name in (("s", surname), ("f", forename)):
            if name[1]:
                blocks.setdefault(name, {}).setdefault(person.dob, []).append(person)
        if forename and surname and len(dates[forename, surname]) == 2:
            both = ("b", f"{forename} {surname}")
            blocks.setdefault(both, {}).setdefault(person.dob, []).append(person)
    index: CandidateIndex | None = None
    seen: set[tuple[str, str]] = set(known)
    for (kind, _), by_dob in blocks.items():
        slips = _SLIPS_OF[kind]
        for dob, members in by_dob.items():
            if len(members) > MAX_BLOCK:
                continue  # a placeholder date many hold: no evidence of one person
            close = by_dob.keys() & slips(dob) if len(by_dob) > 1 else ()
            if not close and len(members) == 1:
                continue  # most: no one else of that name born that day or near it
            others = [o for d in (dob, *close) if len(by_dob[d]) <= MAX_BLOCK for o in by_dob[d]]
            for person in members:
                for other in others:
                    if other is person or (
                        school is not None and school not in (person.school, other.school)
                    ):
                        continue
                    first, second = _pair(person, other)
                    key = (first.username, second.username)
                    if key in seen:
                        continue
                    seen.add(key)
                    if _upns_differ(person, other) or _twins(person, other):
                        continue  # two children
                    if index is None:
                        index = CandidateIndex(group)  # names weighed by how common in the LA
                    weighed = index.weigh_pair(first, second)
                    if weighed is None:
                        # A wholly different forename or surname, the other name and the date
                        # alike, is as often two people (in an authority of thousands, some share
                        # a forename and a birthday) as a marriage: the review cannot tell them
                        # apart. weigh_pair leaves such pairs unweighed.
                        continue
                    score, evidence = weighed
                    bar = NEAR_SCORE
                    if person.dob != other.dob and other.dob not in _slips(person.dob):
                        bar = DIGIT_SLIP_SCORE  # (found in the block of both names)
                    if score < bar or any((f, lv) in CONFLICTS for f, lv, _ in evidence):
                        continue
                    yield first, second, _near_words(score, evidence)


def _near_words(score: int, evidence: Any) -> str:
    """A near pair's evidence in words: the model's score, then what is not the same (strongest
    first), so the operator sees at once where the two differ."""
    words = f"probably one person ({score}%)"
    ranked = sorted(evidence, key=lambda e: -abs(e[2]))
    differs = [
        LEVEL_TEXT[(f, lv)] for f, lv, _ in ranked if lv != "equal" and (f, lv) in LEVEL_TEXT
    ]
    return words + (": " + ", ".join(differs) if differs else "")


def _sorted(pairs: Iterable[Duplicate]) -> list[Duplicate]:
    return sorted(pairs, key=lambda d: (min(d.first.school, d.second.school), d.usernames))


def _upns_differ(person: Any, other: Any) -> bool:
    """Two permanent UPNs that differ (a temporary one ends in a letter and is replaced once
    the permanent one is known, a filler is keyed for none: a difference there says nothing)."""
    upn_a, upn_b = upn_of(person), upn_of(other)
    return upn_a != upn_b and permanent_upn(upn_a) and permanent_upn(upn_b)


def _middles_differ(person: Any, other: Any) -> bool:
    one = normalise(getattr(person, "middle_names", "") or "")
    two = normalise(getattr(other, "middle_names", "") or "")
    return bool(one and two and one != two)


def _pairs_of(members: list[Any]) -> Iterable[tuple[Any, Any]]:
    if len(members) <= MAX_BLOCK:
        return combinations(members, 2)
    return ((members[0], m) for m in members[1:])


def _evidence(
    first: Any, second: Any, reasons: set[str], near: str | None = None
) -> tuple[str, ...]:
    out: list[str] = []
    if "upn" in reasons:
        out.append(f"same UPN {upn_of(first)}")
    if "upns_differ" in reasons:
        out.append(
            f"different UPNs ({upn_of(first)}, {upn_of(second)}): two children, or one UPN "
            "keyed wrongly"
        )
    if "names" in reasons:
        out.append(SAME_NAMES)
    elif "known_as" in reasons:
        out.append(SAME_KNOWN_AS)
    elif "swapped" in reasons:
        out.append(SWAPPED)
    elif near is not None:
        out.append(near)
    else:  # the same UPN alone: say what differs
        if normalise(first.forename) != normalise(second.forename):
            out.append("different forename")
        if normalise(first.surname) != normalise(second.surname):
            out.append("different surname")
        if first.dob != second.dob:
            out.append(f"different date of birth ({first.dob or '-'}, {second.dob or '-'})")
    if first.role != second.role:
        out.append(f"a {first.role} and a {second.role} account")
    gender_a, gender_b = _get(first, "gender").upper(), _get(second, "gender").upper()
    if genders_apart(gender_a, gender_b):  # (U says neither)
        out.append(f"different gender ({gender_a}, {gender_b})")
    out.append(
        f"both at {first.school}"
        if first.school == second.school
        else f"at {first.school} and {second.school}"
    )
    if CHANGED_SINCE_KEPT in reasons:
        out.append(CHANGED_SINCE_KEPT)
    return tuple(out)


# -- reading the store --------------------------------------------------------------------------


def _school_people(store: Store, dfe: str) -> list[Any]:
    """The active accounts of the school's local authority (pairs by names never cross one) and
    every account of the store that shares a UPN with one at the school (from the compact
    indexes: no account file is parsed)."""
    store.school(dfe)  # an unknown school is refused, not an empty list
    people = {
        hit.username: hit
        for hit in store.la_people(la_of(dfe))
        if hit.status == "active" and hit.school
    }
    upns = {u for hit in people.values() if hit.school == dfe and (u := upn_of(hit))}
    if upns:
        for role in ROLES:
            for hit in store.find_people(role, upns, set()):
                people.setdefault(hit.username, hit)
    return list(people.values())


def possible_duplicates(store: Store, dfe: str | None = None) -> list[Duplicate]:
    """The pairs to review (with an account at `dfe` when given), kept pairs left out: see
    reviewed()."""
    return reviewed(store, dfe)[0]


def reviewed(
    store: Store, dfe: str | None = None, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Duplicate], dict[str, Account]]:
    """The pairs to review (with an account at `dfe` when given), kept pairs left out, and their
    accounts as stored, by username (each of their schools' files read once). The whole store is
    read one local authority at a time (names pairs never cross one; `progress(done, total)`
    hears each), and UPNs held in two authorities are looked up again across the store at the
    end. The collector is paused meanwhile (a console holds many objects: each collection the
    reading triggers would walk them all; measured at 1.5M accounts, three times as long)."""
    with gc_paused():
        pairs = _possible_duplicates(store, dfe, progress)
        accounts = _accounts_of(store, pairs)
        return _held_twice(pairs, accounts, _exports(store)), accounts


def _exports(store: Store) -> Callable[[str, str], set[str] | None]:
    """The MIS ids of a school's latest export of a report, each read once."""
    return cache(partial(latest_export_ids, store))


def _accounts_of(store: Store, pairs: list[Duplicate]) -> dict[str, Account]:
    wanted: dict[str, set[str]] = {}
    for pair in pairs:
        for hit in (pair.first, pair.second):
            wanted.setdefault(getattr(hit, "home", None) or hit.school, set()).add(hit.username)
    return {
        account.username: account
        for home, usernames in wanted.items()
        for account in store.school_accounts(home)
        if account.username in usernames
    }


def held_twice(
    one: Account, other: Account, present: Callable[[str, str], set[str] | None]
) -> str | None:
    """What says that the MIS holds one person twice: the two accounts are linked to two
    records of one export, both in its latest (`present(school, report)`: their MIS ids; None
    when none is kept). None when they are not (a link an undone run gave back to a record
    since gone is no record of the MIS)."""
    if not (one.linked and other.linked):
        return None
    if (one.link_school, one.link_report) != (other.link_school, other.link_report):
        return None
    ids = present(str(one.link_school), str(one.link_report))
    if ids is not None and not {one.mis_id, other.mis_id} <= ids:
        return None
    return (
        f"the MIS holds this person twice ({one.link_report} records {one.mis_id} and "
        f"{other.mis_id} at {one.link_school})"
    )


def linked_apart(
    one: Account, other: Account, present: Callable[[str, str], set[str] | None]
) -> str | None:
    """What says both accounts are linked to records still in two exports (a pupil's and a
    staff record, two schools): either unallocated, its record comes back to matching at every
    run, the other account no candidate for it. None when not so (held_twice: one export)."""
    if not (one.linked and other.linked):
        return None
    if (one.link_school, one.link_report) == (other.link_school, other.link_report):
        return None
    for account in (one, other):
        ids = present(str(account.link_school), str(account.link_report))
        if ids is None or account.mis_id not in ids:
            return None
    return (
        f"both linked to records still in the MIS ({one.link_report} {one.mis_id} at "
        f"{one.link_school}, {other.link_report} {other.mis_id} at {other.link_school}): "
        "either unallocated, its record comes back to matching at the next run"
    )


def _held_twice(
    pairs: list[Duplicate],
    accounts: dict[str, Account],
    present: Callable[[str, str], set[str] | None],
) -> list[Duplicate]:
    """The pairs whose two accounts are linked to two records of one MIS export say so: the MIS
    holds the person twice. Unallocating one here, its record comes back to matching at the next
    run (the other account, linked to a record present, is never its candidate): the records
    are to be merged at the school."""
    out = []
    for pair in pairs:
        one, other = accounts.get(pair.first.username), accounts.get(pair.second.username)
        if one is None or other is None:
            out.append(pair)
            continue
        said = held_twice(one, other, present)
        if said is not None:
            evidence = (*pair.evidence, f"{said}: ask the school to merge them")
            pair = dataclasses.replace(pair, evidence=evidence, twice=said)
        elif (apart := linked_apart(one, other, present)) is not None:
            pair = dataclasses.replace(pair, evidence=(*pair.evidence, apart))
        out.append(pair)
    return out


def _possible_duplicates(
    store: Store, dfe: str | None, progress: Callable[[int, int], None] | None = None
) -> list[Duplicate]:
    kept = kept_as_seen(store.kept_rows())
    if dfe is not None:
        return find_duplicates(_school_people(store, dfe), kept, school=dfe)
    found: dict[tuple[str, str], Duplicate] = {}
    first_la: dict[str, str] = {}  # UPN -> the first local authority seen holding it
    shared: set[str] = set()
    las = sorted({s.la for s in store.list_schools()})
    for done, la in enumerate(las):
        if progress is not None:
            progress(done, len(las))
        people = [hit for hit in store.la_people(la) if hit.status == "active" and hit.school]
        for duplicate in find_duplicates(people, kept):
            found[duplicate.usernames] = duplicate
        for hit in people:
            upn = upn_of(hit)
            if upn and first_la.setdefault(upn, la) != la:
                shared.add(upn)
    if shared:
        people = [hit for role in ROLES for hit in store.find_people(role, shared, set())]
        for duplicate in find_duplicates(people, kept):
            found.setdefault(duplicate.usernames, duplicate)
    return _sorted(found.values())


def also_active(store: Store, accounts: Iterable[Account]) -> list[Any]:
    """The active accounts (AccountHit), other than `accounts`, that a pair with one of them
    would list by its keys: the same UPN (not a dummy one many hold), or the same surname and
    date of birth with its forename or known-as name. Asked before unallocated accounts are
    restored: a person may have been given another account since (at a new school), and
    restoring would make them two. One look per role, however many accounts."""
    found = {hit.username: hit for hits in active_beside(store, accounts).values() for hit in hits}
    return sorted(found.values(), key=lambda hit: hit.username)


def _keys(person: Any) -> set[tuple[str, str, str]]:
    """(forename or known-as name, surname, date of birth), normalised: what a pair is found by
    besides the UPN."""
    surname = normalise(person.surname)
    if not (person.dob and surname):
        return set()
    names = {normalise(person.forename), normalise(person.preferred_name)} - {""}
    return {(name, surname, person.dob) for name in names}


def _near_keys(person: Any) -> set[tuple[str, str, str]]:
    """_keys with the date of birth a common slip away (a day, a month or a year out, day and
    month swapped): one person keyed twice, as the review lists a near pair."""
    return {(n, s, slip) for n, s, dob in _keys(person) for slip in _slips(dob)}


def _near_pair(account: Account, hit: Any) -> bool:
    """Whether the review would list `account`, active at its school (or the one it is restored
    to), and `hit` found by a date a slip apart: in one local authority, weighed probably one
    person (as find_duplicates weighs a near pair) and nothing against it."""
    home = account.school or account.previous_school or account.link_school
    if not home or not hit.school or la_of(home) != la_of(hit.school):
        return False
    return review_lists(dataclasses.replace(account, status="active", school=home), hit)


def active_beside(
    store: Store, accounts: Iterable[Account], besides: Iterable[str] = ()
) -> dict[str, list[Any]]:
    """also_active, account by account: for each of `accounts` (by username) that has any, the
    active accounts other than `accounts` and `besides` with its UPN or its names and date of
    birth, or its names and a date a common slip away in its local authority where the review
    would list the two as a near pair ("probably one person": restoring one would make it
    again). One look per role, however many accounts."""
    accounts = list(accounts)
    chosen = {account.username for account in accounts} | set(besides)
    by_role: dict[str, tuple[set[str], set[tuple[str, str, str]]]] = defaultdict(
        lambda: (set(), set())
    )
    for account in accounts:
        upns, keys = by_role[account.role]
        if upn := upn_of(account):
            upns.add(upn)
        keys.update(_keys(account), _near_keys(account))
    found: dict[str, list[Any]] = {}  # role -> the active hits
    crowded: set[str] = set()
    for role, (upns, keys) in by_role.items():
        hits = store.find_people(role, upns, keys)
        holders: dict[str, int] = defaultdict(int)
        for hit in hits:
            holders[upn_of(hit)] += 1
        many = {upn for upn in upns if holders[upn] > UPN_CROWD}  # dummies: no evidence
        if many:
            crowded |= many
            hits = store.find_people(role, upns - many, keys)
        found[role] = [h for h in hits if h.status == "active" and h.username not in chosen]
    out: dict[str, list[Any]] = {}
    for account in accounts:
        upn, keys, near = upn_of(account), _keys(account), _near_keys(account)
        mine = [
            hit
            for hit in found.get(account.role, ())
            if (upn and upn not in crowded and upn_of(hit) == upn)
            or keys & _keys(hit)
            or (near & _keys(hit) and _near_pair(account, hit))
        ]
        if mine:
            out[account.username] = sorted(mine, key=lambda hit: hit.username)
    return out


def kept_as_their_duplicates(store: Store, accounts: Iterable[Account]) -> dict[str, list[str]]:
    """For each of `accounts` (by username) that has any: the accounts an operator unallocated
    as its duplicates that stand so (their last event that unallocation), looked for as the
    review pairs them, in either role: its UPN; its forename or its surname with its date of
    birth or any slip of it; its names the other way round. Asked before an account is taken
    away (an undo): its person would be left with no active account. (A pair of two slipped
    names born on two dates is not found.) One look per role."""
    accounts = list(accounts)
    upns: set[str] = set()
    keys: set[tuple[str, str, str]] = set()
    for account in accounts:
        if upn := upn_of(account):
            upns.add(upn)
        for forename, surname, dob in _keys(account):
            for day in {dob, *_slips(dob), *date_slips(dob)}:
                keys.update(((forename, "", day), ("", surname, day), (surname, forename, day)))
    names = {account.username for account in accounts}
    unallocated = {
        hit.username
        for role in ROLES
        for hit in store.find_people(role, upns, keys)
        if hit.status != "active" and hit.username not in names
    }
    out: dict[str, list[str]] = {}
    for username, found in sorted(store.find_accounts(unallocated).items()):
        kept = duplicate_of(found)  # (as it stands: a match of it undone since is no entry)
        if found.status != "active" and kept in names:
            out.setdefault(kept, []).append(username)
    return out


# -- the operator's decisions -------------------------------------------------------------------


def two_usernames(first: str, second: str) -> tuple[str, str]:
    first, second = (first or "").strip(), (second or "").strip()
    if not first or not second:
        raise InvalidInput("give two usernames")
    if first == second:
        raise InvalidInput(f"{first} and {second} are the same account")
    return first, second


def keep_both(
    store: Store,
    first_username: str,
    second_username: str,
    *,
    operator: str,
    now: datetime,
    shown: Iterable[Account] = (),
) -> bool:
    """Marks two accounts as different people: never listed together again. Audited on each
    account. False (nothing written) when they already were. `shown`: the two accounts as the
    caller's review listed them (refused if either has changed since: the keep would hold what
    no one looked at, and a later change to it would not list the pair again); else they are
    looked up in the review (a mistyped username would keep apart a pair no review showed,
    hidden from it for good should they ever look alike)."""
    require(store, operator, "duplicate_keep")
    first_username, second_username = two_usernames(first_username, second_username)
    at = iso(now)
    was = {a.username: a for a in shown}
    listed = (
        bool(was)
        or _listed_together(store, first_username, second_username)
        or _listed_together(store, second_username, first_username)
    )
    with store.transaction(operator) as txn:
        first, second = txn.account(first_username), txn.account(second_username)
        _refuse_changed(was, (first, second), "nothing kept")
        for acc, other in ((first, second), (second, first)):
            if acc.status != "active":  # unallocated meanwhile (as the other's duplicate?)
                raise InvalidInput(
                    f"{acc.username} is {acc.status} ({event_words(acc)}): the pair is no longer "
                    f"two active accounts to keep apart; if {acc.username} and {other.username} "
                    f"are two people, restore {acc.username} first (uso-tui restore "
                    f"{acc.username}), then keep them"
                )
        if not listed and pair_key(first_username, second_username) not in txn.kept_pairs():
            raise InvalidInput(
                f"{first_username} and {second_username} are not a possible duplicate pair (no "
                "UPN, names or date of birth alike enough to say one person): nothing to keep "
                "apart; check the two usernames (uso-tui duplicates lists the pairs)"
            )
        if not txn.keep_pair(first_username, second_username, at, pair_seen(first, second)):
            return False
        for acc, other in ((first, second), (second, first)):
            txn.audit(
                event(
                    txn,
                    at,
                    acc.school or acc.home,
                    "duplicate_keep",
                    acc.username,
                    None,
                    {"kept_apart_from": other.username},
                )
            )
    return True


def _listed_together(store: Store, username: str, other: str) -> bool:
    """Whether the review of `username`'s school lists the two as a pair (kept pairs counted:
    that refusal says more), their names weighed in its local authority as the review weighs
    them (a pool of the two alone makes every shared name common, and near pairs fall short)."""
    acc = store.find_account(username)
    if acc is None or acc.status != "active" or not acc.school:
        return False
    pair = tuple(sorted((username, other)))
    return any(d.usernames == pair for d in find_duplicates(_school_people(store, acc.school)))


def _pair_fields(acc: Account) -> tuple:
    """What a pair rests on: an account changed in any of these since a review showed it is
    no longer the pair shown."""
    return (
        acc.status,
        acc.school,
        acc.role,
        acc.forename,
        acc.surname,
        acc.preferred_name,
        acc.middle_names,
        acc.dob,
        acc.extra.get("upn"),
        acc.extra.get("gender"),
        acc.link_school,
        acc.mis_id,
    )


def _refuse_changed(was: dict[str, Account], now: tuple[Account, Account], outcome: str) -> None:
    """Refuses a decision on a pair as a review showed it (`was`, by username; none: not from
    a review) when either account has changed since (a run or another operator)."""
    if not was:
        return
    moved = [
        a.username
        for a in now
        if a.username in was and _pair_fields(was[a.username]) != _pair_fields(a)
    ]
    if moved or was.keys() != {a.username for a in now}:
        raise InvalidInput(
            f"{outcome}: {' and '.join(moved) or 'the pair'} changed since the list was read (a "
            "run or another operator): read the list again and check the pair"
        )


def unallocate_duplicate(
    store: Store,
    username: str,
    other: str,
    *,
    operator: str,
    now: datetime,
    shown: Iterable[Account] = (),
) -> Account:
    """Unallocates `username` as a duplicate of `other` (which stays active), as the unallocate
    action does: kept, restorable, audited. Its MIS link is dropped, else its school's next run
    would restore it; the record then comes to matching, where `other` is a candidate.
    `shown`: the two accounts as the review the caller showed listed them (refused if either
    has changed since: a run or an operator may have made them two people); else the two named
    are looked up in the review (a mistyped name is refused, not unallocated)."""
    require(store, operator, "duplicate_unallocate")
    username, other = two_usernames(username, other)
    at = iso(now)
    was = {a.username: a for a in shown}
    listed = bool(was) or _listed_together(store, username, other)
    with store.transaction(operator) as txn:
        acc, keep = txn.account(username), txn.account(other)
        _refuse_changed(was, (acc, keep), f"{username} stays")
        if acc.status != "active" or not acc.school:
            raise InvalidInput(f"{username} is not active at a school")
        if keep.status != "active":
            raise InvalidInput(f"{other} is not active: {username} is that person's only account")
        if not listed:
            raise InvalidInput(
                f"{username} stays: {username} and {other} are not a possible duplicate pair "
                "(no UPN, names or date of birth alike enough to say one person): check the "
                "two usernames (uso-tui duplicates lists the pairs)"
            )
        twice = held_twice(acc, keep, _exports(store))
        if twice is not None:
            raise InvalidInput(f"{username} stays: {twice}. {MERGE_AT_SCHOOL}")
        kept = kept_as_seen(txn.kept_rows())
        key = pair_key(username, other)
        if key in kept and still_kept(kept[key], acc, keep):  # decided meanwhile, elsewhere
            raise InvalidInput(
                f"{username} stays: {username} and {other} were kept as different people "
                "(the audit log of either says by whom and when)"
            )
        school = acc.school
        after = unallocated(dataclasses.replace(acc), school)
        after.unallocated_at = at
        if after.linked:
            # the link it had is kept as a restored account's: restored, it relinks only to that
            # record, and is not taken for an account requested at the school
            after = dataclasses.replace(
                after,
                mis_id=None,
                link_school=None,
                link_report=None,
                source="manual",
                previous_link=f"{acc.link_school}/{acc.link_report}/{acc.mis_id}",
            )
        stamp(after, "unallocate", at, school, None)
        # (on the account too: a case matched to it later asks first, naming the one kept)
        after.history[-1] = {**after.history[-1], "duplicate_of": other}
        txn.put_account(after)
        before, changed = account_diff(acc, after)
        txn.audit(
            event(
                txn, at, school, "unallocate", username, before, {**changed, "duplicate_of": other}
            )
        )
    return after
