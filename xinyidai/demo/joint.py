"""The demo's joint modelling (联合建模) and in-principle approval (预授信): two banks hand in their own demo
loan history as a sample, the platform trains and promotes a model for each, three products get a credit
policy (two on the bank's own model, one on the platform grade), and the demo enterprise (which has
authorised every bank) publishes a need that the policies answer at once.

Each bank's bad definition is its own, as in real joint modelling: here "any payment ever reported late"
(days past due ≥ 1, or worse), over every loan it disbursed — a 2,000-enterprise demo gives each bank a
couple of hundred loans, too few 90-day defaults for a model but enough early delinquencies.

Run by `xyd setup` once the platform model is in use; doing it again changes nothing (the same sample is
the same file; a bank that already runs a model keeps it).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.consent import Authorization
from models.identity import User
from models.joint import InPrincipleAnswer
from models.lending import Application, Bank, FinancingNeed, LoanPerformance, LoanStatus, NeedStatus, Product
from models.sources import Source
from xinyidai.demo.logins import DEMO_ENTERPRISE_USERNAME
from xinyidai.domain import credit_policy, joint_models, needs

JOINT_BANKS = ("ICBC-SH", "CCB-SH")  # the two banks with the most demo loans
# bank code, product code → model, PD ceiling, lowest band, share of 12 months' sales (bp), rate by band. The
# banks' own models predict any late payment (about one loan in seven), hence the high PD ceilings.
POLICIES = {
    ("ICBC-SH", "JYKD"): ("bank", 0.30, None, 1500, {"AAA": 330, "AA": 340, "A": 355, "BBB": 375, "BB": 400}),
    ("CCB-SH", "YSD"): ("bank", 0.30, None, 1200, {"AAA": 335, "AA": 345, "A": 360, "BBB": 380, "BB": 405}),
    ("BOCOM-SH", "XSSRT"): ("platform", None, "BBB", 1000, {"AAA": 330, "AA": 340, "A": 355, "BBB": 380}),
}


def seed_joint_models(session: Session, instance_path, *, progress=None) -> dict:
    """Samples, trained and promoted models and policies for the demo banks; returns what it did."""
    say = progress or (lambda _text: None)
    done = {"models": [], "policies": 0, "needs": 0}
    for code in JOINT_BANKS:
        bank = session.scalar(sa.select(Bank).where(Bank.code == code))
        if bank is None:
            continue
        own = bank_history(session, bank.id)
        if joint_models.sample_refusal(len(own), int(own.defaulted.sum())) is not None:
            say(f"  {code}: {len(own)} labelled loans, too few for a joint model")
            continue
        lines = ["uscc,observed_on,outcome", *(f"{u},{d},{y}" for u, d, y in
                                               zip(own.uscc, own.as_of, own.defaulted, strict=True))]
        upload = joint_models.upload_sample(session, bank.id, "\n".join(lines).encode(), f"{code}-loans.csv")
        if upload.sample is not None and joint_models.active_bank_version(session, bank.id) is None:
            try:
                version = joint_models.train_bank_model(session, instance_path, bank.id, upload.sample.id,
                                                        by="xyd setup")
            except joint_models.Refused as refused:
                say(f"  {code}: no joint model ({refused.en})")
                session.commit()
                continue
            joint_models.promote(session, instance_path, bank.id, version.version, by="xyd setup")
            done["models"].append((code, version.version, version.report["splits"]["oot"]["auc"]))
            say(f"  {code}: joint model {version.version} trained on {upload.sample.accepted} loans, "
                f"out-of-time AUC {version.report['splits']['oot']['auc']}")
        session.commit()
    for (bank_code, product_code), (model, max_pd, min_band, share, rates) in POLICIES.items():
        product = session.scalar(sa.select(Product).join(Bank).where(Bank.code == bank_code,
                                                                     Product.code == product_code))
        if product is None or credit_policy.policy_of(session, product) is not None:
            continue
        if model == "bank" and joint_models.active_bank_version(session, product.bank_id) is None:
            model, min_band = "platform", "BBB"
        credit_policy.set_policy(session, product, credit_policy.PolicyInput(
            model=model, max_pd=max_pd, min_band=min_band, sales_share_bp=share,
            rate_by_band={b: min(max(r, product.min_rate_bp), product.max_rate_bp) for b, r in rates.items()},
            valid_days=30))
        done["policies"] += 1
        session.commit()
    done["needs"] = _demo_need(session)
    session.commit()
    say(f"  {done['policies']} credit policies; the demo enterprise's need answered in principle "
        f"by {done['needs']} products")
    return done


def bank_history(session: Session, bank_id: int) -> pd.DataFrame:
    """uscc, as_of (disbursement date), defaulted (any payment reported late) of every loan the bank made."""
    late = sa.exists().where(LoanPerformance.application_id == Application.id,
                             (LoanPerformance.days_past_due >= 1)
                             | LoanPerformance.status.in_([LoanStatus.DEFAULTED, LoanStatus.WRITTEN_OFF]))
    rows = session.execute(sa.select(Application.uscc, Application.disbursed_on, late)
                           .where(Application.bank_id == bank_id, Application.disbursed_on.is_not(None))
                           .order_by(Application.disbursed_on, Application.id)).all()
    frame = pd.DataFrame(rows, columns=["uscc", "as_of", "defaulted"]).drop_duplicates(["uscc", "as_of"])
    frame["defaulted"] = frame.defaulted.astype(int)
    return frame


def _demo_need(session: Session) -> int:
    """The demo enterprise publishes a working-capital need (unless it has an open one): the in-principle
    answers of every matching product with a policy. Returns how many answers it got."""
    user = session.scalar(sa.select(User).where(User.username == DEMO_ENTERPRISE_USERNAME))
    if user is None:
        return 0
    need = session.scalar(sa.select(FinancingNeed).where(FinancingNeed.uscc == user.enterprise_uscc,
                                                         FinancingNeed.status == NeedStatus.OPEN))
    live = session.scalar(sa.select(Authorization).where(
        Authorization.uscc == user.enterprise_uscc, Authorization.all_banks, Authorization.revoked_at.is_(None),
        Authorization.expires_at > utcnow()))
    if live is None:  # the demo's own authorization dates from the demo's past: renewed for a year from today
        session.add(Authorization(uscc=user.enterprise_uscc, sources=[s.value for s in Source], all_banks=True,
                                  granted_by_id=user.id, granted_at=utcnow(),
                                  expires_at=utcnow() + timedelta(days=365)))
        session.flush()
    if need is None:
        need, _fits = needs.publish_need(session, user, {
            "amount_fen": 1_000_000_00, "term_months": 12, "purpose": "流动资金周转", "guarantee_types": ["信用"],
            "urgency": "normal", "contact_preference": "线上", "open_to_all_banks": True})
    return session.scalar(sa.select(sa.func.count()).select_from(InPrincipleAnswer)
                          .where(InPrincipleAnswer.need_id == need.id))
