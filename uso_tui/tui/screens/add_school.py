"""Add a school from the console: the checks of `uso-tui school add` (sync.admin.new_school and
add_school), each error shown under its field, nothing written until every field is valid. The
Client Secret is typed masked and never shown again."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static

from uso_tui.domain.models import School
from uso_tui.domain.schools import (
    MIS_DOMAINS,
    MIS_KINDS,
    REPORTS,
    check_dfe,
    check_mis_url,
    check_reports,
)
from uso_tui.tui.applying import error_text
from uso_tui.tui.screens.settings_form import SettingsForm
from uso_tui.tui.workers import in_thread

DEFAULT_DAILY_AT = "06:00"  # a new school's, as the form starts (School.daily_at)


class AddSchoolScreen(SettingsForm):
    kind = "add_school"
    FIELDS = [
        ("dfe", "DfE number", "LLL-EEEE, e.g. 204-3210"),
        ("name", "School name", ""),
        ("url", "MIS URL", ""),
        ("client_id", "Client ID", "issued by IRIS"),
        ("secret", "Client Secret", "issued by IRIS; typed hidden"),
        ("daily_at", "Daily run time", "HH:MM"),
    ]
    DISCARD = ("Discard this school?", "Nothing has been added.")

    BINDINGS = [
        Binding("ctrl+s", "save", "Add school"),
        Binding("ctrl+o", "change_mis", "Other MIS"),
        Binding("ctrl+t", "test", "Test connection"),
        Binding("down", "app.focus_next", "Next field", show=False),
        Binding("up", "app.focus_previous", "Previous field", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, None)
        self.title = "Add a school"
        self.mis = MIS_KINDS[0]
        self.allowed: frozenset[str] = frozenset()
        self.tried = False  # errors show as the operator types only after a first save

    def compose(self) -> ComposeResult:
        yield self.title_bar("Add a school (as `uso-tui school add`)")
        with VerticalScroll(id="form"):
            yield from self.form_rows({"daily_at": DEFAULT_DAILY_AT}, reports_checked=True)
            yield Static("", id="status", classes="summary")
        yield Footer()

    def on_mount(self) -> None:
        self._show_mis()
        self.query_one("#f-dfe", Input).focus()
        self.load()

    @in_thread("add-school-load", failure="Cannot read the settings")
    def load(self) -> None:
        self.allowed = self.store.allowed_mis_hosts()

    def _show_mis(self) -> None:
        text = Text(self.mis, style="bold", end="")
        text.append("   ctrl+o: the other MIS", style="dim")
        self.query_one("#mis-value", Static).update(text)
        self.query_one("#f-url", Input).placeholder = f"https://<school>.{MIS_DOMAINS[self.mis]}"

    # -- checks: the same as `school add` -------------------------------------------------------

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

    def checking(self) -> bool:
        return self.tried

    # -- actions --------------------------------------------------------------------------------

    def action_save(self) -> None:
        self.tried = True
        if not self.validate_all():
            self.refuse("Not added: fix the fields marked above.")
            return
        self.set_status(Text("Adding…"))
        self.hold_keys()  # keys typed ahead are for the school's hub, not the form's fields
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

    @in_thread("add-school-save")
    def save(self, settings: dict, secret: str) -> None:
        from uso_tui.store.api import DuplicateSchool  # noqa: PLC0415
        from uso_tui.sync.admin import add_school  # noqa: PLC0415

        try:
            school = add_school(
                self.store, secret=secret, operator=self.operator, now=self.now(), **settings
            )
        except DuplicateSchool as exc:
            self.app.call_from_thread(self._not_added, "dfe", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a full disk, a bug: said on the form, as a refusal
            # (left to the worker's handler, the form said "Adding…" for good and the keys
            # typed for the new school's hub went into its fields)
            self.app.call_from_thread(self._not_added, None, error_text(exc))
            return
        self.app.call_from_thread(self._added, school)

    def _not_added(self, field: str | None, message: str) -> None:
        if field is not None:
            self.errors[field] = message
            self.show_error(field, message)
            self.focus_error(field)
        self.refuse(f"Not added: {message}")
        self.keys_go()

    def _added(self, school: School) -> None:
        self.say(f"School {school.dfe} added; its first run is at {school.daily_at} or by f")
        self.app.pop_screen()
        self.app.open_school(school.dfe)
        self.keys_go()

    def action_test(self) -> None:
        """The connection tried with what is typed, before the school is added (a wrong host or
        secret was found only by its first run)."""
        self.tried = True  # (errors shown are checked again as the fields are mended)
        fields = ("dfe", "url", "client_id", "secret", "reports")
        if not all([self.validate_field(field) for field in fields]):  # (each field's error shown)
            self.focus_error(next(f for f in fields if f in self.errors))  # as a refused save
            self.refuse("Fix the fields marked above to test.")
            return
        dfe = self.check("dfe")
        trial = School(
            dfe=dfe,
            name=self.value("name") or dfe,
            mis=self.mis,
            url=self.check("url"),
            client_id=self.check("client_id"),
            reports=self.check("reports"),
        )
        self.set_status(Text("Testing connection: getting a token…", style="bold cyan"))
        self.connection_test(dfe, trial, self.check("secret"))

    def action_change_mis(self) -> None:
        self.mis = next(k for k in MIS_KINDS if k != self.mis)
        self._show_mis()
        if self.tried:
            self.validate_field("url")

    def unsaved(self) -> bool:
        """Anything the operator changed: a field typed in, the MIS, the daily time or the
        reports (Escape asks before it drops them)."""
        return (
            any(self.value(f) for f, _, _ in self.FIELDS if f != "daily_at")
            or self.mis != MIS_KINDS[0]
            or self.value("daily_at") != DEFAULT_DAILY_AT
            or self.reports() != list(REPORTS)
        )
