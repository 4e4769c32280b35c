"""A practitioner accepts a pending appointment: their own, or one waiting in their department's queue,
which becomes theirs. The department's pending queue lists what waits, the most urgent first."""

from __future__ import annotations

import pytest

from phb.accounts.models import User
from phb.kernel.errors import Conflict, NotFound
from phb.kernel.models import AuditEvent
from phb.scheduling import selectors, services
from phb.scheduling.models import Appointment, AppointmentReminder, AppointmentTransition
from tests.accounts.factories import verified_client
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow
from tests.workforce.factories import ctx_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(org_a):
    doctor = practitioner(org_a)
    user = User.objects.get(id=doctor.user_id)
    return {
        "desk": desk_ctx(org_a),
        "doctor": doctor,
        "user": user,
        "me": ctx_of(org_a, user, "doctor"),
        "day": tomorrow(org_a),
    }


def _book(org, ward, hour, *, mine=False, priority="normal", department=None):
    return services.appointment_book(
        ctx=ward["desk"],
        patient_id=registered_patient(org).id,
        practitioner_id=ward["doctor"].id if mine else None,
        department_id=None if mine else (department or ward["doctor"].department).id,
        start_at=local(org, ward["day"], hour),
        priority=priority,
    )


def _get(ward, appointment):
    return Appointment.objects.for_tenant(ward["desk"]).get(id=appointment.id)


def test_a_doctor_accepts_what_is_booked_with_them(org_a, ward):
    appointment = _book(org_a, ward, 9, mine=True)
    services.appointment_accept(ctx=ward["me"], appointment_id=appointment.id)
    assert _get(ward, appointment).status == "confirmed"
    last = AppointmentTransition.objects.for_tenant(ward["me"]).filter(appointment=appointment).latest("at")
    assert (last.from_status, last.to_status, last.actor_id) == ("pending", "confirmed", ward["user"].id)
    assert AuditEvent.objects.for_tenant(ward["me"]).filter(action="scheduling.appointment.accept", outcome="success")
    assert AppointmentReminder.objects.for_tenant(ward["me"]).filter(appointment=appointment).exists()


def test_a_doctor_takes_one_from_the_department_queue(org_a, ward):
    appointment = _book(org_a, ward, 10)
    assert appointment.practitioner_id is None
    services.appointment_accept(ctx=ward["me"], appointment_id=appointment.id)
    taken = _get(ward, appointment)
    assert (taken.status, taken.practitioner_id) == ("confirmed", ward["doctor"].id)


def test_another_doctors_or_another_departments_appointment_is_not_found(org_a, ward):
    colleague = practitioner(org_a, department=ward["doctor"].department)
    theirs = services.appointment_book(
        ctx=ward["desk"],
        patient_id=registered_patient(org_a).id,
        practitioner_id=colleague.id,
        start_at=local(org_a, ward["day"], 9),
    )
    elsewhere = _book(org_a, ward, 11, department=DepartmentFactory(organization=org_a))
    for appointment in (theirs, elsewhere):
        with pytest.raises(NotFound):
            services.appointment_accept(ctx=ward["me"], appointment_id=appointment.id)
        assert _get(ward, appointment).status == "pending"
    assert AuditEvent.objects.for_tenant(ward["me"]).filter(action="scheduling.appointment.accept", outcome="denied")


def test_the_desk_does_not_accept_and_a_confirmed_one_is_not_accepted_twice(org_a, ward):
    appointment = _book(org_a, ward, 9, mine=True)
    with pytest.raises(NotFound):
        services.appointment_accept(ctx=ward["desk"], appointment_id=appointment.id)
    services.appointment_accept(ctx=ward["me"], appointment_id=appointment.id)
    with pytest.raises(Conflict) as err:
        services.appointment_accept(ctx=ward["me"], appointment_id=appointment.id)
    assert err.value.code == "ILLEGAL_TRANSITION"


def test_a_doctor_busy_at_that_time_cannot_take_it(org_a, ward):
    _book(org_a, ward, 10, mine=True)
    waiting = _book(org_a, ward, 10)
    with pytest.raises(Conflict) as err:
        services.appointment_accept(ctx=ward["me"], appointment_id=waiting.id)
    assert err.value.code == "SLOT_TAKEN"
    unchanged = _get(ward, waiting)
    assert (unchanged.status, unchanged.practitioner_id) == ("pending", None)


def test_the_pending_queue_is_most_urgent_first_and_filters(org_a, ward):
    normal = _book(org_a, ward, 9)
    urgent = _book(org_a, ward, 11, priority="urgent")
    emergency = _book(org_a, ward, 12, priority="emergency")
    booked_with_me = _book(org_a, ward, 8, mine=True)
    department = ward["doctor"].department_id
    everything = selectors.pending_queue(ctx=ward["desk"], department_id=department)
    assert [a.id for a in everything] == [emergency.id, urgent.id, booked_with_me.id, normal.id]
    unassigned = selectors.pending_queue(ctx=ward["desk"], department_id=department, unassigned_only=True)
    assert [a.id for a in unassigned] == [emergency.id, urgent.id, normal.id]
    services.appointment_accept(ctx=ward["me"], appointment_id=emergency.id)
    assert emergency.id not in [a.id for a in selectors.pending_queue(ctx=ward["desk"], department_id=department)]


def test_the_api_lists_the_pending_queue_and_accepts(org_a, ward, member_client):
    waiting = _book(org_a, ward, 10)
    desk = member_client(org_a, "receptionist")
    response = desk.get(
        "/api/v1/appointments/pending/", {"department": str(ward["doctor"].department_id), "unassigned": "true"}
    )
    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()] == [str(waiting.id)]
    assert desk.get("/api/v1/appointments/pending/", {"department": "junk"}).status_code == 400
    assert desk.get("/api/v1/appointments/pending/", {"limit": "0"}).status_code == 400
    doctor = verified_client(ward["user"])
    accepted = doctor.post(f"/api/v1/appointments/{waiting.id}/accept/", {}, format="json")
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "confirmed"
    again = doctor.post(f"/api/v1/appointments/{waiting.id}/accept/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "ILLEGAL_TRANSITION")
    assert desk.post(f"/api/v1/appointments/{waiting.id}/accept/", {}, format="json").status_code == 404


def test_the_doctors_day_lists_the_department_queue_with_an_accept_button(org_a, ward):
    waiting = _book(org_a, ward, 10)
    client = verified_client(ward["user"])
    page = client.get("/staff/scheduling/day/")
    assert page.status_code == 200
    assert 'data-testid="unassigned"' in page.content.decode()
    response = client.post(f"/staff/scheduling/appointments/{waiting.id}/accept/")
    assert response.status_code == 302
    assert _get(ward, waiting).practitioner_id == ward["doctor"].id
