"""Notifications: what a user sees in the application (`Notification`) and a record of every message
sent on any channel (`NotificationDelivery`). Messages carry times, places and references, never a
diagnosis or a complaint.

Neither table is tenant-owned: a patient's notifications come from every organization they visit and
are read by the patient across them; each row keeps the organization it came from."""

from __future__ import annotations

from django.db import models

from phb.kernel.models import BaseModel


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the application"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class DeliveryStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(BaseModel):
    """One message in a user's in-application list."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "kernel.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    template_code = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    body = models.TextField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.template_code


class NotificationDelivery(BaseModel):
    """One attempt to send one message on one channel. The recipient is a reference (a user's or a
    patient's id), never an address; the message itself is not kept."""

    organization = models.ForeignKey(
        "kernel.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient_ref = models.CharField(max_length=80)
    template_code = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    sent_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values), name="delivery_channel_valid"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
        ]
        indexes = [models.Index(fields=["recipient_ref", "created_at"], name="delivery_recipient")]

    def __str__(self) -> str:
        return f"{self.channel} {self.template_code} {self.status}"
