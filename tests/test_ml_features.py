"""Feature rows as of a date: nothing dated on or after it counts, missing sources stay missing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ml.features import FEATURE_NAMES, features_as_of, features_for, month_add
from models.sources import (
    HousingFundMonth,
    PublicCreditEvent,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)

AS_OF = date(2025, 7, 15)


def months(first: date, count: int) -> list[date]:
    return [month_add(first, k) for k in range(count)]


def add_months(db_session, uscc: str, span: list[date], *, sales=1_000_000_00, headcount=20, arrears=False,
               days_late=0, housing=True):
    for m in span:
        db_session.add(TaxMonth(uscc=uscc, month=m, invoiced_sales_fen=sales, tax_paid_fen=sales // 30,
                                in_arrears=arrears))
        db_session.add(SocialInsuranceMonth(uscc=uscc, month=m, insured_headcount=headcount,
                                            contributions_fen=headcount * 100_000, months_in_arrears=int(arrears)))
        if housing:
            db_session.add(HousingFundMonth(uscc=uscc, month=m, contributors=headcount, contributions_fen=headcount * 5_000,
                                            in_arrears=arrears))
        for kind in ("water", "electricity"):
            db_session.add(UtilityMonth(uscc=uscc, month=m, kind=kind, consumption=500.0, billed_fen=80_000,
                                        paid_fen=80_000 if not arrears else 0, days_late=days_late))
    db_session.flush()


@pytest.fixture
def firm_with_history(db_session, make_enterprise):
    firm = make_enterprise(established_on=date(2015, 3, 1))
    add_months(db_session, firm.uscc, months(date(2024, 1, 1), 18))  # 2024-01 … 2025-06
    db_session.add_all([
        TaxRating(uscc=firm.uscc, year=2023, rating="B"),
        TaxRating(uscc=firm.uscc, year=2024, rating="A"),  # published 2025-05: visible on 2025-07-15
        PublicCreditEvent(record_id="ML-F-1", uscc=firm.uscc, kind="失信被执行人", severity="严重",
                          decided_on=date(2024, 3, 4)),
        PublicCreditEvent(record_id="ML-F-2", uscc=firm.uscc, kind="行政处罚", severity="一般",
                          decided_on=date(2023, 6, 1), repaired_on=date(2024, 1, 10)),
    ])
    db_session.flush()
    return firm


def add_later_data(db_session, uscc: str) -> None:
    """Everything dated on or after AS_OF: the as-of month itself, later months, a record decided on the
    day, the repair of the dishonest-debtor record on the day, next year's rating."""
    add_months(db_session, uscc, months(date(2025, 7, 1), 6), sales=0, headcount=1, arrears=True, days_late=60)
    db_session.add_all([
        TaxRating(uscc=uscc, year=2025, rating="D"),
        PublicCreditEvent(record_id="ML-F-3", uscc=uscc, kind="严重违法失信名单", severity="严重", decided_on=AS_OF),
    ])
    db_session.get(PublicCreditEvent, "ML-F-1").repaired_on = AS_OF
    db_session.flush()


def test_data_dated_on_or_after_the_as_of_date_cannot_change_a_row(db_session, firm_with_history):
    uscc = firm_with_history.uscc
    before = features_as_of(db_session, AS_OF, [uscc])
    add_later_data(db_session, uscc)
    after = features_as_of(db_session, AS_OF, [uscc])
    pd.testing.assert_frame_equal(before, after)
    # the same row through the loan path (a temporary query table) and the whole-table scan
    loan = features_for(db_session, pd.DataFrame({"uscc": [uscc], "as_of": [AS_OF]}, index=[42]))
    np.testing.assert_allclose(loan.loc[42].to_numpy(), before.loc[uscc].to_numpy(), equal_nan=True)
    everyone = features_as_of(db_session, AS_OF)
    np.testing.assert_allclose(everyone.loc[uscc].to_numpy(), before.loc[uscc].to_numpy(), equal_nan=True)
    # and the test is not vacuous: a later as-of date sees the new data
    later = features_as_of(db_session, date(2026, 1, 1), [uscc]).loc[uscc]
    assert later.tax_arrears_months == 6
    assert later.pc_serious_violation == 1
    assert later.pc_dishonest_debtor == 0


def test_row_reads_the_months_records_and_rating_visible_at_the_as_of_date(db_session, firm_with_history):
    row = features_as_of(db_session, AS_OF, [firm_with_history.uscc]).iloc[0]
    assert row.tax_coverage == 1.0  # 2024-07 … 2025-06 all filed
    assert row.tax_arrears_months == 0
    assert np.isnan(row.tax_arrears_recency)
    assert row.sales_trend == pytest.approx(0.0)
    assert row.sales_volatility == pytest.approx(0.0, abs=1e-6)
    assert row.tax_rating == 0  # A for 2024
    assert row.headcount_level == pytest.approx(np.log1p(20))
    assert row.headcount_trend == pytest.approx(0.0)
    assert row.pc_dishonest_debtor == 1
    assert row.pc_repaired == 1
    assert row.pc_penalties == 0
    assert row.pc_record_recency == 16  # 2024-03 → 2025-07
    assert row.age_years == pytest.approx((AS_OF - date(2015, 3, 1)).days / 365.25)


def test_features_for_many_loans_keeps_each_loans_own_as_of_date(db_session, firm_with_history):
    uscc = firm_with_history.uscc
    add_later_data(db_session, uscc)
    loans = pd.DataFrame({"uscc": [uscc, uscc], "as_of": [AS_OF, date(2026, 1, 1)]}, index=[7, 8])
    rows = features_for(db_session, loans)
    assert list(rows.index) == [7, 8]
    assert rows.loc[7, "tax_arrears_months"] == 0
    assert rows.loc[8, "tax_arrears_months"] == 6
    assert rows.loc[7, "tax_rating"] == 0
    assert rows.loc[8, "tax_rating"] == 0


def test_no_record_stays_missing_never_zero(db_session, make_enterprise):
    firm = make_enterprise(established_on=date(2010, 1, 1))
    add_months(db_session, firm.uscc, months(date(2024, 7, 1), 12), housing=False)
    bare = make_enterprise(established_on=date(2010, 1, 1))
    rows = features_as_of(db_session, AS_OF, [firm.uscc, bare.uscc])
    assert list(rows.columns) == list(FEATURE_NAMES)
    with_tax = rows.loc[firm.uscc]
    assert np.isnan(with_tax.hf_contributors_level)
    assert np.isnan(with_tax.hf_arrears_months)
    assert np.isnan(with_tax.tax_rating)
    nothing = rows.loc[bare.uscc]
    for name in ("sales_level", "sales_trend", "tax_arrears_months", "headcount_level", "si_arrears_max",
                 "utility_unpaid_months", "electricity_days_late"):
        assert np.isnan(nothing[name]), name
    assert nothing.tax_coverage == 0  # twelve months expected, none filed
    assert nothing.pc_dishonest_debtor == 0  # the public-credit source covers everyone


def test_falling_sales_and_shrinking_headcount_show_as_negative_trends(db_session, make_enterprise):
    firm = make_enterprise(established_on=date(2010, 1, 1))
    for k, m in enumerate(months(date(2024, 7, 1), 12)):
        db_session.add(TaxMonth(uscc=firm.uscc, month=m, invoiced_sales_fen=int(2_000_000_00 * 0.85**k),
                                tax_paid_fen=1, in_arrears=k >= 9))
        db_session.add(SocialInsuranceMonth(uscc=firm.uscc, month=m, insured_headcount=30 - 2 * k,
                                            contributions_fen=1, months_in_arrears=0))
    db_session.flush()
    row = features_as_of(db_session, AS_OF, [firm.uscc]).iloc[0]
    assert row.sales_trend < 0
    assert row.sales_slope < 0
    assert row.headcount_trend < 0
    assert row.tax_arrears_months == 3
    assert row.tax_arrears_recency == 1


def test_queries_side_by_side_on_their_own_connections_give_the_same_rows(tmp_path):
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from ml import synthetic
    from models import Base
    from xinyidai.database import ensure_reference_data

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'parallel.sqlite3'}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        ensure_reference_data(connection)
    with Session(engine) as session:
        synthetic.populate(session, enterprises=60, seed=2)
        session.commit()
        one = features_as_of(session, date(2026, 11, 1))
        two = features_as_of(session, date(2026, 11, 1), threads=2)
    engine.dispose()
    assert len(one) == 60
    pd.testing.assert_frame_equal(one, two)
