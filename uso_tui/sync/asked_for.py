"""Accounts asked for at the school before its MIS had the person ("User Request Single"): shown
as a record's candidates whatever the weight of evidence says.

Such an account is keyed by hand, often before the person's details are known: a date of birth
guessed (1 January, how a date not known is keyed) or mistyped, a name as the family gave it
(Charlie for a Charlotte) or with a slip. Weighed against a whole local authority, a common name
with a guessed date falls below what a case shows, and the person's record then creates a second
account at the same school, with nothing to say why. So an unlinked account of the school (not
a restored one: someone's who left) is a candidate of a record when both name it:
- the surname the same, a slip of it (auto_link.surname_slip), and the forename (or a
  preferred name) the same, a known-as form of it, or a slip of it, not both a slip;
- the date of birth a guess (for a pupil, the year within one of the record's: only the day and
  month are guessed) or a slip of the record's (a digit, a day, month or year out, day and
  month swapped, or days apart: no sibling is born within NEAR_DAYS but a twin, on the day),
  or any date with the very surname and forename (or a known-as form of it; for a pupil, born
  within a year of the record): a date keyed wholly wrong on the request costs the person a
  second account, another of that very name asked for at the school costs a case;
- no UPN or gender given differently.

A restored account of the school (someone's who left, given back) is a candidate of the record
that held it, its MIS id the same, when its surname or date of birth is the record's or a slip
of it, whatever else differs: it relinks automatically only with the same details (auto_link),
but a record come back with a new UPN or preferred name is still, most likely, its person (one
that shares neither is the id given to someone else).
"""

from __future__ import annotations

from uso_tui.domain.dates import days_between
from uso_tui.domain.models import Account, MisRecord
from uso_tui.domain.names import normalise_cached
from uso_tui.sync.auto_link import Claims, ids_conflict, name_keys, surname_slip
from uso_tui.sync.evidence import dob_level
from uso_tui.sync.match_model import NEAR_DAYS
from uso_tui.sync.matched_names import known_as, names_close, near_keys

GUESSED_DOB = "-01-01"  # the day and month keyed for a date of birth not known

GUESSED = "requested here under this name, its date of birth a guess"
SLIPPED = "requested here under this name, its date of birth a slip of the record's"
ANOTHER_DATE = "requested here under this very name, with another date of birth"
HELD_BEFORE = "held this MIS id before it was restored"


class AskedFor:
    """The school's unlinked accounts (`unlinked`: (surname, date of birth) -> accounts), by
    the initial and the sound of their surname; the restored ones by their former link."""

    def __init__(
        self,
        unlinked: dict[tuple[str, str], list[Account]],
        dfe: str = "",
        claims: Claims | None = None,
    ) -> None:
        self._by_key: dict[str, list[tuple[str, frozenset[str], Account]]] = {}
        self._dfe = dfe
        self._claims = claims  # the export's records, by the unlinked accounts' names
        self._restored: dict[str, list[Account]] = {}
        for (surname, _), accounts in unlinked.items():
            for acc in accounts:
                if acc.previous_link:  # a restored account: not asked for
                    self._restored.setdefault(acc.previous_link, []).append(acc)
                    continue
                if not surname:
                    continue
                entry = (surname, name_keys(acc.forename, acc.preferred_name), acc)
                for key in near_keys(surname):
                    self._by_key.setdefault(key, []).append(entry)

    def of(self, rec: MisRecord) -> list[tuple[Account, str]]:
        """The accounts asked for under the record's name, and the restored one that held its
        MIS id, each with why it is shown."""
        out = [
            (acc, HELD_BEFORE)
            for acc in self._restored.get(f"{self._dfe}/{rec.report}/{rec.mis_id}", ())
            if _alike(rec, acc)
        ]
        return out + self._asked(rec) if self._by_key else out

    def _asked(self, rec: MisRecord) -> list[tuple[Account, str]]:
        surname = normalise_cached(rec.surname)
        if not surname or not rec.dob:
            return []
        names = name_keys(rec.forename, rec.preferred_name)
        forms = names | {form for name in names for form in known_as(name)}
        seen: set[str] = set()
        out: list[tuple[Account, str]] = []
        for key in near_keys(surname):
            for their_surname, their_names, acc in self._by_key.get(key, ()):
                if acc.username in seen:
                    continue
                seen.add(acc.username)
                exact_surname = their_surname == surname
                if not exact_surname and not surname_slip(their_surname, surname):
                    continue
                if their_names & forms:
                    pass  # the same forename, or a known-as form of it
                elif not exact_surname or not any(
                    names_close(ours, theirs) for ours in names for theirs in their_names
                ):
                    continue  # a slip in both names: another person, as likely as not
                why = _dated(rec, acc)
                if not why and exact_surname and their_names & forms and self._another(rec, acc):
                    why = ANOTHER_DATE  # the names as the record's: a date keyed wholly wrong
                if why and not ids_conflict(rec, acc):
                    out.append((acc, why))
        return out

    def _another(self, rec: MisRecord, acc: Account) -> bool:
        """Whether the account, under the record's very names, may be its person's with a date
        keyed wholly wrong: its date is another (not none: an account without one was asked for
        without it), a pupil's within a year of the record's (a child born years apart is
        another child of the name), and no other record of the export has its very names and
        date (that record is its person: two namesakes, each asked for)."""
        if not acc.dob or acc.dob == rec.dob:
            return False
        if rec.report == "students" and not _year_near(rec.dob, acc.dob):
            return False
        return self._claims is None or not self._claims.of_another(acc, rec.mis_id)


def _alike(rec: MisRecord, acc: Account) -> bool:
    """Whether the record's surname or date of birth is the account's or a slip of it."""
    ours, theirs = normalise_cached(rec.surname), normalise_cached(acc.surname)
    if ours and theirs and (ours == theirs or surname_slip(theirs, ours)):
        return True
    return bool(rec.dob and acc.dob and dob_level(rec.dob, acc.dob) != "different")


def _dated(rec: MisRecord, acc: Account) -> str:
    """Why the account's date of birth does not rule out the record's person ("" if it does)."""
    dob = acc.dob or ""
    if dob.endswith(GUESSED_DOB) and (rec.report != "students" or _year_near(rec.dob, dob)):
        return GUESSED
    if dob and dob_level(rec.dob or "", dob) not in ("different", "equal"):
        return SLIPPED
    days = days_between(rec.dob, dob)
    if days is not None and 0 < days <= NEAR_DAYS:
        return SLIPPED  # days apart (10 June keyed 8 June): one date, no sibling born so close
    return ""


def _year_near(dob: str | None, guessed: str | None) -> bool:
    """A pupil's year of birth within one of the guessed date's: only its day and month are the
    guess (a child born years apart is another child of the name)."""
    try:
        return abs(int((dob or "")[:4]) - int((guessed or "")[:4])) <= 1
    except ValueError:
        return True
