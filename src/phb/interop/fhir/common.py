"""Small pieces every FHIR mapper shares: identifier systems, versions from update times, references.

PHB keeps no history of most rows: a resource's `meta.versionId` is derived from its `updated_at`
(microseconds since the epoch), so it changes whenever the row does, and only the current version
can be read with vread."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

HPN_SYSTEM = "https://phb.health/fhir/sid/hpn"
MRN_SYSTEM = "https://phb.health/fhir/sid/mrn"
LICENCE_SYSTEM = "https://phb.health/fhir/sid/practitioner-licence"
ORGANIZATION_SYSTEM = "https://phb.health/fhir/sid/organization"
ERRORS_SYSTEM = "https://phb.health/fhir/CodeSystem/errors"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def version_of(updated_at: dt.datetime | None) -> str:
    """The version id of a row last changed at `updated_at` ("1" for rows that never change)."""
    if updated_at is None:
        return "1"
    return str(int(updated_at.timestamp() * 1_000_000))


def meta(updated_at: dt.datetime | None, profile: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"versionId": version_of(updated_at)}
    if updated_at is not None:
        out["lastUpdated"] = instant(updated_at)
    if profile:
        out["profile"] = [profile]
    return out


def instant(value: dt.datetime) -> str:
    """An aware datetime as a FHIR instant (UTC, seconds precision or finer)."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def ref(resource_type: str, resource_id: Any, display: str = "") -> dict[str, str]:
    out = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def coding(system: str, code: str, display: str = "") -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str = "", text: str = "") -> dict[str, Any]:
    """A CodeableConcept from a coding (when there is a code) and/or text."""
    out: dict[str, Any] = {}
    if code:
        out["coding"] = (
            [coding(system, code, display)] if system else [{"code": code, **({"display": display} if display else {})}]
        )
    if text or (not code and display):
        out["text"] = text or display
    return out


def decimal_value(value: Decimal) -> float | int:
    """A stored decimal as a JSON number without trailing zeros."""
    normalized = value.normalize()
    return int(normalized) if normalized == normalized.to_integral_value() else float(normalized)
