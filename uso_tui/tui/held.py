"""Reviewing a held run (the safety hold) before confirming it, from the Force Run and run history
screens: every account the run would unallocate, marked; space unmarks (keeps) one; candidates of
open match cases and accounts whose record came back are flagged; `y` confirms what the summary
says, `n`/escape leaves the run held."""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Run
from uso_tui.domain.schools import la_of
from uso_tui.sync.actions import Confirmed, HeldAccount
from uso_tui.sync.compare import comparisons_lines
from uso_tui.tui.format import plain
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.screens.listing import Col, Details, ListTable, Row, cells
from uso_tui.tui.widgets import Dialog
from uso_tui.tui.workers import in_thread

DIALOG_INNER = 72  # the .dialog's width (76) less its border and padding


def flag_text(held: HeldAccount, incomplete: bool = False, school: str = "") -> Text:
    """Why an operator should look twice at this account (words, so NO_COLOR keeps them)."""
    if held.back_since:
        said = "left alone" if incomplete else "back: left alone"
        return Text(said, style="bold green", end="")
    if held.status != "active":
        return Text(held.status, style="dim", end="")
    if held.case_ids:
        # the school's own case ids without its DfE, which the dialog's title says; another's
        # of its authority (a mover's case there) without the authority's number
        first = held.case_ids[0]
        if first.startswith(f"{school}-"):
            first = first.rsplit("-", 1)[-1]
        elif school and first.startswith(f"{la_of(school)}-"):
            first = first.split("-", 1)[1]
        more = f" +{len(held.case_ids) - 1}" if len(held.case_ids) > 1 else ""
        return Text(f"candidate {first}{more}", style="bold yellow", end="")
    return Text("", end="")


class HeldReview(Dialog[list[str] | None]):
    """Dismissed with the usernames the operator unmarked (kept), or None to leave the run held."""

    IS_QUESTION = True  # answered or cancelled before anything else (no palette over it)

    BINDINGS = [
        Binding("space", "toggle", "Keep / unallocate", key_display="space"),
        Binding("a", "all", "Mark all", show=False),
        Binding("y", "confirm", "Confirm"),
        Binding("n,escape", "cancel", "Not now"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
        Binding("c", "comparison", "Whole comparison", show=False),
    ]

    DEFAULT_CSS = """
    HeldReview #held-dialog { height: 90%; }
    HeldReview #held-table { height: 1fr; min-height: 3; }
    HeldReview #held-summary { height: auto; }
    HeldReview #held-comparison { height: auto; max-height: 8; color: $warning; }
    """

    def __init__(
        self, run: Run, held: list[HeldAccount], applies: str = "", taken: str = ""
    ) -> None:
        super().__init__()
        self.run = run
        self.applies = applies  # a run held whole: what else confirming it does (whole_preview)
        self.taken = taken  # a run has taken its export since: held_export.taken_words
        self.held = {h.username: h for h in held}
        self.said: list[str] = []  # the export comparison in full (a run held whole)

    def compose(self) -> ComposeResult:
        with Vertical(id="held-dialog", classes="dialog"):
            yield Static(
                plain(f"Held run {self.run.run_id} of {self.run.school}", "bold"),
                classes="dialog-title",
            )
            if self.run.comparison:
                # held whole: what looked wrong, before any account is chosen
                whole = self.run.held_whole()
                said = comparisons_lines(whole)
                other = _other_reasons(self.run.hold_reason, whole)
                if other:  # the other report, held for its unallocations only
                    said.insert(2, f"also held: {other}")
                self.said = said
                # why each report is held first: the dialog shows the first rows only
                first = [x for x in said if x.startswith(_HELD)]
                first += [x for x in said if not x.startswith(_HELD)]
                lines = Text("\n").join(plain(x) for x in _first_rows(first))
                yield Static(lines, id="held-comparison")
            elif self.run.hold_reason:  # why, where the operator decides (an MIS id given to
                # two people: confirming unallocates; an incomplete export: it does not)
                yield Static(plain(f"held: {self.run.hold_reason}"), id="held-comparison")
            yield ListTable(
                [
                    # as wide as the longest username (to 22, which the dialog's 72 columns
                    # hold beside the others): each is about to be unallocated, and 18 cut
                    # oadebayookafor2.204; past it, cut in the middle (two alike tell apart by
                    # their ends)
                    Col("Username", "username", 22, ends=True, fit=True),
                    Col("Name", "name", None, 10),
                    Col("Born", "dob", 10),
                    Col("Flag", "flag", 21, fit=True),  # (`candidate 3514-c12 +1`)
                ],
                marks=True,
                # the terminal's columns outside the dialog are not the table's
                inset=4,
                within=DIALOG_INNER,
                id="held-table",
            )
            yield Static("", id="held-summary")
            yield Static(
                Text.assemble(
                    ("space", "bold"),
                    " keep/unallocate, next row   ",
                    ("y", "bold"),
                    " confirm   ",
                    ("n/escape", "bold"),
                    " not now",
                ),
                classes="dialog-keys",
            )

    def on_mount(self) -> None:
        table = self.query_one(ListTable)
        rows = [
            Row(
                key=h.username,
                cells=cells(h.username, f"{h.forename} {h.surname}".strip(), h.dob or "-")
                + (flag_text(h, bool(self.run.incomplete), self.run.school),),
                haystack="",
                data=h,
            )
            for h in self.held.values()
        ]
        # ticked: unallocated on y. Accounts whose record came back are left alone whatever
        # the mark says, so they start unticked.
        table.marked = {h.username for h in self.held.values() if not h.back_since}
        table.set_rows(rows)
        table.focus()
        self.show_summary()

    # what y does, said before it is pressed -------------------------------------------------

    def chosen(self) -> list[str]:
        marked = self.query_one(ListTable).marked
        return [u for u, h in self.held.items() if u in marked and not h.back_since]

    def kept(self) -> list[str]:
        """Unticked by the operator (those whose record came back are left alone anyway)."""
        marked = self.query_one(ListTable).marked
        return [u for u, h in self.held.items() if u not in marked and not h.back_since]

    def show_summary(self) -> None:
        chosen = self.chosen()
        count = len(self.held)
        out = Text(end="")
        if self.taken:  # out of date: y applies nothing (or is refused: a newer one held)
            out.append(f"Out of date: {self.taken}", style="bold yellow")
            self.query_one("#held-summary", Static).update(out)
            return
        if self.run.comparison:
            out.append("y applies this export as it is", style="bold")
            if self.applies:  # what else it does: read before y, not found after it
                out.append(f" ({self.applies})", style="bold yellow")
            out.append(" and ", style="bold")
        out.append(
            f"{'' if self.run.comparison else 'y '}unallocates {len(chosen)} of {count}",
            style="bold",
        )
        kept = self.kept()
        if kept:
            # named: a space typed on the row below the one meant keeps another person
            out.append(f"; {len(kept)} kept: ")
            out.append(_some(kept), style="bold")
            out.append(" (a later run unallocates them if still absent)")
        back = [u for u, h in self.held.items() if h.back_since]
        if back:
            out.append(f"; {len(back)} left alone ({_alone_because(self.run)})")
        if self.run.incomplete:
            out.append("\n")
            out.append_text(
                plain(
                    f"Incomplete export ({self.run.incomplete}): it says nothing of who left; "
                    "the next complete export unallocates them.",
                    "bold yellow",
                )
            )
        candidates = [u for u in chosen if self.held[u].case_ids]
        if candidates:
            out.append(
                f"\n{len(candidates)} ticked {'is a candidate' if len(candidates) == 1 else 'are candidates'}"
                " of open match cases: space keeps one.",
                style="bold yellow",
            )
        out.append(
            "\nAn account unallocated is kept, not deleted: Bulk results restores it.", style="dim"
        )
        self.query_one("#held-summary", Static).update(out)

    # keys ------------------------------------------------------------------------------------

    def action_toggle(self) -> None:
        table = self.query_one(ListTable)
        row = table.current()
        if row is not None and row.data.back_since:
            table.action_cursor_down()  # confirming leaves it alone: nothing to choose
            return
        table.toggle_mark()
        self.show_summary()

    def action_all(self) -> None:
        table = self.query_one(ListTable)
        table.marked = {u for u, h in self.held.items() if not h.back_since}
        table.refill()
        self.show_summary()

    def action_down(self) -> None:
        self.query_one(ListTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(ListTable).action_cursor_up()

    def action_confirm(self) -> None:
        self.dismiss(self.kept())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_comparison(self) -> None:
        if self.said:
            body = Text("\n").join(plain(x) for x in self.said)
            self.app.push_screen(_Comparison("The export beside the previous one", body))


class _Comparison(Details):
    """The whole export comparison, over the review: `y` there is said to be the review's."""

    BINDINGS = [Binding("y", "not_here", "Confirm (on the review)", show=False)]

    def action_not_here(self) -> None:
        self.app.notify(
            "y confirms on the review: escape first, then y", severity="warning", markup=False
        )


# Rows of the export comparison the dialog shows (at 80x24 the accounts need the rest): the
# other lines behind `c`, said on the last row.
COMPARISON_ROWS = 6


def _first_rows(said: list[str]) -> list[str]:
    shown: list[str] = []
    rows = 0
    for line in said:
        need = -(-len(line) // (DIALOG_INNER - 6))  # the rows it wraps to, words kept whole
        if rows + need > COMPARISON_ROWS:
            break
        shown.append(line)
        rows += need
    if len(shown) < len(said):
        shown.append(f"... {len(said) - len(shown)} more line(s): c shows the whole comparison")
    return shown


KEPT_NAMED = 3  # kept accounts named in the summary; more are counted


def _alone_because(run: Run) -> str:
    """Why confirming a run leaves an account it held alone."""
    if run.incomplete:
        return "the export was incomplete"
    return "record came back or changed since"


def _some(usernames: list[str]) -> str:
    named = ", ".join(usernames[:KEPT_NAMED])
    more = len(usernames) - KEPT_NAMED
    return f"{named} and {more} more" if more > 0 else named


def confirmed_line(done: Confirmed) -> str:
    """`Run 204-3210-r4 confirmed: 12 unallocated, 2 kept, 1 left alone (record came back)`."""
    if done.applied is False:
        return (
            f"Run {done.run.run_id} confirmed, not applied: {done.run.school} has run since "
            "(its newer export is the one applied); nothing changed"
        )
    parts = [f"{len(done.unallocated)} unallocated"]
    if done.applied:
        from uso_tui.sync.held_export import applies_words  # noqa: PLC0415 - imports the runner

        # what it did besides, as the review said it would (the store may have changed since)
        did = applies_words(done.run.counts, done=True)
        parts.insert(0, f"its export applied ({did})" if did else "its export applied")
    if done.kept:
        parts.append(f"{len(done.kept)} kept")
    if done.left_alone:
        parts.append(f"{len(done.left_alone)} left alone ({_alone_because(done.run)})")
    return f"Run {done.run.run_id} confirmed: " + ", ".join(parts)


def confirm_kept(store, run: Run, kept: list[str], *, operator: str, now) -> Confirmed:
    """confirm_held with the operator's choice: all of the run's held accounts but `kept`."""
    from uso_tui.sync.actions import confirm_held  # noqa: PLC0415

    return confirm_held(
        store, run.run_id, operator=operator, now=now, exclude=kept if kept else None
    )


class ConfirmsHeld(UsoScreen):
    """A screen that confirms held runs: load_held(run) reads the held accounts in a worker,
    shows the review, and confirms in a worker what the operator chose; held_confirmed(done)
    then says what happened (each screen its own way)."""

    def load_held(self, run: Run) -> None:
        self.hold_keys()  # keys typed ahead are for the review, once it is shown
        self._read_held(run)

    @in_thread("held-review", failure="Cannot read the held accounts")
    def _read_held(self, run: Run) -> None:
        from uso_tui.sync.actions import held_review  # noqa: PLC0415
        from uso_tui.sync.held_export import (  # noqa: PLC0415
            taken_since,
            taken_words,
            whole_preview,
        )

        held = held_review(self.store, run.run_id)
        applies = whole_preview(self.store, run, self.now().date())
        taken = taken_since(self.store, run) if run.comparison else None
        self.app.call_from_thread(
            self._ask_confirm, run, held, applies, taken_words(taken) if taken else ""
        )

    def _ask_confirm(
        self, run: Run, held: list[HeldAccount], applies: str = "", taken: str = ""
    ) -> None:
        def answer(kept: list[str] | None) -> None:
            if kept is not None:
                self.hold_keys()  # and then for the screen as the confirmation leaves it
                self.confirm_chosen(run, kept)

        # The hold is there for a person to look: a `y` typed before the review shows (`y` `y`
        # on a held force run, `c` `y` in the history) is dropped, not taken as its answer.
        self.app.drop_typed_ahead("the held run's review, to read before it is confirmed")
        self.app.push_screen(HeldReview(run, held, applies, taken), answer)
        self.keys_go()

    @in_thread("held", failure="Not confirmed")
    def confirm_chosen(self, run: Run, kept: list[str]) -> None:
        try:
            done = confirm_kept(self.store, run, kept, operator=self.operator, now=self.now())
        except InvalidInput:
            # confirmed (or undone) meanwhile, elsewhere: the refusal says so, and the screen
            # behind it shows the run as it is now, not as still held
            with contextlib.suppress(Exception):
                now = self.store.run(run.run_id)
                self.app.call_from_thread(self.held_changed, now)
            raise
        self.app.call_from_thread(self._confirmed, done)

    def held_changed(self, run: Run) -> None:
        """The run as it is now, after another process changed it (each screen its own way)."""

    def _confirmed(self, done: Confirmed) -> None:
        self.held_confirmed(done)
        self.keys_go()

    def held_confirmed(self, done: Confirmed) -> None:
        self.say(confirmed_line(done))


_HELD = ("held whole:", "also held:")


def _other_reasons(hold_reason: str | None, whole: list[dict]) -> str:
    """The run's reasons to hold beside those of its reports held whole (a report whose
    unallocations alone are held), as the run said them; "" when there are none."""
    rest = hold_reason or ""
    for comparison in whole:
        reason = comparison.get("reason", "")
        for said in (f"{comparison.get('report')}: {reason}", reason):
            if reason and said in rest:
                rest = rest.replace(said, "", 1)
                break
    return "; ".join(part for part in (p.strip() for p in rest.split("; ")) if part)
