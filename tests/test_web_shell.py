"""The web shell: language, layout, per-role landing pages with tenant-scoped content, error pages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from models.enterprise import Enterprise
from models.identity import CITY_CODE, Role
from models.lending import ApplicationState, FinancingNeed, NeedStatus, ProductStatus
from models.scoring import ModelVersion, Score, WhitelistEntry, WhitelistStatus, WhitelistVersion
from models.sources import Delivery, Source
from xinyidai.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parent.parent
HOME = {Role.ENTERPRISE: "/enterprise/", Role.BANK: "/bank/", Role.OFFICE: "/office/", Role.ADMIN: "/admin/",
        Role.GUARANTOR: "/guarantor/"}



def new_client(app):
    """A second browser (another device)."""
    return app.test_client()


def page_text(response) -> str:
    return response.get_data(as_text=True)


# ---- language --------------------------------------------------------------------------------------


def test_landing_page_is_chinese_by_default(client):
    page = page_text(client.get("/"))
    assert '<html lang="zh-CN">' in page
    assert "中小微企业融资信用服务平台" in page


def test_english_on_request_and_remembered_in_the_session(client):
    page = page_text(client.get("/?lang=en"))
    assert '<html lang="en">' in page
    assert "SME credit-financing service platform" in page
    again = page_text(client.get("/login"))
    assert '<html lang="en">' in again
    assert "Username" in again


def test_chinese_can_be_chosen_again(client):
    client.get("/?lang=en")
    page = page_text(client.get("/login?lang=zh"))
    assert '<html lang="zh-CN">' in page
    assert "用户名" in page


def test_unknown_language_falls_back_to_chinese(client):
    assert '<html lang="zh-CN">' in page_text(client.get("/?lang=fr"))


def test_language_switch_keeps_the_page_and_its_query(client):
    page = page_text(client.get("/login?next=/bank/"))
    assert 'href="/login?next=%2Fbank%2F&amp;lang=en"' in page
    assert 'aria-current="true" lang="zh"' in page


def test_english_choice_of_a_logged_in_user_follows_them_to_a_new_device(app, client, make_user, login, db_session):
    user = make_user(Role.BANK)
    login(user)
    client.get("/bank/?lang=en")
    db_session.refresh(user)
    assert user.locale == "en"
    other_device = new_client(app)
    response = other_device.post("/login", data={"username": user.username, "password": "correct horse battery staple",
                                                 "csrf_token": _token(other_device)})
    assert response.status_code == 302
    assert '<html lang="en">' in page_text(other_device.get("/bank/"))


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client)


def test_shell_strings_are_all_in_the_english_catalogue():
    """Every string the shell's templates and modules mark for translation has an English translation."""
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {message.id for message in catalogue if message.id and message.string and not message.fuzzy}
    shell_templates = ("base.html", "index.html", "error.html", "auth/", "macros/",
                       *(f"{role.value}/home.html" for role in Role))
    shell_modules = ("auth/", "web/", "errors.py", "i18n.py")
    method_map = [("**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    found = []
    for folder, owned in ((ROOT / "templates", shell_templates), (ROOT / "xinyidai", shell_modules)):
        for filename, _lineno, message, _comments, _context in extract_from_dir(
            folder, method_map, keywords=keywords
        ):
            if filename.startswith(owned):
                found.append((filename, message if isinstance(message, str) else message[0]))
    assert len(found) > 100
    assert [(f, m) for f, m in found if m not in translated] == []


def test_no_placeholder_is_lost_in_translation():
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in catalogue:
        if message.id and message.string:
            assert sorted(placeholder.findall(message.id)) == sorted(placeholder.findall(message.string)), message.id


# ---- layout ------------------------------------------------------------------------------------------

EXTERNAL = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def rendered_pages(client, make_user, login):
    """Every shell page: anonymous ones, each role's landing page, an error page, the password page."""
    pages = [client.get("/"), client.get("/login"), client.get("/no-such-page")]
    for role in Role:
        viewer = new_client(client.application)
        user = make_user(role)
        response = viewer.post("/login", data={"username": user.username, "password": "correct horse battery staple",
                                               "csrf_token": _token(viewer)})
        assert response.status_code == 302
        pages += [viewer.get(HOME[role]), viewer.get(HOME[role] + "?lang=en"), viewer.get("/account/password")]
    assert all(page.status_code in (200, 404) for page in pages)
    return [page_text(page) for page in pages]


def test_pages_load_nothing_from_the_internet(client, make_user, login):
    for page in rendered_pages(client, make_user, login):
        assert EXTERNAL.findall(page) == []
        assert "@import" not in page


def test_pages_have_the_viewport_meta_and_no_inline_script(client, make_user, login):
    for page in rendered_pages(client, make_user, login):
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        # the one shared script is a static file (CSP script-src 'self'); no script is written into a page
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.IGNORECASE | re.DOTALL)
        assert scripts == [(' src="/static/ui.js" defer', "")]
        assert " style=" not in page.lower()  # a later CSP forbids inline styles too
        assert re.search(r"\son[a-z]+\s*=", page) is None  # no inline event handlers


def test_stylesheet_loads_nothing_from_the_internet(client):
    with client.get("/static/app.css") as css:
        assert css.status_code == 200
        text = page_text(css)
    assert "@media" in text
    assert re.search(r"url\(\s*['\"]?(https?:)?//", text) is None
    assert "@import" not in text


def test_header_shows_user_role_tenant_and_a_logout_form(client, make_user, make_bank, login):
    bank = make_bank(name_zh="浦江银行", name_en="Pujiang Bank")
    user = make_user(Role.BANK, bank_id=bank.id, display_name="王信贷")
    login(user)
    page = page_text(client.get("/bank/"))
    assert "王信贷" in page
    assert "银行用户 · 浦江银行" in page
    logout_form = re.search(r'<form class="logout" method="post" action="/logout">(.*?)</form>', page, re.S)
    assert logout_form
    assert 'name="csrf_token"' in logout_form.group(1)
    assert "Bank · Pujiang Bank" in page_text(client.get("/bank/?lang=en"))


def test_navigation_marks_the_current_page(client, make_user, login):
    login(make_user(Role.OFFICE))
    page = page_text(client.get("/office/"))
    nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', page, re.S).group(1)
    assert '<a href="/office/" aria-current="page">首页</a>' in nav
    assert '<a href="/account/password">修改密码</a>' in nav
    assert "/bank/" not in nav


def test_anonymous_pages_have_no_navigation(client):
    assert 'class="site-nav"' not in page_text(client.get("/"))


def test_flash_messages_are_shown_once(client, make_user, login):
    login(make_user(Role.ADMIN))
    from tests.conftest import csrf_token

    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    page = page_text(client.get("/login"))
    assert '<p class="flash flash--info" role="status">您已退出登录。</p>' in page
    assert "您已退出登录" not in page_text(client.get("/login"))


# ---- access per role --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_page_and_is_refused_the_others(client, make_user, login, role):
    login(make_user(role))
    assert client.get("/").headers["Location"] == HOME[role]
    assert client.get("/home").headers["Location"] == HOME[role]
    assert client.get(HOME[role]).status_code == 200
    for other, path in HOME.items():
        if other is not role:
            assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("path", list(HOME.values()) + ["/home", "/account/password"])
def test_anonymous_users_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_forbidden_page_is_translated(client, make_user, login):
    login(make_user(Role.ENTERPRISE))
    response = client.get("/admin/?lang=en")
    assert response.status_code == 403
    assert "You do not have access to this page." in page_text(response)


# ---- landing-page content ---------------------------------------------------------------------------


def add_need(db_session, uscc: str, status: NeedStatus = NeedStatus.OPEN) -> FinancingNeed:
    need = FinancingNeed(uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"], status=status)
    db_session.add(need)
    db_session.flush()
    return need


def stat_value(page: str, label: str) -> str:
    match = re.search(rf'<p class="stat__label">{re.escape(label)}</p>\s*<p class="stat__value">([^<]*)</p>', page)
    assert match, label
    return match.group(1)


def count_cell(page: str, label: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(label)}</th><td class="num">([^<]*)</td>', page)
    assert match, label
    return match.group(1)


def test_enterprise_home_shows_its_own_profile_and_counts(client, db_session, make_user, make_enterprise,
                                                         make_application, login):
    mine = make_enterprise(name="上海浦江精密机械有限公司", district_code="310117", industry_section="C",
                           industry_division="34")
    add_need(db_session, mine.uscc)
    add_need(db_session, mine.uscc, NeedStatus.WITHDRAWN)
    make_application(need=add_need(db_session, mine.uscc))
    make_application()  # another enterprise's: not counted
    add_need(db_session, make_enterprise().uscc)
    login(make_user(Role.ENTERPRISE, enterprise_uscc=mine.uscc))

    page = page_text(client.get("/enterprise/"))
    assert "上海浦江精密机械有限公司" in page
    assert mine.uscc in page
    assert "松江区" in page
    assert "C34 制造业" in page
    assert stat_value(page, "融资需求") == "3"
    assert stat_value(page, "融资申请") == "1"
    assert count_cell(page, "已撤回") == "1"
    english = page_text(client.get("/enterprise/?lang=en"))
    assert "Songjiang" in english
    assert "C34 Manufacturing" in english
    assert stat_value(english, "Financing needs") == "3"


def test_bank_home_counts_only_its_own_products_and_applications(client, db_session, make_user, make_bank,
                                                                make_product, make_application, login):
    bank = make_bank(name_zh="浦江银行")
    active, paused = make_product(bank=bank), make_product(bank=bank, status=ProductStatus.PAUSED)
    make_application(product=active)
    make_application(product=active, state=ApplicationState.CLAIMED)
    make_application(product=paused, state=ApplicationState.DISBURSED)
    make_application()  # another bank's
    make_product()
    login(make_user(Role.BANK, bank_id=bank.id))

    page = page_text(client.get("/bank/"))
    assert "<h1>浦江银行</h1>" in page
    assert stat_value(page, "贷款产品") == "2"
    assert "其中在售 1 个" in page
    assert stat_value(page, "融资申请") == "3"
    assert count_cell(page, "已匹配") == "1"
    assert count_cell(page, "已受理") == "1"
    assert count_cell(page, "已放款") == "1"
    assert count_cell(page, "违约") == "0"


def publish_whitelist(db_session, district: str, usccs: list[str], status=WhitelistStatus.PUBLISHED):
    if db_session.get(ModelVersion, "test-v1") is None:
        db_session.add(ModelVersion(version="test-v1", path="/nowhere", card={}))
    version = WhitelistVersion(district_code=district, model_version="test-v1", min_grade="BBB", status=status)
    db_session.add(version)
    db_session.flush()
    for uscc in usccs:
        score = Score(uscc=uscc, model_version="test-v1", as_of=date(2024, 1, 31), pd_12m=0.01, points=700,
                      grade="A", gates_passed=True)
        db_session.add(score)
        db_session.flush()
        db_session.add(WhitelistEntry(whitelist_version_id=version.id, uscc=uscc, score_id=score.id, grade="A",
                                      change="added"))
    db_session.flush()


def test_district_office_sees_only_its_district(client, db_session, make_user, make_enterprise, login):
    songjiang = [make_enterprise(district_code="310117") for _ in range(3)]
    elsewhere = make_enterprise(district_code="310104")
    add_need(db_session, songjiang[0].uscc)
    add_need(db_session, songjiang[1].uscc, NeedStatus.CLOSED)
    add_need(db_session, elsewhere.uscc)
    publish_whitelist(db_session, "310117", [e.uscc for e in songjiang[:2]])
    publish_whitelist(db_session, "310117", [songjiang[2].uscc], status=WhitelistStatus.DRAFT)
    publish_whitelist(db_session, "310104", [elsewhere.uscc])
    login(make_user(Role.OFFICE, district_code="310117"))

    page = page_text(client.get("/office/"))
    assert "<h1>松江区</h1>" in page
    assert stat_value(page, "企业") == str(count_in_district("310117"))
    assert stat_value(page, "融资需求") == "2"
    assert "其中对接中 1 笔" in page
    assert stat_value(page, "白名单企业") == "2"
    assert "徐汇区" not in page


def count_in_district(code: str) -> int:
    import sqlalchemy as sa

    from xinyidai.extensions import db

    return db.session.scalar(sa.select(sa.func.count()).select_from(Enterprise).where(Enterprise.district_code == code))


def test_district_without_a_published_whitelist_says_so(client, make_user, login):
    login(make_user(Role.OFFICE, district_code="310151"))
    page = page_text(client.get("/office/"))
    assert stat_value(page, "白名单企业") == "0"
    assert "本区尚未发布白名单。" in page


def test_city_office_sees_all_sixteen_districts(client, db_session, make_user, make_enterprise, login):
    make_enterprise(district_code="310101")
    make_enterprise(district_code="310151")
    publish_whitelist(db_session, "310101", [make_enterprise(district_code="310101").uscc])
    login(make_user(Role.OFFICE, district_code=CITY_CODE))

    page = page_text(client.get("/office/"))
    table = re.search(r"<table.*?</table>", page, re.S).group(0)
    assert len(re.findall(r'<th scope="row">', table)) == 16
    assert "黄浦区" in table
    assert "崇明区" in table
    assert stat_value(page, "企业") == str(sum(count_in_district(code) for code in _districts()))
    assert "未发布" in table


def _districts():
    from xinyidai.reference import SHANGHAI_DISTRICTS

    return list(SHANGHAI_DISTRICTS)


def test_admin_home_counts_and_lists_the_latest_deliveries(client, db_session, make_user, make_bank, login):
    make_bank()
    for n in range(12):
        db_session.add(Delivery(source=Source.TAX, filename=f"tax-{n:02d}.csv", file_format="csv", sha256="0" * 64,
                                rows=10, inserted=9, rejected=1))
    db_session.add(ModelVersion(version="v-admin-test", path="/nowhere", card={}, is_active=True))
    db_session.flush()
    login(make_user(Role.ADMIN))

    page = page_text(client.get("/admin/"))
    import sqlalchemy as sa

    from models.identity import User
    from models.lending import Bank

    def total(model):
        return str(db_session.scalar(sa.select(sa.func.count()).select_from(model)))

    assert stat_value(page, "数据交付") == total(Delivery)
    assert stat_value(page, "用户") == total(User)
    assert stat_value(page, "合作银行") == total(Bank)
    assert stat_value(page, "模型版本") == total(ModelVersion)
    assert "当前启用：v-admin-test" in page
    assert "tax-11.csv" in page
    assert "tax-01.csv" not in page  # only the latest ten
    assert page.count("<td>税务（月度）</td>") == 10


# ---- errors ------------------------------------------------------------------------------------------


def test_not_found_page_in_english(client):
    response = client.get("/nowhere?lang=en")
    assert response.status_code == 404
    assert "Page not found." in page_text(response)
    assert '<html lang="en">' in page_text(response)


def test_method_not_allowed_keeps_the_allow_header(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_unexpected_errors_show_no_trace(client, make_user, login, monkeypatch):
    from xinyidai.web import summaries

    def broken():
        raise RuntimeError("secret detail")

    monkeypatch.setattr(summaries, "admin_summary", broken)
    login(make_user(Role.ADMIN))
    response = client.get("/admin/")
    assert response.status_code == 500
    assert "secret detail" not in page_text(response)
    assert "出错了，请稍后再试。" in page_text(response)
