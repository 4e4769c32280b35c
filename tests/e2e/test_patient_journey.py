"""A patient registers, confirms their email, signs in, sets up an authenticator, signs out, and signs
in again with a code — in a real browser."""

import base64
import re

import pytest
from django.core import mail
from django_otp.oath import totp

pytestmark = pytest.mark.django_db(transaction=True)


def code_for(secret: str, steps_ahead: int = 0) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=steps_ahead):06d}"


def test_patient_registers_verifies_signs_in_enrols_and_signs_in_with_a_code(page):
    page.goto("/accounts/register/")
    page.get_by_label("Full name").fill("Amaka Obi")
    page.get_by_label("Email").fill("amaka@example.org")
    page.get_by_label("Phone").fill("+234 803 123 4567")
    page.get_by_label("Password").fill("Lagoon-sunrise-2026")
    page.get_by_label("I accept the terms of service").check()
    page.get_by_label("I agree that PHB processes my health data").check()
    page.get_by_label("I have read the privacy notice").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Check your email").wait_for()

    link = re.search(r"https?://\S+/accounts/verify-email/\?token=\S+", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm my email address").click()
    page.get_by_text("Your email address is confirmed").wait_for()

    page.get_by_label("Email").fill("amaka@example.org")
    page.get_by_label("Password").fill("Lagoon-sunrise-2026")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Amaka Obi").click()  # signed in: the header names them
    page.get_by_role("link", name="Set one up").click()

    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Code", exact=True).fill(code_for(secret))
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_test_id("backup-codes").locator("li").count() == 10

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out").wait_for()

    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill("amaka@example.org")
    page.get_by_label("Password").fill("Lagoon-sunrise-2026")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    # The code just used for enrolment cannot be replayed: the authenticator's next code is accepted.
    page.get_by_label("Code", exact=True).fill(code_for(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("link", name="Amaka Obi").wait_for()
    assert "/accounts/" not in page.url or page.url.endswith("/")
