"""Writes of terminology: loading a shipped code table into the concept store (and, for the drug
catalogue, its medication-safety knowledge into the knowledge tables, in the same transaction).

A load is one transaction and idempotent: a table already loaded from the same file is left alone (two
queries), a changed one is merged (new codes added, changed ones updated, codes the file no longer has
kept but made inactive, since records point at them). On PostgreSQL the rows travel by COPY."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from phb.kernel import db
from phb.kernel.context import Ctx
from phb.terminology.coding import UnknownCodeSystem, code_key, fold
from phb.terminology.drug_data import DrugRelease
from phb.terminology.models import (
    CodeSystem,
    Concept,
    DrugAllergyCross,
    DrugClass,
    DrugConditionRule,
    DrugInteraction,
    DrugKnowledgeRelease,
    DrugMaxDose,
    DrugReproductiveCaution,
)
from phb.terminology.sources import SOURCES, DrugSource, Row, Source

log = structlog.get_logger("phb.terminology")

FULL_TEXT_INDEX = "terminology_concept_words"  # created by migration 0001 (PostgreSQL only)
COPY_CHUNK = 5_000
TIDY_AFTER = 5_000  # rows written by a load, above which the index and the statistics are refreshed at once

# The columns a load writes, in COPY order; `id`, `created_at` and `system_id` come first.
FIELDS = (
    "code",
    "display",
    "parent_code",
    "level",
    "selectable",
    "heading",
    "active",
    "properties",
    "code_key",
    "search_text",
)


@dataclass(frozen=True)
class LoadResult:
    slug: str
    version: str
    concepts: int  # active concepts of the system after the load
    added: int = 0
    changed: int = 0
    deactivated: int = 0
    unchanged: bool = False
    seconds: float = 0.0


def source_for(slug: str) -> Source:
    try:
        return SOURCES[slug]
    except KeyError:
        raise UnknownCodeSystem(f"PHB ships no code table named {slug!r}: one of {', '.join(SOURCES)}") from None


def code_system_load(*, ctx: Ctx, slug: str, force: bool = False, using: str = DEFAULT_DB_ALIAS) -> LoadResult:
    """Load (or bring up to date) the shipped code table `slug` ("icd10-cm", "loinc")."""
    if not ctx.is_system:
        raise ValueError("loading a code system is platform work: use Ctx.system(reason=...)")
    source = source_for(slug)
    started = time.perf_counter()
    connection = connections[using]
    with transaction.atomic(using=using):
        system = CodeSystem.objects.using(using).select_for_update().filter(uri=source.uri).first()
        if system is None:
            system = CodeSystem(uri=source.uri, slug=source.slug)
        elif (
            not force
            and system.source_sha256 == source.sha256
            and system.version == source.version
            and (not isinstance(source, DrugSource) or _drug_knowledge_loaded(using, source.sha256))
        ):
            count = Concept.objects.using(using).filter(system=system, active=True).count()
            return LoadResult(source.slug, source.version, count, unchanged=True)
        rows = source.read()  # read (and, for the drug release, validated) before anything is written
        system.name, system.version, system.content = source.name, source.version, source.content
        system.copyright, system.source_sha256, system.loaded_at = source.copyright, source.sha256, timezone.now()
        system.save(using=using)
        merge = _merge_postgresql if connection.vendor == "postgresql" else _merge_generic
        added, changed, deactivated = merge(connection, system, rows)
        if isinstance(source, DrugSource):
            _drug_knowledge_replace(using, source.release, system.loaded_at)
        count = Concept.objects.using(using).filter(system=system, active=True).count()
        if (
            connection.vendor == "postgresql"
            and added + changed >= TIDY_AFTER
            and db.role_owns_table(connection, Concept._meta.db_table)
        ):
            _tidy_postgresql(connection)
    result = LoadResult(
        source.slug,
        source.version,
        count,
        added=added,
        changed=changed,
        deactivated=deactivated,
        seconds=round(time.perf_counter() - started, 2),
    )
    log.info("terminology.loaded", **{k: v for k, v in result.__dict__.items() if k != "unchanged"})
    return result


def _values(row: Row) -> tuple[Any, ...]:
    """A row's values in FIELDS order, with the derived search columns."""
    search_text = row.search_text or fold(row.display)[:600]
    return (
        row.code,
        row.display,
        row.parent_code,
        row.level,
        row.selectable,
        row.heading,
        True,
        row.properties,
        code_key(row.code),
        search_text,
    )


def _merge_postgresql(connection: Any, system: CodeSystem, rows: list[Row]) -> tuple[int, int, int]:
    """COPY the rows in: straight into the table on a first load, else through a temporary table
    merged with INSERT ... ON CONFLICT (only rows that differ are written). The rows go in chunks, so
    that the server stores one while the next is prepared."""
    q = connection.ops.quote_name
    table = q(Concept._meta.db_table)
    columns = ", ".join(("system_id", *FIELDS))
    first = not Concept.objects.using(connection.alias).filter(system=system).exists()
    target = table if first else q("terminology_concept_load")
    with connection.cursor() as cursor:
        if not first:
            cursor.execute(f"DROP TABLE IF EXISTS {target}")  # a load earlier in the same transaction
            cursor.execute(
                f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608
            )
        with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(rows), COPY_CHUNK):
                copy.write(_copy_text(system.id, [_values(row) for row in rows[start : start + COPY_CHUNK]]))
        if first:
            return len(rows), 0, 0
        # Names only (ours, quoted) are formatted into the statements; values travel as parameters.
        updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in FIELDS)
        differs = (
            f"({', '.join(f'c.{f}' for f in FIELDS)}) IS DISTINCT FROM ({', '.join(f'EXCLUDED.{f}' for f in FIELDS)})"
        )
        upsert = f"INSERT INTO {table} AS c ({columns}) SELECT {columns} FROM {target} ON CONFLICT (system_id, code)"  # noqa: S608
        cursor.execute(f"{upsert} DO UPDATE SET {updates} WHERE {differs} RETURNING (xmax = 0)")
        written = [inserted for (inserted,) in cursor.fetchall()]
        gone = f"NOT EXISTS (SELECT 1 FROM {target} n WHERE n.code = c.code)"  # noqa: S608
        deactivate = f"UPDATE {table} AS c SET active = false WHERE c.system_id = %s AND c.active AND {gone}"  # noqa: S608
        cursor.execute(deactivate, [system.id])
        deactivated = cursor.rowcount
    added = sum(written)
    return added, len(written) - added, deactivated


def _merge_generic(connection: Any, system: CodeSystem, source_rows: list[Row]) -> tuple[int, int, int]:
    """The same merge in plain SQL for SQLite: the codes held are compared in Python, new ones
    inserted, changed ones updated, those gone made inactive, each in one `executemany`."""
    rows = [_values(row) for row in source_rows]
    existing: dict[str, tuple[Any, ...]] = {
        values[0]: tuple(values)
        for values in Concept.objects.using(connection.alias).filter(system=system).values_list(*FIELDS)
    }
    new, changed = [], []
    for values in rows:
        current = existing.pop(values[0], None)
        if current is None:
            new.append(values)
        elif current != values:
            changed.append(values)
    system_id = Concept._meta.get_field("system").get_db_prep_value(system.id, connection)
    active = FIELDS.index("active")
    gone = [code for code, values in existing.items() if values[active]]

    def db(values: tuple[Any, ...]) -> list[Any]:
        return [*values[:7], _json(values[7]), *values[8:]]

    q = connection.ops.quote_name
    table = q(Concept._meta.db_table)
    with connection.cursor() as cursor:
        if new:
            placeholders = ", ".join(["%s"] * (len(FIELDS) + 1))
            cursor.executemany(
                f"INSERT INTO {table} (system_id, {', '.join(FIELDS)}) VALUES ({placeholders})",  # noqa: S608
                [[system_id, *db(values)] for values in new],
            )
        if changed:
            assignments = ", ".join(f"{f} = %s" for f in FIELDS[1:])
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE system_id = %s AND code = %s",  # noqa: S608
                [[*db(values)[1:], system_id, values[0]] for values in changed],
            )
        if gone:
            cursor.executemany(
                f"UPDATE {table} SET active = %s WHERE system_id = %s AND code = %s",  # noqa: S608
                [[False, system_id, code] for code in gone],
            )
    return len(new), len(changed), len(gone)


_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(system_id: Any, rows: list[tuple[Any, ...]]) -> str:
    """The rows in COPY's text format, built at once (psycopg's write_row costs a few µs a value)."""
    lines = []
    for values in rows:
        fields = [str(system_id)]
        for value in (*values[:7], _json(values[7]), *values[8:]):
            fields.append(("t" if value else "f") if isinstance(value, bool) else str(value).translate(_COPY_ESCAPE))
        lines.append("\t".join(fields))
    lines.append("")
    return "\n".join(lines)


def _json(properties: dict[str, Any]) -> str:
    return json.dumps(properties) if properties else "{}"


def _tidy_postgresql(connection: Any) -> None:
    """Move the rows the full-text index holds in its pending list into the index proper (searching the
    list is slow) and refresh the planner's statistics. Both need the table's owner: when the loading
    role is not, autovacuum does the same shortly after."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [FULL_TEXT_INDEX])
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Concept._meta.db_table)}")


def load_after_migrate(*, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, plan: Any = None, **kwargs: Any) -> None:
    """After `migrate`, load the shipped code tables that are missing or out of date (a no-op when
    they are loaded: two queries each).

    Not after `flush` (which sends the same signal without a plan, e.g. between a test suite's
    transactional tests): reloading 98,500 codes after each would slow the suite down; the tests that
    need them after a flush load them (tests/terminology/factories.py)."""
    if plan is None:
        return
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if not {CodeSystem._meta.db_table, Concept._meta.db_table} <= tables:
        return  # migrated back below the terminology tables
    ctx = Ctx.system(reason="load the shipped code systems after migrate")
    for slug in SOURCES:
        result = code_system_load(ctx=ctx, slug=slug, using=using)
        if verbosity >= 1 and not result.unchanged:
            print(f"  Loaded {result.concepts:,} concepts of {slug} {result.version} in {result.seconds} s")


# --------------------------------------------------------------------------------------------------
# The medication-safety knowledge of the drug release, written with its catalogue
# --------------------------------------------------------------------------------------------------

KNOWLEDGE_TABLES = (
    DrugClass,
    DrugInteraction,
    DrugAllergyCross,
    DrugMaxDose,
    DrugReproductiveCaution,
    DrugConditionRule,
)


def _drug_knowledge_loaded(using: str, sha256: str) -> bool:
    """Whether the release in force is the one with these files."""
    latest = (
        DrugKnowledgeRelease.objects.using(using).order_by("-loaded_at", "-id").values_list("sha256", flat=True).first()
    )
    return latest == sha256


def _drug_knowledge_replace(using: str, release: DrugRelease, loaded_at: Any) -> None:
    """Replace the rules in force by the release's, inside the caller's transaction (readers see the
    old release until it commits), and record the release: its new row is what tells each process's
    index (selectors.drug_knowledge) to rebuild."""
    for model in KNOWLEDGE_TABLES:
        model.objects.using(using).all().delete()
    DrugClass.objects.using(using).bulk_create(
        DrugClass(
            code=c.code,
            name=c.name,
            kind=c.kind,
            atc=c.atc,
            includes=list(c.includes),
            members=list(c.members),
            aliases=list(c.aliases),
            severity=c.severity,
            advice=c.advice,
            source=c.source,
        )
        for c in release.classes
    )
    DrugInteraction.objects.using(using).bulk_create(
        DrugInteraction(
            rule_id=r.id,
            a=r.a,
            b=r.b,
            severity=r.severity,
            effect=r.effect,
            mechanism=r.mechanism,
            management=r.management,
            source=r.source,
            note=r.note,
            group=r.group,
        )
        for r in release.interactions
    )
    DrugAllergyCross.objects.using(using).bulk_create(
        DrugAllergyCross(
            rule_id=r.id,
            allergen=r.allergen,
            reacts_with=r.reacts_with,
            severity=r.severity,
            mechanism=r.mechanism,
            management=r.management,
            source=r.source,
        )
        for r in release.allergy_cross
    )
    DrugMaxDose.objects.using(using).bulk_create(
        DrugMaxDose(
            rule_id=d.id, drug=d.drug, route=d.route, amount=d.amount, unit=d.unit, note=d.note, source=d.source
        )
        for d in release.max_doses
    )
    DrugReproductiveCaution.objects.using(using).bulk_create(
        DrugReproductiveCaution(
            subject=c.subject,
            pregnancy=c.pregnancy,
            pregnancy_text=c.pregnancy_text,
            lactation=c.lactation,
            lactation_text=c.lactation_text,
            source=c.source,
        )
        for c in release.cautions
    )
    DrugConditionRule.objects.using(using).bulk_create(
        DrugConditionRule(
            rule_id=r.id,
            subject=r.subject,
            icd10=list(r.icd10),
            condition=r.condition,
            severity=r.severity,
            mechanism=r.mechanism,
            management=r.management,
            source=r.source,
        )
        for r in release.condition_rules
    )
    DrugKnowledgeRelease.objects.using(using).create(
        version=release.version, sha256=release.sha256, loaded_at=loaded_at, counts=release.counts()
    )
