"""Bulk Data `$export` (W6): resources written per second and the build's peak memory, against
`COPY (SELECT ...) TO STDOUT` of the same rows in the same run.

A system-level export of organization "bench-a" (the bench data generator's first organization,
`phb bench-data`), of every type of the patient compartment, by a registered system client with
`system/*.read`: a queued `BulkExport` is built by `bulk.export_build`, the function the Celery task
`interop.bulk_export_build` runs, in a fresh Python process per build (as a worker runs it), so that the
process's peak resident set size (`ru_maxrss`) is the build's alone. Its time is the build's, from the
claim to the completed manifest (reading, rendering, JSON, encryption, storage, audit).

The reference copies out, on one psycopg connection, the rows the export reads: each type's visible
queryset (the same SELECT, columns and filters, unordered as the export reads it through its cursor)
wrapped in `COPY (...) TO STDOUT`, in a transaction bound to the organization as the export's is. Rounds alternate
reference, export, reference, ... (at least 5 pairs); the ratio of each round is export / COPY rate.

Checked before anything is timed: the manifest's count of each type equals the number of rows COPY
wrote for it, and every file decrypts to that many NDJSON lines of that type.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.runner import CheckFailed, Outcome

ORGANIZATION_CODE = "bench-a"
CLIENT_NAME = "Bench bulk export"
PAIRS = 5
TARGET_RATE = 25_000  # resources/s (issue W6)
TARGET_PEAK_MB = 500


def build(dsn: str) -> Outcome:
    from phb.accounts.public import api_client_active
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization

    system = Ctx.system(reason="bench: Bulk Data export")
    organization = Organization.objects.for_platform(system).filter(code=ORGANIZATION_CODE).first()
    if organization is None:
        raise RuntimeError(
            f'no organization "{ORGANIZATION_CODE}" in the bench database: load the bench data first '
            "(phb bench-data --tier S, with DATABASE_URL pointing at the bench database)"
        )
    client_id = _client(organization.id)
    if not api_client_active(client_id=client_id, organization_id=organization.id):
        raise RuntimeError("the bench's API client is not active")
    types = _types()
    counts = _sql_counts(dsn, organization.id, client_id, types)
    if not sum(counts.values()):
        raise RuntimeError(f'organization "{ORGANIZATION_CODE}" holds no patient data: load the bench data first')

    def measure() -> dict[str, Any]:
        # The answer first: manifest counts = SQL rows, files decrypt to those lines.
        first = _export(dsn, organization.id, client_id, types, check=True)
        if first["counts"] != counts:
            raise CheckFailed(f"manifest counts {first['counts']} differ from the rows in SQL {counts}")
        total = sum(counts.values())
        rates, copy_rates, ratios, peaks, growths, cpu_rates = [], [], [], [], [], []
        for _ in range(PAIRS):
            copied, seconds = _copy(dsn, organization.id, client_id, types)
            if copied != counts:
                raise CheckFailed(f"COPY wrote {copied}, expected {counts}")
            copy_rate = total / seconds
            built = _export(dsn, organization.id, client_id, types)
            if built["counts"] != counts:
                raise CheckFailed(f"manifest counts {built['counts']} differ from the rows in SQL {counts}")
            rate = total / built["seconds"]
            cpu_rates.append(total / built["cpu_seconds"])
            rates.append(rate)
            copy_rates.append(copy_rate)
            ratios.append(rate / copy_rate)
            peaks.append(built["peak_rss_mb"])
            growths.append(built["peak_rss_mb"] - built["start_rss_mb"])
        rate, copy_rate, peak = statistics.median(rates), statistics.median(copy_rates), max(peaks)
        return {
            "trials": PAIRS,
            "resources": total,
            "resources_by_type": counts,
            "export_resources_per_s": {"median": round(rate), "min": round(min(rates)), "max": round(max(rates))},
            "copy_rows_per_s": {
                "median": round(copy_rate),
                "min": round(min(copy_rates)),
                "max": round(max(copy_rates)),
            },
            # Per second of the build process's own CPU time: steadier than the wall clock on a shared machine.
            "export_resources_per_cpu_s": round(statistics.median(cpu_rates)),
            "ratio": {
                "median": round(statistics.median(ratios), 3),
                "min": round(min(ratios), 3),
                "max": round(max(ratios), 3),
            },
            "peak_rss_mb": {"max": round(peak, 1), "above_start_max": round(max(growths), 1)},
            "meets_target": rate >= TARGET_RATE and peak < TARGET_PEAK_MB,
            "detail": (
                f"{total:,} resources: export {rate:,.0f} res/s (range {min(rates):,.0f} to {max(rates):,.0f}; "
                f"{statistics.median(cpu_rates):,.0f} per CPU second; "
                f"target {TARGET_RATE:,}: {'met' if rate >= TARGET_RATE else 'NOT met'}), COPY {copy_rate:,.0f} "
                f"rows/s, ratio {statistics.median(ratios):.3f} ({min(ratios):.3f} to {max(ratios):.3f}); "
                f"peak RSS of the build's process {peak:.0f} MB (above its size when the build began: at most "
                f"{max(growths):.0f} MB; target < {TARGET_PEAK_MB} MB: {'met' if peak < TARGET_PEAK_MB else 'NOT met'})"
            ),
        }

    return Outcome(
        name="fhir_export",
        description=f'Bulk $export of organization "{ORGANIZATION_CODE}" (patient-compartment types) vs COPY '
        "of the same rows, interleaved",
        measure=measure,
    )


def _client(organization_id: uuid.UUID) -> uuid.UUID:
    """The bench's system client at the organization (registered once)."""
    from phb.accounts.api_clients import api_client_create
    from phb.accounts.models import ApiClient
    from phb.kernel.context import Ctx

    ctx = Ctx.system(reason="bench: Bulk Data export client", organization_id=organization_id)
    found = (
        ApiClient.objects.for_system(ctx)
        .filter(organization_id=organization_id, name=CLIENT_NAME, revoked_at__isnull=True)
        .first()
    )
    if found is None:
        found, _secret = api_client_create(ctx=ctx, name=CLIENT_NAME, scopes="system/*.read")
    return found.id


def _types() -> list[str]:
    from phb.interop.fhir.everything import compartment_types

    return compartment_types()


def _requester(organization_id: uuid.UUID, client_id: uuid.UUID) -> Any:
    from phb.accounts.public import scope_permissions
    from phb.kernel.context import Ctx

    scopes = frozenset({"system/*.read"})
    return Ctx.client(
        client_id=client_id, organization_id=organization_id, scopes=scopes, permissions=scope_permissions(scopes)
    )


def _querysets(organization_id: uuid.UUID, client_id: uuid.UUID, types: list[str]) -> dict[str, Any]:
    from phb.interop.fhir.registry import REGISTRY

    ctx = _requester(organization_id, client_id)
    return {t: REGISTRY[t].rows(ctx).order_by() for t in types}


def _sql_counts(dsn: str, organization_id: uuid.UUID, client_id: uuid.UUID, types: list[str]) -> dict[str, int]:
    counts, _seconds = _copy(dsn, organization_id, client_id, types)
    return counts


def _copy(dsn: str, organization_id: uuid.UUID, client_id: uuid.UUID, types: list[str]) -> tuple[dict[str, int], float]:
    """COPY out every type's rows (the export's SELECTs, whole); the rows per type and the seconds."""
    import psycopg
    from psycopg import sql

    from phb.kernel.tenancy import GUC_ALL_TENANTS, GUC_ORGANIZATION

    statements = []
    for resource_type, rows in _querysets(organization_id, client_id, types).items():
        query, params = rows.query.sql_with_params()
        statements.append((resource_type, sql.SQL("COPY ({}) TO STDOUT").format(sql.SQL(query)), params))  # type: ignore[arg-type]
    counts: dict[str, int] = {}
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        for resource_type, statement, params in statements:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    "SELECT set_config(%s, %s, true), set_config(%s, '', true)",
                    (GUC_ORGANIZATION, str(organization_id), GUC_ALL_TENANTS),
                )
                lines = 0
                with cur.copy(statement, params) as copy:
                    for data in copy:
                        lines += bytes(data).count(b"\n")
                counts[resource_type] = lines
        seconds = time.perf_counter() - start
    return counts, seconds


def _export(
    dsn: str, organization_id: uuid.UUID, client_id: uuid.UUID, types: list[str], *, check: bool = False
) -> dict[str, Any]:
    """One build in a fresh process; its counts per type, seconds and resident memory (MB)."""
    from phb.interop.fhir import bulk
    from phb.interop.models import BulkExport, BulkExportKind
    from phb.kernel.context import Ctx

    system = Ctx.system(reason="bench: Bulk Data export", organization_id=organization_id)
    jobs = BulkExport.objects.for_system(system)
    for stale in jobs.filter(requester_id=client_id):  # left by an interrupted run
        bulk.delete_files(stale.files)
        stale.delete()
    export = jobs.create(
        organization_id=organization_id,
        requester_kind="client",
        requester_id=client_id,
        kind=BulkExportKind.SYSTEM,
        params={
            "types": types,
            "since": None,
            "output_format": bulk.NDJSON,
            "request": "http://bench.invalid/fhir/r4/$export",
            "warnings": [],
            "scopes": ["system/*.read"],
        },
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.workloads.fhir_export", dsn, str(export.id)],
            capture_output=True,
            text=True,
            env={**os.environ},
            check=False,
        )
        if done.returncode != 0:
            raise CheckFailed(f"the build's process failed: {done.stderr.strip()[-500:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["status"] != "completed":
            raise CheckFailed(f"the export ended {result['status']}")
        export.refresh_from_db()
        counts: dict[str, int] = {}
        for index, item in enumerate(export.files):
            if item["error"]:
                continue
            counts[item["type"]] = counts.get(item["type"], 0) + item["count"]
            if check:
                _check_file(export, index, item)
        result["counts"] = {t: counts.get(t, 0) for t in types}
        return result
    finally:
        export.refresh_from_db()
        bulk.delete_files(export.files)
        jobs.filter(id=export.id).delete()


def _check_file(export: Any, index: int, item: dict[str, Any]) -> None:
    from phb.interop.fhir import bulk

    text = b"".join(bulk.open_file(export, index))
    lines = text.splitlines()
    if len(lines) != item["count"]:
        raise CheckFailed(f"file {index} ({item['type']}) holds {len(lines)} lines, its manifest says {item['count']}")
    for line in lines:
        if json.loads(line).get("resourceType") != item["type"]:
            raise CheckFailed(f"file {index} holds a resource that is not a {item['type']}")


def _build_in_this_process(dsn: str, export_id: str) -> None:
    """The child: build one export as the worker would; print its status, seconds and memory."""
    import resource

    from bench.__main__ import setup_django

    setup_django(dsn)
    from phb.interop import tasks  # noqa: F401  (what the worker has imported before the first task)
    from phb.interop.fhir import bulk

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def current_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    start_rss, start_cpu = current_mb(), cpu()
    start = time.perf_counter()
    status = bulk.export_build(export_id=uuid.UUID(export_id))
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "status": status,
                "seconds": seconds,
                "cpu_seconds": cpu() - start_cpu,
                "start_rss_mb": start_rss,
                "peak_rss_mb": peak_mb(),
            }
        )
    )


if __name__ == "__main__":
    _build_in_this_process(sys.argv[1], sys.argv[2])
