"""Shared fixtures: one app per session, every test inside a rolled-back transaction.

SQLite by default; set TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run
the same suite against PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Bank
from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.domain.users import new_user
from xinyidai.extensions import db
from xinyidai.i18n import compile_catalogues, forget_loaded_translations
from xinyidai.uscc import ALPHABET, make_uscc

TEST_PASSWORD = "correct horse battery staple"


def database_url(tmp_path_factory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production.

    `db_session` keeps an app context pushed for the whole test, and Flask would reuse it for every
    request: `g` would then carry flask-login's user, Flask-Babel's locale and Flask-WTF's CSRF token
    from one request (and one client) to the next, hiding logout, session-expiry and language bugs.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def app_with_schema(config: dict, *, fresh: bool = False):
    """An app whose database holds the schema and the reference rows (`fresh`: dropped first, for a
    database that outlives the run), its test client opening an app context per request."""
    app = create_app(config)
    app.test_client_class = FreshContextClient
    with app.app_context():
        if fresh:
            db.drop_all()
        db.create_all()
        with db.engine.begin() as connection:
            ensure_reference_data(connection)
    return app


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    # A fresh checkout has no compiled .mo files: build any missing or stale one so English is testable.
    compile_catalogues()
    app = app_with_schema({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "XYD_RATELIMIT": False,  # the suite logs in hundreds of times from one address
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory),
        "XYD_INSTANCE_PATH": str(instance),
        # The office views read the pre-aggregated cube, as served; rebuilt at the first view after any change
        # (a test that needs an aged cube sets its age), so a page shows what the test just recorded.
        "XYD_OFFICE_PREAGGREGATE": True,
        "XYD_OFFICE_MAX_AGE_SECONDS": 0,
    }, fresh=True)
    forget_loaded_translations(app)
    yield app
    with app.app_context():
        db.engine.dispose()


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks the engine per model; in tests everything must use the one
    connection that holds the outer, rolled-back transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture(autouse=True)
def db_session(app):
    """Every test runs in a transaction that is rolled back; code under test may commit freely
    (commits become SAVEPOINT releases — SQLAlchemy's "join a session into an external transaction")."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": ConnectionBoundSession}
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def fresh_office_cube(app):
    """No office cube (in this process or as the host's snapshot) outlives its test: the rolled-back
    transactions reuse ids, and the cube's data version is made of ids."""
    from xinyidai.domain.figures import cube

    def forget():
        cube.forget_cube()
        (Path(app.config["XYD_INSTANCE_PATH"]) / "cache" / cube.SNAPSHOT).unlink(missing_ok=True)

    forget()
    yield
    forget()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


_serial = itertools.count(1)


def fresh_uscc(division: str = "310115") -> str:
    """A valid USCC never used before in this test session."""
    n = next(_serial)
    body = "MA1" + "".join(ALPHABET[(n // 31**i) % 31] for i in range(5))
    body = re.sub("[IOSVZ]", "0", body)
    return make_uscc("91", division, body)


@pytest.fixture
def make_enterprise(db_session):
    def make(**fields) -> Enterprise:
        district = fields.pop("district_code", "310115")
        enterprise = Enterprise(
            uscc=fields.pop("uscc", None) or fresh_uscc(district),
            name=fields.pop("name", "上海测试科技有限公司"),
            district_code=district,
            industry_section=fields.pop("industry_section", "I"),
            industry_division=fields.pop("industry_division", "65"),
            established_on=fields.pop("established_on", date(2018, 5, 1)),
            registered_capital_fen=fields.pop("registered_capital_fen", 5_000_000_00),
            status=fields.pop("status", EnterpriseStatus.OPERATING),
            size_class=fields.pop("size_class", SizeClass.SMALL),
            **fields,
        )
        db_session.add(enterprise)
        db_session.flush()
        return enterprise

    return make


@pytest.fixture
def make_bank(db_session):
    def make(**fields) -> Bank:
        n = next(_serial)
        bank = Bank(code=fields.pop("code", f"BANK{n}"), name_zh=fields.pop("name_zh", f"测试银行{n}"),
                    name_en=fields.pop("name_en", f"Test Bank {n}"), **fields)
        db_session.add(bank)
        db_session.flush()
        return bank

    return make


@pytest.fixture
def make_guarantor(db_session):
    """make_guarantor() adds a guarantee institution (政府性融资担保) with one active guarantee product:
    1 % fee, 80 % coverage, up to 10 million yuan; `guarantor.test_product` is that product."""
    from models.guarantee import GuaranteeProduct, Guarantor

    def make(**fields) -> Guarantor:
        n = next(_serial)
        guarantor = Guarantor(code=fields.pop("code", f"GUAR{n}"), name_zh=fields.pop("name_zh", f"测试融资担保{n}"),
                              name_en=fields.pop("name_en", f"Test Guarantee {n}"), **fields)
        db_session.add(guarantor)
        db_session.flush()
        product = GuaranteeProduct(guarantor_id=guarantor.id, code="PG", name_zh="批次担保", name_en="Batch guarantee",
                                   fee_rate_bp=100, coverage_bp=8000, max_amount_fen=10_000_000_00)
        db_session.add(product)
        db_session.flush()
        guarantor.test_product = product
        return guarantor

    return make


@pytest.fixture
def make_user(db_session, make_enterprise, make_bank, make_guarantor):
    """make_user(Role.BANK) creates the tenant too unless one is given."""

    def make(role: Role, **fields):
        n = next(_serial)
        if role is Role.ENTERPRISE and "enterprise_uscc" not in fields:
            fields["enterprise_uscc"] = make_enterprise().uscc
        if role is Role.BANK and "bank_id" not in fields:
            fields["bank_id"] = make_bank().id
        if role is Role.GUARANTOR and "guarantor_id" not in fields:
            fields["guarantor_id"] = make_guarantor().id
        if role is Role.OFFICE and "district_code" not in fields:
            fields["district_code"] = "310115"
        user = new_user(username=fields.pop("username", f"{role.value}{n}"),
                        display_name=fields.pop("display_name", f"{role.value} user {n}"),
                        role=role, password=fields.pop("password", TEST_PASSWORD), **fields)
        db_session.add(user)
        db_session.flush()
        return user

    return make


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login(client):
    """login(user) logs the test client in through the real login form (CSRF included)."""

    def do_login(user, password: str = TEST_PASSWORD):
        response = client.post("/login", data={"username": user.username, "password": password,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do_login


def count_rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def make_product(db_session, make_bank):
    from models.lending import GuaranteeType, Product

    def make(bank=None, **fields) -> Product:
        bank = bank or make_bank()
        n = next(_serial)
        product = Product(
            bank_id=bank.id, code=fields.pop("code", f"P{n}"), name_zh=fields.pop("name_zh", f"科创贷{n}"),
            name_en=fields.pop("name_en", f"Tech loan {n}"),
            min_amount_fen=fields.pop("min_amount_fen", 10_000_000), max_amount_fen=fields.pop("max_amount_fen", 300_000_000),
            min_term_months=fields.pop("min_term_months", 3), max_term_months=fields.pop("max_term_months", 36),
            min_rate_bp=fields.pop("min_rate_bp", 300), max_rate_bp=fields.pop("max_rate_bp", 480),
            guarantee_type=fields.pop("guarantee_type", GuaranteeType.CREDIT), **fields,
        )
        db_session.add(product)
        db_session.flush()
        return product

    return make


@pytest.fixture
def make_application(db_session, make_enterprise, make_product):
    """An application in state `matched` for a fresh need (or the given one) and product."""
    from models.lending import Application, FinancingNeed

    def make(product=None, need=None, **fields) -> Application:
        product = product or make_product()
        if need is None:
            enterprise = make_enterprise()
            need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                                 guarantee_types=["信用"])
            db_session.add(need)
            db_session.flush()
        application = Application(need_id=need.id, product_id=product.id, bank_id=product.bank_id, uscc=need.uscc,
                                  **fields)
        db_session.add(application)
        db_session.flush()
        return application

    return make


@pytest.fixture
def make_bank_model(db_session):
    """make_bank_model(bank) adds an (empty) sample and a model version of it for the bank, with no files:
    enough for routes that look them up (its promotion fails with "model files unavailable")."""
    from models.joint import BankModelVersion, BankSample

    def make(bank) -> tuple:
        n = next(_serial)
        sample = BankSample(bank_id=bank.id, sha256=f"{n:064d}", filename="sample.csv", file_format="csv", rows=0,
                            accepted=0, rejected=0, defaults=0, rejections=[])
        db_session.add(sample)
        db_session.flush()
        version = BankModelVersion(version=f"{bank.code}-test-{n}", bank_id=bank.id, sample_id=sample.id, path="-",
                                   card={}, report={})
        db_session.add(version)
        db_session.flush()
        return sample, version

    return make
