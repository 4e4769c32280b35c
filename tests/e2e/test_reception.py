"""A receptionist signs in with their second factor, searches for a patient who is not there,
registers them as a walk-in, then registers a near-identical second person and is warned that it may
be the first — in a real browser."""

import pytest

from tests.accounts.factories import staff_member, totp_code
from tests.kernel.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-test-password-42"  # the factories' password


def register_walk_in(page, given_name):
    page.goto("/staff/patients/register/")
    page.get_by_label("Given name").fill(given_name)
    page.get_by_label("Family name").fill("Okonkwo")
    page.get_by_label("Date of birth", exact=True).fill("1988-02-14")
    page.get_by_label("Sex").select_option("male")
    page.get_by_role("button", name="Register", exact=True).click()


def test_a_receptionist_registers_a_walk_in_and_is_warned_of_a_near_duplicate(page):
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside")
    _user, device = staff_member(hospital, "receptionist", email="desk@riverside.example", full_name="Grace Desk")

    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill("desk@riverside.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    page.get_by_label("Code", exact=True).fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("link", name="Grace Desk").wait_for()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("heading", name="Find a patient").wait_for()
    page.get_by_label("Name", exact=True).fill("Chinedu Okonkwo")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("No patient registered here matches").wait_for()
    assert "Okonkwo" not in page.url  # the search travels in the request body, never the address

    register_walk_in(page, "Chinedu")
    page.get_by_role("heading", name="Chinedu Okonkwo").wait_for()
    page.get_by_text("The patient is registered here with MRN").wait_for()

    register_walk_in(page, "Chinedy")
    page.get_by_role("heading", name="This patient may already be registered").wait_for()
    candidate = page.get_by_test_id("candidate")
    assert candidate.count() == 1
    assert "Chinedu Okonkwo" in candidate.inner_text()
    assert "registered here" in candidate.inner_text()
    assert "1988" in candidate.inner_text()
    page.get_by_role("button", name="This is a different person").wait_for()
