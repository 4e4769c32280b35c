"""Booking rules, each with its stable code; free slots; the question asked without booking."""

from __future__ import annotations

import datetime as dt

import pytest

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, ValidationFailed
from phb.kernel.models import AuditEvent, OutboxEvent
from phb.patients import services as patient_services
from phb.scheduling import selectors, services, slots
from phb.scheduling.models import Appointment, AppointmentStatus, AppointmentTransition
from phb.workforce import services as workforce_services
from tests.accounts.factories import UserFactory
from tests.patients.factories import make_patient
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(org_a):
    return {
        "desk": desk_ctx(org_a),
        "doctor": practitioner(org_a),
        "patient": registered_patient(org_a),
        "day": tomorrow(org_a),
    }


def book(setup, org, *, hour=9, minute=0, patient=None, practitioner=None, **kwargs):
    return services.appointment_book(
        ctx=setup["desk"],
        patient_id=(patient or setup["patient"]).id,
        practitioner_id=(practitioner or setup["doctor"]).id,
        start_at=local(org, setup["day"], hour, minute),
        **kwargs,
    )


def test_a_booking_is_pending_with_a_reference_fee_history_audit_and_event(org_a, setup):
    appointment = book(setup, org_a, chief_complaint="chest pain", symptoms=["dyspnoea"])
    assert appointment.status == AppointmentStatus.PENDING
    assert appointment.reference.startswith("APT-")
    assert len(appointment.reference) == 12
    assert appointment.end_at - appointment.start_at == dt.timedelta(minutes=30)
    assert str(appointment.fee) == "5000.00"
    assert appointment.specialization == "cardiology"
    stored = Appointment.objects.for_tenant(setup["desk"]).get(id=appointment.id)
    assert stored.chief_complaint == "chest pain"
    assert stored.symptoms == ["dyspnoea"]
    history = AppointmentTransition.objects.for_tenant(setup["desk"]).filter(appointment=appointment)
    assert [(t.from_status, t.to_status) for t in history] == [("", "pending")]
    events = AuditEvent.objects.for_tenant(setup["desk"]).filter(action="scheduling.appointment.book")
    assert events.get().patient_id == setup["patient"].id
    assert "chest" not in str(events.get().detail)
    outbox = OutboxEvent.objects.filter(name="scheduling.appointment_booked").get()
    assert outbox.payload["appointment_id"] == str(appointment.id)


def test_the_complaint_is_encrypted_at_rest(org_a, setup):
    from django.db import connection

    appointment = book(setup, org_a, chief_complaint="chest pain")
    with connection.cursor() as cursor:
        key = appointment.id.hex if connection.vendor == "sqlite" else appointment.id
        cursor.execute("SELECT chief_complaint FROM scheduling_appointment WHERE id = %s", [key])
        (raw,) = cursor.fetchone()
    assert raw.startswith("phb1:")
    assert "chest" not in raw


def test_in_the_past(org_a, setup):
    with pytest.raises(ValidationFailed) as err:
        services.appointment_book(
            ctx=setup["desk"],
            patient_id=setup["patient"].id,
            practitioner_id=setup["doctor"].id,
            start_at=local(org_a, setup["day"] - dt.timedelta(days=2), 9),
        )
    assert err.value.code == "IN_THE_PAST"


def test_patient_not_registered_here_or_not_yet_approved(org_a, org_b, setup):
    stranger = make_patient()
    with pytest.raises(Conflict) as err:
        book(setup, org_a, patient=stranger)
    assert err.value.code == "PATIENT_NOT_REGISTERED"
    elsewhere = registered_patient(org_b)
    with pytest.raises(Conflict) as err:
        book(setup, org_a, patient=elsewhere)
    assert err.value.code == "PATIENT_NOT_REGISTERED"
    user = UserFactory()
    own = make_patient(user=user)
    patient_services.registration_create(
        ctx=Ctx(actor_id=user.id, organization_id=org_a.id), patient_id=own.id, at_desk=False
    )
    with pytest.raises(Conflict) as err:
        book(setup, org_a, patient=own)
    assert err.value.code == "PATIENT_NOT_REGISTERED"
    assert not Appointment.objects.for_tenant(setup["desk"]).exists()


def test_same_day_same_specialty(org_a, setup):
    other_cardiologist = practitioner(org_a, specialization="cardiology")
    book(setup, org_a, hour=9)
    with pytest.raises(Conflict) as err:
        book(setup, org_a, hour=11, practitioner=other_cardiologist)
    assert err.value.code == "SAME_DAY_SAME_SPECIALTY"
    # Another specialty the same day is fine; so is the same one once the first is cancelled.
    book(setup, org_a, hour=11, practitioner=practitioner(org_a, specialization="dermatology"))


def test_a_cancelled_appointment_frees_the_day_and_the_slot(org_a, setup):
    first = book(setup, org_a, hour=9)
    services.appointment_transition(ctx=setup["desk"], appointment_id=first.id, to_status="cancelled", reason="ill")
    again = book(setup, org_a, hour=9)
    assert again.id != first.id


def test_practitioner_unavailable_outside_hours_off_grid_on_other_days_and_on_leave(org_a, setup):
    weekdays_only = practitioner(org_a, specialization="neurology", weekdays=range(5))
    for hour, minute in ((7, 30), (16, 0), (9, 10)):
        with pytest.raises(Conflict) as err:
            book(setup, org_a, hour=hour, minute=minute)
        assert err.value.code == "PRACTITIONER_UNAVAILABLE"
    saturday = setup["day"] + dt.timedelta(days=(5 - setup["day"].weekday()) % 7)
    with pytest.raises(Conflict) as err:
        services.appointment_book(
            ctx=setup["desk"],
            patient_id=setup["patient"].id,
            practitioner_id=weekdays_only.id,
            start_at=local(org_a, saturday, 9),
        )
    assert err.value.code == "PRACTITIONER_UNAVAILABLE"
    from tests.scheduling.factories import admin_ctx

    workforce_services.leave_add(
        ctx=admin_ctx(org_a), practitioner_id=setup["doctor"].id, starts_on=setup["day"], ends_on=setup["day"]
    )
    with pytest.raises(Conflict) as err:
        book(setup, org_a, hour=9)
    assert err.value.code == "PRACTITIONER_UNAVAILABLE"


def test_daily_maximum(org_a, setup):
    busy = practitioner(org_a, specialization="ent", max_daily_appointments=2)
    for hour in (9, 10):
        book(setup, org_a, hour=hour, practitioner=busy, patient=registered_patient(org_a))
    with pytest.raises(Conflict) as err:
        book(setup, org_a, hour=11, practitioner=busy)
    assert err.value.code == "DAILY_MAXIMUM"


def test_slot_taken(org_a, setup):
    book(setup, org_a, hour=9)
    with pytest.raises(Conflict) as err:
        book(setup, org_a, hour=9, patient=registered_patient(org_a))
    assert err.value.code == "SLOT_TAKEN"


def test_department_queue_booking_without_a_practitioner(org_a, setup):
    department = setup["doctor"].department
    appointment = services.appointment_book(
        ctx=setup["desk"],
        patient_id=setup["patient"].id,
        department_id=department.id,
        start_at=local(org_a, setup["day"], 10),
    )
    assert appointment.practitioner_id is None
    assert appointment.department_id == department.id
    assert appointment.specialization == department.code


def test_booking_needs_the_permission(org_a, setup):
    from tests.scheduling.factories import staff_ctx

    with pytest.raises(Forbidden):
        services.appointment_book(
            ctx=staff_ctx(org_a, "pharmacist"),
            patient_id=setup["patient"].id,
            practitioner_id=setup["doctor"].id,
            start_at=local(org_a, setup["day"], 9),
        )


def test_check_conflict_answers_without_booking(org_a, setup):
    args = {"ctx": setup["desk"], "patient_id": setup["patient"].id, "practitioner_id": setup["doctor"].id}
    start = local(org_a, setup["day"], 9)
    assert services.check_conflict(start_at=start, **args).conflict is False
    assert not Appointment.objects.for_tenant(setup["desk"]).exists()
    book(setup, org_a, hour=9, patient=registered_patient(org_a))
    answer = services.check_conflict(start_at=start, **args)
    assert (answer.conflict, answer.code) == (True, "SLOT_TAKEN")
    answer = services.check_conflict(start_at=local(org_a, setup["day"], 7), **args)
    assert answer.code == "PRACTITIONER_UNAVAILABLE"


def test_free_slots_leave_out_booked_leave_and_past(org_a, setup):
    day = setup["day"]
    free = slots.slots_free(ctx=setup["desk"], practitioner_id=setup["doctor"].id, start_date=day, end_date=day)
    assert len(free) == 16
    assert free[0].start_at == local(org_a, day, 8)
    book(setup, org_a, hour=9)
    free = slots.slots_free(ctx=setup["desk"], practitioner_id=setup["doctor"].id, start_date=day, end_date=day)
    assert len(free) == 15
    assert local(org_a, day, 9) not in [s.start_at for s in free]
    from tests.scheduling.factories import admin_ctx

    workforce_services.leave_add(ctx=admin_ctx(org_a), practitioner_id=setup["doctor"].id, starts_on=day, ends_on=day)
    assert slots.slots_free(ctx=setup["desk"], practitioner_id=setup["doctor"].id, start_date=day, end_date=day) == []
    yesterday = day - dt.timedelta(days=2)
    assert (
        slots.slots_free(
            ctx=setup["desk"], practitioner_id=setup["doctor"].id, start_date=yesterday, end_date=yesterday
        )
        == []
    )


def test_free_slots_of_a_department(org_a, setup):
    colleague = practitioner(org_a, department=setup["doctor"].department)
    day = setup["day"]
    free = slots.slots_free(ctx=setup["desk"], department_id=colleague.department_id, start_date=day, end_date=day)
    assert {s.practitioner_id for s in free} == {colleague.id, setup["doctor"].id}


def test_free_slots_refuse_an_unbounded_range(org_a, setup):
    day = setup["day"]
    with pytest.raises(ValidationFailed):
        slots.slots_free(
            ctx=setup["desk"], practitioner_id=setup["doctor"].id, start_date=day, end_date=day + dt.timedelta(days=60)
        )


def test_idempotency_key_returns_the_first_booking_and_refuses_another_body(org_a, setup):
    first = book(setup, org_a, idempotency_key="k-1")
    again = book(setup, org_a, idempotency_key="k-1")
    assert again.id == first.id
    assert Appointment.objects.for_tenant(setup["desk"]).count() == 1
    with pytest.raises(Conflict) as err:
        book(setup, org_a, hour=10, idempotency_key="k-1")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"


def test_another_organization_cannot_see_or_move_the_appointment(org_a, org_b, setup):
    from phb.kernel.errors import NotFound

    appointment = book(setup, org_a)
    outsider = desk_ctx(org_b)
    with pytest.raises(NotFound):
        selectors.appointment_get(ctx=outsider, appointment_id=appointment.id)
    with pytest.raises(NotFound):
        services.appointment_transition(ctx=outsider, appointment_id=appointment.id, to_status="confirmed")
    assert list(selectors.appointment_list(ctx=outsider)) == []
