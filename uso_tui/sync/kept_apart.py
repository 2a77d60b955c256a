"""Pairs kept as different people (sync.duplicates.keep_both): listing them, and taking one back.

A keep hides a pair from the duplicates review for good, so a keep made by mistake (two accounts
of one person) would hide a real duplicate for good too. The operator can list the kept pairs,
with who kept them and when, and take one back: the pair is listed for review again, as if it
had never been kept. Audited on each account, as the keep was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from uso_tui.domain.models import Account
from uso_tui.domain.schools import check_dfe
from uso_tui.store.api import Store
from uso_tui.sync.access import require
from uso_tui.sync.apply import event
from uso_tui.sync.duplicates import pair_key, possible_duplicates, still_kept, two_usernames
from uso_tui.sync.runner import iso


@dataclass(frozen=True, slots=True)
class KeptPair:
    """A pair kept apart: its usernames (sorted), its accounts as stored (None for one the store
    no longer holds), and who kept it when."""

    usernames: tuple[str, str]
    accounts: tuple[Account | None, Account | None]
    by: str
    at: str
    # what the two held when kept has changed since: the review lists the pair again, if the
    # two still look alike (`listed`: another UPN each now, say, and they are not)
    changed: bool = False
    listed: bool = False

    @property
    def words(self) -> str:
        """What the lists of kept pairs say of a pair changed since ("" if not changed)."""
        if not self.changed:
            return ""
        return CHANGED_WORDS if self.listed else CHANGED_NOT_LISTED

    def public(self) -> dict[str, Any]:
        return {  # `accounts` as `duplicates --json` gives a pair's
            "accounts": list(self.usernames),
            "changed_since_kept": self.changed,
            "listed_again": self.listed,
            "account_details": [
                a.public() if a is not None else {"username": u}
                for u, a in zip(self.usernames, self.accounts, strict=True)
            ],
            "kept_by": self.by,
            "kept_at": self.at,
        }


def _at(account: Account | None, dfe: str) -> bool:
    return account is not None and dfe in (
        account.school,
        account.previous_school,
        account.link_school,
    )


# what the lists of kept pairs say of one whose accounts changed since (CHANGED_SINCE_KEPT)
CHANGED_WORDS = "their names, date of birth or UPN have changed since: the review lists them again"
# ... and of one changed so that the two no longer look alike (it said "lists them again" of a
# pair given two different UPNs, which the review never lists)
CHANGED_NOT_LISTED = (
    "their names, date of birth or UPN have changed since, and the review no longer finds them "
    "alike: it does not list them"
)


def kept_apart(store: Store, dfe: str | None = None) -> list[KeptPair]:
    """The pairs kept as different people, newest first; with `dfe`, those with an account at
    that school (or last there, or made there)."""
    if dfe is not None:
        dfe = check_dfe(dfe)
        store.school(dfe)  # an unknown school is refused, not an empty list
    rows = store.kept_rows()
    found = store.find_accounts({u for row in rows for u in (row["a"], row["b"])})
    reviews: dict[str, set[tuple[str, str]]] = {}  # school -> the pairs its review lists

    def listed(first: Account | None, second: Account | None) -> bool:
        """Whether the review lists the pair (weighed in its LA's pool, as it is: two alone
        make a common name look rare)."""
        if first is None or second is None or not first.school:
            return False
        if first.school not in reviews:
            found_there = possible_duplicates(store, first.school)
            reviews[first.school] = {pair_key(*d.usernames) for d in found_there}
        return pair_key(first.username, second.username) in reviews[first.school]

    pairs = []
    for row in rows:
        first, second = found.get(row["a"]), found.get(row["b"])
        if dfe is not None and not (_at(first, dfe) or _at(second, dfe)):
            continue  # (before `listed`: a school's review read for a pair not shown)
        changed = not still_kept(row.get("seen"), first, second)
        pairs.append(
            KeptPair(
                (row["a"], row["b"]),
                (first, second),
                row.get("by", ""),
                row.get("at", ""),
                changed,
                changed and listed(first, second),
            )
        )
    return sorted(pairs, key=lambda p: (p.at, p.usernames), reverse=True)


def review_again(
    store: Store, first_username: str, second_username: str, *, operator: str, now: datetime
) -> bool:
    """Takes back a keep: the pair is listed by the duplicates review again. Audited on each
    account the store holds (a kept pair is forgotten even if one is gone). False (nothing
    written) when the pair was not kept; refused, as keep_both refuses them, for one account
    named twice or an account the store does not hold (a mistyped name is not "not kept")."""
    require(store, operator, "duplicate_keep")
    first_username, second_username = two_usernames(first_username, second_username)
    at = iso(now)
    with store.transaction(operator) as txn:
        if not txn.forget_pair(first_username, second_username):
            for username in (first_username, second_username):
                txn.account(username)  # UnknownAccount, if none
            return False
        for username, other in (
            (first_username, second_username),
            (second_username, first_username),
        ):
            acc = txn.find_account(username)
            if acc is not None:
                txn.audit(
                    event(
                        txn,
                        at,
                        acc.home,
                        "duplicate_review_again",
                        username,
                        None,
                        {"no_longer_kept_apart_from": other},
                    )
                )
    return True
