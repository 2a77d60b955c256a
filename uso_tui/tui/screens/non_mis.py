"""Non-MIS accounts of a school: active accounts with no link to the MIS (requested by hand, restored,
or left behind). For each: keep it (mark reviewed), unallocate it, or link it to a record of the
school's export that has no account (an open match case or an unmatched record of the last file).

Not yet reviewed accounts come first. Space marks several for keep or unallocate.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Static

from uso_tui.domain.models import Account, MisRecord
from uso_tui.domain.names import normalise
from uso_tui.domain.schools import ROLE_OF_REPORT
from uso_tui.tui.applying import apply_each
from uso_tui.tui.format import MARKED_HIDDEN, full_name, plain, when
from uso_tui.tui.screens.listing import (
    FILTER_DELAY,
    Col,
    ListScreen,
    ListTable,
    LoadedListScreen,
    Row,
    cells,
    haystack,
)
from uso_tui.tui.screens.users import AccountScreen
from uso_tui.tui.widgets import Confirm, ConfirmForce, Dialog, FilterInput
from uso_tui.tui.workers import in_thread

# Records of the last processed file that can take an existing account (nothing was created for
# them); invalid and excluded records are left out on purpose.
LINKABLE_OUTCOMES = frozenset({"needs_matching", "future"})


def _safe_norm(value: object) -> str:
    try:
        return normalise(str(value or ""))
    except Exception:  # noqa: BLE001 - a name that normalises to nothing
        return ""


def who(account: Account) -> str:
    return f"{account.username} ({full_name(account.forename, account.surname)})"


def unmatched_records(store, dfe: str) -> list[dict]:
    """The school's open cases and the unmatched records of its last processed file, one per
    (report, MIS id): [{"report", "mis_id", "record", "source"}]; not those linked to an account
    since the file was made (a case decided, another account linked)."""
    out: dict[tuple[str, str], dict] = {}
    linked = {
        (a.link_report, a.mis_id)
        for a in store.school_accounts(dfe)
        if a.mis_id and a.link_school == dfe and a.status == "active"
    }
    for case in store.cases(dfe, "open"):
        rec = case.record
        out[(case.report, rec.get("mis_id"))] = {
            "report": case.report,
            "mis_id": rec.get("mis_id"),
            "record": rec,
            "source": f"case {case.case_id}",
        }
    # the newest file only: link_account looks a record up there (or in the open cases)
    for processed in store.processed_files(dfe)[:1]:
        for row in processed.records:
            rec = row.get("record") or {}
            if row.get("username") or row.get("outcome") not in LINKABLE_OUTCOMES:
                continue
            key = (rec.get("report"), rec.get("mis_id"))
            if key in linked:
                continue
            out.setdefault(
                key,
                {
                    "report": rec.get("report"),
                    "mis_id": rec.get("mis_id"),
                    "record": rec,
                    "source": f"{row.get('outcome')} in {processed.run_id}",
                },
            )
    from uso_tui.sync.excluded_people import entry_of  # noqa: PLC0415

    exclusions = store.exclusions(dfe)  # (read once, not per record)
    for row in out.values():  # an entry made since the file (a case excluded): said, not hidden
        entry = entry_of(exclusions, row["record"])
        if entry is not None:
            row["source"] = f"excluded (entry {entry.id})"
            row["excluded"] = entry.id
    return list(out.values())


def likeness(account: Account, rec: dict) -> int:
    """How much a record looks like the account, to list the likely ones first (0-3)."""
    score = 0
    if _safe_norm(rec.get("surname")) == _safe_norm(account.surname):
        score += 1
    if _safe_norm(rec.get("forename")) in (
        _safe_norm(account.forename),
        _safe_norm(account.preferred_name),
    ):
        score += 1
    if rec.get("dob") and rec.get("dob") == account.dob:
        score += 1
    return score


class LinkPicker(Dialog[dict | None]):
    """Choose the record to link an account to. enter chooses, / filters, escape cancels."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    LinkPicker #dialog { height: 20; max-height: 90%; }
    LinkPicker ListTable { height: 1fr; }
    """

    def __init__(self, account: Account, records: list[dict]) -> None:
        super().__init__()
        self.account = account
        self.records = records
        self._timer = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            title = Text("Link ", style="bold", end="")
            title.append_text(plain(who(self.account), "bold"))
            title.append(" to a record without an account", style="bold")
            yield Static(title, classes="dialog-title")
            yield FilterInput(placeholder="filter (escape clears)", id="filter", classes="filter")
            yield ListTable(
                [
                    Col("MIS id", "mis_id", 8),
                    Col("Name", "name", None, 12),
                    Col("Born", "dob", 10),
                    Col("Like", "like", 4),
                    Col("From", "source", 20, wide=True),
                ],
                id="records",
                openable=True,
                # the dialog is at most 76 wide (styles.tcss), inside a border and a padding of one each side
                inset=5,
                within=71,
            )
            yield Static(
                Text("enter link  / filter  escape cancel  Like: * = same surname/forename/birth"),
                classes="dialog-keys",
            )

    def on_mount(self) -> None:
        rows = []
        for row in sorted(self.records, key=lambda row: -likeness(self.account, row["record"])):
            rec = row["record"]
            name = full_name(rec.get("forename") or "", rec.get("surname") or "")
            rows.append(
                Row(
                    key=f"{row['report']}:{row['mis_id']}",
                    cells=cells(
                        row["mis_id"],
                        name,
                        rec.get("dob") or "-",
                        "*" * likeness(self.account, rec) or "-",
                        row["source"],
                    ),
                    haystack=haystack(
                        row["mis_id"], rec.get("forename"), rec.get("surname"), rec.get("dob")
                    ),
                    data=row,
                )
            )
        table = self.query_one(ListTable)
        table.set_rows(rows)
        table.focus()

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.query_one(ListTable).row(event.row_key.value)
        if row is not None:
            self.dismiss(row.data)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(
            FILTER_DELAY, lambda: self.query_one(ListTable).set_filter(event.value)
        )

    @on(Input.Submitted, "#filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(ListTable).set_filter(event.value)
        self.query_one(ListTable).focus()

    def action_down(self) -> None:
        self.query_one(ListTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(ListTable).action_cursor_up()

    def action_cancel(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.has_class("visible"):
            box.value = ""
            box.remove_class("visible")
            self.query_one(ListTable).set_filter("")
            self.query_one(ListTable).focus()
            return
        self.dismiss(None)


class NonMisScreen(LoadedListScreen):
    EXPORT_LIST = "non-mis"
    kind = "non_mis"
    WIDE_KEYS = ("open_account", "export")
    TABLE_ID = "accounts"
    TITLE_FROM_LOAD = True  # filter_applied writes it

    BINDINGS = [
        Binding("r", "keep", "Keep"),
        Binding("x", "unallocate", "Unalloc"),
        Binding("l", "link", "Link"),
        Binding("space", "mark", "Mark", key_display="space"),
        Binding("o", "open_account", "Account", show=False),
        *ListScreen.LIST_BINDINGS,
        ListScreen.EXPORT_BINDING_UNSHOWN,
        Binding("g", "reload", "Reload", show=False),
    ]

    def __init__(self, store, dfe: str) -> None:
        super().__init__(store, dfe)
        self.title = f"Non-MIS accounts: {dfe}"

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Non-MIS accounts: {self.dfe}")
        yield self.filter_bar("filter: username, name, role (escape clears)")
        yield ListTable(
            [
                Col("Username", "username", 16, ends=True),
                Col("Name", "name", None, 12),
                Col("Born", "dob", 10),
                Col("Role", "role", 5),
                Col("Reviewed", "reviewed", 9),
                Col("Source", "source", 7, wide=True),
                Col("Created", "created", 16, wide=True),
            ],
            marks=True,
            openable=True,
            id="accounts",
        )
        yield Static(
            Text("No MIS record: keep, unallocate, or link to an export record.", end=""),
            classes="hint",
        )
        yield Footer(compact=True)

    @in_thread("non-mis-load", failure="Cannot read accounts")
    def load(self) -> None:
        began = time.monotonic()
        accounts = [
            a
            for a in self.store.school_accounts(self.dfe)
            if a.status == "active" and a.school == self.dfe and not a.linked
        ]
        accounts.sort(key=lambda a: (a.reviewed, a.surname.casefold(), a.username))
        rows = [
            Row(
                key=a.username,
                cells=cells(
                    a.username,
                    full_name(a.forename, a.surname, a.preferred_name),
                    a.dob or "-",
                    a.role,
                    Text("kept", end="") if a.reviewed else Text("to review", style="bold yellow"),
                    a.source,
                    when(a.created_at),
                ),
                haystack=haystack(a.username, a.forename, a.surname, a.preferred_name, a.role),
                data=a,
            )
            for a in accounts
        ]
        self.app.call_from_thread(self._show, rows, began)

    def _show(self, rows: list[Row], began: float) -> None:
        if not self.shown_read(began):
            return
        self.active_table().set_rows(rows)
        self.filter_applied()

    def filter_applied(self) -> None:
        table = self.active_table()
        total = len(table.all_rows)
        to_review = sum(1 for r in table.all_rows if not r.data.reviewed)
        text = (
            f"Non-MIS accounts: {self.dfe} | {total} account{'' if total == 1 else 's'}, "
            f"{to_review} to review"
        )
        if len(table.shown) != total:
            text += f" | {len(table.shown)} shown"
        if table.marked:
            text += f" | {len(table.marked)} marked"
        self.query_one("#title", Static).update(
            Text(text, style="bold", no_wrap=True, overflow="ellipsis")
        )

    # -- actions ------------------------------------------------------------------------------

    def action_mark(self) -> None:
        self.active_table().toggle_mark()
        self.filter_applied()

    def _targets(self) -> list[Account]:
        return [r.data for r in self.active_table().targets()]

    def action_keep(self) -> None:
        targets = self._targets()
        if not targets or self.typed_blind():
            return
        if not self.active_table().hides_a_target():
            self.hold_keys()  # keys typed ahead act on the list as this leaves it
            self.apply("keep", targets)
            return
        # a mark the filter hides: kept without a word, the row on screen was not
        self._ask(
            "keep",
            targets,
            "Marked, some hidden by the filter; each is kept as a non-MIS account:",
            ("Keep", "Cancel"),
        )

    def action_unallocate(self) -> None:
        targets = self._targets()
        if not targets or self.typed_blind():
            return
        intro = (
            f"{'These accounts are' if len(targets) > 1 else 'This account is'} removed from "
            f"{self.dfe} and kept (restorable from Bulk results):"
        )
        self._ask("unallocate", targets, intro, ("Unallocate", "Keep as is"))

    def _ask(self, what: str, targets: list[Account], intro: str, answers: tuple[str, str]) -> None:
        """`what` for `targets`, once confirmed: the question names each of them."""
        body = Text(f"{intro}\n\n", end="")
        for target in targets:
            body.append("  ")
            body.append_text(plain(who(target)))
            body.append("\n")

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()
                self.apply(what, targets)

        if self.active_table().hides_a_target():
            self.app.drop_typed_ahead(MARKED_HIDDEN)
        many = "s" if len(targets) > 1 else ""
        title = f"{what.capitalize()} {len(targets)} account{many}?"
        yes, no = answers
        self.app.push_screen(Confirm(title, body, yes=yes, no=no), answer)

    @in_thread("non-mis-apply", exclusive=False)
    def apply(self, what: str, targets: list[Account]) -> None:
        from uso_tui.sync.actions import mark_reviewed, unallocate_account  # noqa: PLC0415

        act = mark_reviewed if what == "keep" else unallocate_account
        applied = apply_each(
            targets,
            lambda a: act(self.store, a.username, operator=self.operator, now=self.now()),
            name=lambda a: a.username,
            failed="Not kept" if what == "keep" else "Not unallocated",
        )
        self.app.call_from_thread(
            self._applied, what, applied.done, applied.errors, time.monotonic()
        )

    def _applied(self, what: str, done: list[str], errors: list[str], saved: float) -> None:
        self.decision_saved(saved, failed=bool(errors))
        self.active_table().clear_marks()
        verb = "Kept" if what == "keep" else "Unallocated"
        if done:
            self.say(f"{verb} {len(done)}: {', '.join(done[:5])}{' …' if len(done) > 5 else ''}")
        for error in errors:
            self.say(error, "error")
        self.load()

    def action_link(self) -> None:
        row = self.active_table().current()
        if row is not None and not self.typed_blind():
            self.hold_keys()  # keys typed ahead choose in the picker, once it is shown
            self.find_records(row.data)

    @in_thread("non-mis-records", failure="Cannot read records")
    def find_records(self, account: Account) -> None:
        records = [
            r
            for r in unmatched_records(self.store, self.dfe)
            if ROLE_OF_REPORT.get(r["report"]) == account.role
        ]
        self.app.call_from_thread(self._pick, account, records)

    def _pick(self, account: Account, records: list[dict]) -> None:
        if not records:
            self.keys_go()
            self.say(
                f"No {account.role} record without an account at {self.dfe} "
                "(no open case, nothing unmatched in the last processed file)",
                "warning",
            )
            return

        def chosen(choice: dict | None) -> None:
            if choice is not None:
                self._confirm_link(account, choice)

        self.app.push_screen(LinkPicker(account, records), chosen)
        self.keys_go()

    def _confirm_link(self, account: Account, choice: dict) -> None:
        rec = choice["record"]
        body = Text(end="")
        body.append_text(plain(who(account)))
        body.append(f"\nwould be linked to {choice['report']} record {choice['mis_id']}: ")
        body.append_text(
            plain(
                f"{full_name(rec.get('forename') or '', rec.get('surname') or '')} {rec.get('dob') or ''}"
            )
        )
        body.append(
            "\n\nThe account takes the record's details and the next runs keep it up to date."
        )
        from uso_tui.sync.checks import ids_apart, match_differences  # noqa: PLC0415
        from uso_tui.sync.evidence import differs  # noqa: PLC0415

        record = MisRecord.from_dict(rec)
        changes = match_differences(record, account, self.dfe)
        body.append("\nWhat differs:\n" if changes else "\nNothing differs.\n", style="bold")
        for line in changes:
            body.append_text(plain(f"  {line}"))
            body.append("\n")
        differ = {"forename", "surname", "dob"} & set(differs(record, account, self.dfe))
        apart = ids_apart(record, account)  # (a permanent UPN each, or a boy and a girl)
        another = len(differ) == 3 or "UPN" in apart
        if len(differ) == 3:
            body.append(
                "Names and date of birth all differ: this is probably another person, whose "
                "account this would become.\n",
                style="bold red",
            )
        elif "UPN" in apart:
            body.append(
                "The record and the account each have a permanent UPN, and they differ: a UPN "
                "follows one child, so this is probably another child, whose account this "
                "would become.\n",
                style="bold red",
            )
        differ |= set(apart)
        if choice["source"].startswith("case"):
            body.append(f"\nThe record's {choice['source']} would be resolved with it.")
        if choice.get("excluded") is not None:
            body.append(
                f"\nThe record's person is on the exclusion list (entry {choice['excluded']}): "
                "linked, the account follows the record all the same; remove the entry if it "
                "was made by mistake, else cancel.",
                style="bold yellow",
            )

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()
                self.link(account, choice)

        # A name or the date of birth differs: maybe another person (Harry for his twin
        # Henry, one date, one surname), so the question is read before a key answers it (the
        # `y` of `l enter y` answered it unseen, for a record the picker offered unseen)
        if differ:
            self.app.drop_typed_ahead("the question lists what differs from the record")
        elif choice.get("excluded") is not None:
            self.app.drop_typed_ahead("the record's person is on the exclusion list")
        # probably another person's record: F, never the y typed by habit
        ask = ConfirmForce if another else Confirm
        self.app.push_screen(
            ask("Link account to MIS record?", body, yes="Link", no="Cancel"), answer
        )

    @in_thread("non-mis-apply", exclusive=False)
    def link(self, account: Account, choice: dict) -> None:
        from uso_tui.sync.actions import link_account  # noqa: PLC0415

        linked = apply_each(
            [account.username],
            lambda username: link_account(
                self.store,
                username,
                self.dfe,
                choice["report"],
                choice["mis_id"],
                operator=self.operator,
                now=self.now(),
                shown=choice["record"],  # as the question showed it
            ),
            failed="Not linked",
        )
        if linked.errors:
            self.app.call_from_thread(self._applied, "link", [], linked.errors, time.monotonic())
            return
        self.app.call_from_thread(
            self.say, f"Linked {account.username} to {choice['report']} record {choice['mis_id']}"
        )
        self.app.call_from_thread(self.decision_saved, time.monotonic())
        self.app.call_from_thread(self.load)

    def action_open_account(self) -> None:
        row = self.active_table().current()
        if row is not None:
            self.app.push_screen(AccountScreen(self.store, row.key))

    @on(DataTable.RowSelected, "#accounts")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.push_screen(AccountScreen(self.store, event.row_key.value))
