"""Practitioner (FHIR R4) from a practitioner's profile and their user (name, licence, qualifications)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import LICENCE_SYSTEM, meta


def to_fhir(profile: Any) -> dict[str, Any]:
    user = profile.user
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(profile.id),
        "meta": meta(profile.updated_at),
        "active": bool(profile.is_active),
        "name": [{"text": user.full_name}],
    }
    if profile.licence_number:
        resource["identifier"] = [{"system": LICENCE_SYSTEM, "value": profile.licence_number}]
    qualifications = [{"code": {"text": str(q)[:200]}} for q in (profile.qualifications or []) if q]
    if qualifications:
        resource["qualification"] = qualifications
    languages = [lang for lang in (profile.languages or []) if isinstance(lang, str) and lang]
    if languages:
        resource["communication"] = [{"coding": [{"system": "urn:ietf:bcp:47", "code": lang}]} for lang in languages]
    return resource
