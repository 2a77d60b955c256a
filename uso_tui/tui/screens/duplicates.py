"""Possible duplicates of a school (or of every school): pairs of active accounts that are probably
one person, each with its evidence. For the highlighted pair both accounts are shown side by side;
`b` keeps both as different people (not listed together again), `u` unallocates one of them,
`v` lists the pairs kept so (where a keep is taken back).

Names come from the MIS or from operators: every cell and line is a literal rich Text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from uso_tui.domain.models import Account
from uso_tui.tui.format import clean, full_name, middle_cut, plain
from uso_tui.tui.screens.listing import Col, ListScreen, ListTable, LoadedListScreen, Row, cells
from uso_tui.tui.screens.listing import haystack as words_of
from uso_tui.tui.widgets import Confirm, Dialog
from uso_tui.tui.workers import in_thread


@dataclass(slots=True)
class Pair:
    """One possible duplicate: its two accounts as stored, and why they look like one person."""

    first: Account
    second: Account
    evidence: tuple[str, ...]
    twice: str | None = None  # the MIS holds the person twice (sync.duplicates.held_twice)

    @property
    def accounts(self) -> tuple[Account, Account]:
        return (self.first, self.second)


def who(account: Account) -> Text:
    name = full_name(account.forename, account.surname, account.preferred_name)
    return plain(f"{account.username} ({name})")


def link_of(account: Account) -> str:
    return (
        f"{account.link_report} record {account.mis_id} at {account.link_school}"
        if account.linked
        else "not linked"
    )


VALUE_CELLS = 60  # the most of a value the side-by-side shows: two lines of its column at 80x24


def side_by_side(pair: Pair) -> Table:
    """The two accounts in two columns, field by field, each value folded onto a second line
    and a longer one cut in its middle: cut at the column's end, two long names differing at
    their end read as one, the operator's very question (and a value of any length from the MIS
    would push the list of pairs off the screen)."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=9, no_wrap=True, style="bold")
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    first, second = pair.accounts

    def whole(value: object) -> Text:  # (a word longer than the column goes on, folded)
        return Text(middle_cut(clean(value), VALUE_CELLS), overflow="fold", end="")

    rows = [
        ("", Text("1", style="bold"), Text("2", style="bold")),
        ("Username", whole(first.username), whole(second.username)),
        (
            "Name",
            whole(full_name(first.forename, first.surname)),
            whole(full_name(second.forename, second.surname)),
        ),
        ("Known as", whole(first.preferred_name or "-"), whole(second.preferred_name or "-")),
        ("Born", whole(first.dob or "-"), whole(second.dob or "-")),
        ("School", whole(first.school or "-"), whole(second.school or "-")),
        ("Status", whole(f"{first.status} {first.role}"), whole(f"{second.status} {second.role}")),
        ("MIS", whole(link_of(first)), whole(link_of(second))),
    ]
    for label, left, right in rows:
        grid.add_row(Text(label), left, right)
    return grid


def evidence_text(pair: Pair) -> Text:
    out = Text("Evidence  ", style="bold", end="")
    out.append_text(plain("; ".join(pair.evidence)))
    return out


def read_pairs(
    store: Any, dfe: str | None, progress: Callable[[int, int], None] | None = None
) -> list[Pair]:
    """The possible duplicates with their accounts as stored (`progress` hears each local
    authority read when every school's are)."""
    from uso_tui.sync.duplicates import reviewed  # noqa: PLC0415

    found, accounts = reviewed(store, dfe, progress)
    return [
        Pair(
            accounts[duplicate.first.username],
            accounts[duplicate.second.username],
            duplicate.evidence,
            duplicate.twice,
        )
        for duplicate in found
        if duplicate.first.username in accounts and duplicate.second.username in accounts
    ]


class WhichOne(Dialog[Account | None]):
    """Which account of a pair to unallocate: 1 or 2, n or escape cancels (as every question)."""

    IS_QUESTION = True  # answered or cancelled before anything else (no palette over it)

    BINDINGS = [
        Binding("1", "choose(0)", "First"),
        Binding("2", "choose(1)", "Second"),
        Binding("n,escape", "choose(-1)", "Cancel"),
    ]

    def __init__(self, pair: Pair) -> None:
        super().__init__()
        self.pair = pair

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(plain("Unallocate which account?", "bold"), classes="dialog-title")
            body = Text(end="")
            for number, account in enumerate(self.pair.accounts, 1):
                body.append(f"{number}  ", style="bold")
                body.append_text(who(account))
                body.append(f"\n   at {account.school}, {link_of(account)}\n")
            body.append("The other stays as it is.", style="dim")
            yield Static(body)
            yield Static(
                Text.assemble(
                    ("1", "bold"), " / ", ("2", "bold"), " choose   ", ("n/escape", "bold")
                )
                + Text(" cancel"),
                classes="dialog-keys",
            )

    def action_choose(self, index: int) -> None:
        self.dismiss(self.pair.accounts[index] if index >= 0 else None)


class PairListScreen(LoadedListScreen):
    """A list of pairs of accounts (PAIRS names them) with the highlighted pair shown below
    (#pair, filled by _show_current) and a title counting the pairs."""

    PAIRS = ""

    def __init__(self, store, dfe: str | None = None) -> None:
        super().__init__(store, dfe)
        self.where = dfe or "all schools"
        self.title = f"{self.PAIRS}: {self.where}"

    def _show(self, rows: list[Row], began: float) -> None:
        if not self.shown_read(began):
            return
        self.query_one("#pair", Static).remove_class("loading")
        self.active_table().set_rows(rows)
        self.filter_applied()
        self._show_current()

    def filter_applied(self) -> None:
        table = self.active_table()
        total = len(table.all_rows)
        text = f"{self.title} | {total} pair{'' if total == 1 else 's'}"
        if len(table.shown) != total:
            text += f" | {len(table.shown)} shown"
        self.query_one("#title", Static).update(
            Text(text, style="bold", no_wrap=True, overflow="ellipsis")
        )

    def _show_current(self) -> None:
        raise NotImplementedError

    _questions: tuple[ModalScreen, ...] = ()  # the questions it has asked (ask)
    _away = False  # another screen has been over it since it was last shown

    def ask(self, question: ModalScreen, answered: Callable[[Any], None]) -> None:
        """Pushes one of this list's questions: coming back from it is no reason to read the
        pairs again (a decision takes its pair out itself); coming back from any other screen
        is."""
        self._questions = (*self._questions[-3:], question)
        self.app.push_screen(question, answered)

    def on_screen_suspend(self) -> None:
        top = self.app.screen
        if top is not self and top not in self._questions:
            self._away = True

    def reload_on_resume(self) -> bool:
        away, self._away = self._away, False
        return away


def pair_name(first: Any, second: Any) -> str:
    """The pair's names in a list cell: one name when alike; else what differs, the part they
    share once (Kamiński beside Kamńiski, the pair's very question, read as one name when the
    first alone was shown): "W Kamiński / Kamńiski", "Ben / Be[n] Carter", "Ben / Ben (Benny)
    Carter". Literal text (full_name cleans each part)."""
    one = full_name(first.forename, first.surname, first.preferred_name)
    two = full_name(second.forename, second.surname, second.preferred_name)
    if one == two:
        return one
    given = [full_name(a.forename, "", a.preferred_name) for a in (first, second)]
    family = [full_name("", a.surname) or "?" for a in (first, second)]
    if given[0] == given[1] and given[0]:
        return f"{given[0][:1]} {family[0]} / {family[1]}"
    if family[0] == family[1] and given[0] and given[1]:
        return f"{given[0]} / {given[1]} {family[0]}"
    return f"{one} / {two}"


class DuplicatesScreen(PairListScreen):
    PAIRS = "Possible duplicates"
    EXPORT_LIST = "duplicates"
    kind = "duplicates"
    WIDE_KEYS = ("kept",)
    TABLE_ID = "pairs"

    # `b` keeps both: `j` and `k` move as in every list (`k` for keep had taken a `j j k y`,
    # typed to keep the third pair, as keeping the first).
    BINDINGS = [
        Binding("b", "keep", "Keep both"),
        Binding("u", "unallocate", "Unallocate one"),
        # not in the footer (full at 80 columns): in `?`, the palette and the empty list's line
        Binding("v", "kept", "Kept pairs", show=False),
        *ListScreen.LIST_BINDINGS,
        ListScreen.EXPORT_BINDING,
        Binding("g", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    DuplicatesScreen #pairs { height: 1fr; }
    DuplicatesScreen #pair { height: auto; padding: 0 1; }
    DuplicatesScreen #evidence { height: auto; max-height: 5; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.title)
        yield self.filter_bar("filter: username, name, school, evidence (escape clears)")
        yield ListTable(
            [
                Col("Account 1", "first", 15, ends=True),
                Col("Account 2", "second", 15, ends=True),
                Col("Name", "name", None, 12),
                Col("Schools", "schools", 17, wide=True),
                Col("Evidence", "evidence", None, 14),
            ],
            id="pairs",
        )
        yield Static("loading…", id="pair", classes="loading")
        yield Static("", id="evidence")
        yield Footer(compact=True)

    @in_thread("duplicates-load", failure="Cannot read possible duplicates")
    def load(self) -> None:
        began = time.monotonic()
        pairs = read_pairs(
            self.store,
            self.dfe,
            lambda done, total: self.app.call_from_thread(self._reading, done, total),
        )
        rows = []
        for pair in pairs:
            first, second = pair.accounts
            schools = (
                first.school if first.school == second.school else f"{first.school} {second.school}"
            )
            name = pair_name(first, second)
            rows.append(
                Row(
                    key=f"{first.username} {second.username}",
                    cells=cells(
                        first.username,
                        second.username,
                        name,
                        schools,
                        "; ".join(pair.evidence),
                    ),
                    haystack=words_of(
                        first.username,
                        second.username,
                        first.forename,
                        first.surname,
                        second.forename,
                        second.surname,
                        first.school,
                        second.school,
                        *pair.evidence,
                    ),  # fmt: skip
                    data=pair,
                )
            )
        self.app.call_from_thread(self._show, rows, began)

    def _reading(self, done: int, total: int) -> None:
        """Every school's review as it reads the store (seconds at thousands of schools): how
        far it has come, while nothing is shown yet."""
        if not self.is_mounted:  # left while it read
            return
        box = self.query_one("#pair", Static)
        if box.has_class("loading"):
            box.update(f"loading… local authority {done + 1} of {total}")

    def _show_current(self) -> None:
        box = self.query_one("#pair", Static)
        if box.has_class("loading"):
            return
        row = self.active_table().current()
        evidence = self.query_one("#evidence", Static)
        if row is None:
            box.update(
                Text(
                    "No possible duplicates to review (v: the pairs kept as different people).",
                    style="dim",
                )
            )
            evidence.update("")
        else:
            box.update(side_by_side(row.data))
            evidence.update(evidence_text(row.data))

    @on(DataTable.RowHighlighted, "#pairs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_current()

    def current_pair(self) -> Pair | None:
        row = self.active_table().current()
        return row.data if row is not None else None

    # -- decisions ----------------------------------------------------------------------------

    def action_keep(self) -> None:
        pair = self.current_pair()
        if pair is None or self.typed_blind():
            return
        first, second = pair.accounts
        body = Text(end="")
        body.append_text(who(first))
        body.append("\nand\n")
        body.append_text(who(second))
        body.append(
            "\n\nare two different people: both stay as they are, and this pair is not listed "
            "again unless their names, date of birth or UPN change. Recorded in the audit log."
        )
        if any("the MIS holds this person twice" in line for line in pair.evidence):
            # unallocating is refused for such a pair: keeping it is not the only way out
            body.append(
                "\n\nThe school's MIS lists them as two records: if they are one person, "
                "cancel and leave the pair listed until the school merges the records (the "
                "next run then unallocates the account of the record gone).",
                style="bold yellow",
            )

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()  # keys typed ahead are for the list as it is after this
                self.decide("keep", pair, None)

        self.ask(Confirm("Keep both accounts?", body, yes="Keep both"), answer)

    def action_kept(self) -> None:
        """The pairs kept as different people, to take a keep back (sync.kept_apart)."""
        self.app.open_screen("kept", self.dfe)

    def action_unallocate(self) -> None:
        pair = self.current_pair()
        if pair is None or self.typed_blind():
            return
        from uso_tui.sync.duplicates import MERGE_AT_SCHOOL  # noqa: PLC0415

        if pair.twice is not None:  # said before a choice is asked for, not after
            self.say(f"Both stay: {pair.twice}. {MERGE_AT_SCHOOL}", "warning")
            return

        def chosen(account: Account | None) -> None:
            if account is not None:
                self._confirm_unallocate(pair, account)

        self.ask(WhichOne(pair), chosen)

    def _confirm_unallocate(self, pair: Pair, account: Account) -> None:
        other = pair.second if account is pair.first else pair.first
        body = Text(end="")
        body.append_text(who(account))
        body.append(f"\nis removed from {account.school} and kept (restorable from Bulk results)")
        if account.linked:
            body.append(
                f"; its link to {link_of(account)} is dropped, so that record comes to "
                "matching at the next run"
            )
            if other.linked:  # (two exports: held_twice refuses one export's two records)
                body.append(
                    f", where {other.username}, linked to {link_of(other)}, is no candidate: "
                    "it comes back at every run while both records are in the MIS"
                )
        body.append(".\n\nStays: ")
        body.append_text(who(other))

        def answer(yes: bool | None) -> None:
            if yes:
                self.hold_keys()
                self.decide("unallocate", pair, account)

        self.ask(
            Confirm(f"Unallocate {account.username}?", body, yes="Unallocate", no="Cancel"),
            answer,
        )

    @in_thread("duplicates-apply", failure="Not saved", exclusive=False)
    def decide(self, what: str, pair: Pair, account: Account | None) -> None:
        from uso_tui.sync.duplicates import keep_both, unallocate_duplicate  # noqa: PLC0415

        first, second = pair.accounts
        if what == "keep":
            kept_now = keep_both(
                self.store,
                first.username,
                second.username,
                operator=self.operator,
                now=self.now(),
                shown=pair.accounts,  # as the review on screen shows them
            )
            message = (
                f"Kept {first.username} and {second.username} as different people"
                if kept_now
                else f"{first.username} and {second.username} were already kept as different "
                "people (elsewhere, meanwhile): nothing changed"
            )

            def settled(names: set[str]) -> bool:
                return names == {first.username, second.username}
        else:
            assert account is not None
            other = second if account.username == first.username else first
            unallocate_duplicate(
                self.store,
                account.username,
                other.username,
                operator=self.operator,
                now=self.now(),
                shown=pair.accounts,  # as the review on screen shows them
            )
            message = f"Unallocated {account.username}; {other.username} stays"

            def settled(names: set[str]) -> bool:
                return account.username in names  # no longer active: in no pair

        self.app.call_from_thread(self._decided, message, time.monotonic(), settled)

    def _decided(self, message: str, saved: float, settled: Callable[[set[str]], bool]) -> None:
        """The pairs the decision settled leave the list, which is not read again: the review of
        every school reads the whole store (seconds at thousands of schools), and keys typed
        ahead wait for the list the decision leaves. Keeping or unallocating one pair changes no
        other (`g` reads the store again, for what others changed meanwhile)."""
        self.decision_saved(saved)
        self.say(message)
        rows = [
            row
            for row in self.active_table().all_rows
            if not settled({a.username for a in row.data.accounts})
        ]
        self._show(rows, time.monotonic())
