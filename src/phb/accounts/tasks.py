from celery import shared_task

from phb.accounts import anomalies


@shared_task(name="accounts.anomaly_flags", ignore_result=True)
def anomaly_flags() -> int:
    """Yesterday's privacy signals for every organization (daily)."""
    return anomalies.flag_yesterday_everywhere()
