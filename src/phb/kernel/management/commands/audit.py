from typing import Any

from django.core.management.base import BaseCommand, CommandError

from phb.kernel import audit


class Command(BaseCommand):
    help = "Audit trail: `seal` appends events to the hash chain; `verify` checks the whole chain."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("seal")
        sub.add_parser("verify")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "seal":
            self.stdout.write(f"{audit.seal()} events sealed")
            return
        problems = audit.verify()
        if not problems:
            self.stdout.write("audit chain intact")
            return
        self.stdout.write(f"first broken place: {problems[0]}")
        for problem in problems:
            self.stdout.write(str(problem))
        raise CommandError(f"{len(problems)} problems in the audit chain")
