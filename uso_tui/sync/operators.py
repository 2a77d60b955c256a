"""Adding and removing operators (DATA_DIR/operators.json): admin only, audited.

The file is read and changed under the store's write lock, and written in the commit of the
transaction that records the audit event (both or neither, whatever is killed when), so two
changes at once cannot lose one another. Audit events name keys by fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from uso_tui.config import (
    RESERVED_OPERATOR_NAMES,
    Operator,
    check_operator_name,
    check_operator_role,
    check_ssh_key,
    key_fingerprint,
    load_operators,
    operators_bytes,
    operators_path,
)
from uso_tui.domain.errors import InvalidInput
from uso_tui.store.api import Store
from uso_tui.sync.access import ADMIN, require
from uso_tui.sync.apply import event
from uso_tui.sync.runner import iso


def _shown(op: Operator) -> dict:
    return {"role": op.role, "keys": [key_fingerprint(k) for k in op.keys]}


def checked_operator(name: str, role: str, keys: Iterable[str]) -> tuple[str, str, list[str]]:
    """A new operator's name, role and keys as kept (each key once), or InvalidInput: checked
    before a store is made for them (a bad key left a new, empty store behind)."""
    name = check_operator_name(name)
    if name in RESERVED_OPERATOR_NAMES:
        raise InvalidInput(
            f"{name!r} names the product's own runs in the audit log: choose another name"
        )
    role = check_operator_role(role)
    clean: list[str] = []
    for key in keys:
        key = check_ssh_key(key)
        if key.split()[1] not in {k.split()[1] for k in clean}:
            clean.append(key)
    return name, role, clean


def add_operator(
    store: Store,
    name: str,
    *,
    role: str,
    keys: Iterable[str] = (),
    operator: str,
    now: datetime,
) -> Operator:
    """A new operator with their public keys (none: a name with a role, for the shell only)."""
    require(store, operator, "operators")
    name, role, clean = checked_operator(name, role, keys)
    with store.transaction(operator) as txn:
        operators = dict(load_operators(store.root) or {})
        if name in operators:
            raise InvalidInput(
                f"operator {name} already exists ({operators[name].role}): remove them first "
                "to change their role or keys"
            )
        for key in clean:
            for other in operators.values():
                if any(k.split()[1] == key.split()[1] for k in other.keys):
                    raise InvalidInput(
                        f"the key {key_fingerprint(key)} already belongs to {other.name}: "
                        "sshd would log its holder in as the first of them"
                    )
        new = Operator(name, role, tuple(clean))
        operators[name] = new
        txn.audit(event(txn, iso(now), None, "operator_add", name, None, _shown(new)))
        txn.put_operators(operators_bytes(operators))
    return new


def remove_operator(store: Store, name: str, *, operator: str, now: datetime) -> Operator:
    require(store, operator, "operators")
    name = check_operator_name(name)
    with store.transaction(operator) as txn:
        operators = dict(load_operators(store.root) or {})
        gone = operators.pop(name, None)
        if gone is None:
            raise InvalidInput(f"no operator {name} in {operators_path(store.root)}")
        if gone.role == ADMIN and not any(o.role == ADMIN for o in operators.values()):
            # the console would have nobody to add a school, change a setting or an operator:
            # only the data directory's owner, at a shell on the server
            raise InvalidInput(
                f"{name} is the last admin: add another admin first "
                "(uso-tui operator add NAME --role admin ...), then remove them"
            )
        # the other admins may be names for a shell on the server, none able to open the console
        keyed = any(o.role == ADMIN and o.keys for o in operators.values())
        if gone.role == ADMIN and gone.keys and not keyed:
            raise InvalidInput(
                f"{name} is the last admin with a key (the other admins have none: they "
                "cannot log in to the console): add an admin with a key first (uso-tui "
                "operator add NAME --role admin --key ...), then remove them"
            )
        txn.audit(event(txn, iso(now), None, "operator_remove", name, _shown(gone), None))
        txn.put_operators(operators_bytes(operators))
    return gone


def list_operators(store: Store, *, operator: str) -> list[Operator]:
    require(store, operator, "operators")
    return sorted((load_operators(store.root) or {}).values(), key=lambda o: o.name)
