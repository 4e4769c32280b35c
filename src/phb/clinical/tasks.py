"""The clinical record's background work: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from phb.clinical import alerts


@shared_task(name="clinical.critical_alerts_escalate", ignore_result=True)
def critical_alerts_escalate() -> int:
    """Escalate critical alerts left unacknowledged too long (scheduled every minute)."""
    return alerts.critical_alerts_escalate_due()


# --- documents ----------------------------------------------------------------------------------------


@shared_task(name="clinical.documents_sweep_orphans", ignore_result=True)
def documents_sweep_orphans() -> int:
    """Delete document files no document names, left by rolled-back transactions (scheduled daily)."""
    from phb.clinical import documents

    return documents.documents_sweep_orphans()
