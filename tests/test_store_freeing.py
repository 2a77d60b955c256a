"""A commit frees the versions it replaces or deletes after its lock, not under it: under the
lock each has a second name, so its rename or unlink frees nothing; once the commit is done
nothing of them is left, whether freed at once, by a worker's thread, or (a process that died)
by the next process to commit. A worker writes its next commits into them instead, but never
into one that a reader still has open or that is still in use."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
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


def test_in_the_background_old_versions_are_freed_by_a_thread_and_all_by_the_end(
    tmp_path, monkeypatch
):
    freed_by: list[str] = []
    real = freeing._unlink_all

    def unlink_all(links):
        freed_by.append(threading.current_thread().name)
        real(links)

    monkeypatch.setattr(freeing, "_unlink_all", unlink_all)
    monkeypatch.setattr(freeing, "SPARE_MAX", 1)  # one kept to be written into, the rest freed
    with freeing.in_background():
        four_file_commit(tmp_path).apply()
        second = Commit(tmp_path)
        second.write(tmp_path / "a.json", b"newer a")
        second.apply()
    assert os.listdir(tmp_path / FREEING) == []  # leaving it waited for every one
    assert freed_by and set(freed_by) == {"uso-tui freeing"}
    assert (tmp_path / "a.json").read_bytes() == b"newer a"
    # outside it, at once and in the committing thread
    freed_by.clear()
    third = Commit(tmp_path)
    third.write(tmp_path / "a.json", b"newest a")
    third.apply()
    assert os.listdir(tmp_path / FREEING) == []
    assert freed_by == ["MainThread"]


leases = pytest.mark.skipif(freeing._SETLEASE is None, reason="no file leases here (Linux only)")


def inode(path: Path) -> int:
    return os.stat(path).st_ino


@pytest.fixture
def no_age(monkeypatch):
    """Spares written into as soon as they are freed (SPARE_AGE has a test of its own)."""
    monkeypatch.setattr(freeing, "SPARE_AGE", 0.0)


@leases
def test_a_worker_writes_its_next_commits_into_the_versions_it_replaced(tmp_path, no_age):
    """In the background (a run_due worker) a replaced version is written into by a later
    commit instead of a new file being made and the old one freed; the content is whole."""
    with freeing.in_background():
        commit = four_file_commit(tmp_path)
        old = {inode(tmp_path / name) for name in ("a.json", "b.json", "gone.json")}
        commit.apply()
        second = Commit(tmp_path)
        second.write(tmp_path / "a.json", b"a, shorter")
        second.write(tmp_path / "c.json", b"c" * 5000)
        second.apply()
        assert {inode(tmp_path / "a.json"), inode(tmp_path / "c.json")} <= old
        assert (tmp_path / "a.json").read_bytes() == b"a, shorter"
        assert (tmp_path / "c.json").read_bytes() == b"c" * 5000
        assert os.stat(tmp_path / "c.json").st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / FREEING) == []
    assert not list((tmp_path / ".staging").glob("*.tmp"))


@leases
def test_a_file_is_written_into_the_spare_that_need_not_be_cut_shorter(
    tmp_path, monkeypatch, no_age
):
    """Of the spares of a file's kind, the largest no larger than what is written (cutting a
    file shorter frees blocks, a disk wait under online discard), else the smallest: the file
    is never cut when a spare fits."""
    sizes = {"s1.json": 100, "s2.json": 4000, "s3.json": 2500, "s4.json": 9000}
    for name, size in sizes.items():
        (tmp_path / "sub").mkdir(exist_ok=True)
        (tmp_path / "sub" / name).write_bytes(b"x" * size)
    by_size = {size: inode(tmp_path / "sub" / name) for name, size in sizes.items()}
    cuts = []
    real_ftruncate = os.ftruncate
    monkeypatch.setattr(os, "ftruncate", lambda fd, n: (cuts.append(n), real_ftruncate(fd, n)))
    with freeing.in_background():
        replace = Commit(tmp_path)
        for name in sizes:
            replace.write(tmp_path / "sub" / name, b"new")
        replace.apply()  # the four old versions are spares now, by size
        cuts.clear()
        first = Commit(tmp_path)
        first.write(tmp_path / "sub" / "s9.json", b"y" * 3000)
        first.apply()
        assert inode(tmp_path / "sub" / "s9.json") == by_size[2500]
        second = Commit(tmp_path)
        second.write(tmp_path / "sub" / "s8.json", b"z" * 50)
        second.apply()
        assert inode(tmp_path / "sub" / "s8.json") == by_size[100]  # none fits: the smallest
        assert (tmp_path / "sub" / "s9.json").read_bytes() == b"y" * 3000
        assert (tmp_path / "sub" / "s8.json").read_bytes() == b"z" * 50
        assert cuts == [50]
    assert os.listdir(tmp_path / FREEING) == []


@leases
def test_a_version_a_reader_has_open_is_never_written_into(tmp_path, no_age):
    """A reader that opened a file before a commit replaced it reads the old version whole,
    whatever the worker commits next: that version is freed, not reused."""
    (tmp_path / "a.json").write_bytes(b"old a" * 1000)
    with freeing.in_background():
        with open(tmp_path / "a.json", "rb") as reader:
            first = reader.read(10)
            commit = Commit(tmp_path)
            commit.write(tmp_path / "a.json", b"new a")
            commit.apply()
            kept = inode(tmp_path / "a.json")
            second = Commit(tmp_path)
            second.write(tmp_path / "b.json", b"b" * 10_000)
            second.apply()
            assert first + reader.read() == b"old a" * 1000
            assert inode(tmp_path / "b.json") != os.fstat(reader.fileno()).st_ino
        assert inode(tmp_path / "a.json") == kept
    assert os.listdir(tmp_path / FREEING) == []


@leases
def test_a_kept_version_that_still_has_its_name_is_never_written_into(
    tmp_path, monkeypatch, no_age
):
    """A commit that failed before its renames leaves the old versions in place: what it kept
    of them is still the live file, and a later commit must not write into it."""
    commit = four_file_commit(tmp_path)
    real_replace = journal_mod.os.replace

    def fails(src, dst):
        raise OSError(5, "injected failure")

    with freeing.in_background():
        monkeypatch.setattr(journal_mod.os, "replace", fails)
        with pytest.raises(OSError, match="injected"):
            commit.apply()
        monkeypatch.setattr(journal_mod.os, "replace", real_replace)
        journal_mod.recover(tmp_path)  # as the next transaction does: the staged files go
        second = Commit(tmp_path)
        second.write(tmp_path / "c.json", b"c")
        second.apply()
        assert (tmp_path / "a.json").read_bytes() == b"old a"
        assert (tmp_path / "gone.json").read_bytes() == b"old gone"
        assert (tmp_path / "c.json").read_bytes() == b"c"
    assert os.listdir(tmp_path / FREEING) == []


@leases
def test_a_version_replaced_less_than_a_moment_ago_is_not_written_into(tmp_path, monkeypatch):
    """A reader holding no lock may have found a file by its name just before a commit
    replaced it: what was replaced under SPARE_AGE ago is left alone; older, it is reused."""
    clock = [1000.0]
    monkeypatch.setattr(freeing.time, "monotonic", lambda: clock[0])
    with freeing.in_background():
        commit = four_file_commit(tmp_path)
        old = {inode(tmp_path / name) for name in ("a.json", "b.json", "gone.json")}
        commit.apply()
        clock[0] += freeing.SPARE_AGE / 2
        young = Commit(tmp_path)
        young.write(tmp_path / "c.json", b"c")
        young.apply()
        assert inode(tmp_path / "c.json") not in old
        clock[0] += freeing.SPARE_AGE
        aged = Commit(tmp_path)
        aged.write(tmp_path / "d.json", b"d")
        aged.apply()
        assert inode(tmp_path / "d.json") in old
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


@leases
def test_a_checked_file_written_into_an_old_version_is_flushed(tmp_path, monkeypatch, no_age):
    """A checked file (names.keys) is not flushed before the commit point when new: a power cut
    leaves it empty or old, which its readers tell. Written into another file's old version it
    could be left part new, part old bytes: then it is flushed like any other."""
    flushed: list[set[str]] = []
    real = journal_mod.flush_all

    def flush_all(root, files=(), folders=()):
        if Path(root).name == journal_mod.STAGING:  # the staged files' flush, not the folders'
            flushed.append({Path(f).name for f in files})
        real(root, files, folders)

    monkeypatch.setattr(journal_mod, "flush_all", flush_all)
    (tmp_path / "a.json").write_bytes(b"old a")
    with freeing.in_background():
        first = Commit(tmp_path)
        first.write(tmp_path / "a.json", b"new a")
        first.write(tmp_path / "a.keys", b"keys", checked=True)
        first.apply()
        assert flushed[-1] == {"0.tmp"}  # a.json; the new key file is not flushed
        second = Commit(tmp_path)
        second.write(tmp_path / "b.keys", b"more keys", checked=True)  # into a.json's old version
        second.apply()
        assert flushed[-1] == {"0.tmp"}
        assert (tmp_path / "b.keys").read_bytes() == b"more keys"


def versioned(n: int) -> bytes:
    """The n-th version of a file: its length and every byte tell whether it was read whole."""
    return f"{n}:".encode() + bytes([n % 251]) * (500 + (n * 7919) % 20_000) + b"#END"


def whole(data: bytes) -> bool:
    head, _, rest = data.partition(b":")
    if not head.isdigit() or not rest.endswith(b"#END"):
        return False
    n = int(head)
    return data == versioned(n)


@leases
def test_readers_holding_no_lock_read_every_version_whole_while_a_worker_reuses_files(tmp_path):
    """A worker commits the same files again and again, writing into the versions it replaced,
    while readers holding no lock read them over and over: every read is one whole version."""
    names = [f"f{i}.json" for i in range(6)]
    for name in names:
        (tmp_path / name).write_bytes(versioned(0))
    stop = threading.Event()
    bad: list[bytes] = []
    reads = [0]

    def reader(pause: float) -> None:
        while not stop.is_set():
            for name in names:
                with open(tmp_path / name, "rb") as fh:
                    first = fh.read(16)
                    time.sleep(pause)  # still open while the next commits come
                    data = first + fh.read()
                reads[0] += 1
                if not whole(data):
                    bad.append(data[:40])

    # a quick reader, and one that keeps each file open for longer than a spare waits
    pauses = (0.0005, 1.5 * freeing.SPARE_AGE)
    threads = [threading.Thread(target=reader, args=(pause,)) for pause in pauses]
    for thread in threads:
        thread.start()
    inodes: list[int] = []
    try:
        with freeing.in_background():
            started, n = time.monotonic(), 0
            while time.monotonic() - started < 4 * freeing.SPARE_AGE + 0.5:
                n += 1
                commit = Commit(tmp_path)
                for name in names:
                    commit.write(tmp_path / name, versioned(n))
                commit.apply()
                inodes += [inode(tmp_path / name) for name in names]
                time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not bad
    assert reads[0] > 100
    assert len(inodes) > len(set(inodes))  # old versions were written into
    assert all(whole((tmp_path / name).read_bytes()) for name in names)


@leases
def test_a_lease_broken_by_another_process_does_not_end_the_worker(tmp_path):
    """Another process opening a spare while its lease is held (a backup reading .freeing at
    that instant) breaks the lease, which signals SIGIO, whose default ends a process: a worker
    ignores it while it keeps spares, and the opener reads the file once the lease is let go."""
    path = tmp_path / "spare.json"
    path.write_bytes(b"an old version")
    before = signal.getsignal(signal.SIGIO)
    with freeing.in_background():
        fd = os.open(path, os.O_RDWR)
        fcntl.fcntl(fd, freeing._SETLEASE, fcntl.F_WRLCK)
        opener = subprocess.Popen(
            [sys.executable, "-c", f"print(open({str(path)!r}).read())"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)  # its open breaks the lease: SIGIO to this process
        fcntl.fcntl(fd, freeing._SETLEASE, fcntl.F_UNLCK)
        os.close(fd)
        out, _ = opener.communicate(timeout=30)
        assert out.strip() == "an old version"
    assert signal.getsignal(signal.SIGIO) == before


def test_outside_the_main_thread_no_spare_is_kept(tmp_path):
    """SIGIO can be ignored from the main thread only: elsewhere old versions are freed, as
    without spares."""
    spares: list[int] = []

    def commit() -> None:
        with freeing.in_background():
            four_file_commit(tmp_path).apply()
            spares.append(freeing.spare_count())

    thread = threading.Thread(target=commit)
    thread.start()
    thread.join()
    assert spares == [0]
    assert os.listdir(tmp_path / FREEING) == []


@leases
def test_a_spare_of_the_same_kind_is_written_into_first(tmp_path, no_age):
    """Another school's data file or key file replaced earlier is about the size of the one
    being written: written into, it frees or takes few blocks (a large spare cut short frees
    its tail, waiting on the disk with discard)."""
    for school in ("s1", "s2"):
        (tmp_path / school).mkdir()
    (tmp_path / "s1" / "data.json").write_bytes(b"d" * 200_000)
    (tmp_path / "s1" / "names.keys").write_bytes(b"k" * 2_000)
    with freeing.in_background():
        first = Commit(tmp_path)
        old_data = inode(tmp_path / "s1" / "data.json")
        old_keys = inode(tmp_path / "s1" / "names.keys")
        first.write(tmp_path / "s1" / "data.json", b"D" * 200_000)  # freed first
        first.write(tmp_path / "s1" / "names.keys", b"K" * 2_000)
        first.apply()
        second = Commit(tmp_path)
        second.write(tmp_path / "s2" / "names.keys", b"keys" * 500)
        second.apply()
        assert inode(tmp_path / "s2" / "names.keys") == old_keys
        third = Commit(tmp_path)
        third.write(tmp_path / "s2" / "why.idx", b"w" * 100)  # no spare of its kind: any other
        third.apply()
        assert inode(tmp_path / "s2" / "why.idx") == old_data
        assert (tmp_path / "s2" / "why.idx").read_bytes() == b"w" * 100
    assert os.listdir(tmp_path / FREEING) == []
