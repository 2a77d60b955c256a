"""IRIS JSON -> MisRecord: padding, nulls, capitals, dates with a time, the two middle-name keys."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from uso_tui.domain.models import MisRecord
from uso_tui.domain.names import normalise
from uso_tui.iris.parse import iso_date, parse_employee, parse_student, record_id


def test_student_fields_cleaned() -> None:
    rec = parse_student(
        {
            "schoolId": "  000123 ",
            "forename": "  ZOË ",
            "surname": "O'BRIEN-SMITH",
            "preferredName": "",
            "middlenames": "  Anne   Marie ",
            "middleNames": "ignored for pupils",
            "dob": "2012-05-03T00:00:00",
            "gender": "F",
            "yearGroup": 8,
            "formGroup": None,
            "enrolmentDate": "2023-09-04",
            "leavingDate": None,
            "uniquePupilNumber": " A123456789012 ",
            "schoolEmailAddress": "   ",
            "personGuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "nationality": "British",
            "homeAddresses": [{"postCode": "AB1 2CD"}],
        }
    )
    assert rec == MisRecord(
        report="students",
        mis_id="000123",
        forename="ZOË",  # capitals kept as sent; comparison goes through normalise
        surname="O'BRIEN-SMITH",
        preferred_name=None,
        middle_names="Anne   Marie",
        dob="2012-05-03",
        enrolment_date="2023-09-04",
        email=None,
        person_guid="0f8fad5b-d9cb-469f-a165-70867728950e",
        gender="F",
        year_group="8",
        upn="A123456789012",
    )
    assert rec.role == "pupil"
    assert normalise(rec.forename) == "zoe" and normalise(rec.surname) == "obriensmith"


def test_employee_fields_cleaned() -> None:
    rec = parse_employee(
        {
            "id": 4711,
            "personGuid": None,
            "title": " Mrs ",
            "forename": "Siobhán",
            "surname": " Ní Bhriain ",
            "preferredName": "Shiv",
            "middleNames": "Máire",
            "middlenames": "ignored for staff",
            "dateOfBirth": "1979-12-31T00:00:00.000Z",
            "enrolmentDate": "2010-09-01T08:30:00",
            "leavingDate": "2026-07-31T00:00:00+01:00",
            "schoolEmailAddress": "s.nibhriain@school.sch.uk",
            "schoolInitials": "SNB",
            "systemStatus": "Current",
            "isTeachingStaff": "true",
            "religion": "None",
            "homeAddress": {"line1": "1 High St"},
        }
    )
    assert rec.report == "staff" and rec.role == "staff"
    assert rec.mis_id == "4711"
    assert (rec.title, rec.forename, rec.surname, rec.preferred_name, rec.middle_names) == (
        "Mrs",
        "Siobhán",
        "Ní Bhriain",
        "Shiv",
        "Máire",
    )
    assert (rec.dob, rec.enrolment_date, rec.leaving_date) == (
        "1979-12-31",
        "2010-09-01",
        "2026-07-31",
    )
    assert (rec.email, rec.initials, rec.system_status, rec.is_teaching) == (
        "s.nibhriain@school.sch.uk",
        "SNB",
        "Current",
        True,
    )
    assert rec.person_guid is None


def test_only_design_fields_are_kept() -> None:
    names = {f.name for f in fields(MisRecord)}
    rec = parse_student({"schoolId": "1", "religion": "x", "homeAddresses": [], "contacts": []})
    assert set(rec.to_dict()) == names
    # records made by the parser's fast path behave as any other MisRecord
    staff = parse_employee({"id": 7, "forename": "A", "surname": "B", "isTeachingStaff": True})
    for record in (rec, staff):
        assert MisRecord.from_dict(record.to_dict()) == record
        assert hash(MisRecord.from_dict(record.to_dict())) == hash(record)
        assert replace(record, forename="X").forename == "X"
    assert staff.gender is None and staff.title is None and staff.is_teaching is True


@pytest.mark.parametrize(
    "raw", ["2026-11-23", "2026/11/23", "20261123", "23/11/2026", "23.11.2026", "23-11-2026"]
)
def test_dates_in_the_forms_an_mis_exports_them(raw) -> None:
    """A leaving date as 20261123 or 23.11.2026 was dropped as unreadable: the leaver kept
    access (or, once unallocated, was restored), nothing said."""
    rec = parse_student({"schoolId": "1", "dob": raw, "leavingDate": raw})
    assert rec.dob == rec.leaving_date == "2026-11-23" and rec.leaving_raw is None
    number = parse_student({"schoolId": "1", "leavingDate": 20261123})  # a JSON number
    assert number.leaving_date == "2026-11-23" and number.leaving_raw is None


def test_an_unreadable_leaving_date_is_kept_raw_and_the_record_is_invalid() -> None:
    from collections import Counter

    from uso_tui.sync.plan import _invalid_reason

    rec = parse_student(
        {"schoolId": "1", "forename": "A", "surname": "B", "dob": "2014-01-02",
         "leavingDate": "2026-11-31"}
    )  # fmt: skip
    assert rec.leaving_date is None and rec.leaving_raw == "2026-11-31"
    assert _invalid_reason(rec, "2026-12-05", Counter({"1": 1})) == (
        "unreadable leaving date '2026-11-31'"
    )


@pytest.mark.parametrize("raw", ["2027-02-29", "2026-13-45", "next term", 20270229])
def test_an_unreadable_start_date_makes_the_record_invalid(raw) -> None:
    """A start date that is no date was read as none: a starter of a date to come was given an
    account at the first run, nothing said (an unreadable leaving date was already invalid)."""
    from collections import Counter

    from uso_tui.sync.plan import _invalid_reason

    for parse, ids in ((parse_student, {"schoolId": "1", "dob": "2014-01-02"}),
                       (parse_employee, {"id": "1", "dateOfBirth": "1980-01-02"})):  # fmt: skip
        rec = parse({**ids, "forename": "A", "surname": "B", "enrolmentDate": raw})
        assert rec.enrolment_date is None
        assert _invalid_reason(rec, "2026-12-05", Counter({"1": 1})) == (
            f"unreadable start date {str(raw)!r}"
        )
    sent_as_list = parse_student(
        {"schoolId": "1", "forename": "A", "surname": "B", "dob": "2014-01-02",
         "enrolmentDate": raw, "(unreadable)": "leavingDate (a list)"}
    )  # fmt: skip
    assert sent_as_list.unreadable == f"leavingDate (a list), start date {str(raw)!r}"
    fine = parse_student({"schoolId": "1", "enrolmentDate": "2026-09-01"})
    assert fine.enrolment_date == "2026-09-01" and fine.unreadable is None


def test_unparseable_dob_kept_raw() -> None:
    for raw in ("31/02/2012", "2012-02-30", "not a date", "2012-13-01T00:00:00", "2012/05-03"):
        rec = parse_student({"schoolId": "1", "dob": raw})
        assert rec.dob is None and rec.dob_raw == raw
    rec = parse_employee({"id": 1, "dateOfBirth": None})
    assert rec.dob is None and rec.dob_raw is None
    rec = parse_employee({"id": 1, "dateOfBirth": "   "})
    assert rec.dob is None and rec.dob_raw is None


def test_dates_with_or_without_time() -> None:
    assert iso_date("2012-05-03") == "2012-05-03"
    assert iso_date(" 2012-05-03T00:00:00 ") == "2012-05-03"
    assert iso_date("2012-05-03 13:45:00") == "2012-05-03"
    assert iso_date("2012-05-03T00:00:00Z") == "2012-05-03"
    # unpadded, and the UK's own way (a leaving date dropped as unreadable kept a leaver's
    # access with nothing said)
    assert iso_date("2012-5-3") == "2012-05-03"
    assert iso_date("03/05/2012") == "2012-05-03" and iso_date("3/5/2012 00:00") == "2012-05-03"
    assert iso_date("12-05-03") is None and iso_date("31/02/2012") is None
    assert iso_date(20120503) is None
    assert iso_date(None) is None


def test_a_time_after_the_date_must_read_as_one() -> None:
    """Anything after a T was taken for a time: 2012-05-03T99:99:99garbage made an account.
    AM/PM after a date day first is .NET's US form, month first: unreadable, not 5 March."""
    for raw in ("2012-05-03T00:00:00.0000000", "2012-05-03T00:00:00.000+01:00",
                "2012-05-03 12:00:00 AM", "2012-05-03 00:00:00 +0100", "2012-05-03T0000",
                "2012-05-03T00:00:00z", "2012-05-03T24:00:00", "2012-05-03T23:59:60Z",
                "2012-05-03T00:00:00+01:00[Europe/London]", "03/05/2012 00:00:00"):  # fmt: skip
        assert iso_date(raw) == "2012-05-03", raw
    for raw in ("2012-05-03T99:99:99garbage", "2012-05-03Tx", "2012-05-03T", "3/5/2012 25:00",
                "5/3/2012 12:00:00 AM"):  # fmt: skip
        rec = parse_student({"schoolId": "1", "dob": raw})
        assert rec.dob is None and rec.dob_raw == raw


def test_characters_drawn_as_nothing_are_dropped_from_names() -> None:
    """A Hangul filler is printable to Python: kept, it made a name that looks like another."""
    rec = parse_student({"schoolId": "1", "forename": "Ann\u3164a", "surname": "\u2800Lee"})
    assert (rec.forename, rec.surname) == ("Anna", "Lee")
    variation = parse_student(
        {"schoolId": "1", "forename": "Ann\ufe0fa", "surname": "\u1100\u3164\u1161"}
    )
    assert (variation.forename, variation.surname) == ("Anna", "\uac00")  # composed again
    assert parse_student({"schoolId": "1", "forename": "\u3164"}).forename is None


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Kamiński\x1b[31m", "Kamiński"),
        ("Bo\x1b[1;31mb\x1b[0m", "Bob"),
        ("\x1b]0;a title\x07Ann", "Ann"),
        ("Zo\x9b31më", "Zoë"),
        ("Lee\x1b", "Lee"),
    ],
)
def test_a_terminal_s_escape_sequences_are_dropped_whole(sent, kept) -> None:
    """Only the ESC of `Kamiński\x1b[31m` was dropped: the surname became `Kamiński[31m`, and
    the username made from it `ikaminskim`."""
    assert parse_student({"schoolId": "1", "surname": sent}).surname == kept


def test_missing_or_odd_ids() -> None:
    assert parse_student({}).mis_id == ""
    assert parse_student({"schoolId": None}).mis_id == ""
    assert parse_student({"schoolId": 123}).mis_id == "123"
    assert parse_employee({"id": 12.0}).mis_id == "12"
    assert parse_employee({"id": True}).mis_id == ""


def test_text_that_is_not_text() -> None:
    rec = parse_student(
        {"schoolId": "1", "forename": ["x"], "surname": {"a": 1}, "yearGroup": "R", "gender": True}
    )
    assert rec.forename is None and rec.surname is None
    assert rec.year_group == "R" and rec.gender is None
    assert parse_employee({"id": 1, "isTeachingStaff": "no"}).is_teaching is False
    assert parse_employee({"id": 1, "isTeachingStaff": "maybe"}).is_teaching is None


def test_record_id_is_the_id_a_parse_gives() -> None:
    """The fetch reads each record's id before deciding whether to parse it (sync.fingerprints):
    it must be the id the parse would give, whatever the MIS sends."""
    odd = ["123", " 123 ", "12\u200b3", "\u0661\u0662", "Ab9", "x" * 201, "", "a b", "7\n"]
    # letters text() drops as drawn as nothing (a second record "S1" hid a clash of ids)
    odd += ["S1\u1160", "\u3164S1", "S\uffa01", "\u115fS1", "Éa1"]
    for value in [*odd, 12, 12.0, 12.5, True, None, ["1"]]:
        student = {"schoolId": value, "forename": "Ann", "surname": "Lee"}
        employee = {"id": value, "forename": "Ann", "surname": "Lee"}
        assert record_id("students", student) == parse_student(student).mis_id, value
        assert record_id("staff", employee) == parse_employee(employee).mis_id, value


def test_a_leaving_date_keyed_the_uk_way_makes_a_leaver() -> None:
    from uso_tui.iris.parse import parse_student

    rec = parse_student({"schoolId": "1", "leavingDate": "10/03/2026", "enrolmentDate": "1/9/2026"})
    assert (rec.leaving_date, rec.enrolment_date) == ("2026-03-10", "2026-09-01")


def test_a_name_sent_as_a_number_is_no_name() -> None:
    """1e20 read as the name "1e+20" (a letter in it, so no "no letters" refusal) and renamed
    the linked account; a name is only ever text."""
    for value in (1e20, -1e-7, 1.5e308, 42, [1], {"a": 1}, True):
        student = parse_student(
            {"schoolId": "1", "forename": value, "surname": value, "preferredName": value,
             "middlenames": value, "dob": "2014-01-01"}
        )  # fmt: skip
        assert (student.forename, student.surname, student.preferred_name) == (None, None, None)
        assert student.middle_names is None
        staff = parse_employee(
            {"id": 1, "forename": value, "surname": "Hill", "middleNames": value}
        )
        assert staff.forename is None and staff.middle_names is None


def test_a_record_is_kept_with_every_field_its_parser_reads():
    """The client keeps each record as USED_KEYS only: a field a parser reads that the list
    lacks would be dropped before parsing, silently."""
    from uso_tui.iris.parse import PARSERS, UNREADABLE, USED_KEYS

    class Reads(dict):
        def __init__(self) -> None:
            super().__init__()
            self.read: set[str] = set()

        def get(self, key, default=None):
            self.read.add(key)
            return super().get(key, default)

    for report, parse in PARSERS.items():
        doc = Reads()
        parse(doc)
        assert doc.read == {*USED_KEYS[report], UNREADABLE}, report
