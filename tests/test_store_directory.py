"""The school directory in shards: a commit writes only the shards of the schools it changed (and
the small version file), another process sees the change reading only those, a kill in the middle
of a commit leaves every school before or every school after it, and `uso-tui upgrade` moves a
store's single schools.json into shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import uso_tui.store.directory as directory
import uso_tui.store.journal as journal
from uso_tui.domain.models import Run, School
from uso_tui.store import SCHEMA_VERSION, open_store
from uso_tui.store.directory import shard_of, shard_path, version_path
from uso_tui.store.storage import as_table, table_rows
from uso_tui.store.tinystore import OlderSchema, upgrade_store

NOW = "2026-09-01T06:00:00"
SCHOOL_A, SCHOOL_B = "204-3210", "204-3211"  # in different shards
DFES = [SCHOOL_A, SCHOOL_B, *(f"301-{1000 + i}" for i in range(40))]


def school(dfe: str, name: str = "") -> School:
    return School(dfe, name or f"School {dfe}", "iSAMS", f"https://s{dfe[-4:]}.isams.cloud", "id")


def build(root: Path):
    store = open_store(root)
    with store.transaction("setup") as tx:
        for dfe in DFES:
            tx.add_school(school(dfe), f"secret-{dfe}")
    return store


@pytest.fixture
def store(tmp_path):
    return build(tmp_path / "data")


def folder(store) -> Path:
    return store.root / "directory"


def shard_files(store) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder(store).glob("[0-9]*.json")}


@pytest.fixture
def written(monkeypatch) -> list[set[str]]:
    """The directory files each commit writes (names under directory/)."""
    seen: list[set[str]] = []
    real = journal.Commit.apply

    def apply(self):
        seen.append({p.name for p in self.writes if p.parent.name == "directory"})
        real(self)

    monkeypatch.setattr(journal.Commit, "apply", apply)
    return seen


def test_a_commit_writes_only_the_shard_of_the_school_it_changed(store, written):
    assert SCHOOL_A != SCHOOL_B and shard_of(SCHOOL_A) != shard_of(SCHOOL_B)
    before = shard_files(store)
    assert len(before) > 2
    with store.transaction("op") as tx:  # a run started: only the directory changes
        rid = tx.next_run_id(SCHOOL_A)
        tx.put_run(Run(rid, SCHOOL_A, "cli", "op", started_at=NOW))
    mine = shard_path(folder(store), shard_of(SCHOOL_A)).name
    assert written == [{mine, "version.json"}]
    after = shard_files(store)
    assert {n for n in after if after[n] != before[n]} == {mine}
    assert store.school(SCHOOL_A).last_run_status == "running"
    with store.transaction("op") as tx:  # and ended
        run = tx.run(rid)
        run.status, run.finished_at = "succeeded", NOW
        tx.put_run(run)
    assert written[-1] == {mine, "version.json"}
    assert store.school(SCHOOL_A).last_run_status == "succeeded"
    assert [s.dfe for s in store.list_schools()] == sorted(DFES)


def test_a_commit_that_changes_no_school_writes_no_directory_file(store, written):
    with store.transaction("op") as tx:
        tx.set_secret(SCHOOL_A, "another-secret")
    assert written == [set()]


def test_another_process_sees_a_change_reading_only_its_shard(store, monkeypatch):
    other = open_store(store.root)  # another process: its own cache
    assert other.school(SCHOOL_A).name == f"School {SCHOOL_A}"
    read: list[str] = []
    real = directory.read_bytes

    def spy(path):
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(directory, "read_bytes", spy)
    with store.transaction("op") as tx:
        renamed = tx.school(SCHOOL_B)
        renamed.name = "Renamed"
        tx.put_school(renamed)
    assert read == []  # the writer's own cache took what it wrote
    assert other.school(SCHOOL_B).name == "Renamed"
    assert read == ["version.json", shard_path(folder(store), shard_of(SCHOOL_B)).name]
    assert other.school(SCHOOL_A).name == f"School {SCHOOL_A}"
    assert len(other.list_schools()) == len(DFES)
    assert len(read) == 2  # current again: nothing more read


def test_a_school_added_by_another_process_is_seen(store):
    other = open_store(store.root)
    assert len(other.list_schools()) == len(DFES)
    with store.transaction("op") as tx:
        tx.add_school(school("204-9999", "New"), "secret")
    assert other.school("204-9999").name == "New"
    assert len(other.list_schools()) == len(DFES) + 1


# ---- a kill in the middle of a commit of two shards


def child(root: str, mode: str) -> None:
    """Renames both schools in one commit, killed right after the `at_call`-th staged write or
    rename."""
    what, at_call = mode.rsplit("-", 1)
    calls = [0]

    def die_after(real):
        def wrapper(*args, **kwargs):
            real(*args, **kwargs)
            calls[0] += 1
            if calls[0] == int(at_call):
                os.kill(os.getpid(), signal.SIGKILL)

        return wrapper

    if what == "write":
        journal.write_new = die_after(journal.write_new)
    else:
        journal.os.replace = die_after(os.replace)
    store = open_store(root)
    with store.transaction("child") as tx:
        for dfe in (SCHOOL_A, SCHOOL_B):
            renamed = tx.school(dfe)
            renamed.name = "after"
            tx.put_school(renamed)


@pytest.mark.parametrize(
    ("mode", "after"),
    [
        ("write-1", False),  # staging: the commit had not happened
        ("write-3", False),  # every file staged, no journal yet
        ("rename-1", True),  # the journal in place: the commit is redone
        ("rename-2", True),  # one shard renamed, not the other, nor version.json
        ("rename-3", True),  # both shards, not version.json
    ],
)
def test_a_kill_mid_commit_leaves_both_schools_before_or_both_after(store, mode, after):
    reader = open_store(store.root)
    assert (
        reader.school(SCHOOL_A).name == f"School {SCHOOL_A}"
    )  # its cache holds the version before
    proc = subprocess.run([sys.executable, __file__, str(store.root), mode], check=False)
    assert proc.returncode == -signal.SIGKILL
    expected = (
        {SCHOOL_A: "after", SCHOOL_B: "after"}
        if after
        else {SCHOOL_A: f"School {SCHOOL_A}", SCHOOL_B: f"School {SCHOOL_B}"}
    )
    names = {s.dfe: s.name for s in reader.list_schools()}  # finishes or drops the dead commit
    assert {dfe: names[dfe] for dfe in (SCHOOL_A, SCHOOL_B)} == expected
    assert {s.dfe: s.name for s in open_store(store.root).list_schools()} == names


# ---- upgrade from a store of one schools.json


def to_schema_4(root: Path) -> list[dict]:
    """The store as uso-tui of schema 4 kept it: the whole directory in schools.json."""
    rows = []
    for path in (root / "directory").glob("[0-9]*.json"):
        rows += table_rows(orjson.loads(path.read_bytes()), "schools")
    rows.sort(key=lambda r: r["dfe"])
    doc = {"meta": {"1": {"version": "ab" * 16}}, "schools": as_table(rows)}
    (root / "schools.json").write_bytes(orjson.dumps(doc))
    for path in (root / "directory").iterdir():
        path.unlink()
    (root / "directory").rmdir()
    (root / "store.json").write_bytes(orjson.dumps({"schema": 4}))
    return rows


def test_upgrade_moves_schools_json_into_shards(store):
    with store.transaction("op") as tx:
        rid = tx.next_run_id(SCHOOL_A)
        tx.put_run(Run(rid, SCHOOL_A, "cli", "op", started_at=NOW))
    before = [s.to_dict() for s in store.list_schools()]
    root = store.root
    rows = to_schema_4(root)
    with pytest.raises(OlderSchema):
        open_store(root)
    assert (root / "schools.json").exists() and not (root / "directory").exists()
    assert upgrade_store(root) == (4, SCHEMA_VERSION)
    assert not (root / "schools.json").exists()
    assert version_path(root / "directory").exists()
    upgraded = open_store(root)
    assert [s.to_dict() for s in upgraded.list_schools()] == before
    assert [r.run_id for r in upgraded.running_runs(SCHOOL_A)] == [rid]  # private keys kept
    stored = []
    for path in (root / "directory").glob("[0-9]*.json"):
        shard_rows = table_rows(orjson.loads(path.read_bytes()), "schools")
        assert {shard_of(r["dfe"]) for r in shard_rows} == {int(path.stem)}
        stored += shard_rows
    assert sorted(stored, key=lambda r: r["dfe"]) == rows
    with upgraded.transaction("op") as tx:  # and written as this version writes it
        tx.put_run(
            Run(rid, SCHOOL_A, "cli", "op", status="succeeded", started_at=NOW, finished_at=NOW)
        )
    assert open_store(root).school(SCHOOL_A).last_run_status == "succeeded"


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
