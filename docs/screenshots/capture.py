"""Capture the README's screenshots from a running PHB with demo data (`make run` in another terminal).

    .venv/bin/python docs/screenshots/capture.py [BASE_URL]
"""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(__file__).parent
PASSWORD = "demo-Health-2026"


def code(email: str) -> str:
    return subprocess.run([sys.executable, "-m", "phb.manage", "demo-code", email], capture_output=True,
                          text=True, check=True).stdout.strip()


def sign_in(page, email: str) -> None:
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code", exact=True).fill(code(email))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("button", name="Sign out").wait_for()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1200, "height": 800}, base_url=BASE)
    page.goto("/")
    page.screenshot(path=OUT / "landing.png", full_page=True)
    page.goto("/accounts/sign-in/")
    page.screenshot(path=OUT / "sign-in.png")
    page.get_by_label("Email").fill("doctor@unity.demo.phb.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.screenshot(path=OUT / "second-factor.png")
    page.get_by_label("Code", exact=True).fill(code("doctor@unity.demo.phb.example"))
    page.get_by_role("button", name="Verify").click()
    page.goto("/accounts/security/")
    page.screenshot(path=OUT / "security.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # Reception: search, then a walk-in who may already be on record (the warning only; nothing is written).
    sign_in(page, "reception@unity.demo.phb.example")
    page.goto("/staff/patients/")
    page.get_by_label("Name", exact=True).fill("Nwankwo")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("heading", name="found").wait_for()
    page.screenshot(path=OUT / "reception-search.png", full_page=True)
    page.goto("/staff/patients/register/")
    page.get_by_label("Given name").fill("Adaezi")
    page.get_by_label("Family name").fill("Nwankwo")
    page.get_by_label("Date of birth", exact=True).fill("1975-03-10")
    page.get_by_label("Sex").select_option("female")
    page.get_by_role("button", name="Register", exact=True).click()
    page.get_by_role("heading", name="may already be registered").wait_for()
    page.screenshot(path=OUT / "walk-in-duplicate.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # The administrator's duplicates queue: two records side by side.
    sign_in(page, "admin@unity.demo.phb.example")
    page.goto("/staff/patients/duplicates/")
    page.get_by_role("link", name="Compare").first.click()
    page.get_by_role("heading", name="Compare two records").wait_for()
    page.screenshot(path=OUT / "duplicate-review.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # The pharmacist: the worklist, a prescription's first-expiry-first-out batches, the stock.
    sign_in(page, "pharmacist@unity.demo.phb.example")
    page.goto("/staff/pharmacy/")
    page.screenshot(path=OUT / "pharmacy-worklist.png", full_page=True)
    page.get_by_role("link", name="Open RX-2026-000003").click()
    page.get_by_test_id("fefo-batch").first.wait_for()
    page.screenshot(path=OUT / "pharmacy-dispense.png", full_page=True)
    page.goto("/staff/pharmacy/stock/")
    page.screenshot(path=OUT / "pharmacy-stock.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()

    # The privacy officer: the override report (who signed over which alert, and why).
    sign_in(page, "privacy@unity.demo.phb.example")
    page.goto("/staff/medications/overrides/")
    page.screenshot(path=OUT / "medication-overrides.png", full_page=True)
    browser.close()
