"""Reads of organizations, departments and their calendars (opening hours, public holidays), scoped to
what the context may see."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import QuerySet

from phb.accounts.public import member_organization_ids
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.organizations import policies
from phb.organizations.models import Department, OpeningHours, PublicHoliday


def organization_list(*, ctx: Ctx) -> QuerySet[Organization]:
    """Every organization for a platform operator; one's own organizations for anybody else."""
    if ctx.has_perm("platform.organizations.view"):
        return Organization.objects.for_platform(ctx)
    return Organization.objects.for_member(ctx, organization_ids=member_organization_ids(ctx=ctx))


def organization_get(*, ctx: Ctx, organization_id: uuid.UUID) -> Organization:
    """One organization visible to `ctx`; another's is NotFound (existence is not leaked)."""
    organization = organization_list(ctx=ctx).filter(id=organization_id).first()
    if organization is None:
        raise NotFound("no such organization")
    return organization


def department_list(*, ctx: Ctx) -> QuerySet[Department]:
    return Department.objects.for_tenant(ctx).filter(is_active=True)


def _calendar_readable(ctx: Ctx) -> None:
    if not policies.can_view_calendar(ctx):
        raise Forbidden("the organization's calendar is for its staff")


def opening_hours_list(*, ctx: Ctx) -> QuerySet[OpeningHours]:
    """`ctx`'s organization's opening hours, Monday first; empty when it has set none (not bounded)."""
    _calendar_readable(ctx)
    return OpeningHours.objects.for_tenant(ctx).order_by("weekday", "opens_at")


def holiday_list(
    *, ctx: Ctx, from_date: dt.date | None = None, to_date: dt.date | None = None
) -> QuerySet[PublicHoliday]:
    """`ctx`'s organization's public holidays, earliest first, between the dates given (inclusive)."""
    _calendar_readable(ctx)
    if from_date and to_date and to_date < from_date:
        raise ValidationFailed.field("to_date", "the range ends before it starts")
    holidays = PublicHoliday.objects.for_tenant(ctx)
    if from_date:
        holidays = holidays.filter(observed_on__gte=from_date)
    if to_date:
        holidays = holidays.filter(observed_on__lte=to_date)
    return holidays.order_by("observed_on")
