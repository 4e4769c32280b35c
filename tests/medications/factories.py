"""Prescriptions for tests. `signed_prescription` writes a signed prescription straight into the
tables (no drug catalogue, no safety check): what a pharmacy's tests need to dispense against. The
prescribing tests go through the services (`tests.medications.prescribing`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from phb.kernel.context import Ctx
from phb.medications.models import Prescription, PrescriptionItem, PrescriptionStatus
from phb.terminology.public import RXNORM
from tests.accounts.factories import UserFactory
from tests.clinical.factories import clinician, patient_at

AMOXICILLIN = {
    "drug_code": "723",
    "drug_display": "Amoxicillin",
    "form": "capsule",
    "strength": "500 mg",
    "dose_quantity": Decimal(1),
    "dose_unit": "capsule",
    "route": "oral",
    "frequency": "TDS",
    "duration_days": 5,
    "quantity": Decimal(15),
    "quantity_unit": "capsule",
    "instructions": "Finish the course.",
}
PARACETAMOL = {
    "drug_code": "161",
    "drug_display": "Paracetamol",
    "form": "tablet",
    "strength": "500 mg",
    "dose_quantity": Decimal(2),
    "dose_unit": "tablet",
    "route": "oral",
    "frequency": "QDS",
    "duration_days": 3,
    "quantity": Decimal(24),
    "quantity_unit": "tablet",
}

_numbers = iter(range(1, 10**6))


def signed_prescription(
    organization,
    *,
    patient=None,
    prescriber=None,
    items: tuple[dict[str, Any], ...] = (AMOXICILLIN, PARACETAMOL),
    pharmacy_department=None,
    status: str = PrescriptionStatus.SIGNED,
    signed_at: dt.datetime | None = None,
    valid_days: int = 30,
) -> Prescription:
    """A prescription of `organization`, signed by `prescriber` (a new doctor unless given), with
    `items` (dicts of item fields; drug_system defaults to RxNorm)."""
    patient = patient or patient_at(organization)
    if prescriber is None:
        prescriber = UserFactory()
        clinician(organization, "doctor", user=prescriber)
    ctx = Ctx.system(reason="test", organization_id=organization.id)
    signed_at = signed_at or timezone.now()
    prescription = Prescription.objects.create(
        organization_id=organization.id,
        number=f"RX-T-{next(_numbers):06d}",
        patient=patient,
        author=prescriber,
        pharmacy_department=pharmacy_department,
    )
    PrescriptionItem.objects.for_tenant(ctx).bulk_create(
        PrescriptionItem(
            organization_id=organization.id,
            prescription=prescription,
            patient=patient,
            position=i,
            **{"drug_system": RXNORM, **item},
            starts_at=signed_at,
            ends_at=signed_at + dt.timedelta(days=item.get("duration_days") or 30),
        )
        for i, item in enumerate(items)
    )
    Prescription.objects.for_tenant(ctx).filter(id=prescription.id).update(
        status=status,
        signed_at=signed_at,
        prescriber=prescriber,
        expires_at=signed_at + dt.timedelta(days=valid_days),
        cancelled_at=signed_at if status == PrescriptionStatus.CANCELLED else None,
        expired_at=signed_at if status == PrescriptionStatus.EXPIRED else None,
    )
    return Prescription.objects.for_tenant(ctx).select_related("patient").get(id=prescription.id)
