"""Errors the domain and the layers above raise; each carries a one-line message for the operator."""


class UsoError(Exception):
    """Base of every error uso-tui reports to an operator."""


class InvalidInput(UsoError):
    """Bad input from an operator or a config file: refused, nothing written (exit status 2)."""


class InvalidName(InvalidInput):
    """A name that normalises to nothing, so no username can be made from it."""


class NeedsConfirmation(InvalidInput):
    """An action an operator must confirm explicitly (CLI: `--force`, console: `y`) after seeing
    `differences`; refused until then, nothing written."""

    def __init__(self, message: str, differences: list[str] | None = None) -> None:
        super().__init__(message)
        self.differences = list(differences or [])
