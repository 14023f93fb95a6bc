"""Credit repair (信用修复), DESIGN §12: what repair takes for each public-credit record, the enterprise's
application with its evidence, the deciding authority's outcome as the district office records it, and what
follows when a record becomes repaired.

The national tiers (《失信行为纠正后的信用信息修复管理办法（试行）》): a minor administrative penalty may be
withheld from publication; a general one is published for 3 months to 1 year, a serious one (and the list of
serious violations) for 1 to 3 years; repair is possible after the shortest period, once the obligation is
fulfilled and the credit commitment letter signed, by applying to the authority that decided it (谁认定、谁修复)
through 信用中国. The provider's public-credit delivery is the source of truth: its `repaired_on` closes an open
case by itself, and a delivery that shows a record unrepaired reopens a case the office had closed.

When a record becomes repaired the enterprise is re-scored at once (gates reopen), its open needs are re-matched,
the lending banks' open alerts about the record say it was repaired, and the enterprise is notified (the closed
case is its notice until someone of the enterprise opens the repair page).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import SHANGHAI, utcnow
from models.credit import RepairCase, RepairState
from models.enterprise import Enterprise
from models.identity import User
from models.sources import PublicCreditEvent, PublicCreditKind, Severity, Source
from xinyidai.audit import record
from xinyidai.domain.working_days import add_working_days

log = logging.getLogger(__name__)
K, V = PublicCreditKind, Severity
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024  # XYD_REPAIR_EVIDENCE_MAX_BYTES
# The authority accepts within 2 working days and decides within 5 more: the office is asked to have recorded an
# outcome by then.
DECISION_WORKING_DAYS = 7
# What an evidence file must start with: its type is read from its bytes, never from its name or declared type.
EVIDENCE_TYPES = {"pdf": b"%PDF-", "png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff"}


class RepairRefused(Exception):
    """A rule says no; zh / en say why. `conflict`: the case's state forbids it (not the input)."""

    def __init__(self, zh: str, en: str, *, conflict: bool = False):
        super().__init__(en)
        self.zh, self.en, self.conflict = zh, en, conflict


class RecordNotFound(LookupError):
    """Not a record (or case) of this enterprise / this office's districts."""


# ---------------------------------------------------------------- what repair takes

@dataclass(frozen=True)
class Tier:
    zh: str
    en: str
    min_months: int  # repair may be applied for this long after the decision
    max_months: int | None  # publication ends by itself after this long (None: until removed)


TIERS = {
    (K.ADMINISTRATIVE_PENALTY, V.MINOR): Tier("轻微：可不予公示；已公示的最长 3 个月", "minor: may be withheld; published 3 months at most", 0, 3),
    (K.ADMINISTRATIVE_PENALTY, V.GENERAL): Tier("一般：公示 3 个月至 1 年", "general: published 3 months to 1 year", 3, 12),
    (K.ADMINISTRATIVE_PENALTY, V.SERIOUS): Tier("严重：公示 1 至 3 年", "serious: published 1 to 3 years", 12, 36),
    K.SERIOUS_VIOLATION: Tier("严重失信主体名单：公示 1 至 3 年", "serious violations list: published 1 to 3 years", 12, 36),
    K.DISHONEST_DEBTOR: Tier("失信被执行人：履行义务后由法院删除", "dishonest judgment debtor: removed by the court once the "
                             "obligation is fulfilled", 0, None),
    K.ABNORMAL_OPERATION: Tier("经营异常名录：纠正后申请移出", "abnormal operations list: removed on request once corrected", 0, None),
}
AUTHORITY = {
    K.ADMINISTRATIVE_PENALTY: ("作出处罚决定的行政机关", "the authority that imposed the penalty"),
    K.SERIOUS_VIOLATION: ("作出认定的部门", "the authority that listed the enterprise"),
    K.DISHONEST_DEBTOR: ("执行法院", "the enforcing court"),
    K.ABNORMAL_OPERATION: ("市场监管部门", "the market regulator"),
}
COMMITMENT = ("签署《信用修复承诺书》，承诺所提交材料真实并依法守信经营。",
              "Sign the credit repair commitment letter: the materials are true and the enterprise will "
              "keep to the law.")
APPLY = ("最短公示期满后，通过“信用中国（上海）”网站向%s提出信用修复申请并上传证明材料（谁认定、谁修复）。",
         "Once the shortest publication period has passed, apply to %s for credit repair through Credit China (Shanghai), "
         "with the evidence (the deciding authority repairs).")
STEPS = {
    K.ADMINISTRATIVE_PENALTY: [("履行行政处罚决定：缴清罚款、完成责令改正事项，取得缴款凭证或整改证明。",
                                "Carry out the penalty decision: pay the fine and complete the ordered correction; keep "
                                "the receipt or the proof of correction.")],
    K.SERIOUS_VIOLATION: [("纠正失信行为、履行相关义务、消除不良影响。",
                           "Correct the conduct, fulfil the obligations and remove its effects.")],
    K.DISHONEST_DEBTOR: [("履行生效法律文书确定的义务（或与申请执行人达成和解并履行），取得法院出具的履行证明。",
                          "Fulfil the obligation in the judgment (or settle with the creditor and perform it); obtain the "
                          "court's confirmation."),
                         ("向执行法院申请删除失信被执行人信息；法院删除后，信用中国同步停止公示。",
                          "Ask the enforcing court to delete the listing; Credit China stops publishing it once deleted.")],
    K.ABNORMAL_OPERATION: [("纠正列入原因：补报年度报告、更正登记住所或公示信息。",
                            "Correct the cause: file the missing annual report, correct the registered address or the "
                            "published information."),
                           ("向市场监管部门申请移出经营异常名录。", "Ask the market regulator to remove the listing.")],
}


def tier_of(event: PublicCreditEvent) -> Tier:
    return TIERS.get((event.kind, event.severity)) or TIERS[event.kind]


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@dataclass(frozen=True)
class RepairPath:
    event: PublicCreditEvent
    tier: Tier
    earliest_on: date  # repair may be applied for from this date
    publication_ends_on: date | None
    authority: tuple[str, str]
    steps: list[tuple[str, str]]
    case: RepairCase | None  # the open case, else the latest one
    can_apply: bool

    def words(self, locale: str) -> dict:
        i = 1 if locale == "en" else 0
        return {"tier": (self.tier.zh, self.tier.en)[i], "authority": self.authority[i],
                "steps": [step[i] for step in self.steps]}


def path_for(event: PublicCreditEvent, case: RepairCase | None, today: date) -> RepairPath:
    tier = tier_of(event)
    authority = AUTHORITY[event.kind]
    steps = list(STEPS[event.kind])
    if event.kind is not K.DISHONEST_DEBTOR:
        steps.append(COMMITMENT)
        steps.append((APPLY[0] % authority[0], APPLY[1] % authority[1]))
    else:
        steps.insert(1, COMMITMENT)
    earliest = add_months(event.decided_on, tier.min_months)
    ends = add_months(event.decided_on, tier.max_months) if tier.max_months else None
    open_case = case is not None and case.state is RepairState.APPLIED
    return RepairPath(event, tier, earliest, ends, authority, steps, case,
                      can_apply=event.repaired_on is None and not open_case)


def repair_paths(session: Session, uscc: str, today: date) -> list[RepairPath]:
    """Every unrepaired record of the enterprise, newest first, with what repair takes and its case."""
    events = session.scalars(sa.select(PublicCreditEvent).where(PublicCreditEvent.uscc == uscc,
                                                                PublicCreditEvent.repaired_on.is_(None))
                             .order_by(PublicCreditEvent.decided_on.desc(), PublicCreditEvent.record_id)).all()
    latest = _latest_cases(session, [e.record_id for e in events])
    return [path_for(e, latest.get(e.record_id), today) for e in events]


def _latest_cases(session: Session, record_ids: list[str]) -> dict[str, RepairCase]:
    if not record_ids:
        return {}
    cases = session.scalars(sa.select(RepairCase).where(RepairCase.record_id.in_(record_ids))
                            .order_by(RepairCase.applied_at, RepairCase.id)).all()
    latest: dict[str, RepairCase] = {}
    for case in cases:  # the open one wins; else the newest
        if latest.get(case.record_id) is None or latest[case.record_id].state is not RepairState.APPLIED:
            latest[case.record_id] = case
    return latest


def cases_of(session: Session, uscc: str) -> list[tuple[RepairCase, PublicCreditEvent]]:
    return list(session.execute(sa.select(RepairCase, PublicCreditEvent)
                                .join(PublicCreditEvent, PublicCreditEvent.record_id == RepairCase.record_id)
                                .where(RepairCase.uscc == uscc)
                                .order_by(RepairCase.applied_at.desc(), RepairCase.id.desc())).all())


# ---------------------------------------------------------------- the enterprise applies

@dataclass(frozen=True)
class Evidence:
    filename: str
    content: bytes

    @classmethod
    def from_upload(cls, upload, limit: int = MAX_EVIDENCE_BYTES * 4) -> Evidence:
        return cls(Path(upload.filename or "evidence").name[:200], upload.read(limit + 1))

    def kind(self) -> str | None:
        return next((kind for kind, magic in EVIDENCE_TYPES.items() if self.content.startswith(magic)), None)


def evidence_dir(instance_path: str | Path) -> Path:
    return Path(instance_path) / "repair_evidence"


def evidence_path(folder: Path, case: RepairCase) -> Path:
    return folder / str(case.id) / f"{case.evidence_sha256}.{case.evidence_type}"


def own_record(session: Session, user: User, record_id: str) -> PublicCreditEvent:
    """The enterprise's own record; another enterprise's looks exactly like a missing one (RecordNotFound)."""
    event = session.get(PublicCreditEvent, record_id)
    if event is None or event.uscc != user.enterprise_uscc:
        raise RecordNotFound(record_id)
    return event


def apply_for_repair(session: Session, user: User, record_id: str, *, applied_on: date, commitment_signed: bool,
                     evidence: Evidence | None, today: date, evidence_dir: Path,
                     max_bytes: int = MAX_EVIDENCE_BYTES) -> RepairCase:
    """Record that the enterprise applied to the deciding authority. RecordNotFound for another enterprise's
    record; RepairRefused (zh / en) when a rule is broken. The evidence file is kept under the instance folder."""
    event = own_record(session, user, record_id)
    if event.repaired_on is not None:
        raise RepairRefused("该记录已修复，无需再申请。", "this record is repaired already")
    if session.scalar(sa.select(RepairCase.id).where(RepairCase.record_id == record_id,
                                                     RepairCase.state == RepairState.APPLIED)) is not None:
        raise RepairRefused("该记录已有办理中的修复申请。", "a repair application for this record is in progress")
    if applied_on > today:
        raise RepairRefused("申请日期不能晚于今天。", "the application date cannot be in the future")
    if applied_on < event.decided_on:
        raise RepairRefused("申请日期不能早于决定日期。", "the application date cannot be before the decision")
    if not commitment_signed:
        raise RepairRefused("请先签署《信用修复承诺书》。", "sign the credit repair commitment letter first")
    if evidence is None or not evidence.content:
        raise RepairRefused("请上传证明材料（PDF 或图片）。", "attach the evidence (a PDF or an image)")
    if len(evidence.content) > max_bytes:
        raise RepairRefused(f"证明材料不能超过 {max_bytes // (1024 * 1024)} MB。",
                            f"the evidence may be {max_bytes // (1024 * 1024)} MB at most")
    kind = evidence.kind()
    if kind is None:
        raise RepairRefused("证明材料须为 PDF、PNG 或 JPEG 文件。", "the evidence must be a PDF, PNG or JPEG file")
    enterprise = session.get(Enterprise, event.uscc)
    applied_moment = datetime.combine(applied_on, time(9), tzinfo=SHANGHAI)
    case = RepairCase(record_id=record_id, uscc=event.uscc, district_code=enterprise.district_code,
                      state=RepairState.APPLIED, applied_on=applied_on, applied_by_id=user.id,
                      commitment_signed=True, evidence_name=evidence.filename, evidence_type=kind,
                      evidence_bytes=len(evidence.content),
                      evidence_sha256=hashlib.sha256(evidence.content).hexdigest(),
                      due_on=add_working_days(applied_moment, DECISION_WORKING_DAYS).date())
    session.add(case)
    session.flush()
    path = evidence_path(evidence_dir, case)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(evidence.content)
    record(session, "credit_repair_applied", actor_user_id=user.id, subject_uscc=event.uscc,
           detail={"case_id": case.id, "record_id": record_id, "applied_on": applied_on.isoformat(),
                   "evidence_type": kind, "evidence_bytes": len(evidence.content),
                   "evidence_sha256": case.evidence_sha256, "due_on": case.due_on.isoformat()})
    return case


def unseen_outcomes(session: Session, uscc: str) -> int:
    """Closed cases the enterprise has not been shown yet (its repair notifications)."""
    return session.scalar(sa.select(sa.func.count()).select_from(RepairCase).where(
        RepairCase.uscc == uscc, RepairCase.state != RepairState.APPLIED, RepairCase.outcome_seen_at.is_(None))) or 0


def recent_outcomes(session: Session, uscc: str, limit: int = 20) -> list[tuple[RepairCase, PublicCreditEvent]]:
    return list(session.execute(sa.select(RepairCase, PublicCreditEvent)
                                .join(PublicCreditEvent, PublicCreditEvent.record_id == RepairCase.record_id)
                                .where(RepairCase.uscc == uscc, RepairCase.state != RepairState.APPLIED)
                                .order_by(RepairCase.closed_at.desc(), RepairCase.id.desc()).limit(limit)).all())


def mark_outcomes_seen(session: Session, uscc: str, now: datetime | None = None) -> int:
    result = session.execute(sa.update(RepairCase).where(
        RepairCase.uscc == uscc, RepairCase.state != RepairState.APPLIED, RepairCase.outcome_seen_at.is_(None))
        .values(outcome_seen_at=now or utcnow()).execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


# ---------------------------------------------------------------- the office records the outcome

def office_cases(session: Session, districts, *, state: str | None = "applied", limit: int = 200) -> list[tuple]:
    """(case, record, enterprise name) of the office's districts, the oldest open applications first."""
    query = (sa.select(RepairCase, PublicCreditEvent, Enterprise.name)
             .join(PublicCreditEvent, PublicCreditEvent.record_id == RepairCase.record_id)
             .join(Enterprise, Enterprise.uscc == RepairCase.uscc)
             .where(RepairCase.district_code.in_(list(districts)), RepairCase.applied_on.is_not(None)))
    if state in {s.value for s in RepairState}:
        query = query.where(RepairCase.state == RepairState(state))
    return list(session.execute(query.order_by(RepairCase.due_on, RepairCase.id).limit(limit)).all())


def office_case(session: Session, districts, case_id: int, *, lock: bool = False) -> RepairCase:
    query = sa.select(RepairCase).where(RepairCase.id == case_id)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None or case.district_code not in districts:
        raise RecordNotFound(case_id)
    return case


REPAIRED, REJECTED = "repaired", "rejected"


def record_outcome(session: Session, case: RepairCase, outcome: str, *, decided_on: date, note: str | None,
                   user_id: int, today: date, instance_path: str | Path) -> RepairCase:
    """The office records what the deciding authority decided. A repair marks the record repaired on that date
    (until the provider's next delivery, which is the source of truth) and everything follows at once."""
    if case.state is not RepairState.APPLIED:
        raise RepairRefused("该申请已办结。", "this application is closed already", conflict=True)
    if outcome not in (REPAIRED, REJECTED):
        raise RepairRefused("请选择认定单位的决定。", "choose the authority's decision")
    if decided_on > today or (case.applied_on and decided_on < case.applied_on):
        raise RepairRefused("决定日期须在申请日期和今天之间。", "the decision date must lie between the application and today")
    note = (note or "").strip()[:500] or None
    if outcome == REJECTED and not note:
        raise RepairRefused("不予修复时请注明理由。", "say why the repair was refused")
    _close(case, RepairState.REPAIRED if outcome == REPAIRED else RepairState.REJECTED, "office", decided_on,
           user_id=user_id, note=note)
    record(session, "credit_repair_decided", actor_user_id=user_id, subject_uscc=case.uscc,
           detail={"case_id": case.id, "record_id": case.record_id, "outcome": outcome,
                   "decided_on": decided_on.isoformat(), "note": note})
    if outcome == REPAIRED:
        event = session.get(PublicCreditEvent, case.record_id)
        event.repaired_on = decided_on
        session.flush()
        after_repair(session, {case.record_id: decided_on}, instance_path)
    return case


def _close(case: RepairCase, state: RepairState, via: str, decided_on: date | None, *, user_id: int | None = None,
           note: str | None = None) -> None:
    case.state, case.closed_via, case.decided_on, case.closed_at = state, via, decided_on, utcnow()
    case.decided_by_id, case.decision_note, case.outcome_seen_at = user_id, note, None


# ---------------------------------------------------------------- what follows a repair

def after_repair(session: Session, repaired: dict[str, date], instance_path: str | Path) -> dict[str, dict | None]:
    """Re-score each enterprise at once (as of a day that sees the repair), re-run its matches, mark the lending
    banks' open alerts about the records repaired. Returns the new score of each enterprise (None: no model)."""
    from ml.features import data_end_as_of
    from ml.registry import ModelUnavailable
    from xinyidai.domain.alerts import mark_records_repaired
    from xinyidai.domain.matching import rematch_enterprises
    from xinyidai.domain.scoring import rescore

    if not repaired:
        return {}
    events = session.scalars(sa.select(PublicCreditEvent).where(PublicCreditEvent.record_id.in_(list(repaired)))).all()
    by_enterprise: dict[str, date] = {}
    for event in events:
        by_enterprise[event.uscc] = max(by_enterprise.get(event.uscc, date.min), event.repaired_on or date.min)
    mark_records_repaired(session, {e.record_id: e.repaired_on for e in events if e.repaired_on}, by_enterprise)
    session.flush()
    data_end = data_end_as_of(session)
    scores: dict[str, dict | None] = {}
    for uscc, last_repair in sorted(by_enterprise.items()):
        try:  # rescore re-matches the enterprise's needs when its grade moved, and commits
            scores[uscc] = rescore(session, instance_path, uscc, as_of=max(data_end, last_repair + timedelta(days=1)))
        except (ModelUnavailable, KeyError):
            log.warning("credit repair of %s: not re-scored (no active model or not in the registry)", uscc)
            scores[uscc] = None
    rematch_enterprises(session, list(by_enterprise))  # gates reopened: every open need is offered again
    record(session, "credit_repair_followed", actor_label="credit repair",
           detail={"records": sorted(repaired), "enterprises": sorted(by_enterprise),
                   "rescored": sorted(u for u, s in scores.items() if s is not None)})
    session.flush()
    return scores


def before_public_credit_delivery(session: Session):
    """Delivery hook: remember which records are unrepaired and which cases the office closed as repaired, then
    follow what the committed delivery says (xinyidai.ingest.loader.on_delivery)."""
    unrepaired = set(session.scalars(sa.select(PublicCreditEvent.record_id).where(PublicCreditEvent.repaired_on.is_(None))))

    def follow(session: Session, delivery_id: int) -> None:
        from flask import current_app

        follow_delivery(session, delivery_id, unrepaired, current_app.config["XYD_INSTANCE_PATH"])
        session.commit()

    return follow


def follow_delivery(session: Session, delivery_id: int, unrepaired_before: set[str], instance_path) -> dict:
    """The delivery is the source of truth: records it shows newly repaired close their open case (or get a closed
    case as the enterprise's notice) and everything follows; a case the office closed as repaired whose record the
    delivery shows unrepaired is opened again and the enterprise re-scored."""
    rows = session.execute(sa.select(PublicCreditEvent.record_id, PublicCreditEvent.uscc, PublicCreditEvent.repaired_on)
                           .where(PublicCreditEvent.delivery_id == delivery_id)).all()
    newly = {r.record_id: r.repaired_on for r in rows if r.repaired_on is not None and r.record_id in unrepaired_before}
    undone = [r for r in rows if r.repaired_on is None]
    open_cases = {c.record_id: c for c in session.scalars(sa.select(RepairCase).where(
        RepairCase.record_id.in_(list(newly)), RepairCase.state == RepairState.APPLIED))} if newly else {}
    districts = dict(session.execute(sa.select(Enterprise.uscc, Enterprise.district_code).where(
        Enterprise.uscc.in_({r.uscc for r in rows if r.record_id in newly}))).all()) if newly else {}
    for row in rows:
        if row.record_id not in newly:
            continue
        case = open_cases.get(row.record_id)
        if case is None:
            case = RepairCase(record_id=row.record_id, uscc=row.uscc, district_code=districts[row.uscc])
            session.add(case)
        _close(case, RepairState.REPAIRED, "delivery", row.repaired_on)
    reopened = []
    if undone:
        for case in session.scalars(sa.select(RepairCase).where(
                RepairCase.record_id.in_([r.record_id for r in undone]), RepairCase.state == RepairState.REPAIRED,
                RepairCase.closed_via == "office")):
            if session.scalar(sa.select(sa.func.count()).select_from(RepairCase).where(
                    RepairCase.record_id == case.record_id, RepairCase.state == RepairState.APPLIED)):
                continue
            case.state, case.closed_via, case.closed_at, case.decided_on = RepairState.APPLIED, None, None, None
            case.decision_note = "公共信用数据显示该记录未修复（provider data shows the record unrepaired）"
            reopened.append(case)
    session.flush()
    record(session, "credit_repair_delivery", actor_label=f"delivery {delivery_id}",
           detail={"delivery_id": delivery_id, "repaired": sorted(newly), "reopened": [c.id for c in reopened]})
    scores = after_repair(session, newly, instance_path) if newly else {}
    if reopened:
        from ml.registry import ModelUnavailable
        from xinyidai.domain.scoring import rescore

        for uscc in sorted({c.uscc for c in reopened}):
            try:
                rescore(session, instance_path, uscc)
            except (ModelUnavailable, KeyError):
                log.warning("credit repair undone for %s: not re-scored", uscc)
    return {"repaired": sorted(newly), "reopened": [c.id for c in reopened], "scores": scores}


def init_app(app) -> None:
    from xinyidai.ingest.loader import on_delivery

    on_delivery(Source.PUBLIC_CREDIT.value, before_public_credit_delivery)
