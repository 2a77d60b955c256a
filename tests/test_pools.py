"""PoolCache: one build per local authority and role, however many runs want it at once."""

from __future__ import annotations

import threading

import pytest

from uso_tui.domain.models import Account, MisRecord
from uso_tui.sync import pools
from uso_tui.sync.pools import PoolCache


def account(username: str, school: str = "204-1000") -> Account:
    return Account(
        username=username,
        role="pupil",
        forename="Ann",
        surname="Lee",
        dob="2015-01-02",
        school=school,
    )


def test_concurrent_gets_build_each_index_once():
    calls = []
    asked = []
    everyone_asked = threading.Event()
    lock = threading.Lock()

    def loader(la: str, role: str) -> list[Account]:
        calls.append((la, role))
        assert everyone_asked.wait(10)  # every thread asks while this one builds
        return [account("alee.204")]

    def ask() -> None:
        with lock:
            asked.append(1)
            if len(asked) == 8:
                everyone_asked.set()
        got.append(cache.get("204", "pupil"))

    cache = PoolCache(loader)
    got = []
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [("204", "pupil")]
    assert cache.builds == 1
    assert len({id(i) for i in got}) == 1


def test_a_failed_build_lets_the_next_caller_build(monkeypatch):
    monkeypatch.setattr(pools, "BUILD_WAIT", 5.0)
    attempts = []

    def loader(la: str, role: str) -> list[Account]:
        attempts.append(la)
        if len(attempts) == 1:
            raise OSError("disk went away")
        return [account("alee.204")]

    cache = PoolCache(loader)
    with pytest.raises(OSError):
        cache.get("204", "pupil")
    assert cache.get("204", "pupil") is cache.get("204", "pupil")
    assert len(attempts) == 2


def test_committed_accounts_join_the_index():
    cache = PoolCache(lambda la, role: [])
    idx = cache.get("204", "pupil")
    cache.update([account("alee.204")])
    rec = MisRecord(report="students", mis_id="1", forename="Ann", surname="Lee", dob="2015-01-02")
    assert [c.username for c in idx.candidates(rec, "204-2000")] == ["alee.204"]


def test_an_index_built_after_its_la_was_loaded_holds_what_was_committed_since():
    """Both roles' indexes come from one load of the local authority: the one built later has
    the accounts this process committed meanwhile (a run's settle trusts the pool with them)."""
    loads = []

    def la_people(la: str, role: str | None) -> list[Account]:
        loads.append(la)
        return [account("alee.204")]

    cache = PoolCache()
    cache.get("204", "pupil", lambda: cache.accounts_of("204", "pupil", la_people))
    bo = Account(
        username="bcho.204",
        role="staff",
        forename="Bo",
        surname="Cho",
        dob="1980-03-04",
        school="204-1000",
    )
    cache.update([bo])  # committed here before any school wanted the staff index
    staff = cache.get("204", "staff", lambda: cache.accounts_of("204", "staff", la_people))
    rec = MisRecord(report="staff", mis_id="9", forename="Bo", surname="Cho", dob="1980-03-04")
    assert [c.username for c in staff.candidates(rec, "204-2000")] == ["bcho.204"]
    assert loads == ["204"]


def test_an_index_read_fresh_is_not_given_older_states():
    """What this process committed reaches an index built from the local authority's shared
    load, not one whose loader read the store itself (under the lock: newer, maybe, than what
    this process wrote)."""
    cache = PoolCache()
    cache.get("204", "staff", lambda: cache.accounts_of("204", "staff", lambda la, role: []))
    cache.update([account("alee.204", school="204-1000")])  # (no pupil index yet)
    moved = account("alee.204", school="204-2000")  # since moved, by another process
    fresh = cache.get("204", "pupil", lambda: [moved])
    rec = MisRecord(report="students", mis_id="1", forename="Ann", surname="Lee", dob="2015-01-02")
    assert [c.school for c in fresh.candidates(rec, "204-3000")] == ["204-2000"]


def test_accounts_committed_while_an_index_is_built_from_the_shared_load_reach_it():
    cache = PoolCache()
    cache.get("204", "staff", lambda: cache.accounts_of("204", "staff", lambda la, role: []))

    def load_then_commit() -> list:
        got = cache.accounts_of("204", "pupil", lambda la, role: [])
        cache.update([account("alee.204")])  # another thread commits meanwhile
        return got

    idx = cache.get("204", "pupil", load_then_commit)
    rec = MisRecord(report="students", mis_id="1", forename="Ann", surname="Lee", dob="2015-01-02")
    assert [c.username for c in idx.candidates(rec, "204-3000")] == ["alee.204"]


def test_a_build_started_again_beside_a_slow_one_misses_nothing_committed_between():
    """A thread that waited BUILD_WAIT for a slow build builds the index itself: the first
    build, kept, still gets what was committed between the two loads."""
    cache = PoolCache()
    cache.get("204", "staff", lambda: cache.accounts_of("204", "staff", lambda la, role: []))

    def slow_first_build() -> list:
        first = cache.accounts_of("204", "pupil", lambda la, role: [])
        cache.update([account("alee.204")])  # committed meanwhile
        cache.accounts_of("204", "pupil", lambda la, role: [])  # the second builder's load
        return first

    idx = cache.get("204", "pupil", slow_first_build)
    rec = MisRecord(report="students", mis_id="1", forename="Ann", surname="Lee", dob="2015-01-02")
    assert [c.username for c in idx.candidates(rec, "204-3000")] == ["alee.204"]
