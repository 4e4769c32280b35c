from typing import Any

from django.core.management.base import BaseCommand

from phb.kernel import events
from phb.kernel.models import DeliveryStatus, OutboxDelivery


class Command(BaseCommand):
    help = "Outbox operations: show failing and parked deliveries, retry parked ones, dispatch now."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="counts by status, and the parked deliveries with their errors")
        sub.add_parser("retry", help="queue every parked delivery again")
        sub.add_parser("dispatch", help="deliver what is due now, in this process")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "retry":
            self.stdout.write(f"{events.retry_parked()} parked deliveries queued again")
        elif action == "dispatch":
            self.stdout.write(str(events.dispatch_due()))
        else:
            for status in DeliveryStatus:
                self.stdout.write(f"{status.label:>10}: {OutboxDelivery.objects.filter(status=status).count()}")
            for d in OutboxDelivery.objects.filter(status=DeliveryStatus.PARKED).select_related("event")[:50]:
                self.stdout.write(f"parked {d.id} {d.event.name} -> {d.handler} after {d.attempts}: {d.last_error}")
