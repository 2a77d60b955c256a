"""Estimates the matching model's m and u probabilities from labelled estates.

    python -m bench.fit_matching [--seeds 3] [--days 8]

Each estate (uso_tui.iris.hazards: generated people with twins, common names, movers, name
changes, slips ...) gets an account for every day-0 record; then, day by day, every record that
changed or arrived is compared with:
- the account(s) of its true person: the share of each agreement level is `m`;
- accounts drawn at random from its local authority (same role): the share is `u`.
The table printed beside the model's current values (sync/match_model.LEVELS) is what the model's
parameters are set from (rounded towards caution: weaker agreement, stronger disagreement).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter, defaultdict

from uso_tui.domain.models import Account
from uso_tui.domain.schools import ROLE_OF_REPORT
from uso_tui.iris.hazards import advance_hazards, generate_hazard_estate
from uso_tui.iris.parse import PARSERS
from uso_tui.sync import match_model
from uso_tui.sync.evidence import compare, person_of_account, person_of_record


def _account(rec, username: str, dfe: str) -> Account:
    from uso_tui.sync.plan import account_from_record  # noqa: PLC0415 - sync imports bench-free

    return account_from_record(rec, dfe, username)


def _no_tf(field: str, name: str) -> None:
    return None


def fit(seeds: int, days: int, random_pairs: int = 40) -> tuple[dict, dict]:
    true_levels: dict[str, Counter] = defaultdict(Counter)
    false_levels: dict[str, Counter] = defaultdict(Counter)
    rng = random.Random(1)
    for seed in range(seeds):
        estate = generate_hazard_estate(seed=seed, n_schools=12, las=2, size=250)
        accounts: dict[int, list[Account]] = defaultdict(list)  # person -> accounts
        by_la_role: dict[tuple[str, str], list[Account]] = defaultdict(list)
        issued = 0
        for school in estate.schools:
            for report in ("students", "staff"):
                parse = PARSERS[report]
                for row in estate.iris_records(school.dfe, report):
                    rec = parse(row)
                    pid = estate.person_of(school.dfe, report, rec.mis_id)
                    issued += 1
                    account = _account(rec, f"u{issued}", school.dfe)
                    accounts[pid].append(account)
                    by_la_role[(school.la, account.role)].append(account)
        for _ in range(days):
            churn = advance_hazards(estate, 1)
            for change in churn:
                recs = estate.school(change.dfe).records(change.report)
                if change.mis_id not in recs:
                    continue
                row = next(
                    x
                    for x in estate.iris_records(change.dfe, change.report)
                    if str(x.get("schoolId", x.get("id"))) == change.mis_id
                )
                rec = PARSERS[change.report](row)
                if not rec.dob or not rec.forename or not rec.surname:
                    continue
                role = ROLE_OF_REPORT[change.report]
                person = person_of_record(rec)
                pupil = role == "pupil"
                for account in accounts.get(change.person_id, ()):
                    if account.role == role:
                        for field, lv, _w in compare(
                            person, person_of_account(account), _no_tf, pupil
                        ):
                            true_levels[field][lv] += 1
                pool = by_la_role[(change.dfe[:3], role)]
                for account in rng.sample(pool, min(random_pairs, len(pool))):
                    if account in accounts.get(change.person_id, ()):
                        continue
                    for field, lv, _w in compare(person, person_of_account(account), _no_tf, pupil):
                        false_levels[field][lv] += 1
    return true_levels, false_levels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--days", type=int, default=8)
    args = ap.parse_args()
    true_levels, false_levels = fit(args.seeds, args.days)
    print(
        f"{'field':10} {'level':11} {'m fitted':>9} {'m model':>8} {'u fitted':>9} {'u model':>8}"
    )
    for field, levels in match_model.LEVELS.items():
        true_total = sum(true_levels[field].values()) or 1
        false_total = sum(false_levels[field].values()) or 1
        for level, (m_model, u_model) in levels.items():
            mf = true_levels[field][level] / true_total
            uf = false_levels[field][level] / false_total
            print(f"{field:10} {level:11} {mf:9.4f} {m_model:8.4f} {uf:9.5f} {u_model:8.5f}")
    for (field, level), (m_model, u_model) in match_model.STAFF_LEVELS.items():
        print(f"for staff, {field} {level}: m {m_model:.4f}, u {u_model:.5f} (STAFF_LEVELS)")


if __name__ == "__main__":
    main()
