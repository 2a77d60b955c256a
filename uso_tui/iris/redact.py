"""The secret and the token kept out of what a server says back (DESIGN section 8).

A server that answers an error may echo what it was sent, in whatever form its framework writes:
form- or URL-encoded (once or more), JSON-escaped (`\\/`, `\\u0053`), HTML-escaped (`&amp;`),
base64 (an HTTP Basic or Bearer header) or hex, in capitals, or broken over lines or by dots.
Its words are read here in their plain form (unescaped), each secret blanked however its case is
written, and a message in which a secret, or eight of its characters in a row, can still be read
(its runs of base64 or hex decoded, URL-decoded again, with only its letters and digits kept) is
not shown at all.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import html
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

BLANK = "***"
WITHHELD = "(IRIS's words are not shown: they hold the secret)"

# A form field or header echoed back (`client_secret=...`, `Authorization: Basic ...`): its value
# blanked whatever it holds.
_ECHOED_FIELD = re.compile(
    r"(client_secret|access_token|refresh_token|password)(\W{1,4})[^\s&\"',;<]+", re.I
)
# a credential after the scheme's name: 16 characters or more, with a digit or a capital past
# the first (not the words of "Bearer authentication is required")
_CREDENTIALS = re.compile(
    r"\b((?i:basic|bearer))(\s+)(?=[A-Za-z0-9+/=._~-]{16,})(?=.[^\s]*[0-9A-Z+/=])[A-Za-z0-9+/=._~-]+"
)
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(/)")
# runs a server may have encoded a secret into
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_TAG = re.compile(r"<[^<>]{0,200}>")


def _plain(text: str) -> str:
    """`text` unescaped as JSON (\\uXXXX, \\/) and HTML (&amp;, &#47;) write it."""
    text = _JSON_ESCAPE.sub(lambda m: m.group(2) or chr(int(m.group(1), 16)), text)
    return html.unescape(text)


def _forms(secret: str, client_id: str | None) -> set[str]:
    """The forms of a secret a server may echo (each blanked whatever its case)."""
    once = quote(secret, safe="")
    forms = {secret, quote_plus(secret), once, quote(once, safe=""), secret.encode().hex()}
    raw = secret.encode()
    pairs = [raw, f"Bearer {secret}".encode()]
    if client_id:
        pairs.append(f"{client_id}:{secret}".encode())
    for value in pairs:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(value).decode()
            forms.update((encoded, encoded.rstrip("=")))
    return {f for f in forms if f}


def blank_secrets(
    text: str, secrets: list[str | None], client_id: str | None = None, cut: bool = False
) -> str:
    """`text` (a server's words) with each secret blanked in the forms a server echoes it in;
    WITHHELD if a secret, or a run of PART of its characters, can still be read in it. `cut`:
    the text is the start of longer words, so its end may hold the start of a secret, which no
    form matches: as many characters as the longest form are dropped there."""
    text = _plain(text)
    longest = 0
    for secret in filter(None, secrets):
        forms = sorted(_forms(secret, client_id), key=len, reverse=True)
        longest = max(longest, len(forms[0]))
        for form in forms:
            text = re.sub(re.escape(form), BLANK, text, flags=re.I)
    if cut:
        # a longer start of a secret (or of its encoded form) is read by the checks below
        text = text[: max(0, len(text) - min(longest, TAIL))]
    text = _CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}{BLANK}", text)
    text = _ECHOED_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{BLANK}", text)
    readings = _readings(text)
    squashed = ["".join(t.split()).casefold() for t in readings]
    alnum = [_alnum(t) for t in readings]
    for secret in filter(None, secrets):
        key = "".join(secret.split()).casefold()
        if len(key) >= 6 and any(key in t for t in squashed):
            return WITHHELD
        if _part_of(key, squashed):
            return WITHHELD
        key = _alnum(secret)
        if len(key) >= 8 and any(key in t for t in alnum):
            return WITHHELD
        if _part_of(key, alnum):
            return WITHHELD
    return text


# The most characters a cut start of a secret may take at the end of the words read and be read
# by none of the checks (under PART of it plain, under 16 of base64, 8 bytes of hex, or URL-encoded
# twice): dropped there. Not the longest form's length: a long token's is thousands.
TAIL = 72

# A run of this many of a secret's characters echoed (the secret less a character, or broken in
# two halves by other words) tells too much of it: the words are not shown. Shorter secrets are
# matched whole only.
PART = 8


def _part_of(key: str, texts: list[str]) -> bool:
    if len(key) <= PART:
        return False
    # each PART-long run of the texts looked up among the key's (a token of thousands of
    # characters searched run by run through every reading took seconds per error answer)
    parts = {key[i : i + PART] for i in range(len(key) - PART + 1)}
    return any(text[i : i + PART] in parts for text in texts for i in range(len(text) - PART + 1))


def _alnum(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _readings(text: str) -> list[str]:
    """`text` as a program could read it back: URL-decoded (as often as that changes it, up to
    eight times), and each run of base64 or hex in it decoded, also once its spaces are taken
    out (base64 wrapped at 76 columns, a header broken over lines) and from each of the first
    four characters of a run (a word run into it), and with its HTML tags taken out."""
    out = [text]
    for _ in range(8):
        again = unquote_plus(out[-1])
        if again == out[-1]:
            break
        out.append(again)
    # an HTML page's words with its tags taken out (`s3cr3t-<i>Hostile<i>-0123`)
    out += [bare for r in list(out) if "<" in r and (bare := _TAG.sub("", r)) != r]
    squashed = "".join(text.split())
    for run in {*_BASE64_RUN.findall(text), *_BASE64_RUN.findall(squashed)}:
        for start in range(4):
            part = run[start:].rstrip("=")
            padded = part + "=" * (-len(part) % 4)
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    out.append(decode(padded).decode("utf-8", "ignore"))
    for source in (text, squashed):
        out.extend(bytes.fromhex(r).decode("utf-8", "ignore") for r in _HEX_RUN.findall(source))
    # full-width or otherwise compatible letters (ＳＥＣＲＥＴ), rot13, and the words backwards
    out += [folded for r in list(out) if (folded := unicodedata.normalize("NFKC", r)) != r]
    out += [codecs.encode(r, "rot13") for r in list(out)]
    out += [r[::-1] for r in list(out)]
    return out


# A secret shorter than this may be part of a name by chance (IRIS issues long ones)
RECORD_SECRET_MIN = 8


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _record_needles(secret: str) -> set[str]:
    """What of the secret a record's words must not hold, in lower case. Half the secret in a
    row (at least PART characters) tells too much of it: the secret less a character, or
    backwards, or with its separators taken out, or its base64 or hex as a whole value spells
    it. Halves are taken at its start, middle and end (a page is looked through once for each),
    so that one character changed leaves one whole."""
    key = secret.lower()
    run = max(PART, len(key) // 2)
    needles = {key}
    for text in {key, key[::-1], _alnum(key)}:
        if len(text) >= run:
            needles |= {text[i : i + run] for i in {0, (len(text) - run) // 2, len(text) - run}}
    raw = secret.encode()
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()):
        needles.add(encoded.decode()[: run * 4 // 3].lower())
    return needles


def parsed_hold_secret(records: Iterable[Any], secret: str) -> bool:
    """Whether parsed records (dataclasses of text fields) hold the client secret, or most of
    it, in their letters and digits, each record's fields read together, NFKC-folded: what a
    page's bytes did not show when characters that parsing drops (zero-width spaces, soft
    hyphens, a terminal's escapes) or folds (full-width letters) broke it up, or the server
    spread it over a record's fields. Called for the pages where parsing altered a text."""
    if len(secret) < RECORD_SECRET_MIN:
        return False
    needles = {n for n in map(_alnum, _record_needles(secret)) if len(n) >= PART}
    for record in records:
        words = " ".join(v for f in fields(record) if isinstance(v := getattr(record, f.name), str))
        words = _alnum(unicodedata.normalize("NFKC", words))
        if any(needle in words for needle in needles):
            return True
    return False


def records_hold_secret(
    content: bytes, records: list[Any], secret: str, token: str | None = None
) -> bool:
    """Whether a page's records hold the client secret, or most of it, in any case (a server
    that sends it back as a pupil's name: shown on every screen, kept in the account and its
    exports), or the access `token` whole. Its bytes are looked through for each of
    _record_needles; the records' own strings only where the page escapes characters
    (`\\u0073` spells an s)."""
    low = content.lower()
    if token and len(token) >= RECORD_SECRET_MIN and token.lower().encode() in low:
        return True
    if len(secret) < RECORD_SECRET_MIN:
        return False
    needles = _record_needles(secret)
    if any(needle.encode() in low for needle in needles):
        return True
    if b"\\" not in content:
        return False
    return any(needle in text.lower() for text in _strings(records) for needle in needles)
