"""What restoring unallocated accounts warns of, looked up in one place for the console's
question and the command line's notes: the person's other active accounts, the open cases that
offer an account (matched there rather than restored), and the people on their school's
exclusion list (never relinked)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from uso_tui.domain.models import Account, Exclusion, MatchCase
from uso_tui.store.api import Store


class RestoreLook(NamedTuple):
    hits: list[Any]  # duplicates.also_active's AccountHits
    offers: list[tuple[str, MatchCase, Any]]  # case_offers.offering's (username, case, score)
    excluded: list[tuple[str, str, Exclusion]]  # excluded_people.excluded_at_home's

    def warns(self) -> bool:
        return bool(self.hits or self.offers or self.excluded)


def restore_look(store: Store, accounts: Iterable[Account]) -> RestoreLook:
    from uso_tui.sync.case_offers import offering  # noqa: PLC0415
    from uso_tui.sync.duplicates import also_active  # noqa: PLC0415
    from uso_tui.sync.excluded_people import excluded_at_home  # noqa: PLC0415

    accounts = list(accounts)
    return RestoreLook(
        also_active(store, accounts), offering(store, accounts), excluded_at_home(store, accounts)
    )
