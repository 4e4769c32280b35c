"""`phb fhir import` of Bulk Data NDJSON files: one resource per line, files read in dependency order
(Patient first), `Patient/<id>` references resolved to the rows the other file's lines became, bad
lines reported by line number without stopping the import, and a second import creating nothing."""

from __future__ import annotations

import json

import pytest

from phb.clinical.models import Diagnosis, Immunization
from phb.interop.models import SourceLink
from phb.patients.models import PatientRegistration
from tests.interop.test_fhir_import import _import, _summary, _tenant
from tests.shared_data import SHARED_DATA

pytestmark = pytest.mark.django_db
SAMPLE = SHARED_DATA / "fhir-bulk-ndjson"


def _lines(name):
    return [json.loads(line) for line in (SAMPLE / name).read_text().splitlines() if line.strip()]


def _without_encounter(resource):
    """The sample's Encounter file is not in the shared data: its references would not resolve."""
    resource = dict(resource)
    resource.pop("encounter", None)
    if resource["resourceType"] == "Condition":  # an encounter diagnosis names its encounter
        resource["category"] = [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}
                ]
            }
        ]
    return resource


def _write(path, resources):
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))


@pytest.fixture
def bulk(tmp_path):
    """The sample's Patients, Immunizations and Conditions (which reference them) without their
    Encounter, with the Patient file named so that it sorts last."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "zz-people.ndjson").write_text((SAMPLE / "Patient.000.ndjson").read_text())
    _write(folder / "Immunization.000.ndjson", [_without_encounter(r) for r in _lines("Immunization.000.ndjson")])
    _write(folder / "Condition.000.ndjson", [_without_encounter(r) for r in _lines("Condition.000.ndjson")[:40]])
    (folder / "Organization.000.ndjson").write_text((SAMPLE / "Organization.000.ndjson").read_text())
    return folder


def test_ndjson_files_import_in_dependency_order_then_again_creates_nothing(org_a, bulk, tmp_path):
    patients = _lines("Patient.000.ndjson")
    shots = [_without_encounter(r) for r in _lines("Immunization.000.ndjson")]
    report = tmp_path / "report.jsonl"
    first = _summary(_import(bulk, org_a, report))
    assert first["Patient"]["created"] == len(patients)
    assert first["Immunization"]["created"] + first["Immunization"]["refused"] == len(shots)
    assert first["Immunization"]["created"] > 0
    assert first["Condition"]["created"] + first["Condition"]["refused"] == 40
    assert first["Condition"]["created"] > 0
    assert first["Organization"]["skipped"] == len(_lines("Organization.000.ndjson"))
    ctx = _tenant(org_a)
    assert PatientRegistration.objects.for_tenant(ctx).count() == len(patients)
    # Every immunization belongs to the patient its source line named.
    links = {link.source: link.target_id for link in SourceLink.objects.for_tenant(ctx)}
    by_source = {f"Patient/{p['id']}": links[f"Patient/{p['id']}"] for p in patients}
    for shot in shots:
        target = links.get(f"Immunization/{shot['id']}")
        if target is not None:
            row = Immunization.objects.for_tenant(ctx).get(id=target)
            assert row.patient_id == by_source[shot["patient"]["reference"]]
    assert Diagnosis.objects.for_tenant(ctx).count() >= first["Condition"]["created"]
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert all("line" in line and "entry" not in line for line in lines)
    assert {line["file"] for line in lines if line["type"] == "Organization"} == {"Organization.000.ndjson"}

    again = _summary(_import(bulk, org_a))
    assert again["Total"]["created"] == 0
    assert again["Total"]["linked"] == 0
    assert again["Patient"]["already"] == len(patients)
    assert again["Immunization"]["already"] == first["Immunization"]["created"]
    assert PatientRegistration.objects.for_tenant(ctx).count() == len(patients)


def test_bad_lines_are_reported_by_number_and_the_rest_is_imported(org_a, tmp_path):
    patient = _lines("Patient.000.ndjson")[0]
    shot = next(
        _without_encounter(s)
        for s in _lines("Immunization.000.ndjson")
        if s["patient"]["reference"] == f"Patient/{patient['id']}"
    )
    with_visit = next(
        s
        for s in _lines("Immunization.000.ndjson")
        if s["patient"]["reference"] == f"Patient/{patient['id']}" and s["id"] != shot["id"] and "encounter" in s
    )
    orphan = dict(shot, id="orphan-1", patient={"reference": "Patient/not-in-these-files"})
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(
        json.dumps(patient) + "\n" + "{not json\n" + "\n" + json.dumps({"resourceType": "Spaceship", "id": "x"}) + "\n"
    )
    _write(folder / "Immunization.ndjson", [orphan, [1, 2], shot, with_visit])
    report = tmp_path / "r.jsonl"
    summary = _summary(_import(folder, org_a, report))
    assert summary["Patient"]["created"] == 1
    assert summary["Immunization"]["created"] == 1
    assert summary["Immunization"]["refused"] == 2
    assert summary["Spaceship"]["skipped"] == 1
    assert summary["?"]["refused"] == 2
    lines = {(line["file"], line["line"]): line for line in map(json.loads, report.read_text().splitlines())}
    assert lines[("Patient.ndjson", 2)]["outcome"]["code"] == "INVALID_RESOURCE"
    assert "not JSON" in lines[("Patient.ndjson", 2)]["outcome"]["diagnostics"]
    assert lines[("Patient.ndjson", 4)]["result"] == "skipped"
    assert lines[("Immunization.ndjson", 1)]["outcome"]["code"] == "INVALID_REFERENCE"
    assert lines[("Immunization.ndjson", 2)]["outcome"]["code"] == "INVALID_RESOURCE"
    assert ("Immunization.ndjson", 3) not in lines  # created
    assert lines[("Immunization.ndjson", 4)]["outcome"]["code"] == "INVALID_REFERENCE"  # its Encounter is absent
    assert "Encounter" in lines[("Immunization.ndjson", 4)]["outcome"]["diagnostics"]

    # The missing patient arrives later: the orphan now resolves, the rest is already there.
    other = dict(
        patient, id="not-in-these-files", birthDate="1970-01-01", name=[{"family": "Other", "given": ["Person"]}]
    )
    other["identifier"] = []
    _write(folder / "Patient.ndjson", [other])
    again = _summary(_import(folder, org_a))
    assert again["Patient"]["created"] == 1
    assert again["Immunization"]["created"] == 1
    assert again["Immunization"]["already"] == 1


def test_a_refused_patient_refuses_its_lines_in_the_other_files(org_a, tmp_path):
    patient = dict(_lines("Patient.000.ndjson")[0], birthDate="2999-01-01")
    shots = [
        _without_encounter(s)
        for s in _lines("Immunization.000.ndjson")
        if s["patient"]["reference"] == f"Patient/{patient['id']}"
    ]
    _write(tmp_path / "Patient.ndjson", [patient])
    _write(tmp_path / "Immunization.ndjson", shots)
    report = tmp_path / "r.jsonl"
    summary = _summary(_import(tmp_path, org_a, report))
    assert summary["Patient"]["refused"] == 1
    assert summary["Immunization"]["refused"] == len(shots)
    codes = {json.loads(line)["outcome"]["code"] for line in report.read_text().splitlines()}
    assert codes == {"INVALID_RESOURCE", "DEPENDENCY_REFUSED"}
