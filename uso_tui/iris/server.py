"""The IRIS simulator as a real HTTP server on 127.0.0.1 (`uso-tui iris-sim`).

Every school has its own base URL, `http://HOST:PORT/<DFE>`. This is a fake server for tests,
benchmarks and the demo: it prints the demo schools' fake credentials so a person can try it
with curl; the product itself never prints a real secret.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from uso_tui.iris.datagen import DEFAULT_TODAY, generate_estate
from uso_tui.iris.simulator import Simulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # hundreds of schools connect at once in the benchmarks
    sim: Simulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as with real IRIS
    # Headers and body in one write, and no Nagle: otherwise every answer on a kept-alive
    # connection waits ~40 ms for a delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        resp = self.server.sim.handle(self.command, self.path, self.headers, body)
        if resp.delay > 0:
            time.sleep(resp.delay)
        if resp.hang > 0:
            time.sleep(resp.hang)  # longer than the client waits: it sees a read timeout
            self.close_connection = True
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: a benchmark makes tens of thousands of requests


def make_simulator(
    seed: int = 1,
    schools: int = 6,
    las: int | list[str] = 2,
    today: date = DEFAULT_TODAY,
    size: int | None = None,
) -> Simulator:
    """The demo estate: `schools` schools over `las` local authorities."""
    return Simulator.from_estate(generate_estate(seed, schools, las, today=today, size=size))


def start_background(
    sim: Simulator | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    seed: int = 1,
    schools: int = 6,
) -> tuple[str, Callable[[], None]]:
    """Serves `sim` (or a generated demo estate) in a background thread.

    Returns the server's root URL (`http://127.0.0.1:PORT`; a school's base URL is that plus
    `/<DFE>`) and a callable that stops the server. port=0 picks a free port.
    """
    server = _Server((host, port), _Handler)
    server.sim = sim or make_simulator(seed, schools)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="iris-sim", daemon=True
    )
    thread.start()
    real_host, real_port = server.server_address[:2]

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{real_host}:{real_port}", stop


def describe(sim: Simulator, root: str, out: TextIO) -> None:
    out.write(f"IRIS simulator at {root}  (day {sim.estate.day if sim.estate else 0})\n")
    out.write(f"Allow it with USO_TUI_ALLOWED_MIS_HOSTS={root.removeprefix('http://')}\n")
    for s in sim.schools:
        out.write(
            f"  {s.dfe}  {root}/{s.dfe}  client id {s.client_id}  "
            f"secret (fake, simulator only) {s.secret}  {s.name}\n"
        )
    # after the schools: scripts read the header lines, then one line per school
    out.write(f"Next day: curl -X POST {root}/_sim/advance  (status: {root}/_sim/status)\n")
    out.flush()


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed: int = 1,
    schools: int = 6,
    *,
    sim: Simulator | None = None,
    out: TextIO | None = None,
) -> None:
    """Serves until interrupted (Ctrl-C)."""
    out = out or sys.stdout
    sim = sim or make_simulator(seed, schools)
    server = _Server((host, port), _Handler)
    server.sim = sim
    real_host, real_port = server.server_address[:2]
    describe(sim, f"http://{real_host}:{real_port}", out)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str]) -> int:
    """`uso-tui iris-sim [--host H] [--port P] [--seed N] [--schools N] [--las N] [--size N]
    [--latency S] [--max-page-size N] [--days N]`: serves until Ctrl-C."""
    p = argparse.ArgumentParser(prog="uso-tui iris-sim", description="Serve the IRIS simulator.")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    p.add_argument("--schools", type=int, default=6, help="how many schools (default 6)")
    p.add_argument("--las", type=int, default=2, help="how many local authorities (default 2)")
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="people per school (default: primary 50-450, secondary 600-3,000)",
    )
    p.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every answer (default 0)"
    )
    p.add_argument(
        "--max-page-size", type=int, default=None, help="at most this many records per page"
    )
    p.add_argument(
        "--days",
        type=int,
        default=0,
        help="start this many days after day 0 (POST /_sim/advance moves on later)",
    )
    args = p.parse_args(argv)
    if args.days < 0:
        p.error("--days must be 0 or more")
    if args.schools < 1 or args.las < 1:
        p.error("--schools and --las must be at least 1")
    if args.size is not None and args.size < 2:
        p.error("--size must be at least 2")
    sim = make_simulator(args.seed, args.schools, args.las, size=args.size)
    if args.days:
        sim.advance(days=args.days)
    if args.latency:
        sim.set_switches(latency=args.latency)
    if args.max_page_size:
        sim.set_switches(max_page_size=args.max_page_size)
    try:
        serve(args.host, args.port, sim=sim)
    except OSError as exc:
        print(
            f"uso-tui iris-sim: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
