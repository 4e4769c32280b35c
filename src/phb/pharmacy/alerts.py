"""Stock alerts, checked on a schedule: a product is low at a location when its usable stock there
(batches still in date) is below its reorder level; it is near expiry when a batch of it held there
expires within `PHARMACY_NEAR_EXPIRY_DAYS` (environment: PHB_PHARMACY_NEAR_EXPIRY_DAYS), or already has.

Each condition is one open `StockAlert` per product, location and kind (a partial unique constraint
makes a second one impossible, even from two schedulers at once); an alert whose condition no longer
holds is resolved by the next check. A new alert publishes `StockAlertRaised`, whose handler notifies
the organization's pharmacists once (the alert's `notified_at` is claimed by a conditional update).
Messages name the product and the location only."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Min, Sum, Value, When
from django.utils import timezone

from phb.accounts.models import Membership
from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.notifications.services import Recipient, notify
from phb.pharmacy import services
from phb.pharmacy.events import StockAlertRaised
from phb.pharmacy.models import AlertKind, AlertStatus, ReorderLevel, StockAlert, StockLevel, StockLocation
from phb.pharmacy.selectors import _VALUE

log = structlog.get_logger("phb.pharmacy")
TEMPLATE = "pharmacy.stock_alert"
PHARMACIST = "pharmacist"

Key = tuple[uuid.UUID, uuid.UUID, str]  # product, location, kind


def reference(alert: StockAlert) -> str:
    return "SA-" + alert.id.hex[-8:].upper()


def _qty(value: object) -> str:
    """A quantity as the database's decimal type writes it, whichever database summed it."""
    return str(Decimal(str(value)).quantize(Decimal("0.001")))


def _conditions(ctx: Ctx, on: dt.date) -> dict[Key, dict[str, Any]]:
    """Every alert condition that holds now at `ctx`'s organization, with its figures."""
    out: dict[Key, dict[str, Any]] = {}
    levels = StockLevel.objects.for_tenant(ctx).filter(location__is_active=True, product__is_active=True)
    usable = {
        (g["product_id"], g["location_id"]): g["usable"] or Decimal(0)
        for g in levels.values("product_id", "location_id").annotate(
            usable=Sum(Case(When(batch__expiry_on__gt=on, then=F("on_hand")), default=Value(0), output_field=_VALUE))
        )
    }
    reorder = (
        ReorderLevel.objects.for_tenant(ctx)
        .filter(level__gt=0, location__is_active=True, product__is_active=True)
        .values_list("product_id", "location_id", "level")
    )
    for product_id, location_id, level in reorder:
        held = Decimal(usable.get((product_id, location_id), 0))
        if held < level:
            out[(product_id, location_id, AlertKind.LOW_STOCK)] = {"usable": _qty(held), "reorder_level": _qty(level)}
    horizon = on + dt.timedelta(days=settings.PHARMACY_NEAR_EXPIRY_DAYS)
    expiring = (
        levels.filter(on_hand__gt=0, batch__expiry_on__lte=horizon)
        .values("product_id", "location_id")
        .annotate(first_expiry=Min("batch__expiry_on"), quantity=Sum("on_hand"))
    )
    for g in expiring:
        out[(g["product_id"], g["location_id"], AlertKind.NEAR_EXPIRY)] = {
            "first_expiry": g["first_expiry"].isoformat(),
            "quantity": _qty(g["quantity"]),
            "expired": g["first_expiry"] <= on,
        }
    return out


def stock_alerts_check(*, ctx: Ctx, on: dt.date | None = None) -> dict[str, int]:
    """Raise the alerts whose condition now holds and resolve those whose condition no longer does,
    at `ctx`'s organization. Returns counts."""
    on = on or services.today(ctx)
    now = timezone.now()
    counts = {"raised": 0, "resolved": 0}
    conditions = _conditions(ctx, on)
    with transaction.atomic():
        open_alerts = {
            (a.product_id, a.location_id, a.kind): a
            for a in StockAlert.objects.for_tenant(ctx).filter(status=AlertStatus.OPEN).select_for_update()
        }
        gone = [a.id for key, a in open_alerts.items() if key not in conditions]
        if gone:
            counts["resolved"] = (
                StockAlert.objects.for_tenant(ctx)
                .filter(id__in=gone, status=AlertStatus.OPEN)
                .update(status=AlertStatus.RESOLVED, resolved_at=now, updated_at=now)
            )
        for (product_id, location_id, kind), detail in conditions.items():
            if (product_id, location_id, kind) in open_alerts:
                continue
            try:
                with transaction.atomic():
                    alert = StockAlert.objects.create(
                        organization_id=ctx.organization_id,
                        product_id=product_id,
                        location_id=location_id,
                        kind=kind,
                        detail=detail,
                        raised_at=now,
                    )
            except IntegrityError:  # another check raised it at the same moment
                continue
            audit.record(ctx, "pharmacy.stock_alert.raise", target=alert, kind=kind, **detail)
            events.publish(ctx, StockAlertRaised(alert_id=alert.id, organization_id=alert.organization_id))
            counts["raised"] += 1
    return counts


def stock_alerts_check_all(*, on: dt.date | None = None) -> dict[str, int]:
    """The scheduled check, for every organization that keeps stock."""
    system = Ctx.system(reason="pharmacy stock alerts")
    organization_ids = set(
        StockLocation.objects.for_system(system).filter(is_active=True).values_list("organization_id", flat=True)
    )
    totals = {"raised": 0, "resolved": 0}
    for organization_id in sorted(organization_ids):
        counts = stock_alerts_check(ctx=system.for_organization(organization_id), on=on)
        for key, value in counts.items():
            totals[key] += value
    return totals


def pharmacists(ctx: Ctx) -> list[Recipient]:
    """The active pharmacists of `ctx`'s organization, where they can be reached."""
    memberships = Membership.objects.for_tenant(ctx).filter(is_active=True, user__is_active=True).select_related("user")
    return [
        Recipient(ref=str(m.user_id), user_id=m.user_id, email=m.user.email, phone=m.user.phone)
        for m in memberships
        if PHARMACIST in (m.roles or [])
    ]


def stock_alert_notify(*, alert_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Send a raised alert to the organization's pharmacists, once (the event may be delivered more
    than once). Returns whether this call sent it."""
    ctx = Ctx.system(reason="send a stock alert", organization_id=organization_id)
    with transaction.atomic():
        claimed = (
            StockAlert.objects.for_tenant(ctx)
            .filter(id=alert_id, notified_at__isnull=True)
            .update(notified_at=timezone.now())
        )
        if not claimed:
            return False
        alert = StockAlert.objects.for_tenant(ctx).select_related("product", "location").get(id=alert_id)
        organization = Organization.objects.for_tenant(ctx).values_list("name", flat=True).first() or ""
        context = {
            "reference": reference(alert),
            "kind": alert.get_kind_display().lower(),
            "product": alert.product.name,
            "location": alert.location.name,
            "organization": organization,
        }
        recipients = pharmacists(ctx)
        for recipient in recipients:
            notify(ctx=ctx, recipient=recipient, template_code=TEMPLATE, context=context)
        if not recipients:
            log.warning("pharmacy.stock_alert.no_pharmacist", alert_id=str(alert.id))
        audit.record(ctx, "pharmacy.stock_alert.notify", target=alert, recipients=[r.ref for r in recipients])
    return True
