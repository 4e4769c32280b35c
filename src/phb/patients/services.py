"""Writes of the patient registry: create a patient (with a new HPN), register them with an organization
(from the portal: pending; at reception: approved), approve or reject. Every write is audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from phb.accounts.public import acting_user_id
from phb.kernel import audit, crypto
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization
from phb.kernel.validators import normalize_phone
from phb.patients import hpn, matching, mpi
from phb.patients.models import DuplicateCandidate, MrnCounter, Patient, PatientRegistration, RegistrationStatus

IDENTIFIERS = ("nin", "passport", "ssn")


class PossibleDuplicate(Conflict):
    """The new patient may already be on record: show the candidates, create only when confirmed."""

    code, title = "POSSIBLE_DUPLICATE", "This patient may already be registered"


class PatientExists(Conflict):
    """The new patient is certainly on record: register that record instead of creating another."""

    code, title = "PATIENT_EXISTS", "This patient is already registered"


def _clean_identifiers(fields: dict[str, Any]) -> dict[str, str]:
    return {k: (fields.pop(k) or "").strip() for k in IDENTIFIERS if k in fields}


def _set_identifier(patient: Patient, kind: str, value: str) -> None:
    setattr(patient, kind, value or None)
    setattr(patient, f"{kind}_index", crypto.blind_index(value, purpose=f"patients.{kind}") if value else None)


def validate(patient: Patient) -> None:
    """Normalize the phone number and check every field; a ValidationFailed names each bad field."""
    if patient.phone:
        with contextlib.suppress(ValidationError):  # an invalid number is reported by full_clean below
            patient.phone = normalize_phone(patient.phone)
    if patient.phone_secondary:
        with contextlib.suppress(ValidationError):
            patient.phone_secondary = normalize_phone(patient.phone_secondary)
    try:
        patient.full_clean(exclude=["hpn", "merged_into", *IDENTIFIERS])
    except ValidationError as exc:
        raise ValidationFailed(
            "The patient has invalid fields.",
            errors=[{"field": f, "message": m, "code": "invalid"} for f, ms in exc.message_dict.items() for m in ms],
        ) from exc


def candidate_summary(ctx: Ctx, match: mpi.Match) -> dict[str, Any]:
    """What staff see of a record that may be the same person: enough to tell, not the whole record
    (the HPN's last four digits, the birth year). Each one shown is audited."""
    p = match.patient
    registered_here = (
        ctx.organization_id is not None
        and PatientRegistration.objects.for_tenant(ctx).filter(patient_id=p.id).exclude(status="rejected").exists()
    )
    audit.record(ctx, "patients.patient.match", patient_id=p.id, read=True, band=match.band)
    return {
        "id": str(p.id),
        "hpn_last4": p.hpn[-4:],
        "given_name": p.given_name,
        "family_name": p.family_name,
        "birth_year": p.birth_date.year if p.birth_date else None,
        "sex": p.sex,
        "band": match.band,
        "points": match.score.points,
        "reasons": list(match.score.reasons),
        "registered_here": registered_here,
    }


def patient_create(
    *,
    ctx: Ctx,
    given_name: str,
    family_name: str,
    birth_date: dt.date | None = None,
    estimated_age_years: int | None = None,
    confirmed_distinct: bool = False,
    self_service: bool = False,
    **fields: Any,
) -> Patient:
    """Create a patient with a new HPN, after asking the master patient index.

    Staff (reception, API, imports): a certain match raises PatientExists (register that record
    instead); possible matches raise PossibleDuplicate unless `confirmed_distinct`, in which case the
    patient is created and the pairs wait in the organization's duplicates queue. A patient creating
    their own record (`self_service`) is never shown other people's records: it is created, and its
    possible duplicates are queued when it registers with a hospital.

    A stated age (when the birth date is unknown) gives an estimated birth date of 1 July of that year,
    flagged as estimated."""
    patient, matches = _prepare(
        ctx,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        estimated_age_years=estimated_age_years,
        confirmed_distinct=confirmed_distinct,
        self_service=self_service,
        **fields,
    )
    with transaction.atomic():
        return _insert(ctx, patient, matches)


def _prepare(
    ctx: Ctx,
    *,
    given_name: str,
    family_name: str,
    birth_date: dt.date | None,
    estimated_age_years: int | None,
    confirmed_distinct: bool,
    self_service: bool,
    **fields: Any,
) -> tuple[Patient, list[mpi.Match]]:
    """Validate a new patient and ask the master patient index, before any transaction opens (so that
    the audit of the candidates shown survives the refusal)."""
    today = timezone.localdate()
    if birth_date is not None and birth_date > today:
        raise ValidationFailed.field("birth_date", "the date of birth is in the future")
    if birth_date is None and estimated_age_years is not None:
        if not 0 <= estimated_age_years <= 130:
            raise ValidationFailed.field("estimated_age_years", "an age between 0 and 130 is expected")
        birth_date, fields["birth_date_estimated"] = dt.date(today.year - estimated_age_years, 7, 1), True
    identifiers = _clean_identifiers(fields)
    patient = Patient(given_name=given_name.strip(), family_name=family_name.strip(), birth_date=birth_date, **fields)
    for kind, value in identifiers.items():
        _set_identifier(patient, kind, value)
    validate(patient)
    matches = [] if self_service else mpi.find_matches(matching.Demographics.of(patient))
    certain = [m for m in matches if m.band == "certain"]
    if certain:
        raise PatientExists(
            "A record of this person already exists: register it here instead of creating another.",
            candidates=[candidate_summary(ctx, m) for m in certain[:5]],
        )
    if matches and not confirmed_distinct:
        raise PossibleDuplicate(
            "Records that may be the same person exist: check them, then confirm this is someone else.",
            candidates=[candidate_summary(ctx, m) for m in matches[:5]],
        )
    return patient, matches


def _insert(ctx: Ctx, patient: Patient, matches: list[mpi.Match]) -> Patient:
    for _ in range(5):  # a random HPN colliding is rare; try again rather than fail
        patient.hpn = hpn.generate()
        if not Patient.objects.filter(hpn=patient.hpn).exists():
            break
    patient.save(force_insert=True)
    audit.record(ctx, "patients.patient.create", target=patient, patient_id=patient.id)
    if matches and ctx.organization_id is not None:
        duplicates_queue(ctx, patient, matches, confirmed=True)
    return patient


def duplicates_queue(ctx: Ctx, patient: Patient, matches: list[mpi.Match], *, confirmed: bool = False) -> int:
    """Queue the pairs of `patient` and those of `matches` registered at `ctx`'s organization (or any
    match, when staff `confirmed` the new record is someone else) for the organization's review."""
    if not matches:
        return 0
    ids = [m.patient.id for m in matches]
    if not confirmed:
        here = PatientRegistration.objects.for_tenant(ctx).filter(patient_id__in=ids).exclude(status="rejected")
        ids = list(here.values_list("patient_id", flat=True))
    queued = 0
    for match in matches:
        if match.patient.id not in ids:
            continue
        low, high = sorted((patient.id, match.patient.id))
        _, created = DuplicateCandidate.objects.for_tenant(ctx).get_or_create(
            organization_id=ctx.organization_id,
            patient_id=low,
            other_id=high,
            defaults={"points": match.score.points, "reasons": list(match.score.reasons)},
        )
        if created:
            queued += 1
            audit.record(ctx, "patients.duplicate.queue", patient_id=patient.id, other=str(match.patient.id))
    return queued


EDITABLE = (
    "given_name",
    "family_name",
    "other_names",
    "birth_date",
    "birth_date_estimated",
    "sex",
    "gender_identity",
    "phone",
    "phone_secondary",
    "email",
    "country",
    "state",
    "city",
    "address_line",
    "preferred_language",
    "secondary_language",
    "marital_status",
    "occupation",
    "blood_type",
    "deceased",
    "deceased_on",
)


def patient_update(*, ctx: Ctx, patient_id: uuid.UUID, **changes: Any) -> Patient:
    """Edit demographics (reception, records officers): only of a patient registered here; audited
    with the names of the fields changed (never their values)."""
    if not ctx.has_perm("patients.demographics.update"):
        raise Forbidden("editing demographics needs the receptionist or records officer role")
    unknown = set(changes) - set(EDITABLE) - set(IDENTIFIERS)
    if unknown:
        raise ValidationFailed.field(sorted(unknown)[0], "this field cannot be changed here")
    if changes.get("birth_date") and changes["birth_date"] > timezone.localdate():
        raise ValidationFailed.field("birth_date", "the date of birth is in the future")
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(id=patient_id, merged_into__isnull=True).first()
        if patient is None or not _registered_here(ctx, patient.id):
            raise NotFound("no such patient")  # SECURITY: not registered here is not found
        identifiers = _clean_identifiers(changes)
        for field, value in changes.items():
            setattr(patient, field, value.strip() if isinstance(value, str) else value)
        for kind, value in identifiers.items():
            _set_identifier(patient, kind, value)
        validate(patient)
        patient.save()
        audit.record(
            ctx,
            "patients.patient.update",
            target=patient,
            patient_id=patient.id,
            fields=sorted([*changes, *identifiers]),
        )
    return patient


def _registered_here(ctx: Ctx, patient_id: uuid.UUID) -> bool:
    return PatientRegistration.objects.for_tenant(ctx).filter(patient_id=patient_id).exclude(status="rejected").exists()


@audit.reads_health_data
def patient_find_by_identifier(*, ctx: Ctx, kind: str, value: str) -> Patient | None:
    """Exact lookup of an encrypted national identifier through its blind index (audited)."""
    if kind not in IDENTIFIERS:
        raise ValidationFailed.field("kind", f"one of {', '.join(IDENTIFIERS)}")
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


def registration_create(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    at_desk: bool,
    proof_hpn: str = "",
    proof_birth_date: dt.date | None = None,
    new_patient: bool = False,
) -> PatientRegistration:
    """Register a patient with `ctx`'s organization: at the reception desk (approved at once, needs
    `patients.registration.manage`) or as the patient's own request from the portal (pending).

    At the desk, a record that already exists (found by search or by the master patient index) is
    registered only with proof that the person is present: their HPN, or their exact date of birth.
    Registration is what lets an organization's staff open a record, so it is never granted on a bare
    id. `new_patient` is for the record reception has just created in the same transaction."""
    if at_desk and not ctx.has_perm("patients.registration.manage"):
        raise Forbidden("registering patients needs the receptionist or records officer role")
    organization = Organization.objects.for_tenant(ctx).first()
    if organization is None or not organization.is_active:
        raise ValidationFailed("This organization does not accept registrations.", code="ORGANIZATION_INACTIVE")
    patient = Patient.objects.filter(id=patient_id).first()
    if patient is None:
        raise NotFound("no such patient")
    if patient.merged_into_id is not None:
        raise Conflict("this record was merged into another: register that one", code="PATIENT_MERGED")
    if not at_desk and (ctx.actor_id is None or patient.user_id != ctx.actor_id):
        raise Forbidden("patients request registration for themselves only")
    if at_desk and proof_hpn and not hpn.is_valid(proof_hpn):
        raise ValidationFailed.field("hpn", "This is not a valid HPN (check the digits).")
    if at_desk and not new_patient:
        proven = (proof_hpn and hpn.normalize(proof_hpn) == patient.hpn) or (
            proof_birth_date is not None and proof_birth_date == patient.birth_date
        )
        if not proven:
            audit.record(ctx, "patients.registration.create", patient_id=patient.id, outcome="denied", why="no proof")
            raise ValidationFailed(
                "Ask the patient for their HPN or date of birth: it does not match the record.",
                code="PROOF_MISMATCH",
                errors=[{"field": "proof_hpn", "message": "HPN or date of birth does not match", "code": "mismatch"}],
            )
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
                decided_by_id=_decider(ctx) if at_desk else None,
                decided_at=timezone.now() if at_desk else None,
            )
            audit.record(ctx, "patients.registration.create", target=registration, patient_id=patient.id)
            duplicates_queue(ctx, patient, mpi.find_matches(matching.Demographics.of(patient), exclude=[patient.id]))
    except IntegrityError as exc:  # the same patient registered here at the same moment
        raise Conflict("the patient is already registered here") from exc
    return registration


def _decider(ctx: Ctx) -> uuid.UUID | None:
    """The user a registration made at the desk names: a client (an interface, an import) names its
    service user; system work names no one."""
    if ctx.is_client:
        return acting_user_id(ctx)
    return ctx.actor_id if ctx.actor_kind == "user" else None


def registration_decide(
    *, ctx: Ctx, registration_id: uuid.UUID, approve: bool, reason: str = ""
) -> PatientRegistration:
    """An administrator approves or rejects (with a reason) a pending registration of their organization."""
    if not ctx.has_perm("patients.registration.approve"):
        raise Forbidden("deciding registrations needs the hospital administrator role")
    if not approve and not reason.strip():
        raise ValidationFailed.field("reason", "say why the registration is rejected")
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


def walk_in_register(*, ctx: Ctx, confirmed_distinct: bool = False, **demographics: Any) -> PatientRegistration:
    """Reception: a new patient, created (after the master patient index is asked) and registered here
    in one transaction."""
    if not ctx.has_perm("patients.registration.manage"):
        raise Forbidden("registering patients needs the receptionist or records officer role")
    demographics.setdefault("birth_date", None)
    demographics.setdefault("estimated_age_years", None)
    patient, matches = _prepare(ctx, confirmed_distinct=confirmed_distinct, self_service=False, **demographics)
    with transaction.atomic():
        _insert(ctx, patient, matches)
        return registration_create(ctx=ctx, patient_id=patient.id, at_desk=True, new_patient=True)


PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_SIDE = 800


def patient_register_from_record(*, ctx: Ctx, **demographics: Any) -> tuple[Patient, str]:
    """Another system's record of a person (an interface, an import), registered here through the
    master patient index, never duplicated: a certain match is that person (registered here unless
    they already are, with their exact date of birth as the proof reception would ask for); a
    possible match raises PossibleDuplicate for staff to decide; no match creates the patient.
    Returns the patient and what happened: "created", "linked" (registered here now) or "existing"."""
    if not ctx.has_perm("patients.registration.manage"):
        raise Forbidden("registering patients needs the receptionist or records officer role")
    try:
        registration = walk_in_register(ctx=ctx, **demographics)
    except PatientExists as exc:
        certain = [c["id"] for c in exc.extra.get("candidates", [])]
        if len(certain) != 1:
            raise PossibleDuplicate(
                "Several records match this person with certainty: staff must decide (merge them first)."
            ) from exc
        patient = Patient.objects.get(id=uuid.UUID(certain[0]))
        if _registered_here(ctx, patient.id):
            return patient, "existing"
        if demographics.get("birth_date") is None:
            raise Conflict(
                "This person is on record but no date of birth proves it: register them at the desk.",
                code="PROOF_MISMATCH",
            ) from exc
        registration_create(ctx=ctx, patient_id=patient.id, at_desk=True, proof_birth_date=demographics["birth_date"])
        return patient, "linked"
    return registration.patient, "created"


def patient_photo_set(*, ctx: Ctx, patient_id: uuid.UUID, data: bytes) -> Patient:
    """Keep a photo of a patient registered here: any common image format, re-encoded by PHB as a JPEG of
    at most 800 px a side, so that nothing of the original file (camera, place, time) is kept."""
    import base64
    import io

    from PIL import Image, UnidentifiedImageError

    if not ctx.has_perm("patients.demographics.update"):
        raise Forbidden("photos are taken at reception")
    if not data or len(data) > PHOTO_MAX_BYTES:
        raise ValidationFailed.field("photo", "an image of at most 5 MB is expected")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
            image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=85)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed.field("photo", "this is not an image PHB can read (JPEG, PNG, WebP...)") from exc
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(id=patient_id, merged_into__isnull=True).first()
        if patient is None or not _registered_here(ctx, patient.id):
            raise NotFound("no such patient")
        patient.photo = base64.b64encode(out.getvalue()).decode()
        patient.save(update_fields=["photo", "updated_at"])
        audit.record(ctx, "patients.photo.update", target=patient, patient_id=patient.id)
    return patient
