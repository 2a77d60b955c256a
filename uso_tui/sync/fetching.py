"""Fetching a school's reports from its MIS, all at once, with progress and a cancel."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from uso_tui.domain.models import Export, School
from uso_tui.sync.events import ProgressEmitter
from uso_tui.sync.fingerprints import Sieve


class Cancelled(Exception):
    """A cancel arrived in time: raised while fetching, or inside the apply transaction to
    discard it."""


CANCEL_POLL = 0.05  # seconds between looks at an operator's cancel


async def fetch_reports(
    client,
    school: School,
    secret: str,
    reports: list[str],
    progress: ProgressEmitter,
    *,
    cancel: threading.Event | None = None,
    sieves: dict[str, Sieve] | None = None,
) -> dict[str, Export]:
    """Each report's export, fetched concurrently; Cancelled as soon as `cancel` is set."""

    async def one(report: str) -> tuple[str, Export]:
        def on_page(done: int, total: int | None, records: int) -> None:
            progress("fetching", report, pages_done=done, pages_total=total, records_done=records)

        def on_event(message: str) -> None:
            progress("fetching", report, message=message)

        progress("fetching", report)
        sieve = sieves.get(report) if sieves else None
        exp = await client.fetch_report(
            school, secret, report, on_page=on_page, on_event=on_event, sieve=sieve
        )
        return report, exp

    # One task a report: the first to fail ends the others at once (the run has failed; they
    # would go on loading the MIS and holding request slots for nothing).
    tasks = [asyncio.ensure_future(one(r)) for r in reports]
    try:
        while True:
            done, pending = await asyncio.wait(
                tasks,
                timeout=CANCEL_POLL if cancel is not None else None,
                return_when=asyncio.FIRST_EXCEPTION,
            )
            for task in tasks:
                if task in done and not task.cancelled() and (error := task.exception()):
                    raise error
            if not pending:
                return dict(task.result() for task in tasks)
            if cancel is not None and cancel.is_set():
                raise Cancelled
    finally:
        for task in tasks:  # each failure read (a second one left unread is printed at exit)
            if task.done() and not task.cancelled():
                task.exception()
        left = [task for task in tasks if not task.done()]
        for task in left:
            task.cancel()
        if left:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*left, return_exceptions=True)


def error_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none), for a run's log."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
