"""`python -m bench [WORKLOAD ...] [--pairs N] [--iterations N]` (what `make bench` runs).

Needs PostgreSQL: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/phb_bench), created
when missing and migrated. Results: bench/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import os
import sys

WORKLOADS = {"org_fetch": "bench.workloads.org_fetch"}


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    from_url = psycopg.conninfo.conninfo_to_dict(url)
    name = from_url.pop("dbname")
    with psycopg.connect(psycopg.conninfo.make_conninfo(**from_url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("workloads", nargs="*", help=f"some of: {', '.join(WORKLOADS)} (default: all)")
    parser.add_argument("--pairs", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--iterations", type=int, default=300, help="operations timed per variant per round")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error("--pairs must be at least 5")
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/phb_bench")
    try:
        ensure_database(url)
    except Exception as exc:
        print(f"PostgreSQL is needed for the benchmarks ({url}): {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phb.config.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import runner

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    import importlib

    reports = []
    for name in args.workloads or list(WORKLOADS):
        workload = importlib.import_module(WORKLOADS[name]).build(url)
        print(f"running {name} ...", file=sys.stderr)
        reports.append(runner.run_workload(workload, pairs=args.pairs, iterations=args.iterations))
    report = {"environment": runner.environment({"postgresql": pg_version}), "workloads": reports}
    path = runner.write(report)
    print(path.read_text())
    return 0 if all(r["status"] == "ok" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
