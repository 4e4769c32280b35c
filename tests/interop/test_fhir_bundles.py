"""transaction and batch Bundles at the base of the FHIR API: all or nothing, entry by entry,
references between entries, limits."""

from __future__ import annotations

import json

import pytest

from phb.interop.fhir import bundles
from phb.interop.fhir.outcome import FhirError
from phb.patients.models import Patient
from tests.interop.fhir_helpers import BASE, system_client, validate
from tests.interop.test_fhir_write import _code, _events, new_patient
from tests.shared_data import SYNTHEA_BUNDLES

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


def _post_bundle(client, bundle, **headers):
    return client.generic("POST", BASE, json.dumps(bundle), content_type=FHIR, **headers)


def _bundle(kind: str, *entries) -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _create(resource: dict, full_url: str = "", **request) -> dict:
    out = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"], **request}}
    if full_url:
        out["fullUrl"] = full_url
    return out


def test_a_transaction_creates_every_entry_and_answers_each(org_a):
    client = system_client(org_a, "system/*.*")
    before = Patient.objects.count()
    response = _post_bundle(client, _bundle("transaction", _create(new_patient()), _create(new_patient())))
    assert response.status_code == 200, response.content
    body = response.json()
    validate(body)
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    for entry in body["entry"]:
        assert "/_history/" in entry["response"]["location"]
        assert entry["response"]["etag"] == f'W/"{entry["resource"]["meta"]["versionId"]}"'
    assert Patient.objects.count() == before + 2


def test_a_failing_entry_rolls_back_the_whole_transaction(org_a):
    client = system_client(org_a, "system/*.*")
    before = Patient.objects.count()
    bad = new_patient(birthDate="not a date")
    response = _post_bundle(
        client, _bundle("transaction", _create(new_patient()), _create(bad), _create(new_patient()))
    )
    assert (response.status_code, _code(response)) == (400, "INVALID_RESOURCE")
    validate(response.json())
    assert "Bundle.entry[1]" in response.json()["issue"][0]["diagnostics"]
    assert Patient.objects.count() == before  # the first entry was rolled back too
    assert not _events("interop.fhir.create").filter(outcome="success").exists()
    assert _events("interop.fhir.create").filter(outcome="failure").get().detail["entry"] == 1


def test_a_batch_keeps_what_succeeded_and_answers_each_failure(org_a):
    client = system_client(org_a, "system/*.*")
    before = Patient.objects.count()
    bundle = _bundle(
        "batch",
        _create(new_patient()),
        _create(new_patient(gender="robot")),
        {"request": {"method": "DELETE", "url": "Patient/0190a5c8-0000-7000-8000-000000000000"}},
        {"request": {"method": "GET", "url": "Patient?family=Zzzzzz"}},
        _create({"resourceType": "AuditEvent"}),
    )
    response = _post_bundle(client, bundle)
    assert response.status_code == 200
    body = response.json()
    validate(body)
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "400 Bad Request", "405 Method Not Allowed", "200 OK", "405 Method Not Allowed"]
    assert body["entry"][1]["response"]["outcome"]["issue"][0]["expression"] == ["Patient.gender"]
    assert body["entry"][3]["resource"]["type"] == "searchset"
    assert Patient.objects.count() == before + 1


def test_conditional_create_and_update_inside_a_transaction(org_a):
    client = system_client(org_a, "system/*.*")
    first = _post_bundle(client, _bundle("transaction", _create(new_patient()))).json()["entry"][0]
    patient = first["resource"]
    hpn = next(i["value"] for i in patient["identifier"] if i["system"].endswith("/hpn"))
    changed = {**patient, "gender": "male"}
    bundle = _bundle(
        "transaction",
        _create(new_patient(), ifNoneExist=f"identifier=https://phb.health/fhir/sid/hpn|{hpn}"),
        {
            "resource": changed,
            "request": {"method": "PUT", "url": f"Patient/{patient['id']}", "ifMatch": first["response"]["etag"]},
        },
        {"request": {"method": "GET", "url": f"Patient/{patient['id']}"}},
    )
    response = _post_bundle(client, bundle)
    assert response.status_code == 200, response.content
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    assert entries[0]["resource"]["id"] == patient["id"]
    assert entries[1]["resource"]["gender"] == "male"
    assert entries[2]["resource"]["gender"] == "male"  # GET runs after PUT, as FHIR orders a transaction
    stale = _bundle("transaction", {**bundle["entry"][1]})
    conflict = _post_bundle(client, stale)
    assert (conflict.status_code, _code(conflict)) == (412, "VERSION_CONFLICT")


def test_malformed_and_oversized_bundles(org_a):
    client = system_client(org_a, "system/*.*")
    not_bundle = _post_bundle(client, new_patient())
    assert (not_bundle.status_code, _code(not_bundle)) == (400, "INVALID_RESOURCE")
    collection = _post_bundle(client, {"resourceType": "Bundle", "type": "collection", "entry": []})
    assert (collection.status_code, _code(collection)) == (400, "INVALID_BUNDLE")
    no_request = _post_bundle(client, _bundle("batch", {"resource": new_patient()}))
    assert (no_request.status_code, _code(no_request)) == (400, "INVALID_BUNDLE")
    big = _bundle("batch", *[{"request": {"method": "GET", "url": "Patient/x"}}] * (bundles.MAX_ENTRIES + 1))
    too_big = _post_bundle(client, big)
    assert (too_big.status_code, _code(too_big)) == (413, "PAYLOAD_TOO_LARGE")
    dangling = _post_bundle(
        client,
        _bundle("transaction", _create({**new_patient(), "generalPractitioner": [{"reference": "urn:uuid:nowhere"}]})),
    )
    assert (dangling.status_code, _code(dangling)) == (400, "INVALID_REFERENCE")
    reader = _post_bundle(system_client(org_a, "system/*.read"), _bundle("transaction", _create(new_patient())))
    assert (reader.status_code, _code(reader)) == (403, "INSUFFICIENT_SCOPE")


def test_references_to_entries_are_resolved_in_dependency_order():
    patient = bundles.Entry(0, "POST", "Patient", "urn:uuid:p", {"resourceType": "Patient"})
    observation = bundles.Entry(
        1,
        "POST",
        "Observation",
        "urn:uuid:o",
        {"subject": {"reference": "urn:uuid:p"}, "encounter": {"reference": "urn:uuid:e"}},
    )
    encounter = bundles.Entry(2, "POST", "Encounter", "urn:uuid:e", {"subject": {"reference": "urn:uuid:p"}})
    read = bundles.Entry(3, "GET", "Patient/1", "", None)
    for e, deps in ((patient, set()), (observation, {"urn:uuid:p", "urn:uuid:e"}), (encounter, {"urn:uuid:p"})):
        e.depends = deps
    assert [e.index for e in bundles.ordered([read, observation, encounter, patient])] == [0, 2, 1, 3]
    resolved = bundles.resolve(
        observation.resource, {"urn:uuid:p": "Patient/1", "urn:uuid:e": None, "urn:uuid:x": "Encounter/9"}
    )
    assert resolved == {"subject": {"reference": "Patient/1"}, "encounter": {}}
    assert observation.resource["subject"]["reference"] == "urn:uuid:p"  # the entry itself is left alone
    patient.depends = {"urn:uuid:o"}
    with pytest.raises(FhirError) as cycle:
        bundles.ordered([patient, observation])
    assert cycle.value.code == "INVALID_BUNDLE"


def test_a_get_on_the_base_is_not_found(api_client):
    response = api_client.get(BASE)
    assert response.status_code in (401, 404)
    validate(response.json())


def test_urn_uuid_references_are_resolved_in_any_order_over_http(org_a):
    """A Synthea patient, one encounter and an observation made in it, posted in reverse order."""

    smallest = min(SYNTHEA_BUNDLES.glob("*.json"), key=lambda p: p.stat().st_size)
    entries = json.loads(smallest.read_text())["entry"]
    patient = next(e for e in entries if e["resource"]["resourceType"] == "Patient")
    encounter = next(e for e in entries if e["resource"]["resourceType"] == "Encounter")
    observation = next(
        e
        for e in entries
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"].get("encounter", {}).get("reference") == encounter["fullUrl"]
    )
    included = {patient["fullUrl"], encounter["fullUrl"]}
    encounter = json.loads(json.dumps(encounter))
    for key in [k for k, v in encounter["resource"].items() if k not in ("subject",) and "urn:uuid:" in json.dumps(v)]:
        del encounter["resource"][key]  # its practitioner and organization are not in this Bundle
    assert set(bundles.references(observation["resource"])) <= included
    client = system_client(org_a, "system/*.*")
    response = _post_bundle(client, _bundle("transaction", observation, encounter, patient))
    assert response.status_code == 200, response.content
    body = response.json()
    validate(body)
    created_observation, created_encounter, created_patient = (e["resource"] for e in body["entry"])
    assert created_encounter["subject"]["reference"] == f"Patient/{created_patient['id']}"
    assert created_observation["subject"]["reference"] == f"Patient/{created_patient['id']}"
    assert created_observation["encounter"]["reference"] == f"Encounter/{created_encounter['id']}"
