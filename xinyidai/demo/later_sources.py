"""The four later sources for every demo enterprise (DESIGN §13, issue 18): patents and trademarks, tech
qualifications (高新技术企业, 科技型中小企业, 专精特新, 科技小巨人, each a run of consecutive certificates),
environmental credit ratings and new-type agricultural operator recognitions — and their modest effect of
their own on the true PD (`EFFECT`), as `ml.synthetic.populate(more_sources=True)` gives them.

Two hidden traits drive them: how innovative a firm is (industry and size shift it; independent of its
health, so only these sources can show it) and how clean its operations are (a little tied to health). The
records are drawn from their own Generator, so a seed still draws the population it drew before them.

`features_as_of` (xinyidai.demo.risk) reads what a lender could see on the as-of day from the columns
`draw` adds to the firms frame — certificates valid on it (issued before it, expiring on it or later), an
invention patent granted before it, the latest environmental rating published by then, a recognition not
revoked — exactly the as-of rules of `ml.features`. The delivery files are `records`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.features import env_year_visible
from xinyidai.demo import clock

LAST_DAY = clock.month_end(clock.DATA_END)  # nothing is delivered as issued or granted after the data end
KINDS = {"high_tech": "高新技术企业", "tech_sme": "科技型中小企业", "specialised": "专精特新", "giant": "科技小巨人"}
# Log-odds each adds to the PD while a lender can see it (negative: safer); health moves it about 1 per sd.
EFFECT = {"high_tech": -0.35, "tech_sme": -0.15, "specialised": -0.2, "giant": -0.15, "invention": -0.25,
          "env_green": -0.1, "env_yellow": 0.35, "env_red": 0.8, "agri": -0.3}
# The mean of those effects over the lending candidates of the default demo (2,000 firms, seed 7), taken off
# so the population's default rate stays what the first six sources give.
CENTRE = -0.06
ENV_YEARS = tuple(range(2020, 2026))
SECTION_INNOVATION = {"I": 0.9, "M": 0.9, "C": 0.6, "J": 0.2, "E": 0.1, "D": 0.1}
SIZE_INNOVATION = {"大": 0.2, "中": 0.3, "小": 0.1, "微": -0.2}
ENV_RATED = {"C": 0.85, "D": 0.85, "E": 0.85, "A": 0.3, "G": 0.05, "H": 0.05}
OUTER_DISTRICTS = ("310112", "310113", "310114", "310116", "310117", "310118", "310120", "310151")


@dataclass(frozen=True)
class Programme:
    kind: str
    threshold: float  # the innovation trait above which a firm holds it
    years: int  # each certificate's validity
    first_year: int
    month: int  # the month certificates are issued in
    renew: float  # the chance of each renewal
    years_in_business: int = 1


PROGRAMMES = (
    Programme("high_tech", 1.3, 3, 2015, 11, 0.75),
    Programme("tech_sme", 0.9, 1, 2019, 5, 0.8),
    Programme("specialised", 1.9, 3, 2019, 7, 0.7, years_in_business=3),
    Programme("giant", 2.2, 3, 2016, 9, 0.6, years_in_business=3),
)


def draw(rng: np.random.Generator, firms: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The firms with the columns the true PD reads, and the four delivery frames (columns as declared)."""
    n = len(firms)
    section, size = firms.industry_section.to_numpy(), firms.size_class.to_numpy()
    established = np.array([d for d in firms.established_on])
    innovative = (rng.standard_normal(n) + np.array([SECTION_INNOVATION.get(s, -0.4) for s in section])
                  + np.array([SIZE_INNOVATION.get(s, 0.0) for s in size]) - 1.0 * firms.dormant.to_numpy())
    columns: dict[str, np.ndarray] = {}
    certificates = []
    for programme in PROGRAMMES:
        spans = _certificates(rng, programme, innovative, established, size, firms.uscc.to_numpy(), certificates)
        columns[f"{programme.kind}_from"], columns[f"{programme.kind}_until"] = spans
    ip, first_invention = _intellectual_property(rng, innovative, established, section, firms.uscc.to_numpy())
    columns["invention_granted"] = first_invention
    env, grades = _environmental(rng, firms, established)
    columns.update(grades)
    agri, (columns["agri_from"], columns["agri_until"]) = _agricultural(rng, firms, established)
    quals = pd.DataFrame(certificates, columns=["uscc", "kind", "issued_on", "expires_on", "certificate_no"])
    records = {"intellectual_property": ip, "qualifications": quals, "environmental_rating": env,
               "agricultural_operator": agri}
    return firms.assign(**columns), records


def _day(value: date) -> np.datetime64:
    return np.datetime64(value.isoformat(), "D")


def _certificates(rng, programme: Programme, innovative, established, size, usccs, out: list):
    n = len(innovative)
    start, until = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"), np.full(n, np.datetime64("NaT"),
                                                                                    dtype="datetime64[D]")
    eligible = innovative > programme.threshold
    if programme.kind in ("tech_sme", "specialised"):
        eligible &= size != "大"  # SME programmes
    year_draw, day_draw, renew_draw = rng.random(n), rng.integers(1, 28, n), rng.random((n, 12))
    for i in np.flatnonzero(eligible):
        earliest = max(programme.first_year, established[i].year + programme.years_in_business)
        if earliest > LAST_DAY.year:
            continue
        issued = date(earliest + int(year_draw[i] * (LAST_DAY.year - earliest + 1)), programme.month,
                      int(day_draw[i]))
        if issued > LAST_DAY:
            continue
        start[i] = _day(issued)
        k = 0
        while True:
            expires = date(issued.year + programme.years, issued.month, issued.day) - timedelta(days=1)
            number = f"GR{issued.year}31{zlib.crc32(f'{usccs[i]}:{k}'.encode()) % 100000:05d}" \
                if programme.kind == "high_tech" else ""
            out.append((usccs[i], KINDS[programme.kind], issued.isoformat(), expires.isoformat(), number))
            until[i] = _day(expires)
            k += 1
            issued = expires + timedelta(days=1)
            if issued > LAST_DAY or k >= 12 or renew_draw[i, k] > programme.renew:
                break
    return start, until


def _intellectual_property(rng, innovative, established, section, usccs):
    n = len(innovative)
    patents = np.minimum(rng.poisson(np.exp(0.9 * innovative - 1.0)), 40)
    trademarks = rng.poisson(0.3 + 0.5 * (innovative > 0) + 0.3 * np.isin(section, ["F", "G", "H", "R"]))
    first_invention = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    rows, sequence = [], 0
    for i in range(n):
        opened = max(established[i], date(2012, 1, 1))
        window = (LAST_DAY - opened).days
        if window <= 30:
            continue
        for _ in range(int(patents[i])):
            sequence += 1
            kind, code = [("发明专利", 1), ("实用新型", 2), ("外观设计", 3)][rng.choice(3, p=[0.35, 0.45, 0.2])]
            applied = opened + timedelta(days=int(rng.integers(0, window)))
            months = {1: (20, 40), 2: (6, 14), 3: (4, 10)}[code]
            granted_ok = rng.random() < {1: 0.55, 2: 0.9, 3: 0.95}[code]
            granted = applied + timedelta(days=int(rng.integers(*months) * 30.4))
            if not granted_ok:
                if applied < date(2024, 6, 1):
                    continue  # refused or withdrawn: no longer listed
                granted = None
            elif granted > LAST_DAY:
                granted = None  # still pending at the data end
            number = f"ZL{applied.year}{code}{sequence:07d}.{sequence % 10}"
            rows.append((usccs[i], kind, number, applied.isoformat(), granted.isoformat() if granted else ""))
            if code == 1 and granted is not None:
                first_invention[i] = min(first_invention[i], _day(granted)) if not np.isnat(first_invention[i]) \
                    else _day(granted)
        for _ in range(int(trademarks[i])):
            sequence += 1
            applied = opened + timedelta(days=int(rng.integers(0, window)))
            granted = applied + timedelta(days=int(rng.integers(270, 430)))
            rows.append((usccs[i], "商标", f"{sequence + 30_000_000:08d}", applied.isoformat(),
                         granted.isoformat() if granted <= LAST_DAY else ""))
    frame = pd.DataFrame(rows, columns=["uscc", "kind", "number", "applied_on", "granted_on"])
    return frame, first_invention


def _environmental(rng, firms, established):
    n = len(firms)
    section = firms.industry_section.to_numpy()
    rated = rng.random(n) < np.array([ENV_RATED.get(s, 0.01) for s in section])
    clean = rng.standard_normal(n) + 0.3 * firms.health.to_numpy()
    noise = rng.standard_normal((n, len(ENV_YEARS)))
    grades = {f"env_{year}": np.full(n, "", dtype=object) for year in ENV_YEARS}
    rows = []
    for i in np.flatnonzero(rated):
        for j, year in enumerate(ENV_YEARS):
            if established[i].year >= year:
                continue
            score = clean[i] + 0.5 * noise[i, j]
            grade = "绿" if score > 0.5 else "蓝" if score > -1.0 else "黄" if score > -1.7 else "红"
            grades[f"env_{year}"][i] = grade
            rows.append((firms.uscc.iat[i], year, grade))
    return pd.DataFrame(rows, columns=["uscc", "year", "grade"]), grades


def _agricultural(rng, firms, established):
    n = len(firms)
    section, district, size = (firms.industry_section.to_numpy(), firms.district_code.to_numpy(),
                               firms.size_class.to_numpy())
    chance = np.where(section == "A", 0.85,
                      np.where(np.isin(district, OUTER_DISTRICTS) & np.isin(section, ["C", "F", "G", "M", "L"]),
                               0.015, 0.0))
    recognised = rng.random(n) < chance
    start = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    until = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    rows = []
    for i in np.flatnonzero(recognised):
        earliest = max(date(established[i].year + 1, established[i].month, 1), date(2014, 1, 1))
        latest = date(2026, 9, 30)
        if earliest >= latest:
            continue
        if section[i] == "A":
            kinds, weights = ["家庭农场", "农民合作社", "农业产业化龙头企业", "农业社会化服务组织"], [0.45, 0.35, 0.12, 0.08]
            if size[i] in ("大", "中"):
                weights = [0.1, 0.2, 0.6, 0.1]
        else:
            kinds, weights = ["农业产业化龙头企业", "农业社会化服务组织"], [0.4, 0.6]
        kind = kinds[rng.choice(len(kinds), p=weights)]
        level = ["区级", "市级", "国家级"][rng.choice(3, p=[0.3, 0.45, 0.25] if kind == "农业产业化龙头企业"
                                                   else [0.65, 0.3, 0.05])]
        on = earliest + timedelta(days=int(rng.integers(0, (latest - earliest).days)))
        revoked = None
        if rng.random() < 0.08 and (LAST_DAY - on).days > 400:
            revoked = on + timedelta(days=int(rng.integers(365, (LAST_DAY - on).days)))
        start[i] = _day(on)
        until[i] = _day(revoked) if revoked else np.datetime64("NaT")
        rows.append((firms.uscc.iat[i], kind, on.isoformat(), level, revoked.isoformat() if revoked else ""))
    return pd.DataFrame(rows, columns=["uscc", "kind", "recognized_on", "level", "revoked_on"]), (start, until)


# ---------------------------------------------------------------- what a lender sees on a day, and its effect

def visible(firms: pd.DataFrame, firm: np.ndarray, day: np.ndarray) -> pd.DataFrame:
    """One row per (firm, as-of day, datetime64[D]): the later sources' facts visible that day."""
    out = {}
    for kind in KINDS:
        issued = firms[f"{kind}_from"].to_numpy(dtype="datetime64[D]")[firm]
        expires = firms[f"{kind}_until"].to_numpy(dtype="datetime64[D]")[firm]
        out[f"qual_{kind}"] = (issued < day) & (expires >= day)  # NaT compares False: not held
    out["invention_patent"] = firms["invention_granted"].to_numpy(dtype="datetime64[D]")[firm] < day
    env_year = np.array([env_year_visible(d) for d in day.astype(object)])
    grade = np.full(len(firm), "", dtype=object)
    for year in ENV_YEARS:
        column = firms[f"env_{year}"].to_numpy()[firm]
        grade = np.where(env_year == year, column, grade)
    out["env_grade"] = grade
    recognised = firms["agri_from"].to_numpy(dtype="datetime64[D]")[firm]
    revoked = firms["agri_until"].to_numpy(dtype="datetime64[D]")[firm]
    out["agri_operator"] = (recognised < day) & (np.isnat(revoked) | (revoked >= day))
    return pd.DataFrame(out)


def effect(features: pd.DataFrame) -> np.ndarray:
    """The log-odds the later sources add, centred on the default demo's lending candidates."""
    logit = sum(EFFECT[kind] * features[f"qual_{kind}"].to_numpy(dtype=float) for kind in KINDS)
    logit = logit + EFFECT["invention"] * features["invention_patent"].to_numpy(dtype=float)
    grade = features["env_grade"].to_numpy()
    logit = logit + EFFECT["env_green"] * (grade == "绿") + EFFECT["env_yellow"] * (grade == "黄") \
        + EFFECT["env_red"] * (grade == "红")
    logit = logit + EFFECT["agri"] * features["agri_operator"].to_numpy(dtype=float)
    return logit - CENTRE


def spans(firms: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per qualification (its delivered name): each firm's first issue day and last expiry day (NaT: never)."""
    return {name: (firms[f"{kind}_from"].to_numpy(dtype="datetime64[D]"),
                   firms[f"{kind}_until"].to_numpy(dtype="datetime64[D]")) for kind, name in KINDS.items()}


def held_throughout(held_spans: dict, firm: int, start: date, end: date) -> frozenset[str]:
    """The qualifications the firm holds on every day from `start` to `end` (its certificates run without a
    gap): a need published in between is matched on a day it holds them, so a product requiring one is
    planned only then."""
    first, last = _day(start), _day(end)
    return frozenset(name for name, (issued, expires) in held_spans.items()
                     if issued[firm] <= first and expires[firm] >= last)
