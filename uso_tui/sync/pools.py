"""Candidate indexes shared by the runs of one run_due."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from uso_tui.domain.models import ROLES
from uso_tui.domain.schools import la_of
from uso_tui.sync.matching import CandidateIndex

BUILD_WAIT = 30.0  # seconds a thread waits for another's build of the same index


class PoolCache:
    """Candidate indexes per local authority and role, shared by the runs of one run_due.

    Loading a local authority's accounts and indexing them costs far more than planning a
    school's day, and every school with a starter needs it: run_due builds each index once (from
    the store, under the lock, when a school first needs it) and adds every account its own runs
    write. Changes other processes commit meanwhile (an operator's decision in the console) are
    not seen by the index: it only proposes candidates for an operator to judge; automatic
    decisions use the school's own accounts, read fresh under the lock."""

    def __init__(self, loader: Callable[[str, str], list] | None = None) -> None:
        self._loader = loader
        self._indexes: dict[tuple[str, str], CandidateIndex] = {}
        self._building: dict[tuple[str, str], threading.Event] = {}
        self._everyone: dict[str, list] = {}  # see accounts_of
        # la -> the accounts committed here since its load began whose role's index was not yet
        # built: accounts_of gives them in their new state (the load is older than they are)
        self._since: dict[str, list] = {}
        self._copied: dict[tuple[str, str], int] = {}  # (la, role) -> how many of _since[la]
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.build_seconds = 0.0
        self.builds = 0

    def get(self, la: str, role: str, loader: Callable[[], list] | None = None) -> CandidateIndex:
        key = (la, role)
        mine: threading.Event | None = None
        while mine is None:
            with self._lock:
                idx = self._indexes.get(key)
                if idx is not None:
                    return idx
                pending = self._building.get(key)
                if pending is None:
                    mine = self._building[key] = threading.Event()
                    break
            # Another thread is building it: wait rather than build the same index again (the
            # first schools of a run_due all want their LA's index at once). The wait is bounded:
            # the builder reads the store, and a reader can wait on a commit in progress.
            if not pending.wait(BUILD_WAIT):
                break
        # Built without holding the lock: the loader reads the store, which may wait for a
        # commit whose thread wants this cache (a deadlock if the lock were held).
        started = time.perf_counter()
        try:
            accounts = loader() if loader is not None else self._loader(la, role)  # type: ignore[misc]
            built = CandidateIndex(accounts)
            with self._lock:
                # committed here while it was built from accounts_of: in it too
                copied = self._copied.pop(key, None)
                if copied is not None:
                    for account in self._since.get(la, [])[copied:]:
                        if account.role == role:
                            built.add(account)
                idx = self._indexes.setdefault(key, built)
                if all((la, r) in self._indexes for r in ROLES):
                    self._since.pop(la, None)  # both built: update() reaches them
                self.build_seconds += time.perf_counter() - started
                self.builds += 1
            return idx
        finally:
            if mine is not None:
                with self._lock:
                    self._building.pop(key, None)
                mine.set()  # waiters look again (and build it themselves if this build failed)

    def accounts_of(self, la: str, role: str, load: Callable[[str, None], list]) -> list:
        """The LA's accounts of a role, from one load of all its accounts (`load(la, None)`)
        shared by the indexes of both roles: each school file of the LA is read once."""
        with self._lock:
            loading = self._loading.get(la)
            if loading is None:
                loading = self._loading[la] = threading.Lock()
                self._since[la] = []  # (from before the load: an account twice is added once)
        with loading:  # one thread loads, the other role's builder waits for it
            everyone = self._everyone.get(la)
            if everyone is None:
                everyone = self._everyone[la] = load(la, None)
        with self._lock:
            held = self._since.get(la, [])
            since = {a.username: a for a in held if a.role == role}
            # get() adds those committed after (the earliest copy, if a slow build was started
            # again beside it: an account twice is added once)
            self._copied[(la, role)] = min(self._copied.get((la, role), len(held)), len(held))
        mine = [a for a in everyone if a.role == role]
        if since:  # committed here since the load (newest last): in their new state
            mine = [a for a in mine if a.username not in since] + list(since.values())
        return mine

    def update(self, accounts: list) -> None:
        """Accounts committed by this process: their new state replaces the old in the index."""
        with self._lock:
            for account in accounts:
                home = account.home
                if not home:
                    continue
                la = la_of(home)
                idx = self._indexes.get((la, account.role))
                if idx is not None:
                    idx.add(account)
                elif la in self._since:  # loaded, and this role's index not yet built from it
                    self._since[la].append(account)
