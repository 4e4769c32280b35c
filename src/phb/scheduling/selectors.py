"""Reads of appointments for staff of the organization: the list, one appointment with its history, and
the day's waiting queue with estimated waits.

Appointments carry health data (the complaint, the symptoms, who sees whom): every read is audited,
and one refused is audited too. Another organization's appointment is "not found"."""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.public import my_patient
from phb.scheduling import policies, slots
from phb.scheduling.models import (
    ACTIVE,
    Appointment,
    AppointmentStatus,
    AppointmentTransition,
    AppointmentType,
    Priority,
)


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
# The waiting queue
# --------------------------------------------------------------------------------------------------

PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.URGENT: 1, Priority.NORMAL: 2}
RECENT_CONSULTATIONS = 20


@dataclass(frozen=True)
class QueueEntry:
    """One patient in the queue: `position` 0 while being seen, then 1, 2, ... in the order called."""

    appointment: Appointment
    position: int
    checked_in_at: dt.datetime | None
    estimated_wait_minutes: int


def _consultation_minutes(*, ctx: Ctx, practitioner_id: uuid.UUID) -> float | None:
    """The median length (minutes) of the practitioner's last 20 consultations, from start to
    completion; None when they have completed none."""
    history = AppointmentTransition.objects.for_tenant(ctx)
    completed = list(
        history.filter(appointment__practitioner_id=practitioner_id, to_status=AppointmentStatus.COMPLETED)
        .order_by("-at")
        .values_list("appointment_id", "at")[:RECENT_CONSULTATIONS]
    )
    started = dict(
        history.filter(
            appointment_id__in=[a for a, _ in completed], to_status=AppointmentStatus.IN_PROGRESS
        ).values_list("appointment_id", "at")
    )
    durations = [(at - started[a]).total_seconds() / 60 for a, at in completed if a in started and at >= started[a]]
    return statistics.median(durations) if durations else None


@audit.reads_health_data
def queue(
    *,
    ctx: Ctx,
    department_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    day: dt.date | None = None,
) -> list[QueueEntry]:
    """Who is waiting (checked in) and who is being seen (in progress) on `day` (today by default), in
    the order they will be called: priority (emergency, urgent, normal), then check-in time. Each
    waiting patient's estimated wait adds up the expected consultations ahead of them with the same
    practitioner: the median of the practitioner's recent ones, or the slot's length when none."""
    action = "scheduling.appointment.queue"
    if not policies.can_read_appointments(ctx):
        raise audit.denied(ctx, action, Forbidden("seeing the queue needs a scheduling or clinical role"))
    zone = slots.organization_zone(ctx)
    day = day or timezone.now().astimezone(zone).date()
    start, end = slots.local_day_bounds(day, zone)
    appointments = (
        Appointment.objects.for_tenant(ctx)
        .select_related("patient")
        .filter(
            status__in=[AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS],
            start_at__gte=start,
            start_at__lt=end,
        )
    )
    if practitioner_id:
        appointments = appointments.filter(practitioner_id=practitioner_id)
    if department_id:
        appointments = appointments.filter(department_id=department_id)
    rows = list(appointments)
    checked_in = dict(
        AppointmentTransition.objects.for_tenant(ctx)
        .filter(appointment_id__in=[a.id for a in rows], to_status=AppointmentStatus.CHECKED_IN)
        .order_by("at")
        .values_list("appointment_id", "at")
    )
    started = dict(
        AppointmentTransition.objects.for_tenant(ctx)
        .filter(appointment_id__in=[a.id for a in rows], to_status=AppointmentStatus.IN_PROGRESS)
        .order_by("at")
        .values_list("appointment_id", "at")
    )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def order(a: Appointment) -> tuple[int, int, dt.datetime, dt.datetime]:
        being_seen = 0 if a.status == AppointmentStatus.IN_PROGRESS else 1
        return being_seen, PRIORITY_RANK.get(a.priority, 9), checked_in.get(a.id, far), a.start_at

    rows.sort(key=order)
    medians = {
        pid: _consultation_minutes(ctx=ctx, practitioner_id=pid) for pid in {a.practitioner_id for a in rows} if pid
    }
    now = timezone.now()
    ahead: dict[uuid.UUID | None, float] = {}  # minutes of work ahead, per practitioner
    entries: list[QueueEntry] = []
    position = 0
    for a in rows:
        length = medians.get(a.practitioner_id) if a.practitioner_id else None
        length = length if length is not None else (a.end_at - a.start_at).total_seconds() / 60
        if a.status == AppointmentStatus.IN_PROGRESS:
            elapsed = (now - started.get(a.id, now)).total_seconds() / 60
            ahead[a.practitioner_id] = ahead.get(a.practitioner_id, 0) + max(length - elapsed, 0)
            entries.append(QueueEntry(a, 0, checked_in.get(a.id), 0))
            continue
        position += 1
        wait = ahead.get(a.practitioner_id, 0)
        entries.append(QueueEntry(a, position, checked_in.get(a.id), round(wait)))
        ahead[a.practitioner_id] = wait + length
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
