"""Accounts created in a local authority after a plan was made (DESIGN section 3: runs of two
schools of one LA at once give one new person one account and a case at the second school).

A plan is made outside the store's lock, against the LA's accounts as they were then. Before it
reads them, the run notes the LA's usernames (`WrittenSinceWatch.watch`); under the lock, the usernames
registered since are the accounts created meanwhile, by this process or any other, and those
moved into the LA's schools from another LA since (an operator matched a mover) are listed in
the LA's arrivals (store/arrivals.py); accounts created in other LAs since, with a record's UPN
or its names and date of birth, are found as the plan's look across the store would have found
them (settle_elsewhere). A record the plan would
create that resembles one of them becomes a match case instead. An operator's create from a
case is checked the same way against the accounts created since the case was opened.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import ROLES, Account, Candidate, MatchCase, MisRecord
from uso_tui.domain.names import upn_key
from uso_tui.domain.schools import la_of
from uso_tui.store.api import Store, Transaction
from uso_tui.store.arrivals import arrived_since
from uso_tui.store.layout import la_of_username
from uso_tui.sync.matching import MAX_CANDIDATES, CandidateIndex
from uso_tui.sync.plan import found_elsewhere
from uso_tui.sync.plan_types import CREATED, NEEDS_MATCHING, NewCase, Plan

# How long before a case was opened an account counts as made "since" it: the run that made it
# may have started (and stamped its accounts) before the run that opened the case, and
# committed after it.
RUN_SPAN = timedelta(days=1)


class WrittenSinceWatch:
    """The accounts created or written in watched local authorities since each was first
    watched, indexed per LA and role (one per run in a process: the daily run's pipeline or
    worker, or one school's run)."""

    def __init__(self, watch: dict[str, frozenset[str]] | None = None) -> None:
        self._idx: dict[tuple[str, str], CandidateIndex] = {}
        # la -> every username known to the plans of this run (the LA's when it was first
        # watched, and those added here since)
        self._seen = {la: set(names) for la, names in (watch or {}).items()}
        # la -> the number of the first arrival (an account moved in from another LA) not yet
        # known to the plans of this run (store/arrivals.py)
        self._arrived: dict[str, int] = {}
        # the LAs already caught up in a transaction (checked again under the same lock: no)
        self._caught: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def watch(self, store: Store, la: str) -> None:
        """Call before planning a school of `la` (before its accounts are read): what is
        created there from now on is caught up under the lock. The first call per LA counts."""
        if la not in self._arrived:
            self._arrived[la] = store.la_arrivals(la)[0]
        if la not in self._seen:
            self._seen.setdefault(la, set(store.la_usernames(la)))

    def marks(self, la: str) -> dict[str, int]:
        """How many accounts are held for `la`, by role: a plan made now has them all in its
        candidate pool (PoolCache gets what this process committed or caught up before this
        does), so settle checks its records only against those held after (Plan.written_mark).
        (Read while another thread may add: each role's index looked up, not iterated.)"""
        return {role: len(idx) for role in ROLES if (idx := self._idx.get((la, role)))}

    def catch_up(
        self, txn: Transaction, las: set[str], before: Callable[[list], None] | None = None
    ) -> list:
        """Under the lock: the accounts created in the watched `las`, or moved into them from
        another LA, since the last look (by other processes: this one's are added as written),
        added here and returned. `before` (the run's PoolCache.update) gets them first: a plan
        whose marks counted one its pool lacked would never be checked against it."""
        done = self._caught.setdefault(txn, set())
        fresh: list = []
        for la in sorted((las & self._seen.keys()) - done):
            done.add(la)
            seen = self._seen[la]
            new = txn.la_usernames(la) - seen
            seen |= new
            written = sorted(new)
            since = self._arrived.get(la)
            if since is not None:
                upto, recent = txn.la_arrivals(la)
                if upto > since:
                    self._arrived[la] = upto
                    written += dict.fromkeys(arrived_since(recent, since))
            fresh += [a for a in map(txn.find_account, written) if a is not None]
        if before is not None:
            before(fresh)
        self.add(fresh)
        return fresh

    @staticmethod
    def _key(account) -> tuple[str, str] | None:
        home = account.home
        return (la_of(home), account.role) if home else None

    def add(self, accounts: Iterable) -> None:
        """Accounts written by this process (committed): known, and checked against."""
        for account in accounts:
            seen = self._seen.get(la_of_username(account.username))
            if seen is not None:  # known here: catch_up need not read it back
                seen.add(account.username)
            key = self._key(account)
            if key is not None:
                idx = self._idx.get(key)
                if idx is None:
                    idx = self._idx[key] = CandidateIndex([])
                idx.add(account)

    def settle(self, txn: Transaction, plans: Iterable[Plan], dfe: str, staged: list) -> int:
        """Under the lock, for plans made before it: each record a plan would create that
        resembles an account written in the LA since it was watched (created there or moved in
        from another LA; `staged`: earlier in this transaction), or one created in another LA
        with its UPN or names and date of birth (settle_elsewhere), becomes a match case with
        those accounts as candidates. Returns how many."""
        plans = [plan for plan in plans if plan.creates]
        la = la_of(dfe)
        if not plans or la not in self._seen:
            return 0
        self.catch_up(txn, {la})
        moved = 0
        for plan in plans:
            idx = self._idx.get((la, plan.role))
            # (none held since the plan was made: its pool weighed them all)
            fresh = idx is not None and len(idx) > (plan.written_mark or 0)
            indexes = [idx] if fresh else []
            near = [a for a in staged if self._key(a) == (la, plan.role)]
            if near:
                indexes.append(CandidateIndex(near))
            found = {id(r): c for r in plan.creates if (c := _candidates(indexes, r, dfe))}
            moved += demote(plan, found)
        return moved + settle_elsewhere(txn, plans, dfe, staged)


def settle_elsewhere(txn: Transaction, plans: Iterable[Plan], dfe: str, staged: list) -> int:
    """Under the lock: each record a plan would create whose UPN, or names and date of birth,
    an account has that the plan's look across the store did not find (created since by a run
    in another local authority, committed or `staged` earlier in this transaction) becomes a
    match case with those accounts as candidates, as it would have had it been planned after
    them. Returns how many."""
    moved = 0
    for plan in plans:
        if not plan.creates:
            continue
        role = plan.role

        def wide(role: str, upns: set[str], name_dobs: set, plan: Plan = plan) -> list:
            # at the schools changed since the plan looked, if it was made here
            hits = txn.find_people(role, upns, name_dobs, plan.looked_at)
            hits += [a for a in staged if a.role == role]  # found_elsewhere keeps those alike
            return [a for a in hits if a.username not in plan.elsewhere_seen]

        # a UPN the plan's look left out as a dummy (held in the LA, or across the store, by
        # more than one child would) is none here either
        found = _found_across(wide, role, plan.creates, dfe, plan.placeholder_upns)
        by_record = {id(r): found[r.mis_id] for r in plan.creates if r.mis_id in found}
        moved += demote(plan, by_record, "in the store")
    return moved


def _found_across(
    wide: Callable[..., list],
    role: str,
    records: list[MisRecord],
    dfe: str,
    placeholders: Iterable[str],
    keep: Callable[[object], bool] = lambda hit: True,
) -> dict[str, list[Candidate]]:
    """The candidates of each record (by MIS id) among the accounts `wide` (a find_people)
    gives for its UPN, or its names and date of birth, that `keep` keeps: weighed on their
    own, with no pool of names to weigh them against, so shown more readily than in a plan (a
    case rather than a second account); `placeholders`: UPNs that are dummies, not looked for."""
    alone = CandidateIndex([])
    alone.assume_placeholders(placeholders)
    by_id = {r.mis_id: r for r in records}
    out: dict[str, list[Candidate]] = {}
    for mis_id, hits in found_elsewhere(wide, role, records, alone).items():
        kept = {a.username: a for a in hits if keep(a)}
        if kept and (cands := alone.candidates(by_id[mis_id], dfe, extra=kept.values())):
            out[mis_id] = cands
    return out


def _candidates(indexes: list[CandidateIndex], rec: MisRecord, dfe: str) -> list[Candidate]:
    got: dict[str, Candidate] = {}
    for idx in indexes:
        for candidate in idx.candidates(rec, dfe):
            if candidate.username not in got or got[candidate.username].score < candidate.score:
                got[candidate.username] = candidate
    ranked = sorted(got.values(), key=lambda c: (-c.score, c.school != dfe, c.username))
    return ranked[:MAX_CANDIDATES]


def demote(
    plan: Plan, found: dict[int, list[Candidate]], where: str = "in the local authority"
) -> int:
    """Turns the creates of `plan` whose record (by id) is in `found` into match cases with those
    candidates: outcome, counts, fingerprints and the processed file's rows follow."""
    if not found:
        return 0
    keep: list[MisRecord] = []
    for rec in plan.creates:
        cands = found.get(id(rec))
        if cands is None:
            keep.append(rec)
        else:
            plan.new_cases.append(NewCase(rec, cands))
            if plan.seen is not None:  # waiting for an operator: parsed again next time
                plan.seen.pop(rec.mis_id, None)
    demoted = len(plan.creates) - len(keep)
    plan.creates = keep
    for outcome in plan.outcomes:
        cands = found.get(id(outcome.record))
        if cands is not None and outcome.outcome == CREATED:
            best = cands[0]
            outcome.outcome = NEEDS_MATCHING
            outcome.reason = (
                f"resembles {len(cands)} account(s) created {where} while this run was "
                f"planned, best {best.username} ({best.score}%)"
            )
    plan.counts[CREATED] -= demoted
    plan.counts[NEEDS_MATCHING] += demoted
    plan._rows_json = None  # made again with the new outcomes
    return demoted


def created_since_case(store: Store, txn: Transaction, case: MatchCase) -> list[Account]:
    """Under the lock: accounts that resemble the case's record and were created since the
    case was opened (not among its candidates, so its operator has not seen them), in its local
    authority or, with its UPN or its names and date of birth, in another. An account linked to
    another record of the case's school and report is that other person: left out."""
    rec = case.mis_record()
    dfe = case.school
    shown = {candidate["username"] for candidate in case.candidates}
    since = _minus(case.opened_at, RUN_SPAN)
    # The LA's compact name index, read under the write lock: what is committed, and nothing
    # commits meanwhile.
    index = CandidateIndex(store.la_people(la_of(dfe), case.role))
    out: list[Account] = []
    while cands := index.candidates(rec, dfe, exclude=shown):
        for candidate in cands:
            shown.add(candidate.username)
            acc = txn.find_account(candidate.username)
            if acc is None or not acc.created_at or acc.created_at < since:
                continue
            if (
                acc.mis_id
                and acc.mis_id != rec.mis_id
                and acc.link_school == dfe
                and acc.link_report == case.report
            ):
                continue
            out.append(acc)
        if out:
            break
    if not out:  # a mover's: the same UPN, or names and date of birth, in another LA
        if rec.upn:  # a UPN the LA holds as a dummy is not the child's
            index.is_placeholder_upn(upn_key(rec.upn))
        found = _found_across(
            txn.find_people,
            case.role,
            [rec],
            dfe,
            index.placeholder_upns,
            keep=lambda hit: hit.username not in shown and la_of(hit.home) != la_of(dfe),
        )
        for candidate in found.get(rec.mis_id, ()):
            acc = txn.find_account(candidate.username)
            if acc is not None and acc.created_at and acc.created_at >= since:
                out.append(acc)
    return out


def refuse_if_created_since(store: Store, txn: Transaction, case: MatchCase) -> None:
    """Under the lock, before creating an account from `case`: refused (naming it) if an
    account that resembles its record was created since the case was opened, as by a run of
    another school of the local authority that the same new person arrived at."""
    clash = created_since_case(store, txn, case)
    if clash:
        account = clash[0]
        raise InvalidInput(
            f"{account.username} ({account.forename} {account.surname}, born {account.dob}, at "
            f"{account.school or account.previous_school}) was created since case {case.case_id} "
            f"was opened "
            f"and resembles its record: if it is the same person, match it "
            f"(`uso-tui resolve {case.case_id} --match {account.username}`)"
        )


def _minus(at: str, span: timedelta) -> str:
    try:
        return (datetime.fromisoformat(at) - span).isoformat()
    except ValueError:
        return ""
