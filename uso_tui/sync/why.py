""" "Why has this account not been created?": a person found by name, date of birth, UPN or MIS
id in the latest processed file of every school (each report), with what happened to the
record, why, and what an operator can do about it (DESIGN section 5, `why`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from uso_tui.domain.models import MatchCase
from uso_tui.store.api import Store, UnknownSchool

WHY_LIMIT = 200
# A processed file's outcome -> the `why --json` outcome.
OUTCOMES = {
    "created": "created",
    "auto_linked": "linked",
    "restored": "linked",
    "unchanged": "unchanged",
    "updated": "updated",
    "needs_matching": "needs_matching",
    "future": "future",
    "invalid": "invalid",
    "excluded": "excluded",
    "leaver": "unallocated",
    "held": "held",
}
_ENTRY = re.compile(r"\(entry (\d+)\)")
_CASE = re.compile(r"waiting in case (\S+)")


@dataclass(slots=True)
class WhyHit:
    school: str
    report: str
    mis_id: str
    forename: str
    surname: str
    dob: str | None
    outcome: str
    reason: str
    case_id: str | None
    username: str | None
    run_id: str
    exclusion_id: int | None = None
    starts_on: str | None = None
    account_on: str | None = None  # a future starter's account is made on this day
    act: str = ""  # what an operator can do, and where

    def public(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "report": self.report,
            "mis_id": self.mis_id,
            "forename": self.forename,
            "surname": self.surname,
            "dob": self.dob,
            "outcome": self.outcome,
            "reason": self.reason,
            "case_id": self.case_id,
            "username": self.username,
            "run_id": self.run_id,
            "exclusion_id": self.exclusion_id,
            "starts_on": self.starts_on,
            "account_on": self.account_on,
            "act": self.act,
        }

    @property
    def summary(self) -> str:
        """One line: the outcome in words, as an operator reads it."""
        o = self.outcome
        if o == "needs_matching":
            return f"waiting in the matching queue as case {self.case_id or '?'}"
        if o == "future":
            tail = f" (account made on {self.account_on})" if self.account_on else ""
            return f"future starter from {self.starts_on or '?'}{tail}"
        if o == "invalid":
            return f"rejected: {self.reason}"
        if o == "excluded":
            return (
                f"excluded by entry {self.exclusion_id if self.exclusion_id is not None else '?'}"
            )
        if o in ("created", "linked", "unchanged", "updated"):
            return f"{o}: {self.username or '?'}"
        if o == "unallocated":
            return f"a leaver: {self.reason}"
        return f"{o}: {self.reason}"


def account_day(starts_on: str, days_before: int) -> str:
    """The day a future starter's account is made under "create N days before"."""
    return (date.fromisoformat(starts_on) - timedelta(days=max(0, days_before))).isoformat()


def _act(h: WhyHit) -> str:
    o = h.outcome
    if o == "needs_matching":
        return f"decide case {h.case_id or '?'}: Matching queue of {h.school} (m), or `uso-tui matches {h.school}`"
    if o == "future":
        return "nothing to do: made by the school's run that day; User Request Single (a) to make it sooner"
    if o == "invalid":
        return "the school corrects the record in its MIS; the next run takes it"
    if o == "excluded":
        return f"remove exclusion {h.exclusion_id} of {h.school} (Bulk results, exclusions) if the person should have an account"
    if o == "held":
        return f"confirm run {h.run_id} (Run history) once the export is right"
    if o == "unallocated":
        return "the MIS has a leaving date: restore from Bulk results (unallocated) if wrong"
    if h.username:
        return f"open {h.username} in Users (enter)"
    return ""


def _case_for(cases: list[MatchCase], report: str, mis_id: str) -> MatchCase | None:
    mine = [c for c in cases if c.report == report and c.record.get("mis_id") == mis_id]
    mine.sort(key=lambda c: (c.status == "open", c.opened_at))
    return mine[-1] if mine else None


def why(store: Store, text: str, *, limit: int | None = WHY_LIMIT) -> list[WhyHit]:
    """Every record of the latest processed files that `text` finds, with its outcome."""
    found = store.why_search(text, limit=limit)
    settings: dict[str, int] = {}
    cases: dict[str, list[MatchCase]] = {}
    out = []
    for d in found:
        dfe = d["school"]
        outcome = OUTCOMES.get(d.get("outcome") or "", d.get("outcome") or "")
        reason = d.get("reason") or ""
        h = WhyHit(
            school=dfe,
            report=d.get("report") or "",
            mis_id=d.get("mis_id") or "",
            forename=d.get("forename") or "",
            surname=d.get("surname") or "",
            dob=d.get("dob"),
            outcome=outcome,
            reason=reason,
            case_id=None,
            username=d.get("username"),
            run_id=d.get("run_id") or "",
        )
        if outcome == "needs_matching":
            if dfe not in cases:
                cases[dfe] = store.cases(dfe, None)
            case = _case_for(cases[dfe], h.report, h.mis_id)
            if case is not None:
                h.case_id = case.case_id
                if case.status != "open":
                    h.reason = f"{reason}; case decided since ({case.decision})"
            else:
                m = _CASE.search(reason)
                h.case_id = m.group(1) if m else None
        elif outcome == "excluded":
            m = _ENTRY.search(reason)
            h.exclusion_id = int(m.group(1)) if m else None
        elif outcome == "future":
            h.starts_on = d.get("enrolment_date")
            if h.starts_on:
                if dfe not in settings:
                    try:
                        settings[dfe] = store.school(dfe).create_before_start_days
                    except UnknownSchool:
                        settings[dfe] = 0
                h.account_on = account_day(h.starts_on, settings[dfe])
        h.act = _act(h)
        out.append(h)
    return out
