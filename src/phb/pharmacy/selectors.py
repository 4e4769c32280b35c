"""Reads of pharmacy stock for pharmacy staff: locations, products with what each location holds,
batches, the ledger with its filters, suppliers, purchase orders, alerts and the stock valuation.

Stock holds no personal health information, so these are not audited as reads of it (dispensings,
which name patients, are read through `dispensing.dispensing_get`). Every query is of `ctx`'s
organization; aggregates (on hand, valuation) are single grouped queries over indexed columns."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Min, Q, QuerySet, Sum, Value, When

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden
from phb.pharmacy import policies, services
from phb.pharmacy.models import (
    AlertStatus,
    Batch,
    Product,
    PurchaseOrder,
    ReorderLevel,
    StockAlert,
    StockLevel,
    StockLocation,
    StockMovement,
    Supplier,
)

CENT = Decimal("0.01")
_VALUE = DecimalField(max_digits=24, decimal_places=7)


def require_view(ctx: Ctx, action: str = "pharmacy.stock.view") -> None:
    if not policies.can_view_stock(ctx):
        raise audit.denied(ctx, action, Forbidden("the pharmacy's stock needs a pharmacy role"))


def location_list(ctx: Ctx, *, active_only: bool = False) -> QuerySet[StockLocation]:
    require_view(ctx)
    locations = StockLocation.objects.for_tenant(ctx).select_related("department")
    return locations.filter(is_active=True) if active_only else locations


def product_list(ctx: Ctx, *, q: str = "", active: bool | None = None) -> QuerySet[Product]:
    require_view(ctx)
    products = Product.objects.for_tenant(ctx)
    if q:
        products = products.filter(
            Q(name__icontains=q) | Q(drug_name__icontains=q) | Q(brand__icontains=q) | Q(gtin=q) | Q(drug_code=q)
        )
    if active is not None:
        products = products.filter(is_active=active)
    return products.order_by("name", "id")


@dataclass
class Holding:
    """A product at a location: all it holds, what of it is usable (in date), its reorder level."""

    location_id: uuid.UUID
    on_hand: Decimal = Decimal(0)
    usable: Decimal = Decimal(0)
    reorder_level: Decimal | None = None

    @property
    def low(self) -> bool:
        return self.reorder_level is not None and self.usable < self.reorder_level


@dataclass
class ProductStock:
    product: Product
    holdings: dict[uuid.UUID, Holding] = field(default_factory=dict)

    @property
    def on_hand(self) -> Decimal:
        return sum((h.on_hand for h in self.holdings.values()), Decimal(0))

    @property
    def usable(self) -> Decimal:
        return sum((h.usable for h in self.holdings.values()), Decimal(0))


def stock_overview(
    ctx: Ctx, *, products: Iterable[Product] | None = None, location_id: uuid.UUID | None = None
) -> list[ProductStock]:
    """Each product (of `products`, default all) with its holding at each location: two grouped
    queries (balances, reorder levels) whatever the number of products."""
    require_view(ctx)
    products = products if products is not None else product_list(ctx)
    rows = {p.id: ProductStock(p) for p in products}
    on = services.today(ctx)
    levels = StockLevel.objects.for_tenant(ctx).filter(product_id__in=list(rows))
    reorder = ReorderLevel.objects.for_tenant(ctx).filter(product_id__in=list(rows))
    if location_id is not None:
        levels, reorder = levels.filter(location_id=location_id), reorder.filter(location_id=location_id)
    grouped = levels.values("product_id", "location_id").annotate(
        held=Sum("on_hand"),
        usable=Sum(Case(When(batch__expiry_on__gt=on, then=F("on_hand")), default=Value(0), output_field=_VALUE)),
    )
    for g in grouped:
        rows[g["product_id"]].holdings[g["location_id"]] = Holding(
            g["location_id"], on_hand=Decimal(g["held"] or 0), usable=Decimal(g["usable"] or 0)
        )
    for product_id, loc_id, level in reorder.values_list("product_id", "location_id", "level"):
        rows[product_id].holdings.setdefault(loc_id, Holding(loc_id)).reorder_level = level
    return list(rows.values())


def batch_list(
    ctx: Ctx,
    *,
    product_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    expiring_before: dt.date | None = None,
    in_stock: bool = False,
) -> QuerySet[Batch]:
    """Batches, earliest expiry first, each with `on_hand` (at `location_id`, or everywhere)."""
    require_view(ctx)
    held = Q(levels__location_id=location_id) if location_id else Q()
    batches = (
        Batch.objects.for_tenant(ctx)
        .select_related("product", "supplier")
        .annotate(on_hand=Sum("levels__on_hand", filter=held, default=Decimal(0)))
    )
    if product_id:
        batches = batches.filter(product_id=product_id)
    if expiring_before:
        batches = batches.filter(expiry_on__lt=expiring_before)
    if in_stock:
        batches = batches.filter(on_hand__gt=0)
    return batches.order_by("expiry_on", "id")


def batch_levels(ctx: Ctx, *, batch_id: uuid.UUID) -> list[StockLevel]:
    """Where a batch is held, and how much."""
    require_view(ctx)
    return list(
        StockLevel.objects.for_tenant(ctx)
        .select_related("location")
        .filter(batch_id=batch_id)
        .order_by("location__name")
    )


def movement_list(
    ctx: Ctx,
    *,
    location_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[StockMovement]:
    """The ledger, newest first, filtered."""
    require_view(ctx)
    movements = StockMovement.objects.for_tenant(ctx).select_related("location", "batch", "product", "actor")
    if location_id:
        movements = movements.filter(location_id=location_id)
    if product_id:
        movements = movements.filter(product_id=product_id)
    if batch_id:
        movements = movements.filter(batch_id=batch_id)
    if kind:
        movements = movements.filter(kind=kind)
    if since:
        movements = movements.filter(at__gte=since)
    if until:
        movements = movements.filter(at__lt=until)
    return movements.order_by("-at", "-id")


def supplier_list(ctx: Ctx, *, active_only: bool = False) -> QuerySet[Supplier]:
    require_view(ctx)
    suppliers = Supplier.objects.for_tenant(ctx)
    return suppliers.filter(is_active=True) if active_only else suppliers


def purchase_order_list(ctx: Ctx, *, status: str | None = None) -> QuerySet[PurchaseOrder]:
    require_view(ctx)
    orders = PurchaseOrder.objects.for_tenant(ctx).select_related("supplier", "location")
    return orders.filter(status=status) if status else orders


def alert_list(ctx: Ctx, *, status: str | None = AlertStatus.OPEN, kind: str | None = None) -> QuerySet[StockAlert]:
    require_view(ctx)
    alerts = StockAlert.objects.for_tenant(ctx).select_related("product", "location")
    if status:
        alerts = alerts.filter(status=status)
    if kind:
        alerts = alerts.filter(kind=kind)
    return alerts.order_by("-raised_at", "-id")


@dataclass(frozen=True)
class ValuationRow:
    product_id: uuid.UUID
    product_name: str
    location_id: uuid.UUID
    location_name: str
    on_hand: Decimal
    value: Decimal
    expired_value: Decimal


@dataclass(frozen=True)
class Valuation:
    rows: list[ValuationRow]
    total: Decimal
    expired_total: Decimal
    by_location: dict[uuid.UUID, Decimal]


def stock_valuation(ctx: Ctx, *, location_id: uuid.UUID | None = None) -> Valuation:
    """What the stock is worth at cost: on hand x the batch's unit cost, per product and location, by
    location and in total, from one grouped query. Expired stock is included, and also shown apart."""
    require_view(ctx)
    on = services.today(ctx)
    levels = StockLevel.objects.for_tenant(ctx).filter(on_hand__gt=0)
    if location_id:
        levels = levels.filter(location_id=location_id)
    worth = F("on_hand") * F("batch__unit_cost")
    grouped = (
        levels.values("product_id", "product__name", "location_id", "location__name")
        .annotate(
            held=Sum("on_hand"),
            value=Sum(worth, output_field=_VALUE),
            expired_value=Sum(Case(When(batch__expiry_on__lte=on, then=worth), default=Value(0), output_field=_VALUE)),
        )
        .order_by("location__name", "product__name", "product_id")
    )
    rows = [
        ValuationRow(
            product_id=g["product_id"],
            product_name=g["product__name"],
            location_id=g["location_id"],
            location_name=g["location__name"],
            on_hand=Decimal(g["held"]),
            value=Decimal(g["value"]).quantize(CENT),
            expired_value=Decimal(g["expired_value"] or 0).quantize(CENT),
        )
        for g in grouped
    ]
    by_location: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_location[row.location_id] += row.value
    return Valuation(
        rows=rows,
        total=sum((r.value for r in rows), Decimal(0)).quantize(CENT),
        expired_total=sum((r.expired_value for r in rows), Decimal(0)).quantize(CENT),
        by_location=dict(by_location),
    )


def ledger_balance(ctx: Ctx, *, location_id: uuid.UUID, batch_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    """(sum of the ledger, the balance row) for a batch at a location: they are always equal."""
    require_view(ctx)
    ledger = StockMovement.objects.for_tenant(ctx).filter(location_id=location_id, batch_id=batch_id)
    total = ledger.aggregate(total=Sum("quantity"))["total"] or Decimal(0)
    level = (
        StockLevel.objects.for_tenant(ctx)
        .filter(location_id=location_id, batch_id=batch_id)
        .values_list("on_hand", flat=True)
        .first()
    )
    return Decimal(total), Decimal(level or 0)


def earliest_expiry(ctx: Ctx, *, location_id: uuid.UUID, product_id: uuid.UUID) -> dt.date | None:
    require_view(ctx)
    return (
        StockLevel.objects.for_tenant(ctx)
        .filter(location_id=location_id, product_id=product_id, on_hand__gt=0)
        .aggregate(first=Min("batch__expiry_on"))["first"]
    )
