"""Encounter (FHIR R4) from a PHB encounter (an outpatient visit, a telemedicine call, ...)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import instant, meta, ref

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# PHB status -> FHIR encounter-status
STATUS = {"planned": "planned", "in_progress": "in-progress", "finished": "finished", "cancelled": "cancelled"}
PHB_STATUS = {v: k for k, v in STATUS.items()}


def to_fhir(encounter: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(encounter.id),
        "meta": meta(encounter.updated_at),
        "status": STATUS.get(encounter.status, "unknown"),
        "class": {"system": ACT_CODE, "code": encounter.encounter_class},
        "subject": ref("Patient", encounter.patient_id),
        "serviceProvider": ref("Organization", encounter.organization_id),
    }
    if encounter.appointment_id:
        resource["appointment"] = [ref("Appointment", encounter.appointment_id)]
    period = {}
    if encounter.started_at:
        period["start"] = instant(encounter.started_at)
    if encounter.ended_at:
        period["end"] = instant(encounter.ended_at)
    if period:
        resource["period"] = period
    return resource
