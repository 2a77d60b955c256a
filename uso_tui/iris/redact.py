"""The secret and the token kept out of what a server says back (DESIGN section 8).

A server that answers an error may echo what it was sent, in whatever form its framework writes:
form- or URL-encoded, JSON-escaped (`\\/`, `\\u0053`), HTML-escaped (`&amp;`), base64 (an HTTP
Basic header), in capitals, or broken over lines. Its words are read here in their plain form
(unescaped), each secret blanked however its case is written, and a message that still holds a
secret once its spaces are taken out is not shown at all.
"""

from __future__ import annotations

import base64
import html
import re
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


def _plain(text: str) -> str:
    """`text` unescaped as JSON (\\uXXXX, \\/) and HTML (&amp;, &#47;) write it."""
    text = _JSON_ESCAPE.sub(lambda m: m.group(2) or chr(int(m.group(1), 16)), text)
    return html.unescape(text)


def _forms(secret: str, client_id: str | None) -> set[str]:
    """The forms of a secret a server may echo (each blanked whatever its case)."""
    forms = {secret, quote_plus(secret), quote(secret, safe="")}
    raw = secret.encode()
    pairs = [raw] + ([f"{client_id}:{secret}".encode()] if client_id else [])
    for value in pairs:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(value).decode()
            forms.update((encoded, encoded.rstrip("=")))
    return {f for f in forms if f}


def blank_secrets(text: str, secrets: list[str | None], client_id: str | None = None) -> str:
    """`text` (a server's words) with each secret blanked in the forms a server echoes it in;
    WITHHELD if a secret can still be read in it."""
    text = _plain(text)
    for secret in filter(None, secrets):
        for form in sorted(_forms(secret, client_id), key=len, reverse=True):
            text = re.sub(re.escape(form), BLANK, text, flags=re.I)
    text = _CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}{BLANK}", text)
    text = _ECHOED_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{BLANK}", text)
    squashed = ["".join(t.split()).casefold() for t in (text, unquote_plus(text))]
    for secret in filter(None, secrets):
        key = "".join(secret.split()).casefold()
        if len(key) >= 6 and any(key in t for t in squashed):
            return WITHHELD
    return text
