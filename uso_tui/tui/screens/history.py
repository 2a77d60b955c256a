"""Run history and the audit log, for one school or for all schools (dfe None), newest first.

Enter shows one run (every count, the error in full, held unallocations) or one audit event (before and
after, key by key). Everything shown is read from the store; nothing here writes.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from uso_tui.domain.models import AuditEvent, Run
from uso_tui.sync.actions import Confirmed
from uso_tui.tui.format import (
    change_summary,
    changed_keys,
    counts_short,
    event_details,
    newest_first,
    run_details,
    status_text,
    when,
    words,
)
from uso_tui.tui.held import ConfirmsHeld, confirmed_line
from uso_tui.tui.screens.listing import (
    Col,
    Details,
    ListScreen,
    ListTable,
    LoadedListScreen,
    Row,
    cells,
    event_keys,
    haystack,
)
from uso_tui.tui.undo_ask import undoable
from uso_tui.tui.widgets import Confirm
from uso_tui.tui.workers import in_thread

# the newest events of a school; older ones stay in the store (and `uso-tui audit`)
AUDIT_LIMIT = 2000

# An undo reverting this many changes (the safety hold's least count) is read before it is
# answered: keys typed ahead with its `U` are dropped.
UNDO_READ_FIRST = 10


def _scope(dfe: str | None) -> str:
    return dfe if dfe else "all schools"


class NewestFirstScreen(LoadedListScreen):
    """A log of one school (or of all, dfe None) read by `load`, newest first: its title says how
    many entries there are and how many the filter shows; enter opens one (`action_details`)."""

    TITLE_FROM_LOAD = True  # filter_applied writes it

    NAME = ""  # the title: "Run history"
    UNIT = ""  # what it counts, plural: "runs" ("run" for one)

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, dfe)
        self.title = f"{self.NAME}: {_scope(dfe)}"

    def _show(self, rows: list[Row]) -> None:
        self.active_table().set_rows(rows)
        self.filter_applied()
        self.shown_first()

    def counted(self, total: int) -> str:
        unit = self.UNIT if total != 1 else self.UNIT.removesuffix("s")
        return f"{self.NAME}: {_scope(self.dfe)} | {total:,} {unit}, newest first"

    def filter_applied(self) -> None:
        table = self.active_table()
        total, shown = len(table.all_rows), len(table.shown)
        text = self.counted(total)
        if shown != total:
            text += f" | {shown:,} shown"
        self.query_one("#title", Static).update(
            Text(text, style="bold", no_wrap=True, overflow="ellipsis")
        )

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == self.TABLE_ID:
            event.stop()
            self.action_details()

    def action_details(self) -> None:
        raise NotImplementedError


class RunHistoryScreen(ConfirmsHeld, NewestFirstScreen):
    kind = "history"
    ROLE_KEYS = {"U": "undo_run"}  # noqa: RUF012 - read only
    TABLE_ID = "runs"
    NAME = "Run history"
    UNIT = "runs"

    BINDINGS = [
        Binding("b", "bulk_results", "Its file"),
        Binding("c", "confirm_held", "Confirm held"),
        Binding("U", "undo_run", "Undo run", key_display="U"),
        *ListScreen.LIST_BINDINGS,
        Binding("g", "reload", "Reload", show=False),  # the footer's keys fill 80 columns
    ]

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.title)
        yield self.filter_bar("filter: run, status, trigger, operator, error (escape clears)")
        cols = [
            Col("Started", "started", 16),
            *([Col("School", "school", 8)] if self.dfe is None else []),
            Col("Status", "status", 9),
            Col("Trigger", "trigger", 8),
            Col("Operator", "operator", 10, wide=True),
            Col("Counts", "counts", 19),
            Col("Error or hold", "error", None, 6),
        ]
        yield ListTable(cols, id="runs", openable=True)
        yield Static(
            Text(
                "Counts: +created ~updated -unallocated h held r restored ?matching !invalid",
                end="",
            ),
            classes="hint",
            id="legend",
        )
        yield Footer(compact=True)

    @in_thread("history-load", failure="Cannot read runs")
    def load(self) -> None:
        runs = self.store.runs(self.dfe)
        running = {r.run_id for r in self.store.running_runs(self.dfe)}
        rows = [self._row(r, r.run_id in running) for r in runs]
        self.app.call_from_thread(self._show, rows)

    def _row(self, run: Run, running: bool) -> Row:
        status = "running" if running else run.shown_status()
        values = [
            when(run.started_at),
            *([run.school] if self.dfe is None else []),
            status_text(status),
            run.trigger,
            run.operator,
            counts_short(run.counts),
            # the school is in the title or its own column: the cut cell starts with the reason
            (run.error or "").removeprefix(f"{run.school}: ")
            # a run still held says why (an operator choosing which to confirm reads it here)
            or (run.hold_reason or "" if status == "held" else ""),
        ]
        return Row(
            key=run.run_id,
            cells=cells(*values),
            haystack=haystack(
                run.run_id,
                run.school,
                status,
                run.trigger,
                run.operator,
                run.error,
                # (as the force run and `why` name it)
                f"safety hold {run.hold_reason or ''}" if status == "held" else None,
            ),
            data=run,
        )

    def action_details(self) -> None:
        row = self.active_table().current()
        if row is not None:
            self.app.push_screen(Details(f"Run {row.key}", run_details(row.data)))

    def live_run_ended(self, dfe: str) -> None:
        """A run started in this console has ended: the runs read again (it showed as running,
        or not yet at all, and U would have undone the run before it)."""
        if self.dfe in (None, dfe):
            self.load()

    # -- a held run (the scheduler's, typically) is confirmed here too ------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm_held":
            row = self.active_table().current() if self.is_mounted else None
            return row is not None and row.data.shown_status() == "held"
        if action == "undo_run":
            if not self.app.may("undo_run"):
                return None  # greyed: undoing a run needs the admin role
            row = self.active_table().current() if self.is_mounted else None
            return row is not None and undoable(row.data)
        return True

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    def action_confirm_held(self) -> None:
        row = self.active_table().current()
        # (opens the held run's review only: its `y` counts once the review shows)
        if row is not None and row.data.shown_status() == "held":
            self.load_held(row.data)

    def held_confirmed(self, done: Confirmed) -> None:
        self.say(confirmed_line(done))
        self.load()

    def held_changed(self, run: Run) -> None:
        self.load()

    # -- undoing a run: a preview (counts, then the accounts), y commits ------------------------
    # (a `y` typed ahead with the `U` answers a preview of fewer changes than UNDO_READ_FIRST)

    def action_undo_run(self) -> None:
        row = self.active_table().current()
        if row is not None and undoable(row.data) and not self.typed_blind():
            self.hold_keys()  # a `y` typed ahead answers the preview, once it is shown
            self.load_undo(row.data.run_id)

    @in_thread("undo", failure="Cannot undo")
    def load_undo(self, run_id: str) -> None:
        from uso_tui.sync.undo import undo_preview  # noqa: PLC0415

        undo_plan = undo_preview(self.store, run_id, now=self.now())
        self.app.call_from_thread(self._ask_undo, run_id, undo_plan)

    def _ask_undo(self, run_id: str, undo_plan) -> None:
        from uso_tui.tui.undo_ask import undo_body  # noqa: PLC0415

        def answer(yes: bool | None) -> None:
            if yes:
                self.undo(run_id)

        reverted = sum(undo_plan.reverted.values())
        if reverted >= UNDO_READ_FIRST:  # a `U y` typed ahead: not for a school-sized undo
            self.app.drop_typed_ahead(f"the undo reverts {reverted} changes")
        elif undo_plan.beside:  # nor for one that gives a person a second active account
            self.app.drop_typed_ahead("the undo restores an account beside the person's active one")
        self.app.push_screen(
            Confirm(f"Undo run {run_id}?", undo_body(undo_plan), yes="Undo", no="Keep"), answer
        )
        self.keys_go()

    @in_thread("undo", failure="Not undone")
    def undo(self, run_id: str) -> None:
        from uso_tui.sync.undo import undo_run  # noqa: PLC0415

        undo_plan, undo = undo_run(self.store, run_id, operator=self.operator, now=self.now())
        reverted = sum(undo_plan.reverted.values())
        tail = (
            f"; {len(undo_plan.left_alone)} changed since, left alone"
            if undo_plan.left_alone
            else ""
        )
        if undo_plan.id_given:
            tail += "; " + "; ".join(undo_plan.id_given_lines())
        if undo_plan.beside:
            tail += "; " + "; ".join(undo_plan.beside_lines()) + ": two accounts for one person?"
        if undo_plan.orphaned:
            tail += "; " + "; ".join(undo_plan.orphaned_lines())
        self.app.call_from_thread(
            self.say, f"{run_id} undone by {undo.run_id}: {reverted} reverted{tail}"
        )
        self.app.call_from_thread(self.load)

    def action_bulk_results(self) -> None:
        """The run's processed file (its records with outcomes) in the school's bulk results."""
        from uso_tui.tui.screens.bulk_results import BulkResultsScreen  # noqa: PLC0415

        row = self.active_table().current()
        if row is not None:
            screen = BulkResultsScreen(self.store, row.data.school)
            screen.run_id = row.key
            self.app.push_screen(screen)


class AuditScreen(NewestFirstScreen):
    kind = "audit"
    TABLE_ID = "events"
    NAME = "Audit log"
    UNIT = "events"

    BINDINGS = [
        *ListScreen.LIST_BINDINGS,
        Binding("g", "reload", "Reload"),
    ]

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.title)
        yield self.filter_bar("filter: operator, action, subject, change (escape clears)")
        cols = [
            Col("At", "at", 16),
            # who, in every width: at 80 columns across schools the change keeps 6 (enter
            # opens the event whole)
            Col("Operator", "operator", 9),
            *([Col("School", "school", 8)] if self.dfe is None else []),
            Col("Action", "action", 13),
            Col("Subject", "subject", 14, ends=True),
            Col("Change", "change", None, 6),
        ]
        yield ListTable(cols, id="events", openable=True)
        yield Footer(compact=True)

    @in_thread("audit-load", failure="Cannot read the audit log")
    def load(self) -> None:
        events = self.store.audit(self.dfe, limit=AUDIT_LIMIT)
        events.sort(key=newest_first)
        rows = []
        for key, entry in zip(event_keys(events), events, strict=True):
            change = change_summary(entry.before, entry.after)
            values = [
                when(entry.at),
                entry.operator,
                *([entry.school or "-"] if self.dfe is None else []),
                words(entry.action),
                entry.subject,
                change,
            ]
            rows.append(
                Row(
                    key=key,
                    cells=cells(*values),
                    haystack=haystack(
                        entry.at,
                        entry.operator,
                        entry.school,
                        entry.action,
                        words(entry.action),
                        entry.subject,
                        change,
                        # the fields changed by their codes too (`dob`, `mis_id`), as before
                        # the change column said them in words
                        *changed_keys(entry.before, entry.after),
                    ),
                    data=entry,
                )
            )
        self.app.call_from_thread(self._show, rows)

    def counted(self, total: int) -> str:
        text = super().counted(total)
        return text + f" (the newest {AUDIT_LIMIT:,})" if total >= AUDIT_LIMIT else text

    def action_details(self) -> None:
        row = self.active_table().current()
        if row is not None:
            entry: AuditEvent = row.data
            self.app.push_screen(
                Details(f"{words(entry.action)}: {entry.subject}", event_details(entry))
            )
