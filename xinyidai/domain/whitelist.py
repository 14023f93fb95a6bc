"""A district's whitelist (DESIGN §4, 白名单): its threshold, who is on it, and the one "latest published
whitelist of a district" query that matching, the portals, the pipeline and the office figures read.

Membership: gates passed and grade at or above the district's threshold (WhitelistPolicy.min_grade,
DEFAULT_MIN_GRADE where the office has set none). "Latest published" is one total order: the newest
`published_at`, ties broken by the higher id (publishing supersedes the previous version, so normally
there is only one). The office's draft → confirm → publish workflow is `whitelist_workflow`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.enterprise import Enterprise
from models.scoring import (
    GRADE_SCALE,
    WhitelistEntry,
    WhitelistPolicy,
    WhitelistStatus,
    WhitelistVersion,
    grade_at_least,
)

DEFAULT_MIN_GRADE = "BBB"
PUBLISHED_NEWEST_FIRST = (WhitelistVersion.published_at.desc(), WhitelistVersion.id.desc())


def policy_of(session: Session, district_code: str) -> WhitelistPolicy | None:
    return session.get(WhitelistPolicy, district_code)


def latest_published_ids(districts=None):
    """(district_code, version_id) of each district's latest published whitelist (of `districts`, when given),
    as a subquery."""
    ranked = (sa.select(WhitelistVersion.district_code, WhitelistVersion.id.label("version_id"),
                        sa.func.row_number().over(partition_by=WhitelistVersion.district_code,
                                                  order_by=PUBLISHED_NEWEST_FIRST).label("n"))
              .where(WhitelistVersion.status == WhitelistStatus.PUBLISHED))
    if districts is not None:
        ranked = ranked.where(WhitelistVersion.district_code.in_(list(districts)))
    ranked = ranked.subquery()
    return sa.select(ranked.c.district_code, ranked.c.version_id).where(ranked.c.n == 1).subquery()


def latest_published(session: Session, district_code: str) -> WhitelistVersion | None:
    latest = latest_published_ids([district_code])
    return session.scalar(sa.select(WhitelistVersion).join(latest, latest.c.version_id == WhitelistVersion.id))


def published_versions(session: Session, districts) -> list[WhitelistVersion]:
    """The latest published version of each of `districts` that has one."""
    latest = latest_published_ids(districts)
    return list(session.scalars(sa.select(WhitelistVersion).join(latest, latest.c.version_id == WhitelistVersion.id)
                                .order_by(WhitelistVersion.district_code)))


def listed_expression(uscc, district_code) -> sa.Exists:
    """Whether the latest published whitelist of `district_code` lists `uscc` (values or outer columns)."""
    latest = latest_published_ids()
    return sa.exists().where(WhitelistEntry.whitelist_version_id == latest.c.version_id,
                             latest.c.district_code == district_code, WhitelistEntry.uscc == uscc)


def thresholds(session: Session) -> dict[str, str]:
    """The threshold grade of every district that has set one."""
    return dict(session.execute(sa.select(WhitelistPolicy.district_code, WhitelistPolicy.min_grade)).all())


def threshold(session: Session, district_code: str) -> str:
    return thresholds(session).get(district_code, DEFAULT_MIN_GRADE)


def whitelisted(session: Session, frame: pd.DataFrame) -> pd.Series:
    """For scored rows indexed by USCC (grade, gates_passed): would each enter its district's whitelist."""
    e = Enterprise.__table__
    query = sa.select(e.c.uscc, e.c.district_code)
    if len(frame) <= 500:
        query = query.where(e.c.uscc.in_(list(frame.index)))
    district_of = dict(session.execute(query).all())
    policies = thresholds(session)
    rank = {grade: i for i, grade in enumerate(GRADE_SCALE)}
    floor = np.array([rank[policies.get(district_of.get(u), DEFAULT_MIN_GRADE)] for u in frame.index])
    grade_rank = np.array([rank.get(g, len(GRADE_SCALE)) for g in frame.grade])
    return pd.Series(frame.gates_passed.to_numpy(dtype=bool) & (grade_rank <= floor), index=frame.index,
                     name="whitelisted")


def is_whitelisted(grade: str, gates_passed: bool, min_grade: str) -> bool:
    return bool(gates_passed) and grade_at_least(grade, min_grade)
