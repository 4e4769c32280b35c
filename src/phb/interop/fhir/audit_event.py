"""AuditEvent (FHIR R4): PHB's audit events as FHIR resources, validated with fhir.resources' R4B models."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTION_FOR_VERB = {
    "read": "R",
    "view": "R",
    "open": "R",
    "search": "R",
    "list": "R",
    "export": "R",
    "create": "C",
    "register": "C",
    "start": "C",
    "update": "U",
    "review": "U",
    "change": "U",
    "delete": "D",
    "revoke": "D",
}
OUTCOME = {"success": "0", "failure": "4", "denied": "4", "error": "8"}
PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


def _type(action: str) -> dict[str, str]:
    if action.startswith("accounts."):
        return {"system": DCM, "code": "110114", "display": "User Authentication"}
    if action.startswith("audit."):
        return {"system": DCM, "code": "110101", "display": "Audit Log Used"}
    return {"system": DCM, "code": "110110", "display": "Patient Record"}


def to_fhir(event: Any) -> dict[str, Any]:
    """One kernel AuditEvent as a FHIR R4 AuditEvent dict (validated)."""
    verb = event.action.rsplit(".", 1)[-1]
    agent: dict[str, Any] = {
        "requestor": event.actor_kind in {"user", "client"},
        "who": {"identifier": {"system": "urn:phb:user", "value": str(event.actor_id)}}
        if event.actor_id
        else {"display": f"PHB {event.actor_kind}"},
    }
    if event.roles:
        agent["role"] = [{"text": role} for role in event.roles.split(",")]
    if event.ip:
        agent["network"] = {"address": event.ip, "type": "2"}
    if event.purpose_of_use:
        agent["purposeOfUse"] = [{"coding": [{"system": PURPOSE_SYSTEM, "code": event.purpose_of_use}]}]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "type": _type(event.action),
        "subtype": [{"system": "urn:phb:audit-action", "code": event.action}],
        "action": ACTION_FOR_VERB.get(verb, "E"),
        "recorded": event.occurred_at.isoformat(),
        "outcome": OUTCOME.get(event.outcome, "8"),
        "agent": [agent],
        "source": {
            "observer": {"display": "PHB"},
            **({"site": str(event.organization_id)} if event.organization_id else {}),
        },
    }
    if event.outcome != "success":
        resource["outcomeDesc"] = event.outcome
    entities = []
    if event.patient_id:
        entities.append(
            {
                "what": {"reference": f"Patient/{event.patient_id}"},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
            }
        )
    if event.resource_type and event.resource_id:
        entities.append(
            {"what": {"identifier": {"system": f"urn:phb:{event.resource_type}", "value": event.resource_id}}}
        )
    if event.reason:
        entities.append({"name": "reason", "description": event.reason[:1000]})
    if entities:
        resource["entity"] = entities
    return FhirAuditEvent.model_validate(resource).model_dump(mode="json", exclude_none=True)
