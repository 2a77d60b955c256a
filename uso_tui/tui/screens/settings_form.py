"""What the two forms of a school's settings share (adding a school, changing its settings): a row
for the MIS, a text field a setting with its error under it, the report checkboxes, a status line,
checks shown as the operator types, and escape that asks before discarding an edit."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Static

from uso_tui.domain.errors import UsoError
from uso_tui.domain.models import School
from uso_tui.domain.schools import REPORT_LABELS
from uso_tui.tui.applying import attempt, error_text
from uso_tui.tui.format import plain
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.widgets import LineInput, TickBox, ask_to_discard
from uso_tui.tui.workers import in_thread

REPORTS = ("staff", "students")


class SettingsForm(UsoScreen):
    """Subclasses give FIELDS ((field, label, placeholder) of each text field), `check` (a field's
    value parsed, or InvalidInput), `checking` (whether an edit is checked at once), `unsaved` and
    DISCARD (the question escape asks when there is something to lose)."""

    FIELDS: list[tuple[str, str, str]] = []
    DISCARD: tuple[str, str] = ("Discard changes?", "")

    def __init__(self, store, dfe: str | None) -> None:
        super().__init__(store, dfe)
        self.errors: dict[str, str] = {}

    def form_rows(
        self, values: Mapping[str, str] = {}, reports_checked: bool = False
    ) -> ComposeResult:
        """The MIS, the text fields (`values` fills some) and the reports, each error under it."""
        with Horizontal(classes="form-row"):
            yield Static("MIS", classes="form-label")
            yield Static("", id="mis-value")
        for field, label, placeholder in self.FIELDS:
            with Horizontal(classes="form-row"):
                yield Static(label, classes="form-label")
                yield LineInput(
                    value=values.get(field, ""),
                    placeholder=placeholder,
                    id=f"f-{field}",
                    password=field == "secret",
                )
            yield Static("", id=f"e-{field}", classes="form-error empty")
        with Horizontal(classes="form-row"):
            yield Static("Reports", classes="form-label")
            yield TickBox("Staff", reports_checked, id="r-staff")
            yield TickBox("Students", reports_checked, id="r-students")
        yield Static("", id="e-reports", classes="form-error empty")

    # -- checks ---------------------------------------------------------------------------------

    def value(self, field: str) -> str:
        return self.query_one(f"#f-{field}", Input).value

    def reports(self) -> list[str]:
        return [r for r in REPORTS if self.query_one(f"#r-{r}", Checkbox).value]

    def check(self, field: str) -> object:
        raise NotImplementedError

    def checking(self) -> bool:
        return True

    def validate_field(self, field: str) -> bool:
        try:
            self.check(field)
        except UsoError as exc:
            self.errors[field] = str(exc)
        else:
            self.errors.pop(field, None)
        self.show_error(field, self.errors.get(field))
        if not self.errors and self._says_fix:  # "fix the fields marked above": none is now
            self.set_status(Text(""))
        return field not in self.errors

    def show_error(self, field: str, message: str | None) -> None:
        box = self.query_one(f"#e-{field}", Static)
        box.update(plain(message) if message else "")
        box.set_class(not message, "empty")

    def validate_all(self) -> bool:
        """Every field checked; when one is wrong, the first wrong one is focused (the operator
        mends what the status line points at, not the field the cursor happened to be in)."""
        fields = [f for f, _, _ in self.FIELDS] + ["reports"]
        if all([self.validate_field(f) for f in fields]):
            return True
        self.focus_error(next(f for f in fields if f in self.errors))
        return False

    def focus_error(self, field: str) -> None:
        """Focus the field a message is about (the first report box for the reports)."""
        target = "#r-staff" if field == "reports" else f"#f-{field}"
        self.query_one(target).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        """Enter moves to the next field in both forms (ctrl+s saves): as a form is filled in."""
        event.stop()
        self.app.action_focus_next()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.checking() and event.input.id and event.input.id.startswith("f-"):
            self.validate_field(event.input.id[2:])

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        if self.checking():
            self.validate_field("reports")

    # -- status and leaving ---------------------------------------------------------------------

    _says_fix = False  # the status line points at fields marked wrong

    @in_thread("settings-test")
    def connection_test(self, dfe: str, trial: School, secret: str | None) -> None:
        """A token got and each enabled report counted with the settings as typed (not saved:
        `trial`; the secret typed, or None for the one stored); said on the status line."""
        from uso_tui.sync.actions import test_connection  # noqa: PLC0415

        tried = attempt(
            lambda: asyncio.run(test_connection(self.store, dfe, school=trial, secret=secret)),
            error_text,
        )
        if tried.error is not None or tried.value is None:
            text = plain(f"Connection failed: {tried.error}", "bold red")
        else:
            parts = ", ".join(
                f"{REPORT_LABELS.get(r, r)} {n:,} records" for r, n in tried.value.items()
            )
            text = Text(f"Connection OK: token received; {parts}.", style="bold green")
        self.app.call_from_thread(self.set_status, text)

    def set_status(self, text: Text) -> None:
        self._says_fix = "fix the fields marked" in text.plain
        self.query_one("#status", Static).update(text)

    def refuse(self, line: str) -> None:
        """A save or test refused (`line` says why): the keys typed after it were meant for a
        form that had taken it (the hub's keys, the next field's text) and would land in the
        field the cursor moved to (a URL typed into the Client Secret): dropped, the operator
        told."""
        self.set_status(plain(line, "bold red"))
        said = line.rstrip(".")
        self.app.drop_typed_ahead(f"{said[:1].lower()}{said[1:]}", "type them again")

    def unsaved(self) -> bool:
        return False

    def action_leave(self) -> None:
        if self.unsaved():
            ask_to_discard(self, *self.DISCARD, self.app.pop_screen)
        else:
            self.app.pop_screen()
