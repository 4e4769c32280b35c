"""Group (FHIR R4) from a department: the patients seen in it (those with an encounter there).

A Group is PHB's unit of a Group-level Bulk Data export (`Group/<id>/$export`). Its members are not
listed in the resource (a read would otherwise disclose patients); the export resolves them, with the
requester's own visibility of encounters."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import meta, ref

DEPARTMENT_SYSTEM = "https://phb.health/fhir/sid/department"


def to_fhir(department: Any) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": str(department.id),
        "meta": meta(department.updated_at),
        "identifier": [{"system": DEPARTMENT_SYSTEM, "value": department.code}],
        "active": bool(department.is_active),
        "type": "person",
        "actual": True,
        "code": {"text": department.kind},
        "name": f"Patients seen in {department.name}",
        "managingEntity": ref("Organization", department.organization_id),
    }
