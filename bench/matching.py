"""bench/matching: matching quality on a labelled estate, the current matcher beside the OLD rules.

    python -m bench.matching [--schools N] [--size N] [--days N] [--seed N] [--hazards]
                             [--no-scale]

An estate of two local authorities (uso_tui.iris.hazards: twins and triplets, requested accounts
under known-as names, siblings, very common names, marriage and family surname changes, middle
names, Sikh and Welsh naming, movers within and across local authorities, date slips, records
with several errors) is imported (day 0), then moved on day by day, each school planned in turn
as the runner would, with the cases decided as a careful operator would: by the truth (the true
account when it is a candidate, else a new account). The same days are run twice, by
`uso_tui.sync.plan.plan` (the current matcher) and by bench/legacy_matching.py (the OLD rules),
each in its own store kept in memory.

Measured from day 1, over the records that reach matching (unlinked, valid, started): wrong and
correct automatic links; for records whose person has an account anywhere in the store, whether
the true account was linked or ranked 1st, in the top 3, or absent; duplicates created (a
creation, by the planner or by the operator for want of a true candidate, for a person who had
an account); how many of them had their accounts linked to another record present in the same
export (one person with two records at once: DESIGN makes such an account no candidate); cases for records whose person has no account (as a % of such records); and the
planning time per school (both reports); at the end, the people left with two active accounts
and how many of them the possible-duplicates review lists. Then one more day is planned against the store as it
is and with nine times as many accounts in the same local authorities (`--no-scale` skips it).
`--hazards` adds a table per kind of churn and hazard.

`evaluate(Params(...))` returns the same figures as a dict, for tests on a small estate.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bench import legacy_matching as legacy
from bench.common import print_table
from uso_tui.domain.models import Account, Export, MisRecord, School
from uso_tui.domain.names import normalise
from uso_tui.domain.schools import ROLE_OF_REPORT
from uso_tui.iris.datagen import REPORTS, ChurnRates, Estate, generate_estate
from uso_tui.iris.hazards import (
    Action,
    HazardRates,
    advance_hazards,
    generate_hazard_estate,
)
from uso_tui.iris.parse import PARSERS
from uso_tui.sync import plan as planner
from uso_tui.sync.duplicates import find_duplicates
from uso_tui.sync.plan_types import Snapshot

MATCHERS = ("old", "current")


@dataclass(frozen=True)
class Params:
    seed: int = 1
    n_schools: int = 16
    las: tuple[str, ...] = ("204", "330")
    size: int = 250  # people per school
    days: int = 8
    churn: float = 2.0  # ChurnRates scaled
    hazards: float = 1.5  # HazardRates scaled
    today: date = date(2026, 3, 2)


def settings(dfe: str) -> School:
    # No safety hold: the bench measures matching, and an operator would confirm a held run.
    return School(
        dfe=dfe, name=dfe, mis="iSAMS", url="https://x", client_id="id", hold_percent=100.0
    )


_HAS_WIDE = "wide" in {f.name for f in dataclasses.fields(Snapshot)}


def _name_keys(account: Account) -> set[tuple[str, str, str]]:
    """The keys Store.find_people finds an account by: each of its forename and preferred name
    with its date of birth (any surname), and its surname with its date of birth (any
    forename), as (forename, surname, dob) with "" for any."""
    if not account.dob:
        return set()
    keys = {("", normalise(account.surname), account.dob)}
    keys.update(
        (f, "", account.dob)
        for f in (normalise(account.forename), normalise(account.preferred_name))
        if f
    )
    return keys


def _wanted(account: Account, upns: set[str], name_dobs: set[tuple[str, str, str]]) -> bool:
    upn = _upn(account)
    if upn and upn.upper() in upns:
        return True
    if not account.dob:
        return False
    surname = normalise(account.surname)
    if ("", surname, account.dob) in name_dobs:
        return True
    names = {normalise(account.forename), normalise(account.preferred_name)} - {""}
    return any(
        (f, surname, account.dob) in name_dobs or (f, "", account.dob) in name_dobs for f in names
    )


def _upn(account: Account) -> str | None:
    upn = (account.extra or {}).get("upn")
    return upn.upper() if upn else None


class World:
    """One store of accounts kept in memory, with the true person behind each account, planned
    school by school by one matcher ("old" or "current")."""

    def __init__(self, estate: Estate, matcher: str) -> None:
        self.estate = estate
        self.matcher = matcher
        self.accounts: dict[str, Account] = {}
        self.person: dict[str, int] = {}  # username -> the true person (-1: filler)
        self.of_person: dict[tuple[int, str], set[str]] = defaultdict(set)  # (pid, role)
        # Ordered (dicts as sets): the same pools in the same order on every run of the bench.
        self.at_home: dict[str, dict[str, None]] = defaultdict(dict)  # school -> usernames
        self.in_la: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)  # (la, role)
        self.by_upn: dict[str, set[str]] = defaultdict(set)
        self.by_name_dob: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.issued = 0
        self.tally: Counter[str] = Counter()
        self.by_kind: dict[str, Counter[str]] = defaultdict(Counter)
        self.times: dict[str, list[float]] = defaultdict(list)  # phase -> seconds per school
        self.kind_of: dict[tuple[str, str, str], str] = {}  # today's (dfe, report, mis) -> kind

    # ------------------------------------------------------------ the store

    def new_username(self, la: str) -> str:
        self.issued += 1
        return f"u{self.issued}.{la}"

    def put(self, account: Account, pid: int | None = None) -> None:
        old = self.accounts.get(account.username)
        username = account.username
        if old is not None:
            self._unindex(old)
        else:
            self.person[username] = -1 if pid is None else pid
        self.accounts[username] = account
        home = account.home or ""
        self.at_home[home][username] = None
        self.in_la[(home[:3], account.role)][username] = None
        if (upn := _upn(account)) is not None:
            self.by_upn[upn].add(username)
        for key in _name_keys(account):
            self.by_name_dob[key].add(username)
        self.of_person[(self.person[username], account.role)].add(username)

    def _unindex(self, account: Account) -> None:
        username = account.username
        home = account.home or ""
        self.at_home[home].pop(username, None)
        self.in_la[(home[:3], account.role)].pop(username, None)
        if (upn := _upn(account)) is not None:
            self.by_upn[upn].discard(username)
        for key in _name_keys(account):
            self.by_name_dob[key].discard(username)

    def pool(self, la: str, role: str) -> list[Account]:
        return [self.accounts[u] for u in self.in_la[(la, role)]]

    def wide(
        self, role: str, upns: set[str], name_dobs: set[tuple[str, str, str]]
    ) -> list[Account]:
        """Store.find_people over the world's accounts, with its semantics ("" is any name)."""
        found: set[str] = set()
        for upn in upns:
            found |= self.by_upn.get(upn.upper(), set())
        for forename, surname, dob in name_dobs:
            found |= self.by_name_dob.get(
                (forename, "", dob) if forename else ("", surname, dob), set()
            )
        return [
            self.accounts[u]
            for u in sorted(found)
            if self.accounts[u].role == role and _wanted(self.accounts[u], upns, name_dobs)
        ]

    def true_accounts(self, pid: int, role: str) -> set[str]:
        return set(self.of_person.get((pid, role), ()))

    def clone(self) -> World:
        cloned = World(self.estate, self.matcher)
        cloned.accounts = dict(self.accounts)
        cloned.person = dict(self.person)
        for name in ("of_person", "at_home", "in_la", "by_upn", "by_name_dob"):
            copy = getattr(cloned, name)
            for key, value in getattr(self, name).items():
                copy[key] = value.copy()
        cloned.issued = self.issued
        return cloned

    # ------------------------------------------------------------ outside the MIS

    def act(self, action: Action) -> None:
        role = ROLE_OF_REPORT[action.report]
        if action.kind == "request":
            username = self.new_username(action.dfe[:3])
            self.put(
                Account(
                    username=username,
                    role=role,
                    forename=action.forename,
                    surname=action.surname,
                    dob=action.dob,
                    school=action.dfe,
                ),
                action.person_id,
            )
            self.tally["requested"] += 1
        elif action.kind == "restore":  # as uso_tui.sync.actions.restore_account
            gone = [
                self.accounts[u]
                for u in sorted(self.true_accounts(action.person_id, role))
                if self.accounts[u].status == "unallocated"
            ]
            if not gone:
                self.tally["restore_skipped"] += 1
                return
            account = gone[0]
            self.put(
                dataclasses.replace(
                    account,
                    status="active",
                    school=account.previous_school or account.link_school,
                    source="manual",
                    mis_id=None,
                    link_school=None,
                    link_report=None,
                    unallocated_at=None,
                    unallocated_by_run=None,
                    reviewed=False,
                    history=[*account.history, {"action": "restore", "school": action.dfe}],
                )
            )
            self.tally["restored"] += 1

    # ------------------------------------------------------------ a run

    def plan(self, dfe: str, report: str) -> tuple[Export, Any]:
        est = self.estate
        export = Export(
            report=report,  # type: ignore[arg-type]
            records=[PARSERS[report](d) for d in est.iris_records(dfe, report)],
        )
        mine = [self.accounts[u] for u in self.at_home.get(dfe, ())]
        la = dfe[:3]
        if self.matcher == "old":
            return export, legacy.legacy_plan(
                export, mine, lambda role: self.pool(la, role), dfe, est.today
            )
        extra: dict[str, Any] = {"wide": self.wide} if _HAS_WIDE else {}
        snap = Snapshot(school=dfe, accounts=mine, pool=lambda role: self.pool(la, role), **extra)
        return export, planner.plan(export, snap, est.today, settings(dfe))

    def run(self, dfe: str, report: str, phase: str, measure: bool) -> None:
        t0 = time.perf_counter()
        export, planned = self.plan(dfe, report)
        self.times[phase].append(time.perf_counter() - t0)
        self.apply(export, planned, dfe, report, measure)

    def apply(self, export: Export, planned: Any, dfe: str, report: str, measure: bool) -> None:
        est = self.estate
        role = ROLE_OF_REPORT[report]
        la = dfe[:3]

        def person(rec: MisRecord) -> int:
            pid = est.person_of(dfe, report, rec.mis_id)
            return -2 if pid is None else pid

        # What each record found, judged against the store as the plan saw it.
        verdicts: list[tuple[MisRecord, str, int | None]] = []  # (record, outcome, rank)
        by_id = {r.mis_id: r for r in export.records}
        for ch in planned.changes:
            if ch.kind == "auto_link":
                rec = by_id[ch.after.mis_id]
                right = self.person[ch.after.username] == person(rec)
                verdicts.append(
                    (rec, "auto_right" if right else "auto_wrong", 1 if right else None)
                )
        for nc in planned.new_cases:
            verdicts.append((nc.record, "case", None))
        for rec in planned.creates:
            verdicts.append((rec, "create", None))
        truths = {id(rec): self.true_accounts(person(rec), role) for rec, _, _ in verdicts}
        # Accounts linked to a record of this export that is present (DESIGN: that other
        # record's person, never a candidate): a person with two records at once loses theirs.
        today = est.today.isoformat()
        present = {
            r.mis_id for r in export.records if not (r.leaving_date and r.leaving_date <= today)
        }
        held = {
            u: a.mis_id in present
            for u in set().union(*truths.values())
            if (a := self.accounts[u]).link_school == dfe and a.link_report == report
        }

        for ch in planned.changes:
            self.put(ch.after)
        for rec in planned.creates:
            self.put(planner.account_from_record(rec, dfe, self.new_username(la)), person(rec))
        operator: dict[int, str] = {}
        for nc in planned.new_cases:
            rec = nc.record
            names = [c.username for c in nc.candidates]
            truth = truths[id(rec)]
            # DESIGN refuses a match to an account linked to another record of the export.
            right = [u for u in names if u in truth and not held.get(u)]
            if right:  # the operator matches the true account ...
                operator[id(rec)] = "match"
                self.put(_linked(self.accounts[right[0]], rec, dfe))
            else:  # ... or creates one
                operator[id(rec)] = "create"
                self.put(planner.account_from_record(rec, dfe, self.new_username(la)), person(rec))
        if not measure:
            return
        for rec, outcome, _ in verdicts:
            truth = truths[id(rec)]
            kind = self.kind_of.get((dfe, report, rec.mis_id), "other")
            for tally in (self.tally, self.by_kind[kind]):
                tally["records"] += 1
                tally["with_account" if truth else "without_account"] += 1
                if outcome == "auto_wrong":
                    tally["auto_wrong"] += 1
                elif outcome == "auto_right":
                    tally["auto_right"] += 1
                rank = None
                if outcome == "auto_right":
                    rank = 1
                elif outcome == "case" and truth:
                    names = [c.username for c in _case_of(planned, rec).candidates]
                    rank = next((i + 1 for i, u in enumerate(names) if u in truth), None)
                if truth:
                    if all(held.get(u) for u in truth):
                        tally["held_by_other_record"] += 1
                    if rank == 1:
                        tally["rank1"] += 1
                    if rank is not None and rank <= 3:
                        tally["top3"] += 1
                    if rank is None:
                        tally["absent"] += 1
                    if outcome == "create" or operator.get(id(rec)) == "create":
                        tally["duplicates"] += 1
                elif outcome == "case":
                    tally["noise_cases"] += 1
                if outcome == "case":
                    tally["cases"] += 1


def _case_of(planned: Any, rec: MisRecord) -> Any:
    return next(nc for nc in planned.new_cases if nc.record is rec)


def _linked(acc: Account, rec: MisRecord, dfe: str) -> Account:
    """The account linked to the record at `dfe` (the operator's match: a move when elsewhere)."""
    moving = acc.school != dfe
    return dataclasses.replace(
        acc,
        **legacy.held_fields(rec),
        status="active",
        school=dfe,
        source="mis",
        mis_id=rec.mis_id,
        link_school=dfe,
        link_report=rec.report,
        previous_school=(acc.school or acc.previous_school) if moving else acc.previous_school,
        unallocated_at=None,
        unallocated_by_run=None,
        reviewed=False,
    )


# ---------------------------------------------------------------- the evaluation


def _filler(params: Params, n_people: int) -> list[tuple[Account, int]]:
    """About `n_people` accounts of other people in the same local authorities, at schools of
    their own (establishment numbers 6000 and up, which no generated school has), each with a
    UPN of its own."""
    per_school = params.size
    n_schools = max(len(params.las), n_people // per_school)
    est = generate_estate(
        params.seed + 7919, n_schools, list(params.las), today=params.today, size=per_school
    )
    out: list[tuple[Account, int]] = []
    for index, school in enumerate(est.schools):
        dfe = f"{school.la}-{6000 + index}"
        for report in REPORTS:
            role = ROLE_OF_REPORT[report]
            for record in school.records(report).values():
                extra: dict[str, Any] = {"gender": record.gender}
                if role == "pupil":
                    extra |= {"upn": f"F{len(out):012d}", "year_group": str(record.year)}
                acc = Account(
                    username=f"f{len(out)}.{school.la}",
                    role=role,  # type: ignore[arg-type]
                    forename=record.forename,
                    surname=record.surname,
                    dob=record.dob,
                    school=dfe,
                    source="mis",
                    preferred_name=record.preferred or "",
                    middle_names=record.middle or "",
                    mis_id=record.mis_id,
                    link_school=dfe,
                    link_report=report,
                    extra=extra,
                )
                out.append((acc, -1))
    return out


def _day(worlds: dict[str, World], estate: Estate, phase: str, measure: bool) -> None:
    for world in worlds.values():
        for action in estate.actions:
            world.act(action)
        for school in estate.schools:
            for report in REPORTS:
                world.run(school.dfe, report, phase, measure)


def _per_school(times: list[float]) -> float:
    """Mean seconds per school (its two reports)."""
    return 2 * statistics.fmean(times) if times else 0.0


def evaluate(
    params: Params = Params(), *, scale: bool = False, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The figures of both matchers on the estate of `params`: {"old": {...}, "current":
    {...}, "by_kind": {kind: {"old": {...}, "current": {...}}}, "estate": {...}}. Each matcher's
    dict holds the counts (records, with_account, without_account, auto_wrong, auto_right,
    rank1, top3, absent, duplicates, cases, noise_cases), the shares (top3_share,
    noise_share, ...) and seconds per school (first_import_s, daily_s, and with `scale`
    daily_1x_s and daily_10x_s)."""
    say = log or (lambda _msg: None)
    estate = generate_hazard_estate(
        params.seed, params.n_schools, list(params.las), today=params.today, size=params.size
    )
    say(f"estate: {len(estate.schools)} schools, {estate.size} records")
    worlds = {m: World(estate, m) for m in MATCHERS}
    _day(worlds, estate, "first_import", measure=False)
    rates = ChurnRates().scaled(params.churn)
    hazards = HazardRates().scaled(params.hazards)
    kinds: Counter[str] = Counter()
    for day in range(params.days):
        churn = advance_hazards(estate, rates=rates, hazards=hazards)
        kinds.update(c.kind for c in churn)
        labels = {(c.dfe, c.report, c.mis_id): c.kind for c in churn}
        for world in worlds.values():
            world.kind_of.update(labels)
        _day(worlds, estate, "daily", measure=True)
        say(f"day {day + 1}: {len(churn)} changes, {len(estate.actions)} actions")
    if scale:
        advance_hazards(estate, rates=rates, hazards=hazards)
        for matcher, world in list(worlds.items()):
            one = world.clone()
            _day({matcher: one}, estate, "daily_1x", measure=False)
            world.times["daily_1x"] = one.times["daily_1x"]
            ten = world.clone()
            for acc, pid in _filler(params, 9 * len(world.accounts)):
                ten.put(acc, pid)
            _day({matcher: ten}, estate, "daily_10x", measure=False)
            world.times["daily_10x"] = ten.times["daily_10x"]
            world.tally["accounts_10x"] = len(ten.accounts)
            say(f"{matcher}: the same day planned against {len(ten.accounts)} accounts")
    out: dict[str, Any] = {
        "estate": {
            "schools": len(estate.schools),
            "records": estate.size,
            "las": list(params.las),
            "days": params.days,
            "changes": dict(kinds),
        },
        "by_kind": {},
    }
    for matcher, world in worlds.items():
        world.tally.update(_doubled(world))
        out[matcher] = _figures(world.tally) | {
            f"{phase}_s": _per_school(t) for phase, t in world.times.items()
        } | {"accounts": len(world.accounts)}  # fmt: skip
        for kind, counts in world.by_kind.items():
            out["by_kind"].setdefault(kind, {})[matcher] = _figures(counts)
    return out


def _doubled(world: World) -> Counter[str]:
    """People left with two or more active accounts of one role (`doubled`), and of them those
    the possible-duplicates review (`uso-tui duplicates`) lists with a pair of their own
    accounts (`doubled_listed`)."""
    owner = world.person
    pairs = find_duplicates(world.accounts.values())
    listed = {
        (owner[pair.first.username], pair.first.role)
        for pair in pairs
        if owner[pair.first.username] == owner[pair.second.username]
    }
    out: Counter[str] = Counter()
    out["listed_apart"] = sum(owner[p.first.username] != owner[p.second.username] for p in pairs)
    for (pid, role), usernames in world.of_person.items():
        active = [u for u in usernames if world.accounts[u].status == "active"]
        if pid >= 0 and len(active) > 1:
            out["doubled"] += 1
            out["doubled_listed"] += (pid, role) in listed
    return out


def _figures(tally: Counter[str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(tally)
    with_ = tally["with_account"]
    without = tally["without_account"]
    for key in ("rank1", "top3", "absent", "duplicates"):
        out[f"{key}_share"] = tally[key] / with_ if with_ else None
    out["noise_share"] = tally["noise_cases"] / without if without else None
    # DESIGN rule 6: an account linked to another record present in the export is that
    # record's person, never a candidate; the records left are those a matcher can serve.
    allowed = with_ - tally["held_by_other_record"]
    out["top3_allowed_share"] = tally["top3"] / allowed if allowed else None
    return out


# ---------------------------------------------------------------- printing


def _pct(count: int, share: float | None) -> str:
    return f"{count}" if share is None else f"{count} ({share:.1%})"


def _ms(seconds: float | None) -> str:
    return "-" if not seconds else f"{seconds * 1e3:.1f} ms"


def report(res: dict[str, Any], by_kind: bool = False) -> str:
    estate = res["estate"]
    old, cur = res["old"], res["current"]

    def row(label: str, cell_of: Callable[[dict[str, Any]], str]) -> list[str]:
        return [label, cell_of(old), cell_of(cur)]

    rows = [
        row("records reaching matching", lambda d: str(d.get("records", 0))),
        row("wrong automatic links", lambda d: str(d.get("auto_wrong", 0))),
        row("correct automatic links", lambda d: str(d.get("auto_right", 0))),
        row("records whose person has an account", lambda d: str(d.get("with_account", 0))),
        row("  true account linked or ranked 1st",
            lambda d: _pct(d.get("rank1", 0), d["rank1_share"])),
        row("  linked or in the top 3", lambda d: _pct(d.get("top3", 0), d["top3_share"])),
        row("  absent", lambda d: _pct(d.get("absent", 0), d["absent_share"])),
        row("  duplicates created", lambda d: _pct(d.get("duplicates", 0), d["duplicates_share"])),
        row("  account linked to another record present",
            lambda d: str(d.get("held_by_other_record", 0))),
        row("  linked or in the top 3, of the others",
            lambda d: _pct(d.get("top3", 0), d["top3_allowed_share"])),
        row("records whose person has none", lambda d: str(d.get("without_account", 0))),
        row("  cases without a true match",
            lambda d: _pct(d.get("noise_cases", 0), d["noise_share"])),
        row("cases opened", lambda d: str(d.get("cases", 0))),
        row("people left with two active accounts", lambda d: str(d.get("doubled", 0))),
        row("  of them, listed by `uso-tui duplicates`",
            lambda d: str(d.get("doubled_listed", 0))),
        row("pairs `uso-tui duplicates` lists that are two people",
            lambda d: str(d.get("listed_apart", 0))),
        row("time per school, first import", lambda d: _ms(d.get("first_import_s"))),
        row("time per school, daily", lambda d: _ms(d.get("daily_s"))),
    ]  # fmt: skip
    if "daily_10x_s" in cur:
        rows += [
            row(f"  one more day, {cur['accounts']} accounts", lambda d: _ms(d.get("daily_1x_s"))),
            row(f"  the same, {cur.get('accounts_10x', 0)} accounts",
                lambda d: _ms(d.get("daily_10x_s"))),
            row("  x10 accounts: time x",
                lambda d: f"{d['daily_10x_s'] / d['daily_1x_s']:.1f}" if d.get("daily_1x_s")
                else "-"),
        ]  # fmt: skip
    title = (
        f"bench/matching: {estate['schools']} schools in {len(estate['las'])} local authorities "
        f"({', '.join(estate['las'])}), {estate['records']} records on day 0, {estate['days']} days of churn "
        f"with hazards; cases decided by the truth"
    )
    text = print_table(title, ["", "OLD rules", "current"], rows)
    if by_kind:
        krows = []
        for kind, by_matcher in sorted(res["by_kind"].items()):
            old_figures, current_figures = by_matcher.get("old", {}), by_matcher.get("current", {})

            def cell(figures: dict[str, Any]) -> str:
                if not figures:
                    return "-"
                top3 = (
                    f"{figures['top3_share']:.0%}" if figures.get("top3_share") is not None else "-"
                )
                noise = (
                    f"{figures['noise_share']:.0%}"
                    if figures.get("noise_share") is not None
                    else "-"
                )
                return (
                    f"{figures.get('records', 0)}: wrong {figures.get('auto_wrong', 0)} top3 {top3} "
                    f"dup {figures.get('duplicates', 0)} noise {noise}"
                )

            krows.append([kind, cell(old_figures), cell(current_figures)])
        text += "\n" + print_table(
            "by kind of record: records reaching matching: wrong automatic links, linked or in "
            "the top 3 (of those with an account), duplicates created, cases (of those without)",
            ["kind", "OLD rules", "current"],
            krows,
        )
    return text


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.matching", description=__doc__.split("\n")[0]
    )
    defaults = Params()
    ap.add_argument("--schools", type=int, default=defaults.n_schools)
    ap.add_argument("--size", type=int, default=defaults.size, help="people per school")
    ap.add_argument("--days", type=int, default=defaults.days)
    ap.add_argument("--seed", type=int, default=defaults.seed)
    ap.add_argument("--hazards", action="store_true", help="also a table per kind of record")
    ap.add_argument("--no-scale", action="store_true", help="skip the x10 accounts timing")
    args = ap.parse_args(argv)
    params = Params(seed=args.seed, n_schools=args.schools, size=args.size, days=args.days)
    t0 = time.perf_counter()
    res = evaluate(params, scale=not args.no_scale, log=lambda m: print(m, flush=True))
    report(res, by_kind=args.hazards)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
