"""Timing, interleaving, statistics and reports for the benchmark workloads.

Each workload names a reference (the physical limit on this machine: raw SQL through psycopg, COPY,
a raw DuckDB query) and one or more PHB variants. Before anything is timed, each variant's answer is
checked; a wrong answer (or an error) reports the workload as failed, never as a number. Then rounds
run interleaved (reference, variant, variant, reference, ...) so that a noisy neighbour or a CPU
frequency change slows every side alike, and the ratio of each round is variant / reference of that
same round. Ratios, not absolute times, are what compare across machines; their range says how much
to trust them.

A `Quality` workload measures how right something is rather than how fast (precision and recall of the
master patient index): it runs once and its figures get a table of their own. An `Outcome` is a
property that holds or does not (no double booking under contention): it runs once and reports passed
or failed, with what it saw.
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
ROOT = Path(__file__).resolve().parent.parent
MIN_PAIRS = 5
NOISY_SPREAD = 0.10  # a reference whose round medians spread more than this is too noisy to trust


class CheckFailed(Exception):
    """A variant's answer was wrong: the workload reports failed."""


@dataclass
class Variant:
    """One way of doing the workload's operation. `check` raises when `run`'s answer is wrong."""

    name: str
    run: Callable[[], Any]
    check: Callable[[Any], None]
    # A run that is a batch (N requests spread over concurrent clients): the throughput is N per run.
    ops_per_run: int = 1
    # Per-request latencies (µs) a batch recorded since the last call, for request percentiles.
    latencies: Callable[[], list[float]] | None = None


@dataclass(frozen=True)
class Timed:
    """What a variant's `run` returns when it measured itself: `elapsed_us` is its operation's time
    (say, what pgbench reports for its transactions, without starting the process and connecting),
    used instead of the wall time of the call; `answer` is what `check` receives."""

    answer: Any
    elapsed_us: float


def answer_of(result: Any) -> Any:
    return result.answer if isinstance(result, Timed) else result


@dataclass
class Workload:
    name: str
    description: str
    reference: Variant
    variants: list[Variant]
    teardown: Callable[[], None] | None = None
    # Figures beside the timing table (say, each request's latency inside a concurrent batch), read
    # once the rounds are over: one line each in the report.
    notes: Callable[[], list[str]] | None = None
    warmup: int = 50  # untimed runs of each side before the rounds (fewer for long batches)


@dataclass
class Quality:
    """A measure of correctness, run once. `measure` returns {"bands": {band: {"precision", "recall",
    "true_positive", "false_positive", "false_negative", "target", "meets_target"}}, "notes": [...], ...}
    and raises CheckFailed when its figures could not be trusted."""

    name: str
    description: str
    measure: Callable[[], dict[str, Any]]


@dataclass
class Outcome:
    """A pass/fail property, run once. `measure` returns {"trials": n, "detail": "..."} when it held and
    raises CheckFailed (with what it saw) when it did not; figures it measured on the way may come as
    {"notes": [...]}, one line each under the outcomes' table."""

    name: str
    description: str
    measure: Callable[[], dict[str, Any]]


@dataclass
class VariantResult:
    """What one variant measured: one sample (the median µs/op of its round) per round."""

    name: str
    samples_us: list[float] = field(default_factory=list)
    all_ops_us: list[float] = field(default_factory=list)  # every timed operation, for the p95
    ratios: list[float] = field(default_factory=list)  # sample / the reference's sample of the same round
    ops_per_run: int = 1
    requests_us: list[float] = field(default_factory=list)  # every request of every batch, when recorded

    def summary(self) -> dict[str, Any]:
        median = statistics.median(self.samples_us)
        out: dict[str, Any] = {
            "median_us": round(median, 2),
            "p95_us": round(percentile(sorted(self.all_ops_us), 95), 2),
            "throughput_ops_s": round(self.ops_per_run * 1_000_000 / median, 1) if median else None,
            "sample_medians_us": [round(s, 2) for s in self.samples_us],
        }
        if self.ops_per_run != 1:
            out["ops_per_run"] = self.ops_per_run
        if self.requests_us:
            ordered = sorted(self.requests_us)
            out["request_us"] = {
                "p50": round(percentile(ordered, 50), 1),
                "p95": round(percentile(ordered, 95), 1),
                "p99": round(percentile(ordered, 99), 1),
                "count": len(ordered),
            }
        if self.ratios:
            out["ratio"] = {
                "median": round(statistics.median(self.ratios), 2),
                "min": round(min(self.ratios), 2),
                "max": round(max(self.ratios), 2),
                "per_round": [round(r, 3) for r in self.ratios],
            }
        return out


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values: always one of the measured values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def time_ops(fn: Callable[[], Any], iterations: int) -> list[float]:
    """µs per call for `iterations` calls, each timed on its own so that a p95 can be reported.

    perf_counter_ns costs well under a microsecond; the cheapest operation timed here costs tens. A call
    returning `Timed` is counted as the time it measured itself.
    """
    out = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        result = fn()
        elapsed = (time.perf_counter_ns() - start) / 1000
        out.append(result.elapsed_us if isinstance(result, Timed) else elapsed)
    return out


def failed(workload: str, description: str, reason: str) -> dict[str, Any]:
    return {"workload": workload, "description": description, "status": "failed", "reason": reason}


def spread(samples: list[float]) -> float:
    """(max - min) / median of a side's round medians: how much the machine moved under it."""
    median = statistics.median(samples)
    return (max(samples) - min(samples)) / median if median else 0.0


def _rounds(workload: Workload, *, pairs: int, iterations: int) -> dict[str, VariantResult]:
    sides = [workload.reference, *workload.variants]
    results = {v.name: VariantResult(v.name, ops_per_run=v.ops_per_run) for v in sides}
    for _ in range(pairs):
        samples: dict[str, float] = {}
        for variant in sides:
            ops = time_ops(variant.run, iterations)
            samples[variant.name] = statistics.median(ops)
            results[variant.name].samples_us.append(samples[variant.name])
            results[variant.name].all_ops_us.extend(ops)
            if variant.latencies:
                results[variant.name].requests_us.extend(variant.latencies())
        for variant in workload.variants:
            results[variant.name].ratios.append(samples[variant.name] / samples[workload.reference.name])
    return results


def run_workload(workload: Workload, *, pairs: int, iterations: int, warmup: int | None = None) -> dict[str, Any]:
    """Check every variant, warm them up, then time `pairs` interleaved rounds of `iterations` ops each.

    When the reference's round medians spread more than NOISY_SPREAD, the rounds are run once more and
    the steadier set is kept; if that one is no steadier than the limit either, the workload is marked
    noisy (its figures are reported, flagged).
    """
    warmup = workload.warmup if warmup is None else warmup
    if pairs < MIN_PAIRS:
        raise ValueError(f"at least {MIN_PAIRS} rounds are needed for a ratio range worth reading")
    sides = [workload.reference, *workload.variants]
    reference = workload.reference.name
    try:
        for variant in sides:
            try:
                variant.check(answer_of(variant.run()))
            except Exception as exc:  # a wrong answer or an error: no number is reported
                return failed(workload.name, workload.description, f"{variant.name}: {type(exc).__name__}: {exc}")
        for variant in sides:
            time_ops(variant.run, warmup)
            if variant.latencies:
                variant.latencies()  # the warm-up's requests are not reported
        results = _rounds(workload, pairs=pairs, iterations=iterations)
        spreads = [spread(results[reference].samples_us)]
        if spreads[0] > NOISY_SPREAD:
            again = _rounds(workload, pairs=pairs, iterations=iterations)
            spreads.append(spread(again[reference].samples_us))
            if spreads[1] < spreads[0]:
                results = again
    except Exception as exc:  # an error while timing is a failure too, never half a table
        return failed(workload.name, workload.description, f"while timing: {type(exc).__name__}: {exc}")
    finally:
        if workload.teardown:
            workload.teardown()
    return {
        "workload": workload.name,
        "description": workload.description,
        "status": "ok",
        "reference": reference,
        "pairs": pairs,
        "iterations": iterations,
        "warmup": warmup,
        "noise": {
            "reference_spread": [round(s, 3) for s in spreads],
            "repeated": len(spreads) > 1,
            "noisy": min(spreads) > NOISY_SPREAD,
        },
        "variants": {name: r.summary() for name, r in results.items()},
        "notes": workload.notes() if workload.notes else [],
    }


def run_smoke(workload: Workload) -> dict[str, Any]:
    """Correctness only (what CI runs): every side's answer checked once, nothing timed."""
    start = time.perf_counter()
    try:
        for variant in (workload.reference, *workload.variants):
            try:
                variant.check(answer_of(variant.run()))
            except Exception as exc:
                return {
                    **failed(workload.name, workload.description, f"{variant.name}: {type(exc).__name__}: {exc}"),
                    "kind": "outcome",
                }
    finally:
        if workload.teardown:
            workload.teardown()
    sides = len(workload.variants) + 1
    return {
        "workload": workload.name,
        "description": workload.description,
        "status": "ok",
        "kind": "outcome",
        "seconds": round(time.perf_counter() - start, 1),
        "trials": sides,
        "detail": f"smoke: the answers of all {sides} sides checked, not timed",
    }


def run_quality(quality: Quality) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        figures = quality.measure()
    except Exception as exc:  # a failed check or an error: no figures are reported
        return {**failed(quality.name, quality.description, f"{type(exc).__name__}: {exc}"), "kind": "quality"}
    return {
        "workload": quality.name,
        "description": quality.description,
        "status": "ok",
        "kind": "quality",
        "seconds": round(time.perf_counter() - start, 1),
        **figures,
    }


def run_outcome(outcome: Outcome) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        figures = outcome.measure()
    except Exception as exc:  # the property did not hold, or could not be tried
        return {**failed(outcome.name, outcome.description, f"{type(exc).__name__}: {exc}"), "kind": "outcome"}
    return {
        "workload": outcome.name,
        "description": outcome.description,
        "status": "ok",
        "kind": "outcome",
        "seconds": round(time.perf_counter() - start, 1),
        **figures,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """The checkout's short commit, with "-dirty" when it has uncommitted changes to tracked files."""
    import shutil
    import subprocess

    executable = shutil.which("git")
    if executable is None:
        return "unknown"

    def git(*args: str) -> str:
        return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short=10", "HEAD")
        return sha + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Enough to tell two result files apart: absolute times only compare on the same machine."""
    import hashlib

    import django

    lock = ROOT / "requirements.lock"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "load_average": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else None,
        **(extra or {}),
    }


def _facts(env: dict[str, Any]) -> list[str]:
    settings = env.get("postgresql_settings") or {}
    lines = [
        ", ".join(f"{k}: {v}" for k, v in env.items() if k not in ("date", "postgresql_settings", "data")),
    ]
    if settings:
        lines += ["", "PostgreSQL settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())]
    data = env.get("data")
    if data:
        expected = data.get("expected", {})
        lines += [
            "",
            f"Data: tier {data.get('tier')}, {data.get('patients', 0):,} patients, "
            f"{expected.get('observations', 0):,} observations, {expected.get('encounters', 0):,} encounters "
            f"(`phb bench-data`, generated in {data.get('seconds')} s; database "
            f"{data.get('database_bytes', 0) / 2**20:,.0f} MiB)",
        ]
    return lines


def _noise(w: dict[str, Any]) -> str:
    noise = w.get("noise")
    if not noise:
        return ""
    spreads = " then ".join(f"{s:.0%}" for s in noise["reference_spread"])
    return f"{spreads}{' NOISY' if noise['noisy'] else ''}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# PHB benchmarks ({report['environment']['date']})",
        "",
        *_facts(report["environment"]),
        "",
    ]
    if report.get("pending"):
        lines += [f"**Incomplete**: written before these workloads ran: {', '.join(report['pending'])}.", ""]
    timed = [w for w in report["workloads"] if w.get("kind") not in ("quality", "outcome")]
    quality = [w for w in report["workloads"] if w.get("kind") == "quality"]
    outcomes = [w for w in report["workloads"] if w.get("kind") == "outcome"]
    if timed:
        lines += [
            "| workload | variant | median µs/op | p95 µs/op | throughput ops/s | ratio to reference (median, range) "
            "| reference spread |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
    for w in timed:
        if w["status"] != "ok":
            reason = str(w["reason"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {w['workload']} | — | failed: {reason} | | | | |")
            continue
        for name, s in w["variants"].items():
            ratio = (
                "reference"
                if name == w["reference"]
                else f"{s['ratio']['median']}x ({s['ratio']['min']} to {s['ratio']['max']})"
            )
            noise = _noise(w) if name == w["reference"] else ""
            lines.append(
                f"| {w['workload']} | {name} | {s['median_us']} | {s['p95_us']} | {s['throughput_ops_s']} | {ratio} "
                f"| {noise} |"
            )
    requests = [
        (w["workload"], name, s["request_us"], s["throughput_ops_s"])
        for w in timed
        if w["status"] == "ok"
        for name, s in w["variants"].items()
        if "request_us" in s
    ]
    if requests:
        lines += [
            "",
            "| workload | variant | request p50 µs | request p95 µs | request p99 µs | requests/s |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [f"| {w} | {n} | {r['p50']} | {r['p95']} | {r['p99']} | {t} |" for w, n, r, t in requests]
    lines += [
        "",
        f"{report.get('pairs', '?')} interleaved rounds per workload, each timing {report.get('iterations', '?')} "
        "operations per variant after a warm-up. Median: of the rounds' median µs/op; p95: over every timed "
        "operation; ratio: variant / reference of the same round, median and range over the rounds. Reference "
        f"spread: (max - min) / median of the reference's round medians; above {NOISY_SPREAD:.0%} the rounds "
        "are run again and the steadier set kept, NOISY when neither was steady.",
    ]
    notes = [f"- {w['workload']}: {note}" for w in timed if w["status"] == "ok" for note in w.get("notes", [])]
    if notes:
        lines += ["", *notes]
    if quality:
        lines += [
            "",
            "| quality | band | precision | recall | true pos. | false pos. | false neg. | target (precision, recall) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for w in quality:
            if w["status"] != "ok":
                reason = str(w["reason"]).replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {w['workload']} | — | failed: {reason} | | | | | |")
                continue
            for band, b in w["bands"].items():
                target = b.get("target")
                met = (
                    "—"
                    if not target
                    else f"{target['precision']}, {target['recall']}: {'met' if b['meets_target'] else 'NOT met'}"
                )
                lines.append(
                    f"| {w['workload']} | {band} | {b['precision']:.3f} | {b['recall']:.3f} | {b['true_positive']} "
                    f"| {b['false_positive']} | {b['false_negative']} | {met} |"
                )
        lines.append("")
        for w in quality:
            if w["status"] == "ok":
                lines.append(
                    f"- {w['workload']}: {w['description']}" + "".join(f"; {n}" for n in w.get("notes", [])) + "."
                )
    if outcomes:
        lines += ["", "| outcome | result | trials | what was seen |", "| --- | --- | ---: | --- |"]
        for w in outcomes:
            if w["status"] != "ok":
                reason = str(w["reason"]).replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {w['workload']} | FAILED | | {reason} |")
            else:
                lines.append(f"| {w['workload']} | passed | {w['trials']} | {w['detail']} |")
        notes = [f"- {w['workload']}: {n}" for w in outcomes if w["status"] == "ok" for n in w.get("notes", [])]
        if notes:
            lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], directory: Path = RESULTS) -> Path:
    """<date>-<git sha>.json (machine-readable) and .md (the tables), copied to latest.json and latest.md;
    returns the dated Markdown file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    env = report["environment"]
    stem = f"{str(env['date'])[:10]}-{env.get('git', 'unknown')}"
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    table = markdown(report)
    for name, content in ((f"{stem}.json", text), (f"{stem}.md", table), ("latest.json", text), ("latest.md", table)):
        (directory / name).write_text(content)
    return directory / f"{stem}.md"
