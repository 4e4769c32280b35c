"""The FHIR operations PHB serves, as the CapabilityStatement declares them (each with the canonical
URL of its OperationDefinition). Only operations with a route are listed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    name: str
    definition: str
    resource_type: str | None  # None: a system-level operation
    doc: str


OPERATIONS: list[Operation] = [
    Operation(
        "everything",
        "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "Patient",
        "The patient and every resource about them the requester may read (_since, _type, _count).",
    ),
    Operation(
        "export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
        None,
        "Bulk Data export of every type the requester may read (Prefer: respond-async; _type, _since, "
        "_outputFormat=application/fhir+ndjson).",
    ),
    Operation(
        "export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
        "Patient",
        "Bulk Data export of the patients' compartment types (Prefer: respond-async; _type, _since).",
    ),
    Operation(
        "export",
        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
        "Group",
        "Bulk Data export of a Group's (a department's) patients (Prefer: respond-async; _type, _since).",
    ),
]
# Capability statements this server also conforms to.
INSTANTIATES: list[str] = ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"]


def declare_operations(statement: dict[str, Any]) -> dict[str, Any]:
    """Add the operations to a CapabilityStatement built from the registry (in place; returned)."""
    rest = statement["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    for operation in OPERATIONS:
        entry = {"name": operation.name, "definition": operation.definition, "documentation": operation.doc}
        if operation.resource_type is None:
            rest.setdefault("operation", []).append(entry)
        elif operation.resource_type in by_type:
            by_type[operation.resource_type].setdefault("operation", []).append(entry)
    if INSTANTIATES:
        statement["instantiates"] = list(INSTANTIATES)
    return statement
