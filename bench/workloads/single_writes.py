"""W7: single writes on tier data (`phb bench-data`): one vital sign (a heart rate) recorded as the FHIR
`POST Observation` records it (`interop.fhir.observation.create`: the resource read and checked, the
care check, `clinical.observation_record`: a set of vital signs, the observation, flagged against the
patient's age band, and its audit event, in one transaction), at 1, 4, 16 and 32 concurrent clients,
each a thread with its own database connection, by the organization's registered API client
(`system/Observation.write`). A normal value raises no critical alert, so no outbox event is written.

Reference in the same run, interleaved: pgbench running the identical INSERTs (captured from one PHB
write, every value in place) in one transaction per write, each new row's id fresh per transaction
(`md5(:n || '-i')::uuid`), `-c <clients> -j 2 -t <writes per client>`; its time is the one pgbench
reports without starting and connecting (`Timed`), PHB's threads being connected already.

One timed operation is a batch: every client makes its writes, all at once; µs/op is per batch, so the
ratio is directly the inverse of the throughput ratio. Each PHB write's latency is kept too: the notes
give p50/p99 per concurrency (issue target: p99 <= 50 ms at 16 clients; throughput at least 0.5 x the
pgbench script at every concurrency). Checked before timing: every write's rows exist (the observation,
its set, its audit event; pgbench's by the count of the patient's rows), no error.

What the workload wrote (observations and sets of the one patient it writes to, since its start) is
deleted afterwards; the audit trail is append-only and keeps its events.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.runner import CheckFailed, Timed, Variant, Workload, percentile
from bench.workloads import fhir_subjects, tier_fixtures

ITERATION_DIVISOR = 30
# clients -> writes per client in one batch
CONCURRENCY = {1: 16, 4: 8, 16: 4, 32: 4}
CLIENT_NAME = "Bench writer"
SCOPES = "system/Observation.write system/*.read"
PGBENCH = "pgbench"
_NEW_ROW = re.compile(r"""^INSERT INTO "(\w+)" \("id", .*?\) VALUES \('([0-9a-f]{32})'::uuid""")
_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_PROCESSED = re.compile(r"number of transactions actually processed: (\d+)/(\d+)")
_FAILED = re.compile(r"number of failed transactions: (\d+)")


def heart_rate(patient_id: uuid.UUID, at: dt.datetime) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": at.isoformat(),
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


def pgbench_script(statements: list[str]) -> str:
    """The write transaction's INSERTs as a pgbench script: each new row's id (the first value of an
    INSERT whose first column is "id") becomes `md5(:n || '-i')::uuid`, wherever it appears (as a uuid
    or as text), `:n` drawn afresh for each transaction."""
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    if not inserts:
        raise CheckFailed("the write ran no INSERT")
    new_ids = [m.group(2) for s in inserts if (m := _NEW_ROW.match(s.strip()))]
    lines = [r"\set n random(1, 9000000000000000000)", "BEGIN;"]
    for statement in inserts:
        for i, hex_id in enumerate(new_ids, start=1):
            fresh = f"md5(:n || '-{i}')::uuid"
            statement = statement.replace(f"'{hex_id}'::uuid", fresh)
            statement = statement.replace(f"'{uuid.UUID(hex_id)}'", f"{fresh}::text")
        if ":" in re.sub(r"::\w+|:n\b|'[^']*'", "", statement):
            raise CheckFailed("a captured INSERT holds a colon pgbench would read as a variable")
        lines.append(" ".join(statement.split()) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def run_pgbench(dsn: str, script: Path, clients: int, transactions: int) -> tuple[float, str]:
    """(µs pgbench took for its transactions, without connecting; its output); raises on any failure."""
    done = subprocess.run(
        [PGBENCH, "--no-vacuum", "-f", str(script), "-c", str(clients), "-j", str(min(2, clients)),
         "-t", str(transactions), dsn],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    tps, processed, failed = _TPS.search(out), _PROCESSED.search(out), _FAILED.search(out)
    if done.returncode != 0 or tps is None or processed is None:
        raise CheckFailed(f"pgbench failed ({done.returncode}): {out.strip()[-400:]}")
    if processed.group(1) != processed.group(2) or (failed and failed.group(1) != "0"):
        raise CheckFailed(f"pgbench: {processed.group(0)}, {failed.group(0) if failed else ''}")
    total = int(processed.group(1))
    return total / float(tps.group(1)) * 1_000_000, out


def build(dsn: str) -> list[Workload]:
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from phb.clinical.models import Observation, VitalSignsSet
    from phb.interop.fhir import observation
    from phb.kernel.models import AuditEvent

    site = tier_fixtures.site(tier_fixtures.HOME)
    client, _secret = fhir_subjects.new_client(site.organization_id, CLIENT_NAME, SCOPES)
    ctx = fhir_subjects.client_ctx(client)
    patient_id = site.patient_ids[len(site.patient_ids) // 2]
    started = timezone.now()
    at = (started - dt.timedelta(hours=1)).replace(microsecond=0)
    resource = heart_rate(patient_id, at)

    with CaptureQueriesContext(connection) as captured:
        first = observation.create(ctx, resource)
    script_text = pgbench_script([q["sql"] for q in captured.captured_queries])
    workdir = tempfile.TemporaryDirectory(prefix="phb-bench-w7-")
    script = Path(workdir.name) / "single_write.sql"
    script.write_text(script_text)
    statements = script_text.count("INSERT")
    system = tier_fixtures._system()

    def count_rows(conn: Any) -> int:
        return conn.execute(
            "SELECT count(*) FROM clinical_observation WHERE organization_id = %s AND patient_id = %s",
            [site.organization_id, patient_id],
        ).fetchone()[0]

    checker = psycopg.connect(dsn, autocommit=True)
    latencies: dict[int, list[float]] = {c: [] for c in CONCURRENCY}
    pools = {c: ThreadPoolExecutor(max_workers=c, thread_name_prefix=f"w7-{c}") for c in CONCURRENCY}
    lock = threading.Lock()
    last = max(CONCURRENCY)

    def client(c: int, k: int) -> list[uuid.UUID]:
        ids, took = [], []
        for _ in range(k):
            start = time.perf_counter_ns()
            row = observation.create(ctx, resource)
            took.append((time.perf_counter_ns() - start) / 1000)
            ids.append(row.id)
        with lock:
            latencies[c].extend(took)
        return ids

    batches: dict[tuple[str, int], list[float]] = {}

    def phb_batch(c: int, k: int) -> list[uuid.UUID]:
        start = time.perf_counter_ns()
        futures = [pools[c].submit(client, c, k) for _ in range(c)]
        ids = [i for f in futures for i in f.result()]
        batches.setdefault(("phb", c), []).append((time.perf_counter_ns() - start) / 1000)
        return ids

    def check_phb(c: int, k: int) -> Any:
        def check(ids: list[uuid.UUID]) -> None:
            rows = Observation.objects.for_system(system).filter(id__in=ids)
            found = rows.count()
            sets = VitalSignsSet.objects.for_system(system).filter(id__in=rows.values("vital_set_id")).count()
            audited = (
                AuditEvent.objects.for_system(system)
                .filter(
                    occurred_at__gte=started,
                    action="clinical.observation.record",
                    resource_id__in=[str(i) for i in ids],
                )
                .count()
            )
            if len(set(ids)) != c * k or (found, sets, audited) != (c * k, c * k, c * k):
                raise CheckFailed(f"{c * k} writes: {found} observations, {sets} sets, {audited} audit events")

        return check

    def pgbench_batch(c: int, k: int) -> Timed:
        before = count_rows(checker)
        elapsed_us, _out = run_pgbench(dsn, script, c, k)
        batches.setdefault(("pgbench", c), []).append(elapsed_us)
        return Timed(answer=count_rows(checker) - before, elapsed_us=elapsed_us)

    def check_pgbench(c: int, k: int) -> Any:
        def check(delta: int) -> None:
            if delta != c * k:
                raise CheckFailed(f"pgbench's {c * k} transactions added {delta} observations")

        return check

    def close_pool(c: int) -> None:
        """Each of the pool's threads closes its database connection (the server's connections are
        shared: 32 idle ones would keep pgbench's from opening), then the pool ends."""
        barrier = threading.Barrier(c)

        def close() -> None:
            barrier.wait(timeout=60)
            connection.close()

        list(pools[c].map(lambda _: close(), range(c)))
        pools[c].shutdown()

    def cleanup() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
            for table in ("clinical_observation", "clinical_vitalsignsset"):
                conn.execute(
                    f"DELETE FROM {table} WHERE organization_id = %s AND patient_id = %s AND created_at >= %s",
                    [site.organization_id, patient_id, started],
                )
            # pgbench's rows carry the captured write's timestamps; the first PHB write's too
            conn.execute(
                "DELETE FROM clinical_observation WHERE organization_id = %s AND patient_id = %s AND vital_set_id = %s",
                [site.organization_id, patient_id, first.vital_set_id],
            )

    def teardown(c: int) -> None:
        close_pool(c)
        cleanup()
        if c == last:
            checker.close()
            workdir.cleanup()

    def notes(c: int, k: int) -> list[str]:
        out = []
        if batches.get(("phb", c)) and batches.get(("pgbench", c)):
            phb = c * k / statistics.median(batches[("phb", c)]) * 1_000_000
            ref = c * k / statistics.median(batches[("pgbench", c)]) * 1_000_000
            out.append(
                f"throughput PHB {phb:.0f} writes/s, pgbench {ref:.0f} writes/s: {phb / ref:.2f} x "
                "(target >= 0.5 x; medians over every batch, warm-up included)"
            )
        values = sorted(latencies[c])
        if values:
            out.append(
                f"PHB write latency p50 {percentile(values, 50) / 1000:.1f} ms, "
                f"p99 {percentile(values, 99) / 1000:.1f} ms over {len(values)} writes (warm-up included)"
                + (" (target p99 <= 50 ms)" if c == 16 else "")
            )
        return out

    workloads = []
    for c, k in CONCURRENCY.items():
        workloads.append(
            Workload(
                name=f"w7_single_writes_c{c}",
                description=(
                    f"W7: {c} client{'s' if c > 1 else ''} x {k} single writes (FHIR Observation create: "
                    f"{statements} INSERTs, audited) per batch, against pgbench running the same INSERTs"
                ),
                reference=Variant(
                    f"a. pgbench script, -c {c} -t {k}", lambda c=c, k=k: pgbench_batch(c, k), check_pgbench(c, k)
                ),
                variants=[
                    Variant(
                        f"b. PHB observation create, {c} threads", lambda c=c, k=k: phb_batch(c, k), check_phb(c, k)
                    )
                ],
                teardown=lambda c=c: teardown(c),
                notes=lambda c=c, k=k: notes(c, k),
            )
        )
    return workloads
