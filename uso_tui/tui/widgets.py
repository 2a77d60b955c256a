"""Shared console widgets: the keys help, dialogs, a line input and table helpers.

Text shown in them goes through `plain`/`clean` (format.py) so that it is never parsed as markup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, DataTable, Footer, Input, Static

from uso_tui.tui.format import clean, hanging, plain
from uso_tui.tui.keys_in_turn import HoldsKeys

FormResult = TypeVar("FormResult")
Answer = TypeVar("Answer")


class Dialog(ModalScreen[Answer]):
    """A question over a screen, with a footer of its own keys: the footer of the screen beneath
    listed keys that do nothing while the question is asked."""

    async def on_mount(self) -> None:
        # (each class's on_mount is called: a dialog's own runs too)
        await self.mount(Footer(compact=True))


class TickBox(Checkbox):
    """A checkbox whose mark shows whether it is ticked (Textual's shows X either way, ticked or
    not told apart by colour alone: unreadable on a monochrome terminal or to the colour-blind)."""

    def on_mount(self) -> None:
        self._mark()

    def watch_value(self) -> None:
        super().watch_value()  # its class and its Changed message
        self._mark()

    def _mark(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        self.refresh()


class LineInput(Input):
    """An Input that follows the app's blink setting (tests and snapshots freeze the cursor), and
    knows the value it was given (what a form leaves unsaved is what differs from it)."""

    def __init__(self, value: str | None = None, *args, **kwargs) -> None:
        super().__init__(value, *args, **kwargs)
        self.first_value = value or ""

    def on_mount(self) -> None:
        if not getattr(self.app, "cursor_blink", True):
            self.cursor_blink = False


class FilterInput(LineInput):
    """A list's filter: tab, shift+tab and down leave it for its list as enter does, the filter
    applied first (the default tab went to the next widget: on a screen of tabs, the next tab's
    list, showing that tab instead; on the schools list, the list not yet filtered, where an
    enter typed ahead opened the school highlighted before)."""

    BINDINGS: ClassVar = [
        Binding("tab", "to_list", "List", show=False),
        Binding("shift+tab", "to_list", "List", show=False),
        Binding("down", "to_list", "List", show=False),
    ]

    def action_to_list(self) -> None:
        self.post_message(self.Submitted(self, self.value))


# ---------------------------------------------------------------------------------------------
# Tables


def current_key(table: DataTable) -> str | None:
    if table.row_count == 0:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # noqa: BLE001 - the cursor may point past the end after a clear
        return None


def move_to_key(table: DataTable, key: str) -> bool:
    try:
        index = table.get_row_index(key)
    except Exception:  # noqa: BLE001 - row gone
        return False
    table.move_cursor(row=index)
    return True


# ---------------------------------------------------------------------------------------------
# Dialogs


class SchoolForm(HoldsKeys, Dialog[FormResult | None]):
    """A form that writes to one school's data as an operator, at a time the console gives;
    dismissed with what it made, or None (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, store, dfe: str, operator: str, now) -> None:
        super().__init__()
        self.store = store
        self.dfe = dfe
        self.operator = operator
        self.now = now

    def action_cancel(self) -> None:
        """Escape: what was typed is lost only when the operator says so (as the settings ask)."""
        if any(w.value != w.first_value for w in self.query(LineInput)):
            ask_to_discard(self, "Discard what was typed?", "Nothing has been saved.", self.dismiss)
        else:
            self.dismiss(None)


def ask_to_discard(screen, question: str, detail: str, leave: Callable[..., object]) -> None:
    """A form left with changes unsaved: `leave()` only once the operator says Discard."""

    def answer(yes: bool | None) -> None:
        if yes:
            leave()

    # `escape y` answers it as meant; `escape f y` was typed for the screen below (the `f`
    # went nowhere, the `y` discarded the form unseen): such keys are dropped, and said so
    drop = getattr(screen.app, "drop_typed_ahead_unless", None)
    if drop is not None:
        drop({"y", "n", "escape"}, f"{question} was asked first")
    screen.app.push_screen(Confirm(question, detail, yes="Discard", no="Stay"), answer)


class KeysHelp(Dialog[None]):
    """`?`: every key of the screen underneath, including those not shown in the footer."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._rows = rows

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append(f"Keys: {clean(self._title)}\n", style="bold")
        # two columns when long, so an 80x24 terminal shows every key without scrolling
        rows = self._rows
        if len(rows) > 12:
            half = (len(rows) + 1) // 2
            left, right = rows[:half], rows[half:]
        else:
            left, right = rows, []
        for position, (key, desc) in enumerate(left):
            text.append(f"{key:>9} ", style="bold")
            if position < len(right) and right[position][0]:
                text.append(f"{desc[:24]:<25}")
                text.append(f"{right[position][0]:>9} ", style="bold")
                text.append(right[position][1][:30])
            else:
                text.append(desc)
            text.append("\n")
        for key, desc in right[len(left) :]:
            text.append(f"{key:>9} {desc}\n")
        for key, desc in right:
            if not key:
                text.append(f"{desc}\n", style="dim")
        text.append("escape closes this help", style="dim")
        with VerticalScroll(id="dialog", classes="dialog"):
            yield Static(text, id="keys-help")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


def described(binding: Binding) -> str:
    """A key's description in full: its tooltip where the footer shows it shorter."""
    return binding.tooltip or binding.description


def key_label(app, binding: Binding, key: str | None = None) -> str:
    """How a key is written for an operator ("/", "⏎", "^p"): the binding's own display, else
    Textual's (`key`: the one key of a binding of several that is meant)."""
    from textual.keys import format_key  # noqa: PLC0415

    return binding.key_display or app.get_key_display(binding) or format_key(key or binding.key)


def screen_keys(screen) -> list[tuple[str, str]]:
    """(key, description) for every binding active on `screen`: the screen's own and the app's
    first, then one line for the focused widget's movement keys (arrows, page keys...)."""
    app = screen.app
    own: dict[str, list[str]] = {}
    widget_keys: list[str] = []
    listed: set[str] = set()  # the screen's actions listed (a question relabels its own keys)
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if (
            not active.enabled
            or binding.system
            or binding.action.endswith(("copy_text", "command_palette"))
        ):
            continue
        label = key_label(app, binding, key)
        if active.node is screen or active.node is app:
            listed.add(binding.action)
            desc = described(binding) or binding.action.replace("_", " ")
            own.setdefault(desc, [])
            if label not in own[desc]:
                own[desc].append(label)
        elif label not in widget_keys:
            widget_keys.append(label)
    # keys of this screen that do not apply right now are listed too, marked
    for binding in getattr(type(screen), "BINDINGS", []):
        if not isinstance(binding, Binding) or not binding.description:
            continue
        desc = described(binding)
        if (
            desc not in own
            and binding.action not in listed
            and not binding.action.startswith("app.")
        ):
            label = key_label(app, binding)
            # a key a focused widget also binds (enter in a table) still does this screen's thing
            shadowed = any(k.strip() in screen.active_bindings for k in binding.key.split(","))
            own[desc if shadowed else f"{desc} (not now)"] = [label]
    # Textual's own focus keys after the screen's
    rows = sorted(
        ((" ".join(labels), desc) for desc, labels in own.items()),
        key=lambda r: r[1].startswith("Focus "),
    )
    rows.append(("^p", "Palette: schools and keys"))
    if widget_keys:
        rows.append(("", "In the focused list or field: " + " ".join(widget_keys)))
    return rows


class Confirm(Dialog[bool]):
    """Asks once and says what will happen. y / enter confirm, n / escape cancel."""

    IS_QUESTION = True  # answered or cancelled before anything else (no palette over it)

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),  # never enter: a reflex must not move accounts
        Binding("n,escape", "answer(False)", "No"),
        # a long body (an undo's accounts) scrolls as the details pages do (its scrollbar shows
        # there is more; a hint added once laid out raced the first frames)
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
        Binding("pagedown,space", "scroll(10)", "Page down", show=False),
        Binding("pageup", "scroll(-10)", "Page up", show=False),
    ]

    def __init__(self, title: str, body: Text | str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._title = title
        self._body = body if isinstance(body, Text) else plain(body)
        self._yes = yes
        self._no = no
        self._say_in_footer({self.YES_KEY: yes, "n": no, "escape": no})

    YES_KEY = "y"  # as the keys line shows it

    def _say_in_footer(self, words: dict[str, str]) -> None:
        """The footer says what the keys line says (`y Match`, not `y Yes`), its answer first:
        this question's own copy of its bindings, relabelled."""
        keys = self._bindings.key_to_bindings
        ordered = dict.fromkeys([self.YES_KEY, *keys])
        self._bindings.key_to_bindings = {
            key: [
                dataclasses.replace(b, description=words[key]) if key in words else b
                for b in keys[key]
            ]
            for key in ordered
            if key in keys
        }

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(plain(self._title, "bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body", id="confirm-body"):
                yield Static(hanging(self._body))
            yield Static(
                Text.assemble(
                    (self.YES_KEY, "bold"),
                    f" {self._yes}   ",
                    ("n/escape", "bold"),
                    f" {self._no}",
                ),
                classes="dialog-keys",
                id="confirm-keys",
            )

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#confirm-body", VerticalScroll).scroll_relative(y=lines, animate=False)


class ConfirmForce(Confirm):
    """A Confirm answered yes only by F (shift+f), never by the y typed by habit: for what the
    command line refuses without --force (a new account beside a candidate that is probably the
    person's own). y says so and answers nothing."""

    YES_KEY = "F"
    BINDINGS = [
        Binding("F", "answer(True)", "Yes"),
        Binding("y", "habit", "Yes?", show=False),
        *Confirm.BINDINGS[1:],
    ]

    def action_habit(self) -> None:
        self.notify(
            f"y does not answer this question: F {self._yes.lower()}, n or escape cancels",
            severity="warning",
        )


class Prompt(Dialog[str | None]):
    """Asks for one line of text. enter submits, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self._title = title
        self._placeholder = placeholder
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(plain(self._title, "bold"), classes="dialog-title")
            yield LineInput(value=self._value, placeholder=self._placeholder, id="prompt-input")
            yield Static(Text("enter OK   escape cancel", style="dim"), classes="dialog-keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
