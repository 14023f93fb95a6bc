"""Monthly provider data, simulated per enterprise × month as numpy arrays.

A hidden monthly *stress* (low health, a slow random walk, distress episodes) drives everything a
provider sees: sales fall, taxes and contributions fall into arrears, bills are paid late, staff leave.
`draw_latent` makes every random draw once; `observe` turns the latent state into provider data
deterministically, so the lending plan can worsen a borrower's later months (after a default) and
observe again without touching any month before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xinyidai.demo import clock
from xinyidai.demo.population import (
    MEDIAN_HEADCOUNT,
    MEDIAN_SALES,
    SECTION_SALES_FACTOR,
    SECTION_STAFF_FACTOR,
)

T = clock.HISTORY_MONTHS
# Shanghai social-insurance contribution base limits per year from July (yuan/month); 公积金's lower limit.
SI_BASE = {2023: (7310, 36549), 2024: (7384, 36921), 2025: (7460, 37302), 2026: (7530, 37650)}
HF_LOWER = {2023: 2690, 2024: 2690, 2025: 2740, 2026: 2790}
WAGE_MEDIAN = {"I": 18000, "J": 20000, "M": 14000, "K": 11000, "L": 10000, "C": 9000, "F": 9000, "E": 8500,
               "G": 8000, "H": 6500, "O": 6000}
# Sensitivity to the Spring Festival; catering loses less (banquets), factories and sites the most.
FESTIVAL_SENSITIVITY = {"C": 1.1, "E": 1.2, "G": 0.9, "F": 0.7, "L": 0.6, "M": 0.5, "I": 0.4, "H": 0.2, "A": 0.5}
# Electricity intensity, kWh per 10,000 yuan of sales, on top of ~170 kWh per employee of office use.
KWH_PER_10K = {"C": 260, "H": 320, "A": 150, "D": 80, "F52": 60, "G": 30, "O": 60, "Q": 50}
WATER_M3_PER_10K = {"H": 18, "C": 6, "A": 20, "O": 8, "Q": 6}
GAS_M3_PER_10K = {"H": 45, "C": 12}
KINDS = ("electricity", "water", "gas")


@dataclass
class Latent:
    """Per-firm parameters (1-D) and per-month hidden state and random draws (2-D, firms × months)."""

    params: pd.DataFrame
    stress: np.ndarray
    log_level: np.ndarray
    end: np.ndarray  # first month with no data (T when still operating)
    closure: np.ndarray  # "" operating, 注销 deregistered, 吊销 licence revoked
    draws: dict[str, np.ndarray] = field(repr=False)


@dataclass
class History:
    """What the providers deliver; NaN where a month was not delivered."""

    sales: np.ndarray
    tax_paid: np.ndarray
    tax_arrears: np.ndarray
    headcount: np.ndarray
    si_contributions: np.ndarray
    si_arrears_months: np.ndarray
    hf_contributors: np.ndarray
    hf_contributions: np.ndarray
    hf_arrears: np.ndarray
    utilities: dict[str, dict[str, np.ndarray]]


def draw_latent(rng: np.random.Generator, firms: pd.DataFrame) -> Latent:
    n = len(firms)
    params = _firm_parameters(rng, firms)
    drift = np.empty((n, T))
    drift[:, 0] = rng.normal(0, 0.6, n)
    steps = rng.normal(0, 0.28, (n, T))
    for t in range(1, T):
        drift[:, t] = 0.9 * drift[:, t - 1] + steps[:, t]
    distress = _distress_episodes(rng, n, firms.health.to_numpy())
    stress = -(0.7 * firms.health.to_numpy()[:, None] + drift) + distress
    months = np.arange(T)
    shock = _level_shocks(rng, n)
    log_level = (np.log(params.sales_base.to_numpy())[:, None] + params.growth.to_numpy()[:, None] * months / 12
                 - 0.35 * (stress - stress[:, :1]) + shock)
    draws = {name: rng.random((n, T)).astype(np.float32) for name in (
        "zero", "tax_arrears", "si_arrears", "hf_arrears", "late_minor", "late_severe", "late_days", "paid_share",
        "missing_tax", "missing_si", "missing_hf", "missing_electricity", "missing_water", "missing_gas")}
    for name in ("sales", "tax", "staff", "electricity", "water", "gas"):
        draws[f"noise_{name}"] = rng.standard_normal((n, T)).astype(np.float32)
    for name in ("tax", "si", "hf", "electricity", "water", "gas"):
        draws[f"gap_{name}"] = _gaps(rng, n)
    end, closure = _end_of_data(rng, firms, stress)
    return Latent(params, stress, log_level, end, closure, draws)


def _firm_parameters(rng: np.random.Generator, firms: pd.DataFrame) -> pd.DataFrame:
    n = len(firms)
    size = firms.size_index.to_numpy()
    section = firms.industry_section
    health = firms.health.to_numpy()
    sales_factor = section.map(SECTION_SALES_FACTOR).fillna(1.0).to_numpy()
    staff_factor = section.map(SECTION_STAFF_FACTOR).fillna(1.0).to_numpy()
    wage = rng.lognormal(np.log(section.map(WAGE_MEDIAN).fillna(9000).to_numpy()), 0.35)
    minimum_base = (size >= 2) & (rng.random(n) < 0.4)  # many small firms declare at the lower limit
    start = np.array([clock.month_index(d) for d in firms.established_on]) + 1
    key = np.where(section == "F", "F" + firms.industry_division, section)
    has_hf = rng.random(n) < np.array([1.0, 0.95, 0.75, 0.45])[size] * np.where(section.isin(["I", "J", "M"]), 1.2, 1)
    sales_base = rng.lognormal(np.log(MEDIAN_SALES[size] * sales_factor), 0.8)
    # Above 5 million yuan a year a firm must register as a general VAT taxpayer; some smaller ones choose to.
    general = (sales_base * 12 > 5_000_000) | (size <= 1) | (rng.random(n) < np.where(size == 2, 0.4, 0.08))
    return pd.DataFrame({
        "sales_base": sales_base,
        "growth": rng.normal(0.04 + 0.06 * health, 0.15),
        "volatility": np.exp(rng.normal(0, 0.3, n) - 0.15 * health) * np.array([0.06, 0.08, 0.12, 0.2])[size],
        "headcount_base": np.maximum(1, rng.lognormal(np.log(MEDIAN_HEADCOUNT[size] * staff_factor), 0.6)),
        "wage": np.where(minimum_base, 0.0, wage),
        "si_rate": 0.365 + np.where(section.isin(["C", "E", "G"]), 0.008, 0.002),
        "hf_rate": np.where(rng.random(n) < 0.75, 0.14, 0.10),
        "hf_cover": np.where(has_hf, rng.uniform(0.5, 1.0, n), 0.0),
        "general_taxpayer": general,
        "value_added": rng.uniform(0.15, 0.45, n),
        "vat_rate": section.map({"C": 0.13, "F": 0.13, "E": 0.09, "G": 0.09, "K": 0.09}).fillna(0.06).to_numpy(),
        "margin": rng.normal(0.05 + 0.03 * health, 0.05),
        "festival": section.map(FESTIVAL_SENSITIVITY).fillna(0.6).to_numpy(),
        "retail": (firms.industry_division == "52").to_numpy(),
        "kwh_per_10k": pd.Series(key).map(KWH_PER_10K).fillna(8).to_numpy() * rng.lognormal(0, 0.4, n),
        "kwh_price": rng.uniform(0.72, 1.02, n),
        "has_water": rng.random(n) < np.where(section.isin(["H", "C", "A", "O", "Q"]), 0.97, 0.75),
        "water_per_10k": section.map(WATER_M3_PER_10K).fillna(0.5).to_numpy() * rng.lognormal(0, 0.3, n),
        "water_price": rng.uniform(5.3, 5.9, n),
        "has_gas": rng.random(n) < section.map({"H": 0.85, "C": 0.35, "A": 0.2}).fillna(0.04).to_numpy(),
        "gas_per_10k": section.map(GAS_M3_PER_10K).fillna(3).to_numpy() * rng.lognormal(0, 0.3, n),
        "gas_price": rng.uniform(4.2, 4.7, n),
        "start": start,
        "si_start": start + rng.integers(0, 3, n),
        "hf_start": start + rng.integers(1, 7, n),
        "dormant": firms.dormant.to_numpy(),
    })


def _distress_episodes(rng: np.random.Generator, n: int, health: np.ndarray) -> np.ndarray:
    """About one firm in eight slides into trouble over a few months; some recover."""
    hit = rng.random(n) < 0.12 * np.exp(-0.45 * health) / 1.1
    begin = rng.integers(-6, T, n)
    depth = rng.uniform(0.8, 2.6, n)
    ramp = rng.integers(3, 9, n)
    recover_after = np.where(rng.random(n) < 0.4, rng.integers(6, 14, n), 10_000)
    months = np.arange(T)[None, :]
    since = months - begin[:, None]
    level = np.clip(since / ramp[:, None], 0, 1) * depth[:, None]
    level *= np.clip(1 - (since - recover_after[:, None]) / 6, 0, 1)
    return np.where(hit[:, None], level, 0.0)


def _level_shocks(rng: np.random.Generator, n: int) -> np.ndarray:
    """A big customer won or lost: a lasting step in sales that says nothing about the firm's health."""
    sign = rng.choice([-1, 0, 1], size=n, p=[0.06, 0.88, 0.06])
    size = np.where(sign < 0, rng.uniform(0.3, 1.0, n), rng.uniform(0.3, 0.8, n)) * sign
    when = rng.integers(0, T, n)
    return np.where(np.arange(T)[None, :] >= when[:, None], size[:, None], 0.0)


def _gaps(rng: np.random.Generator, n: int) -> np.ndarray:
    """A run of 2–4 months a provider failed to deliver for a firm (system changes, late filings)."""
    has_gap = rng.random(n) < 0.03
    begin = rng.integers(0, T, n)
    length = rng.integers(2, 5, n)
    months = np.arange(T)[None, :]
    return has_gap[:, None] & (months >= begin[:, None]) & (months < (begin + length)[:, None])


def _end_of_data(rng: np.random.Generator, firms: pd.DataFrame, stress: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closures: voluntary deregistration (注销) at random, abandonment (later 吊销) mostly under stress."""
    n = len(firms)
    end = np.full(n, T)
    cancelled = rng.random(n) < 0.025
    end[cancelled] = rng.integers(6, T, cancelled.sum())
    worst = stress.max(axis=1)
    abandoned = ~cancelled & (rng.random(n) < 0.015 * np.exp(0.8 * np.clip(worst - 1, 0, 4)) / 2)
    end[abandoned] = np.maximum(6, np.argmax(stress[abandoned] > worst[abandoned, None] - 0.3, axis=1) + 3)
    closure = np.where(cancelled, "注销", np.where(abandoned & (end < T), "吊销", "")).astype(object)
    return np.minimum(end, T), closure


def observe(latent: Latent) -> History:
    """Provider data implied by the latent state (deterministic: same latent, same arrays)."""
    p, d, stress = latent.params, latent.draws, latent.stress
    months = np.arange(T)[None, :]
    active = (months >= p.start.to_numpy()[:, None]) & (months < latent.end[:, None])
    level = np.exp(latent.log_level) * _sales_season(p)
    sales = level * np.exp(p.volatility.to_numpy()[:, None] * d["noise_sales"])
    dormant = p.dormant.to_numpy()[:, None]
    sales = np.where(dormant, np.where(d["zero"] < 0.8, 0.0, sales * 0.05), sales)
    sales = np.where((p.sales_base.to_numpy()[:, None] < 300_000) & (d["zero"] < 0.015), 0.0, sales)
    sales = _cents(sales)
    headcount = _headcount(latent, active)
    tax_arrears = _markov(_sigmoid(-5.0 + 1.3 * stress), 0.55, d["tax_arrears"], active)
    tax_paid = np.where(tax_arrears, 0.0, _tax_due(p, sales, d["noise_tax"]))
    si_months = (months >= p.si_start.to_numpy()[:, None]) & active
    si_arrears = _markov(_sigmoid(-5.3 + 1.35 * stress), 0.6, d["si_arrears"], si_months)
    si_base = _base(p.wage.to_numpy(), housing_fund=False)
    si_due = _cents(headcount * si_base * p.si_rate.to_numpy()[:, None])
    hf_months = (months >= p.hf_start.to_numpy()[:, None]) & active & (p.hf_cover.to_numpy()[:, None] > 0)
    contributors = np.maximum(1, np.round(headcount * p.hf_cover.to_numpy()[:, None]))
    hf_arrears = _markov(_sigmoid(-5.0 + 1.3 * stress), 0.5, d["hf_arrears"], hf_months)
    hf_due = _cents(contributors * _base(p.wage.to_numpy(), housing_fund=True) * p.hf_rate.to_numpy()[:, None])
    return History(
        sales=_deliver(sales, active, d["missing_tax"], d["gap_tax"]),
        tax_paid=_deliver(tax_paid, active, d["missing_tax"], d["gap_tax"]),
        tax_arrears=_deliver(tax_arrears, active, d["missing_tax"], d["gap_tax"]),
        headcount=_deliver(headcount, si_months, d["missing_si"], d["gap_si"]),
        si_contributions=_deliver(np.where(si_arrears, 0.0, si_due), si_months, d["missing_si"], d["gap_si"]),
        si_arrears_months=_deliver(_run_length(si_arrears), si_months, d["missing_si"], d["gap_si"]),
        hf_contributors=_deliver(contributors, hf_months, d["missing_hf"], d["gap_hf"]),
        hf_contributions=_deliver(np.where(hf_arrears, 0.0, hf_due), hf_months, d["missing_hf"], d["gap_hf"]),
        hf_arrears=_deliver(hf_arrears, hf_months, d["missing_hf"], d["gap_hf"]),
        utilities=_utilities(p, d, stress, active, level, headcount),
    )


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _cents(yuan: np.ndarray) -> np.ndarray:
    return np.round(yuan, 2)


def _deliver(values, months, missing, gap) -> np.ndarray:
    """The values as delivered: NaN outside the firm's months, on random misses and in gaps."""
    return np.where(months & (missing >= 0.01) & ~gap, values.astype(float), np.nan)


def _markov(enter: np.ndarray, stay: float, draws: np.ndarray, months: np.ndarray) -> np.ndarray:
    """A two-state chain (in arrears or not): falls in with probability `enter`, stays with `stay`."""
    state = np.zeros(enter.shape, dtype=bool)
    previous = np.zeros(enter.shape[0], dtype=bool)
    for t in range(T):
        previous = months[:, t] & np.where(previous, draws[:, t] < stay, draws[:, t] < enter[:, t])
        state[:, t] = previous
    return state


def _run_length(state: np.ndarray) -> np.ndarray:
    """Consecutive months in the state, up to and including each month."""
    out = np.zeros(state.shape, dtype=float)
    for t in range(T):
        out[:, t] = np.where(state[:, t], (out[:, t - 1] if t else 0) + 1, 0)
    return out


def _sales_season(p: pd.DataFrame) -> np.ndarray:
    month = clock.calendar_month()
    bump = np.select([month == 12, month == 6, np.isin(month, (3, 9))], [0.08, 0.04, 0.03], 0.0)
    retail = np.where(p.retail.to_numpy()[:, None], np.where(month == 11, 0.12, 0.0), 0.0)
    festival = p.festival.to_numpy()[:, None] * clock.spring_festival_weight()[None, :]
    return (1 + bump[None, :] + retail) * np.clip(1 - festival, 0.3, 1)


def _tax_due(p: pd.DataFrame, sales: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """增值税 monthly for general taxpayers, quarterly 1% for small-scale ones (exempt up to 300k a
    quarter), 企业所得税 prepaid quarterly; surcharges on VAT (halved for small firms)."""
    month = clock.calendar_month()
    filing = np.isin(month, (1, 4, 7, 10))[None, :]
    padded = np.concatenate([np.repeat(sales[:, :1], 3, axis=1), sales], axis=1)
    quarter = padded[:, 0:T] + padded[:, 1:T + 1] + padded[:, 2:T + 2]
    general = p.general_taxpayer.to_numpy()[:, None]
    vat = np.where(general, sales * p.vat_rate.to_numpy()[:, None] * p.value_added.to_numpy()[:, None] * 1.12,
                   np.where(filing & (quarter > 300_000), quarter * 0.01 * 1.06, 0.0))
    profit = quarter * p.margin.to_numpy()[:, None]
    # 小型微利企业 (up to 3 million yuan profit a year) pay an effective 5%.
    cit_rate = np.where(profit * 4 > 3_000_000, 0.25, 0.05)
    cit = np.where(filing & (profit > 0), profit * cit_rate, 0.0)
    return _cents(np.maximum(0, vat * np.exp(0.15 * noise) + cit))


def _headcount(latent: Latent, active: np.ndarray) -> np.ndarray:
    """Staff follow sales with a lag (hiring and layoffs take months); deep stress means layoffs."""
    p, stress = latent.params, latent.stress
    smooth = np.empty_like(latent.log_level)
    smooth[:, 0] = latent.log_level[:, 0]
    for t in range(1, T):
        smooth[:, t] = 0.7 * smooth[:, t - 1] + 0.3 * latent.log_level[:, t - 1]
    relative = np.exp(0.5 * (smooth - latent.log_level[:, :1]) - 0.25 * np.clip(stress - 1.5, 0, None))
    count = p.headcount_base.to_numpy()[:, None] * relative * (1 + 0.03 * latent.draws["noise_staff"])
    count = np.where(p.dormant.to_numpy()[:, None], 1, np.maximum(1, np.round(count)))
    return np.where(active, count, 0)


def _base(wage: np.ndarray, *, housing_fund: bool) -> np.ndarray:
    """The contribution base each month: the firm's wage within that year's limits (years start in July)."""
    years = np.array([m.year if m.month >= 7 else m.year - 1 for m in clock.MONTHS])
    lower = np.array([HF_LOWER[y] if housing_fund else SI_BASE[y][0] for y in years])
    upper = np.array([SI_BASE[y][1] for y in years])
    return np.clip(wage[:, None], lower[None, :], upper[None, :])


def _utilities(p, d, stress, active, level, headcount) -> dict[str, dict[str, np.ndarray]]:
    month = clock.calendar_month()
    electricity_season = np.array([1.12, 1.05, 0.95, 0.92, 0.95, 1.08, 1.25, 1.28, 1.08, 0.95, 0.97, 1.08])[month - 1]
    heating = np.where(np.isin(month, (12, 1, 2)), 1.3, 1.0)
    summer = np.where(np.isin(month, (7, 8, 9)), 1.04, 1.0)
    per_10k = level / 10_000
    minor = d["late_minor"] < _sigmoid(-3.0 + 0.7 * stress)
    severe = d["late_severe"] < _sigmoid(-5.8 + 1.5 * stress)
    days_late = np.where(severe, 30 + np.floor(d["late_days"] * 61), np.where(minor, 1 + np.floor(d["late_days"] * 14), 0))
    paid_share = np.where(severe, 0.7 * d["paid_share"], 1.0)
    usage = {
        "electricity": (170 * headcount ** 0.9 + p.kwh_per_10k.to_numpy()[:, None] * per_10k) * electricity_season,
        "water": 1.1 * headcount + p.water_per_10k.to_numpy()[:, None] * per_10k,
        "gas": (p.gas_per_10k.to_numpy()[:, None] * per_10k + 20) * heating,
    }
    prices = {"electricity": p.kwh_price.to_numpy()[:, None] * summer, "water": p.water_price.to_numpy()[:, None],
              "gas": p.gas_price.to_numpy()[:, None]}
    has = {"electricity": np.ones(len(p), dtype=bool), "water": p.has_water.to_numpy(), "gas": p.has_gas.to_numpy()}
    out = {}
    for kind in KINDS:
        months = active & has[kind][:, None]
        consumption = np.round(usage[kind] * np.exp(0.1 * d[f"noise_{kind}"]), 1)
        billed = _cents(consumption * prices[kind])
        columns = {"consumption": consumption, "billed": billed, "paid": _cents(billed * paid_share),
                   "days_late": days_late}
        out[kind] = {name: _deliver(values, months, d[f"missing_{kind}"], d[f"gap_{kind}"])
                     for name, values in columns.items()}
    return out
