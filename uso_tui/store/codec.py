"""Domain records <-> stored dicts. orjson serialises the slotted dataclasses natively and a
round trip is a deep copy, so a caller mutating a returned record never changes staged data."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def to_doc(obj: Any) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(obj))


def to_docs(objs: list[Any]) -> list[dict[str, Any]]:
    return orjson.loads(orjson.dumps(objs))


def from_docs(cls: type[T], docs: list[dict[str, Any]]) -> list[T]:
    return [cls.from_dict(d) for d in orjson.loads(orjson.dumps(docs))]  # type: ignore[attr-defined]


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    return cls.from_dict(orjson.loads(orjson.dumps(doc)))  # type: ignore[attr-defined]
