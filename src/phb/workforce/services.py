"""Every write of the workforce: practitioners' profiles (create, update, deactivate, reactivate), their
weekly availability windows (add, update, remove), leave and closures (add, remove).

Each is one transaction that validates before it writes and is audited. A change of a practitioner's
schedule holds the lock on their profile row, the lock booking holds while it checks a time, so a
window, a day of leave or a closure never changes under a booking being checked. Appointments already
booked in time that becomes unavailable stay: the desk moves them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.accounts.models import Membership
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.organizations.models import Department
from phb.organizations.public import calendar_load
from phb.workforce import policies
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability
from phb.workforce.schedule import LONGEST_CLOSURE

PROFILE_FIELDS = (
    "specialization",
    "licence_number",
    "licence_expires_on",
    "qualifications",
    "years_of_experience",
    "languages",
    "consultation_fee",
    "offers_telemedicine",
)
MAX_LIST_ITEMS = 30
MAX_REASON = 200
MAX_LEAVE_DAYS = 366

# --------------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------------


def _department(ctx: Ctx, department_id: uuid.UUID | None) -> Department | None:
    if department_id is None:
        return None
    department = Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed.field("department_id", "no such department here")
    return department


def _strings(name: str, value: Any, max_length: int) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed.field(name, "a list of texts")
    items = [v.strip() for v in value if v.strip()]
    if len(items) > MAX_LIST_ITEMS or any(len(v) > max_length for v in items):
        raise ValidationFailed.field(name, f"at most {MAX_LIST_ITEMS} items of {max_length} characters")
    return items


def _clean_profile_fields(fields: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The profile fields, checked one by one; raises on the first bad one."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "unknown field")
    clean = dict(fields)
    for name, limit in (("specialization", 100), ("licence_number", 50)):
        if name in clean or creating:
            value = str(clean.get(name) or "").strip()
            if not value:
                what = "a specialization" if name == "specialization" else "a medical licence number"
                raise ValidationFailed.field(name, f"a practitioner needs {what}", code="required")
            if len(value) > limit:
                raise ValidationFailed.field(name, f"at most {limit} characters")
            clean[name] = value
    if "consultation_fee" in clean:
        try:
            fee = Decimal(str(clean["consultation_fee"]))
        except (InvalidOperation, ValueError) as exc:
            raise ValidationFailed.field("consultation_fee", "an amount") from exc
        if not fee.is_finite() or fee < 0 or fee >= Decimal("1e10") or fee != round(fee, 2):
            raise ValidationFailed.field("consultation_fee", "an amount, not negative, with at most 2 decimals")
        clean["consultation_fee"] = fee.quantize(Decimal("0.01"))
    if "years_of_experience" in clean:
        years = clean["years_of_experience"]
        if not isinstance(years, int) or isinstance(years, bool) or not 0 <= years <= 80:
            raise ValidationFailed.field("years_of_experience", "0 to 80 years")
    expires_on = clean.get("licence_expires_on")
    if expires_on is not None and not isinstance(expires_on, dt.date):
        raise ValidationFailed.field("licence_expires_on", "a date")
    if "qualifications" in clean:
        clean["qualifications"] = _strings("qualifications", clean["qualifications"], 200)
    if "languages" in clean:
        clean["languages"] = _strings("languages", clean["languages"], 40)
    if "offers_telemedicine" in clean:
        clean["offers_telemedicine"] = bool(clean["offers_telemedicine"])
    return clean


def practitioner_profile_create(
    *, ctx: Ctx, user_id: uuid.UUID, department_id: uuid.UUID | None = None, **fields: Any
) -> PractitionerProfile:
    """Make a member of staff bookable: their specialization, licence, fee and department."""
    if not policies.can_manage_profiles(ctx):
        raise Forbidden("managing practitioners needs the staff manager's permission")
    clean = _clean_profile_fields(fields, creating=True)
    membership = Membership.objects.for_tenant(ctx).filter(user_id=user_id, is_active=True).first()
    if membership is None:
        raise ValidationFailed.field("user_id", "not an active member of staff here")
    try:
        with transaction.atomic():
            if PractitionerProfile.objects.for_tenant(ctx).filter(user_id=user_id).exists():
                raise Conflict("this member of staff already has a practitioner profile", code="PROFILE_EXISTS")
            profile = PractitionerProfile.objects.create(
                organization_id=ctx.organization_id,
                membership=membership,
                user_id=user_id,
                department=_department(ctx, department_id),
                **clean,
            )
            audit.record(ctx, "workforce.practitioner.create", target=profile)
    except IntegrityError as exc:  # the same member made a practitioner at the same moment
        raise Conflict("this member of staff already has a practitioner profile", code="PROFILE_EXISTS") from exc
    return profile


def _profile(ctx: Ctx, practitioner_id: uuid.UUID, *, lock: bool = False) -> PractitionerProfile:
    """A practitioner of `ctx`'s organization, active or not; another organization's is not found."""
    profiles = PractitionerProfile.objects.for_tenant(ctx).filter(id=practitioner_id)
    profile = (profiles.select_for_update() if lock else profiles).first()
    if profile is None:
        # SECURITY: another organization's practitioner is indistinguishable from none.
        raise NotFound("no such practitioner here")
    return profile


def practitioner_profile_update(*, ctx: Ctx, practitioner_id: uuid.UUID, **changes: Any) -> PractitionerProfile:
    """Change a profile's fields and department (`department_id`; None takes it out of any). Only the
    fields given change."""
    if not policies.can_manage_profiles(ctx):
        raise Forbidden("managing practitioners needs the staff manager's permission")
    department_given = "department_id" in changes
    department_id = changes.pop("department_id", None)
    clean = _clean_profile_fields(changes, creating=False)
    with transaction.atomic():
        profile = _profile(ctx, practitioner_id, lock=True)
        if department_given:
            profile.department = _department(ctx, department_id)
        changed = [name for name, value in clean.items() if getattr(profile, name) != value]
        for name in changed:
            setattr(profile, name, clean[name])
        if department_given:
            changed.append("department")
        if changed:
            profile.save(update_fields=[*changed, "updated_at"])
            audit.record(ctx, "workforce.practitioner.update", target=profile, fields=sorted(changed))
    return profile


def _set_active(ctx: Ctx, practitioner_id: uuid.UUID, active: bool) -> PractitionerProfile:
    if not policies.can_manage_profiles(ctx):
        raise Forbidden("managing practitioners needs the staff manager's permission")
    with transaction.atomic():
        profile = _profile(ctx, practitioner_id, lock=True)
        if profile.is_active != active:
            profile.is_active = active
            profile.save(update_fields=["is_active", "updated_at"])
            verb = "reactivate" if active else "deactivate"
            audit.record(ctx, f"workforce.practitioner.{verb}", target=profile)
    return profile


def practitioner_profile_deactivate(*, ctx: Ctx, practitioner_id: uuid.UUID) -> PractitionerProfile:
    """Stop offering the practitioner: no more free slots nor bookings. Their schedule and their
    appointments stay (the desk moves those still to come)."""
    return _set_active(ctx, practitioner_id, False)


def practitioner_profile_reactivate(*, ctx: Ctx, practitioner_id: uuid.UUID) -> PractitionerProfile:
    """Offer a deactivated practitioner again, with the schedule they had."""
    return _set_active(ctx, practitioner_id, True)


# --------------------------------------------------------------------------------------------------
# Weekly availability
# --------------------------------------------------------------------------------------------------


def _schedule_profile(ctx: Ctx, practitioner_id: uuid.UUID, refusal: str) -> PractitionerProfile:
    """The practitioner, locked, once `ctx` may change their schedule (not found, then forbidden)."""
    profile = _profile(ctx, practitioner_id, lock=True)
    if not policies.can_manage_schedule(ctx, profile):
        raise Forbidden(refusal)
    return profile


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _check_window(
    ctx: Ctx,
    profile: PractitionerProfile,
    *,
    weekday: int,
    starts_at: dt.time,
    ends_at: dt.time,
    slot_minutes: int,
    max_daily_appointments: int,
    break_starts_at: dt.time | None,
    break_ends_at: dt.time | None,
    replacing: uuid.UUID | None = None,
) -> None:
    """Every rule of a window, in order; raises the first one broken."""
    if not 0 <= weekday <= 6:
        raise ValidationFailed.field("weekday", "0 (Monday) to 6 (Sunday)")
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", "the window ends before it starts")
    if not 5 <= slot_minutes <= 480:
        raise ValidationFailed.field("slot_minutes", "between 5 and 480 minutes")
    if _minutes(ends_at) - _minutes(starts_at) < slot_minutes:
        raise ValidationFailed.field("ends_at", "the window is shorter than one slot")
    if not 1 <= max_daily_appointments <= 500:
        raise ValidationFailed.field("max_daily_appointments", "between 1 and 500")
    if (break_starts_at is None) != (break_ends_at is None):
        raise ValidationFailed.field("break_ends_at", "a break has a start and an end", code="required")
    if break_starts_at is not None and break_ends_at is not None:
        if break_ends_at <= break_starts_at:
            raise ValidationFailed.field("break_ends_at", "the break ends before it starts")
        if not starts_at < break_starts_at or not break_ends_at < ends_at:
            raise ValidationFailed.field("break_starts_at", "the break lies inside the window, not at its edge")
    calendar = calendar_load(ctx=ctx, start_date=timezone.now().date(), end_date=timezone.now().date())
    if not calendar.is_open(weekday, starts_at, ends_at):
        hours = calendar.intervals(weekday) or ()
        opening = ", ".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in hours) or "closed"
        raise ValidationFailed(
            f"the window lies outside the organization's opening hours that day ({opening})",
            code="OUTSIDE_OPENING_HOURS",
            errors=[{"field": "starts_at", "message": f"opening hours: {opening}", "code": "OUTSIDE_OPENING_HOURS"}],
        )
    others = WeeklyAvailability.objects.for_tenant(ctx).filter(
        practitioner=profile, weekday=weekday, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if replacing is not None:
        others = others.exclude(id=replacing)
    if others.exists():
        raise Conflict("this window overlaps another of the same day", code="AVAILABILITY_OVERLAPS")


def availability_add(
    *,
    ctx: Ctx,
    practitioner_id: uuid.UUID,
    weekday: int,
    starts_at: dt.time,
    ends_at: dt.time,
    slot_minutes: int = 15,
    max_daily_appointments: int = 20,
    break_starts_at: dt.time | None = None,
    break_ends_at: dt.time | None = None,
) -> WeeklyAvailability:
    """Add a weekly window (organization's local time) in which the practitioner takes appointments,
    with an optional break inside it. Refused outside the organization's opening hours (when it has
    set any) and over another window of the same day."""
    with transaction.atomic():
        profile = _schedule_profile(
            ctx, practitioner_id, "only staff managers and the practitioner change availability"
        )
        window = {
            "weekday": weekday,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "slot_minutes": slot_minutes,
            "max_daily_appointments": max_daily_appointments,
            "break_starts_at": break_starts_at,
            "break_ends_at": break_ends_at,
        }
        _check_window(ctx, profile, **window)
        row = WeeklyAvailability.objects.create(organization_id=ctx.organization_id, practitioner=profile, **window)
        audit.record(ctx, "workforce.availability.create", target=row, practitioner=str(profile.id))
    return row


WINDOW_FIELDS = (
    "weekday",
    "starts_at",
    "ends_at",
    "slot_minutes",
    "max_daily_appointments",
    "break_starts_at",
    "break_ends_at",
)


def _window(ctx: Ctx, profile: PractitionerProfile, window_id: uuid.UUID) -> WeeklyAvailability:
    row = WeeklyAvailability.objects.for_tenant(ctx).filter(id=window_id, practitioner=profile).first()
    if row is None:
        raise NotFound("no such availability window for this practitioner")
    return row


def availability_update(
    *, ctx: Ctx, practitioner_id: uuid.UUID, window_id: uuid.UUID, **changes: Any
) -> WeeklyAvailability:
    """Change a window's fields (those given; a break is removed with both break fields None), under
    the rules of `availability_add`."""
    unknown = set(changes) - set(WINDOW_FIELDS)
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "unknown field")
    with transaction.atomic():
        profile = _schedule_profile(
            ctx, practitioner_id, "only staff managers and the practitioner change availability"
        )
        row = _window(ctx, profile, window_id)
        window = {name: changes.get(name, getattr(row, name)) for name in WINDOW_FIELDS}
        _check_window(ctx, profile, replacing=row.id, **window)
        changed = [name for name in WINDOW_FIELDS if getattr(row, name) != window[name]]
        for name in changed:
            setattr(row, name, window[name])
        if changed:
            row.save(update_fields=[*changed, "updated_at"])
            audit.record(ctx, "workforce.availability.update", target=row, practitioner=str(profile.id), fields=changed)
    return row


def availability_remove(*, ctx: Ctx, practitioner_id: uuid.UUID, window_id: uuid.UUID) -> None:
    """Remove a weekly window; appointments already booked in it stay."""
    with transaction.atomic():
        profile = _schedule_profile(
            ctx, practitioner_id, "only staff managers and the practitioner change availability"
        )
        row = _window(ctx, profile, window_id)
        audit.record(ctx, "workforce.availability.delete", target=row, practitioner=str(profile.id))
        row.delete()


# --------------------------------------------------------------------------------------------------
# Leave and closures
# --------------------------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationFailed.field("reason", f"at most {MAX_REASON} characters")
    return reason


def leave_add(*, ctx: Ctx, practitioner_id: uuid.UUID, starts_on: dt.date, ends_on: dt.date, reason: str = "") -> Leave:
    """Record days off (inclusive). Appointments already booked on them stay: the desk reschedules them."""
    reason = _reason(reason)
    with transaction.atomic():
        profile = _schedule_profile(ctx, practitioner_id, "only staff managers and the practitioner record leave")
        if ends_on < starts_on:
            raise ValidationFailed.field("ends_on", "the leave ends before it starts")
        if (ends_on - starts_on).days >= MAX_LEAVE_DAYS:
            raise ValidationFailed.field("ends_on", f"at most {MAX_LEAVE_DAYS} days at a time")
        overlapping = Leave.objects.for_tenant(ctx).filter(
            practitioner=profile, starts_on__lte=ends_on, ends_on__gte=starts_on
        )
        if overlapping.exists():
            raise Conflict("this leave overlaps leave already recorded", code="LEAVE_OVERLAPS")
        leave = Leave.objects.create(
            organization_id=ctx.organization_id,
            practitioner=profile,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=reason,
        )
        audit.record(ctx, "workforce.leave.create", target=leave, practitioner=str(profile.id))
    return leave


def leave_remove(*, ctx: Ctx, practitioner_id: uuid.UUID, leave_id: uuid.UUID) -> None:
    """Cancel leave: the days are worked again."""
    with transaction.atomic():
        profile = _schedule_profile(ctx, practitioner_id, "only staff managers and the practitioner change leave")
        leave = Leave.objects.for_tenant(ctx).filter(id=leave_id, practitioner=profile).first()
        if leave is None:
            raise NotFound("no such leave for this practitioner")
        audit.record(ctx, "workforce.leave.delete", target=leave, practitioner=str(profile.id))
        leave.delete()


def closure_add(
    *, ctx: Ctx, practitioner_id: uuid.UUID, starts_at: dt.datetime, ends_at: dt.datetime, reason: str = ""
) -> Closure:
    """Make the practitioner unavailable from `starts_at` to `ends_at` (part of a day, or a few days:
    at most 31; longer absences are leave). Appointments already booked in it stay."""
    reason = _reason(reason)
    if timezone.is_naive(starts_at):
        raise ValidationFailed.field("starts_at", "give the time with its offset")
    if timezone.is_naive(ends_at):
        raise ValidationFailed.field("ends_at", "give the time with its offset")
    if ends_at <= starts_at:
        raise ValidationFailed.field("ends_at", "the closure ends before it starts")
    if ends_at - starts_at > LONGEST_CLOSURE:
        raise ValidationFailed.field("ends_at", f"at most {LONGEST_CLOSURE.days} days: record longer absences as leave")
    with transaction.atomic():
        profile = _schedule_profile(ctx, practitioner_id, "only staff managers and the practitioner record closures")
        overlapping = Closure.objects.for_tenant(ctx).filter(
            practitioner=profile,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
            starts_at__gt=starts_at - LONGEST_CLOSURE,
        )
        if overlapping.exists():
            raise Conflict("this closure overlaps another", code="CLOSURE_OVERLAPS")
        closure = Closure.objects.create(
            organization_id=ctx.organization_id,
            practitioner=profile,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
        )
        audit.record(ctx, "workforce.closure.create", target=closure, practitioner=str(profile.id))
    return closure


def closure_remove(*, ctx: Ctx, practitioner_id: uuid.UUID, closure_id: uuid.UUID) -> None:
    """Cancel a closure: the time is available again."""
    with transaction.atomic():
        profile = _schedule_profile(ctx, practitioner_id, "only staff managers and the practitioner change closures")
        closure = Closure.objects.for_tenant(ctx).filter(id=closure_id, practitioner=profile).first()
        if closure is None:
            raise NotFound("no such closure for this practitioner")
        audit.record(ctx, "workforce.closure.delete", target=closure, practitioner=str(profile.id))
        closure.delete()
