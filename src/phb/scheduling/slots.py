"""Free slots, derived for a date range from practitioners' weekly availability, minus leave, minus
booked appointments, minus the past. Nothing is stored: a slot is a start and an end in the
organization's local time, returned as aware datetimes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, ValidationFailed
from phb.kernel.models import Organization
from phb.scheduling import policies
from phb.scheduling.models import OCCUPYING, Appointment, Leave, PractitionerProfile, WeeklyAvailability

MAX_RANGE_DAYS = 31


@dataclass(frozen=True)
class Slot:
    practitioner_id: uuid.UUID
    start_at: dt.datetime
    end_at: dt.datetime


def organization_zone(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).get())


def local_day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


def window_slots(window: WeeklyAvailability, day: dt.date, zone: ZoneInfo) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The slots of one availability window on one date."""
    step = dt.timedelta(minutes=window.slot_minutes)
    start = dt.datetime.combine(day, window.starts_at, tzinfo=zone)
    end = dt.datetime.combine(day, window.ends_at, tzinfo=zone)
    while start + step <= end:
        yield start, start + step
        start += step


def daily_maximum(windows: Iterable[WeeklyAvailability]) -> int:
    """A day's maximum: the largest any of that weekday's windows names."""
    return max((w.max_daily_appointments for w in windows), default=0)


def slots_free(
    *,
    ctx: Ctx,
    start_date: dt.date,
    end_date: dt.date,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
) -> list[Slot]:
    """Free slots of one practitioner, or of every active practitioner of one department, from
    `start_date` to `end_date` inclusive, earliest first."""
    if not policies.can_read_appointments(ctx):
        raise Forbidden("seeing free slots needs a role that manages appointments or sees records")
    if (practitioner_id is None) == (department_id is None):
        raise ValidationFailed.field(
            "practitioner_id", "name a practitioner or a department, not both", code="required"
        )
    if end_date < start_date:
        raise ValidationFailed.field("end_date", "the range ends before it starts")
    if (end_date - start_date).days >= MAX_RANGE_DAYS:
        raise ValidationFailed.field("end_date", f"ask for at most {MAX_RANGE_DAYS} days at a time")
    profiles = PractitionerProfile.objects.for_tenant(ctx).filter(is_active=True)
    profiles = profiles.filter(id=practitioner_id) if practitioner_id else profiles.filter(department_id=department_id)
    ids = list(profiles.values_list("id", flat=True))
    if not ids:
        return []
    zone = organization_zone(ctx)
    range_start, _ = local_day_bounds(start_date, zone)
    _, range_end = local_day_bounds(end_date, zone)
    windows: dict[tuple[uuid.UUID, int], list[WeeklyAvailability]] = defaultdict(list)
    for window in WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner_id__in=ids).order_by("starts_at"):
        windows[(window.practitioner_id, window.weekday)].append(window)
    leave = list(
        Leave.objects.for_tenant(ctx)
        .filter(practitioner_id__in=ids, starts_on__lte=end_date, ends_on__gte=start_date)
        .values_list("practitioner_id", "starts_on", "ends_on")
    )
    booked: dict[uuid.UUID, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for pid, start_at, end_at in (
        Appointment.objects.for_tenant(ctx)
        .filter(practitioner_id__in=ids, status__in=OCCUPYING, start_at__lt=range_end, end_at__gt=range_start)
        .values_list("practitioner_id", "start_at", "end_at")
    ):
        booked[pid].append((start_at, end_at))
    now = timezone.now()
    free: list[Slot] = []
    day = start_date
    while day <= end_date:
        day_start, day_end = local_day_bounds(day, zone)
        for pid in ids:
            day_windows = windows.get((pid, day.weekday()), [])
            if not day_windows or any(p == pid and s <= day <= e for p, s, e in leave):
                continue
            taken = [(s, e) for s, e in booked[pid] if s < day_end and e > day_start]
            if len(taken) >= daily_maximum(day_windows):
                continue
            for window in day_windows:
                for start, end in window_slots(window, day, zone):
                    if start > now and not any(s < end and e > start for s, e in taken):
                        free.append(Slot(practitioner_id=pid, start_at=start, end_at=end))
        day += dt.timedelta(days=1)
    free.sort(key=lambda slot: (slot.start_at, str(slot.practitioner_id)))
    return free
