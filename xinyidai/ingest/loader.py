"""Applying a delivery: validate each row, reject the bad with a reason, upsert the good in batches.

The whole delivery is one transaction, so a file that turns out unreadable half-way leaves nothing
behind; rows = inserted + updated + unchanged + rejected always holds (the database checks it too).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.sources import Delivery, DeliveryRejection, DeliveryStatus
from xinyidai.ingest.reading import DeliveryError, RawRow, detect_format, file_sha256, read_rows
from xinyidai.ingest.sources import SOURCES, SourceSpec

BATCH_ROWS = 5000


@dataclass
class DeliverySummary:
    delivery_id: int
    source: str
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejection_report: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    reason: str


def spec_for(source: str) -> SourceSpec:
    try:
        return SOURCES[source]
    except KeyError:
        raise DeliveryError(
            f"未知数据源 {source}（unknown source; expected one of: {', '.join(SOURCES)}）"
        ) from None


def ingest_file(
    session: Session,
    source: str,
    path: str | Path,
    *,
    file_format: str | None = None,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> DeliverySummary:
    """Apply one delivery file and commit. Raises DeliveryError (having written nothing) when the
    file as a whole is unusable. The rejection report goes next to the file, or to `report_dir` when
    the file's folder cannot be written."""
    spec = spec_for(source)
    path = Path(path)
    fmt = detect_format(path, file_format)
    delivery = Delivery(source=spec.source, filename=path.name, file_format=fmt, sha256=file_sha256(path))
    session.add(delivery)
    try:
        session.flush()
        rejections = _apply(session, spec, delivery, read_rows(spec, path, fmt), progress)
        report = _write_report(path, delivery.id, rejections, report_dir) if rejections else None
        delivery.rejection_report = str(report) if report else None
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return DeliverySummary(
        delivery.id, spec.source.value, str(path), delivery.rows, delivery.inserted, delivery.updated,
        delivery.unchanged, delivery.rejected, delivery.rejection_report,
    )


def _apply(session, spec, delivery, raw_rows: Iterable[RawRow], progress) -> list[Rejection]:
    schema = spec.schema()
    seen_keys: dict[tuple, int] = {}
    known_enterprises: set[str] = set()
    rejections: list[Rejection] = []
    counts = {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0}
    raw_iter = iter(raw_rows)
    while batch := list(itertools.islice(raw_iter, BATCH_ROWS)):
        good = _validate(schema, spec, batch, seen_keys, rejections)
        if spec.references_registry:
            good = _drop_unknown_enterprises(session, good, known_enterprises, rejections)
        inserted, updated, unchanged = _upsert(session, spec, delivery.id, good)
        counts["rows"] += len(batch)
        counts["inserted"] += inserted
        counts["updated"] += updated
        counts["unchanged"] += unchanged
        if progress:
            progress(len(batch))
    rejections.sort(key=lambda r: (r.line, r.field))
    delivery.rows = counts["rows"]
    delivery.inserted, delivery.updated, delivery.unchanged = counts["inserted"], counts["updated"], counts["unchanged"]
    delivery.rejected = len({r.line for r in rejections})
    delivery.status = DeliveryStatus.APPLIED
    delivery.received_at = utcnow()
    if rejections:
        session.execute(
            sa.insert(DeliveryRejection),
            [{"delivery_id": delivery.id, "line": r.line, "field": r.field, "reason": r.reason[:500]}
             for r in _one_per_line_and_field(rejections)],
        )
    return rejections


def _validate(schema, spec, batch, seen_keys, rejections) -> list[tuple[int, dict]]:
    good = []
    for line, raw in batch:
        if isinstance(raw, tuple):
            rejections.append(Rejection(line, *raw))
            continue
        try:
            row = schema.load(raw)
        except ValidationError as error:
            rejections.extend(_flatten(line, error.messages))
            continue
        key = tuple(row[k] for k in spec.key)
        first = seen_keys.setdefault(key, line)
        if first != line:
            rejections.append(Rejection(line, "+".join(spec.key),
                                        f"与第 {first} 行重复（duplicate of line {first}）"))
            continue
        good.append((line, row))
    return good


def _flatten(line: int, messages) -> list[Rejection]:
    if isinstance(messages, list):  # a whole-row error (e.g. not an object)
        return [Rejection(line, "-", "; ".join(map(str, messages)))]
    return [
        Rejection(line, field, "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons))
        for field, reasons in sorted(messages.items())
    ]


def _one_per_line_and_field(rejections: list[Rejection]) -> list[Rejection]:
    unique: dict[tuple[int, str], Rejection] = {}
    for r in rejections:
        unique.setdefault((r.line, r.field), r)
    return list(unique.values())


def _drop_unknown_enterprises(session, good, known: set[str], rejections) -> list[tuple[int, dict]]:
    """The registry is the master list: data about an enterprise it does not know is rejected, not guessed."""
    asked = {row["uscc"] for _, row in good} - known
    if asked:
        known.update(session.scalars(sa.select(Enterprise.uscc).where(Enterprise.uscc.in_(asked))))
    kept = []
    for line, row in good:
        if row["uscc"] in known:
            kept.append((line, row))
        else:
            rejections.append(Rejection(line, "uscc", "登记信息中无此企业（enterprise not in the registry）"))
    return kept


def _upsert(session, spec: SourceSpec, delivery_id: int, good) -> tuple[int, int, int]:
    if not good:
        return 0, 0, 0
    table = spec.table
    key_cols = [table.c[k] for k in spec.key]
    value_names = spec.value_attributes
    keys = [tuple(row[k] for k in spec.key) for _, row in good]
    condition = key_cols[0].in_([k[0] for k in keys]) if len(key_cols) == 1 else sa.tuple_(*key_cols).in_(keys)
    existing = {
        tuple(found[: len(key_cols)]): tuple(found[len(key_cols):])
        for found in session.execute(sa.select(*key_cols, *(table.c[v] for v in value_names)).where(condition))
    }
    inserts, updates, unchanged = [], [], 0
    for (_, row), key in zip(good, keys, strict=True):
        before = existing.get(key)
        if before is None:
            inserts.append({**row, "delivery_id": delivery_id})
        elif before != tuple(row[v] for v in value_names):
            updates.append({**{f"key_{k}": row[k] for k in spec.key}, **row, "delivery_id": delivery_id})
        else:
            unchanged += 1
    if inserts:
        session.execute(table.insert(), inserts)
    if updates:
        statement = (
            table.update()
            .where(sa.and_(*(col == sa.bindparam(f"key_{col.name}") for col in key_cols)))
            .values({name: sa.bindparam(name) for name in (*value_names, "delivery_id")})
        )
        session.execute(statement, updates)
    return len(inserts), len(updates), unchanged


def _write_report(path: Path, delivery_id: int, rejections: list[Rejection], fallback_dir: Path | None) -> Path:
    """line, field, reason for every problem; beside the delivery so whoever sent it finds it."""
    target = path.with_name(path.name + ".rejected.csv")
    try:
        return _write_rejections(target, rejections)
    except OSError:
        if fallback_dir is None:
            raise
        fallback_dir.mkdir(parents=True, exist_ok=True)
        return _write_rejections(fallback_dir / f"delivery-{delivery_id}.rejected.csv", rejections)


def _write_rejections(target: Path, rejections: list[Rejection]) -> Path:
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "field", "reason"])
        writer.writerows((r.line, r.field, r.reason) for r in rejections)
    return target
