"""`python -m bench [WORKLOAD ...] [--pairs N] [--iterations N]` (what `make bench` runs).

Needs PostgreSQL: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/phb_bench), created
when missing, migrated, and given its fixtures idempotently. Results: bench/results/<date>-<git sha>.json
and .md (also copied to latest.json and latest.md), with the machine's facts and PostgreSQL's settings. Exit status: 0 all workloads ran, 1 one failed, 2 no PostgreSQL (or bad arguments).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

WORKLOADS = {
    "org_fetch": "bench.workloads.org_fetch",
    "audit_queries": "bench.workloads.audit_queries",
    "audited_reads": "bench.workloads.audited_reads",
    "patient_search": "bench.workloads.patient_search",
    "duplicate_scoring": "bench.workloads.duplicate_scoring",
    "mpi_quality": "bench.workloads.mpi_quality",
    "appointment_day_list": "bench.workloads.appointment_day_list",
    "free_slots": "bench.workloads.free_slots",
    "booking_throughput": "bench.workloads.booking_throughput",
    "slot_contention": "bench.workloads.slot_contention",
    "icd10_search": "bench.workloads.icd10_search",
    "chart_summary": "bench.workloads.chart_summary",
    "drug_safety_check": "bench.workloads.drug_safety_check",
    "dispense_concurrency": "bench.workloads.dispense_concurrency",
    "booking_contention": "bench.workloads.booking_contention",
    "patient_search_clients": "bench.workloads.patient_search_clients",
    "tenant_isolation": "bench.workloads.tenant_isolation",
    "single_writes": "bench.workloads.single_writes",
    "chart_open": "bench.workloads.chart_open",
    "fhir_read": "bench.workloads.fhir_read",
    "fhir_observation_search": "bench.workloads.fhir_observation_search",
    "fhir_export": "bench.workloads.fhir_export",
    "fhir_ingest": "bench.workloads.fhir_ingest",
    "clinical_day": "bench.workloads.clinical_day",
}
# The workloads of the tiers (W1 to W11), on `phb bench-data`'s data: what `--tier` runs by default. The
# others build fixtures of their own and run when named, or without --tier. The export runs last: in
# tier M each of its six builds writes the first organization's millions of resources.
TIERED = [
    "fhir_read",
    "patient_search_clients",
    "fhir_observation_search",
    "fhir_ingest",
    "chart_open",
    "single_writes",
    "booking_contention",
    "tenant_isolation",
    "clinical_day",
    "fhir_export",
]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/phb_bench"
# What decides how fast PostgreSQL can be on a machine, reported beside every run.
PG_SETTINGS = [
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "max_connections",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_level",
    "max_wal_size",
    "jit",
    "random_page_cost",
]


def ensure_database(url: str) -> None:
    """Create the bench database when missing, from the `postgres` maintenance database."""
    import psycopg
    from psycopg import conninfo, sql

    params = conninfo.conninfo_to_dict(url)
    name = params.pop("dbname", None)
    if not name:
        raise ValueError("BENCH_DATABASE_URL names no database")
    maintenance = conninfo.make_conninfo(**{**params, "dbname": "postgres"})
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _bench_keyring() -> str:
    import base64
    import hashlib
    import json

    def key(label: str) -> str:
        return base64.b64encode(hashlib.sha256(f"phb-bench-{label}".encode()).digest()).decode()

    return json.dumps({"active": "bench1", "keys": {"bench1": key("data")}, "blind_index_key": key("index")})


def setup_django(url: str) -> None:
    """Point PHB's settings at the bench database; they read the environment once, at import."""
    os.environ["DATABASE_URL"] = url
    # The bench database has one role, which migrates it and truncates the audit trail between runs.
    os.environ.pop("DATABASE_OWNER_URL", None)
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory and would grow during the run
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phb.config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")  # the in-process test client's host
    # One JSON log line per API request would bury the report; writing it costs no measurable time
    # (checked: within the run-to-run noise). LOG_LEVEL=INFO puts it back.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The bench's fixtures (invented people) are encrypted under a fixed ring derived from a public
    # constant, so that a bench database built from one checkout can be read from another.
    os.environ.setdefault("PHB_KEYRING_JSON", _bench_keyring())
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("workloads", nargs="*", help=f"some of: {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--pairs", type=int, default=7, help="interleaved rounds (at least 5; default 7)")
    parser.add_argument("--iterations", type=int, default=300, help="operations timed per variant per round")
    parser.add_argument(
        "--tier",
        choices=["S", "M"],
        type=str.upper,
        help="run on a fresh copy of the tier's generated data (phb bench-data; the template is built when "
        "missing); without workloads named, runs the tiered ones",
    )
    parser.add_argument("--patients", type=int, help="with --tier: the tier's proportions for this many patients")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="correctness only: check every side's answer once and run the outcomes; time nothing (what CI runs)",
    )
    args = parser.parse_args(argv)
    if args.pairs < 5:
        parser.error("--pairs must be at least 5")
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    if args.patients is not None and (args.tier is None or args.patients < 10):
        parser.error("--patients needs --tier and at least 10 patients")

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    try:
        ensure_database(url)
    except Exception as exc:
        print(
            f"The benchmarks need PostgreSQL at {url} (set BENCH_DATABASE_URL): {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 2
    data: dict[str, Any] | None = None
    if args.tier:
        from bench import tiers

        print(f"preparing tier {args.tier} data ...", file=sys.stderr)
        url, data = tiers.clone(url, args.tier, patients=args.patients)
    setup_django(url)

    import psycopg
    from django.core.management import call_command
    from django.db import connection

    from bench import runner

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name", [PG_SETTINGS]
        )
        pg_settings = dict(cursor.fetchall())

    reports: list[dict[str, Any]] = []
    names = args.workloads or (TIERED if args.tier else [n for n in WORKLOADS if n not in TIERED])
    report = {
        "environment": runner.environment(
            {
                "postgresql": pg_version,
                "psycopg": psycopg.__version__,
                "postgresql_settings": pg_settings,
                "tier": args.tier,
                "data": data,
            }
        ),
        "pairs": args.pairs,
        "iterations": args.iterations,
        "workloads": reports,
    }
    for done, name in enumerate(names):
        # The report so far is on disk after every workload: a long run that is stopped keeps its figures.
        report["pending"] = names[done:]
        runner.write(report)
        print(f"running {name} ...", file=sys.stderr)
        module = importlib.import_module(WORKLOADS[name])
        try:
            # A workload whose outcome has a short form for --smoke (a few users, one loop) says so.
            built = (
                module.build(url, smoke=True) if args.smoke and getattr(module, "SMOKE", False) else module.build(url)
            )
        except Exception as exc:  # fixtures or a variant could not be prepared: report it, run the rest
            description = (module.__doc__ or name).strip().splitlines()[0]
            reports.append(runner.failed(name, description, f"setup: {type(exc).__name__}: {exc}"))
            continue
        for workload in built if isinstance(built, list) else [built]:
            if args.smoke and isinstance(workload, runner.Workload):
                reports.append(runner.run_smoke(workload))
                continue
            if isinstance(workload, runner.Quality):
                reports.append(runner.run_quality(workload))
                continue
            if isinstance(workload, runner.Outcome):
                reports.append(runner.run_outcome(workload))
                continue
            iterations = max(5, args.iterations // getattr(module, "ITERATION_DIVISOR", 1))
            warmup = getattr(module, "WARMUP", 50)  # a workload whose operation takes seconds warms up less
            reports.append(runner.run_workload(workload, pairs=args.pairs, iterations=iterations, warmup=warmup))
    report["pending"] = []
    path = runner.write(report)
    print(path.read_text())
    return 0 if all(r["status"] == "ok" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
