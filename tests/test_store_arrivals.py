"""Accounts that move into a local authority's schools from another's keep the username of the
LA they were made in: the LA's arrivals list them, for runs that planned before the move
(sync/fresh.py)."""

from __future__ import annotations

import dataclasses

import pytest

from uso_tui.domain.models import Account, School
from uso_tui.store import arrivals as arrivals_mod
from uso_tui.store import open_store
from uso_tui.sync.fresh import WrittenSinceWatch

NOW = "2026-09-01T06:00:00"
HERE, THERE, NEAR = "204-3210", "305-4120", "204-3211"


def school(dfe: str) -> School:
    return School(dfe, f"School {dfe}", "iSAMS", f"https://s{dfe[-4:]}.isams.cloud", "id")


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "data")
    with store.transaction("tester") as tx:
        for dfe in (HERE, THERE, NEAR):
            tx.add_school(school(dfe), "secret")
    return store


def made(store, dfe: str, forename: str, surname: str) -> Account:
    with store.transaction("tester") as tx:
        account = Account(
            username=tx.new_username(forename, surname, dfe[:3]),
            role="pupil",
            forename=forename,
            surname=surname,
            dob="2011-12-01",
            school=dfe,
            created_at=NOW,
        )
        tx.put_accounts([account])
    return account


def moved(store, account: Account, to: str) -> None:
    with store.transaction("tester") as tx:
        tx.put_accounts([dataclasses.replace(tx.account(account.username), school=to)])


def test_a_move_from_another_la_is_an_arrival_and_one_within_the_la_is_not(store):
    assert store.la_arrivals("204") == (0, [])
    kate = made(store, THERE, "Katherine", "Rasmussen")
    sam = made(store, HERE, "Sam", "Ode")
    moved(store, sam, NEAR)  # within LA 204: its registry shows it
    assert store.la_arrivals("204") == (0, [])
    moved(store, kate, NEAR)
    assert store.la_arrivals("204") == (1, [(0, kate.username)])
    moved(store, kate, THERE)  # back: an arrival in 305
    moved(store, kate, HERE)  # and again in 204
    assert store.la_arrivals("204") == (2, [(0, kate.username), (1, kate.username)])
    assert store.la_arrivals("305") == (1, [(0, kate.username)])


def test_the_arrivals_keep_the_last_ones(store, monkeypatch):
    monkeypatch.setattr(arrivals_mod, "ARRIVALS_KEPT", 2)
    kate = made(store, THERE, "Katherine", "Rasmussen")
    for to in (NEAR, THERE, HERE, THERE, NEAR):
        moved(store, kate, to)
    upto, recent = store.la_arrivals("204")
    assert upto == 3 and [seq for seq, _ in recent] == [1, 2]


def test_a_run_watching_the_la_catches_up_with_an_account_moved_in(store):
    kate = made(store, THERE, "Katherine", "Rasmussen")
    written = WrittenSinceWatch()
    written.watch(store, "204")  # a run is about to plan a school of LA 204
    moved(store, kate, NEAR)  # an operator matches her mover's case meanwhile
    other = open_store(store.root)  # the run's process
    with other.transaction("run") as txn:
        fresh = written.catch_up(txn, {"204"})
    assert [a.username for a in fresh] == [kate.username]
    with other.transaction("run") as txn:  # once
        assert written.catch_up(txn, {"204"}) == []


def test_a_damaged_arrivals_file_stops_no_run_and_the_next_arrival_writes_it_again(store):
    path = store.root / "registry" / "204.arrivals.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"next": 3, "recent": [["x", 1], [2, "kate.305"]]}')
    assert store.la_arrivals("204") == (3, [(2, "kate.305")])  # the odd entry skipped
    path.write_text('{"next": 3, "rec')
    assert store.la_arrivals("204") == (0, [])
    kate = made(store, THERE, "Katherine", "Rasmussen")
    moved(store, kate, NEAR)
    assert store.la_arrivals("204") == (1, [(0, kate.username)])
