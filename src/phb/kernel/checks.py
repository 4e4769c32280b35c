"""System checks that keep the tenancy walls standing (run by `migrate`, `check --database default`)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import connections


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


def register() -> None:
    checks.register(check_row_level_security, checks.Tags.database, deploy=False)
