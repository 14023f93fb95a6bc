"""The office's figures by tech class (科技型 lending, issue 18): each record counted in the class of the highest
tech qualification its enterprise held on the record's own Shanghai day. The SQL figures and the pre-aggregated
cube read the one rule of xinyidai.domain.qualifications and agree with each other and with the records (the
record-by-record recomputation in test_office_metrics covers every family and both); here: the rule's two forms
at its boundaries, the breakdown adding up to the total, and the page and its exports in both languages."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import numpy as np
import openpyxl
import pytest
import sqlalchemy as sa

from models.identity import Role
from models.sources import Qualification
from tests.test_office_metrics import PERIOD, TODAY, lend, population  # noqa: F401 - fixtures
from xinyidai.domain.figures import cube, metrics
from xinyidai.domain.figures.metrics import Dimension, Family
from xinyidai.domain.qualifications import (
    CLASS_ORDER,
    NO_QUALIFICATION,
    certificate_frame,
    tech_class_column,
    tech_classes_on,
)
from xinyidai.domain.scope import office_scope


def test_the_sql_and_the_vectorised_rule_agree_on_every_day_around_the_validity_boundaries(db_session,
                                                                                          make_enterprise):
    a, b, c = make_enterprise(), make_enterprise(), make_enterprise()
    db_session.add_all([
        Qualification(uscc=a.uscc, kind="科技型中小企业", issued_on=date(2025, 5, 10), expires_on=date(2026, 5, 9)),
        Qualification(uscc=a.uscc, kind="高新技术企业", issued_on=date(2025, 12, 1), expires_on=date(2026, 1, 15)),
        Qualification(uscc=b.uscc, kind="科技小巨人", issued_on=date(2026, 1, 1), expires_on=date(2026, 1, 1)),
        Qualification(uscc=b.uscc, kind="专精特新", issued_on=date(2025, 1, 1), expires_on=date(2027, 1, 1)),
    ])
    db_session.flush()
    days = [date(2025, 5, 9) + timedelta(days=i) for i in range(0, 400, 1)]
    pairs = [(e.uscc, d) for e in (a, b, c) for d in days]
    frame = tech_classes_on(certificate_frame(db_session), [u for u, _ in pairs],
                            np.array([d.isoformat() for _, d in pairs], dtype="datetime64[D]"))
    by_sql = [db_session.scalar(sa.select(tech_class_column(sa.literal(u, sa.String), sa.literal(d, sa.Date))))
              for u, d in pairs]
    assert list(frame) == by_sql
    got = dict(zip(pairs, frame, strict=True))
    assert got[a.uscc, date(2025, 5, 9)] == NO_QUALIFICATION  # the day before it was issued
    assert got[a.uscc, date(2025, 5, 10)] == "科技型中小企业"  # the issue day
    assert got[a.uscc, date(2026, 1, 15)] == "高新技术企业"  # the expiry day still counts, and outranks
    assert got[a.uscc, date(2026, 1, 16)] == "科技型中小企业"
    assert got[a.uscc, date(2026, 5, 10)] == NO_QUALIFICATION
    assert got[b.uscc, date(2026, 1, 1)] == "科技小巨人"  # a one-day certificate
    assert got[b.uscc, date(2026, 1, 2)] == "专精特新"
    assert {got[c.uscc, d] for d in days} == {NO_QUALIFICATION}


@pytest.mark.parametrize("office", ["310115", "310000"])
def test_the_classes_partition_every_family_and_the_cube_agrees(db_session, population, office):  # noqa: F811
    scope = office_scope(office)
    cube.forget_cube()
    for table in (metrics.build_table(db_session, scope, PERIOD, Dimension.TECH_CLASS, today=TODAY),
                  cube.cube_table(db_session, scope, PERIOD, Dimension.TECH_CLASS, today=TODAY)):
        assert [row.key for row in table.rows] == list(CLASS_ORDER)
        for kpi in table.kpis:
            if kpi.unit == "count" and kpi.key != "first_time":
                assert sum(row.cells[kpi.key].value or 0 for row in table.rows) == table.total.cells[kpi.key].value
        matched = {row.key: row.cells["matched"].value for row in table.rows}
        assert matched["科技小巨人"] >= 1
        assert matched["专精特新"] >= 1
        assert matched["高新技术企业"] >= 1
        assert matched["科技型中小企业"] >= 1
        assert matched[NO_QUALIFICATION] > matched["高新技术企业"]
    cube.forget_cube()


def test_a_records_class_is_its_enterprises_on_that_records_day(db_session, population):  # noqa: F811
    """Enterprise 3's 科技型中小企业 certificate expires on its match day: the match counts in that class, its
    claim two days later does not; enterprise 0's earlier loan predates its 科技小巨人 certificate."""
    figures = {family: metrics.family_figures(db_session, family, office_scope("310000"), PERIOD,
                                              Dimension.TECH_CLASS, metrics.book_month_of(PERIOD, TODAY))
               for family in (Family.MATCHED, Family.CLAIMED)}
    expected_matched = _count_by_hand(db_session, "created_at")
    expected_claimed = _count_by_hand(db_session, "claimed_at")
    assert {k: v["count"] for k, v in figures[Family.MATCHED].items()} == expected_matched
    assert {k: v["count"] for k, v in figures[Family.CLAIMED].items()} == expected_claimed
    from models.lending import Application

    def classes(enterprise):
        day = lambda column: metrics._day_of(db_session, column)  # noqa: E731
        return db_session.execute(sa.select(tech_class_column(Application.uscc, day(Application.created_at)),
                                            tech_class_column(Application.uscc, day(Application.claimed_at)))
                                  .where(Application.uscc == enterprise.uscc)
                                  .order_by(Application.created_at)).all()

    pudong = population["pudong"]
    assert classes(pudong[3]) == [("科技型中小企业", NO_QUALIFICATION)]  # expired between match and claim
    assert classes(pudong[11]) == [(NO_QUALIFICATION, "科技型中小企业")]  # issued between them
    assert [c[0] for c in classes(pudong[0])] == [NO_QUALIFICATION, "科技小巨人"]  # its earlier loan came first


def _count_by_hand(db_session, attribute) -> dict:
    from collections import Counter

    from models.lending import Application

    certificates = {}
    for q in db_session.scalars(sa.select(Qualification)):
        certificates.setdefault(q.uscc, []).append(q)
    order = ("科技小巨人", "专精特新", "高新技术企业", "科技型中小企业")
    counts = Counter()
    for a in db_session.scalars(sa.select(Application)):
        moment = getattr(a, attribute)
        if moment is None:
            continue
        local = moment.astimezone(UTC) + timedelta(hours=8)
        if not date(2026, 1, 1) <= local.date() < date(2026, 4, 1):
            continue
        held = {q.kind.value for q in certificates.get(a.uscc, []) if q.issued_on <= local.date() <= q.expires_on}
        counts[next((k for k in order if k in held), "none")] += 1
    return dict(counts)


def test_the_dashboard_shows_the_breakdown_and_its_exports_carry_it_in_both_languages(
        client, login, make_user, population, db_session):  # noqa: F811
    login(make_user(Role.OFFICE, district_code="310000"))
    args = "from=2026-01&to=2026-03"
    page = client.get(f"/office/dashboard/qualifications?{args}&lang=zh").get_data(as_text=True)
    assert "按科技资质" in page
    for label in ("科技小巨人", "专精特新", "高新技术企业", "科技型中小企业", "无科技类资质"):
        assert label in page
    english = client.get(f"/office/dashboard/qualifications?{args}&lang=en").get_data(as_text=True)
    for label in ("By tech qualification", "Little giant", "Specialised and innovative SME", "High-tech enterprise",
                  "Tech-based SME", "No tech qualification"):
        assert label in english
    table = metrics.build_table(db_session, office_scope("310000"), PERIOD, Dimension.TECH_CLASS, today=TODAY)
    response = client.get(f"/office/dashboard/qualifications/export.csv?{args}&lang=zh")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = next(row for row in rows if row and row[0] == "科技资质")
    for row in table.rows:
        line = next(r for r in rows if r and r[0] == row.label_zh)
        cell = row.cells["matched"]
        assert line[header.index("匹配对接（笔）")] == ("*" if cell.suppressed else str(cell.value))
    xlsx = client.get(f"/office/dashboard/qualifications/export.xlsx?{args}&lang=en")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    first_column = [row[0].value for row in sheet.iter_rows()]
    assert "Tech qualification" in first_column
    assert "High-tech enterprise" in first_column
    report = client.get("/office/reports/monthly.csv?month=2026-02&lang=zh").get_data(as_text=True)
    assert "五、按科技资质（本月）" in report
    assert "六、各区对比（本月）" in report
    assert "5. By tech qualification (this month)" in client.get(
        "/office/reports/monthly.csv?month=2026-02&lang=en").get_data(as_text=True)


def test_a_snapshot_of_an_earlier_cube_layout_is_rebuilt_not_served(tmp_path, db_session, population):  # noqa: F811
    import pickle

    cube.forget_cube()
    old = cube.build_cube(db_session)
    old.layout = 1
    (tmp_path / cube.SNAPSHOT).write_bytes(pickle.dumps(old))
    fresh = cube.current_cube(db_session, max_age_seconds=300, folder=tmp_path)
    assert fresh.layout == cube.LAYOUT
    assert "tech_class" in fresh.frames[Family.MATCHED]
    cube.forget_cube()


_ = datetime  # imported for the reader: every moment above is timezone-aware UTC
