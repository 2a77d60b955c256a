"""Bad input at the command line: DfE numbers of other scripts' digits, MIS URLs whose host no
host name could be, and secrets typed in the wrong place, never echoed."""

from __future__ import annotations

import pytest
from cli_support import SECRET, snapshot

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.schools import DFE_RE, check_dfe, check_mis_url


@pytest.fixture
def cli(cli):
    """The command line on a store of one school."""
    cli.add_school("204-3210")
    return cli


def add(dfe: str = "204-3299", url: str = "https://new3299.isams.cloud") -> list[str]:
    return ["school", "add", dfe, "--name", "New", "--mis", "iSAMS", "--url", url,
            "--client-id", "c", "--client-secret-env", "USO_TEST_SECRET"]  # fmt: skip


@pytest.mark.parametrize("dfe", ["٢٠٤-٣٢١٠", "２０４-３２１０", "204-321٠", "204-3210\n1"])
def test_dfe_numbers_are_ascii_digits_only(cli, dfe):
    assert not DFE_RE.match(dfe)
    with pytest.raises(InvalidInput, match="malformed DfE number"):
        check_dfe(dfe)
    before = snapshot(cli.data_dir)
    res = cli(*add(dfe))
    assert res.status == 2 and "malformed DfE number" in res.err
    assert snapshot(cli.data_dir) == before


@pytest.mark.parametrize(
    "url",
    [
        "https://hill\\3210.isams.cloud",
        "https://hill%2F3210.isams.cloud",
        "https://hill%2f..%2f.isams.cloud",
        "https://hill 3210.isams.cloud",
        "https://hill;3210.isams.cloud",
        "https://hill\t.isams.cloud",
        "https://-hill.isams.cloud",
        "https://hill..isams.cloud",
        "https://hill_3210.isams.cloud",
        "https://hill\u202e.isams.cloud",
        "https://\uff58.isams.cloud",  # a fullwidth x: accepted, then refused by every run
        "https://hill\ufb01.isams.cloud",  # the ligature fi
        "https://\u0430pple.isams.cloud",  # a Cyrillic а: shown as the real host, never reached
        "https://h\u00efll.isams.cloud",  # an accent: IRIS hosts are plain letters
    ],
)
def test_mis_url_hosts_must_be_host_names(cli, url):
    with pytest.raises(InvalidInput, match="bad MIS URL"):
        check_mis_url(url, "iSAMS")
    before = snapshot(cli.data_dir)
    res = cli(*add(url=url))
    assert res.status == 2 and "bad MIS URL" in res.err
    assert snapshot(cli.data_dir) == before


@pytest.mark.parametrize(
    "url",
    [
        "https://hill-3210.isams.cloud",
        "https://xn--bcher-kva.isams.cloud",  # an internationalised host, in its ASCII form
    ],
)
def test_valid_hosts_still_accepted(url):
    assert check_mis_url(url, "iSAMS") == url


def test_allowed_ip_hosts_still_accepted():
    allowed = frozenset({"127.0.0.1:8765"})
    assert check_mis_url("http://127.0.0.1:8765/204-3210", "iSAMS", allowed)


@pytest.mark.parametrize(
    "tail",
    [
        ["--client-secre", SECRET],
        [f"--client-secre={SECRET}"],
        ["--clientsecret", SECRET],
        [SECRET],
        ["--json", SECRET],
        ["-" + SECRET],
    ],
)
def test_a_secret_after_a_misspelt_option_or_stray_is_not_echoed(cli, tail):
    for cmd in (add(), ["school", "set", "204-3210"], ["school", "list"]):
        res = cli(*cmd, *tail)
        assert res.status == 2, res.err
        assert "unrecognized arguments" in res.err
        assert SECRET not in res.out + res.err
        assert SECRET[:8] not in res.err


def test_the_misspelt_option_itself_is_named(cli):
    res = cli("school", "list", "--colour")
    assert res.status == 2 and "unrecognized arguments: --colour" in res.err
    res = cli("school", "list", "--client-secre", SECRET)
    assert "--client-secre and 1 other word" in res.err and SECRET not in res.err


@pytest.mark.parametrize(
    "argv",
    [
        ["sync", "204-3210", "--report", SECRET],
        ["audit", "--limit", SECRET],
        [SECRET],
        ["school", SECRET],
    ],
)
def test_a_secret_given_as_a_bad_value_is_not_echoed(cli, argv):
    res = cli(*argv)
    assert res.status == 2
    assert SECRET not in res.err and "not repeated here" in res.err


def test_an_error_line_reaches_the_terminal_with_its_control_characters_escaped():
    """Every error line may carry words of another's (a server's, a file's): an escape sequence
    in it is printed as text, never acted on by the operator's terminal."""
    from uso_tui.cli.main import _one_line

    line = _one_line("IRIS said: \x1b[2J\x1b]52;c;cm0=\x07 refused\nnext", ["s3cret"])
    assert line == "IRIS said: \\x1b[2J\\x1b]52;c;cm0=\\x07 refused next"


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:Sup3rS3cretValue-XYZ987@hill.isams.cloud",
        "https://admin:Sup3r@S3cretValue-XYZ987@hill.isams.cloud",
        "https://hill.isams.cloud/?client_secret=Sup3rS3cretValue-XYZ987",
        "https://hill.isams.cloud/#Sup3rS3cretValue-XYZ987",
        "http://admin:Sup3rS3cretValue-XYZ987@hill.isams.cloud",
        "https://admin:Sup3rS3cretValue-XYZ987@hill isams.cloud",
        "https://admin:Sup3rS3cretValue-XYZ987/api",  # read as a port by the parser
        "https://admin:pa#Sup3rS3cret@hill.isams.cloud",
    ],
)
def test_a_refused_url_is_not_repeated_with_its_password_or_query(cli, url):
    """The refusal says what is wrong without printing what could be a password (stderr,
    scrollback and session recordings keep it)."""
    with pytest.raises(InvalidInput) as refused:
        check_mis_url(url, "iSAMS")
    assert "S3cret" not in str(refused.value) and "***" in str(refused.value)
    res = cli(*add(url=url))
    assert res.status == 2 and "S3cret" not in res.err + res.out and "MIS URL" in res.err


def test_a_refused_url_is_not_repeated_whole_when_huge(cli):
    res = cli(*add(url="https://hill.isams.cloud/" + "a" * 100_000 + " x"))
    assert res.status == 2 and "bad MIS URL" in res.err and len(res.err) < 1_000


def test_json_output_writes_what_a_terminal_acts_on_as_escapes():
    """`--json` printed a U+202E (the rest of the line shown reversed), C1 controls and
    zero-width characters as they were: the same JSON value, with those as \\u escapes."""
    import io
    import json

    from uso_tui.cli.output import emit_json

    data = [{"surname": "Lee\u202eyaj", "forename": "A\u0085my\u200b", "note": "Zoë\ttab"}]
    out = io.StringIO()
    emit_json(data, out)
    text = out.getvalue()
    assert json.loads(text) == data
    assert not any(c in text for c in "\u202e\u0085\u200b\t")
    assert "Zoë" in text and "\\u202e" in text
