"""PractitionerRole (FHIR R4): a practitioner's specialty in a department of their organization.
PHB has one role per practitioner's profile, so the role shares the profile's id."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import meta, ref


def to_fhir(profile: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(profile.id),
        "meta": meta(profile.updated_at),
        "active": bool(profile.is_active),
        "practitioner": ref("Practitioner", profile.id, profile.user.full_name),
        "organization": ref("Organization", profile.organization_id),
        "specialty": [{"text": profile.specialization}],
        "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"}]}],
    }
    return resource
