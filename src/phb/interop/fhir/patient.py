"""Patient (FHIR R4) from PHB's global patient record and its registration here (the MRN)."""

from __future__ import annotations

from typing import Any

from phb.interop.fhir.common import HPN_SYSTEM, MRN_SYSTEM, invalid, meta, parse_date, parse_instant, ref
from phb.kernel.context import Ctx
from phb.patients import public as patients

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


# --------------------------------------------------------------------------------------------------
# Writes: FHIR Patient -> PHB demographics
# --------------------------------------------------------------------------------------------------

SEX = {"female": "female", "male": "male", "other": "intersex", "unknown": "unknown"}
MARITAL_FROM = {code: value for value, code in MARITAL.items()}
# Identifier type (v2-0203) or system -> the national identifier PHB keeps (encrypted)
IDENTIFIER_TYPES = {"NI": "nin", "NNNGA": "nin", "PPN": "passport", "SS": "ssn"}
IDENTIFIER_SYSTEMS = {"http://hl7.org/fhir/sid/us-ssn": "ssn", "https://phb.health/fhir/sid/nin": "nin"}
# Elements PHB reads; everything else is not stored (it is not refused either).
_MAX = {"family_name": 100, "given_name": 100, "other_names": 200, "city": 100, "state": 100, "address_line": 300}


def _text(value: Any, expression: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(expression, "a string is expected")
    return value.strip()


def _name(resource: dict[str, Any]) -> dict[str, str]:
    names = resource.get("name")
    if not isinstance(names, list) or not names or not all(isinstance(n, dict) for n in names):
        raise invalid("Patient.name", "a name with family and given parts is required")
    chosen = next((n for n in names if n.get("use") == "official"), None) or next(
        (n for n in names if n.get("use") not in ("old", "maiden", "anonymous")), names[0]
    )
    given = chosen.get("given") or []
    if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
        raise invalid("Patient.name.given", "given names are strings")
    given = [g.strip() for g in given if g.strip()]
    family = _text(chosen.get("family"), "Patient.name.family")
    if not family or not given:
        raise invalid("Patient.name", "a name with family and given parts is required")
    return {"family_name": family, "given_name": given[0], "other_names": " ".join(given[1:])}


def _phone(value: str, country: str) -> str | None:
    """The E.164 form of a number PHB can validate (international, or national in `country`), else None."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: str) -> str | None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(value)
    except ValidationError:
        return None
    return value


def _identifiers(resource: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    items = resource.get("identifier") or []
    if not isinstance(items, list):
        raise invalid("Patient.identifier", "a list of identifiers is expected")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            continue
        codes = [c.get("code") for c in ((item.get("type") or {}).get("coding") or []) if isinstance(c, dict)]
        kind = IDENTIFIER_SYSTEMS.get(item.get("system") or "") or next(
            (IDENTIFIER_TYPES[c] for c in codes if c in IDENTIFIER_TYPES), None
        )
        if kind and item["value"].strip():
            out.setdefault(kind, item["value"].strip()[:100])
    return out


def from_fhir(resource: dict[str, Any]) -> dict[str, Any]:
    """The PHB demographics of a FHIR Patient: names, gender, birth date, telecom, address, marital
    status, deceased, preferred language, and national identifiers (SSN, passport, NIN) found by their
    type or system. PHB assigns the id and the HPN; a contact point it cannot validate (a phone not in
    international form nor valid in the address's country, a malformed email) is not stored."""
    fields: dict[str, Any] = _name(resource)
    for key, limit in _MAX.items():
        if key in fields and len(fields[key]) > limit:
            raise invalid("Patient.name", f"at most {limit} characters")
    gender = resource.get("gender", "unknown")
    if gender not in SEX:
        raise invalid("Patient.gender", "male | female | other | unknown")
    fields["sex"] = SEX[gender]
    birth = resource.get("birthDate")
    fields["birth_date"] = parse_date(birth, "Patient.birthDate") if birth is not None else None

    addresses = resource.get("address") or []
    if not isinstance(addresses, list) or not all(isinstance(a, dict) for a in addresses):
        raise invalid("Patient.address", "a list of addresses is expected")
    address = next((a for a in addresses if a.get("use") in (None, "home")), addresses[0] if addresses else {})
    lines = address.get("line") or []
    if not isinstance(lines, list):
        raise invalid("Patient.address.line", "a list of strings is expected")
    fields["address_line"] = ", ".join(str(line).strip() for line in lines if str(line).strip())
    fields["city"] = _text(address.get("city"), "Patient.address.city")
    fields["state"] = _text(address.get("state"), "Patient.address.state")
    for key in ("address_line", "city", "state"):
        if len(fields[key]) > _MAX[key]:
            raise invalid(f"Patient.address.{key.removeprefix('address_')}", f"at most {_MAX[key]} characters")
    country = _text(address.get("country"), "Patient.address.country").upper()
    if country:
        if len(country) != 2 or not country.isalpha():
            raise invalid("Patient.address.country", "an ISO 3166 two-letter country code is expected")
        fields["country"] = country

    phones: list[str] = []
    email = ""
    telecom = resource.get("telecom") or []
    if not isinstance(telecom, list):
        raise invalid("Patient.telecom", "a list of contact points is expected")
    for point in telecom:
        if not isinstance(point, dict) or not isinstance(point.get("value"), str):
            continue
        if point.get("system") in ("phone", "sms") and (number := _phone(point["value"], country)):
            if number not in phones:
                phones.append(number)
        elif point.get("system") == "email" and not email and (address_text := _email(point["value"].strip())):
            email = address_text
    fields["phone"], fields["phone_secondary"] = ([*phones, "", ""])[:2]
    fields["email"] = email

    marital = ((resource.get("maritalStatus") or {}).get("coding") or [{}])[0]
    fields["marital_status"] = MARITAL_FROM.get(marital.get("code", "") if isinstance(marital, dict) else "", "unknown")
    if "deceasedDateTime" in resource:
        fields["deceased"] = True
        fields["deceased_on"] = parse_instant(resource["deceasedDateTime"], "Patient.deceasedDateTime").date()
    else:
        fields["deceased"] = resource.get("deceasedBoolean") is True
        fields["deceased_on"] = None
    for item in resource.get("communication") or []:
        if isinstance(item, dict) and (item.get("preferred") or len(resource["communication"]) == 1):
            codes = (item.get("language") or {}).get("coding") or []
            code = codes[0].get("code") if codes and isinstance(codes[0], dict) else None
            if isinstance(code, str) and 0 < len(code) <= 10:
                fields["preferred_language"] = code
            break
    fields.update(_identifiers(resource))
    return fields


_FIELD_PATH = {
    "given_name": "Patient.name.given",
    "family_name": "Patient.name.family",
    "other_names": "Patient.name.given",
    "birth_date": "Patient.birthDate",
    "sex": "Patient.gender",
    "phone": "Patient.telecom",
    "phone_secondary": "Patient.telecom",
    "email": "Patient.telecom",
    "country": "Patient.address.country",
}


def field_path(field: str) -> str:
    """The FHIR element a PHB field of a patient comes from (for error messages)."""
    return _FIELD_PATH.get(field, "Patient")


def create(ctx: Ctx, resource: dict[str, Any]) -> Any:
    """Register the person here through the master patient index: created, linked (already on record,
    registered here now) or existing (already registered here). The row carries what happened."""
    row, what = patients.patient_register_from_record(ctx=ctx, **from_fhir(resource))
    row.fhir_write = what
    return row


def update(ctx: Ctx, row: Any, resource: dict[str, Any]) -> Any:
    """Replace the demographics the FHIR Patient shows. National identifiers are never shown, so an
    absent one is kept (a read-modify-write does not erase it); one given replaces the stored one."""
    fields = from_fhir(resource)
    return patients.patient_update(ctx=ctx, patient_id=row.id, **fields)
