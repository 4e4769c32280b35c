"""The clinical record's background work: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from phb.clinical import alerts


@shared_task(name="clinical.critical_alerts_escalate", ignore_result=True)
def critical_alerts_escalate() -> int:
    """Escalate critical alerts left unacknowledged too long (scheduled every minute)."""
    return alerts.critical_alerts_escalate_due()
