"""A doctor sees a checked-in patient from their queue: starts the consultation, opens the encounter
(after a fresh code), records vital signs with a critical value and sees the alert, adds a diagnosis
found by searching ICD-10-CM, and signs the SOAP note — in a real browser."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from phb.clinical import services as clinical_services
from phb.clinical.models import ClinicalNote, CriticalAlert, Diagnosis, NoteStatus
from phb.kernel.context import Ctx
from phb.scheduling import services
from phb.workforce import services as workforce_services
from tests.accounts.factories import staff_member, totp_code
from tests.e2e.conftest import a_zone_in_daytime
from tests.e2e.test_appointment_day import sign_in
from tests.kernel.factories import OrganizationFactory
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import admin_ctx, desk_ctx
from tests.terminology.factories import ensure_code_systems

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_doctor_records_a_consultation(page):
    ensure_code_systems()  # a transactional test's flush emptied them
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside", timezone=a_zone_in_daytime())
    clinical_services.note_templates_seed(ctx=Ctx.system(reason="test", organization_id=hospital.id))
    department = DepartmentFactory(organization=hospital, name="General Outpatients")
    doctor, device = staff_member(hospital, "doctor", email="doctor@riverside.example", full_name="Bola Ade")
    profile = workforce_services.practitioner_profile_create(
        ctx=admin_ctx(hospital),
        user_id=doctor.id,
        department_id=department.id,
        specialization="general practice",
        licence_number="MDCN-E2E02",
    )
    for weekday in range(7):
        workforce_services.availability_add(
            ctx=Ctx.system(reason="test", organization_id=hospital.id),
            practitioner_id=profile.id,
            weekday=weekday,
            starts_at=dt.time(0, 0),
            ends_at=dt.time(23, 55),
            slot_minutes=5,
            max_daily_appointments=300,
        )
    patient = make_patient(given_name="Amaka", family_name="Obi", birth_date=dt.date(1980, 5, 1))
    desk = desk_ctx(hospital)
    register_at_desk(desk, patient)
    now = timezone.now().astimezone(ZoneInfo(hospital.timezone))
    start = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=5 - now.minute % 5)
    appointment = services.appointment_book(
        ctx=desk, patient_id=patient.id, practitioner_id=profile.id, start_at=start, chief_complaint="sore throat"
    )
    services.appointment_check_in(ctx=desk, appointment_id=appointment.id)

    sign_in(page, "doctor@riverside.example", device)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My day").click()
    assert "Amaka Obi" in page.get_by_test_id("waiting").inner_text()
    page.get_by_role("button", name="Start").click()
    page.get_by_role("link", name="Open the consultation").click()

    # Opening a medical record needs a fresh code.
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_label("Code", exact=True).fill(totp_code(device, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Amaka Obi").wait_for()
    assert "/staff/clinical/encounters/" in page.url

    for label, value in (
        ("Systolic blood pressure", "124"),
        ("Diastolic blood pressure", "80"),
        ("Heart rate", "35"),  # critical
        ("Respiratory rate", "16"),
        ("Body temperature", "36.9"),
        ("Oxygen saturation", "97"),
    ):
        page.get_by_label(label, exact=False).first.fill(value)
    page.locator("#v-consciousness").select_option("A")
    page.get_by_role("button", name="Record vital signs").click()
    alert = page.get_by_test_id("critical-alert").first
    alert.wait_for()
    assert "Heart rate" in alert.inner_text()
    assert "NEWS2" in page.get_by_test_id("vital-set").first.inner_text()

    page.get_by_label("Diagnosis (ICD-10-CM)").fill("acute pharyngitis")
    page.locator("input[name=diagnosis_code][value='J02.9']").check()
    page.get_by_role("button", name="Add diagnosis").click()
    page.get_by_test_id("diagnosis").first.wait_for()
    assert "J02.9" in page.get_by_test_id("diagnosis").first.inner_text()

    page.get_by_label("Subjective").fill("Sore throat for three days, no cough.")
    page.get_by_label("Assessment").fill("Acute pharyngitis; bradycardia to be reviewed.")
    page.get_by_label("Plan").fill("Salt-water gargles, paracetamol, ECG today.")
    page.get_by_role("button", name="Sign note").click()
    page.get_by_test_id("signed-note").wait_for()
    assert "Acute pharyngitis" in page.get_by_test_id("signed-note").inner_text()
    assert "pharyngitis" not in page.url

    system = Ctx.system(reason="test", organization_id=hospital.id)
    assert CriticalAlert.objects.for_tenant(system).filter(patient_id=patient.id).count() == 1
    assert Diagnosis.objects.for_tenant(system).get(patient_id=patient.id).code == "J02.9"
    assert ClinicalNote.objects.for_tenant(system).get(patient_id=patient.id).status == NoteStatus.SIGNED
