"""Applying a delivery: validate each row, reject the bad with a reason, upsert the good in batches.

The whole delivery is one transaction, so a file that turns out unreadable half-way leaves nothing
behind; rows = inserted + updated + unchanged + rejected always holds (the database checks it too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.sources import Delivery, DeliveryRejection, DeliveryStatus
from xinyidai.database import BULK_ROWS, refresh_statistics
from xinyidai.domain import cells
from xinyidai.ingest.reading import DeliveryError, RowSource, detect_format, file_sha256, read_rows
from xinyidai.ingest.sources import SOURCES, SourceSpec
from xinyidai.ingest.validation import VALUE_CHARS, GoodRow, Rejection, shown_value, validated_batches
from xinyidai.ingest.writing import TableWriter

# Files this big are validated by worker processes while this one writes (about 60,000 rows).
PARALLEL_MIN_BYTES = 4 * 1024 * 1024

# What must follow a source's delivery (a repaired public-credit record re-scores its enterprise, issue 17).
# A hook is called with the session before the file is applied and returns what to call, with the session and
# the delivery's id, once it is committed (or None). Hooks are registered by the layer above (the domain).
DeliveryHook = Callable[[Session], Callable[[Session, int], None] | None]
_HOOKS: dict[str, list[DeliveryHook]] = {}


def on_delivery(source: str, hook: DeliveryHook) -> None:
    """Register `hook` for deliveries of `source` (once: registering it again changes nothing)."""
    hooks = _HOOKS.setdefault(source, [])
    if hook not in hooks:
        hooks.append(hook)


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
    received_by: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


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
    received_by: str | None = None,
) -> DeliverySummary:
    """Apply one delivery file and commit. Raises DeliveryError (having written nothing) when the
    file as a whole is unusable. The rejection report goes next to the file, or to `report_dir` when
    the file's folder cannot be written. `received_by` says who handed the file in (kept on the delivery)."""
    spec = spec_for(source)
    path = Path(path)
    fmt = detect_format(path, file_format)
    delivery = Delivery(source=spec.source, filename=path.name, file_format=fmt, sha256=file_sha256(path),
                        received_by=received_by)
    followers = [f for f in (hook(session) for hook in _HOOKS.get(spec.source.value, ())) if f is not None]
    session.add(delivery)
    try:
        session.flush()
        parallel = path.stat().st_size >= PARALLEL_MIN_BYTES
        rejections = _apply(session, spec, delivery, read_rows(spec, path, fmt), progress, parallel)
        report = _write_report(path, delivery.id, rejections, report_dir) if rejections else None
        delivery.rejection_report = str(report) if report else None
        session.commit()
        if delivery.inserted + delivery.updated >= BULK_ROWS:
            refresh_statistics(session, spec.table)
            session.commit()
    except BaseException:
        session.rollback()
        raise
    for follow in followers:
        follow(session, delivery.id)
    return DeliverySummary(
        delivery.id, spec.source.value, str(path), delivery.rows, delivery.inserted, delivery.updated,
        delivery.unchanged, delivery.rejected, delivery.rejection_report, delivery.received_by,
    )


def _apply(session, spec, delivery, rows: RowSource, progress, parallel: bool) -> list[Rejection]:
    writer = TableWriter(session.connection(), spec.table, spec.key, spec.value_attributes)
    seen_keys: dict[tuple, int] = {}
    known_enterprises: set[str] = set()
    rejections: list[Rejection] = []
    counts = {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0}
    for size, valid, invalid in validated_batches(spec, rows, parallel=parallel):
        rejections.extend(invalid)
        good = _drop_duplicates(spec, valid, seen_keys, rejections)
        if spec.references_registry:
            good = _drop_unknown_enterprises(session, good, known_enterprises, rejections)
        inserted, updated, unchanged = _upsert(writer, delivery.id, good)
        counts["rows"] += size
        counts["inserted"] += inserted
        counts["updated"] += updated
        counts["unchanged"] += unchanged
        if progress:
            progress(size)
    rejections.sort(key=lambda r: (r.line, r.field))
    delivery.rows = counts["rows"]
    delivery.inserted, delivery.updated, delivery.unchanged = counts["inserted"], counts["updated"], counts["unchanged"]
    delivery.rejected = len({r.line for r in rejections})
    delivery.status = DeliveryStatus.APPLIED
    delivery.received_at = utcnow()
    if rejections:
        session.execute(
            sa.insert(DeliveryRejection),
            [{"delivery_id": delivery.id, "line": r.line, "field": r.field, "reason": r.reason[:500],
              "value": r.value[:VALUE_CHARS]}
             for r in _one_per_line_and_field(rejections)],
        )
    return rejections


def _drop_duplicates(spec, valid: list[GoodRow], seen_keys, rejections) -> list[GoodRow]:
    """A natural key twice in one delivery is rejected the second time: keeping either silently would
    make a re-delivery of the same file report an update."""
    good = []
    for item in valid:
        line = item[0]
        first = seen_keys.setdefault(item[1], line)
        if first != line:
            rejections.append(Rejection(line, "+".join(spec.key), f"与第 {first} 行重复（duplicate of line {first}）",
                                        shown_value(" / ".join(str(part) for part in item[1]))))
        else:
            good.append(item)
    return good


def _one_per_line_and_field(rejections: list[Rejection]) -> list[Rejection]:
    unique: dict[tuple[int, str], Rejection] = {}
    for r in rejections:
        unique.setdefault((r.line, r.field), r)
    return list(unique.values())


def _drop_unknown_enterprises(session, good: list[GoodRow], known: set[str], rejections) -> list[GoodRow]:
    """The registry is the master list: data about an enterprise it does not know is rejected, not guessed."""
    asked = {item[2]["uscc"] for item in good} - known
    if asked:
        known.update(session.scalars(sa.select(Enterprise.uscc).where(Enterprise.uscc.in_(asked))))
        if not asked <= known:
            kept = []
            for item in good:
                if item[2]["uscc"] in known:
                    kept.append(item)
                else:
                    rejections.append(Rejection(item[0], "uscc", "登记信息中无此企业（enterprise not in the registry）",
                                                item[2]["uscc"]))
            return kept
    return good


def _upsert(writer: TableWriter, delivery_id: int, good: list[GoodRow]) -> tuple[int, int, int]:
    if not good:
        return 0, 0, 0
    width = len(writer.key)
    stored = [writer.stored_form(row, delivery_id) for _, _, row in good]
    existing = writer.existing([s[:width] for s in stored], [item[1] for item in good])
    inserts, updates, unchanged = [], [], 0
    for row in stored:
        before = existing.get(row[:width])
        if before is None:
            inserts.append(row)
        elif before != row[width:-1]:
            updates.append(row[width:] + row[:width])
        else:
            unchanged += 1
    writer.insert(inserts)
    writer.update(updates)
    return len(inserts), len(updates), unchanged


def _write_report(path: Path, delivery_id: int, rejections: list[Rejection], fallback_dir: Path | None) -> Path:
    """line, field, value, reason for every problem; beside the delivery so whoever sent it finds it."""
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
        writer = cells.csv_writer(handle)
        writer.writerow(["line", "field", "value", "reason"])
        writer.writerows((r.line, r.field, r.value, r.reason) for r in rejections)
    return target
