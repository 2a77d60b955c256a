"""bench/cli: `uso-tui accounts --search` end to end, as an operator types it.

    python -m bench.cli [--repeat N] [--size 100k|1.5M] [--store SIZE=DIR]

Each figure is a fresh process (`uso-tui --data-dir DIR accounts --search TEXT [--json]`, its
output thrown away) timed from start to exit: the interpreter, the imports, the search of every
school's names index and the reading of the found accounts. The stores are bench/store's (build
them with `python -m bench.store --size SIZE` first); `--store` points at another copy, e.g. one
upgraded to this version's schema. Searches: a common surname (the first 500 of thousands shown),
one person by name and year of birth (every index read to the end), a forename and a year (hits in
hundreds of schools), each plain and with --json; `accounts --help` for the cost of starting
at all.
Prints the median (and the fastest) of each, and every sample. Target: under 0.5 s at 1.5M.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import fmt_seconds, median, print_table

OUT = Path(__file__).parent / "out"
SIZES = ("100k", "1.5M")
TARGET_1_5M = 0.5
SEARCHES = {
    "common surname": "smith",
    "one person: name and year": "oscar clarke 1971",
    "forename and year": "oscar 2009",
}


def command() -> list[str]:
    """The console script beside this interpreter (what an operator runs), else `-m uso_tui`."""
    script = Path(sys.executable).parent / "uso-tui"
    if script.exists():
        return [str(script)]
    found = shutil.which("uso-tui")
    return [found] if found else [sys.executable, "-m", "uso_tui"]


def cases() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("start only (accounts --help)", ["accounts", "--help"])]
    for label, text in SEARCHES.items():
        for json in (False, True):
            args = ["accounts", "--search", text] + (["--json"] if json else [])
            out.append((f"{label} ({text!r}){' --json' if json else ''}", args))
    return out


# As installed: byte code compiled (the warm-up run writes what is missing or out of date).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV, check=False
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def store_problem(root: Path) -> str | None:
    """Why a store cannot be searched by this uso-tui (not built, or an older schema), or None."""
    if not (root / "store.json").exists():
        return f"no store at {root}: build it with python -m bench.store --size ..."
    from uso_tui.store import open_store  # noqa: PLC0415
    from uso_tui.store.api import StoreError  # noqa: PLC0415

    try:
        open_store(root)
    except StoreError as exc:
        return f"{root}: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", choices=SIZES, action="append")
    parser.add_argument(
        "--store", action="append", default=[], metavar="SIZE=DIR", help="another store's copy"
    )
    args = parser.parse_args(argv)
    roots = {size: OUT / f"store-{size}" for size in SIZES}
    for given in args.store:
        size, _, folder = given.partition("=")
        if size not in roots or not folder:
            parser.error(f"--store takes SIZE=DIR with SIZE one of {', '.join(SIZES)}")
        roots[size] = Path(folder)
    sizes = args.size or list(SIZES)
    for size in sizes:
        problem = store_problem(roots[size])
        if problem:
            print(problem, file=sys.stderr)
            return 1
    base = command()
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for size in sizes:
        for label, extra in cases():
            argv = [*base, "--data-dir", str(roots[size]), *extra]
            run_once(argv)  # warm up: the store in the page cache, the byte code written
            samples[size, label] = [run_once(argv) for _ in range(args.repeat)]
    rows = []
    for label, _ in cases():
        row: list[object] = [label]
        for size in sizes:
            walls = [w for w, _ in samples[size, label]]
            cpus = [c for _, c in samples[size, label]]
            row.append(
                f"{fmt_seconds(median(walls))} (min {fmt_seconds(min(walls))}, "
                f"cpu {fmt_seconds(median(cpus))})"
            )
        if "1.5M" in sizes:
            met = median([w for w, _ in samples["1.5M", label]]) < TARGET_1_5M
            row.append(f"< {fmt_seconds(TARGET_1_5M)}: {'met' if met else 'MISSED'}")
        rows.append(row)
    headers = [f"uso-tui ... (median of {args.repeat} fresh processes)", *sizes]
    if "1.5M" in sizes:
        headers.append("target at 1.5M")
    print_table(
        f"bench/cli on {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", headers, rows
    )
    print("every sample, wall-clock seconds:")
    for (size, label), runs in samples.items():
        print(f"  {size} {label}: " + " ".join(f"{w:.3f}" for w, _ in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
