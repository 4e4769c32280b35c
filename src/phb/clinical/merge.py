"""The clinical record follows a patient's record when two records of the same person are merged.

Every clinical row of the merged record, in every organization, moves to the survivor (and back if
the merge is undone), with three exceptions where the survivor already says the same thing and a
list must stay a list: an active allergy to a substance the survivor is already allergic to, an active
problem the survivor already has on their list, and a current "no known allergies" statement where the
survivor has one or has an active allergy. Those stay with the redirect. A survivor's own "no known
allergies" statement that the moved allergies contradict is retired as `allergy_recorded`.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from phb.clinical.models import (
    AllergyIntolerance,
    CarePlan,
    ClinicalDocument,
    ClinicalNote,
    CriticalAlert,
    Diagnosis,
    Encounter,
    HistoryEntry,
    Immunization,
    NoKnownAllergies,
    Observation,
    SocialHistory,
    SymptomReport,
    VitalSignsSet,
)
from phb.kernel.context import Ctx
from phb.patients.public import register_merge_handler, register_rows_handler

_ACTIVE_ALLERGY = Q(clinical_status="active", verification_status__in=["unconfirmed", "confirmed"])
_ACTIVE_PROBLEM = Q(category="problem_list_item", clinical_status="active")


def _system() -> Ctx:
    return Ctx.system(reason="patient merge moves clinical rows of every organization")


def _allergy_twin(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> Any:
    twin = AllergyIntolerance.objects.for_system(_system()).filter(
        _ACTIVE_ALLERGY,
        patient_id=survivor_id,
        organization_id=OuterRef("organization_id"),
        substance_system=OuterRef("substance_system"),
        substance_code=OuterRef("substance_code"),
    )
    return _ACTIVE_ALLERGY & ~Q(substance_code="") & Q(Exists(twin))


def _problem_twin(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> Any:
    twin = Diagnosis.objects.for_system(_system()).filter(
        _ACTIVE_PROBLEM,
        patient_id=survivor_id,
        organization_id=OuterRef("organization_id"),
        system=OuterRef("system"),
        code=OuterRef("code"),
    )
    return _ACTIVE_PROBLEM & Q(Exists(twin))


def _move_nka(survivor_id: uuid.UUID, merged_id: uuid.UUID) -> dict[str, list[str]]:
    """Runs after the allergies have moved: the survivor's current statement is retired where it now
    has an active allergy; the merged record's current statement moves only where the survivor has
    neither a statement of its own nor an active allergy."""
    statements = NoKnownAllergies.objects.for_system(_system())
    allergic_at = (
        AllergyIntolerance.objects.for_system(_system())
        .filter(_ACTIVE_ALLERGY, patient_id=survivor_id)
        .values("organization_id")
    )
    contradicted = statements.filter(patient_id=survivor_id, retired_at__isnull=True, organization_id__in=allergic_at)
    retired = [str(i) for i in contradicted.values_list("id", flat=True)]
    statements.filter(id__in=retired).update(retired_at=timezone.now(), retired_reason="allergy_recorded")
    held_at = statements.filter(patient_id=survivor_id, retired_at__isnull=True).values("organization_id")
    movable = statements.filter(patient_id=merged_id).exclude(
        Q(retired_at__isnull=True) & (Q(organization_id__in=held_at) | Q(organization_id__in=allergic_at))
    )
    moved = [str(i) for i in movable.values_list("id", flat=True)]
    statements.filter(id__in=moved).update(patient_id=survivor_id)
    return {"moved": moved, "retired": retired}


def _undo_nka(survivor_id: uuid.UUID, merged_id: uuid.UUID, record: dict[str, list[str]]) -> None:
    statements = NoKnownAllergies.objects.for_system(_system())
    statements.filter(id__in=record["moved"]).update(patient_id=merged_id)
    statements.filter(id__in=record["retired"]).update(retired_at=None, retired_reason="")


for _name, _model, _keep in (
    ("clinical_encounters", Encounter, None),
    ("clinical_vital_sets", VitalSignsSet, None),
    ("clinical_observations", Observation, None),
    ("clinical_alerts", CriticalAlert, None),
    ("clinical_notes", ClinicalNote, None),
    ("clinical_documents", ClinicalDocument, None),
    ("clinical_diagnoses", Diagnosis, _problem_twin),
    ("clinical_allergies", AllergyIntolerance, _allergy_twin),
    ("clinical_history", HistoryEntry, None),
    ("clinical_social_history", SocialHistory, None),
    ("clinical_immunizations", Immunization, None),
    ("clinical_symptoms", SymptomReport, None),
    ("clinical_care_plans", CarePlan, None),
):
    register_rows_handler(_name, _model, keep=_keep)
register_merge_handler("clinical_no_known_allergies", move=_move_nka, undo=_undo_nka)
