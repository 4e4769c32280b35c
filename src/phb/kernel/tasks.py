"""Kernel background tasks: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from phb.kernel import audit, events


@shared_task(name="kernel.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> dict[str, int]:
    """Deliver due outbox events (scheduled every few seconds, nudged after commits)."""
    return events.dispatch_due()


@shared_task(name="kernel.seal_audit", ignore_result=True)
def seal_audit() -> int:
    """Append settled audit events to the hash chain (scheduled every 30 seconds)."""
    return audit.seal()


@shared_task(name="kernel.audit_partitions", ignore_result=True)
def audit_partitions() -> list[str]:
    """Create next months' audit partitions ahead of time (daily); where the application role may not
    create them (two database roles), check that they exist and fail loudly if not."""
    return audit.ensure_partitions()
