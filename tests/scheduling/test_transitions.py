"""The status machine: every allowed transition works and is recorded; every other one is refused."""

from __future__ import annotations

import pytest

from phb.kernel.errors import Conflict, Forbidden, ValidationFailed
from phb.kernel.models import AuditEvent
from phb.scheduling import services, transitions
from phb.scheduling.models import Appointment, AppointmentStatus, AppointmentTransition
from tests.scheduling.factories import desk_ctx, local, practitioner, registered_patient, staff_ctx, tomorrow

pytestmark = pytest.mark.django_db

ALLOWED = {(t.source, t.target) for t in transitions.TABLE}
ILLEGAL = [(s, t) for s in AppointmentStatus.values for t in AppointmentStatus.values if (s, t) not in ALLOWED]


@pytest.fixture
def appointment(org_a):
    desk = desk_ctx(org_a)
    return services.appointment_book(
        ctx=desk,
        patient_id=registered_patient(org_a).id,
        practitioner_id=practitioner(org_a).id,
        start_at=local(org_a, tomorrow(org_a), 9),
    )


def _force(appointment: Appointment, status: str) -> Appointment:
    Appointment.objects.for_tenant(desk_ctx_of(appointment)).filter(id=appointment.id).update(status=status)
    return appointment


def desk_ctx_of(appointment):
    from phb.kernel.context import Ctx

    return Ctx.system(reason="test", organization_id=appointment.organization_id)


def test_the_table_names_a_permission_for_every_move_and_terminal_states_have_none():
    assert {"completed", "cancelled", "no_show", "rejected", "referred", "rescheduled"} == transitions.TERMINAL
    assert all(t.permission for t in transitions.TABLE)
    assert len(ALLOWED) == len(transitions.TABLE)


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_every_illegal_transition_is_a_conflict(org_a, appointment, source, target):
    _force(appointment, source)
    system = desk_ctx_of(appointment)
    with pytest.raises(Conflict) as err:
        services.appointment_transition(ctx=system, appointment_id=appointment.id, to_status=target, reason="r")
    assert err.value.code == "ILLEGAL_TRANSITION"
    assert Appointment.objects.for_tenant(system).get(id=appointment.id).status == source


GENERIC = [t for t in transitions.TABLE if not t.own_service]
OWN_SERVICE = [t for t in transitions.TABLE if t.own_service]


@pytest.mark.parametrize("transition", GENERIC, ids=lambda t: f"{t.source}->{t.target}")
def test_every_allowed_transition_is_recorded_and_audited(org_a, appointment, transition):
    _force(appointment, transition.source)
    roles = ("receptionist",) if transition.permission == transitions.MANAGE else ("doctor",)
    ctx = staff_ctx(org_a, *roles)
    if transition.reason_required:
        with pytest.raises(ValidationFailed):
            services.appointment_transition(ctx=ctx, appointment_id=appointment.id, to_status=transition.target)
    services.appointment_transition(
        ctx=ctx, appointment_id=appointment.id, to_status=transition.target, reason="patient asked"
    )
    row = AppointmentTransition.objects.for_tenant(ctx).filter(appointment=appointment).order_by("-at").first()
    assert (row.from_status, row.to_status, row.actor_id) == (transition.source, transition.target, ctx.actor_id)
    assert row.reason == "patient asked"
    event = AuditEvent.objects.for_tenant(ctx).get(action=f"scheduling.appointment.{transition.target}")
    assert event.patient_id == appointment.patient_id
    assert event.actor_id == ctx.actor_id


@pytest.mark.parametrize("transition", OWN_SERVICE, ids=lambda t: f"{t.source}->{t.target}")
def test_check_in_rescheduling_and_referring_go_only_through_their_own_services(org_a, appointment, transition):
    """A plain change of status to checked in would issue no ticket, to rescheduled or referred would leave
    no next appointment: refused, nothing written (their services are tested in test_tickets, test_moves)."""
    _force(appointment, transition.source)
    roles = ("doctor",) if transition.permission == transitions.TREAT else ("receptionist",)
    ctx = staff_ctx(org_a, *roles)
    with pytest.raises(ValidationFailed) as err:
        services.appointment_transition(
            ctx=ctx, appointment_id=appointment.id, to_status=transition.target, reason="patient asked"
        )
    assert err.value.extra["errors"][0]["code"] == "NEEDS_OWN_ACTION"
    assert Appointment.objects.for_tenant(ctx).get(id=appointment.id).status == transition.source
    assert not AppointmentTransition.objects.for_tenant(ctx).filter(to_status=transition.target).exists()


def test_the_desk_cannot_start_a_consultation(org_a, appointment):
    _force(appointment, "checked_in")
    desk = desk_ctx(org_a)
    with pytest.raises(Forbidden):
        services.appointment_transition(ctx=desk, appointment_id=appointment.id, to_status="in_progress")
    assert AuditEvent.objects.for_tenant(desk).filter(action="scheduling.appointment.in_progress", outcome="denied")


def test_the_whole_visit(org_a, appointment):
    desk, doctor = desk_ctx(org_a), staff_ctx(org_a, "doctor")
    services.appointment_transition(ctx=desk, appointment_id=appointment.id, to_status="confirmed")
    services.appointment_check_in(ctx=desk, appointment_id=appointment.id)
    for status in ("in_progress", "completed"):
        services.appointment_transition(ctx=doctor, appointment_id=appointment.id, to_status=status)
    history = AppointmentTransition.objects.for_tenant(desk).filter(appointment=appointment).order_by("at", "id")
    assert [t.to_status for t in history] == ["pending", "confirmed", "checked_in", "in_progress", "completed"]
