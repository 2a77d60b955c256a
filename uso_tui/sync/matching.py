"""Finding the accounts a MIS record may belong to (DESIGN section 3, "Matching").

Candidates come from an index over the local authority's accounts of one role, built once per
plan and only when a record needs it, plus the accounts anywhere in the store with the record's
UPN or its names and date of birth (movers from another local authority, found by the store).
Blocking keys keep the comparisons few: the UPN; the date of birth (as sent, with day and month
swapped, and with any one digit changed or a day, month or year out, the last with the
surname's first letters); a phonetic surname key with the initial of the forename, preferred
name or a middle name (dates mistyped in other ways); names in the wrong order. Every pair is
never compared.

Each pair found is weighed field by field (`evidence`, with the model of `match_model`:
Fellegi-Sunter):
each candidate carries its score (the probability that it is the person, as a percentage) and
the evidence of every field, so an operator sees why it ranks where it does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from uso_tui.domain.models import Account, Candidate, MisRecord
from uso_tui.domain.names import filler_upn, permanent_upn, upn_key
from uso_tui.sync import match_model as model
from uso_tui.sync.dob_slips import (
    near_dates,
    one_digit_variants,
    swap_day_month,
    transposed_variants,
)
from uso_tui.sync.evidence import (
    MOST,
    MOST_INEXACT,
    STAFF_WEIGHTS,
    WEIGHTS,
    Evidence,
    Person,
    account_field,
    compare_with_total,
    differs,
    dob_level,
    forename_level,
    person_of_account,
    person_of_record,
    reasons_of,
    record_weights,
    school_years_between,
    surname_level,
    swapped_names,
    upn_level,
)
from uso_tui.sync.match_model import (
    DOB_CROWD,
    MAX_CANDIDATES,
    MIN_SCORE,
    NAME_BLOCK_MAX,
    UPN_CROWD,
)
from uso_tui.sync.matched_names import forename_keys, key, names_close, parts, phonetic

__all__ = ["MAX_CANDIDATES", "MIN_SCORE", "CandidateIndex"]

# Why a candidate under the least score is shown (see CandidateIndex._renamed).
RENAMED = "the same forename and date of birth: the surname changed?"


def _whole_name(account: Account) -> str:
    """The key of an account's forename and surname together (_by_name, the "name" counts)."""
    return f"{key(account.forename)} {key(account.surname)}"


@lru_cache(maxsize=200_000)
def _initials(
    forename: str | None, preferred: str | None, middle: str | None = None
) -> frozenset[str]:
    """Initials of the names a person may be known by: forename, preferred, middle names."""
    keys = [*forename_keys(forename, preferred), *parts(middle), *parts(forename)[1:]]
    return frozenset(k[0] for k in keys if k)


@lru_cache(maxsize=200_000)
def _sounds(surname: str | None) -> tuple[tuple[str, str], ...]:
    """(phonetic key, initial) of each part of a surname."""
    return tuple((phonetic(p), p[0]) for p in parts(surname))


def _grouped(values: list) -> dict[Any, list[int]]:
    """The positions in `values` of each value, ascending."""
    out: dict[Any, list[int]] = {}
    for position, value in enumerate(values):
        got = out.get(value)
        if got is None:
            out[value] = [position]
        else:
            got.append(position)
    return out


def _years(dob: str | None) -> tuple[str, ...]:
    if not dob or not dob[:4].isdigit():
        return ("",)
    year = int(dob[:4])
    return (str(year - 1), dob[:4], str(year + 1), "")


@dataclass(slots=True)
class Scored:
    """One account weighed against a record."""

    account: object
    person: Person
    evidence: Evidence
    bits: float
    swapped: bool = False
    # the record's gender, which the evidence leaves out beside the same forename (no weight)
    # but a tie still reads
    rec_gender: str | None = None

    def tiebreak(self) -> tuple:
        """Ties are broken by agreement on preferred name, middle names and gender (DESIGN)."""
        levels = {field: level for field, level, _ in self.evidence}
        return (
            levels.get("preferred") != "equal",
            levels.get("middle") not in ("equal", "overlap"),
            self.rec_gender not in ("m", "f") or self.person.gender != self.rec_gender,
        )


def _settled(
    rec_upn: str,
    rec_dob: str | None,
    same_dob: float,
    account: object,
    placeholders: set[str],
    weights: dict[tuple[str, str], float],
) -> float:
    """The weight of an account's UPN and date of birth against a record's (compare's, read
    from the account without making its Person; `same_dob`: the weight of the same date;
    `placeholders`: UPNs that are no evidence)."""
    upn = account_field(account, "upn")
    bits = 0.0
    if upn and rec_upn:
        upn = upn_key(upn)
        level = upn_level(rec_upn, upn) if upn not in placeholders else ""
        if level:
            bits += weights["upn", level]
    dob = getattr(account, "dob", None)
    if rec_dob and dob and not model.placeholder_dob(dob):  # (see _person)
        level = dob_level(rec_dob, dob)
        bits += same_dob if level == "equal" else weights["dob", level]
    return bits


def _may_be_swapped(record: Person, account: Person) -> bool:
    """Whether the record's forename and surname may have been keyed the wrong way round against
    the account's: one of them is the account's other name, or each begins as the other does
    (the names exchanged and mistyped: weigh compares them swapped)."""
    if record.skey in account.nameset or account.skey in record.nameset:
        return True
    return bool(
        record.fkey
        and record.skey
        and account.fkey
        and account.skey
        and record.fkey[0] == account.skey[0]
        and record.skey[0] == account.fkey[0]
    )


def _both_names_meet(evidence: Evidence) -> bool:
    """Whether neither the forename nor the surname was weighed wholly different."""
    return not any(
        field in ("forename", "surname") and level == "different" for field, level, _ in evidence
    )


def _names_crossed(record: Person, account: Person) -> bool:
    """Each of the record's names is the account's other one, or a slip of it."""
    pairs = ((record.fkey, account.skey), (record.skey, account.fkey))
    return all(one and other and (one == other or names_close(one, other)) for one, other in pairs)


def _surname_bits(
    record: Person, account: Person, exact: tuple[float, float, float, float]
) -> float:
    """The surname's weight, or +inf where weigh could try the names the other way round (so
    that nothing is decided on the surname alone)."""
    if _may_be_swapped(record, account):
        return math.inf
    level = surname_level(record, account)
    if not level:
        return 0.0
    return exact[1] if level == "equal" else WEIGHTS["surname", level]


class CandidateIndex:
    """Blocking index over one local authority's accounts of one role.

    Built in one pass over the accounts' dates of birth; the sound blocks of a year of birth
    are made when a record first looks in that year, the UPN index when a record first has a
    UPN, and the name frequencies (for the model's name weights) when first needed. An
    account's other keys are computed only when it is weighed."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts: list = list(accounts)
        self._people: dict[int, Person] = {}
        self.as_of: str | None = None  # the day records are weighed on (set_as_of)
        self._latest: dict[str, int] | None = None  # username -> newest position, once add()ed
        self._dob_initial: dict[str, dict[str, list[int]]] = {}  # filled per date when asked
        self._freq: dict[str, dict[str, int]] | None = None
        self._by_name: dict[str, list[int]] = {}  # "forename surname" keys -> positions
        by_dob: dict[str, list[int]] = {}
        by_year: dict[str, list[int]] = {"": []}
        for position, account in enumerate(self.accounts):
            dob = account.dob
            if dob:
                got = by_dob.get(dob)
                if got is None:
                    by_dob[dob] = [position]
                else:
                    got.append(position)
                got = by_year.get(dob[:4])
                if got is None:
                    by_year[dob[:4]] = [position]
                else:
                    got.append(position)
            else:
                by_year[""].append(position)
        self.by_dob = by_dob
        self._by_year = by_year
        # sound of a surname part -> positions, per year of birth ("": no date), made for a year
        # when a record first looks there: a day's records are born in a few of the pool's
        # years. (By sound alone, the initials checked as a record looks: made by surname, not
        # by account, sound and initial.)
        self._sounds_in: dict[str, dict[str, list[int]]] = {}
        self._by_upn: dict[str, list[int]] | None = None  # built when a record has a UPN
        self.placeholder_upns: set[str] = set()  # UPN_CROWD: known once _by_upn is built

    def __len__(self) -> int:
        return len(self.accounts)

    def add(self, account: Account) -> None:
        """Adds (or, after a change, re-adds) an account; the old entry of its username is
        skipped from then on."""
        if self._latest is None:
            self._latest = {a.username: i for i, a in enumerate(self.accounts)}
        position = len(self.accounts)
        before = self._latest.get(account.username)
        self.accounts.append(account)
        self._latest[account.username] = position
        if self._freq is not None:  # counted again as it changes, not recounted for the pool
            if before is not None:
                self._count(self.accounts[before], -1)
            self._count(account, 1)
            self._by_name.setdefault(_whole_name(account), []).append(position)
        if account.dob:
            self.by_dob.setdefault(account.dob, []).append(position)
            self._dob_initial.pop(account.dob, None)
        year = account.dob[:4] if account.dob else ""
        self._by_year.setdefault(year, []).append(position)
        sounds = self._sounds_in.get(year)
        if sounds is not None:
            for ph in dict.fromkeys(ph for ph, _ in _sounds(account.surname)):
                sounds.setdefault(ph, []).append(position)
        upn = account_field(account, "upn")
        if upn and self._by_upn is not None:
            upn = upn_key(upn)
            holders = self._by_upn.setdefault(upn, [])
            holders.append(position)
            if len(holders) > UPN_CROWD:
                self._placeholders({upn})

    @property
    def by_upn(self) -> dict[str, list[int]]:
        if self._by_upn is None:
            upns = [
                # account_field, inlined: a call per account of the pool cost as much again
                (a.extra.get("upn") if a.extra else None)
                if isinstance(a, Account)
                else getattr(a, "upn", None)
                for a in self.accounts
            ]
            by_upn = _grouped([upn_key(upn) if upn else "" for upn in upns])
            by_upn.pop("", None)
            self._by_upn = by_upn
            self._placeholders({upn for upn, got in by_upn.items() if len(got) > UPN_CROWD})
        return self._by_upn

    def upn_holders(self, upn: str, extra: Iterable[object] = ()) -> list[object]:
        """The active accounts of the pool, and of `extra` (found store-wide), that hold this
        permanent UPN (normalised); none for a placeholder."""
        if not permanent_upn(upn) or self.is_placeholder_upn(upn):
            return []
        latest = self._latest
        held = [
            self.accounts[p]
            for p in self.by_upn.get(upn, ())
            if latest is None or latest.get(self.accounts[p].username) == p
        ]
        named = {a.username for a in held}
        for account in extra:
            if account.username not in named and upn_key(account_field(account, "upn")) == upn:
                held.append(account)
        return [a for a in held if getattr(a, "status", "active") == "active"]

    def is_placeholder_upn(self, upn: str) -> bool:
        """Whether more accounts of the pool hold this (normalised) UPN than one child would
        (UPN_CROWD): a dummy number (or one assume_placeholders was told of); or a filler
        (names.filler_upn), keyed for none however few hold it."""
        return (
            len(self.by_upn.get(upn, ())) > UPN_CROWD
            or upn in self.placeholder_upns
            or filler_upn(upn)
        )

    def assume_placeholders(self, upns: Iterable[str]) -> None:
        """Takes `upns` as dummy numbers, as a pool that holds them many times knows them (an
        index of a few accounts weighed for a local authority's record)."""
        self._placeholders(set(upns))

    def _placeholders(self, upns: set[str]) -> None:
        """Takes `upns` as placeholders: the Persons made so far no longer hold them."""
        if upns - self.placeholder_upns:
            self.placeholder_upns |= upns
            for person in self._people.values():
                if person.upn in upns:
                    person.upn = ""

    def person(self, position: int) -> Person:
        person = self._people.get(position)
        if person is None:
            person = self._people[position] = self._person_of(self.accounts[position])
        return person

    def set_as_of(self, day: str) -> None:
        """The day the records are weighed on (a run's, ISO): an unallocated account's year
        group is the one it had when it was unallocated, and its child has gone up a year each
        1 September since (a Year 6 leaver of July is the Year 7 starter of September: weighed
        as another year group, such a mover keyed with slips was given a second account, while
        a sibling a year younger arriving in Year 6 was weighed as in the same year)."""
        if day != self.as_of:
            self.as_of = day
            # made for another day: a new dict, not cleared (a thread planning another school
            # of the local authority may be going through the old one)
            self._people = {}

    def _person_of(self, account: object) -> Person:
        """The account's Person, without a placeholder UPN (UPN_CROWD), its year group as
        of the day set (set_as_of)."""
        person = person_of_account(account)
        if person.upn in self.placeholder_upns:
            person.upn = ""
        if person.year is not None and self.as_of is not None:
            gone = getattr(account, "unallocated_at", None)
            if gone and getattr(account, "status", "active") != "active":
                person.year += school_years_between(gone[:10], self.as_of)
        return person

    def frequency(self, field_: str, name: str) -> float | None:
        """How common a forename, a surname or a whole name ("name": forename and surname keys
        with a space) is among the pool's accounts (0..1); for "dob", a placeholder date's
        share (None for any other date)."""
        if not name:
            return None
        if field_ == "middle":
            return self._middle_share(name)
        if field_ == "dob":  # only a placeholder date's (DOB_CROWD): real dates weigh alike
            count = len(self.by_dob.get(name, ()))
            return model.frequency("dob", count, len(self.accounts)) if count > DOB_CROWD else None
        count = self._counted()[field_].get(name, 0)
        if field_ == "name":
            # the other accounts with the whole name: one is usually the candidate itself, and a
            # name borne once is no evidence that forename and surname go together
            count = max(count - 1, 0)
            if not count:
                return 0.0
        return model.frequency(field_, count, len(self.accounts))

    def _middle_share(self, name: str) -> float | None:
        """`name` is "forename surname<TAB>middle names" (keys): the share of the other accounts
        of that whole name with those middle names, when at least model.MIDDLE_NAMESAKES bear
        the name (Ayaan is no rare fact among thirty Muhammad Khans, six of them Ayaan); None
        otherwise, or when no other namesake has them."""
        whole, _, middle = name.partition("\t")
        self._counted()  # (indexes the pool by whole name)
        accounts = self.accounts
        namesakes = [
            p for p in self._by_name.get(whole, ()) if not self._superseded(accounts[p].username, p)
        ]
        if len(namesakes) < model.MIDDLE_NAMESAKES:
            return None
        same = sum(1 for p in namesakes if " ".join(parts(accounts[p].middle_names)) == middle)
        share = (same - 1) / (len(namesakes) - 1)  # less the candidate itself
        return share if share > 0 else None

    def _counted(self) -> dict[str, dict[str, int]]:
        """The pool's name counts, made once (and the accounts by whole name, _by_name, in the
        same pass); add() keeps both in step."""
        if self._freq is None:
            accounts, latest = self.accounts, self._latest
            live: range | list[int] = range(len(accounts))
            if latest is not None:  # entries superseded by a later one of the same account
                live = [p for p in live if latest[accounts[p].username] == p]
            fkeys = list(map(key, [accounts[p].forename for p in live]))
            skeys = list(map(key, [accounts[p].surname for p in live]))
            wholes = list(map(" ".join, zip(fkeys, skeys, strict=True)))  # as _whole_name
            fore, sur, whole = Counter(fkeys), Counter(skeys), Counter(wholes)
            if latest is None:
                self._by_name = _grouped(wholes)
            else:
                self._by_name = {
                    name: [live[i] for i in at] for name, at in _grouped(wholes).items()
                }
            self._freq = {"forename": fore, "surname": sur, "name": whole}
        return self._freq

    def _count(self, account: Account, step: int) -> None:
        assert self._freq is not None
        fkey, skey = key(account.forename), key(account.surname)
        for field_, name in (("forename", fkey), ("surname", skey), ("name", f"{fkey} {skey}")):
            counts = self._freq[field_]
            counts[name] = counts.get(name, 0) + step

    def sounds_in(self, year: str) -> dict[str, list[int]]:
        """The positions of the accounts born in `year` ("": without a date of birth) by the
        sound of each part of their surname."""
        sounds = self._sounds_in.get(year)
        if sounds is None:
            sounds = self._sounds_in[year] = {}
            accounts = self.accounts
            positions = self._by_year.get(year, [])
            # by surname: its sounds are reckoned once per surname, not once per account
            for surname, at in _grouped([accounts[p].surname for p in positions]).items():
                held = None
                for ph in dict.fromkeys(ph for ph, _ in _sounds(surname)):
                    if held is None:
                        held = [positions[i] for i in at]
                    got = sounds.get(ph)
                    if got is None:
                        sounds[ph] = list(held)
                    else:
                        got += held
        return sounds

    def _sounding(
        self, in_years: list[dict[str, list[int]]], sound: str, initials: Collection[str]
    ) -> Iterator[int]:
        """The positions of `in_years` (sounds_in) whose surname has a part of this sound and
        whose forename or preferred name has one of `initials`."""
        accounts = self.accounts
        for sounds in in_years:
            for position in sounds.get(sound, ()):
                account = accounts[position]
                if not _initials(account.forename, account.preferred_name).isdisjoint(initials):
                    yield position

    def _by_initial(self, dob: str) -> dict[str, list[int]]:
        sub = self._dob_initial.get(dob)
        if sub is None:
            sub = self._dob_initial[dob] = {}
            for position in self.by_dob.get(dob, ()):
                account = self.accounts[position]
                for part in parts(account.surname):
                    sub.setdefault(part[:2], []).append(position)
                # and by the forename's (marked apart from the surnames'), for a surname that
                # changed its start (O'Sullivan and Sullivan, D'Souza and De Souza)
                if fk := key(account.forename):
                    sub.setdefault("=" + fk[:2], []).append(position)
        return sub

    def _block(self, rec: MisRecord) -> set[int]:
        found: set[int] = set()
        upn = upn_key(rec.upn)
        if upn and not self.is_placeholder_upn(upn):
            found.update(self.by_upn.get(upn, ()))
        dob = rec.dob
        by_dob = self.by_dob
        if dob:
            # Same date of birth, whatever the names (a surname changed, a middle name used);
            # not a placeholder date, which many hold (the name blocks still look there).
            for same in (dob, swap_day_month(dob)):
                got = by_dob.get(same, ()) if same else ()
                if len(got) <= DOB_CROWD:
                    found.update(got)
            # A mistyped date (a digit changed, two exchanged, a day, month or year out), with the
            # surname's or the forename's first two letters to keep the block small.
            initials = {p[:2] for p in parts(rec.surname)}
            if fk := key(rec.forename):
                initials.add("=" + fk[:2])
            for variant in (
                *one_digit_variants(dob),
                *transposed_variants(dob),
                *near_dates(dob),
            ):
                if variant in by_dob:
                    sub = self._by_initial(variant)
                    for initial in initials:
                        found.update(sub.get(initial, ()))
        # The sound of the surname with the initial of a name, born within a year (or with no
        # date of birth on the account): dates mistyped in other ways.
        in_years = [self.sounds_in(year) for year in _years(dob)]
        finit = _initials(rec.forename, rec.preferred_name, rec.middle_names)
        for sound, _ in _sounds(rec.surname):
            found.update(self._sounding(in_years, sound, finit))
        # The same whole name, in either order, whatever the date of birth (a date keyed wholly
        # wrong); a name so common that many bear it is left to the other blocks.
        fk, sk = key(rec.forename), key(rec.surname)
        if fk and sk:
            self._counted()  # indexes the pool by whole name (_by_name) as it counts it
            for whole in (f"{fk} {sk}", f"{sk} {fk}"):
                got = self._by_name.get(whole, ())
                if len(got) <= NAME_BLOCK_MAX:
                    found.update(got)
        # Names in the wrong order: the record's forename as a surname.
        sinit = {p[0] for p in parts(rec.surname)}
        for sound, _ in _sounds(rec.forename):
            found.update(self._sounding(in_years, sound, sinit))
        return found

    def _superseded(self, username: str, position: int) -> bool:
        """Whether the pool's entry at `position` was replaced by a later one of the account
        (add())."""
        latest = self._latest
        return latest is not None and latest[username] != position

    def held_elsewhere(self, rec: MisRecord, school: str, extra: Iterable[Any] = ()) -> Any:
        """An active account at another school than `school` (of the pool, or of `extra`:
        accounts found across the store) with the record's UPN, or its forename, surname and
        date of birth: the person's, a mover's (DESIGN: always a case, never automatic). None
        if there is none."""
        upn = upn_key(rec.upn)
        if upn and self.is_placeholder_upn(upn):
            upn = ""
        whole = f"{key(rec.forename)} {key(rec.surname)}"
        self._counted()  # (indexes the pool by whole name)
        positions = [*(self.by_upn.get(upn, ()) if upn else ()), *self._by_name.get(whole, ())]
        found = [
            acc for p in positions if not self._superseded((acc := self.accounts[p]).username, p)
        ]
        for acc in (*found, *extra):
            if getattr(acc, "status", "active") != "active" or not acc.school:
                continue
            if acc.school == school:
                continue
            theirs = upn_key(account_field(acc, "upn"))
            if (upn and theirs == upn) or (
                acc.dob == rec.dob and _whole_name(acc) == whole  # type: ignore[arg-type]
            ):
                return acc
        return None

    def weigh_pair(self, one: object, other: object) -> tuple[int, Evidence] | None:
        """Two accounts of this pool as one person: the score `other` would have as a candidate
        for a record keyed as `one` is, and the evidence; None, unweighed, when their forenames
        or their surnames differ wholly. Names weigh by how common they are in the pool without
        `one` (a record is not in the pool it is matched against)."""
        first, second = self._person_of(one), self._person_of(other)
        if "different" in (forename_level(first, second), surname_level(first, second)):
            return None
        fk, sk = key(getattr(one, "forename", "")), key(getattr(one, "surname", ""))
        own = {"forename": fk, "surname": sk, "name": f"{fk} {sk}"}
        size = max(len(self.accounts) - 1, 1)

        def frequency(field_: str, name: str) -> float | None:
            if not name or own.get(field_) != name:
                return self.frequency(field_, name)
            count = self._counted()[field_].get(name, 0) - 1  # less `one`
            if field_ == "name":  # less the candidate too (see frequency)
                count -= 1
                if count <= 0:
                    return 0.0
            return model.frequency(field_, max(count, 0), size)

        exact = record_weights(first, frequency)
        pupil = getattr(one, "role", "") == "pupil"
        evidence, bits, _ = self.weigh(first, second, pupil, exact, frequency)
        return model.score(bits, size), evidence

    def weigh(
        self,
        record: Person,
        account: Person,
        pupil: bool,
        exact: tuple[float, float, float, float],
        frequency: Callable[[str, str], float | None] | None = None,
    ) -> tuple[Evidence, float, bool]:
        """The evidence for one account, and whether it came from the names swapped
        (`frequency`: the pool's own, unless given)."""
        frequency = frequency or self.frequency
        pool = len(self.accounts)
        ev, bits = compare_with_total(record, account, frequency, pupil, exact, pool)
        fl = sl = ""
        for field, level, _ in ev:
            if field == "forename":
                fl = level
            elif field == "surname":
                sl = level
        # (a Singh or Kaur keyed as the forename meets a surname level of its own, not
        # "different": Ali Singh keyed as Singh Ali is the names swapped, when each name is the
        # other's; Arjun Singh against Singh Amar, his twin keyed the wrong way round, is not)
        if (
            fl == "different"
            and (sl == "different" or (sl == "sikh" and _names_crossed(record, account)))
            and _may_be_swapped(record, account)
        ):
            ev2, bits2 = compare_with_total(
                swapped_names(record), account, frequency, pupil, pool_size=pool
            )
            # A pupil's swap must account for both names: Lily Ali is not Ali Evans keyed the
            # wrong way round with another surname since (a name in common across, the other
            # wholly different: mostly another child). A member of staff's may not (keyed the
            # wrong way round, married since: FEBRL's duplicates have such).
            if bits2 > bits and (not pupil or _both_names_meet(ev2)):
                return ev2, bits2, True
        return ev, bits, False

    def _most(
        self, record: Person, exact: tuple[float, float, float, float], pupil: bool
    ) -> tuple[float, float]:
        """The most any account could gain on the record's fields other than UPN and date of
        birth: (its names included, in either order as weigh may swap them; its surname left
        out, for an account whose surname is weighed on its own and cannot be swapped)."""
        swapped = record_weights(swapped_names(record), self.frequency)
        fore, sur = MOST_INEXACT["forename"], MOST_INEXACT["surname"]
        rest = MOST["gender"] if record.gender in ("m", "f") else 0.0
        if record.pkey:
            rest += MOST["preferred"]
        if record.mkeys:
            rest += MOST["middle"]
        if pupil:
            rest += MOST["year"]
        names = max(
            max(exact[0], fore) + max(exact[1], sur),
            max(swapped[0], fore) + max(swapped[1], sur),
        )
        return names + rest, max(exact[0], fore) + rest

    def _to_weigh(
        self, rec: MisRecord, exclude: set[str] | frozenset[str], extra: Iterable[object]
    ) -> Iterator[tuple[Any, int | None]]:
        """(account, its position in the pool, or None for one of `extra`), once each: the
        record's blocks, then `extra`, less `exclude` and entries superseded by add()."""
        latest = self._latest  # (_superseded, inlined: every blocked account passes here)
        seen: set[str] = set()
        for position in self._block(rec):
            acc = self.accounts[position]
            if acc.username in exclude or (latest is not None and latest[acc.username] != position):
                continue
            seen.add(acc.username)
            yield acc, position
        for acc in extra:
            if acc.username in exclude or acc.username in seen:
                continue
            seen.add(acc.username)
            yield acc, None

    def _weighed_record(self, rec: MisRecord) -> tuple[Person, tuple[float, float, float, float]]:
        """The record as weigh compares it (a dummy UPN of the pool is no evidence either way),
        with the weights of agreeing exactly on its names and date (record_weights)."""
        person = person_of_record(rec)
        if person.upn and self.is_placeholder_upn(person.upn):
            person.upn = ""
        return person, record_weights(person, self.frequency)

    def scored(
        self,
        rec: MisRecord,
        exclude: set[str] | frozenset[str] = frozenset(),
        extra: Iterable[object] = (),
        min_bits: float | None = None,
    ) -> list[Scored]:
        """Every account of the record's blocks (and `extra`, accounts found elsewhere in the
        store) weighed, best first; those in `exclude`, and those with less evidence than
        `min_bits`, left out."""
        rec_person, exact = self._weighed_record(rec)
        pupil = rec.role == "pupil"
        # Most blocked accounts are plainly someone else (another UPN, another date): the most
        # their names and the record's other fields could add is reckoned once, so those are
        # dropped on UPN and date alone, before their names are compared. The bound is exact:
        # no account it drops could have reached `min_bits`.
        need = need_named = None
        if min_bits is not None:
            most, most_named = self._most(rec_person, exact, pupil)
            # a hair under: the bound's sum and compare's may round differently
            need, need_named = min_bits - most - 1e-9, min_bits - most_named - 1e-9
        rec_upn, rec_dob = rec_person.upn, rec_person.dob
        weights = WEIGHTS if pupil else STAFF_WEIGHTS
        out: list[Scored] = []
        for acc, position in self._to_weigh(rec, exclude, extra):
            if need is not None:
                settled = _settled(rec_upn, rec_dob, exact[3], acc, self.placeholder_upns, weights)
                if settled < need:
                    continue
            person = self._person_of(acc) if position is None else self.person(position)
            if need is not None and settled + _surname_bits(rec_person, person, exact) < need_named:
                continue
            ev, bits, swapped = self.weigh(rec_person, person, pupil, exact)
            if min_bits is None or bits >= min_bits:
                out.append(Scored(acc, person, ev, bits, swapped, rec_person.gender))
        out.sort(key=lambda s: (-s.bits, s.tiebreak()))
        return out

    def _renamed(
        self,
        rec: MisRecord,
        exclude: set[str] | frozenset[str],
        extra: Iterable[object],
        weighed_all: list[Scored],
    ) -> set[str]:
        """DESIGN: the same forename and date of birth under another surname is still a
        candidate (a marriage, a family's new name), however common the forename and large the
        pool (its score alone fell under the least shown: a new Jack born on a day another Jack
        was, in a local authority of 30,000 pupils). The usernames of the accounts with the
        record's own forename (or a known form of it) and its date of birth (a real one, held by
        few), whose gender and UPN do not say another person: those not in `weighed_all` are
        weighed and added to it."""
        person, exact = self._weighed_record(rec)
        dob = person.dob
        if not dob:
            return set()
        positions = self.by_dob.get(dob, ())
        if len(positions) > DOB_CROWD:
            return set()
        have = {w.account.username for w in weighed_all}  # type: ignore[attr-defined]
        found: list[tuple[Any, Person]] = []
        for position in positions:
            acc = self.accounts[position]
            if acc.username in exclude or self._superseded(acc.username, position):
                continue
            found.append((acc, self.person(position)))
        found += [
            (acc, self._person_of(acc))
            for acc in extra
            if acc.username not in exclude and getattr(acc, "dob", None) == dob  # type: ignore[attr-defined]
        ]
        out: set[str] = set()
        pupil = rec.role == "pupil"
        for acc, theirs in found:
            if (
                theirs.dob != dob
                or forename_level(person, theirs) not in ("equal", "known_as")
                or {person.gender, theirs.gender} == {"m", "f"}
                or upn_level(person.upn, theirs.upn) == "different"
                or acc.username in out
            ):
                continue
            out.add(acc.username)
            if acc.username not in have:
                ev, bits, swapped = self.weigh(person, theirs, pupil, exact)
                weighed_all.append(Scored(acc, theirs, ev, bits, swapped, person.gender))
        if out:
            weighed_all.sort(key=lambda s: (-s.bits, s.tiebreak()))
        return out

    def candidates(
        self,
        rec: MisRecord,
        school: str,
        exclude: set[str] | frozenset[str] = frozenset(),
        extra: Iterable[object] = (),
        keep: Iterable[tuple[Account, str]] = (),
    ) -> list[Candidate]:
        """At most MAX_CANDIDATES candidates, best first: by the weight of evidence, then
        preferred name, middle names and gender, then the record's own school. The accounts of
        `keep` (asked for at the school under the record's name: see asked_for.py), each with
        why, are shown whatever their score."""
        pool_size = len(self.accounts)
        ranked: list[tuple[tuple, Candidate]] = []
        staff = rec.role != "pupil"
        weighed_all = self.scored(rec, exclude, extra, model.min_bits(pool_size, staff))
        kept = {a.username: why for a, why in keep if a.username not in exclude}
        if kept:
            have = {w.account.username for w in weighed_all}  # type: ignore[attr-defined]
            wanted = [a for a, _ in keep if a.username in kept and a.username not in have]
            if wanted:
                person, exact = self._weighed_record(rec)
                for acc in wanted:
                    theirs = self._person_of(acc)
                    ev, bits, swapped = self.weigh(person, theirs, not staff, exact)
                    weighed_all.append(Scored(acc, theirs, ev, bits, swapped, person.gender))
                weighed_all.sort(key=lambda s: (-s.bits, s.tiebreak()))
        total = sum(model.odds(w.bits, pool_size) for w in weighed_all) if staff else 0.0
        renamed = self._renamed(rec, exclude, extra, weighed_all)
        for weighed in weighed_all:
            score = model.score(weighed.bits, pool_size)
            asked = kept.get(weighed.account.username)  # type: ignore[attr-defined]
            if not asked and not model.shown(score, weighed.bits, total, pool_size, staff):
                if weighed.account.username not in renamed:  # type: ignore[attr-defined]
                    continue
                asked = RENAMED
            acc = weighed.account
            reasons = reasons_of(weighed.evidence, weighed.swapped)
            if weighed.swapped:
                reasons.insert(0, "forename and surname swapped")
            if acc.status != "active":
                reasons.append("unallocated")
            elif acc.school and acc.school != school:
                reasons.append(f"at another school ({acc.school})")
            if asked:
                reasons.append(asked)
            cand = Candidate(
                username=acc.username,
                school=acc.school,
                score=score,
                logit=round(weighed.bits + model.prior_bits(pool_size), 2),
                forename=acc.forename,
                surname=acc.surname,
                preferred_name=acc.preferred_name,
                dob=acc.dob,
                status=acc.status,
                differs=differs(rec, acc, school),
                reasons=reasons,
                evidence=[
                    [field, level, round(bits, 1)] for field, level, bits in weighed.evidence
                ],
            )
            ranked.append(((-score, -weighed.bits, weighed.tiebreak(), acc.school != school), cand))
            if len(ranked) >= MAX_CANDIDATES * 3:
                break
        ranked.sort(key=lambda t: t[0])
        return [c for _, c in ranked[:MAX_CANDIDATES]]
