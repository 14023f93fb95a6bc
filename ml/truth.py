"""The quality bars on a demo population, where the generator's true PD of every loan is known.

A real district has no true PD; the demo writes one per loan to `<instance>/demo/truth.csv`. Comparing the
model's out-of-time AUC with the AUC of those true probabilities on the same holdout loans says how much of
the attainable ranking the model found — the bar of issue 3 is a gap of at most 0.02, and an expected
calibration error under 0.02. `xyd ml train` puts this in the model card; `make bench` prints it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml import metrics

AUC_GAP_BAR = 0.02
ECE_BAR = 0.02


def truth_file(instance_path: str | Path) -> Path:
    return Path(instance_path) / "demo" / "truth.csv"


def demo_quality(run, truth_path: str | Path) -> dict | None:
    """The bars for a TrainingRun, or None when no holdout loan is in the truth file (not a demo population)."""
    truth = pd.read_csv(truth_path, dtype={"uscc": str, "disbursed_on": str},
                        usecols=["uscc", "disbursed_on", "true_pd_12m"])
    loans = run.loans.assign(disbursed_on=run.loans.as_of.astype(str))
    holdout = loans[loans.holdout].reset_index(drop=True).merge(truth, on=["uscc", "disbursed_on"], how="left")
    matched = holdout.true_pd_12m.notna().to_numpy()
    labels = holdout.defaulted.to_numpy()[matched]
    if not matched.any() or labels.min() == labels.max():
        return None
    model_auc = metrics.auc(labels, run.holdout_pd[matched])
    true_auc = metrics.auc(labels, holdout.true_pd_12m.to_numpy()[matched])
    ece = metrics.ece(labels, run.holdout_pd[matched])
    return {
        "holdout_loans": int(matched.sum()), "holdout_defaults": int(labels.sum()),
        "model_auc": model_auc, "true_pd_auc": true_auc, "auc_gap": true_auc - model_auc,
        "auc_gap_bar": AUC_GAP_BAR, "auc_gap_met": bool(true_auc - model_auc <= AUC_GAP_BAR),
        "ece": ece, "ece_bar": ECE_BAR, "ece_met": bool(ece < ECE_BAR),
    }
