"""The pharmacy's background work: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from phb.pharmacy import alerts


@shared_task(name="pharmacy.stock_alerts_check", ignore_result=True)
def stock_alerts_check() -> dict[str, int]:
    """Raise and resolve low-stock and near-expiry alerts in every organization (scheduled hourly)."""
    return alerts.stock_alerts_check_all()
