"""What the pharmacy does when events arrive (delivered by the outbox, at least once: every handler
is idempotent).

- A stock alert was raised: the organization's pharmacists are notified, once."""

from __future__ import annotations

from phb.kernel.events import subscriber
from phb.pharmacy import alerts
from phb.pharmacy.events import StockAlertRaised


@subscriber(StockAlertRaised)
def stock_alert_send(event: StockAlertRaised) -> None:
    alerts.stock_alert_notify(alert_id=event.alert_id, organization_id=event.organization_id)
