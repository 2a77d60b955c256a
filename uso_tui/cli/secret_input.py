"""The client secret comes from an environment variable, a file or stdin, never from a plain
argument (it would sit in shell history and in every `ps` listing). No message here ever contains
the secret: only the variable's name or the file's path."""

from __future__ import annotations

import argparse
import getpass
import os
import re
from collections.abc import Sequence

from uso_tui.cli.context import Context
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.schools import MIN_SECRET

ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")  # conventional variable names only
PLAIN_SECRET_REFUSED = (
    "a client secret is never given as a plain argument (it would show in the process list and "
    "shell history): use --client-secret-env VAR, --client-secret-file FILE or --client-secret - "
    "(read from stdin)"
)


def add_secret_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--client-secret-env", metavar="VAR", help="read the Client Secret from this variable"
    )
    group.add_argument(
        "--client-secret-file", metavar="FILE", help="read the Client Secret from this file"
    )
    group.add_argument(
        "--client-secret",
        metavar="-",
        help="'-': read the Client Secret from stdin (a value here is refused)",
    )


def plain_secret_in(argv: Sequence[str]) -> bool:
    """True when argv gives `--client-secret VALUE` (or `=VALUE`) with anything but `-`.

    Checked before argparse runs, so that no parser message can ever echo the value."""
    for index, token in enumerate(argv):
        if token == "--":
            return False
        if token == "--client-secret":
            return index + 1 < len(argv) and argv[index + 1] != "-"
        if token.startswith("--client-secret="):
            return token.split("=", 1)[1] != "-"
    return False


def read_secret(args: argparse.Namespace, ctx: Context) -> str | None:
    """The secret the options name, or None when none was given. Raises InvalidInput (exit 2)."""
    if getattr(args, "client_secret", None) is not None:
        if args.client_secret != "-":
            raise InvalidInput(PLAIN_SECRET_REFUSED)
        secret = _from_stdin(ctx)
        where = "stdin"
    elif getattr(args, "client_secret_env", None) is not None:
        var = args.client_secret_env
        secret = os.environ.get(var, "")
        # A secret typed where the variable's name goes must not come back in the message.
        where = f"environment variable {var}" if ENV_NAME_RE.match(var) else "the environment"
        if not secret.strip():
            raise InvalidInput(
                f"{where} has no variable of that name, or it is empty: --client-secret-env "
                "takes the NAME of a variable that holds the secret"
                if where == "the environment"
                else f"{where} is unset or empty: it should hold the client secret"
            )
    elif getattr(args, "client_secret_file", None) is not None:
        path = args.client_secret_file
        # Likewise a secret typed where the path goes: a bare word that is no file is not shown.
        shown = "/" in path or "." in path or os.path.exists(path)
        where = f"file {path}" if shown else "the file given (name not shown: is it the secret?)"
        try:
            # (utf-8-sig: a byte-order mark, as Notepad saves UTF-8, is not the secret's)
            with open(path, encoding="utf-8-sig") as fh:
                secret = fh.read(8192)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise InvalidInput(f"cannot read the client secret from {where}: {reason}") from None
    else:
        return None
    secret = secret.strip()
    if not secret:
        raise InvalidInput(f"the client secret from {where} is empty")
    if "\n" in secret or any(not c.isprintable() for c in secret) or not secret.isascii():
        raise InvalidInput(
            f"the client secret from {where} is not one line of printable ASCII text "
            "(check it was copied as issued)"
        )
    if len(secret) < MIN_SECRET:  # said before it is a secret to hide: else a word of this
        raise InvalidInput(  # very message was *** ("client *** is shorter" for "secret")
            f"the client secret from {where} is shorter than {MIN_SECRET} characters: check it "
            "was copied whole"
        )
    ctx.secrets.append(secret)
    return secret


def _from_stdin(ctx: Context) -> str:
    stream = ctx.stdin
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive:
        return getpass.getpass("Client Secret: ")
    return stream.read(8192)
