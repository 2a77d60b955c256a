"""The data directory: only the folders the product makes get owner-only modes; an existing one
others can write in is refused; a file given as the data directory is bad input."""

from __future__ import annotations

import os
import stat

import pytest

from uso_tui.store import StoreError, open_store


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_an_existing_owner_only_folder_keeps_its_mode(tmp_path, cli_at):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)  # readable by others, writable by its owner only: usable
    cli_at(shared).add_school()
    assert mode(shared) == 0o755
    for made in ("schools", "secrets", "schools/204-3210"):
        assert mode(shared / made) == 0o700, made


def test_missing_folders_are_made_owner_only_but_not_their_parent(tmp_path, cli_at):
    parent = tmp_path / "parent"
    parent.mkdir()
    os.chmod(parent, 0o755)
    cli_at(parent / "a" / "b").add_school()
    assert mode(parent) == 0o755
    assert mode(parent / "a") == 0o700 and mode(parent / "a" / "b") == 0o700


@pytest.mark.parametrize("bits", [0o777, 0o1777, 0o770, 0o720, 0o702])
def test_a_folder_others_can_write_in_is_refused_and_left_alone(tmp_path, cli_at, bits):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, bits)
    res = cli_at(shared)("school", "add", "204-3210", "--name", "X", "--mis", "iSAMS",
                         "--url", "https://x3210.isams.cloud", "--client-id", "c",
                         "--client-secret-env", "USO_TEST_SECRET")  # fmt: skip
    assert res.status != 0
    assert "can be changed by" in res.err and str(shared) in res.err
    assert stat.S_IMODE(os.stat(shared).st_mode) == bits
    assert os.listdir(shared) == []


def test_a_store_made_writable_by_others_since_is_refused(tmp_path, cli_at):
    data = tmp_path / "data"
    cli_at(data).add_school()
    os.chmod(data, 0o777)
    with pytest.raises(StoreError, match="can be changed by everyone"):
        open_store(data)
    res = cli_at(data)("school", "list")
    assert res.status == 2 and "refusing to use it" in res.err  # a setting to correct


@pytest.mark.parametrize("argv", [("school", "list"), ("audit",)])
def test_a_file_as_data_directory_is_bad_input(tmp_path, cli_at, argv):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    os.chmod(notes, 0o644)
    res = cli_at(notes)(*argv)
    assert res.status == 2
    assert "not a directory" in res.err and ".lock" not in res.err


def test_school_add_with_a_file_as_data_directory_changes_nothing(tmp_path, cli_at):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    os.chmod(notes, 0o644)
    res = cli_at(notes)("school", "add", "204-3210", "--name", "X", "--mis", "iSAMS",
                    "--url", "https://x3210.isams.cloud", "--client-id", "c",
                    "--client-secret-env", "USO_TEST_SECRET")  # fmt: skip
    assert res.status == 2 and "not a directory" in res.err and ".lock" not in res.err
    assert mode(notes) == 0o644 and notes.read_text() == "hello"


def test_open_store_on_a_file_says_not_a_directory(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(StoreError, match="not a directory"):
        open_store(notes)


def test_a_store_on_a_read_only_file_system_can_still_be_read(tmp_path, cli_at, monkeypatch):
    """A store on a read-only file system (a backup mounted to look into) lists, searches and
    answers "why" as usual: its lock files are opened for reading when they cannot be opened for
    writing (flock works either way). A change is refused naming the file it could not write."""
    import errno

    cli = cli_at(tmp_path / "store")
    cli.add_school()
    opened = os.open

    def read_only(path, flags, *args):  # as a read-only mount answers
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return opened(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)  # every open for writing, as on the mount
    listed = cli.ok("school", "list")
    assert "204-3210" in listed.out
    assert cli("why", "nobody").status == 0
    refused = cli("school", "set", "204-3210", "--daily-at", "07:00")
    assert refused.status == 1 and "Read-only file system" in refused.err


def test_a_read_only_store_with_a_failed_commit_s_files_left_can_still_be_read(
    tmp_path, cli_at, monkeypatch
):
    """A failed commit's staged files left (a disk full, a kill), the store then mounted
    read-only: every command, reads too, failed naming the staged file. A commit whose renames
    may be half made (its journal left) is said so instead."""
    import errno

    cli = cli_at(tmp_path / "store")
    cli.add_school()
    staging = tmp_path / "store" / ".staging"
    staging.mkdir(exist_ok=True)
    (staging / "0.tmp").write_bytes(b"{}")
    opened, unlinked = os.open, os.unlink

    def read_only(path, flags, *args):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return opened(path, flags, *args)

    def no_unlink(path, *args, **kw):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(os, "unlink", no_unlink)
    assert "204-3210" in cli.ok("school", "list").out
    monkeypatch.setattr(os, "unlink", unlinked)
    monkeypatch.setattr(os, "open", opened)
    (tmp_path / "store" / "journal.json").write_bytes(b'{"renames": []}')
    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(os, "unlink", no_unlink)
    refused = cli("school", "list")
    assert refused.status == 1 and "commit interrupted part way" in refused.err


@pytest.mark.parametrize("own", [".staging", ".freeing"])
def test_a_folder_of_uso_tui_s_own_as_a_link_is_refused_and_what_it_points_at_untouched(
    tmp_path, cli_at, own
):
    """A `.staging` made a link to another folder (a restore gone wrong) had the next command,
    a mere `school list`, delete every file there (recovery clears staged files)."""
    cli = cli_at(tmp_path / "data")
    cli.add_school()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me")
    (elsewhere / "1.tmp").write_text("keep me too")
    target = tmp_path / "data" / own
    if target.exists():
        for name in os.listdir(target):
            os.unlink(target / name)
        target.rmdir()
    target.symlink_to(elsewhere)
    for argv in (("school", "list"), ("school", "set", "204-3210", "--name", "Dale School")):
        res = cli(*argv)
        assert sorted(os.listdir(elsewhere)) == ["1.tmp", "precious.txt"], argv
        if res.status or argv[1] == "set":  # a change refused, in one line, naming the link
            assert res.status and "symbolic link" in res.err and own in res.err, argv
            assert "Traceback" not in res.err


def test_a_lock_file_as_a_link_is_refused_and_its_target_s_mode_kept(tmp_path, cli_at):
    cli = cli_at(tmp_path / "data")
    cli.add_school()
    outside = tmp_path / "outside.conf"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    lock = tmp_path / "data" / ".lock"
    lock.unlink()
    lock.symlink_to(outside)
    res = cli("school", "set", "204-3210", "--name", "Dale School")
    assert res.status != 0 and "symbolic link" in res.err and ".lock" in res.err
    assert mode(outside) == 0o644 and outside.read_text() == "x"


def test_a_full_disk_is_said_with_what_to_do_and_changes_nothing(tmp_path, cli_at, monkeypatch):
    import errno

    from uso_tui.store import storage

    cli = cli_at(tmp_path / "data")
    cli.add_school()

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "write", full)
    res = cli("school", "set", "204-3210", "--name", "Dale School")
    monkeypatch.undo()
    assert res.status == 1 and len(res.err.strip().splitlines()) == 1
    assert "No space left on device" in res.err and "free space" in res.err
    assert cli.ok("school", "show", "204-3210", "--json").json()["name"] == "Hill School"


def test_a_school_s_data_file_replaced_by_a_directory_is_said_damaged(tmp_path, cli_at):
    cli = cli_at(tmp_path / "data")
    cli.add_school()
    data = tmp_path / "data" / "schools" / "204-3210" / "data.json"
    data.unlink()
    data.mkdir()
    res = cli("accounts", "204-3210")
    assert res.status == 1 and "a directory where a file belongs" in res.err
    assert "restore" in res.err and "Traceback" not in res.err
