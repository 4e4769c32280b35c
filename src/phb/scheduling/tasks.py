"""Scheduling's background work: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from phb.scheduling import reminders, services


@shared_task(name="scheduling.reminders_send_due", ignore_result=True)
def reminders_send_due() -> dict[str, int]:
    """Send appointment reminders that are due (scheduled every minute)."""
    return reminders.reminders_send_due()


@shared_task(name="scheduling.no_shows_mark", ignore_result=True)
def no_shows_mark() -> int:
    """Mark appointments not checked in after the grace period as missed (scheduled every minute)."""
    return services.no_shows_mark()
