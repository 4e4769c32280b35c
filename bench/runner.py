"""Timing, interleaving, statistics and reports for the benchmark workloads.

Each workload names a reference (the physical limit on this machine: raw SQL through psycopg, COPY,
a raw DuckDB query) and one or more PHB variants. Before anything is timed, each variant's answer is
checked; a wrong answer reports the workload as failed, never as a number. Then rounds run
interleaved (reference, variant, variant, reference, ...) so that a noisy neighbour slows both sides
alike, and the ratio of each round is variant / reference of the same round. Medians are reported.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


class CheckFailed(Exception):
    """A variant's answer was wrong: the workload reports failed."""


@dataclass
class Variant:
    name: str
    run: Callable[[], Any]
    check: Callable[[Any], None]


@dataclass
class Workload:
    name: str
    description: str
    reference: Variant
    variants: list[Variant]
    teardown: Callable[[], None] | None = None


@dataclass
class VariantResult:
    name: str
    samples_us: list[float] = field(default_factory=list)  # per-op µs, one per round
    all_ops_us: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ops = sorted(self.all_ops_us)
        median = statistics.median(self.samples_us)
        out: dict[str, Any] = {
            "median_us": round(median, 2),
            "p95_us": round(percentile(ops, 95), 2),
            "throughput_ops_s": round(1_000_000 / median, 1) if median else None,
            "round_medians_us": [round(s, 2) for s in self.samples_us],
        }
        if self.ratios:
            out["ratio"] = {
                "median": round(statistics.median(self.ratios), 2),
                "min": round(min(self.ratios), 2),
                "max": round(max(self.ratios), 2),
            }
        return out


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def time_ops(fn: Callable[[], Any], iterations: int) -> list[float]:
    """µs per call for `iterations` calls."""
    out = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def run_workload(workload: Workload, *, pairs: int, iterations: int, warmup: int = 50) -> dict[str, Any]:
    sides = [workload.reference, *workload.variants]
    try:
        for variant in sides:
            variant.check(variant.run())
    except Exception as exc:  # a wrong answer or an error: no number is reported
        return {
            "workload": workload.name,
            "description": workload.description,
            "status": "failed",
            "reason": f"{type(exc).__name__}: {exc}",
        }
    results = {v.name: VariantResult(v.name) for v in sides}
    for variant in sides:
        time_ops(variant.run, warmup)
    for _ in range(pairs):
        round_medians: dict[str, float] = {}
        for variant in sides:
            ops = time_ops(variant.run, iterations)
            round_medians[variant.name] = statistics.median(ops)
            results[variant.name].samples_us.append(round_medians[variant.name])
            results[variant.name].all_ops_us.extend(ops)
        for variant in workload.variants:
            results[variant.name].ratios.append(round_medians[variant.name] / round_medians[workload.reference.name])
    if workload.teardown:
        workload.teardown()
    return {
        "workload": workload.name,
        "description": workload.description,
        "status": "ok",
        "reference": workload.reference.name,
        "pairs": pairs,
        "iterations": iterations,
        "variants": {name: r.summary() for name, r in results.items()},
    }


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    import django

    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        **(extra or {}),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# PHB benchmarks ({report['environment']['date']})",
        "",
        ", ".join(f"{k}: {v}" for k, v in report["environment"].items() if k != "date"),
        "",
        "| workload | variant | median µs/op | p95 µs/op | throughput ops/s | ratio to reference (median, range) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for w in report["workloads"]:
        if w["status"] != "ok":
            lines.append(f"| {w['workload']} | — | failed: {w['reason']} | | | |")
            continue
        for name, s in w["variants"].items():
            ratio = (
                "reference"
                if name == w["reference"]
                else f"{s['ratio']['median']}x ({s['ratio']['min']} to {s['ratio']['max']})"
            )
            lines.append(
                f"| {w['workload']} | {name} | {s['median_us']} | {s['p95_us']} | {s['throughput_ops_s']} | {ratio} |"
            )
    lines += [
        "",
        f"Rounds interleaved per workload; each round times {report['workloads'][0].get('iterations', '?')} "
        "operations per variant; medians of the round medians.",
    ]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    path = RESULTS / "latest.md"
    path.write_text(markdown(report))
    return path
