"""Who may do what in scheduling. Reading appointments: desk staff who manage them, and clinicians who
see records. Managing practitioners' profiles, availability and leave: whoever manages staff; a
practitioner also keeps their own availability and leave."""

from __future__ import annotations

from phb.kernel.context import Ctx
from phb.scheduling.models import PractitionerProfile

MANAGE = "scheduling.appointment.manage"
CHECK_IN = "scheduling.appointment.check_in"
STAFF_MANAGE = "accounts.membership.manage"
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


def can_manage_profiles(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and ctx.has_perm(STAFF_MANAGE)


def can_manage_schedule(ctx: Ctx, profile: PractitionerProfile) -> bool:
    """Availability and leave: staff managers, and the practitioner themselves."""
    return can_manage_profiles(ctx) or (ctx.actor_id is not None and ctx.actor_id == profile.user_id)
