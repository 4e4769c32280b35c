"""The stock API: happy paths, problem details with stable codes, the 403 without a pharmacy role,
and "not found" for another organization's ids on every endpoint that takes one."""

from __future__ import annotations

import pytest

from phb.pharmacy import purchasing
from tests.accounts.factories import MembershipFactory, UserFactory, verified_client
from tests.pharmacy.factories import backdate_expiry, in_days, receive, stocked, supplier

pytestmark = pytest.mark.django_db
API = "/api/v1/pharmacy"


def client_of(org, *roles, user=None):
    user = user or UserFactory()
    MembershipFactory(user=user, organization=org, roles=list(roles))
    return verified_client(user)


@pytest.fixture
def w(org_a, org_b):
    s = stocked(org_a)
    s["batch"] = receive(s["ctx"], s["main"], s["product"], 40, unit_cost="0.50")
    s["supplier"] = supplier(s["ctx"], "MedPlus Wholesale")
    s["order"] = purchasing.purchase_order_create(
        ctx=s["ctx"],
        supplier_id=s["supplier"].id,
        location_id=s["main"].id,
        lines=[{"product_id": s["product"].id, "quantity": 10, "unit_cost": "0.40"}],
    )
    s["pharmacist"] = client_of(org_a, "pharmacist")
    s["technician"] = client_of(org_a, "pharmacy_technician")
    s["nurse"] = client_of(org_a, "nurse")
    s["outsider"] = client_of(org_b, "pharmacist")
    return s


def test_a_pharmacist_manages_stock_through_the_api(w):
    api = w["pharmacist"]
    created = api.post(
        f"{API}/products/",
        {"drug_code": "paracetamol", "name": "Paracetamol 500 mg tablets", "unit_of_issue": "tablet", "pack_size": 100},
        format="json",
    )
    assert created.status_code == 201, created.json()
    product_id = created.json()["id"]
    received = api.post(
        f"{API}/stock/receive/",
        {
            "location_id": str(w["main"].id),
            "product_id": product_id,
            "lot_number": "PCM-1",
            "expiry_on": in_days(300).isoformat(),
            "quantity": "500",
            "unit_cost": "0.02",
            "supplier_id": str(w["supplier"].id),
        },
        format="json",
    )
    assert received.status_code == 201, received.json()
    batch_id = received.json()[0]["batch_id"]
    assert received.json()[0]["kind"] == "receive"
    moved = api.post(
        f"{API}/stock/transfer/",
        {
            "from_location_id": str(w["main"].id),
            "to_location_id": str(w["ward"].id),
            "batch_id": batch_id,
            "quantity": 50,
        },
        format="json",
    )
    assert [m["kind"] for m in moved.json()] == ["transfer_out", "transfer_in"]
    adjusted = api.post(
        f"{API}/stock/adjust/",
        {"location_id": str(w["ward"].id), "batch_id": batch_id, "quantity": "-2", "reason": "count"},
        format="json",
    )
    assert adjusted.status_code == 201
    level = api.put(
        f"{API}/products/{product_id}/reorder-level/", {"location_id": str(w["ward"].id), "level": "60"}, format="json"
    )
    assert level.status_code == 200
    product = api.get(f"{API}/products/{product_id}/").json()
    holdings = {h["location_id"]: h for h in product["holdings"]}
    assert holdings[str(w["ward"].id)]["on_hand"] == "48.000"
    assert holdings[str(w["ward"].id)]["low"] is True
    assert product["on_hand"] == "498.000"
    ledger = api.get(f"{API}/movements/", {"batch": batch_id, "location": str(w["ward"].id)}).json()
    assert [m["kind"] for m in ledger["results"]] == ["adjust", "transfer_in"]
    batch = api.get(f"{API}/batches/{batch_id}/").json()
    assert {lv["location_name"]: lv["on_hand"] for lv in batch["levels"]} == {
        "Main pharmacy": "450.000",
        "Ward 3 store": "48.000",
    }
    valuation = api.get(f"{API}/valuation/").json()
    assert valuation["total"] == "29.96"  # 40 x 0.50 + 498 x 0.02
    listed = api.get(f"{API}/products/", {"q": "paracet"}).json()
    assert [p["product"]["name"] for p in listed["results"]] == ["Paracetamol 500 mg tablets"]


def test_a_purchase_order_through_the_api(w):
    api = w["technician"]
    order_id = str(w["order"].id)
    assert api.post(f"{API}/purchase-orders/{order_id}/submit/").json()["order"]["status"] == "ordered"
    line_id = api.get(f"{API}/purchase-orders/{order_id}/").json()["lines"][0]["id"]

    def deliver(quantity, lot):
        return api.post(
            f"{API}/purchase-orders/{order_id}/receive/",
            {"deliveries": [{"line_id": line_id, "lot_number": lot, "expiry_on": in_days(200), "quantity": quantity}]},
            format="json",
        )

    partly = deliver(6, "B1")
    assert partly.status_code == 201
    assert partly.json()["order"]["status"] == "partially_received"
    over = deliver(5, "B2")
    assert over.status_code == 409
    assert over.json()["code"] == "OVER_RECEIVED"
    assert over["Content-Type"] == "application/problem+json"
    done = deliver(4, "B2").json()
    assert done["order"]["status"] == "received"
    assert done["received_value"] == "4.0000"
    assert [o["number"] for o in api.get(f"{API}/purchase-orders/", {"status": "received"}).json()["results"]] == [
        w["order"].number
    ]
    created = api.post(
        f"{API}/purchase-orders/",
        {
            "supplier_id": str(w["supplier"].id),
            "location_id": str(w["main"].id),
            "lines": [{"product_id": str(w["product"].id), "quantity": "5", "unit_cost": "1"}],
        },
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["ordered_value"] == "5.0000"


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("stock/adjust/", {"quantity": "-41", "reason": "count"}, 409, "INSUFFICIENT_STOCK"),
        ("stock/adjust/", {"quantity": "-1", "reason": ""}, 400, "REASON_REQUIRED"),
        ("stock/destroy/", {"reason": ""}, 400, "REASON_REQUIRED"),
        ("stock/adjust/", {"quantity": "abc", "reason": "x"}, 400, "VALIDATION_ERROR"),
    ],
)
def test_refusals_are_problems_with_stable_codes(w, path, body, status, code):
    body = {"location_id": str(w["main"].id), "batch_id": str(w["batch"].id), **body}
    response = w["pharmacist"].post(f"{API}/{path}", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code


def test_an_expired_batch_is_refused_where_it_would_move(w):
    backdate_expiry(w["ctx"], w["batch"])
    response = w["pharmacist"].post(
        f"{API}/stock/transfer/",
        {
            "from_location_id": str(w["main"].id),
            "to_location_id": str(w["ward"].id),
            "batch_id": str(w["batch"].id),
            "quantity": 1,
        },
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "BATCH_EXPIRED")
    expired = w["pharmacist"].post(f"{API}/stock/expire/", {"location_id": str(w["main"].id)}, format="json")
    assert [(m["kind"], m["quantity"]) for m in expired.json()] == [("expire", "-40.000")]


def test_without_a_pharmacy_role_it_is_forbidden_and_signed_out_unauthorized(w, api_client):
    for method, path in [
        ("get", "products/"),
        ("get", "movements/"),
        ("get", "valuation/"),
        ("get", "alerts/"),
        ("get", "locations/"),
        ("post", "stock/adjust/"),
        ("post", "suppliers/"),
    ]:
        response = getattr(w["nurse"], method)(f"{API}/{path}", {}, format="json")
        assert response.status_code == 403, path
        assert api_client.get(f"{API}/{path}").status_code == 401


def test_another_organizations_ids_are_not_found_on_every_endpoint(w):
    api = w["outsider"]
    batch, product, location = str(w["batch"].id), str(w["product"].id), str(w["main"].id)
    order, supplier_id = str(w["order"].id), str(w["supplier"].id)
    for method, path, body in [
        ("get", f"locations/{location}/", None),
        ("patch", f"locations/{location}/", {"name": "x"}),
        ("get", f"products/{product}/", None),
        ("patch", f"products/{product}/", {"brand": "x"}),
        ("put", f"products/{product}/reorder-level/", {"location_id": location, "level": 1}),
        ("get", f"batches/{batch}/", None),
        ("get", f"suppliers/{supplier_id}/", None),
        ("patch", f"suppliers/{supplier_id}/", {"phone": "1"}),
        ("get", f"purchase-orders/{order}/", None),
        ("post", f"purchase-orders/{order}/submit/", None),
        ("post", f"purchase-orders/{order}/cancel/", None),
        (
            "post",
            f"purchase-orders/{order}/receive/",
            {"deliveries": [{"line_id": order, "lot_number": "x", "expiry_on": in_days(9), "quantity": 1}]},
        ),
        ("post", "stock/adjust/", {"location_id": location, "batch_id": batch, "quantity": -1, "reason": "x"}),
        ("post", "stock/destroy/", {"location_id": location, "batch_id": batch, "reason": "x"}),
        ("post", "stock/return/", {"location_id": location, "batch_id": batch, "quantity": 1}),
        ("post", "stock/expire/", {"location_id": location}),
        (
            "post",
            "stock/transfer/",
            {"from_location_id": location, "to_location_id": location, "batch_id": batch, "quantity": 1},
        ),
        (
            "post",
            "stock/receive/",
            {
                "location_id": location,
                "product_id": product,
                "lot_number": "x",
                "expiry_on": in_days(9),
                "quantity": 1,
                "unit_cost": 1,
            },
        ),
    ]:
        response = getattr(api, method)(f"{API}/{path}", body, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
    assert api.get(f"{API}/batches/").json()["count"] == 0
    assert api.get(f"{API}/movements/").json()["count"] == 0
    assert api.get(f"{API}/valuation/").json()["total"] == "0.00"


def test_malformed_ids_are_not_found(w):
    assert w["pharmacist"].get(f"{API}/batches/not-a-uuid/").status_code == 404
    assert w["pharmacist"].get(f"{API}/purchase-orders/123/").status_code == 404


# --- dispensing ---------------------------------------------------------------------------------------


@pytest.fixture
def rx(w, org_a):
    from tests.pharmacy.factories import prescription

    return prescription(org_a)


def test_the_worklist_the_proposal_and_dispensing_through_the_api(w, rx):
    api, main = w["pharmacist"], str(w["main"].id)
    listed = api.get(f"{API}/worklist/", {"location": main})
    assert listed.status_code == 200
    assert [p["number"] for p in listed.json()] == [rx.number]
    item_id = listed.json()[0]["items"][0]["item_id"]
    proposal = api.get(f"{API}/prescriptions/{rx.id}/proposal/", {"location": main}).json()
    assert proposal["may_dispense_here"] is True
    assert [(b["lot_number"], b["take"]) for b in proposal["items"][0]["batches"]] == [
        (w["batch"].lot_number, "15.000")
    ]
    done = api.post(
        f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main, "quantities": {item_id: "10"}}, format="json"
    )
    assert done.status_code == 201, done.json()
    body = done.json()
    assert body["dispensing"]["prescription_status"] == "partially_dispensed"
    assert [(line["lot_number"], line["quantity"]) for line in body["lines"]] == [(w["batch"].lot_number, "10.000")]
    assert body["label_url"].endswith("/labels/")
    rest = api.post(f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main}, format="json")
    assert rest.json()["dispensing"]["prescription_status"] == "dispensed"
    assert len(api.get(f"{API}/dispensings/", {"prescription": str(rx.id)}).json()) == 2
    one = api.get(f"{API}/dispensings/{body['dispensing']['id']}/")
    assert one.status_code == 200
    gone = api.get(f"{API}/prescriptions/{rx.id}/proposal/", {"location": main})
    assert gone.status_code == 404  # fully dispensed: no longer on the worklist


def test_dispensing_refusals_through_the_api(w, rx):
    api, main = w["pharmacist"], str(w["main"].id)
    item_id = api.get(f"{API}/worklist/", {"location": main}).json()[0]["items"][0]["item_id"]
    for quantities, status, code in [
        ({item_id: "41"}, 400, "OVER_DISPENSED"),
        ({str(w["batch"].id): "1"}, 400, "UNKNOWN_ITEM"),
        ({item_id: "0"}, 400, "VALIDATION_ERROR"),
        ({item_id: "-1"}, 400, "VALIDATION_ERROR"),
    ]:
        response = api.post(
            f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main, "quantities": quantities}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (status, code), quantities
    services_adjust = api.post(
        f"{API}/stock/adjust/",
        {"location_id": main, "batch_id": str(w["batch"].id), "quantity": "-35", "reason": "count"},
        format="json",
    )
    assert services_adjust.status_code == 201
    short = api.post(
        f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main, "quantities": {item_id: "6"}}, format="json"
    )
    assert (short.status_code, short.json()["code"]) == (409, "INSUFFICIENT_STOCK")
    assert api.get(f"{API}/worklist/").status_code == 400  # the location is required


def test_dispensing_needs_the_capability_and_other_organizations_ids_are_not_found(w, rx):
    main = str(w["main"].id)
    assert w["nurse"].get(f"{API}/worklist/", {"location": main}).status_code == 403
    assert (
        w["nurse"].post(f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main}, format="json").status_code
        == 403
    )
    done = w["technician"].post(f"{API}/prescriptions/{rx.id}/dispense/", {"location_id": main}, format="json")
    assert done.status_code == 201
    outsider = w["outsider"]
    theirs = outsider.post(f"{API}/locations/", {"name": "Their pharmacy"}, format="json").json()["id"]
    for method, path, body in [
        ("get", f"prescriptions/{rx.id}/proposal/?location={theirs}", None),
        ("get", f"prescriptions/{rx.id}/proposal/?location={main}", None),
        ("get", f"worklist/?location={main}", None),
        ("post", f"prescriptions/{rx.id}/dispense/", {"location_id": theirs}),
        ("get", f"dispensings/{done.json()['dispensing']['id']}/", None),
    ]:
        response = getattr(outsider, method)(f"{API}/{path}", body, format="json")
        assert response.status_code == 404, (path, response.status_code)
    assert outsider.get(f"{API}/dispensings/").json() == []
