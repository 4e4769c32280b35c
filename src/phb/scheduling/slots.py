"""Free slots, derived for a date range from practitioners' schedules (`phb.workforce`: weekly windows
and their breaks, within the organization's opening hours), minus holidays, leave and closures, minus
booked appointments, minus the past. Nothing is stored: a slot is a start and an end in the
organization's local time, returned as aware datetimes."""

from __future__ import annotations

import bisect
import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
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
    "SlotStatus",
    "Window",
    "daily_maximum",
    "local_day_bounds",
    "organization_zone",
    "overlapping",
    "slots_free",
    "slots_of_schedule",
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
    cuts: dict[tuple[Any, ...], list[_Cut]] = {}
    free: list[Slot] = []
    day = start_date
    while day <= end_date:
        if calendar.holiday(day):
            day += dt.timedelta(days=1)
            continue
        weekday = day.weekday()
        opening = calendar.intervals(weekday)
        day_start, day_end = (int(bound.timestamp()) for bound in local_day_bounds(day, zone))
        todays: list[Slot] = []  # practitioner by practitioner, in the order of `ids`
        even = True
        for pid in ids:
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
                if key not in cuts:
                    cuts[key] = _Cut.runs(window, day, zone, opening)
                for cut in cuts[key]:
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


class SlotStatus(NamedTuple):
    """A slot of a practitioner's schedule with its state: "free" (bookable), "busy" (an appointment
    takes it) or "busy-unavailable" (a closure takes it, or the day's maximum is reached)."""

    start_at: dt.datetime
    end_at: dt.datetime
    status: str


SLOT_VIEW = "scheduling.appointment.view"  # a system client's scope (FHIR Slot) grants it


def slots_of_schedule(
    *, ctx: Ctx, practitioner_id: uuid.UUID, range_start: dt.datetime, range_end: dt.datetime
) -> list[SlotStatus]:
    """Every slot of one practitioner's weekly windows that starts in [range_start, range_end) and not
    before now, earliest first (then shortest), free or busy: the free ones are exactly those
    `slots_free` gives. At most MAX_RANGE_DAYS days. Slots carry no patient: desk staff and clinicians
    see them, and system clients whose scopes grant SLOT_VIEW."""
    if not (policies.can_read_appointments(ctx) or (ctx.is_client and ctx.has_perm(SLOT_VIEW))):
        raise Forbidden("seeing slots needs a role that manages appointments or sees records")
    if range_end <= range_start:
        raise ValidationFailed.field("range_end", "the range ends before it starts")
    if range_end - range_start > dt.timedelta(days=MAX_RANGE_DAYS):
        raise ValidationFailed.field("range_end", f"ask for at most {MAX_RANGE_DAYS} days at a time")
    now = timezone.now()
    range_start = max(range_start, now)
    if range_end <= range_start:
        return []
    with tenancy.bound(organization_id=ctx.organization_id):
        zone = organization_zone(ctx)
        start_date = range_start.astimezone(zone).date()
        end_date = range_end.astimezone(zone).date()
        schedule = schedule_load(
            ctx=ctx, start_date=start_date, end_date=end_date, zone=zone, practitioner_id=practitioner_id
        )
        if practitioner_id not in schedule.practitioner_ids:
            return []
        day_start, _ = local_day_bounds(start_date, zone)
        _, day_end = local_day_bounds(end_date, zone)
        occupying = Appointment.objects.for_tenant(ctx).filter(practitioner_id=practitioner_id, status__in=OCCUPYING)
        booked = sorted(
            overlapping(occupying, day_start, day_end).values_list(EpochSeconds("start_at"), EpochSeconds("end_at"))
        )
    low, high, moment = range_start.timestamp(), range_end.timestamp(), now.timestamp()
    calendar = schedule.organization
    out: list[tuple[int, int, str, dt.datetime, dt.datetime]] = []
    day = start_date
    while day <= end_date:
        windows = schedule.windows.get((practitioner_id, day.weekday()), [])
        if calendar.holiday(day) or not windows or (practitioner_id, day) in schedule.on_leave:
            day += dt.timedelta(days=1)
            continue
        first, last = (int(bound.timestamp()) for bound in local_day_bounds(day, zone))
        taken = [(s, e) for s, e in booked if s < last and e > first]
        full = len(taken) >= daily_maximum(windows)
        away = schedule.closures_between(practitioner_id, first, last)
        opening = calendar.intervals(day.weekday())
        for window in windows:
            for cut in _Cut.runs(window, day, zone, opening):
                free_of_appointments = set(_untaken(cut.seconds, taken))
                free_of_closures = set(_untaken(cut.seconds, away))
                for k, (start_s, end_s) in enumerate(cut.seconds):
                    if not low <= start_s < high or start_s <= moment:
                        continue
                    if k not in free_of_appointments:
                        status = "busy"
                    elif k not in free_of_closures or full:
                        status = "busy-unavailable"
                    else:
                        status = "free"
                    out.append((start_s, end_s, status, cut.starts_at[k], cut.ends_at[k]))
        day += dt.timedelta(days=1)
    out.sort(key=itemgetter(0, 1))
    return [SlotStatus(start, end, status) for _s, _e, status, start, end in out]


def _new_slot(fields: tuple[uuid.UUID, dt.datetime, dt.datetime]) -> Slot:
    return tuple.__new__(Slot, fields)


def _instant(slot: Slot) -> float:
    return slot.start_at.timestamp()


@dataclass(frozen=True)
class _Cut:
    """A run of one window's slots on one day: their bounds in seconds since 1970 and as local datetimes.
    A window gives one run per part (before and after its break) and per opening interval it meets."""

    seconds: list[tuple[int, int]]
    starts_at: list[dt.datetime]
    ends_at: list[dt.datetime]
    step: int | None  # seconds between slots, when they are evenly spaced (no change of the clocks inside)

    @classmethod
    def runs(cls, window: Window, day: dt.date, zone: ZoneInfo, opening: tuple[Interval, ...] | None) -> list[_Cut]:
        """The slots of `window` on `day` as `window_slots` cuts them (each part of the window, before and
        after its break, from its own start), kept when they lie inside one of the `opening` intervals
        (all of them when None), as runs of evenly spaced slots."""
        out: list[_Cut] = []
        for part_start, part_end in window_parts(window):
            part = window._replace(starts_at=part_start, ends_at=part_end, break_starts_at=None, break_ends_at=None)
            cut = cls.of(part, day, zone)
            if opening is None:
                out.append(cut)
                continue
            for opens_at, closes_at in opening:
                opens = int(dt.datetime.combine(day, opens_at, tzinfo=zone).timestamp())
                closes = int(dt.datetime.combine(day, closes_at, tzinfo=zone).timestamp())
                out.append(cut.within(opens, closes))
        return [cut for cut in out if cut.seconds]

    def within(self, opens: int, closes: int) -> _Cut:
        """The slots that lie inside [opens, closes): a run of consecutive ones, since both their starts and
        their ends ascend."""
        a = bisect.bisect_left(self.seconds, opens, key=itemgetter(0))
        b = bisect.bisect_right(self.seconds, closes, key=itemgetter(1))
        if b <= a:
            return _Cut([], [], [], self.step)
        return _Cut(self.seconds[a:b], self.starts_at[a:b], self.ends_at[a:b], self.step)

    @classmethod
    def of(cls, window: Window, day: dt.date, zone: ZoneInfo) -> _Cut:
        """The slots of `window` (without a break) on `day`, as `window_slots` cuts them."""
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
