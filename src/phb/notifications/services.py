"""Sending notifications: one call, several channels (in the application, email, SMS), each send
recorded as a `NotificationDelivery`. A channel that fails is recorded with the error's type and does
not stop the others; the caller decides nothing more."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from phb.kernel.context import Ctx
from phb.notifications import sms, templates
from phb.notifications.models import Channel, DeliveryStatus, Notification, NotificationDelivery

log = structlog.get_logger("phb.notifications")


@dataclass(frozen=True)
class Recipient:
    """Who gets a message, and where. `ref` (a user's or a patient's id) is what the records keep."""

    ref: str
    user_id: uuid.UUID | None = None
    email: str = ""
    phone: str = ""


def notify(
    *,
    ctx: Ctx,
    recipient: Recipient,
    template_code: str,
    context: dict[str, Any],
    organization_id: uuid.UUID | None = None,
) -> list[NotificationDelivery]:
    """Send the template to the recipient on every channel they can be reached on; returns the
    deliveries recorded (one per channel tried)."""
    title, body = templates.render(template_code, context)
    organization_id = organization_id or ctx.organization_id
    deliveries = []
    if recipient.user_id is not None:
        deliveries.append(
            _deliver(
                Channel.IN_APP,
                recipient,
                template_code,
                organization_id,
                lambda ref: _in_app(recipient.user_id, organization_id, template_code, title, body),
            )
        )
    if recipient.email:
        deliveries.append(
            _deliver(
                Channel.EMAIL,
                recipient,
                template_code,
                organization_id,
                lambda ref: _email(recipient.email, title, body),
            )
        )
    if recipient.phone:
        deliveries.append(
            _deliver(
                Channel.SMS,
                recipient,
                template_code,
                organization_id,
                lambda ref: sms.provider().send(to=recipient.phone, body=body, delivery_ref=ref),
            )
        )
    return deliveries


def _in_app(user_id: Any, organization_id: Any, template_code: str, title: str, body: str) -> None:
    Notification.objects.create(
        user_id=user_id, organization_id=organization_id, template_code=template_code, title=title, body=body
    )


def _email(to: str, subject: str, body: str) -> None:
    send_mail(subject, body, None, [to])


def _deliver(
    channel: str, recipient: Recipient, template_code: str, organization_id: Any, send: Any
) -> NotificationDelivery:
    delivery = NotificationDelivery(
        organization_id=organization_id,
        channel=channel,
        recipient_ref=recipient.ref,
        template_code=template_code,
        status=DeliveryStatus.SENT,
    )
    try:
        with transaction.atomic():
            send(str(delivery.id))
        delivery.sent_at = timezone.now()
    except Exception as exc:
        # SECURITY: the error's type only; its message may quote the address or the text.
        delivery.status = DeliveryStatus.FAILED
        delivery.error_code = f"{type(exc).__module__}.{type(exc).__qualname__}"[:200]
        log.warning(
            "notifications.send_failed", channel=channel, delivery_ref=str(delivery.id), error=delivery.error_code
        )
    delivery.save(force_insert=True)
    return delivery


def notification_mark_read(*, ctx: Ctx, notification_ids: list[uuid.UUID]) -> int:
    """Mark some of my notifications read; another user's are ignored."""
    if ctx.actor_id is None:
        return 0
    return Notification.objects.filter(user_id=ctx.actor_id, id__in=notification_ids, read_at__isnull=True).update(
        read_at=timezone.now()
    )
