"""The comparison model for the card: a classic WOE-binned logistic scorecard (what a bank's risk
team would build first). Quantile bins per feature from the training data, missing values their own
bin, weights of evidence with a small prior, features kept by information value, then an L2 logistic
regression on the WOE columns (scikit-learn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

MAX_BINS = 8
MIN_IV = 0.02
PRIOR = 0.5


class WoeScorecard:
    description = (f"WOE-binned logistic scorecard: ≤{MAX_BINS} quantile bins per feature, missing as its own "
                   f"bin, features with information value ≥ {MIN_IV}, L2 logistic regression (scikit-learn)")

    def __init__(self):
        self.edges: dict[str, np.ndarray] = {}
        self.woe: dict[str, np.ndarray] = {}
        self.iv: dict[str, float] = {}
        self.kept: list[str] = []
        self.regression: LogisticRegression | None = None

    def _bins(self, name: str, values: np.ndarray) -> np.ndarray:
        """Bin number per value; the last bin (len(edges) + 1) holds the missing values."""
        edges = self.edges[name]
        missing = ~np.isfinite(values)
        bins = np.searchsorted(edges, np.where(missing, 0, values), side="right")
        return np.where(missing, len(edges) + 1, bins)

    def fit(self, features: pd.DataFrame, labels) -> WoeScorecard:
        labels = np.asarray(labels, dtype=float)
        bad_total, good_total = labels.sum(), (1 - labels).sum()
        for name in features.columns:
            values = features[name].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            self.edges[name] = (np.unique(np.quantile(finite, np.linspace(0, 1, MAX_BINS + 1)[1:-1]))
                                if len(finite) else np.array([]))
            bins = self._bins(name, values)
            size = len(self.edges[name]) + 2
            bad = np.bincount(bins, weights=labels, minlength=size) + PRIOR
            good = np.bincount(bins, weights=1 - labels, minlength=size) + PRIOR
            bad_share, good_share = bad / (bad_total + PRIOR * size), good / (good_total + PRIOR * size)
            self.woe[name] = np.log(bad_share / good_share)
            self.iv[name] = float(np.sum((bad_share - good_share) * self.woe[name]))
        self.kept = [n for n in features.columns if self.iv[n] >= MIN_IV] or list(features.columns)
        self.regression = LogisticRegression(C=1.0, max_iter=2000).fit(self.transform(features), labels)
        return self

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([self.woe[n][self._bins(n, features[n].to_numpy(dtype=float))] for n in self.kept])

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.regression.predict_proba(self.transform(features))[:, 1]
