"""Purchase orders: draft → ordered → partially received → received (or cancelled), receiving line by
line in several deliveries, refusing over-receipt, each delivered lot a batch and a receive movement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.pharmacy import purchasing, selectors
from phb.pharmacy.models import PurchaseOrderLine, PurchaseOrderStatus, StockMovement
from tests.pharmacy.factories import in_days, pharmacist, product, stocked, supplier

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(org_a):
    s = stocked(org_a)
    s["other"] = product(s["ctx"], "paracetamol", name="Paracetamol 500 mg tablets")
    s["supplier"] = supplier(s["ctx"], "Emzor Distribution")
    s["order"] = purchasing.purchase_order_create(
        ctx=s["ctx"],
        supplier_id=s["supplier"].id,
        location_id=s["main"].id,
        lines=[
            {"product_id": s["product"].id, "quantity": 100, "unit_cost": "0.30"},
            {"product_id": s["other"].id, "quantity": 50, "unit_cost": "0.10"},
        ],
    )
    s["lines"] = purchasing.purchase_order_lines(s["ctx"], s["order"])
    return s


def _delivery(line, quantity, lot, days=300, **extra):
    return {"line_id": line.id, "lot_number": lot, "expiry_on": in_days(days), "quantity": quantity, **extra}


def test_an_order_is_received_in_two_deliveries(order):
    ctx, (amox, para) = order["ctx"], order["lines"]
    assert order["order"].status == PurchaseOrderStatus.DRAFT
    assert order["order"].number.startswith("PO-")
    with pytest.raises(Conflict) as exc:
        purchasing.purchase_order_receive(ctx=ctx, order_id=order["order"].id, deliveries=[_delivery(amox, 1, "A")])
    assert exc.value.code == "PO_NOT_RECEIVABLE"
    purchasing.purchase_order_submit(ctx=ctx, order_id=order["order"].id)
    moved = purchasing.purchase_order_receive(
        ctx=ctx,
        order_id=order["order"].id,
        deliveries=[_delivery(amox, 60, "A1"), _delivery(amox, 10, "A2", days=100, unit_cost="0.35")],
    )
    assert [m.quantity for m in moved] == [60, 10]
    assert all(m.purchase_order_line_id == amox.id and m.kind == "receive" for m in moved)
    stored = purchasing.purchase_order_get(ctx, order["order"].id)
    assert stored.status == PurchaseOrderStatus.PARTIALLY_RECEIVED
    purchasing.purchase_order_receive(
        ctx=ctx, order_id=order["order"].id, deliveries=[_delivery(amox, 30, "A3"), _delivery(para, 50, "P1")]
    )
    stored = purchasing.purchase_order_get(ctx, order["order"].id)
    assert stored.status == PurchaseOrderStatus.RECEIVED
    assert stored.received_at is not None
    batches = {b.lot_number: b for b in selectors.batch_list(ctx)}
    assert batches["A2"].unit_cost == Decimal("0.35")
    assert batches["A1"].unit_cost == Decimal("0.30")
    assert batches["P1"].supplier_id == order["supplier"].id
    totals = purchasing.purchase_order_totals(purchasing.purchase_order_lines(ctx, stored))
    assert totals == {"ordered_value": Decimal("35.0000000"), "received_value": Decimal("35.0000000")}
    with pytest.raises(Conflict):
        purchasing.purchase_order_cancel(ctx=ctx, order_id=order["order"].id)


def test_over_receipt_is_refused_and_nothing_of_the_delivery_is_written(order):
    ctx, (amox, para) = order["ctx"], order["lines"]
    purchasing.purchase_order_submit(ctx=ctx, order_id=order["order"].id)
    purchasing.purchase_order_receive(ctx=ctx, order_id=order["order"].id, deliveries=[_delivery(amox, 90, "A1")])
    with pytest.raises(Conflict) as exc:
        purchasing.purchase_order_receive(
            ctx=ctx,
            order_id=order["order"].id,
            deliveries=[_delivery(para, 10, "P1"), _delivery(amox, 6, "A2"), _delivery(amox, 5, "A3")],
        )
    assert exc.value.code == "OVER_RECEIVED"
    assert exc.value.extra["outstanding"] == "4.000"
    assert StockMovement.objects.for_tenant(ctx).count() == 1
    assert PurchaseOrderLine.objects.for_tenant(ctx).get(id=para.id).quantity_received == 0
    assert purchasing.purchase_order_get(ctx, order["order"].id).status == PurchaseOrderStatus.PARTIALLY_RECEIVED


def test_bad_deliveries_are_refused(order):
    ctx, (amox, _) = order["ctx"], order["lines"]
    purchasing.purchase_order_submit(ctx=ctx, order_id=order["order"].id)
    for bad, code in [
        ([_delivery(amox, 1, "X", days=-1)], "BATCH_EXPIRED"),
        ([{**_delivery(amox, 1, "X"), "line_id": order["order"].id}], "VALIDATION_ERROR"),
        ([_delivery(amox, 0, "X")], "VALIDATION_ERROR"),
        ([{**_delivery(amox, 1, "X"), "expiry_on": "soon"}], "VALIDATION_ERROR"),
        ([], "VALIDATION_ERROR"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            purchasing.purchase_order_receive(ctx=ctx, order_id=order["order"].id, deliveries=bad)
        assert exc.value.code == code
    assert not StockMovement.objects.for_tenant(ctx).exists()


def test_a_draft_or_an_order_not_yet_received_can_be_cancelled(order):
    ctx = order["ctx"]
    purchasing.purchase_order_submit(ctx=ctx, order_id=order["order"].id)
    with pytest.raises(Conflict) as exc:
        purchasing.purchase_order_submit(ctx=ctx, order_id=order["order"].id)
    assert exc.value.code == "ILLEGAL_TRANSITION"
    cancelled = purchasing.purchase_order_cancel(ctx=ctx, order_id=order["order"].id)
    assert cancelled.status == PurchaseOrderStatus.CANCELLED


def test_an_order_needs_lines_of_this_organizations_products(org_b, order):
    ctx = order["ctx"]
    with pytest.raises(ValidationFailed):
        purchasing.purchase_order_create(
            ctx=ctx, supplier_id=order["supplier"].id, location_id=order["main"].id, lines=[]
        )
    other = pharmacist(org_b)
    with pytest.raises(NotFound):
        purchasing.purchase_order_submit(ctx=other, order_id=order["order"].id)
    with pytest.raises(NotFound):
        purchasing.purchase_order_create(
            ctx=other,
            supplier_id=order["supplier"].id,
            location_id=order["main"].id,
            lines=[{"product_id": order["product"].id, "quantity": 1, "unit_cost": 1}],
        )
