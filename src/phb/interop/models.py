"""What interop keeps of other systems' records: which PHB row each imported resource became."""

from __future__ import annotations

from django.db import models

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
