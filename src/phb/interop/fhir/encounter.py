"""Encounter (FHIR R4) from a PHB encounter (an outpatient visit, a telemedicine call, ...), and the
writes of encounters recorded from another system.

A write records an encounter that took place (or is planned) elsewhere or earlier: status (planned,
in-progress, finished, cancelled), class (AMB, EMER, IMP, VR), subject, period, the first type and the
first reasonCode. Left aside: participant, serviceProvider (the organization is the requester's),
hospitalization, location, identifier. An update changes the status and period (PHB's own encounters
move along their status machine only)."""

from __future__ import annotations

from typing import Any

from phb.clinical import public as clinical
from phb.interop.fhir.clinical_write import choice, resource_of, service_errors, text_of
from phb.interop.fhir.common import concept, first_coding, instant, invalid, meta, parse_instant, ref, reference_id
from phb.kernel.context import Ctx

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# PHB status -> FHIR encounter-status
STATUS = {"planned": "planned", "in_progress": "in-progress", "finished": "finished", "cancelled": "cancelled"}
PHB_STATUS = {v: k for k, v in STATUS.items()}
CLASSES = ("AMB", "EMER", "IMP", "VR")
# service field -> the element it came from
FIELDS = {
    "status": "Encounter.status",
    "encounter_class": "Encounter.class",
    "started_at": "Encounter.period.start",
    "ended_at": "Encounter.period.end",
    "reason": "Encounter.reasonCode",
    "reason_system": "Encounter.reasonCode",
    "reason_code": "Encounter.reasonCode",
    "type_system": "Encounter.type",
    "type_code": "Encounter.type",
    "type_display": "Encounter.type",
}


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
    if encounter.type_code:
        resource["type"] = [concept(encounter.type_system, encounter.type_code, encounter.type_display)]
    if encounter.appointment_id:
        resource["appointment"] = [ref("Appointment", encounter.appointment_id)]
    period = {}
    if encounter.started_at:
        period["start"] = instant(encounter.started_at)
    if encounter.ended_at:
        period["end"] = instant(encounter.ended_at)
    if period:
        resource["period"] = period
    if encounter.reason_code:  # the coded reason of an encounter recorded from another system
        resource["reasonCode"] = [concept(encounter.reason_system, encounter.reason_code, encounter.reason)]
    return resource


def from_fhir(resource: Any) -> dict[str, Any]:
    """The arguments of `clinical.public.encounter_record`, or a 400 naming the element."""
    resource = resource_of(resource, "Encounter")
    status = choice(resource.get("status"), "Encounter.status", PHB_STATUS, "PHB records the status")
    klass = resource.get("class")
    if not isinstance(klass, dict) or klass.get("system") not in (None, ACT_CODE):
        raise invalid("Encounter.class", f"a Coding of {ACT_CODE}")
    encounter_class = choice(klass.get("code"), "Encounter.class.code", CLASSES, "PHB records the class")
    period = resource.get("period") or {}
    if not isinstance(period, dict):
        raise invalid("Encounter.period", "a Period")
    out: dict[str, Any] = {
        "patient_id": reference_id(resource.get("subject"), "Patient", "Encounter.subject"),
        "encounter_class": encounter_class,
        "status": status,
        "started_at": parse_instant(period["start"], "Encounter.period.start") if period.get("start") else None,
        "ended_at": parse_instant(period["end"], "Encounter.period.end") if period.get("end") else None,
        "reason": "",
        "reason_system": "",
        "reason_code": "",
        "type_system": "",
        "type_code": "",
        "type_display": "",
    }
    types = resource.get("type") or []
    if not isinstance(types, list):
        raise invalid("Encounter.type", "a list of CodeableConcepts")
    if types:
        out["type_system"], out["type_code"], out["type_display"] = first_coding(types[0], "Encounter.type[0]")
        out["type_display"] = out["type_display"] or text_of(types[0])
    reasons = resource.get("reasonCode") or []
    if not isinstance(reasons, list):
        raise invalid("Encounter.reasonCode", "a list of CodeableConcepts")
    if reasons:
        out["reason_system"], out["reason_code"], display = first_coding(reasons[0], "Encounter.reasonCode[0]")
        out["reason"] = text_of(reasons[0]) or display
    if bool(out["type_code"]) and not out["type_system"]:
        raise invalid("Encounter.type[0].coding[0].system", "name the code system of the type")
    if bool(out["reason_code"]) and not out["reason_system"]:
        raise invalid("Encounter.reasonCode[0].coding[0].system", "name the code system of the reason")
    return out


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    with service_errors("Encounter", FIELDS):
        return clinical.encounter_record(ctx=ctx, **values)


def update(ctx: Ctx, current: Any, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    if values["patient_id"] != current.patient_id:
        raise invalid("Encounter.subject", "the subject of an encounter does not change")
    with service_errors("Encounter", FIELDS):
        return clinical.encounter_record_update(
            ctx=ctx,
            encounter_id=current.id,
            status=values["status"],
            started_at=values["started_at"],
            ended_at=values["ended_at"],
        )
