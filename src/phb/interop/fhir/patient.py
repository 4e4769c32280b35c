"""Patient (FHIR R4) from PHB's global patient record and its registration here (the MRN)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import HPN_SYSTEM, MRN_SYSTEM, meta, ref

# PHB sex -> FHIR administrative gender
GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}
# FHIR administrative gender -> the PHB values it covers (for search)
SEX_FOR_GENDER = {"female": ["female"], "male": ["male"], "other": ["intersex"], "unknown": ["unknown"]}
MARITAL = {"single": "S", "married": "M", "divorced": "D", "widowed": "W", "separated": "L", "unknown": "UNK"}
MARITAL_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"


def to_fhir(patient: Any, *, mrn: str | None = None, organization_id: Any = None) -> dict[str, Any]:
    """One patient as a FHIR Patient: HPN (and the MRN here), names, gender, birth date, telecom,
    address, marital status, deceased. National identifiers are not shown."""
    identifiers = [{"use": "official", "system": HPN_SYSTEM, "value": patient.hpn}]
    if mrn:
        identifiers.append(
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                "system": MRN_SYSTEM,
                "value": mrn,
                **({"assigner": ref("Organization", organization_id)} if organization_id else {}),
            }
        )
    given = [patient.given_name, *patient.other_names.split()] if patient.other_names else [patient.given_name]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.id),
        "meta": meta(patient.updated_at),
        "identifier": identifiers,
        "active": True,
        "name": [{"use": "official", "family": patient.family_name, "given": [g for g in given if g]}],
        "gender": GENDER.get(patient.sex, "unknown"),
    }
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    telecom = [
        {"system": "phone", "value": number, "use": "mobile" if i == 0 else "home"}
        for i, number in enumerate([patient.phone, patient.phone_secondary])
        if number
    ]
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    address = {
        k: v
        for k, v in {
            "line": [patient.address_line] if patient.address_line else None,
            "city": patient.city,
            "state": patient.state,
            "country": patient.country,
        }.items()
        if v
    }
    if address:
        resource["address"] = [address]
    if patient.marital_status in MARITAL:
        resource["maritalStatus"] = {"coding": [{"system": MARITAL_SYSTEM, "code": MARITAL[patient.marital_status]}]}
    if patient.deceased:
        resource["deceasedDateTime" if patient.deceased_on else "deceasedBoolean"] = (
            patient.deceased_on.isoformat() if patient.deceased_on else True
        )
    if patient.preferred_language:
        resource["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.preferred_language}]},
                "preferred": True,
            }
        ]
    return resource
