"""Consent (FHIR R4) from a patient's consent in PHB: what was agreed (its kind and the version of the
text agreed to), when, whether it still holds (a withdrawn consent is inactive, its provision's period
ending at the withdrawal), and for sharing, between which organizations and which data."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import LOINC, coding, instant, meta, ref

KIND_SYSTEM = "https://phb.health/fhir/CodeSystem/consent-kind"
DATA_SYSTEM = "https://phb.health/fhir/CodeSystem/data-category"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_LOINC = "59284-0"
SCOPE = {"research": "research"}  # everything else PHB asks is about the patient's privacy


def to_fhir(consent: Any, *, kind_display: str) -> dict[str, Any]:
    active = consent.withdrawn_at is None
    period: dict[str, str] = {"start": instant(consent.granted_at)}
    if not active:
        period["end"] = instant(consent.withdrawn_at)
    provision: dict[str, Any] = {"type": "permit", "period": period}
    actors = []
    if consent.from_organization_id:
        actors.append(
            {
                "role": {"coding": [coding(ROLE_SYSTEM, "CST", "custodian")]},
                "reference": ref("Organization", consent.from_organization_id),
            }
        )
    if consent.to_organization_id:
        actors.append(
            {
                "role": {"coding": [coding(ROLE_SYSTEM, "IRCP", "information recipient")]},
                "reference": ref("Organization", consent.to_organization_id),
            }
        )
    if actors:
        provision["actor"] = actors
    if consent.categories:
        provision["code"] = [{"coding": [coding(DATA_SYSTEM, c)]} for c in consent.categories]
    scope = SCOPE.get(consent.kind, "patient-privacy")
    return {
        "resourceType": "Consent",
        "id": str(consent.id),
        "meta": meta(consent.updated_at),
        "status": "active" if active else "inactive",
        "scope": {"coding": [coding(SCOPE_SYSTEM, scope)]},
        "category": [
            {"coding": [coding(LOINC, CONSENT_LOINC, "Patient consent")]},
            {"coding": [coding(KIND_SYSTEM, consent.kind, kind_display)]},
        ],
        "patient": ref("Patient", consent.patient_id),
        "dateTime": instant(consent.granted_at),
        "policyRule": {
            "coding": [coding(KIND_SYSTEM, consent.kind)],
            "text": f"{kind_display}, version {consent.version}",
        },
        "provision": provision,
    }
