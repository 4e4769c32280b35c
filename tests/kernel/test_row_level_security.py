"""The database wall: PostgreSQL row-level security hides other tenants' rows from raw SQL too.

These run only on PostgreSQL. When the test database is reached as a role that bypasses RLS (a
superuser, as on a developer's machine), each test switches to an ordinary role for its SQL so that
the policy is what is tested, not the privilege.
"""

import contextlib
import uuid

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from phb.kernel import tenancy
from phb.kernel.checks import tenant_tables
from phb.kernel.db import role_bypasses_rls, tables_without_rls
from tests.organizations.factories import DepartmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
PROBE_ROLE = "phb_rls_probe"


@contextlib.contextmanager
def as_application_role():
    """Inside the current transaction, act as a role that cannot bypass RLS."""
    if not role_bypasses_rls(connection):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [PROBE_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {PROBE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"SET LOCAL ROLE {PROBE_ROLE}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@pytest.fixture
def rows(org_a, org_b):
    DepartmentFactory.create_batch(3, organization=org_a)
    DepartmentFactory.create_batch(2, organization=org_b)


def test_every_tenant_table_has_forced_row_level_security():
    tables = tenant_tables()
    assert "organizations_department" in tables
    assert tables_without_rls(connection, tables) == []


def test_raw_sql_in_organization_a_returns_none_of_bs_rows(rows, ctx_a, org_a):
    with as_application_role(), tenancy.tenant_cursor(ctx_a) as cursor:
        cursor.execute("SELECT organization_id FROM organizations_department")
        seen = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM organizations_department WHERE organization_id <> %s", [org_a.id])
        others = cursor.fetchone()[0]
    assert seen == {org_a.id}
    assert others == 0


def test_raw_sql_with_no_organization_bound_sees_nothing(rows):
    with as_application_role(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('phb.organization_id', '', true)")
        cursor.execute("SELECT count(*) FROM organizations_department")
        assert cursor.fetchone()[0] == 0


def test_raw_update_and_delete_cannot_touch_another_tenants_rows(rows, ctx_a, org_b):
    with as_application_role(), tenancy.tenant_cursor(ctx_a) as cursor:
        cursor.execute("UPDATE organizations_department SET name = 'hijacked' WHERE organization_id = %s", [org_b.id])
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM organizations_department WHERE organization_id = %s", [org_b.id])
        assert cursor.rowcount == 0


def test_raw_insert_into_another_tenant_is_refused(rows, ctx_a, org_b):
    with as_application_role(), tenancy.tenant_cursor(ctx_a) as cursor:
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            cursor.execute(
                "INSERT INTO organizations_department (id, created_at, updated_at, organization_id, name, kind,"
                " code, is_active) VALUES (%s, now(), now(), %s, 'x', 'icu', 'x', true)",
                [uuid.uuid4(), org_b.id],
            )
        cursor.execute(
            "INSERT INTO organizations_department (id, created_at, updated_at, organization_id, name, kind,"
            " code, is_active) VALUES (%s, now(), now(), %s, 'own', 'icu', 'own', true)",
            [uuid.uuid4(), ctx_a.organization_id],
        )
        assert cursor.rowcount == 1


def test_orm_saves_work_under_the_policy(org_a, ctx_a):
    """The ORM binds the session itself, so ordinary saves and scoped reads pass the policy."""
    with as_application_role():
        department = DepartmentFactory(organization=org_a)
        department.name = "Renamed"
        department.save()
        from phb.organizations.models import Department

        assert Department.objects.for_tenant(ctx_a).get(id=department.id).name == "Renamed"


def _binding_sets(queries):
    return [q["sql"] for q in queries if "set_config" in q["sql"]]


def _bound_to():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true), current_setting(%s, true)", list(GUC))
        return cursor.fetchone()


GUC = (tenancy.GUC_ORGANIZATION, tenancy.GUC_ALL_TENANTS)


def test_a_nested_binding_to_the_same_tenant_costs_no_second_round_trip(rows, ctx_a, org_a):
    from django.test.utils import CaptureQueriesContext

    from phb.organizations.models import Department

    with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=org_a.id):
        names = list(Department.objects.for_tenant(ctx_a).values_list("name", flat=True))
        assert _bound_to() == (str(org_a.id), "")
    assert len(names) == 3
    assert len(_binding_sets(queries.captured_queries)) == 1


def test_the_binding_is_set_again_after_a_nested_binding_to_another_tenant_or_a_savepoint(rows, ctx_a, org_a, org_b):
    from django.test.utils import CaptureQueriesContext

    with tenancy.bound(organization_id=org_a.id):
        with tenancy.bound(organization_id=org_b.id):
            assert _bound_to() == (str(org_b.id), "")
        with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=org_a.id):
            assert _bound_to() == (str(org_a.id), "")
        assert len(_binding_sets(queries.captured_queries)) == 1
        with (
            transaction.atomic(),
            CaptureQueriesContext(connection) as queries,
            tenancy.bound(organization_id=org_a.id),
        ):
            assert _bound_to() == (str(org_a.id), "")
        # A savepoint opened since keeps the binding in force: nothing to set again.
        assert _binding_sets(queries.captured_queries) == []
        with transaction.atomic():
            try:
                with transaction.atomic():
                    with tenancy.bound(organization_id=org_b.id):
                        assert _bound_to() == (str(org_b.id), "")
                    raise RuntimeError("roll the savepoint back")
            except RuntimeError:
                pass
            with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=org_a.id):
                assert _bound_to() == (str(org_a.id), "")  # the rollback undid B's binding, and it is known
        with tenancy.bound(organization_id=None, all_tenants=True):
            assert _bound_to() == ("", "on")


def test_the_same_binding_again_in_one_transaction_costs_no_round_trip(rows, org_a, org_b):
    from django.test.utils import CaptureQueriesContext

    with tenancy.bound(organization_id=org_a.id):
        pass
    with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=org_a.id):
        assert _bound_to() == (str(org_a.id), "")
    assert _binding_sets(queries.captured_queries) == []
    with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=org_b.id):
        assert _bound_to() == (str(org_b.id), "")
    assert len(_binding_sets(queries.captured_queries)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_local_setting_travels_with_the_next_binding_in_one_statement(org_a):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        tenancy.set_local("synchronous_commit", "off")
        assert _binding_sets(queries.captured_queries) == []  # nothing sent yet
        with tenancy.bound(organization_id=org_a.id), connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "off"
        assert _bound_to() == (str(org_a.id), "")
        tenancy.set_local("synchronous_commit", "local")
        with tenancy.bound(organization_id=org_a.id), connection.cursor() as cursor:  # same binding: sent again
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "local"
    assert len(_binding_sets(queries.captured_queries)) == 2
    with connection.cursor() as cursor:  # it lasted for that transaction only
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    tenancy.set_local("synchronous_commit", "off")  # outside a transaction: nothing to set it for
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db(transaction=True)
def test_a_binding_never_outlives_its_transaction():
    from django.test.utils import CaptureQueriesContext

    organization = uuid.uuid4()
    with tenancy.bound(organization_id=organization):
        assert _bound_to() == (str(organization), "")
    with transaction.atomic(), connection.cursor() as cursor:  # the next transaction on the connection
        cursor.execute("SELECT coalesce(current_setting('phb.organization_id', true), '')")
        assert cursor.fetchone()[0] == ""
    with CaptureQueriesContext(connection) as queries, tenancy.bound(organization_id=organization):
        assert _bound_to() == (str(organization), "")
    assert len(_binding_sets(queries.captured_queries)) == 1
