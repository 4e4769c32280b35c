"""Diagnoses and problems: ICD-10-CM checked against the code list, SNOMED CT accepted as given, the
status moves, dates, the problem list's one active entry per code, bad input refused whole, another
organization's or an unrelated clinician's access refused (audited), and the API."""

import datetime as dt
import uuid

import pytest

from phb.clinical import diagnoses
from phb.clinical.models import Diagnosis
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.clinical.test_api import client_for
from tests.organizations.factories import DepartmentFactory
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(org_a):
    ensure_code_systems()
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    encounter = walk_in(doctor, patient, department)
    return {"doctor": doctor, "patient": patient, "encounter": encounter, "department": department}


def add(visit, **kwargs):
    values = {"system": "icd10-cm", "code": "E11.9", "encounter_id": visit["encounter"].id, **kwargs}
    return diagnoses.diagnosis_add(ctx=visit["doctor"], patient_id=visit["patient"].id, **values)


def _rows(ctx):
    return Diagnosis.objects.for_tenant(ctx).count()


def test_an_icd10_code_is_put_in_canonical_form_with_its_display(visit):
    diagnosis = add(visit, code="e119", severity="moderate", onset_date="2024-03-01", note="on metformin")
    assert (diagnosis.system, diagnosis.code) == ("http://hl7.org/fhir/sid/icd-10-cm", "E11.9")
    assert "diabetes" in diagnosis.display.lower()
    assert diagnosis.diagnosed_by_id == visit["doctor"].actor_id
    assert diagnosis.clinical_status == "active"
    assert diagnosis.onset_date == dt.date(2024, 3, 1)


def test_snomed_ct_is_accepted_as_given_but_needs_a_display(visit):
    diagnosis = add(visit, system="snomed-ct", code="44054006", display="Diabetes mellitus type 2")
    assert diagnosis.system == "http://snomed.info/sct"
    with pytest.raises(ValidationFailed) as error:
        add(visit, system="snomed-ct", code="38341003")
    assert error.value.extra["errors"][0]["field"] == "display"


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"code": "Q99.99"}, "code", "unknown_code"),
        ({"code": "E11"}, "code", "code_not_selectable"),  # a category, not billable
        ({"code": "not a code"}, "code", "invalid"),
        ({"system": "http://loinc.org", "code": "8867-4"}, "system", "unsupported_system"),
        ({"system": "", "code": "E11.9"}, "system", "unsupported_system"),
        ({"clinical_status": "cured"}, "clinical_status", "invalid_choice"),
        ({"clinical_status": "entered_in_error"}, "clinical_status", "invalid_choice"),
        ({"category": "billing"}, "category", "invalid_choice"),
        ({"severity": "dreadful"}, "severity", "invalid_choice"),
        ({"onset_date": "yesterday"}, "onset_date", "invalid_date"),
        ({"onset_date": "2999-01-01"}, "onset_date", "in_the_future"),
        (
            {"clinical_status": "resolved", "onset_date": "2024-05-01", "abatement_date": "2024-04-01"},
            "abatement_date",
            "abates_before_onset",
        ),
        ({"abatement_date": "2024-04-01"}, "abatement_date", "abatement_while_active"),
        ({"encounter_id": None}, "encounter_id", "required"),
        ({"encounter_id": uuid.uuid4()}, "encounter_id", "unknown_encounter"),
        ({"note": "x" * 5001}, "note", "too_long"),
        ({"diagnosed_by_id": uuid.uuid4()}, "diagnosed_by_id", "not_a_clinician"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(visit, kwargs, field, code):
    with pytest.raises(ValidationFailed) as error:
        add(visit, **kwargs)
    errors = error.value.extra["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code)
    assert _rows(visit["doctor"]) == 0


def test_a_problem_is_on_the_list_once_while_active(visit):
    first = add(visit, category="problem_list_item", encounter_id=None)
    with pytest.raises(Conflict) as error:
        add(visit, category="problem_list_item", encounter_id=None)
    assert error.value.code == "DIAGNOSIS_DUPLICATE"
    diagnoses.diagnosis_update(ctx=visit["doctor"], diagnosis_id=first.id, clinical_status="resolved")
    add(visit, category="problem_list_item", encounter_id=None)  # a new episode
    # and an encounter diagnosis of the same code is no duplicate
    add(visit)
    assert _rows(visit["doctor"]) == 3


def test_status_moves(visit):
    diagnosis = add(visit)
    doctor = visit["doctor"]
    resolved = diagnoses.diagnosis_update(
        ctx=doctor, diagnosis_id=diagnosis.id, clinical_status="resolved", abatement_date=dt.date.today()
    )
    assert resolved.abatement_date == dt.date.today()
    again = diagnoses.diagnosis_update(ctx=doctor, diagnosis_id=diagnosis.id, clinical_status="active")
    assert again.abatement_date is None  # a recurrence
    diagnoses.diagnosis_update(ctx=doctor, diagnosis_id=diagnosis.id, clinical_status="entered_in_error")
    with pytest.raises(Conflict) as error:
        diagnoses.diagnosis_update(ctx=doctor, diagnosis_id=diagnosis.id, clinical_status="active")
    assert error.value.code == "ILLEGAL_TRANSITION"
    with pytest.raises(Conflict):
        diagnoses.diagnosis_update(ctx=doctor, diagnosis_id=diagnosis.id, severity="mild")
    with pytest.raises(ValidationFailed):
        diagnoses.diagnosis_update(ctx=doctor, diagnosis_id=diagnosis.id, code="I10")
    # entered in error is hidden from the list unless asked for
    assert list(diagnoses.diagnosis_list(ctx=doctor, patient_id=visit["patient"].id)) == []
    assert len(diagnoses.diagnosis_list(ctx=doctor, patient_id=visit["patient"].id, include_entered_in_error=True)) == 1


def test_an_encounter_diagnosis_needs_an_open_encounter(visit):
    from phb.clinical import services

    services.encounter_finish(ctx=visit["doctor"], encounter_id=visit["encounter"].id)
    with pytest.raises(Conflict) as error:
        add(visit)
    assert error.value.code == "ENCOUNTER_CLOSED"
    # the problem list may still point at it
    add(visit, category="problem_list_item")


def test_no_care_relationship_no_role_or_another_organization_is_refused_and_audited(org_a, org_b, visit):
    stranger = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    diagnosis = add(visit)
    with pytest.raises(NotFound):
        diagnoses.diagnosis_list(ctx=stranger, patient_id=visit["patient"].id)
    with pytest.raises(NotFound):
        diagnoses.diagnosis_get(ctx=stranger, diagnosis_id=diagnosis.id)
    with pytest.raises(NotFound):
        diagnoses.diagnosis_add(ctx=stranger, patient_id=visit["patient"].id, system="icd10-cm", code="I10")
    with pytest.raises(NotFound):
        diagnoses.diagnosis_get(ctx=clinician(org_b, "doctor"), diagnosis_id=diagnosis.id)
    with pytest.raises(Forbidden):
        diagnoses.diagnosis_update(ctx=clinician(org_a, "receptionist"), diagnosis_id=diagnosis.id, severity="mild")
    denied = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(
        action__startswith="clinical.diagnosis.", outcome="denied"
    )
    assert denied.count() == 5


def test_api(org_a, visit):
    ensure_code_systems()
    doctor = client_for(org_a, "doctor", department=visit["department"])
    url = f"/api/v1/patients/{visit['patient'].id}/diagnoses/"
    created = doctor.post(
        url,
        {"system": "icd10-cm", "code": "j45.909", "encounter_id": str(visit["encounter"].id), "severity": "mild"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["code"] == "J45.909"
    assert body["severity"] == "mild"
    bad = doctor.post(url, {"system": "icd10-cm", "code": "ZZZ"}, format="json")
    assert bad.status_code == 400
    listed = doctor.get(url).json()
    assert [d["id"] for d in listed["results"]] == [body["id"]]
    changed = doctor.patch(f"/api/v1/diagnoses/{body['id']}/", {"clinical_status": "ruled_out"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["clinical_status"] == "ruled_out"
    assert doctor.get(f"/api/v1/diagnoses/{uuid.uuid4()}/").status_code == 404
    assert doctor.get("/api/v1/diagnoses/not-an-id/").status_code == 404
    fresh = client_for(org_a, "doctor", department=visit["department"], med_access=False)
    assert fresh.get(url).json()["code"] == "MED_ACCESS_REQUIRED"
