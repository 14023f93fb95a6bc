"""Features from intellectual property, qualifications, environmental ratings and agricultural operators as
of a date: only what was visible before it counts; not being listed is a value (0), an unrated enterprise's
environmental rating stays missing. A property test compares the SQL features with a plain reading of the
records on random histories and dates, through both the batch path and the per-loan path."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.features import ENV_ORDER, features_as_of, features_for
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    IntellectualProperty,
    Qualification,
)

NEW = ["ip_invention_patents", "ip_other_patents", "ip_patent_applications", "ip_trademarks", "qual_high_tech",
       "qual_tech_sme", "qual_specialised", "qual_little_giant", "env_rating", "agri_operator", "agri_level"]
QUALIFIED = {"高新技术企业": "qual_high_tech", "科技型中小企业": "qual_tech_sme", "专精特新": "qual_specialised",
             "科技小巨人": "qual_little_giant"}
LEVEL = {None: 0, "区级": 1, "市级": 2, "国家级": 3}
DAY0 = date(2018, 1, 1)

days = st.integers(0, 2900).map(lambda n: DAY0 + timedelta(days=n))
ip_records = st.lists(st.tuples(st.sampled_from(["发明专利", "实用新型", "外观设计", "商标"]), days,
                                st.one_of(st.none(), st.integers(0, 900))), max_size=6)
certificates = st.lists(st.tuples(st.sampled_from(list(QUALIFIED)), days, st.integers(0, 1200)), max_size=4,
                        unique_by=lambda c: (c[0], c[1]))
env = st.dictionaries(st.integers(2018, 2025), st.sampled_from(list(ENV_ORDER)), max_size=4)
agri = st.lists(st.tuples(st.sampled_from(["家庭农场", "农民合作社", "农业产业化龙头企业"]), days,
                          st.sampled_from(list(LEVEL)), st.one_of(st.none(), st.integers(0, 900))),
                max_size=3, unique_by=lambda a: a[0])


def expected(ips, certs, ratings, operators, as_of: date) -> dict:
    """The rules read plainly: dated before the as-of day; a certificate valid through its expiry day."""
    granted = [(k, a, a + timedelta(days=g)) for k, a, g in ips if g is not None]
    row = {
        "ip_invention_patents": sum(k == "发明专利" and d < as_of for k, _, d in granted),
        "ip_other_patents": sum(k in ("实用新型", "外观设计") and d < as_of for k, _, d in granted),
        "ip_patent_applications": sum(k != "商标" and a < as_of and (g is None or a + timedelta(days=g) >= as_of)
                                      for k, a, g in ips),
        "ip_trademarks": sum(k == "商标" and d < as_of for k, _, d in granted),
    }
    for kind, name in QUALIFIED.items():
        row[name] = int(any(k == kind and i < as_of <= i + timedelta(days=v) for k, i, v in certs))
    published = as_of.year - 1 if (as_of.month, as_of.day) >= (7, 1) else as_of.year - 2
    visible = [y for y in ratings if y <= published]
    row["env_rating"] = ENV_ORDER[ratings[max(visible)]] if visible else np.nan
    live = [(lvl) for _, r, lvl, gone in operators
            if r < as_of and (gone is None or r + timedelta(days=gone) >= as_of)]
    row["agri_operator"] = int(bool(live))
    row["agri_level"] = max((LEVEL[lvl] for lvl in live), default=0)
    return row


def store(db_session, uscc, ips, certs, ratings, operators) -> None:
    for n, (kind, applied, grant) in enumerate(ips):
        db_session.add(IntellectualProperty(kind=kind, number=f"{uscc}-{n}", uscc=uscc, applied_on=applied,
                                            granted_on=None if grant is None else applied + timedelta(days=grant)))
    for kind, issued, valid in certs:
        db_session.add(Qualification(uscc=uscc, kind=kind, issued_on=issued, expires_on=issued + timedelta(days=valid)))
    for year, grade in ratings.items():
        db_session.add(EnvironmentalRating(uscc=uscc, year=year, grade=grade))
    for kind, recognized, level, gone in operators:
        db_session.add(AgriculturalOperator(uscc=uscc, kind=kind, recognized_on=recognized, level=level,
                                            revoked_on=None if gone is None else recognized + timedelta(days=gone)))
    db_session.flush()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ips=ip_records, certs=certificates, ratings=env, operators=agri,
       as_of=st.lists(days, min_size=1, max_size=4))
def test_features_read_only_what_was_visible_before_each_date(db_session, make_enterprise, ips, certs, ratings,
                                                              operators, as_of):
    firm = make_enterprise()
    store(db_session, firm.uscc, ips, certs, ratings, operators)
    loans = features_for(db_session, pd.DataFrame({"uscc": [firm.uscc] * len(as_of), "as_of": as_of}))
    for i, day in enumerate(as_of):
        want = expected(ips, certs, ratings, operators, day)
        batch = features_as_of(db_session, day, [firm.uscc]).iloc[0]
        for name in NEW:
            np.testing.assert_equal(loans.iloc[i][name], want[name], err_msg=f"{name} (loan path) on {day}")
            np.testing.assert_equal(batch[name], want[name], err_msg=f"{name} (batch path) on {day}")


def test_an_enterprise_listed_nowhere_has_zero_counts_and_no_environmental_rating(db_session, make_enterprise):
    row = features_as_of(db_session, date(2025, 7, 15), [make_enterprise().uscc]).iloc[0]
    assert all(row[name] == 0 for name in NEW if name != "env_rating")
    assert np.isnan(row.env_rating)


def test_a_certificate_counts_on_its_expiry_day_and_not_after(db_session, make_enterprise):
    firm = make_enterprise()
    store(db_session, firm.uscc, [], [("高新技术企业", date(2022, 11, 1), 1095)], {}, [])
    expiry = date(2022, 11, 1) + timedelta(days=1095)
    on_the_day = features_as_of(db_session, expiry, [firm.uscc]).iloc[0]
    after = features_as_of(db_session, expiry + timedelta(days=1), [firm.uscc]).iloc[0]
    issued_day = features_as_of(db_session, date(2022, 11, 1), [firm.uscc]).iloc[0]
    assert (on_the_day.qual_high_tech, after.qual_high_tech, issued_day.qual_high_tech) == (1, 0, 0)
