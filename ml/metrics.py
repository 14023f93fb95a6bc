"""Evaluation numbers for the model card: discrimination (AUC, KS), calibration (Brier, ECE and the
table behind it) and stability (PSI of the score and of each feature against training)."""

from __future__ import annotations

import numpy as np
import pandas as pd

BINS = 10


def auc(labels, scores) -> float:
    """Area under the ROC curve by ranks (ties share their rank); NaN with only one outcome."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank().to_numpy()
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ks(labels, scores) -> float:
    """Largest gap between the score distributions of defaulters and the others."""
    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    hits = np.cumsum(labels[order]) / labels.sum()
    misses = np.cumsum(~labels[order]) / (~labels).sum()
    return float(np.max(np.abs(hits - misses)))


def calibration_table(labels, probabilities, bins: int = BINS) -> list[dict]:
    """Equal-count bins of predicted PD: rows, mean predicted PD, observed default rate."""
    frame = pd.DataFrame({"y": np.asarray(labels, dtype=float), "p": np.asarray(probabilities, dtype=float)})
    frame["bin"] = pd.qcut(frame.p.rank(method="first"), min(bins, len(frame)), labels=False)
    grouped = frame.groupby("bin").agg(rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"),
                                       pd_from=("p", "min"), pd_to=("p", "max"))
    return [{"bin": int(b), "rows": int(r.rows), "pd_from": float(r.pd_from), "pd_to": float(r.pd_to),
             "predicted": float(r.predicted), "observed": float(r.observed)} for b, r in grouped.iterrows()]


def ece(labels, probabilities, bins: int = BINS) -> float:
    """Expected calibration error over equal-count bins: Σ share × |mean predicted − observed|."""
    table = calibration_table(labels, probabilities, bins)
    total = sum(row["rows"] for row in table)
    return float(sum(row["rows"] / total * abs(row["predicted"] - row["observed"]) for row in table))


def evaluate(labels, probabilities) -> dict:
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    return {"rows": int(len(labels)), "defaults": int(labels.sum()), "default_rate": float(labels.mean()),
            "mean_pd": float(probabilities.mean()), "auc": auc(labels, probabilities), "ks": ks(labels, probabilities),
            "brier": float(np.mean((probabilities - labels) ** 2)), "ece": ece(labels, probabilities),
            "calibration": calibration_table(labels, probabilities)}


def psi(expected, actual, bins: int = BINS) -> float:
    """Population stability index of `actual` against `expected`, on `expected`'s quantile bins; missing
    values form their own bin. Under 0.1: stable; 0.1–0.25: watch; above: shifted."""
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    finite = expected[np.isfinite(expected)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])) if len(finite) else np.array([])

    def shares(values):
        missing = ~np.isfinite(values)
        counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
        counts = np.append(counts, missing.sum()).astype(float)
        return (counts + 0.5) / (counts.sum() + 0.5 * len(counts))

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_psi(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    return {name: psi(reference[name].to_numpy(dtype=float), current[name].to_numpy(dtype=float))
            for name in reference.columns}
