"""AllergyIntolerance (FHIR R4) from a PHB allergy or intolerance record."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import concept, meta, ref

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def to_fhir(allergy: Any) -> dict[str, Any]:
    verification = allergy.verification_status
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": str(allergy.id),
        "meta": meta(allergy.updated_at),
        "verificationStatus": {"coding": [{"system": VERIFICATION_SYSTEM, "code": verification}]},
        "type": allergy.type,
        "category": [allergy.category],
        "code": concept(
            allergy.substance_system, allergy.substance_code, allergy.substance_display, allergy.substance_text
        ),
        "patient": ref("Patient", allergy.patient_id),
        "recordedDate": allergy.asserted_on.isoformat(),
    }
    # FHIR: no clinical status on an entered-in-error record
    if verification != "entered-in-error":
        resource["clinicalStatus"] = {"coding": [{"system": CLINICAL_SYSTEM, "code": allergy.clinical_status}]}
    if allergy.criticality:
        resource["criticality"] = allergy.criticality
    if allergy.onset_on:
        resource["onsetDateTime"] = allergy.onset_on.isoformat()
    if not resource["code"]:
        resource.pop("code")
    return resource
