"""MedicationRequest (FHIR R4) from one item of a PHB prescription: the prescription is the group
(`groupIdentifier`, its number), the item the order. The drug is a reference to the catalogue's
Medication; the structured dose becomes `dosageInstruction`, the quantity to supply and the refills
`dispenseRequest`."""

from __future__ import annotations

import uuid
from typing import Any

from phb.interop.fhir.common import coding, concept, decimal_value, instant, meta, ref

DRUGS = "https://phb.health/fhir/CodeSystem/drugs"
PRESCRIPTION_SYSTEM = "https://phb.health/fhir/sid/prescription"
EVENT_TIMING = "http://hl7.org/fhir/event-timing"

# PHB prescription status -> FHIR medicationrequest-status
STATUS = {
    "draft": "draft",
    "signed": "active",
    "partially_dispensed": "active",
    "dispensed": "completed",
    "cancelled": "cancelled",
    "expired": "stopped",
}
PHB_STATUS: dict[str, list[str]] = {}
for _phb, _fhir in STATUS.items():
    PHB_STATUS.setdefault(_fhir, []).append(_phb)
# FHIR's other statuses, which PHB never has: asked for, they find nothing (not a 400).
UNUSED_STATUS = ("on-hold", "entered-in-error", "unknown")

# PHB frequency -> timing.repeat (every-N-hours takes its interval; as needed and once have their own)
REPEAT = {
    "OD": {"frequency": 1, "period": 1, "periodUnit": "d"},
    "BD": {"frequency": 2, "period": 1, "periodUnit": "d"},
    "TDS": {"frequency": 3, "period": 1, "periodUnit": "d"},
    "QDS": {"frequency": 4, "period": 1, "periodUnit": "d"},
    "ON": {"frequency": 1, "period": 1, "periodUnit": "d", "when": ["NIGHT"]},
}


def _timing(item: Any) -> dict[str, Any] | None:
    repeat: dict[str, Any]
    if item.frequency == "QH" and item.interval_hours:
        repeat = {"frequency": 1, "period": item.interval_hours, "periodUnit": "h"}
    elif item.frequency == "ONCE":
        repeat = {"count": 1}
    elif item.frequency in REPEAT:
        repeat = dict(REPEAT[item.frequency])
    else:
        repeat = {}
    if item.duration_days and item.frequency != "ONCE":
        repeat["boundsDuration"] = {
            "value": item.duration_days,
            "unit": "days",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        }
    return {"repeat": repeat, "code": {"text": item.get_frequency_display()}} if repeat else None


def dosage(item: Any) -> dict[str, Any]:
    """The item's structured dose as a FHIR Dosage."""
    out: dict[str, Any] = {"sequence": 1, "text": item.directions}
    timing = _timing(item)
    if timing:
        out["timing"] = timing
    if item.frequency == "PRN":
        out["asNeededBoolean"] = True
    if item.route:
        out["route"] = {"text": item.route}
    out["doseAndRate"] = [{"doseQuantity": {"value": decimal_value(item.dose_quantity), "unit": item.dose_unit}}]
    return out


def to_fhir(item: Any, *, requester_id: uuid.UUID | None = None) -> dict[str, Any]:
    """`item` with its prescription loaded; `requester_id` is the prescriber's (or, for a draft, the
    author's) Practitioner id, when they have a practitioner's profile here."""
    prescription = item.prescription
    # The catalogue's Medication is the generic; the display names the product prescribed.
    display = " ".join(p for p in (item.drug_display, item.strength, item.form) if p)
    medication: dict[str, Any]
    if item.drug_system == DRUGS:
        medication = {"medicationReference": ref("Medication", item.drug_code, display)}
    else:
        medication = {
            "medicationCodeableConcept": concept(item.drug_system, item.drug_code, item.drug_display, display)
        }
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(item.id),
        "meta": meta(max(item.updated_at, prescription.updated_at)),
        "groupIdentifier": {"system": PRESCRIPTION_SYSTEM, "value": prescription.number},
        "status": STATUS.get(prescription.status, "unknown"),
        "intent": "order",
        **medication,
        "subject": ref("Patient", item.patient_id),
        "authoredOn": instant(prescription.signed_at or prescription.created_at),
        "dosageInstruction": [dosage(item)],
        "dispenseRequest": {
            "quantity": {"value": decimal_value(item.quantity), "unit": item.quantity_unit},
            "numberOfRepeatsAllowed": item.refills,
        },
    }
    if prescription.status == "cancelled" and prescription.replaced_by_id:
        resource["statusReason"] = {"text": "replaced by another prescription"}
    if prescription.encounter_id:
        resource["encounter"] = ref("Encounter", prescription.encounter_id)
    if requester_id:
        resource["requester"] = ref("Practitioner", requester_id)
    if prescription.signed_at and prescription.expires_at:
        resource["dispenseRequest"]["validityPeriod"] = {
            "start": instant(prescription.signed_at),
            "end": instant(prescription.expires_at),
        }
    if item.indication_code:
        resource["reasonCode"] = [
            {"coding": [coding(item.indication_system, item.indication_code, item.indication_display)]}
        ]
    if item.instructions:
        resource["dosageInstruction"][0]["patientInstruction"] = item.instructions
    return resource
