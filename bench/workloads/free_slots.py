"""Free slots of a department over two weeks (issue target: median under 50 ms): the raw SQL that reads
the occupying appointments of that department in that range (reference) vs `slots.slots_free(
department_id=...)` as a receptionist, which also reads the doctors, their weekly windows and leave,
and derives every free slot.

The reference bounds start_at on both sides (no appointment lasts longer than
`slots.LONGEST_APPOINTMENT`), as the selector does. The two weeks start on the Monday after today (free slots are never in the past), within the fixture;
the four departments (50 doctors each) in rotation.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import scheduling_fixtures

ITERATION_DIVISOR = 10


def build(dsn: str) -> Workload:
    import psycopg
    from django.utils import timezone

    from phb.scheduling import slots
    from phb.scheduling.models import OCCUPYING

    fixture = scheduling_fixtures.ensure_appointments(dsn)
    today = timezone.now().astimezone(fixture.zone).date()
    first = today + dt.timedelta(days=7 - today.weekday())
    last = first + dt.timedelta(days=13)
    if last >= scheduling_fixtures.BOOKING_FROM:
        raise RuntimeError("the fixture's two years are over: move FIRST_DAY and rebuild the bench database")
    range_start, _ = slots.local_day_bounds(first, fixture.zone)
    _, range_end = slots.local_day_bounds(last, fixture.zone)
    # No appointment lasts longer than slots.LONGEST_APPOINTMENT: without this bound on start_at the index is
    # read from the department's first appointment ever.
    earliest_start = range_start - slots.LONGEST_APPOINTMENT
    desk = fixture.ctx("receptionist")
    conn = psycopg.connect(dsn, autocommit=True)
    occupying = [str(s) for s in OCCUPYING]
    sql = (
        "SELECT practitioner_id, start_at, end_at FROM scheduling_appointment "
        "WHERE organization_id = %s AND department_id = %s AND status = ANY(%s) AND start_at < %s AND end_at > %s "
        "AND start_at > %s"
    )

    def raw(department_id: uuid.UUID) -> list[tuple[uuid.UUID, dt.datetime, dt.datetime]]:
        with conn.cursor() as cur:
            cur.execute(
                sql, (fixture.organization_id, department_id, occupying, range_end, range_start, earliest_start)
            )
            return cur.fetchall()

    def phb(department_id: uuid.UUID) -> list[slots.Slot]:
        return slots.slots_free(ctx=desk, department_id=department_id, start_date=first, end_date=last)

    def rotation(fn: Callable[[uuid.UUID], Any]) -> Callable[[], Any]:
        position = 0

        def run() -> Any:
            nonlocal position
            position += 1
            return fn(fixture.department_ids[position % len(fixture.department_ids)])

        return run

    working = sum(1 for d in range((last - first).days + 1) if (first + dt.timedelta(days=d)).weekday() < 5)
    per_department = scheduling_fixtures.PRACTITIONERS // len(fixture.department_ids)
    candidates = per_department * working * scheduling_fixtures.SLOTS_PER_DAY

    def check_raw(_: Any) -> None:
        for department_id in fixture.department_ids:
            taken = raw(department_id)
            if not taken or len(taken) >= candidates:
                raise CheckFailed(f"{len(taken)} occupied slots of {candidates}: not the fixture")

    def check_phb(_: Any) -> None:
        """Every slot is free, and free slots + occupied slots = every slot of the department's doctors."""
        for department_id in fixture.department_ids:
            taken = {(pid, start) for pid, start, _ in raw(department_id)}
            free = phb(department_id)
            keys = {(s.practitioner_id, s.start_at) for s in free}
            if len(keys) != len(free):
                raise CheckFailed("a free slot is listed twice")
            if keys & taken:
                raise CheckFailed(f"{len(keys & taken)} occupied slots listed as free")
            if len(free) + len(taken) != candidates:
                raise CheckFailed(f"{len(free)} free + {len(taken)} occupied, not the {candidates} slots")
            if free != sorted(free, key=lambda s: (s.start_at, str(s.practitioner_id))):
                raise CheckFailed("free slots not earliest first")

    return Workload(
        name="free_slots",
        description=f"free slots of a department (50 doctors) over two weeks, {first} to {last}",
        reference=Variant("a. raw SQL (occupying appointments)", rotation(raw), check_raw),
        variants=[Variant("b. slots.slots_free", rotation(phb), check_phb)],
        teardown=conn.close,
    )
