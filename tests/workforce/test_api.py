"""The workforce API: practitioners and their windows, leave and closures. Happy paths, another
organization's 404, the missing role's 403, a doctor refused a colleague's schedule, bad input's 400."""

from __future__ import annotations

import datetime as dt

import pytest

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.workforce.factories import practitioner

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


@pytest.fixture
def world(org_a, member_client):
    doctor_user = UserFactory(full_name="Ngozi Eze")
    return {
        "admin": member_client(org_a, "hospital_admin"),
        "desk": member_client(org_a, "receptionist"),
        "doctor_user": doctor_user,
        "doctor": practitioner(org_a, weekdays=[0, 1], user=doctor_user),
        "colleague": practitioner(org_a, weekdays=[0]),
    }


def _url(profile, rest=""):
    return f"/api/v1/practitioners/{profile.id}/{rest}"


def test_an_admin_makes_a_member_of_staff_a_practitioner_and_changes_the_profile(org_a, world):
    member = UserFactory(full_name="Tunde Bello")
    MembershipFactory(user=member, organization=org_a, roles=["doctor"])
    department = DepartmentFactory(organization=org_a)
    body = {
        "user_id": str(member.id),
        "department_id": str(department.id),
        "specialization": "orthopaedics",
        "licence_number": "MDCN-77",
        "licence_expires_on": "2029-06-30",
        "qualifications": ["MBBS", "FMCS"],
        "years_of_experience": 9,
        "languages": ["en", "yo"],
        "consultation_fee": "12000.00",
        "offers_telemedicine": True,
    }
    response = world["admin"].post("/api/v1/practitioners/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["name"] == "Tunde Bello"
    assert {k: created[k] for k in body if k != "user_id"} == {k: v for k, v in body.items() if k != "user_id"}
    again = world["admin"].post("/api/v1/practitioners/", body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "PROFILE_EXISTS")
    response = world["admin"].patch(
        f"/api/v1/practitioners/{created['id']}/", {"consultation_fee": "15000", "department_id": None}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["consultation_fee"], response.json()["department_id"]) == ("15000.00", None)
    listed = world["desk"].get("/api/v1/practitioners/", {"specialization": "Orthopaedics"}).json()
    assert [p["id"] for p in listed["results"]] == [created["id"]]
    assert world["desk"].get(f"/api/v1/practitioners/{created['id']}/").json()["licence_number"] == "MDCN-77"


def test_deactivate_hides_a_practitioner_from_the_active_list(world):
    response = world["admin"].post(_url(world["colleague"], "deactivate/"))
    assert (response.status_code, response.json()["is_active"]) == (200, False)
    active = world["desk"].get("/api/v1/practitioners/").json()["results"]
    assert [p["id"] for p in active] == [str(world["doctor"].id)]
    every = world["desk"].get("/api/v1/practitioners/", {"active": ""}).json()["results"]
    assert len(every) == 2
    assert world["admin"].post(_url(world["colleague"], "reactivate/")).json()["is_active"] is True


def test_windows_leave_and_closures_over_the_api(world):
    admin, doctor = world["admin"], world["doctor"]
    window = {
        "weekday": 2,
        "starts_at": "09:00",
        "ends_at": "17:00",
        "break_starts_at": "12:00",
        "break_ends_at": "13:00",
    }
    response = admin.post(_url(doctor, "availability/"), window, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["break_starts_at"], created["slot_minutes"], created["max_daily_appointments"]) == (
        "12:00:00",
        15,
        20,
    )
    overlapping = admin.post(
        _url(doctor, "availability/"), {"weekday": 2, "starts_at": "16:00", "ends_at": "18:00"}, format="json"
    )
    assert (overlapping.status_code, overlapping.json()["code"]) == (409, "AVAILABILITY_OVERLAPS")
    changed = admin.patch(
        _url(doctor, f"availability/{created['id']}/"), {"break_starts_at": None, "break_ends_at": None}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["break_starts_at"] is None
    assert len(world["desk"].get(_url(doctor, "availability/")).json()) == 3
    assert admin.delete(_url(doctor, f"availability/{created['id']}/")).status_code == 204

    leave = admin.post(
        _url(doctor, "leave/"), {"starts_on": "2030-02-04", "ends_on": "2030-02-08", "reason": "rest"}, format="json"
    )
    assert leave.status_code == 201, leave.json()
    assert [x["id"] for x in world["desk"].get(_url(doctor, "leave/")).json()] == [leave.json()["id"]]
    assert world["desk"].get(_url(doctor, "leave/"), {"from_date": "2030-02-09"}).json() == []
    assert admin.delete(_url(doctor, f"leave/{leave.json()['id']}/")).status_code == 204

    closure = {"starts_at": "2030-02-04T12:00:00+01:00", "ends_at": "2030-02-04T14:00:00+01:00", "reason": "audit"}
    response = admin.post(_url(doctor, "closures/"), closure, format="json")
    assert response.status_code == 201, response.json()
    assert len(world["desk"].get(_url(doctor, "closures/")).json()) == 1
    assert admin.delete(_url(doctor, f"closures/{response.json()['id']}/")).status_code == 204
    actions = set(AuditEvent.objects.for_system(SYSTEM).values_list("action", flat=True))
    assert {"workforce.availability.create", "workforce.leave.delete", "workforce.closure.create"} <= actions


def test_a_doctor_edits_their_own_schedule_and_not_a_colleagues(world):
    me = verified_client(world["doctor_user"])
    window = {"weekday": 3, "starts_at": "09:00", "ends_at": "12:00"}
    assert me.post(_url(world["doctor"], "availability/"), window, format="json").status_code == 201
    leave = {"starts_on": "2030-02-04", "ends_on": "2030-02-04"}
    assert me.post(_url(world["doctor"], "leave/"), leave, format="json").status_code == 201
    for path, body in (
        ("availability/", window),
        ("leave/", leave),
        ("closures/", {"starts_at": "2030-02-04T12:00:00Z", "ends_at": "2030-02-04T13:00:00Z"}),
    ):
        response = me.post(_url(world["colleague"], path), body, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN"), path
    their_window = world["desk"].get(_url(world["colleague"], "availability/")).json()[0]
    response = me.delete(_url(world["colleague"], f"availability/{their_window['id']}/"))
    assert response.status_code == 403
    response = me.patch(_url(world["doctor"]), {"consultation_fee": "1"}, format="json")
    assert response.status_code == 403  # the profile itself is the staff managers'
    assert me.post("/api/v1/practitioners/", {}, format="json").status_code in (400, 403)


def test_another_organizations_practitioner_is_not_found(world, org_b, member_client):
    theirs = practitioner(org_b, weekdays=[0])
    admin = world["admin"]
    for method, path, body in (
        ("get", _url(theirs), None),
        ("patch", _url(theirs), {"specialization": "x"}),
        ("post", _url(theirs, "deactivate/"), None),
        ("get", _url(theirs, "availability/"), None),
        ("post", _url(theirs, "availability/"), {"weekday": 2, "starts_at": "09:00", "ends_at": "10:00"}),
        ("post", _url(theirs, "leave/"), {"starts_on": "2030-02-04", "ends_on": "2030-02-04"}),
        ("get", _url(theirs, "closures/"), None),
        ("get", "/api/v1/practitioners/not-an-id/", None),
    ):
        response = getattr(admin, method)(path, body, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), (method, path)
    assert admin.get("/api/v1/practitioners/").json()["count"] == 2


def test_roles_and_people_outside_the_staff_are_refused(world, org_a, member_client):
    patient = member_client(None)
    assert patient.get("/api/v1/practitioners/").status_code == 403
    desk = world["desk"]
    assert desk.post(_url(world["doctor"], "deactivate/")).status_code == 403
    window = {"weekday": 3, "starts_at": "09:00", "ends_at": "12:00"}
    assert desk.post(_url(world["doctor"], "availability/"), window, format="json").status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("", {"user_id": "nope", "specialization": "x", "licence_number": "y"}),
        ("", {"specialization": "x", "licence_number": "y"}),
        ("{doctor}/availability/", {"weekday": 9, "starts_at": "09:00", "ends_at": "10:00"}),
        ("{doctor}/availability/", {"weekday": 3, "starts_at": "10:00", "ends_at": "09:00"}),
        ("{doctor}/availability/", {"weekday": 3, "starts_at": "25:00", "ends_at": "26:00"}),
        ("{doctor}/leave/", {"starts_on": "2030-02-05", "ends_on": "2030-02-04"}),
        ("{doctor}/closures/", {"starts_at": "2030-02-04T12:00:00Z", "ends_at": "2030-02-04T11:00:00Z"}),
        ("{doctor}/closures/", {"starts_at": "yesterday", "ends_at": "2030-02-04T11:00:00Z"}),
    ],
)
def test_bad_input_is_a_400_with_the_field(world, path, body):
    response = world["admin"].post(
        "/api/v1/practitioners/" + path.format(doctor=world["doctor"].id), body, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"]


def test_a_window_outside_the_opening_hours_is_a_400(world, org_a):
    from phb.organizations import services as organization_services
    from tests.workforce.factories import admin_ctx

    organization_services.opening_hours_set(ctx=admin_ctx(org_a), hours=[(3, dt.time(8), dt.time(12))])
    response = world["admin"].post(
        _url(world["doctor"], "availability/"), {"weekday": 3, "starts_at": "07:00", "ends_at": "11:00"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "OUTSIDE_OPENING_HOURS")
