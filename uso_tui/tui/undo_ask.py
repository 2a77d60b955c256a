"""Undoing a run from the run history: which runs may be undone, and the preview the operator
reads before `y` (the counts first, then what is left alone, then each account reverted)."""

from __future__ import annotations

from rich.text import Text

from uso_tui.domain.models import Run
from uso_tui.sync.undo import UNDO_TRIGGER, UndoPlan
from uso_tui.tui.format import plain

SHOWN = 40  # accounts listed in the preview (the rest counted)


def undoable(run: Run) -> bool:
    """A run that changed accounts and is not itself an undo (undoing an undo: run again)."""
    return (
        run.trigger != UNDO_TRIGGER
        and not run.dry_run
        and run.shown_status() in ("succeeded", "held")  # (not "undone")
    )


def undo_body(undo_plan: UndoPlan) -> Text:
    counts = (
        ", ".join(f"{k} {v}" for k, v in undo_plan.reverted.items() if v) or "nothing to revert"
    )
    out = Text(end="")
    out.append("Reverts: ", style="bold")
    out.append(counts + "\n")
    if undo_plan.cases:
        out.append(f"Closes {len(undo_plan.cases)} open case(s) of the run.\n")
    # each list under its own heading: the accounts left alone are few and were read as the
    # heading of the reverted ones below them
    _listed(
        out,
        f"Left alone (changed since the run): {len(undo_plan.left_alone)}",
        undo_plan.left_alone,
    )
    for line in undo_plan.id_given_lines()[:SHOWN]:
        out.append_text(plain(f"  {line}"))
        out.append("\n")
    # the account a duplicate decision kept, taken away: its person has none left
    _listed(
        out,
        "Taken away while its duplicate stays unallocated (no account left): "
        f"{len(undo_plan.orphaned)}",
        undo_plan.orphaned_lines(),
    )
    # its person given another account since: restored, they have two
    _listed(
        out,
        f"Restored beside another active account (one person? two accounts): "
        f"{len(undo_plan.beside)}",
        undo_plan.beside_lines(),
    )
    if undo_plan.reverts:
        out.append(f"Reverted: {len(undo_plan.reverts)}\n", style="bold")
    shown = undo_plan.reverts[:SHOWN]
    # the kinds in one column: a username as long as the longest shown (to 20, as lists cut)
    width = min(20, max((len(revert.username) for revert in shown), default=0))
    kind = max((len(revert.kind) for revert in shown), default=0)
    for revert in shown:
        name = revert.username  # cut in its middle past the column, as lists cut one
        if len(name) > width:
            name = f"{name[: width - 8]}…{name[-7:]}"
        line = f"  {name:<{width}}  {revert.kind:<{kind}}  {revert.change}"
        out.append_text(plain(line))
        out.append("\n")
    if len(undo_plan.reverts) > SHOWN:
        out.append(f"  … and {len(undo_plan.reverts) - SHOWN} more\n")
    out.append("As one audited change (a run with trigger undo). It cannot itself be undone.")
    return out


def _listed(out: Text, heading: str, lines: list[str]) -> None:
    """A warning's heading, then its first SHOWN lines (the rest counted); nothing when none."""
    if not lines:
        return
    out.append(heading + "\n", style="bold yellow")
    for line in lines[:SHOWN]:
        out.append_text(plain(f"  {line}"))
        out.append("\n")
    if len(lines) > SHOWN:
        out.append(f"  … and {len(lines) - SHOWN} more\n")
