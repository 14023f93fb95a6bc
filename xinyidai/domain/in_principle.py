"""In-principle approval (预授信, DESIGN §11): every matched product with a credit policy answers a published
need at once — pre-approved up to an amount at a rate until a date, or not, with the reason worded for
people in both languages.

Rules:
- a policy scores nobody without a live authorization naming the bank: the answer is then "not
  pre-approved, no authorization", and no model is run;
- the answer rests on one score (the platform's latest, or the bank's own model's) and one
  authorization; when either changes, or the policy, the bank's model in use, or the match itself, the
  live answer is withdrawn and, while the match stands, a new one is made;
- an answer expires (`expires_on`, shown) and is never a loan: the bank confirms it with one action,
  which is the lifecycle's matched → approved transition (`xinyidai.domain.lifecycle`) and is recorded
  as the bank's decision like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml.features import data_end_as_of, month_add, window_end
from models.base import SHANGHAI, utcnow
from models.joint import CreditPolicy, InPrincipleAnswer
from models.lending import Application, ApplicationState, FinancingNeed, NeedStatus, Product
from models.scoring import grade_at_least
from models.sources import Source, TaxMonth
from xinyidai.domain import credit_policy
from xinyidai.domain.lifecycle import Actor, transition
from xinyidai.domain.standing import latest_score

S = ApplicationState
LIVE, WITHDRAWN, CONFIRMED = "live", "withdrawn", "confirmed"
ROUND_TO_FEN = 1_000_00  # amounts are offered in whole thousands of yuan


@dataclass(frozen=True)
class Decision:
    approved: bool
    code: str | None = None
    zh: str | None = None
    en: str | None = None
    amount_fen: int | None = None
    rate_bp: int | None = None
    cost_bp: int | None = None
    model_version: str | None = None
    score_id: int | None = None
    pd_12m: float | None = None
    band: str | None = None
    authorization_id: int | None = None


def _no(code: str, zh: str, en: str, **basis) -> Decision:
    return Decision(False, code, zh, en, **basis)


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.0f}"


def _instance_path():
    from flask import current_app, has_app_context

    return current_app.config["XYD_INSTANCE_PATH"] if has_app_context() else None


def invoiced_sales_12m(session: Session, uscc: str, as_of: date) -> int | None:
    """Invoiced sales (fen) over the 12 months visible as of `as_of`; None without any tax month."""
    end = window_end(as_of)
    total, months = session.execute(
        sa.select(sa.func.sum(TaxMonth.invoiced_sales_fen), sa.func.count())
        .where(TaxMonth.uscc == uscc, TaxMonth.month >= month_add(end, -12), TaxMonth.month < end)).one()
    return int(total) if months else None


def decide(session: Session, application: Application, policy: CreditPolicy, *, instance_path=None,
           now: datetime | None = None) -> Decision:
    """The policy's answer for one match (nothing stored)."""
    from xinyidai.domain import joint_models
    from xinyidai.domain.authorizations import live_authorization

    now = now or utcnow()
    product: Product = application.product
    authorization = live_authorization(session, application.uscc, application.bank_id, now)
    if authorization is None:
        return _no("no_authorization", "贵企业尚未授权该银行查询您的数据，银行不能预授信；授权后将自动重新评估",
                   "you have not authorised this bank to use your data, so it cannot pre-approve; "
                   "it will look again once you authorise it")
    basis = {"authorization_id": authorization.id}
    score = latest_score(session, application.uscc)
    if score is not None and not score.gates_passed:
        return _no("gates", "存在未修复的严重失信记录或欠缴，暂不符合预授信条件",
                   "an unrepaired serious public-credit record or arrears rules pre-approval out for now",
                   score_id=score.id, **basis)
    if policy.model == "bank":
        version = joint_models.active_bank_version(session, application.bank_id)
        scores = joint_models.bank_scores(session, instance_path or _instance_path(), application.bank_id,
                                          [application.uscc], now=now) if version else {}
        own = scores.get(application.uscc)
        if own is None:
            return _no("no_model", "该银行的授信模型暂不可用，银行将人工审核",
                       "the bank's credit model is not available; the bank will review by hand", **basis)
        basis.update(model_version=own.model_version, score_id=own.id, pd_12m=own.pd_12m, band=own.band)
    else:
        if score is None:
            return _no("no_score", "平台暂无贵企业的信用评分，银行将人工审核",
                       "the platform has no credit score for you yet; the bank will review by hand", **basis)
        basis.update(model_version=score.model_version, score_id=score.id, pd_12m=score.pd_12m, band=score.grade)
    if policy.max_pd is not None and basis["pd_12m"] > policy.max_pd:
        return _no("pd_above_cutoff",
                   f"估算违约概率 {basis['pd_12m'] * 100:.1f}% 高于该产品预授信上限 {policy.max_pd * 100:.1f}%",
                   f"estimated probability of default {basis['pd_12m'] * 100:.1f}% is above the product's "
                   f"ceiling of {policy.max_pd * 100:.1f}%", **basis)
    if policy.min_band and not grade_at_least(basis["band"], policy.min_band):
        return _no("band_below_cutoff", f"信用等级 {basis['band']} 低于该产品预授信要求的 {policy.min_band}",
                   f"credit grade {basis['band']} is below the product's lowest {policy.min_band}", **basis)
    if Source.TAX.value not in (authorization.sources or []):
        return _no("no_tax_authorization", "授权未包含纳税数据，无法按开票销售额测算额度",
                   "your authorization does not cover tax data, so no amount can be worked out from invoiced sales",
                   **basis)
    sales = invoiced_sales_12m(session, application.uscc, data_end_as_of(session, max_age=300.0))
    if not sales:
        return _no("no_sales", "近12个月没有开票销售额记录，无法测算额度",
                   "no invoiced sales in the last 12 months to work an amount out from", **basis)
    amount = min(sales * policy.sales_share_bp // 10_000, product.max_amount_fen) // ROUND_TO_FEN * ROUND_TO_FEN
    if amount < product.min_amount_fen:
        return _no("amount_below_min",
                   f"按近12个月开票销售额测算的额度 {_yuan(amount)} 元低于产品下限 {_yuan(product.min_amount_fen)} 元",
                   f"the amount from the last 12 months' invoiced sales ({_yuan(amount)} yuan) is below the "
                   f"product minimum of {_yuan(product.min_amount_fen)} yuan", **basis)
    rate = credit_policy.rate_for(policy, product, basis["band"])
    term = min(max(application.need.term_months, product.min_term_months), product.max_term_months)
    return Decision(True, amount_fen=amount, rate_bp=rate, cost_bp=credit_policy.annual_cost_bp(product, rate, term),
                    **basis)


def _store(session: Session, application: Application, policy: CreditPolicy, decision: Decision,
           today: date) -> InPrincipleAnswer:
    answer = InPrincipleAnswer(
        application_id=application.id, need_id=application.need_id, product_id=application.product_id,
        bank_id=application.bank_id, uscc=application.uscc, approved=decision.approved,
        amount_fen=decision.amount_fen, rate_bp=decision.rate_bp, cost_bp=decision.cost_bp,
        expires_on=today + timedelta(days=policy.valid_days), reason_code=decision.code, reason_zh=decision.zh,
        reason_en=decision.en, model=policy.model, model_version=decision.model_version, score_id=decision.score_id,
        pd_12m=decision.pd_12m, band=decision.band, authorization_id=decision.authorization_id, status=LIVE)
    session.add(answer)
    return answer


def _withdraw(answer: InPrincipleAnswer, reason: str, now: datetime) -> None:
    answer.status, answer.withdrawn_reason, answer.closed_at = WITHDRAWN, reason, now


def _stale(answer: InPrincipleAnswer, decision: Decision) -> str | None:
    """Why a live answer no longer stands, comparing what it rested on with what holds now."""
    if decision.authorization_id != answer.authorization_id:
        return "authorization_changed"
    if decision.score_id != answer.score_id or decision.model_version != answer.model_version:
        return "score_changed"
    if (decision.approved, decision.code) != (answer.approved, answer.reason_code):
        return "score_changed"
    return None


def refresh_need(session: Session, need: FinancingNeed, *, instance_path=None, now: datetime | None = None) -> int:
    """Answer every open match of the need whose product has a policy; withdraw live answers that no
    longer stand (and answer again). Returns how many answers were made. Does not commit."""
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()  # answers are dated in Shanghai, like every date the platform shows
    applications = list(session.scalars(sa.select(Application).where(Application.need_id == need.id)
                                        .order_by(Application.id)))
    if not applications:
        return 0
    policies = {p.product_id: p for p in session.scalars(sa.select(CreditPolicy).where(
        CreditPolicy.product_id.in_([a.product_id for a in applications])))}
    live = {a.application_id: a for a in session.scalars(sa.select(InPrincipleAnswer).where(
        InPrincipleAnswer.need_id == need.id, InPrincipleAnswer.status == LIVE))}
    made = 0
    for application in applications:
        answer, policy = live.get(application.id), policies.get(application.product_id)
        open_match = application.state is S.MATCHED and need.status is NeedStatus.OPEN
        if not open_match or policy is None:
            if answer is not None:
                _withdraw(answer, "match_closed" if policy is not None else "policy_removed", now)
            continue
        decision = decide(session, application, policy, instance_path=instance_path, now=now)
        if answer is not None:
            why = "expired" if answer.expires_on < today else _stale(answer, decision)
            if why is None:
                continue
            _withdraw(answer, why, now)
        _store(session, application, policy, decision, today)
        made += 1
    session.flush()
    return made


def refresh_enterprises(session: Session, usccs, *, instance_path=None) -> int:
    """`refresh_need` for every open need of these enterprises (their score or authorization changed)."""
    usccs = sorted(set(usccs))
    if not usccs:
        return 0
    needs = session.scalars(sa.select(FinancingNeed).where(FinancingNeed.uscc.in_(usccs),
                                                           FinancingNeed.status == NeedStatus.OPEN)
                            .order_by(FinancingNeed.id)).all()
    return sum(refresh_need(session, need, instance_path=instance_path) for need in needs)


def answered_usccs(session: Session, bank_id: int | None = None) -> list[str]:
    query = sa.select(InPrincipleAnswer.uscc).where(InPrincipleAnswer.status == LIVE).distinct()
    if bank_id is not None:
        query = query.where(InPrincipleAnswer.bank_id == bank_id)
    return list(session.scalars(query))


def policy_changed(session: Session, product: Product) -> int:
    """A product's policy changed: its open matches are answered again under the new one."""
    need_ids = sa.select(Application.need_id).where(Application.product_id == product.id,
                                                    Application.state == S.MATCHED)
    needs = session.scalars(sa.select(FinancingNeed).where(FinancingNeed.id.in_(need_ids),  # (no DISTINCT over JSON)
                                                           FinancingNeed.status == NeedStatus.OPEN)
                            .order_by(FinancingNeed.id)).all()
    for answer in session.scalars(sa.select(InPrincipleAnswer).where(InPrincipleAnswer.product_id == product.id,
                                                                     InPrincipleAnswer.status == LIVE)):
        _withdraw(answer, "policy_changed", utcnow())
    session.flush()
    return sum(refresh_need(session, need) for need in needs)


def bank_model_changed(session: Session, instance_path, bank_id: int) -> int:
    """The bank promoted or rolled back its model: answers its own model made are made again."""
    usccs = set(session.scalars(sa.select(InPrincipleAnswer.uscc).where(
        InPrincipleAnswer.bank_id == bank_id, InPrincipleAnswer.status == LIVE, InPrincipleAnswer.model == "bank")))
    usccs |= set(session.scalars(sa.select(Application.uscc).join(CreditPolicy, CreditPolicy.product_id ==
                                                                  Application.product_id)
                                 .where(Application.bank_id == bank_id, Application.state == S.MATCHED,
                                        CreditPolicy.model == "bank")))
    return refresh_enterprises(session, usccs, instance_path=instance_path)


# ---------------------------------------------------------------- reading and confirming


@dataclass(frozen=True)
class AnswerView:
    """An answer with the names of its bank and product, as the enterprise reads it."""

    answer: InPrincipleAnswer
    bank_name_zh: str
    bank_name_en: str
    product_name_zh: str
    product_name_en: str

    def __getattr__(self, name):
        return getattr(self.answer, name)


def answers_for_need(session: Session, need_id: int) -> list[AnswerView]:
    """The need's current answers (live and confirmed) of matches still standing, pre-approvals first,
    cheapest first."""
    from models.lending import Bank

    rows = session.execute(
        sa.select(InPrincipleAnswer, Bank.name_zh, Bank.name_en, Product.name_zh, Product.name_en)
        .join(Product, Product.id == InPrincipleAnswer.product_id).join(Bank, Bank.id == InPrincipleAnswer.bank_id)
        .join(Application, Application.id == InPrincipleAnswer.application_id)
        .where(InPrincipleAnswer.need_id == need_id, InPrincipleAnswer.status.in_([LIVE, CONFIRMED]),
               Application.state.in_([S.MATCHED, S.APPROVED]))
        .order_by(InPrincipleAnswer.approved.desc(), InPrincipleAnswer.cost_bp, InPrincipleAnswer.id.desc())).all()
    seen, out = set(), []
    for answer, bank_zh, bank_en, product_zh, product_en in rows:
        if answer.product_id not in seen:
            seen.add(answer.product_id)
            out.append(AnswerView(answer, bank_zh, bank_en, product_zh, product_en))
    return out


def live_answers(session: Session, application_ids) -> dict[int, InPrincipleAnswer]:
    ids = list(application_ids)
    if not ids:
        return {}
    rows = session.scalars(sa.select(InPrincipleAnswer).where(InPrincipleAnswer.application_id.in_(ids),
                                                              InPrincipleAnswer.status.in_([LIVE, CONFIRMED]))
                           .order_by(InPrincipleAnswer.id))
    return {row.application_id: row for row in rows}


def is_open(answer: InPrincipleAnswer, today: date | None = None) -> bool:
    """Whether the bank may still confirm it: live, pre-approved and not expired."""
    today = today or utcnow().astimezone(SHANGHAI).date()
    return answer.status == LIVE and answer.approved and answer.expires_on >= today


def confirm(session: Session, application: Application, actor: Actor, *, idempotency_key: str | None = None,
            instance_path=None):
    """The bank confirms its live in-principle approval: matched → approved in the lifecycle (the one state
    machine), the answer marked confirmed. The answer is checked against today's score and authorization
    first; one that no longer stands is withdrawn (and answered again) and the lifecycle refuses the move."""
    from xinyidai.domain.lifecycle import IllegalTransition

    answer = live_answers(session, [application.id]).get(application.id)
    if answer is not None and answer.status == LIVE and application.state is S.MATCHED:
        refresh_need(session, session.get(FinancingNeed, application.need_id), instance_path=instance_path)
        if answer.status != LIVE:
            raise IllegalTransition("预授信结论已随评分或授权的变化更新，请查看新的结论后再确认",
                                    "the in-principle answer changed with the score or the authorization; "
                                    "read the new one before confirming")
    if answer is None:
        raise IllegalTransition("这笔申请没有预授信结论，请先受理再审批",
                                "this application has no in-principle answer; claim it before approving")
    detail = {"in_principle_answer_id": answer.id}
    event = transition(session, application, S.APPROVED, actor, idempotency_key=idempotency_key, detail=detail)
    if answer.status == LIVE:
        answer.status, answer.closed_at = CONFIRMED, utcnow()
    session.flush()
    return event
