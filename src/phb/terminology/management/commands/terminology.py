"""`phb terminology load icd10-cm` (or `loinc`, `drugs`, or `all`): load a shipped code table, or bring
it up to date (`drugs` loads the drug catalogue with its medication-safety knowledge, replacing the
release in force when the files changed); `phb terminology status`: what is held. `phb migrate` loads
them too, so this is for a reload (`--force`), a newer release, or a database migrated without them. As the owner role when DATABASE_OWNER_URL is set."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

from phb.kernel import db
from phb.kernel.context import Ctx
from phb.terminology import selectors, services
from phb.terminology.sources import SOURCES


class Command(BaseCommand):
    help = "Code systems: `load SLUG|all [--force]` loads a shipped code table (idempotent); `status` lists them."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="load a shipped code table, or bring it up to date")
        load.add_argument(
            "slugs", nargs="+", choices=[*SOURCES, "all"], metavar="SLUG", help=f"{', '.join(SOURCES)}, all"
        )
        load.add_argument("--force", action="store_true", help="reload even when the same file was loaded")
        sub.add_parser("status", help="the code systems held")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "status":
            for system in selectors.code_system_list():
                self.stdout.write(
                    f"{system.slug:<10} {system.name} {system.version}: {system.concept_count:,} active concepts, "
                    f"loaded {system.loaded_at:%Y-%m-%d %H:%M} UTC ({system.uri})"
                )
            release = selectors.drug_knowledge_release()
            if release is not None:
                counts = ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in release.counts.items())
                self.stdout.write(f"drug knowledge {release.version}: {counts}")
            return
        slugs = list(SOURCES) if "all" in options["slugs"] else list(dict.fromkeys(options["slugs"]))
        ctx = Ctx.system(reason="phb terminology load")
        with db.connected_as_owner(connections[DEFAULT_DB_ALIAS]):
            for slug in slugs:
                result = services.code_system_load(ctx=ctx, slug=slug, force=options["force"])
                if result.unchanged:
                    self.stdout.write(f"{slug} {result.version}: already loaded ({result.concepts:,} concepts)")
                else:
                    self.stdout.write(
                        f"{slug} {result.version}: {result.concepts:,} concepts ({result.added:,} added, "
                        f"{result.changed:,} changed, {result.deactivated:,} made inactive) in {result.seconds} s"
                    )
