"""The documents panel of the staff pages (`clinical/_documents.html`): list and upload form, HTMX
upload with errors on the form, download, entered in error; the step-up window, the role, the care
relationship and the CSRF check."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from phb.clinical import documents
from tests.clinical import document_samples as samples
from tests.clinical.document_samples import store, stored_files  # noqa: F401  (a fixture)
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.clinical.test_documents_api import client_for
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clinic(org_a, store):  # noqa: F811  (the fixture)
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    walk_in(doctor, patient, department)
    document = documents.document_store(
        ctx=doctor,
        patient_id=patient.id,
        data=samples.pdf(),
        declared_type="application/pdf",
        filename="discharge.pdf",
        category="discharge-summary",
        title="Discharge summary, ward 3",
    )
    return {
        "patient": patient,
        "document": document,
        "nurse": client_for(org_a, "nurse", department=department),
        "page": f"/staff/clinical/documents/patients/{patient.id}/",
        "upload": f"/staff/clinical/documents/patients/{patient.id}/upload/",
        "store": store,
    }


def form(data, name="wound.png", content_type="image/png", **fields):
    return {
        "file": SimpleUploadedFile(name, data, content_type=content_type),
        "category": "photo",
        "title": "Wound, day 3",
        **fields,
    }


def test_the_panel_lists_documents_and_offers_the_upload_form(clinic):
    page = clinic["nurse"].get(clinic["page"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Discharge summary, ward 3" in html
    assert f"/staff/clinical/documents/{clinic['document'].id}/download/" in html
    assert 'enctype="multipart/form-data"' in html
    assert clinic["document"].storage_key not in html
    partial = clinic["nurse"].get(clinic["page"], **HTMX).content.decode()
    assert partial.startswith('<section id="clinical-documents"')
    assert "<html" not in partial


def test_upload_through_htmx_and_errors_on_the_form(clinic):
    added = clinic["nurse"].post(clinic["upload"], form(samples.png()), **HTMX)
    assert added.status_code == 200
    assert "Wound, day 3" in added.content.decode()
    assert "The document was added." in added.content.decode()
    refused = clinic["nurse"].post(clinic["upload"], form(samples.HTML, name="wound.png"), **HTMX)
    assert refused.status_code == 200
    assert "not a PDF, PNG, JPEG or TIFF" in refused.content.decode()
    assert len(stored_files(clinic["store"])) == 2
    plain = clinic["nurse"].post(clinic["upload"], form(samples.jpeg(), name="a.jpg", content_type="image/jpeg"))
    assert plain.status_code == 302
    assert clinic["nurse"].post(clinic["upload"], form(samples.EXE, name="a.png")).status_code == 400


def test_download_and_entered_in_error(clinic):
    response = clinic["nurse"].get(f"/staff/clinical/documents/{clinic['document'].id}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == samples.pdf()
    assert response["Content-Disposition"] == 'attachment; filename="discharge.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    url = f"/staff/clinical/documents/patients/{clinic['patient'].id}/{clinic['document'].id}/entered-in-error/"
    marked = clinic["nurse"].post(url, {"reason": "wrong patient"}, **HTMX)
    assert "marked entered in error" in marked.content.decode()
    assert "Discharge summary, ward 3" not in marked.content.decode()


def test_the_step_up_window_the_role_the_relationship_and_csrf(org_a, org_b, clinic):
    fresh = client_for(org_a, "nurse", med_access=False)
    assert fresh.get(clinic["page"]).url.startswith("/accounts/step-up/")
    assert client_for(org_a, "receptionist").get(clinic["page"]).status_code == 403
    for client in (client_for(org_a, "doctor"), client_for(org_b, "doctor")):
        assert client.get(clinic["page"]).status_code == 404
        assert client.get(f"/staff/clinical/documents/{clinic['document'].id}/download/").status_code == 404
        assert client.post(clinic["upload"], form(samples.png())).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = clinic["nurse"].cookies
    assert strict.post(clinic["upload"], form(samples.png())).status_code == 403
    assert len(stored_files(clinic["store"])) == 1
