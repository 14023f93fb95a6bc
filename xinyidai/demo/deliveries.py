"""Provider delivery files for the demo, in the exact columns `xinyidai.ingest` expects, and loading
them through `ingest_file` — the path real deliveries take."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xinyidai.demo import clock
from xinyidai.demo.activity import History
from xinyidai.ingest import SOURCES, ingest_file

# Registry first: every other source must name an enterprise the registry already knows.
FILES = {
    "registry": "registry-2026-10.csv",
    "tax": "tax-2023-11_2026-10.csv",
    "tax_rating": "tax_rating-2022_2025.csv",
    "social_insurance": "social_insurance-2023-11_2026-10.csv",
    "housing_fund": "housing_fund-2023-11_2026-10.csv",
    "utilities": "utilities-2023-11_2026-10.csv",
    "public_credit": "public_credit-2019_2026-10.jsonl",
    "intellectual_property": "intellectual_property-2012_2026-10.csv",
    "qualifications": "qualifications-2015_2026-10.csv",
    "environmental_rating": "environmental_rating-2020_2025.csv",
    "agricultural_operator": "agricultural_operator-2026-10.csv",
}


def write_deliveries(folder: Path, firms: pd.DataFrame, history: History, ratings: pd.DataFrame,
                     events: pd.DataFrame, later: dict[str, pd.DataFrame] | None = None) -> dict[str, Path]:
    """Every source's file; `later`: the later sources' frames (xinyidai.demo.later_sources.draw), an empty
    cell where an optional value is absent."""
    folder.mkdir(parents=True, exist_ok=True)
    usccs = firms.uscc.to_numpy()
    frames = {
        "registry": _registry(firms),
        "tax": _monthly(usccs, {"invoiced_sales": history.sales, "tax_paid": history.tax_paid,
                                "in_arrears": history.tax_arrears}),
        "tax_rating": pd.DataFrame({"uscc": usccs[ratings.firm], "year": ratings.year, "rating": ratings.rating}),
        "social_insurance": _monthly(usccs, {"insured_headcount": history.headcount,
                                             "contributions": history.si_contributions,
                                             "months_in_arrears": history.si_arrears_months}),
        "housing_fund": _monthly(usccs, {"contributors": history.hf_contributors,
                                         "contributions": history.hf_contributions, "in_arrears": history.hf_arrears}),
        "utilities": _utilities(usccs, history),
    }
    paths = {}
    for source, frame in frames.items():
        assert tuple(frame.columns) == SOURCES[source].columns, source
        paths[source] = _write_csv(folder / FILES[source], frame)
    paths["public_credit"] = _public_credit(folder / FILES["public_credit"], events)
    for source, frame in (later or {}).items():
        assert tuple(frame.columns) == SOURCES[source].columns, source
        paths[source] = _write_csv(folder / FILES[source], frame)
    return {source: paths[source] for source in FILES if source in paths}


def ingest_deliveries(session, paths: dict[str, Path], report_dir: Path) -> dict[str, dict]:
    """Load each file in order; returns per source the delivery counts, seconds taken and rows per second."""
    results = {}
    for source, path in paths.items():
        started = time.perf_counter()
        summary = ingest_file(session, source, path, report_dir=report_dir)
        seconds = time.perf_counter() - started
        results[source] = {**summary.as_dict(), "seconds": round(seconds, 2),
                           "rows_per_second": round(summary.rows / seconds) if seconds else None}
    return results


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Plain CSV, built column-wise (pandas' writer formats cell by cell and is several times slower).
    Money is written from integer fen, so "12.30" is exact; no value needs quoting (checked)."""
    frame = frame.reset_index(drop=True)
    text = [_yuan_text(frame[c].to_numpy()) if _is_money(c) else frame[c].astype(str) for c in frame.columns]
    for name, column in zip(frame.columns, text, strict=True):
        if frame[name].dtype.kind not in "iuf" and column.str.contains('[",\r\n]', regex=True).any():
            raise ValueError(f"{path.name}: a {name} value contains a comma, quote or line break")
    lines = text[0]
    for column in text[1:]:
        lines = lines + "," + column
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(",".join(frame.columns) + "\n")
        if len(frame):
            handle.write("\n".join(lines.tolist()) + "\n")
    return path


def _yuan_text(yuan: np.ndarray) -> pd.Series:
    fen = np.rint(yuan.astype(float) * 100).astype(np.int64)
    return pd.Series(fen // 100).astype(str) + "." + pd.Series(fen % 100).astype(str).str.zfill(2)


def _registry(firms: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "uscc": firms.uscc, "name": firms.name, "district_code": firms.district_code,
        "industry_section": firms.industry_section, "industry_division": firms.industry_division,
        "established_on": firms.established_on.map(lambda d: d.isoformat()),
        "registered_capital": firms.registered_capital_fen.to_numpy() / 100, "status": firms.status,
        "size_class": firms.size_class,
    })


def _monthly(usccs: np.ndarray, columns: dict[str, np.ndarray], *, keep_order: bool = False) -> pd.DataFrame:
    """One row per delivered firm-month (the first column's NaNs mark the months not delivered)."""
    firm, month = np.nonzero(np.isfinite(next(iter(columns.values()))))
    frame = pd.DataFrame({"uscc": usccs[firm], "month": clock.month_labels()[month]})
    for name, values in columns.items():
        picked = values[firm, month]
        frame[name] = picked if _is_money(name) else picked.astype(np.int64)
    if keep_order:
        frame["_order"] = firm * clock.HISTORY_MONTHS + month
    return frame


def _is_money(column: str) -> bool:
    return column in ("invoiced_sales", "tax_paid", "contributions", "billed", "paid", "consumption",
                      "registered_capital")


def _utilities(usccs: np.ndarray, history: History) -> pd.DataFrame:
    """Firm by firm, month by month, electricity before water before gas."""
    parts = []
    for order, (kind, columns) in enumerate(history.utilities.items()):
        part = _monthly(usccs, columns, keep_order=True)
        part.insert(2, "kind", kind)
        part["_order"] = part["_order"] * 4 + order
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def _public_credit(path: Path, events: pd.DataFrame) -> Path:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for event in events.itertuples(index=False):
            handle.write(json.dumps({
                "record_id": event.record_id, "uscc": event.uscc, "kind": event.kind, "severity": event.severity,
                "decided_on": event.decided_on.isoformat(),
                "repaired_on": event.repaired_on.isoformat() if event.repaired_on else None,
                "force_majeure": bool(event.force_majeure),
            }, ensure_ascii=False) + "\n")
    return path
