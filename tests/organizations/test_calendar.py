"""The organization's calendar: weekly opening hours (replaced as a whole) and public holidays; who may
change them; bad input refused; and the calendar as slots read it (one query, asked in memory)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.organizations import selectors, services
from phb.organizations.calendar import OrganizationCalendar, calendar_load
from phb.organizations.models import OpeningHours, PublicHoliday
from tests.workforce.factories import admin_ctx, staff_ctx

pytestmark = pytest.mark.django_db
T = dt.time
LAGOS = ZoneInfo("Africa/Lagos")
WEEK = [(w, T(8), T(17)) for w in range(5)] + [(5, T(9), T(13))]


def test_opening_hours_are_replaced_as_a_whole_and_audited(org_a):
    admin = admin_ctx(org_a)
    services.opening_hours_set(ctx=admin, hours=WEEK)
    services.opening_hours_set(ctx=admin, hours=[(0, T(13), T(17)), (0, T(8), T(12))])
    assert [(h.weekday, h.opens_at, h.closes_at) for h in selectors.opening_hours_list(ctx=admin)] == [
        (0, T(8), T(12)),
        (0, T(13), T(17)),
    ]
    assert AuditEvent.objects.for_tenant(admin).filter(action="organizations.opening_hours.set").count() == 2
    services.opening_hours_set(ctx=admin, hours=[])
    assert not selectors.opening_hours_list(ctx=admin).exists()


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ([(7, T(8), T(9))], "hours[0].weekday"),
        ([(0, T(8), T(17)), (1, T(17), T(8))], "hours[1].closes_at"),
        ([(0, T(8), T(12)), (0, T(11), T(17))], "hours"),
    ],
)
def test_bad_opening_hours_are_refused_and_the_old_ones_kept(org_a, hours, field):
    admin = admin_ctx(org_a)
    services.opening_hours_set(ctx=admin, hours=WEEK)
    with pytest.raises(ValidationFailed) as err:
        services.opening_hours_set(ctx=admin, hours=hours)
    assert err.value.extra["errors"][0]["field"] == field
    assert OpeningHours.objects.for_tenant(admin).count() == len(WEEK)


def test_holidays_once_per_date_and_removed_by_id(org_a, org_b):
    admin = admin_ctx(org_a)
    holiday = services.holiday_add(ctx=admin, observed_on=dt.date(2027, 10, 1), name=" Independence Day ")
    assert holiday.name == "Independence Day"
    with pytest.raises(Conflict) as err:
        services.holiday_add(ctx=admin, observed_on=dt.date(2027, 10, 1), name="Again")
    assert err.value.code == "HOLIDAY_EXISTS"
    with pytest.raises(ValidationFailed):
        services.holiday_add(ctx=admin, observed_on=dt.date(2027, 10, 2), name=" ")
    # Another organization may close the same day; it cannot remove this one.
    services.holiday_add(ctx=admin_ctx(org_b), observed_on=dt.date(2027, 10, 1), name="Independence Day")
    with pytest.raises(NotFound):
        services.holiday_remove(ctx=admin_ctx(org_b), holiday_id=holiday.id)
    assert [h.name for h in selectors.holiday_list(ctx=admin, from_date=dt.date(2027, 1, 1))] == ["Independence Day"]
    services.holiday_remove(ctx=admin, holiday_id=holiday.id)
    assert not PublicHoliday.objects.for_tenant(admin).exists()


def test_only_administrators_change_the_calendar_and_staff_read_it(org_a):
    for ctx in (staff_ctx(org_a, "doctor"), staff_ctx(org_a, "receptionist")):
        with pytest.raises(Forbidden):
            services.opening_hours_set(ctx=ctx, hours=WEEK)
        with pytest.raises(Forbidden):
            services.holiday_add(ctx=ctx, observed_on=dt.date(2027, 1, 1), name="New Year's Day")
        assert list(selectors.opening_hours_list(ctx=ctx)) == []
    with pytest.raises(Forbidden):
        selectors.holiday_list(ctx=Ctx(actor_id=None))


def test_the_calendar_as_slots_read_it(org_a):
    admin = admin_ctx(org_a)
    services.opening_hours_set(ctx=admin, hours=WEEK)
    services.holiday_add(ctx=admin, observed_on=dt.date(2027, 6, 12), name="Democracy Day")
    services.holiday_add(ctx=admin, observed_on=dt.date(2027, 12, 25), name="Christmas Day")
    with CaptureQueriesContext(connection) as queries:
        calendar = calendar_load(ctx=admin, start_date=dt.date(2027, 6, 1), end_date=dt.date(2027, 6, 30))
    # One query (and, on PostgreSQL, the one that binds the tenant for row-level security).
    assert len([q for q in queries.captured_queries if "set_config" not in q["sql"]]) == 1
    assert calendar.holidays == {dt.date(2027, 6, 12): "Democracy Day"}
    assert calendar.intervals(5) == ((T(9), T(13)),)
    assert calendar.intervals(6) == ()
    assert calendar.is_open(0, T(8), T(17))
    assert not calendar.is_open(0, T(7, 30), T(8, 30))
    monday = dt.datetime(2027, 6, 14, 16, 40, tzinfo=LAGOS)
    assert calendar.why_closed(monday, monday + dt.timedelta(minutes=20)) == ""
    assert "opening hours" in calendar.why_closed(monday, monday + dt.timedelta(minutes=40))
    saturday = dt.datetime(2027, 6, 12, 10, tzinfo=LAGOS)
    assert calendar.why_closed(saturday, saturday + dt.timedelta(minutes=20)) == (
        "the organization is closed for Democracy Day"
    )
    # With no opening hours set, nothing is bounded.
    assert OrganizationCalendar().is_open(6, T(0), T(23, 59))
