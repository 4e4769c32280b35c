"""Reads of appointments for staff of the organization: the list and one appointment with its history.

Appointments carry health data (the complaint, the symptoms, who sees whom): every read is audited,
and one refused is audited too. Another organization's appointment is "not found"."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import QuerySet

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.scheduling import policies, slots
from phb.scheduling.models import Appointment, AppointmentStatus, AppointmentTransition


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
