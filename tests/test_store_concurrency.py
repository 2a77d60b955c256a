"""Writers in several processes and threads are serialised: no update is lost."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from uso_tui.domain.models import Account, School
from uso_tui.store import StoreBusy, open_store

DFE = "204-3210"
INCREMENTS = 500


def setup(root) -> None:
    store = open_store(root)
    with store.transaction("setup") as tx:
        tx.add_school(School(DFE, "Hill", "iSAMS", "https://hill.isams.cloud", "c"), "secret")
        tx.put_accounts(
            [Account(f"p{i}.204", "pupil", "P", f"N{i}", "2011-01-01", DFE) for i in range(300)]
            + [Account("counter.204", "staff", "Count", "Er", "1980-01-01", DFE)]
        )


def increment(root: str, times: int, who: str) -> None:
    """Read-modify-write of one account and of the school settings, `times` times."""
    store = open_store(root)
    for _ in range(times):
        with store.transaction(who) as tx:
            counter = tx.account("counter.204")
            counter.extra[who] = counter.extra.get(who, 0) + 1
            counter.extra["total"] = counter.extra.get("total", 0) + 1
            tx.put_account(counter)
            school = tx.school(DFE)
            school.hold_min += 1
            tx.put_school(school)


def test_two_processes_lose_no_update(tmp_path):
    root = tmp_path / "data"
    setup(root)
    procs = [
        subprocess.Popen([sys.executable, __file__, str(root), str(INCREMENTS), who])
        for who in ("one", "two")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    store = open_store(root)
    counter = store.account("counter.204")
    assert counter.extra == {"one": INCREMENTS, "two": INCREMENTS, "total": 2 * INCREMENTS}
    assert store.school(DFE).hold_min == 10 + 2 * INCREMENTS
    assert len(store.school_accounts(DFE)) == 301


def test_threads_of_one_process_lose_no_update(tmp_path):
    root = tmp_path / "data"
    setup(root)
    errors: list[BaseException] = []

    def work(who: str) -> None:
        try:
            increment(str(root), 100, who)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert open_store(root).account("counter.204").extra["total"] == 300


def test_a_transaction_that_will_not_wait_is_refused_while_another_writer_holds_the_lock(tmp_path):
    root = tmp_path / "data"
    setup(root)
    store = open_store(root)
    holder = subprocess.Popen(  # another process holds the lock until its stdin closes
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from uso_tui.store import open_store\n"
            f"with open_store({str(root)!r}).transaction('other'):\n"
            "    print('holding', flush=True); sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(StoreBusy), store.transaction("me", wait=False):
            pass
        in_thread: list[BaseException] = []

        def other_thread() -> None:  # and while a thread of this process holds it
            try:
                with store.transaction("me", wait=False):
                    pass
            except StoreBusy as exc:
                in_thread.append(exc)

        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        with store.transaction("me", wait=False) as tx:  # free again: taken at once
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join()
            tx.put_account(Account("new.204", "pupil", "N", "Ew", "2011-01-01", DFE))
        assert len(in_thread) == 1
        assert store.account("new.204").forename == "N"
    finally:
        holder.kill()


if __name__ == "__main__":
    increment(sys.argv[1], int(sys.argv[2]), sys.argv[3])
