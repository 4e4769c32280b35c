"""What the pharmacy does when events arrive (delivered by the outbox, at least once: every handler
is idempotent).

- A stock alert was raised: the organization's pharmacists are notified, once.
- Medicines were dispensed: the patient is told they are ready to collect, once."""

from __future__ import annotations

from phb.kernel.events import subscriber
from phb.pharmacy import alerts, dispensing
from phb.pharmacy.events import MedicinesDispensed, StockAlertRaised


@subscriber(StockAlertRaised)
def stock_alert_send(event: StockAlertRaised) -> None:
    alerts.stock_alert_notify(alert_id=event.alert_id, organization_id=event.organization_id)


@subscriber(MedicinesDispensed)
def medicines_ready_send(event: MedicinesDispensed) -> None:
    dispensing.dispensing_notify_patient(dispensing_id=event.dispensing_id, organization_id=event.organization_id)
