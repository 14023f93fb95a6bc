"""Publishing, editing and withdrawing a financing need; matches, near misses, offers on one cost basis with
each bank's record; applying to a product; contact control."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.identity import Role
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Channel,
    FinancingNeed,
    GuaranteeType,
    NeedStatus,
)
from tests.conftest import count_rows, csrf_token
from xinyidai.domain import needs as operations
from xinyidai.domain.lifecycle import Actor, transition
from xinyidai.enterprise import queries

S = ApplicationState
NEW = "/enterprise/needs/new"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def owner(make_user, login):
    user = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(user)
    return user


def need_form(**fields) -> dict:
    return {"amount": "200", "term_months": "12", "purpose": "设备购置", "purpose_detail": "购买两台数控机床",
            "guarantee_types": ["信用"], "urgency": "high", "contact_preference": "电话", "open_to_all_banks": "1",
            "max_contacts": "", **fields}


def publish(client, **fields):
    return client.post(NEW, data={**need_form(**fields), "csrf_token": csrf_token(client, NEW)})


def the_need(db_session, owner) -> FinancingNeed:
    return db_session.scalar(sa.select(FinancingNeed).where(FinancingNeed.uscc == owner.enterprise_uscc))


def test_publishing_matches_at_once_and_shows_offers_near_misses_and_grade(client, db_session, owner, make_bank,
                                                                          make_product):
    cheap = make_product(bank=make_bank(name_zh="便宜银行"), min_rate_bp=300, max_rate_bp=400, fee_bp=0)
    costly = make_product(bank=make_bank(name_zh="收费银行"), min_rate_bp=280, max_rate_bp=380, fee_bp=100)
    make_product(bank=make_bank(name_zh="小额银行"), max_amount_fen=100_000_000)
    response = publish(client)
    assert response.status_code == 302
    need = the_need(db_session, owner)
    assert (need.amount_fen, need.term_months, need.urgency.value) == (200_000_000, 12, "high")
    assert need.published_by_id == owner.id
    matched = db_session.scalars(sa.select(Application.product_id).where(Application.need_id == need.id)).all()
    assert sorted(matched) == sorted([cheap.id, costly.id])

    page = text(client.get(response.headers["Location"]))
    assert "需求已发布，找到 2 个匹配的产品。" in page
    assert "便宜银行" in page
    assert "收费银行" in page
    # a one-off 1% fee over 12 months costs 1 point a year: 2.80% + 1.00% = 3.80%
    assert "3.80% – 4.80%" in page
    assert "3.00% – 4.00%" in page
    near = page.split("差一点匹配的产品")[1]
    assert "小额银行" in near
    assert "金额高于产品上限 1,000,000 元" in near
    assert "暂无评分" in page
    by_cost = text(client.get(f"/enterprise/needs/{need.id}?sort=cost"))
    assert by_cost.index("便宜银行") < by_cost.index("收费银行")


@pytest.mark.parametrize(("fields", "field_message"), [
    ({"amount": "abc"}, "请填写数字，例如 500 或 120.5。"),
    ({"amount": "NaN"}, "请填写数字，例如 500 或 120.5。"),
    ({"amount": "0.5"}, "金额须在 1 万元到 10 亿元之间。"),
    ({"amount": "1e30"}, "请填写数字，例如 500 或 120.5。"),
    ({"amount": ""}, "请填写此项。"),
    ({"term_months": "0"}, "期限须在 1 到 120 个月之间。"),
    ({"term_months": "6.5"}, "请填写整数。"),
    ({"purpose": ""}, "请填写此项。"),
    ({"purpose": "炒股"}, "请选择资金用途。"),
    ({"guarantee_types": []}, "请至少选择一种可接受的担保方式。"),
    ({"guarantee_types": ["信用", "口头"]}, "请选择有效的担保方式。"),
    ({"urgency": "yesterday"}, "请选择紧急程度。"),
    ({"contact_preference": "飞鸽"}, "请选择联系方式。"),
    ({"max_contacts": "99"}, "联系银行数须在 1 到 20 家之间"),
    ({"purpose_detail": "x" * 501}, "用途说明不超过 500 字。"),
])
def test_bad_input_says_why_keeps_what_was_typed_and_creates_nothing(client, db_session, owner, make_product,
                                                                      fields, field_message):
    make_product()
    response = publish(client, **fields)
    assert response.status_code == 422
    page = text(response)
    assert field_message in page
    assert "请更正以下问题" in page
    assert 'value="12"' in page or fields.get("term_months")  # the other fields keep their input
    assert count_rows(FinancingNeed) == 0
    assert count_rows(Application) == 0


def test_every_problem_is_listed_at_once_in_english(client, owner):
    client.get("/enterprise/needs?lang=en")
    response = publish(client, amount="lots", term_months="", purpose="", guarantee_types=[], contact_preference="")
    page = text(response)
    assert response.status_code == 422
    for message in ("Enter a number, such as 500 or 120.5.", "This field is required.",
                    "Choose at least one guarantee type you accept."):
        assert message in page, message
    assert 'value="lots"' in page


def test_edit_while_unclaimed_rematches_and_drops_products_that_no_longer_fit(client, db_session, owner, make_product):
    short = make_product(max_term_months=12)
    long = make_product(max_term_months=60)
    publish(client)
    need = the_need(db_session, owner)
    edit = f"/enterprise/needs/{need.id}/edit"
    assert 'value="200"' in text(client.get(edit))
    response = client.post(edit, data={**need_form(term_months="36"), "csrf_token": csrf_token(client, edit)})
    assert response.status_code == 302
    db_session.refresh(need)
    assert need.term_months == 36
    assert db_session.scalars(sa.select(Application.product_id).where(Application.need_id == need.id)).all() == [long.id]
    assert short.id not in {a.product_id for a in queries.applications(db_session, owner.enterprise_uscc)}

    bad = client.post(edit, data={**need_form(term_months="999"), "csrf_token": csrf_token(client, edit)})
    assert bad.status_code == 422
    db_session.refresh(need)
    assert need.term_months == 36


def test_a_claimed_need_cannot_be_edited_but_can_be_withdrawn(client, db_session, owner, make_product, make_user):
    product = make_product()
    publish(client)
    need = the_need(db_session, owner)
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id))
    officer = make_user(Role.BANK, bank_id=product.bank_id)
    transition(db_session, application, S.CLAIMED, Actor(Channel.WEB, user_id=officer.id))
    db_session.commit()

    edit = f"/enterprise/needs/{need.id}/edit"
    response = client.post(edit, data={**need_form(amount="300"), "csrf_token": csrf_token(client, edit)})
    assert response.status_code == 409
    assert "银行已受理或需求已结束，不能再修改" in text(response)
    db_session.refresh(need)
    assert need.amount_fen == 200_000_000

    client.post(f"/enterprise/needs/{need.id}/withdraw", data={"csrf_token": csrf_token(client, edit.replace('/edit', ''))})
    db_session.refresh(need)
    db_session.refresh(application)
    assert need.status is NeedStatus.WITHDRAWN
    assert application.state is S.WITHDRAWN
    again = client.post(f"/enterprise/needs/{need.id}/withdraw",
                        data={"csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")}, follow_redirects=True)
    assert "该需求已结束，不能撤回。" in text(again)


def test_another_enterprises_need_and_application_are_not_found(client, db_session, owner, make_application):
    theirs = make_application()
    token = csrf_token(client, "/enterprise/needs")
    for path in (f"/enterprise/needs/{theirs.need_id}", f"/enterprise/needs/{theirs.need_id}/edit",
                 f"/enterprise/applications/{theirs.id}"):
        assert client.get(path).status_code == 404, path
    for path in (f"/enterprise/needs/{theirs.need_id}/withdraw", f"/enterprise/applications/{theirs.id}/withdraw",
                 f"/enterprise/needs/{theirs.need_id}/apply/{theirs.product_id}"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    db_session.refresh(theirs)
    assert theirs.state is S.MATCHED


def test_at_most_n_banks_best_first_and_the_limit_is_kept_when_applying(client, db_session, owner, make_bank,
                                                                        make_product):
    products = [make_product(bank=make_bank(), min_rate_bp=300 + 10 * i) for i in range(4)]
    publish(client, max_contacts="2")
    need = the_need(db_session, owner)
    offered = set(db_session.scalars(sa.select(Application.product_id).where(Application.need_id == need.id)))
    assert offered == {products[0].id, products[1].id}  # the cheapest rank best
    response = client.post(f"/enterprise/needs/{need.id}/apply/{products[3].id}",
                           data={"csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")}, follow_redirects=True)
    assert "已达到您设定的可联系银行数上限" in text(response)
    assert count_rows(Application) == 2

    contacts = f"/enterprise/needs/{need.id}/contacts"
    bad = client.post(contacts, data={"open_to_all_banks": "1", "max_contacts": "0",
                                      "csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")})
    assert bad.status_code == 422
    assert "联系银行数须在 1 到 20 家之间" in text(bad)
    db_session.refresh(need)
    assert need.max_contacts == 2

    client.post(contacts, data={"open_to_all_banks": "1", "max_contacts": "",
                                "csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")})
    assert count_rows(Application) == 4


def test_only_the_products_applied_to_when_not_open_to_all(client, db_session, owner, make_bank, make_product):
    first, second = make_product(bank=make_bank()), make_product(bank=make_bank())
    publish(client, open_to_all_banks="0")
    need = the_need(db_session, owner)
    assert count_rows(Application) == 0
    page = text(client.get(f"/enterprise/needs/{need.id}"))
    assert "申请此产品" in page
    client.post(f"/enterprise/needs/{need.id}/apply/{second.id}",
                data={"csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")})
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id))
    assert application.product_id == second.id
    assert application.applied_by_enterprise
    # switching to "all matching banks" offers the other one too; back again withdraws only the unchosen
    contacts = f"/enterprise/needs/{need.id}/contacts"
    client.post(contacts, data={"open_to_all_banks": "1", "csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")})
    assert {a.product_id for a in queries.applications(db_session, owner.enterprise_uscc)} == {first.id, second.id}
    client.post(contacts, data={"open_to_all_banks": "0", "csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")})
    assert [a.product_id for a in queries.applications(db_session, owner.enterprise_uscc)] == [second.id]


def test_applying_to_a_product_that_does_not_fit_is_refused(client, db_session, owner, make_product):
    unfit = make_product(guarantee_type=GuaranteeType.MORTGAGE)
    publish(client)
    need = the_need(db_session, owner)
    response = client.post(f"/enterprise/needs/{need.id}/apply/{unfit.id}",
                           data={"csrf_token": csrf_token(client, f"/enterprise/needs/{need.id}")}, follow_redirects=True)
    assert "该产品与需求不匹配，不能申请。" in text(response)
    assert count_rows(Application) == 0


def test_a_matched_application_with_history_is_withdrawn_not_deleted_when_no_longer_offered(db_session, make_user,
                                                                                          make_product):
    owner = make_user(Role.ENTERPRISE)
    product = make_product()
    need, _ = operations.publish_need(db_session, owner, {"amount_fen": 50_000_000, "term_months": 12,
                                                           "purpose": "设备购置", "guarantee_types": ["信用"],
                                                           "contact_preference": "电话"})
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id))
    db_session.add(ApplicationEvent(application_id=application.id, from_state=None, to_state=S.MATCHED,
                                    channel=Channel.SYSTEM))
    db_session.flush()
    operations.set_contact_control(db_session, owner, need, open_to_all_banks=False, max_contacts=None)
    db_session.refresh(application)
    assert application.state is S.WITHDRAWN
    assert application.product_id == product.id


def test_bank_record_needs_enough_decisions_and_uses_the_median(db_session, make_bank, make_product, make_application,
                                                               make_user):
    bank = make_bank()
    product = make_product(bank=bank)
    officer = make_user(Role.BANK, bank_id=bank.id)
    actor = Actor(Channel.WEB, user_id=officer.id)
    for i, outcome in enumerate([S.APPROVED, S.APPROVED, S.APPROVED, S.DECLINED, S.APPROVED]):
        application = make_application(product=product)
        transition(db_session, application, S.CLAIMED, actor)
        application.claimed_at = application.created_at + timedelta(hours=[1, 2, 3, 40, 50][i])
        transition(db_session, application, outcome, actor,
                   detail={"reason_code": "other", "reason_text": "测试"} if outcome is S.DECLINED else None)
    record = queries.bank_records(db_session, {bank.id, make_bank().id})
    assert record[bank.id].median_response_hours == pytest.approx(3)
    assert record[bank.id].approval_rate == pytest.approx(0.8)
    assert record[bank.id].decisions == 5
    assert [r for b, r in record.items() if b != bank.id][0].approval_rate is None  # no record yet: not shown


# ---------------------------------------------------------------- publishing limit (issue 13, item 10)

@pytest.fixture
def publish_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "XYD_RATELIMIT", True)
    monkeypatch.setitem(app.config, "XYD_NEED_PUBLISH_LIMIT", "2/hour;3/day")
    monkeypatch.setitem(app.config, "XYD_LOGIN_RATE_LIMIT", "1000/minute")


def test_publishing_needs_is_limited_per_enterprise_keeping_what_was_typed(client, db_session, owner, make_product,
                                                                          publish_limit, login, make_user):
    make_product()
    assert publish(client).status_code == 302
    first = the_need(db_session, owner)
    # a withdrawn need still counts: it reached banks' pipelines
    client.post(f"/enterprise/needs/{first.id}/withdraw", data={"csrf_token": csrf_token(client, f"/enterprise/needs/{first.id}")})
    assert publish(client, purpose_detail="第二条需求").status_code == 302
    refused = publish(client, purpose_detail="第三条需求，仍然保留")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    page = text(refused)
    assert "本企业在最近 1 小时内已发布 2 条融资需求，已达上限" in page
    assert "第三条需求，仍然保留" in page  # the form is shown again with what was typed
    assert count_rows(FinancingNeed) == 2
    client.get(f"{NEW}?lang=en")
    assert "published 2 financing needs in the last 1 hour(s)" in text(publish(client))
    # another enterprise has its own count
    client.post("/logout", data={"csrf_token": csrf_token(client, NEW)})
    login(make_user(Role.ENTERPRISE, is_tenant_admin=True))
    assert publish(client).status_code == 302


def test_the_daily_publishing_limit_counts_needs_published_earlier_in_the_day(app, db_session, make_user):
    from models.base import utcnow

    user = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    for hours_ago in (20, 10, 5):
        db_session.add(FinancingNeed(uscc=user.enterprise_uscc, amount_fen=1_000_000, term_months=12,
                                     purpose="working_capital", guarantee_types=["信用"],
                                     published_at=utcnow() - timedelta(hours=hours_ago)))
    db_session.flush()
    with app.test_request_context(), pytest.raises(operations.PublishingPaused) as paused:  # its message is worded
        operations.check_publishing_limit(db_session, user.enterprise_uscc, "2/hour;3/day")
    # the oldest of the three leaves the day's window 4 hours from now
    assert timedelta(hours=3, minutes=59) < paused.value.retry_at - utcnow() <= timedelta(hours=4)
    operations.check_publishing_limit(db_session, user.enterprise_uscc, "2/hour;4/day")  # under both: nothing
