"""Organization (FHIR R4) from PHB's tenant."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import ORGANIZATION_SYSTEM, meta

TYPE = {"hospital": "prov", "clinic": "prov", "laboratory": "prov", "pharmacy": "prov", "network": "other"}


def to_fhir(organization: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(organization.id),
        "meta": meta(organization.updated_at),
        "active": bool(organization.is_active),
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": TYPE.get(organization.kind, "other"),
                    }
                ],
                "text": organization.kind,
            }
        ],
        "name": organization.name,
    }
    number = getattr(organization, "registration_number", "") or getattr(organization, "code", "")
    if number:
        resource["identifier"] = [{"system": ORGANIZATION_SYSTEM, "value": number}]
    return resource
