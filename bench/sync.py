"""bench/sync: the planner and the daily run, medians.

    python -m bench.sync [--quick] [--repeat N] [--only a,b,c]

(a) one 2,000-pupil export against a local authority of 50 schools and 50,000 accounts, fetch
    excluded: the plan of a normal school day (a few starters, leavers, movers, name changes:
    the LA index is built, lazily, for the starters) and of a school's first import (every record
    searched against the LA). Name caches are cleared before each repetition.
(b) the daily run of 300 schools and 150,000 accounts (15 local authorities) against the IRIS
    simulator in another process with 20 ms latency per request: the store is filled, a first
    daily run is made (day 0: it parses every record and keeps their fingerprints, as every run
    does), the simulator moves on one school day of churn, then each daily run of that day is
    timed beside a fetch-only run of the same reports with the same client bounds (each daily
    run follows its own fetch-only run, both after the store's copy is flushed to disk; the ratio
    is the median of those pairs). The fetch-only client runs with the bench's own objects out of
    the collector's way (gc.freeze), as a process of its own would.
(c) planning only, one school day of churn, for 3,000 schools and 1.5 million accounts (15 local
    authorities), each school's plan from its own accounts and its LA's pool.
`--quick`: (a) as is, (b) with 60 schools and (c) with 300 schools; under 60 s. `--schools N`:
(b) with N schools (30: the estate a tenth the size).

What bounds (b) here: CPU. The fetch-only run is CPU-bound in its client (HTTP, decoding and parsing
about 150,000 records: 3-4.5 s of one core on the development machine; the 20 ms latency is well under
a second of it), with the simulator on the other core, mostly idle (it serves pages it made once).
The daily run does the same fetching but parses only the records that changed
(sync/fingerprints.py), and besides reads, plans and commits each school, spread over one worker
process per core: about 2.4-2.6 times fetch-only's CPU, over both cores, hence a ratio of 1.4 to
1.5 as the machine's speed goes. This machine's cores drift in speed by a fifth or more within minutes, hence the paired runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from bench.common import fmt_seconds, median, print_table
from uso_tui.domain.models import Account, Export, School
from uso_tui.iris.datagen import advance, generate_estate
from uso_tui.iris.parse import PARSERS
from uso_tui.sync import dob_slips, evidence, matched_names, matching
from uso_tui.sync.plan import account_from_record, plan
from uso_tui.sync.plan_types import Snapshot

LA = "204"


def clear_caches() -> None:
    """Every cache of the matcher emptied: each timed plan starts as a fresh process would."""
    for module in (matching, evidence, matched_names, dob_slips):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def settings(dfe: str) -> School:
    return School(dfe=dfe, name=dfe, mis="iSAMS", url="https://x.isams.cloud", client_id="x")


def exports_of(estate, dfe: str, reports=("students", "staff")) -> dict[str, Export]:
    out = {}
    for report in reports:
        parse = PARSERS[report]
        out[report] = Export(
            report=report, records=[parse(d) for d in estate.iris_records(dfe, report)]
        )
    return out


class Accounts:
    """Day-0 accounts of an estate, in memory: one linked account per valid record."""

    def __init__(self) -> None:
        self.by_school: dict[str, list[Account]] = {}
        self.n = 0

    def add_estate(self, estate, only: set[str] | None = None) -> None:
        for school in estate.schools:
            if only is not None and school.dfe not in only:
                continue
            mine = self.by_school.setdefault(school.dfe, [])
            for exp in exports_of(estate, school.dfe).values():
                for rec in exp.records:
                    if rec.forename and rec.surname and rec.dob and rec.mis_id:
                        self.n += 1
                        mine.append(
                            account_from_record(rec, school.dfe, f"u{self.n}.{school.dfe[:3]}")
                        )

    def pool(self, la: str, role: str) -> list[Account]:
        return [
            a
            for dfe, accs in self.by_school.items()
            if dfe[:3] == la
            for a in accs
            if a.role == role
        ]


def as_rows(accounts: list[Account]) -> list[dict]:
    return orjson.loads(orjson.dumps(accounts))


def timed_plan(exp: Export, snap: Snapshot, today, dfe: str) -> float:
    clear_caches()
    gc.collect()
    t0 = time.perf_counter()
    plan(exp, snap, today, settings(dfe))
    return time.perf_counter() - t0


def bench_a(repeat: int) -> list[list[object]]:
    t0 = time.perf_counter()
    others = generate_estate(11, 49, [LA], size=1000)
    big = generate_estate(12, 1, [LA], size=2330)
    target = big.schools[0].dfe
    acc = Accounts()
    acc.add_estate(others)
    acc.add_estate(big)
    pupils = len(acc.pool(LA, "pupil"))
    total = acc.n
    advance(big, days=1)
    exp = exports_of(big, target, ("students",))["students"]
    pools = {r: acc.pool(LA, r) for r in ("pupil", "staff")}
    build = time.perf_counter() - t0
    rows = []
    # rows, as the store gives a plan (made here, outside the timing)
    daily = Snapshot(school=target, rows=as_rows(acc.by_school[target]), pool=lambda r: pools[r])
    planned = plan(exp, daily, big.today, settings(target))
    times = [timed_plan(exp, daily, big.today, target) for _ in range(repeat)]
    rows.append(
        [
            f"(a) daily plan: {len(exp.records):,}-pupil export, LA of 50 schools / {total:,} "
            f"accounts ({pupils:,} pupils)",
            fmt_seconds(median(times)),
            f"{planned.candidates_searched} records searched; created {planned.counts['created']}, "
            f"cases {planned.counts['needs_matching']}, updated {planned.counts['updated']}",
        ]
    )
    first_pool = {r: [a for a in pools[r] if a.school != target] for r in pools}
    first = Snapshot(school=target, accounts=[], pool=lambda r: first_pool[r])
    planned = plan(exp, first, big.today, settings(target))
    times = [timed_plan(exp, first, big.today, target) for _ in range(repeat)]
    rows.append(
        [
            "(a) first import: the same export, no accounts yet at the school",
            fmt_seconds(median(times)),
            f"{planned.candidates_searched:,} records searched; created {planned.counts['created']:,}, "
            f"cases {planned.counts['needs_matching']}",
        ]
    )
    print(f"  (a) data built in {build:.1f} s", file=sys.stderr)
    return rows


def bench_c(n_schools: int, repeat: int) -> list[list[object]]:
    """Every school's plan for one day of churn, sharing one index per LA across the schools (as
    run_due does), each plan from the school's own accounts."""
    from uso_tui.sync.runner import PoolCache

    t0 = time.perf_counter()
    estate = generate_estate(21, n_schools, 15, size=500)
    acc = Accounts()
    acc.add_estate(estate)
    advance(estate, days=1)
    exports = {s.dfe: exports_of(estate, s.dfe) for s in estate.schools}
    build = time.perf_counter() - t0
    print(f"  (c) {acc.n:,} accounts and exports built in {build:.1f} s", file=sys.stderr)
    stats = {}

    rows = {s.dfe: as_rows(acc.by_school[s.dfe]) for s in estate.schools}  # as the store gives

    def once() -> float:
        clear_caches()
        cache = PoolCache(lambda la, role: acc.pool(la, role))
        started = time.perf_counter()
        searched = 0
        for school in estate.schools:
            for exp in exports[school.dfe].values():
                la = school.dfe[:3]
                snap = Snapshot(
                    school=school.dfe,
                    rows=rows[school.dfe],
                    index_for=lambda role, la=la: cache.get(la, role),
                )
                planned = plan(exp, snap, estate.today, settings(school.dfe))
                searched += planned.candidates_searched
        stats["searched"] = searched
        stats["index"] = cache.build_seconds
        return time.perf_counter() - started

    times = [once() for _ in range(repeat)]
    return [
        [
            f"(c) planning only: {n_schools:,} schools, {acc.n:,} accounts, 15 LAs, one day's churn",
            fmt_seconds(median(times)),
            f"{stats['searched']:,} records searched; {fmt_seconds(stats['index'])} of it building "
            f"the 30 LA indexes; {fmt_seconds(median(times) / n_schools)} per school",
        ]
    ]


# ---------------------------------------------------------------- (b) the daily run


def cpu_seconds() -> float:
    """CPU used so far by this process and its children that have ended (the workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _serve_child(argv: list[str]) -> int:
    """Child process: the generated estate, served with latency."""
    from uso_tui.iris.server import serve  # noqa: PLC0415
    from uso_tui.iris.simulator import Simulator

    seed, schools, las, size, latency = (
        int(argv[0]),
        int(argv[1]),
        int(argv[2]),
        int(argv[3]),
        float(argv[4]),
    )
    estate = generate_estate(seed, schools, las, size=size)
    sim = Simulator.from_estate(estate)  # day 0; the bench moves it on (POST /_sim/advance)
    sim.set_switches(latency=latency)
    serve("127.0.0.1", 0, sim=sim, out=sys.stdout)
    return 0


def build_store(root: Path, estate, hostport: str) -> None:
    """A store of the estate's schools with one linked account per valid day-0 record."""
    from uso_tui.store import open_store

    store = open_store(root)
    store.set_allowed_mis_hosts([hostport])
    root_url = f"http://{hostport}"
    for generated in estate.schools:
        school = School(
            dfe=generated.dfe,
            name=generated.name,
            mis=generated.mis,
            url=f"{root_url}/{generated.dfe}",
            client_id=generated.client_id,
            daily_at="06:00",
        )
        with store.transaction("bench") as txn:
            txn.add_school(school, generated.secret)
            accounts = []
            for exp in exports_of(estate, generated.dfe).values():
                for rec in exp.records:
                    if (
                        rec.forename
                        and rec.surname
                        and rec.dob
                        and rec.mis_id
                        and not (rec.leaving_date and rec.leaving_date <= estate.today.isoformat())
                    ):
                        username = txn.new_username(rec.forename, rec.surname, generated.la)
                        accounts.append(account_from_record(rec, generated.dfe, username))
            txn.put_accounts(accounts)


def bench_b(n_schools: int, repeat: int, latency: float) -> list[list[object]]:
    import httpx

    from uso_tui.iris.client import IrisClient
    from uso_tui.store import open_store
    from uso_tui.sync.schedule import run_due

    seed, las, size = 31, 15, 500
    cmd = [
        sys.executable,
        "-m",
        "bench.sync",
        "--serve-child",
        str(seed),
        str(n_schools),
        str(las),
        str(size),
        str(latency),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        head = proc.stdout.readline()
        hostport = head.split()[3].removeprefix("http://")
        proc.stdout.readline()
        creds = {}
        for _ in range(n_schools):
            parts = proc.stdout.readline().split()
            creds[parts[0]] = parts[1]
        estate = generate_estate(seed, n_schools, las, size=size)
        tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
        t0 = time.perf_counter()
        build_store(tmp / "base", estate, hostport)
        n_accounts = sum(s.active_accounts for s in open_store(tmp / "base").list_schools())
        print(
            f"  (b) store of {n_schools} schools / {n_accounts:,} accounts built in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        schools = open_store(tmp / "base").list_schools()
        secrets = {s.dfe: open_store(tmp / "base").secret(s.dfe) for s in schools}
        day0 = datetime.combine(estate.today, datetime.min.time()).replace(hour=7)
        now = day0 + timedelta(days=1)
        # The day before: the store's first daily run, which parses every record and keeps
        # its fingerprints (sync.fingerprints), as every daily run after the first finds them.
        t0 = time.perf_counter()
        asyncio.run(run_due(open_store(tmp / "base"), day0))
        first_run = time.perf_counter() - t0
        print(f"  (b) day 0 (first) daily run {first_run:.2f} s", file=sys.stderr)
        advanced = httpx.post(f"http://{hostport}/_sim/advance?days=1", timeout=60)
        advanced.raise_for_status()

        async def fetch_only() -> float:
            async with IrisClient(allowed_hosts=frozenset({hostport})) as client:
                started = time.perf_counter()
                await asyncio.gather(
                    *(client.fetch_report(s, secrets[s.dfe], r) for s in schools for r in s.reports)
                )
                return time.perf_counter() - started

        async def daily(root: Path) -> tuple[float, dict]:
            store = open_store(root)
            started = time.perf_counter()
            results = await run_due(store, now)
            took = time.perf_counter() - started
            totals: dict[str, int] = {}
            for result in results:
                totals[result.run.status] = totals.get(result.run.status, 0) + 1
                for key, value in result.run.counts.items():
                    totals[key] = totals.get(key, 0) + value
            return took, totals

        asyncio.run(fetch_only())  # unmeasured: the simulator makes each report's pages once
        # This process holds the estate and the store's making (millions of objects): the
        # collections the fetch-only client's allocations trigger would walk them all (10-14%
        # of its time, measured), which a client process of its own would not. The daily run's
        # processes pause the collector themselves.
        gc.collect()
        gc.freeze()
        fetch_times, daily_times, totals = [], [], {}
        fetch_cpu, daily_cpu = [], []
        for run_index in range(repeat):
            work = tmp / f"run{run_index}"
            shutil.copytree(tmp / "base", work)
            # The copy's hundred megabytes on disk before timing anything: else the daily run's
            # fsyncs wait for the kernel to write them out (ext4 orders a commit after them).
            os.sync()
            c0 = cpu_seconds()
            fetch_times.append(asyncio.run(fetch_only()))
            c1 = cpu_seconds()
            took, totals = asyncio.run(daily(work))
            daily_cpu.append(cpu_seconds() - c1)  # the workers are joined (waited for) by then
            fetch_cpu.append(c1 - c0)
            daily_times.append(took)
            print(
                f"  (b) run {run_index + 1}: fetch only {fetch_times[-1]:.2f} s, daily {took:.2f} s",
                file=sys.stderr,
            )
            # Each copy is deleted at the end, not here: deleting a store's thousands of files
            # makes the next run's new files slower to create for half a minute (ext4 without
            # a journal searches past recently freed inodes), a cost no real daily run meets.
        shutil.rmtree(tmp)
    finally:
        gc.unfreeze()
        proc.terminate()
        proc.wait(timeout=10)
    fetch_median, daily_median = median(fetch_times), median(daily_times)
    # Each daily run beside the fetch-only run just before it: this machine's speed drifts by
    # a fifth within minutes, which the ratio of two medians would take for our own.
    ratio = median([dt / ft for dt, ft in zip(daily_times, fetch_times, strict=True)])
    detail = ", ".join(
        f"{k} {v:,}"
        for k, v in totals.items()
        if v
        and k
        in (
            "succeeded",
            "held",
            "failed",
            "fetched",
            "created",
            "updated",
            "unallocated",
            "needs_matching",
            "auto_linked",
            "restored",
        )
    )
    return [
        [
            f"(b) fetch only: {n_schools} schools, both reports, {latency * 1000:g} ms/request",
            fmt_seconds(fetch_median),
            "one new client, 64 connections / 4 per school",
        ],
        [
            "(b) the first daily run (day 0: every record parsed, fingerprints made)",
            fmt_seconds(first_run),
            "one run, before the pairs; not in the ratio",
        ],
        [
            f"(b) daily run (run_due) of the same {n_schools} schools / {n_accounts:,} accounts",
            fmt_seconds(daily_median),
            f"{ratio:.2f}x fetch-only (median of {repeat} paired runs; {daily_median / fetch_median:.2f}x the medians); "
            f"CPU {median(daily_cpu) / median(fetch_cpu):.2f}x fetch-only's "
            f"({median(daily_cpu):.1f} s against {median(fetch_cpu):.1f} s, the simulator's not counted); "
            f"{detail}",
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-child"]:
        return _serve_child(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.sync")
    parser.add_argument("--quick", action="store_true", help="smaller (b) and (c); under 60 s")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--schools", type=int, default=None, help="(b)'s schools (300; --quick 60)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)
    only = set(args.only.split(","))
    rows: list[list[object]] = []
    if "a" in only:
        rows += bench_a(repeat)
    if "b" in only:
        rows += bench_b(args.schools or (60 if args.quick else 300), repeat, args.latency)
    if "c" in only:
        rows += bench_c(300 if args.quick else 3000, 1 if not args.quick else 2)
    print_table(
        f"bench/sync: medians of {repeat} (os: {os.cpu_count()} cores)",
        ["case", "median", "detail"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
