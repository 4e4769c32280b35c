"""Who may do what to organizations and departments.

Visibility is decided by the selectors' scopes (an organization one may not see is not found);
these answer the "may they change it" questions.
"""

from __future__ import annotations

from phb.kernel.context import Ctx


def can_create_organization(ctx: Ctx) -> bool:
    return ctx.has_perm("platform.organizations.manage")


CALENDAR_VIEW = "organizations.organization.view"
CALENDAR_MANAGE = "organizations.organization.update"


def can_view_calendar(ctx: Ctx) -> bool:
    """Opening hours and public holidays: every member of staff of the organization."""
    return ctx.organization_id is not None and (ctx.has_perm(CALENDAR_VIEW) or ctx.has_perm(CALENDAR_MANAGE))


def can_manage_calendar(ctx: Ctx) -> bool:
    """Changing them: whoever may change the organization (its administrators)."""
    return ctx.organization_id is not None and ctx.has_perm(CALENDAR_MANAGE)
