"""The patient's own side of the registry: onboarding, their profile, their hospitals.

A patient reaches only their own record: the one linked to their account (`Patient.user`). Every
write is audited."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.patients import services
from phb.patients.models import EmergencyContact, Patient, PatientRegistration, RegistrationStatus

PROFILE_FIELDS = (
    "phone",
    "phone_secondary",
    "email",
    "state",
    "city",
    "address_line",
    "preferred_language",
    "secondary_language",
    "marital_status",
    "occupation",
    "gender_identity",
)
PREFERENCES = {
    "contact_by": ("sms", "email", "phone", "whatsapp"),
    "language": None,
    "diet": None,
    "accepts_blood_transfusion": (True, False, None),
    "clinician_gender": ("any", "female", "male"),
    "notes": None,
}
HISTORY = ("conditions", "allergies", "medications", "surgeries", "family_history", "notes")


def my_patient(ctx: Ctx) -> Patient | None:
    if ctx.actor_id is None:
        return None
    return Patient.objects.filter(user_id=ctx.actor_id, merged_into__isnull=True).first()


def _own(ctx: Ctx) -> Patient:
    patient = my_patient(ctx)
    if patient is None:
        raise NotFound("no patient record is linked to this account")
    return patient


@audit.reads_health_data
def my_record(*, ctx: Ctx) -> Patient:
    """The patient's own record, to show them (audited, like every read of it)."""
    patient = my_patient(ctx)
    if patient is None:
        audit.record(ctx, "patients.patient.read", outcome="denied", read=True, why="no record linked")
        raise NotFound("no patient record is linked to this account")
    audit.record(ctx, "patients.patient.read", target=patient, patient_id=patient.id, read=True)
    return patient


def _clean_preferences(preferences: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in (preferences or {}).items():
        if key not in PREFERENCES:
            raise ValidationFailed.field(f"preferences.{key}", "not a preference PHB keeps")
        allowed = PREFERENCES[key]
        if allowed is not None and value not in allowed:
            raise ValidationFailed.field(f"preferences.{key}", f"one of {', '.join(str(a) for a in allowed)}")
        if isinstance(value, str) and len(value) > 500:
            raise ValidationFailed.field(f"preferences.{key}", "at most 500 characters")
        out[key] = value.strip() if isinstance(value, str) else value
    return out


def _clean_history(history: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in (history or {}).items():
        if key not in HISTORY:
            raise ValidationFailed.field(f"history.{key}", "not part of the history overview")
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(i, str) and len(i) <= 300 for i in items) or len(items) > 50:
            raise ValidationFailed.field(f"history.{key}", "a list of short texts (at most 50, of 300 characters each)")
        out[key] = [i.strip() for i in items if i.strip()]
    return out


def onboarding_complete(
    *,
    ctx: Ctx,
    given_name: str = "",
    family_name: str = "",
    birth_date: dt.date | None = None,
    sex: str = "unknown",
    phone: str = "",
    preferences: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    emergency_contact: dict[str, str] | None = None,
    primary_organization_id: uuid.UUID | None = None,
) -> Patient:
    """A patient's first steps in the portal, in one transaction: their record (created when missing,
    never matched against other people's), health preferences, an overview of their medical history,
    an emergency contact, and a request to register with their primary hospital."""
    if not ctx.is_authenticated:
        raise NotFound("no patient account")
    preferences, history = _clean_preferences(preferences or {}), _clean_history(history or {})
    organization = None
    if primary_organization_id is not None:
        organization = Organization.objects.accepting_patients().filter(id=primary_organization_id).first()
        if organization is None:
            raise ValidationFailed.field("primary_organization_id", "choose an active hospital or clinic")
    with transaction.atomic():
        patient = my_patient(ctx)
        if patient is None:
            if not given_name.strip() or not family_name.strip():
                raise ValidationFailed.field("given_name", "your given and family names are needed")
            patient = services.patient_create(
                ctx=ctx,
                self_service=True,
                given_name=given_name,
                family_name=family_name,
                birth_date=birth_date,
                sex=sex,
                phone=phone,
                user_id=ctx.actor_id,
            )
        if patient.onboarded_at is not None:
            raise Conflict("Onboarding was already completed.", code="ONBOARDING_DONE")
        if emergency_contact:
            _add_contact(patient, emergency_contact)
        patient.preferences, patient.history_overview = preferences, history
        patient.onboarded_at = timezone.now()
        patient.save(update_fields=["preferences", "history_overview", "onboarded_at", "updated_at"])
        audit.record(ctx, "patients.onboarding.complete", target=patient, patient_id=patient.id)
        if organization is not None:
            registration_request(ctx=ctx, organization_id=organization.id, primary=True)
    return patient


def _add_contact(patient: Patient, contact: dict[str, str]) -> EmergencyContact:
    from django.core.exceptions import ValidationError

    from phb.kernel.validators import normalize_phone

    name, relationship = (contact.get("name") or "").strip(), (contact.get("relationship") or "").strip()
    if not name or not relationship:
        raise ValidationFailed.field("emergency_contact.name", "the contact's name and relationship are needed")
    try:
        phone = normalize_phone((contact.get("phone") or "").strip())
    except ValidationError as exc:
        raise ValidationFailed.field("emergency_contact.phone", "enter the number in international form") from exc
    return EmergencyContact.objects.create(
        patient=patient,
        name=name[:200],
        relationship=relationship[:50],
        phone=phone,
        is_next_of_kin=bool(contact.get("is_next_of_kin")),
    )


def profile_update(*, ctx: Ctx, **changes: Any) -> Patient:
    """A patient corrects their contact details (names and birth date are changed at a reception desk,
    where an identity document can be seen)."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "change this at a reception desk")
    with transaction.atomic():
        patient = _own(ctx)
        for field, value in changes.items():
            setattr(patient, field, value.strip() if isinstance(value, str) else value)
        services.validate(patient)
        patient.save()
        audit.record(ctx, "patients.patient.update", target=patient, patient_id=patient.id, fields=sorted(changes))
    return patient


@audit.reads_health_data
def my_registrations(*, ctx: Ctx) -> list[tuple[PatientRegistration, Organization]]:
    patient = _own(ctx)
    registrations = list(
        PatientRegistration.objects.for_system(Ctx.system(reason="a patient lists their own registrations"))
        .filter(patient=patient)
        .order_by("-is_primary", "created_at")
    )
    system = Ctx.system(reason="the names of a patient's hospitals")
    names = {
        o.id: o
        for o in Organization.objects.for_platform(system).filter(id__in=[r.organization_id for r in registrations])
    }
    audit.record(ctx, "patients.registration.list", patient_id=patient.id, read=True)
    return [(r, names[r.organization_id]) for r in registrations]


def registration_request(*, ctx: Ctx, organization_id: uuid.UUID, primary: bool = False) -> PatientRegistration:
    """Ask a hospital or clinic to register me (pending until its administrator decides)."""
    patient = _own(ctx)
    if not Organization.objects.accepting_patients().filter(id=organization_id).exists():
        raise ValidationFailed.field("organization_id", "choose an active hospital or clinic")
    at = ctx.as_patient_at(organization_id)
    with transaction.atomic():
        registration = services.registration_create(ctx=at, patient_id=patient.id, at_desk=False)
        if primary and not registration.is_primary:
            registration_set_primary(ctx=ctx, registration_id=registration.id)
            registration.refresh_from_db()
    return registration


def registration_set_primary(*, ctx: Ctx, registration_id: uuid.UUID) -> PatientRegistration:
    patient = _own(ctx)
    system = Ctx.system(reason="a patient chooses their primary hospital")
    with transaction.atomic():
        mine = PatientRegistration.objects.for_system(system).select_for_update().filter(patient=patient)
        chosen = mine.filter(id=registration_id).first()
        if chosen is None:
            raise NotFound("no such registration")
        if chosen.status == RegistrationStatus.REJECTED:
            raise Conflict("A rejected registration cannot be your primary hospital.", code="REGISTRATION_REJECTED")
        mine.exclude(id=chosen.id).filter(is_primary=True).update(is_primary=False)
        mine.filter(id=chosen.id).update(is_primary=True)
        audit.record(ctx, "patients.registration.set_primary", target=chosen, patient_id=patient.id)
    chosen.refresh_from_db()
    return chosen
