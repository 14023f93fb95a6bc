"""My credit profile: score, grade, whitelist, gates and reasons in plain words from the scoring tables;
the monthly data held, drawn as server-side SVG; advice; self-reported data and commitments marked so."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from models.base import utcnow
from models.enterprise import CreditCommitment, SelfReport
from models.identity import Role
from models.scoring import (
    ModelVersion,
    Score,
    ScoreReason,
    WhitelistEntry,
    WhitelistPolicy,
    WhitelistStatus,
    WhitelistVersion,
)
from models.sources import (
    PublicCreditEvent,
    PublicCreditKind,
    Severity,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    TaxRatingGrade,
    UtilityKind,
    UtilityMonth,
)
from tests.conftest import count_rows, csrf_token
from xinyidai.enterprise.charts import Point, chart, compact, nice_ceiling

PATH = "/enterprise/profile"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def owner(make_user, login):
    user = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(user)
    return user


def months(n: int):
    for i in range(n):
        yield date(2025 + (i + 10) // 12, (i + 10) % 12 + 1, 1)


def seed_history(session, uscc: str) -> None:
    for i, month in enumerate(months(14)):
        session.add(TaxMonth(uscc=uscc, month=month, invoiced_sales_fen=30_000_000 + i * 100_000,
                             tax_paid_fen=1_000_000, in_arrears=i == 12))
        session.add(SocialInsuranceMonth(uscc=uscc, month=month, insured_headcount=20 - i // 4, contributions_fen=1,
                                         months_in_arrears=1 if i == 13 else 0))
        session.add(UtilityMonth(uscc=uscc, month=month, kind=UtilityKind.ELECTRICITY, consumption=2_000.5 + i,
                                 billed_fen=100_000, paid_fen=100_000, days_late=9 if i == 11 else 0))
    session.add(TaxRating(uscc=uscc, year=2025, rating=TaxRatingGrade.C))
    session.add(PublicCreditEvent(record_id="PC-1", uscc=uscc, kind=PublicCreditKind.ABNORMAL_OPERATION,
                                  severity=Severity.GENERAL, decided_on=date(2025, 3, 1)))
    session.flush()


def seed_score(session, owner, *, gates_passed=True, failed_gates=(), grade="A") -> Score:
    session.add(ModelVersion(version="m-profile", path="-", card={}, is_active=True))
    score = Score(uscc=owner.enterprise_uscc, model_version="m-profile", as_of=date(2026, 11, 1), pd_12m=0.02,
                  points=688, grade=grade, gates_passed=gates_passed, failed_gates=list(failed_gates))
    score.reasons = [ScoreReason(rank=1, family="tax", feature="tax_paid_months", contribution=-0.4),
                     ScoreReason(rank=2, family="utilities", feature="utility_days_late_max", contribution=0.3)]
    session.add(score)
    session.flush()
    return score


def publish_whitelist(session, district: str, uscc: str | None, score: Score) -> None:
    version = WhitelistVersion(district_code=district, model_version=score.model_version, min_grade="BBB",
                               status=WhitelistStatus.PUBLISHED, published_at=utcnow())
    session.add_all([version, WhitelistPolicy(district_code=district, min_grade="BBB")])
    session.flush()
    if uscc:
        session.add(WhitelistEntry(whitelist_version_id=version.id, uscc=uscc, score_id=score.id, grade=score.grade,
                                   change="added"))
    session.flush()


def test_score_grade_whitelist_and_reasons_in_plain_words(client, db_session, owner):
    score = seed_score(db_session, owner)
    publish_whitelist(db_session, "310115", owner.enterprise_uscc, score)
    page = text(client.get(PATH))
    assert "688" in page
    assert ">A<" in page
    assert "已列入" in page
    assert "纳税：有纳税月数表现良好，提升了评分" in page  # the scoring engine's own wording
    assert "水电气：水电气最长逾期天数表现欠佳，拉低了评分" in page
    assert "已通过全部准入规则" in page
    english = text(client.get(PATH + "?lang=en"))
    assert "Tax: months with tax paid raised the score" in english


def test_failed_gates_say_what_failed_and_how_to_repair(client, db_session, owner):
    score = seed_score(db_session, owner, gates_passed=False, grade="CC",
                       failed_gates=[{"gate": "dishonest_debtor", "record_id": "X1"}, {"gate": "brand_new_rule"}])
    publish_whitelist(db_session, "310115", None, score)
    page = text(client.get(PATH))
    assert "存在未修复的失信被执行人记录" in page
    assert "申请信用修复" in page
    assert "未通过准入规则：brand_new_rule" in page
    assert "未列入" in page
    assert "等级不低于 BBB" in page


def test_without_a_score_the_page_says_so(client, owner):
    page = text(client.get(PATH))
    assert "暂无评分" in page
    assert "本区尚未发布白名单" in page
    assert "平台还没有收到贵企业的月度数据。" in page


def test_monthly_data_is_drawn_as_svg_with_a_table_and_advice_follows_the_data(client, db_session, owner):
    seed_history(db_session, owner.enterprise_uscc)
    seed_score(db_session, owner)
    page = text(client.get(PATH))
    assert page.count('<svg class="chart') == 4  # sales, tax paid, headcount, electricity; no housing fund
    assert page.count("<figure") == 4
    assert 'class="chart__mark chart__mark--flag"' in page  # the month in arrears stands out
    assert "<script" not in page.split("<main")[1]
    assert "当月欠税" in page
    assert "逾期 9 天" in page
    assert "有 1 条未修复的公共信用记录（经营异常名录）" in page
    assert "近 12 个月有 1 个月欠税" in page
    assert "2025 年纳税信用等级为 C" in page
    assert "社会保险欠缴 1 个月" in page
    assert "“水电气”方面拉低了评分" in page


def test_chart_helpers():
    assert [nice_ceiling(v) for v in (0, 3, 7.5, 12, 2600)] == [1, 5, 10, 20, 5000]
    assert compact(1_234_567, "zh") == "123.5万"
    assert compact(1_234_567, "en") == "1.23M"
    svg = chart([Point("2026-01", 5), Point("2026-02", 0, True)], title="A<b>", summary="s", unit="元", locale="zh")
    assert "A&lt;b&gt;" in svg
    assert svg.count("<rect") == 2
    assert 'role="img"' in svg


def test_commitments_and_self_reports_are_kept_marked_and_checked(client, db_session, owner):
    token = csrf_token(client, PATH)
    response = client.post(PATH + "/commitments", data={"text": "本企业承诺按时足额还款，依法诚信经营。", "csrf_token": token})
    assert response.status_code == 302
    commitment = db_session.scalar(sa.select(CreditCommitment))
    assert commitment.made_by_id == owner.id
    client.post(PATH + "/self-reports", data={"topic": "orders", "period": "2026-10", "value": "在手订单 320 万元",
                                              "csrf_token": token})
    page = text(client.get(PATH))
    assert page.count("自愿填报，未经核验") >= 2
    assert "在手订单 320 万元" in page

    short = client.post(PATH + "/commitments", data={"text": "好", "csrf_token": token})
    assert short.status_code == 422
    assert "承诺内容须在 10 到 2000 个字之间。" in text(short)
    assert "好</textarea>" in text(short)
    bad = client.post(PATH + "/self-reports", data={"topic": "salary", "period": "2026-13", "value": "",
                                                    "csrf_token": token})
    page = text(bad)
    assert bad.status_code == 422
    for message in ("请选择填报内容。", "期间请写成 2025 或 2025-06 的形式。", "请填写内容（不超过 500 字）。"):
        assert message in page
    assert 'value="2026-13"' in page
    assert count_rows(CreditCommitment) == 1
    assert count_rows(SelfReport) == 1

    client.post(f"{PATH}/commitments/{commitment.id}/withdraw", data={"csrf_token": token})
    db_session.refresh(commitment)
    assert commitment.withdrawn_at is not None
    again = client.post(f"{PATH}/commitments/{commitment.id}/withdraw", data={"csrf_token": token}, follow_redirects=True)
    assert "该承诺已撤回。" in text(again)


def test_another_enterprises_commitment_cannot_be_withdrawn(client, db_session, owner, make_user):
    stranger = make_user(Role.ENTERPRISE)
    theirs = CreditCommitment(uscc=stranger.enterprise_uscc, text="别家企业的承诺内容很长", made_by_id=stranger.id)
    db_session.add(theirs)
    db_session.flush()
    response = client.post(f"{PATH}/commitments/{theirs.id}/withdraw", data={"csrf_token": csrf_token(client, PATH)})
    assert response.status_code == 404
    db_session.refresh(theirs)
    assert theirs.withdrawn_at is None
