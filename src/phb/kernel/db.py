"""Database helpers shared by every app's migrations: row-level security for tenant-owned tables.

Use in a migration right after the table is created:

    operations = [migrations.CreateModel(name="Department", ...), EnableRowLevelSecurity("Department")]

On PostgreSQL the table then shows and accepts only rows of the organization the transaction is bound
to (`phb.organization_id`, set by `kernel.tenancy.bound`), or every row when a system context bound it to
all tenants (`phb.all_tenants = 'on'`). FORCE makes the policy apply to the table's owner too; only a
superuser or a role with BYPASSRLS escapes it, and the application must connect as neither (README,
"Database roles"). On SQLite the operation does nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

POLICY_NAME = "phb_tenant_isolation"
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

    The table's owner could still drop the trigger or truncate the table; separating ownership (a
    dedicated owner role, the application granted INSERT and SELECT only) closes that, see README."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        q = schema_editor.quote_name
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION phb_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'the % table is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
            "END $$",
            params=None,  # the body's '%' is PL/pgSQL's placeholder, not the driver's
        )
        schema_editor.execute(
            f"CREATE TRIGGER {q(table + '_append_only')} BEFORE UPDATE OR DELETE ON {q(table)} "
            "FOR EACH ROW EXECUTE FUNCTION phb_refuse_change()"
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


def ensure_month_partitions(connection: Any, table: str, *, months_ahead: int = 3, start: Any = None) -> list[str]:
    """Create the monthly partitions of `table` from `start`'s month (default: this month) to
    `months_ahead` months later, when missing. Returns the partitions created. Run ahead of time (the
    scheduler does, daily): a month whose rows already fell into the default partition cannot get its own."""
    import datetime as dt

    from django.utils import timezone

    if connection.vendor != "postgresql":
        return []
    first = (start or timezone.now()).date().replace(day=1)
    created = []
    q = connection.ops.quote_name
    for i in range(months_ahead + 1):
        year, month = divmod(first.month - 1 + i, 12)
        lower = dt.date(first.year + year, month + 1, 1)
        upper = dt.date(lower.year + (lower.month == 12), lower.month % 12 + 1, 1)
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
