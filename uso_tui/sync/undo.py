"""Undoing a run (DESIGN section 3): every change the run made is reverted in one commit where
the account has not changed since; the accounts changed since are listed and left alone; the
run's open match cases are closed.

`plan_undo` is pure: from the run's audit events (each account's before and after, see
sync.apply.account_diff) and the accounts as they are now, it decides what to revert.
`undo_run` reads both under the write lock and commits the result as a run of its own
(trigger "undo"), audited like every other change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import (
    UNDO_TRIGGER,
    Account,
    AuditEvent,
    MatchCase,
    Run,
    empty_counts,
)
from uso_tui.store.api import Store, Transaction
from uso_tui.sync.access import require
from uso_tui.sync.actions import UNDONE_CREATE, put_changed, undone_by, withdraw_case
from uso_tui.sync.apply import event
from uso_tui.sync.duplicates import active_beside, kept_as_their_duplicates
from uso_tui.sync.listed_record import listed_as_another
from uso_tui.sync.plan import unallocated
from uso_tui.sync.runner import RunInProgress, iso

# The account events a run writes (sync.apply; "unallocate" also from confirming a held run).
ACCOUNT_ACTIONS = frozenset({"create", "update", "restore", "auto_link", "unallocate"})
# What the reverting of each kind counts as (`undo-run --json` "reverted").
REVERTED_KEYS = ("created", "updated", "unallocated", "moved", "linked", "restored")


@dataclass(slots=True)
class Revert:
    """One account put back: `kind` says what the run did to it (a key of REVERTED_KEYS)."""

    username: str
    kind: str
    now: Account
    back: Account
    action: str  # the audit action of the revert

    @property
    def name(self) -> str:
        return f"{self.now.forename} {self.now.surname}"

    @property
    def change(self) -> str:
        """The name as it is, and what the undo makes it when that differs ("A -> B")."""
        back = f"{self.back.forename} {self.back.surname}"
        return self.name if back == self.name else f"{self.name} -> {back}"


@dataclass(slots=True)
class UndoPlan:
    run_id: str
    school: str
    reverts: list[Revert] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    cases: list[MatchCase] = field(default_factory=list)  # the run's open cases, to close
    # an account the undo restores -> the active accounts with its UPN, or its names and date
    # of birth (its person given another account since: restored, they have two)
    beside: dict[str, list[Any]] = field(default_factory=dict)
    # an account the run unallocated whose MIS id the school has given another person since
    # (its latest export lists the record so): left unallocated, in left_alone too
    id_given: dict[str, str] = field(default_factory=dict)
    # an account the undo takes away (a creation undone) -> the accounts an operator unallocated
    # as its duplicates (duplicates.kept_as_their_duplicates): its person is left with none
    orphaned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def reverted(self) -> dict[str, int]:
        out = dict.fromkeys(REVERTED_KEYS, 0)
        for revert in self.reverts:
            out[revert.kind] += 1
        return out

    def public(self, undo_run_id: str | None) -> dict[str, Any]:
        """The `undo-run --json` shape (DESIGN section 5), plus the cases closed and each
        account reverted."""
        return {
            "run_id": self.run_id,
            "undo_run_id": undo_run_id,
            "reverted": self.reverted,
            "left_alone": list(self.left_alone),
            "cases_closed": [c.case_id for c in self.cases],
            "accounts": [{"username": r.username, "kind": r.kind} for r in self.reverts],
            "id_given_to_another": dict(self.id_given),
            "restored_beside": {
                username: [{"username": h.username, "school": h.school} for h in hits]
                for username, hits in self.beside.items()
            },
            "duplicates_left_unallocated": {u: list(d) for u, d in self.orphaned.items()},
        }

    def id_given_lines(self) -> list[str]:
        """One line per account left unallocated because its MIS id names another person now."""
        return [
            f"{username} left unallocated: {why} (`uso-tui account release {username}` lets the "
            "next run take that person as new)"
            for username, why in self.id_given.items()
        ]

    def beside_lines(self) -> list[str]:
        """One line per account restored beside another active account of the same person."""
        return [
            f"{username} restored beside "
            + ", ".join(f"{h.username} (active at {h.school})" for h in hits)
            + ": the same UPN, or the same names and date of birth (or a date a slip apart)"
            for username, hits in self.beside.items()
        ]

    def orphaned_lines(self) -> list[str]:
        """One line per account taken away while the accounts kept unallocated as its duplicates
        stay so: its person is left with no active account."""
        return [
            f"{username} is taken away while {', '.join(dups)} "
            f"{'stands' if len(dups) == 1 else 'stand'} unallocated as its duplicate: the person "
            f"is left with no active account (`uso-tui restore {dups[0]}` gives one back)"
            for username, dups in self.orphaned.items()
        ]


def _kind(first: AuditEvent) -> str:
    if first.action == "create":
        return "created"
    if first.action == "auto_link":
        return "linked"
    if first.action == "unallocate":
        return "unallocated"
    if first.action == "restore":
        # restored from another school (its school changes): a move; from unallocated: restored
        was = (first.before or {}).get("school")
        return "moved" if was else "restored"
    return "updated"


def unchanged_since(acc: Account, run_id: str, last_at: str) -> bool:
    """The account's last event is the run's last event on it: nothing has changed it since."""
    last = acc.history[-1] if acc.history else {}
    return acc.last_event_at == last_at and last.get("run_id") == run_id


def reverted_account(
    acc: Account, events: list[AuditEvent], run_id: str, school: str, at: str
) -> Account:
    """`acc` with what `events` (the run's, oldest first) changed put back as it was."""
    if events[0].action == "create":
        # No account is ever deleted: the created one is unallocated, unlinked and marked so
        # that it is never offered for restore (as undoing a case's create does).
        return dataclasses.replace(
            unallocated(acc, acc.school or school),
            mis_id=None,
            link_school=None,
            link_report=None,
            source="manual",
            unallocated_at=at,
            unallocated_by_run=None,
            extra={**acc.extra, UNDONE_CREATE: run_id},
        )
    old: dict[str, Any] = {}
    for entry in events:  # the first value each field had before the run changed it
        for name, value in (entry.before or {}).items():
            old.setdefault(name, value)
    back = dataclasses.replace(acc, **old)
    if "extra" in old:
        back.extra = dict(old["extra"] or {})
    if back.status == "active":
        back.unallocated_at = back.unallocated_by_run = None
    elif acc.status == "active":  # unallocated again (a restore undone)
        back.unallocated_at = at
    return back


def plan_undo(
    run: Run,
    events: list[AuditEvent],
    accounts: dict[str, Account | None],
    open_cases: list[MatchCase],
    at: str,
) -> UndoPlan:
    """What undoing `run` does. `events`: the run's audit events (any order); `accounts`: each
    account they name as it is now (None: gone); `open_cases`: the school's open cases."""
    if run.trigger == UNDO_TRIGGER:
        raise InvalidInput(f"run {run.run_id} is an undo: it cannot be undone (run again instead)")
    mine = sorted(
        (e for e in events if e.run_id == run.run_id and e.action in ACCOUNT_ACTIONS),
        key=lambda e: e.at,
    )
    by_user: dict[str, list[AuditEvent]] = {}
    for entry in mine:
        by_user.setdefault(entry.subject, []).append(entry)
    undo_plan = UndoPlan(run.run_id, run.school)
    for username, evs in by_user.items():
        acc = accounts.get(username)
        if acc is None or not unchanged_since(acc, run.run_id, evs[-1].at):
            undo_plan.left_alone.append(username)
            continue
        kind = _kind(evs[0])
        back = reverted_account(acc, evs, run.run_id, run.school, at)
        undo_plan.reverts.append(Revert(username, kind, acc, back, f"undo_{evs[0].action}"))
    undo_plan.left_alone.sort()
    undo_plan.reverts.sort(key=lambda r: (REVERTED_KEYS.index(r.kind), r.username))
    undo_plan.cases = [c for c in open_cases if c.run_id == run.run_id and c.status == "open"]
    return undo_plan


def _plan_in(store: Store, txn: Store | Transaction, run_id: str, at: str) -> tuple[Run, UndoPlan]:
    """The plan, read through `txn` (the store itself for a dry run)."""
    run = txn.run(run_id)
    if run.trigger == UNDO_TRIGGER:
        raise InvalidInput(f"run {run_id} is an undo: it cannot be undone (run again instead)")
    if run.status == "running":
        raise InvalidInput(f"run {run_id} is still running")
    if run.dry_run:
        raise InvalidInput(f"run {run_id} was a dry run: it changed nothing")
    if run.status in ("failed", "cancelled"):  # a run commits all or nothing
        raise InvalidInput(
            f"run {run_id} {run.status}: it changed nothing, there is nothing to undo"
        )
    school_events = store.audit(run.school)
    done = undone_by(school_events, run_id)
    if done:
        raise InvalidInput(f"run {run_id} was already undone ({done}): run again instead")
    events = [e for e in school_events if e.run_id == run_id]
    names = {e.subject for e in events if e.action in ACCOUNT_ACTIONS}
    accounts = {u: txn.find_account(u) for u in sorted(names)}
    undo_plan = plan_undo(run, events, accounts, txn.cases(run.school, "open"), at)
    _keep_ids_given_since(store, undo_plan)
    # An unallocation reverted restores the account: its person may have been given another
    # since (at a new school), which an operator is told of, as a restore tells.
    restored = [r.back for r in undo_plan.reverts if r.back.status == "active" != r.now.status]
    if restored:
        undo_plan.beside = active_beside(store, restored, (r.username for r in undo_plan.reverts))
    # An account taken away (a creation undone) may be the one a duplicate decision kept.
    taken = [r.now for r in undo_plan.reverts if r.now.status == "active" != r.back.status]
    if taken:
        undo_plan.orphaned = kept_as_their_duplicates(store, taken)
    return run, undo_plan


def _keep_ids_given_since(store: Store, undo_plan: UndoPlan) -> None:
    """An unallocation whose account's MIS id the school has since given another person (its
    latest export lists that record as another person than the account) is not reverted: the
    account's person left, and put back active it would hold the newcomer's id, the newcomer
    blocked from an account of their own."""
    why_rows: dict[str, list[dict]] = {}  # school -> its why_records, read once
    for revert in list(undo_plan.reverts):
        if revert.now.status == "active" or revert.back.status != "active":
            continue
        school = revert.now.link_school
        if school and school not in why_rows:
            why_rows[school] = store.why_records(school)
        record = listed_as_another(store, revert.now, why_rows.get(school or ""))
        if record is None:
            continue
        undo_plan.reverts.remove(revert)
        undo_plan.left_alone.append(revert.username)
        undo_plan.id_given[revert.username] = (
            f"its MIS record {record.mis_id} now names {record.forename} {record.surname}"
        )
    undo_plan.left_alone.sort()


def undo_preview(store: Store, run_id: str, *, now: datetime) -> UndoPlan:
    """What undo_run would revert and leave alone now (a dry run: nothing is written)."""
    return _plan_in(store, store, run_id, iso(now))[1]


def undo_run(store: Store, run_id: str, *, operator: str, now: datetime) -> tuple[UndoPlan, Run]:
    """Reverts what run `run_id` changed, in one transaction, as a new run (trigger "undo")."""
    require(store, operator, "undo_run")
    at = iso(now)
    with store.transaction(operator) as txn:
        run, undo_plan = _plan_in(store, txn, run_id, at)
        dfe = run.school
        # one run of a school at a time (an undo is one): a run planned before the undo would
        # commit after it, making again what was undone, nothing said
        running = txn.running_runs(dfe)
        if running:
            raise RunInProgress(running[0])
        undo = Run(
            run_id=txn.next_run_id(dfe),
            school=dfe,
            trigger=UNDO_TRIGGER,
            operator=operator,
            reports=list(run.reports),
            status="succeeded",
            started_at=at,
            finished_at=at,
            counts=empty_counts(),
        )
        for revert in undo_plan.reverts:
            put_changed(txn, revert.now, revert.back, revert.action, at, dfe, undo.run_id)
        for case in undo_plan.cases:
            withdraw_case(txn, case, operator, at, f"run {run_id} undone", undo.run_id)
        rev = undo_plan.reverted
        undo.counts["unallocated"] = rev["created"] + rev["restored"]
        undo.counts["restored"] = rev["unallocated"]
        undo.counts["updated"] = rev["updated"] + rev["moved"] + rev["linked"]
        txn.put_run(undo)
        # its exports are undone with it: not what the next export is compared with
        txn.put_run(
            dataclasses.replace(run, sizes={}, on_roll={}, not_started={}, undone_by=undo.run_id)
        )
        txn.audit(
            event(
                txn,
                at,
                dfe,
                "undo_run",
                run_id,
                None,
                {
                    "undo_run_id": undo.run_id,
                    "reverted": rev,
                    "left_alone": undo_plan.left_alone,
                    "cases_closed": [c.case_id for c in undo_plan.cases],
                },
                undo.run_id,
            )
        )
    return undo_plan, undo
