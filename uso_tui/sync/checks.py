"""What the operator's actions check before they change anything (sync.actions): the reports a
school may run, which held accounts came back since their run, what differs between a record
and an account it would be matched to, and which accounts an exclusion names. Reads only."""

from __future__ import annotations

from collections.abc import Iterable

from uso_tui.domain.dates import from_uk
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account, MisRecord, Run, School
from uso_tui.domain.names import genders_apart, normalise, upn_key
from uso_tui.store.api import Store

LEAVER = "leaver"  # a processed file's outcome for a record that counts as absent
# Runs looked at for what came back since a held run (the store keeps the newest 30 processed
# files, so older runs have none to read).
RUNS_LOOKED_AT = 30


def check_reports(school: School, reports: Iterable[str] | None) -> list[str]:
    """The reports to run: the school's enabled ones, or those asked for, each of which must be
    enabled (a report nobody enabled would make accounts no daily run maintains)."""
    if reports is None:
        return list(school.reports)
    wanted = [r.strip().lower() for r in reports if r and r.strip()]
    if not wanted:
        raise InvalidInput("no report given")
    off = [r for r in wanted if r not in school.reports]
    if off:
        enabled = ", ".join(school.reports) or "none"
        raise InvalidInput(
            f"report {off[0]} is not enabled for {school.dfe} (enabled: {enabled}); "
            f"enable it first with `uso-tui school set {school.dfe} --reports ...`"
        )
    return list(dict.fromkeys(wanted))


def run_seq(run_id: str) -> int:
    """`204-3210-r42` -> 42 (-1 when malformed): runs of one school in the order they began."""
    tail = run_id.rsplit("-r", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _present(rows: Iterable[dict]) -> set[tuple[str, str]]:
    """(report, MIS id) of every record a processed file counts as present."""
    out = set()
    for row in rows:
        record = row.get("record") or {}
        if row.get("outcome") != LEAVER and record.get("mis_id"):
            out.add((record.get("report"), record["mis_id"]))
    return out


def seen_since(store: Store, run: Run) -> set[tuple[str, str]]:
    """(report, MIS id) of every record a later run of the school saw in its export."""
    seq = run_seq(run.run_id)
    out: set[tuple[str, str]] = set()
    for later in store.runs(run.school, limit=RUNS_LOOKED_AT):
        if later.dry_run or run_seq(later.run_id) <= seq:
            continue
        pf = store.processed_file(later.run_id)
        if pf is not None:
            out |= _present(pf.records)
    return out


def back_since(acc: Account | None, run: Run, seen: set[tuple[str, str]]) -> bool:
    """True when confirming `run` must leave this held account alone: it is gone, no longer
    active and linked at the run's school (restored, relinked, moved, unallocated), changed
    since the run began, or its record was seen again by a later run."""
    if acc is None or acc.status != "active" or acc.school != run.school:
        return True
    if acc.link_school != run.school or acc.mis_id is None:
        return True
    if (acc.last_event_at or "") > (run.started_at or ""):
        return True
    return (acc.link_report, acc.mis_id) in seen


def latest_export_ids(store: Store, dfe: str, report: str) -> set[str] | None:
    """MIS ids present in the school's latest processed export of `report` (None: none kept).
    Every run is looked at, not the newest few: a month of runs that kept no export (failed:
    a secret that expired) would leave "no export", and an account linked to a record of the
    last one taken would read as nobody's (the store keeps the newest processed files, of runs
    that took an export, so the latest one is still there)."""
    # the newest runs first: the archive is read only when none of them kept an export
    newest = store.runs(dfe, limit=RUNS_LOOKED_AT)
    found = _newest_export_ids(store, newest, report)
    if found is None and len(newest) >= RUNS_LOOKED_AT:
        found = _newest_export_ids(store, store.runs(dfe)[RUNS_LOOKED_AT:], report)
    return found


def on_roll_elsewhere(store: Store, dfe: str, accounts: Iterable[Account]) -> dict[str, str]:
    """Username -> the school of each active account linked to a record of another school than
    `dfe` that is still in that school's latest export: matching it to a record here moves it
    from a school where its person is still on roll (one person at two schools, or two people:
    cousins of one name and date of birth), and that school's next run then misses it."""
    exports: dict[tuple[str, str], set[str] | None] = {}
    out = {}
    for acc in accounts:
        if acc.status != "active" or not acc.mis_id or not acc.link_school:
            continue
        if acc.link_school == dfe or not acc.link_report:
            continue
        key = (acc.link_school, acc.link_report)
        if key not in exports:
            try:
                exports[key] = latest_export_ids(store, *key)
            # that school's files damaged (a field of a run or a processed file, not only a
            # file that is no JSON): nothing said of its accounts, the queue here still opens
            except Exception:  # noqa: BLE001
                exports[key] = None
        if acc.mis_id in (exports[key] or ()):
            out[acc.username] = acc.link_school
    return out


def _newest_export_ids(store: Store, runs: list[Run], report: str) -> set[str] | None:
    for run in runs:
        # (an undone run's export was undone with it: the one before is the school's)
        if run.dry_run or report not in run.reports or run.undone_by:
            continue
        ids = export_ids(store, run.run_id, report)
        if ids is not None:
            return ids
    return None


def export_ids(store: Store, run_id: str, report: str) -> set[str] | None:
    """MIS ids present in one run's processed export of `report` (None: it kept none)."""
    pf = store.processed_file(run_id)
    if pf is None:
        return None
    rows = [row for row in pf.records if (row.get("record") or {}).get("report") == report]
    return {mis_id for rep, mis_id in _present(rows) if rep == report} if rows else None


def _show(value: object) -> str:
    return str(value) if value not in (None, "") else "(none)"


def match_differences(rec: MisRecord, acc: Account, dfe: str) -> list[str]:
    """What matching would change or overrule, one line each: `forename: Sam -> Samuel`."""
    out = []
    for label, was, new in (
        ("forename", acc.forename, rec.forename),
        ("surname", acc.surname, rec.surname),
        ("preferred name", acc.preferred_name, rec.preferred_name),
        ("date of birth", acc.dob, rec.dob),
    ):
        if (was or "") != (new or ""):
            out.append(f"{label}: {_show(was)} -> {_show(new)}")
    upn = (acc.extra or {}).get("upn")
    if upn and rec.upn and upn != rec.upn:
        out.append(f"UPN: {upn} -> {rec.upn}")
    gender = (acc.extra or {}).get("gender")
    if genders_apart(gender, rec.gender):
        out.append(f"gender: {gender} -> {rec.gender}")
    if acc.status != "active":
        where = f", was at {acc.previous_school}" if acc.previous_school else ""
        out.append(f"status: {acc.status}{where} -> active at {dfe}")
    elif acc.school != dfe:
        out.append(f"school: {_show(acc.school)} -> {dfe} (a move)")
    if acc.mis_id is not None:
        out.append(
            f"its current link: MIS id {acc.mis_id} ({acc.link_report}) at {acc.link_school}"
            f" -> MIS id {rec.mis_id} ({rec.report}) at {dfe}"
        )
    return out


def exclusion_hits(
    accounts: Iterable[Account], dfe: str, forename: str, surname: str, dob: str | None
) -> list[Account]:
    """Active accounts at the school a record with these names (and date of birth, when given)
    would be excluded as: the person excluding them may already have an account. Their own
    forename, as the planner excludes records (DESIGN rule 4): a preferred name may be a
    twin's too."""
    fname, sname = normalise(forename), normalise(surname)
    dob = (from_uk(dob.strip()) or dob.strip()) if dob else dob  # as check_dob will store it
    return [
        a
        for a in accounts
        if a.status == "active"
        and a.school == dfe
        and normalise(a.surname) == sname
        and fname
        and normalise(a.forename) == fname
        and (not dob or a.dob == dob)
    ]


def ids_apart(record: MisRecord, account: Account) -> list[str]:
    """What says the record and the account are two people whatever their names: "UPN" when
    each has a permanent UPN and they differ, not by a slip (a UPN follows one child), "gender"
    when one is a boy's and the other a girl's (a U or none says nothing)."""
    # (the matcher's, imported here: a search in a fresh process loads no rapidfuzz)
    from uso_tui.sync.evidence import upn_level  # noqa: PLC0415

    extra = account.extra or {}
    out = []
    # (a keying slip of one of them, which fails the DfE check, is the same child)
    if upn_level(upn_key(record.upn), upn_key(extra.get("upn"))) == "different":
        out.append("UPN")
    if genders_apart(record.gender, extra.get("gender")):
        out.append("gender")
    return out
