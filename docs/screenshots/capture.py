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
    browser.close()
