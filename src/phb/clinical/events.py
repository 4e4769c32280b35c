"""Events the clinical record publishes (ids and codes only: never health data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from phb.kernel.events import Event


@dataclass(frozen=True)
class EncounterStarted(Event):
    name = "clinical.encounter_started"
    encounter_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID


@dataclass(frozen=True)
class EncounterFinished(Event):
    name = "clinical.encounter_finished"
    encounter_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID
    status: str  # finished | cancelled


@dataclass(frozen=True)
class CriticalAlertRaised(Event):
    name = "clinical.critical_alert_raised"
    alert_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class ClinicalNoteSigned(Event):
    name = "clinical.note_signed"
    note_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID


# --- patient-reported symptoms and care plans -------------------------------------------------------


@dataclass(frozen=True)
class SymptomReported(Event):
    name = "clinical.symptom_reported"
    report_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID


@dataclass(frozen=True)
class CarePlanStatusChanged(Event):
    name = "clinical.care_plan_status_changed"
    plan_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID
    from_status: str
    to_status: str
