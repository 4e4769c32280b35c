"""Diagnoses and problems: services (add, change) and audited selectors (a patient's list, one).

A diagnosis is coded: system + code + display. ICD-10-CM codes are checked against the shipped code
list (`terminology.public.validate_coding`: an unknown, inactive or non-billable code is refused);
SNOMED CT (what Synthea's conditions arrive in) and ICD-10 are stored as given once well-formed, with a
display, since PHB does not hold them. Status moves:

    active -> resolved | ruled_out | entered_in_error
    resolved -> active (a recurrence) | entered_in_error
    ruled_out -> active | entered_in_error
    entered_in_error -> (final)

The problem list holds one active entry per code; an encounter diagnosis belongs to an open encounter
of the patient. Same gate as the rest of the record: the care relationship (policies), audited."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone

from phb.clinical import policies
from phb.clinical.models import (
    Diagnosis,
    DiagnosisCategory,
    DiagnosisSeverity,
    DiagnosisStatus,
    Encounter,
    EncounterSource,
    EncounterStatus,
)
from phb.clinical.services import _is_clinician_here, recorder_id, require_access
from phb.kernel import audit
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.terminology.public import ICD10_CM, SNOMED_CT, validate_coding

ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
SYSTEMS = {"icd10-cm": ICD10_CM, "snomed-ct": SNOMED_CT, "icd-10": ICD10_WHO}
ACCEPTED_SYSTEMS = frozenset(SYSTEMS.values())
NOTE_MAX_CHARS = 5_000
MAX_LIMIT = 200

STATUS_MOVES: dict[str, frozenset[str]] = {
    DiagnosisStatus.ACTIVE: frozenset(
        {DiagnosisStatus.RESOLVED, DiagnosisStatus.RULED_OUT, DiagnosisStatus.ENTERED_IN_ERROR}
    ),
    DiagnosisStatus.RESOLVED: frozenset({DiagnosisStatus.ACTIVE, DiagnosisStatus.ENTERED_IN_ERROR}),
    DiagnosisStatus.RULED_OUT: frozenset({DiagnosisStatus.ACTIVE, DiagnosisStatus.ENTERED_IN_ERROR}),
    DiagnosisStatus.ENTERED_IN_ERROR: frozenset(),
}


def _basis(access: policies.Access) -> dict[str, Any]:
    return {"break_glass": True} if access.break_glass else {}


def clean_coding(system: str, code: str, display: str = "") -> tuple[str, str, str]:
    """(system URI, canonical code, display), or ValidationFailed with stable codes."""
    system = SYSTEMS.get((system or "").strip().lower(), (system or "").strip())
    if system not in ACCEPTED_SYSTEMS:
        raise ValidationFailed.field(
            "system", "a diagnosis is coded in ICD-10-CM, SNOMED CT or ICD-10", code="unsupported_system"
        )
    coding = validate_coding(system, code, display, field="", selectable=system == ICD10_CM)
    if not coding.display:
        raise ValidationFailed.field("display", "say what the code means", code="required")
    return coding.system, coding.code, coding.display


def _date(field: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationFailed.field(field, "a date (YYYY-MM-DD)", code="invalid_date") from None
    if not isinstance(value, dt.date):
        raise ValidationFailed.field(field, "a date (YYYY-MM-DD)", code="invalid_date")
    if value > timezone.localdate() + dt.timedelta(days=1):
        raise ValidationFailed.field(field, "cannot be in the future", code="in_the_future")
    return value


def _choice(field: str, value: Any, allowed: list[str], *, blank: bool = False) -> str:
    value = (value or "") if isinstance(value, str | type(None)) else value
    if not isinstance(value, str) or (value not in allowed and not (blank and value == "")):
        raise ValidationFailed.field(field, f"one of {', '.join(allowed)}", code="invalid_choice")
    return value


def _note(value: Any) -> str:
    value = str(value or "").strip()
    if len(value) > NOTE_MAX_CHARS:
        raise ValidationFailed.field("note", f"at most {NOTE_MAX_CHARS} characters", code="too_long")
    return value


def _check_dates(status: str, onset: dt.date | None, abatement: dt.date | None) -> None:
    if onset and abatement and abatement < onset:
        raise ValidationFailed.field("abatement_date", "cannot be before the onset", code="abates_before_onset")
    if abatement and status == DiagnosisStatus.ACTIVE:
        raise ValidationFailed.field(
            "abatement_date", "an active diagnosis has not abated", code="abatement_while_active"
        )


def diagnosis_add(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    system: str,
    code: str,
    display: str = "",
    category: str = DiagnosisCategory.ENCOUNTER_DIAGNOSIS,
    clinical_status: str = DiagnosisStatus.ACTIVE,
    severity: str = "",
    onset_date: Any = None,
    abatement_date: Any = None,
    encounter_id: uuid.UUID | None = None,
    diagnosed_by_id: uuid.UUID | None = None,
    note: str = "",
) -> Diagnosis:
    """Record a diagnosis or problem. Everything is checked before anything is written."""
    action = "clinical.diagnosis.add"
    access = require_access(ctx, action, patient_id, write=True)
    system, code, display = clean_coding(system, code, display)
    category = _choice("category", category, DiagnosisCategory.values)
    clinical_status = _choice(
        "clinical_status",
        clinical_status,
        [DiagnosisStatus.ACTIVE, DiagnosisStatus.RESOLVED, DiagnosisStatus.RULED_OUT],
    )
    severity = _choice("severity", severity, DiagnosisSeverity.values, blank=True)
    onset, abatement = _date("onset_date", onset_date), _date("abatement_date", abatement_date)
    _check_dates(clinical_status, onset, abatement)
    note = _note(note)
    recorder = recorder_id(ctx)
    diagnosed_by_id = diagnosed_by_id or recorder
    if diagnosed_by_id != recorder and not _is_clinician_here(ctx, diagnosed_by_id):  # type: ignore[arg-type]
        raise ValidationFailed.field("diagnosed_by_id", "not a clinician of this organization", code="not_a_clinician")
    if category == DiagnosisCategory.ENCOUNTER_DIAGNOSIS and encounter_id is None:
        raise ValidationFailed.field("encounter_id", "an encounter diagnosis names its encounter", code="required")
    with audit.atomic():
        encounter = None
        if encounter_id is not None:
            encounter = Encounter.objects.for_tenant(ctx).filter(id=encounter_id, patient_id=patient_id).first()
            if encounter is None:
                raise ValidationFailed.field(
                    "encounter_id", "not an encounter of this patient here", code="unknown_encounter"
                )
            # An encounter recorded from another system brings its diagnoses after it ended.
            if (
                category == DiagnosisCategory.ENCOUNTER_DIAGNOSIS
                and encounter.source != EncounterSource.EXTERNAL
                and encounter.status not in (EncounterStatus.PLANNED, EncounterStatus.IN_PROGRESS)
            ):
                raise Conflict(f"the encounter is {encounter.status}", code="ENCOUNTER_CLOSED")
        diagnosis = Diagnosis(
            organization_id=ctx.organization_id,
            patient_id=patient_id,
            encounter=encounter,
            system=system,
            code=code,
            display=display,
            clinical_status=clinical_status,
            category=category,
            severity=severity,
            onset_date=onset,
            abatement_date=abatement,
            diagnosed_by_id=diagnosed_by_id,
            recorded_at=timezone.now(),
            note=note,
        )
        try:
            with audit.atomic():
                diagnosis.save(force_insert=True)
        except IntegrityError:
            raise Conflict(
                "this problem is already on the patient's active problem list", code="DIAGNOSIS_DUPLICATE"
            ) from None
        audit.record(ctx, action, target=diagnosis, patient_id=patient_id, system=system, code=code, **_basis(access))
    return diagnosis


UPDATABLE = ("clinical_status", "severity", "onset_date", "abatement_date", "note", "category")


def diagnosis_update(*, ctx: Ctx, diagnosis_id: uuid.UUID, **changes: Any) -> Diagnosis:
    """Change a diagnosis's status (along STATUS_MOVES), severity, dates, category or note. The coding
    never changes: a wrong code is entered in error, and the right one added."""
    action = "clinical.diagnosis.update"
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationFailed.field(unknown[0], "cannot be changed", code="not_updatable")
    if not policies.can_update(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    with audit.atomic():
        diagnosis = Diagnosis.objects.for_tenant(ctx).select_for_update().filter(id=diagnosis_id).first()
        if diagnosis is None:
            raise audit.denied(ctx, action, NotFound("no such diagnosis"), resource_id=str(diagnosis_id))
        access = require_access(ctx, action, diagnosis.patient_id, write=True)
        fields: list[str] = []
        from_status = diagnosis.clinical_status
        if "clinical_status" in changes:
            to_status = _choice("clinical_status", changes["clinical_status"], DiagnosisStatus.values)
            if to_status != from_status:
                if to_status not in STATUS_MOVES[from_status]:
                    raise Conflict(
                        f"a diagnosis that is {from_status} cannot become {to_status}",
                        code="ILLEGAL_TRANSITION",
                        from_status=from_status,
                        to_status=to_status,
                    )
                diagnosis.clinical_status = to_status
                fields.append("clinical_status")
                if to_status == DiagnosisStatus.ACTIVE and "abatement_date" not in changes:
                    diagnosis.abatement_date = None  # a recurrence has not abated
                    fields.append("abatement_date")
        elif from_status == DiagnosisStatus.ENTERED_IN_ERROR:
            raise Conflict("a diagnosis entered in error does not change", code="ILLEGAL_TRANSITION")
        if "severity" in changes:
            diagnosis.severity = _choice("severity", changes["severity"], DiagnosisSeverity.values, blank=True)
            fields.append("severity")
        if "category" in changes:
            diagnosis.category = _choice("category", changes["category"], DiagnosisCategory.values)
            fields.append("category")
        for name in ("onset_date", "abatement_date"):
            if name in changes:
                setattr(diagnosis, name, _date(name, changes[name]))
                fields.append(name)
        if "note" in changes:
            diagnosis.note = _note(changes["note"])
            fields.append("note")
        _check_dates(diagnosis.clinical_status, diagnosis.onset_date, diagnosis.abatement_date)
        if not fields:
            return diagnosis
        try:
            with audit.atomic():
                diagnosis.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
        except IntegrityError:
            raise Conflict(
                "this problem is already on the patient's active problem list", code="DIAGNOSIS_DUPLICATE"
            ) from None
        audit.record(
            ctx,
            action,
            target=diagnosis,
            patient_id=diagnosis.patient_id,
            fields=sorted(set(fields)),
            from_status=from_status,
            to_status=diagnosis.clinical_status,
            **_basis(access),
        )
    return diagnosis


# --- reads ------------------------------------------------------------------------------------------


@audit.reads_health_data
def diagnosis_list(
    *,
    ctx: Ctx,
    patient_id: uuid.UUID,
    clinical_status: str = "",
    category: str = "",
    encounter_id: uuid.UUID | None = None,
    include_entered_in_error: bool = False,
) -> QuerySet[Diagnosis]:
    """A patient's diagnoses here, latest first (entered-in-error ones only when asked)."""
    action = "clinical.diagnosis.list"
    access = require_access(ctx, action, patient_id)
    if clinical_status:
        clinical_status = _choice("clinical_status", clinical_status, DiagnosisStatus.values)
    if category:
        category = _choice("category", category, DiagnosisCategory.values)
    found = Diagnosis.objects.for_tenant(ctx).filter(patient_id=patient_id)
    if clinical_status:
        found = found.filter(clinical_status=clinical_status)
    elif not include_entered_in_error:
        found = found.exclude(clinical_status=DiagnosisStatus.ENTERED_IN_ERROR)
    if category:
        found = found.filter(category=category)
    if encounter_id is not None:
        found = found.filter(encounter_id=encounter_id)
    audit.record(ctx, action, patient_id=patient_id, read=True, **_basis(access))
    return found.select_related("diagnosed_by").order_by("-recorded_at", "-id")


@audit.reads_health_data
def diagnosis_get(*, ctx: Ctx, diagnosis_id: uuid.UUID) -> Diagnosis:
    """One diagnosis of a patient one may read."""
    action = "clinical.diagnosis.read"
    if not policies.can_view(ctx):
        raise audit.denied(ctx, action, Forbidden("the clinical record needs a clinical role"))
    diagnosis = Diagnosis.objects.for_tenant(ctx).select_related("diagnosed_by").filter(id=diagnosis_id).first()
    if diagnosis is None:
        raise audit.denied(ctx, action, NotFound("no such diagnosis"), resource_id=str(diagnosis_id))
    access = require_access(ctx, action, diagnosis.patient_id)
    audit.record(ctx, action, target=diagnosis, patient_id=diagnosis.patient_id, read=True, **_basis(access))
    return diagnosis
