"""A medicine from prescription to the patient's hands, in a real browser: a doctor prescribes two
interacting drugs, reads the alert and signs with a reason; the pharmacist dispenses them from the
batches that expire first; the patient finds them in the portal, ready at the pharmacy."""

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from phb.kernel.context import Ctx
from phb.medications.models import Prescription, PrescriptionItem, SafetyOverride
from phb.pharmacy.models import Dispensing
from tests.accounts.factories import UserFactory, staff_member, totp_code
from tests.clinical.factories import walk_in
from tests.e2e.test_appointment_day import sign_in, sign_out
from tests.kernel.factories import OrganizationFactory
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.pharmacy.factories import location, product, receive
from tests.scheduling.factories import desk_ctx
from tests.terminology.factories import ensure_code_systems
from tests.workforce.factories import ctx_of

pytestmark = pytest.mark.django_db(transaction=True)


def add_drug(page, query, code, *, strength, frequency, days, form="tablet", then="#rx-add"):
    page.locator("#rx-drug-q").fill(query)
    page.locator(f"input[name=drug_code][value='{code}']").check()
    page.locator("#rx-form").wait_for()
    page.locator("#rx-form").select_option(form)
    page.locator("#rx-strength").select_option(strength)
    page.locator("#rx-dose").fill("1")
    page.locator("#rx-frequency").select_option(frequency)
    page.locator("#rx-duration").fill(str(days))
    page.locator(then).click()


def test_prescribed_over_an_interaction_dispensed_first_expiry_first_and_seen_by_the_patient(page):
    ensure_code_systems()  # a transactional test's flush emptied them
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside")
    department = DepartmentFactory(organization=hospital, name="General Outpatients")
    doctor_user, doctor_device = staff_member(
        hospital, "doctor", email="doctor@riverside.example", full_name="Bola Ade"
    )
    chemist, chemist_device = staff_member(
        hospital, "pharmacist", email="pharmacist@riverside.example", full_name="Chidi Eze"
    )
    pharmacist = ctx_of(hospital, chemist, "pharmacist")
    main = location(pharmacist, "Main pharmacy")
    warfarin = product(pharmacist, "warfarin", name="Warfarin 5 mg tablets", form="tablet", strength="5 mg")
    aspirin = product(pharmacist, "aspirin", name="Aspirin 75 mg tablets", form="tablet", strength="75 mg")
    receive(pharmacist, main, warfarin, 200, lot="WAR-LATE", expires_in=700)
    receive(pharmacist, main, warfarin, 100, lot="WAR-SOON", expires_in=90)
    receive(pharmacist, main, aspirin, 200, lot="ASP-SOON", expires_in=120)
    receive(pharmacist, main, aspirin, 200, lot="ASP-LATE", expires_in=800)
    user = UserFactory(email="amaka@example.org", full_name="Amaka Obi", email_verified_at=timezone.now())
    patient_device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    patient = make_patient(user=user, given_name="Amaka", family_name="Obi")
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    register_at_desk(desk_ctx(hospital), patient)
    encounter = walk_in(ctx_of(hospital, doctor_user, "doctor"), patient, department)

    # The doctor: warfarin, then aspirin; the check shows the interaction, signing needs a reason.
    sign_in(page, "doctor@riverside.example", doctor_device)
    page.goto(f"/staff/clinical/encounters/{encounter.id}/")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    page.get_by_label("Code", exact=True).fill(totp_code(doctor_device, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Prescriptions").wait_for()
    add_drug(page, "warfarin", "warfarin", strength="5 mg", frequency="OD", days=30)
    expect(page.get_by_test_id("draft-item")).to_have_count(1)
    add_drug(page, "aspirin", "aspirin", strength="75 mg", frequency="OD", days=30, then="#rx-check")
    alert = page.locator("[data-testid=safety-alert][data-severity=major]").filter(has_text="Advice:").first
    alert.wait_for()
    assert "interaction" in alert.inner_text()
    page.locator("#rx-sign").click()
    page.get_by_role("alert").filter(has_text="Not signed").first.wait_for()
    page.get_by_test_id("override-reason").first.fill("Secondary prevention after a stent; INR weekly.")
    page.locator("#rx-sign").click()
    page.get_by_test_id("encounter-prescription").wait_for()
    system = Ctx.system(reason="test", organization_id=hospital.id)
    prescription = Prescription.objects.for_tenant(system).get(patient=patient)
    assert prescription.status == "signed"
    items = PrescriptionItem.objects.for_tenant(system).filter(prescription=prescription)
    assert sorted(items.values_list("drug_code", flat=True)) == ["aspirin", "warfarin"]
    assert SafetyOverride.objects.for_tenant(system).filter(prescription=prescription).exists()
    sign_out(page)

    # The pharmacist: the worklist, the batches that expire first, dispense, labels.
    sign_in(page, "pharmacist@riverside.example", chemist_device)
    page.get_by_role("link", name="Pharmacy", exact=True).click()
    page.locator("#worklist").wait_for()
    page.get_by_role("link", name=f"Open {prescription.number}").click()
    proposed = page.get_by_test_id("fefo-batch")
    proposed.first.wait_for()
    taken = {}  # lot -> the quantity proposed from it (the row's last column)
    for row in proposed.all_inner_texts():
        cells = row.split("\t")
        taken[cells[1]] = cells[-1].strip()
    assert taken == {"WAR-SOON": "30", "WAR-LATE": "0", "ASP-SOON": "30", "ASP-LATE": "0"}
    page.get_by_role("button", name="Dispense").click()
    page.get_by_test_id("label").first.wait_for()
    assert Dispensing.objects.for_tenant(system).get().prescription_status == "dispensed"
    page.goto("/staff/pharmacy/")  # the labels are a print view, without the navigation
    sign_out(page)

    # The patient: the medicines in the portal, ready at the pharmacy, with their directions.
    sign_in(page, "amaka@example.org", patient_device)
    page.get_by_role("link", name="Amaka Obi").wait_for()
    page.goto("/patient/medications/")
    page.get_by_role("heading", name="Confirm it is you").wait_for()  # the record is behind a second factor
    page.get_by_label("Code", exact=True).fill(totp_code(patient_device, steps_ahead=1))
    page.get_by_role("button", name="Continue").click()
    mine = page.get_by_test_id("my-prescription")
    mine.wait_for()
    assert prescription.number in mine.inner_text()
    expect(page.get_by_test_id("ready-at-pharmacy")).to_be_visible()
    names = " ".join(page.get_by_test_id("my-medication").all_inner_texts())
    assert "Warfarin" in names
    assert "Acetylsalicylic acid" in names  # the generic (INN) name
    assert "once a day" in names
