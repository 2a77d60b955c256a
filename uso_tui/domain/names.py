"""Name normalisation and username generation (DESIGN section 3)."""

from __future__ import annotations

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
    and `Paweł` `pawel` (_LATIN_FOLDS). Other scripts keep their letters (`Дмитрий`).
    """
    if not name:
        return ""
    decomposed = unicodedata.normalize("NFKD", name)
    # casefold after dropping marks: casefold can itself produce letters with marks (e.g. "İ").
    no_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = unicodedata.normalize("NFKD", no_marks.casefold())
    letters = "".join(
        c for c in folded if c.isalpha() and not unicodedata.combining(c) and c not in BLANK_LETTERS
    )
    return letters if letters.isascii() else letters.translate(_LATIN_FOLDS)


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


def upn_key(upn: object) -> str:
    """A UPN as compared: without any space (`F 1234 5678 9012`, a slip of keying or of the
    MIS's formatting, is `F123456789012`), upper-cased; "" for none."""
    return "" if upn is None else "".join(str(upn).split()).upper()
