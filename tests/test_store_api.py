"""Ordinary behaviour of the TinyDB store through its public API."""

from __future__ import annotations

import pytest

from uso_tui.domain.models import (
    Account,
    AuditEvent,
    MatchCase,
    ProcessedFile,
    Run,
    School,
)
from uso_tui.store import (
    SCHEMA_VERSION,
    DuplicateSchool,
    NewerSchema,
    StoreError,
    UnknownAccount,
    UnknownCase,
    UnknownExclusion,
    UnknownRun,
    UnknownSchool,
    open_store,
)
from uso_tui.store.directory import shard_of, shard_path, version_path
from uso_tui.store.storage import read_json, table_rows

NOW = "2026-09-01T06:00:00"


def school(dfe: str, name: str = "") -> School:
    return School(
        dfe=dfe,
        name=name or f"School {dfe}",
        mis="iSAMS",
        url=f"https://s{dfe[-4:]}.isams.cloud",
        client_id="client",
        created_at=NOW,
    )


def account(tx, dfe: str, forename: str, surname: str, dob: str = "2012-03-04", **kw) -> Account:
    username = tx.new_username(forename, surname, dfe[:3])
    return Account(
        username=username,
        role=kw.pop("role", "pupil"),
        forename=forename,
        surname=surname,
        dob=dob,
        school=dfe,
        created_at=NOW,
        **kw,
    )


@pytest.fixture
def store(tmp_path):
    new_store = open_store(tmp_path / "data")
    with new_store.transaction("tester") as tx:
        tx.add_school(school("204-3210", "Hill Primary"), "s3cret-204-3210")
        tx.add_school(school("204-3211", "Vale Academy"), "s3cret-204-3211")
        tx.add_school(school("301-0001", "Far School"), "s3cret-301-0001")
    return new_store


def test_schools_listed_from_directory(store):
    schools = store.list_schools()
    assert [s.dfe for s in schools] == ["204-3210", "204-3211", "301-0001"]
    assert store.school("204-3211").name == "Vale Academy"
    assert store.school("204-3210").active_accounts == 0
    with pytest.raises(UnknownSchool):
        store.school("999-9999")


def test_duplicate_school_refused_and_nothing_written(store):
    with pytest.raises(DuplicateSchool), store.transaction("t") as tx:
        tx.add_school(school("204-3210"), "other")
    assert store.secret("204-3210") == "s3cret-204-3210"
    assert len(store.list_schools()) == 3


def test_put_school_keeps_store_summary(store):
    with store.transaction("t") as tx:
        acc = account(tx, "204-3210", "Ann", "Lee")
        tx.put_account(acc)
    with store.transaction("t") as tx:
        hill = tx.school("204-3210")
        hill.name = "Renamed"
        hill.active_accounts = 999  # the store owns the summary fields
        tx.put_school(hill)
    hill = store.school("204-3210")
    assert (hill.name, hill.active_accounts) == ("Renamed", 1)


def test_secret_set_and_read(store):
    assert store.has_secret("204-3210")
    with store.transaction("t") as tx:
        tx.set_secret("204-3210", "new-secret")
    assert store.secret("204-3210") == "new-secret"
    with pytest.raises(UnknownSchool), store.transaction("t") as tx:
        tx.set_secret("204-9999", "x")
    with pytest.raises(StoreError), store.transaction("t") as tx:
        tx.set_secret("204-3210", "  ")


def test_accounts_put_get_and_usernames_unique(store):
    with store.transaction("t") as tx:
        a1 = account(tx, "204-3210", "John", "Smith")
        a2 = account(tx, "204-3211", "Jane", "Smith")  # reserved: jsmith.204 is taken by a1
        tx.put_accounts([a1, a2])
        assert tx.account(a1.username).forename == "John"
    assert (a1.username, a2.username) == ("jsmith.204", "jsmith2.204")
    with store.transaction("t") as tx:
        a3 = account(tx, "204-3211", "Jim", "Smith")
        tx.put_account(a3)
    assert a3.username == "jsmith3.204"
    assert store.account("jsmith2.204").school == "204-3211"
    assert store.find_account("nobody.204") is None
    with pytest.raises(UnknownAccount):
        store.account("nobody.204")
    # many at once: each registry and school file read once, the missing left out
    wanted = ["jsmith.204", "jsmith3.204", "nobody.204", "jsmith2.204", "nobody.330"]
    found = store.find_accounts(wanted)
    assert found == {u: store.account(u) for u in wanted if not u.startswith("nobody")}
    assert store.find_accounts([]) == {}
    assert sorted(a.username for a in store.school_accounts("204-3211")) == [
        "jsmith2.204",
        "jsmith3.204",
    ]
    assert store.school("204-3211").active_accounts == 2


def test_returned_records_are_copies(store):
    with store.transaction("t") as tx:
        acc = account(tx, "204-3210", "Ann", "Lee")
        tx.put_account(acc)
        acc.history.append({"action": "not saved"})
        got = tx.account(acc.username)
        got.extra["x"] = 1
        assert tx.account(acc.username).history == []
        assert tx.account(acc.username).extra == {}


def test_move_between_schools(store):
    with store.transaction("t") as tx:
        acc = account(tx, "204-3210", "Sam", "Mover")
        tx.put_account(acc)
    with store.transaction("t") as tx:
        acc = tx.account("smover.204")
        acc.previous_school, acc.school = acc.school, "301-0001"
        tx.put_account(acc)
    assert [x.username for x in store.school_accounts("204-3210")] == []
    assert [x.username for x in store.school_accounts("301-0001")] == ["smover.204"]
    assert store.account("smover.204").school == "301-0001"
    assert store.school("204-3210").active_accounts == 0
    assert store.school("301-0001").active_accounts == 1
    hits = store.search_accounts("mover")
    assert [(h.username, h.home) for h in hits] == [("smover.204", "301-0001")]


def test_unallocated_account_stays_in_home_school(store):
    with store.transaction("t") as tx:
        acc = account(tx, "204-3210", "Una", "Gone")
        tx.put_account(acc)
        acc.previous_school, acc.school, acc.status = acc.school, None, "unallocated"
        tx.put_account(acc)
    got = store.account("ugone.204")
    assert (got.school, got.status, got.home) == (None, "unallocated", "204-3210")
    assert store.school("204-3210").active_accounts == 0
    assert [h.username for h in store.search_accounts("", status="unallocated")] == ["ugone.204"]
    assert store.search_accounts("", school="204-3210", status="active") == []


def test_account_without_school_refused(store):
    with pytest.raises(StoreError), store.transaction("t") as tx:
        tx.put_account(Account("x.204", "pupil", "X", "Y", None, None))


def test_la_accounts(store):
    with store.transaction("t") as tx:
        tx.put_accounts(
            [
                account(tx, "204-3210", "A", "One"),
                account(tx, "204-3211", "B", "Two", role="staff"),
                account(tx, "301-0001", "C", "Three"),
            ]
        )
        assert len(tx.la_accounts("204")) == 2
    assert sorted(a.username for a in store.la_accounts("204")) == ["aone.204", "btwo.204"]
    assert [a.username for a in store.la_accounts("204", role="staff")] == ["btwo.204"]
    assert [a.username for a in store.la_accounts("301")] == ["cthree.301"]


def test_la_people_are_the_la_accounts_as_candidate_searches_see_them(store):
    with store.transaction("t") as tx:
        gone = account(tx, "204-3211", "Eve", "Fox", dob=None)
        gone.school, gone.previous_school, gone.status = None, "204-3211", "unallocated"
        tx.put_accounts(
            [
                account(tx, "204-3210", "Ann", "Lee", preferred_name="Annie"),
                account(tx, "204-3211", "Bo", "O'Neil-Smith", role="staff"),
                gone,
                account(tx, "301-0001", "Cy", "Ray"),
            ]
        )
    people = {p.username: p for p in store.la_people("204")}
    assert set(people) == {"alee.204", "boneilsmith.204", "efox.204"}
    ann = people["alee.204"]
    assert (ann.forename, ann.surname, ann.preferred_name, ann.dob) == (
        "Ann",
        "Lee",
        "Annie",
        "2012-03-04",
    )
    assert (ann.role, ann.school, ann.status) == ("pupil", "204-3210", "active")
    eve = people["efox.204"]
    assert (eve.school, eve.home, eve.status, eve.dob) == (None, "204-3211", "unallocated", None)
    assert [p.username for p in store.la_people("204", "staff")] == ["boneilsmith.204"]
    assert [p.username for p in store.la_people("999")] == []


def test_exception_discards_everything(store):
    with pytest.raises(RuntimeError), store.transaction("t") as tx:
        tx.put_account(account(tx, "204-3210", "Lost", "Change"))
        raise RuntimeError("boom")
    assert store.find_account("lchange.204") is None
    assert store.school_accounts("204-3210") == []


def test_runs_newest_first_and_ids(store):
    with store.transaction("t") as tx:
        ids = [tx.next_run_id("204-3210") for _ in range(3)]
        for index, rid in enumerate(ids):
            tx.put_run(
                Run(
                    rid,
                    "204-3210",
                    "schedule",
                    "scheduler",
                    status="succeeded",
                    started_at=f"2026-09-0{index + 1}T06:00:00",
                    finished_at=f"2026-09-0{index + 1}T06:01:00",
                )
            )
    assert ids == ["204-3210-r1", "204-3210-r2", "204-3210-r3"]
    assert [r.run_id for r in store.runs("204-3210")] == ids[::-1]
    assert [r.run_id for r in store.runs(limit=2)] == ids[:0:-1]
    assert store.run("204-3210-r2").started_at == "2026-09-02T06:00:00"
    with pytest.raises(UnknownRun):
        store.run("204-3210-r99")
    hill = store.school("204-3210")
    assert (hill.last_run_id, hill.last_run_status) == ("204-3210-r3", "succeeded")
    assert hill.last_scheduled_success_at == "2026-09-03T06:00:00"


def test_running_run_visible_then_finished(store):
    with store.transaction("t") as tx:
        rid = tx.next_run_id("204-3210")
        tx.put_run(Run(rid, "204-3210", "force", "op", started_at=NOW))
    running = store.running_runs()
    assert [r.run_id for r in running] == [rid]
    assert running[0].pid is not None
    assert store.school("204-3210").last_run_status == "running"
    with store.transaction("t") as tx:
        assert [r.run_id for r in tx.running_runs("204-3210")] == [rid]
        run = tx.run(rid)
        run.status = "succeeded"
        run.counts["unallocated"] = 4
        tx.put_run(run)
    assert store.running_runs() == []
    hill = store.school("204-3210")
    assert (hill.last_run_status, hill.unallocated_last_run) == ("succeeded", 4)


@pytest.mark.parametrize("then", ["cancelled", "failed", "dry run"])
def test_a_run_that_changed_nothing_leaves_the_last_applied_run_s_unallocated(store, then):
    """A run cancelled (or failed, or a dry run) after one that unallocated 15: the schools list
    and the hub said 0 unallocated "by the last run", the 15 out of sight."""
    with store.transaction("t") as tx:
        run = Run(tx.next_run_id("204-3210"), "204-3210", "force", "op", started_at=NOW)
        run.status, run.counts["unallocated"] = "succeeded", 15
        tx.put_run(run)
        after = Run(tx.next_run_id("204-3210"), "204-3210", "force", "op", started_at=NOW)
        after.status = "succeeded" if then == "dry run" else then
        after.dry_run = then == "dry run"
        tx.put_run(after)
    hill = store.school("204-3210")
    assert hill.last_run_id == after.run_id and hill.unallocated_last_run == 15


def test_cases(store):
    with store.transaction("t") as tx:
        cid = tx.next_case_id("204-3211")
        tx.put_case(
            MatchCase(
                cid,
                "204-3211",
                "students",
                "pupil",
                record={"report": "students", "mis_id": "7", "forename": "A", "surname": "B"},
                candidates=[{"username": "x.204", "school": "204-3210", "score": 90}],
                opened_at=NOW,
            )
        )
    assert cid == "204-3211-c1"
    assert [c.case_id for c in store.cases("204-3211")] == [cid]
    assert store.school("204-3211").open_cases == 1
    with store.transaction("t") as tx:
        case = tx.case(cid)
        case.status, case.decision = "resolved", "skip"
        tx.put_case(case)
    assert store.cases("204-3211") == []
    assert store.cases("204-3211", status=None)[0].decision == "skip"
    assert store.case(cid).status == "resolved"
    assert store.school("204-3211").open_cases == 0
    with pytest.raises(UnknownCase):
        store.case("204-3211-c9")


def test_exclusions(store):
    with store.transaction("alice") as tx:
        e1 = tx.add_exclusion("204-3210", "Ann", "Lee", None, NOW)
        e2 = tx.add_exclusion("204-3210", "Bob", "Ray", "2010-01-02", NOW)
    assert (e1.id, e2.id, e1.added_by) == (1, 2, "alice")
    assert [e.surname for e in store.exclusions("204-3210")] == ["Lee", "Ray"]
    with store.transaction("alice") as tx:
        assert tx.remove_exclusion("204-3210", 1).surname == "Lee"
    assert [e.id for e in store.exclusions("204-3210")] == [2]
    with pytest.raises(Exception, match="no exclusion 7"), store.transaction("a") as tx:
        tx.remove_exclusion("204-3210", 7)


def test_audit_newest_first_per_school_global_and_subject(store):
    for minute in range(3):
        with store.transaction("op") as tx:
            tx.audit(
                AuditEvent(
                    f"2026-09-01T06:0{minute}:00", "op", "204-3210", "update", f"u{minute}.204"
                )
            )
            tx.audit(AuditEvent(f"2026-09-01T06:0{minute}:30", "op", None, "setting", "hosts"))
    events = store.audit("204-3210")
    assert [e.subject for e in events] == ["u2.204", "u1.204", "u0.204"]
    assert [e.subject for e in store.audit("204-3210", limit=2)] == ["u2.204", "u1.204"]
    feed = store.audit(limit=3)
    assert [e.at for e in feed] == [
        "2026-09-01T06:02:30",
        "2026-09-01T06:02:00",
        "2026-09-01T06:01:30",
    ]
    assert [e.subject for e in store.audit("204-3210", subject="u1.204")] == ["u1.204"]


def test_account_history_across_schools_and_latest_moves(store):
    with store.transaction("op") as tx:
        acc = account(tx, "204-3210", "Mo", "Ver")
        tx.put_account(acc)
        tx.audit(AuditEvent("2026-09-01T06:00:00", "op", "204-3210", "create", acc.username))
    with store.transaction("op") as tx:
        acc = tx.account("mver.204")
        acc.previous_school, acc.school = "204-3210", "301-0001"
        tx.put_account(acc)
        tx.audit(AuditEvent("2026-09-02T06:00:00", "op", "301-0001", "move", acc.username))
        tx.audit(AuditEvent("2026-09-02T06:00:01", "op", "301-0001", "update", "other.301"))
    history = store.audit(subject="mver.204")
    assert [(e.action, e.school) for e in history] == [
        ("move", "301-0001"),
        ("create", "204-3210"),
    ]
    assert [e.action for e in store.latest_moves()] == ["move", "create"]


def test_processed_files_keep_newest_30(store):
    for _ in range(33):
        with store.transaction("op") as tx:
            rid = tx.next_run_id("204-3210")
            tx.put_run(Run(rid, "204-3210", "cli", "op", status="succeeded", started_at=NOW))
            tx.put_processed_file(
                ProcessedFile(rid, "204-3210", NOW, records=[{"outcome": "created", "rid": rid}])
            )
    files = store.processed_files("204-3210")
    assert len(files) == 30
    assert files[0].run_id == "204-3210-r33"
    assert files[-1].run_id == "204-3210-r4"
    assert store.processed_file("204-3210-r1") is None
    assert store.processed_file("204-3210-r33").records[0]["rid"] == "204-3210-r33"


def test_search_by_name_username_dob(store):
    with store.transaction("op") as tx:
        tx.put_accounts(
            [
                account(tx, "204-3210", "Seán", "O'Brien-Smith", "2011-05-06"),
                account(tx, "204-3211", "Zoë", "Nguyễn", "2012-07-08", preferred_name="Zee"),
                account(tx, "301-0001", "Sean", "Brown", "2011-05-06"),
            ]
        )
    names = lambda hits: sorted(h.username for h in hits)  # noqa: E731
    assert names(store.search_accounts("obrien")) == ["sobriensmith.204"]
    assert names(store.search_accounts("smith")) == ["sobriensmith.204"]  # part of a surname
    # ... and the name after an O' (a search for "brien" found no O'Brien: "no account")
    assert names(store.search_accounts("brien")) == ["sobriensmith.204"]
    assert names(store.search_accounts("sean")) == ["sbrown.301", "sobriensmith.204"]
    assert names(store.search_accounts("SEÁN o'b")) == ["sobriensmith.204"]
    assert names(store.search_accounts("zoe nguy")) == ["znguyen.204"]
    assert names(store.search_accounts("zee")) == ["znguyen.204"]
    assert names(store.search_accounts("znguyen.2")) == ["znguyen.204"]
    assert names(store.search_accounts("06/05/2011")) == ["sbrown.301", "sobriensmith.204"]
    assert names(store.search_accounts("2011-05")) == ["sbrown.301", "sobriensmith.204"]
    assert names(store.search_accounts("6/5/2011 brown")) == ["sbrown.301"]
    assert names(store.search_accounts("sean", school="301-0001")) == ["sbrown.301"]
    assert store.search_accounts("nobody") == []
    assert len(store.search_accounts("", limit=2)) == 2
    hit = store.search_accounts("zee")[0]
    assert (hit.forename, hit.surname, hit.preferred_name, hit.dob) == (
        "Zoë",
        "Nguyễn",
        "Zee",
        "2012-07-08",
    )


def test_search_ignores_display_text_and_markup_is_literal(store):
    with store.transaction("op") as tx:
        tx.put_account(account(tx, "204-3210", "[bold]x[/]", "Tab\tName"))
    hits = store.search_accounts("tab")
    assert [(h.forename, h.surname) for h in hits] == [("[bold]x[/]", "Tab Name")]


def test_newer_schema_refused(tmp_path):
    root = tmp_path / "s"
    open_store(root)
    newer = SCHEMA_VERSION + 1
    (root / "store.json").write_text(f'{{"schema": {newer}}}')
    with pytest.raises(NewerSchema) as err:
        open_store(root)
    assert str(err.value) == (
        f"this store was written by a newer uso-tui (schema {newer}; this version reads up to "
        f"{SCHEMA_VERSION}): "
        "upgrade uso-tui"
    )


def test_an_older_store_is_refused_until_upgraded_explicitly(tmp_path):
    import orjson  # noqa: PLC0415

    from uso_tui.store.tinystore import upgrade_store  # noqa: PLC0415

    root = tmp_path / "s"
    open_store(root)
    (root / "store.json").write_text('{"schema": 1}')
    with pytest.raises(StoreError, match="run `uso-tui upgrade`"):
        open_store(root)
    assert (root / "store.json").read_text() == '{"schema": 1}'  # never silently rewritten
    assert upgrade_store(root) == (1, SCHEMA_VERSION)
    assert orjson.loads((root / "store.json").read_bytes()) == {"schema": SCHEMA_VERSION}
    assert open_store(root).list_schools() == []
    assert upgrade_store(root) == (SCHEMA_VERSION, SCHEMA_VERSION)


def test_open_without_create(tmp_path):
    with pytest.raises(StoreError, match="no uso-tui store"):
        open_store(tmp_path / "missing", create=False)


def test_nested_transaction_refused(store):
    with (
        store.transaction("a"),
        pytest.raises(StoreError, match="already open"),
        store.transaction("b"),
    ):
        pass


def test_allowed_hosts(store, monkeypatch):
    monkeypatch.setenv("USO_TUI_ALLOWED_MIS_HOSTS", "localhost:9000")
    store.set_allowed_mis_hosts(["127.0.0.1:8765", " "])
    assert store.allowed_mis_hosts() == frozenset({"127.0.0.1:8765", "localhost:9000"})


def start_a_run_in_a_process_that_ends(store) -> None:
    """Another process starts a run of 204-3210 (r1) and exits without ending it."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys; from uso_tui.store import open_store; from uso_tui.domain.models import Run\n"
        "s = open_store(sys.argv[1])\n"
        "with s.transaction('sched') as tx:\n"
        "    rid = tx.next_run_id('204-3210')\n"
        "    tx.put_run(Run(rid, '204-3210', 'schedule', 'scheduler', started_at='2026-09-01'))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(store.root)], check=True)


def test_run_of_a_dead_process_reads_as_interrupted(store, tmp_path):
    start_a_run_in_a_process_that_ends(store)
    assert store.running_runs() == []
    run = store.run("204-3210-r1")
    assert (run.status, run.error) == (
        "failed",
        "interrupted: the process running it ended before it finished",
    )
    assert store.school("204-3210").last_run_status == "failed"
    assert store.runs()[0].status == "failed"
    with store.transaction("t") as tx:  # the next writer of the school records it for good
        assert tx.running_runs("204-3210") == []
    assert store.school("204-3210").last_run_status == "failed"
    assert store.runs("204-3210")[0].error.startswith("interrupted")


def test_documents_are_tinydb_databases(store):
    from tinydb import TinyDB, where  # noqa: PLC0415

    with store.transaction("t") as tx:
        tx.put_account(account(tx, "204-3210", "Tiny", "Db"))
    db = TinyDB(store.root / "schools" / "204-3210" / "data.json", access_mode="r")
    try:
        assert db.table("accounts").search(where("surname") == "Db")[0]["username"] == "tdb.204"
    finally:
        db.close()
    total = 0
    for path in (store.root / "directory").glob("[0-9]*.json"):  # the directory's shards
        schools = TinyDB(path, access_mode="r")
        try:
            total += len(schools.table("schools"))
        finally:
            schools.close()
    assert total == 3


def test_store_upgraded_by_another_process_is_not_written(store):
    (store.root / "store.json").write_text(f'{{"schema": {SCHEMA_VERSION + 1}}}')
    with pytest.raises(NewerSchema), store.transaction("t") as tx:
        tx.add_exclusion("204-3210", "A", "B", None, NOW)


def test_recent_feed_keeps_the_order_events_were_made(store):
    with store.transaction("op") as tx:
        tx.audit(AuditEvent(NOW, "op", "204-3210", "create", "first"))
        tx.audit(AuditEvent(NOW, "op", "204-3211", "create", "second"))
        tx.audit(AuditEvent(NOW, "op", "204-3210", "create", "third"))
    assert [e.subject for e in store.audit()] == ["third", "second", "first"]


def test_bad_usernames_refused_and_unsearchable_words_match_no_one(store):
    for bad in ("a b.204", "../x.204", "", "tab\t.204"):
        with pytest.raises(StoreError, match="invalid username"), store.transaction("t") as tx:
            tx.put_account(Account(bad, "pupil", "A", "B", None, "204-3210"))
    with store.transaction("t") as tx:
        tx.put_account(account(tx, "204-3210", "Ann", "Lee"))
    assert store.search_accounts("- ?") == []
    assert [h.username for h in store.search_accounts("")] == ["alee.204"]


def test_listing_schools_reads_only_the_directory(store, monkeypatch):
    import uso_tui.store.directory as directory  # noqa: PLC0415
    import uso_tui.store.tinystore as tinystore  # noqa: PLC0415
    import uso_tui.store.version_cache as version_cache  # noqa: PLC0415

    with store.transaction("t") as tx:
        tx.put_account(account(tx, "204-3210", "Ann", "Lee"))
    read: list[str] = []

    def spy(real):
        def reader(path):
            read.append(path.name)
            return real(path)

        return reader

    monkeypatch.setattr(tinystore, "read_json", spy(tinystore.read_json))
    monkeypatch.setattr(version_cache, "read_bytes", spy(version_cache.read_bytes))
    monkeypatch.setattr(directory, "read_bytes", spy(directory.read_bytes))
    fresh = open_store(store.root)  # another process's view: nothing cached
    assert read == ["store.json"]  # opening reads the schema version only
    schools = fresh.list_schools()
    shards = sorted(f"{directory.shard_of(s.dfe):03d}.json" for s in schools)
    assert read == ["store.json", "version.json", *shards]  # the shards holding a school
    assert [s.active_accounts for s in schools] == [1, 0, 0]
    fresh.list_schools()
    assert read == ["store.json", "version.json", *shards]  # unchanged: not parsed again


def test_cached_directory_follows_other_writers(store):
    other = open_store(store.root)
    assert store.school("204-3210").name == "Hill Primary"
    for version in range(20):  # quick successive versions of the same size
        with other.transaction("t") as tx:
            hill = tx.school("204-3210")
            hill.name = f"Name {version:02d}"
            tx.put_school(hill)
        assert store.school("204-3210").name == f"Name {version:02d}"
        assert store.list_schools()[0].name == f"Name {version:02d}"
    listed = store.list_schools()[0]
    listed.reports.append("mutated")  # a caller's change never reaches the shared copy
    assert store.school("204-3210").reports == ["staff", "students"]


def test_remove_exclusion_with_a_bad_id(store):
    with pytest.raises(UnknownExclusion), store.transaction("t") as tx:
        tx.remove_exclusion("204-3210", "abc")


def test_accounts_stored_without_default_fields_and_read_back_whole(store):
    import orjson  # noqa: PLC0415

    with store.transaction("t") as tx:
        acc = account(tx, "204-3210", "Ann", "Lee", extra={"upn": "X1"})
        tx.put_account(acc)
    data = orjson.loads((store.root / "schools" / "204-3210" / "data.json").read_bytes())
    (doc,) = data["accounts"].values()
    assert "reviewed" not in doc and "status" not in doc and "history" not in doc
    assert store.account(acc.username) == acc
    assert store.search_accounts("ann lee")[0].status == "active"
    assert store.school("204-3210").active_accounts == 1


def test_school_state_is_one_version_and_names_it(store):
    with store.transaction("t") as tx:
        tx.put_accounts([account(tx, "204-3210", "Ann", "Lee")])
        tx.add_exclusion("204-3210", "Bob", "Ray", None, NOW)
    state = store.school_state("204-3210")
    assert [a.surname for a in state.accounts] == ["Lee"]
    assert [e.surname for e in state.exclusions] == ["Ray"]
    assert state.open_cases == []
    assert state.version
    with store.transaction("t") as tx:
        assert tx.school_version("204-3210") == state.version
        tx.school_accounts("204-3210")  # reading does not change it
        assert tx.school_version("204-3210") == state.version
        tx.put_accounts([account(tx, "204-3210", "Cy", "Dee")])
        assert tx.school_version("204-3210") is None  # changed here: not comparable
    after = store.school_state("204-3210")
    assert after.version not in (None, state.version)
    with store.transaction("t") as tx:  # another school's commit leaves it alone
        tx.put_accounts([account(tx, "204-3211", "Eve", "Fox")])
    assert store.school_state("204-3210").version == after.version


def test_a_transaction_adopts_a_states_parse_only_while_the_file_is_that_version(
    store, monkeypatch
):
    from uso_tui.store import transaction  # noqa: PLC0415

    with store.transaction("t") as tx:
        tx.put_accounts([account(tx, "204-3210", "Ann", "Lee")])
    state, stale = store.school_state("204-3210"), store.school_state("204-3210")
    loads = []
    real_load = transaction.SchoolDoc.load
    monkeypatch.setattr(transaction.SchoolDoc, "load", lambda *a: loads.append(a) or real_load(*a))
    with store.transaction("t") as tx:
        assert tx.adopt(state)
        assert not tx.adopt(state)  # given up to the first transaction
        assert tx.school_version("204-3210") == state.version
        tx.put_accounts([account(tx, "204-3210", "Cy", "Dee")])
    assert loads == []  # the file was not read again
    assert [a.surname for a in state.accounts] == ["Lee"]  # the state is as it was read
    assert sorted(a.surname for a in store.school_accounts("204-3210")) == ["Dee", "Lee"]
    with store.transaction("t") as tx:  # the file has changed since `stale` read it
        assert not tx.adopt(stale)
        assert len(tx.school_accounts("204-3210")) == 2
    assert len(loads) == 1
    failed = store.school_state("204-3210")
    with pytest.raises(RuntimeError), store.transaction("t") as tx:
        assert tx.adopt(failed)
        tx.put_accounts([account(tx, "204-3210", "Eve", "Fox")])
        raise RuntimeError("the commit fails")
    with store.transaction("t") as tx:  # what the failed one changed went with it
        assert not tx.adopt(failed)
        assert len(tx.school_accounts("204-3210")) == 2


def test_a_school_file_without_a_version_is_never_taken_as_current(store):
    import orjson  # noqa: PLC0415

    path = store.root / "schools" / "204-3210" / "data.json"
    data = orjson.loads(path.read_bytes())
    meta = data.pop("meta")
    del meta["1"]["version"]
    data["meta"] = meta  # as an older uso-tui wrote it: meta last, no token
    path.write_bytes(orjson.dumps(data))
    assert store.school_state("204-3210").version is None
    with store.transaction("t") as tx:
        assert tx.school_version("204-3210") is None


def test_starting_a_run_leaves_the_school_file_alone(store):
    data = store.root / "schools" / "204-3210" / "data.json"
    with store.transaction("t") as tx:
        tx.put_run(Run("204-3210-r0", "204-3210", "force", "op", status="succeeded"))
    before = data.read_bytes()
    with store.transaction("t") as tx:
        rid = tx.next_run_id("204-3210")
        tx.put_run(Run(rid, "204-3210", "schedule", "scheduler", started_at=NOW))
    assert data.read_bytes() == before  # hundreds start at once: only the directory is written
    assert rid == "204-3210-r1"
    assert store.run(rid).status == "running"
    assert [r.run_id for r in store.runs("204-3210")] == [rid, "204-3210-r0"]
    assert store.school("204-3210").last_run_status == "running"
    with store.transaction("t") as tx:
        assert [r.run_id for r in tx.runs("204-3210")] == [rid, "204-3210-r0"]
        assert tx.run(rid).trigger == "schedule"
        assert tx.next_run_id("204-3210") == "204-3210-r2"  # the counter moved on
        tx.add_exclusion("204-3210", "Ann", "Lee", None, NOW)  # another change to the school
    assert store.school("204-3210").last_run_status == "running"  # still the newest run
    assert [r.run_id for r in store.running_runs("204-3210")] == [rid]
    with store.transaction("t") as tx:
        run = tx.run(rid)
        run.status = "held"
        tx.put_run(run)
    assert store.running_runs() == []
    assert store.run(rid).status == "held"
    assert store.school("204-3210").last_run_status == "held"


def test_a_store_from_before_runs_started_in_the_directory(store):
    """Older stores kept the run counter in data.json and running runs in it too."""
    import orjson  # noqa: PLC0415

    from uso_tui.store.liveness import identity  # noqa: PLC0415

    with store.transaction("t") as tx:
        for _ in range(2):
            rid = tx.next_run_id("204-3210")
            tx.put_run(Run(rid, "204-3210", "force", "op", status="succeeded", started_at=NOW))
    path = store.root / "schools" / "204-3210" / "data.json"
    schools = shard_path(store.root / "directory", shard_of("204-3210"))
    data = orjson.loads(path.read_bytes())
    data["meta"]["1"]["next_run"] = 7
    data["runs"]["3"] = {
        **Run("204-3210-r6", "204-3210", "schedule", "sched", started_at=NOW).to_dict(),
        **identity(),
    }
    path.write_bytes(orjson.dumps(data))
    directory = orjson.loads(schools.read_bytes())
    entry = directory["schools"]["1"]
    assert entry["dfe"] == "204-3210"
    del entry["_next_run"]
    entry["_running"] = [data["runs"]["3"]]
    directory["meta"]["1"]["version"] = "0" * 32  # a new version of the file
    schools.write_bytes(orjson.dumps(directory))
    version = orjson.loads(version_path(store.root / "directory").read_bytes())
    version["meta"]["1"]["version"] = "1" * 32  # and of the directory
    version["meta"]["1"]["shards"][shard_of("204-3210")] = "0" * 32
    version_path(store.root / "directory").write_bytes(orjson.dumps(version))
    assert [r.run_id for r in store.running_runs("204-3210")] == ["204-3210-r6"]
    with store.transaction("t") as tx:
        assert [r.run_id for r in tx.running_runs("204-3210")] == ["204-3210-r6"]
        assert tx.next_run_id("204-3210") == "204-3210-r7"
    with store.transaction("t") as tx:
        run = tx.run("204-3210-r6")
        run.status = "succeeded"
        tx.put_run(run)
    assert store.running_runs() == []
    assert store.run("204-3210-r6").status == "succeeded"


def test_a_dead_run_in_the_directory_is_recorded_failed_at_the_schools_next_commit(store):
    start_a_run_in_a_process_that_ends(store)
    with store.transaction("t") as tx:
        tx.add_exclusion("204-3210", "Ann", "Lee", None, NOW)
    import orjson  # noqa: PLC0415

    data = orjson.loads((store.root / "schools" / "204-3210" / "data.json").read_bytes())
    assert [(r["run_id"], r["status"]) for r in data["runs"].values()] == [
        ("204-3210-r1", "failed")
    ]
    assert store.run("204-3210-r1").error.startswith("interrupted")
    for path in (store.root / "directory").glob("[0-9]*.json"):
        directory = orjson.loads(path.read_bytes())
        assert all(not e.get("_running") for e in directory["schools"].values())


def test_name_index_kept_up_by_changes_equals_one_made_afresh(store):
    import orjson  # noqa: PLC0415

    from uso_tui.store.index import build_index  # noqa: PLC0415

    with store.transaction("t") as tx:
        tx.put_accounts([account(tx, "204-3210", f"P{i}", f"Name{i}") for i in range(6)])
    with store.transaction("t") as tx:
        renamed = tx.account("pname2.204")
        renamed.surname = "Changed"
        mover = tx.account("pname4.204")
        mover.school = "204-3211"
        tx.put_accounts([renamed, mover, account(tx, "204-3210", "New", "Starter")])
    for dfe in ("204-3210", "204-3211"):
        folder = store.root / "schools" / dfe
        kept = (folder / "names.idx").read_bytes()
        rows = orjson.loads((folder / "data.json").read_bytes())["accounts"].values()
        afresh = build_index({a["username"]: a for a in rows})
        assert sorted(kept.splitlines()) == sorted(afresh.splitlines())
    assert [h.username for h in store.search_accounts("changed")] == ["pname2.204"]
    assert [h.school for h in store.search_accounts("pname4")] == ["204-3211"]


def test_name_index_with_many_changed_lines_equals_one_made_afresh(store):
    import orjson  # noqa: PLC0415

    from uso_tui.store.index import CUT_AT_MOST, build_index  # noqa: PLC0415

    count = CUT_AT_MOST + 8
    with store.transaction("t") as tx:
        tx.put_accounts([account(tx, "204-3210", "Kim", f"Many{i}") for i in range(count + 5)])
    with store.transaction("t") as tx:
        changed = tx.school_accounts("204-3210")[:count]
        for acc in changed:
            acc.preferred_name = "Kit"
        tx.put_accounts(changed)
    folder = store.root / "schools" / "204-3210"
    rows = orjson.loads((folder / "data.json").read_bytes())["accounts"].values()
    afresh = build_index({a["username"]: a for a in rows})
    assert sorted((folder / "names.idx").read_bytes().splitlines()) == sorted(afresh.splitlines())
    assert len(store.search_accounts("kit")) == count


def test_recent_feed_folds_its_deltas_and_loses_nothing(store, monkeypatch):
    monkeypatch.setattr("uso_tui.store.transaction.RECENT_DELTAS", 4)
    for minute in range(11):
        with store.transaction("op") as tx:
            at = f"2026-09-01T06:{minute:02d}:00"
            tx.audit(AuditEvent(at, "op", "204-3210", "create", f"u{minute}.204"))
            tx.audit(AuditEvent(at, "op", None, "setting", f"hosts{minute}"))
            tx.put_run(
                Run(
                    f"204-3210-r{minute + 1}",
                    "204-3210",
                    "cli",
                    "op",
                    status="succeeded",
                    started_at=at,
                )
            )
    # a delta per commit, folded into recent.json at the fourth: never four left over
    deltas = sorted((store.root / "recent").iterdir())
    assert 0 < len(deltas) < 4
    # global events are numbered across folds: one segment each, none overwritten
    assert len(list((store.root / "audit").iterdir())) == 11
    for reader in (store, open_store(store.root)):  # this process, and one reading it afresh
        feed = reader.audit()
        assert [e.subject for e in feed[:4]] == ["hosts10", "u10.204", "hosts9", "u9.204"]
        assert len(feed) == 22
        assert [r.run_id for r in reader.runs()][:3] == [
            "204-3210-r11",
            "204-3210-r10",
            "204-3210-r9",
        ]
        assert len(reader.runs()) == 11
        assert [e.subject for e in reader.latest_moves()][:2] == ["u10.204", "u9.204"]
        assert reader.audit(subject="hosts3")[0].subject == "hosts3"


def test_events_of_no_school_are_listed_across_schools_after_the_feed_forgets_them(store):
    """An operator made an admin, then a day's runs: the recent feed holds the newest 2,000
    events only, and `audit` across schools no longer listed who made whom an admin."""
    from uso_tui.store.audit import RECENT_EVENTS  # noqa: PLC0415

    with store.transaction("root") as tx:
        tx.audit(AuditEvent("2026-09-01T06:00:00", "root", None, "operator_add", "carol"))
    with store.transaction("op") as tx:
        for n in range(RECENT_EVENTS + 5):
            at = f"2026-09-02T06:{n // 60 % 60:02d}:{n % 60:02d}"
            tx.audit(AuditEvent(at, "op", "204-3210", "create", f"u{n}.204"))
    for reader in (store, open_store(store.root)):
        feed = reader.audit(limit=RECENT_EVENTS + 10)
        assert [(e.action, e.subject) for e in feed[-1:]] == [("operator_add", "carol")]
        assert len(feed) == RECENT_EVENTS + 1
        assert feed[0].subject == f"u{RECENT_EVENTS + 4}.204"


def test_old_runs_move_to_the_schools_runs_archive(store):
    dfe = "204-3210"

    def run(number: int) -> Run:
        trigger, status = "cli", "succeeded"
        if number == 5:
            status = "held"  # awaiting confirmation: stays in the school's file
        if number == 10:
            trigger = "schedule"  # the newest scheduled run that ran: stays too
        at = f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00"
        return Run(f"{dfe}-r{number}", dfe, trigger, "op", status=status, started_at=at)

    with store.transaction("op") as tx:
        for run_number in range(1, 61):
            tx.put_run(run(run_number))
    assert not (store.root / "schools" / dfe / "runs-archive.json").exists()
    for run_number in range(61, 161):
        with store.transaction("op") as tx:
            tx.put_run(run(run_number))
    kept = table_rows(read_json(store.root / "schools" / dfe / "data.json"), "runs")
    archived = table_rows(read_json(store.root / "schools" / dfe / "runs-archive.json"), "runs")
    # whenever more than 60: 29 go (the newest 30 stay, and r5 and r10), at r61, r90, r119, r148
    assert len(kept) == 44 and len(archived) == 116
    assert {"204-3210-r5", "204-3210-r10"} <= {r["run_id"] for r in kept}
    assert [r["run_id"] for r in archived][:2] == ["204-3210-r1", "204-3210-r2"]
    runs = store.runs(dfe)
    assert len(runs) == 160 and len({r.run_id for r in runs}) == 160
    assert runs[0].run_id == "204-3210-r160" and runs[-1].run_id == "204-3210-r1"
    assert [r.run_id for r in store.runs(dfe, limit=2)] == ["204-3210-r160", "204-3210-r159"]
    assert store.run("204-3210-r3").status == "succeeded"
    assert store.school(dfe).last_scheduled_success_at == run(10).started_at


def test_old_resolved_cases_move_to_the_schools_cases_archive(store):
    dfe = "204-3211"

    def case(number: int, status: str = "resolved") -> MatchCase:
        return MatchCase(
            f"{dfe}-c{number}",
            dfe,
            "students",
            "pupil",
            record={"report": "students", "mis_id": str(number), "forename": "A", "surname": "B"},
            candidates=[],
            opened_at=NOW,
            status=status,
            decision="skip" if status == "resolved" else None,
        )

    with store.transaction("op") as tx:  # 100 resolved, 3 open: nothing archived yet
        tx.put_cases([case(i, "open" if i in (2, 50, 103) else "resolved") for i in range(1, 104)])
    path = store.root / "schools" / dfe / "cases-archive.json"
    assert not path.exists()
    with store.transaction("op") as tx:  # the 101st resolved: the oldest 51 go
        tx.put_case(case(104))
    kept = table_rows(read_json(store.root / "schools" / dfe / "data.json"), "cases")
    archived = table_rows(read_json(path), "cases")
    assert len(kept) == 53 and len(archived) == 51  # 50 resolved and the 3 open stay
    assert {f"{dfe}-c2", f"{dfe}-c50", f"{dfe}-c103"} <= {c["case_id"] for c in kept}
    assert archived[0]["case_id"] == f"{dfe}-c1" and archived[-1]["case_id"] == f"{dfe}-c53"
    assert [c.case_id for c in store.cases(dfe)] == [f"{dfe}-c{i}" for i in (2, 50, 103)]
    every = store.cases(dfe, status=None)
    assert [c.case_id for c in every] == [f"{dfe}-c{i}" for i in range(1, 105)]
    assert len(store.cases(dfe, status="resolved")) == 101
    assert store.case(f"{dfe}-c1").decision == "skip"
    # an archived case reopened (an undo) is in the school's file again, and listed once
    with store.transaction("op") as tx:
        reopened = tx.case(f"{dfe}-c3")
        reopened.status, reopened.decision = "open", None
        tx.put_case(reopened)
    assert store.case(f"{dfe}-c3").status == "open"
    assert [c.case_id for c in store.cases(dfe)] == [f"{dfe}-c{i}" for i in (2, 3, 50, 103)]
    assert [c.case_id for c in store.cases(dfe, status=None)] == [
        f"{dfe}-c{i}" for i in range(1, 105)
    ]
    assert store.school(dfe).open_cases == 4
    with pytest.raises(UnknownCase):
        store.case(f"{dfe}-c999")


def test_a_registry_extended_by_each_commit_is_what_encoding_it_whole_gives(store, monkeypatch):
    """Commits that only add usernames extend the LA's registry file; one that moves an account
    to another school writes it whole. Either way: the file encoding the whole would give."""
    from uso_tui.store import transaction
    from uso_tui.store.storage import encode
    from uso_tui.store.transaction import registry_doc

    extended = []

    def spy(*args):
        got = real(*args)
        extended.append(got is not None)
        return got

    real = transaction.registry_extended
    monkeypatch.setattr(transaction, "registry_extended", spy)

    path = store.root / "registry" / "204.json"

    def check() -> dict:
        raw = path.read_bytes()
        data = read_json(path)
        assert raw == encode(registry_doc(data["registry"]["1"], data["meta"]["1"]["version"]))
        return data["registry"]["1"]

    for index, name in enumerate(["Amy", "Bob", "Cat"]):
        with store.transaction("t") as tx:
            tx.put_account(account(tx, "204-3210" if index % 2 else "204-3211", name, "Jones"))
        assert len(check()) == index + 1
    with store.transaction("t") as tx:  # a move: the entry changes
        acc = tx.account("ajones.204")
        acc.previous_school, acc.school = acc.school, "204-3210"
        tx.put_account(acc)
        tx.put_account(account(tx, "204-3210", "Dan", "Jones"))
    assert check() == {
        "ajones.204": "204-3210",
        "bjones.204": "204-3210",
        "cjones.204": "204-3211",
        "djones.204": "204-3210",
    }
    other = open_store(store.root)  # another process, reading it fresh
    assert other.account("djones.204").school == "204-3210"
    with other.transaction("t") as tx:
        tx.put_account(account(tx, "204-3211", "Eve", "Jones"))
    with store.transaction("t") as tx:  # its cached copy is stale: read again, then extended
        tx.put_account(account(tx, "204-3211", "Fay", "Jones"))
    assert set(check()) == {f"{c}jones.204" for c in "abcdef"}
    assert extended == [True] * 4  # the first commit made the file; the move rewrote it


def test_a_directory_shard_written_is_what_encoding_it_whole_gives(store):
    """A commit writes the shards of the entries that changed; each is a whole TinyDB file."""
    from uso_tui.store.storage import as_table, encode

    other = open_store(store.root)
    for index, writer in enumerate([store, store, other, store]):
        with writer.transaction("t") as tx:
            tx.put_account(account(tx, "204-3210", f"Kid{index}", "Lee"))
            if index == 3:
                far = tx.school("301-0001")
                far.name = "Renamed"
                tx.put_school(far)
        path = shard_path(store.root / "directory", shard_of("204-3210"))
        data = read_json(path)
        rows = table_rows(data, "schools")
        assert path.read_bytes() == encode({"meta": data["meta"], "schools": as_table(rows)})
        assert [r["active_accounts"] for r in rows] == [index + 1]
    assert store.school("301-0001").name == "Renamed"


def test_index_files_are_read_as_each_line_reads():
    from uso_tui.store.index import _hit, index_line, read_hits

    rows = [
        {"username": "ajones.204", "role": "pupil", "forename": "Amy", "surname": "Jones",
         "dob": "2015-04-02", "school": "204-3210"},
        {"username": "bx.204", "role": "staff", "forename": "B\tob", "surname": "O'Neil-Ng\n",
         "preferred_name": "[b]Bo[/b]", "school": None, "status": "unallocated"},
        {"username": "cz.204", "role": "pupil", "forename": "Ça", "surname": "Zoë Ann",
         "dob": None, "school": "204-3210"},
    ]  # fmt: skip
    data = "".join(index_line(r) for r in rows).encode()
    each = [_hit(line, "204-3210") for line in data.splitlines()]
    assert read_hits(data, "204-3210") == each
    assert [tuple(h)[:9] for h in each] == [  # the matching fields: tests/test_store_people
        ("ajones.204", "pupil", "Amy", "Jones", "", "2015-04-02", "204-3210", "204-3210",
         "active"),
        ("bx.204", "staff", "B ob", "O'Neil-Ng ", "[b]Bo[/b]", None, None, "204-3210",
         "unallocated"),
        ("cz.204", "pupil", "Ça", "Zoë Ann", "", None, "204-3210", "204-3210", "active"),
    ]  # fmt: skip
    assert read_hits(data, "204-3210", "staff") == [each[1]]
    assert each[1].forename == "B ob" and each[1].status == "unallocated" and each[2].dob is None
    assert read_hits(b"", "204-3210") == []


def test_reads_of_a_school_read_last_follow_every_write_and_hand_out_copies(store, monkeypatch):
    """case() and account() keep the rows of the schools read last (a console deciding cases
    in a queue of thousands decoded the school's whole file at each key): another process's
    write is seen at once, what is handed out is a copy, and this process's own write is read
    back without decoding the file."""
    from uso_tui.store import recent_schools

    dfe = "204-3211"
    with store.transaction("t") as tx:
        amy = account(tx, dfe, "Amy", "Jones")
        tx.put_account(amy)
        cid = tx.next_case_id(dfe)
        tx.put_case(MatchCase(cid, dfe, "students", "pupil", {"mis_id": "7"}, [], opened_at=NOW))
    assert store.account(amy.username).surname == "Jones"
    assert store.case(cid).status == "open"

    other = open_store(store.root)  # another process
    with other.transaction("t") as tx:
        renamed = tx.account(amy.username)
        renamed.surname = "Smith"
        tx.put_account(renamed)
    assert store.account(amy.username).surname == "Smith"

    got = store.account(amy.username)
    got.extra["note"] = "changed by a caller"
    got.history.append({"action": "x"})
    again = store.account(amy.username)
    assert "note" not in again.extra and again.history == []

    decoded = []
    real = recent_schools.read_json
    monkeypatch.setattr(recent_schools, "read_json", lambda p: decoded.append(p) or real(p))
    with store.transaction("t") as tx:  # this process's own write: handed over
        case = tx.case(cid)
        case.status, case.decision = "resolved", "exclude"
        tx.put_case(case)
    assert store.case(cid).decision == "exclude"
    assert store.account(amy.username).surname == "Smith"
    assert decoded == []
    with other.transaction("t") as tx:  # another's: read again
        renamed = tx.account(amy.username)
        renamed.surname = "Brown"
        tx.put_account(renamed)
    assert store.account(amy.username).surname == "Brown"
    assert len(decoded) == 1
