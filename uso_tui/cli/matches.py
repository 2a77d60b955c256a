"""`matches DFE` (open match cases with ranked candidates) and `resolve CASE_ID`."""

from __future__ import annotations

import argparse

from uso_tui.cli.context import Context
from uso_tui.cli.output import emit_json, person, plain, table
from uso_tui.domain.errors import InvalidInput
from uso_tui.domain.models import Account, MatchCase
from uso_tui.domain.schools import check_dfe
from uso_tui.store import unreadable_school
from uso_tui.sync.checks import latest_export_ids, on_roll_elsewhere
from uso_tui.sync.match_model import CREATE_GUARD, level_words


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    matches_parser = sub.add_parser(
        "matches", parents=[parent], help="open match cases of a school"
    )
    matches_parser.add_argument("dfe", metavar="DFE")
    matches_parser.set_defaults(func=cmd_matches)

    resolve_parser = sub.add_parser("resolve", parents=[parent], help="decide a match case")
    resolve_parser.add_argument("case_id", metavar="CASE_ID")
    how = resolve_parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--match", metavar="USERNAME", help="link the record to this account")
    how.add_argument("--create", action="store_true", help="create a new account")
    how.add_argument("--exclude", action="store_true", help="add the name to the exclusion list")
    how.add_argument("--skip", action="store_true", help="leave it for later")
    how.add_argument(
        "--undo", action="store_true", help="reopen a case decided by mistake, reversing it"
    )
    resolve_parser.add_argument(
        "--force",
        action="store_true",
        help="with --match: match to an account that is not a candidate (after seeing what "
        "differs); with --create: create although a candidate still free scores "
        f"{CREATE_GUARD}%% or more",
    )
    resolve_parser.set_defaults(func=cmd_resolve)


def _case_json(
    case: MatchCase,
    now: dict[str, Account] | None = None,
    present: dict[str, set[str] | None] | None = None,
    on_roll: dict[str, str] | None = None,
) -> dict:
    """`now`: the candidates' accounts as they are (`matches`): each candidate then says its
    school and status now, `taken_by`, the MIS id of another record of the school's latest
    export (`present`, by report) linked to it since (else null), and `on_roll_at`, the other
    school whose latest export still holds the record it is linked to (checks.on_roll_elsewhere;
    else null)."""
    data = case.public()
    ids = (present or {}).get(case.report)
    for candidate in data["candidates"] if now is not None else ():
        acc = now.get(candidate["username"])
        candidate["taken_by"] = case.taken_by(acc, ids) if acc is not None else None
        candidate["on_roll_at"] = (on_roll or {}).get(candidate["username"])
        if acc is not None:  # the case keeps them as it saw them
            candidate["status"] = acc.status
            candidate["school"] = acc.school if acc.status == "active" else None
    data.update(
        school=case.school,
        report=case.report,
        status=case.status,
        decision=case.decision,
        run_id=case.run_id,
    )
    return data


def _why(candidate: dict) -> str:
    """The evidence behind a candidate's rank: what agrees, then what differs, with weights."""
    evidence = candidate.get("evidence") or ()
    agree = [f"{f} {level_words(lv)} ({w:+.1f})" for f, lv, w in evidence if w > 0]
    differ = [f"{f} {level_words(lv)} ({w:+.1f})" for f, lv, w in evidence if w <= 0]
    parts = []
    if agree:
        parts.append("agrees: " + ", ".join(agree))
    if differ:
        parts.append("differs: " + ", ".join(differ))
    # why a candidate of a low score is listed at all (see matching.CandidateIndex.candidates)
    # ... what else the operator must know before choosing it: another record of the export
    # claims it, or it held the record's MIS id before it was restored
    listed = ("requested here", "not linked automatically", "also a candidate for", "held this")
    parts.extend(r for r in candidate.get("reasons") or () if r.startswith(listed))
    return "; ".join(parts)


def _where(
    case: MatchCase,
    candidate: dict,
    acc: Account | None,
    present: set[str] | None,
    on_roll: dict[str, str],
) -> str:
    """A candidate's school now (as the case saw it if the account is not found); `taken` when
    another record of the school's latest export (`present`) has been linked to it since; `on
    roll` when its record is still in the latest export of the other school it is linked at."""
    if acc is None:
        return candidate.get("school") or "(unallocated)"
    taken = case.taken_by(acc, present)
    if taken is not None:
        return f"taken (MIS id {taken})"
    if acc.username in on_roll:
        return f"{acc.school} (on roll there)"
    return acc.school if acc.status == "active" and acc.school else "(unallocated)"


def cmd_matches(args: argparse.Namespace, ctx: Context) -> int:
    dfe = check_dfe(args.dfe)
    cases = ctx.store().cases(dfe, "open")
    # where each candidate's account is now (moved, unallocated, linked to another record since)
    unreadable: set[str] = set()
    wanted = {c["username"] for case in cases for c in case.candidates}
    now = ctx.store().find_accounts(wanted, unreadable)
    for home in sorted(unreadable):
        ctx.note(f"note: {unreadable_school(home)}")
    # the MIS ids of the school's latest export of each report: an account linked to a record
    # gone from it (a leaver) is no other person's (MatchCase.taken_by)
    present = {r: latest_export_ids(ctx.store(), dfe, r) for r in sorted({c.report for c in cases})}
    # ... and those still on roll at another school: matching takes them from there
    on_roll = on_roll_elsewhere(ctx.store(), dfe, now.values())
    if args.json:
        emit_json([_case_json(c, now, present, on_roll) for c in cases], ctx.stdout)
        return 0
    if not cases:
        ctx.note(f"no open match cases at {dfe}")
        return 0
    out = ctx.stdout
    for number, case in enumerate(cases, 1):
        rec = case.mis_record()
        out.write(
            f"{case.case_id}  ({number} of {len(cases)})  {case.role}  "
            f"{person(rec.forename, rec.surname, rec.preferred_name)}  born {plain(rec.dob)}  "
            f"MIS id {plain(rec.mis_id)}\n"
        )
        if case.refreshed_at:
            at = case.refreshed_at.replace("T", " ")
            out.write(f"  refreshed {at}: {plain(case.refreshed)}\n")
        rows = [
            [
                f"{i}.",
                c["username"],
                _where(case, c, now.get(c["username"]), present.get(case.report), on_roll),
                f"{c['score']}%",
                person(c.get("forename"), c.get("surname"), c.get("preferred_name")),
                c.get("dob"),
                ", ".join(c.get("differs") or []),
            ]
            for i, c in enumerate(case.candidates, 1)
        ]
        table(
            ["", "Username", "School", "Score", "Name", "DOB", "Unlike"],
            rows,
            right=(0, 3),
            out=out,
        )
        for number, candidate in enumerate(case.candidates, 1):
            why = _why(candidate)
            school = on_roll.get(candidate["username"])
            if school is not None:
                still = f"still in {school}'s latest export: matching moves it from there"
                why = f"{why}; {still}" if why else still
            if why:
                out.write(f"  {number}. {why}\n")
        out.write("\n")
    out.write("decide with: uso-tui resolve CASE_ID (--match USERNAME | --create | --exclude)\n")
    return 0


def cmd_resolve(args: argparse.Namespace, ctx: Context) -> int:
    from uso_tui.sync.actions import (  # noqa: PLC0415
        accounts_for_exclusion,
        probable_holders,
        resolve_case,
        undo_decision,
    )

    if args.force and not (args.match or args.create):
        raise InvalidInput("--force goes with --match USERNAME or --create only")
    if args.undo:
        case = undo_decision(
            ctx.store(), args.case_id.strip(), operator=ctx.operator, now=ctx.now()
        )
        if args.json:
            emit_json(_case_json(case), ctx.stdout)
        else:
            ctx.stdout.write(f"{case.case_id} reopened: decide it again with `uso-tui resolve`\n")
        return 0
    case = resolve_case(
        ctx.store(),
        args.case_id.strip(),
        operator=ctx.operator,
        now=ctx.now(),
        match=args.match.strip() if args.match else None,
        create=args.create,
        exclude=args.exclude,
        skip=args.skip,
        force=args.force,
    )
    rec = case.mis_record()
    has = []
    if args.exclude:  # the person may already have an account: the exclusion stops new ones only
        has = accounts_for_exclusion(
            ctx.store(), case.school, rec.forename or "", rec.surname or "", rec.dob
        )
    if args.json:
        data = _case_json(case)
        if args.exclude:
            data["accounts"] = [a.public() for a in has]
        emit_json(data, ctx.stdout)
    else:
        decision = (case.decision or "left open").replace(":", " ")
        ctx.stdout.write(
            f"{case.case_id} ({person(rec.forename, rec.surname)}): {plain(decision)}\n"
        )
    if has:
        ctx.note(
            excluded_warning(has, case.school)
            + f" (to unallocate: `uso-tui exclusion add {case.school} ... --unallocate`"
            " with the same details)"
        )
    if args.exclude:
        for acc, score in probable_holders(ctx.store(), case, has):
            ctx.note(
                f"warning: {acc.username} ({person(acc.forename, acc.surname)}, {score}%) is "
                f"probably this person, active at {case.school}: the exclusion leaves it as it is"
            )
    return 0


def excluded_warning(accounts: list[Account], dfe: str) -> str:
    """One line naming the active accounts an exclusion names (it leaves them as they are)."""
    names = ", ".join(f"{a.username} ({person(a.forename, a.surname)})" for a in accounts)
    return (
        f"warning: {names} {'is an active account' if len(accounts) == 1 else 'are active accounts'}"
        f" at {dfe} with the excluded name, left as {'it is' if len(accounts) == 1 else 'they are'}"
    )
