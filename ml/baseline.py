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
    """Fitted, the scorecard is a table: for each kept feature its bin edges (or categories), each bin's
    weight of evidence and the regression's coefficient. The platform can store it as a model version
    (`to_dict` / `from_dict`), score with it and explain each score: a feature's contribution to the
    log-odds of default is its coefficient times its bin's WOE."""

    kind = "woe_scorecard"
    description = (f"WOE-binned logistic scorecard: optimal binning (optbinning, ≤{MAX_BINS} bins per feature, "
                   f"monotonic trend chosen per feature, missing as its own bin), features with information value "
                   f"≥ {MIN_IV}, L2 logistic regression (scikit-learn)")

    def __init__(self):
        self.features: list[str] = []
        self.categorical: list[str] = []
        self.kept: list[str] = []
        self.bins: dict[str, dict] = {}
        self.coefficients: dict[str, float] = {}
        self.intercept = 0.0
        self.card: dict = {}

    def fit(self, features: pd.DataFrame, labels) -> WoeScorecard:
        y = np.asarray(labels, dtype=int)
        self.features = list(features.columns)
        self.categorical = [name for name in features.columns if _is_categorical(features[name])]
        frame = self._typed(features)
        # A feature with no values, or one value, in the training window has nothing to bin (and the
        # pre-binning tree refuses an empty sample): it carries no information and is left out.
        names = [name for name in frame.columns if frame[name].nunique(dropna=True) > 1]
        frame = frame[names]
        categorical = [name for name in names if name in self.categorical]
        binning = BinningProcess(
            names, max_n_bins=MAX_BINS, selection_criteria={"iv": {"min": MIN_IV}},
            categorical_variables=categorical or None,
            binning_fit_params={name: {"monotonic_trend": "auto_asc_desc"} for name in names
                                if name not in categorical})
        with _quiet_optbinning():
            binning.fit(frame, y)
            self.kept = [str(name) for name in binning.get_support(names=True)]
            if not self.kept:  # nothing informative on its own: keep every feature rather than fit on nothing
                binning.set_params(selection_criteria=None).fit(frame, y)
                self.kept = names
            self.bins = {name: _table(binning.get_binned_variable(name), frame[name], name in categorical)
                         for name in self.kept}
        regression = LogisticRegression(C=1.0, max_iter=2000).fit(self.transform(features), y)
        self.coefficients = dict(zip(self.kept, regression.coef_[0].astype(float).tolist(), strict=True))
        self.intercept = float(regression.intercept_[0])
        return self

    def _typed(self, features: pd.DataFrame) -> pd.DataFrame:
        """Numeric columns as floats, categorical ones as text (missing stays missing)."""
        return pd.DataFrame({name: (features[name].astype(object).where(features[name].notna(), np.nan)
                                    if name in self.categorical else features[name].astype(float))
                             for name in features.columns}, index=features.index)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The WOE of each row's bin, one column per kept feature."""
        out = np.empty((len(features), len(self.kept)))
        for j, name in enumerate(self.kept):
            table, column = self.bins[name], features[name]
            missing = column.isna().to_numpy()
            if "categories" in table:
                values = column.astype(object).where(~missing, None).astype(str).map(table["categories"])
                woe = values.fillna(table["unknown"]).to_numpy(dtype=float)
            else:
                index = np.searchsorted(np.asarray(table["splits"], dtype=float),
                                        column.to_numpy(dtype=float), side="right")
                woe = np.asarray(table["woe"], dtype=float)[np.minimum(index, len(table["woe"]) - 1)]
            out[:, j] = np.where(missing, table["missing"], woe)
        return out

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions to the log-odds of default (n × features; zero for unused ones)."""
        woe = self.transform(features) * np.array([self.coefficients[n] for n in self.kept])
        contrib = np.zeros((len(features), len(self.features)))
        for j, name in enumerate(self.kept):
            contrib[:, self.features.index(name)] = woe[:, j]
        return contrib

    def logit(self, features: pd.DataFrame) -> np.ndarray:
        return self.intercept + self.contributions(features).sum(axis=1)

    def explain(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        contrib = self.contributions(features)
        return 1.0 / (1.0 + np.exp(-(self.intercept + contrib.sum(axis=1)))), contrib

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(features)))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "features": self.features, "categorical": self.categorical, "kept": self.kept,
                "bins": self.bins, "coefficients": self.coefficients, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict, card: dict | None = None) -> WoeScorecard:
        model = cls()
        model.features, model.categorical, model.kept = data["features"], data["categorical"], data["kept"]
        model.bins, model.coefficients, model.intercept = data["bins"], data["coefficients"], data["intercept"]
        model.card = card or {}
        return model


def _table(binned, column: pd.Series, categorical: bool) -> dict:
    """One feature's bins as plain numbers, read back through optbinning's own transform so that the
    table scores exactly as the fitted binning does."""
    def woe_of(values) -> list[float]:
        return [float(v) for v in binned.transform(np.asarray(values, dtype=object if categorical else float),
                                                   metric="woe", metric_missing="empirical")]

    missing = woe_of([np.nan])[0]
    if categorical:
        known = sorted(column.dropna().astype(str).unique())
        return {"categories": dict(zip(known, woe_of(known), strict=True)), "unknown": 0.0, "missing": missing}
    splits = [float(v) for v in binned.splits]
    probes = [splits[0] - 1.0] + splits if splits else [0.0]
    return {"splits": splits, "woe": woe_of(probes), "missing": missing}


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
