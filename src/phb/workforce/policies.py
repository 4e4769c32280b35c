"""Who may do what in the workforce. Seeing practitioners and their schedules: every member of staff
(reception books against them). Managing profiles: whoever manages staff (hospital administrators).
Availability, leave and closures: whoever manages staff, and the practitioner for their own."""

from __future__ import annotations

from phb.kernel.context import Ctx
from phb.workforce.models import PractitionerProfile

STAFF_MANAGE = "accounts.membership.manage"
STAFF_VIEW = "organizations.organization.view"  # every staff role holds it


def can_view(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and (ctx.has_perm(STAFF_VIEW) or ctx.has_perm(STAFF_MANAGE))


def can_manage_profiles(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and ctx.has_perm(STAFF_MANAGE)


def can_manage_schedule(ctx: Ctx, profile: PractitionerProfile) -> bool:
    """Availability, leave and closures: staff managers, and the practitioner themselves."""
    # SECURITY: a doctor changes their own schedule only, never a colleague's.
    return can_manage_profiles(ctx) or (
        ctx.organization_id == profile.organization_id and ctx.actor_id is not None and ctx.actor_id == profile.user_id
    )
