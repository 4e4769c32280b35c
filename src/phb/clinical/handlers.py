"""What the clinical record does when other apps' events arrive (delivered by the outbox, at least
once: every handler is idempotent).

- An appointment starts (`in_progress`): its encounter is created (one per appointment).
- An appointment is completed, or referred on from the consultation: its encounter finishes.
- An organization is created: it gets the default note templates.
- A critical alert was raised: it is sent to its recipient."""

from __future__ import annotations

from phb.clinical import alerts, services
from phb.clinical.events import CriticalAlertRaised
from phb.kernel.context import Ctx
from phb.kernel.events import subscriber
from phb.organizations.events import OrganizationCreated
from phb.scheduling.events import AppointmentStatusChanged

ENDS_THE_VISIT = ("completed", "referred")


@subscriber(AppointmentStatusChanged)
def encounter_follows_appointment(event: AppointmentStatusChanged) -> None:
    ctx = Ctx.system(reason="clinical: encounter of an appointment", organization_id=event.organization_id)
    if event.to_status == "in_progress":
        services.encounter_from_appointment(ctx=ctx, appointment_id=event.appointment_id)
    elif event.to_status in ENDS_THE_VISIT and event.from_status == "in_progress":
        services.encounter_finish_for_appointment(ctx=ctx, appointment_id=event.appointment_id)


@subscriber(OrganizationCreated)
def note_templates_for_new_organization(event: OrganizationCreated) -> None:
    ctx = Ctx.system(reason="clinical: default note templates", organization_id=event.organization_id)
    services.note_templates_seed(ctx=ctx)


@subscriber(CriticalAlertRaised)
def critical_alert_send(event: CriticalAlertRaised) -> None:
    alerts.critical_alert_notify(alert_id=event.alert_id, organization_id=event.organization_id)


# --- care plans -------------------------------------------------------------------------------------


@subscriber(OrganizationCreated)
def care_plan_templates_for_new_organization(event: OrganizationCreated) -> None:
    """A new organization gets the default care plan templates, pending its department heads' approval."""
    from phb.clinical import care_plans

    ctx = Ctx.system(reason="clinical: default care plan templates", organization_id=event.organization_id)
    care_plans.care_plan_templates_seed(ctx=ctx)
