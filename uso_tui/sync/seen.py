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


# MisRecord's fields in order, all None: the start of every record_dict.
_RECORD_TEMPLATE: dict[str, Any] = dict.fromkeys(
    (
        "report", "mis_id", "forename", "surname", "preferred_name", "middle_names", "dob",
        "dob_raw", "enrolment_date", "leaving_date", "email", "person_guid", "gender",
        "year_group", "form_group", "upn", "title", "initials", "system_status", "is_teaching",
    )
)  # fmt: skip


def record_dict(report: str, mis_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """The record an unchanged account was written from, as MisRecord.to_dict gives it (the
    processed file's row): the account holds every field of a record without a leaving date
    and with a valid date of birth ("" in the account is None in the record; extra's keys are
    the record's field names)."""
    d = _RECORD_TEMPLATE.copy()  # the key order of the processed file's rows
    d["report"] = report
    d["mis_id"] = mis_id
    d["forename"] = row["forename"] or None
    d["surname"] = row["surname"] or None
    d["dob"] = row["dob"]
    g = row.get
    if v := g("preferred_name"):
        d["preferred_name"] = v
    if v := g("middle_names"):
        d["middle_names"] = v
    if v := g("email"):
        d["email"] = v
    if extra := g("extra"):
        d.update(extra)
    return d
