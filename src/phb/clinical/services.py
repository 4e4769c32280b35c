"""Every write of the clinical record: encounters (from an appointment's start, or a walk-in) and
their status machine; vital signs recorded as a set, refused whole when one value is impossible,
flagged against the patient's age band, scored with NEWS2 and raising a critical alert; clinical notes
(draft → signed by their author, then immutable) and their addenda; departments' note templates.

Each service checks the permission and the care relationship first (policies), validates before any
write, and writes, audits and publishes in one transaction."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from phb.accounts.models import Membership
from phb.accounts.roles import permissions_for
from phb.clinical import alerts, news2, policies, vitals
from phb.clinical.events import ClinicalNoteSigned, EncounterFinished, EncounterStarted
from phb.clinical.models import (
    NOTE_CONTENT_FIELDS,
    ClinicalNote,
    Encounter,
    EncounterClass,
    EncounterSource,
    EncounterStatus,
    NoteKind,
    NoteStatus,
    NoteTemplate,
    Observation,
    VitalSignsSet,
)
from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.organizations.models import Department
from phb.patients.models import Patient, PatientRegistration, RegistrationStatus
from phb.scheduling.models import Appointment, AppointmentType

NOTE_MAX_CHARS = 20_000
REASON_MAX_CHARS = 2_000
FUTURE_SKEW = dt.timedelta(minutes=5)  # a device clock a little ahead is not an error
TEMPLATES_FILE = Path(__file__).parent / "data" / "note_templates.json"

# encounter status -> the statuses it may become
ENCOUNTER_MOVES: dict[str, frozenset[str]] = {
    EncounterStatus.PLANNED: frozenset({EncounterStatus.IN_PROGRESS, EncounterStatus.CANCELLED}),
    EncounterStatus.IN_PROGRESS: frozenset({EncounterStatus.FINISHED, EncounterStatus.CANCELLED}),
    EncounterStatus.FINISHED: frozenset(),
    EncounterStatus.CANCELLED: frozenset(),
}


def require_access(ctx: Ctx, action: str, patient_id: uuid.UUID, *, write: bool = False) -> policies.Access:
    """The care relationship that lets `ctx` act on the patient's record, or an audited refusal:
    Forbidden without the role, NotFound (indistinguishable from no such patient) without the
    relationship."""
    allowed = policies.can_update(ctx) if write else policies.can_view(ctx)
    if not allowed:
        raise audit.denied(
            ctx, action, Forbidden("the clinical record needs a clinical role"), resource_id=str(patient_id)
        )
    access = policies.care_relationship(ctx, patient_id)
    if access is None:
        # SECURITY: no care relationship, another organization's patient, and no patient look the same.
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    return access


def recorder_id(ctx: Ctx) -> uuid.UUID | None:
    """The user a row names as its recorder (`recorded_by`, `created_by`, ...): a user's own id; for a
    system client of the organization, the client's service user."""
    if ctx.is_client:
        from phb.accounts.public import acting_user_id

        return acting_user_id(ctx)
    return ctx.actor_id


def _basis(access: policies.Access) -> dict[str, Any]:
    return {"break_glass": True} if access.break_glass else {}


def _text(field: str, value: str, *, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationFailed.field(field, f"at most {limit} characters", code="too_long")
    return value


# --------------------------------------------------------------------------------------------------
# Encounters
# --------------------------------------------------------------------------------------------------


def _registered_here(ctx: Ctx, patient_id: uuid.UUID) -> bool:
    return (
        PatientRegistration.objects.for_tenant(ctx)
        .filter(patient_id=patient_id, status__in=[RegistrationStatus.PENDING, RegistrationStatus.APPROVED])
        .exists()
    )


def _is_clinician_here(ctx: Ctx, user_id: uuid.UUID) -> bool:
    membership = Membership.objects.for_tenant(ctx).filter(user_id=user_id, is_active=True).first()
    return membership is not None and policies.UPDATE in permissions_for(membership.roles)


def encounter_start_walk_in(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    department_id: uuid.UUID,
    reason: str = "",
    attending_id: uuid.UUID | None = None,
    start_now: bool = True,
) -> Encounter:
    """An outpatient encounter for a patient registered here who came without an appointment. The
    attending clinician defaults to the clinician who starts it."""
    action = "clinical.encounter.start_walk_in"
    if not policies.can_start_walk_in(ctx):
        raise audit.denied(ctx, action, Forbidden("starting a visit needs a clinical or reception role"))
    if not _registered_here(ctx, patient_id):
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    reason = _text("reason", reason, limit=REASON_MAX_CHARS)
    department = Department.objects.for_tenant(ctx).filter(id=department_id, is_active=True).first()
    if department is None:
        raise ValidationFailed.field("department_id", "no such department here", code="unknown_department")
    if attending_id is None and ctx.has_perm(policies.UPDATE):
        attending_id = ctx.actor_id
    if attending_id is not None and not _is_clinician_here(ctx, attending_id):
        raise ValidationFailed.field("attending_id", "not a clinician of this organization", code="not_a_clinician")
    now = timezone.now()
    with audit.atomic():
        open_here = Encounter.objects.for_tenant(ctx).filter(
            patient_id=patient_id,
            department=department,
            status__in=[EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS],
        )
        if open_here.exists():
            raise Conflict("the patient already has an open visit in this department", code="ENCOUNTER_OPEN")
        encounter = Encounter.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            encounter_class=EncounterClass.AMBULATORY,
            source=EncounterSource.WALK_IN,
            status=EncounterStatus.IN_PROGRESS if start_now else EncounterStatus.PLANNED,
            attending_id=attending_id,
            department=department,
            reason=reason,
            started_at=now if start_now else None,
            created_by_id=ctx.actor_id,
        )
        audit.record(ctx, action, target=encounter, patient_id=patient_id)
        if start_now:
            _published_start(ctx, encounter)
    return encounter


def _published_start(ctx: Ctx, encounter: Encounter) -> None:
    events.publish(
        ctx,
        EncounterStarted(
            encounter_id=encounter.id, organization_id=encounter.organization_id, patient_id=encounter.patient_id
        ),
    )


def _move(ctx: Ctx, encounter: Encounter, to_status: str, action: str, *, reason: str = "") -> Encounter:
    if to_status not in ENCOUNTER_MOVES[encounter.status]:
        raise Conflict(
            f"an encounter that is {encounter.status} cannot become {to_status}",
            code="ILLEGAL_TRANSITION",
            from_status=encounter.status,
            to_status=to_status,
        )
    now = timezone.now()
    from_status = encounter.status
    encounter.status = to_status
    fields = ["status", "updated_at"]
    if to_status == EncounterStatus.IN_PROGRESS:
        encounter.started_at = now
        fields.append("started_at")
    else:
        encounter.ended_at = max(now, encounter.started_at) if encounter.started_at else now
        fields.append("ended_at")
    if to_status == EncounterStatus.CANCELLED:
        encounter.cancel_reason = reason
        fields.append("cancel_reason")
    encounter.save(update_fields=fields)
    audit.record(
        ctx, action, target=encounter, patient_id=encounter.patient_id, from_status=from_status, to_status=to_status
    )
    if to_status == EncounterStatus.IN_PROGRESS:
        _published_start(ctx, encounter)
    else:
        events.publish(
            ctx,
            EncounterFinished(
                encounter_id=encounter.id,
                organization_id=encounter.organization_id,
                patient_id=encounter.patient_id,
                status=to_status,
            ),
        )
    return encounter


def _encounter_for_change(ctx: Ctx, action: str, encounter_id: uuid.UUID) -> Encounter:
    """The encounter, locked, after the role and care checks (audited refusals)."""
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    encounter = Encounter.objects.for_tenant(ctx).select_for_update().filter(id=encounter_id).first()
    if encounter is None:
        raise audit.denied(ctx, action, NotFound("no such encounter"), resource_id=str(encounter_id))
    require_access(ctx, action, encounter.patient_id, write=True)
    return encounter


def encounter_start(*, ctx: Ctx, encounter_id: uuid.UUID) -> Encounter:
    """A planned encounter begins."""
    action = "clinical.encounter.start"
    with audit.atomic():
        return _move(ctx, _encounter_for_change(ctx, action, encounter_id), EncounterStatus.IN_PROGRESS, action)


def encounter_finish(*, ctx: Ctx, encounter_id: uuid.UUID) -> Encounter:
    """The visit is over."""
    action = "clinical.encounter.finish"
    with audit.atomic():
        return _move(ctx, _encounter_for_change(ctx, action, encounter_id), EncounterStatus.FINISHED, action)


def encounter_cancel(*, ctx: Ctx, encounter_id: uuid.UUID, reason: str) -> Encounter:
    """The encounter did not (or will not) go on; say why."""
    action = "clinical.encounter.cancel"
    reason = _text("reason", reason, limit=REASON_MAX_CHARS)
    if not reason:
        raise ValidationFailed.field("reason", "say why", code="required")
    with audit.atomic():
        encounter = _encounter_for_change(ctx, action, encounter_id)
        return _move(ctx, encounter, EncounterStatus.CANCELLED, action, reason=reason)


def encounter_from_appointment(*, ctx: Ctx, appointment_id: uuid.UUID) -> Encounter | None:
    """The appointment started: its encounter, created once however often this is called (None when
    the appointment is not found). `ctx` is a system context bound to the appointment's organization."""
    existing = Encounter.objects.for_tenant(ctx).filter(appointment_id=appointment_id).first()
    if existing is not None:
        return existing
    row = (
        Appointment.objects.for_tenant(ctx)
        .filter(id=appointment_id)
        .values("patient_id", "department_id", "kind", "chief_complaint", "practitioner__user_id")
        .first()
    )
    if row is None:
        return None
    try:
        with audit.atomic():
            encounter = Encounter.objects.create(
                organization_id=ctx.organization_id,
                patient_id=row["patient_id"],
                encounter_class=EncounterClass.VIRTUAL
                if row["kind"] == AppointmentType.TELEMEDICINE
                else EncounterClass.AMBULATORY,
                source=EncounterSource.APPOINTMENT,
                appointment_id=appointment_id,
                status=EncounterStatus.IN_PROGRESS,
                attending_id=row["practitioner__user_id"],
                department_id=row["department_id"],
                reason=_appointment_reason(row["chief_complaint"]),
                started_at=timezone.now(),
            )
            audit.record(ctx, "clinical.encounter.start", target=encounter, patient_id=encounter.patient_id)
            _published_start(ctx, encounter)
    except IntegrityError:  # delivered twice at the same moment: the other delivery created it
        return Encounter.objects.for_tenant(ctx).filter(appointment_id=appointment_id).first()
    return encounter


def _appointment_reason(complaint: Any) -> str:
    # The appointment's complaint is decrypted by `values()`; it stays encrypted in the encounter.
    return str(complaint or "")[:REASON_MAX_CHARS]


def encounter_finish_for_appointment(*, ctx: Ctx, appointment_id: uuid.UUID) -> Encounter | None:
    """The appointment was completed (or referred on from the consultation): its encounter finishes.
    Idempotent: a finished or cancelled encounter stays as it is."""
    with audit.atomic():
        encounter = Encounter.objects.for_tenant(ctx).select_for_update().filter(appointment_id=appointment_id).first()
        if encounter is None or encounter.status not in (EncounterStatus.IN_PROGRESS, EncounterStatus.PLANNED):
            return encounter
        target = (
            EncounterStatus.FINISHED if encounter.status == EncounterStatus.IN_PROGRESS else EncounterStatus.CANCELLED
        )
        return _move(ctx, encounter, target, "clinical.encounter.finish", reason="the appointment ended")


# --------------------------------------------------------------------------------------------------
# Vital signs
# --------------------------------------------------------------------------------------------------


def _clean_value(sign: vitals.VitalSign, raw: Any) -> tuple[Decimal | str | None, dict[str, str] | None]:
    """(value, None) or (None, error) for one typed value."""
    if sign.coded:
        code = str(raw).strip().upper() if isinstance(raw, str) else ""
        if code not in sign.coded:
            return None, {
                "field": sign.name,
                "message": f"{sign.display}: one of {', '.join(sign.coded)}",
                "code": "unknown_code",
            }
        return code, None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None, {"field": sign.name, "message": f"{sign.display} must be a number", "code": "not_a_number"}
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None, {"field": sign.name, "message": f"{sign.display} must be a number", "code": "not_a_number"}
    if not value.is_finite():
        return None, {"field": sign.name, "message": f"{sign.display} must be a number", "code": "not_a_number"}
    if sign.whole and value != value.to_integral_value():
        return None, {
            "field": sign.name,
            "message": f"{sign.display} is a whole number",
            "code": "not_a_whole_number",
        }
    value = value.quantize(Decimal(1).scaleb(-sign.decimals) if not sign.whole else Decimal(1), rounding=ROUND_HALF_UP)
    if (sign.minimum is not None and value < sign.minimum) or (sign.maximum is not None and value > sign.maximum):
        return None, {
            "field": sign.name,
            "message": f"{sign.display} must be between {sign.minimum} and {sign.maximum} {sign.unit}".strip(),
            "code": "out_of_physiological_range",
        }
    return value, None


def clean_vital_signs(values: Mapping[str, Any]) -> dict[str, Decimal | str]:
    """Every typed value checked against its physiological bounds; one error per bad field, all
    raised together (nothing is written when any is bad)."""
    cleaned: dict[str, Decimal | str] = {}
    errors: list[dict[str, str]] = []
    for name, raw in values.items():
        if raw is None or raw == "":
            continue
        sign = vitals.BY_NAME.get(name)
        if sign is None or name not in vitals.RECORDABLE:
            errors.append({"field": name, "message": "not a vital sign PHB records", "code": "unknown_vital_sign"})
            continue
        value, error = _clean_value(sign, raw)
        if error is not None:
            errors.append(error)
        else:
            assert value is not None
            cleaned[name] = value
    systolic, diastolic = cleaned.get("systolic_bp"), cleaned.get("diastolic_bp")
    if isinstance(systolic, Decimal) and isinstance(diastolic, Decimal) and diastolic >= systolic:
        errors.append(
            {
                "field": "diastolic_bp",
                "message": "the diastolic pressure must be below the systolic",
                "code": "diastolic_not_below_systolic",
            }
        )
    if errors:
        raise ValidationFailed("Some vital signs are not possible values; nothing was recorded.", errors=errors)
    if not cleaned:
        raise ValidationFailed.field("values", "record at least one vital sign", code="required")
    return cleaned


def _bmi(weight: Decimal, height_cm: Decimal) -> Decimal:
    metres = height_cm / 100
    return (weight / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


NEWS2_INPUTS = ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "consciousness", "temperature")


def vital_signs_record(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    values: Mapping[str, Any],
    encounter_id: uuid.UUID | None = None,
    effective_at: dt.datetime | None = None,
    on_supplemental_oxygen: bool | None = None,
    hypercapnic_respiratory_failure: bool = False,
) -> VitalSignsSet:
    """Record a set of vital signs taken together. Impossible values refuse the whole set; values
    outside the reference range for the patient's age band are flagged; BMI is derived from weight
    and height; a complete adult set gets its NEWS2; critical values (or a high NEWS2) raise a
    critical alert to the responsible clinician."""
    action = "clinical.vital_signs.record"
    if not policies.can_record_vitals(ctx):
        raise audit.denied(ctx, action, Forbidden("recording vital signs needs a clinical role"))
    access = policies.care_relationship(ctx, patient_id)
    if access is None:
        raise audit.denied(ctx, action, NotFound("no such patient"), resource_id=str(patient_id))
    cleaned = clean_vital_signs(values)
    now = timezone.now()
    effective_at = effective_at or now
    if effective_at > now + FUTURE_SKEW:
        raise ValidationFailed.field("effective_at", "the observations cannot be in the future", code="in_the_future")
    birth_date = Patient.objects.filter(id=patient_id).values_list("birth_date", flat=True).first()
    band = vitals.age_band(birth_date, effective_at.date())
    scale = 2 if hypercapnic_respiratory_failure else 1
    if isinstance(cleaned.get("weight"), Decimal) and isinstance(cleaned.get("height"), Decimal):
        cleaned["bmi"] = _bmi(cleaned["weight"], cleaned["height"])  # type: ignore[arg-type]
    with audit.atomic():
        encounter = None
        if encounter_id is not None:
            encounter = Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).first()
            if encounter is None:
                raise ValidationFailed.field(
                    "encounter_id", "not an encounter of this patient here", code="unknown_encounter"
                )
            if encounter.status not in (EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS):
                raise Conflict(f"the encounter is {encounter.status}", code="ENCOUNTER_CLOSED")
        vital_set = VitalSignsSet(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            encounter=encounter,
            effective_at=effective_at,
            recorded_by_id=ctx.actor_id,
            on_supplemental_oxygen=on_supplemental_oxygen,
            spo2_scale=scale,
            age_band=band,
        )
        if (
            all(name in cleaned for name in NEWS2_INPUTS)
            and on_supplemental_oxygen is not None
            and vitals.is_adult_for_news2(birth_date, effective_at.date())
        ):
            result = news2.score(
                news2.Observations(
                    respiration_rate=cleaned["respiratory_rate"],  # type: ignore[arg-type]
                    spo2=cleaned["spo2"],  # type: ignore[arg-type]
                    on_oxygen=on_supplemental_oxygen,
                    systolic_bp=cleaned["systolic_bp"],  # type: ignore[arg-type]
                    pulse=cleaned["heart_rate"],  # type: ignore[arg-type]
                    consciousness=str(cleaned["consciousness"]),
                    temperature=cleaned["temperature"],  # type: ignore[arg-type]
                    spo2_scale=scale,
                )
            )
            vital_set.news2_score = result.aggregate
            vital_set.news2_subscores = result.subscores
            vital_set.news2_single_parameter_3 = result.single_parameter_3
            vital_set.news2_response = result.response.value
        vital_set.save(force_insert=True)
        observations = []
        for name, value in cleaned.items():
            sign = vitals.BY_NAME[name]
            meaning = vitals.interpret(sign, value, band, spo2_scale=scale)
            observations.append(
                Observation(
                    organization_id=ctx.organization_id,
                    patient_id=patient_id,
                    encounter=encounter,
                    vital_set=vital_set,
                    code=sign.code,
                    value_numeric=value if isinstance(value, Decimal) else None,
                    value_code=value if isinstance(value, str) else "",
                    unit=sign.unit,
                    effective_at=effective_at,
                    recorded_by_id=ctx.actor_id,
                    interpretation=meaning.flag,
                    reference_low=meaning.reference[0] if meaning.reference else None,
                    reference_high=meaning.reference[1] if meaning.reference else None,
                    derived=name == "bmi",
                )
            )
        Observation.objects.for_tenant(ctx).bulk_create(observations)
        audit.record(
            ctx,
            action,
            target=vital_set,
            patient_id=patient_id,
            codes=sorted(o.code for o in observations),
            **_basis(access),
        )
        findings = [
            {"code": o.code, "flag": o.interpretation} for o in observations if o.interpretation in vitals.CRITICAL
        ]
        if vital_set.news2_response == news2.Response.HIGH:
            findings.append({"code": "news2", "flag": news2.Response.HIGH.value})
        if findings:
            alerts.critical_alert_raise(ctx=ctx, vital_set=vital_set, encounter=encounter, findings=findings)
    vital_set.prefetched = observations  # type: ignore[attr-defined]
    return vital_set


# --------------------------------------------------------------------------------------------------
# Clinical notes
# --------------------------------------------------------------------------------------------------


def _sections(data: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(data) - set(NOTE_CONTENT_FIELDS))
    if unknown:
        raise ValidationFailed.field(unknown[0], "not a section of a note", code="unknown_section")
    return {name: _text(name, str(value or ""), limit=NOTE_MAX_CHARS) for name, value in data.items()}


def note_create(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    kind: str = NoteKind.SOAP,
    encounter_id: uuid.UUID | None = None,
    template_id: uuid.UUID | None = None,
    **sections: str,
) -> ClinicalNote:
    """A draft note by `ctx`'s clinician: SOAP sections, or free text."""
    action = "clinical.note.create"
    access = require_access(ctx, action, patient_id, write=True)
    if kind not in (NoteKind.SOAP, NoteKind.FREE):
        raise ValidationFailed.field("kind", "a note is soap or free (addenda are added to a signed note)")
    content = _sections(sections)
    with audit.atomic():
        encounter = None
        if encounter_id is not None:
            encounter = Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).first()
            if encounter is None:
                raise ValidationFailed.field(
                    "encounter_id", "not an encounter of this patient here", code="unknown_encounter"
                )
        template = None
        if template_id is not None:
            template = NoteTemplate.objects.for_tenant(ctx).filter(id=template_id, is_active=True).first()
            if template is None:
                raise ValidationFailed.field("template_id", "no such template here", code="unknown_template")
        note = ClinicalNote.objects.create(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            encounter=encounter,
            author_id=ctx.actor_id,
            kind=kind,
            template=template,
            **content,
        )
        audit.record(ctx, action, target=note, patient_id=patient_id, **_basis(access))
    return note


def _own_draft(ctx: Ctx, action: str, note_id: uuid.UUID) -> ClinicalNote:
    """The note, locked, when `ctx`'s clinician may change it: their own draft. A signed note is a
    conflict; anyone else's draft is not found (drafts are private to their author)."""
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    note = ClinicalNote.objects.for_tenant(ctx).select_for_update().filter(id=note_id).first()
    if note is None or (note.status == NoteStatus.DRAFT and note.author_id != ctx.actor_id):
        raise audit.denied(ctx, action, NotFound("no such note"), resource_id=str(note_id))
    require_access(ctx, action, note.patient_id, write=True)
    if note.status == NoteStatus.SIGNED:
        raise audit.denied(
            ctx,
            action,
            Conflict("a signed note cannot change: add an addendum", code="NOTE_SIGNED"),
            resource_id=str(note_id),
        )
    return note


def note_update(*, ctx: Ctx, note_id: uuid.UUID, **sections: str) -> ClinicalNote:
    """Change sections of one's own draft."""
    action = "clinical.note.update"
    content = _sections(sections)
    with audit.atomic():
        note = _own_draft(ctx, action, note_id)
        for name, value in content.items():
            setattr(note, name, value)
        note.save(update_fields=[*content, "updated_at"])
        audit.record(ctx, action, target=note, patient_id=note.patient_id, sections=sorted(content))
    return note


def note_sign(*, ctx: Ctx, note_id: uuid.UUID) -> ClinicalNote:
    """The author signs their draft: from now on it never changes."""
    action = "clinical.note.sign"
    with audit.atomic():
        note = _own_draft(ctx, action, note_id)
        if not any(getattr(note, name).strip() for name in NOTE_CONTENT_FIELDS):
            raise ValidationFailed.field("text", "an empty note cannot be signed", code="note_empty")
        note.status, note.signed_at = NoteStatus.SIGNED, timezone.now()
        note.save(update_fields=["status", "signed_at", "updated_at"])
        audit.record(ctx, action, target=note, patient_id=note.patient_id)
        events.publish(
            ctx, ClinicalNoteSigned(note_id=note.id, organization_id=note.organization_id, patient_id=note.patient_id)
        )
    return note


def note_addendum_add(*, ctx: Ctx, note_id: uuid.UUID, text: str) -> ClinicalNote:
    """A correction or addition to a signed note: an addendum, signed by its writer as it is added,
    linked to the note (to the original note when an addendum is amended)."""
    action = "clinical.note.addendum"
    text = _text("text", text, limit=NOTE_MAX_CHARS)
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    note = ClinicalNote.objects.for_tenant(ctx).filter(id=note_id).first()
    if note is None or (note.status == NoteStatus.DRAFT and note.author_id != ctx.actor_id):
        raise audit.denied(ctx, action, NotFound("no such note"), resource_id=str(note_id))
    access = require_access(ctx, action, note.patient_id, write=True)
    if note.status != NoteStatus.SIGNED:
        raise Conflict("a draft is edited, not amended", code="NOTE_NOT_SIGNED")
    if not text:
        raise ValidationFailed.field("text", "write the addendum", code="required")
    with audit.atomic():
        addendum = ClinicalNote.objects.create(
            organization_id=ctx.organization_id,
            patient_id=note.patient_id,
            encounter_id=note.encounter_id,
            author_id=ctx.actor_id,
            kind=NoteKind.ADDENDUM,
            amends_id=note.amends_id or note.id,
            text=text,
            status=NoteStatus.SIGNED,
            signed_at=timezone.now(),
        )
        audit.record(
            ctx, action, target=addendum, patient_id=note.patient_id, amends=str(addendum.amends_id), **_basis(access)
        )
        events.publish(
            ctx,
            ClinicalNoteSigned(
                note_id=addendum.id, organization_id=addendum.organization_id, patient_id=addendum.patient_id
            ),
        )
    return addendum


# --------------------------------------------------------------------------------------------------
# Note templates
# --------------------------------------------------------------------------------------------------


def default_templates() -> list[dict[str, Any]]:
    """The shipped defaults: one general template and one per common department kind."""
    return list(json.loads(TEMPLATES_FILE.read_text())["templates"])


def note_templates_seed(*, ctx: Ctx) -> int:
    """Give `ctx`'s organization the default templates it lacks (idempotent); returns how many were added."""
    have = set(NoteTemplate.objects.for_tenant(ctx).values_list("department_kind", "name"))
    missing = [
        NoteTemplate(
            organization_id=ctx.organization_id,
            name=t["name"],
            department_kind=t["department_kind"],
            sections=t["sections"],
        )
        for t in default_templates()
        if (t["department_kind"], t["name"]) not in have
    ]
    if missing:
        with audit.atomic():
            NoteTemplate.objects.for_tenant(ctx).bulk_create(missing, ignore_conflicts=True)
    return len(missing)


# --------------------------------------------------------------------------------------------------
# Chart: the encounter of a started appointment, when the clinician is faster than the event
# --------------------------------------------------------------------------------------------------


def encounter_for_started_appointment_ensure(*, ctx: Ctx, appointment_id: uuid.UUID) -> bool:
    """Make the encounter of an in-progress appointment now, as the start's handler will (idempotent),
    when a clinician of the organization opens it before the event was delivered. False when the
    appointment is not in progress here or `ctx` is no clinician."""
    from phb.scheduling.models import AppointmentStatus

    if not policies.can_view(ctx):
        return False
    started = (
        Appointment.objects.for_tenant(ctx).filter(id=appointment_id, status=AppointmentStatus.IN_PROGRESS).exists()
    )
    if not started:
        return False
    system = Ctx.system(reason="clinical: encounter of an appointment", organization_id=ctx.organization_id)
    return encounter_from_appointment(ctx=system, appointment_id=appointment_id) is not None
