"""Clinical writes over HTTP: each of the five types created by a system client and by a clinician,
read back valid (R4B) and carrying what was sent; the blood-pressure panel; a status update; the
refusals (no value, another organization's patient, no write scope); a transaction of Synthea's shape;
the CapabilityStatement."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from phb.clinical.models import Observation
from phb.kernel.context import Ctx
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.interop.fhir_helpers import BASE, fhir_get, staff_client, system_client, validate
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def post(client, path: str, body):
    return client.generic("POST", BASE + path, json.dumps(body), content_type=FHIR)


def put(client, path: str, body, etag: str):
    return client.generic("PUT", BASE + path, json.dumps(body), content_type=FHIR, HTTP_IF_MATCH=etag)


def _lab(patient_id, **extra) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": "2093-3", "display": "Cholesterol [Mass/volume] in Serum"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2024-02-03T08:15:00+01:00",
        "issued": "2024-02-03T10:00:00+01:00",
        "valueQuantity": {"value": 187.4, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"},
        **extra,
    }


def _created(client, body) -> dict:
    response = post(client, body["resourceType"], body)
    assert response.status_code == 201, response.content
    created = response.json()
    validate(created)
    read = fhir_get(client, f"{body['resourceType']}/{created['id']}")
    assert read.status_code == 200
    assert read.json() == created
    assert response["Location"].endswith(
        f"{body['resourceType']}/{created['id']}/_history/{created['meta']['versionId']}"
    )
    return created


@pytest.fixture
def lab(org_a):
    return system_client(org_a, "system/*.*")


def test_a_client_writes_each_clinical_type_and_reads_back_what_it_sent(org_a, lab):
    patient = patient_at(org_a, years=30)
    subject = {"reference": f"Patient/{patient.id}"}
    visit = _created(
        lab,
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [
                {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "185349003", "display": "Encounter for check up"}
                    ]
                }
            ],
            "subject": subject,
            "period": {"start": "2024-02-03T08:00:00Z", "end": "2024-02-03T08:45:00Z"},
        },
    )
    assert visit["status"] == "finished"
    assert visit["type"][0]["coding"][0]["code"] == "185349003"
    assert visit["period"] == {"start": "2024-02-03T08:00:00Z", "end": "2024-02-03T08:45:00Z"}
    at_visit = {"reference": f"Encounter/{visit['id']}"}

    cholesterol = _created(lab, _lab(patient.id, encounter=at_visit))
    assert cholesterol["category"][0]["coding"][0]["code"] == "laboratory"
    assert cholesterol["valueQuantity"] == {"value": 187.4, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}
    assert cholesterol["effectiveDateTime"] == "2024-02-03T07:15:00Z"
    assert cholesterol["encounter"] == at_visit

    problem = _created(
        lab,
        {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "verificationStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
                ]
            },
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "55822004", "display": "Hyperlipidemia"}]},
            "subject": subject,
            "encounter": at_visit,
            "onsetDateTime": "2024-02-03T08:30:00+00:00",
        },
    )
    assert problem["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert problem["onsetDateTime"] == "2024-02-03"

    allergy = _created(
        lab,
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                        "code": "confirmed",
                    }
                ]
            },
            "type": "allergy",
            "category": ["food"],
            "criticality": "low",
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "300913006", "display": "Shellfish allergy"}]
            },
            "patient": subject,
            "recordedDate": "2020-05-01T10:00:00+00:00",
        },
    )
    assert allergy["code"]["coding"][0]["code"] == "300913006"

    shot = _created(
        lab,
        {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {
                "coding": [
                    {
                        "system": "http://hl7.org/fhir/sid/cvx",
                        "code": "140",
                        "display": "Influenza, seasonal, injectable, preservative free",
                    }
                ]
            },
            "patient": subject,
            "occurrenceDateTime": "2023-10-12T09:00:00+00:00",
            "primarySource": True,
        },
    )
    assert shot["vaccineCode"]["coding"][0]["code"] == "140"
    assert shot["occurrenceDateTime"] == "2023-10-12"


def test_a_clinician_with_a_care_relationship_records_vital_signs_and_a_panel(org_a):
    department = DepartmentFactory(organization=org_a)
    nurse_client = staff_client(org_a, "nurse", department=department)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    walk_in(doctor, patient, department)
    now = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
    panel = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
        "subject": {"reference": f"Patient/{patient.id}"},
        "effectiveDateTime": now,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 118, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 76, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    systolic = _created(nurse_client, panel)
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert systolic["valueQuantity"]["value"] == 118
    assert systolic["interpretation"][0]["coding"][0]["code"] == "N"
    found = fhir_get(nurse_client, f"Observation?patient=Patient/{patient.id}&code=8462-4")
    diastolic = [e["resource"] for e in found.json()["entry"]]
    assert [d["valueQuantity"]["value"] for d in diastolic] == [76]
    validate(diastolic[0])
    vitals = fhir_get(nurse_client, f"Observation?patient=Patient/{patient.id}&category=vital-signs")
    assert vitals.json()["total"] == 2
    assert fhir_get(nurse_client, f"Observation?patient=Patient/{patient.id}&category=laboratory").json()["total"] == 0


def test_status_update_enters_an_observation_in_error(org_a, lab):
    patient = patient_at(org_a)
    created = _created(lab, _lab(patient.id))
    etag = f'W/"{created["meta"]["versionId"]}"'
    response = put(lab, f"Observation/{created['id']}", {**created, "status": "entered-in-error"}, etag)
    assert response.status_code == 200, response.content
    validate(response.json())
    assert response.json()["status"] == "entered-in-error"
    changed = put(
        lab,
        f"Observation/{created['id']}",
        {**response.json(), "status": "final", "valueQuantity": {**created["valueQuantity"], "value": 200}},
        f'W/"{response.json()["meta"]["versionId"]}"',
    )
    assert changed.status_code == 422, changed.content
    deleted = lab.generic("DELETE", BASE + f"Observation/{created['id']}")
    assert deleted.status_code == 405


def test_refusals_are_operation_outcomes(org_a, org_b, lab):
    patient = patient_at(org_a)
    no_value = _lab(patient.id)
    no_value.pop("valueQuantity")
    response = post(lab, "Observation", no_value)
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.value[x]"]
    elsewhere = patient_at(org_b)
    response = post(lab, "Observation", _lab(elsewhere.id))
    assert response.status_code == 404
    reader = system_client(org_a, "system/*.read")
    assert post(reader, "Observation", _lab(patient.id)).status_code == 403
    assert Observation.objects.for_tenant(Ctx.system(reason="test", organization_id=org_a.id)).count() == 0


def test_a_transaction_of_synthea_shape_resolves_its_references(org_a, lab):
    patient = patient_at(org_a, years=50)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6d1ab6a1-9d52-4e6e-8d3c-7d0bbd1f6a01",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
                    "subject": {"reference": f"Patient/{patient.id}"},
                    "period": {"start": "2019-07-01T10:00:00+00:00", "end": "2019-07-01T11:00:00+00:00"},
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
            {
                "fullUrl": "urn:uuid:6d1ab6a1-9d52-4e6e-8d3c-7d0bbd1f6a02",
                "resource": _lab(
                    patient.id,
                    encounter={"reference": "urn:uuid:6d1ab6a1-9d52-4e6e-8d3c-7d0bbd1f6a01"},
                    effectiveDateTime="2019-07-01T10:20:00+00:00",
                ),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = post(lab, "", bundle)
    assert response.status_code == 200, response.content
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created"]
    encounter, observation = (e["resource"] for e in entries)
    validate(observation)
    assert observation["encounter"] == {"reference": f"Encounter/{encounter['id']}"}
    assert fhir_get(lab, f"Observation/{observation['id']}").json() == observation


def test_the_capability_statement_lists_create_and_update_of_the_clinical_types(api_client):
    statement = api_client.get(BASE + "metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for name in ("Encounter", "Observation", "Condition", "AllergyIntolerance", "Immunization"):
        interactions = {i["code"] for i in resources[name]["interaction"]}
        assert {"create", "update"} <= interactions, name
        assert "delete" not in interactions, name
