"""Builders shared by the tests: MIS records, accounts, school settings, exports, snapshots, and
a store with a simulated IRIS behind it (Env)."""

from __future__ import annotations

from datetime import date

from uso_tui.domain.models import (
    Account,
    Exclusion,
    Export,
    MatchCase,
    MisRecord,
    PreviousExports,
    School,
)
from uso_tui.sync.plan_types import Snapshot

DFE = "204-3210"
OTHER = "204-3211"  # a local school (same LA)
FAR = "301-1000"  # another LA
TODAY = date(2026, 3, 10)


def rec(
    mis_id: str,
    forename: str | None,
    surname: str | None,
    dob: str | None,
    report: str = "students",
    **kw,
) -> MisRecord:
    return MisRecord(
        report=report, mis_id=mis_id, forename=forename, surname=surname, dob=dob, **kw
    )


def acc(
    username: str,
    forename: str,
    surname: str,
    dob: str | None,
    *,
    school: str | None = DFE,
    mis_id: str | None = None,
    report: str = "students",
    role: str = "pupil",
    **kw,
) -> Account:
    linked = mis_id is not None
    return Account(
        username=username,
        role=role,
        forename=forename,
        surname=surname,
        dob=dob,
        school=school,
        source="mis" if linked else "manual",
        mis_id=mis_id,
        link_school=kw.pop("link_school", school if linked else None),
        link_report=report if linked else None,
        **kw,
    )


def linked_acc(number: int, school: str = DFE) -> Account:
    """Account `number`, linked to record `p{number}` (see linked_rec)."""
    return acc(
        f"u{number}.204",
        f"Pupil{chr(65 + number % 26)}",
        f"Surname{number}",
        "2015-01-01",
        school=school,
        mis_id=f"p{number}",
    )


def linked_rec(number: int) -> MisRecord:
    return rec(f"p{number}", f"Pupil{chr(65 + number % 26)}", f"Surname{number}", "2015-01-01")


def settings(**kw) -> School:
    return School(
        dfe=DFE, name="Test School", mis="iSAMS", url="https://t.isams.cloud", client_id="id", **kw
    )


def export(*records: MisRecord, report: str = "students") -> Export:
    return Export(report=report, records=list(records), pages=1)


def snap(
    accounts: list[Account] = (),
    *,
    pool: list[Account] | None = None,
    exclusions: list[Exclusion] = (),
    cases: list[MatchCase] = (),
    previous_sizes: dict[str, int] | None = None,
) -> Snapshot:
    accounts = list(accounts)
    everyone = accounts + list(pool or [])
    return Snapshot(
        school=DFE,
        accounts=accounts,
        exclusions=list(exclusions),
        open_cases=list(cases),
        pool=lambda role: [a for a in everyone if a.role == role],
        previous=PreviousExports.none()._replace(sizes=dict(previous_sizes or {})),
    )


def outcome_of(planned, mis_id: str):
    found = [o for o in planned.outcomes if o.record.mis_id == mis_id]
    assert len(found) == 1, found
    return found[0]


# ---- a real store in tmp_path and the IRIS simulator's in-process transport ----

SECRET = "runner-secret-0123456789"
CLIENT_ID = "client-1"
HOST = "iris.test:80"


def iris_student(
    mis_id: str, forename: str | None, surname: str | None, dob: str | None, **extra
) -> dict:
    row = {"schoolId": mis_id, "forename": forename, "surname": surname, "dob": dob}
    row.update(extra)
    return row


def enrolled_student(mis_id: str, forename: str, surname: str, dob: str, **extra) -> dict:
    """A student record of IRIS, enrolled since 1 September 2020."""
    return iris_student(mis_id, forename, surname, dob, enrolmentDate="2020-09-01", **extra)


class NoSleep:
    async def __call__(self, seconds: float) -> None:
        return None


class Env:
    """A store with schools set up, a simulator serving them, and a client over its transport."""

    def __init__(self, root) -> None:
        from uso_tui.iris.simulator import Simulator
        from uso_tui.store import open_store

        self.store = open_store(root)
        self.store.set_allowed_mis_hosts([HOST])
        self.sim = Simulator()

    def add_school(
        self, dfe: str = DFE, students: list[dict] = (), staff: list[dict] = (), **settings_kw
    ) -> School:
        school = School(
            dfe=dfe,
            name=f"School {dfe}",
            mis="iSAMS",
            url=f"http://iris.test/{dfe}",
            client_id=CLIENT_ID,
            reports=settings_kw.pop("reports", ["students"]),
            created_at="2026-01-01T00:00:00",
            **settings_kw,
        )
        with self.store.transaction("tester") as txn:
            txn.add_school(school, SECRET)
        self.sim.add_school(
            dfe, client_id=CLIENT_ID, secret=SECRET, students=list(students), staff=list(staff)
        )
        return school

    def client(self, **kw):
        from uso_tui.iris.client import IrisClient

        kw.setdefault("max_tries", 2)
        return IrisClient(
            allowed_hosts=frozenset({HOST}), transport=self.sim.transport(), sleep=NoSleep(), **kw
        )

    def set_students(self, dfe: str, students: list[dict]) -> None:
        self.sim.set_records(dfe, "students", students)

    async def run(
        self, dfe: str = DFE, *, now, trigger: str = "cli", operator: str = "alice", **kw
    ):
        """One run of the school through the simulator (what run_school returns)."""
        from uso_tui.sync.runner import run_school

        async with self.client() as client:
            return await run_school(
                self.store, dfe, now=now, client=client, trigger=trigger, operator=operator, **kw
            )

    def sync(self, now, dfe: str = DFE):
        """A run of the school done from synchronous code: its Run."""
        import asyncio

        return asyncio.run(self.run(dfe, now=now)).run
