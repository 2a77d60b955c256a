"""`uso-tui`: the command line (DESIGN section 5). No command opens the console.

Errors are one line on stderr: exit 2 for bad usage or bad input (nothing written), 1 for anything
else. A full traceback only with USO_TUI_DEBUG=1. No message ever carries a client secret.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn, TextIO

from uso_tui.cli import (
    accounts,
    apps,
    audit,
    duplicates,
    exclusions,
    matches,
    operators,
    reports,
    runs,
    schools,
    undo,
    upgrade,
)
from uso_tui.cli.context import Context, local_now
from uso_tui.cli.output import plain
from uso_tui.cli.secret_input import PLAIN_SECRET_REFUSED, plain_secret_in
from uso_tui.config import (
    as_listed,
    debug_enabled,
    name_as_read,
    resolve_data_dir,
    resolve_operator,
    time_zone,
)
from uso_tui.domain.errors import InvalidInput, UsoError
from uso_tui.store import say_when_waiting

PROG = "uso-tui"
EXIT_USAGE = 2
EXIT_ERROR = 1
GROUPS = (
    schools,
    accounts,
    exclusions,
    matches,
    runs,
    undo,
    reports,
    audit,
    duplicates,
    upgrade,
    apps,
    operators,
)


class UsageError(InvalidInput):
    pass


class Parser(argparse.ArgumentParser):
    """No abbreviated options (a typo must not silently pick an option, least of all a secret
    option), and errors raised as one line instead of usage text plus sys.exit. An error never
    repeats a word of the command line but option names: a secret typed in the wrong place
    (`--client-secre SECRET`, a stray word) must not reach a terminal's scrollback or a log."""

    redact_unrecognized = False  # kept for callers; every usage error is redacted now
    _words: tuple[str, ...] = ()  # the command line being parsed

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.register("action", "store", _StoreOnce)
        self.register("action", None, _StoreOnce)

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201
        if self.prog == PROG:  # the top parser sees the whole command line first
            Parser._words = tuple(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {_redacted(message)} (see {self.prog} --help)")


class _StoreOnce(argparse._StoreAction):
    """An option's value, given once: `--report staff --report students` ran the students only
    (the last one given won, without a word)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        given = namespace.__dict__.setdefault("_given_options", set())
        if option_string is not None and self.dest in given:
            parser.error(f"{option_string} is given twice: give it once")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


_OPTION_NAME = re.compile(r"--[A-Za-z][A-Za-z0-9-]{0,40}|-h")  # every option is long but -h
_UNRECOGNIZED = "unrecognized arguments: "


def _redacted(message: str) -> str:
    """`message` without any word of the command line but option names (`--colour`)."""
    words = Parser._words
    if message.startswith(_UNRECOGNIZED):
        stray = message.removeprefix(_UNRECOGNIZED).split()
        named = [n for w in stray if _OPTION_NAME.fullmatch(n := w.split("=", 1)[0])]
        others = len(stray) - len(named)
        message = _UNRECOGNIZED + " ".join(named)
        if others:
            message += (" and " if named else "") + (
                f"{others} other word{'s' if others > 1 else ''} "
                "(not repeated here in case one is a secret)"
            )
        return message
    for word in sorted(words, key=len, reverse=True):
        if word and not _OPTION_NAME.fullmatch(word):
            message = message.replace(repr(word), "(a value not repeated here)")
    return message


def _version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("uso-tui")
    except Exception:  # noqa: BLE001 - not installed as a distribution (running from a checkout)
        return "unknown"


class _Version(argparse.Action):
    """--version, looked up only when asked: importing importlib.metadata and finding the
    distribution cost more than many a command takes."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show program's version number and exit",
        )

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:  # noqa: ANN001
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Keep schools' USO accounts in step with their IRIS iSAMS / Ed:gen MIS. "
        "With no command, opens the console.",
        epilog="Every command that prints accepts --json after its arguments.",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the store (else USO_TUI_DATA_DIR, else the user data dir)",
    )
    parser.add_argument(
        "--operator", metavar="NAME", help="name in the audit log (else login name)"
    )
    parser.add_argument("--version", action=_Version)
    parent = Parser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON on stdout")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub, parent)
    return parser


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _traceback(secrets: Sequence[str]) -> str:
    """The traceback being handled, for USO_TUI_DEBUG: its secrets blanked and each line's
    control characters escaped (an exception may quote a name from the MIS, or a server's
    words, holding terminal escapes)."""
    lines = _redact(traceback.format_exc(), secrets).splitlines()
    return "".join(plain(line) + "\n" for line in lines)


def _one_line(message: str, secrets: Sequence[str]) -> str:
    """One line, its control characters escaped (an error may carry a server's words), and cut
    (an error repeats what was given: a 100,000-character argument made a 100 KB line)."""
    line = plain(" ".join(_redact(message, secrets).split()))
    if len(line) <= MAX_ERROR:
        return line
    return f"{line[: MAX_ERROR - 40]}… ({len(line) - MAX_ERROR + 40:,} characters more)"


MAX_ERROR = 2000


# Options whose values are paths: a file name need not be UTF-8 on Linux.
PATH_OPTIONS = ("--data-dir", "--key-file", "--client-secret-file")


def _not_utf8(argv: Sequence[str]) -> str | None:
    """Why an argument other than a path is refused: bytes that are not UTF-8 (Python keeps them
    as lone surrogates), which a name or a search would carry on as nonsense ("no record found
    for '\\udcff'", a Latin-1 é refused as a control character)."""
    for at, arg in enumerate(argv):
        if (at and argv[at - 1] in PATH_OPTIONS) or arg.split("=", 1)[0] in PATH_OPTIONS:
            continue
        if any("\udc80" <= c <= "\udcff" for c in arg):
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return (
                f"argument {at + 1} ({shown[:60]!r}) is not UTF-8 text: set the terminal (or the "
                "script's locale) to UTF-8 and type it again"
            )
    return None


def _closed_streams_to_null() -> None:
    """A standard stream closed by the caller (`>&-`, `<&-`: Python then gives None) made the
    command fail halfway with "unexpected AttributeError", its change already made: output to
    a closed stream is discarded, and a closed stdin reads as empty."""
    for name, mode in (("stdout", "w"), ("stderr", "w"), ("stdin", "r")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115 - for the process's life


def _utf8_streams() -> None:
    """stdout and stderr in UTF-8 whatever the locale says: names from the MIS are any script,
    JSON is UTF-8 (RFC 8259) and so are the CSV exports; a Latin-1 locale would otherwise stop a
    command halfway through its output."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="replace")


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """The console script. `clock` and the streams are for tests (the wall clock otherwise)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if stdout is None and stderr is None:
        _closed_streams_to_null()
        _utf8_streams()
    err = stderr or sys.stderr

    def fail(message: str, status: int, secrets: Sequence[str] = ()) -> int:
        err.write(f"{PROG}: error: {_one_line(message, secrets)}\n")
        err.flush()
        return status

    if plain_secret_in(argv):
        return fail(PLAIN_SECRET_REFUSED, EXIT_USAGE)
    if (undecoded := _not_utf8(argv)) is not None:
        return fail(undecoded, EXIT_USAGE)
    Parser.redact_unrecognized = any(a.startswith("--client-secret") for a in argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "forward_unknown", False):
            parser.error("unrecognized arguments: " + " ".join(extra))
        args.extra = extra
    except UsageError as exc:
        return fail(str(exc).removeprefix(f"{PROG}: ").removeprefix(PROG + " "), EXIT_USAGE)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0

    ctx: Context | None = None
    zone_before: str | None | object = _UNSET
    try:
        # a forced command's --as names the operator: --operator is ignored there, not checked
        claimed = None if getattr(args, "as_operator", None) is not None else args.operator
        ctx = Context(
            data_dir=resolve_data_dir(args.data_dir),
            operator=resolve_operator(claimed),
            operator_given=claimed is not None,
            data_dir_given=args.data_dir is not None,
            clock=clock or local_now,
            stdin=stdin or sys.stdin,
            stdout=stdout or sys.stdout,
            stderr=err,
        )
        ctx.operator = as_listed(ctx.data_dir, ctx.operator)
        zone_before = _use_time_zone(ctx.data_dir)
        func = getattr(args, "func", None) or apps.cmd_console
        if (
            ctx.operator_given
            and _names_the_schedule(ctx.operator)
            and func not in (runs.cmd_run_due, runs.cmd_scheduler)
        ):  # the audit log could not tell a person's change from the schedule's
            raise InvalidInput(
                f"--operator {runs.SCHEDULER} names the daily schedule's runs in the audit log: "
                "give your own name"
            )
        if not hasattr(args, "json"):
            args.json = False
        status = func(args, ctx)
        ctx.stdout.flush()
        return status
    except InvalidInput as exc:
        return fail(str(exc), EXIT_USAGE, ctx.secrets if ctx else ())
    except UsoError as exc:
        return fail(str(exc), EXIT_ERROR, ctx.secrets if ctx else ())
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: nothing more to say to it.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stop the interpreter's flush error
        return EXIT_ERROR
    except OSError as exc:
        # A folder that cannot be created, a full disk...: say what and where, in one line.
        where = f": {exc.filename}" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # (the write names no file)
            where += (
                ": free space on the disk (or raise the quota) and run the command again; "
                "uso-tui makes each change whole or not at all"
            )
        if debug_enabled():
            err.write(_traceback(ctx.secrets if ctx else ()))
        return fail(f"{exc.strerror or exc}{where}", EXIT_ERROR, ctx.secrets if ctx else ())
    except Exception as exc:  # noqa: BLE001 - every failure is one line unless debugging
        if debug_enabled():
            err.write(_traceback(ctx.secrets if ctx else ()))
        text = str(exc) or "no details"
        return fail(
            f"unexpected {type(exc).__name__}: {text} (USO_TUI_DEBUG=1 shows the traceback)",
            EXIT_ERROR,
            ctx.secrets if ctx else (),
        )
    finally:
        say_when_waiting(None)  # (a caller in the same process, a test, says nothing through it)
        if zone_before is not _UNSET:  # (main called in a process that goes on: a test)
            _set_tz(zone_before)


_UNSET = object()


def _use_time_zone(data_dir: Path) -> str | None | object:
    """The process's local time made config.json's `timezone` (config.time_zone), when set:
    every time read and written (daily times, stamps, "today") is then the schools' wall clock.
    Returns the TZ it replaced (_UNSET: none was)."""
    if not data_dir.is_dir():  # (none yet, or a file: the command says so as before)
        return _UNSET
    zone = time_zone(data_dir)
    if zone is None:
        return _UNSET
    before = os.environ.get("TZ")
    _set_tz(zone)
    return before


def _set_tz(zone: str | None) -> None:
    if zone is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = zone
    time.tzset()


def _names_the_schedule(name: str) -> bool:
    """`name` reads as the schedule's own (`Scheduler`, full-width letters, an invisible joiner or
    variation selector between its letters): in the audit log no one could tell it from the
    schedule's (look-alike letters of other alphabets: config.resolve_operator)."""
    return name_as_read(name) == runs.SCHEDULER


if __name__ == "__main__":
    raise SystemExit(main())
