"""`phb migrate`: Django's migrate, then the audit partitions of the coming year and the application
role's privileges. With DATABASE_OWNER_URL set it all runs as the owner role, which thus owns every
table, and the application role (DATABASE_URL) is granted data changes only, and only SELECT and INSERT
on the audit trail (README, "Database roles"). Run it again at any time: every step is idempotent."""

from typing import Any

from django.core.management.commands import migrate
from django.db import connections, transaction

from phb.kernel import audit, db
from phb.kernel.models import AuditEvent


class Command(migrate.Command):
    help = (
        "Updates the database schema (as the owner role when DATABASE_OWNER_URL is set), creates the audit "
        f"partitions {audit.PARTITION_MONTHS_AHEAD} months ahead and grants the application role its privileges."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        with db.connected_as_owner(connection) as application_role:
            super().handle(*args, **options)
            if options["plan"] or options["check_unapplied"] or connection.vendor != "postgresql":
                return
            table = AuditEvent._meta.db_table
            with transaction.atomic(using=connection.alias):
                created = (
                    db.ensure_month_partitions(connection, table, months_ahead=audit.PARTITION_MONTHS_AHEAD)
                    if db.is_partitioned(connection, table)
                    else []
                )
                append_only = db.grant_application_privileges(connection, application_role) if application_role else []
        if options["verbosity"] >= 1:
            if created:
                self.stdout.write(f"Audit partitions created: {', '.join(created)}")
            if application_role:
                self.stdout.write(
                    f"Privileges granted to {application_role}: data changes on every table; "
                    f"only SELECT and INSERT on the {len(append_only)} append-only tables (the audit trail)"
                )
