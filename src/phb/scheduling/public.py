"""What other apps may use of scheduling."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from phb.kernel.context import Ctx
from phb.patients.public import registered_patient_ids
from phb.scheduling.models import Appointment, AppointmentStatus
from phb.scheduling.policies import can_read_appointments
from phb.scheduling.slots import MAX_RANGE_DAYS, SLOT_VIEW, SlotStatus, slots_of_schedule

__all__ = [
    "MAX_RANGE_DAYS",
    "SLOT_VIEW",
    "Appointment",
    "AppointmentStatus",
    "SlotStatus",
    "appointments_visible",
    "slots_of_schedule",
]


def appointments_visible(ctx: Ctx) -> QuerySet[Any]:
    """The appointments of `ctx`'s organization that `ctx` may list, as `appointment_list` decides
    (`policies.can_read_appointments`); a system client (its scopes checked by the caller)
    those of patients registered here. Not audited: the caller records what it returns.

    SECURITY: another organization's appointment is simply absent."""
    if ctx.organization_id is None:
        return Appointment.objects.none()
    rows = Appointment.objects.for_tenant(ctx)
    if ctx.is_client and ctx.has_perm("scheduling.appointment.view"):
        return rows.filter(patient_id__in=registered_patient_ids(ctx))
    if not ctx.is_client and can_read_appointments(ctx):
        return rows
    return Appointment.objects.none()
