"""The pages: the encounter workspace's Prescriptions panel driven as a prescriber would (search a
drug, choose its form and strength, the dose, check, override with a reason, sign), the chart's
current medications, a prescription's page (replace, cancel; another organization's is 404), the
repeat requests page, the override report (filters, CSV; governance only) and the portal's My
medications (behind the step-up window; repeat, dose marks, ready at pharmacy)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.medications import public
from phb.medications.models import DoseEvent, Prescription, PrescriptionItem
from tests.accounts.factories import verified_client
from tests.medications.factories import (
    AMOX,
    item,
    patient_client,
    signed,
    staff_client,
    ward,
    with_med_access,
)
from tests.workforce.factories import staff_ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(org_a):
    w = ward(org_a, with_account=True)
    doctor, client = staff_client(org_a, "doctor", department=w.department)
    return w, doctor, client


def _panel(client, w) -> str:
    response = client.get(f"/staff/clinical/encounters/{w.encounter.id}/")
    assert response.status_code == 200
    return response.content.decode()


DOSE = {
    "form": "tablet",
    "strength": "75 mg",
    "dose_quantity": "1",
    "dose_unit": "tablet",
    "route": "oral",
    "frequency": "OD",
    "duration_days": "28",
    "refills": "0",
    "indication_code": "I25.10",
    "instructions": "Take with food.",
}


def test_prescribing_in_the_workspace_check_override_sign(clinic):
    w, doctor, client = clinic
    signed(w.doctor, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    html = _panel(client, w)
    assert 'id="panel-prescriptions"' in html
    assert 'id="rx-drug-q"' in html
    search = client.get("/staff/medications/drugs/search/?rx_q=aspir").content.decode()
    assert 'value="aspirin"' in search
    assert "No drug matches" in client.get("/staff/medications/drugs/search/?rx_q=zzzzqq").content.decode()
    fields = client.get("/staff/medications/drugs/dose-fields/?drug_code=aspirin").content.decode()
    assert 'id="rx-form"' in fields
    assert "75 mg" in fields
    preview = client.get(
        "/staff/medications/drugs/dose-preview/?drug_code=aspirin&form=tablet&strength=75+mg&dose_quantity=1"
        "&frequency=OD&duration_days=28"
    ).content.decode()
    assert "Take 1 tablet once a day for 28 days" in preview
    assert "28 tablet" in preview

    url = f"/staff/medications/encounters/{w.encounter.id}/prescribe/"
    checked = client.post(url, {"drug_code": "aspirin", **DOSE, "action": "check"}, follow=True)
    html = checked.content.decode()
    assert 'data-testid="draft-prescription"' in html
    assert 'data-rule="DDI-0001"' in html
    assert 'id="rx-override-1"' in html
    assert "Advice:" in html
    draft = Prescription.objects.for_tenant(doctor).get(status="draft")
    key = html.split('name="override_key_1" value="')[1].split('"')[0].replace("&#x27;", "'")
    sign_url = f"/staff/medications/prescriptions/{draft.id}/sign/"
    here = f"/staff/clinical/encounters/{w.encounter.id}/"
    refused = client.post(sign_url, {"next": here, "override_key_1": key, "override_reason_1": ""}, follow=True)
    assert "Not signed" in refused.content.decode()
    assert Prescription.objects.for_tenant(doctor).get(id=draft.id).status == "draft"
    done = client.post(
        sign_url, {"next": here, "override_key_1": key, "override_reason_1": "Cardiology advice"}, follow=True
    )
    assert f"Prescription {draft.number} signed." in done.content.decode()
    assert done.redirect_chain[-1][0] == here
    stored = Prescription.objects.for_tenant(doctor).get(id=draft.id)
    assert stored.status == "signed"
    (line,) = PrescriptionItem.objects.for_tenant(doctor).filter(prescription=stored)
    assert (line.indication_code, line.instructions, line.quantity) == ("I25.10", "Take with food.", Decimal(28))
    assert 'data-testid="encounter-prescription"' in done.content.decode()


def test_bad_items_in_the_panel_are_shown_not_saved(clinic):
    w, doctor, client = clinic
    url = f"/staff/medications/encounters/{w.encounter.id}/prescribe/"
    shown = client.post(url, {"drug_code": "aspirin", **DOSE, "dose_quantity": "lots", "action": "add"}, follow=True)
    assert "must be a number" in shown.content.decode()
    nothing = client.post(url, {"action": "check"}, follow=True)
    assert "search for a drug" in nothing.content.decode()
    assert not Prescription.objects.for_tenant(doctor).exists()


def test_two_items_then_remove_one(clinic):
    w, doctor, client = clinic
    url = f"/staff/medications/encounters/{w.encounter.id}/prescribe/"
    client.post(url, {"drug_code": "aspirin", **DOSE, "action": "add"})
    client.post(
        url,
        {"drug_code": "amoxicillin", **DOSE, **AMOX, "dose_unit": "capsule", "indication_code": "", "action": "add"},
    )
    draft = Prescription.objects.for_tenant(doctor).get()
    assert PrescriptionItem.objects.for_tenant(doctor).filter(prescription=draft).count() == 2
    client.post(f"/staff/medications/prescriptions/{draft.id}/items/0/remove/", {"next": "/staff/"})
    assert [i.drug_code for i in PrescriptionItem.objects.for_tenant(doctor).filter(prescription=draft)] == [
        "amoxicillin"
    ]


def test_the_chart_shows_current_medications(clinic):
    w, _, client = clinic
    signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    html = client.get(f"/staff/clinical/patients/{w.patient.id}/").content.decode()
    assert 'data-testid="current-medications"' in html
    assert "Take 1 capsule three times a day for 5 days" in html


def test_the_prescription_page_replace_and_cancel(org_a, org_b, clinic):
    w, doctor, client = clinic
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    url = f"/staff/medications/prescriptions/{prescription.id}/"
    html = client.get(url).content.decode()
    assert prescription.number in html
    assert 'data-testid="prescription-item"' in html
    assert 'id="rx-replace"' in html
    replaced = client.post(f"{url}replace/", follow=True)
    new = Prescription.objects.for_tenant(doctor).get(replaces_id=prescription.id)
    assert replaced.redirect_chain[-1][0] == f"/staff/medications/prescriptions/{new.id}/"
    assert 'id="rx-sign"' in replaced.content.decode()
    client.post(
        f"/staff/medications/prescriptions/{new.id}/sign/", {"next": f"/staff/medications/prescriptions/{new.id}/"}
    )
    assert "Replaced by" in client.get(url).content.decode()
    cancelled = client.post(f"/staff/medications/prescriptions/{new.id}/cancel/", {"reason": ""}, follow=True)
    assert "say why" in cancelled.content.decode()
    client.post(f"/staff/medications/prescriptions/{new.id}/cancel/", {"reason": "rash"})
    assert Prescription.objects.for_tenant(doctor).get(id=new.id).status == "cancelled"
    elsewhere = ward(org_b)
    theirs = signed(elsewhere.doctor, elsewhere.patient, item("amoxicillin", **AMOX))
    assert client.get(f"/staff/medications/prescriptions/{theirs.id}/").status_code == 404
    _, desk = staff_client(org_a, "receptionist")
    assert desk.get(url).status_code == 403
    _, nurse = staff_client(org_a, "nurse", department=w.department)
    assert nurse.get(url).status_code == 200
    assert nurse.post(f"{url}replace/").status_code == 403


def test_the_repeat_requests_page(clinic):
    w, _, _ = clinic
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX, refills=1))
    patient = patient_client(w.patient_user)
    portal = patient.get("/patient/medications/").content.decode()
    assert 'data-testid="request-repeat"' in portal
    patient.post(f"/patient/medications/prescriptions/{prescription.id}/repeat/", {"note": "almost out"})
    assert "waiting for your prescriber" in patient.get("/patient/medications/").content.decode()
    from phb.accounts.models import User

    prescriber = with_med_access(verified_client(User.objects.get(id=w.doctor.actor_id)))
    page = prescriber.get("/staff/medications/repeat-requests/").content.decode()
    assert "almost out" in page
    request_id = page.split('action="/staff/medications/repeat-requests/')[1].split("/")[0]
    approved = prescriber.post(
        f"/staff/medications/repeat-requests/{request_id}/", {"decision": "approve"}, follow=True
    )
    assert "Approved: prescription" in approved.content.decode()
    assert Prescription.objects.for_tenant(w.doctor).filter(repeat_of_id=prescription.id, status="signed").exists()


def test_the_override_report_page_and_csv(org_a, clinic):
    w, _, _ = clinic
    signed(w.doctor, w.patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))
    from tests.medications.factories import overriding_everything

    overriding_everything(
        w.doctor, w.patient, item("aspirin", form="tablet", strength="75 mg", frequency="OD"), reason="=HYPERLINK(bad)"
    )
    _, head = staff_client(org_a, "department_head")
    page = head.get("/staff/medications/overrides/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="override-row"') == 1
    assert "DDI-0001" in html
    assert head.get("/staff/medications/overrides/?severity=minor").content.decode().count("override-row") == 0
    csv = head.get("/staff/medications/overrides/?format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("overridden_at,prescription,prescriber,severity")
    assert "'=HYPERLINK(bad)" in lines[1]  # not a formula in a spreadsheet
    assert head.get("/staff/medications/overrides/?since=nope").status_code == 400
    _, officer = staff_client(org_a, "privacy_officer")
    assert officer.get("/staff/medications/overrides/").status_code == 200
    _, doctor_client = staff_client(org_a, "doctor")
    assert doctor_client.get("/staff/medications/overrides/").status_code == 403


def test_my_medications_in_the_portal(org_a, clinic):
    w, _, _ = clinic
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX, instructions="Finish the course."))
    fresh = verified_client(w.patient_user)
    assert fresh.get("/patient/medications/")["Location"].startswith("/accounts/step-up/")
    client = patient_client(w.patient_user)
    html = client.get("/patient/medications/").content.decode()
    assert "/patient/medications/" in html.split('aria-label="Patient portal"')[1].split("</nav>")[0]
    assert "Take 1 capsule three times a day for 5 days" in html
    assert "Finish the course." in html
    assert 'data-testid="ready-at-pharmacy"' not in html
    pharmacist = staff_ctx(org_a, "pharmacist")
    amoxicillin = public.prescription_to_dispense(ctx=pharmacist, prescription_id=prescription.id).items[0]
    public.prescription_record_dispensing(
        ctx=pharmacist, prescription_id=prescription.id, quantities={amoxicillin.item_id: Decimal(15)}
    )
    assert 'data-testid="ready-at-pharmacy"' in client.get("/patient/medications/").content.decode()

    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    dose = DoseEvent.objects.for_tenant(ctx).filter(patient_id=w.patient.id).order_by("due_at").first()
    DoseEvent.objects.for_tenant(ctx).filter(id=dose.id).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    html = client.get("/patient/medications/").content.decode()
    assert 'data-testid="dose"' in html
    marked = client.post(f"/patient/medications/doses/{dose.id}/", {"status": "taken"}, follow=True)
    assert "Dose marked taken." in marked.content.decode()
    assert DoseEvent.objects.for_tenant(ctx).get(id=dose.id).status == "taken"
    assert 'data-testid="item-adherence"' in marked.content.decode()
    other = ward(org_a, with_account=True)
    someone = patient_client(other.patient_user)
    assert someone.post(f"/patient/medications/doses/{dose.id}/", {"status": "missed"}).status_code == 404
    assert someone.post(f"/patient/medications/prescriptions/{prescription.id}/repeat/").status_code == 404


def test_the_patient_chooses_the_pharmacy_until_dispensing_begins(org_a, org_b, clinic):
    from tests.organizations.factories import DepartmentFactory

    w, _, _ = clinic
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    outpatients = DepartmentFactory(organization=org_a, kind="pharmacy", name="Outpatient pharmacy")
    DepartmentFactory(organization=org_a, kind="cardiology", name="Cardiology")
    elsewhere = DepartmentFactory(organization=org_b, kind="pharmacy", name="Another hospital's pharmacy")
    client = patient_client(w.patient_user)
    html = client.get("/patient/medications/").content.decode()
    choices = html.split('data-testid="choose-pharmacy"')[1].split("</select>")[0]
    assert "Outpatient pharmacy" in choices
    assert "Cardiology" not in choices
    assert "Another hospital" not in choices

    url = f"/patient/medications/prescriptions/{prescription.id}/pharmacy/"
    assert (
        "Your choice of pharmacy is saved"
        in client.post(url, {"pharmacy": str(outpatients.id)}, follow=True).content.decode()
    )
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    assert Prescription.objects.for_tenant(ctx).get(id=prescription.id).pharmacy_department_id == outpatients.id
    worklist = public.prescriptions_to_dispense(
        ctx=staff_ctx(org_a, "pharmacist"), pharmacy_department_id=outpatients.id
    )
    assert [p.prescription_id for p in worklist] == [prescription.id]

    refused = client.post(url, {"pharmacy": str(elsewhere.id)}, follow=True).content.decode()  # not this hospital's
    assert "not a pharmacy of this organization" in refused
    assert Prescription.objects.for_tenant(ctx).get(id=prescription.id).pharmacy_department_id == outpatients.id
    junk = client.post(url, {"pharmacy": "not-a-pharmacy"}, follow=True).content.decode()
    assert "Choose one of the pharmacies listed." in junk
    someone = patient_client(ward(org_a, with_account=True).patient_user)
    assert someone.post(url, {"pharmacy": ""}).status_code == 404

    pharmacist = staff_ctx(org_a, "pharmacist")
    first = public.prescription_to_dispense(ctx=pharmacist, prescription_id=prescription.id).items[0]
    public.prescription_record_dispensing(
        ctx=pharmacist, prescription_id=prescription.id, quantities={first.item_id: Decimal(5)}
    )
    late = client.post(url, {"pharmacy": ""}, follow=True).content.decode()
    assert "only before dispensing begins" in late
    assert Prescription.objects.for_tenant(ctx).get(id=prescription.id).pharmacy_department_id == outpatients.id


def test_the_patient_chooses_the_pharmacy_through_the_api(org_a, clinic):
    from tests.organizations.factories import DepartmentFactory

    w, _, _ = clinic
    prescription = signed(w.doctor, w.patient, item("amoxicillin", **AMOX))
    pharmacy = DepartmentFactory(organization=org_a, kind="pharmacy")
    client = patient_client(w.patient_user)
    url = f"/api/v1/me/prescriptions/{prescription.id}/pharmacy/"
    answer = client.put(url, {"pharmacy_department_id": str(pharmacy.id)}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["pharmacy_department_id"] == str(pharmacy.id)
    assert client.put(url, {"pharmacy_department_id": "junk"}, content_type="application/json").status_code == 400
    assert (
        client.put(url, {"pharmacy_department_id": None}, content_type="application/json").json()[
            "pharmacy_department_id"
        ]
        is None
    )
