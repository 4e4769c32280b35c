"""Appointment reminders: planned as rows when an appointment is booked or confirmed (7 days, 2 days,
1 day and 2 hours before its start; those already past are not planned), cancelled when it is
cancelled, rejected, missed, referred or moved, and sent by a task every minute.

Sending claims a reminder by moving it from planned to sent in one UPDATE; only the worker whose
UPDATE changed the row sends it, so two workers never send one reminder twice. (On PostgreSQL the
candidates are also read with SKIP LOCKED, so workers do not queue behind each other.) When the worker
was down and several reminders of one appointment are overdue, only the latest is sent."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import structlog
from django.db import connection, transaction
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.notifications.services import Recipient, notify
from phb.organizations.models import Department
from phb.patients.models import Patient
from phb.scheduling.models import (
    ACTIVE,
    REMINDER_OFFSETS,
    Appointment,
    AppointmentReminder,
    AppointmentType,
    ReminderStatus,
)

log = structlog.get_logger("phb.scheduling")


def reminders_plan(*, ctx: Ctx, appointment: Appointment, now: dt.datetime | None = None) -> int:
    """Plan the reminders of an appointment still to come; those already due are skipped, those
    already planned are kept. Returns how many were added. Runs in the caller's transaction."""
    now = now or timezone.now()
    reminders = AppointmentReminder.objects.for_tenant(ctx).filter(appointment=appointment)
    existing = set(reminders.values_list("offset_minutes", flat=True))
    new = [
        AppointmentReminder(
            organization_id=appointment.organization_id,
            appointment=appointment,
            offset_minutes=offset,
            due_at=appointment.start_at - dt.timedelta(minutes=offset),
        )
        for offset in REMINDER_OFFSETS
        if offset not in existing and appointment.start_at - dt.timedelta(minutes=offset) > now
    ]
    AppointmentReminder.objects.for_tenant(ctx).bulk_create(new)
    return len(new)


def reminders_cancel(*, ctx: Ctx, appointment: Appointment) -> int:
    """Cancel the reminders not sent yet. Runs in the caller's transaction."""
    return (
        AppointmentReminder.objects.for_tenant(ctx)
        .filter(appointment=appointment, status=ReminderStatus.PLANNED)
        .update(status=ReminderStatus.CANCELLED, updated_at=timezone.now())
    )


def _place(appointment: Appointment, organization: Organization, department: Department) -> str:
    if appointment.kind == AppointmentType.TELEMEDICINE:
        return f"{organization.name} (video call: open the appointment in PHB)"
    return f"{organization.name}, {department.name}"


def appointment_message(appointment: Appointment) -> tuple[Recipient, dict[str, str]]:
    """Who the patient of `appointment` is reached at, and the placeholders of a message about it:
    its reference, its local time and its place. Nothing clinical."""
    system = Ctx.system(reason="address a notification about an appointment")
    organization = Organization.objects.for_platform(system).get(id=appointment.organization_id)
    department = Department.objects.for_tenant(system.for_organization(organization.id)).get(
        id=appointment.department_id
    )
    patient = Patient.objects.select_related("user").get(id=appointment.patient_id)
    local = appointment.start_at.astimezone(ZoneInfo(organization.timezone))
    recipient = Recipient(
        ref=f"patient:{patient.id}",
        user_id=patient.user_id,
        email=patient.email or (patient.user.email if patient.user is not None else ""),
        phone=patient.phone,
    )
    context = {
        "reference": appointment.reference,
        "when": local.strftime("%A %d %B %Y, %H:%M"),
        "place": _place(appointment, organization, department),
    }
    return recipient, context


def reminders_send_due(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Send every reminder that is due (scheduled every minute). Returns counts by outcome."""
    now = now or timezone.now()
    system = Ctx.system(reason="send appointment reminders")
    counts = {"sent": 0, "skipped": 0, "cancelled": 0}
    due = AppointmentReminder.objects.for_system(system).filter(status=ReminderStatus.PLANNED, due_at__lte=now)
    with transaction.atomic():
        candidates = due.order_by("due_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        batch = list(candidates.values_list("id", "appointment_id", "offset_minutes")[:limit])
    latest: dict[uuid.UUID, int] = {}
    for _, appointment_id, offset in batch:
        latest[appointment_id] = min(offset, latest.get(appointment_id, offset))
    for reminder_id, appointment_id, offset in batch:
        counts[_send_one(system, reminder_id, appointment_id, offset, latest[appointment_id], now)] += 1
    return counts


def _send_one(
    system: Ctx, reminder_id: uuid.UUID, appointment_id: uuid.UUID, offset: int, latest: int, now: dt.datetime
) -> str:
    with transaction.atomic():
        appointment = Appointment.objects.for_system(system).filter(id=appointment_id).first()
        if appointment is None or appointment.status not in ACTIVE or appointment.start_at <= now:
            outcome, status = "cancelled", ReminderStatus.CANCELLED
        elif offset != latest:
            outcome, status = "skipped", ReminderStatus.SKIPPED  # a later reminder of it goes out now
        else:
            outcome, status = "sent", ReminderStatus.SENT
        # SECURITY: the claim. Only the worker whose update moves the row from planned sends it.
        claimed = (
            AppointmentReminder.objects.for_system(system)
            .filter(id=reminder_id, status=ReminderStatus.PLANNED)
            .update(status=status, sent_at=now if outcome == "sent" else None, updated_at=timezone.now())
        )
        if not claimed:
            return "skipped"
        if outcome == "sent":
            assert appointment is not None
            ctx = system.for_organization(appointment.organization_id)
            recipient, context = appointment_message(appointment)
            notify(ctx=ctx, recipient=recipient, template_code="appointment.reminder", context=context)
            audit.record(
                ctx,
                "scheduling.reminder.send",
                resource_type="scheduling.AppointmentReminder",
                resource_id=reminder_id,
                patient_id=appointment.patient_id,
                appointment=str(appointment.id),
                offset_minutes=offset,
            )
            log.info("scheduling.reminder_sent", reminder=str(reminder_id), offset_minutes=offset)
    return outcome
