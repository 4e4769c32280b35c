"""Immunization (FHIR R4) from a PHB vaccination record (given here, reported, or not done), and the
writes of vaccinations through PHB's history services.

A write takes: status (completed, not-done with statusReason of v3 ActReason), vaccineCode (CVX, or
another system, and/or text), occurrenceDateTime (its date), primarySource (false: reported), lotNumber,
site, route (v3 codes PHB lists), the first protocolApplied's doseNumberPositiveInt, note, patient.
Left aside: encounter, performer (a vaccination given elsewhere names no clinician here), location,
manufacturer, expirationDate, reaction. An update changes these, checked as a whole again; status
entered-in-error marks the record so (it is kept)."""

from __future__ import annotations

from typing import Any

from phb.clinical import public as clinical
from phb.interop.fhir.clinical_write import codings, date_of, resource_of, same_or_refuse, service_errors, text_of
from phb.interop.fhir.common import concept, first_coding, invalid, meta, ref, reference_id
from phb.kernel.context import Ctx

V3_ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
FIELDS = {
    "vaccine": "Immunization.vaccineCode",
    "occurred_on": "Immunization.occurrenceDateTime",
    "status": "Immunization.status",
    "not_done_reason": "Immunization.statusReason",
    "dose_number": "Immunization.protocolApplied[0].doseNumberPositiveInt",
    "lot_number": "Immunization.lotNumber",
    "site": "Immunization.site",
    "route": "Immunization.route",
    "reported": "Immunization.primarySource",
    "note": "Immunization.note",
}
ENTERED_IN_ERROR_REASON = "marked entered in error by an update from another system"


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


def _code(resource: dict[str, Any], name: str) -> str:
    value = resource.get(name)
    if value is None:
        return ""
    return first_coding(value, f"Immunization.{name}")[1]


def from_fhir(resource: Any, *, allow_error: bool = False) -> dict[str, Any]:
    """The arguments of `clinical.public.immunization_record`, or a 400 naming the element."""
    resource = resource_of(resource, "Immunization")
    status = resource.get("status")
    allowed = ("completed", "not-done", "entered-in-error") if allow_error else ("completed", "not-done")
    if status not in allowed:
        raise invalid("Immunization.status", f"one of {', '.join(allowed)}")
    vaccine_code = resource.get("vaccineCode")
    vaccine = {"system": "", "code": "", "display": "", "text": text_of(vaccine_code)}
    if codings(vaccine_code, "Immunization.vaccineCode"):
        vaccine["system"], vaccine["code"], vaccine["display"] = first_coding(vaccine_code, "Immunization.vaccineCode")
    if resource.get("occurrenceString") is not None:
        raise invalid("Immunization.occurrenceString", "PHB records the date (occurrenceDateTime)")
    if resource.get("occurrenceDateTime") is None:
        raise invalid("Immunization.occurrenceDateTime", "when it was given (or not)")
    primary = resource.get("primarySource")
    if primary is not None and not isinstance(primary, bool):
        raise invalid("Immunization.primarySource", "true or false")
    protocols = resource.get("protocolApplied") or []
    dose = None
    if isinstance(protocols, list) and protocols and isinstance(protocols[0], dict):
        dose = protocols[0].get("doseNumberPositiveInt")
        if dose is None and protocols[0].get("doseNumberString") is not None:
            raise invalid("Immunization.protocolApplied[0].doseNumberString", "PHB records the dose as a number")
    notes = resource.get("note") or []
    return {
        "patient_id": reference_id(resource.get("patient"), "Patient", "Immunization.patient"),
        "vaccine": vaccine,
        "occurred_on": date_of(resource["occurrenceDateTime"], "Immunization.occurrenceDateTime"),
        "status": status,
        "not_done_reason": _code(resource, "statusReason"),
        "dose_number": dose,
        "lot_number": resource.get("lotNumber") or "",
        "site": _code(resource, "site"),
        "route": _code(resource, "route"),
        "reported": primary is False,
        "note": "\n\n".join(str(n.get("text") or "") for n in notes if isinstance(n, dict)).strip()
        if isinstance(notes, list)
        else "",
    }


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    patient_id = values.pop("patient_id")
    with service_errors("Immunization", FIELDS):
        return clinical.immunization_record(ctx=ctx, patient_id=patient_id, **values)


def update(ctx: Ctx, current: Any, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource, allow_error=True)
    same_or_refuse(current.patient_id, values.pop("patient_id"), "Immunization.patient", "the patient")
    with service_errors("Immunization", FIELDS):
        if values["status"] == "entered-in-error":
            if current.entered_in_error_at is not None:
                return current
            return clinical.immunization_mark_entered_in_error(
                ctx=ctx, immunization_id=current.id, reason=ENTERED_IN_ERROR_REASON
            )
        return clinical.immunization_update(ctx=ctx, immunization_id=current.id, **values)
