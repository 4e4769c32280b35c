"""Critical alerts: raised with a set of vital signs holding critical values, sent to the responsible
clinician (the encounter's attending, else whoever recorded the set) through the notifications
service, acknowledged by them; still unacknowledged after `CRITICAL_ALERT_ESCALATE_MINUTES`
(environment: PHB_CRITICAL_ALERT_ESCALATE_MINUTES), escalated exactly once to the department's head.

The department's head is whoever holds a role granting `clinical.alert.escalation` (the
`department_head` role) with a membership in the alert's department; when the department has none
(or only the recipient), the holders of that role with no department, who head clinical work across
the organization. Messages carry a reference, never a value or a name."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from phb.accounts.models import Membership, User
from phb.accounts.roles import permissions_for
from phb.clinical import policies
from phb.clinical.events import CriticalAlertRaised
from phb.clinical.models import AlertStatus, CriticalAlert, Encounter, VitalSignsSet
from phb.kernel import audit, events
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, NotFound
from phb.kernel.models import Organization
from phb.notifications.services import Recipient, notify

log = structlog.get_logger("phb.clinical")
RAISED = "clinical.critical_alert"
ESCALATED = "clinical.critical_alert_escalated"


def reference(alert: CriticalAlert) -> str:
    """A short reference staff can read out: the end of the alert's id."""
    return "CA-" + alert.id.hex[-8:].upper()


def critical_alert_raise(
    *, ctx: Ctx, vital_set: VitalSignsSet, encounter: Encounter | None, findings: list[dict[str, str]]
) -> CriticalAlert:
    """Within the recording's transaction: the alert, and the event that gets it sent."""
    recipient_id = (encounter.attending_id if encounter else None) or ctx.actor_id
    department_id = encounter.department_id if encounter else policies.department_id_of(ctx)
    alert = CriticalAlert.objects.create(
        organization_id=ctx.organization_id,
        patient_id=vital_set.patient_id,
        encounter=encounter,
        vital_set=vital_set,
        department_id=department_id,
        recipient_id=recipient_id,
        findings=findings,
        raised_at=timezone.now(),
    )
    audit.record(ctx, "clinical.critical_alert.raise", target=alert, patient_id=alert.patient_id, findings=findings)
    events.publish(ctx, CriticalAlertRaised(alert_id=alert.id, organization_id=alert.organization_id))
    return alert


def _recipient(user: User) -> Recipient:
    return Recipient(ref=str(user.id), user_id=user.id, email=user.email, phone=user.phone)


def _context(ctx: Ctx, alert: CriticalAlert) -> dict[str, Any]:
    organization = Organization.objects.for_tenant(ctx).first()
    return {"reference": reference(alert), "organization": organization.name if organization else ""}


def critical_alert_notify(*, alert_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Send a raised alert to its recipient, once (the event may be delivered more than once)."""
    ctx = Ctx.system(reason="send a critical alert", organization_id=organization_id)
    with audit.atomic():
        claimed = (
            CriticalAlert.objects.for_tenant(ctx)
            .filter(id=alert_id, notified_at__isnull=True)
            .update(notified_at=timezone.now())
        )
        if not claimed:
            return False
        alert = CriticalAlert.objects.for_tenant(ctx).select_related("recipient").get(id=alert_id)
        notify(ctx=ctx, recipient=_recipient(alert.recipient), template_code=RAISED, context=_context(ctx, alert))
        audit.record(ctx, "clinical.critical_alert.notify", target=alert, patient_id=alert.patient_id)
    return True


def critical_alert_acknowledge(*, ctx: Ctx, alert_id: uuid.UUID) -> CriticalAlert:
    """The recipient (or whoever it escalated to, or a department head) has seen the alert."""
    action = "clinical.critical_alert.acknowledge"
    with audit.atomic():
        alert = CriticalAlert.objects.for_tenant(ctx).select_for_update().filter(id=alert_id).first()
        if alert is None or not policies.may_acknowledge(
            ctx, recipient_id=alert.recipient_id, escalated_to=alert.escalated_to
        ):
            raise audit.denied(ctx, action, NotFound("no such alert"), resource_id=str(alert_id))
        if alert.status == AlertStatus.ACKNOWLEDGED:
            raise Conflict("this alert was already acknowledged", code="ALERT_ACKNOWLEDGED")
        alert.status, alert.acknowledged_at, alert.acknowledged_by_id = (
            AlertStatus.ACKNOWLEDGED,
            timezone.now(),
            ctx.actor_id,
        )
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated_at"])
        audit.record(ctx, action, target=alert, patient_id=alert.patient_id, escalated=alert.escalated_at is not None)
    return alert


def department_heads(ctx: Ctx, *, department_id: uuid.UUID | None, exclude: uuid.UUID | None = None) -> list[User]:
    """Who an unacknowledged alert of `department_id` escalates to (see the module's docstring)."""
    memberships = list(
        Membership.objects.for_tenant(ctx).filter(is_active=True, user__is_active=True).select_related("user")
    )
    heads = [m for m in memberships if policies.ESCALATION in permissions_for(m.roles) and m.user_id != exclude]
    in_department = [m.user for m in heads if department_id is not None and m.department_id == department_id]
    return in_department or [m.user for m in heads if m.department_id is None]


def critical_alerts_escalate_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Escalate every alert still open `CRITICAL_ALERT_ESCALATE_MINUTES` after it was raised, each
    exactly once: the alert is claimed by a conditional update, so two schedulers never both send it,
    and an acknowledgement that commits first wins. Returns how many were escalated."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.CRITICAL_ALERT_ESCALATE_MINUTES)
    system = Ctx.system(reason="escalate unacknowledged critical alerts")
    due = list(
        CriticalAlert.objects.for_system(system)
        .filter(status=AlertStatus.OPEN, escalated_at__isnull=True, raised_at__lte=cutoff)
        .order_by("raised_at")
        .values_list("id", "organization_id")[:limit]
    )
    escalated = 0
    for alert_id, organization_id in due:
        ctx = system.for_organization(organization_id)
        with audit.atomic():
            claimed = (
                CriticalAlert.objects.for_tenant(ctx)
                .filter(id=alert_id, status=AlertStatus.OPEN, escalated_at__isnull=True)
                .update(escalated_at=now, updated_at=timezone.now())
            )
            if not claimed:
                continue
            alert = CriticalAlert.objects.for_tenant(ctx).get(id=alert_id)
            heads = department_heads(ctx, department_id=alert.department_id, exclude=alert.recipient_id)
            alert.escalated_to = [str(head.id) for head in heads]
            alert.save(update_fields=["escalated_to", "updated_at"])
            for head in heads:
                notify(ctx=ctx, recipient=_recipient(head), template_code=ESCALATED, context=_context(ctx, alert))
            if not heads:
                log.warning("clinical.critical_alert.no_department_head", alert_id=str(alert.id))
            audit.record(
                ctx,
                "clinical.critical_alert.escalate",
                target=alert,
                patient_id=alert.patient_id,
                recipients=alert.escalated_to,
            )
            escalated += 1
    return escalated
