"""Who may read and write a patient's clinical record at an organization.

A clinician (a role granting `clinical.record.view`: doctor, nurse, ...) reads the record of a patient
with whom they have a care relationship here: the patient has an encounter or an appointment at this
organization that they attend, or that is in their department (their membership's department); or
they hold an unexpired break-the-glass access to the patient. A registered system client of the
organization (the FHIR API) reaches the patients registered there, as its reads do. Writing needs `clinical.record.update`
(vital signs: `clinical.vitals.record` too) and the same relationship. Anyone else is answered "not
found", and the refusal is audited by the selector or service that asked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q

from phb.accounts.models import Membership
from phb.accounts.public import break_glass_active
from phb.clinical.models import Encounter
from phb.kernel import memo
from phb.kernel.context import Ctx
from phb.patients.public import registered_patient_ids
from phb.scheduling.models import Appointment, AppointmentStatus

VIEW = "clinical.record.view"
UPDATE = "clinical.record.update"
RECORD_VITALS = "clinical.vitals.record"
ESCALATION = "clinical.alert.escalation"
DESK = "scheduling.appointment.manage"
# An appointment that never took place and never will creates no relationship.
_NO_RELATIONSHIP = (AppointmentStatus.CANCELLED, AppointmentStatus.REJECTED)


@dataclass(frozen=True)
class Access:
    """Why `ctx` may see a patient: "care" (a relationship), "break_glass", or "registered" (a system
    client of the organization, for a patient registered there)."""

    basis: str

    @property
    def break_glass(self) -> bool:
        return self.basis == "break_glass"


def can_view(ctx: Ctx) -> bool:
    return ctx.organization_id is not None and ctx.actor_id is not None and ctx.has_perm(VIEW)


def can_update(ctx: Ctx) -> bool:
    return can_view(ctx) and ctx.has_perm(UPDATE)


def can_record_vitals(ctx: Ctx) -> bool:
    return can_view(ctx) and (ctx.has_perm(RECORD_VITALS) or ctx.has_perm(UPDATE))


def can_start_walk_in(ctx: Ctx) -> bool:
    """Reception registers the visit, or a clinician starts it."""
    return ctx.organization_id is not None and ctx.actor_id is not None and (ctx.has_perm(UPDATE) or ctx.has_perm(DESK))


def department_id_of(ctx: Ctx) -> uuid.UUID | None:
    """The department of `ctx`'s actor's membership at the organization, if any."""
    if ctx.actor_id is None or ctx.organization_id is None:
        return None
    return (
        Membership.objects.for_tenant(ctx)
        .filter(user_id=ctx.actor_id, is_active=True)
        .values_list("department_id", flat=True)
        .first()
    )


@memo.cached()  # an import's unit of work remembers a relationship found (never its absence)
def care_relationship(ctx: Ctx, patient_id: uuid.UUID) -> Access | None:
    """The basis on which `ctx` may see `patient_id`'s clinical record here, or None.

    SECURITY: the only gate to a patient's clinical rows; every selector and service asks it."""
    if not can_view(ctx):
        return None
    if ctx.is_client:
        registered = registered_patient_ids(ctx).filter(patient_id=patient_id).exists()
        return Access("registered") if registered else None
    department_id = department_id_of(ctx)
    mine = Q(attending_id=ctx.actor_id)
    if department_id is not None:
        mine |= Q(department_id=department_id)
    if Encounter.objects.for_tenant(ctx).filter(mine, patient_id=patient_id).exists():
        return Access("care")
    booked = Q(practitioner__user_id=ctx.actor_id)
    if department_id is not None:
        booked |= Q(department_id=department_id)
    if (
        Appointment.objects.for_tenant(ctx)
        .filter(booked, patient_id=patient_id)
        .exclude(status__in=_NO_RELATIONSHIP)
        .exists()
    ):
        return Access("care")
    if on_care_team(ctx, patient_id):
        return Access("care")
    if break_glass_active(ctx=ctx, patient_id=patient_id) is not None:
        return Access("break_glass")
    return None


def may_acknowledge(ctx: Ctx, *, recipient_id: uuid.UUID, escalated_to: list[str]) -> bool:
    """The alert's recipient, whoever it escalated to, or a department head of the organization."""
    if ctx.actor_id is None:
        return False
    return ctx.actor_id == recipient_id or str(ctx.actor_id) in escalated_to or ctx.has_perm(ESCALATION)


# --------------------------------------------------------------------------------------------------
# Care plans: the care team, and who approves a template
# --------------------------------------------------------------------------------------------------


def on_care_team(ctx: Ctx, patient_id: uuid.UUID) -> bool:
    """Whether `ctx`'s clinician is a member of the care team of an open care plan (draft, active or
    on hold) of the patient here: a care relationship, like an encounter or an appointment.

    SECURITY: part of `care_relationship`."""
    from phb.clinical.models import CARE_PLAN_OPEN, CarePlanMember

    return (
        CarePlanMember.objects.for_tenant(ctx)
        .filter(user_id=ctx.actor_id, plan__patient_id=patient_id, plan__status__in=CARE_PLAN_OPEN)
        .exists()
    )


def may_approve_template(ctx: Ctx, department_id: uuid.UUID | None) -> bool:
    """A department head (a role granting `clinical.alert.escalation`, as for escalated alerts)
    approves, returns and retires care plan templates: those of their department and those of no
    department; a head with no department heads clinical work across the organization, so any."""
    if not (can_update(ctx) and ctx.has_perm(ESCALATION)):
        return False
    if department_id is None:
        return True
    own = department_id_of(ctx)
    return own is None or own == department_id


# --------------------------------------------------------------------------------------------------
# The same rule over many patients (searches that name no patient)
# --------------------------------------------------------------------------------------------------


def care_relationship_filter(ctx: Ctx, field: str = "patient_id") -> Q | None:
    """`care_relationship` as a condition on `field` (a patient id) of a query of this organization's
    rows: the patients `ctx`'s clinician may see, as subqueries. None: they may see no patient.

    SECURITY: must say exactly what `care_relationship` says, patient by patient (a test compares them)."""
    from phb.accounts.public import break_glass_patient_ids
    from phb.clinical.models import CARE_PLAN_OPEN, CarePlanMember

    if not can_view(ctx):
        return None
    if ctx.is_client:
        return Q(**{f"{field}__in": registered_patient_ids(ctx)})
    department_id = department_id_of(ctx)
    mine = Q(attending_id=ctx.actor_id)
    booked = Q(practitioner__user_id=ctx.actor_id)
    if department_id is not None:
        mine |= Q(department_id=department_id)
        booked |= Q(department_id=department_id)
    encounters = Encounter.objects.for_tenant(ctx).filter(mine).values("patient_id")
    appointments = (
        Appointment.objects.for_tenant(ctx).filter(booked).exclude(status__in=_NO_RELATIONSHIP).values("patient_id")
    )
    team = (
        CarePlanMember.objects.for_tenant(ctx)
        .filter(user_id=ctx.actor_id, plan__status__in=CARE_PLAN_OPEN)
        .values("plan__patient_id")
    )
    condition = Q(**{f"{field}__in": encounters}) | Q(**{f"{field}__in": appointments}) | Q(**{f"{field}__in": team})
    emergency = break_glass_patient_ids(ctx=ctx)
    if emergency:
        condition |= Q(**{f"{field}__in": sorted(emergency)})
    return condition
