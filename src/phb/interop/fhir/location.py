"""Location (FHIR R4) from a department of a PHB organization: the place where its care happens (a
clinic, a ward, the pharmacy), identified by the department's code."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import coding, meta, ref

DEPARTMENT_SYSTEM = "https://phb.health/fhir/sid/department"
KIND_SYSTEM = "https://phb.health/fhir/CodeSystem/department-kind"


def to_fhir(department: Any, *, kind_display: str) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": str(department.id),
        "meta": meta(department.updated_at),
        "identifier": [{"system": DEPARTMENT_SYSTEM, "value": department.code}],
        "status": "active" if department.is_active else "inactive",
        "name": department.name,
        "mode": "instance",
        "type": [{"coding": [coding(KIND_SYSTEM, department.kind, kind_display)]}],
        "managingOrganization": ref("Organization", department.organization_id),
    }
