"""Observation (FHIR R4) from a PHB vital sign: LOINC code, UCUM quantity, reference range and
interpretation, category vital-signs (with the R4 vital-signs profile for the signs it covers).

PHB stores systolic and diastolic pressure as two observations; they are emitted as such (the R4
blood-pressure panel 85354-9 with components is not built)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import LOINC, UCUM, decimal_value, instant, meta, ref

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# LOINC codes the R4 vital-signs profile names, with the profile each follows.
VITAL_SIGNS_PROFILES = {
    "8867-4": "heartrate",
    "9279-1": "resprate",
    "8310-5": "bodytemp",
    "59408-5": "oxygensat",
    "29463-7": "bodyweight",
    "8302-2": "bodyheight",
    "39156-5": "bmi",
}
# UCUM units shown with a human symbol
UNIT_DISPLAY = {"/min": "/min", "Cel": "°C", "%": "%", "kg": "kg", "cm": "cm", "kg/m2": "kg/m2", "mm[Hg]": "mmHg"}


def to_fhir(observation: Any, *, display: str = "") -> dict[str, Any]:
    """`display`: the sign's name (from PHB's vital-signs catalogue)."""
    code = observation.code
    profile = VITAL_SIGNS_PROFILES.get(code)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(observation.id),
        "meta": meta(observation.updated_at, f"http://hl7.org/fhir/StructureDefinition/{profile}" if profile else None),
        "status": "final",
        "category": [
            {
                "coding": [{"system": CATEGORY_SYSTEM, "code": "vital-signs", "display": "Vital Signs"}],
                "text": "Vital Signs",
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, **({"display": display} if display else {})}]},
        "subject": ref("Patient", observation.patient_id),
        "effectiveDateTime": instant(observation.effective_at),
        "performer": [ref("Organization", observation.organization_id)],
    }
    if display:
        resource["code"]["text"] = display
    if observation.encounter_id:
        resource["encounter"] = ref("Encounter", observation.encounter_id)
    if observation.value_numeric is not None:
        unit = observation.unit or "1"
        resource["valueQuantity"] = {
            "value": decimal_value(observation.value_numeric),
            "unit": UNIT_DISPLAY.get(unit, unit),
            "system": UCUM,
            "code": unit,
        }
    elif observation.value_code:
        resource["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": observation.value_code}]}
    else:
        resource["dataAbsentReason"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]
        }
    if observation.interpretation:
        resource["interpretation"] = [
            {"coding": [{"system": INTERPRETATION_SYSTEM, "code": observation.interpretation}]}
        ]
    if observation.reference_low is not None or observation.reference_high is not None:
        bound = {}
        for key, value in (("low", observation.reference_low), ("high", observation.reference_high)):
            if value is not None:
                bound[key] = {"value": decimal_value(value), "system": UCUM, "code": observation.unit or "1"}
        resource["referenceRange"] = [bound]
    return resource
