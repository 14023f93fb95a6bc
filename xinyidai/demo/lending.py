"""Who borrowed, when, on which product, and how it ended — drawn from the hidden PD.

Historical loans (about 60% of enterprises) are disbursed 24 to 12 months before the data end, so
each has at least 12 months of data before it and its whole 12-month outcome after. Recent loans
(renewals and new borrowers) are disbursed in the last 12 months and are still running.
A default worsens the borrower's later months (sales fall, arrears, sometimes 失信被执行人 and a
revoked licence); nothing before its disbursement month changes, so the PD at disbursement stands.
"""

from __future__ import annotations

import zlib
from datetime import timedelta

import numpy as np
import pandas as pd

from xinyidai.demo import clock, later_sources
from xinyidai.demo.activity import History, Latent
from xinyidai.demo.banks import WAN, products_for
from xinyidai.demo.loans import LoanTerms, performance
from xinyidai.demo.risk import features_as_of, true_pd

T = clock.HISTORY_MONTHS
HISTORICAL_SHARE = 0.6
RECENT_SHARE = 0.18
HISTORICAL_MONTHS = (T - 24, T - 12)  # disbursement month index range (2024-11 … 2025-10)
WHITELIST_PD = 0.02  # below this a firm counts as whitelisted for whitelist-only products


def historical_loans(rng, firms, latent: Latent, history: History, events, ratings) -> pd.DataFrame:
    n = len(firms)
    month = rng.integers(*HISTORICAL_MONTHS, n)
    day = rng.integers(1, 27, n)
    candidates = _assess(firms, latent, history, events, ratings, np.arange(n), month)
    chosen = _select(rng, candidates, HISTORICAL_SHARE * n)
    return _loans(rng, firms, history, candidates[chosen], day[candidates.firm[chosen]], "historical")


def recent_loans(rng, firms, latent, history, events, ratings, historical: pd.DataFrame) -> pd.DataFrame:
    """Renewals of repaid historical loans (续贷) and loans to new borrowers, disbursed in the last 12 months."""
    n = len(firms)
    repaid = historical[~historical.defaulted & (historical.term_months <= 12)]
    renew = repaid[rng.random(len(repaid)) < 0.3]
    renew_month = np.array([clock.month_index(d) for d in renew.disbursed_on]) + renew.term_months.to_numpy()
    renew_month += rng.integers(0, 3, len(renew))
    keep = renew_month < T
    new = np.setdiff1d(np.arange(n), historical.firm.to_numpy())
    new_month = rng.integers(T - 12, T, len(new))
    firm = np.concatenate([renew.firm.to_numpy()[keep], new])
    month = np.concatenate([renew_month[keep], new_month])
    candidates = _assess(firms, latent, history, events, ratings, firm, month)
    is_renewal = np.isin(candidates.firm.to_numpy(), renew.firm.to_numpy()[keep])
    renewals = candidates[is_renewal]
    fresh = candidates[~is_renewal]
    fresh = fresh[_select(rng, fresh, max(0.0, RECENT_SHARE * n - len(renewals)))]
    chosen = pd.concat([renewals, fresh], ignore_index=True)
    loans = _loans(rng, firms, history, chosen, rng.integers(1, 27, len(chosen)), "recent")
    loans["first_loan"] &= ~np.isin(loans.firm, historical.firm)
    return loans


def declined_applicants(rng, firms, latent, history, events, ratings, borrowers: np.ndarray) -> pd.DataFrame:
    """Firms that never borrowed but asked (about 10%): riskier ones are likelier to ask and be turned down."""
    n = len(firms)
    firm = np.setdiff1d(np.flatnonzero(~firms.dormant.to_numpy()), borrowers)
    month = rng.integers(T - 24, T, len(firm))
    alive = (_first_months(firms)[firm] <= month) & (latent.end[firm] > month)
    frame = _assess(firms, latent, history, events, ratings, firm[alive], month[alive], eligible_only=False)
    frame = frame[_select(rng, frame, 0.10 * n, prefer_safe=False)].reset_index(drop=True)
    frame["uscc"] = firms.uscc.to_numpy()[frame.firm]
    frame["published_on"] = [clock.MONTHS[m].replace(day=int(d))
                             for m, d in zip(frame.month, rng.integers(1, 27, len(frame)), strict=True)]
    return assign_products(rng, firms, frame, recent=False)


def pipeline_applicants(rng, firms, latent, history, events, ratings, busy: np.ndarray) -> pd.DataFrame:
    """Needs published in the last weeks (about 8% of firms): their first application's state is set by
    `applications.plan_lending`; the PD is as of the data end."""
    n = len(firms)
    free = np.setdiff1d(np.flatnonzero(~firms.dormant.to_numpy() & (latent.end == T)), busy)
    firm = np.sort(rng.choice(free, size=min(len(free), max(6, int(0.08 * n))), replace=False))
    frame = _assess(firms, latent, history, events, ratings, firm, np.full(len(firm), T), eligible_only=False)
    frame = frame.sample(frac=1.0, random_state=rng).reset_index(drop=True)  # pipeline states go in this order
    frame["uscc"] = firms.uscc.to_numpy()[frame.firm]
    frame["first_loan"] = rng.random(len(frame)) < 0.35
    frame["disbursed_on"] = None
    return assign_products(rng, firms, frame, recent=True)


def _first_months(firms) -> np.ndarray:
    return np.array([max(0, clock.month_index(d) + 1) for d in firms.established_on])


def show_every_outcome(historical: pd.DataFrame, recent: pd.DataFrame) -> pd.DataFrame:
    """A small population may draw no loan that is behind at the data end, or none in default, yet the demo
    should show both. Only recent loans change (their 12 months are not over, so truth.csv does not label
    them): the riskiest running one is behind at the last month-end, the riskiest old enough one defaults."""
    recent = recent.reset_index(drop=True)
    final = {_final_status(loan) for loan in pd.concat([historical, recent]).itertuples(index=False)}
    elapsed = T - 1 - recent.month.to_numpy()  # month-ends reported since disbursement
    running = ~recent.defaulted.to_numpy() & (elapsed >= 1) & (elapsed < recent.term_months.to_numpy() - 1)
    if "overdue" not in final and running.any():
        i = _riskiest(recent, running)
        recent.loc[i, ["episode_start", "episode_months"]] = [elapsed[i], 1]
        running[i] = False
    old_enough = running & (elapsed >= 5)
    if not final & {"defaulted", "written_off"} and old_enough.any():
        i = _riskiest(recent, old_enough)
        recent.loc[i, ["defaulted", "default_k", "episode_start", "episode_months"]] = [True, min(elapsed[i], 11), -1, 0]
    return recent


def _riskiest(loans: pd.DataFrame, among: np.ndarray) -> int:
    return int(np.flatnonzero(among)[loans.pd.to_numpy()[among].argmax()])


def _final_status(loan) -> str:
    reports = performance(loan_terms(loan), np.random.default_rng(0))  # statuses do not depend on the draws
    return reports[-1].status if reports else "disbursed"


def _assess(firms, latent, history, events, ratings, firm: np.ndarray, month: np.ndarray, *,
            eligible_only: bool = True) -> pd.DataFrame:
    """PD as of each candidate month, why a bank would say no, and whether it could lend at all: the
    DESIGN §4 gates, a year of data, a year in business, and no closure ahead (a firm that deregisters
    repays first, so a closing firm is not given a loan that would outlive it)."""
    features = features_as_of(firms, history, events, ratings, firm, month)
    start = _first_months(firms)[firm]
    eligible = (
        (start <= month - 12)
        & (latent.end[firm] == T)
        & ~firms.dormant.to_numpy()[firm]
        & (features.serious_records.to_numpy() == 0)
        & (features.tax_rating.to_numpy() != "D")
        & (features.age_years.to_numpy() >= 1)
    )
    frame = pd.DataFrame({"firm": firm, "month": month, "pd": true_pd(features)})
    frame["annual_sales"] = _annual_sales(history, firm, month)
    frame["reason"] = _decline_reason(features, frame.pd.to_numpy())
    return frame[eligible if eligible_only else slice(None)].reset_index(drop=True)


def _decline_reason(features: pd.DataFrame, pd_: np.ndarray) -> np.ndarray:
    """What a loan officer would cite first; a safe firm is turned down for paperwork or leverage."""
    arrears = features.tax_arrears_months + features.si_arrears_max + features.hf_arrears_months
    fallback = np.where(pd_ > 0.05, "insufficient_revenue", np.where(pd_ > 0.02, "high_leverage", "incomplete_materials"))
    return np.select(
        [(features.serious_records > 0) | (features.event_burden > 0.5), features.sales_trend < -0.3, arrears > 0,
         features.age_years < 2],
        ["credit_record", "revenue_decline", "tax_social_arrears", "operating_too_short"], fallback)


def _select(rng, candidates: pd.DataFrame, target: float, *, prefer_safe: bool = True) -> np.ndarray:
    """About `target` of the candidates; banks prefer safer firms (odds fall with the PD), while the
    declined are the riskier ones (`prefer_safe=False`)."""
    if candidates.empty or target <= 0:
        return np.zeros(len(candidates), dtype=bool)
    logit = np.log(candidates.pd / (1 - candidates.pd)).to_numpy()
    weight = np.exp((-0.5 if prefer_safe else 0.6) * (logit - logit.mean()) / (logit.std() or 1))
    low, high = 0.0, 100.0
    for _ in range(60):  # bisection for the scale that gives `target` expected loans
        scale = (low + high) / 2
        low, high = (scale, high) if np.minimum(0.97, scale * weight).sum() < target else (low, scale)
    return rng.random(len(candidates)) < np.minimum(0.97, high * weight)


def _annual_sales(history: History, firm: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Invoiced sales over the 12 visible months, in fen (a missing month counts as an average one)."""
    window = month[:, None] - 12 + np.arange(12)[None, :]
    values = np.where(window >= 0, history.sales[firm[:, None], np.clip(window, 0, T - 1)], np.nan)
    delivered = np.isfinite(values).sum(axis=1)
    return np.nansum(values, axis=1) * 12 / np.maximum(delivered, 1) * 100


def _loans(rng, firms, history, chosen: pd.DataFrame, day: np.ndarray, cohort: str) -> pd.DataFrame:
    loans = chosen.copy()
    loans["cohort"] = cohort
    loans["uscc"] = firms.uscc.to_numpy()[loans.firm]
    loans["disbursed_on"] = [clock.working_day(clock.MONTHS[m].replace(day=int(d)))
                             for m, d in zip(loans.month, day, strict=True)]
    loans["defaulted"] = rng.random(len(loans)) < loans.pd
    loans = assign_products(rng, firms, loans, recent=cohort == "recent")
    loans["default_k"] = np.where(loans.defaulted, rng.integers(4, 12, len(loans)), -1)
    loans["default_k"] = np.where(loans.defaulted, np.minimum(loans.default_k, loans.term_months + 3), -1)
    loans["write_off_after"] = np.where(loans.defaulted & (rng.random(len(loans)) < 0.4), rng.integers(3, 10, len(loans)), -1)
    episode = ~loans.defaulted & (rng.random(len(loans)) < np.minimum(0.5, 3 * loans.pd + 0.06))
    last_start = np.minimum(loans.term_months, 24) - 2
    loans["episode_start"] = np.where(episode & (last_start >= 1), 1 + np.floor(rng.random(len(loans)) * last_start), -1)
    loans["episode_months"] = np.where(loans.episode_start >= 0, rng.integers(1, 3, len(loans)), 0)
    loans["first_loan"] = rng.random(len(loans)) < 0.3
    return loans


def need_window(month: int) -> tuple:
    """The days a need behind a loan (or an application) of history month `month` may be published on: from a
    few weeks before the month to its end (the demo's present for the pipeline's month)."""
    first = clock.add_months(clock.FIRST_MONTH, int(month))
    last = clock.DEMO_NOW.date() if month >= T else clock.month_end(first)
    return first - timedelta(days=40), last


def held_for(firms, firm: np.ndarray, month: np.ndarray, spans=None) -> list[frozenset[str]]:
    """Per row, the tech qualifications its firm holds on every day its need may be published."""
    spans = spans if spans is not None else later_sources.spans(firms)
    return [later_sources.held_throughout(spans, int(f), *need_window(int(m))) for f, m in zip(firm, month, strict=True)]


def assign_products(rng, firms, loans: pd.DataFrame, *, recent: bool) -> pd.DataFrame:
    """Pick a product the firm qualifies for (district, industry, whitelist, a required qualification held),
    the guarantee it offers, an amount from its sales, a term and a rate that rises with risk (LPR cuts make
    recent loans cheaper)."""
    district = firms.district_code.to_numpy()[loans.firm]
    section = firms.industry_section.to_numpy()[loans.firm]
    months = loans.month.to_numpy() if "month" in loans else np.full(len(loans), T)
    held = held_for(firms, loans.firm.to_numpy(), months)
    pd_, sales = loans.pd.to_numpy(), loans.annual_sales.to_numpy()
    preference = rng.choice(["信用", "抵押", "担保公司", "保证"], size=len(loans), p=[0.68, 0.14, 0.12, 0.06])
    pick, noise, share = rng.random(len(loans)), rng.random(len(loans)), rng.random(len(loans))
    # Not from rng: the draws after this one stay those the demo made before the later sources.
    targeting = [zlib.crc32(f"{u}:{m}".encode()) / 2**32 for u, m in zip(firms.uscc.to_numpy()[loans.firm], months,
                                                                         strict=True)]
    rows = []
    for i in range(len(loans)):
        fits = products_for(district[i], section[i], bool(pd_[i] < WHITELIST_PD), held[i])
        preferred = [f for f in fits if f[1].guarantee == preference[i]] or [f for f in fits if f[1].guarantee == "信用"]
        # Banks court qualified firms with the products made for them (科创贷, 科技快贷): half of them take one.
        aimed = [f for f in fits if held[i] & (set(f[1].requires) | set(f[1].prefers))]
        if aimed and targeting[i] < 0.5:
            preferred = aimed
        bank, product = preferred[int(pick[i] * len(preferred))]
        need = _round_amount(min(max(sales[i] * (0.05 + 0.25 * noise[i]), 10 * WAN), 2000 * WAN))
        principal = need if share[i] < 0.7 else _round_amount(need * (0.5 + 0.4 * share[i]))
        low, high = product.amount_wan[0] * WAN, product.amount_wan[1] * WAN
        rows.append((bank.code, product.code, product.guarantee, max(need, low), min(max(principal, low), high),
                     _term(product.term_months, pick[i]), _rate(product.rate_bp, pd_[i], noise[i], recent)))
    columns = ["bank_code", "product_code", "guarantee", "need_fen", "principal_fen", "term_months", "rate_bp"]
    out = pd.concat([loans.reset_index(drop=True), pd.DataFrame(rows, columns=columns)], axis=1)
    out["interest_only"] = out.term_months <= 12
    return out


def _round_amount(fen: float) -> int:
    step = 10 * WAN if fen >= 100 * WAN else 5 * WAN
    return int(max(step, round(fen / step) * step))


def _term(bounds: tuple[int, int], u: float) -> int:
    options = [t for t in (6, 12, 12, 12, 24, 36, 60) if bounds[0] <= t <= bounds[1]]
    return options[int(u * len(options))]


def _rate(bounds: tuple[int, int], pd_: float, u: float, recent: bool) -> int:
    low, high = bounds
    position = min(max(0.15 + 4 * pd_ + 0.3 * (u - 0.5), 0.0), 1.0)
    rate = low + position * (high - low) - (15 if recent else 0)
    return int(max(low - 15, round(rate / 5) * 5))


def loan_terms(loan) -> LoanTerms:
    return LoanTerms(
        disbursed_on=loan.disbursed_on, principal_fen=int(loan.principal_fen), term_months=int(loan.term_months),
        interest_only=bool(loan.interest_only),
        default_k=int(loan.default_k) if loan.default_k >= 0 else None,
        write_off_after=int(loan.write_off_after) if loan.write_off_after >= 0 else None,
        episode_start=int(loan.episode_start) if loan.episode_start >= 0 else None,
        episode_months=int(loan.episode_months),
    )


def worsen_after_default(rng, latent: Latent, loans: pd.DataFrame) -> pd.DataFrame:
    """From three months before a default on, the borrower's stress rises; some walk away (吊销 later) and
    some are listed as 失信被执行人 when the bank's judgment goes unpaid. Returns the new events."""
    defaulted = loans[loans.defaulted]
    first = np.array([clock.month_index(d) for d in defaulted.disbursed_on]) + defaulted.default_k.to_numpy() - 3
    months = np.arange(T)[None, :]
    ramp = np.clip((months - first[:, None] + 1) / 4, 0, 1) * 1.8
    firm = defaulted.firm.to_numpy()
    latent.stress[firm] += ramp
    latent.log_level[firm] -= 0.5 * ramp
    walk_away = rng.random(len(firm)) < 0.35
    quit_month = first + 3 + rng.integers(3, 10, len(firm))
    closing = walk_away & (quit_month < latent.end[firm])
    latent.end[firm[closing]] = np.minimum(latent.end[firm[closing]], quit_month[closing])
    latent.closure[firm[closing]] = "吊销"
    listed_month = first + 3 + rng.integers(4, 13, len(firm))
    listed = (rng.random(len(firm)) < 0.4) & (listed_month < T)
    return pd.DataFrame({
        "firm": firm[listed], "kind": "失信被执行人", "severity": "严重", "force_majeure": False, "repaired_on": None,
        "decided_on": [clock.working_day(clock.MONTHS[m].replace(day=int(d)))
                       for m, d in zip(listed_month[listed], rng.integers(1, 27, listed.sum()), strict=True)],
    })

