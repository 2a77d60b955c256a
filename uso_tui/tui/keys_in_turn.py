"""Keys typed ahead take effect in turn: the next key is handled only once the previous one has.

Textual forwards each key to the focused widget the moment it is read, while the binding it triggers
runs later (when the key bubbles back to the app) and moves focus later still (`Widget.focus` is a
`call_later`; a pushed screen mounts in its own task). Keys read in one burst (SSH lag, typing ahead)
therefore all reach the old focus: `/` then `meadow` opened the matching queue (`m`), Tab then a
secret typed into the field before. The app here holds each key read from the terminal until the
previous one has travelled its whole path (focused widget, its ancestors, the app), and until the
screen and focus it leads to have settled. A key whose effect comes from a thread (a read before
a question is asked, a decision saved before the list or the next case is shown, a search's hits)
holds the next keys until its screen says that effect is there (`hold_keys`, `HoldsKeys`): `m`
then `y` confirms the match asked about. A screen may still refuse a key read before what it
acts on showed (read_before: the matching queue decides only a case the operator could see).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from functools import partial

from textual import events
from textual._time import get_time as event_time  # (what stamps an event's time)
from textual.app import App
from textual.dom import DOMNode
from textual.timer import Timer
from textual.widgets import Input

SETTLE_ROUNDS = (
    6  # a key that keeps moving focus or screens past this many rounds releases the next
)
SETTLE_TIMEOUT = (
    1.0  # seconds: a key whose path closed under it (a popped screen) never blocks typing
)
# seconds the keys after a key that holds them (hold_keys) wait at most: past it (a read or a save
# in a thread that takes longer) they are dropped, and the operator told, rather than sent to a
# screen still showing what they were not typed for (the rows before a reload, the last search's
# hits)
HOLD_TIMEOUT = 5.0
BUSY_POLL = 0.01  # seconds between looks at a screen that is busy (KeysInTurnApp.busy)
# A refused key's notice waits this long, to count the keys read with it (refuse_keys_read_until_now)
REFUSED_SAID_AFTER = 0.1


# Alt keys that are a text field's word keys (as macOS Terminal sends Option+Left, Option+Right
# and Option+Backspace): in a text field the keys Textual's input binds for them, elsewhere the
# Escape and the key they were typed as (terminal_input.ALT_KEYS).
WORD_KEYS = {
    "alt+b": ("ctrl+left", "b", "b"),
    "alt+f": ("ctrl+right", "f", "f"),
    "alt+backspace": ("ctrl+w", "backspace", "\x7f"),
}


def unmeta(key: events.Key, in_text: bool = False) -> list[events.Key]:
    """_unmeta's keys, each stamped with the time `key` was read (see read_before)."""
    keys = _unmeta(key, in_text)
    for each in keys:
        each.time = key.time
    return keys


def _unmeta(key: events.Key, in_text: bool = False) -> list[events.Key]:
    """alt+x as the escape and the x it was typed as: a terminal sends Alt+x as ESC x, which is
    also Escape then x read in one go (typed ahead), and the console binds no Alt key (but
    WORD_KEYS in a text field, `in_text`). (Most such reads never get here: terminal_input
    splits them; this takes an ESC that ended one read with the key that began the next.)"""
    name, char = key.key, key.character
    word = WORD_KEYS.get(name)
    if word is not None:
        as_word, plain, typed = word
        if in_text:
            return [events.Key(as_word, None)]
        return [events.Key("escape", "\x1b"), events.Key(plain, typed)]
    if not name.startswith("alt+") or char is None or len(char) != 1 or not char.isprintable():
        return [key]
    rest = name.removeprefix("alt+")
    if rest.startswith("shift+") and len(rest) == len("shift+") + 1:
        rest = char  # an upper-case letter is named as itself
    if len(rest) != 1:
        return [key]
    return [events.Key("escape", "\x1b"), events.Key(rest, char)]


def _said_of(dropped, this_key: bool = False) -> str:
    """`3 key(s) typed ahead were dropped`, `2 key(s) and a paste ...`, of the keys and pastes
    `dropped` (and the key being handled, `this_key`); "" for none. A paste is said apart: it is
    pasted again, not typed."""
    pastes = sum(isinstance(item, events.Paste) for item in dropped)
    keys = len(dropped) - pastes + this_key
    said = [f"{keys} key(s)"] if keys else []
    said += ["a paste" if pastes == 1 else f"{pastes} pastes"] if pastes else []
    if not said:
        return ""
    verb = "was" if keys + pastes == 1 and pastes else "were"
    return f"{' and '.join(said)} typed ahead {verb} dropped"


class KeysInTurnApp(App):
    """An App that handles the keys read from the terminal one at a time (see the module's doc)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held_keys: deque[events.Key | events.Paste] = deque()  # (pastes wait in turn)
        self._key_turn = 0  # the turn of the key in flight, 0 when none
        self._key_read_at = 0.0  # when the key in flight was read from the terminal (its time)
        self._turns = 0
        self._turn_timer: Timer | None = None
        self._holds: dict[int, int] = {}  # turn -> holds not yet released (hold_keys)
        self._busy_turn = 0  # the turn whose wait for a busy screen was lengthened (busy)
        # keys read before this moment (an event time) are dropped: refuse_keys_read_until_now
        self._refused_until = 0.0
        self._refused_keys: list[events.Key | events.Paste] = []
        self._refused_why: tuple[str, str] = ("", "")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            for key in unmeta(event, isinstance(self.focused, Input)):
                await self._in_turn(key)
            return
        if isinstance(event, events.Paste) and not event.is_forwarded:
            # a paste read with keys typed ahead (Tab, then the secret pasted) is text for the
            # field those keys lead to: it waits its turn like a key, else it lands in the field
            # focused when it is read (the secret pasted in plain text into the school's name)
            await self._in_turn(event)
            return
        await super().on_event(event)

    async def _in_turn(self, item: events.Key | events.Paste) -> None:
        """A key or a paste read from the terminal: dropped (read before a refusal), held
        behind the one in flight, or handled now."""
        if item.time < self._refused_until:
            self._refused_keys.append(item)
        elif self._key_turn:
            self._held_keys.append(item)
        else:
            await self._take_turn(item)

    async def _take_turn(self, key: events.Key | events.Paste) -> None:
        self._turns += 1
        turn = self._key_turn = self._turns
        self._key_read_at = key.time
        self._turn_timer = self.set_timer(SETTLE_TIMEOUT, lambda: self._end_turn(turn))
        await super().on_event(key)  # priority bindings, else forwarded to the focused widget
        self._follow(turn, self._key_path(), 0, None, 0)

    def _key_path(self) -> list[DOMNode]:
        """Where a key goes now: the focused widget (else the screen) and its ancestors."""
        node: DOMNode | None = self.focused or self.screen
        path = []
        while node is not None and node is not self:
            path.append(node)
            node = node._parent  # noqa: SLF001 - DOMNode.parent is typed for widgets only
        return path

    def _follow(self, turn: int, path: list[DOMNode], index: int, seen, rounds: int) -> None:
        """Queue a marker behind the key at each node of its path in turn (a bubbling key is
        posted to the parent while the child handles it), then behind it at the app."""
        while index < len(path):
            if path[index].call_later(self._follow, turn, path, index + 1, seen, rounds):
                return
            index += 1  # that node is closing: nothing of the key is left there
        self.call_later(self._round_done, turn, seen, rounds)

    def hold_keys(self) -> Callable[[], None]:
        """Called while a key is handled: the keys after it wait until the returned release is
        called (at most HOLD_TIMEOUT), then until the screen and focus it led to have settled.
        Outside a key's turn (a click) nothing waits and the release does nothing."""
        turn = self._key_turn
        if not turn:
            return lambda: None
        self._holds[turn] = self._holds.get(turn, 0) + 1
        if self._turn_timer is not None:
            self._turn_timer.stop()
        self._turn_timer = self.set_timer(HOLD_TIMEOUT, lambda: self._hold_expired(turn))
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._holds.get(turn, 0) - 1
            if left > 0:
                self._holds[turn] = left
                return
            self._holds.pop(turn, None)
            if turn == self._key_turn:  # follow the key again: what it led to settles first
                self._follow(turn, self._key_path(), 0, None, 0)

        return release

    async def _hold_expired(self, turn: int) -> None:
        if turn != self._key_turn:
            return
        if self._held_keys:
            dropped = _said_of(self._held_keys)
            self._held_keys.clear()
            self.notify(
                f"{dropped} (the screen was still working): press them again now",
                severity="warning",
                markup=False,
            )
        await self._end_turn(turn)

    def typed_ahead(self) -> bool:
        """Whether keys read but not yet handled wait (typed before what they are for showed)."""
        return bool(self._held_keys)

    def read_before(self, moment: float) -> bool:
        """Whether the key being handled was read from the terminal before `moment` (a
        Textual event time): typed before what was shown then could be seen (over a slow link
        the screen the operator sees lags the one here). False outside a key's turn."""
        return bool(self._key_turn) and self._key_read_at < moment

    def drop_typed_ahead(
        self,
        read_first: str | None = None,
        then: str = "read it, then answer",
        this_one: bool = False,
    ) -> None:
        """Forget the keys read but not yet handled: a question that must be read before it is
        answered (a match to an account that is not a candidate). `read_first`: what the
        question shows that the keys could not have seen, said when keys are dropped, with
        `then`, what to do now; `this_one`: the key being handled is dropped too (counted)."""
        dropped = _said_of(self._held_keys, this_one)
        self._held_keys.clear()
        if dropped and read_first:
            self.notify(
                f"{dropped}: {read_first}; {then}",
                severity="warning",
                markup=False,
            )

    def refuse_keys_read_until_now(self, read_first: str, then: str) -> None:
        """The key being handled was refused (ctrl+p over a question): the keys read with it or
        after it, before now, were typed for what it did not open (`why` for the palette's
        search: its `y` answered the question), and are dropped, held or not yet handled; the
        console says so once, with `read_first` and `then`."""
        self._refused_until = event_time()  # the clock of the keys' times (Windows: another)
        self._refused_keys = list(self._held_keys)
        self._held_keys.clear()
        self._refused_why = (read_first, then)
        self.set_timer(REFUSED_SAID_AFTER, self._say_refused)

    def _say_refused(self) -> None:
        read_first, then = self._refused_why
        if self._refused_keys:
            self.notify(
                f"{_said_of(self._refused_keys)}: {read_first}; {then}",
                severity="warning",
                markup=False,
            )
        else:
            self.notify(f"{then[:1].upper()}{then[1:]}", severity="warning", markup=False)
        self._refused_keys = []

    def drop_typed_ahead_unless(self, answers: set[str], read_first: str) -> None:
        """drop_typed_ahead, unless the next key typed is one of `answers`: typed for a
        question the operator expected (escape y leaves a form, as the operator meant)."""
        if self._held_keys and getattr(self._held_keys[0], "key", None) not in answers:
            self.drop_typed_ahead(read_first)

    def busy(self) -> bool:
        """True while the screen shown is still working out what a key typed there leads to (a
        search in the command palette): the next key waits (at most HOLD_TIMEOUT)."""
        searching = getattr(self.screen, "searching", None)
        return bool(searching is not None and searching())

    async def _round_done(self, turn: int, seen, rounds: int) -> None:
        if turn != self._key_turn or self._holds.get(turn):
            return  # another turn; or held: the release follows the key again
        now = (self.screen, self.focused)
        if self.busy():  # look again shortly
            if self._busy_turn != turn:
                # a search under way is a pending effect like a hold: bounded by HOLD_TIMEOUT,
                # not SETTLE_TIMEOUT (a search slower than that let `matching 232` enter open
                # the first hit of `matching 23`: another school's queue)
                self._busy_turn = turn
                if self._turn_timer is not None:
                    self._turn_timer.stop()
                self._turn_timer = self.set_timer(HOLD_TIMEOUT, lambda: self._end_turn(turn))
            self.set_timer(BUSY_POLL, partial(self._round_done, turn, now, rounds))
            return
        if now == seen or rounds >= SETTLE_ROUNDS:
            await self._end_turn(turn)
            return
        # the key moved focus or changed screens: let the new target mount and take its focus
        self._follow(turn, self._key_path(), 0, now, rounds + 1)

    async def _end_turn(self, turn: int) -> None:
        if turn != self._key_turn:
            return
        self._key_turn = 0
        self._holds.pop(turn, None)
        if self._turn_timer is not None:
            self._turn_timer.stop()
            self._turn_timer = None
        if self._held_keys:
            await self._take_turn(self._held_keys.popleft())


class HoldsKeys:
    """For a screen whose key starts a thread the next keys depend on (a check before a
    question, a decision being saved): hold_keys() from the key's action, keys_go() once the
    question is asked or the result shown (or the thread failed)."""

    _release_keys: Callable[[], None] | None = None

    def hold_keys(self) -> None:
        self.keys_go()
        hold = getattr(self.app, "hold_keys", None)  # type: ignore[attr-defined]
        self._release_keys = hold() if hold is not None else None

    def keys_go(self) -> None:
        release, self._release_keys = self._release_keys, None
        if release is not None:
            release()

    def typed_before(self, shown_at: float, read_first: str, then: str) -> bool:
        """Whether the key being handled was read before `shown_at` (time.monotonic(), the
        clock of Textual's events), when what it acts on showed: it was typed for something
        the operator could not see. It then does nothing, nor do the keys typed after it, and
        the console says `read_first` and `then` (KeysInTurnApp.drop_typed_ahead)."""
        read_before = getattr(self.app, "read_before", None)  # type: ignore[attr-defined]
        if read_before is None or not read_before(shown_at):
            return False
        self.app.drop_typed_ahead(read_first, then, this_one=True)  # type: ignore[attr-defined]
        return True


class Shown:
    """What a screen shows that its keys act on (a case, an account: any value that changes
    when it does), and when it first showed so (time.monotonic(), the clock of Textual's
    events): for HoldsKeys.typed_before."""

    __slots__ = ("at", "view")

    def __init__(self) -> None:
        self.view: object = None
        self.at = 0.0

    def show(self, view: object) -> None:
        if view != self.view:
            self.view, self.at = view, time.monotonic()
