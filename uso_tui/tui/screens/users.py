"""Users: find any account by name, username or date of birth across every school, and the
"Latest move or create" feed; enter opens an account with its history from the audit log.

The search runs in a thread worker after a short pause in typing (the store reads its compact names
index, one file per school); only the newest search's answer is shown.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from uso_tui.domain.dates import no_such_dates
from uso_tui.domain.models import Account, AuditEvent, MisRecord
from uso_tui.sync.actions import restorable
from uso_tui.sync.restore_look import RestoreLook
from uso_tui.tui.format import (
    RESTORE_WARNED,
    change_summary,
    clean,
    event_details,
    full_name,
    kv_grid,
    newest_first,
    plain,
    restore_warnings,
    when,
    words,
)
from uso_tui.tui.keys_in_turn import Shown
from uso_tui.tui.screens.listing import (
    Col,
    Details,
    ListScreen,
    ListTable,
    ReloadingListScreen,
    Row,
    cells,
    event_keys,
    haystack,
)
from uso_tui.tui.widgets import Confirm, LineInput
from uso_tui.tui.workers import in_thread

SEARCH_DELAY = 0.15
SEARCH_FAILED = "Search failed"
SEARCH_LIMIT = 500
FEED_LIMIT = 500
KIND_WORD = {"create": "+ new", "move": "> move"}  # words, so NO_COLOR keeps the meaning


def _where(entry: AuditEvent) -> str:
    """`204-2308` for a create, `204-3210 > 204-2308` for a move (its audit diff holds only the
    fields that changed: the school it left is `before.school`, else the `previous_school` the
    move recorded; an unallocated account moves from no school)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    to = after.get("school") or entry.school or "-"
    if entry.action == "move":
        came = before.get("school") or after.get("previous_school") or before.get("previous_school")
        return f"{clean(came or '?')} > {clean(to)}"
    return clean(to)


def _names(entry: AuditEvent, people: dict[str, tuple[str, str]]) -> str:
    """The names the event changed to, else the account's names now (a move's diff has none)."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    now = people.get(entry.subject, ("", ""))
    forename = after.get("forename") or before.get("forename") or now[0]
    surname = after.get("surname") or before.get("surname") or now[1]
    return full_name(forename, surname)


def undone_at(events: list[AuditEvent]) -> dict[str, str]:
    """subject -> when its latest undo (undo_match, undo_create...) happened."""
    out: dict[str, str] = {}
    for entry in events:
        if entry.action.startswith("undo") and entry.at > out.get(entry.subject, ""):
            out[entry.subject] = entry.at
    return out


def people_of(store, usernames: set[str]) -> dict[str, tuple[str, str]]:
    """username -> (forename, surname) now, read from the compact indexes of their LAs."""
    out: dict[str, tuple[str, str]] = {}
    for la in sorted({u.rsplit(".", 1)[-1] for u in usernames if "." in u}):
        for hit in store.la_people(la):
            if hit.username in usernames:
                out[hit.username] = (hit.forename, hit.surname)
    return out


class UsersScreen(ReloadingListScreen):
    kind = "users"
    latest_table = getters.query_one("#latest", ListTable)
    hits_table = getters.query_one("#hits", ListTable)
    search_box = getters.query_one("#search", Input)
    TITLE = "Users"
    EXPORT_LIST = "accounts"  # every account of the store (the school's, from its hub)
    WIDE_KEYS = ("export",)

    DEFAULT_CSS = """
    UsersScreen #search { height: 1; border: none; padding: 0 1; background: $boost; }
    UsersScreen #search:focus { background: $primary-background; }
    """

    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("l", "latest", "Latest"),
        Binding("w", "why", "Why no account?"),
        ReloadingListScreen.EXPORT_BINDING_UNSHOWN,
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("escape", "escape", "Back"),
        Binding("g", "reload", "Reload", show=False),
        # reaches the screen only from the search box (a focused table moves its own cursor)
        Binding("down", "to_table", "To the list", show=False),
        # (tab too: it moved to the latest accounts still shown, and enter opened another's)
        Binding("tab", "tab_to_table", "To the list", show=False),
        Binding("shift+tab", "tab_to_table(True)", "To the list", show=False),
    ]

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, None)
        self._search_timer: Timer | None = None
        self.query_text = ""
        self._failed: tuple[str, str] | None = None  # (the search, its failure) said in the title

    def compose(self) -> ComposeResult:
        yield self.title_bar("Users: latest move or create")
        yield LineInput(
            placeholder="/ to search: name, username or date of birth (YYYY-MM-DD or DD/MM/YYYY)",
            id="search",
        )
        yield ListTable(
            [
                Col("When", "when", 16),
                # at 80 columns a move shows by its "from > to" school: the names have the room
                Col("Kind", "kind", 6, wide=True),
                Col("Username", "username", 20, ends=True, fit=True),
                Col("Name", "name", None, 12),
                Col("School", "school", 19, fit=True),  # "204-3210 > 204-2308" for a move
                Col("Operator", "operator", 10, wide=True),
            ],
            id="latest",
            openable=True,
        )
        yield ListTable(
            [
                # usernames and "(204-2714)" (an unallocated account's last school) whole at 80
                # columns; the role there shows by the date of birth and on the account
                Col("Username", "username", 18, ends=True),
                Col("Name", "name", None, 12),
                Col("Born", "dob", 10),
                Col("Role", "role", 5, wide=True),
                Col("School", "school", 10),
                Col("Status", "status", 11),
            ],
            id="hits",
            openable=True,
        )
        yield Static("", id="empty", classes="hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#hits").display = False
        self.latest_table.focus()
        self.hold_keys_while_opening()
        self.load_latest()

    def active_table(self) -> ListTable:
        return self.query_one("#hits" if self.query_text.strip() else "#latest", ListTable)

    def action_why(self) -> None:
        """ "Why has this account not been created?": the latest exports of every school."""
        self.app.open_screen("why")

    # -- latest move or create ----------------------------------------------------------------

    @in_thread("users-latest", failure="Cannot read the latest moves")
    def load_latest(self) -> None:
        events = self.store.latest_moves(FEED_LIMIT)
        events.sort(key=newest_first)
        undone = undone_at(self.store.audit(None))
        nameless = {
            entry.subject
            for entry in events
            if not isinstance(entry.after, dict)
            or not (entry.after.get("forename") and entry.after.get("surname"))
        }
        people = people_of(self.store, nameless) if nameless else {}
        rows = []
        for key, entry in zip(event_keys(events), events, strict=True):
            name = _names(entry, people)
            gone = undone.get(entry.subject, "") >= entry.at
            if gone:  # undone since: kept in the feed, marked so nobody acts on it
                kind = Text("undone", style="dim strike")
            else:
                kind = Text(
                    KIND_WORD.get(entry.action, entry.action),
                    style="bold" if entry.action == "move" else "",
                )
            rows.append(
                Row(
                    key=key,
                    cells=cells(
                        when(entry.at), kind, entry.subject, name, _where(entry), entry.operator
                    ),
                    haystack=haystack(
                        entry.subject, name, entry.school, entry.action, "undone" if gone else ""
                    ),
                    data=entry.subject,
                )
            )
        self.app.call_from_thread(self._latest_loaded, rows)

    def _latest_loaded(self, rows: list[Row]) -> None:
        self.latest_table.set_rows(rows)
        self._update_title()
        self.shown_first()

    # -- search -------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.search_box.focus()

    def action_tab_to_table(self, backward: bool = False) -> None:
        """Tab from the search box: to the hits of what it says (to_table); from a list, the
        focus moves on as anywhere else."""
        if not self.search_box.has_focus:
            self.focus_previous() if backward else self.focus_next()
            return
        self.action_to_table()

    def action_to_table(self) -> None:
        box = self.search_box
        if self._search_timer is not None:
            self._search_timer.stop()
        if box.value != self.query_text:
            self._hold_for_hits(box.value)
            self._show_search(box.value)
        self.active_table().focus()

    def action_latest(self) -> None:
        box = self.search_box
        box.value = ""
        self._show_search("")
        self.latest_table.focus()

    @on(Input.Changed, "#search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, lambda: self._show_search(event.value))

    @on(Input.Submitted, "#search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._hold_for_hits(event.value)
        self._show_search(event.value)
        self.active_table().focus()

    def _hold_for_hits(self, text: str) -> None:
        """Keys typed ahead (enter opens the first hit) wait for this search's hits, not act on
        the list shown before them."""
        if text.strip():
            self.hold_keys()

    def _show_search(self, text: str) -> None:
        self.query_text = text
        self._failed = None
        searching = bool(text.strip())
        hits, latest = self.query_one("#hits"), self.query_one("#latest")
        hidden = latest if searching else hits
        hits.display = searching
        latest.display = not searching
        if hidden.has_focus:  # never leave the focus on a list that is not shown
            (hits if searching else latest).focus()
        if searching:
            self.search(text)
        self._update_title()

    @in_thread("users-search", failure=SEARCH_FAILED)
    def search(self, text: str) -> None:
        hits = self.store.search_accounts(text, limit=SEARCH_LIMIT)
        rows = []
        for hit in hits:
            status = hit.status if hit.school else f"{hit.status}"
            rows.append(
                Row(
                    key=hit.username,
                    cells=cells(
                        hit.username,
                        full_name(hit.forename, hit.surname, hit.preferred_name),
                        hit.dob or "-",
                        hit.role,
                        hit.school or f"({hit.home})",
                        Text(status, style="" if hit.status == "active" else "bold yellow"),
                    ),
                    haystack=haystack(hit.username, hit.forename, hit.surname),
                    data=hit.username,
                )
            )
        self.app.call_from_thread(self._hits_loaded, text, rows)

    def _hits_loaded(self, text: str, rows: list[Row]) -> None:
        if text != self.query_text:
            return  # an older search finished after a newer one started
        self._failed = None
        self.hits_table.set_rows(rows)
        self._update_title()
        self.keys_go()

    def worker_failed(self, line: str) -> None:
        """A search that failed is said as failed, its list empty (no one found would read as no
        such account, and an operator might ask for a second one), and the keys typed after it
        are dropped: enter would open a hit of the search before."""
        if line.startswith(SEARCH_FAILED) and self.query_text.strip():
            self._failed = (self.query_text, line)
            self.hits_table.set_rows([])
            if self._release_keys is not None:  # held for its hits (enter), not letters typed
                self.app.drop_typed_ahead(  # type: ignore[attr-defined]
                    "the search failed", "search again (g, or enter in the search box)"
                )
            self._update_title()
        super().worker_failed(line)

    def _update_title(self) -> None:
        empty = self.query_one("#empty", Static)
        if self._failed is not None and self._failed[0] == self.query_text:
            title = Text("Users: the search for ", style="bold", end="")
            title.append_text(plain(repr(self.query_text.strip()), "bold"))
            title.append(" failed", style="bold red")
            empty.update(plain(self._failed[1], "bold red"))
        elif self.query_text.strip():
            count = len(self.hits_table.all_rows)
            more = f" (the first {SEARCH_LIMIT})" if count >= SEARCH_LIMIT else ""
            title = Text(f"Users: {count:,} found{more} for ", style="bold", end="")
            title.append_text(plain(repr(self.query_text.strip()), "bold"))
            empty.update(Text(_no_match(self.query_text) if count == 0 else "", end=""))
        else:
            count = len(self.latest_table.all_rows)
            title = Text(
                f"Users: latest move or create ({count:,}, newest first)", style="bold", end=""
            )
            empty.update("")
        title.no_wrap = True
        title.overflow = "ellipsis"
        self.query_one("#title", Static).update(title)

    def action_escape(self) -> None:
        box = self.search_box
        if box.value:
            self.action_latest()
            return
        if box.has_focus:
            self.latest_table.focus()
            return
        self.app.action_back()

    def action_reload(self) -> None:
        self.load_latest()
        if self.query_text.strip():
            self.search(self.query_text)

    # -- open ---------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.active_table().row(event.row_key.value)
        if row is not None:
            self.app.push_screen(AccountScreen(self.store, row.data))


def account_fields(account: Account, another: MisRecord | None = None) -> tuple[Table, Table]:
    """Two columns: who (names, role, birth) and where (status, school, link, dates);
    `another`: its linked record, listed as another person by the school's latest export (said
    under the link, with the keys that answer it)."""
    who: list[tuple[str, object]] = [
        ("Username", account.username),
        ("Forename", account.forename),
        ("Surname", account.surname),
        ("Preferred", account.preferred_name or "-"),
        ("Middle names", account.middle_names or "-"),
        ("Role", account.role),
        ("Born", account.dob or "-"),
    ]
    if account.email:
        who.append(("Email", account.email))
    extras = sorted(account.extra.items(), key=lambda kv: (EXTRA_ORDER.get(kv[0], 99), kv[0]))
    who += [(_extra_label(k), _extra_value(v)) for k, v in extras if k in ABOUT_THE_PERSON]
    pairs: list[tuple[str, object]] = [
        ("Status", account.status),
        ("School", account.school or "-"),
    ]
    if account.previous_school:
        pairs.append(("Last school", account.previous_school))
    if account.linked:
        pairs.append(("MIS link", f"{account.link_school} {account.link_report} {account.mis_id}"))
        if another is not None:
            born = another.dob or another.dob_raw or "no date"
            name = f"{another.forename or ''} {another.surname or ''}".strip() or "no name"
            pairs.append(("Record now", f"{name}, born {born}"))
            pairs.append(("", Text("another person?", "yellow")))
            pairs.append(("", Text("a: same  x: holder left", "yellow")))
    else:
        pairs.append(("MIS link", "none (non-MIS)"))
        pairs.append(("Reviewed", "yes, kept" if account.reviewed else "not yet"))
    pairs.append(("Source", _source_words(account)))
    if account.unallocated_at:
        pairs.append(("Unallocated", when(account.unallocated_at)))
        if account.unallocated_by_run:
            pairs.append(("  by run", account.unallocated_by_run))
    pairs.append(("Created", when(account.created_at) or "-"))
    if account.last_event:
        pairs.append(("Last event", f"{account.last_event} {when(account.last_event_at)}"))
    pairs += [(_extra_label(k), _extra_value(v)) for k, v in extras if k not in ABOUT_THE_PERSON]
    return kv_grid(who, width=13), kv_grid(pairs, width=13)


# The labels of the MIS fields an account keeps besides its names (sync.plan's extra), each
# within the 12 characters the account screen gives a label, in the order shown: those about
# the person beside the names, the rest (the school's) beside the account's status.
EXTRA_LABELS = {
    "upn": "UPN",
    "gender": "Gender",
    "title": "Title",
    "initials": "Initials",
    "year_group": "Year group",
    "form_group": "Form group",
    "enrolment_date": "Enrolled",
    "system_status": "MIS status",
    "is_teaching": "Teaching",
    "person_guid": "Person GUID",
}
EXTRA_ORDER = {key: position for position, key in enumerate(EXTRA_LABELS)}
ABOUT_THE_PERSON = frozenset(("upn", "gender", "title", "initials"))


def _was_now(account: Account, rec: MisRecord) -> Text:
    """The account beside its record, each name and date of birth (literally: MIS text)."""
    text = Text("\n  account: ")
    text.append_text(plain(f"{full_name(account.forename, account.surname)}, born {account.dob}"))
    text.append("\n  record:  ")
    text.append_text(plain(f"{full_name(rec.forename or '', rec.surname or '')}, born {rec.dob}"))
    return text


def _source_words(account: Account) -> str:
    """Where the account is kept from now, and, kept by hand, the run that made it (a restored
    account is kept by hand, though a run made it: "by hand" alone read as never the MIS's)."""
    if account.source == "mis":
        return "MIS export"
    first = account.history[0] if account.history else {}
    if first.get("action") == "create" and first.get("run_id"):
        return f"by hand now (made by run {first['run_id']})"
    return "by hand"


def _extra_label(key: str) -> str:
    label = EXTRA_LABELS.get(key) or key.replace("_", " ").capitalize()
    return label if len(label) <= 12 else label[:11] + "…"


def _extra_value(value: object) -> object:
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class AccountScreen(ListScreen):
    """One account: its fields and its history (audit events about it, newest first)."""

    kind = "account"
    # the footer's Restore follows the account shown (check_action)
    account: var[Account | None] = var(None, bindings=True)
    # its linked record, when the school's latest export listed it as another person
    another: var[MisRecord | None] = var(None, bindings=True)

    BINDINGS = [
        Binding("r", "restore", "Restore"),
        Binding("a", "accept_record", "Same person"),
        Binding("x", "release", "Holder left"),
        *ListScreen.LIST_BINDINGS,
        Binding("g", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    AccountScreen #account-fields { height: auto; max-height: 50%; }
    AccountScreen #account-fields Horizontal { height: auto; }
    AccountScreen #account-fields Static { width: 1fr; height: auto; padding: 0 1; }
    AccountScreen #history { height: 1fr; min-height: 4; }
    """

    def __init__(self, store, username: str) -> None:
        super().__init__(store, None)
        self.username = username
        self.title = f"Account {clean(username)}"
        # the account as shown, and when it first showed so: a key read before acts on nothing
        # (see _typed_blind)
        self._shown = Shown()

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Account {self.username}")
        with VerticalScroll(id="account-fields"), Horizontal():
            yield Static("loading…", id="fields", classes="loading")
            yield Static("", id="fields-where")
        yield self.filter_bar("filter history: action, school, operator (escape clears)")
        yield Static(Text("History (audit log, newest first)", style="bold"), classes="hint")
        yield ListTable(
            [
                Col("At", "at", 16),
                Col("Action", "action", 10),
                Col("School", "school", 8),
                Col("Operator", "operator", 10),
                Col("Change", "change", None, 10),
            ],
            id="history",
            openable=True,
        )
        yield Footer(compact=True)

    def active_table(self) -> ListTable:
        return self.query_one("#history", ListTable)

    def on_mount(self) -> None:
        self.active_table().focus()
        self.hold_keys_while_opening()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @in_thread("account-load", failure="Cannot read the account")
    def load(self) -> None:
        from uso_tui.sync.linked_record import listed_as_another  # noqa: PLC0415

        account = self.store.account(self.username)
        another = listed_as_another(self.store, account)
        events = self.store.audit(subject=self.username)
        events.sort(key=lambda e: e.at, reverse=True)
        if not events:  # no audit events kept: the account's own short history
            events = [
                AuditEvent(
                    at=h.get("at", ""),
                    operator="",
                    school=h.get("school"),
                    action=h.get("action", ""),
                    subject=self.username,
                    run_id=h.get("run_id"),
                )
                for h in reversed(account.history)
            ]
        rows = [
            Row(
                key=str(i),
                cells=cells(
                    when(e.at),
                    words(e.action),
                    e.school or "-",
                    e.operator,
                    change_summary(e.before, e.after),
                ),
                haystack=haystack(e.action, words(e.action), e.school, e.operator, e.run_id),
                data=e,
            )
            for i, e in enumerate(events)
        ]
        self.app.call_from_thread(self._show, account, rows, another)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore":
            return self.account is not None and restorable(self.account)
        if action in ("accept_record", "release"):
            return self.another is not None
        return True

    def why_not(self, key: str) -> str | None:
        account = self.account  # r is greyed on an account that cannot be restored
        if key != "r" or account is None or restorable(account):
            return None
        if account.status != "unallocated":
            return f"{account.username} is {account.status}: there is nothing to restore"
        return (
            f"{account.username} was created by mistake and undone: it is not restored "
            "(the record's next run matches or creates its account)"
        )

    def _typed_blind(self) -> bool:
        """Whether the key acting on the account was read before it showed as it is (`enter`
        `r` `y` on a list's row that came there after the keys): it does nothing, nor do the
        keys after it, and the console says so."""
        return self.typed_before(
            self._shown.at, "the account showed after them", "look at it, then act"
        )

    def action_restore(self) -> None:
        account = self.account
        if account is None or not restorable(account) or self._typed_blind():
            return
        self.hold_keys()  # a `y` typed ahead answers the question asked after the look
        self.look_before_restoring(account)

    @in_thread("account-restore-look", failure="Cannot look for the person's other accounts")
    def look_before_restoring(self, account: Account) -> None:
        from uso_tui.sync.restore_look import restore_look  # noqa: PLC0415

        self.app.call_from_thread(self._ask_restore, account, restore_look(self.store, [account]))

    def _ask_restore(self, account: Account, look: RestoreLook) -> None:
        body = plain(
            f"{account.username} ({full_name(account.forename, account.surname)}) "
            "becomes active again at "
            f"{account.previous_school or account.link_school or '?'} "
            "as a non-MIS account (no MIS link; listed "
            "in the non-MIS review; relinked if its record returns with the same details)."
        )
        body.append("\n")
        body.append_text(restore_warnings(*look))
        if look.warns():  # a `y` typed with the `r` came before it could be read
            self.app.drop_typed_ahead(RESTORE_WARNED)

        def answer(yes: bool | None) -> None:
            if yes:
                self.restore_it()

        self.app.push_screen(
            Confirm("Restore this account?", body, yes="Restore", no="Cancel"), answer
        )
        self.keys_go()

    def action_accept_record(self) -> None:
        account, rec = self.account, self.another
        if account is None or rec is None or self._typed_blind():
            return
        body = plain(
            f"Its MIS record {rec.mis_id} was listed as another person. If the school corrected "
            f"it and it is {account.username}'s person after all, the account takes its "
            "details now:"
        )
        body.append_text(_was_now(account, rec))
        self._ask_linked("Same person?", body, "Same person", lambda: self.accept_it(rec))

    def action_release(self) -> None:
        account, rec = self.account, self.another
        if account is None or rec is None or self._typed_blind():
            return
        body = plain(
            f"Its MIS record {rec.mis_id} now names another person. If {account.username}'s "
            "holder has left, the account is unallocated (kept, restorable) and its link "
            "dropped: the next run takes the record as a new person (matched, or given an "
            "account of their own)."
        )
        body.append_text(_was_now(account, rec))
        self._ask_linked(
            "The account's holder left?", body, "Unallocate", lambda: self.release_it(rec)
        )

    def _ask_linked(self, title: str, body: Text, yes: str, then: Callable[[], object]) -> None:
        def answer(ok: bool | None) -> None:
            if ok:
                then()

        # `enter a y` typed from Bulk results' list answered before the account and its record
        # were ever on screen: the answer gives the account another person's details, or takes
        # it from its holder
        self.app.drop_typed_ahead("the question shows the account beside its record")
        self.app.push_screen(Confirm(title, body, yes=yes, no="Cancel"), answer)

    def _acted(self, act: Callable[[], object], said: str) -> None:
        """In a worker: `act`, then the account read again, whatever came of it (refused, what
        was shown has changed since: look again); `said` once done."""
        try:
            act()
        except Exception:
            self.app.call_from_thread(self.load)
            raise
        self.app.call_from_thread(self.say, said)
        self.app.call_from_thread(self.load)

    @in_thread("account-accept-record", failure="Not changed", exclusive=False)
    def accept_it(self, shown: MisRecord) -> None:
        from uso_tui.sync.linked_record import accept_record  # noqa: PLC0415

        self._acted(
            lambda: accept_record(
                self.store, self.username, operator=self.operator, now=self.now(), as_shown=shown
            ),
            f"{self.username} takes its record's details",
        )

    @in_thread("account-release", failure="Not changed", exclusive=False)
    def release_it(self, shown: MisRecord) -> None:
        from uso_tui.sync.linked_record import release_account  # noqa: PLC0415

        self._acted(
            lambda: release_account(
                self.store, self.username, operator=self.operator, now=self.now(), as_shown=shown
            ),
            f"{self.username} unallocated, its link dropped",
        )

    @in_thread("account-restore", failure="Not restored", exclusive=False)
    def restore_it(self) -> None:
        from uso_tui.sync.actions import restore_account  # noqa: PLC0415

        self._acted(
            lambda: restore_account(
                self.store, self.username, operator=self.operator, now=self.now()
            ),
            f"Restored {self.username}",
        )

    def _show(self, account: Account, rows: list[Row], another: MisRecord | None = None) -> None:
        self._shown.show((account.username, account.status, account.school, another))
        self.account = account
        self.another = another
        who, where = account_fields(account, another)
        fields = self.query_one("#fields", Static)
        fields.update(who)
        fields.remove_class("loading")  # a later failure is said in a notice, not over the fields
        self.query_one("#fields-where", Static).update(where)
        self.active_table().set_rows(rows)
        self.shown_first()

    @on(DataTable.RowSelected, "#history")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.active_table().current()
        if row is not None:
            entry: AuditEvent = row.data
            self.app.push_screen(Details(f"{entry.action}: {entry.subject}", event_details(entry)))


def _no_match(text: str) -> str:
    why = no_such_dates(text)
    return f"No account matches: {why}." if why else "No account matches."
