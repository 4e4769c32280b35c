"""`phb fhir import`: Synthea's transaction Bundles into an organization, entry by entry, through the
API's own authorization, mappers and services; idempotent; a person already on record is linked."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from phb.accounts.models import ApiClient
from phb.clinical.models import Encounter
from phb.interop.models import SourceLink
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.patients import services as patient_services
from phb.patients.models import Patient, PatientRegistration
from tests.patients.factories import register_at_desk
from tests.shared_data import SYNTHEA_BUNDLES

pytestmark = pytest.mark.django_db
SYNTHEA = SYNTHEA_BUNDLES
SMALL = sorted(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size)[:3]


@pytest.fixture
def three(tmp_path):
    folder = tmp_path / "bundles"
    folder.mkdir()
    for path in SMALL:
        (folder / path.name).symlink_to(path)
    (folder / "notes.txt").write_text("not a bundle")
    return folder


def _import(path, organization, report=None) -> str:
    out = io.StringIO()
    args = ["fhir", "import", str(path), "--organization", str(organization.id)]
    if report:
        args += ["--report", str(report)]
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _summary(text: str) -> dict[str, dict[str, int]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Resource type"))
    columns = lines[start].split()[2:]
    return {line.split()[0]: dict(zip(columns, map(int, line.split()[1:]), strict=True)) for line in lines[start + 1 :]}


def _counts(bundle_paths, resource_type) -> int:
    return sum(
        1
        for p in bundle_paths
        for e in json.loads(p.read_text())["entry"]
        if e["resource"]["resourceType"] == resource_type
    )


def _tenant(org):
    return Ctx.system(reason="test", organization_id=org.id)


def test_importing_synthea_bundles_then_again_creates_nothing_twice(org_a, three, tmp_path):
    report = tmp_path / "report.jsonl"
    first = _summary(_import(three, org_a, report))
    assert first["Patient"]["created"] == 3
    for skipped in ("Claim", "ExplanationOfBenefit", "Organization", "Practitioner"):
        assert first[skipped]["skipped"] == _counts(SMALL, skipped), skipped
        assert first[skipped]["created"] == 0
    assert first["Encounter"]["created"] == _counts(SMALL, "Encounter")
    assert first["Observation"]["created"] + first["Observation"]["refused"] == _counts(SMALL, "Observation")
    assert first["Observation"]["created"] > 0
    assert first["Immunization"]["created"] > 0
    ctx = _tenant(org_a)
    assert PatientRegistration.objects.for_tenant(ctx).count() == 3
    assert Encounter.objects.for_tenant(ctx).count() == first["Encounter"]["created"]
    created = first["Total"]["created"] + first["Total"]["linked"]
    assert SourceLink.objects.for_tenant(ctx).count() == created
    client = ApiClient.objects.for_tenant(ctx).get(name="FHIR import")
    assert client.scopes == ["system/*.*"]
    writes = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action="interop.fhir.create")
    assert writes.filter(actor_id=client.id, outcome="success").count() == created

    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert {line["result"] for line in lines} <= {"skipped", "refused"}
    assert len(lines) == first["Total"]["skipped"] + first["Total"]["refused"]
    assert set(lines[0]) == {"file", "entry", "fullUrl", "type", "result", "outcome"}
    patient = next(
        e["resource"] for e in json.loads(SMALL[0].read_text())["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    content = json.dumps([{k: v for k, v in line.items() if k != "file"} for line in lines])
    assert patient["birthDate"] not in content
    assert patient["name"][0]["family"] not in content

    patients_before = Patient.objects.count()
    again = _summary(_import(three, org_a))
    assert again["Total"]["created"] == 0
    assert again["Total"]["linked"] == 0
    assert again["Patient"]["already"] == 3
    assert again["Encounter"]["already"] == first["Encounter"]["created"]
    assert Patient.objects.count() == patients_before
    assert ApiClient.objects.for_tenant(ctx).filter(name="FHIR import").count() == 1


def test_a_patient_already_registered_is_linked_not_duplicated(org_a, tmp_path):
    bundle = json.loads(SMALL[0].read_text())
    resource = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    ssn = next(i["value"] for i in resource["identifier"] if i.get("system") == "http://hl7.org/fhir/sid/us-ssn")
    existing = patient_services.patient_create(
        ctx=Ctx.system(reason="test"),
        given_name=resource["name"][0]["given"][0],
        family_name=resource["name"][0]["family"],
        birth_date=dt.date.fromisoformat(resource["birthDate"]),
        sex=resource["gender"],
        ssn=ssn,
    )
    register_at_desk(_tenant(org_a), existing)
    before = Patient.objects.count()
    summary = _summary(_import(SMALL[0], org_a))
    assert summary["Patient"]["linked"] == 1
    assert summary["Patient"]["created"] == 0
    assert Patient.objects.count() == before
    assert Encounter.objects.for_tenant(_tenant(org_a)).filter(patient_id=existing.id).count() == _counts(
        SMALL[:1], "Encounter"
    )
    link = SourceLink.objects.for_tenant(_tenant(org_a)).get(resource_type="Patient")
    assert link.target_id == existing.id


def test_a_refused_patient_refuses_what_references_it_and_the_import_goes_on(org_a, tmp_path):
    bundle = json.loads(SMALL[0].read_text())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["birthDate"] = "2999-01-01"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(bundle))
    report = tmp_path / "r.jsonl"
    summary = _summary(_import(broken, org_a, report))
    assert summary["Patient"]["refused"] == 1
    assert summary["Encounter"]["refused"] == _counts(SMALL[:1], "Encounter")
    assert summary["Total"]["created"] == 0
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    patient_line = next(line for line in lines if line["type"] == "Patient")
    assert patient_line["outcome"]["code"] == "INVALID_RESOURCE"
    assert {line["outcome"]["code"] for line in lines if line["type"] == "Encounter"} == {"DEPENDENCY_REFUSED"}
    assert not SourceLink.objects.for_tenant(_tenant(org_a)).exists()


def test_bad_arguments(org_a, tmp_path):
    with pytest.raises(CommandError):
        _import(tmp_path / "missing", org_a)
    with pytest.raises(CommandError):
        call_command("fhir", "import", str(tmp_path), "--organization", "nope", stdout=io.StringIO())
    text = _import(tmp_path, org_a)  # an empty directory: an empty summary
    assert _summary(text)["Total"]["created"] == 0


def test_one_bad_entry_is_refused_alone_and_the_rest_of_its_bundle_is_created(org_a, tmp_path):
    """The Bundle goes first as one transaction; the bad entry rolls it back and the entries go again one
    by one, so that only the bad one (and what references it) is refused."""
    bundle = json.loads(SMALL[0].read_text())
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    observations[0]["resource"]["status"] = "not-a-status"
    broken = tmp_path / "one-bad.json"
    broken.write_text(json.dumps(bundle))
    report = tmp_path / "r.jsonl"
    summary = _summary(_import(broken, org_a, report))
    assert summary["Patient"]["created"] == 1
    assert summary["Observation"]["refused"] >= 1
    assert summary["Observation"]["created"] + summary["Observation"]["refused"] == len(observations)
    assert summary["Encounter"]["created"] == _counts(SMALL[:1], "Encounter")
    refused = [json.loads(line) for line in report.read_text().splitlines() if '"refused"' in line]
    assert observations[0]["fullUrl"] in {line["fullUrl"] for line in refused}
    ctx = _tenant(org_a)
    client = ApiClient.objects.for_tenant(ctx).get(name="FHIR import")
    events = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(
        action="interop.fhir.create", actor_id=client.id
    )
    assert events.filter(outcome="success").count() == summary["Total"]["created"] + summary["Total"]["linked"]
    assert events.filter(outcome="failure").count() == summary["Total"]["refused"]
    good = _summary(_import(SMALL[0], org_a))  # the intact Bundle: what was created is found again
    assert good["Observation"]["already"] == summary["Observation"]["created"]
    assert good["Observation"]["created"] == summary["Observation"]["refused"]
