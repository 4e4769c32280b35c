"""Code systems for tests. `phb migrate` (and so the creation of the test database) loads the shipped
ones; a transactional test's flush empties them, so a test that may run after one and needs them calls
`ensure_code_systems()` (a query when they are there)."""

from __future__ import annotations

import gzip
from pathlib import Path

from phb.kernel.context import Ctx
from phb.terminology import services
from phb.terminology.models import CodeSystem, Content
from phb.terminology.sources import SOURCES, Source, read_icd10_cm


def ensure_code_systems() -> None:
    if CodeSystem.objects.filter(uri__in=[s.uri for s in SOURCES.values()]).count() < len(SOURCES):
        ctx = Ctx.system(reason="test: load the shipped code systems")
        for slug in SOURCES:
            services.code_system_load(ctx=ctx, slug=slug)


HEADER = "code\tlevel\tbillable\tdescription\tparent\n"


def small_icd_table(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """A gzipped table in the shape of the shipped ICD-10-CM file."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


def small_source(path: Path, *, slug: str = "test-icd", version: str = "1") -> Source:
    """A source reading `path` as ICD-10-CM-shaped, under a system URI of its own."""
    return Source(
        slug,
        f"http://example.org/fhir/CodeSystem/{slug}",
        "Test classification",
        version,
        Content.COMPLETE,
        str(path),
        "test data",
        read_icd10_cm,
    )
