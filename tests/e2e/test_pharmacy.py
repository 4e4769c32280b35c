"""A pharmacist opens the worklist, opens a signed prescription, sees the batch that expires first
proposed (not the expired one), dispenses, and gets the labels — in a real browser."""

import pytest

from phb.pharmacy.models import Dispensing
from tests.accounts.factories import staff_member
from tests.e2e.test_appointment_day import sign_in
from tests.kernel.factories import OrganizationFactory
from tests.pharmacy.factories import backdate_expiry, location, prescription, product, receive
from tests.workforce.factories import ctx_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pharmacist_dispenses_from_the_batch_that_expires_first(page):
    hospital = OrganizationFactory(name="Riverside Hospital", code="riverside")
    user, device = staff_member(hospital, "pharmacist", email="pharmacist@riverside.example", full_name="Chidi Eze")
    ctx = ctx_of(hospital, user, "pharmacist")
    main = location(ctx, "Main pharmacy")
    capsules = product(ctx, "amoxicillin", name="Amoxicillin 500 mg capsules", form="capsule", strength="500 mg")
    receive(ctx, main, capsules, 100, lot="LATE-900", expires_in=900)
    receive(ctx, main, capsules, 40, lot="SOON-060", expires_in=60)
    backdate_expiry(ctx, receive(ctx, main, capsules, 100, lot="GONE-001", expires_in=30))
    rx = prescription(hospital)

    sign_in(page, "pharmacist@riverside.example", device)
    page.get_by_role("link", name="Pharmacy", exact=True).click()
    page.locator("#worklist").wait_for()
    assert page.locator("#current-location").inner_text() == "Main pharmacy"
    page.get_by_role("link", name=f"Open {rx.number}").click()
    batches = page.get_by_test_id("fefo-batch")
    batches.first.wait_for()
    assert "SOON-060" in batches.first.inner_text()
    assert "GONE-001" not in page.locator("#dispense-form").inner_text()
    page.get_by_role("button", name="Dispense").click()
    page.get_by_test_id("label").first.wait_for()
    label = page.get_by_test_id("label").first.inner_text()
    assert "SOON-060" in label
    assert rx.number in label
    assert rx.patient.family_name in label
    assert Dispensing.objects.for_tenant(ctx).get().prescription_status == "dispensed"
