"""Rescheduling, referral, the patient's own cancellation before the cut-off, missed appointments
marked by the worker, and telemedicine links shown only while the call is open."""

from __future__ import annotations

import datetime as dt

import pytest

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.patients import consents
from phb.scheduling import selectors, services
from phb.scheduling.models import Appointment, AppointmentReminder, AppointmentTransition
from tests.accounts.factories import UserFactory
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org_a):
    desk = desk_ctx(org_a)
    user = UserFactory()
    patient = make_patient(user=user)
    register_at_desk(desk, patient)
    doctor = practitioner(org_a)
    day = tomorrow(org_a) + dt.timedelta(days=3)
    appointment = services.appointment_book(
        ctx=desk, patient_id=patient.id, practitioner_id=doctor.id, start_at=local(org_a, day, 9)
    )
    return {
        "desk": desk,
        "patient": patient,
        "me": Ctx(actor_id=user.id),
        "doctor": doctor,
        "day": day,
        "apt": appointment,
    }


def _get(ctx, appointment_id):
    return Appointment.objects.for_tenant(ctx).get(id=appointment_id)


def test_reschedule_books_the_new_slot_links_the_old_and_moves_reminders(org_a, world):
    desk, old = world["desk"], world["apt"]
    new = services.appointment_reschedule(ctx=desk, appointment_id=old.id, new_start=local(org_a, world["day"], 9, 30))
    old = _get(desk, old.id)
    assert old.status == "rescheduled"
    assert old.rescheduled_to_id == new.id
    assert new.status == "pending"
    history = AppointmentTransition.objects.for_tenant(desk).filter(appointment=old).order_by("at")
    assert [t.to_status for t in history] == ["pending", "rescheduled"]
    reminders = AppointmentReminder.objects.for_tenant(desk)
    assert set(reminders.filter(appointment=old).values_list("status", flat=True)) == {"cancelled"}
    assert reminders.filter(appointment=new, status="planned").count() == 3
    assert {r.due_at for r in reminders.filter(appointment=new)} == {
        new.start_at - dt.timedelta(minutes=m) for m in (2880, 1440, 120)
    }


def test_reschedule_refuses_the_past_and_a_taken_slot_and_writes_nothing(org_a, world):
    desk, old = world["desk"], world["apt"]
    with pytest.raises(ValidationFailed) as err:
        services.appointment_reschedule(
            ctx=desk, appointment_id=old.id, new_start=local(org_a, world["day"], 9) - dt.timedelta(days=30)
        )
    assert err.value.code == "IN_THE_PAST"
    services.appointment_book(
        ctx=desk,
        patient_id=registered_patient(org_a).id,
        practitioner_id=world["doctor"].id,
        start_at=local(org_a, world["day"], 10),
    )
    with pytest.raises(Conflict) as err:
        services.appointment_reschedule(ctx=desk, appointment_id=old.id, new_start=local(org_a, world["day"], 10))
    assert err.value.code == "SLOT_TAKEN"
    assert _get(desk, old.id).status == "pending"
    assert Appointment.objects.for_tenant(desk).count() == 2


def test_refer_within_the_organization_queues_a_request(org_a, world):
    desk, old = world["desk"], world["apt"]
    target = DepartmentFactory(organization=org_a)
    with pytest.raises(ValidationFailed):
        services.appointment_refer(ctx=desk, appointment_id=old.id, to_department_id=target.id, reason=" ")
    new = services.appointment_refer(ctx=desk, appointment_id=old.id, to_department_id=target.id, reason="needs ENT")
    assert _get(desk, old.id).status == "referred"
    assert (new.referred_from_id, new.practitioner_id, new.department_id, new.status) == (
        old.id,
        None,
        target.id,
        "pending",
    )
    # A referral waiting in a queue is not a missed appointment.
    assert services.no_shows_mark(now=new.start_at + dt.timedelta(hours=3)) == 0


def test_refer_to_another_organization_needs_consent_and_a_registration(org_a, org_b, world):
    desk, old = world["desk"], world["apt"]
    target = DepartmentFactory(organization=org_b)
    refer = lambda: services.appointment_refer(  # noqa: E731
        ctx=desk, appointment_id=old.id, to_department_id=target.id, to_organization_id=org_b.id, reason="surgery"
    )
    with pytest.raises(Conflict) as err:
        refer()
    assert err.value.code == "CONSENT_REQUIRED"
    consents.consent_grant(
        ctx=world["me"],
        patient_id=world["patient"].id,
        kind="sharing",
        version="1",
        to_organization_id=org_b.id,
        categories=["all"],
    )
    with pytest.raises(Conflict) as err:
        refer()
    assert err.value.code == "PATIENT_NOT_REGISTERED"
    register_at_desk(desk_ctx(org_b), world["patient"])
    new = refer()
    assert new.organization_id == org_b.id
    assert _get(desk, old.id).status == "referred"


def test_a_patient_cancels_until_the_cutoff_and_not_someone_elses(org_a, world, settings):
    old = world["apt"]
    with pytest.raises(NotFound):
        services.appointment_cancel_mine(ctx=Ctx(actor_id=UserFactory().id), appointment_id=old.id, reason="x")
    with pytest.raises(Conflict) as err:
        services.appointment_cancel_mine(
            ctx=world["me"], appointment_id=old.id, reason="x", now=old.start_at - dt.timedelta(hours=23)
        )
    assert err.value.code == "CANCELLATION_CUTOFF_PASSED"
    cancelled = services.appointment_cancel_mine(ctx=world["me"], appointment_id=old.id, reason="travelling")
    assert cancelled.status == "cancelled"
    history = AppointmentTransition.objects.for_tenant(world["desk"]).filter(appointment=old, to_status="cancelled")
    assert history.get().actor_id == world["me"].actor_id


def test_the_worker_marks_missed_appointments_as_a_system_transition(org_a, world, settings):
    desk, old = world["desk"], world["apt"]
    services.appointment_transition(ctx=desk, appointment_id=old.id, to_status="confirmed")
    assert services.no_shows_mark(now=old.start_at + dt.timedelta(minutes=29)) == 0
    assert services.no_shows_mark(now=old.start_at + dt.timedelta(minutes=31)) == 1
    assert services.no_shows_mark(now=old.start_at + dt.timedelta(minutes=32)) == 0
    last = AppointmentTransition.objects.for_tenant(desk).filter(appointment=old).order_by("-at").first()
    assert (last.to_status, last.actor_id) == ("no_show", None)
    assert "30 minutes" in last.reason


def test_a_telemedicine_link_only_for_the_two_in_the_call_and_only_while_open(org_a, world):
    desk = world["desk"]
    doctor = practitioner(org_a, specialization="dermatology")
    video = services.appointment_book(
        ctx=desk,
        patient_id=world["patient"].id,
        practitioner_id=doctor.id,
        start_at=local(org_a, world["day"], 11),
        kind="telemedicine",
    )
    stored = _get(desk, video.id)
    assert stored.meeting_url.startswith("https://meet.jit.si/phb-")
    assert len(stored.meeting_url.removeprefix("https://meet.jit.si/phb-")) == 32
    with pytest.raises(Conflict) as err:
        selectors.telemedicine_link_get(ctx=world["me"], appointment_id=video.id)
    assert err.value.code == "TELEMEDICINE_NOT_OPEN"
    assert dt.datetime.fromisoformat(err.value.extra["opens_at"]) == video.start_at - dt.timedelta(minutes=15)
    link = selectors.telemedicine_link_get(
        ctx=world["me"], appointment_id=video.id, now=video.start_at - dt.timedelta(minutes=15)
    )
    assert link.url == stored.meeting_url
    doctor_ctx = Ctx(actor_id=doctor.user_id, organization_id=org_a.id)
    assert selectors.telemedicine_link_get(ctx=doctor_ctx, appointment_id=video.id, now=video.start_at).url == link.url
    with pytest.raises(Conflict):
        selectors.telemedicine_link_get(ctx=world["me"], appointment_id=video.id, now=video.end_at)
    with pytest.raises(NotFound):
        selectors.telemedicine_link_get(ctx=desk, appointment_id=video.id, now=video.start_at)
