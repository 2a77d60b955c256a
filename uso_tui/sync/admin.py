"""Operator changes that are not runs: school settings, User Request Single, the exclusion list.

Each operation validates everything first (InvalidInput with a one-line message, nothing written),
then commits in one transaction with its audit event. The command line and the console both use them.
The client secret is stored through the store's secret API only and never enters an audit event.
"""

from __future__ import annotations

import dataclasses
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from uso_tui.domain.dates import from_uk
from uso_tui.domain.errors import InvalidInput, InvalidName, NeedsConfirmation
from uso_tui.domain.models import Account, AuditEvent, Exclusion, MisRecord, School
from uso_tui.domain.names import normalise, username_stem
from uso_tui.domain.schools import (
    MIN_SECRET,
    ROLE_OF_REPORT,
    check_dfe,
    check_mis,
    check_mis_url,
    check_reports,
    check_time,
    kept_url,
    la_of,
    mis_origin,
    secret_goes_elsewhere,
)
from uso_tui.store.api import AccountHit, DuplicateSchool, Store
from uso_tui.sync.access import require
from uso_tui.sync.apply import account_diff, event, stamp
from uso_tui.sync.checks import exclusion_hits
from uso_tui.sync.plan import excluded, unallocated
from uso_tui.sync.schedule import last_ran

ROLES = ("staff", "pupil")
SCHOOL_FIELDS = (
    "name",
    "mis",
    "url",
    "client_id",
    "reports",
    "daily_at",
    "hold_percent",
    "hold_min",
    "create_before_start_days",
    "paused",
)
# Settings shown in audit events and `school show`; the secret is never among them.
SETTINGS_SHOWN = ("dfe",) + SCHOOL_FIELDS
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_TEXT = 200


def _stamp(now: datetime) -> str:
    return now.replace(microsecond=0).isoformat(timespec="seconds")


def _text(value: Any, what: str, *, max_len: int = MAX_TEXT) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        raise InvalidInput(f"{what} is empty")
    if any(not c.isprintable() for c in text):
        raise InvalidInput(f"{what} contains control characters")
    if len(text) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    return text


def check_client_id(value: Any) -> str:
    text = _text(value, "Client ID")
    if any(c.isspace() for c in text):
        raise InvalidInput("Client ID contains spaces")
    return text


def check_secret(secret: str | None) -> str:
    """The message never repeats the secret, whatever is wrong with it."""
    if secret is None or not secret.strip():
        raise InvalidInput("client secret is empty")
    secret = secret.strip()
    if any(not c.isprintable() for c in secret):
        raise InvalidInput("client secret contains control characters")
    if any(c.isspace() for c in secret):
        # IRIS issues secrets without spaces: words in the field are a name typed there (the
        # school's, as focus stays on the secret after a save), not a secret
        raise InvalidInput(
            "client secret contains spaces: IRIS issues secrets without them (was something "
            "else typed or pasted with it?)"
        )
    if not secret.isascii():
        # IRIS issues secrets of letters, digits and punctuation: anything else was mistyped or
        # pasted from a document that changed a character (a curly quote, a long dash).
        raise InvalidInput(
            "client secret contains characters other than ASCII: check it was copied as issued"
        )
    if len(secret) > 4096:
        raise InvalidInput("client secret is longer than 4096 characters")
    if len(secret) < MIN_SECRET:  # (cut, or a word typed: a "school" made each "school" ***)
        raise InvalidInput(
            f"client secret is shorter than {MIN_SECRET} characters: check it was copied whole"
        )
    return secret


def check_dob(value: Any, today: date, what: str = "date of birth") -> str:
    """The date as YYYY-MM-DD; typed so or as DD/MM/YYYY (day first, as in the UK)."""
    typed = str(value or "").strip()
    text = from_uk(typed) or typed
    if not _DATE_RE.match(text):
        raise InvalidInput(f"bad {what} {typed!r}: expected YYYY-MM-DD or DD/MM/YYYY")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"bad {what} {typed!r}: no such date") from None
    if day > today:
        raise InvalidInput(f"bad {what} {typed}: it is in the future")
    if day.year < 1900:
        raise InvalidInput(f"bad {what} {typed}: before 1900")
    return text


def check_role(role: Any) -> str:
    normalised = str(role or "").strip().lower()
    if normalised == "student":
        normalised = "pupil"
    if normalised not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: expected staff or pupil")
    return normalised


def _check_person_name(value: Any, what: str) -> str:
    text = _text(value, what)
    if not normalise(text):
        raise InvalidName(f"{what} {text!r} contains no letters")
    return text


# Besides letters (of any script, with their accents): what a person's name holds.
NAME_MARKS = frozenset(" -'\u2019\u02bc.\u2010")


def check_new_name(value: Any, what: str) -> str:
    """A name typed for a new account: letters, spaces, hyphens, apostrophes and full stops only
    (`[red]Zoe[/red]` or `Amy2` is a slip, which would make the account's username; a name the
    MIS sends is taken as it is)."""
    text = _check_person_name(value, what)
    bad = sorted({c for c in text if not (c.isalpha() or c in NAME_MARKS or _is_mark(c))})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise InvalidName(
            f"{what} {text!r} holds {shown}: a name has letters, spaces, hyphens, apostrophes "
            "and full stops only"
        )
    return text


def check_new_names(forename: Any, surname: Any) -> tuple[str, str]:
    """A new account's forename and surname, checked as creating it checks them (InvalidName
    now, for a name that makes no username, rather than inside the transaction)."""
    forename = check_new_name(forename, "forename")
    surname = check_new_name(surname, "surname")
    username_stem(forename, surname)
    return forename, surname


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")  # an accent typed as its own character


def _shown(bound: float) -> str:
    """1,000,000 rather than 1e+06."""
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:g}"


# A number as typed: ASCII digits, one point at most (int() and float() also take 1_0, ٣ and
# "inf", which nobody types for a threshold)
_TYPED_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*")


def _number(value: Any, what: str, kind: type, lo: float, hi: float) -> int | float:
    if isinstance(value, str) and not value.strip():
        # (the form shows the default greyed in an empty field: "bad ... '': expected a
        # number" beside a grey 0 read as a 0 refused)
        raise InvalidInput(f"{what} is empty: enter a number from {_shown(lo)} to {_shown(hi)}")
    if isinstance(value, str) and not _TYPED_NUMBER.fullmatch(value):
        raise InvalidInput(f"bad {what} {value!r}: expected a number")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        whole = kind is int and isinstance(value, str) and _TYPED_NUMBER.fullmatch(value)
        expected = "a whole number" if whole else "a number"  # (1.5 is a number)
        raise InvalidInput(f"bad {what} {value!r}: expected {expected}") from None
    if isinstance(value, float) and kind is int and value != int(value):
        raise InvalidInput(f"bad {what} {value!r}: expected a whole number")
    if number != number or not lo <= number <= hi:  # number != number: NaN
        raise InvalidInput(f"bad {what} {value!r}: expected {_shown(lo)} to {_shown(hi)}")
    return number


def check_school_change(field: str, value: Any) -> Any:
    """Validate one setting on its own (the URL is checked with the MIS by the caller)."""
    if field == "name":
        return _text(value, "school name")
    if field == "mis":
        return check_mis(str(value or ""))
    if field == "url":
        return str(value or "").strip()
    if field == "client_id":
        return check_client_id(value)
    if field == "reports":
        return list(check_reports(value))
    if field == "daily_at":
        return check_time(str(value or ""))
    if field == "hold_percent":
        return float(_number(value, "hold percent", float, 0, 100))
    if field == "hold_min":
        return int(_number(value, "hold minimum", int, 0, 1_000_000))
    if field == "create_before_start_days":
        return int(_number(value, "create-before-start days", int, 0, 366))
    if field == "paused":
        return check_yes_no(value, "paused")
    raise InvalidInput(f"unknown school setting {field!r}")


def moved_mis_note(school: School, changed: Iterable[str]) -> str:
    """What to say when the settings that name the school's MIS (its URL, Client ID, MIS) have
    changed while accounts are linked to it ("" otherwise): each is linked by its record's MIS
    id in that MIS."""
    if not {"url", "client_id", "mis"} & set(changed) or not school.active_accounts:
        return ""
    return (
        f"{school.dfe} has {school.active_accounts} active "
        f"account{'s' if school.active_accounts != 1 else ''}, linked by their records' "
        "MIS ids: test the new settings before the next run (records its export no longer "
        "sends are leavers: their accounts unallocated, or held above the safety hold)"
    )


def check_yes_no(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value or "").strip().lower()
    if word in ("yes", "y", "true", "on"):
        return True
    if word in ("no", "n", "false", "off"):
        return False
    raise InvalidInput(f"{what} must be yes or no, not {str(value)[:20]!r}")


def school_settings(school: School) -> dict[str, Any]:
    """The operator-set fields of a school (no secret, no run summary)."""
    data = school.to_dict()
    return {k: data[k] for k in SETTINGS_SHOWN}


def new_school(
    *,
    dfe: str,
    name: str,
    mis: str,
    url: str,
    client_id: str,
    reports: str | list[str] = "staff,students",
    daily_at: str = "06:00",
    allowed_hosts: frozenset[str] = frozenset(),
    now: datetime,
) -> School:
    """A validated School, written nowhere. Raises InvalidInput saying what is wrong."""
    dfe = check_dfe(dfe)
    name = check_school_change("name", name)
    mis = check_mis(mis)
    url = check_mis_url(url, mis, allowed_hosts)
    return School(
        dfe=dfe,
        name=name,
        mis=mis,
        url=url,
        client_id=check_client_id(client_id),
        reports=list(check_reports(reports)),
        daily_at=check_time(daily_at),
        created_at=_stamp(now),
    )


def add_school(
    store: Store,
    *,
    dfe: str,
    name: str,
    mis: str,
    url: str,
    client_id: str,
    secret: str,
    reports: str | list[str] = "staff,students",
    daily_at: str = "06:00",
    operator: str,
    now: datetime,
) -> School:
    require(store, operator, "school_add")
    school = new_school(
        dfe=dfe,
        name=name,
        mis=mis,
        url=url,
        client_id=client_id,
        reports=reports,
        daily_at=daily_at,
        allowed_hosts=store.allowed_mis_hosts(),
        now=now,
    )
    secret = check_secret(secret)
    with store.transaction(operator) as tx:
        if _school_or_none(tx, school.dfe) is not None:
            raise DuplicateSchool(f"school {school.dfe} already exists")
        tx.add_school(school, secret)
        tx.audit(
            AuditEvent(
                at=_stamp(now),
                operator=operator,
                school=school.dfe,
                action="school_add",
                subject=school.dfe,
                before=None,
                after={**school_settings(school), "client_secret": "set"},
            )
        )
    return school


def _school_or_none(tx: Any, dfe: str) -> School | None:
    from uso_tui.store.api import UnknownSchool  # noqa: PLC0415

    try:
        return tx.school(dfe)
    except UnknownSchool:
        return None


class ChangedSince(InvalidInput):
    """Settings to change that someone else changed since the caller read them: {field:
    (as read, as stored now)}. Nothing is saved."""

    def __init__(self, changed: dict[str, tuple[Any, Any]]) -> None:
        self.changed = changed
        said = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items())
        super().__init__(f"changed since it was read: {said}")


def update_school(
    store: Store,
    dfe: str,
    *,
    operator: str,
    now: datetime,
    secret: str | None = None,
    read: School | None = None,
    **changes: Any,
) -> School:
    """Change settings of an existing school. Changing the MIS checks the URL against the new MIS
    (give the new URL in the same call). Only the fields that change are audited. `read`: the
    school as the caller showed it (a form): a setting to change that is stored otherwise now
    (another operator saved it meanwhile) raises ChangedSince, rather than being overwritten
    by someone who never saw it."""
    require(store, operator, "school_update")
    dfe = check_dfe(dfe)
    unknown = sorted(set(changes) - set(SCHOOL_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown school setting {unknown[0]!r}")
    clean = {k: check_school_change(k, v) for k, v in changes.items() if v is not None}
    if secret is not None:
        secret = check_secret(secret)
    if not clean and secret is None:
        raise InvalidInput("nothing to change: give at least one setting")
    allowed = store.allowed_mis_hosts()
    with store.transaction(operator) as tx:
        school = tx.school(dfe)
        if read is not None:
            moved = {  # (saved meanwhile as asked here: no conflict)
                k: (getattr(read, k), getattr(school, k))
                for k, v in clean.items()
                if getattr(read, k) != getattr(school, k) != v
            }
            if moved:
                raise ChangedSince(moved)
        mis = clean.get("mis", school.mis)
        if "url" in clean or "mis" in clean:
            typed = "url" in clean  # (else the stored one, checked again for another MIS)
            clean["url"] = check_mis_url(clean.get("url", school.url), mis, allowed, typed)
        if mis != school.mis and secret is None:
            # IRIS issues credentials per product: the old secret cannot work with the new MIS.
            raise InvalidInput("changing the MIS needs the new Client Secret")
        if secret is None and secret_goes_elsewhere(school.url, clean.get("url", school.url)):
            raise InvalidInput(
                f"moving the school to {mis_origin(clean['url'])} needs that server's Client "
                f"Secret: the one stored is sent only to {mis_origin(school.url)}"
            )
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key, value in clean.items():
            old = getattr(school, key)
            # (a URL stored before in another case, or with :443, is the same URL)
            if (kept_url(old) if key == "url" else old) != value:
                before[key], after[key] = old, value
                setattr(school, key, value)
        if secret is not None:
            # Only the fact of the change is recorded; the value stays in its own file.
            before["client_secret"] = "set" if store.has_secret(dfe) else "not set"
            after["client_secret"] = "replaced"
            tx.set_secret(dfe, secret)
        if not after:
            return school
        if "daily_at" in after:
            at = _stamp(now)
            # moved again the same day, with no run since the last move: the time it replaced
            # then is still the one a run earlier that day ran for (06:00 moved to 12:00, then
            # 12:30: its 06:05 run was still the day's run)
            # (as the schedule reads it: a run stamped by a clock that was ahead not believed)
            ran = last_ran(school, now) or ""
            moved = school.daily_at_since
            again = bool(moved and moved[:10] == at[:10] and ran < moved and school.daily_at_was)
            if not again:
                school.daily_at_was = str(before.get("daily_at") or "")
            school.daily_at_since = at
        tx.put_school(school)
        tx.audit(
            AuditEvent(
                at=_stamp(now),
                operator=operator,
                school=dfe,
                action="school_update",
                subject=dfe,
                before=before,
                after=after,
            )
        )
    return school


class _Details(NamedTuple):
    """A record's details as same_person reads an account's."""

    role: str | None
    dob: str | None
    surname: str | None
    forename: str | None
    preferred_name: str | None


def same_person(
    account: Account | AccountHit | _Details, role: str, forename: str, surname: str, dob: str
) -> bool:
    """add_account's duplicate rule: role, date of birth, surname, and the forename equal to the
    account's forename or preferred name (normalised)."""
    return (
        account.role == role
        and account.dob == dob
        and normalise(account.surname) == normalise(surname)
        and normalise(forename) in (normalise(account.forename), normalise(account.preferred_name))
    )


def on_exclusion_list(
    store: Store, dfe: str, forename: str, surname: str, dob: str
) -> Exclusion | None:
    """The school's exclusion entry a record of these details would be excluded by (DESIGN
    rule 4): an account asked for such a person never joins their record."""
    return excluded(_as_record("pupil", forename, surname, dob), store.exclusions(dfe))


def _as_record(role: str, forename: str, surname: str, dob: str) -> MisRecord:
    """A request's details as the record of the MIS it stands for (what the planner weighs)."""
    report = "staff" if role == "staff" else "students"
    return MisRecord(report=report, mis_id="", forename=forename, surname=surname, dob=dob)


def _probably_them(accounts: Iterable[str]) -> NeedsConfirmation:
    """The refusal of a request whose person probably has one of `accounts` (each described)."""
    said = (
        f"{', '.join(accounts)} is probably this person: if so, match their record to it when "
        "it arrives (or ask the school). Nothing made; --force makes a second account anyway"
    )
    return NeedsConfirmation(said, [said])


def _refuse_alike_made_since(
    tx: Any, dfe: str, role: str, forename: str, surname: str, dob: str, known: frozenset[str]
) -> None:
    """Under the lock: an account made in the local authority since the look (`known`: its
    usernames then) that the matcher takes for probably this person refuses the request as the
    look would have (a run of a sister school made the person, a date a slip apart, while the
    request was being asked: two accounts)."""
    from uso_tui.sync.match_model import REQUEST_GUARD  # noqa: PLC0415
    from uso_tui.sync.matching import CandidateIndex  # noqa: PLC0415

    made = [tx.find_account(u) for u in sorted(tx.la_usernames(la_of(dfe)) - known)]
    new = {a.username for a in made if a is not None and a.role == role and a.status == "active"}
    if not new:
        return
    # weighed as the look weighs, in the local authority's pool (alone, a namesake of another
    # surname born the same day scored 53%: the request was refused for a stranger)
    pool = [a for a in tx.la_accounts(la_of(dfe), role) if a.status == "active"]
    rec = _as_record(role, forename, surname, dob)
    alike = [
        c
        for c in CandidateIndex(pool).candidates(rec, dfe)
        if c.username in new and c.score >= REQUEST_GUARD
    ]
    if alike:
        raise _probably_them(
            f"{c.username} ({c.forename} {c.surname}, born {c.dob}, made at {c.school} "
            f"just now: {c.score}%)"
            for c in alike[:3]
        )


def _same_here(hit: AccountHit, dfe: str, role: str, forename: str, surname: str, dob: str) -> bool:
    return hit.school == dfe and same_person(hit, role, forename, surname, dob)


def same_person_elsewhere(
    store: Store, dfe: str, role: str, forename: str, surname: str, dob: str
) -> list[AccountHit]:
    """The accounts at other schools (active or unallocated) that add_account's duplicate rule
    takes for this person: a mover, whose account is matched rather than made again. `dob` as
    check_dob gives it."""
    return _same_person_in(store, dfe, role, forename, surname, dob)


def _same_person_in(
    reader: Any,
    dfe: str,
    role: str,
    forename: str,
    surname: str,
    dob: str,
    changed_after: float | None = None,
) -> list[AccountHit]:
    """same_person_elsewhere as `reader` (a store, or a transaction under the write lock) finds
    them; `changed_after`: only at the schools whose index was written since (find_people)."""
    key = (normalise(forename), normalise(surname), dob)
    return [
        hit
        for hit in reader.find_people(role, set(), {key}, changed_after=changed_after)
        if hit.school != dfe and same_person(hit, role, forename, surname, dob)
    ]


def other_role_hits(
    store: Store, role: str, forename: str, surname: str, dob: str
) -> list[AccountHit]:
    """The accounts anywhere (active or unallocated) of the other role with these names and date
    of birth: a request whose role was left as the form fills it in (a teacher asked for as a
    pupil), where the person's own account is that one. `dob` as check_dob gives it."""
    other = next(r for r in ROLES if r != role)
    key = (normalise(forename), normalise(surname), dob)
    return [
        hit
        for hit in store.find_people(other, set(), {key})
        if same_person(hit, other, forename, surname, dob)
    ]


def other_role_said(role: str, hits: list[AccountHit], change: str) -> str:
    """What a request is told of other_role_hits: `change`, how the role is changed (the
    command line's option, the console's field)."""
    named = ", ".join(
        f"{hit.username} ({hit.role}, "
        + (f"active at {hit.school})" if hit.status == "active" else f"unallocated, of {hit.home})")
        for hit in hits[:3]
    )
    other = hits[0].role
    return (
        f"{named} has the same names and date of birth as this {role}: if that is this person, "
        f"the role is {other} ({change})"
    )


def restorable_first(gone: list[AccountHit], dfe: str) -> AccountHit:
    """Of the person's restorable accounts, the one to speak of: this school's own first (a
    restore brings it back here), else the first."""
    return next((hit for hit in gone if hit.home == dfe), gone[0])


def restorable_hits(reader: Any, hits: list[AccountHit]) -> list[AccountHit]:
    """The unallocated accounts of `hits` that an operator may restore (not one whose creation
    was undone: nobody's account), as `reader` (a store, or a transaction) has them."""
    from uso_tui.sync.actions import restorable  # noqa: PLC0415

    return [
        hit
        for hit in hits
        if hit.status == "unallocated"
        and (acc := reader.find_account(hit.username)) is not None
        and restorable(acc)
    ]


def _second_account(
    dfe: str, found: list[AccountHit], gone: list[AccountHit]
) -> NeedsConfirmation | None:
    """Why add_account makes no account at `dfe` without force: the same person active at
    another school (a mover keeps their account), or their unallocated account (`gone`: restored
    if it was this school's, else matched to their record when it arrives); None if neither."""
    active = [hit for hit in found if hit.status == "active"]
    if active:
        named = ", ".join(f"{hit.username} (active at {hit.school})" for hit in active[:3])
        said = (
            f"{named} has the same names and date of birth: if that is this person, they keep "
            "that account when they move (their record's match case, or a run, brings it "
            "here). Nothing made; --force makes a second account anyway"
        )
        return NeedsConfirmation(said, [said])
    if gone:
        # its record arriving would join the new account by itself (an unallocated one does not
        # stop that): the person's own account left unused, a second one made
        first = restorable_first(gone, dfe)
        named = ", ".join(f"{hit.username} (unallocated, of {hit.home})" for hit in gone[:3])
        keep = (
            f"restore it (`uso-tui restore {first.username}`) and they keep one account"
            if first.home == dfe
            else f"their record's match case here offers {first.username} when it arrives, and "
            f"matching moves it here (a restore would put it back at {first.home})"
        )
        said = (
            f"{named} has the same names and date of birth: if that is this person, {keep}. "
            "Nothing made; --force makes a second account anyway"
        )
        return NeedsConfirmation(said, [said])
    return None


def alike_active(
    store: Store,
    dfe: str,
    role: str,
    forename: str,
    surname: str,
    dob: str,
    besides: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[AccountHit, int]]:
    """The active accounts of the school's local authority (the school's own too) that the
    matcher takes for probably this person (REQUEST_GUARD% or more), other than `besides`,
    each with its score, best first: a spelling of the name (Arav for Aarav), a known-as form, a
    date keyed with a slip. `dob` as check_dob gives it."""
    from uso_tui.sync.match_model import REQUEST_GUARD  # noqa: PLC0415
    from uso_tui.sync.matching import CandidateIndex  # noqa: PLC0415

    hits = [h for h in store.la_people(la_of(dfe), role) if h.status == "active"]
    if not hits:
        return []
    by_name = {h.username: h for h in hits}
    rec = _as_record(role, forename, surname, dob)
    return [
        (by_name[c.username], c.score)
        for c in CandidateIndex(hits).candidates(rec, dfe)
        if c.score >= REQUEST_GUARD and c.username not in besides and c.username in by_name
    ]


# The outcomes of a record of a school's latest export that leave it without an account.
NO_ACCOUNT_OUTCOMES = frozenset(("needs_matching", "future", "excluded", "invalid", "held"))


def same_person_in_export(
    store: Store, dfe: str, role: str, forename: str, surname: str, dob: str
) -> list[dict[str, Any]]:
    """The records of the school's latest export (why_records) that add_account's duplicate
    rule takes for this person and that have no account: waiting in the matching queue, a
    future starter, excluded, invalid or held. Requesting an account for them makes a second
    way to the same person (a case, the start date). `dob` as check_dob gives it."""
    return [
        r
        for r in store.why_records(dfe)
        if r.get("outcome") in NO_ACCOUNT_OUTCOMES
        and same_person(
            _Details(
                ROLE_OF_REPORT.get(r.get("report") or ""),
                r.get("dob"),
                r.get("surname"),
                r.get("forename"),
                r.get("preferred_name"),
            ),
            role,
            forename,
            surname,
            dob,
        )
    ]


def _refuse_made_here(accounts, dfe, role, forename, surname, dob) -> None:
    """The school has an account of this person already: a second (a twin request) would stop
    the automatic link, which needs exactly one."""
    for existing in accounts:
        if existing.school == dfe and same_person(existing, role, forename, surname, dob):
            raise InvalidInput(
                f"{existing.username} already exists at {dfe} for {role} "
                f"{existing.forename} {existing.surname} born {dob}"
            )


def add_account(
    store: Store,
    dfe: str,
    *,
    role: str,
    forename: str,
    surname: str,
    dob: str,
    operator: str,
    now: datetime,
    force: bool = False,
) -> Account:
    """User Request Single: an account made ahead of the MIS record, which links to it automatically
    when the record arrives with the same details (DESIGN section 3, rule 6). A person who seems
    to have an active account at another school (a mover, who keeps it), or an unallocated
    account to restore, is refused with NeedsConfirmation unless `force`."""
    require(store, operator, "account_add")
    dfe = check_dfe(dfe)
    role = check_role(role)
    forename, surname = check_new_names(forename, surname)
    dob = check_dob(dob, now.date())
    if not force:
        store.school(dfe)  # an unknown school is said as such first
        # the school's own account of the person, refused whatever --force says, is said
        # before what --force would pass (an excluded name's refusal offered --force, refused
        # then for this)
        _refuse_made_here(store.school_accounts(dfe), dfe, role, forename, surname, dob)
        entry = on_exclusion_list(store, dfe, forename, surname, dob)
        if entry is not None:
            said = (
                f"{forename} {surname} is on {dfe}'s exclusion list (entry {entry.id}): their MIS "
                "record is excluded and never joins this account. Nothing made; remove the "
                f"exclusion first (uso-tui exclusion remove {dfe} {entry.id}), or --force makes "
                "the account anyway"
            )
            raise NeedsConfirmation(said, [said])
        looked_at = time.monotonic()  # the look under the lock reads what changed since
        known = store.la_usernames(la_of(dfe))  # ... and the accounts made in the LA since
        found = same_person_elsewhere(store, dfe, role, forename, surname, dob)
        refused = _second_account(dfe, found, restorable_hits(store, found))
        if refused is not None:
            raise refused
        alike = alike_active(
            store, dfe, role, forename, surname, dob, {hit.username for hit in found}
        )
        # (the school's own exact duplicate is refused below, whatever --force says)
        alike = [
            (hit, score)
            for hit, score in alike
            if not _same_here(hit, dfe, role, forename, surname, dob)
        ]
        if alike:
            raise _probably_them(
                f"{hit.username} ({hit.forename} {hit.surname}, born {hit.dob}, active at "
                f"{hit.school}: {score}%)"
                for hit, score in alike[:3]
            )
        other = other_role_hits(store, role, forename, surname, dob)
        if other:
            said = other_role_said(role, other, f"--role {other[0].role}")
            said += f". Nothing made; --force makes the {role} account anyway"
            raise NeedsConfirmation(said, [said])
    at = _stamp(now)
    with store.transaction(operator) as tx:
        tx.school(dfe)
        _refuse_made_here(tx.school_accounts(dfe), dfe, role, forename, surname, dob)
        if not force:
            # asked again under the lock: the same request at another school (or a run there)
            # may have made the person an account since the look above
            found = _same_person_in(tx, dfe, role, forename, surname, dob, looked_at)
            refused = _second_account(dfe, found, restorable_hits(tx, found))
            if refused is not None:
                raise refused
            _refuse_alike_made_since(tx, dfe, role, forename, surname, dob, known)
        username = tx.new_username(forename, surname, la_of(dfe))
        account = Account(
            username=username,
            role=role,  # type: ignore[arg-type]
            forename=forename,
            surname=surname,
            dob=dob,
            school=dfe,
            status="active",
            source="manual",
            created_at=at,
            last_event="create",
            last_event_at=at,
            history=[{"at": at, "action": "create", "school": dfe, "run_id": None}],
        )
        tx.put_account(account)
        tx.audit(
            AuditEvent(
                at=at,
                operator=operator,
                school=dfe,
                action="create",
                subject=username,
                before=None,
                after={**account.public(), "request": "User Request Single"},
            )
        )
    return account


@dataclass(slots=True)
class ExclusionAdded(Exclusion):
    """The entry added, with the active accounts of the school it names (the person may already
    have one: an exclusion stops new accounts only) and those unallocated with it."""

    accounts: list[Account] = field(default_factory=list)
    unallocated: list[str] = field(default_factory=list)


def _unallocate_excluded(tx: Any, acc: Account, dfe: str, at: str, subject: str) -> None:
    """Unallocated and unlinked: a linked account would otherwise be restored by the next run
    seeing its record, which the exclusion now keeps out."""
    after = dataclasses.replace(
        unallocated(acc, dfe),
        mis_id=None,
        link_school=None,
        link_report=None,
        source="manual",
        unallocated_at=at,
    )
    stamp(after, "unallocate", at, dfe, None)
    tx.put_account(after)
    before_d, after_d = account_diff(acc, after)
    after_d = {**(after_d or {}), "reason": f"excluded ({subject})"}
    tx.audit(event(tx, at, dfe, "unallocate", acc.username, before_d, after_d))


def add_exclusion(
    store: Store,
    dfe: str,
    *,
    forename: str,
    surname: str,
    dob: str | None,
    operator: str,
    now: datetime,
    unallocate: bool = False,
    typed: bool = True,
) -> ExclusionAdded:
    """An MIS name that should not be in USO. Without a date of birth it excludes every record
    with those names at the school. Returns the entry with the school's active accounts it
    names; `unallocate` unallocates (and unlinks) them in the same transaction (for an entry
    already on the list, `unallocate` does only that). `typed`: names an operator typed, checked
    as a new account's (`[bold]x` would exclude "boldx"); else a record's, as the MIS sent them."""
    require(store, operator, "exclusion_add")
    dfe = check_dfe(dfe)
    check = check_new_name if typed else _check_person_name
    forename = check(forename, "forename")
    surname = check(surname, "surname")
    dob = check_dob(dob, now.date()) if dob not in (None, "") else None
    at = _stamp(now)
    with store.transaction(operator) as tx:
        tx.school(dfe)
        hits = exclusion_hits(tx.school_accounts(dfe), dfe, forename, surname, dob)
        same = [
            ex
            for ex in tx.exclusions(dfe)
            if normalise(ex.forename) == normalise(forename)
            and normalise(ex.surname) == normalise(surname)
            and ex.dob == dob
        ]
        if same and not (unallocate and hits):
            raise InvalidInput(
                f"{forename} {surname}{' ' + dob if dob else ''} is already on the "
                f"exclusion list of {dfe} (id {same[0].id})"
            )
        if same:
            exclusion = same[0]
        else:
            exclusion = tx.add_exclusion(dfe, forename, surname, dob, at)
            shown = exclusion.public()
            if hits:
                shown["accounts"] = [a.username for a in hits]
            tx.audit(
                AuditEvent(
                    at=at,
                    operator=operator,
                    school=dfe,
                    action="exclusion_add",
                    subject=f"{dfe}#{exclusion.id}",
                    before=None,
                    after=shown,
                )
            )
        subject = f"{dfe}#{exclusion.id}"
        if unallocate:
            for acc in hits:
                _unallocate_excluded(tx, acc, dfe, at, subject)
    return ExclusionAdded(
        **exclusion.to_dict(),
        accounts=hits,
        unallocated=[a.username for a in hits] if unallocate else [],
    )


def remove_exclusion(
    store: Store, dfe: str, exclusion_id: int | str, *, operator: str, now: datetime
) -> Exclusion:
    require(store, operator, "exclusion_remove")
    dfe = check_dfe(dfe)
    try:
        ex_id = int(str(exclusion_id).strip())
    except ValueError:
        raise InvalidInput(f"bad exclusion id {exclusion_id!r}: expected a number") from None
    with store.transaction(operator) as tx:
        tx.school(dfe)
        if not any(ex.id == ex_id for ex in tx.exclusions(dfe)):
            raise InvalidInput(f"no exclusion {ex_id} at {dfe}")
        removed = tx.remove_exclusion(dfe, ex_id)
        tx.audit(
            AuditEvent(
                at=_stamp(now),
                operator=operator,
                school=dfe,
                action="exclusion_remove",
                subject=f"{dfe}#{ex_id}",
                before=removed.public(),
                after=None,
            )
        )
    return removed
