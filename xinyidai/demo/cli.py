"""`xyd demo seed` and `xyd demo logins`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

demo_group = click.Group("demo", help="Generate and inspect the demo population.")


@demo_group.command("seed")
@click.option("--enterprises", default=2000, show_default=True, type=click.IntRange(min=50),
              help="How many enterprises to generate.")
@click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same files and data.")
@with_appcontext
def seed_command(enterprises: int, seed: int) -> None:
    """Write delivery files for every source under <instance>/demo/, load them through ingestion, and add
    banks, products, users and a lending history; <instance>/demo/truth.csv holds the hidden PDs."""
    from xinyidai.demo.seed import seed_demo
    from xinyidai.demo.store import DemoAlreadySeeded
    from xinyidai.extensions import db

    try:
        summary = seed_demo(db.session, Path(current_app.instance_path), enterprises=enterprises, seed=seed)
    except DemoAlreadySeeded as error:
        raise click.ClickException(str(error)) from None
    for source, delivery in summary["deliveries"].items():
        click.echo(f"{source:17} {delivery['rows']:>9} rows, {delivery['rejected']} rejected, "
                   f"{delivery['seconds']:>6.1f} s ({delivery['rows_per_second']} rows/s)")
    click.echo(f"enterprises {summary['enterprises']}, banks {summary['banks']}, products {summary['products']}, "
               f"needs {summary['needs']}, applications {summary['applications']}, "
               f"events {summary['application_events']}, loan performance rows {summary['loan_performance']}")
    click.echo("applications by state: " + ", ".join(f"{k} {v}" for k, v in summary["applications_by_state"].items()))
    click.echo(f"historical loans {summary['historical_loans']}, 12-month default rate "
               f"{summary['default_rate']:.2%}, AUC of true PD {summary['true_pd_auc']:.3f}")
    click.echo(f"files in {summary['folder']}; seconds: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    click.echo("logins: xyd demo logins")


@demo_group.command("logins")
@click.option("--all", "every_account", is_flag=True, help="Every demo account, not one per role.")
def logins_command(every_account: bool) -> None:
    """Print the demo logins (one per role): role, username, password, what the account shows."""
    from xinyidai.demo.logins import demo_logins

    for login in demo_logins(every_account=every_account):
        click.echo(f"{login['role']:<10} {login['username']:<22} {login['password']}  {login['description']}")
