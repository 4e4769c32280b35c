"""The portal pages of symptoms and care plans, and the chart partials: the step-up first, a report
sent from the form (with a photo), form errors without a 500, another patient's photo not found, the
active plans only, and the staff partials rendering a summary."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from phb.accounts.models import User
from phb.accounts.step_up import SESSION_KEY
from phb.clinical import care_plans, symptoms
from phb.clinical.models import SymptomReport
from phb.kernel.context import Ctx
from tests.clinical.care_factories import active_plan, png, portal_patient, report
from tests.clinical.factories import clinician, walk_in
from tests.organizations.factories import DepartmentFactory

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def portal(patient, *, med_access=True):
    client = Client()
    client.force_login(User.objects.get(id=patient.user_id))
    if med_access:
        session = client.session
        session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
        session.save()
    return client


@pytest.fixture
def world(org_a):
    patient, me = portal_patient(org_a)
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    walk_in(doctor, patient, department)
    return {"patient": patient, "me": me, "doctor": doctor, "client": portal(patient)}


FORM = {
    "symptom_code": "R21",
    "severity": "4",
    "onset_days_ago": "1",
    "body_location": "skin",
    "triggers": "soap, heat",
}


def test_the_pages_ask_for_a_fresh_second_factor_first(world):
    client = portal(world["patient"], med_access=False)
    for url in ("/patient/symptoms/", "/patient/care-plans/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/step-up/")


def test_a_patient_reports_a_symptom_with_a_photo_and_sees_its_trend(org_a, world):
    client = world["client"]
    page = client.get("/patient/symptoms/")
    assert page.status_code == 200
    assert b"Not for emergencies" in page.content
    sent = client.post(
        "/patient/symptoms/",
        {**FORM, "hospital": str(org_a.id), "photo": SimpleUploadedFile("rash.png", png(), content_type="image/png")},
    )
    assert sent.status_code == 302, sent.content.decode()[:2000]
    created = SymptomReport.objects.for_system(SYSTEM).get()
    assert created.triggers == ["soap", "heat"]
    assert created.photo is not None
    client.post("/patient/symptoms/", {**FORM, "hospital": str(org_a.id), "severity": "7"})
    page = client.get("/patient/symptoms/").content.decode()
    assert "Rash" in page
    assert "<svg" in page
    assert "<polyline" in page
    assert "worse than before" in page
    photo = client.get(f"/patient/symptoms/{created.id}/photo/")
    assert photo["Content-Type"] == "image/jpeg"


def test_form_errors_are_shown_and_nothing_is_written(org_a, world):
    client = world["client"]
    for data in (
        {**FORM, "hospital": str(org_a.id), "severity": ""},
        {**FORM, "hospital": str(org_a.id), "onset_days_ago": "", "onset_at": ""},
        {**FORM, "hospital": str(org_a.id), "onset_at": "2020-01-01T10:00"},
        {**FORM, "hospital": str(org_a.id), "symptom_code": "", "symptom_text": ""},
        {**FORM, "hospital": "not-mine"},
        {
            **FORM,
            "hospital": str(org_a.id),
            "photo": SimpleUploadedFile("x.png", b"not an image", content_type="image/png"),
        },
        {**FORM, "hospital": str(org_a.id), "onset_days_ago": "", "onset_at": "2999-01-01T10:00"},
    ):
        response = client.post("/patient/symptoms/", data)
        assert response.status_code == 400, data
        assert b"field-error" in response.content or b"form-error" in response.content
    assert not SymptomReport.objects.for_system(SYSTEM).exists()


def test_a_patient_without_a_hospital_is_told_and_another_patients_photo_is_not_found(org_a, world):
    created = report(world["me"], org_a, photo=png())
    lonely, _ = portal_patient()
    page = portal(lonely).get("/patient/symptoms/")
    assert b"once a hospital has registered you" in page.content
    assert portal(lonely).get(f"/patient/symptoms/{created.id}/photo/").status_code == 404
    plain = report(world["me"], org_a)
    assert world["client"].get(f"/patient/symptoms/{plain.id}/photo/").status_code == 404


def test_the_care_plans_page_shows_the_active_plans_read_only(world):
    active_plan(world["doctor"], world["patient"], title="Walking again")
    care_plans.care_plan_create(ctx=world["doctor"], patient_id=world["patient"].id, title="Not yet")
    page = world["client"].get("/patient/care-plans/").content.decode()
    assert "Walking again" in page
    assert "Not yet" not in page
    assert "<form" not in page.split("<main", 1)[1].split("</main>", 1)[0]


def test_the_staff_partials_render_the_summaries(org_a, world):
    report(world["me"], org_a, severity=3)
    report(world["me"], org_a, severity=6)
    report(world["me"], org_a, symptom_code="", symptom_text="Itchy <b>eyes</b>", severity=2)
    active_plan(world["doctor"], world["patient"], title="Recovery")
    summary = symptoms.symptom_summary(ctx=world["doctor"], patient_id=world["patient"].id)
    html = render_to_string("clinical/_symptoms.html", {"symptoms": summary})
    assert "Headache" in html
    assert "worse (+3)" in html
    assert "Itchy &lt;b&gt;eyes&lt;/b&gt;" in html
    assert html.count("<svg") == 2
    plans = care_plans.care_plan_summary(ctx=world["doctor"], patient_id=world["patient"].id)
    html = render_to_string("clinical/_care_plans.html", {"care_plans": plans})
    assert "Recovery" in html
    assert "achieved 0 of 1" in html
    empty = render_to_string(
        "clinical/_symptoms.html", {"symptoms": symptoms.SymptomSummary(world["patient"].id, 0, None, None, (), 0)}
    )
    assert "no symptom" in empty
