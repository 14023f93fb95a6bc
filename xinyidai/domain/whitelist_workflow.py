"""The district whitelist workflow (DESIGN §4, 白名单): threshold → draft of candidates → confirm → publish.

The office sets its district's threshold (WhitelistPolicy.min_grade). A draft lists every operating
enterprise of the district whose latest score under the active model passed the gates with a grade at the
threshold or better; it records the model version and threshold behind it. A confirmed draft names who
confirmed it; publishing makes it the version banks and matching read, and the version published before
it becomes `superseded`. Versions are never deleted.

Four eyes: before confirming, the office may include a firm the scores left out or exclude one they let
in, one firm at a time and always with a reason (WhitelistOverride, audited); and the person who
publishes a version must not be the one who confirmed it.

Scoring itself belongs to the ML service: this module only reads the `scores` table.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise, EnterpriseStatus
from models.lending import FinancingNeed, NeedStatus
from models.scoring import (
    GRADE_SCALE,
    ModelVersion,
    Score,
    WhitelistEntry,
    WhitelistOverride,
    WhitelistPolicy,
    WhitelistStatus,
    WhitelistVersion,
)
from xinyidai.audit import record
from xinyidai.domain import upstream
from xinyidai.domain.matching import rematch_enterprises
from xinyidai.domain.scope import OutOfScope, Scope
from xinyidai.domain.standing import latest_score_ids
from xinyidai.domain.whitelist import DEFAULT_MIN_GRADE, latest_published, policy_of

W = WhitelistStatus


class WorkflowError(Exception):
    """A step that does not fit the version's status or the data (HTTP 409). str() is Chinese."""

    def __init__(self, zh: str, en: str):
        super().__init__(zh)
        self.zh, self.en = zh, en


def set_threshold(session: Session, district_code: str, min_grade: str, user_id: int) -> WhitelistPolicy:
    if min_grade not in GRADE_SCALE:
        raise WorkflowError("门槛等级无效", "unknown grade")
    policy = policy_of(session, district_code)
    before = policy.min_grade if policy else None
    if policy is None:
        policy = WhitelistPolicy(district_code=district_code, min_grade=min_grade, updated_by_id=user_id)
        session.add(policy)
    else:
        policy.min_grade, policy.updated_by_id, policy.updated_at = min_grade, user_id, utcnow()
    record(session, "whitelist_threshold_set", actor_user_id=user_id,
           detail={"district_code": district_code, "from": before, "to": min_grade})
    session.flush()
    return policy


def active_model(session: Session) -> ModelVersion | None:
    return session.scalar(sa.select(ModelVersion).where(ModelVersion.is_active))


def build_draft(session: Session, district_code: str, user_id: int) -> WhitelistVersion:
    """A new draft from the latest scores at the district's threshold; WorkflowError without an active
    model or without scores."""
    model = active_model(session)
    if model is None:
        raise WorkflowError("尚无启用的评分模型，无法生成白名单", "no active scoring model: a whitelist cannot be drawn up")
    policy = policy_of(session, district_code)
    min_grade = policy.min_grade if policy else DEFAULT_MIN_GRADE
    newest = latest_score_ids(Score.model_version == model.version, Score.uscc.in_(
        sa.select(Enterprise.uscc).where(Enterprise.district_code == district_code,
                                         Enterprise.status == EnterpriseStatus.OPERATING)))
    if not session.scalar(sa.select(sa.func.count()).select_from(newest)):
        raise WorkflowError("本区企业尚未按当前模型评分", "no enterprise of the district has been scored by the active model")
    eligible = GRADE_SCALE[: GRADE_SCALE.index(min_grade) + 1]
    candidates = session.execute(
        sa.select(Score.id, Score.uscc, Score.grade).join(newest, newest.c.score_id == Score.id)
        .where(Score.gates_passed.is_(True), Score.grade.in_(eligible))).all()
    previous = latest_published(session, district_code)
    kept = set(session.scalars(sa.select(WhitelistEntry.uscc).where(
        WhitelistEntry.whitelist_version_id == previous.id))) if previous else set()
    version = WhitelistVersion(district_code=district_code, model_version=model.version, min_grade=min_grade,
                               status=W.DRAFT, created_at=utcnow())
    session.add(version)
    session.flush()
    if candidates:
        session.execute(sa.insert(WhitelistEntry), [
            {"whitelist_version_id": version.id, "uscc": uscc, "score_id": score_id, "grade": grade,
             "change": "kept" if uscc in kept else "added"} for score_id, uscc, grade in candidates])
    record(session, "whitelist_drafted", actor_user_id=user_id,
           detail={"district_code": district_code, "version_id": version.id, "model_version": model.version,
                   "min_grade": min_grade, "entries": len(candidates)})
    return version


def office_version(session: Session, scope: Scope, version_id: int, *, lock: bool = False) -> WhitelistVersion:
    """A version of a district inside the office's scope; OutOfScope (404) otherwise."""
    version = session.get(WhitelistVersion, version_id, with_for_update=lock)
    if version is None or version.district_code not in scope.districts:
        raise OutOfScope(version_id)
    return version


def confirm(session: Session, version: WhitelistVersion, user_id: int) -> WhitelistVersion:
    if version.status is not W.DRAFT:
        raise WorkflowError("只有草稿可以确认", "only a draft can be confirmed")
    version.status, version.confirmed_by_id, version.confirmed_at = W.CONFIRMED, user_id, utcnow()
    record(session, "whitelist_confirmed", actor_user_id=user_id,
           detail={"district_code": version.district_code, "version_id": version.id})
    session.flush()
    return version


def publish(session: Session, version: WhitelistVersion, user_id: int) -> WhitelistVersion:
    """Publish a confirmed version; the district's previously published one becomes superseded. The
    publisher must be another person than the one who confirmed it (four eyes)."""
    if version.status is not W.CONFIRMED:
        raise WorkflowError("请先确认名单，再发布", "confirm the list before publishing it")
    if version.confirmed_by_id == user_id:
        raise WorkflowError("确认人不能发布自己确认的名单：请由另一位工作人员核对后发布",
                            "the person who confirmed a list cannot publish it: another colleague checks and publishes it")
    now = utcnow()
    previous = session.scalars(sa.select(WhitelistVersion.id).where(
        WhitelistVersion.district_code == version.district_code, WhitelistVersion.status == W.PUBLISHED,
        WhitelistVersion.id != version.id)).all()
    session.execute(sa.update(WhitelistVersion).where(
        WhitelistVersion.district_code == version.district_code, WhitelistVersion.status == W.PUBLISHED,
        WhitelistVersion.id != version.id).values(status=W.SUPERSEDED))
    version.status, version.published_at = W.PUBLISHED, now
    record(session, "whitelist_published", actor_user_id=user_id,
           detail={"district_code": version.district_code, "version_id": version.id,
                   "model_version": version.model_version, "confirmed_by_id": version.confirmed_by_id})
    session.flush()
    upstream.whitelist_published(session, version, previous)
    _rematch_listing_changes(session, version, previous)
    return version


OVERRIDE_ACTIONS = ("include", "exclude")
REASON_MAX = 500


def override(session: Session, version: WhitelistVersion, uscc: str, action: str, reason: str,
             user_id: int) -> WhitelistOverride:
    """Include a firm of the district the scores left out, or exclude one they let in, on a draft, with a
    reason. An included firm needs a score under the version's model (its latest one is entered)."""
    reason = (reason or "").strip()
    if version.status is not W.DRAFT:
        raise WorkflowError("只有草稿可以调整名单", "only a draft can be adjusted")
    if action not in OVERRIDE_ACTIONS:
        raise WorkflowError("请选择纳入或移出", "choose include or exclude")
    if not reason or len(reason) > REASON_MAX:
        raise WorkflowError("请填写理由（不超过 500 字）", "give a reason (500 characters at most)")
    entry = session.get(WhitelistEntry, (version.id, uscc))
    if action == "exclude":
        if entry is None:
            raise WorkflowError("该企业不在本版名单中", "that enterprise is not on this version of the list")
        session.delete(entry)
    else:
        if entry is not None:
            raise WorkflowError("该企业已在本版名单中", "that enterprise is already on this version of the list")
        enterprise = session.get(Enterprise, uscc)
        if enterprise is None or enterprise.district_code != version.district_code:
            raise WorkflowError("本区没有这家企业", "no such enterprise in this district")
        newest = latest_score_ids(Score.model_version == version.model_version, Score.uscc == uscc)
        score = session.scalar(sa.select(Score).join(newest, newest.c.score_id == Score.id))
        if score is None:
            raise WorkflowError("该企业尚未按本版模型评分，不能纳入", "that enterprise has no score under this version's model")
        session.add(WhitelistEntry(whitelist_version_id=version.id, uscc=uscc, score_id=score.id, grade=score.grade,
                                   change="included"))
    decision = session.get(WhitelistOverride, (version.id, uscc))
    if decision is not None:  # excluding a firm one included (or the reverse) undoes it: one record, the latest
        session.delete(decision)
        session.flush()
    decision = WhitelistOverride(whitelist_version_id=version.id, uscc=uscc, action=action, reason=reason,
                                 decided_by_id=user_id, decided_at=utcnow())
    session.add(decision)
    record(session, "whitelist_override", actor_user_id=user_id,
           detail={"district_code": version.district_code, "version_id": version.id, "uscc": uscc,
                   "action": action, "reason": reason})
    session.flush()
    return decision


def overrides(session: Session, version: WhitelistVersion) -> list[tuple[WhitelistOverride, str]]:
    """The version's per-firm decisions with each firm's name, latest first."""
    return [tuple(row) for row in session.execute(
        sa.select(WhitelistOverride, Enterprise.name).join(Enterprise, Enterprise.uscc == WhitelistOverride.uscc)
        .where(WhitelistOverride.whitelist_version_id == version.id)
        .order_by(WhitelistOverride.decided_at.desc()))]


def published_list(session: Session, version: WhitelistVersion) -> list[tuple[str, str, str]]:
    """(USCC, name, grade) of every firm of a published (or once published) version, for its download."""
    if version.published_at is None:
        raise WorkflowError("只有已发布的名单可以下载", "only a published list can be downloaded")
    return [tuple(row) for row in session.execute(
        sa.select(WhitelistEntry.uscc, Enterprise.name, WhitelistEntry.grade)
        .join(Enterprise, Enterprise.uscc == WhitelistEntry.uscc)
        .where(WhitelistEntry.whitelist_version_id == version.id).order_by(WhitelistEntry.uscc))]


def _rematch_listing_changes(session: Session, version: WhitelistVersion, previous: list[int]) -> None:
    """Whitelist-only products may now take, or must lose, the open needs of enterprises that joined or left."""
    waiting = set(session.scalars(sa.select(FinancingNeed.uscc).join(Enterprise).where(
        FinancingNeed.status == NeedStatus.OPEN, Enterprise.district_code == version.district_code)))
    if not waiting:
        return

    def members(version_ids: list[int]) -> set[str]:
        return set(session.scalars(sa.select(WhitelistEntry.uscc).where(
            WhitelistEntry.whitelist_version_id.in_(version_ids)))) & waiting

    rematch_enterprises(session, members([version.id]) ^ members(previous))


def versions(session: Session, district_code: str) -> list[tuple[WhitelistVersion, int]]:
    """Every version of the district, newest first, with its number of entries."""
    counts = (sa.select(WhitelistEntry.whitelist_version_id, sa.func.count().label("entries"))
              .group_by(WhitelistEntry.whitelist_version_id).subquery())
    rows = session.execute(
        sa.select(WhitelistVersion, sa.func.coalesce(counts.c.entries, 0))
        .outerjoin(counts, counts.c.whitelist_version_id == WhitelistVersion.id)
        .where(WhitelistVersion.district_code == district_code)
        .order_by(WhitelistVersion.id.desc())).all()
    return [(version, int(entries)) for version, entries in rows]


@dataclass(frozen=True)
class Candidate:
    uscc: str
    name: str
    industry_section: str
    size_class: str
    grade: str
    points: int
    pd_12m: float
    change: str
    reasons: list


def candidates(session: Session, version: WhitelistVersion, *, page: int = 1, per_page: int = 50,
               grade: str | None = None) -> tuple[list[Candidate], int]:
    """The version's entries with score and reasons, best grade first; and the total count."""
    query = (sa.select(WhitelistEntry, Enterprise.name, Enterprise.industry_section, Enterprise.size_class, Score)
             .join(Enterprise, Enterprise.uscc == WhitelistEntry.uscc)
             .join(Score, Score.id == WhitelistEntry.score_id)
             .where(WhitelistEntry.whitelist_version_id == version.id))
    if grade in GRADE_SCALE:
        query = query.where(WhitelistEntry.grade == grade)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = session.execute(query.order_by(Score.points.desc(), WhitelistEntry.uscc)
                           .offset((max(page, 1) - 1) * per_page).limit(per_page)).all()
    return [Candidate(entry.uscc, name, section, getattr(size, "value", size), entry.grade, score.points,
                      score.pd_12m, entry.change, list(score.reasons))
            for entry, name, section, size, score in rows], int(total or 0)


def removed_since_previous(session: Session, version: WhitelistVersion) -> int:
    """Enterprises on the district's published list that this version would drop."""
    previous = latest_published(session, version.district_code)
    if previous is None or previous.id == version.id:
        return 0
    mine = sa.select(WhitelistEntry.uscc).where(WhitelistEntry.whitelist_version_id == version.id)
    return int(session.scalar(sa.select(sa.func.count()).select_from(WhitelistEntry).where(
        WhitelistEntry.whitelist_version_id == previous.id, WhitelistEntry.uscc.not_in(mine))) or 0)


def draft_all(session: Session, *, user_id: int | None = None) -> list[WhitelistVersion]:
    """A draft whitelist for every district with operating enterprises scored by the active model."""
    districts = session.scalars(sa.select(Enterprise.district_code).where(
        Enterprise.status == EnterpriseStatus.OPERATING).distinct().order_by(Enterprise.district_code)).all()
    drafts = []
    for code in districts:
        try:
            drafts.append(build_draft(session, code, user_id))
        except WorkflowError:
            continue  # nobody of that district scored yet
    return drafts
