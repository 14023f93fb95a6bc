"""`xyd report monthly` (融资成效月报) and `xyd monitor run` (post-loan monitoring), for systemd timers."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

report_group = click.Group("report", help="Financing-results reports for the district offices.")
monitor_group = click.Group("monitor", help="Post-loan monitoring of borrowers with outstanding loans.")


@report_group.command("monthly")
@click.option("--district", required=True, help="District code (310117), or 310000 for the whole city.")
@click.option("--month", required=True, help="Report month, YYYY-MM.")
@click.option("--format", "file_format", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="File or folder to write (default: <instance>/reports/, standard file name).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def monthly_command(district: str, month: str, file_format: str, output: Path | None, lang: str) -> None:
    """Write the monthly financing-results report of a district in its fixed layout (audited)."""
    from xinyidai.domain.figures.reports import monthly_report_file
    from xinyidai.domain.scope import OutOfScope, office_scope, parse_month
    from xinyidai.extensions import db

    parsed = parse_month(month)
    if parsed is None:
        raise click.BadParameter("expected YYYY-MM", param_hint="--month")
    try:
        scope = office_scope(district)
    except OutOfScope:
        raise click.BadParameter(f"unknown district {district}", param_hint="--district") from None
    # Labels are translated per request; a request context carries the chosen language.
    with current_app.test_request_context(f"/?lang={lang}"):
        content, _mimetype, filename = monthly_report_file(db.session, scope, parsed, file_format,
                                                           audit={"actor_label": "xyd report monthly"})
    if output is None:  # the instance folder, never wherever the command happened to be started (a timer's cwd)
        output = Path(current_app.instance_path) / "reports"
        output.mkdir(parents=True, exist_ok=True)
    path = output / filename if output.is_dir() else output
    path.write_bytes(content)
    db.session.commit()
    click.echo(f"{path} ({len(content):,} bytes)")


@monitor_group.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@with_appcontext
def monitor_run_command(as_json: bool) -> None:
    """Check every borrower with an outstanding loan; raise one alert per new event to bank and office."""
    import json
    from dataclasses import asdict

    from xinyidai.domain.monitoring import run_monitoring
    from xinyidai.extensions import db

    summary = run_monitoring(db.session)
    db.session.commit()
    if as_json:
        click.echo(json.dumps(asdict(summary), ensure_ascii=False))
        return
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_kind.items())) or "none"
    click.echo(f"checked {summary.borrowers} borrowers ({summary.loans} bank exposures): "
               f"{summary.raised} new alerts ({kinds}), {summary.already_known} already raised")
