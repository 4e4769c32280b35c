"""Two database roles: the owner role runs `phb migrate` and owns every table; the application role
changes data but cannot touch the audit trail beyond reading and appending to it.

These run only on PostgreSQL, with DATABASE_OWNER_URL naming a second role (CI creates it). A scratch
database is created by the owner role and migrated by `phb migrate` with both URLs, as in production;
the tests then connect to it as the application role.
"""

import contextlib
import datetime as dt
import os
import subprocess
import sys
import uuid
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from phb.kernel import audit, checks
from phb.kernel.context import Ctx
from phb.kernel.models import Organization
from tests.kernel.factories import OrganizationFactory

pytestmark = [pytest.mark.postgres]
PERMISSION_ERROR = r"permission denied|must be owner"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A database created by the owner role and migrated by `phb migrate` with both URLs."""
    owner = settings.DATABASE_OWNER
    if owner is None:
        pytest.skip("needs DATABASE_OWNER_URL: a second role, owner of the schema (CI creates phb_owner)")
    app = settings.DATABASES["default"]
    name = f"test_{owner['NAME']}_roles_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    host, port = owner.get("HOST") or "127.0.0.1", owner.get("PORT") or 5432
    admin = {"host": host, "port": port, "user": owner["USER"], "password": owner["PASSWORD"], "autocommit": True}
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    info = {
        "name": name,
        "owner": owner["USER"],
        "app": app["USER"],
        "app_password": app["PASSWORD"],
        "owner_dsn": {**admin, "dbname": name},
        "app_dsn": {**admin, "user": app["USER"], "password": app["PASSWORD"], "dbname": name},
        "owner_settings": {**owner, "NAME": name},
        "env": {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "phb.config.settings",
            "PHB_VAR_DIR": str(tmp_path_factory.mktemp("var")),
            "DATABASE_URL": _url(app["USER"], app["PASSWORD"], app.get("HOST") or host, app.get("PORT") or port, name),
            "DATABASE_OWNER_URL": _url(owner["USER"], owner["PASSWORD"], host, port, name),
        },
    }
    migrate(info)
    yield info
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _url(user, password, host, port, name):
    return f"postgres://{quote(user, safe='')}:{quote(password or '', safe='')}@{host}:{port}/{name}"


def migrate(scratch):
    result = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput"],
        env=scratch["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def as_app(scratch, django_db_blocker):
    """Point Django's connection at the scratch database as the application role for a block."""

    @contextlib.contextmanager
    def connected():
        with django_db_blocker.unblock():
            saved = connection.settings_dict
            connection.close()
            connection.settings_dict = {
                **saved,
                "NAME": scratch["name"],
                "USER": scratch["app"],
                "PASSWORD": scratch["app_password"],
                "CONN_MAX_AGE": 0,
            }
            try:
                yield
            finally:
                connection.close()
                connection.settings_dict = saved

    return connected


def sql_as(dsn, statement, params=()):
    """Run one statement in its own connection; the rows it returns, if any."""
    with psycopg.connect(**dsn) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def privileges(scratch, table):
    row = sql_as(
        scratch["owner_dsn"],
        "SELECT pg_get_userbyid(relowner), "
        "has_table_privilege(%s, oid, 'SELECT'), has_table_privilege(%s, oid, 'INSERT'), "
        "has_table_privilege(%s, oid, 'UPDATE'), has_table_privilege(%s, oid, 'DELETE'), "
        "has_table_privilege(%s, oid, 'TRUNCATE') FROM pg_class WHERE oid = to_regclass(%s)",
        [scratch["app"]] * 5 + [table],
    )
    assert row, f"{table} does not exist"
    owner, *held = row[0]
    return owner, {p for p, has in zip(("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"), held, strict=True) if has}


def this_month_partition():
    return f"kernel_auditevent_{timezone.now():%Y_%m}"


def test_the_owner_role_owns_every_table_and_the_migration_history(scratch):
    owners = sql_as(
        scratch["owner_dsn"],
        "SELECT tableowner, count(*) FROM pg_tables WHERE schemaname = current_schema() GROUP BY 1",
    )
    assert owners == [(scratch["owner"], owners[0][1])]
    assert owners[0][1] > 20


def test_the_application_role_may_change_ordinary_tables_and_only_read_and_append_the_audit_trail(scratch):
    assert privileges(scratch, "organizations_department") == (
        scratch["owner"],
        {"SELECT", "INSERT", "UPDATE", "DELETE"},
    )
    for table in ("kernel_auditevent", this_month_partition(), "kernel_auditevent_default", "kernel_auditchainlink"):
        assert privileges(scratch, table) == (scratch["owner"], {"SELECT", "INSERT"}), table


ATTACKS = {
    "drop the trigger": "DROP TRIGGER kernel_auditevent_append_only ON kernel_auditevent",
    "disable the trigger": "ALTER TABLE kernel_auditevent DISABLE TRIGGER kernel_auditevent_append_only",
    "disable every trigger": "ALTER TABLE kernel_auditevent DISABLE TRIGGER ALL",
    "truncate": "TRUNCATE kernel_auditevent",
    "update": "UPDATE kernel_auditevent SET action = 'clinical.note.nothing'",
    "delete": "DELETE FROM kernel_auditevent",
    "drop the table": "DROP TABLE kernel_auditevent",
    "detach a partition": "ALTER TABLE kernel_auditevent DETACH PARTITION {partition}",
    "truncate a partition": "TRUNCATE {partition}",
    "delete from a partition": "DELETE FROM {partition}",
    "drop a partition": "DROP TABLE {partition}",
    "drop the default partition": "DROP TABLE kernel_auditevent_default",
    "add a trigger that swallows rows": (
        "CREATE TRIGGER swallow BEFORE INSERT ON kernel_auditevent "
        "FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"
    ),
    "truncate the chain": "TRUNCATE kernel_auditchainlink",
    "rewrite the chain": "UPDATE kernel_auditchainlink SET chain_hash = repeat('f', 64)",
    "drop the chain's trigger": "DROP TRIGGER kernel_auditchainlink_append_only ON kernel_auditchainlink",
    "lock the chain for update": "SELECT position FROM kernel_auditchainlink FOR UPDATE",
}


@pytest.mark.parametrize("statement", ATTACKS.values(), ids=ATTACKS.keys())
def test_the_application_role_cannot_tamper_with_the_audit_trail(scratch, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=PERMISSION_ERROR):
        sql_as(scratch["app_dsn"], statement.format(partition=this_month_partition()))
    triggers = sql_as(
        scratch["owner_dsn"],
        "SELECT tgrelid::regclass::text, tgenabled FROM pg_trigger WHERE tgname LIKE '%%append_only' "
        "AND tgrelid IN ('kernel_auditevent'::regclass, 'kernel_auditchainlink'::regclass) ORDER BY 1",
    )
    assert triggers == [("kernel_auditchainlink", "O"), ("kernel_auditevent", "O")]


def test_the_application_role_records_searches_seals_and_verifies(scratch, as_app):
    ctx = Ctx(actor_id=uuid.uuid4(), organization_id=uuid.uuid4(), roles=frozenset({"doctor"}), ip="10.0.0.9")
    now = timezone.now()
    with as_app():
        for i in range(3):
            audit.record(ctx, "clinical.note.read", patient_id=uuid.uuid4(), resource_id=f"note-{i}", read=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            role = cursor.fetchone()[0]
        found = list(audit.search(ctx, since=now - dt.timedelta(hours=1), until=now + dt.timedelta(hours=1)))
        sealed = audit.seal(now=timezone.now() + dt.timedelta(minutes=5))
        sealed_again = audit.seal(now=timezone.now() + dt.timedelta(minutes=5))
        problems = audit.verify()
    assert role == scratch["app"]
    assert sorted(e.resource_id for e in found) == ["note-0", "note-1", "note-2"]
    assert sealed >= 3
    assert sealed_again == 0
    assert problems == []
    linked = sql_as(
        scratch["owner_dsn"],
        "SELECT count(*) FROM kernel_auditchainlink WHERE event_id = ANY(%s)",
        [[e.id for e in found]],
    )
    assert linked == [(3,)]


def test_ordinary_tables_stay_writable_by_the_application_role(as_app):
    system = Ctx.system(reason="test")
    with as_app():
        organization = OrganizationFactory(name="Roles Hospital")
        organization.name = "Roles Teaching Hospital"
        organization.save()
        renamed = Organization.objects.for_platform(system).get(id=organization.id).name
        organization.delete()
        left = Organization.objects.for_platform(system).filter(id=organization.id).exists()
    assert renamed == "Roles Teaching Hospital"
    assert left is False


def test_the_database_checks_pass_for_the_application_role(scratch, as_app):
    with as_app(), override_settings(DATABASE_OWNER=scratch["owner_settings"]):
        assert checks.check_audit_trail_privileges(databases=["default"]) == []
        call_command("check", databases=["default"], fail_level="WARNING")


def test_a_privilege_granted_by_hand_is_reported_and_taken_back_by_migrate(scratch, as_app):
    partition = this_month_partition()
    sql_as(scratch["owner_dsn"], f"GRANT UPDATE, TRUNCATE ON {partition} TO {scratch['app']}")
    with as_app(), override_settings(DATABASE_OWNER=scratch["owner_settings"]):
        found = checks.check_audit_trail_privileges(databases=["default"])
    assert [m.id for m in found] == ["phb.W003"]
    assert f"{partition}: UPDATE, TRUNCATE" in found[0].msg
    migrate(scratch)
    assert privileges(scratch, partition) == (scratch["owner"], {"SELECT", "INSERT"})


def test_later_partitions_are_the_owners_and_only_appended_to_by_the_application(scratch, as_app):
    months = audit.PARTITION_MONTHS_AHEAD + 2
    with as_app():  # the runtime holds no owner URL: it may only check the partitions
        assert audit.ensure_partitions() == []
        with pytest.raises(audit.PartitionsMissing, match="phb migrate"):
            audit.ensure_partitions(months_ahead=months)
        with override_settings(DATABASE_OWNER=scratch["owner_settings"]):
            created = audit.ensure_partitions(months_ahead=months)
            assert audit.ensure_partitions(months_ahead=months) == []
    assert len(created) == 2
    for partition in created:
        assert privileges(scratch, partition) == (scratch["owner"], {"SELECT", "INSERT"})
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=PERMISSION_ERROR):
            sql_as(scratch["app_dsn"], f"TRUNCATE {partition}")


def test_a_missing_coming_partition_is_reported(scratch, as_app):
    first = timezone.now().date().replace(day=1)
    next_month = f"kernel_auditevent_{(first + dt.timedelta(days=32)):%Y_%m}"
    sql_as(scratch["owner_dsn"], f"DROP TABLE {next_month}")
    try:
        with as_app(), override_settings(DATABASE_OWNER=scratch["owner_settings"]):
            found = checks.check_audit_trail_privileges(databases=["default"])
    finally:
        migrate(scratch)
    assert [m.id for m in found] == ["phb.W004"]
    assert next_month in found[0].msg
    assert privileges(scratch, next_month) == (scratch["owner"], {"SELECT", "INSERT"})


@pytest.mark.django_db
def test_in_production_the_check_reports_a_runtime_role_that_owns_the_audit_trail():
    # The test database is created and owned by the role the suite runs as: one role does everything.
    with override_settings(PRODUCTION=True):
        found = checks.check_audit_trail_privileges(databases=["default"])
    assert [m.id for m in found] == ["phb.W003"]
    assert "kernel_auditevent: owner" in found[0].msg
    assert "kernel_auditchainlink: owner" in found[0].msg
