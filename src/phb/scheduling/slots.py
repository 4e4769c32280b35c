"""Free slots, derived for a date range from practitioners' schedules (`phb.workforce`: weekly windows
and their breaks, within the organization's opening hours), minus holidays, leave and closures, minus
booked appointments, minus the past. Nothing is stored: a slot is a start and an end in the
organization's local time, returned as aware datetimes."""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.kernel.db import EpochSeconds
from phb.kernel.errors import Forbidden, ValidationFailed
from phb.kernel.models import Organization
from phb.organizations.public import Interval
from phb.scheduling import policies
from phb.scheduling.models import OCCUPYING, Appointment, AppointmentType
from phb.workforce.public import Window, daily_maximum, schedule_load, window_parts, window_slots

__all__ = [
    "LONGEST_APPOINTMENT",
    "MAX_RANGE_DAYS",
    "Slot",
    "Window",
    "daily_maximum",
    "local_day_bounds",
    "organization_zone",
    "overlapping",
    "slots_free",
    "window_slots",
]

MAX_RANGE_DAYS = 31
# No appointment lasts longer than this: a slot is at most 480 minutes (availability_slot_length), a
# department-queue appointment 15. It gives the search for overlapping appointments a lower bound on
# start_at, without which the (organization, practitioner, start_at) index is read from the
# practitioner's first appointment ever up to the end of the range.
LONGEST_APPOINTMENT = dt.timedelta(minutes=480)


class Slot(NamedTuple):
    """A free slot. A tuple: a department's fortnight makes some 10,000 of them."""

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


def slots_free(
    *,
    ctx: Ctx,
    start_date: dt.date,
    end_date: dt.date,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    specialization: str = "",
    kind: str = "",
) -> list[Slot]:
    """Free slots of one practitioner, or of every active practitioner of a department and/or of a
    specialization, from `start_date` to `end_date` inclusive, earliest first. `kind` telemedicine
    keeps the practitioners who offer it; in person (or none) keeps everyone."""
    if not policies.can_read_appointments(ctx):
        raise Forbidden("seeing free slots needs a role that manages appointments or sees records")
    specialization = specialization.strip()
    if practitioner_id is None and department_id is None and not specialization:
        raise ValidationFailed.field(
            "practitioner_id", "name a practitioner, a department or a specialization", code="required"
        )
    if practitioner_id is not None and (department_id is not None or specialization):
        raise ValidationFailed.field("practitioner_id", "name a practitioner, or a department and a specialization")
    if kind and kind not in AppointmentType.values:
        raise ValidationFailed.field("kind", "unknown appointment type")
    if end_date < start_date:
        raise ValidationFailed.field("end_date", "the range ends before it starts")
    if (end_date - start_date).days >= MAX_RANGE_DAYS:
        raise ValidationFailed.field("end_date", f"ask for at most {MAX_RANGE_DAYS} days at a time")
    # One transaction: the tenant binding is set once per query, not once per query and transaction.
    with tenancy.bound(organization_id=ctx.organization_id):
        zone = organization_zone(ctx)
        range_start, _ = local_day_bounds(start_date, zone)
        _, range_end = local_day_bounds(end_date, zone)
        # The active practitioners asked for, through their windows (one without any has no slot), their
        # leave and closures, the organization's opening hours and holidays: three queries.
        schedule = schedule_load(
            ctx=ctx,
            start_date=start_date,
            end_date=end_date,
            zone=zone,
            practitioner_id=practitioner_id,
            department_id=department_id,
            specialization=specialization,
            telemedicine=kind == AppointmentType.TELEMEDICINE or None,
        )
        windows = schedule.windows
        # Ties at one time are listed by practitioner id, as text.
        ids = schedule.practitioner_ids
        if not ids:
            return []
        # Everything below is in whole seconds since 1970 (UTC): a department's fortnight has some 5,000
        # booked appointments and 16,000 candidate slots, and integers compare and add many times faster
        # than aware datetimes. Datetimes are made at the end, one per distinct instant.
        booked: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
        occupying = Appointment.objects.for_tenant(ctx).filter(practitioner_id__in=ids, status__in=OCCUPYING)
        for pid, start_s, end_s in overlapping(occupying, range_start, range_end).values_list(
            "practitioner_id", EpochSeconds("start_at"), EpochSeconds("end_at")
        ):
            booked[pid].append((start_s, end_s))
    starts: dict[uuid.UUID, list[int]] = {}
    for pid, appointments in booked.items():
        appointments.sort()
        starts[pid] = [start_s for start_s, _ in appointments]
    longest = int(LONGEST_APPOINTMENT.total_seconds())
    now = timezone.now().timestamp()
    on_leave, closures, calendar = schedule.on_leave, schedule.closures, schedule.organization
    candidates: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    # Free slots by start, each as (practitioner's rank in `ids`, end): appended in rank order.
    by_start: dict[int, list[tuple[int, int]]] = defaultdict(list)
    day = start_date
    while day <= end_date:
        if calendar.holiday(day):
            day += dt.timedelta(days=1)
            continue
        weekday = day.weekday()
        opening = calendar.intervals(weekday)
        day_start, day_end = (int(bound.timestamp()) for bound in local_day_bounds(day, zone))
        for rank, pid in enumerate(ids):
            day_windows = windows.get((pid, weekday), [])
            if not day_windows or (pid, day) in on_leave:
                continue
            first = bisect.bisect_right(starts.get(pid, []), day_start - longest)
            last = bisect.bisect_left(starts.get(pid, []), day_end)
            taken = [(s, e) for s, e in booked[pid][first:last] if e > day_start]
            if len(taken) >= daily_maximum(day_windows):
                continue
            if pid in closures:
                # A closure takes its time as an appointment would, without counting towards the maximum.
                away = schedule.closures_between(pid, day_start, day_end)
                if away:
                    taken = sorted(taken + away)
            for window in day_windows:
                # The same window on the same date cuts the same slots: once per (date, window shape).
                key = (day, window.starts_at, window.ends_at, window.slot_minutes, *window[6:])
                if key not in candidates:
                    candidates[key] = _window_seconds(window, day, zone, opening)
                for start, end in _untaken(candidates[key], taken):
                    if start > now:
                        by_start[start].append((rank, end))
        day += dt.timedelta(days=1)
    moments: dict[int, dt.datetime] = {}

    def moment(seconds: int) -> dt.datetime:
        if seconds not in moments:
            moments[seconds] = dt.datetime.fromtimestamp(seconds, zone)
        return moments[seconds]

    return [
        Slot(practitioner_id=ids[rank], start_at=moment(start), end_at=moment(end))
        for start in sorted(by_start)
        for rank, end in by_start[start]
    ]


def _window_seconds(
    window: Window, day: dt.date, zone: ZoneInfo, opening: tuple[Interval, ...] | None
) -> list[tuple[int, int]]:
    """The slots of `window` on `day` (as `window_slots` cuts them: each part of the window, before
    and after its break, from its own start) that lie inside one of the `opening` intervals (all of
    them when None), in seconds since 1970."""
    if opening is not None:
        bounds = [
            (
                int(dt.datetime.combine(day, o, tzinfo=zone).timestamp()),
                int(dt.datetime.combine(day, c, tzinfo=zone).timestamp()),
            )
            for o, c in opening
        ]
        return [
            (start, end)
            for start, end in _window_seconds(window, day, zone, None)
            if any(o <= start and end <= c for o, c in bounds)
        ]
    out: list[tuple[int, int]] = []
    step = window.slot_minutes * 60
    for part_start, part_end in window_parts(window):
        opens = dt.datetime.combine(day, part_start, tzinfo=zone)
        closes = dt.datetime.combine(day, part_end, tzinfo=zone)
        if opens.utcoffset() != closes.utcoffset():
            # The clocks change inside the part: slots are cut in wall-clock time, and one that the
            # change leaves with no length (its wall-clock hour skipped) is no slot.
            part = window._replace(starts_at=part_start, ends_at=part_end, break_starts_at=None, break_ends_at=None)
            cut = ((int(s.timestamp()), int(e.timestamp())) for s, e in window_slots(part, day, zone))
            out += [(start, end) for start, end in cut if end > start]
            continue
        first, last = int(opens.timestamp()), int(closes.timestamp())
        out += [(start, start + step) for start in range(first, last - step + 1, step)]
    return out


def _untaken(candidates: Iterable[tuple[int, int]], taken: list[tuple[int, int]]) -> Iterable[tuple[int, int]]:
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
