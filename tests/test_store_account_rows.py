"""The accounts a search found, read from their schools' files by cutting out only their rows
(store.account_rows): the same accounts as a whole parse gives, or a whole parse whenever a file
is not laid out as the store writes it."""

from __future__ import annotations

import json

import pytest
from factories import acc

from uso_tui.domain.models import School
from uso_tui.store import open_store
from uso_tui.store.account_rows import account_rows, accounts_table
from uso_tui.store.storage import read_json, table_rows

DFE, OTHER = "204-3210", "204-3211"
# Text a row's cut looks for, inside a name: JSON escapes its quotes, so it must never match.
TRICKY = 'Ann","2":{"username":"x'


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "data", create=True)
    with store.transaction("test") as tx:
        for dfe in (DFE, OTHER):
            tx.add_school(School(dfe, f"School {dfe}", "iSAMS", "https://s.isams.cloud", "id"), "s")
        tx.put_accounts(
            [
                acc("asmith.204", TRICKY, "Smith", "2012-01-01", mis_id="1", extra={"upn": "A1"}),
                acc("bsmith.204", "Ben", "Smith", "2012-02-02", preferred_name="Benny"),
                acc("csmith.204", "Cat", "Smith", None, mis_id="3"),
                acc("dsmith.204", "Dan", "Smith", "2013-03-03", school=OTHER),
            ]
        )
    return store


def rows_by_parse(store, dfe: str) -> dict[str, dict]:
    return {r["username"]: r for r in table_rows(read_json(store.layout.data(dfe)), "accounts")}


def test_rows_cut_out_are_the_rows_a_whole_parse_gives(store):
    raw = store.layout.data(DFE).read_bytes()
    whole = rows_by_parse(store, DFE)
    wanted = ["csmith.204", "asmith.204", "nobody.204", "bsmith.204"]  # the last row, the first
    assert account_rows(raw, wanted) == [whole[u] for u in wanted if u in whole]
    assert account_rows(raw, []) == []


def test_a_file_not_laid_out_as_the_store_writes_it_is_not_cut(store):
    path = store.layout.data(DFE)
    data = json.loads(path.read_bytes())
    assert account_rows(json.dumps(data, indent=1).encode(), ["asmith.204"]) is None
    del data["meta"]["1"]["accounts_hash"]  # as an older version wrote it
    assert account_rows(json.dumps(data, separators=(",", ":")).encode(), ["asmith.204"]) is None
    changed = path.read_bytes().replace(b'"Ben"', b'"Bob"')  # the hash no longer matches
    assert account_rows(changed, ["asmith.204"]) is None


def test_search_hits_become_the_accounts_a_whole_load_gives(store):
    hits = store.search_accounts("smith")
    expected = {a.username: a for dfe in (DFE, OTHER) for a in store.school_accounts(dfe)}
    assert [a.username for a in store.hit_accounts(hits)] == [h.username for h in hits]
    assert store.hit_accounts(hits) == [expected[h.username] for h in hits]
    # The same when a school's file has to be parsed whole (written in another layout).
    path = store.layout.data(DFE)
    path.write_text(json.dumps(json.loads(path.read_bytes()), indent=1))
    assert store.hit_accounts(hits) == [expected[h.username] for h in hits]


def test_an_account_no_longer_in_its_home_file_is_left_out(store):
    hits = store.search_accounts("smith")
    moved = [h._replace(home=OTHER) if h.username == "csmith.204" else h for h in hits]
    kept = [h.username for h in hits if h.username != "csmith.204"]
    assert [a.username for a in store.hit_accounts(moved)] == kept


def test_a_commit_that_changes_no_account_writes_the_accounts_table_as_it_was(store, monkeypatch):
    """A school's file rewritten with no account changed (a daily run's run record) carries its
    accounts table over byte for byte, not encoded again; a change of one account is written."""
    from uso_tui.store import schooldoc

    path = store.layout.data(DFE)
    before = path.read_bytes()
    encoded = []
    real_encode = schooldoc.encode
    monkeypatch.setattr(schooldoc, "encode", lambda v: encoded.append(v) or real_encode(v))
    state = store.school_state(DFE)
    with store.transaction("test") as tx:
        assert tx.adopt(state)
        tx.add_exclusion(DFE, "Zed", "Nobody", None, "2026-01-01T00:00:00")  # the file changes
    after = path.read_bytes()
    assert after != before
    span_before, span_after = accounts_table(before), accounts_table(after)
    assert before[slice(*span_before)] == after[slice(*span_after)]
    assert rows_by_parse(store, DFE)["asmith.204"]["forename"] == TRICKY
    assert len(encoded) == 1  # the whole file, once; not the accounts table alone

    with store.transaction("test") as tx:
        tx.put_accounts([acc("bsmith.204", "Bob", "Smith", "2012-02-02")])
    assert rows_by_parse(store, DFE)["bsmith.204"]["forename"] == "Bob"
    assert accounts_table(path.read_bytes()) is not None  # its hash is of what was written


def test_an_accounts_table_that_does_not_match_its_hash_is_encoded_again(store):
    """A file whose accounts table was changed from outside (its hash no longer matches) has its
    accounts written from what was parsed at the next commit, and a hash that matches again."""
    path = store.layout.data(DFE)
    path.write_bytes(path.read_bytes().replace(b'"Ben"', b'"Bob"'))
    with store.transaction("test") as tx:
        tx.add_exclusion(DFE, "Zed", "Nobody", None, "2026-01-01T00:00:00")
    assert accounts_table(path.read_bytes()) is not None
    assert rows_by_parse(store, DFE)["bsmith.204"]["forename"] == "Bob"
