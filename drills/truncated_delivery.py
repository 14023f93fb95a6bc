"""Drill (b): a provider's delivery arrives cut off mid-way. `xyd ingest` must refuse it whole — no row of
it, no delivery record — and the complete file, delivered again, must apply as if the cut one never came."""

from __future__ import annotations

import shutil

from drills.outcome import Outcome

NAME = "truncated-delivery"
TABLES = {"tax": "tax_months", "public_credit": "public_credit_events"}


def run(context) -> Outcome:
    platform = context.platform
    deliveries = platform.instance / "demo" / "deliveries"
    work = platform.instance / "drill-deliveries"
    work.mkdir(exist_ok=True)
    findings, problems = [], []
    for source, table in TABLES.items():
        original = next(deliveries.glob(f"{source}-*"))
        data = original.read_bytes()
        cut = work / f"cut-{original.name}"
        cut.write_bytes(data[: len(data) // 2])  # half-way through the file, in the middle of some row
        rows_before = platform.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
        deliveries_before = platform.scalar("SELECT count(*) FROM deliveries")
        refused = platform.xyd("ingest", source, str(cut), check=False)
        rows_after = platform.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608
        deliveries_after = platform.scalar("SELECT count(*) FROM deliveries")
        complete = work / original.name
        shutil.copyfile(original, complete)
        again = platform.xyd("ingest", source, str(complete), "--json", check=False)
        message = (refused.stderr or refused.stdout).strip().splitlines()[-1] if refused.returncode else ""
        if refused.returncode == 0 or "cut off in transfer" not in message:
            problems.append(f"{source}: the cut file was not refused ({refused.stdout.strip()[-200:]})")
        if (rows_after, deliveries_after) != (rows_before, deliveries_before):
            problems.append(f"{source}: {rows_after - rows_before} rows and {deliveries_after - deliveries_before} "
                            "deliveries written by the cut file")
        summary = again.stdout.strip()
        if again.returncode != 0 or '"inserted": 0' not in summary or '"updated": 0' not in summary:
            problems.append(f"{source}: re-delivering the complete file changed data: {summary[-300:]}")
        findings.append(f"{source} ({original.suffix}, cut at {len(data) // 2:,} of {len(data):,} bytes): refused, "
                        f"{rows_after - rows_before} rows written; complete file again: 0 inserted, 0 updated")
    detail = "; ".join(findings)
    return Outcome(NAME, not problems, "; ".join(problems) if problems else detail)
