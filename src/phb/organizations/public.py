"""What other apps may use of organizations: the calendar (opening hours, public holidays) as the
derivation of slots and the booking check read it, and the services and selectors behind its API and
pages."""

from typing import Any

from django.db.models import QuerySet

from phb.kernel.context import Ctx
from phb.organizations.calendar import Interval, OrganizationCalendar, calendar_load
from phb.organizations.holidays import nigerian_public_holidays
from phb.organizations.models import Department, Weekday
from phb.organizations.policies import can_manage_calendar, can_view_calendar
from phb.organizations.selectors import holiday_list, opening_hours_list
from phb.organizations.services import holiday_add, holiday_remove, holidays_add_known, opening_hours_set

__all__ = [
    "Interval",
    "OrganizationCalendar",
    "Weekday",
    "calendar_load",
    "can_manage_calendar",
    "can_view_calendar",
    "holiday_add",
    "holiday_list",
    "holiday_remove",
    "holidays_add_known",
    "nigerian_public_holidays",
    "opening_hours_list",
    "opening_hours_set",
]


# --- the organization's places as other systems see them (the FHIR API's Location and Group) -------


def departments_visible(ctx: Ctx) -> QuerySet[Any]:
    """The departments of `ctx`'s organization (a directory: no health data), for anyone who may view
    the organization. SECURITY: another organization's department is simply absent."""
    if ctx.organization_id is None or not ctx.has_perm("organizations.organization.view"):
        return Department.objects.none()
    return Department.objects.for_tenant(ctx)


__all__ += ["Department", "departments_visible"]
