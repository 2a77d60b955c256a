"""AutoUpdate settings of one school: edit, validate as you type, save, change MIS, test connection.

The client secret is never read back from the store: the field is always empty; typing replaces it.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Static

from uso_tui.domain.errors import InvalidInput, UsoError
from uso_tui.domain.models import School
from uso_tui.domain.schools import (
    MIS_DOMAINS,
    MIS_KINDS,
    REPORT_LABELS,
    REPORTS,
    UNSUPPORTED_REPORTS,
    check_mis_url,
    check_reports,
    kept_url,
    mis_origin,
    secret_goes_elsewhere,
)
from uso_tui.tui.applying import attempt, error_text
from uso_tui.tui.format import clean, plain
from uso_tui.tui.screens.settings_form import SettingsForm
from uso_tui.tui.widgets import Confirm, TickBox
from uso_tui.tui.workers import in_thread

# How the saved message names the settings that are not text fields (those: by their label).
SAVED_LABELS = {"mis": "MIS", "reports": "Reports", "paused": "Paused"}


def _shown(value: object) -> str:
    """A setting's value as the message of a conflict says it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "+".join(REPORT_LABELS.get(str(v), str(v)) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return clean(str(value))


class SettingsScreen(SettingsForm):
    kind = "settings"
    TITLE = "School settings"
    FIELDS = [
        ("name", "School name", ""),
        ("url", "MIS URL", "https://<school>.isams.cloud"),
        ("client_id", "Client ID", ""),
        ("secret", "Client Secret", ""),
        ("daily_at", "Daily run time", "HH:MM"),
        ("hold_percent", "Hold above %", "10"),
        ("hold_min", "Hold at least", "10"),
        ("create_before_start_days", "Create days early", "0"),
    ]
    # each setting as its saved and conflict lines name it
    LABELS = {f: label for f, label, _ in FIELDS} | SAVED_LABELS
    DISCARD = ("Discard changes?", "The settings were changed and not saved.")

    ROLE_KEYS = {"ctrl+s": "school_update", "ctrl+o": "school_update"}  # noqa: RUF012

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+t", "test", "Test connection"),
        Binding("ctrl+o", "change_mis", "Change MIS"),
        Binding("down", "app.focus_next", "Next field", show=False),
        Binding("up", "app.focus_previous", "Previous field", show=False),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, store, dfe: str) -> None:
        super().__init__(store, dfe)
        self.school: School | None = None
        self.mis = ""
        self.allowed: frozenset[str] = frozenset()
        self.has_secret = False
        self._loading = True

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"AutoUpdate settings {self.dfe}")
        with VerticalScroll(id="form"):
            yield from self.form_rows()
            with Horizontal(classes="form-row"):
                yield Static("Schedule", classes="form-label")
                yield TickBox("Paused: not run by the schedule", False, id="paused")
            with Horizontal(classes="form-row"):
                yield Static("", classes="form-label")
                yield Static(
                    Text(
                        ", ".join(REPORT_LABELS[r] for r in UNSUPPORTED_REPORTS) + ": not for IRIS",
                        style="dim",
                    )
                )
            yield Static("", id="status", classes="summary")
        yield Footer()

    def on_mount(self) -> None:
        if not self.app.may("school_update"):
            # read only: the save would be refused (sync.access) and ctrl+s / ctrl+o are greyed
            for box in self.query("Input, Checkbox"):
                box.disabled = True
            self.set_status(Text("Read only: changing settings needs the admin role.", "bold"))
        # keys typed with the one that opened it (e down down 0 8 : 1 5 ctrl+s) are for the
        # filled form: typed into it before the read, they were overwritten by it
        self.hold_keys_while_opening()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "change_mis") and not self.app.may("school_update"):
            return None  # shown greyed
        return True

    @in_thread("settings-load", failure="Cannot read the settings")
    def load(self) -> None:
        school = self.store.school(self.dfe)
        allowed = self.store.allowed_mis_hosts()
        has_secret = self.store.has_secret(self.dfe)
        self.app.call_from_thread(self._fill, school, allowed, has_secret)

    def _fill(
        self, school: School, allowed: frozenset[str], has_secret: bool, first: bool = True
    ) -> None:
        """The form filled from `school`; the cursor to its first field when `first` (not
        after a save: the keys typed after ctrl+s went on in the field it had left, the
        `down down 1 5` meant for Hold at least put 15 in the Client ID, saved)."""
        self._loading = True
        self.school = school
        self.mis = school.mis
        self.allowed = allowed
        self.has_secret = has_secret
        self.title = f"Settings {school.dfe}"
        self.query_one("#title", Static).update(
            Text.assemble(
                ("AutoUpdate settings  ", "bold"),
                (f"{school.dfe}  ", "bold"),
                plain(school.name, "bold"),
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        values = {
            "name": clean(school.name),
            "url": school.url,
            "client_id": clean(school.client_id),
            "secret": "",
            "daily_at": school.daily_at,
            "hold_percent": f"{school.hold_percent:g}",
            "hold_min": str(school.hold_min),
            "create_before_start_days": str(school.create_before_start_days),
        }
        for field, value in values.items():
            self.query_one(f"#f-{field}", Input).value = value
        self._secret_placeholder()
        self.query_one("#r-staff", Checkbox).value = "staff" in school.reports
        self.query_one("#r-students", Checkbox).value = "students" in school.reports
        self.query_one("#paused", Checkbox).value = school.paused
        self._show_mis()
        self._loading = False
        self.validate_all()
        if first:
            self.query_one("#f-name", Input).focus()
        self.shown_first()

    def _moves_server(self) -> bool:
        """Whether the URL typed is on another server than the stored one (its secret is not
        sent there: sync.admin.update_school asks for that server's)."""
        return self.school is not None and secret_goes_elsewhere(
            self.school.url, self.value("url").strip()
        )

    @on(Input.Changed, "#f-url")
    def _url_changed(self) -> None:
        if self.checking():  # another server asks for its secret, as soon as it is typed
            self._secret_placeholder()
            self.validate_field("secret")

    def _secret_placeholder(self) -> None:
        box = self.query_one("#f-secret", Input)
        if self.mis != (self.school.mis if self.school else self.mis):
            box.placeholder = "required: the new MIS's secret"
        elif self._moves_server():
            box.placeholder = "required: the new server's secret"
        elif self.has_secret:
            box.placeholder = "•••••••• set; type to replace"
        else:
            box.placeholder = "not set; type it"

    def _show_mis(self) -> None:
        text = Text(self.mis, style="bold", end="")
        if self.school is not None and self.mis != self.school.mis:
            text.append(f"  (changing from {self.school.mis}; saved with ctrl+s)", style="yellow")
        elif self.app.may("school_update"):  # (read only: the key is refused)
            text.append("   ctrl+o changes the MIS", style="dim")
        self.query_one("#mis-value", Static).update(text)

    # -- validation -------------------------------------------------------------------------------

    def check(self, field: str) -> object:
        """The field's value, parsed; raises InvalidInput with the one-line reason (the same
        checks as sync.admin.update_school, so what is shown here is what saving says)."""
        from uso_tui.sync.admin import check_school_change, check_secret  # noqa: PLC0415

        if field == "reports":
            return list(check_reports(self.reports()))
        value = self.value(field)
        if field == "url":
            stored = self.school is not None and value in (self.school.url, clean(self.school.url))
            return check_mis_url(value, self.mis, self.allowed, typed=not stored)
        if field == "secret":
            if not value:
                if self.school is not None and self.mis != self.school.mis:
                    raise InvalidInput("changing the MIS needs the new Client Secret")
                if self._moves_server():
                    raise InvalidInput(
                        "another server needs its Client Secret: the one stored is sent only "
                        f"to {mis_origin(self.school.url)}"
                    )
                if not self.has_secret:
                    raise InvalidInput("no Client Secret is set yet")
                return None
            return check_secret(value)
        if field in ("name", "client_id", "daily_at"):
            return check_school_change(field, value)
        if field in ("hold_percent", "hold_min", "create_before_start_days"):
            return check_school_change(field, value.strip())
        raise KeyError(field)

    def checking(self) -> bool:
        return not self._loading

    # -- actions ----------------------------------------------------------------------------------

    def changes(self) -> tuple[dict, str | None]:
        """(changed settings, new secret or None) from a valid form."""
        assert self.school is not None
        school = self.school
        new = {
            "name": self.check("name"),
            "mis": self.mis,
            "url": self.check("url"),
            "client_id": self.check("client_id"),
            "reports": self.check("reports"),
            "daily_at": self.check("daily_at"),
            "hold_percent": self.check("hold_percent"),
            "hold_min": self.check("hold_min"),
            "create_before_start_days": self.check("create_before_start_days"),
            "paused": self.query_one("#paused", Checkbox).value,
        }
        # text fields show the stored value cleaned of control characters: unchanged if equal
        changed = {
            k: v
            for k, v in new.items()
            if getattr(school, k) != v
            and not (isinstance(v, str) and clean(getattr(school, k)) == v)
            and not (k == "url" and kept_url(school.url) == v)  # (stored before in another form)
        }
        return changed, self.check("secret")  # type: ignore[return-value]

    def action_save(self) -> None:
        if self.school is None:
            return
        if not self.validate_all():
            self.refuse("Not saved: fix the fields marked above.")
            return
        changes, secret = self.changes()
        if not changes and not secret:
            self.set_status(Text("Nothing to save.", style="dim"))
            return
        self.set_status(Text("Saving…"))
        self.hold_keys()  # keys typed ahead (escape to leave) act once it is saved
        self.save(changes, secret)

    @in_thread("settings-save")
    def save(self, changes: dict, secret: str | None) -> None:
        from uso_tui.sync.admin import ChangedSince, moved_mis_note, update_school  # noqa: PLC0415

        read, conflict = self.school, []

        def act() -> School:
            try:
                return update_school(
                    self.store,
                    self.dfe,
                    operator=self.operator,
                    now=self.now(),
                    secret=secret,
                    read=read,
                    **changes,
                )
            except ChangedSince as exc:
                conflict.append(exc.changed)
                raise

        saved = attempt(act, error_text)
        if conflict:
            now = attempt(lambda: self.store.school(self.dfe), error_text)
            if now.error is None:
                self.app.call_from_thread(self._changed_since, now.value, conflict[0], changes)
                return
        if saved.error is not None:
            self.app.call_from_thread(self._not_saved, f"Not saved: {saved.error}")
            return
        what = ", ".join(self.LABELS.get(k, k) for k in sorted(changes))
        if secret:
            what = f"{what} and the secret" if what else "the secret"
        note = moved_mis_note(saved.value, changes) if saved.value is not None else ""
        self.app.call_from_thread(self._saved, saved.value, what or "nothing", note)

    def _changed_since(self, school: School, changed: dict, mine: dict) -> None:
        """Another operator saved some of the settings changed here since the form was read:
        nothing saved; the form shows the stored settings but for those changed here, and a
        second ctrl+s saves them over the others' (seen now)."""
        typed = {f: self.value(f) for f in mine if f in {name for name, _, _ in self.FIELDS}}
        typed["secret"] = self.value("secret")  # (never among the settings: kept as typed)
        ticks = {f: self.query_one(f"#{f}", Checkbox).value for f in ("paused",) if f in mine}
        boxes = {r: self.query_one(f"#r-{r}", Checkbox).value for r in REPORTS if "reports" in mine}
        mis = self.mis
        self._fill(school, self.allowed, self.has_secret, first=False)
        self._loading = True
        for field, value in typed.items():
            self.query_one(f"#f-{field}", Input).value = value
        for field, value in ticks.items():
            self.query_one(f"#{field}", Checkbox).value = value
        for report, value in boxes.items():
            self.query_one(f"#r-{report}", Checkbox).value = value
        if "mis" in mine:
            self.mis = mis
            self._show_mis()
        self._secret_placeholder()
        self._loading = False
        self.validate_all()
        said = "; ".join(
            f"{self.LABELS.get(f, f)} {_shown(was)} -> {_shown(now)}"
            for f, (was, now) in changed.items()
        )
        self.refuse(
            f"Not saved: changed by someone else since this form was read ({said}). "
            "ctrl+s again saves yours over it."
        )
        self.keys_go()

    def _not_saved(self, line: str) -> None:
        self.refuse(line)
        self.keys_go()

    def _saved(self, school: School, what: str, note: str = "") -> None:
        self.has_secret = self.has_secret or bool(self.value("secret"))
        self._fill(school, self.allowed, self.has_secret, first=False)
        status = Text(f"Saved: {what}.", style="bold green")
        if note:
            status.append(f"\n{note}: ctrl+t tests them.", style="yellow")
        self.set_status(status)
        self.say(f"Settings of {school.dfe} saved")
        self.keys_go()

    def action_change_mis(self) -> None:
        if self.school is None:
            return
        other = next(k for k in MIS_KINDS if k != self.mis)

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            self.mis = other
            url = self.query_one("#f-url", Input)
            domain = MIS_DOMAINS[other]
            url.value = ""
            url.placeholder = f"https://<school>.{domain}"
            self.query_one("#f-client_id", Input).value = ""
            self.query_one("#f-secret", Input).value = ""
            self._secret_placeholder()
            self._show_mis()
            self.validate_all()
            url.focus()
            self.set_status(
                Text(f"MIS set to {other}: enter its URL, Client ID and Secret, then ctrl+s.")
            )

        self.app.push_screen(
            Confirm(
                f"Change MIS from {self.mis} to {other}?",
                f"The school's MIS URL, Client ID and Client Secret must be replaced with the ones "
                f"IRIS issued for {other}. Nothing is saved until ctrl+s.",
                yes="Change",
                no="Keep",
            ),
            answer,
        )

    def action_test(self) -> None:
        if self.school is None:
            return
        for field in ("url", "client_id", "reports"):
            if not self.validate_field(field):
                self.focus_error(field)  # as a refused save does: typing mends that field
                self.refuse("Fix the fields marked above to test.")
                return
        trial = replace(
            self.school,
            mis=self.mis,
            url=self.check("url"),
            client_id=self.check("client_id"),
            reports=self.check("reports"),
        )
        secret = self.value("secret") or None
        if secret is None and (
            not self.has_secret or self.mis != self.school.mis or self._moves_server()
        ):
            self.focus_error("secret")
            self.refuse("Type the Client Secret to test.")
            return
        self.set_status(Text("Testing connection: getting a token…", style="bold cyan"))
        self.connection_test(self.dfe, trial, secret)

    def unsaved(self) -> bool:
        if self.school is None:
            return False
        try:
            changes, secret = self.changes()
        except UsoError:
            return True  # an invalid edit is an unsaved change
        return bool(changes or secret)
