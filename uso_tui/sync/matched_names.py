"""Names as the matcher compares them: keys (normalised, then transliterated to ASCII letters),
the parts of double-barrelled names, sounds, the forms a forename is also known by (nicknames,
Welsh and other forms, "Oluwa-" names) and slips (names_close)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jellyfish
from anyascii import anyascii
from rapidfuzz.distance import OSA, JaroWinkler

from uso_tui.domain.names import normalise
from uso_tui.sync import name_forms

_SPLIT = re.compile(r"[-\s]+")
_nicknamer = None


@lru_cache(maxsize=500_000)
def key(name: str | None) -> str:
    """Comparison key: normalised, then transliterated to ASCII letters (`Nguyễn`, `Дмитрий`)."""
    normalised = normalise(name)
    if not normalised or normalised.isascii():
        return normalised
    ascii_ = "".join(c for c in anyascii(normalised).lower() if "a" <= c <= "z")
    return ascii_ or normalised


@lru_cache(maxsize=200_000)
def parts(name: str | None) -> tuple[str, ...]:
    """Keys of the parts of a hyphenated or double-barrelled name (`O'Brien-Smith` -> obrien, smith)."""
    if not name:
        return ()
    out = tuple(k for k in (key(p) for p in _SPLIT.split(name)) if k)
    return out


@lru_cache(maxsize=200_000)
def phonetic(name_key: str) -> str:
    return jellyfish.metaphone(name_key) if name_key else ""


def load_nicknames() -> Any:
    """The `nicknames` package's table, loaded at first need (60 ms: only when a case needs it,
    or before run_due forks its workers)."""
    global _nicknamer
    if _nicknamer is None:
        from nicknames import NickNamer  # noqa: PLC0415

        _nicknamer = NickNamer()
    return _nicknamer


@lru_cache(maxsize=50_000)
def nick_group(forename_key: str) -> frozenset[str]:
    """The forename key with its nicknames and the names it is short for (the `nicknames` package)."""
    if not forename_key:
        return frozenset()
    nicknamer = load_nicknames()
    return frozenset(
        {forename_key}
        | nicknamer.nicknames_of(forename_key)
        | nicknamer.canonicals_of(forename_key)
    )


def forename_keys(forename: str | None, preferred: str | None) -> tuple[str, ...]:
    """Keys a person answers to: forename, its first part (`Mary Jane`), preferred name."""
    out: list[str] = []
    for name_key in (key(forename), *parts(forename)[:1], key(preferred)):
        if name_key and name_key not in out:
            out.append(name_key)
    return tuple(out)


# Forms of a name the nicknames package does not know (Welsh, and short forms from other
# languages): the same person in either.
_FORMS: dict[str, frozenset[str]] = {}
for _one, _other in name_forms.PAIRS:
    _FORMS[key(_one)] = _FORMS.get(key(_one), frozenset()) | {key(_other)}
    _FORMS[key(_other)] = _FORMS.get(key(_other), frozenset()) | {key(_one)}
# Yoruba names in "Oluwa-" (God) are often used without it: Oluwaseun is known as Seun.
_OLUWA = "oluwa"


@lru_cache(maxsize=200_000)
def aliases(names: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for name_key in names:
        out |= nick_group(name_key)
        out |= _FORMS.get(name_key, frozenset())
        if name_key.startswith(_OLUWA) and len(name_key) > len(_OLUWA) + 2:
            out.add(name_key[len(_OLUWA) :])
    return frozenset(out)


def known_as(name_key: str) -> frozenset[str]:
    """The keys of the forms a normalised forename is also known by (nicknames, the names it is
    short for, Welsh and other forms), itself left out."""
    return aliases((name_key,)) - {name_key}


# Muhammad, however spelt, and its short forms: a name a family may give every son (twins
# Ayaan Mohammed and Mohammed Hamza), and one a person may be held without (Muhammad Ali as Ali).
_MUHAMMAD = "muhammad"
_MUHAMMAD_SHORT = frozenset({"mohd", "md"})


def is_muhammad(name_key: str) -> bool:
    return name_key in _MUHAMMAD_SHORT or names_close(name_key, _MUHAMMAD)


@lru_cache(maxsize=500_000)
def names_close(name: str, other: str) -> bool:
    """A slip: the same sound (Amy / Amie), one edit, Jaro-Winkler's kind of nearness, or
    letters a scanned form confuses (Arnina / Amina). (Two endings of one stem are not: Alice
    and Alicia would be, but so would Julius and Juliet, Martin and Martha.) A name of two
    letters is close only to itself with a letter added (Jo / Joe, Al / Ali): the looser tests
    find every short name near another (Li / Lu, Mo / Mia: twins' names)."""
    shorter = min(len(name), len(other))
    if shorter < 2:
        return False
    if shorter == 2:
        return abs(len(name) - len(other)) == 1 and (
            name.startswith(other) or other.startswith(name)
        )
    return (
        (name.startswith(other) or other.startswith(name))
        or ((sound := phonetic(name)) != "" and sound == phonetic(other))  # (none: not Latin)
        or OSA.distance(name, other, score_cutoff=1) <= 1
        or JaroWinkler.normalized_similarity(name, other) >= 0.92
        or _as_scanned(name) == _as_scanned(other)
    )


def near_keys(name_key: str) -> tuple[str, ...]:
    """The keys a name is looked up by among names it may be a slip of (names_close): its
    initial and its sound (distinct keys: a letter in lower case, a sound in capitals)."""
    return (name_key[:1], phonetic(name_key))


# Letter groups a form read by a scanner (or keyed from a poor copy) takes for one another.
_SCANNED = (("rn", "m"), ("cl", "d"), ("vv", "w"))


def _as_scanned(name: str) -> str:
    for group, letter in _SCANNED:
        name = name.replace(group, letter)
    return name
