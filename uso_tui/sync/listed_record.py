"""Whether a linked record is listed as another person than its account, as its school's latest
export listed it (plan._linked): what the operator's answers (linked_record.py) and a match of
that account to another record (actions.py: its person re-keyed under a new id) go by.
"""

from __future__ import annotations

from uso_tui.domain.models import Account, MisRecord
from uso_tui.store.api import Store
from uso_tui.sync.plan import another_person
from uso_tui.sync.plan_types import INVALID

# What the planner says of such a record (plan._linked)
ANOTHER_PERSON = "now names another person than its account"


def listed_as_another(
    store: Store, acc: Account, why_rows: list[dict] | None = None
) -> MisRecord | None:
    """The record linked to `acc` as its school's latest export listed it, if that listed it
    as another person than the account and it still is one (else None: after an answer, the
    account holds the record, or is no longer linked to it). `why_rows`: the school's
    why_records, read once by a caller asking of many of its accounts."""
    if not (acc.mis_id and acc.link_school and acc.link_report):
        return None
    rows = [
        r
        for r in (store.why_records(acc.link_school) if why_rows is None else why_rows)
        if r.get("mis_id") == acc.mis_id and r.get("report") == acc.link_report
    ]
    row = rows[-1] if rows else None
    if (
        row is None
        or row.get("outcome") != INVALID
        or ANOTHER_PERSON not in (row.get("reason") or "")
        or not row.get("run_id")
    ):
        return None
    processed = store.processed_file(row["run_id"])
    for entry in processed.records if processed is not None else ():
        record = entry.get("record") or {}
        if record.get("mis_id") == acc.mis_id and record.get("report") == acc.link_report:
            rec = MisRecord.from_dict(record)

            def school_rows() -> list[dict]:  # read only if the UPNs differ
                return [a.to_dict() for a in store.school_accounts(acc.link_school or "")]

            return rec if another_person(rec, acc, school_rows) else None
    return None
