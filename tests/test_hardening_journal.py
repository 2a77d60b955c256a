"""The commit journal: a commit interrupted after its journal is written is finished by the next
opener, the order of fsyncs and renames makes that safe, and a journal naming anything outside
the store is refused without touching it."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from uso_tui.domain.models import School
from uso_tui.store import StoreError, open_store, storage
from uso_tui.store import journal as journal_mod
from uso_tui.store.journal import JOURNAL, STAGING, Commit, recover
from uso_tui.store.lock import write_lock

DFE_A, DFE_B = "204-0001", "204-0002"


def school(dfe: str, name: str) -> School:
    return School(dfe, name, "iSAMS", "https://x.isams.cloud", "cid")


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".lock" not in p.name
    }


def fail_replace_at(monkeypatch, failing_call: int) -> list[tuple[str, str]]:
    """os.replace fails at its `failing_call`-th call (as a crash would stop it there); the calls before are
    real. Returns the renames done."""
    real = os.replace
    done: list[tuple[str, str]] = []

    def replace(src, dst):
        if len(done) + 1 == failing_call:
            raise OSError(5, "injected failure")
        real(src, dst)
        done.append((str(src), str(dst)))

    monkeypatch.setattr(journal_mod.os, "replace", replace)
    return done


def three_file_commit(root: Path) -> Commit:
    (root / "sub").mkdir(mode=0o700)
    (root / "a.json").write_bytes(b"old a")
    (root / "sub" / "b.json").write_bytes(b"old b")
    (root / "gone.json").write_bytes(b"old gone")
    commit = Commit(root)
    commit.write(root / "a.json", b"new a")
    commit.write(root / "sub" / "b.json", b"new b")
    commit.write(root / "sub" / "c.json", b"new c")
    commit.delete(root / "gone.json")
    return commit


def test_commit_interrupted_after_its_journal_and_one_file_is_finished(tmp_path, monkeypatch):
    root = tmp_path
    commit = three_file_commit(root)
    # 1: the journal renamed in (the commit point), 2: a.json, 3: b.json fails.
    done = fail_replace_at(monkeypatch, 3)
    commit.apply()  # made at its commit point: the failure after it is kept, not raised
    assert isinstance(commit.unfinished, OSError) and "injected" in str(commit.unfinished)
    assert [Path(d).name for _, d in done] == [JOURNAL, "a.json"]
    assert (root / JOURNAL).exists()
    assert (root / "a.json").read_bytes() == b"new a"  # half applied, as a crash leaves it
    assert (root / "sub" / "b.json").read_bytes() == b"old b"
    assert (root / "gone.json").exists()

    monkeypatch.undo()
    with write_lock(root):
        assert recover(root)
    assert (root / "a.json").read_bytes() == b"new a"
    assert (root / "sub" / "b.json").read_bytes() == b"new b"
    assert (root / "sub" / "c.json").read_bytes() == b"new c"
    assert not (root / "gone.json").exists()
    assert not (root / JOURNAL).exists() and not os.listdir(root / STAGING)


def test_commit_interrupted_before_its_journal_is_undone(tmp_path, monkeypatch):
    root = tmp_path
    commit = three_file_commit(root)
    fail_replace_at(monkeypatch, 1)  # the journal never made it: the commit did not happen
    with pytest.raises(OSError):
        commit.apply()
    assert commit.unfinished is None
    monkeypatch.undo()
    with write_lock(root):
        assert recover(root)
    assert files(root) == {"a.json": b"old a", "gone.json": b"old gone", "sub/b.json": b"old b"}


def test_store_opened_after_an_interrupted_commit_shows_it_whole(tmp_path, monkeypatch):
    root = tmp_path / "data"
    store = open_store(root)
    with store.transaction("t") as tx:
        tx.add_school(school(DFE_A, "Old A"), "secret-a")
    fail_replace_at(monkeypatch, 3)
    with store.transaction("t") as tx:  # made: its journal is in place when the rename fails
        tx.add_school(school(DFE_B, "New B"), "secret-b")
        school_a = tx.school(DFE_A)
        school_a.name = "New A"
        tx.put_school(school_a)
    monkeypatch.undo()
    assert (root / JOURNAL).exists()
    reopened = open_store(root)  # recovers on open
    assert not (root / JOURNAL).exists()
    assert {s.dfe: s.name for s in reopened.list_schools()} == {DFE_A: "New A", DFE_B: "New B"}
    assert reopened.secret(DFE_B) == "secret-b"


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync each"])
def test_fsyncs_and_renames_in_a_safe_order(tmp_path, monkeypatch, syncfs):
    """Each staged file is flushed before it is renamed in; each folder renamed into is flushed
    after its renames and before the journal goes; the journal goes only after every rename.
    With syncfs (Linux), one flush of the file system counts for every file and folder."""
    root = tmp_path
    commit = three_file_commit(root)
    log: list[tuple[str, str]] = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink
    real_syncfs = storage._syncfs()
    if syncfs and real_syncfs is None:
        pytest.skip("no syncfs on this system")

    def flush_everything(fd):
        log.append(("fsync", "*"))
        return real_syncfs(fd)

    monkeypatch.setattr(storage, "_syncfs", lambda: flush_everything if syncfs else None)

    def fsync(fd):
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        log.append(("rename", str(src)))
        real_replace(src, dst)
        log.append(("renamed", str(dst)))

    def unlink(path, *args, **kwargs):
        log.append(("unlink", str(path)))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    commit.apply()
    monkeypatch.undo()

    def at(kind: str, path: Path | str) -> list[int]:
        return [i for i, e in enumerate(log) if e in ((kind, str(path)), (kind, "*"))]

    renames = [position for position, e in enumerate(log) if e[0] == "rename"]
    assert len(renames) == 4  # the journal and three files
    for position in renames:
        src = log[position][1]
        assert any(j < position for j in at("fsync", src)), f"{src} not fsynced before rename"
    (journal_gone,) = at("unlink", root / JOURNAL)
    assert max(renames) < journal_gone
    assert at("unlink", root / "gone.json")[0] < journal_gone
    for folder in (root, root / "sub"):
        last_in = max(
            i for i, e in enumerate(log) if e[0] == "renamed" and Path(e[1]).parent == folder
        )
        assert any(last_in < i < journal_gone for i in at("fsync", folder)), folder
    assert at("fsync", root)[-1] > journal_gone  # the journal's removal is made durable


@pytest.mark.parametrize(
    "doc",
    [
        {"renames": [[".staging/0.tmp", "../victim.txt"]], "deletes": []},
        {"renames": [], "deletes": ["../victim.txt"]},
        {"renames": [], "deletes": ["VICTIM"]},  # absolute: filled in below
        {"renames": [["../victim.txt", "schools.json"]], "deletes": []},
        {"renames": [["schools.json", "store.json"]], "deletes": []},  # not a staged file
        {"renames": [[".staging/0.tmp", "link/x.json"]], "deletes": []},  # through a symlink
        {"renames": [[".staging/0.tmp", "store.json", "x"]], "deletes": []},
        {"renames": "store.json", "deletes": []},
    ],
)
def test_journal_naming_a_path_outside_the_store_is_refused(tmp_path, doc):
    root = tmp_path / "data"
    store = open_store(root)
    with store.transaction("t") as tx:
        tx.add_school(school(DFE_A, "A"), "secret-a")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    (root / STAGING / "0.tmp").write_bytes(b"{}")
    if doc["deletes"] == ["VICTIM"]:
        doc = {"renames": [], "deletes": [str(victim)]}
    (root / JOURNAL).write_bytes(orjson.dumps(doc))
    before = files(root)

    with pytest.raises(StoreError) as ei:
        open_store(root)
    message = str(ei.value)
    assert "journal.json" in message and "refusing to open" in message
    assert victim.read_text() == "keep me"
    assert files(root) == before  # nothing inside was touched either
    assert not list((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize("damage", [b'{"files": [["a', b"", b"[1, 2]"])
def test_a_damaged_journal_is_refused_not_deleted(tmp_path, damage):
    # Written whole before it is renamed in: damage comes from outside, and the journal may be
    # a commit's only record of renames half made. Deleting it (and the staged files) silently
    # could leave that commit half undone.
    root = tmp_path / "data"
    store = open_store(root)
    with store.transaction("t") as tx:
        tx.add_school(school(DFE_A, "A"), "secret-a")
    (root / STAGING / "0.tmp").write_bytes(b"{}")
    (root / JOURNAL).write_bytes(damage)
    before = files(root)
    with pytest.raises(StoreError, match="journal.json is corrupt.*nothing was touched"):
        open_store(root).list_schools()
    assert files(root) == before


def test_a_commit_after_one_made_but_unfinished_finishes_it_first(tmp_path, monkeypatch):
    """Two commits under one write lock (an upgrade's rekeying commits school after school):
    the first made at its journal, a rename after it failing; the second replaced its journal
    and reused its staged files' names, and the first commit's last file was never put in
    place (found by review)."""
    root = tmp_path
    for name in "abcde":
        (root / f"{name}.json").write_bytes(b"old")
    real, failed = os.replace, []

    def replace(src, dst):
        if str(dst).endswith("c.json") and not failed:
            failed.append(dst)
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(journal_mod.os, "replace", replace)
    with write_lock(root):
        first = Commit(root)
        for name in "abc":
            first.write(root / f"{name}.json", f"new {name}".encode())
        first.apply()
        assert first.unfinished is not None and (root / JOURNAL).exists()
        second = Commit(root)
        for name in "de":
            second.write(root / f"{name}.json", f"new {name}".encode())
        second.apply()
    assert {n: (root / f"{n}.json").read_bytes() for n in "abcde"} == {
        n: f"new {n}".encode() for n in "abcde"
    }
    assert not (root / JOURNAL).exists() and not os.listdir(root / STAGING)


@pytest.mark.parametrize("where", ["sub/c.json", "gone.json"])
def test_a_directory_where_a_commit_puts_a_file_is_refused_before_its_journal(tmp_path, where):
    """A directory in place of a file the commit writes or deletes (a key file replaced from
    outside): refused with the path named before the commit point; made at its journal, its
    rename would fail at every redo, and with it every later write to the store."""
    root = tmp_path
    commit = three_file_commit(root)
    (root / where).unlink(missing_ok=True)
    (root / where).mkdir()
    before = files(root)
    with write_lock(root), pytest.raises(StoreError, match="is corrupt .a directory where a file"):
        commit.apply()
    assert files(root) == before and not (root / JOURNAL).exists()
    (root / where).rmdir()
    with write_lock(root):
        later = Commit(root)
        later.write(root / "a.json", b"newer a")
        later.apply()
    assert (root / "a.json").read_bytes() == b"newer a"
