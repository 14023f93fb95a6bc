"""A product's credit policy (授信政策, DESIGN §11): which model decides, the cut-off, the amount formula and
the rate of each band. `xinyidai.domain.in_principle` applies it to each new match.

Rules:
- the model is the platform grade (`platform`) or the bank's own promoted joint model (`bank`; only once
  the bank runs one);
- at least one cut-off: a PD ceiling (0 < max_pd < 1) and/or a lowest band on the platform's grade scale;
- the amount is a share (basis points of the last 12 months' invoiced sales) capped by the product maximum;
- every band's rate lies within the product's rate range (a band without its own rate takes the product's
  highest rate);
- an answer stays valid `valid_days` days (1–90).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models.joint import CreditPolicy
from models.lending import Product
from models.scoring import GRADE_SCALE
from xinyidai.audit import record
from xinyidai.domain.errors import Invalid
from xinyidai.i18n import N_

MODELS = ("platform", "bank")
MAX_VALID_DAYS = 90


@dataclass
class PolicyInput:
    model: str
    max_pd: float | None = None
    min_band: str | None = None
    sales_share_bp: int = 0
    rate_by_band: dict[str, int] = field(default_factory=dict)
    valid_days: int = 30


def policy_of(session: Session, product: Product) -> CreditPolicy | None:
    return session.get(CreditPolicy, product.id)


def set_policy(session: Session, product: Product, data: PolicyInput, *, user_id: int | None = None,
               token_id: int | None = None) -> CreditPolicy:
    """Create or replace the product's policy (Invalid: nothing saved). Live answers made under the old
    policy are withdrawn."""
    from xinyidai.domain import joint_models

    errors: dict[str, list[str]] = {}
    if data.model not in MODELS:
        errors["model"] = [N_("请选择平台评分或本行联合模型")]
    elif data.model == "bank" and joint_models.active_bank_version(session, product.bank_id) is None:
        errors["model"] = [N_("本行尚未启用联合模型，请先在建模沙箱中训练并启用一个版本")]
    if data.max_pd is None and not data.min_band:
        errors["max_pd"] = [N_("请至少设置一项准入门槛：违约概率上限或最低等级")]
    if data.max_pd is not None and not 0 < data.max_pd < 1:
        errors["max_pd"] = [N_("违约概率上限须在 0 到 100% 之间")]
    if data.min_band and data.min_band not in GRADE_SCALE:
        errors["min_band"] = [N_("最低等级无效")]
    if not 1 <= data.sales_share_bp <= 10_000:
        errors["sales_share_bp"] = [N_("额度比例须在 0.01% 到 100% 之间")]
    bad_rates = [band for band, rate in data.rate_by_band.items()
                 if band not in GRADE_SCALE or not product.min_rate_bp <= int(rate) <= product.max_rate_bp]
    if bad_rates:
        errors["rate_by_band"] = [N_("各等级的利率须在产品的利率区间内")]
    if not 1 <= data.valid_days <= MAX_VALID_DAYS:
        errors["valid_days"] = [N_("有效期须在 1 到 90 天之间")]
    if errors:
        raise Invalid(errors)
    policy = session.get(CreditPolicy, product.id) or CreditPolicy(product_id=product.id)
    policy.model, policy.max_pd, policy.min_band = data.model, data.max_pd, data.min_band or None
    policy.sales_share_bp, policy.valid_days = data.sales_share_bp, data.valid_days
    policy.rate_by_band = {band: int(rate) for band, rate in sorted(data.rate_by_band.items())}
    policy.updated_by_id = user_id
    session.add(policy)
    session.flush()
    record(session, "credit_policy_set", actor_user_id=user_id, actor_token_id=token_id,
           detail={"bank_id": product.bank_id, "product_id": product.id, "model": policy.model,
                   "max_pd": policy.max_pd, "min_band": policy.min_band, "sales_share_bp": policy.sales_share_bp,
                   "rate_by_band": policy.rate_by_band, "valid_days": policy.valid_days})
    from xinyidai.domain import in_principle

    in_principle.policy_changed(session, product)
    return policy


def rate_for(policy: CreditPolicy, product: Product, band: str) -> int:
    rate = int((policy.rate_by_band or {}).get(band, product.max_rate_bp))
    return min(max(rate, product.min_rate_bp), product.max_rate_bp)


def annual_fee_bp(product: Product, term_months: int) -> int:
    """The product's fee (a one-off charge on the amount, in basis points) spread over the term as a yearly rate."""
    return round(product.fee_bp * 12 / max(term_months, 1))


def annual_cost_bp(product: Product, rate_bp: int, term_months: int) -> int:
    """Rate plus the one-off fee spread over the term: what the need page compares offers by."""
    return int(rate_bp + annual_fee_bp(product, term_months))
