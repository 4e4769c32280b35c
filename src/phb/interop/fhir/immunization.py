"""Immunization (FHIR R4) from a PHB vaccination record (given here, reported, or not done)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import concept, meta, ref

V3_ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


def to_fhir(immunization: Any) -> dict[str, Any]:
    status = "entered-in-error" if immunization.entered_in_error_at else immunization.status
    vaccine = concept(
        immunization.vaccine_system,
        immunization.vaccine_code,
        immunization.vaccine_display,
        getattr(immunization, "vaccine_text", ""),
    ) or {"text": "unknown vaccine"}
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(immunization.id),
        "meta": meta(immunization.updated_at),
        "status": status,
        "vaccineCode": vaccine,
        "patient": ref("Patient", immunization.patient_id),
        "occurrenceDateTime": immunization.occurred_on.isoformat(),
        "primarySource": not immunization.reported,
    }
    if immunization.not_done_reason:
        resource["statusReason"] = {"coding": [{"system": V3_ACT_REASON, "code": immunization.not_done_reason}]}
    if immunization.lot_number:
        resource["lotNumber"] = immunization.lot_number
    if immunization.site:
        resource["site"] = {"coding": [{"system": V3_ACT_SITE, "code": immunization.site}]}
    if immunization.route:
        resource["route"] = {"coding": [{"system": V3_ROUTE, "code": immunization.route}]}
    if immunization.dose_number:
        resource["protocolApplied"] = [{"doseNumberPositiveInt": immunization.dose_number}]
    return resource
