"""Free slots, derived for a date range from practitioners' weekly availability, minus leave, minus
booked appointments, minus the past. Nothing is stored: a slot is a start and an end in the
organization's local time, returned as aware datetimes."""

from __future__ import annotations

import bisect
import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone

from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.kernel.db import EpochSeconds
from phb.kernel.errors import Forbidden, ValidationFailed
from phb.kernel.models import Organization
from phb.scheduling import policies
from phb.scheduling.models import OCCUPYING, Appointment, Leave, WeeklyAvailability

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


class Window(NamedTuple):
    """A weekly availability window, as the derivation of slots reads it."""

    practitioner_id: uuid.UUID
    weekday: int
    starts_at: dt.time
    ends_at: dt.time
    slot_minutes: int
    max_daily_appointments: int


def organization_zone(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).get())


def local_day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)


def overlapping(appointments: QuerySet[Appointment], start: dt.datetime, end: dt.datetime) -> QuerySet[Appointment]:
    """Those of `appointments` that overlap [start, end)."""
    return appointments.filter(start_at__lt=end, end_at__gt=start, start_at__gt=start - LONGEST_APPOINTMENT)


def window_slots(
    window: WeeklyAvailability | Window, day: dt.date, zone: ZoneInfo
) -> Iterable[tuple[dt.datetime, dt.datetime]]:
    """The slots of one availability window on one date."""
    step = dt.timedelta(minutes=window.slot_minutes)
    start = dt.datetime.combine(day, window.starts_at, tzinfo=zone)
    end = dt.datetime.combine(day, window.ends_at, tzinfo=zone)
    while start + step <= end:
        yield start, start + step
        start += step


def daily_maximum(windows: Iterable[WeeklyAvailability | Window]) -> int:
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
    # One transaction: the tenant binding is set once per query, not once per query and transaction.
    with tenancy.bound(organization_id=ctx.organization_id):
        zone = organization_zone(ctx)
        range_start, _ = local_day_bounds(start_date, zone)
        _, range_end = local_day_bounds(end_date, zone)
        # The active practitioners asked for, through their windows: one without any has no slot.
        rows = WeeklyAvailability.objects.for_tenant(ctx).filter(practitioner__is_active=True)
        if practitioner_id:
            rows = rows.filter(practitioner_id=practitioner_id)
        else:
            rows = rows.filter(practitioner__department_id=department_id)
        windows: dict[tuple[uuid.UUID, int], list[Window]] = defaultdict(list)
        for window in map(Window._make, rows.order_by("starts_at").values_list(*Window._fields)):
            windows[(window.practitioner_id, window.weekday)].append(window)
        # Ties at one time are listed by practitioner id, as text.
        ids = sorted({pid for pid, _ in windows}, key=str)
        if not ids:
            return []
        leave = list(
            Leave.objects.for_tenant(ctx)
            .filter(practitioner_id__in=ids, starts_on__lte=end_date, ends_on__gte=start_date)
            .values_list("practitioner_id", "starts_on", "ends_on")
        )
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
    cuts: dict[tuple[dt.date, dt.time, dt.time, int], _Cut] = {}
    free: list[Slot] = []
    day = start_date
    while day <= end_date:
        day_start, day_end = (int(bound.timestamp()) for bound in local_day_bounds(day, zone))
        todays: list[Slot] = []  # practitioner by practitioner, in the order of `ids`
        even = True
        for pid in ids:
            day_windows = windows.get((pid, day.weekday()), [])
            if not day_windows or any(p == pid and s <= day <= e for p, s, e in leave):
                continue
            first = bisect.bisect_right(starts.get(pid, []), day_start - longest)
            last = bisect.bisect_left(starts.get(pid, []), day_end)
            taken = [(s, e) for s, e in booked[pid][first:last] if e > day_start]
            if len(taken) >= daily_maximum(day_windows):
                continue
            for window in day_windows:
                key = (day, window.starts_at, window.ends_at, window.slot_minutes)
                if key not in cuts:
                    cuts[key] = _Cut.of(window, day, zone)
                cut = cuts[key]
                even = even and cut.step is not None
                for a, b in cut.free(taken, now):
                    # Tuples made by C code, not one Python call per slot: a fortnight has some 10,000.
                    todays += map(_new_slot, zip(repeat(pid), cut.starts_at[a:b], cut.ends_at[a:b]))
        # Earliest first, ties in the order of `ids` (a stable sort). Datetimes of one zone compare by their
        # wall-clock time, which is exact unless the clocks went back inside a window that day.
        todays.sort(key=itemgetter(1) if even else _instant)
        free += todays
        day += dt.timedelta(days=1)
    return free


def _new_slot(fields: tuple[uuid.UUID, dt.datetime, dt.datetime]) -> Slot:
    return tuple.__new__(Slot, fields)


def _instant(slot: Slot) -> float:
    return slot.start_at.timestamp()


@dataclass(frozen=True)
class _Cut:
    """One window's slots on one day: their bounds in seconds since 1970 and as local datetimes."""

    seconds: list[tuple[int, int]]
    starts_at: list[dt.datetime]
    ends_at: list[dt.datetime]
    step: int | None  # seconds between slots, when they are evenly spaced (no change of the clocks inside)

    @classmethod
    def of(cls, window: Window, day: dt.date, zone: ZoneInfo) -> _Cut:
        """The slots of `window` on `day`, as `window_slots` cuts them."""
        opens = dt.datetime.combine(day, window.starts_at, tzinfo=zone)
        closes = dt.datetime.combine(day, window.ends_at, tzinfo=zone)
        step: int | None = window.slot_minutes * 60
        if opens.utcoffset() == closes.utcoffset():
            first, last = int(opens.timestamp()), int(closes.timestamp())
            seconds = [(start, start + step) for start in range(first, last - step + 1, step)]
        else:
            # The clocks change inside the window: slots are cut in wall-clock time, and one that the change
            # leaves with no length (its wall-clock hour skipped) is no slot.
            step = None
            cut = ((int(s.timestamp()), int(e.timestamp())) for s, e in window_slots(window, day, zone))
            seconds = [(start, end) for start, end in cut if end > start]
        moments = {t: dt.datetime.fromtimestamp(t, zone) for pair in seconds for t in pair}
        return cls(seconds, [moments[s] for s, _ in seconds], [moments[e] for _, e in seconds], step)

    def free(self, taken: list[tuple[int, int]], now: float) -> Iterator[tuple[int, int]]:
        """Index ranges [a, b) of the slots that start after `now` and overlap none of `taken` (sorted by
        start). Evenly spaced slots: slot k is [first + k*step, first + (k+1)*step), so an appointment
        [s, e) takes k from floor((s - first) / step) to ceil((e - first) / step), excluded: a few
        operations per appointment instead of a comparison per slot."""
        if self.step is None:
            yield from ((k, k + 1) for k in _untaken(self.seconds, taken) if self.seconds[k][0] > now)
            return
        if not self.seconds:
            return
        first, step, n = self.seconds[0][0], self.step, len(self.seconds)
        position = max(0, math.floor((now - first) / step) + 1)
        for s, e in taken:
            lo, hi = max(0, (s - first) // step), min(n, -((first - e) // step))
            if lo >= hi:
                continue
            if lo > position:
                yield position, min(lo, n)
            position = max(position, hi)
        if position < n:
            yield position, n


def _untaken(candidates: list[tuple[int, int]], taken: list[tuple[int, int]]) -> Iterator[int]:
    """Indexes of the candidate slots (in ascending order) that overlap none of `taken` (sorted by start), in
    one pass over both: a slot is taken when some appointment starting before its end ends after its start,
    i.e. when the latest end among the appointments starting before its end is after its start."""
    i, latest_end = 0, None
    for k, (start, end) in enumerate(candidates):
        while i < len(taken) and taken[i][0] < end:
            latest_end = taken[i][1] if latest_end is None else max(latest_end, taken[i][1])
            i += 1
        if latest_end is None or latest_end <= start:
            yield k
