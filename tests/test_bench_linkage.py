"""bench/linkage on a hand-written file in the FEBRL layout: what it counts, setting by setting."""

from __future__ import annotations

import csv

from bench import linkage

HEADER = ["rec_id", "given_name", "surname", "date_of_birth"]
ROWS = [
    ["rec-0-org", "ximena", "okonkwo", "19710305"],
    ["rec-1-org", "bartholomew", "quennell", "19650412"],
    ["rec-2-org", "ottilie", "fairweather", "19880723"],
    ["rec-3-org", "ignatius", "pemberton", "19790101"],
    ["rec-0-dup-0", "ximena", "okonkwo", "19710305"],  # exact
    ["rec-1-dup-0", "bartholomew", "quenell", "19650412"],  # a typo in the surname
    ["rec-2-dup-0", "", "fairweather", "19880723"],  # no forename: invalid
    ["rec-3-dup-0", "ignatius", "pemberton", "19791301"],  # an impossible date: invalid
]


def _files(tmp_path):
    path = tmp_path / "febrl.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    rows = linkage.read_rows(path)
    return [r for r in rows if r["rec_id"].endswith("-org")], [
        r for r in rows if "-dup-" in r["rec_id"]
    ]


def test_movers_are_cases_with_the_true_account_first(tmp_path):
    originals, duplicates = _files(tmp_path)
    tally = linkage.evaluate(originals, duplicates, "movers")
    assert tally["records"] == 4 and tally["valid"] == 2
    assert tally["with_account"] == 2 and tally["rank1"] == 2 and tally["top3"] == 2
    assert tally["auto_right"] == 0 and tally["auto_wrong"] == 0 and tally["duplicates"] == 0


def test_an_exact_record_links_to_its_requested_account(tmp_path):
    originals, duplicates = _files(tmp_path)
    tally = linkage.evaluate(originals, duplicates, "requested")
    assert tally["auto_right"] == 1 and tally["auto_wrong"] == 0
    assert tally["top3"] == 2  # the typo is a case with its account first


def test_records_whose_person_has_no_account_are_new_accounts(tmp_path):
    originals, duplicates = _files(tmp_path)
    tally = linkage.evaluate(originals, duplicates, "half absent")
    # originals 0 and 2 kept: Bartholomew (1) has none, and becomes a new account, no case
    assert tally["with_account"] == 1 and tally["without_account"] == 1
    assert tally["noise"] == 0 and tally["top3"] == 1


def test_the_table_prints_every_setting(tmp_path, capsys):
    path = tmp_path / "febrl.csv"
    _files(tmp_path)
    assert linkage.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in linkage.SETTINGS_ORDER)
    assert "wrong automatic links" in out
