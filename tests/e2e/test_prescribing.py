"""A doctor prescribes in the encounter workspace, in a real browser: searches a drug, chooses its
form and strength, fills the dose, checks, reads the interaction alert with the patient's warfarin,
gives an override reason and signs."""

import pytest
from playwright.sync_api import expect

from phb.kernel.context import Ctx
from phb.medications.models import Prescription, SafetyOverride
from tests.accounts.factories import staff_member, totp_code
from tests.clinical.factories import patient_at, walk_in
from tests.e2e.test_appointment_day import sign_in
from tests.kernel.factories import OrganizationFactory
from tests.medications.factories import item, signed
from tests.organizations.factories import DepartmentFactory
from tests.terminology.factories import ensure_code_systems
from tests.workforce.factories import ctx_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_doctor_prescribes_checks_overrides_and_signs(page):
    ensure_code_systems()  # a transactional test's flush emptied them
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside")
    department = DepartmentFactory(organization=hospital, name="General Outpatients")
    user, device = staff_member(hospital, "doctor", email="doctor@riverside.example", full_name="Bola Ade")
    doctor = ctx_of(hospital, user, "doctor")
    patient = patient_at(hospital)
    encounter = walk_in(doctor, patient, department)
    signed(doctor, patient, item("warfarin", strength="5 mg", frequency="OD", duration_days=30))

    sign_in(page, "doctor@riverside.example", device)
    page.goto(f"/staff/clinical/encounters/{encounter.id}/")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_label("Code", exact=True).fill(totp_code(device, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Prescriptions").wait_for()

    page.locator("#rx-drug-q").fill("aspirin")
    page.locator("input[name=drug_code][value='aspirin']").check()
    page.locator("#rx-form").wait_for()
    page.locator("#rx-form").select_option("tablet")
    page.locator("#rx-strength").select_option("75 mg")
    page.locator("#rx-dose").fill("1")
    page.locator("#rx-frequency").select_option("OD")
    page.locator("#rx-duration").fill("28")
    page.locator("#rx-duration").press("Tab")  # a change: the preview follows
    expect(page.get_by_test_id("dose-preview")).to_contain_text("Take 1 tablet once a day for 28 days")
    expect(page.get_by_test_id("dose-preview")).to_contain_text("28 tablet")
    page.locator("#rx-check").click()

    alert = page.locator("[data-testid=safety-alert][data-rule='DDI-0001']")
    alert.wait_for()
    assert "Major" in alert.inner_text()
    assert "Advice:" in alert.inner_text()
    page.locator("#rx-sign").click()
    page.get_by_text("Not signed: give a reason").first.wait_for()
    page.locator("#rx-override-1").fill("Cardiology advice after a stent; INR weekly.")
    page.locator("#rx-sign").click()
    page.get_by_test_id("encounter-prescription").wait_for()
    assert "Signed" in page.get_by_test_id("encounter-prescription").inner_text()

    system = Ctx.system(reason="test", organization_id=hospital.id)
    aspirin = Prescription.objects.for_tenant(system).get(items__drug_code="aspirin")
    assert aspirin.status == "signed"
    override = SafetyOverride.objects.for_tenant(system).get(prescription=aspirin)
    assert (override.rule, override.reason) == ("DDI-0001", "Cardiology advice after a stent; INR weekly.")
