"""The Exclusions tab's form: add a name to the school's exclusion list, asking first when the
person has an account there."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from uso_tui.domain.models import Account, Exclusion
from uso_tui.tui.applying import attempt
from uso_tui.tui.exclude_ask import UNALLOCATE, ExcludeAsk
from uso_tui.tui.format import plain
from uso_tui.tui.widgets import LineInput, SchoolForm
from uso_tui.tui.workers import in_thread


def excluded_line(ex, dfe: str) -> str:
    """What adding an exclusion did, naming the accounts it unallocated or left active."""
    line = f"Excluded {ex.forename} {ex.surname} (id {ex.id}) at {dfe}"
    if ex.unallocated:
        return line + f"; unallocated {', '.join(ex.unallocated)}"
    if ex.accounts:
        return line + f"; still active: {', '.join(a.username for a in ex.accounts)}"
    return line


class ExclusionForm(SchoolForm[Exclusion]):
    """Add a name to the exclusion list. The date of birth is optional: without it, every record
    with those names at the school is excluded. Errors show in the form; nothing is written."""

    BINDINGS = [
        Binding("down", "app.focus_next", "Next field", show=False),  # as the other forms
        Binding("up", "app.focus_previous", "Previous field", show=False),
    ]
    DEFAULT_CSS = """
    ExclusionForm .form-row { height: 1; }
    ExclusionForm #form-error { height: auto; color: $error; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                Text(f"Add to the exclusion list of {self.dfe}", style="bold"),
                classes="dialog-title",
            )
            for key, label, hint in [
                ("forename", "Forename", ""),
                ("surname", "Surname", ""),
                ("dob", "Date of birth", "YYYY-MM-DD or DD/MM/YYYY, optional"),
            ]:
                with Horizontal(classes="form-row"):
                    yield Static(label, classes="form-label")
                    yield LineInput(placeholder=hint, id=f"ex-{key}")
            yield Static("", id="form-error")
            yield Static(
                Text("enter next / save   escape cancel", style="dim"), classes="dialog-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#ex-forename", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        order = ["ex-forename", "ex-surname", "ex-dob"]
        current = event.input.id or ""
        if current != "ex-dob":
            self.query_one(f"#{order[order.index(current) + 1]}", Input).focus()
            return
        self.hold_keys()  # keys typed ahead answer what the check leads to, not the date's field
        self.check(
            self.query_one("#ex-forename", Input).value,
            self.query_one("#ex-surname", Input).value,
            self.query_one("#ex-dob", Input).value.strip() or None,
        )

    @in_thread("exclusion-add")
    def check(self, forename: str, surname: str, dob: str | None) -> None:
        """The person may already have an account here: ask before writing anything."""
        from uso_tui.sync.actions import accounts_for_exclusion  # noqa: PLC0415
        from uso_tui.sync.admin import check_dob, check_new_name  # noqa: PLC0415

        # names add_exclusion refuses are said before any question about the accounts they name
        for field, value in (("forename", forename), ("surname", surname)):
            said = attempt(lambda v=value, f=field: check_new_name(v, f)).error
            if said is not None:
                self.app.call_from_thread(self._error, said, field)
                return
        if dob:  # ... and a date that is none, before any question (its field to mend)
            said = attempt(lambda: check_dob(dob, self.now().date())).error
            if said is not None:
                self.app.call_from_thread(self._error, said, "dob")
                return
        # other bad input reads as no accounts: saving says what is wrong
        has = attempt(
            lambda: accounts_for_exclusion(self.store, self.dfe, forename, surname, dob)
        ).value
        if has:
            self.app.call_from_thread(self._ask, forename, surname, dob, has)
        else:
            self._save(forename, surname, dob, False)

    def _ask(self, forename: str, surname: str, dob: str | None, has: list[Account]) -> None:
        def answer(choice: str | None) -> None:
            if choice is not None:
                self.hold_keys()
                self.save(forename, surname, dob, choice == UNALLOCATE)

        who = f"{forename} {surname}".strip() + (f" ({dob})" if dob else "")
        # keys typed with the form were for no such question
        self.app.drop_typed_ahead("the question names the person's account here")
        self.app.push_screen(ExcludeAsk(who, self.dfe, has), answer)
        self.keys_go()

    @in_thread("exclusion-add")
    def save(self, forename: str, surname: str, dob: str | None, unallocate: bool) -> None:
        self._save(forename, surname, dob, unallocate)

    def _save(self, forename: str, surname: str, dob: str | None, unallocate: bool) -> None:
        from uso_tui.sync.admin import add_exclusion  # noqa: PLC0415

        # InvalidInput and store errors: shown in the form
        added = attempt(
            lambda: add_exclusion(
                self.store,
                self.dfe,
                forename=forename,
                surname=surname,
                dob=dob,
                operator=self.operator,
                now=self.now(),
                unallocate=unallocate,
            )
        )
        if added.error is not None:
            self.app.call_from_thread(self._error, added.error)
            return
        self.app.call_from_thread(self._saved, added.value)

    def _saved(self, exclusion: Exclusion) -> None:
        self.dismiss(exclusion)
        self.keys_go()

    def _error(self, message: str, field: str = "") -> None:
        self.query_one("#form-error", Static).update(plain(message, "bold"))
        if field:  # the cursor where the mending is (it stayed in the date of birth)
            self.query_one(f"#ex-{field}", Input).focus()
        # keys typed after the enter were for the question it would have led to, not for the
        # form's fields (a `y` was typed into the date)
        self.app.drop_typed_ahead("the form says what is wrong")
        self.keys_go()
