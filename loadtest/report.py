"""Turning locust's per-request samples into the numbers `make load` prints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

TARGET_RPS, TARGET_P95_MS = 300, 200
GROUPS = ("enterprise", "bank", "office", "api")


def read_samples(path: Path) -> list[tuple[str, float, bool, bool, float]]:
    """(name, milliseconds, failed, steady, finished at) per request."""
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, milliseconds, failed, steady, at = line.split("\t")
        samples.append((name, float(milliseconds), failed == "1", steady == "1", float(at)))
    return samples


def print_report(samples: list[tuple[str, float, bool, bool, float]], seconds: float) -> int:
    """Print the warm-up line and the steady-state table; return the number of failed requests (both phases)."""
    # A user's login belongs to its start, wherever it falls: the last users spawned log in after
    # "spawning complete", and their scrypt checks (slow by design) are not the steady state's traffic.
    warmup = [s for s in samples if not s[3] or _is_login(s[0])]
    steady = [s for s in samples if s[3] and not _is_login(s[0])]
    if warmup:
        logins = np.array([ms for name, ms, *_ in warmup if name.endswith("log in")])
        print(f"warm-up while users were spawned: {len(warmup)} requests, {sum(s[2] for s in warmup)} errors; "
              f"{len(logins)} logins (scrypt by design), p50 {np.percentile(logins, 50) if len(logins) else 0:.0f} ms")
    if not steady:
        print("no steady-state requests: the run ended before every user was spawned (run longer)")
        return sum(s[2] for s in samples)
    window = max(s[4] for s in steady) - min(s[4] for s in steady) or seconds
    print(f"steady state: {window:.0f} s with every user running")
    by_group: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    by_name: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for name, milliseconds, failed, *_ in steady:
        by_group[name.split(":")[0]].append((milliseconds, failed))
        by_name[name].append((milliseconds, failed))
    print(f"\n{'':<34}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>8}")
    for name in sorted(by_name):
        _row("  " + name, by_name[name], window)
    print()
    for group in GROUPS:
        if by_group.get(group):
            _row(group, by_group[group], window)
    rps, p95, errors = _row("overall", [(ms, failed) for _, ms, failed, *_ in steady], window)
    print(f"\ntarget ≥{TARGET_RPS} req/s: {'met' if rps >= TARGET_RPS else 'NOT met'} ({rps:.0f}); "
          f"p95 <{TARGET_P95_MS} ms: {'met' if p95 < TARGET_P95_MS else 'NOT met'} ({p95:.0f} ms); "
          f"errors: {errors}")
    return errors + sum(s[2] for s in warmup)


def _is_login(name: str) -> bool:
    return name.endswith(("log in", "login form"))


def _row(label: str, rows: list[tuple[float, bool]], seconds: float) -> tuple[float, float, int]:
    times = np.array([ms for ms, _ in rows])
    errors = sum(failed for _, failed in rows)
    p50, p95, p99 = np.percentile(times, [50, 95, 99]) if len(times) else (0, 0, 0)
    rps = len(rows) / seconds
    print(f"{label:<34}{len(rows):>9}{rps:>8.1f}{p50:>8.0f}{p95:>8.0f}{p99:>8.0f}{errors:>8}")
    return rps, p95, errors


def memory_verdict(series: list[tuple[float, int]]) -> str:
    """Flat = the workers' resident memory over the last quarter of the run within 10 % of where it stood
    after the first quarter (warm-up: model, caches, pools filled)."""
    if len(series) < 8:
        return f"memory: only {len(series)} samples, too few to judge (run longer)"
    quarter = len(series) // 4
    settled = float(np.median([rss for _, rss in series[quarter:2 * quarter]]))
    final = float(np.median([rss for _, rss in series[-quarter:]]))
    growth = (final - settled) / settled if settled else 0.0
    trace = " ".join(f"{rss / 2**20:.0f}" for _, rss in series)
    verdict = "flat" if growth < 0.10 else "GROWING"
    return (f"worker RSS (MiB, every 10 s): {trace}\nmemory {verdict}: {settled / 2**20:.0f} MiB after warm-up → "
            f"{final / 2**20:.0f} MiB at the end ({growth:+.1%})")
