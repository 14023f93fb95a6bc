"""Who is on a district's whitelist: gates passed and grade at or above the district's threshold
(WhitelistPolicy.min_grade, DEFAULT_MIN_GRADE where the office has set none).

Drafts are the office workflow's (`xinyidai.domain.whitelist_workflow.build_draft`: entries added / kept against
the published list, with the model version and threshold behind them); this module decides membership
for freshly computed scores and draws a draft for every district after a batch run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.enterprise import Enterprise, EnterpriseStatus
from models.scoring import GRADE_SCALE, WhitelistPolicy, WhitelistVersion, grade_at_least
from xinyidai.domain.whitelist_workflow import DEFAULT_MIN_GRADE, WorkflowError, build_draft


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
