"""A commit frees the versions it replaces or deletes after its lock, not under it: under the
lock each has a second name, so its rename or unlink frees nothing; once the commit is done
nothing of them is left, whether freed at once, by a worker's thread, or (a process that died)
by the next process to commit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from uso_tui.store import freeing
from uso_tui.store import journal as journal_mod
from uso_tui.store.freeing import FREEING
from uso_tui.store.journal import JOURNAL, Commit


def four_file_commit(root: Path) -> Commit:
    (root / "a.json").write_bytes(b"old a")
    (root / "b.json").write_bytes(b"old b")
    (root / "gone.json").write_bytes(b"old gone")
    commit = Commit(root)
    commit.write(root / "a.json", b"new a")
    commit.write(root / "b.json", b"new b")
    commit.write(root / "new.json", b"new")
    commit.delete(root / "gone.json")
    return commit


def names_under_the_lock(monkeypatch) -> dict[str, int]:
    """How many names each file had when the commit replaced or deleted it."""
    seen: dict[str, int] = {}
    real_replace, real_unlink = os.replace, os.unlink

    def replace(src, dst):
        if os.path.exists(dst):
            seen[Path(dst).name] = os.stat(dst).st_nlink
        real_replace(src, dst)

    def unlink(path, *args, **kwargs):
        if (
            Path(path).name != JOURNAL
            and Path(path).parent.name != FREEING
            and os.path.exists(path)
        ):
            seen[Path(path).name] = os.stat(path).st_nlink
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(journal_mod.os, "replace", replace)
    monkeypatch.setattr(journal_mod.os, "unlink", unlink)
    return seen


def test_what_a_commit_replaces_or_deletes_has_a_second_name_under_its_lock(tmp_path, monkeypatch):
    seen = names_under_the_lock(monkeypatch)
    four_file_commit(tmp_path).apply()
    assert seen == {"a.json": 2, "b.json": 2, "gone.json": 2}
    assert (tmp_path / "a.json").read_bytes() == b"new a"
    assert (tmp_path / "new.json").read_bytes() == b"new"
    assert not (tmp_path / "gone.json").exists()
    assert os.listdir(tmp_path / FREEING) == []  # the old versions freed once it was done
    assert os.stat(tmp_path / "a.json").st_nlink == 1


def test_a_commit_of_one_file_also_frees_its_old_version_after_the_lock(tmp_path, monkeypatch):
    seen = names_under_the_lock(monkeypatch)
    (tmp_path / "a.json").write_bytes(b"old a")
    commit = Commit(tmp_path)
    commit.write(tmp_path / "a.json", b"new a")
    commit.apply()
    assert seen == {"a.json": 2}
    assert os.listdir(tmp_path / FREEING) == []


def test_without_hard_links_a_commit_is_made_as_before(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(freeing.os, "link", no_links)
    seen = names_under_the_lock(monkeypatch)
    four_file_commit(tmp_path).apply()
    assert seen == {"a.json": 1, "b.json": 1, "gone.json": 1}
    assert (tmp_path / "b.json").read_bytes() == b"new b"
    assert not (tmp_path / "gone.json").exists()


def test_a_failed_commit_frees_its_links_and_changes_nothing(tmp_path, monkeypatch):
    commit = four_file_commit(tmp_path)

    def fails(src, dst):
        raise OSError(5, "injected failure")

    monkeypatch.setattr(journal_mod.os, "replace", fails)
    with pytest.raises(OSError, match="injected"):
        commit.apply()
    assert os.listdir(tmp_path / FREEING) == []
    assert (tmp_path / "a.json").read_bytes() == b"old a"
    assert os.stat(tmp_path / "a.json").st_nlink == 1


def test_in_the_background_old_versions_are_freed_by_a_thread_and_all_by_the_end(tmp_path):
    freed_by: list[str] = []
    real = freeing._unlink_all

    def unlink_all(links):
        freed_by.append(threading.current_thread().name)
        real(links)

    freeing._unlink_all = unlink_all
    try:
        with freeing.in_background():
            four_file_commit(tmp_path).apply()
            second = Commit(tmp_path)
            second.write(tmp_path / "a.json", b"newer a")
            second.apply()
        assert os.listdir(tmp_path / FREEING) == []  # leaving it waited for every one
    finally:
        freeing._unlink_all = real
    assert freed_by == ["uso-tui freeing"] * 2
    assert (tmp_path / "a.json").read_bytes() == b"newer a"
    # outside it, at once and in the committing thread
    third = Commit(tmp_path)
    third.write(tmp_path / "a.json", b"newest a")
    third.apply()
    assert os.listdir(tmp_path / FREEING) == []


def test_links_left_by_a_process_that_died_are_removed_by_the_next_to_commit(tmp_path, monkeypatch):
    folder = tmp_path / FREEING
    folder.mkdir(mode=0o700)
    (tmp_path / "kept.json").write_bytes(b"an old version")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)  # a process that has ended
    os.link(tmp_path / "kept.json", folder / f"{dead_pid}.7")
    os.link(tmp_path / "kept.json", folder / f"{os.getppid()}.3")  # a live process's
    monkeypatch.setattr(freeing, "_ready", set())  # this process has not committed here yet
    commit = Commit(tmp_path)
    commit.write(tmp_path / "a.json", b"a")
    commit.apply()
    assert os.listdir(folder) == [f"{os.getppid()}.3"]
