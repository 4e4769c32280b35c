"""Bulk Data `$export` (IG v2): kick-off, status, manifest, NDJSON files, cancel, expiry, one export at a
time, scopes and roles. The build runs through the Celery task, as the worker would run it (eagerly here,
after the kick-off's transaction commits). Every NDJSON line is validated with fhir.resources (R4B)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from celery import current_app
from django.utils import timezone

from phb.interop import tasks
from phb.interop.fhir import bulk
from phb.interop.models import BulkExport, BulkExportStatus
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.clinical.factories import clinician
from tests.interop.fhir_helpers import BASE, chart, fhir_get, staff_client, system_client, validate
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}
CLINICAL = {"Encounter", "Observation", "Condition", "AllergyIntolerance", "Immunization"}
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture
def ward(org_a):
    """Two patients seen in department D of hospital A, one seen in department E."""
    department, elsewhere = DepartmentFactory(organization=org_a), DepartmentFactory(organization=org_a)
    nurse = clinician(org_a, "nurse", department=department)
    return {
        "department": department,
        "elsewhere": elsewhere,
        "first": chart(org_a, department, nurse),
        "second": chart(org_a, department, nurse),
        "third": chart(org_a, elsewhere, clinician(org_a, "nurse", department=elsewhere)),
    }


@pytest.fixture
def worker():
    """The Celery app runs tasks at once in the process (as `delay()` would on a worker)."""
    conf = current_app.conf
    saved = {key: conf.get(key) for key in ("task_always_eager", "task_eager_propagates")}
    conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    conf.update(**saved)


def kickoff(client, path="$export", query="", capture=None, **headers):
    headers = {**ASYNC, **headers}
    if capture is None:
        return client.get(f"{BASE}{path}{query}", **headers)
    with capture(execute=True):
        return client.get(f"{BASE}{path}{query}", **headers)


def run(client, capture, path="$export", query=""):
    response = kickoff(client, path, query, capture)
    assert response.status_code == 202, response.content
    status = client.get(response["Content-Location"])
    assert status.status_code == 200, status.content
    return response["Content-Location"], status.json()


def lines(client, url):
    response = client.get(url)
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"].startswith("application/fhir+ndjson")
    text = b"".join(response.streaming_content).decode()
    assert text.endswith("\n")
    out = [json.loads(line) for line in text.splitlines()]
    for resource in out:
        validate(resource)
    return out


def code(response):
    return response.json()["issue"][0]["details"]["coding"][0]["code"]


def _events(**filters):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(**filters)


def _export(location):
    export_id = location.rstrip("/").rsplit("/", 1)[1]
    return BulkExport.objects.for_system(Ctx.system(reason="test")).get(id=export_id)


# --- kick-off errors --------------------------------------------------------------------------------


def test_kickoff_refuses_bad_requests(org_a, api_client):
    client = system_client(org_a)
    no_prefer = client.get(f"{BASE}$export", HTTP_ACCEPT="application/fhir+json")
    assert no_prefer.status_code == 400
    assert "respond-async" in no_prefer.json()["issue"][0]["diagnostics"]
    for query in (
        "?_type=Spaceship",
        "?_type=Patient,Nope",
        "?_since=yesterday",
        "?_since=2026-01-01",
        "?_outputFormat=text/csv",
        "?_outputFormat=application/fhir+json",
    ):
        response = kickoff(client, query=query)
        assert response.status_code == 400, query
        assert code(response) == "VALIDATION_ERROR"
    strict = kickoff(client, query="?_typeFilter=x", HTTP_PREFER="respond-async, handling=strict")
    assert strict.status_code == 400
    assert code(strict) == "UNKNOWN_PARAMETER"
    assert kickoff(client, "Patient/$export", "?_type=Practitioner").status_code == 400  # not about patients
    assert kickoff(client, query="", HTTP_ACCEPT="application/xml").status_code == 406
    assert kickoff(api_client).status_code == 401
    assert not BulkExport.objects.for_system(Ctx.system(reason="test")).exists()


def test_who_may_export(org_a, ward, worker, django_capture_on_commit_callbacks):
    doctor = staff_client(org_a, "doctor", department=ward["department"])
    refused = kickoff(doctor)
    assert refused.status_code == 403
    assert code(refused) == "FORBIDDEN"
    narrow = system_client(org_a, "system/Patient.read system/Condition.read")
    assert code(kickoff(narrow, query="?_type=Observation")) == "INSUFFICIENT_SCOPE"
    assert kickoff(system_client(org_a, "system/Condition.read"), "Patient/$export").status_code == 403
    # An administrator (interop.bulk.export) exports what their roles let them read: no clinical record.
    admin = staff_client(org_a, "hospital_admin")
    _location, manifest = run(admin, django_capture_on_commit_callbacks)
    types = {item["type"] for item in manifest["output"]}
    assert "Patient" in types
    assert types & CLINICAL == set()
    patients = lines(admin, next(i["url"] for i in manifest["output"] if i["type"] == "Patient"))
    assert len(patients) == 3


# --- the full run -----------------------------------------------------------------------------------


def test_a_patient_export_runs_in_the_worker_and_matches_the_reads(
    org_a, ward, worker, django_capture_on_commit_callbacks
):
    client = system_client(org_a)
    before = timezone.now()
    location, manifest = run(client, django_capture_on_commit_callbacks, "Patient/$export")
    assert re.fullmatch(r"http://testserver/fhir/r4/\$export-status/[0-9a-f-]{36}", location)
    # The manifest's shape (IG v2).
    assert set(manifest) == {"transactionTime", "request", "requiresAccessToken", "output", "error"}
    assert _INSTANT.match(manifest["transactionTime"])
    assert dt.datetime.fromisoformat(manifest["transactionTime"].replace("Z", "+00:00")) >= before
    assert manifest["request"] == f"http://testserver{BASE}Patient/$export"
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    for item in manifest["output"]:
        assert set(item) == {"type", "url", "count"}
        assert item["url"].startswith("http://testserver/fhir/r4/$export-file/")
    counts: dict[str, int] = {}
    exported: dict[str, dict[str, dict]] = {}
    for item in manifest["output"]:
        found = lines(client, item["url"])
        assert len(found) == item["count"]
        assert {r["resourceType"] for r in found} == {item["type"]}
        counts[item["type"]] = counts.get(item["type"], 0) + item["count"]
        exported.setdefault(item["type"], {}).update({r["id"]: r for r in found})
    assert set(counts) == {"Patient"} | CLINICAL  # no appointment in this ward
    # Counts equal the rows a search shows the same client, and each resource is what a read emits.
    for resource_type, count in counts.items():
        total = fhir_get(client, f"{resource_type}?_total=accurate&_count=1").json()["total"]
        assert count == total, resource_type
    condition = ward["first"]["diagnosis"]
    assert exported["Condition"][str(condition.id)] == client.get(f"{BASE}Condition/{condition.id}").json()
    patient = ward["first"]["patient"]
    assert exported["Patient"][str(patient.id)] == client.get(f"{BASE}Patient/{patient.id}").json()
    export = _export(location)
    assert export.expires_at == export.finished_at + dt.timedelta(hours=24)
    assert export.progress == 100
    # Audit: the kick-off, one event per file written and one per download, with counts.
    assert _events(action="interop.fhir.export.kickoff", actor_kind="client").count() == 1
    written = _events(action="interop.fhir.export.file")
    assert written.count() == len(manifest["output"])
    assert sum(e.detail["count"] for e in written) == sum(counts.values())
    assert _events(action="interop.fhir.export.download").count() == len(manifest["output"])


def test_small_batches_export_every_row_once_and_nothing_of_another_organization(
    org_a, org_b, ward, worker, django_capture_on_commit_callbacks, settings, monkeypatch
):
    """Each type is read through one cursor in batches (here of 2 rows, files of 3): between batches the
    build checks for a cancel and reads its page context, and the rows read on stay this organization's."""
    monkeypatch.setattr(bulk, "CHUNK", 2)
    settings.FHIR_BULK_FILE_RESOURCES = 3
    elsewhere = DepartmentFactory(organization=org_b)
    chart(org_b, elsewhere, clinician(org_b, "nurse", department=elsewhere))
    client = system_client(org_a)
    _location, manifest = run(
        client, django_capture_on_commit_callbacks, query="?_type=Patient,Encounter,Observation,Condition"
    )
    ids: dict[str, list[str]] = {}
    for item in manifest["output"]:
        found = lines(client, item["url"])
        assert 0 < len(found) <= 3
        ids.setdefault(item["type"], []).extend(r["id"] for r in found)
    for resource_type, exported in ids.items():
        assert len(exported) == len(set(exported)), resource_type
        search = fhir_get(client, f"{resource_type}?_count=200").json()
        assert set(exported) == {e["resource"]["id"] for e in search.get("entry", [])}, resource_type
    assert set(ids) == {"Patient", "Encounter", "Observation", "Condition"}
    assert len(ids["Observation"]) > 2  # several batches of one type


def test_status_while_queued_then_complete(org_a, ward, django_capture_on_commit_callbacks, monkeypatch):
    client = system_client(org_a)
    queued = []
    monkeypatch.setattr(tasks.bulk_export_build, "delay", lambda export_id: queued.append(export_id))
    response = kickoff(client, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 202
    location = response["Content-Location"]
    assert queued == [str(_export(location).id)]  # queued once the kick-off committed
    waiting = client.get(location)
    assert waiting.status_code == 202
    assert waiting["X-Progress"] == "0% done"
    assert int(waiting["Retry-After"]) > 0
    assert tasks.bulk_export_build.apply(args=[queued[0]]).get() == BulkExportStatus.COMPLETED
    assert tasks.bulk_export_build.apply(args=[queued[0]]).get() == "skipped"  # a second delivery
    done = client.get(location)
    assert done.status_code == 200
    types = {item["type"] for item in done.json()["output"]}
    assert {"Patient", "Organization", "Group", "AuditEvent"} | CLINICAL <= types  # system level


def test_since_and_type_narrow_the_export(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a)
    _location, manifest = run(client, django_capture_on_commit_callbacks, query="?_type=Condition,Immunization")
    assert sorted(item["type"] for item in manifest["output"]) == ["Condition", "Immunization"]
    assert sum(item["count"] for item in manifest["output"]) == 6
    # A minute ahead: nothing written by the second export itself (its audit events) is after it.
    later = (timezone.now() + dt.timedelta(minutes=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _location, manifest = run(
        system_client(org_a), django_capture_on_commit_callbacks, query=f"?_since={later}&_outputFormat=ndjson"
    )
    # Only the drug catalogue is left: its rows carry no time of change, so _since does not narrow it.
    assert [item["type"] for item in manifest["output"]] == ["Medication"]


def test_files_split_at_the_configured_size(org_a, ward, worker, django_capture_on_commit_callbacks, settings):
    settings.FHIR_BULK_FILE_RESOURCES = 4
    client = system_client(org_a)
    _location, manifest = run(client, django_capture_on_commit_callbacks, "Patient/$export", "?_type=Observation")
    files = manifest["output"]
    total = sum(item["count"] for item in files)
    assert total == fhir_get(client, "Observation?_count=1").json()["total"]
    assert len(files) == -(-total // 4)
    assert all(item["count"] == 4 for item in files[:-1])
    ids = [r["id"] for item in files for r in lines(client, item["url"])]
    assert len(ids) == len(set(ids)) == total


def test_ignored_parameters_are_reported_in_the_error_file(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a)
    _location, manifest = run(client, django_capture_on_commit_callbacks, query="?_type=Condition&_elements=id")
    [error] = manifest["error"]
    assert error["type"] == "OperationOutcome"
    [outcome] = lines(client, error["url"])
    assert outcome["issue"][0]["severity"] == "warning"


def test_a_group_export_holds_the_departments_patients(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a)
    group = fhir_get(client, f"Group/{ward['department'].id}")
    assert group.status_code == 200
    assert group.json()["type"] == "person"
    assert fhir_get(client, "Group").json()["total"] == 2
    _location, manifest = run(client, django_capture_on_commit_callbacks, f"Group/{ward['department'].id}/$export")
    patients = lines(client, next(i["url"] for i in manifest["output"] if i["type"] == "Patient"))
    expected = {str(ward["first"]["patient"].id), str(ward["second"]["patient"].id)}
    assert {p["id"] for p in patients} == expected
    for item in manifest["output"]:
        for resource in lines(client, item["url"]):
            subject = resource.get("subject", resource.get("patient"))
            if subject:
                assert subject["reference"].split("/")[1] in expected
    assert kickoff(client, "Group/0190c2a0-0000-7000-8000-000000000000/$export").status_code == 404


# --- access, cancel, expiry, limits -----------------------------------------------------------------


def test_only_the_requester_sees_the_status_and_the_files(
    org_a, org_b, ward, worker, django_capture_on_commit_callbacks
):
    client = system_client(org_a)
    location, manifest = run(client, django_capture_on_commit_callbacks, query="?_type=Patient")
    file_url = manifest["output"][0]["url"]
    for other in (system_client(org_a), system_client(org_b), staff_client(org_a, "hospital_admin")):
        assert other.get(location).status_code == 404
        assert other.get(file_url).status_code == 404
        assert other.delete(location).status_code == 404
    assert client.get(f"{BASE}$export-status/not-an-id").status_code == 404
    assert client.get(file_url.rsplit("/", 1)[0] + "/9").status_code == 404
    assert _events(action="interop.fhir.export.download", outcome="denied").count() >= 4


def test_cancel_removes_the_files(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a)
    location, manifest = run(client, django_capture_on_commit_callbacks)
    export = _export(location)
    keys = [item["key"] for item in export.files]
    assert keys
    assert all(bulk.storage().exists(k) for k in keys)
    response = client.delete(location)
    assert response.status_code == 202
    assert not any(bulk.storage().exists(k) for k in keys)
    assert client.get(location).status_code == 404
    assert client.get(manifest["output"][0]["url"]).status_code == 404
    assert client.delete(location).status_code == 404
    assert _events(action="interop.fhir.export.cancel", outcome="success").count() == 1
    # A new export may start at once.
    assert kickoff(client, capture=django_capture_on_commit_callbacks).status_code == 202


def test_a_build_cancelled_while_running_keeps_nothing(org_a, ward, django_capture_on_commit_callbacks, monkeypatch):
    client = system_client(org_a)
    monkeypatch.setattr(tasks.bulk_export_build, "delay", lambda export_id: None)
    location = kickoff(client, capture=django_capture_on_commit_callbacks)["Content-Location"]
    export = _export(location)
    original = bulk._still_running

    def cancel_then_check(export_id):
        client.delete(location)
        original(export_id)

    monkeypatch.setattr(bulk, "_still_running", cancel_then_check)
    saved = []
    real_save = bulk._FileWriter.save
    monkeypatch.setattr(bulk._FileWriter, "save", lambda self: saved.append(real_save(self)) or saved[-1])
    assert bulk.export_build(export_id=export.id) == BulkExportStatus.CANCELLED
    assert not any(bulk.storage().exists(item["key"]) for item in saved)
    export.refresh_from_db()
    assert export.status == BulkExportStatus.CANCELLED


def test_expired_exports_are_wiped_by_the_periodic_task(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a)
    location, manifest = run(client, django_capture_on_commit_callbacks, query="?_type=Patient")
    export = _export(location)
    keys = [item["key"] for item in export.files]
    BulkExport.objects.for_system(Ctx.system(reason="test")).filter(id=export.id).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    assert client.get(location).status_code == 410  # past its time, before the sweep
    assert tasks.bulk_exports_maintain.apply().get()["expired"] == 1
    export.refresh_from_db()
    assert (export.status, export.files) == (BulkExportStatus.EXPIRED, [])
    assert not any(bulk.storage().exists(k) for k in keys)
    gone = client.get(location)
    assert gone.status_code == 410
    assert code(gone) == "EXPORT_EXPIRED"
    assert client.get(manifest["output"][0]["url"]).status_code == 404


def test_the_sweep_fails_stuck_builds_and_queues_lost_ones(
    org_a, ward, django_capture_on_commit_callbacks, monkeypatch
):
    client = system_client(org_a)
    queued = []
    monkeypatch.setattr(tasks.bulk_export_build, "delay", lambda export_id: queued.append(export_id))
    location = kickoff(client, capture=django_capture_on_commit_callbacks)["Content-Location"]
    export = _export(location)
    jobs = BulkExport.objects.for_system(Ctx.system(reason="test")).filter(id=export.id)
    jobs.update(created_at=timezone.now() - dt.timedelta(minutes=11))
    assert bulk.exports_maintain()["requeued"] == 1
    assert queued == [str(export.id), str(export.id)]
    jobs.update(status=BulkExportStatus.RUNNING, started_at=timezone.now() - dt.timedelta(hours=2))
    assert bulk.exports_maintain()["timed_out"] == 1
    failed = client.get(location)
    assert failed.status_code == 500
    assert failed.json()["resourceType"] == "OperationOutcome"
    assert code(failed) == bulk.ErrorCode.TIMED_OUT


def test_a_revoked_client_gets_nothing_built(org_a, ward, django_capture_on_commit_callbacks, monkeypatch):
    from phb.accounts import api_clients

    client = system_client(org_a)
    monkeypatch.setattr(tasks.bulk_export_build, "delay", lambda export_id: None)
    location = kickoff(client, capture=django_capture_on_commit_callbacks)["Content-Location"]
    api_clients.api_client_revoke(
        ctx=Ctx.system(reason="test", organization_id=org_a.id), api_client_id=client.registered.id
    )
    export = _export(location)
    assert bulk.export_build(export_id=export.id) == BulkExportStatus.FAILED
    export.refresh_from_db()
    assert (export.error, export.files) == (bulk.ErrorCode.REQUESTER_GONE, [])


def test_one_export_at_a_time(org_a, ward, django_capture_on_commit_callbacks, monkeypatch):
    client = system_client(org_a)
    monkeypatch.setattr(tasks.bulk_export_build, "delay", lambda export_id: None)
    assert kickoff(client, capture=django_capture_on_commit_callbacks).status_code == 202
    busy = kickoff(client, "Patient/$export", capture=django_capture_on_commit_callbacks)
    assert busy.status_code == 429
    assert int(busy["Retry-After"]) > 0
    assert code(busy) == "EXPORT_IN_PROGRESS"
    # Another client of the same organization is not held back.
    assert kickoff(system_client(org_a), capture=django_capture_on_commit_callbacks).status_code == 202


def test_scopes_limit_the_exported_types(org_a, ward, worker, django_capture_on_commit_callbacks):
    client = system_client(org_a, "system/Patient.read system/Condition.read")
    _location, manifest = run(client, django_capture_on_commit_callbacks)
    assert {item["type"] for item in manifest["output"]} == {"Patient", "Condition"}


def test_the_capability_statement_declares_bulk_data(api_client):
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    body = api_client.get(BASE + "metadata").json()
    CapabilityStatement.model_validate(body)
    assert body["instantiates"] == ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]
    rest = body["rest"][0]
    assert rest["operation"][0]["definition"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    by_type = {r["type"]: r for r in rest["resource"]}
    assert {o["definition"] for o in by_type["Patient"]["operation"]} == {
        "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
    }
    assert by_type["Group"]["operation"][0]["name"] == "export"


def test_the_sweep_is_scheduled_hourly_and_the_tasks_are_registered():
    from phb.config.celery import app

    app.finalize()
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule["interop.bulk_exports_maintain"] == 3600.0
    app.autodiscover_tasks(force=True)
    assert {"interop.bulk_export_build", "interop.bulk_exports_maintain"} <= set(app.tasks)
