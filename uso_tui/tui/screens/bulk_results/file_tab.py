"""The File tab (and Future, Rejected: the same records): each record's outcome and reason, the
run the file came from, and the picker of another run's file."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from uso_tui.domain.models import COUNT_KEYS, Run
from uso_tui.sync.compare import comparisons_lines
from uso_tui.tui.format import (
    counts_short,
    kv_grid,
    plain,
    status_text,
    value_text,
    when,
    words,
)
from uso_tui.tui.screens.bulk_results.tabs import Loaded
from uso_tui.tui.screens.listing import Col, ListTable, Row, cells, haystack
from uso_tui.tui.widgets import Dialog


def record_details(row: dict) -> Table:
    """A processed record's details: a long reason wraps under itself, not under the labels."""
    rec = row.get("record") or {}
    pairs: list[tuple[str, object]] = [
        ("Outcome", words(row.get("outcome") or "-")),
        ("Reason", row.get("reason") or "-"),
        ("Account", row.get("username") or "none"),
    ]
    pairs += [(words(k), value_text(v)) for k, v in rec.items() if v not in (None, "")]
    return kv_grid(pairs, width=16)


def file_head(loaded: Loaded) -> Text:
    if loaded.run is None and loaded.file is None:
        return Text("No processed file yet: the school has not been run.", style="dim", end="")
    out = Text(end="")
    if loaded.run is not None:
        out.append(f"Run {loaded.run.run_id}  ", style="bold")
        out.append_text(status_text(loaded.run.status))
        out.append(f"  {when(loaded.run.started_at)}  {loaded.run.trigger} by ")
        out.append_text(plain(loaded.run.operator))
        if loaded.run.error:
            out.append("\n")
            out.append_text(plain(loaded.run.error, "bold red"))
        if loaded.run.comparison:
            # held whole (or confirmed after it): the export beside the previous one
            for line in comparisons_lines(loaded.run.held_whole()):
                out.append("\n")
                out.append_text(plain(line, "yellow"))
        if loaded.run.confirmed_at:  # the hold is over: said, not left to read as pending
            out.append("\n")
            out.append_text(
                plain(
                    f"Held, then confirmed by {loaded.run.confirmed_by} "
                    f"{when(loaded.run.confirmed_at)}",
                    "bold green",
                )
            )
    if loaded.file is None:
        out.append(
            "\nThis run left no processed file (failed before the export was read).",
            style="dim",
        )
        return out
    counts = loaded.file.counts
    out.append("\n")
    parts = [
        f"{k.replace('_', ' ')} {counts.get(k, 0)}"
        for k in COUNT_KEYS
        if counts.get(k, 0) or k in ("fetched", "created")
    ]
    out.append(", ".join(parts))
    return out


class RunPicker(Dialog[str | None]):
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
