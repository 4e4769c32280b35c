"""Reception's week: Monday to Sunday of a department (or one practitioner), appointments and free
slots by day, previous and next weeks, a free slot opening the walk-in form prefilled; the missing
role's 403, another organization's appointments unseen, junk never a 500, and as many queries for
three appointments as for one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from phb.scheduling import services
from phb.scheduling.models import Appointment
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow
from tests.scheduling.frontdesk import SYSTEM

pytestmark = pytest.mark.django_db


def staff_client(org, *roles):
    user = UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user, Client())


@pytest.fixture
def week(org_a):
    department = DepartmentFactory(organization=org_a, name="Cardiology", code="cardiology")
    doctor = practitioner(org_a, department=department, starts_at=dt.time(9), ends_at=dt.time(11), slot_minutes=30)
    other = practitioner(org_a, department=department, starts_at=dt.time(9), ends_at=dt.time(10), slot_minutes=30)
    day = tomorrow(org_a)
    patient = registered_patient(org_a)
    appointment = services.appointment_book(
        ctx=desk_ctx(org_a),
        patient_id=patient.id,
        practitioner_id=doctor.id,
        start_at=local(org_a, day, 9),
        priority="urgent",
    )
    return {
        "org": org_a,
        "department": department,
        "doctor": doctor,
        "other": other,
        "day": day,
        "patient": patient,
        "appointment": appointment,
        "desk": staff_client(org_a, "receptionist"),
    }


def _get(world, **params):
    query = {"department": str(world["department"].id), "week": world["day"].isoformat(), **params}
    return world["desk"].get("/staff/scheduling/week/", query)


def test_the_week_shows_appointments_and_free_slots_by_day_and_practitioner(week):
    response = _get(week)
    assert response.status_code == 200
    days = response.context["days"]
    assert days[0].weekday() == 0 and len(days) == 7  # noqa: PT018
    assert week["day"] in days
    grid = {row["practitioner"]: row for row in response.context["grid"]}
    assert set(grid) == {str(week["doctor"].id), str(week["other"].id)}
    cell = next(c for c in grid[str(week["doctor"].id)]["cells"] if c["day"] == week["day"])
    times = [(item["time"], "appointment" in item) for item in cell["items"]]
    assert times == [("09:00", True), ("09:30", False), ("10:00", False), ("10:30", False)]
    body = response.content.decode()
    assert week["appointment"].reference in body
    assert week["patient"].family_name in body
    assert "Urgent" in body
    # One practitioner only.
    alone = _get(week, practitioner=str(week["other"].id))
    assert [row["practitioner"] for row in alone.context["grid"]] == [str(week["other"].id)]
    assert week["appointment"].reference not in alone.content.decode()


def test_previous_and_next_weeks(week):
    response = _get(week)
    monday = response.context["days"][0]
    assert response.context["next_week"] == (monday + dt.timedelta(days=7)).isoformat()
    assert response.context["previous_week"] == (monday - dt.timedelta(days=7)).isoformat()
    later = _get(week, week=response.context["next_week"])
    assert later.context["days"][0] == monday + dt.timedelta(days=7)
    assert week["appointment"].reference not in later.content.decode()
    past = _get(week, week=(monday - dt.timedelta(days=14)).isoformat())
    assert b'data-testid="free-slot"' not in past.content  # no free time in the past


def test_a_free_slot_opens_the_walk_in_form_on_it(week):
    response = _get(week)
    grid = {row["practitioner"]: row for row in response.context["grid"]}
    cell = next(c for c in grid[str(week["doctor"].id)]["cells"] if c["day"] == week["day"])
    slot = next(item["slot"] for item in cell["items"] if "slot" in item)
    assert slot.startswith(str(week["doctor"].id))
    form = week["desk"].get("/staff/scheduling/book/", {"practitioner": str(week["doctor"].id), "slot": slot})
    assert form.status_code == 200
    assert form.context["form"].initial["slot"] == slot
    assert slot in dict(form.context["form"].fields["slot"].choices)
    mrn = registered_patient(week["org"])
    from phb.patients.models import PatientRegistration

    registration = PatientRegistration.objects.for_system(SYSTEM).get(patient=mrn, organization=week["org"])
    booked = week["desk"].post(
        "/staff/scheduling/book/",
        {"mrn": registration.mrn, "practitioner": str(week["doctor"].id), "slot": slot, "priority": "normal"},
    )
    assert booked.status_code == 302, booked.context["form"].errors
    assert Appointment.objects.for_system(SYSTEM).filter(patient=mrn, start_at=slot.split("|")[1]).exists()


def test_a_slot_weeks_ahead_is_offered_in_the_walk_in_form(week):
    later = week["day"] + dt.timedelta(days=14)
    response = _get(week, week=later.isoformat())
    grid = {row["practitioner"]: row for row in response.context["grid"]}
    cell = next(c for c in grid[str(week["doctor"].id)]["cells"] if c["day"] == later)
    slot = cell["items"][0]["slot"]
    form = week["desk"].get("/staff/scheduling/book/", {"practitioner": str(week["doctor"].id), "slot": slot})
    assert slot in dict(form.context["form"].fields["slot"].choices)


def test_roles_organizations_and_junk(week, org_b):
    assert staff_client(week["org"], "nurse").get("/staff/scheduling/week/").status_code == 403
    assert staff_client(week["org"], "hospital_admin").get("/staff/scheduling/week/").status_code == 403
    assert Client().get("/staff/scheduling/week/").status_code == 302
    other = staff_client(org_b, "receptionist")
    response = other.get("/staff/scheduling/week/", {"department": str(week["department"].id)})
    assert response.status_code == 200
    assert week["appointment"].reference not in response.content.decode()
    for params in ({"department": "junk", "week": "junk", "practitioner": "x"}, {"week": "2026-02-30"}, {}):
        assert week["desk"].get("/staff/scheduling/week/", params).status_code == 200


def test_the_week_makes_as_many_queries_for_three_appointments_as_for_one(week):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert _get(week).status_code == 200
        return len(captured)

    queries()  # the first request of a session does one-off work
    before = queries()
    for hour in (10, 9):
        doctor = week["doctor"] if hour == 10 else week["other"]
        services.appointment_book(
            ctx=desk_ctx(week["org"]),
            patient_id=registered_patient(week["org"]).id,
            practitioner_id=doctor.id,
            start_at=local(week["org"], week["day"], hour),
        )
    assert queries() == before
