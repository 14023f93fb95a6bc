"""Run every benchmark module in turn: `python -m bench [NAME ...]` (default: all)."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ["ingest_bench", "ml_bench", "trainer_bench", "pipeline_bench", "dashboard_bench", "notifications_bench",
              "admin_upload_bench", "credit_report_bench", "joint_bench", "source_lift_bench"]


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"bench.{name}":
                raise
            print(f"== {name}: not present, skipped")
            continue
        print(f"== {name}")
        started = time.perf_counter()
        module.main()
        print(f"== {name} done in {time.perf_counter() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
