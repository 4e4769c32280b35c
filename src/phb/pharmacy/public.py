"""What other apps may use of the pharmacy: what it dispensed, as the FHIR API shows it."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet

from phb.clinical.public import patient_rows_visible
from phb.kernel.context import Ctx
from phb.pharmacy.models import DispensingLine


def dispensing_lines_visible(ctx: Ctx) -> QuerySet[Any]:
    """The lines of `ctx`'s organization's dispensings (one drug handed over each) whose patient `ctx`
    may see, as the clinical record decides; each with its dispensing, product and stock location, and
    the dispensing's patient and time as `patient_id` and `handed_over_at`. Not audited: the caller
    records what it returns.

    SECURITY: the only way the FHIR API reaches dispensings."""
    if ctx.organization_id is None:
        return DispensingLine.objects.none()
    rows = (
        DispensingLine.objects.for_tenant(ctx)
        .select_related("dispensing", "dispensing__location", "product")
        .annotate(patient_id=F("dispensing__patient_id"), handed_over_at=F("dispensing__dispensed_at"))
    )
    return patient_rows_visible(ctx, rows, "dispensing__patient_id")


__all__ = ["DispensingLine", "dispensing_lines_visible"]
