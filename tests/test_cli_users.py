import pytest
import sqlalchemy as sa

from models.identity import Role, User
from xinyidai.domain.passwords import verify_password


def test_create_the_first_admin_with_a_password_from_stdin(cli, db_session):
    result = cli.invoke(args=["user", "create", "ops", "--role", "admin", "--password-stdin", "--no-must-change-password"],
                        input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    user = db_session.scalar(sa.select(User).where(User.username == "ops"))
    assert user.role is Role.ADMIN
    assert verify_password(user.password_hash, "a long enough secret")
    assert "a long enough secret" not in user.password_hash


def test_office_user_needs_a_real_district(cli):
    result = cli.invoke(args=["user", "create", "sj", "--role", "office", "--district", "999999", "--password-stdin"],
                        input="a long enough secret\n")
    assert result.exit_code != 0
    assert "unknown district" in result.output


def test_tenant_option_must_match_the_role(cli, make_bank):
    bank = make_bank()
    result = cli.invoke(args=["user", "create", "x", "--role", "office", "--bank", bank.code, "--password-stdin"],
                        input="a long enough secret\n")
    assert result.exit_code != 0
    assert "takes --district" in result.output


def test_bank_officer_must_change_password_at_first_login_by_default(cli, make_bank, db_session):
    bank = make_bank()
    result = cli.invoke(args=["user", "create", "officer1", "--role", "bank", "--bank", bank.code, "--password-stdin"],
                        input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    user = db_session.scalar(sa.select(User).where(User.username == "officer1"))
    assert user.bank_id == bank.id
    assert user.must_change_password


def test_short_password_is_refused_and_nothing_is_created(cli, db_session):
    result = cli.invoke(args=["user", "create", "shorty", "--role", "admin", "--password-stdin"], input="short\n")
    assert result.exit_code != 0
    assert db_session.scalar(sa.select(User).where(User.username == "shorty")) is None


@pytest.mark.parametrize(("password", "said"), [("aaaaaaaaaaaa", "repeated characters"),
                                                ("1234567890", "common password"),
                                                ("opsadmin2026", "contains the username")])
def test_a_guessable_password_is_refused_with_the_reason(cli, db_session, password, said):
    result = cli.invoke(args=["user", "create", "opsadmin", "--role", "admin", "--password-stdin"],
                        input=password + "\n")
    assert result.exit_code != 0
    assert said in result.output
    assert db_session.scalar(sa.select(User).where(User.username == "opsadmin")) is None
