"""AllergyIntolerance (FHIR R4) from a PHB allergy or intolerance record, and the writes of allergies
through PHB's history services.

A write takes: the substance (code: a coding of any system, checked by terminology, and/or text), type,
one category, criticality, clinicalStatus, verificationStatus (unconfirmed, confirmed, refuted),
onsetDateTime and recordedDate (their dates), reactions (first manifestation, severity, onset,
description), note, patient. Left aside: recorder, asserter, lastOccurrence, encounter. An update
changes any of these, checked as a whole again; verificationStatus entered-in-error marks the record so
(it is kept)."""

from __future__ import annotations

from typing import Any

from phb.clinical import public as clinical
from phb.interop.fhir.clinical_write import (
    code_of,
    codings,
    date_of,
    one,
    resource_of,
    same_or_refuse,
    service_errors,
    text_of,
)
from phb.interop.fhir.common import concept, first_coding, invalid, meta, ref, reference_id
from phb.kernel.context import Ctx

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CLINICAL = ("active", "inactive", "resolved")
VERIFICATION = ("unconfirmed", "confirmed", "refuted")
FIELDS = {
    "substance": "AllergyIntolerance.code",
    "category": "AllergyIntolerance.category",
    "type": "AllergyIntolerance.type",
    "criticality": "AllergyIntolerance.criticality",
    "clinical_status": "AllergyIntolerance.clinicalStatus",
    "verification_status": "AllergyIntolerance.verificationStatus",
    "reactions": "AllergyIntolerance.reaction",
    "onset_on": "AllergyIntolerance.onsetDateTime",
    "asserted_on": "AllergyIntolerance.recordedDate",
    "note": "AllergyIntolerance.note",
}
ENTERED_IN_ERROR_REASON = "marked entered in error by an update from another system"


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


def _concept(value: Any, expression: str) -> dict[str, str]:
    out = {"system": "", "code": "", "display": "", "text": text_of(value)}
    if codings(value, expression):
        out["system"], out["code"], out["display"] = first_coding(value, expression)
    return out


def _reactions(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("AllergyIntolerance.reaction", "a list of reactions")
    out = []
    for i, reaction in enumerate(value):
        path = f"AllergyIntolerance.reaction[{i}]"
        if not isinstance(reaction, dict):
            raise invalid(path, "a reaction")
        manifestations = reaction.get("manifestation")
        if not isinstance(manifestations, list) or not manifestations:
            raise invalid(f"{path}.manifestation", "what the reaction was")
        out.append(
            {
                "manifestation": _concept(manifestations[0], f"{path}.manifestation[0]"),
                "severity": reaction.get("severity") or "",
                "onset_on": date_of(reaction["onset"], f"{path}.onset").isoformat() if reaction.get("onset") else None,
                "note": str(reaction.get("description") or ""),
            }
        )
    return out


def from_fhir(resource: Any, *, allow_error: bool = False) -> dict[str, Any]:
    """The arguments of `clinical.public.allergy_create`, or a 400 naming the element."""
    resource = resource_of(resource, "AllergyIntolerance")
    verification = code_of(
        resource.get("verificationStatus"), "AllergyIntolerance.verificationStatus", VERIFICATION_SYSTEM
    )
    if verification == "entered-in-error" and not allow_error:
        raise invalid("AllergyIntolerance.verificationStatus", "a new allergy is not entered in error")
    if verification not in (*VERIFICATION, "entered-in-error", None):
        raise invalid("AllergyIntolerance.verificationStatus", f"one of {', '.join(VERIFICATION)}")
    clinical_status = code_of(resource.get("clinicalStatus"), "AllergyIntolerance.clinicalStatus", CLINICAL_SYSTEM)
    if clinical_status is None and verification != "entered-in-error":
        clinical_status = "active"  # FHIR: required unless entered in error or refuted; active when absent
    if clinical_status not in (*CLINICAL, None):
        raise invalid("AllergyIntolerance.clinicalStatus", f"one of {', '.join(CLINICAL)}")
    category = one(resource.get("category"), "AllergyIntolerance.category")
    if category is None:
        raise invalid("AllergyIntolerance.category", "food, medication, environment or biologic")
    substance = _concept(resource.get("code"), "AllergyIntolerance.code")
    notes = resource.get("note") or []
    return {
        "patient_id": reference_id(resource.get("patient"), "Patient", "AllergyIntolerance.patient"),
        "substance": substance,
        "category": category,
        "type": resource.get("type") or "allergy",
        "criticality": resource.get("criticality") or "",
        "clinical_status": clinical_status,
        "verification_status": verification or "unconfirmed",
        "reactions": _reactions(resource.get("reaction")),
        "onset_on": date_of(resource["onsetDateTime"], "AllergyIntolerance.onsetDateTime")
        if resource.get("onsetDateTime")
        else None,
        "asserted_on": date_of(resource["recordedDate"], "AllergyIntolerance.recordedDate")
        if resource.get("recordedDate")
        else None,
        "note": "\n\n".join(str(n.get("text") or "") for n in notes if isinstance(n, dict)).strip()
        if isinstance(notes, list)
        else "",
    }


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    with service_errors("AllergyIntolerance", FIELDS):
        return clinical.allergy_create(ctx=ctx, **values)


def update(ctx: Ctx, current: Any, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource, allow_error=True)
    same_or_refuse(current.patient_id, values.pop("patient_id"), "AllergyIntolerance.patient", "the patient")
    with service_errors("AllergyIntolerance", FIELDS):
        if values["verification_status"] == "entered-in-error":
            if current.verification_status == "entered-in-error":
                return current
            return clinical.allergy_mark_entered_in_error(
                ctx=ctx, allergy_id=current.id, reason=ENTERED_IN_ERROR_REASON
            )
        if values["asserted_on"] is None:
            values.pop("asserted_on")
        return clinical.allergy_update(ctx=ctx, allergy_id=current.id, **values)
