"""User Request Single from the console (the school hub's `r`): an account made ahead of the MIS
record, which links to it automatically when the record arrives with the same details.

The form asks role, names and date of birth; enter on the last field looks first (in a worker):
an account of the school that `account add` would refuse as a duplicate is shown and nothing can
be created; the same names and date of birth at another school, and a record of the school's
latest export that is this person (waiting in the matching queue, a future starter, excluded,
invalid), are shown as warnings. `y` creates (sync.admin.add_account), `n`/escape goes back to
the form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from uso_tui.domain.errors import InvalidInput, NeedsConfirmation
from uso_tui.domain.models import Account
from uso_tui.domain.names import normalise
from uso_tui.store import AccountHit
from uso_tui.tui.applying import attempt, error_text
from uso_tui.tui.format import accounts_list, plain
from uso_tui.tui.widgets import Confirm, ConfirmForce, LineInput, SchoolForm
from uso_tui.tui.workers import in_thread

FIELDS = [
    ("role", "Role", "pupil or staff"),
    ("forename", "Forename", ""),
    ("surname", "Surname", ""),
    ("dob", "Date of birth", "YYYY-MM-DD or DD/MM/YYYY"),
]


@dataclass(slots=True)
class Request:
    role: str
    forename: str
    surname: str
    dob: str
    duplicate: AccountHit | None = None  # `account add` refuses it: the same person is here
    elsewhere: list[AccountHit] = field(default_factory=list)
    # records of the school's latest export with these details, no account made for them
    in_export: list[dict] = field(default_factory=list)
    # active accounts of the local authority the matcher takes for probably this person (a
    # spelling of the name, a known-as form, a date slip), each with its score
    alike: list[tuple[AccountHit, int]] = field(default_factory=list)
    # the school's exclusion entry the person's record would be excluded by (its id)
    excluded: int | None = None
    # unallocated accounts of `elsewhere` an operator may restore (the person's own, probably)
    restorable: list[AccountHit] = field(default_factory=list)
    # accounts of the other role with the same names and date of birth (the role left wrong?)
    other_role: list[AccountHit] = field(default_factory=list)


# What became of a record of the school's latest export that has no account (why_index's
# outcomes), said to an operator about to request one for the same person.
NO_ACCOUNT_BECAUSE = {
    "needs_matching": "in the matching queue (m): decide it there",
    "future": "a future starter: its account comes when it starts",
    "excluded": "on the school's exclusion list",
    "invalid": "invalid in the MIS",
    "held": "held with its export",
}


@dataclass
class Made:
    """What the form gives back once the account is made: it, and what happens next."""

    account: Account
    next: str


def made_note(request: Request) -> str:
    """What happens to an account just requested: it links to its record when the record
    arrives with the same details, unless the record is already in the school's export waiting
    in the matching queue (then the school's next run makes it one of that case's candidates)."""
    active = [hit.username for hit in request.elsewhere if hit.status == "active"]
    if active:  # made anyway (F): said as the command line says it
        return (
            f"{', '.join(active)} elsewhere has the same names and date of birth: if that is "
            "this person, they now have two accounts (Possible duplicates lists the pair)"
        )
    if request.alike:
        return (
            f"{', '.join(hit.username for hit, _ in request.alike)} is probably this person: "
            "if so, they now have two accounts"
        )
    if request.restorable:
        gone = request.restorable[0].username
        return (
            f"{gone} (unallocated) has the same names and date of birth: if that is this "
            f"person, matching their record to {gone} (or restoring it) would have kept them "
            "to one account"
        )
    waiting = [r for r in request.in_export if r.get("outcome") == "needs_matching"]
    if waiting:
        which = ", ".join(f"{r.get('report')} record {r.get('mis_id')}" for r in waiting)
        return (
            f"its record ({which}) waits in the matching queue: the school's next run (or a "
            "force run, f) makes it one of that case's candidates, to match there"
        )
    return "it links to the MIS record when it arrives"


def request_text(request: Request, dfe: str) -> Text:
    out = Text(end="")
    out.append(f"A {request.role} account at {dfe} for ")
    out.append_text(plain(f"{request.forename} {request.surname}", "bold"))
    out.append(f", born {request.dob}.\n")
    if request.duplicate is not None:
        duplicate = request.duplicate
        out.append("\n")  # plain() would show a line break inside it as a symbol
        out.append_text(
            plain(
                f"Refused: {duplicate.username} ({duplicate.forename} {duplicate.surname}, "
                f"{duplicate.status}) already is this "
                f"{request.role} at {dfe}: a second account would stop the automatic link.",
                "bold red",
            )
        )
        return out
    out.append("The username is made from the name; it links to the MIS record by itself when ")
    out.append("the record arrives with the same details.\n")
    out.append_text(
        accounts_list(
            "The same names and date of birth elsewhere (the same person? match their record "
            "to it, or restore it, instead):",
            request.elsewhere,
        )
    )
    if request.restorable:
        from uso_tui.sync.admin import restorable_first  # noqa: PLC0415

        gone = restorable_first(request.restorable, dfe)
        out.append_text(
            plain(
                f"{gone.username} was this school's: restore it instead (Bulk results, "
                "Unallocated, r), and they keep one account."
                if gone.home == dfe
                else f"{gone.username} comes here with their record's match case when it "
                f"arrives (a restore would put it back at {gone.home}).",
                "bold yellow",
            )
        )
        out.append("\n")
    if request.excluded is not None:
        out.append("\n")  # (plain() would show a line break inside it as a symbol)
        out.append_text(
            plain(
                f"On the school's exclusion list (entry {request.excluded}): the person's MIS "
                "record is excluded and never joins this account; remove the entry first "
                "(Bulk results, exclusions).",
                "bold yellow",
            )
        )
        out.append("\n")
    if request.alike:
        out.append(
            "\nProbably this person (a spelling, a known-as name, a date slip: match them "
            "instead):\n",
            style="bold yellow",
        )
        for hit, score in request.alike:
            line = (
                f"  {hit.username}  {hit.forename} {hit.surname}  {hit.dob}  {hit.school}  {score}%"
            )
            out.append_text(plain(line))
            out.append("\n")
    if request.other_role:
        from uso_tui.sync.admin import other_role_said  # noqa: PLC0415

        out.append("\n")  # (plain() would show a line break inside it as a symbol)
        said = other_role_said(request.role, request.other_role, "the Role field")
        out.append_text(plain(f"{said}.", "bold yellow"))
        out.append("\n")
    if request.in_export:
        out.append("\nThis person is in the school's latest export, with no account:\n")
        for record in request.in_export:
            why = NO_ACCOUNT_BECAUSE.get(record["outcome"], record["outcome"])
            if record["outcome"] == "future" and record.get("enrolment_date"):
                why += f" ({record['enrolment_date']})"
            line = f"  {record.get('report')} {record.get('mis_id')}: {why}"
            out.append_text(plain(line, "bold yellow"))
            out.append("\n")
    return out


class RequestAccountForm(SchoolForm[Account]):
    """Dismissed with the account made, or None."""

    BINDINGS = [
        Binding("down", "app.focus_next", "Next field", show=False),  # as the other forms
        Binding("up", "app.focus_previous", "Previous field", show=False),
    ]

    DEFAULT_CSS = """
    RequestAccountForm .form-row { height: 1; }
    RequestAccountForm #req-error { height: auto; color: $error; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                plain(f"Request an account at {self.dfe} (User Request Single)", "bold"),
                classes="dialog-title",
            )
            for key, label, hint in FIELDS:
                with Horizontal(classes="form-row"):
                    yield Static(label, classes="form-label")
                    yield LineInput(
                        value="pupil" if key == "role" else "", placeholder=hint, id=f"req-{key}"
                    )
            yield Static("", id="req-error")
            yield Static(
                Text("enter next / check   escape cancel", style="dim"), classes="dialog-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#req-forename", Input).focus()

    def value(self, key: str) -> str:
        return self.query_one(f"#req-{key}", Input).value.strip()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        # what the form said was wrong was said of the values checked, not of these
        self.query_one("#req-error", Static).update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id != "req-dob":
            self.app.action_focus_next()
            return
        self.hold_keys()  # a `y` typed ahead answers the question, not the date's field
        self.look(
            self.value("role"), self.value("forename"), self.value("surname"), self.value("dob")
        )

    @in_thread("request-look")
    def look(self, role: str, forename: str, surname: str, dob: str) -> None:
        from uso_tui.sync.admin import (  # noqa: PLC0415
            alike_active,
            check_dob,
            check_new_name,
            check_new_names,
            check_role,
            on_exclusion_list,
            other_role_hits,
            restorable_hits,
            same_person,
            same_person_in_export,
        )

        checking = ["forename"]  # the field checked when a check refuses: focused to mend it

        def read() -> tuple[Request, list[AccountHit]]:
            check_new_name(forename, "forename")  # refused before the question, not after it
            checking[0] = "surname"
            check_new_name(surname, "surname")
            checking[0] = "forename"
            check_new_names(forename, surname)  # (the username the two make)
            checking[0] = "role"
            checked_role = check_role(role)
            checking[0] = "dob"
            request = Request(checked_role, forename, surname, check_dob(dob, self.now().date()))
            checking[0] = ""
            key = (normalise(forename), normalise(surname), request.dob)
            request.in_export = same_person_in_export(
                self.store, self.dfe, request.role, forename, surname, request.dob
            )
            entry = on_exclusion_list(self.store, self.dfe, forename, surname, request.dob)
            request.excluded = entry.id if entry is not None else None
            return request, self.store.find_people(request.role, set(), {key})

        # bad input and store errors: shown in the form
        looked = attempt(read, lambda exc: str(exc) if isinstance(exc, InvalidInput) else (
            f"Cannot check the request: {error_text(exc)}"))  # fmt: skip
        if looked.value is None:
            self.app.call_from_thread(self._error, looked.error or "", checking[0])
            return
        request, hits = looked.value
        for hit in hits:
            if not same_person(hit, request.role, request.forename, request.surname, request.dob):
                continue
            if hit.school == self.dfe and request.duplicate is None:
                request.duplicate = hit
            elif hit.school != self.dfe:
                request.elsewhere.append(hit)
        if request.duplicate is None:
            # as add_account asks: probably this person, under another spelling or date
            listed = {hit.username for hit in hits}
            looked_alike = attempt(
                lambda: alike_active(
                    self.store, self.dfe, request.role, request.forename, request.surname,
                    request.dob, listed,
                )
            )  # fmt: skip
            request.alike = looked_alike.value or []
            # as add_account asks: the person's own account, unallocated, to restore instead
            looked_gone = attempt(lambda: restorable_hits(self.store, request.elsewhere))
            request.restorable = looked_gone.value or []
            looked_other = attempt(
                lambda: other_role_hits(
                    self.store, request.role, request.forename, request.surname, request.dob
                )
            )
            request.other_role = looked_other.value or []
        self.app.call_from_thread(self._ask, request)

    def _ask(self, request: Request) -> None:
        self.query_one("#req-error", Static).update("")

        from uso_tui.tui.screens.listing import Details  # noqa: PLC0415

        if request.duplicate is not None:  # `account add` would refuse it: nothing to confirm
            self.app.push_screen(
                Details("Not created: a duplicate", request_text(request, self.dfe))
            )
            self.keys_go()
            return

        # the person seems to have an account at another school (a mover keeps it): asked as
        # the command line refuses it without --force, answered by F only, and read first
        second = (
            any(hit.status == "active" for hit in request.elsewhere)
            or bool(request.alike)
            or bool(request.restorable)
            or bool(request.other_role)
        )
        moved = second or request.excluded is not None

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()  # keys typed ahead are for the screen the form returns to
                self.create(request, force=moved)

        if moved:
            self.app.drop_typed_ahead(
                "the question names the account the person may have already"
                if second
                else "the question names the exclusion list's entry"
            )
        ask = ConfirmForce if moved else Confirm
        self.app.push_screen(
            ask(
                "Create a second account?"
                if second
                else "Create it for a person on the exclusion list?"
                if moved
                else "Create this account?",
                request_text(request, self.dfe),
                yes="Create anyway" if moved else "Create",
                no="Back to the form",
            ),
            answer,
        )
        self.keys_go()

    @in_thread("request-create")
    def create(self, request: Request, force: bool = False) -> None:
        from uso_tui.sync.admin import add_account  # noqa: PLC0415

        # InvalidInput (a duplicate meanwhile): shown in the form
        created = attempt(
            lambda: add_account(
                self.store,
                self.dfe,
                role=request.role,
                forename=request.forename,
                surname=request.surname,
                dob=request.dob,
                operator=self.operator,
                now=self.now(),
                force=force,
            ),
            # said as every screen says a failure (a full disk said only "[Errno 28] ...")
            lambda exc: f"Not created: {_said_here(exc)}",
        )
        if created.error is not None:
            self.app.call_from_thread(self._error, created.error)
            return
        self.app.call_from_thread(self._created, Made(created.value, made_note(request)))

    def _created(self, made: Made) -> None:
        self.dismiss(made)
        self.keys_go()

    def _error(self, message: str, field: str = "") -> None:
        self.query_one("#req-error", Static).update(plain(message, "bold"))
        if field:  # the cursor where the mending is (it stayed in the date of birth)
            self.query_one(f"#req-{field}", Input).focus()
        # keys typed after the enter were for the question it would have led to, not the fields
        self.app.drop_typed_ahead("the form says what is wrong")
        self.keys_go()


# add_account's refusal names the command line's way past it (`--force makes ...`)
_FORCE_SAID = re.compile(r"--force (makes|creates)[^.;]*")


def _said_here(exc: Exception) -> str:
    """A failure as the form says it: a refusal under the lock (an account like the person's
    made since the form looked) names the form's way past it, not the command line's --force."""
    text = error_text(exc)
    if isinstance(exc, NeedsConfirmation):
        text = _FORCE_SAID.sub("enter looks again and asks before creating it anyway", text)
    return text
