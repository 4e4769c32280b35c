"""An administrator enrols the entrance kiosk on the device itself (and is signed out there); a patient
checks in at it with their reference and date of birth and gets a ticket; the waiting-room display of
the department shows the ticket — never the name — within seconds, in a real browser."""

import pytest

from phb.scheduling import kiosks
from phb.scheduling.models import KioskKind
from tests.accounts.factories import staff_member, totp_code
from tests.kernel.factories import OrganizationFactory
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import admin_ctx, practitioner
from tests.scheduling.frontdesk import book_today

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-test-password-42"  # the factories' password


def test_a_patient_checks_in_at_the_kiosk_and_their_ticket_appears_on_the_display(page, browser, live_server):
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside")
    cardiology = DepartmentFactory(organization=hospital, name="Cardiology", code="cardiology")
    doctor = practitioner(hospital, department=cardiology)
    appointment = book_today(hospital, doctor)
    patient = appointment.patient
    _admin, device = staff_member(hospital, "hospital_admin", email="admin@riverside.example", full_name="Ngozi Admin")
    kiosks.kiosk_create(ctx=admin_ctx(hospital), name="Entrance kiosk", kind=KioskKind.CHECK_IN, location="Main hall")
    screen = kiosks.kiosk_create(
        ctx=admin_ctx(hospital), name="Cardiology screen", kind=KioskKind.DISPLAY, department_id=cardiology.id
    )
    _screen, screen_token = kiosks.kiosk_enrol(ctx=admin_ctx(hospital), kiosk_id=screen.id)

    # The waiting-room display, enrolled earlier, runs in its own browser.
    display_context = browser.new_context(base_url=live_server.url)
    display_context.add_cookies(
        [{"name": kiosks.COOKIE_NAME, "value": screen_token, "url": f"{live_server.url}/kiosk/"}]
    )
    display = display_context.new_page()
    display.set_default_timeout(15_000)
    display.goto("/kiosk/")
    display.get_by_role("heading", name="Cardiology").wait_for()
    display.get_by_text("No one is waiting.").wait_for()

    # An administrator enrols the entrance device from the staff page, on the device itself.
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill("admin@riverside.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    page.get_by_label("Code", exact=True).fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Kiosks").click()
    page.get_by_role("button", name="Enrol this device as Entrance kiosk").click()
    page.get_by_role("heading", name="Check in for your appointment").wait_for()
    assert page.get_by_role("navigation", name="Main").count() == 0  # no staff session, no navigation
    page.goto("/staff/scheduling/kiosks/")
    assert "/accounts/sign-in/" in page.url  # the administrator was signed out of this device
    page.goto("/kiosk/")

    # The patient checks in.
    page.get_by_label("Appointment reference").fill(appointment.reference.lower())
    page.get_by_label("Day").fill(str(patient.birth_date.day))
    page.get_by_label("Month").fill(str(patient.birth_date.month))
    page.get_by_label("Year").fill(str(patient.birth_date.year))
    page.get_by_role("button", name="Check in").click()
    page.get_by_role("heading", name="You are checked in").wait_for()
    assert page.get_by_test_id("kiosk-ticket").inner_text() == "CAR-001"
    assert patient.family_name not in page.content()

    # The display picks the ticket up by itself.
    display.get_by_test_id("waiting").filter(has_text="CAR-001").wait_for()
    assert patient.family_name not in display.content()
    assert patient.given_name not in display.content()
    display_context.close()
