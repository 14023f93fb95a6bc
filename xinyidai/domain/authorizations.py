"""What a bank may see of an enterprise (DESIGN §8): the detail only while a live authorization (授权) names
the bank, and only the sources it covers; otherwise an anonymised summary. Every detail view is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import SHANGHAI, utcnow
from models.consent import Authorization
from models.enterprise import CreditCommitment, Enterprise, SelfReport
from models.lending import Application, ApplicationState
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    IntellectualProperty,
    PublicCreditEvent,
    SocialInsuranceMonth,
    Source,
    TaxMonth,
    TaxRating,
)
from xinyidai.audit import record
from xinyidai.domain.lifecycle import IN_PROGRESS, Actor
from xinyidai.domain.qualifications import certificates
from xinyidai.domain.standing import latest_score, standing_of

MONTHS_SHOWN = 12


def live_authorization(session: Session, uscc: str, bank_id: int, at: datetime | None = None) -> Authorization | None:
    """The newest authorization of the enterprise that is live now and names the bank, if any."""
    at = at or utcnow()
    candidates = session.scalars(
        sa.select(Authorization).where(Authorization.uscc == uscc, Authorization.revoked_at.is_(None),
                                       Authorization.granted_at <= at, Authorization.expires_at > at)
        .order_by(Authorization.granted_at.desc())
    )
    return next((a for a in candidates if a.is_live(at) and a.names_bank(bank_id)), None)


def live_guarantor_authorization(session: Session, uscc: str, guarantor_id: int,
                                 at: datetime | None = None) -> Authorization | None:
    """The newest live authorization of the enterprise that names this guarantee institution (all_banks never
    covers a guarantor: it must be named)."""
    at = at or utcnow()
    candidates = session.scalars(
        sa.select(Authorization).where(Authorization.uscc == uscc, Authorization.revoked_at.is_(None),
                                       Authorization.granted_at <= at, Authorization.expires_at > at)
        .order_by(Authorization.granted_at.desc())
    )
    return next((a for a in candidates if a.is_live(at) and a.names_guarantor(guarantor_id)), None)


@dataclass
class EnterpriseView:
    """`summary` is always there and names nobody; `detail` only under `authorization`."""

    summary: dict
    authorization: Authorization | None = None
    detail: dict | None = None


def summary_of(session: Session, enterprise: Enterprise, today: date) -> dict:
    standing = standing_of(session, enterprise.uscc)
    return {
        "district_code": enterprise.district_code,
        "industry_section": enterprise.industry_section,
        "size_class": enterprise.size_class.value,
        "years_operating": int((today - enterprise.established_on).days // 365.25),
        "grade": standing.grade,
        "whitelisted": standing.whitelisted,
    }


# States in which this bank's application holds the enterprise's need (claimed and after).
HOLDS_THE_NEED = IN_PROGRESS | {ApplicationState.REPAID, ApplicationState.DEFAULTED}


def enterprise_view(session: Session, application: Application, actor: Actor, *, remote_addr: str | None = None,
                    now: datetime | None = None) -> EnterpriseView:
    """The enterprise behind an application as this bank may see it; records the view of detail in the audit log."""
    now = now or utcnow()
    enterprise = session.get(Enterprise, application.uscc)
    view = EnterpriseView(summary_of(session, enterprise, now.date()))
    authorization = live_authorization(session, enterprise.uscc, application.bank_id, now)
    if authorization is None:
        return view
    view.authorization, view.detail = authorization, _detail(session, enterprise, set(authorization.sources),
                                                                 now.astimezone(SHANGHAI).date())
    if application.state not in HOLDS_THE_NEED:
        # Contact details go only to the bank that has claimed (受理) the need, never to every matched bank.
        view.detail.update(contact_name=None, contact_phone=None, contact_email=None)
    record(session, "view_credit_detail", actor_user_id=actor.user_id, actor_token_id=actor.token_id,
           subject_uscc=enterprise.uscc, authorization_id=authorization.id, remote_addr=remote_addr,
           detail={"application_id": application.id, "bank_id": application.bank_id, "channel": actor.channel.value,
                   "sources": sorted(authorization.sources)})
    return view


def guarantor_enterprise_view(session: Session, application: Application, guarantor_id: int, actor: Actor, *,
                              holds_guarantee: bool, remote_addr: str | None = None,
                              now: datetime | None = None) -> EnterpriseView:
    """The enterprise behind an application as the guarantor asked to guarantee it may see it: the summary, and
    the detail only under a live authorization naming this guarantor (audited like a bank's view). Contact
    details only while its guarantee is asked for or accepted (`holds_guarantee`)."""
    now = now or utcnow()
    enterprise = session.get(Enterprise, application.uscc)
    view = EnterpriseView(summary_of(session, enterprise, now.date()))
    authorization = live_guarantor_authorization(session, enterprise.uscc, guarantor_id, now)
    if authorization is None:
        return view
    view.authorization, view.detail = authorization, _detail(session, enterprise, set(authorization.sources),
                                                                 now.astimezone(SHANGHAI).date())
    if not holds_guarantee:
        view.detail.update(contact_name=None, contact_phone=None, contact_email=None)
    record(session, "view_credit_detail", actor_user_id=actor.user_id, actor_token_id=actor.token_id,
           subject_uscc=enterprise.uscc, authorization_id=authorization.id, remote_addr=remote_addr,
           detail={"application_id": application.id, "guarantor_id": guarantor_id, "channel": actor.channel.value,
                   "sources": sorted(authorization.sources)})
    return view


def _detail(session: Session, enterprise: Enterprise, sources: set[str], today: date | None = None) -> dict:
    detail = {
        "uscc": enterprise.uscc,
        "name": enterprise.name,
        "industry_division": enterprise.industry_division,
        "established_on": enterprise.established_on.isoformat(),
        "registered_capital_fen": enterprise.registered_capital_fen,
        "status": enterprise.status.value,
        "contact_name": enterprise.contact_name,
        "contact_phone": enterprise.contact_phone,
        "contact_email": enterprise.contact_email,
        "sources": sorted(sources),
        "score": None,
        "tax_months": [],
        "tax_ratings": [],
        "social_insurance_months": [],
        "public_credit_events": [],
        "intellectual_property": [],
        "qualifications": [],
        "environmental_ratings": [],
        "agricultural_operators": [],
    }
    detail["self_reported"] = self_reported(session, enterprise.uscc)
    score = latest_score(session, enterprise.uscc)
    if score is not None:
        detail["score"] = {"as_of": score.as_of.isoformat(), "points": score.points, "grade": score.grade,
                           "pd_12m": score.pd_12m, "gates_passed": score.gates_passed,
                           "reasons": [{"family": r.family, "feature": r.feature, "contribution": r.contribution}
                                       for r in score.reasons]}
    uscc = enterprise.uscc
    if Source.TAX in sources:
        rows = session.scalars(sa.select(TaxMonth).where(TaxMonth.uscc == uscc)
                               .order_by(TaxMonth.month.desc()).limit(MONTHS_SHOWN))
        detail["tax_months"] = [{"month": r.month.isoformat()[:7], "invoiced_sales_fen": r.invoiced_sales_fen,
                                 "tax_paid_fen": r.tax_paid_fen, "in_arrears": r.in_arrears} for r in rows][::-1]
    if Source.TAX_RATING in sources:
        rows = session.scalars(sa.select(TaxRating).where(TaxRating.uscc == uscc).order_by(TaxRating.year.desc()))
        detail["tax_ratings"] = [{"year": r.year, "rating": r.rating.value} for r in rows]
    if Source.SOCIAL_INSURANCE in sources:
        rows = session.scalars(sa.select(SocialInsuranceMonth).where(SocialInsuranceMonth.uscc == uscc)
                               .order_by(SocialInsuranceMonth.month.desc()).limit(MONTHS_SHOWN))
        detail["social_insurance_months"] = [{"month": r.month.isoformat()[:7], "insured_headcount": r.insured_headcount,
                                              "months_in_arrears": r.months_in_arrears} for r in rows][::-1]
    if Source.PUBLIC_CREDIT in sources:
        rows = session.scalars(sa.select(PublicCreditEvent).where(PublicCreditEvent.uscc == uscc)
                               .order_by(PublicCreditEvent.decided_on.desc()))
        detail["public_credit_events"] = [{"kind": r.kind.value, "severity": r.severity.value,
                                           "decided_on": r.decided_on.isoformat(),
                                           "repaired_on": r.repaired_on.isoformat() if r.repaired_on else None}
                                          for r in rows]
    detail.update(later_sources(session, uscc, sources, today or date.today()))
    return detail


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def later_sources(session: Session, uscc: str, sources: set[str], today: date) -> dict:
    """What the authorization shows of the later sources (DESIGN §13), each only when it covers that source:
    every patent and trademark, every certificate with whether it is valid today, every environmental rating and
    every agricultural recognition, newest first (as the enterprise sees them on its profile)."""
    out = {}
    if Source.INTELLECTUAL_PROPERTY in sources:
        rows = session.scalars(sa.select(IntellectualProperty).where(IntellectualProperty.uscc == uscc)
                               .order_by(IntellectualProperty.applied_on.desc(), IntellectualProperty.number))
        out["intellectual_property"] = [{"kind": r.kind.value, "number": r.number, "applied_on": _day(r.applied_on),
                                         "granted_on": _day(r.granted_on)} for r in rows]
    if Source.QUALIFICATIONS in sources:
        out["qualifications"] = [{"kind": q.kind.value, "issued_on": _day(q.issued_on), "expires_on": _day(q.expires_on),
                                  "certificate_no": q.certificate_no,
                                  "status": "valid" if q.issued_on <= today <= q.expires_on
                                  else ("expired" if q.expires_on < today else "not_yet_valid")}
                                 for q in certificates(session, uscc)]
    if Source.ENVIRONMENTAL_RATING in sources:
        rows = session.scalars(sa.select(EnvironmentalRating).where(EnvironmentalRating.uscc == uscc)
                               .order_by(EnvironmentalRating.year.desc()))
        out["environmental_ratings"] = [{"year": r.year, "grade": r.grade.value} for r in rows]
    if Source.AGRICULTURAL_OPERATOR in sources:
        rows = session.scalars(sa.select(AgriculturalOperator).where(AgriculturalOperator.uscc == uscc)
                               .order_by(AgriculturalOperator.recognized_on.desc()))
        out["agricultural_operators"] = [{"kind": r.kind.value, "level": r.level.value if r.level else None,
                                          "recognized_on": _day(r.recognized_on), "revoked_on": _day(r.revoked_on)}
                                         for r in rows]
    return out


SELF_REPORTS_SHOWN = 50


def self_reported(session: Session, uscc: str) -> dict:
    """What the enterprise says about itself: its standing credit commitments (信用承诺) and its voluntary
    reports (自愿填报). Never verified by the platform and never mixed with provider data: `verified` is
    always false so every channel can say so."""
    commitments = session.scalars(
        sa.select(CreditCommitment).where(CreditCommitment.uscc == uscc, CreditCommitment.withdrawn_at.is_(None))
        .order_by(CreditCommitment.made_at.desc(), CreditCommitment.id.desc()))
    reports = session.scalars(sa.select(SelfReport).where(SelfReport.uscc == uscc)
                              .order_by(SelfReport.reported_at.desc(), SelfReport.id.desc()).limit(SELF_REPORTS_SHOWN))
    return {
        "verified": False,
        "commitments": [{"text": c.text, "made_at": c.made_at.isoformat()} for c in commitments],
        "reports": [{"topic": r.topic, "period": r.period, "value": r.value, "reported_at": r.reported_at.isoformat()}
                    for r in reports],
    }
