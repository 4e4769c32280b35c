"""Dispensing a signed prescription from a stock location: the worklist, the first-expiry-first-out
proposal per item, and the dispensing itself, with its labels.

A prescription item is matched to the organization's active products of its drug (the catalogue's
code for the item's coding, or its name), and to their form and strength where a product states
them. Its batches at the location are offered earliest expiry first; an expired batch (on or after its
expiry date) never is. By default each item gets what remains to dispense or what is in stock, if less
(partial dispensing: the rest stays to dispense); the pharmacist may ask for other quantities, which
must then be in stock (INSUFFICIENT_STOCK otherwise).

`prescription_dispense` runs in one transaction: it plans what each item gets from an unlocked read,
has the prescription record it (`medications.public.prescription_record_dispensing`, which locks the
prescription, refuses more than remains and moves its status), records the dispensing, its audit and
its event, and only then locks the candidate balances (in id order: concurrent dispensings never
deadlock), checks they still hold the plan, and appends the dispense movements and the lines. When
another writer took that stock in between, the attempt is rolled back whole and made again from a
fresh read; any refusal rolls everything back. Locking the stock last keeps the time a balance is
held locked short: concurrent dispensings from one batch queue only for the movements' writes. The
patient is told their medicines are ready after the commit, through the outbox."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.medications.public import (
    DispensableItem,
    DispensablePrescription,
    prescription_record_dispensing,
    prescription_to_dispense,
    prescriptions_to_dispense,
)
from phb.notifications.services import Recipient, notify
from phb.pharmacy import policies, services
from phb.pharmacy.events import MedicinesDispensed
from phb.pharmacy.models import (
    Batch,
    Dispensing,
    DispensingLine,
    LocationKind,
    MovementKind,
    Product,
    StockLevel,
    StockLocation,
)
from phb.terminology.public import drug_for_coding, drug_for_text

log = structlog.get_logger("phb.pharmacy")
READY_TEMPLATE = "pharmacy.prescription_ready"


def _require_dispense(ctx: Ctx, action: str, **detail: Any) -> None:
    if not policies.can_dispense(ctx):
        raise audit.denied(ctx, action, Forbidden("dispensing needs the can-dispense capability"), **detail)


# --------------------------------------------------------------------------------------------------
# Matching an item to products, and the first-expiry-first-out proposal
# --------------------------------------------------------------------------------------------------


def _norm(value: str) -> str:
    """Forms and strengths compared without case or spaces: "500 mg" is "500mg"."""
    return re.sub(r"\s+", "", (value or "").lower())


def drug_code_of(item: DispensableItem) -> str:
    """The catalogue's code for the item's drug: its coding when the catalogue knows it, else its name."""
    drug = drug_for_coding(item.drug) or drug_for_text(item.drug_name or item.drug.display or "")
    return drug.code if drug is not None else item.drug.code


def matching_products(ctx: Ctx, item: DispensableItem) -> list[Product]:
    """The active products that may be dispensed for `item`."""
    candidates = Product.objects.for_tenant(ctx).filter(drug_code=drug_code_of(item), is_active=True)
    return [
        p
        for p in candidates
        if (not p.form or _norm(p.form) == _norm(item.form))
        and (not p.strength or _norm(p.strength) == _norm(item.strength))
    ]


def _usable_levels(
    ctx: Ctx, location: StockLocation, product_ids: list[uuid.UUID], *, lock: bool, on: dt.date | None = None
) -> list[StockLevel]:
    """The balances of in-date batches of `product_ids` held at `location`, first expiry first. With
    `lock`, they are locked in id order (one order for every dispensing: no deadlock); PostgreSQL
    re-reads a row it waited for and re-checks `on_hand > 0` on what the other writer left."""
    levels = (
        StockLevel.objects.for_tenant(ctx)
        .select_related("batch", "product")
        .filter(
            location=location, product_id__in=product_ids, on_hand__gt=0, batch__expiry_on__gt=on or services.today(ctx)
        )
    )
    if lock:
        levels = levels.select_for_update(of=("self",)).order_by("id")
    return sorted(levels, key=lambda r: (r.batch.expiry_on, r.batch.created_at, r.batch_id))


def _allocate(levels: list[StockLevel], wanted: Decimal) -> list[tuple[StockLevel, Decimal]]:
    """First expiry first out: take from each batch in turn until `wanted` is met or stock runs out."""
    out = []
    for level in levels:
        if wanted <= 0:
            break
        take = min(level.on_hand, wanted)
        out.append((level, take))
        wanted -= take
    return out


@dataclass(frozen=True)
class BatchOffer:
    batch_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    lot_number: str
    expiry_on: Any
    on_hand: Decimal
    take: Decimal


@dataclass(frozen=True)
class ItemProposal:
    item: DispensableItem
    remaining: Decimal
    available: Decimal  # in date, at the location, of the matching products
    proposed: Decimal  # what dispensing now would hand out by default
    batches: tuple[BatchOffer, ...]
    problem: str  # "" | "no_product" | "out_of_stock" | "done"


@dataclass(frozen=True)
class Proposal:
    prescription: DispensablePrescription
    location: StockLocation
    items: tuple[ItemProposal, ...]
    may_dispense_here: bool

    @property
    def anything_to_dispense(self) -> bool:
        return self.may_dispense_here and any(i.proposed > 0 for i in self.items)


def _may_dispense_at(prescription: DispensablePrescription, location: StockLocation) -> bool:
    """At the nominated pharmacy, or at a main (hospital) pharmacy; anywhere when none is nominated."""
    return (
        prescription.pharmacy_department_id is None
        or location.department_id == prescription.pharmacy_department_id
        or location.kind == LocationKind.MAIN_PHARMACY
    )


def _propose(ctx: Ctx, prescription: DispensablePrescription, location: StockLocation) -> tuple[ItemProposal, ...]:
    out, on = [], services.today(ctx)
    for item in prescription.items:
        remaining = item.quantity - item.quantity_dispensed
        products = matching_products(ctx, item)
        levels = _usable_levels(ctx, location, [p.id for p in products], lock=False, on=on) if products else []
        available = sum((lv.on_hand for lv in levels), Decimal(0))
        takes = dict((lv.id, take) for lv, take in _allocate(levels, remaining))
        offers = tuple(
            BatchOffer(
                batch_id=lv.batch_id,
                product_id=lv.product_id,
                product_name=lv.product.name,
                lot_number=lv.batch.lot_number,
                expiry_on=lv.batch.expiry_on,
                on_hand=lv.on_hand,
                take=takes.get(lv.id, Decimal(0)),
            )
            for lv in levels
        )
        problem = (
            "done" if remaining <= 0 else "no_product" if not products else "out_of_stock" if available <= 0 else ""
        )
        out.append(
            ItemProposal(
                item=item,
                remaining=remaining,
                available=available,
                proposed=min(max(remaining, Decimal(0)), available),
                batches=offers,
                problem=problem,
            )
        )
    return tuple(out)


@audit.reads_health_data
def worklist(ctx: Ctx, *, location_id: uuid.UUID) -> list[DispensablePrescription]:
    """The prescriptions to dispense at a location: those nominated to its pharmacy department and
    those nominated nowhere; at a location linked to no department, all of them. Audited (by the
    prescriptions' reader, and here when refused)."""
    action = "pharmacy.worklist.read"
    _require_dispense(ctx, action)
    location = services._resolve(ctx, action, services.location_get, location_id, active=False)
    return prescriptions_to_dispense(ctx=ctx, pharmacy_department_id=location.department_id)


@audit.reads_health_data
def dispensing_proposal(ctx: Ctx, *, prescription_id: uuid.UUID, location_id: uuid.UUID) -> Proposal:
    """A prescription to dispense with, per item, its in-date batches at the location earliest expiry
    first and what dispensing now would take of each. Audited (the prescription's read)."""
    action = "pharmacy.dispensing.propose"
    _require_dispense(ctx, action, resource_id=str(prescription_id))
    location = services._resolve(ctx, action, services.location_get, location_id, active=False)
    prescription = prescription_to_dispense(ctx=ctx, prescription_id=prescription_id)
    return Proposal(
        prescription=prescription,
        location=location,
        items=_propose(ctx, prescription, location),
        may_dispense_here=_may_dispense_at(prescription, location),
    )


# --------------------------------------------------------------------------------------------------
# Dispensing
# --------------------------------------------------------------------------------------------------


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _wanted(
    prescription: DispensablePrescription, quantities: Mapping[Any, Any] | None
) -> dict[uuid.UUID, Decimal | None]:
    """Item id → the quantity asked for (None: what remains, or what is in stock if less)."""
    items = {i.item_id: i for i in prescription.items}
    if quantities is None:
        return {i.item_id: None for i in prescription.items if i.quantity > i.quantity_dispensed}
    out: dict[uuid.UUID, Decimal | None] = {}
    errors = []
    for key, raw in quantities.items():
        item = items.get(_as_uuid(key))  # type: ignore[arg-type]
        if item is None:
            raise ValidationFailed(
                "An item is not part of this prescription.",
                code="UNKNOWN_ITEM",
                errors=[
                    {"field": str(key)[:60], "message": "not an item of this prescription", "code": "UNKNOWN_ITEM"}
                ],
            )
        if raw is None or str(raw).strip() in ("", "0") or _is_zero(raw):
            continue  # not this item now
        amount = services.parse_quantity(str(item.item_id), raw)
        remaining = item.quantity - item.quantity_dispensed
        if amount > remaining:
            errors.append(
                {
                    "field": str(item.item_id),
                    "message": f"{remaining.normalize():f} {item.quantity_unit} remain to dispense",
                    "code": "OVER_DISPENSED",
                }
            )
        out[item.item_id] = amount
    if errors:
        raise ValidationFailed("A quantity is more than remains to dispense.", code="OVER_DISPENSED", errors=errors)
    if not out:
        raise ValidationFailed.field("quantities", "dispense at least one item", code="NOTHING_TO_DISPENSE")
    return out


def _is_zero(raw: Any) -> bool:
    try:
        return Decimal(str(raw)) == 0
    except ArithmeticError:
        return False


class _StockMoved(Exception):
    """Between the plan (read without a lock) and the lock, another writer took stock the plan counted
    on: the attempt is rolled back whole and made again from a fresh read."""


def _plan(
    items: dict[uuid.UUID, DispensableItem],
    wanted: dict[uuid.UUID, Decimal | None],
    products: dict[uuid.UUID, list[Product]],
    levels: list[StockLevel],
) -> dict[uuid.UUID, Decimal]:
    """Item id → what to hand out of it, from what `levels` hold (first expiry first, shared between
    the items): an asked quantity, or what remains to dispense if less is not in stock."""
    left = {lv.id: lv.on_hand for lv in levels}
    totals: dict[uuid.UUID, Decimal] = {}
    for item_id, asked in wanted.items():
        item = items[item_id]
        mine = {p.id for p in products[item_id]}
        available = sum((left[lv.id] for lv in levels if lv.product_id in mine), Decimal(0))
        if asked is not None and available < asked:
            raise Conflict(
                f"{item.drug_name}: {available.normalize():f} {item.quantity_unit} in stock here, "
                f"{asked.normalize():f} asked",
                code="INSUFFICIENT_STOCK",
                item_id=str(item_id),
                available=str(available),
            )
        goal = min(asked if asked is not None else item.quantity - item.quantity_dispensed, available)
        for lv in levels:
            if goal <= 0:
                break
            if lv.product_id in mine and left[lv.id] > 0:
                take = min(left[lv.id], goal)
                left[lv.id] -= take
                goal -= take
                totals[item_id] = totals.get(item_id, Decimal(0)) + take
    if not totals:
        raise Conflict("none of these medicines is in stock here", code="INSUFFICIENT_STOCK", available="0")
    return totals


def prescription_dispense(
    *,
    ctx: Ctx,
    prescription_id: uuid.UUID,
    location_id: uuid.UUID,
    quantities: Mapping[Any, Any] | None = None,
) -> Dispensing:
    """Dispense a signed prescription from a location (see the module's docstring). `quantities` maps
    item ids to what to hand out (0 or absent: not now); None dispenses every item what remains, or
    what is in stock if less. Refusals: INSUFFICIENT_STOCK (409: an asked quantity is not in stock, or
    nothing at all is), WRONG_PHARMACY (409), PRESCRIPTION_NOT_DISPENSABLE (409), UNKNOWN_ITEM and
    OVER_DISPENSED (400), STOCK_BUSY (409: the stock kept changing under every attempt; try again)."""
    action = "pharmacy.dispensing.create"
    _require_dispense(ctx, action, resource_id=str(prescription_id))
    location = services._resolve(ctx, action, services.location_get, location_id)
    for _ in range(ATTEMPTS):
        prescription = prescription_to_dispense(ctx=ctx, prescription_id=prescription_id)
        if not _may_dispense_at(prescription, location):
            raise audit.denied(
                ctx,
                action,
                Conflict("this prescription is nominated to another pharmacy", code="WRONG_PHARMACY"),
                resource_id=str(prescription_id),
            )
        try:
            return _dispense(ctx, action, prescription, location, _wanted(prescription, quantities))
        except _StockMoved:
            continue
    raise Conflict("the stock here kept changing while dispensing: try again", code="STOCK_BUSY")


ATTEMPTS = 8


def _dispense(
    ctx: Ctx,
    action: str,
    prescription: DispensablePrescription,
    location: StockLocation,
    wanted: dict[uuid.UUID, Decimal | None],
) -> Dispensing:
    """One attempt, in one transaction. The stock is locked last, so that concurrent dispensings from
    the same batches wait for each other only while their movements are written (the prescription,
    its history, the audit and the outbox are written before): the plan is made from an unlocked read,
    and checked again under the lock (_StockMoved when it no longer holds)."""
    items = {i.item_id: i for i in prescription.items}
    products = {item_id: matching_products(ctx, items[item_id]) for item_id in wanted}
    every_product = sorted({p.id for found in products.values() for p in found})
    now, on = timezone.now(), services.today(ctx)
    with transaction.atomic():
        seen = _usable_levels(ctx, location, every_product, lock=False, on=on) if every_product else []
        totals = _plan(items, wanted, products, seen)
        status = prescription_record_dispensing(
            ctx=ctx, prescription_id=prescription.prescription_id, quantities=totals
        )
        dispensing = Dispensing.objects.create(
            organization_id=ctx.organization_id,
            prescription_id=prescription.prescription_id,
            prescription_number=prescription.number,
            patient_id=prescription.patient_id,
            patient_name=prescription.patient_name,
            location=location,
            dispensed_by_id=ctx.actor_id,
            dispensed_at=now,
            prescription_status=status,
        )
        audit.record(
            ctx,
            action,
            target=dispensing,
            patient_id=prescription.patient_id,
            prescription=str(prescription.prescription_id),
            location=str(location.id),
            quantities={str(k): str(v) for k, v in totals.items()},
        )
        events.publish(
            ctx,
            MedicinesDispensed(
                dispensing_id=dispensing.id,
                organization_id=dispensing.organization_id,
                patient_id=dispensing.patient_id,
            ),
        )
        # SECURITY: the stock, locked (in id order) and re-read; it must still hold the plan.
        locked = _usable_levels(ctx, location, every_product, lock=True, on=on)
        lines = []
        for item_id, total in totals.items():
            mine = {p.id for p in products[item_id]}
            allocation = _allocate([lv for lv in locked if lv.product_id in mine], total)
            if sum((take for _, take in allocation), Decimal(0)) < total:
                raise _StockMoved
            item = items[item_id]
            for level, take in allocation:
                level.on_hand -= take  # what another item of this prescription may still take of it
                services._move(
                    ctx,
                    location=location,
                    batch=level.batch,
                    kind=MovementKind.DISPENSE,
                    quantity=-take,
                    dispensing=dispensing,
                    at=now,
                )
                lines.append(
                    DispensingLine(
                        organization_id=ctx.organization_id,
                        dispensing=dispensing,
                        item_id=item_id,
                        product_id=level.product_id,
                        batch_id=level.batch_id,
                        quantity=take,
                        drug_name=item.drug_name,
                        strength=item.strength,
                        quantity_unit=item.quantity_unit,
                        directions=item.directions,
                    )
                )
        DispensingLine.objects.for_tenant(ctx).bulk_create(lines)
    return dispensing


# --------------------------------------------------------------------------------------------------
# Reading dispensings (labels), and telling the patient
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelBatch:
    lot_number: str
    expiry_on: Any
    quantity: Decimal


@dataclass(frozen=True)
class Label:
    """What is printed on one dispensed item's label."""

    item_id: uuid.UUID
    patient_name: str
    drug_name: str
    strength: str
    directions: str
    quantity: Decimal
    quantity_unit: str
    batches: tuple[LabelBatch, ...]
    dispensed_at: Any
    pharmacy: str
    organization: str
    prescription_number: str


def _labels(ctx: Ctx, dispensing: Dispensing, lines: list[DispensingLine]) -> list[Label]:
    organization = Organization.objects.for_tenant(ctx).values_list("name", flat=True).first() or ""
    batches = {b.id: b for b in Batch.objects.for_tenant(ctx).filter(id__in=[line.batch_id for line in lines])}
    by_item: dict[uuid.UUID, list[DispensingLine]] = {}
    for line in lines:
        by_item.setdefault(line.item_id, []).append(line)
    return [
        Label(
            item_id=item_id,
            patient_name=dispensing.patient_name,
            drug_name=group[0].drug_name,
            strength=group[0].strength,
            directions=group[0].directions,
            quantity=sum((line.quantity for line in group), Decimal(0)),
            quantity_unit=group[0].quantity_unit,
            batches=tuple(
                LabelBatch(batches[line.batch_id].lot_number, batches[line.batch_id].expiry_on, line.quantity)
                for line in group
            ),
            dispensed_at=dispensing.dispensed_at,
            pharmacy=dispensing.location.name,
            organization=organization,
            prescription_number=dispensing.prescription_number,
        )
        for item_id, group in by_item.items()
    ]


@dataclass(frozen=True)
class DispensingRecord:
    dispensing: Dispensing
    lines: list[DispensingLine]
    labels: list[Label]


@audit.reads_health_data
def dispensing_get(ctx: Ctx, *, dispensing_id: uuid.UUID) -> DispensingRecord:
    """One dispensing with its lines and labels (they name the patient): audited."""
    action = "pharmacy.dispensing.read"
    if not policies.can_view_stock(ctx):
        raise audit.denied(ctx, action, Forbidden("dispensings need a pharmacy role"), resource_id=str(dispensing_id))
    # SECURITY: through for_tenant(ctx): another organization's dispensing is not found.
    dispensing = Dispensing.objects.for_tenant(ctx).select_related("location").filter(id=dispensing_id).first()
    if dispensing is None:
        raise audit.denied(ctx, action, NotFound("no such dispensing here"), resource_id=str(dispensing_id))
    lines = list(
        DispensingLine.objects.for_tenant(ctx).select_related("batch", "product").filter(dispensing=dispensing)
    )
    audit.record(ctx, action, target=dispensing, patient_id=dispensing.patient_id, read=True)
    return DispensingRecord(dispensing, lines, _labels(ctx, dispensing, lines))


@audit.reads_health_data
def dispensing_list(
    ctx: Ctx, *, prescription_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None, limit: int = 50
) -> list[Dispensing]:
    """Recent dispensings (of a prescription, or at a location), newest first: audited."""
    action = "pharmacy.dispensing.list"
    if not policies.can_view_stock(ctx):
        raise audit.denied(ctx, action, Forbidden("dispensings need a pharmacy role"))
    found = Dispensing.objects.for_tenant(ctx).select_related("location", "dispensed_by")
    if prescription_id:
        found = found.filter(prescription_id=prescription_id)
    if location_id:
        found = found.filter(location_id=location_id)
    rows = list(found.order_by("-dispensed_at", "-id")[: max(1, min(limit, 200))])
    audit.record(
        ctx,
        action,
        read=True,
        results=len(rows),
        prescription=str(prescription_id or ""),
        dispensings=[str(d.id) for d in rows],
    )
    return rows


def dispensing_notify_patient(*, dispensing_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Tell the patient their medicines are ready to collect, once (the event may be delivered more
    than once): a reference and a place, never the medicine."""
    from phb.patients.models import Patient

    ctx = Ctx.system(reason="tell a patient their medicines are ready", organization_id=organization_id)
    with transaction.atomic():
        claimed = (
            Dispensing.objects.for_tenant(ctx)
            .filter(id=dispensing_id, notified_at__isnull=True)
            .update(notified_at=timezone.now())
        )
        if not claimed:
            return False
        dispensing = Dispensing.objects.for_tenant(ctx).select_related("location").get(id=dispensing_id)
        patient = Patient.objects.select_related("user").get(id=dispensing.patient_id)
        organization = Organization.objects.for_tenant(ctx).values_list("name", flat=True).first() or ""
        recipient = Recipient(
            ref=f"patient:{patient.id}",
            user_id=patient.user_id,
            email=patient.email or (patient.user.email if patient.user is not None else ""),
            phone=patient.phone,
        )
        notify(
            ctx=ctx,
            recipient=recipient,
            template_code=READY_TEMPLATE,
            context={
                "reference": dispensing.prescription_number,
                "place": f"{organization}, {dispensing.location.name}",
            },
        )
        audit.record(ctx, "pharmacy.dispensing.notify", target=dispensing, patient_id=dispensing.patient_id)
    return True
