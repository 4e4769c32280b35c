"""The API of rescheduling, referral, the patient's cancellation, telemedicine links and my
notifications: happy paths, bad input's codes, someone else's appointment as 404."""

from __future__ import annotations

import datetime as dt

import pytest

from phb.scheduling import reminders, services
from tests.accounts.factories import UserFactory, verified_client
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org_a, member_client):
    user = UserFactory()
    patient = make_patient(user=user)
    register_at_desk(desk_ctx(org_a), patient)
    doctor = practitioner(org_a)
    day = tomorrow(org_a) + dt.timedelta(days=3)
    appointment = services.appointment_book(
        ctx=desk_ctx(org_a), patient_id=patient.id, practitioner_id=doctor.id, start_at=local(org_a, day, 9)
    )
    return {
        "desk": member_client(org_a, "receptionist"),
        "me": verified_client(user),
        "doctor": doctor,
        "day": day,
        "url": f"/api/v1/appointments/{appointment.id}/",
        "apt": appointment,
    }


def test_reschedule(org_a, world):
    response = world["desk"].post(
        f"{world['url']}reschedule/", {"start_at": local(org_a, world["day"], 10).isoformat()}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert world["desk"].get(world["url"]).json()["appointment"]["rescheduled_to_id"] == response.json()["id"]


def test_reschedule_bad_input(org_a, world):
    post = lambda body: world["desk"].post(f"{world['url']}reschedule/", body, format="json")  # noqa: E731
    assert post({}).status_code == 400
    assert post({"start_at": "2001-01-01T09:00:00+01:00"}).json()["code"] == "IN_THE_PAST"
    services.appointment_book(
        ctx=desk_ctx(org_a),
        patient_id=registered_patient(org_a).id,
        practitioner_id=world["doctor"].id,
        start_at=local(org_a, world["day"], 11),
    )
    response = post({"start_at": local(org_a, world["day"], 11).isoformat()})
    assert (response.status_code, response.json()["code"]) == (409, "SLOT_TAKEN")


def test_refer(org_a, org_b, world):
    target = DepartmentFactory(organization=org_a)
    post = lambda body: world["desk"].post(f"{world['url']}refer/", body, format="json")  # noqa: E731
    assert post({"to_department_id": str(target.id)}).status_code == 400
    assert post({"to_department_id": str(target.id), "reason": ""}).status_code == 400
    response = post(
        {
            "to_department_id": str(DepartmentFactory(organization=org_b).id),
            "to_organization_id": str(org_b.id),
            "reason": "x",
        }
    )
    assert (response.status_code, response.json()["code"]) == (409, "CONSENT_REQUIRED")
    response = post({"to_department_id": str(target.id), "reason": "needs ENT"})
    assert response.status_code == 201, response.json()
    assert response.json()["referred_from_id"] == str(world["apt"].id)


def test_a_patient_cancels_their_own_but_not_after_the_cutoff(org_a, world, settings):
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 24 * 30
    response = world["me"].post(f"{world['url']}cancel/", {"reason": "away"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "CANCELLATION_CUTOFF_PASSED")
    settings.SCHEDULING_CANCEL_CUTOFF_HOURS = 24
    stranger = verified_client(UserFactory())
    assert stranger.post(f"{world['url']}cancel/", {"reason": "x"}, format="json").status_code == 404
    response = world["me"].post(f"{world['url']}cancel/", {"reason": "away"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"


def test_telemedicine_outside_the_window_and_someone_elses(org_a, world, member_client):
    video = services.appointment_book(
        ctx=desk_ctx(org_a),
        patient_id=world["apt"].patient_id,
        practitioner_id=practitioner(org_a, specialization="dermatology").id,
        start_at=local(org_a, world["day"], 11),
        kind="telemedicine",
    )
    url = f"/api/v1/appointments/{video.id}/telemedicine/"
    response = world["me"].get(url)
    assert (response.status_code, response.json()["code"]) == (409, "TELEMEDICINE_NOT_OPEN")
    assert "opens_at" in response.json()
    assert verified_client(UserFactory()).get(url).status_code == 404
    assert world["desk"].get(url).status_code == 404
    assert world["me"].get(f"{world['url']}telemedicine/").status_code == 404  # not a video appointment


def test_my_notifications(org_a, world, api_client):
    reminders.reminders_send_due(now=world["apt"].start_at - dt.timedelta(days=2))
    response = world["me"].get("/api/v1/me/notifications/")
    assert response.status_code == 200
    [note] = response.json()["results"]
    assert world["apt"].reference in note["body"]
    assert world["desk"].get("/api/v1/me/notifications/").json()["results"] == []
    assert api_client.get("/api/v1/me/notifications/").status_code in (401, 403)
