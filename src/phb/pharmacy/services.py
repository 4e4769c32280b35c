"""Every write of pharmacy stock: locations, products (mapped to the drug catalogue), reorder levels,
suppliers, and the stock ledger's movements — receiving a batch, adjusting with a reason, transferring
between locations, returning to stock, and writing off expired or damaged stock.

The ledger and the balance move together: `_move` appends the movement and changes the batch's
`StockLevel` at the location in the caller's transaction. A decrease is one conditional UPDATE
(`on_hand = on_hand + q WHERE on_hand >= -q`): PostgreSQL re-checks the condition on the row's latest
version after waiting for a concurrent writer, so two withdrawals can never both take the last units
and no update is lost; the CHECK (on_hand >= 0) is the last wall. A refused decrease raises
INSUFFICIENT_STOCK and rolls the whole service back: nothing is half-written.

Each service checks the permission first (a refusal audited outside any transaction), validates
before writing, and writes and audits in one transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.ids import uuid7
from phb.kernel.models import Organization
from phb.organizations.models import Department, DepartmentKind
from phb.pharmacy import catalogue, policies
from phb.pharmacy.models import (
    Batch,
    LocationKind,
    MovementKind,
    Product,
    ReorderLevel,
    StockLevel,
    StockLocation,
    StockMovement,
    Supplier,
)

MAX_QUANTITY = Decimal("999999999")
REASON_MAX_CHARS = 300
_THOUSANDTH = Decimal("0.001")


# --------------------------------------------------------------------------------------------------
# Shared checks
# --------------------------------------------------------------------------------------------------


def require(ctx: Ctx, action: str, allowed: bool, what: str) -> None:
    """Raise an audited Forbidden unless `allowed`. Called before any transaction opens, so that the
    refusal's audit row is not rolled back with it."""
    if not allowed:
        raise audit.denied(ctx, action, Forbidden(f"{what} needs a pharmacy role"))


def require_manage(ctx: Ctx, action: str) -> None:
    require(ctx, action, policies.can_manage_stock(ctx), "managing stock")


def today(ctx: Ctx) -> dt.date:
    """Today in the organization's time zone: a batch whose expiry date is today is expired."""
    zone = Organization.objects.for_tenant(ctx).values_list("timezone", flat=True).first() or "UTC"
    return timezone.now().astimezone(ZoneInfo(zone)).date()


def is_expired(batch: Batch, on: dt.date) -> bool:
    """A batch is no longer usable on its expiry date: it is dispensed, transferred and returned to
    stock only before it."""
    return batch.expiry_on <= on


def parse_quantity(field: str, value: Any, *, signed: bool = False) -> Decimal:
    """A quantity in units of issue: positive (or, when `signed`, non-zero), at most three decimals."""
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed.field(field, "not a number", code="invalid_quantity") from None
    if not q.is_finite() or q != q.quantize(_THOUSANDTH) or abs(q) > MAX_QUANTITY:
        raise ValidationFailed.field(field, "at most three decimals and nine digits", code="invalid_quantity")
    if q == 0 or (q < 0 and not signed):
        raise ValidationFailed.field(field, "must be more than zero", code="invalid_quantity")
    return q


def parse_money(field: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed.field(field, "not an amount", code="invalid_amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e8") or amount != amount.quantize(Decimal("0.0001")):
        raise ValidationFailed.field(field, "an amount of at most four decimals, not negative", code="invalid_amount")
    return amount


def reason_text(value: str, *, required: bool) -> str:
    reason = (value or "").strip()
    if required and not reason:
        raise ValidationFailed(
            "say why",
            code="REASON_REQUIRED",
            errors=[{"field": "reason", "message": "say why", "code": "REASON_REQUIRED"}],
        )
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationFailed.field("reason", f"at most {REASON_MAX_CHARS} characters", code="too_long")
    return reason


def _text(field: str, value: Any, *, limit: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationFailed.field(field, "required", code="required")
    if len(text) > limit:
        raise ValidationFailed.field(field, f"at most {limit} characters", code="too_long")
    return text


# SECURITY: the lookups below are the only way services reach a row by id: through `for_tenant(ctx)`,
# so another organization's id is "not found", never "forbidden".


def location_get(ctx: Ctx, location_id: uuid.UUID | None, *, active: bool = True) -> StockLocation:
    location = StockLocation.objects.for_tenant(ctx).filter(id=location_id).first() if location_id else None
    if location is None:
        raise NotFound("no such stock location here", code="LOCATION_NOT_FOUND")
    if active and not location.is_active:
        raise Conflict("this stock location is closed", code="LOCATION_INACTIVE")
    return location


def product_get(ctx: Ctx, product_id: uuid.UUID | None) -> Product:
    product = Product.objects.for_tenant(ctx).filter(id=product_id).first() if product_id else None
    if product is None:
        raise NotFound("no such product here", code="PRODUCT_NOT_FOUND")
    return product


def batch_get(ctx: Ctx, batch_id: uuid.UUID | None) -> Batch:
    batch = Batch.objects.for_tenant(ctx).select_related("product").filter(id=batch_id).first() if batch_id else None
    if batch is None:
        raise NotFound("no such batch here", code="BATCH_NOT_FOUND")
    return batch


def supplier_get(ctx: Ctx, supplier_id: uuid.UUID | None) -> Supplier:
    supplier = Supplier.objects.for_tenant(ctx).filter(id=supplier_id).first() if supplier_id else None
    if supplier is None:
        raise NotFound("no such supplier here", code="SUPPLIER_NOT_FOUND")
    return supplier


def _resolve(ctx: Ctx, action: str, lookup: Any, *args: Any, **kwargs: Any) -> Any:
    """A lookup whose "not found" is audited (outside any transaction)."""
    try:
        return lookup(ctx, *args, **kwargs)
    except NotFound as exc:
        raise audit.denied(ctx, action, exc) from None


# --------------------------------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------------------------------


def _move(
    ctx: Ctx,
    *,
    location: StockLocation,
    batch: Batch,
    kind: str,
    quantity: Decimal,
    reason: str = "",
    at: dt.datetime | None = None,
    **reference: Any,
) -> StockMovement:
    """Append one movement and apply it to the balance, in the caller's transaction (which must be
    open). Raises Conflict INSUFFICIENT_STOCK when a decrease would take the balance below zero."""
    assert transaction.get_connection().in_atomic_block, "a stock movement needs the caller's transaction"
    levels = StockLevel.objects.for_tenant(ctx).filter(location=location, batch=batch)
    if quantity < 0:
        # SECURITY: the conditional decrease; see the module's docstring.
        changed = levels.filter(on_hand__gte=-quantity).update(
            on_hand=F("on_hand") + quantity, updated_at=timezone.now()
        )
        if not changed:
            available = levels.values_list("on_hand", flat=True).first() or Decimal(0)
            raise Conflict(
                f"only {available.normalize():f} of batch {batch.lot_number} at {location.name}",
                code="INSUFFICIENT_STOCK",
                batch_id=str(batch.id),
                available=str(available),
            )
    elif not levels.update(on_hand=F("on_hand") + quantity, updated_at=timezone.now()):
        try:
            with transaction.atomic():
                StockLevel.objects.create(
                    organization_id=ctx.organization_id,
                    location=location,
                    batch=batch,
                    product_id=batch.product_id,
                    on_hand=quantity,
                )
        except IntegrityError:  # created meanwhile by a concurrent receipt: add to it
            levels.update(on_hand=F("on_hand") + quantity, updated_at=timezone.now())
    return StockMovement.objects.create(
        organization_id=ctx.organization_id,
        location=location,
        batch=batch,
        product_id=batch.product_id,
        kind=kind,
        quantity=quantity,
        reason=reason,
        actor_id=ctx.actor_id,
        at=at or timezone.now(),
        **reference,
    )


def _audit_movement(ctx: Ctx, action: str, movement: StockMovement, **detail: Any) -> None:
    audit.record(
        ctx,
        action,
        target=movement,
        location=str(movement.location_id),
        batch=str(movement.batch_id),
        product=str(movement.product_id),
        quantity=str(movement.quantity),
        **detail,
    )


# --------------------------------------------------------------------------------------------------
# Locations, products, reorder levels, suppliers
# --------------------------------------------------------------------------------------------------


def _pharmacy_department(ctx: Ctx, department_id: uuid.UUID | None) -> uuid.UUID | None:
    if department_id is None:
        return None
    department = Department.objects.for_tenant(ctx).filter(id=department_id).first()
    if department is None or department.kind != DepartmentKind.PHARMACY:
        raise ValidationFailed.field("department_id", "not a pharmacy department here", code="not_a_pharmacy")
    return department.id


def location_create(
    *, ctx: Ctx, name: str, kind: str = LocationKind.MAIN_PHARMACY, department_id: uuid.UUID | None = None
) -> StockLocation:
    """A place stock is kept; a pharmacy may name its organizations.Department (kind pharmacy)."""
    action = "pharmacy.location.create"
    require_manage(ctx, action)
    name = _text("name", name, limit=120, required=True)
    if kind not in LocationKind.values:
        raise ValidationFailed.field("kind", "not a kind of stock location", code="invalid_choice")
    department = _pharmacy_department(ctx, department_id)
    with transaction.atomic():
        if StockLocation.objects.for_tenant(ctx).filter(name__iexact=name).exists():
            raise Conflict("a stock location already has this name", code="LOCATION_NAME_TAKEN")
        location = StockLocation.objects.create(
            organization_id=ctx.organization_id, name=name, kind=kind, department_id=department
        )
        audit.record(ctx, action, target=location, kind=kind)
    return location


def location_update(
    *,
    ctx: Ctx,
    location_id: uuid.UUID,
    name: str | None = None,
    kind: str | None = None,
    department_id: uuid.UUID | object | None = ...,
    is_active: bool | None = None,
) -> StockLocation:
    action = "pharmacy.location.update"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id, active=False)
    changed: dict[str, Any] = {}
    if name is not None:
        changed["name"] = _text("name", name, limit=120, required=True)
    if kind is not None:
        if kind not in LocationKind.values:
            raise ValidationFailed.field("kind", "not a kind of stock location", code="invalid_choice")
        changed["kind"] = kind
    if department_id is not ...:
        changed["department_id"] = _pharmacy_department(ctx, department_id)  # type: ignore[arg-type]
    if is_active is not None:
        changed["is_active"] = bool(is_active)
    with transaction.atomic():
        if (
            "name" in changed
            and StockLocation.objects.for_tenant(ctx)
            .filter(name__iexact=changed["name"])
            .exclude(id=location.id)
            .exists()
        ):
            raise Conflict("a stock location already has this name", code="LOCATION_NAME_TAKEN")
        for field, value in changed.items():
            setattr(location, field, value)
        location.save()
        audit.record(ctx, action, target=location, fields=sorted(changed))
    return location


PRODUCT_TEXT = {
    "name": 200,
    "brand": 120,
    "form": 60,
    "strength": 60,
    "unit_of_issue": 30,
    "manufacturer": 120,
}


def _gtin(value: str) -> str:
    """A GTIN-8/12/13/14 with a valid check digit, or empty."""
    gtin = (value or "").strip()
    if not gtin:
        return ""
    if not gtin.isdigit() or len(gtin) not in (8, 12, 13, 14):
        raise ValidationFailed.field("gtin", "a GTIN has 8, 12, 13 or 14 digits", code="invalid_gtin")
    digits = [int(c) for c in gtin]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    if (10 - total % 10) % 10 != digits[-1]:
        raise ValidationFailed.field("gtin", "the check digit is wrong", code="invalid_gtin")
    return gtin


def _product_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, limit in PRODUCT_TEXT.items():
        if field in values and values[field] is not None:
            out[field] = _text(field, values[field], limit=limit, required=field in ("name", "unit_of_issue"))
    if values.get("gtin") is not None:
        out["gtin"] = _gtin(values["gtin"])
    if values.get("pack_size") is not None:
        try:
            pack = int(values["pack_size"])
        except (TypeError, ValueError):
            pack = 0
        if not 1 <= pack <= 100_000:
            raise ValidationFailed.field("pack_size", "between 1 and 100000", code="invalid_pack_size")
        out["pack_size"] = pack
    if values.get("is_active") is not None:
        out["is_active"] = bool(values["is_active"])
    return out


def product_create(
    *,
    ctx: Ctx,
    drug_code: str,
    name: str,
    unit_of_issue: str = "unit",
    brand: str = "",
    form: str = "",
    strength: str = "",
    pack_size: int = 1,
    gtin: str = "",
    manufacturer: str = "",
) -> Product:
    """A local product mapped to a generic of the drug catalogue; `controlled` is the drug's."""
    action = "pharmacy.product.create"
    require_manage(ctx, action)
    drug = catalogue.drug_of(drug_code)
    fields = _product_fields(
        {
            "name": name,
            "brand": brand,
            "form": form,
            "strength": strength,
            "unit_of_issue": unit_of_issue,
            "manufacturer": manufacturer,
            "gtin": gtin,
            "pack_size": pack_size,
        }
    )
    with transaction.atomic():
        if fields["gtin"] and Product.objects.for_tenant(ctx).filter(gtin=fields["gtin"]).exists():
            raise Conflict("another product has this GTIN", code="GTIN_TAKEN")
        product = Product.objects.create(
            organization_id=ctx.organization_id,
            drug_code=drug.code,
            drug_name=drug.name,
            controlled=drug.controlled,
            **fields,
        )
        audit.record(ctx, action, target=product, drug_code=drug.code, controlled=drug.controlled)
    return product


def product_update(*, ctx: Ctx, product_id: uuid.UUID, **values: Any) -> Product:
    """Change a product's description (not its drug: a product mapped wrongly is retired and made
    again, so that its ledger keeps meaning what it meant)."""
    action = "pharmacy.product.update"
    require_manage(ctx, action)
    product = _resolve(ctx, action, product_get, product_id)
    unknown = set(values) - set(PRODUCT_TEXT) - {"gtin", "pack_size", "is_active"}
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "cannot be changed", code="read_only")
    fields = _product_fields(values)
    with transaction.atomic():
        if (
            fields.get("gtin")
            and Product.objects.for_tenant(ctx).filter(gtin=fields["gtin"]).exclude(id=product.id).exists()
        ):
            raise Conflict("another product has this GTIN", code="GTIN_TAKEN")
        for field, value in fields.items():
            setattr(product, field, value)
        product.save()
        audit.record(ctx, action, target=product, fields=sorted(fields))
    return product


def reorder_level_set(*, ctx: Ctx, product_id: uuid.UUID, location_id: uuid.UUID, level: Any) -> ReorderLevel | None:
    """Set a product's reorder level at a location; zero removes it (no low-stock alert there)."""
    action = "pharmacy.reorder_level.set"
    require_manage(ctx, action)
    product = _resolve(ctx, action, product_get, product_id)
    location = _resolve(ctx, action, location_get, location_id, active=False)
    try:
        value = Decimal(str(level))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationFailed.field("level", "not a number", code="invalid_quantity") from None
    if not value.is_finite() or value < 0 or value > MAX_QUANTITY or value != value.quantize(_THOUSANDTH):
        raise ValidationFailed.field("level", "zero or more, at most three decimals", code="invalid_quantity")
    with transaction.atomic():
        existing = ReorderLevel.objects.for_tenant(ctx).select_for_update().filter(product=product, location=location)
        if value == 0:
            existing.delete()
            row = None
        else:
            row, _ = ReorderLevel.objects.for_tenant(ctx).update_or_create(
                product=product,
                location=location,
                defaults={"level": value},
                create_defaults={"organization_id": ctx.organization_id, "level": value},
            )
        audit.record(
            ctx,
            action,
            resource_type="pharmacy.ReorderLevel",
            resource_id=row.id if row else "",
            product=str(product.id),
            location=str(location.id),
            level=str(value),
        )
    return row


SUPPLIER_TEXT = {"name": 160, "contact_name": 120, "phone": 30, "email": 254, "address": 300}


def _supplier_fields(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, limit in SUPPLIER_TEXT.items():
        if values.get(field) is not None:
            out[field] = _text(field, values[field], limit=limit, required=field == "name")
    if out.get("email") and ("@" not in out["email"] or " " in out["email"]):
        raise ValidationFailed.field("email", "not an email address", code="invalid_email")
    if values.get("is_active") is not None:
        out["is_active"] = bool(values["is_active"])
    return out


def supplier_create(
    *, ctx: Ctx, name: str, contact_name: str = "", phone: str = "", email: str = "", address: str = ""
) -> Supplier:
    action = "pharmacy.supplier.create"
    require_manage(ctx, action)
    fields = _supplier_fields(
        {"name": name, "contact_name": contact_name, "phone": phone, "email": email, "address": address}
    )
    with transaction.atomic():
        if Supplier.objects.for_tenant(ctx).filter(name__iexact=fields["name"]).exists():
            raise Conflict("a supplier already has this name", code="SUPPLIER_NAME_TAKEN")
        supplier = Supplier.objects.create(organization_id=ctx.organization_id, **fields)
        audit.record(ctx, action, target=supplier)
    return supplier


def supplier_update(*, ctx: Ctx, supplier_id: uuid.UUID, **values: Any) -> Supplier:
    action = "pharmacy.supplier.update"
    require_manage(ctx, action)
    supplier = _resolve(ctx, action, supplier_get, supplier_id)
    unknown = set(values) - set(SUPPLIER_TEXT) - {"is_active"}
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "cannot be changed", code="read_only")
    fields = _supplier_fields(values)
    with transaction.atomic():
        if (
            fields.get("name")
            and Supplier.objects.for_tenant(ctx).filter(name__iexact=fields["name"]).exclude(id=supplier.id).exists()
        ):
            raise Conflict("a supplier already has this name", code="SUPPLIER_NAME_TAKEN")
        for field, value in fields.items():
            setattr(supplier, field, value)
        supplier.save()
        audit.record(ctx, action, target=supplier, fields=sorted(fields))
    return supplier


# --------------------------------------------------------------------------------------------------
# Receiving, adjusting, transferring, returning, writing off
# --------------------------------------------------------------------------------------------------


def batch_for_receipt(
    ctx: Ctx,
    *,
    product: Product,
    lot_number: str,
    expiry_on: dt.date,
    unit_cost: Decimal,
    supplier: Supplier | None,
    on: dt.date,
) -> Batch:
    """The batch a delivery's lot goes to: the product's batch of that lot when it has one (same
    expiry, or BATCH_MISMATCH), else a new one. In the caller's transaction."""
    if expiry_on <= on:
        raise ValidationFailed(
            "this batch has expired: it cannot be received into stock",
            code="BATCH_EXPIRED",
            errors=[{"field": "expiry_on", "message": "the expiry date has passed", "code": "BATCH_EXPIRED"}],
        )
    batches = Batch.objects.for_tenant(ctx).filter(product=product, lot_number=lot_number)
    batch = batches.first()
    if batch is None:
        try:
            with transaction.atomic():
                batch = Batch.objects.create(
                    organization_id=ctx.organization_id,
                    product=product,
                    lot_number=lot_number,
                    expiry_on=expiry_on,
                    unit_cost=unit_cost,
                    supplier=supplier,
                )
        except IntegrityError:  # the same lot received at the same moment elsewhere
            batch = batches.get()
    if batch.expiry_on != expiry_on:
        raise Conflict(
            f"lot {lot_number} of this product is recorded with the expiry {batch.expiry_on:%Y-%m-%d}",
            code="BATCH_MISMATCH",
            batch_id=str(batch.id),
        )
    return batch


def _lot(value: str) -> str:
    return _text("lot_number", value, limit=60, required=True)


def stock_receive(
    *,
    ctx: Ctx,
    location_id: uuid.UUID,
    product_id: uuid.UUID,
    lot_number: str,
    expiry_on: dt.date,
    quantity: Any,
    unit_cost: Any,
    supplier_id: uuid.UUID | None = None,
    reason: str = "",
) -> StockMovement:
    """Receive a delivery that came without a purchase order (or a donation): a batch and its receipt."""
    action = "pharmacy.stock.receive"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id)
    product = _resolve(ctx, action, product_get, product_id)
    supplier = _resolve(ctx, action, supplier_get, supplier_id) if supplier_id else None
    amount = parse_quantity("quantity", quantity)
    cost = parse_money("unit_cost", unit_cost)
    lot = _lot(lot_number)
    reason = reason_text(reason, required=False)
    if not product.is_active:
        raise Conflict("this product is retired", code="PRODUCT_INACTIVE")
    with transaction.atomic():
        batch = batch_for_receipt(
            ctx, product=product, lot_number=lot, expiry_on=expiry_on, unit_cost=cost, supplier=supplier, on=today(ctx)
        )
        movement = _move(ctx, location=location, batch=batch, kind=MovementKind.RECEIVE, quantity=amount, reason=reason)
        _audit_movement(ctx, action, movement, supplier=str(supplier.id) if supplier else "")
    return movement


def stock_adjust(*, ctx: Ctx, location_id: uuid.UUID, batch_id: uuid.UUID, quantity: Any, reason: str) -> StockMovement:
    """Correct the balance of a batch at a location (a count, a breakage found, ...): a signed
    quantity and a reason. It never takes the balance below zero."""
    action = "pharmacy.stock.adjust"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id)
    batch = _resolve(ctx, action, batch_get, batch_id)
    amount = parse_quantity("quantity", quantity, signed=True)
    reason = reason_text(reason, required=True)
    with transaction.atomic():
        movement = _move(ctx, location=location, batch=batch, kind=MovementKind.ADJUST, quantity=amount, reason=reason)
        _audit_movement(ctx, action, movement, reason=reason)
    return movement


def stock_transfer(
    *,
    ctx: Ctx,
    from_location_id: uuid.UUID,
    to_location_id: uuid.UUID,
    batch_id: uuid.UUID,
    quantity: Any,
    reason: str = "",
) -> tuple[StockMovement, StockMovement]:
    """Move units of a batch from one location to another: two movements sharing a transfer id, in
    one transaction (both or neither). An expired batch is written off where it is, not moved."""
    action = "pharmacy.stock.transfer"
    require_manage(ctx, action)
    source = _resolve(ctx, action, location_get, from_location_id)
    target = _resolve(ctx, action, location_get, to_location_id)
    batch = _resolve(ctx, action, batch_get, batch_id)
    amount = parse_quantity("quantity", quantity)
    reason = reason_text(reason, required=False)
    if source.id == target.id:
        raise ValidationFailed.field("to_location_id", "the same location", code="SAME_LOCATION")
    if is_expired(batch, today(ctx)):
        raise Conflict("this batch has expired: write it off instead", code="BATCH_EXPIRED", batch_id=str(batch.id))
    transfer_id = uuid7()
    now = timezone.now()
    moves = {
        source.id: {"location": source, "kind": MovementKind.TRANSFER_OUT, "quantity": -amount},
        target.id: {"location": target, "kind": MovementKind.TRANSFER_IN, "quantity": amount},
    }
    made: dict[uuid.UUID, StockMovement] = {}
    with transaction.atomic():
        # In location-id order, whichever way the units go: two opposite transfers of one batch lock its
        # two balances in the same order and never deadlock. A short source fails either way, and
        # rolls the other movement back with it.
        for location_id in sorted(moves):
            made[location_id] = _move(
                ctx, batch=batch, reason=reason, transfer_id=transfer_id, at=now, **moves[location_id]
            )
        out, into = made[source.id], made[target.id]
        _audit_movement(ctx, action, out, to_location=str(target.id), transfer_id=str(transfer_id))
    return out, into


def stock_return(
    *,
    ctx: Ctx,
    location_id: uuid.UUID,
    batch_id: uuid.UUID,
    quantity: Any,
    reason: str = "",
    dispensing_id: uuid.UUID | None = None,
) -> StockMovement:
    """Units come back into stock (a patient's unopened return, a ward's surplus). Only of a batch
    still in date; a return of a dispensing must not exceed what it handed out of that batch."""
    from phb.pharmacy.models import Dispensing, DispensingLine

    action = "pharmacy.stock.return"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id)
    batch = _resolve(ctx, action, batch_get, batch_id)
    amount = parse_quantity("quantity", quantity)
    reason = reason_text(reason, required=False)
    if is_expired(batch, today(ctx)):
        raise Conflict("this batch has expired: it cannot go back into stock", code="BATCH_EXPIRED")
    with transaction.atomic():
        reference: dict[str, Any] = {}
        if dispensing_id is not None:
            dispensing = Dispensing.objects.for_tenant(ctx).select_for_update().filter(id=dispensing_id).first()
            if dispensing is None:
                raise NotFound("no such dispensing here", code="DISPENSING_NOT_FOUND")
            handed = sum(
                DispensingLine.objects.for_tenant(ctx)
                .filter(dispensing=dispensing, batch=batch)
                .values_list("quantity", flat=True),
                Decimal(0),
            )
            returned = sum(
                StockMovement.objects.for_tenant(ctx)
                .filter(dispensing=dispensing, batch=batch, kind=MovementKind.RETURN)
                .values_list("quantity", flat=True),
                Decimal(0),
            )
            if amount > handed - returned:
                raise Conflict("more than this dispensing handed out of this batch", code="OVER_RETURNED")
            reference["dispensing"] = dispensing
        movement = _move(
            ctx, location=location, batch=batch, kind=MovementKind.RETURN, quantity=amount, reason=reason, **reference
        )
        _audit_movement(ctx, action, movement)
    return movement


def stock_destroy(
    *, ctx: Ctx, location_id: uuid.UUID, batch_id: uuid.UUID, quantity: Any | None = None, reason: str
) -> StockMovement:
    """Write off units of a batch (damaged, recalled, expired) with a reason; by default all of it."""
    action = "pharmacy.stock.destroy"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id, active=False)
    batch = _resolve(ctx, action, batch_get, batch_id)
    reason = reason_text(reason, required=True)
    amount = None if quantity in (None, "") else parse_quantity("quantity", quantity)
    with transaction.atomic():
        if amount is None:
            amount = (
                StockLevel.objects.for_tenant(ctx)
                .select_for_update()
                .filter(location=location, batch=batch)
                .values_list("on_hand", flat=True)
                .first()
            ) or Decimal(0)
            if amount <= 0:
                raise Conflict("none of this batch is held here", code="INSUFFICIENT_STOCK", available="0")
        kind = MovementKind.EXPIRE if is_expired(batch, today(ctx)) else MovementKind.DESTROY
        movement = _move(ctx, location=location, batch=batch, kind=kind, quantity=-amount, reason=reason)
        _audit_movement(ctx, action, movement, reason=reason)
    return movement


def stock_expire(*, ctx: Ctx, location_id: uuid.UUID, reason: str = "") -> list[StockMovement]:
    """Write off everything expired held at a location, one `expire` movement per batch."""
    action = "pharmacy.stock.expire"
    require_manage(ctx, action)
    location = _resolve(ctx, action, location_get, location_id, active=False)
    on = today(ctx)
    reason = reason_text(reason, required=False) or "expired"
    movements = []
    with transaction.atomic():
        levels = list(
            StockLevel.objects.for_tenant(ctx)
            .select_for_update(of=("self",))
            .select_related("batch")
            .filter(location=location, on_hand__gt=0, batch__expiry_on__lte=on)
            .order_by("id")  # the order every writer locks balances in
        )
        for level in levels:
            movement = _move(
                ctx,
                location=location,
                batch=level.batch,
                kind=MovementKind.EXPIRE,
                quantity=-level.on_hand,
                reason=reason,
            )
            _audit_movement(ctx, action, movement, reason=reason)
            movements.append(movement)
    return movements
