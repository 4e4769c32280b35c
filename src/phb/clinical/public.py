"""What other apps may use of the clinical record."""

from phb.clinical.news2 import score as news2_score
from phb.clinical.policies import care_relationship

__all__ = ["care_relationship", "news2_score"]

# --- documents: keep a file on a patient's record (a photo of a reported symptom, ...) -------------
from phb.clinical.documents import DocumentContent, document_open, document_store

__all__ += ["DocumentContent", "document_open", "document_store"]


# --- allergies and intolerances, history, immunizations -------------------------------------------
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from phb.clinical import history_selectors  # noqa: E402
from phb.clinical.history_selectors import allergy_summary, history_summary, immunization_summary  # noqa: E402
from phb.kernel.context import Ctx  # noqa: E402
from phb.terminology.public import Coding  # noqa: E402


@dataclass(frozen=True)
class ActiveAllergy:
    """An allergy that should stop a prescriber. `coding` is None for a substance known only by
    `text`; `criticality` is "high", "low", "unable-to-assess" or "" (not assessed)."""

    allergy_id: uuid.UUID
    coding: Coding | None
    text: str
    category: str
    type: str
    criticality: str
    verification_status: str


def active_allergies(ctx: Ctx, patient_id: uuid.UUID) -> list[ActiveAllergy]:
    """The patient's active allergies (not refuted, not entered in error), high criticality first, for
    prescribing safety. Needs the care relationship (else NotFound) and is audited."""
    return [
        ActiveAllergy(
            allergy_id=a.id,
            coding=Coding(a.substance_system, a.substance_code, a.substance_display) if a.substance_code else None,
            text=a.substance_text,
            category=a.category,
            type=a.type,
            criticality=a.criticality,
            verification_status=a.verification_status,
        )
        for a in history_selectors.active_allergies(ctx=ctx, patient_id=patient_id)
    ]


__all__ += ["ActiveAllergy", "active_allergies", "allergy_summary", "history_summary", "immunization_summary"]


# --- the clinical record as other systems see it (the FHIR API): visibility as querysets ----------
from typing import Any  # noqa: E402

from django.db.models import QuerySet  # noqa: E402

from phb.clinical import models as _models  # noqa: E402
from phb.clinical import policies as _policies  # noqa: E402
from phb.clinical.vitals import BY_CODE as VITAL_SIGNS_BY_CODE  # noqa: E402
from phb.patients.public import registered_patient_ids  # noqa: E402

Encounter = _models.Encounter
Observation = _models.Observation
Diagnosis = _models.Diagnosis
AllergyIntolerance = _models.AllergyIntolerance
Immunization = _models.Immunization


def _visible(ctx: Ctx, model: type[Any]) -> QuerySet[Any]:
    """`model`'s rows of `ctx`'s organization whose patient `ctx` may see: for a clinician, the care
    relationship (`policies.care_relationship_filter`); for a system client of the organization, every
    patient registered here (its scopes were checked by the caller). Not audited: the caller records
    what it returns.

    SECURITY: the only way the FHIR API reaches clinical rows; anyone else sees none."""
    if ctx.organization_id is None or not ctx.has_perm(_policies.VIEW):
        return model.objects.none()
    rows = model.objects.for_tenant(ctx)
    if ctx.is_client:
        return rows.filter(patient_id__in=registered_patient_ids(ctx))
    condition = _policies.care_relationship_filter(ctx)
    return rows.filter(condition) if condition is not None else model.objects.none()


def encounters_visible(ctx: Ctx) -> QuerySet[Any]:
    return _visible(ctx, Encounter)


def observations_visible(ctx: Ctx) -> QuerySet[Any]:
    return _visible(ctx, Observation)


def diagnoses_visible(ctx: Ctx) -> QuerySet[Any]:
    return _visible(ctx, Diagnosis)


def allergies_visible(ctx: Ctx) -> QuerySet[Any]:
    """Entered-in-error rows included: the FHIR API shows them with that status."""
    return _visible(ctx, AllergyIntolerance)


def immunizations_visible(ctx: Ctx) -> QuerySet[Any]:
    return _visible(ctx, Immunization)


__all__ += [
    "VITAL_SIGNS_BY_CODE",
    "AllergyIntolerance",
    "Diagnosis",
    "Encounter",
    "Immunization",
    "Observation",
    "allergies_visible",
    "diagnoses_visible",
    "encounters_visible",
    "immunizations_visible",
    "observations_visible",
]


# --- for prescribing: the chart's and the workspace's registries, the patient's active conditions ----
from phb.clinical.chart import register_chart_section, register_encounter_panel  # noqa: E402
from phb.clinical.diagnoses import ICD10_WHO, diagnosis_list  # noqa: E402
from phb.terminology.public import ICD10_CM  # noqa: E402


def active_condition_codes(ctx: Ctx, patient_id: uuid.UUID) -> list[str]:
    """The ICD-10 (CM or WHO) codes of the patient's active diagnoses here (each once), for prescribing safety
    (contraindications). Needs the care relationship (else NotFound) and is audited."""
    codes: list[str] = []
    for code in (
        diagnosis_list(ctx=ctx, patient_id=patient_id, clinical_status="active")
        .filter(system__in=[ICD10_CM, ICD10_WHO])
        .values_list("code", flat=True)
    ):
        if code not in codes:
            codes.append(code)
    return codes


__all__ += ["active_condition_codes", "register_chart_section", "register_encounter_panel"]


@dataclass(frozen=True)
class EncounterRef:
    """What a prescription needs of the encounter it is written in."""

    id: uuid.UUID
    patient_id: uuid.UUID
    status: str


def encounter_for_prescribing(ctx: Ctx, encounter_id: uuid.UUID) -> EncounterRef:
    """The encounter, when `ctx` may read its patient's record (else NotFound or Forbidden); audited."""
    from phb.clinical.selectors import encounter_get

    encounter = encounter_get(ctx=ctx, encounter_id=encounter_id)
    return EncounterRef(id=encounter.id, patient_id=encounter.patient_id, status=encounter.status)


__all__ += ["EncounterRef", "encounter_for_prescribing"]


# --- writes from other systems (the FHIR API, imports): the services, and the rules they apply -----
from phb.clinical.diagnoses import diagnosis_add, diagnosis_update  # noqa: E402
from phb.clinical.external_records import (  # noqa: E402
    encounter_record,
    encounter_record_update,
    observation_record,
    observation_status_update,
)
from phb.clinical.history_services import (  # noqa: E402
    allergy_create,
    allergy_mark_entered_in_error,
    allergy_update,
    immunization_mark_entered_in_error,
    immunization_record,
    immunization_update,
)
from phb.clinical.models import EncounterSource, ObservationCategory  # noqa: E402
from phb.clinical.policies import RECORD_VITALS, UPDATE, VIEW  # noqa: E402

__all__ += [
    "RECORD_VITALS",
    "UPDATE",
    "VIEW",
    "EncounterSource",
    "ObservationCategory",
    "allergy_create",
    "allergy_mark_entered_in_error",
    "allergy_update",
    "diagnosis_add",
    "diagnosis_update",
    "encounter_record",
    "encounter_record_update",
    "immunization_mark_entered_in_error",
    "immunization_record",
    "immunization_update",
    "observation_record",
    "observation_status_update",
]


# --- more of the record for the FHIR API: care plans, documents; the same rule for other apps' rows --
CarePlan = _models.CarePlan
ClinicalDocument = _models.ClinicalDocument
DOCUMENT_LOINC = _models.DOCUMENT_LOINC


def patient_rows_visible(ctx: Ctx, rows: QuerySet[Any], field: str = "patient_id") -> QuerySet[Any]:
    """`rows` (of `ctx`'s organization, about the patient in `field`) narrowed as `_visible` narrows the
    clinical record: the care relationship for a clinician, the patients registered here for a system
    client (its scopes were checked by the caller); none for anyone else.

    SECURITY: other apps' health data (prescriptions, dispensings) reach the FHIR API through this."""
    if ctx.organization_id is None or not ctx.has_perm(_policies.VIEW):
        return rows.none()
    if ctx.is_client:
        return rows.filter(**{f"{field}__in": registered_patient_ids(ctx)})
    condition = _policies.care_relationship_filter(ctx, field)
    return rows.filter(condition) if condition is not None else rows.none()


def care_plans_visible(ctx: Ctx) -> QuerySet[Any]:
    """Care plans with their goals and activities (in their order)."""
    from django.db.models import Prefetch

    return _visible(ctx, CarePlan).prefetch_related(
        Prefetch("goals", queryset=_models.CarePlanGoal.objects.for_tenant(ctx)),
        Prefetch("activities", queryset=_models.CarePlanActivity.objects.for_tenant(ctx)),
    )


def documents_visible(ctx: Ctx) -> QuerySet[Any]:
    """Documents' descriptions (never their content); entered-in-error ones included, with that status."""
    return _visible(ctx, ClinicalDocument).defer("content_key", "storage_key")


__all__ += [
    "DOCUMENT_LOINC",
    "CarePlan",
    "ClinicalDocument",
    "care_plans_visible",
    "documents_visible",
    "patient_rows_visible",
]
