"""Browser tests: Playwright driving Debian's Chromium against a live gunicorn.

They need /usr/bin/chromium (`make test` installs Debian's package when it is missing). Set
XYD_CHROMIUM to use another binary.
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import pytest
from flask_migrate import upgrade

from models.identity import Role
from tests.conftest import TEST_PASSWORD
from tests.live_server import free_port, gunicorn, throwaway_database
from xinyidai import create_app
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

T = TypeVar("T")

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser is a browser test (pytest -m "not browser" leaves them out)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def seed_database(url: str, folder, seed: Callable[[], T], **config) -> T:
    """Migrate the throwaway database at `url` and run `seed()` inside a short-lived app's context, then commit;
    returns what `seed` returned. It leaves no connection open: the session is removed before the engine is
    disposed, so nothing checked out survives into a pool that is later garbage-collected (on PostgreSQL an
    unclosed psycopg connection is a ResourceWarning that fails whichever later test happens to collect it)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "XYD_INSTANCE_PATH": str(folder), "SECRET_KEY": "live-seed",
                      "XYD_RATELIMIT": False, **config})
    with app.app_context():
        upgrade()
        result = seed()
        db.session.commit()
        db.session.remove()
        assert db.engine.pool.checkedout() == 0, "seeding left a database connection checked out"
        db.engine.dispose()
    return result


def local_only_page(browser, base_url: str, *, width: int = 1280, height: int = 900, **context_options):
    """A page in a fresh browser context (no cookies) whose requests may only go to `base_url`: any other request
    is aborted and listed in `page.external_requests`; console errors are listed in `page.console_errors`.
    Close it with `page.context.close()`."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height}, **context_options)
    page = context.new_page()
    page.external_requests, page.console_errors = [], []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))

    def only_local(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            page.external_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return page


def chromium_path() -> str:
    path = os.environ.get("XYD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail(f"Chromium not found at {path}: run `make test` (it installs Debian's chromium) or set XYD_CHROMIUM")
    return path


@pytest.fixture(autouse=True)
def db_session():
    """Browser tests talk to their own live databases through gunicorn and short-lived apps. The suite's autouse
    `db_session` would swap `db.session` for one bound to the unit-test database's rolled-back transaction, so
    anything a browser test wrote "into the live database" would silently land there instead."""
    return None


@pytest.fixture(scope="module", autouse=True)
def collect_garbage_after_each_journey():
    """Collect garbage as each journey's module ends, so an unclosed database connection its set-up leaked fails
    that journey (as an unraisable ResourceWarning) rather than whichever later test the collector runs in."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    """The live server's app on its own migrated database with one user per role: (app, users). A test that
    needs records the browser cannot make writes them through this app, inside its app context."""
    folder = tmp_path_factory.mktemp("live")
    with throwaway_database(folder) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "XYD_INSTANCE_PATH": str(folder), "SECRET_KEY": "live-test",
                          "XYD_RATELIMIT": False})
        with app.app_context():
            upgrade()
            users = seed_users()
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        yield app, users
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def live_instance(live_app):
    """The live app served by gunicorn; yields (base URL, users)."""
    app, users = live_app
    environment = {"XYD_INSTANCE_PATH": app.config["XYD_INSTANCE_PATH"],
                   "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "live-test",
                   "XYD_RATELIMIT": "0"}
    with gunicorn(environment, free_port()) as base_url:
        yield base_url, users


def seed_users() -> dict[Role, str]:
    from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
    from models.guarantee import Guarantor
    from models.lending import Bank
    from tests.conftest import fresh_uscc

    bank = Bank(code="LIVEBANK", name_zh="浦江测试银行", name_en="Pujiang Test Bank")
    enterprise = Enterprise(uscc=fresh_uscc("310117"), name="上海松江浏览器测试有限公司", district_code="310117",
                            industry_section="C", industry_division="39", established_on=date(2015, 1, 1),
                            registered_capital_fen=100_000_000, status=EnterpriseStatus.OPERATING, size_class=SizeClass.SMALL)
    guarantor = Guarantor(code="LIVEGUAR", name_zh="松江测试融资担保", name_en="Songjiang Test Guarantee")
    db.session.add_all([bank, enterprise, guarantor])
    db.session.flush()
    tenants = {Role.ENTERPRISE: {"enterprise_uscc": enterprise.uscc}, Role.BANK: {"bank_id": bank.id},
               Role.OFFICE: {"district_code": "310117"}, Role.ADMIN: {}, Role.GUARANTOR: {"guarantor_id": guarantor.id}}
    users = {}
    for role, tenant in tenants.items():
        username = f"live-{role.value}"
        db.session.add(new_user(username=username, display_name=f"{role.value} 测试用户", role=role,
                                password=TEST_PASSWORD, **tenant))
        users[role] = username
    return users


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_instance):
    """A phone-sized page in a fresh browser context whose requests may only go to the live server."""
    base_url, _ = live_instance
    page = local_only_page(browser, base_url, width=390, height=844)
    yield page
    page.context.close()


def log_in(page, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
