from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from models.enterprise import Enterprise
from xinyidai.extensions import db


@click.command("setup")
@click.option("--enterprises", default=2000, show_default=True, type=click.IntRange(min=50),
              help="Size of the demo population generated into an empty database.")
@with_appcontext
def setup_command(enterprises: int) -> None:
    """Create or migrate the database; on an empty one, generate the demo population; train and score with a
    first model if none is active; print demo logins."""
    from flask_migrate import upgrade

    from xinyidai.demo.logins import demo_logins
    from xinyidai.demo.seed import seed_demo

    upgrade()
    database = db.engine.url.render_as_string(hide_password=True)
    if db.session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 0:
        click.echo(f"Empty database ({database}): generating the demo population of {enterprises} enterprises…")
        summary = seed_demo(db.session, Path(current_app.instance_path), enterprises=enterprises, seed=7)
        click.echo(f"  {summary['enterprises']} enterprises, {summary['applications']} applications, "
                   f"{summary['seconds']['total']:.0f} s")
    else:
        click.echo(f"Database ready ({database}); existing data kept.")
    from xinyidai.domain.scoring import ensure_model

    model = ensure_model(db.session, Path(current_app.instance_path))
    db.session.commit()
    if model is None:
        click.echo("No model yet: too few bank-reported loan outcomes to train one (xyd ml train later).")
    else:
        click.echo(f"Active model {model.version}; every enterprise scored.")
        from xinyidai.demo.joint import seed_joint_models

        seed_joint_models(db.session, Path(current_app.instance_path), progress=click.echo)
    click.echo("\nDemo logins (one per role):")
    for login in demo_logins():
        click.echo(f"  {login['role']:<10} {login['username']:<22} {login['password']}  {login['description']}")
