"""Reading a delivery file (CSV or JSON Lines) into numbered raw rows; the file's shape is checked first."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from xinyidai.ingest.sources import SourceSpec

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
csv.field_size_limit(1 << 20)


class DeliveryError(Exception):
    """The delivery as a whole is unusable (unreadable, wrong header, unknown source): nothing is written."""


# A raw row: (line number, {column: value}), (line number, [cells]) in the header's order for CSV, or
# (line number, (field, problem)) when the line itself is broken. CSV cells stay lists until
# validation, which may run in another process: cheaper to send, and the dict is built there.
RawRow = tuple[int, dict | list | tuple[str, str]]


class RowSource:
    """The rows of one open delivery file, with the CSV header once it has been read."""

    def __init__(self, rows):
        self.names: list[str] | None = None
        self.rows = rows


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        if declared not in ("csv", "jsonl"):
            raise DeliveryError(f"未知文件格式 {declared}（format must be csv or jsonl）")
        return declared
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DeliveryError(f"无法识别文件格式 {path.name}（use .csv, .jsonl or .ndjson）")
    return fmt


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise DeliveryError(f"无法读取文件 {path}（cannot read file: {error.strerror or error}）") from None
    return digest.hexdigest()


def check_header(spec: SourceSpec, header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in spec.columns if c in spec.required_columns and c not in names]
    unknown = [n for n in names if n not in spec.columns]
    problems = []
    if duplicated:
        problems.append(f"重复的列 duplicate columns: {', '.join(duplicated)}")
    if missing:
        problems.append(f"缺少列 missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"未知列 unknown columns: {', '.join(unknown)}")
    if problems:
        expected = ",".join(spec.columns)
        raise DeliveryError(f"表头不符（wrong header）— {'; '.join(problems)}; expected: {expected}")
    return names


def check_complete(path: Path) -> None:
    """A delivery ends with a line break. One that stops mid-line was cut off in transfer, and its last row
    may still parse — with a number missing its last digits — so the whole file is refused rather than
    applied short."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, 2) == 0:
                return  # empty: reported as "no header" once read
            handle.seek(-1, 2)
            last = handle.read(1)
    except OSError as error:
        raise DeliveryError(f"无法读取文件 {path}（cannot read file: {error.strerror or error}）") from None
    if last not in (b"\n", b"\r"):
        raise DeliveryError(f"文件在行中途结束，可能传输不完整，整个文件未导入，请重新报送 {path.name}"
                            "（file ends mid-line, probably cut off in transfer: nothing was applied; deliver it again）")


def read_rows(spec: SourceSpec, path: Path, fmt: str) -> RowSource:
    """Open the file and check its shape (a CSV header is read at once). Raises DeliveryError for a
    whole-file problem, now or while the rows are iterated; the caller's transaction makes that
    all-or-nothing."""
    check_complete(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise DeliveryError(f"无法读取文件 {path}（cannot read file: {error.strerror or error}）") from None
    source = RowSource(None)
    if fmt == "csv":
        reader = csv.reader(handle)
        try:
            header = _decoded(path, lambda: next(reader, None))
        except DeliveryError:
            handle.close()
            raise
        if header is None:
            handle.close()
            raise DeliveryError("文件为空，没有表头（empty file: no header）")
        try:
            source.names = check_header(spec, header)
        except DeliveryError:
            handle.close()
            raise
        source.rows = _closing(handle, path, _csv_rows(reader, len(source.names)))
    else:
        source.rows = _closing(handle, path, _jsonl_rows(handle))
    return source


def _decoded(path: Path, read):
    try:
        return read()
    except UnicodeDecodeError:
        raise DeliveryError(f"文件不是 UTF-8 编码 {path.name}（file is not UTF-8）") from None


def _closing(handle, path: Path, rows: Iterator[RawRow]) -> Iterator[RawRow]:
    with handle:
        try:
            yield from rows
        except UnicodeDecodeError:
            raise DeliveryError(f"文件不是 UTF-8 编码 {path.name}（file is not UTF-8）") from None


def _csv_rows(reader, width: int) -> Iterator[RawRow]:
    for cells in reader:
        if not cells:
            continue  # a blank line carries no row
        if len(cells) != width:
            yield reader.line_num, ("-", f"列数应为 {width}，实为 {len(cells)}（expected {width} cells, found {len(cells)}）")
        else:
            yield reader.line_num, cells


def _jsonl_rows(handle) -> Iterator[RawRow]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as error:
            yield line, ("-", f"不是有效的 JSON（not valid JSON: {error.msg}）")
            continue
        if not isinstance(row, dict):
            yield line, ("-", "每行应为一个 JSON 对象（each line must be a JSON object）")
        else:
            yield line, row
