"""The clinical record for tests: clinicians (a member of staff, optionally in a department), adult
and child patients registered at an organization, walk-in encounters, a normal set of vital signs."""

from __future__ import annotations

import datetime as dt

from phb.accounts.roles import permissions_for
from phb.clinical import services
from phb.clinical.models import Encounter
from phb.kernel.context import Ctx
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.patients.factories import make_patient, register_at_desk
from tests.scheduling.factories import desk_ctx


def clinician(organization, *roles: str, department=None, user=None) -> Ctx:
    """A context for a (new, unless given) member of `organization` holding `roles` (default: doctor)."""
    roles = roles or ("doctor",)
    user = user or UserFactory()
    MembershipFactory(user=user, organization=organization, roles=list(roles), department=department)
    return Ctx(
        actor_id=user.id,
        organization_id=organization.id,
        roles=frozenset(roles),
        permissions=permissions_for(roles),
    )


def patient_at(organization, *, years: int | None = 40):
    """A patient registered at `organization`, `years` old today (None: birth date unknown)."""
    today = dt.date.today()
    birth_date = None if years is None else today.replace(year=today.year - years) - dt.timedelta(days=30)
    patient = make_patient(birth_date=birth_date)
    register_at_desk(desk_ctx(organization), patient)
    return patient


def walk_in(ctx: Ctx, patient, department, **kwargs) -> Encounter:
    return services.encounter_start_walk_in(ctx=ctx, patient_id=patient.id, department_id=department.id, **kwargs)


NORMAL_ADULT = {
    "systolic_bp": 122,
    "diastolic_bp": 78,
    "heart_rate": 72,
    "respiratory_rate": 16,
    "temperature": "36.8",
    "spo2": 98,
    "consciousness": "A",
}


def record(ctx: Ctx, patient, *, encounter=None, on_oxygen: bool | None = False, **values):
    return services.vital_signs_record(
        ctx=ctx,
        patient_id=patient.id,
        encounter_id=encounter.id if encounter else None,
        values={**NORMAL_ADULT, **values},
        on_supplemental_oxygen=on_oxygen,
    )
