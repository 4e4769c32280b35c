"""Prescriptions for tests. `signed_prescription` writes a signed prescription straight into the
tables (no drug catalogue, no safety check): what a pharmacy's tests need to dispense against. The
prescribing tests go through the services (`tests.medications.prescribing`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from phb.accounts.step_up import SESSION_KEY
from phb.kernel.context import Ctx
from phb.medications import services
from phb.medications.models import Prescription, PrescriptionItem, PrescriptionStatus
from phb.terminology.public import DRUGS
from tests.accounts.factories import UserFactory, verified_client
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx
from tests.terminology.factories import ensure_code_systems

AMOXICILLIN = {
    "drug_code": "amoxicillin",
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
    "drug_code": "paracetamol",
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
    `items` (dicts of item fields; drug_system defaults to the catalogue's)."""
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
            **{"drug_system": DRUGS, **item},
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


# --- prescribing through the services ---------------------------------------------------------------


@dataclass
class Ward:
    """A department of `organization` with a doctor, a nurse and a patient in their care (a walk-in
    encounter), contexts and all."""

    organization: Any
    department: Any
    doctor: Ctx
    nurse: Ctx
    patient: Any
    encounter: Any
    patient_user: Any = None


def patient_with_account(organization):
    """(user, patient): a patient who signs in to the portal, registered at `organization`."""
    user = UserFactory(email_verified_at=timezone.now())
    patient = make_patient(user=user)
    patient.onboarded_at = timezone.now()
    patient.save(update_fields=["onboarded_at"])
    register_at_desk(desk_ctx(organization), patient)
    return user, patient


def ward(organization, *, doctor_user=None, with_account: bool = False) -> Ward:
    ensure_code_systems()
    department = DepartmentFactory(organization=organization)
    doctor = clinician(organization, "doctor", department=department, user=doctor_user)
    nurse = clinician(organization, "nurse", department=department)
    user = None
    if with_account:
        user, patient = patient_with_account(organization)
    else:
        patient = patient_at(organization)
    encounter = walk_in(doctor, patient, department)
    return Ward(organization, department, doctor, nurse, patient, encounter, user)


def patient_client(user):
    """The portal client of a patient, second factor fresh."""
    return with_med_access(verified_client(user))


AMOX = {"form": "capsule", "strength": "500 mg"}  # amoxicillin 500 mg capsules


def item(drug_code: str, **overrides: Any) -> dict[str, Any]:
    """An item of a prescription as the services take it: one tablet (or capsule) three times a day
    for five days of the drug's first form and strength, unless told otherwise."""
    return {"drug_code": drug_code, "dose_quantity": "1", "frequency": "TDS", "duration_days": 5, **overrides}


def draft(ctx: Ctx, patient, *items: dict[str, Any], **kwargs: Any) -> Prescription:
    return services.prescription_create(ctx=ctx, patient_id=patient.id, items=list(items), **kwargs)


def signed(ctx: Ctx, patient, *items: dict[str, Any], overrides: dict[str, str] | None = None, **kwargs: Any):
    prescription = draft(ctx, patient, *items, **kwargs)
    return services.prescription_sign(ctx=ctx, prescription_id=prescription.id, overrides=overrides)


def overriding_everything(ctx: Ctx, patient, *items: dict[str, Any], reason: str = "benefit outweighs the risk"):
    """Signed, with a reason for every alert that needs one."""
    prescription = draft(ctx, patient, *items)
    check = services.prescription_check(ctx=ctx, prescription_id=prescription.id)
    reasons = {a["key"]: reason for a in check.alerts if a["requires_override"]}
    return services.prescription_sign(ctx=ctx, prescription_id=prescription.id, overrides=reasons)


def with_med_access(client):
    """`client` with an open step-up window (a fresh second factor), as after the step-up page."""
    session = client.session
    session[SESSION_KEY] = (timezone.now() + dt.timedelta(minutes=30)).isoformat()
    session.save()
    return client


def staff_client(organization, *roles: str, department=None):
    """(ctx, API client with the step-up window) of a new member of staff holding `roles`."""
    user = UserFactory()
    ctx = clinician(organization, *roles, department=department, user=user)
    return ctx, with_med_access(verified_client(user))
