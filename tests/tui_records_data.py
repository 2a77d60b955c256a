"""A small store for the records screens' tests (bulk results, users, non-MIS, history, audit), built
through the store API with fixed times, so that every screen has something of each kind to show,
including names that look like markup or hold control characters.

Outcome words in processed files are those the planner writes (uso_tui.sync.plan)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from uso_tui.domain.models import (
    Account,
    AuditEvent,
    Candidate,
    MatchCase,
    MisRecord,
    ProcessedFile,
    Run,
    School,
    empty_counts,
)
from uso_tui.store import Store, open_store

NOW = datetime(2026, 11, 28, 9, 30, 0)
HILL = "204-3210"
VALE = "204-3211"
MARKUP = "[bold]x[/]"
CONTROL = "Lee\x1b[31mred\x07"
R2_COUNTS = {
    "fetched": 10,
    "updated": 1,
    "unallocated": 2,
    "needs_matching": 2,
    "future": 1,
    "invalid": 2,
    "excluded": 1,
    "unchanged": 3,
}


def _school(dfe: str, name: str) -> School:
    return School(
        dfe=dfe,
        name=name,
        mis="iSAMS",
        url=f"https://s{dfe[-4:]}.isams.cloud",
        client_id=f"client-{dfe}",
        created_at="2026-09-01T08:00:00",
    )


def _record(report: str, mis_id: str, forename, surname, dob, **kw) -> dict:
    return MisRecord(
        report=report, mis_id=mis_id, forename=forename, surname=surname, dob=dob, **kw
    ).to_dict()


def build_store(root: Path) -> Store:
    store = open_store(root)
    with store.transaction("setup") as tx:
        tx.add_school(_school(HILL, "Hill Primary"), "secret-hill")
        tx.add_school(_school(VALE, f"Vale {MARKUP} Academy"), "secret-vale")

    accounts: dict[str, Account] = {}
    with store.transaction("scheduler") as tx:
        r1 = tx.next_run_id(HILL)
        r2 = tx.next_run_id(HILL)
        r3 = tx.next_run_id(HILL)

        def acc(key, forename, surname, dob, role="pupil", school=HILL, **kw) -> Account:
            account = Account(
                username=tx.new_username(forename, surname, "204"),
                role=role,
                forename=forename,
                surname=surname,
                dob=dob,
                school=school,
                created_at=kw.pop("created_at", "2026-11-20T06:00:05"),
                **kw,
            )
            accounts[key] = account
            return account

        linked = dict(source="mis", link_school=HILL)
        acc("ada", "Ada", "Lovelace", "2015-12-10", mis_id="P1", link_report="students", **linked)
        acc(
            "markup",
            MARKUP,
            "O'Brien-Smith",
            "2016-01-02",
            mis_id="P2",
            link_report="students",
            **linked,
        )
        acc("control", "Zoë", CONTROL, "2016-03-04", mis_id="P3", link_report="students", **linked)
        acc(
            "alan",
            "Alan",
            "Turing",
            "1980-06-23",
            role="staff",
            mis_id="S1",
            link_report="staff",
            **linked,
        )
        # unallocated by the last run (link kept until restored)
        for key, fore, sur, dob, mis in [
            ("grace", "Grace", "Hopper", "2014-12-09", "P8"),
            ("edsger", "Edsger", "Dijkstra", "2014-05-11", "P9"),
        ]:
            acc(
                key,
                fore,
                sur,
                dob,
                school=None,
                previous_school=HILL,
                status="unallocated",
                unallocated_at="2026-11-28T06:00:09",
                unallocated_by_run=r2,
                mis_id=mis,
                link_report="students",
                **linked,
            )
        # not linked to the MIS: requested by hand, one of them already kept
        acc("manual", "Katherine", "Johnson", "1975-08-26", role="staff", source="manual")
        acc(
            "kept", "Dorothy", "Vaughan", "1972-09-20", role="staff", source="manual", reviewed=True
        )
        acc(
            "nonmis",
            "Tim",
            "Berners-Lee",
            "2015-06-08",
            source="mis",
            previous_school=HILL,
            created_at="2026-11-01T06:00:00",
        )
        acc(
            "vale1",
            "Barbara",
            "Liskov",
            "2015-11-07",
            school=VALE,
            mis_id="V1",
            link_report="students",
            source="mis",
            link_school=VALE,
        )
        tx.put_accounts(list(accounts.values()))

        def run(run_id, started, status, counts, *, finished=None, **kw) -> Run:
            """A run of Hill (unless kw names another school) by the scheduler; it ends at
            `finished`, else 40 seconds into the minute it started."""
            kw.setdefault("school", HILL)
            kw.setdefault("trigger", "schedule")
            kw.setdefault("operator", "scheduler")
            if kw["school"] == HILL:
                kw.setdefault("reports", ["staff", "students"])
            return Run(
                run_id=run_id,
                status=status,
                started_at=started,
                finished_at=finished or started[:-2] + "40",
                counts={**empty_counts(), **counts},
                **kw,
            )

        tx.put_run(run(r1, "2026-11-27T06:00:03", "succeeded", {"fetched": 6, "created": 4}))
        tx.put_run(run(r2, "2026-11-28T06:00:02", "succeeded", R2_COUNTS))
        tx.put_run(
            run(
                r3,
                "2026-11-28T08:15:00",
                "failed",
                {},
                trigger="force",
                operator="deskop",
                error=f"{HILL}: GET /api/students: 503 Service Unavailable",
            )
        )
        tx.put_run(
            run(
                tx.next_run_id(VALE),
                "2026-11-28T06:00:01",
                "succeeded",
                {"fetched": 1, "created": 1},
                finished="2026-11-28T06:00:04",
                school=VALE,
            )
        )
        # the scheduler's run held by the safety hold: its school's only pupil would go
        tx.put_run(
            run(
                tx.next_run_id(VALE),
                "2026-11-28T09:00:00",
                "held",
                {"held_unallocations": 1},
                finished="2026-11-28T09:00:02",
                school=VALE,
                held_usernames=[accounts["vale1"].username],
                hold_reason="students: would unallocate 1 of 1 linked accounts",
            )
        )

        files_records = [
            (_record("students", "P1", "Ada", "Lovelace", "2015-12-10"), "unchanged", "", "ada"),
            (
                _record("students", "P2", MARKUP, "O'Brien-Smith", "2016-01-02"),
                "updated",
                "surname changed",
                "markup",
            ),
            (_record("students", "P3", "Zoë", CONTROL, "2016-03-04"), "unchanged", "", "control"),
            (_record("staff", "S1", "Alan", "Turing", "1980-06-23"), "unchanged", "", "alan"),
            (
                _record("students", "P4", "Charles", "Babbage", "2015-12-26"),
                "needs_matching",
                "resembles 1 account (best 88%)",
                None,
            ),
            (
                _record("staff", "S2", "Kathy", "Johnson", "1975-08-26"),
                "needs_matching",
                "resembles 1 account (best 91%)",
                None,
            ),
            (
                _record(
                    "students", "P5", "Hedy", "Lamarr", "2016-11-09", enrolment_date="2027-01-05"
                ),
                "future",
                "starts 2027-01-05 (after today)",
                None,
            ),
            (
                _record("students", "P6", None, "Nameless", "2015-01-01"),
                "invalid",
                "no forename",
                None,
            ),
            (
                _record("students", "P7", "Mary", "Bad[/]Date", None, dob_raw="31/02/2015"),
                "invalid",
                "impossible date of birth '31/02/2015'",
                None,
            ),
            (
                _record("students", "P10", "Test", "Pupil", "2015-02-02"),
                "excluded",
                "on the exclusion list (id 1)",
                None,
            ),
        ]
        tx.put_processed_file(
            ProcessedFile(
                run_id=r2,
                school=HILL,
                fetched_at="2026-11-28T06:00:05",
                counts={**empty_counts(), **R2_COUNTS},
                records=[
                    {
                        "record": rec,
                        "outcome": out,
                        "reason": why,
                        "username": accounts[u].username if u else None,
                    }
                    for rec, out, why, u in files_records
                ],
            )
        )
        tx.put_processed_file(
            ProcessedFile(
                run_id=r1,
                school=HILL,
                fetched_at="2026-11-27T06:00:05",
                counts={**empty_counts(), "fetched": 1, "created": 1},
                records=[
                    {
                        "record": _record("students", "P1", "Ada", "Lovelace", "2015-12-10"),
                        "outcome": "created",
                        "reason": "",
                        "username": accounts["ada"].username,
                    }
                ],
            )
        )

        def case(record: dict, report: str, role: str, cands: list[Account], score: int):
            return MatchCase(
                case_id=tx.next_case_id(HILL),
                school=HILL,
                report=report,
                role=role,
                record=record,
                run_id=r2,
                opened_at="2026-11-28T06:00:06",
                candidates=[
                    Candidate(
                        username=a.username,
                        school=a.school,
                        score=score,
                        forename=a.forename,
                        surname=a.surname,
                        dob=a.dob,
                        differs=["forename"],
                    ).to_dict()
                    for a in cands
                ],
            )

        tx.put_cases(
            [
                case(files_records[4][0], "students", "pupil", [accounts["ada"]], 88),
                case(files_records[5][0], "staff", "staff", [accounts["manual"]], 91),
            ]
        )
        tx.add_exclusion(HILL, "Test", "Pupil", "2015-02-02", "2026-11-02T10:00:00")
        tx.add_exclusion(HILL, MARKUP, CONTROL, None, "2026-11-03T10:00:00")

        events = []
        for account in accounts.values():
            events.append(
                AuditEvent(
                    at=account.created_at,
                    operator="scheduler",
                    school=account.school or HILL,
                    action="create",
                    subject=account.username,
                    before=None,
                    after=account.public(),
                    run_id=r1,
                )
            )
        events.append(
            AuditEvent(
                at="2026-11-28T06:00:07",
                operator="scheduler",
                school=HILL,
                action="update",
                subject=accounts["markup"].username,
                run_id=r2,
                before={"surname": "OBrien"},
                after={"surname": "O'Brien-Smith"},
            )
        )
        for key in ("grace", "edsger"):
            events.append(
                AuditEvent(
                    at="2026-11-28T06:00:09",
                    operator="scheduler",
                    school=HILL,
                    action="unallocate",
                    subject=accounts[key].username,
                    run_id=r2,
                    before={"school": HILL, "status": "active"},
                    after={"school": None, "status": "unallocated"},
                )
            )
        events.append(
            AuditEvent(
                at="2026-11-28T07:45:00",
                operator="deskop",
                school=VALE,
                action="move",
                subject=accounts["vale1"].username,
                before={"school": HILL},
                after={"school": VALE, "forename": "Barbara", "surname": "Liskov"},
            )
        )
        events.sort(key=lambda e: e.at)
        tx.audit_many(events)
    return store


def username_of(store: Store, forename: str, surname: str) -> str:
    hits = [h for h in store.search_accounts("") if h.forename == forename and h.surname == surname]
    assert len(hits) == 1, hits
    return hits[0].username
