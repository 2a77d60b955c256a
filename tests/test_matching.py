"""Matching: scores, blocking, ranking."""

from __future__ import annotations

from factories import DFE, OTHER, acc, rec

from uso_tui.sync.dob_slips import dob_score, swap_day_month
from uso_tui.sync.evidence import forename_level, person_of_record, surname_level
from uso_tui.sync.matched_names import key
from uso_tui.sync.matching import CandidateIndex


def test_dob_relations():
    assert dob_score("2015-04-02", "2015-04-02") == (100, "equal")
    assert dob_score("2015-04-02", "2015-02-04") == (85, "day and month swapped")
    assert dob_score("2015-04-02", "2015-04-07") == (80, "one digit off")
    assert dob_score("2015-04-12", "2015-04-21") == (80, "two digits transposed")
    # neighbours as keyed: 19330122 / 19330212 and 21012010 / 20112010
    assert dob_score("1933-01-22", "1933-02-12") == (80, "two digits transposed")
    assert dob_score("2010-01-21", "2010-11-20") == (80, "two digits transposed")
    assert dob_score("2015-04-29", "2015-04-30") == (80, "a day, month or year apart")
    assert dob_score("2015-12-31", "2016-01-01")[0] == 80
    assert dob_score("2009-03-02", "2010-03-02")[0] == 80
    assert dob_score("2015-04-02", "2013-09-22")[0] == 0
    assert dob_score(None, "2015-04-02") == (0, "unknown")
    assert swap_day_month("2015-04-13") is None and swap_day_month("2015-04-04") is None


def _named(forename: str, surname: str = "Lee", preferred: str | None = None):
    return person_of_record(rec("x", forename, surname, None, preferred_name=preferred))


def test_names_nicknames_prefixes_transliteration_and_double_barrels():
    assert forename_level(_named("William"), _named("Bill")) == "known_as"
    assert forename_level(_named("Alexander"), _named("Alex")) in ("known_as", "similar")
    assert forename_level(_named("Samantha", preferred="Sam"), _named("Sam")) == "known_as"
    assert forename_level(_named("Mary Jane"), _named("Mary")) == "known_as"
    assert key("Nguyễn") == "nguyen" and key("Дмитрий") == "dmitrii"
    assert forename_level(_named("Дмитрий"), _named("Dmitri")) in ("known_as", "similar")
    assert surname_level(_named("a", "O'Brien-Smith"), _named("a", "Smith")) == "part"
    assert surname_level(_named("a", "Smith Jones"), _named("a", "Jones")) == "part"
    assert surname_level(_named("a", "obrien smith"), _named("a", "O'BRIEN-SMITH")) == "equal"
    assert surname_level(_named("a", "Smith"), _named("a", "Smyth")) == "similar"
    assert surname_level(_named("a", "Smith"), _named("a", "Patel")) == "different"


def _pool():
    return [
        acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1"),
        acc("ajones2.204", "Amy", "Jones", "2015-02-04", school=OTHER, mis_id="2"),
        acc("ajones3.204", "Amelia", "Jones", "2015-04-02", school=OTHER, mis_id="3"),
        acc("bjones.204", "Ben", "Jones", "2015-04-02", mis_id="4"),  # a twin: not the same
        acc("amjones.204", "Amie", "Jones", "2015-04-02", mis_id="8"),  # a typo: a candidate
        acc("zzed.204", "Zed", "Zulu", "2015-04-02", mis_id="5"),  # same dob, nothing else
        acc("ajones4.204", "Amy", "Jones", "2009-11-30", mis_id="6"),  # same name, far dob
        acc("tjones.204", "Amy", "Jones", "2015-04-02", mis_id="7", role="staff"),
    ]


def test_candidates_ranked_best_first_with_differences():
    pool = [a for a in _pool() if a.role == "pupil"]
    idx = CandidateIndex(pool)
    cands = idx.candidates(rec("9", "Amy", "Jones", "2015-04-02"), DFE)
    names = [c.username for c in cands]
    assert names[0] == "ajones.204" and cands[0].score >= 99 and cands[0].differs == []
    assert not {"zzed.204", "ajones4.204", "bjones.204"} & set(names)
    assert names.index("ajones2.204") < names.index("amjones.204")
    assert all(a.score >= b.score for a, b in zip(cands, cands[1:], strict=False))
    c2 = next(c for c in cands if c.username == "ajones2.204")
    assert c2.differs == ["dob", "school"] and "day and month swapped" in " ".join(c2.reasons)
    assert all(isinstance(c.score, int) for c in cands)


def test_at_most_five_candidates():
    pool = [acc(f"a{i}.204", "Amy", "Jones", "2015-04-02", mis_id=str(i)) for i in range(9)]
    assert len(CandidateIndex(pool).candidates(rec("x", "Amy", "Jones", "2015-04-02"), DFE)) == 5


def test_names_in_the_wrong_order_and_typo_in_the_dob():
    idx = CandidateIndex([acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")])
    assert idx.candidates(rec("9", "Jones", "Amy", "2015-04-02"), DFE)
    assert idx.candidates(rec("9", "Amy", "Jones", "2015-04-12"), DFE)
    assert idx.candidates(rec("9", "Amy", "Jones", "2015-04-20"), DFE)  # transposed: via names
    assert idx.candidates(rec("9", "Amy", "Jones", "2015-04-01"), DFE)  # a day before


def test_surname_change_with_same_dob_is_a_candidate_a_mere_coincidence_is_not():
    idx = CandidateIndex([acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")])
    (candidate,) = idx.candidates(rec("9", "Amy", "Jones-Patel", "2015-04-02"), DFE)
    assert candidate.username == "ajones.204" and candidate.differs == ["surname"]
    # Same forename and date of birth, another surname: a surname changed in the family is
    # still a candidate (DESIGN "Matching"), weaker than a surname that shares a part.
    (other,) = idx.candidates(rec("9", "Amy", "Okafor", "2015-04-02"), DFE)
    assert other.username == "ajones.204" and other.score < candidate.score
    # A plausibly mistyped date needs both names close.
    assert idx.candidates(rec("9", "Amy", "Jones", "2015-04-03"), DFE)
    assert idx.candidates(rec("9", "Amy", "Jonas-Smith", "2015-04-03"), DFE) == []


def test_index_add_replaces_an_account():
    idx = CandidateIndex([acc("ajones.204", "Amy", "Jones", "2015-04-02", mis_id="1")])
    idx.add(acc("ajones.204", "Amy", "Jones", "2015-04-02", school=OTHER, mis_id="1"))
    (candidate,) = idx.candidates(rec("9", "Amy", "Jones", "2015-04-02"), DFE)
    assert candidate.school == OTHER
    idx.add(acc("bbrown.204", "Bea", "Brown", "2014-01-01", mis_id="2"))
    assert idx.candidates(rec("9", "Bea", "Brown", "2014-01-01"), DFE)[0].username == "bbrown.204"


def test_blocking_never_compares_every_pair():
    pool = [
        acc(
            f"u{i}.204",
            f"Name{i % 97}",
            f"Fam{i % 113}x",
            f"20{10 + i % 8}-0{1 + i % 9}-1{i % 10}",
            mis_id=str(i),
        )
        for i in range(20_000)
    ]
    idx = CandidateIndex(pool)
    block = idx._block(rec("x", "Amy", "Jones", "2015-04-02"))
    assert len(block) < 500  # out of 20,000


def test_name_frequencies_follow_accounts_added_to_the_index():
    pool = [acc(f"u{i}.204", "Amy", "Jones" if i % 2 else "Khan", "2015-04-02") for i in range(6)]
    idx = CandidateIndex(pool)
    assert idx.frequency("surname", "jones") is not None  # counted once, before the changes
    married = acc("u1.204", "Amy", "Khan", "2015-04-02")  # one Jones becomes a Khan
    starter = acc("u9.204", "Ivy", "Jones", "2012-01-01")
    idx.add(married)
    idx.add(starter)
    fresh = CandidateIndex([married if a.username == "u1.204" else a for a in pool] + [starter])
    fresh.frequency("surname", "jones")
    # the counts of the accounts as they are now (the superseded Amy Jones no longer counted)
    assert idx._freq == fresh._freq  # noqa: SLF001 - the counts are what is tested
    assert idx._freq["surname"]["jones"] == 3  # noqa: SLF001


def test_date_slips_of_dates_at_the_ends_of_the_calendar_or_not_iso_are_none():
    """find_duplicates raised OverflowError for an account born 0001-01-01, and a plan
    ValueError for a record whose date was not written YYYY-MM-DD (a caller's own records)."""
    from uso_tui.sync.dob_slips import near_dates, swap_day_month

    assert near_dates("0001-01-01") == ("0001-01-02", "0001-02-01", "0002-01-01")
    assert near_dates("9999-12-31") == ("9999-12-30", "9998-12-31")
    assert swap_day_month("20100101") is None and swap_day_month("2010-1-1") is None
    assert swap_day_month("2012-05-03") == "2012-03-05"


def test_a_twins_likeness_reads_as_words_in_the_console_and_the_command_line():
    """The level's own name ("forename twin near") said nothing to an operator."""
    from uso_tui.cli.matches import _why
    from uso_tui.tui.screens.matching import lv_text

    assert lv_text("forename", "twin_near") == "forename like a twin's"
    assert lv_text("dob", "one_digit") == "date of birth one digit"
    why = _why({"evidence": [["forename", "twin_near", -2.1], ["surname", "equal", 6.1]]})
    assert why == "agrees: surname equal (+6.1); differs: forename like a twin's (-2.1)"
