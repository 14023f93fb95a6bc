"""Financing needs, applications and their event histories (DESIGN §6), planned before anything is stored.

Every application starts `matched` (the platform pairs a need with a product), then a loan officer
claims (受理) it and decides; disbursed loans move with the bank's month-end reports. Timestamps fall
in Shanghai office hours on working days; the newest pipeline runs up to `clock.DEMO_NOW`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from xinyidai.demo import clock, later_sources
from xinyidai.demo.banks import BANKS, DECLINE_REASONS, PURPOSES, products_for
from xinyidai.demo.lending import loan_terms, need_window
from xinyidai.demo.loans import STATE_OF_STATUS, performance

BANK_BY_CODE = {bank.code: bank for bank in BANKS}
PIPELINE_STATES = ("matched", "claimed", "approved", "declined", "withdrawn", "disbursed")
PIPELINE_SHARES = (0.25, 0.2, 0.12, 0.2, 0.13, 0.1)


@dataclass
class LendingPlan:
    needs: list[dict] = field(default_factory=list)
    applications: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    performance: list[dict] = field(default_factory=list)

    def add_need(self, **fields) -> dict:
        need = {"key": len(self.needs), **fields}
        self.needs.append(need)
        return need

    def add_application(self, need: dict, bank_code: str, product_code: str, **fields) -> dict:
        app = {"key": len(self.applications), "need_key": need["key"], "uscc": need["uscc"], "bank_code": bank_code,
               "product_code": product_code, "state": "matched", "claimed": False, "claimed_at": None,
               "decided_at": None, "decline_reason_code": None, "decline_reason_text": None,
               "disbursed_amount_fen": None, "rate_bp": None, "term_months": None, "disbursed_on": None,
               "guarantee_type": None, "days_past_due": 0, "first_loan": None, **fields}
        self.applications.append(app)
        return app

    def move(self, app: dict, to_state: str, when: datetime, channel: str, detail: dict | None = None) -> None:
        """Record a transition; bank channels act as the bank's officer (web, csv) or API token (api)."""
        actor = None if channel == "system" or to_state == "withdrawn" else ("token" if channel == "api" else "officer")
        key = f"{app['bank_code']}:{app['key']}:{len(self.events)}" if channel in ("api", "csv") else None
        self.events.append({"app_key": app["key"], "uscc": app["uscc"], "bank_code": app["bank_code"],
                            "from_state": None if to_state == "matched" else app["state"], "to_state": to_state,
                            "channel": channel, "actor": actor, "idempotency_key": key, "detail": detail or {},
                            "occurred_at": when})
        app["state"] = to_state
        app["updated_at"] = when


@dataclass(frozen=True)
class FirmLookup:
    """What the planner needs per enterprise, as plain arrays (pandas access per row is slow)."""

    district: np.ndarray
    section: np.ndarray
    spans: dict  # the tech qualifications' spans (xinyidai.demo.later_sources.spans)

    @classmethod
    def of(cls, firms: pd.DataFrame) -> FirmLookup:
        return cls(firms.district_code.to_numpy(), firms.industry_section.to_numpy(), later_sources.spans(firms))

    def held(self, row) -> frozenset[str]:
        """What the row's firm holds throughout the days its need may be published."""
        month = getattr(row, "month", clock.HISTORY_MONTHS)
        return later_sources.held_throughout(self.spans, int(row.firm), *need_window(int(month)))


def plan_lending(rng, firms: pd.DataFrame, loans: pd.DataFrame, declined: pd.DataFrame,
                 pipeline: pd.DataFrame) -> LendingPlan:
    plan = LendingPlan()
    firms = FirmLookup.of(firms)
    for loan in loans.sort_values(["disbursed_on", "firm"]).itertuples(index=False):
        _loan(rng, plan, firms, loan)
    for row in declined.itertuples(index=False):
        _declined_need(rng, plan, firms, row)
    for i, row in enumerate(pipeline.itertuples(index=False)):
        state = PIPELINE_STATES[i] if i < len(PIPELINE_STATES) else rng.choice(PIPELINE_STATES, p=PIPELINE_SHARES)
        _pipeline_need(rng, plan, firms, row, str(state))
    return plan


def stamp_need_updates(plan: LendingPlan) -> None:
    """A need was last updated when the last of its applications moved."""
    for app in plan.applications:
        need = plan.needs[app["need_key"]]
        need["updated_at"] = max(need["updated_at"], app["updated_at"])


def demo_enterprise_need(rng, plan: LendingPlan, firms: pd.DataFrame, row) -> None:
    """The demo enterprise's open need: one bank has claimed it, another has just been matched."""
    firms = FirmLookup.of(firms)
    published = _before(rng, clock.DEMO_NOW, 2, 4)
    need = _publish(rng, plan, row, published, status="claimed")
    claimed = plan.add_application(need, row.bank_code, row.product_code, created_at=published,
                                   applied_by_enterprise=True, match_rank=0.93)
    _claim_and_decide(rng, plan, claimed, published, min(_after(rng, published, 0.5, 1.5), clock.DEMO_NOW), None, None)
    bank_code, product_code = _other_product(rng, firms, row)
    if bank_code is not None:
        matched = plan.add_application(need, bank_code, product_code, created_at=published, match_rank=0.87,
                                       applied_by_enterprise=False)
        plan.move(matched, "matched", published, "system")


def _loan(rng, plan: LendingPlan, firms, loan) -> None:
    """A need that ended in this loan. One bank holds a claim at a time (lifecycle rule), so a second bank
    that looked first declined before the lender claimed; one matched later is withdrawn after the loan."""
    disbursed_at = clock.office_time(loan.disbursed_on, rng.random())
    approved_at = _before(rng, disbursed_at, 2, 10)
    claimed_at = _before(rng, approved_at, 1, 12)
    sibling = _other_product(rng, firms, loan) if rng.random() < 0.35 else (None, None)
    first_look = sibling[0] is not None and rng.random() < 0.5
    slow = 8 if rng.random() < 0.12 else 3
    matched_at = _before(rng, claimed_at, 3 if first_look else 0, 10 if first_look else slow)
    need = _publish(rng, plan, loan, matched_at, status="closed")
    other = None
    if sibling[0] is not None:
        other = plan.add_application(need, *sibling, created_at=matched_at, applied_by_enterprise=False,
                                     match_rank=_rank(rng, 0.4))
        plan.move(other, "matched", matched_at, "system")
        if first_look:
            other_claimed = _between(rng, matched_at, claimed_at, 0.0, 0.4)
            other_declined = _between(rng, other_claimed, claimed_at, 0.3, 0.9)
            reason = str(rng.choice(["needs_collateral", "incomplete_materials", "high_leverage"]))
            _claim_and_decide(rng, plan, other, matched_at, other_claimed, other_declined, "declined", reason=reason,
                              skip_match=True)
    app = plan.add_application(need, loan.bank_code, loan.product_code, created_at=matched_at,
                               applied_by_enterprise=bool(rng.random() < 0.4), match_rank=_rank(rng, 0.6))
    _claim_and_decide(rng, plan, app, matched_at, claimed_at, approved_at, "approved")
    _disburse(plan, app, loan, disbursed_at)
    if other is not None and not first_look:
        plan.move(other, "withdrawn", _after(rng, disbursed_at, 0, 3), "web", {"reason_text": "已获其他银行贷款"})
    for report in performance(loan_terms(loan), rng):
        plan.performance.append({"app_key": app["key"], "as_of": report.as_of, "outstanding_fen": report.outstanding_fen,
                                 "days_past_due": report.days_past_due, "status": report.status,
                                 "reported_at": report.reported_at})
        state = STATE_OF_STATUS[report.status]
        app["days_past_due"] = report.days_past_due
        if state != app["state"]:
            detail = {"days_past_due": report.days_past_due} if state in ("overdue", "defaulted") else {}
            plan.move(app, state, report.reported_at, _report_channel(loan.bank_code), detail)


def _declined_need(rng, plan, firms, row) -> None:
    """A need every bank it reached turned down, one after the other; long since expired (closed)."""
    published = clock.office_time(clock.working_day(row.published_on), rng.random())
    need = _publish(rng, plan, row, published - timedelta(minutes=5), status="closed")
    banks_used: set[str] = set()
    free_from = published
    for _ in range(1 + int(rng.random() < 0.4)):
        bank_code, product_code = _other_product(rng, firms, row, exclude=banks_used)
        if bank_code is None:
            break
        banks_used.add(bank_code)
        app = plan.add_application(need, bank_code, product_code, created_at=published, match_rank=_rank(rng, 0.3),
                                   applied_by_enterprise=bool(rng.random() < 0.4))
        claimed_at = _after(rng, free_from, 0, 4)
        free_from = _after(rng, claimed_at, 1, 10)
        _claim_and_decide(rng, plan, app, published, claimed_at, free_from, "declined", reason=row.reason)


def _pipeline_need(rng, plan, firms, row, state: str) -> None:
    """A recent need and where its first application stands today (DEMO_NOW)."""
    age_days = {"matched": (0, 9), "claimed": (4, 20), "approved": (8, 30), "declined": (5, 60),
                "withdrawn": (3, 60), "disbursed": (25, 45)}[state]
    published = _before(rng, clock.DEMO_NOW, *age_days)
    status = {"matched": "open", "claimed": "claimed", "approved": "claimed", "declined": "open",
              "withdrawn": "withdrawn", "disbursed": "closed"}[state]
    need = _publish(rng, plan, row, published - timedelta(minutes=5), status=status)
    app = plan.add_application(need, row.bank_code, row.product_code, created_at=published,
                               match_rank=_rank(rng, 0.5), applied_by_enterprise=bool(rng.random() < 0.4))
    if state == "matched":
        plan.move(app, "matched", published, "system")
        return
    if state == "withdrawn":
        plan.move(app, "matched", published, "system")
        plan.move(app, "withdrawn", _after(rng, published, 1, 3), "web", {"reason_text": "资金需求已解决"})
        return
    claimed_at = min(_after(rng, published, 0, 3), clock.DEMO_NOW - timedelta(hours=2))
    if state == "claimed":
        _claim_and_decide(rng, plan, app, published, claimed_at, None, None)
        return
    decided_at = min(_after(rng, claimed_at, 1, 6), clock.DEMO_NOW - timedelta(hours=1))
    decided_at = max(decided_at, claimed_at + timedelta(minutes=20))
    if state == "declined":
        _claim_and_decide(rng, plan, app, published, claimed_at, decided_at, "declined", reason=row.reason)
        return
    _claim_and_decide(rng, plan, app, published, claimed_at, decided_at, "approved")
    if state == "disbursed":
        day = clock.working_day(max(decided_at.date() + timedelta(days=3), date(2026, 11, 2)))
        when = clock.office_time(min(day, clock.DEMO_NOW.date() - timedelta(days=1)), rng.random())
        _disburse(plan, app, row._replace(disbursed_on=when.date()), when)


def _publish(rng, plan, row, before: datetime, status: str) -> dict:
    published_at = before - timedelta(minutes=int(rng.integers(1, 40)))
    guarantees = [row.guarantee] + (["信用"] if row.guarantee != "信用" and rng.random() < 0.4 else [])
    return plan.add_need(
        uscc=row.uscc, amount_fen=int(row.need_fen), term_months=int(row.term_months),
        purpose=PURPOSES[int(rng.integers(len(PURPOSES)))], purpose_detail=None, guarantee_types=guarantees,
        urgency=_pick(rng, ("normal", "high", "low"), (0.6, 0.85)),
        contact_preference=_pick(rng, ("电话", "线上", "上门"), (0.6, 0.9)), max_contacts=3,
        open_to_all_banks=bool(rng.random() < 0.9), status=status, published_at=published_at, updated_at=published_at,
    )


def _claim_and_decide(rng, plan, app, matched_at, claimed_at, decided_at, decision, reason=None, skip_match=False):
    if not skip_match:
        plan.move(app, "matched", matched_at, "system")
    channel = _bank_channel(rng, app["bank_code"])
    plan.move(app, "claimed", claimed_at, channel)
    app.update(claimed=True, claimed_at=claimed_at)
    if decision is None:
        return
    code, text = DECLINE_REASONS.get(reason, (None, None))
    detail = {"reason_code": code, "reason_text": text} if decision == "declined" else {}
    plan.move(app, decision, decided_at, channel, detail)
    app["decided_at"] = decided_at
    if decision == "declined":
        app.update(decline_reason_code=code, decline_reason_text=text)


def _disburse(plan, app, loan, when: datetime) -> None:
    app.update(disbursed_amount_fen=int(loan.principal_fen), rate_bp=int(loan.rate_bp),
               term_months=int(loan.term_months), disbursed_on=loan.disbursed_on, guarantee_type=loan.guarantee,
               first_loan=bool(loan.first_loan))
    detail = {"amount_fen": int(loan.principal_fen), "rate_bp": int(loan.rate_bp),
              "term_months": int(loan.term_months), "guarantee_type": loan.guarantee,
              "disbursed_on": loan.disbursed_on.isoformat()}
    plan.move(app, "disbursed", when, _bank_channel_fixed(app["bank_code"]), detail)


def _other_product(rng, firms, row, exclude=frozenset()) -> tuple[str | None, str | None]:
    """Another bank's product the firm qualifies for (same guarantee if possible, else 信用)."""
    fits = products_for(firms.district[row.firm], firms.section[row.firm], False, firms.held(row))
    taken = {getattr(row, "bank_code", None), *exclude}
    options = [(b.code, p.code, p.guarantee) for b, p in fits if b.code not in taken]
    same = [o for o in options if o[2] == row.guarantee] or [o for o in options if o[2] == "信用"]
    if not same:
        return None, None
    bank_code, product_code, _ = same[int(rng.integers(len(same)))]
    return bank_code, product_code


def _bank_channel(rng, bank_code: str) -> str:
    return "api" if rng.random() < BANK_BY_CODE[bank_code].api_share else "web"


def _bank_channel_fixed(bank_code: str) -> str:
    return "api" if BANK_BY_CODE[bank_code].api_share >= 0.5 else "web"


def _report_channel(bank_code: str) -> str:
    """Month-end performance comes from the bank's core system: by API, or as a CSV upload."""
    return "api" if BANK_BY_CODE[bank_code].api_share >= 0.5 else "csv"


def _pick(rng, options: tuple[str, ...], cumulative: tuple[float, ...]) -> str:
    u = rng.random()
    return next((o for o, c in zip(options, cumulative, strict=False) if u < c), options[-1])


def _rank(rng, low: float) -> float:
    return round(float(low + (0.98 - low) * rng.random()), 3)


def _before(rng, when: datetime, low_days: float, high_days: float) -> datetime:
    day = clock.previous_working_day((when - timedelta(days=float(rng.uniform(low_days, high_days)))).date())
    moment = clock.office_time(day, rng.random())
    return min(moment, when - timedelta(minutes=20))


def _between(rng, start: datetime, end: datetime, low: float, high: float) -> datetime:
    """Office hours on a working day about `low`…`high` of the way from `start` to `end` (kept inside)."""
    rough = start + (end - start) * float(rng.uniform(low, high))
    moment = clock.office_time(clock.previous_working_day(rough.date()), rng.random())
    return min(max(moment, start + timedelta(minutes=20)), end - timedelta(minutes=20))


def _after(rng, when: datetime, low_days: float, high_days: float) -> datetime:
    day = clock.working_day((when + timedelta(days=float(rng.uniform(low_days, high_days)))).date())
    moment = clock.office_time(day, rng.random())
    return max(moment, when + timedelta(minutes=20))
