"""W8: no double booking under contention, on tier data (`phb bench-data`). Not a timing; two outcomes:

- same slot: in each of 20 rounds, 50 clients (threads released together, each its own database
  connection and its own patient) book one practitioner's same free slot through
  `services.appointment_book`. Passes when every round gives exactly one booking and 49 `Conflict`
  `SLOT_TAKEN`, never another error, and the slot holds one occupying appointment.
- random slots: 200 clients, each booking a slot drawn at random (with repeats, so some collide) among
  the free slots of 10 practitioners over a week, released together in waves of 50 (PostgreSQL's
  default max_connections is 100). Passes when each distinct slot asked for got exactly one booking,
  every loser got `SLOT_TAKEN`, and no error.

After both, SQL over the whole organization counts pairs of occupying appointments of one practitioner
that overlap in time: it must be 0. The bookings are made after every generated appointment and deleted
afterwards, with their history.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections import Counter
from typing import Any

from bench.runner import CheckFailed, Outcome
from bench.workloads import tier_fixtures

ROUNDS = 20
SAME_SLOT_CLIENTS = 50
RANDOM_CLIENTS = 200
WAVE = 50
SEED = 20261130

DOUBLE_BOOKINGS = """
SELECT count(*) FROM scheduling_appointment a
JOIN scheduling_appointment b
  ON b.practitioner_id = a.practitioner_id AND b.id > a.id
 AND b.start_at < a.end_at AND a.start_at < b.end_at
WHERE a.organization_id = %(org)s AND b.organization_id = %(org)s
  AND a.status = ANY(%(occupying)s) AND b.status = ANY(%(occupying)s)
"""


def _book_together(site: tier_fixtures.Site, requests: list[tuple[uuid.UUID, uuid.UUID, dt.datetime]]) -> list[Any]:
    """Run the bookings (patient, practitioner, start) in threads released at once; returns, in order,
    the appointment booked or the conflict's code or the unexpected error."""
    from django.db import connection

    from phb.kernel.errors import Conflict
    from phb.scheduling import services

    desk = site.ctx("receptionist")
    barrier = threading.Barrier(len(requests))
    outcomes: list[Any] = [None] * len(requests)

    def attempt(index: int) -> None:
        patient_id, practitioner_id, start = requests[index]
        try:
            barrier.wait()
            outcomes[index] = services.appointment_book(
                ctx=desk, patient_id=patient_id, practitioner_id=practitioner_id, start_at=start
            )
        except Conflict as exc:
            outcomes[index] = exc.code
        except Exception as exc:  # anything else fails the outcome, reported by the caller
            outcomes[index] = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _free_slots(site: tier_fixtures.Site, practitioner_id: uuid.UUID, first: dt.date, days: int) -> list[dt.datetime]:
    from phb.scheduling import slots

    found = slots.slots_free(
        ctx=site.ctx("receptionist"),
        start_date=first,
        end_date=first + dt.timedelta(days=days - 1),
        practitioner_id=practitioner_id,
    )
    return [slot.start_at for slot in found]


def _horizon(site: tier_fixtures.Site) -> dt.date:
    """The Monday after the last appointment on record (or a year from now): every slot is free there."""
    from django.db.models import Max
    from django.utils import timezone

    from phb.scheduling.models import Appointment

    last = (
        Appointment.objects.for_system(tier_fixtures._system())
        .filter(organization_id=site.organization_id)
        .aggregate(last=Max("start_at"))["last"]
    )
    after = max(last or timezone.now(), timezone.now() + dt.timedelta(days=365)).astimezone(site.zone).date()
    return after + dt.timedelta(days=7 - after.weekday() + 7)


def _delete(dsn: str, ids: list[uuid.UUID]) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        for table in (
            "scheduling_appointmenttransition",
            "scheduling_appointmentreminder",
            "scheduling_idempotencykey",
        ):
            conn.execute(f"DELETE FROM {table} WHERE appointment_id = ANY(%s)", [ids])
        conn.execute("DELETE FROM scheduling_appointment WHERE id = ANY(%s)", [ids])


def _no_double_bookings(dsn: str, site: tier_fixtures.Site) -> None:
    """Raises CheckFailed when any two occupying appointments of one practitioner overlap, in SQL."""
    import psycopg

    from phb.scheduling.models import OCCUPYING

    with psycopg.connect(dsn) as conn:
        row = conn.execute(DOUBLE_BOOKINGS, {"org": site.organization_id, "occupying": [str(s) for s in OCCUPYING]})
        doubles = row.fetchone()[0]
    if doubles:
        raise CheckFailed(f"{doubles} pairs of overlapping occupying appointments")


def _booked(outcomes: list[Any]) -> list[uuid.UUID]:
    return [o.id for o in outcomes if hasattr(o, "id")]


def build(dsn: str) -> list[Outcome]:
    site = tier_fixtures.site()
    if not site.practitioner_ids:
        raise tier_fixtures.NotGenerated(f"{site.code!r} has no practitioner with weekly windows")
    if len(site.patient_ids) < RANDOM_CLIENTS:  # one patient per client: only the slot may refuse a booking
        raise tier_fixtures.NotGenerated(
            f"{site.code!r} has {len(site.patient_ids)} patients, fewer than {RANDOM_CLIENTS}"
        )
    horizon = _horizon(site)
    patients = site.patient_ids

    def same_slot() -> dict[str, Any]:
        made: list[uuid.UUID] = []
        try:
            for number in range(ROUNDS):
                # A week of its own per round, and other patients (while there are enough): no rule but the
                # slot's can refuse a booking.
                practitioner = site.practitioner_ids[number % len(site.practitioner_ids)]
                free = _free_slots(site, practitioner, horizon + dt.timedelta(weeks=number), 7)
                if not free:
                    raise CheckFailed(f"round {number + 1}: the practitioner has no free slot in the week")
                clients = [patients[(number * SAME_SLOT_CLIENTS + i) % len(patients)] for i in range(SAME_SLOT_CLIENTS)]
                outcomes = _book_together(site, [(p, practitioner, free[0]) for p in clients])
                made += _booked(outcomes)
                seen = Counter("booked" if hasattr(o, "id") else o for o in outcomes)
                if seen["booked"] != 1 or seen["SLOT_TAKEN"] != SAME_SLOT_CLIENTS - 1:
                    raise CheckFailed(f"round {number + 1}: {dict(seen)}")
            _no_double_bookings(dsn, site)
        finally:
            _delete(dsn, made)
        return {
            "trials": ROUNDS,
            "detail": f"each round: {SAME_SLOT_CLIENTS} bookings of one slot at once, 1 booked, "
            f"{SAME_SLOT_CLIENTS - 1} SLOT_TAKEN; 0 overlapping appointments in SQL",
        }

    def random_slots() -> dict[str, Any]:
        rng = random.Random(SEED)
        first = horizon + dt.timedelta(weeks=ROUNDS + 1)
        practitioners = site.practitioner_ids[:10]
        # By time, then practitioner: the slots drawn spread over the practitioners of the first days.
        pool = sorted(
            ((p, start) for p in practitioners for start in _free_slots(site, p, first, 7)), key=lambda s: (s[1], s[0])
        )
        if len(pool) < RANDOM_CLIENTS // 2:
            raise CheckFailed(f"only {len(pool)} free slots to draw from")
        # Fewer distinct slots than clients: about a third of the draws land on a slot drawn before.
        drawn = [rng.choice(pool[: RANDOM_CLIENTS * 2 // 3]) for _ in range(RANDOM_CLIENTS)]
        chosen = rng.sample(patients, RANDOM_CLIENTS)
        made: list[uuid.UUID] = []
        seen: Counter[str] = Counter()
        try:
            for wave in range(0, RANDOM_CLIENTS, WAVE):
                requests = [
                    (chosen[i], drawn[i][0], drawn[i][1]) for i in range(wave, min(wave + WAVE, RANDOM_CLIENTS))
                ]
                outcomes = _book_together(site, requests)
                made += _booked(outcomes)
                seen.update("booked" if hasattr(o, "id") else o for o in outcomes)
            distinct = len(set(drawn))
            if seen["booked"] != distinct or seen["SLOT_TAKEN"] != RANDOM_CLIENTS - distinct:
                raise CheckFailed(f"{distinct} distinct slots asked for, outcomes {dict(seen)}")
            _no_double_bookings(dsn, site)
        finally:
            _delete(dsn, made)
        return {
            "trials": RANDOM_CLIENTS,
            "detail": f"{RANDOM_CLIENTS} clients in waves of {WAVE} on {distinct} distinct random slots: "
            f"{seen['booked']} booked, {seen['SLOT_TAKEN']} SLOT_TAKEN, 0 errors; 0 overlapping appointments in SQL",
        }

    return [
        Outcome(
            name="w8_same_slot",
            description=f"W8: {SAME_SLOT_CLIENTS} concurrent bookings of one slot, {ROUNDS} rounds",
            measure=same_slot,
        ),
        Outcome(
            name="w8_random_slots",
            description=f"W8: {RANDOM_CLIENTS} clients booking random free slots, some the same",
            measure=random_slots,
        ),
    ]
