"""One patient with a long clinical record, for the chart workloads (`chart_summary`): 1,000 encounters,
50,000 observations (7,143 sets of vital signs, each the seven NEWS2 parameters, over three years: about
2,400 heart rates in the last year), 200 diagnoses and 500 signed notes, at a bench organization of its
own ("bench-chart", one outpatient department, one doctor who attends every encounter).

Written once with COPY, each row prepared by its model field (so encrypted columns hold real
ciphertexts under the bench's fixed ring); idempotent: when the counts are right nothing is written,
otherwise the patient's clinical rows are deleted and written again.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

ORGANIZATION_CODE = "bench-chart"
DEPARTMENT_CODE = "bench-chart-opd"
DOCTOR_EMAIL = "bench-chart-doctor@chart.bench.phb.example"
ENCOUNTERS = 1_000
OBSERVATIONS = 50_000
DIAGNOSES = 200
NOTES = 500
YEARS = 3
SEED = 20261207
NAMESPACE = uuid.UUID("2b0c9d7e-52c4-4a57-8e3c-6a1f0f5d9c21")
PATIENT_ID = uuid.uuid5(NAMESPACE, "patient")
# (code, unit, typical value, spread, decimals): the seven NEWS2 parameters (consciousness coded)
SET = (
    ("9279-1", "/min", 16, 3, 0),
    ("59408-5", "%", 97, 2, 0),
    ("8480-6", "mm[Hg]", 128, 14, 0),
    ("8462-4", "mm[Hg]", 80, 8, 0),
    ("8867-4", "/min", 76, 12, 0),
    ("8310-5", "Cel", Decimal("36.8"), Decimal("0.4"), 1),
    ("67775-7", "", None, None, 0),
)
SICKNESSES = [
    ("I10", "Essential (primary) hypertension"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("B54", "Unspecified malaria"),
    ("J06.9", "Acute upper respiratory infection, unspecified"),
    ("N39.0", "Urinary tract infection, site not specified"),
    ("M54.50", "Low back pain, unspecified"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
]


@dataclass(frozen=True)
class Fixture:
    organization_id: uuid.UUID
    department_id: uuid.UUID
    doctor_id: uuid.UUID
    patient_id: uuid.UUID

    def ctx(self) -> object:
        from phb.accounts.roles import permissions_for
        from phb.kernel.context import Ctx

        return Ctx(
            actor_id=self.doctor_id,
            organization_id=self.organization_id,
            roles=frozenset({"doctor"}),
            permissions=permissions_for(["doctor"]),
        )


def ensure_chart(dsn: str) -> Fixture:
    fixture = _ensure_people()
    if _counts(fixture) != (ENCOUNTERS, OBSERVATIONS, DIAGNOSES, NOTES):
        _write(dsn, fixture)
        if _counts(fixture) != (ENCOUNTERS, OBSERVATIONS, DIAGNOSES, NOTES):
            raise RuntimeError(f"the chart fixture holds {_counts(fixture)}")
    return fixture


def _system() -> object:
    from phb.kernel.context import Ctx

    return Ctx.system(reason="bench fixtures: a long clinical record")


def _ensure_people() -> Fixture:
    from django.db import transaction

    from phb.accounts.models import Membership, User
    from phb.kernel.models import Organization, OrganizationType, new_registration_number
    from phb.organizations.models import Department
    from phb.patients import hpn
    from phb.patients.models import Patient

    system = _system()
    with transaction.atomic():
        organizations = Organization.objects.for_platform(system)
        organization = organizations.filter(code=ORGANIZATION_CODE).first()
        if organization is None:
            organization = organizations.create(
                name="Bench Chart Hospital",
                kind=OrganizationType.HOSPITAL,
                code=ORGANIZATION_CODE,
                registration_number=new_registration_number(OrganizationType.HOSPITAL),
            )
        departments = Department.objects.for_system(system)
        department = departments.filter(organization_id=organization.id, code=DEPARTMENT_CODE).first()
        if department is None:
            department = departments.create(
                organization_id=organization.id, name="Bench outpatients", kind="outpatients", code=DEPARTMENT_CODE
            )
        doctor = User.objects.filter(email=DOCTOR_EMAIL).first() or User.objects.create(
            email=DOCTOR_EMAIL, full_name="Bench Chart Doctor"
        )
        memberships = Membership.objects.for_system(system)
        if not memberships.filter(organization_id=organization.id, user_id=doctor.id).exists():
            memberships.create(
                organization_id=organization.id, user_id=doctor.id, roles=["doctor"], department_id=department.id
            )
        if not Patient.objects.filter(id=PATIENT_ID).exists():
            patient = Patient(
                id=PATIENT_ID, given_name="Adaeze", family_name="Okonkwo", birth_date=dt.date(1961, 4, 12), sex="female"
            )
            patient.hpn = hpn.generate()
            patient.save(force_insert=True)
    return Fixture(organization.id, department.id, doctor.id, PATIENT_ID)


def _counts(fixture: Fixture) -> tuple[int, int, int, int]:
    from phb.clinical.models import ClinicalNote, Diagnosis, Encounter, Observation

    system = _system()

    def count(model: type) -> int:
        return model.objects.for_system(system).filter(patient_id=fixture.patient_id).count()  # type: ignore[attr-defined]

    return count(Encounter), count(Observation), count(Diagnosis), count(ClinicalNote)


def _rows(model: type, objects: list[object]) -> tuple[str, list[tuple[object, ...]]]:
    """The COPY column list and rows of unsaved instances, each value prepared by its field."""
    from django.db import connection

    fields = model._meta.concrete_fields  # type: ignore[attr-defined]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    rows = [tuple(f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields) for o in objects]
    return columns, rows


def _write(dsn: str, fixture: Fixture) -> None:
    import psycopg
    from django.utils import timezone

    from phb.clinical.models import (
        ClinicalNote,
        CriticalAlert,
        Diagnosis,
        Encounter,
        Observation,
        VitalSignsSet,
    )
    from phb.kernel.ids import uuid7

    rng = random.Random(SEED)
    now = timezone.now().replace(microsecond=0)
    span = dt.timedelta(days=365 * YEARS)
    org, pid, doctor = fixture.organization_id, fixture.patient_id, fixture.doctor_id
    common = {"organization_id": org, "patient_id": pid}

    encounters = []
    for i in range(ENCOUNTERS):
        start = now - span + span * (i + 0.5) / ENCOUNTERS
        encounters.append(
            Encounter(
                id=uuid7(), created_at=start, updated_at=start, encounter_class="AMB", source="walk_in",
                status="finished", attending_id=doctor, department_id=fixture.department_id,
                reason="follow-up", started_at=start, ended_at=start + dt.timedelta(minutes=25),
                created_by_id=doctor, **common,
            )
        )  # fmt: skip
    sets, observations = [], []
    n_sets = -(-OBSERVATIONS // len(SET))
    for i in range(n_sets):
        at = now - span + span * (i + 0.5) / n_sets
        encounter = encounters[min(ENCOUNTERS - 1, i * ENCOUNTERS // n_sets)]
        vital_set = VitalSignsSet(
            id=uuid7(), created_at=at, updated_at=at, encounter_id=encounter.id, effective_at=at,
            recorded_by_id=doctor, on_supplemental_oxygen=False, spo2_scale=1, age_band="adult",
            news2_score=rng.choice([0, 0, 0, 1, 1, 2, 3, 5]), news2_subscores=None,
            news2_single_parameter_3=False, news2_response="low", **common,
        )  # fmt: skip
        sets.append(vital_set)
        for code, unit, typical, spread, decimals in SET:
            if len(observations) == OBSERVATIONS:
                break
            if typical is None:
                value, coded, flag = None, "A", "N"
            else:
                value = Decimal(str(round(float(typical) + rng.gauss(0, float(spread)), decimals)))
                coded, flag = "", "N"
            observations.append(
                Observation(
                    id=uuid7(), created_at=at, updated_at=at, encounter_id=encounter.id, vital_set_id=vital_set.id,
                    code=code, value_numeric=value, value_code=coded, unit=unit, effective_at=at,
                    recorded_by_id=doctor, interpretation=flag, reference_low=None, reference_high=None,
                    derived=False, **common,
                )
            )  # fmt: skip
    diagnoses = []
    for i in range(DIAGNOSES):
        at = now - span + span * (i + 0.5) / DIAGNOSES
        code, display = SICKNESSES[i % len(SICKNESSES)]
        # the chronic ones stay on the problem list (once each), the others resolve
        problem = i < 3
        diagnoses.append(
            Diagnosis(
                id=uuid7(), created_at=at, updated_at=at, encounter_id=encounters[i * ENCOUNTERS // DIAGNOSES].id,
                system="http://hl7.org/fhir/sid/icd-10-cm", code=code, display=display,
                clinical_status="active" if problem else "resolved",
                category="problem_list_item" if problem else "encounter_diagnosis", severity="",
                onset_date=at.date(), abatement_date=None if problem else at.date() + dt.timedelta(days=10),
                diagnosed_by_id=doctor, recorded_at=at, note="", **common,
            )
        )  # fmt: skip
    notes = []
    for i in range(NOTES):
        at = now - span + span * (i + 0.5) / NOTES
        notes.append(
            ClinicalNote(
                id=uuid7(), created_at=at, updated_at=at, encounter_id=encounters[i * ENCOUNTERS // NOTES].id,
                author_id=doctor, kind="soap", template_id=None, amends_id=None,
                subjective="Review; no new complaint.", objective="Well; chest clear.",
                assessment="Stable.", plan="Continue; review in two months.", text="",
                status="signed", signed_at=at, **common,
            )
        )  # fmt: skip

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for model in (CriticalAlert, Observation, VitalSignsSet, Diagnosis, ClinicalNote, Encounter):
            table = model._meta.db_table
            cur.execute(f"DELETE FROM {table} WHERE patient_id = %s", (pid,))
        for model, objects in (
            (Encounter, encounters),
            (VitalSignsSet, sets),
            (Observation, observations),
            (Diagnosis, diagnoses),
            (ClinicalNote, notes),
        ):
            columns, rows = _rows(model, objects)
            with cur.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        for model in (Encounter, VitalSignsSet, Observation, Diagnosis, ClinicalNote):
            cur.execute(f"ANALYZE {model._meta.db_table}")
        conn.commit()
