"""`accounts`, `account add` (User Request Single), `unallocated`, `restore`."""

from __future__ import annotations

import argparse
import textwrap

from uso_tui.cli.context import Context
from uso_tui.cli.output import (
    emit_json,
    json_text,
    person,
    plain,
    said_left_out,
    search_text,
    table,
)
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account
from uso_tui.domain.schools import check_dfe
from uso_tui.store import CorruptFile

DEFAULT_LIMIT = 500


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    acc = sub.add_parser("accounts", parents=[parent], help="list or search accounts")
    acc.add_argument("dfe", metavar="DFE", nargs="?", help="one school (default: every school)")
    acc.add_argument("--search", metavar="TEXT", default="", help="name, username or DOB")
    acc.add_argument("--status", choices=("active", "unallocated"))
    acc.add_argument(
        "--limit",
        type=int,
        default=None,
        help=f"at most this many (default: all of one school, {DEFAULT_LIMIT} across schools; "
        "with --json all)",
    )
    acc.set_defaults(func=cmd_accounts)

    account = sub.add_parser(
        "account", help="User Request Single; a linked record listed as another person"
    )
    asub = account.add_subparsers(dest="account_command", metavar="SUBCOMMAND", required=True)
    add = asub.add_parser("add", parents=[parent], help="request one account ahead of the MIS")
    add.add_argument("dfe", metavar="DFE")
    add.add_argument("--role", required=True, choices=("staff", "pupil"))
    add.add_argument("--forename", required=True)
    add.add_argument("--surname", required=True)
    add.add_argument("--dob", required=True, metavar="DATE", help="YYYY-MM-DD or DD/MM/YYYY")
    add.add_argument(
        "--force",
        action="store_true",
        help="make it even though an active account at another school has the same names and "
        "date of birth (a second account for a mover)",
    )
    add.set_defaults(func=cmd_account_add)
    same = asub.add_parser(
        "accept-record",
        parents=[parent],
        help="the record linked to it, listed as another person, is its person after all: "
        "the account takes its details",
    )
    same.add_argument("username", metavar="USERNAME")
    same.set_defaults(func=cmd_accept_record)
    release = asub.add_parser(
        "release",
        parents=[parent],
        help="the record linked to it, listed as another person, is another: the account's "
        "holder left (unallocated, its link dropped; the next run takes the record as new)",
    )
    release.add_argument("username", metavar="USERNAME")
    release.set_defaults(func=cmd_release)

    un = sub.add_parser("unallocated", parents=[parent], help="accounts unallocated at a school")
    un.add_argument("dfe", metavar="DFE")
    un.set_defaults(func=cmd_unallocated)

    rs = sub.add_parser("restore", parents=[parent], help="restore an unallocated account")
    rs.add_argument("username", metavar="USERNAME")
    rs.set_defaults(func=cmd_restore)


def print_accounts(accounts: list[Account], ctx: Context, as_json: bool) -> None:
    if as_json:
        emit_json([a.public() for a in accounts], ctx.stdout)
        return
    table(
        ["Username", "Role", "Name", "DOB", "School", "Status", "Source", "MIS id", "Last event"],
        [
            [
                a.username,
                a.role,
                person(a.forename, a.surname, a.preferred_name),
                a.dob,
                a.school or (f"({a.previous_school})" if a.previous_school else None),
                a.status,
                a.source,
                a.mis_id,
                f"{a.last_event} {a.last_event_at.replace('T', ' ')}".strip() or None,
            ]
            for a in accounts
        ],
        out=ctx.stdout,
    )


def _stream_json(store, text: str, status: str | None, ctx: Context, unreadable: set[str]) -> int:
    """What emit_json writes for every matching account of the store, written school by school
    (a school whose data file is corrupt added to `unreadable`, its accounts left out; one
    whose name index is, said here). Returns how many schools were left out here."""
    out, first, left = ctx.stdout, True, 0
    out.write("[")
    for school in store.list_schools():
        try:  # (read whole before any is written: a damaged index leaves the JSON whole)
            hits = store.search_accounts(text, school=school.dfe, status=status, limit=None)
        except CorruptFile as exc:
            ctx.note(f"{exc}: the accounts of {school.dfe} are not listed")
            left += 1
            continue
        for account in store.hit_accounts(hits, unreadable) if hits else ():
            item = json_text(account.public())
            out.write(("\n" if first else ",\n") + textwrap.indent(item, "  "))
            first = False
    out.write("]\n" if first else "\n]\n")
    return left


def _listed(
    store, text: str, dfe: str | None, status: str | None, limit: int | None, unreadable
) -> list[Account]:
    """The accounts a search finds, one more than `limit` if there are (to tell the operator
    the list was cut): searched again for more while some found could not be read (a school's
    damaged data file, added to `unreadable`: its hits had taken the others' places)."""
    extra = 0
    while True:
        want = None if limit is None else limit + 1 + extra
        hits = store.search_accounts(text, school=dfe, status=status, limit=want)
        kept = [h for h in hits if unreadable is None or h.home not in unreadable]
        accounts = store.hit_accounts(kept, unreadable)
        short = len(hits) - len(accounts)
        if want is None or len(hits) < want or len(accounts) > limit or short <= extra:
            return accounts
        extra = short


def _sort_key(account: Account) -> tuple:
    return (account.surname.casefold(), account.forename.casefold(), account.username)


def cmd_accounts(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe) if args.dfe else None
    if args.limit is not None and args.limit < 1:
        raise InvalidInput("--limit must be at least 1")
    search_text(args.search)
    store = ctx.store()
    # across schools, one whose data file is corrupt is left out, said, and the exit is 1; one
    # school's listing fails naming the file
    unreadable: set[str] | None = set() if dfe is None else None
    if dfe is not None and not args.search.strip():
        accounts = [a for a in store.school_accounts(dfe) if args.status in (None, a.status)]
        accounts.sort(key=_sort_key)
        limit = args.limit
    elif dfe is None and args.json and args.limit is None:
        # every account of the store, for a script (a list cut short would mislead it): one
        # school at a time, as a store of a million and a half would not fit in memory at once
        left = _stream_json(store, args.search, args.status, ctx, unreadable)
        return said_left_out(unreadable, "its accounts are not listed", ctx) or (1 if left else 0)
    else:
        limit = args.limit if args.limit is not None else (None if dfe else DEFAULT_LIMIT)
        accounts = _listed(store, args.search, dfe, args.status, limit, unreadable)
    if limit is not None and len(accounts) > limit:
        accounts = accounts[:limit]
        ctx.note(f"showing the first {limit}; narrow with --search or raise --limit")
    print_accounts(accounts, ctx, args.json)
    return said_left_out(unreadable, "its accounts are not listed", ctx)


def cmd_account_add(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync import admin  # noqa: PLC0415 - only the commands that use it load it
    from uso_tui.sync.duplicates import kept_as_seen, listed_words  # noqa: PLC0415

    account = admin.add_account(
        ctx.store(),
        args.dfe,
        role=args.role,
        forename=args.forename,
        surname=args.surname,
        dob=args.dob,
        operator=ctx.operator,
        now=ctx.now(),
        force=args.force,
    )
    dfe = account.school or args.dfe  # as check_dfe wrote it
    records = admin.same_person_in_export(
        ctx.store(), dfe, account.role, account.forename, account.surname, account.dob or ""
    )
    if args.json:
        emit_json(account.public(), ctx.stdout)
    else:
        waits = any(r.get("outcome") == "needs_matching" for r in records)
        ctx.stdout.write(
            f"created {account.username}: {account.role} "
            f"{person(account.forename, account.surname)}, born {account.dob}, at {account.school}"
            + (
                " (its record waits in the matching queue: see the note)\n"
                if waits
                else " (links to the MIS record when it arrives with the same details)\n"
            )
        )
    # The console asks before making it; here it is made, and said (a mover's account is matched,
    # not made again: `uso-tui duplicates` lists the pair until one is unallocated or both kept).
    elsewhere = admin.same_person_elsewhere(
        ctx.store(), dfe, account.role, account.forename, account.surname, account.dob or ""
    )
    for hit in elsewhere:
        where = f"{hit.status} at {hit.school}" if hit.school else f"{hit.status}, of {hit.home}"
        if hit.status == "active":
            kept = kept_as_seen(ctx.store().kept_rows())
            then = f"they now have two accounts ({listed_words(account, hit, kept)})"
        else:
            then = (
                f"matching their record to {hit.username} (or restoring it) would have kept "
                "them to one account"
            )
        ctx.note(
            f"note: {hit.username} ({where}) has the same "
            f"names and date of birth: if that is this person, {then}"
        )
    for record in records:
        then = EXPORT_OUTCOME.get(record["outcome"], record["outcome"]).format(
            dfe=dfe, username=account.username
        )
        ctx.note(
            f"note: {record.get('report')} record {record.get('mis_id')} of {dfe}'s latest export "
            f"has the same names and date of birth and no account: {then}"
        )
    return 0


# What `account add` says of a record of the school's latest export, with no account, that is
# the person it made an account for.
EXPORT_OUTCOME = {
    "needs_matching": "it waits in the matching queue: if that is this person, the school's next "
    "run adds {username} to the case's candidates; to decide it now, resolve the case with "
    "--match {username} --force (`uso-tui matches {dfe}` lists it)",
    "future": "a future starter, which links to {username} when it starts with the same details",
    "excluded": "it is on the exclusion list",
    "invalid": "it is invalid in the MIS",
    "held": "its export is held",
}


def cmd_unallocated(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe)
    from uso_tui.sync.actions import restorable  # noqa: PLC0415

    # An account whose creation was undone is kept but is no one's: never listed for restore.
    accounts = [a for a in ctx.store().school_accounts(dfe) if restorable(a)]
    # Newest unallocations first: the ones an operator most likely wants to restore.
    accounts.sort(key=lambda a: (a.unallocated_at or "", a.username), reverse=True)
    print_accounts(accounts, ctx, args.json)
    if not args.json and not accounts:
        ctx.note(f"no unallocated accounts at {dfe}")
    return 0


def cmd_accept_record(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.linked_record import accept_record  # noqa: PLC0415

    before = ctx.store().account(args.username.strip())
    account = accept_record(
        ctx.store(), args.username.strip(), operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(account.public(), ctx.stdout)
    else:
        ctx.stdout.write(
            f"{account.username}: {person(before.forename, before.surname)} born "
            f"{plain(before.dob)} is now {person(account.forename, account.surname)} born "
            f"{plain(account.dob)}, as its MIS record {plain(account.mis_id)} says\n"
        )
    return 0


def cmd_release(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.linked_record import release_account  # noqa: PLC0415

    account = release_account(
        ctx.store(), args.username.strip(), operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(account.public(), ctx.stdout)
    else:
        ctx.stdout.write(
            f"{account.username} ({person(account.forename, account.surname)}) unallocated and "
            f"unlinked from record {plain((account.previous_link or '').rsplit('/', 1)[-1])}: the "
            "next run takes that record as a new one (restorable: uso-tui restore)\n"
        )
    return 0


def cmd_restore(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.actions import restore_account  # noqa: PLC0415
    from uso_tui.sync.case_offers import restore_note  # noqa: PLC0415
    from uso_tui.sync.duplicates import kept_as_seen, listed_words  # noqa: PLC0415
    from uso_tui.sync.excluded_people import excluded_words  # noqa: PLC0415
    from uso_tui.sync.restore_look import restore_look  # noqa: PLC0415

    account = restore_account(
        ctx.store(), args.username.strip(), operator=ctx.operator, now=ctx.now()
    )
    if args.json:
        emit_json(account.public(), ctx.stdout)
    else:
        ctx.stdout.write(
            f"restored {account.username} ({person(account.forename, account.surname)}) "
            f"at {plain(account.school)} as a non-MIS account\n"
        )
    # The console asks first, naming them; here it is done, and said.
    look = restore_look(ctx.store(), [account])
    kept = kept_as_seen(ctx.store().kept_rows())
    for hit in look.hits:
        ctx.note(
            f"note: {hit.username} (active at {hit.school}) has the same UPN, or the same names "
            "and date of birth (or a date a slip apart): if that is this person, they now have "
            "two accounts "
            f"({listed_words(account, hit, kept)})"
        )
    for _, case, score in look.offers:
        ctx.note(f"note: {plain(restore_note(account.username, case, score))}")
    for username, school, entry in look.excluded:
        ctx.note(f"note: {plain(excluded_words(username, school, entry))}")
    return 0
