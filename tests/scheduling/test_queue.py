"""The day's queue: who is called next (priority, then check-in time), the estimated waits from the
practitioner's recent consultations, and the queue API (404-free filters, 403 without a role, 400 on
junk, audited)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden
from phb.kernel.models import AuditEvent
from phb.scheduling import selectors, services
from phb.scheduling.models import Appointment, AppointmentTransition
from tests.scheduling.factories import admin_ctx, desk_ctx, local, practitioner, registered_patient, staff_ctx, tomorrow

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def _history():
    return AppointmentTransition.objects.for_system(SYSTEM)


def _arrive(org, desk, doctor, hour, minute=0, priority="normal"):
    appointment = services.appointment_book(
        ctx=desk,
        patient_id=registered_patient(org).id,
        practitioner_id=doctor.id,
        start_at=local(org, tomorrow(org), hour, minute),
        priority=priority,
    )
    services.appointment_transition(ctx=desk, appointment_id=appointment.id, to_status="confirmed")
    services.appointment_check_in(ctx=desk, appointment_id=appointment.id)
    return appointment


def _checked_in_at(appointment, at):
    _history().filter(appointment=appointment, to_status="checked_in").update(at=at)


@pytest.fixture
def clinic(org_a):
    doctor = practitioner(org_a, slot_minutes=30)
    return {"org": org_a, "desk": desk_ctx(org_a), "doctor": doctor, "clinician": staff_ctx(org_a, "doctor")}


def test_the_queue_is_ordered_by_priority_then_check_in_time(clinic):
    org, desk, doctor = clinic["org"], clinic["desk"], clinic["doctor"]
    early_normal = _arrive(org, desk, doctor, 9)
    late_urgent = _arrive(org, desk, doctor, 10, priority="urgent")
    late_normal = _arrive(org, desk, doctor, 8)
    emergency = _arrive(org, desk, doctor, 11, priority="emergency")
    now = timezone.now()
    _checked_in_at(early_normal, now - dt.timedelta(minutes=50))
    _checked_in_at(late_urgent, now - dt.timedelta(minutes=10))
    _checked_in_at(late_normal, now - dt.timedelta(minutes=5))
    _checked_in_at(emergency, now - dt.timedelta(minutes=1))
    entries = selectors.queue(ctx=desk, day=tomorrow(org))
    assert [e.appointment.id for e in entries] == [emergency.id, late_urgent.id, early_normal.id, late_normal.id]
    assert [e.position for e in entries] == [1, 2, 3, 4]
    # Nobody has been seen yet: the slot's 30 minutes per patient ahead.
    assert [e.estimated_wait_minutes for e in entries] == [0, 30, 60, 90]


def test_the_patient_being_seen_comes_first_and_the_wait_uses_the_median_of_recent_consultations(clinic):
    org, desk, doctor, clinician = clinic["org"], clinic["desk"], clinic["doctor"], clinic["clinician"]
    now = timezone.now()
    for hour, minutes in ((8, 10), (9, 12), (10, 50)):  # median 12 minutes
        done = _arrive(org, desk, doctor, hour)
        services.appointment_transition(ctx=clinician, appointment_id=done.id, to_status="in_progress")
        services.appointment_transition(ctx=clinician, appointment_id=done.id, to_status="completed")
        _history().filter(appointment=done, to_status="in_progress").update(at=now - dt.timedelta(minutes=minutes + 5))
        _history().filter(appointment=done, to_status="completed").update(at=now - dt.timedelta(minutes=5))
    seen = _arrive(org, desk, doctor, 11)
    services.appointment_transition(ctx=clinician, appointment_id=seen.id, to_status="in_progress")
    _history().filter(appointment=seen, to_status="in_progress").update(at=now - dt.timedelta(minutes=4))
    first, second = _arrive(org, desk, doctor, 12), _arrive(org, desk, doctor, 13)
    entries = selectors.queue(ctx=desk, practitioner_id=doctor.id, day=tomorrow(org))
    assert [e.appointment.id for e in entries] == [seen.id, first.id, second.id]
    assert [e.position for e in entries] == [0, 1, 2]
    assert [e.estimated_wait_minutes for e in entries] == [0, 8, 20]  # 12 - 4 elapsed, then + 12


def test_the_queue_filters_by_department_and_practitioner_and_keeps_other_organizations_out(clinic, org_b):
    org, desk, doctor = clinic["org"], clinic["desk"], clinic["doctor"]
    other = practitioner(org)
    mine = _arrive(org, desk, doctor, 9)
    theirs = _arrive(org, desk, other, 9)
    assert [e.appointment.id for e in selectors.queue(ctx=desk, practitioner_id=doctor.id, day=tomorrow(org))] == [
        mine.id
    ]
    by_department = selectors.queue(ctx=desk, department_id=other.department_id, day=tomorrow(org))
    assert [e.appointment.id for e in by_department] == [theirs.id]
    assert selectors.queue(ctx=desk_ctx(org_b), day=tomorrow(org)) == []
    assert selectors.queue(ctx=desk, day=tomorrow(org) + dt.timedelta(days=1)) == []


def test_a_role_without_appointments_may_not_see_the_queue(clinic):
    with pytest.raises(Forbidden):
        selectors.queue(ctx=admin_ctx(clinic["org"]))


@pytest.fixture
def api(org_a, member_client):
    desk = member_client(org_a, "receptionist")
    doctor = practitioner(org_a)
    ctx = desk_ctx(org_a)
    appointment = _arrive(org_a, ctx, doctor, 9, priority="urgent")
    # Move it to today (tests cannot book into the past, and today's free slots depend on the hour).
    now = timezone.now()
    Appointment.objects.for_system(SYSTEM).filter(id=appointment.id).update(
        start_at=now, end_at=now + dt.timedelta(minutes=30)
    )
    return {"desk": desk, "doctor": doctor, "appointment": appointment, "client": member_client}


def test_the_queue_api_lists_todays_queue_and_is_audited(api, org_a):
    response = api["desk"].get("/api/v1/appointments/queue/", {"practitioner": str(api["doctor"].id)})
    assert response.status_code == 200, response.json()
    [entry] = response.json()
    assert entry["appointment_id"] == str(api["appointment"].id)
    assert entry["position"] == 1
    assert entry["priority"] == "urgent"
    assert entry["estimated_wait_minutes"] == 0
    assert entry["checked_in_at"]
    assert AuditEvent.objects.for_system(SYSTEM).filter(action="scheduling.appointment.queue", outcome="success")
    clinician = api["client"](org_a, "nurse")
    assert clinician.get("/api/v1/appointments/queue/", {"department": str(api["doctor"].department_id)}).json()


def test_the_queue_api_refuses_junk_and_missing_roles(api, org_a, org_b):
    response = api["desk"].get("/api/v1/appointments/queue/", {"practitioner": "junk"})
    assert response.status_code == 400
    assert api["client"](org_a, "hospital_admin").get("/api/v1/appointments/queue/").status_code == 403
    assert api["client"](org_b, "receptionist").get("/api/v1/appointments/queue/").json() == []


def test_the_queue_api_and_page_take_a_day(clinic, member_client):
    org, desk, doctor = clinic["org"], clinic["desk"], clinic["doctor"]
    waiting = _arrive(org, desk, doctor, 9)  # tomorrow's
    client = member_client(org, "receptionist")
    assert client.get("/api/v1/appointments/queue/").json() == []  # today by default
    [entry] = client.get("/api/v1/appointments/queue/", {"day": tomorrow(org).isoformat()}).json()
    assert entry["appointment_id"] == str(waiting.id)
    assert entry["ticket"].endswith("-001")  # every check-in issues a ticket
    junk = client.get("/api/v1/appointments/queue/", {"day": "2026-13-45"})
    assert junk.status_code == 400
    assert junk.json()["errors"][0]["field"] == "day"
    event = AuditEvent.objects.for_system(SYSTEM).filter(action="scheduling.appointment.queue").latest("occurred_at")
    assert event.detail["on"] == tomorrow(org).isoformat()

    from django.test import Client

    from tests.accounts.factories import MembershipFactory, UserFactory, verified_client

    user = UserFactory()
    MembershipFactory(user=user, organization=org, roles=["receptionist"])
    page = verified_client(user, Client())
    shown = page.get("/staff/scheduling/queue/", {"day": tomorrow(org).isoformat()})
    assert shown.status_code == 200
    assert shown.content.count(b'data-testid="queue-entry"') == 1
    assert page.get("/staff/scheduling/queue/").content.count(b'data-testid="queue-entry"') == 0
    assert page.get("/staff/scheduling/queue/", {"day": "junk"}).status_code == 200  # today
