import uuid

from celery import shared_task

from phb.interop.fhir import bulk


@shared_task(name="interop.bulk_export_build", ignore_result=True)
def bulk_export_build(export_id: str) -> str:
    """Build one Bulk Data export (queued after the kick-off commits)."""
    return bulk.export_build(export_id=uuid.UUID(export_id))


@shared_task(name="interop.bulk_exports_maintain", ignore_result=True)
def bulk_exports_maintain() -> dict[str, int]:
    """Expire Bulk Data exports and delete their files; recover lost or stuck builds (hourly)."""
    return bulk.exports_maintain()
