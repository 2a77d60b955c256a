"""The export comparison (DESIGN section 3): an export that looks wrong is held whole.

Compared with the export last taken as the school's (its record count, Run.sizes) and what it
left (the linked accounts: one per record the MIS sent before), a report is held whole, nothing
of it applied, when its record count fell by more than the school's hold threshold (a halved
export), when most of the records linked before are gone (another school's data, MIS ids given
anew), or when more than a fifth of the linked records changed name, preferred name, date of
birth or UPN at once (a shifted column, UPNs swapped), or when more than a fifth of them are
sent again under MIS ids of their own (the same names and date of birth, or UPN: a roll
imported twice, each person would get a second account). An operator confirms it
(sync.actions.confirm_held), and it is then planned again and applied as it is.

Leavers replaced by as many starters (a new school year) are not a fall: the leavers'
unallocations are held by the safety hold (rule 8) while the starters' accounts are made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from uso_tui.domain.models import MisRecord, School
from uso_tui.domain.names import filler_upn, normalise_cached, permanent_upn, upn_key
from uso_tui.sync.evidence import upn_level

CHANGED_SHARE = 0.2  # more than a fifth of the linked records at once
# ... and at least this many (or the school's hold minimum, if lower): two members of staff of
# eight renamed on one day is a wedding, not a shifted column; a shifted column in a report
# smaller than the hold minimum renames everyone and must be held too
CHANGED_MIN = 3
SAMPLE = 5  # changes shown side by side
# More than this share of the records linked before gone and others come instead (at least half
# as many): not a school year's leavers (a sixth of a primary, a third of a secondary), but
# another school's data or every MIS id given anew (a sixth-form college loses half its roll
# each summer; a school whose hold threshold is higher, expecting such churn, has that share
# instead). At least CHANGED_MIN gone, or the hold minimum if lower: a small staff report
# replaced whole is held too (a fall with nothing instead is the hold minimum's to judge).
GONE_SHARE = 0.5


def _person(forename: Any, surname: Any, dob: Any) -> tuple[str, str, str]:
    return normalise_cached(forename or ""), normalise_cached(surname or ""), dob or ""


def _changed(row: dict[str, Any], rec: MisRecord) -> bool:
    """Whether the record says another thing of its person than the account it is linked to:
    names, date of birth; a preferred name cleared or replaced (one given where none was is
    no sign: a school starting to use them); a UPN replaced by another (UPNs follow a child
    for life: every pupil's swapped with a classmate's was applied, 300 of 300) or cleared
    (every UPN blanked, a field the API no longer gives, was cleared from every account)."""
    if _person(row["forename"], row["surname"], row["dob"]) != _person(
        rec.forename, rec.surname, rec.dob
    ):
        return True
    known_as = normalise_cached(row.get("preferred_name") or "")
    if known_as and known_as != normalise_cached(rec.preferred_name or ""):
        return True
    upn = upn_key(str((row.get("extra") or {}).get("upn") or ""))
    # (a filler the account held replaced by the real UPN is one given where none was)
    return bool(upn and not filler_upn(upn) and upn != upn_key(rec.upn or ""))


def _rows_by_person(
    linked_rows: list[dict[str, Any]], ids: set[str]
) -> tuple[dict[tuple[str, str, str], list[dict]], dict[str, list[dict]]]:
    """The linked rows of the MIS ids `ids`, by names and date of birth, and by permanent UPN."""
    by_person: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    by_upn: dict[str, list[dict[str, Any]]] = {}
    for row in linked_rows:
        if row["mis_id"] in ids:
            person = _person(row["forename"], row["surname"], row["dob"])
            by_person.setdefault(person, []).append(row)
            key = upn_key((row.get("extra") or {}).get("upn"))
            if permanent_upn(key):
                by_upn.setdefault(key, []).append(row)
    return by_person, by_upn


def _sent_again(
    linked_rows: list[dict[str, Any]],
    records: dict[str, MisRecord],
    sent: set[str],
    skip: set[str],
) -> list[MisRecord]:
    """The records of `records` (newcomers: no account is linked to them), but those in `skip`,
    with the names and date of birth, or the permanent UPN, of a record `sent` (not leaving)
    whose account is linked."""
    people, upns = _rows_by_person(linked_rows, sent)
    return [
        rec
        for mis_id, rec in records.items()
        if mis_id not in skip
        and (_person(rec.forename, rec.surname, rec.dob) in people or upn_key(rec.upn) in upns)
    ]


def _renumbered(
    linked_rows: list[dict[str, Any]], newcomers: dict[str, MisRecord], gone: set[str]
) -> list[tuple[dict[str, Any], MisRecord]]:
    """(row, record) of each newcomer with the names and date of birth, or the permanent UPN,
    of a linked record `gone`: the same person under a new MIS id (an MIS moved or renumbered),
    each row paired once."""
    by_person, by_upn = _rows_by_person(linked_rows, gone)
    paired: set[str] = set()
    out = []
    for rec in newcomers.values():
        upn = upn_key(rec.upn)
        rows = [
            *by_upn.get(upn, ()),
            *(
                r  # (a permanent UPN of each, two: twins, not one child renumbered)
                for r in by_person.get(_person(rec.forename, rec.surname, rec.dob), ())
                if not _upns_apart(upn, r)
            ),
        ]
        row = next((r for r in rows if r["mis_id"] not in paired), None)
        if row is not None:
            paired.add(row["mis_id"])
            out.append((row, rec))
    return out


def compare(
    report: str,
    linked_rows: list[dict[str, Any]],
    records: dict[str, MisRecord],
    ids: Iterable[str],
    settings: School,
    sizes: tuple[int, int] | None = None,
    arrived: int | None = None,
    invalid: frozenset[str] | set[str] = frozenset(),
    held_before: frozenset[str] = frozenset(),
    leaving: frozenset[str] | set[str] = frozenset(),
    arriving: frozenset[str] | set[str] | None = None,
) -> dict[str, Any] | None:
    """The comparison when the report must be held whole, else None.

    linked_rows: the school's active accounts linked to this report (the previous export's
    records); records: this export's parsed records by MIS id (one recognised unchanged is not
    in it and counts as unchanged); ids: every MIS id of this export. `sizes`: how many records
    the export last taken as the school's sent and this one sends (Run.sizes). Without it (runs
    recorded before they kept it), the count before is the linked records and the count now
    those of them still sent and the records no account is linked to (starters, those waiting
    for an operator: counted out before too, so a fall can look smaller than it is). `arrived`:
    the records that would now get an account or a case (unlinked, valid, started, not excluded,
    none open for them): those that came instead of the records gone (future starters and
    records waiting for an operator were sent before as now), or, given `sizes`, the records
    sent beyond what stayed of the export before if more; without it, every record no account
    is linked to. `invalid`: the MIS ids of this export's invalid records (they leave
    their accounts untouched: neither changed nor counted among the linked records compared).
    `held_before`: the accounts whose unallocation the run of the export before held (rule 8):
    leavers and records left out, none of them on roll then, so their records gone now are no
    records gone (a sixth form's leavers, held, then dropped by the MIS were "others came
    instead" and held the report whole). `leaving`: the MIS ids of this export's records
    whose leaving date has passed (their person may come back under a new id: no copy).
    `arriving`: the MIS ids of the records counted in `arrived` (None: every unlinked record),
    the only ones that may be a linked record's copy (a leaver's old record kept beside its
    new one, next year's record of a pupil, gets no account)."""
    previous = len(linked_rows)
    if not previous:
        return None
    sent = set(ids)
    linked_ids = {row["mis_id"] for row in linked_rows}
    known = {row["mis_id"] for row in linked_rows if row["username"] in held_before}
    kept = len(linked_ids & sent)
    every_one_gone = not kept  # held ones too: what is left to compare may be none or a few
    gone = previous - kept - len(known - sent)
    going_before = len(known)
    previous -= going_before
    unlinked = len(sent - linked_ids)  # records no account is linked to
    came = unlinked if arrived is None else arrived
    if sizes is not None:
        before, count = sizes
        before_said = f"{before} before"
        # ... and at least the records sent beyond what stayed of the export before, whatever
        # their outcome now (another school's leavers, future starters or invalid records)
        came = max(came, count - (before - gone))
    else:
        before, count = previous + going_before, kept + unlinked
        before_said = f"the {before} linked before"
    fell = before - count
    changed: list[tuple[dict[str, Any], MisRecord]] = []
    for row in linked_rows:
        rec = records.get(row["mis_id"])
        if rec is None or row["mis_id"] in invalid:
            continue
        if _changed(row, rec):
            changed.append((row, rec))
    newcomers = (
        {m: r for m, r in records.items() if m not in linked_ids}
        if arriving is None
        else {m: records[m] for m in arriving if m in records}
    )
    reasons = []
    renumbered: list[tuple[dict[str, Any], MisRecord]] = []
    if fell > before * settings.hold_percent / 100 and fell >= settings.hold_min:
        reasons.append(
            f"the {report} export holds {count} records on roll against {before_said} "
            f"(fewer by more than {settings.hold_percent:g}%)"
        )
    elif (
        # (every one gone, whatever the threshold: at 100% another school's export with ids of
        # its own was applied whole)
        (
            gone > previous * (share := max(GONE_SHARE, settings.hold_percent / 100))
            or gone == previous
        )
        and gone
        and came * 2 >= gone
        and gone >= min(settings.hold_min, CHANGED_MIN)
    ):
        part = "all of them" if gone == previous else f"more than {share:.0%}"
        besides = f", besides {going_before} held as leaving" if going_before else ""
        renumbered = _renumbered(linked_rows, newcomers, linked_ids - sent)
        reasons.append(
            f"the {report} export no longer sends {gone} of the {previous} records linked "
            f"before ({part}{besides}), and {came} others came instead{_same_people(renumbered)}"
        )
    elif (
        # every record linked before gone, those held as leaving too (a school's every pupil
        # given a leaving date, then another school's data): none or too few left to judge by
        every_one_gone
        and going_before
        and came * 2 >= previous + going_before >= min(settings.hold_min, CHANGED_MIN)
    ):
        renumbered = _renumbered(linked_rows, newcomers, linked_ids - sent)
        reasons.append(
            f"the {report} export no longer sends any of the {previous + going_before} records "
            f"linked before ({going_before} of them held as leaving), and {came} others came "
            f"instead{_same_people(renumbered)}"
        )
    compared = previous + going_before - len(linked_ids & invalid)
    least = min(settings.hold_min, CHANGED_MIN)
    if len(changed) > compared * CHANGED_SHARE and len(changed) >= least:
        reasons.append(
            f"{len(changed)} of {compared} linked {report} records changed name, preferred "
            "name, date of birth or UPN at once"
        )
    # The same people sent again under new MIS ids beside their own records (two MIS
    # databases merged, a roll imported twice): each would get a second account.
    if len(newcomers) > compared * CHANGED_SHARE and len(newcomers) >= least:
        again = _sent_again(linked_rows, newcomers, sent - set(leaving), set(invalid))
        if len(again) > compared * CHANGED_SHARE and len(again) >= least:
            reasons.append(
                f"{len(again)} records came under MIS ids of their own with the names and "
                f"date of birth, or the UPN, of {report} records still sent and linked (more "
                f"than a fifth of {compared}): the MIS may be sending its records twice; "
                "confirmed, each gets an account of its own"
            )
    if not reasons:
        return None
    return {
        "report": report,
        "previous_count": before,
        "count": count,
        "gone": gone,
        "changed_names": len(changed),
        "reason": "; ".join(reasons),
        "sample": [_side_by_side(row, rec) for row, rec in changed[:SAMPLE]]
        + [
            # (the same person's record before, renumbered: its id was another)
            {**_side_by_side(row, rec), "was_mis_id": row["mis_id"]}
            for row, rec in renumbered[: max(0, SAMPLE - len(changed))]
        ],
    }


def _side_by_side(row: dict[str, Any], rec: MisRecord) -> dict[str, Any]:
    """A sample of the comparison: the linked record as its account holds it, and as sent."""
    return {
        "mis_id": rec.mis_id,
        "before": {
            "forename": row["forename"],
            "surname": row["surname"],
            "dob": row["dob"],
            "preferred_name": row.get("preferred_name") or None,
            "upn": (row.get("extra") or {}).get("upn"),
        },
        "after": {
            "forename": rec.forename,
            "surname": rec.surname,
            "dob": rec.dob,
            "preferred_name": rec.preferred_name,
            "upn": rec.upn,
        },
    }


def _upns_apart(upn: str, row: dict[str, Any]) -> bool:
    """Two permanent UPNs, not one keying slip apart: two children."""
    return upn_level(upn, upn_key((row.get("extra") or {}).get("upn"))) == "different"


def _same_people(renumbered: list[tuple[dict[str, Any], MisRecord]]) -> str:
    """What the comparison adds of the newcomers that are records gone under new MIS ids."""
    if not renumbered:
        return ""
    return (
        f", {len(renumbered)} of them with the names and date of birth, or the UPN, of a record "
        "gone: the same people under new MIS ids (the MIS moved or renumbered?); confirmed, "
        "their accounts are unallocated and a case opened for each to match it again"
    )


def comparisons_lines(comparisons: list[dict[str, Any]]) -> list[str]:
    """Each report's comparison (Run.held_whole) in words, one after the other."""
    return [line for comparison in comparisons for line in comparison_lines(comparison)]


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    """The comparison in words, for the command line and the console."""
    out = [
        f"{comparison['report']}: {comparison['count']} records on roll now, "
        f"{comparison['previous_count']} before; {comparison['changed_names']} linked records "
        "changed name, preferred name, date of birth or UPN",
        f"held whole: {comparison.get('reason', '')}",
    ]
    for sample in comparison.get("sample") or ():
        before, after = sample["before"], sample["after"]
        ids = sample["mis_id"]
        if sample.get("was_mis_id"):
            ids = f"{sample['was_mis_id']} -> {ids}"
        line = (
            f"  MIS id {ids}: "
            f"{before['forename']} {before['surname']} ({before['dob'] or 'no date of birth'})"
            f" -> {after['forename']} {after['surname']} ({after['dob'] or 'no date of birth'})"
        )
        for key, said in (("preferred_name", "known as"), ("upn", "UPN")):
            was, now = before.get(key), after.get(key)  # (samples kept before had neither)
            if (was or now) and was != now:
                line += f"; {said} {was or '(none)'} -> {now or '(none)'}"
        out.append(line)
    return out
