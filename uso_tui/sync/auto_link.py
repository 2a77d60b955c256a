"""The automatic link of DESIGN rule 6: a record joins an unlinked account of its school without
an operator only when nothing else could be meant.

A wrong automatic link gives one child another child's account, so the guard errs towards a
case: any other record of the whole export (future starters, leavers, linked and invalid
records included) that may be the person the account was made for stops it. Such a record has
a name in common with the account, and a surname and date of birth that are the account's or
could be keyed slips of them, or are missing or impossible (an invalid record is still a person
of the export: a twin whose date was mistyped is no less a twin).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from rapidfuzz.distance import OSA

from uso_tui.domain.dates import days_between
from uso_tui.domain.models import Account, Export, MisRecord
from uso_tui.domain.names import (
    as_marked,
    gender_key,
    initials_of,
    normalise_cached,
    permanent_upn,
    upn_given,
    upn_key,
)
from uso_tui.sync.dob_slips import date_slips, near_dates
from uso_tui.sync.match_model import UPN_CROWD, placeholder_dob
from uso_tui.sync.matched_names import is_muhammad, known_as, names_close, near_keys

OLDEST_DOB = "1900-01-01"  # before it a date of birth is impossible (DESIGN rule 2)
NO_FORENAME = ""  # the claims key of records without a forename: any account may be theirs


def name_keys(*names: str | None) -> frozenset[str]:
    """The normalised forms of the names given, blanks dropped."""
    return frozenset(normalise_cached(n) for n in names if n) - {""}


def _all_names(forename: str | None, preferred: str | None, middle: str | None) -> frozenset[str]:
    return name_keys(forename, preferred, *(middle or "").split())


def surname_close(theirs: str, ours: str) -> bool:
    """The same surname, one keyed with a slip (a letter wrong, missing, extra or two
    exchanged), one part of a double-barrelled one or its parts reordered, or not known."""
    if not theirs or not ours or theirs == ours:
        return True
    if OSA.distance(theirs, ours, score_cutoff=1) <= 1:
        return True
    if len(theirs) == len(ours) and any(
        theirs == ours[cut:] + ours[:cut] for cut in range(3, len(ours) - 2)
    ):
        return True  # the parts of a double-barrelled one in the other order (each 3+ letters)
    short, long = sorted((theirs, ours), key=len)
    return len(short) >= 3 and (long.startswith(short) or long.endswith(short))


def surname_slip(theirs: str, ours: str) -> bool:
    """surname_close, or the matcher's nearness (the same sound, Jaro-Winkler's): a surname a
    record's person and an account's may share, keyed by two hands."""
    return surname_close(theirs, ours) or names_close(theirs, ours)


class Claims:
    """Who in the whole export could claim each unlinked account of the school (`unlinked`:
    (surname, date of birth) -> accounts): see the module's docstring. Only records with a name
    in common with one of those accounts (or with no forename) are kept: nobody else can claim
    one. Unchanged records (`export.same`) are read from their linked accounts (`linked`)."""

    def __init__(
        self,
        export: Export,
        linked: dict[str, dict[str, Any]],
        unlinked: dict[tuple[str, str], list[Account]],
        today: str,
    ) -> None:
        self.today = today
        self._unlinked = unlinked
        # name -> (MIS id, normalised surname, date of birth or "" when unknown or impossible)
        self.by_name: dict[str, list[tuple[str, str, str]]] = {}
        # the same, of the records whose own forename (or preferred name) is that very name,
        # and whether the record is linked to no account (a new record)
        self.by_exact: dict[str, list[tuple[str, str, str, bool]]] = {}
        self.named: dict[str, str] = {}  # MIS id -> "forename surname", of the records kept
        # UPN -> the MIS ids of the records holding it: the record with an account's UPN claims
        # it whatever its names (a UPN follows one pupil; the surname may have changed)
        self.by_upn: dict[str, set[str]] = {}
        self._claimants: dict[tuple, frozenset[str]] = {}  # (claimants' account) -> MIS ids
        self._forms: dict[str, set[str]] = {}  # a name or a form of it -> the names it is
        self._near: dict[str, list[str]] = {}  # a slip's key -> the names it may stand for
        self._initials: dict[str, set[str]] = {}  # a letter -> the names it may stand for
        self._single: set[str] = set()  # the names that are an initial alone
        self._stands: dict[str, frozenset[str]] = {}
        # date of birth -> (MIS id, gender's initial, forename, has middle names, surname): below
        self.by_birth: dict[str, list[tuple[str, str, str, bool, str]]] = {}
        self._linked = linked
        self._upn_accounts: dict[str, set[str]] | None = None  # upn_elsewhere: when first asked
        wanted = {n for accounts in unlinked.values() for a in accounts for n in _own_names(a)}
        if not wanted:  # (accounts whose forenames hold no letter: nobody claims them by name)
            return
        upns = {k for accounts in unlinked.values() for a in accounts if (k := _upn_of(a))}
        if upns:
            held = [(r.mis_id, r.upn, r.forename, r.surname) for r in export.records]
            held += [
                (m, (row.get("extra") or {}).get("upn"), row.get("forename"), row.get("surname"))
                for m in export.same
                if (row := linked.get(m)) is not None
            ]
            for mis_id, upn, forename, surname in held:
                key = upn_key(upn)
                if key in upns:
                    self.by_upn.setdefault(key, set()).add(mis_id or "")
                    self.named.setdefault(mis_id or "", f"{forename or '?'} {surname or '?'}")
        # A record's name stands for an account's when it is that name, a form of it (Charlotte
        # for a "Charlie" requested: twins Charlie and Charlotte), or a slip of it (Aiden for
        # Aidan, Muharnmad or Mohammed for Muhammad).
        for name in wanted:
            for form in (name, *known_as(name)):
                self._forms.setdefault(form, set()).add(name)
        # the names a slip may stand for, looked among those of its initial or its sound only
        for name in wanted:
            for key in near_keys(name):
                self._near.setdefault(key, []).append(name)
        # a forename keyed as its initial alone ("M Khan") may stand for any name of the letter,
        # and any name for an account asked for under its initial
        for name in wanted:
            self._initials.setdefault(name[0], set()).add(name)
        self._single = {name for name in wanted if len(name) == 1}
        # date of birth -> (MIS id, gender's initial, forename, has middle names, surname) of
        # every record not linked to an account (one linked is its own account's person): a
        # twin held without the first of its given names (Muhammad Ali held as Ali, Syed Ali as
        # Ali, Mary Kate as Kate) has no name in common with an account asked for under it, and
        # may be its person all the same. Names keyed the wrong way round are held both ways.
        if wanted:
            for r in export.records:
                if r.mis_id in linked or not (r.surname and r.dob):
                    continue
                ways = [(r.forename, r.surname), (r.surname, r.forename)] if r.forename else []
                for forename, surname in ways or [(r.forename, r.surname)]:
                    self.by_birth.setdefault(r.dob, []).append(
                        (
                            r.mis_id or "",
                            _initial(r.gender or ""),
                            normalise_cached(forename),
                            bool(r.middle_names),
                            normalise_cached(surname),
                        )
                    )
                self.named.setdefault(r.mis_id or "", f"{r.forename or '?'} {r.surname}")
        for r in export.records:
            self._add(
                r.mis_id, r.forename, r.preferred_name, r.middle_names, r.surname, r.dob, wanted,
                r.mis_id not in linked,
            )  # fmt: skip
            if r.forename and r.surname:  # keyed the wrong way round ("Khan Muhammad")
                self._add(r.mis_id, r.surname, None, None, r.forename, r.dob, wanted)
        for mis_id in export.same:
            row = linked.get(mis_id)
            if row is not None:
                self._add(
                    mis_id,
                    row.get("forename"),
                    row.get("preferred_name"),
                    row.get("middle_names"),
                    row.get("surname"),
                    row.get("dob"),
                    wanted,
                )

    def _add(
        self,
        mis_id: str | None,
        forename: str | None,
        preferred: str | None,
        middle: str | None,
        surname: str | None,
        dob: str | None,
        wanted: set[str],
        unlinked: bool = False,
    ) -> None:
        names = _all_names(forename, preferred, middle)
        hits: Iterable[str] = (
            frozenset().union(*(self._stands_for(n) for n in names)) if names else (NO_FORENAME,)
        )
        if not hits:
            return
        # (a placeholder, 1900-01-01 keyed for a date not known, is no date: as one missing,
        # it claims every account of the names)
        known = dob if dob and OLDEST_DOB <= dob <= self.today and not placeholder_dob(dob) else ""
        entry = (mis_id or "", normalise_cached(surname), known)
        self.named.setdefault(entry[0], f"{forename or '?'} {surname or '?'}")
        for name in hits:
            self.by_name.setdefault(name, []).append(entry)
        for name in name_keys(forename, preferred) & wanted:  # the account's very name
            self.by_exact.setdefault(name, []).append((*entry, unlinked))

    def _stands_for(self, name: str) -> frozenset[str]:
        """The accounts' names (of `wanted`) a record's name may stand for."""
        got = self._stands.get(name)
        if got is None:
            out = set(self._forms.get(name, ()))
            # and the other way: a form of the record's name an account was asked for under
            # (Seun for Oluwaseun, which the account's own forms do not list)
            for form in known_as(name):
                out.update(self._forms.get(form, ()))
            if len(name) == 1:
                out.update(self._initials.get(name, ()))
            elif name[0] in self._single:
                out.add(name[0])
            for other in (o for key in near_keys(name) for o in self._near.get(key, ())):
                if other not in out and names_close(name, other):
                    out.add(other)
            got = self._stands[name] = frozenset(out)
        return got

    def _twins(self, acc: Account, surname: str, dob: str) -> set[str]:
        """The new records of the account's surname (or a slip of it) that may be its person
        under another forename: a Muhammad's brothers born that day or a slip of it (the custom:
        every brother a Muhammad, held by his other name; a twin's record mistyped still
        counts), never a sister; otherwise, when one record carries the account's forename with
        middle names besides (Syed Hassan Shah), the others born that day or a day either side
        under another forename (his twin Syed Ali held as Ali), not of the other sex."""
        own = _own_names(acc)
        muhammad = any(is_muhammad(name) for name in own)
        days = (dob, *date_slips(dob)) if muhammad else (dob, *near_dates(dob)[:2])
        births = [
            e
            for d in days
            for e in self.by_birth.get(d, ())
            if e[4] == surname or surname_slip(e[4], surname)
        ]
        if muhammad:
            return {mis_id for mis_id, gender, _, _, _ in births if gender != "f"}
        carriers = [(m, g) for m, g, forename, middle, _ in births if forename in own and middle]
        out: set[str] = set()
        for mis_id, gender, forename, _, _ in births:
            if forename in own:
                continue
            if any(not (gender and theirs and gender != theirs) for _, theirs in carriers):
                out.add(mis_id)
        return out | {mis_id for mis_id, _ in carriers} if out else set()

    def initials_of_another(self, rec: MisRecord, letters: str) -> bool:
        """Whether another record born that day or a day either side, under the record's
        surname, has a forename of the initials' first letter: the initials may be theirs."""
        surname = normalise_cached(rec.surname)
        days = (rec.dob, *near_dates(rec.dob)[:2]) if rec.dob else ()
        return any(
            mis_id != rec.mis_id and theirs == surname and forename[:1] == letters[0]
            for day in days
            for mis_id, _, forename, _, theirs in self.by_birth.get(day, ())
        )

    def _asked_for(self, name: str, surname: str, dob: str) -> bool:
        """Whether an unlinked account of the school was asked for with these very names and
        date: a namesake born on another day who has one of their own is not the person another
        account was asked for under a date keyed wholly wrong (two namesakes asked for apart)."""
        return any(name in _own_names(a) for a in self._unlinked.get((surname, dob), ()))

    def upn_elsewhere(self, rec: MisRecord, acc: Account) -> bool:
        """Whether the record's permanent UPN is held by another account of the school, linked
        or not (a dummy many hold aside): that account's person is the record's, not `acc`'s
        (a record with twin Samuel's UPN took the account asked for his twin Sam, its filler
        UPN no conflict)."""
        upn = upn_given(rec.upn)
        if not permanent_upn(upn):
            return False
        if self._upn_accounts is None:
            self._upn_accounts = {}
            rows = [
                (r["username"], (r.get("extra") or {}).get("upn")) for r in self._linked.values()
            ]
            rows += [
                (a.username, (a.extra or {}).get("upn"))
                for accounts in self._unlinked.values()
                for a in accounts
            ]
            for username, theirs in rows:
                if key := upn_given(theirs):
                    self._upn_accounts.setdefault(key, set()).add(username)
        holders = self._upn_accounts.get(upn, set()) - {acc.username}
        return 0 < len(holders) <= UPN_CROWD

    def of_another(self, acc: Account, mis_id: str | None) -> bool:
        """Whether a record of the export other than `mis_id` has the account's very forename
        (or preferred name), surname and date of birth: the account's person, most likely."""
        surname, dob = normalise_cached(acc.surname), acc.dob or ""
        return bool(dob) and any(
            their_surname == surname and their_dob == dob and their_id != (mis_id or "")
            for name in name_keys(acc.forename, acc.preferred_name)
            for their_id, their_surname, their_dob, _ in self.by_exact.get(name, ())
        )

    def claimants(self, acc: Account) -> frozenset[str]:
        """The MIS ids of the records that may be the person `acc` was made for, reckoned once
        per account (asked again for each record and each case it is a candidate of: an export
        of thousands of one name made that quadratic)."""
        key = (acc.username, acc.forename, acc.preferred_name, acc.surname, acc.dob, _upn_of(acc))
        got = self._claimants.get(key)
        if got is None:
            got = self._claimants[key] = frozenset(self._reckon_claimants(acc))
        return got

    def _reckon_claimants(self, acc: Account) -> set[str]:
        surname, dob = normalise_cached(acc.surname), acc.dob or ""
        slips = date_slips(dob) if dob else frozenset()
        out: set[str] = set()
        for name in _own_names(acc):
            for mis_id, their_surname, their_dob in self.by_name.get(name, ()):
                # (one with neither surname nor date says too little to stop every link of its
                # forename: a line of a broken export, "James" and nothing else)
                if (their_surname or their_dob) and (
                    (not their_dob or their_dob == dob or their_dob in slips)
                    and surname_slip(their_surname, surname)
                ):
                    out.add(mis_id)
            # the account's very forename (not a form or a slip of it: a sibling's may be one):
            for mis_id, their_surname, their_dob, new in self.by_exact.get(name, ()):
                if dob and their_dob == dob:
                    out.add(mis_id)  # the very date under another surname: married, or a
                    # family's new name (Amelia Jones now Amelia Okafor)
                elif (
                    new  # (a namesake with an account of their own was not asked for again)
                    and their_dob
                    and their_surname == surname
                    and their_dob not in slips
                    and _may_be_keyed_wrong(their_dob, dob, acc.role)
                    and not self._asked_for(name, their_surname, their_dob)
                ):
                    out.add(mis_id)  # the same names, a date keyed wholly wrong on one side
        if dob:
            out.update(self._twins(acc, surname, dob))
        # A record without a forename: the same surname and date of birth is enough (one with
        # neither forename nor date says too little to stop every link of its surname).
        for mis_id, their_surname, their_dob in self.by_name.get(NO_FORENAME, ()):
            if their_surname == surname and their_dob == dob:
                out.add(mis_id)
        holders = self.by_upn.get(_upn_of(acc), ())
        if len(holders) <= UPN_CROWD:  # more: a dummy number keyed for many, not one child's
            out.update(holders)
        return out


# A pupil's date keyed wholly wrong is still within a couple of school years of the right one
# (whoever keyed it knew the child's class); a namesake further away is another child. Staff
# dates are keyed from forms, wrong in any way.
PUPIL_DATE_KEYED_WRONG_DAYS = 2 * 366


def _may_be_keyed_wrong(theirs: str, dob: str, role: str) -> bool:
    """Whether a record's date of birth `theirs`, wholly different from an account's `dob`, may
    be it keyed wrong (on either side)."""
    if role == "staff" or not dob:
        return True
    days = days_between(theirs, dob)
    return days is None or days <= PUPIL_DATE_KEYED_WRONG_DAYS


def _upn_of(acc: Account) -> str:
    """The account's UPN as compared; "" for a filler (keyed for no one: no claim)."""
    return upn_given((acc.extra or {}).get("upn"))


def _own_names(acc: Account) -> frozenset[str]:
    return name_keys(acc.forename, acc.preferred_name)


def _initial(value: str) -> str:
    """A gender as "m" or "f" (`Male`, `m`, `M` are one); "" for one not said (U, Unknown, X):
    no other sex, nor a conflict."""
    return gender_key(value)


def conflict(
    record_value: str | None,
    account_value: str | None,
    norm: Callable[[str], str] = normalise_cached,
) -> bool:
    return bool(
        record_value
        and account_value
        and norm(record_value)
        and norm(account_value)
        and norm(record_value) != norm(account_value)
    )


def ids_conflict(rec: MisRecord, acc: Account) -> bool:
    """A UPN or a gender the record and the account both give, and give differently."""
    extra = acc.extra or {}
    return conflict(rec.upn, extra.get("upn"), upn_given) or conflict(
        rec.gender, extra.get("gender"), _initial
    )


def _names_conflict(rec: MisRecord, acc: Account) -> bool:
    """Names that say two people: preferred names that differ; a forename or surname both keyed
    with accents, other accents (Hà and Hạ: alike once accents are dropped, DESIGN's
    normalising); middle names with none in common (twins known by their middle names); or a
    preferred name one side goes by that is none of the other's names, where the other gives a
    preferred or middle name of its own."""
    if conflict(rec.preferred_name, acc.preferred_name):
        return True
    if conflict(rec.forename, acc.forename, as_marked) or conflict(
        rec.surname, acc.surname, as_marked
    ):
        return True
    if _accents_apart(rec, acc) or _accents_apart(acc, rec):
        return True
    rec_middle, acc_middle = (
        name_keys(*(rec.middle_names or "").split()),
        name_keys(*(acc.middle_names or "").split()),
    )
    if rec_middle and acc_middle and rec_middle.isdisjoint(acc_middle):
        return True
    if _numbered(rec.forename, rec.surname) != _numbered(acc.forename, acc.surname):
        return True
    rec_all = _all_names(rec.forename, rec.preferred_name, rec.middle_names)
    acc_all = _all_names(acc.forename, acc.preferred_name, acc.middle_names)
    for preferred, others, other_gives in (
        (acc.preferred_name, rec_all, normalise_cached(rec.preferred_name) or rec_middle),
        (rec.preferred_name, acc_all, normalise_cached(acc.preferred_name) or acc_middle),
    ):
        known_as = normalise_cached(preferred)
        if known_as and other_gives and known_as not in others:
            return True
    return False


def _accents_apart(one: MisRecord | Account, other: MisRecord | Account) -> bool:
    """`one`'s forename keyed plain where its other names show that accents are kept there,
    the other's keyed with them: Lan Nguyễn is not Lân Nguyễn (Vietnamese twins' names differ
    by an accent alone; a plain name says nothing only where no name is keyed with accents)."""
    if as_marked(one.forename) or not as_marked(other.forename):
        return False
    return any(
        as_marked(name)
        for name in (one.surname, one.preferred_name, *(one.middle_names or "").split())
    )


def _bare_muhammad(forename: str | None) -> bool:
    """A forename that is a Muhammad alone (Muhammad Yusuf as one forename names him)."""
    parts = (forename or "").replace("-", " ").split()
    return len(parts) == 1 and is_muhammad(normalise_cached(parts[0]))


def _numbered(*names: str | None) -> list[int]:
    """The numbers written in names ("Twin 1", "Baby2": placeholders a MIS may hold until a
    child is named), which normalising drops: Twin1 and Twin2 Smith are two children."""
    return [unicodedata.digit(c, -1) for name in names for c in name or "" if c.isdigit()]


def auto_link_target(
    rec: MisRecord,
    unlinked: dict[tuple[str, str], list[Account]],
    claims: Claims,
    dfe: str,
) -> Account | None:
    """The one account the record links to automatically, only when nothing else could be
    meant (DESIGN rule 6): one unlinked account of this school with the same surname, date of
    birth (a real one, not a placeholder) and the record's own forename; no other record of the
    export could claim it; no other unlinked account here shares a name with the record; names,
    UPNs and genders do not conflict, nor is the record's UPN another account's here; a restored
    account only to the record it was linked to before."""
    same = unlinked.get((normalise_cached(rec.surname), rec.dob or ""), ())
    if not same or placeholder_dob(same[0].dob):
        return None  # (1900-01-01 keyed for a date not known is no date of birth to share)
    own = normalise_cached(rec.forename)
    letters = initials_of(rec.forename)
    if len(letters) == 1 or (letters and claims.initials_of_another(rec, letters)):
        # an initial ("M Shepherd", an account asked so too) says too little, and so do
        # initials another record born then could be keyed as (J P Smith beside his twin John
        # Paul Smith, whose the account asked for as "J P Smith" may be); alone, TJ or MD is
        # the record's own forename
        return None
    names = _all_names(rec.forename, rec.preferred_name, rec.middle_names)
    exact = [a for a in same if normalise_cached(a.forename) == own]
    near = [a for a in same if _own_names(a) & names]
    if len(exact) != 1 or len(near) != 1:
        return None
    acc = exact[0]
    if claims.claimants(acc) != {rec.mis_id}:
        return None
    if _bare_muhammad(rec.forename):
        # every brother a Muhammad, known by his other name: an account asked for as Muhammad
        # Khan may be for a twin whose record has not come (Muhammad Yusuf, where Muhammad
        # Ismail's has), unless a middle or preferred name both give (not a Muhammad) says whose
        theirs = _all_names(acc.forename, acc.preferred_name, acc.middle_names)
        if not {n for n in names & theirs if n != own and not is_muhammad(n)}:
            return None
    if _names_conflict(rec, acc) or ids_conflict(rec, acc) or claims.upn_elsewhere(rec, acc):
        return None
    before = acc.previous_link
    if before and before != f"{dfe}/{rec.report}/{rec.mis_id}":
        return None
    return acc
