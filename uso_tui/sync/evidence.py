"""A record weighed against an account, field by field (DESIGN section 3, "Matching"): each
field's level of agreement and its weight in bits under match_model's Fellegi-Sunter model, so
that every candidate carries why it ranks where it does."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

from rapidfuzz.distance import OSA
from stdnum.gb.upn import calc_check_digit

from uso_tui.domain.models import Account, MisRecord
from uso_tui.domain.names import gender_key, initial_of, permanent_upn, upn_key
from uso_tui.sync import match_model as model
from uso_tui.sync.dob_slips import dob_score
from uso_tui.sync.matched_names import aliases, is_muhammad, key, names_close, parts

_SIKH = frozenset({"singh", "kaur"})
# Year groups as schools write them: `Year 7`, `Y7`, `NC Year 7`, `7`; Reception as `R`, `Rec`,
# `FS2` (foundation stage 2); nursery as `N`, `N1`, `FS1`, `-1`; the sixth form as `12`, `L6`,
# `Lower Sixth`, `U6`.
_YEAR_PREFIX = re.compile(r"^(?:nc\s*)?(?:(?:year|yr|y)[\s.:]*(?=\S))?")
_SIXTH = r"(?:sixth|6(?:th)?)(?:\s+form)?"
_YEAR_FORMS = (
    (
        re.compile(r"^(?:r|rec|reception(?:\s+class)?|(?:f|fs|eyfs|foundation(?: stage)?)\s*2)$"),
        0,
    ),
    (
        re.compile(
            r"^(?:n\s*\d?|nur|nursery(?:\s*\d)?|pre-?school|"
            r"(?:f|fs|eyfs|foundation(?: stage)?)\s*1|-\s*1)$"
        ),
        -1,
    ),
    (re.compile(rf"^(?:l\s*6(?:th)?|6\s*l|lower\s+{_SIXTH})$"), 12),
    (re.compile(rf"^(?:u\s*6(?:th)?|6\s*u|upper\s+{_SIXTH})$"), 13),
)
_YEAR = re.compile(r"^-?\s*(\d{1,2})(?!\d)")  # "Year-8": the hyphen a separator


@lru_cache(maxsize=1024)
def _year_of(value: str | None) -> int | None:
    """The year group as a number (Reception 0, nursery -1, lower sixth 12); None for anything
    else (the year is then no evidence)."""
    if not value:
        return None
    text = _YEAR_PREFIX.sub("", " ".join(value.lower().split()))
    for form, year in _YEAR_FORMS:
        if form.match(text):
            return year
    match = _YEAR.match(text)
    return int(match.group(1)) if match else None


def _cohort(dob: str | None) -> int | None:
    """The school year a child born on `dob` is in (the year starts on 1 September)."""
    if not dob or len(dob) < 7 or not dob[:4].isdigit() or not dob[5:7].isdigit():
        return None
    year, month = int(dob[:4]), int(dob[5:7])
    return year if month >= 9 else year - 1


def school_years_between(earlier: str, later: str) -> int:
    """How many 1 Septembers passed from the day `earlier` to the day `later` (ISO dates): the
    year groups a child has gone up by meanwhile."""
    first, last = _cohort(earlier), _cohort(later)
    return max(0, last - first) if first is not None and last is not None else 0


def account_field(account: object, name: str) -> str | None:
    """A field of an Account (held in `extra`) or of the store's AccountHit (its own)."""
    if isinstance(account, Account):
        return account.extra.get(name) if account.extra else None
    return getattr(account, name, None)


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
        "initial",
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
        initial: str = "",
    ) -> None:
        self.initial = initial  # the forename when it is one Latin letter (M, M.): an initial
        self.fkey, self.fparts, self.pkey, self.mkeys = fkey, fparts, pkey, mkeys
        self.skey, self.sparts, self.dob = skey, sparts, dob
        self.upn, self.gender, self.year = upn, gender, year
        self.names, self.nameset, self.aliases = _forenames(fkey, pkey, fparts)
        self.sikh = _is_sikh(skey, sparts)


@lru_cache(maxsize=200_000)
def _forenames(
    fkey: str, pkey: str, fparts: tuple[str, ...]
) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """Every key a person answers to as a forename, as a tuple and a set, and the known-as
    forms of them (once per name: most forenames are shared by many accounts)."""
    names = [fkey] if fkey else []
    if pkey and pkey != fkey:
        names.append(pkey)
    names.extend(part for part in fparts if part not in names)
    return tuple(names), frozenset(names), aliases(tuple(names))


@lru_cache(maxsize=200_000)
def _is_sikh(skey: str, sparts: tuple[str, ...]) -> bool:
    return skey in _SIKH or not _SIKH.isdisjoint(sparts)


def _person(forename, surname, preferred, middle, dob, upn, gender, year) -> Person:
    return Person(
        key(forename),
        parts(forename),
        key(preferred),
        parts(middle),
        key(surname),
        parts(surname),
        # a placeholder date (1900-01-01 for one not known) is no date: no evidence either way
        dob if dob and not model.placeholder_dob(dob) else None,
        upn_key(upn),
        _gender(gender),
        _year_of(year),
        _initial(forename),
    )


@lru_cache(maxsize=4096)
def _initial(forename: str | None) -> str:
    """initial_of, cached: a one-character name of another script (娥, 이) or an accented one
    (Ý) is a whole name, though its comparison key is one letter too."""
    return initial_of(forename)


@lru_cache(maxsize=1024)
def _gender(value: str | None) -> str:
    return gender_key(value)


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


def person_of_account(account: object) -> Person:
    if isinstance(account, Account):
        extra = account.extra or {}
        return _person(
            account.forename,
            account.surname,
            account.preferred_name,
            account.middle_names,
            account.dob,
            extra.get("upn"),
            extra.get("gender"),
            extra.get("year_group"),
        )
    return _person(
        getattr(account, "forename", ""),
        getattr(account, "surname", ""),
        getattr(account, "preferred_name", ""),
        getattr(account, "middle_names", ""),
        getattr(account, "dob", None),
        account_field(account, "upn"),
        account_field(account, "gender"),
        account_field(account, "year_group"),
    )


# Forename levels that a boy's and a girl's names reach as forms of one name (compare).
GENDERED = frozenset(("known_as", "similar", "initial"))
# ... and that twins' names reach as slips of one another (match_model's "twin_near").
TWIN_NEAR = frozenset(("similar", "initial"))


def forename_level(record: Person, account: Person) -> str:
    if record.fkey and record.fkey == account.fkey:
        return "equal"
    rec_names, acc_names = record.nameset, account.nameset
    if not rec_names or not acc_names:
        return ""
    if rec_names & acc_names or rec_names & account.aliases or acc_names & record.aliases:
        if _compounds_apart(record, account):
            return "different"
        return "known_as"
    for one, other in ((record, account), (account, record)):
        shared = _middle_shared(one, other)
        if shared:
            # one's forename is the other's middle name; a Muhammad shared so, each side with a
            # name of its own besides, is two brothers (twins Ayaan Mohammed and Mohammed Hamza,
            # or Mo Hamza)
            if is_muhammad(shared) and _own_name(one, other) and _own_name(other, one):
                return "different"
            return "middle"
    for rec_name in record.names:
        for acc_name in account.names:
            if names_close(rec_name, acc_name):
                return "similar"
    for one, other in ((record, account), (account, record)):
        if one.initial and any(len(n) > 1 and n[0] == one.initial for n in other.names):
            return "initial"
    return "different"


def _middle_shared(one: Person, other: Person) -> str:
    """The name of `other`'s that `one`'s forename is: a middle name or a later part of its
    forename, or the middle name a short form of which it is (Mo for Ibrahim Mohammed); ""."""
    fkey = one.fkey
    if not fkey:
        return ""
    if fkey in other.mkeys or fkey in other.fparts[1:]:
        return fkey
    if other.mkeys and fkey in aliases(other.mkeys):
        return next((m for m in other.mkeys if fkey in aliases((m,))), fkey)
    return ""


def _compounds_apart(one: Person, other: Person) -> bool:
    """Two forenames of several parts that share one, each with a part of its own that is none
    of the other's names, forms or slips (Van Minh and Van Nam, Abdul Rahman and Abdul Karim,
    Mary Jane and Mary Kate, Muhammad Ali and Muhammad Omar): siblings, often twins, not one
    name's forms. A preferred name that is the other's forename still says known-as."""
    if len(one.fparts) < 2 or len(other.fparts) < 2:
        return False
    if (one.pkey and one.pkey in other.nameset) or (other.pkey and other.pkey in one.nameset):
        return False
    return _own_part(one, other) and _own_part(other, one)


def _own_part(one: Person, other: Person) -> bool:
    for part in one.fparts:
        if part in other.nameset or part in other.aliases or part in other.mkeys:
            continue
        if any(names_close(part, theirs) for theirs in other.fparts):
            continue
        return True
    return False


def _own_name(one: Person, other: Person) -> bool:
    """Whether `one` gives a forename or middle name that is none of `other`'s names, nor a
    known-as form or a slip of one (Yusuf and Yousuf are one name; Mo of a middle Mohammed)."""
    theirs = {*other.names, *other.mkeys}
    middle_forms = aliases(other.mkeys) if other.mkeys else frozenset()
    for name in (*one.names, *one.mkeys):
        if name in theirs or name in other.aliases or name in middle_forms:
            continue
        if any(names_close(name, their) for their in theirs):
            continue
        return True
    return False


def surname_level(record: Person, account: Person) -> str:
    if not record.skey or not account.skey:
        return ""
    if record.skey == account.skey:
        return "equal"
    if (len(record.sparts) > 1 or len(account.sparts) > 1) and set(record.sparts) & set(
        account.sparts
    ):
        return "part"
    if record.sikh or account.sikh:
        return "sikh"
    if names_close(record.skey, account.skey):
        return "similar"
    return "different"


_DOB_LEVEL = {
    "equal": "equal",
    "day and month swapped": "swapped",
    "two digits transposed": "transposed",
    "one digit off": "one_digit",
    "a day, month or year apart": "near",
    "different": "different",
    "unknown": "",  # a date missing on a side: no evidence either way
}


@lru_cache(maxsize=500_000)
def dob_level(rec_dob: str, acc_dob: str) -> str:
    return _DOB_LEVEL[dob_score(rec_dob, acc_dob)[1]]


def _year_level(record: Person, account: Person, dob_level: str) -> str:
    if record.year is not None and account.year is not None:
        gap = abs(record.year - account.year)
    elif (
        dob_level not in ("equal", "")
        and (rec_cohort := _cohort(record.dob))
        and (acc_cohort := _cohort(account.dob))
    ):
        # Without a year group on one side, the school years the two dates fall in: a date
        # slip that puts the child in another year is weaker, never more (the gap is the
        # slip's own, which the date's level has weighed: a year's digit mistyped is years
        # apart). A date wholly different keeps its years apart, as the model was fitted
        # (without them, an account released from a record as another person's, by its UPN
        # alone, became that record's candidate again).
        if dob_level != "different":
            return "equal" if rec_cohort == acc_cohort else "adjacent"
        gap = abs(rec_cohort - acc_cohort)
    else:
        return ""
    if gap == 0 and dob_level == "equal":
        # one date of birth is one school year, for two children as for one: the date's own
        # weight has said it (counted again, 10 times the odds: a stranger of one forename and
        # birthday, another surname, scored 96%, over CREATE_GUARD)
        return ""
    return "equal" if gap == 0 else "adjacent" if gap == 1 else "different"


@lru_cache(maxsize=100_000)
def upn_checks(upn: str) -> bool:
    """Whether a normalised (permanent) UPN's check letter is the one its digits give (DfE: a
    weighted sum modulo 23; python-stdnum computes it)."""
    return len(upn) == 13 and upn[1:].isdigit() and calc_check_digit(upn[1:]) == upn[0]


def upn_level(upn: str, other: str) -> str:
    """Two normalised UPNs: equal; a slip (one keying slip apart, a character wrong, missing,
    extra, or two exchanged, where one of them passes the DfE check and the other fails it: the
    other was mistyped); different; or "" (one missing, or either a temporary UPN, which ends in
    a letter and says nothing about the child). Two real UPNs, however near (twins numbered one
    after the other), both pass: different. Where neither passes (numbers not given by the DfE's
    rule) a slip cannot be told from another child: different."""
    if not upn or not other:
        return ""
    if upn == other:
        return "equal"
    if not (permanent_upn(upn) and permanent_upn(other)):
        return ""
    # the distance first: nearly every pair weighed is far apart (a check letter costs more)
    if OSA.distance(upn, other, score_cutoff=1) <= 1 and upn_checks(upn) != upn_checks(other):
        return "slip"
    return "different"


Evidence = tuple[tuple[str, str, float], ...]


def _weights(staff: bool) -> dict[tuple[str, str], float]:
    return {
        (field, level): model.weight(field, level, staff=staff)
        for field, levels in model.LEVELS.items()
        for level in levels
    }


# The weight of every level, once (the exact-name levels are weighed per record, by frequency);
# for staff, their levels of match_model.STAFF_LEVELS weigh otherwise.
WEIGHTS, STAFF_WEIGHTS = _weights(staff=False), _weights(staff=True)
# The most a field can add whatever the other side holds (exact names aside: record_weights).
_BOTH = [*WEIGHTS.items(), *STAFF_WEIGHTS.items()]
MOST = {
    field: max(0.0, *(weight for (name, _), weight in _BOTH if name == field))
    for field in model.LEVELS
}
MOST_INEXACT = {
    field: max(weight for (name, level), weight in _BOTH if name == field and level != "equal")
    for field in ("forename", "surname")
}


def compare(
    record: Person,
    account: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float, float] | None = None,
    pool_size: int = 0,
) -> Evidence:
    """(field, level, bits) of every field both sides have. `exact`: the weights of the
    record's exact forename and surname and the common-name adjustment, when already known
    (record_weights)."""
    return compare_with_total(record, account, tf, pupil, exact, pool_size)[0]


def compare_with_total(
    record: Person,
    account: Person,
    tf: Callable[[str, str], float | None],
    pupil: bool,
    exact: tuple[float, float, float, float] | None = None,
    pool_size: int = 0,
) -> tuple[Evidence, float]:
    """compare's evidence, with its total (`pool_size`: the accounts the account is one of)."""
    out: list[tuple[str, str, float]] = []
    weights = WEIGHTS if pupil else STAFF_WEIGHTS
    level = upn_level(record.upn, account.upn)
    if level:
        out.append(("upn", level, weights["upn", level]))
    if exact is None:
        exact = record_weights(record, tf)
    fl = forename_level(record, account)
    if fl in GENDERED and {record.gender, account.gender} == {"m", "f"}:
        # a boy's and a girl's forms of one name (Daniel and Daniela, Louis and Louise, Sam for
        # Samuel and Samantha): a brother and a sister, twins on one date, not a slip
        fl = "different"
    if fl:
        out.append(("forename", fl, exact[0] if fl == "equal" else weights["forename", fl]))
    # Two equal preferred names behind a known-as forename are one fact (both answer to that
    # name), weighed once as the forename's level: twins known by one name are not alike twice.
    if record.pkey and account.pkey and not (fl == "known_as" and record.pkey == account.pkey):
        level = "equal" if record.pkey == account.pkey else "different"
        out.append(("preferred", level, weights["preferred", level]))
    if record.mkeys and account.mkeys:
        if record.mkeys == account.mkeys:
            level = "equal"
        else:
            level = "overlap" if set(record.mkeys) & set(account.mkeys) else "different"
        weight = weights["middle", level]
        if level == "equal":
            # among many namesakes (Muhammad Khan), a middle name is as rare as it is among them
            share = tf("middle", f"{record.fkey} {record.skey}\t{' '.join(record.mkeys)}")
            if share is not None:
                weight = min(weight, model.weight("middle", "equal", share))
        out.append(("middle", level, weight))
    sl = surname_level(record, account)
    if sl:
        out.append(("surname", sl, exact[1] if sl == "equal" else weights["surname", sl]))
    if fl == "equal" and sl == "equal" and exact[2]:
        out.append(("name", "common", exact[2]))
    dl = ""
    if record.dob and account.dob:
        dl = dob_level(record.dob, account.dob)
        out.append(("dob", dl, exact[3] if dl == "equal" else weights["dob", dl]))
    if record.gender in ("m", "f") and account.gender in ("m", "f"):
        level = "equal" if record.gender == account.gender else "different"
        # one forename is one gender, for two people as for one: the forename's weight has
        # said it (counted again, twice the odds); another gender still says another person
        if not (level == "equal" and fl == "equal"):
            out.append(("gender", level, weights["gender", level]))
    if pupil:
        level = _year_level(record, account, dl)
        if level:
            out.append(("year", level, weights["year", level]))
        if dl in _TWIN_DATES and sl in ("equal", "similar") and out[0][:2] != ("upn", "equal"):
            if fl in TWIN_NEAR:
                out = _twin_near(out, pool_size, "forename")
            elif (
                fl == "equal"
                and is_muhammad(record.fkey)
                and any(e[:2] == ("middle", "different") for e in out)
            ):
                # one forename, other middle names: brothers all named Muhammad, known by
                # their middle names (twins Muhammad Ali and Muhammad Omar Khan); other
                # children of one forename are rarely twins (Oliver J and Oliver James: a slip)
                out = _twin_near(out, pool_size, "middle")
    return tuple(out), sum([e[2] for e in out])


# The fields a twin shares, weighed together when a pupil looks like a twin (_twin_near); the
# middle names too when they are what says twin (their difference tells twins of one forename
# apart: a forename slip's twin keeps it as evidence of its own).
_TWIN_FIELDS = frozenset(("forename", "name", "surname", "dob", "year"))
# A twin's date, or a slip of it: a slip in the date (or the surname) is as likely the record's
# keying as the account's, whoever the account is, so it makes no twin likelier a person.
_TWIN_DATES = frozenset(("equal", "one_digit", "swapped", "transposed", "near"))


def _twin_near(
    out: list[tuple[str, str, float]], pool_size: int, field_: str
) -> list[tuple[str, str, float]]:
    """A pupil with the account's surname and date of birth (or slips of them) whose forename
    is a slip or an initial of its, or its very forename with other middle names: those fields
    weighed together (match_model.twin_near_bits) when that is less than their sum, the
    difference given to `field_` (the one that says twin)."""
    joint = model.twin_near_bits(pool_size)
    fields = _TWIN_FIELDS | {field_}
    summed = sum(bits for field, _, bits in out if field in fields)
    return [
        (field, "twin_near", bits + min(0.0, joint - summed)) if field == field_ else entry
        for entry in out
        for field, _, bits in (entry,)
    ]


def record_weights(
    record: Person, tf: Callable[[str, str], float | None]
) -> tuple[float, float, float, float]:
    """The weights of agreeing exactly on the record's forename and surname (by how common each
    is), the adjustment when both agree: forenames and surnames are not independent
    (Muhammad Khan, Olivia Smith), so the two count for no more than the whole name's rarity;
    and the weight of agreeing on its date of birth (less for a placeholder date, DOB_CROWD)."""
    fore_tf, sur_tf = tf("forename", record.fkey), tf("surname", record.skey)
    wf = model.weight("forename", "equal", fore_tf)
    ws = model.weight("surname", "equal", sur_tf)
    adjust = 0.0
    whole = tf("name", f"{record.fkey} {record.skey}")
    if whole and fore_tf and sur_tf:
        both = max(fore_tf, model.TF_FLOOR) * max(sur_tf, model.TF_FLOOR)
        if whole > both:
            # the exact forename still counts for more than a known-as form would
            floor = WEIGHTS["forename", "known_as"] - wf + 0.5
            adjust = max(math.log2(both / whole), min(floor, 0.0))
    crowd = tf("dob", record.dob) if record.dob else None
    wd = WEIGHTS["dob", "equal"] if crowd is None else model.weight("dob", "equal", crowd)
    return wf, ws, adjust, wd


def swapped_names(record: Person) -> Person:
    """The record with forename and surname exchanged (names keyed in the wrong order)."""
    return Person(
        record.skey,
        record.sparts,
        "",
        record.mkeys,
        record.fkey,
        record.fparts,
        record.dob,
        record.upn,
        record.gender,
        record.year,
    )


# Weighed with the record's names the wrong way round, whose name each says.
_SWAPPED_SIDE = {
    "forename": ", against the record's surname",
    "surname": ", against the record's forename",
}


def reasons_of(evidence: Evidence, swapped: bool = False) -> list[str]:
    """The evidence in words, strongest first (`swapped`: weighed with the record's forename
    and surname exchanged, each name's line says which of the record's it was)."""
    ranked = sorted(evidence, key=lambda e: -abs(e[2]))
    side = _SWAPPED_SIDE if swapped else {}
    return [
        f"{model.LEVEL_TEXT[(field, level)]}{side.get(field, '')} ({bits:+.1f})"
        for field, level, bits in ranked
    ]


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
