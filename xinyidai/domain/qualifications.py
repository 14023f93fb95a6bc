"""Enterprise qualifications (企业资质: 高新技术企业, 科技型中小企业, 专精特新, 科技小巨人) as the rules read them:
which an enterprise holds on a day (issued by then and not expired: the expiry day itself still counts), the
qualifications a product requires or prefers, and the one "tech class" the office figures break down by.

The qualifications delivery (`models.sources.Qualification`) is the only source of truth; nothing here is
self-declared.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import SHANGHAI
from models.lending import FinancingNeed
from models.sources import Qualification, QualificationKind

KINDS: tuple[str, ...] = tuple(k.value for k in QualificationKind)
NAMES = {
    QualificationKind.HIGH_TECH.value: ("高新技术企业", "high-tech enterprise"),
    QualificationKind.TECH_SME.value: ("科技型中小企业", "tech-based SME"),
    QualificationKind.SPECIALISED.value: ("专精特新", "specialised and innovative SME"),
    QualificationKind.LITTLE_GIANT.value: ("科技小巨人", "little giant"),
}
# The office's breakdown: each enterprise in the class of the highest qualification it holds (best first),
# so the rows add up to the total; "none" for an enterprise holding none.
TECH_CLASSES: tuple[str, ...] = ("科技小巨人", "专精特新", "高新技术企业", "科技型中小企业")
NO_QUALIFICATION = "none"
CLASS_NAMES = {**{k: NAMES[k] for k in TECH_CLASSES}, NO_QUALIFICATION: ("无科技类资质", "no tech qualification")}
CLASS_ORDER: tuple[str, ...] = (*TECH_CLASSES, NO_QUALIFICATION)


def valid_on(day) -> sa.ColumnElement[bool]:
    return (Qualification.issued_on <= day) & (Qualification.expires_on >= day)


def held_on(session: Session, usccs: Iterable[str], day: date) -> dict[str, frozenset[str]]:
    """The qualifications each enterprise holds on `day` (enterprises holding none are left out)."""
    wanted = sorted(set(usccs))
    held: dict[str, set[str]] = {}
    for start in range(0, len(wanted), 1000):
        for uscc, kind in session.execute(sa.select(Qualification.uscc, Qualification.kind).where(
                Qualification.uscc.in_(wanted[start:start + 1000]), valid_on(day))):
            held.setdefault(uscc, set()).add(getattr(kind, "value", kind))
    return {uscc: frozenset(kinds) for uscc, kinds in held.items()}


def need_day(need: FinancingNeed, today: date | None = None) -> date:
    """The day a need's qualifications are judged on: its publication day (Shanghai), else today."""
    if need.published_at is not None:
        return need.published_at.astimezone(SHANGHAI).date()
    return today or date.today()


def held_for_needs(session: Session, needs: Iterable[FinancingNeed], today: date | None = None) -> dict[int, frozenset[str]]:
    """Per need, the qualifications its enterprise holds on the need's day."""
    needs = list(needs)
    rows: dict[str, list] = {}
    usccs = sorted({n.uscc for n in needs})
    for start in range(0, len(usccs), 1000):
        for row in session.execute(sa.select(Qualification.uscc, Qualification.kind, Qualification.issued_on,
                                             Qualification.expires_on)
                                   .where(Qualification.uscc.in_(usccs[start:start + 1000]))):
            rows.setdefault(row.uscc, []).append(row)
    out = {}
    for need in needs:
        day = need_day(need, today)
        out[need.id] = frozenset(getattr(r.kind, "value", r.kind) for r in rows.get(need.uscc, ())
                                 if r.issued_on <= day <= r.expires_on)
    return out


def certificates(session: Session, uscc: str) -> list[Qualification]:
    """Every certificate delivered for the enterprise, newest first."""
    return list(session.scalars(sa.select(Qualification).where(Qualification.uscc == uscc)
                                .order_by(Qualification.issued_on.desc(), Qualification.kind)))


# The tech class, two ways over the one rule above (the best of TECH_CLASSES held on the day, valid_on: issued by
# then and not expired, the expiry day included; else NO_QUALIFICATION): in SQL for the office figures read
# straight from the records, and over many (enterprise, day) pairs at once for the office cube. A test
# (tests/test_office_tech_class.py) holds the two to the same answers, validity boundaries included.

def tech_class_column(uscc_column, day) -> sa.ColumnElement[str]:
    """SQL: the tech class of the enterprise `uscc_column` names, on `day` (one correlated lookup)."""
    rank = sa.case(*((Qualification.kind == kind, i) for i, kind in enumerate(TECH_CLASSES)), else_=None)
    best = (sa.select(sa.func.min(rank)).where(Qualification.uscc == uscc_column, valid_on(day))
            .scalar_subquery())
    return sa.case(*((best == i, kind) for i, kind in enumerate(TECH_CLASSES)), else_=NO_QUALIFICATION)


def certificate_frame(session: Session):
    """Every tech certificate delivered (uscc, kind, issued_on, expires_on as datetime64[D]), for tech_classes_on."""
    import numpy as np
    import pandas as pd

    rows = session.execute(sa.select(Qualification.uscc, Qualification.kind, Qualification.issued_on,
                                     Qualification.expires_on)).all()
    kinds = [getattr(r.kind, "value", r.kind) for r in rows]
    return pd.DataFrame({
        "uscc": pd.Series([r.uscc for r in rows], dtype=object), "kind": pd.Series(kinds, dtype=object),
        "issued_on": np.array([str(r.issued_on) for r in rows], dtype="datetime64[D]"),
        "expires_on": np.array([str(r.expires_on) for r in rows], dtype="datetime64[D]")})


def tech_classes_on(certificates, usccs, days):
    """The tech class of each (enterprise, day) pair, vectorised: `usccs` and `days` (datetime64[D], NaT for no
    day: class none) of equal length; `certificates` from certificate_frame. Returns an object array."""
    import numpy as np
    import pandas as pd

    out = np.full(len(usccs), NO_QUALIFICATION, dtype=object)
    rank = certificates["kind"].map({kind: i for i, kind in enumerate(TECH_CLASSES)})
    held = certificates.assign(rank=rank)[rank.notna()]
    if held.empty or not len(usccs):
        return out
    pairs = pd.DataFrame({"row": np.arange(len(usccs)), "uscc": np.asarray(usccs, dtype=object),
                          "day": np.asarray(days, dtype="datetime64[D]")})
    pairs = pairs[pairs["uscc"].isin(held["uscc"]) & pairs["day"].notna()]
    joined = pairs.merge(held[["uscc", "rank", "issued_on", "expires_on"]], on="uscc")
    valid = joined[(joined["issued_on"] <= joined["day"]) & (joined["day"] <= joined["expires_on"])]
    best = valid.groupby("row")["rank"].min()
    out[best.index.to_numpy()] = np.array(TECH_CLASSES, dtype=object)[best.to_numpy().astype(int)]
    return out
