"""Joint modelling (联合建模) and in-principle approval (预授信), measured and printed — never asserted by the
test suite.

1. Training a bank's model on a 5,000-row sample: upload (validation, one transaction), then training
   (features as of each date, the generic trainer, 5-fold CV, WOE scorecard and platform model side by
   side, PSI against the whole population, the report) — wall time of each.
2. Publish to every in-principle answer stored: an enterprise publishes a need that matches the products
   of BENCH_JOINT_BANKS banks, each with a credit policy (half on the bank's own model) and named by the
   enterprise's authorization; the time from the publish call to the commit with every answer in — p50 /
   p95 over BENCH_JOINT_NEEDS needs.

Run: `.venv/bin/python -m bench joint_bench` (a synthetic population in a temporary SQLite database).
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

SAMPLE_ROWS = int(os.environ.get("BENCH_JOINT_SAMPLE_ROWS", "5000"))
BANKS = int(os.environ.get("BENCH_JOINT_BANKS", "6"))
NEEDS = int(os.environ.get("BENCH_JOINT_NEEDS", "100"))
PURPOSE, CONTACT = "流动资金周转", "电话"


def main() -> None:
    from ml import synthetic
    from models.base import utcnow
    from models.consent import Authorization
    from models.identity import Role
    from models.joint import InPrincipleAnswer
    from models.lending import Bank, Product
    from tests.conftest import app_with_schema
    from xinyidai.domain import credit_policy, joint_models, needs
    from xinyidai.domain.users import new_user
    from xinyidai.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder)
        app = app_with_schema({"SECRET_KEY": "bench", "XYD_INSTANCE_PATH": str(instance),
                               "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'bench.sqlite3'}"})
        with app.app_context():
            session = db.session
            started = time.perf_counter()
            truth = synthetic.populate(session, enterprises=SAMPLE_ROWS, seed=11)
            session.commit()
            print(f"population: {SAMPLE_ROWS:,} enterprises with 30 months of data in "
                  f"{time.perf_counter() - started:.1f} s")
            bank = Bank(code="BENCH", name_zh="测试银行", name_en="Bench Bank")
            session.add(bank)
            session.commit()
            lines = ["uscc,observed_on,outcome", *(f"{u},{d},{y}" for u, d, y in
                                                   zip(truth.uscc, truth.disbursed_on, truth.defaulted, strict=True))]
            started = time.perf_counter()
            upload = joint_models.upload_sample(session, bank.id, "\n".join(lines).encode(), "bench.csv")
            session.commit()
            upload_s = time.perf_counter() - started
            steps: dict[str, float] = {}
            last = [time.perf_counter()]

            def step(label):
                now = time.perf_counter()
                steps[label] = now
                last[0] = now

            started = time.perf_counter()
            version = joint_models.train_bank_model(session, instance, bank.id, upload.sample.id, by="bench",
                                                    progress=step)
            session.commit()
            train_s = time.perf_counter() - started
            marks = [("reading the sample", started), *sorted(steps.items(), key=lambda item: item[1])]
            parts = ", ".join(f"{a} {b_t - a_t:.1f} s" for (a, a_t), (_b, b_t) in zip(marks, marks[1:], strict=False))
            oot = version.report["splits"]["oot"]
            print(f"sample of {upload.sample.accepted:,} rows ({upload.sample.defaults} defaults): upload "
                  f"{upload_s:.2f} s; training {train_s:.1f} s ({parts}); out-of-time AUC {oot['auc']}, "
                  f"CV AUC {version.report['cv']['auc_mean']} ± {version.report['cv']['auc_std']}")
            joint_models.promote(session, instance, bank.id, version.version, by="bench")
            session.commit()

            # publish → every answer stored
            banks = [bank] + [Bank(code=f"B{i}", name_zh=f"银行{i}", name_en=f"Bank {i}") for i in range(1, BANKS)]
            session.add_all(banks[1:])
            session.flush()
            for each in banks:
                product = Product(bank_id=each.id, code="P", name_zh="贷", name_en="Loan", min_amount_fen=10_000_00,
                                  max_amount_fen=5_000_000_00, min_term_months=6, max_term_months=24, min_rate_bp=300,
                                  max_rate_bp=600, guarantee_type="信用")
                session.add(product)
                session.flush()
                model = "bank" if each is bank else "platform"
                credit_policy.set_policy(session, product, credit_policy.PolicyInput(
                    model=model, max_pd=0.2 if model == "bank" else None, min_band=None if model == "bank" else "C",
                    sales_share_bp=2000, rate_by_band={"A": 350}))
            session.commit()
            timings = []
            for n, uscc in enumerate(truth.uscc[:NEEDS]):
                user = new_user(username=f"bench-{n}", display_name="bench", role=Role.ENTERPRISE,
                                password="bench-password-123", enterprise_uscc=uscc,  # noqa: S106
                                is_tenant_admin=True)
                session.add(user)
                session.flush()
                grant = Authorization(uscc=uscc, sources=["tax"], all_banks=True, granted_by_id=user.id,
                                      expires_at=utcnow() + timedelta(days=30))
                session.add(grant)
                session.commit()
                started = time.perf_counter()
                need, _fits = needs.publish_need(session, user, {
                    "amount_fen": 100_000_000, "term_months": 12, "purpose": PURPOSE, "guarantee_types": ["信用"],
                    "urgency": "normal", "contact_preference": CONTACT, "open_to_all_banks": True})
                session.commit()
                timings.append(time.perf_counter() - started)
                answered = session.query(InPrincipleAnswer).filter_by(need_id=need.id).count()
                assert answered == BANKS, (answered, BANKS)
            ms = np.array(timings) * 1000
            print(f"publish → {BANKS} in-principle answers stored (one on the bank's own model): p50 "
                  f"{np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms "
                  f"over {NEEDS} needs")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
