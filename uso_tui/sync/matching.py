"""Finding the accounts a MIS record may belong to (DESIGN section 3, "Matching").

Candidates come from an index over the local authority's accounts of one role, built once per
plan and only when a record needs it, plus the accounts anywhere in the store with the record's
UPN or its names and date of birth (movers from another local authority, found by the store).
Blocking keys keep the comparisons few: the UPN; the date of birth (as sent, with day and month
swapped, and with any one digit changed or a day, month or year out, the last with the
surname's first letters); a phonetic surname key with the initial of the forename, preferred
name or a middle name (dates mistyped in other ways); names in the wrong order. Every pair is
never compared.

Each pair found is weighed field by field with the model of `match_model` (Fellegi-Sunter):
each candidate carries its score (the probability that it is the person, as a percentage) and
the evidence of every field, so an operator sees why it ranks where it does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

from uso_tui.domain.models import Account, Candidate, MisRecord
from uso_tui.domain.names import normalise
from uso_tui.sync import match_model as model
from uso_tui.sync.match_model import MAX_CANDIDATES, MIN_SCORE, NAME_BLOCK_MAX

__all__ = ["MAX_CANDIDATES", "MIN_SCORE", "CandidateIndex", "Person", "account_field", "compare"]
_SPLIT = re.compile(r"[-\s]+")
_nicknamer = None


@lru_cache(maxsize=500_000)
def key(name: str | None) -> str:
    """Comparison key: normalised, then transliterated to ASCII letters (`Nguyễn`, `Дмитрий`)."""
    n = normalise(name)
    if not n or n.isascii():
        return n
    ascii_ = "".join(c for c in anyascii(n).lower() if "a" <= c <= "z")
    return ascii_ or n


@lru_cache(maxsize=200_000)
def parts(name: str | None) -> tuple[str, ...]:
    """Keys of the parts of a hyphenated or double-barrelled name (`O'Brien-Smith` -> obrien, smith)."""
    if not name:
        return ()
    out = tuple(k for k in (key(p) for p in _SPLIT.split(name)) if k)
    return out


@lru_cache(maxsize=200_000)
def phonetic(k: str) -> str:
    return jellyfish.metaphone(k) if k else ""


@lru_cache(maxsize=50_000)
def nick_group(k: str) -> frozenset[str]:
    """The forename key with its nicknames and the names it is short for (the `nicknames` package)."""
    global _nicknamer
    if not k:
        return frozenset()
    if _nicknamer is None:
        from nicknames import NickNamer  # noqa: PLC0415 - 60 ms to load: only when a case needs it

        _nicknamer = NickNamer()
    return frozenset({k} | _nicknamer.nicknames_of(k) | _nicknamer.canonicals_of(k))


def forename_keys(forename: str | None, preferred: str | None) -> tuple[str, ...]:
    """Keys a person answers to: forename, its first part (`Mary Jane`), preferred name."""
    out: list[str] = []
    for k in (key(forename), *parts(forename)[:1], key(preferred)):
        if k and k not in out:
            out.append(k)
    return tuple(out)


@lru_cache(maxsize=50_000)
def swap_day_month(dob: str) -> str | None:
    """`2012-05-03` -> `2012-03-05` when that is a date and differs."""
    y, m, d = dob[:4], dob[5:7], dob[8:10]
    if d == m or int(d) > 12:
        return None
    return f"{y}-{d}-{m}"


@lru_cache(maxsize=50_000)
def one_digit_variants(dob: str) -> tuple[str, ...]:
    """Every string with one digit of the date changed (valid or not: only used as lookups)."""
    out = []
    for i, c in enumerate(dob):
        if c == "-":
            continue
        for r in "0123456789":
            if r != c:
                out.append(dob[:i] + r + dob[i + 1 :])
    return tuple(out)


def _date(s: str) -> date | None:
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def _shift(d: date, years: int = 0, months: int = 0, days: int = 0) -> str | None:
    if days:
        return (d + timedelta(days=days)).isoformat()
    m = d.month - 1 + months
    try:
        return d.replace(year=d.year + years + m // 12, month=m % 12 + 1).isoformat()
    except ValueError:  # 29 February, 31st of a shorter month
        return None


@lru_cache(maxsize=50_000)
def near_dates(dob: str) -> tuple[str, ...]:
    """A day, a month or a year either side: the slips a keyed-in date of birth often has."""
    d = _date(dob)
    if d is None:
        return ()
    out = [
        _shift(d, days=-1),
        _shift(d, days=1),
        _shift(d, months=-1),
        _shift(d, months=1),
        _shift(d, years=-1),
        _shift(d, years=1),
    ]
    return tuple(x for x in out if x)


@lru_cache(maxsize=500_000)
def dob_score(a: str | None, b: str | None) -> tuple[int, str]:
    """(score, how): equal 100, day/month swapped 85, one digit off, two digits transposed, or a
    day, month or year apart 80."""
    if not a or not b:
        return 0, "unknown"
    if a == b:
        return 100, "equal"
    if len(a) != len(b):
        return 0, "different"
    if swap_day_month(a) == b:
        return 85, "day and month swapped"
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return 80, "one digit off"
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    ):
        return 80, "two digits transposed"
    if b in near_dates(a):
        return 80, "a day, month or year apart"
    return 0, "different"


# Welsh and English forms of a name: the same person in either (the nicknames package knows
# English diminutives only).
_WELSH = (
    ("dafydd", "david"),
    ("dewi", "david"),
    ("sion", "john"),
    ("ioan", "john"),
    ("ieuan", "evan"),
    ("gwilym", "william"),
    ("huw", "hugh"),
    ("rhys", "rees"),
    ("owain", "owen"),
    ("tomos", "thomas"),
    ("sior", "george"),
    ("harri", "harry"),
    ("llywelyn", "lewis"),
    ("gruffydd", "griffith"),
    ("sian", "jane"),
    ("sioned", "janet"),
    ("catrin", "catherine"),
    ("elen", "helen"),
    ("mair", "mary"),
    ("mari", "mary"),
    ("megan", "margaret"),
    ("gwen", "gwendolen"),
)
_FORMS: dict[str, frozenset[str]] = {}
for _a, _b in _WELSH:
    _FORMS[_a] = _FORMS.get(_a, frozenset()) | {_b}
    _FORMS[_b] = _FORMS.get(_b, frozenset()) | {_a}
_SIKH = frozenset({"singh", "kaur"})
_YEAR = re.compile(r"(\d{1,2})")


@lru_cache(maxsize=1024)
def _year_of(value: str | None) -> int | None:
    """`Year 7`, `Y7`, `7` -> 7; Reception -> 0; nursery -> -1; anything else None."""
    if not value:
        return None
    v = value.strip().lower()
    if v.startswith(("r", "yr r", "year r")) and "1" not in v:
        return 0
    if v.startswith("n"):
        return -1
    m = _YEAR.search(v)
    return int(m.group(1)) if m else None


def _cohort(dob: str | None) -> int | None:
    """The school year a child born on `dob` is in (the year starts on 1 September)."""
    if not dob or len(dob) < 7 or not dob[:4].isdigit() or not dob[5:7].isdigit():
        return None
    y, m = int(dob[:4]), int(dob[5:7])
    return y if m >= 9 else y - 1


def account_field(a: object, name: str) -> str | None:
    """A field of an Account (held in `extra`) or of the store's AccountHit (its own)."""
    if isinstance(a, Account):
        return a.extra.get(name) if a.extra else None
    return getattr(a, name, None)


class Person:
    """The comparable form of a record or an account: its keys, computed once."""

    __slots__ = (
        "fkey",
        "fparts",
        "pkey",
        "mkeys",
        "skey",
        "sparts",
        "dob",
        "upn",
        "gender",
        "year",
        "names",
        "nameset",
        "aliases",
        "sikh",
    )

    def __init__(
        self,
        fkey: str,
        fparts: tuple[str, ...],
        pkey: str,
        mkeys: tuple[str, ...],
        skey: str,
        sparts: tuple[str, ...],
        dob: str | None,
        upn: str,
        gender: str,
        year: int | None,
    ) -> None:
        self.fkey, self.fparts, self.pkey, self.mkeys = fkey, fparts, pkey, mkeys
        self.skey, self.sparts, self.dob = skey, sparts, dob
        self.upn, self.gender, self.year = upn, gender, year
        # Every key the person answers to as a forename, and the known-as forms of them.
        names = [fkey] if fkey else []
        if pkey and pkey != fkey:
            names.append(pkey)
        names.extend(p for p in fparts if p not in names)
        self.names = tuple(names)
        self.nameset = frozenset(names)
        self.aliases = _aliases(self.names)
        self.sikh = bool((frozenset(sparts) | {skey}) & _SIKH)


@lru_cache(maxsize=200_000)
def _aliases(names: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for k in names:
        out |= nick_group(k)
        out |= _FORMS.get(k, frozenset())
    return frozenset(out)


def _person(forename, surname, preferred, middle, dob, upn, gender, year) -> Person:
    return Person(
        key(forename),
        parts(forename),
        key(preferred),
        parts(middle),
        key(surname),
        parts(surname),
        dob,
        (upn or "").strip().upper(),
        _gender(gender),
        _year_of(year),
    )


@lru_cache(maxsize=1024)
def _gender(value: str | None) -> str:
    return normalise(value)[:1] if value else ""


def person_of_record(rec: MisRecord) -> Person:
    return _person(
        rec.forename,
        rec.surname,
        rec.preferred_name,
        rec.middle_names,
        rec.dob,
        rec.upn,
        rec.gender,
        rec.year_group,
    )


def person_of_account(a: object) -> Person:
    if isinstance(a, Account):
        extra = a.extra or {}
        return _person(
            a.forename,
            a.surname,
            a.preferred_name,
            a.middle_names,
            a.dob,
            extra.get("upn"),
            extra.get("gender"),
            extra.get("year_group"),
        )
    return _person(
        getattr(a, "forename", ""),
        getattr(a, "surname", ""),
        getattr(a, "preferred_name", ""),
        getattr(a, "middle_names", ""),
        getattr(a, "dob", None),
        account_field(a, "upn"),
        account_field(a, "gender"),
        account_field(a, "year_group"),
    )


@lru_cache(maxsize=500_000)
def _close(x: str, y: str) -> bool:
    """A slip: the same sound (Amy / Amie), one edit, or Jaro-Winkler's kind of nearness."""
    if min(len(x), len(y)) < 3:
        return False
    return (
        (x.startswith(y) or y.startswith(x))
        or phonetic(x) == phonetic(y)
        or OSA.distance(x, y, score_cutoff=1) <= 1
        or JaroWinkler.normalized_similarity(x, y) >= 0.92
    )


def forename_level(r: Person, a: Person) -> str:
    if r.fkey and r.fkey == a.fkey:
        return "equal"
    rn, an = r.nameset, a.nameset
    if not rn or not an:
        return ""
    if rn & an or rn & a.aliases or an & r.aliases:
        return "known_as"
    if (r.fkey and (r.fkey in a.mkeys or r.fkey in a.fparts[1:])) or (
        a.fkey and (a.fkey in r.mkeys or a.fkey in r.fparts[1:])
    ):
        return "middle"
    for x in r.names:
        for y in a.names:
            if _close(x, y):
                return "similar"
    return "different"


def surname_level(r: Person, a: Person) -> str:
    if not r.skey or not a.skey:
        return ""
    if r.skey == a.skey:
        return "equal"
    if (len(r.sparts) > 1 or len(a.sparts) > 1) and set(r.sparts) & set(a.sparts):
        return "part"
    if r.sikh or a.sikh:
        return "sikh"
    if _close(r.skey, a.skey):
        return "similar"
    return "different"


_DOB_LEVEL = {
    "equal": "equal",
    "day and month swapped": "swapped",
    "two digits transposed": "transposed",
    "one digit off": "one_digit",
    "a day, month or year apart": "near",
    "different": "different",
}


@lru_cache(maxsize=500_000)
def dob_level(a: str, b: str) -> str:
    return _DOB_LEVEL[dob_score(a, b)[1]]


def _year_level(r: Person, a: Person, dob_level: str) -> str:
    if r.year is not None and a.year is not None:
        gap = abs(r.year - a.year)
    elif dob_level not in ("equal", "") and (c1 := _cohort(r.dob)) and (c2 := _cohort(a.dob)):
        gap = abs(c1 - c2)
    else:
        return ""
    return "equal" if gap == 0 else "adjacent" if gap == 1 else "different"


Evidence = tuple[tuple[str, str, float], ...]
# The weight of every level, once (the exact-name levels are weighed per record, by frequency).
_W = {(f, lv): model.weight(f, lv) for f, levels in model.LEVELS.items() for lv in levels}


def compare(
    r: Person,
    a: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float] | None = None,
) -> Evidence:
    """(field, level, bits) of every field both sides have. `exact`: the weights of the
    record's exact forename and surname and the common-name adjustment, when already known
    (record_weights)."""
    return _compare(r, a, tf, pupil, exact)[0]


def _compare(
    r: Person,
    a: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float] | None = None,
) -> tuple[Evidence, float]:
    """compare's evidence, with its total."""
    out: list[tuple[str, str, float]] = []
    w = _W
    if r.upn and a.upn:
        if r.upn == a.upn:
            out.append(("upn", "equal", w["upn", "equal"]))
        elif not (r.upn[-1].isalpha() or a.upn[-1].isalpha()):
            out.append(("upn", "different", w["upn", "different"]))
    if exact is None:
        exact = record_weights(r, tf)
    fl = forename_level(r, a)
    if fl:
        out.append(("forename", fl, exact[0] if fl == "equal" else w["forename", fl]))
    if r.pkey and a.pkey:
        lv = "equal" if r.pkey == a.pkey else "different"
        out.append(("preferred", lv, w["preferred", lv]))
    if r.mkeys and a.mkeys:
        if r.mkeys == a.mkeys:
            lv = "equal"
        else:
            lv = "overlap" if set(r.mkeys) & set(a.mkeys) else "different"
        out.append(("middle", lv, w["middle", lv]))
    sl = surname_level(r, a)
    if sl:
        out.append(("surname", sl, exact[1] if sl == "equal" else w["surname", sl]))
    if fl == "equal" and sl == "equal" and exact[2]:
        out.append(("name", "common", exact[2]))
    dl = ""
    if r.dob and a.dob:
        dl = dob_level(r.dob, a.dob)
        out.append(("dob", dl, w["dob", dl]))
    if r.gender in ("m", "f") and a.gender in ("m", "f"):
        lv = "equal" if r.gender == a.gender else "different"
        out.append(("gender", lv, w["gender", lv]))
    if pupil:
        lv = _year_level(r, a, dl)
        if lv:
            out.append(("year", lv, w["year", lv]))
    return tuple(out), sum([e[2] for e in out])


def record_weights(r: Person, tf: Callable[[str, str], float | None]) -> tuple[float, float, float]:
    """The weights of agreeing exactly on the record's forename and surname (by how common each
    is), and the adjustment when both agree: forenames and surnames are not independent
    (Muhammad Khan, Olivia Smith), so the two count for no more than the whole name's rarity."""
    f, s_ = tf("forename", r.fkey), tf("surname", r.skey)
    wf = model.weight("forename", "equal", f)
    ws = model.weight("surname", "equal", s_)
    adjust = 0.0
    whole = tf("name", f"{r.fkey} {r.skey}")
    if whole and f and s_:
        both = max(f, model.TF_FLOOR) * max(s_, model.TF_FLOOR)
        if whole > both:
            # the exact forename still counts for more than a known-as form would
            floor = _W["forename", "known_as"] - wf + 0.5
            adjust = max(math.log2(both / whole), min(floor, 0.0))
    return wf, ws, adjust


def _swapped(r: Person) -> Person:
    """The record with forename and surname exchanged (names keyed in the wrong order)."""
    return Person(r.skey, r.sparts, "", r.mkeys, r.fkey, r.fparts, r.dob, r.upn, r.gender, r.year)


def reasons_of(evidence: Evidence) -> list[str]:
    """The evidence in words, strongest first."""
    ranked = sorted(evidence, key=lambda e: -abs(e[2]))
    return [f"{model.LEVEL_TEXT[(f, lv)]} ({w:+.1f})" for f, lv, w in ranked]


def differs(rec: MisRecord, acc: object, school: str) -> list[str]:
    """The fields of an account that differ from the record (for the console's columns)."""
    out = []
    if key(rec.forename) != key(getattr(acc, "forename", "")):
        out.append("forename")
    if key(rec.preferred_name) != key(getattr(acc, "preferred_name", "")):
        out.append("preferred_name")
    if key(rec.surname) != key(getattr(acc, "surname", "")):
        out.append("surname")
    if rec.dob != getattr(acc, "dob", None):
        out.append("dob")
    if getattr(acc, "school", None) != school:
        out.append("school")
    if getattr(acc, "status", "active") != "active":
        out.append("status")
    return out


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


@lru_cache(maxsize=200_000)
def _sound_keys(surname: str | None, forename: str | None, preferred: str | None) -> tuple:
    """(phonetic key of a surname part, initial of a forename or preferred name) pairs: an
    account's sound blocks (a record looks them up with its middle names' initials too)."""
    finit = _initials(forename, preferred)
    return tuple((ph, c) for ph, _ in _sounds(surname) for c in finit)


def _years(dob: str | None) -> tuple[str, ...]:
    if not dob or not dob[:4].isdigit():
        return ("",)
    y = int(dob[:4])
    return (str(y - 1), dob[:4], str(y + 1), "")


@dataclass(slots=True)
class Scored:
    """One account weighed against a record."""

    account: object
    person: Person
    evidence: Evidence
    bits: float
    swapped: bool = False

    def tiebreak(self) -> tuple:
        """Ties are broken by agreement on preferred name, middle names and gender (DESIGN)."""
        levels = {f: lv for f, lv, _ in self.evidence}
        return (
            levels.get("preferred") != "equal",
            levels.get("middle") not in ("equal", "overlap"),
            levels.get("gender") != "equal",
        )


class CandidateIndex:
    """Blocking index over one local authority's accounts of one role.

    Built in one pass that touches each account's date of birth, UPN and cached keys of its
    names; the rest of an account's keys are computed only when it is weighed. Name
    frequencies (for the model's name weights) are counted once, when first needed."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts: list = list(accounts)
        self._people: dict[int, Person] = {}
        self._latest: dict[str, int] | None = None  # username -> newest position, once add()ed
        self._dob_initial: dict[str, dict[str, list[int]]] = {}  # filled per date when asked
        self._freq: dict[str, dict[str, int]] | None = None
        self._by_name: dict[str, list[int]] = {}  # "forename surname" keys -> positions
        by_dob: dict[str, list[int]] = {}
        by_sound: dict[tuple[str, str, str], list[int]] = {}
        for i, a in enumerate(self.accounts):
            dob = a.dob
            if dob:
                year = dob[:4]
                got = by_dob.get(dob)
                if got is None:
                    by_dob[dob] = [i]
                else:
                    got.append(i)
            else:
                year = ""
            for ph, c in _sound_keys(a.surname, a.forename, a.preferred_name):
                k = (ph, c, year)
                got = by_sound.get(k)
                if got is None:
                    by_sound[k] = [i]
                else:
                    got.append(i)
        self.by_dob = by_dob
        self.by_sound = by_sound
        self._by_upn: dict[str, list[int]] | None = None  # built when a record has a UPN

    def __len__(self) -> int:
        return len(self.accounts)

    def add(self, account: Account) -> None:
        """Adds (or, after a change, re-adds) an account; the old entry of its username is
        skipped from then on."""
        if self._latest is None:
            self._latest = {a.username: i for i, a in enumerate(self.accounts)}
        i = len(self.accounts)
        before = self._latest.get(account.username)
        self.accounts.append(account)
        self._latest[account.username] = i
        if self._freq is not None:  # counted again as it changes, not recounted for the pool
            if before is not None:
                self._count(self.accounts[before], -1)
            self._count(account, 1)
        if account.dob:
            self.by_dob.setdefault(account.dob, []).append(i)
            self._dob_initial.pop(account.dob, None)
        year = account.dob[:4] if account.dob else ""
        for ph, c in _sound_keys(account.surname, account.forename, account.preferred_name):
            self.by_sound.setdefault((ph, c, year), []).append(i)
        upn = account_field(account, "upn")
        if upn and self._by_upn is not None:
            self._by_upn.setdefault(upn.strip().upper(), []).append(i)

    @property
    def by_upn(self) -> dict[str, list[int]]:
        if self._by_upn is None:
            by_upn: dict[str, list[int]] = {}
            for i, a in enumerate(self.accounts):
                upn = account_field(a, "upn")
                if upn:
                    by_upn.setdefault(upn.strip().upper(), []).append(i)
            self._by_upn = by_upn
        return self._by_upn

    def person(self, i: int) -> Person:
        p = self._people.get(i)
        if p is None:
            p = self._people[i] = person_of_account(self.accounts[i])
        return p

    def frequency(self, field_: str, name: str) -> float | None:
        """How common a forename, a surname or a whole name ("name": forename and surname keys
        with a space) is among the pool's accounts (0..1)."""
        if self._freq is None:
            fore: dict[str, int] = {}
            sur: dict[str, int] = {}
            whole: dict[str, int] = {}
            latest = self._latest
            # _count's count for the whole pool, inlined: a call per account cost twice as much
            by_name = self._by_name
            for i, a in enumerate(self.accounts):
                if latest is not None and latest[a.username] != i:
                    continue  # superseded by a later entry of the same account
                f, s = key(a.forename), key(a.surname)
                fore[f] = fore.get(f, 0) + 1
                sur[s] = sur.get(s, 0) + 1
                fs = f"{f} {s}"
                whole[fs] = whole.get(fs, 0) + 1
                got = by_name.get(fs)
                if got is None:
                    by_name[fs] = [i]
                else:
                    got.append(i)
            self._freq = {"forename": fore, "surname": sur, "name": whole}
        if not name:
            return None
        count = self._freq[field_].get(name, 0)
        if field_ == "name":
            # the other accounts with the whole name: one is usually the candidate itself, and a
            # name borne once is no evidence that forename and surname go together
            count = max(count - 1, 0)
            if not count:
                return 0.0
        return model.frequency(field_, count, len(self.accounts))

    def _count(self, a: Account, step: int) -> None:
        assert self._freq is not None
        f, s = key(a.forename), key(a.surname)
        if step > 0:
            self._by_name.setdefault(f"{f} {s}", []).append(len(self.accounts) - 1)
        for field_, name in (("forename", f), ("surname", s), ("name", f"{f} {s}")):
            counts = self._freq[field_]
            counts[name] = counts.get(name, 0) + step

    def _by_initial(self, dob: str) -> dict[str, list[int]]:
        sub = self._dob_initial.get(dob)
        if sub is None:
            sub = self._dob_initial[dob] = {}
            for i in self.by_dob.get(dob, ()):
                for p in parts(self.accounts[i].surname):
                    sub.setdefault(p[:2], []).append(i)
        return sub

    def _block(self, rec: MisRecord) -> set[int]:
        found: set[int] = set()
        if rec.upn:
            found.update(self.by_upn.get(rec.upn.strip().upper(), ()))
        dob = rec.dob
        by_dob = self.by_dob
        if dob:
            # Same date of birth, whatever the names (a surname changed, a middle name used).
            found.update(by_dob.get(dob, ()))
            swapped = swap_day_month(dob)
            if swapped:
                found.update(by_dob.get(swapped, ()))
            # A mistyped date, with the surname's first two letters to keep the block small.
            initials = {p[:2] for p in parts(rec.surname)}
            for v in (*one_digit_variants(dob), *near_dates(dob)):
                if v in by_dob:
                    sub = self._by_initial(v)
                    for c in initials:
                        found.update(sub.get(c, ()))
        # The sound of the surname with the initial of a name, born within a year (or with no
        # date of birth on the account): dates mistyped in other ways.
        years = _years(dob)
        by_sound = self.by_sound
        finit = _initials(rec.forename, rec.preferred_name, rec.middle_names)
        for ph, _ in _sounds(rec.surname):
            for c in finit:
                for y in years:
                    found.update(by_sound.get((ph, c, y), ()))
        # The same whole name, in either order, whatever the date of birth (a date keyed wholly
        # wrong); a name so common that many bear it is left to the other blocks.
        fk, sk = key(rec.forename), key(rec.surname)
        if fk and sk:
            if self._freq is None:
                self.frequency("name", "")  # counts the pool, and indexes it by name
            for whole in (f"{fk} {sk}", f"{sk} {fk}"):
                got = self._by_name.get(whole, ())
                if len(got) <= NAME_BLOCK_MAX:
                    found.update(got)
        # Names in the wrong order: the record's forename as a surname.
        sinit = {p[0] for p in parts(rec.surname)}
        for ph, _ in _sounds(rec.forename):
            for c in sinit:
                for y in years:
                    found.update(by_sound.get((ph, c, y), ()))
        return found

    def weigh(
        self, r: Person, p: Person, pupil: bool, exact: tuple[float, float, float]
    ) -> tuple[Evidence, float, bool]:
        """The evidence for one account, and whether it came from the names swapped."""
        ev, bits = _compare(r, p, self.frequency, pupil, exact)
        fl = sl = ""
        for f, lv, _ in ev:
            if f == "forename":
                fl = lv
            elif f == "surname":
                sl = lv
        if fl == "different" and sl == "different" and (r.skey in p.nameset or p.skey in r.nameset):
            ev2, bits2 = _compare(_swapped(r), p, self.frequency, pupil)
            if bits2 > bits:
                return ev2, bits2, True
        return ev, bits, False

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
        r = person_of_record(rec)
        exact = record_weights(r, self.frequency)
        pupil = rec.role == "pupil"
        latest = self._latest
        out: list[Scored] = []
        seen: set[str] = set()
        for i in self._block(rec):
            acc = self.accounts[i]
            if acc.username in exclude or (latest is not None and latest[acc.username] != i):
                continue
            seen.add(acc.username)
            person = self.person(i)
            ev, bits, swapped = self.weigh(r, person, pupil, exact)
            if min_bits is None or bits >= min_bits:
                out.append(Scored(acc, person, ev, bits, swapped))
        for acc in extra:
            if acc.username in exclude or acc.username in seen:
                continue
            seen.add(acc.username)
            p = person_of_account(acc)
            ev, bits, swapped = self.weigh(r, p, pupil, exact)
            if min_bits is None or bits >= min_bits:
                out.append(Scored(acc, p, ev, bits, swapped))
        out.sort(key=lambda s: (-s.bits, s.tiebreak()))
        return out

    def candidates(
        self,
        rec: MisRecord,
        school: str,
        exclude: set[str] | frozenset[str] = frozenset(),
        extra: Iterable[object] = (),
    ) -> list[Candidate]:
        """At most MAX_CANDIDATES candidates, best first: by the weight of evidence, then
        preferred name, middle names and gender, then the record's own school."""
        n = len(self.accounts)
        ranked: list[tuple[tuple, Candidate]] = []
        for s in self.scored(rec, exclude, extra, model.min_bits(n)):
            score = model.score(s.bits, n)
            if score < MIN_SCORE:
                continue
            acc = s.account
            reasons = reasons_of(s.evidence)
            if s.swapped:
                reasons.insert(0, "forename and surname swapped")
            if acc.status != "active":
                reasons.append("unallocated")
            elif acc.school and acc.school != school:
                reasons.append(f"at another school ({acc.school})")
            cand = Candidate(
                username=acc.username,
                school=acc.school,
                score=score,
                forename=acc.forename,
                surname=acc.surname,
                preferred_name=acc.preferred_name,
                dob=acc.dob,
                status=acc.status,
                differs=differs(rec, acc, school),
                reasons=reasons,
                evidence=[[f, lv, round(w, 1)] for f, lv, w in s.evidence],
            )
            ranked.append(((-score, -s.bits, s.tiebreak(), acc.school != school), cand))
            if len(ranked) >= MAX_CANDIDATES * 3:
                break
        ranked.sort(key=lambda t: t[0])
        return [c for _, c in ranked[:MAX_CANDIDATES]]
