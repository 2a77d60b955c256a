"""The commands that hand over to another part: the console, the demo, the IRIS simulator."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from uso_tui.cli.context import Context
from uso_tui.config import DATA_DIR_ENV, check_operator_name, load_operators, operators_path
from uso_tui.domain.errors import InvalidInput


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    console = sub.add_parser("console", help="open the console (the default with no command)")
    console.add_argument(
        "--as",
        dest="as_operator",
        metavar="NAME",
        help="the operator an SSH forced command names (authorized_keys, see `uso-tui operators`):"
        " NAME must be in operators.json; --operator is ignored",
    )
    console.set_defaults(func=cmd_console, json=False)

    demo = sub.add_parser(
        "demo",
        help="open the console on a demo store with a built-in IRIS simulator",
        description="Makes a demo data directory (schools, accounts, their runs, match cases "
        "and a held run), serves it from a built-in IRIS simulator while the console is open "
        "on it, and stops the simulator when the console closes. The directory is --data-dir "
        "(only when given: never the configured store), else USO_TUI_DEMO_DIR, else the user "
        "data directory's demo folder; one made before is reused, moved on to today.",
    )
    demo.set_defaults(func=cmd_demo, json=False)

    sim = sub.add_parser(
        "iris-sim",
        help="serve the IRIS simulator (more options: uso-tui iris-sim --help)",
        add_help=False,
    )
    sim.add_argument("--host", help="default 127.0.0.1")
    sim.add_argument("--port", type=int, help="default 8765")
    sim.set_defaults(func=cmd_iris_sim, json=False, forward_unknown=True)


def forced_operator(name: str, ctx: Context, env: Mapping[str, str] | None = None) -> str:
    """The operator `console --as NAME` names, checked: listed in operators.json, and no command
    asked over SSH (the forced command only opens the console; `ssh host CMD` is refused)."""
    env = os.environ if env is None else env
    if env.get("SSH_ORIGINAL_COMMAND", "").strip():
        raise InvalidInput(
            "commands are not run over SSH: connect without a command (ssh -t) to open the console"
        )
    name = check_operator_name(name)
    operators = load_operators(ctx.data_dir)
    if operators is None or name not in operators:
        raise InvalidInput(
            f"{name} is not an operator of {operators_path(ctx.data_dir)}: "
            "an admin adds them with `uso-tui operator add`"
        )
    return name


def cmd_console(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.tui.app import run_console  # noqa: PLC0415 - textual only when the console opens

    if (ctx.data_dir_given or DATA_DIR_ENV in os.environ) and not ctx.data_dir.exists():
        # a mistyped --data-dir opened an empty console on a new store made there
        raise InvalidInput(
            f"no such data directory {ctx.data_dir}: check --data-dir (or {DATA_DIR_ENV}), or "
            "create the folder first to start a new store there"
        )
    if getattr(args, "as_operator", None) is not None:
        # the forced command decides who this is, whatever --operator said
        ctx.operator = forced_operator(args.as_operator, ctx)
        ctx.operator_given = True
    result = run_console(ctx.store(create=True, console=True), operator=ctx.operator)
    return result if isinstance(result, int) else 0


def run_demo(
    data_dir: str | Path | None = None, *, operator: str | None = None, latency: float = 0.05
) -> int:
    """Open the console on the demo store while the simulator serves it (stopped on close)."""
    from uso_tui.demo import serve_demo  # noqa: PLC0415
    from uso_tui.tui.app import check_terminal, run_console  # noqa: PLC0415 - textual only here

    check_terminal()  # before the demo's folder is made or changed
    with serve_demo(data_dir, latency=latency) as store:
        return run_console(store, operator=operator)


def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    # Only an explicit --data-dir: the configured store (USO_TUI_DATA_DIR) is never filled with
    # demo schools.
    result = run_demo(ctx.data_dir if ctx.data_dir_given else None, operator=ctx.operator)
    return result if isinstance(result, int) else 0


def cmd_iris_sim(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.iris.server import main as serve_main  # noqa: PLC0415

    argv: list[str] = []
    if args.host is not None:
        argv += ["--host", args.host]
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise InvalidInput(f"--port {args.port}: a port is from 0 to 65535")
        argv += ["--port", str(args.port)]
    try:
        result = serve_main(argv + list(getattr(args, "extra", [])))
    except SystemExit as exc:  # its own parser: --help, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 1
    return result if isinstance(result, int) else 0
