"""Two schools of one local authority synced at once by separate processes (DESIGN section 3):
whatever the order of their commits, a new person arriving at both gets one account and a case
at the second school; an operator's create from a case racing such a run gives one account too.

Each run is a real `uso-tui sync` process against the IRIS simulator, held after it has planned
and before it commits (its `_plan_and_apply` waits for a line on stdin), so both plan before
either commits and the test chooses the order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli
from factories import enrolled_student

from uso_tui.domain.models import MatchCase, MisRecord
from uso_tui.store import open_store

SCHOOL_A, SCHOOL_B = "204-3210", "204-3211"  # two schools of local authority 204
CLIENT_ID = "race-client"
RUN_AT = "2026-09-01T12:00:00"  # the held runs' clock (after the setup's)
DUE = ("--daily-at", "10:00")  # a school added at 08:00 on RUN_AT's day is due by then
WAIT = 60  # seconds a child may take to plan or to finish (a bound, not a pace)


# People that resemble no one else here: each round brings new ones to both schools.
NEWCOMERS = [
    ("Zebedee", "Quartermain", "2014-02-17"),
    ("Ottoline", "Fairweather", "2013-06-05"),
    ("Barnaby", "Oyelaran", "2015-11-23"),
    ("Philippa", "Vandersloot", "2012-08-30"),
    ("Cosmo", "Achterberg", "2016-03-09"),
    ("Imelda", "Rasmussen", "2011-12-01"),
    ("Thaddeus", "Okonkwo", "2014-09-14"),
    ("Winifred", "Castellanos", "2013-01-27"),
]
ONLY_A = enrolled_student("a-only", "Aurelia", "Montgomery", "2012-04-04")
ONLY_B = enrolled_student("b-only", "Bertrand", "Nakamura", "2011-05-19")


def child(root: str, what: str, at: str) -> None:
    """`uso-tui sync DFE --json` (what: the DfE number) or `uso-tui run-due --json` (what:
    run-due), whose commit waits for "go" on stdin once it has planned."""
    from uso_tui.cli.main import main
    from uso_tui.sync import batch, runner

    module, name = (batch, "commit_batch") if what == "run-due" else (runner, "_plan_and_apply")
    commit = getattr(module, name)

    def held(*args, **kw):
        sys.stdout.write("planned\n")
        sys.stdout.flush()
        if sys.stdin.readline().strip() != "go":
            raise SystemExit(9)
        return commit(*args, **kw)

    setattr(module, name, held)
    stamp = datetime.fromisoformat(at)
    argv = ["run-due", "--at", at] if what == "run-due" else ["sync", what]
    sys.exit(main(["--data-dir", root, "--operator", "op", *argv, "--json"], clock=lambda: stamp))


class Held:
    """A sync (or run-due) process held between its plan and its commit."""

    def __init__(self, root: Path, dfe: str, at: str = RUN_AT) -> None:
        self.dfe = dfe
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(root), dfe, at],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def planned(self) -> None:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if line != "planned\n":
            out, err = self.proc.communicate(timeout=WAIT)
            raise AssertionError(f"{self.dfe} did not plan: {line}{out}{err}")

    def commit(self, commits: int = 1) -> Any:
        out, err = self.proc.communicate("go\n" * commits, timeout=WAIT)
        assert self.proc.returncode == 0, err
        return json.loads(out.removeprefix("planned\n" * (commits - 1)))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def cli(cli, sim) -> Cli:
    """Both schools added and synced once."""
    for dfe, first in ((SCHOOL_A, ONLY_A), (SCHOOL_B, ONLY_B)):
        cli.add_sim_school(sim, dfe, client_id=CLIENT_ID, students=[first], extra=DUE)
        cli.ok("sync", dfe)
    return cli


def accounts_of(root: Path, forename: str, surname: str) -> list:
    return [
        a
        for a in open_store(root).la_accounts("204", "pupil")
        if (a.forename, a.surname) == (forename, surname)
    ]


def race(root: Path, order: tuple[str, str]) -> dict[str, dict]:
    """Both schools planned, then committed in `order`; each run's JSON by school."""
    runs = {dfe: Held(root, dfe) for dfe in order}
    try:
        for held in runs.values():
            held.planned()
        return {dfe: runs[dfe].commit() for dfe in order}
    finally:
        for held in runs.values():
            held.kill()


@pytest.mark.slow  # two rounds of two processes each, both orders
@pytest.mark.parametrize(
    "order", [(SCHOOL_A, SCHOOL_B), (SCHOOL_B, SCHOOL_A)], ids=["A-first", "B-first"]
)
def test_a_newcomer_at_two_schools_synced_at_once_gets_one_account(cli, sim, order):
    root = cli.data_dir
    arrived: dict[str, list[dict]] = {SCHOOL_A: [ONLY_A], SCHOOL_B: [ONLY_B]}
    for rnd in range(2):
        people = NEWCOMERS[rnd * 3 : rnd * 3 + 3]
        for dfe in (SCHOOL_A, SCHOOL_B):
            arrived[dfe] += [
                enrolled_student(f"{dfe[-1]}-{rnd}-{i}", *p) for i, p in enumerate(people)
            ]
            sim.set_records(dfe, "students", arrived[dfe])
        # the order of the commits alternates between rounds too
        runs = race(root, order if rnd % 2 == 0 else order[::-1])
        first, second = order if rnd % 2 == 0 else order[::-1]
        assert runs[first]["counts"]["created"] == 3
        assert runs[second]["counts"]["created"] == 0
        assert runs[second]["counts"]["needs_matching"] == 3
        store = open_store(root)
        cases = {c.record["mis_id"]: c for c in store.cases(second, "open")}
        for index, (forename, surname, _dob) in enumerate(people):
            accounts = accounts_of(root, forename, surname)
            assert [a.school for a in accounts] == [first], (forename, accounts)
            case = cases[f"{second[-1]}-{rnd}-{index}"]
            assert [c["username"] for c in case.candidates] == [accounts[0].username]
        mine = f"{first[-1]}-{rnd}-"
        assert [c for c in store.cases(first, "open") if c.record["mis_id"].startswith(mine)] == []
    # a later run of both changes nothing of that: the cases wait for an operator
    for dfe in (SCHOOL_A, SCHOOL_B):
        again = json.loads(cli.ok("sync", dfe, "--json").out)
        assert again["counts"]["created"] == 0


@pytest.mark.parametrize("due_first", [True, False], ids=["run-due-first", "sync-first"])
def test_a_force_run_beside_run_due_gives_a_newcomer_one_account(cli, sim, due_first):
    """The daily run's pipeline (A is due; B is not) beside an operator's force run of B."""
    root = cli.data_dir
    cli.ok("school", "set", SCHOOL_B, "--daily-at", "23:00")
    forename, surname, dob = NEWCOMERS[7]
    for dfe in (SCHOOL_A, SCHOOL_B):
        others = ONLY_A if dfe == SCHOOL_A else ONLY_B
        sim.set_records(
            dfe, "students", [others, enrolled_student(f"{dfe[-1]}-new", forename, surname, dob)]
        )
    due, force = Held(root, "run-due"), Held(root, SCHOOL_B)
    try:
        due.planned()
        force.planned()
        first, second = (due, force) if due_first else (force, due)
        first.commit()
        second.commit()
    finally:
        due.kill()
        force.kill()
    [account] = accounts_of(root, forename, surname)
    later = SCHOOL_B if due_first else SCHOOL_A
    assert account.school == (SCHOOL_A if due_first else SCHOOL_B)
    [case] = open_store(root).cases(later, "open")
    assert [c["username"] for c in case.candidates] == [account.username]


@pytest.mark.parametrize("resolve_first", [True, False], ids=["resolve-first", "run-first"])
def test_create_from_a_case_racing_a_run_of_another_school_gives_one_account(
    cli, sim, resolve_first
):
    root = cli.data_dir
    forename, surname, dob = NEWCOMERS[6]
    # A case at A for the newcomer (its candidate has since become someone else, so the run at
    # B finds no one like them)
    store = open_store(root)
    with store.transaction("setup") as txn:
        case = MatchCase(
            case_id=txn.next_case_id(SCHOOL_A),
            school=SCHOOL_A,
            report="students",
            role="pupil",
            record=MisRecord(
                "students", "a-new", forename, surname, dob=dob, enrolment_date="2020-09-01"
            ).to_dict(),
            candidates=[],
            opened_at="2026-09-01T09:00:00",
        )
        txn.put_case(case)
    sim.set_records(
        SCHOOL_B, "students", [ONLY_B, enrolled_student("b-new", forename, surname, dob)]
    )
    run = Held(root, SCHOOL_B)
    try:
        run.planned()
        if resolve_first:
            made = cli.ok("resolve", case.case_id, "--create", "--json").json()
            result = run.commit()
            assert result["counts"]["created"] == 0 and result["counts"]["needs_matching"] == 1
            [account] = accounts_of(root, forename, surname)
            assert account.school == SCHOOL_A and made["decision"] == f"create:{account.username}"
            [at_b] = open_store(root).cases(SCHOOL_B, "open")
            assert [c["username"] for c in at_b.candidates] == [account.username]
            # the run's processed file says so too (`why` reads it)
            pf = open_store(root).processed_file(result["run_id"])
            assert pf is not None and "b-new" not in pf.created
            [row] = [r for r in pf.records if r["record"]["mis_id"] == "b-new"]
            assert row["outcome"] == "needs_matching" and account.username in row["reason"]
        else:
            result = run.commit()
            assert result["counts"]["created"] == 1
            refused = cli("resolve", case.case_id, "--create")
            assert refused.status == 2
            [account] = accounts_of(root, forename, surname)
            assert account.school == SCHOOL_B and account.username in refused.err
            assert "--match" in refused.err
            assert open_store(root).case(case.case_id).status == "open"
    finally:
        run.kill()


SCHOOL_C = "305-4120"  # of another local authority (305)
ONLY_C = enrolled_student("c-only", "Cressida", "Lindqvist", "2012-10-10")


def everyone_named(root: Path, forename: str, surname: str) -> list:
    store = open_store(root)
    return [
        a
        for la in ("204", "305")
        for a in store.la_accounts(la, "pupil")
        if (a.forename, a.surname) == (forename, surname)
    ]


def newcomer_at(sim, schools: dict[str, dict], mover: tuple[str, str, str], upn: str) -> None:
    forename, surname, dob = mover
    for dfe, others in schools.items():
        record = enrolled_student(f"{dfe[-1]}-new", forename, surname, dob, upn=upn)
        sim.set_records(dfe, "students", [others, record])


@pytest.mark.slow  # two processes
@pytest.mark.parametrize("a_first", [True, False], ids=["A-first", "C-first"])
def test_a_newcomer_at_schools_of_two_las_synced_at_once_gets_one_account(cli, sim, a_first):
    """Outside the LA the same names and date of birth, or the same UPN, are the mover's: the
    run that commits second finds the account the first made meanwhile, though its plan did
    not (DESIGN section 3: one person, one account)."""
    root = cli.data_dir
    cli.add_sim_school(sim, SCHOOL_C, client_id="race-client-c", students=[ONLY_C], extra=DUE)
    cli.ok("sync", SCHOOL_C)
    forename, surname, dob = NEWCOMERS[5]
    newcomer_at(sim, {SCHOOL_A: ONLY_A, SCHOOL_C: ONLY_C}, NEWCOMERS[5], "K801200011001")
    order = (SCHOOL_A, SCHOOL_C) if a_first else (SCHOOL_C, SCHOOL_A)
    runs = race(root, order)
    first, second = order
    assert runs[first]["counts"]["created"] == 1
    assert runs[second]["counts"]["created"] == 0
    assert runs[second]["counts"]["needs_matching"] == 1
    [account] = everyone_named(root, forename, surname)
    assert account.school == first
    [case] = open_store(root).cases(second, "open")
    assert [c["username"] for c in case.candidates] == [account.username]
    pf = open_store(root).processed_file(runs[second]["run_id"])
    assert pf is not None
    [row] = [r for r in pf.records if r["record"]["mis_id"] == f"{second[-1]}-new"]
    assert row["outcome"] == "needs_matching" and account.username in row["reason"]


@pytest.mark.slow  # two processes
def test_a_newcomer_found_under_the_lock_whatever_the_clock_of_the_run_that_made_them(cli, sim):
    """The account the other LA's run made meanwhile is found however that run was stamped
    (`run-due --at` a fortnight back, a clock gone wrong): not by its creation time."""
    root = cli.data_dir
    cli.add_sim_school(sim, SCHOOL_C, client_id="race-client-c", students=[ONLY_C], extra=DUE)
    cli.ok("sync", SCHOOL_C)
    forename, surname, _dob = NEWCOMERS[5]
    newcomer_at(sim, {SCHOOL_A: ONLY_A, SCHOOL_C: ONLY_C}, NEWCOMERS[5], "K801200011001")
    first, second = Held(root, SCHOOL_C, "2026-08-18T12:00:00"), Held(root, SCHOOL_A)
    try:
        first.planned()
        second.planned()
        first.commit()
        result = second.commit()
    finally:
        first.kill()
        second.kill()
    assert len(everyone_named(root, forename, surname)) == 1
    assert result["counts"]["created"] == 0 and result["counts"]["needs_matching"] == 1


def test_run_due_of_schools_of_two_las_gives_a_newcomer_one_account(cli, sim):
    """One daily run plans both schools before it commits either: the second sees the account
    the first committed."""
    root = cli.data_dir
    cli.add_sim_school(sim, SCHOOL_C, client_id="race-client-c", students=[ONLY_C], extra=DUE)
    cli.ok("sync", SCHOOL_C)
    cli.ok("school", "set", SCHOOL_B, "--daily-at", "23:00")
    forename, surname, _dob = NEWCOMERS[4]
    newcomer_at(sim, {SCHOOL_A: ONLY_A, SCHOOL_C: ONLY_C}, NEWCOMERS[4], "")
    due = Held(root, "run-due")
    try:
        due.planned()
        out = due.commit(commits=2)  # a batch each
    finally:
        due.kill()
    [account] = everyone_named(root, forename, surname)
    later = SCHOOL_C if account.school == SCHOOL_A else SCHOOL_A
    [case] = open_store(root).cases(later, "open")
    assert [c["username"] for c in case.candidates] == [account.username]
    assert sorted(r["counts"]["created"] for r in out if r["school"] != SCHOOL_B) == [0, 1], out


def test_create_from_a_case_after_another_las_run_made_the_account_is_refused(cli, sim):
    root = cli.data_dir
    cli.add_sim_school(sim, SCHOOL_C, client_id="race-client-c", students=[ONLY_C], extra=DUE)
    cli.ok("sync", SCHOOL_C)
    forename, surname, dob = NEWCOMERS[3]
    store = open_store(root)
    with store.transaction("setup") as txn:  # a case at C for the newcomer, with no candidate
        case = MatchCase(
            case_id=txn.next_case_id(SCHOOL_C),
            school=SCHOOL_C,
            report="students",
            role="pupil",
            record=MisRecord(
                "students", "c-new", forename, surname, dob=dob, enrolment_date="2020-09-01"
            ).to_dict(),
            candidates=[],
            opened_at="2026-09-01T09:00:00",
        )
        txn.put_case(case)
    sim.set_records(SCHOOL_A, "students", [ONLY_A, enrolled_student("a-new", *NEWCOMERS[3])])
    assert cli.ok("sync", SCHOOL_A, "--json").json()["counts"]["created"] == 1
    refused = cli("resolve", case.case_id, "--create")
    assert refused.status == 2
    [account] = everyone_named(root, forename, surname)
    assert account.school == SCHOOL_A and account.username in refused.err
    assert open_store(root).case(case.case_id).status == "open"


@pytest.mark.slow  # a held process
def test_an_account_moved_into_the_la_while_a_run_plans_is_the_runs_candidate(cli, sim):
    """Katherine left C (LA 305), arrived at B (LA 204): a mover's case there. She is keyed
    "Kate", with a date a digit out, at A (LA 204), whose run plans while an operator matches
    her account at B: the account joins the LA after the plan read it, under a username of
    LA 305. A's run finds it under the lock, as it would have had it planned after."""
    root = cli.data_dir
    cli.add_sim_school(sim, SCHOOL_C, client_id="race-client-c", students=[ONLY_C], extra=DUE)
    katherine = ("Katherine", "Rasmussen", "2011-12-01")
    sim.set_records(SCHOOL_C, "students", [ONLY_C, enrolled_student("c-k", *katherine)])
    cli.ok("sync", SCHOOL_C)
    sim.set_records(SCHOOL_C, "students", [ONLY_C])
    cli.ok("sync", SCHOOL_C)  # she left: her account unallocated
    sim.set_records(SCHOOL_B, "students", [ONLY_B, enrolled_student("b-k", *katherine)])
    cli.ok("sync", SCHOOL_B)
    [case_b] = open_store(root).cases(SCHOOL_B, "open")
    [account] = [c["username"] for c in case_b.candidates]
    assert account.endswith(".305")
    kate = enrolled_student("a-k", "Kate", "Rasmussen", "2011-12-07")
    sim.set_records(SCHOOL_A, "students", [ONLY_A, kate])
    run = Held(root, SCHOOL_A)
    try:
        run.planned()
        cli.ok("resolve", case_b.case_id, "--match", account)
        result = run.commit()
    finally:
        run.kill()
    assert result["counts"]["created"] == 0 and result["counts"]["needs_matching"] == 1
    assert [a.username for a in everyone_named(root, "Kate", "Rasmussen")] == []
    [case_a] = open_store(root).cases(SCHOOL_A, "open")
    assert [c["username"] for c in case_a.candidates] == [account]


if __name__ == "__main__":
    child(*sys.argv[1:])
