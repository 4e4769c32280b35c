"""The clinical API: happy paths, the step-up window, the missing role (403), another organization's
or an unrelated patient's record (404), bad input (400 problem details), a signed note refused (409)."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from phb.clinical.models import CriticalAlert, Encounter
from phb.kernel.context import Ctx
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.clinical.factories import NORMAL_ADULT, patient_at
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


def client_for(organization, *roles, department=None, med_access=True):
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles), department=department)
    client = verified_client(user)
    if med_access:
        session = client.session
        session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
        session.save()
    return client


@pytest.fixture
def clinic(org_a):
    department = DepartmentFactory(organization=org_a)
    return {
        "department": department,
        "doctor": client_for(org_a, "doctor", department=department),
        "nurse": client_for(org_a, "nurse", department=department),
        "patient": patient_at(org_a),
    }


def start(clinic):
    response = clinic["doctor"].post(
        f"/api/v1/patients/{clinic['patient'].id}/encounters/",
        {"department_id": str(clinic["department"].id), "reason": "fever"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_walk_in_list_and_finish(clinic):
    encounter = start(clinic)
    assert encounter["status"] == "in_progress"
    assert encounter["reason"] == "fever"
    listed = clinic["nurse"].get(f"/api/v1/patients/{clinic['patient'].id}/encounters/").json()
    assert [e["id"] for e in listed["results"]] == [encounter["id"]]
    finished = clinic["doctor"].post(f"/api/v1/encounters/{encounter['id']}/finish/")
    assert finished.json()["status"] == "finished"
    again = clinic["doctor"].post(f"/api/v1/encounters/{encounter['id']}/finish/")
    assert again.status_code == 409
    assert again.json()["code"] == "ILLEGAL_TRANSITION"


def test_every_endpoint_needs_the_step_up_window(org_a, clinic):
    start(clinic)
    fresh = client_for(org_a, "doctor", department=clinic["department"], med_access=False)
    response = fresh.get(f"/api/v1/patients/{clinic['patient'].id}/encounters/")
    assert response.status_code == 403
    assert response.json()["code"] == "MED_ACCESS_REQUIRED"
    assert fresh.get("/api/v1/me/critical-alerts/").json()["code"] == "MED_ACCESS_REQUIRED"


def test_a_role_without_clinical_access_is_forbidden(org_a, clinic):
    desk = client_for(org_a, "receptionist")
    response = desk.get(f"/api/v1/patients/{clinic['patient'].id}/vital-signs/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"


def test_an_unrelated_or_foreign_patient_is_not_found(org_a, org_b, clinic):
    encounter = start(clinic)
    stranger = client_for(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = client_for(org_b, "doctor")
    for client in (stranger, foreign):
        for path in (
            f"/api/v1/patients/{clinic['patient'].id}/encounters/",
            f"/api/v1/patients/{clinic['patient'].id}/vital-signs/",
            f"/api/v1/patients/{clinic['patient'].id}/notes/",
            f"/api/v1/encounters/{encounter['id']}/",
            f"/api/v1/patients/{uuid.uuid4()}/notes/",
            "/api/v1/encounters/not-an-id/",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "NOT_FOUND"
        assert client.post(f"/api/v1/encounters/{encounter['id']}/finish/").status_code == 404


def test_record_vital_signs_and_read_them_back(clinic):
    encounter = start(clinic)
    response = clinic["nurse"].post(
        f"/api/v1/patients/{clinic['patient'].id}/vital-signs/",
        {
            "encounter_id": encounter["id"],
            "on_supplemental_oxygen": False,
            "values": {**NORMAL_ADULT, "heart_rate": 135, "weight": 70, "height": 175},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["news2"]["score"] == 3
    assert body["news2"]["response"] == "low_medium"
    assert body["news2"]["single_parameter_3"] is True
    by_name = {o["name"]: o for o in body["observations"]}
    assert by_name["heart_rate"]["interpretation"] == "HH"
    assert by_name["heart_rate"]["unit"] == "/min"
    assert by_name["bmi"]["value"] == "22.9"
    listed = clinic["doctor"].get(f"/api/v1/patients/{clinic['patient'].id}/vital-signs/", {"limit": 5}).json()
    assert [s["id"] for s in listed] == [body["id"]]
    assert (
        clinic["doctor"].get(f"/api/v1/patients/{clinic['patient'].id}/vital-signs/", {"limit": "x"}).status_code == 400
    )


def test_bad_vital_signs_are_a_400_naming_each_field(clinic):
    start(clinic)
    response = clinic["nurse"].post(
        f"/api/v1/patients/{clinic['patient'].id}/vital-signs/",
        {"values": {"heart_rate": 900, "temperature": "hot", "consciousness": "Z"}},
        format="json",
    )
    assert response.status_code == 400
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("heart_rate", "out_of_physiological_range"),
        ("temperature", "not_a_number"),
        ("consciousness", "unknown_code"),
    }
    assert (
        clinic["nurse"]
        .post(f"/api/v1/patients/{clinic['patient'].id}/vital-signs/", {"values": "x"}, format="json")
        .status_code
        == 400
    )


def test_alerts_for_me_and_acknowledgement(clinic):
    start(clinic)
    clinic["nurse"].post(
        f"/api/v1/patients/{clinic['patient'].id}/vital-signs/",
        {"values": {"systolic_bp": 80, "diastolic_bp": 50}},
        format="json",
    )
    mine = clinic["nurse"].get("/api/v1/me/critical-alerts/").json()["results"]
    assert len(mine) == 1
    assert mine[0]["reference"].startswith("CA-")
    assert mine[0]["findings"] == [{"code": "8480-6", "flag": "LL"}]
    assert clinic["doctor"].get("/api/v1/me/critical-alerts/").json()["results"] == []
    url = f"/api/v1/critical-alerts/{mine[0]['id']}/acknowledge/"
    assert clinic["doctor"].post(url).status_code == 404
    done = clinic["nurse"].post(url)
    assert done.status_code == 200
    assert done.json()["status"] == "acknowledged"
    assert clinic["nurse"].post(url).json()["code"] == "ALERT_ACKNOWLEDGED"
    assert CriticalAlert.objects.for_system(Ctx.system(reason="test")).get().acknowledged_at is not None
    assert clinic["nurse"].get("/api/v1/me/critical-alerts/", {"status": "bogus"}).status_code == 400


def test_notes_draft_sign_addendum_and_a_signed_note_refuses_a_patch(clinic):
    encounter = start(clinic)
    created = clinic["doctor"].post(
        f"/api/v1/patients/{clinic['patient'].id}/notes/",
        {"encounter_id": encounter["id"], "subjective": "fever 3 days", "plan": "malaria test"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    note = created.json()
    assert note["status"] == "draft"
    url = f"/api/v1/notes/{note['id']}/"
    assert clinic["doctor"].patch(url, {"assessment": "malaria?"}, format="json").json()["assessment"] == "malaria?"
    assert clinic["nurse"].get(url).status_code == 404  # a draft is its author's
    assert clinic["nurse"].post(f"{url}sign/").status_code == 404
    signed = clinic["doctor"].post(f"{url}sign/")
    assert signed.json()["status"] == "signed"
    refused = clinic["doctor"].patch(url, {"plan": "changed"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOTE_SIGNED"
    addendum = clinic["nurse"].post(f"{url}addenda/", {"text": "test positive"}, format="json")
    assert addendum.status_code == 201
    assert addendum.json()["amends_id"] == note["id"]
    read = clinic["nurse"].get(url).json()
    assert read["plan"] == "malaria test"
    assert [a["text"] for a in read["addenda"]] == ["test positive"]
    listed = clinic["nurse"].get(f"/api/v1/patients/{clinic['patient'].id}/notes/", {"encounter_id": encounter["id"]})
    assert [n["id"] for n in listed.json()] == [note["id"]]
    assert clinic["doctor"].post(f"{url}addenda/", {}, format="json").status_code == 400


def test_note_templates_for_a_department(org_a, clinic):
    from phb.clinical import services

    services.note_templates_seed(ctx=Ctx.system(reason="test", organization_id=org_a.id))
    response = clinic["doctor"].get("/api/v1/note-templates/", {"department_id": str(clinic["department"].id)})
    assert response.status_code == 200
    assert response.json()[0]["name"] == "Outpatient consultation"  # the factory's departments are outpatients


def test_the_walk_in_refuses_bad_input(clinic):
    url = f"/api/v1/patients/{clinic['patient'].id}/encounters/"
    assert clinic["doctor"].post(url, {"department_id": "nope"}, format="json").status_code == 400
    response = clinic["doctor"].post(url, {"department_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_department"
    assert not Encounter.objects.for_system(Ctx.system(reason="test")).exists()
