"""Provider deliveries for the operator (DESIGN §3): the recent ones with their counts and rejections, and
one file uploaded through the browser and applied by the same loader as `xyd ingest`.

The upload is kept under `<instance>/deliveries/uploads/<stamp>-<random>/` with its own (cleaned) name, so
the delivery records the name the provider gave it; a file the loader refuses as a whole is removed again.
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.identity import User
from models.sources import Delivery, DeliveryRejection
from xinyidai.audit import record
from xinyidai.database import by_id
from xinyidai.domain import cells
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.i18n import N_
from xinyidai.ingest import DeliveryError, DeliverySummary, ingest_file

PER_PAGE = 50
SHOWN_REJECTIONS = 200
SNIFF_BYTES = 65536


def recent(session: Session, *, page: int = 1, per_page: int = PER_PAGE) -> tuple[list[Delivery], bool]:
    """Newest first; (deliveries, whether there is a next page)."""
    page = max(page, 1)
    found = list(session.scalars(sa.select(Delivery).order_by(Delivery.received_at.desc(), Delivery.id.desc())
                                 .offset((page - 1) * per_page).limit(per_page + 1)))
    return found[:per_page], len(found) > per_page


def get_delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = by_id(session, Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id}")
    return delivery


def rejections(session: Session, delivery_id: int, *, limit: int | None = SHOWN_REJECTIONS) -> list[DeliveryRejection]:
    statement = (sa.select(DeliveryRejection).where(DeliveryRejection.delivery_id == delivery_id)
                 .order_by(DeliveryRejection.line, DeliveryRejection.field))
    return list(session.scalars(statement.limit(limit) if limit else statement))


def rejection_report_csv(session: Session, delivery: Delivery) -> str:
    """line, field, value, reason — built from the database, not the report file the loader wrote, because
    that file lies on whichever host ran the ingest and app hosts keep no state."""
    out = io.StringIO()
    writer = cells.csv_writer(out)
    writer.writerow(["line", "field", "value", "reason"])
    writer.writerows((r.line, r.field, r.value or "", r.reason) for r in rejections(session, delivery.id, limit=None))
    return out.getvalue()


def clean_filename(name: str) -> str:
    """The upload's own name without any folder part, with only letters (any script), digits, . _ - kept."""
    base = re.split(r"[\\/]", name or "")[-1].strip()
    stem, dot, suffix = base.rpartition(".")
    stem = re.sub(r"[^\w.\-]", "_", stem if dot else base).strip("._") or "delivery"
    return f"{stem[:120]}.{suffix.lower()}" if dot else stem[:120]


def ingest_upload(session: Session, instance_path: str | Path, admin: User, source: str, filename: str,
                  stream: BinaryIO) -> DeliverySummary:
    """Apply one uploaded delivery and audit it. Raises Invalid({"file": …}) — having written nothing but
    the audit entry of the refusal — for a binary file or one the loader refuses as a whole."""
    head = stream.read(SNIFF_BYTES)
    if b"\x00" in head:
        # A spreadsheet or an archive renamed .csv: say so rather than reject every "row".
        _refused(session, admin, source, filename, "binary")
        raise Invalid({"file": [N_("这不是文本格式的 CSV 或 JSON Lines 文件（可能是 Excel 或其他二进制文件）；请另存为 UTF-8 文本后再上传")]})
    folder = Path(instance_path) / "deliveries" / "uploads" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    path = folder / clean_filename(filename)
    with path.open("wb") as target:
        target.write(head)
        shutil.copyfileobj(stream, target)
    try:
        summary = ingest_file(session, source, path, report_dir=folder, received_by=admin.username)
    except DeliveryError as error:
        shutil.rmtree(folder, ignore_errors=True)
        _refused(session, admin, source, filename, str(error))
        raise Invalid({"file": [str(error).replace(str(path), path.name)]}) from None
    record(session, "delivery_uploaded", actor_user_id=admin.id,
           detail={"delivery_id": summary.delivery_id, "source": source, "file": path.name, "rows": summary.rows,
                   "inserted": summary.inserted, "updated": summary.updated, "unchanged": summary.unchanged,
                   "rejected": summary.rejected})
    return summary


def _refused(session: Session, admin: User, source: str, filename: str, reason: str) -> None:
    record(session, "delivery_refused", actor_user_id=admin.id,
           detail={"source": source, "file": clean_filename(filename), "reason": reason[:300]})
