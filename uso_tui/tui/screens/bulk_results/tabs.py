"""The seven tabs of Bulk results: their names, titles and hints, what one load reads, and the
rows each tab shows (built in the load worker: thousands of records cost the event loop nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from uso_tui.domain.models import Account, Exclusion, MatchCase, ProcessedFile, Run
from uso_tui.tui.format import full_name, when, words
from uso_tui.tui.screens.listing import Row, cells, haystack

OUTCOME_STYLE = {
    "invalid": "bold red",
    "needs_matching": "bold yellow",
    "future": "cyan",
    "excluded": "magenta",
    "leaver": "yellow",
    "created": "green",
    "auto_linked": "green",
    "restored": "green",
}


def record_name(rec: dict) -> str:
    return full_name(rec.get("forename") or "", rec.get("surname") or "", rec.get("preferred_name"))


TABS = ["file", "staff", "pupils", "unallocated", "exclusions", "future", "rejected"]
LABELS = {  # (narrow, wide): seven tabs fit 80 columns only without their key digits
    "file": ("File", "1 Last file"),
    "staff": ("Staff?", "2 Staff unmatched"),
    "pupils": ("Pupils?", "3 Pupils unmatched"),
    "unallocated": ("Unalloc", "4 Unallocated"),
    "exclusions": ("Excl", "5 Exclusions"),
    "future": ("Future", "6 Future"),
    "rejected": ("Rejected", "7 Rejected"),
}
TITLES = {
    "file": "Last processed file",
    "staff": "Staff not matched",
    "pupils": "Pupils not matched",
    "unallocated": "Unallocated accounts",
    "exclusions": "Exclusion list",
    "future": "Future starters",
    "rejected": "Rejected records",
}
HINTS = {  # one line at 80 columns
    "file": "Outcome and reason of each record; enter: all fields; p: another run's file.",
    "staff": "Staff records waiting for a matching decision: no account yet (m: queue).",
    "pupils": "Pupil records waiting for a matching decision: no account yet (m: queue).",
    "unallocated": "Unallocated by runs or operators: space marks, r restores (as non-MIS).",
    "exclusions": "MIS names never created nor queued for matching: a adds, d removes.",
    "future": "Future starters of the shown file: no account until the start date.",
    "rejected": "Records rejected for missing or bad data: fix them in the MIS. One naming "
    "another person than its account: enter opens the account to answer.",
}


@dataclass
class Loaded:
    """Everything the tabs show, read in one worker."""

    runs: list[Run] = field(default_factory=list)
    run: Run | None = None
    file: ProcessedFile | None = None
    cases: list[MatchCase] = field(default_factory=list)
    unallocated: list[Account] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)


def tab_rows(loaded: Loaded) -> dict[str, list[Row]]:
    """Built in the worker: thousands of records cost the event loop nothing."""
    rows: dict[str, list[Row]] = {t: [] for t in TABS}
    records = loaded.file.records if loaded.file else []
    for position, record in enumerate(records):
        rec = record.get("record") or {}
        outcome = record.get("outcome") or ""
        base = (
            rec.get("mis_id") or "-",
            record_name(rec),
            rec.get("dob") or rec.get("dob_raw") or "-",
            rec.get("report") or "",
        )
        hay = haystack(
            rec.get("mis_id"),
            rec.get("forename"),
            rec.get("surname"),
            rec.get("preferred_name"),
            rec.get("dob"),
            outcome,
            words(outcome),
            record.get("reason"),
            record.get("username"),
        )
        key = f"{position}"
        rows["file"].append(
            Row(
                key,
                cells(
                    *base,
                    Text(words(outcome), style=OUTCOME_STYLE.get(outcome, ""), end=""),
                    record.get("reason") or "",
                    record.get("username") or "",
                ),
                hay,
                record,
            )
        )
        if outcome == "future":
            rows["future"].append(
                Row(
                    key,
                    cells(*base, rec.get("enrolment_date") or "", record.get("reason") or ""),
                    hay,
                    record,
                )
            )
        elif outcome == "invalid":
            rows["rejected"].append(Row(key, cells(*base, record.get("reason") or ""), hay, record))
    for case in loaded.cases:
        rec = case.record
        best = case.candidates[0] if case.candidates else None
        best_text = (
            f"{best['score']}% {best['username']} ({full_name(best.get('forename', ''), best.get('surname', ''))})"
            if best
            else "none"
        )
        row = Row(
            case.case_id,
            cells(
                case.case_id,
                rec.get("mis_id") or "-",
                record_name(rec),
                rec.get("dob") or "-",
                best_text,
                when(case.opened_at),
            ),
            haystack(
                case.case_id,
                rec.get("mis_id"),
                rec.get("forename"),
                rec.get("surname"),
                rec.get("dob"),
                best_text,
            ),
            case,
        )
        rows["staff" if case.role == "staff" else "pupils"].append(row)
    for account in sorted(
        loaded.unallocated,
        key=lambda a: (a.unallocated_at or "", a.username),
        reverse=True,
    ):
        rows["unallocated"].append(
            Row(
                account.username,
                cells(
                    account.username,
                    full_name(account.forename, account.surname, account.preferred_name),
                    account.dob or "-",
                    account.role,
                    when(account.unallocated_at),
                    account.unallocated_by_run or "operator",
                ),
                haystack(
                    account.username, account.forename, account.surname, account.dob, account.role
                ),
                account,
            )
        )
    for exclusion in loaded.exclusions:
        rows["exclusions"].append(
            Row(
                str(exclusion.id),
                cells(
                    str(exclusion.id),
                    exclusion.forename,
                    exclusion.surname,
                    exclusion.dob or "any",
                    when(exclusion.added_at),
                    exclusion.added_by,
                ),
                haystack(exclusion.forename, exclusion.surname, exclusion.dob, exclusion.added_by),
                exclusion,
            )
        )
    return rows
