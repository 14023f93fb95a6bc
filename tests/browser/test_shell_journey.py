"""The base shell in a real browser: every role logs in, lands on its page, switches language, logs out."""

from __future__ import annotations

import pytest

from models.identity import Role
from tests.browser.conftest import log_in


@pytest.mark.parametrize("role", list(Role))
def test_each_role_logs_in_and_lands_on_its_page(page, live_instance, role):
    _, users = live_instance
    log_in(page, users[role])
    page.wait_for_url(f"**/{role.value}/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.external_requests == []


def test_language_switch_and_logout(page, live_instance):
    _, users = live_instance
    log_in(page, users[Role.BANK])
    page.wait_for_url("**/bank/")
    page.goto("/bank/?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto("/bank/")
    assert page.locator("html").get_attribute("lang") == "en"  # remembered
    page.locator("form[action$='/logout'] button").click()
    page.wait_for_url("**/login")
    page.goto("/bank/")
    assert "/login" in page.url


def test_wrong_password_shows_a_message_and_stays_on_login(page, live_instance):
    _, users = live_instance
    log_in(page, users[Role.OFFICE], password="wrong")  # noqa: S106
    assert "/login" in page.url
    assert page.locator(".flash").count() == 1
