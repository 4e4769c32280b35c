"""No double booking under concurrency: 50 bookings of one slot at once, each on its own connection,
give exactly one appointment and 49 SLOT_TAKEN conflicts (never an IntegrityError or a 500)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from phb.kernel.errors import Conflict
from phb.scheduling import services
from phb.scheduling.models import Appointment
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow

ATTEMPTS = 50


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_bookings_of_one_slot_give_one_appointment(org_a):
    desk = desk_ctx(org_a)
    doctor = practitioner(org_a)
    patients = [registered_patient(org_a) for _ in range(ATTEMPTS)]
    start = local(org_a, tomorrow(org_a), 9)
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt(patient):
        try:
            barrier.wait()
            services.appointment_book(ctx=desk, patient_id=patient.id, practitioner_id=doctor.id, start_at=start)
            result: object = "booked"
        except Conflict as exc:
            result = exc.code
        except Exception as exc:  # anything else is a failure of the test, reported below
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str).count("booked") == 1, outcomes
    assert outcomes.count("SLOT_TAKEN") == ATTEMPTS - 1, outcomes
    assert Appointment.objects.for_tenant(desk).filter(start_at=start).count() == 1
