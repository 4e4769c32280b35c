import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from celery import shared_task

from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from phb.patients import exports
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


@shared_task(name="patients.export_build", ignore_result=True)
def export_build(export_id: str) -> str:
    """Build one patient export (queued after the request commits)."""
    return exports.export_build(export_id=uuid.UUID(export_id))


@shared_task(name="patients.exports_maintain", ignore_result=True)
def exports_maintain() -> dict[str, int]:
    """Expire exports past their 24 hours and wipe their files; recover lost or stuck builds (hourly)."""
    return exports.exports_maintain()
