"""The FHIR API's medication, dispensing, care plan, document, consent, place and schedule resources:
read (validated with fhir.resources' R4B models), search by each declared parameter, bad values, the
other organization's 404, the care relationship, auditing and the CapabilityStatement."""

from __future__ import annotations

import datetime as dt

import pytest

from phb.interop.fhir.registry import REGISTRY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.medications.models import PrescriptionItem, PrescriptionStatus
from phb.workforce.services import practitioner_profile_create
from tests.interop.fhir_helpers import BASE, fhir_get, staff_client, system_client
from tests.medications.factories import PARACETAMOL, item, signed, signed_prescription, ward
from tests.workforce.factories import admin_ctx

pytestmark = pytest.mark.django_db

NEW_TYPES = (
    "Medication",
    "MedicationRequest",
)


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {e["resource"]["id"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"}


def _error(response, status: int = 400, code: str = "VALIDATION_ERROR") -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["details"]["coding"][0]["code"] == code


def _isolated(org_b, path: str, search: str) -> None:
    """A client of organization B: A's row is not found by id, nor by search."""
    client = system_client(org_b)
    response = fhir_get(client, path)
    _error(response, 404, "NOT_FOUND")
    found = fhir_get(client, search)
    assert found.status_code == 200
    assert found.json()["total"] == 0


# --- Medication and MedicationRequest ------------------------------------------------------------------


def _items(organization, prescription):
    return PrescriptionItem.objects.for_tenant(Ctx.system(reason="test", organization_id=organization.id)).filter(
        prescription=prescription
    )


@pytest.fixture
def prescribing(org_a):
    """A ward of A (doctor, patient in their care, walk-in encounter), a prescription signed through the
    services in that encounter (amoxicillin), another (paracetamol, no encounter) cancelled, and a
    doctor of the ward's department as an API client."""
    place = ward(org_a)
    profile = practitioner_profile_create(
        ctx=admin_ctx(org_a),
        user_id=place.doctor.actor_id,
        department_id=place.department.id,
        specialization="general practice",
        licence_number="MDCN-T-0001",
    )
    rx = signed(
        place.doctor,
        place.patient,
        item("amoxicillin", **{"form": "capsule", "strength": "500 mg"}),
        encounter_id=place.encounter.id,
    )
    other = signed_prescription(
        org_a,
        patient=place.patient,
        items=(PARACETAMOL,),
        status=PrescriptionStatus.CANCELLED,
        signed_at=dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC),
    )
    return {
        "ward": place,
        "rx": rx,
        "item": _items(org_a, rx).get(),
        "other": _items(org_a, other).get(),
        "client": staff_client(org_a, "doctor", department=place.department),
        "profile": profile,
    }


def test_medication_is_the_catalogue_drug_read_by_its_code(org_a, prescribing):
    client = prescribing["client"]
    response = fhir_get(client, "Medication/amoxicillin")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"]["coding"][0] == {
        "system": "https://phb.health/fhir/CodeSystem/drugs",
        "code": "amoxicillin",
        "display": "Amoxicillin",
    }
    assert {"system": "http://www.whocc.no/atc", "code": "J01CA04"} in body["code"]["coding"]
    version = body["meta"]["versionId"]
    assert fhir_get(client, f"Medication/amoxicillin/_history/{version}").status_code == 200
    _error(fhir_get(client, "Medication/no-such-drug"), 404, "NOT_FOUND")
    combination = fhir_get(client, "Medication/amoxicillin-clavulanate").json()
    assert {"itemReference": {"reference": "Medication/amoxicillin"}, "isActive": True} in combination["ingredient"]
    assert _events(action="interop.fhir.read", resource_type="fhir.Medication", resource_id="amoxicillin").exists()


def test_medication_search_by_id_code_rxnorm_atc_and_name(org_a, prescribing):
    client = prescribing["client"]
    assert _ids(fhir_get(client, "Medication?_id=amoxicillin")) == {"amoxicillin"}
    assert _ids(fhir_get(client, "Medication?code=https://phb.health/fhir/CodeSystem/drugs|amoxicillin")) == {
        "amoxicillin"
    }
    assert _ids(fhir_get(client, "Medication?code=http://www.nlm.nih.gov/research/umls/rxnorm|308182")) == {
        "amoxicillin"
    }
    assert "amoxicillin" in _ids(fhir_get(client, "Medication?code=http://www.whocc.no/atc|J01CA04"))
    assert _ids(fhir_get(client, "Medication?code=http://example.org|amoxicillin")) == set()
    named = _ids(fhir_get(client, "Medication?name=amoxi"))
    assert "amoxicillin" in named
    assert "paracetamol" not in named
    assert "amoxicillin" in _ids(fhir_get(client, "Medication?name=Amoxil"))  # a brand
    _error(fhir_get(client, "Medication?code=|"))
    _error(fhir_get(client, "Medication?name=" + "a" * 101))


def test_medication_request_reads_the_prescription_item(org_a, prescribing):
    client, rx, line = prescribing["client"], prescribing["rx"], prescribing["item"]
    response = fhir_get(client, f"MedicationRequest/{line.id}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["intent"]) == ("active", "order")
    assert body["medicationReference"]["reference"] == "Medication/amoxicillin"
    assert body["subject"] == {"reference": f"Patient/{prescribing['ward'].patient.id}"}
    assert body["encounter"] == {"reference": f"Encounter/{prescribing['ward'].encounter.id}"}
    assert body["groupIdentifier"] == {"system": "https://phb.health/fhir/sid/prescription", "value": rx.number}
    assert body["requester"] == {"reference": f"Practitioner/{prescribing['profile'].id}"}
    dose = body["dosageInstruction"][0]
    assert dose["timing"]["repeat"]["frequency"] == 3
    assert dose["timing"]["repeat"]["periodUnit"] == "d"
    assert dose["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert body["dispenseRequest"]["quantity"]["value"] == 15
    assert body["dispenseRequest"]["numberOfRepeatsAllowed"] == 0
    cancelled = fhir_get(client, f"MedicationRequest/{prescribing['other'].id}").json()
    assert cancelled["status"] == "cancelled"
    event = _events(action="interop.fhir.read", resource_type="fhir.MedicationRequest", resource_id=str(line.id)).get()
    assert event.patient_id == prescribing["ward"].patient.id


def test_medication_request_search_by_each_parameter(org_a, prescribing):
    client, line, other = prescribing["client"], prescribing["item"], prescribing["other"]
    patient, encounter = prescribing["ward"].patient, prescribing["ward"].encounter
    mine, theirs = str(line.id), str(other.id)
    for query in (
        f"_id={mine}",
        f"patient=Patient/{patient.id}&status=active",
        f"subject={patient.id}&intent=order&status=active",
        "status=active",
        f"encounter=Encounter/{encounter.id}",
        "medication=Medication/amoxicillin",
        "code=https://phb.health/fhir/CodeSystem/drugs|amoxicillin",
        "code=amoxicillin",
        f"authoredon=ge{dt.date.today().isoformat()}",
        f"patient.identifier={patient.hpn}&status=active",
    ):
        found = _ids(fhir_get(client, f"MedicationRequest?{query}"))
        assert mine in found, query
        assert theirs not in found, query
    assert _ids(fhir_get(client, "MedicationRequest?status=cancelled")) == {theirs}
    assert _ids(fhir_get(client, "MedicationRequest?authoredon=2024-03")) == {theirs}
    assert _ids(fhir_get(client, "MedicationRequest?status=on-hold")) == set()
    assert _ids(fhir_get(client, "MedicationRequest?intent=plan")) == set()
    for bad in ("status=shipped", "intent=wish", "authoredon=yesterday", "medication=Patient/x", "_sort=colour"):
        _error(fhir_get(client, f"MedicationRequest?{bad}"))
    sorted_ids = [e["resource"]["id"] for e in fhir_get(client, "MedicationRequest?_sort=authoredon").json()["entry"]]
    assert sorted_ids == [theirs, mine]


def test_medication_request_includes_its_medication(org_a, prescribing):
    client = prescribing["client"]
    body = fhir_get(
        client, f"MedicationRequest?_id={prescribing['item'].id}&_include=MedicationRequest:medication"
    ).json()
    included = [e for e in body["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["resourceType"] for e in included] == ["Medication"]
    assert included[0]["resource"]["id"] == "amoxicillin"
    assert included[0]["fullUrl"].endswith("/fhir/r4/Medication/amoxicillin")


def test_medication_request_is_invisible_to_other_organizations_and_without_care(org_a, org_b, prescribing):
    line = prescribing["item"]
    _isolated(org_b, f"MedicationRequest/{line.id}", f"MedicationRequest?_id={line.id}")
    stranger = staff_client(org_a, "doctor")
    _error(fhir_get(stranger, f"MedicationRequest/{line.id}"), 404, "NOT_FOUND")
    assert fhir_get(stranger, "MedicationRequest").json()["total"] == 0
    no_step_up = staff_client(org_a, "doctor", department=prescribing["ward"].department, med_access=False)
    assert no_step_up.get(BASE + f"MedicationRequest/{line.id}").status_code == 403
    client_a = system_client(org_a, "system/MedicationRequest.read")
    assert fhir_get(client_a, f"MedicationRequest/{line.id}").status_code == 200
    assert client_a.get(BASE + "Medication/amoxicillin").status_code == 403  # not in its scopes


def test_the_capability_statement_lists_the_new_types(api_client):
    body = api_client.get(BASE + "metadata").json()
    listed = {r["type"]: r for r in body["rest"][0]["resource"]}
    for resource_type in NEW_TYPES:
        assert {p["name"] for p in listed[resource_type]["searchParam"]} == set(REGISTRY[resource_type].params)
    assert listed["MedicationRequest"]["searchInclude"] == ["MedicationRequest:medication", "MedicationRequest:patient"]


def test_medication_pages_follow_the_catalogue_code(org_a, prescribing):
    client = prescribing["client"]
    first = fhir_get(client, "Medication?name=amox&_count=1").json()
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(following.replace("http://testserver", ""))
    assert second.status_code == 200, second.content
    codes = [first["entry"][0]["resource"]["id"], second.json()["entry"][0]["resource"]["id"]]
    assert codes == sorted(codes)
    assert codes[0] != codes[1]
