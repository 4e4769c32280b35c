"""W2: patient search at 8 concurrent clients on tier data (`phb bench-data`), as a receptionist of the
organization 90 % of the patients are registered at: a name prefix (the family name's first four
letters), the full name, the MRN, and the birth date with the family name, a quarter each, in rotation.
Against the raw SQL the selector comes down to, on the same indexes, at the same concurrency.

One timed operation is a batch: 8 clients (threads, each its own database connection) running 5
searches each; µs/op is per batch, so the ratio is the throughput ratio. Each search's own latency is
kept too, for the per-search median and p95 the target is about (p95 ≤ 50 ms, median ≤ 3 x raw + 1 ms).
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench import runner
from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import tier_fixtures
from bench.workloads.patient_search import LIMIT, raw_name_search

ITERATION_DIVISOR = 30
CLIENTS = 8
PER_CLIENT = 5
SAMPLE = 80
SEED = 20261130


@dataclass(frozen=True)
class Query:
    kind: str  # prefix | name | mrn | birth date
    patient_id: uuid.UUID
    text: str = ""
    mrn: str = ""
    birth_date: dt.date | None = None


def queries(site: tier_fixtures.Site) -> list[Query]:
    from phb.patients.models import PatientRegistration

    rng = random.Random(SEED)
    ids = rng.sample(site.patient_ids, min(SAMPLE, len(site.patient_ids)))
    rows = (
        PatientRegistration.objects.for_system(tier_fixtures._system())
        .filter(organization_id=site.organization_id, patient_id__in=ids)
        .select_related("patient")
    )
    by_id = {r.patient_id: r for r in rows}
    out = []
    for i, pid in enumerate(ids):
        r = by_id[pid]
        p = r.patient
        kind = ("prefix", "name", "mrn", "birth date")[i % 4]
        if kind == "prefix":
            out.append(Query(kind, pid, text=p.family_name[:4]))
        elif kind == "name":
            out.append(Query(kind, pid, text=f"{p.given_name} {p.family_name}"))
        elif kind == "mrn":
            out.append(Query(kind, pid, mrn=r.mrn))
        else:
            out.append(Query(kind, pid, text=p.family_name, birth_date=p.birth_date))
    return out


MRN_SQL = (
    "SELECT p.id, p.search_name FROM patients_patientregistration r JOIN patients_patient p ON p.id = r.patient_id "
    "WHERE r.organization_id = %(org)s AND r.status IN ('pending', 'approved') AND p.merged_into_id IS NULL "
    "AND r.mrn = %(mrn)s ORDER BY r.created_at DESC LIMIT %(limit)s"
)


def build(dsn: str) -> Workload:
    import psycopg

    from phb.patients import selectors

    site = tier_fixtures.site()
    items = queries(site)
    desk = site.ctx("receptionist")
    local = threading.local()
    connections: list[Any] = []
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"raw": [], "phb": []}

    def conn() -> Any:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(dsn, autocommit=True)
            with lock:
                connections.append(local.conn)
        return local.conn

    def raw(q: Query) -> list[uuid.UUID]:
        if q.kind == "mrn":
            rows = conn().execute(MRN_SQL, {"org": site.organization_id, "mrn": q.mrn, "limit": LIMIT}).fetchall()
        elif q.kind == "birth date":
            rows = raw_name_search(
                conn(), site.organization_id, q.text, also="AND p.birth_date = %(birth)s ", birth=q.birth_date
            )
        else:
            rows = raw_name_search(conn(), site.organization_id, q.text)
        return [row[0] for row in rows]

    def phb(q: Query) -> list[uuid.UUID]:
        found = selectors.patient_search(ctx=desk, q=q.text, mrn=q.mrn, birth_date=q.birth_date)
        return [f.patient.id for f in found]

    def check_one(q: Query, found: list[uuid.UUID]) -> None:
        if not found or len(found) > LIMIT:
            raise CheckFailed(f"{q.kind}: {len(found)} results")
        if q.kind in ("mrn", "birth date") and q.patient_id not in found:
            raise CheckFailed(f"{q.kind}: the patient is not among the {len(found)} results")
        if q.kind == "mrn" and len(found) != 1:
            raise CheckFailed(f"an MRN found {len(found)} patients")

    pool = ThreadPoolExecutor(max_workers=CLIENTS)
    position = [0]

    def batch(search: Any, side: str) -> list[tuple[Query, list[uuid.UUID]]]:
        start = position[0]
        position[0] += CLIENTS * PER_CLIENT

        def client(n: int) -> list[tuple[Query, list[uuid.UUID], float]]:
            out = []
            for k in range(PER_CLIENT):
                q = items[(start + n * PER_CLIENT + k) % len(items)]
                began = time.perf_counter_ns()
                found = search(q)
                out.append((q, found, (time.perf_counter_ns() - began) / 1000))
            return out

        results = [r for part in pool.map(client, range(CLIENTS)) for r in part]
        latencies[side].extend(us for _, _, us in results)
        return [(q, found) for q, found, _ in results]

    def check(results: list[tuple[Query, list[uuid.UUID]]]) -> None:
        if len(results) != CLIENTS * PER_CLIENT:
            raise CheckFailed(f"{len(results)} searches instead of {CLIENTS * PER_CLIENT}")
        for q, found in results:
            check_one(q, found)

    def teardown() -> None:
        pool.shutdown()
        for c in connections:
            c.close()

    def notes() -> list[str]:
        out = []
        for side, values in latencies.items():
            values.sort()
            if values:
                out.append(
                    f"{side}: each search under {CLIENTS} clients: median {statistics.median(values) / 1000:.1f} ms, "
                    f"p95 {runner.percentile(values, 95) / 1000:.1f} ms ({len(values)} searches)"
                )
        return out

    return Workload(
        name="patient_search_clients",
        description=f"W2: patient search by name prefix, name, MRN, birth date; {CLIENTS} concurrent clients",
        reference=Variant("a. raw SQL", lambda: batch(raw, "raw"), check),
        variants=[Variant("b. selectors.patient_search", lambda: batch(phb, "phb"), check)],
        teardown=teardown,
        notes=notes,
    )
