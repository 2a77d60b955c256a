"""A plan runs with the cyclic collector paused (it builds an LA's index: collections walking it
again and again took a third of the plan), and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading

from factories import OTHER, TODAY, acc, export, rec, settings, snap

from uso_tui.domain.collector import gc_paused
from uso_tui.sync.plan import plan


def _plan_seeing_the_collector() -> list[bool]:
    seen: list[bool] = []
    pool = [acc("osmith.204", "Olivia", "Smith", "2015-03-04", school=OTHER, mis_id="7")]
    snapshot = snap(pool=pool)
    looked = snapshot.pool

    def pool_of(role):
        seen.append(gc.isenabled())  # the LA's pool is read when a starter is searched
        return looked(role)

    snapshot.pool = pool_of
    plan(export(rec("p1", "Olivia", "Smyth", "2015-03-04")), snapshot, TODAY, settings())
    return seen


def test_a_plan_pauses_the_collector_and_enables_it_again():
    was = gc.isenabled()
    gc.enable()
    try:
        assert _plan_seeing_the_collector() == [False]
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()


def test_a_plan_leaves_a_paused_collector_paused():
    was = gc.isenabled()
    gc.disable()
    try:
        assert _plan_seeing_the_collector() == [False]
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_pauses_overlapping_in_two_threads_enable_it_once_both_end():
    was = gc.isenabled()
    gc.enable()
    first_in, second_done = threading.Event(), threading.Event()
    seen_after_second: list[bool] = []

    def first():
        with gc_paused():
            first_in.set()
            second_done.wait(5)
            seen_after_second.append(gc.isenabled())

    try:
        worker = threading.Thread(target=first)
        worker.start()
        first_in.wait(5)
        with gc_paused():
            assert not gc.isenabled()
        second_done.set()
        worker.join(5)
        assert seen_after_second == [False]  # the second thread's end did not enable it
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
