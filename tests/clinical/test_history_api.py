"""The API of allergies, history and immunizations: happy paths, the step-up window, the missing role
(403), an unrelated or foreign patient (404), bad input (400 problem details, never a 500), the
conflicts (409) of "no known allergies" and duplicate allergies."""

import uuid

import pytest

from tests.clinical.history_factories import RXNORM_PENICILLIN, SNOMED_HIVES
from tests.clinical.test_api import client_for, start
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
PENICILLIN = {
    "substance": RXNORM_PENICILLIN,
    "category": "medication",
    "criticality": "high",
    "reactions": [{"manifestation": SNOMED_HIVES, "severity": "moderate", "onset_on": "2019-03-02"}],
}


@pytest.fixture
def clinic(org_a):
    department = DepartmentFactory(organization=org_a)
    from tests.clinical.factories import patient_at

    clinic = {
        "department": department,
        "doctor": client_for(org_a, "doctor", department=department),
        "nurse": client_for(org_a, "nurse", department=department),
        "patient": patient_at(org_a),
    }
    start(clinic)
    clinic["base"] = f"/api/v1/patients/{clinic['patient'].id}"
    return clinic


def test_allergies_and_no_known_allergies(clinic):
    doctor, base = clinic["doctor"], clinic["base"]
    nka = doctor.post(f"{base}/no-known-allergies/", {"note": "asked"}, format="json")
    assert nka.status_code == 201, nka.json()
    assert nka.json()["current"] is True
    made = doctor.post(f"{base}/allergies/", PENICILLIN, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["substance"]["code"] == "7980"
    assert body["reactions"][0]["severity"] == "moderate"
    statements = doctor.get(f"{base}/no-known-allergies/").json()
    assert statements[0]["retired_reason"] == "allergy_recorded"
    again = doctor.post(f"{base}/allergies/", PENICILLIN, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "ALLERGY_DUPLICATE"
    refused = doctor.post(f"{base}/no-known-allergies/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "ACTIVE_ALLERGIES"
    listed = clinic["nurse"].get(f"{base}/allergies/").json()
    assert [a["id"] for a in listed] == [body["id"]]
    patched = doctor.patch(f"/api/v1/allergies/{body['id']}/", {"verification_status": "confirmed"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["verification_status"] == "confirmed"
    assert patched.json()["criticality"] == "high"
    wrong = doctor.post(f"/api/v1/allergies/{body['id']}/entered-in-error/", {"reason": "wrong chart"}, format="json")
    assert wrong.json()["verification_status"] == "entered-in-error"
    assert doctor.get(f"{base}/allergies/").json() == []
    assert len(doctor.get(f"{base}/allergies/", {"include_entered_in_error": "true"}).json()) == 1
    assert doctor.get(f"/api/v1/allergies/{body['id']}/").json()["entered_in_error_reason"] == "wrong chart"
    nka = doctor.post(f"{base}/no-known-allergies/", {}, format="json").json()
    retired = doctor.post(f"/api/v1/no-known-allergies/{nka['id']}/entered-in-error/")
    assert retired.json()["retired_reason"] == "entered_in_error"


def test_history_social_history_and_immunizations(clinic):
    doctor, base = clinic["doctor"], clinic["base"]
    entry = doctor.post(
        f"{base}/history/",
        {"kind": "family", "concept": {"text": "Hypertension"}, "relationship": "FTH", "onset_age": 50},
        format="json",
    )
    assert entry.status_code == 201, entry.json()
    entry_id = entry.json()["id"]
    assert doctor.patch(f"/api/v1/history/{entry_id}/", {"relative_deceased": True}, format="json").json()[
        "relative_deceased"
    ]
    assert [e["id"] for e in doctor.get(f"{base}/history/", {"kind": "family"}).json()] == [entry_id]
    assert doctor.get(f"{base}/history/", {"kind": "nonsense"}).status_code == 400
    social = doctor.post(f"{base}/social-history/", {"tobacco": "never", "occupation": "Teacher"}, format="json")
    assert social.status_code == 201, social.json()
    assert doctor.get(f"{base}/social-history/").json()[0]["occupation"] == "Teacher"
    shot = doctor.post(
        f"{base}/immunizations/",
        {"vaccine": {"system": "cvx", "code": "20"}, "occurred_on": "2024-01-05", "dose_number": 1, "route": "IM"},
        format="json",
    )
    assert shot.status_code == 201, shot.json()
    shot_id = shot.json()["id"]
    assert (
        doctor.patch(f"/api/v1/immunizations/{shot_id}/", {"lot_number": "L1"}, format="json").json()["lot_number"]
        == "L1"
    )
    assert doctor.get(f"/api/v1/immunizations/{shot_id}/").json()["vaccine"]["system"] == (
        "http://hl7.org/fhir/sid/cvx"
    )
    for path in (
        f"/api/v1/history/{entry_id}/entered-in-error/",
        f"/api/v1/social-history/{social.json()['id']}/entered-in-error/",
        f"/api/v1/immunizations/{shot_id}/entered-in-error/",
    ):
        response = doctor.post(path, {"reason": "mistake"}, format="json")
        assert response.status_code == 200, path
        assert doctor.post(path, {"reason": "mistake"}, format="json").json()["code"] == "ENTERED_IN_ERROR"
    assert doctor.get(f"{base}/immunizations/").json() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("allergies/", {"substance": {"text": "x"}, "category": "drug"}),
        ("allergies/", {"substance": "penicillin", "category": "food"}),
        ("allergies/", {"substance": {"system": "rxnorm", "code": "abc"}, "category": "medication"}),
        ("allergies/", {"substance": {"text": "x"}, "category": "food", "onset_on": "2999-01-01"}),
        ("allergies/", {"substance": {"text": "x"}, "category": "food", "reactions": [{"severity": "mild"}]}),
        ("allergies/", {"substance": {"text": "x"}, "category": "food", "reactions": "hives"}),
        ("allergies/", {"category": "food"}),
        ("history/", {"kind": "surgical", "concept": {"text": "x"}, "onset_age": 4}),
        ("history/", {"kind": "family", "concept": {"text": "x"}, "relationship": "MTH", "onset_age": "old"}),
        ("social-history/", {"tobacco": "never", "tobacco_pack_years": 5}),
        ("social-history/", {"alcohol_units_per_week": "many"}),
        ("immunizations/", {"vaccine": {"text": "BCG"}}),
        ("immunizations/", {"vaccine": {"text": "BCG"}, "occurred_on": "2020-01-01", "status": "not-done"}),
        ("immunizations/", {"vaccine": {"text": "BCG"}, "occurred_on": "2020-01-01", "performer_id": "bob"}),
        ("no-known-allergies/", {"note": ["not", "text"]}),
    ],
)
def test_bad_input_is_a_clear_400(clinic, path, body):
    response = clinic["doctor"].post(f"{clinic['base']}/{path}", body, format="json")
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_step_up_role_and_relationship(org_a, org_b, clinic):
    doctor, base = clinic["doctor"], clinic["base"]
    allergy_id = doctor.post(f"{base}/allergies/", PENICILLIN, format="json").json()["id"]
    fresh = client_for(org_a, "doctor", department=clinic["department"], med_access=False)
    assert fresh.get(f"{base}/allergies/").json()["code"] == "MED_ACCESS_REQUIRED"
    desk = client_for(org_a, "receptionist")
    assert desk.get(f"{base}/immunizations/").status_code == 403
    stranger = client_for(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = client_for(org_b, "doctor")
    for client in (stranger, foreign):
        for path in (
            f"{base}/allergies/",
            f"{base}/no-known-allergies/",
            f"{base}/history/",
            f"{base}/social-history/",
            f"{base}/immunizations/",
            f"/api/v1/allergies/{allergy_id}/",
            f"/api/v1/patients/{uuid.uuid4()}/allergies/",
            "/api/v1/allergies/not-an-id/",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "NOT_FOUND"
        assert client.post(f"{base}/allergies/", PENICILLIN, format="json").status_code == 404
        assert (
            client.patch(f"/api/v1/allergies/{allergy_id}/", {"criticality": "low"}, format="json").status_code == 404
        )
        response = client.post(f"/api/v1/allergies/{allergy_id}/entered-in-error/", {"reason": "x"}, format="json")
        assert response.status_code == 404
