"""What other apps may use of the workforce: the practitioner's profile (booking locks its row and
appointments point at it), the schedules that free slots and bookings are checked against, and whose
profile a member of staff has."""

from phb.workforce.models import PractitionerProfile
from phb.workforce.schedule import (
    Schedule,
    Window,
    daily_maximum,
    schedule_load,
    unavailability,
    window_parts,
    window_slots,
    windows_of_day,
)
from phb.workforce.selectors import practitioner_of_user, user_names

__all__ = [
    "PractitionerProfile",
    "Schedule",
    "Window",
    "daily_maximum",
    "practitioner_of_user",
    "schedule_load",
    "unavailability",
    "user_names",
    "window_parts",
    "window_slots",
    "windows_of_day",
]


# --- the workforce as other systems see it (the FHIR API) -----------------------------------------
from typing import Any

from django.db.models import QuerySet

from phb.kernel.context import Ctx


def practitioners_visible(ctx: Ctx) -> QuerySet[Any]:
    """The practitioner profiles of `ctx`'s organization (a directory: no health data), with their user
    and department, for anyone who may view the organization."""
    if ctx.organization_id is None or not ctx.has_perm("organizations.organization.view"):
        return PractitionerProfile.objects.none()
    return PractitionerProfile.objects.for_tenant(ctx).select_related("user", "department")


__all__ += ["practitioners_visible"]


def schedules_visible(ctx: Ctx) -> QuerySet[Any]:
    """The practitioners' profiles of `ctx`'s organization that have weekly availability windows (a
    bookable calendar), for anyone who may view the organization."""
    from phb.workforce.models import WeeklyAvailability

    rows = practitioners_visible(ctx)
    if ctx.organization_id is None:
        return rows
    return rows.filter(id__in=WeeklyAvailability.objects.for_tenant(ctx).values("practitioner_id"))


__all__ += ["schedules_visible"]
