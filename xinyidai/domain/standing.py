"""An enterprise's standing (DESIGN §4, §5): its latest score, and whether the latest published whitelist of
its district lists it.

"Latest" is one total order everywhere: the newest `scored_at`, ties broken by the higher `id` (the scores
of one batch run share a timestamp, and a rescore in the same instant must not leave two pages showing two
grades). The enterprise's page, the bank's view, matching, the pipeline and the whitelist draft all read
the latest score through this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.enterprise import Enterprise
from models.scoring import Score
from xinyidai.domain.whitelist import listed_expression

NEWEST_FIRST = (Score.scored_at.desc(), Score.id.desc())


@dataclass
class Standing:
    """What the matching rules need to know about the enterprise beyond the registry."""

    grade: str | None = None
    whitelisted: bool = False


def latest_score(session: Session, uscc: str) -> Score | None:
    return session.scalar(sa.select(Score).where(Score.uscc == uscc).order_by(*NEWEST_FIRST).limit(1))


def latest_grade_of(uscc) -> sa.ScalarSelect:
    """The enterprise's latest grade as a (correlated) subquery: what matching, re-matching and the pipeline read."""
    return sa.select(Score.grade).where(Score.uscc == uscc).order_by(*NEWEST_FIRST).limit(1).scalar_subquery()


def latest_score_ids(*where):
    """(score_id, uscc) of each enterprise's latest score among the scores matching `where` (a subquery)."""
    ranked = (sa.select(Score.id.label("score_id"), Score.uscc,
                        sa.func.row_number().over(partition_by=Score.uscc, order_by=NEWEST_FIRST).label("n"))
              .where(*where).subquery())
    return sa.select(ranked.c.score_id, ranked.c.uscc).where(ranked.c.n == 1).subquery()


def standing_of(session: Session, uscc: str) -> Standing:
    """The enterprise's latest grade and whether the latest published whitelist of its district lists it."""
    grade, listed = session.execute(
        sa.select(latest_grade_of(uscc), listed_expression(Enterprise.uscc, Enterprise.district_code))
        .where(Enterprise.uscc == uscc)).one_or_none() or (None, False)
    return Standing(grade=grade, whitelisted=bool(listed))
