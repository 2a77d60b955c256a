"""Unchanged records recognised without being parsed (sync.fingerprints): the same outcome, accounts and
processed file as parsing everything, and never trusted once an account or the rules differ."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import datetime, timedelta

import httpx
import orjson
import pytest
from factories import DFE, HOST, Env, NoSleep, iris_student, settings

from uso_tui.domain.models import PROCESSED_COLUMNS, Export, MatchCase, MisRecord, School
from uso_tui.iris.client import IrisClient
from uso_tui.iris.datagen import ChurnRates, advance, generate_estate
from uso_tui.iris.parse import PARSERS, parse_student
from uso_tui.iris.simulator import Simulator
from uso_tui.store import open_store
from uso_tui.sync import runner
from uso_tui.sync.fingerprints import fingerprint, record_row, sieves
from uso_tui.sync.plan import account_from_record, plan, unallocated
from uso_tui.sync.plan_types import Snapshot
from uso_tui.sync.runner import run_school

NOW = datetime(2026, 3, 10, 9, 30, 0)
AMY = iris_student("1", "Amy", "Jones", "2015-04-02", yearGroup=5, formGroup="5B")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11T00:00:00")
CAT = iris_student("3", "Cat", "Brown", "2016-01-20", preferredName="Kitty")


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path / "store")


async def sync(env: Env, now: datetime = NOW, **kw):
    return await env.run(now=now, **kw)


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The MIS ids of the student records the client parses."""
    seen: list[str] = []

    def counting(row):
        rec = parse_student(row)
        seen.append(rec.mis_id)
        return rec

    monkeypatch.setitem(PARSERS, "students", counting)
    return seen


def outcomes(run_id: str, env: Env) -> dict[str, tuple[str, str | None]]:
    pf = env.store.processed_file(run_id)
    return {r["record"]["mis_id"]: (r["outcome"], r["username"]) for r in pf.records}


async def test_unchanged_records_are_not_parsed_and_keep_their_processed_rows(env, parsed):
    env.add_school(students=[AMY, BOB, CAT])
    first = await sync(env)
    assert sorted(parsed) == ["1", "2", "3"]
    assert set(env.store.school_state(DFE).seen["students"]) == {"1", "2", "3"}

    parsed.clear()
    env.set_students(DFE, [AMY, {**BOB, "surname": "Smith-Jones"}, CAT])
    second = await sync(env, NOW + timedelta(days=1))
    assert parsed == ["2"]  # only the changed record
    assert second.run.counts["fetched"] == 3
    assert second.run.counts["unchanged"] == 2 and second.run.counts["updated"] == 1
    assert [r[1] for r in second.plan.same_rows] == ["1", "3"]  # (report, mis_id, ...)
    # the processed file holds the records exactly as parsing them gives
    rows1 = {r["record"]["mis_id"]: r for r in env.store.processed_file(first.run.run_id).records}
    rows2 = {r["record"]["mis_id"]: r for r in env.store.processed_file(second.run.run_id).records}
    for mis_id in ("1", "3"):
        assert rows2[mis_id]["record"] == rows1[mis_id]["record"]
        assert rows2[mis_id]["outcome"] == "unchanged"
        assert rows2[mis_id]["username"] == rows1[mis_id]["username"]
    assert rows2["2"]["record"]["surname"] == "Smith-Jones"

    parsed.clear()
    third = await sync(env, NOW + timedelta(days=2))
    assert parsed == [] and third.run.counts["unchanged"] == 3  # Bob's new fingerprint kept


async def test_an_account_changed_since_drops_the_schools_fingerprints(env, parsed):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    amy = env.store.account("ajones.204")
    with env.store.transaction("bob-at-the-desk") as txn:
        txn.put_accounts([dataclasses.replace(amy, surname="Jonas")])
    assert env.store.school_state(DFE).seen == {}
    parsed.clear()
    res = await sync(env, NOW + timedelta(days=1))
    assert sorted(parsed) == ["1", "2"]  # every record, once
    assert res.run.counts["updated"] == 1 and res.run.counts["unchanged"] == 1
    assert env.store.account("ajones.204").surname == "Jones"  # the MIS wins again
    parsed.clear()
    await sync(env, NOW + timedelta(days=2))
    assert parsed == []  # fingerprints made again by that run


async def test_a_change_that_leaves_every_account_as_it_was_keeps_the_fingerprints(env, parsed):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    with env.store.transaction("alice") as txn:  # an exclusion, a run record: no account
        txn.add_exclusion(DFE, "Zed", "Zulu", None, "2026-03-10T10:00:00")
    assert set(env.store.school_state(DFE).seen["students"]) == {"1", "2"}
    parsed.clear()
    await sync(env, NOW + timedelta(days=1))
    assert parsed == []


async def test_a_file_without_the_hash_of_its_accounts_gives_no_fingerprints(env, parsed):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    path = env.store.root / "schools" / DFE / "data.json"
    data = orjson.loads(path.read_bytes())
    assert data["meta"]["1"].pop("accounts_hash") is not None
    path.write_bytes(orjson.dumps(data))  # as an older uso-tui wrote it
    assert env.store.school_state(DFE).seen == {}
    parsed.clear()
    await sync(env, NOW + timedelta(days=1))
    assert sorted(parsed) == ["1", "2"]


async def test_another_reports_run_that_changes_accounts_drops_the_fingerprints(env, parsed):
    ann = {"id": "s1", "forename": "Ann", "surname": "Teach", "dateOfBirth": "1980-01-01"}
    env.add_school(students=[AMY, BOB], staff=[ann], reports=["students", "staff"])
    await sync(env)
    assert set(env.store.school_state(DFE).seen) == {"students", "staff"}
    env.sim.set_records(DFE, "staff", [{**ann, "surname": "Teacher"}])
    await sync(env, NOW + timedelta(hours=1), reports=["staff"])
    assert set(env.store.school_state(DFE).seen) == {"staff"}
    parsed.clear()
    res = await sync(env, NOW + timedelta(days=1))
    assert sorted(parsed) == ["1", "2"] and res.run.counts["unchanged"] == 3


async def test_an_unallocated_account_whose_record_is_unchanged_is_restored(env, parsed):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    amy = env.store.account("ajones.204")
    with env.store.transaction("alice") as txn:  # as a run that found Amy absent would have
        txn.put_accounts([unallocated(amy, DFE)])
    parsed.clear()
    res = await sync(env, NOW + timedelta(days=1))
    assert sorted(parsed) == ["1", "2"]  # an account changed since: every record parsed
    assert res.run.counts["restored"] == 1
    assert env.store.account("ajones.204").status == "active"


async def test_a_record_with_a_leaving_date_keeps_no_fingerprint(env, parsed):
    dated = {**BOB, "leavingDate": "2026-03-12T00:00:00"}
    env.add_school(students=[AMY, dated])
    await sync(env)
    assert set(env.store.school_state(DFE).seen["students"]) == {"1"}
    parsed.clear()
    res = await sync(env, datetime(2026, 3, 12, 9, 0))  # the same raw record, now a leaver
    assert parsed == ["2"]
    assert outcomes(res.run.run_id, env)["2"][0] == "leaver"


class OddField(httpx.AsyncBaseTransport):
    """The simulator's answers with a field (`name`) added to Bob's record, written by Python's
    json (orjson, which the simulator writes with, cannot write it either)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, field: object, name: str = "address"
    ) -> None:
        self.inner, self.field, self.name = inner, field, name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        body = await answer.aread()
        if "/api/students" not in request.url.path:
            return httpx.Response(answer.status_code, headers=answer.headers, content=body)
        page = json.loads(body)
        for record in page["students"]:
            if record.get("schoolId") == "2":
                record[self.name] = self.field
        return httpx.Response(200, json=None, content=json.dumps(page).encode())


@pytest.mark.parametrize("name", ["address", "yearGroup"], ids=["unused-field", "used-field"])
async def test_a_record_with_a_field_that_cannot_be_encoded_is_fingerprinted_without_it(
    env, parsed, name
):
    """A field nested 300 deep (orjson reads it, but writes 255 levels at most): every run of
    the school failed ("Recursion limit reached") while the dry run passed, then the record was
    parsed at every run. An unused field is not kept: the record is fingerprinted as any other;
    a used one nested makes the record invalid (never fingerprinted), and every run says so."""
    deep: object = {"a": None}
    for _ in range(300):
        deep = {"a": deep}
    assert fingerprint({"deep": deep}) is None
    env.add_school(students=[AMY, BOB])

    async def run(now: datetime):
        transport = OddField(env.sim.transport(), deep, name)
        async with IrisClient(
            allowed_hosts=frozenset({HOST}), transport=transport, sleep=NoSleep()
        ) as client:
            return await run_school(
                env.store, DFE, now=now, client=client, trigger="cli", operator="alice"
            )

    first = await run(NOW)
    assert first.run.status == "succeeded", first.run.error
    assert first.run.counts["created"] == (2 if name == "address" else 1)
    parsed.clear()
    again = await run(NOW + timedelta(days=1))
    assert again.run.status == "succeeded"
    if name == "address":
        assert parsed == [] and outcomes(again.run.run_id, env)["2"][0] == "unchanged"
    else:
        assert parsed == ["2"]
        rows = {
            r["record"]["mis_id"]: r for r in env.store.processed_file(again.run.run_id).records
        }
        assert rows["2"]["outcome"] == "invalid"
        assert rows["2"]["reason"] == "unreadable yearGroup (an object)"


async def test_fingerprints_of_another_parser_version_are_not_recognised(env, parsed, monkeypatch):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    monkeypatch.setattr("uso_tui.sync.fingerprints.VERSION", 99)
    parsed.clear()
    res = await sync(env, NOW + timedelta(days=1))
    assert sorted(parsed) == ["1", "2"] and res.run.counts["unchanged"] == 2


async def test_a_dry_run_parses_and_lists_every_record(env, parsed):
    env.add_school(students=[AMY, BOB])
    await sync(env)
    parsed.clear()
    res = await sync(env, NOW + timedelta(days=1), dry_run=True)
    assert sorted(parsed) == ["1", "2"]
    assert len(res.plan.outcomes) == 2 and res.plan.same_rows == []


# ---- the planner given recognised records ----


def _stored(rec: MisRecord, username: str) -> dict:
    """An account row as the store keeps it (fields at their default left out)."""
    row = orjson.loads(orjson.dumps(account_from_record(rec, DFE, username)))
    return {k: v for k, v in row.items() if v not in (None, "", [], {})}


def _recognised(raw: dict, row: dict) -> Export:
    fps = {row["mis_id"]: fingerprint(raw)}
    sieve = sieves(DFE, [row], {"students": fps})["students"]
    token = sieve(row["mis_id"], raw)
    assert token is not None
    return Export(
        report="students",
        records=[],
        pages=1,
        same={row["mis_id"]: (raw, token)},
        raw={},
        parse=parse_student,
    )


def test_a_recognised_record_is_unchanged_only_against_the_row_it_was_checked_with():
    row = _stored(parse_student(AMY), "ajones.204")
    exp = _recognised(AMY, row)
    today = NOW.date()
    planned = plan(exp, Snapshot(school=DFE, rows=[row]), today, settings())
    assert (
        planned.outcomes == [] and planned.counts["unchanged"] == 1 and len(planned.same_rows) == 1
    )
    # a snapshot read again (another row object, even if equal): parsed and planned as usual
    planned = plan(exp, Snapshot(school=DFE, rows=[dict(row)]), today, settings())
    assert planned.same_rows == [] and [o.outcome for o in planned.outcomes] == ["unchanged"]
    assert planned.seen == {"1": fingerprint(AMY)}


def test_a_recognised_record_whose_account_is_not_active_here_is_planned_as_usual():
    row = {
        **_stored(parse_student(AMY), "ajones.204"),
        "status": "unallocated",
        "school": None,
        "previous_school": DFE,
    }
    planned = plan(_recognised(AMY, row), Snapshot(school=DFE, rows=[row]), NOW.date(), settings())
    assert planned.same_rows == [] and [o.outcome for o in planned.outcomes] == ["restored"]


def test_a_recognised_record_with_an_open_case_is_planned_as_usual():
    row = _stored(parse_student(AMY), "ajones.204")
    exp = _recognised(AMY, row)
    case = MatchCase(
        case_id="204-3210-c1",
        school=DFE,
        report="students",
        role="pupil",
        record=parse_student(AMY).to_dict(),
        candidates=[],
        run_id="r",
        opened_at="2026-03-01T00:00:00",
    )
    planned = plan(exp, Snapshot(school=DFE, rows=[row], open_cases=[case]), NOW.date(), settings())
    assert planned.same_rows == [] and [c.decision for c in planned.case_changes] == ["withdrawn"]


def test_record_row_is_the_parse_of_the_record_an_account_holds():
    estate = generate_estate(5, 4, 1, today=NOW.date(), size=120)
    sim = Simulator.from_estate(estate)
    checked = 0
    for school in sim.schools:
        for report in ("students", "staff"):
            for raw in school.records(report):
                rec = PARSERS[report](raw)
                if rec.leaving_date or not rec.dob or not rec.forename or not rec.surname:
                    continue
                row = _stored(rec, "x.204")
                got = record_row(report, rec.mis_id, row, "unchanged", "why", "x.204")
                want = (*(getattr(rec, k) for k in PROCESSED_COLUMNS[:-3]), "unchanged", "why")
                assert got == (*want, "x.204")
                assert len(got) == len(PROCESSED_COLUMNS)
                checked += 1
    assert checked > 300


# ---- many days of churn: the same store as parsing every record ----


@contextlib.contextmanager
def no_sieves(monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(runner, "sieves_for", lambda state, reports, fingerprints=True: None)
        yield


def _school_view(store, dfe: str, run_id: str) -> tuple:
    accounts = sorted((a.to_dict() for a in store.school_accounts(dfe)), key=str)
    pf = store.processed_file(run_id)
    rows = sorted(orjson.dumps(r) for r in pf.records)
    cases = sorted(
        (c.record["mis_id"], c.status, [x["username"] for x in c.candidates])
        for c in store.cases(dfe, status=None)
    )
    return accounts, rows, cases, pf.counts


async def test_days_of_churn_give_the_same_store_with_and_without_fingerprints(
    tmp_path, monkeypatch
):
    estate = generate_estate(9, 3, 1, today=NOW.date(), size=90)
    sim = Simulator.from_estate(estate)
    stores = {k: open_store(tmp_path / k) for k in ("sieved", "parsed")}
    for store in stores.values():
        store.set_allowed_mis_hosts([HOST])
        with store.transaction("tester") as txn:
            for school in estate.schools:
                txn.add_school(
                    School(
                        dfe=school.dfe,
                        name=school.name,
                        mis=school.mis,
                        url=f"http://{HOST.split(':')[0]}/{school.dfe}",
                        client_id=school.client_id,
                        reports=["students", "staff"],
                        hold_min=100_000,  # a big day of churn, applied
                    ),
                    school.secret,
                )
    rates = ChurnRates().scaled(15)
    recognised = 0
    for day in range(4):
        now = datetime.combine(estate.today, datetime.min.time()).replace(hour=9)
        async with IrisClient(
            allowed_hosts=frozenset({HOST}), transport=sim.transport(), sleep=NoSleep()
        ) as client:
            for school in estate.schools:
                kw = dict(now=now, client=client, trigger="cli", operator="alice")
                sieved_result = await run_school(stores["sieved"], school.dfe, **kw)
                with no_sieves(monkeypatch):
                    parsed_result = await run_school(stores["parsed"], school.dfe, **kw)
                assert sieved_result.run.status == parsed_result.run.status == "succeeded"
                recognised += sum(len(p.same_rows) for p in sieved_result.plans.values())
                assert sum(len(p.same_rows) for p in parsed_result.plans.values()) == 0
                assert _school_view(
                    stores["sieved"], school.dfe, sieved_result.run.run_id
                ) == _school_view(stores["parsed"], school.dfe, parsed_result.run.run_id), (
                    f"day {day}, school {school.dfe}"
                )
        advance(sim.estate, days=1, rates=rates)
        sim.refresh()
    assert recognised > 500


def test_a_sieve_knows_the_ids_linked_to_active_accounts_with_fingerprints_or_none():
    """What the client checks a report of several pages against (a linked record left out is
    fetched again): every MIS id of the report linked to an active account of the school, also
    before any fingerprint was kept (a first run); not an unallocated account's, nor another
    school's or report's."""
    from uso_tui.sync.fingerprints import sieves  # noqa: PLC0415

    rows = [
        {"mis_id": "1", "link_school": "204-3210", "link_report": "students"},
        {"mis_id": "2", "link_school": "204-3210", "link_report": "students", "status": "active"},
        {
            "mis_id": "3",
            "link_school": "204-3210",
            "link_report": "students",
            "status": "unallocated",
        },
        {"mis_id": "4", "link_school": "204-9999", "link_report": "students"},
        {"mis_id": "5", "link_school": "204-3210", "link_report": "staff"},
    ]
    got = sieves("204-3210", rows, {"students": {}, "staff": {"5": 1}})
    assert got["students"].linked == {"1", "2"} and got["staff"].linked == {"5"}


def test_a_dry_run_s_sieves_parse_every_record_and_know_the_linked_ones(tmp_path):
    """A dry run lists every record's outcome (none is recognised unparsed), yet its client
    checks a report of several pages that leaves out linked records as a run's does."""
    from uso_tui.sync.runner import sieves_for  # noqa: PLC0415

    env = Env(tmp_path / "store")
    env.add_school(students=[iris_student("1", "Amy", "Jones", "2015-04-02")])
    env.sync(datetime(2026, 3, 10, 9, 0, 0))
    state = env.store.school_state(DFE)
    run_sieve = sieves_for(state, ["students"])["students"]
    dry_sieve = sieves_for(state, ["students"], fingerprints=False)["students"]
    assert run_sieve.linked == dry_sieve.linked == {"1"}
    raw = {"schoolId": "1", "forename": "Amy", "surname": "Jones", "dob": "2015-04-02"}
    assert dry_sieve("1", raw) is None and not dry_sieve.fps
