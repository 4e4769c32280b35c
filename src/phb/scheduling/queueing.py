"""The day's waiting queue, computed: who is being seen, who waits, in which order, for how long, and
by which ticket they are called. No permission check and no audit here: `selectors.queue` adds both
for staff (it returns patients' names); the waiting-room display uses it without loading any patient."""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from dataclasses import dataclass

from django.utils import timezone

from phb.kernel.context import Ctx
from phb.scheduling import slots
from phb.scheduling.models import Appointment, AppointmentStatus, AppointmentTransition, Priority, QueueTicket

PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.URGENT: 1, Priority.NORMAL: 2}
RECENT_CONSULTATIONS = 20


@dataclass(frozen=True)
class QueueEntry:
    """One patient in the queue: `position` 0 while being seen, then 1, 2, ... in the order called;
    `ticket` is the number they are called by (empty when checked in without one)."""

    appointment: Appointment
    position: int
    checked_in_at: dt.datetime | None
    estimated_wait_minutes: int
    ticket: str = ""


def consultation_minutes(*, ctx: Ctx, practitioner_id: uuid.UUID) -> float | None:
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


def today(ctx: Ctx) -> dt.date:
    """Today in the organization's time zone."""
    return timezone.now().astimezone(slots.organization_zone(ctx)).date()


def queue_entries(
    *,
    ctx: Ctx,
    department_id: uuid.UUID | None = None,
    practitioner_id: uuid.UUID | None = None,
    day: dt.date | None = None,
    with_patients: bool = True,
) -> list[QueueEntry]:
    """Who is waiting (checked in) and who is being seen (in progress) on `day` (today by default), in
    the order they will be called: priority (emergency, urgent, normal), then check-in time. Each
    waiting patient's estimated wait adds up the expected consultations ahead of them with the same
    practitioner: the median of the practitioner's recent ones, or the slot's length when none.
    Without `with_patients`, no patient row is read (`appointment.patient` must not be touched)."""
    zone = slots.organization_zone(ctx)
    day = day or timezone.now().astimezone(zone).date()
    start, end = slots.local_day_bounds(day, zone)
    appointments = Appointment.objects.for_tenant(ctx).filter(
        status__in=[AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS],
        start_at__gte=start,
        start_at__lt=end,
    )
    if with_patients:
        appointments = appointments.select_related("patient")
    if practitioner_id:
        appointments = appointments.filter(practitioner_id=practitioner_id)
    if department_id:
        appointments = appointments.filter(department_id=department_id)
    rows = list(appointments)
    ids = [a.id for a in rows]
    checked_in: dict[uuid.UUID, dt.datetime] = {}
    started: dict[uuid.UUID, dt.datetime] = {}
    changes = (
        AppointmentTransition.objects.for_tenant(ctx)
        .filter(appointment_id__in=ids, to_status__in=[AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_PROGRESS])
        .order_by("at")
        .values_list("appointment_id", "to_status", "at")
    )
    for appointment_id, to_status, at in changes if ids else ():
        (checked_in if to_status == AppointmentStatus.CHECKED_IN else started)[appointment_id] = at
    tickets = dict(
        QueueTicket.objects.for_tenant(ctx).filter(appointment_id__in=ids).values_list("appointment_id", "code")
        if ids
        else ()
    )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def order(a: Appointment) -> tuple[int, int, dt.datetime, dt.datetime]:
        being_seen = 0 if a.status == AppointmentStatus.IN_PROGRESS else 1
        return being_seen, PRIORITY_RANK.get(a.priority, 9), checked_in.get(a.id, far), a.start_at

    rows.sort(key=order)
    medians = {
        pid: consultation_minutes(ctx=ctx, practitioner_id=pid) for pid in {a.practitioner_id for a in rows} if pid
    }
    now = timezone.now()
    ahead: dict[uuid.UUID | None, float] = {}  # minutes of work ahead, per practitioner
    entries: list[QueueEntry] = []
    position = 0
    for a in rows:
        length = medians.get(a.practitioner_id) if a.practitioner_id else None
        length = length if length is not None else (a.end_at - a.start_at).total_seconds() / 60
        ticket = tickets.get(a.id, "")
        if a.status == AppointmentStatus.IN_PROGRESS:
            elapsed = (now - started.get(a.id, now)).total_seconds() / 60
            ahead[a.practitioner_id] = ahead.get(a.practitioner_id, 0) + max(length - elapsed, 0)
            entries.append(QueueEntry(a, 0, checked_in.get(a.id), 0, ticket))
            continue
        position += 1
        wait = ahead.get(a.practitioner_id, 0)
        entries.append(QueueEntry(a, position, checked_in.get(a.id), round(wait), ticket))
        ahead[a.practitioner_id] = wait + length
    return entries
