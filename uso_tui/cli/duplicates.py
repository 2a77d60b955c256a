"""`duplicates [DFE]` (possible duplicate accounts, with the evidence), `duplicate keep A B`
(two different people: never listed together again) and `duplicate unallocate A --keep B`."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, person, plain, table
from uso_tui.domain.schools import check_dfe


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    duplicates_parser = sub.add_parser(
        "duplicates", parents=[parent], help="possible duplicate accounts"
    )
    duplicates_parser.add_argument(
        "dfe", metavar="DFE", nargs="?", help="one school (default: every school)"
    )
    duplicates_parser.set_defaults(func=cmd_duplicates)

    one = sub.add_parser("duplicate", help="decide a possible duplicate")
    dsub = one.add_subparsers(dest="duplicate_command", metavar="SUBCOMMAND", required=True)
    keep = dsub.add_parser("keep", parents=[parent], help="mark two accounts as different people")
    keep.add_argument("a", metavar="A")
    keep.add_argument("b", metavar="B")
    keep.set_defaults(func=cmd_keep)
    un = dsub.add_parser(
        "unallocate", parents=[parent], help="unallocate an account that duplicates another"
    )
    un.add_argument("username", metavar="USERNAME")
    un.add_argument("--keep", required=True, metavar="OTHER", help="the account that stays")
    un.set_defaults(func=cmd_unallocate)


def cmd_duplicates(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.duplicates import possible_duplicates  # noqa: PLC0415

    dfe = check_dfe(args.dfe) if args.dfe else None
    pairs = possible_duplicates(ctx.store(), dfe)
    if args.json:
        emit_json([p.public() for p in pairs], ctx.stdout)
        return 0
    if not pairs:
        ctx.note(f"no possible duplicates{f' at {dfe}' if dfe else ''}")
        return 0
    out = ctx.stdout
    for number, pair in enumerate(pairs, 1):
        out.write(f"{number}. {plain('; '.join(pair.evidence))}\n")
        table(
            ["  Username", "Role", "Name", "DOB", "School", "Status"],
            [
                [
                    f"  {a.username}",
                    a.role,
                    person(a.forename, a.surname, a.preferred_name),
                    a.dob,
                    a.school,
                    a.status,
                ]
                for a in (pair.first, pair.second)
            ],
            out=out,
        )
        out.write("\n")
    out.write(
        "decide with: uso-tui duplicate keep A B (different people), or "
        "uso-tui duplicate unallocate A --keep B\n"
    )
    return 0


def cmd_keep(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.duplicates import keep_both  # noqa: PLC0415

    first, second = args.a.strip(), args.b.strip()
    done = keep_both(ctx.store(), first, second, operator=ctx.operator, now=ctx.now())
    if args.json:
        emit_json(
            {"accounts": sorted([first, second]), "kept": True, "already": not done}, ctx.stdout
        )
    elif done:
        ctx.stdout.write(f"{plain(first)} and {plain(second)} kept as different people\n")
    else:
        ctx.stdout.write(
            f"{plain(first)} and {plain(second)} were already kept as different people\n"
        )
    return 0


def cmd_unallocate(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.duplicates import unallocate_duplicate  # noqa: PLC0415

    account = unallocate_duplicate(
        ctx.store(), args.username, args.keep, operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(account.public(), ctx.stdout)
    else:
        ctx.stdout.write(
            f"unallocated {account.username} ({person(account.forename, account.surname)}) "
            f"from {plain(account.previous_school)}; {plain(args.keep.strip())} stays "
            f"(restore with: uso-tui restore {account.username})\n"
        )
    return 0
