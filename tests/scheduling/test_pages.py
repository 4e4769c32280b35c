"""Scheduling pages: reception (calendar, walk-in booking, check-in), the live queue, the doctor's day,
the appointments list and its CSV, and the patient's booking, list and cancel. Happy paths, the
missing role's 403, another organization's 404, form errors, and no 500 on junk."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.scheduling import services
from phb.scheduling.models import Appointment, AppointmentStatus
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx, local, practitioner, tomorrow

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def staff_client(org, *roles, user=None):
    user = user or UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user, Client())


@pytest.fixture
def world(org_a):
    doctor_user = UserFactory(full_name="Ada Doctor")
    doctor = practitioner(org_a, slot_minutes=20)
    # The practitioner factory made its own user; give the profile to a user we can sign in as.
    from phb.workforce.models import PractitionerProfile

    PractitionerProfile.objects.for_system(SYSTEM).filter(id=doctor.id).update(user=doctor_user)
    patient_user = UserFactory(email_verified_at=timezone.now())
    patient = make_patient(user=patient_user)
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    registration = register_at_desk(desk_ctx(org_a), patient)
    desk = desk_ctx(org_a)
    appointment = services.appointment_book(
        ctx=desk, patient_id=patient.id, practitioner_id=doctor.id, start_at=local(org_a, tomorrow(org_a), 9)
    )
    portal = Client()
    portal.force_login(patient_user)
    return {
        "org": org_a,
        "doctor": doctor,
        "patient": patient,
        "mrn": registration.mrn,
        "appointment": appointment,
        "desk": staff_client(org_a, "receptionist"),
        "clinician": staff_client(org_a, "doctor", user=doctor_user),
        "admin": staff_client(org_a, "hospital_admin"),
        "portal": portal,
    }


def _to_today(appointment):
    """A minute from now, or, within 21 minutes of the hospital's midnight, the 20 minutes before now:
    always today where the hospital is."""
    from zoneinfo import ZoneInfo

    from phb.kernel.models import Organization

    zone = ZoneInfo(Organization.objects.for_platform(SYSTEM).get(id=appointment.organization_id).timezone)
    now = timezone.now()
    start = now + dt.timedelta(minutes=1)
    if (start + dt.timedelta(minutes=20)).astimezone(zone).date() != now.astimezone(zone).date():
        start = now - dt.timedelta(minutes=21)
    Appointment.objects.for_system(SYSTEM).filter(id=appointment.id).update(
        start_at=start, end_at=start + dt.timedelta(minutes=20)
    )


def _status(appointment):
    return Appointment.objects.for_system(SYSTEM).get(id=appointment.id).status


def test_reception_checks_a_patient_in_and_the_doctor_starts_and_completes(world):
    _to_today(world["appointment"])
    page = world["desk"].get("/staff/scheduling/")
    assert page.status_code == 200
    assert world["patient"].family_name in page.content.decode()
    assert b"Check in" in page.content
    response = world["desk"].post(f"/staff/scheduling/appointments/{world['appointment'].id}/check-in/")
    assert response.status_code == 302
    assert _status(world["appointment"]) == AppointmentStatus.CHECKED_IN
    queue = world["desk"].get("/staff/scheduling/queue/", HTTP_HX_REQUEST="true")
    assert queue.status_code == 200
    assert b'hx-trigger="every 5s"' in queue.content
    assert world["patient"].family_name in queue.content.decode()
    day = world["clinician"].get("/staff/scheduling/day/")
    assert day.status_code == 200
    assert b"Start" in day.content
    url = f"/staff/scheduling/appointments/{world['appointment'].id}/"
    assert world["clinician"].post(url + "start/").status_code == 302
    assert _status(world["appointment"]) == AppointmentStatus.IN_PROGRESS
    assert world["clinician"].post(url + "complete/").status_code == 302
    assert _status(world["appointment"]) == AppointmentStatus.COMPLETED
    # Completing twice is refused with a message, not an error page.
    assert world["clinician"].post(url + "complete/").status_code == 302


def test_walk_in_booking_by_mrn_and_its_form_errors(world, org_a):
    desk = world["desk"]
    page = desk.get("/staff/scheduling/book/", {"practitioner": str(world["doctor"].id)})
    assert page.status_code == 200
    # A free slot on another day than the patient's appointment of tomorrow (late in the day, today's
    # slots are gone and the first free ones are tomorrow's: the same-specialty-same-day rule refuses).
    booked_on = world["appointment"].start_at.astimezone(ZoneInfo(org_a.timezone)).date()
    slot = next(
        value
        for value, _ in page.context["form"].fields["slot"].choices[1:]
        if dt.datetime.fromisoformat(value.partition("|")[2]).astimezone(ZoneInfo(org_a.timezone)).date() != booked_on
    )
    response = desk.post(
        "/staff/scheduling/book/",
        {"mrn": world["mrn"], "practitioner": str(world["doctor"].id), "slot": slot, "priority": "urgent"},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Appointment.objects.for_system(SYSTEM).filter(priority="urgent", patient=world["patient"]).exists()
    unknown = desk.post(
        "/staff/scheduling/book/", {"mrn": "NOPE", "practitioner": str(world["doctor"].id), "slot": slot}
    )
    assert unknown.status_code == 400
    assert "MRN" in unknown.content.decode()
    junk = desk.post(
        "/staff/scheduling/book/",
        {"mrn": world["mrn"], "practitioner": "junk", "slot": "x|y", "priority": "weird"},
    )
    assert junk.status_code == 400
    refreshed = desk.post(
        "/staff/scheduling/book/", {"practitioner": str(world["doctor"].id), "refresh": "1"}, HTTP_HX_REQUEST="true"
    )
    assert refreshed.status_code == 200
    assert b'id="booking"' in refreshed.content


def test_roles_and_organizations_are_kept_apart(world, org_b):
    appointment = world["appointment"]
    nurse = staff_client(world["org"], "nurse")  # a clinician who does not manage appointments
    for url in ("/staff/scheduling/", "/staff/scheduling/book/", "/staff/scheduling/appointments/"):
        assert nurse.get(url).status_code == 403
        assert world["admin"].get(url).status_code == 403
    assert world["admin"].get("/staff/scheduling/queue/").status_code == 403
    assert world["desk"].get("/staff/scheduling/day/").status_code == 403
    assert world["portal"].get("/staff/scheduling/").status_code == 403
    other_desk = staff_client(org_b, "receptionist")
    assert other_desk.post(f"/staff/scheduling/appointments/{appointment.id}/check-in/").status_code == 404
    other_doctor = staff_client(org_b, "doctor")
    assert other_doctor.post(f"/staff/scheduling/appointments/{appointment.id}/start/").status_code == 404
    assert world["clinician"].post(f"/staff/scheduling/appointments/{appointment.id}/junk/").status_code == 404
    assert other_desk.get("/staff/scheduling/").content.count(b'data-testid="appointment"') == 0
    assert Client().get("/staff/scheduling/queue/").status_code == 302  # to sign in


def test_no_500_on_junk(world):
    for url, params in (
        ("/staff/scheduling/", {"department": "junk"}),
        ("/staff/scheduling/queue/", {"department": "junk", "practitioner": "x"}),
        ("/staff/scheduling/appointments/", {"from_date": "junk", "status": "nope", "department": "x"}),
        ("/staff/scheduling/book/", {"practitioner": "junk", "patient": "junk"}),
    ):
        assert world["desk"].get(url, params).status_code in (200, 400)
    assert (
        world["portal"].get("/patient/appointments/book/", {"hospital": "junk", "department": "x"}).status_code == 200
    )
    assert world["portal"].post("/patient/appointments/book/", {"hospital": "junk", "slot": "a|b"}).status_code == 400


def test_the_appointments_list_filters_and_streams_an_audited_csv(world):
    desk = world["desk"]
    day = tomorrow(world["org"]).isoformat()
    page = desk.get("/staff/scheduling/appointments/", {"status": "pending", "from_date": day, "to_date": day})
    assert page.status_code == 200
    assert world["appointment"].reference in page.content.decode()
    assert desk.get("/staff/scheduling/appointments/", {"status": "completed"}).content.count(b"APT-") == 0
    bad = desk.get("/staff/scheduling/appointments/", {"from_date": day, "to_date": "2000-01-01"})
    assert bad.status_code == 400
    export = desk.get("/staff/scheduling/appointments/", {"export": "csv", "priority": "normal"})
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv"
    body = b"".join(export.streaming_content).decode()
    assert body.splitlines()[0].startswith("reference,start")
    assert world["appointment"].reference in body
    assert AuditEvent.objects.for_system(SYSTEM).filter(action="scheduling.appointment.export").exists()


def test_a_patient_books_sees_and_cancels_their_appointment(world, settings):
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 0  # the world's appointment is tomorrow; the cut-off has its own test
    portal, org = world["portal"], world["org"]
    page = portal.get("/patient/appointments/")
    assert page.status_code == 200
    assert world["appointment"].reference in page.content.decode()
    department = str(world["doctor"].department_id)
    form = portal.post(
        "/patient/appointments/book/", {"hospital": str(org.id), "department": department, "refresh": "1"}
    )
    assert form.status_code == 200
    choices = form.context["form"].fields["slot"].choices
    assert len(choices) > 1
    # The first free time on another day than the appointment already booked (same specialty, same day).
    slot = next(value for value, _ in choices[1:] if not value.split("|")[1].startswith(tomorrow(org).isoformat()))
    response = portal.post(
        "/patient/appointments/book/",
        {"hospital": str(org.id), "department": department, "slot": slot, "chief_complaint": "a cough"},
    )
    assert response.status_code == 302, response.context["form"].errors
    booked = Appointment.objects.for_system(SYSTEM).filter(patient=world["patient"]).exclude(id=world["appointment"].id)
    assert booked.get().chief_complaint == "a cough"
    # Booking the same time again is a form error, not a second appointment.
    again = portal.post(
        "/patient/appointments/book/", {"hospital": str(org.id), "department": department, "slot": slot}
    )
    assert again.status_code == 400
    cancel = portal.post(f"/patient/appointments/{world['appointment'].id}/cancel/")
    assert cancel.status_code == 302
    assert _status(world["appointment"]) == AppointmentStatus.CANCELLED
    assert portal.post(f"/patient/appointments/{world['appointment'].id}/cancel/").status_code == 302  # message


def test_a_patient_cannot_touch_another_patients_appointment_or_book_where_not_registered(world, org_b):
    stranger = Client()
    stranger_user = UserFactory(email_verified_at=timezone.now())
    other = make_patient(user=stranger_user)
    other.onboarded_at = timezone.now()
    other.save(update_fields=["onboarded_at"])
    stranger.force_login(stranger_user)
    assert stranger.post(f"/patient/appointments/{world['appointment'].id}/cancel/").status_code == 404
    assert world["appointment"].reference not in stranger.get("/patient/appointments/").content.decode()
    page = stranger.get("/patient/appointments/book/")
    assert b"once a hospital has registered you" in page.content
    refused = stranger.post(
        "/patient/appointments/book/",
        {"hospital": str(world["org"].id), "department": str(world["doctor"].department_id), "slot": "a|b"},
    )
    assert refused.status_code == 400
    assert Appointment.objects.for_system(SYSTEM).filter(patient=other).count() == 0


def test_the_reception_queue_and_list_pages_make_as_many_queries_for_three_appointments_as_for_one(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.scheduling.factories import registered_patient

    urls = ("/staff/scheduling/", "/staff/scheduling/queue/", "/staff/scheduling/appointments/")
    desk = desk_ctx(world["org"])

    def arrive(appointment, minutes):
        now = timezone.now()
        Appointment.objects.for_system(SYSTEM).filter(id=appointment.id).update(
            start_at=now + dt.timedelta(minutes=minutes), end_at=now + dt.timedelta(minutes=minutes + 20)
        )
        services.appointment_check_in(ctx=desk, appointment_id=appointment.id)

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert world["desk"].get(url).status_code == 200
        return len(captured)

    arrive(world["appointment"], 1)
    for url in urls:  # the first requests of a session do one-off work
        queries(url)
    before = [queries(url) for url in urls]
    for hour in (10, 11):
        more = services.appointment_book(
            ctx=desk,
            patient_id=registered_patient(world["org"]).id,
            practitioner_id=world["doctor"].id,
            start_at=local(world["org"], tomorrow(world["org"]), hour),
        )
        arrive(more, hour)
    assert [queries(url) for url in urls] == before
