"""The medications app's background work: thin wrappers around its services."""

from __future__ import annotations

from celery import shared_task

from phb.medications import adherence, services


@shared_task(name="medications.prescriptions_expire", ignore_result=True)
def prescriptions_expire() -> int:
    """Prescriptions past their validity become expired (scheduled hourly)."""
    return services.prescriptions_expire_due()


@shared_task(name="medications.doses_extend", ignore_result=True)
def doses_extend() -> int:
    """Keep the rolling window of doses due filled for long courses (scheduled hourly)."""
    return adherence.doses_extend_due()


@shared_task(name="medications.doses_mark_missed", ignore_result=True)
def doses_mark_missed() -> int:
    """Doses left unmarked past the grace period become missed (scheduled every five minutes)."""
    return adherence.doses_mark_missed_due()
