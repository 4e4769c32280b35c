"""No double booking under contention, at scale: 50 concurrent `services.appointment_book` calls for the
same slot (threads released together, each with its own database connection and its own patient),
among the 1,000,000 appointments. Not a timing: it passes when, in every trial, exactly one booking
succeeded and the 49 others got `Conflict` `SLOT_TAKEN` (never another error), and the slot holds one
occupying appointment.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

from bench.runner import CheckFailed, Outcome
from bench.workloads import scheduling_fixtures

ATTEMPTS = 50
TRIALS = 5


def build(dsn: str) -> Outcome:
    from django.db import connection

    from phb.kernel.errors import Conflict
    from phb.scheduling import services
    from phb.scheduling.models import OCCUPYING

    fixture = scheduling_fixtures.ensure_appointments(dsn)
    desk = fixture.ctx("receptionist")
    # After the slots booking_throughput books: a doctor's slot on a day of its own per trial.
    first_day = scheduling_fixtures.BOOKING_FROM + dt.timedelta(weeks=8)

    def trial(number: int) -> Counter[str]:
        pid = fixture.practitioner_ids[number * 37 % len(fixture.practitioner_ids)]
        start = dt.datetime.combine(first_day + dt.timedelta(days=number), dt.time(9, 0), tzinfo=fixture.zone)
        patients = fixture.patient_ids[number * ATTEMPTS : (number + 1) * ATTEMPTS]
        barrier = threading.Barrier(ATTEMPTS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def attempt(patient_id: object) -> None:
            try:
                barrier.wait()
                services.appointment_book(ctx=desk, patient_id=patient_id, practitioner_id=pid, start_at=start)
                result = "booked"
            except Conflict as exc:
                result = exc.code
            except Exception as exc:  # anything else fails the outcome, reported below
                result = f"{type(exc).__name__}: {exc}"
            finally:
                connection.close()
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM scheduling_appointment WHERE practitioner_id = %s AND start_at = %s "
                "AND status = ANY(%s)",
                [pid, start, [str(s) for s in OCCUPYING]],
            )
            held = cur.fetchone()[0]
        seen = Counter(outcomes)
        if seen["booked"] != 1 or seen["SLOT_TAKEN"] != ATTEMPTS - 1 or held != 1:
            raise CheckFailed(f"trial {number + 1}: {dict(seen)}, {held} appointments hold the slot")
        return seen

    def measure() -> dict[str, object]:
        scheduling_fixtures.delete_bookings(dsn, fixture)
        try:
            for number in range(TRIALS):
                trial(number)
        finally:
            scheduling_fixtures.delete_bookings(dsn, fixture)
        return {
            "trials": TRIALS,
            "detail": f"each trial: {ATTEMPTS} bookings of one slot at once, 1 booked, {ATTEMPTS - 1} SLOT_TAKEN",
        }

    return Outcome(
        name="slot_contention",
        description=f"{ATTEMPTS} concurrent bookings of the same slot, {TRIALS} trials",
        measure=measure,
    )
