"""DESIGN section 3: name normalisation and usernames."""

import pytest

from uso_tui.domain.errors import InvalidName
from uso_tui.domain.names import ascii_letters, make_username, normalise, username_stem


@pytest.mark.parametrize(
    "variants",
    [
        ["O'Brien-Smith", "obrien smith", "OBRIEN-SMITH", " O’Brien Smith "],
        ["Zoë", "Zoe", "ZOË", "zoe"],
        ["Seán", "Sean", "SEAN"],
        ["Nguyễn", "Nguyen", "NGUYEN"],
        ["Mary-Jane", "Mary Jane", "maryjane"],
        ["Straße", "STRASSE"],
        # letters whose accent is no separate mark, as typed on a keyboard without them
        ["Paweł", "Pawel", "PAWEŁ"],
        ["Łukasz", "Lukasz"],
        ["Søren", "Soren", "SØREN"],
        ["Ærø", "Aero"],
        ["Işık", "Isik", "IŞIK"],
        ["Đorđe", "Dorde"],
        ["Əli", "Eli"],
        ["Kɔfi", "Kofi"],
        ["Þóra", "Thora"],
        ["OʼBrien", "O'Brien"],
        # accents and pointing an MIS may leave out: Arabic hamza, Cyrillic breve, Greek's iota
        # subscript; a variation selector (a glyph's variant, not a letter)
        ["أحمد", "احمد"],
        ["Дмитрий", "ДМИТРИЙ"],
        ["ᾳ", "α"],
        ["葛\U000e0100城", "葛城"],
    ],
)
def test_variants_normalise_equal(variants):
    assert len({normalise(v) for v in variants}) == 1


def test_normalise_examples():
    assert normalise("O'Brien-Smith") == "obriensmith"
    assert normalise("Zoë") == "zoe"
    assert normalise("Nguyễn") == "nguyen"
    assert normalise("Ｊｏｈｎ") == "john"  # compatibility decomposition: full-width letters
    assert normalise(None) == ""
    assert normalise("  ") == ""


def test_normalise_keeps_other_scripts_as_letters():
    assert normalise("李小龍") == "李小龍"
    assert ascii_letters("李小龍") == "lixiaolong"


@pytest.mark.parametrize(
    "one, other",
    [
        ("राम", "रमा"),  # Ram, Rama: Devanagari spells its vowels with signs (marks)
        ("सनील", "सुनील"),
        ("สดา", "สุดา"),  # Thai
        ("かが", "かか"),  # kana voicing
        ("ਗੁਰਪ੍ਰੀਤ", "ਗਰਪਰਤ"),  # Gurmukhi (Gurpreet)
        ("ސަލީމް", "ސލމ"),  # Thaana (Dhivehi), coded before Devanagari
    ],
)
def test_vowel_signs_of_scripts_that_spell_with_them_are_kept(one, other):
    """Dropped as accents, they made different names one (`राम` Ram was linked automatically
    to an unlinked account of `रमा` Rama born the same day)."""
    assert normalise(one) != normalise(other)
    assert normalise(one) == normalise(one.upper()) and normalise(one)


def test_username_first_initial_surname_and_la():
    assert make_username("John", "Smith", "204", lambda u: False) == "jsmith.204"
    assert make_username("Zoë", "O'Brien-Smith", "204", lambda u: False) == "zobriensmith.204"
    assert make_username("Seán", "Nguyễn", "330", lambda u: False) == "snguyen.330"


def test_username_numbers_for_uniqueness():
    taken = {"jsmith.204", "jsmith2.204"}
    assert make_username("Jane", "Smith", "204", taken.__contains__) == "jsmith3.204"


def test_username_lowercase_ascii_only():
    name = make_username("ÉLODIE", "D'Arcy-Ó Súilleabháin", "204", lambda u: False)
    stem, la = name.split(".")
    assert la == "204"
    assert stem.isascii() and stem.isalpha() and stem.islower()


def test_very_long_surname_is_cut_but_unique():
    long = "Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh"
    u1 = make_username("Hubert", long, "204", lambda u: False)
    assert len(u1.split(".")[0]) == 21  # initial + 20 letters
    u2 = make_username("Hubert", long, "204", {u1}.__contains__)
    assert u2 != u1 and u2.startswith(u1.split(".")[0])


def test_forename_without_letters_uses_surname_only():
    assert username_stem("---", "Smith") == "smith"


def test_a_surname_no_transliteration_spells_gives_way_to_the_forename_then_to_user():
    # letters of a name all the same: a person is not refused an account for them
    assert username_stem("Kenji", "\u3005\u3005") == "kenji"
    assert username_stem("Kenji", "\u0294") == "kenji"
    assert username_stem("\u3005", "\u30fc") == "user"
    assert make_username("Kenji", "\u3005", "204", lambda u: u == "kenji.204") == "kenji2.204"


def test_hangul_fillers_are_no_letters():
    assert normalise("\u3164\u3164") == "" and normalise("Ann\u3164") == "ann"
    with pytest.raises(InvalidName, match="no letters"):
        username_stem("Amy", "\u3164\u3164")


@pytest.mark.parametrize(
    "forename,surname", [("!!!", "..."), ("", ""), (None, None), ("Ann", "'-")]
)
def test_names_without_letters_are_a_clear_error(forename, surname):
    with pytest.raises(InvalidName) as err:
        make_username(forename, surname, "204", lambda u: False)
    assert "no letters" in str(err.value)
