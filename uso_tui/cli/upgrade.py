"""`upgrade`: raise a store written by an older uso-tui to this version's schema, explicitly.

Every other command refuses such a store (saying to run this), so a store is never rewritten
for a newer version without the operator's say: an older uso-tui refuses it afterwards."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json
from uso_tui.domain.errors import InvalidInput


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    up = sub.add_parser(
        "upgrade", parents=[parent], help="upgrade a store written by an older uso-tui"
    )
    up.set_defaults(func=cmd_upgrade)


def cmd_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.store.tinystore import upgrade_store  # noqa: PLC0415

    if ctx.data_dir.exists() and not ctx.data_dir.is_dir():
        raise InvalidInput(f"the data directory {ctx.data_dir} is not a directory")
    if not ctx.store_exists():  # bad input, as every command says it (exit 2)
        raise InvalidInput(f"no uso-tui store at {ctx.data_dir}")
    found, now = upgrade_store(ctx.data_dir)
    if args.json:
        emit_json({"from": found, "to": now, "upgraded": found < now}, ctx.stdout)
    elif found < now:
        ctx.stdout.write(f"upgraded the store at {ctx.data_dir} from schema {found} to {now}\n")
    else:
        ctx.stdout.write(f"the store at {ctx.data_dir} is up to date (schema {now})\n")
    return 0
