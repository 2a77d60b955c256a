"""Undoing a run (issue 15 item 1): on a real store, after real runs against the simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from factories import DFE, Env, iris_student

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account, AuditEvent, Run
from uso_tui.sync import admin
from uso_tui.sync.apply import AUDIT_FIELDS
from uso_tui.sync.undo import plan_undo, undo_preview, undo_run

DAY1 = datetime(2026, 3, 10, 9, 0, 0)
DAY2 = datetime(2026, 3, 11, 9, 0, 0)
DAY3 = datetime(2026, 3, 12, 9, 0, 0)
UNDO_AT = datetime(2026, 3, 13, 9, 0, 0)

AMY = iris_student("1", "Amy", "Jones", "2015-04-02")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11")
DAN = iris_student("5", "Dan", "Ford", "2013-02-02")
FAY = iris_student("9", "Fay", "Hill", "2012-09-09")
# day 2: Amy renamed, Bob gone, Fay back, Cat new, Eve arrives for her requested account, and a
# second "Bob Smith" that resembles Bob's account opens a case
AMY2 = iris_student("1", "Amy", "Jones-Lee", "2015-04-02")
CAT = iris_student("3", "Cat", "Brown", "2016-01-20")
EVE = iris_student("6", "Eve", "Green", "2015-05-05")
BOB_TWIN = iris_student("8", "Bob", "Smith", "2014-07-12")


@pytest.fixture
def env(tmp_path) -> Env:
    return Env(tmp_path / "store")


def state(store) -> dict[str, dict]:
    """Every account of the school's file, by the fields an undo puts back."""
    keys = (*AUDIT_FIELDS, "username", "status")
    return {
        a.username: {k: getattr(a, k) for k in keys}
        for a in store.school_accounts(DFE)
        if not a.extra.get("undone_create")
    }


def setup_day2(env: Env) -> tuple[dict, Run]:
    """Day 1 and a day where Fay left, then the day-2 run; returns the state before day 2."""
    env.add_school(students=[AMY, BOB, DAN, FAY], hold_min=100)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, BOB, DAN])
    env.sync(datetime(2026, 3, 10, 18, 0, 0))  # Fay unallocated
    admin.add_account(
        env.store,
        DFE,
        role="pupil",
        forename="Eve",
        surname="Green",
        dob="2015-05-05",
        operator="desk",
        now=datetime(2026, 3, 10, 19, 0, 0),
    )
    before = state(env.store)
    env.set_students(DFE, [AMY2, DAN, FAY, CAT, EVE, BOB_TWIN])
    run = env.sync(DAY2)
    counts = run.counts
    assert (
        counts["created"],
        counts["updated"],
        counts["unallocated"],
        counts["restored"],
        counts["auto_linked"],
    ) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert counts["needs_matching"] == 1
    return before, run


def test_undo_reverts_the_whole_run_where_nothing_changed_since(env):
    before, run = setup_day2(env)
    assert state(env.store) != before
    undo_plan, undo = undo_run(env.store, run.run_id, operator="bob", now=UNDO_AT)

    assert state(env.store) == before  # accounts, links, statuses, schools as they were
    assert undo_plan.reverted == {
        "created": 1,
        "updated": 1,
        "unallocated": 1,
        "moved": 0,
        "linked": 1,
        "restored": 1,
    }
    assert undo_plan.left_alone == []
    cat = next(a for a in env.store.school_accounts(DFE) if a.forename == "Cat")
    assert cat.status == "unallocated" and cat.mis_id is None and cat.school is None
    eve = next(a for a in env.store.school_accounts(DFE) if a.forename == "Eve")
    assert eve.mis_id is None and eve.source == "manual" and eve.status == "active"
    bob = next(a for a in env.store.school_accounts(DFE) if a.forename == "Bob")
    assert bob.status == "active" and bob.unallocated_at is None
    # the run's case is closed
    assert env.store.cases(DFE, "open") == []
    closed = [c for c in env.store.cases(DFE, None) if c.run_id == run.run_id]
    assert [c.decision for c in closed] == ["withdrawn"]
    # audited: a run of its own, one event per account reverted, and the undo itself
    assert undo.trigger == "undo" and env.store.run(undo.run_id).status == "succeeded"
    events = [e for e in env.store.audit(DFE) if e.run_id == undo.run_id]
    actions = sorted(e.action for e in events)
    assert actions == sorted(
        [
            "undo_create",
            "undo_update",
            "undo_unallocate",
            "undo_restore",
            "undo_auto_link",
            "case_withdrawn",
            "undo_run",
        ]
    )
    assert all(e.operator == "bob" for e in events)
    # once only; and an undo is not undone
    with pytest.raises(InvalidInput, match="already undone"):
        undo_run(env.store, run.run_id, operator="bob", now=UNDO_AT)
    with pytest.raises(InvalidInput, match="run again instead"):
        undo_run(env.store, undo.run_id, operator="bob", now=UNDO_AT)


def test_accounts_changed_since_are_left_alone_and_listed(env):
    before, run = setup_day2(env)
    env.set_students(DFE, [iris_student("1", "Amy", "Lee", "2015-04-02"), DAN, FAY, CAT, EVE])
    env.sync(DAY3)  # Amy renamed again: her account changed since the run
    amy_now = next(a for a in env.store.school_accounts(DFE) if a.forename == "Amy")
    undo_plan, _ = undo_run(env.store, run.run_id, operator="bob", now=UNDO_AT)
    assert undo_plan.left_alone == [amy_now.username]
    after = state(env.store)
    assert after[amy_now.username]["surname"] == "Lee"  # left as it is
    others = {u: v for u, v in after.items() if u != amy_now.username}
    assert others == {u: v for u, v in before.items() if u != amy_now.username}


def test_dry_run_writes_nothing(env, tmp_path):
    _, run = setup_day2(env)
    root = tmp_path / "store"
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}
    undo_plan = undo_preview(env.store, run.run_id, now=UNDO_AT)
    assert sum(undo_plan.reverted.values()) == 5 and len(undo_plan.cases) == 1
    now = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}
    assert now == files


def test_a_move_goes_back():
    """Pure: a run that brought an account from another school sends it back there."""
    acc = Account("mo.204", "pupil", "Mo", "Ve", "2011-02-02", DFE, source="mis", mis_id="4")
    acc.link_school, acc.link_report, acc.previous_school = DFE, "students", "204-9999"
    acc.last_event_at = "2026-03-11T09:00:00"
    acc.history = [{"at": acc.last_event_at, "action": "restore", "run_id": "R"}]
    ev = AuditEvent(
        acc.last_event_at,
        "alice",
        DFE,
        "restore",
        "mo.204",
        {"school": "204-9999", "previous_school": None},
        {"school": DFE, "previous_school": "204-9999"},
        "R",
    )
    run = Run("R", DFE, "cli", "alice")
    undo_plan = plan_undo(run, [ev], {"mo.204": acc}, [], "2026-03-13T09:00:00")
    assert undo_plan.reverted["moved"] == 1
    back = undo_plan.reverts[0].back
    assert back.school == "204-9999" and back.previous_school is None


CHILD = """
import os, signal, sys
from datetime import datetime
import uso_tui.store.journal as journal
from uso_tui.store import open_store
from uso_tui.sync.undo import undo_run
what, n = sys.argv[2].split(":"); n = int(n); calls = [0]
def dies_after(real):
    def dying(*args, **kwargs):
        real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
    return dying
if what == "write":  # while staging, before the commit point
    journal.write_new = dies_after(journal.write_new)
else:  # while renaming, after it
    journal.os.replace = dies_after(os.replace)
undo_run(open_store(sys.argv[1]), sys.argv[3], operator="bob", now=datetime(2026, 3, 13, 9))
print("done")
"""


def test_kill_9_during_an_undo_leaves_the_store_before_or_after_it(env, tmp_path):
    before, run = setup_day2(env)
    root = tmp_path / "store"
    during = state(env.store)
    seen = set()
    tries = [f"write:{n}" for n in (1, 2, 3)] + [f"rename:{n}" for n in range(1, 40)]
    for attempt, kill_at in enumerate(tries):
        copy = tmp_path / f"copy{attempt}"
        subprocess.run(["cp", "-a", str(root), str(copy)], check=True)
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(copy), kill_at, run.run_id],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        from uso_tui.store import open_store  # noqa: PLC0415

        store = open_store(copy)
        got = state(store)
        undone = [r for r in store.runs(DFE) if r.trigger == "undo"]
        if got == during:
            assert not undone and store.cases(DFE, "open")
            seen.add("before")
        else:
            assert got == before and len(undone) == 1 and not store.cases(DFE, "open")
            seen.add("after")
        if proc.returncode == 0:  # the undo finished before its n-th rename: no more to try
            assert "done" in proc.stdout and kill_at.startswith("rename")
            break
        assert proc.returncode == -signal.SIGKILL
    assert seen == {"before", "after"}


def test_cli_undo_run_json_and_dry_run(env, tmp_path, capsys):
    import json  # noqa: PLC0415

    from uso_tui.cli.main import main  # noqa: PLC0415

    _, run = setup_day2(env)
    base = ["--data-dir", str(tmp_path / "store"), "--operator", "bob", "undo-run", run.run_id]
    capsys.readouterr()
    assert main([*base, "--dry-run", "--json"], clock=lambda: UNDO_AT) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["undo_run_id"] is None and dry["reverted"]["created"] == 1
    # in words: a renamed account says what it goes back to ("updated Kwame Green" read as
    # either name), and whose undo it was
    assert main([*base, "--dry-run"], clock=lambda: UNDO_AT) == 0
    said = capsys.readouterr().out
    renamed = next(line for line in said.splitlines()[1:] if " updated " in line)
    assert renamed.rstrip().endswith(f"{AMY2['forename']} {AMY2['surname']} -> Amy Jones")
    assert main([*base, "--json"], clock=lambda: UNDO_AT) == 0
    done = json.loads(capsys.readouterr().out)
    assert set(done) >= {"run_id", "undo_run_id", "reverted", "left_alone"}
    assert set(done["reverted"]) >= {"created", "updated", "unallocated", "moved", "linked"}
    assert done["run_id"] == run.run_id and done["undo_run_id"].startswith(DFE)
    assert main([*base[:-1], done["undo_run_id"]], clock=lambda: UNDO_AT) == 2
    assert "run again instead" in capsys.readouterr().err


def test_a_held_run_once_undone_cannot_be_confirmed(env):
    """Undoing a held run left its held unallocations pending: a later confirm applied them
    (every pupil it held lost the account)."""
    from uso_tui.sync.actions import confirm_held

    env.add_school(students=[AMY, BOB, DAN, FAY], hold_min=1, hold_percent=10)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, DAN])  # two of four gone: held
    held = env.sync(DAY2)
    assert held.status == "held" and len(held.held_usernames) == 2
    _, undo = undo_run(env.store, held.run_id, operator="admin", now=UNDO_AT)
    with pytest.raises(InvalidInput, match="was undone"):
        confirm_held(env.store, held.run_id, operator="desk", now=UNDO_AT)
    assert all(a.status == "active" for a in env.store.school_accounts(DFE))
    # ... and it no longer reads as waiting for a confirm: `runs` listed it "held", as if a
    # confirm were due, and `run show` said to apply it with one
    after = env.store.run(held.run_id)
    assert after.undone_by == undo.run_id and after.shown_status() == "undone"
    assert after.public()["undone_by"] == undo.run_id


def test_runs_and_run_show_say_a_held_run_was_undone(env, tmp_path, capsys):
    from uso_tui.cli.main import main  # noqa: PLC0415

    env.add_school(students=[AMY, BOB, DAN, FAY], hold_min=1, hold_percent=10)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, DAN])
    held = env.sync(DAY2)
    _, undo = undo_run(env.store, held.run_id, operator="admin", now=UNDO_AT)
    base = ["--data-dir", str(tmp_path / "store"), "--operator", "bob"]
    capsys.readouterr()
    assert main([*base, "runs", DFE], clock=lambda: UNDO_AT) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(held.run_id))
    assert f"held, undone by {undo.run_id}" in line
    assert main([*base, "run", "show", held.run_id], clock=lambda: UNDO_AT) == 0
    said = capsys.readouterr().out
    assert f"held, undone by {undo.run_id}" in said and "uso-tui confirm" not in said


def test_a_failed_run_is_not_undone(env):
    env.add_school(students=[AMY, BOB])
    env.sim.set_switches(DFE, reject_credentials=True)
    failed = env.sync(DAY1)
    assert failed.status == "failed"
    with pytest.raises(InvalidInput, match="failed: it changed nothing"):
        undo_run(env.store, failed.run_id, operator="admin", now=UNDO_AT)
    assert [r.trigger for r in env.store.runs(DFE)] == [failed.trigger]  # no empty undo run


def test_a_held_run_is_out_of_date_after_a_later_numbered_run_whatever_the_clocks(env):
    """r3 made with a clock behind r2's (a run given an earlier time, a clock stepped back):
    confirming r2 is still refused, naming r3 (runs were ordered by their clock times)."""
    from uso_tui.sync.actions import confirm_held

    pupils = [iris_student(str(n), f"Kid{n}", "Fam", "2015-04-02") for n in range(1, 21)]
    env.add_school(students=pupils)
    env.sync(DAY1)
    env.set_students(DFE, pupils[:10])  # half gone: held whole by the export comparison
    second = env.sync(DAY3)
    third = env.sync(DAY2)
    assert (second.status, third.status) == (
        "held",
        "held",
    ) and third.started_at < second.started_at
    with pytest.raises(
        InvalidInput, match=f"confirm that one instead .uso-tui confirm {third.run_id}"
    ):
        confirm_held(env.store, second.run_id, operator="desk", now=UNDO_AT)


def test_an_account_the_undo_withdrew_is_on_no_list_for_restore_and_says_why(env):
    """`export unallocated` listed the accounts an undo withdrew (no one's), which `unallocated`
    and the console leave out; restoring one named the run as a case."""
    from uso_tui.sync.actions import restore_account
    from uso_tui.sync.export import list_rows

    _, run = setup_day2(env)
    undo_run(env.store, run.run_id, operator="bob", now=UNDO_AT)
    cat = next(a for a in env.store.school_accounts(DFE) if a.forename == "Cat")
    _, rows = list_rows(env.store, "unallocated", DFE, today=UNDO_AT.date())
    listed = {row["username"] for row in rows}
    assert cat.username not in listed and listed  # Fay's, unallocated by the run, is there
    with pytest.raises(InvalidInput, match=f"undone \\(run {run.run_id}\\)"):
        restore_account(env.store, cat.username, operator="bob", now=UNDO_AT)


def test_an_unallocation_undone_beside_the_person_s_newer_account_says_two_accounts(
    env, tmp_path, capsys
):
    """Amy left school A (unallocated), arrived at school B of the same local authority and was
    given a new account there (created on purpose); undoing A's run restored her old account
    beside the new one without a word (a restore says it)."""
    from uso_tui.cli.main import main  # noqa: PLC0415
    from uso_tui.sync.actions import resolve_case  # noqa: PLC0415
    from uso_tui.tui.undo_ask import undo_body  # noqa: PLC0415

    other = "204-3999"
    env.add_school(students=[AMY, BOB], hold_min=100)
    env.add_school(other, students=[DAN])
    env.sync(DAY1)
    env.set_students(DFE, [BOB])
    left = env.sync(DAY2)  # Amy unallocated
    env.sync(DAY2, other)
    env.set_students(other, [DAN, dict(AMY, schoolId="77")])
    env.sync(DAY3, other)
    [case] = env.store.cases(other, "open")
    resolve_case(env.store, case.case_id, operator="desk", now=DAY3, create=True, force=True)
    [newer] = [a.username for a in env.store.school_accounts(other) if a.forename == "Amy"]

    preview = undo_preview(env.store, left.run_id, now=UNDO_AT)
    assert [h.username for h in preview.beside["ajones.204"]] == [newer]
    assert f"ajones.204 restored beside {newer} (active at {other})" in undo_body(preview).plain
    base = ["--data-dir", str(tmp_path / "store"), "--operator", "bob", "undo-run", left.run_id]
    capsys.readouterr()
    assert main([*base, "--dry-run"], clock=lambda: UNDO_AT) == 0
    assert "they would have two accounts" in capsys.readouterr().err
    assert main([*base, "--json"], clock=lambda: UNDO_AT) == 0
    out = capsys.readouterr()
    assert "they now have two accounts" in out.err
    assert '"restored_beside"' in out.out and newer in out.out
    assert env.store.account("ajones.204").status == "active"  # reverted, as DESIGN says


def test_an_unallocation_whose_id_the_school_gave_another_child_since_is_not_undone(env, capsys):
    """Fay left (run r2 unallocated her); the school then gave her id to Zed, whom the next run
    listed as another person than her account. Undoing r2 put Fay back active, holding Zed's
    id: Zed blocked from an account, Fay active at a school she left. Left unallocated, and
    said why, in the preview, the undo and its JSON."""
    from uso_tui.cli.main import main

    env.add_school(students=[AMY, FAY], hold_min=100)
    env.sync(DAY1)
    env.set_students(DFE, [AMY])
    r2 = env.sync(DAY2)
    assert r2.counts["unallocated"] == 1
    env.set_students(DFE, [AMY, iris_student("9", "Zed", "Young", "2010-01-01")])
    env.sync(DAY3)
    [fay] = [a for a in env.store.school_accounts(DFE) if a.forename == "Fay"]
    assert fay.status == "unallocated"
    preview = undo_preview(env.store, r2.run_id, now=UNDO_AT)
    assert preview.reverts == [] and preview.left_alone == [fay.username]
    assert "its MIS record 9 now names Zed Young" in preview.id_given_lines()[0]
    args = ["--data-dir", str(env.store.root), "--operator", "alice", "undo-run", r2.run_id]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert '"id_given_to_another"' in out and f"account release {fay.username}" in err
    assert env.store.account(fay.username).status == "unallocated"


def test_accounts_asked_for_after_an_undone_run_join_their_records_by_themselves(env):
    """The undone run's accounts (unallocated, never to be restored) scored 99% as accounts
    "elsewhere" of each record: every account asked for afterwards became a case, with the
    mistaken account offered beside the right one."""
    from uso_tui.sync import admin

    env.add_school(students=[AMY, BOB])
    r1 = env.sync(DAY1)
    undo_run(env.store, r1.run_id, operator="alice", now=DAY2)
    for s in (AMY, BOB):
        admin.add_account(
            env.store, DFE, role="pupil", forename=s["forename"], surname=s["surname"],
            dob=s["dob"], operator="alice", now=DAY2, force=True,
        )  # fmt: skip
    assert env.sync(DAY3).counts["auto_linked"] == 2


def test_an_account_asked_for_beside_the_person_s_old_account_joins_no_record_by_itself(env):
    """Amy left (her account unallocated, restorable) and an account was asked for her with
    --force; her record back under a new MIS id took the account asked for by itself, her old
    one never shown. Unlike the undone run's accounts above, hers is someone's: a case."""
    from uso_tui.sync import admin

    env.add_school(students=[AMY, BOB])
    env.sync(DAY1)
    env.set_students(DFE, [BOB])
    assert env.sync(DAY2).counts["unallocated"] == 1
    admin.add_account(
        env.store, DFE, role="pupil", forename="Amy", surname="Jones", dob=AMY["dob"],
        operator="alice", now=DAY2, force=True,
    )  # fmt: skip
    env.set_students(DFE, [BOB, {**AMY, "schoolId": "11"}])
    run = env.sync(DAY3)
    assert run.counts["auto_linked"] == 0 and run.counts["needs_matching"] == 1


def test_an_account_unallocated_as_the_duplicate_of_one_asked_for_stops_no_link(env):
    """Amy's account made by a run, one asked for her since, and hers unallocated in the
    duplicates review as that one's duplicate: an operator chose the account asked for, yet her
    record was a case offering both again, every run."""
    from factories import acc

    from uso_tui.sync.duplicates import unallocate_duplicate

    env.add_school(students=[AMY, BOB])
    env.sync(DAY1)
    with env.store.transaction("t") as txn:  # (asked for before the MIS sent her, made since)
        txn.put_account(acc("ajones9.204", "Amy", "Jones", AMY["dob"], school=DFE))
    unallocate_duplicate(env.store, "ajones.204", "ajones9.204", operator="alice", now=DAY2)
    run = env.sync(DAY3)
    assert run.counts["auto_linked"] == 1
    assert env.store.account("ajones9.204").mis_id == AMY["schoolId"]


def _amy_unallocated_as_a_duplicate_then_matched_and_undone(env, updated: bool = False) -> str:
    """Amy's account unallocated as the duplicate of one asked for her (ajones9.204), then
    matched to another record's case (forced) and the match undone (`updated`: after a run
    updated the account from that record): its own link, as the unallocation left it."""
    from factories import acc

    from uso_tui.sync.actions import resolve_case, undo_decision
    from uso_tui.sync.duplicates import unallocate_duplicate

    env.add_school(students=[AMY, BOB])
    env.sync(DAY1)
    with env.store.transaction("t") as txn:
        txn.put_account(acc("ajones9.204", "Amy", "Jones", AMY["dob"], school=DFE))
    unallocate_duplicate(env.store, "ajones.204", "ajones9.204", operator="alice", now=DAY2)
    own = env.store.account("ajones.204").previous_link
    env.set_students(DFE, [iris_student("5", "Amy", "Jones", "2015-04-20"), BOB])
    env.sync(DAY3)
    [case] = [c for c in env.store.cases(DFE, "open") if c.record["mis_id"] == "5"]
    at = datetime(2026, 3, 12, 10)
    resolve_case(env.store, case.case_id, operator="desk", now=at, match="ajones.204", force=True)
    if updated:
        renamed = iris_student("5", "Amy", "Jones", "2015-04-20", preferredName="Ammy")
        env.set_students(DFE, [renamed, BOB])
        assert env.sync(datetime(2026, 3, 12, 11)).counts["updated"] == 1
        at = datetime(2026, 3, 12, 12)
    undo_decision(env.store, case.case_id, operator="desk", now=at)
    assert env.store.account("ajones.204").previous_link == own
    return own


@pytest.mark.parametrize("updated", [False, True], ids=["undone-at-once", "updated-by-a-run"])
def test_a_duplicate_s_match_undone_leaves_it_a_duplicate_and_its_own_link(env, updated):
    """The undo's entry was the account's last: read as no duplicate's unallocation, the kept
    account's record was a case again, and a restore dropped the duplicate's own link. Also
    when a run updated the account between the match and its undo: the undo's one entry was
    read as taking back the update alone, the match standing (found by an audit)."""
    from uso_tui.sync.actions import restore_account
    from uso_tui.sync.undone import duplicate_of

    own = _amy_unallocated_as_a_duplicate_then_matched_and_undone(env, updated)
    undone = env.store.account("ajones.204")
    assert undone.status == "unallocated" and duplicate_of(undone) == "ajones9.204"
    env.set_students(DFE, [AMY, BOB])
    assert env.sync(datetime(2026, 3, 13, 9)).counts["auto_linked"] == 1
    assert env.store.account("ajones9.204").mis_id == AMY["schoolId"]
    later = datetime(2026, 3, 13, 10)
    assert restore_account(env.store, "ajones.204", operator="desk", now=later).previous_link == own


def test_an_undone_run_s_export_is_not_the_latest(env):
    """A held run whose export lacked Bob was undone: its export is undone with it, yet it was
    still read as the school's latest, so Bob's account, linked to a record of the export
    before, read as in no export and could be matched away from him with --force."""
    from uso_tui.sync.checks import latest_export_ids

    env.add_school(students=[AMY, BOB, DAN, FAY], hold_min=1, hold_percent=10)
    env.sync(DAY1)
    everyone = latest_export_ids(env.store, DFE, "students")
    env.set_students(DFE, [AMY, DAN])
    held = env.sync(DAY2)
    assert latest_export_ids(env.store, DFE, "students") == {AMY["schoolId"], DAN["schoolId"]}
    undo_run(env.store, held.run_id, operator="admin", now=UNDO_AT)
    assert latest_export_ids(env.store, DFE, "students") == everyone


def test_undoing_the_run_that_relinked_a_restored_account_keeps_its_former_link(env):
    """A restored account relinks automatically only to its former MIS id (DESIGN rule 6). Its
    relink undone, the account lost that former link: a later record of the same names and date
    under another id was linked to it with no one asked."""
    from uso_tui.sync.actions import restore_account

    env.add_school(students=[AMY, BOB, DAN], hold_min=100)
    env.sync(DAY1)
    env.set_students(DFE, [AMY, DAN])
    env.sync(DAY2)  # Bob unallocated
    restore_account(env.store, "bsmith.204", operator="desk", now=DAY2)
    former = env.store.account("bsmith.204").previous_link
    assert former == f"{DFE}/students/2"
    env.set_students(DFE, [AMY, BOB, DAN])
    relinked = env.sync(DAY3)
    assert relinked.counts["auto_linked"] == 1
    undo_run(env.store, relinked.run_id, operator="desk", now=UNDO_AT)
    assert env.store.account("bsmith.204").previous_link == former
    env.set_students(DFE, [AMY, DAN, iris_student("22", "Bob", "Smith", "2014-07-11")])
    later = env.sync(datetime(2026, 3, 14, 9, 0, 0))
    assert later.counts["auto_linked"] == 0 and later.counts["needs_matching"] == 1
    assert env.store.account("bsmith.204").mis_id is None


def test_an_undo_is_refused_while_a_run_of_the_school_is_in_progress(env):
    """A school has one run at a time, and an undo is one: undone while a run of the school was
    between its plan and its commit, the run made again all that was undone, nothing said."""
    from uso_tui.sync.runner import RunInProgress, _claim

    _before, run = setup_day2(env)
    running = _claim(env.store, DFE, "cli", "bob", ["students"], "2026-03-12T09:00:00")
    accounts = state(env.store)
    with pytest.raises(RunInProgress, match=f"{running.run_id}"):
        undo_run(env.store, run.run_id, operator="desk", now=UNDO_AT)
    assert state(env.store) == accounts
    assert env.store.run(run.run_id).undone_by is None


def _kept_for_a_duplicate(env, role, forename, surname, dob) -> tuple[Run, str, str]:
    """Zoe Hart's account made by a run at DFE; another (`role`, names, `dob`) added at another
    school and unallocated as its duplicate: (the run, Zoe's username, the other's)."""
    from uso_tui.sync.duplicates import unallocate_duplicate

    other = "204-3211"
    zoe = iris_student("7", "Zoe", "Hart", "2014-05-05", enrolmentDate="2020-09-01")
    env.add_school(students=[zoe], hold_min=100)
    env.add_school(other, students=[], hold_min=100)
    made = env.sync(DAY1)
    (mine,) = [a.username for a in env.store.school_accounts(DFE)]
    second = admin.add_account(env.store, other, role=role, forename=forename, surname=surname,
                               dob=dob, operator="desk", now=DAY1, force=True)  # fmt: skip
    unallocate_duplicate(env.store, second.username, mine, operator="desk", now=DAY1)
    return made, mine, second.username


@pytest.mark.parametrize(
    ("role", "forename", "surname", "dob"),
    [
        ("pupil", "Zoe", "Hart", "2014-05-06"),  # a day out
        ("staff", "Zoe", "Hart", "2014-05-05"),  # the other role (the review pairs them)
        ("pupil", "Hart", "Zoe", "2014-05-05"),  # names the wrong way round
        ("pupil", "Zoe", "Harte", "2014-05-05"),  # a surname slip
        ("pupil", "Zoe", "Hart", "2014-05-08"),  # a digit slip
    ],
)
def test_a_duplicate_kept_unallocated_is_found_as_the_review_paired_it(
    env, role, forename, surname, dob
):
    made, mine, second = _kept_for_a_duplicate(env, role, forename, surname, dob)
    assert undo_preview(env.store, made.run_id, now=DAY2).orphaned == {mine: [second]}


def test_undoing_the_creation_a_duplicate_decision_kept_says_the_person_has_none_left(env, cli_at):
    """Zoe's account made by a run, a second added at another school, the second unallocated
    as the first's duplicate; then the run is undone: the first taken away, the second still
    unallocated, Zoe had no account, and nothing said so."""
    made, mine, second = _kept_for_a_duplicate(env, "pupil", "Zoe", "Hart", "2014-05-05")
    preview = undo_preview(env.store, made.run_id, now=DAY2)
    assert preview.orphaned == {mine: [second]}
    assert preview.public(None)["duplicates_left_unallocated"] == {mine: [second]}
    res = cli_at(env.store.root)("undo-run", made.run_id)
    assert f"no active account (`uso-tui restore {second}` gives one back)" in res.err
