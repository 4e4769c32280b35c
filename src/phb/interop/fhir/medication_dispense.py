"""MedicationDispense (FHIR R4) from one line of a PHB dispensing: one drug handed over against one
prescription item (the MedicationRequest), from a batch, by whom, when and from where. PHB records a
dispensing once it is handed over, so every one is `completed`."""

from __future__ import annotations

import uuid
from typing import Any

from phb.interop.fhir.common import decimal_value, instant, meta, ref


def to_fhir(line: Any, *, performer_id: uuid.UUID | None = None) -> dict[str, Any]:
    """`line` with its dispensing, product and stock location loaded (and `patient_id`); `performer_id`
    is the dispenser's Practitioner id, when they have a practitioner's profile here."""
    dispensing = line.dispensing
    product = line.product
    display = " ".join(p for p in (line.drug_name, line.strength) if p)
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": str(line.id),
        "meta": meta(max(line.updated_at, dispensing.updated_at)),
        "status": "completed",
        "medicationReference": ref("Medication", product.drug_code, display),
        "subject": ref("Patient", dispensing.patient_id),
        "authorizingPrescription": [ref("MedicationRequest", line.item_id)],
        "quantity": {"value": decimal_value(line.quantity), "unit": line.quantity_unit or product.unit_of_issue},
        "whenHandedOver": instant(dispensing.dispensed_at),
    }
    if performer_id:
        resource["performer"] = [{"actor": ref("Practitioner", performer_id)}]
    if dispensing.location.department_id:
        resource["location"] = ref("Location", dispensing.location.department_id)
    if line.directions:
        resource["dosageInstruction"] = [{"text": line.directions}]
    return resource
