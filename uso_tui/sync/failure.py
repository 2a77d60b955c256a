"""What a failed run's error says of its cause (failure_kind): each front end says what to do
about it in its own words (the console's keys, the command line's commands)."""

from __future__ import annotations

from typing import Literal

from uso_tui.iris.errors import IRIS_SAID
from uso_tui.store.liveness import INTERRUPTED
from uso_tui.sync.runner import APPLY_FAILED

FailureKind = Literal["store", "interrupted", "credentials", "address", "bounds", "iris"]

_CREDENTIALS = (
    "refused the Client ID",
    "invalid_client",
    "unauthorized_client",
    "freshly issued token",
    "HTTP 401",
    "HTTP 403",
)
_ADDRESS = (
    "not allowed",
    "HTTP 404",
    "certificate",
    "redirect",
    "must use https",
    "port 443",
    "bad MIS URL",
)
# a bound of config.json (max_pages, max_records, max_answer_bytes, max_report_bytes)
_BOUNDS = ("(max_",)


def failure_kind(error: str) -> FailureKind:
    """The likely cause of a run that failed with `error` (its one line): the store (IRIS
    answered), the process stopped, the school's credentials or its URL, a bound of
    config.json, or IRIS itself (down, slow, or an error of its own). Read from our own words
    only: what IRIS said, quoted from the first "(IRIS said: " on, is a server's text (a 429
    saying "not allowed more than 60 requests" is no bad URL, a 500 quoting "HTTP 403" from
    behind it no bad secret)."""
    error = error.split(IRIS_SAID, 1)[0]
    if error.startswith(APPLY_FAILED):
        return "store"
    if error.startswith(INTERRUPTED):
        return "interrupted"
    if any(sign in error for sign in _CREDENTIALS):
        return "credentials"
    if any(sign in error for sign in _ADDRESS):
        return "address"
    if any(sign in error for sign in _BOUNDS):
        return "bounds"
    return "iris"
