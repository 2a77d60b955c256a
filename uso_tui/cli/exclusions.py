"""`exclusions`, `exclusion add`, `exclusion remove`: MIS names that should not be in USO."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.matches import excluded_warning
from uso_tui.cli.output import emit_json, person, table
from uso_tui.domain.models import Exclusion
from uso_tui.domain.schools import check_dfe


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    lst = sub.add_parser("exclusions", parents=[parent], help="a school's exclusion list")
    lst.add_argument("dfe", metavar="DFE")
    lst.set_defaults(func=cmd_list)

    ex = sub.add_parser("exclusion", help="add to or remove from an exclusion list")
    esub = ex.add_subparsers(dest="exclusion_command", metavar="SUBCOMMAND", required=True)
    add = esub.add_parser("add", parents=[parent], help="exclude a name (and date of birth)")
    add.add_argument("dfe", metavar="DFE")
    add.add_argument("--forename", required=True)
    add.add_argument("--surname", required=True)
    add.add_argument(
        "--dob",
        metavar="DATE",
        help="only this date of birth (YYYY-MM-DD or DD/MM/YYYY; default: any)",
    )
    add.add_argument(
        "--unallocate",
        action="store_true",
        help="also unallocate (and unlink) the school's active accounts with these details",
    )
    add.set_defaults(func=cmd_add)

    rm = esub.add_parser("remove", parents=[parent], help="remove an entry by its id")
    rm.add_argument("dfe", metavar="DFE")
    rm.add_argument("exclusion_id", metavar="ID")
    rm.set_defaults(func=cmd_remove)


def _one_line(verb: str, ex: Exclusion) -> str:
    dob = f", born {ex.dob}" if ex.dob else ", any date of birth"
    return f"{verb} exclusion {ex.id} at {ex.school}: {person(ex.forename, ex.surname)}{dob}\n"


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    items = ctx.store().exclusions(check_dfe(args.dfe))
    if args.json:
        emit_json([e.public() for e in items], ctx.stdout)
        return 0
    table(
        ["Id", "Forename", "Surname", "DOB", "Added by", "Added at"],
        [
            [e.id, e.forename, e.surname, e.dob or "any", e.added_by, e.added_at.replace("T", " ")]
            for e in items
        ],
        right=(0,),
        out=ctx.stdout,
    )
    return 0


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import admin  # noqa: PLC0415 - only the commands that use it load it

    ex = admin.add_exclusion(
        ctx.store(),
        args.dfe,
        forename=args.forename,
        surname=args.surname,
        dob=args.dob,
        operator=ctx.operator,
        now=ctx.now(),
        unallocate=args.unallocate,
    )
    if args.json:
        emit_json(
            {
                **ex.public(),
                "accounts": [a.public() for a in ex.accounts],
                "unallocated": ex.unallocated,
            },
            ctx.stdout,
        )
    else:
        ctx.stdout.write(_one_line("added", ex))
        if ex.unallocated:
            ctx.stdout.write(f"unallocated (and unlinked): {', '.join(ex.unallocated)}\n")
    if ex.accounts and not ex.unallocated:
        ctx.note(
            excluded_warning(ex.accounts, ex.school)
            + " (to unallocate: the same command with --unallocate)"
        )
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import admin  # noqa: PLC0415 - only the commands that use it load it

    check_dfe(args.dfe)
    ex = admin.remove_exclusion(
        ctx.store(), args.dfe, args.exclusion_id, operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(ex.public(), ctx.stdout)
    else:
        ctx.stdout.write(_one_line("removed", ex))
    return 0
