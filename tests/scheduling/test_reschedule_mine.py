"""A patient moves their own appointment: in the service (ownership through their own record, the
cut-off, the booking rules, the history kept), over the API (`/api/v1/me/appointments/`) and in the
portal. Someone else's appointment is not found; too late is a clear refusal; a taken slot a conflict."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.scheduling import services
from phb.scheduling.models import Appointment, AppointmentTransition
from tests.accounts.factories import UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow
from tests.scheduling.frontdesk import SYSTEM, status_of

pytestmark = pytest.mark.django_db


def _patient_with_account(org):
    user = UserFactory(email_verified_at=timezone.now())
    patient = make_patient(user=user)
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    register_at_desk(desk_ctx(org), patient)
    return user, patient


@pytest.fixture
def mine(org_a, settings):
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 24
    department = DepartmentFactory(organization=org_a, code="cardiology")
    doctor = practitioner(org_a, department=department)
    colleague = practitioner(org_a, department=department)
    user, patient = _patient_with_account(org_a)
    day = tomorrow(org_a) + dt.timedelta(days=3)
    appointment = services.appointment_book(
        ctx=desk_ctx(org_a),
        patient_id=patient.id,
        practitioner_id=doctor.id,
        start_at=local(org_a, day, 9),
        chief_complaint="a cough",
    )
    return {
        "org": org_a,
        "doctor": doctor,
        "colleague": colleague,
        "user": user,
        "patient": patient,
        "me": Ctx(actor_id=user.id),
        "day": day,
        "appointment": appointment,
    }


def _history(appointment):
    return list(AppointmentTransition.objects.for_system(SYSTEM).filter(appointment=appointment).order_by("at"))


# --- the service -----------------------------------------------------------------------------------------


def test_a_patient_moves_their_own_appointment_and_the_history_is_kept(mine):
    org, old = mine["org"], mine["appointment"]
    new = services.appointment_reschedule(
        ctx=mine["me"], appointment_id=old.id, new_start=local(org, mine["day"], 10), as_patient=True
    )
    assert status_of(old) == "rescheduled"
    assert Appointment.objects.for_system(SYSTEM).get(id=old.id).rescheduled_to_id == new.id
    assert (new.status, new.practitioner_id, new.chief_complaint) == ("pending", mine["doctor"].id, "a cough")
    assert new.start_at == local(org, mine["day"], 10)
    last = _history(old)[-1]
    assert (last.from_status, last.to_status, last.actor_id) == ("pending", "rescheduled", mine["user"].id)
    event = AuditEvent.objects.for_system(SYSTEM).get(action="scheduling.appointment.reschedule", outcome="success")
    assert (event.actor_id, event.organization_id, event.purpose_of_use) == (mine["user"].id, org.id, "PATRQT")
    # Another practitioner of the same department is allowed.
    again = services.appointment_reschedule(
        ctx=mine["me"],
        appointment_id=new.id,
        new_start=local(org, mine["day"], 11),
        practitioner_id=mine["colleague"].id,
        as_patient=True,
    )
    assert again.practitioner_id == mine["colleague"].id


def test_someone_elses_appointment_is_not_found(mine):
    stranger, _patient = _patient_with_account(mine["org"])
    new_start = local(mine["org"], mine["day"], 10)
    with pytest.raises(NotFound):
        services.appointment_reschedule(
            ctx=Ctx(actor_id=stranger.id), appointment_id=mine["appointment"].id, new_start=new_start, as_patient=True
        )
    with pytest.raises(NotFound):  # an account with no patient record
        services.appointment_reschedule(
            ctx=Ctx(actor_id=UserFactory().id),
            appointment_id=mine["appointment"].id,
            new_start=new_start,
            as_patient=True,
        )
    with pytest.raises(NotFound):  # the staff path is not the patient's
        services.appointment_reschedule(ctx=mine["me"], appointment_id=mine["appointment"].id, new_start=new_start)
    assert status_of(mine["appointment"]) == "pending"
    assert AuditEvent.objects.for_system(SYSTEM).filter(action="scheduling.appointment.reschedule", outcome="denied")


def test_past_the_cut_off_the_patient_is_told_to_call(mine):
    appointment = mine["appointment"]
    with pytest.raises(Conflict) as err:
        services.appointment_reschedule(
            ctx=mine["me"],
            appointment_id=appointment.id,
            new_start=local(mine["org"], mine["day"], 10),
            as_patient=True,
            now=appointment.start_at - dt.timedelta(hours=23),
        )
    assert err.value.code == "RESCHEDULE_CUTOFF_PASSED"
    assert "24 hours" in err.value.detail
    assert dt.datetime.fromisoformat(err.value.extra["cutoff_at"]) == appointment.start_at - dt.timedelta(hours=24)
    assert status_of(appointment) == "pending"


def test_a_taken_slot_another_department_and_a_finished_appointment_are_refused(mine):
    org, appointment = mine["org"], mine["appointment"]
    taken = local(org, mine["day"], 11)
    services.appointment_book(
        ctx=desk_ctx(org), patient_id=registered_patient(org).id, practitioner_id=mine["doctor"].id, start_at=taken
    )
    with pytest.raises(Conflict) as err:
        services.appointment_reschedule(ctx=mine["me"], appointment_id=appointment.id, new_start=taken, as_patient=True)
    assert err.value.code == "SLOT_TAKEN"
    elsewhere = practitioner(org)  # another department
    with pytest.raises(ValidationFailed):
        services.appointment_reschedule(
            ctx=mine["me"],
            appointment_id=appointment.id,
            new_start=local(org, mine["day"], 10),
            practitioner_id=elsewhere.id,
            as_patient=True,
        )
    assert status_of(appointment) == "pending"
    services.appointment_cancel_mine(ctx=mine["me"], appointment_id=appointment.id, reason="changed my mind")
    with pytest.raises(Conflict) as err:
        services.appointment_reschedule(
            ctx=mine["me"], appointment_id=appointment.id, new_start=local(org, mine["day"], 10), as_patient=True
        )
    assert err.value.code == "ILLEGAL_TRANSITION"


# --- the API ---------------------------------------------------------------------------------------------


def test_the_me_api_lists_offers_times_and_moves(mine):
    api = verified_client(mine["user"])
    listing = api.get("/api/v1/me/appointments/")
    assert listing.status_code == 200
    [row] = listing.json()
    assert row["reference"] == mine["appointment"].reference
    assert "notes" not in row
    url = f"/api/v1/me/appointments/{mine['appointment'].id}/"
    day = mine["day"].isoformat()
    offered = api.get(url + "slots/", {"start_date": day, "end_date": day})
    assert offered.status_code == 200
    assert {s["practitioner_id"] for s in offered.json()} == {str(mine["doctor"].id)}
    anyone = api.get(url + "slots/", {"start_date": day, "end_date": day, "anyone": "true"}).json()
    assert {s["practitioner_id"] for s in anyone} == {str(mine["doctor"].id), str(mine["colleague"].id)}
    moved = api.post(url + "reschedule/", {"start_at": offered.json()[2]["start_at"]}, format="json")
    assert moved.status_code == 201, moved.json()
    assert moved.json()["status"] == "pending"
    assert status_of(mine["appointment"]) == "rescheduled"


def test_the_me_api_refuses_others_late_taken_and_junk(mine, settings):
    org = mine["org"]
    url = f"/api/v1/me/appointments/{mine['appointment'].id}/"
    stranger, _patient = _patient_with_account(org)
    other = verified_client(stranger)
    start = local(org, mine["day"], 10).isoformat()
    assert other.post(url + "reschedule/", {"start_at": start}, format="json").status_code == 404
    assert other.get(url + "slots/").status_code == 404
    api = verified_client(mine["user"])
    assert api.post(url + "reschedule/", {"start_at": "junk"}, format="json").status_code == 400
    assert api.post(url + "reschedule/", {}, format="json").status_code == 400
    assert api.post("/api/v1/me/appointments/junk/reschedule/", {"start_at": start}, format="json").status_code == 404
    assert api.get(url + "slots/", {"start_date": "2030-01-10", "end_date": "2030-01-01"}).status_code == 400
    services.appointment_book(
        ctx=desk_ctx(org),
        patient_id=registered_patient(org).id,
        practitioner_id=mine["doctor"].id,
        start_at=local(org, mine["day"], 10),
    )
    taken = api.post(url + "reschedule/", {"start_at": start}, format="json")
    assert (taken.status_code, taken.json()["code"]) == (409, "SLOT_TAKEN")
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 24 * 30
    late = api.post(url + "reschedule/", {"start_at": local(org, mine["day"], 11).isoformat()}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "RESCHEDULE_CUTOFF_PASSED")


# --- the portal ------------------------------------------------------------------------------------------


def test_the_portal_offers_new_times_and_moves_the_appointment(mine):
    portal = Client()
    portal.force_login(mine["user"])
    listing = portal.get("/patient/appointments/")
    url = f"/patient/appointments/{mine['appointment'].id}/reschedule/"
    assert url.encode() in listing.content
    page = portal.get(url)
    assert page.status_code == 200
    choices = page.context["form"].fields["slot"].choices[1:]
    assert choices
    assert all(value.startswith(str(mine["doctor"].id)) for value, _ in choices)
    # Anyone in the department: the form reloads with their times too.
    refreshed = portal.post(url, {"practitioner": "", "refresh": "1"}, HTTP_HX_REQUEST="true")
    assert refreshed.status_code == 200
    assert b'id="booking"' in refreshed.content
    values = [value for value, _ in refreshed.context["form"].fields["slot"].choices[1:]]
    assert any(value.startswith(str(mine["colleague"].id)) for value in values)
    # A time on the appointment's own day when the offered window reaches it (it moves with the hour the
    # suite runs at), else the first time offered.
    slot = next((value for value, _ in choices if mine["day"].isoformat() in value), choices[0][0])
    moved = portal.post(url, {"practitioner": str(mine["doctor"].id), "slot": slot})
    assert moved.status_code == 302, moved.context["form"].errors
    assert status_of(mine["appointment"]) == "rescheduled"
    assert portal.get(url).status_code == 302  # no longer changeable: back to the list, with a message


def test_the_portal_refuses_others_junk_and_late(mine, settings):
    url = f"/patient/appointments/{mine['appointment'].id}/reschedule/"
    stranger_user, _patient = _patient_with_account(mine["org"])
    stranger = Client()
    stranger.force_login(stranger_user)
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, {"slot": "x"}).status_code == 404
    portal = Client()
    portal.force_login(mine["user"])
    junk = portal.post(url, {"practitioner": "junk", "slot": "a|b"})
    assert junk.status_code == 400
    assert status_of(mine["appointment"]) == "pending"
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 24 * 30
    late = portal.get(url, follow=True)
    assert b"can no longer be changed online" in late.content
    assert Client().get(url).status_code == 302  # to sign in
