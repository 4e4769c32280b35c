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
]
# Capability statements this server also conforms to (e.g. the Bulk Data IG's).
INSTANTIATES: list[str] = []


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
