"""Whole School Bulk Results: what the exports of one school did, in tabs.

1 File: a processed file (the last, or any of the last 30 runs: `p`), its counts and every record
  with its outcome and reason, which answers "why has this account not been created?";
2/3 Staff / Pupils not matched: open match cases (records that wait for a decision, no account yet);
4 Unallocated: accounts unallocated by the process, restored one or several at a time;
5 Exclusions: the school's "MIS names that should not be in USO", added and removed here;
6 Future: future starters of the shown file; 7 Rejected: its invalid records with their reasons.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual import events, getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from uso_tui.domain.models import Account, Exclusion
from uso_tui.sync.actions import restorable
from uso_tui.sync.restore_look import RestoreLook
from uso_tui.tui.applying import apply_each, attempt
from uso_tui.tui.format import (
    MARKED_HIDDEN,
    RESTORE_WARNED,
    clean,
    full_name,
    plain,
    restore_warnings,
)
from uso_tui.tui.screens.bulk_results.exclusions_tab import ExclusionForm, excluded_line
from uso_tui.tui.screens.bulk_results.file_tab import RunPicker, file_head, record_details
from uso_tui.tui.screens.bulk_results.tabs import (
    HINTS,
    LABELS,
    TABS,
    TITLES,
    Loaded,
    record_name,
    tab_rows,
)
from uso_tui.tui.screens.listing import (
    Col,
    Details,
    ListScreen,
    ListTable,
    ReloadingListScreen,
    Row,
)
from uso_tui.tui.screens.users import AccountScreen
from uso_tui.tui.widgets import Confirm, current_key, move_to_key
from uso_tui.tui.workers import in_thread

# the tabs whose list `uso-tui export` writes (staff and pupils not matched: the open cases)
EXPORTS = {
    "staff": "cases",
    "pupils": "cases",
    "unallocated": "unallocated",
    "future": "future",
    "rejected": "rejected",
}


class BulkResultsScreen(ReloadingListScreen):
    kind = "bulk_results"
    WIDE_KEYS = ("export",)
    tabbed = getters.query_one("#tabs", TabbedContent)

    BINDINGS = [
        Binding("1", "tab('file')", "File", show=False),
        Binding("2", "tab('staff')", "Staff", show=False),
        Binding("3", "tab('pupils')", "Pupils", show=False),
        Binding("4", "tab('unallocated')", "Unallocated", show=False),
        Binding("5", "tab('exclusions')", "Exclusions", show=False),
        Binding("6", "tab('future')", "Future", show=False),
        Binding("7", "tab('rejected')", "Rejected", show=False),
        Binding("right_square_bracket,tab", "next_tab", "Next tab", key_display="]"),
        Binding(
            "left_square_bracket,shift+tab", "prev_tab", "Prev tab", show=False, key_display="["
        ),
        Binding("p", "pick_run", "Pick run"),
        Binding("m", "matching", "Matching"),
        Binding("space", "mark", "Mark", key_display="space"),
        Binding("r", "restore", "Restore"),
        Binding("a", "add_exclusion", "Add"),
        Binding("d,delete", "remove_exclusion", "Remove", key_display="d"),
        ListScreen.EXPORT_BINDING_UNSHOWN,  # the Unallocated tab's keys fill 80 columns
        *ListScreen.LIST_BINDINGS,
        Binding("g", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    BulkResultsScreen TabbedContent { height: 1fr; }
    BulkResultsScreen TabPane { height: 1fr; padding: 0; }
    BulkResultsScreen ContentSwitcher { height: 1fr; }
    BulkResultsScreen #file-head { height: auto; padding: 0 1; }
    """

    # actions that belong to one tab (hidden elsewhere)
    TAB_ACTIONS = {
        "pick_run": {"file", "future", "rejected"},
        "matching": {"staff", "pupils"},
        "mark": {"unallocated"},
        "restore": {"unallocated"},
        "add_exclusion": {"exclusions"},
        "remove_exclusion": {"exclusions"},
        "export": set(EXPORTS),
    }

    def __init__(self, store, dfe: str, focus: str | None = None) -> None:
        super().__init__(store, dfe)
        self.title = f"Bulk results: {dfe}"
        self.data = Loaded()
        self._counted = False  # the tabs' labels carry their lists' counts once read
        self.run_id: str | None = None  # the run whose file is shown (None: the newest)
        # the record to show first (record_focus: chosen on another screen), once loaded, and
        # the run whose file the next load shows for it (then the screen follows the newest again)
        self.focus_record: tuple[str, str] | None = None
        self.focus_run: str | None = None
        if focus is not None:
            self._take_focus(focus)

    def compose(self) -> ComposeResult:
        wide = self.app.size.width >= 110
        yield self.title_bar(f"Whole School Bulk Results: {self.dfe}")
        yield self.filter_bar()
        record_cols = [
            Col("MIS id", "mis_id", 8),
            Col("Name", "name", None, 12),
            Col("Born", "dob", 10),
            Col("Report", "report", 8, wide=True),
        ]
        with TabbedContent(id="tabs", initial="file"):
            with TabPane(LABELS["file"][wide], id="file"):
                yield Static("loading…", id="file-head", classes="loading")
                yield ListTable(
                    [
                        *record_cols,
                        Col("Outcome", "outcome", 14),
                        Col("Reason", "reason", None, 10),
                        Col("Account", "username", 16, wide=True, ends=True),
                    ],
                    id="t-file",
                    openable=True,
                )
            for role in ("staff", "pupils"):
                with TabPane(LABELS[role][wide], id=role):
                    yield ListTable(
                        [
                            Col("Case", "case", 13, wide=True),
                            *record_cols[:3],
                            Col("Best candidate", "best", None, 10),
                            Col("Opened", "opened", 16, wide=True),
                        ],
                        id=f"t-{role}",
                        openable=True,
                    )
            with TabPane(LABELS["unallocated"][wide], id="unallocated"):
                yield ListTable(
                    [
                        Col("Username", "username", 16, ends=True),
                        Col("Name", "name", None, 12),
                        Col("Born", "dob", 10),
                        Col("Role", "role", 5),
                        Col("Unallocated", "at", 16),
                        Col("By run", "run", 14, wide=True),
                    ],
                    marks=True,
                    openable=True,
                    id="t-unallocated",
                )
            with TabPane(LABELS["exclusions"][wide], id="exclusions"):
                yield ListTable(
                    [
                        Col("Id", "id", 4),
                        Col("Forename", "forename", None, 10),
                        Col("Surname", "surname", None, 10),
                        Col("Born", "dob", 10),
                        Col("Added", "added", 16, wide=True),
                        Col("By", "by", 10, wide=True),
                    ],
                    id="t-exclusions",
                )
            with TabPane(LABELS["future"][wide], id="future"):
                yield ListTable(
                    [*record_cols, Col("Starts", "starts", 10), Col("Reason", "reason", None, 10)],
                    id="t-future",
                    openable=True,
                )
            with TabPane(LABELS["rejected"][wide], id="rejected"):
                yield ListTable(
                    [*record_cols, Col("Reason", "reason", None, 16)],
                    id="t-rejected",
                    openable=True,
                )
        yield Static("", id="hint", classes="hint")
        yield Footer(compact=True)

    # -- tabs ---------------------------------------------------------------------------------

    @property
    def tab(self) -> str:
        return self.tabbed.active or "file"

    def export_list(self) -> str | None:
        """The tab's list as `uso-tui export` names it (the file and exclusions: none)."""
        return EXPORTS.get(self.tab)

    def active_table(self) -> ListTable:
        return self.query_one(f"#t-{self.tab}", ListTable)

    def action_tab(self, tab: str) -> None:
        self.tabbed.active = tab

    def action_next_tab(self) -> None:
        self.action_tab(TABS[(TABS.index(self.tab) + 1) % len(TABS)])

    def action_prev_tab(self) -> None:
        self.action_tab(TABS[(TABS.index(self.tab) - 1) % len(TABS)])

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        event.stop()
        table = self.active_table()
        # its rows show now, however long ago they were read: a key read before acts on none
        table.place_shown_at = time.monotonic()
        box = self.query_one("#filter", Input)
        with box.prevent(Input.Changed):
            box.value = table.filter_text
        box.set_class(bool(table.filter_text), "visible")
        table.focus()
        self.query_one("#hint", Static).update(Text(HINTS[self.tab], end=""))
        self.refresh_bindings()
        self.filter_applied()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = self.TAB_ACTIONS.get(action)
        if tabs is not None and self.is_mounted:
            try:
                return self.tab in tabs
            except Exception:  # noqa: BLE001 - before the tabs exist
                return False
        return True

    # -- a record chosen elsewhere ("Why no account?") --------------------------------------

    def _take_focus(self, focus: str) -> None:
        run_id, report, mis_id = focus.split(" ", 2)
        self.focus_run, self.focus_record = run_id, (report, mis_id)

    def focus_item(self, focus: str) -> None:
        """Show this record of this run's file (record_focus), the screen already open."""
        self._take_focus(focus)
        self.load()

    def _show_focus(self) -> None:
        if self.focus_record is None:
            return
        report, mis_id = self.focus_record
        self.focus_record = None
        self.action_tab("file")
        table = self.query_one("#t-file", ListTable)
        for row in table.all_rows:
            rec = row.data.get("record") or {}
            if rec.get("report") == report and rec.get("mis_id") == mis_id:
                if row not in table.shown:  # hidden by a filter typed before
                    box = self.query_one("#filter", Input)
                    with box.prevent(Input.Changed):
                        box.value = ""
                    box.set_class(False, "visible")
                    table.set_filter("")
                move_to_key(table, row.key)
                return

    # -- loading ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.query_one("#hint", Static).update(Text(HINTS["file"], end=""))
        self.hold_keys()  # keys typed ahead as it opens act on its rows once shown (shown_read)
        self.load()

    @in_thread("bulk-load", failure="Cannot read bulk results")
    def load(self) -> None:
        began = time.monotonic()
        loaded = Loaded()
        loaded.runs = self.store.runs(self.dfe, limit=30)
        want, self.focus_run = self.focus_run or self.run_id, None
        files = [run for run in loaded.runs if not run.dry_run]
        if want is None:
            # the newest run that left a processed file (a failed fetch leaves none)
            for run in files:
                pf = self.store.processed_file(run.run_id)
                if pf is not None:
                    loaded.run, loaded.file = run, pf
                    break
            else:  # no run left a file: show the newest run and say so
                loaded.run = loaded.runs[0] if loaded.runs else None
        else:
            loaded.run = next((run for run in loaded.runs if run.run_id == want), None)
            loaded.file = self.store.processed_file(want)
        state = self.store.school_state(self.dfe)  # one read of the school
        loaded.cases = state.open_cases
        # not those whose creation was undone: kept, never offered for restore
        loaded.unallocated = [a for a in state.accounts if restorable(a)]
        loaded.exclusions = state.exclusions
        rows = tab_rows(loaded)
        self.app.call_from_thread(self._show, loaded, rows, began)

    def _show(self, loaded: Loaded, rows: dict[str, list[Row]], began: float) -> None:
        if not self.shown_read(began):
            return
        self.data = loaded
        for tab in TABS:
            self.query_one(f"#t-{tab}", ListTable).set_rows(rows[tab])
        self._counted = True
        self._update_labels()
        self.query_one("#file-head", Static).update(file_head(loaded))
        self._show_focus()
        self.filter_applied()
        self.active_table().focus()

    def _update_labels(self) -> None:
        """The tabs' labels, long in a wide terminal, with each list's count once loaded."""
        wide = self.app.size.width >= 110
        tabs = self.tabbed
        for tab in TABS:
            label = LABELS[tab][wide]
            if tab != "file" and self._counted:
                label += f" {len(self.query_one(f'#t-{tab}', ListTable).all_rows)}"
            tabs.get_tab(tab).label = label

    def on_resize(self, event: events.Resize) -> None:
        # the labels were made for the width the screen had (all of them fit 80 columns short)
        self._update_labels()

    def filter_applied(self) -> None:
        table = self.active_table()
        total, shown = len(table.all_rows), len(table.shown)
        text = f"Bulk results: {self.dfe} | {TITLES[self.tab]}: {total:,}"
        if shown != total:
            text += f", {shown:,} shown"
        if table.marked:
            text += f", {len(table.marked)} marked"
        if self.tab in ("file", "future", "rejected") and self.data.run is not None:
            text += f" | run {self.data.run.run_id}"
        self.query_one("#title", Static).update(
            Text(text, style="bold", no_wrap=True, overflow="ellipsis")
        )

    # -- file ---------------------------------------------------------------------------------

    def action_pick_run(self) -> None:
        if not self.data.runs:
            self.say("No runs yet for this school", "warning")
            return

        def chosen(run_id: str | None) -> None:
            if run_id is not None:
                self.run_id = run_id
                self.load()

        current = self.data.run.run_id if self.data.run else None
        self.app.push_screen(RunPicker(self.data.runs, current), chosen)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        table = self.active_table()
        row = table.row(event.row_key.value)
        if row is None:
            return
        if self.tab == "rejected" and _another_persons_account(row.data):
            # its account's screen answers: the same person after all, or its holder left
            self.app.push_screen(AccountScreen(self.store, row.data["username"]))
        elif self.tab in ("file", "future", "rejected"):
            rec = row.data.get("record") or {}
            self.app.push_screen(
                Details(
                    f"Record {clean(rec.get('mis_id') or '-')}: {record_name(rec)}",
                    record_details(row.data),
                )
            )
        elif self.tab in ("staff", "pupils"):
            self.app.open_screen("matching", self.dfe, focus=row.key)
        elif self.tab == "unallocated":
            self.app.push_screen(AccountScreen(self.store, row.key))

    # -- not matched --------------------------------------------------------------------------

    def action_matching(self) -> None:
        """The matching queue, at the highlighted case when a not-matched tab is showing."""
        case_id = current_key(self.active_table()) if self.tab in ("staff", "pupils") else None
        self.app.open_screen("matching", self.dfe, focus=case_id)

    # -- unallocated --------------------------------------------------------------------------

    def action_mark(self) -> None:
        self.active_table().toggle_mark()
        self.filter_applied()

    def action_restore(self) -> None:
        targets: list[Account] = [r.data for r in self.active_table().targets()]
        if not targets or self.typed_blind():
            return
        self.hold_keys()  # a `y` typed ahead answers the question asked after the look
        self.look_before_restoring(targets)

    @in_thread("bulk-restore-look", failure="Cannot look for the people's other accounts")
    def look_before_restoring(self, targets: list[Account]) -> None:
        from uso_tui.sync.restore_look import restore_look  # noqa: PLC0415

        self.app.call_from_thread(self._ask_restore, targets, restore_look(self.store, targets))

    def _ask_restore(self, targets: list[Account], look: RestoreLook) -> None:
        count = len(targets)
        body = Text(end="")
        body.append(
            f"{'These accounts become' if count > 1 else 'This account becomes'} active again at "
            "the previous school, as non-MIS (no MIS link; listed in the non-MIS review; relinked "
            "if the record returns with the same details):\n\n"
        )
        for account in targets:
            body.append("  ")
            body.append_text(
                plain(
                    f"{account.username} ({full_name(account.forename, account.surname)}) -> "
                    f"{account.previous_school or account.link_school or '?'}"
                )
            )
            body.append("\n")
        body.append_text(restore_warnings(*look))
        if look.warns():  # a `y` typed with the `r` came before it could be read
            self.app.drop_typed_ahead(RESTORE_WARNED)
        elif self.active_table().hides_a_target():
            self.app.drop_typed_ahead(MARKED_HIDDEN)

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()  # keys typed ahead act on the list as this leaves it
                self.restore([account.username for account in targets])

        self.app.push_screen(
            Confirm(
                f"Restore {count} account{'s' if count > 1 else ''}?",
                body,
                yes="Restore",
                no="Cancel",
            ),
            answer,
        )
        self.keys_go()

    @in_thread("bulk-apply", exclusive=False)
    def restore(self, usernames: list[str]) -> None:
        from uso_tui.sync.actions import restore_account  # noqa: PLC0415

        applied = apply_each(
            usernames,
            lambda username: restore_account(
                self.store, username, operator=self.operator, now=self.now()
            ),
            failed="Not restored",
        )
        self.app.call_from_thread(
            self._applied,
            f"Restored {len(applied.done)}",
            applied.done,
            applied.errors,
            time.monotonic(),
        )

    def _applied(self, verb: str, done: list[str], errors: list[str], saved: float) -> None:
        self.decision_saved(saved, failed=bool(errors))
        self.active_table().clear_marks()
        if done:
            self.say(f"{verb}: {', '.join(done[:5])}{' …' if len(done) > 5 else ''}")
        for error in errors:
            self.say(error, "error")
        self.load()

    # -- exclusions ---------------------------------------------------------------------------

    def action_add_exclusion(self) -> None:
        def added(ex: Exclusion | None) -> None:
            if ex is not None:
                self.say(excluded_line(ex, self.dfe))
                self.load()

        self.app.push_screen(ExclusionForm(self.store, self.dfe, self.operator, self.now), added)

    def action_remove_exclusion(self) -> None:
        row = self.active_table().current()
        if row is None or self.typed_blind():
            return
        exclusion: Exclusion = row.data
        body = Text(end="")
        body.append_text(
            plain(
                f"{exclusion.id}: {exclusion.forename} {exclusion.surname} "
                f"(born {exclusion.dob or 'any date'})"
            )
        )
        body.append(
            "\n\nRecords with this name are no longer excluded: the next run creates or matches them."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()
                self.drop_exclusion(exclusion.id)

        self.app.push_screen(
            Confirm("Remove from the exclusion list?", body, yes="Remove", no="Cancel"), answer
        )

    @in_thread("bulk-apply", exclusive=False)
    def drop_exclusion(self, exclusion_id: int) -> None:
        from uso_tui.sync.admin import remove_exclusion  # noqa: PLC0415

        removed = attempt(
            lambda: remove_exclusion(
                self.store, self.dfe, exclusion_id, operator=self.operator, now=self.now()
            )
        )
        if removed.error is not None:
            self.app.call_from_thread(
                self._applied, "Removed", [], [f"Not removed: {removed.error}"], time.monotonic()
            )
            return
        self.app.call_from_thread(
            self._applied, "Removed exclusion", [str(exclusion_id)], [], time.monotonic()
        )


def record_focus(run_id: str, report: str, mis_id: str) -> str:
    """What open_screen("bulk_results", dfe, focus=...) takes to show one record of a run's file."""
    return f"{run_id} {report} {mis_id}"


def _another_persons_account(row: dict) -> bool:
    """A rejected record listed as another person than the account linked to it."""
    from uso_tui.sync.linked_record import ANOTHER_PERSON  # noqa: PLC0415

    return bool(row.get("username")) and ANOTHER_PERSON in (row.get("reason") or "")
