"""In-app notifications: what banks did to the enterprise's applications, read and unread per user."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.identity import Role
from models.lending import Application, ApplicationState, Channel
from models.notification import NotificationRead
from tests.conftest import csrf_token
from xinyidai.domain import needs as operations
from xinyidai.domain.lifecycle import Actor, transition

S = ApplicationState
NEED = {"amount_fen": 80_000_000, "term_months": 12, "purpose": "研发投入", "guarantee_types": ["信用"],
        "contact_preference": "线上"}


def text(response) -> str:
    return response.get_data(as_text=True)


def nav_count(client, lang: str = "") -> str:
    """The navigation's notifications entry as rendered on an ordinary portal page."""
    page = text(client.get("/enterprise/needs" + lang))
    return re.search(r'href="/enterprise/notifications"[^>]*>([^<]*)<', page).group(1).strip()


@pytest.fixture
def world(db_session, make_user, make_bank, make_product, login):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    bank = make_bank(name_zh="松江农商银行")
    make_product(bank=bank, name_zh="科创信用贷")
    officer = make_user(Role.BANK, bank_id=bank.id)
    need, _fits = operations.publish_need(db_session, owner, NEED)
    db_session.commit()
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id))
    login(owner)
    return {"owner": owner, "officer": officer, "application": application}


def bank_acts(db_session, officer, application, *states):
    for state in states:
        transition(db_session, application, state, Actor(Channel.WEB, user_id=officer.id))
    db_session.commit()


def mark_all_read_form(client) -> dict:
    """The fields of the "mark all read" form exactly as the notifications page renders them."""
    page = text(client.get("/enterprise/notifications"))
    form = page.split('action="/enterprise/notifications/read"')[1].split("</form>")[0]
    return dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', form))


def test_unread_bank_moves_are_counted_in_the_navigation_and_marked_read_together(client, db_session, world):
    assert nav_count(client) == "通知"
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED, S.APPROVED)
    assert nav_count(client) == "通知（2）"  # on every portal page, not only the notifications page
    assert nav_count(client, "?lang=en") == "Notifications (2)"
    assert nav_count(client, "?lang=zh") == "通知（2）"
    notes = text(client.get("/enterprise/notifications"))
    assert notes.count("ent-note--unread") == 2
    assert "银行审批通过" in notes
    assert "松江农商银行" in notes

    response = client.post("/enterprise/notifications/read", data=mark_all_read_form(client), follow_redirects=True)
    assert "已全部标为已读。" in text(response)
    assert nav_count(client) == "通知"
    page = text(client.get("/enterprise/notifications"))
    assert page.count("ent-note--unread") == 0
    assert "全部标为已读" not in page  # nothing left to mark
    assert "银行审批通过" in page  # read news stays listed


def test_the_enterprises_own_moves_are_not_news(client, db_session, world):
    path = f"/enterprise/applications/{world['application'].id}/withdraw"
    client.post(path, data={"csrf_token": csrf_token(client, "/enterprise/notifications")})
    db_session.refresh(world["application"])
    assert world["application"].state is S.WITHDRAWN
    assert nav_count(client) == "通知"
    assert "ent-note" not in text(client.get("/enterprise/notifications"))


def test_news_arriving_after_the_page_was_shown_stays_unread(client, db_session, world):
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED)
    form = mark_all_read_form(client)  # the user is looking at one notification
    bank_acts(db_session, world["officer"], world["application"], S.APPROVED)  # meanwhile the bank approves
    client.post("/enterprise/notifications/read", data=form)
    assert nav_count(client) == "通知（1）"
    page = text(client.get("/enterprise/notifications"))
    unread = page.split("ent-note--unread")[1].split("</li>")[0]
    assert "银行审批通过" in unread


def test_read_marks_are_per_user(client, db_session, world, make_user, login):
    colleague = make_user(Role.ENTERPRISE, enterprise_uscc=world["owner"].enterprise_uscc)
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED)
    client.post("/enterprise/notifications/read", data=mark_all_read_form(client))
    assert nav_count(client) == "通知"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/enterprise/needs")})
    login(colleague)
    assert nav_count(client) == "通知（1）"


def test_opening_an_application_reads_its_news_only(client, db_session, world, make_bank, make_product, make_user):
    other_bank = make_bank(name_zh="浦江银行")
    make_product(bank=other_bank, name_zh="浦江信用贷")
    need, _fits = operations.publish_need(db_session, world["owner"], NEED)
    db_session.commit()
    other = db_session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                           Application.product.has(bank_id=other_bank.id)))
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED)
    bank_acts(db_session, make_user(Role.BANK, bank_id=other_bank.id), other, S.CLAIMED)
    assert nav_count(client) == "通知（2）"

    client.get(f"/enterprise/applications/{world['application'].id}")
    assert nav_count(client) == "通知（1）"
    page = text(client.get("/enterprise/notifications"))
    unread = page.split("ent-note--unread")[1].split("</li>")[0]
    assert "浦江银行" in unread


def test_marking_read_needs_the_form_and_changes_nothing_without_it(client, db_session, world):
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED)
    form = mark_all_read_form(client)
    for broken in ({"up_to": form["up_to"]},  # no CSRF token
                   {"csrf_token": form["csrf_token"]},  # no "up to"
                   {**form, "up_to": "latest"}, {**form, "up_to": "-1"}, {**form, "up_to": str(2**31)}):
        assert client.post("/enterprise/notifications/read", data=broken).status_code == 400, broken
    assert db_session.scalar(sa.select(sa.func.count()).select_from(NotificationRead)) == 0
    assert nav_count(client) == "通知（1）"


def test_marking_read_twice_is_harmless(client, db_session, world):
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED, S.APPROVED)
    form = mark_all_read_form(client)
    assert client.post("/enterprise/notifications/read", data=form).status_code == 302
    assert client.post("/enterprise/notifications/read", data=form).status_code == 302  # a double click
    assert db_session.scalar(sa.select(sa.func.count()).select_from(NotificationRead)) == 2


def test_notifications_need_an_enterprise_login(client, db_session, world, login):
    bank_acts(db_session, world["officer"], world["application"], S.CLAIMED)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/enterprise/needs")})
    login(world["officer"])
    assert client.get("/enterprise/notifications").status_code == 403
    form = {"csrf_token": csrf_token(client, "/bank/pipeline"), "up_to": "999999"}
    assert client.post("/enterprise/notifications/read", data=form).status_code == 403
    assert db_session.scalar(sa.select(sa.func.count()).select_from(NotificationRead)) == 0
