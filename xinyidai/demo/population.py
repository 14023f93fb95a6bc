"""Who the demo enterprises are: district, industry, size, age, capital and a hidden health.

Shares are rough figures for Shanghai's registered SMEs: Pudong largest, manufacturing in the outer
districts, services in the centre, registration parks in Chongming, Jinshan and Fengxian.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from xinyidai.demo import clock
from xinyidai.demo.naming import company_names, unique_usccs

DISTRICT_SHARES = {
    "310115": 0.200, "310112": 0.085, "310114": 0.075, "310117": 0.070, "310151": 0.070, "310120": 0.065,
    "310113": 0.060, "310118": 0.060, "310116": 0.055, "310106": 0.040, "310104": 0.035, "310110": 0.035,
    "310107": 0.035, "310109": 0.035, "310101": 0.030, "310105": 0.030,
}
INDUSTRIAL = frozenset({"310112", "310113", "310114", "310116", "310117", "310118", "310120"})
CENTRAL = frozenset({"310101", "310104", "310105", "310106", "310107", "310109", "310110"})
# Districts whose registration parks host many companies with little activity at the address.
PARKS = {"310151": 0.22, "310116": 0.08, "310120": 0.08}

SECTION_SHARES = {
    "F": 0.280, "L": 0.180, "M": 0.130, "I": 0.100, "C": 0.080, "E": 0.045, "G": 0.040, "H": 0.030,
    "K": 0.025, "R": 0.025, "O": 0.020, "J": 0.012, "N": 0.010, "A": 0.008, "P": 0.006, "Q": 0.005, "D": 0.004,
}
DIVISION_SHARES = {
    "A": {"01": 0.7, "03": 0.1, "04": 0.1, "05": 0.1},
    "C": {"13": 0.03, "14": 0.05, "17": 0.03, "18": 0.06, "22": 0.04, "23": 0.05, "26": 0.07, "27": 0.05,
          "29": 0.07, "33": 0.08, "34": 0.13, "35": 0.10, "36": 0.06, "38": 0.08, "39": 0.07, "40": 0.02,
          "41": 0.01},
    "D": {"44": 0.7, "45": 0.15, "46": 0.15},
    "E": {"47": 0.25, "48": 0.15, "49": 0.20, "50": 0.40},
    "F": {"51": 0.62, "52": 0.38},
    "G": {"54": 0.45, "58": 0.35, "59": 0.20},
    "H": {"61": 0.15, "62": 0.85},
    "I": {"63": 0.05, "64": 0.20, "65": 0.75},
    "J": {"66": 0.45, "67": 0.30, "68": 0.15, "69": 0.10},
    "K": {"70": 1.0},
    "L": {"71": 0.12, "72": 0.88},
    "M": {"73": 0.07, "74": 0.28, "75": 0.65},
    "N": {"77": 0.6, "78": 0.4},
    "O": {"80": 0.5, "81": 0.3, "82": 0.2},
    "P": {"83": 1.0},
    "Q": {"84": 0.7, "85": 0.3},
    "R": {"86": 0.2, "87": 0.25, "88": 0.3, "89": 0.15, "90": 0.1},
}
SIZES = np.array(["大", "中", "小", "微"])
SIZE_SHARES = {"default": (0.015, 0.07, 0.33, 0.585), "C": (0.05, 0.16, 0.45, 0.34), "E": (0.02, 0.10, 0.40, 0.48)}
# Median monthly sales (yuan) and insured headcount by size class (大, 中, 小, 微).
MEDIAN_SALES = np.array([50_000_000, 8_000_000, 1_200_000, 150_000])
MEDIAN_HEADCOUNT = np.array([1200, 250, 35, 5])
SECTION_SALES_FACTOR = {"F": 1.6, "C": 1.2, "G": 1.1, "E": 1.2, "I": 0.8, "L": 0.6, "M": 0.6, "H": 0.5, "O": 0.4,
                        "A": 0.5, "R": 0.5, "P": 0.5, "Q": 0.6}
SECTION_STAFF_FACTOR = {"F": 0.6, "C": 1.3, "H": 1.5, "E": 1.2, "L": 0.8, "O": 1.2, "G": 1.1}
CAPITAL_STEPS_YUAN = np.array([1e5, 3e5, 5e5, 1e6, 2e6, 3e6, 5e6, 8e6, 1e7, 2e7, 3e7, 5e7, 1e8, 2e8, 5e8])
MEDIAN_CAPITAL = np.array([1e8, 2e7, 5e6, 1e6])


def draw_enterprises(rng: np.random.Generator, count: int) -> pd.DataFrame:
    """The registry view plus the hidden traits the activity simulation starts from."""
    firms = pd.DataFrame({"district_code": _choose(rng, DISTRICT_SHARES, count)})
    firms["industry_section"] = _sections(rng, firms.district_code.to_numpy())
    firms["industry_division"] = _divisions(rng, firms.industry_section.to_numpy())
    age = np.clip(rng.lognormal(np.log(6.0), 0.85, count), 0.08, 34.0)
    firms["established_on"] = [clock.month_end(clock.DATA_END) - timedelta(days=int(a * 365.25)) for a in age]
    firms["age_years"] = age
    size = _sizes(rng, firms.industry_section.to_numpy(), age)
    firms["size_class"] = SIZES[size]
    firms["size_index"] = size
    capital = rng.lognormal(np.log(MEDIAN_CAPITAL[size]), 0.8)
    snapped = CAPITAL_STEPS_YUAN[np.abs(np.log(capital)[:, None] - np.log(CAPITAL_STEPS_YUAN)).argmin(axis=1)]
    firms["registered_capital_fen"] = (snapped * 100).astype(np.int64)
    firms["dormant"] = _dormant(rng, firms)
    firms["health"] = rng.normal(0, 1, count) + 0.25 * np.log(age) - 0.25 + np.array([0.4, 0.25, 0.05, 0])[size]
    firms["health"] -= 0.8 * firms.dormant
    years = np.array([d.year for d in firms.established_on])
    firms.insert(0, "uscc", unique_usccs(rng, firms.district_code.to_numpy(), years))
    firms.insert(1, "name", company_names(rng, firms.industry_division.to_numpy(), size <= 1))
    return firms


def _choose(rng: np.random.Generator, shares: dict[str, float], count: int) -> np.ndarray:
    keys = np.array(list(shares))
    weights = np.array(list(shares.values()), dtype=float)
    return keys[rng.choice(len(keys), size=count, p=weights / weights.sum())]


def _sections(rng: np.random.Generator, districts: np.ndarray) -> np.ndarray:
    sections = np.array(list(SECTION_SHARES))
    base = np.array(list(SECTION_SHARES.values()))
    out = np.empty(len(districts), dtype=object)
    for district in np.unique(districts):
        weights = base * [_district_factor(district, s) for s in sections]
        where = np.flatnonzero(districts == district)
        out[where] = sections[rng.choice(len(sections), size=len(where), p=weights / weights.sum())]
    return out


def _divisions(rng: np.random.Generator, sections: np.ndarray) -> np.ndarray:
    out = np.empty(len(sections), dtype=object)
    for section in np.unique(sections):
        where = np.flatnonzero(sections == section)
        out[where] = _choose(rng, DIVISION_SHARES[section], len(where))
    return out


def _district_factor(district: str, section: str) -> float:
    if district in INDUSTRIAL:
        return {"C": 2.6, "G": 1.5, "E": 1.2, "I": 0.7, "J": 0.5}.get(section, 1.0)
    if district in CENTRAL:
        return {"C": 0.25, "A": 0.0, "I": 1.3, "M": 1.3, "L": 1.3, "J": 1.6, "H": 1.3}.get(section, 1.0)
    if district == "310151":
        return {"A": 8.0, "L": 1.3, "C": 0.8}.get(section, 1.0)
    if district == "310115":
        return {"I": 1.3, "J": 1.4, "G": 1.4, "C": 1.2}.get(section, 1.0)
    return 1.0


def _sizes(rng: np.random.Generator, sections: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Index into SIZES; young firms are nearly all 微."""
    size = np.empty(len(sections), dtype=int)
    for section in np.unique(sections):
        where = np.flatnonzero(sections == section)
        shares = np.array(SIZE_SHARES.get(section, SIZE_SHARES["default"]))
        size[where] = rng.choice(4, size=len(where), p=shares)
    young = (age < 2) & (rng.random(len(age)) < 0.7)
    size[young] = np.maximum(size[young], 2 + (rng.random(young.sum()) < 0.8))
    return size


def _dormant(rng: np.random.Generator, firms: pd.DataFrame) -> np.ndarray:
    """Companies registered at a park address that do little business there (mostly L and F, 微)."""
    chance = firms.district_code.map(PARKS).fillna(0.02).to_numpy()
    chance = chance * np.where(firms.industry_section.isin(["L", "F", "M"]), 1.3, 0.5)
    chance = chance * np.where(firms.size_class == "微", 1.0, 0.1)
    return rng.random(len(firms)) < chance
