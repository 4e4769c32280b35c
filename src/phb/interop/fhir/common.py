"""Small pieces every FHIR mapper shares: identifier systems, versions from update times, references.

PHB keeps no history of most rows: a resource's `meta.versionId` is derived from its `updated_at`
(microseconds since the epoch), so it changes whenever the row does, and only the current version
can be read with vread."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phb.interop.fhir.outcome import FhirError

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


def searchset(
    entries: list[dict[str, Any]] | None,
    *,
    total: int | None = None,
    links: list[dict[str, str]] | None = None,
    warnings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle: `entries` (None: no entry list, as for `_summary=count`), the total when
    counted, the paging links, and the search's warnings as an OperationOutcome entry (mode outcome)."""
    from django.utils import timezone

    from phb.interop.fhir.outcome import operation_outcome

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": "searchset",
    }
    if total is not None:
        bundle["total"] = total
    if links is not None:
        bundle["link"] = links
    if warnings:
        entries = [*(entries or []), {"resource": operation_outcome(warnings), "search": {"mode": "outcome"}}]
    if entries is not None:
        bundle["entry"] = entries
    return bundle


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


# --------------------------------------------------------------------------------------------------
# Reading resources sent to PHB (the `from_fhir` mappers)
# --------------------------------------------------------------------------------------------------


def invalid(expression: str, diagnostics: str) -> FhirError:
    """A 400 INVALID_RESOURCE naming the element at fault (`Observation.code`)."""
    from phb.interop.fhir.outcome import FhirError

    return FhirError(400, "INVALID_RESOURCE", diagnostics, expression=expression)


def reference_id(value: Any, resource_type: str, expression: str, *, required: bool = True) -> uuid.UUID | None:
    """The id of a literal reference `{"reference": "<resource_type>/<uuid>"}` (an absolute URL ending
    so is accepted). None when absent and not `required`; anything else is a 400 INVALID_REFERENCE."""
    from phb.interop.fhir.outcome import FhirError

    if value is None and not required:
        return None
    text = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise FhirError(400, "INVALID_REFERENCE", f"a reference to {resource_type} is required", expression=expression)
    parts = text.strip().rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != resource_type:
        raise FhirError(
            400, "INVALID_REFERENCE", f"a reference to {resource_type}/<id> is expected", expression=expression
        )
    try:
        return uuid.UUID(parts[-1])
    except ValueError:
        raise FhirError(
            400, "INVALID_REFERENCE", f"{resource_type} ids are UUIDs assigned by PHB", expression=expression
        ) from None


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def parse_instant(text: Any, expression: str) -> dt.datetime:
    """A FHIR dateTime or instant as an aware datetime; a date alone is midnight UTC. A dateTime
    with a time must carry its zone (FHIR requires it)."""
    if isinstance(text, str):
        value = text.strip()
        try:
            if _DATE_ONLY.fullmatch(value):
                return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
            if _DATETIME.fullmatch(value):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise invalid(expression, "a FHIR dateTime is expected (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a zone)")


def parse_date(text: Any, expression: str) -> dt.date:
    """A FHIR date (YYYY-MM-DD)."""
    if isinstance(text, str) and _DATE_ONLY.fullmatch(text.strip()):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise invalid(expression, "a FHIR date is expected (YYYY-MM-DD)")


def first_coding(concept: Any, expression: str, *, system: str | None = None) -> tuple[str, str, str]:
    """(system, code, display) of the first coding of a CodeableConcept (the first of `system` when
    given); the concept's text stands in for a missing display."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if isinstance(codings, list):
        for item in codings:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item["code"].strip():
                continue
            if system is not None and item.get("system") != system:
                continue
            display = item.get("display") or concept.get("text") or ""
            return str(item.get("system") or ""), item["code"].strip(), str(display)
    wanted = f" of {system}" if system else ""
    raise invalid(expression, f"a coding{wanted} with a code is expected")
