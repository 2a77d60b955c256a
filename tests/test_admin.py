"""uso_tui.sync.admin: the operations the console and the command line share. Each validates first
(InvalidInput, nothing written) and commits one transaction with its audit event."""

from __future__ import annotations

from datetime import datetime

import pytest
from cli_support import snapshot

from uso_tui.domain.errors import InvalidInput, InvalidName
from uso_tui.store import DuplicateSchool, UnknownSchool, open_store
from uso_tui.sync import admin

NOW = datetime(2026, 9, 1, 9, 30, 0)
DFE = "204-3210"
SECRET = "admin-Secret-99x"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("USO_TUI_ALLOWED_MIS_HOSTS", raising=False)
    store = open_store(tmp_path / "data")
    admin.add_school(
        store,
        dfe=DFE,
        name="Hill School",
        mis="isams",
        url="https://hill.isams.cloud/",
        client_id="cid",
        secret=SECRET,
        operator="alice",
        now=NOW,
    )
    return store


def test_add_school_normalises_and_audits(store):
    school = store.school(DFE)
    assert school.mis == "iSAMS" and school.url == "https://hill.isams.cloud"
    assert school.reports == ["staff", "students"] and school.daily_at == "06:00"
    assert school.created_at == "2026-09-01T09:30:00"
    assert store.secret(DFE) == SECRET
    (event,) = store.audit(DFE)
    assert event.action == "school_add" and event.operator == "alice" and event.subject == DFE
    assert event.after["client_secret"] == "set" and SECRET not in str(event.to_dict())


def test_add_school_refusals_write_nothing(store):
    before = snapshot(store.root)
    good = dict(
        dfe="204-3211",
        name="Vale",
        mis="Ed:gen",
        url="https://vale.edgen.cloud",
        client_id="c",
        secret="x-secret-1",
        operator="alice",
        now=NOW,
    )
    cases = [
        ({"dfe": DFE}, DuplicateSchool, "already exists"),
        ({"dfe": "2043211"}, InvalidInput, "malformed DfE"),
        ({"mis": "Arbor"}, InvalidInput, "unknown MIS"),
        ({"url": "https://vale.isams.cloud"}, InvalidInput, "does not match MIS"),
        ({"url": "ftp://vale.edgen.cloud"}, InvalidInput, "expected https://<school>.edgen.cloud"),
        ({"client_id": "has space"}, InvalidInput, "Client ID contains spaces"),
        ({"secret": "  "}, InvalidInput, "client secret is empty"),
        ({"secret": "SECRET–abc"}, InvalidInput, "other than ASCII"),  # a dash a document made
        # a word for a secret: hidden wherever the word appears, the message told it
        ({"secret": "school"}, InvalidInput, "shorter than 8 characters"),
        ({"daily_at": "24:00"}, InvalidInput, "bad time"),
        ({"daily_at": "7:60"}, InvalidInput, "bad time"),
        ({"reports": "attendance"}, InvalidInput, "not supported for IRIS"),
        ({"reports": ""}, InvalidInput, "at least one report"),
        ({"name": "a\nb"}, InvalidInput, "control characters"),
    ]
    for change, exc, message in cases:
        with pytest.raises(exc, match=message):
            admin.add_school(store, **{**good, **change})
    assert snapshot(store.root) == before


def test_a_time_without_its_leading_zero_is_taken(store):
    school = admin.update_school(store, DFE, operator="bob", now=NOW, daily_at="7:30")
    assert school.daily_at == "07:30"
    with pytest.raises(InvalidInput, match="expected 0 to 1,000,000"):
        admin.update_school(store, DFE, operator="bob", now=NOW, hold_min=2_000_000)


def test_secret_messages_never_contain_the_secret():
    bad = "bad\x07" + SECRET
    with pytest.raises(InvalidInput) as info:
        admin.check_secret(bad)
    assert SECRET not in str(info.value)


def test_a_secret_with_spaces_is_refused_without_repeating_it():
    with pytest.raises(InvalidInput, match="client secret contains spaces") as info:
        admin.check_secret("Hill Academy " + SECRET)
    assert SECRET not in str(info.value) and "Hill" not in str(info.value)


def test_update_school_audits_changes_only(store):
    school = admin.update_school(
        store,
        DFE,
        operator="bob",
        now=NOW,
        name="Hill Academy",
        hold_percent="20",
        hold_min=5,
        daily_at="06:00",
    )
    assert school.name == "Hill Academy" and school.hold_percent == 20.0 and school.hold_min == 5
    event = store.audit(DFE)[0]
    assert event.action == "school_update" and event.operator == "bob"
    assert event.before == {"name": "Hill School", "hold_percent": 10.0, "hold_min": 10}
    assert event.after == {"name": "Hill Academy", "hold_percent": 20.0, "hold_min": 5}
    # Same values again: nothing written, no event.
    before = snapshot(store.root)
    admin.update_school(store, DFE, operator="bob", now=NOW, name="Hill Academy")
    assert snapshot(store.root) == before


def test_update_school_mis_change_needs_matching_url(store):
    before = snapshot(store.root)
    with pytest.raises(InvalidInput, match="does not match MIS Ed:gen"):
        admin.update_school(store, DFE, operator="bob", now=NOW, mis="Ed:gen")
    with pytest.raises(InvalidInput, match="unknown school setting"):
        admin.update_school(store, DFE, operator="bob", now=NOW, colour="red")
    with pytest.raises(InvalidInput, match="nothing to change"):
        admin.update_school(store, DFE, operator="bob", now=NOW)
    with pytest.raises(UnknownSchool):
        admin.update_school(store, "204-0000", operator="bob", now=NOW, name="X")
    assert snapshot(store.root) == before
    with pytest.raises(InvalidInput, match="needs the new Client Secret"):
        admin.update_school(
            store, DFE, operator="bob", now=NOW, mis="ed:gen", url="https://hill.edgen.cloud"
        )
    assert snapshot(store.root) == before
    school = admin.update_school(
        store,
        DFE,
        operator="bob",
        now=NOW,
        mis="ed:gen",
        url="https://hill.edgen.cloud",
        secret="edgen-secret",
    )
    assert (school.mis, school.url) == ("Ed:gen", "https://hill.edgen.cloud")


def test_update_school_secret(store):
    admin.update_school(store, DFE, operator="bob", now=NOW, secret="new-one-1")
    assert store.secret(DFE) == "new-one-1"
    event = store.audit(DFE)[0]
    assert event.before == {"client_secret": "set"} and event.after == {"client_secret": "replaced"}


def add_account(store, **change):
    """admin.add_account on the school with a pupil's details, `change` replacing some of them."""
    details = dict(
        role="pupil", forename="Ann", surname="Lee", dob="2015-06-30", operator="alice", now=NOW
    )
    return admin.add_account(store, DFE, **{**details, **change})


def test_add_account_user_request_single(store):
    acc = add_account(store, forename=" Seán ", surname="Nguyễn")
    assert acc.username == "snguyen.204" and acc.forename == "Seán" and acc.source == "manual"
    assert store.account("snguyen.204").school == DFE
    twin = add_account(store, role="staff", forename="Sean", surname="Nguyen", dob="1990-01-01")
    assert twin.username == "snguyen2.204"
    (event, *_) = store.audit(DFE)
    assert event.action == "create" and event.subject == "snguyen2.204"
    before = snapshot(store.root)
    cases = [
        ({"forename": "SEAN", "surname": "nguyen"}, InvalidInput, "already exists"),
        ({"surname": "'-'"}, InvalidName, None),
        ({"role": "parent"}, InvalidInput, "unknown role"),
        ({"dob": "2026-09-02"}, InvalidInput, "in the future"),
        ({"dob": "1899-12-31"}, InvalidInput, "before 1900"),
    ]
    for change, exc, message in cases:
        with pytest.raises(exc, match=message):
            add_account(store, **change)
    assert snapshot(store.root) == before


def test_exclusions(store):
    ex = admin.add_exclusion(
        store, DFE, forename="Test", surname="Pupil", dob=None, operator="alice", now=NOW
    )
    ex2 = admin.add_exclusion(
        store, DFE, forename="Test", surname="Pupil", dob="2012-01-01", operator="alice", now=NOW
    )
    assert (ex.id, ex2.id) == (1, 2) and ex.added_by == "alice"
    with pytest.raises(InvalidInput, match=r"already on the exclusion list of 204-3210 \(id 1\)"):
        admin.add_exclusion(
            store, DFE, forename="TEST", surname="pupil", dob="", operator="alice", now=NOW
        )
    removed = admin.remove_exclusion(store, DFE, "1", operator="bob", now=NOW)
    assert removed.forename == "Test" and [e.id for e in store.exclusions(DFE)] == [2]
    actions = [(e.action, e.operator) for e in store.audit(DFE)]
    assert actions[:3] == [
        ("exclusion_remove", "bob"),
        ("exclusion_add", "alice"),
        ("exclusion_add", "alice"),
    ]
    with pytest.raises(InvalidInput, match="no exclusion 1"):
        admin.remove_exclusion(store, DFE, 1, operator="bob", now=NOW)


@pytest.mark.parametrize("field", ["create_before_start_days", "hold_min", "hold_percent"])
def test_an_emptied_number_says_it_is_empty(field):
    """The settings form shows a number's default greyed in an emptied field: "bad hold minimum
    '': expected a number" beside a grey 10 read as a 10 refused."""
    from uso_tui.sync.admin import check_school_change

    with pytest.raises(InvalidInput, match="is empty: enter a number from 0 to"):
        check_school_change(field, "  ")


@pytest.mark.parametrize("field", ["create_before_start_days", "hold_min"])
def test_a_fraction_where_a_whole_number_belongs_says_so(field):
    """`--hold-min 1.5` said "expected a number" of a number."""
    from uso_tui.sync.admin import check_school_change

    with pytest.raises(InvalidInput, match="'1.5': expected a whole number"):
        check_school_change(field, "1.5")
    with pytest.raises(InvalidInput, match="'ten': expected a number"):
        check_school_change(field, "ten")


def test_a_school_stored_with_a_host_of_other_letters_than_ascii_still_runs_and_is_edited(store):
    """A host such as bücher.isams.cloud was accepted before hosts had to be plain ASCII: such a
    school is not stopped (its runs refused the stored URL, and so did any edit of its name)."""
    from dataclasses import replace

    from uso_tui.domain.schools import check_mis_url

    with store.transaction("test") as txn:
        txn.put_school(replace(store.school(DFE), url="https://bücher.isams.cloud"))
    assert check_mis_url("https://bücher.isams.cloud", "iSAMS", typed=False)
    school = admin.update_school(store, DFE, operator="bob", now=NOW, name="Bücher School")
    assert (school.name, school.url) == ("Bücher School", "https://bücher.isams.cloud")
    with pytest.raises(InvalidInput, match="plain ASCII"):
        admin.update_school(store, DFE, operator="bob", now=NOW, url="https://bäcker.isams.cloud")
