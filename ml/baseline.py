"""The comparison model for the card: a classic WOE-binned logistic scorecard (what a bank's risk team
would build first). Optimal binning per feature by optbinning (monotonic trend chosen per feature,
missing values their own bin with their own weight of evidence), features kept by information value,
then an L2 logistic regression on the WOE columns (scikit-learn)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from sklearn.linear_model import LogisticRegression

MAX_BINS = 8
MIN_IV = 0.02


class WoeScorecard:
    description = (f"WOE-binned logistic scorecard: optimal binning (optbinning, ≤{MAX_BINS} bins per feature, "
                   f"monotonic trend chosen per feature, missing as its own bin), features with information value "
                   f"≥ {MIN_IV}, L2 logistic regression (scikit-learn)")

    def __init__(self):
        self.binning: BinningProcess | None = None
        self.binned: list[str] = []
        self.kept: list[str] = []
        self.regression: LogisticRegression | None = None

    def fit(self, features: pd.DataFrame, labels) -> WoeScorecard:
        numeric, y = features.astype(float), np.asarray(labels, dtype=int)
        # A feature with no values, or one value, in the training window has nothing to bin (and the
        # pre-binning tree refuses an empty sample): it carries no information and is left out.
        names = [name for name in numeric.columns if numeric[name].nunique(dropna=True) > 1]
        self.binned, numeric = names, numeric[names]
        self.binning = BinningProcess(
            names, max_n_bins=MAX_BINS, selection_criteria={"iv": {"min": MIN_IV}},
            binning_fit_params={name: {"monotonic_trend": "auto_asc_desc"} for name in names})
        with _quiet_optbinning():
            self.binning.fit(numeric, y)
            self.kept = [str(name) for name in self.binning.get_support(names=True)]
            if not self.kept:  # nothing informative on its own: keep every feature rather than fit on nothing
                self.binning.set_params(selection_criteria=None).fit(numeric, y)
                self.kept = names
        self.regression = LogisticRegression(C=1.0, max_iter=2000).fit(self.transform(features), labels)
        return self

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        with _quiet_optbinning():
            woe = self.binning.transform(features[self.binned].astype(float), metric="woe", metric_missing="empirical")
        return woe[self.kept].to_numpy(dtype=float)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.regression.predict_proba(self.transform(features))[:, 1]


@contextmanager
def _quiet_optbinning():
    """optbinning 1.0 builds its summary tables in a way newer pandas deprecates (a float column given a
    string), and divides by zero in the statistics of a bin without events on small samples (the bin's
    numbers come out infinite and it is merged or dropped). Both warnings are about the library's internals,
    not our data, and the suite turns warnings into errors — so exactly these are silenced, here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting an item of incompatible dtype is deprecated")
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"optbinning(\.|$)")
        yield
