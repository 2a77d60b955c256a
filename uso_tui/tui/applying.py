"""An operator's action applied in a worker, with its failures as lines for the operator.

A worker that fails as a whole goes to the app's one handler (UsoApp.worker_failed). These helpers
are for the actions that must go on past a failure (several accounts at once) or that show their
error where the operator typed (a form, a status line) instead of as a notification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from uso_tui.domain.errors import UsoError

Item = TypeVar("Item")
Value = TypeVar("Value")


def error_text(error: BaseException | None) -> str:
    """A UsoError in its own words (it is written for the operator); anything else named by type."""
    return str(error) if isinstance(error, UsoError) else f"{type(error).__name__}: {error}"


@dataclass
class Applied:
    """The names an action was applied to, and `name: error` for each it failed on."""

    done: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def apply_each(
    items: Iterable[Item],
    act: Callable[[Item], object],
    name: Callable[[Item], str] = str,
    failed: str = "Not done",
) -> Applied:
    """`act` on every item; a failure is recorded under the item's name, said as `failed`
    (`Not restored: ghopper.204: OSError: ...`: a bug or a full disk is not read as a reason
    given), and the rest go on."""
    out = Applied()
    for item in items:
        try:
            act(item)
        except Exception as exc:  # noqa: BLE001 - each failure reported, the rest go on
            out.errors.append(f"{failed}: {name(item)}: {error_text(exc)}")
        else:
            out.done.append(name(item))
    return out


@dataclass
class Attempt(Generic[Value]):
    """What one action returned, or the error it raised (as text)."""

    value: Value | None = None
    error: str | None = None


def attempt(
    act: Callable[[], Value], describe: Callable[[Exception], str] = error_text
) -> Attempt[Value]:
    """Run `act`; an exception becomes `error` (described by `describe`) instead of ending the
    worker, for actions whose error is shown in their own form or status line."""
    try:
        return Attempt(value=act())
    except Exception as exc:  # noqa: BLE001 - shown where the operator acted
        return Attempt(error=describe(exc))
