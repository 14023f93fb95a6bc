"""Drill (c): the model store is damaged. A corrupt or missing model file must be refused with a message
saying which file and why, the active model must stay the last good one, and scoring must never write a
score from a model it could not verify."""

from __future__ import annotations

import shutil

from drills.outcome import Outcome

NAME = "model-file-damaged"


def run(context) -> Outcome:
    platform = context.platform
    good = platform.scalar("SELECT version FROM model_versions WHERE is_active")
    uscc = platform.scalar("SELECT uscc FROM enterprises ORDER BY uscc LIMIT 1")
    platform.xyd("ml", "train", "--no-promote")
    candidate = platform.scalar("SELECT version FROM model_versions WHERE NOT is_active AND version NOT LIKE '%-woe' "
                                "ORDER BY trained_at DESC LIMIT 1")  # the LightGBM version, not its scorecard
    store = platform.instance / "models"
    problems, findings = [], []

    corrupt = store / candidate / "model.txt"
    corrupt.write_bytes(corrupt.read_bytes().replace(b"leaf_value=", b"leaf_value=9", 1))
    refused = platform.xyd("ml", "promote", candidate, "--by", "drill", check=False)
    _expect_refusal(refused, "SHA-256", "promoting a corrupt model", problems, findings)

    corrupt.unlink()
    refused = platform.xyd("ml", "promote", candidate, "--by", "drill", check=False)
    _expect_refusal(refused, "missing", "promoting a model whose file is missing", problems, findings)

    active = platform.scalar("SELECT version FROM model_versions WHERE is_active")
    scored = platform.xyd("ml", "score", uscc, check=False)
    if active != good or scored.returncode != 0 or f"model {good}" not in scored.stdout:
        problems.append(f"active model {active} (expected {good}); scoring: {scored.stdout.strip()[-200:]}")
    else:
        findings.append(f"active model still {good}, scoring with it works")

    # The active model's own file lost (a bad restore, a full disk): scoring stops, nothing is written.
    # The active model may be a LightGBM model (model.txt) or the WOE scorecard champion (scorecard.json).
    active_file = next(store / good / name for name in ("model.txt", "scorecard.json") if (store / good / name).exists())
    backup = active_file.with_name(active_file.name + ".drill-backup")
    shutil.move(active_file, backup)
    scores_before = platform.scalar("SELECT count(*) FROM scores")
    refused = platform.xyd("ml", "score", "--all", check=False)
    scores_after = platform.scalar("SELECT count(*) FROM scores")
    _expect_refusal(refused, "missing", "scoring with the active model's file missing", problems, findings)
    if scores_after != scores_before:
        problems.append(f"{scores_after - scores_before} scores written without a verified model")
    shutil.move(backup, active_file)
    restored = platform.xyd("ml", "score", uscc, check=False)
    if restored.returncode != 0:
        problems.append(f"scoring after restoring the file failed: {restored.stderr.strip()[-200:]}")
    else:
        findings.append("0 scores written meanwhile; file restored from backup, scoring resumes")
    return Outcome(NAME, not problems, "; ".join(problems) if problems else "; ".join(findings))


def _expect_refusal(result, reason: str, what: str, problems: list, findings: list) -> None:
    message = (result.stderr.strip().splitlines() or [""])[-1]
    if result.returncode == 0 or reason not in message:
        problems.append(f"{what} was not refused clearly (exit {result.returncode}: {message[-200:]})")
    else:
        findings.append(f"{what}: refused (…{message.split('model.txt')[-1].strip()[:70]})")
