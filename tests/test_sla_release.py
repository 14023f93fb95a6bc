"""A need no bank claimed within the claim SLA goes to the next matching banks (`xyd bank release-unclaimed`),
and the banks and the enterprise see it happen."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.identity import Role
from models.lending import Application, ApplicationState, Channel
from tests.conftest import TEST_PASSWORD, csrf_token
from xinyidai.domain import needs as operations
from xinyidai.domain.lifecycle import Actor, transition
from xinyidai.domain.sla import release_unclaimed
from xinyidai.extensions import db

S = ApplicationState
NEED = {"amount_fen": 80_000_000, "term_months": 12, "purpose": "研发投入", "guarantee_types": ["信用"],
        "contact_preference": "电话"}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def market(db_session, make_user, make_bank, make_product):
    """An enterprise that lets one bank at a time contact it, and three banks whose products fit its need,
    ranked first, second, third by price."""
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    banks = [make_bank(name_zh=name) for name in ("甲银行", "乙银行", "丙银行")]
    products = [make_product(bank=bank, min_rate_bp=rate, max_rate_bp=rate + 200) for bank, rate in zip(banks, (300, 500, 700), strict=True)]
    officers = [make_user(Role.BANK, bank_id=bank.id) for bank in banks]
    need, _ = operations.publish_need(db_session, owner, {**NEED, "max_contacts": 1})
    db_session.commit()
    return {"owner": owner, "banks": banks, "products": products, "officers": officers, "need": need}


def matches(db_session, need) -> dict[int, Application]:
    db_session.expire_all()
    return {a.bank_id: a for a in db_session.scalars(sa.select(Application).where(Application.need_id == need.id))}


def age(application, days: int) -> None:
    application.created_at = utcnow() - timedelta(days=days)
    db.session.commit()


def release(cli) -> dict:
    result = cli.invoke(args=["bank", "release-unclaimed", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def browser(app, user):
    """A fresh browser logged in as `user`."""
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


def test_a_lapsed_need_goes_to_the_next_bank_and_everyone_sees_it(app, db_session, cli, market):
    first_bank, second_bank, third_bank = (b.id for b in market["banks"])
    before = matches(db_session, market["need"])
    assert set(before) == {first_bank}  # the enterprise allows one bank: the best-ranked
    lapsed = before[first_bank]
    age(lapsed, 14)

    report = release(cli)
    assert report["released_needs"] == 1
    assert report["needs"][0]["lapsed"] == [{"application_id": lapsed.id, "bank_id": first_bank,
                                             "product_id": market["products"][0].id}]
    after = matches(db_session, market["need"])
    assert after[first_bank].state is S.WITHDRAWN
    assert after[first_bank].events[-1].detail == {"reason": "sla_lapsed", "sla_working_days": 3}
    assert after[first_bank].events[-1].channel is Channel.SYSTEM
    assert after[second_bank].state is S.MATCHED
    assert third_bank not in after  # still one bank at a time
    assert [e.detail["reason"] for e in after[second_bank].events] == ["sla_release"]
    audit = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "need_released_after_sla"))
    assert audit.detail["offered_application_ids"] == [after[second_bank].id]

    # Run again at once: nothing more to do.
    again = release(cli)
    assert (again["released_needs"], again["kept_needs"]) == (0, [])
    assert matches(db_session, market["need"])[second_bank].state is S.MATCHED

    # The next bank finds the need in its pipeline, marked as passed on, with a fresh SLA clock.
    client = browser(app, market["officers"][1])
    pipeline = text(client.get("/bank/pipeline"))
    assert f"#{after[second_bank].id}" in pipeline
    assert "他行超时转来" in pipeline
    # The bank that let it lapse no longer has it, sees why, and cannot open the other bank's application.
    client = browser(app, market["officers"][0])
    assert f"#{after[first_bank].id}" not in text(client.get("/bank/pipeline"))
    history = text(client.get(f"/bank/applications/{after[first_bank].id}"))
    assert "本行未在 3 个工作日内受理，需求已转给其他匹配的银行" in history
    assert client.get(f"/bank/applications/{after[second_bank].id}").status_code == 404
    assert client.post(f"/bank/applications/{after[first_bank].id}/claim",
                       data={"csrf_token": csrf_token(client, "/bank/pipeline")}).status_code == 409

    # The enterprise's time lines and notifications say what happened.
    client = browser(app, market["owner"])
    assert "该银行未在 3 个工作日内受理，平台已把需求转给其他匹配的银行" in text(
        client.get(f"/enterprise/applications/{after[first_bank].id}"))
    assert "原匹配的银行未在时限内受理，平台把需求转给该产品" in text(
        client.get(f"/enterprise/applications/{after[second_bank].id}"))


def test_the_second_bank_lapsing_too_passes_the_need_to_the_third(db_session, cli, market):
    first_bank, second_bank, third_bank = (b.id for b in market["banks"])
    age(matches(db_session, market["need"])[first_bank], 14)
    release(cli)
    age(matches(db_session, market["need"])[second_bank], 14)
    report = release(cli)
    assert report["needs"][0]["offered"][0]["bank_id"] == third_bank
    after = matches(db_session, market["need"])
    assert [after[b].state for b in (first_bank, second_bank, third_bank)] == [S.WITHDRAWN, S.WITHDRAWN, S.MATCHED]


def test_a_need_no_other_bank_can_take_stays_with_the_late_bank(db_session, cli, make_user, make_bank, make_product):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    only_bank = make_bank()
    make_product(bank=only_bank)
    make_product(bank=make_bank(), max_amount_fen=20_000_000)  # too small for the need
    need, _ = operations.publish_need(db_session, owner, NEED)
    db_session.commit()
    application = matches(db_session, need)[only_bank.id]
    age(application, 14)
    report = release(cli)
    assert report["kept_needs"] == [need.id]
    assert report["released_needs"] == 0
    assert matches(db_session, need)[only_bank.id].state is S.MATCHED


def test_a_need_the_enterprise_keeps_to_chosen_banks_is_never_passed_on(db_session, cli, market):
    operations.set_contact_control(db_session, market["owner"], market["need"], open_to_all_banks=False,
                                   max_contacts=None)
    operations.apply_to_product(db_session, market["owner"], market["need"], market["products"][0].id)
    db_session.commit()
    chosen = matches(db_session, market["need"])[market["banks"][0].id]
    age(chosen, 14)
    assert release(cli)["kept_needs"] == [market["need"].id]
    assert set(matches(db_session, market["need"])) == {market["banks"][0].id}


def test_claimed_needs_and_matches_within_the_sla_are_left_alone(db_session, cli, market):
    first = matches(db_session, market["need"])[market["banks"][0].id]
    age(first, 2)  # at most two calendar days: never three working days
    assert release(cli)["released_needs"] == 0
    age(first, 30)
    transition(db_session, first, S.CLAIMED, Actor(Channel.WEB, user_id=market["officers"][0].id))
    db_session.commit()
    assert release(cli)["released_needs"] == 0
    assert matches(db_session, market["need"])[market["banks"][0].id].state is S.CLAIMED


def test_the_deadline_skips_the_national_day_holiday(db_session, market):
    first = matches(db_session, market["need"])[market["banks"][0].id]
    first.created_at = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
    db_session.flush()
    friday_after = datetime(2026, 10, 9, 8, 0, tzinfo=UTC)
    assert release_unclaimed(db_session, sla_working_days=3, now=friday_after, today=date(2026, 10, 9)).released == []
    make_up_saturday = datetime(2026, 10, 10, 3, 0, tzinfo=UTC)  # the 调休 Saturday is the third working day
    run = release_unclaimed(db_session, sla_working_days=3, now=make_up_saturday, today=date(2026, 10, 10))
    assert [r.need_id for r in run.released] == [market["need"].id]


def test_human_output_says_what_was_done(db_session, cli, market):
    age(matches(db_session, market["need"])[market["banks"][0].id], 14)
    result = cli.invoke(args=["bank", "release-unclaimed"])
    assert result.exit_code == 0, result.output
    assert f"need {market['need'].id}: lapsed at bank(s) {market['banks'][0].id}" in result.output
    assert "1 need(s) released past the 3-working-day claim SLA" in result.output
