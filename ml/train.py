"""Training the whitelist model: labels from bank-reported loan performance, a monotone LightGBM with
early stopping on the latest part of the training window, calibration, and the out-of-time evaluation
that goes into the model card.

`fit` works on any feature table; `train` is the platform's pipeline (DESIGN §4) built on it.
"""

from __future__ import annotations

import math
import platform
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
import sqlalchemy as sa
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sqlalchemy.orm import Session

from ml import metrics
from ml.baseline import WoeScorecard
from ml.features import (
    CATEGORICAL,
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    LATER_SOURCES,
    MONOTONE,
    features_for,
    month_add,
)
from models.lending import Application, LoanPerformance, LoanStatus

HORIZON_MONTHS = 12
DEFAULT_DPD = 90
THREADS = 2  # workers × LightGBM threads ≤ cores (STYLE.md)
VALIDATION_SHARE = 0.2  # the share of the fitting rows in the dask path's early-stopping slice
HOLDOUT_MONTHS = 3

# What every candidate shares. The searched settings (below) are the tree size, the smallest leaf, the
# learning rate and the L2 penalty; the rest is fixed.
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "max_depth": -1,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "path_smooth": 0.0,
    "monotone_constraints_method": "intermediate",
    "max_cat_to_onehot": 4,
    "cat_smooth": 20.0,
    "min_data_per_group": 20,
    "feature_pre_filter": False,  # one binned Dataset serves candidates with different smallest leaves
    # One thread: the search's many small fits spend more time waking a second OpenMP thread than they gain
    # from it, and on a busy two-core machine a waiting thread costs a fit ten times over.
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
    "verbose": -1,
}
MAX_ROUNDS = 2000
EARLY_STOPPING = 60

# The capacity search: stage 1 tries tree sizes (leaves, and the smallest leaf as a share of the fitting
# rows) at a fast learning rate; stage 2 tries the L2 penalty and a slower rate around the winner. Each
# candidate is scored by the out-of-fold AUC of stratified k-fold CV on the fitting rows (early stopping
# on each held-out fold); the final booster is refitted on every fitting row for the folds' mean number
# of rounds, and calibrated on the out-of-fold predictions.
STRUCTURES = ((2, 0.02), (3, 0.02), (5, 0.03), (7, 0.02), (15, 0.01), (31, 0.005))
STAGE_ONE = {"learning_rate": 0.1, "lambda_l2": 5.0}
STAGE_TWO = ({"lambda_l2": 1.0}, {"lambda_l2": 25.0}, {"learning_rate": 0.05}, {"path_smooth": 10.0})
SEARCH_ROWS = 20_000  # larger fitting sets are searched on a stratified sample of this many rows
REFIT_GROWTH = 1.1  # more rows in the refit than in a fold: a few more rounds than the folds' mean


class NotEnoughLabels(Exception):
    """Too few labelled loans (or no defaults among them) to train a model."""


# ---------------------------------------------------------------- the model object


@dataclass
class Calibration:
    """Maps the booster's raw log-odds onto probabilities. Platt keeps log-odds linear (so the
    contributions of `pred_contrib`, times `a`, still add up to the calibrated log-odds)."""

    kind: str  # "platt" or "isotonic"
    a: float = 1.0
    b: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    @classmethod
    def fitted(cls, kind: str, raw: np.ndarray, labels: np.ndarray) -> Calibration:
        if kind == "platt":
            model = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), labels)
            return cls("platt", float(model.coef_[0, 0]), float(model.intercept_[0]))
        if kind == "isotonic":
            model = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(raw, labels)
            return cls("isotonic", x=model.X_thresholds_.tolist(), y=model.y_thresholds_.tolist())
        raise ValueError(f"unknown calibration {kind!r}")

    def logit(self, raw: np.ndarray) -> np.ndarray:
        if self.kind == "platt":
            return self.a * raw + self.b
        p = np.clip(np.interp(raw, self.x, self.y), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "a": self.a, "b": self.b, "x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(data["kind"], data.get("a", 1.0), data.get("b", 0.0), data.get("x", []), data.get("y", []))


class WhitelistModel:
    """A trained booster with its calibration, the features it expects and its card."""

    def __init__(self, booster: lgb.Booster, calibration: Calibration, features: list[str],
                 categories: dict[str, list] | None = None, card: dict | None = None,
                 best_iteration: int | None = None):
        self.booster = booster
        self.calibration = calibration
        self.features = list(features)
        self.categories = categories or {}
        self.card = card or {}
        self.best_iteration = best_iteration or booster.current_iteration()

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return to_matrix(frame, self.features, self.categories)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.matrix(frame), raw_score=True, num_iteration=self.best_iteration,
                                    num_threads=_threads_for(len(frame)))

    def logit(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibration.logit(self.raw(frame))

    def explain(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated PD, contributions) from one pass of pred_contrib: the contributions plus the bias
        column add up to the raw log-odds, so the PD needs no second prediction."""
        contrib = self.booster.predict(self.matrix(frame), pred_contrib=True, num_iteration=self.best_iteration,
                                       num_threads=_threads_for(len(frame)))
        logit = self.calibration.logit(contrib.sum(axis=1))
        scale = self.calibration.a if self.calibration.kind == "platt" else 1.0
        return 1.0 / (1.0 + np.exp(-logit)), contrib[:, :-1] * scale

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of default within 12 months, one per row."""
        return 1.0 / (1.0 + np.exp(-self.logit(frame)))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions to the calibrated log-odds (n × features; Platt scales them by `a`).
        Positive raises the PD."""
        contrib = self.booster.predict(self.matrix(frame), pred_contrib=True, num_iteration=self.best_iteration,
                                       num_threads=_threads_for(len(frame)))[:, :-1]
        return contrib * (self.calibration.a if self.calibration.kind == "platt" else 1.0)


def _threads_for(rows: int) -> int:
    """A second OpenMP thread only pays off on a batch; for one enterprise its wake-up is the cost."""
    return THREADS if rows >= 2000 else 1


def to_matrix(frame: pd.DataFrame, features: list[str], categories: dict[str, list]) -> np.ndarray:
    """The float matrix LightGBM reads, columns in training order; categories coded as in training
    (an unseen category becomes missing)."""
    matrix = np.empty((len(frame), len(features)), dtype=float)
    for i, name in enumerate(features):
        column = frame[name]
        if name in categories:
            codes = pd.Categorical(column, categories=categories[name]).codes.astype(float)
            column = np.where(codes < 0, np.nan, codes)
        matrix[:, i] = np.asarray(column, dtype=float)
    return matrix


# ---------------------------------------------------------------- fitting


def _prepare(features: pd.DataFrame, categorical) -> tuple[dict[str, list], list[str]]:
    categorical = list(categorical or [])
    categories = {}
    for name in features.columns:
        dtype = features[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categories[name] = list(dtype.categories)
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            categories[name] = sorted(features[name].dropna().unique().tolist())
    return categories, sorted(set(categorical) | set(categories))


def folds_of(labels: np.ndarray, k: int, seed: int = 7) -> np.ndarray:
    """A fold number for each row: stratified (each fold gets its share of both outcomes), seeded."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        fold[members] = np.arange(len(members)) % k
    return fold


def _fold_count(labels: np.ndarray) -> int:
    """5 folds, fewer when one outcome is too rare for each fold to hold at least two of it."""
    rare = int(min(labels.sum(), len(labels) - labels.sum()))
    return max(2, min(5, rare // 2))


@dataclass
class _Trial:
    settings: dict
    auc: float
    logloss: float
    rounds: int
    oof: np.ndarray  # out-of-fold raw scores of the searched rows


def _candidate(base: dict, n: int, leaves: int, min_share: float, **changes) -> dict:
    return {**base, "num_leaves": leaves, "min_data_in_leaf": max(5, int(round(min_share * n))), **changes}


def _cross_validate(dataset: lgb.Dataset, labels: np.ndarray, fold: np.ndarray, settings: dict) -> _Trial:
    oof = np.zeros(len(labels))
    rounds = []
    for k in range(fold.max() + 1):
        inside, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        train_set, valid_set = dataset.subset(inside), dataset.subset(held)
        booster = lgb.train(settings, train_set, num_boost_round=MAX_ROUNDS, valid_sets=[valid_set],
                            callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
        best = booster.best_iteration or booster.current_iteration()
        rounds.append(best)
        oof[held] = booster.predict(dataset.get_data()[held], raw_score=True, num_iteration=best, num_threads=1)
    p = np.clip(1 / (1 + np.exp(-oof)), 1e-9, 1 - 1e-9)
    logloss = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    return _Trial(settings, metrics.auc(labels, oof), logloss, int(np.mean(rounds)), oof)


def search(matrix: np.ndarray, labels: np.ndarray, names: list[str], categorical_index: list[int],
           base: dict, fixed: dict | None = None) -> tuple[_Trial, list[dict], np.ndarray]:
    """The capacity search on (a stratified sample of) the fitting rows: the best trial, every trial's
    settings and scores for the card, and the rows searched."""
    rows = np.arange(len(labels))
    if len(rows) > SEARCH_ROWS:
        rng = np.random.default_rng(7)
        rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == v), size=int(round(
            (labels == v).sum() * SEARCH_ROWS / len(labels))), replace=False) for v in (0, 1)]))
    y = labels[rows]
    fold = folds_of(y, _fold_count(y))
    dataset = lgb.Dataset(matrix[rows], y, feature_name=names, categorical_feature=categorical_index,
                          params={"feature_pre_filter": False, "verbose": -1}, free_raw_data=False).construct()
    fixed = fixed or {}
    n_fit = int(len(y) * (1 - 1 / (fold.max() + 1)))
    trials: list[_Trial] = []

    def run(settings: dict) -> _Trial:
        settings = {**settings, **fixed}
        for done in trials:
            if done.settings == settings:
                return done
        trial = _cross_validate(dataset, y, fold, settings)
        trials.append(trial)
        return trial

    def key(trial: _Trial) -> tuple:
        return (round(trial.auc, 4), -trial.logloss)

    best = max((run(_candidate(base, n_fit, leaves, share, **STAGE_ONE)) for leaves, share in STRUCTURES), key=key)
    best = max([best] + [run({**best.settings, **change}) for change in STAGE_TWO], key=key)
    table = [{"num_leaves": t.settings["num_leaves"], "min_data_in_leaf": t.settings["min_data_in_leaf"],
              "learning_rate": t.settings["learning_rate"], "lambda_l2": t.settings["lambda_l2"],
              "path_smooth": t.settings["path_smooth"], "cv_auc": t.auc, "cv_logloss": t.logloss,
              "rounds": t.rounds, "chosen": t is best} for t in trials]
    return best, table, rows


def fit(features: pd.DataFrame, labels, *, times=None, monotone: dict[str, int] | None = None,
        categorical=None, calibration: str = "platt", params: dict | None = None, client=None) -> WhitelistModel:
    """Fit a calibrated LightGBM classifier on any feature table, choosing its capacity by cross-validation.

    `monotone` maps column names to +1 (probability rises with the value) or -1; `categorical` names
    columns to treat as categories (pandas category and string columns are too); missing values are
    LightGBM's own. The tree size, smallest leaf, learning rate and L2 penalty are searched by stratified
    k-fold CV on these rows (`search`); `params` fixes any LightGBM setting, searched or not. The final
    booster is refitted on every row and calibrated on the out-of-fold predictions of the chosen settings.
    `times` is accepted for the callers' sake and recorded; the out-of-time test is the caller's (`train`).
    `client`: a dask.distributed Client to refit with `lightgbm.dask` on its cluster.
    """
    labels = np.asarray(labels, dtype=int)
    if len(labels) != len(features):
        raise ValueError("features and labels differ in length")
    if labels.min(initial=1) == labels.max(initial=0):
        raise NotEnoughLabels("both outcomes are needed to train")
    if min(labels.sum(), len(labels) - labels.sum()) < 4:
        raise NotEnoughLabels("at least 4 rows of each outcome are needed to cross-validate")
    names = list(features.columns)
    categories, categorical = _prepare(features, categorical)
    matrix = to_matrix(features, names, categories)
    monotone = monotone or {}
    base = {**PARAMS, "monotone_constraints": [int(monotone.get(name, 0)) for name in names]}
    categorical_index = [names.index(c) for c in categorical]
    best, trials, searched = search(matrix, labels, names, categorical_index, base, params)
    settings = best.settings
    rounds = max(1, int(round(best.rounds * REFIT_GROWTH)))
    if client is None:
        train_set = lgb.Dataset(matrix, labels, feature_name=names, categorical_feature=categorical_index,
                                params={"feature_pre_filter": False, "verbose": -1})
        booster = lgb.train(settings, train_set, num_boost_round=rounds)
    else:
        booster = _fit_dask(client, matrix, labels, names, categorical_index, settings, rounds)
    calibrated = Calibration.fitted(calibration, best.oof, labels[searched])
    model = WhitelistModel(booster, calibrated, names, categories, best_iteration=rounds)
    model.card = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": {"lightgbm": lgb.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                      "scikit-learn": sklearn.__version__, "python": platform.python_version()},
        "params": {k: v for k, v in settings.items() if k != "monotone_constraints"},
        "monotone_constraints": {n: d for n, d in zip(names, base["monotone_constraints"], strict=True) if d},
        "categorical": categorical, "categories": categories, "best_iteration": rounds,
        "calibration": calibrated.to_dict(), "distributed": client is not None,
        "search": {"folds": int(_fold_count(labels[searched])), "rows": int(len(searched)), "trials": trials,
                   "cv_auc": best.auc, "rounds": rounds},
        "rows": {"fit": int(len(labels)), "defaults": int(labels.sum()), "calibration": int(len(searched)),
                 "calibration_defaults": int(labels[searched].sum())},
        "times": None if times is None else {"from": str(pd.to_datetime(pd.Series(times)).min().date()),
                                             "to": str(pd.to_datetime(pd.Series(times)).max().date())},
    }
    return model


def _fit_dask(client, matrix, labels, names, categorical_index, settings, rounds):
    """Refit on the cluster's workers for the rounds the search chose (no early stopping needed)."""
    import dask.array as da
    import lightgbm.dask as lgb_dask

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    chunk = max(1, math.ceil(len(labels) / workers))
    x = da.from_array(matrix, chunks=(chunk, matrix.shape[1]))
    y = da.from_array(labels, chunks=chunk)
    options = {k: v for k, v in settings.items() if k not in ("num_threads", "verbose", "seed", "feature_pre_filter")}
    model = lgb_dask.DaskLGBMClassifier(client=client, n_estimators=rounds, random_state=7, verbose=-1, **options)
    with warnings.catch_warnings():
        # The estimator always hands over n_jobs; lightgbm.dask sets threads from each worker instead.
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(x, y, feature_name=names, categorical_feature=categorical_index or "auto")
    return model.booster_


# ---------------------------------------------------------------- labels and the platform pipeline


# The bounds of a date a bank can have reported (the platform's input rules, xinyidai.domain.inputs).
EARLIEST_POSSIBLE = date(1900, 1, 1)
CLOCK_SKEW = timedelta(days=1)


def labelled_loans(session: Session) -> pd.DataFrame:
    """One row per disbursed loan whose 12-month window has passed by the latest performance report:
    application_id, uscc, as_of (the disbursement date), defaulted (90+ days past due or written off
    within 12 months). Declined or undisbursed applications are never labelled."""
    loans = pd.DataFrame(session.execute(
        sa.select(Application.id, Application.uscc, Application.disbursed_on)
        .where(Application.disbursed_on.is_not(None))).all(), columns=["application_id", "uscc", "as_of"])
    # A date no bank could have reported truthfully (in the future, or too early to compute with) skips
    # that loan and is reported in `attrs["skipped"]`, instead of failing the platform's training.
    earliest, latest = EARLIEST_POSSIBLE, date.today() + CLOCK_SKEW
    possible = [earliest <= d <= latest for d in loans.as_of]
    skipped = sorted(int(i) for i in loans.application_id[[not ok for ok in possible]])
    loans = loans[possible].reset_index(drop=True)
    loans.attrs["skipped"] = skipped
    frontier = session.scalar(sa.select(sa.func.max(LoanPerformance.as_of)).where(LoanPerformance.as_of <= latest))
    if loans.empty or frontier is None:
        return loans.assign(defaulted=pd.Series(dtype=int))
    bad = pd.DataFrame(session.execute(
        sa.select(LoanPerformance.application_id, LoanPerformance.as_of)
        .where((LoanPerformance.days_past_due >= DEFAULT_DPD)
               | LoanPerformance.status.in_([LoanStatus.WRITTEN_OFF, LoanStatus.DEFAULTED]))).all(),
        columns=["application_id", "reported"])
    loans["as_of"] = pd.to_datetime(loans.as_of).dt.date
    loans["horizon"] = [_horizon(d) for d in loans.as_of]
    loans = loans[loans.horizon <= frontier].copy()
    bad = bad.merge(loans[["application_id", "horizon"]], on="application_id")
    defaulted = set(bad.application_id[bad.reported <= bad.horizon])
    loans["defaulted"] = loans.application_id.isin(defaulted).astype(int)
    labelled = loans.drop(columns="horizon").sort_values(["as_of", "application_id"]).reset_index(drop=True)
    labelled.attrs["skipped"] = skipped
    return labelled


def _horizon(disbursed: date) -> date:
    end = month_add(disbursed, HORIZON_MONTHS)
    return end.replace(day=min(disbursed.day, 28))


@dataclass
class TrainingRun:
    model: WhitelistModel
    loans: pd.DataFrame  # labelled loans with a `holdout` flag
    features: pd.DataFrame
    holdout_pd: np.ndarray
    scorecard: WoeScorecard | None = None  # the WOE scorecard fitted on the same training rows
    scorecard_pd: np.ndarray | None = None


def holdout_mask(as_of: pd.Series, months: int = HOLDOUT_MONTHS) -> np.ndarray:
    """Loans disbursed in the last `months` calendar months of the labelled period: the out-of-time holdout."""
    as_of = pd.to_datetime(as_of)
    last = as_of.max()
    start = pd.Timestamp(month_add(date(last.year, last.month, 1), -(months - 1)))
    return (as_of >= start).to_numpy()


def train(session: Session, *, client=None, progress=None, holdout_months: int = HOLDOUT_MONTHS) -> TrainingRun:
    """The platform pipeline: labels → features as of each disbursement → fit on the older loans →
    evaluate on the latest months (out of time) against training, and against a WOE scorecard."""
    step = progress or (lambda _label: None)
    step("labels")
    loans = labelled_loans(session)
    if len(loans) < 200 or loans.defaulted.sum() < 20:
        raise NotEnoughLabels(f"{len(loans)} labelled loans, {int(loans.defaulted.sum()) if len(loans) else 0} "
                              "defaults: at least 200 loans and 20 defaults are needed")
    step("features")
    features = features_for(session, loans)
    loans["holdout"] = holdout_mask(loans.as_of, holdout_months)
    train_rows, test_rows = ~loans.holdout.to_numpy(), loans.holdout.to_numpy()
    if loans.defaulted[train_rows].sum() < 10 or loans.defaulted[test_rows].sum() < 5:
        raise NotEnoughLabels("too few defaults on one side of the out-of-time split")
    step("fit")
    started = time.perf_counter()
    # A later source nobody has delivered yet (its features one value on every training loan) can say nothing,
    # but its columns would still take places in LightGBM's per-tree feature sample: they are left out, so
    # the model is the one the first six sources give.
    undelivered = [f.name for f in FEATURES if f.source in LATER_SOURCES
                   and features.loc[train_rows, f.name].nunique(dropna=False) <= 1]
    features = features.drop(columns=undelivered)
    model = fit(features[train_rows], loans.defaulted[train_rows], times=loans.as_of[train_rows],
                monotone=MONOTONE, categorical=list(CATEGORICAL), client=client)
    model.card["undelivered_features"] = undelivered
    model.card["fit_seconds"] = round(time.perf_counter() - started, 2)
    step("evaluate")
    train_pd = model.predict_proba(features[train_rows])
    holdout_pd = model.predict_proba(features[test_rows])
    y_test = loans.defaulted[test_rows].to_numpy()
    evaluation = metrics.evaluate(y_test, holdout_pd)
    evaluation["psi"] = {"score": metrics.psi(train_pd, holdout_pd),
                         "features": metrics.feature_psi(features[train_rows], features[test_rows])}
    step("baseline")
    baseline = WoeScorecard().fit(features[train_rows], loans.defaulted[train_rows])
    baseline_pd = baseline.predict_proba(features[test_rows])
    baseline_eval = metrics.evaluate(y_test, baseline_pd)
    baseline_eval["psi"] = {"score": metrics.psi(baseline.predict_proba(features[train_rows]), baseline_pd),
                            "features": evaluation["psi"]["features"]}
    model.card.update(_card(model, loans, features, train_rows, evaluation, baseline, baseline_eval))
    step("source lift")
    model.card["source_lift"] = source_lift(model, features, loans.defaulted.to_numpy(), train_rows, evaluation)
    model.card["skipped_loans"] = list(loans.attrs.get("skipped", []))
    baseline.card = _scorecard_card(baseline, loans, features, train_rows, baseline_eval)
    return TrainingRun(model, loans, features, holdout_pd, baseline, baseline_pd)


def source_lift(model: WhitelistModel, features: pd.DataFrame, labels: np.ndarray, train_rows: np.ndarray,
                evaluation: dict, sources: tuple[str, ...] = LATER_SOURCES) -> dict:
    """Whether the later sources add anything: the same LightGBM settings (the search's choice) refitted
    without their features, both measured on the same out-of-time loans. Only the one CV run of the fixed
    settings is repeated, not the search."""
    dropped = [f.name for f in FEATURES if f.source in sources and f.name in model.features]
    lift = {"sources": list(sources), "features": dropped, "auc_with": evaluation["auc"], "ks_with": evaluation["ks"]}
    informative = [n for n in dropped if features.loc[train_rows, n].nunique(dropna=False) > 1]
    if not informative:
        return {**lift, "auc_without": None, "ks_without": None, "auc_gain": None,
                "note": "no variation in these sources' features among the training loans: nothing to measure"}
    kept = [n for n in model.features if n not in dropped]
    settings = {k: v for k, v in model.card["params"].items() if k in ("num_leaves", "min_data_in_leaf", "learning_rate",
                                                                       "lambda_l2", "path_smooth")}
    without = fit(features.loc[train_rows, kept], labels[train_rows], monotone=MONOTONE,
                  categorical=[c for c in CATEGORICAL if c in kept], params=settings)
    held = metrics.evaluate(labels[~train_rows], without.predict_proba(features.loc[~train_rows, kept]))
    return {**lift, "auc_without": held["auc"], "ks_without": held["ks"], "auc_gain": evaluation["auc"] - held["auc"],
            "ks_gain": evaluation["ks"] - held["ks"], "adds_lift": bool(evaluation["auc"] > held["auc"])}


def _scorecard_card(scorecard: WoeScorecard, loans, features, train_rows, evaluation) -> dict:
    """The card of the WOE scorecard as a version of its own (a champion the platform can score with)."""
    weight = {n: abs(c) * float(np.std(w)) for n, c, w in
              zip(scorecard.kept, scorecard.coefficients.values(), scorecard.transform(features[train_rows]).T,
                  strict=True)}
    return {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"), "model": scorecard.description,
        "label": LABEL, "as_of_rule": AS_OF_RULE,
        "data_window": {"training": _window(loans[train_rows]), "holdout": _window(loans[~train_rows])},
        "features": [{"name": n, "family": getattr(FEATURE_BY_NAME.get(n), "family", None),
                      "zh": getattr(FEATURE_BY_NAME.get(n), "zh", n), "en": getattr(FEATURE_BY_NAME.get(n), "en", n),
                      "monotone": 0, "missing_share": float(features[n].isna().mean()), "gain": weight.get(n, 0.0),
                      "coefficient": scorecard.coefficients.get(n)}
                     for n in sorted(scorecard.features, key=lambda n: -weight.get(n, 0.0))],
        "metrics": evaluation, "feature_set": list(FEATURE_NAMES),
        "libraries": {"optbinning": _version("optbinning"), "scikit-learn": sklearn.__version__,
                      "numpy": np.__version__, "python": platform.python_version()},
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


LABEL = (f"default = {DEFAULT_DPD}+ days past due or written off within {HORIZON_MONTHS} months of "
         "disbursement, from bank-reported loan performance; disbursed loans only")
AS_OF_RULE = ("features as of each loan's disbursement date: months that ended before it, records decided "
              "before it, tax ratings published before it")


def _window(frame: pd.DataFrame) -> dict:
    return {"from": str(frame.as_of.min()), "to": str(frame.as_of.max()), "loans": int(len(frame)),
            "defaults": int(frame.defaulted.sum()), "default_rate": float(frame.defaulted.mean())}


def _card(model, loans, features, train_rows, evaluation, baseline, baseline_eval) -> dict:
    gain = model.booster.feature_importance("gain", iteration=model.best_iteration)
    importance = sorted(zip(model.features, gain, strict=True), key=lambda item: -item[1])
    return {
        "label": LABEL,
        "data_window": {"training": _window(loans[train_rows]), "holdout": _window(loans[~train_rows])},
        "as_of_rule": AS_OF_RULE,
        "features": [{"name": n, "family": FEATURE_BY_NAME[n].family if n in FEATURE_BY_NAME else None,
                      "zh": getattr(FEATURE_BY_NAME.get(n), "zh", n), "en": getattr(FEATURE_BY_NAME.get(n), "en", n),
                      "monotone": model.card["monotone_constraints"].get(n, 0),
                      "missing_share": float(features[n].isna().mean()), "gain": float(g)}
                     for n, g in importance],
        "metrics": evaluation,
        "baseline": {"model": baseline.description, "metrics": baseline_eval,
                     "lift": {"auc": evaluation["auc"] - baseline_eval["auc"],
                              "ks": evaluation["ks"] - baseline_eval["ks"],
                              "brier": baseline_eval["brier"] - evaluation["brier"]}},
        "feature_set": list(FEATURE_NAMES),
    }
