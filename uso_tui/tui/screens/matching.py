"""Matching queue of one school: one case at a time, the MIS record beside its ranked candidates.

Each decision is saved at once (sync.actions.resolve_case) in a thread; moving between cases does no
I/O. The list of cases is the school's open cases when the screen opened; decided ones stay in the
list (so `p` goes back to them and `u` can undo).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from uso_tui.domain.models import Candidate, MatchCase, MisRecord
from uso_tui.store import AccountHit
from uso_tui.tui.screens.base import UsoScreen
from uso_tui.tui.widgets import Confirm, Prompt, cell, clean, current_key, plain

DIFF_STYLE = "bold reverse"
FIELD_LABELS = {"preferred_name": "preferred name", "dob": "date of birth"}
RECORD_FIELDS = [
    ("forename", "Forename"),
    ("surname", "Surname"),
    ("preferred_name", "Preferred"),
    ("dob", "Date of birth"),
]


def record_text(rec: MisRecord, role: str) -> Text:
    out = Text(end="")
    out.append("MIS record ", style="bold")
    out.append(f"({role}, MIS id {clean(rec.mis_id)})\n", style="dim")
    for field, label in RECORD_FIELDS:
        out.append(f"  {label:<14}", style="bold")
        out.append_text(plain(getattr(rec, field) or "—"))
        out.append("\n")
    extra = []
    if rec.year_group or rec.form_group:
        extra.append(f"year {clean(rec.year_group or '?')} form {clean(rec.form_group or '?')}")
    if rec.enrolment_date:
        extra.append(f"started {rec.enrolment_date}")
    if rec.email:
        extra.append(clean(rec.email))
    if rec.middle_names:
        extra.append(f"middle {clean(rec.middle_names)}")
    if extra:
        out.append("  " + "; ".join(extra), style="dim")
    return out


def decision_text(case: MatchCase) -> Text:
    if case.status == "open" and not case.decision:
        return Text("open: choose a candidate, create, exclude or skip", style="bold yellow")
    d = case.decision or ""
    what = {
        "skip": "skipped (still open)",
        "exclude": "excluded (added to the exclusion list)",
    }.get(d)
    if what is None:
        kind, _, user = d.partition(":")
        what = {"match": f"matched to {user}", "create": f"new account {user}"}.get(kind, d)
    out = Text(f"decided: {what}", style="bold green" if case.status == "resolved" else "yellow")
    if case.decided_by:
        out.append_text(plain(f" by {case.decided_by}", "dim"))
    out.append("   u undoes the last decision", style="dim")
    return out


class MatchingScreen(UsoScreen):
    kind = "matching"

    BINDINGS = [
        Binding("m", "match", "Match"),
        Binding("enter", "match", "Match", show=False),
        Binding("c", "create", "Create new"),
        Binding("x", "exclude", "Exclude"),
        Binding("s", "skip", "Skip"),
        Binding("p", "previous", "Previous"),
        Binding("n", "next", "Next", show=False),
        Binding("u", "undo", "Undo"),
        Binding("slash", "search", "Search account", key_display="/"),
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
        self.busy = False
        self.extra_candidates: dict[str, list[dict]] = {}  # case id -> accounts found by search
        self._keys_state: tuple | None = None

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Matching queue {self.dfe}")
        # the record beside its candidates when the terminal is wide, above them when narrow
        with Horizontal(id="case-body"):
            with Vertical(id="case-left"):
                yield Static("loading…", id="case-record", classes="loading")
                yield Static("", id="case-state", classes="summary")
            yield DataTable(id="candidates", cursor_type="row")
        yield Static("", id="candidate-detail", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.set_class(self.app.size.width >= 110, "-wide")
        table.add_column("Score", width=5, key="score")
        table.add_column("Username", width=14, key="username")
        table.add_column("Forename", width=10, key="forename")
        table.add_column("Surname", width=11, key="surname")
        table.add_column("Pref.", width=7, key="preferred")
        table.add_column("DOB", width=10, key="dob")
        table.add_column("School", width=8, key="school")
        table.focus()
        self.load()

    @work(
        name="Cannot read the matching queue",
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="matching-load",
    )
    def load(self) -> None:
        cases = self.store.cases(self.dfe, "open")
        self.app.call_from_thread(self._loaded, cases)

    def _loaded(self, cases: list[MatchCase]) -> None:
        self.cases = cases
        self.index = 0
        self.decided = []
        if self.focus_case is not None:
            self.focus_item(self.focus_case)
            return
        self.show()

    def focus_item(self, case_id: str) -> None:
        """Show this case (before the queue has loaded: once it has)."""
        self.focus_case = case_id
        if not self.cases:
            return
        self.focus_case = None
        self.index = next((i for i, c in enumerate(self.cases) if c.case_id == case_id), 0)
        self.show()

    def action_reload(self) -> None:
        self.load()

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
        table.clear()
        if case is None:
            open_left = sum(1 for c in self.cases if c.status == "open" and not c.decision)
            title.update(Text(f"Matching queue {self.dfe}: no open cases", style="bold"))
            self.query_one("#case-record", Static).update(
                Text(
                    f"Nothing to match. {len(self.decided)} decided in this session"
                    + (f", {open_left} left open." if open_left else "."),
                    end="",
                )
            )
            self.query_one("#case-state", Static).update(
                Text("u undoes the last decision; g reloads the queue.", style="dim")
                if self.decided
                else ""
            )
            self.query_one("#candidate-detail", Static).update("")
            self._refresh_keys()
            return
        open_left = sum(1 for c in self.cases if c.status == "open" and not c.decision)
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
            c = Candidate.from_dict(cand)
            diff = set(c.differs)
            row = [
                cell(f"{c.score}%" if "found by search" not in c.reasons else "find", "bold"),
                cell(c.username),
                cell(c.forename, DIFF_STYLE if "forename" in diff else ""),
                cell(c.surname, DIFF_STYLE if "surname" in diff else ""),
                cell(c.preferred_name, DIFF_STYLE if "preferred_name" in diff else ""),
                cell(c.dob or "—", DIFF_STYLE if "dob" in diff else ""),
                cell(c.school or "none", "bold yellow" if c.school != self.dfe else ""),
            ]
            table.add_row(*row, key=c.username)
        if table.row_count:
            table.move_cursor(row=0)
        self.show_detail()
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """The footer is rebuilt only when what the keys can do changed (it costs a few ms)."""
        case = self.case
        state = (
            case is None,
            case is not None and case.status == "open",
            self.busy,
            bool(self.decided),
            self.highlighted() is not None,
        )
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

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
        c = Candidate.from_dict(cand)
        out = Text(end="")
        if c.differs:
            out.append("differs: ", style="bold")
            out.append(", ".join(FIELD_LABELS.get(f, f) for f in c.differs) + "  ")
        if c.reasons:
            out.append_text(plain("; ".join(c.reasons)))
        if c.school and c.school != self.dfe:
            out.append(f"  at {c.school}: matching moves it here", style="bold yellow")
        elif not c.school:
            out.append("  unallocated: matching restores it here", style="yellow")
        detail.update(out)

    # -- moving --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # False hides the key, None shows it dimmed (not possible right now)
        case = self.case
        if action in ("match", "create", "exclude", "skip", "search"):
            if case is None:
                return False
            if self.busy or case.status != "open":
                return None
            if action == "match" and self.highlighted() is None:
                return None
        if action == "undo":
            return bool(self.decided)
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
        n = len(self.cases)
        for step in range(1, n + 1):
            i = (self.index + step) % n
            c = self.cases[i]
            if c.status == "open" and not c.decision:
                self.index = i
                self.show()
                return
        self.index = n  # all decided
        self.show()

    # -- decisions -----------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_match()

    def action_match(self) -> None:
        case = self.case
        cand = self.highlighted()
        if case is None or cand is None or case.status != "open" or self.busy:
            return
        self._match_to(
            case,
            cand["username"],
            cand.get("school"),
            f"{cand.get('forename', '')} {cand.get('surname', '')}",
        )

    def _match_to(self, case: MatchCase, username: str, school: str | None, name: str) -> None:
        if school and school != self.dfe:
            rec = case.mis_record()
            body = Text(end="")
            body.append(f"{username} (")
            body.append_text(plain(name.strip()))
            body.append(
                f") is at {school}. Matching moves the account to {self.dfe} and links "
                "it to the MIS record of "
            )
            body.append_text(plain(f"{rec.forename or ''} {rec.surname or ''}".strip()))
            body.append(". Its history keeps the previous school.")

            def answer(yes: bool | None) -> None:
                if yes:
                    self.decide(case.case_id, match=username)

            self.app.push_screen(
                Confirm(f"Move {username} from {school}?", body, yes="Move", no="Cancel"), answer
            )
            return
        self.decide(case.case_id, match=username)

    def action_create(self) -> None:
        case = self.case
        if case is not None and case.status == "open" and not self.busy:
            self.decide(case.case_id, create=True)

    def action_exclude(self) -> None:
        case = self.case
        if case is None or case.status != "open" or self.busy:
            return
        rec = case.mis_record()
        body = Text("Add ", end="")
        body.append_text(plain(f"{rec.forename or ''} {rec.surname or ''}".strip(), "bold"))
        body.append(
            f" ({rec.dob or 'no date of birth'}) to the exclusion list of {self.dfe}? "
            "No account is made for this record now or in later runs."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.decide(case.case_id, exclude=True)

        self.app.push_screen(Confirm("Exclude this record?", body, yes="Exclude"), answer)

    def action_skip(self) -> None:
        case = self.case
        if case is not None and case.status == "open" and not self.busy:
            self.decide(case.case_id, skip=True)

    def decide(self, case_id: str, **how) -> None:
        self.busy = True
        self._refresh_keys()
        self._decide(case_id, how)

    @work(thread=True, exit_on_error=False, group="matching-decide")
    def _decide(self, case_id: str, how: dict) -> None:
        from uso_tui.sync.actions import resolve_case  # noqa: PLC0415

        try:
            case = resolve_case(self.store, case_id, operator=self.operator, now=self.now(), **how)
        except Exception as exc:  # noqa: BLE001 - e.g. decided meanwhile by someone else
            try:
                fresh = self.store.case(case_id)  # show what it is now
            except Exception:  # noqa: BLE001
                fresh = None
            self.app.call_from_thread(self._not_decided, str(exc), fresh)
            return
        self.app.call_from_thread(self._decided, case, bool(how.get("skip")))

    def _not_decided(self, message: str, fresh: MatchCase | None = None) -> None:
        self.busy = False
        self.say(f"Not saved: {message}", "error")
        if fresh is not None:
            for i, c in enumerate(self.cases):
                if c.case_id == fresh.case_id and fresh.status != c.status:
                    self.cases[i] = fresh
                    self.show()
        self._refresh_keys()

    def _decided(self, case: MatchCase, skipped: bool) -> None:
        self.busy = False
        for i, c in enumerate(self.cases):
            if c.case_id == case.case_id:
                self.cases[i] = case
                if skipped and case.status == "open" and not case.decision:
                    # resolve_case(skip) may keep no trace; remember the skip for this session
                    self.cases[i] = MatchCase.from_dict({**case.to_dict(), "decision": "skip"})
        self.decided.append(case.case_id)
        self._advance()

    def action_undo(self) -> None:
        if not self.decided or self.busy:
            return
        case_id = self.decided[-1]
        self.busy = True
        self._undo(case_id)

    @work(thread=True, exit_on_error=False, group="matching-decide")
    def _undo(self, case_id: str) -> None:
        from uso_tui.sync.actions import undo_decision  # noqa: PLC0415

        was = next((c for c in self.cases if c.case_id == case_id), None)
        try:
            if was is not None and was.status == "open":
                case = was  # a skip: nothing saved to undo beyond forgetting it
                case = MatchCase.from_dict({**was.to_dict(), "decision": None})
            else:
                case = undo_decision(self.store, case_id, operator=self.operator, now=self.now())
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self._not_decided, f"undo failed: {exc}")
            return
        self.app.call_from_thread(self._undone, case)

    def _undone(self, case: MatchCase) -> None:
        self.busy = False
        self.decided.pop()
        for i, c in enumerate(self.cases):
            if c.case_id == case.case_id:
                self.cases[i] = case
                self.index = i
        self.say(f"Undone: {case.case_id} is open again")
        self.show()

    # -- search any account --------------------------------------------------------------------

    def action_search(self) -> None:
        case = self.case
        if case is None or case.status != "open":
            return
        rec = case.mis_record()

        def got(text: str | None) -> None:
            if text and text.strip():
                self.search(case.case_id, text.strip())

        self.app.push_screen(
            Prompt(
                "Search any account (name, username or date of birth)",
                value=clean(rec.surname or ""),
            ),
            got,
        )

    @work(
        name="Search failed",
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="matching-search",
    )
    def search(self, case_id: str, text: str) -> None:
        hits = self.store.search_accounts(text, limit=50)
        self.app.call_from_thread(self._found, case_id, text, hits)

    def _found(self, case_id: str, text: str, hits: list[AccountHit]) -> None:
        case = self.case
        if case is None or case.case_id != case_id:
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
        self.say(f"{len(found)} accounts found for {text!r}: shown after the candidates")
        self.show()
        if found:
            table = self.query_one(DataTable)
            table.move_cursor(row=len(case.candidates))
