"""What interop keeps: which PHB row each imported resource became, and Bulk Data exports (`$export`)
with their files."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from phb.kernel.crypto import EncryptedTextField
from phb.kernel.models import TenantModel


class SourceLink(TenantModel):
    """A resource another system sent (its Bundle entry's fullUrl `urn:uuid:...`, or `system|value` of
    an identifier) and the PHB row it became, so that importing the same data again creates nothing."""

    resource_type = models.CharField(max_length=64)
    source = models.CharField(max_length=300)
    target_id = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "resource_type", "source"], name="interop_source_link_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type} {self.source} -> {self.target_id}"


class BulkExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


BULK_IN_PROGRESS = [BulkExportStatus.QUEUED, BulkExportStatus.RUNNING]


class BulkExportKind(models.TextChoices):
    SYSTEM = "system", "System ($export)"
    PATIENT = "patient", "Patients (Patient/$export)"
    GROUP = "group", "Group (Group/<id>/$export)"


class BulkExport(TenantModel):
    """One Bulk Data export asked for by a system client (or a user allowed to): the request, its
    progress, and once completed its NDJSON files (encrypted in the storage, listed in `files`) until
    they expire. Only the requester sees it."""

    requester_kind = models.CharField(max_length=10, help_text="client | user")
    requester_id = models.UUIDField(help_text="The API client's or the user's id.")
    kind = models.CharField(max_length=10, choices=BulkExportKind.choices)
    group_id = models.UUIDField(null=True, blank=True)
    # What was asked: types, _since, _outputFormat, the request URL, and the requester's scopes or
    # permissions at kick-off (the worker acts with them).
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=BulkExportStatus.choices, default=BulkExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0 to 100.")
    transaction_time = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=40, blank=True, help_text="A stable code when failed.")
    # [{"type", "key" (storage name), "count", "bytes", "error" (an OperationOutcome file)}]
    files = models.JSONField(default=list)
    content_key = EncryptedTextField(blank=True, help_text="The files' data key (base64), under the key ring.")

    class Meta:
        indexes = [
            models.Index(fields=["organization", "requester_id", "-created_at"], name="bulk_export_by_requester"),
            models.Index(fields=["status", "expires_at"], name="bulk_export_by_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=BulkExportStatus.values), name="bulk_export_status"),
            models.CheckConstraint(condition=models.Q(kind__in=BulkExportKind.values), name="bulk_export_kind"),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100), name="bulk_export_progress_percent"
            ),
            # One export at a time per requester.
            models.UniqueConstraint(
                fields=["organization", "requester_id"],
                condition=models.Q(status__in=BULK_IN_PROGRESS),
                name="bulk_export_one_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"bulk export {self.id} ({self.status})"

    @property
    def downloadable(self) -> bool:
        return (
            self.status == BulkExportStatus.COMPLETED
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )
