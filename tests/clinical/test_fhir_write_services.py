"""Clinical writes from other systems: the `from_fhir` mappers over every clinical resource of the
Synthea bundles (each maps, or is refused with a stated reason), a real patient's record written
through the services, and the services' rules: access (care relationship, tenant, a client only for
patients registered at its organization), bad values, audit, the blood-pressure panel, status updates."""

from __future__ import annotations

import collections
import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from phb.accounts import api_clients
from phb.clinical import external_records, policies
from phb.clinical.models import (
    CriticalAlert,
    Diagnosis,
    Encounter,
    Immunization,
    Observation,
    VitalSignsSet,
)
from phb.interop.fhir import allergy_intolerance, condition, encounter, immunization, observation
from phb.interop.fhir.outcome import FhirError
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound
from phb.kernel.models import AuditEvent
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.round_trips import round_trips
from tests.scheduling.factories import desk_ctx
from tests.shared_data import SYNTHEA_BUNDLES

BUNDLES = SYNTHEA_BUNDLES
MAPPERS = {
    "Encounter": encounter,
    "Observation": observation,
    "Condition": condition,
    "AllergyIntolerance": allergy_intolerance,
    "Immunization": immunization,
}
REFERENCES = ("subject", "patient", "encounter")


def _audit():
    return AuditEvent.objects.for_system(Ctx.system(reason="test"))


def _bundles() -> list[Path]:
    return sorted(BUNDLES.glob("*.json"))


def _literal(resource: dict, types: dict[str, str], ids: dict[str, str] | None = None) -> dict:
    """The resource with its `urn:uuid:` references made literal (as the bundle processor does),
    through `ids` (source id -> PHB id) when given."""
    out = copy.deepcopy(resource)
    for name in REFERENCES:
        value = out.get(name)
        if isinstance(value, dict) and str(value.get("reference", "")).startswith("urn:uuid:"):
            source = value["reference"].removeprefix("urn:uuid:")
            target = (ids or {}).get(source, source)
            out[name] = {"reference": f"{types[source]}/{target}"}
    return out


def _resources(path: Path):
    entries = json.loads(path.read_text())["entry"]
    types = {e["fullUrl"].removeprefix("urn:uuid:"): e["resource"]["resourceType"] for e in entries}
    return [e["resource"] for e in entries], types


# --------------------------------------------------------------------------------------------------
# Every clinical resource of the 90 bundles
# --------------------------------------------------------------------------------------------------


def test_every_synthea_clinical_resource_maps_or_is_refused_with_a_reason():
    mapped: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for path in _bundles():
        resources, types = _resources(path)
        for resource in resources:
            mapper = MAPPERS.get(resource["resourceType"])
            if mapper is None:
                continue
            try:
                values = mapper.from_fhir(_literal(resource, types))
            except FhirError as error:
                refused[(resource["resourceType"], error.status, error.expression, error.diagnostics)] += 1
                continue
            assert values["patient_id"] is not None
            mapped[resource["resourceType"]] += 1
    assert len(_bundles()) == 90
    assert mapped == {
        "Observation": 12579,
        "Encounter": 2112,
        "Immunization": 1048,
        "Condition": 596,
        "AllergyIntolerance": 39,
    }
    # The only refusals: an ejection fraction filed under the category "vital-sign", which is no code of
    # the observation-category system (the R4 code is "vital-signs").
    assert list(refused) == [("Observation", 400, "Observation.category", refused_reason())]
    assert sum(refused.values()) == 11


def refused_reason() -> str:
    return (
        "none of the categories is one of http://terminology.hl7.org/CodeSystem/observation-category: "
        "vital-signs, laboratory, survey, social-history, exam, procedure, imaging, therapy, activity"
    )


def test_the_blood_pressure_panels_and_every_value_type_of_synthea_map():
    kinds: collections.Counter[str] = collections.Counter()
    for path in _bundles()[:30]:
        resources, types = _resources(path)
        for resource in resources:
            if (
                resource["resourceType"] != "Observation"
                or resource["category"][0]["coding"][0]["code"] == "vital-sign"
            ):
                continue
            values = observation.from_fhir(_literal(resource, types))
            if values["components"]:
                kinds["panel"] += 1
                assert values["code"] == "55284-4"
                assert {c["code"] for c in values["components"]} == {
                    "8480-6",
                    "8462-4",
                }
            else:
                kinds[next(iter(values["value"]))] += 1
    assert set(kinds) == {"panel", "numeric", "code", "string"}


# --------------------------------------------------------------------------------------------------
# A real record through the services
# --------------------------------------------------------------------------------------------------


def _client_ctx(organization, scopes="system/*.*") -> Ctx:
    system = Ctx.system(reason="test", organization_id=organization.id)
    registered, _secret = api_clients.api_client_create(ctx=system, name="Regional lab", scopes=scopes)
    granted = frozenset(scopes.split())
    return Ctx.client(
        client_id=registered.id,
        organization_id=organization.id,
        scopes=granted,
        permissions=api_clients.scope_permissions(granted),
    )


@pytest.mark.django_db
def test_three_synthea_patients_records_are_written_through_the_services(org_a):
    ctx = _client_ctx(org_a)
    order = ("Encounter", "Condition", "AllergyIntolerance", "Immunization", "Observation")
    written: collections.Counter[str] = collections.Counter()
    refused: list[str | None] = []
    for path in _bundles()[:3]:
        resources, types = _resources(path)
        source = next(r for r in resources if r["resourceType"] == "Patient")
        patient = make_patient(birth_date=dt.date.fromisoformat(source["birthDate"]))
        register_at_desk(desk_ctx(org_a), patient)
        ids = {source["id"]: str(patient.id)}
        for resource_type in order:
            for resource in resources:
                if resource["resourceType"] != resource_type:
                    continue
                try:
                    row = MAPPERS[resource_type].create(ctx, _literal(resource, types, ids))
                except FhirError as error:
                    refused.append(error.expression)
                    continue
                ids[resource["id"]] = str(row.id)
                written[resource_type] += 1
                again = MAPPERS[resource_type].to_fhir(row) if resource_type != "Observation" else None
                if again is not None:
                    assert again["resourceType"] == resource_type
    assert written["Encounter"] == Encounter.objects.for_tenant(ctx).filter(source="external").count() > 0
    assert written["Condition"] == Diagnosis.objects.for_tenant(ctx).count() > 0
    assert written["Immunization"] == Immunization.objects.for_tenant(ctx).count() > 0
    panels = Observation.objects.for_tenant(ctx).filter(code="8462-4").count()
    assert written["Observation"] + panels == Observation.objects.for_tenant(ctx).count()
    assert Observation.objects.for_tenant(ctx).exclude(category="vital-signs").exists()
    assert set(refused) <= {"Observation.category"}  # the ejection fractions of category "vital-sign" alone
    # a client's rows name its service user, an inactive user of no organization
    recorder = Observation.objects.for_tenant(ctx).values_list("recorded_by__is_active", flat=True).first()
    assert recorder is False
    # historical critical values raise no alert
    assert not CriticalAlert.objects.for_tenant(ctx).exists()


# --------------------------------------------------------------------------------------------------
# The services' rules
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def visit(org_a):
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    patient = patient_at(org_a)
    return {"doctor": doctor, "patient": patient, "encounter": walk_in(doctor, patient, department)}


def _observation(patient_id, **changes) -> dict:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": observation.CATEGORY_SYSTEM, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    resource.update(changes)
    return resource


def _lab(patient_id, **changes) -> dict:
    return _observation(
        patient_id,
        category=[{"coding": [{"system": observation.CATEGORY_SYSTEM, "code": "laboratory"}]}],
        code={"coding": [{"system": "http://loinc.org", "code": "33914-3", "display": "eGFR"}]},
        valueQuantity={
            "value": 61.4,
            "unit": "mL/min/{1.73_m2}",
            "system": "http://unitsofmeasure.org",
            "code": "mL/min/{1.73_m2}",
        },
        referenceRange=[{"low": {"value": 60}}],
        interpretation=[{"coding": [{"system": observation.INTERPRETATION_SYSTEM, "code": "N"}]}],
        **changes,
    )


@pytest.mark.django_db
def test_a_laboratory_result_round_trips_with_its_category_unit_and_range(visit):
    sent = _lab(visit["patient"].id, encounter={"reference": f"Encounter/{visit['encounter'].id}"})
    row = observation.create(visit["doctor"], sent)
    back = observation.to_fhir(row, display=row.code_display)
    assert back["category"][0]["coding"][0]["code"] == "laboratory"
    assert back["code"]["coding"][0] == {"system": "http://loinc.org", "code": "33914-3", "display": "eGFR"}
    assert back["valueQuantity"]["value"] == 61.4
    assert back["valueQuantity"]["code"] == "mL/min/{1.73_m2}"
    assert back["referenceRange"] == [
        {"low": {"value": 60, "system": "http://unitsofmeasure.org", "code": "mL/min/{1.73_m2}"}}
    ]
    assert back["interpretation"][0]["coding"][0]["code"] == "N"
    assert back["encounter"]["reference"] == f"Encounter/{visit['encounter'].id}"
    assert row.vital_set_id is None  # not a vital sign: no set in the chart
    event = _audit().filter(action="clinical.observation.record", patient_id=visit["patient"].id).get()
    assert event.actor_id == visit["doctor"].actor_id
    assert event.detail["category"] == "laboratory"


@pytest.mark.django_db
def test_coded_text_and_absent_values_round_trip(visit):
    pid = visit["patient"].id
    survey = [{"coding": [{"system": observation.CATEGORY_SYSTEM, "code": "social-history"}]}]
    resource = _observation(pid, category=survey, code={"coding": [{"system": "http://loinc.org", "code": "72166-2"}]})
    resource.pop("valueQuantity")
    coded = observation.create(
        visit["doctor"],
        resource
        | {
            "valueCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": "266919005", "display": "Never smoker"}]
            }
        },
    )
    assert observation.to_fhir(coded)["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "266919005",
        "display": "Never smoker",
    }
    text = observation.create(visit["doctor"], resource | {"valueString": "Lives with partner"})
    assert Observation.objects.for_tenant(visit["doctor"]).get(id=text.id).value_string == "Lives with partner"
    assert observation.to_fhir(text)["valueString"] == "Lives with partner"
    absent = observation.create(
        visit["doctor"],
        resource
        | {"dataAbsentReason": {"coding": [{"system": observation.DATA_ABSENT_SYSTEM, "code": "asked-declined"}]}},
    )
    assert observation.to_fhir(absent)["dataAbsentReason"]["coding"][0]["code"] == "asked-declined"


@pytest.mark.django_db
def test_an_observation_with_no_value_and_no_reason_is_refused(visit):
    resource = _observation(visit["patient"].id)
    resource.pop("valueQuantity")
    with pytest.raises(FhirError) as error:
        observation.create(visit["doctor"], resource)
    assert (error.value.status, error.value.expression) == (400, "Observation.value[x]")
    assert "dataAbsentReason" in error.value.diagnostics
    assert not Observation.objects.for_tenant(visit["doctor"]).filter(patient_id=visit["patient"].id).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "expression", "words"),
    [
        (
            {"valueQuantity": {"value": 400, "system": "http://unitsofmeasure.org", "code": "/min"}},
            "Observation.value",
            "between 20 and 300",
        ),
        (
            {"valueQuantity": {"value": 1.2, "system": "http://unitsofmeasure.org", "code": "Hz"}},
            "Observation.valueQuantity.code",
            "/min",
        ),
        ({"effectiveDateTime": "2999-01-01T00:00:00Z"}, "Observation.effective", "future"),
        ({"status": "registered"}, "Observation.status", "final"),
        ({"valueBoolean": True}, "Observation.valueBoolean", "valueQuantity"),
        (
            {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "364075005"}]}},
            "Observation.code",
            "loinc",
        ),
        ({"category": [{"coding": [{"code": "vital-sign"}]}]}, "Observation.category", "observation-category"),
        (
            {"interpretation": [{"coding": [{"system": observation.INTERPRETATION_SYSTEM, "code": "POS"}]}]},
            "Observation.interpretation",
            "HL7",
        ),
    ],
)
def test_bad_observations_are_refused_naming_the_element(visit, changes, expression, words):
    with pytest.raises(FhirError) as error:
        observation.create(visit["doctor"], _observation(visit["patient"].id, **changes))
    assert error.value.status == 400
    assert error.value.expression == expression
    assert words.lower() in error.value.diagnostics.lower()
    assert not Observation.objects.for_tenant(visit["doctor"]).filter(patient_id=visit["patient"].id).exists()


@pytest.mark.django_db
def test_a_vital_sign_is_checked_flagged_and_shown_as_a_set(visit):
    row = observation.create(
        visit["doctor"],
        _observation(
            visit["patient"].id,
            code={"coding": [{"system": "http://loinc.org", "code": "8331-1", "display": "Oral temperature"}]},
            valueQuantity={"value": 38.46, "system": "http://unitsofmeasure.org", "code": "Cel"},
        ),
    )
    stored = Observation.objects.for_tenant(visit["doctor"]).get(id=row.id)
    assert stored.value_numeric == Decimal("38.5")  # the catalogue's precision, one decimal
    assert row.interpretation == "H"
    assert row.vital_set_id is not None
    assert (
        VitalSignsSet.objects.for_tenant(visit["doctor"])
        .filter(id=row.vital_set_id, patient_id=visit["patient"].id)
        .exists()
    )


@pytest.mark.django_db
def test_a_recent_critical_value_alerts_the_attending_clinician(visit):
    row = observation.create(
        visit["doctor"],
        _observation(
            visit["patient"].id,
            encounter={"reference": f"Encounter/{visit['encounter'].id}"},
            valueQuantity={"value": 150, "system": "http://unitsofmeasure.org", "code": "/min"},
        ),
    )
    assert row.interpretation == "HH"
    alert = CriticalAlert.objects.for_tenant(visit["doctor"]).get(vital_set_id=row.vital_set_id)
    assert alert.recipient_id == visit["encounter"].attending_id


@pytest.mark.django_db
def test_the_blood_pressure_panel_is_two_observations_the_systolic_answers(visit):
    panel = _observation(
        visit["patient"].id,
        code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        component=[
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": 81.6, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 128, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
            },
        ],
    )
    panel.pop("valueQuantity")
    systolic = observation.create(visit["doctor"], panel)
    assert (systolic.code, int(systolic.value_numeric)) == ("8480-6", 128)
    diastolic = Observation.objects.for_tenant(visit["doctor"]).get(vital_set_id=systolic.vital_set_id, code="8462-4")
    assert int(diastolic.value_numeric) == 82
    assert diastolic.effective_at == systolic.effective_at
    # entered in error: both go
    observation.update(visit["doctor"], systolic, observation.to_fhir(systolic) | {"status": "entered-in-error"})
    assert set(
        Observation.objects.for_tenant(visit["doctor"])
        .filter(vital_set_id=systolic.vital_set_id)
        .values_list("status", flat=True)
    ) == {"entered-in-error"}
    panel["component"][0]["valueQuantity"]["value"] = 130
    with pytest.raises(FhirError) as error:
        observation.create(visit["doctor"], panel)
    assert "below the systolic" in error.value.diagnostics


@pytest.mark.django_db
def test_only_the_status_of_an_observation_changes(visit):
    row = observation.create(visit["doctor"], _lab(visit["patient"].id))
    sent = observation.to_fhir(row)
    with pytest.raises(FhirError) as error:
        observation.update(visit["doctor"], row, sent | {"valueQuantity": sent["valueQuantity"] | {"value": 99}})
    assert (error.value.status, error.value.code) == (422, "BUSINESS_RULE")
    row = observation.update(visit["doctor"], row, sent | {"status": "amended"})
    assert Observation.objects.for_tenant(visit["doctor"]).get(id=row.id).status == "amended"
    observation.update(visit["doctor"], row, sent | {"status": "entered-in-error"})
    with pytest.raises(FhirError) as error:
        observation.update(visit["doctor"], row, sent | {"status": "final"})
    assert (error.value.status, error.value.code) == (409, "ILLEGAL_TRANSITION")


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_care_relationship_or_another_organizations_patient_is_not_found(visit, org_a, org_b):
    stranger = clinician(org_a, "doctor")  # no encounter, appointment or care team with the patient
    other = patient_at(org_b)
    for ctx, patient_id in ((stranger, visit["patient"].id), (visit["doctor"], other.id)):
        with pytest.raises(FhirError) as error:
            observation.create(ctx, _lab(patient_id))
        assert error.value.status == 404
        with pytest.raises(NotFound):
            external_records.encounter_record(ctx=ctx, patient_id=patient_id, encounter_class="AMB", status="planned")
    assert not Observation.objects.for_tenant(visit["doctor"]).exists()
    assert _audit().filter(action="clinical.observation.record", outcome="denied").count() == 2


@pytest.mark.django_db
def test_a_client_writes_only_for_patients_registered_at_its_organization(org_a, org_b):
    ctx = _client_ctx(org_a, "system/Observation.* system/Encounter.*")
    registered = patient_at(org_a)
    elsewhere = patient_at(org_b)
    assert policies.care_relationship(ctx, registered.id).basis == "registered"
    row = observation.create(ctx, _lab(registered.id))
    assert row.recorded_by_id == api_clients.acting_user_id(ctx)
    with pytest.raises(FhirError) as error:
        observation.create(ctx, _lab(elsewhere.id))
    assert error.value.status == 404
    # a client with read scopes only may not write
    reader = _client_ctx(org_a, "system/*.read")
    with pytest.raises(FhirError) as error:
        observation.create(reader, _lab(registered.id))
    assert error.value.status == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_clients_vital_sign_is_one_transaction_that_reads_each_fact_once(org_a, org_b):
    ctx = _client_ctx(org_a, "system/Observation.write system/*.read")
    patient = patient_at(org_a)
    with round_trips() as trips:
        row = observation.create(ctx, _observation(patient.id))
    # BEGIN, the binding, the registration, the birth date, the service user, the set, the
    # observation, the audit event, COMMIT
    assert (trips.commits, trips.rollbacks, trips.outside) == (1, 0, [])
    assert trips.count("SELECT set_config(") == 1
    assert trips.count('SELECT "patients_patient"."birth_date"') == 1
    assert trips.count("INSERT") == 3
    assert trips.total == 9
    assert _audit().filter(action="clinical.observation.record", resource_id=str(row.id)).count() == 1
    # a refusal is audited once, after the rollback; a bad value writes nothing
    elsewhere = patient_at(org_b)
    with round_trips() as trips, pytest.raises(FhirError) as error:
        observation.create(ctx, _observation(elsewhere.id))
    assert error.value.status == 404
    assert trips.rollbacks == 1
    assert _audit().filter(action="clinical.observation.record", outcome="denied").count() == 1
    too_fast = _observation(patient.id, valueQuantity={"value": 900, "unit": "/min", "code": "/min"})
    with pytest.raises(FhirError) as error:
        observation.create(ctx, too_fast)
    assert error.value.status == 400
    assert Observation.objects.for_tenant(ctx).count() == VitalSignsSet.objects.for_tenant(ctx).count() == 1


@pytest.mark.django_db
def test_the_vital_signs_permission_alone_records_vital_signs_only(visit):
    doctor = visit["doctor"]
    vitals_only = Ctx(
        actor_id=doctor.actor_id,
        organization_id=doctor.organization_id,
        permissions=frozenset({policies.VIEW, policies.RECORD_VITALS}),
    )
    row = observation.create(vitals_only, _observation(visit["patient"].id))
    assert row.vital_set_id is not None
    with pytest.raises(FhirError) as error:
        observation.create(vitals_only, _lab(visit["patient"].id))
    assert error.value.status == 403


# --- encounters, conditions, allergies, immunizations ----------------------------------------------


def _encounter(patient_id, **changes) -> dict:
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": encounter.ACT_CODE, "code": "EMER"},
        "type": [
            {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "50849002", "display": "Emergency room admission"}
                ]
            }
        ],
        "reasonCode": [
            {"coding": [{"system": "http://snomed.info/sct", "code": "444814009", "display": "Viral sinusitis"}]}
        ],
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": "2021-03-04T10:00:00+01:00", "end": "2021-03-04T12:30:00+01:00"},
        "participant": [{"individual": {"reference": "Practitioner/unknown-here"}}],
        **changes,
    }


@pytest.mark.django_db
def test_an_encounter_from_elsewhere_round_trips_and_takes_its_diagnoses_after_it_ended(visit):
    sent = _encounter(visit["patient"].id)
    row = encounter.create(visit["doctor"], sent)
    assert (row.source, row.department_id, row.attending_id) == ("external", None, None)
    back = encounter.to_fhir(row)
    for key in ("status", "class", "type", "reasonCode", "subject"):
        assert back[key] == sent[key], key
    assert back["period"] == {"start": "2021-03-04T09:00:00Z", "end": "2021-03-04T11:30:00Z"}
    diagnosis = condition.create(
        visit["doctor"],
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": condition.CLINICAL_SYSTEM, "code": "resolved"}]},
            "verificationStatus": {"coding": [{"system": condition.VERIFICATION_SYSTEM, "code": "confirmed"}]},
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "444814009", "display": "Viral sinusitis"}]
            },
            "subject": {"reference": f"Patient/{visit['patient'].id}"},
            "encounter": {"reference": f"Encounter/{row.id}"},
            "onsetDateTime": "2021-03-04T10:00:00+01:00",
            "abatementDateTime": "2021-03-18T10:00:00+01:00",
        },
    )
    assert (diagnosis.category, diagnosis.clinical_status) == ("encounter_diagnosis", "resolved")
    assert (diagnosis.onset_date, diagnosis.abatement_date) == (dt.date(2021, 3, 4), dt.date(2021, 3, 18))
    # PHB's own finished encounter still takes none
    native = visit["encounter"]
    from phb.clinical.services import encounter_finish

    encounter_finish(ctx=visit["doctor"], encounter_id=native.id)
    with pytest.raises(Conflict):
        external_records.observation_record(
            ctx=visit["doctor"],
            patient_id=visit["patient"].id,
            category="laboratory",
            code="2345-7",
            effective_at=timezone.now(),
            value={"numeric": 5, "unit": "mmol/L"},
            encounter_id=native.id,
        )


@pytest.mark.django_db
def test_encounter_updates_follow_the_rules(visit):
    planned = encounter.create(visit["doctor"], _encounter(visit["patient"].id, status="planned", period={}))
    started = encounter.update(
        visit["doctor"],
        planned,
        _encounter(visit["patient"].id, status="in-progress", period={"start": "2021-03-04T10:00:00Z"}),
    )
    assert started.status == "in_progress"
    with pytest.raises(FhirError) as error:
        encounter.update(
            visit["doctor"],
            started,
            _encounter(visit["patient"].id, status="finished", period={"start": "2021-03-04T10:00:00Z"}),
        )
    assert error.value.expression == "Encounter.period.end"
    native = visit["encounter"]
    with pytest.raises(FhirError) as error:
        encounter.update(visit["doctor"], native, encounter.to_fhir(native) | {"status": "planned"})
    assert (error.value.status, error.value.code) == (409, "ILLEGAL_TRANSITION")
    finished = encounter.update(visit["doctor"], native, encounter.to_fhir(native) | {"status": "finished"})
    assert finished.status == "finished"
    assert finished.ended_at is not None
    with pytest.raises(FhirError) as error:
        encounter.create(
            visit["doctor"],
            _encounter(visit["patient"].id, period={"start": "2999-01-01T00:00:00Z", "end": "2999-01-01T01:00:00Z"}),
        )
    assert error.value.expression == "Encounter.period.end"
    assert "future" in error.value.diagnostics
    with pytest.raises(FhirError) as error:
        encounter.create(
            visit["doctor"], _encounter(visit["patient"].id, **{"class": {"system": encounter.ACT_CODE, "code": "HH"}})
        )
    assert error.value.expression == "Encounter.class.code"


@pytest.mark.django_db
def test_a_provisional_condition_or_a_foreign_code_system_is_refused(visit):
    base = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": condition.CLINICAL_SYSTEM, "code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003", "display": "Hypertension"}]},
        "subject": {"reference": f"Patient/{visit['patient'].id}"},
    }
    provisional = base | {
        "verificationStatus": {"coding": [{"system": condition.VERIFICATION_SYSTEM, "code": "provisional"}]}
    }
    with pytest.raises(FhirError) as error:
        condition.create(visit["doctor"], provisional)
    assert error.value.expression == "Condition.verificationStatus"
    with pytest.raises(FhirError) as error:
        condition.create(visit["doctor"], base | {"code": {"coding": [{"system": "urn:local", "code": "HT"}]}})
    assert error.value.expression == "Condition.code"
    problem = condition.create(visit["doctor"], base)
    assert problem.category == "problem_list_item"
    entered = condition.update(
        visit["doctor"],
        problem,
        condition.to_fhir(problem)
        | {"verificationStatus": {"coding": [{"system": condition.VERIFICATION_SYSTEM, "code": "entered-in-error"}]}},
    )
    assert entered.clinical_status == "entered_in_error"


@pytest.mark.django_db
def test_allergies_and_immunizations_round_trip_and_are_entered_in_error_by_update(visit):
    pid = visit["patient"].id
    allergy_sent = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"system": allergy_intolerance.CLINICAL_SYSTEM, "code": "active"}]},
        "verificationStatus": {"coding": [{"system": allergy_intolerance.VERIFICATION_SYSTEM, "code": "confirmed"}]},
        "type": "allergy",
        "category": ["food"],
        "criticality": "low",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91935009", "display": "Allergy to peanuts"}]},
        "patient": {"reference": f"Patient/{pid}"},
        "recordedDate": "2019-02-01T08:00:00+00:00",
    }
    allergy = allergy_intolerance.create(visit["doctor"], allergy_sent)
    back = allergy_intolerance.to_fhir(allergy)
    for key in ("clinicalStatus", "verificationStatus", "type", "category", "criticality", "code", "patient"):
        assert back[key] == allergy_sent[key], key
    assert back["recordedDate"] == "2019-02-01"
    with pytest.raises(FhirError) as error:
        allergy_intolerance.create(visit["doctor"], allergy_sent)
    assert (error.value.status, error.value.code) == (409, "ALLERGY_DUPLICATE")
    marked = allergy_intolerance.update(
        visit["doctor"],
        allergy,
        back
        | {
            "verificationStatus": {
                "coding": [{"system": allergy_intolerance.VERIFICATION_SYSTEM, "code": "entered-in-error"}]
            }
        },
    )
    assert marked.verification_status == "entered-in-error"
    assert marked.entered_in_error_at is not None

    shot_sent = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza, seasonal"}]
        },
        "patient": {"reference": f"Patient/{pid}"},
        "encounter": {"reference": "Encounter/ignored-here"},
        "occurrenceDateTime": "2020-10-02T09:00:00+00:00",
        "primarySource": False,
        "lotNumber": "FL-2020-7",
    }
    shot = immunization.create(visit["doctor"], shot_sent)
    assert shot.reported
    assert shot.performer_id is None
    back = immunization.to_fhir(shot)
    for key in ("status", "vaccineCode", "patient", "primarySource", "lotNumber"):
        assert back[key] == shot_sent[key], key
    with pytest.raises(FhirError) as error:
        immunization.create(visit["doctor"], shot_sent | {"occurrenceDateTime": "2999-01-01"})
    assert error.value.expression == "Immunization.occurrenceDateTime"
    assert "future" in error.value.diagnostics
    with pytest.raises(FhirError) as error:
        immunization.create(
            visit["doctor"],
            shot_sent | {"vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "flu"}]}},
        )
    assert error.value.expression == "Immunization.vaccineCode"
    gone = immunization.update(visit["doctor"], shot, back | {"status": "entered-in-error"})
    assert gone.entered_in_error_at is not None
    assert _audit().filter(action="clinical.immunization.entered_in_error", patient_id=pid).exists()
