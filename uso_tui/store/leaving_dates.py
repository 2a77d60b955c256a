"""What an export sent, read back from its run's processed file: each record's leaving date,
for the next export's comparison (was a leaver linked to no account on roll then?)."""

from __future__ import annotations

from pathlib import Path

from uso_tui.domain.models import PROCESSED_COLUMNS
from uso_tui.store.errors import CorruptFile
from uso_tui.store.storage import read_table


def leaving_dates(path: Path) -> dict[tuple[str, str], str | None] | None:
    """(report, MIS id) -> the record's leaving date (None: none) in the processed file at
    `path`; None when there is no such file, or it cannot be read (the comparison then goes
    without it: a run does not fail for the file of one before it)."""
    try:
        docs = read_table(path, "processed_file")
    except CorruptFile:
        return None
    if not docs:
        return None
    doc = docs[0]
    out: dict[tuple[str, str], str | None] = {}
    rows = doc.get("rows")
    try:
        if rows is not None:
            columns = list(doc.get("columns") or PROCESSED_COLUMNS)
            report, mis_id, leaving = (
                columns.index(c) for c in ("report", "mis_id", "leaving_date")
            )
            for row in rows:
                out[(row[report], row[mis_id])] = row[leaving]
        else:
            for entry in doc.get("records") or ():
                rec = entry["record"]
                out[(rec["report"], rec["mis_id"])] = rec.get("leaving_date")
    except (ValueError, KeyError, IndexError, TypeError):  # not the shape uso-tui writes
        return None
    return out
