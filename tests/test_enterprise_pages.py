"""The portal as a whole: every string translated, every page in both languages, nothing inline or foreign."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from models.identity import Role
from xinyidai.domain import needs as operations
from xinyidai.enterprise import queries
from xinyidai.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/enterprise/needs", "/enterprise/needs/new", "/enterprise/applications", "/enterprise/profile",
         "/enterprise/authorizations", "/enterprise/notifications", "/enterprise/staff")


def test_every_portal_string_has_an_english_translation():
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {message.id for message in catalogue if message.id and message.string and not message.fuzzy}
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    found = []
    for folder in (ROOT / "templates", ROOT / "xinyidai"):
        for filename, _line, message, _comments, _context in extract_from_dir(
                folder, [("**.html", "jinja2"), ("**.py", "python")], keywords=keywords):
            if filename.startswith("enterprise/"):
                found.append((filename, message if isinstance(message, str) else message[0]))
    assert len(found) > 300
    assert [(f, m) for f, m in found if m not in translated] == []


@pytest.fixture
def portal(client, db_session, make_user, make_product, login):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    make_product()
    need, _ = operations.publish_need(db_session, owner, {"amount_fen": 50_000_000, "term_months": 12,
                                                           "purpose": "设备购置", "guarantee_types": ["信用"],
                                                           "contact_preference": "电话"})
    db_session.commit()
    login(owner)
    application = queries.applications(db_session, owner.enterprise_uscc)[0]
    return [*PAGES, f"/enterprise/needs/{need.id}", f"/enterprise/needs/{need.id}/edit",
            f"/enterprise/applications/{application.id}", "/register"]


def test_every_page_renders_in_chinese_and_english_without_inline_script_or_foreign_assets(client, portal):
    for path in portal[:-1]:  # /register: only for visitors who are not logged in
        for lang, marker in (("zh", '<html lang="zh-CN">'), ("en", '<html lang="en">')):
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code == 200, path
            page = response.get_data(as_text=True)
            assert marker in page
            assert "/static/enterprise.css" in page
            assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
            assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", page), path
            assert " style=" not in page.split("<main")[1], path


def test_english_pages_carry_no_untranslated_chinese_of_the_portals_own(client, portal):
    """Chinese left on an English page may only be data (names, purposes stored in Chinese, enum values)."""
    allowed = re.compile(r"上海测试科技有限公司|科创贷\d+|测试银行\d+|中文")
    for path in portal[:-1]:
        page = client.get(f"{path}?lang=en").get_data(as_text=True)
        main = page.split("<main")[1].split("</main>")[0]
        visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(svg|textarea|option)[^>]*>.*?</\1>", " ", main, flags=re.S))
        leftovers = [w for w in re.findall(r"[\u4e00-\u9fff]+", allowed.sub("", visible))]
        assert leftovers == [], (path, leftovers)


def test_the_registration_page_in_both_languages(client):
    for lang, words in (("zh", "企业注册"), ("en", "Register your enterprise")):
        page = client.get(f"/register?lang={lang}").get_data(as_text=True)
        assert words in page
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    main = page.split("<main")[1].split("</main>")[0]
    assert re.findall(r"[\u4e00-\u9fff]+", re.sub(r"<[^>]+>", " ", main)) == []
