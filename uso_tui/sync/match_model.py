"""The matching model's parameters, in one place (DESIGN section 3, "Matching").

A Fellegi-Sunter model: every field of a record and an account is compared at one of a few
agreement levels; each level has `m`, the probability of that level when the two are the same
person, and `u`, when they are not. A level adds log2(m / u) bits of evidence; a missing field
adds none. For an exact agreement of forename or surname, `u` is the name's frequency among the
local authority's accounts (so agreeing on a rare name counts for more than on a common one).

The posterior probability that an account is the record's person is the evidence plus the prior
odds: one account among the local authority's `n`, for a record that has an account at all with
probability PRIOR_HAS_ACCOUNT. The score shown is that probability as a percentage.

The m and u below come from the labelled estates of `uso_tui.iris.hazards` (`python -m
bench.fit_matching` prints each level's share among true pairs and among random pairs of one
local authority beside these values), rounded towards caution: a level never seen among true
pairs there (a different UPN, preferred name or gender) keeps a small m, so it weighs heavily
against but is not proof. The thresholds were chosen with `python -m bench.matching`.
"""

from __future__ import annotations

import math

# field -> level -> (m, u)
LEVELS: dict[str, dict[str, tuple[float, float]]] = {
    # The Unique Pupil Number follows a pupil between schools: equal is near-proof, different is
    # strong evidence of two children (twins share everything else). A temporary UPN (ending in
    # a letter, replaced once the permanent one is known) is compared only when equal.
    "upn": {
        "equal": (0.97, 1e-6),
        # one keying slip apart under the same check letter: one side mistyped (the same child,
        # rarely) or numbers given out one after another (twins registered together, in data
        # whose check letters are not the DfE's): against, but not near-proof of two children
        "slip": (0.004, 0.999),
        "different": (2e-5, 0.999),
    },
    # The record's forename against the account's names: its own forename, a known-as form
    # (preferred name, nickname, Welsh or English form), a middle name used as the forename
    # ("Muhammad" dropped), a slip (prefix, typo), or nothing in common.
    "forename": {
        "equal": (0.86, 0.01),  # u replaced by the name's frequency
        "known_as": (0.06, 0.002),
        "middle": (0.04, 0.005),
        "similar": (0.05, 0.002),
        # one side keyed with an initial only (`M` or `M.` for Madison): as rare among true pairs
        # as among others, agreeing counts as the initial's share of forenames (about 1 in 10
        # for the commonest, J and M)
        "initial": (0.004, 0.0004),
        "different": (0.01, 0.985),
    },
    "preferred": {
        "equal": (0.95, 0.015),
        "different": (0.05, 0.985),
    },
    "middle": {
        "equal": (0.88, 0.005),
        "overlap": (0.05, 0.005),
        "different": (0.07, 0.99),
    },
    # Surnames change on marriage and in families; a Sikh name (Singh, Kaur) may stand for the
    # family surname: neither proves two people.
    "surname": {
        "equal": (0.80, 0.01),  # u replaced by the name's frequency
        "part": (0.05, 0.002),
        "sikh": (0.02, 0.03),
        "similar": (0.05, 0.002),
        "different": (0.08, 0.96),
    },
    # Dates of birth: the slips keying makes. u is for two people of the same role in one
    # local authority (pupils are born within a few years of each other).
    "dob": {
        "equal": (0.85, 2.5e-4),
        "swapped": (0.02, 1e-4),
        "transposed": (0.015, 1.5e-4),
        "one_digit": (0.06, 6e-3),
        "near": (0.03, 6e-4),
        "different": (0.01, 0.993),
    },
    "gender": {
        "equal": (0.985, 0.5),
        "different": (0.015, 0.5),
    },
    # A pupil's year group (or, without one, the school year the date of birth falls in): a near
    # date of birth that puts the child in another year is weaker.
    "year": {
        "equal": (0.95, 0.09),
        "adjacent": (0.04, 0.16),
        "different": (0.01, 0.75),
    },
}

# Levels whose m differs for staff (no `pupil`), as (m, u). Pupils alike in surname and date of
# birth with wholly different forenames are mostly twins, which is what the labelled estates fit
# (m 0.0045, rounded up to 0.01); members of staff have no co-twin in the pool to speak of, and
# more often go by a name unrelated to the one keyed before (an English name taken, a first
# name dropped). On the FEBRL sets (bench/linkage), whose forenames are replaced in about one
# record in twelve, this finds the account of 1-6% more records, with no case more for people
# without one; on the labelled estates it changes nothing. A member of staff's date of birth is
# keyed from a form (a pupil's is checked against a certificate): the FEBRL sets' corrupted records
# carry a wholly different date in 4.5% (their m here), so a rare whole name can still bring the
# account; this finds it for 0.5-1.5% more of their records, with no case more for people without
# one; the labelled estates' staff (whose dates are rarely wrong) gain no case.
STAFF_LEVELS: dict[tuple[str, str], tuple[float, float]] = {
    ("forename", "different"): (0.03, 0.985),
    ("dob", "different"): (0.045, 0.993),
}

# Names at least this frequent count as this frequent (a name seen once in a small local
# authority is not proof of anything).
TF_FLOOR = 2e-4
# A name's frequency is counted as if the pool had this many more accounts, each with the
# field's `u` (small pools say little about how common a name is).
TF_SMOOTHING = 1000
# A middle name agreeing weighs by its share among the accounts of the record's whole name when
# at least this many bear it (match_model's fixed u otherwise).
MIDDLE_NAMESAKES = 5
# The prior assumes a pool of at least this many accounts (a new install's first school is
# not evidence that people are few).
PRIOR_MIN_POOL = 5000
# Of the records that reach matching, the share whose person has an account in the pool.
PRIOR_HAS_ACCOUNT = 0.25
# A pupil's candidate needs at least this probability (percent) to be shown; at most
# MAX_CANDIDATES.
MIN_SCORE = 20
# The same for staff, whose weak candidates are rarely someone else: the look-alikes that make a
# pupil's 10-20% candidates mostly another child (twins, siblings born close together) are not
# among staff. A member of staff's rare whole name with a date keyed wholly wrong scores 5-10% in a
# local authority of a few thousand (FEBRL's pools: DESIGN wants such a candidate). On the FEBRL
# sets this finds the account of 0.4-1.3 records in a hundred more than 10 did, for 2 cases more
# among 4,286 people without one; the labelled estates' staff gain no case. Such a weak candidate
# must also stand out from the others alike (shown).
MIN_SCORE_STAFF = 5
MAX_CANDIDATES = 5
# A candidate no other record holds that scores this much is probably the person: creating a new
# account beside it is refused without --force (the command line), or asks for F (the console).
CREATE_GUARD = 90
# An account asked for ("User Request Single") beside an active account the matcher takes for
# more likely than not the person is asked about first: the operator typing it knows no record
# yet, and a spelling of a name on a twin's date (Arav for Aarav) scores under CREATE_GUARD.
REQUEST_GUARD = 50
# Accounts with the record's whole name are weighed whatever their date of birth, unless more
# than this many bear it (then a wholly different date is never enough).
NAME_BLOCK_MAX = 30
# A date of birth more accounts of the pool hold than this is a placeholder (01/01/2000 keyed for
# everyone whose date was not known), not a birthday: it is no block, and agreeing on it weighs
# only as much as its share of the pool says. Real dates stay far below it (a local authority's
# busiest birthday has a few dozen pupils).
DOB_CROWD = 200
# A 1 January (or 31 December) before this is a placeholder (1900-01-01 keyed for a date not
# known), whoever holds it: no evidence either way. Only those days: other dates that old are
# slips or test data (FEBRL's synthetic people), and weigh as dates.
DOB_PLACEHOLDER_BEFORE = "1910-01-01"
PLACEHOLDER_DAYS = ("01-01", "12-31")


# A linked record whose date of birth is wholly different from its account's, this many whole
# years away or more, is another person (plan._apart), by role: a pupil's id given again to a
# younger child of the same names; a staff record given to a son (a generation, not a form's
# slip). A date corrected is most often a slip (near), within a year, a placeholder replaced,
# or its year keyed with a digit wrong or two swapped (1985 for 1958): those stay updates.
YEARS_APART = {"pupil": 2, "staff": 15}
# ... and that many more where the record's date is a 1 January, keyed for a date not known: an
# estimate (a refugee child's age), years out (plan._years_apart).
ESTIMATED_YEARS = 2
# Two dates of birth this many days apart or fewer are one date mistyped, whatever the digits:
# no two children of a family are born so close but twins, on one day.
NEAR_DAYS = 60
# Ages (years, on the day of the run) a pupil's or a member of staff's date of birth can give:
# a date outside them is a placeholder or a slip (a start date keyed as the date of birth),
# whose replacement is a correction (plan._apart).
PLAUSIBLE_AGES = {"pupil": (2.0, 25.0), "staff": (15.0, 100.0)}


def placeholder_dob(dob: str) -> bool:
    """Whether a (valid, ISO) date of birth is a placeholder keyed for one not known."""
    return dob < DOB_PLACEHOLDER_BEFORE and dob[5:] in PLACEHOLDER_DAYS


# A UPN more accounts hold than this is a placeholder too (a dummy number keyed for pupils without
# one): it is no block and no evidence either way. A real UPN is one child's (a few accounts at
# most, when duplicates were made).
UPN_CROWD = 10

# Levels that are evidence against automatic decisions (DESIGN rule 6: conflicting UPNs or
# preferred names stop an automatic link).
CONFLICTS = frozenset({("upn", "different"), ("preferred", "different"), ("gender", "different")})


def weight(field: str, level: str, tf: float | None = None, *, staff: bool = False) -> float:
    """log2(m / u) of one comparison; `tf`: the agreeing name's frequency, for exact names;
    `staff`: with STAFF_LEVELS."""
    # m and u: the Fellegi-Sunter probabilities of the level among true and among random pairs
    # (the field's standard notation, kept here and in `frequency`).
    m, u = (STAFF_LEVELS.get((field, level)) if staff else None) or LEVELS[field][level]
    if tf is not None and level == "equal":
        u = max(tf, TF_FLOOR)
    return math.log2(m / u)


# A pupil's forename a slip or an initial of another's, with the same surname and date of birth
# (and year group): as likely twins as one child keyed twice (Ava and Eva, Aiden and Aidan,
# twins given one initial). The fields are not independent there (a twin shares the surname,
# date and year, whatever their names' rarity), so the four are weighed together (twin_near_bits)
# rather than summed: about 3% of pupils are twins, and about one pair in ten has names a slip
# apart, so that many of a pool's pupils have a co-twin named so.
TWIN_ALIKE = 0.003


def twin_near_bits(pool_size: int) -> float:
    """The evidence of the forename, surname, date and year together for a pupil whose
    forename is a slip or an initial of the account's and who shares its surname and date of
    birth: its chance among true pairs (a forename keyed short weighs as a slip: as likely the
    child as a twin of the same initial) against that of a co-twin so named among the pool's
    `pool_size`. About 1.5 bits over the prior whatever the pool (75%): a case, under
    CREATE_GUARD, below the account of the record's own forename a date slip away."""
    m = (
        LEVELS["forename"]["similar"][0]
        * LEVELS["surname"]["equal"][0]
        * LEVELS["dob"]["equal"][0]
        * LEVELS["year"]["equal"][0]
    )
    return math.log2(m * max(pool_size, PRIOR_MIN_POOL) / TWIN_ALIKE)


def prior_bits(pool_size: int) -> float:
    """log2 of the prior odds that a given account of a pool of `pool_size` is the person."""
    pool = max(pool_size, PRIOR_MIN_POOL)
    prior = PRIOR_HAS_ACCOUNT / pool
    return math.log2(prior / (1 - prior))


def frequency(field: str, count: int, pool_size: int) -> float:
    """A name's smoothed frequency: `count` accounts of `pool_size` carry it (field: forename,
    surname, or name: forename and surname together; or dob, a placeholder date)."""
    if field == "name":
        u = LEVELS["forename"]["equal"][1] * LEVELS["surname"]["equal"][1]
    else:
        u = LEVELS[field]["equal"][1]
    return (count + TF_SMOOTHING * u) / (pool_size + TF_SMOOTHING)


def least_score(staff: bool = False) -> int:
    """The least score (percent) a candidate may be shown with."""
    return MIN_SCORE_STAFF if staff else MIN_SCORE


def odds(evidence_bits: float, pool_size: int) -> float:
    """The posterior odds that an account is the record's person."""
    return 2.0 ** min(evidence_bits + prior_bits(pool_size), 60.0)


def shown(
    percent: int, evidence_bits: float, total_odds: float, pool_size: int, staff: bool
) -> bool:
    """Whether a candidate scoring `percent` is shown: from MIN_SCORE always; under it, a member
    of staff's from MIN_SCORE_STAFF if it keeps STANDS_OUT% against every account that looks as
    much like the record (`total_odds`: the candidates' odds summed), or, weaker, if it holds
    most of their weight (a rare whole name with a date keyed wrong). One of ten accounts alike
    (a common name on a placeholder date) is no lead."""
    if percent >= MIN_SCORE:
        return True
    if not staff or percent < MIN_SCORE_STAFF:
        return False
    mine = odds(evidence_bits, pool_size)
    if mine / (1.0 + total_odds) * 100 >= STANDS_OUT - 0.5:
        return True
    return total_odds > 0 and mine / total_odds >= MOST


# A weak candidate of a member of staff (MIN_SCORE_STAFF-MIN_SCORE) is shown if it keeps this
# chance (percent) against every account alike, or holds MOST of their weight.
STANDS_OUT = 10
MOST = 0.5


def min_bits(pool_size: int, staff: bool = False) -> float:
    """The least evidence a candidate needs (least_score, given the prior), a little under."""
    least = (least_score(staff) - 0.5) / 100
    return math.log2(least / (1 - least)) - prior_bits(pool_size)


def probability(bits: float) -> float:
    if bits > 60:
        return 1.0
    if bits < -60:
        return 0.0
    odds = 2.0**bits
    return odds / (1 + odds)


def score(evidence_bits: float, pool_size: int) -> int:
    """The posterior probability as an integer percentage, 100 only for near-certainty."""
    return percent(probability(evidence_bits + prior_bits(pool_size)))


def percent(posterior: float) -> int:
    return 100 if posterior >= 0.9995 else min(99, int(posterior * 100 + 0.5))


def level_words(level: str) -> str:
    """A level as the short evidence lines put it after its field (`forename known as`)."""
    return "like a twin's" if level == "twin_near" else level.replace("_", " ")


# Phrases for the console and the CLI.
LEVEL_TEXT: dict[tuple[str, str], str] = {
    ("upn", "equal"): "same UPN",
    ("upn", "slip"): "UPN one keying slip apart",
    ("upn", "different"): "different UPN",
    ("forename", "equal"): "same forename",
    ("forename", "known_as"): "forename known as",
    ("forename", "middle"): "forename is a middle name",
    ("forename", "similar"): "similar forename",
    ("forename", "initial"): "forename given as its initial",
    ("forename", "different"): "different forename",
    ("forename", "twin_near"): "forename like theirs, surname and date alike: a twin?",
    ("preferred", "equal"): "same preferred name",
    ("preferred", "different"): "different preferred name",
    ("middle", "equal"): "same middle names",
    ("middle", "overlap"): "a middle name in common",
    ("middle", "different"): "different middle names",
    ("middle", "twin_near"): "other middle names, names and date alike: a twin?",
    ("surname", "equal"): "same surname",
    ("surname", "part"): "part of the surname",
    ("surname", "sikh"): "Singh/Kaur against a family surname",
    ("surname", "similar"): "similar surname",
    ("surname", "different"): "different surname (changed?)",
    ("dob", "equal"): "same date of birth",
    ("dob", "swapped"): "date of birth: day and month swapped",
    ("dob", "transposed"): "date of birth: two digits transposed",
    ("dob", "one_digit"): "date of birth: one digit off",
    ("dob", "near"): "date of birth: a day, month or year apart",
    ("dob", "different"): "different date of birth",
    ("gender", "equal"): "same gender",
    ("gender", "different"): "different gender",
    ("year", "equal"): "same year group",
    ("year", "adjacent"): "adjacent year group",
    ("year", "different"): "another year group",
    ("name", "common"): "a common full name",
}
