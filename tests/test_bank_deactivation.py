"""A bank can leave the platform, and a bank still onboarding is not shown to SMEs (issue 14)."""

from __future__ import annotations

import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role
from models.lending import Application, ApplicationState, FinancingNeed
from tests.conftest import TEST_PASSWORD, csrf_token
from tests.test_every_page import logged_in
from xinyidai.domain.matching import refresh_matches


def test_a_deactivated_bank_cannot_log_in_stops_matching_and_disappears_for_smes(
        app, client, login, db_session, make_user, make_bank, make_product, make_application, make_enterprise):
    bank = make_bank(name_zh="退出银行", name_en="Leaving Bank")
    product = make_product(bank=bank)
    officer = make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True)
    waiting = make_application(product=product)
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    officer_browser = logged_in(app, officer)
    assert officer_browser.get("/bank/").status_code == 200
    assert "Leaving Bank" in logged_in(app, owner).get("/enterprise/authorizations?lang=en").get_data(as_text=True)
    login(make_user(Role.ADMIN))
    path = f"/admin/banks/{bank.id}"
    assert client.post(f"{path}/deactivate", data={"csrf_token": csrf_token(client, path)}).status_code == 302
    db_session.refresh(bank)
    assert bank.is_active  # not without the tick box
    assert client.post(f"{path}/deactivate", data={"csrf_token": csrf_token(client, path), "confirm": "y"}).status_code == 302
    db_session.expire_all()
    assert not bank.is_active
    assert waiting.state is ApplicationState.WITHDRAWN  # its untouched match is taken back
    assert officer_browser.get("/bank/").status_code == 302  # the session has ended
    fresh = logged_in(app, None)
    assert fresh.post("/login", data={"username": officer.username, "password": TEST_PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code != 302
    assert "Leaving Bank" not in logged_in(app, owner).get("/enterprise/authorizations?lang=en").get_data(as_text=True)
    need = FinancingNeed(uscc=make_enterprise().uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    refresh_matches(db_session, need)
    assert product.id not in set(db_session.scalars(sa.select(Application.product_id)
                                                    .where(Application.need_id == need.id)))
    assert db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "bank_deactivated")).one()


def test_a_bank_still_onboarding_is_not_shown_to_smes(app, make_user, make_bank, make_product):
    onboarding = make_bank(name_zh="筹备银行", name_en="Onboarding Bank")
    live = make_bank(name_zh="在线银行", name_en="Live Bank")
    make_product(bank=live)
    make_user(Role.BANK, bank_id=onboarding.id, is_tenant_admin=True)
    page = logged_in(app, make_user(Role.ENTERPRISE, is_tenant_admin=True)).get(
        "/enterprise/authorizations?lang=en").get_data(as_text=True)
    assert "Live Bank" in page
    assert "Onboarding Bank" not in page
    make_product(bank=onboarding)  # its first product on offer: it goes live for SMEs
    page = logged_in(app, make_user(Role.ENTERPRISE, is_tenant_admin=True)).get(
        "/enterprise/authorizations?lang=en").get_data(as_text=True)
    assert "Onboarding Bank" in page


def test_a_deactivated_bank_is_reactivated_by_the_admin_with_fresh_logins_and_an_audit_entry(
        app, client, login, db_session, make_user, make_bank, make_product, make_enterprise):
    bank = make_bank(name_zh="回归银行", name_en="Returning Bank")
    product = make_product(bank=bank)
    officer = make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True)
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    old_session = logged_in(app, officer)
    admin = make_user(Role.ADMIN)
    login(admin)
    path = f"/admin/banks/{bank.id}"
    client.post(f"{path}/deactivate", data={"csrf_token": csrf_token(client, path), "confirm": "y"})
    db_session.expire_all()
    assert not bank.is_active
    page = client.get(path).get_data(as_text=True)
    assert "重新启用该银行" in page
    assert "Reactivate this bank" in client.get(f"{path}?lang=en").get_data(as_text=True)
    client.get(f"{path}?lang=zh")
    # not without the tick box
    client.post(f"{path}/reactivate", data={"csrf_token": csrf_token(client, path)})
    db_session.expire_all()
    assert not bank.is_active
    response = client.post(f"{path}/reactivate", data={"csrf_token": csrf_token(client, path), "confirm": "y"})
    assert response.status_code == 302
    assert "已重新启用合作银行 回归银行。" in client.get(response.headers["Location"]).get_data(as_text=True)
    db_session.expire_all()
    assert bank.is_active
    assert old_session.get("/bank/").status_code == 302  # a session from before does not come back
    assert logged_in(app, officer).get("/bank/").status_code == 200  # a fresh login works
    assert "Returning Bank" in logged_in(app, owner).get("/enterprise/authorizations?lang=en").get_data(as_text=True)
    need = FinancingNeed(uscc=make_enterprise().uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    refresh_matches(db_session, need)
    assert product.id in set(db_session.scalars(sa.select(Application.product_id).where(Application.need_id == need.id)))
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "bank_activated")).one()
    assert entry.actor_user_id == admin.id
    assert entry.detail["bank_id"] == bank.id
    # the admin's audit page words it
    assert "启用银行" in client.get("/admin/audit?action=bank_activated").get_data(as_text=True)


def test_reactivating_is_for_the_admin_only_and_an_unknown_bank_is_a_404(app, client, login, make_user, make_bank):
    bank = make_bank()
    officer = make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True)
    login(officer)
    assert client.post(f"/admin/banks/{bank.id}/reactivate",
                       data={"csrf_token": csrf_token(client, "/bank/"), "confirm": "y"}).status_code == 403
    admin_browser = logged_in(app, make_user(Role.ADMIN))
    assert admin_browser.post("/admin/banks/987654321/reactivate",
                              data={"csrf_token": csrf_token(admin_browser, "/admin/banks"), "confirm": "y"}).status_code == 404
