"""The pharmacy's pages: the worklist, a prescription with its first-expiry-first-out batches,
dispensing and the labels; the stock pages and their forms; the 403 without a pharmacy role, another
organization's ids not found, and form errors rather than 500s."""

from __future__ import annotations

import pytest
from django.test import Client

from phb.medications.models import PrescriptionItem
from phb.pharmacy import purchasing, services
from phb.pharmacy.models import Dispensing, StockMovement
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.pharmacy.factories import backdate_expiry, in_days, pharmacist, prescription, receive, stocked, supplier

pytestmark = pytest.mark.django_db
BASE = "/staff/pharmacy"


def staff_client(org, *roles, user=None):
    user = user or UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user, Client())


@pytest.fixture
def w(org_a):
    s = stocked(org_a)
    s["soon"] = receive(s["ctx"], s["main"], s["product"], 10, lot="SOON-1", expires_in=60)
    s["late"] = receive(s["ctx"], s["main"], s["product"], 50, lot="LATE-1", expires_in=500)
    s["gone"] = backdate_expiry(s["ctx"], receive(s["ctx"], s["main"], s["product"], 30, lot="GONE-1"))
    s["rx"] = prescription(org_a)
    s["item"] = PrescriptionItem.objects.for_tenant(s["ctx"]).get(prescription=s["rx"])
    s["pharmacist"] = staff_client(org_a, "pharmacist")
    s["nurse"] = staff_client(org_a, "nurse")
    return s


def test_worklist_prescription_dispense_and_labels(w):
    page = w["pharmacist"].get(f"{BASE}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="worklist"' in html
    assert w["rx"].number in html
    assert w["rx"].patient.family_name in html
    opened = w["pharmacist"].get(f"{BASE}/prescriptions/{w['rx'].id}/")
    html = opened.content.decode()
    assert opened.status_code == 200
    assert html.index("SOON-1") < html.index("LATE-1")  # first expiry first
    assert "GONE-1" not in html  # never an expired batch
    assert f'id="qty-{w["item"].id}"' in html
    assert 'value="15"' in html
    done = w["pharmacist"].post(f"{BASE}/prescriptions/{w['rx'].id}/", {f"qty-{w['item'].id}": "12"})
    dispensing = Dispensing.objects.for_tenant(w["ctx"]).get()
    assert done.status_code == 302
    assert done["Location"] == f"{BASE}/dispensings/{dispensing.id}/labels/"
    assert dispensing.prescription_status == "partially_dispensed"
    labels = w["pharmacist"].get(done["Location"]).content.decode()
    for text in (
        w["rx"].patient.given_name,
        "Amoxicillin",
        "500 mg",
        "Take 1 capsule",
        "SOON-1",
        "LATE-1",
        w["rx"].number,
        "Main pharmacy",
    ):
        assert text in labels, text
    again = w["pharmacist"].get(f"{BASE}/prescriptions/{w['rx'].id}/").content.decode()
    assert "remaining 3" in again


def test_a_refused_dispensing_is_shown_on_the_page(w):
    response = w["pharmacist"].post(f"{BASE}/prescriptions/{w['rx'].id}/", {f"qty-{w['item'].id}": "0"})
    assert response.status_code == 400
    assert "dispense at least one item" in response.content.decode()
    services.stock_adjust(ctx=w["ctx"], location_id=w["main"].id, batch_id=w["late"].id, quantity=-50, reason="count")
    response = w["pharmacist"].post(f"{BASE}/prescriptions/{w['rx'].id}/", {f"qty-{w['item'].id}": "11"})
    assert response.status_code == 409
    assert 'id="dispense-error"' in response.content.decode()
    assert not Dispensing.objects.for_tenant(w["ctx"]).exists()


def test_stock_pages_render(w):
    order = purchasing.purchase_order_create(
        ctx=w["ctx"],
        supplier_id=supplier(w["ctx"]).id,
        location_id=w["main"].id,
        lines=[{"product_id": w["product"].id, "quantity": 5, "unit_cost": 1}],
    )
    for path in (
        "stock/",
        "stock/?q=amox",
        f"products/{w['product'].id}/",
        "products/new/",
        "batches/",
        "batches/?expiring_within=90&all=1",
        "ledger/",
        f"ledger/?location={w['main'].id}&kind=receive&since=2020-01-01",
        "ledger/?since=junk",
        "receive/",
        "adjust/",
        "transfer/",
        "destroy/",
        "alerts/",
        "alerts/?status=resolved",
        "valuation/",
        f"valuation/?location={w['main'].id}",
        "suppliers/",
        "purchase-orders/",
        f"purchase-orders/{order.id}/",
        "locations/",
    ):
        response = w["pharmacist"].get(f"{BASE}/{path}")
        assert response.status_code == 200, path
    stock = w["pharmacist"].get(f"{BASE}/stock/").content.decode()
    assert "Amoxicillin 500 mg capsules" in stock
    assert "60" in stock


def test_stock_forms_write_through_the_services_and_show_refusals(w):
    client = w["pharmacist"]
    response = client.post(
        f"{BASE}/adjust/",
        {"location": w["main"].id, "batch": w["soon"].id, "quantity": "-11", "reason": "count"},
    )
    assert response.status_code == 400
    assert "only 10" in response.content.decode()
    response = client.post(
        f"{BASE}/adjust/", {"location": w["main"].id, "batch": w["soon"].id, "quantity": "-1", "reason": ""}
    )
    assert response.status_code == 400
    assert "say why" in response.content.decode()
    response = client.post(
        f"{BASE}/transfer/",
        {"from_location": w["main"].id, "to_location": w["ward"].id, "batch": w["late"].id, "quantity": "5"},
    )
    assert response.status_code == 302
    response = client.post(
        f"{BASE}/receive/",
        {
            "location": w["main"].id,
            "product": w["product"].id,
            "lot_number": "NEW-1",
            "expiry_on": in_days(100).isoformat(),
            "quantity": "20",
            "unit_cost": "0.3",
        },
    )
    assert response.status_code == 302
    response = client.post(f"{BASE}/destroy/", {"expire": "1", "location": w["main"].id})
    assert response.status_code == 302
    kinds = sorted(StockMovement.objects.for_tenant(w["ctx"]).exclude(kind="receive").values_list("kind", flat=True))
    assert kinds == ["expire", "transfer_in", "transfer_out"]
    response = client.post(
        f"{BASE}/products/new/",
        {"drug": "Paracetamol", "name": "Paracetamol 500 mg", "pack_size": 100, "unit_of_issue": "tablet"},
    )
    assert response.status_code == 302
    response = client.post(
        f"{BASE}/products/new/", {"drug": "unobtainium", "name": "X", "pack_size": 1, "unit_of_issue": "tablet"}
    )
    assert response.status_code == 400
    assert "not a drug of the catalogue" in response.content.decode()


def test_a_purchase_order_is_drafted_sent_and_received_on_its_page(w):
    client = w["pharmacist"]
    vendor = supplier(w["ctx"], "Drugfield Ltd")
    response = client.post(
        f"{BASE}/purchase-orders/",
        {
            "supplier": vendor.id,
            "location": w["main"].id,
            "product_0": w["product"].id,
            "quantity_0": "30",
            "unit_cost_0": "0.2",
        },
    )
    assert response.status_code == 302
    page = response["Location"]
    assert client.post(page, {"action": "submit"}).status_code == 302
    line = purchasing.purchase_order_lines(
        w["ctx"], purchasing.purchase_order_get(w["ctx"], page.rstrip("/").split("/")[-1])
    )[0]
    over = client.post(
        page,
        {
            "action": "receive",
            f"lot-{line.id}": "PO-LOT",
            f"expiry-{line.id}": in_days(300).isoformat(),
            f"quantity-{line.id}": "31",
        },
    )
    assert over.status_code == 409
    assert "still awaited" in over.content.decode()
    ok = client.post(
        page,
        {
            "action": "receive",
            f"lot-{line.id}": "PO-LOT",
            f"expiry-{line.id}": in_days(300).isoformat(),
            f"quantity-{line.id}": "30",
        },
    )
    assert ok.status_code == 302
    assert "Received" in client.get(page).content.decode()


def test_without_a_pharmacy_role_the_pages_are_forbidden_and_the_nav_hides_them(w):
    for path in ("", f"prescriptions/{w['rx'].id}/", "stock/", "ledger/", "valuation/", "receive/"):
        assert w["nurse"].get(f"{BASE}/{path}").status_code == 403, path
    home = w["pharmacist"].get(f"{BASE}/stock/").content.decode()
    assert f'href="{BASE}/"' in home  # the Pharmacy entry of the navigation
    assert f'href="{BASE}/"' not in w["nurse"].get("/staff/scheduling/day/").content.decode()


def test_another_organizations_ids_are_not_found(w, org_b):
    from phb.pharmacy import dispensing

    outsider = staff_client(org_b, "pharmacist")
    services.location_create(ctx=pharmacist(org_b), name="Their pharmacy")
    made = dispensing.prescription_dispense(ctx=w["ctx"], prescription_id=w["rx"].id, location_id=w["main"].id)
    order = purchasing.purchase_order_create(
        ctx=w["ctx"],
        supplier_id=supplier(w["ctx"]).id,
        location_id=w["main"].id,
        lines=[{"product_id": w["product"].id, "quantity": 5, "unit_cost": 1}],
    )
    for path in (
        f"prescriptions/{w['rx'].id}/",
        f"dispensings/{made.id}/labels/",
        f"products/{w['product'].id}/",
        f"purchase-orders/{order.id}/",
    ):
        assert outsider.get(f"{BASE}/{path}").status_code == 404, path
    assert outsider.post(f"{BASE}/purchase-orders/{order.id}/", {"action": "submit"}).status_code == 404
