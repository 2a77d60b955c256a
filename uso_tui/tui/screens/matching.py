"""Matching queue of one school: one case at a time, the MIS record beside its ranked candidates.

Each decision is saved at once (sync.actions.resolve_case) in a thread; moving between cases does no
I/O. The list of cases is the school's open cases when the screen opened; decided ones stay in the
list (so `p` goes back to them and `u` can undo).
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import DataTable, Footer, Static

from uso_tui.domain.models import Account, Candidate, MatchCase, MisRecord, alone_score
from uso_tui.store import AccountHit, StoreError, unreadable_school
from uso_tui.sync.actions import contested_by, refreshed_since
from uso_tui.sync.checks import latest_export_ids, on_roll_elsewhere
from uso_tui.sync.match_model import CREATE_GUARD, level_words
from uso_tui.tui.applying import error_text
from uso_tui.tui.format import cell, clean, ends_kept, hanging, plain, when
from uso_tui.tui.keys_in_turn import Shown
from uso_tui.tui.screens.listing import ExportsCsv
from uso_tui.tui.widgets import Confirm, ConfirmForce, Prompt, current_key
from uso_tui.tui.workers import in_thread

DIFF_STYLE = "bold reverse"
USERNAME_WIDTH = 14
FIELD_LABELS = {"preferred_name": "preferred name", "dob": "date of birth"}
RECORD_FIELDS = [
    ("forename", "Forename"),
    ("surname", "Surname"),
    ("preferred_name", "Preferred"),
    ("middle_names", "Middle names"),
    ("dob", "Date of birth"),
]


def lv_text(field: str, level: str) -> str:
    """One comparison in words (`dob swapped`), short enough for an 80-column line."""
    return f"{FIELD_LABELS.get(field, field)} {level_words(level)}"


WIDE_FROM = 110  # columns from which the record shows beside its candidates


def record_text(rec: MisRecord, role: str) -> Group:
    """The record's names and date of birth, a line each, then what else it says (the UPN
    first: the strongest evidence), wrapped under its own indent."""
    out = Text()
    out.append("MIS record ", style="bold")
    out.append(f"({role}, MIS id {clean(rec.mis_id)})\n", style="dim")
    for position, (field, label) in enumerate(RECORD_FIELDS):
        if position:
            out.append("\n")
        out.append(f"  {label:<14}", style="bold")
        out.append_text(plain(getattr(rec, field) or "—"))
    extra = []
    if rec.upn:
        extra.append(f"UPN {clean(rec.upn)}")
    if rec.gender:
        extra.append(f"gender {clean(rec.gender)}")
    if rec.year_group or rec.form_group:
        extra.append(f"year {clean(rec.year_group or '?')} form {clean(rec.form_group or '?')}")
    if rec.enrolment_date:
        extra.append(f"started {rec.enrolment_date}")
    if rec.email:
        extra.append(clean(rec.email))
    if extra:
        out.append("\n  " + "; ".join(extra), style="dim")
    return hanging(out)


def decided_words(decision: str | None) -> str:
    """A case's decision as said (`match:jsmith.204` is matched to jsmith.204)."""
    decision = decision or ""
    what = {
        "skip": "skipped (still open)",
        "exclude": "excluded (added to the exclusion list)",
    }.get(decision)
    if what is None:
        kind, _, user = decision.partition(":")
        what = {"match": f"matched to {user}", "create": f"new account {user}"}.get(kind, decision)
    return what


def decision_text(case: MatchCase) -> Text:
    if case.status == "open" and not case.decision:
        out = Text("open: choose a candidate, create, exclude or skip", style="bold yellow")
        if case.refreshed_at:
            out.append("\n")  # outside plain(), which shows a line break as a symbol
            out.append_text(plain(f"refreshed {when(case.refreshed_at)}: {case.refreshed}"))
        return out
    out = Text(
        f"decided: {decided_words(case.decision)}",
        style="bold green" if case.status == "resolved" else "yellow",
    )
    if case.decided_by:
        out.append_text(plain(f" by {case.decided_by}", "dim"))
    out.append("   u undoes this decision", style="dim")
    return out


# the keys that decide an open case (m c x s, / to search an account for it)
DECISION_KEYS = frozenset(("m", "c", "x", "slash"))


class MatchingScreen(ExportsCsv):
    EXPORT_LIST = "cases"
    kind = "matching"
    TITLE = "Matching queue"
    WIDE_KEYS = ("export", "previous", "toggle_decided")
    # what the footer's keys can do now: the footer is rebuilt (a few ms) only when it changes
    keys_state: var[tuple] = var((), bindings=True)

    BINDINGS = [
        Binding("m", "match", "Match"),
        Binding("enter", "match", "Match", show=False),
        # short in the footer (it must fit 80 columns with Undo); ? Keys says them in full
        Binding("c", "create", "Create", tooltip="Create new"),
        Binding("x", "exclude", "Exclude"),
        Binding("s", "skip", "Skip"),
        Binding("p", "previous", "Previous", show=False),
        Binding("n", "next", "Next", show=False),
        Binding("u", "undo", "Undo"),
        Binding("v", "toggle_decided", "Decided", show=False),
        Binding("slash", "search", "Search", key_display="/", tooltip="Search account"),
        ExportsCsv.EXPORT_BINDING_UNSHOWN,
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "reload", "Reload", show=False),
        Binding("escape", "app.back", "Back"),
    ]

    def __init__(self, store, dfe: str, focus: str | None = None) -> None:
        super().__init__(store, dfe)
        self.cases: list[MatchCase] = []
        self.index = 0
        self.focus_case = focus  # the case to show first (chosen on another screen)
        self.decided: list[str] = []  # case ids decided in this session, newest last
        # case id -> (decision, decided_at) as this session made it: `u` undoes only that
        self._made: dict[str, tuple[str | None, str | None]] = {}
        self.busy = False
        self.searching_accounts = False  # `/`'s search under way (keys typed with it wait)
        self.extra_candidates: dict[str, list[dict]] = {}  # case id -> accounts found by search
        self._deciding: str | None = None  # the case a decision is being saved for
        self.with_decided = False  # v: decided cases (of any session) listed after the open ones
        self.accounts: dict[str, Account] = {}  # candidates' accounts as they are now
        self.present: dict[str, set[str] | None] = {}  # report -> ids of the latest export
        self.on_roll: dict[str, str] = {}  # candidates still on roll at that other school
        # the case on screen (its id, record and candidates), and when it first showed so: a
        # decision key read before it is typed for no case the operator saw
        self._case_shown = Shown()

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Matching queue {self.dfe}")
        # the record beside its candidates when the terminal is wide, above them when narrow
        with Horizontal(id="case-body"):
            with Vertical(id="case-left"):
                yield Static("loading…", id="case-record", classes="loading")
                yield Static("", id="case-state", classes="summary")
            yield DataTable(id="candidates", cursor_type="row")
        yield Static("", id="candidate-detail", classes="hint")
        yield Footer(compact=True)

    def on_resize(self) -> None:
        # the record beside the candidates, or above them, as the terminal is now (a window made
        # narrow kept the wide layout, and the record shrank to nothing)
        self.set_class(self.app.size.width >= WIDE_FROM, "-wide")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.set_class(self.app.size.width >= WIDE_FROM, "-wide")
        table.add_column("Score", width=5, key="score")
        table.add_column("Username", width=USERNAME_WIDTH, key="username")
        table.add_column("Forename", width=10, key="forename")
        table.add_column("Surname", width=11, key="surname")
        table.add_column("Pref.", width=7, key="preferred")
        table.add_column("DOB", width=10, key="dob")
        table.add_column("School", width=8, key="school")
        table.focus()
        self.hold_keys()  # keys typed ahead as the queue opens wait for its cases (none decides)
        self.load()

    @in_thread("matching-load", failure="Cannot read the matching queue")
    def load(self) -> None:
        cases = self.store.cases(self.dfe, "open")
        if self.with_decided:
            decided = self.store.cases(self.dfe, "resolved")
            decided.sort(key=lambda c: c.decided_at or "", reverse=True)
            cases += decided
        # a candidate's school as the case saw it may be stale (unallocated, moved since)
        unreadable: set[str] = set()
        wanted = {c["username"] for case in cases for c in case.candidates}
        now = self.store.find_accounts(wanted, unreadable)
        # the school's latest export of each report: a candidate linked to a record gone from it
        # (a leaver) is no other person's account (MatchCase.taken_by)
        present = {r: latest_export_ids(self.store, self.dfe, r) for r in {c.report for c in cases}}
        # ... and those still on roll at another school: a match takes them from there
        on_roll = on_roll_elsewhere(self.store, self.dfe, now.values())
        self.app.call_from_thread(self._loaded, cases, now, present, on_roll)
        for home in sorted(unreadable):  # the queue still opens: said once, as it does
            self.app.call_from_thread(self.say, unreadable_school(home).capitalize(), "warning")

    def _loaded(
        self,
        cases: list[MatchCase],
        accounts: dict[str, Account],
        present: dict[str, set[str] | None],
        on_roll: dict[str, str],
    ) -> None:
        # loaded: a later failure (a decision refused) says so in the notice, not over the record
        self.query_one("#case-record", Static).remove_class("loading")
        # g and v read the queue again: the session's skips (kept nowhere else) and the case in
        # view stay (self.decided, the session's decisions, is kept as it is)
        skipped = {c.case_id for c in self.cases if c.status == "open" and c.decision == "skip"}
        shown = self.case.case_id if self.case is not None else None
        self.cases = [
            MatchCase.from_dict({**case.to_dict(), "decision": "skip"})
            if case.case_id in skipped and case.status == "open" and not case.decision
            else case
            for case in cases
        ]
        self.accounts = accounts
        self.present = present
        self.on_roll = on_roll
        self.index = next((i for i, c in enumerate(self.cases) if c.case_id == shown), 0)
        if self.focus_case is not None:
            self.focus_item(self.focus_case)
        else:
            self.show()
        if self.case is None and self._run_going():
            self.say(f"A run of {self.dfe} is going: its cases show when it ends")
            if self.app.typed_ahead():
                # Opened while this school's run goes, keys typed with it (`f y m m y`): they
                # wait for the cases the run is opening (live_run_ended reads the queue again),
                # at most the hold's bound, past which they are dropped with a notice, never
                # spent on an empty queue; a decision among them then decides nothing (typed
                # before its case showed). Keys pressed once the queue shows act at once.
                return
        self.keys_go()

    def _run_going(self) -> bool:
        live = getattr(self.app, "live_runs", {}).get(self.dfe)
        return live is not None and not live.done and not self.with_decided

    def focus_item(self, case_id: str) -> None:
        """Show this case (before the queue has loaded: once it has)."""
        self.focus_case = case_id
        if not self.cases:
            return
        self.focus_case = None
        at = next((i for i, c in enumerate(self.cases) if c.case_id == case_id), None)
        if at is None:  # decided or withdrawn since it was chosen: not another case in its stead
            self.app.drop_typed_ahead()  # keys typed for that case (m y) are not for the first
            self.say(f"Case {case_id} is no longer open (decided or withdrawn since)", "warning")
        self.index = at or 0
        self.show()

    def action_reload(self) -> None:
        self.hold_keys()  # keys typed after g act on the queue as read again (s m y: not c1)
        self.load()

    def live_run_ended(self, dfe: str) -> None:
        """A run of this school started in this console has ended: the cases it opened are
        read now if the queue shows none (opened while the run went on, it said "no open
        cases"); a case shown is left in view, and the queue says how to read the new ones."""
        if dfe != self.dfe or self.busy or self._deciding is not None:
            return
        if self.case is None:
            self.load()
        else:
            self.say(f"The run of {dfe} has ended: g reads the queue again for the cases it opened")

    # -- showing -------------------------------------------------------------------------------

    @property
    def case(self) -> MatchCase | None:
        return self.cases[self.index] if 0 <= self.index < len(self.cases) else None

    def candidates(self, case: MatchCase) -> list[dict]:
        return list(case.candidates) + self.extra_candidates.get(case.case_id, [])

    def show(self) -> None:
        case = self.case
        title = self.query_one("#title", Static)
        table = self.query_one(DataTable)
        view = (case.case_id, case.record, case.candidates) if case is not None else None
        was = self._case_shown.view
        same = view is not None and isinstance(was, tuple) and view[0] == was[0]
        # the candidate highlighted stays so when its case is shown again (g, a refresh)
        keep = self.highlighted() if same else None
        table.clear()
        open_left = sum(
            1 for candidate in self.cases if candidate.status == "open"
        )  # skipped ones included
        self._case_shown.show(view)  # (another case, or this one as a run refreshed it)
        if case is None:
            head = f"{open_left} open (skipped; p goes back)" if open_left else "no open cases"
            title.update(Text(f"Matching queue {self.dfe}: {head}", style="bold"))
            # skipped cases still wait: "Nothing to match" read as the queue done
            self.query_one("#case-record", Static).update(
                Text(
                    f"{open_left} skipped case(s) still open: p goes back to them. "
                    f"{self._decided_here()} decided in this session."
                    if open_left
                    else f"Nothing to match. {self._decided_here()} decided in this session.",
                    end="",
                )
            )
            self.query_one("#case-state", Static).update(
                Text(
                    "p goes back; u undoes the last decision; v lists decided cases; g reloads.",
                    style="dim",
                )
                if self.decided
                else ""
            )
            self.query_one("#candidate-detail", Static).update("")
            self._refresh_keys()
            return
        title.update(
            Text(
                f"Matching {self.dfe}: case {self.index + 1} of {len(self.cases)} "
                f"({open_left} open)  {case.case_id}",
                style="bold",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        rec = case.mis_record()
        self.query_one("#case-record", Static).update(record_text(rec, case.role))
        self.query_one("#case-state", Static).update(decision_text(case))
        for cand in self.candidates(case):
            candidate = Candidate.from_dict(cand)
            diff = set(candidate.differs)
            row = [
                cell(
                    f"{candidate.score}%" if "found by search" not in candidate.reasons else "find",
                    "bold",
                ),
                ends_kept(cell(candidate.username), USERNAME_WIDTH),
                cell(candidate.forename, DIFF_STYLE if "forename" in diff else ""),
                cell(candidate.surname, DIFF_STYLE if "surname" in diff else ""),
                cell(candidate.preferred_name, DIFF_STYLE if "preferred_name" in diff else ""),
                cell(candidate.dob or "—", DIFF_STYLE if "dob" in diff else ""),
                self._where_cell(case, candidate),
            ]
            table.add_row(*row, key=candidate.username)
        if table.row_count:
            at = 0
            if keep is not None and keep["username"] in table.rows:
                at = table.get_row_index(keep["username"])
            table.move_cursor(row=at)
        self.show_detail()
        self._refresh_keys()

    def _where(self, candidate: Candidate) -> tuple[str | None, str]:
        """(school, status) of a candidate's account now, else as the case saw it."""
        acc = self.accounts.get(candidate.username)
        if acc is None:
            return candidate.school, "active" if candidate.school else "unallocated"
        return acc.school, acc.status

    def _taken_by(self, case: MatchCase, candidate: Candidate) -> str | None:
        acc = self.accounts.get(candidate.username)
        return case.taken_by(acc, self.present.get(case.report)) if acc is not None else None

    def _where_now(self, case: MatchCase, acc: Account) -> None:
        """A candidate's account as a look just read it: its row's school cell and the detail
        line redrawn (the table, its cursor, left as they are)."""
        self.accounts[acc.username] = acc
        table = self.query_one(DataTable)
        for cand in self.candidates(case):
            if cand["username"] == acc.username and acc.username in table.rows:
                where = self._where_cell(case, Candidate.from_dict(cand))
                table.update_cell(acc.username, "school", where)
        self.show_detail()

    def _gone(self, candidate: Candidate) -> str | None:
        """The MIS id of the record of this school a candidate is linked to that the latest
        export left out (a leaver, its unallocation held): no other person's account."""
        case, acc = self.case, self.accounts.get(candidate.username)
        if case is None or acc is None or self._taken_by(case, candidate) is not None:
            return None
        return case.taken_by(acc)

    def _where_cell(self, case: MatchCase, candidate: Candidate) -> Text:
        if self._taken_by(case, candidate) is not None:
            return cell("taken", "bold red")
        school, status = self._where(candidate)
        if status != "active" or not school:
            return cell("unalloc.", "yellow")
        return cell(school, "bold yellow" if school != self.dfe else "")

    def _refresh_keys(self) -> None:
        case = self.case
        self.keys_state = (
            case is None,
            case is not None and case.status == "open",
            self.busy,
            bool(self.decided),
            self.highlighted() is not None,
        )

    def highlighted(self) -> dict | None:
        case = self.case
        if case is None:
            return None
        key = current_key(self.query_one(DataTable))
        for cand in self.candidates(case):
            if cand["username"] == key:
                return cand
        return None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        cand = self.highlighted()
        detail = self.query_one("#candidate-detail", Static)
        if cand is None:
            case = self.case
            detail.update(
                Text("No candidates: c creates a new account, / searches any account.", style="dim")
                if case is not None
                else ""
            )
            return
        candidate = Candidate.from_dict(cand)
        out = Text(end="")
        if candidate.evidence:
            # Why it ranks here: the weight of each field, for and against.
            agree = [f"{lv_text(f, lv)} {w:+.1f}" for f, lv, w in candidate.evidence if w > 0]
            against = [f"{lv_text(f, lv)} {w:+.1f}" for f, lv, w in candidate.evidence if w <= 0]
            if agree:
                out.append("for: ", style="bold green")
                out.append(", ".join(agree) + "  ")
            if against:
                out.append("against: ", style="bold red")
                out.append(", ".join(against) + "  ")
            # where the account is now is said below (it may have moved since the case opened)
            extra = [r for r in candidate.reasons if "(" not in r and r != "unallocated"]
            if extra:
                out.append_text(plain("; ".join(extra)))
        else:
            if candidate.differs:
                out.append("differs: ", style="bold")
                out.append(", ".join(FIELD_LABELS.get(f, f) for f in candidate.differs) + "  ")
            if candidate.reasons:
                out.append_text(plain("; ".join(candidate.reasons)))
        school, status = self._where(candidate)
        taken = self._taken_by(self.case, candidate) if self.case is not None else None
        if taken is not None:
            out.append("  now linked to ", style="bold red")
            out.append_text(plain(f"MIS record {taken}", "bold red"))
            out.append(" of this school: another person's account", style="bold red")
        elif (gone := self._gone(candidate)) is not None:
            out.append("  linked to ", style="yellow")
            out.append_text(plain(f"MIS record {gone}", "yellow"))
            out.append(", gone from the latest export: matching relinks it", style="yellow")
        elif status != "active" or not school:
            out.append("  unallocated: matching restores it here", style="yellow")
        elif candidate.username in self.on_roll and school != self.dfe:
            out.append(f"  at {school}, ", style="bold yellow")
            out.append("still in its latest export", style="bold red")
            out.append(": matching moves it here (one person at two schools?)", style="bold yellow")
        elif school != self.dfe:
            out.append(f"  at {school}: matching moves it here", style="bold yellow")
        detail.update(out)

    # -- moving --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # False hides the key, None shows it dimmed (not possible right now)
        case = self.case
        if action == "skip" and case is not None and case.status != "open":
            return not self.busy or None  # a decided case (maybe in another console): moves on
        if action in ("match", "create", "exclude", "skip", "search"):
            if case is None:
                return False
            if self.busy or case.status != "open":
                return None
            if action == "match" and self.highlighted() is None:
                return None
        if action == "undo":
            return bool(self.decided) or (case is not None and case.status == "resolved")
        if action == "export":
            return True  # the school's open cases, as `uso-tui export cases DFE`
        return True

    def action_next(self) -> None:
        if self.index < len(self.cases) - 1:
            self.index += 1
            self.show()

    def action_previous(self) -> None:
        if self.index > 0:
            self.index -= 1
            self.show()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def _advance(self) -> None:
        """To the next undecided case after this one (wrapping), else past the end."""
        count = len(self.cases)
        for step in range(1, count + 1):
            position = (self.index + step) % count
            case = self.cases[position]
            if case.status == "open" and not case.decision:
                self.index = position
                self.show()
                return
        self.index = count  # all decided
        self.show()

    # -- decisions -----------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_match()

    def action_match(self) -> None:
        """m / enter: never decides by itself; the account and what differs are shown first."""
        case = self.case
        cand = self.highlighted()
        if case is None or cand is None or case.status != "open" or self.busy:
            return
        if self._typed_blind(case):
            return
        self.hold_keys()  # a `y` typed ahead is for the question, once it is asked
        self.preview(case, cand["username"])

    @in_thread("matching-preview", failure="Cannot compare")
    def preview(self, case: MatchCase, username: str) -> None:
        from uso_tui.sync.actions import match_preview  # noqa: PLC0415

        seen = match_preview(self.store, case.case_id, username, as_shown=case)
        acc = self.store.account(username)
        self.app.call_from_thread(self._ask_match, case, acc, seen)

    def _ask_match(self, case: MatchCase, acc: Account, seen) -> None:
        if seen.refused:  # decided elsewhere, or refreshed by a run, since it was shown
            self.app.drop_typed_ahead()  # a `y` typed with the `m` was for no question now
            self.keys_go()
            self.say(f"Not matched: {seen.refused}", "error")
            self.refresh_case(case.case_id)  # shown as it is now
            return
        if seen.taken_since:  # the row says where the account is now, asked or not
            self._where_now(case, acc)
        rec = case.mis_record()
        body = Text(end="")
        body.append("Link ")
        body.append_text(
            plain(f"{acc.username} ({acc.forename} {acc.surname}, {acc.dob or '?'})", "bold")
        )
        body.append(" to the MIS record of ")
        body.append_text(
            plain(f"{rec.forename or ''} {rec.surname or ''} ({rec.dob or '?'})", "bold")
        )
        body.append(f", {case.role} at {self.dfe}.\n")
        if not seen.is_candidate:
            body.append(
                "\nThis account is not among the case's candidates (found by search).\n",
                style="bold yellow",
            )
        # (read as the match is previewed: also for an account found by search; its line too)
        on_roll = acc.link_school if seen.on_roll else None
        if on_roll:
            self.on_roll[acc.username] = on_roll
        warnings = (seen.taken_since, seen.claimed_by, seen.duplicate_of, seen.free_here)
        for warning in (*warnings, seen.on_roll):
            if warning:
                body.append("\n")
                body.append_text(plain(warning + ".", "bold yellow"))
                body.append("\n")
        body.append(
            "\nWhat differs:\n" if seen.differences else "\nNothing differs.\n", style="bold"
        )
        for line in seen.differences:
            body.append_text(plain(f"  {line}"))  # plain() shows a line break as a symbol
            body.append("\n")

        # (an account on roll elsewhere is no reason to ask again: its line said so, red, before
        # the `m`; the question says it again)
        asked_again = not seen.is_candidate or any(warnings)

        def answer(yes: bool | None) -> None:
            if yes:
                self.decide(case.case_id, match=acc.username, force=asked_again)

        title = (
            f"Match to {acc.username}, not a candidate?"
            if not seen.is_candidate
            else f"Move {acc.username} from {acc.link_school or acc.school}?"
            if seen.taken_since
            else f"Match to {acc.username}, probably another record's?"
            if seen.claimed_by
            else f"Match to {acc.username}, unallocated as a duplicate?"
            if seen.duplicate_of
            else f"Match to {acc.username}, beside a free account here?"
            if seen.free_here
            else f"Move {acc.username} from {on_roll}, still on roll there?"
            if on_roll
            else f"Match to {acc.username}?"
        )
        if asked_again:  # what differs, or who has the account, is read first
            self.app.drop_typed_ahead("the question says what differs or who has the account")
        self.app.push_screen(Confirm(title, body, yes="Match", no="Cancel"), answer)
        self.keys_go()

    def action_create(self) -> None:
        """c: asks first, as m and x do (a stray key would give the person a second account),
        naming the best candidate still free: the account a new one would duplicate."""
        case = self.case
        if case is None or case.status != "open" or self.busy or self._typed_blind(case):
            return
        rec = case.mis_record()
        body = Text("Make a new account for ", end="")
        body.append_text(plain(f"{rec.forename or ''} {rec.surname or ''}".strip(), "bold"))
        body.append(f" ({rec.dob or 'no date of birth'}), {case.role} at {self.dfe}.")
        free = [c for c in case.candidates if self._taken_by(case, Candidate.from_dict(c)) is None]
        guarded = bool(free) and alone_score(free[0]) >= CREATE_GUARD
        if free:  # best first
            best = free[0]
            body.append("\n\n")
            body.append_text(
                plain(f"{best['username']} scores {alone_score(best)}%", "bold yellow")
            )
            # (twins: one account requested for either, the other's case still open)
            contested = contested_by(best, self.cases, rec.mis_id)
            if contested:
                body.append_text(
                    plain(
                        f" against this record alone, but {contested}: if it is this person, "
                        "match it instead (m); if it is that other record's, a new account is "
                        "right.",
                        "bold yellow",
                    )
                )
            else:
                body.append(
                    ": if that is this person, match it instead (m). A new account gives them two.",
                    style="bold yellow",
                )

        self._ask_create(case.case_id, body, guarded)

    def _ask_create(self, case_id: str, body: Text, guarded: bool) -> None:
        """The create question; `guarded` (a free candidate of CREATE_GUARD% or more): as the
        command line refuses it without --force, F answers it (shift+f, typed on purpose, ahead
        or not), never the y typed by habit with the c, which only says so."""

        def answer(yes: bool | None) -> None:
            if yes:  # (a candidate guarded here is confirmed; one the store sees so is refused)
                self.decide(case_id, create=True, force=guarded)

        if guarded:
            question: Confirm = ConfirmForce(
                "Create a new account anyway?", body, yes="Create anyway", no="Cancel"
            )
        else:
            question = Confirm("Create a new account?", body, yes="Create", no="Cancel")
        self.app.push_screen(question, answer)

    def _create_anyway(self, case_id: str, said: str) -> None:
        self.busy = False
        self._deciding = None
        self._refresh_keys()
        self.app.drop_typed_ahead("the question names the account the person may have")
        self.keys_go()
        # (said starts with a username: not capitalised)
        self._ask_create(case_id, plain(said + ".", "bold yellow"), guarded=True)

    def action_exclude(self) -> None:
        case = self.case
        if case is None or case.status != "open" or self.busy or self._typed_blind(case):
            return
        self.busy = True  # until the question is asked: the accounts it names are read first
        self.hold_keys()
        self._exclude_check(case)

    @in_thread("matching-exclude", failure="Cannot read the school's accounts", exclusive=False)
    def _exclude_check(self, case: MatchCase) -> None:
        from uso_tui.sync.actions import accounts_for_exclusion, probable_holders  # noqa: PLC0415

        rec = case.mis_record()
        has = accounts_for_exclusion(
            self.store, case.school, rec.forename or "", rec.surname or "", rec.dob
        )
        probable = probable_holders(self.store, case, has)
        self.app.call_from_thread(self._ask_exclude, case, has, probable)

    def _ask_exclude(
        self, case: MatchCase, has: list[Account], probable: list[tuple[Account, int]]
    ) -> None:
        from uso_tui.tui.exclude_ask import UNALLOCATE, ExcludeAsk  # noqa: PLC0415

        self.busy = False
        rec = case.mis_record()
        if has:  # the person has an account here: say so and offer to unallocate it (y / n)

            def chosen(choice: str | None) -> None:
                if choice is not None:
                    self.decide(case.case_id, exclude=True, unallocate=choice == UNALLOCATE)

            who = f"{rec.forename or ''} {rec.surname or ''}".strip() + f" ({rec.dob or '-'})"
            # a `y` typed with the `x` was for no such question
            self.app.drop_typed_ahead("the question names the person's account here")
            self.app.push_screen(ExcludeAsk(who, case.school, has), chosen)
            self.keys_go()
            return
        if probable:  # a `y` typed with the `x` was for no question naming an account
            self.app.drop_typed_ahead("the question names an account probably the person's")
        body = Text("Add ", end="")
        body.append_text(plain(f"{rec.forename or ''} {rec.surname or ''}".strip(), "bold"))
        body.append(
            f" ({rec.dob or 'no date of birth'}) to the exclusion list of {self.dfe}? "
            "No account is made for this record now or in later runs."
        )
        for acc, score in probable:  # under names keyed otherwise: the exclusion does not name it
            body.append("\n")
            body.append_text(
                plain(
                    f"{acc.username} ({acc.forename} {acc.surname}, {score}%) is probably this "
                    f"person, active at {case.school}: excluding leaves that account as it is.",
                    "bold yellow",
                )
            )

        def answer(yes: bool | None) -> None:
            if yes:
                self.decide(case.case_id, exclude=True)

        self.app.push_screen(Confirm("Exclude this record?", body, yes="Exclude"), answer)
        self.keys_go()

    def _typed_blind(self, case: MatchCase) -> bool:
        """Whether the key deciding `case` was read before the case showed (typed with the key
        that opened the queue, or for the case before: `m y m y` over a slow link, the second
        `m` pressed while the first match was saved): it decides nothing, nor do the keys typed
        after it, and the console says so. A person decides only a case they could see."""
        return self.typed_before(
            self._case_shown.at, f"case {case.case_id} showed after them", "look at it, then decide"
        )

    def action_skip(self) -> None:
        """s: the next case; this one stays open. Nothing is saved (a skip changes nothing in
        the store), so nothing is waited for: a skip read the school's whole data file, a
        quarter of a second a key in a queue of thousands."""
        case = self.case
        if case is None or self.busy:
            return
        if case.status != "open":  # decided here, or in another console meanwhile: on to the next
            self.action_next()
            return
        self._decided(case, True, {})

    def decide(self, case_id: str, **how) -> None:
        self.busy = True
        self.hold_keys()  # keys typed ahead wait for the next case (none decides it: read first)
        self._deciding = case_id
        self._refresh_keys()
        self._decide(case_id, how)

    @in_thread("matching-decide", failure="Not saved", exclusive=False)
    def _decide(self, case_id: str, how: dict) -> None:
        from uso_tui.domain.errors import NeedsConfirmation  # noqa: PLC0415
        from uso_tui.sync.actions import resolve_case  # noqa: PLC0415

        unallocate = how.pop("unallocate", False)
        shown = next((c for c in self.cases if c.case_id == case_id), None)
        written: dict[str, Account] = {}
        try:
            case = resolve_case(
                self.store,
                case_id,
                operator=self.operator,
                now=self.now(),
                as_shown=shown,
                written=written,
                **how,
            )
        except NeedsConfirmation as exc:
            if not how.get("create"):
                raise
            # the store sees a free candidate this screen took for another's: asked again, as
            # the store says it, answered by F only
            said = exc.differences[0] if exc.differences else str(exc)
            self.app.call_from_thread(self._create_anyway, case_id, said)
            return
        if unallocate:  # the exclusion is on the list now: this unallocates the accounts it names
            from uso_tui.sync.admin import add_exclusion  # noqa: PLC0415

            rec = case.mis_record()
            try:
                ex = add_exclusion(
                    self.store,
                    case.school,
                    forename=rec.forename or "",
                    surname=rec.surname or "",
                    dob=rec.dob,
                    operator=self.operator,
                    now=self.now(),
                    unallocate=True,
                    typed=False,  # the record's names, as the MIS sent them
                )
            except Exception as exc:  # noqa: BLE001 - the exclusion is saved: said, not "Not saved"
                self.app.call_from_thread(
                    self.say,
                    f"Excluded (saved), but the account was not unallocated: {error_text(exc)}; "
                    "add the exclusion again in Bulk results, Exclusions, to unallocate it",
                    "error",
                )
            else:
                self.app.call_from_thread(
                    self.say, f"Excluded; unallocated {', '.join(ex.unallocated) or 'none'}"
                )
        # the account the decision linked or made, as saved; the candidates an exclusion
        # unallocated, read again (read back, a decision in a school of thousands of cases
        # cost a decode of its whole file)
        fresh = self._fresh(case) if unallocate else written
        self.app.call_from_thread(self._decided, case, bool(how.get("skip")), fresh, unallocate)

    @in_thread("matching-refresh", failure="Cannot read the case", exclusive=False)
    def refresh_case(self, case_id: str) -> None:
        """After a failed decision (decided meanwhile elsewhere...): the case as it is now."""
        self.app.call_from_thread(self._refreshed, self.store.case(case_id))

    def _refreshed(self, fresh: MatchCase) -> None:
        for position, listed in enumerate(self.cases):
            if listed.case_id != fresh.case_id:
                continue
            if fresh.status != listed.status:
                self.cases[position] = fresh
                self.show()
            elif refreshed_since(fresh, listed):
                # refreshed by a run: a skip of this session stays remembered
                self.cases[position] = MatchCase.from_dict(
                    {**fresh.to_dict(), "decision": listed.decision or fresh.decision}
                )
                self.show()

    def _decided_here(self) -> int:
        """The cases this session decided that are still decided (not skips, nor undone; a
        case listed open again, decided elsewhere or undone, no longer counts)."""
        open_now = {c.case_id for c in self.cases if c.status == "open"}
        return len(set(self.decided) - open_now)

    def _decided(
        self, case: MatchCase, skipped: bool, fresh: dict[str, Account], said: bool = False
    ) -> None:
        self.accounts.update(fresh)
        self.busy = False
        self._deciding = None
        for position, listed in enumerate(self.cases):
            if listed.case_id == case.case_id:
                self.cases[position] = case
                if skipped and case.status == "open" and not case.decision:
                    # resolve_case(skip) may keep no trace; remember the skip for this session
                    self.cases[position] = MatchCase.from_dict(
                        {**case.to_dict(), "decision": "skip"}
                    )
        self.decided.append(case.case_id)
        if not skipped:
            self._made[case.case_id] = (case.decision, case.decided_at)
        done = "" if said or skipped else _what_was_done(case)
        if done:
            self.say(done)  # what the key did, before the next case takes the screen
        self._advance()
        self.keys_go()

    def action_undo(self) -> None:
        """u: undoes the decision of the case shown (any session's), else this session's last."""
        if self.busy:
            return
        case = self.case
        if case is not None and case.status == "resolved":
            case_id = case.case_id
        elif self.decided:
            case_id = self.decided[-1]
        else:
            return
        if case_id not in self.decided and case is not None:  # another session's decision
            self._ask_undo(case)
            return
        if case is None or case.case_id != case_id:
            # this session's last decision, but not the case on screen: a stray `u` would undo
            # what the operator no longer sees (a match moved back, a creation unallocated)
            target = next((c for c in self.cases if c.case_id == case_id), None)
            if target is None and case_id in self._made:  # (no longer listed: g, v)
                self.hold_keys()  # a `y` typed ahead is for the question, once it is asked
                self._read_then_ask(case_id)
                return
            if target is not None and target.status == "resolved":
                self._ask_undo(target)
                return
        self._start_undo(case_id)

    @in_thread("matching-read-case", failure="Cannot read the case")
    def _read_then_ask(self, case_id: str) -> None:
        self.app.call_from_thread(self._ask_if_decided, self.store.case(case_id))

    def _ask_if_decided(self, case: MatchCase) -> None:
        if case.status == "resolved":
            self._ask_undo(case)
        else:
            self.say(f"Case {case.case_id} is open again (undone elsewhere): nothing to undo")
            self.keys_go()

    def _ask_undo(self, case: MatchCase) -> None:
        """A decision not made here (listed with v): said in full and asked, as a decision is;
        undoing a match may move an account back to another school."""
        body = Text(f"Case {case.case_id} was decided by {case.decided_by or '?'} on ", end="")
        body.append((case.decided_at or "?").replace("T", " ")[:16])
        body.append(": ")
        body.append_text(plain(decided_words(case.decision) or "?", "bold"))
        body.append(
            ".\n\nUndoing it opens the case again and reverts what the decision did (an account "
            "matched goes back as it was, one created is unallocated, an exclusion is removed)."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self._start_undo(case.case_id)

        self.app.push_screen(Confirm("Undo this decision?", body, yes="Undo"), answer)
        # asked because the decision is not on screen: a `y` typed ahead could not have read it
        self.app.drop_typed_ahead("the question names the decision it undoes")
        self.keys_go()

    def _start_undo(self, case_id: str) -> None:
        self.busy = True
        self.hold_keys()
        self._deciding = case_id
        self._undo(case_id)

    @in_thread("matching-decide", failure="Undo failed", exclusive=False)
    def _undo(self, case_id: str) -> None:
        from uso_tui.sync.actions import undo_decision  # noqa: PLC0415

        was = next((c for c in self.cases if c.case_id == case_id), None)
        skip = was is not None and was.status == "open" and case_id not in self._made
        if skip:
            case = MatchCase.from_dict({**was.to_dict(), "decision": None})  # a skip: forget it
        else:
            now = self.store.case(case_id)
            if case_id in self._made and (now.decision, now.decided_at) != self._made[case_id]:
                # undone and decided again elsewhere since: that decision is someone else's,
                # said in full and asked, never undone as this session's
                self.app.call_from_thread(self._not_ours, case_id, now)
                return
            case = undo_decision(self.store, case_id, operator=self.operator, now=self.now())
        self.app.call_from_thread(self._undone, case, self._fresh(was or case), skip)

    def _fresh(self, case: MatchCase) -> dict[str, Account]:
        """The accounts of the case's candidates (and the account it was matched to, which a
        search may have found) as they are now: a match links one, an undo unlinks it, and the
        same account may be a candidate of another case shown (a twin's)."""
        decision = case.decision or ""
        matched = decision.removeprefix("match:") if decision.startswith("match:") else ""
        names = {c["username"] for c in case.candidates} | {matched}
        try:
            return self.store.find_accounts(u for u in names if u)
        except (StoreError, OSError):  # the decision is saved: only this refresh is lost
            return {}

    def why_not(self, key: str) -> str | None:
        case = self.case  # the decision keys are greyed on a decided case (listed with v)
        if key in DECISION_KEYS and case is not None and case.status != "open" and not self.busy:
            return f"Case {case.case_id} is decided ({decided_words(case.decision)}): u undoes it"
        return None

    def action_toggle_decided(self) -> None:
        """v: list the decided cases of every session too (to undo one), or only open ones."""
        self.with_decided = not self.with_decided
        self.say(
            "Decided cases listed after the open ones" if self.with_decided else "Open cases only"
        )
        self.hold_keys()
        self.load()

    def worker_failed(self, line: str) -> None:
        # keys typed ahead were for the next case, which is not coming, or for the accounts a
        # search would have found
        if self.busy or self.searching_accounts:
            self.app.drop_typed_ahead(
                "the search failed" if self.searching_accounts else "the decision was not saved",
                "look at the case, then type them again",
            )
        self.searching_accounts = False
        super().worker_failed(line)
        if self.busy:  # a decision or undo failed: show the case as it is now
            self.busy = False
            self._refresh_keys()
            if self._deciding:
                self.refresh_case(self._deciding)

    def _not_ours(self, case_id: str, now: MatchCase) -> None:
        self.busy = False
        self._deciding = None
        if case_id in self.decided:
            self.decided.remove(case_id)
        self._made.pop(case_id, None)
        self._refresh_keys()
        self.keys_go()
        if now.status == "resolved":
            self.app.drop_typed_ahead("the question says who decided it since")
            self._ask_undo(now)
        else:
            self.say(f"Case {case_id} is open again (undone elsewhere): nothing to undo", "warning")

    def _undone(self, case: MatchCase, fresh: dict[str, Account], skip: bool = False) -> None:
        self.accounts.update(fresh)
        self.busy = False
        self._deciding = None
        if case.case_id in self.decided:
            self.decided.remove(case.case_id)
        self._made.pop(case.case_id, None)
        for position, listed in enumerate(self.cases):
            if listed.case_id == case.case_id:
                self.cases[position] = case
                self.index = position
                break
        else:  # decided before g read the queue again (open cases only): listed again, shown
            self.index = min(self.index, len(self.cases))
            self.cases.insert(self.index, case)
        if skip:  # nothing was decided: "Undone" read as a decision reverted
            self.say(f"Back to {case.case_id}, skipped before: nothing had been decided")
        else:
            self.say(f"Undone: {case.case_id} is open again")
        self.show()
        self.keys_go()

    # -- search any account --------------------------------------------------------------------

    def action_search(self) -> None:
        case = self.case
        if case is None or case.status != "open":
            return
        rec = case.mis_record()

        def got(text: str | None) -> None:
            if text and text.strip():
                self.hold_keys()  # keys typed ahead (m y) are for the accounts found, once shown
                self.searching_accounts = True
                self.search(case.case_id, text.strip())

        self.app.push_screen(
            Prompt(
                "Search any account (name, username or date of birth)",
                value=clean(rec.surname or ""),
            ),
            got,
        )

    @in_thread("matching-search", failure="Search failed")
    def search(self, case_id: str, text: str) -> None:
        hits = self.store.search_accounts(text, limit=50)
        self.app.call_from_thread(self._found, case_id, text, hits)

    def _found(self, case_id: str, text: str, hits: list[AccountHit]) -> None:
        self.searching_accounts = False
        try:
            self._show_found(case_id, text, hits)
        finally:
            self.keys_go()

    def _show_found(self, case_id: str, text: str, hits: list[AccountHit]) -> None:
        case = self.case
        if case is None or case.case_id != case_id:
            # (another case shown meanwhile: keys typed with the search were not for it)
            self.app.drop_typed_ahead("the search was for another case", "look, then act")
            return
        known = {c["username"] for c in case.candidates}
        found = [
            {
                "username": h.username,
                "school": h.school,
                "score": 0,
                "forename": h.forename,
                "surname": h.surname,
                "preferred_name": h.preferred_name,
                "dob": h.dob,
                "status": h.status,
                "differs": [],
                "reasons": ["found by search"],
            }
            for h in hits
            if h.username not in known and h.role == case.role
        ]
        self.extra_candidates[case_id] = found
        # accounts it found that are candidates already: the cursor goes to the first
        named = {h.username for h in hits}
        among = [i for i, c in enumerate(case.candidates) if c["username"] in named]
        if found:
            many = "account" if len(found) == 1 else "accounts"
            self.say(f"{len(found)} {many} found for {text!r}: shown after the candidates")
        elif among:
            self.say(f"{text!r} found a candidate of the case: row {among[0] + 1}")
        else:
            self.say(f"No account found for {text!r}")
        self.show()
        if found or among:
            table = self.query_one(DataTable)
            table.move_cursor(row=len(case.candidates) if found else among[0])
        else:
            # keys typed with the search (m y) were meant for an account it found: with none,
            # they would decide on the candidate the cursor is still on
            self.app.drop_typed_ahead(
                f"the search found no account for {text!r}", "search again, or decide here"
            )


def _what_was_done(case: MatchCase) -> str:
    """The decision just saved, in a line (a new account's username is seen nowhere else)."""
    kind, _, username = (case.decision or "").partition(":")
    if case.status != "resolved":
        return ""
    if kind == "match":
        return f"{case.case_id}: matched to {username}"
    if kind == "create":
        return f"{case.case_id}: created {username}"
    if kind == "exclude":
        return f"{case.case_id}: excluded (on the exclusion list of {case.school})"
    return ""
