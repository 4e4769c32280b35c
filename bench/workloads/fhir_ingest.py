"""W5, FHIR ingest: Synthea transaction Bundles imported through `phb fhir import`'s own path
(`bundles.import_bundle` as the organization's "FHIR import" API client: authorization, mappers,
domain services with their validation, reference resolution, SourceLinks, audit) into a fresh
organization per operation, against PostgreSQL `COPY ... FROM STDIN` of the identical final rows into
the same tables, committed.

One operation ingests a fixed subset of the Bundles (`BUNDLES` of the shared Synthea set, a few
seconds of work). The reference's rows are the ones the import produced: after the check, every row
the checked import wrote in an organization-owned table (`organization_id` = its organization, written
after it started: clinical rows, registrations, SourceLinks, audit events) is captured with
`COPY (SELECT ...) TO STDOUT`; each reference operation copies them back in under a fresh organization,
with every row id replaced by a new one (prepared before timing), so that both sides write the same
rows with the same indexes and constraints. The patients themselves are people of the network
(`patients_patient`, no organization): the first import creates them, later ones link them (the
master patient index finds them), so neither side writes them after the first operation.

Resources per second = resources per operation / the median operation time. Bytes per resource on
disk (tables, TOAST and indexes of every table written, audit partitions included): the size growth
of one more import divided by the resources it stored, reported as an outcome beside the timing.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from bench.runner import CheckFailed, Outcome, Variant, Workload

BUNDLES = 5  # every 18th of the 90 shared Synthea Bundles: about 1,100 stored resources
ITERATION_DIVISOR = 60  # 300 iterations (the default) -> 5 operations per round
WARMUP = 1
POOL = 80  # organizations (and, half as many, reference copies) prepared before timing
TARGET_RESOURCES_S = 2000
TARGET_RATIO = 0.05
TARGET_BYTES = 1536
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shared_bundles() -> list[Path]:
    root = Path(os.environ.get("PHB_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
    found = sorted((root / "synthea-r4" / "bundles").glob("*.json"))
    if not found:
        raise FileNotFoundError(f"no Synthea bundles under {root} (set PHB_SHARED_DATA)")
    return found[:: max(1, len(found) // BUNDLES)][:BUNDLES]


class Organizations:
    """Fresh organizations, each with its import client: a pool made before timing, more on demand."""

    def __init__(self) -> None:
        self.pool = [self.make() for _ in range(POOL)]

    @staticmethod
    def make() -> tuple[uuid.UUID, Any]:
        from phb.interop.fhir import bundles
        from phb.interop.management.commands.fhir import client_ctx, import_client
        from phb.kernel.models import Organization

        tag = uuid.uuid4().hex[:10]
        org = Organization.objects.create(
            name=f"Ingest {tag}", code=f"ingest-{tag}", kind="hospital", city="Lagos", state="Lagos"
        )
        requester = bundles.Requester(ctx=client_ctx(import_client(org.id)), base_url="urn:phb:fhir/")
        return org.id, requester

    def next(self) -> tuple[uuid.UUID, Any]:
        return self.pool.pop() if self.pool else self.make()


def ingest(texts: list[str], requester: Any) -> dict[str, int]:
    """What `phb fhir import` does with each file: parse it, import its entries."""
    from phb.interop.fhir import bundles

    counts: dict[str, int] = {}
    for text in texts:
        for item in bundles.import_bundle(requester, json.loads(text)):
            counts[item.what] = counts.get(item.what, 0) + 1
    return counts


def _tables(cur: Any) -> list[str]:
    """Ordinary and partitioned tables (not partitions) with an organization_id column."""
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"
    )
    return [row[0] for row in cur.fetchall()]


def _columns(cur: Any, table: str) -> list[str]:
    cur.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        [table],
    )
    return [row[0] for row in cur.fetchall()]


def capture(conn: Any, organization_id: uuid.UUID, since: Any) -> list[tuple[str, list[str], bytes, int]]:
    """(table, columns, COPY text, rows) of every row the import wrote for `organization_id`."""
    from psycopg import sql

    out = []
    with conn.cursor() as cur:
        for table in _tables(cur):
            columns = _columns(cur, table)
            when = "occurred_at" if "occurred_at" in columns and table == "kernel_auditevent" else "created_at"
            if when not in columns or table == "accounts_apiclient":
                continue
            buffer = io.BytesIO()
            query = sql.SQL("COPY (SELECT {} FROM {} WHERE organization_id = {} AND {} >= {}) TO STDOUT").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(table),
                sql.Literal(str(organization_id)),
                sql.Identifier(when),
                sql.Literal(since),
            )
            with cur.copy(query) as copy:
                for data in copy:
                    buffer.write(data)
            text = buffer.getvalue()
            rows = text.count(b"\n")
            if rows:
                out.append((table, columns, text, rows))
    return out


def remapped(captured: list[tuple[str, list[str], bytes, int]], organization_id: uuid.UUID, new_org: uuid.UUID):
    """The captured rows under `new_org`, each row id (first column: `id`) replaced by a new one."""
    mapping = {str(organization_id).encode(): str(new_org).encode()}
    for _table, columns, text, _rows in captured:
        if columns[0] == "id":
            for line in text.splitlines():
                mapping[line.split(b"\t", 1)[0]] = str(uuid.uuid4()).encode()
    return [
        (table, columns, _UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text), rows)
        for table, columns, text, rows in captured
    ]


def disk_bytes(conn: Any, tables: list[str]) -> int:
    """Tables, TOAST and indexes, partitions included."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0) FROM unnest(%s::text[]) AS n(name), "
            "LATERAL pg_partition_tree(n.name::regclass) t WHERE t.isleaf",
            [tables],
        )
        return int(cur.fetchone()[0])


def build(dsn: str) -> list[Any]:
    import psycopg
    from django.utils import timezone

    from phb.kernel.context import Ctx
    from phb.terminology import services as terminology
    from phb.terminology.sources import SOURCES

    for slug in SOURCES:
        terminology.code_system_load(ctx=Ctx.system(reason="bench: code systems"), slug=slug)
    texts = [p.read_text(encoding="utf-8") for p in shared_bundles()]
    organizations = Organizations()
    conn = psycopg.connect(dsn)

    # The first import creates the patients (or links them, in a database that has them already);
    # the rows of a later one, which links them as every timed one does, are the reference's.
    first = ingest(texts, organizations.next()[1])
    organization_id, requester = organizations.next()
    started = timezone.now()
    expected = ingest(texts, requester)
    captured = capture(conn, organization_id, started)
    conn.commit()
    stored = expected.get("created", 0) + expected.get("linked", 0)
    if stored == 0 or stored != first.get("created", 0) + first.get("linked", 0):
        raise CheckFailed(f"the imports stored {first} then {expected}")
    total_rows = sum(rows for *_, rows in captured)
    copies: list[Any] = []

    def prepare() -> Any:
        new_org, _ = organizations.next()
        return remapped(captured, organization_id, new_org)

    copies.extend(prepare() for _ in range(POOL // 2))

    def next_copy() -> Any:
        return copies.pop() if copies else prepare()

    def phb() -> dict[str, int]:
        return ingest(texts, organizations.next()[1])

    def check_phb(counts: dict[str, int]) -> None:
        if counts != expected:
            raise CheckFailed(f"the import gave {counts}, not {expected}")

    def copy_rows() -> int:
        written = 0
        from psycopg import sql

        with conn.cursor() as cur:
            for table, columns, text, rows in next_copy():
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
                with cur.copy(statement) as copy:
                    copy.write(text)
                written += rows
        conn.commit()
        return written

    def check_copy(written: int) -> None:
        if written != total_rows:
            raise CheckFailed(f"COPY wrote {written} rows, not {total_rows}")

    tables = sorted({table for table, *_ in captured})

    def storage() -> dict[str, Any]:
        before = disk_bytes(conn, tables)
        conn.commit()
        start = time.perf_counter()
        counts = ingest(texts, organizations.next()[1])
        seconds = time.perf_counter() - start
        after = disk_bytes(conn, tables)
        conn.commit()
        resources = counts.get("created", 0) + counts.get("linked", 0)
        per = (after - before) / resources
        if per > TARGET_BYTES:
            raise CheckFailed(f"{per:.0f} bytes per resource on disk, over the {TARGET_BYTES} target")
        return {
            "trials": 1,
            "detail": (
                f"{per:.0f} bytes per stored resource on disk with indexes and audit (target <= {TARGET_BYTES}); "
                f"{resources} resources in {seconds:.2f} s ({resources / seconds:.0f} resources/s, this one import)"
            ),
            "bytes_per_resource": round(per),
            "resources": resources,
        }

    def teardown() -> None:
        conn.close()

    description = (
        f"{len(texts)} Synthea transaction Bundles per operation: {stored} resources stored "
        f"({sum(expected.values())} entries), {total_rows} rows in {len(captured)} tables; "
        f"resources/s = {stored} / median s (target >= {TARGET_RESOURCES_S}/s and >= {TARGET_RATIO} x COPY)"
    )
    return [
        Outcome(
            name="fhir_ingest_storage",
            description="bytes per FHIR resource on disk after an import (tables, TOAST, indexes)",
            measure=storage,
        ),
        Workload(
            name="fhir_ingest",
            description=description,
            reference=Variant("a. COPY FROM of the identical rows", copy_rows, check_copy),
            variants=[Variant("b. phb fhir import (import_bundle)", phb, check_phb)],
            teardown=teardown,
        ),
    ]
