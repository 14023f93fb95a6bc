"""Training the whitelist model: labels from bank-reported loan performance, a monotone LightGBM with
early stopping on the latest part of the training window, calibration, and the out-of-time evaluation
that goes into the model card.

`fit` works on any feature table; `train` is the platform's pipeline (DESIGN §4) built on it.
"""

from __future__ import annotations

import inspect
import math
import platform
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
from ml.features import CATEGORICAL, FEATURE_BY_NAME, FEATURE_NAMES, MONOTONE, features_for, month_add
from models.lending import Application, LoanPerformance, LoanStatus

HORIZON_MONTHS = 12
DEFAULT_DPD = 90
THREADS = 2  # workers × LightGBM threads ≤ cores (STYLE.md)
VALIDATION_SHARE = 0.2
HOLDOUT_MONTHS = 3

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 5,
    "min_data_in_leaf": 100,
    "min_sum_hessian_in_leaf": 1.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "monotone_constraints_method": "intermediate",
    "max_cat_to_onehot": 4,
    "cat_smooth": 20.0,
    "num_threads": THREADS,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
    "verbose": -1,
}
MAX_ROUNDS = 1500
EARLY_STOPPING = 100


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


def _split(n: int, labels: np.ndarray, times) -> tuple[np.ndarray, np.ndarray]:
    """Indices for fitting and for the validation slice (early stopping and calibration): the latest
    VALIDATION_SHARE by time when times are given, a seeded stratified draw otherwise."""
    if times is not None:
        order = np.argsort(pd.to_datetime(pd.Series(times)).to_numpy(), kind="stable")
        cut = int(round(n * (1 - VALIDATION_SHARE)))
        return order[:cut], order[cut:]
    rng = np.random.default_rng(7)
    valid = np.zeros(n, dtype=bool)
    for value in (0, 1):
        members = np.flatnonzero(labels == value)
        valid[rng.choice(members, size=int(round(len(members) * VALIDATION_SHARE)), replace=False)] = True
    return np.flatnonzero(~valid), np.flatnonzero(valid)


def fit(features: pd.DataFrame, labels, *, times=None, monotone: dict[str, int] | None = None,
        categorical=None, calibration: str = "platt", params: dict | None = None, client=None) -> WhitelistModel:
    """Fit a calibrated LightGBM classifier on any feature table.

    `monotone` maps column names to +1 (probability rises with the value) or -1; `categorical` names
    columns to treat as categories (pandas category and string columns are too). With `times`, the
    latest fifth by time is held back for early stopping and calibration; without, a random fifth.
    `client`: a dask.distributed Client to train with `lightgbm.dask` on its cluster.
    """
    labels = np.asarray(labels, dtype=int)
    if len(labels) != len(features):
        raise ValueError("features and labels differ in length")
    if labels.min(initial=1) == labels.max(initial=0):
        raise NotEnoughLabels("both outcomes are needed to train")
    names = list(features.columns)
    categories, categorical = _prepare(features, categorical)
    matrix = to_matrix(features, names, categories)
    fit_rows, valid_rows = _split(len(labels), labels, times)
    settings = {**PARAMS, **(params or {})}
    settings["min_data_in_leaf"] = min(settings["min_data_in_leaf"], max(5, len(fit_rows) // 50))
    monotone = monotone or {}
    settings["monotone_constraints"] = [int(monotone.get(name, 0)) for name in names]
    categorical_index = [names.index(c) for c in categorical]
    if client is None:
        booster, best = _fit_local(matrix, labels, fit_rows, valid_rows, names, categorical_index, settings)
    else:
        booster, best = _fit_dask(client, matrix, labels, fit_rows, valid_rows, names, categorical_index, settings)
    raw_valid = booster.predict(matrix[valid_rows], raw_score=True, num_iteration=best, num_threads=THREADS)
    calibrated = Calibration.fitted(calibration, raw_valid, labels[valid_rows])
    model = WhitelistModel(booster, calibrated, names, categories, best_iteration=best)
    model.card = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": {"lightgbm": lgb.__version__, "numpy": np.__version__, "pandas": pd.__version__,
                      "scikit-learn": sklearn.__version__, "python": platform.python_version()},
        "params": {k: v for k, v in settings.items() if k != "monotone_constraints"},
        "monotone_constraints": {n: d for n, d in zip(names, settings["monotone_constraints"], strict=True) if d},
        "categorical": categorical, "categories": categories, "best_iteration": best,
        "calibration": calibrated.to_dict(), "distributed": client is not None,
        "rows": {"fit": int(len(fit_rows)), "validation": int(len(valid_rows)),
                 "validation_defaults": int(labels[valid_rows].sum())},
    }
    return model


def _fit_local(matrix, labels, fit_rows, valid_rows, names, categorical_index, settings):
    train_set = lgb.Dataset(matrix[fit_rows], labels[fit_rows], feature_name=names,
                            categorical_feature=categorical_index, free_raw_data=False)
    valid_set = lgb.Dataset(matrix[valid_rows], labels[valid_rows], reference=train_set)
    booster = lgb.train(settings, train_set, num_boost_round=MAX_ROUNDS, valid_sets=[valid_set],
                        callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)])
    return booster, booster.best_iteration or booster.current_iteration()


def _fit_dask(client, matrix, labels, fit_rows, valid_rows, names, categorical_index, settings):
    """Train on the cluster's workers; lightgbm.dask has no early stopping, so the best round is read
    from the validation curve it records and the model is cut there."""
    import dask.array as da
    import lightgbm.dask as lgb_dask

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    chunk = max(1, math.ceil(len(fit_rows) / workers))
    x = da.from_array(matrix[fit_rows], chunks=(chunk, matrix.shape[1]))
    y = da.from_array(labels[fit_rows], chunks=chunk)
    valid_chunk = max(1, math.ceil(len(valid_rows) / workers))
    xv = da.from_array(matrix[valid_rows], chunks=(valid_chunk, matrix.shape[1]))
    yv = da.from_array(labels[valid_rows], chunks=valid_chunk)
    options = {k: v for k, v in settings.items() if k not in ("num_threads", "verbose", "seed")}
    model = lgb_dask.DaskLGBMClassifier(client=client, n_estimators=MAX_ROUNDS // 3, random_state=7,
                                        verbose=-1, **options)
    with warnings.catch_warnings():
        # A worker that holds no validation chunk says so; the curve comes from those that do.
        warnings.filterwarnings("ignore", message=".*was not allocated eval_set data.*")
        # The estimator always hands over n_jobs; lightgbm.dask sets threads from each worker instead.
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        # lightgbm ≥ 4.6 takes eval_X / eval_y and deprecates eval_set; older ones only know eval_set.
        evals = ({"eval_X": (xv,), "eval_y": (yv,)} if "eval_X" in inspect.signature(model.fit).parameters
                 else {"eval_set": [(xv, yv)]})
        model.fit(x, y, **evals, eval_names=["validation"], feature_name=names,
                  categorical_feature=categorical_index or "auto")
    booster = model.booster_
    curve = model.evals_result_.get("validation", {}).get("binary_logloss", [])
    best = int(np.argmin(curve)) + 1 if curve else booster.current_iteration()
    return booster, best


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
    model = fit(features[train_rows], loans.defaulted[train_rows], times=loans.as_of[train_rows],
                monotone=MONOTONE, categorical=list(CATEGORICAL), client=client)
    step("evaluate")
    train_pd = model.predict_proba(features[train_rows])
    holdout_pd = model.predict_proba(features[test_rows])
    y_test = loans.defaulted[test_rows].to_numpy()
    evaluation = metrics.evaluate(y_test, holdout_pd)
    evaluation["psi"] = {"score": metrics.psi(train_pd, holdout_pd),
                         "features": metrics.feature_psi(features[train_rows], features[test_rows])}
    step("baseline")
    baseline = WoeScorecard().fit(features[train_rows], loans.defaulted[train_rows])
    baseline_eval = metrics.evaluate(y_test, baseline.predict_proba(features[test_rows]))
    model.card.update(_card(model, loans, features, train_rows, evaluation, baseline, baseline_eval))
    model.card["skipped_loans"] = list(loans.attrs.get("skipped", []))
    return TrainingRun(model, loans, features, holdout_pd)


def _window(frame: pd.DataFrame) -> dict:
    return {"from": str(frame.as_of.min()), "to": str(frame.as_of.max()), "loans": int(len(frame)),
            "defaults": int(frame.defaulted.sum()), "default_rate": float(frame.defaulted.mean())}


def _card(model, loans, features, train_rows, evaluation, baseline, baseline_eval) -> dict:
    gain = model.booster.feature_importance("gain", iteration=model.best_iteration)
    importance = sorted(zip(model.features, gain, strict=True), key=lambda item: -item[1])
    return {
        "label": f"default = {DEFAULT_DPD}+ days past due or written off within {HORIZON_MONTHS} months of "
                 "disbursement, from bank-reported loan performance; disbursed loans only",
        "data_window": {"training": _window(loans[train_rows]), "holdout": _window(loans[~train_rows])},
        "as_of_rule": "features as of each loan's disbursement date: months that ended before it, records "
                      "decided before it, tax ratings published before it",
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
