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
    """Load a provider delivery (CSV or JSON Lines): SOURCE is one of the sources listed below."""
    report_dir = Path(current_app.instance_path) / "deliveries"
    with tqdm(desc=f"{source}", unit=" rows", disable=as_json or None, leave=False) as bar:
        try:
            summary = ingest_file(db.session, source, file, file_format=file_format, report_dir=report_dir,
                                  progress=bar.update, received_by="xyd ingest")
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


@click.command("ingest-inbox")
@click.argument("inbox", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary per file.")
@with_appcontext
def ingest_inbox_command(inbox: Path, as_json: bool) -> None:
    """Load every delivery waiting in INBOX (files named SOURCE_anything.csv|.jsonl), oldest first;
    each moves to INBOX/done/ or INBOX/failed/ (the systemd ingest timer runs this)."""
    failures = 0
    for path in sorted((p for p in inbox.iterdir() if p.is_file() and p.suffix in (".csv", ".jsonl", ".ndjson")),
                       key=lambda p: p.stat().st_mtime):
        source = next((s for s in sorted(SOURCES, key=len, reverse=True) if path.name.startswith(s + "_")), None)
        try:
            if source is None:
                raise DeliveryError(f"文件名应以数据源开头，如 tax_2026-10.csv（file name must start with a source: {path.name}）")
            summary = ingest_file(db.session, source, path, report_dir=Path(current_app.instance_path) / "deliveries",
                                  received_by="xyd ingest-inbox")
        except DeliveryError as error:
            failures += 1
            target = _move(path, inbox / "failed")
            click.echo(json.dumps({"file": str(target), "error": str(error)}, ensure_ascii=False) if as_json
                       else f"FAILED {path.name}: {error}", err=not as_json)
            continue
        _move(path, inbox / "done")
        if summary.rejection_report and Path(summary.rejection_report).parent == path.parent:
            _move(Path(summary.rejection_report), inbox / "done")
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False) if as_json else
                   f"{path.name}: {summary.rows} rows, {summary.inserted} inserted, {summary.updated} updated, "
                   f"{summary.unchanged} unchanged, {summary.rejected} rejected")
    if failures:
        raise SystemExit(1)


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    path.replace(target)
    return target
