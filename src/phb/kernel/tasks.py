"""Kernel background tasks: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task

from phb.kernel import events


@shared_task(name="kernel.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> dict[str, int]:
    """Deliver due outbox events (scheduled every few seconds, nudged after commits)."""
    return events.dispatch_due()
