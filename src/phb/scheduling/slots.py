"""Free slots, derived for a date range from practitioners' weekly availability, minus leave, minus
booked appointments, minus the past. Nothing is stored: a slot is a start and an end in the
organization's local time, returned as aware datetimes."""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, ValidationFailed
from phb.kernel.models import Organization
from phb.scheduling import policies
from phb.scheduling.models import OCCUPYING, Appointment, Leave, PractitionerProfile, WeeklyAvailability

MAX_RANGE_DAYS = 31
# No appointment lasts longer than this: a slot is at most 480 minutes (availability_slot_length), a
# department-queue appointment 15. It gives the search for overlapping appointments a lower bound on
# start_at, without which the (organization, practitioner, start_at) index is read from the
# practitioner's first appointment ever up to the end of the range.
LONGEST_APPOINTMENT = dt.timedelta(minutes=480)


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


def overlapping(appointments: QuerySet[Appointment], start: dt.datetime, end: dt.datetime) -> QuerySet[Appointment]:
    """Those of `appointments` that overlap [start, end)."""
    return appointments.filter(start_at__lt=end, end_at__gt=start, start_at__gt=start - LONGEST_APPOINTMENT)


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
    occupying = Appointment.objects.for_tenant(ctx).filter(practitioner_id__in=ids, status__in=OCCUPYING)
    for pid, start_at, end_at in overlapping(occupying, range_start, range_end).values_list(
        "practitioner_id", "start_at", "end_at"
    ):
        booked[pid].append((start_at, end_at))
    # Sorted by start, in UTC as read: each doctor's day is then two bisections, and the comparisons
    # are between datetimes of one time zone (comparing across zones costs several times more).
    starts: dict[uuid.UUID, list[dt.datetime]] = {}
    for pid, appointments in booked.items():
        appointments.sort()
        starts[pid] = [start_at for start_at, _ in appointments]
    now = timezone.now()
    free: list[Slot] = []
    day = start_date
    while day <= end_date:
        day_start, day_end = (bound.astimezone(dt.UTC) for bound in local_day_bounds(day, zone))
        for pid in ids:
            day_windows = windows.get((pid, day.weekday()), [])
            if not day_windows or any(p == pid and s <= day <= e for p, s, e in leave):
                continue
            first = bisect.bisect_right(starts.get(pid, []), day_start - LONGEST_APPOINTMENT)
            last = bisect.bisect_left(starts.get(pid, []), day_end)
            taken = [(s, e) for s, e in booked[pid][first:last] if e > day_start]
            if len(taken) >= daily_maximum(day_windows):
                continue
            for window in day_windows:
                free += (
                    Slot(practitioner_id=pid, start_at=start, end_at=end)
                    for start, end in _free_in_window(window, day, zone, taken, now)
                )
        day += dt.timedelta(days=1)
    order = {pid: str(pid) for pid in ids}
    free.sort(key=lambda slot: (slot.start_at, order[slot.practitioner_id]))
    return free


def _free_in_window(
    window: WeeklyAvailability,
    day: dt.date,
    zone: ZoneInfo,
    taken: list[tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The slots of `window` on `day` that start after `now` and overlap none of `taken` (sorted by start)."""
    opens = dt.datetime.combine(day, window.starts_at, tzinfo=zone)
    offset = opens.utcoffset()
    if offset is None or offset != dt.datetime.combine(day, window.ends_at, tzinfo=zone).utcoffset():
        # The clocks change inside the window: compare aware datetimes, exact across the change.
        yield from ((start, end) for start, end in _untaken(window_slots(window, day, zone), taken) if start > now)
        return
    # One offset all through the window: work in naive UTC (arithmetic and comparisons on aware datetimes
    # of two zones cost ten times more, and a department's fortnight has some 16,000 candidate slots),
    # then give each free slot its local time, as window_slots would have made it.
    step = dt.timedelta(minutes=window.slot_minutes)
    start = opens.replace(tzinfo=None) - offset
    closes = dt.datetime.combine(day, window.ends_at) - offset
    candidates = []
    while start + step <= closes:
        candidates.append((start, start + step))
        start += step
    naive = [(_naive_utc(s), _naive_utc(e)) for s, e in taken]
    after = _naive_utc(now)
    for start, end in _untaken(candidates, naive):
        if start > after:
            yield (start + offset).replace(tzinfo=zone), (end + offset).replace(tzinfo=zone)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _untaken(
    candidates: Iterable[tuple[dt.datetime, dt.datetime]], taken: list[tuple[dt.datetime, dt.datetime]]
) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The candidate slots (in ascending order) that overlap none of `taken` (sorted by start), in one
    pass over both: a slot is taken when some appointment starting before its end ends after its start,
    i.e. when the latest end among the appointments starting before its end is after its start."""
    i, latest_end = 0, None
    for start, end in candidates:
        while i < len(taken) and taken[i][0] < end:
            latest_end = taken[i][1] if latest_end is None else max(latest_end, taken[i][1])
            i += 1
        if latest_end is None or latest_end <= start:
            yield start, end
