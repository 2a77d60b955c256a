"""Escape typed ahead (uso_tui.tui.terminal_input): Escape and the next key read from the
terminal in one go stay two keys; escape sequences and pasted text are left alone."""

from __future__ import annotations

import pytest
from textual import events

from uso_tui.tui.terminal_input import TypedAheadParser, split_escapes


def keys(*reads: str, parser_class=TypedAheadParser) -> list[str]:
    """The keys the terminal parser makes of these reads (each one read of the terminal), once
    the escape delay has passed."""
    import time

    parser = parser_class()
    out = []
    for data in reads:
        out += list(parser.feed(data))
    time.sleep(0.15)  # past the parser's escape delay (a lone escape waits that long)
    out += list(parser.tick())
    return [e.key if isinstance(e, events.Key) else type(e).__name__ for e in out]


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        ("\x1bu", ["escape", "u"]),  # was alt+u
        ("\x1b/", ["escape", "slash"]),  # was slash: the escape lost
        ("\x1b\r", ["escape", "enter"]),
        ("\x1b ", ["escape", "space"]),
        ("\x1bm\x1bu", ["escape", "m", "escape", "u"]),
        ("\x1b", ["escape"]),
        ("\x1b\x1b", ["escape", "escape"]),
        ("\x1b[A", ["up"]),  # an arrow key's sequence is left whole
        ("\x1bOB", ["down"]),
        ("j\x1b[B\x1bq", ["j", "down", "escape", "q"]),
        # a text field's word keys as macOS Terminal sends Option+Left, Option+Right and
        # Option+Backspace stay Alt keys (the console decides by the focus: see below)
        ("\x1bb", ["alt+b"]),
        ("\x1bf\x1bf", ["alt+f", "alt+f"]),  # (held down)
        ("\x1b\x7f", ["alt+backspace"]),
        ("\x1b\x7fq", ["alt+backspace", "q"]),
        # but ESC b or ESC f with more typed after it in one read is Escape typed ahead: `escape
        # f y` (leave a saved form, force a run) moved the cursor and typed the y in a field
        ("\x1bfy", ["escape", "f", "y"]),
        ("\x1bbq", ["escape", "b", "q"]),
        # a key Textual makes of ESC and one character stays its own
        ("\x1b\t", ["shift+tab"]),
        # ESC and a digit (Option+digit, which Textual reads as "¡"): Escape then the digit, a
        # tab of Bulk results typed after closing a question; the question stayed open and a
        # `y` typed next answered it
        ("\x1b1", ["escape", "1"]),
        ("\x1b7y", ["escape", "7", "y"]),
        ("\x1b-", ["escape", "minus"]),
    ],
)
def test_an_escape_read_with_the_next_key_is_two_keys(read, expected):
    assert keys(read) == expected


def test_textuals_own_parser_merges_them():
    """Why this exists: the same reads through Textual's parser alone."""
    from textual._xterm_parser import XTermParser

    assert keys("\x1bu", parser_class=XTermParser) == ["alt+u"]
    assert keys("\x1b/", parser_class=XTermParser) == ["slash"]


def test_pasted_text_and_sequences_split_across_reads_are_left_alone():
    pasted = "\x1b[200~a\x1bb\x1b[201~"
    assert split_escapes(pasted) == (pasted, False)
    # a paste over two reads: the second is still inside it
    first, pasting = split_escapes("\x1b[200~a\x1bb")
    assert (first, pasting) == ("\x1b[200~a\x1bb", True)
    assert split_escapes("c\x1bd\x1b[201~\x1be", pasting) == ("c\x1bd\x1b[201~\x1b[27ue", False)
    # an arrow key whose sequence is split across two reads stays one key
    assert keys("\x1b", "[A") == ["up"]


async def test_an_escape_that_ended_one_read_and_the_key_that_began_the_next_are_two_keys(demo):
    """Across two reads Textual's parser still makes alt+u of ESC and u: the console, binding no
    Alt key, takes it as escape then u (from a school's hub: back to the schools, then Users)."""
    from tui_helpers import settle, started

    async with started(demo.store, "school", demo.held_school) as (app, pilot):
        for key, char in (("alt+u", "u"), ("w", "w")):
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)  # noqa: SLF001 - as the terminal driver sends it
        await settle(pilot, 6)
        assert [type(s).__name__ for s in app.screen_stack[1:]] == [
            "SchoolsScreen",
            "UsersScreen",
            "WhyScreen",
        ]


def test_not_installed_where_textual_reads_no_kitty_keys(monkeypatch):
    import textual.drivers.linux_driver as linux_driver
    from textual import constants

    from uso_tui.tui import terminal_input

    monkeypatch.setattr(linux_driver, "XTermParser", linux_driver.XTermParser)  # restored after
    monkeypatch.setattr(constants, "DISABLE_KITTY_KEY", True)
    terminal_input.install()
    assert linux_driver.XTermParser is not TypedAheadParser
    monkeypatch.setattr(constants, "DISABLE_KITTY_KEY", False)
    terminal_input.install()
    assert linux_driver.XTermParser is TypedAheadParser


def test_word_keys_are_word_keys_in_a_text_field_and_escape_then_the_key_elsewhere():
    from uso_tui.tui.keys_in_turn import unmeta

    def names(key: str, in_text: bool) -> list[str]:
        return [k.key for k in unmeta(events.Key(key, None), in_text)]

    assert names("alt+b", True) == ["ctrl+left"]
    assert names("alt+f", True) == ["ctrl+right"]
    assert names("alt+backspace", True) == ["ctrl+w"]
    assert names("alt+b", False) == ["escape", "b"]
    assert names("alt+f", False) == ["escape", "f"]


async def test_escape_f_typed_at_once_goes_back_and_asks_to_force_run(demo):
    """ESC f read in one go from a school's run history: back to the schools list, whose `f`
    read with the escape acts on no school (the list had not shown again: it comes back on the
    school of the history), the console says so; pressed again, Force run (which asks first).
    In a text field the same bytes move a word."""
    from textual.widgets import Input
    from tui_helpers import settle, started

    from uso_tui.tui.force_ask import ForceRunAsk

    def send(app, key, char=None):
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)  # noqa: SLF001 - as the terminal driver sends it

    async with started(demo.store, "history", demo.held_school, notifications=True) as (
        app,
        pilot,
    ):
        send(app, "alt+f")
        await settle(pilot, 6)
        assert type(app.screen).__name__ == "SchoolsScreen"
        said = [n.message for n in app._notifications]  # noqa: SLF001
        assert any("the school at the cursor came there after them" in m for m in said), said
        await pilot.press("f")
        await settle(pilot, 6)
        assert isinstance(app.screen, ForceRunAsk) and app.screen.school.dfe == demo.held_school
    async with started(demo.store, "users") as (app, pilot):
        await pilot.press("slash")
        await settle(pilot)
        field = app.focused
        assert isinstance(field, Input)
        for char in "Anna Maria":
            send(app, "space" if char == " " else char, char)
        send(app, "alt+b")
        send(app, "X", "X")
        await settle(pilot, 4)
        assert field.value == "Anna XMaria"
