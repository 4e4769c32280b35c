"""Who may read, write, sign and dispense prescriptions.

A prescription is part of the patient's clinical record: reading needs a clinical role and a care
relationship with the patient here (clinical's own gate, `clinical.public.care_relationship`);
writing, checking, signing, cancelling and replacing need the can-prescribe capability
(`medications.prescription.sign`: doctors, surgeons, anaesthetists) and the same relationship. A
pharmacy works from the organization's worklist with the can-dispense capability. The override
report is clinical governance: department heads and privacy officers. Anyone else is answered
"forbidden" (no role) or "not found" (no relationship, another organization), and the refusal is
audited by the caller."""

from __future__ import annotations

import uuid

from phb.clinical.public import care_relationship
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound

VIEW = "clinical.record.view"
PRESCRIBE = "medications.prescription.sign"
DISPENSE = "pharmacy.dispense.create"
REPORT = ("clinical.alert.escalation", "audit.event.view")


def _staff(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and (ctx.actor_id is not None or ctx.is_system)


def can_view(ctx: Ctx) -> bool:
    return _staff(ctx) and ctx.has_perm(VIEW)


def can_prescribe(ctx: Ctx) -> bool:
    return _staff(ctx) and ctx.has_perm(PRESCRIBE) and ctx.has_perm(VIEW)


def can_dispense(ctx: Ctx) -> bool:
    return _staff(ctx) and ctx.has_perm(DISPENSE)


def can_report(ctx: Ctx) -> bool:
    return _staff(ctx) and any(ctx.has_perm(p) for p in REPORT)


def require_patient(ctx: Ctx, action: str, patient_id: uuid.UUID, *, prescribe: bool = False) -> bool:
    """Whether `ctx` acts on the patient under break-the-glass (True) or a care relationship (False);
    an audited refusal otherwise: Forbidden without the role, NotFound without the relationship.

    SECURITY: the gate to a patient's prescriptions; every selector and service asks it. Call it
    outside a transaction that may roll back, or the refusal's audit event goes with it."""
    allowed = can_prescribe(ctx) if prescribe else can_view(ctx)
    if not allowed:
        needed = "prescribing needs the can-prescribe capability" if prescribe else "the record needs a clinical role"
        raise audit.denied(ctx, action, Forbidden(needed), resource_id=str(patient_id))
    if ctx.is_system:
        return False
    access = care_relationship(ctx, patient_id)
    if access is None:
        # SECURITY: no care relationship, another organization's patient and no patient look the same.
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    return access.break_glass
