"""`phb fhir import PATH --organization ID [--report FILE]`: load FHIR Bundles (a file, or a directory
of `*.json`) and Bulk Data NDJSON files (`*.ndjson`, one resource per line, read type by type in
dependency order: see `interop.fhir.ndjson`) into an organization as its registered API client "FHIR import" (scopes `system/*.*`), so
the data goes through the API's own authorization, mappers, services and audit. Every entry is
created, linked, found already imported, skipped (a type PHB does not store) or refused with its
reason; one bad entry never stops the import."""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from phb.accounts import api_clients
from phb.accounts.models import ApiClient
from phb.interop.fhir import bundles, ndjson
from phb.interop.fhir.outcome import FhirError
from phb.kernel.context import Ctx
from phb.kernel.errors import ProblemError
from phb.kernel.models import Organization

CLIENT_NAME = "FHIR import"
COLUMNS = ("created", "linked", "already", "skipped", "refused")


def import_client(organization_id: uuid.UUID) -> ApiClient:
    """The organization's "FHIR import" client, registered on first use. A revoked one is respected:
    the import stops rather than registering another behind the administrator's back."""
    ctx = Ctx.system(reason="phb fhir import", organization_id=organization_id)
    existing = list(api_clients.api_client_list(ctx=ctx).filter(name=CLIENT_NAME))
    active = [c for c in existing if c.is_active]
    if active:
        return active[0]
    if existing:
        raise CommandError(f'the "{CLIENT_NAME}" client of this organization was revoked; an administrator decides')
    client, _secret = api_clients.api_client_create(ctx=ctx, name=CLIENT_NAME, scopes="system/*.*")
    return client


def client_ctx(client: ApiClient) -> Ctx:
    scopes = frozenset(client.scopes)
    return Ctx.client(
        client_id=client.id,
        organization_id=client.organization_id,
        scopes=scopes,
        permissions=api_clients.scope_permissions(scopes),
        user_agent="phb fhir import",
    )


def bundle_files(path: Path) -> list[Path]:
    """The Bundle files (`*.json`) and NDJSON files (`*.ndjson`) at `path`."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".json", ".ndjson") and p.is_file())
    if path.is_file():
        return [path]
    raise CommandError(f"{path} is neither a file nor a directory")


def split(files: list[Path]) -> tuple[list[Path], list[Path]]:
    """NDJSON files first (in dependency order of their types), then Bundles."""
    lines = [p for p in files if p.suffix == ".ndjson"]
    return ndjson.in_order(lines), [p for p in files if p.suffix != ".ndjson"]


class Command(BaseCommand):
    help = "Import FHIR R4 Bundles (transaction or batch) and Bulk Data NDJSON files into an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("import", help="import a Bundle or NDJSON file, or a directory of them")
        run.add_argument("path")
        run.add_argument("--organization", required=True, help="the organization's id")
        run.add_argument("--report", help="write one JSON line per skipped or refused entry to this file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization_id = uuid.UUID(options["organization"])
        except ValueError as exc:
            raise CommandError("--organization must be an organization id (a UUID)") from exc
        system = Ctx.system(reason="phb fhir import: check the organization")
        if not Organization.objects.for_system(system).filter(id=organization_id, is_active=True).exists():
            raise CommandError("no active organization with this id")
        files = bundle_files(Path(options["path"]))
        try:
            client = import_client(organization_id)
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
        requester = bundles.Requester(ctx=client_ctx(client), base_url="urn:phb:fhir/")
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        report = open(options["report"], "w", encoding="utf-8") if options.get("report") else None  # noqa: SIM115
        try:
            for path, outcomes in self._run(files, requester):
                for item in outcomes:
                    counts[item.resource_type][item.what] += 1
                    if report is not None and item.what in ("skipped", "refused"):
                        report.write(json.dumps(_report_line(path, item, ndjson=path.suffix == ".ndjson")) + "\n")
        finally:
            if report is not None:
                report.close()
        self._summary(counts)

    def _run(self, files: list[Path], requester: bundles.Requester) -> Any:
        """Each file's outcomes, with a progress bar on a terminal (plain lines otherwise)."""
        interactive = self.stdout.isatty() if hasattr(self.stdout, "isatty") else sys.stdout.isatty()
        progress = None
        if interactive:
            from rich.progress import Progress

            progress = Progress(transient=True)
            task = progress.add_task("Importing", total=len(files))
            progress.start()
        lines, bundle_paths = split(files)
        state = bundles.ImportState()  # shared by the NDJSON files: a reference resolves across them
        try:
            for number, path in enumerate([*lines, *bundle_paths], 1):
                outcomes = (
                    self._lines(path, requester, state) if path.suffix == ".ndjson" else self._one(path, requester)
                )
                if progress is not None:
                    progress.advance(task)
                else:
                    tally = Counter(o.what for o in outcomes)
                    done = ", ".join(f"{tally[c]} {c}" for c in COLUMNS if tally[c])
                    self.stdout.write(f"[{number}/{len(files)}] {path.name}: {done or 'nothing'}")
                yield path, outcomes
        finally:
            if progress is not None:
                progress.stop()

    def _lines(self, path: Path, requester: bundles.Requester, state: bundles.ImportState) -> list[bundles.Imported]:
        try:
            return [item for group in ndjson.import_file(requester, path, state) for item in group]
        except OSError as exc:
            return [bundles.Imported(-1, "", "?", "refused", "INVALID_FILE", 400, f"unreadable: {type(exc).__name__}")]

    def _one(self, path: Path, requester: bundles.Requester) -> list[bundles.Imported]:
        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
            return bundles.import_bundle(requester, bundle)
        except (OSError, ValueError) as exc:
            return [
                bundles.Imported(
                    -1, "", "Bundle", "refused", "INVALID_BUNDLE", 400, f"unreadable: {type(exc).__name__}"
                )
            ]
        except FhirError as exc:
            return [bundles.Imported(-1, "", "Bundle", "refused", exc.code, exc.status, exc.diagnostics)]

    def _summary(self, counts: dict[str, Counter[str]]) -> None:
        width = max([len("Resource type"), *(len(t) for t in counts)])
        self.stdout.write("Resource type".ljust(width) + "".join(c.rjust(10) for c in COLUMNS))
        total: Counter[str] = Counter()
        for resource_type in sorted(counts):
            total.update(counts[resource_type])
            self.stdout.write(
                resource_type.ljust(width) + "".join(str(counts[resource_type][c]).rjust(10) for c in COLUMNS)
            )
        self.stdout.write("Total".ljust(width) + "".join(str(total[c]).rjust(10) for c in COLUMNS))


def _report_line(path: Path, item: bundles.Imported, *, ndjson: bool = False) -> dict[str, Any]:
    """Ids and PHB's codes only: never a resource's content. `entry` is the index in a Bundle, `line`
    the line number in an NDJSON file."""
    return {
        "file": path.name,
        "line" if ndjson else "entry": item.index,
        "fullUrl": item.full_url,
        "type": item.resource_type,
        "result": item.what,
        "outcome": {"code": item.code, "status": item.status, "diagnostics": item.reason},
    }
