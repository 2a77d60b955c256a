"""How the console writes things: literal text from the MIS or a person (never markup, control
characters made visible), times, statuses, counts, names, and audit diffs. Shared by every screen so
that screens do not import one another for their wording."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from uso_tui.domain.models import COUNT_KEYS, AuditEvent, Run
from uso_tui.sync.case_offers import case_named
from uso_tui.sync.excluded_people import excluded_words

_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Cn"}


def _visible(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # C0 control pictures: ␀ .. ␟ (␛ for escape)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}"


def clean(value: object) -> str:
    """A string safe to show: control and format characters replaced by visible symbols."""
    if value is None:
        return ""
    text = str(value)
    if (
        text.isprintable()
    ):  # fast path: nothing to replace (isprintable is False for Cc/Cf/Zl/Zp...)
        return text
    return "".join(
        _visible(ch)
        if (ch != " " and unicodedata.category(ch) in _BAD_CATEGORIES) or ch in "\t\n\r\x0b\x0c"
        else ch
        for ch in text
    )


def plain(value: object, style: str = "") -> Text:
    """A rich Text holding `value` literally (no markup parsing), control characters made visible."""
    return Text(clean(value), style=style, no_wrap=False, end="")


def hanging(text: Text) -> Group:
    """`text` a line at a time, each indented line (a list item: an account, a difference)
    wrapping under its own indent rather than from the left edge, as a narrow dialog shows a
    long one. Each line is a Text of its own ending its line (in a Group, a Text without its
    end runs into the next one)."""
    out: list[Text | Padding] = []
    for line in text.split("\n", allow_blank=True):
        line.end = "\n"
        indent = len(line.plain) - len(line.plain.lstrip(" "))
        if indent and line.plain.strip():
            line = line[indent:]
            line.end = "\n"
            out.append(Padding(line, (0, 0, 0, indent)))
        else:
            out.append(line)
    return Group(*out)


def cell(value: object, style: str = "") -> Text:
    """A DataTable cell: always a Text, never a markup str."""
    return Text(clean(value), style=style, no_wrap=True, overflow="ellipsis", end="")


def ends_kept(text: Text, width: int) -> Text:
    """`text` cut in the middle to fit `width` columns: a username's end (its number and local
    authority: jsmith12.204 beside jsmith2.204) is what tells two alike apart, and a table cuts
    a cell's end. Only plain ASCII is cut so (one character, one column)."""
    if text.cell_len <= width or width < 5 or not text.plain.isascii():
        return text
    cut = middle_cut(text.plain, width)  # (its own spans kept: cut where middle_cut cuts)
    head = cut.index("…")
    tail = len(cut) - head - 1
    return Text.assemble(
        text[:head],
        Text("…", style=text.style),
        text[len(text) - tail :],
        no_wrap=True,
        overflow="ellipsis",
        end="",
    )


def middle_cut(value: str, cells: int) -> str:
    """`value` cut in the middle to at most `cells` columns (wide characters count two): its
    start and its end kept, where two long names that differ usually differ."""
    if cell_len(value) <= cells:
        return value

    def fitting(chars: str, room: int) -> str:
        out = ""
        for ch in chars:
            if cell_len(out + ch) > room:
                break
            out += ch
        return out

    tail = fitting(value[::-1], cells // 2)[::-1]  # (the "…" takes a column of the head's half)
    head = fitting(value, cells - 1 - cell_len(tail))
    return f"{head}…{tail}"


def when(iso: str | None, *, seconds: bool = False) -> str:
    """`2026-11-28T06:00:03` -> `2026-11-28 06:00` (or with seconds); '' for None."""
    if not iso:
        return ""
    stamp = iso.replace("T", " ")
    return stamp[:19] if seconds else stamp[:16]


def elapsed(then: datetime, now: datetime) -> float:
    """Seconds from `then` to `now`; two local (naive) times through the host's time zone, as
    the clocks on the wall moved an hour more or less than the time that passed at a change."""
    if then.tzinfo is None and now.tzinfo is None:
        try:
            return (now.astimezone() - then.astimezone()).total_seconds()
        except (OverflowError, OSError, ValueError):  # out of the platform's range
            pass
    return (now - then).total_seconds()


def ago(iso: str | None, now: datetime) -> str:
    """A short relative time (`5m ago`, `3h ago`, `2d ago`) against the app's clock."""
    if not iso:
        return ""
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    if then.tzinfo is not None and now.tzinfo is None:
        then = then.replace(tzinfo=None)
    secs = elapsed(then, now)
    if secs < 0:
        return "in future"
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{int(secs // 60)}m ago"
    if secs < 172800:
        return f"{int(secs // 3600)}h ago"
    return f"{int(secs // 86400)}d ago"


# Outcome words carry the meaning; colour only helps (NO_COLOR=1 keeps the words).
STATUS_STYLE = {
    "failed": "bold red",
    "held": "bold yellow",
    "running": "bold cyan",
    "cancelled": "magenta",
    "succeeded": "green",
    "undone": "dim strike",
}
STATUS_WORD = {
    "failed": "FAILED",
    "held": "HELD",
    "running": "running",
    "cancelled": "cancelled",
    "succeeded": "ok",
}


def status_text(status: str | None) -> Text:
    if not status:
        return Text("never", style="dim", end="")
    return Text(STATUS_WORD.get(status, status), style=STATUS_STYLE.get(status, ""), end="")


def kv_grid(pairs: Iterable[tuple[str, object]], width: int = 16) -> Table:
    """Label/value rows (labels ours, values literal): a value too long for its line wraps under
    itself, not under the labels."""
    grid = Table.grid()
    grid.add_column(width=width, no_wrap=True, style="bold")
    grid.add_column(ratio=1, overflow="fold")
    for label, value in pairs:
        grid.add_row(label, value if isinstance(value, Text) else plain(value))
    return grid


def full_name(forename: object, surname: object, preferred: object = "") -> str:
    name = f"{clean(forename)} {clean(surname)}".strip()
    if preferred and preferred != forename:
        name += f" ({clean(preferred)})"
    return name


COUNT_LABELS = {
    "fetched": "fetched",
    "created": "created",
    "updated": "updated",
    "auto_linked": "auto-linked",
    "restored": "restored",
    "unallocated": "unallocated",
    "held_unallocations": "held unallocations",
    "needs_matching": "queued for matching",
    "future": "future starters",
    "invalid": "invalid",
    "excluded": "excluded",
    "unchanged": "unchanged",
    "leaver": "leavers",
}


# Heading the accounts a restore would duplicate (sync.duplicates.also_active).
ALSO_ACTIVE = (
    "Already active with the same UPN, or the same names and date of birth (or a date a slip "
    "apart) (the same person? restored, they would have two accounts):"
)


def accounts_list(heading: str, hits: Iterable[object], style: str = "bold yellow") -> Text:
    """A heading, then one line per account (username, school, status), for a question that
    warns of accounts elsewhere; empty when there are none."""
    out = Text(end="")
    hits = list(hits)
    if hits:
        out.append(f"\n{heading}\n")
        for hit in hits:
            username, school = getattr(hit, "username", ""), getattr(hit, "school", None)
            home = getattr(hit, "home", None)  # an unallocated account's: where it was
            where = school or (f"of {home}" if home else "-")
            line = f"  {username}  {where}  {getattr(hit, 'status', '')}"
            out.append_text(plain(line, style))
            out.append("\n")
    return out


# why a `y` typed with the restore's `r` is dropped: it was typed before a warning was shown
MARKED_HIDDEN = "the question names marked accounts the filter hides"
RESTORE_WARNED = (
    "the question warns of the person's active account, an open case or the exclusion list"
)
OFFERED = (
    "Offered by an open match case (if that is the person, match it there: restored, it is "
    "linked to no record and the case stays open):"
)


def restore_warnings(
    hits: Iterable[object],
    offers: Iterable[tuple[str, Any, Any]],
    excluded: Iterable[tuple[str, str, Any]] = (),
) -> Text:
    """What a restore's question warns of: the person's other active accounts (`hits`:
    duplicates.also_active's), then the open cases that offer an account about to be restored
    (`offers`: case_offers.offering's, as (username, case, score)), then the accounts whose
    person is on their school's exclusion list (`excluded`: excluded_people.excluded_at_home's,
    never relinked); empty when none."""
    out = accounts_list(ALSO_ACTIVE, hits)
    offers = list(offers)
    if offers:
        out.append(f"\n{OFFERED}\n")
        for username, case, score in offers:
            out.append_text(plain(f"  {username}  {score}% in {case_named(case)}", "bold yellow"))
            out.append("\n")
    for username, school, entry in excluded:
        out.append("\n")
        out.append_text(plain(excluded_words(username, school, entry) + ".", "bold yellow"))
        out.append("\n")
    return out


def counts_short(counts: dict[str, int]) -> str:
    """`+3 ~2 -1 ?4 !1`: created, updated, unallocated (or held), matching, invalid; `r2`
    restored, when any (an undo's unallocations put back read as nothing done)."""
    held, restored = counts.get("held_unallocations", 0), counts.get("restored", 0)
    out = f"+{counts.get('created', 0)} ~{counts.get('updated', 0)} -{counts.get('unallocated', 0)}"
    if held:
        out += f" h{held}"
    if restored:
        out += f" r{restored}"
    return out + f" ?{counts.get('needs_matching', 0)} !{counts.get('invalid', 0)}"


def run_details(run: Run) -> Group:
    """A run's details: a long value (an error) wraps under itself, not under the labels."""
    pairs: list[tuple[str, object]] = [
        ("Run", run.run_id),
        ("School", run.school),
        ("Status", status_text(run.status)),
        ("Trigger", run.trigger),
        ("Operator", run.operator),
        ("Reports", ", ".join(run.reports) or "all enabled"),
        ("Started", when(run.started_at, seconds=True)),
        ("Finished", when(run.finished_at, seconds=True) or "-"),
    ]
    if run.dry_run:
        pairs.append(("Dry run", "yes (nothing was applied)"))
    if run.error:
        pairs.append(("Error", run.error))
    if run.confirmed_by:
        pairs.append(("Confirmed", f"by {run.confirmed_by} at {when(run.confirmed_at)}"))
    out = Text("\nCounts\n", style="", end="")
    out.stylize("bold", 0, len("\nCounts"))
    for key in COUNT_KEYS:
        # (a run made before a count was kept says "-", not a 0 it never counted)
        value = f"{run.counts[key]:>7,}" if key in run.counts else f"{'-':>7}"
        out.append(f"  {COUNT_LABELS.get(key, key):<22}{value}\n")
    if run.held_usernames:
        out.append(
            f"\nHeld unallocations ({len(run.held_usernames)}), applied only when confirmed:\n",
            style="bold",
        )
        for username in run.held_usernames:
            out.append("  ")
            out.append_text(plain(username))
            out.append("\n")
    return Group(kv_grid(pairs, width=12), out)


def event_details(entry: AuditEvent) -> Group:
    """An audit event's details: a long value wraps under itself, not under the labels."""
    pairs: list[tuple[str, object]] = [
        ("At", when(entry.at, seconds=True)),
        ("Operator", entry.operator),
        ("School", entry.school or "-"),
        ("Action", words(entry.action)),
        ("Subject", entry.subject),
    ]
    if entry.run_id:
        pairs.append(("Run", entry.run_id))
    heading = Text("\nBefore -> after (* changed)", style="bold", end="\n")
    return Group(kv_grid(pairs, width=10), heading, diff_grid(entry.before, entry.after))


def newest_first(entry: AuditEvent) -> tuple:
    """Sort key: newest first; events of one second keep the store's order within a school (one
    transaction's events are in the order they happened) and schools come in a fixed order."""
    return (_negate(entry.at), entry.school or "")


def _negate(iso: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in iso or "")


# The store's and the MIS's names for fields, outcomes and actions, as an operator reads them
_WORDS = {"dob": "date of birth", "dob raw": "date of birth as sent", "mis id": "MIS id"}
_WORD_PARTS = {"upn": "UPN", "guid": "GUID", "mis": "MIS", "id": "id", "la": "LA"}


def words(code: str) -> str:
    """`needs_matching`, `run_held`, `person_guid` as words: needs matching, run held, person
    GUID (the JSON, the CSV and the command line keep the code)."""
    text = str(code).replace("_", " ")
    said = _WORDS.get(text)
    if said is not None:
        return said
    return " ".join(_WORD_PARTS.get(part, part) for part in text.split(" "))


def value_text(value: object) -> str:
    """A before/after value on one line, literal (a yes/no as a word, not Python's)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) or "[]"
    if isinstance(value, dict):
        return ", ".join(f"{words(k)}={value_text(v)}" for k, v in value.items()) or "{}"
    return clean(value)


def changed_keys(before: dict | None, after: dict | None) -> list[str]:
    """The fields an update changed (none of a record made or removed whole)."""
    if not isinstance(before, dict) or not isinstance(after, dict) or not before or not after:
        return []
    return [k for k in {**before, **after} if before.get(k) != after.get(k)]


def change_summary(before: dict | None, after: dict | None, limit: int = 4) -> str:
    """`surname: Smith -> Smith-Jones; school: 204-3210 -> -` (the keys that changed)."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if not before and not after:
        return ""
    if not before:
        if "forename" in after or "surname" in after:  # an account: who and where, not every key
            who = f"{value_text(after.get('forename'))} {value_text(after.get('surname'))}"
            rest = [value_text(after[k]) for k in ("role", "dob", "school") if after.get(k)]
            return " ".join([who, *rest])
        keys = [k for k in after if after[k] not in (None, "", [], {})]
        return ", ".join(f"{words(k)}={value_text(after[k])}" for k in keys[:limit])
    if not after:
        return "removed"
    changed = changed_keys(before, after)
    parts = [
        f"{words(k)}: {value_text(before.get(k))} -> {value_text(after.get(k))}" for k in changed
    ]
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def diff_grid(before: dict | None, after: dict | None) -> Table | Text:
    """Every key of before/after on its own row, changed ones marked with `*` (not only colour);
    a long value wraps in its own column."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    keys = list(dict.fromkeys([*before, *after]))
    if not keys:
        return Text("(no details recorded)", style="dim", end="")
    grid = Table.grid()
    grid.add_column(width=2, no_wrap=True, style="bold yellow")
    grid.add_column(
        width=min(22, max(len(words(key)) for key in keys) + 2), no_wrap=True, style="bold"
    )
    grid.add_column(ratio=1, overflow="fold")
    for key in keys:
        changed = before.get(key) != after.get(key)
        value = Text(end="")
        if key in before and key in after and changed:
            value.append(value_text(before.get(key)))
            value.append(" -> ", style="bold")
            value.append(value_text(after.get(key)))
        elif key in after:
            value.append(value_text(after.get(key)))
        else:
            value.append(value_text(before.get(key)))
            value.append(" (removed)", style="dim")
        grid.add_row("* " if changed else "", Text(clean(words(key)), overflow="ellipsis"), value)
    return grid
