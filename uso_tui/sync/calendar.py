"""What is coming (DESIGN section 5, `calendar`): future starters, with the day their account
will be made under their school's "create N days before" setting, and known leavers, with their
leaving dates, from the latest processed file of each school, by date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from uso_tui.domain.schools import ROLE_OF_REPORT
from uso_tui.store.api import Store
from uso_tui.sync.plan_types import AUTO_LINKED, CREATED, RESTORED, UNCHANGED, UPDATED
from uso_tui.sync.why import ExclusionsNow, account_day, leaves_first

DEFAULT_DAYS = 60
# A record's outcomes after which its account is active and holds it (plan_types)
_ACTIVE_AFTER = frozenset((UNCHANGED, UPDATED, RESTORED, AUTO_LINKED, CREATED))


@dataclass(slots=True)
class Upcoming:
    date: str  # a starter's account day, a leaver's leaving date
    kind: str  # starter | leaver
    school: str
    role: str
    mis_id: str
    forename: str
    surname: str
    username: str | None
    starts_on: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "kind": self.kind,
            "school": self.school,
            "role": self.role,
            "mis_id": self.mis_id,
            "forename": self.forename,
            "surname": self.surname,
            "username": self.username,
            "starts_on": self.starts_on,
        }


# What a calendar across schools says of a school whose data file is corrupt (store.left_out).
UNREAD = "its starters are listed without a look at its exclusion list"


def calendar(
    store: Store,
    dfe: str | None,
    *,
    today: date,
    days: int = DEFAULT_DAYS,
    unreadable: set[str] | None = None,
) -> list[Upcoming]:
    """Starters and leavers from `today` to `days` ahead, by date (then school and surname). A
    starter whose account day has passed already is shown on `today` (its next run makes it),
    and so is a leaver whose leaving date has (its next run unallocates its account). With
    `unreadable`, a school whose data file is corrupt is added to it and its starters shown
    without looking at its exclusion list (CorruptFile without it)."""
    first, last = today.isoformat(), (today + timedelta(days=max(0, days))).isoformat()
    before = {s.dfe: s.create_before_start_days for s in store.list_schools()}
    # an entry added since the run: no account is made
    exclusions = ExclusionsNow(store, unreadable)
    out = []
    for record in store.why_records(dfe, dated=True):
        role = ROLE_OF_REPORT.get(record.get("report") or "", "")
        common = {
            "school": record["school"],
            "role": role,
            "mis_id": record.get("mis_id") or "",
            "forename": record.get("forename") or "",
            "surname": record.get("surname") or "",
            "username": record.get("username"),
        }
        starts = record.get("enrolment_date")
        if record.get("outcome") == "future" and starts:
            day = account_day(starts, before.get(record["school"], 0))
            leaves = record.get("leaving_date")
            if leaves_first(leaves, day, first):  # an offer withdrawn: no account is made
                continue
            when = max(day, first)
            # (a leaver enrolled again: its account is restored that day, an entry or not)
            if when <= last and (
                common["username"]
                or exclusions.entry(
                    record["school"],
                    record.get("report") or "",
                    common["mis_id"],
                    common["forename"],
                    common["surname"],
                    record.get("dob"),
                )
                is None
            ):
                out.append(Upcoming(when, "starter", starts_on=starts, **common))
            continue
        leaves = record.get("leaving_date")
        if not leaves or leaves > last or record.get("outcome") == "leaver":
            continue
        if leaves >= first:
            out.append(Upcoming(leaves, "leaver", **common))
        elif record.get("outcome") in _ACTIVE_AFTER:
            # a leaving date passed with no run since, the account the run left active still
            # so: on `today`, as the run that unallocates it is still to come (not a record
            # that was invalid, excluded, held whole or waiting: the next run makes no change)
            out.append(Upcoming(first, "leaver", **common))
    out = _still_theirs(store, out, unreadable)
    out.sort(key=lambda u: (u.date, u.school, u.kind, u.surname.casefold(), u.mis_id))
    return out


def _still_theirs(
    store: Store, upcoming: list[Upcoming], unreadable: set[str] | None
) -> list[Upcoming]:
    """Without the leavers whose account the run will not unallocate: unallocated since, or
    linked since to a record at another school (a mover matched there) or to another record.
    An account whose school's data file is corrupt is listed as the run left it (its school
    added to `unreadable`; CorruptFile without it)."""
    leaving = {u.username for u in upcoming if u.kind == "leaver" and u.username}
    if not leaving:
        return upcoming
    now = store.find_accounts(leaving, unreadable)
    report_of = {role: report for report, role in ROLE_OF_REPORT.items()}

    def theirs(u: Upcoming) -> bool:
        acc = now.get(u.username or "")
        if u.kind != "leaver" or acc is None:
            return True  # (an account the store cannot read is listed as the run left it)
        link = (acc.link_school, acc.link_report, acc.mis_id)
        return acc.status == "active" and link == (u.school, report_of.get(u.role), u.mis_id)

    return [u for u in upcoming if theirs(u)]
