from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("setup")
@with_appcontext
def setup_command() -> None:
    """Create or migrate the database, load reference data, seed the demo population if empty."""
    from flask_migrate import upgrade

    upgrade()


@click.command("logins")
@with_appcontext
def demo_logins_command() -> None:
    """Print one demo login per role."""
