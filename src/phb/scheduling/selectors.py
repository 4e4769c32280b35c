"""Reads of appointments for staff of the organization: the list, one appointment with its history, and
the day's waiting queue with estimated waits.

Appointments carry health data (the complaint, the symptoms, who sees whom): every read is audited,
and one refused is audited too. Another organization's appointment is "not found"."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, QuerySet, Value, When
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.public import my_patient
from phb.scheduling import policies, queueing, slots
from phb.scheduling.models import (
    ACTIVE,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    AppointmentType,
    Priority,
)
from phb.scheduling.queueing import QueueEntry


@audit.reads_health_data
def appointment_list(
    *,
    ctx: Ctx,
    status: str = "",
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    on_date: dt.date | None = None,
    from_date: dt.date | None = None,
    to_date: dt.date | None = None,
    priority: str = "",
) -> QuerySet[Appointment]:
    """Appointments of `ctx`'s organization, earliest first, filtered by whatever is given (dates are
    the organization's local dates; `to_date` is inclusive)."""
    if not policies.can_read_appointments(ctx):
        raise audit.denied(
            ctx, "scheduling.appointment.list", Forbidden("seeing appointments needs a scheduling or clinical role")
        )
    appointments = Appointment.objects.for_tenant(ctx).select_related("patient")
    if status:
        if status not in AppointmentStatus.values:
            raise ValidationFailed.field("status", "unknown status")
        appointments = appointments.filter(status=status)
    if practitioner_id:
        appointments = appointments.filter(practitioner_id=practitioner_id)
    if department_id:
        appointments = appointments.filter(department_id=department_id)
    if on_date:
        start, end = slots.local_day_bounds(on_date, slots.organization_zone(ctx))
        appointments = appointments.filter(start_at__gte=start, start_at__lt=end)
    if priority:
        if priority not in Priority.values:
            raise ValidationFailed.field("priority", "unknown priority")
        appointments = appointments.filter(priority=priority)
    if from_date or to_date:
        zone = slots.organization_zone(ctx)
        if from_date and to_date and to_date < from_date:
            raise ValidationFailed.field("to_date", "the range ends before it starts")
        if from_date:
            appointments = appointments.filter(start_at__gte=slots.local_day_bounds(from_date, zone)[0])
        if to_date:
            appointments = appointments.filter(start_at__lt=slots.local_day_bounds(to_date, zone)[1])
    audit.record(
        ctx,
        "scheduling.appointment.list",
        read=True,
        status=status,
        practitioner=str(practitioner_id or ""),
        department=str(department_id or ""),
        on=on_date.isoformat() if on_date else "",
        from_date=from_date.isoformat() if from_date else "",
        to_date=to_date.isoformat() if to_date else "",
        priority=priority,
    )
    return appointments.order_by("start_at", "id")


@audit.reads_health_data
def appointment_get(*, ctx: Ctx, appointment_id: uuid.UUID) -> tuple[Appointment, list[AppointmentTransition]]:
    """One appointment of `ctx`'s organization and its status history, oldest change first."""
    action = "scheduling.appointment.view"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    appointment = Appointment.objects.for_tenant(ctx).select_related("patient").filter(id=appointment_id).first()
    if appointment is None:
        # SECURITY: another organization's appointment is indistinguishable from one that does not exist.
        raise audit.denied(ctx, action, NotFound("no such appointment here"), appointment=str(appointment_id))
    history = list(AppointmentTransition.objects.for_tenant(ctx).filter(appointment=appointment).order_by("at", "id"))
    audit.record(ctx, action, target=appointment, patient_id=appointment.patient_id, read=True)
    return appointment, history


# --------------------------------------------------------------------------------------------------
# Waiting for a practitioner, waiting in the queue
# --------------------------------------------------------------------------------------------------


# Emergency first, then urgent, then normal.
_PRIORITY_ORDER = Case(
    *(When(priority=p, then=Value(rank)) for rank, p in enumerate(reversed(Priority.values))),
    default=Value(len(Priority.values)),
)


@audit.reads_health_data
def pending_queue(
    *, ctx: Ctx, department_id: uuid.UUID | None = None, unassigned_only: bool = False, limit: int = 200
) -> list[Appointment]:
    """Pending appointments still to come (from the start of today) that wait for a practitioner to
    accept them, the most urgent first, then the earliest: of one department, or of every department.
    `unassigned_only`: only those booked to the department's queue, with no practitioner named."""
    action = "scheduling.appointment.pending_queue"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, Forbidden("seeing appointments needs a scheduling or clinical role"))
    if not 1 <= limit <= 500:
        raise ValidationFailed.field("limit", "between 1 and 500")
    zone = slots.organization_zone(ctx)
    today, _ = slots.local_day_bounds(timezone.now().astimezone(zone).date(), zone)
    pending = (
        Appointment.objects.for_tenant(ctx)
        .select_related("patient")
        .filter(status=AppointmentStatus.PENDING, start_at__gte=today)
    )
    if department_id:
        pending = pending.filter(department_id=department_id)
    if unassigned_only:
        pending = pending.filter(practitioner__isnull=True)
    rows = list(pending.order_by(_PRIORITY_ORDER, "start_at", "id")[:limit])
    audit.record(
        ctx,
        action,
        read=True,
        department=str(department_id or ""),
        unassigned_only=unassigned_only,
        count=len(rows),
    )
    return rows


@audit.reads_health_data
def queue(
    *,
    ctx: Ctx,
    department_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    day: dt.date | None = None,
) -> list[QueueEntry]:
    """Who is waiting (checked in) and who is being seen (in progress) on `day` (today by default), in
    the order they will be called, with their tickets and estimated waits (`queueing.queue_entries`)."""
    action = "scheduling.appointment.queue"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, Forbidden("seeing the queue needs a scheduling or clinical role"))
    day = day or queueing.today(ctx)
    entries = queueing.queue_entries(ctx=ctx, department_id=department_id, practitioner_id=practitioner_id, day=day)
    audit.record(
        ctx,
        action,
        read=True,
        practitioner=str(practitioner_id or ""),
        department=str(department_id or ""),
        on=day.isoformat(),
        count=len(entries),
    )
    return entries


@audit.reads_health_data
def my_appointments(*, ctx: Ctx) -> list[Appointment]:
    """The signed-in patient's own appointments at every hospital, latest first."""
    patient = my_patient(ctx)
    if patient is None:
        raise audit.denied(ctx, "scheduling.appointment.list", NotFound("no patient record is linked to this account"))
    system = Ctx.system(reason="a patient lists their own appointments")
    appointments = list(
        Appointment.objects.for_system(system).filter(patient_id=patient.id).order_by("-start_at", "id")[:200]
    )
    audit.record(ctx, "scheduling.appointment.list", patient_id=patient.id, read=True, by_patient=True)
    return appointments


@dataclass(frozen=True)
class MeetingLink:
    url: str
    opens_at: dt.datetime
    closes_at: dt.datetime


@audit.reads_health_data
def telemedicine_link_get(*, ctx: Ctx, appointment_id: uuid.UUID, now: dt.datetime | None = None) -> MeetingLink:
    """The meeting link of a telemedicine appointment, for its patient or its practitioner, from
    `TELEMEDICINE_OPENS_MINUTES_BEFORE` its start until its end; before or after, TELEMEDICINE_NOT_OPEN."""
    action = "scheduling.telemedicine.view"
    system = Ctx.system(reason="find a telemedicine appointment for its patient or practitioner")
    appointment = (
        Appointment.objects.for_system(system)
        .select_related("patient", "practitioner")
        .filter(id=appointment_id, kind=AppointmentType.TELEMEDICINE)
        .first()
    )
    # SECURITY: only the two people in the call see the link; to anyone else it does not exist.
    is_patient = appointment is not None and ctx.actor_id is not None and appointment.patient.user_id == ctx.actor_id
    is_practitioner = (
        appointment is not None
        and appointment.practitioner is not None
        and ctx.actor_id == appointment.practitioner.user_id
        and ctx.organization_id == appointment.organization_id
    )
    if appointment is None or not (is_patient or is_practitioner):
        raise audit.denied(ctx, action, NotFound("no such telemedicine appointment"), appointment=str(appointment_id))
    opens_at = appointment.start_at - dt.timedelta(minutes=settings.TELEMEDICINE_OPENS_MINUTES_BEFORE)
    now = now or timezone.now()
    if appointment.status not in ACTIVE or not opens_at <= now < appointment.end_at:
        raise audit.denied(
            ctx,
            action,
            Conflict(
                "the call is not open now",
                code="TELEMEDICINE_NOT_OPEN",
                opens_at=opens_at.isoformat(),
                closes_at=appointment.end_at.isoformat(),
            ),
            appointment=str(appointment_id),
        )
    audit.record(
        ctx,
        action,
        target=appointment,
        patient_id=appointment.patient_id,
        organization_id=appointment.organization_id,
        read=True,
    )
    return MeetingLink(url=appointment.meeting_url, opens_at=opens_at, closes_at=appointment.end_at)
