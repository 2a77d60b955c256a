"""fetch_reports: a school's reports fetched at once, and ended together."""

from __future__ import annotations

import asyncio
import threading

import pytest

from uso_tui.domain.models import Export, School
from uso_tui.iris.errors import IrisError
from uso_tui.sync.events import ProgressEmitter
from uso_tui.sync.fetching import Cancelled, fetch_reports

SCHOOL = School(dfe="204-1", name="Oak", mis="iSAMS", url="https://x.isams.cloud", client_id="c")


class Client:
    """Students fail at once (or answer), staff waits until it is ended (or released)."""

    def __init__(self, students_fail: bool = True) -> None:
        self.students_fail = students_fail
        self.staff_ended = False
        self.release = asyncio.Event()

    async def fetch_report(self, school, secret, report, **kw) -> Export:
        if report == "students":
            await asyncio.sleep(0)
            if self.students_fail:
                raise IrisError("students: HTTP 500", school=school.dfe)
            return Export(report=report, records=[])
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.staff_ended = True
            raise
        return Export(report=report, records=[])


def fetch(client, cancel=None):
    progress = ProgressEmitter("r1", SCHOOL.dfe, None)
    return fetch_reports(client, SCHOOL, "s", ["students", "staff"], progress, cancel=cancel)


async def test_the_first_report_to_fail_ends_the_others() -> None:
    client = Client()
    with pytest.raises(IrisError, match="HTTP 500"):
        await asyncio.wait_for(fetch(client), timeout=10)
    assert client.staff_ended  # not left loading the MIS after the run has failed


async def test_a_cancel_ends_every_report() -> None:
    client, cancel = Client(students_fail=False), threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        await asyncio.wait_for(fetch(client, cancel), timeout=10)
    assert client.staff_ended


async def test_every_report_fetched_is_returned() -> None:
    client = Client(students_fail=False)
    client.release.set()
    got = await asyncio.wait_for(fetch(client), timeout=10)
    assert set(got) == {"students", "staff"}


async def test_every_report_s_failure_is_read_not_left_for_asyncio_to_print() -> None:
    class BothFail(Client):
        async def fetch_report(self, school, secret, report, **kw) -> Export:
            await asyncio.sleep(0)
            raise IrisError(f"{report}: refused", school=school.dfe)

    loop = asyncio.get_running_loop()
    unread: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    with pytest.raises(IrisError):
        await fetch(BothFail())
    import gc

    gc.collect()  # an exception never read is reported when its task is collected
    await asyncio.sleep(0)
    assert not unread
