"""A doctor's day list among 1,000,000 appointments (issue target: median under 20 ms): raw SQL
(reference) vs `selectors.appointment_list(practitioner_id=..., on_date=...)` as a receptionist,
evaluated with each appointment's patient, as the day list page shows them.

Days are drawn from every doctor's working days over the fixture's two years, in rotation. The reference
is the query the selector comes down to (the organization's appointments of that doctor starting in that
local day, with the patient joined, earliest first); what remains is the selector's own cost (the ORM,
the tenancy binding, the organization's time zone, the read's audit record, decrypting the complaint).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import scheduling_fixtures

ITERATION_DIVISOR = 3
DAYS = 200


def _rotation(items: list[Any], fn: Callable[[Any], Any]) -> Callable[[], Any]:
    position = 0

    def run() -> Any:
        nonlocal position
        item = items[position % len(items)]
        position += 1
        return fn(item)

    return run


def build(dsn: str) -> Workload:
    import psycopg
    from django.db import connection

    from phb.scheduling import selectors
    from phb.scheduling.slots import local_day_bounds

    fixture = scheduling_fixtures.ensure_appointments(dsn)
    rng = random.Random(scheduling_fixtures.SEED + 1)
    items = [(rng.choice(fixture.practitioner_ids), rng.choice(fixture.days)) for _ in range(DAYS)]
    desk = fixture.ctx("receptionist")
    conn = psycopg.connect(dsn, autocommit=True)
    sql = (
        "SELECT a.id, a.start_at, a.status, a.chief_complaint, p.id, p.given_name, p.family_name, p.hpn "
        "FROM scheduling_appointment a JOIN patients_patient p ON p.id = a.patient_id "
        "WHERE a.organization_id = %s AND a.practitioner_id = %s AND a.start_at >= %s AND a.start_at < %s "
        "ORDER BY a.start_at, a.id"
    )

    def raw(item: tuple[uuid.UUID, dt.date]) -> list[tuple[uuid.UUID, str]]:
        start, end = local_day_bounds(item[1], fixture.zone)
        with conn.cursor() as cur:
            cur.execute(sql, (fixture.organization_id, item[0], start, end))
            return [(row[0], row[6]) for row in cur.fetchall()]

    def phb(item: tuple[uuid.UUID, dt.date]) -> list[tuple[uuid.UUID, str]]:
        day = selectors.appointment_list(ctx=desk, practitioner_id=item[0], on_date=item[1])
        return [(a.id, a.patient.family_name) for a in day]

    def checker(fn: Callable[[Any], list[tuple[uuid.UUID, str]]]) -> Callable[[Any], None]:
        """Each day has the doctor's appointments of that day (counted apart), earliest first."""

        def check(_: Any) -> None:
            for item in items[:40]:
                start, end = local_day_bounds(item[1], fixture.zone)
                with connection.cursor() as cur:
                    cur.execute(
                        "SELECT id FROM scheduling_appointment WHERE practitioner_id = %s "
                        "AND start_at >= %s AND start_at < %s ORDER BY start_at, id",
                        [item[0], start, end],
                    )
                    expected = [row[0] for row in cur.fetchall()]
                found = fn(item)
                if not expected:
                    raise CheckFailed(f"{item[1]}: the fixture has no appointments that day")
                if [a for a, _ in found] != expected:
                    raise CheckFailed(f"{item[1]}: {len(found)} appointments, expected {len(expected)} in order")
                if any(not name for _, name in found):
                    raise CheckFailed(f"{item[1]}: an appointment without its patient's name")

        return check

    return Workload(
        name="appointment_day_list",
        description=f"a doctor's day list among {scheduling_fixtures.APPOINTMENTS:,} appointments",
        reference=Variant("a. raw SQL (day's appointments + patient)", _rotation(items, raw), checker(raw)),
        variants=[Variant("b. selectors.appointment_list", _rotation(items, phb), checker(phb))],
        teardown=conn.close,
    )
