"""Command palette: jump to any school (by name or DfE number) and to every screen, and do what
any key of the screen underneath does, by its name (those the footer leaves out too).

Textual's `Matcher.highlight` parses the candidate as markup, so school names are matched and
highlighted here, literally; with 3,000 schools a word-prefix/substring match is also far cheaper per
keystroke than the fuzzy matcher (which is kept for the few screen names).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual import events, work
from textual.command import (
    CommandInput,
    CommandList,
    CommandPalette,
    DiscoveryHit,
    Hit,
    Hits,
    Provider,
)
from textual.content import Content
from textual.css.query import NoMatches
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.system_commands import SystemCommandsProvider

from uso_tui.tui.format import clean
from uso_tui.tui.widgets import described, key_label

if TYPE_CHECKING:  # the app imports this module
    from uso_tui.tui.app import UsoApp

GLOBAL_SCREENS = [
    ("Schools", "schools", "Home: every school"),
    ("Users: search all accounts", "users", "Find any account"),
    ("Run history: all schools", "history", "Every run, newest first"),
    ("Audit log: all schools", "audit", "Every change, newest first"),
    ("Possible duplicates: all schools", "duplicates", "Accounts that may be one person"),
    ("Kept as different people: all schools", "kept", "Pairs kept apart, to review again"),
    ("Why no account? Search the latest exports", "why", "What happened to a record, and why"),
    ("Calendar: starters and leavers, all schools", "calendar", "The coming weeks' dates"),
]
# Keys that move a cursor or the focus: no command of their own in the palette.
_MOVES = ("cursor_", "scroll", "focus", "down", "up", "to_table")
# Textual's fuzzy score grows with the length of what is typed (the query against itself scores
# highest): a command's is taken as a share of that, 0 to 1 (command_scorer), beside a school's
# 0.6 to 0.95 (0.3 for each school where no school is named).

# Under a school or screen of the same score: a key's command is the rarer thing looked for.
KEY_WEIGHT = 0.5
# A command whose words the words typed do not start (their letters found apart: `north` in "Why
# no account? Search the latest exports", `beech` in "Possible duplicates") comes under a school
# whose name a word typed starts.
SCATTERED_WEIGHT = 0.5
# This school's screen named by a word of ALSO_NAMED alone: above every school's of that name
# (0.3) and a key command found by a word's letters scattered, below one the word starts
THIS_SCHOOL_NAMED = 0.35

SCHOOL_SCREENS = [
    ("School hub", "school"),
    ("AutoUpdate settings", "settings"),
    ("Force run", "force_run"),
    ("Matching queue", "matching"),
    ("Bulk results", "bulk_results"),
    ("Non-MIS accounts", "non_mis"),
    ("Run history", "history"),
    ("Audit log", "audit"),
    ("Possible duplicates", "duplicates"),
    ("Kept as different people", "kept"),
    ("Calendar", "calendar"),
]

# Words a school's screen is also looked for by: the name its key has on the hub ("h Runs"),
# and what is done there (`restore meadow`: the unallocated accounts are a tab of Bulk results).
ALSO_NAMED = {
    "history": ("runs", "held", "confirm", "undo"),
    "bulk_results": ("unallocated", "restore", "rejected", "invalid", "future", "exclusions"),
}


def _highlight(label: str, words: list[str]) -> Content:
    content = Content(label)
    low = label.lower()
    for word in words:
        start = low.find(word)
        if start >= 0:
            content = content.stylize("bold underline", start, start + len(word))
    return content


class UsoCommands(Provider):
    @property
    def console(self) -> UsoApp:
        return cast("UsoApp", self.app)

    async def startup(self) -> None:
        # The schools are read in a task of their own, awaited by each search shielded: Textual
        # awaits startup from the first search, and a search cancelled by the next key (typed
        # while a large or busy store is read) would cancel it, and with it every later search.
        self._loading = asyncio.ensure_future(asyncio.to_thread(self._read_schools))

    def _read_schools(self) -> list[tuple[str, str]]:
        try:
            schools = self.console.store.list_schools()
        except Exception:  # noqa: BLE001 - a palette without schools still jumps to screens
            schools = []
        return [(s.dfe, clean(f"{s.dfe}  {s.name}")) for s in schools]

    def _screen_commands(self) -> list[tuple[str, str, Callable[[], None]]]:
        app = self.console
        out: list[tuple[str, str, Callable[[], None]]] = []
        for label, kind, help_text in GLOBAL_SCREENS:
            out.append((label, help_text, partial(app.open_screen, kind, None)))
        dfe = getattr(self.screen, "dfe", None)
        if dfe:
            for label, kind in SCHOOL_SCREENS:
                out.append((f"{label}: {dfe}", "This school", partial(app.open_screen, kind, dfe)))
        return out

    def _key_commands(self) -> list[tuple[str, str, Callable[[], None]]]:
        """What each key of the screen underneath does that it can do now: "Export CSV (e)"."""
        screen = self.screen
        out: list[tuple[str, str, Callable[[], None]]] = []
        if isinstance(screen, ModalScreen):  # a question is answered by its own keys only
            return out
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            desc = described(binding)
            if (
                active.node is not screen
                or not active.enabled
                or binding.system
                or not desc
                or desc in seen
                or binding.action.startswith(_MOVES)
            ):
                continue
            seen.add(desc)
            key = key_label(self.app, binding)
            run = partial(self.app.call_later, screen.run_action, binding.action)
            out.append((f"{desc} ({key})", "A key of this screen", run))
        return out

    async def discover(self) -> Hits:
        for label, help_text, cb in self._screen_commands() + self._key_commands():
            yield DiscoveryHit(label, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        app = self.console
        matcher = self.matcher(query)
        words = [w for w in query.lower().split() if w]
        scored = command_scorer(matcher, query)
        # "settings 2308" or "force oak": words naming a screen pick it, the rest pick schools
        screen_words = [w for w in words if _screen_kinds([w])]
        kinds = _screen_kinds(screen_words)
        school_words = [w for w in words if w not in screen_words]
        # a screen named by what is done there (`held`, `restore`) with no school typed: this
        # school's, before every school's of that name (whose first school it opened)
        # (not the screen shown: there the word is for its keys, `undo` on Run history)
        dfe, shown_kind = getattr(self.screen, "dfe", None), getattr(self.screen, "kind", None)
        here = (
            {f"{label}: {dfe}" for label, kind in kinds if kind != shown_kind}
            if dfe and not school_words
            else set()
        )
        for commands, weight in (
            (self._screen_commands(), 1.0),
            (self._key_commands(), KEY_WEIGHT),
        ):
            for label, help_text, cb in commands:
                score = scored(label) * weight
                if label in here:
                    score = max(score, THIS_SCHOOL_NAMED)
                if score > 0:
                    yield Hit(score, Content(label), cb, text=label, help=help_text)
        if not words:
            return
        shown = 0
        schools = await asyncio.shield(self._loading)
        for position, (dfe, label) in enumerate(schools):
            low = label.lower()
            if all(w in low for w in school_words):
                # DfE prefix and word-start matches rank first; every school, none named (only
                # a screen's name typed), after this school's command of that name
                named = 0.6 if school_words else 0.3
                base = named + (0.3 if school_words and low.startswith(school_words[0]) else 0.0)
                base += 0.05 if any(f" {w}" in low for w in school_words) else 0.0
                targets = kinds or [("School hub", "school")]
                for screen_label, kind in targets:
                    text = label if kind == "school" else f"{screen_label}: {label}"
                    yield Hit(
                        base,
                        _highlight(text, school_words),
                        partial(app.open_screen, kind, dfe),
                        text=text,
                        help="Open school" if kind == "school" else screen_label,
                    )
                    shown += 1
                if shown >= 50:
                    return
            if position % 500 == 499:
                await asyncio.sleep(0)


def _screen_kinds(words: list[str]) -> list[tuple[str, str]]:
    """Per-school screens whose label has a word starting with one of `words` (3+ letters)."""
    out = []
    for label, kind in SCHOOL_SCREENS[1:]:  # not "School hub": "school" is in most names
        label_words = label.lower().replace("-", " ").split() + list(ALSO_NAMED.get(kind, ()))
        if any(_names(w, label_words) for w in words):
            out.append((label, kind))
    return out


def command_scorer(matcher: Matcher, query: str) -> Callable[[str], float]:
    """A command's score for `query`, 0 to 1: Textual's fuzzy score as a share of what the query
    scores against itself, halved where the words typed start no word of the label."""
    best = matcher.match(query) or 1.0
    words = query.lower().split()

    def score(label: str) -> float:
        fuzzy = matcher.match(label)
        if fuzzy <= 0:
            return 0.0
        share = min(fuzzy / best, 1.0)
        return share if _starts_words(words, label) else share * SCATTERED_WEIGHT

    return score


class UsoSystemCommands(SystemCommandsProvider):
    """Textual's app-wide commands (Keys, Theme, Quit...), scored as the console's own are
    (command_scorer): their raw fuzzy scores, 2 to 12, came before every school and screen."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        scored = command_scorer(matcher, query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            score = scored(name)
            if score > 0:
                # (Textual's own names: no markup in them to misread)
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)


def _starts_words(words: list[str], label: str) -> bool:
    """Whether each word typed starts a word of the label (`auto set` of "AutoUpdate settings")."""
    label_words = re.split(r"[^\w]+", label.lower())
    return all(any(lw.startswith(w) for lw in label_words) for w in words)


def _names(word: str, label_words: list[str]) -> bool:
    """A typed word (3+ letters) that names a label: "non-mis" as "non mis", each part the start
    of a word of the label."""
    parts = word.replace("-", " ").split()
    return len(word) >= 3 and all(any(lw.startswith(p) for lw in label_words) for p in parts)


class UsoPalette(CommandPalette):
    """The command palette, saying when its list shows the hits of what is typed: keys typed
    ahead (`ctrl+p`, `matching 2714`, enter) wait for it (KeysInTurnApp.busy), else the enter
    picks the first hit of the text typed so far (another school's matching queue)."""

    searched: str | None = None  # the text whose search has finished
    choosing = False  # an enter picked the highlighted hit: the palette is about to close

    def on_key(self, event: events.Key) -> None:
        # (bubbled from the input, before the enter's selection closes the palette a few
        # messages later: keys typed after it wait for the screen it opens, see searching)
        if event.key == "enter":
            try:
                hits = self.query_one(CommandList)
            except NoMatches:
                return
            self.choosing = hits.option_count > 0 and hits.highlighted is not None
        else:
            self.choosing = False

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP)
    async def _gather_commands(self, search_value: str) -> None:
        await CommandPalette._gather_commands.__wrapped__(self, search_value)
        self.searched = search_value

    def searching(self) -> bool:
        """True while the list may not show the hits of the text in the input yet, or while
        the hit an enter picked is being opened."""
        if self.choosing:
            return True
        try:
            typed = self.query_one(CommandInput).value.strip()
        except NoMatches:  # not mounted (yet, or any more): nothing to wait for
            return False
        return bool(typed) and typed != self.searched
