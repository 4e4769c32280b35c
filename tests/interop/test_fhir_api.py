"""The FHIR R4 API: metadata, read, vread and search of the resources PHB stores, with the REST API's
authentication, tenancy, care relationships and auditing. Every resource a response carries is
validated with fhir.resources' R4B models (`fhir_get`)."""

from __future__ import annotations

import uuid

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from phb.interop.fhir.registry import REGISTRY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.clinical.factories import clinician
from tests.interop.fhir_helpers import BASE, chart, fhir_get, staff_client, system_client, validate
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(org_a):
    """Department D of hospital A, a nurse of D who saw a patient, a doctor of D (care relationship
    through the department) and the patient's record."""
    department = DepartmentFactory(organization=org_a)
    nurse = clinician(org_a, "nurse", department=department)
    return {
        "department": department,
        "doctor": staff_client(org_a, "doctor", department=department),
        **chart(org_a, department, nurse),
    }


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


# --- metadata --------------------------------------------------------------------------------------


def test_the_capability_statement_lists_exactly_what_the_registry_routes(api_client):
    response = api_client.get(BASE + "metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    CapabilityStatement.model_validate(body)
    rest = body["rest"][0]
    # Slot is computed (its own views, tests/interop/test_fhir_slot.py), not a registry type with rows.
    assert {r["type"] for r in rest["resource"]} == set(REGISTRY) | {"Slot"}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {p["name"] for p in patient["searchParam"]} == set(REGISTRY["Patient"].params)
    assert patient["searchRevInclude"] == ["Encounter:patient"]
    token = rest["security"]["extension"][0]["extension"][0]["valueUri"]
    assert token.endswith("/oauth/token")


def test_every_declared_search_parameter_is_accepted_in_strict_mode(org_a, ward):
    """The statement cannot lie: each parameter it declares is understood (no 'unknown parameter')."""
    client = system_client(org_a, "system/*.read")
    samples = {"date": "ge2000-01-01", "birthdate": "ge1900-01-01", "recorded-date": "ge2000", "onset-date": "ge2000"}
    for resource_type, resource in REGISTRY.items():
        for name, param in resource.params.items():
            value = samples.get(name) or {
                "reference": "Patient/" + str(ward["patient"].id),
                "date": "ge2000-01-01",
                "string": "a",
            }.get(param.type, "x")
            if name in ("practitioner",):
                value = f"Practitioner/{ward['patient'].id}"
            if name == "encounter":
                value = f"Encounter/{ward['encounter'].id}"
            if name == "phone":
                value = "%2B2348031234567"
            if name in ("gender",):
                value = "female"
            if name == "status" and resource_type == "Encounter":
                value = "finished"
            if name == "status" and resource_type == "Appointment":
                value = "booked"
            if name in ("clinical-status",) and resource_type == "Condition":
                value = "active"
            if name == "category" and resource_type == "Condition":
                value = "problem-list-item"
            value = CLOSED_TOKENS.get((resource_type, name), value)
            response = fhir_get(client, f"{resource_type}?{name}={value}", HTTP_PREFER="handling=strict")
            assert response.status_code == 200, (resource_type, name, response.json())


# Tokens over a closed set of codes (anything else is a 400): a code each may take.
CLOSED_TOKENS = {
    ("MedicationRequest", "status"): "active",
    ("MedicationRequest", "intent"): "order",
    ("MedicationDispense", "status"): "completed",
    ("CarePlan", "status"): "active",
    ("CarePlan", "category"): "assess-plan",
    ("DocumentReference", "status"): "current",
    ("DocumentReference", "category"): "lab-report",
    ("DocumentReference", "type"): "http://loinc.org|11502-2",
    ("Consent", "status"): "active",
    ("Consent", "category"): "research",
    ("Location", "status"): "active",
    ("Schedule", "active"): "true",
    ("MedicationRequest", "medication"): "Medication/amoxicillin",
    ("MedicationDispense", "medication"): "Medication/amoxicillin",
    ("MedicationDispense", "prescription"): f"MedicationRequest/{uuid.UUID(int=1)}",
    ("Location", "organization"): f"Organization/{uuid.UUID(int=1)}",
    ("Schedule", "actor"): f"Practitioner/{uuid.UUID(int=1)}",
}


# --- read, vread -----------------------------------------------------------------------------------


def test_a_clinician_reads_each_resource_of_a_patient_they_care_for(ward):
    doctor = ward["doctor"]
    for path in (
        f"Patient/{ward['patient'].id}",
        f"Encounter/{ward['encounter'].id}",
        f"Condition/{ward['diagnosis'].id}",
        f"AllergyIntolerance/{ward['allergy'].id}",
        f"Immunization/{ward['immunization'].id}",
    ):
        response = fhir_get(doctor, path)
        assert response.status_code == 200, (path, response.content)
        version = response.json()["meta"]["versionId"]
        assert response["ETag"] == f'W/"{version}"'
        assert fhir_get(doctor, f"{path}/_history/{version}").status_code == 200
        old = fhir_get(doctor, f"{path}/_history/1")
        assert old.status_code == 404
        assert old.json()["issue"][0]["details"]["coding"][0]["code"] == "VERSION_NOT_FOUND"


def test_observations_are_vital_signs_with_loinc_codes(ward):
    response = fhir_get(ward["doctor"], f"Observation?patient={ward['patient'].id}&code=http://loinc.org|8867-4")
    assert response.status_code == 200
    [entry] = response.json()["entry"]
    observation = entry["resource"]
    assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
    assert observation["valueQuantity"] == {
        "value": 72,
        "unit": "/min",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert observation["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/heartrate"]


def test_every_read_is_audited_naming_the_patient(ward):
    patient = ward["patient"]
    fhir_get(ward["doctor"], f"Condition/{ward['diagnosis'].id}")
    event = _events(action="interop.fhir.read", resource_type="fhir.Condition").get()
    assert event.patient_id == patient.id
    fhir_get(ward["doctor"], f"Observation?patient={patient.id}")
    assert _events(action="interop.fhir.search", resource_type="fhir.Observation", patient_id=patient.id).exists()


# --- tenancy and care relationships ---------------------------------------------------------------


def test_another_organization_cannot_read_or_find_an_observation(org_a, org_b, ward):
    observation = fhir_get(ward["doctor"], f"Observation?patient={ward['patient'].id}").json()["entry"][0]["resource"]
    for client in (system_client(org_b), staff_client(org_b, "doctor")):
        assert fhir_get(client, f"Observation/{observation['id']}").status_code == 404
        found = fhir_get(client, f"Observation?_id={observation['id']}").json()
        assert found["total"] == 0
        assert fhir_get(client, f"Patient/{ward['patient'].id}").status_code == 404
    assert _events(action="interop.fhir.read", outcome="denied", resource_id=observation["id"]).count() == 2


def test_a_clinician_without_a_care_relationship_gets_not_found_and_nothing(org_a, ward):
    outsider = staff_client(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    assert fhir_get(outsider, f"Encounter/{ward['encounter'].id}").status_code == 404
    assert fhir_get(outsider, f"Observation?patient={ward['patient'].id}").json()["total"] == 0
    assert fhir_get(outsider, "Condition").json()["total"] == 0


def test_the_clinical_resources_need_the_step_up_window_as_the_rest_api(org_a, ward):
    doctor = staff_client(org_a, "doctor", department=ward["department"], med_access=False)
    response = fhir_get(doctor, f"Encounter/{ward['encounter'].id}")
    assert response.status_code == 403
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "MED_ACCESS_REQUIRED"


def test_a_system_client_reads_every_patient_of_its_organization_within_its_scopes(org_a, ward):
    client = system_client(org_a, "system/Patient.read system/Observation.read")
    assert fhir_get(client, f"Patient/{ward['patient'].id}").status_code == 200
    assert fhir_get(client, f"Observation?patient={ward['patient'].id}").json()["total"] == 7
    refused = fhir_get(client, f"Condition/{ward['diagnosis'].id}")
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "INSUFFICIENT_SCOPE"
    event = _events(action="interop.fhir.read", resource_type="fhir.Patient").get()
    assert (event.actor_kind, event.actor_id) == ("client", client.registered.id)


def test_a_revoked_client_is_refused_at_once(org_a, ward):
    from phb.accounts import api_clients

    client = system_client(org_a)
    api_clients.api_client_revoke(
        ctx=Ctx.system(reason="test", organization_id=org_a.id), api_client_id=client.registered.id
    )
    response = fhir_get(client, f"Patient/{ward['patient'].id}")
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.fixture
def shared_cache(settings):
    """Redis as the cache, as a deployment of several processes has it."""
    import os

    url = os.environ.get("CACHE_URL", "")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url if url.startswith("redis") else "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }


def _registration_checks(client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert fhir_get(client, path).status_code == 200
    return sum("accounts_apiclient" in q["sql"] for q in queries.captured_queries)


def test_with_a_shared_cache_a_request_need_not_ask_whether_its_client_is_registered(shared_cache, org_a, ward):
    from django.db import transaction

    from phb.accounts import api_clients

    client = system_client(org_a)
    path = f"Patient/{ward['patient'].id}"
    assert _registration_checks(client, path) == 1
    assert _registration_checks(client, path) == 0  # known registered, in the cache every process reads
    with pytest.raises(RuntimeError), transaction.atomic():
        api_clients.api_client_revoke(
            ctx=Ctx.system(reason="test", organization_id=org_a.id), api_client_id=client.registered.id
        )
        raise RuntimeError("the revocation is rolled back")
    assert _registration_checks(client, path) == 1  # the mark sends the check to the database, which says yes
    assert _registration_checks(client, path) == 1  # and the answer is not cached over the mark
    api_clients.api_client_revoke(
        ctx=Ctx.system(reason="test", organization_id=org_a.id), api_client_id=client.registered.id
    )
    response = fhir_get(client, path)
    assert (response.status_code, response.json()["resourceType"]) == (401, "OperationOutcome")


def test_with_a_per_process_cache_every_request_asks_the_database(settings, org_a, ward):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}
    client = system_client(org_a)
    path = f"Patient/{ward['patient'].id}"
    # Another process (`phb api-client revoke`) could not reach this process's cache: it is never trusted.
    assert [_registration_checks(client, path) for _ in range(2)] == [1, 1]


# --- search ----------------------------------------------------------------------------------------


def test_patient_search_by_name_birthdate_gender_identifier_and_phone(org_a, ward):
    patient = ward["patient"]
    client = system_client(org_a, "system/Patient.read")
    year = patient.birth_date.year
    queries = [
        f"family={patient.family_name[:3]}",
        f"given={patient.given_name}",
        f"name={patient.family_name}",
        f"birthdate={patient.birth_date.isoformat()}",
        f"birthdate=ge{year}&birthdate=le{year}",
        f"gender={ {'female': 'female', 'male': 'male'}.get(patient.sex, 'unknown') }",
        f"identifier=https://phb.health/fhir/sid/hpn|{patient.hpn}",
        f"identifier={patient.hpn}",
        f"phone={patient.phone.replace('+', '%2B')}",
        f"_id={patient.id}",
    ]
    for query in queries:
        body = fhir_get(client, f"Patient?{query}").json()
        assert patient.id.hex in {e["resource"]["id"].replace("-", "") for e in body["entry"]}, query
    assert fhir_get(client, f"Patient?birthdate=lt{year}").json()["total"] == 0


def test_include_revinclude_and_chained_identifier(org_a, ward):
    client = system_client(org_a)
    patient = ward["patient"]
    body = fhir_get(client, f"Encounter?patient.identifier={patient.hpn}&_include=Encounter:patient").json()
    modes = sorted((e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"])
    assert modes == [("Encounter", "match"), ("Patient", "include")]
    body = fhir_get(client, f"Patient?_id={patient.id}&_revinclude=Encounter:patient").json()
    assert sorted(e["resource"]["resourceType"] for e in body["entry"]) == ["Encounter", "Patient"]
    body = fhir_get(client, f"Observation?patient={patient.id}&_include=Observation:patient&_count=2").json()
    assert [e["resource"]["resourceType"] for e in body["entry"]].count("Patient") == 1


def test_paging_links_are_opaque_and_stable(org_a, ward):
    client = system_client(org_a)
    patient = ward["patient"]
    first = fhir_get(client, f"Observation?patient={patient.id}&_count=3&_sort=date").json()
    seen = [e["resource"]["id"] for e in first["entry"]]
    page = first
    while next_link := next((lnk["url"] for lnk in page["link"] if lnk["relation"] == "next"), None):
        assert set(next_link.split("?")[1].split("=")[0:1]) == {"_cursor"}
        assert str(patient.id) not in next_link
        assert patient.hpn not in next_link
        page = fhir_get(client, next_link.split("/fhir/r4/")[1]).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert len(seen) == len(set(seen)) == first["total"] == 7
    previous = next(lnk["url"] for lnk in page["link"] if lnk["relation"] == "previous")
    back = fhir_get(client, previous.split("/fhir/r4/")[1]).json()
    assert [e["resource"]["id"] for e in back["entry"]] == seen[
        -len(back["entry"]) - len(page["entry"]) : -len(page["entry"])
    ]
    # another requester cannot follow the link
    assert (
        fhir_get(
            system_client(org_a), next_link.split("/fhir/r4/")[1] if next_link else previous.split("/fhir/r4/")[1]
        ).status_code
        == 400
    )


def test_total_none_and_date_prefixes(org_a, ward):
    client = system_client(org_a)
    patient = ward["patient"]
    assert "total" not in fhir_get(client, f"Observation?patient={patient.id}&_total=none").json()
    assert fhir_get(client, f"Observation?patient={patient.id}&date=ge2000-01-01").json()["total"] == 7
    assert fhir_get(client, f"Observation?patient={patient.id}&date=lt2000-01-01").json()["total"] == 0


def test_unknown_parameters_are_reported_or_refused_when_strict(org_a, ward):
    client = system_client(org_a)
    body = fhir_get(client, "Patient?shoe-size=42").json()
    outcome = next(e for e in body["entry"] if e["search"]["mode"] == "outcome")["resource"]
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "UNKNOWN_PARAMETER"
    strict = fhir_get(client, "Patient?shoe-size=42", HTTP_PREFER="handling=strict")
    assert strict.status_code == 400


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("Observation?date=xx2020-01-01", 400, "VALIDATION_ERROR"),
        ("Observation?date=2020-13-45", 400, "VALIDATION_ERROR"),
        ("Observation?_count=0", 400, "VALIDATION_ERROR"),
        ("Observation?_count=abc", 400, "VALIDATION_ERROR"),
        ("Observation?_sort=code", 400, "VALIDATION_ERROR"),
        ("Observation?_cursor=not-a-cursor", 400, "VALIDATION_ERROR"),
        ("Patient?phone=abc", 400, "VALIDATION_ERROR"),
        ("Spaceship/1", 404, "UNKNOWN_RESOURCE_TYPE"),
        ("Patient/not-a-uuid", 404, "NOT_FOUND"),
        ("Patient/0193f7a2-0000-7000-8000-000000000000", 404, "NOT_FOUND"),
        ("Patient/$everything/x/y", 404, "NOT_FOUND"),
    ],
)
def test_bad_input_is_an_operation_outcome(org_a, ward, path, status, code):
    response = system_client(org_a).get(BASE + path)
    assert response.status_code == status, response.content
    body = response.json()
    validate(body)
    assert body["issue"][0]["details"]["coding"][0] == {
        "system": "https://phb.health/fhir/CodeSystem/errors",
        "code": code,
    }


def test_no_token_or_a_malformed_token_is_401_and_a_missing_role_403(org_a, api_client):
    assert api_client.get(BASE + "Patient").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = api_client.get(BASE + "Patient")
    assert response.status_code == 401
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "UNAUTHORIZED"
    receptionist = staff_client(org_a, "receptionist")
    assert receptionist.get(BASE + "AuditEvent").status_code == 403


def test_writes_are_not_supported_on_read_only_types(org_a):
    response = system_client(org_a, "system/*.*").post(
        BASE + "AuditEvent", {"resourceType": "AuditEvent"}, format="json"
    )
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_search_page_costs_a_fixed_number_of_queries(org_a, ward, django_assert_max_num_queries):
    client = system_client(org_a)
    from tests.clinical.factories import record

    nurse = clinician(org_a, "nurse", department=ward["department"])
    for _ in range(3):
        record(nurse, ward["patient"], encounter=ward["encounter"])
    with django_assert_max_num_queries(14):
        body = fhir_get(
            client, f"Observation?patient={ward['patient'].id}&_count=20&_include=Observation:patient"
        ).json()
    assert len(body["entry"]) == 20 + 1


def test_summary_count_answers_the_total_alone_and_is_audited(org_a, org_b, ward):
    client = system_client(org_a)
    patient = ward["patient"]
    full = fhir_get(client, f"Observation?patient={patient.id}").json()
    before = _events(action="interop.fhir.search").count()
    response = fhir_get(client, "Observation?code=http://loinc.org|8867-4&_summary=count")
    assert response.status_code == 200
    body = response.json()
    expected = sum(1 for e in full["entry"] if e["resource"]["code"]["coding"][0]["code"] == "8867-4")
    assert expected > 0
    assert body["type"] == "searchset"
    assert body["total"] == expected
    assert "entry" not in body
    assert fhir_get(client, f"Observation?patient={patient.id}&_summary=count").json()["total"] == full["total"]
    event = _events(action="interop.fhir.search").order_by("-occurred_at").first()
    assert _events(action="interop.fhir.search").count() == before + 2
    assert event.patient_id is None  # no patient was shown
    assert (event.detail["total"], event.detail["criteria"], event.detail["results"]) == (full["total"], ["patient"], 0)
    page = fhir_get(client, f"Observation?patient={patient.id}&_summary=false").json()
    assert (page["total"], len(page["entry"])) == (full["total"], len(full["entry"]))
    # another organization's client counts none of A's observations
    assert (
        fhir_get(system_client(org_b), "Observation?code=http://loinc.org|8867-4&_summary=count").json()["total"] == 0
    )


@pytest.mark.parametrize("value", ["true", "text", "data", "COUNT", ""])
def test_summary_other_than_count_or_false_is_refused(org_a, value):
    response = fhir_get(system_client(org_a), f"Observation?_summary={value}")
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["_summary"]
