"""Escape typed ahead: a terminal sends Alt+x as ESC then x, so Escape and the next key read from
the terminal in one go (typed ahead while the console was busy, the pty holding both; or over a
slow SSH link) were one key to Textual's parser: `escape` `u` became alt+u, and `escape` `/`,
`escape` enter or `escape` space lost the escape. The console binds no Alt key: here ESC followed,
in the same read, by a character that starts no escape sequence and makes no key of its own with
it (see KNOWN; ESC b, ESC f and ESC backspace, a text field's word keys, see ALT_KEYS, unless
ESC b or ESC f is followed by more in the same read) is read as Escape, then that character. (An ESC
at the end of one read and a key at the start of the next are still one key, as Textual has it:
a sequence split across reads must stay whole.)"""

from __future__ import annotations

from collections.abc import Iterable

import textual.drivers.linux_driver as linux_driver
from textual import constants
from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual._xterm_parser import XTermParser

ESC = "\x1b"
# The Escape key as the kitty keyboard protocol writes it, which Textual's parser reads as escape.
ESCAPE_KEY = "\x1b[27u"
# What may follow ESC to begin an escape sequence (CSI, SS3, OSC, DCS, APC, ST, PM, SOS) or a
# second escape: left to the parser.
INTRODUCERS = frozenset("[O]P_\\^X" + ESC)
# ESC and a character that Textual reads as a key of its own (not a character): left to it.
# Among them the word keys of a text field as macOS Terminal sends Option+Left, Option+Right and
# Option+Backspace (ESC b, ESC f, ESC DEL: ctrl+left, ctrl+right, ctrl+w). Those it reads as a
# character (ESC 7 as "¶": Option+digit with Option as Meta) are Escape then the key here: the
# console's keys after an escape are digits too (a Bulk results tab), and no name needs "¶".
KNOWN = frozenset(
    seq[1]
    for seq, key in ANSI_SEQUENCES_KEYS.items()
    if len(seq) == 2 and seq[0] == ESC and isinstance(key, tuple)  # keys; a str is a character
)
# Of those, the word keys are written as the Alt keys they are (the kitty protocol's alt+b, alt+f,
# alt+backspace, which Textual reads): the console decides by the focus whether they are a text
# field's word keys or Escape then b, f or backspace (keys_in_turn.unmeta).
ALT_KEYS = {"b": "\x1b[98;3u", "f": "\x1b[102;3u", "\x7f": "\x1b[127;3u"}
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def split_escapes(data: str, pasting: bool = False) -> tuple[str, bool]:
    """`data` with each ESC that is a key of its own written as ESCAPE_KEY, and whether a
    bracketed paste is still open at its end (pasted text is left as pasted)."""
    if ESC not in data:
        return data, pasting
    out: list[str] = []
    i, end = 0, len(data)
    while i < end:
        at = data.find(ESC, i)
        if at < 0:
            out.append(data[i:])
            break
        out.append(data[i:at])
        if data.startswith(PASTE_START, at):
            pasting, i = True, at + len(PASTE_START)
            out.append(PASTE_START)
        elif data.startswith(PASTE_END, at):
            pasting, i = False, at + len(PASTE_END)
            out.append(PASTE_END)
        else:
            after = data[at + 1] if at + 1 < end else ""
            # A word key ends its read (or comes again: held down); ESC b or ESC f with more
            # typed after it in the same read is Escape typed ahead, then the letter (`escape f
            # y` to leave a form and force a run moved the cursor and typed the y in a field).
            then = data[at + 2] if at + 2 < end else ESC
            if not pasting and after in ALT_KEYS:
                if after == "\x7f" or then == ESC:
                    out.append(ALT_KEYS[after])
                    i = at + 2
                else:
                    out.append(ESCAPE_KEY)
                    i = at + 1
                continue
            alone = not pasting and after and after not in INTRODUCERS and after not in KNOWN
            out.append(ESCAPE_KEY if alone else ESC)
            i = at + 1
    return "".join(out), pasting


class TypedAheadParser(XTermParser):
    """Textual's terminal parser, given each read with its lone escapes made plain."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pasting = False

    def feed(self, data: str) -> Iterable:
        data, self._pasting = split_escapes(data, self._pasting)
        return super().feed(data)


def install() -> None:
    """Make the terminal driver read keys with TypedAheadParser (before the console runs; it
    builds its parser as its input thread starts). Not when Textual is told to read no kitty
    keys (TEXTUAL_DISABLE_KITTY_KEY): ESCAPE_KEY would then be read as four keys."""
    if not constants.DISABLE_KITTY_KEY:
        linux_driver.XTermParser = TypedAheadParser  # type: ignore[misc]
