"""kill -9 in the middle of large commits (including a move between two schools): the store never
corrupts and never shows half a commit, to a reader during the commits or after recovery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from uso_tui.domain.models import Account, AuditEvent, School
from uso_tui.store import open_store

SCHOOL_A, SCHOOL_B = "204-0001", "204-0002"
PER_SCHOOL = 1000
MOVER = "mover.204"
MODES = ("fast", "slow-rename", "slow-staging")


def build(root: Path) -> None:
    store = open_store(root)
    with store.transaction("setup") as tx:
        for dfe in (SCHOOL_A, SCHOOL_B):
            tx.add_school(School(dfe, "gen 0", "iSAMS", "https://x.isams.cloud", "c"), "secret")
        accounts = [
            Account(f"p{i}{dfe[-1]}.204", "pupil", f"P{i}", f"Family{dfe[-1]}", "2011-01-01", dfe)
            for dfe in (SCHOOL_A, SCHOOL_B)
            for i in range(PER_SCHOOL)
        ]
        accounts.append(Account(MOVER, "pupil", "Mo", "Ver", "2011-02-02", SCHOOL_A))
        for account in accounts:
            account.extra["gen"] = 0
        tx.put_accounts(accounts)


def die_after(count: int, real):
    """`real`, but SIGKILL this process right after its `count`-th call."""
    calls = [0]

    def wrapper(*args, **kwargs):
        real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == count:
            os.kill(os.getpid(), signal.SIGKILL)

    return wrapper


def child(root: str, mode: str) -> None:
    """Commit generation after generation until killed."""
    import uso_tui.store.journal as journal  # noqa: PLC0415

    if mode.startswith("die-after-write-"):
        journal.write_new = die_after(int(mode.rsplit("-", 1)[1]), journal.write_new)
    elif mode.startswith("die-after-rename-"):
        journal.os.replace = die_after(int(mode.rsplit("-", 1)[1]), os.replace)
    # Widen the staging or the rename phase so that kills land inside each of them often.
    elif mode == "slow-rename":
        real_replace = os.replace

        def slow_replace(src, dst):
            time.sleep(0.02)
            real_replace(src, dst)

        journal.os.replace = slow_replace  # type: ignore[attr-defined]
    elif mode == "slow-staging":
        real_write_new = journal.write_new

        def slow_write_new(path, data, **kw):
            time.sleep(0.02)
            real_write_new(path, data, **kw)

        journal.write_new = slow_write_new  # type: ignore[attr-defined]
    store = open_store(root)
    while True:
        with store.transaction("child") as tx:
            generation = int(tx.school(SCHOOL_A).name.split()[1]) + 1
            changed = []
            for dfe in (SCHOOL_A, SCHOOL_B):
                for account in tx.school_accounts(dfe):
                    account.extra["gen"] = generation
                    if account.username == MOVER:
                        account.previous_school, account.school = (
                            account.school,
                            (SCHOOL_A if generation % 2 == 0 else SCHOOL_B),
                        )
                    changed.append(account)
                school = tx.school(dfe)
                school.name = f"gen {generation}"
                tx.put_school(school)
            tx.put_accounts(changed)
            tx.audit_many(
                [
                    AuditEvent(
                        "2026-09-01T06:00:00", "child", SCHOOL_A, "update", f"gen-{generation}"
                    )
                ]
                * 50
                + [
                    AuditEvent(
                        "2026-09-01T06:00:00", "child", SCHOOL_B, "move", f"gen-{generation}"
                    )
                ]
            )


def check_consistent(root: Path) -> int:
    """Every invariant of a whole commit; returns the generation seen."""
    store = open_store(root)
    assert not (root / "journal.json").exists()
    assert not os.listdir(root / ".staging")
    schools = {s.dfe: s for s in store.list_schools()}
    generation = int(schools[SCHOOL_A].name.split()[1])
    assert schools[SCHOOL_B].name == f"gen {generation}"
    accounts = {dfe: store.school_accounts(dfe) for dfe in (SCHOOL_A, SCHOOL_B)}
    assert {a.extra["gen"] for dfe in (SCHOOL_A, SCHOOL_B) for a in accounts[dfe]} == {generation}
    movers = [dfe for dfe in (SCHOOL_A, SCHOOL_B) for a in accounts[dfe] if a.username == MOVER]
    expected_home = SCHOOL_A if generation % 2 == 0 else SCHOOL_B
    assert movers == [expected_home]
    assert store.account(MOVER).school == expected_home
    for dfe in (SCHOOL_A, SCHOOL_B):
        assert len(accounts[dfe]) == PER_SCHOOL + (dfe == expected_home)
        assert schools[dfe].active_accounts == len(accounts[dfe])
        indexed = {h.username for h in store.search_accounts("", school=dfe, limit=None)}
        assert indexed == {a.username for a in accounts[dfe]}
    if generation:
        assert store.audit(SCHOOL_A, limit=1)[0].subject == f"gen-{generation}"
        assert store.audit(SCHOOL_B, limit=1)[0].subject == f"gen-{generation}"
        assert store.audit(limit=1)[0].subject == f"gen-{generation}"
    return generation


def check_one_read(store) -> int:
    """One read spanning both school files sees one whole commit; returns its generation."""
    accounts = store.la_accounts("204")
    gens = {a.extra["gen"] for a in accounts}
    assert len(gens) == 1, gens
    assert sum(a.username == MOVER for a in accounts) == 1
    assert len(accounts) == 2 * PER_SCHOOL + 1
    return gens.pop()


def test_kill_9_at_random_moments(tmp_path):
    """Each round waits (reading all the while) until the writer has committed once, then kills
    it at a random moment of a later commit; so the test does not depend on the machine's speed."""
    root = tmp_path / "data"
    build(root)
    rng = random.Random(7)
    reader = open_store(root)
    generations = [0]
    for round_no in range(12):
        proc = subprocess.Popen([sys.executable, __file__, str(root), MODES[round_no % len(MODES)]])
        give_up = time.monotonic() + 60
        while check_one_read(reader) == generations[-1]:
            assert time.monotonic() < give_up, "the writer never committed"
        deadline = time.monotonic() + rng.random() * 0.5
        while time.monotonic() < deadline:
            check_one_read(reader)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        check_one_read(reader)  # a reader with the store open finishes the dead writer's commit
        generations.append(check_consistent(root))
    assert all(b > a for a, b in zip(generations, generations[1:], strict=False)), generations


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
