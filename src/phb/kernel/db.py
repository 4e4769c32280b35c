"""Database helpers shared by every app's migrations: row-level security for tenant-owned tables, the
append-only audit trail and its monthly partitions, and the split between the owner role and the
application role.

Use in a migration right after the table is created:

    operations = [migrations.CreateModel(name="Department", ...), EnableRowLevelSecurity("Department")]

On PostgreSQL the table then shows and accepts only rows of the organization the transaction is bound
to (`phb.organization_id`, set by `kernel.tenancy.bound`), or every row when a system context bound it to
all tenants (`phb.all_tenants = 'on'`). FORCE makes the policy apply to the table's owner too; only a
superuser or a role with BYPASSRLS escapes it, and the application must connect as neither (README,
"Database roles"). On SQLite the operation does nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import migrations, transaction
from django.db.models import BigIntegerField, Func

POLICY_NAME = "phb_tenant_isolation"
APPEND_ONLY_FUNCTION = "phb_refuse_change"
TENANT_PREDICATE = (
    "(current_setting('phb.all_tenants', true) = 'on' "
    "OR organization_id = NULLIF(current_setting('phb.organization_id', true), '')::uuid)"
)


class PostgresTableOperation(migrations.operations.base.Operation):
    """A PostgreSQL-only change to one model's table, recorded in migrations; nothing on SQLite."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, *args: Any) -> None:
        self.model_name = model_name
        self.args = args

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass  # the table's shape in Django's state does not change

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (f"{__name__}.{type(self).__name__}", [self.model_name, *self.args], {})


class EnableRowLevelSecurity(PostgresTableOperation):
    def _table(self, app_label: str, state: Any) -> str:
        return state.apps.get_model(app_label, self.model_name)._meta.db_table

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, to_state))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(
            f"CREATE POLICY {POLICY_NAME} ON {table} USING {TENANT_PREDICATE} WITH CHECK {TENANT_PREDICATE}"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self._table(app_label, from_state))
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self) -> str:
        return f"Enable row-level security (tenant isolation) on {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.model_name.lower()}"


def tables_without_rls(connection: Any, tables: list[str]) -> list[str]:
    """Those of `tables` that lack forced row-level security with PHB's tenant policy."""
    if connection.vendor != "postgresql" or not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            WHERE c.relname = ANY(%s) AND c.relrowsecurity AND c.relforcerowsecurity
              AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)
            """,
            [tables, POLICY_NAME],
        )
        protected = {row[0] for row in cursor.fetchall()}
    return sorted(set(tables) - protected)


def role_bypasses_rls(connection: Any) -> bool:
    """True when the connected role is a superuser or has BYPASSRLS (it would see every tenant)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


class MakeAppendOnly(PostgresTableOperation):
    """On PostgreSQL, refuse UPDATE and DELETE of any row of a table (the audit trail).

    The table's owner could still drop the trigger or truncate the table: with an owner role
    (DATABASE_OWNER_URL), `grant_application_privileges` leaves the application role only SELECT and
    INSERT on every table carrying this trigger (README, "Database roles")."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        q = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {APPEND_ONLY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'the % table is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
            "END $$",
            params=None,  # the body's '%' is PL/pgSQL's placeholder, not the driver's
        )
        schema_editor.execute(
            f"CREATE TRIGGER {q(table + '_append_only')} BEFORE UPDATE OR DELETE ON {q(table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {APPEND_ONLY_FUNCTION}()"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = from_state.apps.get_model(app_label, self.model_name)._meta.db_table
        q = schema_editor.quote_name
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {q(table + '_append_only')} ON {q(table)}")

    def describe(self) -> str:
        return f"Make {self.model_name} append-only"

    @property
    def migration_name_fragment(self) -> str:
        return f"append_only_{self.model_name.lower()}"


class PartitionByMonth(PostgresTableOperation):
    """On PostgreSQL, rebuild a (new, empty) table as partitioned by month on `column`, with a default
    partition; `kernel.db.ensure_month_partitions` adds the monthly partitions ahead of time. The
    primary key becomes (pk, column), as PostgreSQL requires; Django still addresses rows by pk."""

    reversible = False

    def __init__(self, model_name: str, column: str) -> None:
        super().__init__(model_name, column)
        self.column = column

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        table, q = model._meta.db_table, schema_editor.quote_name
        pk = model._meta.pk.column
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s", [table, "%_pkey"]
            )
            indexes = [row[0] for row in cursor.fetchall()]
        schema_editor.execute(
            f"CREATE TABLE {q(table + '_partitioned')} (LIKE {q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            f"PARTITION BY RANGE ({q(self.column)})"
        )
        schema_editor.execute(f"DROP TABLE {q(table)}")
        schema_editor.execute(f"ALTER TABLE {q(table + '_partitioned')} RENAME TO {q(table)}")
        schema_editor.execute(f"ALTER TABLE {q(table)} ADD PRIMARY KEY ({q(pk)}, {q(self.column)})")
        for statement in indexes:  # recreated on the partitioned parent, inherited by every partition
            schema_editor.execute(statement.replace("CREATE UNIQUE INDEX", "CREATE INDEX"), params=None)
        schema_editor.execute(f"CREATE TABLE {q(table + '_default')} PARTITION OF {q(table)} DEFAULT")
        # This month's and the next three months' partitions now, before any row can land in the default.
        ensure_month_partitions(schema_editor.connection, table, months_ahead=3)

    def database_backwards(self, *args: Any) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return f"Partition {self.model_name} by month of {self.column}"


class TrigramIndex(PostgresTableOperation):
    """A GIN trigram index (`pg_trgm`) on one text column, for fuzzy search; nothing on SQLite, where
    search falls back to plain matching. Creating the extension needs only database ownership."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        column, name = self.args
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {schema_editor.quote_name(table)} "
            f"USING gin ({schema_editor.quote_name(column)} gin_trgm_ops)"
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(self.args[1])}")

    def describe(self) -> str:
        return f"Trigram index {self.args[1]} on {self.model_name}.{self.args[0]}"

    @property
    def migration_name_fragment(self) -> str:
        return f"trgm_{self.model_name.lower()}"


class FullTextIndex(PostgresTableOperation):
    """A GIN full-text index on one text column, over `to_tsvector(config, COALESCE(column, ''))`:
    the expression Django's `SearchVector(column, config=config)` writes, so that a filter on it uses
    the index. Nothing on SQLite, where search falls back to plain matching."""

    def __init__(self, model_name: str, column: str, name: str, config: str = "simple") -> None:
        super().__init__(model_name, column, name, config)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        column, name, config = self.args
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        q = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(table)} "
            f"USING gin (to_tsvector('{config}'::regconfig, COALESCE({q(column)}, '')))",
            params=None,
        )

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(self.args[1])}")

    def describe(self) -> str:
        return f"Full-text index {self.args[1]} on {self.model_name}.{self.args[0]}"

    @property
    def migration_name_fragment(self) -> str:
        return f"fts_{self.model_name.lower()}"


class ByteOrderCollation(PostgresTableOperation):
    """On PostgreSQL, compare and sort one varchar column byte by byte (COLLATE "C") whatever the
    database's locale, so that a plain B-tree index on it serves both `LIKE 'prefix%'` and ORDER BY
    (under a linguistic collation, it serves neither a prefix match nor, with text_pattern_ops, the
    order). SQLite compares bytes already. Django's state does not carry the collation: a later
    AlterField of the column must run this again."""

    def __init__(self, model_name: str, column: str) -> None:
        super().__init__(model_name, column)

    def _alter(self, schema_editor: Any, state: Any, app_label: str, collation: str) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.args[0])
        q = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {q(model._meta.db_table)} ALTER COLUMN {q(field.column)} "
            f"TYPE varchar({int(field.max_length)}) COLLATE {collation}"
        )

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._alter(schema_editor, to_state, app_label, '"C"')

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._alter(schema_editor, from_state, app_label, '"default"')

    def describe(self) -> str:
        return f"Byte-order collation of {self.model_name}.{self.args[0]}"


def _months(start: Any, months_ahead: int) -> Iterator[tuple[dt.date, dt.date]]:
    """(first day, first day of the next month) of `start`'s month and of the `months_ahead` after it."""
    from django.utils import timezone

    first = (start or timezone.now()).date().replace(day=1)
    for i in range(months_ahead + 1):
        year, month = divmod(first.month - 1 + i, 12)
        lower = dt.date(first.year + year, month + 1, 1)
        yield lower, dt.date(lower.year + (lower.month == 12), lower.month % 12 + 1, 1)


def ensure_month_partitions(connection: Any, table: str, *, months_ahead: int = 3, start: Any = None) -> list[str]:
    """Create the monthly partitions of `table` from `start`'s month (default: this month) to
    `months_ahead` months later, when missing. Returns the partitions created. Run ahead of time (the
    scheduler does, daily): a month whose rows already fell into the default partition cannot get its own.
    Only the table's owner may create them (see `connected_as_owner`)."""
    if connection.vendor != "postgresql":
        return []
    created = []
    q = connection.ops.quote_name
    for lower, upper in _months(start, months_ahead):
        name = f"{table}_{lower:%Y_%m}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_class WHERE relname = %s", [name])
            if cursor.fetchone():
                continue
            # Dates are formatted by us (no user input): DDL takes no bound parameters.
            cursor.execute(
                f"CREATE TABLE {q(name)} PARTITION OF {q(table)} "
                f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
            )
        created.append(name)
    return created


def is_partitioned(connection: Any, table: str) -> bool:
    """True when `table` exists and is partitioned (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return bool(row and row[0] == "p")


def missing_month_partitions(connection: Any, table: str, *, months_ahead: int = 3, start: Any = None) -> list[str]:
    """The monthly partitions `ensure_month_partitions` would create; none when `table` is not partitioned."""
    if connection.vendor != "postgresql":
        return []
    if not is_partitioned(connection, table):
        return []
    with connection.cursor() as cursor:
        names = [f"{table}_{lower:%Y_%m}" for lower, _ in _months(start, months_ahead)]
        cursor.execute(
            "SELECT child.relname FROM pg_inherits i JOIN pg_class child ON child.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) AND child.relname = ANY(%s)",
            [table, names],
        )
        present = {r[0] for r in cursor.fetchall()}
    return [name for name in names if name not in present]


# --- the owner role and the application role ------------------------------------------------------
# With DATABASE_OWNER_URL set, the owner role runs `phb migrate` and owns every table; the application
# role (DATABASE_URL) changes data but cannot change the schema: it cannot drop the audit trail's
# trigger, truncate, detach or drop its partitions. Without it, one role does everything (local runs).

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"
# What the application role must not hold on an append-only table (besides owning it): UPDATE and DELETE
# are refused by the trigger anyway, TRUNCATE is not; TRIGGER would let it add a trigger that drops rows.
APPEND_ONLY_FORBIDDEN = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER")


def owner_settings(connection: Any) -> dict[str, Any] | None:
    """The connection settings of the owner role for `connection`'s database, or None when PHB runs with
    one role there. The owner URL applies to the database it names only: a test database
    (test_<name>) is created and owned by the application role, as in a one-role setup."""
    owner = settings.DATABASE_OWNER
    if owner is None or connection.vendor != "postgresql" or owner["NAME"] != connection.settings_dict["NAME"]:
        return None
    return {
        **connection.settings_dict,
        **{key: owner.get(key, "") for key in ("USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {**connection.settings_dict.get("OPTIONS", {}), **owner.get("OPTIONS", {})},
        "CONN_MAX_AGE": 0,
    }


@contextlib.contextmanager
def connected_as_owner(connection: Any) -> Iterator[str | None]:
    """Within the block, `connection` (this thread's) connects as the owner role when one is configured
    for its database; yields the application role to grant privileges to, or None with one role."""
    owner = owner_settings(connection)
    if owner is None or getattr(connection, "phb_application_role", None):
        yield getattr(connection, "phb_application_role", None)
        return
    if connection.in_atomic_block:
        raise RuntimeError("cannot switch to the owner role inside a transaction")
    application = connection.settings_dict
    connection.close()
    connection.settings_dict = owner  # a new dict: other threads' connections keep the application role
    connection.phb_application_role = application["USER"]
    try:
        yield application["USER"]
    finally:
        connection.close()
        connection.settings_dict = application
        del connection.phb_application_role


def acting_as_owner(connection: Any) -> bool:
    """True inside `connected_as_owner` when it switched to a separate owner role."""
    return bool(getattr(connection, "phb_application_role", None))


def runtime_role(connection: Any) -> str | None:
    """The role the application runs as on `connection` (None: the connected role, in SQL `current_user`)."""
    return getattr(connection, "phb_application_role", None) or connection.settings_dict.get("USER") or None


def append_only_tables(connection: Any) -> list[str]:
    """Tables of the current schema that carry the append-only trigger (partitions inherit it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT c.relname FROM pg_trigger t
            JOIN pg_proc p ON p.oid = t.tgfoid AND p.proname = %s
            JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            ORDER BY 1
            """,
            [APPEND_ONLY_FUNCTION],
        )
        return [row[0] for row in cursor.fetchall()]


def grant_application_privileges(connection: Any, role: str) -> list[str]:
    """As the owner of the schema, give the application `role` what it needs at run time and no more:
    SELECT, INSERT, UPDATE, DELETE on every table and the use of every sequence, but only SELECT and
    INSERT on append-only tables (the audit trail, each of its partitions, its chain). Idempotent: it
    also takes back anything more granted by hand. Returns the append-only tables. `phb migrate` runs it.
    """
    if connection.vendor != "postgresql":
        return []
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        owner, schema = cursor.fetchone()
        if role == owner:
            raise ValueError(f"the application role {role!r} is the owner role: nothing would be separated")
        cursor.execute(
            "SELECT relname, pg_get_userbyid(relowner) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = %s "
            "WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm') AND NOT pg_has_role(current_user, c.relowner, 'USAGE') "
            "ORDER BY 1",
            [schema],
        )
        foreign = [f"{name} (owned by {who})" for name, who in cursor.fetchall()]
    if foreign:
        raise PermissionError(
            f"the owner role {owner} does not own {', '.join(foreign)}: transfer them first "
            f"(as a superuser: REASSIGN OWNED BY <old owner> TO {owner}; see README, 'Database roles')"
        )
    who, where = q(role), q(schema)
    statements = [
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {where} TO {who}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
        # Tables a later migration creates are usable at once; `phb migrate` narrows append-only ones.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} GRANT {TABLE_PRIVILEGES} ON TABLES TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {where} GRANT USAGE, SELECT ON SEQUENCES TO {who}",
    ]
    tables = append_only_tables(connection)
    for table in tables:
        statements += [
            f"REVOKE ALL ON TABLE {q(table)} FROM {who}",
            f"GRANT {APPEND_ONLY_PRIVILEGES} ON TABLE {q(table)} TO {who}",
        ]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements:  # one transaction: no moment with an append-only table fully granted
            cursor.execute(statement)
    return tables


def append_only_privilege_problems(connection: Any, tables: list[str], role: str | None = None) -> list[str]:
    """What `role` (default: the connected one) may do to `tables` or their partitions beyond reading
    and appending: "<table>: owner" when it owns one (it could drop the trigger, truncate, detach or drop
    a partition), or the forbidden privileges it holds. Tables that do not exist are skipped."""
    if connection.vendor != "postgresql" or not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_has_role(r.name, c.relowner, 'MEMBER'),
                   has_table_privilege(r.name, c.oid, 'UPDATE'), has_table_privilege(r.name, c.oid, 'DELETE'),
                   has_table_privilege(r.name, c.oid, 'TRUNCATE'), has_table_privilege(r.name, c.oid, 'TRIGGER')
            FROM (SELECT COALESCE(%s, current_user)::name AS name) r,
                 unnest(%s::text[]) AS root(name),
                 LATERAL (
                     SELECT to_regclass(root.name) AS relid, 0 AS level
                     UNION SELECT relid, level FROM pg_partition_tree(to_regclass(root.name))
                 ) tree
            JOIN pg_class c ON c.oid = tree.relid
            ORDER BY tree.level, c.relname
            """,
            [role, tables],
        )
        rows = cursor.fetchall()
    problems = []
    for name, owns, *held in rows:
        if owns:
            problems.append(f"{name}: owner")
            continue
        extra = [privilege for privilege, has in zip(APPEND_ONLY_FORBIDDEN, held, strict=True) if has]
        if extra:
            problems.append(f"{name}: {', '.join(extra)}")
    return problems


def role_owns_table(connection: Any, table: str, role: str | None = None) -> bool:
    """True when `role` (default: the connected one) owns `table` or acts with its owner's rights."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_has_role(COALESCE(%s, current_user)::name, relowner, 'USAGE') FROM pg_class "
            "WHERE oid = to_regclass(%s)",
            [role, table],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


class EpochSeconds(Func):
    """A datetime column as whole seconds since 1970-01-01 UTC. For reads of many timestamps that are only
    compared and subtracted: the database sends integers, and no datetime object is made per row."""

    output_field = BigIntegerField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS bigint)"

    @property
    def convert_value(self) -> Any:
        # Both databases already return an integer: no int() per row.
        return self._convert_value_noop

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores an aware datetime in SQLite as UTC text, which strftime reads. '%%%%s' survives the
        # template's formatting and the backend's placeholder conversion as strftime's '%s'.
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)", **extra
        )
