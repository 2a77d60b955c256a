"""Helpers of the console tests: a frozen clock, an app without cursor blink, and waiting for
workers instead of sleeping. The demo store's fixtures are in conftest.py."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import date, datetime

from uso_tui.demo import Demo
from uso_tui.tui.app import UsoApp

TODAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 9, 10, 30, 0)
OPERATOR = "tester"
MARKUP_NAME = "[bold]x[/] Lee\x1b[31m\x07"  # markup and control characters: shown literally


def frozen() -> datetime:
    return NOW


def make_app(store, **kw) -> UsoApp:
    """The console on store with the frozen clock, the test operator, no cursor blink and no
    animation (kw overrides them or adds UsoApp's other arguments). A tab relabelled slides its
    underline for 0.3 s from a timer that a loaded machine fires late: pictures taken then
    differed."""
    app = UsoApp(store, **{"clock": frozen, "operator": OPERATOR, "cursor_blink": False, **kw})
    app.animation_level = "none"
    return app


@asynccontextmanager
async def started(store, *opening, size=(80, 24), notifications: bool = False, **kw):
    """The console (make_app's, kw passed on) run on a terminal of `size`, its first screen
    loaded, then the screen `opening` names (open_screen's arguments) opened and loaded:
    yields (app, pilot)."""
    app = make_app(store, **kw)
    async with app.run_test(size=size, notifications=notifications) as pilot:
        await settle(pilot)
        if opening:
            app.open_screen(*opening)
            await settle(pilot)
        yield app, pilot


async def settle(pilot, rounds: int = 2) -> None:
    """Let messages flow and every worker finish (no sleeping on the wall clock)."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        await pilot.pause()
        for _attempt in range(5):
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # superseded by a newer one of its group: wait for that
                continue
    await pilot.pause()


def _repaint_due(app) -> bool:
    """Whether a screen shown (the top one and those seen under it) has a layout or a repaint
    still to do: Textual does them on a timer of each screen, after the messages that asked."""
    return any(
        screen._layout_required
        or screen._scroll_required
        or screen._recompose_required
        or screen._dirty_widgets
        for screen in (app.screen, *app._background_screens)
    )


async def settle_picture(pilot, rounds: int = 2) -> None:
    """settle, then until what the screens shown changed is laid out and painted (at most 5 s):
    a snapshot taken sooner on a loaded machine showed a tab's old label."""
    await settle(pilot, rounds)
    for _ in range(250):
        if not _repaint_due(pilot.app):
            break
        await pilot.pause(0.02)
    await settle(pilot, 1)
    # ... and until the picture holds still: a label changed (a tab's count) asks for its
    # layout by a message, so its old width can still cut it ("Staff?" for "Staff? 1") when
    # the flags above are clear (at most 2 s)
    shown = screen_text(pilot.app)
    for _ in range(40):
        await pilot.pause(0.05)
        now = screen_text(pilot.app)
        if now == shown:
            break
        shown = now


async def press(pilot, *keys: str, rounds: int = 2) -> None:
    """Presses the keys, then lets what they started finish."""
    await pilot.press(*keys)
    await settle(pilot, rounds)


async def type_text(pilot, text: str) -> None:
    """Types text key by key, as an operator would."""
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


async def filter_by(pilot, text: str, rounds: int = 2) -> None:
    """`/`, the text, enter: a list screen's filter (or search), then settled."""
    await pilot.press("slash")
    await type_text(pilot, text)
    await press(pilot, "enter", rounds=rounds)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (from the app's own SVG screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    parts = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(parts)).replace("\xa0", " ")


async def wait_for(pilot, predicate, timeout: float = 20.0) -> None:
    """Polls a condition that depends on a thread outside Textual's workers (a run in another
    "process", a timer); fails the test after timeout seconds."""
    import asyncio
    import time

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause()
        await asyncio.sleep(0.05)
    await pilot.pause()


def put_case_for(tx, dfe: str, acc, *, mis_id: str, score: int, reasons: list[str]) -> str:
    """Opens a students case of `dfe` whose record has acc's names and date of birth and whose only
    candidate is acc (as a run would open it); returns its id."""
    from uso_tui.domain.models import Candidate, MatchCase, MisRecord

    rec = MisRecord(
        report="students", mis_id=mis_id, forename=acc.forename, surname=acc.surname, dob=acc.dob
    )
    cand = Candidate(
        username=acc.username,
        school=dfe,
        score=score,
        forename=acc.forename,
        surname=acc.surname,
        dob=acc.dob,
        differs=[],
        reasons=reasons,
    )
    case_id = tx.next_case_id(dfe)
    tx.put_case(
        MatchCase(
            case_id=case_id,
            school=dfe,
            report="students",
            role=acc.role,
            record=rec.to_dict(),
            candidates=[cand.to_dict()],
            opened_at="2026-03-09T06:00:00",
        )
    )
    return case_id


def put_markup_case(store, dfe: str) -> str:
    """Renames a school and opens a match case whose record and candidate carry markup and control
    characters (written through the store API, as a MIS export could bring them)."""
    with store.transaction("test") as tx:
        school = tx.school(dfe)
        school.name = f"School {MARKUP_NAME}"
        tx.put_school(school)
        acc = next(a for a in tx.school_accounts(dfe) if a.role == "pupil" and a.status == "active")
        acc.forename = MARKUP_NAME
        tx.put_account(acc)
        return put_case_for(tx, dfe, acc, mis_id="X1", score=88, reasons=["same names"])


def run_all(demo: Demo) -> None:
    """Every demo school's scheduled run against the churned estate: opens match cases, holds."""
    import asyncio

    from uso_tui.sync.runner import run_school

    async def go() -> None:
        for school in demo.store.list_schools():
            await run_school(
                demo.store, school.dfe, trigger="schedule", operator="scheduler", now=NOW
            )

    asyncio.run(go())


def slowed(monkeypatch, store, *names: str, seconds: float = 0.05) -> None:
    """The store's methods `names` (every public one when none is named), called from a thread
    (a screen's read or save), `seconds` slower: as over a large store."""
    import threading
    import time

    for name in names or [n for n in dir(store) if not n.startswith("_")]:
        method = getattr(store, name)
        if not callable(method):
            continue

        def slowly(*args, _method=method, **kwargs):
            if threading.current_thread() is not threading.main_thread():
                time.sleep(seconds)
            return _method(*args, **kwargs)

        monkeypatch.setattr(store, name, slowly)


def burst(app, *keys: str) -> None:
    """Keys read from the terminal in one go (SSH lag, typing ahead): all posted to the app before
    it handles the first, as the driver does with one read of several bytes."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        # named and characterised as Pilot.press does: `minus` carries its `-`, `-` is `minus`
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def answer_force_run(pilot, key: str = "y") -> None:
    """A Force Run asks first (school, reports, last run): answer it when it is asked."""
    from uso_tui.tui.force_ask import ForceRunAsk

    await settle(pilot)
    if isinstance(pilot.app.screen, ForceRunAsk):
        await pilot.press(key)


def not_a_candidate(store, dfe: str, case):
    """An active account of the case's role at another school, not among its candidates (what
    an operator finds with the matching queue's search)."""
    known = {c["username"] for c in case.candidates}
    return next(
        a
        for s in store.list_schools()
        if s.dfe != dfe
        for a in store.school_accounts(s.dfe)
        if a.role == case.role and a.status == "active" and a.username not in known
    )


def damage_a_candidates_school(store):
    """A case whose candidate's account lives in another school, that school's data file then
    cut short (damaged from outside): (the case, the candidate, the damaged file)."""
    case, cand = next(
        (c, cand)
        for s in store.list_schools()
        for c in store.cases(s.dfe)
        for cand in c.candidates
        if cand["school"] and cand["school"] != c.school
    )
    broken = store.root / "schools" / cand["school"] / "data.json"
    broken.write_bytes(broken.read_bytes()[:-7])
    return case, cand, broken


def palette_offers(app) -> bool:
    """The command palette has searched and highlights a result."""
    from textual.command import CommandList

    results = app.screen.query_one(CommandList)
    return results.option_count > 0 and results.highlighted is not None


async def choose_in_palette(pilot, typed: str) -> None:
    """ctrl+p, the text typed, then enter on the first command the palette offers."""
    from textual.command import CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*list(typed))
    await wait_for(pilot, lambda: palette_offers(app))
    await press(pilot, "enter")
