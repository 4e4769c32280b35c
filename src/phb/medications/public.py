"""What other apps may use of prescriptions: the pharmacy's worklist and the record of what it
dispensed (frozen dataclasses in, a status out)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from phb.kernel.context import Ctx
from phb.medications import services
from phb.medications.dispensing import (
    DispensableItem,
    DispensablePrescription,
    prescription_to_dispense,
    prescriptions_to_dispense,
)


def prescription_record_dispensing(
    *, ctx: Ctx, prescription_id: uuid.UUID, quantities: Mapping[uuid.UUID, Decimal]
) -> str:
    """Called inside the pharmacy's transaction: lock the prescription, refuse a status that cannot be
    dispensed (409 PRESCRIPTION_NOT_DISPENSABLE), an item not of it (400 UNKNOWN_ITEM), a quantity of
    0 or less or above what remains (400 OVER_DISPENSED); add to the dispensed quantities and move the
    status to partially_dispensed or dispensed (history, audit, PrescriptionDispensed event). Returns
    the new status. Needs `pharmacy.dispense.create` (the can-dispense capability)."""
    return services.prescription_record_dispensing(ctx=ctx, prescription_id=prescription_id, quantities=quantities)


__all__ = [
    "DispensableItem",
    "DispensablePrescription",
    "prescription_record_dispensing",
    "prescription_to_dispense",
    "prescriptions_to_dispense",
]


# --- prescriptions as other systems see them (the FHIR API): visibility as a queryset -------------
from typing import Any  # noqa: E402

from django.db.models import QuerySet  # noqa: E402

from phb.clinical.public import patient_rows_visible  # noqa: E402
from phb.medications.models import PrescriptionItem  # noqa: E402


def prescription_items_visible(ctx: Ctx) -> QuerySet[Any]:
    """The prescription items of `ctx`'s organization (with their prescription) whose patient `ctx` may
    see, as the clinical record decides (`clinical.public.patient_rows_visible`). Drafts included. Not
    audited: the caller records what it returns.

    SECURITY: the only way the FHIR API reaches prescriptions."""
    if ctx.organization_id is None:
        return PrescriptionItem.objects.none()
    return patient_rows_visible(ctx, PrescriptionItem.objects.for_tenant(ctx).select_related("prescription"))


__all__ += ["PrescriptionItem", "prescription_items_visible"]
