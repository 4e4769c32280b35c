"""Reminders: planned at booking, sent by the worker at 7 days, 2 days, 1 day and 2 hours before the
start, each exactly once, none after cancellation; the texts carry nothing clinical."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.notifications.models import Notification, NotificationDelivery
from phb.scheduling import reminders, services
from phb.scheduling.models import AppointmentReminder
from tests.accounts.factories import UserFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx, local, practitioner, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def booked(org_a):
    """A confirmed appointment ten days ahead for a patient with an account, an email and a phone."""
    desk = desk_ctx(org_a)
    patient = make_patient(user=UserFactory(), email="ada@example.org", phone="+2348031234567")
    register_at_desk(desk, patient)
    appointment = services.appointment_book(
        ctx=desk,
        patient_id=patient.id,
        practitioner_id=practitioner(org_a).id,
        start_at=local(org_a, tomorrow(org_a) + dt.timedelta(days=9), 9),
        chief_complaint="chest pain",
    )
    services.appointment_transition(ctx=desk, appointment_id=appointment.id, to_status="confirmed")
    return desk, patient, appointment


def _planned(ctx, appointment):
    return AppointmentReminder.objects.for_tenant(ctx).filter(appointment=appointment)


def _deliveries(template="appointment.reminder"):
    return NotificationDelivery.objects.filter(template_code=template)


def test_four_reminders_at_the_right_times_each_once(booked):
    desk, patient, appointment = booked
    start = appointment.start_at
    assert sorted(_planned(desk, appointment).values_list("offset_minutes", flat=True)) == [120, 1440, 2880, 10080]
    sent_at = []
    minute = dt.timedelta(minutes=1)
    # Walk the clock minute by minute around each due time, and run the worker twice each minute.
    for offset in (10080, 2880, 1440, 120):
        due = start - dt.timedelta(minutes=offset)
        for now in (due - minute, due, due + minute):
            for _ in range(2):
                if reminders.reminders_send_due(now=now)["sent"]:
                    sent_at.append(now)
    assert sent_at == [start - dt.timedelta(minutes=m) for m in (10080, 2880, 1440, 120)]
    assert reminders.reminders_send_due(now=start + dt.timedelta(days=1)) == {"sent": 0, "skipped": 0, "cancelled": 0}
    # In the application, by email and by SMS: four each, and nothing clinical in any of them.
    assert _deliveries().filter(channel="in_app").count() == 4
    assert _deliveries().filter(channel="email", status="sent").count() == 4
    assert _deliveries().filter(channel="sms", status="sent").count() == 4
    notes = Notification.objects.filter(user_id=patient.user_id)
    assert notes.count() == 4
    assert all(appointment.reference in n.body and "chest" not in n.body for n in notes)
    assert len(mail.outbox) == 4
    assert all("chest" not in m.body and appointment.reference in m.body for m in mail.outbox)


def test_no_reminder_after_cancellation(booked):
    desk, _, appointment = booked
    start = appointment.start_at
    assert reminders.reminders_send_due(now=start - dt.timedelta(days=7))["sent"] == 1
    services.appointment_transition(ctx=desk, appointment_id=appointment.id, to_status="cancelled", reason="away")
    for days in (2, 1):
        assert reminders.reminders_send_due(now=start - dt.timedelta(days=days))["sent"] == 0
    assert reminders.reminders_send_due(now=start - dt.timedelta(hours=2))["sent"] == 0
    assert _deliveries().filter(channel="in_app").count() == 1
    assert set(_planned(desk, appointment).values_list("status", flat=True)) == {"sent", "cancelled"}


def test_reminders_already_past_at_booking_are_not_planned(org_a):
    desk = desk_ctx(org_a)
    from tests.scheduling.factories import registered_patient

    appointment = services.appointment_book(
        ctx=desk,
        patient_id=registered_patient(org_a).id,
        practitioner_id=practitioner(org_a).id,
        start_at=local(org_a, tomorrow(org_a) + dt.timedelta(days=1), 9),
    )
    # The 48-hour reminder is past when the hospital's clock is after 09:00; none is before it.
    now = timezone.now()
    ahead = [m for m in (120, 1440, 2880) if appointment.start_at - dt.timedelta(minutes=m) > now]
    assert sorted(_planned(desk, appointment).values_list("offset_minutes", flat=True)) == ahead


def test_a_late_worker_sends_only_the_latest_overdue_reminder(booked):
    desk, _, appointment = booked
    counts = reminders.reminders_send_due(now=appointment.start_at - dt.timedelta(hours=23))
    assert counts == {"sent": 1, "skipped": 2, "cancelled": 0}
    assert _planned(desk, appointment).get(offset_minutes=1440).status == "sent"


def test_a_reminder_claimed_by_another_worker_is_not_sent_again(booked):
    desk, _, appointment = booked
    reminder = _planned(desk, appointment).get(offset_minutes=10080)
    system = Ctx.system(reason="test")
    AppointmentReminder.objects.for_system(system).filter(id=reminder.id).update(status="sent")
    assert reminders.reminders_send_due(now=reminder.due_at)["sent"] == 0
    assert not _deliveries().exists()


def test_a_failing_channel_is_recorded_and_the_others_go_out(booked, settings):
    settings.EMAIL_BACKEND = "tests.scheduling.test_reminders.BrokenEmail"
    _, _, appointment = booked
    reminders.reminders_send_due(now=appointment.start_at - dt.timedelta(days=7))
    email = _deliveries().get(channel="email")
    assert email.status == "failed"
    assert email.error_code.endswith("ConnectionRefusedError")
    assert _deliveries().get(channel="sms").status == "sent"


class BrokenEmail:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")
