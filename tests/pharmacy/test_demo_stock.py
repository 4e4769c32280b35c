"""The demo's pharmacy stock: a main pharmacy (the pharmacy department's), a ward store, a supplier,
eighteen products with two batches each, and a purchase order received in full; seeded once."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from phb.demo.seed import seed_pharmacy_stock
from phb.kernel.context import Ctx
from phb.organizations.services import departments_ensure_standard
from phb.pharmacy import alerts
from phb.pharmacy.models import Batch, Product, PurchaseOrder, StockLevel, StockLocation, StockMovement

pytestmark = pytest.mark.django_db


def test_the_demo_stock_is_seeded_once_and_its_ledger_is_its_balance(org_a):
    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    departments_ensure_standard(ctx=ctx)
    assert seed_pharmacy_stock(ctx) == 18
    assert seed_pharmacy_stock(ctx) == 0
    main = StockLocation.objects.for_tenant(ctx).get(name="Main pharmacy")
    assert main.department_id is not None
    assert Product.objects.for_tenant(ctx).count() == 18
    assert Product.objects.for_tenant(ctx).filter(controlled=True).count() == 2  # diazepam, morphine
    assert Batch.objects.for_tenant(ctx).count() == 39  # two per product, and the order's three lots
    assert PurchaseOrder.objects.for_tenant(ctx).get().status == "received"
    ledger = StockMovement.objects.for_tenant(ctx).aggregate(t=Sum("quantity"))["t"]
    assert ledger == StockLevel.objects.for_tenant(ctx).aggregate(t=Sum("on_hand"))["t"] > 0
    raised = alerts.stock_alerts_check(ctx=ctx)["raised"]
    assert raised >= 4  # near-expiry batches among them
