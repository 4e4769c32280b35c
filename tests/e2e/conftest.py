"""Browser tests: Playwright driving the system's Chromium against Django's live server."""

import os
import shutil
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

CHROMIUM = os.environ.get("PHB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Chromium (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def a_zone_in_daytime() -> str:
    """A time zone where it is now between 06:00 and 18:00: a test that books a slot today (the day's
    last starts at 23:50, local) finds one whatever the hour the suite runs at."""
    zones = ("Africa/Lagos", "America/New_York", "America/Los_Angeles", "Asia/Tokyo")
    return next(z for z in zones if 6 <= timezone.now().astimezone(ZoneInfo(z)).hour < 18)
