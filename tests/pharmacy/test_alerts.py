"""Stock alerts: low stock (usable stock below the reorder level) and near expiry, raised once per
product, location and kind, notified once to the organization's pharmacists, resolved by the check
once they no longer hold; the scheduled task covers every organization."""

from __future__ import annotations

import pytest

from phb.kernel import events
from phb.kernel.context import Ctx
from phb.notifications.models import Notification
from phb.pharmacy import alerts, services
from phb.pharmacy.models import AlertStatus, StockAlert
from phb.pharmacy.tasks import stock_alerts_check
from tests.pharmacy.factories import backdate_expiry, pharmacist, receive, stocked

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def _alerts(ctx, **filters):
    return list(StockAlert.objects.for_tenant(ctx).filter(**filters).order_by("kind"))


def _inbox(user_id):
    return Notification.objects.filter(user_id=user_id, template_code=alerts.TEMPLATE)


def test_low_stock_is_raised_once_notified_once_and_resolved_when_restocked(org_a, settings):
    settings.PHARMACY_NEAR_EXPIRY_DAYS = 30
    s = stocked(org_a)
    ctx = s["ctx"]
    batch = receive(ctx, s["main"], s["product"], 12)
    services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["main"].id, level=20)
    assert alerts.stock_alerts_check(ctx=ctx) == {"raised": 1, "resolved": 0}
    assert alerts.stock_alerts_check(ctx=ctx) == {"raised": 0, "resolved": 0}  # still one open alert
    (alert,) = _alerts(ctx)
    assert (alert.kind, alert.status, alert.detail) == (
        "low_stock",
        "open",
        {"usable": "12.000", "reorder_level": "20.000"},
    )
    events.dispatch_due()
    events.dispatch_due()
    assert _inbox(ctx.actor_id).count() == 1  # the pharmacist
    assert not _inbox(s["tech"].actor_id).exists()  # a technician is not a pharmacist
    assert "Amoxicillin 500 mg capsules" in _inbox(ctx.actor_id).get().body
    assert alerts.stock_alert_notify(alert_id=alert.id, organization_id=org_a.id) is False  # once
    receive(ctx, s["main"], s["product"], 10, lot=batch.lot_number + "-2")
    assert alerts.stock_alerts_check(ctx=ctx) == {"raised": 0, "resolved": 1}
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_at is not None
    services.stock_adjust(ctx=ctx, location_id=s["main"].id, batch_id=batch.id, quantity=-12, reason="count")
    assert alerts.stock_alerts_check(ctx=ctx) == {"raised": 1, "resolved": 0}  # low again: a new alert
    assert len(_alerts(ctx, kind="low_stock")) == 2


def test_expired_stock_does_not_count_as_usable_and_raises_near_expiry(org_a, settings):
    settings.PHARMACY_NEAR_EXPIRY_DAYS = 60
    s = stocked(org_a)
    ctx = s["ctx"]
    old = backdate_expiry(ctx, receive(ctx, s["main"], s["product"], 100))
    services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["main"].id, level=10)
    receive(ctx, s["ward"], s["product"], 5, expires_in=45)
    receive(ctx, s["ward"], s["product"], 5, expires_in=400)
    alerts.stock_alerts_check(ctx=ctx)
    found = {(a.location_id, a.kind): a for a in _alerts(ctx, status="open")}
    assert set(found) == {(s["main"].id, "low_stock"), (s["main"].id, "near_expiry"), (s["ward"].id, "near_expiry")}
    assert found[(s["main"].id, "near_expiry")].detail["expired"] is True
    assert found[(s["ward"].id, "near_expiry")].detail["quantity"] == "5.000"
    services.stock_expire(ctx=ctx, location_id=s["main"].id)
    assert old.id  # written off
    assert alerts.stock_alerts_check(ctx=ctx)["resolved"] == 1  # main's near-expiry; it is still low


def test_the_scheduled_task_checks_every_organization_and_alerts_only_its_own_pharmacists(org_a, org_b, settings):
    settings.PHARMACY_NEAR_EXPIRY_DAYS = 10
    a, b = stocked(org_a), stocked(org_b)
    for s in (a, b):
        services.reorder_level_set(ctx=s["ctx"], product_id=s["product"].id, location_id=s["main"].id, level=1)
    assert stock_alerts_check() == {"raised": 2, "resolved": 0}
    events.dispatch_due()
    assert _inbox(a["ctx"].actor_id).get().organization_id == org_a.id
    assert _inbox(b["ctx"].actor_id).get().organization_id == org_b.id
    another = pharmacist(org_a)
    assert not _inbox(another.actor_id).exists()  # joined after the alert was sent


def test_alerts_of_a_closed_location_are_resolved(org_a):
    s = stocked(org_a)
    ctx = s["ctx"]
    services.reorder_level_set(ctx=ctx, product_id=s["product"].id, location_id=s["ward"].id, level=3)
    alerts.stock_alerts_check(ctx=ctx)
    services.location_update(ctx=ctx, location_id=s["ward"].id, is_active=False)
    assert alerts.stock_alerts_check(ctx=ctx) == {"raised": 0, "resolved": 1}
