"""`duplicates [DFE]` (possible duplicate accounts, with the evidence), `duplicate keep A B`
(two different people: not listed together again), `duplicate unallocate A --keep B`, and the
pairs kept so: `duplicates --kept [DFE]` and `duplicate unkeep A B` (listed for review again)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, TextIO

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
    duplicates_parser.add_argument(
        "--kept",
        action="store_true",
        help="the pairs kept as different people instead (undo one with: duplicate unkeep A B)",
    )
    duplicates_parser.set_defaults(func=cmd_duplicates)

    one = sub.add_parser("duplicate", help="decide a possible duplicate")
    dsub = one.add_subparsers(dest="duplicate_command", metavar="SUBCOMMAND", required=True)
    keep = dsub.add_parser("keep", parents=[parent], help="mark two accounts as different people")
    keep.add_argument("a", metavar="A")
    keep.add_argument("b", metavar="B")
    keep.set_defaults(func=cmd_keep)
    unkeep = dsub.add_parser(
        "unkeep",
        parents=[parent],
        help="take back a keep: the two accounts are listed for review again",
    )
    unkeep.add_argument("a", metavar="A")
    unkeep.add_argument("b", metavar="B")
    unkeep.set_defaults(func=cmd_unkeep)
    un = dsub.add_parser(
        "unallocate", parents=[parent], help="unallocate an account that duplicates another"
    )
    un.add_argument("username", metavar="USERNAME")
    un.add_argument("--keep", required=True, metavar="OTHER", help="the account that stays")
    un.set_defaults(func=cmd_unallocate)


def cmd_duplicates(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.duplicates import reviewed  # noqa: PLC0415

    dfe = check_dfe(args.dfe) if args.dfe else None
    if args.kept:
        return _print_kept(dfe, args.json, ctx)
    pairs, stored = reviewed(ctx.store(), dfe)
    if args.json:
        emit_json([p.public() for p in pairs], ctx.stdout)
        return 0
    if not pairs:
        ctx.note(f"no possible duplicates{f' at {dfe}' if dfe else ''}")
        return 0
    out = ctx.stdout
    for number, pair in enumerate(pairs, 1):
        out.write(f"{number}. {plain('; '.join(pair.evidence))}\n")
        # (the accounts as stored: which holds the MIS record, a choice of which to unallocate
        # made without it took the person's history and UPN)
        _pair_table(
            [(a.username, stored.get(a.username, a)) for a in (pair.first, pair.second)], out
        )
    out.write(
        "decide with: uso-tui duplicate keep A B (different people), or "
        "uso-tui duplicate unallocate A --keep B; pairs kept before: uso-tui duplicates --kept\n"
    )
    return 0


def _pair_table(accounts: Iterable[tuple[str, Any]], out: TextIO) -> None:
    """A pair's two accounts (username, and the account or None for one no longer stored)."""
    table(
        ["  Username", "Role", "Name", "DOB", "School", "Status", "MIS record"],
        [
            [
                f"  {a.username}",
                a.role,
                person(a.forename, a.surname, a.preferred_name),
                a.dob,
                a.school,
                a.status,
                _mis_record(a),
            ]
            if a is not None
            else [f"  {username}", "", "(no such account now)", "", "", "", ""]
            for username, a in accounts
        ],
        out=out,
    )
    out.write("\n")


def _mis_record(account: Any) -> str:
    """The MIS record an account is linked to ("none": made by hand, or unlinked; "?" for a
    search hit, which does not say)."""
    if not hasattr(account, "mis_id"):
        return "?"
    if not account.mis_id:
        return "none"
    return f"{account.link_report} {account.mis_id} at {account.link_school}"


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
    else:  # nothing to do: said on stderr, as `duplicate unkeep` says it
        ctx.note(
            f"{plain(first)} and {plain(second)} were already kept as different people: "
            "nothing to do"
        )
    return 0


def _print_kept(dfe: str | None, as_json: bool, ctx: Context) -> int:
    from uso_tui.sync.kept_apart import kept_apart  # noqa: PLC0415

    pairs = kept_apart(ctx.store(), dfe)
    if as_json:
        emit_json([p.public() for p in pairs], ctx.stdout)
        return 0
    if not pairs:
        ctx.note(f"no pairs kept as different people{f' at {dfe}' if dfe else ''}")
        return 0
    out = ctx.stdout
    for number, pair in enumerate(pairs, 1):
        out.write(f"{number}. kept as different people by {plain(pair.by)} at {plain(pair.at)}\n")
        if pair.words:
            out.write(f"   {pair.words}\n")
        _pair_table(zip(pair.usernames, pair.accounts, strict=True), out)
    out.write("list a pair for review again with: uso-tui duplicate unkeep A B\n")
    return 0


def cmd_unkeep(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.kept_apart import review_again  # noqa: PLC0415

    first, second = args.a.strip(), args.b.strip()
    done = review_again(ctx.store(), first, second, operator=ctx.operator, now=ctx.now())
    if args.json:
        emit_json(
            {"accounts": sorted([first, second]), "kept": False, "was_kept": done}, ctx.stdout
        )
        return 0
    if not done:  # as asked: not kept (said, not an error, as --json says was_kept false)
        ctx.note(
            f"{plain(first)} and {plain(second)} were not kept as different people: nothing to do"
        )
        return 0
    ctx.stdout.write(
        f"{plain(first)} and {plain(second)} are listed for review again (uso-tui duplicates)\n"
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
