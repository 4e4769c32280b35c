"""Exports through the API (/api/v1/me/exports/) and the portal page (/patient/export/)."""

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from phb.patients import exports, services, tasks
from phb.patients.models import ExportStatus, Patient, PatientExport
from tests.accounts.factories import UserFactory, staff_member, verified_client
from tests.patients.factories import demographics

pytestmark = pytest.mark.django_db


def make_patient(**fields):
    """Chiamaka Eze first, then other people (the master patient index refuses the same one twice)."""
    user = UserFactory()
    chiamaka = {
        "given_name": "Chiamaka",
        "family_name": "Eze",
        "birth_date": dt.date(1990, 5, 17),
        "nin": "98765432109",
    }
    first = not Patient.objects.filter(family_name="Eze", given_name="Chiamaka").exists()
    person = chiamaka if first else demographics()
    patient = services.patient_create(ctx=Ctx.system(reason="t"), user=user, **person, **fields)
    return patient, user


@pytest.fixture
def me():
    patient, user = make_patient()
    client = APIClient()
    client.force_login(user)
    return client, patient


@pytest.fixture
def run_builds(monkeypatch):
    """Run the build task at once instead of sending it to a worker."""
    monkeypatch.setattr(tasks.export_build, "delay", lambda export_id: tasks.export_build(export_id))


def request_export(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/me/exports/")
    assert response.status_code == 202, response.content
    return response.json()


def test_request_follow_and_download(me, run_builds, django_capture_on_commit_callbacks):
    client, patient = me
    created = request_export(client, django_capture_on_commit_callbacks)
    assert created["status"] == "queued"
    assert created["progress"] == 0
    listed = client.get("/api/v1/me/exports/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == created["id"]
    assert listed["results"][0]["status"] == "ready"
    assert listed["results"][0]["progress"] == 100
    one = client.get(f"/api/v1/me/exports/{created['id']}/").json()
    assert one["status"] == "ready"
    assert one["expires_at"]
    assert "content_json" not in one
    assert "content_pdf" not in one

    response = client.get(f"/api/v1/me/exports/{created['id']}/download", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert "Chiamaka" not in response["Content-Disposition"]
    assert patient.hpn not in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["sections"]["demographics"]["identifiers"]["nin"] == "98765432109"

    pdf = client.get(f"/api/v1/me/exports/{created['id']}/download", {"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    actions = AuditEvent.objects.for_patient(Ctx.system(reason="t"), patient_id=patient.id).values_list(
        "action", flat=True
    )
    assert list(actions).count("patients.export.download") == 2
    assert list(actions).count("patients.export.request") == 1


def test_bad_input_gets_problems_with_stable_codes(me, django_capture_on_commit_callbacks):
    client, _patient = me
    created = request_export(client, django_capture_on_commit_callbacks)  # queued: no worker in this test
    url = f"/api/v1/me/exports/{created['id']}/download"

    def problem(response, status, code):
        assert response.status_code == status, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == code

    problem(client.get(url, {"format": "pdf"}), 409, "EXPORT_NOT_READY")
    problem(client.post("/api/v1/me/exports/"), 409, "EXPORT_IN_PROGRESS")
    exports.export_build(export_id=PatientExport.objects.get().id)
    problem(client.get(url, {"format": "docx"}), 400, "VALIDATION_ERROR")
    assert client.get(url, {"format": "docx"}).json()["errors"][0]["field"] == "format"
    problem(client.get(url), 400, "VALIDATION_ERROR")
    problem(client.get("/api/v1/me/exports/not-an-id/download", {"format": "json"}), 404, "NOT_FOUND")
    problem(client.get("/api/v1/me/exports/01a22b9f-329f-72b8-ab6b-95dc0e3fed4b/"), 404, "NOT_FOUND")

    PatientExport.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    problem(client.get(url, {"format": "json"}), 410, "EXPORT_EXPIRED")


def test_another_persons_export_is_not_found(me, org_a, run_builds, django_capture_on_commit_callbacks):
    client, _ = me
    created = request_export(client, django_capture_on_commit_callbacks)
    _, other_user = make_patient()
    other = APIClient()
    other.force_login(other_user)
    doctor, _ = staff_member(org_a, "doctor")
    for stranger in (other, verified_client(doctor)):
        assert stranger.get(f"/api/v1/me/exports/{created['id']}/").status_code == 404
        response = stranger.get(f"/api/v1/me/exports/{created['id']}/download", {"format": "json"})
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    assert other.get("/api/v1/me/exports/").json()["count"] == 0
    assert verified_client(doctor).post("/api/v1/me/exports/").status_code == 404  # staff have no patient record
    assert APIClient().get("/api/v1/me/exports/").status_code == 401


def test_the_openapi_schema_describes_the_export_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/me/exports/", "/api/v1/me/exports/{export_id}/", "/api/v1/me/exports/{export_id}/download"):
        assert path in schema


def test_the_portal_page_requests_polls_and_downloads(run_builds, django_capture_on_commit_callbacks, monkeypatch):
    patient, user = make_patient()
    web = Client()
    web.force_login(user)
    Patient.objects.filter(id=patient.id).update(onboarded_at=timezone.now())  # past the first-visit form
    assert b'href="/patient/export/"' in web.get("/patient/").content
    page = web.get("/patient/export/")
    assert page.status_code == 200
    assert b"Prepare a new export" in page.content

    # Queued, not yet built: the list polls itself with HTMX.
    monkeypatch.setattr(tasks.export_build, "delay", lambda export_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        assert web.post("/patient/export/").status_code == 302
    partial = web.get("/patient/export/", HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in partial.content
    assert b"<html" not in partial.content
    export = PatientExport.objects.get(patient=patient)
    assert web.get(f"/patient/export/{export.id}/download/json/").status_code == 302  # not ready: back to the page

    exports.export_build(export_id=export.id)
    partial = web.get("/patient/export/", HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in partial.content  # done: polling stops
    assert f"/patient/export/{export.id}/download/pdf/".encode() in partial.content
    pdf = web.get(f"/patient/export/{export.id}/download/pdf/")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"].startswith("attachment;")
    assert web.get(f"/patient/export/{export.id}/download/docx/").status_code == 404

    PatientExport.objects.update(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert web.get(f"/patient/export/{export.id}/download/pdf/").status_code == 302
    assert b"Expired" in web.get("/patient/export/").content
    assert PatientExport.objects.get().status == ExportStatus.READY  # until the hourly sweep wipes it

    stranger = Client()
    stranger.force_login(make_patient()[1])
    assert stranger.get(f"/patient/export/{export.id}/download/pdf/").status_code == 404
    no_record = Client()
    no_record.force_login(UserFactory())
    assert no_record.get("/patient/export/").status_code == 404
    assert Client().get("/patient/export/").status_code == 302  # sign in first
