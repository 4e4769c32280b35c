"""Consents of patients: grant, withdraw, and the check other apps make before data crosses an
organization (`consent_allows`, exported through patients.public)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.patients.models import Consent, ConsentKind, DataCategory, Patient


def _may_act_for(ctx: Ctx, patient: Patient) -> bool:
    return ctx.is_system or (ctx.actor_id is not None and patient.user_id == ctx.actor_id)


def consent_grant(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    kind: str,
    version: str,
    to_organization_id: uuid.UUID | None = None,
    from_organization_id: uuid.UUID | None = None,
    categories: list[str] | None = None,
) -> Consent:
    """The patient (or the system, recording a form the patient signed) gives a consent."""
    patient = Patient.objects.filter(id=patient_id).first()
    if patient is None:
        raise NotFound("no such patient")
    if not _may_act_for(ctx, patient):
        raise Forbidden("only the patient gives their consent")
    if kind not in ConsentKind.values:
        raise ValidationFailed(
            "unknown consent kind", errors=[{"field": "kind", "message": "unknown", "code": "invalid"}]
        )
    categories = sorted(set(categories or ([DataCategory.ALL] if kind == ConsentKind.SHARING else [])))
    if unknown := set(categories) - set(DataCategory.values):
        raise ValidationFailed(
            "unknown data categories",
            errors=[{"field": "categories", "message": f"unknown: {', '.join(sorted(unknown))}", "code": "invalid"}],
        )
    with transaction.atomic():
        consent = Consent.objects.create(
            patient=patient,
            kind=kind,
            version=version,
            granted_at=timezone.now(),
            granted_by=ctx.actor_id,
            to_organization_id=to_organization_id,
            from_organization_id=from_organization_id,
            categories=categories,
        )
        audit.record(ctx, "patients.consent.grant", target=consent, patient_id=patient.id, kind=kind)
    return consent


@audit.reads_health_data
def consent_list(*, ctx: Ctx, patient_id: uuid.UUID) -> list[Consent]:
    """A patient's consents, newest first: for the patient (or someone acting for them)."""
    patient = Patient.objects.filter(id=patient_id).first()
    if patient is None or not _may_act_for(ctx, patient):
        audit.record(ctx, "patients.consent.list", resource_id=patient_id, outcome="denied", read=True)
        raise NotFound("no such patient")
    audit.record(ctx, "patients.consent.list", patient_id=patient.id, read=True)
    return list(Consent.objects.filter(patient=patient).order_by("-granted_at"))


def consent_withdraw(*, ctx: Ctx, consent_id: uuid.UUID) -> Consent:
    with transaction.atomic():
        consent = Consent.objects.select_for_update().select_related("patient").filter(id=consent_id).first()
        if consent is None or not _may_act_for(ctx, consent.patient):
            raise NotFound("no such consent")  # SECURITY: another person's consent is not found
        if consent.withdrawn_at is not None:
            raise Conflict("this consent was already withdrawn")
        consent.withdrawn_at, consent.withdrawn_by = timezone.now(), ctx.actor_id
        consent.save(update_fields=["withdrawn_at", "withdrawn_by", "updated_at"])
        audit.record(ctx, "patients.consent.withdraw", target=consent, patient_id=consent.patient_id, kind=consent.kind)
    return consent


def consent_allows(
    patient_id: uuid.UUID, from_organization_id: uuid.UUID, to_organization_id: uuid.UUID, category: str
) -> bool:
    """May data of `category` about the patient held by one organization go to another? Deny unless a
    sharing consent in force covers both organizations and the category. (A patient has a handful of
    consents: their categories are checked here rather than with database-specific JSON queries.)"""
    if from_organization_id == to_organization_id:
        return True
    in_force = Consent.objects.filter(
        Q(from_organization_id__isnull=True) | Q(from_organization_id=from_organization_id),
        Q(to_organization_id__isnull=True) | Q(to_organization_id=to_organization_id),
        patient_id=patient_id,
        kind=ConsentKind.SHARING,
        withdrawn_at__isnull=True,
    ).values_list("categories", flat=True)
    return any(DataCategory.ALL in categories or category in categories for categories in in_force)
