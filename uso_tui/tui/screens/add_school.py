"""Add a school from the console: the checks of `uso-tui school add` (sync.admin.new_school and
add_school), each error shown under its field, nothing written until every field is valid. The
Client Secret is typed masked and never shown again."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Static

from uso_tui.domain.errors import UsoError
from uso_tui.domain.models import School
from uso_tui.domain.schools import MIS_DOMAINS, MIS_KINDS, check_dfe, check_mis_url, check_reports
from uso_tui.tui.format import plain
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.widgets import Confirm, LineInput

FIELDS = [
    # (field, label, placeholder)
    ("dfe", "DfE number", "LLL-EEEE, e.g. 204-3210"),
    ("name", "School name", ""),
    ("url", "MIS URL", ""),
    ("client_id", "Client ID", "issued by IRIS"),
    ("secret", "Client Secret", "issued by IRIS; typed hidden"),
    ("daily_at", "Daily run time", "HH:MM"),
]


class AddSchoolScreen(UsoScreen):
    kind = "add_school"

    BINDINGS = [
        Binding("ctrl+s", "save", "Add school"),
        Binding("ctrl+o", "change_mis", "Other MIS"),
        Binding("down", "app.focus_next", "Next field", show=False),
        Binding("up", "app.focus_previous", "Previous field", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, None)
        self.title = "Add a school"
        self.mis = MIS_KINDS[0]
        self.allowed: frozenset[str] = frozenset()
        self.errors: dict[str, str] = {}
        self.tried = False  # errors show as the operator types only after a first save

    def compose(self) -> ComposeResult:
        yield self.title_bar("Add a school (as `uso-tui school add`)")
        with VerticalScroll(id="form"):
            with Horizontal(classes="form-row"):
                yield Static("MIS", classes="form-label")
                yield Static("", id="mis-value")
            for field, label, placeholder in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Static(label, classes="form-label")
                    yield LineInput(
                        value="06:00" if field == "daily_at" else "",
                        placeholder=placeholder,
                        id=f"f-{field}",
                        password=field == "secret",
                    )
                yield Static("", id=f"e-{field}", classes="form-error empty")
            with Horizontal(classes="form-row"):
                yield Static("Reports", classes="form-label")
                yield Checkbox("Staff", True, id="r-staff")
                yield Checkbox("Students", True, id="r-students")
            yield Static("", id="e-reports", classes="form-error empty")
            yield Static("", id="status", classes="summary")
        yield Footer()

    def on_mount(self) -> None:
        self._show_mis()
        self.query_one("#f-dfe", Input).focus()
        self.load()

    @work(
        name="Cannot read the settings",
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="add-school-load",
    )
    def load(self) -> None:
        self.allowed = self.store.allowed_mis_hosts()

    def _show_mis(self) -> None:
        text = Text(self.mis, style="bold", end="")
        text.append("   ctrl+o: the other MIS", style="dim")
        self.query_one("#mis-value", Static).update(text)
        self.query_one("#f-url", Input).placeholder = f"https://<school>.{MIS_DOMAINS[self.mis]}"

    # -- checks: the same as `school add` -------------------------------------------------------

    def value(self, field: str) -> str:
        return self.query_one(f"#f-{field}", Input).value

    def reports(self) -> list[str]:
        return [r for r in ("staff", "students") if self.query_one(f"#r-{r}", Checkbox).value]

    def check(self, field: str) -> object:
        from uso_tui.sync.admin import check_school_change, check_secret  # noqa: PLC0415

        if field == "dfe":
            return check_dfe(self.value("dfe"))
        if field == "url":
            return check_mis_url(self.value("url"), self.mis, self.allowed)
        if field == "secret":
            return check_secret(self.value("secret"))
        if field == "reports":
            return list(check_reports(self.reports()))
        return check_school_change(field, self.value(field))

    def validate_field(self, field: str) -> bool:
        try:
            self.check(field)
        except UsoError as exc:
            self.errors[field] = str(exc)
        else:
            self.errors.pop(field, None)
        self._show_error(field, self.errors.get(field))
        return field not in self.errors

    def _show_error(self, field: str, message: str | None) -> None:
        box = self.query_one(f"#e-{field}", Static)
        box.update(plain(message) if message else "")
        box.set_class(not message, "empty")

    def validate_all(self) -> bool:
        return all(
            [self.validate_field(f) for f, _, _ in FIELDS] + [self.validate_field("reports")]
        )

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if self.tried and event.input.id and event.input.id.startswith("f-"):
            self.validate_field(event.input.id[2:])

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        self.app.action_focus_next()

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        if self.tried:
            self.validate_field("reports")

    # -- actions --------------------------------------------------------------------------------

    def _status(self, text: Text) -> None:
        self.query_one("#status", Static).update(text)

    def action_save(self) -> None:
        self.tried = True
        if not self.validate_all():
            self._status(Text("Not added: fix the fields marked above.", style="bold red"))
            return
        self._status(Text("Adding…"))
        self.save(
            {
                "dfe": self.check("dfe"),
                "name": self.check("name"),
                "mis": self.mis,
                "url": self.check("url"),
                "client_id": self.check("client_id"),
                "reports": self.check("reports"),
                "daily_at": self.check("daily_at"),
            },
            self.check("secret"),
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="add-school-save")
    def save(self, settings: dict, secret: str) -> None:
        from uso_tui.store.api import DuplicateSchool  # noqa: PLC0415
        from uso_tui.sync.admin import add_school  # noqa: PLC0415

        try:
            school = add_school(
                self.store, secret=secret, operator=self.operator, now=self.now(), **settings
            )
        except DuplicateSchool as exc:
            self.app.call_from_thread(self._refused, "dfe", str(exc))
            return
        except UsoError as exc:
            self.app.call_from_thread(self._refused, None, str(exc))
            return
        self.app.call_from_thread(self._added, school)

    def _refused(self, field: str | None, message: str) -> None:
        if field is not None:
            self.errors[field] = message
            self._show_error(field, message)
        self._status(plain(f"Not added: {message}", "bold red"))

    def _added(self, school: School) -> None:
        self.say(f"School {school.dfe} added; its first run is at {school.daily_at} or by f")
        self.app.pop_screen()
        self.app.open_school(school.dfe)

    def action_change_mis(self) -> None:
        self.mis = next(k for k in MIS_KINDS if k != self.mis)
        self._show_mis()
        if self.tried:
            self.validate_field("url")

    def typed(self) -> bool:
        return any(self.value(f) for f, _, _ in FIELDS if f != "daily_at")

    def action_leave(self) -> None:
        if not self.typed():
            self.app.pop_screen()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.pop_screen()

        self.app.push_screen(
            Confirm("Discard this school?", "Nothing has been added.", yes="Discard", no="Stay"),
            answer,
        )
