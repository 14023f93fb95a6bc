"""`xyd bank …`: participating banks and their API tokens, for operators and scripts."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from models.lending import Bank
from xinyidai.domain.errors import Invalid
from xinyidai.domain.sla import release_unclaimed
from xinyidai.domain.tokens import issue_token
from xinyidai.extensions import db

bank_group = click.Group("bank", help="Participating banks and their API tokens.")
token_group = click.Group("token", help="Bank API tokens (shown once, stored hashed).")
bank_group.add_command(token_group)


@bank_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of {id, name, code} (name in Chinese).")
@with_appcontext
def list_banks(as_json: bool) -> None:
    """The participating banks."""
    banks = db.session.scalars(sa.select(Bank).order_by(Bank.id)).all()
    if as_json:
        click.echo(json.dumps([{"id": b.id, "name": b.name_zh, "code": b.code} for b in banks], ensure_ascii=False))
        return
    for bank in banks:
        status = "" if bank.is_active else "\t(inactive)"
        click.echo(f"{bank.id}\t{bank.code}\t{bank.name_zh}\t{bank.name_en}{status}")


@token_group.command("create")
@click.argument("bank")
@click.option("--name", "label", default="cli", show_default=True, help="A label to tell the token apart.")
@with_appcontext
def create_token(bank: str, label: str) -> None:
    """Create an API token for BANK (its code or id) and print it; it cannot be shown again."""
    found = db.session.scalar(sa.select(Bank).where(Bank.code == bank))
    if found is None and bank.isdigit() and int(bank) < 2**31:
        found = db.session.get(Bank, int(bank))
    if found is None:
        raise click.ClickException(f"no bank with code or id {bank!r}; see `xyd bank list`")
    try:
        issued = issue_token(db.session, found, label)
    except Invalid as error:
        raise click.ClickException("; ".join(m for messages in error.errors.values() for m in messages)) from error
    db.session.commit()
    click.echo(issued.token)
    click.echo(f"token {issued.record.prefix}… for {found.code} created; it is not stored and cannot be shown again",
               err=True)


@bank_group.command("release-unclaimed")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON object.")
@with_appcontext
def release_unclaimed_command(as_json: bool) -> None:
    """Hand needs no bank claimed within the claim SLA to the next matching banks (safe to run often)."""
    sla_days = current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"]
    run = release_unclaimed(db.session, sla_working_days=sla_days)
    db.session.commit()
    if as_json:
        click.echo(json.dumps({"sla_working_days": sla_days, **run.as_dict()}, ensure_ascii=False))
        return
    for release in run.released:
        lapsed = ", ".join(str(a.bank_id) for a in release.lapsed)
        offered = ", ".join(str(a.bank_id) for a in release.offered)
        click.echo(f"need {release.need_id}: lapsed at bank(s) {lapsed}; offered to bank(s) {offered}")
    summary = run.as_dict()
    click.echo(f"{summary['released_needs']} need(s) released past the {sla_days}-working-day claim SLA "
               f"({summary['lapsed_matches']} lapsed match(es) withdrawn, {summary['new_matches']} new match(es)); "
               f"{len(run.kept)} need(s) past the SLA kept: no other matching bank may take them")
