"""The Bulk Data round trip: hospital A's patients, visits, vital signs, diagnoses and immunizations
exported with `$export` (the Celery task, run eagerly as a worker would), the NDJSON files downloaded
through the API as a client gets them (decrypted), then imported with `phb fhir import` into an empty
database, and a second import creating nothing.

"An empty database": everything A's export was made from is created inside a savepoint and rolled back
once the files are downloaded, so the import runs against a database that has never seen these people
(the master patient index finds no one to link) and lands in organization B. Only the downloaded
files cross the rollback, as they would cross from one server to another."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from celery import current_app
from django.core.management import call_command
from django.db import transaction

from phb.clinical.models import Diagnosis, Encounter, Observation
from phb.interop.models import SourceLink
from phb.kernel.context import Ctx
from phb.patients.models import Patient, PatientRegistration
from tests.clinical.factories import clinician
from tests.interop.fhir_helpers import chart, fhir_get, system_client
from tests.interop.test_fhir_bulk_export import lines, run
from tests.interop.test_fhir_import import _summary
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_worker():
    """The Celery app runs tasks at once in the process (as `delay()` would on a worker)."""
    conf = current_app.conf
    saved = {key: conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    conf.update(**saved)


def _tenant(org) -> Ctx:
    return Ctx.system(reason="test", organization_id=org.id)


def _observation_key(row) -> tuple:
    value = None if row.value_numeric is None else Decimal(row.value_numeric).normalize()
    return (row.code, row.category, value, row.value_code, row.unit, row.effective_at, row.status)


def _patient_key(row) -> tuple:
    return (row.given_name, row.other_names, row.family_name, row.birth_date, row.sex)


def _import(folder, organization) -> dict:
    out = io.StringIO()
    call_command("fhir", "import", str(folder), "--organization", str(organization.id), stdout=out)
    return _summary(out.getvalue())


@pytest.mark.usefixtures("eager_worker")
def test_export_then_import_into_an_empty_database_reproduces_the_patients_and_observations(
    org_a,
    org_b,
    django_capture_on_commit_callbacks,
    tmp_path,
):
    people_before = Patient.objects.count()
    point = transaction.savepoint()
    department = DepartmentFactory(organization=org_a)
    nurse = clinician(org_a, "nurse", department=department)
    charts = [chart(org_a, department, nurse) for _ in range(3)]
    ctx_a = _tenant(org_a)
    ids = [c["patient"].id for c in charts]
    people = {_patient_key(p) for p in Patient.objects.filter(id__in=ids)}
    observations = sorted(_observation_key(o) for o in Observation.objects.for_tenant(ctx_a))
    diagnoses = sorted((d.code, d.system) for d in Diagnosis.objects.for_tenant(ctx_a))
    visits = Encounter.objects.for_tenant(ctx_a).count()
    assert len(people) == 3
    assert len(observations) >= 3 * 7

    client = system_client(org_a)
    _location, manifest = run(client, django_capture_on_commit_callbacks, "$export")
    exported: dict[str, list[dict]] = {}
    folder = tmp_path / "export"
    folder.mkdir()
    for number, item in enumerate(manifest["output"]):
        response = client.get(item["url"])
        text = b"".join(response.streaming_content).decode()
        (folder / f"{item['type']}.{number:03d}.ndjson").write_text(text)
        exported.setdefault(item["type"], []).extend(lines(client, item["url"]))
    assert {"Patient", "Encounter", "Observation", "Condition"} <= set(exported)
    transaction.savepoint_rollback(point)
    assert Patient.objects.count() == people_before  # A's people are gone: an empty database for them

    first = _import(folder, org_b)
    assert first["Patient"]["created"] == 3
    assert first["Encounter"]["created"] == visits
    assert first["Observation"]["created"] == len(observations)
    assert first["Condition"]["created"] == len(diagnoses)
    assert first["AllergyIntolerance"]["created"] == first["Immunization"]["created"] == 3
    assert first["Total"]["refused"] == 0
    ctx_b = _tenant(org_b)
    registered = PatientRegistration.objects.for_tenant(ctx_b).values_list("patient_id", flat=True)
    assert {_patient_key(p) for p in Patient.objects.filter(id__in=registered)} == people
    assert sorted(_observation_key(o) for o in Observation.objects.for_tenant(ctx_b)) == observations
    assert sorted((d.code, d.system) for d in Diagnosis.objects.for_tenant(ctx_b)) == diagnoses
    # Each observation belongs to the patient (and visit) its exported line named.
    links = {link.source: link.target_id for link in SourceLink.objects.for_tenant(ctx_b)}
    for resource in exported["Observation"]:
        row = Observation.objects.for_tenant(ctx_b).get(id=links[f"Observation/{resource['id']}"])
        assert row.patient_id == links[resource["subject"]["reference"]]
        if "encounter" in resource:
            assert row.encounter_id == links[resource["encounter"]["reference"]]

    # The FHIR resources B serves say what A's said (ids, versions, MRNs and the performer differ).
    reader = system_client(org_b)
    for resource in exported["Patient"]:
        mine = fhir_get(reader, f"Patient/{links['Patient/' + resource['id']]}").json()
        for key in ("name", "gender", "birthDate"):
            assert mine.get(key) == resource.get(key), key
        hpn = next(i for i in resource["identifier"] if i["use"] == "official")
        assert any(i["system"] == hpn["system"] for i in mine["identifier"])  # B's own HPN
    for resource in exported["Observation"]:
        mine = fhir_get(reader, f"Observation/{links['Observation/' + resource['id']]}").json()
        for key in ("status", "category", "code", "valueQuantity", "valueCodeableConcept", "effectiveDateTime"):
            assert mine.get(key) == resource.get(key), key

    again = _import(folder, org_b)
    assert again["Total"]["created"] == 0
    assert again["Total"]["linked"] == 0
    assert again["Patient"]["already"] == 3
    assert again["Observation"]["already"] == len(observations)
    assert Observation.objects.for_tenant(ctx_b).count() == len(observations)
    assert PatientRegistration.objects.for_tenant(ctx_b).count() == 3
    assert not Observation.objects.for_tenant(_tenant(org_a)).exists()
