"""An account by its username, for the store and a transaction alike: refused, if unknown,
naming the username meant when only its case differs (usernames are kept as made:
`ETAYLOR.204` typed for etaylor.204)."""

from __future__ import annotations

from collections.abc import Iterable

from uso_tui.domain.models import Account
from uso_tui.store.errors import UnknownAccount
from uso_tui.store.layout import la_of_username


class AccountsByName:
    """TinyStore's and TinyTransaction's `account` (each keeps find_account and la_usernames)."""

    def find_account(self, username: str) -> Account | None:
        raise NotImplementedError

    def la_usernames(self, la: str) -> Iterable[str]:
        raise NotImplementedError

    def account(self, username: str) -> Account:
        found = self.find_account(username)
        if found is None:
            raise UnknownAccount(f"unknown account {username!r}{self._spelt(username)}")
        return found

    def _spelt(self, username: str) -> str:
        """How an unknown username is spelt in the store, if only its case differs."""
        folded = username.strip().casefold()
        for name in self.la_usernames(la_of_username(folded)):
            if name.casefold() == folded:
                return f" (did you mean {name}?)"
        return ""
