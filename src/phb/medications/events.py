"""Events the medications app publishes (ids and codes only: never health data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from phb.kernel.events import Event


@dataclass(frozen=True)
class PrescriptionIssued(Event):
    """A prescription was signed: it may be dispensed."""

    name = "medications.prescription_issued"
    prescription_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID


@dataclass(frozen=True)
class PrescriptionStatusChanged(Event):
    """Cancelled (or replaced), or expired."""

    name = "medications.prescription_status_changed"
    prescription_id: uuid.UUID
    organization_id: uuid.UUID
    from_status: str
    to_status: str


@dataclass(frozen=True)
class PrescriptionDispensed(Event):
    """A pharmacy dispensed some or all of what remained."""

    name = "medications.prescription_dispensed"
    prescription_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID
    status: str  # partially_dispensed | dispensed


@dataclass(frozen=True)
class RepeatRequested(Event):
    name = "medications.repeat_requested"
    request_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class RepeatDecided(Event):
    """A prescriber approved or refused a patient's repeat request: the patient is told."""

    name = "medications.repeat_decided"
    request_id: uuid.UUID
    organization_id: uuid.UUID
    status: str  # approved | refused


@dataclass(frozen=True)
class DosesMissedRepeatedly(Event):
    """A patient missed doses of an item several times in a row: the prescriber is told, once per episode."""

    name = "medications.doses_missed_repeatedly"
    episode_id: uuid.UUID
    organization_id: uuid.UUID
