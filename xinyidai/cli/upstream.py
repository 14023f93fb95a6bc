"""`xyd upstream …`: report up to the city node — push the outbox, queue a month's figures, reconcile."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

upstream_group = click.Group("upstream", help="Reporting up to the city node of the national financing-credit platform.")


def _client():
    from xinyidai.upstream.transport import Client, ConfigurationError

    try:
        return Client.from_config(current_app.config)
    except ConfigurationError as error:
        raise click.UsageError(str(error)) from None


def _month(text: str):
    from xinyidai.domain.scope import parse_month

    parsed = parse_month(text)
    if parsed is None:
        raise click.BadParameter("expected YYYY-MM", param_hint="--month")
    return parsed


def _districts(given: tuple[str, ...]) -> list[str]:
    from xinyidai.reference import SHANGHAI_DISTRICTS

    unknown = [d for d in given if d not in SHANGHAI_DISTRICTS]
    if unknown:
        raise click.BadParameter(f"unknown district(s) {', '.join(unknown)}", param_hint="--district")
    return list(given) or list(SHANGHAI_DISTRICTS)


@upstream_group.command("push")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="At most this many pending events in one run.")
@with_appcontext
def push_command(limit: int) -> None:
    """Send pending outbox events in order per aggregate; exits 1 when the receiver failed (they are retried)."""
    from xinyidai.domain.upstream import push, single_pusher
    from xinyidai.extensions import db

    client, config = _client(), current_app.config
    try:
        with single_pusher(db.engine) as alone:
            if not alone:
                click.echo("another `xyd upstream push` is running; nothing done")
                return
            summary = push(db.session, client.send, limit=limit, base_seconds=config["XYD_UPSTREAM_BACKOFF_SECONDS"],
                           max_seconds=config["XYD_UPSTREAM_BACKOFF_MAX_SECONDS"])
    finally:
        client.close()
    click.echo(f"sent {summary.sent}, failed {summary.failed} (retried later), parked {summary.parked}, "
               f"waiting {summary.waiting}" + ("; stopped: the receiver kept failing" if summary.stopped_early else ""))
    for error in summary.errors[:5]:
        click.echo(f"  {error}", err=True)
    if summary.failed:
        raise SystemExit(1)


@upstream_group.command("figures")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--district", "districts", multiple=True, help="District code (repeatable; default: every district).")
@with_appcontext
def figures_command(month: str, districts: tuple[str, ...]) -> None:
    """Queue the month's 融资成效 figures of each district (sent by the next push)."""
    from xinyidai.domain.upstream import queue_monthly_figures
    from xinyidai.extensions import db

    ids = queue_monthly_figures(db.session, _month(month), _districts(districts))
    db.session.commit()
    click.echo(f"queued the {month} figures of {len(ids)} district(s)")


@upstream_group.command("reconcile")
@click.option("--month", required=True, help="The month, YYYY-MM.")
@click.option("--district", "districts", multiple=True, help="District code (repeatable; default: every district).")
@with_appcontext
def reconcile_command(month: str, districts: tuple[str, ...]) -> None:
    """Compare the month's figures the receiver holds with the platform's own and list every difference;
    exits 1 when there is one (or the receiver could not be asked)."""
    from xinyidai.domain.upstream import reconcile
    from xinyidai.extensions import db

    parsed, client = _month(month), _client()
    troubled = 0
    try:
        for district in _districts(districts):
            result = reconcile(db.session, district, parsed, client.figures)
            db.session.commit()
            if result.error and not result.differences:
                click.echo(f"{district} {month}: {result.error}")
            else:
                click.echo(f"{district} {month}: " + (f"{len(result.differences)} difference(s)" if result.differences
                                                      else "agrees") + (f" ({result.error})" if result.error else ""))
            for difference in result.differences:
                click.echo(f"  {difference['figure']}: receiver {difference['receiver']}, platform {difference['platform']}")
            troubled += bool(result.differences or result.error)
    finally:
        client.close()
    if troubled:
        raise SystemExit(1)


@upstream_group.command("status")
@with_appcontext
def status_command() -> None:
    """Outbox counts by status, and every parked event with the receiver's reason."""
    from models.upstream import OutboxStatus
    from xinyidai.domain.upstream import outbox_counts, outbox_rows
    from xinyidai.extensions import db

    counts = outbox_counts(db.session)
    click.echo(", ".join(f"{status} {count}" for status, count in counts.items()))
    parked, _more = outbox_rows(db.session, OutboxStatus.PARKED, per_page=100)
    for row in parked:
        click.echo(f"parked {row.event_id} {row.event_type} {row.aggregate_type}:{row.aggregate_id}: {row.last_error}")


@upstream_group.command("requeue")
@click.argument("event_id")
@with_appcontext
def requeue_command(event_id: str) -> None:
    """Put a parked event back in the queue (once the cause is fixed with the city node)."""
    from xinyidai.domain.upstream import requeue
    from xinyidai.extensions import db

    if requeue(db.session, event_id, actor_label="xyd upstream requeue") is None:
        raise click.UsageError(f"no parked event {event_id}")
    db.session.commit()
    click.echo(f"requeued {event_id}")
