"""The IRIS simulator as a real HTTP server on 127.0.0.1 (`uso-tui iris-sim`).

Every school has its own base URL, `http://HOST:PORT/<DFE>`. This is a fake server for tests,
benchmarks and the demo: it prints the demo schools' fake credentials so a person can try it
with curl; the product itself never prints a real secret.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import threading
import typing
from collections.abc import Callable
from datetime import date
from http import HTTPStatus
from typing import TextIO

from uso_tui.domain.errors import InvalidInput
from uso_tui.iris.datagen import DEFAULT_TODAY, generate_estate
from uso_tui.iris.simulator import Simulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Headers(dict):
    """A request's headers, looked up whatever their case (as http.server's are)."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


MAX_BODY = 1 << 20  # request bodies are token requests: a few hundred bytes


class _Server:
    """HTTP/1.1 with keep-alive on one asyncio loop: every connection a task, a latency a sleep
    that costs nothing (a thread per connection would spend the CPU that the client a benchmark
    measures shares with it)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.tasks: set[asyncio.Task] = set()

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._connection, host, port, backlog=512)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server stopping
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answers one request; False when the connection is to be closed."""
        line = await reader.readline()
        if not line.strip():
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._write(writer, "GET", 400, b'{"error":"bad_request"}', {}, close=True)
            return False
        method, target, version = parts
        headers = _Headers()
        while True:
            header_line = await reader.readline()
            if header_line in (b"\r\n", b"\n", b""):
                break
            key, _, value = header_line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._write(writer, method, 400, b'{"error":"bad_request"}', {}, close=True)
            return False
        body = await reader.readexactly(length) if length else b""
        resp = self.sim.handle(method, target, headers, body)
        await resp.wait()
        if resp.hang > 0:
            await asyncio.sleep(resp.hang)  # longer than the client waits: it sees a timeout
            return False
        close = (headers.get("connection") or "").lower() == "close" or version == "HTTP/1.0"
        self._write(writer, method, resp.status, resp.body, resp.headers, close)
        await writer.drain()
        return not close

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter,
        method: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        close: bool,
    ) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        head = [f"HTTP/1.1 {status} {reason}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if method != "HEAD":
            writer.write(body)

    async def close_connections(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    """Serves `sim` (or a generated demo estate) from a background thread.

    Returns the server's root URL (`http://127.0.0.1:PORT`; a school's base URL is that plus
    `/<DFE>`) and a callable that stops the server. port=0 picks a free port.
    """
    server = _Server(sim or make_simulator(seed, schools))
    loop = asyncio.new_event_loop()
    started: dict[str, object] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started["server"] = loop.run_until_complete(server.start(host, port))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            started["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()
        started["server"].close()  # type: ignore[attr-defined]
        loop.run_until_complete(server.close_connections())
        loop.close()

    thread = threading.Thread(target=run, name="iris-sim", daemon=True)
    thread.start()
    ready.wait()
    if "error" in started:
        raise started["error"]  # type: ignore[misc]
    real_host, real_port = started["server"].sockets[0].getsockname()[:2]  # type: ignore[attr-defined]

    def stop() -> None:
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    return f"http://{real_host}:{real_port}", stop


def describe(sim: Simulator, root: str, out: TextIO) -> None:
    out.write(f"IRIS simulator at {root}  (day {sim.estate.day if sim.estate else 0})\n")
    out.write(f"Allow it with USO_TUI_ALLOWED_MIS_HOSTS={root.removeprefix('http://')}\n")
    for school in sim.schools:
        out.write(
            f"  {school.dfe}  {root}/{school.dfe}  client id {school.client_id}  "
            f"secret (fake, simulator only) {school.secret}  --mis {school.mis}  {school.name}\n"
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
    server = _Server(sim or make_simulator(seed, schools))

    async def forever() -> None:
        listening = await server.start(host, port)
        real_host, real_port = listening.sockets[0].getsockname()[:2]
        describe(server.sim, f"http://{real_host}:{real_port}", out)
        try:
            await asyncio.Event().wait()
        finally:
            listening.close()
            await server.close_connections()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(forever())


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


# What the simulator's settings may be: beyond these the estate would not fit in memory, or a day
# past year 9999, or an answer never come (each refused, said so, rather than a hang or a crash).
LIMITS = {
    "schools": (1, 5_000),
    "las": (1, 500),
    "size": (2, 20_000),
    "days": (0, 3_650),
    "max_page_size": (1, 100_000),
}
MAX_LATENCY_S = 60.0


class _Parser(argparse.ArgumentParser):
    """Its usage errors one line, as every other command's (uso-tui: error: ...), exit 2."""

    def error(self, message: str) -> typing.NoReturn:
        raise InvalidInput(f"iris-sim: {message}")


def _checked(args: argparse.Namespace) -> None:
    for name, (least, most) in LIMITS.items():
        value = getattr(args, name)
        if value is not None and not least <= value <= most:
            flag = "--" + name.replace("_", "-")
            raise InvalidInput(f"iris-sim: {flag} must be from {least:,} to {most:,}, not {value}")
    if not (math.isfinite(args.latency) and 0 <= args.latency <= MAX_LATENCY_S):
        raise InvalidInput(
            f"iris-sim: --latency must be from 0 to {MAX_LATENCY_S:g} seconds, not {args.latency}"
        )


def main(argv: list[str]) -> int:
    """`uso-tui iris-sim [--host H] [--port P] [--seed N] [--schools N] [--las N] [--size N]
    [--latency S] [--max-page-size N] [--days N] [--today YYYY-MM-DD]`: serves until Ctrl-C."""
    parser = _Parser(prog="uso-tui iris-sim", description="Serve the IRIS simulator.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1, help="data generator seed (default 1)")
    parser.add_argument("--schools", type=int, default=6, help="how many schools (default 6)")
    parser.add_argument("--las", type=int, default=2, help="how many local authorities (default 2)")
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="people per school (default: primary 50-450, secondary 600-3,000)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every answer (default 0)"
    )
    parser.add_argument(
        "--max-page-size", type=int, default=None, help="at most this many records per page"
    )
    parser.add_argument(
        "--days",
        type=int,
        default=0,
        help="start this many days after day 0 (POST /_sim/advance moves on later)",
    )
    parser.add_argument(
        "--today",
        type=_day,
        default=None,
        help="the estate's day 0, YYYY-MM-DD (default: today, as the demo: the starters and "
        "leavers it dates fall about the store's own today)",
    )
    given: set[str] = set()
    for word in argv:  # as every other command: the last of two silently won
        option = word.split("=", 1)[0]
        if option.startswith("--") and option in given:
            parser.error(f"{option} is given twice: give it once")
        given.add(option)
    args = parser.parse_args(argv)
    _checked(args)
    today = args.today or date.today()
    sim = make_simulator(args.seed, args.schools, args.las, today=today, size=args.size)
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
