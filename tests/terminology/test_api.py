"""/api/v1/terminology/: staff search and look codes up; anonymous callers, patients and staff without
their second factor get nothing; bad input and unknown systems get problem details."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory, staff_member
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db
ROOT = "/api/v1/terminology/"
SEARCH = "/api/v1/terminology/icd10-cm/"
PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def _shipped():
    ensure_code_systems()


@pytest.fixture
def doctor(member_client, org_a):
    return member_client(org_a, "doctor")


def test_staff_search_by_code_and_words(doctor):
    response = doctor.get(SEARCH, {"q": "e11.9", "limit": 3})
    assert response.status_code == 200
    first = response.json()[0]
    assert first == {
        "system": "http://hl7.org/fhir/sid/icd-10-cm",
        "code": "E11.9",
        "display": "Type 2 diabetes mellitus without complications",
        "selectable": True,
        "level": "subcategory",
        "parent_code": "E11",
        "active": True,
        "heading": False,
        "properties": {},
    }
    words = doctor.get(SEARCH, {"q": "diab mell typ 2"}).json()
    assert len(words) == 20
    assert all(c["code"].startswith(("E11", "E10", "O24", "Z")) or "2" in c["display"] for c in words)


def test_any_staff_role_may_search(member_client, org_a):
    for role in ("receptionist", "pharmacist", "billing_officer"):
        assert member_client(org_a, role).get(SEARCH, {"q": "asthma"}).status_code == 200


def test_look_a_code_up(doctor):
    response = doctor.get(SEARCH + "B20/")
    assert response.status_code == 200
    assert response.json()["display"] == "Human immunodeficiency virus [HIV] disease"
    assert doctor.get(SEARCH + "e119/").json()["code"] == "E11.9"
    loinc = doctor.get(ROOT + "loinc/8480-6/").json()
    assert loinc["properties"] == {"category": "vital-signs", "unit": "mm[Hg]"}
    missing = doctor.get(SEARCH + "E11.99/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == PROBLEM
    assert missing.json()["code"] == "NOT_FOUND"


def test_the_systems_held(doctor):
    systems = {s["slug"]: s for s in doctor.get(ROOT).json()}
    assert set(systems) == {"icd10-cm", "loinc", "drugs"}
    assert systems["drugs"]["uri"] == "https://phb.health/fhir/CodeSystem/drugs"
    assert systems["icd10-cm"]["concept_count"] == 98_466
    assert systems["icd10-cm"]["uri"] == "http://hl7.org/fhir/sid/icd-10-cm"
    assert "Regenstrief" in systems["loinc"]["copyright"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"q": "asthma", "limit": 0}, "limit"),
        ({"q": "asthma", "limit": 51}, "limit"),
        ({"q": "asthma", "limit": "many"}, "limit"),
        ({"q": "%%%"}, "q"),
    ],
)
def test_bad_search_input_is_a_400_problem(doctor, params, field):
    response = doctor.get(SEARCH, params)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == [field]


@pytest.mark.parametrize("system", ["icd-11", "snomed-ct", "junk-id"])
def test_an_unknown_system_is_a_404_problem(doctor, system):
    for path in (f"{ROOT}{system}/", f"{ROOT}{system}/E11.9/"):
        response = doctor.get(path, {"q": "diabetes"})
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
        assert response.json()["code"] == "UNKNOWN_CODE_SYSTEM"


def test_anonymous_callers_get_401(api_client):
    for path in (ROOT, SEARCH, SEARCH + "E11.9/"):
        response = api_client.get(path, {"q": "asthma"})
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"


def test_patients_and_staff_without_their_second_factor_get_403(org_a):
    patient = APIClient()
    patient.force_login(UserFactory())
    unverified, _ = staff_member(org_a, "doctor")
    staff = APIClient()
    staff.force_login(unverified)
    for client in (patient, staff):
        for path in (ROOT, SEARCH, SEARCH + "E11.9/"):
            response = client.get(path, {"q": "asthma"})
            assert response.status_code == 403, path
            assert response["Content-Type"] == PROBLEM


def test_a_platform_operator_outside_any_organization_gets_403(operator_client):
    assert operator_client.get(SEARCH, {"q": "asthma"}).status_code == 403


def test_a_search_is_one_query_besides_signing_in(doctor):
    with CaptureQueriesContext(connection) as captured:
        assert doctor.get(SEARCH, {"q": "E11"}).status_code == 200
    assert len([q for q in captured.captured_queries if "terminology_" in q["sql"]]) == 1
