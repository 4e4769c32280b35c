"""Who may do what in scheduling. Reading appointments: desk staff who manage them, and clinicians who
see records. Booking: desk staff who manage them. (Practitioners' profiles and schedules: the
workforce's policies.)"""

from __future__ import annotations

from phb.kernel.context import Ctx

MANAGE = "scheduling.appointment.manage"
CHECK_IN = "scheduling.appointment.check_in"
# Kiosks are equipment of the hospital's premises: whoever manages its departments registers them.
KIOSK_MANAGE = "organizations.department.manage"


def can_read_appointments(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and (ctx.has_perm(MANAGE) or ctx.has_perm("clinical.record.view"))


def can_book(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and ctx.has_perm(MANAGE)


def can_check_in(ctx: Ctx) -> bool:
    """Desk staff, and an enrolled check-in kiosk (which may do nothing else)."""
    return ctx.organization_id is not None and ctx.has_perm(CHECK_IN)


def can_manage_kiosks(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and ctx.has_perm(KIOSK_MANAGE)
