"""What matching reads of people from the store: the fields it weighs, carried by the compact
name indexes (la_people), and the store-wide lookup of movers by UPN or names and date of birth
(find_people)."""

from __future__ import annotations

import dataclasses
import os
import re
import time

import pytest

from uso_tui.domain.models import Account, School
from uso_tui.domain.names import normalise
from uso_tui.store import open_store
from uso_tui.store import people as people_mod
from uso_tui.store.errors import CorruptFile
from uso_tui.store.index import index_line, read_hits

NOW = "2026-09-01T06:00:00"


def school(dfe: str) -> School:
    return School(dfe, f"School {dfe}", "iSAMS", f"https://s{dfe[-4:]}.isams.cloud", "id")


def account(tx, dfe: str, forename: str, surname: str, dob: str = "2012-03-04", **kw) -> Account:
    return Account(
        username=tx.new_username(forename, surname, dfe[:3]),
        role=kw.pop("role", "pupil"),
        forename=forename,
        surname=surname,
        dob=dob,
        school=dfe,
        created_at=NOW,
        **kw,
    )


@pytest.fixture(autouse=True)
def index_every_look(monkeypatch):
    """The map of every index, checked at every look (its tests below); the looks of a cold
    process and a run_due's trust in a fresh check have tests of their own."""
    monkeypatch.setattr(people_mod, "RECHECK_S", 0.0)
    monkeypatch.setattr(people_mod, "SCAN_LOOKS", 0)


@pytest.fixture
def store(tmp_path):
    store = open_store(tmp_path / "data")
    with store.transaction("tester") as tx:
        for dfe in ("204-3210", "204-3211", "301-0001"):
            tx.add_school(school(dfe), "secret")
    return store


def put(store, *specs: tuple) -> list[str]:
    """Accounts (dfe, forename, surname, keywords) put in one transaction; their usernames."""
    with store.transaction("tester") as tx:
        accounts = [account(tx, dfe, f, s, **kw) for dfe, f, s, kw in specs]
        tx.put_accounts(accounts)
    return [a.username for a in accounts]


def people(store, la: str = "204") -> dict[str, tuple]:
    return {
        h.username: (h.middle_names, h.gender, h.upn, h.year_group) for h in store.la_people(la)
    }


ANN = {"gender": "F", "upn": "A123456789012", "year_group": "7"}


def test_la_people_carry_the_fields_matching_weighs(store):
    ann, bo = put(
        store,
        ("204-3210", "Ann", "Lee", {"middle_names": "Mary Jane", "extra": {**ANN, "form": "7A"}}),
        ("204-3211", "Bo", "Ray", {"role": "staff"}),
    )
    assert people(store) == {
        ann: ("Mary Jane", "F", "A123456789012", "7"),
        bo: ("", None, None, None),
    }


def test_a_upn_is_read_back_stripped_and_upper_cased(store):
    (ann,) = put(store, ("204-3210", "Ann", "Lee", {"extra": {"upn": " a123456789012 "}}))
    assert people(store)[ann][2] == "A123456789012"


def test_hostile_matching_fields_stay_one_line(store):
    hostile = {"gender": "M\n", "upn": "x\ty", "year_group": "7\r\n1"}
    bad, ok = put(
        store,
        ("204-3210", "Ann", "Lee", {"middle_names": "A\tB\nC\rD\x1fE\x1eF\x1dG", "extra": hostile}),
        ("204-3210", "Cy", "Ng", {"extra": ANN}),
    )
    assert (store.root / "schools/204-3210/names.idx").read_bytes().count(b"\n") == 2
    assert people(store) == {
        bad: ("A B C D E F G", "M ", "XY", "7  1"),
        ok: ("", "F", "A123456789012", "7"),
    }


def test_lines_written_before_the_matching_fields_still_parse():
    line = b" ajones.204 2015-04-02 amy jones\tpa1\tAmy\tJones\t\n"
    (hit,) = read_hits(line, "204-3210")
    assert (hit.username, hit.forename, hit.surname, hit.dob, hit.school) == (
        "ajones.204",
        "Amy",
        "Jones",
        "2015-04-02",
        "204-3210",
    )
    assert (hit.middle_names, hit.gender, hit.upn, hit.year_group) == ("", None, None, None)


def test_fields_after_the_matching_fields_are_skipped():
    line = index_line({"username": "a.204", "role": "pupil", "forename": "A", "surname": "B"})
    newer = line.replace("\t", "\x1fnewfield\t", 1).encode()
    (hit,) = read_hits(newer, "204-3210")
    assert (hit.forename, hit.surname, hit.year_group) == ("A", "B", None)


def _as_older_index(store, dfe: str) -> None:
    """Rewrites the school's index as uso-tui wrote it before it held the matching fields."""
    path = store.root / "schools" / dfe / "names.idx"
    path.write_bytes(re.sub(rb"\x1f[^\t]*\t", b"\t", path.read_bytes()))


def test_an_older_index_is_made_again_whole_when_one_account_changes(store):
    ann, cy = put(
        store,
        ("204-3210", "Ann", "Lee", {"extra": ANN}),
        ("204-3210", "Cy", "Ng", {"extra": {"upn": "B123456789012"}}),
    )
    _as_older_index(store, "204-3210")
    idx = store.root / "schools" / "204-3210" / "names.idx"
    assert b"B123456789012" not in idx.read_bytes()
    with store.transaction("tester") as tx:
        ann_account = tx.account(ann)
        ann_account.preferred_name = "Annie"
        tx.put_account(ann_account)
    assert people(store) == {
        ann: ("", "F", "A123456789012", "7"),
        cy: ("", None, "B123456789012", None),
    }
    assert b"B123456789012" in idx.read_bytes()


def test_a_damaged_index_is_not_what_matching_reads(store):
    # names.idx cut short from outside: the local authority's pool (the candidates of every
    # starter) must not lose the accounts of its missing lines, and the school's next commit
    # writes it whole again (not the damaged lines plus the new ones).
    names = put(
        store,
        *(("204-3210", f"Ann{chr(97 + i)}", "Lee", {"extra": ANN}) for i in range(8)),
    )
    idx = store.root / "schools" / "204-3210" / "names.idx"
    whole = idx.read_bytes()
    idx.write_bytes(whole[: len(whole) // 2])
    assert sorted(people(store)) == sorted(names)
    with store.transaction("tester") as tx:
        first = tx.account(names[0])
        first.preferred_name = "Annie"
        tx.put_account(first)
    assert idx.read_bytes().count(b"\n") == len(names)
    assert sorted(people(store)) == sorted(names)


def test_a_change_of_a_matching_field_alone_reaches_the_index(store):
    (ann,) = put(store, ("204-3210", "Ann", "Lee", {"extra": ANN}))
    with store.transaction("tester") as tx:
        ann_account = tx.account(ann)
        ann_account.extra = {**ann_account.extra, "year_group": "8"}
        ann_account.middle_names = "Jo"
        tx.put_account(ann_account)
    assert people(store)[ann] == ("Jo", "F", "A123456789012", "8")


def test_search_does_not_hit_the_matching_fields(store):
    (ann,) = put(store, ("204-3210", "Ann", "Lee", {"middle_names": "Xavi Quin", "extra": ANN}))
    for text in ("xavi", "quin", "A123456789012", "a1234", "7", "f", "ann xavi"):
        assert store.search_accounts(text) == [], text
    assert [h.username for h in store.search_accounts("ann lee")] == [ann]
    assert store.search_accounts("ann lee")[0].upn == "A123456789012"


# ---- find_people


def keys(forename: str, surname: str, dob: str) -> tuple[str, str, str]:
    return (normalise(forename), normalise(surname), dob)


def found(store, role="pupil", upns=(), name_dobs=()) -> list[str]:
    return [h.username for h in store.find_people(role, set(upns), set(name_dobs))]


def test_find_people_by_upn_in_any_local_authority(store):
    far, _ = put(
        store,
        ("301-0001", "Ann", "Lee", {"extra": {"upn": "a123456789012"}}),
        ("204-3210", "Ann", "Lee", {"extra": {"upn": "B123456789012"}}),
    )
    assert found(store, upns={"A123456789012"}) == [far]
    assert found(store, upns={" a123456789012 "}) == [far]
    assert found(store, upns={"A12345678901"}) == []  # a prefix is another UPN
    hit = store.find_people("pupil", {"A123456789012"}, set())[0]
    assert (hit.school, hit.home, hit.upn) == ("301-0001", "301-0001", "A123456789012")


def test_find_people_by_names_and_date_of_birth_in_any_local_authority(store):
    far, near, _, _ = put(
        store,
        ("301-0001", "Zoë", "O'Brien-Smith", {"dob": "2011-05-06"}),
        ("204-3211", "zoe", "OBRIEN SMITH", {"dob": "2011-05-06"}),
        ("204-3210", "Zoe", "Obrien-Smith", {"dob": "2011-05-07"}),  # another day
        ("204-3210", "Zoe", "Brien", {"dob": "2011-05-06"}),  # another surname
    )
    assert found(store, name_dobs={keys("Zoe", "O'Brien Smith", "2011-05-06")}) == [near, far]


def test_find_people_by_a_forename_or_a_surname_alone_with_the_date_of_birth(store):
    # "" stands for any surname (married, mistyped) or any forename (a known-as form, a slip)
    married, slip, other, _ = put(
        store,
        ("301-0001", "Joanna", "Smith", {"dob": "1984-06-30", "role": "staff"}),
        ("301-0001", "Chalrie", "Brown", {"dob": "1984-06-30", "role": "staff"}),
        ("204-3210", "Joanna", "Okafor", {"dob": "1984-07-01", "role": "staff"}),  # another day
        ("204-3210", "Amy", "Lee", {"dob": "1984-06-30", "role": "staff"}),  # nothing in common
    )
    wanted = {("joanna", "", "1984-06-30"), ("", "brown", "1984-06-30")}
    assert found(store, role="staff", name_dobs=wanted) == sorted([married, slip])
    assert other not in found(store, role="staff", name_dobs={("joanna", "", "1984-06-30")})


def test_find_people_by_both_names_finds_them_on_any_of_the_dates_asked(store):
    """A triple with both names is looked for by the pair, whatever its date: matching asks for
    a name with every slip of a keyed-in date of birth (a mover whose date was mistyped)."""
    oliver, pref, _, _, _ = put(
        store,
        ("301-0001", "Oliver", "Clarke", {"dob": "1975-04-10", "role": "staff"}),
        (
            "301-0001",
            "Olly",
            "Clarke",
            {"dob": "1976-05-10", "role": "staff", "preferred_name": "Oliver"},
        ),  # fmt: skip
        ("301-0001", "Oliver", "Clarke", {"dob": "1980-01-01", "role": "staff"}),  # not asked
        ("301-0001", "Oliver", "Clerk", {"dob": "1975-04-10", "role": "staff"}),  # surname
        ("204-3210", "Amy", "Clarke", {"dob": "1975-04-10", "role": "staff"}),  # forename
    )
    wanted = {("oliver", "clarke", d) for d in ("1975-04-10", "1976-05-10", "1977-04-10")}
    reader = open_store(store.root)  # another process: the keys read from the key file
    for look in range(4):  # the first looks read every index, the later ones the keys
        assert found(reader, role="staff", name_dobs=wanted) == sorted([oliver, pref]), look
    assert reader.people.parsed == 0
    assert found(reader, name_dobs=wanted) == []  # pupils


@pytest.mark.parametrize("cold", [True, False])
@pytest.mark.parametrize("padding", [0, people_mod.FEW_NEEDLES + 5])
def test_find_people_finds_the_same_with_few_or_many_dates_and_upns_asked(
    store, monkeypatch, padding, cold
):
    """A school is searched for a few dates and UPNs plainly, for many (a process's first look
    asks every school for all of them) with patterns: each finds the accounts asked for, and
    only those."""
    monkeypatch.setattr(people_mod, "SCAN_LOOKS", 2 if cold else 0)
    by_forename, by_surname, by_upn, _, _ = put(
        store,
        ("301-0001", "Joanna", "Smith", {"dob": "2011-06-30"}),
        ("204-3211", "Chalrie", "Brown", {"dob": "2011-07-30"}),
        ("204-3210", "Amy", "Lee", {"extra": {"upn": "A123456789012"}}),
        ("204-3210", "Joanna", "Okafor", {"dob": "2011-07-01"}),  # another day
        # the date asked, but in a name only: the line's own date is another
        ("204-3210", "Kim 2011-06-30", "Lee", {"dob": "2011-01-02"}),
    )
    wanted = {("joanna", "", "2011-06-30"), ("", "brown", "2011-07-30")}
    wanted |= {("", "nobody", f"2001-01-{day:02}") for day in range(1, padding + 1)}
    upns = {"A123456789012"} | {f"Z{n:012}" for n in range(padding)}
    reader = open_store(store.root)  # a process of its own: its first looks are cold
    assert found(reader, upns=upns, name_dobs=wanted) == sorted([by_forename, by_surname, by_upn])


@pytest.mark.parametrize("cold", [True, False])
def test_find_people_by_many_pairs_finds_the_same_cold_or_warm(store, monkeypatch, cold):
    """A process's first look scans every school for every pair's forename in one pass; later
    looks scan a school for the forenames whose keys it holds, one by one. Both find the pairs
    asked for, by whole forename, on the dates asked."""
    monkeypatch.setattr(people_mod, "SCAN_LOOKS", 2 if cold else 0)
    oliver, liv, _, _ = put(
        store,
        ("301-0001", "Oliver", "Clarke", {"dob": "1975-04-10", "role": "staff"}),
        (
            "204-3210",
            "Olivia",
            "Clarkson",
            {"dob": "1980-02-03", "role": "staff", "preferred_name": "Liv"},
        ),
        ("204-3211", "Olive", "Clarke", {"dob": "1975-04-10", "role": "staff"}),  # a prefix
        ("204-3211", "Oliver", "Clarke", {"dob": "1975-05-10", "role": "staff"}),  # not asked
    )
    wanted = {("oliver", "clarke", "1975-04-10"), ("liv", "clarkson", "1980-02-03")}
    wanted |= {(f"name{c}", "nobody", "1990-01-01") for c in "abcdefgh"}
    reader = open_store(store.root)
    assert found(reader, role="staff", name_dobs=wanted) == sorted([oliver, liv])


def test_a_key_file_of_an_older_version_is_ignored_and_made_again(store):
    """Key files written before the name pairs' keys do not describe their index: it is parsed
    (so the pairs are found), and the next commit writes the key file whole."""
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"dob": "2012-03-04"}))
    path = store.root / "schools/301-0001/names.keys"
    index = (store.root / "schools/301-0001/names.idx").read_bytes()
    path.write_bytes(path.read_bytes().replace(b"USOKEYS2", b"USOKEYS1", 1))
    assert people_mod.read_keys_file(index, path.read_bytes()) is None
    reader = open_store(store.root)
    for _ in range(3):
        assert found(reader, name_dobs={("ann", "lee", "2012-04-03")}) == []
        assert found(reader, name_dobs={("ann", "lee", "2012-03-04")}) == [ann]
    assert reader.people.parsed == 1
    put(store, ("301-0001", "Bob", "Ng", {}))
    index = (store.root / "schools/301-0001/names.idx").read_bytes()
    keys, _ = people_mod.read_keys_file(index, path.read_bytes())
    assert keys == people_mod.lines_keys(index)
    assert {people_mod.pair_key("ann", "lee", p) for p in ("2012", "03-04")} <= keys


def test_find_people_by_preferred_name(store):
    (sam,) = put(store, ("301-0001", "Samantha", "Cole", {"preferred_name": "Sam"}))
    assert found(store, name_dobs={keys("Sam", "Cole", "2012-03-04")}) == [sam]
    assert found(store, name_dobs={keys("Samantha", "Cole", "2012-03-04")}) == [sam]


def test_find_people_wants_a_whole_forename_not_a_part(store):
    (mj,) = put(store, ("301-0001", "Mary-Jane", "Cole", {}))
    assert found(store, name_dobs={keys("Mary", "Cole", "2012-03-04")}) == []
    assert found(store, name_dobs={keys("Mary Jane", "Cole", "2012-03-04")}) == [mj]


def test_find_people_ignores_other_roles(store):
    pupil, staff = put(
        store,
        ("204-3210", "Ann", "Lee", {"extra": ANN}),
        ("204-3211", "Ann", "Lee", {"role": "staff", "extra": {"upn": "A123456789012"}}),
    )
    wanted = {"upns": {"A123456789012"}, "name_dobs": {keys("Ann", "Lee", "2012-03-04")}}
    assert found(store, "pupil", **wanted) == [pupil]
    assert found(store, "staff", **wanted) == [staff]


def test_find_people_finds_unallocated_accounts(store):
    with store.transaction("tester") as tx:
        gone = account(tx, "204-3210", "Eve", "Fox", extra={"upn": "C123456789012"})
        gone.school, gone.previous_school, gone.status = None, "204-3210", "unallocated"
        tx.put_account(gone)
    for wanted in ({"upns": {"C123456789012"}}, {"name_dobs": {keys("Eve", "Fox", "2012-03-04")}}):
        (hit,) = store.find_people(
            "pupil", wanted.get("upns", set()), wanted.get("name_dobs", set())
        )
        assert (hit.username, hit.status, hit.school, hit.home) == (
            gone.username,
            "unallocated",
            None,
            "204-3210",
        )


def test_find_people_reads_lines_of_an_older_index_by_names(store):
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    _as_older_index(store, "301-0001")
    assert found(store, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == [ann]
    assert found(store, upns={"A123456789012"}) == []  # until its school's index is made again


def test_find_people_reads_a_preferred_name_after_the_forename_parts_of_an_older_line(store):
    older = b" mjcole.301 2012-03-04 maryjane mary jane sam cole\tpa1\tMary-Jane\tCole\tSam\n"
    (store.root / "schools/301-0001/names.idx").write_bytes(older)
    assert found(store, name_dobs={keys("Sam", "Cole", "2012-03-04")}) == ["mjcole.301"]


def test_find_people_is_not_fooled_by_names_that_look_like_index_fields(store):
    put(
        store,
        ("204-3210", "x\x1fA123456789012\x1f7", "Lee", {}),
        ("204-3210", "Ann", "Lee 2012-03-04 ann", {"dob": "2001-01-01"}),
    )
    assert found(store, upns={"A123456789012"}) == []
    assert found(store, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == []


def test_find_people_with_nothing_wanted_finds_no_one(store):
    put(store, ("204-3210", "Ann", "Lee", {"extra": ANN}))
    assert found(store) == []
    assert found(store, upns={"", "  "}, name_dobs={("", "", "")}) == []


def test_find_people_reads_again_only_the_indexes_that_changed(store):
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    assert found(store, upns={"A123456789012"}) == [ann]
    reads = store.people.reads
    assert found(store, upns={"A123456789012"}) == [ann]
    assert store.people.reads == reads  # nothing changed: no index file parsed again
    (bob,) = put(store, ("204-3211", "Bob", "Ng", {"extra": {"upn": "B123456789012"}}))
    assert found(store, upns={"A123456789012", "B123456789012"}) == sorted([ann, bob])
    assert store.people.reads == reads + 1  # the one school whose index changed


def test_find_people_sees_what_another_process_commits_after_its_first_look(store):
    assert found(store, upns={"A123456789012"}) == []  # this process now knows every index
    other = open_store(store.root)  # another process: its own cache, its own commits
    (ann,) = put(other, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    assert found(store, upns={"A123456789012"}) == [ann]
    assert found(store, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == [ann]
    with other.transaction("tester") as tx:
        moved = tx.account(ann)
        moved.forename = "Anna"
        tx.put_accounts([moved])
    assert found(store, upns={"A123456789012"}) == [ann]
    assert found(store, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == []
    assert found(store, name_dobs={keys("Anna", "Lee", "2012-03-04")}) == [ann]


def test_find_people_sees_an_index_rewritten_with_the_same_size_and_time_stamps(store):
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {}))
    path = store.root / "schools/301-0001/names.idx"
    assert found(store, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == [ann]
    data = path.read_bytes()
    before = path.stat()
    path.write_bytes(data.replace(b"\tAnn\t", b"\tAnx\t").replace(b" ann ", b" anx "))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # what a coarse clock may give
    assert found(store, name_dobs={keys("Anx", "Lee", "2012-03-04")}) == [ann]


def test_a_cold_process_reads_the_indexes_without_building_the_map(store, monkeypatch):
    monkeypatch.setattr(people_mod, "SCAN_LOOKS", 2)
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    fresh = open_store(store.root)
    assert found(fresh, upns={"A123456789012"}) == [ann]
    assert fresh.people.reads == 0  # scanned, no map
    assert found(fresh, upns={"A123456789012"}) == [ann]
    assert found(fresh, upns={"A123456789012"}) == [ann]  # the third look builds it
    assert fresh.people.reads == 3


def test_a_process_that_expects_many_looks_builds_the_map_before_its_first(store, monkeypatch):
    monkeypatch.setattr(people_mod, "SCAN_LOOKS", 2)
    monkeypatch.setattr(people_mod, "RECHECK_S", 60.0)
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    put(store, ("204-3211", "Bob", "Ng", {}))
    cold = open_store(store.root)
    assert found(cold, upns={"A123456789012"}) == [ann]
    assert cold.people.reads == 0  # a process's first look scans: it reads no key file
    fresh = open_store(store.root)
    fresh.expect_many_finds()  # a run_due worker, before its first school arrives
    schools = len(fresh.list_schools())
    assert schools >= 2 and fresh.people.reads == schools  # every school's keys
    assert found(fresh, upns={"A123456789012"}) == [ann]
    assert found(fresh, name_dobs={keys("Ann", "Lee", "2012-03-04")}) == [ann]
    assert fresh.people.reads == schools


def test_looks_soon_after_a_check_trust_it_then_check_again(store, monkeypatch):
    monkeypatch.setattr(people_mod, "RECHECK_S", 60.0)
    assert found(store, upns={"A123456789012"}) == []
    other = open_store(store.root)
    (ann,) = put(other, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    assert found(store, upns={"A123456789012"}) == []  # within RECHECK_S of the last check
    monkeypatch.setattr(people_mod, "RECHECK_S", 0.0)
    assert found(store, upns={"A123456789012"}) == [ann]


def test_a_process_sees_its_own_commit_at_once_and_reads_only_what_it_wrote(store, monkeypatch):
    """Within RECHECK_S of the last check, a look after this process's own commit reads that
    school's keys again (one stat, not one per school of the store) and finds its account."""
    monkeypatch.setattr(people_mod, "RECHECK_S", 60.0)
    assert found(store, upns={"A123456789012"}) == []
    stats = []
    real = people_mod._stamp
    monkeypatch.setattr(people_mod, "_stamp", lambda path: stats.append(path) or real(path))
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    assert found(store, upns={"A123456789012"}) == [ann]
    assert [os.path.basename(os.path.dirname(p)) for p in stats] == ["301-0001"]


def test_a_look_that_fails_to_read_what_this_process_wrote_reads_it_at_the_next(store, monkeypatch):
    """A read error (once) in the look after this process's own commit: the next look still
    reads that school again, and finds the account (else it trusted the old keys for a while)."""
    monkeypatch.setattr(people_mod, "RECHECK_S", 60.0)
    assert found(store, upns={"A123456789012"}) == []
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    real, failed = people_mod.read_bytes, []

    def flaky(path):
        if not failed and "301-0001" in str(path):
            failed.append(path)
            raise OSError("EIO")
        return real(path)

    monkeypatch.setattr(people_mod, "read_bytes", flaky)
    with pytest.raises(OSError):
        found(store, upns={"A123456789012"})
    assert found(store, upns={"A123456789012"}) == [ann]


def test_under_the_lock_a_look_at_what_arrived_since_a_plan_reads_the_indexes_written_since(
    store, monkeypatch
):
    """A run's commit asks what arrived since its plan looked (fresh.settle_elsewhere): the
    indexes written since are read, whatever this process's map of keys (up to RECHECK_S old)
    says, and only those; a process with no map goes by the files' time stamps."""
    monkeypatch.setattr(people_mod, "RECHECK_S", 60.0)
    (bob,) = put(store, ("204-3211", "Bob", "Ng", {"extra": {"upn": "B123456789012"}}))
    assert found(store, upns={"A123456789012"}) == []  # the map made, trusted for a minute
    looked_at = time.monotonic()
    other = open_store(store.root)
    (ann,) = put(other, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    wanted = {"A123456789012", "B123456789012"}
    assert found(store, upns=wanted) == [bob]  # the map, trusted
    with store.transaction("tester") as tx:
        assert [h.username for h in tx.find_people("pupil", wanted, set())] == sorted([ann, bob])
        arrived = tx.find_people("pupil", wanted, set(), changed_after=looked_at)
        assert [h.username for h in arrived] == [ann]
        later = time.monotonic() + 10  # nothing is written after then
        assert tx.find_people("pupil", wanted, set(), changed_after=later) == []
    cold = open_store(store.root)  # no map: a command's one run, which read every index
    looked_at = time.monotonic()
    (cy,) = put(other, ("204-3210", "Cy", "Ode", {"extra": {"upn": "C123456789012"}}))
    with cold.transaction("tester") as tx:
        wanted.add("C123456789012")
        arrived = tx.find_people("pupil", wanted, set(), changed_after=looked_at)
        assert {h.username for h in arrived} >= {cy}
        assert tx.find_people("pupil", wanted, set(), changed_after=later) == []
    assert cold.people.reads == 0


def key_file(store, dfe: str) -> tuple[set[int], int] | None:
    folder = store.root / "schools" / dfe
    index = (folder / "names.idx").read_bytes()
    return people_mod.read_keys_file(index, (folder / "names.keys").read_bytes())


def test_a_commit_writes_the_keys_of_its_index_and_readers_parse_no_index(store):
    names = [("Cat", "Ode"), ("Dan", "Ire"), ("Eve", "Ola"), ("Fay", "Ung")]
    names += [(f"Kit{c}", "Roe") for c in "abcdefgh"]  # twelve lines in all
    users = put(store, *(("301-0001", f, s, {}) for f, s in names))
    keys, gone = key_file(store, "301-0001")
    assert (
        gone == 0
        and people_mod.lines_keys((store.root / "schools/301-0001/names.idx").read_bytes()) == keys
    )
    reader = open_store(store.root)  # another process
    assert found(reader, name_dobs={keys_of("Cat", "Ode")}) == [users[0]]
    assert reader.people.parsed == 0  # every school's keys read from its key file
    (hal,) = put(store, ("301-0001", "Hal", "Ito", {"extra": {"upn": "H123456789012"}}))
    assert key_file(store, "301-0001")[0] > keys  # the new line's keys added
    assert found(reader, upns={"H123456789012"}) == [hal]
    with store.transaction("tester") as tx:
        for username in users[:2]:
            renamed = tx.account(username)
            renamed.forename = "Zed"
            tx.put_accounts([renamed])
    # The old lines' keys stay (the school is scanned for nothing); the scan finds the truth.
    assert found(reader, name_dobs={keys_of("Cat", "Ode")}) == []
    assert found(reader, name_dobs={keys_of("Zed", "Ode")}) == [users[0]]
    assert key_file(store, "301-0001")[1] == 3  # lines gone (or changed) since made whole
    with store.transaction("tester") as tx:
        renamed = tx.account(users[3])
        renamed.forename = "Zed"
        tx.put_accounts([renamed])
    keys, gone = key_file(store, "301-0001")
    assert gone == 0  # over a quarter of the lines gone: made whole again
    index = (store.root / "schools/301-0001/names.idx").read_bytes()
    assert keys == people_mod.lines_keys(index)
    assert reader.people.parsed == 0
    # made whole, each key once; between, a commit appends its lines' keys to the file
    size = (store.root / "schools/301-0001/names.keys").stat().st_size
    assert size == people_mod._HEAD.size + 8 * len(keys)


def test_a_key_file_appended_to_is_read_from_where_the_last_read_ended(store):
    (ann, *kits) = put(  # twelve lines: one more is appended to the key file (STALE_SHARE)
        store,
        ("301-0001", "Ann", "Lee", {"extra": ANN}),
        *(("301-0001", f"Kit{c}", "Roe", {}) for c in "abcdefghijk"),
    )
    reader = open_store(store.root)  # another process, which keeps the schools' keys
    reader.expect_many_finds()
    assert found(reader, upns={"A123456789012"}) == [ann]
    (bob,) = put(store, ("301-0001", "Bob", "Ng", {"extra": {"upn": "B123456789012"}}))
    assert found(reader, upns={"A123456789012", "B123456789012"}) == sorted([ann, bob])
    assert reader.people.appended == 1  # only the keys the commit appended were read
    # Over a quarter of the lines changed: the key file is made whole, and read whole.
    with store.transaction("tester") as tx:
        for username in kits[:4]:
            renamed = tx.account(username)
            renamed.forename = "Zed"
            tx.put_accounts([renamed])
    assert key_file(store, "301-0001")[1] == 0  # made whole
    assert found(reader, name_dobs={keys_of("Zed", "Roe")}) == sorted(kits[:4])
    assert found(reader, upns={"A123456789012", "B123456789012"}) == sorted([ann, bob])
    assert reader.people.appended == 1


def test_an_index_its_key_file_does_not_describe_is_parsed(store):
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    (store.root / "schools/301-0001/names.keys").unlink()  # as a store made before key files
    assert found(store, upns={"A123456789012"}) == [ann]
    assert store.people.parsed == 1
    (bob,) = put(store, ("301-0001", "Bob", "Ng", {}))  # a key file made whole again
    assert key_file(store, "301-0001") is not None
    other = open_store(store.root)
    assert found(other, name_dobs={keys_of("Bob", "Ng")}) == [bob]
    assert other.people.parsed == 0


def keys_of(forename: str, surname: str) -> tuple[str, str, str]:
    return keys(forename, surname, "2012-03-04")


@pytest.mark.parametrize("damage", ["empty", "older", "cut"])
def test_a_key_file_a_power_cut_could_leave_is_ignored(store, damage):
    """names.keys is not flushed before its commit point: empty, an older version or cut short
    after a power cut, it does not describe its index, which is then parsed."""
    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    path = store.root / "schools/301-0001/names.keys"
    older = path.read_bytes()
    (bob,) = put(store, ("301-0001", "Bob", "Ng", {"extra": {"upn": "B123456789012"}}))
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "older": older, "cut": data[: len(data) - 3]}[damage])
    reader = open_store(store.root)
    assert found(reader, upns={"A123456789012", "B123456789012"}) == sorted([ann, bob])
    assert reader.people.parsed == 1


def test_upgrade_writes_the_key_files_a_store_made_before_them_lacks(store):
    from uso_tui.store.tinystore import upgrade_store

    (ann,) = put(store, ("301-0001", "Ann", "Lee", {"extra": ANN}))
    (bob,) = put(store, ("204-3210", "Bob", "Ng", {}))
    for dfe in ("301-0001", "204-3210"):
        (store.root / "schools" / dfe / "names.keys").unlink()  # as made before key files
    upgrade_store(store.root)
    assert key_file(store, "301-0001") is not None and key_file(store, "204-3210") is not None
    reader = open_store(store.root)
    assert found(reader, upns={"A123456789012"}) == [ann]
    assert found(reader, name_dobs={keys_of("Bob", "Ng")}) == [bob]
    assert reader.people.parsed == 0


def test_a_key_many_schools_hold_finds_each_of_them(store):
    """A key several schools hold (the same UPN, the same name and date) names each of them,
    also when one of them is read again after a commit."""
    here, there, far = put(
        store,
        ("204-3210", "Ann", "Lee", {"extra": ANN}),
        ("204-3211", "Ann", "Lee", {"extra": ANN}),
        ("301-0001", "Ann", "Lee", {"extra": ANN}),
    )
    wanted = {keys("Ann", "Lee", "2012-03-04")}
    assert found(store, upns={"A123456789012"}) == sorted([here, there, far])
    assert found(store, name_dobs=wanted) == sorted([here, there, far])
    (bob,) = put(store, ("204-3211", "Bob", "Ng", {"extra": ANN}))  # 204-3211's keys read again
    assert found(store, upns={"A123456789012"}) == sorted([here, there, far, bob])
    assert found(store, name_dobs=wanted) == sorted([here, there, far])
    with store.transaction("tester") as tx:
        moved = tx.account(there)
        moved.forename, moved.extra = "Anna", {}
        tx.put_accounts([moved])
    assert found(store, upns={"A123456789012"}) == sorted([here, far, bob])
    assert found(store, name_dobs=wanted) == sorted([here, far])


def _as_older_uso_tui_keyed_it(store, dfe: str, new: str, old: str, schema: int = 5) -> None:
    """The school's names.idx and names.keys as a uso-tui that normalised `new` as `old` wrote
    them (before schema 6, `Paweł` normalised to `paweł`), and the store marked `schema`."""
    import orjson

    from uso_tui.store.people import staged_keys

    path = store.root / "schools" / dfe / "names.idx"
    lines = []
    for line in path.read_bytes().splitlines(keepends=True):
        keys, tab, rest = line.partition(b"\t")
        lines.append(keys.replace(new.encode(), old.encode()) + tab + rest)
    index = b"".join(lines)
    assert index != path.read_bytes()
    path.write_bytes(index)
    (path.parent / "names.keys").write_bytes(staged_keys(index, b"", 0, None, None))
    (store.root / "store.json").write_bytes(orjson.dumps({"schema": schema}))


def test_upgrade_rekeys_names_an_older_uso_tui_normalised_with_the_accent_kept(store):
    """Schema 6 folds letters such as ł and ø (`Paweł` is `pawel`, as typed without them): a
    store written before keeps `paweł` in its index lines, which `Pawel` would never find.
    `uso-tui upgrade` rekeys them; a school whose index is plain ASCII is not rewritten."""
    from uso_tui.store.tinystore import OlderSchema, upgrade_store

    pawel, soren = put(
        store, ("204-3210", "Paweł", "Nowak", {}), ("301-0001", "Søren", "Ødegård", {})
    )
    (ann,) = put(store, ("204-3211", "Ann", "Lee", {}))
    _as_older_uso_tui_keyed_it(store, "204-3210", "pawel", "paweł")
    _as_older_uso_tui_keyed_it(store, "301-0001", "soren odegard", "søren ødegård")
    plain = store.root / "schools" / "204-3211" / "names.idx"
    plain_inode = os.stat(plain).st_ino
    with pytest.raises(OlderSchema):
        open_store(store.root)
    upgrade_store(store.root)
    upgraded = open_store(store.root)
    assert found(upgraded, name_dobs={keys_of("Pawel", "Nowak")}) == [pawel]
    assert found(upgraded, name_dobs={keys_of("Paweł", "Nowak")}) == [pawel]
    assert found(upgraded, name_dobs={keys_of("Soren", "Odegard")}) == [soren]
    assert [h.username for h in upgraded.search_accounts("pawel nowak")] == [pawel]
    assert [h.username for h in upgraded.search_accounts("soren")] == [soren]
    assert [h.username for h in upgraded.search_accounts("ann lee")] == [ann]
    assert os.stat(plain).st_ino == plain_inode  # nothing to rekey: left alone


def test_upgrade_from_schema_6_rekeys_names_whose_vowel_signs_were_dropped(store):
    """Schema 7 keeps Devanagari's vowel signs (`राम` Ram is not `रमा` Rama): an index written
    before holds `रम` for both, which the names as now normalised would never find."""
    from uso_tui.domain.names import normalise
    from uso_tui.store.tinystore import upgrade_store

    (ram,) = put(store, ("204-3210", "राम", "Nowak", {}))
    _as_older_uso_tui_keyed_it(store, "204-3210", normalise("राम"), "रम", schema=6)
    assert found(store, name_dobs={keys_of("राम", "Nowak")}) == []
    upgrade_store(store.root)
    assert found(open_store(store.root), name_dobs={keys_of("राम", "Nowak")}) == [ram]


def test_a_why_index_line_is_rekeyed_from_its_own_payload():
    from uso_tui.store.why_index import rekeyed_lines, search, why_line

    values = {"run_id": "204-3210-r4", "report": "students", "mis_id": "M1", "forename": "Łukasz"}
    values |= {"surname": "Wróbel", "dob": "2012-03-04", "outcome": "created"}
    line = why_line(values)
    head, tab, payload = line.partition(b"\t")
    older = head.replace(b"lukasz", "łukasz".encode()) + tab + payload
    foreign = b"a line of no run\n"
    assert search([("204-3210", older)], "lukasz wrobel") == []
    rekeyed = rekeyed_lines(older + foreign)
    assert rekeyed == line + foreign
    assert [h["mis_id"] for h in search([("204-3210", rekeyed)], "lukasz wrobel")] == ["M1"]


def test_upgrade_from_schema_7_splits_names_at_their_apostrophes(store):
    """Schema 8 keeps the name after an O' or D' as a word of its own ("sullivan" finds
    O'Sullivan): an index written before holds "osullivan" alone, and lines of accounts that do
    not change are carried over as they are, so `uso-tui upgrade` rekeys them."""
    from uso_tui.store.tinystore import upgrade_store

    (roisin,) = put(store, ("204-3210", "Róisín", "O'Sullivan", {}))
    assert [h.username for h in store.search_accounts("sullivan")] == [roisin]
    _as_older_uso_tui_keyed_it(store, "204-3210", " osullivan o sullivan", " osullivan", schema=7)
    index = store.root / "schools" / "204-3210" / "names.idx"
    assert b" sullivan" not in index.read_bytes()  # as the older uso-tui wrote it
    upgrade_store(store.root)
    assert b" sullivan" in index.read_bytes()
    upgraded = open_store(store.root)
    assert [h.username for h in upgraded.search_accounts("sullivan")] == [roisin]
    assert [h.username for h in upgraded.search_accounts("o'sullivan")] == [roisin]


def test_the_schools_holding_each_key_stay_true_through_any_changes():
    """The map from a key to the schools holding it, against the schools' key sets themselves,
    through keys added (also again), shared by several schools, dropped, or a school's keys
    replaced, in any order, with the map made again now and then; keys up to 2**64 - 1."""
    import random  # noqa: PLC0415
    from array import array  # noqa: PLC0415

    rng = random.Random(7)
    pool = [rng.randrange(2**64) for _ in range(30)] + [0, 2**64 - 1, 2**63, 5, 6]
    holders, truth = people_mod.new_key_holders(), {}

    def check() -> None:
        for key in pool:
            want = sorted(d for d, ks in truth.items() if key in ks)
            assert sorted(holders.schools(key)) == want
        assert [sorted(h) for h in holders.schools_of(pool)] == [
            sorted(d for d, ks in truth.items() if key in ks) for key in pool
        ]

    # filled at once from nothing (a process's first read), a key twice in a school's keys
    first = [(f"204-{n:04d}", array("Q", [rng.choice(pool) for _ in range(8)])) for n in range(5)]
    holders.fill(first)
    truth = {dfe: set(keys) for dfe, keys in first}
    check()
    for step in range(3000):
        dfe = f"204-{rng.randrange(7):04d}"  # two schools the first fill did not have
        had = truth.get(dfe, set())
        now = {k for k in had if rng.random() < 0.7} | {rng.choice(pool) for _ in range(4)}
        how = rng.randrange(3)
        if how == 0:
            holders.remove(dfe, had - now)
            holders.add(dfe, now - had)
        elif how == 1:
            holders.replace(dfe, array("Q", sorted(had)), array("Q", sorted(now)))
        else:  # keys appended: those held already among them
            now = had | now
            holders.add(dfe, array("Q", sorted(now)))
        truth[dfe] = now
        if step % 500 == 499:
            holders.fill([(d, array("Q", sorted(ks))) for d, ks in truth.items()])
        check()


def test_a_person_at_two_schools_is_found_at_the_one_left_after_the_other_renames(store):
    """Two schools holding one key, then one of them no longer: the other still found (in a
    process that keeps the map of keys), and then the renamed one by its new name."""
    reader = open_store(store.root)
    reader.expect_many_finds()
    first, second = put(store, ("204-3210", "Ann", "Lee", {}), ("301-0001", "Ann", "Lee", {}))
    assert found(reader, name_dobs={keys_of("Ann", "Lee")}) == sorted([first, second])
    with store.transaction("tester") as tx:
        renamed = tx.account(first)
        renamed.forename = "Zoe"
        tx.put_accounts([renamed])
    assert found(reader, name_dobs={keys_of("Ann", "Lee")}) == [second]
    assert found(reader, name_dobs={keys_of("Zoe", "Lee")}) == [first]
    with store.transaction("tester") as tx:
        renamed = tx.account(second)
        renamed.forename = "Zoe"
        tx.put_accounts([renamed])
    assert found(reader, name_dobs={keys_of("Ann", "Lee")}) == []
    assert found(reader, name_dobs={keys_of("Zoe", "Lee")}) == sorted([first, second])


def test_a_map_that_could_not_be_made_again_is_left_as_it_was(monkeypatch):
    """The map made again fails (out of memory at a million keys): the schools holding each key
    are still those of the map before, not the old array's entries read against the new list."""
    from array import array  # noqa: PLC0415

    import uso_tui.store.key_holders as key_holders  # noqa: PLC0415

    holders = people_mod.new_key_holders()
    holders.fill([("204-0001", array("Q", [1])), ("204-0002", array("Q", [2]))])

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(key_holders.np, "argsort", out_of_memory)
    with pytest.raises(MemoryError):
        holders.fill([("204-0002", array("Q", [2])), ("204-0001", array("Q", [1]))])
    assert holders.schools_of([1, 2]) == [["204-0001"], ["204-0002"]]


def test_upgrade_from_schema_8_keys_upns_as_their_letters_and_digits(store):
    """Schema 9 keys a UPN as its letters and digits (`A123-4567-8901-2` is `A123456789012`):
    an index written before holds the hyphens, so a mover's account was found by its UPN
    neither as keyed nor as the MIS sends it, and lines of accounts that do not change are
    carried over as they are: `uso-tui upgrade` rekeys them."""
    import orjson

    from uso_tui.store.people import staged_keys
    from uso_tui.store.tinystore import upgrade_store

    (ann,) = put(store, ("204-3210", "Ann", "Lee", {"extra": {"upn": "A123-4567-8901-2"}}))
    assert found(store, upns={"A123456789012"}) == [ann]
    index = store.root / "schools" / "204-3210" / "names.idx"
    older = index.read_bytes().replace(b"\x1dA123456789012", b"\x1dA123-4567-8901-2")
    assert older != index.read_bytes()
    index.write_bytes(older)
    (index.parent / "names.keys").write_bytes(staged_keys(older, b"", 0, None, None))
    (store.root / "store.json").write_bytes(orjson.dumps({"schema": 8}))
    upgrade_store(store.root)
    assert b"\x1dA123456789012" in index.read_bytes()
    assert found(open_store(store.root), upns={"A123456789012"}) == [ann]


def test_upgrade_to_schema_10_rekeys_a_upn_keyed_in_full_width_characters(store):
    """A UPN keyed `Ｃ２０４...` was kept as such in the index before schema 10: a mover whose
    record gives it in ASCII (and every record does, the UPN now read as ASCII) would never
    find it by its UPN. `uso-tui upgrade` rekeys it."""
    from uso_tui.store.tinystore import upgrade_store

    upn = "C204123456789"
    wide = upn.translate({ord(c): ord(c) + 0xFEE0 for c in upn})
    (amy,) = put(store, ("204-3210", "Amy", "Quennell", {"extra": {"upn": wide}}))
    assert found(store, upns={upn}) == [amy]
    _as_older_uso_tui_keyed_it(store, "204-3210", upn, wide, schema=9)
    assert found(store, upns={upn}) == []
    upgrade_store(store.root)
    assert found(open_store(store.root), upns={upn}) == [amy]


@pytest.mark.parametrize("damage", ["garbage", "directory"])
def test_an_unreadable_key_file_is_remade_from_its_index_not_a_failure(store, damage):
    """names.keys is made from names.idx: one that cannot be read (a directory in its place, a
    bad sector) is read as missing (the index parsed), not a failure of every search and run."""
    (ann,) = put(store, ("204-3210", "Ann", "Lee", {"extra": ANN}))
    keys = store.root / "schools/204-3210/names.keys"
    keys.unlink()
    if damage == "directory":
        keys.mkdir()
    else:
        keys.write_bytes(b"\x00garbage")
    primed = open_store(store.root)  # a run_due worker's
    primed.expect_many_finds()
    assert found(primed, upns={"A123456789012"}) == [ann]
    assert primed.people.parsed == 1
    assert found(open_store(store.root), name_dobs={keys_of("Ann", "Lee")}) == [ann]
    if damage == "directory":  # refused before the commit point: no journal left to redo
        with pytest.raises(CorruptFile, match="names.keys is corrupt .a directory"):
            put(store, ("204-3210", "Bob", "Ng", {}))
        assert not (store.root / "journal.json").exists()
        keys.rmdir()
    (bob,) = put(store, ("204-3210", "Bob", "Ng", {"extra": {"upn": "B123456789012"}}))
    assert key_file(store, "204-3210") is not None  # the school's next commit writes it again
    reader = open_store(store.root)
    assert found(reader, upns={"A123456789012", "B123456789012"}) == sorted([ann, bob])
    assert reader.people.parsed == 0


def test_an_unallocated_account_carries_its_day_into_the_index_even_from_an_older_one(store):
    """The day an account was unallocated (when its year group was last true: matching moves
    it up each 1 September) is in its index line; an index written before lines held it is
    made again whole at the school's next commit, else the accounts unallocated before would
    never have it (only changed lines are made again)."""
    gone, here = put(
        store,
        ("204-3210", "Jake", "Smith", {"extra": {"year_group": "Year 6"}}),
        ("204-3210", "Cy", "Ng", {"extra": ANN}),
    )
    with store.transaction("tester") as tx:
        jake = tx.account(gone)
        left = dataclasses.replace(
            jake, status="unallocated", school=None, previous_school="204-3210",
            unallocated_at="2026-07-20T10:00:00",
        )  # fmt: skip
        tx.put_accounts([left])
    dates = lambda: {h.username: h.unallocated_at for h in store.la_people("204")}  # noqa: E731
    assert dates() == {gone: "2026-07-20", here: None}
    path = store.root / "schools/204-3210/names.idx"
    older = path.read_bytes().replace(b"\x1f2026-07-20", b"")  # as written before
    path.write_bytes(older)
    (path.parent / "names.keys").write_bytes(people_mod.staged_keys(older, b"", 0, None, None))
    store = open_store(store.root)
    assert dates() == {gone: None, here: None}
    with store.transaction("tester") as tx:  # another account of the school changes
        cy = tx.account(here)
        tx.put_accounts([dataclasses.replace(cy, forename="Cyrus")])
    assert dates() == {gone: "2026-07-20", here: None}
