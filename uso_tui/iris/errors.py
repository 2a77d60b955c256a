"""Errors of the IRIS connector. Each renders as one line naming the school, the request path, the
HTTP status and IRIS's own message; none ever holds the client secret or a token."""

from __future__ import annotations

from uso_tui.domain.errors import UsoError

IRIS_SAID = " (IRIS said: "  # how an error line quotes the server's own words, at its end


class IrisError(UsoError):
    """A request to a school's IRIS API failed for good (after any retries)."""

    def __init__(
        self,
        message: str,
        *,
        school: str,
        path: str | None = None,
        status: int | None = None,
        iris_message: str | None = None,
        method: str | None = None,
    ) -> None:
        self.school = school
        self.path = path
        self.status = status
        self.iris_message = iris_message
        self.method = method
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        parts = [self.school]
        if self.path:
            parts.append(f"{self.method or 'GET'} {self.path}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        text = ": ".join(parts) + ": " + self.message
        if self.iris_message:
            text += f"{IRIS_SAID}{self.iris_message})"
        return " ".join(text.split())  # one line whatever IRIS sent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):  # picklable across processes, keyword arguments included
        return (
            _rebuild,
            (
                type(self),
                self.message,
                self.school,
                self.path,
                self.status,
                self.iris_message,
                self.method,
            ),
        )


def _rebuild(cls, message, school, path, status, iris_message, method):
    return cls(
        message,
        school=school,
        path=path,
        status=status,
        iris_message=iris_message,
        method=method,
    )


class HostNotAllowed(IrisError):
    """The school's MIS URL breaks the host rule (DESIGN section 4); raised before any request."""


class AuthFailed(IrisError):
    """IRIS refused the school's Client ID / Client Secret (400/401 invalid_client), or kept
    refusing a freshly issued token."""
