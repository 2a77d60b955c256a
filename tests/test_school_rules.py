"""Settings validation: DfE numbers, MIS kinds, URL host rule (DESIGN section 4), times, reports."""

import pytest

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.schools import (
    check_dfe,
    check_mis,
    check_mis_url,
    check_reports,
    check_time,
    la_of,
    parse_allowed_hosts,
)


def test_dfe():
    assert check_dfe(" 204-3210 ") == "204-3210"
    assert la_of("204-3210") == "204"
    for bad in ["2043210", "204-321", "ABC-3210", "", "204-32100"]:
        with pytest.raises(InvalidInput, match="malformed DfE number"):
            check_dfe(bad)


def test_mis():
    assert check_mis("isams") == "iSAMS"
    assert check_mis("Ed:gen") == "Ed:gen"
    with pytest.raises(InvalidInput, match="unknown MIS"):
        check_mis("SIMS")


def test_url_rules():
    assert check_mis_url("https://hill.isams.cloud/", "iSAMS") == "https://hill.isams.cloud"
    assert check_mis_url("https://hill.edgen.cloud", "Ed:gen") == "https://hill.edgen.cloud"
    with pytest.raises(InvalidInput, match="https"):
        check_mis_url("http://hill.isams.cloud", "iSAMS")
    with pytest.raises(InvalidInput, match="does not match MIS"):
        check_mis_url("https://hill.edgen.cloud", "iSAMS")
    with pytest.raises(InvalidInput, match="not allowed"):
        check_mis_url("https://evil.example.com", "iSAMS")
    with pytest.raises(InvalidInput, match="not allowed"):
        check_mis_url("https://isams.cloud.evil.com", "iSAMS")
    with pytest.raises(InvalidInput, match="not allowed"):
        check_mis_url("http://127.0.0.1:8765/204-3210", "iSAMS")
    with pytest.raises(InvalidInput):
        check_mis_url("https://user:pw@hill.isams.cloud", "iSAMS")
    with pytest.raises(InvalidInput, match="'..' in its path"):
        check_mis_url("https://hill.isams.cloud/../evil", "iSAMS")
    with pytest.raises(InvalidInput, match="port 443, not 8443"):
        check_mis_url("https://hill.isams.cloud:8443", "iSAMS")


def test_allowed_hosts_may_use_http():
    allowed = parse_allowed_hosts(" 127.0.0.1:8765 , localhost:9000")
    assert check_mis_url("http://127.0.0.1:8765/204-3210", "iSAMS", allowed)
    with pytest.raises(InvalidInput):
        check_mis_url("http://127.0.0.1:8766/204-3210", "iSAMS", allowed)


def test_time_and_reports():
    assert check_time("06:30") == "06:30"
    assert check_time(" 6:30") == "06:30"  # as typed without the leading zero
    for bad in ["24:00", "12:60", "noon", "6:3", "006:30"]:
        with pytest.raises(InvalidInput, match="bad time"):
            check_time(bad)
    assert check_reports("Staff, students") == ("staff", "students")
    with pytest.raises(InvalidInput, match="not supported for IRIS"):
        check_reports("contacts")
    with pytest.raises(InvalidInput, match="unknown report"):
        check_reports("parents")
