"""Events scheduling publishes (ids and codes only: never health data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from phb.kernel.events import Event


@dataclass(frozen=True)
class AppointmentBooked(Event):
    name = "scheduling.appointment_booked"
    appointment_id: uuid.UUID
    organization_id: uuid.UUID
    patient_id: uuid.UUID
    practitioner_id: uuid.UUID | None


@dataclass(frozen=True)
class AppointmentStatusChanged(Event):
    name = "scheduling.appointment_status_changed"
    appointment_id: uuid.UUID
    organization_id: uuid.UUID
    from_status: str
    to_status: str
