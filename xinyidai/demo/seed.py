"""`seed_demo`: generate the population, write its delivery files, load them through ingestion, then
store banks, users and the lending history. `generate` alone is pure: same arguments, same data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.lending import Bank
from xinyidai.database import refresh_statistics
from xinyidai.demo import clock, later_sources
from xinyidai.demo.activity import History, draw_latent, observe
from xinyidai.demo.applications import LendingPlan, demo_enterprise_need, plan_lending, stamp_need_updates
from xinyidai.demo.banks import BANKS
from xinyidai.demo.deliveries import ingest_deliveries, write_deliveries
from xinyidai.demo.guarantees import GUARANTORS, store_guarantees, store_guarantors
from xinyidai.demo.lending import (
    assign_products,
    declined_applicants,
    historical_loans,
    pipeline_applicants,
    recent_loans,
    show_every_outcome,
    worsen_after_default,
)
from xinyidai.demo.logins import DEMO_ENTERPRISE_USERNAME, SONGJIANG
from xinyidai.demo.population import draw_enterprises
from xinyidai.demo.records import draw_events, number_events, tax_ratings
from xinyidai.demo.repairs import store_repair_story
from xinyidai.demo.risk import features_as_of, true_pd
from xinyidai.demo.store import (
    PLATFORM_OPENED,
    DemoAlreadySeeded,
    store_authorization,
    store_banks,
    store_plan,
    store_portal_registration,
    store_tokens,
    store_users,
)

STATUS_OF_CLOSURE = {"": "存续", "注销": "注销", "吊销": "吊销"}


@dataclass
class DemoData:
    firms: pd.DataFrame
    history: History
    events: pd.DataFrame
    ratings: pd.DataFrame
    loans: pd.DataFrame
    plan: LendingPlan
    truth: pd.DataFrame
    demo_uscc: str
    later: dict = field(default_factory=dict)  # the later sources' delivery frames (xinyidai.demo.later_sources)


def generate(enterprises: int, seed: int) -> DemoData:
    """The whole population from one numpy Generator; no clock, no other randomness."""
    rng = np.random.default_rng(seed)
    firms = draw_enterprises(rng, enterprises)
    # Their own Generator: the six sources and the lending history draw the numbers they always drew.
    firms, later = later_sources.draw(np.random.default_rng([seed, 18]), firms)
    latent = draw_latent(rng, firms)
    history = observe(latent)
    events = draw_events(rng, firms, latent)
    rating_noise = rng.standard_normal((enterprises, 4))
    ratings = tax_ratings(rating_noise, firms, latent, history, events)

    def after_defaults(loans):
        nonlocal events, history, ratings
        events = pd.concat([events, worsen_after_default(rng, latent, loans)], ignore_index=True)
        history = observe(latent)
        ratings = tax_ratings(rating_noise, firms, latent, history, events)

    historical = historical_loans(rng, firms, latent, history, events, ratings)
    after_defaults(historical)
    recent = show_every_outcome(historical, recent_loans(rng, firms, latent, history, events, ratings, historical))
    after_defaults(recent)
    loans = pd.concat([historical, recent], ignore_index=True)
    loans["first_loan"] = first_loans(loans)
    declined = declined_applicants(rng, firms, latent, history, events, ratings, loans.firm.unique())
    busy = np.union1d(loans.firm[(loans.cohort == "recent") | loans.defaulted], declined.firm)
    pipeline = pipeline_applicants(rng, firms, latent, history, events, ratings, busy)
    demo = _demo_enterprise(firms, latent.end, history, historical, np.union1d(busy, pipeline.firm))
    plan = plan_lending(rng, firms, loans, declined, pipeline)
    demo_row = _demo_need_row(rng, firms, history, events, ratings, demo)
    demo_enterprise_need(rng, plan, firms, next(demo_row.itertuples(index=False)))
    stamp_need_updates(plan)
    firms = firms.assign(status=[STATUS_OF_CLOSURE[c] for c in latent.closure])
    truth = _truth(firms, history, events, ratings, historical)
    return DemoData(firms, history, number_events(events, firms), ratings, loans, plan, truth, firms.uscc.iat[demo],
                    later)


def first_loans(loans: pd.DataFrame) -> np.ndarray:
    """首贷户 as the platform counts it (lending.lifecycle._mark_first_loan): a firm's earliest loan on the
    platform, and only that one. (The cohorts' own random first_loan draws are overridden, not removed, so
    a seed still draws the population it always drew.)"""
    earliest = loans.sort_values(["disbursed_on"], kind="stable").drop_duplicates("firm").index
    return loans.index.isin(earliest)


def seed_demo(session: Session, instance_path: str | Path, *, enterprises: int = 2000, seed: int = 7) -> dict:
    """Seed an empty platform; raises DemoAlreadySeeded when the demo banks exist. Returns summary counts."""
    if already_seeded(session):
        raise DemoAlreadySeeded("演示数据已存在（the demo banks are already in this database）")
    started = time.perf_counter()
    data = generate(enterprises, seed)
    folder = Path(instance_path) / "demo"
    paths = write_deliveries(folder / "deliveries", data.firms, data.history, data.ratings, data.events, data.later)
    write_truth(folder / "truth.csv", data.truth)
    generated = time.perf_counter()
    deliveries = ingest_deliveries(session, paths, report_dir=folder / "deliveries")
    ingested = time.perf_counter()
    counts = _store_lending(session, data, seed)
    store_repair_story(session, data.demo_uscc, _demo_user(session), instance_path)
    session.commit()
    refresh_statistics(session)
    session.commit()
    finished = time.perf_counter()
    return _summary(data, deliveries, counts, folder, {
        "generate_and_write": generated - started, "ingest": ingested - generated, "lending": finished - ingested,
        "total": finished - started})


def _demo_user(session: Session):
    from models.identity import User

    return session.scalar(sa.select(User).where(User.username == DEMO_ENTERPRISE_USERNAME))


def already_seeded(session: Session) -> bool:
    codes = [bank.code for bank in BANKS]
    return bool(session.scalar(sa.select(sa.func.count()).select_from(Bank).where(Bank.code.in_(codes))))


def write_truth(path: Path, truth: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    truth.to_csv(path, index=False, float_format="%.8f", lineterminator="\n")


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by ranks (ties share their rank)."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if not positives or not negatives:
        return float("nan")
    ranks = pd.Series(scores).rank().to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _store_lending(session: Session, data: DemoData, seed: int) -> dict[str, int]:
    banks, products = store_banks(session)
    guarantors = store_guarantors(session)
    users = store_users(session, banks, data.demo_uscc, guarantors)
    officers = {bank.code: users[f"demo-bank-{bank.short}"] for bank in BANKS}
    tokens = store_tokens(session, banks, officers, token_seed=f"xinyidai-demo:{seed}:".encode())
    enterprise_user = users[DEMO_ENTERPRISE_USERNAME]
    counts = store_plan(session, data.plan, banks, products, officers, tokens, enterprise_user)
    staff = {g.id: users[f"demo-guarantor-{demo.short}"] for demo in GUARANTORS for g in [guarantors[demo.code]]}
    counts["guarantees"] = store_guarantees(session, products, guarantors, officers, staff, seed)
    first_need = min(n["published_at"] for n in data.plan.needs if n["uscc"] == data.demo_uscc)
    store_portal_registration(session, data.demo_uscc, registered_at=PLATFORM_OPENED)
    store_authorization(session, enterprise_user, granted_at=first_need, guarantors=guarantors.values())
    return {"banks": len(banks), "guarantors": len(guarantors), "products": len(products), "users": len(users),
            **counts}


def _demo_enterprise(firms, end, history: History, historical: pd.DataFrame, busy: np.ndarray) -> int:
    """A small Songjiang firm with a repaid loan, every month delivered and a low PD, holding a tech
    qualification if one such does (first that fits)."""
    spans = later_sources.spans(firms)
    complete = np.isfinite(history.sales).all(axis=1) & np.isfinite(history.headcount).all(axis=1)
    repaid = historical[~historical.defaulted & (historical.term_months <= 12) & (historical.pd < 0.03)]
    repaid = repaid[~np.isin(repaid.firm, busy) & complete[repaid.firm] & (end[repaid.firm] == clock.HISTORY_MONTHS)]
    qualified = pd.Series([bool(later_sources.held_throughout(spans, i, clock.DATA_END, clock.DEMO_NOW.date()))
                           for i in range(len(firms))], index=firms.index)
    for rule in (lambda f: (f.district_code == SONGJIANG) & (f.size_class == "小") & qualified[f.index].to_numpy(),
                 lambda f: (f.district_code == SONGJIANG) & (f.size_class == "小"),
                 lambda f: f.district_code == SONGJIANG, lambda f: f.size_class != ""):
        fits = repaid[rule(firms.iloc[repaid.firm]).to_numpy()]
        if len(fits):
            return int(fits.firm.min())
    return int(historical.firm.min())


def _demo_need_row(rng, firms, history, events, ratings, demo: int) -> pd.DataFrame:
    features = features_as_of(firms, history, events, ratings, np.array([demo]), np.array([clock.HISTORY_MONTHS]))
    window = history.sales[demo, -12:]
    row = pd.DataFrame({"firm": [demo], "uscc": [firms.uscc.iat[demo]], "pd": true_pd(features),
                        "annual_sales": [np.nanmean(window) * 12 * 100]})
    return assign_products(rng, firms, row, recent=True)


def _truth(firms, history, events, ratings, historical: pd.DataFrame) -> pd.DataFrame:
    """true_pd_12m at disbursement with the outcome for historical borrowers; PD at the data end otherwise."""
    n = len(firms)
    everyone = np.arange(n)
    pd_now = true_pd(features_as_of(firms, history, events, ratings, everyone, np.full(n, clock.HISTORY_MONTHS)))
    truth = pd.DataFrame({"uscc": firms.uscc, "true_pd_12m": pd_now,
                          "defaulted": pd.array([pd.NA] * n, dtype="Int64"), "disbursed_on": ""})
    truth.loc[historical.firm, "true_pd_12m"] = historical.pd.to_numpy()
    truth.loc[historical.firm, "defaulted"] = historical.defaulted.astype(int).to_numpy()
    truth.loc[historical.firm, "disbursed_on"] = [d.isoformat() for d in historical.disbursed_on]
    return truth


def _summary(data: DemoData, deliveries: dict, counts: dict, folder: Path, seconds: dict) -> dict:
    states = pd.Series([a["state"] for a in data.plan.applications]).value_counts().sort_index()
    labelled = data.truth[data.truth.defaulted.notna()]
    rows = sum(d["rows"] for d in deliveries.values())
    return {
        "enterprises": len(data.firms), "folder": str(folder), "demo_enterprise": data.demo_uscc,
        "deliveries": {s: {k: d[k] for k in ("rows", "inserted", "updated", "unchanged", "rejected", "seconds",
                                               "rows_per_second")} for s, d in deliveries.items()},
        "delivered_rows": rows, "rejected_rows": sum(d["rejected"] for d in deliveries.values()),
        "ingest_rows_per_second": round(rows / seconds["ingest"]) if seconds["ingest"] else None,
        **counts, "applications_by_state": {k: int(v) for k, v in states.items()},
        "historical_loans": len(labelled), "default_rate": float(labelled.defaulted.mean()),
        "true_pd_auc": auc(labelled.defaulted.to_numpy(dtype=int), labelled.true_pd_12m.to_numpy()),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }
