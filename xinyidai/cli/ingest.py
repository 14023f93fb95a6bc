from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from xinyidai.extensions import db
from xinyidai.ingest import SOURCES, DeliveryError, ingest_file


@click.command("ingest")
@click.argument("source", metavar="SOURCE")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]), help="Override the format the file name suggests.")
@click.option("--json", "as_json", is_flag=True, help="Print exactly the delivery summary as JSON.")
@with_appcontext
def ingest_command(source: str, file: Path, file_format: str | None, as_json: bool) -> None:
    """Load a provider delivery (CSV or JSON Lines): SOURCE is one of registry, tax, tax_rating,
    social_insurance, housing_fund, utilities, public_credit."""
    report_dir = Path(current_app.instance_path) / "deliveries"
    with tqdm(desc=f"{source}", unit=" rows", disable=as_json or None, leave=False) as bar:
        try:
            summary = ingest_file(db.session, source, file, file_format=file_format, report_dir=report_dir,
                                  progress=bar.update)
        except DeliveryError as error:
            raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
        return
    click.echo(
        f"delivery {summary.delivery_id} ({summary.source}): {summary.rows} rows — "
        f"{summary.inserted} inserted, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.rejected} rejected"
    )
    if summary.rejection_report:
        click.echo(f"rejection report: {summary.rejection_report}")


ingest_command.help += "\n\nSources: " + ", ".join(SOURCES)
