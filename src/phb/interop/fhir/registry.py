"""The FHIR API's one registry: every resource type it serves, the rows a requester may see, the mapper,
and each search parameter, sort, _include and _revinclude. The views route requests through it and
the CapabilityStatement is generated from it, so the statement cannot promise what the server does not do.

Visibility comes from each domain app's `public` module (the same policies as the REST API); this module
only narrows those querysets by the parameters asked for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

from phb.clinical import public as clinical
from phb.interop.fhir import (
    allergy_intolerance,
    appointment,
    audit_event,
    care_plan,
    condition,
    consent,
    document_reference,
    encounter,
    group,
    immunization,
    location,
    medication,
    medication_dispense,
    medication_request,
    observation,
    organization,
    patient,
    practitioner,
    practitioner_role,
    schedule,
)
from phb.interop.fhir.common import HPN_SYSTEM, LICENCE_SYSTEM, LOINC, MRN_SYSTEM, ORGANIZATION_SYSTEM
from phb.interop.fhir.search import bad, date_filter, reference_id, split_or, token
from phb.kernel.context import Ctx
from phb.kernel.errors import ValidationFailed
from phb.kernel.models import AuditEvent, Organization
from phb.kernel.validators import normalize_phone
from phb.medications import public as medications
from phb.organizations import public as organizations
from phb.patients import public as patients
from phb.pharmacy import public as pharmacy
from phb.scheduling import public as scheduling
from phb.terminology import public as terminology
from phb.workforce import public as workforce

Filter = Callable[[str, str, dt.tzinfo, Ctx], Q]


@dataclass(frozen=True)
class SearchParam:
    """One search parameter: its FHIR type, what it means, and the condition one value (of the
    comma-separated alternatives) puts on the rows."""

    type: str  # token | string | date | reference
    doc: str
    build: Filter


@dataclass(frozen=True)
class Include:
    """`_include=<Source>:<param>` (or `_revinclude`): rows of `target` whose id (or `field`) links."""

    target: str
    source_field: str  # on the source rows: the id of the target
    target_field: str = "id"


@dataclass(frozen=True)
class WriteDef:
    """How a type is written. Each callable runs inside the view's (or the bundle's) transaction,
    raises FhirError for bad input (400 INVALID_RESOURCE / 400 INVALID_REFERENCE / 404 NOT_FOUND /
    409 CONFLICT / 422 BUSINESS_RULE), and is audited by the domain service it calls."""

    create: Callable[[Ctx, dict[str, Any]], Any]  # (ctx, resource) -> saved row
    update: Callable[[Ctx, Any, dict[str, Any]], Any] | None = None  # (ctx, current row, resource) -> row
    delete: Callable[[Ctx, Any], None] | None = None  # only where PHB allows deleting
    permissions: frozenset[str] = frozenset()  # any of them lets a USER write the type


@dataclass(frozen=True)
class ResourceDef:
    type: str
    doc: str
    rows: Callable[[Ctx], QuerySet[Any]]
    render: Callable[[Any, dict[str, Any]], dict[str, Any]]  # (row, page context) -> resource
    permissions: frozenset[str]  # any of them lets a user search this type (else 403)
    params: dict[str, SearchParam]
    sorts: dict[str, str]  # FHIR sort name -> model field
    default_sort: str  # FHIR sort name, "-" for descending
    patient_field: str | None  # the patient a row is about (audited); "id" for Patient
    includes: dict[str, Include] = field(default_factory=dict)
    revincludes: dict[str, Include] = field(default_factory=dict)
    page_context: Callable[[Ctx, list[Any]], dict[str, Any]] | None = None
    clinical: bool = False  # user tokens need the step-up window, as the REST API's clinical endpoints
    chains: tuple[str, ...] = ()  # chained parameters, e.g. "patient.identifier"
    write: WriteDef | None = None  # create/update/delete, where PHB accepts them


# --------------------------------------------------------------------------------------------------
# Parameter builders
# --------------------------------------------------------------------------------------------------


def _by_id(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    try:
        return Q(id=uuid.UUID(text.strip()))
    except ValueError:
        return Q(pk__in=[])


def _patient_ref(field_name: str) -> Filter:
    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        return Q(**{field_name: reference_id(text, "Patient", name)})

    return build


def _date(field_name: str, *, is_date: bool = False) -> Filter:
    inner = date_filter(field_name, is_date=is_date)

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        return inner(text, name, zone)

    return build


def _coded(system_field: str, code_field: str, *, default_system: str = "") -> Filter:
    """`code=system|code`: a stored system compares exactly; `|code` asks for no system."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        system, code = token(text)
        if not code:
            raise bad(f"{name}: give a code (system|code or code)", name)
        condition = Q(**{code_field: code})
        if system is not None and system_field:
            condition &= Q(**{system_field: system})
        elif system not in (None, default_system):
            return Q(pk__in=[])
        return condition

    return build


def _mapped(field_name: str, mapping: dict[str, list[str]]) -> Filter:
    """A token whose FHIR codes map onto PHB's stored values; an unknown code is a 400."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        _system, code = token(text)
        if code not in mapping:
            raise bad(f"{name}: unknown code {code[:40]!r}; one of {', '.join(sorted(mapping))}", name)
        return Q(**{f"{field_name}__in": mapping[code]})

    return build


def _string(*fields: str) -> Filter:
    """FHIR string search: case-insensitive, matching the start of any of `fields`."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        value = text.strip()
        if not value:
            raise bad(f"{name}: give a value", name)
        condition = Q()
        for f in fields:
            condition |= Q(**{f"{f}__istartswith": value})
        return condition

    return build


def _patient_identifier(field_name: str) -> Filter:
    """Patient identifiers: HPN (any organization) or the MRN here; a bare value tries both."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        system, value = token(text)
        value = value.strip()
        if not value:
            raise bad(f"{name}: give an identifier (system|value)", name)
        condition = Q(pk__in=[])
        if system in (None, HPN_SYSTEM):
            condition |= Q(
                **{f"{field_name}__in": patients.Patient.objects.filter(hpn=value.replace(" ", "")).values("id")}
            )
        if system in (None, MRN_SYSTEM):
            condition |= Q(**{f"{field_name}__in": patients.patient_ids_by_mrn(ctx, value)})
        return condition

    return build


def _patient_phone(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    from django.core.exceptions import ValidationError

    try:
        number = normalize_phone(text.strip())
    except ValidationError as exc:
        raise bad("phone: give the number in international form, e.g. +2348031234567", name) from exc
    return Q(phone=number) | Q(phone_secondary=number)


def _literal(values: set[str]) -> Filter:
    """A token whose only value PHB stores is known (Observation.status is always "final")."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        _system, code = token(text)
        return Q() if code in values else Q(pk__in=[])

    return build


def _mrn_context(ctx: Ctx, rows: list[Any]) -> dict[str, Any]:
    return {"mrns": patients.medical_record_numbers(ctx, [r.id for r in rows]), "organization_id": ctx.organization_id}


# --------------------------------------------------------------------------------------------------
# The resource types
# --------------------------------------------------------------------------------------------------

PATIENT = "Patient"
_ID = SearchParam("token", "The resource's id", _by_id)


def _patient_param(field_name: str = "patient_id") -> SearchParam:
    return SearchParam("reference", "The patient the resource is about (Patient/id)", _patient_ref(field_name))


_GENDERS = patient.SEX_FOR_GENDER
_CONDITION_CLINICAL = condition.PHB_STATUS
_CONDITION_CATEGORY = {k: [v] for k, v in condition.PHB_CATEGORY.items()}
_ENCOUNTER_STATUS = {k: [v] for k, v in encounter.PHB_STATUS.items()}


def _vital_display(row: Any, context: dict[str, Any]) -> dict[str, Any]:
    sign = clinical.VITAL_SIGNS_BY_CODE.get(row.code)
    return observation.to_fhir(row, display=row.code_display or (sign.display if sign else ""))


def _observation_category(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    system, code = token(text)
    ok = code in observation.CATEGORY_DISPLAY and system in (None, observation.CATEGORY_SYSTEM)
    return Q(category=code) if ok else Q(pk__in=[])


def _allergy_status(field_name: str) -> Filter:
    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        _system, code = token(text)
        return Q(**{field_name: code})

    return build


_CLINICAL_WRITE = frozenset({clinical.UPDATE})

REGISTRY: dict[str, ResourceDef] = {}


def _register(resource: ResourceDef) -> None:
    REGISTRY[resource.type] = resource


_register(
    ResourceDef(
        type=PATIENT,
        doc="Patients registered at the organization (HPN and MRN as identifiers).",
        rows=patients.patients_visible,
        render=lambda row, c: patient.to_fhir(row, mrn=c["mrns"].get(row.id), organization_id=c["organization_id"]),
        permissions=frozenset({"patients.demographics.view", "clinical.record.view"}),
        params={
            "_id": _ID,
            "identifier": SearchParam(
                "token", f"HPN ({HPN_SYSTEM}|...) or MRN here ({MRN_SYSTEM}|...)", _patient_identifier("id")
            ),
            "name": SearchParam(
                "string",
                "Start of the family, given or other names",
                _string("family_name", "given_name", "other_names"),
            ),
            "family": SearchParam("string", "Start of the family name", _string("family_name")),
            "given": SearchParam("string", "Start of the given (or other) names", _string("given_name", "other_names")),
            "birthdate": SearchParam(
                "date", "Date of birth (prefixes eq, ge, le, gt, lt)", _date("birth_date", is_date=True)
            ),
            "gender": SearchParam("token", "male | female | other | unknown", _mapped("sex", _GENDERS)),
            "phone": SearchParam("token", "A phone number in international form", _patient_phone),
        },
        sorts={"birthdate": "birth_date", "_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field="id",
        revincludes={"Encounter:patient": Include("Encounter", source_field="id", target_field="patient_id")},
        page_context=_mrn_context,
        write=WriteDef(
            create=patient.create,
            update=patient.update,
            permissions=frozenset({"patients.registration.manage", "patients.demographics.update"}),
        ),
    )
)

_register(
    ResourceDef(
        type="Practitioner",
        doc="Practitioners of the organization (their profiles).",
        rows=workforce.practitioners_visible,
        render=lambda row, c: practitioner.to_fhir(row),
        permissions=frozenset({"organizations.organization.view"}),
        params={
            "_id": _ID,
            "name": SearchParam("string", "Start of the practitioner's name", _string("user__full_name")),
            "identifier": SearchParam(
                "token",
                f"Licence number ({LICENCE_SYSTEM}|...)",
                _coded("", "licence_number", default_system=LICENCE_SYSTEM),
            ),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)

_register(
    ResourceDef(
        type="PractitionerRole",
        doc="A practitioner's specialty at the organization (one per practitioner's profile, same id).",
        rows=workforce.practitioners_visible,
        render=lambda row, c: practitioner_role.to_fhir(row),
        permissions=frozenset({"organizations.organization.view"}),
        params={
            "_id": _ID,
            "practitioner": SearchParam(
                "reference",
                "The practitioner (Practitioner/id)",
                lambda t, n, z, c: Q(id=reference_id(t, "Practitioner", n)),
            ),
            "specialty": SearchParam(
                "token", "The specialty as written", lambda t, n, z, c: Q(specialization__iexact=token(t)[1])
            ),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)


def _organizations(ctx: Ctx) -> QuerySet[Any]:
    """The requester's own organization (the tenant registry is no directory of every hospital)."""
    if ctx.organization_id is None or not ctx.has_perm("organizations.organization.view"):
        return Organization.objects.none()
    return Organization.objects.for_tenant(ctx)


_register(
    ResourceDef(
        type="Organization",
        doc="The requester's own organization.",
        rows=_organizations,
        render=lambda row, c: organization.to_fhir(row),
        permissions=frozenset({"organizations.organization.view"}),
        params={
            "_id": _ID,
            "name": SearchParam("string", "Start of the name", _string("name")),
            "identifier": SearchParam(
                "token",
                f"Registration number ({ORGANIZATION_SYSTEM}|...)",
                _coded("", "registration_number", default_system=ORGANIZATION_SYSTEM),
            ),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)

_register(
    ResourceDef(
        type="Encounter",
        doc="Visits (outpatient, telemedicine) of patients the requester may see.",
        rows=clinical.encounters_visible,
        render=lambda row, c: encounter.to_fhir(row),
        permissions=frozenset({"clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "date": SearchParam("date", "When the encounter started", _date("started_at")),
            "status": SearchParam(
                "token", "planned | in-progress | finished | cancelled", _mapped("status", _ENCOUNTER_STATUS)
            ),
            "class": SearchParam(
                "token", "AMB | EMER | IMP | VR (v3 ActCode)", lambda t, n, z, c: Q(encounter_class=token(t)[1])
            ),
        },
        sorts={"date": "started_at", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        includes={"Encounter:patient": Include(PATIENT, source_field="patient_id")},
        clinical=True,
        chains=("patient.identifier",),
        write=WriteDef(create=encounter.create, update=encounter.update, permissions=_CLINICAL_WRITE),
    )
)

_register(
    ResourceDef(
        type="Observation",
        doc="Vital signs, laboratory results, surveys, ... (LOINC codes, UCUM units) of patients the requester may see.",
        rows=clinical.observations_visible,
        render=_vital_display,
        permissions=frozenset({"clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "date": SearchParam("date", "When it was measured", _date("effective_at")),
            "code": SearchParam("token", f"LOINC code ({LOINC}|8867-4)", _coded("", "code", default_system=LOINC)),
            "category": SearchParam(
                "token", "vital-signs | laboratory | survey | social-history | exam | ...", _observation_category
            ),
            "status": SearchParam(
                "token",
                "preliminary | final | amended | corrected | entered-in-error",
                lambda t, n, z, c: Q(status=token(t)[1]),
            ),
            "encounter": SearchParam(
                "reference",
                "The encounter (Encounter/id)",
                lambda t, n, z, c: Q(encounter_id=reference_id(t, "Encounter", n)),
            ),
        },
        sorts={"date": "effective_at", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        includes={"Observation:patient": Include(PATIENT, source_field="patient_id")},
        clinical=True,
        chains=("patient.identifier",),
        write=WriteDef(
            create=observation.create,
            update=observation.update,
            permissions=frozenset({clinical.UPDATE, clinical.RECORD_VITALS}),  # vital signs only: the latter
        ),
    )
)

_register(
    ResourceDef(
        type="Condition",
        doc="Diagnoses and problems of patients the requester may see.",
        rows=clinical.diagnoses_visible,
        render=lambda row, c: condition.to_fhir(row),
        permissions=frozenset({"clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "code": SearchParam("token", "system|code (ICD-10-CM, SNOMED CT, ...)", _coded("system", "code")),
            "category": SearchParam(
                "token", "problem-list-item | encounter-diagnosis", _mapped("category", _CONDITION_CATEGORY)
            ),
            "clinical-status": SearchParam(
                "token", "active | resolved", _mapped("clinical_status", _CONDITION_CLINICAL)
            ),
            "recorded-date": SearchParam("date", "When it was recorded", _date("recorded_at")),
            "onset-date": SearchParam("date", "When it began", _date("onset_date", is_date=True)),
        },
        sorts={"recorded-date": "recorded_at", "_lastUpdated": "updated_at"},
        default_sort="-recorded-date",
        patient_field="patient_id",
        clinical=True,
        chains=("patient.identifier",),
        write=WriteDef(create=condition.create, update=condition.update, permissions=_CLINICAL_WRITE),
    )
)

_register(
    ResourceDef(
        type="AllergyIntolerance",
        doc="Allergies and intolerances of patients the requester may see.",
        rows=clinical.allergies_visible,
        render=lambda row, c: allergy_intolerance.to_fhir(row),
        permissions=frozenset({"clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "code": SearchParam("token", "The substance, system|code", _coded("substance_system", "substance_code")),
            "category": SearchParam(
                "token", "food | medication | environment | biologic", lambda t, n, z, c: Q(category=token(t)[1])
            ),
            "clinical-status": SearchParam("token", "active | inactive | resolved", _allergy_status("clinical_status")),
            "verification-status": SearchParam(
                "token", "unconfirmed | confirmed | refuted | entered-in-error", _allergy_status("verification_status")
            ),
            "criticality": SearchParam(
                "token", "low | high | unable-to-assess", lambda t, n, z, c: Q(criticality=token(t)[1])
            ),
            "date": SearchParam("date", "When it was recorded", _date("asserted_on", is_date=True)),
        },
        sorts={"date": "asserted_on", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        clinical=True,
        chains=("patient.identifier",),
        write=WriteDef(
            create=allergy_intolerance.create, update=allergy_intolerance.update, permissions=_CLINICAL_WRITE
        ),
    )
)

_register(
    ResourceDef(
        type="Immunization",
        doc="Vaccinations of patients the requester may see.",
        rows=clinical.immunizations_visible,
        render=lambda row, c: immunization.to_fhir(row),
        permissions=frozenset({"clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "date": SearchParam("date", "When it was given", _date("occurred_on", is_date=True)),
            "status": SearchParam(
                "token",
                "completed | not-done | entered-in-error",
                lambda t, n, z, c: (
                    Q(entered_in_error_at__isnull=False)
                    if token(t)[1] == "entered-in-error"
                    else Q(status=token(t)[1], entered_in_error_at__isnull=True)
                ),
            ),
            "vaccine-code": SearchParam("token", "system|code (CVX, ...)", _coded("vaccine_system", "vaccine_code")),
        },
        sorts={"date": "occurred_on", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        clinical=True,
        chains=("patient.identifier",),
        write=WriteDef(create=immunization.create, update=immunization.update, permissions=_CLINICAL_WRITE),
    )
)

_register(
    ResourceDef(
        type="Appointment",
        doc="Appointments at the organization.",
        rows=scheduling.appointments_visible,
        render=lambda row, c: appointment.to_fhir(row),
        permissions=frozenset({"scheduling.appointment.manage", "clinical.record.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "date": SearchParam("date", "When it starts", _date("start_at")),
            "status": SearchParam(
                "token",
                "proposed | booked | checked-in | arrived | fulfilled | cancelled | noshow",
                _mapped("status", appointment.PHB_STATUS),
            ),
            "practitioner": SearchParam(
                "reference",
                "The practitioner (Practitioner/id)",
                lambda t, n, z, c: Q(practitioner_id=reference_id(t, "Practitioner", n)),
            ),
        },
        sorts={"date": "start_at", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        chains=("patient.identifier",),
    )
)


def _audit_events(ctx: Ctx) -> QuerySet[Any]:
    if ctx.organization_id is None or not ctx.has_perm("audit.event.view"):
        return AuditEvent.objects.none()
    return AuditEvent.objects.for_tenant(ctx)


_register(
    ResourceDef(
        type="AuditEvent",
        doc="The organization's audit trail (privacy officers; read and search only).",
        rows=_audit_events,
        render=lambda row, c: audit_event.to_fhir(row),
        permissions=frozenset({"audit.event.view"}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "date": SearchParam("date", "When it happened", _date("occurred_at")),
            "subtype": SearchParam(
                "token",
                "PHB's action, e.g. urn:phb:audit-action|clinical.chart.read",
                lambda t, n, z, c: Q(action=token(t)[1]),
            ),
        },
        sorts={"date": "occurred_at"},
        default_sort="-date",
        patient_field=None,  # the events are about access, not a patient's record
    )
)

_register(
    ResourceDef(
        type="Group",
        doc="A department's patients (those with an encounter there): the unit of Group/<id>/$export. "
        "Members are not listed in the resource.",
        rows=organizations.departments_visible,
        render=lambda row, c: group.to_fhir(row),
        permissions=frozenset({"organizations.organization.view"}),
        params={
            "_id": _ID,
            "name": SearchParam("string", "Start of the department's name", _string("name")),
            "identifier": SearchParam(
                "token",
                f"The department's code ({group.DEPARTMENT_SYSTEM}|...)",
                _coded("", "code", default_system=group.DEPARTMENT_SYSTEM),
            ),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)


# --------------------------------------------------------------------------------------------------
# Medications, dispensing, care plans, documents, consents, places and schedules
# --------------------------------------------------------------------------------------------------

_DIRECTORY = "organizations.organization.view"  # directories: no health data
_RECORD = "clinical.record.view"


def _drugs(ctx: Ctx) -> QuerySet[Any]:
    """The drug catalogue (the same for every organization), for anyone who may read the directory or
    the record of the organization."""
    if ctx.organization_id is None or not (ctx.has_perm(_DIRECTORY) or ctx.has_perm(_RECORD)):
        return terminology.drug_concepts().none()
    return terminology.drug_concepts()


def _drug_code_of(system: str | None, code: str) -> str | None:
    """The catalogue's code a token names: a code of the catalogue, or an RxNorm code it lists."""
    if system in (None, medication.DRUGS):
        return code
    if system == medication.RXNORM:
        drug = terminology.drug_for_coding(terminology.Coding(terminology.RXNORM, code))
        return drug.code if drug else None
    return None


def _drug_code(field_name: str) -> Filter:
    """`code=system|code`: the catalogue's code (system drugs) or an RxNorm code of it."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        system, code = token(text)
        if not code.strip():
            raise bad(f"{name}: give a code (system|code or code)", name)
        if system == medication.ATC:
            return Q(**{f"{field_name}__in": _atc_codes(code.strip())})
        drug = _drug_code_of(system, code.strip())
        return Q(**{field_name: drug}) if drug else Q(pk__in=[])

    return build


def _atc_codes(atc: str) -> QuerySet[Any]:
    return terminology.drug_concepts().filter(properties__atc=atc).values("code")


def _medication_ref(field_name: str) -> Filter:
    """`medication=Medication/<drug code>`."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        value = text.strip().rstrip("/")
        parts = value.split("/")
        if len(parts) >= 2:
            if parts[-2] != "Medication":
                raise bad(f"{name}: a reference to Medication is expected, not {parts[-2][:40]!r}", name)
            value = parts[-1]
        if not value:
            raise bad(f"{name}: give a reference (Medication/<code>)", name)
        return Q(**{field_name: value})

    return build


def _drug_name(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    """Start of the drug's name, or one of its synonyms or brands (the catalogue's search)."""
    value = text.strip()
    if not value:
        raise bad(f"{name}: give a value", name)
    if len(value) > 100:
        raise bad(f"{name}: at most 100 characters", name)
    return Q(display__istartswith=value) | Q(code__in=[d.code for d in _safe_drug_search(value)])


def _safe_drug_search(value: str) -> list[Any]:
    try:
        return terminology.drug_search(value, 50)
    except (ValidationFailed, terminology.DrugKnowledgeMissing):
        return []  # a query the catalogue's search refuses (too many words) finds by name only


def _token_in(values: set[str], mapping: Callable[[str], Q], unused: tuple[str, ...] = ()) -> Filter:
    """A token over a closed set of FHIR codes: `mapping(code)` for PHB's, nothing for codes FHIR has
    and PHB never uses (`unused`), a 400 for anything else."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        _system, code = token(text)
        if code in values:
            return mapping(code)
        if code in unused:
            return Q(pk__in=[])
        known = ", ".join(sorted(values | set(unused)))
        raise bad(f"{name}: unknown code {code[:40]!r}; one of {known}", name)

    return build


def _system_literal(system: str, code: str) -> Filter:
    """A token every row has (`system|code`); another code of the system is a 400, another system none."""

    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        asked_system, asked = token(text)
        if asked_system not in (None, system):
            return Q(pk__in=[])
        if asked != code:
            raise bad(f"{name}: unknown code {asked[:40]!r}; {code}", name)
        return Q(pk__isnull=False)

    return build


def _ref(field_name: str, resource_type: str) -> Filter:
    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        return Q(**{field_name: reference_id(text, resource_type, name)})

    return build


def _practitioner_ids(ctx: Ctx, rows: list[Any], user_field: str) -> dict[str, Any]:
    """The Practitioner id (practitioner's profile here) of each user in `user_field` of `rows`."""
    users = {getattr(r, user_field) for r in rows} - {None}
    profiles = dict(
        workforce.PractitionerProfile.objects.for_tenant(ctx).filter(user_id__in=users).values_list("user_id", "id")
    )
    return {"practitioners": profiles, "organization_id": ctx.organization_id}


_register(
    ResourceDef(
        type="Medication",
        doc="The drug catalogue's generics (code system https://phb.health/fhir/CodeSystem/drugs, ATC).",
        rows=_drugs,
        render=lambda row, c: medication.to_fhir(
            row.code, row.display, row.properties, active=row.active, version=row.system.version
        ),
        permissions=frozenset({_DIRECTORY, _RECORD}),
        params={
            "_id": SearchParam("token", "The drug's code in the catalogue", lambda t, n, z, c: Q(code=t.strip())),
            "code": SearchParam(
                "token",
                f"The catalogue's code ({medication.DRUGS}|...), an RxNorm code it lists "
                f"({medication.RXNORM}|...) or an ATC code ({medication.ATC}|...)",
                _drug_code("code"),
            ),
            "name": SearchParam("string", "Start of the drug's name, a synonym or a brand", _drug_name),
        },
        sorts={"code": "code"},
        default_sort="code",
        patient_field=None,
    )
)


def _authored(rows: QuerySet[Any]) -> QuerySet[Any]:
    """When the order was given: signed, or for a draft written."""
    return rows.annotate(authored_at=Coalesce(F("prescription__signed_at"), F("prescription__created_at")))


def _prescription_item_context(ctx: Ctx, rows: list[Any]) -> dict[str, Any]:
    out = _practitioner_ids(ctx, [r.prescription for r in rows], "prescriber_id")
    drafts = _practitioner_ids(ctx, [r.prescription for r in rows], "author_id")["practitioners"]
    out["authors"] = drafts
    return out


def _requester(row: Any, context: dict[str, Any]) -> Any:
    prescription = row.prescription
    if prescription.prescriber_id:
        return context["practitioners"].get(prescription.prescriber_id)
    return context["authors"].get(prescription.author_id)


_register(
    ResourceDef(
        type="MedicationRequest",
        doc="Prescription items (one order each; the prescription is the group) of patients the requester may see.",
        rows=lambda ctx: _authored(medications.prescription_items_visible(ctx)),
        render=lambda row, c: medication_request.to_fhir(row, requester_id=_requester(row, c)),
        permissions=frozenset({_RECORD}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "status": SearchParam(
                "token",
                "draft | active | completed | cancelled | stopped",
                _token_in(
                    set(medication_request.PHB_STATUS),
                    lambda code: Q(prescription__status__in=medication_request.PHB_STATUS[code]),
                    medication_request.UNUSED_STATUS,
                ),
            ),
            "intent": SearchParam(
                "token",
                "order (every prescription item)",
                _token_in(
                    {"order"},
                    lambda code: Q(pk__isnull=False),
                    ("proposal", "plan", "original-order", "reflex-order", "filler-order", "instance-order", "option"),
                ),
            ),
            "authoredon": SearchParam("date", "When it was signed (a draft: written)", _date("authored_at")),
            "encounter": SearchParam(
                "reference", "The encounter (Encounter/id)", _ref("prescription__encounter_id", "Encounter")
            ),
            "medication": SearchParam("reference", "The drug (Medication/<code>)", _medication_ref("drug_code")),
            "code": SearchParam(
                "token",
                "The drug: the catalogue's code, an RxNorm code it lists or an ATC code",
                _drug_code("drug_code"),
            ),
        },
        sorts={"authoredon": "authored_at", "_lastUpdated": "updated_at"},
        default_sort="-authoredon",
        patient_field="patient_id",
        includes={
            "MedicationRequest:medication": Include("Medication", source_field="drug_code", target_field="code"),
            "MedicationRequest:patient": Include(PATIENT, source_field="patient_id"),
        },
        page_context=_prescription_item_context,
        clinical=True,
        chains=("patient.identifier",),
    )
)


def _performer(row: Any, context: dict[str, Any]) -> Any:
    return context["practitioners"].get(row.dispensing.dispensed_by_id)


_register(
    ResourceDef(
        type="MedicationDispense",
        doc="Medicines handed over by the pharmacy (one per drug dispensed) to patients the requester may see.",
        rows=lambda ctx: pharmacy.dispensing_lines_visible(ctx).annotate(product_drug_code=F("product__drug_code")),
        render=lambda row, c: medication_dispense.to_fhir(row, performer_id=_performer(row, c)),
        permissions=frozenset({_RECORD}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "status": SearchParam(
                "token",
                "completed (every dispensing PHB records)",
                _token_in(
                    {"completed"},
                    lambda code: Q(pk__isnull=False),
                    (
                        "preparation",
                        "in-progress",
                        "cancelled",
                        "on-hold",
                        "entered-in-error",
                        "stopped",
                        "declined",
                        "unknown",
                    ),
                ),
            ),
            "prescription": SearchParam(
                "reference", "The prescription item (MedicationRequest/id)", _ref("item_id", "MedicationRequest")
            ),
            "whenhandedover": SearchParam("date", "When it was handed over", _date("handed_over_at")),
            "medication": SearchParam(
                "reference", "The drug (Medication/<code>)", _medication_ref("product__drug_code")
            ),
        },
        sorts={"whenhandedover": "handed_over_at", "_lastUpdated": "updated_at"},
        default_sort="-whenhandedover",
        patient_field="patient_id",
        includes={
            "MedicationDispense:medication": Include(
                "Medication", source_field="product_drug_code", target_field="code"
            ),
            "MedicationDispense:prescription": Include("MedicationRequest", source_field="item_id"),
        },
        page_context=lambda ctx, rows: _practitioner_ids(ctx, [r.dispensing for r in rows], "dispensed_by_id"),
        clinical=True,
        chains=("patient.identifier",),
    )
)

_register(
    ResourceDef(
        type="CarePlan",
        doc="Care plans (goals contained, activities as activity.detail) of patients the requester may see.",
        rows=clinical.care_plans_visible,
        render=lambda row, c: care_plan.to_fhir(row, author_id=c["practitioners"].get(row.created_by_id)),
        permissions=frozenset({_RECORD}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "status": SearchParam(
                "token",
                "draft | active | on-hold | completed | revoked",
                _token_in(
                    set(care_plan.PHB_STATUS),
                    lambda code: Q(status__in=care_plan.PHB_STATUS[code]),
                    care_plan.UNUSED_STATUS,
                ),
            ),
            "date": SearchParam("date", "When the plan's period starts", _date("period_start", is_date=True)),
            "category": SearchParam(
                "token",
                f"{care_plan.CATEGORY} ({care_plan.CATEGORY_SYSTEM}; every plan)",
                _system_literal(care_plan.CATEGORY_SYSTEM, care_plan.CATEGORY),
            ),
        },
        sorts={"date": "period_start", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        page_context=lambda ctx, rows: _practitioner_ids(ctx, rows, "created_by_id"),
        clinical=True,
        chains=("patient.identifier",),
    )
)


def _document_type(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    """`type=http://loinc.org|<code>`: the categories whose LOINC document type it is."""
    system, code = token(text)
    if not code.strip():
        raise bad(f"{name}: give a LOINC document type (http://loinc.org|...)", name)
    if system not in (None, LOINC):
        return Q(pk__in=[])
    return Q(category__in=[k for k, v in clinical.DOCUMENT_LOINC.items() if v == code.strip()])


_DOCUMENT_CATEGORIES = {c: [c] for c, _label in clinical.ClinicalDocument._meta.get_field("category").choices}


_register(
    ResourceDef(
        type="DocumentReference",
        doc="Documents on the record of patients the requester may see (the content through PHB's "
        "authenticated download, never embedded).",
        rows=clinical.documents_visible,
        render=lambda row, c: document_reference.to_fhir(
            row,
            loinc=clinical.DOCUMENT_LOINC,
            category_display=row.get_category_display(),
            author_id=c["practitioners"].get(row.uploaded_by_id),
        ),
        permissions=frozenset({_RECORD}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "subject": _patient_param(),
            "date": SearchParam("date", "When it was added to the record", _date("created_at")),
            "type": SearchParam("token", f"The LOINC document type ({LOINC}|...)", _document_type),
            "category": SearchParam(
                "token",
                f"PHB's category ({document_reference.CATEGORY_SYSTEM}|...): "
                + " | ".join(sorted(_DOCUMENT_CATEGORIES)),
                _mapped("category", _DOCUMENT_CATEGORIES),
            ),
            "status": SearchParam(
                "token",
                "current | entered-in-error",
                _token_in({"current", "entered-in-error"}, lambda code: Q(status=code), ("superseded",)),
            ),
        },
        sorts={"date": "created_at", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        page_context=lambda ctx, rows: _practitioner_ids(ctx, rows, "uploaded_by_id"),
        clinical=True,
        chains=("patient.identifier",),
    )
)

_CONSENT_KINDS = {k: [k] for k, _label in patients.Consent._meta.get_field("kind").choices}


def _consent_category(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    """PHB's kind of consent, or LOINC's 59284-0 (every consent)."""
    system, code = token(text)
    if code == consent.CONSENT_LOINC and system in (None, LOINC):
        return Q(pk__isnull=False)
    if system not in (None, consent.KIND_SYSTEM):
        return Q(pk__in=[])
    return _mapped("kind", _CONSENT_KINDS)(text, name, zone, ctx)


_register(
    ResourceDef(
        type="Consent",
        doc="Consents of the patients registered here that concern this organization.",
        rows=patients.consents_visible,
        render=lambda row, c: consent.to_fhir(row, kind_display=row.get_kind_display()),
        permissions=frozenset({"patients.demographics.view", _RECORD}),
        params={
            "_id": _ID,
            "patient": _patient_param(),
            "status": SearchParam(
                "token",
                "active | inactive (withdrawn)",
                _token_in(
                    {"active", "inactive"},
                    lambda code: Q(withdrawn_at__isnull=code == "active"),
                    ("draft", "proposed", "rejected", "entered-in-error"),
                ),
            ),
            "category": SearchParam(
                "token",
                f"The kind ({consent.KIND_SYSTEM}|...): "
                + " | ".join(sorted(_CONSENT_KINDS))
                + f"; or {LOINC}|59284-0",
                _consent_category,
            ),
            "date": SearchParam("date", "When it was given", _date("granted_at")),
        },
        sorts={"date": "granted_at", "_lastUpdated": "updated_at"},
        default_sort="-date",
        patient_field="patient_id",
        chains=("patient.identifier",),
    )
)

_register(
    ResourceDef(
        type="Location",
        doc="The organization's departments: the places where its care happens.",
        rows=organizations.departments_visible,
        render=lambda row, c: location.to_fhir(row, kind_display=row.get_kind_display()),
        permissions=frozenset({_DIRECTORY}),
        params={
            "_id": _ID,
            "name": SearchParam("string", "Start of the name", _string("name")),
            "identifier": SearchParam(
                "token",
                f"The department's code ({location.DEPARTMENT_SYSTEM}|...)",
                _coded("", "code", default_system=location.DEPARTMENT_SYSTEM),
            ),
            "organization": SearchParam(
                "reference", "The organization (Organization/id)", _ref("organization_id", "Organization")
            ),
            "status": SearchParam(
                "token",
                "active | inactive",
                _token_in({"active", "inactive"}, lambda code: Q(is_active=code == "active"), ("suspended",)),
            ),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)


def _schedule_actor(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    """Practitioner/<id> or PractitionerRole/<id> (the same id), or Location/<department id>."""
    kind = text.strip().rstrip("/").split("/")[-2] if "/" in text.strip().rstrip("/") else "Practitioner"
    if kind == "Location":
        return Q(department_id=reference_id(text, "Location", name))
    if kind == "PractitionerRole":
        return Q(id=reference_id(text, "PractitionerRole", name))
    return Q(id=reference_id(text, "Practitioner", name))


def _boolean(field_name: str) -> Filter:
    def build(text: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
        value = token(text)[1].strip()
        if value not in ("true", "false"):
            raise bad(f"{name}: true or false", name)
        return Q(**{field_name: value == "true"})

    return build


_register(
    ResourceDef(
        type="Schedule",
        doc="Practitioners' bookable calendars (their weekly availability); their Slots are computed.",
        rows=workforce.schedules_visible,
        render=lambda row, c: schedule.to_fhir(row),
        permissions=frozenset({_DIRECTORY}),
        params={
            "_id": _ID,
            "actor": SearchParam(
                "reference", "Practitioner/id, PractitionerRole/id or Location/id (a department)", _schedule_actor
            ),
            "active": SearchParam("token", "true | false", _boolean("is_active")),
        },
        sorts={"_lastUpdated": "updated_at"},
        default_sort="-_lastUpdated",
        patient_field=None,
    )
)


def chained_patient_identifier(text: str, ctx: Ctx) -> Q:
    """`patient.identifier=system|value` on a resource about a patient: one level of chaining."""
    return _patient_identifier("patient_id")(text, "patient.identifier", dt.UTC, ctx)


def alternatives(param: SearchParam, values: str, name: str, zone: dt.tzinfo, ctx: Ctx) -> Q:
    """One occurrence of a parameter: its comma-separated values are alternatives (OR)."""
    conditions = [param.build(value, name, zone, ctx) for value in split_or(values)]
    if not conditions:
        return Q(pk__in=[])
    if any(not c for c in conditions):  # an empty Q matches every row; OR-ing it in would drop it
        return Q()
    condition = conditions[0]
    for c in conditions[1:]:
        condition |= c
    return condition
