"""Events the pharmacy publishes (ids only: never a patient's name or a medicine's directions)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from phb.kernel.events import Event


@dataclass(frozen=True)
class StockAlertRaised(Event):
    name = "pharmacy.stock_alert_raised"
    alert_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class MedicinesDispensed(Event):
    """A pharmacy handed out medicines of a prescription: the patient is told they are ready."""

    name = "pharmacy.medicines_dispensed"
    dispensing_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID
