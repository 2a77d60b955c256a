"""Name normalisation and username generation (DESIGN section 3)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from anyascii import anyascii

from uso_tui.domain.errors import InvalidName

# Usernames stay readable in a login box; a 40-letter surname is cut, the number keeps it unique.
MAX_SURNAME_IN_USERNAME = 20


# Latin letters whose accent is not a separate mark (Unicode gives them no decomposition), as
# the letters a keyboard without them types: `Paweł` is keyed `Pawel`, `Søren` `Soren`. The
# normalised names are the keys of the store's indexes: a change here must rebuild them (a
# schema step, see store.tinystore).
_LATIN_FOLDS = str.maketrans(
    {
        "æ": "ae",
        "ð": "d",
        "đ": "d",
        "ɗ": "d",
        "ø": "o",
        "ɔ": "o",
        "þ": "th",
        "ħ": "h",
        "ı": "i",
        "ł": "l",
        "ŋ": "ng",
        "œ": "oe",
        "ŧ": "t",
        "ƒ": "f",
        "ɓ": "b",
        "ƙ": "k",
        "ƴ": "y",
        "ɛ": "e",
        "ə": "e",
        "ǝ": "e",
        "ɲ": "n",
        "ȷ": "j",
        "ʼ": None,  # apostrophes that Unicode counts as letters (`OʼBrien`, `Oʻzbek`)
        "ʻ": None,
    }
)


# Hangul fillers: letters to Unicode, blank on every screen (a name of them is no name)
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def normalise(name: str | None) -> str:
    """Compatibility-decompose, drop accents, case-fold, keep letters only.

    `O'Brien-Smith`, `obrien smith` and `OBRIEN-SMITH` all give `obriensmith`; `Zoë` gives `zoe`,
    and `Paweł` `pawel` (_LATIN_FOLDS). Other scripts keep their letters (`Дмитрий`), and the
    vowel signs and marks that spell them where a name is not written without them (_spelling:
    `राम` Ram and `रमा` Rama, `สุดา` and `สดา`, `かが` and `かか` are different names).
    """
    if not name:
        return ""
    if name.isascii():  # most names: no marks, no folds
        return "".join(c for c in name.lower() if c.isalpha())
    # marks dropped before casefold (it makes Greek's iota subscript a letter) and after it (it
    # can itself make letters with marks: "İ" -> "i̇")
    kept = _marks_kept(unicodedata.normalize("NFKD", name), letters_only=False)
    folded = unicodedata.normalize("NFKD", kept.casefold())
    letters = _marks_kept(folded, letters_only=True)
    return letters if letters.isascii() else letters.translate(_LATIN_FOLDS)


def as_marked(name: str | None) -> str:
    """A name's letters with their accents (decomposed, case-folded), for a name keyed with any
    letter outside ASCII; "" for a plain one. Two names keyed with accents on both sides whose
    accents differ (Vietnamese Hà and Hạ, Zoë and Zoé) may be two people though they normalise
    alike; one keyed plain (Jose for José) says nothing either way."""
    if not name or name.isascii():
        return ""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKD", name).casefold())
    # Turkish capitals: İ folds to i and a dot above, and I to i where the name has ı, so ŞİMŞEK
    # and Şimşek differed by their case alone
    folded = folded.replace("\u0307", "").replace("ı", "i")
    if not any(unicodedata.combining(c) for c in folded):
        return ""  # no accent: non-ASCII for its punctuation (O’Brien), or capitals written bare
    return "".join(c for c in folded if c.isalpha() or unicodedata.combining(c))


def _marks_kept(text: str, letters_only: bool) -> str:
    """`text` (decomposed) without the marks that are accents (_spelling), nor variation
    selectors; `letters_only`: nothing but letters and the marks kept."""
    out: list[str] = []
    spelling = False  # the marks after the last letter are part of its spelling
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c)[0] == "M":
            if spelling and not _VARIATION.match(c):
                out.append(c)
        elif c.isalpha() and c not in BLANK_LETTERS:
            out.append(c)
            spelling = _spelling(ord(c))
        else:
            spelling = False
            if not letters_only:
                out.append(c)
    return "".join(out)


def _spelling(code: int) -> bool:
    """Whether marks after this letter spell (vowels, voicing: Thaana, then the scripts from
    Devanagari on, Indic, Thai, Tibetan, Myanmar, Khmer, kana...) rather than accent or point
    it as a keyboard or an MIS often leaves out (Latin, Greek, Cyrillic, Hebrew, Arabic, and the
    Latin, Greek and Arabic forms coded past Devanagari)."""
    if code < 0x0900:
        return 0x0780 <= code <= 0x07BF
    return not any(low <= code <= high for low, high in _ACCENTED)


_ACCENTED = ((0x1E00, 0x1FFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF), (0xFB00, 0xFEFF))
# variation selectors: a glyph's variant (葛󠄀 for 葛), never a letter's spelling
_VARIATION = re.compile("[\u180b-\u180d\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def words_joined(text: str) -> list[str]:
    """`text` with two neighbouring words made one, each way in turn ("mc donald" as
    "mcdonald", "de souza" as "desouza"): a name the MIS keys as one word, typed apart. Only
    for two to four words without digits (a date or a username is not a name typed apart)."""
    words = text.split()
    if not 2 <= len(words) <= 4 or any(c.isdigit() for c in text):
        return []
    return [
        " ".join([*words[:at], words[at] + words[at + 1], *words[at + 2 :]])
        for at in range(len(words) - 1)
    ]


def initial_of(forename: str | None) -> str:
    """The forename when it is one Latin letter keyed as an initial (`M`, `M.`), lower-cased;
    "" otherwise: a one-letter name of its own (Vietnamese Ý, Chinese 娥) is a whole name."""
    text = (forename or "").strip().rstrip(".").strip()
    return text.lower() if len(text) == 1 and text.isascii() and text.isalpha() else ""


def initials_of(forename: str | None) -> str:
    """The letters of a forename that may be initials, lower-cased: one letter (initial_of),
    several each alone (`J P`, `J.P.`, `J-P`), or two or three letters run together in capitals
    or without a vowel (`JP`, `AJ`, `jp`); "" for a name (`Jo`, `Ty`, `Amy`). (`ED` or `AL` in
    an export of capitals may be either: auto_link asks only when a record could be theirs.)"""
    text = (forename or "").strip()
    parts = [part for part in re.split(r"[.\s\-]+", text) if part]
    if not parts or not all(part.isascii() and part.isalpha() for part in parts):
        return ""
    if all(len(part) == 1 for part in parts):
        return "".join(parts).lower()
    (word,) = parts if len(parts) == 1 else ("",)
    if 2 <= len(word) <= 3 and (word.isupper() or not set(word.lower()) & set("aeiouy")):
        return word.lower()
    return ""


# A gender as MIS exports write it, to "m" or "f"; any other (U, Unknown, X, Other, Not Known)
# says nothing: not the other sex (a twin's claim dropped for it), nor a conflict with an account
_GENDERS = dict.fromkeys(("m", "male", "boy", "man", "masc", "masculine"), "m") | dict.fromkeys(
    ("f", "female", "girl", "woman", "fem", "feminine"), "f"
)


@lru_cache(maxsize=256)
def gender_key(value: str | None) -> str:
    """ "m", "f", or "" for a gender not said (blank, U, Unknown, X, Other, Not Known...)."""
    return _GENDERS.get(normalise(value), "") if value else ""


def genders_apart(one: str | None, other: str | None) -> bool:
    """A boy's and a girl's (gender_key): a gender not said is apart from neither."""
    return {gender_key(one), gender_key(other)} == {"m", "f"}


# Names repeat a great deal across an estate (indexes, matching, the export comparison):
# normalising each distinct one once saves most of the cost.
normalise_cached = lru_cache(maxsize=65_536)(normalise)


def ascii_letters(name: str | None) -> str:
    """Lower-case ASCII letters only, transliterating other scripts (`Nguyễn` -> `nguyen`)."""
    if not name:
        return ""
    return "".join(c for c in anyascii(normalise(name)).lower() if "a" <= c <= "z")


def username_stem(forename: str | None, surname: str | None) -> str:
    """First initial and surname in ASCII letters, e.g. `jsmith`. Raises InvalidName for a
    surname with no letters. A surname whose letters no transliteration spells (a rare
    character: `々`, `ʔ`) gives way to the forename, else to `user`: a person is not refused an
    account for the letters of their name."""
    first = ascii_letters(forename)
    last = ascii_letters(surname)[:MAX_SURNAME_IN_USERNAME]
    if last:
        return (first[:1] + last) if first else last
    if not normalise(surname):
        if not normalise(forename):
            raise InvalidName(
                f"cannot make a username: forename {forename!r} and surname {surname!r} "
                "contain no letters"
            )
        raise InvalidName(f"cannot make a username: surname {surname!r} contains no letters")
    return first[:MAX_SURNAME_IN_USERNAME] or "user"


def make_username(
    forename: str | None, surname: str | None, la_code: str, taken: Callable[[str], bool]
) -> str:
    """`jsmith.204`, then `jsmith2.204`, `jsmith3.204`, ... the first that `taken` says is free."""
    stem = username_stem(forename, surname)
    number = 1
    while True:
        candidate = f"{stem}{number if number > 1 else ''}.{la_code}"
        if not taken(candidate):
            return candidate
        number += 1


_NOT_IN_UPN = re.compile(r"[\W_]+")  # a UPN is letters and digits only


def upn_key(upn: object) -> str:
    """A UPN as compared: its letters and digits only (`F 1234 5678 9012` or `F123-4567-8901-2`,
    a slip of keying or of the MIS's formatting, is `F123456789012`: with the hyphens kept the
    same child was two, and a mover got a second account), upper-cased; "" for none. (Stored
    index lines hold it: schemas 9 and 10 rekeyed those written before, store/rekey.py.)"""
    if upn is None:
        return ""
    # (full-width letters and digits, as some exports and copied forms hold them, are the
    # same UPN: NFKC makes them ASCII before anything else is dropped)
    return _NOT_IN_UPN.sub("", unicodedata.normalize("NFKC", str(upn))).upper()


def permanent_upn(key: str) -> bool:
    """Whether a UPN (as upn_key gives it) is a permanent one, which follows one child: a
    temporary UPN ends in a letter and says nothing about who the child is, nor does a filler
    (filler_upn)."""
    return bool(key) and not key[-1].isalpha() and not filler_upn(key)


def upn_given(upn: object) -> str:
    """A UPN as compared (upn_key), "" for none or a filler (keyed for no one: no UPN)."""
    if not upn:
        return ""
    value = str(upn)
    key = value.upper() if value.isascii() and value.isalnum() else upn_key(value)  # (quickly)
    return "" if filler_upn(key) else key


def filler_upn(key: str) -> bool:
    """Whether a UPN (as upn_key gives it) is a filler keyed where none is known: zeros, after
    a letter or not (`A000000000000`, `000000000000`; the DfE's check letter of twelve zeros is
    A, so it passes). Taken for a child's, it was a conflict with the real UPN of the same
    child's account elsewhere, and a mover got a second account."""
    body = key[1:] if key[:1].isalpha() else key
    return not body.strip("0")
