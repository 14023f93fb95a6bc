"""Joint modelling (联合建模, DESIGN §11): a bank's sample, the model the platform trains for it on the
platform's own data, the aggregates-only report, promotion and rollback, and the bank's own scores.

Data stays on the platform (数据可用不可见): the bank hands in `uscc, observed_on, outcome` rows; the
features are joined here, as of each date, with the platform model's own feature code (`ml.features`:
only data visible before the date) and never leave. What goes back is the report: discrimination, lift,
calibration and stability figures, feature *families* by importance, and the platform's models side by
side — every cell built on fewer than MIN_CELL enterprises suppressed.

Rules:
- a sample is validated like every delivery: each bad row rejected with its reason, the good rows kept
  in one transaction (nothing half-applied), the same file twice (by SHA-256) is the same sample;
- a sample below MIN_ROWS usable rows or MIN_EACH of either outcome is refused with the reason, and
  nothing is kept;
- a bank's promoted model scores only enterprises that matched its products and whose live
  authorization names the bank;
- every upload, training, report download, promotion and rollback is audited.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml import metrics, registry
from ml.baseline import WoeScorecard
from ml.features import CATEGORICAL, FEATURE_BY_NAME, MONOTONE, data_end_as_of, features_as_of, features_for
from ml.reasons import FAMILIES
from ml.registry import ModelUnavailable
from ml.score import family_reasons, grades, points, scaling_card
from ml.train import NotEnoughLabels, WhitelistModel, fit
from models.base import utcnow
from models.enterprise import Enterprise
from models.joint import BankModelVersion, BankSample, BankSampleRow, BankScore
from models.lending import Application, Bank
from xinyidai.audit import record
from xinyidai.domain import cells
from xinyidai.uscc import InvalidUSCC, validate_uscc

MIN_ROWS = 200
MIN_EACH = 20  # outcomes of each kind
MIN_CELL = 5  # enterprises behind any cell of a report
MAX_ROWS = 50_000
COLUMNS = ("uscc", "observed_on", "outcome")
OOT_SHARE = 0.2  # the latest fifth of the sample by observed_on: the out-of-time rows
TEST_SHARE = 0.25  # of the older rows, a stratified random quarter: the test rows
CV_FOLDS = 5
BANDS = 10
EARLIEST = date(2000, 1, 1)
STORE = "banks"


__all__ = ["ModelUnavailable", "Refused"]


class Refused(Exception):
    """A sample or a training the platform will not take; `zh` / `en` say why, for people."""

    def __init__(self, zh: str, en: str):
        super().__init__(zh)
        self.zh, self.en = zh, en


# ---------------------------------------------------------------- samples


@dataclass
class SampleUpload:
    """What an upload did: the sample kept (None when refused), whether it was the same file again, and
    the per-row rejections (line, field, reason)."""

    sha256: str
    rows: int = 0
    rejections: list[dict] = field(default_factory=list)
    sample: BankSample | None = None
    repeated: bool = False
    refused: Refused | None = None


def _decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        return payload.decode("gb18030")


def read_sample(payload: bytes, filename: str = "") -> tuple[str, list[tuple[int, dict | str]]]:
    """(format, numbered rows): a row is a dict of its cells, or the text of what is wrong with the line.
    CSV with a header, a JSON array of objects, or JSON Lines; Refused when the file as a whole is unusable."""
    if b"\x00" in payload[:65536]:
        raise Refused("这不是文本文件（可能是 Excel 或其他二进制文件）；请另存为 CSV 或 JSON 后再上传",
                      "this is not a text file (perhaps a spreadsheet); save it as CSV or JSON and upload again")
    try:
        text = _decode(payload)
    except UnicodeDecodeError:
        raise Refused("无法识别文件编码（应为 UTF-8 或 GB18030）", "the file is neither UTF-8 nor GB18030 text") from None
    stripped = text.lstrip()
    if filename.lower().endswith((".json", ".jsonl", ".ndjson")) or stripped[:1] in ("[", "{"):
        return _read_json(stripped)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise Refused(f"缺少必需的列：{', '.join(missing)}（应有列：{', '.join(COLUMNS)}）",
                          f"missing columns: {', '.join(missing)} (expected: {', '.join(COLUMNS)})")
        rows: list[tuple[int, dict | str]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                rows.append((number, f"cells:{len(cells)}:{len(header)}"))
                continue
            rows.append((number, dict(zip(header, cells, strict=True))))
    except csv.Error as error:
        raise Refused(f"CSV 格式错误：{error}", f"malformed CSV: {error}") from None
    return "csv", rows


def _read_json(text: str) -> tuple[str, list[tuple[int, dict | str]]]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as error:
            raise Refused(f"JSON 格式错误：{error}", f"malformed JSON: {error}") from None
        if not isinstance(items, list):
            raise Refused("JSON 应为对象数组", "JSON must be an array of objects")
        return "json", [(i, item if isinstance(item, dict) else "不是 JSON 对象") for i, item in enumerate(items, start=1)]
    rows: list[tuple[int, dict | str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            rows.append((number, "不是有效的 JSON"))
            continue
        rows.append((number, item if isinstance(item, dict) else "不是 JSON 对象"))
    return "jsonl", rows


def _validated(rows: list[tuple[int, dict | str]], known: set[str], today: date):
    """(good rows as (line, uscc, observed_on, outcome), rejections with the reason in both languages)."""
    good, rejections, seen = [], [], set()

    def reject(line, column, zh, en):
        rejections.append({"line": line, "field": column, "reason": zh, "reason_en": en})

    for line, row in rows:
        if isinstance(row, str) and row.startswith("cells:"):
            _tag, got, want = row.split(":")
            reject(line, "-", f"列数 {got} 与表头的 {want} 列不符", f"{got} cells where the header has {want}")
            continue
        if isinstance(row, str):
            reject(line, "-", *_LINE_PROBLEMS.get(row, (row, row)))
            continue
        try:
            uscc = validate_uscc(str(row.get("uscc") or "").strip())
        except InvalidUSCC as error:
            reject(line, "uscc", error.zh, error.en)
            continue
        if uscc not in known:
            reject(line, "uscc", "平台登记中没有这家企业", "no such enterprise in the platform's registry")
            continue
        raw_day = str(row.get("observed_on") or "").strip()
        try:
            observed_on = date.fromisoformat(raw_day[:10])
        except ValueError:
            reject(line, "observed_on", "日期应为 YYYY-MM-DD", "the date must be YYYY-MM-DD")
            continue
        if not EARLIEST <= observed_on < today:
            reject(line, "observed_on", f"日期须在 {EARLIEST.isoformat()} 到今天之前",
                   f"the date must lie between {EARLIEST.isoformat()} and yesterday")
            continue
        outcome = row.get("outcome")
        outcome = str(int(outcome)) if isinstance(outcome, bool) else str(outcome if outcome is not None else "").strip()
        if outcome not in ("0", "1"):
            reject(line, "outcome", "结果应为 0（正常）或 1（违约）", "the outcome must be 0 (repaid) or 1 (defaulted)")
            continue
        if (uscc, observed_on) in seen:
            reject(line, "-", "同一企业同一日期的行重复", "the same enterprise and date twice")
            continue
        seen.add((uscc, observed_on))
        good.append((line, uscc, observed_on, int(outcome)))
    return good, rejections


_LINE_PROBLEMS = {"不是有效的 JSON": ("不是有效的 JSON", "not valid JSON"),
                  "不是 JSON 对象": ("不是 JSON 对象", "not a JSON object")}


def _known_usccs(session: Session, candidates: set[str]) -> set[str]:
    known: set[str] = set()
    listed = sorted(candidates)
    for start in range(0, len(listed), 1000):
        chunk = listed[start:start + 1000]
        known.update(session.scalars(sa.select(Enterprise.uscc).where(Enterprise.uscc.in_(chunk))))
    return known


def _candidates(rows) -> set[str]:
    out = set()
    for _line, row in rows:
        if isinstance(row, dict):
            try:
                out.add(validate_uscc(str(row.get("uscc") or "").strip()))
            except InvalidUSCC:
                pass
    return out


def upload_sample(session: Session, bank_id: int, payload: bytes, filename: str = "sample.csv", *,
                  user_id: int | None = None, token_id: int | None = None, today: date | None = None,
                  remote_addr: str | None = None) -> SampleUpload:
    """Validate and keep a bank's sample (does not commit). Refused (raised) when the file as a whole is
    unusable; a sample too small after its bad rows is returned with `refused` set and nothing kept."""
    today = today or utcnow().date()
    result = SampleUpload(hashlib.sha256(payload).hexdigest())
    audit = {"bank_id": bank_id, "sha256": result.sha256, "filename": filename[:200]}
    existing = session.scalar(sa.select(BankSample).where(BankSample.bank_id == bank_id,
                                                          BankSample.sha256 == result.sha256))
    if existing is not None:
        result.sample, result.repeated, result.rows = existing, True, existing.rows
        result.rejections = list(existing.rejections or [])
        record(session, "joint_sample_upload", actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
               detail={**audit, "sample_id": existing.id, "repeated": True})
        return result
    fmt, rows = read_sample(payload, filename)
    if len(rows) > MAX_ROWS:
        raise Refused(f"样本超过 {MAX_ROWS} 行", f"a sample may hold at most {MAX_ROWS} rows")
    good, rejections = _validated(rows, _known_usccs(session, _candidates(rows)), today)
    result.rows, result.rejections = len(rows), rejections
    defaults = sum(outcome for *_rest, outcome in good)
    refusal = sample_refusal(len(good), defaults)
    if refusal is not None:
        result.refused = refusal
        record(session, "joint_sample_refused", actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
               detail={**audit, "rows": len(rows), "accepted": len(good), "defaults": defaults, "reason": refusal.en})
        return result
    sample = BankSample(bank_id=bank_id, sha256=result.sha256, filename=filename[:200] or "sample", file_format=fmt,
                        rows=len(rows), accepted=len(good), rejected=len(rows) - len(good), defaults=defaults,
                        rejections=rejections[:5000], uploaded_by_id=user_id, uploaded_by_token_id=token_id)
    session.add(sample)
    session.flush()
    session.execute(sa.insert(BankSampleRow), [
        {"sample_id": sample.id, "line": line, "uscc": uscc, "observed_on": day, "outcome": outcome}
        for line, uscc, day, outcome in good])
    result.sample = sample
    record(session, "joint_sample_upload", actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
           detail={**audit, "sample_id": sample.id, "rows": len(rows), "accepted": len(good),
                   "rejected": len(rows) - len(good), "defaults": defaults, "repeated": False})
    return result


def sample_refusal(rows: int, defaults: int) -> Refused | None:
    goods = rows - defaults
    if rows < MIN_ROWS or defaults < MIN_EACH or goods < MIN_EACH:
        return Refused(
            f"可用的样本行 {rows} 行（违约 {defaults}、正常 {goods}）：至少需要 {MIN_ROWS} 行，且违约与正常各至少 {MIN_EACH} 行",
            f"{rows} usable rows ({defaults} defaults, {goods} non-defaults): at least {MIN_ROWS} rows and "
            f"{MIN_EACH} of each outcome are needed")
    return None


def bank_sample(session: Session, bank_id: int, sample_id: int) -> BankSample | None:
    """The bank's own sample, or None (another bank's sample is exactly like a missing one)."""
    sample = session.get(BankSample, sample_id) if 0 < sample_id <= 2**31 - 1 else None
    return sample if sample is not None and sample.bank_id == bank_id else None


def bank_samples(session: Session, bank_id: int) -> list[BankSample]:
    return list(session.scalars(sa.select(BankSample).where(BankSample.bank_id == bank_id)
                                .order_by(BankSample.uploaded_at.desc(), BankSample.id.desc())))


# ---------------------------------------------------------------- training and the report


def _splits(days: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """'train' / 'test' / 'oot' per row: the latest OOT_SHARE by date out of time, a stratified random
    TEST_SHARE of the rest for testing."""
    n = len(days)
    order = np.argsort(days, kind="stable")
    split = np.array(["train"] * n, dtype=object)
    split[order[int(round(n * (1 - OOT_SHARE))):]] = "oot"
    rng = np.random.default_rng(7)
    for value in (0, 1):
        members = np.flatnonzero((split == "train") & (labels == value))
        split[rng.choice(members, size=int(round(len(members) * TEST_SHARE)), replace=False)] = "test"
    return split


def _discrimination(labels, scores, usccs) -> dict:
    labels = np.asarray(labels, dtype=int)
    enterprises = len(set(usccs))
    out = {"rows": int(len(labels)), "enterprises": enterprises, "defaults": int(labels.sum())}
    if enterprises < MIN_CELL or labels.sum() == 0 or labels.sum() == len(labels):
        return {**out, "suppressed": enterprises < MIN_CELL, "auc": None, "ks": None, "gini": None}
    auc = metrics.auc(labels, scores)
    return {**out, "auc": round(auc, 4), "ks": round(metrics.ks(labels, scores), 4), "gini": round(2 * auc - 1, 4)}


def lift_table(labels, scores, usccs, bands: int = BANDS) -> list[dict]:
    """Ten score bands, riskiest first: count, bads, bad rate, cumulative capture of the bads and the KS
    at the band; a band of fewer than MIN_CELL enterprises shows nothing but its number."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    usccs = np.asarray(usccs, dtype=object)
    order = np.argsort(-scores, kind="stable")
    cuts = np.array_split(order, min(bands, len(order)))
    total_bad, total_good = max(int(labels.sum()), 1), max(int((1 - labels).sum()), 1)
    rows, cum_bad, cum_good = [], 0, 0
    for number, members in enumerate(cuts, start=1):
        bad = int(labels[members].sum())
        cum_bad, cum_good = cum_bad + bad, cum_good + len(members) - bad
        if len(set(usccs[members])) < MIN_CELL:
            rows.append({"band": number, "suppressed": True})
            continue
        rows.append({"band": number, "count": int(len(members)), "bads": bad,
                     "bad_rate": round(bad / len(members), 4), "pd_from": round(float(scores[members].min()), 4),
                     "pd_to": round(float(scores[members].max()), 4),
                     "cumulative_capture": round(cum_bad / total_bad, 4),
                     "ks": round(abs(cum_bad / total_bad - cum_good / total_good), 4)})
    return rows


def calibration(labels, scores, usccs, bins: int = BANDS) -> list[dict]:
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    usccs = np.asarray(usccs, dtype=object)
    order = np.argsort(scores, kind="stable")
    out = []
    for number, members in enumerate(np.array_split(order, min(bins, len(order))), start=1):
        if len(set(usccs[members])) < MIN_CELL:
            out.append({"bin": number, "suppressed": True})
            continue
        out.append({"bin": number, "count": int(len(members)), "predicted": round(float(scores[members].mean()), 4),
                    "observed": round(float(labels[members].mean()), 4)})
    return out


def _family_importance(model: WhitelistModel) -> list[dict]:
    gain = model.booster.feature_importance("gain", iteration=model.best_iteration)
    totals = dict.fromkeys(FAMILIES, 0.0)
    for name, value in zip(model.features, gain, strict=True):
        totals[FEATURE_BY_NAME[name].family if name in FEATURE_BY_NAME else "age_size"] += float(value)
    whole = sum(totals.values()) or 1.0
    return sorted(({"family": f, "share": round(v / whole, 4)} for f, v in totals.items()), key=lambda r: -r["share"])


def _family_psi(sample: pd.DataFrame, population: pd.DataFrame) -> dict[str, float]:
    by_family: dict[str, list[float]] = {}
    for name in sample.columns:
        family = FEATURE_BY_NAME[name].family if name in FEATURE_BY_NAME else "age_size"
        by_family.setdefault(family, []).append(
            metrics.psi(population[name].to_numpy(dtype=float), sample[name].to_numpy(dtype=float)))
    return {family: round(float(np.mean(values)), 4) for family, values in by_family.items()}


def _cv(features: pd.DataFrame, labels: np.ndarray, days, usccs) -> dict:
    """Stratified CV_FOLDS-fold cross-validation of the generic trainer on the older rows."""
    rng = np.random.default_rng(11)
    folds = np.empty(len(labels), dtype=int)
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        folds[members] = np.arange(len(members)) % CV_FOLDS
    aucs = []
    for k in range(CV_FOLDS):
        inside, outside = folds != k, folds == k
        if labels[inside].min() == labels[inside].max() or labels[outside].min() == labels[outside].max():
            continue
        model = fit(features[inside], labels[inside], times=days[inside], monotone=MONOTONE,
                    categorical=list(CATEGORICAL))
        aucs.append(metrics.auc(labels[outside], model.predict_proba(features[outside])))
    return {"folds": CV_FOLDS, "auc": [round(a, 4) for a in aucs],
            "auc_mean": round(float(np.mean(aucs)), 4) if aucs else None,
            "auc_std": round(float(np.std(aucs)), 4) if aucs else None}


def _platform_model(session: Session, instance_path) -> tuple[str, WhitelistModel] | None:
    try:
        return registry.active_model.get(session, instance_path)
    except registry.ModelUnavailable:
        return None


def bank_store(instance_path, bank: Bank) -> Path:
    return registry.store_path(instance_path) / STORE / bank.code


def _version_name(instance_path, bank: Bank) -> str:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    name, n = f"{bank.code}-{stamp}", 1
    while (bank_store(instance_path, bank) / name).exists():
        n += 1
        name = f"{bank.code}-{stamp}-{n}"
    return name


def train_bank_model(session: Session, instance_path, bank_id: int, sample_id: int, *, by: str,
                     user_id: int | None = None, token_id: int | None = None,
                     remote_addr: str | None = None, progress=None) -> BankModelVersion:
    """Train the bank's model on one of its samples, evaluate it out of time and by CV, store it with its
    report (inactive). Refused when the sample cannot support a model. Does not commit."""
    step = progress or (lambda _label: None)
    sample = bank_sample(session, bank_id, sample_id)
    if sample is None:
        raise LookupError(sample_id)
    bank = session.get(Bank, bank_id)
    rows = pd.DataFrame(session.execute(
        sa.select(BankSampleRow.uscc, BankSampleRow.observed_on, BankSampleRow.outcome)
        .where(BankSampleRow.sample_id == sample.id).order_by(BankSampleRow.observed_on, BankSampleRow.line)).all(),
        columns=["uscc", "as_of", "outcome"])
    labels = rows.outcome.to_numpy(dtype=int)
    days = pd.to_datetime(rows.as_of).to_numpy()
    split = _splits(days, labels)
    for part, least in (("train", 10), ("oot", 5)):
        chosen = labels[split == part]
        if chosen.sum() < least or (1 - chosen).sum() < least:
            raise Refused(f"样本的{'训练' if part == 'train' else '跨时间验证'}部分违约或正常的行少于 {least} 行，无法训练",
                          f"the {'training' if part == 'train' else 'out-of-time'} part of the sample has fewer than "
                          f"{least} rows of one outcome")
    step("features")
    features = features_for(session, rows[["uscc", "as_of"]])
    train_rows, test_rows, oot_rows = split == "train", split == "test", split == "oot"
    step("fit")
    try:
        model = fit(features[train_rows], labels[train_rows], times=days[train_rows], monotone=MONOTONE,
                    categorical=list(CATEGORICAL))
    except NotEnoughLabels as error:
        raise Refused("样本无法训练模型：" + str(error), f"the sample cannot train a model: {error}") from None
    model.card["scaling"] = scaling_card()
    step("cross-validation")
    development = train_rows | test_rows
    cv = _cv(features[development], labels[development], days[development], rows.uscc[development])
    step("compare")
    bank_pd = model.predict_proba(features)
    woe = WoeScorecard().fit(features[train_rows], labels[train_rows])
    woe_pd = woe.predict_proba(features)
    platform = _platform_model(session, instance_path)
    platform_pd = platform[1].predict_proba(features) if platform else None
    step("population")
    population = features_as_of(session, data_end_as_of(session))
    population_pd = model.predict_proba(population) if len(population) else np.array([])
    usccs = rows.uscc.to_numpy(dtype=object)
    evaluated = test_rows | oot_rows

    def compare(mask) -> dict:
        out = {"bank": _discrimination(labels[mask], bank_pd[mask], usccs[mask]),
               "woe": _discrimination(labels[mask], woe_pd[mask], usccs[mask])}
        out["platform"] = _discrimination(labels[mask], platform_pd[mask], usccs[mask]) \
            if platform_pd is not None else None
        return out

    oot = compare(oot_rows)

    def beats(other) -> bool | None:
        if other is None or oot["bank"]["auc"] is None or other["auc"] is None:
            return None
        return bool(oot["bank"]["auc"] > other["auc"])

    version = _version_name(instance_path, bank)
    report = {
        "version": version, "bank": bank.code, "sample_id": sample.id,
        "sample": {"rows": int(len(rows)), "enterprises": int(rows.uscc.nunique()), "defaults": int(labels.sum()),
                   "from": str(rows.as_of.min()), "to": str(rows.as_of.max()),
                   "oot_from": str(rows.as_of[oot_rows].min())},
        "splits": {part: _discrimination(labels[split == part], bank_pd[split == part], usccs[split == part])
                   for part in ("train", "test", "oot")},
        "cv": cv,
        "lift": lift_table(labels[evaluated], bank_pd[evaluated], usccs[evaluated]),
        "calibration": calibration(labels[evaluated], bank_pd[evaluated], usccs[evaluated]),
        "psi": {"score": round(metrics.psi(population_pd, bank_pd), 4) if len(population_pd) else None,
                "families": _family_psi(features, population) if len(population) else {},
                "population": int(len(population))},
        "importance": _family_importance(model),
        "comparison": {"test": compare(test_rows), "oot": oot,
                       "platform_version": platform[0] if platform else None, "woe": woe.description},
        "beats": {"platform": beats(oot["platform"]), "woe": beats(oot["woe"])},
        "min_cell": MIN_CELL,
    }
    step("store")
    card = registry.write_folder(bank_store(instance_path, bank) / version, model, version)
    row = BankModelVersion(version=version, bank_id=bank_id, sample_id=sample.id,
                           path=str(Path(registry.STORE) / STORE / bank.code / version), card=card, report=report,
                           trained_by=by[:64])
    session.add(row)
    session.flush()
    record(session, "joint_model_trained", actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
           detail={"bank_id": bank_id, "sample_id": sample.id, "version": version,
                   "oot_auc": oot["bank"]["auc"], "beats": report["beats"]})
    return row


def bank_versions(session: Session, bank_id: int) -> list[BankModelVersion]:
    return list(session.scalars(sa.select(BankModelVersion).where(BankModelVersion.bank_id == bank_id)
                                .order_by(BankModelVersion.trained_at.desc(), BankModelVersion.version.desc())))


def bank_version(session: Session, bank_id: int, version: str) -> BankModelVersion | None:
    row = session.get(BankModelVersion, version[:64])
    return row if row is not None and row.bank_id == bank_id else None


def active_bank_version(session: Session, bank_id: int) -> BankModelVersion | None:
    return session.scalar(sa.select(BankModelVersion).where(BankModelVersion.bank_id == bank_id,
                                                            BankModelVersion.is_active))


def report_view(report: dict) -> dict:
    """The report with every section present (an empty one where a figure could not be made)."""
    empty = {"rows": 0, "enterprises": 0, "defaults": 0, "auc": None, "ks": None, "gini": None}
    report = dict(report or {})
    report.setdefault("sample", {})
    report["splits"] = {part: {**empty, **(report.get("splits") or {}).get(part, {})} for part in ("train", "test", "oot")}
    report.setdefault("cv", {"folds": CV_FOLDS, "auc": [], "auc_mean": None, "auc_std": None})
    report.setdefault("lift", [])
    report.setdefault("calibration", [])
    report.setdefault("psi", {"score": None, "families": {}, "population": 0})
    report.setdefault("importance", [])
    comparison = report.get("comparison") or {}
    report["comparison"] = {**comparison, **{part: {"bank": empty, "woe": empty, "platform": None,
                                                     **comparison.get(part, {})} for part in ("test", "oot")}}
    report.setdefault("beats", {"platform": None, "woe": None})
    return report


def report_downloaded(session: Session, version: BankModelVersion, *, user_id=None, token_id=None, remote_addr=None, what="report"):
    record(session, "joint_report_download", actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
           detail={"bank_id": version.bank_id, "version": version.version, "what": what})


def report_csv(version: BankModelVersion) -> str:
    """The report as one CSV of aggregates (sections one after another)."""
    report = report_view(version.report)
    out = io.StringIO()
    writer = cells.csv_writer(out)
    writer.writerow(["section", "part", "model", "rows", "enterprises", "defaults", "auc", "ks", "gini"])
    for part, figures in report["splits"].items():
        writer.writerow(["metrics", part, "bank", *(figures.get(k) for k in
                                                    ("rows", "enterprises", "defaults", "auc", "ks", "gini"))])
    for part in ("test", "oot"):
        for name, figures in report["comparison"][part].items():
            if isinstance(figures, dict):
                writer.writerow(["comparison", part, name, *(figures.get(k) for k in
                                                              ("rows", "enterprises", "defaults", "auc", "ks", "gini"))])
    writer.writerow([])
    writer.writerow(["lift", "band", "count", "bads", "bad_rate", "cumulative_capture", "ks"])
    for band in report["lift"]:
        writer.writerow(["lift", band["band"], *(("suppressed",) if band.get("suppressed") else
                                                 (band["count"], band["bads"], band["bad_rate"],
                                                  band["cumulative_capture"], band["ks"]))])
    writer.writerow([])
    writer.writerow(["calibration", "bin", "count", "predicted", "observed"])
    for row in report["calibration"]:
        writer.writerow(["calibration", row["bin"], *(("suppressed",) if row.get("suppressed") else
                                                      (row["count"], row["predicted"], row["observed"]))])
    writer.writerow([])
    writer.writerow(["psi", "score", report["psi"]["score"]])
    for family, value in report["psi"]["families"].items():
        writer.writerow(["psi", family, value])
    writer.writerow([])
    for item in report["importance"]:
        writer.writerow(["importance", item["family"], item["share"]])
    return "\ufeff" + out.getvalue()


# ---------------------------------------------------------------- promotion


def promote(session: Session, instance_path, bank_id: int, version: str, *, by: str, user_id=None, token_id=None,
            remote_addr=None, action: str = "joint_model_promoted") -> BankModelVersion:
    """Make `version` the bank's model in use (after checking that it loads); the previous one stays on file.
    The bank's live in-principle answers made with its own model are withdrawn (the score changed)."""
    row = bank_version(session, bank_id, version)
    if row is None:
        raise LookupError(version)
    bank_model(instance_path, row)
    previous = active_bank_version(session, bank_id)
    session.execute(sa.update(BankModelVersion).where(BankModelVersion.bank_id == bank_id, BankModelVersion.is_active,
                                                      BankModelVersion.version != version).values(is_active=False))
    session.flush()
    row.is_active, row.promoted_at, row.promoted_by = True, utcnow(), by[:64]
    session.flush()
    record(session, action, actor_user_id=user_id, actor_token_id=token_id, remote_addr=remote_addr,
           detail={"bank_id": bank_id, "version": version, "previous": previous.version if previous else None})
    from xinyidai.domain import in_principle

    in_principle.bank_model_changed(session, instance_path, bank_id)
    return row


def rollback(session: Session, instance_path, bank_id: int, *, by: str, **actor) -> BankModelVersion:
    """Promote again the bank's version that was in use before the current one."""
    current = active_bank_version(session, bank_id)
    previous = session.scalar(
        sa.select(BankModelVersion).where(BankModelVersion.bank_id == bank_id, BankModelVersion.promoted_at.is_not(None),
                                          BankModelVersion.version != (current.version if current else ""))
        .order_by(BankModelVersion.promoted_at.desc()).limit(1))
    if previous is None:
        raise Refused("没有更早使用过的版本可以回退", "no earlier promoted version to roll back to")
    return promote(session, instance_path, bank_id, previous.version, by=by, action="joint_model_rolled_back", **actor)


_loaded: dict[str, WhitelistModel] = {}
_loaded_lock = threading.Lock()
_loaded_pid = [os.getpid()]


def bank_model(instance_path, version: BankModelVersion) -> WhitelistModel:
    """The version's model (checked against its recorded SHA-256), loaded once per process."""
    with _loaded_lock:
        if _loaded_pid[0] != os.getpid():  # forked: a Booster of the parent is not ours
            _loaded.clear()
            _loaded_pid[0] = os.getpid()
        if version.version not in _loaded:
            folder = Path(version.path)
            folder = folder if folder.is_absolute() else Path(instance_path) / folder
            _loaded[version.version] = registry.load_folder(folder, version.card or {}, version.version)
        return _loaded[version.version]


# ---------------------------------------------------------------- the bank's own scores


def eligible_usccs(session: Session, bank_id: int, usccs, now: datetime | None = None) -> set[str]:
    """Of `usccs`, those that matched one of the bank's products and whose live authorization names the bank."""
    from xinyidai.domain.authorizations import live_authorization

    wanted = sorted(set(usccs))
    if not wanted:
        return set()
    matched = set(session.scalars(sa.select(Application.uscc).where(Application.bank_id == bank_id,
                                                                    Application.uscc.in_(wanted)).distinct()))
    return {u for u in matched if live_authorization(session, u, bank_id, now) is not None}


def latest_bank_scores(session: Session, bank_id: int, version: str, usccs) -> dict[str, BankScore]:
    wanted = sorted(set(usccs))
    if not wanted:
        return {}
    rows = session.scalars(sa.select(BankScore).where(BankScore.bank_id == bank_id, BankScore.model_version == version,
                                                      BankScore.uscc.in_(wanted))
                           .order_by(BankScore.scored_at, BankScore.id))
    return {row.uscc: row for row in rows}  # the newest last, so it wins


def bank_scores(session: Session, instance_path, bank_id: int, usccs, *, now: datetime | None = None,
                rescore: bool = False) -> dict[str, BankScore]:
    """The bank's own PD, band and reasons for each of `usccs` it may score (matched its products and a
    live authorization names it) under its model in use; scored now where no score of that model as of
    the data end exists (or `rescore`). Empty when the bank runs no joint model."""
    version = active_bank_version(session, bank_id)
    if version is None:
        return {}
    allowed = eligible_usccs(session, bank_id, usccs, now)
    if not allowed:
        return {}
    as_of = data_end_as_of(session, max_age=300.0)
    have = latest_bank_scores(session, bank_id, version.version, allowed)
    missing = sorted(u for u in allowed if rescore or u not in have or have[u].as_of != as_of)
    if missing:
        model = bank_model(instance_path, version)
        features = features_as_of(session, as_of, missing)
        if len(features):
            pd_12m, contrib = model.explain(features)
            bands = grades(points(pd_12m))
            reasons = family_reasons(model, contrib)
            for uscc, p, band, listed in zip(features.index, pd_12m, bands, reasons, strict=True):
                score = BankScore(bank_id=bank_id, model_version=version.version, uscc=uscc, as_of=as_of,
                                  pd_12m=float(p), band=str(band), reasons=listed)
                session.add(score)
                have[uscc] = score
            session.flush()
    return {u: s for u, s in have.items() if u in allowed}


# ---------------------------------------------------------------- what the office sees


def office_summary(session: Session) -> list[dict]:
    """Per bank running a joint model: its name, since when, and how many in-principle decisions its own
    model drove (answers made with it, and of those confirmed by the bank). Nothing about the model."""
    from models.joint import InPrincipleAnswer

    active = session.execute(sa.select(Bank, BankModelVersion.promoted_at).join(
        BankModelVersion, (BankModelVersion.bank_id == Bank.id) & BankModelVersion.is_active).order_by(Bank.code)).all()
    counts = dict(((b, s), n) for b, s, n in session.execute(
        sa.select(InPrincipleAnswer.bank_id, InPrincipleAnswer.status, sa.func.count())
        .where(InPrincipleAnswer.model == "bank").group_by(InPrincipleAnswer.bank_id, InPrincipleAnswer.status)))
    return [{"bank": bank, "since": since,
             "decisions": sum(n for (b, _s), n in counts.items() if b == bank.id),
             "confirmed": counts.get((bank.id, "confirmed"), 0)} for bank, since in active]
