"""W10: tenant isolation under load, on tier data (`phb bench-data`): organization A ("bench-a", 90 % of
the patients) and B ("bench-b", 10 %).

- `w10_rls_overhead`: the SQL PHB's FHIR search `Observation?patient=X&code=...` runs (captured from the
  ORM, every value in place) and a population count by code, as the application role with row-level
  security in force (bound to B), against the same statements as a superuser, for whom PostgreSQL skips
  the policies: the cost of RLS itself (target: at most 1.1 x). Both return the same rows, checked.
- `w10_neighbour`: B's FHIR Observation search through PHB (in process, audited, its database
  connection under row-level security) alone, then while A saturates the database with its own searches
  from 4 connections, rounds interleaved (target: B's p95 under A's load at most 2 x alone).
- `w10_cross_tenant_probes`: not a timing. 200 random probes with B's client: reading A's observations
  and patients by id (each must be 404), searching A's patients' observations (0 entries), and the same
  in SQL bound to B (0 rows); passes when nothing of A's is seen.

The application role is `tier_fixtures.application_dsn`'s.
"""

from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.runner import CheckFailed, Outcome, Variant, Workload
from bench.workloads import fhir_subjects, tier_fixtures

ITERATION_DIVISOR = 5
LOINC = "http://loinc.org"
LOAD_CONNECTIONS = 4
PROBES = 200
SEED = 20261130


def _as_app_role(executor: ThreadPoolExecutor) -> None:
    """Switch the executor's one thread's Django connection to the application role."""
    from django.db import connection

    def switch() -> None:
        connection.close()
        connection.settings_dict = {
            **connection.settings_dict,
            "USER": tier_fixtures.APP_ROLE,
            "PASSWORD": tier_fixtures.APP_ROLE,
        }

    executor.submit(switch).result()


def _busiest(dsn: str, organization_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    """The patient of `organization_id` with the most observations of one code, and that code."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT patient_id, code FROM clinical_observation WHERE organization_id = %s "
            "GROUP BY patient_id, code ORDER BY count(*) DESC, patient_id LIMIT 1",
            [organization_id],
        ).fetchone()
    if row is None:
        raise tier_fixtures.NotGenerated("the organization has no observations")
    return row[0], row[1]


def client_ctx(site: tier_fixtures.Site) -> Any:
    """The context of a new reader client of the site (as its bearer token would give it)."""
    client, _secret = fhir_subjects.reader_client(site.organization_id)
    return fhir_subjects.client_ctx(client)


def build(dsn: str) -> list[Any]:
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from phb.interop.fhir import bundles

    a, b = tier_fixtures.site(tier_fixtures.HOME), tier_fixtures.site(tier_fixtures.OTHER)
    app_dsn = tier_fixtures.application_dsn(dsn)
    b_patient, b_code = _busiest(dsn, b.organization_id)
    a_patient, a_code = _busiest(dsn, a.organization_id)
    b_query = f"patient=Patient/{b_patient}&code={LOINC}|{b_code}&_count=50"
    a_query = f"patient=Patient/{a_patient}&code={LOINC}|{a_code}&_count=50"
    requester_b = bundles.Requester(ctx=client_ctx(b), base_url="http://bench/fhir/r4/")
    requester_a = bundles.Requester(ctx=client_ctx(a), base_url="http://bench/fhir/r4/")

    # --- the cost of RLS itself: PHB's own statements, as the application role and as a superuser ---
    with CaptureQueriesContext(connection) as captured:
        bundles.search(requester_b, "Observation", b_query, "Observation")
    statements = [q["sql"] for q in captured.captured_queries if "clinical_observation" in q["sql"]]
    statements.append(
        "SELECT count(*) FROM clinical_observation WHERE organization_id = "
        f"'{b.organization_id}'::uuid AND code = '{b_code}'"
    )
    superuser = psycopg.connect(dsn, autocommit=True)
    app = psycopg.connect(app_dsn, autocommit=True)

    def run_statements(conn: Any, bind: bool) -> list[Any]:
        with conn.transaction():
            if bind:
                conn.execute("SELECT set_config('phb.organization_id', %s, true)", [str(b.organization_id)])
            return [conn.execute(s).fetchall() for s in statements]

    expected = run_statements(superuser, bind=False)

    def same(rows: list[Any]) -> None:
        if rows != expected:
            raise CheckFailed("row-level security changed what B's statements return")

    if not expected[-1][0][0]:
        raise CheckFailed("B's population count found no observations")

    rls = Workload(
        name="w10_rls_overhead",
        description=f"W10: PHB's {len(statements) - 1} search statements and a population count, RLS on vs off",
        reference=Variant("a. superuser (RLS not applied)", lambda: run_statements(superuser, False), same),
        variants=[Variant("b. application role, RLS bound to B", lambda: run_statements(app, True), same)],
    )

    # --- B's search alone and under A's load --------------------------------------------------------
    phb_thread = ThreadPoolExecutor(max_workers=1)
    _as_app_role(phb_thread)
    load = threading.Event()
    stop = threading.Event()
    a_statements: list[str] = []
    with CaptureQueriesContext(connection) as captured:
        bundles.search(requester_a, "Observation", a_query, "Observation")
    a_statements = [q["sql"] for q in captured.captured_queries if "clinical_observation" in q["sql"]]
    loads_done = [0]

    def a_load() -> None:
        with psycopg.connect(app_dsn, autocommit=True) as conn:
            while not stop.is_set():
                if not load.wait(timeout=0.05):
                    continue
                with conn.transaction():
                    conn.execute("SELECT set_config('phb.organization_id', %s, true)", [str(a.organization_id)])
                    for s in a_statements:
                        conn.execute(s).fetchall()
                loads_done[0] += 1

    loaders = [threading.Thread(target=a_load, daemon=True) for _ in range(LOAD_CONNECTIONS)]
    for t in loaders:
        t.start()

    def b_search() -> dict[str, Any]:
        return phb_thread.submit(bundles.search, requester_b, "Observation", b_query, "Observation").result().body

    def alone() -> dict[str, Any]:
        load.clear()
        return b_search()

    def loaded() -> dict[str, Any]:
        load.set()
        return b_search()

    def only_b(body: dict[str, Any]) -> None:
        entries = body.get("entry", [])
        if not entries:
            raise CheckFailed("B's search found nothing")
        for e in entries:
            if e["resource"]["subject"]["reference"] != f"Patient/{b_patient}":
                raise CheckFailed(f"B's search returned {e['resource']['subject']['reference']}")

    def teardown() -> None:
        stop.set()
        load.clear()
        for t in loaders:
            t.join()
        phb_thread.shutdown()
        superuser.close()
        app.close()

    def notes() -> list[str]:
        return [f"A ran {loads_done[0]} searches from {LOAD_CONNECTIONS} connections during the loaded rounds"]

    neighbour = Workload(
        name="w10_neighbour",
        description="W10: B's FHIR Observation search (RLS on), alone vs while A saturates the database",
        reference=Variant("a. B alone", alone, only_b),
        variants=[Variant(f"b. B while A runs {LOAD_CONNECTIONS} connections", loaded, only_b)],
        teardown=teardown,
        notes=notes,
    )

    # --- cross-tenant probes ------------------------------------------------------------------------
    def probes() -> dict[str, Any]:
        from phb.clinical.models import Observation
        from phb.interop.fhir.outcome import FhirError

        rng = random.Random(SEED)
        system = tier_fixtures._system()
        a_observations = list(
            Observation.objects.for_system(system)
            .filter(organization_id=a.organization_id)
            .order_by("id")
            .values_list("id", "patient_id")[:5000]
        )
        seen: list[str] = []

        def probe(kind: str, obs_id: uuid.UUID, patient_id: uuid.UUID) -> None:
            try:
                if kind == "read observation":
                    bundles.read(requester_b, "Observation", str(obs_id))
                    seen.append(f"read Observation/{obs_id}")
                elif kind == "read patient":
                    bundles.read(requester_b, "Patient", str(patient_id))
                    seen.append(f"read Patient/{patient_id}")
                else:
                    body = bundles.search(requester_b, "Observation", f"patient=Patient/{patient_id}", "Observation")
                    if body.body.get("entry"):
                        seen.append(f"search found {len(body.body['entry'])} of Patient/{patient_id}'s")
            except FhirError as exc:
                if exc.status != 404:
                    seen.append(f"{kind}: {exc.status} {exc.code}")

        def run_probes() -> int:
            leaked = 0
            with psycopg.connect(app_dsn, autocommit=True) as conn:
                for _ in range(PROBES):
                    obs_id, patient_id = rng.choice(a_observations)
                    probe(rng.choice(("read observation", "read patient", "search")), obs_id, patient_id)
                    with conn.transaction():
                        conn.execute("SELECT set_config('phb.organization_id', %s, true)", [str(b.organization_id)])
                        leaked += conn.execute(
                            "SELECT count(*) FROM clinical_observation WHERE id = %s OR patient_id = %s",
                            [obs_id, patient_id],
                        ).fetchone()[0]
            return leaked

        leaked = phb_probe_thread.submit(run_probes).result()
        phb_probe_thread.shutdown()
        if seen or leaked:
            raise CheckFailed(f"B saw A's data: {seen[:5]}, {leaked} rows in SQL")
        return {"trials": PROBES, "detail": f"{PROBES} probes of A's data by B: all 404 or empty, 0 rows in SQL"}

    phb_probe_thread = ThreadPoolExecutor(max_workers=1)
    _as_app_role(phb_probe_thread)
    return [
        rls,
        neighbour,
        Outcome(name="w10_cross_tenant_probes", description="W10: random cross-tenant probes by B", measure=probes),
    ]
