"""Schedule (FHIR R4): a practitioner's bookable calendar, one per practitioner's profile that has
weekly availability windows (it shares the profile's id, as PractitionerRole does). Its Slots are
computed from those windows, not stored."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import meta, ref


def to_fhir(profile: Any) -> dict[str, Any]:
    actors = [ref("Practitioner", profile.id), ref("PractitionerRole", profile.id)]
    if profile.department_id:
        actors.append(ref("Location", profile.department_id))
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": str(profile.id),
        "meta": meta(profile.updated_at),
        "active": bool(profile.is_active),
        "actor": actors,
    }
    if profile.specialization:
        resource["specialty"] = [{"text": profile.specialization}]
    return resource
