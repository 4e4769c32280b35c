"""SMS providers. PHB sends text messages through the provider named by `NOTIFICATIONS_SMS_PROVIDER`
(a dotted path); the default only logs that a message would have gone out, with ids and the channel,
never the number or the text."""

from __future__ import annotations

from typing import Protocol

import structlog
from django.conf import settings
from django.utils.module_loading import import_string

log = structlog.get_logger("phb.notifications")


class SmsProvider(Protocol):
    def send(self, *, to: str, body: str, delivery_ref: str) -> None:
        """Send `body` to the number `to`; raise on failure. `delivery_ref` identifies the send in logs."""


class LoggingSmsProvider:
    """No gateway configured: log that a message would have been sent (ids and channel only)."""

    def send(self, *, to: str, body: str, delivery_ref: str) -> None:
        # SECURITY: the number and the text stay out of the logs.
        log.info("notifications.sms_logged", channel="sms", delivery_ref=delivery_ref)


def provider() -> SmsProvider:
    return import_string(settings.NOTIFICATIONS_SMS_PROVIDER)()
