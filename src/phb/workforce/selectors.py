"""Reads of the workforce for staff of the organization: practitioners (with their names), and one
practitioner's weekly windows, leave and closures. None of it is health data; another organization's
practitioner is "not found"."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import QuerySet

from phb.accounts.models import Membership, User
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound
from phb.workforce import policies
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability


def _readable(ctx: Ctx) -> None:
    if not policies.can_view(ctx):
        raise Forbidden("seeing practitioners needs a staff role here")


def practitioner_list(
    *,
    ctx: Ctx,
    department_id: uuid.UUID | None = None,
    specialization: str = "",
    active: bool | None = True,
    telemedicine: bool | None = None,
) -> QuerySet[PractitionerProfile]:
    """The organization's practitioners matching every filter given, by specialization then id."""
    _readable(ctx)
    profiles = PractitionerProfile.objects.for_tenant(ctx)
    if department_id:
        profiles = profiles.filter(department_id=department_id)
    if specialization.strip():
        profiles = profiles.filter(specialization__iexact=specialization.strip())
    if active is not None:
        profiles = profiles.filter(is_active=active)
    if telemedicine is not None:
        profiles = profiles.filter(offers_telemedicine=telemedicine)
    return profiles.order_by("specialization", "id")


def practitioner_get(*, ctx: Ctx, practitioner_id: uuid.UUID) -> PractitionerProfile:
    """One practitioner of `ctx`'s organization, active or not."""
    _readable(ctx)
    profile = PractitionerProfile.objects.for_tenant(ctx).filter(id=practitioner_id).first()
    if profile is None:
        # SECURITY: another organization's practitioner is indistinguishable from none.
        raise NotFound("no such practitioner here")
    return profile


def practitioner_of_user(*, ctx: Ctx, user_id: uuid.UUID | None = None) -> PractitionerProfile | None:
    """The active profile of a member of staff (by default `ctx`'s actor) here, if they have one."""
    user_id = user_id or ctx.actor_id
    if user_id is None or ctx.organization_id is None:
        return None
    return PractitionerProfile.objects.for_tenant(ctx).filter(user_id=user_id, is_active=True).first()


def user_names(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Full names of users (staff are named on timetables; a name is no health data)."""
    return dict(User.objects.filter(id__in=user_ids).values_list("id", "full_name"))


@dataclass(frozen=True)
class PractitionerSchedule:
    """One practitioner's weekly windows (by weekday, then start), leave and closures that have not
    ended (earliest first)."""

    profile: PractitionerProfile
    windows: list[WeeklyAvailability]
    leave: list[Leave]
    closures: list[Closure]


def availability_list(*, ctx: Ctx, practitioner_id: uuid.UUID) -> list[WeeklyAvailability]:
    profile = practitioner_get(ctx=ctx, practitioner_id=practitioner_id)
    return list(
        WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner=profile).order_by("weekday", "starts_at")
    )


def leave_list(*, ctx: Ctx, practitioner_id: uuid.UUID, from_date: dt.date | None = None) -> list[Leave]:
    """The practitioner's leave, earliest first; with `from_date`, only what has not ended before it."""
    profile = practitioner_get(ctx=ctx, practitioner_id=practitioner_id)
    leave = Leave.objects.for_tenant(ctx).filter(practitioner=profile)
    if from_date:
        leave = leave.filter(ends_on__gte=from_date)
    return list(leave.order_by("starts_on"))


def closure_list(*, ctx: Ctx, practitioner_id: uuid.UUID, from_at: dt.datetime | None = None) -> list[Closure]:
    """The practitioner's closures, earliest first; with `from_at`, only what has not ended by then."""
    profile = practitioner_get(ctx=ctx, practitioner_id=practitioner_id)
    closures = Closure.objects.for_tenant(ctx).filter(practitioner=profile)
    if from_at:
        closures = closures.filter(ends_at__gt=from_at)
    return list(closures.order_by("starts_at"))


def practitioner_schedule(
    *, ctx: Ctx, practitioner_id: uuid.UUID, today: dt.date, now: dt.datetime
) -> PractitionerSchedule:
    """Everything the schedule editor shows of one practitioner: leave from `today`, closures from `now`."""
    profile = practitioner_get(ctx=ctx, practitioner_id=practitioner_id)
    return PractitionerSchedule(
        profile=profile,
        windows=list(
            WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner=profile).order_by("weekday", "starts_at")
        ),
        leave=list(
            Leave.objects.for_tenant(ctx).filter(practitioner=profile, ends_on__gte=today).order_by("starts_on")
        ),
        closures=list(
            Closure.objects.for_tenant(ctx).filter(practitioner=profile, ends_at__gt=now).order_by("starts_at")
        ),
    )


def staff_without_profile(*, ctx: Ctx) -> list[tuple[uuid.UUID, str]]:
    """(user id, name) of the organization's active members of staff who are not practitioners yet."""
    if not policies.can_manage_profiles(ctx):
        raise Forbidden("managing practitioners needs the staff manager's permission")
    with_profile = PractitionerProfile.objects.for_tenant(ctx).values_list("user_id", flat=True)
    user_ids = list(
        Membership.objects.for_tenant(ctx)
        .filter(is_active=True)
        .exclude(user_id__in=with_profile)
        .values_list("user_id", flat=True)
    )
    names = user_names(user_ids)
    return sorted(((u, names.get(u, "")) for u in user_ids), key=lambda row: row[1])
