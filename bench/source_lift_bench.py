"""What the four later sources (intellectual property, qualifications, environmental rating, agricultural
operators) add to the whitelist model: the synthetic population (`ml.synthetic.populate(more_sources=True)`,
whose true PD gives those sources a modest effect of their own) trained by the platform pipeline, and the
model card's `source_lift` — out-of-time AUC and KS with and without their features, the same settings
refitted — printed beside the AUC of the true PD on the same holdout loans.

Run: `.venv/bin/python -m bench source_lift_bench` (BENCH_LIFT_ENTERPRISES, default 3000; BENCH_LIFT_SEEDS,
default "1,2,3").
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

ENTERPRISES = int(os.environ.get("BENCH_LIFT_ENTERPRISES", "3000"))
SEEDS = [int(s) for s in os.environ.get("BENCH_LIFT_SEEDS", "1,2,3").split(",")]


def one(seed: int) -> dict:
    from flask_migrate import upgrade

    from ml import metrics, synthetic
    from ml.train import train
    from xinyidai import create_app
    from xinyidai.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="xyd-lift-bench-"))
    app = create_app({"XYD_INSTANCE_PATH": str(folder), "SECRET_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'xinyidai.sqlite3'}"})
    with app.app_context():
        upgrade()
        truth = synthetic.populate(db.session, enterprises=ENTERPRISES, seed=seed, more_sources=True)
        db.session.commit()
        started = time.perf_counter()
        run = train(db.session)
        seconds = time.perf_counter() - started
        holdout = run.loans[run.loans.holdout].merge(truth, on="uscc")
        lift = run.model.card["source_lift"]
        db.engine.dispose()
    return {**lift, "seconds": seconds, "true_pd_auc": metrics.auc(holdout.defaulted_x, holdout.true_pd),
            "holdout_loans": len(holdout), "holdout_defaults": int(holdout.defaulted_x.sum())}


def main() -> None:
    print(f"  {ENTERPRISES:,} enterprises per population, seeds {SEEDS}")
    for seed in SEEDS:
        r = one(seed)
        print(f"  seed {seed}: out-of-time AUC with the later sources {r['auc_with']:.4f}, without "
              f"{r['auc_without']:.4f} (gain {r['auc_gain']:+.4f}); KS {r['ks_with']:.4f} vs {r['ks_without']:.4f}; "
              f"true PD {r['true_pd_auc']:.4f}; {r['holdout_loans']} holdout loans, {r['holdout_defaults']} defaults; "
              f"trained in {r['seconds']:.0f} s")


if __name__ == "__main__":
    main()
