"""bench/store: the TinyDB store at estate scale.

    python -m bench.store [--quick] [--size 10k|100k|1.5M] [--repeat N]
                          [--only accounts|directory]

Builds (once; cached under bench/out/) synthetic stores of 10k, 100k and 1.5M accounts over 30,
300 and 3,000 schools in 3, 15 and 150 local authorities, through the store's own transactions
(one per batch of schools), and prints medians of: open the store and list all schools; load one
school's accounts; load one local authority's accounts; commit a 2,000-record change to one
school (with its 2,000 audit events and its run); search accounts by name across the store;
find people across the store by UPN or names and date of birth (find_people, as matching looks
for movers from another local authority) for 1, 10 and 2,000 records, half of them people with
an account; for 10 records also a process's first look (every school's index parsed) and a look
after another school's commit, times the schools for what a run_due's looks cost (each school's
plan looks once, after other schools' commits); the possible-duplicates review of one school and
of the whole store. `--quick` runs only the smallest size.
Then the school directory's cost as schools grow (bench/store_directory.py); `--only accounts`
or `--only directory` runs one of the two parts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

import orjson

from bench import store_directory
from bench.common import fmt_seconds, median, print_table, timings
from uso_tui.domain.models import Account, AuditEvent, Run, School
from uso_tui.domain.names import normalise
from uso_tui.iris.names_data import ORIGINS
from uso_tui.store import open_store
from uso_tui.sync.dob_slips import date_slips
from uso_tui.sync.duplicates import possible_duplicates

OUT = Path(__file__).parent / "out"
BUILD_VERSION = 5  # bump when the synthetic data or the store layout changes
BIG_SCHOOL = 3000  # the first school is a large secondary: the 2,000-record change happens there
SIZES = {
    "10k": (10_000, 30, 3),
    "100k": (100_000, 300, 15),
    "1.5M": (1_500_000, 3_000, 150),
}
TARGETS_1_5M = {
    "open store + list all schools": 1.0,
    "commit a 2,000-record change": 0.5,
    "load one local authority": 0.5,
    "search by name across the store": 1.0,
    "find people across the store, 10 records": 1.0,
    "why: search every school's latest processed file": 0.3,
}
NOW = "2026-09-01T06:00:00"


def school_sizes(total: int, n_schools: int, rng: random.Random) -> list[int]:
    """A large secondary first, then a mix of primaries and secondaries summing to `total`."""
    rest = [
        rng.randint(700, 1800) if rng.random() < 0.25 else rng.randint(120, 450)
        for _ in range(n_schools - 1)
    ]
    scale = (total - BIG_SCHOOL) / sum(rest)
    rest = [max(30, round(n * scale)) for n in rest]
    rest[-1] += total - BIG_SCHOOL - sum(rest)
    return [BIG_SCHOOL, *rest]


def dfe_numbers(n_schools: int, n_las: int) -> list[str]:
    return [f"{201 + i % n_las}-{1000 + i // n_las:04d}" for i in range(n_schools)]


def _name_picker(rng: random.Random):
    weights = [w for w, *_ in ORIGINS]

    def pick(role: str) -> tuple[str, str]:
        _, fem, masc, surnames = rng.choices(ORIGINS, weights)[0]
        forename = rng.choice(fem if rng.random() < 0.5 else masc)
        surname = rng.choice(surnames)
        if rng.random() < 0.05:
            surname = f"{surname}-{rng.choice(rng.choices(ORIGINS, weights)[0][3])}"
        return forename, surname

    return pick


def _accounts_for(tx, dfe: str, count: int, rng: random.Random, pick) -> list[Account]:
    out = []
    la = dfe[:3]
    for number in range(count):
        staff = number % 10 == 0
        role = "staff" if staff else "pupil"
        forename, surname = pick(role)
        year = rng.randint(1960, 2000) if staff else rng.randint(2008, 2020)
        dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        report = "staff" if staff else "students"
        out.append(
            Account(
                username=tx.new_username(forename, surname, la),
                role=role,
                forename=forename,
                surname=surname,
                dob=dob,
                school=dfe,
                source="mis",
                preferred_name=forename[:3] if rng.random() < 0.05 else "",
                mis_id=str(100000 + number),
                link_school=dfe,
                link_report=report,
                middle_names=pick(role)[0] if rng.random() < 0.3 else "",
                extra={} if staff else _pupil_extra(dfe, number, rng),
                created_at=NOW,
                last_event="create",
                last_event_at=NOW,
                history=[{"at": NOW, "action": "create", "school": dfe, "run_id": None}],
            )
        )
    return out


def _pupil_extra(dfe: str, number: int, rng: random.Random) -> dict[str, str]:
    upn = f"{rng.choice('ABCDEFGHJKLMNPQRTUVWXYZ')}{dfe[:3]}{dfe[4:]}{number:05d}"
    year = str(rng.randint(1, 13))
    return {"year_group": year, "form": "7A", "gender": rng.choice("MF"), "upn": upn}


def _wanted(store, la: str, count: int, rng: random.Random) -> tuple[set[str], set[tuple]]:
    """What matching would ask find_people for `count` records of a school of another local
    authority: half of them people with an account there, half people with none anywhere."""
    pool = store.la_people(la, "pupil")
    upns: set[str] = set()
    name_dobs: set[tuple[str, str, str]] = set()
    for position, person in enumerate(rng.sample(pool, min(count, len(pool)))):
        forename, surname, dob = normalise(person.forename), normalise(person.surname), person.dob
        if position % 2 == 0:
            upns.add(person.upn or "")
        else:
            upns.add(f"Z{position:012d}")
            forename, surname = forename + "q", surname + "q"  # nobody's
        if dob:  # as sync.plan.found_elsewhere asks
            name_dobs.update({(forename, "", dob), ("", surname, dob)})
            name_dobs.update((forename, surname, slip) for slip in date_slips(dob))
    return upns, name_dobs


def build(size: str, root: Path) -> float:
    """Build the synthetic store of `size` at `root` (unless cached); seconds spent building."""
    n_accounts, n_schools, n_las = SIZES[size]
    marker = root / "bench-complete.json"
    if marker.exists() and orjson.loads(marker.read_bytes()).get("version") == BUILD_VERSION:
        return 0.0
    if root.exists():
        shutil.rmtree(root)
    print(f"building the {size} store in {root} ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    rng = random.Random(20260901)
    pick = _name_picker(rng)
    sizes = school_sizes(n_accounts, n_schools, rng)
    dfes = dfe_numbers(n_schools, n_las)
    store = open_store(root)
    batch = 50
    for start in range(0, n_schools, batch):
        with store.transaction("bench") as tx:
            accounts: list[Account] = []
            for dfe, school_size in zip(
                dfes[start : start + batch], sizes[start : start + batch], strict=True
            ):
                tx.add_school(
                    School(dfe, f"School {dfe}", "iSAMS", f"https://s{dfe[4:]}.isams.cloud", "id"),
                    "bench-secret",
                )
                accounts.extend(_accounts_for(tx, dfe, school_size, rng, pick))
            tx.put_accounts(accounts)
    spent = time.perf_counter() - t0
    marker.write_bytes(orjson.dumps({"version": BUILD_VERSION, "build_seconds": spent}))
    return spent


def measure(size: str, root: Path, repeat: int) -> dict[str, tuple[float, str]]:
    """Median seconds (and a note) of each operation."""
    n_accounts, n_schools, _ = SIZES[size]
    store = open_store(root)
    schools = store.list_schools()
    assert len(schools) == n_schools
    big = schools[0].dfe
    la = big[:3]
    out: dict[str, tuple[float, str]] = {}

    times = timings(lambda: open_store(root).list_schools(), repeat)
    out["open store + list all schools"] = (median(times), f"{n_schools} schools")

    n_big = len(store.school_accounts(big))
    times = timings(lambda: store.school_accounts(big), repeat)
    out["load one school's accounts"] = (median(times), f"{n_big} accounts")

    la_accounts = store.la_accounts(la)
    n_la_schools = len({a.home for a in la_accounts})
    times = timings(lambda: store.la_accounts(la), repeat)
    out["load one local authority"] = (
        median(times),
        f"{len(la_accounts)} accounts, {n_la_schools} schools",
    )

    rep = [0]

    def commit_change() -> None:
        rep[0] += 1
        with store.transaction("bench") as tx:
            run_id = tx.next_run_id(big)
            changed = tx.school_accounts(big)[:2000]
            events = []
            for account in changed:
                before = {"preferred_name": account.preferred_name}
                account.preferred_name = f"Pref{rep[0]}"
                account.last_event, account.last_event_at = "update", NOW
                events.append(
                    AuditEvent(
                        NOW,
                        "bench",
                        big,
                        "update",
                        account.username,
                        before,
                        {"preferred_name": account.preferred_name},
                        run_id,
                    )
                )
            tx.put_accounts(changed)
            tx.audit_many(events)
            tx.put_run(
                Run(
                    run_id, big, "cli", "bench", status="succeeded", started_at=NOW, finished_at=NOW
                )
            )

    times = timings(commit_change, repeat)
    out["commit a 2,000-record change"] = (median(times), f"school of {n_big}")

    rng = random.Random(5)
    sample = rng.sample(store.school_accounts(schools[len(schools) // 2].dfe), 5)
    queries = iter([f"{a.forename} {a.surname}" for a in sample] * (repeat // 5 + 1))
    hits: list[int] = []

    def search() -> None:
        hits.append(len(store.search_accounts(next(queries), limit=None)))

    times = timings(search, repeat)
    out["search by name across the store"] = (
        median(times),
        f"{n_accounts:,} accounts, all {int(median(hits))} hits",
    )
    out["search, no match (whole store scanned)"] = (
        median(timings(lambda: store.search_accounts("Zzyzx Qwerty"), repeat)),
        "0 hits",
    )
    out["search, first 500 of a common surname"] = (
        median(timings(lambda: store.search_accounts("smith"), repeat)),
        "limit 500",
    )
    _why_indexes(store, schools)
    why_queries = iter([f"{a.forename} {a.surname}" for a in sample] * (repeat // 5 + 1))
    out["why: search every school's latest processed file"] = (
        median(timings(lambda: store.why_search(next(why_queries)), repeat)),
        f"{n_schools:,} schools' why.idx, {n_accounts:,} records",
    )
    other_la = schools[-1].dfe[:3]
    for count in (1, 10, 2000):
        upns, name_dobs = _wanted(store, other_la, count, rng)
        found = len(store.find_people("pupil", upns, name_dobs))
        out[f"find people across the store, {count:,} record{'s' if count > 1 else ''}"] = (
            median(timings(lambda u=upns, nd=name_dobs: store.find_people("pupil", u, nd), repeat)),
            f"{len(name_dobs):,} wanted, {found} found",
        )
    upns, name_dobs = _wanted(store, other_la, 10, rng)
    out["find people, 10 records: a process's first look (every index parsed)"] = (
        median(timings(lambda: open_store(root).find_people("pupil", upns, name_dobs), repeat)),
        f"{n_schools:,} schools' names.idx",
    )
    after = median(_looks_after_commits(store, schools, upns, name_dobs, repeat))
    out["find people, 10 records, after another school's commit"] = (
        after,
        "as in a run_due: that school's index parsed again",
    )
    out["a run_due's find_people (one look per school, each after a commit)"] = (
        after * n_schools,
        f"{n_schools:,} x the look above",
    )
    pairs: list[int] = []
    out["possible duplicates: one school's review (its LA read, near pairs weighed)"] = (
        median(timings(lambda: pairs.append(len(possible_duplicates(store, big))), repeat)),
        f"{len(la_accounts):,} accounts in its LA, {pairs[-1]} pairs",
    )
    out["possible duplicates: the whole store's review"] = (
        median(timings(lambda: pairs.append(len(possible_duplicates(store))), min(repeat, 3))),
        f"{n_accounts:,} accounts, {pairs[-1]} pairs",
    )
    return out


def _looks_after_commits(store, schools, upns, name_dobs, repeat: int) -> list[float]:
    """find_people's time, each look after a commit changing one account of another school."""
    times = []
    for look in range(repeat):
        dfe = schools[(look + 1) * len(schools) // (repeat + 1)].dfe
        with store.transaction("bench") as tx:
            account = tx.school_accounts(dfe)[0]
            account.preferred_name = f"Look{look}"
            tx.put_accounts([account])
        started = time.perf_counter()
        store.find_people("pupil", upns, name_dobs)
        times.append(time.perf_counter() - started)
    return times


def _why_indexes(store, schools) -> None:
    """Each school's why.idx as a run over its accounts would leave it (written once, beside the
    cached store: the synthetic store has no runs)."""
    from uso_tui.store.why_index import why_line  # noqa: PLC0415

    for school in schools:
        path = store.layout.why_idx(school.dfe)
        if path.exists():
            continue
        lines = [
            why_line(
                {
                    "run_id": f"{school.dfe}-r1",
                    "report": a.link_report,
                    "mis_id": a.mis_id,
                    "forename": a.forename,
                    "surname": a.surname,
                    "preferred_name": a.preferred_name,
                    "dob": a.dob,
                    "outcome": "unchanged",
                    "reason": "linked, no change",
                    "username": a.username,
                    "upn": a.extra.get("upn"),
                }
            )
            for a in store.school_accounts(school.dfe)
        ]
        path.write_bytes(b"".join(lines))


def disk_usage(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the 10k store (under 30 s)")
    parser.add_argument("--size", choices=list(SIZES), action="append")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["accounts", "directory"])
    args = parser.parse_args(argv)
    if args.only != "accounts":
        store_directory.run(args.repeat)
    if args.only == "directory":
        return 0
    sizes = ["10k"] if args.quick else (args.size or list(SIZES))
    results: dict[str, dict[str, tuple[float, str]]] = {}
    notes = []
    for size in sizes:
        root = OUT / f"store-{size}"
        spent = build(size, root)
        results[size] = measure(size, root, args.repeat)
        built = f"built in {spent:.0f} s" if spent else "cached build"
        notes.append(f"{size}: {disk_usage(root) / 1e6:.0f} MB on disk, {built}")
    ops = list(next(iter(results.values())))
    rows = []
    for op in ops:
        row: list[object] = [op]
        for size in sizes:
            seconds, note = results[size][op]
            row.append(f"{fmt_seconds(seconds)} ({note})")
        if "1.5M" in sizes and op in TARGETS_1_5M:
            ok = results["1.5M"][op][0] < TARGETS_1_5M[op]
            row.append(f"< {fmt_seconds(TARGETS_1_5M[op])}: {'met' if ok else 'MISSED'}")
        elif "1.5M" in sizes:
            row.append("")
        rows.append(row)
    headers = [f"operation (median of {args.repeat})", *sizes]
    if "1.5M" in sizes:
        headers.append("target at 1.5M")
    print_table(f"bench/store on {os.cpu_count()} cores", headers, rows)
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
