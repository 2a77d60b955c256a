"""bench/iris: the IRIS client against the simulator over a real socket, 20 ms per request.

    python -m bench.iris [--quick] [--repeat N] [--latency S]

The simulator runs in its own process (`uso-tui iris-sim`, so its threads do not share our GIL),
adding the latency to every request. Prints medians of: fetching one 3,000-record report (pages of
500, then with the server capping pages at 100: pages go in parallel, up to 4 per school); and 300
schools fetched concurrently (both reports each; 500 people a school, 200 with --quick), total
time and requests per second; then the data generator: 3,000 schools x 500 people (300 with
--quick), one day of churn, and every report as IRIS JSON. Every
repetition uses a new client: new tokens and new connections, as a daily run does.
`--quick` finishes in under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

from bench.common import fmt_seconds, median, print_table
from uso_tui.domain.models import School
from uso_tui.iris.client import IrisClient
from uso_tui.iris.datagen import REPORTS, advance, generate_estate

REPORT_RECORDS = 3000


class Sim:
    """`uso-tui iris-sim` in a child process on a free port."""

    def __init__(
        self,
        *,
        schools: int,
        size: int,
        latency: float,
        las: int = 1,
        max_page_size: int | None = None,
        seed: int = 1,
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "uso_tui.iris.server",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--schools",
            str(schools),
            "--las",
            str(las),
            "--size",
            str(size),
            "--latency",
            str(latency),
        ]
        if max_page_size:
            cmd += ["--max-page-size", str(max_page_size)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        head = self.proc.stdout.readline()
        if not head.startswith("IRIS simulator at "):
            self.close()
            raise RuntimeError(f"simulator did not start: {head!r}")
        self.root = head.split()[3]
        self.proc.stdout.readline()  # the USO_TUI_ALLOWED_MIS_HOSTS hint
        self.schools: list[tuple[School, str]] = []
        for _ in range(schools):
            parts = self.proc.stdout.readline().split()
            dfe, url, client_id, secret = parts[0], parts[1], parts[4], parts[9]
            school = School(dfe=dfe, name=dfe, mis="iSAMS", url=url, client_id=client_id)
            self.schools.append((school, secret))

    @property
    def hostport(self) -> str:
        return self.root.removeprefix("http://")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def size_for_students(seed: int, students: int) -> int:
    """People per school so that school 0 of the estate has exactly `students` pupils."""
    phase = generate_estate(seed, 1, 1, size=2, issues=False).schools[0].phase
    share = 0.14 if phase == "primary" else 0.11
    size = students
    while size - max(1, round(size * share)) < students:
        size += 1
    return size


async def fetch_all(sim: Sim, reports: tuple[str, ...]) -> tuple[float, int, int]:
    """(seconds, requests, records) for every school of `sim`, all at once, with a new client."""
    pages = 0
    records = 0

    def on_page(done: int, total: int | None, so_far: int) -> None:
        nonlocal pages
        pages += 1

    async with IrisClient(allowed_hosts=frozenset({sim.hostport})) as client:
        t0 = time.perf_counter()
        exports = await asyncio.gather(
            *(
                client.fetch_report(school, secret, report, on_page=on_page)
                for school, secret in sim.schools
                for report in reports
            )
        )
        elapsed = time.perf_counter() - t0
    records = sum(len(e.records) for e in exports)
    return elapsed, pages + len(sim.schools), records  # one token per school


def run_case(label: str, sim: Sim, reports: tuple[str, ...], repeat: int) -> list[object]:
    results = [asyncio.run(fetch_all(sim, reports)) for _ in range(repeat)]
    elapsed = median([r[0] for r in results])
    requests, records = results[0][1], results[0][2]
    return [label, f"{records:,}", requests, fmt_seconds(elapsed), f"{requests / elapsed:,.0f}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iris")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under 30 s)")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request (0.02)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    ms = f"{args.latency * 1000:g} ms"
    rows: list[list[object]] = []

    size = size_for_students(1, REPORT_RECORDS)
    for cap in (None, 100):
        sim = Sim(schools=1, size=size, latency=args.latency, max_page_size=cap)
        try:
            label = f"one {REPORT_RECORDS:,}-record report, pages of {cap or 500}"
            rows.append(run_case(label, sim, ("students",), repeat))
        finally:
            sim.close()

    n_schools = 300
    # --quick: smaller schools (the same 3 requests each), to finish in under 30 s
    people = 200 if args.quick else 500
    for cap in (None,) if args.quick else (None, 100):
        sim = Sim(schools=n_schools, size=people, las=15, latency=args.latency, max_page_size=cap)
        try:
            label = f"{n_schools} schools x {people} people at once, pages of {cap or 500}"
            rows.append(run_case(label, sim, ("students", "staff"), repeat))
        finally:
            sim.close()

    # The data generator the benchmarks and tests stand on (one run each: it is deterministic).
    n_gen = 300 if args.quick else 3000
    t0 = time.perf_counter()
    estate = generate_estate(1, n_gen, 15, size=500)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    churn = advance(estate, days=1)
    t_adv = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_json = sum(len(estate.iris_records(s.dfe, r)) for s in estate.schools for r in REPORTS)
    t_json = time.perf_counter() - t0
    gen_rows = [
        [
            f"generate {n_gen:,} schools x 500 people",
            f"{estate.size:,} records",
            fmt_seconds(t_gen),
        ],
        ["advance one day (churn)", f"{len(churn):,} changes", fmt_seconds(t_adv)],
        ["every report as IRIS JSON dicts", f"{n_json:,} records", fmt_seconds(t_json)],
    ]
    del estate

    print_table(
        f"bench/iris: medians of {repeat}, simulator in another process, {ms} per request, "
        "client bounds 64 connections / 4 per school",
        ["fetch", "records", "requests", "time", "requests/s"],
        rows,
    )
    print()
    print_table(
        "bench/iris: the data generator (uso_tui.iris.datagen)", ["step", "size", "time"], gen_rows
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
