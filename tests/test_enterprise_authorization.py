"""Data authorization (授权): grant and revoke, kept and audited; the page says what each bank sees; a bank
without a live authorization naming it cannot open the enterprise's detail (through HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.identity import Role
from models.lending import FinancingNeed
from tests.conftest import count_rows, csrf_token
from xinyidai.domain.needs import shanghai_today

PATH = "/enterprise/authorizations"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def owner(make_user, login):
    user = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(user)
    return user


def grant(client, **fields):
    data = {"sources": ["tax", "social_insurance"], "scope": "all",
            "expires_on": (shanghai_today() + timedelta(days=90)).isoformat(), **fields}
    return client.post(PATH, data={**data, "csrf_token": csrf_token(client, PATH)})


def test_grant_for_chosen_banks_is_kept_audited_and_explained_per_bank(client, db_session, owner, make_bank,
                                                                      make_product):
    chosen, other = make_bank(name_zh="浦江银行"), make_bank(name_zh="外滩银行")
    make_product(bank=chosen), make_product(bank=other)  # banks past onboarding: SMEs see them
    response = grant(client, scope="chosen", bank_ids=[str(chosen.id)], sources=["tax", "public_credit"])
    assert response.status_code == 302
    authorization = db_session.scalar(sa.select(Authorization).where(Authorization.uscc == owner.enterprise_uscc))
    assert authorization.sources == ["public_credit", "tax"]
    assert not authorization.all_banks
    assert [b.id for b in authorization.banks] == [chosen.id]
    assert authorization.granted_by_id == owner.id
    assert authorization.is_live(utcnow())
    assert authorization.names_bank(chosen.id)
    assert not authorization.names_bank(other.id)
    audit = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "authorization_granted"))
    assert audit.authorization_id == authorization.id
    assert audit.detail["bank_ids"] == [chosen.id]

    page = text(client.get(PATH))
    chosen_block = page.split("浦江银行")[1].split("</li>")[0]
    other_block = page.split("外滩银行")[1].split("</li>")[0]
    assert "税务（月度）" in chosen_block
    assert "公共信用" in chosen_block
    assert "社会保险" in chosen_block.split("看不到")[1]  # not granted: said plainly
    assert "仅匿名摘要" in other_block


@pytest.mark.parametrize(("fields", "message"), [
    ({"sources": []}, "请至少选择一项数据来源。"),
    ({"sources": ["tax", "bank_statements"]}, "请至少选择一项数据来源。"),
    ({"scope": "chosen"}, "请选择至少一家参与银行"),
    ({"scope": "chosen", "bank_ids": ["999999"]}, "请选择至少一家参与银行"),
    ({"scope": "chosen", "bank_ids": ["x"]}, "请选择至少一家参与银行"),
    ({"expires_on": ""}, "请填写此项。"),
    ({"expires_on": "2026-02-30"}, "请填写有效日期"),
    ({"expires_on": "yesterday"}, "请填写有效日期"),
])
def test_bad_grants_say_why_and_change_nothing(client, db_session, owner, fields, message):
    response = grant(client, **fields)
    assert response.status_code == 422
    assert message in text(response)
    assert count_rows(Authorization) == 0
    assert db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "authorization_granted")) is None


@pytest.mark.parametrize("days", [0, -3, 367])
def test_expiry_must_be_from_tomorrow_to_a_year(client, owner, days):
    response = grant(client, expires_on=(shanghai_today() + timedelta(days=days)).isoformat())
    assert response.status_code == 422
    assert "有效期须在明天到一年之内。" in text(response)
    assert count_rows(Authorization) == 0


def test_revoke_ends_it_at_once_keeps_it_and_cannot_repeat(client, db_session, owner):
    grant(client)
    authorization = db_session.scalar(sa.select(Authorization))
    token = csrf_token(client, PATH)
    response = client.post(f"{PATH}/{authorization.id}/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "授权已撤销" in text(response)
    db_session.refresh(authorization)
    assert authorization.revoked_at is not None
    assert authorization.revoked_by_id == owner.id
    assert not authorization.is_live(utcnow())
    again = client.post(f"{PATH}/{authorization.id}/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "该授权已撤销或已到期" in text(again)
    actions = db_session.scalars(sa.select(AuditEntry.action).where(AuditEntry.authorization_id == authorization.id)).all()
    assert sorted(actions) == ["authorization_granted", "authorization_revoked"]
    assert count_rows(Authorization) == 1


def test_another_enterprises_authorization_is_not_found(client, db_session, owner, make_user):
    stranger = make_user(Role.ENTERPRISE)
    theirs = Authorization(uscc=stranger.enterprise_uscc, sources=["tax"], all_banks=True, granted_by_id=stranger.id,
                           expires_at=utcnow() + timedelta(days=30))
    db_session.add(theirs)
    db_session.flush()
    response = client.post(f"{PATH}/{theirs.id}/revoke", data={"csrf_token": csrf_token(client, PATH)})
    assert response.status_code == 404
    db_session.refresh(theirs)
    assert theirs.revoked_at is None


def test_revoking_needs_a_csrf_token(client, db_session, owner):
    grant(client)
    authorization = db_session.scalar(sa.select(Authorization))
    assert client.post(f"{PATH}/{authorization.id}/revoke").status_code == 400
    db_session.refresh(authorization)
    assert authorization.revoked_at is None


def test_the_page_lists_which_bank_saw_the_data_and_when(client, db_session, owner, make_bank):
    bank = make_bank(name_zh="静安银行")
    grant(client)
    authorization = db_session.scalar(sa.select(Authorization))
    db_session.add(AuditEntry(action="view_credit_detail", subject_uscc=owner.enterprise_uscc,
                              authorization_id=authorization.id, detail={"bank_id": bank.id, "channel": "api"}))
    db_session.commit()
    views = text(client.get(PATH)).split('id="views"')[1]
    assert "静安银行" in views
    assert "系统接口" in views
    assert f"#{authorization.id}" in views


# ---- the bank's side, through HTTP -------------------------------------------------------------------


@pytest.fixture
def bank_world(db_session, make_bank, make_user, make_product, make_application):
    """An enterprise with a need matched to a product of bank A; officers of banks A and B."""
    bank_a, bank_b = make_bank(), make_bank()
    owner = make_user(Role.ENTERPRISE)
    need = FinancingNeed(uscc=owner.enterprise_uscc, amount_fen=50_000_000, term_months=12, purpose="设备购置",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    application = make_application(product=make_product(bank=bank_a), need=need)
    return {"owner": owner, "application": application, "bank_a": bank_a,
            "officer_a": make_user(Role.BANK, bank_id=bank_a.id), "officer_b": make_user(Role.BANK, bank_id=bank_b.id)}


def bank_sees_detail(app, login_as, officer, application) -> bool:
    client = app.test_client()
    login_as(client, officer)
    response = client.get(f"/bank/applications/{application.id}")
    assert response.status_code == 200
    return application.uscc in text(response)


@pytest.fixture
def login_as():
    from tests.conftest import TEST_PASSWORD

    def do(client, user):
        response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 302

    return do


def test_bank_cannot_open_enterprise_detail_without_live_authorization(app, db_session, bank_world, login_as):
    world = bank_world
    application, owner = world["application"], world["owner"]
    assert not bank_sees_detail(app, login_as, world["officer_a"], application)

    portal = app.test_client()
    login_as(portal, owner)
    grant(portal, scope="chosen", bank_ids=[str(world["bank_a"].id)])
    assert bank_sees_detail(app, login_as, world["officer_a"], application)

    authorization = db_session.scalar(sa.select(Authorization).where(Authorization.uscc == owner.enterprise_uscc))
    portal.post(f"{PATH}/{authorization.id}/revoke", data={"csrf_token": csrf_token(portal, PATH)})
    assert not bank_sees_detail(app, login_as, world["officer_a"], application)


def test_an_authorization_for_another_bank_or_an_expired_one_does_not_open_detail(app, db_session, bank_world,
                                                                                  make_bank, login_as):
    world = bank_world
    owner, application = world["owner"], world["application"]
    other = make_bank()
    other_only = Authorization(uscc=owner.enterprise_uscc, sources=["tax"], all_banks=False, granted_by_id=owner.id,
                               granted_at=utcnow() - timedelta(days=2), expires_at=utcnow() + timedelta(days=30))
    other_only.banks = [other]
    expired = Authorization(uscc=owner.enterprise_uscc, sources=["tax"], all_banks=True, granted_by_id=owner.id,
                            granted_at=utcnow() - timedelta(days=60), expires_at=utcnow() - timedelta(days=1))
    db_session.add_all([other_only, expired])
    db_session.commit()
    assert not bank_sees_detail(app, login_as, world["officer_a"], application)
    # and bank B, with no application of this enterprise at all, gets a 404 for bank A's application
    client = app.test_client()
    login_as(client, world["officer_b"])
    assert client.get(f"/bank/applications/{application.id}").status_code == 404
