"""An organization's calendar as the derivation of slots and the booking check read it: its weekly
opening hours and its public holidays in a date range, loaded in one query and asked in memory."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import CharField, DateField, IntegerField, TimeField, Value

from phb.kernel.context import Ctx
from phb.organizations.models import OpeningHours, PublicHoliday, Weekday

Interval = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class OrganizationCalendar:
    """`hours`: the opening intervals of each weekday (0 Monday), or None when the organization has
    set no opening hours (then nothing is bounded by them). `holidays`: name by date."""

    hours: dict[int, tuple[Interval, ...]] | None = None
    holidays: dict[dt.date, str] = field(default_factory=dict)

    def holiday(self, day: dt.date) -> str:
        """The holiday's name on `day`, or ""."""
        return self.holidays.get(day, "")

    def intervals(self, weekday: int) -> tuple[Interval, ...] | None:
        """The opening intervals of `weekday`; None when not bounded; () when closed all day."""
        if self.hours is None:
            return None
        return self.hours.get(weekday, ())

    def is_open(self, weekday: int, starts_at: dt.time, ends_at: dt.time) -> bool:
        """Whether [starts_at, ends_at) lies inside one opening interval of `weekday`."""
        intervals = self.intervals(weekday)
        return intervals is None or any(o <= starts_at and ends_at <= c for o, c in intervals)

    def why_closed(self, start: dt.datetime, end: dt.datetime) -> str:
        """Why the organization does not receive patients in [start, end) (local, aware datetimes),
        or "" when it does."""
        name = self.holiday(start.date())
        if name:
            return f"the organization is closed for {name}"
        end_time = end.time() if end.date() == start.date() else dt.time.max
        if not self.is_open(start.weekday(), start.time(), end_time):
            return "outside the organization's opening hours"
        return ""


def calendar_load(*, ctx: Ctx, start_date: dt.date, end_date: dt.date) -> OrganizationCalendar:
    """`ctx`'s organization's opening hours and its holidays from `start_date` to `end_date`
    (inclusive), in one query: both tables' rows as (weekday, opens, closes, holiday date, name)."""
    # No ORDER BY inside a UNION (both models have a default ordering).
    hours_rows = (
        OpeningHours.objects.for_tenant(ctx)
        .order_by()
        .values_list(
            "weekday",
            "opens_at",
            "closes_at",
            Value(None, output_field=DateField()),
            Value("", output_field=CharField()),
        )
    )
    holiday_rows = (
        PublicHoliday.objects.for_tenant(ctx)
        .filter(observed_on__gte=start_date, observed_on__lte=end_date)
        .order_by()
        .values_list(
            Value(-1, output_field=IntegerField()),
            Value(None, output_field=TimeField()),
            Value(None, output_field=TimeField()),
            "observed_on",
            "name",
        )
    )
    hours: dict[int, list[Interval]] = defaultdict(list)
    holidays: dict[dt.date, str] = {}
    for weekday, opens_at, closes_at, observed_on, name in hours_rows.union(holiday_rows, all=True):
        if weekday == -1:
            holidays[observed_on] = name
        else:
            hours[weekday].append((opens_at, closes_at))
    return OrganizationCalendar(
        hours={w: tuple(sorted(i)) for w, i in hours.items()} if hours else None,
        holidays=holidays,
    )


__all__ = ["Interval", "OrganizationCalendar", "Weekday", "calendar_load"]
