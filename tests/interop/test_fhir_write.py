"""FHIR writes over HTTP: create (conditional), update with If-Match, delete refused, the bad inputs,
who may write, and Patient through the master patient index."""

from __future__ import annotations

import datetime as dt
import json
import random
import string

import pytest

from phb.interop.fhir.registry import REGISTRY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.patients.models import Patient, PatientRegistration
from tests.interop.fhir_helpers import BASE, fhir_get, staff_client, system_client, validate
from tests.patients.factories import make_patient, register_at_desk

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


def _name() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=9)).capitalize()


def new_patient(**extra) -> dict:
    return {
        "resourceType": "Patient",
        "id": "sent-by-the-client",
        "name": [{"use": "official", "family": _name(), "given": [_name(), _name()]}],
        "gender": "female",
        "birthDate": "1990-04-12",
        "telecom": [{"system": "phone", "value": "+2348031234567"}, {"system": "email", "value": "a@example.org"}],
        "address": [{"line": ["12 Marina"], "city": "Lagos", "state": "Lagos", "country": "NG"}],
        "maritalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "code": "M"}]
        },
        **extra,
    }


def post(client, path: str, body, content_type: str = FHIR, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic("POST", BASE + path, data, content_type=content_type, **headers)


def put(client, path: str, body, **headers):
    return client.generic("PUT", BASE + path, json.dumps(body), content_type=FHIR, **headers)


def _patients() -> int:
    return Patient.objects.count()


def _registered(organization, patient_id) -> bool:
    ctx = Ctx.system(reason="test", organization_id=organization.id)
    return PatientRegistration.objects.for_tenant(ctx).filter(patient_id=patient_id).exists()


def _events(action: str):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=action)


def _code(response) -> str:
    return response.json()["issue"][0]["details"]["coding"][0]["code"]


# --- create --------------------------------------------------------------------------------------


def test_reception_creates_a_patient_registered_here(org_a):
    desk = staff_client(org_a, "receptionist")
    sent = new_patient()
    response = post(desk, "Patient", sent)
    assert response.status_code == 201, response.content
    body = response.json()
    validate(body)
    assert body["id"] != "sent-by-the-client"  # PHB assigns ids
    assert body["name"][0]["family"] == sent["name"][0]["family"]
    assert body["name"][0]["given"] == sent["name"][0]["given"]
    assert (body["gender"], body["birthDate"], body["maritalStatus"]["coding"][0]["code"]) == (
        "female",
        "1990-04-12",
        "M",
    )
    assert {t["value"] for t in body["telecom"]} == {"+2348031234567", "a@example.org"}
    assert body["address"][0]["city"] == "Lagos"
    assert any(i["system"].endswith("/mrn") for i in body["identifier"])  # registered here
    version = body["meta"]["versionId"]
    assert response["ETag"] == f'W/"{version}"'
    assert response["Location"].endswith(f"/fhir/r4/Patient/{body['id']}/_history/{version}")
    assert _registered(org_a, body["id"])
    assert fhir_get(desk, f"Patient/{body['id']}").json() == body  # the response is what a read returns
    event = _events("interop.fhir.create").get(resource_id=body["id"])
    assert (event.resource_type, event.outcome, str(event.patient_id)) == ("fhir.Patient", "success", body["id"])
    assert sent["name"][0]["family"] not in json.dumps(event.detail)


def test_prefer_return_minimal_and_operation_outcome(org_a):
    desk = staff_client(org_a, "receptionist")
    minimal = post(desk, "Patient", new_patient(), HTTP_PREFER="return=minimal")
    assert (minimal.status_code, minimal.content) == (201, b"")
    assert "/_history/" in minimal["Location"]
    outcome = post(desk, "Patient", new_patient(), HTTP_PREFER="return=OperationOutcome")
    assert outcome.status_code == 201
    validate(outcome.json())
    assert outcome.json()["resourceType"] == "OperationOutcome"


def test_a_client_with_write_scope_only_creates_without_reading_back(org_a):
    writer = system_client(org_a, "system/Patient.write")
    response = post(writer, "Patient", new_patient())
    assert (response.status_code, response.content) == (201, b"")
    patient_id = response["Location"].split("/Patient/")[1].split("/")[0]
    assert _registered(org_a, patient_id)
    assert fhir_get(writer, f"Patient/{patient_id}").status_code == 403
    reader = system_client(org_a, "system/*.* ")
    assert fhir_get(reader, f"Patient/{patient_id}").status_code == 200
    event = _events("interop.fhir.create").get(resource_id=patient_id)
    assert event.actor_kind == "client"


def test_bad_bodies_are_refused_and_nothing_is_written(org_a):
    desk = staff_client(org_a, "receptionist")
    before = _patients()
    wrong_type = post(desk, "Patient", {"resourceType": "Observation"})
    assert (wrong_type.status_code, _code(wrong_type)) == (400, "INVALID_RESOURCE")
    not_json = post(desk, "Patient", "{not json")
    assert (not_json.status_code, _code(not_json)) == (400, "INVALID_RESOURCE")
    xml = post(desk, "Patient", "<Patient/>", content_type="application/fhir+xml")
    assert (xml.status_code, _code(xml)) == (415, "UNSUPPORTED_MEDIA_TYPE")
    form = post(desk, "Patient", "a=b", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    no_name = post(desk, "Patient", {**new_patient(), "name": []})
    assert (no_name.status_code, no_name.json()["issue"][0]["expression"]) == (400, ["Patient.name"])
    future = post(desk, "Patient", new_patient(birthDate="2999-01-01"))
    assert (future.status_code, _code(future)) == (400, "INVALID_RESOURCE")
    assert future.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    bad_date = post(desk, "Patient", new_patient(birthDate="12/04/1990"))
    assert bad_date.status_code == 400
    for response in (wrong_type, not_json, xml, no_name, future):
        validate(response.json())
    assert _patients() == before
    assert _events("interop.fhir.create").filter(outcome="failure").count() >= 4


def test_who_may_create(org_a):
    body = new_patient()
    anonymous = post(system_client(org_a).__class__(), "Patient", body)
    assert (anonymous.status_code, _code(anonymous)) == (401, "UNAUTHORIZED")
    reader = post(system_client(org_a, "system/Patient.read"), "Patient", body)
    assert (reader.status_code, _code(reader)) == (403, "INSUFFICIENT_SCOPE")
    other_type = post(system_client(org_a, "system/Observation.write system/*.read"), "Patient", body)
    assert (other_type.status_code, _code(other_type)) == (403, "INSUFFICIENT_SCOPE")
    doctor = post(staff_client(org_a, "doctor"), "Patient", body)
    assert (doctor.status_code, _code(doctor)) == (403, "FORBIDDEN")
    assert not Patient.objects.filter(family_name=body["name"][0]["family"]).exists()
    assert _events("interop.fhir.create").filter(outcome="denied").count() == 3
    read_only = post(system_client(org_a), "AuditEvent", {"resourceType": "AuditEvent"})
    assert (read_only.status_code, _code(read_only)) == (405, "METHOD_NOT_ALLOWED")
    unknown = post(system_client(org_a), "Spaceship", {"resourceType": "Spaceship"})
    assert (unknown.status_code, _code(unknown)) == (404, "UNKNOWN_RESOURCE_TYPE")


# --- conditional create ----------------------------------------------------------------------------


def test_conditional_create_with_zero_one_and_two_matches(org_a):
    client = system_client(org_a, "system/Patient.*")
    family = _name()
    first = post(client, "Patient", new_patient(), HTTP_IF_NONE_EXIST=f"family={family}")
    assert first.status_code == 201  # no match: created (family names differ)
    hpn = next(i["value"] for i in first.json()["identifier"] if i["system"].endswith("/hpn"))
    before = _patients()
    again = post(
        client, "Patient", new_patient(), HTTP_IF_NONE_EXIST=f"identifier=https://phb.health/fhir/sid/hpn|{hpn}"
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    validate(again.json())
    assert _patients() == before
    for _ in range(2):
        body = new_patient()
        body["name"][0]["family"] = family
        body["birthDate"] = f"19{random.randint(10, 60)}-01-0{random.randint(1, 9)}"
        body["name"][0]["given"] = [_name()]
        assert post(client, "Patient", body).status_code == 201
    many = post(client, "Patient", new_patient(), HTTP_IF_NONE_EXIST=f"family={family}")
    assert (many.status_code, _code(many)) == (412, "MULTIPLE_MATCHES")
    unknown = post(client, "Patient", new_patient(), HTTP_IF_NONE_EXIST="shoe-size=42")
    assert (unknown.status_code, _code(unknown)) == (400, "UNKNOWN_PARAMETER")
    assert _patients() == before + 2


# --- update ------------------------------------------------------------------------------------------


def test_update_with_if_match(org_a):
    desk = staff_client(org_a, "receptionist")
    created = post(desk, "Patient", new_patient()).json()
    etag = f'W/"{created["meta"]["versionId"]}"'
    changed = {**created, "name": [{"family": "Adeyemi", "given": ["Bola"]}], "gender": "male"}
    response = put(desk, f"Patient/{created['id']}", changed, HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    body = response.json()
    validate(body)
    assert (body["name"][0]["family"], body["gender"]) == ("Adeyemi", "male")
    assert body["meta"]["versionId"] != created["meta"]["versionId"]
    assert response["ETag"] == f'W/"{body["meta"]["versionId"]}"'
    stale = put(desk, f"Patient/{created['id']}", changed, HTTP_IF_MATCH=etag)
    assert (stale.status_code, _code(stale)) == (412, "VERSION_CONFLICT")
    missing = put(desk, f"Patient/{created['id']}", changed)
    assert (missing.status_code, _code(missing)) == (428, "PRECONDITION_REQUIRED")
    other_id = put(desk, f"Patient/{created['id']}", {**changed, "id": "x"}, HTTP_IF_MATCH=response["ETag"])
    assert (other_id.status_code, _code(other_id)) == (400, "INVALID_RESOURCE")
    unknown = "0190a5c8-0000-7000-8000-000000000000"
    assert put(desk, f"Patient/{unknown}", {**changed, "id": unknown}, HTTP_IF_MATCH=etag).status_code == 404
    assert Patient.objects.get(id=created["id"]).family_name == "Adeyemi"
    assert _events("interop.fhir.update").filter(resource_id=created["id"], outcome="success").count() == 1


def test_an_update_keeps_national_identifiers_the_resource_does_not_show(org_a):
    desk = staff_client(org_a, "receptionist")
    sent = new_patient(identifier=[{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-12-3456"}])
    created = post(desk, "Patient", sent).json()
    assert "999-12-3456" not in json.dumps(created)
    response = put(desk, f"Patient/{created['id']}", created, HTTP_IF_MATCH=f'W/"{created["meta"]["versionId"]}"')
    assert response.status_code == 200
    assert Patient.objects.get(id=created["id"]).ssn == "999-12-3456"


def test_a_client_of_another_organization_cannot_update_or_see_the_row(org_a, org_b):
    created = post(system_client(org_a, "system/Patient.*"), "Patient", new_patient()).json()
    etag = f'W/"{created["meta"]["versionId"]}"'
    other = system_client(org_b, "system/Patient.*")
    response = put(other, f"Patient/{created['id']}", {**created, "gender": "male"}, HTTP_IF_MATCH=etag)
    assert (response.status_code, _code(response)) == (404, "NOT_FOUND")
    assert Patient.objects.get(id=created["id"]).sex == "female"


def test_delete_is_refused_because_phb_keeps_the_record(org_a):
    client = system_client(org_a, "system/*.*")
    created = post(client, "Patient", new_patient()).json()
    response = client.delete(BASE + f"Patient/{created['id']}")
    assert (response.status_code, _code(response)) == (405, "DELETE_NOT_ALLOWED")
    assert "keeps" in response.json()["issue"][0]["diagnostics"]
    assert Patient.objects.filter(id=created["id"]).exists()
    patch = client.patch(BASE + f"Patient/{created['id']}", "{}", content_type=FHIR)
    assert (patch.status_code, _code(patch)) == (405, "METHOD_NOT_ALLOWED")


# --- Patient through the master patient index -----------------------------------------------------


def test_a_person_on_record_elsewhere_is_linked_and_registered_not_duplicated(org_a, org_b):
    existing = make_patient(birth_date=dt.date(1985, 6, 1), ssn="999-55-1234")
    register_at_desk(Ctx.system(reason="test", organization_id=org_b.id), existing)
    body = new_patient(
        name=[{"family": existing.family_name, "given": [existing.given_name]}],
        birthDate="1985-06-01",
        identifier=[{"type": {"coding": [{"code": "SS"}]}, "value": "999-55-1234"}],
    )
    before = _patients()
    client = system_client(org_a, "system/Patient.*")
    response = post(client, "Patient", body)
    assert response.status_code == 201, response.content
    assert response.json()["id"] == str(existing.id)
    assert _patients() == before
    assert _registered(org_a, existing.id)
    again = post(client, "Patient", body)  # already registered here: nothing written
    assert (again.status_code, again.json()["id"]) == (200, str(existing.id))
    assert _events("interop.fhir.create").filter(resource_id=str(existing.id), outcome="success").count() == 2


def test_a_possible_duplicate_is_a_conflict(org_a):
    existing = make_patient(
        given_name=_name(), family_name=_name(), birth_date=dt.date(1970, 1, 1), sex="unknown", phone=""
    )
    body = new_patient(
        name=[{"family": existing.family_name, "given": [existing.given_name]}],
        birthDate="1970-01-01",
        gender="unknown",
        telecom=[],
    )
    before = _patients()
    response = post(staff_client(org_a, "receptionist"), "Patient", body)
    assert (response.status_code, _code(response)) == (409, "POSSIBLE_DUPLICATE")
    validate(response.json())
    assert existing.family_name not in json.dumps(response.json())
    assert _patients() == before


# --- the statement ------------------------------------------------------------------------------------


def test_the_capability_statement_lists_writes_only_where_they_work(api_client):
    rest = api_client.get(BASE + "metadata").json()["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch"}
    for entry in rest["resource"]:
        codes = {i["code"] for i in entry["interaction"]}
        if entry["type"] == "Slot":  # computed, read and search only (not a registry type)
            assert codes == {"read", "search-type"}
            continue
        write = REGISTRY[entry["type"]].write
        assert ("create" in codes) == (write is not None)
        assert ("update" in codes) == (write is not None and write.update is not None)
        assert ("delete" in codes) == (write is not None and write.delete is not None)
        assert entry.get("conditionalCreate", False) == (write is not None)
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert {"create", "update"} <= {i["code"] for i in patient["interaction"]}
