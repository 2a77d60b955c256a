"""Recognising records that have not changed since their account was last written, unparsed.

On a normal school day nearly every record of an export is exactly what it was yesterday, and
parsing it, comparing it with its account and writing its processed row again cost most of a
daily run's time beyond the fetch. A run keeps, per school and report, a fingerprint of each
record whose account holds what it says: a hash of the record's raw JSON. The store keeps them
with a hash of the school's accounts as that run left them, and gives them back only while every
account is still exactly so (SchoolState.seen): an operator's change to any account of the
school, or another report's run, drops them and the next run parses everything once. The next
run's sieve hashes each raw record: one that gives its stored fingerprint, while its account
still holds it, is unchanged in the MIS since the account was written from it, and the planner
takes it as unchanged without parsing it. Anything else (a changed record, a fingerprint from an
older parser) is parsed and planned as usual. A fingerprint is kept only for a record whose
outcome cannot change while its raw JSON stays the same (no leaving date).
"""

from __future__ import annotations

from typing import Any

import orjson
import xxhash

# The seed of every fingerprint: change it whenever parsing or the held fields change meaning,
# so that fingerprints made before are simply not recognised.
VERSION = 7  # 3: text fields cleaned and cut (iris.parse.clean); 4: UPNs without spaces;
# 5: leaving dates in more forms (20261123, 23.11.2026), an unreadable one an invalid record;
# 6: an unreadable start date an invalid record; 7: records looked through for the secret once
# parsed (a secret broken up by characters parsing drops), a name cut mid-character invalid

_hash = xxhash.xxh3_64_intdigest  # non-cryptographic, 64 bits: a change detector, not a MAC
_dumps = orjson.dumps


def fingerprint(raw: dict[str, Any]) -> int | None:
    """The hash of a raw record; None for one that cannot be encoded again (a field nested
    deeper than orjson writes, an integer past 64 bits: IRIS's fields are never so, an unused
    one may be), which is then parsed at every run."""
    try:
        return _hash(_dumps(raw), VERSION)
    except TypeError:  # orjson.JSONEncodeError
        return None


class Sieve:
    """Says which raw records of one report are unchanged since the last run (the client asks it
    before parsing each). Made by sieves(): `fps`, the report's fingerprints from the school's
    read the plan will use (given only while the accounts are as the run that made them left
    them); `rows`, the account rows of that read linked to the report, by MIS id. A recognised
    record's token is the account row linked to it and the fingerprint: the planner trusts it
    only if its own snapshot holds that very row. `linked`: the MIS ids of the report that
    active accounts of the school are linked to (an export that leaves one out is checked: see
    IrisClient.fetch_report)."""

    def __init__(
        self,
        fps: dict[str, int],
        rows: dict[str, dict[str, Any]],
        linked: frozenset[str] = frozenset(),
    ) -> None:
        self.fps, self.rows, self.linked = fps, rows, linked

    def __call__(self, mis_id: str, raw: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
        row = self.rows.get(mis_id)
        if row is None:
            return None
        fp = self.fps[mis_id]
        try:
            return (row, fp) if _hash(_dumps(raw), VERSION) == fp else None
        except TypeError:  # not encodable again (see fingerprint): parsed
            return None


def sieves(
    dfe: str, rows: list[dict[str, Any]], fps: dict[str, dict[str, int]]
) -> dict[str, Sieve]:
    """A Sieve per report of `fps` (report -> its fingerprints), from one pass over the school's
    account rows as stored (`rows`)."""
    linked: dict[str, dict[str, dict[str, Any]]] = {report: {} for report in fps}
    active: dict[str, set[str]] = {report: set() for report in fps}
    for row in rows:
        mis_id = row.get("mis_id")
        if mis_id is not None and row.get("link_school") == dfe:
            report = row.get("link_report")
            if report in linked:
                if mis_id in fps[report]:
                    linked[report][mis_id] = row
                if row.get("status", "active") == "active":
                    active[report].add(mis_id)
    return {report: Sieve(fps[report], linked[report], frozenset(active[report])) for report in fps}


def record_row(report: str, mis_id: str, row: dict[str, Any], *outcome: str | None) -> tuple:
    """The processed file's row (PROCESSED_COLUMNS) of the record an unchanged account was
    written from, followed by `outcome` (outcome, reason, username): the account holds every
    field of a record without a leaving date and with a valid date of birth ("" in the account
    is None in the record)."""
    field = row.get
    extra = (field("extra") or {}).get
    return (
        report,
        mis_id,
        row["forename"] or None,
        row["surname"] or None,
        field("preferred_name") or None,
        field("middle_names") or None,
        row["dob"],
        None,  # dob_raw
        extra("enrolment_date"),
        None,  # leaving_date
        None,  # leaving_raw
        field("email") or None,
        extra("person_guid"),
        extra("gender"),
        extra("year_group"),
        extra("form_group"),
        extra("upn"),
        extra("title"),
        extra("initials"),
        extra("system_status"),
        extra("is_teaching"),
        None,  # unreadable
        *outcome,
    )
