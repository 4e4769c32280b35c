"""What a pharmacy sees of prescriptions and how it records what it handed out (through `public`).

The worklist is the organization's signed and partly dispensed prescriptions still valid, oldest
first; with a pharmacy department, those nominated there and those nominated nowhere. A pharmacy
reads it with the can-dispense capability (`pharmacy.dispense.create`), not through a care
relationship: dispensing is the organization's service to whoever brings the prescription. Every read
is audited, a refused one too."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound
from phb.medications import dosing, policies
from phb.medications.models import DISPENSABLE_STATUSES, Prescription, PrescriptionItem
from phb.terminology.public import Coding


@dataclass(frozen=True)
class DispensableItem:
    item_id: uuid.UUID
    drug: Coding
    drug_name: str
    form: str
    strength: str
    quantity: Decimal
    quantity_unit: str
    quantity_dispensed: Decimal  # remaining = quantity - quantity_dispensed
    directions: str  # the label: "Take 1 tablet three times a day for 5 days"
    instructions: str  # the prescriber's instructions to the patient

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.quantity_dispensed


@dataclass(frozen=True)
class DispensablePrescription:
    prescription_id: uuid.UUID
    number: str
    patient_id: uuid.UUID
    patient_name: str
    prescriber_name: str
    status: str
    signed_at: dt.datetime
    pharmacy_department_id: uuid.UUID | None  # None: any pharmacy of the organization
    items: tuple[DispensableItem, ...]


def _item(i: PrescriptionItem) -> DispensableItem:
    return DispensableItem(
        item_id=i.id,
        drug=Coding(i.drug_system, i.drug_code, i.drug_display),
        drug_name=i.drug_display,
        form=i.form,
        strength=i.strength,
        quantity=i.quantity,
        quantity_unit=i.quantity_unit,
        quantity_dispensed=i.quantity_dispensed,
        directions=dosing.directions(
            dose_quantity=i.dose_quantity,
            dose_unit=i.dose_unit,
            frequency=i.frequency,
            interval_hours=i.interval_hours,
            duration_days=i.duration_days,
            route=i.route,
        ),
        instructions=i.instructions,
    )


def _dispensable(p: Prescription) -> DispensablePrescription:
    assert p.signed_at is not None
    return DispensablePrescription(
        prescription_id=p.id,
        number=p.number,
        patient_id=p.patient_id,
        patient_name=f"{p.patient.given_name} {p.patient.family_name}".strip(),
        prescriber_name=p.prescriber.full_name if p.prescriber is not None else "",
        status=p.status,
        signed_at=p.signed_at,
        pharmacy_department_id=p.pharmacy_department_id,
        items=tuple(_item(i) for i in p.item_list),  # type: ignore[attr-defined]
    )


def _open(ctx: Ctx) -> object:
    return (
        Prescription.objects.for_tenant(ctx)
        .filter(status__in=DISPENSABLE_STATUSES, expires_at__gt=timezone.now())
        .select_related("patient", "prescriber")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=PrescriptionItem.objects.for_tenant(ctx).order_by("position"),
                to_attr="item_list",
            )
        )
    )


def _require(ctx: Ctx, action: str, **detail: str) -> None:
    if not policies.can_dispense(ctx):
        raise audit.denied(ctx, action, Forbidden("the pharmacy worklist needs the can-dispense capability"), **detail)


@audit.reads_health_data
def prescriptions_to_dispense(
    *, ctx: Ctx, pharmacy_department_id: uuid.UUID | None = None, limit: int = 200
) -> list[DispensablePrescription]:
    """The worklist (see the module's docstring), oldest signed first."""
    action = "medications.prescription.dispense_list"
    _require(ctx, action)
    found: Iterable[Prescription] = _open(ctx)  # type: ignore[assignment]
    if pharmacy_department_id is not None:
        found = found.filter(  # type: ignore[attr-defined]
            Q(pharmacy_department_id=pharmacy_department_id) | Q(pharmacy_department__isnull=True)
        )
    rows = [_dispensable(p) for p in found.order_by("signed_at", "id")[: max(1, min(limit, 500))]]  # type: ignore[attr-defined]
    audit.record(
        ctx,
        action,
        read=True,
        results=len(rows),
        pharmacy_department=str(pharmacy_department_id or ""),
        prescriptions=[str(r.prescription_id) for r in rows],
    )
    return rows


@audit.reads_health_data
def prescription_to_dispense(*, ctx: Ctx, prescription_id: uuid.UUID) -> DispensablePrescription:
    """One prescription of the worklist; NotFound for another organization's, or one that cannot be
    dispensed (a draft, cancelled, expired, fully dispensed)."""
    action = "medications.prescription.dispense_read"
    _require(ctx, action, resource_id=str(prescription_id))
    found = _open(ctx).filter(id=prescription_id).first()  # type: ignore[attr-defined]
    if found is None:
        # SECURITY: another organization's prescription and one not dispensable look the same.
        raise audit.denied(ctx, action, NotFound("no such prescription to dispense"), resource_id=str(prescription_id))
    audit.record(ctx, action, target=found, patient_id=found.patient_id, read=True)
    return _dispensable(found)
