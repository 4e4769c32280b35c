"""W1: FHIR `GET /fhir/r4/Patient/{id}` and `GET /fhir/r4/Observation/{id}` over real HTTP, at 1, 4 and
16 concurrent clients (issue targets: at least 1,000 audited reads/s at 16 clients and at least 0.4 x the
bare application; p50 at most 2 ms at 1 client).

PHB side: gunicorn serving `phb.config.wsgi` (2 gthread workers x 4 threads, for 2 cores) on a loopback
port against the bench database; a system client of the organization "bench-a" with `system/*.read`
takes its JWT from the real token endpoint (`POST /oauth/token`, client credentials), and every read is
authenticated, authorized, mapped to FHIR and audited. Reference, in the same run and interleaved: the
bare WSGI application of `bare_wsgi` under the same gunicorn configuration, running the SQL the ORM emits
for the same read through psycopg and answering the row as JSON. The load generator (`http_load`) is the
same for both. Beside them, `pgbench -S -c 16 -j 2 -T 5` on the same database server: the ceiling.

One timed operation is a batch: every client sends its share of reads one after the other, all clients at
once; throughput is reads per second, and every read's latency is recorded for the request percentiles.
Before timing, every chosen Patient and Observation is read once from each server and checked (status
200, resourceType and id), and PHB's reads are checked to have been audited.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import fhir_subjects, http_load, tier_fixtures

ITERATION_DIVISOR = 30  # each operation is a batch of tens to hundreds of HTTP requests
TYPES = ("Patient", "Observation")
TOKEN_REFRESH_SECONDS = 150  # tokens live 5 minutes
# The server's per-client request rate (THROTTLE_USER) is a deployment setting: the bench lifts it so
# that it measures the reads, not the limit. The throttle itself still runs on every request.
THROTTLE = "100000/s"


class Token:
    """The client's bearer token, taken again from the token endpoint before it expires."""

    def __init__(self, server: http_load.Server, client_id: str, secret: str) -> None:
        self.server, self.client_id, self.secret = server, client_id, secret
        self.value, self.taken = "", 0.0

    def __call__(self) -> str:
        if time.monotonic() - self.taken > TOKEN_REFRESH_SECONDS:
            answer = self.server.post_form(
                "/oauth/token",
                {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.secret},
            )
            if answer.get("token_type") != "bearer" or "system/*.read" not in answer.get("scope", ""):
                raise CheckFailed(f"the token endpoint answered {answer}")
            self.value, self.taken = answer["access_token"], time.monotonic()
        return self.value


def read_sql(ctx: Any, resource_type: str) -> tuple[str, list[Any]]:
    """The SQL (and parameters, None for the id) the ORM emits for the FHIR read of `resource_type`."""
    from phb.interop.fhir.registry import REGISTRY

    resource = REGISTRY[resource_type]
    sentinel = uuid.UUID(int=0x5E771E)
    by_id = resource.params["_id"].build(str(sentinel), "_id", None, ctx)
    sql, params = resource.rows(ctx).filter(by_id).order_by("pk")[:1].query.sql_with_params()
    out = [None if p == sentinel else (str(p) if isinstance(p, uuid.UUID) else p) for p in params]
    if out.count(None) != 1:
        raise CheckFailed(f"the {resource_type} read's SQL does not name the id once: {sql}")
    return sql, out


def pgbench_ceiling(dsn: str) -> str:
    """`pgbench -S` (select-only, its own tables, scale 1) on the bench database: 16 clients, 2 threads, 5 s."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        return "pgbench is not installed (postgresql-client)"
    if not _has_pgbench_tables(dsn):
        init = subprocess.run([pgbench, "-i", "-s", "1", "-q", dsn], capture_output=True, text=True, check=False)
        if init.returncode != 0:
            return f"pgbench -i failed: {init.stderr.strip()[-300:]}"
    command = [pgbench, "-S", "-n", "-c", "16", "-j", "2", "-T", "5", dsn]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    tps = re.search(r"tps = ([0-9.]+)", run.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    if run.returncode != 0 or tps is None:
        return f"pgbench -S failed: {(run.stderr or run.stdout).strip()[-300:]}"
    return f"{float(tps.group(1)):,.0f} selects/s (latency average {latency.group(1) if latency else '?'} ms)"


def _has_pgbench_tables(dsn: str) -> bool:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT to_regclass('pgbench_accounts') IS NOT NULL").fetchone()[0]


def build(dsn: str) -> list[Workload]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        subjects = fhir_subjects.choose(conn)
    client, secret = fhir_subjects.reader_client(subjects.organization_id)
    ctx = fhir_subjects.client_ctx(client)
    queries = {t: read_sql(ctx, t) for t in TYPES}
    servers: list[http_load.Server] = []
    pools: list[http_load.Clients] = []

    def teardown() -> None:
        for pool in pools:
            pool.close()
        for server in servers:
            server.stop()
        fhir_subjects.revoke(client)

    try:
        phb = http_load.Server(
            "phb.config.wsgi:application",
            {"THROTTLE_USER": THROTTLE, "LOG_LEVEL": "WARNING", "DATABASE_URL": tier_fixtures.application_dsn(dsn)},
            "/fhir/r4/metadata",
        )
        servers.append(phb)
        bare = http_load.Server(
            "bench.workloads.bare_wsgi:application",
            {"BENCH_BARE_QUERIES": json.dumps({"dsn": dsn, "queries": queries})},
            "/health",
        )
        servers.append(bare)
        token = Token(phb, client.client_id, secret)
        token()
        ceiling = pgbench_ceiling(dsn)
    except Exception:
        teardown()
        raise

    ids = {"Patient": subjects.patient_ids, "Observation": subjects.observation_ids}
    paths = [(t, i) for t in TYPES for i in ids[t]]

    def request(server: http_load.Server, resource_type: str, resource_id: str) -> bytes:
        headers = {"Authorization": f"Bearer {token()}", "Accept": "application/fhir+json"}
        return http_load.get_request(server.port, f"/fhir/r4/{resource_type}/{resource_id}", headers)

    def verify(server: http_load.Server) -> None:
        """Every chosen resource, read once: 200, the right type and id (and, for PHB, audited)."""
        connection = http_load.Connection(server.port)
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                before = _audited(conn, client.id)
                for resource_type, resource_id in paths:
                    status, body = connection.request(request(server, resource_type, resource_id))
                    if status != 200:
                        raise CheckFailed(f"{resource_type}/{resource_id}: status {status}: {body[:200]!r}")
                    answer = json.loads(body)
                    if (answer.get("resourceType"), answer.get("id")) != (resource_type, resource_id):
                        raise CheckFailed(f"{resource_type}/{resource_id}: answered {answer.get('resourceType')}")
                if server is phb and _audited(conn, client.id) - before != len(paths):
                    raise CheckFailed(f"{len(paths)} reads but {_audited(conn, client.id) - before} audit events")
        finally:
            connection.close()

    def side(
        server: http_load.Server, pool: http_load.Clients, kinds: tuple[str, ...], per_client: int
    ) -> Callable[[], int]:
        chosen = [p for p in paths if p[0] in kinds]
        position = 0

        def run() -> int:
            nonlocal position
            start = position
            position += pool.n * per_client

            def requests(index: int) -> list[bytes]:
                first = start + index * per_client
                return [request(server, *chosen[(first + k) % len(chosen)]) for k in range(per_client)]

            return pool.batch(server.port, requests)

        return run

    checked: set[str] = set()

    def checker(server: http_load.Server, expected: int) -> Callable[[int], None]:
        def check(answered: int) -> None:
            if answered != expected:
                raise CheckFailed(f"{answered} reads answered instead of {expected}")
            if server.app not in checked:
                verify(server)
                checked.add(server.app)

        return check

    workloads = []
    plan = [
        ("Patient, 1 client", ("Patient",), 1, 40),
        ("Observation, 1 client", ("Observation",), 1, 40),
        ("Patient+Observation, 4 clients", TYPES, 4, 40),
        ("Patient+Observation, 16 clients", TYPES, 16, 25),
    ]
    for label, kinds, clients, per_client in plan:
        pool = http_load.Clients(clients)
        pools.append(pool)
        n = clients * per_client
        workloads.append(
            Workload(
                name=f"fhir_read {label}",
                description=f"FHIR read over HTTP (gunicorn), {label}: PHB (JWT, audit) vs a bare WSGI app",
                reference=Variant(
                    "a. bare WSGI + psycopg",
                    side(bare, pool, kinds, per_client),
                    checker(bare, n),
                    ops_per_run=n,
                    latencies=pool.drain,
                ),
                variants=[
                    Variant(
                        "b. PHB FHIR read (JWT, audit)",
                        side(phb, pool, kinds, per_client),
                        checker(phb, n),
                        ops_per_run=n,
                        latencies=pool.drain,
                    )
                ],
                notes=(lambda: [f"pgbench -S -c 16 -j 2 -T 5 (the ceiling): {ceiling}"]) if clients == 16 else None,
                warmup=3,
            )
        )
    workloads[-1].teardown = teardown
    return workloads


def _audited(conn: Any, client_id: uuid.UUID) -> int:
    return conn.execute(
        "SELECT count(*) FROM kernel_auditevent WHERE actor_id = %s AND action = 'interop.fhir.read'", (client_id,)
    ).fetchone()[0]
