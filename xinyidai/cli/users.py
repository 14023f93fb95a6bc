from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext

from models.enterprise import Enterprise
from models.identity import District, Role, User
from models.lending import Bank
from xinyidai.audit import record
from xinyidai.domain import passwords
from xinyidai.domain.users import new_user
from xinyidai.extensions import db
from xinyidai.uscc import InvalidUSCC, validate_uscc

user_group = click.Group("user", help="Create platform users (the first admin, office staff, bank officers).")


@user_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", help="Name shown in the UI (default: the username).")
@click.option("--district", help="Office users: district code, 310000 for the city office.")
@click.option("--bank", "bank_code", help="Bank users: the bank's code.")
@click.option("--uscc", help="Enterprise users: the enterprise's USCC.")
@click.option("--guarantor", "guarantor_code", help="Guarantor users: the guarantee institution's code.")
@click.option("--tenant-admin", is_flag=True, help="May manage the tenant's users and API tokens.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@click.option("--must-change-password/--no-must-change-password", default=True,
              help="Ask the user to choose a new password at first login (default: yes).")
@with_appcontext
def create_user_command(username, role, display_name, district, bank_code, uscc, guarantor_code, tenant_admin,
                        password_stdin, must_change_password) -> None:
    """Create a user with a role and its tenant; the password is prompted for (never an argument)."""
    role = Role(role)
    tenant = _tenant(role, district, bank_code, uscc, guarantor_code)
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise click.ClickException(f"username {username} is taken")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if reason := passwords.weakness(password, [username, display_name or ""]):
        with current_app.test_request_context("/?lang=en"):  # the catalogue's English, as the CLI speaks
            raise click.ClickException("the password " + gettext(reason, min=passwords.MIN_LENGTH,
                                                                 max=passwords.MAX_LENGTH))
    user = new_user(username=username, display_name=display_name or username, role=role, password=password,
                    is_tenant_admin=tenant_admin, **tenant)
    user.must_change_password = must_change_password
    db.session.add(user)
    db.session.flush()
    # Who may log in, and as what, is an authorization change like any other: it goes into the audit log.
    record(db.session, "user_created", actor_label="cli", subject_uscc=tenant.get("enterprise_uscc"),
           detail={"user_id": user.id, "username": username, "role": role.value, "tenant_admin": tenant_admin,
                   "must_change_password": must_change_password,
                   **{k: v for k, v in tenant.items() if k != "enterprise_uscc"}})
    db.session.commit()
    click.echo(f"created {role.value} user {username} (id {user.id})")


def _tenant(role: Role, district: str | None, bank_code: str | None, uscc: str | None,
            guarantor_code: str | None = None) -> dict:
    given = {name for name, value in (("--district", district), ("--bank", bank_code), ("--uscc", uscc),
                                      ("--guarantor", guarantor_code)) if value}
    expected = {Role.OFFICE: {"--district"}, Role.BANK: {"--bank"}, Role.ENTERPRISE: {"--uscc"}, Role.ADMIN: set(),
                Role.GUARANTOR: {"--guarantor"}}[role]
    if given != expected:
        needed = ", ".join(sorted(expected)) or "no tenant option"
        raise click.UsageError(f"a {role.value} user takes {needed}")
    if role is Role.OFFICE:
        if db.session.get(District, district) is None:
            raise click.ClickException(f"unknown district {district}")
        return {"district_code": district}
    if role is Role.BANK:
        bank_id = db.session.scalar(sa.select(Bank.id).where(Bank.code == bank_code))
        if bank_id is None:
            raise click.ClickException(f"unknown bank {bank_code}")
        return {"bank_id": bank_id}
    if role is Role.GUARANTOR:
        from models.guarantee import Guarantor

        guarantor_id = db.session.scalar(sa.select(Guarantor.id).where(Guarantor.code == guarantor_code))
        if guarantor_id is None:
            raise click.ClickException(f"unknown guarantor {guarantor_code}")
        return {"guarantor_id": guarantor_id}
    if role is Role.ENTERPRISE:
        try:
            code = validate_uscc(uscc)
        except InvalidUSCC as error:
            raise click.ClickException(f"--uscc: {error.en}") from None
        if db.session.get(Enterprise, code) is None:
            raise click.ClickException(f"enterprise {code} is not in the registry")
        return {"enterprise_uscc": code}
    return {}
