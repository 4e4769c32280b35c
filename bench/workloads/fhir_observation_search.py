"""W3: FHIR Observation search over real HTTP (issue targets: p95 at most 20 ms; a population count at most
0.5 s per million matching rows).

- `Observation?patient=X&code=http://loinc.org|8867-4&_sort=-date&_count=50`, and the same with
  `date=ge<a year before the patient's latest>`: one client, patients in rotation (those of "bench-a" with
  the most observations of the code);
- `Observation?code=http://loinc.org|8867-4&_summary=count`: the organization's population count.

PHB side: gunicorn serving `phb.config.wsgi` (as in `fhir_read`), a system client's JWT from the token
endpoint, the search authorized, mapped and audited. Reference, in the same run and interleaved: the SQL
the ORM emits for the same search (captured as sent, with its parameters: the accurate total and the
page of 51 rows, or the count alone) run through psycopg on one connection, on the same indexes. When no
observation of the organization has code 8867-4 (heart rate), its most frequent code is searched instead.

Before timing, every search is checked against its reference: the same total and the same ids in the
same order.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import fhir_read, fhir_subjects, http_load, tier_fixtures

ITERATION_DIVISOR = 30  # each operation is a batch of searches
PATIENTS = 20
SEARCHES_PER_RUN = 10
COUNTS_PER_RUN = 1
CODE = "8867-4"
LOINC = "http://loinc.org"


def _code(conn: Any, organization: uuid.UUID) -> str:
    if conn.execute(
        "SELECT 1 FROM clinical_observation WHERE organization_id = %s AND code = %s LIMIT 1", (organization, CODE)
    ).fetchone():
        return CODE
    row = conn.execute(
        "SELECT code FROM clinical_observation WHERE organization_id = %s GROUP BY code ORDER BY count(*) DESC, code "
        "LIMIT 1",
        (organization,),
    ).fetchone()
    if row is None:
        raise fhir_subjects.SetupMissing(
            f"no observation in {fhir_subjects.ORGANIZATION_CODE!r}: {fhir_subjects.SETUP}"
        )
    return row[0]


def _patients(conn: Any, organization: uuid.UUID, code: str) -> list[tuple[str, dt.datetime]]:
    """The registered patients with the most observations of `code`, and each one's latest."""
    return [
        (str(r[0]), r[1])
        for r in conn.execute(
            "SELECT o.patient_id, max(o.effective_at) FROM clinical_observation o "
            "WHERE o.organization_id = %s AND o.code = %s AND o.patient_id IN ("
            "  SELECT patient_id FROM patients_patientregistration WHERE organization_id = %s AND status = ANY(%s)) "
            "GROUP BY o.patient_id ORDER BY count(*) DESC, o.patient_id LIMIT %s",
            (organization, code, organization, list(fhir_subjects.VISIBLE), PATIENTS),
        )
    ]


class Captured:
    """The statements the ORM sends while PHB answers one search, as sent (SQL and parameters)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if "clinical_observation" in sql and sql.lstrip().upper().startswith("SELECT"):
            self.statements.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)


def orm_statements(token: str, path: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The observation queries of one in-process search (Django's test client, the same views)."""
    from django.db import connection
    from django.test import Client

    captured = Captured()
    with connection.execute_wrapper(captured):
        response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    if response.status_code != 200:
        raise CheckFailed(f"{path}: status {response.status_code}: {response.content[:200]!r}")
    if not captured.statements:
        raise CheckFailed(f"{path}: no observation query was seen")
    return captured.statements


def build(dsn: str) -> list[Workload]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        organization = fhir_subjects.organization_id(conn)
        code = _code(conn, organization)
        patients = _patients(conn, organization, code)
        population = conn.execute(
            "SELECT count(*) FROM clinical_observation WHERE organization_id = %s AND code = %s", (organization, code)
        ).fetchone()[0]
    if not patients:
        raise fhir_subjects.SetupMissing(f"no registered patient has observations: {fhir_subjects.SETUP}")
    client, secret = fhir_subjects.reader_client(organization)
    reference = psycopg.connect(dsn, autocommit=True)
    servers: list[http_load.Server] = []
    pool = http_load.Clients(1)

    def teardown() -> None:
        pool.close()
        for server in servers:
            server.stop()
        reference.close()
        fhir_subjects.revoke(client)

    try:
        phb = http_load.Server(
            "phb.config.wsgi:application",
            {
                "THROTTLE_USER": fhir_read.THROTTLE,
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": tier_fixtures.application_dsn(dsn),
            },
            "/fhir/r4/metadata",
        )
        servers.append(phb)
        token = fhir_read.Token(phb, client.client_id, secret)
        token()
    except Exception:
        teardown()
        raise

    token_text = urllib.parse.quote(f"{LOINC}|{code}", safe="|")

    def search_path(patient_id: str, latest: dt.datetime, dated: bool) -> str:
        path = f"/fhir/r4/Observation?patient={patient_id}&code={token_text}&_sort=-date&_count=50"
        if dated:
            path += f"&date=ge{(latest - dt.timedelta(days=365)).date().isoformat()}"
        return path

    count_path = f"/fhir/r4/Observation?code={token_text}&_summary=count"

    # The statements the ORM sends for each patient's searches (and for the count), replayed as sent.
    try:
        statements = {
            (patient_id, dated): orm_statements(token(), search_path(patient_id, latest, dated))
            for patient_id, latest in patients
            for dated in (False, True)
        }
        count_template = orm_statements(token(), count_path)
    except Exception:
        teardown()
        raise

    def raw(sent: list[tuple[str, tuple[Any, ...]]]) -> list[list[Any]]:
        return [reference.execute(sql, list(params)).fetchall() for sql, params in sent]

    def reference_search(patient_id: str, dated: bool) -> tuple[int, list[str]]:
        """(the total, the page's ids) from the statements: the count and the page (51 rows for 50)."""
        total, page = -1, []
        for rows in raw(statements[patient_id, dated]):
            if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int):
                total = rows[0][0]
            else:
                page = [str(row[0]) for row in rows[:50]]
        return total, page

    def phb_request(path: str) -> bytes:
        return http_load.get_request(
            phb.port, path, {"Authorization": f"Bearer {token()}", "Accept": "application/fhir+json"}
        )

    def verify_searches(dated: bool) -> None:
        connection = http_load.Connection(phb.port)
        try:
            for patient_id, latest in patients:
                status, body = connection.request(phb_request(search_path(patient_id, latest, dated)))
                if status != 200:
                    raise CheckFailed(f"search: status {status}: {body[:200]!r}")
                answer = json.loads(body)
                ids = [e["resource"]["id"] for e in answer.get("entry", []) if e["search"]["mode"] == "match"]
                total, expected = reference_search(patient_id, dated)
                if (answer.get("total"), ids) != (total, expected):
                    raise CheckFailed(
                        f"search{' with date' if dated else ''}: PHB total {answer.get('total')} and "
                        f"{len(ids)} ids, the SQL {total} and {len(expected)} ids (or another order)"
                    )
                if not ids:
                    raise CheckFailed("a search found nothing: the chosen patients have no such observation")
            status, body = connection.request(phb_request(count_path))
            answer = json.loads(body)
            sql_total = raw(count_template)[0][0][0]
            if status != 200 or answer.get("total") != sql_total or "entry" in answer:
                raise CheckFailed(f"count: status {status}, PHB {answer.get('total')}, the SQL {sql_total}")
        finally:
            connection.close()

    def rotation(one: Callable[[int], Any], per_run: int) -> Callable[[], int]:
        position = 0

        def run() -> int:
            nonlocal position
            done = 0
            for _ in range(per_run):
                one(position)
                position += 1
                done += 1
            return done

        return run

    def reference_side(dated: bool) -> tuple[Callable[[], int], Callable[[], list[float]]]:
        times: list[float] = []

        def one(i: int) -> None:
            patient_id, _latest = patients[i % len(patients)]
            start = time.perf_counter_ns()
            reference_search(patient_id, dated)
            times.append((time.perf_counter_ns() - start) / 1000)

        def drain() -> list[float]:
            out = times[:]
            times.clear()
            return out

        return rotation(one, SEARCHES_PER_RUN), drain

    def phb_side(dated: bool) -> Callable[[], int]:
        position = 0

        def run() -> int:
            nonlocal position
            start = position
            position += SEARCHES_PER_RUN

            def requests(_: int) -> list[bytes]:
                return [
                    phb_request(search_path(*patients[(start + k) % len(patients)], dated))
                    for k in range(SEARCHES_PER_RUN)
                ]

            return pool.batch(phb.port, requests)

        return run

    verified: set[str] = set()

    def checker(expected: int, verify: Callable[[], None] | None = None) -> Callable[[int], None]:
        def check(done: int) -> None:
            if done != expected:
                raise CheckFailed(f"{done} searches instead of {expected}")
            if verify is not None and "phb" not in verified:
                verify()
                verified.add("phb")

        return check

    def verify_all() -> None:
        verify_searches(False)
        verify_searches(True)

    workloads = []
    for dated in (False, True):
        run_reference, drain_reference = reference_side(dated)
        label = "patient+code+date>=, sorted, 50" if dated else "patient+code, sorted, 50"
        workloads.append(
            Workload(
                name=f"fhir_observation_search {label}",
                description=f"Observation?{label} over HTTP (code {code}) vs the ORM's SQL via psycopg",
                reference=Variant(
                    "a. the ORM's SQL via psycopg",
                    run_reference,
                    checker(SEARCHES_PER_RUN),
                    ops_per_run=SEARCHES_PER_RUN,
                    latencies=drain_reference,
                ),
                variants=[
                    Variant(
                        "b. PHB FHIR search (JWT, audit)",
                        phb_side(dated),
                        checker(SEARCHES_PER_RUN, verify_all),
                        ops_per_run=SEARCHES_PER_RUN,
                        latencies=pool.drain,
                    )
                ],
                warmup=3,
            )
        )

    def count_reference() -> int:
        return raw(count_template)[0][0][0]

    def count_phb() -> int:
        status, body = count_connection.request(phb_request(count_path))
        if status != 200:
            raise CheckFailed(f"count: status {status}")
        return json.loads(body)["total"]

    count_connection = http_load.Connection(phb.port)

    def same_total(total: int) -> None:
        if total != count_reference():
            raise CheckFailed(f"count {total}, the SQL {count_reference()}")

    def per_million() -> list[str]:
        """The count's time per million matching rows, from the medians just measured."""
        lines = [f"{population:,} observations of {code} in the organization"]
        for name, seconds in measured.items():
            if population:
                lines.append(f"{name}: {seconds / population * 1_000_000:.3f} s per million matching rows")
        return lines

    measured: dict[str, float] = {}

    def timed(name: str, run: Callable[[], int]) -> Callable[[], int]:
        """`run`, keeping the median of all its durations for the per-million figure."""
        durations: list[float] = []

        def wrapped() -> int:
            start = time.perf_counter()
            out = run()
            durations.append(time.perf_counter() - start)
            measured[name] = statistics.median(durations)
            return out

        return wrapped

    def closing() -> None:
        count_connection.close()
        teardown()

    workloads.append(
        Workload(
            name="fhir_observation_search population count",
            description=f"Observation?code={code}&_summary=count over HTTP vs the ORM's count SQL via psycopg",
            reference=Variant("a. the ORM's count SQL via psycopg", timed("the SQL", count_reference), same_total),
            variants=[Variant("b. PHB FHIR _summary=count (JWT, audit)", timed("PHB", count_phb), same_total)],
            notes=per_million,
            teardown=closing,
            warmup=2,
        )
    )
    return workloads
