"""File modes, the client secret kept apart, and visibility of commits across processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from uso_tui.domain.models import Account, AuditEvent, ProcessedFile, Run, School
from uso_tui.store import open_store

SECRET = "Zq9-very-secret-value-81"
NOW = "2026-09-01T06:00:00"


def make_store(root, umask: int = 0o022):
    old = os.umask(umask)
    try:
        store = open_store(root)
        with store.transaction("op") as tx:
            tx.add_school(
                School("204-3210", "Hill", "iSAMS", "https://hill.isams.cloud", "cid"), SECRET
            )
            tx.add_school(
                School("204-3211", "Vale", "iSAMS", "https://vale.isams.cloud", "cid"), SECRET
            )
            rid = tx.next_run_id("204-3210")
            tx.put_run(Run(rid, "204-3210", "cli", "op", status="succeeded", started_at=NOW))
            tx.put_processed_file(ProcessedFile(rid, "204-3210", NOW))
            tx.put_account(Account("amy.204", "pupil", "Amy", "Ng", "2011-01-01", "204-3210"))
            tx.audit(AuditEvent(NOW, "op", "204-3210", "create", "amy.204"))
            tx.audit(AuditEvent(NOW, "op", None, "hosts", "config"))
            tx.add_exclusion("204-3211", "Ex", "Cluded", None, NOW)
        with store.transaction("op") as tx:  # a multi-file commit through the journal
            account = tx.account("amy.204")
            account.school, account.previous_school = "204-3211", "204-3210"
            tx.put_account(account)
        store.set_allowed_mis_hosts(["127.0.0.1:8765"])
    finally:
        os.umask(old)
    return store


def test_modes_owner_only_whatever_the_umask(tmp_path):
    root = tmp_path / "data"
    make_store(root, umask=0o000)
    seen_files = 0
    for dirpath, _, filenames in os.walk(root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for name in filenames:
            path = os.path.join(dirpath, name)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
            seen_files += 1
    assert seen_files >= 12


def test_secret_only_in_its_own_file(tmp_path):
    root = tmp_path / "data"
    store = make_store(root)
    holders = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                if SECRET.encode() in fh.read():
                    holders.append(os.path.relpath(path, root))
    assert sorted(holders) == ["secrets/204-3210.secret", "secrets/204-3211.secret"]
    assert store.secret("204-3210") == SECRET
    reads = [
        store.list_schools(),
        store.school("204-3210"),
        store.school_accounts("204-3211"),
        store.runs(),
        store.runs("204-3210"),
        store.audit(),
        store.audit("204-3210"),
        store.processed_files("204-3210"),
        store.search_accounts(""),
        store.exclusions("204-3211"),
        store.la_accounts("204"),
        store.running_runs(),
        repr(store),
    ]
    with store.transaction("op") as tx:
        tx.set_secret("204-3211", SECRET + "2")
        reads.append(repr(tx))
        reads.append(tx.school("204-3211"))
    text = repr(reads) + str([vars(type(store))])
    assert SECRET not in text


def test_reader_in_another_process_sees_commit(tmp_path):
    root = tmp_path / "data"
    store = make_store(root)
    code = (
        "import sys; from uso_tui.store import open_store; s = open_store(sys.argv[1]);"
        "print(s.school('204-3210').name, s.account('amy.204').school)"
    )

    def other() -> str:
        return subprocess.run(
            [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
        ).stdout.strip()

    assert other() == "Hill 204-3211"
    with store.transaction("op") as tx:
        school = tx.school("204-3210")
        school.name = "Hill Renamed"
        tx.put_school(school)
        account = tx.account("amy.204")
        account.school = "204-3210"
        tx.put_account(account)
    assert other() == "Hill Renamed 204-3210"
    # and this process sees another process's commit, with no stale cache
    writer = (
        "import sys; from uso_tui.store import open_store; s = open_store(sys.argv[1])\n"
        "with s.transaction('other') as tx:\n"
        "    sc = tx.school('204-3210'); sc.name = 'From Other'; tx.put_school(sc)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(root)], check=True)
    assert store.school("204-3210").name == "From Other"
    assert [school.name for school in store.list_schools()][0] == "From Other"


def test_orjson_storage_for_tinydb_tools(tmp_path):
    """Store files opened with TinyDB through the store's storage class: atomic replace, 0600,
    and the store sees the change (a maintenance script holds the store's write lock)."""
    from tinydb import TinyDB, where  # noqa: PLC0415

    from uso_tui.store.lock import write_lock  # noqa: PLC0415
    from uso_tui.store.storage import OrjsonStorage  # noqa: PLC0415

    root = tmp_path / "data"
    store = make_store(root)
    path = root / "schools" / "204-3211" / "data.json"
    inode = os.stat(path).st_ino
    with write_lock(root):
        db = TinyDB(path, storage=OrjsonStorage)
        db.table("accounts", cache_size=0).update(
            {"surname": "Changed"}, where("username") == "amy.204"
        )
        db.close()
    assert os.stat(path).st_ino != inode  # replaced by rename, not overwritten in place
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.account("amy.204").surname == "Changed"
    assert not [n for n in os.listdir(path.parent) if n.endswith(".tmp")]
