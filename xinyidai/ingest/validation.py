"""Row validation with the source's marshmallow schema, in batches, optionally in worker processes.

Validation is most of a delivery's CPU time, and it needs nothing from the database, so large files
are validated by a small process pool while the main process upserts the previous batch.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from marshmallow import ValidationError

from xinyidai.ingest.reading import RawRow, RowSource
from xinyidai.ingest.sources import SOURCES, SourceSpec

BATCH_ROWS = 10000


VALUE_CHARS = 200  # what a rejection keeps of the value it refused


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    reason: str
    value: str = ""  # the offending value as delivered (cut to VALUE_CHARS); empty for a whole-row problem


def shown_value(value) -> str:
    """A delivered value as a rejection shows it: text as it came, anything else as JSON would write it."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:VALUE_CHARS]


# (line, natural key, row) for a row that passed validation.
GoodRow = tuple[int, tuple, dict]
ValidatedBatch = tuple[int, list[GoodRow], list[Rejection]]


def validate_batch(spec: SourceSpec, schema, names: list[str] | None, batch: list[RawRow]):
    """Load each row with the schema: (line, key, row) for the good ones, every problem for the bad ones."""
    good, bad = [], []
    key = spec.key
    for line, raw in batch:
        if isinstance(raw, tuple):  # the line itself was broken (cell count, JSON)
            bad.append(Rejection(line, *raw))
            continue
        given = dict(zip(names, raw, strict=True)) if isinstance(raw, list) else raw
        try:
            row = schema.load(given)
        except ValidationError as error:
            bad.extend(_flatten(line, error.messages, given))
            continue
        good.append((line, tuple(row[k] for k in key), row))
    return good, bad


def _flatten(line: int, messages, given: dict) -> list[Rejection]:
    if isinstance(messages, list):  # a whole-row error (e.g. not an object)
        return [Rejection(line, "-", "; ".join(map(str, messages)))]
    return [
        Rejection(line, field, "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons),
                  shown_value(given.get(field)) if isinstance(given, dict) else "")
        for field, reasons in sorted(messages.items())
    ]


def _batches(raw_rows: Iterable[RawRow]) -> Iterator[list[RawRow]]:
    raw_iter = iter(raw_rows)
    while batch := list(itertools.islice(raw_iter, BATCH_ROWS)):
        yield batch


_worker_state: tuple | None = None


def _start_worker(source: str) -> None:
    global _worker_state  # noqa: PLW0603 - one schema per worker process, built once
    spec = SOURCES[source]
    _worker_state = (spec, spec.schema())


def _validate_in_worker(names, batch: list[RawRow]):
    spec, schema = _worker_state
    return validate_batch(spec, schema, names, batch)


def validated_batches(spec: SourceSpec, rows: RowSource, *, parallel: bool) -> Iterator[ValidatedBatch]:
    """Yield (rows in batch, good rows, rejections) in file order."""
    if not parallel:
        schema = spec.schema()
        for batch in _batches(rows.rows):
            yield len(batch), *validate_batch(spec, schema, rows.names, batch)
        return
    workers = max(1, min(4, os.cpu_count() or 1))
    # forkserver: workers never inherit the parent's database connections or threads.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(spec.source.value,)) as pool:
        pending: deque = deque()
        try:
            for batch in _batches(rows.rows):
                pending.append((len(batch), pool.submit(_validate_in_worker, rows.names, batch)))
                if len(pending) > 2 * workers:
                    size, future = pending.popleft()
                    yield size, *future.result()
            while pending:
                size, future = pending.popleft()
                yield size, *future.result()
        finally:
            for _, future in pending:
                future.cancel()
