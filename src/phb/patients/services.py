"""Writes of the patient registry: create a patient (with a new HPN), register them with an organization
(from the portal: pending; at reception: approved), approve or reject. Every write is audited."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.kernel import audit, crypto
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.patients import hpn
from phb.patients.models import MrnCounter, Patient, PatientRegistration, RegistrationStatus

IDENTIFIERS = ("nin", "passport", "ssn")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message, "code": "invalid"}])


def patient_create(
    *,
    ctx: Ctx,
    given_name: str,
    family_name: str,
    birth_date: dt.date | None = None,
    estimated_age_years: int | None = None,
    **fields: Any,
) -> Patient:
    """Create a patient with a new HPN. A stated age (when the birth date is unknown) gives an estimated
    birth date of 1 July of that year, flagged as estimated."""
    today = timezone.localdate()
    if birth_date is not None and birth_date > today:
        raise _invalid("birth_date", "the date of birth is in the future")
    if birth_date is None and estimated_age_years is not None:
        if not 0 <= estimated_age_years <= 130:
            raise _invalid("estimated_age_years", "an age between 0 and 130 is expected")
        birth_date, fields["birth_date_estimated"] = dt.date(today.year - estimated_age_years, 7, 1), True
    identifiers = {k: (fields.pop(k) or "").strip() for k in IDENTIFIERS if k in fields}
    patient = Patient(given_name=given_name.strip(), family_name=family_name.strip(), birth_date=birth_date, **fields)
    for kind, value in identifiers.items():
        if value:
            setattr(patient, kind, value)
            setattr(patient, f"{kind}_index", crypto.blind_index(value, purpose=f"patients.{kind}"))
    try:
        patient.full_clean(exclude=["hpn", *IDENTIFIERS])
    except ValidationError as exc:
        raise ValidationFailed(
            "The patient has invalid fields.",
            errors=[{"field": f, "message": m, "code": "invalid"} for f, ms in exc.message_dict.items() for m in ms],
        ) from exc
    with transaction.atomic():
        for _ in range(5):  # a random HPN colliding is rare; try again rather than fail
            patient.hpn = hpn.generate()
            if not Patient.objects.filter(hpn=patient.hpn).exists():
                break
        patient.save(force_insert=True)
        audit.record(ctx, "patients.patient.create", target=patient, patient_id=patient.id)
    return patient


def patient_find_by_identifier(*, ctx: Ctx, kind: str, value: str) -> Patient | None:
    """Exact lookup of an encrypted national identifier through its blind index (audited)."""
    if kind not in IDENTIFIERS:
        raise _invalid("kind", f"one of {', '.join(IDENTIFIERS)}")
    patient = Patient.objects.filter(**{f"{kind}_index": crypto.blind_index(value, purpose=f"patients.{kind}")}).first()
    audit.record(ctx, "patients.patient.search", patient_id=patient.id if patient else None, read=True, by=kind)
    return patient


def _next_mrn(ctx: Ctx) -> str:
    counter, _ = (
        MrnCounter.objects.for_tenant(ctx).select_for_update().get_or_create(organization_id=ctx.organization_id)
    )
    counter.last += 1
    counter.save(update_fields=["last", "updated_at"])
    return f"{counter.last:08d}"


def registration_create(*, ctx: Ctx, patient_id: uuid.UUID, at_desk: bool) -> PatientRegistration:
    """Register a patient with `ctx`'s organization: at the reception desk (approved at once, needs
    `patients.registration.manage`) or as the patient's own request from the portal (pending)."""
    if at_desk and not ctx.has_perm("patients.registration.manage"):
        raise Forbidden("registering patients needs the receptionist or records officer role")
    organization = Organization.objects.for_tenant(ctx).first()
    if organization is None or not organization.is_active:
        raise ValidationFailed("This organization does not accept registrations.", code="ORGANIZATION_INACTIVE")
    patient = Patient.objects.filter(id=patient_id).first()
    if patient is None:
        raise NotFound("no such patient")
    if not at_desk and (ctx.actor_id is None or patient.user_id != ctx.actor_id):
        raise Forbidden("patients request registration for themselves only")
    try:
        with transaction.atomic():
            if PatientRegistration.objects.for_tenant(ctx).filter(patient=patient).exists():
                raise Conflict("the patient is already registered here")
            first = (
                not PatientRegistration.objects.for_system(Ctx.system(reason="is this the first registration"))
                .filter(patient=patient)
                .exists()
            )
            registration = PatientRegistration.objects.create(
                organization_id=ctx.organization_id,
                patient=patient,
                mrn=_next_mrn(ctx),
                is_primary=first,
                status=RegistrationStatus.APPROVED if at_desk else RegistrationStatus.PENDING,
                decided_by_id=ctx.actor_id if at_desk else None,
                decided_at=timezone.now() if at_desk else None,
            )
            audit.record(ctx, "patients.registration.create", target=registration, patient_id=patient.id)
    except IntegrityError as exc:  # the same patient registered here at the same moment
        raise Conflict("the patient is already registered here") from exc
    return registration


def registration_decide(
    *, ctx: Ctx, registration_id: uuid.UUID, approve: bool, reason: str = ""
) -> PatientRegistration:
    """An administrator approves or rejects (with a reason) a pending registration of their organization."""
    if not ctx.has_perm("patients.registration.approve"):
        raise Forbidden("deciding registrations needs the hospital administrator role")
    if not approve and not reason.strip():
        raise _invalid("reason", "say why the registration is rejected")
    with transaction.atomic():
        registration = (
            PatientRegistration.objects.for_tenant(ctx).select_for_update().filter(id=registration_id).first()
        )
        if registration is None:
            raise NotFound("no such registration")  # SECURITY: another organization's is not found
        if registration.status != RegistrationStatus.PENDING:
            raise Conflict("this registration was already decided")
        registration.status = RegistrationStatus.APPROVED if approve else RegistrationStatus.REJECTED
        registration.rejection_reason = "" if approve else reason.strip()
        registration.decided_by_id, registration.decided_at = ctx.actor_id, timezone.now()
        registration.save()
        audit.record(
            ctx,
            f"patients.registration.{'approve' if approve else 'reject'}",
            target=registration,
            patient_id=registration.patient_id,
        )
    return registration
