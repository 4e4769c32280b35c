"""`Patient/{id}/$everything`: the patient and every resource about them the requester may read, with
each type's visibility and authorization, `_since`, `_type`, stable paging, 404 across tenants, and one
audit event naming the patient. Every resource a response carries is validated (R4B)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from phb.clinical.models import Observation
from phb.interop.fhir.everything import compartment_types
from phb.interop.fhir.registry import REGISTRY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.clinical.factories import clinician, record
from tests.interop.fhir_helpers import BASE, chart, staff_client, system_client, validate
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

CLINICAL = {"Encounter", "Observation", "Condition", "AllergyIntolerance", "Immunization"}
# Every type whose rows are about a patient: the compartment $everything covers.
ABOUT_A_PATIENT = {name for name, resource in REGISTRY.items() if resource.patient_field}


@pytest.fixture
def ward(org_a):
    department = DepartmentFactory(organization=org_a)
    nurse = clinician(org_a, "nurse", department=department)
    other = chart(org_a, department, nurse)  # another patient of the same ward
    return {
        "department": department,
        "nurse": nurse,
        "doctor": staff_client(org_a, "doctor", department=department),
        "other": other,
        **chart(org_a, department, nurse),
    }


def everything(client, patient_id, query="", **headers):
    response = client.get(f"{BASE}Patient/{patient_id}/$everything{query}", **headers)
    if response.status_code == 200:
        validate(response.json())
    return response


def resources(bundle):
    return [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]


def outcome(bundle):
    found = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    return found[0] if found else None


def observation_ids(vital_set):
    ctx = Ctx.system(reason="test", organization_id=vital_set.organization_id)
    return {
        str(i) for i in Observation.objects.for_tenant(ctx).filter(vital_set=vital_set).values_list("id", flat=True)
    }


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def test_the_types_come_from_the_registry():
    assert compartment_types()[0] == "Patient"
    assert set(compartment_types()) == {t for t, r in REGISTRY.items() if r.patient_field}
    assert "AuditEvent" not in compartment_types()  # about access, not about the patient's record


def test_a_client_gets_the_patient_and_every_resource_about_them(org_a, ward):
    client = system_client(org_a)
    response = everything(client, ward["patient"].id)
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "searchset"
    found = resources(bundle)
    assert bundle["total"] == len(found)
    by_type: dict[str, set[str]] = {}
    for resource in found:
        by_type.setdefault(resource["resourceType"], set()).add(resource["id"])
    patient = ward["patient"]
    assert by_type["Patient"] == {str(patient.id)}
    assert by_type["Encounter"] == {str(ward["encounter"].id)}
    assert by_type["Condition"] == {str(ward["diagnosis"].id)}
    assert by_type["AllergyIntolerance"] == {str(ward["allergy"].id)}
    assert by_type["Immunization"] == {str(ward["immunization"].id)}
    assert by_type["Observation"] == observation_ids(ward["vitals"])
    assert found[0]["resourceType"] == "Patient"  # the patient first
    # Nothing about the other patient of the same ward.
    for resource in found[1:]:
        assert resource.get("subject", resource.get("patient", {})).get("reference") == f"Patient/{patient.id}"
    # What a read emits, exactly.
    read = client.get(f"{BASE}Condition/{ward['diagnosis'].id}").json()
    assert next(r for r in found if r["resourceType"] == "Condition") == read
    assert outcome(bundle) is None


def test_post_takes_a_parameters_resource(org_a, ward):
    client = system_client(org_a)
    body = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Condition"}]}
    response = client.post(
        f"{BASE}Patient/{ward['patient'].id}/$everything", body, format="json", HTTP_ACCEPT="application/fhir+json"
    )
    assert response.status_code == 200, response.content
    assert [r["resourceType"] for r in resources(response.json())] == ["Condition"]
    bad = client.post(f"{BASE}Patient/{ward['patient'].id}/$everything", {"resourceType": "Patient"}, format="json")
    assert bad.status_code == 400


def test_type_limits_the_types_and_a_bad_one_is_refused(org_a, ward):
    client = system_client(org_a)
    response = everything(client, ward["patient"].id, "?_type=Condition,Immunization")
    assert response.status_code == 200
    assert [r["resourceType"] for r in resources(response.json())] == ["Condition", "Immunization"]
    for query in ("?_type=Practitioner", "?_type=Spaceship", "?_count=0", "?_count=x", "?shoe=42"):
        refused = everything(client, ward["patient"].id, query)
        assert refused.status_code == 400, query
        assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "VALIDATION_ERROR"


def test_since_keeps_the_rows_updated_at_or_after_the_instant(org_a, ward):
    client = system_client(org_a)
    since = timezone.now()
    newer = record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=90)
    stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = everything(client, ward["patient"].id, f"?_since={stamp}")
    assert response.status_code == 200
    assert {r["id"] for r in resources(response.json())} == observation_ids(newer)
    for bad in ("2026-01-01", "yesterday", "2026-01-01T10:00:00", "2026-13-01T10:00:00Z"):
        refused = everything(client, ward["patient"].id, f"?_since={bad}")
        assert refused.status_code == 400, bad


def test_pages_follow_a_stable_order_to_the_end(org_a, ward):
    client = system_client(org_a)
    full = resources(everything(client, ward["patient"].id, "?_count=200").json())
    seen: list[str] = []
    response = everything(client, ward["patient"].id, "?_count=3")
    pages = 0
    while True:
        assert response.status_code == 200, response.content
        bundle = response.json()
        page = resources(bundle)
        assert len(page) <= 3
        if pages == 0:
            assert bundle["total"] == len(full)
        seen += [f"{r['resourceType']}/{r['id']}" for r in page]
        pages += 1
        if pages == 1:  # a row added meanwhile to a type already passed does not shift the pages
            record(ward["nurse"], ward["patient"], encounter=ward["encounter"], heart_rate=95)
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        assert str(ward["patient"].id) not in following[0].split("$everything")[1]  # opaque cursor
        response = client.get(following[0])
    expected = [f"{r['resourceType']}/{r['id']}" for r in full]
    assert len(seen) == len(set(seen))  # no row twice
    assert [s for s in seen if s in expected] == expected  # none missed, the same order
    assert len(seen) == len(expected) + 7  # the vital signs added meanwhile come after, in their type
    assert pages == -(-len(seen) // 3)


def test_a_cursor_is_bound_to_the_requester_and_the_patient(org_a, ward):
    client = system_client(org_a)
    bundle = everything(client, ward["patient"].id, "?_count=1").json()
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    cursor = following.split("_cursor=")[1]
    assert system_client(org_a).get(following).status_code == 400  # another client
    other = f"{BASE}Patient/{ward['other']['patient'].id}/$everything?_cursor={cursor}"
    assert client.get(other).status_code == 400  # another patient


def test_unknown_or_other_tenants_patient_is_not_found_and_audited(org_a, org_b, ward):
    outsider = system_client(org_b)
    response = everything(outsider, ward["patient"].id)
    assert response.status_code == 404
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "NOT_FOUND"
    assert _events(action="interop.fhir.everything", outcome="denied", organization_id=org_b.id).count() == 1
    assert everything(system_client(org_a), "not-a-uuid").status_code == 404
    assert everything(system_client(org_a), "0190c2a0-0000-7000-8000-000000000000").status_code == 404


def test_one_audit_event_names_the_patient(org_a, ward):
    client = system_client(org_a)
    everything(client, ward["patient"].id)
    [event] = _events(action="interop.fhir.everything", outcome="success")
    assert event.patient_id == ward["patient"].id
    assert event.actor_kind == "client"
    assert event.detail["results"] >= 6
    assert set(event.detail["types"]) == ABOUT_A_PATIENT
    assert {"Patient", "Appointment"} | CLINICAL <= ABOUT_A_PATIENT


def test_types_outside_the_scopes_are_left_out_with_a_warning(org_a, ward):
    client = system_client(org_a, "system/Patient.read system/Condition.read")
    bundle = everything(client, ward["patient"].id).json()
    assert {r["resourceType"] for r in resources(bundle)} == {"Patient", "Condition"}
    warnings = outcome(bundle)["issue"]
    assert {i["severity"] for i in warnings} == {"warning"}
    assert {i["details"]["coding"][0]["code"] for i in warnings} == {"INSUFFICIENT_SCOPE"}
    left_out = {i["diagnostics"].split(" ")[0] for i in warnings}
    assert left_out == ABOUT_A_PATIENT - {"Patient", "Condition"}
    # Without the Patient scope, the operation itself is refused.
    assert everything(system_client(org_a, "system/Condition.read"), ward["patient"].id).status_code == 403


def test_a_user_sees_what_their_roles_and_care_relationships_allow(org_a, ward):
    doctor = everything(ward["doctor"], ward["patient"].id)
    assert doctor.status_code == 200
    assert {r["resourceType"] for r in resources(doctor.json())} >= {"Patient"} | CLINICAL
    receptionist = everything(staff_client(org_a, "receptionist"), ward["patient"].id)
    assert receptionist.status_code == 200
    bundle = receptionist.json()
    assert {r["resourceType"] for r in resources(bundle)} == {"Patient"}
    assert {i["details"]["coding"][0]["code"] for i in outcome(bundle)["issue"]} == {"FORBIDDEN"}
    # A doctor of another department, without a care relationship: the clinical rows are not theirs.
    stranger = staff_client(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    found = resources(everything(stranger, ward["patient"].id).json())
    assert {r["resourceType"] for r in found} & CLINICAL == set()


def test_the_capability_statement_declares_the_operation(api_client):
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    body = api_client.get(BASE + "metadata").json()
    CapabilityStatement.model_validate(body)
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    }.items() <= (patient["operation"][0].items())
