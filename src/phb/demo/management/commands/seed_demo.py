from typing import Any

from django.core.management.base import BaseCommand

from phb.demo.seed import seed_demo


class Command(BaseCommand):
    help = "Create the demo network, hospital, clinic, departments and staff (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        made = seed_demo()
        summary = ", ".join(f"{n} {kind}" for kind, n in made.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({summary} created)."))
