"""Free slots and booking against the whole calendar: public holidays, the organization's opening hours,
breaks, leave and one-off closures; the filters by specialization and type; and the number of queries,
which does not grow with the range."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from phb.kernel.errors import Conflict, ValidationFailed
from phb.organizations import services as organization_services
from phb.scheduling import services, slots
from phb.workforce import services as workforce_services
from tests.scheduling.factories import admin_ctx, desk_ctx, local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db
T = dt.time


@pytest.fixture
def world(org_a):
    return {
        "admin": admin_ctx(org_a),
        "desk": desk_ctx(org_a),
        "doctor": practitioner(org_a),  # every day 08:00-16:00, 30-minute slots
        "patient": registered_patient(org_a),
        "day": tomorrow(org_a),
    }


def free_starts(world, org, day=None, practitioner=None):
    day = day or world["day"]
    free = slots.slots_free(
        ctx=world["desk"], practitioner_id=(practitioner or world["doctor"]).id, start_date=day, end_date=day
    )
    return [s.start_at.astimezone(local(org, day, 0).tzinfo).strftime("%H:%M") for s in free]


def refused(world, org, hour, minute=0, practitioner=None):
    with pytest.raises(Conflict) as err:
        services.appointment_book(
            ctx=world["desk"],
            patient_id=world["patient"].id,
            practitioner_id=(practitioner or world["doctor"]).id,
            start_at=local(org, world["day"], hour, minute),
        )
    assert err.value.code == "PRACTITIONER_UNAVAILABLE"
    return err.value.detail


def book(world, org, hour, minute=0, practitioner=None):
    return services.appointment_book(
        ctx=world["desk"],
        patient_id=registered_patient(org).id,
        practitioner_id=(practitioner or world["doctor"]).id,
        start_at=local(org, world["day"], hour, minute),
    )


def test_a_public_holiday_closes_every_practitioner(org_a, world):
    colleague = practitioner(org_a, specialization="ent")
    organization_services.holiday_add(ctx=world["admin"], observed_on=world["day"], name="Workers' Day")
    assert free_starts(world, org_a) == free_starts(world, org_a, practitioner=colleague) == []
    after = world["day"] + dt.timedelta(days=1)
    assert len(free_starts(world, org_a, day=after)) == 16
    detail = refused(world, org_a, 9)
    assert detail == "the practitioner does not see patients at that time: the organization is closed for Workers' Day"


def test_opening_hours_bound_the_windows_already_there(org_a, world):
    weekday = world["day"].weekday()
    hours = [(w, T(9), T(15)) for w in range(7) if w != (weekday + 1) % 7]
    organization_services.opening_hours_set(ctx=world["admin"], hours=hours)
    assert free_starts(world, org_a) == [f"{h:02d}:{m:02d}" for h in range(9, 15) for m in (0, 30)]
    assert "outside the organization's opening hours" in refused(world, org_a, 8)
    assert "outside the organization's opening hours" in refused(world, org_a, 15)
    book(world, org_a, 9)
    # The next day the organization does not open at all.
    assert free_starts(world, org_a, day=world["day"] + dt.timedelta(days=1)) == []


def test_a_break_splits_the_window_and_the_part_after_it_is_cut_from_its_end(org_a, world):
    doctor = practitioner(
        org_a, specialization="ent", break_starts_at=T(12, 0), break_ends_at=T(12, 45), ends_at=T(16, 0)
    )
    starts = free_starts(world, org_a, practitioner=doctor)
    assert starts[:8] == [f"{h:02d}:{m:02d}" for h in range(8, 12) for m in (0, 30)]
    assert starts[8:] == ["12:45", "13:15", "13:45", "14:15", "14:45", "15:15"]
    for hour, minute in ((12, 0), (12, 30)):
        refused(world, org_a, hour, minute, practitioner=doctor)
    assert book(world, org_a, 12, 45, practitioner=doctor).end_at == local(org_a, world["day"], 13, 15)


def test_a_closure_takes_its_time_without_counting_towards_the_daily_maximum(org_a, world):
    busy = practitioner(org_a, specialization="ent", max_daily_appointments=2)
    workforce_services.closure_add(
        ctx=world["admin"],
        practitioner_id=busy.id,
        starts_at=local(org_a, world["day"], 10, 0),
        ends_at=local(org_a, world["day"], 11, 15),
        reason="departmental meeting",
    )
    starts = free_starts(world, org_a, practitioner=busy)
    assert {"10:00", "10:30", "11:00"}.isdisjoint(starts)
    assert {"09:30", "11:30"} <= set(starts)
    detail = refused(world, org_a, 10, 30, practitioner=busy)
    assert detail.endswith("the practitioner is away at that time")
    assert "meeting" not in detail  # the reason is the staff's own business
    book(world, org_a, 9, practitioner=busy)
    book(world, org_a, 11, 30, practitioner=busy)  # the closure did not count: two bookings fit
    assert free_starts(world, org_a, practitioner=busy) == []


def test_leave_is_explained_at_booking(org_a, world):
    workforce_services.leave_add(
        ctx=world["admin"], practitioner_id=world["doctor"].id, starts_on=world["day"], ends_on=world["day"]
    )
    assert free_starts(world, org_a) == []
    assert refused(world, org_a, 9).endswith("the practitioner is on leave that day")


def test_search_by_specialization_across_departments_and_by_telemedicine(org_a, world):
    online = practitioner(org_a, specialization="Cardiology", offers_telemedicine=True)
    day = world["day"]
    by_specialty = slots.slots_free(ctx=world["desk"], specialization="cardiology", start_date=day, end_date=day)
    assert {s.practitioner_id for s in by_specialty} == {world["doctor"].id, online.id}
    in_department = slots.slots_free(
        ctx=world["desk"],
        specialization="cardiology",
        department_id=online.department_id,
        start_date=day,
        end_date=day,
    )
    assert {s.practitioner_id for s in in_department} == {online.id}
    remote = slots.slots_free(
        ctx=world["desk"], specialization="cardiology", kind="telemedicine", start_date=day, end_date=day
    )
    assert {s.practitioner_id for s in remote} == {online.id}
    in_person = slots.slots_free(
        ctx=world["desk"], specialization="cardiology", kind="in_person", start_date=day, end_date=day
    )
    assert {s.practitioner_id for s in in_person} == {world["doctor"].id, online.id}
    assert slots.slots_free(ctx=world["desk"], specialization="neurology", start_date=day, end_date=day) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"specialization": "  "},
        {"practitioner_id": "doctor", "department_id": "department"},
        {"practitioner_id": "doctor", "specialization": "cardiology"},
        {"practitioner_id": "doctor", "kind": "by pigeon"},
    ],
)
def test_a_search_names_what_it_looks_for(world, kwargs):
    doctor = world["doctor"]
    values = {"doctor": doctor.id, "department": doctor.department_id}
    kwargs = {k: values.get(v, v) for k, v in kwargs.items()}
    with pytest.raises(ValidationFailed):
        slots.slots_free(ctx=world["desk"], start_date=world["day"], end_date=world["day"], **kwargs)


def data_queries(captured) -> int:
    """Queries that read or write, not those binding the tenant for row-level security (PostgreSQL)."""
    return sum(1 for q in captured.captured_queries if "set_config" not in q["sql"])


def test_the_queries_do_not_grow_with_the_range_nor_with_the_calendar(org_a, world):
    colleague = practitioner(org_a, department=world["doctor"].department, specialization="cardiology")
    day = world["day"]
    organization_services.opening_hours_set(ctx=world["admin"], hours=[(w, T(7), T(18)) for w in range(7)])
    for offset in (2, 5):
        organization_services.holiday_add(
            ctx=world["admin"], observed_on=day + dt.timedelta(days=offset), name=f"Holiday {offset}"
        )
    workforce_services.leave_add(
        ctx=world["admin"],
        practitioner_id=colleague.id,
        starts_on=day + dt.timedelta(days=3),
        ends_on=day + dt.timedelta(days=4),
    )
    workforce_services.closure_add(
        ctx=world["admin"],
        practitioner_id=world["doctor"].id,
        starts_at=local(org_a, day + dt.timedelta(days=1), 9),
        ends_at=local(org_a, day + dt.timedelta(days=1), 12),
    )
    book(world, org_a, 9)
    department = world["doctor"].department_id
    # The zone, the windows, leave and closures, opening hours and holidays, the appointments.
    with CaptureQueriesContext(connection) as fortnight_queries:
        fortnight = slots.slots_free(
            ctx=world["desk"], department_id=department, start_date=day, end_date=day + dt.timedelta(days=13)
        )
    assert data_queries(fortnight_queries) == 5
    per_day = {s.start_at.date() for s in fortnight}
    assert day + dt.timedelta(days=2) not in per_day
    assert day + dt.timedelta(days=5) not in per_day
    colleague_days = {s.start_at.date() for s in fortnight if s.practitioner_id == colleague.id}
    assert day + dt.timedelta(days=3) not in colleague_days
    assert len([s for s in fortnight if s.start_at.date() == day]) == 2 * 16 - 1
    with CaptureQueriesContext(connection) as one_day_queries:
        slots.slots_free(ctx=world["desk"], department_id=department, start_date=day, end_date=day)
    assert data_queries(one_day_queries) == 5


def test_the_slots_api_filters_by_specialization_and_type(org_a, world, member_client):
    practitioner(org_a, specialization="dermatology", offers_telemedicine=True)
    desk = member_client(org_a, "receptionist")
    day = world["day"].isoformat()
    response = desk.get(
        "/api/v1/appointments/slots/",
        {"specialization": "dermatology", "type": "telemedicine", "start_date": day, "end_date": day},
    )
    assert response.status_code == 200, response.json()
    assert len(response.json()) == 16
    response = desk.get("/api/v1/appointments/slots/", {"type": "video", "start_date": day, "end_date": day})
    assert response.status_code == 400
    response = desk.get("/api/v1/appointments/slots/", {"start_date": day, "end_date": day})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("seed", range(20))
def test_runs_of_a_window_with_a_break_inside_opening_hours_match_the_plain_definition(seed):
    """A window's slots (each part around its break cut from its own start) that lie inside an opening
    interval, freed by arithmetic run by run: checked against the slot-by-slot definition."""
    import random
    from zoneinfo import ZoneInfo

    rng = random.Random(seed)
    zone = ZoneInfo("Africa/Lagos")
    day = dt.date(2027, 6, 7)
    step = rng.choice([10, 15, 20, 30])
    pause = rng.randint(10 * 60, 13 * 60)
    window = slots.Window(None, 0, T(8, 0), T(17, 0), step, 99, T(*divmod(pause, 60)), T(*divmod(pause + 35, 60)))
    opening = tuple(
        sorted({(T(rng.randint(6, 9), rng.choice([0, 10, 30])), T(rng.randint(10, 12), 0)), (T(13, 5), T(16, 40))})
    )
    runs = slots._Cut.runs(window, day, zone, opening)
    bounds = [
        (dt.datetime.combine(day, o, tzinfo=zone).timestamp(), dt.datetime.combine(day, c, tzinfo=zone).timestamp())
        for o, c in opening
    ]
    every = [(s.timestamp(), e.timestamp()) for s, e in slots.window_slots(window, day, zone)]
    inside = [(s, e) for s, e in every if any(o <= s and e <= c for o, c in bounds)]
    assert [pair for run in runs for pair in run.seconds] == inside
    opens = int(inside[0][0]) if inside else 0
    taken = sorted((opens + m * 60, opens + (m + rng.randint(5, 70)) * 60) for m in rng.sample(range(0, 540), 6))
    now = opens + rng.randint(-60, 300) * 60
    expected = [(s, e) for s, e in inside if s > now and not any(a < e and b > s for a, b in taken)]
    freed = [run.seconds[k] for run in runs for a, b in run.free(taken, now) for k in range(a, b)]
    assert freed == expected
