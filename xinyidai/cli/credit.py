"""`xyd report enterprise USCC`: the enterprise's credit report (专用信用报告) as a PDF, issued and audited like
one generated on the portal (for an operator answering an enterprise that cannot use the web)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("enterprise")
@click.argument("uscc")
@click.option("--years", type=click.IntRange(1, 5), default=3, show_default=True, help="Window: years back from today.")
@click.option("--sections", default="all", show_default=True,
              help="Comma-separated: registry,public_credit,tax_ratings,continuity,platform_grade,self_declared.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--output", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="File or folder to write (default: REPORT-NUMBER.pdf in the current folder).")
@with_appcontext
def enterprise_report_command(uscc: str, years: int, sections: str, lang: str, output: Path | None) -> None:
    """Issue a credit report for one enterprise; prints the file, the report number and the verification code."""
    import time

    from models.enterprise import Enterprise
    from xinyidai.domain import credit_report
    from xinyidai.extensions import db
    from xinyidai.web import credit_report_pdf
    from xinyidai.web.verify import verify_url

    enterprise = db.session.get(Enterprise, uscc.strip().upper())
    if enterprise is None:
        raise click.BadParameter(f"no enterprise {uscc} in the registry", param_hint="USCC")
    chosen = credit_report.SECTIONS if sections == "all" else [s.strip() for s in sections.split(",") if s.strip()]
    try:
        request = credit_report.report_request(chosen, years, lang)
    except credit_report.ReportRefused as error:
        raise click.BadParameter(error.en, param_hint="--sections") from None
    base = current_app.config.get("XYD_PUBLIC_URL") or "http://localhost:5000"
    with current_app.test_request_context("/", base_url=base):
        started = time.perf_counter()
        issued = credit_report.issue_report(
            db.session, enterprise, request, render=credit_report_pdf.render, verify_url=verify_url, via="cli",
            actor_label="xyd report enterprise",
            valid_days=current_app.config.get("XYD_CREDIT_REPORT_VALID_DAYS", credit_report.VALID_DAYS))
        seconds = time.perf_counter() - started
    db.session.commit()
    name = f"{issued.report.number}.pdf"
    path = (output / name if output and output.is_dir() else output) or Path(name)
    path.write_bytes(issued.pdf)
    click.echo(f"{path} ({len(issued.pdf):,} bytes, {seconds * 1000:.0f} ms)")
    click.echo(f"report number: {issued.report.number}")
    click.echo(f"verification code: {issued.code}")
    click.echo(f"valid until: {issued.report.valid_until.isoformat()}")
