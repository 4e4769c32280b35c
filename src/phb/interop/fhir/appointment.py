"""Appointment (FHIR R4) from a PHB appointment: patient, practitioner, times, status."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import instant, meta, ref

# PHB status -> FHIR appointmentstatus
STATUS = {
    "pending": "proposed",
    "confirmed": "booked",
    "checked_in": "checked-in",
    "in_progress": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
    "rejected": "cancelled",
    "referred": "cancelled",
    "rescheduled": "cancelled",
}
PHB_STATUS: dict[str, list[str]] = {}
for _phb, _fhir in STATUS.items():
    PHB_STATUS.setdefault(_fhir, []).append(_phb)
SERVICE_TYPE = {"in_person": "In person", "telemedicine": "Telemedicine"}


def to_fhir(appointment: Any) -> dict[str, Any]:
    participants = [{"actor": ref("Patient", appointment.patient_id), "status": "accepted", "required": "required"}]
    if appointment.practitioner_id:
        participants.append(
            {"actor": ref("Practitioner", appointment.practitioner_id), "status": "accepted", "required": "required"}
        )
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(appointment.id),
        "meta": meta(appointment.updated_at),
        "identifier": [{"system": "https://phb.health/fhir/sid/appointment-reference", "value": appointment.reference}],
        "status": STATUS.get(appointment.status, "proposed"),
        "specialty": [{"text": appointment.specialization}] if appointment.specialization else [],
        "appointmentType": {"text": SERVICE_TYPE.get(appointment.kind, appointment.kind)},
        "start": instant(appointment.start_at),
        "end": instant(appointment.end_at),
        "participant": participants,
    }
    if not resource["specialty"]:
        resource.pop("specialty")
    return resource
