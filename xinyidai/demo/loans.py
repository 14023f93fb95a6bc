"""A disbursed loan's month-end performance as its bank reports it (DESIGN §4: default = 90+ days past
due or written off within 12 months of disbursement).

A defaulting loan goes 1–29, 30–59, 60–89 days past due over three month-ends and is 90+ at the
fourth (`default_k` month-ends after disbursement, 4–11, so always inside the 12-month window);
some are written off months later. A loan that does not default may fall briefly behind (an
episode under 60 days) and catch up. Interest-only loans (先息后本) keep their balance until
maturity, longer ones amortise in equal principal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from xinyidai.demo import clock

LAST_REPORT = clock.month_end(clock.DATA_END)
STATE_OF_STATUS = {"repaying": "repaying", "overdue": "overdue", "repaid": "repaid", "defaulted": "defaulted",
                   "written_off": "defaulted"}


@dataclass(frozen=True)
class LoanTerms:
    disbursed_on: date
    principal_fen: int
    term_months: int
    interest_only: bool
    default_k: int | None = None
    write_off_after: int | None = None  # month-ends after the default, None = never (yet)
    episode_start: int | None = None
    episode_months: int = 0


@dataclass(frozen=True)
class Report:
    as_of: date
    outstanding_fen: int
    days_past_due: int
    status: str
    reported_at: datetime


def performance(terms: LoanTerms, rng: np.random.Generator) -> list[Report]:
    """Month-end reports from the disbursement month up to the last data month (or repaid / written off)."""
    reports: list[Report] = []
    start = terms.disbursed_on.replace(day=1)
    maturity = clock.add_months(start, terms.term_months).replace(day=min(terms.disbursed_on.day, 28))
    installments_paid = 0
    for k in range(0, 120):
        as_of = clock.month_end(clock.add_months(start, k))
        if as_of > LAST_REPORT:
            break
        when = clock.office_time(clock.working_day(as_of + timedelta(days=int(rng.integers(3, 9)))), rng.random())
        balance = _balance(terms, installments_paid)
        if terms.default_k is not None and k >= terms.default_k - 3:
            stage = k - (terms.default_k - 3)
            dpd = _days_past_due(stage, rng)
            written_off = terms.write_off_after is not None and stage - 3 >= terms.write_off_after
            status = "overdue" if stage < 3 else ("written_off" if written_off else "defaulted")
            reports.append(Report(as_of, 0 if written_off else balance, dpd, status, when))
            if written_off:
                break
        elif as_of >= maturity:
            reports.append(Report(as_of, 0, 0, "repaid", when))
            break
        elif terms.episode_start is not None and terms.episode_start <= k < terms.episode_start + terms.episode_months:
            first = k == terms.episode_start
            reports.append(Report(as_of, balance, int(rng.integers(3, 28)) + (0 if first else 30), "overdue", when))
        else:
            installments_paid = k  # one instalment a month after the first; arrears caught up
            reports.append(Report(as_of, _balance(terms, installments_paid), 0, "repaying", when))
    return reports


def _balance(terms: LoanTerms, installments_paid: int) -> int:
    if terms.interest_only:
        return terms.principal_fen
    left = max(0, terms.term_months - installments_paid)
    return int(round(terms.principal_fen * left / terms.term_months))


def _days_past_due(stage: int, rng: np.random.Generator) -> int:
    if stage < 3:
        return 30 * stage + int(rng.integers(1, 30))
    return 90 + 30 * (stage - 3) + int(rng.integers(0, 30))


def defaulted_within_12_months(terms: LoanTerms, reports: list[Report]) -> bool:
    """The label as DESIGN §4 defines it, read back from the reports (tests check the plan against it)."""
    horizon = clock.add_months(terms.disbursed_on.replace(day=1), 12).replace(day=min(terms.disbursed_on.day, 28))
    return any(r.as_of <= horizon and (r.days_past_due >= 90 or r.status == "written_off") for r in reports)
