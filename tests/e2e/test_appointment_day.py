"""A patient books an appointment in the portal, a receptionist checks them in, and the doctor finds
them waiting in their queue — in a real browser."""

import datetime as dt

import pytest
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.workforce import services as workforce_services
from tests.accounts.factories import UserFactory, staff_member, totp_code
from tests.e2e.conftest import a_zone_in_daytime
from tests.kernel.factories import OrganizationFactory
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import admin_ctx, desk_ctx

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-test-password-42"  # the factories' password


def sign_in(page, email, device=None):
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    if device is not None:
        page.get_by_role("heading", name="Enter your code").wait_for()
        page.get_by_label("Code", exact=True).fill(totp_code(device))
        page.get_by_role("button", name="Verify").click()


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def test_a_booked_patient_is_checked_in_and_waits_in_the_doctors_queue(page):
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside", timezone=a_zone_in_daytime())
    department = DepartmentFactory(organization=hospital, name="General Outpatients")
    doctor, doctor_device = staff_member(hospital, "doctor", email="doctor@riverside.example", full_name="Bola Ade")
    _desk, desk_device = staff_member(hospital, "receptionist", email="desk@riverside.example", full_name="Grace Desk")
    profile = workforce_services.practitioner_profile_create(
        ctx=admin_ctx(hospital),
        user_id=doctor.id,
        department_id=department.id,
        specialization="general practice",
        licence_number="MDCN-E2E01",
    )
    for weekday in range(7):  # 5-minute slots all day: the first free one is minutes away
        workforce_services.availability_add(
            ctx=Ctx.system(reason="test", organization_id=hospital.id),
            practitioner_id=profile.id,
            weekday=weekday,
            starts_at=dt.time(0, 0),
            ends_at=dt.time(23, 55),
            slot_minutes=5,
            max_daily_appointments=300,
        )
    user = UserFactory(email="amaka@example.org", full_name="Amaka Obi", email_verified_at=timezone.now())
    patient = make_patient(user=user, given_name="Amaka", family_name="Obi")
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    register_at_desk(desk_ctx(hospital), patient)

    sign_in(page, "amaka@example.org")
    page.get_by_role("link", name="Amaka Obi").wait_for()
    page.goto("/patient/appointments/")
    page.get_by_role("link", name="Book an appointment").click()
    page.get_by_label("Hospital").select_option(label="Riverside Hospital")
    page.get_by_label("Department").select_option(label="General Outpatients")
    page.locator("#id_slot option").nth(1).wait_for(state="attached")
    first_time = page.locator("#id_slot option").nth(1).get_attribute("value")
    page.get_by_label("Time").select_option(first_time)
    page.get_by_label("What is the matter?").fill("a dry cough for a week")
    page.get_by_role("button", name="Book", exact=True).click()
    page.get_by_text("is booked; the hospital will confirm it").wait_for()
    assert "cough" not in page.url
    sign_out(page)

    sign_in(page, "desk@riverside.example", desk_device)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reception").click()
    page.get_by_role("button", name="Check in Amaka Obi").click()
    page.get_by_text("is checked in").wait_for()
    sign_out(page)

    sign_in(page, "doctor@riverside.example", doctor_device)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My day").click()
    waiting = page.get_by_test_id("waiting")
    waiting.wait_for()
    assert "Amaka Obi" in waiting.inner_text()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    assert "Amaka Obi" in page.get_by_test_id("queue-entry").inner_text()
