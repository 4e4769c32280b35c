"""The privacy officer's two questions over 1,000,000 audit events (issue target: each under 200 ms median).

(a) "who accessed patient X in the last year": raw SQL (reference) vs `kernel.audit.search` through the ORM;
(b) "what did user Y access in the last month": the same pair.
The events are generated once with COPY (deterministic seed): 90 % in one organization, 2,000 users,
100,000 patients, spread over two years; one patient and one user are "busy" (1,000 and 5,000 events).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

EVENTS = 1_000_000
ITERATION_DIVISOR = 30  # each query returns hundreds to thousands of rows: fewer timed calls per round
ACTIONS = [
    "clinical.chart.read",
    "clinical.note.read",
    "clinical.vitals.read",
    "clinical.note.create",
    "medications.prescription.read",
    "laboratory.result.read",
]


def _ids(rng: random.Random, n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n)]


def ensure_events(dsn: str) -> dict[str, Any]:
    import psycopg

    rng = random.Random(20261124)
    orgs, users, patients = _ids(rng, 2), _ids(rng, 2000), _ids(rng, 100_000)
    busy_patient, busy_user = patients[0], users[0]
    from django.db import connection
    from django.utils import timezone

    from phb.kernel.db import ensure_month_partitions

    # Monthly partitions for the two years of generated events, as the scheduler would have made them.
    ensure_month_partitions(
        connection, "kernel_auditevent", months_ahead=26, start=timezone.now() - dt.timedelta(days=760)
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        # PHB's append-only trigger refuses DELETE; regeneration is a bench-only TRUNCATE.
        count = conn.execute("SELECT count(*) FROM kernel_auditevent").fetchone()[0]
        if count < EVENTS:
            conn.execute("TRUNCATE kernel_auditevent, kernel_auditchainlink")
            conn.execute("SET synchronous_commit = off")
            now = dt.datetime.now(dt.UTC)
            with conn.cursor().copy(
                "COPY kernel_auditevent (id, occurred_at, actor_id, actor_kind, roles, organization_id, patient_id, "
                "action, resource_type, resource_id, outcome, purpose_of_use, user_agent, request_id, reason, detail) "
                "FROM STDIN"
            ) as copy:
                for i in range(EVENTS):
                    if i < 1000:
                        patient, user = busy_patient, rng.choice(users)
                    elif i < 6000:
                        patient, user = rng.choice(patients), busy_user
                    else:
                        patient, user = rng.choice(patients), rng.choice(users)
                    org = orgs[0] if rng.random() < 0.9 else orgs[1]
                    if i < 6000:
                        org = orgs[0]
                    when = now - dt.timedelta(seconds=rng.randrange(0, 730 * 86400))
                    copy.write_row(
                        (
                            uuid.UUID(int=rng.getrandbits(128), version=4),
                            when,
                            user,
                            "user",
                            "doctor",
                            org,
                            patient,
                            rng.choice(ACTIONS),
                            "clinical.Note",
                            str(i),
                            "success",
                            "TREAT",
                            "bench",
                            "",
                            "",
                            "{}",
                        )
                    )
            conn.execute("ANALYZE kernel_auditevent")
    return {"org": orgs[0], "patient": busy_patient, "user": busy_user}


def build(dsn: str) -> list[Workload]:
    import psycopg

    from phb.kernel import audit
    from phb.kernel.context import Ctx

    ids = ensure_events(dsn)
    ctx = Ctx.system(reason="bench", organization_id=ids["org"])
    conn = psycopg.connect(dsn, autocommit=True)
    year = dt.timedelta(days=365)
    month = dt.timedelta(days=30)
    from phb.kernel.models import AuditEvent

    # The reference fetches the same columns the ORM does, so the ratio is the ORM's own cost.
    columns = ", ".join(f.column for f in AuditEvent._meta.concrete_fields)

    def raw_patient() -> Any:
        now = dt.datetime.now(dt.UTC)
        return conn.execute(
            f"SELECT {columns} FROM kernel_auditevent WHERE organization_id = %s AND patient_id = %s "
            "AND occurred_at >= %s AND occurred_at < %s ORDER BY occurred_at DESC, id DESC",
            (ids["org"], ids["patient"], now - year, now),
        ).fetchall()

    def phb_patient() -> Any:
        now = dt.datetime.now(dt.UTC)
        return list(audit.search(ctx, since=now - year, until=now, patient_id=ids["patient"]))

    def raw_user() -> Any:
        now = dt.datetime.now(dt.UTC)
        return conn.execute(
            f"SELECT {columns} FROM kernel_auditevent WHERE organization_id = %s AND actor_id = %s "
            "AND occurred_at >= %s AND occurred_at < %s ORDER BY occurred_at DESC, id DESC",
            (ids["org"], ids["user"], now - month, now),
        ).fetchall()

    def phb_user() -> Any:
        now = dt.datetime.now(dt.UTC)
        return list(audit.search(ctx, since=now - month, until=now, actor_id=ids["user"]))

    expected: dict[str, int] = {}

    def same_count(key: str) -> Any:
        def check(result: Any) -> None:
            n = len(result)
            if n == 0:
                raise CheckFailed(f"{key}: no events found")
            if expected.setdefault(key, n) != n:
                raise CheckFailed(f"{key}: {n} events, the reference found {expected[key]}")

        return check

    return [
        Workload(
            name="audit_patient",
            description=f"who accessed patient X in the last year ({EVENTS:,} events)",
            reference=Variant("a. raw SQL", raw_patient, same_count("patient")),
            variants=[Variant("b. audit.search (ORM)", phb_patient, same_count("patient"))],
        ),
        Workload(
            name="audit_user",
            description=f"what did user Y access in the last month ({EVENTS:,} events)",
            reference=Variant("a. raw SQL", raw_user, same_count("user")),
            variants=[Variant("b. audit.search (ORM)", phb_user, same_count("user"))],
            teardown=conn.close,
        ),
    ]
