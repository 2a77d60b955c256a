"""The commands that hand over to another part: the console, the demo, the IRIS simulator."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    console = sub.add_parser("console", help="open the console (the default with no command)")
    console.set_defaults(func=cmd_console, json=False)

    demo = sub.add_parser(
        "demo", help="open the console on a demo store with a built-in IRIS simulator"
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


def cmd_console(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.tui.app import run_console  # noqa: PLC0415 - textual only when the console opens

    result = run_console(ctx.store(create=True), operator=ctx.operator)
    return result if isinstance(result, int) else 0


def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.demo import run_demo  # noqa: PLC0415

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
        argv += ["--port", str(args.port)]
    try:
        result = serve_main(argv + list(getattr(args, "extra", [])))
    except SystemExit as exc:  # its own parser: --help, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 1
    return result if isinstance(result, int) else 0
