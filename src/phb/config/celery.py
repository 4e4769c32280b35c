"""The Celery application: workers and the scheduler run PHB's background work."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phb.config.settings")

app = Celery("phb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.worker_hijack_root_logger = False  # our JSON logging stays in charge
app.conf.broker_connection_retry_on_startup = True
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "outbox-dispatch": {
            "task": "kernel.dispatch_outbox",
            "schedule": settings.OUTBOX_DISPATCH_INTERVAL_SECONDS,
        },
        "audit-seal": {"task": "kernel.seal_audit", "schedule": 30.0},
        "audit-partitions": {"task": "kernel.audit_partitions", "schedule": 86400.0},
        "privacy-anomalies": {"task": "accounts.anomaly_flags", "schedule": 86400.0},
        "privacy-same-family-name": {"task": "patients.same_family_name_flags", "schedule": 86400.0},
        "patient-exports-expire": {"task": "patients.exports_maintain", "schedule": 3600.0},
        "appointment-reminders": {"task": "scheduling.reminders_send_due", "schedule": 60.0},
        "appointment-no-shows": {"task": "scheduling.no_shows_mark", "schedule": 60.0},
        "critical-alerts-escalate": {"task": "clinical.critical_alerts_escalate", "schedule": 60.0},
        "clinical-documents-sweep-orphans": {"task": "clinical.documents_sweep_orphans", "schedule": 86400.0},
        "prescriptions-expire": {"task": "medications.prescriptions_expire", "schedule": 3600.0},
        "doses-extend": {"task": "medications.doses_extend", "schedule": 3600.0},
        "doses-mark-missed": {"task": "medications.doses_mark_missed", "schedule": 300.0},
        "pharmacy-stock-alerts": {"task": "pharmacy.stock_alerts_check", "schedule": 3600.0},
        "fhir-bulk-exports-expire": {"task": "interop.bulk_exports_maintain", "schedule": 3600.0},
    }
