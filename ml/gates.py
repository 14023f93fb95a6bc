"""The whitelist gates (DESIGN §4): named rules that keep an enterprise off the whitelist whatever its
score, each with repair advice — and the lenient treatment (宽容审慎) of minor, old and force-majeure
records, which never close a gate.

A 失信被执行人 or 严重违法失信名单 record closes the gate while it is unrepaired, unless it was decided
under force majeure, is of minor severity, or is older than the period such a record is disclosed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml.features import IN_LIST_LIMIT, rating_year_visible
from models.enterprise import Enterprise, EnterpriseStatus
from models.sources import PublicCreditEvent, PublicCreditKind, Severity, TaxRating


@dataclass(frozen=True)
class Gate:
    zh: str
    en: str
    advice_zh: str
    advice_en: str


GATES = {
    "dishonest_debtor": Gate(
        "存在未修复的失信被执行人记录", "listed as a dishonest judgment debtor (not repaired)",
        "履行生效法律文书确定的义务后，向执行法院申请删除失信信息，再通过“信用中国（上海）”申请信用修复。",
        "Fulfil the obligation set by the court's judgment, ask the enforcing court to remove the listing, then "
        "apply for credit repair through Credit China (Shanghai)."),
    "serious_violation": Gate(
        "列入严重违法失信名单且未修复", "on the list of serious violations (not repaired)",
        "纠正违法行为、履行行政处罚决定并作出信用承诺后，向作出认定的部门申请移出名单和信用修复。",
        "Correct the violation, carry out the penalty decision and make a credit commitment, then ask the "
        "deciding authority to remove the listing and repair the record."),
    "not_operating": Gate(
        "登记状态不是存续", "registration status is not operating",
        "吊销或注销的企业不能列入白名单；如登记状态有误，请向市场监管部门申请更正。",
        "A revoked or deregistered enterprise cannot be whitelisted; if the registry is wrong, ask the market "
        "regulator to correct it."),
    "tax_rating_d": Gate(
        "纳税信用等级为D级", "tax credit rating D",
        "补缴税款、滞纳金和罚款并纠正失信行为后，向主管税务机关申请纳税信用修复。",
        "Pay the tax, late fees and fines owed and correct the conduct, then apply to the tax office for "
        "tax-credit repair."),
}
GATE_KINDS = {PublicCreditKind.DISHONEST_DEBTOR.value: "dishonest_debtor",
              PublicCreditKind.SERIOUS_VIOLATION.value: "serious_violation"}
# How long a gating record is held against an enterprise (its disclosure period), in years.
GATE_MEMORY_YEARS = {PublicCreditKind.DISHONEST_DEBTOR.value: 5, PublicCreditKind.SERIOUS_VIOLATION.value: 3}
LENIENT = {
    "force_majeure": ("不可抗力（如疫情封控）期间的记录，不作为否决项", "decided under force majeure: not held against"),
    "minor": ("轻微违法记录，不作为否决项", "minor record: not held against"),
    "old": ("已超过公示期的记录，不作为否决项", "past its disclosure period: not held against"),
}


def _within(query, column, usccs: list[str] | None):
    return query.where(column.in_(usccs)) if usccs is not None else query


def _iso(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)[:10]


def evaluate_gates(session: Session, usccs, as_of: date, *, tax_rating: pd.Series | None = None) -> pd.DataFrame:
    """gates_passed, failed_gates ([{"gate": …, …}]) and lenient ([{"record_id": …, "why": …}]) per USCC."""
    index = pd.Index(usccs, name="uscc")
    subset = list(index) if len(index) <= IN_LIST_LIMIT else None
    failed: dict[str, list[dict]] = {}
    lenient: dict[str, list[dict]] = {}

    e = Enterprise.__table__
    status = session.execute(_within(sa.select(e.c.uscc, sa.type_coerce(e.c.status, sa.String))
                                     .where(e.c.status != EnterpriseStatus.OPERATING.value), e.c.uscc, subset)).all()
    for uscc, value in status:
        failed.setdefault(uscc, []).append({"gate": "not_operating", "status": value})

    if tax_rating is not None:
        rated_d = list(tax_rating.index[tax_rating.to_numpy() == 4])
        if rated_d:
            year = rating_year_visible(as_of)
            query = sa.select(TaxRating.uscc, sa.func.max(TaxRating.year)).where(TaxRating.year <= year)
            query = _within(query, TaxRating.uscc, rated_d if len(rated_d) <= IN_LIST_LIMIT else None)
            years = dict(session.execute(query.group_by(TaxRating.uscc)).all())
            for uscc in rated_d:
                failed.setdefault(uscc, []).append({"gate": "tax_rating_d", "year": years.get(uscc)})

    t = PublicCreditEvent.__table__
    considered = (t.c.kind.in_(list(GATE_KINDS))) | t.c.force_majeure | (t.c.severity == Severity.MINOR.value)
    events = session.execute(_within(
        sa.select(t.c.uscc, t.c.record_id, sa.type_coerce(t.c.kind, sa.String), sa.type_coerce(t.c.severity, sa.String),
                  sa.type_coerce(t.c.decided_on, sa.String), t.c.force_majeure)
        .where(t.c.decided_on < as_of, considered, sa.or_(t.c.repaired_on.is_(None), t.c.repaired_on >= as_of)),
        t.c.uscc, subset)).all()
    for uscc, record_id, kind, severity, decided_on, force_majeure in events:
        decided = date.fromisoformat(str(decided_on)[:10])
        why = None
        if force_majeure:
            why = "force_majeure"
        elif severity == Severity.MINOR.value:
            why = "minor"
        elif kind in GATE_MEMORY_YEARS and decided < _years_before(as_of, GATE_MEMORY_YEARS[kind]):
            why = "old"
        if why:
            lenient.setdefault(uscc, []).append({"record_id": record_id, "kind": kind, "decided_on": decided.isoformat(),
                                                 "why": why, "zh": LENIENT[why][0], "en": LENIENT[why][1]})
        elif kind in GATE_KINDS:
            failed.setdefault(uscc, []).append({"gate": GATE_KINDS[kind], "record_id": record_id,
                                                "decided_on": decided.isoformat()})

    out = pd.DataFrame(index=index)
    out["failed_gates"] = [failed.get(u, []) for u in index]
    out["gates_passed"] = [not failed.get(u) for u in index]
    out["lenient"] = [lenient.get(u, []) for u in index]
    return out


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
