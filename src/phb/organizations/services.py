"""Writes of organizations, departments and their calendars. Each service is one transaction and
validates first."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization, OrganizationType
from phb.organizations import events, policies
from phb.organizations.models import Department, DepartmentKind, OpeningHours, PublicHoliday, Weekday

STANDARD_DEPARTMENTS = [
    DepartmentKind.EMERGENCY,
    DepartmentKind.SURGERY,
    DepartmentKind.PAEDIATRICS,
    DepartmentKind.OBSTETRICS_GYNAECOLOGY,
    DepartmentKind.INTERNAL_MEDICINE,
    DepartmentKind.CARDIOLOGY,
    DepartmentKind.ORTHOPAEDICS,
    DepartmentKind.RADIOLOGY,
    DepartmentKind.LABORATORY,
    DepartmentKind.PHARMACY,
    DepartmentKind.ICU,
    DepartmentKind.OUTPATIENTS,
]


def _validated(obj: Any, *, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise ValidationFailed(
            "The organization has invalid fields.",
            errors=[{"field": f, "message": m, "code": "invalid"} for f, ms in exc.message_dict.items() for m in ms],
        ) from exc


def organization_create(
    *,
    ctx: Ctx,
    name: str,
    kind: str,
    code: str,
    parent_id: uuid.UUID | None = None,
    registration_number: str | None = None,
    **fields: Any,
) -> Organization:
    """Onboard a tenant. Platform operators only. A parent must be a network."""
    from phb.kernel import events as kernel_events

    if not policies.can_create_organization(ctx):
        raise Forbidden("only platform operators create organizations")
    parent = None
    if parent_id is not None:
        parent = Organization.objects.for_platform(ctx).filter(id=parent_id).first()
        if parent is None:
            raise NotFound("no such parent organization")
        if parent.kind != OrganizationType.NETWORK:
            raise ValidationFailed(
                "the parent must be a network",
                errors=[{"field": "parent", "message": "the parent must be a network", "code": "invalid"}],
            )
    organization = Organization(name=name, kind=kind, code=code, parent=parent, **fields)
    if registration_number:
        organization.registration_number = registration_number
    _validated(organization, exclude=["registration_number", "code"])
    try:
        with transaction.atomic():
            if Organization.objects.for_platform(ctx).filter(code=code).exists():
                raise Conflict("an organization with this code already exists")
            _validated(organization, exclude=["registration_number"])
            organization.save()
            kernel_events.publish(ctx, events.OrganizationCreated(organization_id=organization.id, kind=kind))
    except IntegrityError as exc:  # the same code (or registration number) created at the same moment
        raise Conflict("an organization with this code already exists") from exc
    return organization


def department_create(*, ctx: Ctx, name: str, kind: str, code: str) -> Department:
    """Add a department to `ctx`'s organization."""
    if not (ctx.is_system or ctx.has_perm("organizations.department.manage")):
        raise Forbidden("managing departments needs the hospital administrator role")
    department = Department(organization_id=ctx.organization_id, name=name, kind=kind, code=code)
    try:
        with transaction.atomic():
            if Department.objects.for_tenant(ctx).filter(code=code).exists():
                raise Conflict("a department with this code already exists")
            _validated(department)
            department.save()
    except IntegrityError as exc:  # created at the same moment by another request
        raise Conflict("a department with this code already exists") from exc
    return department


def departments_ensure_standard(*, ctx: Ctx) -> list[Department]:
    """Create whichever of the 12 common departments `ctx`'s organization lacks (idempotent)."""
    existing = set(Department.objects.for_tenant(ctx).values_list("code", flat=True))
    return [
        department_create(ctx=ctx, name=kind.label, kind=kind.value, code=kind.value.replace("_", "-"))
        for kind in STANDARD_DEPARTMENTS
        if kind.value.replace("_", "-") not in existing
    ]


# --------------------------------------------------------------------------------------------------
# The organization's calendar: opening hours and public holidays
# --------------------------------------------------------------------------------------------------

MAX_HOLIDAY_NAME = 120


def _calendar_manager(ctx: Ctx) -> None:
    if not policies.can_manage_calendar(ctx):
        raise Forbidden("changing the opening hours and holidays needs the hospital administrator role")


def opening_hours_set(*, ctx: Ctx, hours: list[tuple[int, dt.time, dt.time]]) -> list[OpeningHours]:
    """Replace the organization's weekly opening hours with `hours` ((weekday, opens, closes), local
    time). An empty list removes them: the organization is then not bounded by opening hours. Windows
    of availability already outside new hours stay but give no slots there."""
    _calendar_manager(ctx)
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for i, (weekday, opens_at, closes_at) in enumerate(hours):
        if not 0 <= weekday <= 6:
            raise ValidationFailed.field(f"hours[{i}].weekday", "0 (Monday) to 6 (Sunday)")
        if closes_at <= opens_at:
            raise ValidationFailed.field(f"hours[{i}].closes_at", "the organization closes before it opens")
        by_day.setdefault(weekday, []).append((opens_at, closes_at))
    for weekday, intervals in by_day.items():
        intervals.sort()
        for (_, closes), (opens, _) in itertools.pairwise(intervals):
            if opens < closes:
                raise ValidationFailed.field(
                    "hours", f"two intervals of {Weekday(weekday).label} overlap", code="OPENING_HOURS_OVERLAP"
                )
    with transaction.atomic():
        OpeningHours.objects.for_tenant(ctx).delete()
        rows = OpeningHours.objects.for_tenant(ctx).bulk_create(
            [
                OpeningHours(organization_id=ctx.organization_id, weekday=w, opens_at=o, closes_at=c)
                for w in sorted(by_day)
                for o, c in by_day[w]
            ]
        )
        audit.record(
            ctx,
            "organizations.opening_hours.set",
            resource_type="organizations.openinghours",
            resource_id=str(ctx.organization_id),
            hours=[f"{w}:{o:%H:%M}-{c:%H:%M}" for w in sorted(by_day) for o, c in by_day[w]],
        )
    return rows


def holiday_add(*, ctx: Ctx, observed_on: dt.date, name: str) -> PublicHoliday:
    """Close the organization on `observed_on`: no practitioner sees patients that day. Appointments
    already booked on it stay: the desk moves them."""
    _calendar_manager(ctx)
    name = name.strip()
    if not name:
        raise ValidationFailed.field("name", "name the holiday", code="required")
    if len(name) > MAX_HOLIDAY_NAME:
        raise ValidationFailed.field("name", f"at most {MAX_HOLIDAY_NAME} characters")
    try:
        with transaction.atomic():
            if PublicHoliday.objects.for_tenant(ctx).filter(observed_on=observed_on).exists():
                raise Conflict(f"{observed_on} is already a holiday", code="HOLIDAY_EXISTS")
            holiday = PublicHoliday.objects.create(
                organization_id=ctx.organization_id, observed_on=observed_on, name=name
            )
            audit.record(ctx, "organizations.holiday.create", target=holiday, observed_on=observed_on.isoformat())
    except IntegrityError as exc:  # the same date added at the same moment by another request
        raise Conflict(f"{observed_on} is already a holiday", code="HOLIDAY_EXISTS") from exc
    return holiday


def holiday_remove(*, ctx: Ctx, holiday_id: uuid.UUID) -> None:
    """Open the organization again on a holiday's date."""
    _calendar_manager(ctx)
    with transaction.atomic():
        holiday = PublicHoliday.objects.for_tenant(ctx).filter(id=holiday_id).select_for_update().first()
        if holiday is None:
            raise NotFound("no such holiday here")
        audit.record(ctx, "organizations.holiday.delete", target=holiday, observed_on=holiday.observed_on.isoformat())
        holiday.delete()


def holidays_add_known(
    *, ctx: Ctx, holidays: list[tuple[dt.date, str]], from_date: dt.date | None = None
) -> list[PublicHoliday]:
    """Add those of `holidays` ((date, name), e.g. `holidays.nigerian_public_holidays(year)`) that fall
    on or after `from_date` and on a date not already closed. Returns those added."""
    _calendar_manager(ctx)
    added: list[PublicHoliday] = []
    with transaction.atomic():
        taken = set(PublicHoliday.objects.for_tenant(ctx).values_list("observed_on", flat=True))
        for day, name in holidays:
            if day not in taken and (from_date is None or day >= from_date):
                added.append(holiday_add(ctx=ctx, observed_on=day, name=name))
                taken.add(day)
    return added
