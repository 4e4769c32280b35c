"""Booking throughput at 16 concurrent clients: `services.appointment_book` as a receptionist, against
16 clients writing the same rows with raw INSERTs (the appointment and its booking transition, in one
transaction each). Report: bookings per second.

One timed operation is a batch of 16 clients x 5 bookings in parallel threads, each client with its
own database connection; µs/op is per batch, so the ratio is directly the throughput ratio. Every
booking is of a different free slot: the slots after the fixture's last day, by time and then by
doctor, so that the 16 clients of a batch book different doctors at the same time, as a busy morning at
the desk would; each with a patient of its own. The bookings are deleted before and after the workload.
The check: every booking of the batch succeeded and no doctor has two occupying appointments at one
start.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.runner import CheckFailed, Variant, Workload
from bench.workloads import scheduling_fixtures

CLIENTS = 16
BOOKINGS_PER_CLIENT = 5
ITERATION_DIVISOR = 30
DAYS = 20  # of slots: 200 doctors x 32 a day, more than both sides book in a run


def build(dsn: str) -> Workload:
    import psycopg
    from django.db import connection

    from phb.kernel.ids import uuid7
    from phb.scheduling import services
    from phb.scheduling.models import OCCUPYING, new_appointment_reference

    fixture = scheduling_fixtures.ensure_appointments(dsn)
    scheduling_fixtures.delete_bookings(dsn, fixture)
    desk = fixture.ctx("receptionist")
    pool = ThreadPoolExecutor(max_workers=CLIENTS)
    free = iter(scheduling_fixtures.booking_slots(fixture, first_day=scheduling_fixtures.BOOKING_FROM, days=DAYS))
    patients = itertools.cycle(fixture.patient_ids)
    department_of = {
        pid: fixture.department_ids[i % len(fixture.department_ids)] for i, pid in enumerate(fixture.practitioner_ids)
    }
    specialization_of = {
        pid: scheduling_fixtures.DEPARTMENTS[i % len(scheduling_fixtures.DEPARTMENTS)][0]
        for i, pid in enumerate(fixture.practitioner_ids)
    }
    connections = [psycopg.connect(dsn, autocommit=True) for _ in range(CLIENTS)]
    step = dt.timedelta(minutes=scheduling_fixtures.SLOT_MINUTES)

    def next_batch() -> list[list[tuple[uuid.UUID, dt.datetime, uuid.UUID]]]:
        """16 lists of 10 (doctor, start, patient): a slot and a patient used nowhere else."""
        rows = [(*next(free), next(patients)) for _ in range(CLIENTS * BOOKINGS_PER_CLIENT)]
        return [rows[c::CLIENTS] for c in range(CLIENTS)]

    def book(work: list[tuple[uuid.UUID, dt.datetime, uuid.UUID]]) -> list[uuid.UUID]:
        return [
            services.appointment_book(ctx=desk, patient_id=patient, practitioner_id=pid, start_at=start).id
            for pid, start, patient in work
        ]

    def insert(client: int, work: list[tuple[uuid.UUID, dt.datetime, uuid.UUID]]) -> list[uuid.UUID]:
        conn, out = connections[client], []
        for pid, start, patient in work:
            appointment_id, now = uuid7(), dt.datetime.now(dt.UTC)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO scheduling_appointment (id, created_at, updated_at, organization_id, reference, "
                    "patient_id, practitioner_id, department_id, specialization, start_at, end_at, kind, priority, "
                    "status, chief_complaint, notes, fee, booked_by_id, meeting_url) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'in_person', 'normal', 'pending', '', '', "
                    "5000, %s, '')",
                    (
                        appointment_id, now, now, fixture.organization_id, new_appointment_reference(), patient, pid,
                        department_of[pid], specialization_of[pid], start, start + step, fixture.desk_user_id,
                    ),
                )  # fmt: skip
                conn.execute(
                    "INSERT INTO scheduling_appointmenttransition (id, created_at, updated_at, organization_id, "
                    "appointment_id, from_status, to_status, actor_id, at, reason) "
                    "VALUES (%s, %s, %s, %s, %s, '', 'pending', %s, %s, '')",
                    (uuid7(), now, now, fixture.organization_id, appointment_id, fixture.desk_user_id, now),
                )
            out.append(appointment_id)
        return out

    def batch(raw: bool) -> Any:
        work = next_batch()
        booked = list(pool.map(insert, range(CLIENTS), work)) if raw else list(pool.map(book, work))
        return [a for client in booked for a in client]

    def check(booked: list[uuid.UUID]) -> None:
        if len(set(booked)) != CLIENTS * BOOKINGS_PER_CLIENT:
            raise CheckFailed(f"{len(set(booked))} bookings instead of {CLIENTS * BOOKINGS_PER_CLIENT}")
        since = dt.datetime.combine(scheduling_fixtures.BOOKING_FROM, dt.time.min, tzinfo=fixture.zone)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM scheduling_appointment WHERE id = ANY(%s) AND status = 'pending'", [booked]
            )
            stored = cur.fetchone()[0]
            cur.execute(
                "SELECT count(*) FROM (SELECT 1 FROM scheduling_appointment WHERE organization_id = %s "
                "AND start_at >= %s AND status = ANY(%s) GROUP BY practitioner_id, start_at HAVING count(*) > 1) d",
                [fixture.organization_id, since, [str(s) for s in OCCUPYING]],
            )
            doubled = cur.fetchone()[0]
        if stored != len(booked):
            raise CheckFailed(f"{stored} of {len(booked)} bookings stored")
        if doubled:
            raise CheckFailed(f"{doubled} slots booked twice")

    def teardown() -> None:
        pool.shutdown()
        for conn in connections:
            conn.close()
        scheduling_fixtures.delete_bookings(dsn, fixture)

    return Workload(
        name="booking_throughput",
        description=f"{CLIENTS} concurrent clients booking different free slots, {BOOKINGS_PER_CLIENT} each",
        reference=Variant("a. raw INSERTs (appointment + transition)", lambda: batch(True), check),
        variants=[Variant("b. services.appointment_book", lambda: batch(False), check)],
        teardown=teardown,
    )
