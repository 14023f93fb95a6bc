"""The whitelist score's bars (issue 3), measured and printed — never asserted by the test suite.

1. Quality on the demo population (default 50,000 enterprises): out-of-time AUC of the trained model
   against the AUC of the demo's true PD on the same holdout loans (bar: within 0.02), and ECE (< 0.02);
   the WOE scorecard beside it.
2. Batch: features + scores + gates + reasons for every enterprise of a 100,000-enterprise demo (36 months
   per source), read from the database and written back (Score, ScoreReason) — wall time (< 30 s) and the
   peak memory of the process that did it (< 4 GB, measured in a child process).
3. The same work done the straightforward way — ORM queries and Python loops per enterprise, one row
   predicted and stored at a time — on a sample, extrapolated to the population (bar: batch ≥ 50× faster).
4. Scoring alone (PD, points, grade from a feature table): enterprises per second (≥ 100,000/s).
5. On-demand rescoring of one enterprise (features, score, gates, reasons, stored, committed): p50 / p95
   (p95 < 20 ms).

Populations: BENCH_ML_QUALITY_INSTANCE and BENCH_ML_INSTANCE name instance folders that already hold a demo
(`XYD_INSTANCE_PATH=/tmp/d xyd db upgrade && xyd demo seed --enterprises 100000`, about 12 minutes here);
a missing one is generated into a temporary folder first (BENCH_ML_ENTERPRISES / BENCH_ML_QUALITY_ENTERPRISES).
Run: `.venv/bin/python -m bench ml_bench`.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

QUALITY_ENTERPRISES = int(os.environ.get("BENCH_ML_QUALITY_ENTERPRISES", "50000"))
BATCH_ENTERPRISES = int(os.environ.get("BENCH_ML_ENTERPRISES", "100000"))
NAIVE_SAMPLE = int(os.environ.get("BENCH_ML_NAIVE_SAMPLE", "200"))
RESCORES = int(os.environ.get("BENCH_ML_RESCORES", "200"))


def _app(instance: Path):
    from xinyidai import create_app

    return create_app({"XYD_INSTANCE_PATH": str(instance), "SECRET_KEY": "bench",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'xinyidai.sqlite3'}"})


def _instance(variable: str, enterprises: int) -> Path:
    """An instance folder holding a demo population: the one named by `variable`, or a fresh one."""
    if os.environ.get(variable):
        return Path(os.environ[variable])
    folder = Path(tempfile.mkdtemp(prefix="xyd-ml-bench-"))
    print(f"  generating a demo of {enterprises:,} enterprises into {folder} (set {variable} to reuse one)…")
    from flask_migrate import upgrade

    from xinyidai.demo.seed import seed_demo
    from xinyidai.extensions import db

    app = _app(folder)
    with app.app_context():
        upgrade()
        seed_demo(db.session, folder, enterprises=enterprises, seed=7)
    return folder


# ---------------------------------------------------------------- 1. quality


def quality() -> object:
    from ml.train import train
    from xinyidai.extensions import db

    instance = _instance("BENCH_ML_QUALITY_INSTANCE", QUALITY_ENTERPRISES)
    app = _app(instance)
    with app.app_context():
        started = time.perf_counter()
        run = train(db.session)
        seconds = time.perf_counter() - started
    from ml.truth import demo_quality, truth_file

    truth = pd.read_csv(truth_file(instance), usecols=["uscc"])
    card = run.model.card
    bars = demo_quality(run, truth_file(instance))
    print(f"quality ({len(truth):,} enterprises, {len(run.loans):,} labelled loans, trained in {seconds:.1f} s)")
    print(f"  out-of-time holdout: {card['data_window']['holdout']['from']} … {card['data_window']['holdout']['to']}, "
          f"{bars['holdout_loans']:,} loans, {bars['holdout_defaults']} defaults")
    print(f"  AUC model {bars['model_auc']:.4f}   AUC true PD {bars['true_pd_auc']:.4f}   gap {bars['auc_gap']:+.4f}"
          f"   (bar: ≤ {bars['auc_gap_bar']})")
    print(f"  ECE {bars['ece']:.4f} (bar: < {bars['ece_bar']})   KS {card['metrics']['ks']:.4f}   "
          f"Brier {card['metrics']['brier']:.4f}   PSI(score) {card['metrics']['psi']['score']:.4f}")
    base = card["baseline"]["metrics"]
    print(f"  WOE scorecard: AUC {base['auc']:.4f}  KS {base['ks']:.4f}  Brier {base['brier']:.4f}; "
          f"LightGBM lift in AUC {card['baseline']['lift']['auc']:+.4f}")
    return run.model


# ---------------------------------------------------------------- 2. batch (in a child process)


def batch_child(instance: str, model_dir: str) -> None:
    """Runs in a fresh interpreter so that its peak RSS is the batch's own."""
    from ml.registry import load
    from ml.score import score_and_store
    from models.scoring import ModelVersion
    from xinyidai.extensions import db

    card = json.loads((Path(model_dir) / "card.json").read_text())
    version = ModelVersion(version=card["version"], path=model_dir, card=card)
    model = load(instance, version)
    app = _app(Path(instance))
    with app.app_context():
        _register(db.session, version)
        marks = {}
        started = time.perf_counter()
        scored = score_and_store(db.session, model, version.version, threads=2,
                                 progress=lambda step: marks.setdefault(step, time.perf_counter()))
        db.session.commit()
        total = time.perf_counter() - started
    steps = list(marks.items()) + [("end", started + total)]
    split = {a: round(steps[i + 1][1] - t, 2) for i, (a, t) in enumerate(steps[:-1])}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"rows": len(scored.frame), "seconds": total, "steps": split, "peak_gb": peak,
                      "reasons": int(scored.frame.reasons.map(len).sum())}))


def _register(session, version) -> None:
    from models.scoring import ModelVersion

    if session.get(ModelVersion, version.version) is None:
        session.add(ModelVersion(version=version.version, path=version.path, card=version.card))
        session.commit()


def batch(instance: Path, model_dir: Path) -> dict:
    code = f"from bench.ml_bench import batch_child; batch_child({str(instance)!r}, {str(model_dir)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603 (our own interpreter and module)
                         cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- 3. the straightforward way


def naive_features(session, uscc: str, as_of) -> dict:
    """Every feature of one enterprise from its ORM rows with Python loops (what one writes first)."""
    from ml.features import (
        FEATURE_NAMES,
        LOOKBACK,
        SECTIONS,
        SIZE_ORDER,
        WINDOW,
        month_add,
        rating_year_visible,
    )
    from models.enterprise import Enterprise
    from models.sources import (
        HousingFundMonth,
        PublicCreditEvent,
        SocialInsuranceMonth,
        TaxMonth,
        TaxRating,
        UtilityMonth,
    )

    end = as_of.replace(day=1)
    start12, start24 = month_add(end, -WINDOW), month_add(end, -LOOKBACK)
    mid, last3, first3 = month_add(end, -6), month_add(end, -3), month_add(end, -9)
    firm = session.get(Enterprise, uscc)
    f = dict.fromkeys(FEATURE_NAMES, math.nan)

    def months_to(m):
        return (end.year - m.year) * 12 + end.month - m.month

    def mean(values):
        return sum(values) / len(values) if values else math.nan

    tax = [t for t in session.query(TaxMonth).filter_by(uscc=uscc).all() if start24 <= t.month < end]
    window = [t for t in tax if t.month >= start12]
    founded = (end.year - firm.established_on.year) * 12 + end.month - firm.established_on.month - 1
    expected = min(max(founded, 0), WINDOW)
    f["tax_coverage"] = min(len(window) / expected, 1) if expected else math.nan
    if window:
        xs = [math.log(t.invoiced_sales_fen / 100 + 1000) for t in window]
        ts = [(t.month - end).days / 30.4375 for t in window]
        n = len(xs)
        f["sales_level"] = sum(xs) / n
        f["sales_trend"] = (mean([x for x, t in zip(xs, window, strict=True) if t.month >= mid])
                            - mean([x for x, t in zip(xs, window, strict=True) if t.month < mid]))
        if n >= 3:
            tm, xm = sum(ts) / n, sum(xs) / n
            stt = sum((t - tm) ** 2 for t in ts)
            sxy = sum((t - tm) * (x - xm) for t, x in zip(ts, xs, strict=True))
            syy = sum((x - xm) ** 2 for x in xs)
            if stt > 0:
                f["sales_slope"] = sxy / stt
                f["sales_volatility"] = math.sqrt(max(syy - sxy / stt * sxy, 0) / (n - 2))
        prior = [t.invoiced_sales_fen / 100 for t in tax if t.month < start12]
        if len(prior) >= 6:
            recent = sum(t.invoiced_sales_fen / 100 for t in window) / n * WINDOW
            f["sales_growth_yoy"] = math.log(recent + 12_000) - math.log(sum(prior) / len(prior) * WINDOW + 12_000)
        f["zero_sales_months"] = sum(t.invoiced_sales_fen == 0 for t in window)
        f["tax_paid_months"] = sum(t.tax_paid_fen > 0 for t in window)
        f["tax_arrears_months"] = sum(t.in_arrears for t in window)
    owed = [t.month for t in tax if t.in_arrears]
    f["tax_arrears_recency"] = months_to(max(owed)) if owed else math.nan
    visible = [r for r in session.query(TaxRating).filter_by(uscc=uscc).all() if r.year <= rating_year_visible(as_of)]
    if visible:
        f["tax_rating"] = "ABMCD".index(max(visible, key=lambda r: r.year).rating.value)

    si = [s for s in session.query(SocialInsuranceMonth).filter_by(uscc=uscc).all() if start12 <= s.month < end]
    if si:
        late, early = mean([s.insured_headcount for s in si if s.month >= last3]), mean(
            [s.insured_headcount for s in si if s.month < first3])
        f["headcount_level"], f["headcount_trend"] = math.log1p(late), math.log((late + 1) / (early + 1))
        f["si_arrears_max"] = max(s.months_in_arrears for s in si)
        f["si_arrears_months"] = sum(s.months_in_arrears > 0 for s in si)
        owed = [s.month for s in si if s.months_in_arrears > 0]
        f["si_arrears_recency"] = months_to(max(owed)) if owed else math.nan
    f["si_coverage"] = min(len(si) / expected, 1) if expected else math.nan
    hf = [h for h in session.query(HousingFundMonth).filter_by(uscc=uscc).all() if start12 <= h.month < end]
    if hf:
        late, early = mean([h.contributors for h in hf if h.month >= last3]), mean(
            [h.contributors for h in hf if h.month < first3])
        f["hf_contributors_level"], f["hf_contributors_trend"] = math.log1p(late), math.log((late + 1) / (early + 1))
        f["hf_arrears_months"] = sum(h.in_arrears for h in hf)
        owed = [h.month for h in hf if h.in_arrears]
        f["hf_arrears_recency"] = months_to(max(owed)) if owed else math.nan
    util = [u for u in session.query(UtilityMonth).filter_by(uscc=uscc).all() if start12 <= u.month < end]
    if util:
        power = [u for u in util if u.kind.value == "electricity"]
        f["electricity_trend"] = (mean([math.log(u.consumption + 1) for u in power if u.month >= mid])
                                  - mean([math.log(u.consumption + 1) for u in power if u.month < mid]))
        f["utility_usage_trend"] = (mean([math.log(u.consumption + 1) for u in util if u.month >= mid])
                                    - mean([math.log(u.consumption + 1) for u in util if u.month < mid]))
        f["electricity_days_late"] = mean([u.days_late for u in power if u.month >= mid])
        f["utility_days_late_max"] = max(u.days_late for u in util)
        f["utility_unpaid_months"] = sum(u.paid_fen < u.billed_fen for u in util)
        owed = [u.month for u in util if u.paid_fen < u.billed_fen]
        f["utility_unpaid_recency"] = months_to(max(owed)) if owed else math.nan
    counts = dict.fromkeys(("pc_minor_penalties", "pc_penalties", "pc_serious_penalties", "pc_abnormal_listings",
                            "pc_dishonest_debtor", "pc_serious_violation", "pc_repaired"), 0)
    latest = None
    for e in session.query(PublicCreditEvent).filter_by(uscc=uscc).all():
        if e.decided_on >= as_of or e.force_majeure:
            continue
        if e.repaired_on is not None and e.repaired_on < as_of:
            counts["pc_repaired"] += 1
            continue
        kind, severity = e.kind.value, e.severity.value
        if kind == "行政处罚":
            counts["pc_minor_penalties" if severity == "轻微" else "pc_penalties"] += 1
            counts["pc_serious_penalties"] += severity == "严重"
        else:
            counts[{"经营异常名录": "pc_abnormal_listings", "失信被执行人": "pc_dishonest_debtor",
                    "严重违法失信名单": "pc_serious_violation"}[kind]] += 1
        latest = max(latest or e.decided_on, e.decided_on)
    f.update(counts)
    f["pc_record_recency"] = months_to(latest) if latest else math.nan
    f["age_years"] = (as_of - firm.established_on).days / 365.25
    f["registered_capital"] = math.log1p(firm.registered_capital_fen / 100)
    f["size_class"] = SIZE_ORDER[firm.size_class.value]
    f["industry_section"] = SECTIONS.index(firm.industry_section)
    return f


def naive_score_one(session, model, version: str, uscc: str, as_of) -> dict:
    """One enterprise, start to finish, the straightforward way: its features, a one-row prediction, the
    gates from its ORM rows, its reasons, and a Score with ScoreReasons added through the ORM."""
    from ml.gates import evaluate_gates
    from ml.score import family_reasons, grades, points, scaling_of
    from models.scoring import Score, ScoreReason

    features = pd.DataFrame([naive_features(session, uscc, as_of)], index=pd.Index([uscc], name="uscc"))
    pd_12m, contrib = model.explain(features)
    scaling = scaling_of(model)
    score_points = points(pd_12m, scaling)
    gates = evaluate_gates(session, [uscc], as_of, tax_rating=features.tax_rating).iloc[0]
    reasons = family_reasons(model, contrib)[0]
    score = Score(uscc=uscc, model_version=version, as_of=as_of, pd_12m=float(pd_12m[0]), points=int(score_points[0]),
                  grade=str(grades(score_points, scaling)[0]), gates_passed=bool(gates.gates_passed),
                  failed_gates=gates.failed_gates)
    score.reasons = [ScoreReason(rank=i, **r) for i, r in enumerate(reasons, start=1)]
    session.add(score)
    session.flush()
    return features.iloc[0].to_dict()


def naive(instance: Path, model, version: str, enterprises: int) -> dict:
    import sqlalchemy as sa

    from ml.features import data_end_as_of, features_as_of
    from models.enterprise import Enterprise
    from xinyidai.extensions import db

    app = _app(instance)
    with app.app_context():
        session = db.session
        as_of = data_end_as_of(session)
        sample = session.scalars(sa.select(Enterprise.uscc).order_by(sa.func.random()).limit(NAIVE_SAMPLE)).all()
        started = time.perf_counter()
        rows = {uscc: naive_score_one(session, model, version, uscc, as_of) for uscc in sample}
        seconds = time.perf_counter() - started
        session.rollback()
        vectorised = features_as_of(session, as_of, sample)
    same = np.allclose(pd.DataFrame(rows).T.loc[sample, vectorised.columns].to_numpy(dtype=float),
                       vectorised.loc[sample].to_numpy(), equal_nan=True, rtol=1e-6, atol=1e-6)
    return {"per_enterprise_ms": seconds / len(sample) * 1000, "extrapolated_s": seconds / len(sample) * enterprises,
            "same_features": bool(same)}


# ---------------------------------------------------------------- 4 and 5


def scoring_alone(instance: Path, model) -> float:
    from ml.features import features_as_of
    from ml.score import predict_frame
    from xinyidai.extensions import db

    app = _app(instance)
    with app.app_context():
        features = features_as_of(db.session)
    predict_frame(model, features.iloc[:1000])  # warm up
    best = min(_timed(lambda: predict_frame(model, features)) for _ in range(3))
    return len(features) / best


def _timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def rescoring(instance: Path, version) -> tuple[float, float]:
    import sqlalchemy as sa

    from models.enterprise import Enterprise
    from xinyidai.domain import model_registry
    from xinyidai.domain import scoring as service
    from xinyidai.extensions import db

    app = _app(instance)
    with app.app_context():
        _register(db.session, version)
        model_registry.promote(db.session, instance, version.version, by="ml_bench", channel="bench")
        db.session.commit()
        sample = db.session.scalars(sa.select(Enterprise.uscc).order_by(sa.func.random()).limit(RESCORES + 10)).all()
        for uscc in sample[:10]:
            service.rescore(db.session, instance, uscc)  # warm up: model load, data end, statement caches
        times = [_timed(lambda u=uscc: service.rescore(db.session, instance, u)) for uscc in sample[10:]]
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def main() -> None:
    from ml import registry
    from ml.score import scaling_card
    from models.scoring import ModelVersion

    model = quality()
    instance = _instance("BENCH_ML_INSTANCE", BATCH_ENTERPRISES)
    model.card["scaling"] = scaling_card()
    name = f"bench-{int(time.time())}"
    folder = registry.store_path(instance) / name
    app = _app(instance)
    from xinyidai.extensions import db

    with app.app_context():  # the quality model, stored in the batch instance
        version = registry.save(db.session, instance, model, version=name)
        db.session.commit()
        version = ModelVersion(version=version.version, path=str(folder), card=version.card)
    result = batch(instance, folder)
    print(f"batch: {result['rows']:,} enterprises, features + scores + gates + reasons, read from and written to "
          f"SQLite: {result['seconds']:.1f} s (bar: < 30 s), peak memory {result['peak_gb']:.2f} GB (bar: < 4 GB)")
    print("  steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in result["steps"].items())
          + f"; {result['reasons']:,} reasons stored")
    slow = naive(instance, model, name, result["rows"])
    print(f"straightforward per-enterprise implementation: {slow['per_enterprise_ms']:.1f} ms per enterprise on "
          f"{NAIVE_SAMPLE} sampled, {slow['extrapolated_s']:,.0f} s extrapolated to {result['rows']:,} — batch is "
          f"{slow['extrapolated_s'] / result['seconds']:.0f}× faster (bar: ≥ 50×); same features: {slow['same_features']}")
    rate = scoring_alone(instance, model)
    print(f"scoring alone (PD, points, grade from the feature table): {rate:,.0f} enterprises/s (bar: ≥ 100,000/s)")
    p50, p95 = rescoring(instance, version)
    print(f"on-demand rescore of one enterprise ({RESCORES} enterprises, stored and committed): p50 {p50:.1f} ms, "
          f"p95 {p95:.1f} ms (bar: p95 < 20 ms)")


if __name__ == "__main__":
    main()
