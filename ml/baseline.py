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
        self.categorical: list[str] = []

    def fit(self, features: pd.DataFrame, labels) -> WoeScorecard:
        y = np.asarray(labels, dtype=int)
        self.categorical = [name for name in features.columns if _is_categorical(features[name])]
        frame = self._typed(features)
        # A feature with no values, or one value, in the training window has nothing to bin (and the
        # pre-binning tree refuses an empty sample): it carries no information and is left out.
        names = [name for name in frame.columns if frame[name].nunique(dropna=True) > 1]
        self.binned, frame = names, frame[names]
        categorical = [name for name in names if name in self.categorical]
        self.binning = BinningProcess(
            names, max_n_bins=MAX_BINS, selection_criteria={"iv": {"min": MIN_IV}},
            categorical_variables=categorical or None,
            binning_fit_params={name: {"monotonic_trend": "auto_asc_desc"} for name in names
                                if name not in categorical})
        with _quiet_optbinning():
            self.binning.fit(frame, y)
            self.kept = [str(name) for name in self.binning.get_support(names=True)]
            if not self.kept:  # nothing informative on its own: keep every feature rather than fit on nothing
                self.binning.set_params(selection_criteria=None).fit(frame, y)
                self.kept = names
        self.regression = LogisticRegression(C=1.0, max_iter=2000).fit(self.transform(features), labels)
        return self

    def _typed(self, features: pd.DataFrame) -> pd.DataFrame:
        """Numeric columns as floats, categorical ones as text (missing stays missing)."""
        return pd.DataFrame({name: (features[name].astype(object).where(features[name].notna(), np.nan)
                                    if name in self.categorical else features[name].astype(float))
                             for name in features.columns}, index=features.index)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        with _quiet_optbinning():
            woe = self.binning.transform(self._typed(features[self.binned]), metric="woe",
                                         metric_missing="empirical")
        return woe[self.kept].to_numpy(dtype=float)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.regression.predict_proba(self.transform(features))[:, 1]


class LogisticBaseline:
    """Plain logistic regression, the other yardstick: numeric columns standardised with their missing
    values imputed by the median (plus a missing flag where any are missing), categorical columns one-hot,
    L2 penalty (scikit-learn)."""

    description = "logistic regression: standardised numeric columns (median-imputed, missing flags), one-hot " \
                  "categories, L2 (scikit-learn)"

    def fit(self, features: pd.DataFrame, labels) -> LogisticBaseline:
        self.categorical = [name for name in features.columns if _is_categorical(features[name])]
        self.numeric = [name for name in features.columns if name not in self.categorical]
        numeric = features[self.numeric].astype(float)
        self.medians = numeric.median().fillna(0.0)
        self.flagged = [name for name in self.numeric if numeric[name].isna().any()]
        self.levels = {name: sorted(features[name].dropna().astype(str).unique()) for name in self.categorical}
        matrix = self._raw(features)
        self.mean, self.std = matrix.mean(axis=0), matrix.std(axis=0)
        self.std[self.std == 0] = 1.0
        self.regression = LogisticRegression(C=1.0, max_iter=5000).fit((matrix - self.mean) / self.std, labels)
        return self

    def _raw(self, features: pd.DataFrame) -> np.ndarray:
        numeric = features[self.numeric].astype(float)
        parts = [numeric.fillna(self.medians).to_numpy(), numeric[self.flagged].isna().to_numpy(dtype=float)]
        for name in self.categorical:
            text = features[name].astype(object).where(features[name].notna(), None).astype(str)
            parts.append(np.column_stack([(text == level).to_numpy(dtype=float) for level in self.levels[name]]))
        return np.column_stack(parts)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.regression.predict_proba((self._raw(features) - self.mean) / self.std)[:, 1]


def _is_categorical(column: pd.Series) -> bool:
    dtype = column.dtype
    return (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


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
