"""A small synthetic lending population written straight to the database, for tests and quick trials of
the training pipeline where the full demo (`xyd demo seed`) would be too slow or too small to label.

Each enterprise has a hidden health; its tax, social-insurance and utility months, its tax ratings and its
one loan's outcome are all drawn from it, so a model trained on the delivered data has something to find.
A second, independent trait — how innovative it is — gives it patents, trademarks and tech qualifications,
and some firms an environmental rating or an agricultural recognition; these carry a modest effect of their
own on the true PD (`MORE_SOURCES_EFFECT`), all dated before any loan, so a model can find it only in them.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml.features import month_add
from models.base import utcnow
from models.enterprise import Enterprise
from models.lending import Application, ApplicationState, Bank, FinancingNeed, LoanPerformance, Product
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    IntellectualProperty,
    Qualification,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)
from xinyidai.uscc import ALPHABET, make_uscc

DATA_END = date(2026, 10, 1)
MONTHS = 30
# Log-odds the four later sources add to a firm's PD (negative: safer), beside health's 1.3 per standard
# deviation: a valid 高新 certificate, a granted invention patent, a red or yellow environmental grade, a
# recognised agricultural operator.
MORE_SOURCES_EFFECT = {"high_tech": -0.45, "patent": -0.3, "env_red": 0.7, "env_yellow": 0.3, "agri": -0.25}


def _uscc(n: int, division: str) -> str:
    body = "SY" + "".join(ALPHABET[(n // 31**i) % 31] for i in range(6))
    return make_uscc("91", division, body.replace("S", "5"))


def populate(session: Session, *, enterprises: int = 400, seed: int = 1, district: str = "310115",
             data_end: date = DATA_END, offset: int = 0, more_sources: bool = False) -> pd.DataFrame:
    """Add `enterprises` enterprises with MONTHS months of data up to `data_end` and one loan each,
    disbursed 24 to 13 months before it. Returns uscc, health, true_pd, defaulted, disbursed_on.
    `more_sources`: also the four later sources, with their effect on the true PD (the default keeps the
    populations earlier tests were written against)."""
    rng = np.random.default_rng(seed)
    health = rng.standard_normal(enterprises)
    usccs = [_uscc(offset + i + 1, district) for i in range(enterprises)]
    months = [month_add(data_end, -k) for k in range(MONTHS - 1, -1, -1)]
    session.execute(sa.insert(Enterprise), [
        {"uscc": u, "name": f"合成企业{offset + i + 1}", "district_code": district, "industry_section": "CFGIM"[i % 5],
         "industry_division": "13", "established_on": date(2012 + i % 10, 1 + i % 12, 1),
         "registered_capital_fen": int(10 ** (6 + 2 * rng.random()) * 100), "status": "存续",
         "size_class": "中小微"[i % 3]} for i, u in enumerate(usccs)])
    drift = 0.04 * health[:, None] * np.arange(MONTHS)[None, :]
    sales = np.exp(13 + 0.5 * health[:, None] + drift + 0.15 * rng.standard_normal((enterprises, MONTHS)))
    arrears = rng.random((enterprises, MONTHS)) < 1 / (1 + np.exp(3 + 1.5 * health))[:, None]
    headcount = np.maximum(1, np.rint(np.exp(2.5 + 0.3 * health[:, None] + drift / 2)))
    late = np.where(rng.random((enterprises, MONTHS)) < 1 / (1 + np.exp(2 + 1.5 * health))[:, None], 20, 0)
    tax, social, utilities = [], [], []
    for i, u in enumerate(usccs):
        for j, m in enumerate(months):
            tax.append({"uscc": u, "month": m, "invoiced_sales_fen": int(sales[i, j] * 100),
                        "tax_paid_fen": int(sales[i, j] * 3), "in_arrears": bool(arrears[i, j])})
            social.append({"uscc": u, "month": m, "insured_headcount": int(headcount[i, j]),
                           "contributions_fen": int(headcount[i, j] * 120_000), "months_in_arrears": int(arrears[i, j])})
            bill = int(sales[i, j] * 2)
            utilities.append({"uscc": u, "month": m, "kind": "electricity", "consumption": float(sales[i, j] / 50),
                              "billed_fen": bill, "paid_fen": bill if not late[i, j] else bill // 2,
                              "days_late": int(late[i, j])})
    session.execute(sa.insert(TaxMonth), tax)
    session.execute(sa.insert(SocialInsuranceMonth), social)
    session.execute(sa.insert(UtilityMonth), utilities)
    ratings = np.where(health > 0.8, "A", np.where(health > -1.0, "B", np.where(health > -2.0, "C", "D")))
    session.execute(sa.insert(TaxRating), [{"uscc": u, "year": y, "rating": r}
                                           for u, r in zip(usccs, ratings, strict=True) for y in (2023, 2024, 2025)])
    extra = _more_sources(session, usccs, np.random.default_rng([seed, 18]), data_end) if more_sources else 0.0
    true_pd = 1 / (1 + np.exp(3.0 + 1.3 * health - extra))
    defaulted = rng.random(enterprises) < true_pd
    disbursed = [month_add(data_end, -int(k)) + timedelta(days=int(d))
                 for k, d in zip(rng.integers(13, 25, enterprises), rng.integers(0, 27, enterprises), strict=True)]
    _lend(session, usccs, disbursed, defaulted, data_end)
    return pd.DataFrame({"uscc": usccs, "health": health, "true_pd": true_pd, "defaulted": defaulted.astype(int),
                         "disbursed_on": disbursed})


def _more_sources(session: Session, usccs: list[str], rng: np.random.Generator, data_end: date) -> np.ndarray:
    """Patents, trademarks, qualifications, environmental ratings and agricultural recognitions, all dated at
    least 27 months before `data_end` (before every loan); returns each firm's added log-odds of default."""
    n = len(usccs)
    innovative = rng.standard_normal(n)
    effect = MORE_SOURCES_EFFECT
    issued = month_add(data_end, -40)
    high_tech = innovative > 0.9
    tech_sme = innovative > 0.3
    patents = rng.poisson(np.exp(innovative - 0.5))
    trademarks = rng.poisson(0.8, n)
    rated = rng.random(n) < 0.25
    grade = rng.choice(np.array(list("绿蓝黄红")), size=n, p=[0.35, 0.4, 0.17, 0.08])
    agri = rng.random(n) < 0.06
    ip, certificates, ratings, operators = [], [], [], []
    for i, u in enumerate(usccs):
        for k in range(patents[i]):
            applied = month_add(issued, -12 - k)
            ip.append({"kind": "发明专利" if k % 2 == 0 else "实用新型", "number": f"{u}-P{k}", "uscc": u,
                       "applied_on": applied, "granted_on": month_add(applied, 10)})
        ip.extend({"kind": "商标", "number": f"{u}-T{k}", "uscc": u, "applied_on": month_add(issued, -20),
                   "granted_on": month_add(issued, -8)} for k in range(trademarks[i]))
        for held, kind in ((high_tech[i], "高新技术企业"), (tech_sme[i], "科技型中小企业")):
            if held:
                certificates.append({"uscc": u, "kind": kind, "issued_on": issued,
                                     "expires_on": month_add(issued, 48) - timedelta(days=1)})
        if rated[i]:
            ratings.extend({"uscc": u, "year": y, "grade": str(grade[i])} for y in (issued.year - 2, issued.year - 1))
        if agri[i]:
            operators.append({"uscc": u, "kind": "家庭农场", "recognized_on": month_add(issued, -6), "level": "区级"})
    for model, rows in ((IntellectualProperty, ip), (Qualification, certificates), (EnvironmentalRating, ratings),
                        (AgriculturalOperator, operators)):
        if rows:
            session.execute(sa.insert(model), rows)
    granted_invention = np.array([sum(1 for k in range(p) if k % 2 == 0) for p in patents]) > 0
    added = (effect["high_tech"] * high_tech + effect["patent"] * granted_invention + effect["agri"] * agri
             + rated * (effect["env_red"] * (grade == "红") + effect["env_yellow"] * (grade == "黄")))
    return added - added.mean()  # the population's default rate stays what health alone gives


def _lend(session: Session, usccs, disbursed, defaulted, data_end: date) -> None:
    bank = session.scalar(sa.select(Bank).where(Bank.code == "SYNTH"))
    if bank is None:
        bank = Bank(code="SYNTH", name_zh="合成银行", name_en="Synthetic Bank")
        session.add(bank)
        session.flush()
        session.add(Product(bank_id=bank.id, code="SYN", name_zh="合成贷", name_en="Synthetic loan",
                            min_amount_fen=10_000_00, max_amount_fen=5_000_000_00, min_term_months=6,
                            max_term_months=24, min_rate_bp=300, max_rate_bp=600, guarantee_type="信用"))
        session.flush()
    product = session.scalar(sa.select(Product).where(Product.bank_id == bank.id))
    now = utcnow()
    need_ids = session.execute(sa.insert(FinancingNeed).returning(FinancingNeed.id, sort_by_parameter_order=True), [
        {"uscc": u, "amount_fen": 1_000_000_00, "term_months": 12, "purpose": "working_capital",
         "guarantee_types": ["信用"], "published_at": now} for u in usccs]).scalars().all()
    states = [ApplicationState.DEFAULTED if d else ApplicationState.REPAID for d in defaulted]
    app_ids = session.execute(sa.insert(Application).returning(Application.id, sort_by_parameter_order=True), [
        {"need_id": n, "product_id": product.id, "bank_id": bank.id, "uscc": u, "state": s,
         "disbursed_amount_fen": 1_000_000_00, "term_months": 12, "disbursed_on": d, "rate_bp": 400,
         "created_at": now, "updated_at": now}
        for n, u, s, d in zip(need_ids, usccs, states, disbursed, strict=True)]).scalars().all()
    reports = []
    for app_id, day, bad in zip(app_ids, disbursed, defaulted, strict=True):
        start = day.replace(day=1)
        if bad:
            reports.append({"application_id": app_id, "as_of": month_add(start, 6) - timedelta(days=1),
                            "outstanding_fen": 1_000_000_00, "days_past_due": 95, "status": "defaulted"})
        reports.append({"application_id": app_id, "as_of": month_add(data_end, 1) - timedelta(days=1),
                        "outstanding_fen": 0 if not bad else 1_000_000_00, "days_past_due": 0 if not bad else 300,
                        "status": "repaid" if not bad else "written_off"})
    session.execute(sa.insert(LoanPerformance), [{**r, "reported_at": now} for r in reports])
    session.flush()
