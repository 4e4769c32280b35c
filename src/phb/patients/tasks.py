import datetime as dt
from zoneinfo import ZoneInfo

from celery import shared_task

from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.patients.anomalies import same_family_name_flags


@shared_task(name="patients.same_family_name_flags", ignore_result=True)
def same_family_name_flags_everywhere() -> int:
    """Yesterday's same-family-name signals for every organization (daily)."""
    system = Ctx.system(reason="daily privacy anomaly signals")
    count = 0
    for organization in Organization.objects.for_platform(system).filter(is_active=True):
        yesterday = dt.datetime.now(ZoneInfo(organization.timezone)).date() - dt.timedelta(days=1)
        count += same_family_name_flags(ctx=system.for_organization(organization.id), day=yesterday)
    return count
