"""Encounters: walk-in visits and their status machine; the encounter of an appointment, created when
it starts (once, however often the event is delivered) and finished when it is completed; the care
relationship that lets a clinician see a patient's record, break-the-glass, and the tenant wall."""

import pytest

from phb.accounts import services as account_services
from phb.clinical import handlers, selectors, services
from phb.clinical.models import Encounter, EncounterClass, EncounterSource, EncounterStatus
from phb.kernel import events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.scheduling import services as scheduling_services
from phb.scheduling.events import AppointmentStatusChanged
from tests.clinical.factories import clinician, patient_at, walk_in
from tests.organizations.factories import DepartmentFactory
from tests.scheduling.factories import desk_ctx, local, practitioner, tomorrow

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(org_a):
    department = DepartmentFactory(organization=org_a)
    return {
        "department": department,
        "doctor": clinician(org_a, "doctor", department=department),
        "patient": patient_at(org_a),
    }


def denials(action):
    return AuditEvent.objects.for_system(Ctx.system(reason="test")).filter(action=action, outcome="denied")


def test_a_walk_in_starts_in_progress_with_the_clinician_attending(clinic):
    encounter = walk_in(clinic["doctor"], clinic["patient"], clinic["department"], reason="headache for 3 days")
    assert encounter.status == EncounterStatus.IN_PROGRESS
    assert encounter.source == EncounterSource.WALK_IN
    assert encounter.encounter_class == EncounterClass.AMBULATORY
    assert encounter.attending_id == clinic["doctor"].actor_id
    assert encounter.started_at is not None
    stored = Encounter.objects.for_tenant(clinic["doctor"]).get(id=encounter.id)
    assert stored.reason == "headache for 3 days"


def test_a_second_open_walk_in_in_the_same_department_is_a_conflict(clinic):
    walk_in(clinic["doctor"], clinic["patient"], clinic["department"])
    with pytest.raises(Conflict) as caught:
        walk_in(clinic["doctor"], clinic["patient"], clinic["department"])
    assert caught.value.code == "ENCOUNTER_OPEN"


def test_reception_may_start_a_walk_in_for_a_named_clinician(org_a, clinic):
    encounter = walk_in(
        desk_ctx(org_a), clinic["patient"], clinic["department"], attending_id=clinic["doctor"].actor_id
    )
    assert encounter.attending_id == clinic["doctor"].actor_id


def test_walk_in_refuses_bad_input(org_a, org_b, clinic):
    doctor = clinic["doctor"]
    with pytest.raises(ValidationFailed) as caught:
        walk_in(doctor, clinic["patient"], DepartmentFactory(organization=org_b))
    assert caught.value.extra["errors"][0]["code"] == "unknown_department"
    with pytest.raises(ValidationFailed) as caught:
        walk_in(doctor, clinic["patient"], clinic["department"], attending_id=desk_ctx(org_a).actor_id)
    assert caught.value.extra["errors"][0]["code"] == "not_a_clinician"
    with pytest.raises(NotFound):  # registered at another organization only
        walk_in(doctor, patient_at(org_b), clinic["department"])
    with pytest.raises(Forbidden):
        walk_in(clinician(org_a, "pharmacist"), clinic["patient"], clinic["department"])


def test_finish_and_cancel_follow_the_status_machine(clinic):
    doctor = clinic["doctor"]
    encounter = walk_in(doctor, clinic["patient"], clinic["department"])
    finished = services.encounter_finish(ctx=doctor, encounter_id=encounter.id)
    assert finished.status == EncounterStatus.FINISHED
    assert finished.ended_at >= finished.started_at
    with pytest.raises(Conflict) as caught:
        services.encounter_finish(ctx=doctor, encounter_id=encounter.id)
    assert caught.value.code == "ILLEGAL_TRANSITION"
    planned = walk_in(doctor, clinic["patient"], clinic["department"], start_now=False)
    assert planned.status == EncounterStatus.PLANNED
    with pytest.raises(ValidationFailed):
        services.encounter_cancel(ctx=doctor, encounter_id=planned.id, reason=" ")
    cancelled = services.encounter_cancel(ctx=doctor, encounter_id=planned.id, reason="left before being seen")
    assert cancelled.status == EncounterStatus.CANCELLED


def test_a_planned_encounter_starts(clinic):
    planned = walk_in(clinic["doctor"], clinic["patient"], clinic["department"], start_now=False)
    started = services.encounter_start(ctx=clinic["doctor"], encounter_id=planned.id)
    assert started.status == EncounterStatus.IN_PROGRESS
    assert started.started_at is not None


# --- from the appointment -----------------------------------------------------------------------------


@pytest.fixture
def appointment(org_a):
    department = DepartmentFactory(organization=org_a)
    profile = practitioner(org_a, department=department)
    patient = patient_at(org_a)
    desk = desk_ctx(org_a)
    booked = scheduling_services.appointment_book(
        ctx=desk, patient_id=patient.id, practitioner_id=profile.id, start_at=local(org_a, tomorrow(org_a), 9)
    )
    scheduling_services.appointment_transition(ctx=desk, appointment_id=booked.id, to_status="confirmed")
    scheduling_services.appointment_check_in(ctx=desk, appointment_id=booked.id)
    return {"appointment": booked, "profile": profile, "patient": patient, "department": department}


def doctor_of(org, profile) -> Ctx:
    from phb.accounts.roles import permissions_for

    return Ctx(
        actor_id=profile.user_id,
        organization_id=org.id,
        roles=frozenset({"doctor"}),
        permissions=permissions_for(["doctor"]),
    )


def test_starting_the_appointment_creates_its_encounter_once(org_a, appointment):
    doctor = doctor_of(org_a, appointment["profile"])
    scheduling_services.appointment_transition(
        ctx=doctor, appointment_id=appointment["appointment"].id, to_status="in_progress"
    )
    assert events.dispatch_due()["delivered"] >= 1
    encounters = Encounter.objects.for_tenant(doctor).filter(appointment_id=appointment["appointment"].id)
    assert encounters.count() == 1
    encounter = encounters.get()
    assert encounter.status == EncounterStatus.IN_PROGRESS
    assert encounter.source == EncounterSource.APPOINTMENT
    assert encounter.attending_id == appointment["profile"].user_id
    assert encounter.department_id == appointment["department"].id
    assert encounter.patient_id == appointment["patient"].id
    # The same event delivered again (at least once delivery) changes nothing.
    again = AppointmentStatusChanged(
        appointment_id=appointment["appointment"].id,
        organization_id=org_a.id,
        from_status="checked_in",
        to_status="in_progress",
    )
    handlers.encounter_follows_appointment(again)
    handlers.encounter_follows_appointment(again)
    assert Encounter.objects.for_tenant(doctor).filter(appointment_id=appointment["appointment"].id).count() == 1
    # Completing the appointment finishes it.
    scheduling_services.appointment_transition(
        ctx=doctor, appointment_id=appointment["appointment"].id, to_status="completed"
    )
    events.dispatch_due()
    encounter.refresh_from_db()
    assert encounter.status == EncounterStatus.FINISHED
    handlers.encounter_follows_appointment(
        AppointmentStatusChanged(
            appointment_id=appointment["appointment"].id,
            organization_id=org_a.id,
            from_status="in_progress",
            to_status="completed",
        )
    )
    encounter.refresh_from_db()
    assert encounter.status == EncounterStatus.FINISHED


def test_an_unknown_appointment_creates_nothing(org_a):
    import uuid

    ctx = Ctx.system(reason="test", organization_id=org_a.id)
    assert services.encounter_from_appointment(ctx=ctx, appointment_id=uuid.uuid4()) is None
    assert services.encounter_finish_for_appointment(ctx=ctx, appointment_id=uuid.uuid4()) is None


# --- the care relationship ----------------------------------------------------------------------------


def test_the_attending_and_the_department_see_the_record_others_get_not_found(org_a, clinic):
    walk_in(clinic["doctor"], clinic["patient"], clinic["department"])
    colleague = clinician(org_a, "nurse", department=clinic["department"])
    stranger = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    assert len(selectors.encounter_list(ctx=clinic["doctor"], patient_id=clinic["patient"].id)) == 1
    assert len(selectors.encounter_list(ctx=colleague, patient_id=clinic["patient"].id)) == 1
    before = denials("clinical.encounter.list").count()
    with pytest.raises(NotFound):
        selectors.encounter_list(ctx=stranger, patient_id=clinic["patient"].id)
    assert denials("clinical.encounter.list").count() == before + 1


def test_a_booked_appointment_with_the_clinician_is_a_care_relationship(org_a, appointment):
    doctor = doctor_of(org_a, appointment["profile"])
    assert list(selectors.encounter_list(ctx=doctor, patient_id=appointment["patient"].id)) == []


def test_break_the_glass_opens_the_record_and_is_audited_as_such(org_a, clinic):
    walk_in(clinic["doctor"], clinic["patient"], clinic["department"])
    emergency = clinician(org_a, "doctor", department=DepartmentFactory(organization=org_a))
    with pytest.raises(NotFound):
        selectors.encounter_list(ctx=emergency, patient_id=clinic["patient"].id)
    account_services.break_glass_start(
        ctx=emergency, patient_id=clinic["patient"].id, reason="Unconscious in the emergency room"
    )
    assert len(selectors.encounter_list(ctx=emergency, patient_id=clinic["patient"].id)) == 1
    read = (
        AuditEvent.objects.for_system(Ctx.system(reason="test"))
        .filter(action="clinical.encounter.list", actor_id=emergency.actor_id, outcome="success")
        .get()
    )
    assert read.detail["break_glass"] is True


def test_another_organizations_encounter_is_never_visible(org_a, org_b, clinic):
    encounter = walk_in(clinic["doctor"], clinic["patient"], clinic["department"])
    other = clinician(org_b, "doctor")
    with pytest.raises(NotFound):
        selectors.encounter_get(ctx=other, encounter_id=encounter.id)
    with pytest.raises(NotFound):
        selectors.encounter_list(ctx=other, patient_id=clinic["patient"].id)
    with pytest.raises(NotFound):
        services.encounter_finish(ctx=other, encounter_id=encounter.id)
    assert Encounter.objects.for_tenant(other).count() == 0


def test_roles_without_clinical_access_are_forbidden(org_a, clinic):
    with pytest.raises(Forbidden):
        selectors.encounter_list(ctx=desk_ctx(org_a), patient_id=clinic["patient"].id)
