"""Whole School Bulk Results: what the exports of one school did, in tabs.

1 File: a processed file (the last, or any of the last 30 runs: `p`), its counts and every record
  with its outcome and reason, which answers "why has this account not been created?";
2/3 Staff / Pupils not matched: open match cases (records that wait for a decision, no account yet);
4 Unallocated: accounts unallocated by the process, restored one or several at a time;
5 Exclusions: the school's "MIS names that should not be in USO", added and removed here;
6 Future: future starters of the shown file; 7 Rejected: its invalid records with their reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from uso_tui.domain.models import Account, Exclusion, MatchCase, ProcessedFile, Run
from uso_tui.sync.actions import restorable
from uso_tui.tui.exclude_ask import UNALLOCATE, ExcludeAsk
from uso_tui.tui.format import (
    clean,
    counts_short,
    full_name,
    kv_lines,
    plain,
    status_text,
    value_text,
    when,
)
from uso_tui.tui.screens.listing import (
    Col,
    Details,
    ListScreen,
    ListTable,
    ReloadingListScreen,
    Row,
    cells,
    haystack,
)
from uso_tui.tui.screens.users import AccountScreen
from uso_tui.tui.widgets import Confirm, LineInput, current_key

TABS = ["file", "staff", "pupils", "unallocated", "exclusions", "future", "rejected"]
LABELS = {  # (narrow, wide): seven tabs fit 80 columns only without their key digits
    "file": ("File", "1 Last file"),
    "staff": ("Staff?", "2 Staff unmatched"),
    "pupils": ("Pupils?", "3 Pupils unmatched"),
    "unallocated": ("Unalloc", "4 Unallocated"),
    "exclusions": ("Excl", "5 Exclusions"),
    "future": ("Future", "6 Future"),
    "rejected": ("Rejected", "7 Rejected"),
}
TITLES = {
    "file": "Last processed file",
    "staff": "Staff not matched",
    "pupils": "Pupils not matched",
    "unallocated": "Unallocated accounts",
    "exclusions": "Exclusion list",
    "future": "Future starters",
    "rejected": "Rejected records",
}
HINTS = {  # one line at 80 columns
    "file": "Outcome and reason of each record; enter: all fields; p: another run's file.",
    "staff": "Staff records waiting for a matching decision: no account yet (m: queue).",
    "pupils": "Pupil records waiting for a matching decision: no account yet (m: queue).",
    "unallocated": "Unallocated by runs or operators: space marks, r restores (as non-MIS).",
    "exclusions": "MIS names never created nor queued for matching: a adds, d removes.",
    "future": "Future starters of the shown file: no account until the start date.",
    "rejected": "Records rejected for missing or bad data: fix them in the MIS.",
}
OUTCOME_STYLE = {
    "invalid": "bold red",
    "needs_matching": "bold yellow",
    "future": "cyan",
    "excluded": "magenta",
    "leaver": "yellow",
    "created": "green",
    "auto_linked": "green",
    "restored": "green",
}


def record_name(rec: dict) -> str:
    return full_name(rec.get("forename") or "", rec.get("surname") or "", rec.get("preferred_name"))


def record_details(row: dict) -> Text:
    rec = row.get("record") or {}
    pairs: list[tuple[str, object]] = [
        ("Outcome", row.get("outcome") or "-"),
        ("Reason", row.get("reason") or "-"),
        ("Account", row.get("username") or "none"),
    ]
    pairs += [(k.replace("_", " "), value_text(v)) for k, v in rec.items() if v not in (None, "")]
    return kv_lines(pairs, width=16)


@dataclass
class Loaded:
    """Everything the tabs show, read in one worker."""

    runs: list[Run] = field(default_factory=list)
    run: Run | None = None
    file: ProcessedFile | None = None
    cases: list[MatchCase] = field(default_factory=list)
    unallocated: list[Account] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)


class RunPicker(ModalScreen[str | None]):
    """Pick one of the last 30 runs whose processed file to show."""

    BINDINGS = [
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        Binding("escape", "cancel", "Cancel"),
    ]
    DEFAULT_CSS = (
        "RunPicker #dialog { height: 18; max-height: 90%; } RunPicker ListTable { height: 1fr; }"
    )

    def __init__(self, runs: list[Run], current: str | None) -> None:
        super().__init__()
        self.runs = runs
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                Text("Show the processed file of run", style="bold"), classes="dialog-title"
            )
            yield ListTable(
                [
                    Col("Started", "started", 16),
                    Col("Run", "run", None, 8),
                    Col("Status", "status", 9),
                    Col("Counts", "counts", 19),
                ],
                id="runs",
                openable=True,
                inset=self.app.size.width - min(76, self.app.size.width) + 5,
            )
            yield Static(Text("enter show   escape cancel", style="dim"), classes="dialog-keys")

    def on_mount(self) -> None:
        table = self.query_one(ListTable)
        table.set_rows(
            Row(
                key=r.run_id,
                cells=cells(
                    when(r.started_at), r.run_id, status_text(r.status), counts_short(r.counts)
                ),
                haystack=haystack(r.run_id, r.status),
            )
            for r in self.runs
        )
        if self.current:
            from uso_tui.tui.widgets import move_to_key  # noqa: PLC0415

            move_to_key(table, self.current)
        table.focus()

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(event.row_key.value)

    def action_down(self) -> None:
        self.query_one(ListTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(ListTable).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


def excluded_line(ex, dfe: str) -> str:
    """What adding an exclusion did, naming the accounts it unallocated or left active."""
    line = f"Excluded {ex.forename} {ex.surname} (id {ex.id}) at {dfe}"
    if ex.unallocated:
        return line + f"; unallocated {', '.join(ex.unallocated)}"
    if ex.accounts:
        return line + f"; still active: {', '.join(a.username for a in ex.accounts)}"
    return line


class ExclusionForm(ModalScreen[Exclusion | None]):
    """Add a name to the exclusion list. The date of birth is optional: without it, every record
    with those names at the school is excluded. Errors show in the form; nothing is written."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ExclusionForm .form-row { height: 1; }
    ExclusionForm #form-error { height: auto; color: $error; }
    """

    def __init__(self, store, dfe: str, operator: str, now) -> None:
        super().__init__()
        self.store = store
        self.dfe = dfe
        self.operator = operator
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(
                Text(f"Add to the exclusion list of {self.dfe}", style="bold"),
                classes="dialog-title",
            )
            for key, label, hint in [
                ("forename", "Forename", ""),
                ("surname", "Surname", ""),
                ("dob", "Date of birth", "YYYY-MM-DD, optional"),
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
        self.check(
            self.query_one("#ex-forename", Input).value,
            self.query_one("#ex-surname", Input).value,
            self.query_one("#ex-dob", Input).value.strip() or None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="exclusion-add")
    def check(self, forename: str, surname: str, dob: str | None) -> None:
        """The person may already have an account here: ask before writing anything."""
        from uso_tui.sync.actions import accounts_for_exclusion  # noqa: PLC0415

        try:
            has = accounts_for_exclusion(self.store, self.dfe, forename, surname, dob)
        except Exception:  # noqa: BLE001 - bad input: add_exclusion says what is wrong
            has = []
        if has:
            self.app.call_from_thread(self._ask, forename, surname, dob, has)
        else:
            self._save(forename, surname, dob, False)

    def _ask(self, forename: str, surname: str, dob: str | None, has: list[Account]) -> None:
        def answer(choice: str | None) -> None:
            if choice is not None:
                self.save(forename, surname, dob, choice == UNALLOCATE)

        who = f"{forename} {surname}".strip() + (f" ({dob})" if dob else "")
        self.app.push_screen(ExcludeAsk(who, self.dfe, has), answer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="exclusion-add")
    def save(self, forename: str, surname: str, dob: str | None, unallocate: bool) -> None:
        self._save(forename, surname, dob, unallocate)

    def _save(self, forename: str, surname: str, dob: str | None, unallocate: bool) -> None:
        from uso_tui.sync.admin import add_exclusion  # noqa: PLC0415

        try:
            ex = add_exclusion(
                self.store,
                self.dfe,
                forename=forename,
                surname=surname,
                dob=dob,
                operator=self.operator,
                now=self.now(),
                unallocate=unallocate,
            )
        except Exception as exc:  # noqa: BLE001 - InvalidInput and store errors: shown in the form
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self.dismiss, ex)

    def _error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(plain(message, "bold"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class BulkResultsScreen(ReloadingListScreen):
    kind = "bulk_results"

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
    }

    def __init__(self, store, dfe: str) -> None:
        super().__init__(store, dfe)
        self.title = f"Bulk results: {dfe}"
        self.data = Loaded()
        self.run_id: str | None = None  # the run whose file is shown (None: the newest)

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
                        Col("Account", "username", 16, wide=True),
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
                        Col("Username", "username", 16),
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
        return self.query_one("#tabs", TabbedContent).active or "file"

    def active_table(self) -> ListTable:
        return self.query_one(f"#t-{self.tab}", ListTable)

    def action_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def action_next_tab(self) -> None:
        self.action_tab(TABS[(TABS.index(self.tab) + 1) % len(TABS)])

    def action_prev_tab(self) -> None:
        self.action_tab(TABS[(TABS.index(self.tab) - 1) % len(TABS)])

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        event.stop()
        table = self.active_table()
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

    # -- loading ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.query_one("#hint", Static).update(Text(HINTS["file"], end=""))
        self.load()

    @work(
        name="Cannot read bulk results",
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="bulk-load",
    )
    def load(self) -> None:
        d = Loaded()
        d.runs = self.store.runs(self.dfe, limit=30)
        want = self.run_id
        files = [r for r in d.runs if not r.dry_run]
        if want is None:
            # the newest run that left a processed file (a failed fetch leaves none)
            for r in files:
                pf = self.store.processed_file(r.run_id)
                if pf is not None:
                    d.run, d.file = r, pf
                    break
            else:  # no run left a file: show the newest run and say so
                d.run = d.runs[0] if d.runs else None
        else:
            d.run = next((r for r in d.runs if r.run_id == want), None)
            d.file = self.store.processed_file(want)
        state = self.store.school_state(self.dfe)  # one read of the school
        d.cases = state.open_cases
        # not those whose creation was undone: kept, never offered for restore
        d.unallocated = [a for a in state.accounts if restorable(a)]
        d.exclusions = state.exclusions
        rows = self._rows(d)
        self.app.call_from_thread(self._show, d, rows)

    def _rows(self, d: Loaded) -> dict[str, list[Row]]:
        """Built in the worker: thousands of records cost the event loop nothing."""
        rows: dict[str, list[Row]] = {t: [] for t in TABS}
        records = d.file.records if d.file else []
        for i, r in enumerate(records):
            rec = r.get("record") or {}
            outcome = r.get("outcome") or ""
            base = (
                rec.get("mis_id") or "-",
                record_name(rec),
                rec.get("dob") or rec.get("dob_raw") or "-",
                rec.get("report") or "",
            )
            hay = haystack(
                rec.get("mis_id"),
                rec.get("forename"),
                rec.get("surname"),
                rec.get("preferred_name"),
                rec.get("dob"),
                outcome,
                r.get("reason"),
                r.get("username"),
            )
            key = f"{i}"
            rows["file"].append(
                Row(
                    key,
                    cells(
                        *base,
                        Text(outcome, style=OUTCOME_STYLE.get(outcome, ""), end=""),
                        r.get("reason") or "",
                        r.get("username") or "",
                    ),
                    hay,
                    r,
                )
            )
            if outcome == "future":
                rows["future"].append(
                    Row(
                        key,
                        cells(*base, rec.get("enrolment_date") or "", r.get("reason") or ""),
                        hay,
                        r,
                    )
                )
            elif outcome == "invalid":
                rows["rejected"].append(Row(key, cells(*base, r.get("reason") or ""), hay, r))
        for c in d.cases:
            rec = c.record
            best = c.candidates[0] if c.candidates else None
            best_text = (
                f"{best['score']}% {best['username']} ({full_name(best.get('forename', ''), best.get('surname', ''))})"
                if best
                else "none"
            )
            row = Row(
                c.case_id,
                cells(
                    c.case_id,
                    rec.get("mis_id") or "-",
                    record_name(rec),
                    rec.get("dob") or "-",
                    best_text,
                    when(c.opened_at),
                ),
                haystack(
                    c.case_id,
                    rec.get("mis_id"),
                    rec.get("forename"),
                    rec.get("surname"),
                    rec.get("dob"),
                    best_text,
                ),
                c,
            )
            rows["staff" if c.role == "staff" else "pupils"].append(row)
        for a in sorted(
            d.unallocated, key=lambda a: (a.unallocated_at or "", a.username), reverse=True
        ):
            rows["unallocated"].append(
                Row(
                    a.username,
                    cells(
                        a.username,
                        full_name(a.forename, a.surname, a.preferred_name),
                        a.dob or "-",
                        a.role,
                        when(a.unallocated_at),
                        a.unallocated_by_run or "operator",
                    ),
                    haystack(a.username, a.forename, a.surname, a.dob, a.role),
                    a,
                )
            )
        for e in d.exclusions:
            rows["exclusions"].append(
                Row(
                    str(e.id),
                    cells(
                        str(e.id),
                        e.forename,
                        e.surname,
                        e.dob or "any",
                        when(e.added_at),
                        e.added_by,
                    ),
                    haystack(e.forename, e.surname, e.dob, e.added_by),
                    e,
                )
            )
        return rows

    def _show(self, d: Loaded, rows: dict[str, list[Row]]) -> None:
        self.data = d
        for tab in TABS:
            self.query_one(f"#t-{tab}", ListTable).set_rows(rows[tab])
        self._update_labels(rows)
        self.query_one("#file-head", Static).update(self._file_head(d))
        self.filter_applied()
        self.active_table().focus()

    def _update_labels(self, rows: dict[str, list[Row]]) -> None:
        wide = self.app.size.width >= 110
        tabs = self.query_one("#tabs", TabbedContent)
        for tab in TABS:
            if tab == "file":
                continue
            tabs.get_tab(tab).label = f"{LABELS[tab][wide]} {len(rows[tab])}"

    def _file_head(self, d: Loaded) -> Text:
        if d.run is None and d.file is None:
            return Text("No processed file yet: the school has not been run.", style="dim", end="")
        out = Text(end="")
        if d.run is not None:
            out.append(f"Run {d.run.run_id}  ", style="bold")
            out.append_text(status_text(d.run.status))
            out.append(f"  {when(d.run.started_at)}  {d.run.trigger} by ")
            out.append_text(plain(d.run.operator))
            if d.run.error:
                out.append("\n")
                out.append_text(plain(d.run.error, "bold red"))
        if d.file is None:
            out.append(
                "\nThis run left no processed file (failed before the export was read).",
                style="dim",
            )
            return out
        c = d.file.counts
        out.append("\n")
        parts = [
            f"{k.replace('_', ' ')} {c.get(k, 0)}"
            for k in (
                "fetched",
                "created",
                "updated",
                "auto_linked",
                "restored",
                "unallocated",
                "held_unallocations",
                "needs_matching",
                "future",
                "invalid",
                "excluded",
                "unchanged",
            )
            if c.get(k, 0) or k in ("fetched", "created")
        ]
        out.append(", ".join(parts))
        return out

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
        if self.tab in ("file", "future", "rejected"):
            rec = row.data.get("record") or {}
            self.app.push_screen(
                Details(
                    f"Record {clean(rec.get('mis_id') or '-')}: {record_name(rec)}",
                    record_details(row.data),
                )
            )
        elif self.tab in ("staff", "pupils"):
            self.app.open_screen("matching", self.dfe, focus=row.key)  # type: ignore[attr-defined]
        elif self.tab == "unallocated":
            self.app.push_screen(AccountScreen(self.store, row.key))

    # -- not matched --------------------------------------------------------------------------

    def action_matching(self) -> None:
        """The matching queue, at the highlighted case when a not-matched tab is showing."""
        case_id = current_key(self.active_table()) if self.tab in ("staff", "pupils") else None
        self.app.open_screen("matching", self.dfe, focus=case_id)  # type: ignore[attr-defined]

    # -- unallocated --------------------------------------------------------------------------

    def action_mark(self) -> None:
        self.active_table().toggle_mark()
        self.filter_applied()

    def action_restore(self) -> None:
        targets: list[Account] = [r.data for r in self.active_table().targets()]
        if not targets:
            return
        n = len(targets)
        body = Text(end="")
        body.append(
            f"{'These accounts become' if n > 1 else 'This account becomes'} active again at "
            "the previous school, as non-MIS (no MIS link; listed in the non-MIS review; relinked "
            "if the record returns with the same details):\n\n"
        )
        for a in targets:
            body.append("  ")
            body.append_text(
                plain(
                    f"{a.username} ({full_name(a.forename, a.surname)}) -> "
                    f"{a.previous_school or a.link_school or '?'}"
                )
            )
            body.append("\n")

        def answer(yes: bool | None) -> None:
            if yes:
                self.restore([a.username for a in targets])

        self.app.push_screen(
            Confirm(
                f"Restore {n} account{'s' if n > 1 else ''}?", body, yes="Restore", no="Cancel"
            ),
            answer,
        )

    @work(thread=True, exit_on_error=False, group="bulk-apply")
    def restore(self, usernames: list[str]) -> None:
        from uso_tui.sync.actions import restore_account  # noqa: PLC0415

        done, errors = [], []
        for username in usernames:
            try:
                restore_account(self.store, username, operator=self.operator, now=self.now())
                done.append(username)
            except Exception as exc:  # noqa: BLE001 - each failure reported, the rest go on
                errors.append(f"{username}: {exc}")
        self.app.call_from_thread(self._applied, f"Restored {len(done)}", done, errors)

    def _applied(self, verb: str, done: list[str], errors: list[str]) -> None:
        self.active_table().clear_marks()
        if done:
            self.say(f"{verb}: {', '.join(done[:5])}{' …' if len(done) > 5 else ''}")
        for e in errors:
            self.say(e, "error")
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
        if row is None:
            return
        e: Exclusion = row.data
        body = Text(end="")
        body.append_text(plain(f"{e.id}: {e.forename} {e.surname} (born {e.dob or 'any date'})"))
        body.append(
            "\n\nRecords with this name are no longer excluded: the next run creates or matches them."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.drop_exclusion(e.id)

        self.app.push_screen(
            Confirm("Remove from the exclusion list?", body, yes="Remove", no="Cancel"), answer
        )

    @work(thread=True, exit_on_error=False, group="bulk-apply")
    def drop_exclusion(self, exclusion_id: int) -> None:
        from uso_tui.sync.admin import remove_exclusion  # noqa: PLC0415

        try:
            remove_exclusion(
                self.store, self.dfe, exclusion_id, operator=self.operator, now=self.now()
            )
        except Exception as exc:  # noqa: BLE001 - shown
            self.app.call_from_thread(self._applied, "Removed", [], [str(exc)])
            return
        self.app.call_from_thread(self._applied, "Removed exclusion", [str(exclusion_id)], [])
