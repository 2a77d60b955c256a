"""why, calendar and export (issue 15 items 3 to 5) on a real store after real runs."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from factories import DFE, Env, iris_student

from uso_tui.cli.main import main
from uso_tui.sync import admin
from uso_tui.sync.calendar import calendar
from uso_tui.sync.export import LISTS, export_csv, safe_cell, to_csv
from uso_tui.sync.why import why

DAY1 = datetime(2026, 3, 10, 9, 0, 0)
DAY2 = datetime(2026, 3, 11, 9, 0, 0)
TODAY = DAY2.date()

AMY = iris_student("1", "Amy", "Jones", "2015-04-02", uniquePupilNumber="A20412345678X")
BOB = iris_student("2", "Bob", "Smith", "2014-07-11", leavingDate="2026-04-01")
# Ella leaves on day 2 and comes back under a new MIS id: her account is a candidate -> a case
ELLA = iris_student("10", "Ella", "Stone", "2013-03-03")
ELLA2 = iris_student("8", "Ella", "Stone", "2013-03-03")
FUTURE = iris_student("3", "Cat", "Brown", "2016-01-20", enrolmentDate="2026-04-20")
BAD = iris_student("4", None, "Nameless", "2015-01-01")
EXCLUDED = iris_student("5", "Test", "Pupil", "2015-02-02")
NEW = iris_student("6", "Dee", "Kaur", "2015-03-03")
FORMULA = iris_student("7", "=HYPERLINK(1)", "+Evil", "2015-05-05")


@pytest.fixture
def env(tmp_path) -> Env:
    new_env = Env(tmp_path / "store")
    new_env.add_school(students=[AMY, BOB, ELLA], create_before_start_days=5)
    new_env.sync(DAY1)
    admin.add_exclusion(
        new_env.store,
        DFE,
        forename="Test",
        surname="Pupil",
        dob=None,
        operator="desk",
        now=DAY1,
    )
    new_env.set_students(DFE, [AMY, BOB, ELLA2, FUTURE, BAD, EXCLUDED, NEW, FORMULA])
    new_env.sync(DAY2)
    return new_env


def one(store, text):
    hits = why(store, text)
    assert len(hits) == 1, [(h.forename, h.surname) for h in hits]
    return hits[0]


def test_why_finds_each_outcome_by_each_key(env):
    store = env.store
    amy = one(store, "amy jones")
    assert amy.outcome == "unchanged" and amy.username and amy.school == DFE
    assert one(store, "a20412345678x").mis_id == "1"  # by UPN
    assert one(store, "02/04/2015").mis_id == "1"  # by date of birth, typed the UK way
    assert one(store, "2015-04-02").mis_id == "1"
    dee = one(store, "6")  # by MIS id
    assert dee.outcome == "created" and dee.username
    case = one(store, "ella")
    assert case.outcome == "needs_matching"
    assert case.case_id == store.cases(DFE, "open")[0].case_id
    assert f"case {case.case_id}" in case.summary
    cat = one(store, "cat brown")
    assert cat.outcome == "future" and cat.starts_on == "2026-04-20"
    assert cat.account_on == "2026-04-15"  # five days before, as the school is set
    bad = one(store, "nameless")
    assert bad.outcome == "invalid" and bad.summary.startswith("rejected: ")
    ex = one(store, "test pupil")
    assert ex.outcome == "excluded" and ex.exclusion_id == store.exclusions(DFE)[0].id
    assert why(store, "nobody-here") == []


def test_why_a_leaver_who_never_had_an_account_has_nothing_to_restore(tmp_path):
    """A record whose leaving date had passed before its first run: `why` told the operator to
    run `uso-tui restore None`."""
    env = Env(tmp_path / "store")
    gone = iris_student("9", "Zed", "Quill", "2015-02-02", leavingDate="2020-12-01")
    env.add_school(students=[AMY, gone])
    env.sync(DAY1)
    hit = one(env.store, "quill")
    assert hit.username is None and "None" not in hit.act
    assert hit.act.startswith("nothing to do")


def test_why_finds_a_name_after_its_o_apostrophe(tmp_path):
    """ "why sullivan" found no Róisín O'Sullivan (her name a single word, "osullivan")."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, iris_student("9", "Róisín", "O’Sullivan", "2015-02-02")])
    env.sync(DAY1)
    assert one(env.store, "sullivan").mis_id == "9"
    assert one(env.store, "o'sullivan").mis_id == "9"


@pytest.mark.parametrize("decide", ["match", "create", "exclude", "undone"])
def test_why_of_a_record_whose_case_was_decided_says_what_it_made(env, decide):
    """The processed file says "waiting in case c1"; the case was decided since: why says what
    the decision made of the record (its account, its exclusion), not "decide case c1"."""
    from uso_tui.sync.actions import resolve_case, undo_decision

    store = env.store
    (case,) = store.cases(DFE, "open")
    choice = {"match": {"match": case.candidates[0]["username"]}, "exclude": {"exclude": True}}
    done = resolve_case(
        store,
        case.case_id,
        operator="desk",
        now=DAY2,
        **choice.get(decide, {"create": True, "force": True}),
    )
    if decide == "undone":
        undo_decision(store, case.case_id, operator="desk", now=DAY2)
    hit = one(store, "ella")
    if decide == "undone":  # open again: it waits, as its export said
        assert hit.outcome == "needs_matching" and hit.act.startswith(f"decide case {case.case_id}")
        return
    assert f"case {case.case_id} decided by desk" in hit.reason
    assert "decide case" not in hit.act
    if decide == "exclude":
        assert hit.outcome == "excluded"
        assert hit.exclusion_id == max(e.id for e in store.exclusions(DFE))
    else:
        username = done.decision.split(":")[1]
        assert hit.outcome == ("linked" if decide == "match" else "created")
        assert hit.username == username and hit.summary == f"{hit.outcome}: {username}"
        assert (
            hit.act
            == f"open {username} in Users (enter, or `uso-tui accounts --search {username}`)"
        )


def test_why_json_shape(env, tmp_path, capsys):
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "why", "2014-07-11", "--json"]
    assert main(args, clock=lambda: DAY2) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["mis_id"] for r in rows] == ["2"]
    keys = {"school", "report", "mis_id", "forename", "surname", "dob", "outcome", "reason"}
    assert all(keys | {"case_id", "username", "run_id"} <= set(r) for r in rows)


@pytest.mark.parametrize("day", ["31/02/2014", "2014-2-31"])
def test_why_for_a_date_that_does_not_exist_says_so(env, tmp_path, capsys, day):
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "why", day]
    assert main(args, clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert f"no record found for “{day}”" in said
    assert f"{day} is no date of the calendar" in said


def test_why_keeps_the_other_reports_records():
    from uso_tui.store.why_index import lines_of_records, merged, search

    def recs(report, mis_id, name):
        return [{"record": {"report": report, "mis_id": mis_id, "forename": name}}]

    old = b"".join(lines_of_records("r1", recs("staff", "9", "Zed"), {}))
    old += b"".join(lines_of_records("r1", recs("students", "1", "Old"), {}))
    new = merged(old, lines_of_records("r2", recs("students", "1", "New"), {}), {"students"})
    found = {h["forename"]: h["run_id"] for h in search([(DFE, new)], "9")}
    assert found == {"Zed": "r1"}
    assert [h["forename"] for h in search([(DFE, new)], "1")] == ["New"]


def test_a_run_of_one_report_keeps_the_others_lines_from_the_index_on_disk(tmp_path):
    from uso_tui.store.why_index import lines_of_records, search, staged_from_draft

    def recs(report, mis_id, name):
        return [{"record": {"report": report, "mis_id": mis_id, "forename": name}}]

    path = tmp_path / "why.idx"
    path.write_bytes(
        b"".join(lines_of_records("r1", recs("staff", "9", "Zed"), {}))
        + b"".join(lines_of_records("r1", recs("students", "1", "Old"), {}))
    )
    new_lines = lines_of_records("r2", recs("students", "1", "New"), {})
    one = staged_from_draft(path, "r2", new_lines, {}, {"students"}, {})
    assert {h["forename"] for h in search([(DFE, one)], "9")} == {"Zed"}
    assert [h["forename"] for h in search([(DFE, one)], "1")] == ["New"]
    # both reports fetched: the index is the new lines alone (the old one is not even read)
    path.write_bytes(b"not an index\n")
    both = staged_from_draft(path, "r2", new_lines, {}, {"students", "staff"}, {})
    assert both == b"".join(new_lines)


def test_calendar_starters_and_leavers_by_date(env, tmp_path, capsys):
    items = calendar(env.store, DFE, today=TODAY, days=60)
    assert [(u.date, u.kind, u.mis_id) for u in items] == [
        ("2026-04-01", "leaver", "2"),
        ("2026-04-15", "starter", "3"),
    ]
    assert items[0].username  # a leaver has an account
    assert calendar(env.store, None, today=TODAY, days=25) == items[:1]
    # Bob's leaving date passed with no run since: his account is still active; he dropped off
    # the calendar as if he had gone
    later = calendar(env.store, DFE, today=date(2026, 4, 3), days=60)
    assert [(u.date, u.kind, u.mis_id) for u in later] == [
        ("2026-04-03", "leaver", "2"),
        ("2026-04-15", "starter", "3"),
    ]
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "calendar", "--days", "60", "--json"]
    assert main(args, clock=lambda: DAY2) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["kind"] for r in rows] == ["leaver", "starter"]
    keys = {"date", "kind", "school", "role", "mis_id", "forename", "surname", "username"}
    assert all(keys <= set(r) for r in rows)


def test_a_passed_leaving_date_is_listed_only_for_an_account_a_run_will_unallocate(tmp_path):
    """A record left invalid (no forename), with a leaving date gone by, made no account and
    never becomes a leaver: it was listed as leaving "today", every day. A run held whole (every
    record's outcome "held") kept its future leavers off the calendar while it waited."""
    from factories import enrolled_student

    env = Env(tmp_path / "store")
    pupils = [
        enrolled_student(str(i), f"Kid{chr(97 + i % 26)}", f"Fam{chr(97 + i // 26)}", f"2015-04-{1 + i % 28:02d}")
        for i in range(40)
    ]  # fmt: skip
    pupils[0]["leavingDate"] = "2026-04-01"
    bad = iris_student("99", None, "Nameless", "2015-01-01", leavingDate="2026-02-01")
    env.add_school(students=[*pupils, bad])
    env.sync(DAY1)
    listed = [(u.date, u.mis_id) for u in calendar(env.store, DFE, today=TODAY)]
    assert listed == [("2026-04-01", "0")]
    swapped = [{**p, "forename": p["surname"], "surname": p["forename"]} for p in pupils]
    env.set_students(DFE, [*swapped, bad])
    assert env.sync(DAY2).status == "held"
    assert [(u.date, u.mis_id) for u in calendar(env.store, DFE, today=TODAY)] == listed


def test_safe_cell_neutralises_formulas():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("Amy") == "Amy" and safe_cell(None) == "" and safe_cell(["a", "b"]) == "a; b"
    # control and format characters as escapes: a leading tab is no formula, an ESC or a
    # U+202E in a file read in a terminal acts on nothing
    assert safe_cell("\tx") == "\\tx" and safe_cell("\rx") == "\\rx"
    assert safe_cell("Amy\x1b[2J\u202e") == "Amy\\x1b[2J\\u202e"


def test_every_csv_cell_is_quoted_so_a_semicolon_separator_splits_none():
    """A spreadsheet whose list separator is ";" split the unquoted `Amy;=cmd|' /C calc'!A0`
    and read its second half as a formula."""
    text = to_csv(
        ("forename", "surname"), [{"forename": "Amy;=cmd|' /C calc'!A0", "surname": "Lee"}]
    )
    assert text.splitlines()[1] == '"Amy;=cmd|\' /C calc\'!A0","Lee"'
    assert list(csv.reader(io.StringIO(text)))[1] == ["Amy;=cmd|' /C calc'!A0", "Lee"]


@pytest.mark.parametrize("name", LISTS)
def test_every_list_exports_as_csv_that_round_trips(env, name):
    text = export_csv(env.store, name, DFE, today=TODAY)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows and all(len(r) == len(rows[0]) for r in rows)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_round_trips_with_formula_like_names_neutralised(env, tmp_path, capsys):
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "export", "accounts", DFE, "--csv"]
    assert main(args, clock=lambda: DAY2) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    evil = next(r for r in rows if r["surname"].endswith("Evil"))
    assert evil["forename"] == "'=HYPERLINK(1)" and evil["surname"] == "'+Evil"
    assert set(rows[0]) >= {"username", "role", "forename", "surname", "dob", "status"}
    assert "upn" not in rows[0] and "extra" not in rows[0]  # data minimised
    dee = next(r for r in rows if r["forename"] == "Dee")
    assert dee["dob"] == "2015-03-03" and dee["school"] == DFE


def test_why_lines_of_rows_are_why_line_for_awkward_records():
    """The fast drafting (rows by position, cached name tokens) gives what why_line gives."""
    import orjson

    from uso_tui.domain.models import PROCESSED_COLUMNS
    from uso_tui.store.why_index import lines_of_rows, merged, why_line

    names = ["Mary Ann", "Jean-Luc", "Zoë", "", None, "Anne  Marie", "O'Brien", "Nguyễn Văn"]
    rows = []
    for index, (fore, sur) in enumerate(zip(names, reversed(names), strict=True)):
        values = dict.fromkeys(PROCESSED_COLUMNS)
        values.update(
            report=("students", "staff", 'odd "report"', None)[index % 4],
            mis_id=f"M{index}",
            forename=fore,
            surname=sur,
            preferred_name=names[(index + 3) % len(names)],
            dob=None if index % 3 == 0 else "2012-03-04",
            upn=(" a1 2b ", None, "A123")[index % 3],
            outcome=("created", "unchanged")[index % 2],
            username=None if index % 2 == 0 else f"u{index}.204",
        )
        rows.append(tuple(values[c] for c in PROCESSED_COLUMNS))
    created = {"M0": "made0.204", "M4": "made4.204"}
    expected = []
    for row in rows:
        values = {**dict(zip(PROCESSED_COLUMNS, row, strict=True)), "run_id": "r9"}
        if values["username"] is None and values["outcome"] == "created":
            values["username"] = created.get(values["mis_id"])
        expected.append(why_line(values))
    lines = lines_of_rows("r9", rows, created)
    assert lines == expected
    old = b"".join(lines) + b"not a line of ours\n"
    NOT_OURS = object()  # noqa: N806
    for reports in ({"students"}, {'odd "report"'}, {None}, {"staff", "students"}):

        def report(line: bytes):
            try:
                return orjson.loads(line[line.find(b"\t") + 1 :])[1]
            except orjson.JSONDecodeError:
                return NOT_OURS

        # (a line not of ours is dropped: damaged from outside, it was kept for good)
        kept = [
            line
            for line in old.splitlines(keepends=True)
            if report(line) is not NOT_OURS and report(line) not in reports
        ]
        assert merged(old, [b"new\n"], reports) == b"new\n" + b"".join(kept)


def test_a_run_reuses_the_keys_of_unchanged_lines_and_remakes_changed_ones():
    """Lines drafted with the KEYS of the index as it is are byte-identical to lines drafted
    from scratch, for the rows that are unchanged and for those that changed."""
    from uso_tui.domain.models import PROCESSED_COLUMNS
    from uso_tui.store.why_index import known_heads, lines_of_rows

    def row(mis_id, forename, surname, outcome="unchanged", username="u1.204"):
        values = dict.fromkeys(PROCESSED_COLUMNS)
        values.update(
            report="students",
            mis_id=mis_id,
            forename=forename,
            surname=surname,
            dob="2014-05-06",
            upn="A1",
            outcome=outcome,
            username=username,
        )
        return tuple(values[c] for c in PROCESSED_COLUMNS)

    before = [row("1", "Mary Ann", "Lee"), row("2", "Zoë", "O'Brien"), row("3", "Jo", "Khan")]
    index = b"".join(lines_of_rows("r1", before, {})) + b"not a line of ours\n"
    heads = known_heads(index)
    assert len(heads) == 3
    after = [
        before[0],  # unchanged: its KEYS come from the index
        row("2", "Zoe", "Brien"),  # renamed: its KEYS are made again
        row("3", "Jo", "Khan", outcome="created", username=None),  # filled in when applied
        row("4", "Ann", "Lee"),  # new
    ]
    created = {"3": "jkhan.204"}
    assert lines_of_rows("r2", after, created, heads) == lines_of_rows("r2", after, created)
    # the reuse is real: a KEYS known for a payload is taken as it is
    marked = {body: b" marked" for body in heads}
    first = lines_of_rows("r2", after, created, marked)[0]
    assert first.startswith(b" marked\t") and b" mary " not in first


def test_why_that_finds_no_record_says_where_to_look_or_names_the_accounts(env, tmp_path, capsys):
    """No export record: the accounts the text finds are named (a User Request Single account
    has no record; a username is not in any export), else where to look next."""
    admin.add_account(
        env.store, DFE, role="pupil", forename="Zed", surname="Quill", dob="2015-06-06",
        operator="desk", now=DAY2,
    )  # fmt: skip
    capsys.readouterr()
    root = ["--data-dir", str(tmp_path / "store")]
    assert main([*root, "why", "Zed Quill"], clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert "no record found for “Zed Quill” in the latest export of any school" in said
    assert "but these accounts match it: zquill.204 (Zed Quill, 2015-06-06, 204-3210)" in said
    assert main([*root, "why", "Nobody Atall"], clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert "not in the MIS exports yet" in said and "try the date of birth alone" in said
    assert main([*root, "why", "Zed Quill", "--json"], clock=lambda: DAY2) == 0
    got = capsys.readouterr()
    assert json.loads(got.out) == []  # the JSON shape is the records' only
    assert "but these accounts match it: zquill.204" in got.err  # (a script's log keeps it)
    # unallocated (its holder removed by mistake?): the answer says how to restore it
    from uso_tui.sync.actions import unallocate_account

    unallocate_account(env.store, "zquill.204", operator="desk", now=DAY2)
    assert main([*root, "why", "Zed Quill"], clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert "do: if zquill.204 should have access again, restore it" in said
    assert "uso-tui restore zquill.204" in said


@pytest.mark.parametrize("name", LISTS)
def test_export_json_gives_the_csvs_rows_as_objects(env, tmp_path, capsys, name):
    """`export LIST --json` printed the CSV: a script reading JSON could not parse it."""
    capsys.readouterr()
    base = ["--data-dir", str(tmp_path / "store"), "export", name, DFE]
    assert main([*base, "--json"], clock=lambda: DAY2) == 0
    rows = json.loads(capsys.readouterr().out)
    assert main(base, clock=lambda: DAY2) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(table)
    assert all(list(r) == list(t) for r, t in zip(rows, table, strict=True))


def test_the_unallocated_list_says_where_each_account_was(env):
    """An unallocated account has no school: the list says which it left, when and by which run
    (its `school` column was blank). Ella's first record left on day 2."""
    (row,) = list_rows_of(env, "unallocated")
    assert row["forename"] == "Ella" and row["school"] is None and row["previous_school"] == DFE
    assert row["unallocated_at"].startswith("2026-03-11") and row["run"].startswith(DFE)


def list_rows_of(env, name):
    from uso_tui.sync.export import list_rows

    return list_rows(env.store, name, DFE, today=TODAY)[1]


def test_why_names_an_unallocated_account_of_the_name_that_no_record_is(env, tmp_path, capsys):
    """Ella's first record left on day 2 (her account unallocated); a new record of her name
    waits in a case. `why ella` found only the case: the account removed is named too."""
    from uso_tui.sync.why import unallocated_besides

    hits = why(env.store, "ella")
    (line,) = unallocated_besides(env.store, "ella", hits)
    assert line.startswith("also ") and "unallocated" in line and DFE in line
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path / "store"), "why", "ella"], clock=lambda: DAY2) == 0
    assert line in capsys.readouterr().out


async def test_the_console_why_names_the_unallocated_account_too(env):
    from tui_helpers import burst, screen_text, settle, started

    async with started(env.store, "why", size=(120, 30)) as (app, pilot):
        burst(app, *"ella", "enter")
        await settle(pilot, 4)
        text = " ".join(screen_text(app).split())
        assert "waiting in the matching queue" in text
        # (it is the case's candidate: matched there, not restored)
        assert "unallocated; estone.204 is a candidate" in text and "--match estone.204" in text


def test_a_leaver_who_never_had_an_account_is_said_to_have_none():
    """why's outcome for a leaver is `unallocated` (DESIGN's list); one who never had an account
    read as if an account had been removed."""
    from uso_tui.sync.why import WhyHit

    def hit(username):
        return WhyHit(DFE, "students", "9", "Al", "Ng", None, "unallocated",
                      "leaving date 2026-03-01", None, username, "r1")  # fmt: skip

    assert hit(None).summary == "a leaver, no account: leaving date 2026-03-01"
    assert hit("ang.204").summary == "a leaver: ang.204 unallocated (leaving date 2026-03-01)"


def test_export_takes_a_lists_name_as_design_spells_it(env, tmp_path, capsys):
    """`export non-MIS` (DESIGN's spelling, and the console's) was refused: only `non-mis`."""
    base = ["--data-dir", str(tmp_path / "store"), "export"]
    capsys.readouterr()
    assert main([*base, "non-mis", DFE], clock=lambda: DAY2) == 0
    lower = capsys.readouterr().out
    assert main([*base, "non-MIS", DFE], clock=lambda: DAY2) == 0
    assert capsys.readouterr().out == lower and lower.startswith("username")


def test_a_starter_leaving_by_its_account_day_is_promised_no_account(tmp_path):
    """An offer withdrawn: a future starter whose leaving date comes by the day its account
    would be made gets none (the run that day takes the record as a leaver), so neither the
    calendar nor why promises one; a leaving date after that day does not change the promise."""
    env = Env(tmp_path / "store")
    withdrawn = iris_student("3", "Ned", "Both", "2015-01-08", enrolmentDate="2026-04-20")
    withdrawn["leavingDate"] = "2026-04-12"  # before the account day, 2026-04-15
    later = iris_student("4", "Liv", "Late", "2015-02-08", enrolmentDate="2026-04-20")
    later["leavingDate"] = "2026-06-30"
    env.add_school(students=[AMY, withdrawn, later], create_before_start_days=5)
    env.sync(DAY1)
    items = calendar(env.store, DFE, today=DAY1.date(), days=60)
    assert [(u.date, u.kind, u.mis_id) for u in items] == [("2026-04-15", "starter", "4")]
    ned = one(env.store, "ned both")
    assert ned.outcome == "future" and ned.account_on is None and ned.leaves_on == "2026-04-12"
    assert "no account is made" in ned.reason and ned.act.startswith("nothing to do")
    assert "leaving on 2026-04-12" in ned.summary and "account made" not in ned.summary
    assert one(env.store, "liv late").account_on == "2026-04-15"
    # The promise kept: the run on the account day makes Liv's account and none for Ned.
    env.sync(datetime(2026, 4, 15, 9, 0, 0))
    assert one(env.store, "liv late").outcome == "created"
    assert one(env.store, "ned both").username is None


def test_export_with_both_csv_and_json_is_refused(env, tmp_path, capsys):
    """`export accounts --csv --json` printed JSON, the --csv dropped unsaid."""
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "export", "accounts", DFE, "--csv", "--json"]
    assert main(args, clock=lambda: DAY2) == 2
    said = capsys.readouterr()
    assert said.out == "" and "--csv and --json: give one" in said.err


def test_why_says_a_dfe_number_that_is_no_school_s_was_looked_for_as_a_word(env, tmp_path, capsys):
    """`why jones 999-9999` (a school's number mistyped) said only that no record was found."""
    capsys.readouterr()
    args = ["--data-dir", str(tmp_path / "store"), "why", "jones", "999-9999"]
    assert main(args, clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert "no record found for “jones 999-9999”" in said
    assert "999-9999: the DfE number of no school here" in said
    args = ["--data-dir", str(tmp_path / "store"), "why", "zed", DFE]
    assert main(args, clock=lambda: DAY2) == 0
    assert "DfE number of no school" not in capsys.readouterr().err


def test_why_of_digits_is_that_mis_id_not_every_date_of_birth_it_begins(env, tmp_path, capsys):
    """`why 2` found Bob (MIS id 2) and every record born in 20..; `why 10` (a record gone from
    the export) named the accounts of everyone born in 2010-2019."""
    bob = one(env.store, "2")
    assert (bob.forename, bob.mis_id) == ("Bob", "2")
    assert [h.mis_id for h in why(env.store, "20")] == []
    root = ["--data-dir", str(tmp_path / "store")]
    assert main([*root, "why", "10"], clock=lambda: DAY2) == 0
    said = capsys.readouterr().err
    assert "no record has MIS id 10 in the latest export of any school" in said
    assert "found by the person's name or date of birth" in said
    assert "these accounts match it" not in said
    assert main([*root, "why", "02042015"], clock=lambda: DAY2) == 0  # a date keyed bare
    said = capsys.readouterr().err
    assert "02042015 as a date of birth is written 02/04/2015 or 2015-04-02" in said


def test_why_of_a_record_with_a_leaving_date_says_when_its_account_goes(env):
    """Bob's record gives 2026-04-01: the answer said only "linked, no change"."""
    bob = why(env.store, "bob smith", today="2026-03-11")[0]
    assert bob.outcome == "unchanged"
    assert "leaving date, 2026-04-01; the first run of 204-3210 on or after that day" in bob.act
    later = why(env.store, "bob smith", today="2026-04-22")[0]
    assert "its leaving date, 2026-04-01, has come with no run of 204-3210 since" in later.act
    assert "`uso-tui sync 204-3210`" in later.act


def test_why_of_a_mis_id_finds_it_among_many_dates_of_birth_that_begin_alike(tmp_path):
    """Digits were searched as the start of any key, capped, then kept if the MIS id: 30
    pupils born in 2015 filled the cap and `why 2` said no record had MIS id 2."""
    env = Env(tmp_path / "store")
    born = [iris_student(str(100 + n), f"Kid{n}", "Alike", "2015-01-01") for n in range(30)]
    env.add_school(students=[*born, iris_student("2", "Zed", "Zulu", "2014-07-11")])
    env.sync(DAY1)
    [zed] = why(env.store, "2", limit=3)
    assert (zed.forename, zed.mis_id) == ("Zed", "2")


def test_why_of_digits_finds_a_upn_given_as_digits_only(tmp_path):
    env = Env(tmp_path / "store")
    env.add_school(
        students=[iris_student("77", "Ann", "Lee", "2015-01-01", uniquePupilNumber="204123456789")]
    )
    env.sync(DAY1)
    assert [h.mis_id for h in why(env.store, "204123456789")] == ["77"]


def test_why_of_a_leaver_says_a_failed_run_or_a_pause_stands_in_the_way(tmp_path):
    """Bob leaves on 2026-04-01: the answer said a force run would unallocate him, where the
    school's latest run had failed (it would fail again), or that the first run after that day
    would, where the school is paused (no scheduled run comes)."""
    env = Env(tmp_path / "store")
    env.add_school(students=[AMY, BOB])
    env.sync(DAY1)
    admin.update_school(env.store, DFE, operator="tester", now=DAY1, paused=True)
    paused = why(env.store, "bob smith", today="2026-03-11")[0].act
    assert "first run of 204-3210 on or after that day" in paused and "is paused" in paused
    admin.update_school(env.store, DFE, operator="tester", now=DAY1, paused=False)
    env.sim.switches(DFE).failing_pages = {("students", 1), ("students", 0)}
    assert env.sync(datetime(2026, 4, 5, 9)).status == "failed"
    failed = why(env.store, "bob smith", today="2026-04-06")[0].act
    assert "has come, and the latest run of 204-3210, 204-3210-r2, failed: mend" in failed


def test_why_of_a_mis_id_finds_it_with_its_leading_zeros_dropped_or_added(tmp_path):
    """Record 0042 searched as 42, and 123 as 00123, found nothing ("no record has MIS id 42"):
    the school's MIS pads its ids, or the operator copied one padded from elsewhere."""
    env = Env(tmp_path / "store")
    env.add_school(
        students=[
            iris_student("0042", "Ann", "Padded", "2015-01-01"),
            iris_student("123", "Ben", "Bare", "2015-02-02"),
            iris_student("7", "Cy", "Seven", "2015-03-03"),
            iris_student("007", "Di", "Padded", "2015-04-04"),
        ]
    )
    env.sync(DAY1)
    assert [h.forename for h in why(env.store, "42")] == ["Ann"]
    assert [h.forename for h in why(env.store, "00123")] == ["Ben"]
    # an id as typed is that record's, before any padded or bare form of it
    assert [h.forename for h in why(env.store, "7")] == ["Cy"]
    assert [h.forename for h in why(env.store, "007")] == ["Di"]
    assert sorted(h.forename for h in why(env.store, "07")) == ["Cy", "Di"]  # both forms of it
    assert why(env.store, "4") == [] and why(env.store, "0") == []


def test_a_leaver_whose_account_moved_since_is_not_in_the_calendar(tmp_path):
    """Kim leaves 204-3210 on the 20th and was matched at another school since (her account
    moved there): the calendar still listed her as a leaver of 204-3210, whose run will not
    unallocate an account linked elsewhere."""
    from factories import OTHER

    from uso_tui.sync.actions import resolve_case

    env = Env(tmp_path / "store")
    upn = "K20412345678X"
    kim = iris_student(
        "1", "Kim", "Lee", "2014-02-02", uniquePupilNumber=upn, leavingDate="2026-03-20"
    )
    al = iris_student("2", "Al", "Bo", "2014-01-01", leavingDate="2026-03-21")
    cy = iris_student("3", "Cy", "Do", "2014-01-01")
    env.add_school(DFE, students=[kim, al])
    env.add_school(OTHER, students=[cy])
    env.sync(DAY1, DFE)
    env.sync(DAY1, OTHER)
    today = date(2026, 3, 12)
    leavers = {u.forename for u in calendar(env.store, None, today=today) if u.kind == "leaver"}
    assert leavers == {"Kim", "Al"}
    there = iris_student("77", "Kim", "Lee", "2014-02-02", uniquePupilNumber=upn)
    env.set_students(OTHER, [cy, there])
    env.sync(DAY2, OTHER)
    (case,) = env.store.cases(OTHER, "open")
    resolve_case(
        env.store, case.case_id, operator="desk", now=DAY2, match=case.candidates[0]["username"]
    )
    leavers = [u.forename for u in calendar(env.store, None, today=today) if u.kind == "leaver"]
    assert leavers == ["Al"]
