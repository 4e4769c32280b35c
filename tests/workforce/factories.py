"""Workforce for tests: contexts of staff with roles, and a bookable practitioner with the same window
on each of some weekdays."""

from __future__ import annotations

import datetime as dt
import itertools

from phb.accounts.roles import permissions_for
from phb.kernel.context import Ctx
from phb.workforce import services
from phb.workforce.models import PractitionerProfile
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.organizations.factories import DepartmentFactory

_LICENCE = itertools.count()


def staff_ctx(organization, *roles: str, user=None) -> Ctx:
    """A context for a (new, unless given) member of `organization` holding `roles`."""
    user = user or UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles))
    return Ctx(
        actor_id=user.id,
        organization_id=organization.id,
        roles=frozenset(roles),
        permissions=permissions_for(roles),
    )


def ctx_of(organization, user, *roles: str) -> Ctx:
    """The context of `user`, already a member of `organization`, acting with `roles`."""
    return Ctx(
        actor_id=user.id, organization_id=organization.id, roles=frozenset(roles), permissions=permissions_for(roles)
    )


def admin_ctx(organization) -> Ctx:
    return staff_ctx(organization, "hospital_admin")


def practitioner(
    organization,
    *,
    department=None,
    specialization: str = "cardiology",
    weekdays=range(7),
    starts_at: dt.time = dt.time(8, 0),
    ends_at: dt.time = dt.time(16, 0),
    slot_minutes: int = 30,
    max_daily_appointments: int = 16,
    break_starts_at: dt.time | None = None,
    break_ends_at: dt.time | None = None,
    offers_telemedicine: bool = False,
    user=None,
) -> PractitionerProfile:
    """A doctor of `organization` with a profile and the same window on each of `weekdays`."""
    user = user or UserFactory()
    staff_ctx(organization, "doctor", user=user)
    admin = admin_ctx(organization)
    department = department or DepartmentFactory(organization=organization)
    profile = services.practitioner_profile_create(
        ctx=admin,
        user_id=user.id,
        department_id=department.id,
        specialization=specialization,
        licence_number=f"MDCN-{next(_LICENCE):05d}",
        consultation_fee="5000.00",
        languages=["en", "yo"],
        offers_telemedicine=offers_telemedicine,
    )
    for weekday in weekdays:
        services.availability_add(
            ctx=admin,
            practitioner_id=profile.id,
            weekday=weekday,
            starts_at=starts_at,
            ends_at=ends_at,
            slot_minutes=slot_minutes,
            max_daily_appointments=max_daily_appointments,
            break_starts_at=break_starts_at,
            break_ends_at=break_ends_at,
        )
    return profile
