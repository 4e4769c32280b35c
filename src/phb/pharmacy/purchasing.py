"""Purchase orders: drafted with lines, sent to the supplier (ordered), received line by line —
possibly in several deliveries (partially received) — until every line is complete (received); a
draft, or an order nothing of which has arrived, may be cancelled.

Receiving locks the order and its lines, refuses more than a line still awaits (OVER_RECEIVED), and
creates each delivered lot's batch and its receive movement (referencing the line) in one transaction
with the order's new status."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.pharmacy import services
from phb.pharmacy.models import MovementKind, PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, StockMovement

MAX_LINES = 200
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIVABLE = (PurchaseOrderStatus.ORDERED, PurchaseOrderStatus.PARTIALLY_RECEIVED)
CANCELLABLE = (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.ORDERED)


def new_number() -> str:
    """`PO-7K3M9Q2D`: 8 random Crockford base-32 characters."""
    return "PO-" + "".join(secrets.choice(_CROCKFORD) for _ in range(8))


def purchase_order_get(ctx: Ctx, order_id: uuid.UUID | None) -> PurchaseOrder:
    # SECURITY: through for_tenant(ctx): another organization's order is not found.
    order = PurchaseOrder.objects.for_tenant(ctx).filter(id=order_id).first() if order_id else None
    if order is None:
        raise NotFound("no such purchase order here", code="PURCHASE_ORDER_NOT_FOUND")
    return order


def _lines(ctx: Ctx, action: str, lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(list(lines)[: MAX_LINES + 1]):
        if i == MAX_LINES:
            raise ValidationFailed.field("lines", f"at most {MAX_LINES} lines", code="too_many")
        product = services._resolve(ctx, action, services.product_get, line.get("product_id"))
        if not product.is_active:
            raise Conflict(f"{product.name} is retired", code="PRODUCT_INACTIVE")
        out.append(
            {
                "product": product,
                "quantity_ordered": services.parse_quantity(f"lines[{i}].quantity", line.get("quantity")),
                "unit_cost": services.parse_money(f"lines[{i}].unit_cost", line.get("unit_cost", 0)),
            }
        )
    if not out:
        raise ValidationFailed.field("lines", "an order needs at least one line", code="required")
    return out


def purchase_order_create(
    *,
    ctx: Ctx,
    supplier_id: uuid.UUID,
    location_id: uuid.UUID,
    lines: Iterable[Mapping[str, Any]],
    expected_on: dt.date | None = None,
    notes: str = "",
) -> PurchaseOrder:
    """A draft order to a supplier, to be delivered to a location: lines of product, quantity (units of
    issue) and unit cost."""
    action = "pharmacy.purchase_order.create"
    services.require_manage(ctx, action)
    supplier = services._resolve(ctx, action, services.supplier_get, supplier_id)
    location = services._resolve(ctx, action, services.location_get, location_id)
    if not supplier.is_active:
        raise Conflict("this supplier is no longer used", code="SUPPLIER_INACTIVE")
    rows = _lines(ctx, action, lines)
    notes = services._text("notes", notes, limit=500)
    for attempt in range(5):
        try:
            with transaction.atomic():
                order = PurchaseOrder.objects.create(
                    organization_id=ctx.organization_id,
                    number=new_number(),
                    supplier=supplier,
                    location=location,
                    expected_on=expected_on,
                    notes=notes,
                    created_by_id=ctx.actor_id,
                )
                PurchaseOrderLine.objects.for_tenant(ctx).bulk_create(
                    PurchaseOrderLine(organization_id=ctx.organization_id, order=order, **row) for row in rows
                )
                audit.record(ctx, action, target=order, supplier=str(supplier.id), lines=len(rows))
            return order
        except IntegrityError:  # the random number was taken: draw again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _locked(ctx: Ctx, action: str, order_id: uuid.UUID) -> PurchaseOrder:
    order = PurchaseOrder.objects.for_tenant(ctx).select_for_update().filter(id=order_id).first()
    if order is None:  # checked before the transaction; cannot vanish (orders are never deleted)
        raise NotFound("no such purchase order here", code="PURCHASE_ORDER_NOT_FOUND")
    return order


def _illegal(order: PurchaseOrder, to_status: str) -> Conflict:
    return Conflict(
        f"a purchase order that is {order.get_status_display().lower()} cannot become {to_status}",
        code="ILLEGAL_TRANSITION",
        from_status=order.status,
        to_status=to_status,
    )


def purchase_order_submit(*, ctx: Ctx, order_id: uuid.UUID) -> PurchaseOrder:
    """The draft is sent to the supplier: it can now be received against."""
    action = "pharmacy.purchase_order.submit"
    services.require_manage(ctx, action)
    services._resolve(ctx, action, purchase_order_get, order_id)
    with transaction.atomic():
        order = _locked(ctx, action, order_id)
        if order.status != PurchaseOrderStatus.DRAFT:
            raise _illegal(order, PurchaseOrderStatus.ORDERED)
        order.status, order.ordered_at = PurchaseOrderStatus.ORDERED, timezone.now()
        order.save(update_fields=["status", "ordered_at", "updated_at"])
        audit.record(ctx, action, target=order)
    return order


def purchase_order_cancel(*, ctx: Ctx, order_id: uuid.UUID) -> PurchaseOrder:
    action = "pharmacy.purchase_order.cancel"
    services.require_manage(ctx, action)
    services._resolve(ctx, action, purchase_order_get, order_id)
    with transaction.atomic():
        order = _locked(ctx, action, order_id)
        if order.status not in CANCELLABLE:
            raise _illegal(order, PurchaseOrderStatus.CANCELLED)
        order.status, order.cancelled_at = PurchaseOrderStatus.CANCELLED, timezone.now()
        order.save(update_fields=["status", "cancelled_at", "updated_at"])
        audit.record(ctx, action, target=order)
    return order


def purchase_order_receive(
    *, ctx: Ctx, order_id: uuid.UUID, deliveries: Iterable[Mapping[str, Any]]
) -> list[StockMovement]:
    """Receive a delivery against an order: per delivered lot, its line, lot number, expiry date,
    quantity and (optionally) unit cost, default the line's. Several lots may arrive for one line.
    Refuses more than a line still awaits (OVER_RECEIVED) and an order not sent or already complete."""
    action = "pharmacy.purchase_order.receive"
    services.require_manage(ctx, action)
    services._resolve(ctx, action, purchase_order_get, order_id)
    wanted = []
    for i, d in enumerate(list(deliveries)[: MAX_LINES + 1]):
        if i == MAX_LINES:
            raise ValidationFailed.field("deliveries", f"at most {MAX_LINES} lots at once", code="too_many")
        expiry_on = d.get("expiry_on")
        if not isinstance(expiry_on, dt.date):
            raise ValidationFailed.field(f"deliveries[{i}].expiry_on", "a date", code="invalid_date")
        wanted.append(
            {
                "line_id": d.get("line_id"),
                "lot_number": services._text(
                    f"deliveries[{i}].lot_number", d.get("lot_number"), limit=60, required=True
                ),
                "expiry_on": expiry_on,
                "quantity": services.parse_quantity(f"deliveries[{i}].quantity", d.get("quantity")),
                "unit_cost": None
                if d.get("unit_cost") in (None, "")
                else services.parse_money(f"deliveries[{i}].unit_cost", d.get("unit_cost")),
            }
        )
    if not wanted:
        raise ValidationFailed.field("deliveries", "nothing delivered", code="required")
    on = services.today(ctx)
    movements = []
    with transaction.atomic():
        order = _locked(ctx, action, order_id)
        if order.status not in RECEIVABLE:
            raise Conflict(
                f"a purchase order that is {order.get_status_display().lower()} cannot be received against",
                code="PO_NOT_RECEIVABLE",
                status=order.status,
            )
        lines = {
            line.id: line
            for line in PurchaseOrderLine.objects.for_tenant(ctx)
            .select_for_update(of=("self",))
            .select_related("product")
            .filter(order=order)
        }
        location = services.location_get(ctx, order.location_id)
        supplier = services.supplier_get(ctx, order.supplier_id)
        for i, d in enumerate(wanted):
            line = lines.get(d["line_id"]) if isinstance(d["line_id"], uuid.UUID) else None
            if line is None:
                raise ValidationFailed.field(
                    f"deliveries[{i}].line_id", "not a line of this order", code="UNKNOWN_LINE"
                )
            if d["quantity"] > line.outstanding:
                raise Conflict(
                    f"{line.product.name}: {line.outstanding.normalize():f} still awaited, "
                    f"{d['quantity'].normalize():f} delivered",
                    code="OVER_RECEIVED",
                    line_id=str(line.id),
                    outstanding=str(line.outstanding),
                )
            batch = services.batch_for_receipt(
                ctx,
                product=line.product,
                lot_number=d["lot_number"],
                expiry_on=d["expiry_on"],
                unit_cost=line.unit_cost if d["unit_cost"] is None else d["unit_cost"],
                supplier=supplier,
                on=on,
            )
            movement = services._move(
                ctx,
                location=location,
                batch=batch,
                kind=MovementKind.RECEIVE,
                quantity=d["quantity"],
                purchase_order_line=line,
            )
            line.quantity_received += d["quantity"]
            line.save(update_fields=["quantity_received", "updated_at"])
            services._audit_movement(ctx, action, movement, purchase_order=str(order.id), line=str(line.id))
            movements.append(movement)
        complete = all(line.quantity_received >= line.quantity_ordered for line in lines.values())
        order.status = PurchaseOrderStatus.RECEIVED if complete else PurchaseOrderStatus.PARTIALLY_RECEIVED
        order.received_at = timezone.now() if complete else None
        order.save(update_fields=["status", "received_at", "updated_at"])
    return movements


def purchase_order_lines(ctx: Ctx, order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(PurchaseOrderLine.objects.for_tenant(ctx).select_related("product").filter(order=order))


def purchase_order_totals(lines: list[PurchaseOrderLine]) -> dict[str, Decimal]:
    return {
        "ordered_value": sum((line.quantity_ordered * line.unit_cost for line in lines), Decimal(0)),
        "received_value": sum((line.quantity_received * line.unit_cost for line in lines), Decimal(0)),
    }
