"""The documents API: multipart upload, list, metadata, streamed download with safe headers, entered in
error; the step-up window, the missing role (403), an unrelated or foreign clinician (404), bad input
(400 with a stable code), an oversized upload refused before or while it is read."""

import datetime as dt
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from phb.kernel.context import Ctx
from phb.kernel.models import AuditEvent
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.clinical import document_samples as samples
from tests.clinical.document_samples import store, stored_files  # noqa: F401  (a fixture)
from tests.clinical.factories import patient_at
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db


def client_for(organization, *roles, department=None, med_access=True):
    user = UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles), department=department)
    client = verified_client(user)
    if med_access:
        session = client.session
        session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
        session.save()
    return client


@pytest.fixture
def clinic(org_a, store):  # noqa: F811
    department = DepartmentFactory(organization=org_a)
    doctor = client_for(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    started = doctor.post(
        f"/api/v1/patients/{patient.id}/encounters/", {"department_id": str(department.id)}, format="json"
    )
    assert started.status_code == 201, started.json()
    return {
        "department": department,
        "doctor": doctor,
        "nurse": client_for(org_a, "nurse", department=department),
        "patient": patient,
        "encounter_id": started.json()["id"],
        "url": f"/api/v1/patients/{patient.id}/documents/",
        "store": store,
    }


def post_file(client, url, data, *, name="referral.pdf", content_type="application/pdf", **fields):
    body = {"category": "referral-letter", "title": "Referral letter", **fields}
    if data is not None:
        body["file"] = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(url, body, format="multipart")


def test_upload_list_read_and_download(clinic):
    data = samples.pdf()
    created = post_file(
        clinic["doctor"],
        clinic["url"],
        data,
        name="../../Résumé Adaeze.pdf",
        description="from the GP",
        encounter_id=clinic["encounter_id"],
    )
    assert created.status_code == 201, created.json()
    document = created.json()
    assert document["filename"] == "Résumé Adaeze.pdf"
    assert document["content_type"] == "application/pdf"
    assert document["size"] == len(data)
    assert document["encounter_id"] == clinic["encounter_id"]
    assert document["download_url"] == f"/api/v1/documents/{document['id']}/content/"
    # SECURITY: nothing says where or how the file is stored.
    assert not {"storage_key", "content_key", "wrapped_key"} & set(document)
    assert "documents" not in str({k: v for k, v in document.items() if k != "download_url"})

    listed = clinic["nurse"].get(clinic["url"]).json()
    assert [d["id"] for d in listed] == [document["id"]]
    assert (
        clinic["nurse"].get(clinic["url"], {"encounter_id": clinic["encounter_id"]}).json()[0]["id"] == (document["id"])
    )
    assert clinic["nurse"].get(clinic["url"], {"encounter_id": "junk"}).json() == []
    assert clinic["nurse"].get(f"/api/v1/documents/{document['id']}/").json()["title"] == "Referral letter"

    response = clinic["nurse"].get(document["download_url"], HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''R%C3%A9sum%C3%A9%20Adaeze.pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    assert "sandbox" in response["Content-Security-Policy"]


def test_each_accepted_image_type(clinic):
    for make, name, content_type in (
        (samples.png, "wound.png", "image/png"),
        (samples.jpeg, "wound.jpg", "image/jpeg"),
        (samples.tiff, "scan.tiff", "image/tiff"),
    ):
        created = post_file(
            clinic["doctor"], clinic["url"], make(), name=name, content_type=content_type, category="photo"
        )
        assert created.status_code == 201, created.json()
        response = clinic["doctor"].get(created.json()["download_url"])
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'
        assert b"".join(response.streaming_content) == make()


@pytest.mark.parametrize(
    ("data", "name", "content_type", "field", "code"),
    [
        (samples.EXE, "setup.pdf", "application/pdf", "file", "unsupported_type"),
        (samples.HTML, "page.pdf", "application/pdf", "file", "unsupported_type"),
        (samples.pdf(), "letter.pdf", "image/png", "file", "content_type_mismatch"),
        (samples.png(), "photo.jpg", "image/png", "file", "extension_mismatch"),
        (samples.pdf_with_javascript(), "letter.pdf", "application/pdf", "file", "pdf_active_content"),
        (samples.pdf_encrypted(), "letter.pdf", "application/pdf", "file", "pdf_encrypted"),
        (b"", "letter.pdf", "application/pdf", "file", "empty_file"),
        (None, "", "", "file", "required"),
    ],
)
def test_refused_uploads_are_400_with_a_stable_code_and_store_nothing(clinic, data, name, content_type, field, code):
    response = post_file(clinic["doctor"], clinic["url"], data, name=name, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]
    assert stored_files(clinic["store"]) == []


def test_bad_fields_are_400(clinic):
    for fields, field in (
        ({"category": "x-ray"}, "category"),
        ({"title": ""}, "title"),
        ({"encounter_id": "junk"}, "encounter_id"),
        ({"encounter_id": str(uuid.uuid4())}, "encounter_id"),
    ):
        response = post_file(clinic["doctor"], clinic["url"], samples.pdf(), **fields)
        assert response.status_code == 400, fields
        assert response.json()["errors"][0]["field"] == field
    assert clinic["doctor"].post(clinic["url"], {"x": "y"}, format="json").status_code == 415


def test_an_upload_over_the_limit_is_refused_before_or_while_it_is_read(clinic, settings):
    settings.DOCUMENT_MAX_BYTES = 100_000
    big = samples.pdf(text=b"x" * 300_000)  # announced far over the limit: refused before the body is read
    response = post_file(clinic["doctor"], clinic["url"], big)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_large"
    near = samples.pdf(text=b"x" * 120_000)  # within the multipart allowance: cut short as it is read
    response = post_file(clinic["doctor"], clinic["url"], near)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_large"
    assert stored_files(clinic["store"]) == []


def test_the_step_up_window_the_role_and_the_relationship(org_a, org_b, clinic):
    document = post_file(clinic["doctor"], clinic["url"], samples.pdf()).json()
    fresh = client_for(org_a, "doctor", department=clinic["department"], med_access=False)
    assert fresh.get(document["download_url"]).json()["code"] == "MED_ACCESS_REQUIRED"
    assert post_file(fresh, clinic["url"], samples.pdf()).json()["code"] == "MED_ACCESS_REQUIRED"
    desk = client_for(org_a, "receptionist")
    assert desk.get(document["download_url"]).status_code == 403
    assert post_file(desk, clinic["url"], samples.pdf()).status_code == 403
    stranger = client_for(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    foreign = client_for(org_b, "doctor")
    for client in (stranger, foreign):
        for path in (
            clinic["url"],
            f"/api/v1/documents/{document['id']}/",
            document["download_url"],
            f"/api/v1/documents/{uuid.uuid4()}/content/",
            "/api/v1/documents/not-an-id/content/",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["code"] == "NOT_FOUND"
        assert post_file(client, clinic["url"], samples.pdf()).status_code == 404
        url = f"/api/v1/documents/{document['id']}/entered-in-error/"
        assert client.post(url, {"reason": "x"}, format="json").status_code == 404
    denied = AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(
        action="clinical.document.download", outcome="denied"
    )
    assert denied.count() >= 2
    assert len(stored_files(clinic["store"])) == 1


def test_entered_in_error(clinic):
    document = post_file(clinic["doctor"], clinic["url"], samples.pdf()).json()
    url = f"/api/v1/documents/{document['id']}/entered-in-error/"
    assert clinic["nurse"].post(url, {}, format="json").status_code == 400
    marked = clinic["nurse"].post(url, {"reason": "another patient's letter"}, format="json")
    assert marked.status_code == 200
    assert marked.json()["status"] == "entered-in-error"
    assert marked.json()["entered_in_error_reason"] == "another patient's letter"
    again = clinic["doctor"].post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "DOCUMENT_ENTERED_IN_ERROR"
    assert clinic["doctor"].get(clinic["url"]).json() == []
    assert len(clinic["doctor"].get(clinic["url"], {"include_entered_in_error": "true"}).json()) == 1


def test_a_download_whose_file_is_gone_is_a_503_problem(clinic):
    document = post_file(clinic["doctor"], clinic["url"], samples.pdf()).json()
    for path in stored_files(clinic["store"]):
        path.unlink()
    response = clinic["doctor"].get(document["download_url"])
    assert response.status_code == 503
    assert response.json()["code"] == "DOCUMENT_UNAVAILABLE"


def test_the_upload_handler_keeps_the_file_in_memory_and_stops_past_the_limit(settings):
    from django.core.files.uploadedfile import InMemoryUploadedFile
    from django.test import RequestFactory
    from django.test.client import encode_multipart

    from phb.clinical.document_api import bound_upload

    settings.DOCUMENT_MAX_BYTES = 3 * 1024 * 1024  # above Django's 2.5 MB in-memory threshold
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # which would otherwise send this to a temporary file

    def parsed(size):
        body = encode_multipart("BoUnDaRy", {"file": SimpleUploadedFile("a.pdf", b"x" * size), "title": "t"})
        request = RequestFactory().generic("POST", "/", body, content_type="multipart/form-data; boundary=BoUnDaRy")
        bound_upload(request)
        return request, request.FILES

    request, files = parsed(2 * 1024 * 1024)
    assert isinstance(files["file"], InMemoryUploadedFile)
    assert files["file"].size == 2 * 1024 * 1024
    assert not getattr(request, "phb_upload_too_large", False)
    request, files = parsed(3 * 1024 * 1024 + 1)
    assert "file" not in files
    assert request.phb_upload_too_large is True


def test_the_schema_documents_the_endpoints_and_the_refusal_codes():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    upload = schema["paths"]["/api/v1/patients/{patient_id}/documents/"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data"}
    assert "`pdf_encrypted`" in upload["description"]
    download = schema["paths"]["/api/v1/documents/{document_id}/content/"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"application/pdf", "image/png", "image/jpeg", "image/tiff"}
    assert "post" in schema["paths"]["/api/v1/documents/{document_id}/entered-in-error/"]


def test_the_sweep_is_scheduled_daily(store):  # noqa: F811  (the fixture)
    from phb.clinical.tasks import documents_sweep_orphans
    from phb.config.celery import app

    app.finalize()  # the schedule is set once the app is finalized
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule["clinical.documents_sweep_orphans"] == 86400.0
    assert documents_sweep_orphans() == 0  # nothing stored yet: nothing to do
