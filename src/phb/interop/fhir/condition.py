"""Condition (FHIR R4) from a PHB diagnosis (ICD-10-CM, SNOMED CT or another coding), and the writes of
conditions through PHB's diagnosis services.

A write takes: the code's first coding of SNOMED CT, ICD-10-CM or ICD-10 (ICD-10-CM checked against
the shipped code list), clinicalStatus (active, recurrence, relapse -> active; inactive, remission,
resolved -> resolved), verificationStatus (confirmed, or refuted -> ruled out; PHB records no
provisional diagnosis), category (problem-list-item or encounter-diagnosis; none: an encounter
diagnosis when an encounter is named, else a problem), severity (SNOMED CT mild, moderate, severe),
onsetDateTime and abatementDateTime (their dates), encounter, note. Left aside: bodySite, stage,
evidence, recorder, asserter, recordedDate (PHB's is when it records). An update changes the status,
severity, dates, category and note; the code never changes (entered-in-error, then a new condition)."""

from __future__ import annotations

from typing import Any

from phb.clinical import public as clinical
from phb.interop.fhir.clinical_write import (
    code_of,
    codings,
    date_of,
    resource_of,
    same_or_refuse,
    service_errors,
    text_of,
)
from phb.interop.fhir.common import concept, instant, invalid, meta, ref, reference_id
from phb.kernel.context import Ctx

CLINICAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
SNOMED = "http://snomed.info/sct"
CODE_SYSTEMS = (SNOMED, "http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
# PHB clinical status -> (FHIR clinical status, verification status)
STATUS = {
    "active": ("active", "confirmed"),
    "resolved": ("resolved", "confirmed"),
    "ruled_out": (None, "refuted"),
    "entered_in_error": (None, "entered-in-error"),
}
# FHIR clinical-status -> PHB values (for search)
PHB_STATUS = {"active": ["active"], "resolved": ["resolved"]}
CLINICAL_IN = {
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "inactive": "resolved",
    "remission": "resolved",
    "resolved": "resolved",
}
CATEGORY = {"problem_list_item": "problem-list-item", "encounter_diagnosis": "encounter-diagnosis"}
PHB_CATEGORY = {v: k for k, v in CATEGORY.items()}
SEVERITY = {"mild": ("255604002", "Mild"), "moderate": ("6736007", "Moderate"), "severe": ("24484000", "Severe")}
PHB_SEVERITY = {code: name for name, (code, _display) in SEVERITY.items()}
FIELDS = {
    "system": "Condition.code",
    "code": "Condition.code",
    "display": "Condition.code",
    "category": "Condition.category",
    "clinical_status": "Condition.clinicalStatus",
    "severity": "Condition.severity",
    "onset_date": "Condition.onsetDateTime",
    "abatement_date": "Condition.abatementDateTime",
    "encounter_id": "Condition.encounter",
    "note": "Condition.note",
}


def to_fhir(diagnosis: Any) -> dict[str, Any]:
    clinical_status, verification = STATUS.get(diagnosis.clinical_status, ("active", "unconfirmed"))
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
    if clinical_status:
        resource["clinicalStatus"] = {"coding": [{"system": CLINICAL_SYSTEM, "code": clinical_status}]}
    if diagnosis.severity in SEVERITY:
        code, display = SEVERITY[diagnosis.severity]
        resource["severity"] = {"coding": [{"system": SNOMED, "code": code, "display": display}]}
    if diagnosis.encounter_id:
        resource["encounter"] = ref("Encounter", diagnosis.encounter_id)
    if diagnosis.onset_date:
        resource["onsetDateTime"] = diagnosis.onset_date.isoformat()
    if diagnosis.abatement_date:
        resource["abatementDateTime"] = diagnosis.abatement_date.isoformat()
    return resource


def _when(resource: dict[str, Any], name: str) -> Any:
    other = [key for key in resource if key.startswith(name) and key != f"{name}DateTime"]
    if other:
        raise invalid(f"Condition.{other[0]}", f"PHB records the date of {name} ({name}DateTime)")
    value = resource.get(f"{name}DateTime")
    return None if value is None else date_of(value, f"Condition.{name}DateTime")


def _status(resource: dict[str, Any], *, allow_error: bool) -> str:
    verification = code_of(resource.get("verificationStatus"), "Condition.verificationStatus", VERIFICATION_SYSTEM)
    clinical_code = code_of(resource.get("clinicalStatus"), "Condition.clinicalStatus", CLINICAL_SYSTEM)
    if verification == "entered-in-error":
        if not allow_error:
            raise invalid("Condition.verificationStatus", "a new condition is not entered in error")
        return "entered_in_error"
    if verification == "refuted":
        return "ruled_out"
    if verification not in (None, "confirmed"):
        raise invalid("Condition.verificationStatus", "PHB records confirmed or refuted conditions")
    if clinical_code not in CLINICAL_IN:
        raise invalid("Condition.clinicalStatus", f"a code of {CLINICAL_SYSTEM}: {', '.join(CLINICAL_IN)}")
    return CLINICAL_IN[clinical_code]


def from_fhir(resource: Any, *, allow_error: bool = False) -> dict[str, Any]:
    """The arguments of `clinical.public.diagnosis_add`, or a 400 naming the element."""
    resource = resource_of(resource, "Condition")
    found = [c for c in codings(resource.get("code"), "Condition.code") if c.get("system") in CODE_SYSTEMS]
    if not found or not found[0].get("code"):
        raise invalid("Condition.code", f"a coding of {', '.join(CODE_SYSTEMS)}")
    coding = found[0]
    categories = resource.get("category") or []
    if not isinstance(categories, list):
        raise invalid("Condition.category", "a list of CodeableConcepts")
    category = None
    for i, item in enumerate(categories):
        code = code_of(item, f"Condition.category[{i}]", CATEGORY_SYSTEM)
        if code is not None:
            if code not in PHB_CATEGORY:
                raise invalid(f"Condition.category[{i}]", "problem-list-item or encounter-diagnosis")
            category = PHB_CATEGORY[code]
            break
    encounter_id = reference_id(resource.get("encounter"), "Encounter", "Condition.encounter", required=False)
    severity = ""
    if resource.get("severity") is not None:
        code = code_of(resource["severity"], "Condition.severity", SNOMED)
        if code not in PHB_SEVERITY:
            raise invalid("Condition.severity", "SNOMED CT 255604002 (mild), 6736007 (moderate) or 24484000 (severe)")
        severity = PHB_SEVERITY[code]
    notes = resource.get("note") or []
    if not isinstance(notes, list):
        raise invalid("Condition.note", "a list of annotations")
    return {
        "patient_id": reference_id(resource.get("subject"), "Patient", "Condition.subject"),
        "system": coding["system"],
        "code": str(coding["code"]),
        "display": str(coding.get("display") or "") or text_of(resource.get("code")),
        "category": category or ("encounter_diagnosis" if encounter_id is not None else "problem_list_item"),
        "clinical_status": _status(resource, allow_error=allow_error),
        "severity": severity,
        "onset_date": _when(resource, "onset"),
        "abatement_date": _when(resource, "abatement"),
        "encounter_id": encounter_id,
        "note": "\n\n".join(str(n.get("text") or "") for n in notes if isinstance(n, dict)).strip(),
    }


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    with service_errors("Condition", FIELDS):
        return clinical.diagnosis_add(ctx=ctx, **values)


def update(ctx: Ctx, current: Any, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource, allow_error=True)
    same_or_refuse((current.system, current.code), (values["system"], values["code"]), "Condition.code", "the code")
    same_or_refuse(current.patient_id, values["patient_id"], "Condition.subject", "the subject")
    changes = {
        name: values[name] for name in ("clinical_status", "severity", "onset_date", "abatement_date", "category")
    }
    if values["note"]:
        changes["note"] = values["note"]
    with service_errors("Condition", FIELDS):
        return clinical.diagnosis_update(ctx=ctx, diagnosis_id=current.id, **changes)
