"""Bulk Data NDJSON import (`phb fhir import` of `*.ndjson` files, one resource per line, as a Bulk
Data `$export` writes them, PHB's own included once its files are downloaded).

The files of a set are read type by type in dependency order (Patient, then Encounter, then what
references them), in groups of lines that go through the same import as a Bundle's entries
(`bundles.import_entries`): the same mappers, services, audit and SourceLink idempotency. A line's
identity at its source is `Type/id`, so a reference `Patient/<id>` in an Observation resolves to the
row the Patient line became, in this run or an earlier one. A reference to a type PHB stores that
names nothing known refuses the line (INVALID_REFERENCE), as would a reference naming no entry of a
Bundle; references to types PHB does not store (Organization, Practitioner...) are left aside by the
mappers. A line that is not JSON, not a resource, or of a type PHB does not store is reported with
its line number; nothing aborts the import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phb.interop.fhir import bundles
from phb.interop.fhir.outcome import FhirError
from phb.interop.fhir.registry import REGISTRY

GROUP = 500  # lines imported together (dependency-ordered inside the group)
FIRST = ("Patient", "Encounter")  # every other type PHB stores may reference these


def writable_types() -> set[str]:
    return {name for name, resource in REGISTRY.items() if resource.write is not None}


def type_rank(resource_type: str) -> tuple[int, str]:
    if resource_type in FIRST:
        return FIRST.index(resource_type), resource_type
    return (len(FIRST), resource_type) if resource_type in writable_types() else (len(FIRST) + 1, resource_type)


@dataclass
class Line:
    number: int  # 1-based
    resource: Any = None
    error: str = ""  # why the line cannot be read as a resource


def read_lines(path: Path) -> Iterator[Line]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield Line(number, error="the line is not JSON")
                continue
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                yield Line(number, error="the line holds no FHIR resource (no resourceType)")
                continue
            yield Line(number, value)


def file_type(path: Path) -> str:
    """The type a file holds: its first resource's, else the name's prefix (`Observation.000.ndjson`)."""
    for line in read_lines(path):
        if line.resource is not None:
            return str(line.resource["resourceType"])
    return path.name.split(".")[0]


def in_order(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: (type_rank(file_type(p)), p.name))


def _relative(reference: str, types: set[str]) -> str | None:
    """`Type/id` for a literal reference (relative or absolute) to a type PHB stores, else None."""
    if reference.startswith(("urn:", "#")) or "?" in reference:
        return None
    parts = reference.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] in types and parts[-1]:
        return f"{parts[-2]}/{parts[-1]}"
    return None


def _normalize(value: Any, types: set[str]) -> None:
    """Make every reference to a type PHB stores relative (`Type/id`), in place."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            relative = _relative(ref, types)
            if relative is not None:
                value["reference"] = relative
        for item in value.values():
            _normalize(item, types)
    elif isinstance(value, list):
        for item in value:
            _normalize(item, types)


def _entry(line: Line, types: set[str]) -> bundles.Entry:
    resource = line.resource
    _normalize(resource, types)
    resource_type = resource["resourceType"]
    resource_id = resource.get("id")
    full_url = f"{resource_type}/{resource_id}" if isinstance(resource_id, str) and resource_id else ""
    return bundles.Entry(
        index=line.number,
        method="POST",
        url=resource_type,
        full_url=full_url[:300],
        resource=resource,
        resource_type=resource_type,
    )


class References:
    """Refuses a line whose reference to a type PHB stores names neither a line imported in this run
    nor a resource imported before (its SourceLink); a link found is remembered."""

    def __init__(self, requester: bundles.Requester, state: bundles.ImportState, types: set[str]):
        self.requester, self.state, self.types = requester, state, types

    def __call__(self, entry: bundles.Entry) -> None:
        from phb.interop.models import SourceLink

        for reference in entry.refs if entry.refs is not None else bundles.references(entry.resource):
            relative = _relative(reference, self.types)
            if relative is None or relative == entry.full_url or relative in self.state.targets:
                continue
            resource_type = relative.split("/")[0]
            link = (
                SourceLink.objects.for_tenant(self.requester.ctx)
                .filter(resource_type=resource_type, source=relative)
                .values_list("target_id", flat=True)
                .first()
            )
            if link is None:
                raise FhirError(
                    400,
                    "INVALID_REFERENCE",
                    f"a reference to {resource_type} names no resource of these files nor one imported before",
                    expression=f"{entry.resource_type}",
                )
            self.state.targets[relative] = f"{resource_type}/{link}"


def import_file(
    requester: bundles.Requester, path: Path, state: bundles.ImportState
) -> Iterator[list[bundles.Imported]]:
    """The outcomes of one NDJSON file's lines, a group at a time (index = the line number)."""
    types = writable_types()
    check = References(requester, state, types)
    group: list[Line] = []

    def flush() -> list[bundles.Imported]:
        out: list[bundles.Imported] = []
        entries: list[bundles.Entry] = []
        for line in group:
            if line.resource is None:
                out.append(bundles.Imported(line.number, "", "?", "refused", "INVALID_RESOURCE", 400, line.error))
            else:
                entries.append(_entry(line, types))
        for entry in entries:  # what it references, here or in a file read before (a refused one refuses it)
            entry.refs = list(bundles.references(entry.resource))
            entry.depends = {r for r in entry.refs if r != entry.full_url}
        if entries:
            results = bundles.import_entries(requester, entries, state, skipped_targets=False, check=check)
            out.extend(results[e.index] for e in entries)
        group.clear()
        return sorted(out, key=lambda item: item.index)

    for line in read_lines(path):
        group.append(line)
        if len(group) >= GROUP:
            yield flush()
    if group:
        yield flush()
