"""Is the process that put a "running" run still alive? (pid + host + process start time, so a
recycled pid does not keep a dead run alive.)"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from typing import Any

INTERRUPTED = "interrupted: the process running it ended before it finished"

# Runs this process claimed and then could not record as ended (a full disk): it is alive, so
# its pid says nothing, but it runs them no more. Its own reads count them interrupted, so its
# next claim of the school (a force run again, the scheduler's next day) replaces them. (By run
# id: a process works on one store.)
_abandoned: set[str] = set()


def abandon(run_id: str) -> None:
    _abandoned.add(run_id)


def _stat(pid: int) -> list[bytes] | None:
    """/proc/PID/stat after the command name: [state, ppid, ...] (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, else None."""
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (ValueError, IndexError):
        return None


@lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def identity() -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "host": _host(), "process_start": _start_time(pid)}


def process_alive(pid: int, start: int | None = None) -> bool:
    """Whether process `pid` is running (not gone, not a zombie); `start`, its start time when
    known, tells a recycled pid from it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc: the pid exists, trust it
    if fields[0] in (b"Z", b"X"):
        return False  # killed, not yet reaped
    # A different start time means the pid was recycled by another process.
    return start is None or len(fields) <= 19 or fields[19] == str(start).encode()


def is_stale(run: dict[str, Any]) -> bool:
    """A "running" run whose process is known to be gone. Another host's run cannot be checked
    from here and counts as alive."""
    if run.get("status") != "running" or not run.get("pid"):
        return False
    if run.get("run_id") in _abandoned and int(run["pid"]) == os.getpid():
        return True
    if run.get("host") and run["host"] != _host():
        return False
    return not process_alive(int(run["pid"]), run.get("process_start"))


def mark_interrupted(run: dict[str, Any]) -> dict[str, Any]:
    out = dict(run)
    out["status"] = "failed"
    out["error"] = INTERRUPTED
    return out
