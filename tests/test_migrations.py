"""Migrating an empty database gives exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from models import Base
from models.identity import District
from tests.live_server import throwaway_database
from xinyidai import create_app
from xinyidai.extensions import db


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new database: a SQLite file, or a throw-away PostgreSQL database beside the test one."""
    with throwaway_database(tmp_path) as url:
        yield url


def test_migrations_reproduce_the_models(empty_database_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "XYD_INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
            districts = connection.scalar(sa.select(sa.func.count()).select_from(District))
        db.engine.dispose()
    assert differences == []
    assert districts == 17  # 16 districts and the city office



def seed_a_bank_at_work(session) -> None:
    """A bank, its officer, a product, an enterprise with a need matched and claimed: rows that reference products,
    users and applications, as any deployment in use has."""
    from datetime import date

    from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
    from models.identity import Role
    from models.lending import Application, ApplicationState, Bank, FinancingNeed, GuaranteeType, Product
    from tests.conftest import TEST_PASSWORD, fresh_uscc
    from xinyidai.domain.users import new_user

    bank = Bank(code="MIGRATE", name_zh="迁移测试银行", name_en="Migration Test Bank")
    enterprise = Enterprise(uscc=fresh_uscc("310104"), name="上海迁移测试有限公司", district_code="310104",
                            industry_section="C", industry_division="39", established_on=date(2016, 3, 1),
                            registered_capital_fen=200_000_000, status=EnterpriseStatus.OPERATING,
                            size_class=SizeClass.SMALL)
    session.add_all([bank, enterprise])
    session.flush()
    officer = new_user(username="migrate-officer", display_name="迁移客户经理", role=Role.BANK, bank_id=bank.id,
                       password=TEST_PASSWORD)
    product = Product(bank_id=bank.id, code="M1", name_zh="迁移贷", name_en="Migration loan", min_amount_fen=10_000_000,
                      max_amount_fen=500_000_000, min_term_months=3, max_term_months=36, min_rate_bp=300,
                      max_rate_bp=480, guarantee_type=GuaranteeType.CREDIT)
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    session.add_all([officer, product, need])
    session.flush()
    session.add(Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=enterprise.uscc,
                            state=ApplicationState.CLAIMED, claimed_by_id=officer.id, match_rank=0.9))


def test_a_database_in_use_migrates_down_a_round_and_back_up_keeping_every_row(empty_database_url, tmp_path):
    """SQLite alters a table by recreating it; on a database whose rows reference that table (an embedded
    deployment in use) the recreation must neither fail on a foreign key nor lose a row, in either direction."""
    from flask_migrate import downgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "XYD_INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade()
        # its own session: the suite's `db_session` has bound `db.session` to the unit-test database
        with Session(db.engine) as session:
            seed_a_bank_at_work(session)
            session.commit()
        tables = ["banks", "enterprises", "products", "financing_needs", "applications", "users"]

        def counts():
            with db.engine.connect() as connection:
                return {t: connection.scalar(sa.text(f"SELECT count(*) FROM {t}")) for t in tables}  # noqa: S608

        before = counts()
        downgrade(revision="0012")
        after_downgrade = counts()
        upgrade()
        after_upgrade = counts()
        db.engine.dispose()
    assert before["applications"] == 1
    assert after_downgrade == before
    assert after_upgrade == before


def test_a_downgrade_below_the_guarantors_is_refused_while_guarantor_staff_exist(empty_database_url, tmp_path):
    from flask_migrate import downgrade

    from models.guarantee import Guarantor
    from models.identity import Role
    from tests.conftest import TEST_PASSWORD
    from xinyidai.domain.users import new_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "XYD_INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade()
        with Session(db.engine) as session:
            guarantor = Guarantor(code="MIGG", name_zh="迁移担保", name_en="Migration Guarantee")
            session.add(guarantor)
            session.flush()
            session.add(new_user(username="migrate-guarantor", display_name="担保员", role=Role.GUARANTOR,
                                 guarantor_id=guarantor.id, password=TEST_PASSWORD))
            session.commit()
        with pytest.raises(SystemExit):  # Flask-Migrate reports the migration's RuntimeError and exits 1
            downgrade(revision="0012")
        with db.engine.connect() as connection:
            staff = connection.scalar(sa.text("SELECT count(*) FROM users WHERE role = 'guarantor'"))
        db.engine.dispose()
    assert staff == 1
