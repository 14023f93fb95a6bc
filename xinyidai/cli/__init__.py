"""`xyd`: the platform's command line, a Flask CLI group around `create_app`.

Scheduled jobs (ingest, rescore, monitor, reports, upstream push) are these commands run by systemd timers.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    from xinyidai import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """XinYiDai (信易贷) platform commands."""


def init_app(app) -> None:
    from xinyidai.cli.ingest import ingest_command, ingest_inbox_command
    from xinyidai.cli.setup import setup_command
    from xinyidai.cli.users import user_group
    from xinyidai.demo.cli import demo_group

    for command in (ingest_command, ingest_inbox_command, setup_command, demo_group,
                    user_group):
        app.cli.add_command(command)
    from xinyidai.cli.bank import bank_group

    app.cli.add_command(bank_group)
    from xinyidai.cli.credit import enterprise_report_command
    from xinyidai.cli.office import monitor_group, report_group
    report_group.add_command(enterprise_report_command)
    app.cli.add_command(report_group)
    app.cli.add_command(monitor_group)
    from xinyidai.cli.ml import ml_group
    app.cli.add_command(ml_group)
    from xinyidai.cli.upstream import upstream_group
    app.cli.add_command(upstream_group)
