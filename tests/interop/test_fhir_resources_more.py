"""The FHIR API's medication, dispensing, care plan, document, consent, place and schedule resources:
read (validated with fhir.resources' R4B models), search by each declared parameter, bad values, the
other organization's 404, the care relationship, auditing and the CapabilityStatement."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from rest_framework.test import APIClient

from phb.clinical import care_plans, documents
from phb.interop.fhir.registry import REGISTRY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.medications.models import PrescriptionItem, PrescriptionStatus
from phb.patients.consents import consent_grant, consent_withdraw
from phb.pharmacy import dispensing
from phb.pharmacy.models import Dispensing, DispensingLine
from phb.workforce.models import PractitionerProfile
from phb.workforce.services import practitioner_profile_create
from tests.clinical.care_factories import active_plan
from tests.clinical.document_samples import pdf, store  # noqa: F401 - the documents storage fixture
from tests.interop.fhir_helpers import BASE, fhir_get, staff_client, system_client
from tests.medications.factories import PARACETAMOL, item, signed, signed_prescription, ward
from tests.organizations.factories import DepartmentFactory
from tests.pharmacy.factories import amoxicillin_item, location, receive, stocked
from tests.pharmacy.factories import prescription as pharmacy_prescription
from tests.workforce.factories import admin_ctx, practitioner

pytestmark = pytest.mark.django_db

NEW_TYPES = (
    "Medication",
    "MedicationRequest",
    "MedicationDispense",
    "CarePlan",
    "DocumentReference",
    "Consent",
    "Location",
    "Schedule",
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


def _check_each(client, resource_type: str, mine: str, other: str, queries: list[str]) -> None:
    """Each search finds `mine` and not `other`."""
    for query in queries:
        found = _ids(fhir_get(client, f"{resource_type}?{query}"))
        assert mine in found, query
        assert other not in found, query


def _read_audited(client, resource_type: str, row_id, patient_id=None) -> dict:
    response = fhir_get(client, f"{resource_type}/{row_id}")
    assert response.status_code == 200, response.content
    event = _events(action="interop.fhir.read", resource_type=f"fhir.{resource_type}", resource_id=str(row_id)).get()
    assert event.patient_id == patient_id
    version = response.json()["meta"]["versionId"]
    assert fhir_get(client, f"{resource_type}/{row_id}/_history/{version}").status_code == 200
    return response.json()


def _hidden_without_care(org_a, resource_type: str, row_id) -> None:
    stranger = staff_client(org_a, "doctor")
    _error(fhir_get(stranger, f"{resource_type}/{row_id}"), 404, "NOT_FOUND")
    assert fhir_get(stranger, resource_type).json()["total"] == 0


# --- MedicationDispense ----------------------------------------------------------------------------------


@pytest.fixture
def dispensed(org_a, prescribing):
    """The prescribing fixture's prescription dispensed today, and a second prescription of the patient
    (amoxicillin) dispensed in March 2024, at a pharmacy of a department."""
    stock = stocked(org_a)
    pharmacy_department = DepartmentFactory(organization=org_a, kind="pharmacy")
    where = location(stock["ctx"], "Outpatient pharmacy", department_id=pharmacy_department.id)
    receive(stock["ctx"], where, stock["product"], 100)
    first = dispensing.prescription_dispense(
        ctx=stock["ctx"], prescription_id=prescribing["rx"].id, location_id=where.id
    )
    second_rx = pharmacy_prescription(org_a, amoxicillin_item(), patient=prescribing["ward"].patient)
    second = dispensing.prescription_dispense(ctx=stock["ctx"], prescription_id=second_rx.id, location_id=where.id)
    Dispensing.objects.for_tenant(stock["ctx"]).filter(id=second.id).update(
        dispensed_at=dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    )
    lines = DispensingLine.objects.for_tenant(stock["ctx"])
    return {
        "line": lines.get(dispensing=first),
        "old": lines.get(dispensing=second),
        "department": pharmacy_department,
        "pharmacist": stock["ctx"],
    }


def test_medication_dispense_read_search_and_isolation(org_a, org_b, prescribing, dispensed):
    client, line, old = prescribing["client"], dispensed["line"], dispensed["old"]
    patient = prescribing["ward"].patient
    body = _read_audited(client, "MedicationDispense", line.id, patient.id)
    assert body["status"] == "completed"
    assert body["medicationReference"]["reference"] == "Medication/amoxicillin"
    assert body["authorizingPrescription"] == [{"reference": f"MedicationRequest/{prescribing['item'].id}"}]
    assert body["quantity"]["value"] == 15
    assert body["subject"] == {"reference": f"Patient/{patient.id}"}
    assert body["location"] == {"reference": f"Location/{dispensed['department'].id}"}
    assert body["whenHandedOver"].startswith(dt.date.today().isoformat()[:4])
    _check_each(
        client,
        "MedicationDispense",
        str(line.id),
        str(old.id),
        [
            f"_id={line.id}",
            f"patient=Patient/{patient.id}&prescription=MedicationRequest/{prescribing['item'].id}",
            f"prescription={prescribing['item'].id}",
            f"whenhandedover=ge{dt.date.today().isoformat()}",
            "status=completed&whenhandedover=gt2025",
            f"medication=Medication/amoxicillin&patient.identifier={patient.hpn}&whenhandedover=ge2025",
        ],
    )
    assert _ids(fhir_get(client, "MedicationDispense?whenhandedover=2024-03")) == {str(old.id)}
    assert _ids(fhir_get(client, "MedicationDispense?status=cancelled")) == set()
    assert _ids(fhir_get(client, "MedicationDispense?medication=Medication/paracetamol")) == set()
    for bad in ("status=given", "whenhandedover=soon", "prescription=Patient/1", "_sort=price"):
        _error(fhir_get(client, f"MedicationDispense?{bad}"))
    included = fhir_get(client, f"MedicationDispense?_id={line.id}&_include=MedicationDispense:prescription").json()[
        "entry"
    ]
    assert [e["resource"]["id"] for e in included if e["search"]["mode"] == "include"] == [str(prescribing["item"].id)]
    _isolated(org_b, f"MedicationDispense/{line.id}", f"MedicationDispense?_id={line.id}")
    _hidden_without_care(org_a, "MedicationDispense", line.id)


# --- CarePlan ------------------------------------------------------------------------------------------------


def test_care_plan_read_search_and_isolation(org_a, org_b, prescribing):
    doctor, client, patient = prescribing["ward"].doctor, prescribing["client"], prescribing["ward"].patient
    plan = active_plan(doctor, patient)
    draft = care_plans.care_plan_create(
        ctx=doctor, patient_id=patient.id, title="Later", period_start=dt.date(2024, 3, 1)
    )
    body = _read_audited(client, "CarePlan", plan.id, patient.id)
    assert (body["status"], body["intent"], body["title"]) == ("active", "plan", "Recovery")
    assert body["goal"] == [{"reference": "#goal-1"}]
    assert body["contained"][0]["description"] == {"text": "Walking unaided"}
    assert body["activity"][0]["detail"]["description"] == "Walk daily"
    assert body["activity"][0]["detail"]["status"] == "not-started"
    assert body["category"][0]["coding"][0]["code"] == "assess-plan"
    _check_each(
        client,
        "CarePlan",
        str(plan.id),
        str(draft.id),
        [
            f"_id={plan.id}",
            f"patient={patient.id}&status=active",
            f"subject=Patient/{patient.id}&date=ge{dt.date.today().isoformat()}",
            "status=active",
            f"category=assess-plan&status=active&patient.identifier={patient.hpn}",
        ],
    )
    assert _ids(fhir_get(client, "CarePlan?status=draft")) == {str(draft.id)}
    assert _ids(fhir_get(client, "CarePlan?date=2024-03-01")) == {str(draft.id)}
    assert _ids(fhir_get(client, "CarePlan?category=http://example.org|assess-plan")) == set()
    for bad in ("status=finished", "category=diet", "date=03/2024"):
        _error(fhir_get(client, f"CarePlan?{bad}"))
    _isolated(org_b, f"CarePlan/{plan.id}", f"CarePlan?_id={plan.id}")
    _hidden_without_care(org_a, "CarePlan", plan.id)


# --- DocumentReference ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("store")
def test_document_reference_points_at_the_authenticated_download(org_a, org_b, prescribing):
    doctor, client, patient = prescribing["ward"].doctor, prescribing["client"], prescribing["ward"].patient
    letter = documents.document_store(
        ctx=doctor,
        patient_id=patient.id,
        data=pdf(),
        declared_type="application/pdf",
        filename="referral.pdf",
        category="referral-letter",
        title="Referral to cardiology",
        encounter_id=prescribing["ward"].encounter.id,
    )
    report = documents.document_store(
        ctx=doctor,
        patient_id=patient.id,
        data=pdf(),
        declared_type="application/pdf",
        filename="lab.pdf",
        category="lab-report",
        title="Full blood count",
    )
    body = _read_audited(client, "DocumentReference", letter.id, patient.id)
    attachment = body["content"][0]["attachment"]
    assert attachment["url"] == f"/api/v1/documents/{letter.id}/content/"
    assert "data" not in attachment
    assert (attachment["contentType"], attachment["size"], attachment["title"]) == (
        "application/pdf",
        letter.size,
        "Referral to cardiology",
    )
    assert attachment["extension"][0]["valueString"] == letter.sha256
    assert body["type"]["coding"][0] == {"system": "http://loinc.org", "code": "57133-1"}
    assert body["context"]["encounter"] == [{"reference": f"Encounter/{prescribing['ward'].encounter.id}"}]
    download = client.get(attachment["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == pdf()
    assert APIClient().get(attachment["url"]).status_code == 401
    _check_each(
        client,
        "DocumentReference",
        str(letter.id),
        str(report.id),
        [
            f"_id={letter.id}",
            f"patient={patient.id}&category=referral-letter",
            f"subject=Patient/{patient.id}&type=http://loinc.org|57133-1",
            "category=https://phb.health/fhir/CodeSystem/document-category|referral-letter",
            f"status=current&date=ge{dt.date.today().isoformat()}&type=57133-1",
        ],
    )
    assert _ids(fhir_get(client, "DocumentReference?status=entered-in-error")) == set()
    assert _ids(fhir_get(client, "DocumentReference?date=2024")) == set()
    for bad in ("status=lost", "category=novel", "date=yesterday", "type=|"):
        _error(fhir_get(client, f"DocumentReference?{bad}"))
    _isolated(org_b, f"DocumentReference/{letter.id}", f"DocumentReference?_id={letter.id}")
    _hidden_without_care(org_a, "DocumentReference", letter.id)


# --- Consent -----------------------------------------------------------------------------------------------


def test_consent_read_search_and_isolation(org_a, org_b, prescribing):
    patient, client = prescribing["ward"].patient, prescribing["client"]
    system = Ctx.system(reason="test: a consent form signed at the desk")
    research = consent_grant(ctx=system, patient_id=patient.id, kind="research", version="2")
    sharing = consent_grant(ctx=system, patient_id=patient.id, kind="sharing", version="1", to_organization_id=org_a.id)
    consent_withdraw(ctx=system, consent_id=sharing.id)
    elsewhere = consent_grant(
        ctx=system,
        patient_id=patient.id,
        kind="sharing",
        version="1",
        from_organization_id=org_b.id,
        to_organization_id=uuid.uuid4(),
    )
    body = _read_audited(client, "Consent", research.id, patient.id)
    assert body["status"] == "active"
    assert body["scope"]["coding"][0]["code"] == "research"
    assert body["provision"]["type"] == "permit"
    withdrawn = fhir_get(client, f"Consent/{sharing.id}").json()
    assert withdrawn["status"] == "inactive"
    assert "end" in withdrawn["provision"]["period"]
    assert withdrawn["provision"]["actor"][0]["reference"] == {"reference": f"Organization/{org_a.id}"}
    _error(fhir_get(client, f"Consent/{elsewhere.id}"), 404, "NOT_FOUND")  # between two other organizations
    _check_each(
        client,
        "Consent",
        str(research.id),
        str(sharing.id),
        [
            f"_id={research.id}",
            f"patient={patient.id}&status=active",
            "category=research",
            "category=https://phb.health/fhir/CodeSystem/consent-kind|research",
            f"date=ge{dt.date.today().isoformat()}&status=active&patient.identifier={patient.hpn}",
        ],
    )
    assert _ids(fhir_get(client, "Consent?status=inactive")) == {str(sharing.id)}
    assert _ids(fhir_get(client, "Consent?category=http://loinc.org|59284-0")) == {str(research.id), str(sharing.id)}
    for bad in ("status=maybe", "category=gossip", "date=2024-13"):
        _error(fhir_get(client, f"Consent?{bad}"))
    _isolated(org_b, f"Consent/{research.id}", f"Consent?_id={research.id}")


# --- Location and Schedule ------------------------------------------------------------------------------


def test_location_is_a_department(org_a, org_b, prescribing):
    client = prescribing["client"]
    cardiology = DepartmentFactory(organization=org_a, name="Cardiology clinic", code="cardiology", kind="cardiology")
    closed = DepartmentFactory(organization=org_a, name="Old wing", code="old-wing", is_active=False)
    body = _read_audited(client, "Location", cardiology.id)
    assert body["name"] == "Cardiology clinic"
    assert body["identifier"] == [{"system": "https://phb.health/fhir/sid/department", "value": "cardiology"}]
    assert body["managingOrganization"] == {"reference": f"Organization/{org_a.id}"}
    _check_each(
        client,
        "Location",
        str(cardiology.id),
        str(closed.id),
        [
            f"_id={cardiology.id}",
            "name=cardio",
            "identifier=https://phb.health/fhir/sid/department|cardiology",
            f"organization=Organization/{org_a.id}&status=active",
        ],
    )
    assert _ids(fhir_get(client, f"Location?organization={org_b.id}")) == set()
    assert _ids(fhir_get(client, "Location?status=inactive")) == {str(closed.id)}
    for bad in ("status=open", "organization=Patient/1", "identifier=|"):
        _error(fhir_get(client, f"Location?{bad}"))
    _isolated(org_b, f"Location/{cardiology.id}", f"Location?_id={cardiology.id}")


def test_schedule_is_a_practitioners_bookable_calendar(org_a, org_b, prescribing):
    client = prescribing["client"]
    cardiology = DepartmentFactory(organization=org_a)
    bookable = practitioner(org_a, department=cardiology)
    away = practitioner(org_a)
    PractitionerProfile.objects.for_tenant(Ctx.system(reason="test", organization_id=org_a.id)).filter(
        id=away.id
    ).update(is_active=False)
    body = _read_audited(client, "Schedule", bookable.id)
    assert body["active"] is True
    assert {"reference": f"Practitioner/{bookable.id}"} in body["actor"]
    assert {"reference": f"Location/{cardiology.id}"} in body["actor"]
    # The prescriber's profile has no availability windows: no calendar.
    _error(fhir_get(client, f"Schedule/{prescribing['profile'].id}"), 404, "NOT_FOUND")
    _check_each(
        client,
        "Schedule",
        str(bookable.id),
        str(away.id),
        [
            f"_id={bookable.id}",
            f"actor=Practitioner/{bookable.id}",
            f"actor=PractitionerRole/{bookable.id}",
            f"actor=Location/{cardiology.id}",
            "active=true",
        ],
    )
    assert _ids(fhir_get(client, "Schedule?active=false")) == {str(away.id)}
    for bad in ("active=yes", "actor=Patient/1"):
        _error(fhir_get(client, f"Schedule?{bad}"))
    _isolated(org_b, f"Schedule/{bookable.id}", f"Schedule?_id={bookable.id}")
