"""Merging two records of the same person carries the clinical record and the appointments along,
in every organization, keeps a list a list (a twin allergy or problem stays with the redirect), and
an undo puts every row back. On PostgreSQL the signed-note trigger lets a signed note follow the merge
and nothing else."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from phb.clinical import diagnoses, history_services, services
from phb.clinical.models import AllergyIntolerance, ClinicalNote, Diagnosis, Encounter, NoKnownAllergies, VitalSignsSet
from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.patients import merge
from phb.scheduling import services as scheduling_services
from phb.scheduling.models import Appointment
from tests.clinical.factories import clinician, patient_at, record, walk_in
from tests.clinical.history_factories import RXNORM_AMOXICILLIN, RXNORM_PENICILLIN, allergy
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import desk_ctx, local, practitioner, tomorrow

pytestmark = pytest.mark.django_db
SYSTEM = Ctx.system(reason="test")


def rows(model, patient):
    return set(model.objects.for_system(SYSTEM).filter(patient_id=patient.id).values_list("id", flat=True))


@pytest.fixture
def two_records(org_a):
    department = DepartmentFactory(organization=org_a)
    doctor = clinician(org_a, "doctor", department=department)
    survivor, duplicate = patient_at(org_a), patient_at(org_a)
    for patient in (survivor, duplicate):
        walk_in(doctor, patient, department)
    return {
        "doctor": doctor,
        "officer": clinician(org_a, "medical_records_officer"),
        "survivor": survivor,
        "duplicate": duplicate,
    }


def problem(ctx, patient, code):
    return diagnoses.diagnosis_add(
        ctx=ctx,
        patient_id=patient.id,
        system="http://hl7.org/fhir/sid/icd-10-cm",
        code=code,
        category="problem_list_item",
    )


def test_a_merge_moves_the_clinical_record_keeps_twins_with_the_redirect_and_undo_restores_it(org_a, two_records):
    doctor, survivor, duplicate = two_records["doctor"], two_records["survivor"], two_records["duplicate"]
    allergy(doctor, survivor, RXNORM_PENICILLIN)
    problem(doctor, survivor, "E11.9")
    twin_allergy = allergy(doctor, duplicate, RXNORM_PENICILLIN)
    moved_allergy = allergy(doctor, duplicate, RXNORM_AMOXICILLIN)
    twin_problem = problem(doctor, duplicate, "E11.9")
    moved_problem = problem(doctor, duplicate, "I10")
    note = services.note_create(ctx=doctor, patient_id=duplicate.id, subjective="cough", plan="rest")
    services.note_sign(ctx=doctor, note_id=note.id)
    record(doctor, duplicate)
    before = {model: rows(model, duplicate) for model in (Encounter, VitalSignsSet, ClinicalNote)}
    assert all(before.values())

    done = merge.patient_merge(ctx=two_records["officer"], survivor_id=survivor.id, merged_id=duplicate.id)

    for model, ids in before.items():
        assert ids <= rows(model, survivor), model
        assert not rows(model, duplicate), model
    assert rows(AllergyIntolerance, duplicate) == {twin_allergy.id}  # the survivor is already allergic
    assert moved_allergy.id in rows(AllergyIntolerance, survivor)
    assert rows(Diagnosis, duplicate) == {twin_problem.id}
    assert moved_problem.id in rows(Diagnosis, survivor)

    merge.patient_merge_undo(ctx=two_records["officer"], merge_id=done.id)
    for model, ids in before.items():
        assert rows(model, duplicate) == ids, model
    assert rows(AllergyIntolerance, duplicate) == {twin_allergy.id, moved_allergy.id}
    assert rows(Diagnosis, duplicate) == {twin_problem.id, moved_problem.id}


def test_moved_allergies_retire_the_survivors_no_known_allergies_and_undo_brings_it_back(org_a, two_records):
    doctor, survivor, duplicate = two_records["doctor"], two_records["survivor"], two_records["duplicate"]
    statement = history_services.no_known_allergies_record(ctx=doctor, patient_id=survivor.id)
    allergy(doctor, duplicate, RXNORM_PENICILLIN)

    done = merge.patient_merge(ctx=two_records["officer"], survivor_id=survivor.id, merged_id=duplicate.id)
    statement = NoKnownAllergies.objects.for_system(SYSTEM).get(id=statement.id)
    assert statement.retired_reason == "allergy_recorded"
    assert statement.retired_at is not None
    assert len(rows(AllergyIntolerance, survivor)) == 1

    merge.patient_merge_undo(ctx=two_records["officer"], merge_id=done.id)
    statement = NoKnownAllergies.objects.for_system(SYSTEM).get(id=statement.id)
    assert statement.retired_at is None
    assert statement.retired_reason == ""


def test_a_merged_records_no_known_allergies_stays_where_the_survivor_is_allergic(org_a, two_records):
    doctor, survivor, duplicate = two_records["doctor"], two_records["survivor"], two_records["duplicate"]
    allergy(doctor, survivor, RXNORM_PENICILLIN)
    statement = history_services.no_known_allergies_record(ctx=doctor, patient_id=duplicate.id)
    merge.patient_merge(ctx=two_records["officer"], survivor_id=survivor.id, merged_id=duplicate.id)
    assert rows(NoKnownAllergies, duplicate) == {statement.id}
    assert not rows(NoKnownAllergies, survivor)


def test_appointments_follow_the_merged_record(org_a, two_records):
    doctor = practitioner(org_a)
    appointment = scheduling_services.appointment_book(
        ctx=desk_ctx(org_a),
        patient_id=two_records["duplicate"].id,
        practitioner_id=doctor.id,
        start_at=local(org_a, tomorrow(org_a), 10),
    )
    done = merge.patient_merge(
        ctx=two_records["officer"], survivor_id=two_records["survivor"].id, merged_id=two_records["duplicate"].id
    )
    assert rows(Appointment, two_records["survivor"]) == {appointment.id}
    merge.patient_merge_undo(ctx=two_records["officer"], merge_id=done.id)
    assert rows(Appointment, two_records["duplicate"]) == {appointment.id}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (triggers)")
def test_on_postgresql_a_signed_note_still_cannot_move_to_an_unrelated_record(org_a, two_records):
    doctor = two_records["doctor"]
    note = services.note_create(ctx=doctor, patient_id=two_records["duplicate"].id, subjective="cough", plan="rest")
    services.note_sign(ctx=doctor, note_id=note.id)
    stranger = patient_at(org_a)
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        tenancy.bound(organization_id=org_a.id),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE clinical_clinicalnote SET patient_id = %s WHERE id = %s", [stranger.id, note.id])


def test_signed_prescriptions_and_their_doses_follow_the_merged_record_and_come_back(org_a, two_records):
    from phb.medications.models import DoseEvent, Prescription, PrescriptionItem
    from tests.medications.factories import AMOX, item, signed
    from tests.terminology.factories import ensure_code_systems

    ensure_code_systems()
    prescription = signed(two_records["doctor"], two_records["duplicate"], item("amoxicillin", **AMOX))
    before = {model: rows(model, two_records["duplicate"]) for model in (Prescription, PrescriptionItem, DoseEvent)}
    assert before[Prescription] == {prescription.id}

    done = merge.patient_merge(
        ctx=two_records["officer"], survivor_id=two_records["survivor"].id, merged_id=two_records["duplicate"].id
    )
    for model, ids in before.items():
        assert rows(model, two_records["survivor"]) == ids, model
    merge.patient_merge_undo(ctx=two_records["officer"], merge_id=done.id)
    for model, ids in before.items():
        assert rows(model, two_records["duplicate"]) == ids, model
