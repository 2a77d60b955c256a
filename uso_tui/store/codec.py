"""Domain records <-> stored dicts. orjson serialises the slotted dataclasses natively and a
round trip is a deep copy, so a caller mutating a returned record never changes staged data."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def to_doc(obj: Any) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(obj))


def to_docs(objs: list[Any]) -> list[dict[str, Any]]:
    return orjson.loads(orjson.dumps(objs))


def build(cls: type[T], docs: list[dict[str, Any]]) -> list[T]:
    """Records from dicts that nothing else holds (fresh from a file or a copy)."""
    try:
        return [cls(**d) for d in docs]
    except TypeError:  # a key this version does not know (file written by a newer minor version)
        return [cls.from_dict(d) for d in docs]  # type: ignore[attr-defined]


def from_docs(cls: type[T], docs: list[dict[str, Any]]) -> list[T]:
    """Records from staged dicts: deep copies, so that the staged data cannot be mutated."""
    return build(cls, orjson.loads(orjson.dumps(docs)))


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    return from_docs(cls, [doc])[0]


def _account_defaults() -> dict[str, Any]:
    from uso_tui.domain.models import Account  # noqa: PLC0415

    out = {}
    for spec in fields(Account):
        if spec.default is not MISSING:
            out[spec.name] = spec.default
        elif spec.default_factory is not MISSING:
            out[spec.name] = spec.default_factory()
    return out


# Stored account documents leave out fields that hold their default (about a quarter of the
# bytes, and of the time to load an LA's accounts). The defaults are part of the schema: changing
# one in domain.models needs a new SCHEMA_VERSION.
ACCOUNT_DEFAULTS = _account_defaults()


def slim_account(doc: dict[str, Any]) -> dict[str, Any]:
    defaults = ACCOUNT_DEFAULTS
    return {k: v for k, v in doc.items() if k not in defaults or defaults[k] != v}


def accounts_from_staged(docs: list[dict[str, Any]]) -> list[Any]:
    """Accounts from staged dicts, cheaper than a deep copy (Account.from_row)."""
    from uso_tui.domain.models import Account  # noqa: PLC0415

    return [Account.from_row(d) for d in docs]
