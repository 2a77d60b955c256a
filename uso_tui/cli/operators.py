"""`operator add|remove|list` (DATA_DIR/operators.json, admin only) and `operators`: the
authorized_keys lines of the service account, one per operator key, each forcing the console
as that operator."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, table
from uso_tui.config import Operator, key_fingerprint
from uso_tui.domain.errors import InvalidInput, UsoError

MAX_KEY_FILE = 64 * 1024
SCRIPT = "uso-tui"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    op = sub.add_parser("operator", help="add, remove or list operators (admin only)")
    osub = op.add_subparsers(dest="operator_command", metavar="SUBCOMMAND", required=True)

    add = osub.add_parser("add", parents=[parent], help="add an operator and their SSH keys")
    add.add_argument("name", metavar="NAME", help="lower-case letters, digits, . _ -")
    add.add_argument("--role", required=True, help="admin or desk")
    add.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY",
        help='a public key line, "ssh-ed25519 AAAA... comment" (may be repeated)',
    )
    add.add_argument(
        "--key-file",
        action="append",
        default=[],
        metavar="FILE",
        help="a .pub file: every line a public key (may be repeated)",
    )
    add.set_defaults(func=cmd_add)

    rm = osub.add_parser("remove", parents=[parent], help="remove an operator and their keys")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=cmd_remove)

    lst = osub.add_parser("list", parents=[parent], help="every operator, role and key")
    lst.set_defaults(func=cmd_list)

    lines = sub.add_parser(
        "operators",
        parents=[parent],
        help="print the service account's authorized_keys lines (one per operator key)",
    )
    lines.add_argument(
        "--tz",
        metavar="ZONE",
        help="the schools' time zone, set for the console (e.g. Europe/London) when the host's "
        "is another: its times and today's date then agree with run-due's",
    )
    lines.set_defaults(func=cmd_authorized_keys)


def _key_lines(paths: list[str]) -> list[str]:
    out: list[str] = []
    for name in paths:
        path = Path(name).expanduser()
        try:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_KEY_FILE + 1)
        except OSError as exc:
            raise InvalidInput(f"cannot read the key file {path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_KEY_FILE:
            raise InvalidInput(f"the key file {path} is too large for public keys")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"the key file {path} is not text (a private key?)") from None
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            raise InvalidInput(f"the key file {path} holds no key")
        out += lines
    return out


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import operators as ops  # noqa: PLC0415 - only the commands that use it load it

    keys = list(args.key) + _key_lines(args.key_file)
    ops.checked_operator(args.name, args.role, keys)  # before a store is made for them
    store = ctx.store(create=True)
    new = ops.add_operator(
        store, args.name, role=args.role, keys=keys, operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(_public(new), ctx.stdout)
    else:
        key_count = len(new.keys)
        ctx.stdout.write(
            f"added operator {new.name} ({new.role}) with {key_count} "
            f"key{'s' if key_count != 1 else ''}; "
            "`uso-tui operators` prints the authorized_keys lines\n"
        )
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import operators as ops  # noqa: PLC0415 - only the commands that use it load it

    gone = ops.remove_operator(ctx.store(), args.name, operator=ctx.operator, now=ctx.now())
    if args.json:
        emit_json(_public(gone), ctx.stdout)
    else:
        ctx.stdout.write(
            f"removed operator {gone.name} ({gone.role}); run `uso-tui operators` and replace "
            "the service account's authorized_keys with its lines\n"
        )
    return 0


def _public(op: Operator) -> dict:
    return {
        "name": op.name,
        "role": op.role,
        "keys": [{"key": k, "fingerprint": key_fingerprint(k)} for k in op.keys],
    }


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import operators as ops  # noqa: PLC0415 - only the commands that use it load it

    listed = ops.list_operators(ctx.store(), operator=ctx.operator)
    if args.json:
        emit_json([_public(o) for o in listed], ctx.stdout)
        return 0
    rows = []
    for operator in listed:
        for position, key in enumerate(operator.keys or ("",)):
            comment = key.split(None, 2)[2] if len(key.split(None, 2)) > 2 else ""
            fp = f"{key.split()[0]} {key_fingerprint(key)}" if key else "(no key)"
            rows.append(
                [
                    operator.name if position == 0 else "",
                    operator.role if position == 0 else "",
                    fp,
                    comment,
                ]
            )
    table(["Name", "Role", "Key", "Comment"], rows, out=ctx.stdout)
    return 0


def script_path() -> str:
    """The absolute path of the installed `uso-tui` script: sshd runs the forced command with
    the service account's plain environment, whose PATH may not hold it."""
    candidates = [
        Path(sys.argv[0]) if Path(sys.argv[0]).name == SCRIPT else None,
        Path(sysconfig.get_path("scripts")) / SCRIPT,
        Path(found) if (found := shutil.which(SCRIPT)) else None,
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return str(candidate.resolve())
    raise UsoError(f"cannot find the installed {SCRIPT} script (is uso-tui installed?)")


def forced_command(name: str, data_dir: Path, tz: str | None = None) -> str:
    """The command sshd runs for the operator (by the account's shell, hence the quoting); with
    the schools' time zone `tz` set for it (sshd gives the login no TZ of its own)."""
    words = [script_path(), "--data-dir", str(data_dir.resolve()), "console", "--as", name]
    if any(not c.isprintable() for w in words for c in w):
        raise InvalidInput("the data directory's path holds control characters")
    command = " ".join(shlex.quote(w) for w in words)
    return f"TZ={shlex.quote(tz)} {command}" if tz else command


def check_tz(zone: str) -> str:
    """A time zone the system knows (its tz database), as given."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"--tz {zone!r}: no such time zone in this system's tz database (e.g. Europe/London)"
        ) from None
    return zone


def authorized_keys_line(name: str, key: str, data_dir: Path, tz: str | None = None) -> str:
    # restrict: no forwarding of any kind; pty: the console needs a terminal. sshd undoes only
    # \" in command="..." (a backslash before anything else is kept as it is)
    command = forced_command(name, data_dir, tz).replace('"', '\\"')
    return f'command="{command}",restrict,pty {key}'


def cmd_authorized_keys(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import operators as ops  # noqa: PLC0415 - only the commands that use it load it

    tz = check_tz(args.tz) if args.tz else None
    listed = ops.list_operators(ctx.store(), operator=ctx.operator)
    lines = [
        {
            "operator": o.name,
            "role": o.role,
            "line": authorized_keys_line(o.name, k, ctx.data_dir, tz),
        }
        for o in listed
        for k in o.keys
    ]
    if args.json:
        emit_json(lines, ctx.stdout)
        return 0
    if not lines:
        ctx.note("operators: no operator has a key (add one: uso-tui operator add NAME ...)")
    for entry in lines:
        ctx.stdout.write(entry["line"] + "\n")
    return 0
