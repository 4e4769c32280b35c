"""System checks that keep the tenancy walls and the audit trail standing (run by `migrate`,
`check --database default`)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections


def tenant_tables() -> list[str]:
    from phb.kernel.models import TenantModel

    return sorted(
        m._meta.db_table
        for m in apps.get_models()
        if issubclass(m, TenantModel) and m._meta.managed and not m._meta.proxy
    )


def check_row_level_security(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    from phb.kernel.db import role_bypasses_rls, tables_without_rls

    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return []
    errors: list[checks.CheckMessage] = []
    try:
        missing = tables_without_rls(connection, tenant_tables())
        bypass = role_bypasses_rls(connection)
    except Exception:  # tables not migrated yet
        return []
    # A table without RLS in the migrated schema: its migration forgot EnableRowLevelSecurity.
    existing = set(connection.introspection.table_names())
    missing = [t for t in missing if t in existing]
    if missing:
        errors.append(
            checks.Error(
                f"tenant-owned tables without row-level security: {', '.join(missing)}",
                hint="Add kernel.db.EnableRowLevelSecurity to the migration that creates them.",
                id="phb.E001",
            )
        )
    if bypass:
        msg = "the database role PHB connects as is a superuser or has BYPASSRLS: row-level security is off"
        hint = "Connect as a role created NOSUPERUSER NOBYPASSRLS (README, 'Database roles')."
        errors.append(
            checks.Error(msg, hint=hint, id="phb.E002")
            if settings.PRODUCTION
            else checks.Warning(msg, hint=hint, id="phb.W002")
        )
    return errors


def check_audit_trail_privileges(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """In production, or wherever an owner role is configured: the role PHB runs as must not own the
    audit trail nor hold more than SELECT and INSERT on it, and it cannot create the coming months'
    partitions itself, so they must be there already."""
    from phb.kernel import audit, db
    from phb.kernel.models import AuditChainLink, AuditEvent

    if not databases or "default" not in databases:
        return []
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return []
    if not (settings.PRODUCTION or db.owner_settings(connection) is not None):
        return []  # one role does everything: local runs, tests
    role = db.runtime_role(connection)
    table = AuditEvent._meta.db_table
    try:
        problems = db.append_only_privilege_problems(connection, [table, AuditChainLink._meta.db_table], role)
        owns = db.role_owns_table(connection, table, role)
        missing = (
            []
            if owns or db.acting_as_owner(connection)
            else db.missing_month_partitions(connection, table, months_ahead=audit.PARTITION_MONTHS_REQUIRED)
        )
    except DatabaseError:  # not migrated yet
        return []
    errors: list[checks.CheckMessage] = []
    if problems:
        errors.append(
            checks.Warning(
                "the database role PHB runs as could change or destroy the audit trail: "
                + "; ".join(problems[:6])
                + (f"; and {len(problems) - 6} more" if len(problems) > 6 else ""),
                hint="Own the schema by a separate role: set DATABASE_OWNER_URL and run `phb migrate` "
                "(README, 'Database roles').",
                id="phb.W003",
            )
        )
    if missing:
        errors.append(
            checks.Warning(
                f"audit partitions missing: {', '.join(missing)}; the role PHB runs as may not create them",
                hint=f"Run `phb migrate` with DATABASE_OWNER_URL set: it creates them "
                f"{audit.PARTITION_MONTHS_AHEAD} months ahead.",
                id="phb.W004",
            )
        )
    return errors


def register() -> None:
    checks.register(check_row_level_security, checks.Tags.database, deploy=False)
    checks.register(check_audit_trail_privileges, checks.Tags.database, deploy=False)
