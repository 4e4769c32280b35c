"""Condition (FHIR R4) from a PHB diagnosis (ICD-10-CM, SNOMED CT or another coding)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import concept, instant, meta, ref

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
# PHB clinical status -> (FHIR clinical status, verification status)
STATUS = {
    "active": ("active", "confirmed"),
    "resolved": ("resolved", "confirmed"),
    "ruled_out": (None, "refuted"),
    "entered_in_error": (None, "entered-in-error"),
}
# FHIR clinical-status -> PHB values (for search)
PHB_STATUS = {"active": ["active"], "resolved": ["resolved"]}
CATEGORY = {"problem_list_item": "problem-list-item", "encounter_diagnosis": "encounter-diagnosis"}
PHB_CATEGORY = {v: k for k, v in CATEGORY.items()}
SEVERITY = {"mild": ("255604002", "Mild"), "moderate": ("6736007", "Moderate"), "severe": ("24484000", "Severe")}


def to_fhir(diagnosis: Any) -> dict[str, Any]:
    clinical, verification = STATUS.get(diagnosis.clinical_status, ("active", "unconfirmed"))
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": str(diagnosis.id),
        "meta": meta(diagnosis.updated_at),
        "verificationStatus": {"coding": [{"system": VERIFICATION_SYSTEM, "code": verification}]},
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": CATEGORY.get(diagnosis.category, "problem-list-item")}]}
        ],
        "code": concept(diagnosis.system, diagnosis.code, diagnosis.display),
        "subject": ref("Patient", diagnosis.patient_id),
        "recordedDate": instant(diagnosis.recorded_at),
    }
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"system": CLINICAL_SYSTEM, "code": clinical}]}
    if diagnosis.severity in SEVERITY:
        code, display = SEVERITY[diagnosis.severity]
        resource["severity"] = {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]}
    if diagnosis.encounter_id:
        resource["encounter"] = ref("Encounter", diagnosis.encounter_id)
    if diagnosis.onset_date:
        resource["onsetDateTime"] = diagnosis.onset_date.isoformat()
    if diagnosis.abatement_date:
        resource["abatementDateTime"] = diagnosis.abatement_date.isoformat()
    return resource
