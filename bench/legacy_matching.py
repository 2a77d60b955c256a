"""The OLD matching rules, frozen for bench/matching: the matcher and the automatic link of
uso_tui/sync/matching.py and uso_tui/sync/plan.py at commit f0bdd03 (the rules table before
matching v2), so the bench can print the old decisions beside the current matcher's. Only what
a record's decision needs: `legacy_plan` is the planner's loop without the sieve, exclusions,
open cases and the safety hold (the bench has none of them).

Scores are integer percentages from the names (forename or preferred name, either order;
nicknames; hyphenated surnames matching in part; other scripts transliterated) and the date of
birth (equal, day and month swapped, one digit off, two adjacent digits transposed).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import jellyfish
from anyascii import anyascii
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from uso_tui.domain.models import Account, Export, MisRecord
from uso_tui.domain.names import normalise

MAX_CANDIDATES = 5
OLDEST_DOB = "1900-01-01"
MIN_SCORE = 60
NAME_CLOSE = 80  # a forename or surname at least this similar
SAME_DOB_NAMES = 80  # the mean name score needed when the date of birth is the same
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


def forename_score(a: tuple[str, ...], b: tuple[str, ...], lenient: bool = False) -> int:
    """100 equal, 90 nickname, 85 prefix (Alex / Alexander), else edit similarity; `lenient`
    (with the same date of birth) also takes Jaro-Winkler, kinder to a slip in a short name
    (Amy / Amie) but too kind to tell Oliver from Olivia when the date differs too."""
    best = 0
    for x in a:
        for y in b:
            if x == y:
                return 100
            if y in nick_group(x) or x in nick_group(y):
                s = 90
            elif min(len(x), len(y)) >= 3 and (x.startswith(y) or y.startswith(x)):
                s = 85  # Alex / Alexander
            else:
                s = int(fuzz.ratio(x, y))
                if lenient:
                    s = max(s, int(100 * JaroWinkler.normalized_similarity(x, y)))
            best = max(best, s)
    return best


def surname_score(a: str | None, b: str | None) -> int:
    ka, kb = key(a), key(b)
    if not ka or not kb:
        return 0
    if ka == kb:
        return 100
    s = int(fuzz.ratio(ka, kb))
    pa, pb = parts(a), parts(b)
    if (len(pa) > 1 or len(pb) > 1) and set(pa) & set(pb):
        s = max(s, 85)  # one part of a double-barrelled surname
    return s


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


@dataclass(slots=True)
class Candidate:
    """A ranked candidate as the old rules made it."""

    username: str
    school: str | None
    score: int  # 0-100
    forename: str = ""
    surname: str = ""
    preferred_name: str = ""
    dob: str | None = None
    status: str = "active"
    differs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class _Entry:
    account: Account
    fkeys: tuple[str, ...]


def score_pair(
    rec_fkeys: tuple[str, ...], rec: MisRecord, index: CandidateIndex, i: int
) -> tuple[int, list[str]] | None:
    """The score of an account for a record and why, or None when they do not resemble.

    With the same date of birth the names together must be close (one of them may have changed);
    with a date only plausibly mistyped, both names must be close: two coincidences are common in
    a local authority of tens of thousands, three are not. Cheapest tests first: most accounts of
    a block share only the date of birth or the sound of the surname."""
    acc = index.accounts[i]
    ds, how = dob_score(rec.dob, acc.dob)
    if ds == 0 and how != "unknown":
        return None
    ss = surname_score(rec.surname, acc.surname)
    equal = how == "equal"
    reasons: list[str] = []
    if ss < (SAME_DOB_NAMES * 2 - 100 if equal else NAME_CLOSE):
        # Only forename and surname given in the wrong order can still make a candidate.
        if surname_score(rec.forename, acc.surname) < NAME_CLOSE:
            return None
        fs = forename_score(rec_fkeys, index.entry(i).fkeys, equal)
        if fs < NAME_CLOSE:
            swapped = (
                forename_score((key(rec.surname),), index.entry(i).fkeys)
                + surname_score(rec.forename, acc.surname)
            ) / 2
            if swapped < 90:
                return None
            fs = ss = round(swapped) - 10
            reasons.append("forename and surname swapped")
    else:
        fs = forename_score(rec_fkeys, index.entry(i).fkeys, equal)
    names = (fs + ss) / 2
    if how == "unknown":
        if fs < 90 or ss < 90:
            return None
        ds = 50
        reasons.append("account has no date of birth")
    elif equal:
        if names < SAME_DOB_NAMES:
            return None
    else:
        if fs < NAME_CLOSE or ss < NAME_CLOSE:
            return None
        reasons.append(f"date of birth {how}")
    if 85 <= fs < 100:
        reasons.append("similar forename or nickname")
    if ss < NAME_CLOSE:
        reasons.append("surname differs (changed?)")
    score = round(0.6 * names + 0.4 * ds)
    if score < MIN_SCORE:
        return None
    return score, reasons


def differs(rec: MisRecord, acc: Account, school: str) -> list[str]:
    out = []
    if key(rec.forename) != key(acc.forename):
        out.append("forename")
    if key(rec.preferred_name) != key(acc.preferred_name):
        out.append("preferred_name")
    if key(rec.surname) != key(acc.surname):
        out.append("surname")
    if rec.dob != acc.dob:
        out.append("dob")
    if acc.school != school:
        out.append("school")
    if acc.status != "active":
        out.append("status")
    return out


@lru_cache(maxsize=200_000)
def _initials(forename: str | None, preferred: str | None) -> frozenset[str]:
    return frozenset(k[0] for k in forename_keys(forename, preferred))


@lru_cache(maxsize=200_000)
def _sounds(surname: str | None) -> tuple[tuple[str, str], ...]:
    """(phonetic key, initial) of each part of a surname."""
    return tuple((phonetic(p), p[0]) for p in parts(surname))


@lru_cache(maxsize=200_000)
def _sound_keys(surname: str | None, forename: str | None, preferred: str | None) -> tuple:
    """(phonetic key of a surname part, forename initial) pairs: an account's sound blocks."""
    finit = _initials(forename, preferred)
    return tuple((ph, c) for ph, _ in _sounds(surname) for c in finit)


def _years(dob: str | None) -> tuple[str, ...]:
    if not dob or not dob[:4].isdigit():
        return ("",)
    y = int(dob[:4])
    return (str(y - 1), dob[:4], str(y + 1), "")


class CandidateIndex:
    """Blocking index over one local authority's accounts of one role.

    Built in one pass that touches each account's date of birth and cached keys of its names;
    the rest of an account's keys are computed only when it is scored."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        self.accounts: list[Account] = list(accounts)
        self._entries: dict[int, _Entry] = {}
        self._latest: dict[str, int] | None = None  # username -> newest position, once add()ed
        self._dob_initial: dict[str, dict[str, list[int]]] = {}  # filled per date when asked
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

    def __len__(self) -> int:
        return len(self.accounts)

    def add(self, account: Account) -> None:
        """Adds (or, after a change, re-adds) an account; the old entry of its username is
        skipped from then on."""
        if self._latest is None:
            self._latest = {a.username: i for i, a in enumerate(self.accounts)}
        i = len(self.accounts)
        self.accounts.append(account)
        self._latest[account.username] = i
        if account.dob:
            self.by_dob.setdefault(account.dob, []).append(i)
            self._dob_initial.pop(account.dob, None)
        year = account.dob[:4] if account.dob else ""
        for ph, c in _sound_keys(account.surname, account.forename, account.preferred_name):
            self.by_sound.setdefault((ph, c, year), []).append(i)

    def entry(self, i: int) -> _Entry:
        e = self._entries.get(i)
        if e is None:
            a = self.accounts[i]
            e = self._entries[i] = _Entry(a, forename_keys(a.forename, a.preferred_name))
        return e

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
        dob = rec.dob
        by_dob = self.by_dob
        if dob:
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
        # The sound of the surname with the forename's initial, born within a year (or with no
        # date of birth on the account): dates mistyped in other ways.
        years = _years(dob)
        by_sound = self.by_sound
        finit = _initials(rec.forename, rec.preferred_name)
        for ph, _ in _sounds(rec.surname):
            for c in finit:
                for y in years:
                    found.update(by_sound.get((ph, c, y), ()))
        # Names in the wrong order: the record's forename as a surname.
        sinit = {p[0] for p in parts(rec.surname)}
        for ph, _ in _sounds(rec.forename):
            for c in sinit:
                for y in years:
                    found.update(by_sound.get((ph, c, y), ()))
        return found

    def candidates(
        self, rec: MisRecord, school: str, exclude: set[str] | frozenset[str] = frozenset()
    ) -> list[Candidate]:
        """At most 5 candidates, best first: score, then the record's own school, then username."""
        rec_f = forename_keys(rec.forename, rec.preferred_name)
        latest = self._latest
        scored: list[tuple[int, bool, str, Candidate]] = []
        for i in self._block(rec):
            acc = self.accounts[i]
            if acc.username in exclude or (latest is not None and latest[acc.username] != i):
                continue
            got = score_pair(rec_f, rec, self, i)
            if got is None:
                continue
            score, reasons = got
            if acc.school and acc.school != school:
                reasons.append(f"at another school ({acc.school})")
            elif acc.status != "active":
                reasons.append("unallocated")
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
            )
            scored.append((-score, acc.school != school, acc.username, cand))
        scored.sort(key=lambda t: t[:3])
        return [t[3] for t in scored[:MAX_CANDIDATES]]


# ---------------------------------------------------------------- the old planner's decisions


@dataclass
class Change:
    kind: str  # update, restore, auto_link, unallocate
    before: Account
    after: Account


@dataclass
class NewCase:
    record: MisRecord
    candidates: list[Candidate]


@dataclass
class LegacyPlan:
    changes: list[Change] = field(default_factory=list)
    creates: list[MisRecord] = field(default_factory=list)
    new_cases: list[NewCase] = field(default_factory=list)


_EXTRA_KEYS = (
    "gender",
    "year_group",
    "form_group",
    "upn",
    "title",
    "initials",
    "person_guid",
    "enrolment_date",
    "system_status",
    "is_teaching",
)


def held_fields(rec: MisRecord) -> dict[str, Any]:
    extra = {k: v for k in _EXTRA_KEYS if (v := getattr(rec, k, None)) is not None}
    return {
        "forename": rec.forename or "",
        "surname": rec.surname or "",
        "preferred_name": rec.preferred_name or "",
        "middle_names": rec.middle_names or "",
        "dob": rec.dob,
        "email": rec.email or "",
        "extra": extra,
    }


def _valid(rec: MisRecord, today: str, dup: Counter[str]) -> bool:
    return bool(
        rec.mis_id
        and dup[rec.mis_id] == 1
        and (rec.forename or "").strip()
        and (rec.surname or "").strip()
        and rec.dob
        and OLDEST_DOB <= rec.dob <= today
    )


def _auto_key_names(forename: str | None, preferred: str | None) -> set[str]:
    return {normalise(forename), normalise(preferred)} - {""}


def legacy_plan(
    export: Export,
    accounts: list[Account],
    pool: Callable[[str], list[Account]],
    dfe: str,
    today: date,
) -> LegacyPlan:
    """The old planner's decisions for one report of school `dfe`: linked records update or
    restore their account; an unlinked record auto-links to the one unlinked account of the
    school with its surname and date of birth and its forename or preferred name (unless two
    records claim it), else opens a case when the local authority's accounts resemble it, else
    is created; linked accounts absent from the export are unallocated."""
    report = export.report
    role = "staff" if report == "staff" else "pupil"
    today_s = today.isoformat()
    p = LegacyPlan()
    linked: dict[str, Account] = {}
    unlinked_here: dict[tuple[str, str], list[Account]] = {}
    for a in accounts:
        if a.mis_id is not None:
            if a.link_school == dfe and a.link_report == report:
                linked[a.mis_id] = a
        elif a.school == dfe and a.status == "active" and a.role == role and a.dob:
            unlinked_here.setdefault((normalise(a.surname), a.dob), []).append(a)
    dup = Counter(r.mis_id for r in export.records)
    present: set[str] = set()
    pending: list[tuple[MisRecord, list[Account]]] = []
    for rec in export.records:
        if not _valid(rec, today_s, dup):
            if rec.mis_id:
                present.add(rec.mis_id)
            continue
        if rec.leaving_date and rec.leaving_date <= today_s:
            continue
        present.add(rec.mis_id)
        acc = linked.get(rec.mis_id)
        if acc is not None:
            held = held_fields(rec)
            if acc.status != "active" or acc.school != dfe:
                after = dataclasses.replace(acc, **held, status="active", school=dfe, source="mis")
                p.changes.append(Change("restore", acc, after))
            elif any(getattr(acc, k) != v for k, v in held.items()):
                p.changes.append(Change("update", acc, dataclasses.replace(acc, **held)))
            continue
        if rec.enrolment_date and rec.enrolment_date > today_s:
            continue
        names = _auto_key_names(rec.forename, rec.preferred_name)
        same = [
            a
            for a in unlinked_here.get((normalise(rec.surname), rec.dob), ())
            if _auto_key_names(a.forename, a.preferred_name) & names
        ]
        pending.append((rec, same))
    claims = Counter(s[0].username for _, s in pending if len(s) == 1)
    index: CandidateIndex | None = None
    for rec, same in pending:
        if len(same) == 1 and claims[same[0].username] == 1:
            acc = same[0]
            after = dataclasses.replace(
                acc,
                **held_fields(rec),
                source="mis",
                mis_id=rec.mis_id,
                link_school=dfe,
                link_report=report,
            )
            p.changes.append(Change("auto_link", acc, after))
            continue
        if index is None:
            index = CandidateIndex(pool(role))
        cands = index.candidates(rec, dfe)
        if cands:
            p.new_cases.append(NewCase(rec, cands))
        else:
            p.creates.append(rec)
    for mis_id, a in linked.items():
        if a.status == "active" and a.school == dfe and mis_id not in present:
            after = dataclasses.replace(a, status="unallocated", school=None, previous_school=dfe)
            p.changes.append(Change("unallocate", a, after))
    return p
