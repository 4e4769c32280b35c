"""`phb bench-data --tier S|M [--patients N] [--data DIR]`: the benchmark data set (phb.demo.benchdata)."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phb.demo import benchdata


class Command(BaseCommand):
    help = (
        "Fill the configured database with the benchmark data set of a tier (S: 1,000 patients, M: 100,000), "
        "deterministically, with COPY. Prints the time taken and the database's size."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tier", default="M", help=f"one of {', '.join(benchdata.TIERS)} (default M)")
        parser.add_argument("--patients", default=None, help="scale the tier's proportions to N patients")
        parser.add_argument("--data", default=None, help="the Synthea bundles (default: the shared public data)")
        parser.add_argument("--report", default=None, help="also write the report (JSON) to this file")

    def handle(self, *args: Any, **options: Any) -> dict[str, Any] | None:
        patients = options["patients"]
        if patients is not None:
            try:
                patients = int(patients)
            except ValueError as exc:
                raise CommandError(f"--patients must be a whole number (got {patients!r})") from exc
        try:
            report = benchdata.generate(
                options["tier"],
                patients=patients,
                data_dir=Path(options["data"]) if options["data"] else None,
                progress=lambda message: self.stderr.write(message),
            )
        except benchdata.BenchDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(benchdata.summary(report))
        if options["report"]:
            Path(options["report"]).write_text(json.dumps(report, indent=2, default=str))
        return None
