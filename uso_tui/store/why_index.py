"""why.idx: each school's latest processed records, one compact line each, so "why has this
account not been created?" searches every school's latest export with C-speed substring search
and parses no processed file (those are a hundred times larger).

Line: `KEYS\\t[run_id, report, mis_id, forename, surname, preferred, dob, outcome, reason,
username, enrolment_date, leaving_date, upn]\\n`. KEYS is ` tok tok ...`: the normalised
forename, preferred name and surname (and each part of multi-part names), the date of birth,
the MIS id and the UPN (lower-cased); a search word prefix-matches a token exactly when
`" " + word` occurs in KEYS (the words as store.index.search_keys makes them). The payload is a
JSON array (JSON escapes tabs and line breaks: a name cannot break a line).

The transaction that writes a run's processed file writes its school's why.idx in the same
commit: the records of the reports that run fetched replace those of the same reports; the
other reports' records stay as their latest run left them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from uso_tui.domain.models import PROCESSED_COLUMNS
from uso_tui.domain.names import normalise, normalise_cached
from uso_tui.domain.schools import REPORTS
from uso_tui.store.errors import CorruptFile
from uso_tui.store.index import NAME_PARTS, search_keys
from uso_tui.store.storage import read_table

WHY_FIELDS = (
    "run_id",
    "report",
    "mis_id",
    "forename",
    "surname",
    "preferred_name",
    "dob",
    "outcome",
    "reason",
    "username",
    "enrolment_date",
    "leaving_date",
    "upn",
)
_COL = {name: i for i, name in enumerate(PROCESSED_COLUMNS)}
_NO_SPACE = str.maketrans(dict.fromkeys(" \t\n\r", "\x1e"))
_SPACE = re.compile(r"[ \t\n\r]").search


def _key_token(value: Any) -> str:
    """A date of birth, MIS id or UPN as one token (str.translate is slow: most have no space)."""
    text = str(value).strip().lower()
    return text.translate(_NO_SPACE) if _SPACE(text) else text


SAMPLE_FILES = 40


def why_line(values: dict[str, Any]) -> bytes:
    """One record's line (`values`: WHY_FIELDS)."""
    payload = orjson.dumps([values.get(k) for k in WHY_FIELDS])
    return _values_head(values) + b"\t" + payload + b"\n"


def _values_head(values: dict[str, Any]) -> bytes:
    """The KEYS of a line of `values` (WHY_FIELDS)."""
    keys = (values.get("dob"), values.get("mis_id"), values.get("upn"))
    names = (values.get(k) for k in ("forename", "preferred_name", "surname"))
    return _keys_head(*names, keys).encode()


# Where each of WHY_FIELDS is in a processed file's row (run_id is not: None).
_AT = tuple(_COL.get(k) for k in WHY_FIELDS)
_NAMES_AT = tuple(_COL[k] for k in ("forename", "preferred_name", "surname"))
_KEYS_AT = tuple(_COL[k] for k in ("dob", "mis_id", "upn"))
_USER, _OUTCOME, _MIS = WHY_FIELDS.index("username"), _COL["outcome"], _COL["mis_id"]


@lru_cache(maxsize=65_536)
def _name_keys(name: str) -> tuple[str, tuple[str, ...]]:
    """A name's token (normalised whole) and, for a name of several parts, each part's."""
    parts = NAME_PARTS.split(name)  # as names.idx splits them
    more = tuple(t for t in map(normalise_cached, parts) if t) if len(parts) > 1 else ()
    return normalise_cached(name), more


def _keys_head(
    forename: str | None, preferred: str | None, surname: str | None, keys: tuple[Any, ...]
) -> str:
    """A line's KEYS: the whole names, then their parts, then the date of birth, MIS id and
    UPN (`keys`), each once, each after a space. Runs reuse the KEYS of lines already written
    (known_heads): a change to what KEYS hold must rewrite every school's why.idx (an upgrade
    step), or unchanged records keep the old KEYS."""
    fore, fparts = _name_keys(forename or "")
    pref, pparts = _name_keys(preferred or "")
    sur, sparts = _name_keys(surname or "")
    toks = [fore, pref, sur, *fparts, *pparts, *sparts]
    toks += [_key_token(v) for v in keys if v]
    head = " ".join(dict.fromkeys(filter(None, toks)))
    return f" {head}" if head else ""


_PAYLOAD = itemgetter(*_AT[1:])  # run_id (None in _AT) is first


def lines_of_rows(
    run_id: str,
    rows: list[list[Any]],
    created: dict[str, str],
    heads: dict[bytes, bytes] | None = None,
) -> list[bytes]:
    """The lines of a processed file's rows (each the values of PROCESSED_COLUMNS): what
    why_line makes of each, read from the row's positions (every school's records, every
    run: no dict per record). `heads` (known_heads of the school's why.idx): the KEYS of lines
    already written, by the rest of their payload; a row with the same payload takes its KEYS
    from there rather than tokenising its names again (most records are as they were)."""
    out = []
    append, dumps, payload_of, head_of = out.append, orjson.dumps, _PAYLOAD, _keys_head
    known = heads or {}
    fore_at, pref_at, sur_at = _NAMES_AT
    dob_at, mis_at, upn_at = _KEYS_AT
    # the payload is `[run_id,` and then the rest, encoded on its own as `[rest...]`
    start = b"\t[" + dumps(run_id) + b","
    user_at = _USER - 1
    for row in rows:
        rest = payload_of(row)
        if rest[user_at] is None and row[_OUTCOME] == "created":
            rest = list(rest)
            rest[user_at] = created.get(row[_MIS] or "")
        body = dumps(rest)
        head = known.get(body)
        if head is None:
            head = head_of(
                row[fore_at], row[pref_at], row[sur_at], (row[dob_at], row[mis_at], row[upn_at])
            ).encode()
        append(head + start + body[1:] + b"\n")
    return out


def known_heads(index: bytes | None) -> dict[bytes, bytes]:
    """The KEYS of each line of a why.idx, by the rest of its payload after the run id (as
    `[rest...]`): what lines_of_rows may reuse. KEYS are made from the payload's own values, so
    a line's KEYS are right for any row with the same payload, however old the line. Lines not
    of ours are left out."""
    out: dict[bytes, bytes] = {}
    if not index:
        return out
    for line in index.split(b"\n"):
        tab = line.find(b'\t["')
        if tab < 0:
            continue
        close = line.find(b'",', tab + 3)  # run ids hold no quote
        if close < 0:
            continue
        out[b"[" + line[close + 2 :]] = line[:tab]
    return out


def rekeyed_lines(index: bytes) -> bytes:
    """The index with each line's KEYS made again from its own payload (store.rekey: how
    names normalise changed); lines not of ours are kept as they are."""
    out = []
    for line in index.splitlines(keepends=True):
        tab = line.find(b'\t["')
        try:
            if tab < 0:
                raise ValueError("not a line of ours")
            values = dict(zip(WHY_FIELDS, orjson.loads(line[tab + 1 :]), strict=False))
        except (ValueError, TypeError):  # (orjson.JSONDecodeError is a ValueError)
            out.append(line)
            continue
        out.append(_values_head(values) + line[tab:])
    return b"".join(out)


def lines_of_records(run_id: str, records: list[dict[str, Any]], created: dict[str, str]):
    """The lines of a processed file's records as dicts ({record, outcome, reason, username})."""
    rows = [
        [*((row.get("record") or {}).get(k) for k in PROCESSED_COLUMNS[:-3])]
        + [row.get("outcome"), row.get("reason"), row.get("username")]
        for row in records
    ]
    return lines_of_rows(run_id, rows, created)


# Each whole line, with its report as JSON (the payload's second value; run ids hold no quote;
# empty when the line is not one of ours).
_LINE_REPORT = re.compile(rb'(?m)^((?:[^\t\n]*\t\["[^"\n]*",("(?:[^"\\\n]|\\.)*"|null))?[^\n]*\n)')


def merged(old: bytes | None, new_lines: list[bytes], reports: set[str]) -> bytes:
    """The new lines, and the old lines of the reports the new run did not fetch (`old`: see
    _old_index)."""
    kept: list[bytes] = []
    if old:
        fetched = {orjson.dumps(r) for r in reports}  # as the lines hold them
        # (a line not of ours, or one that does not read, damaged from outside, is dropped: kept,
        # it was kept by every run after, and the index said damaged for good)
        kept = [
            line for line, r in _LINE_REPORT.findall(old) if r and r not in fetched and _reads(line)
        ]
    return b"".join(new_lines + kept)


def _reads(line: bytes) -> bool:
    try:
        orjson.loads(line[line.find(b"\t") + 1 :])
    except orjson.JSONDecodeError:
        return False
    return True


def reports_of_rows(rows: list[list[Any]]) -> set[str]:
    report_at = _COL["report"]
    return {r[report_at] for r in rows}


def _hit(line: bytes, home: str) -> dict[str, Any]:
    tab = line.find(b"\t")
    values = orjson.loads(line[tab + 1 :])
    out = dict(zip(WHY_FIELDS, values, strict=False))
    out["school"] = home
    return out


def search_data(
    data: bytes, home: str, probe: bytes, needles: list[bytes], out: list, whole: bool = False
) -> None:
    """The lines of `data` whose KEYS hold every needle (a word after a space) as a token
    prefix, or with `whole`, as a whole token."""
    if whole:  # (a token is followed by a space, the last one by the tab: one added)
        needles = [n + b" " for n in needles]
    pos = data.find(probe)
    while pos != -1:
        start = data.rfind(b"\n", 0, pos) + 1
        tab = data.find(b"\t", start)
        end = data.find(b"\n", pos)
        if end == -1:
            end = len(data)
        if pos < tab:
            keys = data[start:tab] + b" " if whole else data[start:tab]
            if all(n in keys for n in needles):
                out.append(_hit(data[start:end], home))
        pos = data.find(probe, end)


def _damaged(path: Path | None, home: str, what: str) -> CorruptFile:
    """A school's why index that is not as written (cut short, a line that does not read): a
    search would miss its records with nothing said. It is made again by a run."""
    where = f"store file {path}" if path is not None else f"the why index of {home}"
    return CorruptFile(
        f"{where} is damaged ({what}): it is written again by the school's next run of every "
        f"report (a force run, or `uso-tui sync {home}`); nothing was changed"
    )


# a school's index lines made again (latest_lines), for one whose why.idx is damaged
Remade = Callable[[str], bytes | None]


def _index_data(home: str, src: Path | bytes, remade: Remade | None) -> bytes | None:
    """A why index's bytes (None: the school has none yet); every line of one ends its line.
    One cut short is read as `remade(home)` gives it (latest_lines), else said damaged."""
    if isinstance(src, bytes):
        return src
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        return None
    if data and not data.endswith(b"\n"):
        return _instead(home, src, remade, "its last line is cut short")
    return data


def _instead(home: str, src: Path | bytes, remade: Remade | None, what: str) -> bytes:
    """A damaged index's lines made again (`remade`), or CorruptFile naming it: one school's
    damage neither hides its records nor stops a search of every school."""
    lines = remade(home) if remade is not None and isinstance(src, Path) else None
    if lines is None:
        raise _damaged(src if isinstance(src, Path) else None, home, what)
    return lines


def search(
    files: Iterable[tuple[str, Path | bytes]],
    text: str,
    limit: int | None = 200,
    remade: Remade | None = None,
    whole: bool = False,
) -> list[dict[str, Any]]:
    """Every line of the files (a path, or the index itself as bytes) whose KEYS hold every
    word of `text` as a token prefix (`whole`: as a whole token, an MIS id); `limit` lines at
    most. An empty search finds nothing."""
    needles = [(" " + k).encode() for k in search_keys(text)]
    out: list[dict[str, Any]] = []
    if not needles:
        return out
    pending: list[tuple[str, bytes]] = []
    probe: bytes | None = None
    paths: dict[str, Path] = {}

    def flush() -> None:
        for home, data in pending:
            if limit is not None and len(out) >= limit:
                break
            found = len(out)
            try:
                search_data(data, home, probe, needles, out, whole)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                del out[found:]
                lines = _instead(home, paths.get(home) or data, remade, "a line does not read")
                search_data(lines, home, probe, needles, out, whole)  # type: ignore[arg-type]
        pending.clear()

    for home, src in files:
        if limit is not None and len(out) >= limit:
            break
        data = _index_data(home, src, remade)
        if data is None:
            continue
        if isinstance(src, Path):
            paths[home] = src
        pending.append((home, data))
        if probe is None and len(pending) >= SAMPLE_FILES:
            # the rarest word in a sample of files is the cheapest to look for everywhere
            probe = min(needles, key=lambda n: sum(d.count(n) for _, d in pending))
        if probe is not None:
            flush()
    if probe is None:
        probe = min(needles, key=lambda n: sum(d.count(n) for _, d in pending))
    flush()
    out = out[:limit] if limit is not None else out
    out.sort(key=lambda h: (normalise(h.get("surname") or ""), h["school"], h.get("mis_id") or ""))
    return out


# Stands for the run's id in lines drafted before it is known; MIS text is cleaned of control
# characters, so no record's value holds it.
RUN_PLACEHOLDER = "\x01run\x01"


def draft_lines(
    rows: list[Any], heads: dict[bytes, bytes] | None = None
) -> tuple[list[bytes], dict[int, Any]]:
    """The lines of a plan's rows (the values of PROCESSED_COLUMNS), drafted while planning,
    outside the store's lock: the run's id as RUN_PLACEHOLDER and, by position, the rows of
    accounts to be created, whose usernames are known only when the plan is applied. `heads`:
    see lines_of_rows."""
    outcome_at = _COL["outcome"]
    lines = lines_of_rows(RUN_PLACEHOLDER, rows, {}, heads)
    return lines, {n: r for n, r in enumerate(rows) if r[outcome_at] == "created"}


def staged_from_draft(
    path: Path,
    run_id: str,
    lines: list[bytes],
    created_rows: dict[int, Any],
    reports: set[str],
    created: dict[str, str],
) -> bytes:
    """staged_index, from the lines drafted by draft_lines."""
    lines = list(lines)
    for position, row in created_rows.items():
        lines[position] = lines_of_rows(RUN_PLACEHOLDER, [row], created)[0]
    body = b"".join(lines).replace(orjson.dumps(RUN_PLACEHOLDER), orjson.dumps(run_id))
    return merged(_old_index(path, reports), [body], reports)


def staged_index(
    path: Path, run_id: str, rows_json: bytes | None, records: list[dict[str, Any]], created
) -> bytes:
    """The school's why.idx once a run's processed file (its rows as JSON, else its records) is
    written; `path`: the index as committed."""
    if rows_json is not None:
        rows = orjson.loads(rows_json)
        lines, reports = lines_of_rows(run_id, rows, created), reports_of_rows(rows)
    else:
        lines = lines_of_records(run_id, records, created)
        reports = {(r.get("record") or {}).get("report") for r in records}
    return merged(_old_index(path, reports), lines, reports)


def _old_index(path: Path, reports: set[str]) -> bytes | None:
    """The index as committed, whose lines of the reports not in `reports` stay; None when the
    run fetched every report there is (the usual day: nothing of the old index stays, and it is
    neither read nor scanned under the store's lock)."""
    if reports.issuperset(REPORTS):
        return None
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def school_files(layout: Any, dfes: Iterable[str]) -> Iterable[tuple[str, Path | bytes]]:
    """Each school's why.idx; for a school whose runs predate it, the lines of its latest
    processed file, made in memory (its next run writes the index)."""
    for dfe in dfes:
        path = layout.why_idx(dfe)
        if path.exists():
            yield dfe, path
        elif (lines := latest_lines(layout, dfe)) is not None:
            yield dfe, lines


def latest_lines(layout: Any, dfe: str) -> bytes | None:
    """The index lines of each report's latest processed file of the school, made in memory
    (None: it has none): for a school whose runs predate the index, or whose index is damaged.
    As the index holds them: a run of one report (`sync --report staff`) leaves the other's
    lines as its own last run wrote them (its students were dropped)."""
    from uso_tui.domain.models import ProcessedFile  # noqa: PLC0415
    from uso_tui.store.layout import seq_of  # noqa: PLC0415

    try:
        names = [n[:-5] for n in os.listdir(layout.files_dir(dfe)) if n.endswith(".json")]
    except FileNotFoundError:
        return None
    lines: list[bytes] = []
    taken: set[str] = set()
    for name in sorted(names, key=seq_of, reverse=True):  # (at most PROCESSED_FILES_KEPT)
        rows = read_table(layout.processed_file(dfe, name), "processed_file")
        if not rows:
            continue
        pf = ProcessedFile.from_stored(rows[0])
        fresh = [r for r in pf.records if (r.get("record") or {}).get("report") not in taken]
        lines += lines_of_records(pf.run_id, fresh, pf.created)
        taken |= {(r.get("record") or {}).get("report") for r in fresh}
        if taken >= set(REPORTS):
            break
    return b"".join(lines) if taken else None


# A line whose outcome is "future", or whose leaving date (the last but one value) is a date.
_DATED = re.compile(
    rb'^[^\t\n]*\t(\[[^\n]*?(?:,"future",[^\n]*|,"\d{4}-\d\d-\d\d",(?:null|"[^"\n]*")\]))$', re.M
)


# A line of a record rejected for an impossible date of birth (why finds it by that date).
_IMPOSSIBLE = re.compile(
    rb'^[^\t\n]*\t(\[[^\n]*?,"invalid","impossible date of birth [^\n]*)$', re.M
)


def records(
    files: Iterable[tuple[str, Path | bytes]],
    dated: bool = False,
    impossible: bool = False,
    remade: Remade | None = None,
) -> list[dict[str, Any]]:
    """Every line of the files as a dict (WHY_FIELDS and "school"); `dated`: only future
    starters and records with a leaving date; `impossible`: only records rejected for an
    impossible date of birth (each picked out without parsing the others)."""
    out: list[dict[str, Any]] = []
    for home, src in files:
        data = _index_data(home, src, remade)
        if data is None:
            continue
        try:
            out += _records_of(data, home, dated, impossible)
        except orjson.JSONDecodeError:
            lines = _instead(home, src, remade, "a line does not read")
            out += _records_of(lines, home, dated, impossible)
    return out


def _records_of(data: bytes, home: str, dated: bool, impossible: bool) -> list[dict[str, Any]]:
    if impossible and b'"impossible date of birth ' not in data:
        return []  # (most schools have none: a search for the bytes, not a regex per line)
    if dated or impossible:
        payloads = (_DATED if dated else _IMPOSSIBLE).findall(data)
    else:
        payloads = [line[line.find(b"\t") + 1 :] for line in data.splitlines()]
    out = []
    for payload in payloads:
        record = dict(zip(WHY_FIELDS, orjson.loads(payload), strict=False))
        record["school"] = home
        out.append(record)
    return out
