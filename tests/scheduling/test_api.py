"""The appointments API: happy paths, another organization's 404, the missing role's 403, bad input's
400, idempotent booking, and the audit of every read."""

from __future__ import annotations

import pytest

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.scheduling.factories import local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org_a, member_client):
    return {
        "desk": member_client(org_a, "receptionist"),
        "doctor": member_client(org_a, "doctor"),
        "practitioner": practitioner(org_a),
        "patient": registered_patient(org_a),
        "start": local(org_a, tomorrow(org_a), 9).isoformat(),
    }


def _book(world, client=None, **extra):
    body = {
        "patient_id": str(world["patient"].id),
        "practitioner_id": str(world["practitioner"].id),
        "start_at": world["start"],
        "chief_complaint": "headache",
        "symptoms": ["nausea"],
        **extra,
    }
    return (client or world["desk"]).post("/api/v1/appointments/", body, format="json")


def _audit(action):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=action)


def test_book_list_open_and_walk_through_the_visit(world):
    response = _book(world)
    assert response.status_code == 201, response.json()
    appointment = response.json()
    assert appointment["reference"].startswith("APT-")
    assert appointment["status"] == "pending"
    assert appointment["symptoms"] == ["nausea"]
    listed = world["desk"].get("/api/v1/appointments/", {"status": "pending"}).json()
    assert [a["id"] for a in listed["results"]] == [appointment["id"]]
    assert _audit("scheduling.appointment.list").exists()
    url = f"/api/v1/appointments/{appointment['id']}/"
    for client, action, expected in (
        (world["desk"], "confirm", "confirmed"),
        (world["desk"], "check-in", "checked_in"),
        (world["doctor"], "start", "in_progress"),
        (world["doctor"], "complete", "completed"),
    ):
        response = client.post(f"{url}{action}/", {}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == expected
    detail = world["desk"].get(url).json()
    assert [h["to_status"] for h in detail["history"]] == [
        "pending",
        "confirmed",
        "checked_in",
        "in_progress",
        "completed",
    ]
    assert _audit("scheduling.appointment.view").filter(resource_id=appointment["id"]).exists()


def test_an_illegal_transition_and_a_missing_reason(world):
    appointment = _book(world).json()
    url = f"/api/v1/appointments/{appointment['id']}/"
    response = world["doctor"].post(f"{url}complete/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "ILLEGAL_TRANSITION"
    response = world["desk"].post(f"{url}cancel/", {}, format="json")
    assert response.status_code == 400
    assert world["desk"].post(f"{url}cancel/", {"reason": "travelling"}, format="json").json()["status"] == "cancelled"


def test_booking_rules_answer_with_their_codes(world):
    assert _book(world).status_code == 201
    response = _book(world, patient_id=str(registered_patient(world["practitioner"].organization).id))
    assert response.status_code == 409
    assert response.json()["code"] == "SLOT_TAKEN"
    response = _book(world, start_at="2001-01-01T09:00:00+01:00")
    assert response.status_code == 400
    assert response.json()["code"] == "IN_THE_PAST"


def test_check_conflict_and_free_slots(world, org_a):
    body = {
        "patient_id": str(world["patient"].id),
        "practitioner_id": str(world["practitioner"].id),
        "start_at": world["start"],
    }
    answer = world["desk"].post("/api/v1/appointments/check-conflict/", body, format="json").json()
    assert answer == {"conflict": False, "code": "", "detail": ""}
    day = tomorrow(org_a).isoformat()
    free = world["desk"].get(
        "/api/v1/appointments/slots/",
        {"practitioner": str(world["practitioner"].id), "start_date": day, "end_date": day},
    )
    assert free.status_code == 200
    assert len(free.json()) == 16
    _book(world)
    answer = world["desk"].post("/api/v1/appointments/check-conflict/", body, format="json").json()
    assert answer["code"] == "SLOT_TAKEN"


def test_idempotency_key_returns_the_first_result(world):
    first = _book(world, client=None)
    headers = {"HTTP_IDEMPOTENCY_KEY": "booking-42"}
    body = {
        "patient_id": str(world["patient"].id),
        "practitioner_id": str(world["practitioner"].id),
        "start_at": world["start"].replace("T09:00", "T10:00"),
    }
    assert first.status_code == 201
    world["desk"].post(f"/api/v1/appointments/{first.json()['id']}/cancel/", {"reason": "moved"}, format="json")
    one = world["desk"].post("/api/v1/appointments/", body, format="json", **headers)
    two = world["desk"].post("/api/v1/appointments/", body, format="json", **headers)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"]
    other = world["desk"].post("/api/v1/appointments/", {**body, "notes": "x"}, format="json", **headers)
    assert other.status_code == 409
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_another_organization_gets_404(world, org_b, member_client):
    appointment = _book(world).json()
    outsider = member_client(org_b, "receptionist")
    url = f"/api/v1/appointments/{appointment['id']}/"
    assert outsider.get(url).status_code == 404
    assert outsider.post(f"{url}confirm/", {}, format="json").status_code == 404
    assert outsider.get("/api/v1/appointments/").json()["results"] == []
    assert world["desk"].get("/api/v1/appointments/not-a-uuid/").status_code == 404
    assert _audit("scheduling.appointment.view").filter(outcome="denied").exists()


def test_roles_without_scheduling_get_403(world, org_a, member_client):
    cashier = member_client(org_a, "cashier")
    assert cashier.get("/api/v1/appointments/").status_code == 403
    assert _book(world, client=cashier).status_code == 403
    assert _audit("scheduling.appointment.list").filter(outcome="denied").exists()


def test_bad_input_is_a_400_never_a_500(world):
    for body in ({}, {"patient_id": "x", "start_at": "soon"}, {"patient_id": str(world["patient"].id)}):
        response = world["desk"].post("/api/v1/appointments/", body, format="json")
        assert response.status_code == 400
    assert world["desk"].get("/api/v1/appointments/", {"date": "yesterday"}).status_code == 400
    assert world["desk"].get("/api/v1/appointments/slots/", {"start_date": "2030-01-01"}).status_code == 400
    response = _book(world, symptoms="not a list")
    assert response.status_code == 400
