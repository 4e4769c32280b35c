"""Practitioners' schedules as the derivation of slots and the booking check read them: weekly windows
(with their breaks), leave, closures and the organization's calendar (opening hours, holidays), loaded
for a whole date range in three queries and asked in memory, day by day, with no further query.

Slots are cut in wall-clock time from the start of each part of a window (the part before its break,
the part after it); a slot is offered only when it lies inside the organization's opening hours (when
it has set any), on no holiday, on no day of leave and overlapping no closure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, DateField, Value

from phb.kernel.context import Ctx
from phb.kernel.db import EpochSeconds
from phb.organizations.public import OrganizationCalendar, calendar_load
from phb.workforce.models import Closure, Leave, PractitionerProfile, WeeklyAvailability

# A closure lasts at most this long (longer absences are leave): it bounds the search for the closures
# that overlap a range from below, as slots.LONGEST_APPOINTMENT does for appointments.
LONGEST_CLOSURE = dt.timedelta(days=31)


class WindowLike(Protocol):
    starts_at: dt.time
    ends_at: dt.time
    slot_minutes: int
    max_daily_appointments: int
    break_starts_at: dt.time | None
    break_ends_at: dt.time | None


class Window(NamedTuple):
    """A weekly availability window, as the derivation of slots reads it."""

    practitioner_id: uuid.UUID
    weekday: int
    starts_at: dt.time
    ends_at: dt.time
    slot_minutes: int
    max_daily_appointments: int
    break_starts_at: dt.time | None = None
    break_ends_at: dt.time | None = None


def window_parts(window: WindowLike) -> tuple[tuple[dt.time, dt.time], ...]:
    """The parts of a window its break leaves: one without a break, two with one."""
    if window.break_starts_at is None or window.break_ends_at is None:
        return ((window.starts_at, window.ends_at),)
    return ((window.starts_at, window.break_starts_at), (window.break_ends_at, window.ends_at))


def window_slots(window: WindowLike, day: dt.date, zone: ZoneInfo) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The slots of one availability window on one date: each part cut from its own start."""
    step = dt.timedelta(minutes=window.slot_minutes)
    for part_start, part_end in window_parts(window):
        start = dt.datetime.combine(day, part_start, tzinfo=zone)
        end = dt.datetime.combine(day, part_end, tzinfo=zone)
        while start + step <= end:
            yield start, start + step
            start += step


def daily_maximum(windows: Iterable[WindowLike]) -> int:
    """A day's maximum: the largest any of that weekday's windows names."""
    return max((w.max_daily_appointments for w in windows), default=0)


def windows_of_day(*, ctx: Ctx, practitioner: PractitionerProfile, weekday: int) -> list[Window]:
    """The practitioner's windows on `weekday`, earliest first (one query: the booking check's)."""
    rows = WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner=practitioner, weekday=weekday)
    return [Window._make(values) for values in rows.order_by("starts_at").values_list(*Window._fields)]


@dataclass(frozen=True)
class Schedule:
    """The schedules of some practitioners over a date range.

    `windows`: by (practitioner, weekday), earliest first. `on_leave`: (practitioner, date) pairs.
    `closures`: by practitioner, (start, end) in whole seconds since 1970, earliest first.
    `organization`: opening hours and the range's holidays."""

    windows: dict[tuple[uuid.UUID, int], list[Window]] = field(default_factory=dict)
    on_leave: frozenset[tuple[uuid.UUID, dt.date]] = frozenset()
    closures: dict[uuid.UUID, list[tuple[int, int]]] = field(default_factory=dict)
    organization: OrganizationCalendar = field(default_factory=OrganizationCalendar)

    @property
    def practitioner_ids(self) -> list[uuid.UUID]:
        """The practitioners with any window, by id as text (how ties at one time are listed)."""
        return sorted({pid for pid, _ in self.windows}, key=str)

    def closures_between(self, practitioner_id: uuid.UUID, start: int, end: int) -> list[tuple[int, int]]:
        """The practitioner's closures overlapping [start, end) (seconds), earliest first."""
        return [(s, e) for s, e in self.closures.get(practitioner_id, ()) if s < end and e > start]


def schedule_load(
    *,
    ctx: Ctx,
    start_date: dt.date,
    end_date: dt.date,
    zone: ZoneInfo,
    practitioner_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    specialization: str = "",
    telemedicine: bool | None = None,
) -> Schedule:
    """The schedules of the active practitioners that match every filter given, from `start_date` to
    `end_date` (local dates, inclusive): three queries whatever the range. The caller checks who may ask."""
    rows = WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner__is_active=True)
    if practitioner_id:
        rows = rows.filter(practitioner_id=practitioner_id)
    if department_id:
        rows = rows.filter(practitioner__department_id=department_id)
    if specialization:
        rows = rows.filter(practitioner__specialization__iexact=specialization.strip())
    if telemedicine:
        rows = rows.filter(practitioner__offers_telemedicine=True)
    windows: dict[tuple[uuid.UUID, int], list[Window]] = defaultdict(list)
    for window in map(Window._make, rows.order_by("starts_at").values_list(*Window._fields)):
        windows[(window.practitioner_id, window.weekday)].append(window)
    if not windows:
        return Schedule()
    ids = sorted({pid for pid, _ in windows}, key=str)
    range_start = dt.datetime.combine(start_date, dt.time.min, tzinfo=zone)
    range_end = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    # Leave and closures in one query: (practitioner, first day, last day, None, None) for leave and
    # (practitioner, None, None, start, end) for a closure, in seconds.
    no_seconds = Value(None, output_field=BigIntegerField())
    no_date = Value(None, output_field=DateField())
    leave = (
        Leave.objects.for_tenant(ctx)
        .filter(practitioner_id__in=ids, starts_on__lte=end_date, ends_on__gte=start_date)
        .values_list("practitioner_id", "starts_on", "ends_on", no_seconds, no_seconds)
    )
    closures = (
        Closure.objects.for_tenant(ctx)
        .filter(
            practitioner_id__in=ids,
            starts_at__lt=range_end,
            ends_at__gt=range_start,
            starts_at__gt=range_start - LONGEST_CLOSURE,
        )
        .values_list("practitioner_id", no_date, no_date, EpochSeconds("starts_at"), EpochSeconds("ends_at"))
    )
    on_leave: set[tuple[uuid.UUID, dt.date]] = set()
    closed: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
    for pid, starts_on, ends_on, closed_from, closed_until in leave.union(closures, all=True):
        if starts_on is not None:
            day = max(starts_on, start_date)
            while day <= min(ends_on, end_date):
                on_leave.add((pid, day))
                day += dt.timedelta(days=1)
        else:
            closed[pid].append((closed_from, closed_until))
    for spans in closed.values():
        spans.sort()
    return Schedule(
        windows=dict(windows),
        on_leave=frozenset(on_leave),
        closures=dict(closed),
        organization=calendar_load(ctx=ctx, start_date=start_date, end_date=end_date),
    )


def unavailability(
    *, ctx: Ctx, practitioner: PractitionerProfile, start: dt.datetime, end: dt.datetime, zone: ZoneInfo
) -> str:
    """Why `practitioner` does not see patients in [start, end), or "" when nothing in their calendar
    stops them: a holiday, the organization's opening hours, leave, a closure. (Whether a window has
    a slot starting then is the caller's question.)"""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    organization = calendar_load(ctx=ctx, start_date=day, end_date=day)
    closed = organization.why_closed(local_start, local_end)
    if closed:
        return closed
    # The reasons of leave and closures are the staff's own business: a patient booking sees neither.
    if Leave.objects.for_tenant(ctx).filter(practitioner=practitioner, starts_on__lte=day, ends_on__gte=day).exists():
        return "the practitioner is on leave that day"
    closures = Closure.objects.for_tenant(ctx).filter(
        practitioner=practitioner, starts_at__lt=end, ends_at__gt=start, starts_at__gt=start - LONGEST_CLOSURE
    )
    if closures.exists():
        return "the practitioner is away at that time"
    return ""
