"""Recognising records that have not changed since their account was last written, unparsed.

On a normal school day nearly every record of an export is exactly what it was yesterday, and
parsing it, comparing it with its account and writing its processed row again cost most of a
daily run's time beyond the fetch. A run keeps, per school and report, a fingerprint of each
linked record: one hash over the record's raw JSON and the fields its account held after the
run (`canon`). The next run's sieve hashes each raw record with its account's current fields: a
record both unchanged in the MIS and still held by an account nobody has changed since gives the
stored fingerprint, and the planner takes it as unchanged without parsing it. Anything else
(a changed record, an account an operator edited, a fingerprint from an older parser) gives
another hash and the record is parsed and planned as usual. A fingerprint is kept only for a
record whose outcome cannot change while its raw JSON stays the same (no leaving date).
"""

from __future__ import annotations

from typing import Any

import orjson
import xxhash

# Part of every fingerprint: change it whenever parsing or the held fields change meaning, so
# that fingerprints made before are simply not recognised.
VERSION = b"uso-seen-1\0"

_hash = xxhash.xxh3_64_intdigest  # non-cryptographic, 64 bits: a change detector, not a MAC
_dumps = orjson.dumps


def canon(row: dict[str, Any]) -> bytes:
    """An account's fields that its MIS record sets (as stored: defaults may be left out)."""
    g = row.get
    return _dumps(
        (
            row["forename"],
            row["surname"],
            g("preferred_name") or "",
            g("middle_names") or "",
            row["dob"],
            g("email") or "",
            g("extra") or {},
        ),
        option=orjson.OPT_SORT_KEYS,  # extra's keys in any order
    )


def fingerprint(raw: dict[str, Any], held: bytes) -> int:
    """The hash of a raw record with the canon of the account fields it goes with."""
    return _hash(VERSION + _dumps(raw) + b"\0" + held)


class Sieve:
    """Says which raw records of one report are unchanged since the last run (the client asks it
    before parsing each). `rows`: the school's accounts as stored, from the same read the plan
    will use; `fps`: the report's fingerprints from that read. A recognised record's token is
    the account row it was checked against and the fingerprint: the planner trusts it only if
    its own snapshot holds that very row."""

    def __init__(
        self, dfe: str, report: str, rows: list[dict[str, Any]], fps: dict[str, int]
    ) -> None:
        self.fps = fps
        self.rows: dict[str, dict[str, Any]] = {}
        if fps:
            for r in rows:
                mis_id = r.get("mis_id")
                if mis_id in fps and r.get("link_school") == dfe and r.get("link_report") == report:
                    self.rows[mis_id] = r

    def __call__(self, mis_id: str, raw: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
        row = self.rows.get(mis_id)
        if row is None:
            return None
        fp = self.fps[mis_id]
        return (row, fp) if fingerprint(raw, canon(row)) == fp else None


def record_row(report: str, mis_id: str, row: dict[str, Any], *outcome: str | None) -> tuple:
    """The processed file's row (PROCESSED_COLUMNS) of the record an unchanged account was
    written from, followed by `outcome` (outcome, reason, username): the account holds every
    field of a record without a leaving date and with a valid date of birth ("" in the account
    is None in the record)."""
    g = row.get
    x = (g("extra") or {}).get
    return (
        report,
        mis_id,
        row["forename"] or None,
        row["surname"] or None,
        g("preferred_name") or None,
        g("middle_names") or None,
        row["dob"],
        None,  # dob_raw
        x("enrolment_date"),
        None,  # leaving_date
        g("email") or None,
        x("person_guid"),
        x("gender"),
        x("year_group"),
        x("form_group"),
        x("upn"),
        x("title"),
        x("initials"),
        x("system_status"),
        x("is_teaching"),
        *outcome,
    )
