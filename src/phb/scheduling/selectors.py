"""Reads of appointments for staff of the organization: the list and one appointment with its history.

Appointments carry health data (the complaint, the symptoms, who sees whom): every read is audited,
and one refused is audited too. Another organization's appointment is "not found"."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.scheduling import policies, slots
from phb.scheduling.models import ACTIVE, Appointment, AppointmentStatus, AppointmentTransition, AppointmentType


@audit.reads_health_data
def appointment_list(
    *,
    ctx: Ctx,
    status: str = "",
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    on_date: dt.date | None = None,
) -> QuerySet[Appointment]:
    """Appointments of `ctx`'s organization, earliest first, filtered by whatever is given."""
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
    audit.record(
        ctx,
        "scheduling.appointment.list",
        read=True,
        status=status,
        practitioner=str(practitioner_id or ""),
        department=str(department_id or ""),
        on=on_date.isoformat() if on_date else "",
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
