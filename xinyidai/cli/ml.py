"""`xyd ml`: train, evaluate, promote and roll back whitelist models; score enterprises; draw whitelists."""

from __future__ import annotations

import getpass
import json
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from models.scoring import ModelVersion

ml_group = click.Group("ml", help="The whitelist score: models, scoring and whitelists (DESIGN §4).")

TRAIN_STEPS = ("labels", "features", "fit", "evaluate", "baseline")
SCORE_STEPS = ("features", "scores", "gates", "reasons", "store")


@contextmanager
def _steps(description: str, steps: tuple[str, ...]):
    """A tqdm bar over named steps; yields the progress callback the ml functions take."""
    bar = tqdm(total=len(steps), desc=description, unit="step", leave=False, disable=None)  # bars on a terminal only
    seen: list[str] = []

    def progress(label: str) -> None:
        if seen:
            bar.update(1)
        seen.append(label)
        bar.set_postfix_str(label)

    try:
        yield progress
        bar.update(bar.total - bar.n)
    finally:
        bar.close()


def _instance() -> Path:
    return Path(current_app.instance_path)


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _metrics_line(name: str, m: dict) -> str:
    return f"{name:<14} AUC {m['auc']:.4f}  KS {m['ks']:.4f}  Brier {m['brier']:.4f}  ECE {m['ece']:.4f}"


@ml_group.command("train")
@click.option("--promote/--no-promote", default=None, help="Make the new version active (default: only if none is).")
@click.option("--dask-scheduler", metavar="ADDRESS", help="Train with lightgbm.dask on this Dask scheduler.")
@click.option("--by", help="Who trains (recorded when it is promoted); default: the login name.")
@with_appcontext
def train_command(promote: bool | None, dask_scheduler: str | None, by: str | None) -> None:
    """Train on the labelled loans, evaluate out of time, store the version with its card."""
    from ml.train import NotEnoughLabels
    from xinyidai.domain.scoring import train_and_register
    from xinyidai.extensions import db

    client = None
    if dask_scheduler:
        from distributed import Client

        client = Client(dask_scheduler)
    try:
        with _steps("train", TRAIN_STEPS) as progress:
            version = train_and_register(db.session, _instance(), promote=promote, by=_who(by), client=client,
                                         progress=progress)
    except NotEnoughLabels as error:
        raise click.ClickException(str(error)) from None
    finally:
        if client is not None:
            client.close()
    card = version.card
    click.echo(f"model {version.version} {'(active)' if version.is_active else '(not promoted)'}")
    if challenge := card.get("challenge"):
        from xinyidai.domain.model_registry import bar_lines

        for line in bar_lines(challenge):
            click.echo(f"  {line}")
        active = db.session.scalar(sa.select(ModelVersion.version).where(ModelVersion.is_active))
        click.echo(f"  active model: {active}")
    click.echo(_metrics_line("LightGBM", card["metrics"]))
    click.echo(_metrics_line("WOE scorecard", card["baseline"]["metrics"]))
    click.echo(f"out-of-time holdout {card['data_window']['holdout']['from']} … {card['data_window']['holdout']['to']}, "
               f"{card['metrics']['rows']} loans; PSI of the score {card['metrics']['psi']['score']:.4f}")
    if skipped := card.get("skipped_loans"):
        click.echo(f"skipped {len(skipped)} loans with an impossible disbursement date (application ids "
                   f"{', '.join(map(str, skipped[:20]))}{' …' if len(skipped) > 20 else ''})")
    click.echo(f"card: {Path(_instance()) / version.path / 'card.md'}")


@ml_group.command("evaluate")
@click.argument("version")
@with_appcontext
def evaluate_command(version: str) -> None:
    """Evaluate VERSION on the latest out-of-time months of today's labelled loans, beside its card."""
    from ml import metrics, registry
    from ml.features import features_for
    from ml.train import holdout_mask, labelled_loans
    from xinyidai.extensions import db

    try:
        row = registry.get_version(db.session, version)
        model = registry.load(_instance(), row)
    except registry.ModelUnavailable as error:
        raise click.ClickException(str(error)) from None
    with _steps("evaluate", ("labels", "features", "predict")) as progress:
        progress("labels")
        loans = labelled_loans(db.session)
        if loans.empty:
            raise click.ClickException("no labelled loans to evaluate on")
        loans = loans[holdout_mask(loans.as_of)]
        progress("features")
        features = features_for(db.session, loans)
        progress("predict")
        predicted = model.predict_proba(features)
    result = metrics.evaluate(loans.defaulted, predicted)
    click.echo(f"model {version}: {len(loans)} loans disbursed {loans.as_of.min()} … {loans.as_of.max()}, "
               f"{int(loans.defaulted.sum())} defaults")
    click.echo(_metrics_line("now", result))
    if card_metrics := (row.card or {}).get("metrics"):
        click.echo(_metrics_line("card", card_metrics))
    click.echo("calibration (predicted → observed): " + ", ".join(
        f"{r['predicted']:.3f}→{r['observed']:.3f}" for r in result["calibration"]))


@ml_group.command("promote")
@click.argument("version")
@click.option("--by", help="Who promotes (recorded); default: the login name.")
@with_appcontext
def promote_command(version: str, by: str | None) -> None:
    """Make VERSION the active model — only when it passes its bars against the active version and its WOE
    scorecard on its out-of-time loans (refused too if its files are missing or damaged)."""
    from ml import registry
    from xinyidai.domain import model_registry
    from xinyidai.extensions import db

    try:
        challenge, promotion = model_registry.promote_if_better(db.session, _instance(), version, by=_who(by),
                                                                channel="cli")
    except (registry.ModelUnavailable, model_registry.NoHoldout) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    if promotion is None:
        raise click.ClickException("not promoted: " + "; ".join(model_registry.bar_lines(challenge.as_dict(),
                                                                                         failed_only=True)))
    row = promotion.model
    click.echo(f"model {row.version} is active (promoted by {row.promoted_by} at {row.promoted_at:%Y-%m-%d %H:%M} UTC)")


@ml_group.command("rollback")
@click.option("--by", help="Who rolls back (recorded); default: the login name.")
@with_appcontext
def rollback_command(by: str | None) -> None:
    """Make the previously active model active again."""
    from ml import registry
    from xinyidai.domain import model_registry
    from xinyidai.extensions import db

    try:
        row = model_registry.rollback(db.session, _instance(), by=_who(by), channel="cli").model
    except registry.ModelUnavailable as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"model {row.version} is active again")


@ml_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every model version, newest first, with its holdout AUC (as /admin/models lists them)."""
    from xinyidai.domain.model_registry import versions
    from xinyidai.extensions import db

    for row in versions(db.session):
        flag = "active" if row.is_active else ""
        click.echo(f"{row.version:<24} {flag:<7} AUC {row.auc:.4f}" if row.auc is not None else f"{row.version:<24} {flag}")


@ml_group.command("score")
@click.argument("uscc", required=False)
@click.option("--all", "everyone", is_flag=True, help="Score every enterprise.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per enterprise on standard output.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Score as of this date (default: data end).")
@with_appcontext
def score_command(uscc: str | None, everyone: bool, as_json: bool, as_of) -> None:
    """Score one enterprise (USCC) or every enterprise (--all) with the active model and store the scores."""
    from ml.registry import ModelUnavailable
    from xinyidai.domain import scoring as service
    from xinyidai.extensions import db

    if bool(uscc) == everyone:
        raise click.UsageError("give either a USCC or --all")
    day: date | None = as_of.date() if as_of else None
    try:
        if everyone:
            with _steps("score", SCORE_STEPS) as progress:
                scored = service.score_everyone(db.session, _instance(), as_of=day, progress=progress)
            results = service.results_json(db.session, scored) if as_json else None
        else:
            results = [service.rescore(db.session, _instance(), uscc.strip().upper(), as_of=day)]
    except ModelUnavailable as error:
        raise click.ClickException(str(error)) from None
    except KeyError:
        raise click.ClickException(f"no enterprise {uscc} in the registry") from None
    if as_json:
        for result in results:
            click.echo(json.dumps(result, ensure_ascii=False))
    elif everyone:
        frame = scored.frame
        counts = frame.grade.value_counts()
        click.echo(f"{len(frame)} enterprises scored with model {scored.model_version} as of {scored.as_of}")
        click.echo("grades: " + ", ".join(f"{g} {int(counts.get(g, 0))}" for g in
                                          ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")))
        click.echo(f"gates failed: {int((~frame.gates_passed).sum())}")
    else:
        _print_one(results[0])


def _print_one(result: dict) -> None:
    click.echo(f"{result['uscc']}  PD {result['pd']:.2%}  score {result['score']}  grade {result['grade']}  "
               f"{'whitelisted' if result['whitelisted'] else 'not whitelisted'}  (model {result['model_version']}, "
               f"as of {result['as_of']})")
    for gate in result["gates"]["failed"]:
        click.echo(f"  gate: {gate['zh']} / {gate['en']}\n    advice: {gate['advice_zh']} / {gate['advice_en']}")
    for record in result["gates"]["lenient"]:
        click.echo(f"  lenient: {record['record_id']} {record['zh']} / {record['en']}")
    for reason in result["reasons"]:
        click.echo(f"  {reason['zh']} / {reason['en']}")


@ml_group.command("whitelist")
@with_appcontext
def whitelist_command() -> None:
    """Draw a draft whitelist for every district from the latest scores (offices confirm and publish)."""
    from xinyidai.domain.whitelist_workflow import draft_all
    from xinyidai.extensions import db

    drafts = draft_all(db.session)
    db.session.commit()
    for draft in drafts:
        click.echo(f"district {draft.district_code}: draft {draft.id} at threshold {draft.min_grade}")
    click.echo(f"{len(drafts)} drafts")
