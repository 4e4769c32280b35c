"""Observation (FHIR R4) from a PHB observation: LOINC code, its category (vital-signs, laboratory,
survey, social-history, exam, ...), a UCUM quantity, a coding, a text or why the value is absent,
reference range and interpretation (with the R4 vital-signs profile for the signs it covers); and the
writes of observations from other systems.

PHB stores systolic and diastolic pressure as two observations; they are emitted as such (the R4
blood-pressure panel 85354-9 with components is not built). A panel written (85354-9 or 55284-4, with
components 8480-6 and 8462-4) is stored that way: the response is the systolic observation, and the
diastolic one, of the same time and encounter, is read or searched like any other.

A write takes: status (preliminary, final, amended, corrected), one category of the observation-category
code system, a LOINC code, subject, encounter, effective[x] (dateTime, instant, or a period's start),
one value (valueQuantity, valueCodeableConcept, valueString, valueInteger) or dataAbsentReason, the
first interpretation and referenceRange. Left aside: issued, performer, method, bodySite, note,
specimen, device, hasMember, derivedFrom, identifier. Refused with a reason: any other value type, an
observation with neither value nor dataAbsentReason, components other than the blood-pressure panel's.
An update changes the status only (e.g. to entered-in-error); the value never changes."""

from __future__ import annotations

from typing import Any

from phb.clinical import public as clinical
from phb.interop.fhir.clinical_write import codings, one, resource_of, same_or_refuse, service_errors, text_of
from phb.interop.fhir.common import (
    LOINC,
    UCUM,
    decimal_value,
    first_coding,
    instant,
    invalid,
    meta,
    parse_instant,
    ref,
    reference_id,
)
from phb.interop.fhir.outcome import FhirError
from phb.kernel.context import Ctx

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CATEGORY_DISPLAY = {
    "vital-signs": "Vital Signs",
    "laboratory": "Laboratory",
    "survey": "Survey",
    "social-history": "Social History",
    "exam": "Exam",
    "procedure": "Procedure",
    "imaging": "Imaging",
    "therapy": "Therapy",
    "activity": "Activity",
}
WRITABLE_STATUS = ("preliminary", "final", "amended", "corrected")
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
VALUE_TYPES = ("valueQuantity", "valueCodeableConcept", "valueString", "valueInteger")
OTHER_VALUES = (
    "valueBoolean",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)
FIELDS = {
    "category": "Observation.category",
    "status": "Observation.status",
    "code": "Observation.code",
    "code_display": "Observation.code",
    "effective_at": "Observation.effective",
    "encounter_id": "Observation.encounter",
    "value": "Observation.value",
    "value.unit": "Observation.valueQuantity.code",
    "value.code": "Observation.valueCodeableConcept",
    "value.system": "Observation.valueCodeableConcept",
    "value.absent": "Observation.dataAbsentReason",
    "component": "Observation.component",
    "component[0].value": "Observation.component[0].valueQuantity",
    "component[0].value.unit": "Observation.component[0].valueQuantity.code",
    "component[1].value": "Observation.component[1].valueQuantity",
    "component[1].value.unit": "Observation.component[1].valueQuantity.code",
    "interpretation": "Observation.interpretation",
    "reference_range": "Observation.referenceRange",
}


def to_fhir(observation: Any, *, display: str = "") -> dict[str, Any]:
    """`display`: the code's name (LOINC's as sent, else PHB's vital-signs catalogue's)."""
    code = observation.code
    category = observation.category
    profile = VITAL_SIGNS_PROFILES.get(code) if category == "vital-signs" else None
    label = CATEGORY_DISPLAY.get(category, category)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(observation.id),
        "meta": meta(observation.updated_at, f"http://hl7.org/fhir/StructureDefinition/{profile}" if profile else None),
        "status": observation.status,
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category, "display": label}], "text": label}],
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
        coding = {"system": observation.value_system or LOINC, "code": observation.value_code}
        if observation.value_display:
            coding["display"] = observation.value_display
        resource["valueCodeableConcept"] = {"coding": [coding]}
        if observation.value_display:
            resource["valueCodeableConcept"]["text"] = observation.value_display
    elif observation.value_string is not None:
        resource["valueString"] = observation.value_string
    else:
        resource["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT_SYSTEM, "code": observation.data_absent_reason or "unknown"}]
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


def _category(resource: dict[str, Any]) -> str:
    found = resource.get("category")
    if not isinstance(found, list) or not found:
        raise invalid("Observation.category", f"a category of {CATEGORY_SYSTEM} ({', '.join(CATEGORY_DISPLAY)})")
    for i, item in enumerate(found):
        for coding in codings(item, f"Observation.category[{i}]"):
            if coding.get("system") == CATEGORY_SYSTEM and coding.get("code") in CATEGORY_DISPLAY:
                return str(coding["code"])
    raise invalid(
        "Observation.category", f"none of the categories is one of {CATEGORY_SYSTEM}: {', '.join(CATEGORY_DISPLAY)}"
    )


def _quantity(value: Any, expression: str) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("value") is None:
        raise invalid(expression, "a Quantity with a value")
    if value.get("comparator"):
        raise invalid(f"{expression}.comparator", "PHB stores exact values (no comparator)")
    system, unit = value.get("system"), value.get("code")
    if unit is not None and system not in (None, UCUM):
        raise invalid(f"{expression}.system", f"a unit of UCUM ({UCUM})")
    if unit is None and value.get("unit") is not None and system is None:
        unit = value.get("unit")  # a unit with no code: taken as UCUM's code
    if unit is not None and not isinstance(unit, str):
        raise invalid(f"{expression}.code", "a UCUM unit code")
    number = value["value"]
    if isinstance(number, bool) or not isinstance(number, int | float | str):
        raise invalid(f"{expression}.value", "a number")
    return {"numeric": number, "unit": unit or ""}


def _value(resource: dict[str, Any]) -> dict[str, Any] | None:
    other = [name for name in OTHER_VALUES if name in resource]
    if other:
        raise invalid(f"Observation.{other[0]}", f"PHB stores {', '.join(VALUE_TYPES)} (or dataAbsentReason)")
    given = [name for name in VALUE_TYPES if name in resource]
    absent = resource.get("dataAbsentReason")
    if len(given) > 1:
        raise invalid("Observation.value[x]", "one value")
    if not given:
        if absent is None:
            return None
        _system, code, _display = first_coding(absent, "Observation.dataAbsentReason")
        return {"absent": code}
    if absent is not None:
        raise invalid("Observation.dataAbsentReason", "a value and the reason it is absent: send one")
    name = given[0]
    raw = resource[name]
    if name == "valueQuantity":
        return _quantity(raw, "Observation.valueQuantity")
    if name == "valueInteger":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise invalid("Observation.valueInteger", "a whole number")
        return {"numeric": raw, "unit": ""}
    if name == "valueString":
        if not isinstance(raw, str) or not raw.strip():
            raise invalid("Observation.valueString", "a text")
        return {"string": raw}
    if codings(raw, "Observation.valueCodeableConcept"):
        system, code, display = first_coding(raw, "Observation.valueCodeableConcept")
        return {"code": code, "system": system, "display": display or text_of(raw)}
    text = text_of(raw)
    if not text:
        raise invalid("Observation.valueCodeableConcept", "a coding or a text")
    return {"string": text}


def _effective(resource: dict[str, Any]) -> Any:
    if resource.get("effectiveDateTime") is not None:
        return parse_instant(resource["effectiveDateTime"], "Observation.effectiveDateTime")
    if resource.get("effectiveInstant") is not None:
        return parse_instant(resource["effectiveInstant"], "Observation.effectiveInstant")
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start"):
        return parse_instant(period["start"], "Observation.effectivePeriod.start")
    raise invalid("Observation.effective[x]", "when it was observed (effectiveDateTime)")


def from_fhir(resource: Any) -> dict[str, Any]:
    """The arguments of `clinical.public.observation_record`, or a 400 naming the element."""
    resource = resource_of(resource, "Observation")
    status = resource.get("status")
    if status not in WRITABLE_STATUS:
        raise invalid("Observation.status", f"PHB records {', '.join(WRITABLE_STATUS)} observations")
    _system, code, display = first_coding(resource.get("code"), "Observation.code", system=LOINC)
    value = _value(resource)
    components = []
    raw_components = resource.get("component") or []
    if not isinstance(raw_components, list):
        raise invalid("Observation.component", "a list of components")
    for i, component in enumerate(raw_components):
        if not isinstance(component, dict):
            raise invalid(f"Observation.component[{i}]", "a component")
        _s, part_code, _d = first_coding(component.get("code"), f"Observation.component[{i}].code", system=LOINC)
        if "valueQuantity" not in component:
            raise invalid(f"Observation.component[{i}].valueQuantity", "a component PHB stores is a quantity")
        components.append(
            {
                "code": part_code,
                "value": _quantity(component["valueQuantity"], f"Observation.component[{i}].valueQuantity"),
            }
        )
    if value is None and not components:
        raise invalid("Observation.value[x]", "an observation without a value says why (dataAbsentReason)")
    out: dict[str, Any] = {
        "patient_id": reference_id(resource.get("subject"), "Patient", "Observation.subject"),
        "encounter_id": reference_id(resource.get("encounter"), "Encounter", "Observation.encounter", required=False),
        "category": _category(resource),
        "code": code,
        "code_display": display or text_of(resource.get("code")),
        "status": status,
        "effective_at": _effective(resource),
        "value": value,
        "components": components,
        "interpretation": "",
        "reference_low": None,
        "reference_high": None,
    }
    interpretation = one(resource.get("interpretation"), "Observation.interpretation")
    if interpretation is not None:
        out["interpretation"] = first_coding(
            interpretation, "Observation.interpretation[0]", system=INTERPRETATION_SYSTEM
        )[1]
    reference = one(resource.get("referenceRange"), "Observation.referenceRange")
    if reference is not None:
        if not isinstance(reference, dict):
            raise invalid("Observation.referenceRange[0]", "a reference range")
        for key in ("low", "high"):
            bound = reference.get(key)
            if bound is not None:
                out[f"reference_{key}"] = _quantity(bound, f"Observation.referenceRange[0].{key}")["numeric"]
    return out


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    values = from_fhir(resource)
    with service_errors("Observation", FIELDS):
        return clinical.observation_record(ctx=ctx, **values)[0]


def update(ctx: Ctx, current: Any, resource: dict[str, Any]) -> Any:
    """The status only: the rest must be as stored (a changed value is a new observation)."""
    resource = resource_of(resource, "Observation")
    status = resource.get("status")
    if status not in (*WRITABLE_STATUS, "entered-in-error"):
        raise invalid("Observation.status", f"one of {', '.join(WRITABLE_STATUS)}, entered-in-error")
    _system, code, _display = first_coding(resource.get("code"), "Observation.code", system=LOINC)
    if code not in (current.code, "85354-9", "55284-4"):
        same_or_refuse(current.code, code, "Observation.code", "the code of an observation")
    same_or_refuse(
        current.patient_id,
        reference_id(resource.get("subject"), "Patient", "Observation.subject"),
        "Observation.subject",
        "the subject of an observation",
    )
    if current.value_numeric is not None and isinstance(resource.get("valueQuantity"), dict):
        sent = resource["valueQuantity"].get("value")
        sign = clinical.VITAL_SIGNS_BY_CODE.get(current.code) if current.vital_set_id else None
        places = 3 if sign is None else 0 if sign.whole else sign.decimals
        if (
            isinstance(sent, bool)
            or not isinstance(sent, int | float)
            or abs(sent - float(current.value_numeric)) > 0.5 * 10**-places + 1e-9
        ):
            raise FhirError(
                422,
                "BUSINESS_RULE",
                "the value of an observation does not change: record a new one",
                expression="Observation.valueQuantity",
            )
    with service_errors("Observation", FIELDS):
        return clinical.observation_status_update(ctx=ctx, observation_id=current.id, status=status)
